//! The HTTP API of SPEC §6 over real HTTP (the real server on 127.0.0.1, a real SQLite store):
//! - every route answers with the documented status and JSON shape;
//! - unknown routes are 404, wrong methods 405 (with Allow), bad input 400, all as
//!   `{"error": "..."}`;
//! - /api/whats-next picks the next meeting and honours skips; DELETE /api/skip and
//!   GET /api/clear_skips bring it back;
//! - a skip is persisted: the real binary restarted on the same data directory still skips it;
//! - a browser heartbeat shows in /api/health's display probe; health reports the version;
//! - /api/events and /api/done-for-day honour their query parameters;
//! - shutdown is graceful: `serve` returns once the shutdown future resolves; a clean stop of
//!   the binary leaves no unmerged WAL;
//! - /api/events refuses windows past year 9999 (RFC 3339 has four-digit years).

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{InProcess, client, meeting};

const NOW: &str = "2025-11-05T15:00:00Z";

fn sample() -> InProcess {
    InProcess::start(
        vec![
            meeting(
                "m1",
                "Standup",
                "2025-11-05T16:00:00Z",
                "2025-11-05T16:15:00Z",
            ),
            meeting(
                "m2",
                "Planning",
                "2025-11-05T18:00:00Z",
                "2025-11-05T19:00:00Z",
            ),
        ],
        NOW,
    )
}

fn get(s: &InProcess, path: &str) -> (StatusCode, Value) {
    let r = client().get(s.url(path)).send().unwrap();
    let status = r.status();
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/json"), "{path}: {ct}");
    (status, r.json().unwrap())
}

#[test]
fn whats_next_skip_and_clear() {
    let s = sample();
    let (st, v) = get(&s, "/api/whats-next");
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["meeting"]["meeting_id"], "m1");
    assert_eq!(v["meeting"]["seconds_until_start"], 3600);
    assert_eq!(v["status"]["message"], "Starting within the hour");

    let r = client()
        .post(s.url("/api/skip"))
        .json(&json!({"meeting_id": "m1"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().unwrap();
    assert_eq!(v, json!({"skipped_until": "2025-11-06T15:00:00Z"}));
    let (_, v) = get(&s, "/api/whats-next");
    assert_eq!(v["meeting"]["meeting_id"], "m2");

    let r = client().delete(s.url("/api/skip")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().unwrap(),
        json!({"cleared": true, "count": 1})
    );
    let (_, v) = get(&s, "/api/whats-next");
    assert_eq!(v["meeting"]["meeting_id"], "m1");

    client()
        .post(s.url("/api/skip"))
        .json(&json!({"meeting_id": "m2"}))
        .send()
        .unwrap();
    let (st, v) = get(&s, "/api/clear_skips");
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        v,
        json!({"cleared": true, "count": 1, "message": "Cleared 1 skipped meetings"})
    );
}

#[test]
fn skip_rejects_bad_input() {
    let s = sample();
    let c = client();
    for body in [
        "not json",
        "{}",
        r#"{"meeting_id": ""}"#,
        r#"{"meeting_id": 7}"#,
        "[]",
    ] {
        let r = c
            .post(s.url("/api/skip"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let v: Value = r.json().unwrap();
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}: {v}"
        );
    }
}

#[test]
fn errors_are_json_with_the_right_status() {
    let s = sample();
    let c = client();
    let r = c.get(s.url("/nope")).send().unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        r.json::<Value>().unwrap(),
        json!({"error": "not found: /nope"})
    );

    let r = c.post(s.url("/api/whats-next")).send().unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "GET, HEAD");
    assert!(r.json::<Value>().unwrap()["error"].is_string());

    let r = c.get(s.url("/api/skip")).send().unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "POST, DELETE");

    let r = c.get(s.url("/api/browser-heartbeat")).send().unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);

    // HEAD works wherever GET does, without a body.
    let r = c.head(s.url("/api/whats-next")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().unwrap().is_empty());

    for bad in [
        "/api/events?from=yesterday",
        "/api/events?from=2025-11-05T00:00:00Z&to=2025-11-04T00:00:00Z",
        "/api/events?from=2025-01-01&to=2026-12-31",
        // RFC 3339 stops at year 9999: not `+10000-…`.
        "/api/events?from=9999-12-30",
        "/api/events?from=9999-12-31T00:00:00Z&to=9999-12-31T23:59:59-05:00",
        "/api/done-for-day?tz=Mars%2FOlympus",
    ] {
        let (st, v) = get(&s, bad);
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}");
        assert!(v["error"].is_string(), "{bad}");
    }
}

