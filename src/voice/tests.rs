//! Unit tests of the voice answers on hand-built snapshots (the HTTP scenarios live in
//! tests/alexa_scenarios.rs).

use super::*;
use crate::ics::{Status, When};
use chrono_tz::{America, Asia, Australia};
use std::collections::HashMap;
use std::sync::Arc;

use super::day::tests::utc;
use chrono::NaiveDate;

/// A query string as the server hands it over: decoded, trimmed, empty values dropped.
fn pairs(q: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.trim().to_string()))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn occ(id: &str, subject: &str, start: When, end: When) -> Occurrence {
    let mut o = super::day::tests::occ(id, start, end);
    let mut text = crate::ics::EventText::from(&*o.details);
    text.subject = subject.into();
    o.details = Arc::new(text.into());
    o
}

fn timed(id: &str, subject: &str, start: &str, end: &str) -> Occurrence {
    occ(id, subject, When::Timed(utc(start)), When::Timed(utc(end)))
}

fn all_day(id: &str, subject: &str, from: &str, to: &str) -> Occurrence {
    occ(
        id,
        subject,
        When::AllDay(date(from)),
        When::AllDay(date(to)),
    )
}

fn snap(mut v: Vec<Occurrence>) -> Snapshot {
    v.sort_by(|a, b| a.cmp_start_then_id(b, Tz::UTC));
    Snapshot {
        version: 1,
        occurrences: Arc::new(v),
        skips: Arc::new(HashMap::new()),
    }
}

fn params(q: &str, route: Route) -> Params {
    Params::parse(&pairs(q), route, Tz::UTC).unwrap()
}

/// The Python fixture "multiple-meetings-today": 10:00, 12:00, 14:00, 16:00 PST on Nov 5.
fn four_meetings() -> Snapshot {
    snap(vec![
        timed(
            "a",
            "Team Standup",
            "2025-11-05T18:00:00Z",
            "2025-11-05T18:30:00Z",
        ),
        timed(
            "b",
            "Lunch Meeting",
            "2025-11-05T20:00:00Z",
            "2025-11-05T21:00:00Z",
        ),
        timed(
            "c",
            "Project Review",
            "2025-11-05T22:00:00Z",
            "2025-11-05T23:00:00Z",
        ),
        timed(
            "d",
            "End of Day Sync",
            "2025-11-06T00:00:00Z",
            "2025-11-06T01:00:00Z",
        ),
    ])
}

fn ctx<'a>(s: &'a Snapshot, now: &str) -> Ctx<'a> {
    Ctx {
        snap: s,
        now: utc(now),
        default_tz: Tz::UTC,
        clock_12h: false,
    }
}

#[test]
fn params_parse_and_name_the_bad_one() {
    let p = params(
        "tz=America%2FLos_Angeles&detail_level=Verbose&prefer_ssml=false",
        Route::LaunchSummary,
    );
    assert_eq!(p.zone, America::Los_Angeles);
    assert_eq!(p.detail, Detail::Verbose);
    assert!(!p.prefer_ssml);
    assert_eq!(p.max_events, DEFAULT_MAX_EVENTS);
    // The morning summary prefers `timezone`, the others `tz`.
    let p = params(
        "tz=Asia/Tokyo&timezone=Australia/Sydney",
        Route::MorningSummary,
    );
    assert_eq!(p.zone, Australia::Sydney);
    let p = params("tz=Asia/Tokyo&timezone=Australia/Sydney", Route::DoneForDay);
    assert_eq!(p.zone, Asia::Tokyo);
    // Empty values are absent.
    assert_eq!(params("tz=&date=", Route::MorningSummary).zone, Tz::UTC);
    for (q, name) in [
        ("tz=Mars/Olympus", "tz"),
        ("timezone=nowhere", "timezone"),
        ("date=2025-13-01", "date"),
        ("date=tomorrow", "date"),
        ("detail_level=chatty", "detail_level"),
        ("prefer_ssml=maybe", "prefer_ssml"),
        ("max_events=0", "max_events"),
        ("max_events=201", "max_events"),
        ("max_events=-3", "max_events"),
    ] {
        let e = Params::parse(&pairs(q), Route::MorningSummary, Tz::UTC).unwrap_err();
        assert_eq!(e.param, name, "{q}");
        assert!(e.to_string().contains(name), "{e}");
    }
}

