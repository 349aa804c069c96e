#!/usr/bin/env bash
# Benchmark: `plan` of one campaign with a 1,000,000-row CSV. The targets: it streams, finishes
# in under 3 s on 2 cores and stays under 200 MB resident. Prints wall time and peak RSS.
# Usage: bench/plan.sh [ROWS]   (default 1000000)
set -euo pipefail
rows=${1:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bin="$root/target/release/campaignctl"

mkdir -p "$work/campaigns/data"
python3 - "$rows" "$work/campaigns/data/members.csv" <<'PY'
import sys
rows, path = int(sys.argv[1]), sys.argv[2]
cities = ["Bengaluru", "Pune", "Mumbai", "Chennai", "Delhi"]
with open(path, "w") as f:
    f.write("mobile,name,city,plan\n")
    for i in range(rows):
        f.write(f"91{9000000000 + i},Member {i},{cities[i % 5]},gold\n")
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

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "rows: $rows ($(du -h "$work/campaigns/data/members.csv" | cut -f1) CSV)"
for format in text json; do
  # In the work directory: no project file there (the repository's own would apply).
  (cd "$work" && /usr/bin/time -f "%e %M" -o "$work/time" "$bin" plan campaigns --now 2026-11-30T00:00:00Z --format "$format" > "$work/out.$format")
  read -r secs kb < "$work/time"
  echo "plan --format $format: ${secs} s wall, peak RSS $((kb / 1024)) MB, output $(du -h "$work/out.$format" | cut -f1)"
done
