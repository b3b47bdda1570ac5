//! The hub: owns the current snapshot, the store and the status board.
//!
//! Why it exists: the refresh tasks (writers of calendar data) and the server (reader, and
//! writer of skips and heartbeats) must agree on one rule: every change goes to SQLite first,
//! then a whole new [`Snapshot`] is published with a higher version. Keeping that rule in one
//! type means no route and no task can publish a calendar the store does not have.

use crate::clock::Clock;
use crate::config::Config;
use crate::ics::Occurrence;
use crate::pipeline::Pipeline;
use crate::policy::Policy;
use crate::snapshot::{Snapshot, StatusBoard};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// How long a skip lasts (SPEC §6).
pub const SKIP_DURATION_HOURS: i64 = 24;

/// What [`App::load_near_from_store`] published: the whole windows replace only these.
pub struct NearLoad(BTreeMap<String, Arc<Vec<Occurrence>>>);

/// Shared state of a running service. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct App {
    /// Effective configuration.
    pub config: Arc<Config>,
    /// Source of "now".
    pub clock: Clock,
    /// Zone of floating times and "today" (validated `config.default_timezone`).
    pub default_tz: chrono_tz::Tz,
    /// SQLite.
    pub store: Store,
    /// Live health facts.
    pub status: Arc<StatusBoard>,
    /// When this process started.
    pub started_at: DateTime<Utc>,
    /// The optimisation layer: cache, coalescing, fallback mode, monitor (SPEC §7).
    pub pipeline: Arc<Pipeline>,
    /// When this process started, on the monotonic clock (see [`App::status_now`]).
    started_instant: std::time::Instant,
    /// Per-source occurrences; the snapshot is their merge. Guarded so that two publishers
    /// cannot interleave.
    parts: Mutex<Parts>,
    tx: watch::Sender<Arc<Snapshot>>,
}

#[derive(Debug, Default)]
struct Parts {
    /// Each source's occurrences, sorted like the snapshot (start, then id).
    per_source: BTreeMap<String, Arc<Vec<Occurrence>>>,
    /// Their merge, rebuilt only when a source changes (a skip reuses it). With one source
    /// (the usual kiosk) it *is* that source's vector: one copy of the calendar in memory.
    merged: Arc<Vec<Occurrence>>,
    skips: Arc<crate::snapshot::SkipMap>,
    version: u64,
}

/// Keep at most [`crate::store::MAX_SKIPS`]: ended skips go first, then those ending first
/// (ties: the larger id), never `newest` (the store drops the same ones).
fn cap_skips(skips: &mut crate::snapshot::SkipMap, newest: &str, now: DateTime<Utc>) {
    if skips.len() <= crate::store::MAX_SKIPS {
        return;
    }
    skips.retain(|k, until| *until > now || &**k == newest);
    if skips.len() <= crate::store::MAX_SKIPS {
        return;
    }
    let mut others: Vec<(DateTime<Utc>, Arc<str>)> = skips
        .iter()
        .filter(|(k, _)| &***k != newest)
        .map(|(k, u)| (*u, k.clone()))
        .collect();
    others.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    for (_, k) in others.into_iter().skip(crate::store::MAX_SKIPS - 1) {
        skips.remove(&k);
    }
}

impl App {
    /// Build the hub with an empty snapshot; call [`App::load_near_from_store`] next. The parts
    /// are built by the caller (`service::hub` assembles them).
    pub fn new(
        config: Arc<Config>,
        clock: Clock,
        default_tz: chrono_tz::Tz,
        store: Store,
        pipeline: Arc<Pipeline>,
    ) -> Self {
        let (tx, _rx) = watch::channel(Arc::new(Snapshot::default()));
        App {
            config,
            clock,
            default_tz,
            store,
            status: Arc::new(StatusBoard::default()),
            started_at: clock.now(),
            pipeline,
            started_instant: std::time::Instant::now(),
            parts: Mutex::new(Parts::default()),
            tx,
        }
    }

    /// "Now" for health facts (refresh times, task beats, ages, staleness). With the system
    /// clock it is the system time. With a fixed clock (CALENDARBOT_TEST_TIME) it is the fixed
    /// instant plus the real (monotonic) time elapsed since start: answers stay exact while
    /// ages still grow, so a failing feed still turns health degraded under a fixed clock.
    pub fn status_now(&self) -> DateTime<Utc> {
        match self.clock {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => {
                let elapsed = self.started_instant.elapsed();
                t + Duration::from_std(elapsed).unwrap_or(Duration::zero())
            }
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.tx.borrow().clone()
    }

    /// A receiver that sees every new snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.tx.subscribe()
    }

    /// Restart, first step: load and publish the near part of the stored windows (what
    /// overlaps the next `hours` hours) and the skips, so the first answers come at once.
    /// Returns what was published, for [`App::load_rest_from_store`].
    pub fn load_near_from_store(&self, hours: i64) -> Result<NearLoad, StoreError> {
        let now = self.clock.now();
        let near = self
            .store
            .load_windows_near(now - Duration::hours(1), now + Duration::hours(hours))?;
        let skips = self.store.load_skips(now)?;
        let mut p = self.lock();
        let tz = self.default_tz;
        p.per_source = near
            .into_iter()
            .map(|(k, v)| {
                let v = self.prepared(&k, v);
                (k, v)
            })
            .collect();
        p.skips = Arc::new(skips.into_iter().map(|(k, v)| (Arc::from(k), v)).collect());
        let published = NearLoad(p.per_source.clone());
        remerge(&mut p, tz);
        self.publish(&mut p);
        Ok(published)
    }

