//! The test support's own rule for starting the real binary (`tests/support/binary.rs`):
//! - a port that another process takes before the child binds it (a port race) is given up
//!   and the start goes on with a new port;
//! - any other failure (here an invalid configuration) fails the start at once, after one
//!   attempt, with the child's stderr in the message.

mod support;

use std::net::TcpListener;
use std::panic::{AssertUnwindSafe, catch_unwind};
use support::{Binary, Ready, free_port};

#[test]
fn a_taken_port_is_retried_on_a_new_one() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut picked = Vec::new();
    let b = Binary::launch(dir.path(), &[], Ready::Answering, || {
        let port = if picked.is_empty() {
            taken
        } else {
            free_port()
        };
        picked.push(port);
        port
    });
    assert_eq!(picked.len(), 2, "{picked:?}");
    assert_eq!(b.addr.port(), picked[1]);
    let (status, _) = b.get("/api/health").unwrap();
    assert!(status == 200 || status == 503, "{status}");
}

#[test]
fn any_other_failure_is_reported_at_once_with_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let mut picks = 0;
    let env = [("CALENDARBOT_REFRESH_INTERVAL", "abc".to_string())];
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        Binary::launch(dir.path(), &env, Ready::Answering, || {
            picks += 1;
            free_port()
        })
    }))
    .err()
    .expect("an invalid configuration must fail the start");
    let message = panicked
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert_eq!(picks, 1, "not retried: {message}");
    assert!(message.contains("exited early"), "{message}");
    assert!(
        message.contains("invalid configuration: refresh_interval"),
        "the child's stderr: {message}"
    );
}
