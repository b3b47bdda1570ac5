//! The RFC 5545 calendar engine: parse a feed, resolve its time zones, expand its recurrences.
//!
//! Why it exists: everything the kiosk shows comes from expanding real-world ICS feeds
//! (Google, Outlook/Exchange, iCloud) into concrete occurrences, and those feeds break the RFC
//! in well-known ways. This crate is pure (no I/O, no clock, no command line: `calendarbot
//! expand` lives in the binary's crate): bytes and a window in,
//! occurrences out, so it can be tested, fuzzed and benchmarked on its own.
//!
//! # Layout
//! - [`parse`]: bytes → events (unfolding, parameters, escapes, bounds).
//! - [`tz`]: TZID → zone (IANA, Windows/CLDR names, VTIMEZONE-only zones, aliases).
//! - [`recur`]: the RRULE engine (wall-clock instances of one rule, with skip-ahead).
//! - [`event`]: VEVENT → typed event (times, span, busy status, people, rules).
//! - [`expand`]: events → occurrences inside a window (RDATE, EXDATE, overrides, ids, bounds).
//! - [`budget`]: the hard budgets of CPU and memory, and the error of a feed over one.
//! - [`stream`]: a feed read by chunks, in passes, keeping only events that reach the window.
//!
//! The semantic decisions (id rule, status mapping, UNTIL repairs, zone resolution order,
//! bounds) are documented where they are made ([`expand`], [`tz`], [`event`]) and summarised
//! in docs/engine.md.

pub mod budget;
pub mod event;
pub mod expand;
pub mod parse;
pub mod recur;
pub mod stream;
pub mod tz;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

pub use budget::{BudgetKind, OverBudget};

/// How an occurrence blocks time, after SPEC §5's first-match-wins mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Shown as a meeting.
    Busy,
    /// Shown as a meeting (STATUS:TENTATIVE).
    Tentative,
    /// Not a meeting (CDO-BUSYSTATUS FREE, TRANSP TRANSPARENT).
    Free,
    /// Not a meeting (STATUS:CANCELLED, X-OUTLOOK-DELETED).
    Cancelled,
    /// Not a meeting: an owner declined it. Set by the service per source, never by the engine
    /// (see [`Details::declined_by`]).
    Declined,
}

/// CLASS of a VEVENT (RFC 5545 §3.8.1.3): PUBLIC (also when missing or unknown), PRIVATE,
/// CONFIDENTIAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    #[default]
    Public,
    Private,
    Confidential,
}

impl Status {
    /// Whether the kiosk treats an occurrence with this status as a meeting.
    pub fn is_meeting(self) -> bool {
        matches!(self, Status::Busy | Status::Tentative)
    }
}

/// A start or end: an instant for timed events, a calendar date for all-day events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum When {
    /// A timed value, normalised to UTC.
    Timed(DateTime<Utc>),
    /// An all-day (DATE) value; for an end it is exclusive.
    AllDay(NaiveDate),
}

/// The text of one VEVENT, as plain owned fields: how [`Details`] is built and taken apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventText {
    /// The event's UID.
    pub uid: String,
    /// SUMMARY, truncated to the spec's bound.
    pub subject: String,
    /// DESCRIPTION, truncated to the spec's bound.
    pub description: String,
    /// LOCATION, truncated to the spec's bound.
    pub location: String,
    /// Attendee display names or addresses, in feed order (never empty strings).
    pub attendees: Vec<String>,
    /// ORGANIZER display name or address, if any.
    pub organizer: Option<String>,
}

/// The text every occurrence of one VEVENT shares, packed into one allocation.
///
/// Held once per VEVENT behind an `Arc`: a daily series expanded over a year is 365
/// occurrences but one description and one attendee list. Before, every occurrence carried
/// its own copies (about 930 bytes each on the benchmark feed: 35 MiB resident for the
/// 3,000-event feed). Packed, an event's text costs one allocation instead of ten (uid,
/// subject, description, location, organizer, the attendee list and each attendee): measured
/// 18.0 → 16.6 MB resident for that feed.
///
/// Layout: `text` is uid, subject, description, location and organizer back to back, then the
/// attendees joined by `\n` (a content line cannot hold a newline once unfolded, so no name
/// contains one); `ends` are the end offsets of the five fields.
///
/// Beside the text: CLASS and the addresses of the attendees who declined (lower case, no
/// `mailto:`), for the service's `owner` / `privacy` rules; set by [`Details::with_access`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Details {
    text: Box<str>,
    ends: [u32; 5],
    has_organizer: bool,
    class: Class,
    /// Declined attendees' addresses joined by `\n` (empty: none).
    declined: Box<str>,
}

