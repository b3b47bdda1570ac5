#!/usr/bin/env bash
# The plain path's throughput (optimisation layer off: every request computes its answer) on
# the 2.9 MB benchmark feed, for two builds side by side in one run, on 127.0.0.1 only, bounded
# in time. Used to measure a change to the answers themselves (docs/performance.md).
#
# usage: ci/bench-plain.sh OLD_BINARY NEW_BINARY   (env: BENCH_DURATION s, default 10; ROUNDS, 2)
# Prints req/s of /api/whats-next and /api/alexa/next-meeting for each build and round, then
# new/old ratios of the medians.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OLD=$1 NEW=$2
DUR=${BENCH_DURATION:-10}
ROUNDS=${ROUNDS:-2}
command -v wrk >/dev/null || { echo "bench-plain: wrk is missing (apt-get install wrk)" >&2; exit 2; }

W=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
python3 "$ROOT/tools/gen_large_ics.py" "$W/feed.ics" --anchor "$(date -u +%F)" >/dev/null
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run BIN: start it plain, wait for the feed, print "whats_next_rps alexa_rps".
run() {
    local bin=$1 p
    p=$(port)
    rm -rf "$W/data"
    env -i PATH="$PATH" MALLOC_ARENA_MAX=2 CALENDARBOT_WEB_PORT="$p" CALENDARBOT_DATA_DIR="$W/data" \
        CALENDARBOT_ICS_URL="file://$W/feed.ics" CALENDARBOT_OPTIMIZATION__ENABLED=false \
        CALENDARBOT_ALEXA_BEARER_TOKEN=bench CALENDARBOT_LOG_LEVEL=warn "$bin" >/dev/null 2>&1 &
    PID=$!
    for _ in $(seq 1 300); do
        curl -fs "http://127.0.0.1:$p/api/health" 2>/dev/null | grep -q '"initial_refresh_complete":true' && break
        sleep 0.2
    done
    local a b
    a=$(wrk -t1 -c2 -d"${DUR}s" "http://127.0.0.1:$p/api/whats-next" | awk '/Requests\/sec/ {print $2}')
    b=$(wrk -t1 -c2 -d"${DUR}s" -H 'Authorization: Bearer bench' \
        "http://127.0.0.1:$p/api/alexa/next-meeting" | awk '/Requests\/sec/ {print $2}')
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
    echo "$a $b"
}

declare -a OW ON NW NN
for r in $(seq 1 "$ROUNDS"); do
    read -r a b < <(run "$OLD"); OW+=("$a"); ON+=("$b"); echo "round $r old: whats-next $a req/s, alexa next-meeting $b req/s"
    read -r a b < <(run "$NEW"); NW+=("$a"); NN+=("$b"); echo "round $r new: whats-next $a req/s, alexa next-meeting $b req/s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
ow=$(median "${OW[@]}") nw=$(median "${NW[@]}") on=$(median "${ON[@]}") nn=$(median "${NN[@]}")
echo "median whats-next: old $ow, new $nw req/s, new/old $(python3 -c "print(round($nw/$ow,1))")"
echo "median alexa next-meeting: old $on, new $nn req/s, new/old $(python3 -c "print(round($nn/$on,1))")"
