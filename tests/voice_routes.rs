//! The voice and day-level routes over real HTTP against the real binary:
//! - every /api/alexa/* route refuses a request without a token, with a wrong token, and —
//!   when no token is configured — even with an Authorization header: 401 with
//!   `WWW-Authenticate: Bearer ...` and a JSON error; the right token gets 200; an empty
//!   configured token (CalendarBot's `.env`) counts as none, with one warning;
//! - CalendarBot's Alexa Lambda finds `meeting.speech_text`/`meeting.ssml`,
//!   `next_meeting.speech_text` and `duration_spoken` "in 40 minutes" where it reads them;
//! - the morning summary carries CalendarBot's `analysis_time`, `meeting_insights`,
//!   `free_blocks` and `metadata`;
//! - subjects with `&`, `<`, `>` and quotes come out as valid, escaped SSML on every route;
//! - bad parameters are 400 `{"error"}` naming the parameter; a wrong method is 405 with Allow;
//! - GET /api/done-for-day?tz= gives the real answer for the asked zone's local day (not the
//!   Python server's "no meetings"), from the whole day: a day of 60 meetings ends with the
//!   60th, not with a 50-event window;
//! - POST /api/morning-summary (no token) previews the *local* date in the given zone: the same
//!   instant and feed give Nov 6 in Los Angeles and Nov 7 (with an early start) in Tokyo.

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use support::{Binary, client};

const TOKEN: &str = "voice-token-19c2";
const ROUTES: [&str; 5] = [
    "/api/alexa/next-meeting",
    "/api/alexa/time-until-next",
    "/api/alexa/done-for-day",
    "/api/alexa/launch-summary",
    "/api/alexa/morning-summary",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/calendarbot/alexa")
        .join(name)
}

fn start(dir: &Path, feed: &Path, now: &str, token: Option<&str>) -> Binary {
    let mut env = vec![
        ("CALENDARBOT_ICS_URL", format!("file://{}", feed.display())),
        ("CALENDARBOT_TEST_TIME", now.to_string()),
    ];
    if let Some(t) = token {
        env.push(("CALENDARBOT_ALEXA_BEARER_TOKEN", t.to_string()));
    }
    Binary::start(dir, &env)
}

/// Send and parse the JSON answer.
fn json_of(rb: reqwest::blocking::RequestBuilder) -> Value {
    rb.send().unwrap().json().unwrap()
}

/// `ssml` is present, at most 8,000 characters, strict XML rooted at `<speak>`; returns its
/// text content.
fn assert_speak(v: &Value, what: &str) -> String {
    let ssml = v["ssml"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no ssml in {v}"));
    assert!(ssml.chars().count() <= 8000, "{what}");
    let doc = roxmltree::Document::parse(ssml).unwrap_or_else(|e| panic!("{what}: {e}: {ssml}"));
    assert_eq!(doc.root_element().tag_name().name(), "speak", "{what}");
    doc.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect()
}

fn assert_refused(r: reqwest::blocking::Response, what: &str) {
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{what}");
    let challenge = r
        .headers()
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("{what}: no WWW-Authenticate"))
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.starts_with("Bearer"), "{what}: {challenge}");
    let v: Value = r.json().unwrap();
    assert!(v["error"].is_string(), "{what}: {v}");
    assert!(v.get("speech_text").is_none(), "{what}: leaked an answer");
}

