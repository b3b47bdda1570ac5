#!/usr/bin/env bash
# Emulated boot test of the appliance: the aarch64 binary and overlays/ laid into an arm64
# Debian bookworm root by the same code as the release image (image/lay-overlay.sh), booted with
# qemu-system-aarch64 -M virt -cpu cortex-a53 -m 512 -smp 4 (the Zero 2W's CPU and RAM). An
# in-guest check unit (ci/boottest/) records what it sees and powers off; the report is read back
# from the disk image with debugfs. Checks (each PASS/FAIL below), each able to fail:
#   the unit runs as a Type=notify service and systemd saw READY=1 (boot-to-READY time), with
#   NRestarts=0 before the watchdog scenario; /api/health answers 200 with "status":"ok"; no
#   oom_kill in the unit's memory.events; the cgroup memory.max is the unit's MemoryMax; the
#   journal holds lines the service itself wrote (SYSLOG_IDENTIFIER=calendarbot) with their
#   structured fields, and journald's effective Storage= is volatile; the benchmark feed
#   (file:// feed, tools/gen_large_ics.py) is loaded: the guest's event count matches a host run
#   of the same binary on the same feed (qemu-user) and the source has no failures; RSS with
#   that feed stays under MemoryHigh; a SIGSTOP'd service is restarted by the watchdog and
#   answers 200 again; the display unit draws the expected meeting (QEMU's screendump against
#   the host's `display --snapshot`).
#
# usage: ci/boot-test.sh [BINARY]    (default: target/aarch64-unknown-linux-gnu/release/calendarbot)
# env:   CALENDARBOT_BOOTTEST_CACHE  debootstrap cache (default /var/cache/calendarbot-boottest)
#        CALENDARBOT_BOOTTEST_WORK   scratch dir (default target/boot-test)
# Needs root (debootstrap, a root-owned tree for mke2fs -d). Takes about 5 min with a warm cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=ci/lib.sh
source "$here/lib.sh"

bin=${1:-$repo/target/$CALENDARBOT_TARGET/release/calendarbot}
[ -f "$bin" ] || die "no binary $bin (run ci/cross-build.sh first)"
work=${CALENDARBOT_BOOTTEST_WORK:-$repo/target/boot-test}
[ "$(id -u)" -eq 0 ] || die "the boot test needs root (debootstrap, mke2fs -d of a root-owned tree)"

t_total=$(date +%s)
ensure_boot_tools
rootfs=$("$here/boot-rootfs.sh")

rm -rf "$work"
mkdir -p "$work/extra/usr/local/sbin" "$work/extra/usr/share/calendarbot-boottest" \
    "$work/extra/etc/systemd/system/multi-user.target.wants" \
    "$work/extra/etc/systemd/system/calendarbot.service.d"
cp "$here/boottest/calendarbot-bootcheck" "$work/extra/usr/local/sbin/"
cp "$here/boottest/calendarbot-bootcheck-display" "$work/extra/usr/local/sbin/"
cp "$here/boottest/calendarbot-bootcheck.service" "$work/extra/etc/systemd/system/"
ln -s /etc/systemd/system/calendarbot-bootcheck.service \
    "$work/extra/etc/systemd/system/multi-user.target.wants/calendarbot-bootcheck.service"
