#!/usr/bin/env bash
# Benchmark of `campaignctl apply`: 100,000 single sends against a loopback mock API that
# answers 200 at once (examples/mock_api.rs), with --rate 0 --concurrency 64 and a fresh
# ledger, beside the raw request rate a load generator reaches against the same server.
# The issue's target: apply's sends/s >= 0.5 x the raw rate, and exactly 100,000 `sent` rows.
# ROUNDS rounds of apply (each on a fresh ledger) and the load generators, alternating; the
# ratio reported is the median of the rounds' ratios (this VM's speed drifts by 10-20%).
#
# Usage: bench/apply.sh            (from anywhere; builds release first)
#        STATE=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable bench/apply.sh
#                                   (the same apply with the PostgreSQL ledger)
# Knobs: ROWS=100000 CONCURRENCY=64 ROUNDS=3 LOAD_SECONDS=5 CARGO_TARGET_DIR=target
#        STATE_DIR=DIR (where the SQLite ledger goes; default the work directory: try /dev/shm
#        to see the cost of fsync) KEEP=1 (keep the work directory, and the database)
#        STATE=postgres://USER[:PASSWORD]@HOST:PORT[/DB][?sslmode=...]: the ledger in
#        PostgreSQL, in a fresh database campaignctl_bench_PID on that server (created and
#        dropped with psql through its `postgres` database; the DB in the URL is not used),
#        checked with psql. Any other STATE is the SQLite file to use (it must not exist).
#
# Load generator: wrk (Debian: `apt-get install -y wrk`).
# Needs python3 (CSV generation, a free port, the ledger check with its sqlite3 module), and
# psql for a PostgreSQL ledger (Debian: `apt-get install -y postgresql-client`).
set -euo pipefail

cd "$(dirname "$0")/.."
ROWS=${ROWS:-100000}
CONCURRENCY=${CONCURRENCY:-64}
LOAD_SECONDS=${LOAD_SECONDS:-5}
ROUNDS=${ROUNDS:-3}
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
# The ledger: an SQLite file (default), or a fresh PostgreSQL database (STATE=postgres://...).
PG_ADMIN=
PG_DB=
LEDGER_KIND=SQLite
case ${STATE:-} in
    postgres://* | postgresql://*)
        command -v psql >/dev/null || { echo "psql not found (Debian: apt-get install -y postgresql-client)" >&2; exit 1; }
        scheme=${STATE%%://*}
        rest=${STATE#*://}
        authority=${rest%%[/?]*}
        query=
        [[ $STATE == *\?* ]] && query="?${STATE#*\?}"
        PG_DB=campaignctl_bench_$$
        PG_ADMIN="$scheme://$authority/postgres$query"
        LEDGER="$scheme://$authority/$PG_DB$query"
        LEDGER_KIND=PostgreSQL
        ;;
    "") LEDGER=${STATE_DIR:-$WORK}/campaignctl-bench-$$.db ;;
    *) LEDGER=$STATE ;;
esac
# The ledger as printed: without a password.
SHOWN=$(sed -E 's#^([a-z]+://[^:/@]*):[^@/]*@#\1:***@#' <<<"$LEDGER")
MOCK_PID=
cleanup() {
    if [[ -n $MOCK_PID ]]; then
        kill "$MOCK_PID" 2>/dev/null || true
        wait "$MOCK_PID" 2>/dev/null || true
    fi
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "work directory kept: $WORK (ledger: $SHOWN)"
    else
        rm -rf "$WORK"
        if [[ -n $PG_DB ]]; then
            psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null || true
        else
            rm -f "$LEDGER" "$LEDGER-wal" "$LEDGER-shm" "$LEDGER.lock"
        fi
    fi
}
trap cleanup EXIT
if [[ -n $PG_DB ]]; then
    psql "$PG_ADMIN" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $PG_DB"
    echo "ledger: PostgreSQL $SHOWN ($(psql "$PG_ADMIN" -tAc 'SHOW server_version'))"
else
    [[ ! -e $LEDGER ]] || { echo "$LEDGER exists: the benchmark needs a fresh ledger" >&2; exit 1; }
    echo "ledger: SQLite $LEDGER"
