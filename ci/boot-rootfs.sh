#!/usr/bin/env bash
# Builds (once) and caches the arm64 Debian bookworm root that ci/boot-test.sh boots: debootstrap
# --variant=minbase with systemd and linux-image-arm64, second stage under qemu-user (binfmt).
# A small MODULES=list initramfs is seeded between the stages, which cuts the build from about
# 15 min to about 3.5 min (xbuild notes §4). The tree lives outside the repository, in
# $CALENDARBOT_BOOTTEST_CACHE (default /var/cache/calendarbot-boottest), keyed by a stamp of
# everything that shapes it; a rerun with the same stamp reuses it.
#
# usage: ci/boot-rootfs.sh        prints the path of the ready tree on stdout
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=ci/lib.sh
source "$here/lib.sh"

CACHE=${CALENDARBOT_BOOTTEST_CACHE:-/var/cache/calendarbot-boottest}
SUITE=bookworm
INCLUDE=systemd,systemd-sysv,udev,kmod,initramfs-tools,linux-image-arm64
# Bump RECIPE when the preparation below changes: it invalidates the cache.
RECIPE=2
STAMP="suite=$SUITE include=$INCLUDE recipe=$RECIPE"
TREE=$CACHE/rootfs

if [ -f "$CACHE/rootfs.stamp" ] && [ "$(cat "$CACHE/rootfs.stamp")" = "$STAMP" ] && [ -x "$TREE/usr/lib/systemd/systemd" ]; then
    echo "$TREE"
    exit 0
fi

ensure_boot_tools
ensure_binfmt_aarch64
mirror=$(debian_mirror)
[ -n "$mirror" ] || die "could not read the Debian mirror from $DEBIAN_SOURCES"

as_root mkdir -p "$CACHE"
tmp=$CACHE/rootfs.new
as_root rm -rf "$tmp" "$CACHE/rootfs.stamp"
start=$(date +%s)
log "debootstrap first stage ($SUITE arm64 minbase)"
as_root debootstrap --arch=arm64 --foreign --variant=minbase --include="$INCLUDE" \
    "$SUITE" "$tmp" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -n 30 "$CACHE/debootstrap.log" >&2; die "debootstrap first stage failed"; }
# The small initramfs: only what -M virt with a virtio disk needs. dpkg keeps these files.
as_root mkdir -p "$tmp/etc/initramfs-tools/conf.d"
printf 'MODULES=list\n' | as_root tee "$tmp/etc/initramfs-tools/conf.d/calendarbot-boottest.conf" >/dev/null
printf 'virtio_pci\nvirtio_mmio\nvirtio_blk\next4\n' | as_root tee "$tmp/etc/initramfs-tools/modules" >/dev/null
log "debootstrap second stage under qemu-user (about 3 min)"
as_root chroot "$tmp" /debootstrap/debootstrap --second-stage >>"$CACHE/debootstrap.log" 2>&1 ||
    { tail -n 30 "$CACHE/debootstrap.log" >&2; die "debootstrap second stage failed"; }

# Guest preparation that does not depend on the appliance (that is laid in per run).
echo calendarbot-boottest | as_root tee "$tmp/etc/hostname" >/dev/null
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' | as_root tee "$tmp/etc/fstab" >/dev/null
as_root chroot "$tmp" passwd -d root >/dev/null
as_root chroot "$tmp" systemctl set-default multi-user.target >/dev/null 2>&1
# Nothing in the guest needs the network or a login prompt; keep the boot short.
as_root chroot "$tmp" systemctl mask serial-getty@ttyAMA0.service getty@tty1.service \
    systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true
as_root rm -rf "$tmp/var/cache/apt/archives/"*.deb "$tmp/var/lib/apt/lists/"*

as_root rm -rf "$TREE"
as_root mv "$tmp" "$TREE"
echo "$STAMP" | as_root tee "$CACHE/rootfs.stamp" >/dev/null
log "rootfs ready in $(($(date +%s) - start)) s: $TREE"
echo "$TREE"