#[test]
fn done_for_day_uses_the_whole_local_day() {
    let s = four_meetings();
    let p = params("tz=America/Los_Angeles", Route::DoneForDay);
    // 06:00 PST: before anything.
    let a = done_for_day_answer(&ctx(&s, "2025-11-05T14:00:00Z"), &p);
    assert!(a.done.has_meetings_today);
    assert_eq!(a.done.meetings_today, 4);
    assert_eq!(a.done.meetings_remaining, 4);
    assert_eq!(
        a.done.last_meeting_end_iso.as_deref(),
        Some("2025-11-06T01:00:00Z")
    );
    assert_eq!(
        a.done.last_meeting_end_local_iso.as_deref(),
        Some("2025-11-05T17:00:00-08:00")
    );
    assert_eq!(a.done.date, "2025-11-05");
    assert!(!a.done.is_done);
    assert_eq!(
        a.spoken.speech_text,
        "You'll be done for the day at 5:00 pm, after End of Day Sync. You have 4 meetings left today."
    );
    // 18:00 PST: all over.
    let a = done_for_day_answer(&ctx(&s, "2025-11-06T02:00:00Z"), &p);
    assert!(a.done.is_done && a.done.has_meetings_today);
    assert_eq!(a.done.meetings_remaining, 0);
    assert!(
        a.spoken
            .speech_text
            .starts_with("You're all done for today!")
    );
    assert!(a.spoken.speech_text.contains("ended at 5:00 pm"));
    // The same instant is already Nov 6 in UTC, which holds only End of Day Sync.
    let utc_p = params("tz=UTC", Route::DoneForDay);
    let a = done_for_day_answer(&ctx(&s, "2025-11-06T02:00:00Z"), &utc_p);
    assert_eq!(
        (a.done.date.as_str(), a.done.meetings_today),
        ("2025-11-06", 1)
    );
    assert!(
        a.spoken.speech_text.contains("ended at 1:00 am"),
        "{}",
        a.spoken.speech_text
    );
    // And Nov 7 in UTC has none.
    let a = done_for_day_answer(&ctx(&s, "2025-11-07T02:00:00Z"), &utc_p);
    assert!(!a.done.has_meetings_today);
    assert_eq!(
        a.spoken.speech_text,
        "You have no meetings today. Enjoy your free day!"
    );
}

#[test]
fn done_for_day_in_tokyo_sees_a_different_day() {
    let s = four_meetings();
    // 09:30 JST on Nov 6 = 00:30Z: Tokyo's Nov 6 runs 15:00Z Nov 5 .. 15:00Z Nov 6 and holds
    // all four (03:00 to 10:00 JST); End of Day Sync (09:00-10:00 JST) is in progress.
    let p = params("tz=Asia/Tokyo", Route::DoneForDay);
    let a = done_for_day_answer(&ctx(&s, "2025-11-06T00:30:00Z"), &p);
    assert_eq!(a.done.date, "2025-11-06");
    assert_eq!(a.done.meetings_today, 4);
    assert_eq!(a.done.meetings_remaining, 1);
    // Los Angeles at the same instant is still Nov 5, with the same four meetings.
    let la = params("tz=America/Los_Angeles", Route::DoneForDay);
    let a2 = done_for_day_answer(&ctx(&s, "2025-11-06T00:30:00Z"), &la);
    assert_eq!(a2.done.date, "2025-11-05");
    assert!(a2.spoken.speech_text.contains("at 5:00 pm"));
    assert!(
        a.spoken.speech_text.contains("at 10:00 am"),
        "{}",
        a.spoken.speech_text
    );
}