impl Details {
    /// The event's UID.
    pub fn uid(&self) -> &str {
        self.field(0)
    }

    /// SUMMARY, truncated to the spec's bound.
    pub fn subject(&self) -> &str {
        self.field(1)
    }

    /// DESCRIPTION, truncated to the spec's bound.
    pub fn description(&self) -> &str {
        self.field(2)
    }

    /// LOCATION, truncated to the spec's bound.
    pub fn location(&self) -> &str {
        self.field(3)
    }

    /// ORGANIZER display name or address, if any.
    pub fn organizer(&self) -> Option<&str> {
        self.has_organizer.then(|| self.field(4))
    }

    /// Attendee display names or addresses, in feed order.
    pub fn attendees(&self) -> impl Iterator<Item = &str> {
        let rest = &self.text[self.ends[4] as usize..];
        rest.split('\n').filter(|a| !a.is_empty())
    }

    /// Bytes of text held (for cache weighers).
    pub fn text_len(&self) -> usize {
        self.text.len() + self.declined.len()
    }

    /// CLASS of the event.
    pub fn class(&self) -> Class {
        self.class
    }

    /// Addresses of the attendees whose PARTSTAT is DECLINED: lower case, `mailto:` removed.
    pub fn declined_by(&self) -> impl Iterator<Item = &str> {
        self.declined.split('\n').filter(|a| !a.is_empty())
    }

    /// The same text with its CLASS and declined addresses (normalised here: trimmed, lower
    /// case, `mailto:` removed, empty ones dropped).
    pub fn with_access<'a>(
        mut self,
        class: Class,
        declined: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        self.class = class;
        let list: Vec<String> = declined
            .into_iter()
            .map(normalise_address)
            .filter(|a| !a.is_empty())
            .collect();
        self.declined = list.join("\n").into_boxed_str();
        self
    }

    fn field(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }
}

/// A calendar address as compared against owners: trimmed, `mailto:` removed, lower case.
pub fn normalise_address(a: &str) -> String {
    let a = a.trim();
    let mailto = a
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("mailto:"));
    let bare = if mailto { &a[7..] } else { a };
    bare.trim().replace('\n', " ").to_lowercase()
}

impl From<EventText> for Details {
    fn from(t: EventText) -> Self {
        let attendees = t.attendees.iter().filter(|a| !a.is_empty());
        let len = t.uid.len()
            + t.subject.len()
            + t.description.len()
            + t.location.len()
            + t.organizer.as_ref().map_or(0, String::len)
            + attendees.clone().map(|a| a.len() + 1).sum::<usize>();
        let mut text = String::with_capacity(len);
        let mut ends = [0u32; 5];
        let organizer = t.organizer.as_deref().unwrap_or("");
        for (i, f) in [
            &*t.uid,
            &*t.subject,
            &*t.description,
            &*t.location,
            organizer,
        ]
        .into_iter()
        .enumerate()
        {
            text.push_str(f);
            // The engine bounds every field (and a line to 64 KiB), so this never saturates.
            ends[i] = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        for (i, a) in attendees.enumerate() {
            if i > 0 {
                text.push('\n');
            }
            // A newline cannot survive unfolding; replace one anyway so the split stays exact.
            text.push_str(&a.replace('\n', " "));
        }
        Details {
            text: text.into_boxed_str(),
            ends,
            has_organizer: t.organizer.is_some(),
            class: Class::Public,
            declined: Box::default(),
        }
    }
}

impl From<&Details> for EventText {
    fn from(d: &Details) -> Self {
        EventText {
            uid: d.uid().to_string(),
            subject: d.subject().to_string(),
            description: d.description().to_string(),
            location: d.location().to_string(),
            attendees: d.attendees().map(str::to_string).collect(),
            organizer: d.organizer().map(str::to_string),
        }
    }
}

impl std::fmt::Debug for Details {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Details")
            .field("uid", &self.uid())
            .field("subject", &self.subject())
            .field("description", &self.description())
            .field("location", &self.location())
            .field("attendees", &self.attendees().collect::<Vec<_>>())
            .field("organizer", &self.organizer())
            .field("class", &self.class)
            .field("declined_by", &self.declined_by().collect::<Vec<_>>())
            .finish()
    }
}

