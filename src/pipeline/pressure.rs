//! What the layer gives back under memory pressure, and what it says about it.
//!
//! Why it exists: on a 512 MB Pi with a 64 MiB unit limit, the layer's caches and pools are the
//! memory the service can give back without serving less. The watcher (`crate::pressure`)
//! decides *when*; this part decides *what*: the response cache shrinks to its floor, the idle
//! SQLite readers close, the HTTP client's idle connections go. Serving never stops: every
//! request still gets its answer (computed, or from the smaller cache).

use super::Pipeline;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Mutex;

/// The pressure state shown in `/api/status/optimization` and `/metrics`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PressureReport {
    /// Shedding now.
    pub active: bool,
    /// When the current episode began.
    pub since: Option<DateTime<Utc>>,
    /// What the watcher saw when it began (the last episode's, once it has ended).
    pub reason: Option<String>,
    /// Episodes since start.
    pub episodes: u64,
    /// What the last shed freed: idle SQLite readers closed, HTTP client dropped.
    pub readers_closed: usize,
    /// Whether the last shed dropped the shared HTTP client.
    pub http_client_dropped: bool,
}

/// The pipeline's pressure state.
#[derive(Debug, Default)]
pub(super) struct PressureBoard(Mutex<PressureReport>);

impl PressureBoard {
    pub(super) fn report(&self) -> PressureReport {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Pipeline {
    /// Memory pressure began: shrink the cache to `floor` bytes, close idle pooled
    /// connections, and remember why (the caller logs and trims the heap).
    pub async fn shed_memory(&self, reason: String, floor: u64, now: DateTime<Utc>) {
        self.cache.shrink_to(floor).await;
        let readers_closed = self
            .reported
            .store
            .as_ref()
            .map_or(0, |s| s.pool().close_idle_readers());
        let http_client_dropped = self.reported.http.as_ref().is_some_and(|h| h.drop_idle());
        let mut r = self.pressure.0.lock().unwrap_or_else(|e| e.into_inner());
        r.active = true;
        r.since = Some(now);
        r.reason = Some(reason);
        r.episodes += 1;
        r.readers_closed = readers_closed;
        r.http_client_dropped = http_client_dropped;
    }

    /// Pressure has gone: the cache's configured cap applies again (pools reopen on demand).
    pub fn memory_calm(&self) {
        self.cache.restore();
        let mut r = self.pressure.0.lock().unwrap_or_else(|e| e.into_inner());
        r.active = false;
        r.since = None;
    }

    /// The pressure state.
    pub fn pressure(&self) -> PressureReport {
        self.pressure.report()
    }
}