#[test]
fn all_day_only_day_is_done_when_it_ends() {
    // Default zone UTC: the holiday ends at 00:00Z = 4:00 pm in Los Angeles (the Python
    // fixture's expectation).
    let s = snap(vec![all_day(
        "h",
        "Company Holiday",
        "2025-11-05",
        "2025-11-06",
    )]);
    let p = params("tz=America/Los_Angeles", Route::DoneForDay);
    let a = done_for_day_answer(&ctx(&s, "2025-11-05T17:00:00Z"), &p);
    assert!(a.done.has_meetings_today);
    assert_eq!(
        a.done.last_meeting_end_iso.as_deref(),
        Some("2025-11-06T00:00:00Z")
    );
    assert!(
        a.spoken
            .speech_text
            .contains("Company Holiday, all day, until 4:00 pm")
    );
    assert!(a.spoken.speech_text.contains("done at 4:00 pm"));
    // A timed meeting wins over the all-day end.
    let s = snap(vec![
        all_day("h", "Offsite", "2025-11-05", "2025-11-06"),
        timed(
            "m",
            "Dinner",
            "2025-11-05T19:00:00Z",
            "2025-11-05T20:00:00Z",
        ),
    ]);
    let a = done_for_day_answer(&ctx(&s, "2025-11-05T17:00:00Z"), &p);
    assert_eq!(a.done.last_meeting_subject.as_deref(), Some("Dinner"));
    assert!(
        a.spoken.speech_text.contains("at noon"),
        "{}",
        a.spoken.speech_text
    );
}

#[test]
fn skipped_free_and_focus_are_not_meetings() {
    let mut v = vec![
        timed(
            "a",
            "Team Standup",
            "2025-11-05T18:00:00Z",
            "2025-11-05T18:30:00Z",
        ),
        timed(
            "late",
            "Late Review",
            "2025-11-06T00:00:00Z",
            "2025-11-06T01:00:00Z",
        ),
        timed(
            "f",
            "Focus Time",
            "2025-11-06T01:00:00Z",
            "2025-11-06T03:00:00Z",
        ),
        timed(
            "free",
            "Gym",
            "2025-11-06T03:00:00Z",
            "2025-11-06T04:00:00Z",
        ),
    ];
    v[3].status = Status::Free;
    let mut s = snap(v);
    let now = utc("2025-11-05T16:00:00Z");
    let mut skips = HashMap::new();
    skips.insert("late".into(), now + Duration::hours(24));
    s.skips = Arc::new(skips);
    let p = params("tz=America/Los_Angeles", Route::DoneForDay);
    let a = done_for_day_answer(&ctx(&s, "2025-11-05T16:00:00Z"), &p);
    assert_eq!(a.done.meetings_today, 1);
    assert_eq!(a.done.last_meeting_subject.as_deref(), Some("Team Standup"));
    assert!(a.spoken.speech_text.contains("10:30 am"));
}

#[test]
fn next_meeting_and_time_until() {
    let s = four_meetings();
    let p = params("tz=America/Los_Angeles", Route::NextMeeting);
    // 07:55 PST: Team Standup at 10:00, in 2 hours and 5 minutes.
    let c = ctx(&s, "2025-11-05T15:55:00Z");
    let a = next_meeting_answer(&c, &p);
    let m = a.meeting.unwrap();
    assert_eq!(m.subject, "Team Standup");
    assert_eq!(m.seconds_until_start, 7500);
    assert_eq!(m.duration_spoken, "in 2 hours and 5 minutes");
    // Where CalendarBot's Alexa Lambda reads them: inside `meeting`, beside ours.
    assert_eq!(
        m.speech_text.as_deref(),
        Some(a.spoken.speech_text.as_str())
    );
    assert_eq!(m.ssml, a.spoken.ssml);
    assert!(m.ssml.as_deref().is_some_and(|x| x.starts_with("<speak>")));
    assert_eq!(m.start_iso, "2025-11-05T18:00:00Z");
    assert_eq!(m.start_local_iso, "2025-11-05T10:00:00-08:00");
    assert_eq!(
        a.spoken.speech_text,
        "Your next meeting is Team Standup, today at 10:00 am, in 2 hours and 5 minutes."
    );
    let t = time_until_answer(&c, &params("tz=America/Los_Angeles", Route::TimeUntilNext));
    assert_eq!(t.seconds_until_start, Some(7500));
    assert_eq!(
        t.spoken.speech_text,
        "Your next meeting, Team Standup, starts in 2 hours and 5 minutes."
    );
    // After the last one: nothing.
    let c = ctx(&s, "2025-11-06T02:00:00Z");
    let a = next_meeting_answer(&c, &p);
    assert!(a.meeting.is_none());
    assert_eq!(a.spoken.speech_text, "You have no upcoming meetings.");
    let t = time_until_answer(&c, &p);
    assert_eq!(t.seconds_until_start, None);
    assert_eq!(t.duration_spoken, "");
}

