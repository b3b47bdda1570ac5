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
pub mod speech;
pub mod ssml;

use crate::answers::iso_utc;
use crate::ics::Occurrence;
use crate::snapshot::Snapshot;
use chrono::{DateTime, Days, Duration, NaiveDate, SecondsFormat, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{Value, json};
use speech::{
    capitalize, count_of, day_phrase, join_and, spoken_duration, spoken_time, when_phrase,
};
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

// ---------------------------------------------------------------------------------------------
// Routes and parameters

/// The voice routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// GET /api/alexa/next-meeting
    NextMeeting,
    /// GET /api/alexa/time-until-next
    TimeUntilNext,
    /// GET /api/alexa/done-for-day
    DoneForDay,
    /// GET /api/alexa/launch-summary
    LaunchSummary,
    /// GET /api/alexa/morning-summary
    MorningSummary,
    /// POST /api/morning-summary (the kiosk's own, no token, like the Python server)
    PostMorningSummary,
}

impl Route {
    /// The route serving `path`, if it is a voice route.
    pub fn from_path(path: &str) -> Option<Route> {
        let path = path.strip_suffix('/').unwrap_or(path);
        Some(match path {
            "/api/alexa/next-meeting" => Route::NextMeeting,
            "/api/alexa/time-until-next" => Route::TimeUntilNext,
            "/api/alexa/done-for-day" => Route::DoneForDay,
            "/api/alexa/launch-summary" => Route::LaunchSummary,
            "/api/alexa/morning-summary" => Route::MorningSummary,
            "/api/morning-summary" => Route::PostMorningSummary,
            _ => return None,
        })
    }

    /// Whether the route needs the bearer token (every /api/alexa/* route).
    pub fn needs_token(self) -> bool {
        self != Route::PostMorningSummary
    }

    /// The HTTP method the route answers.
    pub fn method(self) -> &'static str {
        match self {
            Route::PostMorningSummary => "POST",
            _ => "GET",
        }
    }

    fn zone_params(self) -> [&'static str; 2] {
        match self {
            Route::MorningSummary | Route::PostMorningSummary => ["timezone", "tz"],
            _ => ["tz", "timezone"],
        }
    }
}

/// How much a summary says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Detail {
    /// One or two sentences.
    Brief,
    /// The overview plus what stands out.
    Normal,
    /// Every meeting, one by one.
    Verbose,
}

/// A parameter that could not be used (HTTP 400 naming it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {param} {value:?}: expected {expected}")]
pub struct ParamError {
    /// The parameter's name.
    pub param: &'static str,
    /// What was sent.
    pub value: String,
    /// What is allowed.
    pub expected: &'static str,
}

/// The parsed query of a voice route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// The zone "today" and spoken times are in (`tz` / `timezone`, else the default zone).
    pub zone: Tz,
    /// The date to summarise (`date`, morning summary only).
    pub date: Option<NaiveDate>,
    /// `detail_level`: brief, normal (default) or verbose ("detailed" is taken as verbose).
    pub detail: Detail,
    /// `prefer_ssml`: include `ssml` (default true; false leaves it out).
    pub prefer_ssml: bool,
    /// `max_events`: meetings listed one by one in a summary (1..=200, default 50).
    pub max_events: usize,
}

impl Params {
    /// Parse a query string (without `?`) for `route`; empty values count as absent.
    pub fn parse(query: &str, route: Route, default_tz: Tz) -> Result<Params, ParamError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.trim().to_string()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let bad = |param: &'static str, value: &str, expected: &'static str| ParamError {
            param,
            value: value.chars().take(100).collect(),
            expected,
        };
        let mut zone = default_tz;
        for name in route.zone_params() {
            if let Some(v) = get(name) {
                zone = v
                    .parse::<Tz>()
                    .map_err(|_| bad(name, v, "an IANA time zone such as America/Los_Angeles"))?;
                break;
            }
        }
        let date = match get("date") {
            Some(v) => Some(
                NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .map_err(|_| bad("date", v, "a date as YYYY-MM-DD"))?,
            ),
            None => None,
        };
        let detail = match get("detail_level").map(str::to_ascii_lowercase).as_deref() {
            None | Some("normal") => Detail::Normal,
            Some("brief") => Detail::Brief,
            Some("verbose" | "detailed") => Detail::Verbose,
            Some(_) => {
                let v = get("detail_level").unwrap_or_default();
                return Err(bad("detail_level", v, "brief, normal or verbose"));
            }
        };
        let prefer_ssml = match get("prefer_ssml").map(str::to_ascii_lowercase).as_deref() {
            None | Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(_) => {
                let v = get("prefer_ssml").unwrap_or_default();
                return Err(bad("prefer_ssml", v, "true or false"));
            }
        };
        let max_events = match get("max_events") {
            None => DEFAULT_MAX_EVENTS,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_MAX_EVENTS).contains(n))
                .ok_or_else(|| bad("max_events", v, "a whole number from 1 to 200"))?,
        };
        Ok(Params {
            zone,
            date,
            detail,
            prefer_ssml,
            max_events,
        })
    }
}

