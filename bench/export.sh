#!/usr/bin/env bash
# Benchmark: `status --format csv` of a ledger of 1,000,000 sends, and of 100,000, to show
# that the export streams: its peak RSS must not grow with the number of rows. Prints wall
# time and peak RSS of each run (GNU time's `%e %M`), and the same for `--format json`,
# which holds every row in memory, for comparison.
#
# The ledger is made by campaignctl itself (one `apply` of one send against the mock API,
# examples/mock_api.rs), then filled with python3's sqlite3 module: the same columns as
# campaignctl writes, in an order that is not the listing's (so the sort is real), four
# campaigns (two whose names share a prefix, one with 28 scheduled occurrences), 90% sent,
# 7% failed with a JSON body (commas and quotes: quoted in the CSV), 3% unknown.
#
# Usage: bench/export.sh [ROWS...]   (default: 100000 1000000; builds release first)
#        PG=postgres://postgres@127.0.0.1:5432?sslmode=disable bench/export.sh
#                                    (the same on a PostgreSQL ledger, after SQLite's)
# Knobs: KEEP=1 (keep the work directory and its ledgers) CARGO_TARGET_DIR=target
#        JSON=0 (skip the --format json runs)
#        PG=postgres://USER[:PASSWORD]@HOST:PORT[?sslmode=...]: also export from PostgreSQL,
#        in a fresh database campaignctl_export_PID on that server (created and dropped with
#        psql through its `postgres` database), filled with the same rows by one INSERT.
# Needs python3 and GNU time (/usr/bin/time); psql for PG. Temporary files of SQLite's sort
# go to SQLITE_TMPDIR or TMPDIR (else /var/tmp): about the size of the rows listed.
set -euo pipefail

