//! What the API says: pure functions of a [`Snapshot`], "now", a zone and status facts.
//!
//! Why it exists: every answer of the JSON API is a plain function here, with no I/O and no
//! clock of its own. That makes the rules of SPEC §6 easy to
//! unit-test exactly, lets the server stay a thin router, and keeps any cache in front of these
//! functions trivially correct: a cache only decides *whether* to recompute, never *what*.

use crate::ics::Occurrence;
use crate::snapshot::{Snapshot, StatusInner};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// Subject keywords that mark a focus-time block (matched case-insensitively).
pub(crate) const FOCUS_KEYWORDS: [&str; 5] = [
    "focus time",
    "focus",
    "deep work",
    "thinking time",
    "planning time",
];

/// Candidates starting within this long of the earliest one compete on "lunch or not".
pub(crate) const LUNCH_GROUPING: Duration = Duration::minutes(30);

/// A subject says "lunch" when it contains the word and is at most this many characters
/// (CalendarBot's rule: "Lunch" loses, "Lunch with the CEO" is a meeting).
pub(crate) const LUNCH_SUBJECT_MAX_CHARS: usize = 10;

/// RFC 3339 in UTC with `Z` and whole seconds, the API's time format.
pub(crate) fn iso_utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Whether `subject` marks a focus-time block.
pub(crate) fn is_focus_time(subject: &str) -> bool {
    let s = subject.to_lowercase();
    FOCUS_KEYWORDS.iter().any(|k| s.contains(k))
}

/// Whether `subject` is a generic lunch block (short and says "lunch").
pub(crate) fn is_lunch(subject: &str) -> bool {
    let s = subject.trim().to_lowercase();
    s.contains("lunch") && s.chars().count() <= LUNCH_SUBJECT_MAX_CHARS
}

/// The meeting shown by the kiosk (`meeting` of /api/whats-next).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Meeting {
    /// Occurrence id (stable across refreshes; what /api/skip takes).
    pub meeting_id: String,
    /// SUMMARY.
    pub subject: String,
    /// DESCRIPTION.
    pub description: String,
    /// Attendees in feed order.
    pub attendees: Vec<String>,
    /// Start, RFC 3339 UTC.
    pub start_iso: String,
    /// End minus start, seconds.
    pub duration_seconds: i64,
    /// LOCATION.
    pub location: String,
    /// Always empty: kept for compatibility with CalendarBot clients.
    pub raw_source: String,
    /// Whole seconds from now until the start (0 when it starts this second).
    pub seconds_until_start: i64,
}

/// How close the next meeting is (`status` of /api/whats-next).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct NextStatus {
    /// Human text for the kiosk's status line.
    pub message: &'static str,
    /// Starting within 15 minutes (or now).
    pub is_urgent: bool,
    /// Starting within 2 minutes.
    pub is_critical: bool,
}

/// The whole /api/whats-next answer: CalendarBot's two fields, then the kiosk's ([`kiosk`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct WhatsNext {
    /// The next meeting, if any.
    pub meeting: Option<Meeting>,
    /// Urgency of that meeting.
    pub status: NextStatus,
    /// The meeting in progress, if any.
    pub current: Option<kiosk::Current>,
    /// Meetings after the next one that start today (local midnight in the default zone).
    pub later_today: Vec<Meeting>,
    /// Seconds since the newest successful refresh; null when none ever succeeded.
    pub data_age_s: Option<i64>,
    /// Whether that is older than two refresh intervals.
    pub stale: bool,
    /// "24h" or "12h": how the page and the display write local times.
    pub time_format: &'static str,
}

/// Whether `o` can be "the next meeting" at all (SPEC §6 filters).
pub(super) fn is_candidate(o: &Occurrence, snap: &Snapshot, now: DateTime<Utc>) -> bool {
    o.status.is_meeting()
        && !snap.is_occurrence_skipped(o, now)
        && !is_focus_time(o.details.subject())
}

