//! `[optimization]`: the layer's feature flags and tunables (SPEC §7), and the effective flags.
//!
//! Why it exists apart: every part of the layer (pools, cache, coalescing, batching) reads the
//! same rule, "a part is on only if the layer is on too"; [`Flags`] computes it once, here.

use serde::{Deserialize, Serialize};

/// The optimisation layer's flags and tunables (SPEC §7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptimizationConfig {
    /// The whole layer; off means every part runs its plain path.
    pub enabled: bool,
    /// Pooled HTTP client (off: a fresh client per fetch).
    pub http_pool: bool,
    /// Pooled SQLite (off: a fresh connection per request).
    pub db_pool: bool,
    /// TTL response cache in front of the read endpoints.
    pub response_cache: bool,
    /// Coalescing of identical requests and batching of writes.
    pub request_batching: bool,
    /// Deadline of an optimised part before the plain path takes over, milliseconds.
    pub deadline_ms: u64,
    /// Failures within `fallback_window_secs` that switch a part off.
    pub fallback_threshold: u32,
    /// Window for counting failures, seconds.
    pub fallback_window_secs: u64,
    /// How long a switched-off part (or the whole service after an unclean exit) stays on the
    /// plain path, seconds.
    pub recovery_secs: u64,
    /// Response cache time to live, seconds.
    pub cache_ttl_secs: u64,
    /// Response cache memory cap, bytes.
    pub cache_max_bytes: u64,
    /// Write batching window, milliseconds.
    pub batch_window_ms: u64,
}

impl Default for OptimizationConfig {
    fn default() -> Self {
        OptimizationConfig {
            enabled: true,
            http_pool: true,
            db_pool: true,
            response_cache: true,
            request_batching: true,
            deadline_ms: 250,
            fallback_threshold: 3,
            fallback_window_secs: 60,
            recovery_secs: 300,
            cache_ttl_secs: 30,
            cache_max_bytes: 2 * 1024 * 1024,
            batch_window_ms: 50,
        }
    }
}

/// The effective flags: each part is on only if the layer is on too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

impl OptimizationConfig {
    /// The effective flags.
    pub fn flags(&self) -> Flags {
        Flags {
            enabled: self.enabled,
            http_pool: self.enabled && self.http_pool,
            db_pool: self.enabled && self.db_pool,
            response_cache: self.enabled && self.response_cache,
            request_batching: self.enabled && self.request_batching,
        }
    }
}
