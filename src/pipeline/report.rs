//! What the pipeline says about itself: the mode, `/api/status/optimization`, `/metrics` and
//! the `STATUS=` line.
//!
//! Why it exists apart: reading counters and breakers of every part (the pipeline's own and
//! those of the store and the HTTP client it was given) is reporting, not serving; keeping it
//! here leaves `mod.rs` with the read path alone.

use super::{Pipeline, PlainReason, fallback};
use crate::breaker::Breaker;
use crate::pool::http::HttpPool;
use crate::store::Store;
use std::sync::Arc;

impl Pipeline {
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
        if let Some(store) = &self.reported.store {
            v.extend(store.breakers());
        }
        if let Some(http) = &self.reported.http {
            v.push(http.breaker().clone());
        }
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
        let store = self.reported.store.as_ref();
        let http = self.reported.http.as_ref();
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
            "rollout": self.cfg.rollout_report(&self.device),
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
            "warmed": self.warmed(),
            "memory_pressure": self.pressure(),
            "coalesce": self.coalescer.stats(),
            "batcher": store.and_then(Store::batch_stats),
            "pools": {
                "sqlite": store.map(Store::pool_stats),
                "http": http.map(HttpPool::stats),
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
        use super::monitor::metric;
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
        let pr = self.pressure();
        metric(
            out,
            "calendarbot_memory_pressure",
            "gauge",
            "1 while the layer sheds memory under pressure.",
            u8::from(pr.active),
        );
        metric(
            out,
            "calendarbot_memory_pressure_episodes_total",
            "counter",
            "Memory-pressure episodes since start.",
            pr.episodes,
        );
        metric(
            out,
            "calendarbot_cache_warmed_total",
            "counter",
            "Answers put in the response cache when a new calendar was published.",
            self.warmed(),
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
        // The pools' and the batcher's counters: every numeric field of their typed stats.
        let flat = |prefix: &str, v: serde_json::Result<serde_json::Value>, out: &mut String| {
            if let Ok(serde_json::Value::Object(map)) = v {
                flatten(prefix, &map, out);
            }
        };
        if let Some(store) = &self.reported.store {
            flat(
                "calendarbot_sqlite",
                serde_json::to_value(store.pool_stats()),
                out,
            );
            if let Some(b) = store.batch_stats() {
                flat("calendarbot_batch", serde_json::to_value(b), out);
            }
        }
        if let Some(http) = &self.reported.http {
            flat("calendarbot_http", serde_json::to_value(http.stats()), out);
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
