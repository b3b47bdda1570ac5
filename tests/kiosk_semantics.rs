//! What the kiosk shows (issue #13), against the real binary over HTTP with file:// feeds
//! (fixtures under tests/fixtures/kiosk/) and sources configured in a TOML file:
//! - declined: a Google-style weekly series where the owner (`owner = ["mailto:ME@…"]`, case
//!   and `mailto:` ignored) declined one instance through an override and another attendee
//!   declined another: only the owner's one stops being a meeting — not next, not in
//!   done-for-day's counts, not in the voice day summary — and `/api/events` lists it with
//!   status `declined`; the other instance stays `busy`. Without `owner`, as before;
//! - privacy: a CLASS:PRIVATE and a CLASS:CONFIDENTIAL event, a `privacy = "busy"` source and a
//!   `privacy = "hide"` source: their secret strings appear in no response of any route (API,
//!   page, voice, events, health, metrics, config) and in no line of the debug log; the events
//!   still occupy their time as "Busy" (hidden ones not at all). `show_private = true` shows a
//!   private event in full;
//! - current: of two overlapping meetings the one that started last, with its end and
//!   seconds_until_end; once it ends, the other (still running) one; `meeting` still counts to
//!   the next one;
//! - later_today: a day of five meetings after the next one: the first `later_today_max` (3 by
//!   default) in order, with `meeting`'s fields; with a larger max every one before local
//!   midnight in the default zone (Europe/Berlin), not the one 30 min after it;
//! - data_age_s / stale / time_format: present, 0 / false under a fixed clock, "12h" when
//!   configured; the voice cards follow time_format (17:00 vs 5:00 PM);
//! - the plain and the optimised path give byte-identical answers with all the new fields set.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use support::{Binary, client};

const TOKEN: &str = "kiosk-token";

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kiosk")
        .join(name);
    format!("file://{}", p.display())
}

/// Start the binary with `toml` as its configuration file and `now` as its clock.
fn start(dir: &Path, toml: &str, now: &str, extra: &[(&'static str, &str)]) -> Binary {
    let cfg: PathBuf = dir.join("config.toml");
    std::fs::write(&cfg, toml).unwrap();
    let data = dir.join("data");
    let mut env = vec![
        ("CALENDARBOT_CONFIG", cfg.display().to_string()),
        ("CALENDARBOT_TEST_TIME", now.to_string()),
        ("CALENDARBOT_ALEXA_BEARER_TOKEN", TOKEN.to_string()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    Binary::start(&data, &env)
}

fn source(name: &str, file: &str, extra: &str) -> String {
    format!(
        "[[sources]]\nname = \"{name}\"\nurl = \"{}\"\n{extra}\n",
        fixture(file)
    )
}

fn get(b: &Binary, path: &str) -> Value {
    let r = client().get(b.url(path)).bearer_auth(TOKEN).send().unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().unwrap()
}

fn text(b: &Binary, path: &str) -> String {
    client()
        .get(b.url(path))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .text()
        .unwrap()
}

fn events_by_start<'a>(ev: &'a Value, start: &str) -> Vec<&'a Value> {
    ev["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["start"] == start)
        .collect()
}

const WEEK: &str = "/api/events?from=2025-11-05T00:00:00Z&to=2025-11-20T00:00:00Z";

#[test]
fn an_owners_decline_is_not_a_meeting_and_another_attendees_is() {
    let now = "2025-11-05T09:00:00Z";
    let owned = source(
        "google",
        "declined.ics",
        "owner = [\"mailto:ME@Example.com\"]",
    );
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), &owned, now, &[]);
    let wn = get(&b, "/api/whats-next");
    assert_eq!(wn["meeting"]["subject"], "Design review", "{wn}");
    assert_eq!(wn["later_today"], serde_json::json!([]), "{wn}");
    let ev = get(&b, WEEK);
    let declined = events_by_start(&ev, "2025-11-05T10:00:00Z");
    assert_eq!(declined.len(), 1, "{ev}");
    assert_eq!(declined[0]["status"], "declined");
    assert_eq!(declined[0]["subject"], "Weekly sync");
    // Another attendee declined the 12th: still the owner's meeting.
    let other = events_by_start(&ev, "2025-11-12T10:00:00Z");
    assert_eq!(other[0]["status"], "busy", "{ev}");
    let series = events_by_start(&ev, "2025-11-19T10:00:00Z");
    assert_eq!(series[0]["status"], "busy", "{ev}");
    let done = get(&b, "/api/done-for-day?tz=UTC");
    assert_eq!(done["meetings_today"], 1, "{done}");
    assert_eq!(done["last_meeting_subject"], "Design review");
    let launch = get(&b, "/api/alexa/launch-summary");
    let said = launch["speech_text"].as_str().unwrap();
    assert!(!said.contains("Weekly sync"), "{said}");
    // At the declined meeting's time it is not in progress either.
    drop(b);
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), &owned, "2025-11-05T10:10:00Z", &[]);
    assert_eq!(get(&b, "/api/whats-next")["current"], Value::Null);
    drop(b);

    // Without `owner`: as before, the declined instance is the next meeting.
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), &source("google", "declined.ics", ""), now, &[]);
    let wn = get(&b, "/api/whats-next");
    assert_eq!(wn["meeting"]["subject"], "Weekly sync", "{wn}");
    assert_eq!(wn["meeting"]["start_iso"], "2025-11-05T10:00:00Z");
    assert_eq!(wn["later_today"][0]["subject"], "Design review", "{wn}");
    let ev = get(&b, WEEK);
    assert_eq!(
        events_by_start(&ev, "2025-11-05T10:00:00Z")[0]["status"],
        "busy"
    );
    assert_eq!(get(&b, "/api/done-for-day?tz=UTC")["meetings_today"], 2);
}

