//! The monitor: which path served each request, how fast, and the Prometheus exposition.
//!
//! Why it exists: an optimisation nobody can see is one nobody can trust or debug. Every
//! request is recorded with its route, the path that served it (optimised: hit, computed or
//! coalesced; plain: and why) and its latency, in a fixed-bucket histogram (no allocation on
//! the hot path). `/api/status/optimization` and `/metrics` read these counters.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, microseconds (Prometheus `le`, the last is +Inf).
pub(crate) const BUCKETS_US: [u64; 14] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000,
];

/// A latency histogram with fixed buckets.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    /// Record one observation.
    pub fn observe(&self, d: Duration) {
        let us = d.as_micros() as u64;
        let i = BUCKETS_US
            .iter()
            .position(|b| us <= *b)
            .unwrap_or(BUCKETS_US.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The bucket bound under which `q` (0..1) of the observations fall, microseconds (an
    /// upper estimate; `None` without observations, `u64::MAX` past the last bucket).
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let target = (q * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= target {
                return Some(BUCKETS_US.get(i).copied().unwrap_or(u64::MAX));
            }
        }
        Some(u64::MAX)
    }

    fn write_prometheus(&self, out: &mut String, name: &str, labels: &str) {
        let mut cum = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in self.buckets.iter().enumerate() {
            cum += b.load(Ordering::Relaxed);
            let le = BUCKETS_US
                .get(i)
                .map(|us| format!("{}", *us as f64 / 1e6))
                .unwrap_or_else(|| "+Inf".into());
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cum}");
        }
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count());
    }
}

/// Per-request records.
#[derive(Debug, Default)]
pub struct Monitor {
    /// Requests per (route, path label).
    requests: Mutex<BTreeMap<(String, String), u64>>,
    /// Latency of requests served by the optimised path.
    pub optimized_latency: Histogram,
    /// Latency of requests served by the plain path.
    pub plain_latency: Histogram,
}

impl Monitor {
    /// Record one request: its route, the path label (`optimized/hit`, `plain/flag_off`, ...)
    /// and how long it took.
    pub fn record(&self, route: &str, path: &str, optimized: bool, took: Duration) {
        if optimized {
            self.optimized_latency.observe(took);
        } else {
            self.plain_latency.observe(took);
        }
        let mut g = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        // Look up by borrowed strings first: no allocation for a known (route, path).
        if let Some(n) = g
            .iter_mut()
            .find(|((r, p), _)| r == route && p == path)
            .map(|(_, n)| n)
        {
            *n += 1;
        } else {
            g.insert((route.to_string(), path.to_string()), 1);
        }
    }

    /// Requests per (route, path).
    pub fn requests(&self) -> BTreeMap<(String, String), u64> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The request counters and latency histograms in Prometheus text format.
    pub fn write_prometheus(&self, out: &mut String) {
        out.push_str("# HELP calendarbot_requests_total Requests by route and serving path.\n");
        out.push_str("# TYPE calendarbot_requests_total counter\n");
        for ((route, path), n) in self.requests() {
            let _ = writeln!(
                out,
                "calendarbot_requests_total{{route=\"{route}\",path=\"{path}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP calendarbot_request_duration_seconds Pipeline latency by serving path.\n",
        );
        out.push_str("# TYPE calendarbot_request_duration_seconds histogram\n");
        self.optimized_latency.write_prometheus(
            out,
            "calendarbot_request_duration_seconds",
            "path=\"optimized\"",
        );
        self.plain_latency.write_prometheus(
            out,
            "calendarbot_request_duration_seconds",
            "path=\"plain\"",
        );
    }
}

/// Append one metric (HELP, TYPE and a single sample) in Prometheus text format.
pub(crate) fn metric(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    value: impl std::fmt::Display,
) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_and_quantiles() {
        let h = Histogram::default();
        assert_eq!(h.quantile_us(0.99), None);
        for _ in 0..99 {
            h.observe(Duration::from_micros(80));
        }
        h.observe(Duration::from_millis(7));
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile_us(0.5), Some(100));
        assert_eq!(h.quantile_us(0.99), Some(100));
        assert_eq!(h.quantile_us(1.0), Some(10_000));
    }

    #[test]
    fn prometheus_text_has_counters_and_cumulative_buckets() {
        let m = Monitor::default();
        m.record(
            "whats-next",
            "optimized/hit",
            true,
            Duration::from_micros(40),
        );
        m.record(
            "whats-next",
            "optimized/hit",
            true,
            Duration::from_micros(40),
        );
        m.record(
            "whats-next",
            "plain/flag_off",
            false,
            Duration::from_millis(2),
        );
        let mut out = String::new();
        m.write_prometheus(&mut out);
        assert!(out.contains(
            "calendarbot_requests_total{route=\"whats-next\",path=\"optimized/hit\"} 2\n"
        ));
        assert!(out.contains(
            "calendarbot_requests_total{route=\"whats-next\",path=\"plain/flag_off\"} 1\n"
        ));
        assert!(out.contains(
            "calendarbot_request_duration_seconds_bucket{path=\"optimized\",le=\"0.00005\"} 2\n"
        ));
        assert!(out.contains(
            "calendarbot_request_duration_seconds_bucket{path=\"plain\",le=\"+Inf\"} 1\n"
        ));
        assert!(out.contains("calendarbot_request_duration_seconds_count{path=\"plain\"} 1\n"));
    }
}
