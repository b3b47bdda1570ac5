#!/usr/bin/env bash
# Emulated field updates (issue #11): the appliance booted as in ci/boot-test.sh (the aarch64
# binary and overlays/ laid by image/lay-overlay.sh into an arm64 Debian root, qemu-system-aarch64
# with the Zero 2W's CPU and RAM), with releases made by ci/release.sh from throwaway keys and
# published on a file:// channel inside the guest. The in-guest script
# (ci/boottest/calendarbot-updatecheck) runs `calendarbot-update.service` against them and
# records what it sees; the host boots the same disk up to four times, killing QEMU (a power
# cut) when the guest asks, then reads the report back with debugfs. Checks (each PASS/FAIL):
#   a good release (a version bump) is installed and the guest reports the new version;
#   a tampered bundle (one byte), a bundle signed by another key, and a downgrade are refused
#   with nothing written to the slots; a release that exits at start, one that never answers
#   health, and one that migrates the database then exits are rolled back, the old version
#   serving the same calendar and the database's schema restored; a version rolled back once is
#   not tried again; QEMU killed while unpacking, right after the switch, and during the health
#   gate of a broken release: each time the guest boots serving, and the interrupted update
#   ends installed (or rolled back for the broken release).
# Figures: bundle size, "update found" to "healthy on the new version", rollback time.
#
# usage: ci/boot-update-test.sh [BINARY]   (default: target/aarch64-unknown-linux-gnu/release/calendarbot)
# env:   CALENDARBOT_BOOTTEST_CACHE  debootstrap cache (shared with ci/boot-test.sh)
#        CALENDARBOT_UPDATETEST_WORK scratch dir (default target/boot-update-test)
# Needs root (as ci/boot-test.sh). Takes about 6 min with a warm cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=ci/lib.sh
source "$here/lib.sh"

bin=${1:-$repo/target/$CALENDARBOT_TARGET/release/calendarbot}
[ -f "$bin" ] || die "no binary $bin (run ci/cross-build.sh first)"
work=${CALENDARBOT_UPDATETEST_WORK:-$repo/target/boot-update-test}
[ "$(id -u)" -eq 0 ] || die "the update test needs root (debootstrap, mke2fs -d of a root-owned tree)"

t_total=$(date +%s)
ensure_boot_tools
ensure_pkgs openssl xz-utils
rootfs=$("$here/boot-rootfs.sh")

rm -rf "$work"
mkdir -p "$work/keys" "$work/releases" "$work/fake"
extra=$work/extra
share=$extra/usr/share/calendarbot-updatecheck
mkdir -p "$extra/usr/local/sbin" "$share/releases" "$extra/etc/systemd/system/multi-user.target.wants" \
    "$extra/etc/systemd/system/calendarbot.service.d" "$extra/etc/calendarbot" "$extra/usr/share/calendarbot-boottest"

# Throwaway keys: the release key (its public half goes into the image) and another one.
openssl genpkey -algorithm ed25519 -out "$work/keys/release.key" 2>/dev/null
openssl pkey -in "$work/keys/release.key" -pubout -out "$work/keys/release.pub"
openssl genpkey -algorithm ed25519 -out "$work/keys/other.key" 2>/dev/null
cp "$work/keys/release.pub" "$extra/etc/calendarbot/release.pub"

# The broken releases, built for aarch64 (ci/boottest/fake-release.c says what each does).
commit=$(git -C "$repo" rev-parse HEAD)
for mode in EXIT_AT_START NEVER_READY MIGRATE_AND_EXIT; do
    aarch64-linux-gnu-gcc -O2 -Wall -Wextra -Werror "-DMODE_$mode" "-DCOMMIT=\"$commit\"" -o "$work/fake/$mode" "$here/boottest/fake-release.c"
done

