#!/usr/bin/env bash
# Line coverage per module (cargo-llvm-cov), with a floor for the optimisation layer's parts.
# Runs the library's unit tests and the integration tests that drive the layer (an
# instrumented build of the whole suite would double CI's test time), prints a table per
# module and fails when src/pool or src/pipeline fall below their floors (docs/operations.md,
# "Coverage"). Usage: ci/coverage.sh   (report: target/llvm-cov/coverage.json)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup component list --installed | grep -q '^llvm-tools'; then
  rustup component add llvm-tools-preview
fi
if ! command -v cargo-llvm-cov >/dev/null 2>&1; then
  cargo install --locked cargo-llvm-cov
fi
# The layer's integration tests: fallback and faults, watchdog, limits, the HTTP API, cache
# warming, memory pressure, staged rollout, restarts and crash safety.
tests='kind(lib) | binary(fallback) | binary(watchdog) | binary(http_api) | binary(cache_warming) | binary(memory_pressure) | binary(rollout) | binary(nothing_lost) | binary(restart) | binary(fetch)'
cargo llvm-cov nextest --all-features --no-report -E "$tests"
mkdir -p target/llvm-cov
cargo llvm-cov report --json --output-path target/llvm-cov/coverage.json
python3 ci/coverage_table.py target/llvm-cov/coverage.json
