#!/usr/bin/env bash
# Benchmark of `campaignctl run`, the daemon, with 1,000 scheduled campaigns loaded:
#
# 1. idle cost: CPU time (utime + stime from /proc/PID/stat) and context switches (every
#    long-lived thread's) over MEASURE_SECONDS while no campaign is due, after SETTLE_SECONDS
#    (tokio's blocking threads used at start exit after 10 s idle), and resident memory (VmRSS,
#    VmHWM from /proc/PID/status);
# 2. fire-time delay: FIRES `at` campaigns written into the watched directory (the file
#    watcher reloads the set), FIRE_GAP seconds apart; for each, how late after its
#    scheduled second (a) the daemon started the occurrence (`late_ms` of the JSON log's
#    `occurrence started` event) and (b) the send left (its ledger row's `created_at`: the
#    claim is committed just before the request is written) and was answered by the mock
#    (`updated_at`). The mock (examples/mock_api.rs) only counts requests; it confirms the
#    count.
#
# The targets: near-zero CPU between fire times, RSS well under 100 MB, a fire time
# hit within one second.
#
# Usage: bench/daemon.sh             (from anywhere; builds release first)
# Knobs: CAMPAIGNS=1000 MEASURE_SECONDS=60 SETTLE_SECONDS=15 FIRES=5 FIRE_GAP=2
#        CARGO_TARGET_DIR=target KEEP=1 (keep the work directory)
# Needs python3 (campaign generation with zoneinfo, a free port, JSON and the ledger).
set -euo pipefail

cd "$(dirname "$0")/.."
CAMPAIGNS=${CAMPAIGNS:-1000}
MEASURE_SECONDS=${MEASURE_SECONDS:-60}
SETTLE_SECONDS=${SETTLE_SECONDS:-15}
FIRES=${FIRES:-5}
FIRE_GAP=${FIRE_GAP:-2}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}

echo "== machine"
echo "nproc: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "kernel: $(uname -r)"

echo "== build (release)"
cargo build --release --quiet --bin campaignctl --example mock_api
BIN=$CARGO_TARGET_DIR/release/campaignctl
MOCK=$CARGO_TARGET_DIR/release/examples/mock_api

