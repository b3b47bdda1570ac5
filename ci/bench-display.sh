#!/usr/bin/env bash
# Benchmark of `calendarbot display` on this machine, 127.0.0.1 only, bounded in time. Not part
# of the test suite; the method and the latest figures are in docs/display.md.
#
# It starts the server (one meeting, "now" fixed) and, for each panel (480x800 at 16 bpp, the
# kiosk's SPI/DSI size, and 1920x1080 at 32 bpp, a full-HD HDMI screen), the display drawing
# into a file standing in for the framebuffer:
#   1. real time, BENCH_SECONDS frames (one a second, as on the Pi): the CPU time of all the
#      process's threads (/proc/PID/task/*/schedstat, nanoseconds; /proc/PID/stat counts in
#      10 ms ticks, too coarse for a few ms a second) divided by the seconds = CPU per
#      one-second redraw, including its polls and heartbeats; VmRSS and VmHWM
#      (/proc/PID/status) near the end, split into anonymous (heap) and file-backed (the
#      binary's code) pages, the proportional set size (Pss: shared pages divided among the
#      processes mapping them, /proc/PID/smaps_rollup) and the thread count;
#   2. virtual time (--at, BENCH_FRAMES frames back to back): the median and p99 of the
#      per-frame time the display itself reports (--stats render_us: layout, drawing,
#      conversion to the panel's format and the writes of the changed rows).
#
# usage: ci/bench-display.sh [BINARY]   (default: target/release/calendarbot, built if missing)
# knobs: BENCH_SECONDS (default 20), BENCH_FRAMES (default 300), BENCH_MMAP=1 (write the file
#        through a shared mapping, as a device is: --fb-mmap)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECS=${BENCH_SECONDS:-20}
FRAMES=${BENCH_FRAMES:-300}
bin=${1:-target/release/calendarbot}
if [ ! -x "$bin" ]; then
    cargo build --release --locked >&2
fi
work=$(mktemp -d)
spid=
cleanup() {
    [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/feed.ics" <<'ICS'
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//bench//display//EN
BEGIN:VEVENT
UID:standup@bench
DTSTART:20251105T160000Z
DTEND:20251105T163000Z
SUMMARY:Team standup
LOCATION:Room 4
END:VEVENT
END:VCALENDAR
ICS
: >"$work/config.toml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export CALENDARBOT_CONFIG=$work/config.toml
CALENDARBOT_WEB_PORT=$port CALENDARBOT_DATA_DIR=$work/data CALENDARBOT_TEST_TIME=2025-11-05T15:36:00Z \
    CALENDARBOT_ICS_URL=file://$work/feed.ics "$bin" serve >"$work/server.log" 2>&1 &
spid=$!
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/api/health" 2>/dev/null | grep -Eq '"initial_refresh_complete": *true' && break
    sleep 0.1
done
mmap=()
[ "${BENCH_MMAP:-0}" = 1 ] && mmap=(--fb-mmap)
kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$2/status"; }
# CPU nanoseconds of every thread of PID.
cpu_ns() { cat "/proc/$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%d", s }'; }

printf '%-14s %9s %8s %8s %8s %8s %8s %7s %10s %8s %10s\n' panel cpu_ms/s rss_kib hwm_kib anon_kib file_kib pss_kib threads median_us p99_us rows/frame
for geom in 480x800x16 1920x1080x32; do
    fb=$work/fb-$geom
    rm -f "$fb"
    MALLOC_ARENA_MAX=1 "$bin" display --server "http://127.0.0.1:$port" --device "$fb" \
        --fb-geometry "$geom" "${mmap[@]}" --frames "$SECS" >/dev/null 2>"$work/display.log" &
    dpid=$!
    sleep 3
    t0=$(cpu_ns $dpid) w0=$(date +%s%N)
    sleep $((SECS - 5))
    t1=$(cpu_ns $dpid) w1=$(date +%s%N)
    rss=$(kb VmRSS $dpid) hwm=$(kb VmHWM $dpid) anon=$(kb RssAnon $dpid) file=$(kb RssFile $dpid)
    threads=$(kb Threads $dpid)
    pss=$(awk '$1 == "Pss:" { print $2 }' "/proc/$dpid/smaps_rollup")
    wait "$dpid"
    cpu_ms=$(awk -v a="$t0" -v b="$t1" -v w0="$w0" -v w1="$w1" 'BEGIN { printf "%.3f", (b - a) / 1e6 / ((w1 - w0) / 1e9) }')
    stats=$("$bin" display --server "http://127.0.0.1:$port" --device "$fb" --fb-geometry "$geom" \
        "${mmap[@]}" --at 2025-11-05T15:36:00Z --frames "$FRAMES" --stats 2>/dev/null)
    frames=$(printf '%s\n' "$stats" | grep '^frame=' | tail -n +2)
    n=$(printf '%s\n' "$frames" | wc -l)
    sorted=$(printf '%s\n' "$frames" | sed 's/.*render_us=\([0-9]*\).*/\1/' | sort -n)
    med=$(printf '%s\n' "$sorted" | sed -n "$((n / 2 + 1))p")
    p99=$(printf '%s\n' "$sorted" | sed -n "$((n * 99 / 100 + 1))p")
    rows=$(printf '%s\n' "$frames" | sed 's/.*written=\([0-9]*\).*/\1/' | awk '{ s += $1 } END { printf "%.0f", s / NR }')
    printf '%-14s %9s %8s %8s %8s %8s %8s %7s %10s %8s %10s\n' "$geom" "$cpu_ms" "$rss" "$hwm" "$anon" "$file" "$pss" "$threads" "$med" "$p99" "$rows"
done