#[test]
fn every_alexa_route_needs_the_configured_token() {
    let dir = tempfile::tempdir().unwrap();
    let feed = fixture("multiple-meetings-today.ics");
    let s = start(dir.path(), &feed, "2025-11-05T09:00:00-08:00", Some(TOKEN));
    let c = client();
    for route in ROUTES {
        assert_refused(
            c.get(s.url(route)).send().unwrap(),
            &format!("{route} no token"),
        );
        assert_refused(
            c.get(s.url(route)).bearer_auth("wrong").send().unwrap(),
            &format!("{route} wrong token"),
        );
        assert_refused(
            c.get(s.url(route))
                .bearer_auth(format!("{TOKEN}x"))
                .send()
                .unwrap(),
            &format!("{route} longer token"),
        );
        assert_refused(
            c.get(s.url(route))
                .basic_auth(TOKEN, Some(""))
                .send()
                .unwrap(),
            &format!("{route} basic auth"),
        );
        let r = c.get(s.url(route)).bearer_auth(TOKEN).send().unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{route}");
        let v: Value = r.json().unwrap();
        assert!(
            v["speech_text"].as_str().is_some_and(|t| !t.is_empty()),
            "{route}: {v}"
        );
        assert!(v["card"]["title"].is_string(), "{route}: {v}");
        assert_speak(&v, route);
        // The wrong method, with the token, is 405.
        let r = c.post(s.url(route)).bearer_auth(TOKEN).send().unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{route}");
        assert_eq!(r.headers()["allow"], "GET, HEAD");
    }
}

#[test]
fn without_a_configured_token_the_alexa_routes_are_closed() {
    let feed = fixture("multiple-meetings-today.ics");
    {
        let dir = tempfile::tempdir().unwrap();
        let s = start(dir.path(), &feed, "2025-11-05T09:00:00-08:00", None);
        let c = client();
        for route in ROUTES {
            let what = format!("{route} without a configured token");
            assert_refused(c.get(s.url(route)).send().unwrap(), &what);
            assert_refused(
                c.get(s.url(route)).bearer_auth("anything").send().unwrap(),
                &what,
            );
            assert_refused(
                c.get(s.url(route))
                    .header("Authorization", "Bearer ")
                    .send()
                    .unwrap(),
                &what,
            );
        }
        // The kiosk's own routes stay open.
        let r = c
            .post(s.url("/api/morning-summary?timezone=America%2FLos_Angeles"))
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    // An empty token (as CalendarBot's `.env` templates write it) is unset: the service starts,
    // the routes answer 401, and the log says so once.
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), &feed, "2025-11-05T09:00:00-08:00", Some(""));
    let c = client();
    for route in ROUTES {
        assert_refused(
            c.get(s.url(route))
                .header("Authorization", "Bearer ")
                .send()
                .unwrap(),
            &format!("{route} with an empty configured token"),
        );
    }
    assert_eq!(
        s.log().matches("alexa_bearer_token is empty").count(),
        1,
        "{}",
        s.log()
    );
}

/// What CalendarBot's Alexa Lambda reads: `meeting.speech_text` and `meeting.ssml` of
/// next-meeting, `next_meeting.speech_text` of launch-summary, `duration_spoken` "in …".
#[test]
fn calendarbot_lambda_fields_are_where_it_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let feed = fixture("multiple-meetings-today.ics");
    let s = start(dir.path(), &feed, "2025-11-05T09:20:00-08:00", Some(TOKEN));
    let c = client();
    let next = json_of(
        c.get(s.url("/api/alexa/next-meeting?tz=America%2FLos_Angeles"))
            .bearer_auth(TOKEN),
    );
    let m = &next["meeting"];
    assert_eq!(m["speech_text"], next["speech_text"], "{next}");
    assert_eq!(m["ssml"], next["ssml"], "{next}");
    assert!(
        m["speech_text"].as_str().unwrap().contains("Team Standup"),
        "{next}"
    );
    assert_eq!(m["duration_spoken"], "in 40 minutes", "{next}");
    let until = json_of(
        c.get(s.url("/api/alexa/time-until-next?tz=America%2FLos_Angeles"))
            .bearer_auth(TOKEN),
    );
    assert_eq!(until["duration_spoken"], "in 40 minutes", "{until}");
    let speech = until["speech_text"].as_str().unwrap();
    assert!(speech.contains("starts in 40 minutes"), "{speech}");
    let launch = json_of(
        c.get(s.url("/api/alexa/launch-summary?tz=America%2FLos_Angeles"))
            .bearer_auth(TOKEN),
    );
    assert_eq!(
        launch["next_meeting"]["speech_text"], launch["speech_text"],
        "{launch}"
    );
}

