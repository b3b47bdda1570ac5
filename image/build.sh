#!/usr/bin/env bash
# Turns a Raspberry Pi OS image (MBR: p1 FAT boot, p2 ext4 root) plus the aarch64 calendarbot
# binary into a flashable kiosk image and a release manifest, without root mounts or loop
# devices: the root partition is edited in place inside a copy of the image by
# image/lay-overlay.sh (debugfs). The boot partition and everything else stay byte-for-byte as
# in the base image. Two builds from the same inputs (and the same SOURCE_DATE_EPOCH, by default
# the last commit's time) give byte-identical images and manifests.
#
# The release key's public half goes in as /etc/calendarbot/release.pub (root, 0644), from
# --public-key or CALENDARBOT_RELEASE_PUB: `calendarbot update` verifies bundles with it
# (docs/updates.md). ci/release.sh always gives it; without one the image cannot take updates
# (a warning says so).
#
# usage: image/build.sh [--public-key PUB] BASE_IMG BINARY OUT_IMG
#   writes OUT_IMG and OUT_IMG.manifest.json (version, git commit, sha256 of binary and image)
set -euo pipefail
pub=${CALENDARBOT_RELEASE_PUB:-}
if [ "${1:-}" = --public-key ]; then
    pub=${2:?--public-key needs a file}
    shift 2
fi
[ "$#" -eq 3 ] || { echo "usage: $0 [--public-key PUB] BASE_IMG BINARY OUT_IMG" >&2; exit 64; }
base=$1 binary=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=ci/lib.sh
source "$repo/ci/lib.sh"
ensure_image_tools

[ -f "$base" ] || die "no base image $base"
[ -f "$binary" ] || die "no binary $binary"
if [ -n "$pub" ]; then
    [ -r "$pub" ] || die "cannot read the public key file $pub"
    grep -q -- '-----BEGIN PUBLIC KEY-----' "$pub" || die "$pub holds no PEM PUBLIC KEY block"
else
    log "warning: no --public-key: the image has no /etc/calendarbot/release.pub and cannot take updates"
fi
# ELF e_machine (bytes 18-19, little endian): 0xb7 = AArch64. Refuse to ship anything else.
machine=$(od -An -tx1 -j18 -N2 "$binary" | tr -d ' \n')
if [ "$machine" != b700 ]; then
    die "$binary is not an aarch64 ELF binary (e_machine $machine); build it with ci/cross-build.sh"
fi

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH

# Partition table: p1 FAT (type b, c or e), p2 Linux (83); sectors of 512 bytes.
table=$(sfdisk -d "$base") || die "$base has no readable partition table"
grep -q '^label: dos' <<<"$table" || die "$base: expected an MBR (dos) partition table"
field() { # field PARTNO NAME
    sfdisk -d "$base" | awk -v n="$1" -v k="$2" '
        /^[^ ]+ : start=/ { i++; if (i == n) { gsub(/ /, ""); split($0, a, ":"); m = split(a[2], kv, ",");
            for (j = 1; j <= m; j++) { split(kv[j], p, "="); if (p[1] == k) print p[2] } } }'
}
p1_type=$(field 1 type) p2_type=$(field 2 type) p2_start=$(field 2 start)
case "$p1_type" in b | c | e) ;; *) die "$base: partition 1 is type $p1_type, expected a FAT boot partition" ;; esac
[ "$p2_type" = 83 ] || die "$base: partition 2 is type $p2_type, expected a Linux (83) root partition"
offset=$((p2_start * 512))
debugfs -R 'stat /etc' "$base?offset=$offset" 2>/dev/null | grep -q '^Inode:' ||
    die "$base: partition 2 is not an ext4 root filesystem with /etc"

start=$(date +%s%N)
tmp=$out.tmp
rm -f "$tmp"
cp --sparse=always "$base" "$tmp"
extra=()
if [ -n "$pub" ]; then
    keys=$(mktemp -d)
    trap 'rm -rf "$keys"' EXIT
    mkdir -p "$keys/etc/calendarbot"
    cp "$pub" "$keys/etc/calendarbot/release.pub"
    chmod 0644 "$keys/etc/calendarbot/release.pub"
    extra=("$keys")
fi
"$here/lay-overlay.sh" "$tmp?offset=$offset" "$binary" "$repo/overlays" "${extra[@]}"
# The edited filesystem must be clean (read-only check, nothing repaired).
e2fsck -fn "$tmp?offset=$offset" >/dev/null 2>&1 || die "e2fsck found problems in the built root filesystem"
mv -f "$tmp" "$out"

version=$(awk -F'"' '/^version *=/ { print $2; exit }' "$repo/Cargo.toml")
commit=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    commit=$commit-dirty
fi
sha() { sha256sum "$1" | cut -d' ' -f1; }
cat >"$out.manifest.json" <<JSON
{
  "name": "calendarbot",
  "version": "$version",
  "git_commit": "$commit",
  "source_date_epoch": $SOURCE_DATE_EPOCH,
  "binary": { "path": "/usr/bin/calendarbot", "size": $(stat -c %s "$binary"), "sha256": "$(sha "$binary")" },
  "base_image": { "file": "$(basename "$base")", "sha256": "$(sha "$base")" },
  "image": { "file": "$(basename "$out")", "size": $(stat -c %s "$out"), "sha256": "$(sha "$out")" }
}
JSON
log "image $out built in $((($(date +%s%N) - start) / 1000000)) ms"