/// One concrete occurrence of an event, inside the expansion window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// The event's text, shared with every other occurrence of the same VEVENT.
    pub details: Arc<Details>,
    /// Start of the occurrence.
    pub start: When,
    /// End of the occurrence (exclusive for all-day values).
    pub end: When,
    /// Busy status after the spec's mapping.
    pub status: Status,
    /// Whether this occurrence comes from a recurring series (expanded or override).
    pub recurring: bool,
    /// Whether this is an expanded slot of a series (its id carries its start) rather than a
    /// single event or an override (its id is its UID). See [`Occurrence::id`].
    pub expanded: bool,
}

impl Occurrence {
    /// Stable id (SPEC §5): the UID for a single event or an override, `UID_YYYYMMDDTHHMMSS`
    /// (UTC start; all-day: the date at `T000000`) for an expanded occurrence.
    ///
    /// Derived, not stored: 18,000 occurrences of the benchmark feed would otherwise carry
    /// 18,000 strings that repeat their UID. Comparing and matching ([`Occurrence::cmp_id`])
    /// allocates nothing.
    pub fn id(&self) -> Cow<'_, str> {
        match self.id_suffix() {
            None => Cow::Borrowed(self.details.uid()),
            Some(sfx) => {
                let mut id = String::with_capacity(self.details.uid().len() + sfx.len());
                id.push_str(self.details.uid());
                id.push_str(sfx.as_str());
                Cow::Owned(id)
            }
        }
    }

    /// `self.id().cmp(&other.id())`, without building either id.
    pub fn cmp_id(&self, other: &Self) -> Ordering {
        // UIDs that differ before one of them ends decide alone: no suffix is formatted.
        let (ua, ub) = (self.details.uid(), other.details.uid());
        let n = ua.len().min(ub.len());
        if ua.as_bytes()[..n] != ub.as_bytes()[..n] {
            return ua.as_bytes()[..n].cmp(&ub.as_bytes()[..n]);
        }
        let (a, b) = (self.id_suffix(), other.id_suffix());
        let a = self
            .details
            .uid()
            .bytes()
            .chain(a.iter().flat_map(|s| s.as_bytes()).copied());
        let b = other
            .details
            .uid()
            .bytes()
            .chain(b.iter().flat_map(|s| s.as_bytes()).copied());
        a.cmp(b)
    }

    /// The calendar's order: start (all-day values at midnight in `tz`), then id.
    pub fn cmp_start_then_id(&self, other: &Self, tz: chrono_tz::Tz) -> Ordering {
        self.start_utc(tz)
            .cmp(&other.start_utc(tz))
            .then_with(|| self.cmp_id(other))
    }

    /// `_YYYYMMDDTHHMMSS` for an expanded occurrence.
    fn id_suffix(&self) -> Option<IdSuffix> {
        use chrono::{Datelike, Timelike};
        use std::fmt::Write;
        if !self.expanded {
            return None;
        }
        let mut sfx = IdSuffix::default();
        let (date, time) = match self.start {
            When::Timed(t) => (t.date_naive(), Some(t.time())),
            When::AllDay(d) => (d, None),
        };
        // Years 0-9999 by hand (chrono's formatter dominated the sorts), others by chrono.
        if let Ok(y @ 0..=9999) = u32::try_from(date.year()) {
            let (h, mi, s) = time.map_or((0, 0, 0), |t| (t.hour(), t.minute(), t.second()));
            sfx.push(b'_');
            sfx.digits(y / 100);
            sfx.digits(y % 100);
            sfx.digits(date.month());
            sfx.digits(date.day());
            sfx.push(b'T');
            sfx.digits(h);
            sfx.digits(mi);
            sfx.digits(s);
            return Some(sfx);
        }
        // Writing to IdSuffix only fails past its capacity, which a year of at most 9 digits
        // (all chrono allows) cannot reach.
        let _ = match self.start {
            When::Timed(t) => write!(sfx, "_{}", t.format("%Y%m%dT%H%M%S")),
            When::AllDay(d) => write!(sfx, "_{}T000000", d.format("%Y%m%d")),
        };
        Some(sfx)
    }

    /// Whether this is an all-day occurrence.
    pub fn all_day(&self) -> bool {
        matches!(self.start, When::AllDay(_))
    }

    /// The start as an instant; all-day values begin at 00:00 of their date in `tz`.
    pub fn start_utc(&self, tz: chrono_tz::Tz) -> DateTime<Utc> {
        when_utc(self.start, tz)
    }

    /// The end as an instant; all-day values end at 00:00 of their (exclusive) date in `tz`.
    pub fn end_utc(&self, tz: chrono_tz::Tz) -> DateTime<Utc> {
        when_utc(self.end, tz)
    }
}

