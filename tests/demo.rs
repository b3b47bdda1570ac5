//! The built-in demo calendar, through the real binary and the real engine:
//! - with no feed configured, /api/whats-next shows the demo meeting 25 minutes after start;
//! - /api/health lists exactly one source, "demo", refreshed successfully;
//! - the recurring demo items (daily standup) are expanded by the engine.

mod support;

use support::{Binary, wait_for};

#[test]
fn demo_calendar_is_served_without_a_feed() {
    let dir = tempfile::tempdir().unwrap();
    let k = Binary::start_answering(
        &dir.path().join("data"),
        &[
            ("CALENDARBOT_TEST_TIME", "2025-11-05T07:00:00Z".into()),
            ("CALENDARBOT_DEFAULT_TIMEZONE", "UTC".into()),
        ],
    );
    let v = wait_for(20, "the demo meeting", || {
        let (_, v) = k.get("/api/whats-next").ok()?;
        v["meeting"].is_object().then_some(v)
    });
    assert_eq!(v["meeting"]["subject"], "Design review", "{v}");
    assert_eq!(v["meeting"]["seconds_until_start"], 25 * 60, "{v}");
    assert_eq!(v["meeting"]["location"], "Room 4.2");

    let (_, h) = k.get("/api/health").unwrap();
    let sources = h["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "{h}");
    assert_eq!(sources[0]["name"], "demo");
    assert_eq!(sources[0]["consecutive_failures"], 0);

    let (status, ev) = k
        .get("/api/events?from=2025-11-05T00:00:00Z&to=2025-11-08T00:00:00Z")
        .unwrap();
    assert_eq!(status, 200, "{ev}");
    let text = ev.to_string();
    let standups = text.matches("Daily standup").count();
    assert_eq!(standups, 3, "one standup per day: {ev}");
    assert!(text.contains("Quarterly planning"));
}