#[test]
fn next_meeting_days_away_names_the_day() {
    let s = snap(vec![timed(
        "w",
        "Next Week Planning",
        "2025-11-10T18:00:00Z",
        "2025-11-10T19:00:00Z",
    )]);
    let c = ctx(&s, "2025-11-05T16:00:00Z");
    let a = next_meeting_answer(&c, &params("tz=America/Los_Angeles", Route::NextMeeting));
    assert_eq!(
        a.spoken.speech_text,
        "Your next meeting is Next Week Planning, on Monday at 10:00 am."
    );
    let t = time_until_answer(&c, &params("tz=America/Los_Angeles", Route::TimeUntilNext));
    assert_eq!(
        t.spoken.speech_text,
        "Your next meeting, Next Week Planning, starts in 5 days and 2 hours, on Monday at 10:00 am."
    );
}

#[test]
fn launch_summary_in_progress_and_after_hours() {
    let s = snap(vec![
        timed(
            "cur",
            "Current Meeting",
            "2025-11-05T18:00:00Z",
            "2025-11-05T19:00:00Z",
        ),
        timed(
            "aft",
            "Afternoon Meeting",
            "2025-11-05T21:00:00Z",
            "2025-11-05T22:00:00Z",
        ),
        timed(
            "tmr",
            "Tomorrow Sync",
            "2025-11-06T17:00:00Z",
            "2025-11-06T17:30:00Z",
        ),
    ]);
    let p = params("tz=America/Los_Angeles", Route::LaunchSummary);
    let a = launch_summary_answer(&ctx(&s, "2025-11-05T18:15:00Z"), &p);
    assert!(a.has_meetings_today);
    assert_eq!(
        a.current_meeting.as_ref().unwrap().subject,
        "Current Meeting"
    );
    assert_eq!(
        a.next_meeting.as_ref().unwrap().subject,
        "Afternoon Meeting"
    );
    assert_eq!(
        a.spoken.speech_text,
        "You're currently in Current Meeting, until 11:00 am. Your next meeting is Afternoon \
         Meeting, today at 1:00 pm, in 2 hours and 45 minutes. That's your last meeting today, \
         so you'll be done at 2:00 pm."
    );
    // CalendarBot's Lambda reads `next_meeting.speech_text`.
    let next = a.next_meeting.as_ref().unwrap();
    assert_eq!(
        next.speech_text.as_deref(),
        Some(a.spoken.speech_text.as_str())
    );
    assert_eq!(next.duration_spoken, "in 2 hours and 45 minutes");
    assert!(a.current_meeting.as_ref().unwrap().speech_text.is_none());
    // 18:00 PST: done; tomorrow's meeting is named.
    let a = launch_summary_answer(&ctx(&s, "2025-11-06T02:00:00Z"), &p);
    assert!(a.has_meetings_today && a.done_for_day.is_done);
    assert_eq!(
        a.spoken.speech_text,
        "You're all done for today! Your last meeting, Afternoon Meeting, ended at 2:00 pm. \
         Your next meeting is Tomorrow Sync, tomorrow at 9:00 am, in 15 hours."
    );
}

