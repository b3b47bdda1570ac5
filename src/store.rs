//! SQLite persistence: the last good occurrence window of every source, skips, service state.
//!
//! Why it exists: "nothing lost". A failed fetch or a `kill -9` must never empty the calendar,
//! so the last good window of each source lives on disk (WAL, one transaction per change) and
//! is served again at once after a restart.
//!
//! # Layout on disk
//! One file, `calendarbot.db`, in the data directory. The schema is versioned with
//! `PRAGMA user_version`: `schema` holds an append-only list of migrations, and every migration
//! that the
//! file has not seen yet runs in one transaction with the version bump. A source's window is
//! rows (one per event's text, one per occurrence; `window`) replaced in one transaction, so a
//! reader (or a restart after `kill -9`) sees either the old window or the new one, never half.
//!
//! # Connections
//! Every connection gets the same PRAGMAs (`schema::configure`): WAL, `synchronous=NORMAL`,
//! `busy_timeout=5000`, `foreign_keys=ON`, a 512 KiB page cache (handed back after each
//! bulk window read or write) and no mmap. Connections come from
//! the optimisation layer's pool ([`crate::pool::sqlite`]: one writer, a few `query_only`
//! readers, or a fresh connection per call when `db_pool` is off or failing); every method
//! names itself as the holder, so a leaked connection is logged with the method's name. Small
//! writes (skips, clearing skips, service state) go through the write batcher
//! ([`crate::batch`]) when `request_batching` is on: one transaction per short
//! window, and the call still returns only once its write is committed.

mod recover;
mod schema;
mod state;
mod window;
pub use recover::open_or_recover;
use schema::{configure, migrate, release_cache};

use crate::batch::Batcher;
use crate::breaker::{Breaker, FallbackSettings, Part};
use crate::ics::Occurrence;
use crate::pool::sqlite::{PoolOptions, PooledConn, SqlitePool, SqliteStats};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "calendarbot.db";

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
        /// What the file system said (missing, not writable, ...).
        source: std::io::Error,
    },
    /// The database file was written by a newer calendarbot.
    #[error(
        "database {path} has schema version {found}, newer than this build understands ({known})"
    )]
    TooNew {
        /// The file.
        path: String,
        /// Its `user_version`.
        found: i64,
        /// The newest version this build knows.
        known: i64,
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

/// Handle to the SQLite database. Cheap to clone (shares one pool).
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    /// One writer and a few readers (or fresh connections: the plain path).
    pool: SqlitePool,
    /// Groups small writes into one transaction per window (`request_batching`).
    batcher: Option<Batcher<WriteOp>>,
    /// Switches the batcher off after repeated failures.
    batch_breaker: Arc<Breaker>,
    /// Stored rows left out because they could not be decoded (see [`Store::load_windows`]).
    undecodable_rows: std::sync::atomic::AtomicU64,
    /// Where an unreadable database file was moved at start ([`open_or_recover`]).
    moved_aside: std::sync::OnceLock<PathBuf>,
}

/// Most skips kept at once. A kiosk skips a few meetings a day for 24 h each; beyond this, the
/// skips that end first are dropped, so a flood of skips cannot grow memory or disk.
pub const MAX_SKIPS: usize = 1000;

/// A small write that may share a transaction with others (see [`crate::batch`]).
/// Every one is idempotent, so applying it twice is harmless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    /// Add or extend a skip.
    AddSkip {
        /// Occurrence id.
        id: String,
        /// When the skip ends.
        until: DateTime<Utc>,
    },
    /// Remove every skip.
    ClearSkips,
    /// Set a service-state value.
    SetState {
        /// Key.
        key: String,
        /// Value.
        value: String,
    },
}

impl WriteOp {
    /// The holder name used for its connection.
    fn holder(&self) -> &'static str {
        match self {
            WriteOp::AddSkip { .. } => "store.add_skip",
            WriteOp::ClearSkips => "store.clear_skips",
            WriteOp::SetState { .. } => "store.set_state",
        }
    }

    fn apply(&self, conn: &Connection) -> Result<(), rusqlite::Error> {
        match self {
            WriteOp::AddSkip { id, until } => {
                conn.execute(
                    "INSERT INTO skips (id, until) VALUES (?1, ?2)
                     ON CONFLICT(id) DO UPDATE SET until = excluded.until",
                    params![id, ts(*until)],
                )?;
                // The cap: this skip stays; of the others, those ending first go first
                // (the same order as `App::skip`).
                conn.execute(
                    "DELETE FROM skips WHERE id <> ?1 AND id NOT IN
                     (SELECT id FROM skips WHERE id <> ?1 ORDER BY until DESC, id ASC LIMIT ?2)",
                    params![id, MAX_SKIPS as i64 - 1],
                )?
            }
            WriteOp::ClearSkips => conn.execute("DELETE FROM skips", [])?,
            WriteOp::SetState { key, value } => conn.execute(
                "INSERT INTO state (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?,
        };
        Ok(())
    }
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn parse_ts(what: &str, s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("{what}: bad timestamp {s:?}: {e}")))
}

