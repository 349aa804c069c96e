#!/usr/bin/env bash
# CPU cost per send of the SQLite ledger's claim and finish, driven as `apply` drives them
# (examples/ledger_bench.rs): 100,000 fresh sends claimed in batches of 256 and finished in
# batches of 128, on a fresh ledger file on disk, median of 5 runs. CPU time (user + sys of
# the benchmark's thread), not wall time, so other work on the machine barely counts.
#
# Usage: bench/ledger.sh [ROWS [RUNS]]      (from anywhere; builds release first)
# Knobs: DIR=. (where the ledger files go: a real disk, not /dev/shm, so fsync costs what
#        it costs) CLAIM_BATCH=256 FINISH_BATCH=128 SPREAD=1 (outcomes come in among the
#        SPREAD oldest unfinished sends: 1 in claim order) PRELOAD=0 (rows in the ledger
#        before each run) KEEP=1 (keep the ledgers) CARGO_TARGET_DIR=target
#        `CLAIM_BATCH=512 FINISH_BATCH=512 SPREAD=64 bench/ledger.sh` is close to what
#        `apply --rate 0 --concurrency 64` does on a fast API: claims of up to 512 (sized
#        to the pace), outcomes out of claim order, written 128 to 512 at a time (the
#        recorder waits up to 10 ms for 128). FINISH_BATCH=16 shows what writing them as
#        they come, ~18 at a time, used to cost.
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
ROWS=${1:-100000}
RUNS=${2:-5}
DIR=${DIR:-$PWD}

echo "== machine"
echo "nproc: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "filesystem: $(df -T "$DIR" | awk 'NR == 2 { print $2 " on " $1 }')"

echo "== build (release)"
cargo build --release --quiet --example ledger_bench

echo "== ledger_bench"
"$CARGO_TARGET_DIR/release/examples/ledger_bench" "$ROWS" "$RUNS" "$DIR"
