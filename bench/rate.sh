#!/usr/bin/env bash
# Rate fidelity of `campaignctl apply --rate N`: does a run send at the rate it was given
# when every answer takes a remote API's round trip?
#
# For each rate of RATES: ROWS single sends to the loopback mock API (examples/mock_api.rs)
# answering each request after DELAY_MS, with the default concurrency (no --concurrency:
# the number in flight follows rate × measured latency), on a fresh SQLite ledger and a
# fresh mock. Measured at the mock: the achieved rate (N−1) / (last arrival − first
# arrival), its ratio to the configured rate (target >= 0.97), and the most requests
# pending at once; also the wall time of the whole apply (validation included), and that
# the mock received exactly N requests and the ledger holds N `sent` rows.
#
# Usage: bench/rate.sh                 (from anywhere; builds release first)
# Knobs: ROWS=20000 DELAY_MS=300 RATES="80 1000" CARGO_TARGET_DIR=target
#        KEEP=1 (keep the work directory)
# At --rate 80, 20,000 sends take about 250 s.
# Needs python3 (CSV, a free port, JSON, the ledger check with its sqlite3 module).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROWS=${ROWS:-20000}
DELAY_MS=${DELAY_MS:-300}
RATES=${RATES:-80 1000}
TARGET_RATIO=0.97

trap bench_cleanup EXIT
bench_machine
bench_build
bench_workdir
bench_campaign "$WORK/campaigns" "$ROWS"
echo "campaign: $ROWS recipients; mock answers after ${DELAY_MS} ms"

now() { date +%s.%N; }

# One measurement: prints "RATE ACHIEVED RATIO WALL_S MAX_PENDING REQUESTS SENT_ROWS".
measure() { # RATE
    local rate=$1 ledger=$WORK/ledger-$1.db t0 t1 stats requests pending max_pending first last counts
    mock_start "$DELAY_MS"
    t0=$(now)
    "$BIN" apply "$WORK/campaigns" --yes --state "$ledger" --rate "$rate" \
        >"$WORK/apply-$rate.out" 2>"$WORK/apply-$rate.err" || {
        cat "$WORK/apply-$rate.err" >&2
        exit 1
    }
    t1=$(now)
    stats=$(mock_stats requests pending max_pending first_ms last_ms)
    read -r requests pending max_pending first last <<<"$stats"
    counts=$(sqlite_counts "$ledger")
    mock_stop
    {
        echo "-- apply --rate $rate: ${requests} requests; ledger: $counts"
        tail -n 3 "$WORK/apply-$rate.out" | sed 's/^/   apply: /'
    } >&2
    python3 - "$rate" "$ROWS" "$t0" "$t1" "$requests" "$pending" "$max_pending" "$first" "$last" "$counts" <<'PY'
import sys
rate, rows = float(sys.argv[1]), int(sys.argv[2])
t0, t1 = float(sys.argv[3]), float(sys.argv[4])
requests, pending, max_pending = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
first, last = float(sys.argv[8]), float(sys.argv[9])
counts = sys.argv[10]
sent = int(counts.split("=")[1]) if counts.startswith("sent=") and "," not in counts else -1
achieved = (rows - 1) / ((last - first) / 1000)
print(f"{rate:g} {achieved:.2f} {achieved / rate:.4f} {t1 - t0:.1f} {max_pending} {requests} {sent} {pending}")
PY
}

RESULTS=$WORK/results
for rate in $RATES; do
    echo "== --rate $rate: $ROWS sends (expect about $(( ROWS / rate )) s)"
    # Not in a pipeline: a subshell would start a mock the EXIT trap does not know.
    measure "$rate" >>"$RESULTS"
    tail -n 1 "$RESULTS"
done

echo "== result: rate fidelity ($ROWS sends each, mock answering after ${DELAY_MS} ms, default concurrency, SQLite ledger)"
ok=1
printf '%-10s %-12s %-8s %-9s %-12s %-10s %-10s\n' \
    "--rate" "achieved/s" "ratio" "wall s" "max pending" "requests" "sent rows"
while read -r rate achieved ratio wall max_pending requests sent pending; do
    printf '%-10s %-12s %-8s %-9s %-12s %-10s %-10s\n' \
        "$rate" "$achieved" "$ratio" "$wall" "$max_pending" "$requests" "$sent"
    if ! python3 -c "import sys; sys.exit(0 if $ratio >= $TARGET_RATIO else 1)"; then
        echo "   --rate $rate: ratio $ratio below the target $TARGET_RATIO"
        ok=0
    fi
    if (( requests != ROWS || sent != ROWS || pending != 0 )); then
        echo "   --rate $rate: expected $ROWS requests and $ROWS sent rows (got $requests, $sent; $pending pending)"
        ok=0
    fi
done <"$RESULTS"
bench_load
echo "achieved rate: (N-1) / (last arrival - first arrival) at the mock; wall: the whole apply"
if (( ok )); then echo "targets met"; else echo "targets NOT met"; exit 1; fi
