//! The request pipeline: the optimised path in front of the pure answers, and the plain path
//! beside it.
//!
//! Why it exists: SPEC §7 asks for a response cache, coalescing, write batching, a monitor,
//! feature flags and a fallback, and docs/architecture.md asks that each has one obvious home and
//! that the plain path sits next to the optimised one behind the same interface. That interface
//! is [`Pipeline::read`]: a route gives a [`CacheKey`] (everything its answer depends on) and
//! a pure `compute` closure, and gets back the prepared answer plus the [`Path`] that produced
//! it. The optimised path only decides *whether to recompute*; `compute` alone decides *what*
//! the answer is, so both paths give identical answers by construction.
//!
//! The path taken, and why, is recorded per request ([`Path`]), sent to the client
//! (`x-calendarbot-path`), counted ([`monitor`]) and summarised in
//! `/api/status/optimization` ([`Pipeline::report`]).
//!
//! # Parts (one module each)
//! - [`cache`]: moka response cache, keyed on snapshot version and a time epoch.
//! - [`memo`]: the last per-second body of whats-next, in front of the cache.
//! - [`coalesce`]: identical concurrent requests share one computation.
//! - [`monitor`]: per-path counters, latency histograms, Prometheus text.
//! - [`fallback`]: the service-wide mode (the watchdog's and the unclean start's switch).
//! - `report`: the mode, `/api/status/optimization` and `/metrics`.
//! - `pressure`: what the layer gives back under memory pressure (the watcher that decides
//!   when is [`crate::pressure`]).
//!
//! Below the pipeline, as leaves that the store, the pools and the fetcher use too:
//! [`crate::breaker`] (per-part circuit breakers) and [`crate::batch`] (write batching). The
//! read routes' keys and prepared answers live with the routes, in `server::reads`.

pub(crate) mod cache;
pub(crate) mod coalesce;
pub(crate) mod fallback;
pub(crate) mod memo;
pub(crate) mod monitor;
mod pressure;
mod report;

use crate::breaker::{Breaker, Part};
use crate::config::{Flags, OptimizationConfig};
use crate::fault::{self, Fault};
use crate::pool::http::HttpPool;
use crate::snapshot::Snapshot;
use crate::store::Store;
use cache::{CacheKey, Cached, ResponseCache};
use chrono::{DateTime, Utc};
use coalesce::Coalescer;
use fallback::ServiceMode;
use monitor::Monitor;
use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The header that tells a client which path served its request.
pub(crate) const PATH_HEADER: &str = "x-calendarbot-path";

/// How the optimised path produced an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// From the response cache.
    Hit,
    /// Computed (cache miss, or cache off), and cached if the cache is on.
    Computed,
    /// Computed by an identical concurrent request and shared.
    Coalesced,
}

/// Why a request ran on the plain path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlainReason {
    /// `[optimization] enabled = false`.
    LayerDisabled,
    /// The parts this route uses are switched off by configuration.
    FlagsOff,
    /// The whole service runs plain (watchdog stall, start after an unclean exit).
    ServiceFallback(String),
    /// The part's breaker is open after repeated failures.
    BreakerOpen(Part),
    /// The optimised part failed during this request (retried plain at once).
    Failed(Part, String),
    /// The optimised path missed its deadline during this request (retried plain at once).
    Deadline(u64),
}

/// Which path served a request, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Path {
    /// The optimised path.
    Optimized(Served),
    /// The plain path.
    Plain(PlainReason),
}

impl Path {
    /// Whether the optimised path served it.
    pub fn is_optimized(&self) -> bool {
        matches!(self, Path::Optimized(_))
    }

    /// A short label with bounded cardinality, for metrics: `optimized/hit`, `plain/deadline`.
    pub fn label(&self) -> &'static str {
        match self {
            Path::Optimized(Served::Hit) => "optimized/hit",
            Path::Optimized(Served::Computed) => "optimized/computed",
            Path::Optimized(Served::Coalesced) => "optimized/coalesced",
            Path::Plain(PlainReason::LayerDisabled) => "plain/layer_disabled",
            Path::Plain(PlainReason::FlagsOff) => "plain/flags_off",
            Path::Plain(PlainReason::ServiceFallback(_)) => "plain/service_fallback",
            Path::Plain(PlainReason::BreakerOpen(_)) => "plain/breaker_open",
            Path::Plain(PlainReason::Failed(..)) => "plain/error",
            Path::Plain(PlainReason::Deadline(_)) => "plain/deadline",
        }
    }

    /// The `x-calendarbot-path` header value: the path, then why.
    pub fn header_value(&self) -> String {
        match self {
            Path::Optimized(Served::Hit) => "optimized; cache=hit".into(),
            Path::Optimized(Served::Computed) => "optimized; cache=miss".into(),
            Path::Optimized(Served::Coalesced) => "optimized; coalesced".into(),
            Path::Plain(r) => format!("plain; reason={}", r.text()),
        }
    }
}

