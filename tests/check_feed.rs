//! `calendarbot check-feed`, the real binary, against files and a real feed server on
//! 127.0.0.1. Checks:
//! - every CalendarBot fixture (and its Alexa fixtures) is a whole calendar: exit 0 or 1, a
//!   JSON report, no panic;
//! - every input of the trap corpus and of the kept fuzz regressions: no panic, an exit code
//!   from the documented set, a JSON report; a feed cut mid-event exits 4;
//! - exit codes: 0 whole and clean, 1 with problems (each listed with its line number), 2 bad
//!   arguments, 3 fetch failed (missing file, HTTP 500), 4 not a calendar or cut short;
//! - HTTP: status, bytes, `webcal://` fetched as `http://`; the auth and headers of the
//!   configured source whose URL it is are sent, and no secret (token, URL path) is printed;
//! - `--export-redacted`: no original text (UID, SUMMARY, DESCRIPTION, LOCATION, ATTENDEE,
//!   ORGANIZER, CN) is left in the exported file, and it expands to the same times.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use support::{FeedServer, Mode, command, ics};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command();
    cmd.arg("check-feed").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run calendarbot")
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)))
}

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "ics"))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "{dir}");
    out
}

fn no_panic(o: &Output, what: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked"), "{what}: {err}");
}

#[test]
fn every_calendarbot_fixture_is_a_whole_calendar() {
    let mut files = fixtures("tests/fixtures/calendarbot");
    files.extend(fixtures("tests/fixtures/calendarbot/alexa"));
    for f in &files {
        let o = run(&[f.to_str().unwrap(), "--json"], &[]);
        no_panic(&o, &f.display().to_string());
        let code = o.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "{}: {code:?} {o:?}",
            f.display()
        );
        let v = json(&o);
        assert_eq!(v["calendar"], true, "{}: {v}", f.display());
        assert_eq!(v["exit_code"], code.unwrap(), "{}", f.display());
        assert!(v["events_parsed"].as_u64().unwrap() >= 1, "{}", f.display());
    }
}

#[test]
fn hostile_inputs_never_panic_and_exit_with_a_documented_code() {
    let mut files = fixtures("tests/fixtures/corpus");
    files.extend(
        std::fs::read_dir(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz-regressions"),
        )
        .unwrap()
        .map(|e| e.unwrap().path()),
    );
    for f in &files {
        let o = run(&[f.to_str().unwrap(), "--json"], &[]);
        no_panic(&o, &f.display().to_string());
        let code = o.status.code();
        assert!(matches!(code, Some(0 | 1 | 4)), "{}: {o:?}", f.display());
        assert_eq!(json(&o)["exit_code"], code.unwrap(), "{}", f.display());
    }
    let cut = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz-regressions/truncated-mid-event.ics");
    let o = run(&[cut.to_str().unwrap(), "--json"], &[]);
    assert_eq!(o.status.code(), Some(4), "{o:?}");
    let v = json(&o);
    assert_eq!(v["calendar"], false);
    assert!(
        v["not_calendar_reason"]
            .as_str()
            .unwrap()
            .starts_with("truncated: the feed ends inside"),
        "{v}"
    );
}

