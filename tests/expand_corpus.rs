//! `calendarbot expand` on the engine's own trap corpus (tests/fixtures/corpus), real binary.
//! Each `X.ics` names its window (`X-TEST-WINDOW:from/to`) and optionally its default zone
//! (`X-TEST-TZ`); its exact expected output is `X.jsonl` (checked by hand and against an
//! independent implementation; deliberate differences are listed in docs/engine.md). Checks:
//! - Outlook/Exchange: Windows TZIDs, "(UTC+01:00) …" display names, a custom VTIMEZONE
//!   ("Customized Time Zone"), an exact-instant UTC UNTIL (calcard drops that last instance),
//!   EXDATE with a Windows TZID, in UTC form, as DATE, repeated lines and comma lists;
//! - Google `T235959Z` UNTIL, iCloud local UNTIL, DATE UNTIL with a timed start;
//! - overrides: moved into/out of the window, cancelled (kept, status cancelled), retitled,
//!   overrides of overrides (SEQUENCE, then last), THISANDFUTURE, orphans, duplicate masters;
//! - DST weeks in Europe/Berlin, America/New_York, Australia/Sydney, gap and fold times;
//! - 31st-of-month and Feb-29 rules (skipped, not clamped), BYSETPOS=-1, BYWEEKNO, BYYEARDAY,
//!   negative BYMONTHDAY, ordinal BYDAY, DTSTART not matching its rule (counts in COUNT);
//! - RDATE (PERIOD with end and with duration, zoned, UTC), all-day series, floating times with
//!   a non-UTC default zone, status mapping, escapes, folding, field truncation, BOM, bad bytes;
//! - real-world traps: two RRULEs (Fastmail/Cyrus: the union), `COUNT=-1` beside UNTIL
//!   (Confluence: UNTIL honoured), floating times under `X-WR-TIMEZONE` (Google: that zone),
//!   overrides withdrawn by a newer master (Confluence: EXDATE or an earlier UNTIL with a
//!   higher SEQUENCE), DTEND before DTSTART (swapped), THISANDFUTURE moving instances past
//!   UNTIL, DATE and DATE-TIME RDATE/EXDATE/RECURRENCE-ID following the series' type,
//!   BYHOUR/BYMINUTE/BYSECOND ignored on an all-day series;
//! - hostile input: SECONDLY forever (bounded, exact in a narrow window), daily since 2010,
//!   a huge line, deep nesting, 100k events, a feed over the per-feed bound: warnings, no panic;
//! - exit code 2 for missing files, non-calendars and bad arguments; 0 for an empty VCALENDAR.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus")
}

fn run(file: &Path, from: &str, to: &str, tz: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_calendarbot"))
        .arg("expand")
        .arg(file)
        .args(["--from", from, "--to", to])
        .env("CALENDARBOT_DEFAULT_TIMEZONE", tz)
        .output()
        .expect("run calendarbot")
}

fn header(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
}