/// Pick the next meeting: the earliest candidate whose start is not before `now`; among the
/// candidates starting within 30 minutes of it, a non-lunch one beats a lunch one (ties: earlier
/// start, then id).
///
/// `tz` must be the zone the snapshot is sorted in (the default zone: all-day starts are
/// midnight there). The calendar is sorted by start, then id, so this is a binary search for
/// the first occurrence not before `now` and a scan of the (few) occurrences up to 30 minutes
/// after the first candidate, not a pass over the whole calendar.
pub(crate) fn next_occurrence(
    snap: &Snapshot,
    now: DateTime<Utc>,
    tz: Tz,
) -> Option<(&Occurrence, DateTime<Utc>)> {
    let first = snap.occurrences.partition_point(|o| o.start_utc(tz) < now);
    let mut upcoming = snap.occurrences[first..]
        .iter()
        .filter(|o| is_candidate(o, snap, now))
        .map(|o| (o, o.start_utc(tz)));
    let (mut best, earliest) = upcoming.next()?;
    let mut best_start = earliest;
    // In (start, id) order, so the first of equal keys is the smaller id.
    for (o, s) in upcoming.take_while(|(_, s)| *s <= earliest + LUNCH_GROUPING) {
        if (is_lunch(o.details.subject()), s) < (is_lunch(best.details.subject()), best_start) {
            best = o;
            best_start = s;
        }
    }
    Some((best, best_start))
}

/// Status by whole minutes until the start (SPEC §6).
pub(crate) fn status_for(seconds_until_start: Option<i64>) -> NextStatus {
    let (message, is_urgent, is_critical) = match seconds_until_start {
        None => ("No meetings scheduled", false, false),
        Some(s) if s <= 0 => ("Meeting in progress", true, false),
        Some(s) => match s / 60 {
            m if m <= 2 => ("Starting very soon", true, true),
            m if m <= 15 => ("Starting soon", true, false),
            m if m <= 60 => ("Starting within the hour", false, false),
            _ => ("Plenty of time", false, false),
        },
    };
    NextStatus {
        message,
        is_urgent,
        is_critical,
    }
}

/// The /api/whats-next answer in one call (the server goes through the pipeline's seam, which
/// splits it into [`next_occurrence`] and [`whats_next_from`]).
#[cfg(test)]
pub(crate) fn whats_next(snap: &Snapshot, now: DateTime<Utc>, tz: Tz) -> WhatsNext {
    whats_next_from(next_occurrence(snap, now, tz), now, tz)
}

/// The /api/whats-next answer for a chosen meeting (what [`next_occurrence`] returned for
/// this `now`, possibly remembered by the response cache): only the seconds and the status
/// depend on the exact second.
pub(crate) fn whats_next_from(
    choice: Option<(&Occurrence, DateTime<Utc>)>,
    now: DateTime<Utc>,
    tz: Tz,
) -> WhatsNext {
    let blank = |meeting: Option<Meeting>, status| WhatsNext {
        meeting,
        status,
        current: None,
        later_today: Vec::new(),
        data_age_s: None,
        stale: false,
        time_format: "24h",
    };
    let Some((o, start)) = choice else {
        return blank(None, status_for(None));
    };
    let meeting = meeting_of(o, start, now, tz);
    let status = status_for(Some(meeting.seconds_until_start));
    blank(Some(meeting), status)
}

/// `o` (starting at `start`) as a `meeting` of /api/whats-next at `now`.
pub(super) fn meeting_of(
    o: &Occurrence,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    tz: Tz,
) -> Meeting {
    Meeting {
        meeting_id: o.id().into_owned(),
        subject: o.details.subject().to_string(),
        description: o.details.description().to_string(),
        attendees: o.details.attendees().map(str::to_string).collect(),
        start_iso: iso_utc(start),
        duration_seconds: (o.end_utc(tz) - start).num_seconds().max(0),
        location: o.details.location().to_string(),
        raw_source: String::new(),
        seconds_until_start: (start - now).num_seconds(),
    }
}

