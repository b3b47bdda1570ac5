//! Replays every input in tests/fixtures/fuzz-regressions through the real `calendarbot expand`
//! (inputs the fuzzer crashed or hung on, plus hand-made hostile seeds). Checks, for each one:
//! the process finishes (no panic, no hang: a generous time bound), exits 0 or 2 with nothing
//! on stdout for 2, and a 0 result is sane — valid JSON lines with the SPEC fields, sorted by
//! start, inside the window, ends not before starts.

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

#[test]
fn every_fuzz_regression_expands_sanely() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz-regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty());
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
        let name = f.file_name().unwrap().to_string_lossy();
        assert!(t.elapsed() < Duration::from_secs(60), "{name}: too slow");
        match out.status.code() {
            Some(0) => {}
            Some(2) => {
                assert!(out.stdout.is_empty(), "{name}");
                continue;
            }
            other => panic!(
                "{name}: exit {other:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
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
