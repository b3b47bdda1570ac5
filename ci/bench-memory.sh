#!/usr/bin/env bash
# Memory benchmark of a refresh (issue #16): ci/bench-memory.sh [BINARY]
#
# For each feed below, starts calendarbot (the given binary, else a build of BENCH_PROFILE,
# default `pi`: the build that ships) against a loopback HTTP feed server (127.0.0.1 only),
# waits for the first load, and prints:
#   peak   - VmHWM after the first load (the refresh's peak; MemoryHigh=48M is the goal)
#   steady - VmRSS 2 s after the load
#   cpu    - utime+stime of the process at the end of the first load (/proc/PID/stat)
#   first  - restart from the store: SIGTERM, start again on the same data directory, time
#            until /api/whats-next gives the same answer it gave before the restart
#            (data_age_s aside: it matches only once the restarted process has refreshed)
# Feeds (generated into a temp dir, anchored on today):
#   3k, 10k, 30k, 50k - tools/gen_large_ics.py --events N (50k is near the 50 MB fetch cap)
#   one-uid           - one daily series and 49,999 overrides of it (RECURRENCE-ID), one UID
#   small-60k         - 60,000 small one-off events (the 50,000-event bound applies)
#   attendees-100k    - one event with 100,000 ATTENDEE lines
#   stream-49m        - the 50k feed sent without Content-Length (chunked, then close)
# Bounded: each wait gives up after BENCH_WAIT seconds (default 300). BENCH_FEEDS selects
# feeds (space-separated names). MALLOC_ARENA_MAX=2 as in the systemd unit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
command -v curl >/dev/null || { echo "bench-memory: curl is missing" >&2; exit 2; }
WAIT=${BENCH_WAIT:-300}
FEEDS=${BENCH_FEEDS:-"3k 10k 30k 50k one-uid small-60k attendees-100k stream-49m"}

if [ $# -ge 1 ]; then
    BIN=$(realpath "$1")
else
    PROFILE=${BENCH_PROFILE:-pi}
    cargo build --profile "$PROFILE" --quiet --bin calendarbot
    BIN=$ROOT/target/$PROFILE/calendarbot
fi

W=$(mktemp -d)
BOT=""
SRV=""
cleanup() {
    [ -n "$BOT" ] && kill "$BOT" 2>/dev/null
    [ -n "$SRV" ] && kill "$SRV" 2>/dev/null
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
export MALLOC_ARENA_MAX=2
TODAY=$(date -u +%F)

gen() { python3 tools/gen_large_ics.py "$W/$1.ics" --anchor "$TODAY" --events "$2" >/dev/null; }
python3 - "$W" "$TODAY" <<'EOF'
import sys
from datetime import date, timedelta
w, today = sys.argv[1], date.fromisoformat(sys.argv[2])
head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"
def stamp(d, h=9):
    return d.strftime("%Y%m%d") + f"T{h:02d}0000Z"
# one-uid: a daily series from 50,000 days ago and 49,999 overrides of it, one UID.
start = today - timedelta(days=50000)
with open(f"{w}/one-uid.ics", "w", newline="") as f:
    f.write(head)
    f.write("BEGIN:VEVENT\r\nUID:one@bench\r\nSUMMARY:Weekly\r\n"
            f"DTSTART:{stamp(start)}\r\nDTEND:{stamp(start, 10)}\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n")
    for i in range(1, 50000):
        d = start + timedelta(days=i)
        f.write(f"BEGIN:VEVENT\r\nUID:one@bench\r\nRECURRENCE-ID:{stamp(d)}\r\n"
                f"SUMMARY:Moved {i}\r\nDTSTART:{stamp(d, 11)}\r\nDTEND:{stamp(d, 12)}\r\n"
                "END:VEVENT\r\n")
    f.write("END:VCALENDAR\r\n")
# small-60k: 60,000 tiny one-off events around today.
with open(f"{w}/small-60k.ics", "w", newline="") as f:
    f.write(head)
    for i in range(60000):
        d = today + timedelta(days=i % 400 - 200)
        f.write(f"BEGIN:VEVENT\r\nUID:s{i}\r\nSUMMARY:E{i}\r\nDTSTART:{stamp(d, 8 + i % 9)}\r\n"
                "END:VEVENT\r\n")
    f.write("END:VCALENDAR\r\n")
# attendees-100k: one meeting tomorrow with 100,000 attendees.
with open(f"{w}/attendees-100k.ics", "w", newline="") as f:
    f.write(head)
    f.write(f"BEGIN:VEVENT\r\nUID:big@bench\r\nSUMMARY:All hands\r\nDTSTART:{stamp(today + timedelta(days=1))}\r\n"
            f"DTEND:{stamp(today + timedelta(days=1), 10)}\r\n")
    for i in range(100000):
        f.write(f"ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=User {i}:mailto:user{i}@example.com\r\n")
    f.write("END:VEVENT\r\nEND:VCALENDAR\r\n")
EOF
for f in $FEEDS; do
    case $f in
        3k) gen 3k 3000 ;; 10k) gen 10k 10000 ;; 30k) gen 30k 30000 ;;
        50k|stream-49m) [ -f "$W/50k.ics" ] || gen 50k 50000 ;;
    esac
