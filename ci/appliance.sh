#!/usr/bin/env bash
# The appliance part of CI (.ci/run calls it before the test suite), every step timed:
#   1. installs what tests/appliance.rs, tests/cross.rs and tests/release.rs need (image tools,
#      openssl and xz for ci/release.sh, systemd-analyze, python3), idempotently;
#   2. ci/cross-build.sh: the aarch64 release binary and its size / glibc / qemu-user checks;
#   3. with CALENDARBOT_BOOT_TEST=1 (.ci/run sets it unless it is 0): ci/boot-test.sh, the
#      emulated boot (docs/appliance.md has its timing and the decision to run it in CI), then
#      ci/boot-update-test.sh, the emulated field updates and power cuts (docs/updates.md).
# The unit checks, image test and qemu-user comparisons then run inside `cargo nextest run`
# (tests/appliance.rs, tests/cross.rs); .ci/run exports CALENDARBOT_REQUIRE_CROSS=1 so a
# missing aarch64 binary fails them instead of skipping.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=ci/lib.sh
source "$here/lib.sh"

step() { # step NAME CMD...: run and time one step
    local name=$1 t
    shift
    t=$(date +%s)
    log "appliance: $name"
    "$@"
    log "appliance: $name took $(($(date +%s) - t)) s"
}

install_deps() {
    ensure_image_tools
    ensure_release_tools
    ensure_pkgs systemd python3
}
step "install image tools, release tools (openssl, xz), systemd-analyze, python3" install_deps
step "cross build (aarch64)" "$here/cross-build.sh"
if [ "${CALENDARBOT_BOOT_TEST:-0}" = 1 ]; then
    step "emulated boot test" "$here/boot-test.sh"
    step "emulated update test" "$here/boot-update-test.sh"
else
    log "appliance: emulated boot test skipped (CALENDARBOT_BOOT_TEST is not 1)"
fi
