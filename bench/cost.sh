#!/usr/bin/env bash
# Cost per send of `campaignctl apply --rate 0`, beside a Python asyncio script doing the
# same POSTs with aiohttp (bench/aiohttp_sends.py: what a user would write instead).
#
# ROUNDS rounds, alternating (campaignctl, then Python, in each round): ROWS single sends to
# the loopback mock API (examples/mock_api.rs) answering at once, CONCURRENCY (64) requests
# in flight for both (64 is campaignctl's default at --rate 0; another value is passed as
# --concurrency), the same JSON bodies (checked once before the rounds). campaignctl runs
# on a fresh SQLite ledger each round; the Python script keeps no ledger, so it is a lower
# bound for a script that also records what it sent. Measured by GNU time for each whole
# process: CPU (user + sys) per send in µs (target for campaignctl <= 40 µs on 2 cores),
# sends/s = ROWS / wall time (target >= 10,000; validation and planning included), peak
# RSS. Prints each round and the medians.
# Checks every round: ROWS requests at the mock, and (campaignctl) ROWS `sent` rows.
#
# Usage: bench/cost.sh                 (from anywhere; builds release first)
# Knobs: ROWS=100000 ROUNDS=3 CONCURRENCY=64 CARGO_TARGET_DIR=target
#        VENV=$CARGO_TARGET_DIR/bench-venv (a virtualenv with aiohttp; created, and aiohttp
#        installed with pip from PyPI, when missing) KEEP=1 (keep the work directory)
#        STATE_DIR=DIR (where the SQLite ledgers go; default the work directory: /dev/shm
#        shows what the ledger's fsync costs)
# Needs python3 with venv and pip, GNU time (/usr/bin/time).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROWS=${ROWS:-100000}
ROUNDS=${ROUNDS:-3}
CONCURRENCY=${CONCURRENCY:-64}
VENV=${VENV:-$CARGO_TARGET_DIR/bench-venv}
# 64 is what apply keeps in flight at --rate 0 by default: measured without the flag then.
CONCURRENCY_FLAG=()
(( CONCURRENCY == 64 )) || CONCURRENCY_FLAG=(--concurrency "$CONCURRENCY")
TARGET_CPU_US=40
TARGET_RATE=10000

cleanup() {
    # A ledger outside the work directory (STATE_DIR) left by a round that failed.
    if [[ -n ${STATE_DIR:-} && ${KEEP:-0} != 1 ]]; then
        rm -f "$STATE_DIR"/campaignctl-cost-$$-*
    fi
    bench_cleanup
}
trap cleanup EXIT
bench_machine
[[ -x /usr/bin/time ]] || { echo "GNU time not found (Debian: apt-get install -y time)" >&2; exit 1; }
bench_build

# The Python side: a virtualenv with aiohttp, made once and kept in the target directory.
if ! "$VENV/bin/python" -c 'import aiohttp' 2>/dev/null; then
    echo "== virtualenv $VENV with aiohttp"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet aiohttp
fi
PY=$VENV/bin/python
echo "python: $("$PY" -c 'import sys, aiohttp; print(sys.version.split()[0], "aiohttp", aiohttp.__version__)')"

bench_workdir
bench_campaign "$WORK/campaigns" "$ROWS"
CSV=$WORK/campaigns/data/recipients.csv
mock_start 0
echo "campaign: $ROWS recipients; mock answering at once at $BASE"

# The same bodies: campaignctl's (the `request` of each send in `plan --format json`)
# against the script's.
check_bodies() {
    "$BIN" plan "$WORK/campaigns" --format json >"$WORK/plan.json"
    "$PY" bench/aiohttp_sends.py --bodies "$CSV" bench_template en bench >"$WORK/bodies.py"
    python3 - "$WORK/plan.json" "$WORK/bodies.py" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
ours = [json.dumps(json.loads(line), separators=(",", ":")) for line in open(sys.argv[2])]
theirs = [
    json.dumps(send["request"], separators=(",", ":"))
    for campaign in plan["campaigns"]
    for send in campaign["sends"]
]
if theirs != ours:
    sys.exit(f"bodies differ: campaignctl {len(theirs)}, script {len(ours)}; first: {theirs[:1]} vs {ours[:1]}")
print(f"bodies: the script's {len(ours)} bodies are campaignctl's, e.g. {ours[0]}")
PY
}
check_bodies

