//! Coalescing: identical concurrent requests share one computation.
//!
//! Why it exists: when the snapshot changes, every client polling at that moment misses the
//! cache together; without coalescing each of them recomputes the same answer at once (a
//! thundering herd on a 4-core Pi). Here the first caller for a key computes and every caller
//! that arrives while it runs waits for that result instead. This is the "request_batching"
//! part's read side; it works with the response cache off too.
//!
//! If the computing caller is cancelled (its deadline passed), one of the waiters takes over
//! (`tokio::sync::OnceCell` semantics), so nobody waits on a computation that was dropped.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// The coalescer's counters, as reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct CoalesceStats {
    /// Computations actually run.
    pub computed: u64,
    /// Requests that waited for another request's computation instead of computing.
    pub coalesced: u64,
    /// Computations running right now.
    pub in_flight: usize,
}

/// A single-flight group keyed by `K`, sharing values `V`.
#[derive(Debug)]
pub(crate) struct Coalescer<K, V> {
    flights: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
    computed: AtomicU64,
    coalesced: AtomicU64,
}

impl<K, V> Default for Coalescer<K, V> {
    fn default() -> Self {
        Coalescer {
            flights: Mutex::new(HashMap::new()),
            computed: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Coalescer<K, V> {
    /// The value for `key`: computed by `compute` unless an identical request is already
    /// computing it, in which case its result is shared. Returns the value and whether this
    /// call waited for another one (coalesced).
    pub(crate) async fn run<F, Fut>(&self, key: &K, compute: F) -> (V, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let cell = {
            let mut g = self.lock();
            g.entry(key.clone()).or_default().clone()
        };
        let ran = AtomicBool::new(false);
        let v = cell
            .get_or_init(|| {
                ran.store(true, Ordering::Relaxed);
                compute()
            })
            .await
            .clone();
        let ran = ran.load(Ordering::Relaxed);
        if ran {
            self.computed.fetch_add(1, Ordering::Relaxed);
            // The flight is over: later requests start a new one (the cache, not this map,
            // is what remembers answers).
            let mut g = self.lock();
            if g.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                g.remove(key);
            }
        } else {
            self.coalesced.fetch_add(1, Ordering::Relaxed);
        }
        (v, !ran)
    }

    /// Counters.
    pub(crate) fn stats(&self) -> CoalesceStats {
        CoalesceStats {
            computed: self.computed.load(Ordering::Relaxed),
            coalesced: self.coalesced.load(Ordering::Relaxed),
            in_flight: self.lock().len(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Arc<OnceCell<V>>>> {
        self.flights.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn concurrent_identical_requests_compute_once() {
        let c: Arc<Coalescer<u32, u64>> = Arc::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let (go_tx, go_rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (c, runs, mut go) = (c.clone(), runs.clone(), go_rx.clone());
            tasks.push(tokio::spawn(async move {
                c.run(&7, || async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    // Hold the flight open until every task has joined it.
                    let _ = go.wait_for(|v| *v).await;
                    42
                })
                .await
            }));
        }
        // Let every task reach the cell, then release the computation.
        while c.stats().in_flight == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        go_tx.send(true).unwrap();
        let mut coalesced = 0;
        for t in tasks {
            let (v, waited) = t.await.unwrap();
            assert_eq!(v, 42);
            coalesced += waited as u32;
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(coalesced, 7);
        let s = c.stats();
        assert_eq!((s.computed, s.coalesced, s.in_flight), (1, 7, 0));
        // A later request starts a new flight.
        let (v, waited) = c.run(&7, || async { 43 }).await;
        assert_eq!((v, waited), (43, false));
    }
}