/// The id suffix of an expanded occurrence, built on the stack.
#[derive(Default)]
struct IdSuffix {
    buf: [u8; 32],
    len: usize,
}

impl IdSuffix {
    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever appended, so the bytes are UTF-8.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Append one ASCII byte (the caller stays within the 16 bytes of a suffix).
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    /// Append `v` (0-99) as two digits.
    fn digits(&mut self, v: u32) {
        for d in [v / 10 % 10, v % 10] {
            self.push(b'0' + d as u8);
        }
    }
}

impl std::fmt::Write for IdSuffix {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// An instant for a [`When`]; a date is midnight in `tz` (the earliest one across a DST gap).
pub fn when_utc(w: When, tz: chrono_tz::Tz) -> DateTime<Utc> {
    use chrono::TimeZone;
    match w {
        When::Timed(t) => t,
        When::AllDay(d) => {
            let midnight = d.and_hms_opt(0, 0, 0).expect("midnight exists");
            match tz.from_local_datetime(&midnight) {
                chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
                chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
                // Midnight skipped by a DST gap: the day starts at the first instant after it.
                chrono::LocalResult::None => {
                    let later = midnight + chrono::Duration::hours(1);
                    tz.from_local_datetime(&later)
                        .earliest()
                        .map(|t| t.with_timezone(&Utc))
                        .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
                }
            }
        }
    }
}

/// Bounds against hostile feeds (SPEC §5). A bound that is hit is a warning and a counter,
/// never a crash or an empty calendar: what was produced up to it is kept.
///
/// The `max_rule_candidates` .. `max_zone_transitions` fields are different: they are hard
/// budgets of CPU and memory, set far above what real feeds need (docs/engine.md has the
/// figures). A feed that needs more is refused whole ([`IcsError::OverBudget`]), so the
/// service keeps its last good window, as after any failed fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Occurrences produced by one series (master plus RDATEs) at most.
    pub max_occurrences_per_rule: usize,
    /// Occurrences produced by one feed at most.
    pub max_occurrences_per_feed: usize,
    /// VEVENTs read from one feed at most.
    pub max_events: usize,
    /// Characters kept of SUMMARY.
    pub max_subject_chars: usize,
    /// Characters kept of DESCRIPTION.
    pub max_description_chars: usize,
    /// Characters kept of LOCATION.
    pub max_location_chars: usize,
    /// Bytes of one unfolded content line at most; longer lines are cut.
    pub max_line_bytes: usize,
    /// Depth of nested BEGIN blocks at most.
    pub max_nesting: usize,
    /// Hard budget: candidates one rule may examine (days looked at plus instances made).
    pub max_rule_candidates: u64,
    /// Hard budget: candidates all rules of a feed may examine, VTIMEZONE rules included.
    pub max_feed_candidates: u64,
    /// Hard budget: distinct TZIDs (and X-WR-TIMEZONE values) one feed may name.
    pub max_zones: usize,
    /// Hard budget: transitions compiled from one feed's VTIMEZONEs.
    pub max_zone_transitions: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_occurrences_per_rule: 10_000,
            max_occurrences_per_feed: 100_000,
            max_events: 50_000,
            max_subject_chars: 200,
            max_description_chars: 500,
            max_location_chars: 100,
            max_line_bytes: 64 * 1024,
            max_nesting: 16,
            max_rule_candidates: 2_000_000,
            max_feed_candidates: 10_000_000,
            max_zones: 200,
            max_zone_transitions: 100_000,
        }
    }
}

