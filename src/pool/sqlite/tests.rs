//! Unit tests of the SQLite pool: slots, leases, leaks, fallback.

use super::*;
use crate::breaker::Part;

fn configure(c: &Connection) -> rusqlite::Result<()> {
    c.busy_timeout(Duration::from_millis(5000))?;
    let _: String = c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    Ok(())
}

fn pool(dir: &Path, opts: PoolOptions) -> SqlitePool {
    let path = dir.join("t.db");
    let c = Connection::open(&path).unwrap();
    configure(&c).unwrap();
    c.execute_batch("CREATE TABLE t (v INTEGER)").unwrap();
    let b = Breaker::new(
        Part::DbPool,
        2,
        Duration::from_secs(60),
        Duration::from_secs(300),
    );
    SqlitePool::new(&path, Arc::new(configure), Some(c), opts, b)
}

#[test]
fn writer_and_readers_share_the_file_and_are_reused() {
    let dir = tempfile::tempdir().unwrap();
    let p = pool(dir.path(), PoolOptions::default());
    {
        let w = p.writer("test.write").unwrap();
        assert!(w.is_pooled());
        w.execute("INSERT INTO t VALUES (1)", []).unwrap();
        // A reader sees the committed row while the writer is still held.
        let r = p.reader("test.read").unwrap();
        let n: i64 = r
            .query_row("SELECT count(*) FROM t", [], |x| x.get(0))
            .unwrap();
        assert_eq!(n, 1);
        // Readers refuse writes.
        assert!(r.execute("INSERT INTO t VALUES (2)", []).is_err());
        let busy: i64 = r
            .query_row("PRAGMA busy_timeout", [], |x| x.get(0))
            .unwrap();
        assert_eq!(busy, 5000, "every connection gets busy_timeout");
    }
    for _ in 0..5 {
        p.reader("again").unwrap();
    }
    let s = p.stats();
    assert_eq!(s.readers.open, 1, "a returned reader is reused");
    assert_eq!(
        s.writer.open, 1,
        "the migrating connection became the writer"
    );
    assert_eq!(s.readers.checkouts, 6);
    assert_eq!(s.held, 0);
    assert_eq!(s.fresh_connections, 0);
    p.health_check().unwrap();
}

#[test]
fn busy_writer_times_out_into_a_fresh_connection() {
    let dir = tempfile::tempdir().unwrap();
    let opts = PoolOptions {
        checkout_timeout: Duration::ZERO,
        ..Default::default()
    };
    let p = pool(dir.path(), opts);
    let held = p.writer("holder.slow").unwrap();
    // The writer is taken: the second caller is served by the plain path.
    let second = p.writer("second").unwrap();
    assert!(!second.is_pooled());
    let s = p.stats();
    assert_eq!(s.writer.timeouts, 1);
    assert_eq!(s.fresh_connections, 1);
    assert_eq!(s.held, 2);
    assert_eq!(p.overdue_holders().len(), 0, "5 s threshold not reached");
    drop(second);
    // After `threshold` (2) failures the breaker opens: straight to the plain path.
    let third = p.writer("third").unwrap();
    assert!(!third.is_pooled());
    assert_eq!(p.stats().breaker, "open");
    assert!(!p.stats().enabled);
    drop(third);
    drop(held);
    assert_eq!(p.stats().held, 0);
}

#[test]
fn disabled_pool_opens_fresh_connections() {
    let dir = tempfile::tempdir().unwrap();
    let p = pool(
        dir.path(),
        PoolOptions {
            enabled: false,
            ..Default::default()
        },
    );
    let c = p.reader("plain").unwrap();
    assert!(!c.is_pooled());
    assert_eq!(p.stats().readers.checkouts, 0);
    assert_eq!(p.stats().fresh_connections, 1);
}

#[test]
fn leak_is_reported_with_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let p = pool(
        dir.path(),
        PoolOptions {
            leak_threshold: Duration::ZERO,
            ..Default::default()
        },
    );
    let _held = p.reader("refresh.leaky").unwrap();
    assert_eq!(p.overdue_holders(), vec!["refresh.leaky".to_string()]);
    assert_eq!(p.check_leaks(), 1);
    assert_eq!(p.stats().leaks_reported, 1);
}

#[test]
fn a_waiting_caller_gets_the_slot_when_it_is_returned() {
    let dir = tempfile::tempdir().unwrap();
    let opts = PoolOptions {
        checkout_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let p = pool(dir.path(), opts);
    let held = p.writer("first").unwrap();
    let p2 = p.clone();
    let waiter = std::thread::spawn(move || p2.writer("second").map(|c| c.is_pooled()));
    std::thread::sleep(Duration::from_millis(100));
    drop(held);
    assert!(
        waiter.join().unwrap().unwrap(),
        "the waiter got the pooled writer"
    );
    let s = p.stats();
    assert_eq!(s.writer.waits, 1);
    assert!(s.writer.wait_ms_total >= 50, "{s:?}");
    assert_eq!(s.fresh_connections, 0);
    assert!(format!("{p:?}").contains("t.db"));
    assert_eq!(p.path(), dir.path().join("t.db"));
}

#[test]
fn a_connection_returned_inside_a_transaction_is_closed_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let p = pool(dir.path(), PoolOptions::default());
    {
        let w = p.writer("panicky").unwrap();
        w.execute_batch("BEGIN; INSERT INTO t VALUES (1);").unwrap();
        assert!(format!("{w:?}").contains("pooled: true"));
    }
    assert_eq!(p.stats().writer.open, 0, "closed, slot free");
    let w = p.writer("next").unwrap();
    assert!(w.is_pooled());
    let n: i64 = w
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0, "the open transaction was rolled back");
}

#[test]
fn a_reader_that_cannot_open_is_an_error_then_the_plain_path() {
    let dir = tempfile::tempdir().unwrap();
    let p = pool(dir.path(), PoolOptions::default());
    // The database file's directory goes away: a new reader cannot be opened.
    std::fs::remove_dir_all(dir.path()).unwrap();
    assert!(p.reader("after-delete").is_err());
    let s = p.stats();
    assert_eq!(s.readers.failures, 1, "{s:?}");
    assert_eq!(s.readers.open, 0);
    assert_eq!(p.close_idle_readers(), 0);
}
