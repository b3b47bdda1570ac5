//! Cache warming, against the real binary, a real feed server and real SQLite: when a new
//! calendar is published, the kiosk's next answer (whats-next) is computed before its first
//! poll, so that poll is a cache hit carrying the new meeting; with the cache off nothing is
//! warmed and the poll is computed as before.
//!
//! Needs the `fault-injection` feature: it allows a 1-second refresh interval.
#![cfg(feature = "fault-injection")]

mod support;

use support::{Binary, FeedServer, Mode, client, ics, wait_for};

fn env(url: &str, cache: bool) -> Vec<(&'static str, String)> {
    vec![
        ("CALENDARBOT_ICS_URL", url.to_string()),
        ("CALENDARBOT_REFRESH_INTERVAL", "1".into()),
        ("CALENDARBOT_FETCH__MAX_RETRIES", "0".into()),
        // Long enough that an entry warmed at publication is still there when the test asks.
        ("CALENDARBOT_OPTIMIZATION__CACHE_TTL_SECS", "600".into()),
        (
            "CALENDARBOT_OPTIMIZATION__RESPONSE_CACHE",
            cache.to_string(),
        ),
    ]
}

fn warmed(b: &Binary) -> u64 {
    let (_, s) = b.get("/api/status/optimization").unwrap();
    s["warmed"].as_u64().unwrap()
}

/// The first whats-next after the feed changed: (path header, subject).
fn first_poll_after_change(b: &Binary, feed: &FeedServer, cache: bool) -> (String, String) {
    let before = warmed(b);
    feed.set(Mode::Ok {
        body: ics(&[("review", "Design review", 90, 30)]),
        etag: "\"v2\"".into(),
    });
    // Wait for the new calendar without asking whats-next (that would fill the cache).
    wait_for(20, "the changed feed to be published", || {
        let (_, e) = b.get("/api/events").ok()?;
        e.to_string().contains("Design review").then_some(())
    });
    if cache {
        wait_for(10, "the new calendar to be warmed", || {
            (warmed(b) > before).then_some(())
        });
    } else {
        std::thread::sleep(std::time::Duration::from_millis(500));
        assert_eq!(warmed(b), 0, "warmed with the cache off");
    }
    let r = client().get(b.url("/api/whats-next")).send().unwrap();
    let path = r
        .headers()
        .get("x-calendarbot-path")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let v: serde_json::Value = r.json().unwrap();
    (
        path,
        v["meeting"]["subject"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn the_first_poll_after_a_new_calendar_is_a_cache_hit() {
    let feed = FeedServer::start(Mode::Ok {
        body: ics(&[("standup", "Standup", 60, 15)]),
        etag: "\"v1\"".into(),
    });
    let dir = tempfile::tempdir().unwrap();
    let mut b = Binary::start(dir.path(), &env(&feed.url(), true));
    assert_eq!(b.next_subject().as_deref(), Some("Standup"));
    let (path, subject) = first_poll_after_change(&b, &feed, true);
    assert_eq!(subject, "Design review");
    assert_eq!(path, "optimized; cache=hit");
    let text = b.text("/metrics");
    assert!(
        text.lines()
            .any(|l| l.starts_with("calendarbot_cache_warmed_total ") && !l.ends_with(" 0")),
        "{text}"
    );
    b.stop();
}

#[test]
fn nothing_is_warmed_with_the_cache_off() {
    let feed = FeedServer::start(Mode::Ok {
        body: ics(&[("standup", "Standup", 60, 15)]),
        etag: "\"v1\"".into(),
    });
    let dir = tempfile::tempdir().unwrap();
    let mut b = Binary::start(dir.path(), &env(&feed.url(), false));
    let (path, subject) = first_poll_after_change(&b, &feed, false);
    assert_eq!(subject, "Design review");
    assert_ne!(path, "optimized; cache=hit");
    b.stop();
}