/// What to expand and how.
#[derive(Debug, Clone)]
pub struct ExpandOptions {
    /// Zone of floating times (CALENDARBOT_DEFAULT_TIMEZONE).
    pub default_tz: chrono_tz::Tz,
    /// Window start: occurrences ending after it are kept.
    pub from: DateTime<Utc>,
    /// Window end (exclusive): occurrences starting before it are kept.
    pub to: DateTime<Utc>,
    /// Bounds against hostile feeds.
    pub limits: Limits,
}

/// The result of expanding one feed.
#[derive(Debug, Clone, Default)]
pub struct Expansion {
    /// Every occurrence overlapping [from, to), sorted by start (then id).
    pub occurrences: Vec<Occurrence>,
    /// Human-readable warnings (bounds hit, unknown zones, skipped components).
    pub warnings: Vec<String>,
    /// How many bounds were hit while parsing and expanding.
    pub bounds_hit: u64,
    /// What the feed held and what had to be skipped (health, metrics, `check-feed`).
    pub stats: FeedStats,
}

/// Diagnostics of one feed: counts for health and metrics, details for `check-feed`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedStats {
    /// VEVENTs read into events (masters and overrides).
    pub events_parsed: usize,
    /// VEVENTs skipped (no usable DTSTART).
    pub events_skipped: usize,
    /// Content lines skipped (malformed, or an END without its BEGIN).
    pub lines_skipped: usize,
    /// RRULEs ignored as invalid.
    pub rules_ignored: usize,
    /// Each TZID / X-WR-TIMEZONE as written and the zone it resolved to, in feed order.
    pub zones_used: Vec<(String, String)>,
    /// TZIDs / X-WR-TIMEZONE values that could not be resolved (the default zone was used).
    pub zones_unresolved: Vec<String>,
    /// Skipped lines, ignored rules, skipped events and repairs, with line numbers (at most
    /// [`parse::MAX_PROBLEMS`]).
    pub problems: Vec<parse::Problem>,
    /// Why the bytes do not end where a calendar ends (a cut download); `None` when whole.
    /// The engine still expands what is there; the service treats it as a failed fetch.
    pub truncated: Option<String>,
}

/// Why a feed could not be expanded at all.
#[derive(Debug, thiserror::Error)]
pub enum IcsError {
    /// The bytes hold no VCALENDAR.
    #[error("not an iCalendar feed: {0}")]
    NotACalendar(String),
    /// Expanding the feed would cost more than a hard budget of [`crate::Limits`] allows.
    #[error("over budget: {0}")]
    OverBudget(OverBudget),
    /// The bytes could not be read (a spool file that went away).
    #[error("cannot read the feed: {0}")]
    Read(String),
}

/// Parse `bytes` and expand every event into the window of `opts`.
///
/// Fails when the bytes hold no VCALENDAR at all, or when expanding them would go over a hard
/// budget of [`Limits`] (CPU or memory a real feed never needs); everything else (bad lines,
/// unknown zones, invalid rules, bounds) is a warning and the rest of the feed is expanded.
/// The bytes are read as a stream ([`stream::expand_source`]); a feed in a file is expanded
/// the same way without reading it whole.
pub fn expand_feed(bytes: &[u8], opts: &ExpandOptions) -> Result<Expansion, IcsError> {
    stream::expand_source(&bytes, opts)
}

/// A start or end as the API and `calendarbot expand` write it: RFC 3339 UTC with `Z` and no
/// fraction, or `YYYY-MM-DD` for an all-day value.
pub fn format_when(w: When) -> String {
    match w {
        When::Timed(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        When::AllDay(d) => d.format("%Y-%m-%d").to_string(),
    }
}

#[cfg(test)]
mod tests;