WORK=$(mktemp -d)
: >"$WORK/campaignctl.yaml"
# The repository's project file (the bundled campaigns' catalogue) must not apply here.
export CAMPAIGNCTL_CONFIG="$WORK/campaignctl.yaml"
MOCK_PID=
RUN_PID=
cleanup() {
    for pid in $RUN_PID $MOCK_PID; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
now() { date +%s.%N; }

MOCK_PORT=$(free_port)
"$MOCK" "$MOCK_PORT" 2 >"$WORK/mock.out" 2>"$WORK/mock.err" &
MOCK_PID=$!
for _ in $(seq 100); do
    grep -q '^listening on' "$WORK/mock.out" 2>/dev/null && break
    kill -0 "$MOCK_PID" 2>/dev/null || { cat "$WORK/mock.err" >&2; exit 1; }
    sleep 0.1
done
grep -q '^listening on' "$WORK/mock.out" || { echo "mock API did not start" >&2; exit 1; }
BASE=http://127.0.0.1:$MOCK_PORT
mock_requests() {
    python3 -c 'import json, sys, urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1] + "/__mock/stats"))["requests"])' "$BASE"
}

echo "== $CAMPAIGNS scheduled campaigns"
# Daily crons at random times in a few time zones, none due within 25 minutes before or
# 30 minutes after now (so none is caught up at start nor fires while idle is measured),
# plus one `at` in twenty, days ahead. Two recipients each.
mkdir -p "$WORK/campaigns"
python3 - "$WORK/campaigns" "$CAMPAIGNS" <<'PY'
import datetime as dt, random, sys, zoneinfo
root, count = sys.argv[1], int(sys.argv[2])
random.seed(4)
zones = ["UTC", "Asia/Kolkata", "Europe/London", "America/New_York", "Asia/Singapore"]
now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
quiet = {(now + dt.timedelta(minutes=m)).strftime("%H:%M") for m in range(-25, 31)}
for i in range(count):
    zone = random.choice(zones)
    if i % 20 == 19:
        at = now + dt.timedelta(days=random.randint(1, 30), minutes=random.randint(0, 1439))
        schedule = f'  at: "{at.strftime("%Y-%m-%dT%H:%M:%SZ")}"\n'
    else:
        while True:
            utc = now.replace(hour=random.randrange(24), minute=random.randrange(60))
            if utc.strftime("%H:%M") not in quiet:
                break
        local = utc.astimezone(zoneinfo.ZoneInfo(zone))
        schedule = f'  cron: "{local.minute} {local.hour} * * *"\n  timezone: {zone}\n'
    with open(f"{root}/c{i:04d}.yaml", "w") as f:
        f.write(
            f"name: c{i:04d}\n"
            "template: welcome_message\n"
            "language: en\n"
            f"tag: bench_{i}\n"
            "params:\n  - \"{{ recipient.name }}\"\n  - \"{{ run.at | date('%d %B') }}\"\n"
            "recipients:\n"
            f"  - mobile: \"91700{i:07d}\"\n    name: Runner {i}\n"
            f"  - mobile: \"91800{i:07d}\"\n    name: Walker {i}\n"
            f"schedule:\n{schedule}"
        )
PY
"$BIN" validate "$WORK/campaigns" >/dev/null
echo "valid: $(ls "$WORK/campaigns" | wc -l) files"

echo "== start campaignctl run"
export CHITCHAT_API_KEY=bench-key CHITCHAT_BASE_URL=$BASE
unset CAMPAIGNCTL_STATE
LISTEN_PORT=$(free_port)
t0=$(now)
"$BIN" run "$WORK/campaigns" --state "$WORK/state.db" --listen "127.0.0.1:$LISTEN_PORT" \
    --log-format json 2>"$WORK/run.log" &
RUN_PID=$!
loaded() {
    python3 -c 'import sys, urllib.request
try:
    text = urllib.request.urlopen(sys.argv[1]).read().decode()
except Exception:
    sys.exit(1)
sys.exit(0 if f"campaignctl_campaigns_loaded {sys.argv[2]}\n" in text else 1)' \
        "http://127.0.0.1:$LISTEN_PORT/metrics" "$1"
}
for _ in $(seq 600); do
    loaded "$CAMPAIGNS" && break
    kill -0 "$RUN_PID" 2>/dev/null || { cat "$WORK/run.log" >&2; exit 1; }
    sleep 0.05
done
loaded "$CAMPAIGNS" || { echo "the daemon did not load $CAMPAIGNS campaigns" >&2; exit 1; }
t1=$(now)
START_S=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
echo "pid $RUN_PID: $CAMPAIGNS campaigns loaded and armed in ${START_S}s"

TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$RUN_PID/stat"; }
status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$RUN_PID/status"; }
# "TID SWITCHES" per thread; deltas are summed over the threads alive at both samples (a
# thread that exits takes its count with it).
ctx_switches() {
    for task in /proc/"$RUN_PID"/task/*; do
        awk -v tid="${task##*/}" '/^(voluntary|nonvoluntary)_ctxt_switches:/ { n += $2 } END { print tid, n }' "$task/status" 2>/dev/null || true
    done
}
threads() { ls /proc/"$RUN_PID"/task | wc -l; }