/// What an answer is computed from.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The calendar.
    pub snap: &'a Snapshot,
    /// Now.
    pub now: DateTime<Utc>,
    /// CALENDARBOT_DEFAULT_TIMEZONE: where all-day dates become instants.
    pub default_tz: Tz,
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
    fn new(speech: &Speech, params: &Params, title: impl Into<String>, lines: &[String]) -> Self {
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
    /// The time until the start, spoken ("2 hours and 5 minutes"; "no time" once started).
    pub duration_spoken: String,
}

impl MeetingInfo {
    fn of(o: &Occurrence, ctx: &Ctx<'_>, tz: Tz) -> Self {
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
            duration_spoken: spoken_duration(until),
        }
    }
}

/// A subject as spoken: trimmed, and "an untitled meeting" when empty.
fn said(o: &Occurrence) -> String {
    let s = o.details.subject().trim();
    if s.is_empty() {
        "an untitled meeting".to_string()
    } else {
        s.to_string()
    }
}

/// One card line: "10:00 am – 10:30 am  Team Standup (Conference Room A)".
fn card_line(o: &Occurrence, ctx: &Ctx<'_>, tz: Tz) -> String {
    let when = if o.all_day() {
        "All day".to_string()
    } else {
        format!(
            "{} – {}",
            spoken_time(o.start_utc(ctx.default_tz), tz),
            spoken_time(o.end_utc(ctx.default_tz), tz)
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
fn next_meeting_occ<'a>(ctx: &Ctx<'a>) -> Option<&'a Occurrence> {
    crate::answers::next_occurrence(ctx.snap, ctx.now, ctx.default_tz).map(|(o, _)| o)
}

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
struct DayView<'a> {
    date: NaiveDate,
    meetings: Vec<&'a Occurrence>,
    timed: Vec<&'a Occurrence>,
    all_day: Vec<&'a Occurrence>,
    /// The meeting whose end closes the day: the last-ending timed meeting, else the
    /// last-ending all-day one.
    last: Option<(&'a Occurrence, DateTime<Utc>, DateTime<Utc>)>,
}

impl<'a> DayView<'a> {
    fn new(ctx: &Ctx<'a>, date: NaiveDate, tz: Tz) -> Self {
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

    fn remaining(&self, ctx: &Ctx<'_>) -> usize {
        self.meetings
            .iter()
            .filter(|o| o.end_utc(ctx.default_tz) > ctx.now)
            .count()
    }

    fn all_day_names(&self) -> String {
        join_and(&self.all_day.iter().map(|o| said(o)).collect::<Vec<_>>())
    }
}

/// When the meetings of today (local date of now in `tz`) are over.
pub fn done_for_day(ctx: &Ctx<'_>, tz: Tz) -> DoneForDay {
    let view = DayView::new(ctx, day::local_date(ctx.now, tz), tz);
    done_from_view(ctx, &view, tz)
}

fn done_from_view(ctx: &Ctx<'_>, view: &DayView<'_>, tz: Tz) -> DoneForDay {
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
fn say_done(sp: &mut Speech, ctx: &Ctx<'_>, view: &DayView<'_>, tz: Tz) {
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
fn next_phrase(o: &Occurrence, ctx: &Ctx<'_>, tz: Tz) -> String {
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
    NextMeetingAnswer {
        meeting: next.map(|o| MeetingInfo::of(o, ctx, tz)),
        spoken: Spoken::new(&sp, params, "Next Meeting", &lines),
    }
}

/// "Wednesday, November 5, 10:00 am – 10:30 am" for a card.
fn when_phrase_full(o: &Occurrence, ctx: &Ctx<'_>, tz: Tz) -> String {
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
                    i.duration_spoken
                ));
            } else {
                sp.say(format!(
                    "Your next meeting, {}, starts in {}, {}.",
                    said(o),
                    i.duration_spoken,
                    when_phrase(start, tz, today)
                ));
            }
            lines.push(format!("{} in {}", said(o), i.duration_spoken));
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
    LaunchSummaryAnswer {
        has_meetings_today: done.has_meetings_today,
        next_meeting: next.map(|o| MeetingInfo::of(o, ctx, tz)),
        current_meeting: current.map(|o| MeetingInfo::of(o, ctx, tz)),
        done_for_day: done,
        spoken: Spoken::new(&sp, params, "Your Day", &lines),
    }
}

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
    /// "tomorrow_morning", "today_morning" or "<weekday>_morning" (CalendarBot's labels).
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
fn back_to_back_runs(timed: &[&Occurrence], tz: Tz) -> (Vec<Run>, usize) {
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
        preview_for,
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
    };
    MorningSummaryAnswer {
        summary,
        spoken: Spoken::new(&sp, params, title, &lines),
    }
}

