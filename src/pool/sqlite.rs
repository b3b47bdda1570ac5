//! The SQLite pool: one writer connection and a few reader connections, in WAL mode.
//!
//! Why it exists: SQLite allows one writer at a time but, in WAL mode, any number of readers
//! beside it. A single connection behind a mutex makes a health check or a skip wait behind a
//! whole-feed `save_window`; a pool of one writer plus readers lets reads go on while a refresh
//! writes, and reuses connections (their page cache and prepared statements) instead of
//! opening the file per call.
//!
//! Why hand-written and not r2d2 / deadpool-sqlite: both pin rusqlite 0.40 like we do, but r2d2
//! is dormant (2022) and has no writer/reader split, and deadpool is async-only while every
//! SQLite call here already runs on a blocking thread (`spawn_blocking` or the batcher's
//! thread). What we need — two fixed-size slot sets, a checkout deadline, the holder's name on
//! every lease, counters — is ~200 lines on `Mutex` + `Condvar`.
//!
//! The plain path ([`SqlitePool::fresh`]) opens a new, fully configured connection per call;
//! it is what runs when `db_pool` is off, when the pool's breaker is open, and when a checkout
//! fails or passes its deadline ([`SqlitePool::reader`] / [`SqlitePool::writer`] do that
//! fallback themselves, so callers never see a pool failure).
//!
//! Every connection gets the caller's `configure` (WAL, `busy_timeout`, ...); readers also get
//! `PRAGMA query_only=ON`, so a write through a reader fails loudly instead of racing the writer.

use super::leak::Leases;
use crate::breaker::Breaker;
use crate::fault::{self, Fault};
use rusqlite::{Connection, OpenFlags};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The per-connection settings every connection must have (WAL, busy_timeout, ...).
pub(crate) type Configure = Arc<dyn Fn(&Connection) -> rusqlite::Result<()> + Send + Sync>;

/// Why the pool could not hand out a connection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PoolError {
    /// Every connection stayed busy past the checkout deadline.
    #[error("no {role} connection free within {waited_ms} ms")]
    Timeout {
        /// "writer" or "reader".
        role: &'static str,
        /// How long the caller waited.
        waited_ms: u64,
    },
    /// Opening or configuring a connection failed.
    #[error("opening a {role} connection: {source}")]
    Open {
        /// "writer" or "reader".
        role: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A test fault (`fail-db-pool`).
    #[error("injected fault: fail-db-pool")]
    Injected,
}

/// Pool sizes and deadlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// Reader connections at most (opened lazily).
    pub readers: usize,
    /// How long a checkout may wait for a free connection before the plain path takes over.
    pub checkout_timeout: Duration,
    /// A connection held longer than this is logged with its holder.
    pub leak_threshold: Duration,
    /// Whether the pool is used at all (`[optimization] db_pool` and `enabled`).
    pub enabled: bool,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            readers: 2,
            checkout_timeout: Duration::from_millis(250),
            leak_threshold: Duration::from_secs(5),
            enabled: true,
        }
    }
}

/// Counters of one slot set, as reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SlotStats {
    /// Connections this set may hold.
    pub capacity: usize,
    /// Connections opened so far (≤ capacity).
    pub open: usize,
    /// Connections handed out right now.
    pub in_use: usize,
    /// Checkouts since start.
    pub checkouts: u64,
    /// Checkouts that had to wait for a connection.
    pub waits: u64,
    /// Total time spent waiting, milliseconds.
    pub wait_ms_total: u64,
    /// Checkouts that gave up at the deadline.
    pub timeouts: u64,
    /// Checkouts that failed (open error, injected fault).
    pub failures: u64,
}

/// The pool's counters, as reported by `/api/status/optimization` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SqliteStats {
    /// Whether the pool is in use (flag on, breaker closed).
    pub enabled: bool,
    /// The breaker's state: closed, open, half_open.
    pub breaker: &'static str,
    /// The writer slot.
    pub writer: SlotStats,
    /// The reader slots.
    pub readers: SlotStats,
    /// Fresh connections opened by the plain path.
    pub fresh_connections: u64,
    /// Leases held right now (pooled and fresh).
    pub held: usize,
    /// Leases reported as held past the leak threshold.
    pub leaks_reported: u64,
}

#[derive(Debug)]
struct Slots {
    role: &'static str,
    capacity: usize,
    idle: Mutex<Vec<Connection>>,
    cv: Condvar,
    open: AtomicUsize,
    in_use: AtomicUsize,
    checkouts: AtomicU64,
    waits: AtomicU64,
    wait_us: AtomicU64,
    timeouts: AtomicU64,
    failures: AtomicU64,
}