#[test]
fn morning_summary_previews_the_local_date_of_the_zone() {
    let dir = tempfile::tempdir().unwrap();
    let feed = fixture("tomorrow-few-meetings.ics");
    // 20:00 PST on Nov 5 = 04:00Z Nov 6 = 13:00 JST Nov 6.
    let s = start(dir.path(), &feed, "2025-11-05T20:00:00-08:00", None);
    let c = client();
    let la = json_of(c.post(s.url("/api/morning-summary?timezone=America%2FLos_Angeles")));
    assert_eq!(la["summary"]["date"], "2025-11-06");
    assert_eq!(la["summary"]["preview_for"], "tomorrow_morning");
    assert_eq!(la["summary"]["meeting_count"], 2);
    assert_eq!(la["summary"]["early_start_flag"], false);
    // CalendarBot's structured fields, beside ours.
    let sum = &la["summary"];
    assert!(
        sum["analysis_time"]
            .as_str()
            .is_some_and(|t| t.starts_with("2025-11-06T04:00")),
        "{sum}"
    );
    assert_eq!(
        sum["meeting_insights"].as_array().unwrap().len(),
        2,
        "{sum}"
    );
    assert_eq!(
        sum["meeting_insights"][0]["subject"], "Morning Standup",
        "{sum}"
    );
    let blocks = sum["free_blocks"].as_array().unwrap();
    assert!(!blocks.is_empty(), "{sum}");
    assert_eq!(blocks[0]["start_time"], "2025-11-06T14:00:00Z", "{sum}");
    assert_eq!(sum["metadata"]["preview_for"], "tomorrow_morning", "{sum}");
    assert_eq!(
        sum["metadata"]["generation_context"]["reference_day"], "tomorrow",
        "{sum}"
    );
    let speech = la["speech_text"].as_str().unwrap();
    assert!(speech.contains("light day tomorrow"), "{speech}");
    assert!(speech.contains("Morning Standup at 10:00 am"), "{speech}");
    let ssml = la["ssml"].as_str().unwrap();
    assert_eq!(
        roxmltree::Document::parse(ssml)
            .unwrap()
            .root_element()
            .tag_name()
            .name(),
        "speak"
    );
    // Tokyo: after noon on Nov 6, so tomorrow is Nov 7, when the same meetings fall at
    // 3:00 and 7:00 in the morning.
    let tokyo =
        json_of(c.post(s.url("/api/morning-summary?timezone=Asia%2FTokyo&prefer_ssml=false")));
    assert_eq!(tokyo["summary"]["date"], "2025-11-07");
    assert_eq!(tokyo["summary"]["early_start_flag"], true);
    assert!(tokyo.get("ssml").is_none());
    let speech = tokyo["speech_text"].as_str().unwrap();
    assert!(
        speech.contains("early start: Morning Standup at 3:00 am"),
        "{speech}"
    );
}

#[test]
fn markup_in_subjects_is_escaped_in_ssml() {
    let subject = r#"R&D <Planning> "Q4" & 'more'"#;
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//voice//EN\r\n\
         BEGIN:VEVENT\r\nUID:x@test\r\nDTSTART:20251105T180000Z\r\nDTEND:20251105T183000Z\r\n\
         SUMMARY:{subject}\r\nLOCATION:Room <B> & C\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:y@test\r\nDTSTART:20251106T180000Z\r\nDTEND:20251106T183000Z\r\n\
         SUMMARY:{subject}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("markup.ics");
    std::fs::write(&feed, ics).unwrap();
    let s = start(
        &dir.path().join("data"),
        &feed,
        "2025-11-05T08:00:00-08:00",
        Some(TOKEN),
    );
    let c = client();
    for route in ROUTES {
        let q = "?tz=America%2FLos_Angeles&timezone=America%2FLos_Angeles&detail_level=verbose";
        let v = json_of(c.get(s.url(&format!("{route}{q}"))).bearer_auth(TOKEN));
        let text = assert_speak(&v, route);
        let speech = v["speech_text"].as_str().unwrap();
        assert!(speech.contains(subject), "{route}: {speech}");
        assert!(text.contains(subject), "{route}: {text}");
        assert!(
            !v["ssml"].as_str().unwrap().contains("<Planning>"),
            "{route}"
        );
    }
}