// ---------------------------------------------------------------------------------------------
// /api/events

/// One occurrence as `calendarbot expand` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct EventJson {
    /// UID.
    pub uid: String,
    /// Occurrence id.
    pub id: String,
    /// SUMMARY.
    pub subject: String,
    /// LOCATION.
    pub location: String,
    /// RFC 3339 UTC for timed values, `YYYY-MM-DD` for all-day values.
    pub start: String,
    /// Like `start`; exclusive for all-day values.
    pub end: String,
    /// Whether the occurrence is all-day.
    pub all_day: bool,
    /// busy, tentative, free, cancelled or declined (an owner declined it: not a meeting).
    pub status: crate::ics::Status,
}

/// The /api/events answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct EventsAnswer {
    /// Window start (inclusive).
    pub from: String,
    /// Window end (exclusive).
    pub to: String,
    /// How many events follow.
    pub count: usize,
    /// Occurrences overlapping the window, sorted by start then id.
    pub events: Vec<EventJson>,
}

/// Every occurrence overlapping `[from, to)` (all-day values in `tz`), whatever its status.
/// A zero-length occurrence overlaps when its start is inside the window.
pub(crate) fn events_in(
    snap: &Snapshot,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: Tz,
) -> EventsAnswer {
    let mut hits: Vec<(&Occurrence, DateTime<Utc>)> = snap
        .occurrences
        .iter()
        .filter_map(|o| {
            let (s, e) = (o.start_utc(tz), o.end_utc(tz));
            let overlaps = s < to && (e > from || (s == e && s >= from));
            overlaps.then_some((o, s))
        })
        .collect();
    hits.sort_by(|(a, sa), (b, sb)| sa.cmp(sb).then_with(|| a.cmp_id(b)));
    let events: Vec<EventJson> = hits
        .into_iter()
        .map(|(o, _)| EventJson {
            uid: o.details.uid().to_string(),
            id: o.id().into_owned(),
            subject: o.details.subject().to_string(),
            location: o.details.location().to_string(),
            start: crate::ics::format_when(o.start),
            end: crate::ics::format_when(o.end),
            all_day: o.all_day(),
            status: o.status,
        })
        .collect();
    EventsAnswer {
        from: iso_utc(from),
        to: iso_utc(to),
        count: events.len(),
        events,
    }
}

// ---------------------------------------------------------------------------------------------
// /api/done-for-day is answered by [`crate::voice::done_for_day`]: one implementation of the
// local-day rules for the JSON route and the voice routes alike.

// ---------------------------------------------------------------------------------------------
// /api/health

/// Facts about the process that are not in the snapshot or on the board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcessFacts {
    /// "Now" for ages and staleness (`App::status_now`: advances even under a fixed clock).
    pub now: DateTime<Utc>,
    /// "Now" as the calendar answers see it (`App::clock`), shown as `server_time_iso`.
    pub server_time: DateTime<Utc>,
    /// When the process started.
    pub started_at: DateTime<Utc>,
    /// Process id.
    pub pid: u32,
    /// "optimized" or "fallback".
    pub mode: &'static str,
    /// Seconds between refreshes (for the staleness rule).
    pub refresh_interval_secs: u64,
    /// Whether the database file is still there (deleted while running, nothing is saved).
    pub database_file_present: bool,
    /// Where an unreadable database file was moved at start, if one was.
    pub database_moved_aside: Option<String>,
    /// Stored rows the latest load left out because they could not be decoded.
    pub database_rows_skipped: u64,
    /// The updater's record (`state.json`), summarised.
    pub update: crate::version::state::Summary,
}

/// `server_status` of /api/health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ServerStatus {
    /// Seconds since start.
    pub uptime_s: i64,
    /// Process id.
    pub pid: u32,
    /// "optimized" or "fallback".
    pub mode: &'static str,
}

