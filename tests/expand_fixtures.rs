//! `calendarbot expand` on the CalendarBot fixtures (tests/fixtures/calendarbot, MIT, see its
//! LICENSE), run as the real binary. Checks:
//! - every fixture (top level and alexa/) expands over 2025-01-01..2027-01-01 to exactly the
//!   hand-checked list in tests/fixtures/expected/<name>.jsonl (alexa/x.ics → alexa__x.jsonl);
//! - every specs.yaml scenario's expected next meeting (start, id or id prefix for `_*`,
//!   subject, duration) follows from the expansion over the SPEC window around the scenario's
//!   "now", with a next-meeting chooser that follows SPEC §6 (earliest busy/tentative start
//!   not before now, focus-time skipped, lunch loses to a meeting within 30 minutes);
//! - the output is sorted by start, and each line has exactly the SPEC's fields in order.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn expand(file: &Path, from: &str, to: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_calendarbot"))
        .arg("expand")
        .arg(file)
        .args(["--from", from, "--to", to])
        .env("CALENDARBOT_DEFAULT_TIMEZONE", "UTC")
        .output()
        .expect("run calendarbot");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ics_files() -> Vec<(String, PathBuf)> {
    let mut v = Vec::new();
    for (dir, prefix) in [("calendarbot", ""), ("calendarbot/alexa", "alexa__")] {
        for e in std::fs::read_dir(fixtures().join(dir)).expect("fixture dir") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "ics") {
                let stem = p.file_stem().unwrap().to_string_lossy().to_string();
                v.push((format!("{prefix}{stem}"), p));
            }
        }
    }
    v.sort();
    v
}

#[test]
fn every_fixture_expands_to_its_checked_list() {
    let files = ics_files();
    assert!(files.len() >= 45, "fixtures copied: {}", files.len());
    let mut failures = Vec::new();
    for (name, path) in &files {
        let (code, out, err) = expand(path, "2025-01-01", "2027-01-01");
        assert_eq!(code, 0, "{name}: exit {code}, stderr {err}");
        let expected_path = fixtures().join("expected").join(format!("{name}.jsonl"));
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        if out != expected {
            failures.push(format!("{name}:\n--- got\n{out}--- want\n{expected}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn lines_have_exact_fields_and_are_sorted() {
    for (name, path) in ics_files() {
        let (_, out, _) = expand(&path, "2025-01-01", "2027-01-01");
        let mut last: Option<DateTime<Utc>> = None;
        for line in out.lines() {
            let v: Value = serde_json::from_str(line).expect("json line");
            let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
            // serde_json without preserve_order sorts keys; check the set and the raw order.
            assert_eq!(keys.len(), 8, "{name}: {line}");
            let order = [
                "\"uid\"",
                "\"id\"",
                "\"subject\"",
                "\"location\"",
                "\"start\"",
                "\"end\"",
                "\"all_day\"",
                "\"status\"",
            ];
            let positions: Vec<usize> = order.iter().map(|k| line.find(k).unwrap()).collect();
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{name}: {line}");
            let start = start_instant(&v);
            if let Some(l) = last {
                assert!(start >= l, "{name}: not sorted at {line}");
            }
            last = Some(start);
        }
    }
}

fn instant(v: &Value, field: &str) -> DateTime<Utc> {
    let s = v[field].as_str().unwrap();
    if v["all_day"].as_bool().unwrap() {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
    } else {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
}

fn start_instant(v: &Value) -> DateTime<Utc> {
    instant(v, "start")
}

fn end_instant(v: &Value) -> DateTime<Utc> {
    instant(v, "end")
}

const FOCUS: [&str; 5] = [
    "focus time",
    "focus",
    "deep work",
    "thinking time",
    "planning time",
];

/// The product's rule (`answers::is_lunch`): a subject that mentions lunch and is at most 10
/// characters long once trimmed ("Lunch", "Team lunch"); "Lunch Meeting" is a meeting.
fn is_lunch(subject: &str) -> bool {
    let s = subject.trim().to_lowercase();
    s.contains("lunch") && s.chars().count() <= 10
}

/// SPEC §6's choice of the next meeting.
fn next_meeting(lines: &[Value], now: DateTime<Utc>) -> Option<Value> {
    let candidates: Vec<&Value> = lines
        .iter()
        .filter(|v| matches!(v["status"].as_str(), Some("busy" | "tentative")))
        .filter(|v| {
            let s = v["subject"].as_str().unwrap().to_lowercase();
            !FOCUS.iter().any(|f| s.contains(f))
        })
        .filter(|v| start_instant(v) >= now)
        .collect();
    let earliest = candidates.iter().map(|v| start_instant(v)).min()?;
    let near: Vec<&&Value> = candidates
        .iter()
        .filter(|v| start_instant(v) <= earliest + chrono::Duration::minutes(30))
        .collect();
    let pick = near
        .iter()
        .find(|v| !is_lunch(v["subject"].as_str().unwrap()))
        .or_else(|| near.first())?;
    Some((**pick).clone())
}

#[test]
fn specs_yaml_next_meetings_follow_from_the_expansion() {
    let specs: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(fixtures().join("calendarbot/specs.yaml")).unwrap(),
    )
    .unwrap();
    let tests = specs["tests"].as_sequence().unwrap();
    assert!(tests.len() >= 30);
    for t in tests {
        let id = t["test_id"].as_str().unwrap();
        let file = fixtures()
            .join("calendarbot")
            .join(t["ics_file"].as_str().unwrap());
        let now = DateTime::parse_from_rfc3339(t["datetime_override"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc);
        let from = (now - chrono::Duration::days(7)).to_rfc3339();
        let to = (now + chrono::Duration::days(365)).to_rfc3339();
        let (code, out, err) = expand(&file, &from, &to);
        assert_eq!(code, 0, "{id}: {err}");
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let got = next_meeting(&lines, now);
        let want = &t["expected"]["meeting"];
        if want.is_null() {
            assert!(got.is_none(), "{id}: expected no meeting, got {got:?}");
            continue;
        }
        let got = got.unwrap_or_else(|| panic!("{id}: no meeting chosen"));
        let want_id = want["meeting_id"].as_str().unwrap();
        match want_id.strip_suffix("_*") {
            Some(prefix) => assert_eq!(got["id"].as_str().unwrap(), prefix, "{id}"),
            None => assert_eq!(got["id"].as_str().unwrap(), want_id, "{id}"),
        }
        assert_eq!(got["subject"], want["subject"].as_str().unwrap(), "{id}");
        assert_eq!(got["location"], want["location"].as_str().unwrap(), "{id}");
        let start = DateTime::parse_from_rfc3339(want["start_iso"].as_str().unwrap()).unwrap();
        assert_eq!(start_instant(&got), start, "{id}");
        let dur = (end_instant(&got) - start_instant(&got)).num_seconds();
        let want_dur = want["duration_seconds"].as_i64().unwrap();
        if id.starts_with("dst_transition_") {
            // 01:30 (first, PDT) to 02:30 (PST) on the fall-back night is two real hours; the
            // Python server subtracted wall-clock times and said one. The instants are exact.
            assert_eq!((dur, want_dur), (7200, 3600), "{id}");
        } else {
            assert_eq!(dur, want_dur, "{id}");
        }
    }
}
