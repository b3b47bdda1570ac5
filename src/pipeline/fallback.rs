//! The service-wide mode: the coarse switch to the plain path.
//!
//! Why it exists: the watchdog (a stalled optimised path) and the start after an unclean exit
//! both need to run *every* part on its plain path for a while, whatever the per-part
//! [`crate::breaker::Breaker`]s say. While [`ServiceMode`] says "fallback", the reason is what
//! `/api/status/optimization`, `/api/health`, `STATUS=` and the log report.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The service-wide mode, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeReport {
    /// "optimized" or "fallback".
    pub mode: &'static str,
    /// Why (empty when optimized and nothing is wrong).
    pub reason: String,
    /// Seconds until the optimised path is tried again, when in a timed fallback.
    pub retry_in_secs: Option<u64>,
}

#[derive(Debug, Default)]
struct ModeInner {
    /// Forced fallback: why, and until when (None: until cleared).
    forced: Option<(String, Option<Instant>)>,
}

/// Service-wide switch to the plain path (watchdog stall, start after an unclean exit).
#[derive(Debug, Default)]
pub struct ServiceMode {
    inner: Mutex<ModeInner>,
    switches: AtomicU64,
}

impl ServiceMode {
    /// Run on the plain path for `period` (or until [`ServiceMode::restore`] when `None`).
    pub fn force_fallback(&self, reason: &str, period: Option<Duration>) {
        let mut g = self.lock();
        let fresh = g.forced.is_none();
        g.forced = Some((reason.to_string(), period.map(|p| Instant::now() + p)));
        drop(g);
        if fresh {
            self.switches.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Back to the optimised path.
    pub fn restore(&self) {
        self.lock().forced = None;
    }

    /// The reason the whole service runs plain, if it does. A timed fallback that has expired
    /// ends here (the optimised path is tried again).
    pub fn forced(&self) -> Option<String> {
        let mut g = self.lock();
        match &g.forced {
            Some((why, Some(until))) if Instant::now() >= *until => {
                tracing::info!(was = %why, "fallback period over; back on the optimised path");
                g.forced = None;
                None
            }
            Some((why, _)) => Some(why.clone()),
            None => None,
        }
    }

    /// Seconds left in a timed fallback.
    pub fn retry_in(&self) -> Option<Duration> {
        match &self.lock().forced {
            Some((_, Some(until))) => Some(until.saturating_duration_since(Instant::now())),
            _ => None,
        }
    }

    /// Times the service switched to fallback since start.
    pub fn switches(&self) -> u64 {
        self.switches.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ModeInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_mode_timed_fallback_expires() {
        let m = ServiceMode::default();
        assert_eq!(m.forced(), None);
        m.force_fallback("unclean exit", Some(Duration::ZERO));
        assert_eq!(m.forced(), None, "a zero period ends at once");
        m.force_fallback("stalled", None);
        assert_eq!(m.forced().as_deref(), Some("stalled"));
        assert_eq!(m.switches(), 2);
        m.restore();
        assert_eq!(m.forced(), None);
    }
}
