//! The structured parts of CalendarBot's `POST /api/morning-summary` `summary` that are not
//! sentences: `analysis_time`, `meeting_insights`, `free_blocks` and `metadata`, with
//! CalendarBot's field names and rules (free blocks of 30 minutes or more within the morning,
//! 06:00 to noon local; 45 minutes or more is significant).

use super::day;
use super::{Ctx, MORNING_END_HOUR};
use crate::answers::iso_utc;
use crate::ics::Occurrence;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// The morning CalendarBot looks at for free blocks starts here (local hour).
pub(super) const MORNING_START_HOUR: u32 = 6;
/// A gap shorter than this (minutes) is no free block.
pub(super) const MIN_FREE_BLOCK_MINUTES: i64 = 30;
/// A free block this long (minutes) or longer is significant.
pub(super) const SIGNIFICANT_FREE_BLOCK_MINUTES: i64 = 45;

/// One meeting of `meeting_insights`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeetingInsight {
    /// Occurrence id.
    pub meeting_id: String,
    /// SUMMARY.
    pub subject: String,
    /// Start, RFC 3339 UTC.
    pub start_time: String,
    /// End, RFC 3339 UTC.
    pub end_time: String,
    /// Whole minutes from now to the start; null once started.
    pub time_until_minutes: Option<i64>,
    /// Always false (CalendarBot never sets it either).
    pub preparation_needed: bool,
    /// Whether the location is a meeting link (http or https).
    pub is_online: bool,
    /// Attendees are not kept: always null.
    pub attendees_count: Option<u32>,
    /// Always null (CalendarBot never sets it either).
    pub short_note: Option<String>,
}

/// One entry of `free_blocks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FreeBlock {
    /// Start, RFC 3339 UTC.
    pub start_time: String,
    /// End, RFC 3339 UTC.
    pub end_time: String,
    /// Whole minutes.
    pub duration_minutes: i64,
    /// CalendarBot's suggestion for the block, or null.
    pub recommended_action: Option<&'static str>,
    /// 45 minutes or more.
    pub is_significant: bool,
}

/// `metadata.generation_context`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GenerationContext {
    /// "evening" (CalendarBot's summary is delivered the evening before).
    pub delivery_time: &'static str,
    /// The previewed day as spoken: "today", "tomorrow", "on Monday".
    pub reference_day: String,
}

/// `metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SummaryMetadata {
    /// Same as `summary.preview_for`.
    pub preview_for: String,
    /// How it was generated.
    pub generation_context: GenerationContext,
}

/// `meeting_insights`: the day's timed meetings in start order.
pub(super) fn meeting_insights(ctx: &Ctx<'_>, timed: &[&Occurrence]) -> Vec<MeetingInsight> {
    timed
        .iter()
        .map(|o| {
            let (s, e) = (o.start_utc(ctx.default_tz), o.end_utc(ctx.default_tz));
            let location = o.details.location().trim().to_ascii_lowercase();
            MeetingInsight {
                meeting_id: o.id().into_owned(),
                subject: o.details.subject().to_string(),
                start_time: iso_utc(s),
                end_time: iso_utc(e),
                time_until_minutes: (s > ctx.now).then(|| (s - ctx.now).num_minutes()),
                preparation_needed: false,
                is_online: location.starts_with("https://") || location.starts_with("http://"),
                attendees_count: None,
                short_note: None,
            }
        })
        .collect()
}

fn action(minutes: i64) -> Option<&'static str> {
    match minutes {
        m if m >= 120 => Some("deep work session"),
        m if m >= 90 => Some("focused project work"),
        m if m >= SIGNIFICANT_FREE_BLOCK_MINUTES => Some("planning or preparation"),
        _ => None,
    }
}

fn block(s: DateTime<Utc>, e: DateTime<Utc>, action: Option<&'static str>) -> FreeBlock {
    let minutes = (e - s).num_minutes();
    FreeBlock {
        start_time: iso_utc(s),
        end_time: iso_utc(e),
        duration_minutes: minutes,
        recommended_action: action,
        is_significant: minutes >= SIGNIFICANT_FREE_BLOCK_MINUTES,
    }
}

/// `free_blocks`: gaps of 30 minutes or more between the timed meetings within 06:00 to noon
/// local on `date` (CalendarBot's rule; a morning without meetings is one block).
pub(super) fn free_blocks(
    ctx: &Ctx<'_>,
    timed: &[&Occurrence],
    date: NaiveDate,
    tz: Tz,
) -> Vec<FreeBlock> {
    let day_start = day::day_start(date, tz);
    let (lo, hi) = (
        day_start + Duration::hours(i64::from(MORNING_START_HOUR)),
        day_start + Duration::hours(i64::from(MORNING_END_HOUR)),
    );
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = timed
        .iter()
        .map(|o| (o.start_utc(ctx.default_tz), o.end_utc(ctx.default_tz)))
        .filter(|(s, e)| *s < hi && *e > lo)
        .collect();
    if spans.is_empty() {
        return vec![block(lo, hi, Some("deep work or personal time"))];
    }
    spans.sort();
    let mut out = Vec::new();
    let mut at = lo;
    for (s, e) in spans {
        if s > at && (s - at).num_minutes() >= MIN_FREE_BLOCK_MINUTES {
            out.push(block(at, s, action((s - at).num_minutes())));
        }
        at = at.max(e);
    }
    if at < hi && (hi - at).num_minutes() >= MIN_FREE_BLOCK_MINUTES {
        out.push(block(at, hi, Some("wrap-up or preparation for afternoon")));
    }
    out
}
