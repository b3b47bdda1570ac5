//! How a source's occurrence window is laid out in SQLite: rows, written and read as a stream.
//!
//! Why it exists: the first layout kept a window as one JSON array in one row. On the
//! 3,000-event benchmark feed that is a 12 MB string built in memory on every refresh and
//! parsed back on every start (VmHWM 70 MB just to restart), with each occurrence carrying its
//! own copy of its event's description and attendees. Here an event's text is one
//! `window_details` row, and each occurrence one small `window_occurrences` row pointing at it:
//! writing is a prepared INSERT per row inside the caller's transaction (so a reader, or a
//! restart after `kill -9`, still sees the old window or the new one, never half), reading
//! rebuilds exactly one shared [`Details`] per event.
//!
//! Times are integers: a timed value is Unix seconds (UTC; the engine never produces
//! fractions), an all-day value is days since 1970-01-01, flagged by `all_day`.

use super::StoreError;
use crate::ics::{Class, Details, EventText, Occurrence, Status, When};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Schema of the row layout (migration 2). The legacy `occurrences` table stays, emptied by
/// [`upgrade_legacy`].
pub(super) const SCHEMA: &str = "
    CREATE TABLE windows (
        source TEXT PRIMARY KEY NOT NULL REFERENCES sources(name) ON DELETE CASCADE,
        saved_at TEXT NOT NULL,
        count INTEGER NOT NULL
    );
    CREATE TABLE window_details (
        source TEXT NOT NULL REFERENCES windows(source) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        uid TEXT NOT NULL,
        subject TEXT NOT NULL,
        description TEXT NOT NULL,
        location TEXT NOT NULL,
        attendees TEXT NOT NULL,
        organizer TEXT,
        PRIMARY KEY (source, idx)
    ) WITHOUT ROWID;
    CREATE TABLE window_occurrences (
        source TEXT NOT NULL REFERENCES windows(source) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        details INTEGER NOT NULL,
        expanded INTEGER NOT NULL,
        all_day INTEGER NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        status TEXT NOT NULL,
        recurring INTEGER NOT NULL,
        PRIMARY KEY (source, seq)
    ) WITHOUT ROWID;";

/// Migration 3: CLASS and declined attendees (`\n`-joined lower-case addresses) per event.
pub(super) const ACCESS_COLUMNS: &str = "
    ALTER TABLE window_details ADD COLUMN class TEXT NOT NULL DEFAULT 'public';
    ALTER TABLE window_details ADD COLUMN declined TEXT NOT NULL DEFAULT '';
    UPDATE sources SET content_hash = NULL, etag = NULL, last_modified = NULL;";