impl Slots {
    fn new(role: &'static str, capacity: usize) -> Self {
        Slots {
            role,
            capacity: capacity.max(1),
            idle: Mutex::new(Vec::new()),
            cv: Condvar::new(),
            open: AtomicUsize::new(0),
            in_use: AtomicUsize::new(0),
            checkouts: AtomicU64::new(0),
            waits: AtomicU64::new(0),
            wait_us: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    fn stats(&self) -> SlotStats {
        SlotStats {
            capacity: self.capacity,
            open: self.open.load(Ordering::Relaxed),
            in_use: self.in_use.load(Ordering::Relaxed),
            checkouts: self.checkouts.load(Ordering::Relaxed),
            waits: self.waits.load(Ordering::Relaxed),
            wait_ms_total: self.wait_us.load(Ordering::Relaxed) / 1000,
            timeouts: self.timeouts.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }
}

struct Inner {
    path: PathBuf,
    configure: Configure,
    writer: Slots,
    readers: Slots,
    leases: Leases,
    breaker: Arc<Breaker>,
    opts: PoolOptions,
    fresh: AtomicU64,
}

/// One writer and a few readers on one database file. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqlitePool {
    inner: Arc<Inner>,
}

/// Which connection a caller wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Writer,
    Reader,
}

/// A connection lent by the pool (or opened fresh by the plain path). Derefs to
/// [`Connection`]; given back (or closed, if fresh) on drop.
pub struct PooledConn {
    conn: Option<Connection>,
    /// `None`: a fresh connection (plain path), closed on drop.
    home: Option<(Arc<Inner>, Role)>,
    pool: Arc<Inner>,
    lease: u64,
}

impl std::fmt::Debug for PooledConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledConn")
            .field("pooled", &self.home.is_some())
            .field("lease", &self.lease)
            .finish()
    }
}

impl PooledConn {
    /// Whether this connection came from the pool (false: plain path, fresh connection).
    pub fn is_pooled(&self) -> bool {
        self.home.is_some()
    }
}

impl Deref for PooledConn {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        self.pool.leases.release(self.lease);
        let Some(conn) = self.conn.take() else { return };
        if let Some((inner, role)) = self.home.take() {
            let slots = inner.slots(role);
            slots.in_use.fetch_sub(1, Ordering::Relaxed);
            if conn.is_autocommit() {
                slots
                    .idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(conn);
            } else {
                // A transaction left open by a panicking holder: drop the connection (SQLite
                // rolls back) and let the slot be reopened.
                tracing::warn!(
                    role = slots.role,
                    "pooled connection returned inside a transaction; closing it"
                );
                slots.open.fetch_sub(1, Ordering::Relaxed);
                drop(conn);
            }
            slots.cv.notify_one();
        }
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlitePool")
            .field("path", &self.path)
            .field("opts", &self.opts)
            .finish()
    }
}

impl Inner {
    fn slots(&self, role: Role) -> &Slots {
        match role {
            Role::Writer => &self.writer,
            Role::Reader => &self.readers,
        }
    }

    fn open(&self, role: Role) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        (self.configure)(&conn)?;
        if role == Role::Reader {
            conn.execute_batch("PRAGMA query_only=ON;")?;
        }
        Ok(conn)
    }
}

impl SqlitePool {
    /// A pool on the database at `path` (already created and migrated). `first_writer`, if
    /// given, becomes the writer connection (the one that ran the migrations).
    pub fn new(
        path: &Path,
        configure: Configure,
        first_writer: Option<Connection>,
        opts: PoolOptions,
        breaker: Breaker,
    ) -> Self {
        let inner = Inner {
            path: path.to_path_buf(),
            configure,
            writer: Slots::new("writer", 1),
            readers: Slots::new("reader", opts.readers),
            leases: Leases::default(),
            breaker: Arc::new(breaker),
            opts,
            fresh: AtomicU64::new(0),
        };
        if let Some(c) = first_writer {
            inner.writer.open.store(1, Ordering::Relaxed);
            inner
                .writer
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(c);
        }
        SqlitePool {
            inner: Arc::new(inner),
        }
    }