#[test]
fn launch_summary_without_meetings_today() {
    let s = snap(vec![timed(
        "f",
        "Future Meeting",
        "2025-11-10T18:00:00Z",
        "2025-11-10T19:00:00Z",
    )]);
    let p = params("tz=America/Los_Angeles", Route::LaunchSummary);
    let a = launch_summary_answer(&ctx(&s, "2025-11-05T16:00:00Z"), &p);
    assert!(!a.has_meetings_today);
    assert_eq!(
        a.spoken.speech_text,
        "No meetings today. Your next meeting is Future Meeting, on Monday at 10:00 am."
    );
    let empty = snap(vec![]);
    let a = launch_summary_answer(&ctx(&empty, "2025-11-05T16:00:00Z"), &p);
    assert_eq!(
        a.spoken.speech_text,
        "No meetings today. Your calendar is clear."
    );
}

#[test]
fn morning_summary_defaults_to_the_local_morning() {
    // 20:00 PST on Nov 5 = 04:00Z Nov 6: tomorrow is Nov 6 in Los Angeles (in UTC it would
    // already be "today", Nov 6, after noon -> Nov 7).
    let t = utc("2025-11-06T04:00:00Z");
    assert_eq!(
        default_summary_date(t, America::Los_Angeles),
        date("2025-11-06")
    );
    assert_eq!(default_summary_date(t, Tz::UTC), date("2025-11-06"));
    // 07:00 in Tokyo: today's morning is still ahead.
    let t = utc("2025-11-05T22:00:00Z");
    assert_eq!(default_summary_date(t, Asia::Tokyo), date("2025-11-06"));
    // 13:00 in Sydney: tomorrow.
    let t = utc("2025-11-05T02:00:00Z");
    assert_eq!(
        default_summary_date(t, Australia::Sydney),
        date("2025-11-06")
    );
}

#[test]
fn morning_summary_dense_day() {
    // The Python fixture "tomorrow-dense-schedule" (Nov 6, PST): 8-9, 9-10, 10-11, 12-1,
    // 1-2, 2-3, 4-5.
    let s = snap(vec![
        timed(
            "1",
            "Early Morning Standup",
            "2025-11-06T16:00:00Z",
            "2025-11-06T17:00:00Z",
        ),
        timed(
            "2",
            "Client Presentation",
            "2025-11-06T17:00:00Z",
            "2025-11-06T18:00:00Z",
        ),
        timed(
            "3",
            "Team Sync",
            "2025-11-06T18:00:00Z",
            "2025-11-06T19:00:00Z",
        ),
        timed(
            "4",
            "Design Review",
            "2025-11-06T20:00:00Z",
            "2025-11-06T21:00:00Z",
        ),
        timed(
            "5",
            "1:1 with Manager",
            "2025-11-06T21:00:00Z",
            "2025-11-06T22:00:00Z",
        ),
        timed(
            "6",
            "Sprint Planning",
            "2025-11-06T22:00:00Z",
            "2025-11-06T23:00:00Z",
        ),
        timed(
            "7",
            "End of Day Wrap-up",
            "2025-11-07T00:00:00Z",
            "2025-11-07T01:00:00Z",
        ),
    ]);
    let p = params("timezone=America/Los_Angeles", Route::MorningSummary);
    let a = morning_summary_answer(&ctx(&s, "2025-11-06T04:00:00Z"), &p);
    let m = &a.summary;
    assert_eq!(m.date, "2025-11-06");
    assert_eq!(m.preview_for, "tomorrow_morning");
    assert_eq!(m.meeting_count, 7);
    assert_eq!(m.total_meetings_equivalent, 7.0);
    assert_eq!(m.density, Density::Busy);
    assert_eq!(m.back_to_back_count, 4);
    assert!(!m.early_start_flag);
    assert!(!m.free_morning);
    assert_eq!(m.timeframe_start, "2025-11-06T08:00:00Z");
    assert_eq!(m.timeframe_end, "2025-11-07T08:00:00Z");
    assert_eq!(
        a.spoken.speech_text,
        "You have a busy day tomorrow, with 7 meetings. Your first meeting is Early Morning \
         Standup at 8:00 am. You're back-to-back from 8:00 am to 11:00 am and from noon to \
         3:00 pm. You'll be done by 5:00 pm."
    );
}