/// Replace `source`'s window inside `tx` (the caller commits). The `sources` row must exist.
pub(super) fn write(
    tx: &Transaction<'_>,
    source: &str,
    saved_at: &str,
    occurrences: &[Occurrence],
) -> Result<(), rusqlite::Error> {
    // The cascade removes the old rows of both child tables.
    tx.execute("DELETE FROM windows WHERE source = ?1", params![source])?;
    tx.execute(
        "INSERT INTO windows (source, saved_at, count) VALUES (?1, ?2, ?3)",
        params![source, saved_at, occurrences.len() as i64],
    )?;
    let mut details = tx.prepare(
        "INSERT INTO window_details
            (source, idx, uid, subject, description, location, attendees, organizer, class,
             declined)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut occ = tx.prepare(
        "INSERT INTO window_occurrences
            (source, seq, details, expanded, all_day, start, end, status, recurring)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    // One details row per shared `Details` (pointer identity: the engine shares one per VEVENT).
    let mut index: HashMap<*const Details, i64> = HashMap::new();
    for (seq, o) in occurrences.iter().enumerate() {
        let next = index.len() as i64;
        let idx = *index.entry(Arc::as_ptr(&o.details)).or_insert_with(|| next);
        if idx == next {
            let d = &o.details;
            let attendees = serde_json::to_string(&d.attendees().collect::<Vec<_>>())
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            details.execute(params![
                source,
                idx,
                d.uid(),
                d.subject(),
                d.description(),
                d.location(),
                attendees,
                d.organizer(),
                class_name(d.class()),
                d.declined_by().collect::<Vec<_>>().join("\n"),
            ])?;
        }
        let (all_day, start, end) = encode_span(o.start, o.end);
        occ.execute(params![
            source,
            seq as i64,
            idx,
            o.expanded,
            all_day,
            start,
            end,
            status_name(o.status),
            o.recurring
        ])?;
    }
    Ok(())
}

/// Every stored window, by source, in stored order, and per source how many rows could not
/// be decoded (an invalid UTF-8 subject, say): those occurrences are left out, the rest kept.
pub(super) type Windows = (BTreeMap<String, Vec<Occurrence>>, BTreeMap<String, usize>);

/// Every stored window (see [`Windows`]).
pub(super) fn read_all(conn: &Connection) -> Result<Windows, StoreError> {
    let mut out = BTreeMap::new();
    let mut skipped = BTreeMap::new();
    let sources: Vec<(String, i64)> = conn
        .prepare("SELECT source, count FROM windows ORDER BY source")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (source, count) in sources {
        let (list, bad) = read_one(conn, &source, count)?;
        if bad > 0 {
            skipped.insert(source.clone(), bad);
        }
        out.insert(source, list);
    }
    Ok((out, skipped))
}

/// One details row, or `None` when a cell does not decode.
fn read_details(r: &rusqlite::Row<'_>) -> Option<Details> {
    let attendees: String = r.get(5).ok()?;
    let attendees = serde_json::from_str(&attendees).ok()?;
    let class = class_from_name(&r.get::<_, String>(7).ok()?);
    let declined: String = r.get(8).ok()?;
    Some(
        Details::from(EventText {
            uid: r.get(1).ok()?,
            subject: r.get(2).ok()?,
            description: r.get(3).ok()?,
            location: r.get(4).ok()?,
            attendees,
            organizer: r.get(6).ok()?,
        })
        .with_access(class, declined.split('\n')),
    )
}

fn read_one(
    conn: &Connection,
    source: &str,
    count: i64,
) -> Result<(Vec<Occurrence>, usize), StoreError> {
    let corrupt =
        |what: String| StoreError::Corrupt(format!("window of source {source:?}: {what}"));
    let mut details: Vec<Option<Arc<Details>>> = Vec::new();
    let mut bad = 0;
    let mut stmt = conn.prepare(
        "SELECT idx, uid, subject, description, location, attendees, organizer, class, declined
         FROM window_details WHERE source = ?1 ORDER BY idx",
    )?;
    let mut rows = stmt.query(params![source])?;
    while let Some(r) = rows.next()? {
        let idx: i64 = r.get(0)?;
        if idx != details.len() as i64 {
            return Err(corrupt(format!("details row {idx} out of sequence")));
        }
        details.push(read_details(r).map(Arc::new));
    }
    let mut list = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut stmt = conn.prepare(
        "SELECT details, expanded, all_day, start, end, status, recurring, seq
         FROM window_occurrences WHERE source = ?1 ORDER BY seq",
    )?;
    let mut rows = stmt.query(params![source])?;
    while let Some(r) = rows.next()? {
        let idx: i64 = r.get(0)?;
        let d = usize::try_from(idx)
            .ok()
            .and_then(|i| details.get(i))
            .ok_or_else(|| corrupt(format!("occurrence points at missing details row {idx}")))?;
        let Some(d) = d else {
            bad += 1;
            continue;
        };
        let seq: i64 = r.get(7)?;
        let (start, end) = decode_span(r.get(2)?, r.get(3)?, r.get(4)?)
            .ok_or_else(|| corrupt(format!("occurrence {seq} has times out of range")))?;
        let status: String = r.get(5)?;
        let status = status_from_name(&status)
            .ok_or_else(|| corrupt(format!("occurrence {seq} has unknown status {status:?}")))?;
        list.push(Occurrence {
            details: Arc::clone(d),
            start,
            end,
            status,
            recurring: r.get(6)?,
            expanded: r.get(1)?,
        });
    }
    if (list.len() + bad) as i64 != count {
        return Err(corrupt(format!(
            "{} occurrences stored, {count} expected",
            list.len() + bad
        )));
    }
    Ok((list, bad))
}

impl super::Store {
    /// The near part of every stored window: the occurrences overlapping `[from, to)` (all-day
    /// ones by date, with a day of slack for the zone), in stored order, with only the text
    /// they use. A restart answers from it before the whole window is read (issue #16).
    /// Rows that do not decode are left out here; [`super::Store::load_windows`] counts them.
    pub fn load_windows_near(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BTreeMap<String, Vec<Occurrence>>, StoreError> {
        let conn = self.reader("store.load_windows_near")?;
        let read = read_near(&conn, from, to);
        super::release_cache(&conn);
        read
    }

    /// How many occurrences each stored window holds (without reading them).
    pub fn window_counts(&self) -> Result<BTreeMap<String, usize>, StoreError> {
        let conn = self.reader("store.window_counts")?;
        let mut stmt = conn.prepare("SELECT source, count FROM windows")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (source, count) = row?;
            out.insert(source, usize::try_from(count).unwrap_or(0));
        }
        Ok(out)
    }
}

fn read_near(
    conn: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<BTreeMap<String, Vec<Occurrence>>, StoreError> {
    let (from_ts, to_ts) = (from.timestamp(), to.timestamp());
    let from_day = (from.date_naive() - EPOCH).num_days() - 1;
    let to_day = (to.date_naive() - EPOCH).num_days() + 1;
    const NEAR: &str = "source = ?1 AND ((all_day = 0 AND start < ?3 AND end >= ?2)
                         OR (all_day = 1 AND start < ?5 AND end >= ?4))";
    let mut out = BTreeMap::new();
    let sources: Vec<String> = conn
        .prepare("SELECT source FROM windows ORDER BY source")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for source in sources {
        let args = params![source, from_ts, to_ts, from_day, to_day];
        let mut details: HashMap<i64, Arc<Details>> = HashMap::new();
        let mut stmt = conn.prepare(&format!(
            "SELECT idx, uid, subject, description, location, attendees, organizer, class,
                    declined
             FROM window_details WHERE source = ?1 AND idx IN
             (SELECT details FROM window_occurrences WHERE {NEAR})"
        ))?;
        let mut rows = stmt.query(args)?;
        while let Some(r) = rows.next()? {
            if let Some(d) = read_details(r) {
                details.insert(r.get(0)?, Arc::new(d));
            }
        }
        let mut stmt = conn.prepare(&format!(
            "SELECT details, expanded, all_day, start, end, status, recurring
             FROM window_occurrences WHERE {NEAR} ORDER BY seq"
        ))?;
        let mut rows = stmt.query(args)?;
        let mut list = Vec::new();
        while let Some(r) = rows.next()? {
            let Some(d) = details.get(&r.get::<_, i64>(0)?) else {
                continue;
            };
            let Some((start, end)) = decode_span(r.get(2)?, r.get(3)?, r.get(4)?) else {
                continue;
            };
            let status: String = r.get(5)?;
            let Some(status) = status_from_name(&status) else {
                continue;
            };
            list.push(Occurrence {
                details: Arc::clone(d),
                start,
                end,
                status,
                recurring: r.get(6)?,
                expanded: r.get(1)?,
            });
        }
        out.insert(source, list);
    }
    Ok(out)
}

/// Whether a window (possibly empty) is stored for `source`.
pub(super) fn exists(conn: &Connection, source: &str) -> Result<bool, rusqlite::Error> {
    conn.query_row(
        "SELECT 1 FROM windows WHERE source = ?1",
        params![source],
        |_| Ok(()),
    )
    .optional()
    .map(|r| r.is_some())
}

/// Move windows saved by the JSON layout (schema 1) into rows, in one transaction, so an
/// upgraded kiosk whose feed is down still shows its last good calendar. Returns how many
/// windows were moved. A window that cannot be decoded is dropped with a warning, and its
/// source's content hash cleared so the next fetch parses the feed again instead of taking it
/// as "unchanged" and leaving the calendar empty.
pub(super) fn upgrade_legacy(conn: &mut Connection) -> Result<usize, StoreError> {
    let tx = conn.transaction()?;
    let legacy: Vec<(String, String, String)> = tx
        .prepare("SELECT source, saved_at, data FROM occurrences")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut moved = 0;
    for (source, saved_at, data) in legacy {
        match serde_json::from_str::<Vec<LegacyOccurrence>>(&data) {
            Ok(old) => {
                let list: Vec<Occurrence> =
                    old.into_iter().map(LegacyOccurrence::into_new).collect();
                write(&tx, &source, &saved_at, &list)?;
                moved += 1;
            }
            Err(e) => {
                tracing::warn!(source, error = %e, "stored window (old layout) cannot be decoded; dropped");
                tx.execute(
                    "UPDATE sources SET content_hash = NULL, etag = NULL, last_modified = NULL
                     WHERE name = ?1",
                    params![source],
                )?;
            }
        }
        tx.execute("DELETE FROM occurrences WHERE source = ?1", params![source])?;
    }
    tx.commit()?;
    Ok(moved)
}

/// An occurrence as the JSON layout (schema 1) stored it.
#[derive(serde::Deserialize)]
struct LegacyOccurrence {
    uid: String,
    id: String,
    subject: String,
    description: String,
    location: String,
    start: When,
    end: When,
    status: Status,
    attendees: Vec<String>,
    organizer: Option<String>,
    recurring: bool,
}

impl LegacyOccurrence {
    fn into_new(self) -> Occurrence {
        // The JSON layout stored ids; an expanded occurrence's id was its UID plus its start.
        let expanded = self.id != self.uid;
        Occurrence {
            details: Arc::new(Details::from(EventText {
                uid: self.uid,
                subject: self.subject,
                description: self.description,
                location: self.location,
                attendees: self.attendees,
                organizer: self.organizer,
            })),
            start: self.start,
            end: self.end,
            status: self.status,
            recurring: self.recurring,
            expanded,
        }
    }
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

fn encode_when(w: When) -> i64 {
    match w {
        When::Timed(t) => t.timestamp(),
        When::AllDay(d) => (d - EPOCH).num_days(),
    }
}

/// `(all_day, start, end)`; the engine never mixes kinds within one occurrence.
fn encode_span(start: When, end: When) -> (bool, i64, i64) {
    (
        matches!(start, When::AllDay(_)),
        encode_when(start),
        encode_when(end),
    )
}

fn decode_span(all_day: bool, start: i64, end: i64) -> Option<(When, When)> {
    let one = |v: i64| -> Option<When> {
        if all_day {
            EPOCH
                .checked_add_signed(chrono::Duration::try_days(v)?)
                .map(When::AllDay)
        } else {
            DateTime::<Utc>::from_timestamp(v, 0).map(When::Timed)
        }
    };
    Some((one(start)?, one(end)?))
}

fn class_name(c: Class) -> &'static str {
    match c {
        Class::Public => "public",
        Class::Private => "private",
        Class::Confidential => "confidential",
    }
}

/// An unknown class (written by a newer build) is read as private: shown as busy at worst.
fn class_from_name(s: &str) -> Class {
    match s {
        "public" => Class::Public,
        "confidential" => Class::Confidential,
        _ => Class::Private,
    }
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Busy => "busy",
        Status::Tentative => "tentative",
        Status::Free => "free",
        Status::Cancelled => "cancelled",
        Status::Declined => "declined",
    }
}

fn status_from_name(s: &str) -> Option<Status> {
    Some(match s {
        "busy" => Status::Busy,
        "tentative" => Status::Tentative,
        "free" => Status::Free,
        "cancelled" => Status::Cancelled,
        "declined" => Status::Declined,
        _ => return None,
    })
}