/// Every route a client can read, with the token where one is needed.
const READS: &[&str] = &[
    "/",
    "/api/whats-next",
    "/api/events?from=2025-11-04T00:00:00Z&to=2025-11-07T00:00:00Z",
    "/api/done-for-day?tz=UTC",
    "/api/health",
    "/metrics",
    "/api/status/optimization",
    "/api/alexa/next-meeting",
    "/api/alexa/time-until-next",
    "/api/alexa/done-for-day",
    "/api/alexa/launch-summary",
    "/api/alexa/morning-summary?date=2025-11-05&detail_level=verbose",
];

const SECRETS: [&str; 5] = [
    "SECRETPRIV",
    "SECRETCONF",
    "SECRETBUSY",
    "SECRETHIDE",
    "secretbusy@",
];

fn privacy_config() -> String {
    [
        source("personal", "private.ics", ""),
        source("interviews", "busy.ics", "privacy = \"busy\""),
        source("hidden", "hidden.ics", "privacy = \"hide\""),
    ]
    .concat()
}

#[test]
fn private_and_busy_events_leak_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(
        dir.path(),
        &privacy_config(),
        "2025-11-05T09:00:00Z",
        &[("CALENDARBOT_LOG_LEVEL", "debug")],
    );
    let mut seen = String::new();
    for path in READS {
        seen.push_str(&text(&b, path));
    }
    let morning = client()
        .post(b.url("/api/morning-summary?date=2025-11-05&detail_level=verbose"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    seen.push_str(&morning);
    // Skipping the private meeting logs and answers by id only.
    let wn = get(&b, "/api/whats-next");
    let id = wn["meeting"]["meeting_id"].as_str().unwrap().to_string();
    let r = client()
        .post(b.url("/api/skip"))
        .json(&serde_json::json!({ "meeting_id": id }))
        .send()
        .unwrap();
    seen.push_str(&r.text().unwrap());
    for path in READS {
        seen.push_str(&text(&b, path));
    }
    let log = b.log();
    for s in SECRETS {
        assert!(!seen.contains(s), "{s} reached a response:\n{seen}");
        assert!(!log.contains(s), "{s} reached the log:\n{log}");
    }
    // The events still take their time, as "Busy", with nothing else.
    assert_eq!(wn["meeting"]["subject"], "Busy", "{wn}");
    assert_eq!(wn["meeting"]["start_iso"], "2025-11-05T10:00:00Z");
    assert_eq!(wn["meeting"]["location"], "");
    assert_eq!(wn["meeting"]["description"], "");
    assert_eq!(wn["meeting"]["attendees"], serde_json::json!([]));
    let later: Vec<&str> = wn["later_today"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert_eq!(later, ["Open planning", "Busy", "Busy"], "{wn}");
    let ev = get(
        &b,
        "/api/events?from=2025-11-05T00:00:00Z&to=2025-11-06T00:00:00Z",
    );
    // The hidden source's 09:30 event is not there at all.
    assert_eq!(ev["count"], 4, "{ev}");
    assert!(seen.contains("\"subject\":\"Busy\""));
    drop(b);

    // show_private = true: the private event in full (the busy source stays busy).
    let dir = tempfile::tempdir().unwrap();
    let cfg =
        privacy_config().replacen("private.ics\"\n", "private.ics\"\nshow_private = true\n", 1);
    let b = start(dir.path(), &cfg, "2025-11-05T09:00:00Z", &[]);
    let wn = get(&b, "/api/whats-next");
    assert_eq!(
        wn["meeting"]["subject"], "SECRETPRIV subject doctor",
        "{wn}"
    );
    assert_eq!(wn["later_today"][1]["subject"], "Busy", "{wn}");
}

fn day_config(extra: &str) -> String {
    format!(
        "default_timezone = \"Europe/Berlin\"\n{extra}\n{}",
        source("work", "day.ics", "")
    )
}

fn subjects(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn current_is_the_latest_started_and_later_today_ends_at_local_midnight() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), &day_config(""), "2025-11-05T08:45:00Z", &[]);
    let wn = get(&b, "/api/whats-next");
    assert_eq!(
        wn["current"],
        serde_json::json!({"meeting_id": "overlap@example.com", "subject": "Overlap call",
            "start_iso": "2025-11-05T08:30:00Z", "end_iso": "2025-11-05T09:00:00Z",
            "seconds_until_end": 900, "location": "Room overlap"}),
        "{wn}"
    );
    // The countdown still counts to the next one.
    assert_eq!(wn["meeting"]["subject"], "Alpha review");
    assert_eq!(wn["meeting"]["seconds_until_start"], 45 * 60);
    assert_eq!(wn["status"]["message"], "Starting within the hour");
    assert_eq!(
        subjects(&wn["later_today"]),
        [
            "Bravo planning",
            "Charlie sync",
            "Delta retro with a very long subject that will not fit on one line of the kiosk"
        ]
    );
    let bravo = &wn["later_today"][0];
    assert_eq!(bravo["meeting_id"], "bravo@example.com");
    assert_eq!(bravo["start_iso"], "2025-11-05T11:00:00Z");
    assert_eq!(bravo["duration_seconds"], 1800);
    assert_eq!(bravo["seconds_until_start"], 8100);
    assert_eq!(bravo["location"], "Room bravo");
    assert_eq!(bravo["raw_source"], "");
    assert_eq!(wn["data_age_s"], 0, "{wn}");
    assert_eq!(wn["stale"], false);
    assert_eq!(wn["time_format"], "24h");
    drop(b);

    // Later, the overlap call is over: the workshop (still running) is current. With room for
    // ten, the rest of the Berlin day: Echo (23:30 there), not Foxtrot (00:30 the next day).
    let dir = tempfile::tempdir().unwrap();
    let b = start(
        dir.path(),
        &day_config("later_today_max = 10\ntime_format = \"12h\""),
        "2025-11-05T09:05:00Z",
        &[],
    );
    let wn = get(&b, "/api/whats-next");
    assert_eq!(wn["current"]["subject"], "Long workshop", "{wn}");
    assert_eq!(wn["current"]["seconds_until_end"], 55 * 60);
    assert_eq!(wn["later_today"].as_array().unwrap().len(), 4, "{wn}");
    assert_eq!(wn["later_today"][3]["subject"], "Echo late call");
    assert_eq!(wn["time_format"], "12h");
    // Day summaries write local times in the configured format (speech keeps its form).
    let card = get(&b, "/api/alexa/launch-summary");
    let content = card["card"]["content"].as_str().unwrap();
    assert!(
        content.contains("10:30 AM – 11:00 AM  Alpha review"),
        "{content}"
    );
    drop(b);
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path(), &day_config(""), "2025-11-05T09:05:00Z", &[]);
    let card = get(&b, "/api/alexa/launch-summary");
    let content = card["card"]["content"].as_str().unwrap();
    assert!(content.contains("10:30 – 11:00  Alpha review"), "{content}");
}

#[test]
fn the_plain_path_gives_the_same_bytes() {
    let now = "2025-11-05T08:45:00Z";
    let reads = [
        "/api/whats-next",
        "/api/events?from=2025-11-05T00:00:00Z&to=2025-11-06T00:00:00Z",
        "/api/done-for-day?tz=Europe/Berlin",
    ];
    let run = |extra: &[(&'static str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        let b = start(dir.path(), &day_config(""), now, extra);
        // Twice: the second answer comes from the cache or the memo on the optimised path.
        let bodies: Vec<String> = reads
            .iter()
            .flat_map(|p| [text(&b, p), text(&b, p)])
            .collect();
        bodies
    };
    let plain = run(&[("CALENDARBOT_OPTIMIZATION__ENABLED", "false")]);
    let optimised = run(&[]);
    assert!(plain[0].contains("\"current\":{") && plain[0].contains("\"later_today\":[{"));
    assert_eq!(plain, optimised);
}
