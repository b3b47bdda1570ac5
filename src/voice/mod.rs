//! Voice and day-level answers: the five /api/alexa/* routes and POST /api/morning-summary.
//!
//! Why it exists: an Alexa skill back end (or any voice assistant) asks the kiosk "what's
//! next?", "how long until it?", "when am I done today?", "what's my day like?" and "what does
//! tomorrow look like?", and reads the answer aloud. Each answer here is a pure function of a
//! [`Snapshot`], "now", the asked zone and the request's parameters, like the rest of
//! [`crate::answers`]; the server only routes to [`handle`]. The answers are built from the
//! whole local day's occurrences (see [`day`]), spoken in the asked zone ([`speech`]), and
//! rendered as plain text and as escaped, capped SSML ([`ssml`]). The routes are closed unless
//! a bearer token is configured and presented ([`auth`]).
//!
//! # Layout
//! - [`day`]: local days in a zone (DST-proof) and the meetings of a day.
//! - [`speech`]: spoken times, durations, days and lists.
//! - [`ssml`]: sentences → text and `<speak>` SSML within 8,000 characters.
//! - [`auth`]: the constant-time bearer-token check.
//! - [`params`]: the routes and their parameters (validated once, a 400 names the bad one).
//! - `next`, `done`, `launch`, `morning`: the answers, one file each.
//! - `http`: token, parameters, answer: what the server's route table calls ([`handle`]).
//!
//! # Decisions (also in README "Voice and day-level routes")
//! - A meeting is busy or tentative, not a focus-time block, and not skipped: a skip means
//!   "I am not going", so it leaves "next" and the day's counts alike.
//! - All-day events belong to the dates they name in every zone; their instants (spoken end
//!   times, JSON) are midnight in CALENDARBOT_DEFAULT_TIMEZONE (SPEC §6).
//! - "Done for the day" is the end of the day's last timed meeting; a day with only all-day
//!   events is done when the last of them ends.
//! - The morning summary previews a whole local day (`date`, default: today before noon in the
//!   asked zone, else tomorrow), calling out the morning: an early start (before 8:00), a free
//!   morning (nothing before noon) and back-to-back runs (gaps under 15 minutes).

pub mod auth;
pub mod day;
mod done;
mod http;
mod insights;
mod launch;
mod morning;
mod next;
pub mod params;
pub mod speech;
pub mod ssml;

pub use done::{DoneForDay, DoneForDayAnswer, done_for_day, done_for_day_answer};
pub use http::{Reply, Request, handle};
pub use insights::{FreeBlock, GenerationContext, MeetingInsight, SummaryMetadata};
pub use launch::{LaunchSummaryAnswer, launch_summary_answer};
pub use morning::{
    Density, MorningSummary, MorningSummaryAnswer, default_summary_date, morning_summary_answer,
};
pub use next::{NextMeetingAnswer, TimeUntilAnswer, next_meeting_answer, time_until_answer};
pub use params::{Detail, ParamError, Params, Route};

use crate::answers::iso_utc;
use crate::ics::Occurrence;
use crate::snapshot::Snapshot;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use speech::{spoken_duration, written_time};
use ssml::Speech;

/// Morning ends here (local hour): nothing before it is a "free morning".
pub const MORNING_END_HOUR: u32 = 12;
/// A meeting starting before this local hour is an "early start".
pub const EARLY_START_HOUR: u32 = 8;
/// Meetings separated by less than this are back-to-back.
pub const BACK_TO_BACK_GAP: Duration = Duration::minutes(15);
/// The wake-up suggestion comes this long before an early first meeting.
pub const WAKE_UP_LEAD: Duration = Duration::minutes(90);
/// Default and largest `max_events` (meetings listed one by one in a summary).
pub const DEFAULT_MAX_EVENTS: usize = 50;
/// Largest accepted `max_events`.
pub const MAX_MAX_EVENTS: usize = 200;

#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The calendar.
    pub snap: &'a Snapshot,
    /// Now.
    pub now: DateTime<Utc>,
    /// CALENDARBOT_DEFAULT_TIMEZONE: where all-day dates become instants.
    pub default_tz: Tz,
    /// `time_format = "12h"`: cards write "5:00 PM", else "17:00" (speech is not affected).
    pub clock_12h: bool,
}

// ---------------------------------------------------------------------------------------------
// Shared answer parts

/// RFC 3339 with the offset of `tz`.
pub fn iso_local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// An Alexa card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Card {
    /// Card title.
    pub title: String,
    /// Card text (one line per item).
    pub content: String,
}

/// The spoken part every voice answer carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Spoken {
    /// What to say, plain text (at most 8,000 characters).
    pub speech_text: String,
    /// The same as SSML (`<speak>`-rooted, escaped, at most 8,000 characters), unless
    /// `prefer_ssml=false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssml: Option<String>,
    /// What to show on a screen.
    pub card: Card,
}

