//! SQLite persistence: the last good occurrence window of every source, skips, service state.
//!
//! Why it exists: "nothing lost". A failed fetch or a `kill -9` must never empty the calendar,
//! so the last good window of each source lives on disk (WAL, one transaction per change) and
//! is served again at once after a restart. Implemented by the kiosk-server work (issue 3).

use crate::ics::Occurrence;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Stored data could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The data directory is unusable.
    #[error("data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Per-source fetch state kept across restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceState {
    /// ETag of the last 200 response.
    pub etag: Option<String>,
    /// Last-Modified of the last 200 response.
    pub last_modified: Option<String>,
    /// DTSTAMP-blind content hash of the last parsed body.
    pub content_hash: Option<String>,
    /// Last success.
    pub last_success: Option<DateTime<Utc>>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// The last failure.
    pub last_error: Option<String>,
}

/// Handle to the SQLite database.
#[derive(Debug, Clone)]
pub struct Store {
    _private: (),
}

impl Store {
    /// Open (creating and migrating) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let _ = dir;
        todo!("issue 3: store")
    }

    /// The last good window of every source.
    pub fn load_windows(&self) -> Result<BTreeMap<String, Vec<Occurrence>>, StoreError> {
        todo!("issue 3: store")
    }

    /// Replace one source's window and state in one transaction.
    pub fn save_window(
        &self,
        source: &str,
        state: &SourceState,
        occurrences: &[Occurrence],
    ) -> Result<(), StoreError> {
        let _ = (source, state, occurrences);
        todo!("issue 3: store")
    }

    /// Per-source fetch state.
    pub fn source_state(&self, source: &str) -> Result<Option<SourceState>, StoreError> {
        let _ = source;
        todo!("issue 3: store")
    }

    /// Update per-source fetch state only (a failure, a 304).
    pub fn save_source_state(&self, source: &str, state: &SourceState) -> Result<(), StoreError> {
        let _ = (source, state);
        todo!("issue 3: store")
    }

    /// Skips still active at `now`.
    pub fn load_skips(
        &self,
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
        let _ = now;
        todo!("issue 3: store")
    }

    /// Add or extend a skip.
    pub fn add_skip(&self, id: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
        let _ = (id, until);
        todo!("issue 3: store")
    }

    /// Remove every skip.
    pub fn clear_skips(&self) -> Result<(), StoreError> {
        todo!("issue 3: store")
    }

    /// Service state (key/value): last heartbeat, clean-shutdown marker, ...
    pub fn set_state(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let _ = (key, value);
        todo!("issue 3: store")
    }

    /// Read one service-state value.
    pub fn state(&self, key: &str) -> Result<Option<String>, StoreError> {
        let _ = key;
        todo!("issue 3: store")
    }
}
