//! Unit tests of the pure answers: selection rules, status thresholds, windows, health rules.

use super::*;
use crate::ics::{Details, EventText, Status, When};
use crate::snapshot::{SourceHealth, TaskBeat};
use chrono::NaiveDate;
use std::collections::HashMap;
use std::sync::Arc;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn occ(id: &str, subject: &str, start: &str, end: &str) -> Occurrence {
    Occurrence {
        details: Arc::new(Details::from(EventText {
            uid: id.to_string(),
            subject: subject.to_string(),
            description: format!("about {subject}"),
            location: "Room 1".to_string(),
            attendees: vec!["a@example.com".into()],
            organizer: None,
        })),
        start: When::Timed(t(start)),
        end: When::Timed(t(end)),
        status: Status::Busy,
        recurring: false,
        expanded: false,
    }
}

fn all_day(id: &str, subject: &str, date: &str) -> Occurrence {
    let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    Occurrence {
        start: When::AllDay(d),
        end: When::AllDay(d + Duration::days(1)),
        ..occ(id, subject, "2000-01-01T00:00:00Z", "2000-01-01T00:00:00Z")
    }
}

/// A snapshot as the hub publishes it: sorted by start (all-day at UTC midnight), then id.
fn snap(mut occs: Vec<Occurrence>) -> Snapshot {
    occs.sort_by(|a, b| a.cmp_start_then_id(b, Tz::UTC));
    Snapshot {
        version: 1,
        occurrences: Arc::new(occs),
        skips: Arc::new(HashMap::new()),
    }
}

fn with_skips(mut s: Snapshot, skips: &[(&str, &str)]) -> Snapshot {
    s.skips = Arc::new(skips.iter().map(|(id, u)| (Arc::from(*id), t(u))).collect());
    s
}

const NOW: &str = "2025-11-05T15:00:00Z";

fn next_id(s: &Snapshot, now: &str, tz: Tz) -> Option<String> {
    whats_next(s, t(now), tz).meeting.map(|m| m.meeting_id)
}

#[test]
fn earliest_future_meeting_with_all_fields() {
    let s = snap(vec![
        occ(
            "past",
            "Past",
            "2025-11-05T14:00:00Z",
            "2025-11-05T14:30:00Z",
        ),
        occ(
            "later",
            "Later",
            "2025-11-05T18:00:00Z",
            "2025-11-05T19:00:00Z",
        ),
        occ(
            "next",
            "Next",
            "2025-11-05T16:00:00Z",
            "2025-11-05T16:45:00Z",
        ),
    ]);
    let w = whats_next(&s, t(NOW), Tz::UTC);
    let m = w.meeting.unwrap();
    assert_eq!(m.meeting_id, "next");
    assert_eq!(m.subject, "Next");
    assert_eq!(m.description, "about Next");
    assert_eq!(m.attendees, vec!["a@example.com".to_string()]);
    assert_eq!(m.start_iso, "2025-11-05T16:00:00Z");
    assert_eq!(m.duration_seconds, 2700);
    assert_eq!(m.location, "Room 1");
    assert_eq!(m.raw_source, "");
    assert_eq!(m.seconds_until_start, 3600);
    assert_eq!(w.status.message, "Starting within the hour");
}

#[test]
fn in_progress_is_not_next_but_starting_now_is() {
    let s = snap(vec![
        occ(
            "running",
            "Running",
            "2025-11-05T14:59:59Z",
            "2025-11-05T16:00:00Z",
        ),
        occ("now", "Now", NOW, "2025-11-05T15:30:00Z"),
    ]);
    let w = whats_next(&s, t(NOW), Tz::UTC);
    let m = w.meeting.unwrap();
    assert_eq!(m.meeting_id, "now");
    assert_eq!(m.seconds_until_start, 0);
    assert_eq!(w.status.message, "Meeting in progress");
    assert!(w.status.is_urgent && !w.status.is_critical);
}