impl Spoken {
    pub(super) fn new(
        speech: &Speech,
        params: &Params,
        title: impl Into<String>,
        lines: &[String],
    ) -> Self {
        let mut content = String::new();
        for line in lines {
            if content.chars().count() + line.chars().count() + 1 > ssml::MAX_SPEECH_CHARS {
                break;
            }
            if !content.is_empty() {
                content.push('\n');
            }
            content.push_str(line);
        }
        Spoken {
            speech_text: speech.text(),
            ssml: params.prefer_ssml.then(|| speech.ssml()),
            card: Card {
                title: title.into(),
                content,
            },
        }
    }
}

/// One meeting as the voice answers show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeetingInfo {
    /// Occurrence id (what /api/skip takes).
    pub meeting_id: String,
    /// SUMMARY.
    pub subject: String,
    /// LOCATION.
    pub location: String,
    /// Whether it is an all-day event.
    pub all_day: bool,
    /// Start, RFC 3339 UTC.
    pub start_iso: String,
    /// End, RFC 3339 UTC.
    pub end_iso: String,
    /// Start with the asked zone's offset.
    pub start_local_iso: String,
    /// Whole seconds from now to the start (negative once it has started).
    pub seconds_until_start: i64,
    /// End minus start, seconds.
    pub duration_seconds: i64,
    /// The time until the start as CalendarBot says it ("in 2 hours and 5 minutes"; "now"
    /// once started).
    pub duration_spoken: String,
    /// What to say about this meeting, where CalendarBot's Alexa Lambda reads it
    /// (`meeting.speech_text` of next-meeting, `next_meeting.speech_text` of launch-summary);
    /// the same text as the answer's own `speech_text`. Absent elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speech_text: Option<String>,
    /// The same as SSML (next-meeting's `meeting.ssml`), unless `prefer_ssml=false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssml: Option<String>,
}

impl MeetingInfo {
    pub(super) fn of(o: &Occurrence, ctx: &Ctx<'_>, tz: Tz) -> Self {
        let (s, e) = (o.start_utc(ctx.default_tz), o.end_utc(ctx.default_tz));
        let until = (s - ctx.now).num_seconds();
        MeetingInfo {
            meeting_id: o.id().into_owned(),
            subject: o.details.subject().to_string(),
            location: o.details.location().to_string(),
            all_day: o.all_day(),
            start_iso: iso_utc(s),
            end_iso: iso_utc(e),
            start_local_iso: iso_local(s, tz),
            seconds_until_start: until,
            duration_seconds: (e - s).num_seconds().max(0),
            duration_spoken: duration_from_now(until),
            speech_text: None,
            ssml: None,
        }
    }

    /// This meeting with the answer's speech beside it (what CalendarBot's clients read).
    pub(super) fn with_speech(mut self, spoken: &Spoken, ssml: bool) -> Self {
        self.speech_text = Some(spoken.speech_text.clone());
        if ssml {
            self.ssml = spoken.ssml.clone();
        }
        self
    }
}

/// CalendarBot's `duration_spoken`: "in 40 minutes", "in 2 hours and 5 minutes"; "now" once
/// the meeting has started.
pub fn duration_from_now(seconds: i64) -> String {
    if seconds <= 0 {
        "now".to_string()
    } else {
        format!("in {}", spoken_duration(seconds))
    }
}

/// A subject as spoken: trimmed, and "an untitled meeting" when empty.
pub(super) fn said(o: &Occurrence) -> String {
    let s = o.details.subject().trim();
    if s.is_empty() {
        "an untitled meeting".to_string()
    } else {
        s.to_string()
    }
}

/// One card line: "10:00 – 10:30  Team Standup (Conference Room A)" (`time_format = "12h"`:
/// "10:00 AM – 10:30 AM  …").
pub(super) fn card_line(o: &Occurrence, ctx: &Ctx<'_>, tz: Tz) -> String {
    let when = if o.all_day() {
        "All day".to_string()
    } else {
        format!(
            "{} – {}",
            written_time(o.start_utc(ctx.default_tz), tz, ctx.clock_12h),
            written_time(o.end_utc(ctx.default_tz), tz, ctx.clock_12h)
        )
    };
    let place = if o.details.location().trim().is_empty() {
        String::new()
    } else {
        format!(" ({})", o.details.location().trim())
    };
    format!("{when}  {}{place}", said(o))
}

/// The next meeting by the kiosk's rule (SPEC §6, as /api/whats-next).
pub(super) fn next_meeting_occ<'a>(ctx: &Ctx<'a>) -> Option<&'a Occurrence> {
    crate::answers::next_occurrence(ctx.snap, ctx.now, ctx.default_tz).map(|(o, _)| o)
}

#[cfg(test)]
mod tests;
