//! Replays every input in tests/fixtures/fuzz-regressions through the real `calendarbot expand`
//! (inputs the fuzzer crashed or hung on, plus hand-made hostile seeds). Every kept input has
//! its expectation in [`EXPECTED`] (a new file without one fails the test). Checks, for each:
//! - the exit code and the number of occurrences it is expected to give, and the warning it is
//!   expected to print (or an empty stderr);
//! - the time: 2 s, or 5 s for the inputs that run into the recurrence step cap (measured at
//!   about 1 s in a debug build), so a lost cap or a slow path shows;
//! - a 0 result is sane: valid JSON lines with the SPEC fields, sorted by start, inside the
//!   window, ends not before starts; a 2 prints nothing on stdout.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};

fn instant(v: &serde_json::Value, field: &str, all_day: bool) -> DateTime<Utc> {
    let s = v[field].as_str().expect("string field");
    if all_day {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .expect("date")
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
    } else {
        DateTime::parse_from_rfc3339(s)
            .expect("rfc3339")
            .with_timezone(&Utc)
    }
}

/// Per input: exit code, occurrences printed, a piece of its stderr ("": stderr is empty),
/// and whether it runs into the recurrence step cap (which allows it more time).
const EXPECTED: &[(&str, i32, usize, &str, bool)] = &[
    ("bad-vtimezone.ics", 0, 2, "", false),
    ("byday-multibyte-weekday.ics", 0, 4, "invalid RRULE", false),
    (
        "count-walks-from-year-1.ics",
        0,
        0,
        "rule stopped after",
        true,
    ),
    ("extreme-durations.ics", 0, 24, "", false),
    (
        "fuzz-slow-secondly-from-1900.ics",
        0,
        0,
        "rule stopped after",
        true,
    ),
    (
        "fuzz-timeout-ca7d1bab.ics",
        0,
        0,
        "rule stopped after",
        true,
    ),
    ("huge-count-and-interval.ics", 0, 1, "", false),
    ("nul-and-garbage.ics", 0, 0, "malformed line", false),
    ("override-chaos.ics", 0, 5, "", false),
    ("truncated-mid-event.ics", 0, 22, "truncated", false),
    ("weird-rules.ics", 0, 3, "", false),
];

#[test]
fn every_fuzz_regression_expands_sanely() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz-regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        EXPECTED.len(),
        "every kept input has an expectation"
    );
    let from: DateTime<Utc> = "2026-03-01T00:00:00Z".parse().unwrap();
    let to: DateTime<Utc> = "2026-04-01T00:00:00Z".parse().unwrap();
    for f in &files {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_calendarbot"))
            .arg("expand")
            .arg(f)
            .args(["--from", "2026-03-01", "--to", "2026-04-01"])
            .env("CALENDARBOT_DEFAULT_TIMEZONE", "UTC")
            .output()
            .unwrap();
        let took = t.elapsed();
        let name = f.file_name().unwrap().to_string_lossy();
        let Some(&(_, code, count, warning, capped)) = EXPECTED.iter().find(|(n, ..)| *n == name)
        else {
            panic!("{name}: no expectation in EXPECTED; add one");
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        let limit = Duration::from_secs(if capped { 5 } else { 2 });
        assert!(took < limit, "{name}: took {took:?} (allowed {limit:?})");
        assert_eq!(out.status.code(), Some(code), "{name}: {stderr}");
        if warning.is_empty() {
            assert!(stderr.is_empty(), "{name}: unexpected stderr {stderr:?}");
        } else {
            assert!(stderr.contains(warning), "{name}: stderr {stderr:?}");
        }
        if code == 2 {
            assert!(out.stdout.is_empty(), "{name}");
            continue;
        }
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).lines().count(),
            count,
            "{name}: occurrences"
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let mut last = None;
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let all_day = v["all_day"].as_bool().unwrap();
            let s = instant(&v, "start", all_day);
            let e = instant(&v, "end", all_day);
            assert!(e >= s, "{name}: {line}");
            assert!(
                if e > s {
                    e > from && s < to
                } else {
                    s >= from && s < to
                },
                "{name}: outside the window: {line}"
            );
            assert!(last.is_none_or(|l| s >= l), "{name}: not sorted at {line}");
            last = Some(s);
            for k in ["uid", "id", "subject", "location", "status"] {
                assert!(v[k].is_string(), "{name}: {k} in {line}");
            }
        }
    }
}