#[test]
fn free_cancelled_skipped_and_focus_are_passed_over() {
    let mut free = occ(
        "free",
        "Free",
        "2025-11-05T15:10:00Z",
        "2025-11-05T15:20:00Z",
    );
    free.status = Status::Free;
    let mut cancelled = occ(
        "c",
        "Cancelled",
        "2025-11-05T15:11:00Z",
        "2025-11-05T15:20:00Z",
    );
    cancelled.status = Status::Cancelled;
    let mut tentative = occ(
        "tent",
        "Maybe",
        "2025-11-05T17:00:00Z",
        "2025-11-05T17:20:00Z",
    );
    tentative.status = Status::Tentative;
    let s = snap(vec![
        free,
        cancelled,
        occ(
            "skipme",
            "Skipped",
            "2025-11-05T15:12:00Z",
            "2025-11-05T15:20:00Z",
        ),
        occ(
            "f1",
            "FOCUS TIME",
            "2025-11-05T15:13:00Z",
            "2025-11-05T15:20:00Z",
        ),
        occ(
            "f2",
            "Deep Work block",
            "2025-11-05T15:14:00Z",
            "2025-11-05T15:20:00Z",
        ),
        occ(
            "f3",
            "thinking time",
            "2025-11-05T15:15:00Z",
            "2025-11-05T15:20:00Z",
        ),
        occ(
            "f4",
            "Q4 Planning Time",
            "2025-11-05T15:16:00Z",
            "2025-11-05T15:20:00Z",
        ),
        occ(
            "f5",
            "Focus",
            "2025-11-05T15:17:00Z",
            "2025-11-05T15:20:00Z",
        ),
        tentative,
    ]);
    let s = with_skips(s, &[("skipme", "2025-11-06T15:00:00Z")]);
    assert_eq!(next_id(&s, NOW, Tz::UTC).as_deref(), Some("tent"));
}

#[test]
fn expired_skip_no_longer_hides() {
    let s = snap(vec![occ(
        "a",
        "A",
        "2025-11-05T16:00:00Z",
        "2025-11-05T17:00:00Z",
    )]);
    let s = with_skips(s, &[("a", "2025-11-05T14:00:00Z")]);
    assert_eq!(next_id(&s, NOW, Tz::UTC).as_deref(), Some("a"));
}

#[test]
fn non_lunch_beats_lunch_within_30_minutes_only() {
    let s = snap(vec![
        occ(
            "lunch",
            "Lunch",
            "2025-11-05T16:00:00Z",
            "2025-11-05T17:00:00Z",
        ),
        occ(
            "biz",
            "Budget review",
            "2025-11-05T16:30:00Z",
            "2025-11-05T17:00:00Z",
        ),
    ]);
    assert_eq!(next_id(&s, NOW, Tz::UTC).as_deref(), Some("biz"));
    let s = snap(vec![
        occ(
            "lunch",
            "lunch",
            "2025-11-05T16:00:00Z",
            "2025-11-05T17:00:00Z",
        ),
        occ(
            "biz",
            "Budget review",
            "2025-11-05T16:30:01Z",
            "2025-11-05T17:00:00Z",
        ),
    ]);
    assert_eq!(next_id(&s, NOW, Tz::UTC).as_deref(), Some("lunch"));
    // A long subject that mentions lunch is a real meeting: earliest wins.
    let s = snap(vec![
        occ(
            "l",
            "Lunch with the CEO",
            "2025-11-05T16:00:00Z",
            "2025-11-05T17:00:00Z",
        ),
        occ(
            "biz",
            "Budget review",
            "2025-11-05T16:10:00Z",
            "2025-11-05T17:00:00Z",
        ),
    ]);
    assert_eq!(next_id(&s, NOW, Tz::UTC).as_deref(), Some("l"));
}

#[test]
fn only_lunches_pick_the_earliest() {
    let s = snap(vec![
        occ(
            "l2",
            "Lunch",
            "2025-11-05T16:10:00Z",
            "2025-11-05T17:00:00Z",
        ),
        occ(
            "l1",
            "Team lunch",
            "2025-11-05T16:00:00Z",
            "2025-11-05T17:00:00Z",
        ),
    ]);
    assert_eq!(next_id(&s, NOW, Tz::UTC).as_deref(), Some("l1"));
}

#[test]
fn same_start_ties_break_by_id() {
    let s = snap(vec![
        occ(
            "b-event",
            "B",
            "2025-11-05T16:00:00Z",
            "2025-11-05T17:00:00Z",
        ),
        occ(
            "a-event",
            "A",
            "2025-11-05T16:00:00Z",
            "2025-11-05T17:00:00Z",
        ),
    ]);
    assert_eq!(next_id(&s, NOW, Tz::UTC).as_deref(), Some("a-event"));
}

#[test]
fn all_day_starts_at_local_midnight() {
    let s = snap(vec![all_day("hol", "Holiday", "2025-11-06")]);
    let tz: Tz = "America/Los_Angeles".parse().unwrap();
    let m = whats_next(&s, t(NOW), tz).meeting.unwrap();
    assert_eq!(m.start_iso, "2025-11-06T08:00:00Z");
    assert_eq!(m.duration_seconds, 86400);
    let m = whats_next(&s, t(NOW), Tz::UTC).meeting.unwrap();
    assert_eq!(m.start_iso, "2025-11-06T00:00:00Z");
    // Today's all-day event already started: not next.
    let s = snap(vec![all_day("hol", "Holiday", "2025-11-05")]);
    assert!(whats_next(&s, t(NOW), Tz::UTC).meeting.is_none());
}

