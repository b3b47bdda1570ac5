//! The SQLite store on a real file in a temporary directory:
//! - windows, source state, skips and service state survive closing and reopening the file;
//! - reopening an existing file does not re-run migrations or lose data;
//! - a corrupt window row is a clear `StoreError::Corrupt` naming the source, not a panic;
//! - the occurrences of one series share one copy of its text after a reload;
//! - a file written by the JSON layout (schema 1) is upgraded: its windows move to rows, an
//!   undecodable one is dropped and its content hash cleared so the feed is parsed again;
//! - one undecodable cell (an invalid UTF-8 subject, broken attendees) leaves out its
//!   occurrences only: the rest loads, the rows are counted, and the feed's validators and
//!   content hash are cleared so the next fetch brings them back;
//! - a file that is not a database is a clear error at open; `open_or_recover` moves it (and a
//!   malformed one) aside, keeps it, and starts empty; the real binary over a garbage file
//!   starts and serves the feed, and health names the moved file; over a poisoned row it
//!   serves the rest and health counts the row (`data_status.database_rows_skipped`);
//! - a data directory that cannot be a directory is a clear `StoreError::Dir` naming it;
//! - an event's CLASS and declined attendees, and the `declined` status, survive a reopen
//!   (migration 3);
//! - a full disk (a database size bound) is a clear error, and the previous window survives.

mod support;

use calendarbot::ics::{Class, Details, EventText, Occurrence, Status, When};
use calendarbot::store::{DB_FILE, SourceState, Store, StoreError, StoreOptions, open_or_recover};
use chrono::{Duration, TimeZone, Utc};
use std::sync::Arc;

fn occ(id: &str, hour: u32, description: &str) -> Occurrence {
    let start = Utc.with_ymd_and_hms(2025, 11, 5, hour, 0, 0).unwrap();
    Occurrence {
        details: Arc::new(Details::from(EventText {
            uid: id.into(),
            subject: format!("Meeting {id}"),
            description: description.into(),
            location: "Room 1".into(),
            attendees: vec!["a@example.com".into()],
            organizer: Some("boss@example.com".into()),
        })),
        start: When::Timed(start),
        end: When::Timed(start + Duration::minutes(30)),
        status: Status::Busy,
        recurring: true,
        expanded: false,
    }
}

fn all_day(id: &str) -> Occurrence {
    let d = chrono::NaiveDate::from_ymd_opt(2025, 11, 6).unwrap();
    Occurrence {
        start: When::AllDay(d),
        end: When::AllDay(d.succ_opt().unwrap()),
        status: Status::Tentative,
        ..occ(id, 0, "")
    }
}

#[test]
fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc.with_ymd_and_hms(2025, 11, 5, 8, 0, 0).unwrap();
    let state = SourceState {
        etag: Some("\"abc\"".into()),
        last_modified: Some("Wed, 05 Nov 2025 07:00:00 GMT".into()),
        content_hash: Some("deadbeef".into()),
        last_success: Some(now),
        consecutive_failures: 0,
        last_error: None,
    };
    let window = vec![occ("a", 9, "Ünïcode ✓"), all_day("b")];
    {
        let store = Store::open(dir.path()).unwrap();
        store.save_window("work", &state, &window).unwrap();
        store.add_skip("a", now + Duration::hours(24)).unwrap();
        store.set_state("last_heartbeat", "x").unwrap();
    }
    assert!(dir.path().join(DB_FILE).exists());
    let store = Store::open(dir.path()).unwrap();
    let w = store.load_windows().unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(w["work"], window);
    assert_eq!(store.source_state("work").unwrap(), Some(state));
    let skips = store.load_skips(now).unwrap();
    assert_eq!(skips["a"], now + Duration::hours(24));
    assert!(
        store
            .load_skips(now + Duration::hours(25))
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.state("last_heartbeat").unwrap().as_deref(), Some("x"));
    assert_eq!(store.schema_version().unwrap(), 3);
}

#[test]
fn data_dir_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/c");
    let store = Store::open(&nested).unwrap();
    assert_eq!(store.path(), nested.join(DB_FILE));
    assert!(nested.join(DB_FILE).exists());
}