#[test]
fn heartbeat_shows_in_health() {
    let s = sample();
    let (st, v) = get(&s, "/api/health");
    // Stored events but no refresh yet: ok (SPEC §6).
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["status"], "ok");
    // The release version, top level and in system_diagnostics (docs/updates.md).
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        v["system_diagnostics"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(v["display_probe"]["last_render_probe_iso"], Value::Null);
    // CalendarBot says false (not null) before the first heartbeat.
    assert_eq!(v["display_probe"]["last_probe_ok"], false);
    assert_eq!(v["server_status"]["pid"], std::process::id());
    assert_eq!(v["server_status"]["mode"], "optimized");
    assert_eq!(v["data_status"]["event_count"], 2);

    let r = client()
        .post(s.url("/api/browser-heartbeat"))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let beat = r.json::<Value>().unwrap();
    assert_eq!(beat["status"], "ok");
    // Heartbeats are wall-clock time even under a fixed clock: CalendarBot's watchdog
    // compares them with its own clock.
    let stamp = beat["timestamp"].as_str().unwrap().to_string();
    let age = chrono::Utc::now() - support::t(&stamp);
    assert!(age.num_seconds().abs() < 60, "{stamp}");
    let (_, v) = get(&s, "/health");
    assert_eq!(v["display_probe"]["last_render_probe_iso"], stamp.as_str());
    assert_eq!(v["display_probe"]["last_probe_ok"], true);
    assert!(v["server_time_iso"] == NOW, "answers keep the fixed clock");
    // The heartbeat is persisted too.
    assert!(s.app.store.state("last_heartbeat").unwrap().is_some());
}

#[test]
fn health_is_503_when_degraded() {
    let s = InProcess::start(vec![], NOW);
    let (st, v) = get(&s, "/api/health");
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(v["status"], "degraded");
    let (_, v) = get(&s, "/api/whats-next");
    assert_eq!(
        v,
        json!({"meeting": null, "status": {"message": "No meetings scheduled",
        "is_urgent": false, "is_critical": false}, "current": null, "later_today": [],
        "data_age_s": null, "stale": false, "time_format": "24h"})
    );
}

#[test]
fn events_and_done_for_day() {
    let s = sample();
    let (st, v) = get(&s, "/api/events");
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["from"], NOW);
    assert_eq!(v["to"], "2025-11-12T15:00:00Z");
    assert_eq!(v["count"], 2);
    assert_eq!(
        v["events"][0],
        json!({"uid": "m1", "id": "m1", "subject": "Standup", "location": "Room 4",
            "start": "2025-11-05T16:00:00Z", "end": "2025-11-05T16:15:00Z",
            "all_day": false, "status": "busy"})
    );
    let (_, v) = get(&s, "/api/events?from=2025-11-05T17:00:00Z&to=2025-11-06");
    assert_eq!(v["count"], 1);
    assert_eq!(v["events"][0]["id"], "m2");

    let (st, v) = get(&s, "/api/done-for-day?tz=America%2FNew_York");
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["tz"], "America/New_York");
    assert_eq!(v["has_meetings_today"], true);
    assert_eq!(v["last_meeting_end_iso"], "2025-11-05T19:00:00Z");
    assert_eq!(v["last_meeting_end_local_iso"], "2025-11-05T14:00:00-05:00");
    let (_, v) = get(&s, "/api/done-for-day");
    assert_eq!(v["tz"], "UTC");
}

