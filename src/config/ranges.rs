//! The numeric keys' bounds: one table that validation, error messages and the docs read.

/// The numeric keys and their inclusive bounds: validation, error messages and the docs all
/// read this one table. `refresh_interval` is checked on its own (its floor depends on the
/// build) and `web_port` by its type (a u16) plus the zero check.
pub const RANGES: &[(&str, u64, u64)] = &[
    ("fetch.max_body_bytes", 1024, 1 << 30),
    ("fetch.connect_timeout_secs", 1, 300),
    ("fetch.timeout_secs", 1, 3600),
    ("fetch.read_timeout_secs", 1, 3600),
    ("fetch.max_retries", 0, 10),
    ("fetch.max_redirects", 0, 20),
    ("fetch.retry_base_ms", 1, 60_000),
    ("window.past_days", 0, 366),
    ("window.future_days", 1, 3660),
    ("server.max_connections", 1, 10_000),
    ("server.header_read_timeout_ms", 100, 600_000),
    ("server.max_body_bytes", 256, 16 << 20),
    ("server.max_header_bytes", 1024, 1 << 20),
    ("server.shutdown_grace_secs", 0, 300),
    ("optimization.deadline_ms", 1, 60_000),
    ("optimization.fallback_threshold", 1, 1000),
    ("optimization.fallback_window_secs", 1, 86_400),
    ("optimization.recovery_secs", 1, 86_400),
    ("optimization.cache_ttl_secs", 1, 86_400),
    ("optimization.cache_max_bytes", 4096, 256 << 20),
    ("optimization.batch_window_ms", 1, 1000),
    ("later_today_max", 0, 20),
    ("pressure.psi_some_avg10", 1, 100),
    ("pressure.high_percent", 10, 100),
    ("pressure.interval_ms", 100, 600_000),
    ("pressure.calm_checks", 1, 1000),
    ("pressure.cache_floor_bytes", 0, 256 << 20),
    ("update.settle_s", 0, 86_400),
    ("update.gate_timeout_s", 1, 3600),
    ("update.max_bundle_bytes", 1024, 1 << 30),
];

/// The bounds of a numeric key, if it has any.
pub(crate) fn range_of(key: &str) -> Option<(u64, u64)> {
    RANGES
        .iter()
        .find(|(k, ..)| *k == key)
        .map(|(_, lo, hi)| (*lo, *hi))
}

/// "expected an integer lo-hi".
pub(crate) fn range_text(lo: u64, hi: u64) -> String {
    format!("expected an integer {lo}-{hi}")
}
