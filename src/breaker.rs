//! Circuit breakers: one per optimised part, so a part that keeps failing is skipped.
//!
//! Why it exists: an optimised part (cache, coalescer, write batcher, SQLite pool, HTTP pool)
//! that errors or misses its deadline must not cost the client anything: the request is
//! retried on the plain path at once. But if a part keeps failing, paying its deadline on
//! every request is a slow outage, so after `fallback_threshold` failures within
//! `fallback_window_secs` the [`Breaker`] opens: the part is skipped (plain path straight away)
//! for `recovery_secs`, then one request is let through to try it again (half-open); success
//! closes the breaker, failure opens it for another period.
//!
//! A leaf: the parts that own a breaker (store, pools, fetcher, pipeline) all sit above it.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The optimised parts that can fall back independently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    /// The optimised read path as a whole (deadline misses: a stall is no single part's error).
    ReadPath,
    /// The response cache.
    Cache,
    /// Coalescing of identical concurrent reads.
    Coalesce,
    /// Batching of writes into one transaction.
    Batch,
    /// The SQLite pool.
    DbPool,
    /// The shared HTTP client.
    HttpPool,
}

impl Part {
    /// Every part, in report order.
    pub const ALL: [Part; 6] = [
        Part::ReadPath,
        Part::Cache,
        Part::Coalesce,
        Part::Batch,
        Part::DbPool,
        Part::HttpPool,
    ];

    /// Name used in headers, JSON and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Part::ReadPath => "read_path",
            Part::Cache => "response_cache",
            Part::Coalesce => "coalesce",
            Part::Batch => "write_batch",
            Part::DbPool => "db_pool",
            Part::HttpPool => "http_pool",
        }
    }
}

/// The breaker settings of `[optimization]`: threshold, window, recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FallbackSettings {
    /// Failures within `window` that open a breaker.
    pub threshold: u32,
    /// Window for counting failures.
    pub window: Duration,
    /// How long an open breaker keeps its part switched off.
    pub recovery: Duration,
}

impl Default for FallbackSettings {
    fn default() -> Self {
        FallbackSettings::from_config(&crate::config::OptimizationConfig::default())
    }
}

impl FallbackSettings {
    /// From `[optimization]`.
    pub fn from_config(c: &crate::config::OptimizationConfig) -> Self {
        FallbackSettings {
            threshold: c.fallback_threshold,
            window: Duration::from_secs(c.fallback_window_secs),
            recovery: Duration::from_secs(c.recovery_secs),
        }
    }

    /// A closed breaker for `part` with these settings.
    pub fn breaker(&self, part: Part) -> Breaker {
        Breaker::new(part, self.threshold, self.window, self.recovery)
    }
}

/// Breaker state, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// The part is used.
    Closed,
    /// The part is skipped until the recovery period ends.
    Open,
    /// The recovery period ended: the next call tries the part again.
    HalfOpen,
}