fi

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$MOCK" "$PORT" >"$WORK/mock.out" 2>"$WORK/mock.err" &
MOCK_PID=$!
for _ in $(seq 100); do
    grep -q '^listening on' "$WORK/mock.out" 2>/dev/null && break
    kill -0 "$MOCK_PID" 2>/dev/null || { cat "$WORK/mock.err" >&2; exit 1; }
    sleep 0.1
done
grep -q '^listening on' "$WORK/mock.out" || { echo "mock API did not start" >&2; exit 1; }
BASE=http://127.0.0.1:$PORT
URL=$BASE/chat-service/apis/message/single
echo "mock API: $BASE (pid $MOCK_PID)"

stats() {
    python3 -c 'import json, sys, urllib.request; s = json.load(urllib.request.urlopen(sys.argv[1] + "/__mock/stats")); print(s["requests"], s["delivered"])' "$BASE"
}

# `Requests/sec: N` (wrk's and examples/load.rs's summary line) from file $1, as an integer.
requests_per_sec() {
    awk '$1 == "Requests/sec:" { printf "%.0f", $2 }' "$1"
}

echo "== campaign: $ROWS recipients"
mkdir -p "$WORK/campaigns"
python3 - "$WORK/campaigns/recipients.csv" "$ROWS" <<'PY'
import csv, sys
path, rows = sys.argv[1], int(sys.argv[2])
with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["mobile", "name", "bib"])
    for i in range(rows):
        w.writerow([f"9170{i:08d}", f"Runner {i}", f"B-{i:06d}"])
PY
cat >"$WORK/campaigns/bench.yaml" <<'YAML'
name: bench
template: bench_template
language: en
tag: bench
params:
  - "{{ recipient.name }}"
  - "{{ recipient.bib }}"
recipients:
  - file: recipients.csv
YAML

export CHITCHAT_API_KEY=bench-key CHITCHAT_BASE_URL=$BASE
unset CAMPAIGNCTL_STATE
now() { date +%s.%N; }

# Planning alone (load, validate, render every send once): part of every apply.
t0=$(now)
"$BIN" validate "$WORK/campaigns" >/dev/null
t1=$(now)
VALIDATE_S=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
echo "validate: ${VALIDATE_S}s"

# One round: apply on a fresh ledger (checked), then each load generator against the same
# mock. Rounds alternate apply and the load generators so that a slow spell of a shared VM
# hits both sides of the ratio; the result is the median over the rounds.
fresh_ledger() { # round number
    if [[ -n $PG_DB ]]; then
        psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null
        psql "$PG_ADMIN" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $PG_DB"
    elif (( $1 > 1 )); then
        rm -f "$LEDGER" "$LEDGER-wal" "$LEDGER-shm" "$LEDGER.lock"
    fi
}

check_ledger() {
    if [[ -n $PG_DB ]]; then
        sql() { psql "$LEDGER" -v ON_ERROR_STOP=1 -tAc "$1"; }
        COUNTS=$(sql "SELECT coalesce(string_agg(status || '=' || n, ',' ORDER BY status), '') FROM (SELECT status, count(*) AS n FROM sends GROUP BY status) AS s")
        DISTINCT=$(sql "SELECT count(DISTINCT recipient) FROM sends")
        ODD=$(sql "SELECT count(*) FROM sends WHERE status = 'sent' AND (http_status <> 200 OR attempts <> 1)")
        echo "ledger: $COUNTS, $DISTINCT distinct recipients"
        if [[ $COUNTS != "sent=$ROWS" || $DISTINCT != "$ROWS" || $ODD != 0 ]]; then
            echo "ledger inconsistent: expected exactly $ROWS sent rows ($ODD odd sent rows)" >&2
            exit 1
        fi
    else
        python3 - "$LEDGER" "$ROWS" <<'PY'
import sqlite3, sys
path, rows = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
counts = dict(db.execute("SELECT status, count(*) FROM sends GROUP BY status"))
distinct = db.execute("SELECT count(DISTINCT recipient) FROM sends").fetchone()[0]
odd = db.execute(
    "SELECT count(*) FROM sends WHERE status = 'sent' AND (http_status != 200 OR attempts != 1)"
).fetchone()[0]
print(f"ledger: {counts}, {distinct} distinct recipients")
if counts != {"sent": rows} or distinct != rows or odd:
    sys.exit(f"ledger inconsistent: expected exactly {rows} sent rows ({odd} odd sent rows)")
PY
    fi
}

