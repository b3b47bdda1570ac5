//! Local days: which instants make up "today" in a zone, and which meetings fall on a day.
//!
//! Why it exists: every day-level answer (done for the day, the launch summary, the morning
//! summary) asks "what happens on this *local* date in this zone?". The answer must be right
//! east and west of UTC and on the 23- and 25-hour days of a DST change, so the day is never
//! taken as "24 hours from midnight UTC"; it is the span from local midnight of the date to
//! local midnight of the next date, both computed by [`crate::ics::when_utc`] (which also knows
//! what to do when a DST gap swallows midnight). This is the one implementation of day logic;
//! the /api/done-for-day route uses it too.

use crate::ics::{Occurrence, When, when_utc};
use crate::snapshot::Snapshot;
use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;

/// The local calendar date of instant `t` in zone `tz`.
pub fn local_date(t: DateTime<Utc>, tz: Tz) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// First instant of local `date` in `tz` (local midnight, or the first instant after a DST
/// gap that skips midnight).
pub fn day_start(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    when_utc(When::AllDay(date), tz)
}

/// `[start, end)` of local `date` in `tz`: 23 hours long on a spring-forward day, 25 on a
/// fall-back day, 24 otherwise.
pub fn day_bounds(date: NaiveDate, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let next = date.checked_add_days(Days::new(1)).unwrap_or(date);
    (day_start(date, tz), day_start(next, tz))
}

/// Whether occurrence `o` falls on local `date` in zone `tz`.
///
/// - An all-day occurrence belongs to the dates it names (`start <= date < end`; a zero-length
///   one to its start date), wherever the question is asked from: a holiday on 5 November is
///   on 5 November in Tokyo and in Los Angeles.
/// - A timed occurrence belongs to every local day it overlaps (`start < day_end` and
///   `end > day_start`); a zero-length one to the day its start is in.
///
/// `default_tz` only matters for the odd occurrence that mixes a date and a date-time.
pub fn occurs_on(o: &Occurrence, date: NaiveDate, tz: Tz, default_tz: Tz) -> bool {
    if let (When::AllDay(s), When::AllDay(e)) = (o.start, o.end) {
        return s <= date && (date < e || (e <= s && date == s));
    }
    let (lo, hi) = day_bounds(date, tz);
    let (s, e) = (o.start_utc(default_tz), o.end_utc(default_tz));
    if e > s {
        s < hi && e > lo
    } else {
        s >= lo && s < hi
    }
}

/// Whether `o` counts as a meeting for the day-level answers at `now`: busy or tentative, not a
/// focus-time block, not skipped (a skip means "I am not going").
pub fn is_day_meeting(o: &Occurrence, snap: &Snapshot, now: DateTime<Utc>) -> bool {
    o.status.is_meeting()
        && !crate::answers::is_focus_time(o.details.subject())
        && !snap.is_occurrence_skipped(o, now)
}

