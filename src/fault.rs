//! Injected faults for the fallback tests (cargo feature `fault-injection` only).
//!
//! Why it exists: the fallback and watchdog promises ("the client never sees an optimised part
//! fail", "a stalled optimised path is switched off before systemd's deadline") can only be
//! tested by making those parts fail on purpose in the real binary. `CALENDARBOT_FAULT` lists
//! the faults, comma-separated:
//! - `stall-pipeline`: the optimised read path never answers (hangs forever);
//! - `fail-cache`: the response cache errors on every use;
//! - `fail-db-pool`: every SQLite pool checkout errors;
//! - `fail-batch`: every write batch errors;
//! - `wedge-accept`: the server's accept loop hangs (after one more connection);
//! - `wedge-handlers`: every request handler hangs before it answers;
//! - `hog-slots`: every client request (not the watchdog's probe) holds its request slot for
//!   10 s before it is answered, as a flood of slow requests would.
//!
//! The wedges and the hog are due `CALENDARBOT_FAULT_AFTER_MS` milliseconds (default 0) after the
//! server starts ([`arm`]), so a test can first see the service ready and fed, then wedged.
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
    /// The accept loop hangs.
    WedgeAccept,
    /// Every request handler hangs.
    WedgeHandlers,
    /// Client requests hold their request slot for 10 s.
    HogSlots,
}

#[cfg(feature = "fault-injection")]
impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::StallPipeline => "stall-pipeline",
            Fault::FailCache => "fail-cache",
            Fault::FailDbPool => "fail-db-pool",
            Fault::FailBatch => "fail-batch",
            Fault::WedgeAccept => "wedge-accept",
            Fault::WedgeHandlers => "wedge-handlers",
            Fault::HogSlots => "hog-slots",
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

#[cfg(feature = "fault-injection")]
static ARMED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Start the clock of the delayed faults (the server calls it when it starts serving).
#[cfg(feature = "fault-injection")]
pub(crate) fn arm() {
    ARMED.get_or_init(std::time::Instant::now);
}

/// Whether `fault` is injected and `CALENDARBOT_FAULT_AFTER_MS` have passed since [`arm`].
#[cfg(feature = "fault-injection")]
pub(crate) fn due(fault: Fault) -> bool {
    if !active(fault) {
        return false;
    }
    let after = std::env::var("CALENDARBOT_FAULT_AFTER_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    ARMED
        .get()
        .is_some_and(|t| t.elapsed() >= std::time::Duration::from_millis(after))
}

/// Start the clock of the delayed faults: nothing to do without `fault-injection`.
#[cfg(not(feature = "fault-injection"))]
pub(crate) const fn arm() {}

/// Whether `fault` is injected and due: never, in a build without `fault-injection`.
#[cfg(not(feature = "fault-injection"))]
pub(crate) const fn due(_fault: Fault) -> bool {
    false
}
