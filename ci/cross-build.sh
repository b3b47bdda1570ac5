#!/usr/bin/env bash
# Builds the Raspberry Pi binary without Docker: rustup's aarch64 std + Debian 12's cross gcc
# (glibc 2.36 sysroot, the same glibc as Pi OS bookworm), release profile from Cargo.toml.
# Installs what it needs idempotently, then checks the result and prints its figures:
#   - an aarch64 ELF, stripped (no .symtab), at most 8 MB;
#   - needs no glibc symbol version newer than GLIBC_2.36;
#   - starts under qemu-user (`calendarbot --version`).
# Output: target/aarch64-unknown-linux-gnu/release/calendarbot (built with the size-tuned "pi"
# profile; CALENDARBOT_CROSS_PROFILE=release builds the plain release profile instead) (tests/cross.rs then compares
# its behaviour with the host build under qemu-user).
#
# usage: ci/cross-build.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=ci/lib.sh
source "$here/lib.sh"
cd "$repo"

MAX_BYTES=$((8 * 1024 * 1024))
GLIBC_FLOOR=2.36

ensure_cross_tools

# Cargo profile "pi" = release tuned for size (Cargo.toml); the result is copied to the
# conventional release path, which image/build.sh, ci/boot-test.sh and tests/cross.rs read.
PROFILE=${CALENDARBOT_CROSS_PROFILE:-pi}
log "cargo build --profile $PROFILE --target $CALENDARBOT_TARGET"
start=$(date +%s)
cargo build --profile "$PROFILE" --locked --target "$CALENDARBOT_TARGET"
build_s=$(($(date +%s) - start))
bin=target/$CALENDARBOT_TARGET/release/calendarbot
if [ "$PROFILE" != release ]; then
    mkdir -p "$(dirname "$bin")"
    cp -f "target/$CALENDARBOT_TARGET/$PROFILE/calendarbot" "$bin"
fi

file_out=$(file -b "$bin" 2>/dev/null || true)
machine=$(od -An -tx1 -j18 -N2 "$bin" | tr -d ' \n')
[ "$machine" = b700 ] || die "$bin is not an aarch64 ELF (e_machine $machine)"
if aarch64-linux-gnu-readelf -S "$bin" | grep -q '\.symtab'; then
    die "$bin is not stripped (.symtab present)"
fi
size=$(stat -c %s "$bin")
[ "$size" -le "$MAX_BYTES" ] || die "$bin is $size bytes, over the 8 MB budget"
glibc=$(aarch64-linux-gnu-objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n1)
[ -n "$glibc" ] || die "no GLIBC_ symbol versions found in $bin"
if [ "$(printf '%s\n%s\n' "$glibc" "$GLIBC_FLOOR" | sort -V | tail -n1)" != "$GLIBC_FLOOR" ]; then
    die "$bin needs GLIBC_$glibc, newer than the Pi's $GLIBC_FLOOR"
fi
version=$("$here/qemu-aarch64.sh" "$bin" --version) || die "$bin does not start under qemu-user"

printf 'cross-build: %s\n' "$bin"
printf '  file:          %s\n' "${file_out:-aarch64 ELF}"
printf '  size:          %d bytes (%.2f MB; budget 8 MB)\n' "$size" "$(awk -v s="$size" 'BEGIN { print s / 1048576 }')"
printf '  glibc floor:   GLIBC_%s (Pi OS bookworm: %s)\n' "$glibc" "$GLIBC_FLOOR"
printf '  qemu-user:     %s\n' "$version"
printf '  build time:    %d s\n' "$build_s"