cp "$here/boottest/boottest.conf" "$work/extra/etc/systemd/system/calendarbot.service.d/"
# Raspberry Pi OS ships ca-certificates; the minbase guest does not, and the service's HTTP
# client (rustls platform verifier) refuses to start without a CA store. Lay in the host's
# bundle (arch-independent PEM) when the cached root lacks one.
if [ ! -e "$rootfs/etc/ssl/certs/ca-certificates.crt" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$work/extra/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$work/extra/etc/ssl/certs/"
fi
# The feed, anchored on today so its events fall into the expansion window: 10,000 events
# (9.5 MB) by default, served under the shipped MemoryHigh=48M / MemoryMax=64M (issue #16: it
# used to peak at 95 MiB); BOOT_FEED_EVENTS=3000 gives the 2.9 MB benchmark feed.
python3 "$repo/tools/gen_large_ics.py" "$work/extra/usr/share/calendarbot-boottest/bench.ics" \
    --anchor "$(date -u +%F)" --events "${BOOT_FEED_EVENTS:-10000}" >&2

log "root filesystem image"
t=$(date +%s)
img=$work/rootfs.ext4
mke2fs -q -F -t ext4 -d "$rootfs" -L rootfs "$img" 1500M
"$repo/image/lay-overlay.sh" "$img" "$bin" "$repo/overlays" "$work/extra"
cp -L "$rootfs/vmlinuz" "$work/vmlinuz"
cp -L "$rootfs/initrd.img" "$work/initrd.img"
log "image ready in $(($(date +%s) - t)) s"

log "booting qemu-system-aarch64 (virt, cortex-a53, 512 MB, 4 cpus)"
t=$(date +%s)
rc=0
monitor=$work/monitor.sock
: >"$work/console.log"
# The screendump: when the guest's check prints the marker, ask QEMU's monitor for the screen.
(
    for _ in $(seq 1200); do
        if grep -q CALENDARBOT-SCREENDUMP-NOW "$work/console.log" 2>/dev/null; then
            sleep 2
            date -u +%Y-%m-%dT%H:%M:%SZ >"$work/screendump_at"
            python3 - "$monitor" "$work/screen.ppm" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(f"screendump {sys.argv[2]}\n".encode())
time.sleep(3)
s.close()
PY
            exit 0
        fi
        sleep 1
    done
) &
shot_pid=$!
timeout 1200 qemu-system-aarch64 -M virt -cpu cortex-a53 -m 512 -smp 4 -accel tcg,thread=multi \
    -display none -monitor "unix:$monitor,server,nowait" -serial "file:$work/console.log" -no-reboot \
    -device virtio-gpu-pci,xres=480,yres=800 \
    -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
    -append "console=ttyAMA0 root=/dev/vda rw rootfstype=ext4 panic=-1" \
    -drive "file=$img,format=raw,if=virtio" -nic none || rc=$?
kill "$shot_pid" 2>/dev/null || true
wait "$shot_pid" 2>/dev/null || true
qemu_s=$(($(date +%s) - t))
log "qemu exited rc=$rc after $qemu_s s"

report=$work/report.txt
debugfs -R 'cat /var/lib/calendarbot-bootcheck/report.txt' "$img" >"$report" 2>/dev/null || true
debugfs -R 'cat /var/lib/calendarbot-bootcheck/report.txt' "$img" 2>/dev/null | sed 's/^/  /' >&2
[ -s "$report" ] || { tail -n 40 "$work/console.log" >&2; die "no report from the guest (console: $work/console.log)"; }

val() { sed -n "s/^$1=//p" "$report" | tail -n1; }
fails=0
check() { # check NAME CONDITION-RESULT DETAIL
    if [ "$2" = ok ]; then printf 'PASS  %-22s %s\n' "$1" "$3"; else printf 'FAIL  %-22s %s\n' "$1" "$3"; fails=$((fails + 1)); fi
}
is() { if [ "$1" = "$2" ]; then echo ok; else echo no; fi; }
mem_max=$(val unit_MemoryMax) mem_high=$(val unit_MemoryHigh) rss_kb=$(val rss_kb)
check "guest finished" "$(is "$(val 'done')" yes)" "qemu ${qemu_s}s, $(val boot_time)"
check "unit type notify" "$(is "$(val unit_Type)" notify)" "Type=$(val unit_Type)"
check "READY seen" "$(is "$(val ready_seen)" yes)" "ActiveState=$(val unit_ActiveState)/$(val unit_SubState) boot-to-READY=$(val boot_to_ready_ms) ms start-to-READY=$(val start_to_ready_ms) ms"
check "process running" "$(if [ "$(val process_running)" = yes ] && [ "$(val unit_NRestarts)" = 0 ] &&
    [ "$(val watchdog_before_nrestarts)" = 0 ]; then echo ok; else echo no; fi)" \
    "User=$(val unit_User) NRestarts=$(val unit_NRestarts) (before the watchdog scenario: $(val watchdog_before_nrestarts))"
check "health 200 ok" "$(case "$(val health_status_line)|$(val health_body)" in "HTTP/1.1 200"*'"status":"ok"'*) echo ok ;; *) echo no ;; esac)" "$(val health_status_line) $(val health_body | cut -c1-60)"
check "no OOM kill" "$(if [ "$(val cgroup_oom_kill)" = 0 ] && [ "$(val cgroup_oom_kill_before_watchdog)" = 0 ]; then echo ok; else echo no; fi)" "memory.events: $(val cgroup_oom_events); oom_kill before the watchdog scenario: $(val cgroup_oom_kill_before_watchdog)"
check "memory.max in force" "$(is "$(val cgroup_memory_max)" "$mem_max")" "memory.max=$(val cgroup_memory_max) memory.high=$(val cgroup_memory_high)"
jf=" $(val journal_fields) "
check "journal has lines" "$(if [ "$(val journal_own_lines)" -gt 0 ] 2>/dev/null && [[ $jf == *" TARGET "* ]] &&
    [[ $jf == *" F_SOURCE "* ]]; then echo ok; else echo no; fi)" \
    "$(val journal_own_lines) of $(val journal_lines) lines from the service itself; fields: $(val journal_fields)"
check "journal volatile" "$(if [ "$(val journal_storage)" = volatile ] && [ "$(val journal_volatile)" = yes ]; then echo ok; else echo no; fi)" "Storage=$(val journal_storage)"
check "watchdog restart" "$(is "$(val watchdog_restarted)" yes)" "after $(val watchdog_restart_after_ms) ms; NRestarts $(val watchdog_before_nrestarts)->$(val watchdog_after_nrestarts); $(val watchdog_journal)"
check "serving after restart" "$(case "$(val after_restart_health)" in "HTTP/1.1 200"*) echo ok ;; *) echo no ;; esac)" "$(val after_restart_state) $(val after_restart_health)"

