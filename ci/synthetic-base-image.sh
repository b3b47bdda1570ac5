#!/usr/bin/env bash
# Makes a small stand-in for a Raspberry Pi OS image, for testing image/build.sh offline (no
# real Pi OS image is available here): an MBR disk with p1 FAT32 "bootfs" (config.txt,
# cmdline.txt with root=PARTUUID=...-02) and p2 ext4 "rootfs" holding a skeleton of the Pi OS
# root (/etc/os-release, /etc/systemd/system with an existing wants directory, /usr/bin, ...).
# The layout mirrors Pi OS: p1 at sector 8192, type c; p2 right after it, type 83.
#
# usage: ci/synthetic-base-image.sh OUT_IMG
set -euo pipefail
[ "$#" -eq 1 ] || { echo "usage: $0 OUT_IMG" >&2; exit 64; }
out=$1
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=ci/lib.sh
source "$here/lib.sh"
ensure_image_tools

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export E2FSPROGS_FAKE_TIME=1700000000 SOURCE_DATE_EPOCH=1700000000

boot_start=8192 boot_sectors=131072       # 64 MiB FAT32
root_start=$((boot_start + boot_sectors)) root_sectors=196608   # 96 MiB ext4

root=$work/root
mkdir -p "$root"/{etc/systemd/system/multi-user.target.wants,usr/bin,usr/lib/systemd/system,var/lib,boot/firmware,home/pi}
printf 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n' >"$root/etc/os-release"
echo raspberrypi >"$root/etc/hostname"
printf 'proc /proc proc defaults 0 0\nPARTUUID=5e3da3da-01 /boot/firmware vfat defaults 0 2\nPARTUUID=5e3da3da-02 / ext4 defaults,noatime 0 1\n' >"$root/etc/fstab"
ln -s /lib/systemd/system/ssh.service "$root/etc/systemd/system/multi-user.target.wants/ssh.service"
printf '#!/bin/sh\necho synthetic\n' >"$root/usr/bin/hello"
chmod 0755 "$root/usr/bin/hello"
chmod 0700 "$root/home/pi"
find "$root" -exec touch -h -d @1700000000 {} +
truncate -s "$((root_sectors * 512))" "$work/root.ext4"
mke2fs -q -F -t ext4 -d "$root" -L rootfs -U 3b614a3f-4a65-4480-876a-8a998e01ac9b \
    -E root_owner=0:0,hash_seed=3b614a3f-4a65-4480-876a-8a998e01ac9b \
    "$work/root.ext4" "$((root_sectors / 2))k"

mkdir -p "$work/bootfs"
printf '[all]\narm_64bit=1\nenable_uart=1\n' >"$work/bootfs/config.txt"
printf 'console=serial0,115200 console=tty1 root=PARTUUID=5e3da3da-02 rootfstype=ext4 fsck.repair=yes rootwait\n' >"$work/bootfs/cmdline.txt"
mkfs.vfat --invariant -C -F 32 -n bootfs -i 5e3da3da "$work/boot.vfat" "$((boot_sectors / 2))" >/dev/null 2>&1
MTOOLS_SKIP_CHECK=1 mcopy -m -i "$work/boot.vfat" "$work/bootfs/config.txt" "$work/bootfs/cmdline.txt" ::/

rm -f "$out"
truncate -s "$(((root_start + root_sectors) * 512))" "$out"
sfdisk --no-reread --no-tell-kernel -q "$out" <<SFDISK
label: dos
label-id: 0x5e3da3da
unit: sectors
start=$boot_start, size=$boot_sectors, type=c
start=$root_start, size=$root_sectors, type=83
SFDISK
dd if="$work/boot.vfat" of="$out" bs=512 seek="$boot_start" conv=notrunc,sparse status=none
dd if="$work/root.ext4" of="$out" bs=512 seek="$root_start" conv=notrunc,sparse status=none
