//! "Am I done for the day?": the end of the day's last meeting, spoken.

use super::speech::{count_of, join_and, spoken_time};
use super::ssml::Speech;
use super::*;
use crate::answers::iso_utc;
use crate::ics::Occurrence;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

// ---------------------------------------------------------------------------------------------
// The day: done for the day

/// The /api/done-for-day answer (SPEC §6), also the data of /api/alexa/done-for-day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoneForDay {
    /// Now, RFC 3339 UTC.
    pub now_iso: String,
    /// The zone "today" was taken in.
    pub tz: String,
    /// Today's local date in that zone.
    pub date: String,
    /// Whether today has any meeting (timed or all-day).
    pub has_meetings_today: bool,
    /// How many meetings today has.
    pub meetings_today: usize,
    /// How many of them have not ended yet.
    pub meetings_remaining: usize,
    /// Start of the meeting that ends the day, RFC 3339 UTC.
    pub last_meeting_start_iso: Option<String>,
    /// When the day's meetings are over, RFC 3339 UTC.
    pub last_meeting_end_iso: Option<String>,
    /// The same with the zone's offset.
    pub last_meeting_end_local_iso: Option<String>,
    /// Subject of the meeting that ends the day.
    pub last_meeting_subject: Option<String>,
    /// Whether the day's meetings are all over.
    pub is_done: bool,
    /// One human sentence.
    pub note: String,
}

/// The facts of one local day, shared by the day-level answers.
pub(super) struct DayView<'a> {
    pub(super) date: NaiveDate,
    pub(super) meetings: Vec<&'a Occurrence>,
    pub(super) timed: Vec<&'a Occurrence>,
    pub(super) all_day: Vec<&'a Occurrence>,
    /// The meeting whose end closes the day: the last-ending timed meeting, else the
    /// last-ending all-day one.
    pub(super) last: Option<(&'a Occurrence, DateTime<Utc>, DateTime<Utc>)>,
}

impl<'a> DayView<'a> {
    pub(super) fn new(ctx: &Ctx<'a>, date: NaiveDate, tz: Tz) -> Self {
        let meetings = day::meetings_on(ctx.snap, date, tz, ctx.default_tz, ctx.now);
        let (all_day, timed): (Vec<_>, Vec<_>) = meetings.iter().partition(|o| o.all_day());
        let last_of = |list: &[&'a Occurrence]| {
            list.iter()
                .map(|o| (*o, o.start_utc(ctx.default_tz), o.end_utc(ctx.default_tz)))
                .max_by(|(a, sa, ea), (b, sb, eb)| {
                    (ea, sa).cmp(&(eb, sb)).then_with(|| a.cmp_id(b))
                })
        };
        let last = last_of(&timed).or_else(|| last_of(&all_day));
        DayView {
            date,
            meetings,
            timed,
            all_day,
            last,
        }
    }

    pub(super) fn remaining(&self, ctx: &Ctx<'_>) -> usize {
        self.meetings
            .iter()
            .filter(|o| o.end_utc(ctx.default_tz) > ctx.now)
            .count()
    }

    pub(super) fn all_day_names(&self) -> String {
        join_and(&self.all_day.iter().map(|o| said(o)).collect::<Vec<_>>())
    }
}

/// When the meetings of today (local date of now in `tz`) are over.
pub fn done_for_day(ctx: &Ctx<'_>, tz: Tz) -> DoneForDay {
    let view = DayView::new(ctx, day::local_date(ctx.now, tz), tz);
    done_from_view(ctx, &view, tz)
}

pub(super) fn done_from_view(ctx: &Ctx<'_>, view: &DayView<'_>, tz: Tz) -> DoneForDay {
    let is_done = view.last.is_none_or(|(_, _, e)| e <= ctx.now);
    let note = match view.last {
        None => "No meetings today.".to_string(),
        Some((_, _, e)) if e <= ctx.now => format!(
            "Done for the day: the last meeting ended at {}.",
            spoken_time(e, tz)
        ),
        Some((_, _, e)) => format!("The last meeting ends at {}.", spoken_time(e, tz)),
    };
    DoneForDay {
        now_iso: iso_utc(ctx.now),
        tz: tz.name().to_string(),
        date: view.date.format("%Y-%m-%d").to_string(),
        has_meetings_today: !view.meetings.is_empty(),
        meetings_today: view.meetings.len(),
        meetings_remaining: view.remaining(ctx),
        last_meeting_start_iso: view.last.map(|(_, s, _)| iso_utc(s)),
        last_meeting_end_iso: view.last.map(|(_, _, e)| iso_utc(e)),
        last_meeting_end_local_iso: view.last.map(|(_, _, e)| iso_local(e, tz)),
        last_meeting_subject: view.last.map(|(o, _, _)| said(o)),
        is_done,
        note,
    }
}

/// The sentences about being done, for done-for-day and the launch summary.
pub(super) fn say_done(sp: &mut Speech, ctx: &Ctx<'_>, view: &DayView<'_>, tz: Tz) {
    let Some((last, _, end)) = view.last else {
        sp.say("You have no meetings today. Enjoy your free day!");
        return;
    };
    let at = spoken_time(end, tz);
    if end <= ctx.now {
        sp.say("You're all done for today!");
        if !last.all_day() {
            sp.say(format!("Your last meeting, {}, ended at {at}.", said(last)));
        }
    } else if view.timed.is_empty() {
        sp.say(format!(
            "Today you have {}, all day, until {at}. There are no other meetings, so you'll be \
             done at {at}.",
            view.all_day_names()
        ));
    } else {
        sp.say(format!(
            "You'll be done for the day at {at}, after {}.",
            said(last)
        ));
    }
}

/// GET /api/alexa/done-for-day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoneForDayAnswer {
    /// The day's facts.
    #[serde(flatten)]
    pub done: DoneForDay,
    /// What to say.
    #[serde(flatten)]
    pub spoken: Spoken,
}

/// GET /api/alexa/done-for-day.
pub fn done_for_day_answer(ctx: &Ctx<'_>, params: &Params) -> DoneForDayAnswer {
    let tz = params.zone;
    let view = DayView::new(ctx, day::local_date(ctx.now, tz), tz);
    let done = done_from_view(ctx, &view, tz);
    let mut sp = Speech::new();
    say_done(&mut sp, ctx, &view, tz);
    let remaining = view.remaining(ctx);
    if !done.is_done && remaining > 0 && !view.timed.is_empty() {
        sp.say(format!(
            "You have {} left today.",
            count_of(remaining, "meeting")
        ));
    }
    let lines: Vec<String> = view
        .meetings
        .iter()
        .map(|o| card_line(o, ctx, tz))
        .collect();
    let spoken = Spoken::new(&sp, params, "Done for the Day", &lines);
    DoneForDayAnswer { done, spoken }
}