# /usr/bin/time's "%e %U %S %M" in FILE as "WALL CPU_US_PER_SEND SENDS_PER_S RSS_MB".
per_send() { # FILE
    awk -v n="$ROWS" '{ printf "%.3f %.1f %.0f %.0f\n", $1, ($2 + $3) * 1e6 / n, n / $1, $4 / 1024 }' "$1"
}

# Requests the mock received while COMMAND ran must be exactly ROWS.
check_requests() { # BEFORE WHO
    local after
    after=$(mock_stats requests)
    if (( after - $1 != ROWS )); then
        echo "$2: the mock received $((after - $1)) requests for $ROWS sends" >&2
        exit 1
    fi
}

run_campaignctl() { # ROUND
    local ledger=${STATE_DIR:-$WORK}/campaignctl-cost-$$-$1.db before counts
    before=$(mock_stats requests)
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time.c$1" \
        "$BIN" apply "$WORK/campaigns" --yes --rate 0 "${CONCURRENCY_FLAG[@]}" --state "$ledger" \
        >"$WORK/apply.out" 2>"$WORK/apply.err" || { cat "$WORK/apply.err" >&2; exit 1; }
    check_requests "$before" campaignctl
    counts=$(sqlite_counts "$ledger")
    [[ $counts == "sent=$ROWS" ]] || { echo "ledger: $counts, expected sent=$ROWS" >&2; exit 1; }
    rm -f "$ledger" "$ledger"-*
    echo "campaignctl $(per_send "$WORK/time.c$1")" | tee -a "$WORK/results"
}

run_python() { # ROUND
    local before
    before=$(mock_stats requests)
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time.p$1" \
        "$PY" bench/aiohttp_sends.py "$BASE" "$CSV" bench_template en bench "$CONCURRENCY" \
        >"$WORK/python.out" 2>"$WORK/python.err" || { cat "$WORK/python.err" "$WORK/python.out" >&2; exit 1; }
    check_requests "$before" python
    echo "python      $(per_send "$WORK/time.p$1")" | tee -a "$WORK/results"
}

echo "== $ROUNDS rounds of $ROWS sends, $CONCURRENCY in flight (fields: wall s, CPU µs/send, sends/s, peak RSS MB)"
for round in $(seq "$ROUNDS"); do
    echo "-- round $round"
    run_campaignctl "$round"
    run_python "$round"
done

echo "== result: cost per send ($ROWS sends, --rate 0, $CONCURRENCY in flight, mock answering at once; medians of $ROUNDS rounds)"
bench_load
python3 - "$WORK/results" "$TARGET_CPU_US" "$TARGET_RATE" <<'PY'
import statistics, sys
path, target_cpu, target_rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
runs = {}
for line in open(path):
    who, wall, cpu, rate, rss = line.split()
    runs.setdefault(who, []).append((float(wall), float(cpu), float(rate), float(rss)))
print(f"{'':<12} {'CPU µs/send':>12} {'sends/s':>9} {'wall s':>8} {'peak RSS':>9}   rounds (CPU µs/send, sends/s)")
for who, label in (("campaignctl", "campaignctl"), ("python", "python")):
    rounds = runs[who]
    med = [statistics.median(r[i] for r in rounds) for i in range(4)]
    each = ", ".join(f"{r[1]:.1f}/{r[2]:.0f}" for r in rounds)
    print(f"{label:<12} {med[1]:>12.1f} {med[2]:>9.0f} {med[0]:>8.2f} {med[3]:>6.0f} MB   {each}")
c = [statistics.median(r[i] for r in runs["campaignctl"]) for i in range(4)]
p = [statistics.median(r[i] for r in runs["python"]) for i in range(4)]
print(f"python / campaignctl: {p[1] / c[1]:.1f}x the CPU per send, {c[2] / p[2]:.1f}x fewer sends/s")
print("campaignctl: whole process (validation, planning, SQLite ledger with a claim and an outcome per send)")
print("python (aiohttp): no ledger, no retries: a lower bound for a script that also records what it sent")
ok = c[1] <= target_cpu and c[2] >= target_rate
print(f"targets (campaignctl <= {target_cpu:g} µs/send, >= {target_rate:,.0f} sends/s): {'met' if ok else 'NOT met'}")
sys.exit(0 if ok else 1)
PY