#[test]
fn corrupt_rows_are_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .save_window("work", &SourceState::default(), &[occ("a", 9, "")])
            .unwrap();
    }
    for (damage, says) in [
        (
            "UPDATE window_occurrences SET details = 7 WHERE source = 'work'",
            "missing details row 7",
        ),
        (
            "UPDATE window_occurrences SET status = 'maybe' WHERE source = 'work'",
            "unknown status",
        ),
        (
            "UPDATE window_occurrences SET start = 9223372036854775807 WHERE source = 'work'",
            "out of range",
        ),
    ] {
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute("DELETE FROM windows", []).unwrap();
        drop(conn);
        Store::open(dir.path())
            .unwrap()
            .save_window("work", &SourceState::default(), &[occ("a", 9, "")])
            .unwrap();
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        assert_eq!(conn.execute(damage, []).unwrap(), 1, "{damage}");
        drop(conn);
        let store = Store::open(dir.path()).unwrap();
        let err = store.load_windows().unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.contains("corrupt") && msg.contains("\"work\"") && msg.contains(says),
            "{damage}: {msg}"
        );
    }
    let store = Store::open(dir.path()).unwrap();
    // The rest of the store keeps working.
    store
        .save_window("work", &SourceState::default(), &[occ("b", 10, "")])
        .unwrap();
    assert_eq!(store.load_windows().unwrap()["work"][0].id(), "b");
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DB_FILE), vec![0x5a_u8; 8192]).unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Sqlite(_)), "{err:?}");
    assert!(err.to_string().contains("not a database"), "{err}");
}

#[test]
fn an_undecodable_cell_skips_its_row_only() {
    let dir = tempfile::tempdir().unwrap();
    let state = SourceState {
        etag: Some("\"abc\"".into()),
        content_hash: Some("deadbeef".into()),
        ..SourceState::default()
    };
    for damage in [
        "UPDATE window_details SET subject = CAST(x'c328ff' AS TEXT) WHERE uid = 'a'",
        "UPDATE window_details SET attendees = '[42' WHERE uid = 'a'",
    ] {
        Store::open(dir.path())
            .unwrap()
            .save_window("work", &state, &[occ("a", 9, ""), occ("b", 10, "")])
            .unwrap();
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        assert_eq!(conn.execute(damage, []).unwrap(), 1, "{damage}");
        drop(conn);
        let store = Store::open(dir.path()).unwrap();
        let w = store.load_windows().unwrap();
        let ids: Vec<_> = w["work"].iter().map(|o| o.id().into_owned()).collect();
        assert_eq!(ids, ["b"], "{damage}");
        assert_eq!(store.undecodable_rows(), 1, "{damage}");
        let st = store.source_state("work").unwrap().unwrap();
        assert_eq!((st.etag, st.content_hash), (None, None), "{damage}");
    }
}

#[test]
fn an_unreadable_database_is_moved_aside_and_kept() {
    for (name, bytes) in [
        ("garbage", vec![0x5a_u8; 8192]),
        ("truncated", {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path()).unwrap();
            let many: Vec<_> = (0..400)
                .map(|i| occ(&format!("m{i}"), 9, &"x".repeat(200)))
                .collect();
            store
                .save_window("work", &SourceState::default(), &many)
                .unwrap();
            drop(store);
            let mut b = std::fs::read(dir.path().join(DB_FILE)).unwrap();
            // Keep the header, wreck the pages after it.
            for x in b.iter_mut().skip(4096).step_by(7) {
                *x = 0xff;
            }
            b
        }),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DB_FILE), &bytes).unwrap();
        let (store, aside) = open_or_recover(dir.path(), &StoreOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let aside = aside.unwrap_or_else(|| panic!("{name}: not moved aside"));
        assert_eq!(
            std::fs::read(&aside).unwrap(),
            bytes,
            "{name}: the bad file is kept"
        );
        assert!(store.load_windows().unwrap().is_empty(), "{name}");
        store
            .save_window("work", &SourceState::default(), &[occ("a", 9, "")])
            .unwrap();
        drop(store);
        // The next start finds a good file and moves nothing.
        let (store, aside) = open_or_recover(dir.path(), &StoreOptions::default()).unwrap();
        assert!(aside.is_none(), "{name}");
        assert_eq!(store.load_windows().unwrap()["work"].len(), 1, "{name}");
    }
    // A file from a newer calendarbot is not corruption: still refused, not moved.
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    assert!(open_or_recover(dir.path(), &StoreOptions::default()).is_err());
    assert!(dir.path().join(DB_FILE).exists());
}

#[test]
fn unusable_data_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plainfile");
    std::fs::write(&file, b"x").unwrap();
    // The data directory is a regular file.
    let err = Store::open(&file).unwrap_err();
    assert!(matches!(err, StoreError::Dir { .. }), "{err:?}");
    assert!(err.to_string().contains("plainfile"), "{err}");
    // The data directory would have to be created below a regular file.
    let err = Store::open(&file.join("sub")).unwrap_err();
    assert!(matches!(err, StoreError::Dir { .. }), "{err:?}");
    assert!(err.to_string().contains("plainfile/sub"), "{err}");
}

