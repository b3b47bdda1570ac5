//! Injected faults for the fallback tests (cargo feature `fault-injection` only).
//!
//! Why it exists: the fallback and watchdog promises ("the client never sees an optimised part
//! fail", "a stalled optimised path is switched off before systemd's deadline") can only be
//! tested by making those parts fail on purpose in the real binary. `CALENDARBOT_FAULT` lists
//! the faults, comma-separated:
//! - `stall-pipeline`: the optimised read path never answers (hangs forever);
//! - `fail-cache`: the response cache errors on every use;
//! - `fail-db-pool`: every SQLite pool checkout errors;
//! - `fail-batch`: every write batch errors.
//!
//! Without the feature every check is a constant `false`, so release builds carry no trace of
//! it and the variable is ignored.

/// One injectable fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The optimised read path hangs.
    StallPipeline,
    /// The response cache errors.
    FailCache,
    /// SQLite pool checkouts error.
    FailDbPool,
    /// Write batches error.
    FailBatch,
}

#[cfg(feature = "fault-injection")]
impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::StallPipeline => "stall-pipeline",
            Fault::FailCache => "fail-cache",
            Fault::FailDbPool => "fail-db-pool",
            Fault::FailBatch => "fail-batch",
        }
    }
}

/// Whether `fault` is injected (read once from `CALENDARBOT_FAULT`).
#[cfg(feature = "fault-injection")]
pub(crate) fn active(fault: Fault) -> bool {
    use std::sync::OnceLock;
    static FAULTS: OnceLock<Vec<String>> = OnceLock::new();
    let faults = FAULTS.get_or_init(|| {
        let v: Vec<String> = std::env::var("CALENDARBOT_FAULT")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if !v.is_empty() {
            tracing::warn!(faults = ?v, "fault injection active (test build)");
        }
        v
    });
    faults.iter().any(|f| f == fault.name())
}

/// Whether `fault` is injected: never, in a build without `fault-injection`.
#[cfg(not(feature = "fault-injection"))]
pub(crate) const fn active(_fault: Fault) -> bool {
    false
}