#[test]
fn page_is_served() {
    let s = sample();
    let r = client().get(s.url("/")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = r.text().unwrap();
    assert!(body.contains(r#"<meta name="calendarbot-ready" content="0">"#));
    assert!(body.contains("STARTS IN"));
}

#[test]
fn shutdown_returns() {
    let s = sample();
    let c = client();
    assert_eq!(c.get(s.url("/api/health")).send().unwrap().status(), 200);
    let addr = s.addr;
    let t0 = std::time::Instant::now();
    s.stop().unwrap();
    // An idle keep-alive connection does not hold shutdown for the grace period.
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(4),
        "{:?}",
        t0.elapsed()
    );
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn skip_survives_a_restart_of_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let feed = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/calendarbot/daily-recurring.ics");
    let env = [
        ("CALENDARBOT_ICS_URL", format!("file://{}", feed.display())),
        ("CALENDARBOT_TEST_TIME", "2025-11-03T16:00:00Z".to_string()),
    ];
    let first = "daily-recurring-202511-001@example.com_20251103T170000";
    let second = "daily-recurring-202511-001@example.com_20251104T170000";
    let next = |b: &support::Binary| -> Value {
        client()
            .get(b.url("/api/whats-next"))
            .send()
            .unwrap()
            .json::<Value>()
            .unwrap()["meeting"]["meeting_id"]
            .clone()
    };
    let mut b = support::Binary::start(dir.path(), &env);
    assert_eq!(next(&b), first);
    let r = client()
        .post(b.url("/api/skip"))
        .json(&json!({"meeting_id": first}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(next(&b), second);
    let r = client()
        .post(b.url("/api/browser-heartbeat"))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h: Value = client()
        .get(b.url("/api/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(h["display_probe"]["last_probe_ok"], true);
    let stamp = h["display_probe"]["last_render_probe_iso"]
        .as_str()
        .unwrap();
    let age = chrono::Utc::now() - support::t(stamp);
    assert!(
        age.num_seconds().abs() < 60,
        "wall-clock heartbeat: {stamp}"
    );
    assert_eq!(h["status"], "ok");
    assert!(b.stop().is_some_and(|s| s.success()), "{}", b.log());
    // A clean shutdown merges the WAL: the database file is complete on its own.
    let wal = dir
        .path()
        .join(format!("{}-wal", calendarbot::store::DB_FILE));
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "WAL left unmerged after a clean shutdown");

    let mut b = support::Binary::start(dir.path(), &env);
    assert_eq!(next(&b), second, "the skip was lost across a restart");
    let r = client().delete(b.url("/api/skip")).send().unwrap();
    assert_eq!(
        r.json::<Value>().unwrap(),
        json!({"cleared": true, "count": 1})
    );
    assert_eq!(next(&b), first);
    b.stop();
}

/// Skips are capped: a flood keeps the newest [`calendarbot::store::MAX_SKIPS`], in memory
/// and in SQLite, and the latest skip always holds.
#[test]
fn a_skip_flood_is_capped() {
    let s = sample();
    let cap = calendarbot::store::MAX_SKIPS;
    for i in 0..cap + 50 {
        s.app.skip(&format!("flood-{i:05}")).unwrap();
    }
    let before = s.app.snapshot();
    s.app.skip("m1").unwrap();
    let snap = s.app.snapshot();
    assert_eq!(snap.skips.len(), cap);
    // Copy-on-write copies pointers: the ids of the old map are the new map's ids.
    let (old_key, _) = before.skips.get_key_value("flood-00000").unwrap();
    let (new_key, _) = snap.skips.get_key_value("flood-00000").unwrap();
    assert!(std::sync::Arc::ptr_eq(old_key, new_key));
    assert!(snap.skips.contains_key("m1"));
    let stored = s.app.store.load_skips(support::t(NOW)).unwrap();
    assert_eq!(stored.len(), cap);
    assert!(stored.contains_key("m1"));
    let (_, v) = get(&s, "/api/whats-next");
    assert_eq!(v["meeting"]["meeting_id"], "m2");
}

/// `GET /api/clear_skips` stays for CalendarBot's documented `curl` use (no client of
/// CalendarBot calls it from a page), but another site cannot make a browser call it: an
/// `<img src>` (Sec-Fetch-Site cross-site or same-site), a foreign `Origin`, or — from a
/// browser without Fetch Metadata — a foreign `Referer` is refused, and the skips stay.
#[test]
fn clear_skips_by_get_is_for_scripts_not_for_other_sites() {
    let s = sample();
    let c = client();
    let skip = c
        .post(s.url("/api/skip"))
        .json(&json!({"meeting_id": "m1"}))
        .send()
        .unwrap();
    assert_eq!(skip.status(), StatusCode::OK);
    let next = || get(&s, "/api/whats-next").1["meeting"]["meeting_id"].clone();
    assert_ne!(next(), "m1");
    let refused = |rb: reqwest::blocking::RequestBuilder, what: &str| {
        let r = rb.send().unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{what}");
        let v: Value = r.json().unwrap();
        assert!(v["error"].is_string(), "{what}: {v}");
    };
    let url = s.url("/api/clear_skips");
    refused(
        c.get(&url)
            .header("sec-fetch-site", "cross-site")
            .header("sec-fetch-mode", "no-cors")
            .header("sec-fetch-dest", "image"),
        "an <img> on another site",
    );
    refused(
        c.get(&url).header("sec-fetch-site", "same-site"),
        "a page on a sibling site",
    );
    refused(
        c.get(&url).header("origin", "http://evil.example"),
        "a foreign Origin",
    );
    refused(
        c.get(&url).header("referer", "http://evil.example/page"),
        "a foreign Referer (a browser without Fetch Metadata)",
    );
    assert_ne!(next(), "m1", "the skip is still there");
    // The address bar (navigation, no site) and curl (no browser headers) still clear.
    let typed = c
        .get(&url)
        .header("sec-fetch-site", "none")
        .header("sec-fetch-mode", "navigate")
        .send()
        .unwrap();
    assert_eq!(typed.status(), StatusCode::OK);
    let v: Value = typed.json().unwrap();
    assert_eq!(v["cleared"], true, "{v}");
    assert_eq!(v["count"], 1, "{v}");
    assert!(v["message"].is_string(), "{v}");
    assert_eq!(next(), "m1");
    let curl = c.get(&url).send().unwrap();
    assert_eq!(curl.status(), StatusCode::OK);
}

/// CSRF and DNS rebinding: a skip must be JSON and not cross-site; a foreign `Host` is
/// refused; OPTIONS names the methods and grants no CORS; the page carries security headers.
#[test]
fn cross_site_and_foreign_host_requests_are_refused() {
    let s = sample();
    let c = client();
    let skip = |rb: reqwest::blocking::RequestBuilder| {
        let r = rb.send().unwrap();
        let st = r.status();
        let v: Value = r.json().unwrap();
        assert!(v["error"].is_string(), "{v}");
        st
    };
    let plain = c
        .post(s.url("/api/skip"))
        .header("content-type", "text/plain")
        .body(r#"{"meeting_id":"m1"}"#);
    assert_eq!(skip(plain), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let form = c
        .post(s.url("/api/skip"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("meeting_id=m1");
    assert_eq!(skip(form), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let foreign = c
        .post(s.url("/api/skip"))
        .header("origin", "http://evil.example")
        .json(&json!({"meeting_id": "m1"}));
    assert_eq!(skip(foreign), StatusCode::FORBIDDEN);
    let beat = c
        .post(s.url("/api/browser-heartbeat"))
        .header("sec-fetch-site", "cross-site");
    assert_eq!(skip(beat), StatusCode::FORBIDDEN);
    let clear = c.delete(s.url("/api/skip")).header("origin", "null");
    assert_eq!(skip(clear), StatusCode::FORBIDDEN);
    let rebound = c
        .get(s.url("/api/whats-next"))
        .header("host", "attacker.example:8080");
    assert_eq!(skip(rebound), StatusCode::FORBIDDEN);
    // Nothing above skipped anything.
    let (_, v) = get(&s, "/api/whats-next");
    assert_eq!(v["meeting"]["meeting_id"], "m1");
    // Same-origin (the kiosk page) and CalendarBot's page (a heartbeat with no type) work.
    let page = c
        .post(s.url("/api/skip"))
        .header("origin", s.url("").trim_end_matches('/'))
        .header("sec-fetch-site", "same-origin")
        .json(&json!({"meeting_id": "m1"}))
        .send()
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let beat = c.post(s.url("/api/browser-heartbeat")).send().unwrap();
    assert_eq!(beat.status(), StatusCode::OK);
    let local = c
        .get(s.url("/api/health"))
        .header("host", "localhost")
        .send()
        .unwrap();
    assert_eq!(local.status(), StatusCode::OK);

    let r = c
        .request(reqwest::Method::OPTIONS, s.url("/api/skip"))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["allow"], "OPTIONS, POST, DELETE");
    assert!(r.headers().get("access-control-allow-origin").is_none());

    let r = c.get(s.url("/")).send().unwrap();
    let h = r.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
}

/// A database file deleted under the running service: health says so (degraded, 503) instead
/// of reporting healthy while nothing is saved.
#[test]
fn a_deleted_database_file_shows_in_health() {
    let s = sample();
    let (st, v) = get(&s, "/api/health");
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["data_status"]["database_file_present"], true);
    std::fs::remove_file(s.app.store.path()).unwrap();
    let (st, v) = get(&s, "/api/health");
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["status"], "degraded");
    assert_eq!(v["data_status"]["database_file_present"], false);
}

/// Too many header fields (small ones, under the byte cap): 431 with a JSON body, like the
/// byte cap, not hyper's empty one.
#[test]
fn too_many_header_fields_is_431_json() {
    use std::io::{Read, Write};
    let s = sample();
    let url = s.url("/api/health");
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let mut req = String::from("GET /api/health HTTP/1.1\r\nHost: localhost\r\n");
    for i in 0..150 {
        req.push_str(&format!("X-F{i}: 1\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    c.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 431"), "{out}");
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default();
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(v["error"].is_string(), "{out}");
}