    /// Restart, second step: the whole stored windows replace the near part, source by
    /// source, unless a refresh already published a newer window for that source.
    pub fn load_rest_from_store(&self, near: NearLoad) -> Result<(), StoreError> {
        let windows = self.store.load_windows()?;
        let any = !windows.is_empty();
        let tz = self.default_tz;
        let mut p = self.lock();
        for (k, v) in windows {
            let untouched = match (p.per_source.get(&k), near.0.get(&k)) {
                (Some(now), Some(then)) => Arc::ptr_eq(now, then),
                (None, None) => true,
                _ => false,
            };
            if untouched {
                let v = self.prepared(&k, v);
                p.per_source.insert(k, v);
            }
        }
        remerge(&mut p, tz);
        self.publish(&mut p);
        drop(p);
        if any {
            self.status.update(|s| s.event_window_initialized = true);
        }
        Ok(())
    }

    /// A source's window as the snapshot holds it: its policy applied, in snapshot order.
    /// Every way into the snapshot (a refresh, both steps of a restart) goes through here.
    fn prepared(&self, source: &str, occurrences: Vec<Occurrence>) -> Arc<Vec<Occurrence>> {
        let mut v = self.policy_for(source).apply(occurrences);
        sort_occurrences(&mut v, self.default_tz);
        Arc::new(v)
    }

    /// The `owner` / `privacy` settings of source `name` (none for the demo calendar).
    fn policy_for(&self, name: &str) -> Policy {
        self.config
            .effective_sources()
            .iter()
            .find(|s| s.name == name)
            .map(Policy::of)
            .unwrap_or_default()
    }

    /// Replace the occurrences of one source (already saved to the store by the caller). The
    /// source's policy ([`crate::policy`]) is applied here, on the way into the snapshot.
    pub fn set_source_occurrences(&self, source: &str, occurrences: Vec<Occurrence>) {
        let occurrences = self.prepared(source, occurrences);
        let mut p = self.lock();
        p.per_source.insert(source.to_string(), occurrences);
        remerge(&mut p, self.default_tz);
        self.publish(&mut p);
        drop(p);
        self.status.update(|s| s.event_window_initialized = true);
    }

    /// Skip an occurrence for 24 h: persisted first, then published. Returns the skip's end.
    /// Expired skips are dropped here too (and purged from SQLite), so the table and the map
    /// hold only live skips.
    pub fn skip(&self, id: &str) -> Result<DateTime<Utc>, StoreError> {
        let now = self.clock.now();
        let until = now + Duration::hours(SKIP_DURATION_HOURS);
        self.store.add_skip(id, until)?;
        if let Err(e) = self.store.purge_expired_skips(now) {
            tracing::warn!(error = %e, "cannot purge expired skips");
        }
        let mut p = self.lock();
        let mut skips = (*p.skips).clone();
        skips.retain(|_, u| *u > now);
        skips.insert(Arc::from(id), until);
        cap_skips(&mut skips, id, now);
        p.skips = Arc::new(skips);
        self.publish(&mut p);
        Ok(until)
    }

    /// Clear every skip; returns how many were active.
    pub fn clear_skips(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        self.store.clear_skips()?;
        let mut p = self.lock();
        let count = p.skips.values().filter(|u| **u > now).count();
        p.skips = Arc::new(HashMap::new());
        self.publish(&mut p);
        Ok(count)
    }

    /// Record a browser heartbeat (the display probe): persisted, and shown in health.
    pub fn heartbeat(&self) -> Result<DateTime<Utc>, StoreError> {
        // Wall-clock time even under a fixed clock (CALENDARBOT_TEST_TIME): CalendarBot's
        // kiosk watchdog compares `last_render_probe_iso` with its own clock, and a heartbeat
        // stamped with the fixed instant looks days old to it.
        let now = Utc::now();
        self.store.set_state("last_heartbeat", &now.to_rfc3339())?;
        self.status.update(|s| s.last_heartbeat = Some(now));
        Ok(now)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Parts> {
        self.parts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, p: &mut Parts) {
        p.version += 1;
        let snap = Snapshot {
            version: p.version,
            occurrences: p.merged.clone(),
            skips: p.skips.clone(),
        };
        self.tx.send_replace(Arc::new(snap));
    }
}

/// The snapshot's order: start (all-day values at midnight in `tz`), then id.
fn sort_occurrences(v: &mut [Occurrence], tz: chrono_tz::Tz) {
    v.sort_by(|a, b| a.cmp_start_then_id(b, tz));
}

/// Rebuild the merged list after a source changed.
fn remerge(p: &mut Parts, tz: chrono_tz::Tz) {
    p.merged = match p.per_source.len() {
        0 => Arc::new(Vec::new()),
        1 => p.per_source.values().next().cloned().unwrap_or_default(),
        _ => {
            let mut all: Vec<Occurrence> = p
                .per_source
                .values()
                .flat_map(|v| v.iter().cloned())
                .collect();
            sort_occurrences(&mut all, tz);
            Arc::new(all)
        }
    };
}
