//! Skips and service state: the small rows of the store (kept apart from `store.rs`, which
//! opens the file and holds the windows' entry points).
//!
//! Why it exists: `store.rs` reached the 600-line limit; these methods share nothing with
//! opening the file or the windows but the pooled connections and the write batcher.

use super::{Store, StoreError, WriteOp, parse_ts, ts};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use std::collections::HashMap;

impl Store {
    /// Skips still active at `now`.
    pub fn load_skips(
        &self,
        now: DateTime<Utc>,
    ) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
        let conn = self.reader("store.load_skips")?;
        let mut stmt = conn.prepare("SELECT id, until FROM skips")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = HashMap::new();
        for row in rows {
            let (id, until) = row?;
            let until = parse_ts(&format!("skip {id:?}"), &until)?;
            if until > now {
                out.insert(id, until);
            }
        }
        Ok(out)
    }

    /// Add or extend a skip.
    pub fn add_skip(&self, id: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
        self.write(WriteOp::AddSkip {
            id: id.to_string(),
            until,
        })
    }

    /// Remove every skip.
    pub fn clear_skips(&self) -> Result<(), StoreError> {
        self.write(WriteOp::ClearSkips)
    }

    /// Drop skips that ended at or before `now`; returns how many were removed.
    pub fn purge_expired_skips(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let conn = self.writer("store.purge_expired_skips")?;
        // Timestamps are stored in one fixed RFC 3339 UTC form, so text order is time order.
        let n = conn.execute("DELETE FROM skips WHERE until <= ?1", params![ts(now)])?;
        Ok(n)
    }

    /// Service state (key/value): last heartbeat, clean-shutdown marker, ...
    pub fn set_state(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.write(WriteOp::SetState {
            key: key.to_string(),
            value: value.to_string(),
        })
    }

    /// Read one service-state value.
    pub fn state(&self, key: &str) -> Result<Option<String>, StoreError> {
        let conn = self.reader("store.state")?;
        let v = conn
            .query_row(
                "SELECT value FROM state WHERE key = ?1",
                params![key],
                |r| r.get::<_, String>(0),
            )
            .optional()?;
        Ok(v)
    }

    /// [`Store::set_state`] at once, on the writer, without waiting for the batch window
    /// (the clean-shutdown marker is written as a restart serves its first answers).
    pub fn set_state_now(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let conn = self.writer("store.set_state_now")?;
        let op = WriteOp::SetState {
            key: key.to_string(),
            value: value.to_string(),
        };
        op.apply(&conn)?;
        Ok(())
    }

    /// Remove one service-state value.
    pub fn delete_state(&self, key: &str) -> Result<(), StoreError> {
        let conn = self.writer("store.delete_state")?;
        conn.execute("DELETE FROM state WHERE key = ?1", params![key])?;
        Ok(())
    }
}