#[test]
fn read_only_database_is_a_clear_error() {
    // Root ignores file modes, so make the database read-only where SQLite itself checks:
    // a database file whose WAL cannot be created because its name is taken by a directory.
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    let _ = std::fs::remove_file(&wal);
    std::fs::create_dir(&wal).unwrap();
    let result = Store::open(dir.path())
        .and_then(|s| s.save_window("work", &SourceState::default(), &[occ("a", 9, "")]));
    let err = result.unwrap_err();
    assert!(matches!(err, StoreError::Sqlite(_)), "{err:?}");
    assert!(err.to_string().starts_with("sqlite: "), "{err}");
}

#[test]
fn full_disk_keeps_the_previous_window() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        dir.path(),
        &StoreOptions {
            max_db_bytes: Some(256 * 1024),
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let small = vec![occ("a", 9, "small")];
    store
        .save_window("work", &SourceState::default(), &small)
        .unwrap();
    let big: Vec<Occurrence> = (0..2000)
        .map(|i| occ(&format!("big{i}"), 10, &"x".repeat(400)))
        .collect();
    let err = store
        .save_window("work", &SourceState::default(), &big)
        .unwrap_err();
    assert!(matches!(err, StoreError::Sqlite(_)), "{err:?}");
    assert!(err.to_string().contains("full"), "{err}");
    // The failed transaction rolled back: the last good window is intact.
    assert_eq!(store.load_windows().unwrap()["work"], small);
    drop(store);
    assert_eq!(
        Store::open(dir.path()).unwrap().load_windows().unwrap()["work"],
        small
    );
}

#[test]
fn a_series_text_is_stored_and_loaded_once() {
    let dir = tempfile::tempdir().unwrap();
    let series = occ("s", 9, "a long agenda");
    let mut second = series.clone();
    second.expanded = true;
    second.start = When::Timed(Utc.with_ymd_and_hms(2025, 11, 6, 9, 0, 0).unwrap());
    second.end = When::Timed(Utc.with_ymd_and_hms(2025, 11, 6, 9, 30, 0).unwrap());
    let other = occ("o", 11, "another event");
    let window = vec![series, other, second];
    let store = Store::open(dir.path()).unwrap();
    store
        .save_window("work", &SourceState::default(), &window)
        .unwrap();
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM window_details", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 2, "one details row per event, not per occurrence");
    let loaded = store.load_windows().unwrap().remove("work").unwrap();
    assert_eq!(loaded, window);
    assert!(Arc::ptr_eq(&loaded[0].details, &loaded[2].details));
    assert_eq!(loaded[2].id(), "s_20251106T090000");
    assert_eq!(loaded[0].id(), "s");
    assert!(!Arc::ptr_eq(&loaded[0].details, &loaded[1].details));
}

/// The schema-1 layout, exactly as it shipped: one JSON array per source.
const SCHEMA_1: &str = "
    CREATE TABLE sources (
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
    );
    PRAGMA user_version = 1;";

#[test]
fn class_and_declines_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut private = occ("p", 9, "");
    private.details = Arc::new(
        Details::from(EventText::from(&*private.details))
            .with_access(Class::Private, ["mailto:Me@Example.com", "x@example.com"]),
    );
    let mut declined = occ("d", 10, "");
    declined.status = Status::Declined;
    let window = vec![private, declined];
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .save_window("work", &SourceState::default(), &window)
            .unwrap();
    }
    let w = Store::open(dir.path()).unwrap().load_windows().unwrap();
    assert_eq!(w["work"], window);
    assert_eq!(w["work"][0].details.class(), Class::Private);
    let by: Vec<&str> = w["work"][0].details.declined_by().collect();
    assert_eq!(by, ["me@example.com", "x@example.com"]);
}

