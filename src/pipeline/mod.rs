//! The request pipeline: the optimised path in front of the pure answers, and the plain path
//! beside it.
//!
//! Why it exists: SPEC §7 asks for a response cache, coalescing, write batching, a monitor,
//! feature flags and a fallback, and ARCHITECTURE.md asks that each has one obvious home and
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
//! - [`coalesce`]: identical concurrent requests share one computation.
//! - [`batch`]: writes within a short window share one SQLite transaction.
//! - [`monitor`]: per-path counters, latency histograms, Prometheus text.
//! - [`fallback`]: per-part circuit breakers and the service-wide mode.

pub mod batch;
pub mod cache;
pub mod coalesce;
pub mod fallback;
pub mod memo;
pub mod monitor;
pub mod reads;

use crate::config::OptimizationConfig;
use crate::fault::{self, Fault};
use crate::snapshot::Snapshot;
use cache::{CacheKey, Cached, ResponseCache};
use chrono::{DateTime, Utc};
use coalesce::Coalescer;
use fallback::{Breaker, Part, ServiceMode};
use monitor::Monitor;
use std::any::Any;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The header that tells a client which path served its request.
pub const PATH_HEADER: &str = "x-calendarbot-path";

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

/// The effective flags: each part is on only if the layer is on too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Flags {
    /// The whole layer.
    pub enabled: bool,
    /// Shared HTTP client.
    pub http_pool: bool,
    /// SQLite pool.
    pub db_pool: bool,
    /// Response cache.
    pub response_cache: bool,
    /// Coalescing and write batching.
    pub request_batching: bool,
}

impl Flags {
    /// From `[optimization]`.
    pub fn from_config(c: &OptimizationConfig) -> Self {
        Flags {
            enabled: c.enabled,
            http_pool: c.enabled && c.http_pool,
            db_pool: c.enabled && c.db_pool,
            response_cache: c.enabled && c.response_cache,
            request_batching: c.enabled && c.request_batching,
        }
    }
}

/// Where the counters of parts owned elsewhere (the store's pool and batcher, the fetcher's
/// client) are read from for reports.
type StatsFn = Box<dyn Fn() -> serde_json::Value + Send + Sync>;

