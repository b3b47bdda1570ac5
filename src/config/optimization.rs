//! `[optimization]`: the layer's feature flags and tunables (SPEC §7), and the effective flags.
//!
//! Why it exists apart: every part of the layer (pools, cache, coalescing, batching) reads the
//! same rule, "a part is on only if the layer is on too"; [`Flags`] computes it once, here.

use super::rollout::{Device, ROLLOUT_PARTS, Rollout};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
    /// Share of a fleet's devices on which each part is on: `disabled`, `canary` (5 %),
    /// `partial` (25 %), `majority` (75 %), `full` (100 %) or a number 0-100.
    pub rollout: Rollout,
    /// The file whose first line identifies this device for the rollout's buckets.
    pub machine_id_path: PathBuf,
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
            rollout: Rollout::FULL,
            machine_id_path: PathBuf::from("/etc/machine-id"),
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
    /// The effective flags on this device (its id read from `machine_id_path`).
    pub fn flags(&self) -> Flags {
        self.flags_for(&self.device())
    }

    /// This device, as the rollout buckets it.
    pub fn device(&self) -> Device {
        Device::from_file(&self.machine_id_path)
    }

    /// The effective flags on `device`: a part is on when the layer is on, the part's flag is
    /// on, and the rollout stage admits the device's bucket for that part.
    pub fn flags_for(&self, device: &Device) -> Flags {
        let on = |flag: bool, part: &str| {
            self.enabled && flag && self.rollout.admits(device.bucket(part))
        };
        Flags {
            enabled: self.enabled,
            http_pool: on(self.http_pool, "http_pool"),
            db_pool: on(self.db_pool, "db_pool"),
            response_cache: on(self.response_cache, "response_cache"),
            request_batching: on(self.request_batching, "request_batching"),
        }
    }

    /// The rollout as `/api/status/optimization` and `calendarbot flags` show it: the stage,
    /// whether a machine id was found, and each part's bucket and verdict on `device`.
    pub fn rollout_report(&self, device: &Device) -> serde_json::Value {
        let parts: serde_json::Map<String, serde_json::Value> = ROLLOUT_PARTS
            .iter()
            .map(|p| {
                let b = device.bucket(p);
                (
                    (*p).to_string(),
                    serde_json::json!({"bucket": b, "admitted": self.rollout.admits(b)}),
                )
            })
            .collect();
        serde_json::json!({
            "stage": self.rollout,
            "percent": self.rollout.percent(),
            "machine_id": if device.has_id() { "found" } else { "missing" },
            "parts": parts,
        })
    }
}