# The screen: the host's snapshot of the same state (the same feed and "now", the aarch64 binary
# under qemu-user, UTC as in the guest), at the screendump time, 1 s and 61 s later (the rows
# that differ between them are the ticking digits, masked in the comparison).
# The host's own run of the same binary on the same feed (qemu-user, "now" = the screendump
# time or else now, UTC as in the guest): the expected event count for "feed loaded", and the
# snapshots the screen is compared with.
at=$(cat "$work/screendump_at" 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)
sdata=$work/host-server
: >"$work/empty.toml"
rm -rf "$sdata" && mkdir -p "$sdata"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CALENDARBOT_WEB_PORT=$port CALENDARBOT_DATA_DIR=$sdata CALENDARBOT_TEST_TIME=$at \
    CALENDARBOT_ICS_URL=file://$work/extra/usr/share/calendarbot-boottest/bench.ics \
    CALENDARBOT_CONFIG=$work/empty.toml "$here/qemu-aarch64.sh" "$bin" serve >"$work/host-server.log" 2>&1 &
spid=$!
host_events=
for _ in $(seq 240); do
    if h=$(curl -fsS "http://127.0.0.1:$port/api/health" 2>/dev/null) &&
        printf '%s' "$h" | grep -Eq '"initial_refresh_complete": *true'; then
        host_events=$(printf '%s' "$h" | grep -o '"event_count": *[0-9]*' | grep -o '[0-9]*$')
        break
    fi
    sleep 0.5
done
screen_check=no screen_detail="no screendump"
if [ -s "$work/screen.ppm" ] && [ -s "$work/screendump_at" ]; then
    plus() { date -u -d "@$(($(date -u -d "$at" +%s) + $1))" +%Y-%m-%dT%H:%M:%SZ; }
    for d in 0 1 61; do
        CALENDARBOT_CONFIG=$work/empty.toml "$here/qemu-aarch64.sh" "$bin" display --server "http://127.0.0.1:$port" \
            --snapshot "$work/snapshot-$d.png" --at "$(plus "$d")" --size 480x800 >/dev/null 2>>"$work/host-server.log"
    done
    if python3 "$here/boottest/screen-compare.py" "$work/screen.ppm" "$work/screen.png" \
        "$work/snapshot-0.png" "$work/snapshot-1.png" "$work/snapshot-61.png" >"$work/screen-compare.txt" 2>&1; then
        screen_check=ok
    fi
    screen_detail="$(tr '\n' ' ' <"$work/screen-compare.txt")"
fi
kill "$spid" 2>/dev/null || true
wait "$spid" 2>/dev/null || true
guest_events=$(val health_event_count)
feed_ok=no
if [ "$(val feed_loaded)" = yes ] && [ "$(val health_consecutive_failures)" = 0 ] &&
    [ -n "$host_events" ] && [ "${guest_events:-0}" -ge $((host_events - 5)) ] &&
    [ "${guest_events:-0}" -le $((host_events + 5)) ]; then feed_ok=ok; fi
check "feed loaded" "$feed_ok" \
    "event_count=${guest_events:-?} (host run of the same feed: ${host_events:-?}, within 5) consecutive_failures=$(val health_consecutive_failures)"
# The memory figure counts only with the benchmark feed really loaded.
check "RSS (feed) < High" "$(if [ "$feed_ok" = ok ] && [ -n "$rss_kb" ] && [ "$((rss_kb * 1024))" -lt "${mem_high:-0}" ]; then echo ok; else echo no; fi)" "VmRSS=${rss_kb:-?} kB VmHWM=$(val rss_peak_kb) kB cgroup peak=$(val cgroup_memory_peak) B"
dmem_max=$(val display_unit_MemoryMax) drss=$(val display_rss_kb) srss=$(val server_rss_kb_now)
check "display unit READY" "$(if [ "$(val display_unit_Type)" = notify ] && [ "$(val display_unit_ActiveState)" = active ]; then echo ok; else echo no; fi)" "fb=$(val display_fb) $(val display_fb_mode) Type=$(val display_unit_Type) $(val display_unit_ActiveState)/$(val display_unit_SubState) NRestarts=$(val display_unit_NRestarts)"
check "display heartbeat" "$(is "$(val display_heartbeat)" yes)" "$(val display_probe)"
check "display memory.max" "$(is "$(val display_cgroup_memory_max)" "$dmem_max")" "memory.max=$(val display_cgroup_memory_max) VmRSS=${drss:-?} kB VmHWM=$(val display_rss_peak_kb) kB; server+display RSS=$(( ${srss:-0} + ${drss:-0} )) kB"
check "screen shows meeting" "$screen_check" "$screen_detail"
[ -s "$work/screen.png" ] && log "captured screen (CI artifact): $work/screen.png"
log "boot test took $(($(date +%s) - t_total)) s; $fails check(s) failed; report: $report"
[ "$fails" -eq 0 ]
