//! The kiosk's fields of /api/whats-next beyond CalendarBot's: the meeting in progress
//! (`current`), the rest of today (`later_today`), how old the data is (`data_age_s`,
//! `stale`) and the time format the screens use (issue #13; docs/kiosk.md).
//!
//! Why it exists apart from [`super::whats_next_from`]: those fields depend on more than the
//! cached choice of the next meeting (a meeting in progress ends at any second, the data ages
//! every second), so they are computed per answer from the snapshot, on the plain and the
//! optimised path alike, by these pure functions.

use super::{Meeting, WhatsNext, is_candidate, iso_utc, meeting_of};
use crate::ics::{Occurrence, When, when_utc};
use crate::snapshot::Snapshot;
use chrono::{DateTime, Days, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// `current` of /api/whats-next: the meeting happening now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Current {
    /// Occurrence id.
    pub meeting_id: String,
    /// SUMMARY ("Busy" when redacted).
    pub subject: String,
    /// Start, RFC 3339 UTC.
    pub start_iso: String,
    /// End, RFC 3339 UTC.
    pub end_iso: String,
    /// Whole seconds until it ends (at least 1: it has not ended).
    pub seconds_until_end: i64,
    /// LOCATION.
    pub location: String,
}

/// What the kiosk fields need besides the snapshot: settings and the data's age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KioskFacts {
    /// `later_today_max`.
    pub later_today_max: usize,
    /// "24h" or "12h".
    pub time_format: &'static str,
    /// The newest successful refresh of any source, if any.
    pub last_success: Option<DateTime<Utc>>,
    /// Seconds between refreshes: older than two of them is stale.
    pub refresh_interval_secs: u64,
}

/// The meeting in progress at `now`: a timed candidate (busy or tentative, not skipped, not
/// focus time) that started before `now` and ends after it; of several, the one that started
/// last (ties: the later in calendar order).
pub(crate) fn current(snap: &Snapshot, now: DateTime<Utc>, tz: Tz) -> Option<&Occurrence> {
    let started = snap.occurrences.partition_point(|o| o.start_utc(tz) < now);
    // Newest start first (calendar order reversed), so the first match is the one that started
    // last, ties going to the later in calendar order; the scan stops there.
    snap.occurrences[..started]
        .iter()
        .rev()
        .find(|o| !o.all_day() && o.end_utc(tz) > now && is_candidate(o, snap, now))
}

/// Candidates after `next` that start before the next local midnight (in `tz`) after `now`,
/// in calendar order, at most `max`.
pub(crate) fn later_today<'a>(
    snap: &'a Snapshot,
    next: Option<&Occurrence>,
    now: DateTime<Utc>,
    tz: Tz,
    max: usize,
) -> Vec<(&'a Occurrence, DateTime<Utc>)> {
    let Some(next) = next else {
        return Vec::new();
    };
    let today = now.with_timezone(&tz).date_naive();
    let Some(midnight) = today.checked_add_days(Days::new(1)) else {
        return Vec::new();
    };
    let midnight = when_utc(When::AllDay(midnight), tz);
    let first = snap.occurrences.partition_point(|o| o.start_utc(tz) < now);
    snap.occurrences[first..]
        .iter()
        .map(|o| (o, o.start_utc(tz)))
        .take_while(|(_, s)| *s < midnight)
        .filter(|(o, _)| is_candidate(o, snap, now) && !same(o, next))
        .take(max)
        .collect()
}

/// Whether `a` and `b` are the same occurrence (two overrides of one series share their id,
/// so the start is compared too; `b` may be a clone held by the response cache).
fn same(a: &Occurrence, b: &Occurrence) -> bool {
    a.start == b.start && a.cmp_id(b).is_eq()
}

/// Fill the kiosk fields of `answer` (built by [`super::whats_next_from`] for `next`).
pub(crate) fn add_kiosk_fields(
    answer: &mut WhatsNext,
    snap: &Snapshot,
    next: Option<&Occurrence>,
    now: DateTime<Utc>,
    tz: Tz,
    facts: &KioskFacts,
) {
    answer.current = current(snap, now, tz).map(|o| {
        let end = o.end_utc(tz);
        Current {
            meeting_id: o.id().into_owned(),
            subject: o.details.subject().to_string(),
            start_iso: iso_utc(o.start_utc(tz)),
            end_iso: iso_utc(end),
            seconds_until_end: (end - now).num_seconds().max(1),
            location: o.details.location().to_string(),
        }
    });
    answer.later_today = later_today(snap, next, now, tz, facts.later_today_max)
        .into_iter()
        .map(|(o, s)| meeting_of(o, s, now, tz))
        .collect::<Vec<Meeting>>();
    let age = facts.last_success.map(|t| (now - t).num_seconds().max(0));
    let stale_after =
        i64::try_from(facts.refresh_interval_secs.saturating_mul(2)).unwrap_or(i64::MAX);
    answer.data_age_s = age;
    answer.stale = age.is_some_and(|a| a > stale_after);
    answer.time_format = facts.time_format;
}