echo "== idle: settle ${SETTLE_SECONDS}s, then measure ${MEASURE_SECONDS}s"
sleep "$SETTLE_SECONDS"
REQUESTS_BEFORE=$(mock_requests)
RSS_START_KB=$(status_kb VmRSS)
CPU0=$(cpu_ticks)
CTX0=$(ctx_switches)
m0=$(now)
sleep "$MEASURE_SECONDS"
CPU1=$(cpu_ticks)
CTX1=$(ctx_switches)
m1=$(now)
RSS_KB=$(status_kb VmRSS)
HWM_KB=$(status_kb VmHWM)
THREADS=$(threads)
REQUESTS_IDLE=$(( $(mock_requests) - REQUESTS_BEFORE ))
read -r IDLE_CPU_MS IDLE_CPU_PCT IDLE_S < <(python3 -c "
ms = ($CPU1 - $CPU0) * 1000 / $TICK
s = $m1 - $m0
print(f'{ms:.0f} {ms / 10 / s:.3f} {s:.1f}')")
IDLE_CTX=$(awk 'NR == FNR { before[$1] = $2; next } $1 in before { n += $2 - before[$1] } END { print n + 0 }' \
    <(echo "$CTX0") <(echo "$CTX1"))
echo "cpu: ${IDLE_CPU_MS} ms in ${IDLE_S}s (${IDLE_CPU_PCT}% of one core); context switches: $IDLE_CTX; threads: $THREADS"
echo "memory: VmRSS ${RSS_START_KB} kB -> ${RSS_KB} kB, VmHWM ${HWM_KB} kB"
echo "requests sent while idle: $REQUESTS_IDLE"

echo "== fire-time delay: $FIRES at-occurrences ${FIRE_GAP}s apart, written into the watched directory"
mkdir -p "$WORK/fire"
FIRST=$(python3 -c "import time; print(int(time.time()) + 6)")
for i in $(seq 0 $((FIRES - 1))); do
    AT=$(date -u -d "@$((FIRST + i * FIRE_GAP))" +%Y-%m-%dT%H:%M:%SZ)
    cat >"$WORK/fire/fire$i.yaml" <<YAML
name: fire$i
template: welcome_message
language: en
params:
  - "{{ recipient.name }}"
  - "{{ run.at }}"
recipients:
  - mobile: "91900001000$i"
    name: Fire $i
schedule:
  at: "$AT"
YAML
done
w0=$(now)
mv "$WORK"/fire/*.yaml "$WORK/campaigns/"
for _ in $(seq 600); do
    loaded $((CAMPAIGNS + FIRES)) && break
    sleep 0.02
done
loaded $((CAMPAIGNS + FIRES)) || { echo "the watcher did not load the new files" >&2; exit 1; }
w1=$(now)
RELOAD_S=$(python3 -c "print(f'{$w1 - $w0:.2f}')")
echo "new files loaded by the watcher in ${RELOAD_S}s (300 ms debounce + a reload of $((CAMPAIGNS + FIRES)) campaigns)"
LAST=$((FIRST + (FIRES - 1) * FIRE_GAP))
while (( $(date +%s) < LAST + 2 )); do sleep 0.5; done
for _ in $(seq 100); do
    (( $(grep -c '"occurrence finished"' "$WORK/run.log" || true) >= FIRES )) && break
    sleep 0.1
done

kill -TERM "$RUN_PID"
set +e
wait "$RUN_PID"
RUN_EXIT=$?
set -e
RUN_PID=
REQUESTS_TOTAL=$(mock_requests)
echo "daemon exit status after SIGTERM: $RUN_EXIT; mock: $REQUESTS_TOTAL requests in all"

python3 - "$WORK/run.log" "$WORK/state.db" "$FIRES" <<'PY' | tee "$WORK/fire.txt"
import datetime as dt, json, sqlite3, sys
log, db, fires = sys.argv[1], sys.argv[2], int(sys.argv[3])
started = {}
for line in open(log):
    event = json.loads(line)
    if event.get("message") == "occurrence started":
        started[event["campaign"]] = event
def t(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
rows = sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute(
    "SELECT campaign, occurrence, status, created_at, updated_at FROM sends"
    " WHERE campaign LIKE 'fire%' ORDER BY campaign").fetchall()
print(f"{'campaign':<8} {'scheduled':<20} {'started (log)':>14} {'left (ledger)':>14} {'answered':>10}")
worst = 0
for campaign, occurrence, status, created, updated in rows:
    late_log = started[campaign]["late_ms"]
    left = (t(created) - t(occurrence)).total_seconds() * 1000
    answered = (t(updated) - t(occurrence)).total_seconds() * 1000
    worst = max(worst, late_log, left)
    print(f"{campaign:<8} {occurrence:<20} {late_log:>11} ms {left:>11.0f} ms {answered:>7.0f} ms  {status}")
others = [c for c in started if not c.startswith("fire")]
print(f"fires: {len(rows)} of {fires} sent; occurrences of other campaigns started: {len(others)}")
print(f"WORST_MS {worst:.0f}")
if len(rows) != fires or any(r[2] != "sent" for r in rows):
    sys.exit("not every fire campaign was sent")
PY
WORST_MS=$(awk '$1 == "WORST_MS" { print $2 }' "$WORK/fire.txt")

echo "== result"
printf '%-44s %s\n' \
    "campaigns loaded" "$CAMPAIGNS (+$FIRES for the fire test)" \
    "start to all armed (/metrics)" "${START_S} s" \
    "idle CPU over ${IDLE_S} s" "${IDLE_CPU_MS} ms = ${IDLE_CPU_PCT}% of one core" \
    "idle context switches (live threads)" "$IDLE_CTX in ${IDLE_S} s" \
    "requests while idle" "$REQUESTS_IDLE" \
    "VmRSS after idle / VmHWM (peak)" "$((RSS_KB / 1024)) MB / $((HWM_KB / 1024)) MB" \
    "threads" "$THREADS" \
    "watcher: new files loaded" "${RELOAD_S} s" \
    "fire delay, worst of $FIRES (log late_ms, ledger)" "${WORST_MS} ms" \
    "exit status after SIGTERM" "$RUN_EXIT"
ok=1
python3 -c "import sys; sys.exit(0 if $IDLE_CPU_PCT < 1 else 1)" || { echo "idle CPU NOT near zero"; ok=0; }
(( HWM_KB < 100 * 1024 )) || { echo "peak RSS NOT under 100 MB"; ok=0; }
(( WORST_MS < 1000 )) || { echo "fire delay NOT under a second"; ok=0; }
(( REQUESTS_IDLE == 0 && RUN_EXIT == 0 )) || { echo "requests while idle or a bad exit"; ok=0; }
if (( ok )); then echo "targets met"; else echo "targets NOT met"; exit 1; fi