/// Like [`next_phrase`] but without "in N hours" (the meeting is after the previewed day).
fn next_phrase_from(o: &Occurrence, ctx: &Ctx<'_>, tz: Tz, today: NaiveDate) -> String {
    if o.all_day() {
        return next_phrase(o, ctx, tz);
    }
    format!(
        "{}, {}",
        said(o),
        when_phrase(o.start_utc(ctx.default_tz), tz, today)
    )
}

// ---------------------------------------------------------------------------------------------
// The HTTP face

/// What the server sends back for a voice route.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// Extra headers (`WWW-Authenticate` on 401, `Allow` on 405).
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn error(status: u16, message: String) -> Reply {
        Reply {
            status,
            body: json!({ "error": message }),
            headers: Vec::new(),
        }
    }
}

/// A request to a voice route, as the server sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The route.
    pub route: Route,
    /// HTTP method.
    pub method: &'a str,
    /// Query string without `?`.
    pub query: &'a str,
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a [u8]>,
}

/// Answer a voice route: token (401), method (405), parameters (400), then the answer (200).
pub fn handle(req: &Request<'_>, token: Option<&str>, ctx: &Ctx<'_>) -> Reply {
    if req.route.needs_token()
        && let Err(e) = auth::check_bearer(token, req.authorization)
    {
        let mut r = Reply::error(401, e.to_string());
        r.headers
            .push(("WWW-Authenticate", e.challenge().to_string()));
        return r;
    }
    if !req.method.eq_ignore_ascii_case(req.route.method()) {
        let mut r = Reply::error(
            405,
            format!("method not allowed: use {}", req.route.method()),
        );
        r.headers.push(("Allow", req.route.method().to_string()));
        return r;
    }
    let params = match Params::parse(req.query, req.route, ctx.default_tz) {
        Ok(p) => p,
        Err(e) => return Reply::error(400, e.to_string()),
    };
    let body = match req.route {
        Route::NextMeeting => serde_json::to_value(next_meeting_answer(ctx, &params)),
        Route::TimeUntilNext => serde_json::to_value(time_until_answer(ctx, &params)),
        Route::DoneForDay => serde_json::to_value(done_for_day_answer(ctx, &params)),
        Route::LaunchSummary => serde_json::to_value(launch_summary_answer(ctx, &params)),
        Route::MorningSummary | Route::PostMorningSummary => {
            serde_json::to_value(morning_summary_answer(ctx, &params))
        }
    };
    match body {
        Ok(body) => Reply {
            status: 200,
            body,
            headers: Vec::new(),
        },
        Err(e) => Reply::error(500, format!("could not encode the answer: {e}")),
    }
}

#[cfg(test)]
mod tests;
