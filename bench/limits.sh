#!/usr/bin/env bash
# Benchmark of WhatsApp's rules at scale: `plan` of one campaign with a 1,000,000-row CSV
# whose recipients each get a send window on their own clock (timezone: recipient; one in
# ten has a `timezone` column of its own, the rest take their number's country's zone),
# against a frequency cap, over an SQLite ledger of 1,000,000 earlier marketing sends to
# the same numbers in the last six days (half of the recipients have two, so the cap holds
# them back). The target: under 5 s and 300 MB peak RSS. Prints wall time and peak RSS of
# each run (GNU time: `/usr/bin/time -f '%e %M'`) and the plan's summary.
#
# Usage: bench/limits.sh [ROWS]   (default 1000000; builds release)
# Knobs: KEEP=1 (keep the work directory), CARGO_TARGET_DIR=target
# Needs python3 (with sqlite3) and GNU time (Debian: `apt-get install -y time`).
set -euo pipefail
rows=${1:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
work=$(mktemp -d)
if [[ ${KEEP:-0} == 1 ]]; then
  echo "work directory kept: $work"
else
  trap 'rm -rf "$work"' EXIT
fi

cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin campaignctl
bin="$CARGO_TARGET_DIR/release/campaignctl"
now=2026-12-07T10:00:00+05:30

mkdir -p "$work/campaigns/data"
python3 - "$rows" "$work/campaigns/data/members.csv" <<'PY'
import sys
rows, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("mobile,name,timezone\n")
    for i in range(rows):
        zone = "America/New_York" if i % 10 == 0 else ""
        f.write(f"91{9000000000 + i},Member {i},{zone}\n")
PY
cat > "$work/campaignctl.yaml" <<'YAML'
templates:
  - {name: membership_offer, languages: [en], category: marketing, params: 2}
limits:
  per_recipient:
    - {max: 2, per: 7d, category: marketing}
window:
  hours: "09:00-20:00"
  days: MON-SAT
YAML
cat > "$work/campaigns/offer.yaml" <<'YAML'
name: offer
template: membership_offer
language: en
params:
  - "{{ recipient.name }}"
  - 20% off
recipients:
  - file: data/members.csv
YAML

# The ledger: made by campaignctl (its schema), then filled with earlier sends.
(cd "$work" && "$bin" optout add 919999999999 --state state.db > /dev/null)
python3 - "$rows" "$work/state.db" "$now" <<'PY'
import datetime, sqlite3, sys
rows, path, now = int(sys.argv[1]), sys.argv[2], sys.argv[3]
now = datetime.datetime.fromisoformat(now).astimezone(datetime.timezone.utc)
db = sqlite3.connect(path)
def sends():
    # Every recipient once, over the last six days; the even ones a second time: two
    # marketing messages in the week, which the cap of two holds against a third.
    n = 0
    for i in range(rows):
        for k in ((0, 1) if i % 2 == 0 else (0,)):
            if n >= rows:
                return
            n += 1
            at = now - datetime.timedelta(seconds=(i * 7 + k * 3600) % (6 * 86400))
            stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            mobile = f"91{9000000000 + i}"
            campaign = f"earlier-{k}"
            key = f"{campaign}/once/{mobile}"
            yield (key, campaign, "campaigns/earlier.yaml", "once", mobile, "single",
                   "{}", "h", "sent", 1, 200, "{}", None, stamp, stamp, "marketing")
db.executemany(
    "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request,"
    " request_hash, status, attempts, http_status, response, error, created_at, updated_at,"
    " category) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    sends(),
)
db.commit()
print("ledger:", db.execute("SELECT count(*) FROM sends").fetchone()[0], "earlier sends")
PY

measure() { # LABEL COMMAND...: runs it in $work, prints wall time and peak RSS
  local label=$1
  shift
  (cd "$work" && /usr/bin/time -f "%e %M" -o "$work/time" "$@" > "$work/out")
  read -r secs kb < "$work/time"
  echo "$label: ${secs} s wall, peak RSS $((kb / 1024)) MB"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rows: $rows recipients, window in their zones, a cap of 2 marketing messages per 7d"
for format in text json; do
  measure "plan --format $format" \
    "$bin" plan campaigns --now "$now" --state state.db --format "$format"
done
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print("summary:", s["by_state"], "due:", s["due"])' "$work/out"