cd "$(dirname "$0")/.."
if (( $# == 0 )); then set -- 100000 1000000; fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}

echo "== machine"
echo "nproc: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"

echo "== build (release)"
cargo build --release --quiet --bin campaignctl --example mock_api
BIN=$CARGO_TARGET_DIR/release/campaignctl
MOCK=$CARGO_TARGET_DIR/release/examples/mock_api

WORK=$(mktemp -d)
: >"$WORK/campaignctl.yaml"
# The repository's project file (the bundled campaigns' catalogue) must not apply here.
export CAMPAIGNCTL_CONFIG="$WORK/campaignctl.yaml"
MOCK_PID=
PG_ADMIN=
PG_DB=
if [[ -n ${PG:-} ]]; then
    command -v psql >/dev/null || { echo "psql not found (Debian: apt-get install -y postgresql-client)" >&2; exit 1; }
    scheme=${PG%%://*}
    rest=${PG#*://}
    authority=${rest%%[/?]*}
    query=
    [[ $PG == *\?* ]] && query="?${PG#*\?}"
    PG_DB=campaignctl_export_$$
    PG_ADMIN="$scheme://$authority/postgres$query"
    PG_LEDGER="$scheme://$authority/$PG_DB$query"
fi
cleanup() {
    if [[ -n $MOCK_PID ]]; then
        kill "$MOCK_PID" 2>/dev/null || true
        wait "$MOCK_PID" 2>/dev/null || true
    fi
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "work directory kept: $WORK${PG_DB:+ (database $PG_DB)}"
    else
        rm -rf "$WORK"
        if [[ -n $PG_DB ]]; then
            psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null || true
        fi
    fi
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$MOCK" "$PORT" >"$WORK/mock.out" 2>"$WORK/mock.err" &
MOCK_PID=$!
for _ in $(seq 100); do
    grep -q '^listening on' "$WORK/mock.out" 2>/dev/null && break
    kill -0 "$MOCK_PID" 2>/dev/null || { cat "$WORK/mock.err" >&2; exit 1; }
    sleep 0.1
done
grep -q '^listening on' "$WORK/mock.out" || { echo "mock API did not start" >&2; exit 1; }
export CHITCHAT_API_KEY=bench-key CHITCHAT_BASE_URL=http://127.0.0.1:$PORT
unset CAMPAIGNCTL_STATE

mkdir -p "$WORK/campaigns"
cat >"$WORK/campaigns/seed.yaml" <<'YAML'
name: seed
template: bench_template
language: en
params:
  - "{{ recipient.name }}"
recipients:
  - mobile: "919999999999"
    name: Seed
YAML

# A ledger of $1 rows at $2: the schema from campaignctl, the rows from python3.
make_ledger() {
    local rows=$1 ledger=$2
    "$BIN" apply "$WORK/campaigns" --yes --rate 0 --state "$ledger" >/dev/null
    python3 - "$ledger" "$rows" <<'PY'
import datetime, sqlite3, sys
path, rows = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(path)
db.execute("PRAGMA synchronous = OFF")
# The same columns as campaignctl's claim and finish; the seed row is replaced.
db.execute("DELETE FROM sends")
campaigns = ["renewal", "renewal-b", "welcome", "weekly-checkin"]
base = datetime.datetime(2026, 11, 20, tzinfo=datetime.timezone.utc)
failed_body = '{"error":"invalid parameter","detail":"param 1, \\"name\\", is empty"}'
def stamp(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
def row(i):
    # 7919 is prime and does not divide 10^n: j runs over every row, out of listing order.
    j = i * 7919 % rows
    campaign = campaigns[j % 4]
    occurrence = f"2026-11-{j // 4 % 28 + 1:02d}T03:30:00Z" if campaign == "weekly-checkin" else "once"
    recipient = f"91{9000000000 + j}"
    request = ('{"to":{"mobile":"%s","name":"Member %d"},"fb_template":"membership_renewal",'
               '"language":"en","params":["Member %d","Pune","20%% off"],"tag":"renewal"}' % (recipient, j, j))
    kind = j % 100
    if kind < 90:
        status, http, response, error = "sent", 200, '{"status":"ok","id":"m-%d"}' % j, None
    elif kind < 97:
        status, http, response, error = "failed", 400, failed_body, None
    else:
        status, http, response, error = "unknown", None, None, \
            "no answer within 30s after the request was written: it may or may not have been sent"
    t = stamp(base + datetime.timedelta(milliseconds=600 * j))
    return (f"{campaign}/{occurrence}/{recipient}", campaign, f"campaigns/{campaign}.yaml",
            occurrence, recipient, "single", request, f"{j:064x}", status, 1, http, response,
            error, t, t)
db.executemany(
    "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request, request_hash,"
    " status, attempts, http_status, response, error, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    (row(i) for i in range(rows)))
db.commit()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
PY
}

# The same rows in a fresh PostgreSQL database ($PG_LEDGER): the schema from campaignctl,
# the rows from one INSERT ... SELECT over generate_series.
make_pg_ledger() {
    local rows=$1
    psql "$PG_ADMIN" -q -c "SET client_min_messages = warning" \
        -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB"
    "$BIN" apply "$WORK/campaigns" --yes --rate 0 --state "$PG_LEDGER" >/dev/null
    psql "$PG_LEDGER" -v ON_ERROR_STOP=1 -q -v rows="$rows" <<'SQL'
DELETE FROM sends;
INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request, request_hash,
                   status, attempts, http_status, response, error, created_at, updated_at)
SELECT c || '/' || o || '/' || r, c, 'campaigns/' || c || '.yaml', o, r, 'single',
       '{"to":{"mobile":"' || r || '","name":"Member ' || j || '"},"fb_template":"membership_renewal",'
           || '"language":"en","params":["Member ' || j || '","Pune","20% off"],"tag":"renewal"}',
       lpad(to_hex(j), 64, '0'),
       CASE WHEN j % 100 < 90 THEN 'sent' WHEN j % 100 < 97 THEN 'failed' ELSE 'unknown' END, 1,
       CASE WHEN j % 100 < 90 THEN 200 WHEN j % 100 < 97 THEN 400 END,
       CASE WHEN j % 100 < 90 THEN '{"status":"ok","id":"m-' || j || '"}'
            WHEN j % 100 < 97 THEN '{"error":"invalid parameter","detail":"param 1, \"name\", is empty"}' END,
       CASE WHEN j % 100 >= 97
            THEN 'no answer within 30s after the request was written: it may or may not have been sent' END,
       t, t
FROM (SELECT j, (ARRAY['renewal', 'renewal-b', 'welcome', 'weekly-checkin'])[j % 4 + 1] AS c,
             '91' || (9000000000 + j) AS r,
             to_char(timestamp '2026-11-20' + j * interval '600 milliseconds',
                     'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS t
      FROM generate_series(0, :rows - 1) AS g(j)) AS s,
     LATERAL (SELECT CASE WHEN c = 'weekly-checkin'
                          THEN '2026-11-' || lpad((j / 4 % 28 + 1)::TEXT, 2, '0') || 'T03:30:00Z'
                          ELSE 'once' END AS o) AS occurrence;
ANALYZE sends;
SQL
}

# `campaignctl status --state LEDGER ARGS...` to /dev/null: "SECONDS KB".
timed() {
    /usr/bin/time -f "%e %M" -o "$WORK/time" "$BIN" status --state "$@" >/dev/null
    cat "$WORK/time"
}

# The exports of `ledger` ($1, shown as $3), of $2 rows: checked once, then timed. The CSV's
# checksum is kept in $WORK/sum-ROWS: both ledgers of the same rows must export the same.
measure() {
    local ledger=$1 rows=$2 shown=$3 lines bytes sum secs kb
    # Once untimed: every row is there, plus the header.
    "$BIN" status --state "$ledger" --format csv >"$WORK/out.csv"
    lines=$(wc -l <"$WORK/out.csv")
    bytes=$(wc -c <"$WORK/out.csv")
    sum=$(md5sum <"$WORK/out.csv" | cut -d' ' -f1)
    rm "$WORK/out.csv"
    (( lines == rows + 1 )) || { echo "expected $((rows + 1)) lines of CSV, got $lines" >&2; exit 1; }
    if [[ -e $WORK/sum-$rows ]]; then
        [[ $(cat "$WORK/sum-$rows") == "$sum" ]] || { echo "the ledgers of $rows rows export differently" >&2; exit 1; }
        echo "same CSV as SQLite's (md5 $sum)"
    fi
    echo "$sum" >"$WORK/sum-$rows"
    read -r secs kb < <(timed "$ledger" --format csv)
    echo "status --format csv --state $shown > /dev/null: ${secs} s wall, peak RSS $((kb / 1024)) MB ($lines lines, $((bytes / 1048576)) MB of CSV)"
    if [[ ${JSON:-1} != 0 ]]; then
        read -r secs kb < <(timed "$ledger" --format json)
        echo "status --format json --state $shown > /dev/null: ${secs} s wall, peak RSS $((kb / 1024)) MB"
    fi
}

for rows in "$@"; do
    ledger=$WORK/ledger-$rows.db
    echo "== SQLite, $rows rows"
    make_ledger "$rows" "$ledger"
    echo "ledger: $(du -h "$ledger" | cut -f1) ($ledger)"
    measure "$ledger" "$rows" FILE
    [[ ${KEEP:-0} == 1 ]] || rm -f "$ledger" "$ledger-wal" "$ledger-shm" "$ledger.lock"
done
if [[ -n $PG_DB ]]; then
    for rows in "$@"; do
        echo "== PostgreSQL ($(psql "$PG_ADMIN" -tAc 'SHOW server_version')), $rows rows"
        make_pg_ledger "$rows"
        echo "ledger: $(psql "$PG_LEDGER" -tAc "SELECT pg_size_pretty(pg_total_relation_size('sends'))") (database $PG_DB)"
        measure "$PG_LEDGER" "$rows" URL
    done
fi