BODY='{"to":{"mobile":"919000000001","name":"Runner 1"},"fb_template":"bench_template","language":"en","params":["Runner 1","B-000001"],"tag":"bench"}'
{
    echo 'wrk.method = "POST"'
    echo "wrk.body = '$BODY'"
    echo 'wrk.headers["Content-Type"] = "application/json"'
    echo 'wrk.headers["x-tenant-api-key"] = "bench-key"'
} >"$WORK/post.lua"
THREADS=$(( $(nproc) < CONCURRENCY ? $(nproc) : CONCURRENCY ))

command -v wrk >/dev/null || { echo "wrk not found (Debian: apt-get install -y wrk)" >&2; exit 1; }

RESULTS=$WORK/results.tsv
for round in $(seq "$ROUNDS"); do
    echo "== round $round of $ROUNDS: apply --rate 0 --concurrency $CONCURRENCY (ledger $SHOWN)"
    fresh_ledger "$round"
    read -r BEFORE _ < <(stats)
    t0=$(now)
    "$BIN" apply "$WORK/campaigns" --yes --rate 0 --concurrency "$CONCURRENCY" \
        --state "$LEDGER" >"$WORK/apply.out" 2>"$WORK/apply.err"
    t1=$(now)
    tail -n 1 "$WORK/apply.out"
    APPLY_S=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
    APPLY_RATE=$(python3 -c "print(f'{$ROWS / ($t1 - $t0):.0f}')")
    echo "apply: $ROWS sends in ${APPLY_S}s = $APPLY_RATE sends/s"
    check_ledger
    read -r AFTER _ < <(stats)
    if (( AFTER - BEFORE != ROWS )); then
        echo "the mock received $((AFTER - BEFORE)) requests for $ROWS sends" >&2
        exit 1
    fi

    echo "-- wrk -t$THREADS -c$CONCURRENCY, ${LOAD_SECONDS}s"
    wrk -t"$THREADS" -c"$CONCURRENCY" -d"${LOAD_SECONDS}s" -s "$WORK/post.lua" "$URL" | tee "$WORK/wrk.out"
    WRK_RATE=$(requests_per_sec "$WORK/wrk.out")
    [[ -n $WRK_RATE ]] || { echo "no Requests/sec from wrk" >&2; exit 1; }
    printf '%s\t%s\t%s\n' "$APPLY_RATE" "$APPLY_S" "$WRK_RATE" >>"$RESULTS"
done

echo "== result ($ROUNDS rounds; medians)"
python3 - "$RESULTS" "$ROWS" "$LEDGER_KIND" "$SHOWN" "$VALIDATE_S" <<'PY'
import statistics, sys
path, rows, kind, shown, validate_s = sys.argv[1:6]
rounds = [[float(x) for x in line.split()] for line in open(path)]
def med(values):
    return statistics.median(values)
ratios = []
for i, (apply_rate, apply_s, wrk) in enumerate(rounds, 1):
    ratios.append(apply_rate / wrk)
    print(f"round {i}: apply {apply_rate:.0f} sends/s ({apply_s:.3f}s), wrk {wrk:.0f} req/s: ratio {apply_rate / wrk:.3f}")
apply_rate = med([r[0] for r in rounds])
raw = med([r[2] for r in rounds])
ratio = med(ratios)
print(f"apply:    {apply_rate:.0f} sends/s ({rows} sends; validate alone {validate_s}s; ledger {kind})")
print(f"raw:      {raw:.0f} requests/s (wrk)")
print(f"ratio:    {ratio:.3f} (median of the rounds' ratios)")
print(f"ledger:   {rows} sent rows after every round, consistent ({shown})")
print("target met" if ratio >= 0.5 else "target NOT met")
PY
