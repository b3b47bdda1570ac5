#!/usr/bin/env bash
# Engine benchmark: ci/bench-engine.sh
# Generates the 3,000-event benchmark feed (tools/gen_large_ics.py, default arguments), then
# prints, from a release build:
#   - CPU time of parse + expand over the SPEC window (7 days back, 365 ahead), per run;
#   - peak RSS of one parse + expand (the bench binary run once under /usr/bin/time -v), and of
#     `calendarbot expand` on the same feed.
# Goals (SPEC, vs the Python server's 3.3 s CPU): <= 110 ms CPU, < 30 MB peak for the parse.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/calendarbot-bench"
mkdir -p "$out"
feed="$out/large.ics"
python3 tools/gen_large_ics.py "$feed"
echo "feed: $(wc -c <"$feed") bytes, $(grep -c '^BEGIN:VEVENT' "$feed") events"

cargo bench --bench engine --no-run >/dev/null 2>&1 || cargo bench --bench engine --no-run
bench_bin=$(find target/release/deps -maxdepth 1 -type f -name 'engine-*' ! -name '*.d' -printf '%T@ %p\n' | sort -rn | head -n1 | cut -d' ' -f2-)
cargo build --release >/dev/null 2>&1 || cargo build --release

"$bench_bin" "$feed" 2026-03-02 20

rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}'; }
echo "peak RSS, one parse+expand (bench binary): $(rss "$bench_bin" "$feed" 2026-03-02 1) KB"
echo "peak RSS, calendarbot expand (incl. JSON output): $(rss target/release/calendarbot expand "$feed" --from 2026-02-23 --to 2027-03-02) KB"
/usr/bin/time -f "calendarbot expand: %U s user + %S s system, wall %e s" \
    target/release/calendarbot expand "$feed" --from 2026-02-23 --to 2027-03-02 >/dev/null
