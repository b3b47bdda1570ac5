//! The memory-pressure watcher: reads the kernel's signals and tells the layer to shed.
//!
//! Why it exists: the unit runs with `MemoryHigh=48M` and `MemoryMax=64M`. Past `memory.high`
//! the kernel throttles the service and reclaims hard; past `memory.max` it kills it. The
//! layer's cache and pools are memory the service can give back without serving less, so
//! when the kernel signals pressure they are given back *before* either limit bites, and taken
//! again when the pressure has gone.
//!
//! Signals, any of which means pressure (paths in `[pressure]`, so tests drive them):
//! - PSI: `some avg10` at or above `psi_some_avg10` percent, read from the unit cgroup's own
//!   `memory.pressure` (readable under the unit's `ProcSubset=pid`, which hides
//!   `/proc/pressure`), else `/proc/pressure/memory`;
//! - the unit's cgroup: `memory.current` at or above `high_percent` of `memory.high`, or the
//!   `high` count of `memory.events` grew since the last check (the kernel throttled us).
//!
//! One warning when an episode begins (with the figures), one info line when it ends after
//! `calm_checks` calm checks. A signal that cannot be read is no signal (a kernel without PSI,
//! a cgroup v1 machine): never an error, never a stop.

use crate::config::PressureConfig;
use crate::pipeline::Pipeline;
use chrono::Utc;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One reading of the signals.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Reading {
    /// PSI `some avg10`, percent.
    pub(crate) psi_some_avg10: Option<f64>,
    /// `memory.current`, bytes.
    pub(crate) current: Option<u64>,
    /// `memory.high`, bytes (None when `max` or unreadable).
    pub(crate) high: Option<u64>,
    /// The `high` count of `memory.events`.
    pub(crate) high_events: Option<u64>,
}

/// PSI's `some avg10` from the text of `/proc/pressure/memory`.
fn psi_some_avg10(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("some "))?;
    line.split_whitespace()
        .find_map(|f| f.strip_prefix("avg10="))?
        .parse()
        .ok()
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The `high` line of `memory.events`.
fn high_events(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("high "))?
        .trim()
        .parse()
        .ok()
}

/// The unit's cgroup directory: the configured one, else this process's v2 cgroup.
fn cgroup_dir(cfg: &PressureConfig) -> Option<PathBuf> {
    if !cfg.cgroup_dir.as_os_str().is_empty() {
        return Some(cfg.cgroup_dir.clone());
    }
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/')))
}

/// Where PSI is read: the configured file, else the cgroup's, else the system's.
fn psi_path(cfg: &PressureConfig, cgroup: Option<&Path>) -> PathBuf {
    if !cfg.psi_path.as_os_str().is_empty() {
        return cfg.psi_path.clone();
    }
    match cgroup.map(|d| d.join("memory.pressure")) {
        Some(p) if p.exists() => p,
        _ => PathBuf::from("/proc/pressure/memory"),
    }
}

/// Read every signal once.
pub(crate) fn read(psi: &Path, cgroup: Option<&Path>) -> Reading {
    let psi = std::fs::read_to_string(psi)
        .ok()
        .and_then(|t| psi_some_avg10(&t));
    let (current, high, high_events) = match cgroup {
        Some(dir) => (
            read_u64(&dir.join("memory.current")),
            read_u64(&dir.join("memory.high")),
            std::fs::read_to_string(dir.join("memory.events"))
                .ok()
                .and_then(|t| high_events(&t)),
        ),
        None => (None, None, None),
    };
    Reading {
        psi_some_avg10: psi,
        current,
        high,
        high_events,
    }
}