#[test]
fn no_meeting_status() {
    let w = whats_next(&snap(vec![]), t(NOW), Tz::UTC);
    assert!(w.meeting.is_none());
    assert_eq!(w.status.message, "No meetings scheduled");
    let v = serde_json::to_value(&w).unwrap();
    assert_eq!(v["meeting"], serde_json::Value::Null);
}

#[test]
fn status_thresholds_by_whole_minutes() {
    let cases = [
        (0, "Meeting in progress", true, false),
        (1, "Starting very soon", true, true),
        (179, "Starting very soon", true, true),
        (180, "Starting soon", true, false),
        (15 * 60 + 59, "Starting soon", true, false),
        (16 * 60, "Starting within the hour", false, false),
        (60 * 60 + 59, "Starting within the hour", false, false),
        (61 * 60, "Plenty of time", false, false),
    ];
    for (secs, msg, urgent, critical) in cases {
        let s = status_for(Some(secs));
        assert_eq!(
            (s.message, s.is_urgent, s.is_critical),
            (msg, urgent, critical),
            "{secs}s"
        );
    }
}

#[test]
fn keyword_helpers() {
    assert!(is_focus_time("Morning FOCUS"));
    assert!(!is_focus_time("Weekly Planning"));
    assert!(is_lunch("LUNCH"));
    assert!(is_lunch("Team lunch"));
    assert!(!is_lunch("Lunch & Learn: Rust"));
    assert!(!is_lunch("Standup"));
}

#[test]
fn events_window_overlap_and_formats() {
    let mut free = occ(
        "free",
        "Free",
        "2025-11-05T10:00:00Z",
        "2025-11-05T11:00:00Z",
    );
    free.status = Status::Free;
    let s = snap(vec![
        occ(
            "before",
            "B",
            "2025-11-04T10:00:00Z",
            "2025-11-05T00:00:00Z",
        ),
        occ("spans", "S", "2025-11-04T23:00:00Z", "2025-11-05T01:00:00Z"),
        free,
        all_day("day", "Day", "2025-11-06"),
        occ("edge", "E", "2025-11-07T00:00:00Z", "2025-11-07T01:00:00Z"),
        occ("zero", "Z", "2025-11-05T00:00:00Z", "2025-11-05T00:00:00Z"),
    ]);
    let a = events_in(
        &s,
        t("2025-11-05T00:00:00Z"),
        t("2025-11-07T00:00:00Z"),
        Tz::UTC,
    );
    let ids: Vec<_> = a.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, vec!["spans", "zero", "free", "day"]);
    assert_eq!(a.count, 4);
    assert_eq!(a.from, "2025-11-05T00:00:00Z");
    let v = serde_json::to_value(&a.events[3]).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"uid":"day","id":"day","subject":"Day","location":"Room 1",
            "start":"2025-11-06","end":"2025-11-07","all_day":true,"status":"busy"})
    );
    let v = serde_json::to_value(&a.events[2]).unwrap();
    assert_eq!(v["start"], "2025-11-05T10:00:00Z");
    assert_eq!(v["status"], "free");
}

fn facts(now: &str) -> ProcessFacts {
    ProcessFacts {
        database_file_present: true,
        database_moved_aside: None,
        database_rows_skipped: 0,
        now: t(now),
        server_time: t(now),
        started_at: t("2025-11-05T14:00:00Z"),
        pid: 42,
        mode: "optimized",
        refresh_interval_secs: 300,
        update: crate::version::state::summary(std::path::Path::new("/nonexistent-update-state")),
    }
}

fn source(name: &str, last_success: Option<&str>, failures: u32) -> SourceHealth {
    SourceHealth {
        name: name.to_string(),
        last_success: last_success.map(t),
        consecutive_failures: failures,
        last_error: (failures > 0).then(|| "boom".to_string()),
        ..SourceHealth::default()
    }
}

