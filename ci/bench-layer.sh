#!/usr/bin/env bash
# Benchmark of the optimisation layer (SPEC §7), measured side by side in one run, on
# 127.0.0.1 only, with bounded durations. Not part of the test suite (.ci/run does not call
# it); the method and the latest figures are in docs/performance.md.
#
# What it runs, all built with one profile (BENCH_PROFILE), all fed the 2.9 MB benchmark feed
# (tools/gen_large_ics.py, default size, anchored on today so its meetings are current):
#   bare  - examples/bare_server.rs: hyper answering every request with the same bytes
#   on    - calendarbot, optimisation layer on (defaults)
#   off   - calendarbot, CALENDARBOT_OPTIMIZATION__ENABLED=false (plain path everywhere)
# and measures:
#   1. /api/whats-next throughput and p99 (wrk) of bare, on, off  -> on/bare, on/off, p99 ratio
#   2. p99 of /api/whats-next (on) while a changed feed is re-parsed (gen --rev every few s)
#   3. VmRSS steady and VmHWM during the refreshes (/proc/PID/status)
#   4. cache hit rate on the kiosk's polling pattern (3 pollers + heartbeats, time-compressed)
#
# Knobs: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 16), BENCH_THREADS (1),
# BENCH_PROFILE (cargo profile, default `pi`: the build that ships, opt-level s + fat LTO;
# `release` is opt-level 3 + thin LTO). Memory is printed split into anonymous memory (the
# heap: what the calendar costs) and file-backed pages (the binary's code, which depends on
# the profile and which the kernel can drop under pressure).
set -euo pipefail

