//! The database snapshot taken before a switch, and its restore on rollback.
//!
//! A newer build may migrate the schema (`PRAGMA user_version`) and the old build refuses a
//! newer schema, so a rollback puts the database back as it was. Both directions use SQLite's
//! backup API: the copy is consistent while the server writes, and the restore writes into
//! the existing file, which keeps its owner (the server's dynamic user).

use super::UpdateError;
use rusqlite::{Connection, MAIN_DB, OpenFlags};
use std::path::Path;

fn err(what: &str, p: &Path, e: impl std::fmt::Display) -> UpdateError {
    UpdateError::Io(format!("{what} {}: {e}", p.display()))
}

/// The database's `user_version` (`None`: there is no database file).
pub(crate) fn user_version(db: &Path) -> Result<Option<i64>, UpdateError> {
    if !db.exists() {
        return Ok(None);
    }
    let c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| err("opening", db, e))?;
    c.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map(Some)
        .map_err(|e| err("reading user_version of", db, e))
}

/// Copy `db` into `snapshot` (replacing it). No database yet: no snapshot (and any old one
/// is removed, so a rollback never restores a stale one).
pub(crate) fn snapshot(db: &Path, snapshot: &Path) -> Result<bool, UpdateError> {
    let tmp = snapshot.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    if !db.exists() {
        let _ = std::fs::remove_file(snapshot);
        return Ok(false);
    }
    let c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| err("opening", db, e))?;
    c.backup(MAIN_DB, &tmp, None)
        .map_err(|e| err("snapshotting", db, e))?;
    drop(c);
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, snapshot))
        .and_then(|()| super::slots::sync_dir(snapshot.parent().unwrap_or(Path::new("."))))
        .map_err(|e| err("writing", snapshot, e))?;
    Ok(true)
}

/// Write `snapshot` back into `db` (the server is stopped). The files keep their owner; any
/// sidecar SQLite makes while root writes is given the database directory's owner.
pub(crate) fn restore(snapshot: &Path, db: &Path) -> Result<(), UpdateError> {
    if !snapshot.exists() {
        return Err(err("no snapshot at", snapshot, "missing"));
    }
    let mut c = Connection::open(db).map_err(|e| err("opening", db, e))?;
    c.restore(MAIN_DB, snapshot, None::<fn(rusqlite::backup::Progress)>)
        .map_err(|e| err("restoring into", db, e))?;
    // Fold the WAL back into the file so no root-owned sidecar is left behind.
    let _ = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    drop(c);
    if let Some(dir) = db.parent()
        && let Ok(meta) = std::fs::metadata(dir)
    {
        use std::os::unix::fs::MetadataExt;
        for suffix in ["", "-wal", "-shm"] {
            let p = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
            if p.exists() {
                let _ = std::os::unix::fs::chown(&p, Some(meta.uid()), Some(meta.gid()));
            }
        }
    }
    Ok(())
}