/// Every meeting of local `date` in `tz`, taken from the whole snapshot (not a window of the
/// next N events), in snapshot order (start, then id).
pub fn meetings_on(
    snap: &Snapshot,
    date: NaiveDate,
    tz: Tz,
    default_tz: Tz,
    now: DateTime<Utc>,
) -> Vec<&Occurrence> {
    let (_, hi) = day_bounds(date, tz);
    // The snapshot is sorted by start in `default_tz`; nothing starting two days after the
    // day's end can fall on it, whatever the zones (offsets are at most ±26 hours apart).
    let horizon = hi + chrono::Duration::days(2);
    let end = snap
        .occurrences
        .partition_point(|o| o.start_utc(default_tz) < horizon);
    snap.occurrences[..end]
        .iter()
        .filter(|o| is_day_meeting(o, snap, now) && occurs_on(o, date, tz, default_tz))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ics::Status;
    use chrono::TimeZone;
    use chrono_tz::{America, Asia, Australia, Europe};
    use std::sync::Arc;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    pub(crate) fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn timed(id: &str, start: &str, end: &str) -> Occurrence {
        occ(id, When::Timed(utc(start)), When::Timed(utc(end)))
    }

    /// A busy occurrence whose id, uid and subject are `id`.
    pub(crate) fn occ(id: &str, start: When, end: When) -> Occurrence {
        Occurrence {
            details: std::sync::Arc::new(crate::ics::Details::from(crate::ics::EventText {
                uid: id.into(),
                subject: id.into(),
                ..Default::default()
            })),
            start,
            end,
            status: Status::Busy,
            recurring: false,
            expanded: false,
        }
    }

    #[test]
    fn day_west_of_utc() {
        let (lo, hi) = day_bounds(d(2025, 11, 5), America::Los_Angeles);
        assert_eq!(lo, utc("2025-11-05T08:00:00Z"));
        assert_eq!(hi, utc("2025-11-06T08:00:00Z"));
        // 23:30 in Los Angeles is already tomorrow in UTC, but still today locally.
        assert_eq!(
            local_date(utc("2025-11-06T07:30:00Z"), America::Los_Angeles),
            d(2025, 11, 5)
        );
    }

    #[test]
    fn day_east_of_utc() {
        let (lo, hi) = day_bounds(d(2025, 11, 5), Asia::Tokyo);
        assert_eq!(lo, utc("2025-11-04T15:00:00Z"));
        assert_eq!(hi, utc("2025-11-05T15:00:00Z"));
        // 08:00 in Tokyo is still yesterday in UTC.
        assert_eq!(
            local_date(utc("2025-11-04T23:00:00Z"), Asia::Tokyo),
            d(2025, 11, 5)
        );
        // Sydney in summer time (UTC+11).
        let (lo, hi) = day_bounds(d(2025, 11, 5), Australia::Sydney);
        assert_eq!(lo, utc("2025-11-04T13:00:00Z"));
        assert_eq!(hi, utc("2025-11-05T13:00:00Z"));
    }

    #[test]
    fn dst_days_are_23_and_25_hours() {
        let hours = |date, tz| {
            let (lo, hi) = day_bounds(date, tz);
            (hi - lo).num_hours()
        };
        // Los Angeles: spring forward 2025-03-09, fall back 2025-11-02.
        assert_eq!(hours(d(2025, 3, 9), America::Los_Angeles), 23);
        assert_eq!(hours(d(2025, 11, 2), America::Los_Angeles), 25);
        assert_eq!(hours(d(2025, 11, 3), America::Los_Angeles), 24);
        // Sydney (southern hemisphere): forward 2025-10-05, back 2025-04-06.
        assert_eq!(hours(d(2025, 10, 5), Australia::Sydney), 23);
        assert_eq!(hours(d(2025, 4, 6), Australia::Sydney), 25);
        // Tokyo has no DST.
        assert_eq!(hours(d(2025, 3, 9), Asia::Tokyo), 24);
    }

    #[test]
    fn dst_gap_at_midnight_starts_the_day_after_the_gap() {
        // America/Havana springs forward at 00:00 -> 01:00 (2025-03-09).
        let (lo, hi) = day_bounds(d(2025, 3, 9), America::Havana);
        assert_eq!(lo, utc("2025-03-09T05:00:00Z"));
        assert_eq!((hi - lo).num_hours(), 23);
    }

    #[test]
    fn meeting_late_on_the_fall_back_day_is_on_that_day() {
        // 23:30 PST on 2025-11-02 (the 25-hour day) = 07:30Z on 11-03.
        let o = timed("late", "2025-11-03T07:30:00Z", "2025-11-03T07:45:00Z");
        let tz = America::Los_Angeles;
        assert!(occurs_on(&o, d(2025, 11, 2), tz, Tz::UTC));
        assert!(!occurs_on(&o, d(2025, 11, 3), tz, Tz::UTC));
        // A 24-hour "day" from UTC midnight would have got this wrong.
        let (lo, _) = day_bounds(d(2025, 11, 2), tz);
        assert!(utc("2025-11-03T07:30:00Z") >= lo + chrono::Duration::hours(24));
    }

    #[test]
    fn timed_meetings_overlap_days() {
        let tz = America::Los_Angeles;
        // 21:00-23:00 PST on Nov 5 (05:00Z-07:00Z Nov 6).
        let late = timed("late", "2025-11-06T05:00:00Z", "2025-11-06T07:00:00Z");
        assert!(occurs_on(&late, d(2025, 11, 5), tz, Tz::UTC));
        assert!(!occurs_on(&late, d(2025, 11, 6), tz, Tz::UTC));
        // The same meeting is on Nov 6 in Tokyo (14:00-16:00 JST).
        assert!(occurs_on(&late, d(2025, 11, 6), Asia::Tokyo, Tz::UTC));
        // 23:00-01:00 crosses midnight: on both days.
        let cross = timed("x", "2025-11-06T07:00:00Z", "2025-11-06T09:00:00Z");
        assert!(occurs_on(&cross, d(2025, 11, 5), tz, Tz::UTC));
        assert!(occurs_on(&cross, d(2025, 11, 6), tz, Tz::UTC));
        // Ending exactly at midnight is not on the next day.
        let to_midnight = timed("m", "2025-11-06T07:00:00Z", "2025-11-06T08:00:00Z");
        assert!(!occurs_on(&to_midnight, d(2025, 11, 6), tz, Tz::UTC));
        // Zero length at midnight belongs to the day it starts.
        let zero = timed("z", "2025-11-06T08:00:00Z", "2025-11-06T08:00:00Z");
        assert!(occurs_on(&zero, d(2025, 11, 6), tz, Tz::UTC));
        assert!(!occurs_on(&zero, d(2025, 11, 5), tz, Tz::UTC));
    }

    #[test]
    fn all_day_events_belong_to_their_dates_in_every_zone() {
        let o = occ(
            "holiday",
            When::AllDay(d(2025, 11, 5)),
            When::AllDay(d(2025, 11, 6)),
        );
        for tz in [
            America::Los_Angeles,
            Asia::Tokyo,
            Australia::Sydney,
            Europe::London,
        ] {
            assert!(occurs_on(&o, d(2025, 11, 5), tz, Tz::UTC), "{tz}");
            assert!(!occurs_on(&o, d(2025, 11, 4), tz, Tz::UTC), "{tz}");
            assert!(!occurs_on(&o, d(2025, 11, 6), tz, Tz::UTC), "{tz}");
        }
        let three = occ(
            "trip",
            When::AllDay(d(2025, 11, 5)),
            When::AllDay(d(2025, 11, 8)),
        );
        assert!(occurs_on(&three, d(2025, 11, 7), Asia::Tokyo, Tz::UTC));
        assert!(!occurs_on(&three, d(2025, 11, 8), Asia::Tokyo, Tz::UTC));
    }

    #[test]
    fn meetings_on_filters_status_focus_and_skips() {
        let now = utc("2025-11-05T16:00:00Z");
        let mut free = timed("free", "2025-11-05T18:00:00Z", "2025-11-05T19:00:00Z");
        free.status = Status::Free;
        let mut cancelled = timed("cancelled", "2025-11-05T18:00:00Z", "2025-11-05T19:00:00Z");
        cancelled.status = Status::Cancelled;
        let mut tentative = timed("tentative", "2025-11-05T19:00:00Z", "2025-11-05T20:00:00Z");
        tentative.status = Status::Tentative;
        let mut focus = timed("focus", "2025-11-05T20:00:00Z", "2025-11-05T21:00:00Z");
        let mut text = crate::ics::EventText::from(&*focus.details);
        text.subject = "Deep Work block".into();
        focus.details = std::sync::Arc::new(text.into());
        let skipped = timed("skipped", "2025-11-05T21:00:00Z", "2025-11-05T22:00:00Z");
        let busy = timed("busy", "2025-11-05T22:00:00Z", "2025-11-05T23:00:00Z");
        let tomorrow = timed("tomorrow", "2025-11-06T18:00:00Z", "2025-11-06T19:00:00Z");
        let mut skips = std::collections::HashMap::new();
        skips.insert("skipped".into(), now + chrono::Duration::hours(24));
        let snap = Snapshot {
            version: 1,
            occurrences: Arc::new(vec![
                free, cancelled, tentative, focus, skipped, busy, tomorrow,
            ]),
            skips: Arc::new(skips),
        };
        let ids: Vec<String> =
            meetings_on(&snap, d(2025, 11, 5), America::Los_Angeles, Tz::UTC, now)
                .iter()
                .map(|o| o.id().into_owned())
                .collect();
        assert_eq!(ids, ["tentative", "busy"]);
        // An expired skip no longer hides the meeting.
        let later = now + chrono::Duration::hours(25);
        let n = meetings_on(&snap, d(2025, 11, 5), America::Los_Angeles, Tz::UTC, later).len();
        assert_eq!(n, 3);
    }

    #[test]
    fn local_date_uses_the_zone() {
        let t = Utc.with_ymd_and_hms(2025, 11, 5, 4, 0, 0).unwrap();
        assert_eq!(local_date(t, America::Los_Angeles), d(2025, 11, 4));
        assert_eq!(local_date(t, Tz::UTC), d(2025, 11, 5));
        assert_eq!(local_date(t, Australia::Sydney), d(2025, 11, 5));
    }
}