/// Why `now` is pressure, if it is (`before` is the previous reading, for the event count).
pub(crate) fn pressure(cfg: &PressureConfig, before: &Reading, now: &Reading) -> Option<String> {
    let mut why = Vec::new();
    if let Some(p) = now.psi_some_avg10
        && p >= cfg.psi_some_avg10 as f64
    {
        why.push(format!(
            "PSI some avg10 {p:.2} % >= {} %",
            cfg.psi_some_avg10
        ));
    }
    if let (Some(c), Some(h)) = (now.current, now.high)
        && h > 0
        && u128::from(c) * 100 >= u128::from(h) * u128::from(cfg.high_percent)
    {
        why.push(format!(
            "memory.current {c} >= {} % of memory.high {h}",
            cfg.high_percent
        ));
    }
    if let (Some(b), Some(n)) = (before.high_events, now.high_events)
        && n > b
    {
        why.push(format!("memory.events high {b} -> {n}"));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// Watch until the task is stopped: shed on pressure, restore after `calm_checks` calm checks.
pub(crate) async fn watch(cfg: PressureConfig, pipeline: Arc<Pipeline>) {
    let cgroup = cgroup_dir(&cfg);
    let psi = psi_path(&cfg, cgroup.as_deref());
    let interval = std::time::Duration::from_millis(cfg.interval_ms);
    let mut before = read(&psi, cgroup.as_deref());
    let mut calm = 0u64;
    tracing::info!(
        psi = %psi.display(),
        psi_readable = before.psi_some_avg10.is_some(),
        cgroup = ?cgroup,
        memory_high = ?before.high,
        "watching memory pressure"
    );
    loop {
        tokio::time::sleep(interval).await;
        let now = read(&psi, cgroup.as_deref());
        let active = pipeline.pressure().active;
        match pressure(&cfg, &before, &now) {
            Some(reason) => {
                calm = 0;
                if !active {
                    pipeline
                        .shed_memory(reason.clone(), cfg.cache_floor_bytes, Utc::now())
                        .await;
                    crate::sys::release_free_memory();
                    let r = pipeline.pressure();
                    tracing::warn!(
                        reason = %reason,
                        psi_some_avg10 = ?now.psi_some_avg10,
                        memory_current = ?now.current,
                        memory_high = ?now.high,
                        cache_floor_bytes = cfg.cache_floor_bytes,
                        readers_closed = r.readers_closed,
                        http_client_dropped = r.http_client_dropped,
                        "memory pressure: cache shrunk to its floor, idle connections closed, heap trimmed"
                    );
                }
            }
            None if active => {
                calm += 1;
                if calm >= cfg.calm_checks {
                    pipeline.memory_calm();
                    tracing::info!(
                        calm_checks = calm,
                        psi_some_avg10 = ?now.psi_some_avg10,
                        memory_current = ?now.current,
                        "memory pressure gone: cache cap restored"
                    );
                    calm = 0;
                }
            }
            None => {}
        }
        before = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_kernel_formats() {
        let psi = "some avg10=12.34 avg60=3.00 avg300=1.00 total=12345\n\
                   full avg10=1.00 avg60=0.00 avg300=0.00 total=10\n";
        assert_eq!(psi_some_avg10(psi), Some(12.34));
        assert_eq!(psi_some_avg10("garbage"), None);
        let ev = "low 0\nhigh 17\nmax 0\noom 0\noom_kill 0\n";
        assert_eq!(high_events(ev), Some(17));
    }

    #[test]
    fn each_signal_alone_is_pressure() {
        let cfg = PressureConfig::default();
        let calm = Reading {
            psi_some_avg10: Some(0.5),
            current: Some(20 << 20),
            high: Some(48 << 20),
            high_events: Some(3),
        };
        assert_eq!(pressure(&cfg, &calm, &calm), None);
        let psi = Reading {
            psi_some_avg10: Some(10.0),
            ..calm.clone()
        };
        assert!(pressure(&cfg, &calm, &psi).unwrap().contains("PSI"));
        let near = Reading {
            current: Some(44 << 20),
            ..calm.clone()
        };
        assert!(
            pressure(&cfg, &calm, &near)
                .unwrap()
                .contains("memory.high")
        );
        let throttled = Reading {
            high_events: Some(4),
            ..calm.clone()
        };
        assert!(
            pressure(&cfg, &calm, &throttled)
                .unwrap()
                .contains("memory.events")
        );
        // Nothing readable: no pressure.
        assert_eq!(
            pressure(&cfg, &Reading::default(), &Reading::default()),
            None
        );
    }
}
