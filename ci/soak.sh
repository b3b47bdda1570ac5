#!/usr/bin/env bash
# Soak: the real binary (test build: 1 s refresh) under a kiosk's traffic for MINUTES, sampled
# for leaks; writes target/soak/soak.csv and soak.png and fails on a trend beyond the noise
# bands stated in ci/soak.py. Only 127.0.0.1. Usage: ci/soak.sh MINUTES
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:?usage: ci/soak.sh MINUTES}
# The plot needs matplotlib: Debian's python3-matplotlib, for Debian's own python3 (a
# python3 earlier in PATH, such as pyenv's, may not have it).
py=python3
if ! "$py" -c 'import matplotlib' 2>/dev/null; then py=/usr/bin/python3; fi
if ! "$py" -c 'import matplotlib' 2>/dev/null; then
  echo "== installing python3-matplotlib (the soak plot)"
  sudo_=()
  if [ "$(id -u)" -ne 0 ]; then sudo_=(sudo); fi
  "${sudo_[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_[@]}" apt-get install -y -qq python3-matplotlib >/dev/null
fi
cargo build --features fault-injection
# Bounded: the run plus two minutes for start, drain and the plot.
limit=$(python3 -c "import sys; print(int(float(sys.argv[1]) * 60 + 120))" "$minutes")
timeout "$limit" "$py" ci/soak.py "$minutes" target/debug/calendarbot target/soak
