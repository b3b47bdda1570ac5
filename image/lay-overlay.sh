#!/usr/bin/env bash
# Lays the appliance into an ext4 root filesystem without mounting it: the aarch64 binary as
# /usr/bin/calendarbot, every file of overlays/ (units, config, journald drop-in, the
# multi-user.target.wants link that enables the service), plus optional extra trees.
#
# It is the one piece of code that both image/build.sh (a Raspberry Pi OS image) and
# ci/boot-test.sh (the emulated Debian guest) use, so the booted test sees exactly what ships.
#
# How: debugfs write commands (e2fsprogs), so no root mounts and no loop devices. Files are
# replaced, missing directories created (existing ones keep their mode and owner), everything
# laid is owned by root with normalised modes (dirs 0755, files 0644, executables 0755) and
# timestamps fixed to SOURCE_DATE_EPOCH, so the same inputs give byte-identical output.
#
# usage: image/lay-overlay.sh EXT4 BINARY OVERLAY_DIR [EXTRA_DIR...]
#   EXT4 is an ext4 image file, or "disk.img?offset=BYTES" for a partition inside a disk image.
#   SOURCE_DATE_EPOCH (seconds) sets every timestamp; default: the last commit's time.
set -euo pipefail

[ "$#" -ge 3 ] || { echo "usage: $0 EXT4 BINARY OVERLAY_DIR [EXTRA_DIR...]" >&2; exit 64; }
fs=$1 binary=$2 overlay=$3
shift 3
[ -f "$binary" ] || { echo "error: no binary $binary" >&2; exit 1; }
[ -d "$overlay" ] || { echo "error: no overlay directory $overlay" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 0)
fi
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/root
mkdir "$stage"
mkdir -p "$stage/usr/bin"
cp "$binary" "$stage/usr/bin/calendarbot"
chmod 0755 "$stage/usr/bin/calendarbot"
cp -a "$overlay/." "$stage/"
for extra in "$@"; do
    [ -d "$extra" ] || { echo "error: no directory $extra" >&2; exit 1; }
    cp -a "$extra/." "$stage/"
done

# exists PATH: true when PATH exists in the filesystem (any type; symlinks not followed).
exists() {
    debugfs -R "stat \"$1\"" "$fs" 2>&1 | grep -q '^Inode:'
}

# Emit debugfs commands for one staged entry, in sorted order (parents before children).
cmds=$work/cmds
: >"$cmds"
stamp() {  # fixed owner and times on one inode
    local p=$1 f
    printf 'sif "%s" uid 0\nsif "%s" gid 0\n' "$p" "$p" >>"$cmds"
    for f in atime mtime ctime crtime; do
        printf 'sif "%s" %s @%s\n' "$p" "$f" "$SOURCE_DATE_EPOCH" >>"$cmds"
    done
}
while IFS= read -r rel; do
    dest=/$rel src=$stage/$rel
    if [ -L "$src" ]; then
        exists "$dest" && printf 'rm "%s"\n' "$dest" >>"$cmds"
        printf 'symlink "%s" "%s"\n' "$dest" "$(readlink "$src")" >>"$cmds"
        stamp "$dest"
    elif [ -d "$src" ]; then
        if ! exists "$dest"; then
            printf 'mkdir "%s"\nsif "%s" mode 040755\n' "$dest" "$dest" >>"$cmds"
            stamp "$dest"
        fi
    elif [ -f "$src" ]; then
        mode=0100644
        [ -x "$src" ] && mode=0100755
        exists "$dest" && printf 'rm "%s"\n' "$dest" >>"$cmds"
        # debugfs writes into the current directory: cd to the parent, write the base name.
        printf 'cd "%s"\nwrite "%s" "%s"\ncd /\n' "$(dirname "$dest")" "$src" "$(basename "$dest")" >>"$cmds"
        printf 'sif "%s" mode %s\n' "$dest" "$mode" >>"$cmds"
        stamp "$dest"
    else
        echo "error: unsupported file type: $rel" >&2
        exit 1
    fi
done < <(cd "$stage" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort)

# debugfs exits 0 even when a command fails; the only stderr line of a clean run is its
# version banner, so anything else is an error.
err=$work/err
debugfs -w -f "$cmds" "$fs" >/dev/null 2>"$err" || { cat "$err" >&2; exit 1; }
if grep -v '^debugfs [0-9.]* ([0-9A-Za-z-]*)$' "$err" >&2; then
    echo "error: debugfs reported errors while laying the overlay into $fs" >&2
    exit 1
fi
