# Helpers shared by bench/rate.sh, bench/cost.sh and bench/kill.sh; sourced, not run.
#
# After `source bench/lib.sh` the working directory is the repository's root, and:
#   bench_machine                 prints nproc, the CPU model, memory, kernel, OS and load
#   bench_load                    prints the load average (in each result block too)
#   bench_build                   builds campaignctl and examples/mock_api in release mode;
#                                 sets BIN and MOCK
#   bench_workdir                 makes the temporary work directory WORK, with an empty project
#                                 file that CAMPAIGNCTL_CONFIG names
#   bench_campaign DIR ROWS       writes DIR/bench.yaml and its CSV of ROWS recipients
#   mock_start [DELAY_MS]         starts a fresh mock API on a free loopback port; sets
#                                 MOCK_PID and BASE (and exports CHITCHAT_BASE_URL)
#   mock_stop                     stops it
#   mock_stats FIELD...           prints the mock's counters, space-separated
#   sqlite_counts LEDGER          prints the ledger's rows by status, e.g. `sent=20000`
#   bench_cleanup                 stops the mock and removes WORK (unless KEEP=1); scripts
#                                 call it from their own EXIT trap
# Needs python3 (CSV generation, JSON, the sqlite3 module).

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
# The mock reads the key's presence only; apply refuses to start without one.
export CHITCHAT_API_KEY=${CHITCHAT_API_KEY:-bench-key}
# A ledger named in the environment would override nothing (each run passes --state), but
# it must not leak into a run by mistake.
unset CAMPAIGNCTL_STATE

WORK=
MOCK_PID=
BASE=

bench_machine() {
    echo "== machine"
    echo "nproc:  $(nproc)"
    echo "cpu:    $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "memory: $(awk '$1 == "MemTotal:" { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "kernel: $(uname -r)"
    echo "os:     $( (. /etc/os-release && echo "$PRETTY_NAME") 2>/dev/null || echo unknown)"
    bench_load
}

# Other processes share the 2 cores: the figures are only worth their load average.
bench_load() {
    echo "load:   $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min averages; above ~0.5 something else competes)"
}

bench_build() {
    echo "== build (release)"
    cargo build --release --quiet --bin campaignctl --example mock_api
    BIN=$CARGO_TARGET_DIR/release/campaignctl
    MOCK=$CARGO_TARGET_DIR/release/examples/mock_api
    echo "$("$BIN" --version) ($(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ', modified'))"
}

bench_workdir() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/campaignctl-bench.XXXXXX")
    bench_no_project "$WORK"
}

# An empty project file in DIR, named for every campaignctl run: the repository's own
# (with the bundled campaigns' template catalogue) must not apply to the benchmark's.
bench_no_project() { # DIR
    : >"$1/campaignctl.yaml"
    export CAMPAIGNCTL_CONFIG="$1/campaignctl.yaml"
}

# One campaign, one parameter (the name), ROWS recipients 919000000000, 919000000001, ...
bench_campaign() { # DIR ROWS
    mkdir -p "$1/data"
    python3 - "$1/data/recipients.csv" "$2" <<'PY'
import sys
path, rows = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("mobile,name\n")
    for i in range(rows):
        f.write(f"{919000000000 + i},Member {i}\n")
PY
    cat >"$1/bench.yaml" <<'YAML'
name: bench
template: bench_template
language: en
tag: bench
params:
  - "{{ recipient.name }}"
recipients:
  - file: data/recipients.csv
YAML
}

# A fresh mock per measurement, so its counters (first and last arrival, maximum pending)
# belong to that measurement alone.
mock_start() { # [DELAY_MS]
    mock_stop
    # Port 0: the mock binds a free port itself (no race with another process for it) and
    # says which in its first line.
    "$MOCK" 0 --delay-ms "${1:-0}" >"$WORK/mock.out" 2>>"$WORK/mock.err" &
    MOCK_PID=$!
    for _ in $(seq 300); do
        grep -q '^listening on' "$WORK/mock.out" 2>/dev/null && break
        kill -0 "$MOCK_PID" 2>/dev/null || break
        sleep 0.05
    done
    if ! grep -q '^listening on' "$WORK/mock.out"; then
        echo "mock API did not start:" >&2
        cat "$WORK/mock.out" "$WORK/mock.err" >&2
        exit 1
    fi
    BASE=$(sed -n 's/^listening on //p' "$WORK/mock.out")
    export CHITCHAT_BASE_URL=$BASE
}

mock_stop() {
    if [[ -n $MOCK_PID ]]; then
        kill "$MOCK_PID" 2>/dev/null || true
        wait "$MOCK_PID" 2>/dev/null || true
        MOCK_PID=
    fi
}

# The fields of GET /__mock/stats, in the order asked: requests delivered pending
# max_pending first_ms last_ms.
mock_stats() { # FIELD...
    python3 - "$BASE" "$@" <<'PY'
import json, sys, urllib.request
stats = json.load(urllib.request.urlopen(sys.argv[1] + "/__mock/stats"))
print(*(stats[field] for field in sys.argv[2:]))
PY
}

sqlite_counts() { # LEDGER
    python3 - "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT status, count(*) FROM sends GROUP BY status ORDER BY status")
print(",".join(f"{status}={n}" for status, n in rows))
PY
}

bench_cleanup() {
    mock_stop
    if [[ -z $WORK ]]; then
        return
    fi
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}
