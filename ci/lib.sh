# shellcheck shell=bash
# Shared helpers for the ci/*.sh and image/*.sh scripts: idempotent installs and the Debian
# mirror lookup. Sourced, never run. Every install step checks first, so re-running a script on
# a prepared machine costs seconds, and a bare Debian 12 machine (CI, root) gets what it needs.
#
# The Debian mirror is never written in the repository: it is read at run time from the apt
# sources the machine already has (/etc/apt/sources.list.d/debian.sources, deb822 format).

CALENDARBOT_TARGET=aarch64-unknown-linux-gnu
DEBIAN_SOURCES=${DEBIAN_SOURCES:-/etc/apt/sources.list.d/debian.sources}

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# as_root CMD...: run CMD as root (CI runs as root; elsewhere use sudo when present).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# debian_mirror: the URI of the deb822 stanza that carries the plain "bookworm" suite.
debian_mirror() {
    [ -r "$DEBIAN_SOURCES" ] || die "no $DEBIAN_SOURCES to read the Debian mirror from"
    awk '
        /^[[:space:]]*$/ { if (uri != "" && main) { print uri; exit } uri = ""; main = 0; next }
        /^URIs:/ { uri = $2 }
        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") main = 1 }
        END { if (uri != "" && main) print uri }
    ' "$DEBIAN_SOURCES" | head -n1
}

_apt_updated=0
apt_update_once() {
    if [ "$_apt_updated" -eq 0 ]; then
        as_root apt-get update -q >/dev/null
        _apt_updated=1
    fi
}

# pkg_installed PKG: true when dpkg has PKG fully installed.
pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# ensure_pkgs PKG...: apt-get install the packages that are missing (no recommends).
ensure_pkgs() {
    local missing=() p
    for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "apt-get install ${missing[*]}"
    apt_update_once
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_backports_source: a bookworm-backports source made from the machine's own mirror
# (qemu-system-arm must come from there: the machine's qemu-utils is a backports build).
ensure_backports_source() {
    local f=/etc/apt/sources.list.d/calendarbot-backports.sources mirror
    [ -e "$f" ] && return 0
    mirror=$(debian_mirror)
    [ -n "$mirror" ] || die "could not read the Debian mirror from $DEBIAN_SOURCES"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$mirror" | as_root tee "$f" >/dev/null
    _apt_updated=0
}

# ensure_rust_target: the rustup std for the Pi's target.
ensure_rust_target() {
    rustup target list --installed | grep -qx "$CALENDARBOT_TARGET" ||
        rustup target add "$CALENDARBOT_TARGET" >/dev/null
}

# ensure_cross_tools: linker, glibc 2.36 sysroot and qemu-user for running aarch64 binaries.
ensure_cross_tools() {
    ensure_rust_target
    ensure_pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static binfmt-support binutils-aarch64-linux-gnu file
}

# ensure_image_tools: what image/build.sh needs (no mounts, no loop devices).
ensure_image_tools() {
    ensure_pkgs e2fsprogs mtools dosfstools fdisk
}

# ensure_release_tools: what ci/release.sh needs beyond the image tools (openssl signs, xz
# compresses the image, Debian's /usr/bin/python3 writes the bundle and manifest).
ensure_release_tools() {
    ensure_pkgs openssl xz-utils python3 git
}

# ensure_boot_tools: debootstrap and qemu-system-aarch64 (from bookworm-backports).
ensure_boot_tools() {
    ensure_cross_tools
    ensure_image_tools
    ensure_pkgs debootstrap
    if ! pkg_installed qemu-system-arm; then
        ensure_backports_source
        apt_update_once
        log "apt-get install -t bookworm-backports qemu-system-arm"
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q --no-install-recommends \
            -t bookworm-backports qemu-system-arm >/dev/null
    fi
}

# ensure_binfmt_aarch64: let the kernel run aarch64 ELF files through qemu-user (needed for
# debootstrap's second stage in a chroot). The F flag means no qemu copy in the chroot.
ensure_binfmt_aarch64() {
    if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
        as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
        as_root update-binfmts --enable qemu-aarch64
    fi
    grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 || die "binfmt qemu-aarch64 not enabled"
}