impl PlainReason {
    /// Human (and header-safe) text.
    pub fn text(&self) -> String {
        let s = match self {
            PlainReason::LayerDisabled => "optimization disabled by configuration".into(),
            PlainReason::FlagsOff => "response_cache and request_batching off".into(),
            PlainReason::ServiceFallback(why) => format!("service fallback: {why}"),
            PlainReason::BreakerOpen(p) => format!("{} switched off after failures", p.name()),
            PlainReason::Failed(p, e) => format!("{} failed: {e}", p.name()),
            PlainReason::Deadline(ms) => format!("optimized path missed its {ms} ms deadline"),
        };
        // Header values must be visible ASCII.
        s.chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect()
    }
}

/// The parts owned elsewhere that the pipeline reports on (their counters and breakers in
/// `/api/status/optimization`, `/metrics` and the mode): typed handles given at assembly.
#[derive(Debug, Clone, Default)]
pub struct Reported {
    /// The store: its SQLite pool, its write batcher and their breakers.
    pub store: Option<Store>,
    /// The fetcher's shared HTTP client.
    pub http: Option<HttpPool>,
}

/// The pipeline: flags, the optimised parts, their breakers, the service mode, the monitor.
pub struct Pipeline {
    flags: Flags,
    /// This device as the rollout buckets it (read once, at start).
    device: crate::config::Device,
    deadline: Duration,
    recovery: Duration,
    cfg: OptimizationConfig,
    cache: ResponseCache,
    coalescer: Coalescer<CacheKey, Cached>,
    cache_breaker: Arc<Breaker>,
    coalesce_breaker: Arc<Breaker>,
    /// Deadline misses of the read path as a whole (a stall is no single part's error).
    read_breaker: Arc<Breaker>,
    /// Parts owned elsewhere (SQLite pool, batcher, HTTP pool), for reports.
    reported: Reported,
    mode: ServiceMode,
    monitor: Monitor,
    /// The last per-second body (whats-next), in front of the cache.
    memo: memo::Memo,
    /// Answers put in the cache ahead of the first request ([`Pipeline::warm`]).
    warmed: std::sync::atomic::AtomicU64,
    /// Memory pressure: whether the layer is shedding, and why.
    pressure: pressure::PressureBoard,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("flags", &self.flags)
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Pipeline {
    /// Build the pipeline from `[optimization]`, reporting on the parts in `reported`.
    pub fn new(cfg: &OptimizationConfig, reported: Reported) -> Self {
        let fb = crate::breaker::FallbackSettings::from_config(cfg);
        let recovery = fb.recovery;
        let breaker = |p| Arc::new(fb.breaker(p));
        let device = cfg.device();
        Pipeline {
            flags: cfg.flags_for(&device),
            device,
            deadline: Duration::from_millis(cfg.deadline_ms),
            recovery,
            cfg: cfg.clone(),
            cache: ResponseCache::new(Duration::from_secs(cfg.cache_ttl_secs), cfg.cache_max_bytes),
            coalescer: Coalescer::default(),
            cache_breaker: breaker(Part::Cache),
            coalesce_breaker: breaker(Part::Coalesce),
            read_breaker: breaker(Part::ReadPath),
            reported,
            mode: ServiceMode::default(),
            monitor: Monitor::default(),
            memo: memo::Memo::default(),
            warmed: Default::default(),
            pressure: Default::default(),
        }
    }

    /// Cache warming: compute `key`'s answer now and put it in the cache, so that the first
    /// request for it (after a new calendar was published) is a hit. Only when the cache may
    /// serve (the same [`Pipeline::gate`] as a read, and the cache's breaker); a failure is
    /// ignored (the request computes it as usual). Not counted as a request; `warmed` in
    /// `/api/status/optimization` counts it. Returns whether the answer was cached.
    pub async fn warm<T, F>(&self, key: CacheKey, compute: F) -> bool
    where
        T: Any + Send + Sync,
        F: FnOnce() -> (T, u32),
    {
        match self.gate() {
            Ok((true, _)) => {}
            _ => return false,
        }
        let (v, bytes) = compute();
        let cached = Cached {
            value: Arc::new(v),
            bytes,
        };
        let ok = self.cache.insert(key, cached).await.is_ok();
        if ok {
            self.warmed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        ok
    }

    /// How many answers [`Pipeline::warm`] has put in the cache.
    pub fn warmed(&self) -> u64 {
        self.warmed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The body memoised for exactly `key` ([`memo`]), if the optimised path may serve now;
    /// recorded by the monitor as a cache hit.
    pub fn memo_get(&self, key: &memo::MemoKey) -> Option<bytes::Bytes> {
        let started = Instant::now();
        if !self.memo_open() {
            return None;
        }
        let body = self.memo.get(key)?;
        let path = Path::Optimized(Served::Hit);
        self.monitor
            .record(key.route, path.label(), true, started.elapsed());
        Some(body)
    }

    /// Remember `body` for `key` if it came from the optimised path and that path may serve.
    pub fn memo_put(&self, key: memo::MemoKey, body: bytes::Bytes, path: &Path) {
        if path.is_optimized() && self.memo_open() {
            self.memo.put(key, body);
        } else {
            self.memo.clear();
        }
    }

    /// The one rule for "may the optimised path serve now?": `Ok` with the parts to use
    /// (cache, coalescing), or why the plain path serves. The memo, every read and the
    /// watchdog's self-check all ask here.
    fn gate(&self) -> Result<(bool, bool), PlainReason> {
        if !self.flags.enabled {
            return Err(PlainReason::LayerDisabled);
        }
        if !self.flags.response_cache && !self.flags.request_batching {
            return Err(PlainReason::FlagsOff);
        }
        if let Some(why) = self.mode.forced() {
            return Err(PlainReason::ServiceFallback(why));
        }
        if !self.read_breaker.allows() {
            return Err(PlainReason::BreakerOpen(Part::ReadPath));
        }
        let use_cache = self.flags.response_cache && self.cache_breaker.allows();
        let use_coalesce = self.flags.request_batching && self.coalesce_breaker.allows();
        if !use_cache && !use_coalesce {
            let part = if self.flags.response_cache {
                Part::Cache
            } else {
                Part::Coalesce
            };
            return Err(PlainReason::BreakerOpen(part));
        }
        Ok((use_cache, use_coalesce))
    }

    /// Whether the memo may answer: exactly when a read would use the cache, and no fault is
    /// injected into the optimised path.
    fn memo_open(&self) -> bool {
        matches!(self.gate(), Ok((true, _)))
            && !fault::active(Fault::StallPipeline)
            && !fault::active(Fault::FailCache)
    }

    /// The effective flags.
    pub fn flags(&self) -> Flags {
        self.flags
    }

    /// The optimised path's deadline.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The service-wide mode switch.
    pub fn mode(&self) -> &ServiceMode {
        &self.mode
    }

    /// The monitor.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// The response cache.
    pub fn cache(&self) -> &ResponseCache {
        &self.cache
    }

    /// Serve a read: the prepared answer for `key`, from the optimised path when it is on and
    /// healthy, else (or when it fails or misses its deadline) from `compute` directly.
    /// `compute` returns the answer and its approximate size in bytes (for the cache cap).
    pub async fn read<T, F>(&self, key: CacheKey, compute: F) -> (Arc<T>, Path)
    where
        T: Any + Send + Sync,
        F: Fn() -> (T, u32) + Send + Sync,
    {
        let started = Instant::now();
        let route = key.route;
        let (value, path) = self.read_inner(key, &compute).await;
        self.monitor
            .record(route, path.label(), path.is_optimized(), started.elapsed());
        (value, path)
    }

    async fn read_inner<T, F>(&self, key: CacheKey, compute: &F) -> (Arc<T>, Path)
    where
        T: Any + Send + Sync,
        F: Fn() -> (T, u32) + Send + Sync,
    {
        let plain = |why| (Arc::new(compute().0), Path::Plain(why));
        let (use_cache, use_coalesce) = match self.gate() {
            Ok(parts) => parts,
            Err(why) => return plain(why),
        };
        match tokio::time::timeout(
            self.deadline,
            self.optimized(key, compute, use_cache, use_coalesce),
        )
        .await
        {
            Ok(Ok((v, served))) => {
                self.read_breaker.record_success();
                if use_cache {
                    self.cache_breaker.record_success();
                }
                match v.value.downcast::<T>() {
                    Ok(v) => (v, Path::Optimized(served)),
                    // A key shared by two routes with different types: a bug, but the plain
                    // path still answers correctly.
                    Err(_) => plain(PlainReason::Failed(Part::Cache, "type mismatch".into())),
                }
            }
            Ok(Err((part, e))) => {
                let breaker = match part {
                    Part::Coalesce => &self.coalesce_breaker,
                    _ => &self.cache_breaker,
                };
                breaker.record_failure(&e);
                tracing::warn!(part = part.name(), error = %e, "optimised part failed; answered on the plain path");
                plain(PlainReason::Failed(part, e))
            }
            Err(_) => {
                let ms = self.deadline.as_millis() as u64;
                self.read_breaker
                    .record_failure(&format!("no answer within {ms} ms"));
                tracing::warn!(
                    deadline_ms = ms,
                    "optimised read path missed its deadline; answered on the plain path"
                );
                plain(PlainReason::Deadline(ms))
            }
        }
    }

    /// The optimised path proper: cache lookup, then a (coalesced) computation, then insert.
    async fn optimized<T, F>(
        &self,
        key: CacheKey,
        compute: &F,
        use_cache: bool,
        use_coalesce: bool,
    ) -> Result<(Cached, Served), (Part, String)>
    where
        T: Any + Send + Sync,
        F: Fn() -> (T, u32) + Send + Sync,
    {
        if fault::active(Fault::StallPipeline) {
            std::future::pending::<()>().await;
        }
        if use_cache {
            match self.cache.get(&key).await {
                Ok(Some(v)) => return Ok((v, Served::Hit)),
                Ok(None) => {}
                Err(e) => return Err((Part::Cache, e.to_string())),
            }
        }
        let make = || {
            let (v, bytes) = compute();
            Cached {
                value: Arc::new(v),
                bytes,
            }
        };
        let (v, served) = if use_coalesce {
            let (v, waited) = self.coalescer.run(&key, || async { make() }).await;
            let served = if waited {
                Served::Coalesced
            } else {
                Served::Computed
            };
            (v, served)
        } else {
            (make(), Served::Computed)
        };
        if use_cache && served == Served::Computed {
            self.cache
                .insert(key, v.clone())
                .await
                .map_err(|e| (Part::Cache, e.to_string()))?;
        }
        Ok((v, served))
    }

    /// The watchdog's self-check of the optimised parts: run `compute` through the optimised
    /// path (whatever the breakers say) with the deadline. If it errors or does not answer in
    /// time, switch the service to the plain path for the recovery period (saying so in the
    /// log) and return why. Whether the service then answers at all is the watchdog's loopback
    /// probe's to find out (`server::probe`), not this check's.
    pub async fn self_check<T, F>(&self, key: CacheKey, compute: F) -> Option<String>
    where
        T: Any + Send + Sync,
        F: Fn() -> (T, u32) + Send + Sync,
    {
        let use_cache = self.flags.response_cache;
        let use_coalesce = self.flags.request_batching;
        if self.flags.enabled && (use_cache || use_coalesce) {
            let r = tokio::time::timeout(
                self.deadline,
                self.optimized(key, &compute, use_cache, use_coalesce),
            )
            .await;
            let failure = match r {
                Ok(Ok(_)) => None,
                Ok(Err((part, e))) => Some(format!("{} failed: {e}", part.name())),
                Err(_) => Some(format!(
                    "optimized path did not answer within {} ms",
                    self.deadline.as_millis()
                )),
            };
            if let Some(why) = &failure
                && self.mode.forced().is_none()
            {
                let reason = format!("watchdog self-check: {why}");
                self.mode.force_fallback(&reason, Some(self.recovery));
                tracing::error!(
                    reason,
                    recovery_secs = self.recovery.as_secs(),
                    "switching the service to the plain path"
                );
            }
            return failure;
        }
        None
    }
}

/// The time epoch of "what's next" at `now`: the answer (which meeting is next, before the
/// seconds are counted) depends on "now" only through which occurrences have started and which
/// skips have ended, so two instants with the same epoch (and the same snapshot version) have
/// the same next meeting. Occurrences are sorted by start (in `tz`), so this is a binary
/// search plus a scan of the (few) skips.
pub(crate) fn next_epoch(snap: &Snapshot, now: DateTime<Utc>, tz: chrono_tz::Tz) -> u64 {
    let started = snap.occurrences.partition_point(|o| o.start_utc(tz) < now) as u64;
    let skips_ended = snap.skips.values().filter(|until| **until <= now).count() as u64;
    (started << 20) | skips_ended.min((1 << 20) - 1)
}

#[cfg(test)]
mod tests;
