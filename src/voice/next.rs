//! "What's next?" and "how long until it?": the next meeting by the kiosk's rule, spoken.

use super::speech::{day_phrase, spoken_duration, spoken_time, when_phrase};
use super::ssml::Speech;
use super::*;
use crate::ics::Occurrence;
use chrono_tz::Tz;
use serde::Serialize;

// ---------------------------------------------------------------------------------------------
// Next meeting and time until it

/// GET /api/alexa/next-meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextMeetingAnswer {
    /// The next meeting (the kiosk's rule), or null.
    pub meeting: Option<MeetingInfo>,
    /// What to say.
    #[serde(flatten)]
    pub spoken: Spoken,
}

/// "Team Standup, today at 10:00 am, in 2 hours" / "Team Offsite, all day tomorrow".
pub(super) fn next_phrase(o: &Occurrence, ctx: &Ctx<'_>, tz: Tz) -> String {
    let today = day::local_date(ctx.now, tz);
    let start = o.start_utc(ctx.default_tz);
    if o.all_day() {
        let date = match o.start {
            crate::ics::When::AllDay(d) => d,
            crate::ics::When::Timed(t) => day::local_date(t, tz),
        };
        return format!("{}, all day {}", said(o), day_phrase(date, today));
    }
    let until = (start - ctx.now).num_seconds();
    let when = when_phrase(start, tz, today);
    if until <= 0 {
        format!("{}, starting now", said(o))
    } else if until < 86_400 {
        format!("{}, {when}, in {}", said(o), spoken_duration(until))
    } else {
        format!("{}, {when}", said(o))
    }
}

/// GET /api/alexa/next-meeting.
pub fn next_meeting_answer(ctx: &Ctx<'_>, params: &Params) -> NextMeetingAnswer {
    let tz = params.zone;
    let next = next_meeting_occ(ctx);
    let mut sp = Speech::new();
    let mut lines = Vec::new();
    match next {
        Some(o) => {
            sp.say(format!("Your next meeting is {}.", next_phrase(o, ctx, tz)));
            if params.detail != Detail::Brief && !o.details.location().trim().is_empty() {
                sp.say(format!("Location: {}.", o.details.location().trim()));
            }
            lines.push(said(o));
            lines.push(when_phrase_full(o, ctx, tz));
            if !o.details.location().trim().is_empty() {
                lines.push(o.details.location().trim().to_string());
            }
        }
        None => sp.say("You have no upcoming meetings."),
    }
    let spoken = Spoken::new(&sp, params, "Next Meeting", &lines);
    NextMeetingAnswer {
        meeting: next.map(|o| MeetingInfo::of(o, ctx, tz).with_speech(&spoken, true)),
        spoken,
    }
}

/// "Wednesday, November 5, 10:00 am – 10:30 am" for a card.
pub(super) fn when_phrase_full(o: &Occurrence, ctx: &Ctx<'_>, tz: Tz) -> String {
    let s = o.start_utc(ctx.default_tz);
    let date = match o.start {
        crate::ics::When::AllDay(d) => d,
        crate::ics::When::Timed(t) => day::local_date(t, tz),
    };
    let day = date.format("%A, %B %-d");
    if o.all_day() {
        format!("{day}, all day")
    } else {
        format!(
            "{day}, {} – {}",
            spoken_time(s, tz),
            spoken_time(o.end_utc(ctx.default_tz), tz)
        )
    }
}

/// GET /api/alexa/time-until-next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeUntilAnswer {
    /// Whole seconds until the next meeting starts, or null.
    pub seconds_until_start: Option<i64>,
    /// The same, spoken ("" when there is none).
    pub duration_spoken: String,
    /// The meeting it is about.
    pub meeting: Option<MeetingInfo>,
    /// What to say.
    #[serde(flatten)]
    pub spoken: Spoken,
}

/// GET /api/alexa/time-until-next.
pub fn time_until_answer(ctx: &Ctx<'_>, params: &Params) -> TimeUntilAnswer {
    let tz = params.zone;
    let next = next_meeting_occ(ctx);
    let info = next.map(|o| MeetingInfo::of(o, ctx, tz));
    let mut sp = Speech::new();
    let mut lines = Vec::new();
    match (next, &info) {
        (Some(o), Some(i)) => {
            let today = day::local_date(ctx.now, tz);
            let start = o.start_utc(ctx.default_tz);
            if i.seconds_until_start <= 0 {
                sp.say(format!("Your next meeting, {}, is starting now.", said(o)));
            } else if i.seconds_until_start < 86_400 {
                sp.say(format!(
                    "Your next meeting, {}, starts in {}.",
                    said(o),
                    spoken_duration(i.seconds_until_start)
                ));
            } else {
                sp.say(format!(
                    "Your next meeting, {}, starts in {}, {}.",
                    said(o),
                    spoken_duration(i.seconds_until_start),
                    when_phrase(start, tz, today)
                ));
            }
            lines.push(format!("{} {}", said(o), i.duration_spoken));
        }
        _ => sp.say("You have no upcoming meetings."),
    }
    TimeUntilAnswer {
        seconds_until_start: info.as_ref().map(|i| i.seconds_until_start),
        duration_spoken: info
            .as_ref()
            .map(|i| i.duration_spoken.clone())
            .unwrap_or_default(),
        spoken: Spoken::new(&sp, params, "Time Until Next Meeting", &lines),
        meeting: info,
    }
}
