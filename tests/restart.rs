//! Restarts, against the real binary, a real feed server and real SQLite:
//! - `kill -9` in the middle of a refresh (the feed trickles its body), then a restart with
//!   the feed down: the last good meeting is served from SQLite by the very first request;
//! - health after that restart names the failing source and keeps the previous success time;
//! - a skip survives a re-parse of a changed feed (occurrence ids are stable) and a restart;
//! - a source removed from the configuration is forgotten at the next start;
//! - a restart serves the near part of the stored window first, then the rest follows (a
//!   meeting five days ahead comes back with the feed down).
//!
//! Needs the `fault-injection` feature: it allows a 1-second refresh interval.
#![cfg(feature = "fault-injection")]

mod support;

use serde_json::json;
use support::{Binary, FeedServer, Mode, ics, wait_for};

fn env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CALENDARBOT_ICS_URL", url.to_string()),
        ("CALENDARBOT_REFRESH_INTERVAL", "1".into()),
        ("CALENDARBOT_FETCH__TIMEOUT_SECS", "30".into()),
        ("CALENDARBOT_FETCH__READ_TIMEOUT_SECS", "5".into()),
        ("CALENDARBOT_FETCH__CONNECT_TIMEOUT_SECS", "1".into()),
        ("CALENDARBOT_FETCH__MAX_RETRIES", "0".into()),
    ]
}

#[test]
fn kill_9_mid_refresh_then_restart_with_the_feed_down() {
    let first = ics(&[
        ("standup", "Standup", 60, 15),
        ("review", "Design review", 120, 30),
    ]);
    let feed = FeedServer::start(Mode::Ok {
        body: first,
        etag: "\"v1\"".into(),
    });
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut k = Binary::start_answering(&data, &env(&feed.url()));
    wait_for(20, "the first good refresh", || {
        (k.next_subject().as_deref() == Some("Standup")).then_some(())
    });

    // Skip the next meeting; the one after it becomes next.
    let (status, body) = k.post("/api/skip", json!({"meeting_id": "standup"}));
    assert_eq!(status, 200, "{body}");
    assert!(body["skipped_until"].is_string(), "{body}");
    assert_eq!(k.next_subject().as_deref(), Some("Design review"));

    // The feed changes (a new event): it is re-parsed, and the skip still holds.
    let second = ics(&[
        ("standup", "Standup", 60, 15),
        ("review", "Design review", 120, 30),
        ("retro", "Retro", 180, 30),
    ]);
    feed.set(Mode::Ok {
        body: second.clone(),
        etag: "\"v2\"".into(),
    });
    wait_for(20, "the changed feed to be stored", || {
        let (_, v) = k.get("/api/health").ok()?;
        let n = v["data_status"]["event_count"].as_u64()?;
        (n == 3).then_some(())
    });
    assert_eq!(k.next_subject().as_deref(), Some("Design review"));

    // Kill -9 while a refresh is reading a slow body.
    let started = feed.bodies_started();
    feed.set(Mode::Trickle {
        body: ics(&[("other", "Other meeting", 30, 30)]),
        bytes_per_tick: 16,
    });
    wait_for(20, "a refresh in the middle of the body", || {
        (feed.bodies_started() > started).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    k.kill();

    // Restart with the feed down: served from SQLite at once, skip intact.
    feed.set(Mode::Refuse);
    let k = Binary::start_answering(&data, &env(&feed.url()));
    assert_eq!(
        k.next_subject().as_deref(),
        Some("Design review"),
        "{}",
        k.log()
    );
    let (_, v) = k.get("/api/health").unwrap();
    assert_eq!(v["data_status"]["event_count"], 3);
    let (_, h) = wait_for(20, "the failing source in health", || {
        let (s, h) = k.source_health("default");
        (h["consecutive_failures"].as_u64()? >= 1).then_some((s, h))
    });
    assert!(
        h["last_success_age_s"].as_i64().is_some(),
        "previous success kept: {h}"
    );
    assert!(
        h["last_error"].as_str().unwrap().contains("network error"),
        "{h}"
    );
    assert_eq!(k.next_subject().as_deref(), Some("Design review"));

    // Clearing the skips brings the skipped meeting back.
    let (status, body) = k.get("/api/clear_skips").unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["count"], 1, "{body}");
    assert_eq!(k.next_subject().as_deref(), Some("Standup"));
}

#[test]
fn removed_source_is_forgotten() {
    let feed = FeedServer::start(Mode::Ok {
        body: ics(&[("standup", "Standup", 60, 15)]),
        etag: "\"v1\"".into(),
    });
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let k = Binary::start_answering(&data, &env(&feed.url()));
        wait_for(20, "the first good refresh", || {
            (k.next_subject().as_deref() == Some("Standup")).then_some(())
        });
    }
    // No source configured: the demo calendar replaces the old feed.
    let k = Binary::start_answering(&data, &[]);
    let (_, h) = wait_for(20, "the demo source", || {
        let (s, h) = k.source_health("demo");
        (h["consecutive_failures"] == 0 && h["last_success_age_s"].is_i64()).then_some((s, h))
    });
    assert_eq!(h["name"], "demo");
    let (_, v) = k.get("/api/health").unwrap();
    let names: Vec<_> = v["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("demo")]);
    assert_ne!(k.next_subject().as_deref(), Some("Standup"));
}

#[test]
fn the_rest_of_the_stored_window_follows_the_near_part() {
    let feed = FeedServer::start(Mode::Ok {
        body: ics(&[
            ("soon", "Soon", 60, 30),
            ("later", "Five days ahead", 5 * 24 * 60, 30),
        ]),
        etag: "\"v1\"".into(),
    });
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut k = Binary::start_answering(&data, &env(&feed.url()));
    wait_for(20, "the first good refresh", || {
        (k.next_subject().as_deref() == Some("Soon")).then_some(())
    });
    k.kill();

    // Feed down: the near part answers, and the meeting past the next 48 hours follows.
    feed.set(Mode::Refuse);
    let k = Binary::start_answering(&data, &env(&feed.url()));
    assert_eq!(k.next_subject().as_deref(), Some("Soon"), "{}", k.log());
    let from = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let to = (chrono::Utc::now() + chrono::Duration::days(7)).format("%Y-%m-%dT%H:%M:%SZ");
    let path = format!("/api/events?from={from}&to={to}");
    wait_for(10, "the rest of the stored window", || {
        let (_, v) = k.get(&path).ok()?;
        v.to_string().contains("Five days ahead").then_some(())
    });
}