    /// Memory pressure: close the idle reader connections (each holds its own page cache);
    /// they are opened again when needed. The writer stays. Returns how many were closed.
    pub fn close_idle_readers(&self) -> usize {
        let slots = &self.inner.readers;
        let idle: Vec<Connection> = {
            let mut guard = slots.idle.lock().unwrap_or_else(|e| e.into_inner());
            let idle = std::mem::take(&mut *guard);
            // Under the lock, as checkouts count open slots under it.
            slots.open.fetch_sub(idle.len(), Ordering::Relaxed);
            idle
        };
        let n = idle.len();
        drop(idle);
        n
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// A connection for writing, named after its `holder`: the pooled writer, or a fresh
    /// connection when the pool is off, its breaker is open, or the checkout fails.
    pub fn writer(&self, holder: &str) -> rusqlite::Result<PooledConn> {
        self.get(Role::Writer, holder)
    }

    /// A connection for reading (`query_only`), named after its `holder`; plain path as for
    /// [`SqlitePool::writer`].
    pub fn reader(&self, holder: &str) -> rusqlite::Result<PooledConn> {
        self.get(Role::Reader, holder)
    }

    fn get(&self, role: Role, holder: &str) -> rusqlite::Result<PooledConn> {
        if self.inner.opts.enabled && self.inner.breaker.allows() {
            match self.checkout(role, holder, self.inner.opts.checkout_timeout) {
                Ok(c) => {
                    self.inner.breaker.record_success();
                    return Ok(c);
                }
                Err(e) => {
                    tracing::warn!(holder, error = %e, "SQLite pool failed; fresh connection (plain path)");
                    self.inner.breaker.record_failure(&e.to_string());
                }
            }
        }
        self.fresh(holder)
    }

    /// The plain path: a new, configured connection, closed when dropped.
    pub fn fresh(&self, holder: &str) -> rusqlite::Result<PooledConn> {
        let conn = self.inner.open(Role::Writer)?;
        self.inner.fresh.fetch_add(1, Ordering::Relaxed);
        Ok(PooledConn {
            conn: Some(conn),
            home: None,
            pool: self.inner.clone(),
            lease: self.inner.leases.acquire(holder),
        })
    }

    /// Take a pooled connection, waiting at most `timeout` for one to be free.
    fn checkout(
        &self,
        role: Role,
        holder: &str,
        timeout: Duration,
    ) -> Result<PooledConn, PoolError> {
        let inner = &self.inner;
        let slots = inner.slots(role);
        slots.checkouts.fetch_add(1, Ordering::Relaxed);
        if fault::active(Fault::FailDbPool) {
            slots.failures.fetch_add(1, Ordering::Relaxed);
            return Err(PoolError::Injected);
        }
        let start = Instant::now();
        let mut waited = false;
        let mut idle = slots.idle.lock().unwrap_or_else(|e| e.into_inner());
        let conn = loop {
            if let Some(c) = idle.pop() {
                break c;
            }
            if slots.open.load(Ordering::Relaxed) < slots.capacity {
                slots.open.fetch_add(1, Ordering::Relaxed);
                drop(idle);
                match inner.open(role) {
                    Ok(c) => break c,
                    Err(source) => {
                        slots.open.fetch_sub(1, Ordering::Relaxed);
                        slots.failures.fetch_add(1, Ordering::Relaxed);
                        return Err(PoolError::Open {
                            role: slots.role,
                            source,
                        });
                    }
                }
            }
            let elapsed = start.elapsed();
            if elapsed >= timeout {
                slots.timeouts.fetch_add(1, Ordering::Relaxed);
                slots
                    .wait_us
                    .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
                return Err(PoolError::Timeout {
                    role: slots.role,
                    waited_ms: elapsed.as_millis() as u64,
                });
            }
            waited = true;
            idle = slots
                .cv
                .wait_timeout(idle, timeout - elapsed)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        };
        if waited {
            slots.waits.fetch_add(1, Ordering::Relaxed);
            slots
                .wait_us
                .fetch_add(start.elapsed().as_micros() as u64, Ordering::Relaxed);
        }
        slots.in_use.fetch_add(1, Ordering::Relaxed);
        Ok(PooledConn {
            conn: Some(conn),
            home: Some((inner.clone(), role)),
            pool: inner.clone(),
            lease: inner.leases.acquire(holder),
        })
    }

    /// Health check: a reader answers `SELECT 1` (through the pool when it is on).
    pub fn health_check(&self) -> rusqlite::Result<()> {
        let c = self.reader("pool.health_check")?;
        c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
        Ok(())
    }

    /// Log connections held past the leak threshold (each once); returns how many were new.
    pub fn check_leaks(&self) -> usize {
        self.inner
            .leases
            .report_overdue("sqlite", self.inner.opts.leak_threshold)
    }

    /// The leak threshold.
    pub fn leak_threshold(&self) -> Duration {
        self.inner.opts.leak_threshold
    }

    /// Holders of connections held past the leak threshold right now.
    pub fn overdue_holders(&self) -> Vec<String> {
        self.inner
            .leases
            .overdue(self.inner.opts.leak_threshold)
            .into_iter()
            .map(|l| l.holder)
            .collect()
    }

    /// Counters.
    pub fn stats(&self) -> SqliteStats {
        let i = &self.inner;
        SqliteStats {
            enabled: i.opts.enabled && i.breaker.allows(),
            breaker: i.breaker.state().name(),
            writer: i.writer.stats(),
            readers: i.readers.stats(),
            fresh_connections: i.fresh.load(Ordering::Relaxed),
            held: i.leases.held(),
            leaks_reported: i.leases.leaks_reported(),
        }
    }

    /// The pool's breaker (for reports).
    pub fn breaker(&self) -> &Arc<Breaker> {
        &self.inner.breaker
    }
}

#[cfg(test)]
mod tests;
