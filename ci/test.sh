#!/usr/bin/env bash
# The tests, on a fresh machine, in one command: installs what they need (headless Chromium
# for tests/kiosk_page.rs, cargo-nextest), then runs the suite twice:
# - with `--all-features` (the test faults of `fault-injection`, 1 s refresh intervals);
# - without, as the service ships: the 10 s refresh minimum, and a build without the faults.
#   tests/fallback.rs, tests/nothing_lost.rs and tests/restart.rs need the faults and
#   compile to nothing here.
# Called by .ci/run. Needs root (or sudo) only when Chromium is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  echo "== installing Chromium (tests/kiosk_page.rs)"
  sudo_=()
  if [ "$(id -u)" -ne 0 ]; then sudo_=(sudo); fi
  "${sudo_[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_[@]}" apt-get install -y -qq chromium >/dev/null
fi
if ! command -v cargo-nextest >/dev/null 2>&1; then
  echo "== installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

echo "== tests, all features (test faults on)"
cargo nextest run --all-features
echo "== tests, as shipped (no features)"
cargo nextest run
