//! The skill's launch summary: the rest of today in a few sentences.

use super::done::{DayView, done_from_view, say_done};
use super::next::next_phrase;
use super::speech::{count_of, join_and, spoken_time};
use super::ssml::Speech;
use super::*;
use crate::ics::Occurrence;
use serde::Serialize;

// ---------------------------------------------------------------------------------------------
// Launch summary

/// GET /api/alexa/launch-summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaunchSummaryAnswer {
    /// Whether today (in the asked zone) has any meeting.
    pub has_meetings_today: bool,
    /// The next meeting (the kiosk's rule; maybe on a later day), or null.
    pub next_meeting: Option<MeetingInfo>,
    /// A timed meeting in progress now, or null.
    pub current_meeting: Option<MeetingInfo>,
    /// The day's done-for-day facts.
    pub done_for_day: DoneForDay,
    /// What to say.
    #[serde(flatten)]
    pub spoken: Spoken,
}

/// GET /api/alexa/launch-summary: what is going on now, what is next, when the day ends.
pub fn launch_summary_answer(ctx: &Ctx<'_>, params: &Params) -> LaunchSummaryAnswer {
    let tz = params.zone;
    let today = day::local_date(ctx.now, tz);
    let view = DayView::new(ctx, today, tz);
    let done = done_from_view(ctx, &view, tz);
    let next = next_meeting_occ(ctx);
    let current = view
        .timed
        .iter()
        .filter(|o| o.start_utc(ctx.default_tz) <= ctx.now && ctx.now < o.end_utc(ctx.default_tz))
        .max_by_key(|o| o.start_utc(ctx.default_tz))
        .copied();
    let (_, day_end) = day::day_bounds(today, tz);
    let next_today = next.filter(|o| !o.all_day() && o.start_utc(ctx.default_tz) < day_end);

    let mut sp = Speech::new();
    if view.meetings.is_empty() {
        sp.say("No meetings today.");
        match next {
            Some(o) => sp.say(format!("Your next meeting is {}.", next_phrase(o, ctx, tz))),
            None => sp.say("Your calendar is clear."),
        }
    } else {
        // With no timed meeting, the done sentence names the all-day events itself.
        if !view.all_day.is_empty() && !view.timed.is_empty() {
            sp.say(format!("Today you have {}, all day.", view.all_day_names()));
        }
        if let Some(c) = current {
            sp.say(format!(
                "You're currently in {}, until {}.",
                said(c),
                spoken_time(c.end_utc(ctx.default_tz), tz)
            ));
        }
        match next_today {
            Some(o) => {
                sp.say(format!("Your next meeting is {}.", next_phrase(o, ctx, tz)));
                let later: Vec<&Occurrence> = view
                    .timed
                    .iter()
                    .filter(|m| m.start_utc(ctx.default_tz) > o.start_utc(ctx.default_tz))
                    .copied()
                    .collect();
                match params.detail {
                    Detail::Brief => {}
                    Detail::Normal if !later.is_empty() => sp.say(format!(
                        "After that, you have {} today.",
                        count_of(later.len(), "more meeting")
                    )),
                    Detail::Verbose if !later.is_empty() => sp.say(format!(
                        "Later today: {}.",
                        join_and(
                            &later
                                .iter()
                                .take(params.max_events)
                                .map(|m| format!(
                                    "{} at {}",
                                    said(m),
                                    spoken_time(m.start_utc(ctx.default_tz), tz)
                                ))
                                .collect::<Vec<_>>()
                        )
                    )),
                    _ => {}
                }
                match view.last {
                    Some((last, _, end))
                        if later.is_empty() && std::ptr::eq(last, o) || last.id() == o.id() =>
                    {
                        sp.say(format!(
                            "That's your last meeting today, so you'll be done at {}.",
                            spoken_time(end, tz)
                        ))
                    }
                    _ => say_done(&mut sp, ctx, &view, tz),
                }
            }
            None if current.is_some() => {
                sp.say("After that, you're done for the day.");
            }
            None => {
                say_done(&mut sp, ctx, &view, tz);
                if done.is_done
                    && let Some(o) = next
                {
                    sp.say(format!("Your next meeting is {}.", next_phrase(o, ctx, tz)));
                }
            }
        }
    }
    let lines: Vec<String> = view
        .meetings
        .iter()
        .map(|o| card_line(o, ctx, tz))
        .collect();
    let spoken = Spoken::new(&sp, params, "Your Day", &lines);
    LaunchSummaryAnswer {
        has_meetings_today: done.has_meetings_today,
        next_meeting: next.map(|o| MeetingInfo::of(o, ctx, tz).with_speech(&spoken, false)),
        current_meeting: current.map(|o| MeetingInfo::of(o, ctx, tz)),
        done_for_day: done,
        spoken,
    }
}