/// The pipeline: flags, the optimised parts, their breakers, the service mode, the monitor.
pub struct Pipeline {
    flags: Flags,
    deadline: Duration,
    recovery: Duration,
    cfg: OptimizationConfig,
    cache: ResponseCache,
    coalescer: Coalescer<CacheKey, Cached>,
    cache_breaker: Arc<Breaker>,
    coalesce_breaker: Arc<Breaker>,
    /// Deadline misses of the read path as a whole (a stall is no single part's error).
    read_breaker: Arc<Breaker>,
    /// Breakers of parts owned elsewhere (SQLite pool, batcher, HTTP pool), for reports.
    external: std::sync::Mutex<Vec<Arc<Breaker>>>,
    mode: ServiceMode,
    monitor: Monitor,
    /// The last per-second body (whats-next), in front of the cache.
    memo: memo::Memo,
    sqlite_stats: OnceLock<StatsFn>,
    http_stats: OnceLock<StatsFn>,
    batch_stats: OnceLock<StatsFn>,
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
    /// Build the pipeline from `[optimization]`.
    pub fn new(cfg: &OptimizationConfig) -> Self {
        let fb = fallback::FallbackSettings::from_config(cfg);
        let recovery = fb.recovery;
        let breaker = |p| Arc::new(fb.breaker(p));
        Pipeline {
            flags: Flags::from_config(cfg),
            deadline: Duration::from_millis(cfg.deadline_ms.max(1)),
            recovery,
            cfg: cfg.clone(),
            cache: ResponseCache::new(
                Duration::from_secs(cfg.cache_ttl_secs.max(1)),
                cfg.cache_max_bytes,
            ),
            coalescer: Coalescer::default(),
            cache_breaker: breaker(Part::Cache),
            coalesce_breaker: breaker(Part::Coalesce),
            read_breaker: breaker(Part::ReadPath),
            external: std::sync::Mutex::new(Vec::new()),
            mode: ServiceMode::default(),
            monitor: Monitor::default(),
            memo: memo::Memo::default(),
            sqlite_stats: OnceLock::new(),
            http_stats: OnceLock::new(),
            batch_stats: OnceLock::new(),
        }
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

    /// Whether the memo may answer: exactly when a request would take the optimised path
    /// with the cache in use (see `read_inner`), and no fault is injected into it.
    fn memo_open(&self) -> bool {
        self.flags.enabled
            && self.flags.response_cache
            && self.mode.forced().is_none()
            && self.read_breaker.allows()
            && self.cache_breaker.allows()
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

    /// Report a breaker of a part owned elsewhere (pool, batcher) in the mode and status.
    pub fn attach_breaker(&self, b: Arc<Breaker>) {
        self.external
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(b);
    }

    /// Report the SQLite pool's counters in `/api/status/optimization` and `/metrics`.
    pub fn attach_sqlite_stats(&self, f: impl Fn() -> serde_json::Value + Send + Sync + 'static) {
        let _ = self.sqlite_stats.set(Box::new(f));
    }

    /// Report the HTTP pool's counters.
    pub fn attach_http_stats(&self, f: impl Fn() -> serde_json::Value + Send + Sync + 'static) {
        let _ = self.http_stats.set(Box::new(f));
    }

    /// Report the write batcher's counters.
    pub fn attach_batch_stats(&self, f: impl Fn() -> serde_json::Value + Send + Sync + 'static) {
        let _ = self.batch_stats.set(Box::new(f));
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
        if !self.flags.enabled {
            return plain(PlainReason::LayerDisabled);
        }
        if !self.flags.response_cache && !self.flags.request_batching {
            return plain(PlainReason::FlagsOff);
        }
        if let Some(why) = self.mode.forced() {
            return plain(PlainReason::ServiceFallback(why));
        }
        if !self.read_breaker.allows() {
            return plain(PlainReason::BreakerOpen(Part::ReadPath));
        }
        let use_cache = self.flags.response_cache && self.cache_breaker.allows();
        let use_coalesce = self.flags.request_batching && self.coalesce_breaker.allows();
        if !use_cache && !use_coalesce {
            let part = if self.flags.response_cache {
                Part::Cache
            } else {
                Part::Coalesce
            };
            return plain(PlainReason::BreakerOpen(part));
        }
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

    /// The watchdog's self-check: run `compute` through the optimised path (whatever the
    /// breakers say) with the deadline. If it does not answer in time, switch the service to
    /// the plain path for the recovery period (saying so in the log) and check the plain path
    /// instead. Returns the status line for `STATUS=`, or an error when nothing answered.
    pub async fn self_check<T, F>(&self, key: CacheKey, compute: F) -> Result<String, String>
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
            if let Some(why) = failure
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
        }
        // The plain path is what serves now (or also works): check it answers.
        let _ = compute();
        Ok(self.status_line())
    }

    /// One line for `STATUS=`: the mode and why.
    pub fn status_line(&self) -> String {
        let m = self.mode_report();
        if m.reason.is_empty() {
            format!("mode={}", m.mode)
        } else {
            format!("mode={}: {}", m.mode, m.reason)
        }
    }

    /// The mode as reported by `/api/status/optimization` and health.
    pub fn mode_report(&self) -> fallback::ModeReport {
        if !self.flags.enabled {
            return fallback::ModeReport {
                mode: "fallback",
                reason: PlainReason::LayerDisabled.text(),
                retry_in_secs: None,
            };
        }
        if let Some(why) = self.mode.forced() {
            return fallback::ModeReport {
                mode: "fallback",
                reason: why,
                retry_in_secs: self.mode.retry_in().map(|d| d.as_secs()),
            };
        }
        let open: Vec<String> = self
            .breakers()
            .into_iter()
            .filter(|b| !b.allows())
            .map(|b| {
                format!(
                    "{} switched off after repeated failures ({})",
                    b.part().name(),
                    b.last_error().unwrap_or_default()
                )
            })
            .collect();
        if open.is_empty() {
            fallback::ModeReport {
                mode: "optimized",
                reason: String::new(),
                retry_in_secs: None,
            }
        } else {
            fallback::ModeReport {
                mode: "fallback",
                reason: open.join("; "),
                retry_in_secs: None,
            }
        }
    }

    /// Every breaker: the pipeline's own, then those attached.
    fn breakers(&self) -> Vec<Arc<Breaker>> {
        let mut v = vec![
            self.read_breaker.clone(),
            self.cache_breaker.clone(),
            self.coalesce_breaker.clone(),
        ];
        v.extend(
            self.external
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned(),
        );
        v
    }

    /// The whole `/api/status/optimization` document.
    pub fn report(&self) -> serde_json::Value {
        use serde_json::json;
        let m = self.mode_report();
        let breakers: serde_json::Map<String, serde_json::Value> = self
            .breakers()
            .into_iter()
            .map(|b| {
                (
                    b.part().name().to_string(),
                    json!({
                        "state": b.state().name(),
                        "failures": b.failures_total(),
                        "opened": b.opened_total(),
                        "last_error": b.last_error(),
                    }),
                )
            })
            .collect();
        let attached =
            |f: &OnceLock<StatsFn>| f.get().map(|f| f()).unwrap_or(serde_json::Value::Null);
        let mon = &self.monitor;
        let requests: Vec<serde_json::Value> = mon
            .requests()
            .into_iter()
            .map(|((route, path), n)| json!({"route": route, "path": path, "count": n}))
            .collect();
        json!({
            "mode": m.mode,
            "reason": m.reason,
            "retry_in_secs": m.retry_in_secs,
            "flags": self.flags,
            "deadline_ms": self.deadline.as_millis() as u64,
            "fallback": {
                "threshold": self.cfg.fallback_threshold,
                "window_secs": self.cfg.fallback_window_secs,
                "recovery_secs": self.cfg.recovery_secs,
                "service_switches": self.mode.switches(),
                "breakers": breakers,
            },
            "cache": self.cache.stats(),
            "memo_hits": self.memo.hits(),
            "coalesce": self.coalescer.stats(),
            "batcher": attached(&self.batch_stats),
            "pools": {
                "sqlite": attached(&self.sqlite_stats),
                "http": attached(&self.http_stats),
            },
            "latency_us": {
                "optimized": {
                    "count": mon.optimized_latency.count(),
                    "p50": mon.optimized_latency.quantile_us(0.5),
                    "p99": mon.optimized_latency.quantile_us(0.99),
                },
                "plain": {
                    "count": mon.plain_latency.count(),
                    "p50": mon.plain_latency.quantile_us(0.5),
                    "p99": mon.plain_latency.quantile_us(0.99),
                },
            },
            "requests": requests,
        })
    }

    /// The pipeline's metrics in Prometheus text format.
    pub fn write_prometheus(&self, out: &mut String) {
        use monitor::metric;
        let m = self.mode_report();
        metric(
            out,
            "calendarbot_optimized_mode",
            "gauge",
            "1 when the optimised path serves, 0 in fallback.",
            u8::from(m.mode == "optimized"),
        );
        self.monitor.write_prometheus(out);
        let c = self.cache.stats();
        metric(
            out,
            "calendarbot_cache_hits_total",
            "counter",
            "Response cache hits.",
            c.hits,
        );
        metric(
            out,
            "calendarbot_cache_misses_total",
            "counter",
            "Response cache misses.",
            c.misses,
        );
        metric(
            out,
            "calendarbot_cache_entries",
            "gauge",
            "Response cache entries.",
            c.entries,
        );
        metric(
            out,
            "calendarbot_cache_bytes",
            "gauge",
            "Response cache weight in bytes.",
            c.weighted_bytes,
        );
        let co = self.coalescer.stats();
        metric(
            out,
            "calendarbot_coalesced_total",
            "counter",
            "Requests that shared another request's computation.",
            co.coalesced,
        );
        metric(
            out,
            "calendarbot_computed_total",
            "counter",
            "Computations run by the optimised path.",
            co.computed,
        );
        metric(
            out,
            "calendarbot_service_fallback_switches_total",
            "counter",
            "Times the whole service switched to the plain path.",
            self.mode.switches(),
        );
        for b in self.breakers() {
            let _ = std::fmt::Write::write_fmt(
                out,
                format_args!(
                    "calendarbot_breaker_failures_total{{part=\"{}\"}} {}\ncalendarbot_breaker_open{{part=\"{}\"}} {}\n",
                    b.part().name(),
                    b.failures_total(),
                    b.part().name(),
                    u8::from(!b.allows()),
                ),
            );
        }
        let flat = |prefix: &str, v: serde_json::Value, out: &mut String| {
            if let serde_json::Value::Object(map) = v {
                flatten(prefix, &map, out);
            }
        };
        if let Some(f) = self.sqlite_stats.get() {
            flat("calendarbot_sqlite", f(), out);
        }
        if let Some(f) = self.http_stats.get() {
            flat("calendarbot_http", f(), out);
        }
        if let Some(f) = self.batch_stats.get() {
            flat("calendarbot_batch", f(), out);
        }
    }
}

/// Numeric leaves of a stats object as untyped Prometheus samples (`prefix_path_to_leaf`).
fn flatten(prefix: &str, map: &serde_json::Map<String, serde_json::Value>, out: &mut String) {
    for (k, v) in map {
        let name = format!("{prefix}_{k}");
        match v {
            serde_json::Value::Number(n) => {
                let _ = std::fmt::Write::write_fmt(out, format_args!("{name} {n}\n"));
            }
            serde_json::Value::Bool(b) => {
                let _ = std::fmt::Write::write_fmt(out, format_args!("{name} {}\n", u8::from(*b)));
            }
            serde_json::Value::Object(m) => flatten(&name, m, out),
            _ => {}
        }
    }
}

/// The time epoch of "what's next" at `now`: the answer (which meeting is next, before the
/// seconds are counted) depends on "now" only through which occurrences have started and which
/// skips have ended, so two instants with the same epoch (and the same snapshot version) have
/// the same next meeting. Occurrences are sorted by start (in `tz`), so this is a binary
/// search plus a scan of the (few) skips.
pub fn next_epoch(snap: &Snapshot, now: DateTime<Utc>, tz: chrono_tz::Tz) -> u64 {
    let started = snap.occurrences.partition_point(|o| o.start_utc(tz) < now) as u64;
    let skips_ended = snap.skips.values().filter(|until| **until <= now).count() as u64;
    (started << 20) | skips_ended.min((1 << 20) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn cfg() -> OptimizationConfig {
        OptimizationConfig::default()
    }

    fn key(epoch: u64) -> CacheKey {
        CacheKey {
            route: "test",
            params: "".into(),
            version: 1,
            epoch,
        }
    }

    #[test]
    fn memo_serves_only_while_the_optimised_path_may() {
        let key = memo::MemoKey::at("whats-next", "UTC", 1, 0, Utc::now());
        let body = bytes::Bytes::from_static(b"{}");
        let optimized = Path::Optimized(Served::Computed);

        let p = Pipeline::new(&cfg());
        p.memo_put(key.clone(), body.clone(), &optimized);
        assert_eq!(p.memo_get(&key), Some(body.clone()));
        // The service switched to the plain path: the memo neither serves nor keeps bodies.
        p.mode().force_fallback("test stall", None);
        assert_eq!(p.memo_get(&key), None);
        p.mode().restore();
        p.memo_put(
            key.clone(),
            body.clone(),
            &Path::Plain(PlainReason::FlagsOff),
        );
        assert_eq!(
            p.memo_get(&key),
            None,
            "a plain-path body is never memoised"
        );
        let served = p
            .monitor
            .requests()
            .get(&("whats-next".to_string(), "optimized/hit".to_string()))
            .copied();
        assert_eq!(served, Some(1), "a memo answer is counted as a cache hit");

        // Layer or cache switched off by configuration: no memo at all.
        for off in [
            OptimizationConfig {
                enabled: false,
                ..cfg()
            },
            OptimizationConfig {
                response_cache: false,
                ..cfg()
            },
        ] {
            let p = Pipeline::new(&off);
            p.memo_put(key.clone(), body.clone(), &optimized);
            assert_eq!(p.memo_get(&key), None);
        }
    }

    #[tokio::test]
    async fn optimised_path_caches_and_plain_path_computes() {
        let p = Pipeline::new(&cfg());
        let runs = AtomicUsize::new(0);
        let compute = || {
            runs.fetch_add(1, Ordering::SeqCst);
            ("answer".to_string(), 6)
        };
        let (a, pa) = p.read(key(0), compute).await;
        let (b, pb) = p.read(key(0), compute).await;
        assert_eq!((a.as_str(), b.as_str()), ("answer", "answer"));
        assert_eq!(pa, Path::Optimized(Served::Computed));
        assert_eq!(pb, Path::Optimized(Served::Hit));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(pb.header_value(), "optimized; cache=hit");

        let off = Pipeline::new(&OptimizationConfig {
            enabled: false,
            ..cfg()
        });
        let (c, pc) = off.read(key(0), compute).await;
        assert_eq!(c.as_str(), "answer");
        assert_eq!(pc, Path::Plain(PlainReason::LayerDisabled));
        assert_eq!(off.mode_report().mode, "fallback");
        assert_eq!(p.mode_report().mode, "optimized");
    }

    #[tokio::test]
    async fn service_fallback_is_reported_per_request_and_in_the_mode() {
        let p = Pipeline::new(&cfg());
        p.mode().force_fallback("unclean exit", None);
        let (_, path) = p.read(key(0), || (1u8, 1)).await;
        assert_eq!(
            path,
            Path::Plain(PlainReason::ServiceFallback("unclean exit".into()))
        );
        assert_eq!(p.mode_report().reason, "unclean exit");
        assert!(p.status_line().starts_with("mode=fallback"));
        let report = p.report();
        assert_eq!(report["mode"], "fallback");
        assert_eq!(report["flags"]["response_cache"], true);
    }

    #[test]
    fn epoch_changes_exactly_when_an_occurrence_starts_or_a_skip_ends() {
        use crate::ics::{Details, EventText, Occurrence, Status, When};
        use chrono::TimeZone;
        let t = |h, m, s| Utc.with_ymd_and_hms(2025, 11, 5, h, m, s).unwrap();
        let occ = |id: &str, start| Occurrence {
            details: Arc::new(Details::from(EventText {
                uid: id.into(),
                subject: id.into(),
                ..Default::default()
            })),
            start: When::Timed(start),
            end: When::Timed(start + chrono::Duration::minutes(30)),
            status: Status::Busy,
            recurring: false,
            expanded: false,
        };
        let snap = Snapshot {
            version: 1,
            occurrences: Arc::new(vec![occ("a", t(9, 0, 0)), occ("b", t(10, 0, 0))]),
            skips: Arc::new([("a".to_string(), t(9, 30, 0))].into_iter().collect()),
        };
        let tz = chrono_tz::UTC;
        let e = |now| next_epoch(&snap, now, tz);
        assert_eq!(
            e(t(8, 0, 0)),
            e(t(9, 0, 0)),
            "a starting this second is still next"
        );
        assert_ne!(e(t(9, 0, 0)), e(t(9, 0, 1)));
        assert_eq!(e(t(9, 0, 1)), e(t(9, 29, 59)));
        assert_ne!(e(t(9, 29, 59)), e(t(9, 30, 0)), "the skip ended");
        assert_eq!(e(t(9, 30, 0)), e(t(10, 0, 0)));
        assert_ne!(e(t(10, 0, 0)), e(t(10, 0, 1)));
    }
}
