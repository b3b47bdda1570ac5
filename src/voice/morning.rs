//! The morning summary: a whole local day previewed, the morning called out.

use super::done::DayView;
use super::insights::{self, GenerationContext, SummaryMetadata};
use super::next::next_phrase;
use super::speech::{
    capitalize, count_of, day_phrase, join_and, spoken_duration, spoken_time, when_phrase,
};
use super::ssml::Speech;
use super::*;
use crate::answers::iso_utc;
use crate::ics::Occurrence;
use chrono::{DateTime, Days, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

// ---------------------------------------------------------------------------------------------
// Morning summary

/// How full a day is, by meeting equivalents (timed meeting 1, all-day event 0.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Density {
    /// Up to 3.
    Light,
    /// Up to 5.
    Moderate,
    /// More than 5.
    Busy,
}

impl Density {
    fn of(equivalents: f64) -> Density {
        if equivalents <= 3.0 {
            Density::Light
        } else if equivalents <= 5.0 {
            Density::Moderate
        } else {
            Density::Busy
        }
    }

    fn word(self) -> &'static str {
        match self {
            Density::Light => "light",
            Density::Moderate => "moderate",
            Density::Busy => "busy",
        }
    }
}

/// `summary` of the morning summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MorningSummary {
    /// "tomorrow_morning", "today_morning" or `<weekday>_morning` (CalendarBot's labels).
    pub preview_for: String,
    /// The previewed local date, YYYY-MM-DD.
    pub date: String,
    /// The zone of that date.
    pub timezone: String,
    /// Start of the previewed day, RFC 3339 UTC.
    pub timeframe_start: String,
    /// End of the previewed day (exclusive), RFC 3339 UTC.
    pub timeframe_end: String,
    /// Timed meetings count 1, all-day events 0.5.
    pub total_meetings_equivalent: f64,
    /// Timed meetings that day.
    pub meeting_count: usize,
    /// All-day events that day.
    pub all_day_count: usize,
    /// light, moderate or busy.
    pub density: Density,
    /// A timed meeting starts before 8:00.
    pub early_start_flag: bool,
    /// Pairs of consecutive timed meetings less than 15 minutes apart.
    pub back_to_back_count: usize,
    /// Suggested wake-up time (90 minutes before an early start), with the zone's offset.
    pub wake_up_recommendation: Option<String>,
    /// Nothing timed before noon.
    pub free_morning: bool,
    /// First timed start, RFC 3339 UTC.
    pub first_meeting_start_iso: Option<String>,
    /// Last timed end, RFC 3339 UTC.
    pub last_meeting_end_iso: Option<String>,
    /// The day's meetings (at most `max_events`).
    pub meetings: Vec<MeetingInfo>,
    /// When this was computed, RFC 3339 UTC (CalendarBot's field).
    pub analysis_time: String,
    /// The day's timed meetings, CalendarBot's shape.
    pub meeting_insights: Vec<MeetingInsight>,
    /// Free blocks of the morning (06:00 to noon), CalendarBot's rule.
    pub free_blocks: Vec<FreeBlock>,
    /// CalendarBot's `metadata`.
    pub metadata: SummaryMetadata,
}

/// GET /api/alexa/morning-summary and POST /api/morning-summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MorningSummaryAnswer {
    /// The analysis.
    pub summary: MorningSummary,
    /// What to say.
    #[serde(flatten)]
    pub spoken: Spoken,
}

/// The date a morning summary previews when none is asked: today before noon (local), else
/// tomorrow.
pub fn default_summary_date(now: DateTime<Utc>, tz: Tz) -> NaiveDate {
    let local = now.with_timezone(&tz);
    let today = local.date_naive();
    if local.hour() < MORNING_END_HOUR {
        today
    } else {
        today.checked_add_days(Days::new(1)).unwrap_or(today)
    }
}

/// A run of back-to-back meetings: first start, last end, how many meetings.
type Run = (DateTime<Utc>, DateTime<Utc>, usize);

