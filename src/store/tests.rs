//! Unit tests of the store: migrations, windows, skips, state, pool and batcher.

use super::*;
use crate::ics::{Details, EventText, Status, When};
use chrono::TimeZone;

fn occ(id: &str, hour: u32) -> Occurrence {
    let start = Utc.with_ymd_and_hms(2025, 11, 5, hour, 0, 0).unwrap();
    Occurrence {
        details: Arc::new(Details::from(EventText {
            uid: id.into(),
            subject: format!("Meeting {id}"),
            location: "Room 1".into(),
            attendees: vec!["a@example.com".into()],
            ..Default::default()
        })),
        start: When::Timed(start),
        end: When::Timed(start + chrono::Duration::minutes(30)),
        status: Status::Busy,
        recurring: false,
        expanded: false,
    }
}

#[test]
fn schema_is_migrated_and_pragmas_set() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        schema::MIGRATIONS.len() as i64
    );
    let conn = store.writer("test").unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let sync: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 1, "NORMAL");
    let fk: i64 = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    let busy: i64 = conn
        .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
        .unwrap();
    assert_eq!(busy, 5000);
}

#[test]
fn window_replace_is_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let st = SourceState {
        etag: Some("\"v1\"".into()),
        ..Default::default()
    };
    store
        .save_window("work", &st, &[occ("a", 9), occ("b", 10)])
        .unwrap();
    store.save_window("home", &st, &[occ("c", 11)]).unwrap();
    store.save_window("work", &st, &[occ("d", 12)]).unwrap();
    let w = store.load_windows().unwrap();
    assert_eq!(w.len(), 2);
    assert_eq!(w["work"], vec![occ("d", 12)]);
    assert_eq!(w["home"], vec![occ("c", 11)]);
    // An empty window is a valid window, and is kept as such.
    store.save_window("home", &st, &[]).unwrap();
    assert!(store.load_windows().unwrap()["home"].is_empty());
}

#[test]
fn source_state_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.source_state("x").unwrap(), None);
    let st = SourceState {
        etag: Some("e".into()),
        last_modified: Some("Wed, 05 Nov 2025 08:00:00 GMT".into()),
        content_hash: Some("abc".into()),
        last_success: Some(Utc.with_ymd_and_hms(2025, 11, 5, 8, 0, 0).unwrap()),
        consecutive_failures: 3,
        last_error: Some("HTTP 500".into()),
    };
    store.save_source_state("x", &st).unwrap();
    assert_eq!(store.source_state("x").unwrap(), Some(st.clone()));
    // Updating the state leaves the window alone.
    store.save_window("x", &st, &[occ("a", 9)]).unwrap();
    let failing = SourceState {
        consecutive_failures: 4,
        ..st
    };
    store.save_source_state("x", &failing).unwrap();
    assert_eq!(store.load_windows().unwrap()["x"].len(), 1);
    assert_eq!(
        store
            .source_state("x")
            .unwrap()
            .unwrap()
            .consecutive_failures,
        4
    );
    assert_eq!(store.source_names().unwrap(), vec!["x".to_string()]);
    store.remove_source("x").unwrap();
    assert!(store.load_windows().unwrap().is_empty(), "cascade");
}

#[test]
fn skips_expire_and_clear() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let now = Utc.with_ymd_and_hms(2025, 11, 5, 8, 0, 0).unwrap();
    store
        .add_skip("old", now - chrono::Duration::hours(1))
        .unwrap();
    store
        .add_skip("new", now + chrono::Duration::hours(1))
        .unwrap();
    let s = store.load_skips(now).unwrap();
    assert_eq!(s.len(), 1);
    assert!(s.contains_key("new"));
    // Extending a skip replaces its end.
    store
        .add_skip("new", now + chrono::Duration::hours(5))
        .unwrap();
    assert_eq!(
        store.load_skips(now).unwrap()["new"],
        now + chrono::Duration::hours(5)
    );
    assert_eq!(store.purge_expired_skips(now).unwrap(), 1);
    store.clear_skips().unwrap();
    assert!(store.load_skips(now).unwrap().is_empty());
}

#[test]
fn state_kv() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.state("k").unwrap(), None);
    store.set_state("k", "1").unwrap();
    store.set_state("k", "2").unwrap();
    assert_eq!(store.state("k").unwrap().as_deref(), Some("2"));
    store.delete_state("k").unwrap();
    assert_eq!(store.state("k").unwrap(), None);
    store.ping().unwrap();
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
}