#[test]
fn every_corpus_file_expands_to_its_expected_list() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ics"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "corpus has {} files", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        let window = header(&text, "X-TEST-WINDOW:").expect("X-TEST-WINDOW");
        let (from, to) = window.split_once('/').unwrap();
        let tz = header(&text, "X-TEST-TZ:").unwrap_or_else(|| "UTC".into());
        let out = run(f, from, to, &tz);
        let name = f.file_name().unwrap().to_string_lossy();
        assert_eq!(out.status.code(), Some(0), "{name}: {out:?}");
        let got = String::from_utf8(out.stdout).unwrap();
        let want = std::fs::read_to_string(f.with_extension("jsonl")).unwrap();
        if got != want {
            failures.push(format!("{name}:\n--- got\n{got}--- want\n{want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fields_are_cut_by_characters() {
    let out = run(
        &corpus().join("status-and-fields.ics"),
        "2026-03-01",
        "2026-04-01",
        "UTC",
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().find(|l| l.contains("\"s-long\"")).unwrap();
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let subject = v["subject"].as_str().unwrap();
    assert_eq!(subject.chars().count(), 200);
    assert!(subject.starts_with(&"Ä".repeat(100)));
    assert_eq!(v["location"].as_str().unwrap().chars().count(), 100);
}

fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn unreadable_or_non_calendar_input_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(String, PathBuf)> = vec![
        ("missing".into(), dir.path().join("nope.ics")),
        ("empty".into(), write_temp(&dir, "empty.ics", b"")),
        (
            "html".into(),
            write_temp(&dir, "page.ics", b"<html><body>Sign in</body></html>\n"),
        ),
        (
            "binary".into(),
            write_temp(&dir, "bin.ics", &[0u8, 159, 146, 150, 255, 0, 1, 2]),
        ),
        (
            "vevent without vcalendar".into(),
            write_temp(
                &dir,
                "bare.ics",
                b"BEGIN:VEVENT\nUID:x\nDTSTART:20260101T000000Z\nEND:VEVENT\n",
            ),
        ),
        ("directory".into(), dir.path().to_path_buf()),
    ];
    for (what, path) in cases {
        let o = run(&path, "2026-01-01", "2027-01-01", "UTC");
        assert_eq!(o.status.code(), Some(2), "{what}: {o:?}");
        assert!(o.stdout.is_empty(), "{what}");
        let err = stderr(&o);
        assert_eq!(err.trim_end().lines().count(), 1, "{what}: {err}");
    }
    let ok = corpus().join("empty-calendar.ics");
    for (from, to, tz) in [
        ("yesterday", "2027-01-01", "UTC"),
        ("2026-01-01", "2027-13-01", "UTC"),
        ("2026-01-01", "2027-01-01", "Mars/Base"),
    ] {
        let o = run(&ok, from, to, tz);
        assert_eq!(o.status.code(), Some(2), "{from} {to} {tz}: {o:?}");
        assert_eq!(stderr(&o).trim_end().lines().count(), 1);
    }
    let o = run(&ok, "2026-01-01T00:00:00+02:00", "2027-01-01", "UTC");
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
}

#[test]
fn tz_flag_overrides_the_environment() {
    let o = Command::new(env!("CARGO_BIN_EXE_calendarbot"))
        .arg("expand")
        .arg(corpus().join("floating-default-zone.ics"))
        .args([
            "--from",
            "2026-03-01",
            "--to",
            "2026-04-01",
            "--tz",
            "America/Chicago",
        ])
        .env("CALENDARBOT_DEFAULT_TIMEZONE", "Asia/Tokyo")
        .output()
        .unwrap();
    let want = std::fs::read_to_string(corpus().join("floating-default-zone.jsonl")).unwrap();
    assert_eq!(String::from_utf8(o.stdout.clone()).unwrap(), want);
}

fn cal(body: &str) -> Vec<u8> {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{body}END:VCALENDAR\r\n").into_bytes()
}

fn event(uid: &str, start: &str, extra: &str) -> String {
    format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nSUMMARY:{uid}\r\nDTSTART:{start}\r\nDURATION:PT30M\r\n{extra}END:VEVENT\r\n"
    )
}

#[test]
fn secondly_forever_is_bounded_over_the_spec_window() {
    let o = run(
        &corpus().join("hostile-secondly.ics"),
        "2026-03-03",
        "2027-03-10",
        "UTC",
    );
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    let secondly = out
        .lines()
        .filter(|l| l.contains("secondly-forever_"))
        .count();
    // The per-rule bound (10,000) stops it; the daily series are unaffected.
    assert!((9_990..=10_000).contains(&secondly), "{secondly}");
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("\"daily-since-2010_"))
            .count(),
        372
    );
    assert!(stderr(&o).contains("occurrences from one rule"));
}

#[test]
fn a_huge_line_is_cut_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let huge = "x".repeat(10 * 1024 * 1024);
    let body = event(
        "huge",
        "20260310T100000Z",
        &format!("DESCRIPTION:{huge}\r\n"),
    ) + &event("after-huge", "20260311T100000Z", "");
    let p = write_temp(&dir, "huge.ics", &cal(&body));
    let o = run(&p, "2026-03-01", "2026-04-01", "UTC");
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(stderr(&o).contains("longer than"));
}

#[test]
fn deep_nesting_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = event("before", "20260310T100000Z", "");
    body += &"BEGIN:X-NEST\r\n".repeat(50_000);
    body += &event("inside-deep-nesting", "20260310T110000Z", "");
    body += &"END:X-NEST\r\n".repeat(50_000);
    body += &event("after", "20260311T100000Z", "");
    let p = write_temp(&dir, "deep.ics", &cal(&body));
    let o = run(&p, "2026-03-01", "2026-04-01", "UTC");
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    let ids: Vec<&str> = out
        .lines()
        .map(|l| l.split('"').nth(7).unwrap_or(""))
        .collect();
    assert_eq!(ids, ["before", "after"], "{out}");
    assert!(stderr(&o).contains("nested deeper"));
}

#[test]
fn a_hundred_thousand_events_hit_the_event_bound_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::with_capacity(100_000 * 120);
    for i in 0..100_000 {
        let day = 1 + (i % 28);
        body += &event(&format!("e{i}"), &format!("202603{day:02}T100000Z"), "");
    }
    let p = write_temp(&dir, "many.ics", &cal(&body));
    let t = Instant::now();
    let o = run(&p, "2026-03-01", "2026-04-01", "UTC");
    assert_eq!(o.status.code(), Some(0));
    let lines = String::from_utf8(o.stdout.clone()).unwrap().lines().count();
    assert_eq!(lines, 50_000);
    assert!(stderr(&o).contains("more than 50000 events"));
    eprintln!("100k events: {:?} (debug build)", t.elapsed());
}

#[test]
fn the_per_feed_bound_keeps_the_rest_of_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = String::new();
    for i in 0..12 {
        body += &event(
            &format!("hourly{i:02}"),
            "20260101T000000Z",
            "RRULE:FREQ=HOURLY\r\n",
        );
    }
    let p = write_temp(&dir, "dense.ics", &cal(&body));
    let o = run(&p, "2026-01-01", "2027-01-01", "UTC");
    assert_eq!(o.status.code(), Some(0));
    let lines = String::from_utf8(o.stdout.clone()).unwrap().lines().count();
    assert_eq!(lines, 100_000);
    let err = stderr(&o);
    assert!(err.contains("occurrences in the feed"), "{err}");
}