# release NAME VERSION BINARY [KEY]: one release by ci/release.sh, laid into the guest without
# its loose binary (the bundle carries it).
release() {
    local name=$1 version=$2 binary=$3 key=${4:-$work/keys/release.key}
    "$repo/ci/release.sh" --out "$work/releases/$name" --version "$version" --binary "$binary" \
        --key "$key" --allow-dirty >"$work/releases/$name.log" 2>&1 ||
        { cat "$work/releases/$name.log" >&2; die "ci/release.sh failed for $name"; }
    mkdir -p "$share/releases/$name"
    cp "$work/releases/$name"/manifest.json "$work/releases/$name"/manifest.json.sig \
        "$work/releases/$name"/*.bundle.tar "$share/releases/$name/"
}
log "releases (ci/release.sh, throwaway keys)"
release good 0.2.0 "$bin"
release tampered 0.2.1 "$bin"
release wrongkey 0.2.2 "$bin" "$work/keys/other.key"
release downgrade 0.1.5 "$bin"
release exit_at_start 0.3.0 "$work/fake/EXIT_AT_START"
release never_ready 0.3.1 "$work/fake/NEVER_READY"
release migrate 0.3.2 "$work/fake/MIGRATE_AND_EXIT"
release cut1 0.4.0 "$bin"
release cut3 0.5.0 "$work/fake/EXIT_AT_START"
# The same 0.3.0 again (refused: rolled back once), the same 0.4.0 for the second cut.
cp -r "$share/releases/exit_at_start" "$share/releases/exit_again"
cp -r "$share/releases/cut1" "$share/releases/cut2"
# One byte of the tampered bundle changed, in the middle of its binary; its manifest and
# signature are the genuine ones.
tb=$(ls "$share/releases/tampered"/*.bundle.tar)
python3 - "$tb" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x01
open(p, "wb").write(bytes(b))
PY
bundle_bytes=$(stat -c %s "$(ls "$work/releases/good"/*.bundle.tar)")

# The guest: the update check runs at every boot; the service reads a small feed (the same
# test drop-in as ci/boot-test.sh); the updater reads a file:// channel with short gates.
cp "$here/boottest/calendarbot-updatecheck" "$extra/usr/local/sbin/"
cat >"$extra/etc/systemd/system/calendarbot-updatecheck.service" <<'UNIT'
[Unit]
Description=calendarbot update test: publish releases, run the updater, record, power off
After=multi-user.target calendarbot.service

[Service]
Type=simple
ExecStart=/usr/local/sbin/calendarbot-updatecheck
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
UNIT
ln -s /etc/systemd/system/calendarbot-updatecheck.service \
    "$extra/etc/systemd/system/multi-user.target.wants/calendarbot-updatecheck.service"
cp "$here/boottest/boottest.conf" "$extra/etc/systemd/system/calendarbot.service.d/"
# The guest's journal on its console too (kept in console-N.log: the journal itself is
# volatile, and a power cut takes it).
mkdir -p "$extra/etc/systemd/journald.conf.d"
printf '[Journal]\nForwardToConsole=yes\nMaxLevelConsole=info\n' >"$extra/etc/systemd/journald.conf.d/zz-updatetest-console.conf"
# As in ci/boot-test.sh: Raspberry Pi OS has a CA store, the minbase guest may not.
if [ ! -e "$rootfs/etc/ssl/certs/ca-certificates.crt" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$extra/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$extra/etc/ssl/certs/"
fi
python3 "$repo/tools/gen_large_ics.py" "$extra/usr/share/calendarbot-boottest/bench.ics" \
    --anchor "$(date -u +%F)" --events 300 >&2
{
    cat "$repo/overlays/etc/calendarbot/config.toml"
    printf '\n# ci/boot-update-test.sh: the channel on the guest disk, short gates.\n'
    printf '[update]\nurl = "file:///srv/calendarbot-updates/stable/"\nsettle_s = 15\ngate_timeout_s = 60\n'
} >"$extra/etc/calendarbot/config.toml"

log "root filesystem image"
img=$work/rootfs.ext4
mke2fs -q -F -t ext4 -d "$rootfs" -L rootfs "$img" 1500M
"$repo/image/lay-overlay.sh" "$img" "$bin" "$repo/overlays" "$extra"
cp -L "$rootfs/vmlinuz" "$work/vmlinuz"
cp -L "$rootfs/initrd.img" "$work/initrd.img"

report=$work/report.txt
cuts=0
for boot in 1 2 3 4; do
    log "boot $boot: qemu-system-aarch64 (virt, cortex-a53, 512 MB, 4 cpus)"
    console=$work/console-$boot.log
    : >"$console"
    t=$(date +%s)
    qemu-system-aarch64 -M virt -cpu cortex-a53 -m 512 -smp 4 -accel tcg,thread=multi \
        -display none -serial "file:$console" -no-reboot \
        -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
        -append "console=ttyAMA0 root=/dev/vda rw rootfstype=ext4 panic=-1" \
        -drive "file=$img,format=raw,if=virtio" -nic none &
    qpid=$!
    cut=no
    deadline=$(($(date +%s) + 1200))
    while kill -0 "$qpid" 2>/dev/null; do
        if grep -q CALENDARBOT-POWERCUT-NOW "$console" 2>/dev/null; then
            # The power cut: QEMU itself killed, the guest's page cache lost.
            kill -9 "$qpid" 2>/dev/null || true
            cut=yes
            cuts=$((cuts + 1))
            break
        fi
        if [ "$(date +%s)" -gt "$deadline" ]; then
            kill -9 "$qpid" 2>/dev/null || true
            log "boot $boot: no power-off and no power-cut request within 1200 s"
            break
        fi
        sleep 0.2
    done
    wait "$qpid" 2>/dev/null || true
    log "boot $boot ended after $(($(date +%s) - t)) s (power cut: $cut)"
    grep -a 'updatecheck: ' "$console" | sed 's/^.*updatecheck: /  /' >&2 || true
    [ "$cut" = yes ] || break
done

debugfs -R 'cat /var/lib/calendarbot-updatecheck/report.txt' "$img" >"$report" 2>/dev/null || true
# What the guest said on the console right before each cut (not on its disk, on purpose).
grep -ah 'updatecheck: p[0-9]_cut' "$work"/console-*.log | sed 's/^.*updatecheck: //' >>"$report" || true
[ -s "$report" ] || { tail -n 40 "$work/console-1.log" >&2; die "no report from the guest (console: $work/console-1.log)"; }

val() { sed -n "s/^$1=//p" "$report" | tail -n1; }
fails=0
check() { # check NAME ok|no DETAIL
    if [ "$2" = ok ]; then printf 'PASS  %-28s %s\n' "$1" "$3"; else printf 'FAIL  %-28s %s\n' "$1" "$3"; fails=$((fails + 1)); fi
}
# serving_is KEY VERSION: the recorded "CODE VERSION EVENTS" is a 200 from VERSION.
serving_is() { case "$(val "$1")" in "200 $2 "*) echo ok ;; *) echo no ;; esac; }
events() { val "$1" | cut -d' ' -f3; }
factory=$(awk -F'"' '/^version *=/ { print $2; exit }' "$repo/Cargo.toml")
check "factory serves" "$(serving_is p1_serving "$factory")" "$(val p1_serving) after $(val p1_serving_after_s) s; $(val p1_factory_version)"
check "good release installed" "$(if [ "$(serving_is p1_good_serving 0.2.0)" = ok ] && [ "$(val p1_good_outcome)" = installed ]; then echo ok; else echo no; fi)" \
    "$(val p1_good_serving); outcome $(val p1_good_outcome); run $(val p1_good_run_s) s"
for r in tampered wrongkey downgrade exit_again; do
    check "$r refused, nothing written" "$(if [ "$(serving_is "p1_${r}_serving" 0.2.0)" = ok ] && [ "$(val "p1_${r}_written_same")" = yes ] &&
        [ "$(val "p1_${r}_outcome")" = refused ]; then echo ok; else echo no; fi)" \
        "outcome $(val "p1_${r}_outcome"); written same: $(val "p1_${r}_written_same"); $(val "p1_${r}_serving")"
done
ev_good=$(events p1_good_serving)
for r in exit_at_start never_ready migrate; do
    check "$r rolled back" "$(if [ "$(serving_is "p1_${r}_serving" 0.2.0)" = ok ] && [ "$(val "p1_${r}_outcome")" = rolled_back ] &&
        [ "$(events "p1_${r}_serving")" = "$ev_good" ]; then echo ok; else echo no; fi)" \
        "outcome $(val "p1_${r}_outcome"); $(val "p1_${r}_serving") (events before: $ev_good); run $(val "p1_${r}_run_s") s"
done
# The schema version in the database file's header (a WAL database's header is current once
# the server was restarted, as it was for the release before).
check "database restored" "$(if [ -n "$(val p1_never_ready_schema)" ] && [ "$(val p1_migrate_schema)" = "$(val p1_never_ready_schema)" ]; then echo ok; else echo no; fi)" \
    "user_version $(val p1_never_ready_schema) before, 99 written by the migrating release, $(val p1_migrate_schema) after its rollback"
check "cut 1 (unpack): boots serving" "$(if [ "$(serving_is p2_serving 0.2.0)" = ok ]; then echo ok; else echo no; fi)" \
    "$(val p1_cut_cut1_frozen_after) -> $(val p2_serving) after $(val p2_serving_after_s) s; current $(val p2_current)"
check "cut 2 (switch): boots serving" "$(case "$(val p3_serving)" in "200 "*) echo ok ;; *) echo no ;; esac)" \
    "current at the cut: $(val p2_cut_cut2_current) -> $(val p3_serving) after $(val p3_serving_after_s) s"
check "cut 2: attempt completed" "$(if [ "$(serving_is p3_cut2_serving 0.4.0)" = ok ]; then echo ok; else echo no; fi)" \
    "$(val p3_cut2_serving); outcome $(val p3_cut2_outcome)"
check "cut 3 (gate): boots serving" "$(if [ "$(serving_is p4_after_cut3_serving 0.4.0)" = ok ]; then echo ok; else echo no; fi)" \
    "$(val p4_after_cut3_serving) at uptime $(val p4_after_cut3_uptime_s) s; current $(val p4_after_cut3_current)"
check "four boots, three cuts" "$(if [ "$cuts" = 3 ] && [ "$(val p4_done)" = yes ]; then echo ok; else echo no; fi)" "cuts $cuts"

log "figures: bundle $bundle_bytes bytes; good install $(val p1_good_run_s) s (settle_s 15 included); rollbacks: exit at start $(val p1_exit_at_start_run_s) s, never ready $(val p1_never_ready_run_s) s, migrating $(val p1_migrate_run_s) s"
log "update test took $(($(date +%s) - t_total)) s; $fails check(s) failed; report: $report"
[ "$fails" -eq 0 ]
