#!/usr/bin/env bash
# Cuts one release (docs/updates.md, "A release"): from a clean tree, the aarch64 binary with
# its version stamped in, the update bundle, the flashable image (given a base image), the
# manifest and its Ed25519 signature. Every byte follows from the commit, the inputs and
# SOURCE_DATE_EPOCH (default: the commit's time), so two runs give identical files.
#
# usage: ci/release.sh --out DIR [--version V] [--channel stable] [--key FILE]
#                      [--base-image IMG] [--public-key PUB] [--binary BIN]
#                      [--allow-dirty] [--any-arch]
#   --out DIR         a new or empty directory for the release
#   --version V       the version stamped into the binary (SemVer, at most 37 bytes; default:
#                     Cargo's)
#   --key FILE        the Ed25519 private key (PEM); default: $CALENDARBOT_RELEASE_KEY
#   --base-image IMG  also build the image (image/build.sh) into DIR/calendarbot-V.img.xz
#   --public-key PUB  the /etc/calendarbot/release.pub laid into the image (default: the
#                     signing key's public half; during a key rotation a file with several
#                     PUBLIC KEY blocks, one of them the signing key's)
#   --binary BIN      release BIN instead of building with ci/cross-build.sh
#   --allow-dirty     (tests) accept uncommitted changes and a binary from another commit
#   --any-arch        (tests) accept a binary that is not aarch64
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=ci/lib.sh
source "$here/lib.sh"
cd "$repo"
PY=/usr/bin/python3 # Debian's: tarfile's bytes are part of the release
export LC_ALL=C TZ=UTC

usage() { sed -n '7,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 64; }
out='' version='' channel=stable key=${CALENDARBOT_RELEASE_KEY:-} base='' pub='' binary=''
allow_dirty=0 any_arch=0 version_given=0
while [ "$#" -gt 0 ]; do
    case "$1" in
    --out) out=${2:?}; shift 2 ;;
    --version) version=${2-}; version_given=1; shift 2 ;;
    --channel) channel=${2:?}; shift 2 ;;
    --key) key=${2:?}; shift 2 ;;
    --base-image) base=${2:?}; shift 2 ;;
    --public-key) pub=${2:?}; shift 2 ;;
    --binary) binary=${2:?}; shift 2 ;;
    --allow-dirty) allow_dirty=1; shift ;;
    --any-arch) any_arch=1; shift ;;
    -h | --help) usage ;;
    *) echo "error: unknown argument $1" >&2; usage ;;
    esac
done
[ -n "$out" ] || { echo "error: --out DIR is required" >&2; usage; }

# ---- inputs, all checked before anything is built or written -----------------------------
ensure_release_tools
[ -x "$PY" ] || die "$PY is needed (Debian's python3)"
if [ "$version_given" = 0 ]; then
    version=$(awk -F'"' '/^version *=/ { print $2; exit }' Cargo.toml)
fi
"$PY" "$here/release.py" version "$version"
[[ "$channel" =~ ^[a-z0-9][a-z0-9._-]*$ ]] || die "channel '$channel' must be lower-case letters, digits, . _ -"

dirty=$(git status --porcelain 2>/dev/null) || die "$repo is not a git checkout"
if [ -n "$dirty" ]; then
    [ "$allow_dirty" = 1 ] || die "the tree has uncommitted changes (a release is cut from a commit):
$dirty"
    log "release: the tree is dirty (--allow-dirty): this is not a release of a commit"