#[test]
fn morning_summary_early_start_light_day_and_all_day() {
    let s = snap(vec![
        timed(
            "e",
            "Early Morning Call",
            "2025-11-06T15:00:00Z",
            "2025-11-06T16:00:00Z",
        ),
        timed(
            "r",
            "Regular Standup",
            "2025-11-06T18:00:00Z",
            "2025-11-06T19:00:00Z",
        ),
    ]);
    let p = params("timezone=America/Los_Angeles", Route::MorningSummary);
    let a = morning_summary_answer(&ctx(&s, "2025-11-06T04:00:00Z"), &p);
    assert!(a.summary.early_start_flag);
    assert_eq!(a.summary.density, Density::Light);
    assert_eq!(
        a.summary.wake_up_recommendation.as_deref(),
        Some("2025-11-06T05:30:00-08:00")
    );
    assert_eq!(
        a.spoken.speech_text,
        "You have a light day tomorrow, with 2 meetings. Heads up, it's an early start: Early \
         Morning Call at 7:00 am. You may want to be up by 5:30 am. After that: Regular \
         Standup at 10:00 am. You'll be done by 11:00 am."
    );
    // All-day only.
    let s = snap(vec![all_day(
        "o",
        "Team Offsite",
        "2025-11-06",
        "2025-11-07",
    )]);
    let a = morning_summary_answer(&ctx(&s, "2025-11-06T04:00:00Z"), &p);
    assert_eq!(a.summary.total_meetings_equivalent, 0.5);
    assert_eq!(a.summary.all_day_count, 1);
    assert!(a.summary.free_morning);
    assert_eq!(
        a.spoken.speech_text,
        "You have no timed meetings tomorrow. Team Offsite runs all day."
    );
}

#[test]
fn morning_summary_free_day_points_to_the_next_meeting() {
    let s = snap(vec![timed(
        "f",
        "Future Meeting",
        "2025-11-10T18:00:00Z",
        "2025-11-10T19:00:00Z",
    )]);
    let p = params("timezone=America/Los_Angeles", Route::MorningSummary);
    let a = morning_summary_answer(&ctx(&s, "2025-11-06T04:00:00Z"), &p);
    assert_eq!(
        a.spoken.speech_text,
        "You have a free morning tomorrow, with no meetings all day. Your next meeting is \
         Future Meeting, on Monday at 10:00 am."
    );
    // A specific date names its weekday.
    let p = params(
        "timezone=America/Los_Angeles&date=2025-11-10",
        Route::MorningSummary,
    );
    let a = morning_summary_answer(&ctx(&s, "2025-11-06T04:00:00Z"), &p);
    assert_eq!(a.summary.preview_for, "monday_morning");
    assert!(
        a.spoken
            .speech_text
            .starts_with("You have a light day on Monday, with 1 meeting.")
    );
    assert!(
        a.spoken
            .speech_text
            .contains("Your first meeting is Future Meeting at 10:00 am.")
    );
    // Nothing before noon: a free morning.
    let s = snap(vec![timed(
        "c",
        "Client Call",
        "2025-11-06T22:00:00Z",
        "2025-11-06T23:00:00Z",
    )]);
    let p = params("timezone=America/Los_Angeles", Route::MorningSummary);
    let a = morning_summary_answer(&ctx(&s, "2025-11-06T04:00:00Z"), &p);
    assert!(a.summary.free_morning);
    assert!(
        a.spoken
            .speech_text
            .contains("Your morning is free; your first meeting is Client Call at 2:00 pm."),
        "{}",
        a.spoken.speech_text
    );
}