/// `data_status` of /api/health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DataStatus {
    /// Occurrences served (all sources, every status).
    pub event_count: usize,
    /// Seconds since the newest successful refresh of any source; null before the first.
    pub last_refresh_success_age_s: Option<i64>,
    /// Whether every source has been tried once since start.
    pub initial_refresh_complete: bool,
    /// Whether stored or fetched events have been loaded.
    pub event_window_initialized: bool,
    /// False once the database file was deleted under the running service: nothing is saved
    /// any more (restart to recreate it); health is then degraded.
    pub database_file_present: bool,
    /// Where the database file was moved at start because SQLite could not read it (kept for
    /// diagnosis; the kiosk started empty and fetched again); null when it was readable.
    pub database_moved_aside: Option<String>,
    /// Stored rows the latest load left out because they could not be decoded (their feeds
    /// are parsed again at the next fetch, which replaces them).
    pub database_rows_skipped: u64,
}

/// One entry of `background_tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct TaskHealth {
    /// Task name.
    pub name: String,
    /// What the task last said about itself.
    pub status: String,
    /// Seconds since it last reported.
    pub last_heartbeat_age_s: i64,
}

/// A kiosk page heartbeat older than this (three missed 30 s beats) says the display is not
/// showing the page any more: `display_probe.last_probe_ok` turns false.
pub(crate) const HEARTBEAT_STALE_SECS: i64 = 90;

/// `display_probe` of /api/health: the kiosk page's heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DisplayProbe {
    /// Last heartbeat, RFC 3339 UTC; null before the first.
    pub last_render_probe_iso: Option<String>,
    /// Whether the page is alive: the last heartbeat is at most [`HEARTBEAT_STALE_SECS`] old
    /// (the page posts one every 30 s); false before the first, as CalendarBot says.
    pub last_probe_ok: bool,
    /// Where the probe came from.
    pub last_probe_notes: Option<String>,
}

/// One entry of `sources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SourceStatus {
    /// Source name.
    pub name: String,
    /// Seconds since its last success; null if never.
    pub last_success_age_s: Option<i64>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// The last failure, if failing.
    pub last_error: Option<String>,
    /// VEVENTs read in the last parse; null until this run parsed the feed.
    pub events_parsed: Option<usize>,
    /// VEVENTs skipped in the last parse (no usable DTSTART); null until parsed.
    pub events_skipped: Option<usize>,
    /// Lines skipped in the last parse (malformed, an END without BEGIN); null until parsed.
    pub lines_skipped: Option<usize>,
    /// RRULEs ignored as invalid in the last parse; null until parsed.
    pub rules_ignored: Option<usize>,
    /// Time zones of the last parse that could not be resolved (their times were read in the
    /// default zone); empty until parsed.
    pub zones_unresolved: Vec<String>,
    /// Bounds hit in the last parse (SPEC §5: a rule or the feed cut at its bound, a line
    /// cut, nesting too deep); null until parsed.
    pub bounds_hit: Option<u64>,
}

/// The /api/health answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Health {
    /// "ok" or "degraded".
    pub status: &'static str,
    /// The release version (`version::version`: Cargo's, or the one `ci/release.sh` stamped).
    /// The update's health gate reads it to tell which build answers (docs/updates.md).
    pub version: &'static str,
    /// Now, RFC 3339 UTC.
    pub server_time_iso: String,
    /// Process facts.
    pub server_status: ServerStatus,
    /// Calendar data facts.
    pub data_status: DataStatus,
    /// Background task liveness.
    pub background_tasks: Vec<TaskHealth>,
    /// The kiosk page's heartbeat.
    pub display_probe: DisplayProbe,
    /// Per-feed health.
    pub sources: Vec<SourceStatus>,
    /// CalendarBot's `system_diagnostics`.
    pub system_diagnostics: SystemDiagnostics,
    /// Field updates: installed slot, previous version, last attempt, bad versions.
    pub update: crate::version::state::Summary,
}