fn upsert_source(conn: &Connection, source: &str, s: &SourceState) -> Result<(), rusqlite::Error> {
    conn.execute(
        "INSERT INTO sources (name, etag, last_modified, content_hash, last_success,
                              consecutive_failures, last_error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(name) DO UPDATE SET
            etag = excluded.etag,
            last_modified = excluded.last_modified,
            content_hash = excluded.content_hash,
            last_success = excluded.last_success,
            consecutive_failures = excluded.consecutive_failures,
            last_error = excluded.last_error",
        params![
            source,
            s.etag,
            s.last_modified,
            s.content_hash,
            s.last_success.map(ts),
            s.consecutive_failures,
            s.last_error,
        ],
    )?;
    Ok(())
}

/// Knobs of [`Store::open_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// Upper bound of the database file in bytes (SQLite's `max_page_count`); a write past it
    /// fails like a full disk does. `None`: no bound beyond the disk's.
    pub max_db_bytes: Option<u64>,
    /// The connection pool (`db_pool` flag, sizes, checkout deadline, leak threshold).
    pub pool: PoolOptions,
    /// Write batching window; `None`: every write is its own transaction.
    pub batch_window: Option<std::time::Duration>,
    /// Breaker settings of the pool and the batcher.
    pub fallback: FallbackSettings,
}

impl StoreOptions {
    /// The options `[optimization]` asks for.
    pub fn from_config(c: &crate::config::Config) -> StoreOptions {
        let o = &c.optimization;
        let flags = o.flags();
        StoreOptions {
            max_db_bytes: None,
            pool: PoolOptions {
                enabled: flags.db_pool,
                checkout_timeout: std::time::Duration::from_millis(o.deadline_ms.max(1)),
                ..PoolOptions::default()
            },
            batch_window: flags
                .request_batching
                .then(|| std::time::Duration::from_millis(o.batch_window_ms)),
            fallback: FallbackSettings::from_config(o),
        }
    }
}

