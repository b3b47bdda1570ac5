//! `[pressure]`: how the service notices memory pressure and what it calls pressure.
//!
//! Why it exists apart: the watcher (`crate::pressure`) reads kernel files whose paths differ
//! between a Pi, a container and a test, and its thresholds are an operator's choice.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Memory-pressure watching (see docs/optimization.md, "Memory pressure").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PressureConfig {
    /// Watch at all.
    pub enabled: bool,
    /// Memory pressure stall information (PSI); empty: the unit cgroup's `memory.pressure`
    /// if there is one, else `/proc/pressure/memory`.
    pub psi_path: PathBuf,
    /// The unit's cgroup directory (`memory.current`, `memory.high`, `memory.events`); empty:
    /// found from `/proc/self/cgroup` under `/sys/fs/cgroup`.
    pub cgroup_dir: PathBuf,
    /// Pressure when PSI's `some avg10` reaches this share of time stalled, percent.
    pub psi_some_avg10: u64,
    /// Pressure when `memory.current` reaches this share of `memory.high`, percent.
    pub high_percent: u64,
    /// Time between two checks, milliseconds.
    pub interval_ms: u64,
    /// Consecutive calm checks before the parts are given their memory back.
    pub calm_checks: u64,
    /// The response cache's cap under pressure, bytes.
    pub cache_floor_bytes: u64,
}

impl Default for PressureConfig {
    fn default() -> Self {
        PressureConfig {
            enabled: true,
            psi_path: PathBuf::new(),
            cgroup_dir: PathBuf::new(),
            psi_some_avg10: 10,
            high_percent: 90,
            interval_ms: 2000,
            calm_checks: 5,
            cache_floor_bytes: 64 * 1024,
        }
    }
}