/// `system_diagnostics` of /api/health (CalendarBot's field; `python_version` is null here,
/// the runtime and version say what runs instead).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SystemDiagnostics {
    /// Operating system and architecture, such as `linux-aarch64`.
    pub platform: String,
    /// Always null: no Python runs here.
    pub python_version: Option<String>,
    /// Whether the async runtime answers (it does, or this answer would not exist).
    pub event_loop_running: bool,
    /// "rust".
    pub runtime: &'static str,
    /// calendarbot's release version (`version::version`).
    pub version: &'static str,
}

impl SystemDiagnostics {
    fn current() -> Self {
        SystemDiagnostics {
            platform: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
            python_version: None,
            event_loop_running: true,
            runtime: "rust",
            version: crate::version::version(),
        }
    }
}

impl Health {
    /// Whether the service reports itself healthy (HTTP 200) or not (503).
    pub(crate) fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// The /api/health answer. Degraded: no successful refresh yet and no stored events, or the
/// newest success is older than 3 refresh intervals.
pub(crate) fn health(snap: &Snapshot, board: &StatusInner, p: &ProcessFacts) -> Health {
    let age = |t: DateTime<Utc>| (p.now - t).num_seconds().max(0);
    let newest = board.sources.values().filter_map(|s| s.last_success).max();
    let event_count = snap.occurrences.len();
    let stale_after = Duration::seconds(
        i64::try_from(p.refresh_interval_secs.saturating_mul(3)).unwrap_or(i64::MAX),
    );
    let degraded = !p.database_file_present
        || match newest {
            None => event_count == 0,
            Some(t) => p.now - t > stale_after,
        };
    Health {
        status: if degraded { "degraded" } else { "ok" },
        version: crate::version::version(),
        server_time_iso: iso_utc(p.server_time),
        server_status: ServerStatus {
            uptime_s: age(p.started_at),
            pid: p.pid,
            mode: p.mode,
        },
        data_status: DataStatus {
            event_count,
            last_refresh_success_age_s: newest.map(age),
            initial_refresh_complete: board.initial_refresh_complete,
            event_window_initialized: board.event_window_initialized,
            database_file_present: p.database_file_present,
            database_moved_aside: p.database_moved_aside.clone(),
            database_rows_skipped: p.database_rows_skipped,
        },
        background_tasks: board
            .tasks
            .iter()
            .map(|(name, t)| TaskHealth {
                name: name.clone(),
                status: t.status.clone(),
                last_heartbeat_age_s: age(t.last_beat),
            })
            .collect(),
        display_probe: DisplayProbe {
            last_render_probe_iso: board.last_heartbeat.map(iso_utc),
            last_probe_ok: board
                .last_heartbeat
                .is_some_and(|at| age(at) <= HEARTBEAT_STALE_SECS),
            last_probe_notes: board.last_heartbeat.map(|at| {
                let a = age(at);
                if a <= HEARTBEAT_STALE_SECS {
                    "browser-heartbeat".to_string()
                } else {
                    format!("browser-heartbeat: none for {a} s")
                }
            }),
        },
        sources: board
            .sources
            .values()
            .map(|s| SourceStatus {
                name: s.name.clone(),
                last_success_age_s: s.last_success.map(age),
                consecutive_failures: s.consecutive_failures,
                last_error: s.last_error.clone(),
                events_parsed: s.parse.as_ref().map(|p| p.events_parsed),
                events_skipped: s.parse.as_ref().map(|p| p.events_skipped),
                lines_skipped: s.parse.as_ref().map(|p| p.lines_skipped),
                rules_ignored: s.parse.as_ref().map(|p| p.rules_ignored),
                zones_unresolved: s
                    .parse
                    .as_ref()
                    .map(|p| p.zones_unresolved.clone())
                    .unwrap_or_default(),
                bounds_hit: s.parse.as_ref().map(|_| s.bounds_hit),
            })
            .collect(),
        system_diagnostics: SystemDiagnostics::current(),
        update: p.update.clone(),
    }
}

mod kiosk;
pub(crate) use kiosk::{KioskFacts, add_kiosk_fields};

#[cfg(test)]
mod tests;
