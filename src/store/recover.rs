//! A database file that SQLite cannot read is moved aside, not fatal.
//!
//! Why it exists: the database is a cache of reachable feeds plus skips. A malformed
//! `calendarbot.db` (a torn write on a dying SD card, a copied-over file) used to make every
//! start exit 2, keeping the kiosk down for good. Now the bad file (with its `-wal` and `-shm`)
//! is renamed `calendarbot.db.corrupt-<UTC time>` and kept for diagnosis, the store starts
//! empty, and the refresh fetches everything again. A file written by a newer calendarbot
//! (`TooNew`) and an unusable directory are still refused: neither is corruption.

use super::{DB_FILE, Store, StoreError, StoreOptions};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::path::{Path, PathBuf};

/// What health reports of the database file's condition.
impl Store {
    /// Where an unreadable database file was moved at start, if one was (health shows it).
    pub fn moved_aside(&self) -> Option<&Path> {
        self.inner.moved_aside.get().map(PathBuf::as_path)
    }

    /// Stored rows the latest load left out as undecodable.
    pub fn undecodable_rows(&self) -> u64 {
        self.inner
            .undecodable_rows
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Whether `e` says the file is not a readable database.
fn is_corruption(e: &StoreError) -> bool {
    match e {
        StoreError::Corrupt(_) => true,
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
            matches!(f.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
        }
        _ => false,
    }
}

/// `PRAGMA quick_check` on the file, if it exists: `Err` with what SQLite found.
fn quick_check(path: &Path) -> Result<(), StoreError> {
    if !path.exists() {
        return Ok(());
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let found: String = conn.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if found == "ok" {
        Ok(())
    } else {
        Err(StoreError::Corrupt(format!("quick_check: {found}")))
    }
}

/// Rename the database and its journal files to `<name>.corrupt-<stamp>`; the new name of the
/// database file.
fn move_aside(dir: &Path) -> std::io::Result<PathBuf> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let db = dir.join(DB_FILE);
    let aside = dir.join(format!("{DB_FILE}.corrupt-{stamp}"));
    std::fs::rename(&db, &aside)?;
    for ext in ["-wal", "-shm"] {
        let from = dir.join(format!("{DB_FILE}{ext}"));
        if from.exists() {
            let _ = std::fs::rename(&from, dir.join(format!("{DB_FILE}.corrupt-{stamp}{ext}")));
        }
    }
    Ok(aside)
}

/// [`Store::open_with`], moving an unreadable database aside and starting empty. Returns the
/// store and, when a file was moved, where it went.
pub fn open_or_recover(
    dir: &Path,
    opts: &StoreOptions,
) -> Result<(Store, Option<PathBuf>), StoreError> {
    let first = quick_check(&dir.join(DB_FILE)).and_then(|()| Store::open_with(dir, opts));
    match first {
        Ok(store) => Ok((store, None)),
        Err(e) if is_corruption(&e) => {
            let aside = move_aside(dir).map_err(|source| StoreError::Dir {
                path: dir.display().to_string(),
                source,
            })?;
            tracing::error!(
                error = %e,
                moved_to = %aside.display(),
                "the database cannot be read: moved aside, starting empty, fetching again"
            );
            let store = Store::open_with(dir, opts)?;
            let _ = store.inner.moved_aside.set(aside.clone());
            Ok((store, Some(aside)))
        }
        Err(e) => Err(e),
    }
}
