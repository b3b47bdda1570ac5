//! The database schema and the settings of every connection.
//!
//! Why it exists apart: migrations are append-only and must never change once shipped; keeping
//! them with the PRAGMAs every connection gets, away from the queries, makes both easy to audit.

use super::{StoreError, window};
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// Schema migrations, applied in order; index + 1 is the `user_version` after each one.
/// Append only: never edit a migration that has shipped.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    "CREATE TABLE sources (
        name TEXT PRIMARY KEY NOT NULL,
        etag TEXT,
        last_modified TEXT,
        content_hash TEXT,
        last_success TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    CREATE TABLE occurrences (
        source TEXT PRIMARY KEY NOT NULL REFERENCES sources(name) ON DELETE CASCADE,
        saved_at TEXT NOT NULL,
        count INTEGER NOT NULL,
        data TEXT NOT NULL
    );
    CREATE TABLE skips (
        id TEXT PRIMARY KEY NOT NULL,
        until TEXT NOT NULL
    );
    CREATE TABLE state (
        key TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    );",
    // 2: windows as rows (see [`window`]); schema-1 windows are moved by `window::upgrade_legacy`.
    window::SCHEMA,
    // 3: each event's CLASS and declined attendees (issue #13: privacy and "declined is not
    // a meeting"). Windows stored before know neither, so every feed is parsed again at its
    // next refresh (validators and hash cleared) instead of being taken as unchanged.
    window::ACCESS_COLUMNS,
];

/// Apply the per-connection settings every connection must have. The WAL is checkpointed
/// every 256 pages (1 MiB) rather than SQLite's 1000, and truncated back to 1 MiB after a
/// checkpoint: a kiosk whose feed changes often keeps a small WAL on its SD card
/// (`ci/soak.sh` watches the database and WAL size).
pub(super) fn configure(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.busy_timeout(Duration::from_millis(5000))?;
    // journal_mode returns a row; query it rather than execute.
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "SQLite refused WAL mode; continuing with {mode}");
    }
    conn.execute_batch(
        "PRAGMA synchronous=NORMAL;
         PRAGMA foreign_keys=ON;
         PRAGMA cache_size=-512;
         PRAGMA mmap_size=0;
         PRAGMA temp_store=MEMORY;
         PRAGMA wal_autocheckpoint=256;
         PRAGMA journal_size_limit=1048576;",
    )?;
    Ok(())
}

/// Hand a connection's page cache back after a bulk read or write of a window (megabytes of
/// pages nothing will read again soon; resident memory is what the cgroup limit counts).
pub(super) fn release_cache(conn: &Connection) {
    if let Err(e) = conn.execute_batch("PRAGMA shrink_memory") {
        tracing::debug!(error = %e, "PRAGMA shrink_memory failed");
    }
}

/// Bring the schema up to date; refuse a file from a newer build.
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let known = MIGRATIONS.len() as i64;
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > known {
        return Err(StoreError::TooNew {
            path: path.display().to_string(),
            found: current,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        // PRAGMA does not take bound parameters; the value is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
        tracing::info!(version = i + 1, "database schema migrated");
    }
    Ok(())
}

impl super::Store {
    /// Merge the write-ahead log into the database file and truncate it (clean shutdown:
    /// a copied or backed-up `calendarbot.db` is then complete on its own).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let conn = self.writer("store.checkpoint")?;
        let (busy, _, _): (i64, i64, i64) =
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        if busy != 0 {
            tracing::warn!("WAL checkpoint at shutdown could not complete (a reader was busy)");
        }
        Ok(())
    }
}
