//! What the server answers from: an immutable calendar snapshot, and a live status board.
//!
//! Why it exists: a refresh must never block readers and must never show half a calendar.
//! The refresh task builds a whole new [`Snapshot`] and swaps it in (readers keep the `Arc`
//! they hold); its `version` changes whenever the answer could change (new data, a skip), which
//! is what caches key on. Health facts that change every few seconds (heartbeats, failures)
//! live apart, on the [`StatusBoard`], so they never invalidate cached calendar answers.

use crate::ics::Occurrence;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

/// One immutable view of the calendar.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Changes whenever anything here changes; starts at 0 (empty).
    pub version: u64,
    /// Occurrences of every source, merged and sorted by start (then id).
    pub occurrences: Arc<Vec<Occurrence>>,
    /// Skipped occurrence ids and when each skip ends.
    pub skips: Arc<SkipMap>,
}

/// Skipped occurrence ids and when each skip ends. The ids are shared (`Arc<str>`), so the
/// copy a new skip makes of the map copies pointers, not strings (at most
/// `store::MAX_SKIPS` of them).
pub type SkipMap = HashMap<Arc<str>, DateTime<Utc>>;

impl Snapshot {
    /// Whether `id` is skipped at `now`.
    pub fn is_skipped(&self, id: &str, now: DateTime<Utc>) -> bool {
        self.skips.get(id).is_some_and(|until| *until > now)
    }

    /// Whether occurrence `o` is skipped at `now` (builds its id only when skips exist).
    pub fn is_occurrence_skipped(&self, o: &Occurrence, now: DateTime<Utc>) -> bool {
        !self.skips.is_empty() && self.is_skipped(&o.id(), now)
    }
}

/// Health of one feed, as shown in /api/health.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceHealth {
    /// Source name.
    pub name: String,
    /// Last successful refresh (fetch + parse, or 304/unchanged).
    pub last_success: Option<DateTime<Utc>>,
    /// Last attempt, successful or not.
    pub last_attempt: Option<DateTime<Utc>>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// The last failure, if the source is failing.
    pub last_error: Option<String>,
    /// Occurrences served from this source.
    pub event_count: usize,
    /// Bounds hit in the last parse (SPEC §5).
    pub bounds_hit: u64,
    /// Refreshes refused because the feed went over a hard budget of the engine, by budget
    /// name (`ics::BudgetKind::name`), since start.
    pub budget_refusals: std::collections::BTreeMap<&'static str, u64>,
    /// What the last parse in this run found; `None` until this run parsed the feed (an
    /// unchanged feed after a restart is not parsed again).
    pub parse: Option<ParseStats>,
}

/// The counts of one parse that health and metrics show per source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseStats {
    /// VEVENTs read.
    pub events_parsed: usize,
    /// VEVENTs skipped (no usable DTSTART).
    pub events_skipped: usize,
    /// Content lines skipped (malformed, or an END without its BEGIN).
    pub lines_skipped: usize,
    /// RRULEs ignored as invalid.
    pub rules_ignored: usize,
    /// Zones that could not be resolved (the default zone was used for them).
    pub zones_unresolved: Vec<String>,
}

impl From<&crate::ics::FeedStats> for ParseStats {
    fn from(s: &crate::ics::FeedStats) -> Self {
        ParseStats {
            events_parsed: s.events_parsed,
            events_skipped: s.events_skipped,
            lines_skipped: s.lines_skipped,
            rules_ignored: s.rules_ignored,
            zones_unresolved: s.zones_unresolved.clone(),
        }
    }
}

/// Liveness of one background task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskBeat {
    /// "running", "idle", "failing", ...
    pub status: String,
    /// When the task last reported.
    pub last_beat: DateTime<Utc>,
}

/// Mutable health facts, read by /api/health.
#[derive(Debug, Default)]
pub struct StatusBoard {
    inner: RwLock<StatusInner>,
}

/// The board's contents (a copy is handed out by [`StatusBoard::read`]).
#[derive(Debug, Clone, Default)]
pub struct StatusInner {
    /// Per-source health, keyed by source name.
    pub sources: BTreeMap<String, SourceHealth>,
    /// Background tasks, keyed by task name.
    pub tasks: BTreeMap<String, TaskBeat>,
    /// Last browser heartbeat (the display probe).
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// Whether every source has been tried once since start.
    pub initial_refresh_complete: bool,
    /// Whether stored or fetched events have been loaded into the snapshot.
    pub event_window_initialized: bool,
}

impl StatusBoard {
    /// A copy of the current facts.
    pub fn read(&self) -> StatusInner {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Change the facts under the lock.
    pub fn update<R>(&self, f: impl FnOnce(&mut StatusInner) -> R) -> R {
        let mut g = self.inner.write().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    /// Record that a background task is alive.
    pub fn beat(&self, task: &str, status: &str, now: DateTime<Utc>) {
        self.update(|s| {
            s.tasks.insert(
                task.to_string(),
                TaskBeat {
                    status: status.to_string(),
                    last_beat: now,
                },
            );
        });
    }
}