#[test]
fn health_degraded_rules() {
    let empty = snap(vec![]);
    let one = snap(vec![occ(
        "a",
        "A",
        "2025-11-05T16:00:00Z",
        "2025-11-05T17:00:00Z",
    )]);
    let mut board = StatusInner::default();
    // Nothing yet, nothing stored: degraded.
    let h = health(&empty, &board, &facts(NOW));
    assert_eq!(h.status, "degraded");
    assert!(!h.is_ok());
    // Nothing yet but stored events: ok.
    assert_eq!(health(&one, &board, &facts(NOW)).status, "ok");
    // A success 15 minutes ago with a 5-minute interval: exactly 3 intervals is still ok.
    board
        .sources
        .insert("a".into(), source("a", Some("2025-11-05T14:45:00Z"), 0));
    assert_eq!(health(&empty, &board, &facts(NOW)).status, "ok");
    // One second more: degraded, whatever the data.
    let h = health(&one, &board, &facts("2025-11-05T15:00:01Z"));
    assert_eq!(h.status, "degraded");
    // The newest success of any source counts.
    board
        .sources
        .insert("b".into(), source("b", Some("2025-11-05T14:59:00Z"), 2));
    let h = health(&one, &board, &facts("2025-11-05T15:00:01Z"));
    assert_eq!(h.status, "ok");
    assert_eq!(h.data_status.last_refresh_success_age_s, Some(61));
}

#[test]
fn health_shape() {
    let mut board = StatusInner::default();
    board.sources.insert("work".into(), source("work", None, 3));
    let mut parsed = source("zz", None, 0);
    parsed.parse = Some(crate::snapshot::ParseStats {
        events_parsed: 12,
        events_skipped: 1,
        lines_skipped: 2,
        rules_ignored: 3,
        zones_unresolved: vec!["Mars Standard Time".into()],
    });
    board.sources.insert("zz".into(), parsed);
    board.tasks.insert(
        "refresh:work".into(),
        TaskBeat {
            status: "failing".into(),
            last_beat: t("2025-11-05T14:59:30Z"),
        },
    );
    board.last_heartbeat = Some(t("2025-11-05T14:59:50Z"));
    board.initial_refresh_complete = true;
    let v = serde_json::to_value(health(&snap(vec![]), &board, &facts(NOW))).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "status": "degraded",
            "version": env!("CARGO_PKG_VERSION"),
            "server_time_iso": NOW,
            "server_status": {"uptime_s": 3600, "pid": 42, "mode": "optimized"},
            "data_status": {"event_count": 0, "last_refresh_success_age_s": null,
                "initial_refresh_complete": true, "event_window_initialized": false,
                "database_file_present": true, "database_moved_aside": null,
                "database_rows_skipped": 0},
            "background_tasks": [{"name": "refresh:work", "status": "failing",
                "last_heartbeat_age_s": 30}],
            "display_probe": {"last_render_probe_iso": "2025-11-05T14:59:50Z",
                "last_probe_ok": true, "last_probe_notes": "browser-heartbeat"},
            "sources": [{"name": "work", "last_success_age_s": null,
                "consecutive_failures": 3, "last_error": "boom",
                "events_parsed": null, "events_skipped": null, "lines_skipped": null,
                "rules_ignored": null, "zones_unresolved": [], "bounds_hit": null},
                {"name": "zz", "last_success_age_s": null,
                "consecutive_failures": 0, "last_error": null,
                "events_parsed": 12, "events_skipped": 1, "lines_skipped": 2,
                "rules_ignored": 3, "zones_unresolved": ["Mars Standard Time"],
                "bounds_hit": 0}],
            "system_diagnostics": {
                "platform": format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
                "python_version": null, "event_loop_running": true, "runtime": "rust",
                "version": env!("CARGO_PKG_VERSION")},
            "update": {"current": env!("CARGO_PKG_VERSION"), "slot": "factory",
                "previous": null, "last_attempt": null, "bad": []}
        })
    );
}

#[test]
fn display_probe_goes_stale_with_the_heartbeat() {
    let mut board = StatusInner::default();
    let probe =
        |board: &StatusInner, now: &str| health(&snap(vec![]), board, &facts(now)).display_probe;
    // No heartbeat yet: false, as CalendarBot says (it was null).
    assert!(!probe(&board, NOW).last_probe_ok, "no heartbeat yet");
    board.last_heartbeat = Some(t("2025-11-05T14:58:30Z"));
    // 90 s old: still alive (three 30 s beats missed at most).
    let p = probe(&board, NOW);
    assert!(p.last_probe_ok);
    assert_eq!(p.last_probe_notes.as_deref(), Some("browser-heartbeat"));
    // 91 s old: the page stopped.
    let p = probe(&board, "2025-11-05T15:00:01Z");
    assert!(!p.last_probe_ok);
    assert_eq!(
        p.last_probe_notes.as_deref(),
        Some("browser-heartbeat: none for 91 s")
    );
    assert_eq!(
        p.last_render_probe_iso.as_deref(),
        Some("2025-11-05T14:58:30Z")
    );
}
