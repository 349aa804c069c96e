#!/usr/bin/env bash
# Rows left `in_flight` (to become `unknown`) after SIGKILL of `campaignctl apply`, against
# its concurrency. A send's row is committed `in_flight` just before its request is
# written and keeps its request slot until its outcome is committed, so after a SIGKILL at
# most --concurrency rows may be left `in_flight`.
#
# For each backend (SQLite; PostgreSQL when a server answers at PG_URL) and each C of
# CONCURRENCIES: ROWS recipients, the loopback mock API (examples/mock_api.rs) answering
# after DELAY_MS, `apply --rate 0 --concurrency C` on a fresh ledger, SIGKILL once about a
# third were delivered (the mock's stats, polled every 2 ms). Then: the rows `in_flight`
# in the ledger (must be <= C) and the requests the mock had open at the kill; then
# `apply --rate 0` again, which must report those rows as in flight when the earlier run
# stopped, send every recipient that has no row yet, exactly once, and nothing else:
#   - its requests at the mock = ROWS − rows present before it,
#   - afterwards every recipient has one row, `sent` or `unknown`, unknown = the rows that
#     were in flight, sent = ROWS − unknown, every `sent` row answered 200 at attempt 1,
#   - the killed run's requests at the mock lie between its `sent` rows and its `sent` plus
#     `in_flight` rows (nothing was sent without a row).
#
# Usage: bench/kill.sh                 (from anywhere; builds release first)
# Knobs: CONCURRENCIES="1 8 64 256" ROWS=2000 DELAY_MS=40 CARGO_TARGET_DIR=target
#        PG_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable (a server and a
#        user that may create databases; each run gets a fresh database campaignctl_kill_*,
#        created and dropped with psql through this URL's server; PG_URL= skips PostgreSQL)
#        KEEP=1 (keep the work directory)
# At C=1 a run takes ROWS × DELAY_MS (about 80 s for 2,000 at 40 ms), per backend.
# Needs python3 (CSV, a free port, the driver that kills, the sqlite3 module); psql for
# PostgreSQL (Debian: apt-get install -y postgresql-client).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CONCURRENCIES=${CONCURRENCIES:-1 8 64 256}
ROWS=${ROWS:-2000}
DELAY_MS=${DELAY_MS:-40}
PG_URL=${PG_URL-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
KILL_AT=$(( ROWS / 3 ))

PG_DB=
cleanup() {
    if [[ -n $PG_DB ]]; then
        psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    bench_cleanup
}
trap cleanup EXIT
bench_machine
bench_build
bench_workdir
bench_campaign "$WORK/campaigns" "$ROWS"

BACKENDS=sqlite
if [[ -z $PG_URL ]]; then
    echo "PostgreSQL: skipped (PG_URL is empty)"
elif ! command -v psql >/dev/null; then
    echo "PostgreSQL: skipped (no psql; Debian: apt-get install -y postgresql-client)"
elif ! PG_VERSION=$(psql "$PG_URL" -tAc 'SHOW server_version' 2>/dev/null); then
    echo "PostgreSQL: skipped (no server answers at $PG_URL)"
else
    echo "PostgreSQL: $PG_VERSION at $PG_URL"
    BACKENDS="sqlite postgres"
fi
echo "campaign: $ROWS recipients; mock answers after ${DELAY_MS} ms; SIGKILL at $KILL_AT delivered"

# The driver: starts apply, polls the mock's stats on one keep-alive connection and sends
# SIGKILL as soon as a sample shows KILL_AT requests delivered; that sample's `pending` is
# the requests the mock had open at the kill (read after the kill it would miss those the
# mock dropped when the dead process's connections closed). Then, once nothing is pending,
# the killed run's total of requests. Prints "DELIVERED_AT_KILL OPEN_AT_KILL REQUESTS".
cat >"$WORK/kill_at.py" <<'PY'
import http.client, json, os, signal, subprocess, sys, time
base, kill_at, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
command = sys.argv[4:]
host, port = base.removeprefix("http://").split(":")
mock = http.client.HTTPConnection(host, int(port))
def stats():
    mock.request("GET", "/__mock/stats")
    return json.loads(mock.getresponse().read())
with open(out, "w") as log:
    run = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
while True:
    now = stats()
    if now["delivered"] >= kill_at:
        break
    if run.poll() is not None:
        sys.exit(f"apply ended (status {run.returncode}) before {kill_at} deliveries")
    time.sleep(0.002)
os.kill(run.pid, signal.SIGKILL)
run.wait()
deadline = time.monotonic() + 10
while stats()["pending"] and time.monotonic() < deadline:
    time.sleep(0.01)
print(now["delivered"], now["pending"], stats()["requests"])
PY

# The ledger of one run: an SQLite file, or a fresh PostgreSQL database.
LEDGER=
fresh_ledger() { # BACKEND C
    if [[ $1 == sqlite ]]; then
        LEDGER=$WORK/ledger-$2.db
    else
        PG_DB=campaignctl_kill_$$_$2
        psql "$PG_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $PG_DB"
        local scheme=${PG_URL%%://*} rest=${PG_URL#*://} query=
        [[ $PG_URL == *\?* ]] && query="?${PG_URL#*\?}"
        LEDGER="$scheme://${rest%%[/?]*}/$PG_DB$query"
    fi
}

drop_ledger() { # BACKEND
    if [[ $1 == postgres ]]; then
        psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null
        PG_DB=
    fi
}

# One SQL query's single value, on either backend.
ledger_query() { # BACKEND SQL
    if [[ $1 == sqlite ]]; then
        python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' \
            "$LEDGER" "$2"
    else
        psql "$LEDGER" -v ON_ERROR_STOP=1 -tAc "$2"
    fi
}

count() { # BACKEND WHERE
    ledger_query "$1" "SELECT count(*) FROM sends WHERE $2"
}

fail() {
    echo "FAILED: $*" >&2
    exit 1
}

# One run: prints "BACKEND C IN_FLIGHT OPEN_AT_KILL DELIVERED_AT_KILL RESENT".
measure() { # BACKEND C
    local backend=$1 c=$2 killed delivered open killed_requests in_flight sent present before second
    mock_start "$DELAY_MS"
    fresh_ledger "$backend" "$c"
    # Assigned first, so that a failing driver stops the script (set -e).
    killed=$(python3 "$WORK/kill_at.py" "$BASE" "$KILL_AT" "$WORK/kill-$backend-$c.out" \
        "$BIN" apply "$WORK/campaigns" --yes --rate 0 --concurrency "$c" --state "$LEDGER")
    read -r delivered open killed_requests <<<"$killed"
    in_flight=$(count "$backend" "status = 'in_flight'")
    sent=$(count "$backend" "status = 'sent'")
    present=$(count "$backend" "1 = 1")
    (( present == sent + in_flight )) || fail "$backend C=$c: $present rows, $sent sent + $in_flight in flight"
    (( killed_requests >= sent && killed_requests <= sent + in_flight )) ||
        fail "$backend C=$c: the killed run made $killed_requests requests for $sent sent and $in_flight in-flight rows"

    before=$(mock_stats requests)
    "$BIN" apply "$WORK/campaigns" --yes --rate 0 --state "$LEDGER" \
        >"$WORK/again-$backend-$c.out" 2>&1 || { cat "$WORK/again-$backend-$c.out" >&2; fail "second apply"; }
    second=$(( $(mock_stats requests) - before ))
    if (( in_flight > 0 )); then
        grep -q "note: $in_flight send(s) were in flight when an earlier run stopped" "$WORK/again-$backend-$c.out" ||
            fail "$backend C=$c: the second apply did not report $in_flight send(s) in flight"
    fi
    (( second == ROWS - present )) ||
        fail "$backend C=$c: the second apply made $second requests for $((ROWS - present)) recipients without a row"
    [[ $(count "$backend" "status = 'unknown'") == "$in_flight" ]] || fail "$backend C=$c: unknown rows"
    [[ $(count "$backend" "status = 'sent'") == "$((ROWS - in_flight))" ]] || fail "$backend C=$c: sent rows"
    [[ $(ledger_query "$backend" "SELECT count(DISTINCT recipient) FROM sends") == "$ROWS" ]] ||
        fail "$backend C=$c: not one row per recipient"
    [[ $(count "$backend" "status = 'sent' AND (http_status <> 200 OR attempts <> 1)") == 0 ]] ||
        fail "$backend C=$c: sent rows with a retry or a status other than 200"
    drop_ledger "$backend"
    mock_stop
    echo "$backend $c $in_flight $open $delivered $second"
}

RESULTS=$WORK/results
for backend in $BACKENDS; do
    for c in $CONCURRENCIES; do
        echo "== $backend, --concurrency $c"
        measure "$backend" "$c" >>"$RESULTS"
        tail -n 1 "$RESULTS"
    done
done

echo "== result: rows left in_flight after SIGKILL ($ROWS recipients, mock answering after ${DELAY_MS} ms, kill at $KILL_AT delivered)"
ok=1
printf '%-11s %-12s %-20s %-22s %-20s %-12s\n' backend concurrency "in_flight after kill" \
    "mock open (at kill)" "delivered at kill" "second run sent"
while read -r backend c in_flight open delivered second; do
    verdict=
    (( in_flight <= c )) || { verdict="  > concurrency"; ok=0; }
    printf '%-11s %-12s %-20s %-22s %-20s %-12s%s\n' "$backend" "$c" "$in_flight" "$open" \
        "$delivered" "$second" "$verdict"
done <"$RESULTS"
bench_load
echo "mock open, delivered: the mock's stats sample that triggered the kill, just before it"
echo "every run: the second apply reported the in-flight rows and sent every other recipient exactly once"
if (( ok )); then echo "target met: in_flight rows <= concurrency"; else echo "target NOT met"; exit 1; fi