#[test]
fn morning_summary_detail_levels_and_max_events() {
    let mut v = Vec::new();
    for i in 0..12u32 {
        let start = utc("2025-11-06T16:00:00Z") + Duration::minutes(i64::from(i) * 30);
        let end = start + Duration::minutes(30);
        v.push(occ(
            &format!("m{i:02}"),
            &format!("R&D <sync> {i}"),
            When::Timed(start),
            When::Timed(end),
        ));
    }
    let s = snap(v);
    let c = ctx(&s, "2025-11-06T04:00:00Z");
    let brief = morning_summary_answer(
        &c,
        &params(
            "timezone=America/Los_Angeles&detail_level=brief",
            Route::MorningSummary,
        ),
    );
    assert_eq!(
        brief.spoken.speech_text,
        "You have a busy day tomorrow, with 12 meetings. Expect back-to-back meetings."
    );
    let verbose = morning_summary_answer(
        &c,
        &params(
            "timezone=America/Los_Angeles&detail_level=verbose&max_events=5",
            Route::MorningSummary,
        ),
    );
    assert_eq!(verbose.summary.meetings.len(), 5);
    let said_each = verbose.spoken.speech_text.matches("for 30 minutes").count();
    assert_eq!(said_each, 5);
    assert_eq!(verbose.summary.meeting_count, 12);
    let ssml = verbose.spoken.ssml.as_deref().unwrap();
    let doc = roxmltree::Document::parse(ssml).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "speak");
    let spoken: String = doc
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    assert!(spoken.contains("R&D <sync> 0"), "{spoken}");
    // The card lists every meeting.
    assert_eq!(verbose.spoken.card.content.lines().count(), 12);
}

#[test]
fn handle_checks_token_and_params() {
    let s = four_meetings();
    let c = ctx(&s, "2025-11-05T16:00:00Z");
    // The method is the route table's business (server::routes); `_method` documents the call.
    let call = |route, _method: &str, query: &str, auth: Option<&[u8]>, token| {
        let query = pairs(query);
        let req = Request {
            route,
            query: &query,
            authorization: auth,
        };
        handle(&req, token, &c)
    };
    let bearer = Some(&b"Bearer t0k"[..]);
    let ok = call(
        Route::DoneForDay,
        "GET",
        "tz=America/Los_Angeles",
        bearer,
        Some("t0k"),
    );
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["has_meetings_today"], true);
    assert!(ok.body["ssml"].as_str().unwrap().starts_with("<speak>"));
    assert_eq!(ok.body["card"]["title"], "Done for the Day");
    for (token, auth) in [
        (Some("t0k"), None),
        (Some("t0k"), Some(&b"Bearer nope"[..])),
        (None, Some(&b"Bearer t0k"[..])),
        (Some(""), Some(&b"Bearer "[..])),
    ] {
        let r = call(Route::NextMeeting, "GET", "", auth, token);
        assert_eq!(r.status, 401, "{token:?} {auth:?}");
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| *k == "WWW-Authenticate" && v.starts_with("Bearer"))
        );
        assert!(r.body["error"].is_string());
    }
    let r = call(
        Route::LaunchSummary,
        "GET",
        "tz=Nowhere/Land",
        bearer,
        Some("t0k"),
    );
    assert_eq!(r.status, 400);
    assert!(r.body["error"].as_str().unwrap().contains("tz"));
    // POST /api/morning-summary needs no token.
    let r = call(
        Route::PostMorningSummary,
        "POST",
        "timezone=America/Los_Angeles&prefer_ssml=false",
        None,
        None,
    );
    assert_eq!(r.status, 200);
    assert!(r.body.get("ssml").is_none());
    assert!(r.body["summary"]["preview_for"].is_string());
}