done
[ -f "$W/50k.ics" ] && ln -sf "$W/50k.ics" "$W/stream-49m.ics"

# The feed server: /NAME.ics with Content-Length; /stream-*.ics chunked, without a length.
python3 - "$W" >"$W/server.log" 2>&1 <<'EOF' &
import http.server, os, sys
root = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        path = os.path.join(root, os.path.basename(self.path))
        try:
            data = open(path, "rb").read()
        except OSError:
            self.send_error(404); return
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        if os.path.basename(path).startswith("stream-"):
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 65536):
                c = data[i:i + 65536]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(os.path.join(root, "port"), "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
SRV=$!
for _ in $(seq 1 100); do [ -s "$W/port" ] && break; sleep 0.05; done
FPORT=$(cat "$W/port")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
cpu_ms() {
    # utime + stime (fields 14, 15 of /proc/PID/stat, after the command name) in ms.
    local tck; tck=$(getconf CLK_TCK)
    sed 's/.*) //' "/proc/$1/stat" | awk -v t="$tck" '{printf "%d", ($12 + $13) * 1000 / t}'
}
now_ms() { date +%s%3N; }

start_bot() { # start_bot FEED DATA PORT
    env CALENDARBOT_ICS_URL="http://127.0.0.1:$FPORT/$1.ics" CALENDARBOT_DATA_DIR="$2" \
        CALENDARBOT_WEB_PORT="$3" CALENDARBOT_LOG_LEVEL=warn CALENDARBOT_REFRESH_INTERVAL=3600 \
        "$BIN" serve >>"$2/log" 2>&1 &
    BOT=$!
}

printf '%-16s %10s %12s %10s %10s %9s %s\n' feed bytes peak_MiB steady_MiB cpu_ms first_ms occurrences
for f in $FEEDS; do
    data="$W/data-$f"; mkdir -p "$data"
    port=$(free_port)
    start_bot "$f" "$data" "$port"
    ok=""
    for _ in $(seq 1 $((WAIT * 10))); do
        if curl -sf "http://127.0.0.1:$port/api/health" 2>/dev/null \
            | grep -q '"initial_refresh_complete":true'; then ok=1; break; fi
        kill -0 "$BOT" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$ok" ]; then
        printf '%-16s did not load (exit or timeout); log tail:\n' "$f"; tail -3 "$data/log"
        kill "$BOT" 2>/dev/null || true; wait "$BOT" 2>/dev/null || true; BOT=""; continue
    fi
    cpu=$(cpu_ms "$BOT")
    events=$(curl -sf "http://127.0.0.1:$port/api/health" | python3 -c \
        'import json,sys; print(json.load(sys.stdin)["data_status"]["event_count"])' 2>/dev/null || echo "?")
    sleep 2
    peak=$(status_kib "$BOT" VmHWM); steady=$(status_kib "$BOT" VmRSS)
    curl -sf "http://127.0.0.1:$port/api/whats-next" | sed 's/"generated_at":"[^"]*"//; s/"seconds_until[a-z_]*":[0-9-]*//g; s/"data_age_s":[0-9-]*//' >"$W/before.json"
    kill "$BOT"; wait "$BOT" 2>/dev/null || true; BOT=""
    t0=$(now_ms)
    start_bot "$f" "$data" "$port"
    first="timeout"
    while [ $(( $(now_ms) - t0 )) -lt $((WAIT * 1000)) ]; do
        if curl -sf "http://127.0.0.1:$port/api/whats-next" 2>/dev/null \
            | sed 's/"generated_at":"[^"]*"//; s/"seconds_until[a-z_]*":[0-9-]*//g; s/"data_age_s":[0-9-]*//' >"$W/after.json" \
            && cmp -s "$W/before.json" "$W/after.json"; then
            first=$(( $(now_ms) - t0 )); break
        fi
        kill -0 "$BOT" 2>/dev/null || { first="exited"; break; }
        sleep 0.005
    done
    kill "$BOT" 2>/dev/null || true; wait "$BOT" 2>/dev/null || true; BOT=""
    printf '%-16s %10s %12s %10s %10s %9s %s\n' "$f" "$(stat -L -c %s "$W/$f.ics")" \
        "$(awk -v k="$peak" 'BEGIN {printf "%.1f", k / 1024}')" \
        "$(awk -v k="$steady" 'BEGIN {printf "%.1f", k / 1024}')" "$cpu" "$first" "$events"
    if grep -q 'memory allocation' "$data/log"; then echo "  $f: allocation failure in the log"; fi
    rm -rf "$data"
done