fn temp_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn exit_codes_say_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let clean = temp_file(
        &dir,
        "clean.ics",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nSUMMARY:A\r\n\
         DTSTART;TZID=Europe/Berlin:20260310T100000\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n",
    );
    let now = [("CALENDARBOT_TEST_TIME", "2026-03-12T00:00:00Z")];
    let o = run(&[clean.to_str().unwrap(), "--json"], &now);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let v = json(&o);
    assert_eq!(v["occurrences_next_30_days"], 30, "{v}");
    assert_eq!(v["events_next_30_days"], 1);
    assert_eq!(v["next_meetings"].as_array().unwrap().len(), 5);
    assert_eq!(v["next_meetings"][0]["start"], "2026-03-12T09:00:00Z");
    assert_eq!(
        v["zones_used"],
        serde_json::json!([{"tzid": "Europe/Berlin", "resolved": "Europe/Berlin"}])
    );

    // Problems, each with its line: a malformed line, a bad rule, an unknown zone.
    let messy = temp_file(
        &dir,
        "messy.ics",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:b\r\nno colon here\r\n\
         DTSTART;TZID=Nowhere/Special:20260312T100000\r\nRRULE:FREQ=SOMETIMES\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n",
    );
    let o = run(&[messy.to_str().unwrap(), "--json"], &now);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let v = json(&o);
    assert_eq!(v["lines_skipped"], 1);
    assert_eq!(v["rules_ignored"], 1);
    assert_eq!(
        v["zones_unresolved"],
        serde_json::json!(["Nowhere/Special"])
    );
    let lines: Vec<u64> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [5, 7], "{v}");
    // The human report lists them too.
    let o = run(&[messy.to_str().unwrap()], &now);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("line      5: malformed line skipped"),
        "{text}"
    );
    assert!(
        text.contains("UNRESOLVED:  zone \"Nowhere/Special\""),
        "{text}"
    );

    // A repair (DTEND before DTSTART, swapped) is listed and makes the exit code 1.
    let swapped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/corpus/dtend-before-dtstart.ics");
    let o = run(&[swapped.to_str().unwrap(), "--json"], &[]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let v = json(&o);
    assert_eq!(v["problems"].as_array().unwrap().len(), 4, "{v}");
    assert!(
        v["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("DTEND before DTSTART")
    );

    let html = temp_file(&dir, "page.ics", "<html>Sign in</html>\n");
    assert_eq!(run(&[html.to_str().unwrap()], &[]).status.code(), Some(4));
    let cut = temp_file(
        &dir,
        "cut.ics",
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:c\r\nDTSTART:20260312T100000Z\r\nEND:VEVENT\r\n",
    );
    assert_eq!(run(&[cut.to_str().unwrap()], &[]).status.code(), Some(4));
    let missing = dir.path().join("missing.ics");
    let o = run(&[missing.to_str().unwrap(), "--json"], &[]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert!(
        json(&o)["fetch_error"]
            .as_str()
            .unwrap()
            .contains("cannot read")
    );
    let o = run(&[clean.to_str().unwrap(), "--tz", "Mars/Base"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr)
            .trim_end()
            .lines()
            .count(),
        1
    );
    let o = run(
        &[clean.to_str().unwrap()],
        &[("CALENDARBOT_WEB_PORT", "abc")],
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}

#[test]
fn http_feeds_use_the_configured_source_and_print_no_secret() {
    let body = ics(&[("h1", "Over HTTP", 60, 30)]);
    let feed = FeedServer::start(Mode::Ok {
        body: body.clone(),
        etag: "\"e\"".into(),
    });
    let secret_path = format!("http://{}/private-s3cr3tpath/basic.ics", feed.addr);
    let dir = tempfile::tempdir().unwrap();
    let cfg = temp_file(
        &dir,
        "config.toml",
        &format!(
            "[[sources]]\nname = \"team\"\nurl = \"{secret_path}\"\n\
             auth = {{ type = \"bearer\", token = \"t0ps3cret-token\" }}\n\
             headers = {{ \"X-Api-Key\" = \"k3y-value\" }}\n"
        ),
    );
    let webcal = secret_path.replacen("http://", "webcal://", 1);
    for url in [&secret_path, &webcal] {
        let mut cmd = command();
        let o = cmd
            .args([
                "--config",
                cfg.to_str().unwrap(),
                "check-feed",
                url,
                "--json",
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        let v = json(&o);
        assert_eq!(v["http_status"], 200);
        assert_eq!(v["bytes"], body.len());
        assert_eq!(v["source"], "team");
        assert_eq!(v["next_meetings"][0]["subject"], "Over HTTP");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        for secret in ["t0ps3cret-token", "k3y-value", "s3cr3tpath"] {
            assert!(!all.contains(secret), "{secret} printed: {all}");
        }
    }
    let heads = feed.requests().join("\n").to_ascii_lowercase();
    assert!(
        heads.contains("authorization: bearer t0ps3cret-token"),
        "{heads}"
    );
    assert!(heads.contains("x-api-key: k3y-value"), "{heads}");

    // A webcal:// URL that no source has: fetched as http:// all the same.
    let o = run(
        &[&feed.url().replacen("http://", "webcal://", 1), "--json"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(json(&o)["source"].is_null());
    // ... and accepted as a source by the configuration (shown redacted).
    let o = command()
        .arg("config")
        .env("CALENDARBOT_ICS_URL", &webcal)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        shown.contains(&format!("webcal://{}/<redacted>", feed.addr)),
        "{shown}"
    );
    let o = command()
        .arg("config")
        .env("CALENDARBOT_ICS_URL", "webcalx://example.com/a.ics")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");

    feed.set(Mode::Status(500));
    let o = run(
        &[&feed.url(), "--json"],
        &[("CALENDARBOT_FETCH__MAX_RETRIES", "0")],
    );
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    let v = json(&o);
    assert_eq!(v["http_status"], 500);
    assert!(v["source"].is_null());
}

/// The texts of a calendar that must not survive redaction: values of UID, SUMMARY,
/// DESCRIPTION, LOCATION, ATTENDEE, ORGANIZER and their CN parameters (unfolded). Texts that
/// also stand in a kept line (a UID made of a date) or are too short to mean anything are
/// left out.
fn private_texts(ics: &str) -> Vec<String> {
    let unfolded = ics
        .replace("\r\n ", "")
        .replace("\n ", "")
        .replace("\r\n\t", "");
    let mut out = Vec::new();
    for line in unfolded.lines() {
        let Some((head, value)) = line.split_once(':') else {
            continue;
        };
        let name = head.split(';').next().unwrap().to_ascii_uppercase();
        if ![
            "UID",
            "SUMMARY",
            "DESCRIPTION",
            "LOCATION",
            "ATTENDEE",
            "ORGANIZER",
        ]
        .contains(&name.as_str())
        {
            continue;
        }
        out.push(value.trim().to_string());
        if let Some(cn) = head.split(';').find_map(|p| p.strip_prefix("CN=")) {
            out.push(cn.trim_matches('"').to_string());
        }
        if let Some(mail) = value.strip_prefix("mailto:") {
            out.push(mail.to_string());
        }
    }
    out.retain(|t| t.chars().count() >= 4);
    out
}

#[test]
fn export_redacted_leaves_no_original_text_and_keeps_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = fixtures("tests/fixtures/calendarbot");
    files.extend(fixtures("tests/fixtures/corpus"));
    let mut checked = 0;
    for f in &files {
        let original = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        let out = dir.path().join("redacted.ics");
        let o = run(
            &[
                f.to_str().unwrap(),
                "--json",
                "--export-redacted",
                out.to_str().unwrap(),
            ],
            &[],
        );
        assert!(
            matches!(o.status.code(), Some(0 | 1 | 4)),
            "{}: {o:?}",
            f.display()
        );
        let exported = std::fs::read_to_string(&out).unwrap();
        for text in private_texts(&original) {
            assert!(
                !exported.contains(&text),
                "{}: {text:?} survived redaction",
                f.display()
            );
            checked += 1;
        }
        // The same times: expand both over a wide window and compare (start, end, status).
        let times = |p: &Path| -> Vec<(String, String, String)> {
            let o = command()
                .args([
                    "expand",
                    p.to_str().unwrap(),
                    "--from",
                    "2020-01-01",
                    "--to",
                    "2030-01-01",
                ])
                .output()
                .unwrap();
            let mut v: Vec<_> = String::from_utf8(o.stdout)
                .unwrap()
                .lines()
                .map(|l| {
                    let j: serde_json::Value = serde_json::from_str(l).unwrap();
                    (
                        j["start"].to_string(),
                        j["end"].to_string(),
                        j["status"].to_string(),
                    )
                })
                .collect();
            v.sort();
            v
        };
        if f.to_string_lossy().contains("hostile") {
            continue; // bounded by the per-rule cap either way; slow to compare
        }
        assert_eq!(times(f), times(&out), "{}", f.display());
    }
    assert!(checked > 300, "only {checked} texts checked");
}
