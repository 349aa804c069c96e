#!/usr/bin/env bash
# Benchmark of opt-outs at scale: `optout import` of 100,000 numbers into a fresh SQLite
# ledger, then `plan` of one campaign with a 1,000,000-row CSV (bench/plan.sh's generator)
# against that ledger: every recipient is looked up in the set of opt-outs, loaded once (one
# in ten recipients is opted out). The target: the plan under 3 s and 200 MB peak RSS. The
# same plan with the 100,000 numbers in an opt-out list of the project file instead.
# Prints wall time and peak RSS of each step (GNU time: `/usr/bin/time -f '%e %M'`).
#
# Usage: bench/optout.sh [ROWS [OPTOUTS]]   (defaults 1000000 and 100000; builds release)
# Needs python3 and GNU time (Debian: `apt-get install -y time`).
set -euo pipefail
rows=${1:-1000000}
optouts=${2:-100000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin campaignctl
bin="$root/target/release/campaignctl"

mkdir -p "$work/campaigns/data"
# The recipients, as bench/plan.sh writes them.
python3 - "$rows" "$work/campaigns/data/members.csv" <<'PY'
import sys
rows, path = int(sys.argv[1]), sys.argv[2]
cities = ["Bengaluru", "Pune", "Mumbai", "Chennai", "Delhi"]
with open(path, "w") as f:
    f.write("mobile,name,city,plan\n")
    for i in range(rows):
        f.write(f"91{9000000000 + i},Member {i},{cities[i % 5]},gold\n")
PY
# The opt-outs: spread evenly over the recipients (every rows/optouts-th one).
python3 - "$rows" "$optouts" "$work/optouts.csv" <<'PY'
import sys
rows, optouts, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
step = max(rows // optouts, 1)
with open(path, "w") as f:
    f.write("mobile,reason\n")
    for n in range(optouts):
        f.write(f"91{9000000000 + n * step},replied STOP\n")
PY
cat > "$work/campaigns/big.yaml" <<'YAML'
name: big-renewal
template: membership_renewal
language: en
tag: renewal
vars:
  offer: 20% off
params:
  - "{{ recipient.name }}"
  - "{{ recipient.city }}"
  - "{{ offer }}"
recipients:
  - file: data/members.csv
YAML

measure() { # LABEL COMMAND...: runs it in $work, prints wall time and peak RSS
  local label=$1
  shift
  (cd "$work" && /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/out")
  read -r secs kb < "$work/time"
  echo "$label: ${secs} s wall, peak RSS $((kb / 1024)) MB"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "rows: $rows recipients, $optouts opt-outs"
measure "optout import ($optouts numbers, SQLite ledger)" \
  "$bin" optout import optouts.csv --state state.db
tail -n 1 "$work/out"
for format in text json; do
  measure "plan --format $format ($rows rows, ledger opt-outs)" \
    "$bin" plan campaigns --now 2026-11-30T00:00:00Z --state state.db --format "$format"
done
grep -E '^Plan:' "$work/out" || python3 -c 'import json,sys; print("summary:", json.load(open(sys.argv[1]))["summary"])' "$work/out"

# The same numbers as an opt-out list of the project file, with no ledger.
printf 'suppressions:\n  - optouts.csv\n' > "$work/campaignctl.yaml"
measure "plan --format text ($rows rows, project file opt-outs)" \
  "$bin" plan campaigns --now 2026-11-30T00:00:00Z --state none.db --format text
grep -E '^Plan:' "$work/out"