impl BreakerState {
    /// Name used in JSON and metrics.
    pub fn name(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
struct BreakerInner {
    failures: VecDeque<Instant>,
    open_until: Option<Instant>,
    last_error: Option<String>,
}

/// A circuit breaker for one part.
#[derive(Debug)]
pub struct Breaker {
    part: Part,
    threshold: u32,
    window: Duration,
    recovery: Duration,
    inner: Mutex<BreakerInner>,
    failures_total: AtomicU64,
    opened_total: AtomicU64,
}

impl Breaker {
    /// A closed breaker: `threshold` failures within `window` open it for `recovery`.
    pub fn new(part: Part, threshold: u32, window: Duration, recovery: Duration) -> Self {
        Breaker {
            part,
            threshold: threshold.max(1),
            window,
            recovery,
            inner: Mutex::new(BreakerInner {
                failures: VecDeque::new(),
                open_until: None,
                last_error: None,
            }),
            failures_total: AtomicU64::new(0),
            opened_total: AtomicU64::new(0),
        }
    }

    /// The part this breaker guards.
    pub fn part(&self) -> Part {
        self.part
    }

    /// Whether the part may be used now (closed, or half-open: recovery has passed).
    pub fn allows(&self) -> bool {
        self.allows_at(Instant::now())
    }

    fn allows_at(&self, now: Instant) -> bool {
        let g = self.lock();
        g.open_until.is_none_or(|until| now >= until)
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        let now = Instant::now();
        match self.lock().open_until {
            None => BreakerState::Closed,
            Some(until) if now < until => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// The part worked: a half-open breaker closes.
    pub fn record_success(&self) {
        let mut g = self.lock();
        if g.open_until.is_some_and(|u| Instant::now() >= u) {
            g.open_until = None;
            g.failures.clear();
            tracing::info!(part = self.part.name(), "optimised part recovered");
        }
    }

    /// The part failed (error or deadline). Returns true when this failure opened the breaker.
    pub fn record_failure(&self, why: &str) -> bool {
        self.record_failure_at(Instant::now(), why)
    }

    fn record_failure_at(&self, now: Instant, why: &str) -> bool {
        self.failures_total.fetch_add(1, Ordering::Relaxed);
        let mut g = self.lock();
        g.last_error = Some(why.to_string());
        // A failure while half-open reopens at once.
        if g.open_until.is_some_and(|u| now >= u) {
            g.open_until = Some(now + self.recovery);
            self.opened_total.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                part = self.part.name(),
                reason = why,
                "optimised part failed again after recovery; plain path for another period"
            );
            return true;
        }
        if g.open_until.is_some() {
            return false;
        }
        g.failures.push_back(now);
        while g
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.window)
        {
            g.failures.pop_front();
        }
        if g.failures.len() >= self.threshold as usize {
            g.failures.clear();
            g.open_until = Some(now + self.recovery);
            self.opened_total.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                part = self.part.name(),
                reason = why,
                recovery_secs = self.recovery.as_secs(),
                "optimised part switched off after repeated failures; plain path until recovery"
            );
            return true;
        }
        false
    }

    /// Failures recorded since start.
    pub fn failures_total(&self) -> u64 {
        self.failures_total.load(Ordering::Relaxed)
    }

    /// Times the breaker opened since start.
    pub fn opened_total(&self) -> u64 {
        self.opened_total.load(Ordering::Relaxed)
    }

    /// The last failure's reason.
    pub fn last_error(&self) -> Option<String> {
        self.lock().last_error.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(
            Part::Cache,
            3,
            Duration::from_secs(60),
            Duration::from_secs(300),
        )
    }

    #[test]
    fn opens_after_threshold_within_window() {
        let b = breaker();
        let t0 = Instant::now();
        assert!(!b.record_failure_at(t0, "x"));
        assert!(!b.record_failure_at(t0 + Duration::from_secs(1), "x"));
        assert!(b.allows_at(t0 + Duration::from_secs(2)));
        assert!(b.record_failure_at(t0 + Duration::from_secs(2), "boom"));
        assert!(!b.allows_at(t0 + Duration::from_secs(3)));
        assert_eq!(b.opened_total(), 1);
        assert_eq!(b.last_error().as_deref(), Some("boom"));
        // Recovery passed: half-open lets a call through.
        assert!(b.allows_at(t0 + Duration::from_secs(303)));
    }

    #[test]
    fn old_failures_leave_the_window() {
        let b = breaker();
        let t0 = Instant::now();
        b.record_failure_at(t0, "x");
        b.record_failure_at(t0 + Duration::from_secs(1), "x");
        // The first two are more than 60 s old by now.
        assert!(!b.record_failure_at(t0 + Duration::from_secs(120), "x"));
        assert!(b.allows_at(t0 + Duration::from_secs(121)));
    }

    #[test]
    fn half_open_failure_reopens_and_success_closes() {
        let b = Breaker::new(Part::DbPool, 1, Duration::from_secs(60), Duration::ZERO);
        assert!(b.record_failure("x"));
        // Zero recovery: half-open at once.
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.record_failure("again"));
        assert_eq!(b.opened_total(), 2);
        b.record_success();
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
