//! Write batching: small writes (skips, heartbeats) that arrive within a short window share
//! one SQLite transaction.
//!
//! Why it exists: on an SD card every commit is a sync; a kiosk page, a framebuffer UI and a
//! watchdog script each posting heartbeats, plus a burst of skips, would each pay one. The
//! batcher runs on its own thread (SQLite is blocking; the async workers never wait on it):
//! it takes the first write, collects whatever else arrives within `batch_window_ms` (up to
//! a maximum), applies them all with one `flush` call (one transaction), and only then answers
//! every submitter. So a skip's response still returns only after its write is durable.
//!
//! A failed or late batch is reported to each submitter as an error; the caller then writes
//! on the plain path (its own transaction), so a batching failure costs time, never data. The
//! writes are idempotent upserts, so one applied twice (a late batch that did commit) is
//! harmless.

use crate::fault::{self, Fault};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// Why a submitted write was not confirmed by the batcher.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum BatchError {
    /// The batch's transaction failed.
    #[error("write batch failed: {0}")]
    Failed(String),
    /// No confirmation within the deadline.
    #[error("write batch not confirmed within {0} ms")]
    Deadline(u64),
    /// The batcher thread is gone.
    #[error("write batcher stopped")]
    Stopped,
}

/// The batcher's counters, as reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BatchStats {
    /// The collection window, milliseconds.
    pub window_ms: u64,
    /// Writes submitted.
    pub submitted: u64,
    /// Transactions committed (or tried).
    pub batches: u64,
    /// Writes that shared a transaction with at least one other write.
    pub batched: u64,
    /// Largest batch so far.
    pub max_batch: u64,
    /// Batches that failed.
    pub failures: u64,
    /// Submitters that gave up waiting.
    pub deadline_misses: u64,
}

#[derive(Debug, Default)]
struct Counters {
    submitted: AtomicU64,
    batches: AtomicU64,
    batched: AtomicU64,
    max_batch: AtomicU64,
    failures: AtomicU64,
    deadline_misses: AtomicU64,
}

struct Job<Op> {
    op: Op,
    done: mpsc::Sender<Result<(), String>>,
}

/// A write batcher for operations of type `Op`. Cheap to clone; the thread stops when the
/// last clone is dropped.
pub(crate) struct Batcher<Op> {
    tx: mpsc::Sender<Job<Op>>,
    counters: Arc<Counters>,
    window: Duration,
    deadline: Duration,
}

impl<Op> Clone for Batcher<Op> {
    fn clone(&self) -> Self {
        Batcher {
            tx: self.tx.clone(),
            counters: self.counters.clone(),
            window: self.window,
            deadline: self.deadline,
        }
    }
}

impl<Op> std::fmt::Debug for Batcher<Op> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("window", &self.window)
            .finish()
    }
}

impl<Op: Send + 'static> Batcher<Op> {
    /// Start the batcher thread. `flush` applies a whole batch in one transaction. A submitter
    /// waits at most `window + deadline` for its batch to commit.
    pub(crate) fn spawn<F>(
        window: Duration,
        deadline: Duration,
        max_batch: usize,
        mut flush: F,
    ) -> Self
    where
        F: FnMut(&[Op]) -> Result<(), String> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<Job<Op>>();
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let max_batch = max_batch.max(1);
        std::thread::Builder::new()
            .name("write-batcher".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    let until = Instant::now() + window;
                    while jobs.len() < max_batch {
                        let left = until.saturating_duration_since(Instant::now());
                        match rx.recv_timeout(left) {
                            Ok(j) => jobs.push(j),
                            Err(_) => break,
                        }
                    }
                    let (ops, dones): (Vec<Op>, Vec<_>) =
                        jobs.into_iter().map(|j| (j.op, j.done)).unzip();
                    let result = if fault::active(Fault::FailBatch) {
                        Err("injected fault: fail-batch".to_string())
                    } else {
                        flush(&ops)
                    };
                    let n = ops.len() as u64;
                    c.batches.fetch_add(1, Ordering::Relaxed);
                    c.max_batch.fetch_max(n, Ordering::Relaxed);
                    if n > 1 {
                        c.batched.fetch_add(n, Ordering::Relaxed);
                    }
                    if let Err(e) = &result {
                        c.failures.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, writes = n, "write batch failed; submitters use the plain path");
                    }
                    for d in dones {
                        let _ = d.send(result.clone());
                    }
                }
            })
            .expect("spawn the write-batcher thread");
        Batcher {
            tx,
            counters,
            window,
            deadline,
        }
    }

    /// Submit one write and block until its batch has committed (call from a blocking
    /// thread). An error means the write may not be durable: write it on the plain path.
    pub(crate) fn submit(&self, op: Op) -> Result<(), BatchError> {
        self.counters.submitted.fetch_add(1, Ordering::Relaxed);
        let (done, wait) = mpsc::channel();
        self.tx
            .send(Job { op, done })
            .map_err(|_| BatchError::Stopped)?;
        let limit = self.window + self.deadline;
        match wait.recv_timeout(limit) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(BatchError::Failed(e)),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                self.counters
                    .deadline_misses
                    .fetch_add(1, Ordering::Relaxed);
                Err(BatchError::Deadline(limit.as_millis() as u64))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(BatchError::Stopped),
        }
    }

    /// Counters.
    pub(crate) fn stats(&self) -> BatchStats {
        let c = &self.counters;
        BatchStats {
            window_ms: self.window.as_millis() as u64,
            submitted: c.submitted.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            batched: c.batched.load(Ordering::Relaxed),
            max_batch: c.max_batch.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            deadline_misses: c.deadline_misses.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn writes_in_one_window_share_one_flush_and_wait_for_it() {
        let log: Arc<Mutex<Vec<Vec<u32>>>> = Arc::default();
        let l = log.clone();
        // A long window so that all submitters land in the first batch; a full batch (4)
        // flushes at once without waiting for the window to end.
        let b = Batcher::spawn(
            Duration::from_secs(30),
            Duration::from_secs(30),
            4,
            move |ops: &[u32]| {
                l.lock().unwrap().push(ops.to_vec());
                Ok(())
            },
        );
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let b = b.clone();
                std::thread::spawn(move || b.submit(i))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        let batches = log.lock().unwrap().clone();
        assert_eq!(batches.len(), 1, "{batches:?}");
        let mut ops = batches[0].clone();
        ops.sort();
        assert_eq!(ops, vec![0, 1, 2, 3]);
        let s = b.stats();
        assert_eq!(
            (s.submitted, s.batches, s.batched, s.max_batch),
            (4, 1, 4, 4)
        );
    }

    #[test]
    fn a_failed_batch_is_reported_to_its_submitter() {
        let b = Batcher::spawn(Duration::ZERO, Duration::from_secs(30), 8, |_: &[u32]| {
            Err("disk full".to_string())
        });
        match b.submit(1) {
            Err(BatchError::Failed(e)) => assert_eq!(e, "disk full"),
            other => panic!("{other:?}"),
        }
        assert_eq!(b.stats().failures, 1);
    }
}