/// The /api/done-for-day rules (moved here from `answers` with the implementation): the local
/// day in the asked zone, busy/tentative only, skips and other days left out.
#[test]
fn done_for_day_json_route_rules() {
    let tz: Tz = "America/New_York".parse().unwrap();
    // Local day of 2025-11-05 in New York: 05:00Z .. next 05:00Z.
    let mut cancelled = timed("c", "C", "2025-11-05T23:00:00Z", "2025-11-06T01:00:00Z");
    cancelled.status = Status::Cancelled;
    let mut s = snap(vec![
        timed(
            "yesterday",
            "Y",
            "2025-11-05T03:00:00Z",
            "2025-11-05T04:00:00Z",
        ),
        timed("am", "AM", "2025-11-05T14:00:00Z", "2025-11-05T15:00:00Z"),
        timed("pm", "PM", "2025-11-05T20:00:00Z", "2025-11-05T21:30:00Z"),
        timed(
            "short-late",
            "L",
            "2025-11-05T20:30:00Z",
            "2025-11-05T21:00:00Z",
        ),
        timed(
            "skipped",
            "S",
            "2025-11-05T22:00:00Z",
            "2025-11-05T23:00:00Z",
        ),
        all_day("day", "Day", "2025-11-05", "2025-11-06"),
        cancelled,
        timed(
            "tomorrow",
            "T",
            "2025-11-06T06:00:00Z",
            "2025-11-06T07:00:00Z",
        ),
    ]);
    let mut skips = HashMap::new();
    skips.insert("skipped".into(), utc("2025-11-06T15:00:00Z"));
    s.skips = Arc::new(skips);
    let d = done_for_day(&ctx(&s, "2025-11-05T15:00:00Z"), tz);
    assert_eq!(d.tz, "America/New_York");
    assert_eq!(d.now_iso, "2025-11-05T15:00:00Z");
    assert!(d.has_meetings_today);
    // am, pm, short-late and the all-day "Day".
    assert_eq!(d.meetings_today, 4);
    assert_eq!(
        d.last_meeting_start_iso.as_deref(),
        Some("2025-11-05T20:00:00Z")
    );
    assert_eq!(
        d.last_meeting_end_iso.as_deref(),
        Some("2025-11-05T21:30:00Z")
    );
    assert_eq!(
        d.last_meeting_end_local_iso.as_deref(),
        Some("2025-11-05T16:30:00-05:00")
    );
    assert_eq!(d.note, "The last meeting ends at 4:30 pm.");
    let late = done_for_day(&ctx(&s, "2025-11-06T02:00:00Z"), tz);
    assert_eq!(
        late.note,
        "Done for the day: the last meeting ended at 4:30 pm."
    );
    assert!(late.is_done);
    // In UTC the same instant is already 2025-11-06: only "tomorrow" counts (the cancelled
    // one ending 01:00Z does not).
    let in_utc = done_for_day(&ctx(&s, "2025-11-06T02:00:00Z"), Tz::UTC);
    assert_eq!(
        in_utc.last_meeting_start_iso.as_deref(),
        Some("2025-11-06T06:00:00Z")
    );
    let empty = snap(vec![]);
    let none = done_for_day(&ctx(&empty, "2025-11-05T15:00:00Z"), tz);
    assert!(!none.has_meetings_today);
    assert_eq!(none.last_meeting_end_iso, None);
    assert_eq!(none.note, "No meetings today.");
}

#[test]
fn launch_summary_names_an_all_day_event_once() {
    let s = snap(vec![all_day(
        "h",
        "Company Holiday",
        "2025-11-05",
        "2025-11-06",
    )]);
    let p = params("tz=America/Los_Angeles", Route::LaunchSummary);
    let a = launch_summary_answer(&ctx(&s, "2025-11-05T16:00:00Z"), &p);
    assert!(a.has_meetings_today);
    assert_eq!(a.spoken.speech_text.matches("Company Holiday").count(), 1);
    assert_eq!(
        a.spoken.speech_text,
        "Today you have Company Holiday, all day, until 4:00 pm. There are no other meetings, \
         so you'll be done at 4:00 pm."
    );
}