#[test]
fn a_schema_1_file_is_upgraded_without_losing_its_windows() {
    let dir = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.execute_batch(SCHEMA_1).unwrap();
    conn.execute_batch(
        r#"INSERT INTO sources (name, content_hash) VALUES ('work', 'h1'), ('home', 'h2');
        INSERT INTO occurrences (source, saved_at, count, data) VALUES ('work',
          '2025-11-05T08:00:00.000000Z', 2,
          '[{"uid":"a","id":"a","subject":"Meeting a","description":"Ünïcode ✓","location":"Room 1",
             "start":{"Timed":"2025-11-05T09:00:00Z"},"end":{"Timed":"2025-11-05T09:30:00Z"},
             "status":"busy","attendees":["a@example.com"],"organizer":"boss@example.com",
             "recurring":true},
            {"uid":"b","id":"b","subject":"Meeting b","description":"","location":"Room 1",
             "start":{"AllDay":"2025-11-06"},"end":{"AllDay":"2025-11-07"},
             "status":"tentative","attendees":["a@example.com"],"organizer":"boss@example.com",
             "recurring":true}]');
        INSERT INTO occurrences (source, saved_at, count, data) VALUES ('home',
          '2025-11-05T08:00:00.000000Z', 1, '[{"uid": 42');"#,
    )
    .unwrap();
    drop(conn);

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), 3);
    let windows = store.load_windows().unwrap();
    assert_eq!(windows.len(), 1, "{windows:?}");
    assert_eq!(
        windows["work"],
        vec![occ("a", 9, "Ünïcode ✓"), all_day("b")]
    );
    // Migration 3 (CLASS and declined attendees, docs/kiosk.md) clears every source's
    // validators and hash, so the moved window is parsed again at the next refresh.
    assert_eq!(
        store.source_state("work").unwrap().unwrap().content_hash,
        None
    );
    // The undecodable window is gone, and so is the hash that would have skipped re-parsing.
    assert!(!store.has_window("home").unwrap());
    assert_eq!(
        store.source_state("home").unwrap().unwrap().content_hash,
        None
    );
    drop(store);
    // Nothing is left in the old table to be moved twice.
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    let left: i64 = conn
        .query_row("SELECT COUNT(*) FROM occurrences", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

/// The real binary on a data directory whose database is garbage: it starts (it used to exit
/// 2 on every start), serves the feed, logs the move, and keeps the bad file beside.
#[test]
fn the_binary_starts_over_a_corrupt_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join(DB_FILE), vec![0x5a_u8; 8192]).unwrap();
    let feed = dir.path().join("feed.ics");
    std::fs::write(&feed, support::ics(&[("standup", "Standup", 60, 15)])).unwrap();
    let b = support::Binary::start(
        &data,
        &[("CALENDARBOT_ICS_URL", format!("file://{}", feed.display()))],
    );
    assert_eq!(b.next_subject().as_deref(), Some("Standup"), "{}", b.log());
    assert!(b.log().contains("moved aside"), "{}", b.log());
    let kept: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("calendarbot.db.corrupt-")
        })
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(std::fs::read(kept[0].path()).unwrap(), vec![0x5a_u8; 8192]);
    // Health says where the bad file went.
    let (_, h) = b.get("/api/health").unwrap();
    assert_eq!(
        h["data_status"]["database_moved_aside"],
        kept[0].path().display().to_string(),
        "{h}"
    );
    assert_eq!(h["data_status"]["database_rows_skipped"], 0, "{h}");
}

/// The real binary over a database with one poisoned cell (an invalid UTF-8 subject): it
/// starts, serves the rest from storage with the feed down, warns, and health counts the row.
#[test]
fn the_binary_counts_a_poisoned_row_in_health() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let feed = dir.path().join("feed.ics");
    std::fs::write(
        &feed,
        support::ics(&[
            ("standup", "Standup", 60, 15),
            ("review", "Review", 120, 30),
        ]),
    )
    .unwrap();
    let env = [("CALENDARBOT_ICS_URL", format!("file://{}", feed.display()))];
    let mut b = support::Binary::start(&data, &env);
    assert_eq!(b.next_subject().as_deref(), Some("Standup"), "{}", b.log());
    let (_, h) = b.get("/api/health").unwrap();
    assert_eq!(
        h["data_status"]["database_moved_aside"],
        serde_json::Value::Null
    );
    b.stop();
    let conn = rusqlite::Connection::open(data.join(DB_FILE)).unwrap();
    let n = conn
        .execute(
            "UPDATE window_details SET subject = CAST(x'c328ff' AS TEXT) WHERE uid = 'standup'",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(conn);
    std::fs::remove_file(&feed).unwrap();
    let b = support::Binary::start_answering(&data, &env);
    assert_eq!(b.next_subject().as_deref(), Some("Review"), "{}", b.log());
    let (_, h) = b.get("/api/health").unwrap();
    assert_eq!(h["data_status"]["database_rows_skipped"], 1, "{h}");
    assert_eq!(
        h["data_status"]["database_moved_aside"],
        serde_json::Value::Null
    );
    assert!(b.log().contains("cannot be decoded"), "{}", b.log());
}