/// Runs of back-to-back meetings: (first start, last end, meetings in the run), runs of two
/// or more only; and the number of back-to-back pairs.
pub(super) fn back_to_back_runs(timed: &[&Occurrence], tz: Tz) -> (Vec<Run>, usize) {
    let mut runs = Vec::new();
    let mut pairs = 0;
    let mut run: Option<Run> = None;
    for o in timed {
        let (s, e) = (o.start_utc(tz), o.end_utc(tz));
        run = match run {
            Some((rs, re, n)) if s - re < BACK_TO_BACK_GAP => {
                pairs += 1;
                Some((rs, re.max(e), n + 1))
            }
            Some(done) => {
                if done.2 >= 2 {
                    runs.push(done);
                }
                Some((s, e, 1))
            }
            None => Some((s, e, 1)),
        };
    }
    if let Some(done) = run.filter(|r| r.2 >= 2) {
        runs.push(done);
    }
    (runs, pairs)
}

/// The morning summary of `params.date` (or [`default_summary_date`]) in `params.zone`.
pub fn morning_summary_answer(ctx: &Ctx<'_>, params: &Params) -> MorningSummaryAnswer {
    let tz = params.zone;
    let dtz = ctx.default_tz;
    let today = day::local_date(ctx.now, tz);
    let date = params
        .date
        .unwrap_or_else(|| default_summary_date(ctx.now, tz));
    let view = DayView::new(ctx, date, tz);
    let (lo, hi) = day::day_bounds(date, tz);
    let timed = &view.timed;
    let equivalents = timed.len() as f64 + 0.5 * view.all_day.len() as f64;
    let density = Density::of(equivalents);
    let local_hour = |t: DateTime<Utc>| t.with_timezone(&tz).hour();
    // Only meetings that start on the day itself make its morning.
    let starting: Vec<&Occurrence> = timed
        .iter()
        .filter(|o| o.start_utc(dtz) >= lo)
        .copied()
        .collect();
    let first = starting.first().copied();
    let early = first.filter(|o| local_hour(o.start_utc(dtz)) < EARLY_START_HOUR);
    let noon = day::day_start(date, tz) + Duration::hours(i64::from(MORNING_END_HOUR));
    let free_morning = !timed
        .iter()
        .any(|o| o.start_utc(dtz) < noon && o.end_utc(dtz) > lo);
    let (runs, pairs) = back_to_back_runs(timed, dtz);
    let wake = early.map(|o| o.start_utc(dtz) - WAKE_UP_LEAD);
    let last_end = timed.iter().map(|o| o.end_utc(dtz)).max();

    let dp = day_phrase(date, today);
    let weekday = date.format("%A").to_string();
    let preview_for = match (date - today).num_days() {
        0 => "today_morning".to_string(),
        1 => "tomorrow_morning".to_string(),
        _ => format!("{}_morning", weekday.to_lowercase()),
    };

    let mut sp = Speech::new();
    if view.meetings.is_empty() {
        sp.say(format!(
            "You have a free morning {dp}, with no meetings all day."
        ));
        if params.detail != Detail::Brief
            && let Some(o) = crate::answers::next_occurrence(ctx.snap, hi, dtz).map(|(o, _)| o)
        {
            sp.say(format!(
                "Your next meeting is {}.",
                next_phrase_from(o, ctx, tz, today)
            ));
        }
    } else {
        if timed.is_empty() {
            sp.say(format!("You have no timed meetings {dp}."));
        } else {
            sp.say(format!(
                "You have a {} day {dp}, with {}.",
                density.word(),
                count_of(timed.len(), "meeting")
            ));
        }
        if !view.all_day.is_empty() {
            let verb = if view.all_day.len() == 1 {
                "runs"
            } else {
                "run"
            };
            sp.say(format!(
                "{} {verb} all day.",
                capitalize(&view.all_day_names())
            ));
        }
        if let Some(o) = early {
            sp.say(format!(
                "Heads up, it's an early start: {} at {}.",
                said(o),
                spoken_time(o.start_utc(dtz), tz)
            ));
            if params.detail != Detail::Brief
                && let Some(w) = wake
            {
                sp.say(format!("You may want to be up by {}.", spoken_time(w, tz)));
            }
        } else if let Some(o) = first
            && params.detail != Detail::Brief
        {
            let at = spoken_time(o.start_utc(dtz), tz);
            if free_morning {
                sp.say(format!(
                    "Your morning is free; your first meeting is {} at {at}.",
                    said(o)
                ));
            } else {
                sp.say(format!("Your first meeting is {} at {at}.", said(o)));
            }
        }
        if !runs.is_empty() {
            if params.detail == Detail::Brief {
                sp.say("Expect back-to-back meetings.");
            } else {
                let spans: Vec<String> = runs
                    .iter()
                    .map(|(s, e, _)| {
                        format!("from {} to {}", spoken_time(*s, tz), spoken_time(*e, tz))
                    })
                    .collect();
                sp.say(format!("You're back-to-back {}.", join_and(&spans)));
            }
        }
        match params.detail {
            Detail::Brief => {}
            Detail::Normal => {
                let rest: Vec<String> = timed
                    .iter()
                    .filter(|o| Some(**o) != first.or(early))
                    .take(3)
                    .map(|o| format!("{} at {}", said(o), spoken_time(o.start_utc(dtz), tz)))
                    .collect();
                if !rest.is_empty() && timed.len() <= 4 {
                    sp.say(format!("After that: {}.", join_and(&rest)));
                }
            }
            Detail::Verbose => {
                for o in timed.iter().take(params.max_events) {
                    let place = if o.details.location().trim().is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", o.details.location().trim())
                    };
                    sp.say(format!(
                        "At {}, {}, for {}{place}.",
                        spoken_time(o.start_utc(dtz), tz),
                        said(o),
                        spoken_duration((o.end_utc(dtz) - o.start_utc(dtz)).num_seconds()),
                    ));
                }
            }
        }
        if params.detail != Detail::Brief
            && let Some(e) = last_end
        {
            sp.say(format!("You'll be done by {}.", spoken_time(e, tz)));
        }
    }

    let lines: Vec<String> = view
        .meetings
        .iter()
        .map(|o| card_line(o, ctx, tz))
        .collect();
    let title = format!("Morning Summary: {}", date.format("%A, %B %-d"));
    let summary = MorningSummary {
        preview_for: preview_for.clone(),
        date: date.format("%Y-%m-%d").to_string(),
        timezone: tz.name().to_string(),
        timeframe_start: iso_utc(lo),
        timeframe_end: iso_utc(hi),
        total_meetings_equivalent: equivalents,
        meeting_count: timed.len(),
        all_day_count: view.all_day.len(),
        density,
        early_start_flag: early.is_some(),
        back_to_back_count: pairs,
        wake_up_recommendation: wake.map(|w| iso_local(w, tz)),
        free_morning,
        first_meeting_start_iso: first.map(|o| iso_utc(o.start_utc(dtz))),
        last_meeting_end_iso: last_end.map(iso_utc),
        meetings: view
            .meetings
            .iter()
            .take(params.max_events)
            .map(|o| MeetingInfo::of(o, ctx, tz))
            .collect(),
        analysis_time: iso_utc(ctx.now),
        meeting_insights: insights::meeting_insights(ctx, timed),
        free_blocks: insights::free_blocks(ctx, timed, date, tz),
        metadata: SummaryMetadata {
            preview_for: preview_for.clone(),
            generation_context: GenerationContext {
                delivery_time: "evening",
                reference_day: dp.clone(),
            },
        },
    };
    MorningSummaryAnswer {
        summary,
        spoken: Spoken::new(&sp, params, title, &lines),
    }
}

/// Like [`next_phrase`] but without "in N hours" (the meeting is after the previewed day).
pub(super) fn next_phrase_from(o: &Occurrence, ctx: &Ctx<'_>, tz: Tz, today: NaiveDate) -> String {
    if o.all_day() {
        return next_phrase(o, ctx, tz);
    }
    format!(
        "{}, {}",
        said(o),
        when_phrase(o.start_utc(ctx.default_tz), tz, today)
    )
}