impl Store {
    /// Open (creating and migrating) the database in `dir`; the directory is created too.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, &StoreOptions::default())
    }

    /// [`Store::open`] with options.
    pub fn open_with(dir: &Path, opts: &StoreOptions) -> Result<Store, StoreError> {
        let dir_err = |source| StoreError::Dir {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(dir_err)?;
        let meta = std::fs::metadata(dir).map_err(dir_err)?;
        if !meta.is_dir() {
            return Err(dir_err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "not a directory",
            )));
        }
        let path = dir.join(DB_FILE);
        let mut conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        migrate(&mut conn, &path)?;
        let moved = window::upgrade_legacy(&mut conn)?;
        if moved > 0 {
            tracing::info!(windows = moved, "stored windows moved to the row layout");
        }
        // Every connection of the pool gets the same settings, the size bound included
        // (`max_page_count` is per connection).
        let max_db_bytes = opts.max_db_bytes;
        let configure_all: crate::pool::sqlite::Configure = Arc::new(move |c: &Connection| {
            configure(c)?;
            if let Some(max) = max_db_bytes {
                let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
                let pages = (max / page.max(512) as u64).max(1);
                // PRAGMA does not take bound parameters; the value is our own integer.
                let _: i64 = c.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                    r.get(0)
                })?;
            }
            Ok(())
        });
        configure_all(&conn)?;
        let pool = SqlitePool::new(
            &path,
            configure_all,
            Some(conn),
            opts.pool.clone(),
            opts.fallback.breaker(Part::DbPool),
        );
        let batcher = opts.batch_window.map(|window| {
            let pool = pool.clone();
            Batcher::spawn(
                window,
                opts.pool.checkout_timeout,
                64,
                move |ops: &[WriteOp]| {
                    let run = || -> Result<(), rusqlite::Error> {
                        let mut c = pool.writer("store.write_batch")?;
                        let tx = c.transaction()?;
                        for op in ops {
                            op.apply(&tx)?;
                        }
                        tx.commit()
                    };
                    run().map_err(|e| e.to_string())
                },
            )
        });
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                pool,
                batcher,
                batch_breaker: Arc::new(opts.fallback.breaker(Part::Batch)),
                undecodable_rows: Default::default(),
                moved_aside: Default::default(),
            }),
        })
    }

    /// The connection pool's counters.
    pub fn pool_stats(&self) -> SqliteStats {
        self.inner.pool.stats()
    }

    /// The write batcher's counters (`None` when batching is off).
    pub fn batch_stats(&self) -> Option<crate::batch::BatchStats> {
        self.inner.batcher.as_ref().map(Batcher::stats)
    }

    /// The breakers of the pool and the batcher (for the pipeline's reports).
    pub fn breakers(&self) -> Vec<Arc<Breaker>> {
        vec![
            self.inner.pool.breaker().clone(),
            self.inner.batch_breaker.clone(),
        ]
    }

    /// The connection pool (health check, leak check).
    pub fn pool(&self) -> &SqlitePool {
        &self.inner.pool
    }

    /// Apply one small write: through the batcher when it is on and healthy (returns once the
    /// batch has committed), else — or when the batch fails — in its own transaction.
    pub fn write(&self, op: WriteOp) -> Result<(), StoreError> {
        if let Some(b) = &self.inner.batcher
            && self.inner.batch_breaker.allows()
        {
            match b.submit(op.clone()) {
                Ok(()) => {
                    self.inner.batch_breaker.record_success();
                    return Ok(());
                }
                Err(e) => {
                    self.inner.batch_breaker.record_failure(&e.to_string());
                    tracing::warn!(error = %e, op = op.holder(), "write batch failed; writing on the plain path");
                }
            }
        }
        let conn = self.writer(op.holder())?;
        op.apply(&conn)?;
        Ok(())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The writer connection, lent to `holder` (named in leak reports).
    fn writer(&self, holder: &str) -> Result<PooledConn, StoreError> {
        Ok(self.inner.pool.writer(holder)?)
    }

    /// A reader connection (`query_only`), lent to `holder`.
    fn reader(&self, holder: &str) -> Result<PooledConn, StoreError> {
        Ok(self.inner.pool.reader(holder)?)
    }

    /// The last good window of every source.
    ///
    /// An occurrence whose stored text does not decode (invalid UTF-8, say) is left out, not
    /// the whole calendar: counted, warned about, and its source's validators and content
    /// hash cleared so the next fetch parses the feed again and brings it back.
    pub fn load_windows(&self) -> Result<BTreeMap<String, Vec<Occurrence>>, StoreError> {
        let conn = self.reader("store.load_windows")?;
        let read = window::read_all(&conn);
        release_cache(&conn);
        drop(conn);
        let (windows, skipped) = read?;
        for (source, rows) in &skipped {
            tracing::warn!(
                source = %source,
                rows,
                "stored occurrences that cannot be decoded were skipped; the feed is fetched again"
            );
            let cleared = self.writer("store.load_windows").and_then(|c| {
                c.execute(
                    "UPDATE sources SET etag = NULL, last_modified = NULL, content_hash = NULL
                     WHERE name = ?1",
                    params![source],
                )
                .map_err(StoreError::from)
            });
            if let Err(e) = cleared {
                tracing::warn!(source = %source, error = %e, "cannot clear the feed's validators");
            }
        }
        // The latest load's count: the service loads twice at start (hub, refresh seed).
        self.inner.undecodable_rows.store(
            skipped.values().sum::<usize>() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(windows)
    }

    /// Replace one source's window and state in one transaction.
    pub fn save_window(
        &self,
        source: &str,
        state: &SourceState,
        occurrences: &[Occurrence],
    ) -> Result<(), StoreError> {
        let mut conn = self.writer("store.save_window")?;
        let tx = conn.transaction()?;
        upsert_source(&tx, source, state)?;
        window::write(&tx, source, &ts(Utc::now()), occurrences)?;
        tx.commit()?;
        release_cache(&conn);
        Ok(())
    }

    /// Whether a window (possibly empty) is stored for `source`.
    pub fn has_window(&self, source: &str) -> Result<bool, StoreError> {
        let conn = self.reader("store.has_window")?;
        Ok(window::exists(&conn, source)?)
    }

    /// Per-source fetch state.
    pub fn source_state(&self, source: &str) -> Result<Option<SourceState>, StoreError> {
        let conn = self.reader("store.source_state")?;
        let row = conn
            .query_row(
                "SELECT etag, last_modified, content_hash, last_success, consecutive_failures,
                        last_error
                 FROM sources WHERE name = ?1",
                params![source],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<String>>(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((etag, last_modified, content_hash, last_success, failures, last_error)) = row
        else {
            return Ok(None);
        };
        let last_success = last_success
            .map(|s| parse_ts(&format!("last_success of {source:?}"), &s))
            .transpose()?;
        Ok(Some(SourceState {
            etag,
            last_modified,
            content_hash,
            last_success,
            consecutive_failures: u32::try_from(failures.max(0)).unwrap_or(u32::MAX),
            last_error,
        }))
    }

    /// Update per-source fetch state only (a failure, a 304).
    pub fn save_source_state(&self, source: &str, state: &SourceState) -> Result<(), StoreError> {
        let conn = self.writer("store.save_source_state")?;
        upsert_source(&conn, source, state)?;
        Ok(())
    }

    /// Names of every source that has stored state.
    pub fn source_names(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.reader("store.source_names")?;
        let mut stmt = conn.prepare("SELECT name FROM sources ORDER BY name")?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(names)
    }

    /// Forget a source entirely (its state and window), e.g. when it left the configuration.
    pub fn remove_source(&self, source: &str) -> Result<(), StoreError> {
        let conn = self.writer("store.remove_source")?;
        conn.execute("DELETE FROM sources WHERE name = ?1", params![source])?;
        Ok(())
    }

    /// A cheap round trip through SQLite (for health and watchdog probes).
    pub fn ping(&self) -> Result<(), StoreError> {
        let conn = self.reader("store.ping")?;
        conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
        Ok(())
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let conn = self.reader("store.schema_version")?;
        Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests;
