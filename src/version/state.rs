//! The updater's record, `state.json`: what is installed, what is being tried, what is bad.
//!
//! Why it lives here (layer 1) and not in `update` (layer 7): `/api/health` reports it, and
//! the server sits below the updater. Only `update` writes the file (atomically); this module
//! knows its shape, reads it (size-capped) and summarises it for health.

use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::Path;

/// The file's name in the state directory.
pub const STATE_FILE: &str = "state.json";

/// The largest `state.json` read (it holds a few versions; anything bigger is damage).
const MAX_STATE_BYTES: u64 = 1 << 20;

/// The slot name reported when no slot runs: the image's own binary.
pub const FACTORY: &str = "factory";

/// The whole record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    /// The version `current` points at (none: the factory binary).
    pub current: Option<Installed>,
    /// The version before it (the rollback target; none: the factory binary).
    pub previous: Option<Installed>,
    /// An attempt in progress: set before the switch, cleared by commit or rollback.
    pub trying: Option<Trying>,
    /// Versions that failed the gate or crash-looped: never installed again (unless pinned).
    pub bad: Vec<String>,
    /// The last attempt's outcome.
    pub last_attempt: Option<Attempt>,
}

/// A version in a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    /// Its release version.
    pub version: String,
    /// `a` or `b`.
    pub slot: String,
}

/// The attempt in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trying {
    /// The version being tried.
    pub version: String,
    /// The slot it was unpacked into.
    pub slot: String,
    /// When the attempt was recorded (RFC 3339 UTC).
    pub at: String,
    /// What ran before (none: the factory binary): the rollback target.
    pub from: Option<Installed>,
    /// The database's `user_version` when it was snapshotted (none: no database yet).
    pub user_version: Option<i64>,
    /// `/api/health`'s status before the switch (the new version must do as well).
    pub health_before: Option<u16>,
    /// Set (with the reason) before a rollback starts, so a cut rollback is finished.
    #[serde(default)]
    pub rollback: Option<String>,
}

/// One attempt's outcome, as `/api/health` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The version tried (or refused).
    pub version: String,
    /// When it ended (RFC 3339 UTC).
    pub at: String,
    /// `installed`, `rolled_back`, `refused`, `interrupted`, `failed`.
    pub outcome: String,
    /// Why, when it was not installed.
    pub reason: Option<String>,
}

/// Read `dir/state.json`: `Ok(None)` when there is none.
pub fn read(dir: &Path) -> Result<Option<State>, String> {
    let path = dir.join(STATE_FILE);
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut text = Vec::new();
    file.take(MAX_STATE_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if text.len() as u64 > MAX_STATE_BYTES {
        return Err(format!(
            "{}: larger than {MAX_STATE_BYTES} bytes",
            path.display()
        ));
    }
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// `/api/health`'s `update` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The installed version (the running version when no slot is installed).
    pub current: String,
    /// Its slot, or `factory`.
    pub slot: String,
    /// The rollback target's version (none: the factory binary).
    pub previous: Option<String>,
    /// The last attempt.
    pub last_attempt: Option<Attempt>,
    /// Versions never to be installed again.
    pub bad: Vec<String>,
    /// Why `state.json` could not be read (only when it could not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The summary of `dir/state.json`; absent (or unreadable, said in `error`) → the running
/// version in the factory slot.
pub fn summary(dir: &Path) -> Summary {
    let (state, error) = match read(dir) {
        Ok(s) => (s.unwrap_or_default(), None),
        Err(e) => (State::default(), Some(e)),
    };
    let (current, slot) = match state.current {
        Some(i) => (i.version, i.slot),
        None => (super::version().to_string(), FACTORY.to_string()),
    };
    Summary {
        current,
        slot,
        previous: state.previous.map(|p| p.version),
        last_attempt: state.last_attempt,
        bad: state.bad,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_state_is_the_factory_binary() {
        let dir = tempfile::tempdir().unwrap();
        let s = summary(dir.path());
        assert_eq!(s.slot, FACTORY);
        assert_eq!(s.current, super::super::version());
        assert!(s.error.is_none());
    }

    #[test]
    fn damaged_state_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), "{not json").unwrap();
        let s = summary(dir.path());
        assert_eq!(s.slot, FACTORY);
        assert!(s.error.unwrap().contains("state.json"));
    }
}