fi
commit=$(git rev-parse HEAD)
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
fi
[[ "$SOURCE_DATE_EPOCH" =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH '$SOURCE_DATE_EPOCH' is not a number of seconds"
export SOURCE_DATE_EPOCH

[ -n "$key" ] || die "no signing key: give --key FILE or set CALENDARBOT_RELEASE_KEY (docs/updates.md, Keys)"
[ -r "$key" ] || die "cannot read the signing key $key"
openssl pkey -in "$key" -noout -text 2>/dev/null | head -n1 | grep -q '^ED25519 Private-Key' ||
    die "$key is not an Ed25519 private key (make one with: openssl genpkey -algorithm ed25519 -out release.key)"
[ -z "$base" ] || [ -f "$base" ] || die "no base image $base"
[ -z "$pub" ] || [ -r "$pub" ] || die "cannot read the public key file $pub"

if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
    die "$out is not empty (a release goes into a new or empty directory)"
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The public half of the signing key; the image's key file must hold it.
openssl pkey -in "$key" -pubout -out "$work/signer.pub"
if [ -n "$pub" ]; then
    grep -qxF "$(sed -n 2p "$work/signer.pub")" "$pub" ||
        die "$pub does not hold the signing key's public half"
else
    pub=$work/signer.pub
fi

# ---- the binary ---------------------------------------------------------------------------
if [ -z "$binary" ]; then
    # Built as ci/appliance.sh builds it, without SOURCE_DATE_EPOCH: cc-rs build scripts
    # (aws-lc-sys, libsqlite3-sys) rerun when it changes, which would rebuild the C deps for
    # every release instead of reusing the warm cross build (the Rust build does not read it).
    env -u SOURCE_DATE_EPOCH "$here/cross-build.sh" >&2
    binary=target/$CALENDARBOT_TARGET/release/calendarbot
fi
[ -f "$binary" ] || die "no binary $binary"
[ "$(head -c4 "$binary" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] || die "$binary is not an ELF file"
machine=$(od -An -tx1 -j18 -N2 "$binary" | tr -d ' \n')
if [ "$machine" != b700 ] && [ "$any_arch" != 1 ]; then
    die "$binary is not an aarch64 ELF binary (e_machine $machine); build it with ci/cross-build.sh"
fi

bin_name=calendarbot-$version-aarch64
bin_out=$out/$bin_name
"$PY" "$here/release.py" stamp "$binary" "$bin_out" "$version"

# run_bin ARGS...: the stamped binary, under qemu-user when it is aarch64 on another machine.
run_bin() {
    if [ "$machine" = b700 ] && [ "$(uname -m)" != aarch64 ]; then
        "$here/qemu-aarch64.sh" "$bin_out" "$@"
    else
        "$bin_out" "$@"
    fi
}
line=$(run_bin --version) || die "the stamped binary does not start ($bin_out --version)"
re='^calendarbot ([^ ]+) \(commit ([0-9a-f]+|unknown), profile ([A-Za-z0-9_-]+)\)$'
[[ "$line" =~ $re ]] || die "unexpected --version output: $line"
[ "${BASH_REMATCH[1]}" = "$version" ] || die "the stamped binary says version ${BASH_REMATCH[1]}, not $version"
bin_commit=${BASH_REMATCH[2]} profile=${BASH_REMATCH[3]}
if [ "${commit#"$bin_commit"}" = "$commit" ]; then
    [ "$allow_dirty" = 1 ] || die "$binary was built from commit $bin_commit, the tree is at $commit"
    log "release: $binary was built from commit $bin_commit, not $commit (--allow-dirty)"
fi

# ---- bundle, image, manifest, signature ---------------------------------------------------
bundle=$out/calendarbot-$version.bundle.tar
"$PY" "$here/release.py" bundle "$bundle" "$bin_out" overlays "$version" "$commit" "$SOURCE_DATE_EPOCH"
artifacts=("binary=$bin_out" "bundle=$bundle")

if [ -n "$base" ]; then
    "$repo/image/build.sh" --public-key "$pub" "$base" "$bin_out" "$work/calendarbot-$version.img" >&2
    # xz single-threaded, fixed preset and check: the same bytes on every run.
    xz -T1 -6 --check=crc64 -c "$work/calendarbot-$version.img" >"$out/calendarbot-$version.img.xz"
    rm -f "$work/calendarbot-$version.img"
    artifacts+=("image=$out/calendarbot-$version.img.xz")
fi

manifest=$out/manifest.json
"$PY" "$here/release.py" manifest "$manifest" "$version" "$channel" "$commit" "$profile" \
    "$SOURCE_DATE_EPOCH" "${artifacts[@]}"
openssl pkeyutl -sign -rawin -inkey "$key" -in "$manifest" -out "$manifest.sig"
[ "$(stat -c %s "$manifest.sig")" = 64 ] || die "the signature is not 64 bytes"
openssl pkeyutl -verify -pubin -inkey "$work/signer.pub" -rawin -in "$manifest" \
    -sigfile "$manifest.sig" >/dev/null || die "the new signature does not verify"

printf 'release %s (channel %s, commit %s, profile %s, SOURCE_DATE_EPOCH %s)\n' \
    "$version" "$channel" "$commit" "$profile" "$SOURCE_DATE_EPOCH"
for f in "$bin_out" "$bundle" "$out/calendarbot-$version.img.xz" "$manifest" "$manifest.sig"; do
    [ -f "$f" ] || continue
    printf '  %-40s %10d bytes  sha256 %s\n' "$(basename "$f")" "$(stat -c %s "$f")" \
        "$(sha256sum "$f" | cut -d' ' -f1)"
done
