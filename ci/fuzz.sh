#!/usr/bin/env bash
# Fuzz the ICS engine (parse + expand) for a bounded time: ci/fuzz.sh [SECONDS] (default 60).
#
# Seeds come from the test fixtures and the kept regressions. A crash leaves its input in
# fuzz/artifacts/expand/; copy it into tests/fixtures/fuzz-regressions/ (tests/expand_fuzz_
# regressions.rs then replays it on every test run) and fix the engine.
#
# cargo-fuzz needs nightly compiler flags (-Zsanitizer). With a nightly toolchain installed it is
# used; otherwise stable is asked to accept them with RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi

seeds=fuzz/corpus/expand
mkdir -p "$seeds"
cp tests/fixtures/calendarbot/*.ics tests/fixtures/corpus/*.ics "$seeds"/
cp tests/fixtures/fuzz-regressions/* "$seeds"/ 2>/dev/null || true

"${fuzz[@]}" run expand "$seeds" -- \
    -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
