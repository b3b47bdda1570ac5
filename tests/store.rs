//! The SQLite store on a real file in a temporary directory:
//! - windows, source state, skips and service state survive closing and reopening the file;
//! - reopening an existing file does not re-run migrations or lose data;
//! - a corrupt window blob is a clear `StoreError::Corrupt` naming the source, not a panic;
//! - a file that is not a database is a clear error at open;
//! - a data directory that cannot be a directory is a clear `StoreError::Dir` naming it;
//! - a full disk (a database size bound) is a clear error, and the previous window survives.

use calendarbot::ics::{Occurrence, Status, When};
use calendarbot::store::{DB_FILE, SourceState, Store, StoreError, StoreOptions};
use chrono::{Duration, TimeZone, Utc};

fn occ(id: &str, hour: u32, description: &str) -> Occurrence {
    let start = Utc.with_ymd_and_hms(2025, 11, 5, hour, 0, 0).unwrap();
    Occurrence {
        uid: id.into(),
        id: id.into(),
        subject: format!("Meeting {id}"),
        description: description.into(),
        location: "Room 1".into(),
        start: When::Timed(start),
        end: When::Timed(start + Duration::minutes(30)),
        status: Status::Busy,
        attendees: vec!["a@example.com".into()],
        organizer: Some("boss@example.com".into()),
        recurring: true,
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
    assert_eq!(store.schema_version().unwrap(), 1);
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
fn corrupt_blob_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .save_window("work", &SourceState::default(), &[occ("a", 9, "")])
            .unwrap();
    }
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.execute(
        "UPDATE occurrences SET data = '[{\"uid\": 42' WHERE source = 'work'",
        [],
    )
    .unwrap();
    drop(conn);
    let store = Store::open(dir.path()).unwrap();
    let err = store.load_windows().unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("corrupt") && msg.contains("\"work\""), "{msg}");
    // The rest of the store keeps working.
    store
        .save_window("work", &SourceState::default(), &[occ("b", 10, "")])
        .unwrap();
    assert_eq!(store.load_windows().unwrap()["work"][0].id, "b");
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