DUR=${BENCH_DURATION:-10}
CONN=${BENCH_CONNECTIONS:-16}
THREADS=${BENCH_THREADS:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

command -v wrk >/dev/null || { echo "bench-layer: wrk is missing (apt-get install wrk)" >&2; exit 2; }
command -v curl >/dev/null || { echo "bench-layer: curl is missing" >&2; exit 2; }

PROFILE=${BENCH_PROFILE:-pi}
cargo build --profile "$PROFILE" --quiet --bin calendarbot --example bare_server
OUT=$ROOT/target/$PROFILE
BIN=$OUT/calendarbot
BARE=$OUT/examples/bare_server

W=$(mktemp -d)
PIDS=()
cleanup() {
    # start_bot runs in $(...) subshells, so its servers are known by their pid files.
    for p in "${PIDS[@]}" $(cat "$W"/*.pid 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT

# The allocator setting the systemd unit uses (fewer malloc arenas, less RSS).
export MALLOC_ARENA_MAX=2
TODAY=$(date -u +%F)
python3 tools/gen_large_ics.py "$W/feed.ics" --anchor "$TODAY"
cp "$W/feed.ics" "$W/feed-refresh.ics"
echo "feed: $(stat -c %s "$W/feed.ics") bytes, anchor $TODAY"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_bot NAME FEED [ENV=VALUE...]: start calendarbot, print its port; pid in $W/NAME.pid
start_bot() {
    local name=$1 feed=$2; shift 2
    local port; port=$(free_port)
    mkdir -p "$W/$name"
    env CALENDARBOT_ICS_URL="file://$feed" CALENDARBOT_DATA_DIR="$W/$name" \
        CALENDARBOT_WEB_PORT="$port" CALENDARBOT_LOG_LEVEL=warn \
        CALENDARBOT_REFRESH_INTERVAL=10 "$@" \
        "$BIN" serve >"$W/$name.log" 2>&1 &
    echo $! >"$W/$name.pid"
    PIDS+=("$!")
    # Ready when the first refresh is done (the feed parsed and stored).
    for _ in $(seq 1 600); do
        if curl -sf "http://127.0.0.1:$port/api/health" 2>/dev/null | grep -q '"initial_refresh_complete":true'; then
            echo "$port"; return 0
        fi
        sleep 0.2
    done
    echo "bench-layer: $name did not become ready; log:" >&2; cat "$W/$name.log" >&2; exit 1
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
split_kib() { awk '/^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {printf "anon %.1f MiB + file %.1f MiB", a/1024, f/1024}' "/proc/$1/status"; }

# run_wrk URL -> "req_per_sec p99_ms"
run_wrk() {
    local out; out=$(wrk -t"$THREADS" -c"$CONN" -d"${2:-$DUR}"s --latency "$1")
    echo "$out" >>"$W/wrk.log"
    local rps p99
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' <<<"$out")
    echo "$rps $p99"
}

PORT_ON=$(start_bot on "$W/feed.ics")
PID_ON=$(cat "$W/on.pid")
PORT_OFF=$(start_bot off "$W/feed.ics" CALENDARBOT_OPTIMIZATION__ENABLED=false)
curl -sf "http://127.0.0.1:$PORT_ON/api/whats-next" >"$W/body.json"
"$BARE" "$W/body.json" "$W/bare.port" &
PIDS+=("$!")
for _ in $(seq 1 50); do [ -s "$W/bare.port" ] && break; sleep 0.1; done
PORT_BARE=$(cat "$W/bare.port")
echo "whats-next body: $(stat -c %s "$W/body.json") bytes; header: $(curl -si "http://127.0.0.1:$PORT_ON/api/whats-next" | tr -d '\r' | grep -i '^x-calendarbot-path' || true)"
sleep 1
RSS_ON_START=$(rss_kib "$PID_ON")

echo "== 1. /api/whats-next, $DUR s each, $CONN connections"
read -r RPS_BARE P99_BARE < <(run_wrk "http://127.0.0.1:$PORT_BARE/api/whats-next")
read -r RPS_ON P99_ON < <(run_wrk "http://127.0.0.1:$PORT_ON/api/whats-next")
read -r RPS_OFF P99_OFF < <(run_wrk "http://127.0.0.1:$PORT_OFF/api/whats-next")
sleep 2
RSS_ON_STEADY=$(rss_kib "$PID_ON")
SPLIT_ON_STEADY=$(split_kib "$PID_ON")
HWM_ON=$(hwm_kib "$PID_ON")

echo "== 2. /api/whats-next while a changed feed is re-parsed"
PORT_R=$(start_bot refresh "$W/feed-refresh.ics")
PID_R=$(cat "$W/refresh.pid")
sleep 2
RSS_R_BEFORE=$(rss_kib "$PID_R")
V0=$(curl -sf "http://127.0.0.1:$PORT_R/api/status/optimization" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cache"]["invalidations"])')
RDUR=$((DUR * 3 < 25 ? 25 : DUR * 3))
(
    # A new revision every 4 s; the service refreshes every 10 s, so each refresh re-parses.
    i=1; end=$((SECONDS + RDUR))
    while [ $SECONDS -lt $end ]; do
        python3 tools/gen_large_ics.py "$W/feed-next.ics" --anchor "$TODAY" --rev "$i"
        mv "$W/feed-next.ics" "$W/feed-refresh.ics"
        i=$((i + 1)); sleep 4
    done
) &
GEN=$!
PIDS+=("$GEN")
(
    max=0; end=$((SECONDS + RDUR))
    while [ $SECONDS -lt $end ]; do
        r=$(rss_kib "$PID_R"); [ "$r" -gt "$max" ] && max=$r
        sleep 0.1
    done
    echo "$max" >"$W/rss-max"
) &
SAMPLER=$!
read -r RPS_R P99_R < <(run_wrk "http://127.0.0.1:$PORT_R/api/whats-next" "$RDUR")
wait "$SAMPLER" || true
wait "$GEN" 2>/dev/null || true
V1=$(curl -sf "http://127.0.0.1:$PORT_R/api/status/optimization" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cache"]["invalidations"])')
RSS_R_MAX=$(cat "$W/rss-max")
HWM_R=$(hwm_kib "$PID_R")
sleep 3
RSS_R_AFTER=$(rss_kib "$PID_R")

echo "== 3. kiosk polling pattern"
PORT_K=$(start_bot kiosk "$W/feed.ics")
KIOSK=$(python3 - "$PORT_K" <<'PY'
import json, sys, threading, time, urllib.request
port = sys.argv[1]
base = f"http://127.0.0.1:{port}"
def get(path):
    with urllib.request.urlopen(base + path, timeout=5) as r:
        return r.read()
def post(path):
    req = urllib.request.Request(base + path, data=b"{}", method="POST",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.read()
# The kiosk page polls whats-next every 60 s and posts a heartbeat every 30 s; a framebuffer
# UI and a kiosk watchdog script poll whats-next too. Time is compressed 60x: 1 s per poll.
stop = time.time() + 30
def poller(period, fn):
    while time.time() < stop:
        fn(); time.sleep(period)
threads = [threading.Thread(target=poller, args=(1.0, lambda: get("/api/whats-next"))) for _ in range(3)]
threads.append(threading.Thread(target=poller, args=(0.5, lambda: post("/api/browser-heartbeat"))))
for t in threads: t.start()
for t in threads: t.join()
rep = json.loads(get("/api/status/optimization"))
wn = [r for r in rep["requests"] if r["route"] == "whats-next"]
total = sum(r["count"] for r in wn)
hits = sum(r["count"] for r in wn if r["path"] == "optimized/hit")
print(f"{hits} {total} {rep['batcher']['batches'] if rep['batcher'] else 0} {rep['batcher']['submitted'] if rep['batcher'] else 0}")
PY
)
read -r K_HITS K_TOTAL K_BATCHES K_WRITES <<<"$KIOSK"

ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else 'n/a')" "$1" "$2"; }
mib() { python3 -c "import sys; print(f'{int(sys.argv[1])/1024:.1f}')" "$1"; }
check() { if python3 -c "import sys; sys.exit(0 if $1 else 1)"; then echo ok; else echo MISS; fi; }

HIT=$(python3 -c "print(f'{$K_HITS/$K_TOTAL*100:.1f}' if $K_TOTAL else '0')")
cat <<EOF

== Results ($(date -u +%FT%TZ), $(nproc) cores, profile $PROFILE ($(stat -c %s "$BIN") B), wrk -t$THREADS -c$CONN, MALLOC_ARENA_MAX=2)
whats-next throughput req/s   bare $RPS_BARE   on $RPS_ON   off $RPS_OFF
  on / bare                   $(ratio "$RPS_ON" "$RPS_BARE")   (target >= 0.70: $(check "$RPS_ON >= 0.7 * $RPS_BARE"))
  on / off                    $(ratio "$RPS_ON" "$RPS_OFF")
whats-next p99 ms             bare $P99_BARE   on $P99_ON   off $P99_OFF
  on / bare                   $(ratio "$P99_ON" "$P99_BARE")   (target <= 1.5: $(check "$P99_ON <= 1.5 * $P99_BARE"))
during re-parse ($RDUR s, $((V1 - V0)) new snapshots)  p99 ${P99_R} ms (target <= 10: $(check "$P99_R <= 10")), $RPS_R req/s
memory (on)                   start $(mib "$RSS_ON_START") MiB, steady after load $(mib "$RSS_ON_STEADY") MiB (target <= 15: $(check "$RSS_ON_STEADY <= 15*1024")) = $SPLIT_ON_STEADY, peak $(mib "$HWM_ON") MiB
memory (refresh)              before $(mib "$RSS_R_BEFORE") MiB, max sampled $(mib "$RSS_R_MAX") MiB, VmHWM $(mib "$HWM_R") MiB (target <= 64: $(check "$HWM_R <= 64*1024")), after $(mib "$RSS_R_AFTER") MiB
kiosk pattern                 whats-next hit rate $HIT % ($K_HITS / $K_TOTAL) (target > 95: $(check "$K_TOTAL > 0 and $K_HITS > 0.95 * $K_TOTAL")); $K_WRITES heartbeats in $K_BATCHES transactions
EOF
