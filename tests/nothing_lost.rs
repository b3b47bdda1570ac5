//! "Nothing lost" (SPEC §4), against the real binary, a real feed server and real SQLite.
//! After one good refresh the feed turns bad; for each way a feed can fail —
//! HTTP 500, connection refused, a hang past the timeout, garbage bytes, a truncated body,
//! a 60 MB body (declared, and streamed without a length) — this checks that:
//! - the last good meeting keeps being served by /api/whats-next and stays in SQLite;
//! - /api/health names the failing source with consecutive_failures and last_error;
//! - /api/health turns 503 once the newest success is older than 3 refresh intervals;
//! - (60 MB) the process's peak RSS (VmHWM) stays under 64 MB: the cap is enforced while
//!   streaming, the body is never buffered past it;
//! - with CALENDARBOT_TEST_TIME fixing "now", staleness still follows real elapsed time.
//!
//! Needs the `fault-injection` feature: it allows a 1-second refresh interval.
#![cfg(feature = "fault-injection")]

mod support;

use calendarbot::store::Store;
use support::{Binary, FeedServer, Mode, ics, wait_for};

const SUBJECT: &str = "Budget review";
const MB: usize = 1024 * 1024;

fn good_feed() -> Mode {
    Mode::Ok {
        body: ics(&[("budget-1", SUBJECT, 120, 30)]),
        etag: "\"v1\"".into(),
    }
}

fn env(feed: &FeedServer, extra: &[(&str, String)]) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("CALENDARBOT_ICS_URL", feed.url()),
        ("CALENDARBOT_REFRESH_INTERVAL", "1".into()),
        ("CALENDARBOT_FETCH__TIMEOUT_SECS", "2".into()),
        ("CALENDARBOT_FETCH__READ_TIMEOUT_SECS", "1".into()),
        ("CALENDARBOT_FETCH__CONNECT_TIMEOUT_SECS", "1".into()),
        ("CALENDARBOT_FETCH__MAX_RETRIES", "1".into()),
        ("CALENDARBOT_FETCH__RETRY_BASE_MS", "50".into()),
    ];
    for (k, val) in extra {
        let k: &'static str = Box::leak(k.to_string().into_boxed_str());
        v.push((k, val.clone()));
    }
    v
}

/// Run one failure scenario; returns the kiosk (still running) for extra checks.
fn scenario(
    bad: Mode,
    expected_error: &str,
    extra: &[(&str, String)],
) -> (Binary, FeedServer, tempfile::TempDir) {
    let feed = FeedServer::start(good_feed());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let k = Binary::start_answering(&data, &env(&feed, extra));

    wait_for(20, "the first good refresh", || {
        (k.next_subject().as_deref() == Some(SUBJECT)).then_some(())
    });
    let (status, h) = k.source_health("default");
    assert_eq!(status, 200, "healthy after a good refresh: {h}");
    assert_eq!(h["consecutive_failures"], 0);

    feed.set(bad);
    let h = wait_for(40, "two recorded failures", || {
        let (_, h) = k.source_health("default");
        (h["consecutive_failures"].as_u64()? >= 2).then_some(h)
    });
    let err = h["last_error"].as_str().unwrap_or_default().to_string();
    assert!(
        err.contains(expected_error),
        "last_error {err:?} should mention {expected_error:?}"
    );
    assert!(
        !err.contains("127.0.0.1"),
        "errors never carry the feed URL: {err}"
    );
    assert_eq!(
        k.next_subject().as_deref(),
        Some(SUBJECT),
        "last good meeting is kept"
    );

    let (status, health) = wait_for(40, "health to turn degraded", || {
        let (s, v) = k.get("/api/health").ok()?;
        (s == 503).then_some((s, v))
    });
    assert_eq!(status, 503);
    assert_eq!(health["status"], "degraded");
    assert!(
        health["data_status"]["last_refresh_success_age_s"]
            .as_i64()
            .unwrap()
            >= 3
    );
    assert_eq!(
        k.next_subject().as_deref(),
        Some(SUBJECT),
        "still served when stale"
    );

    // The store holds the last good window too (what a restart would serve).
    let store = Store::open(&data).unwrap();
    let windows = store.load_windows().unwrap();
    assert_eq!(windows["default"].len(), 1);
    assert_eq!(windows["default"][0].details.subject(), SUBJECT);
    let st = store.source_state("default").unwrap().unwrap();
    assert!(st.consecutive_failures >= 2);
    assert!(st.last_success.is_some());
    (k, feed, dir)
}

#[test]
fn http_500() {
    scenario(Mode::Status(500), "HTTP 500", &[]);
}

#[test]
fn connection_refused() {
    scenario(Mode::Refuse, "network error", &[]);
}

#[test]
fn hang_past_the_timeout() {
    scenario(Mode::Hang, "timed out", &[]);
}

#[test]
fn garbage_bytes() {
    scenario(Mode::Garbage, "parse failed", &[]);
}

#[test]
fn truncated_body() {
    let body = ics(&[("budget-1", SUBJECT, 120, 30), ("other", "Other", 240, 30)]);
    scenario(Mode::Truncated { body }, "network error", &[]);
}

fn huge(chunked: bool) {
    let (k, feed, _dir) = scenario(
        Mode::Huge {
            len: 60 * MB,
            chunked,
        },
        "larger than",
        &[],
    );
    let hwm_kb = k.vm_hwm_kb();
    println!(
        "VmHWM after 60 MB bodies (chunked: {chunked}): {} kB, bodies started: {}",
        hwm_kb,
        feed.bodies_started()
    );
    assert!(hwm_kb < 64 * 1024, "peak RSS {hwm_kb} kB exceeds 64 MB");
}

#[test]
fn body_of_60_mb_declared() {
    huge(false);
}

#[test]
fn body_of_60_mb_streamed() {
    huge(true);
}

#[test]
fn staleness_uses_real_time_under_a_fixed_clock() {
    let now = chrono::Utc::now().to_rfc3339();
    scenario(
        Mode::Status(503),
        "HTTP 503",
        &[("CALENDARBOT_TEST_TIME", now)],
    );
}
