//! Who holds what, since when: the lease registry behind leak detection.
//!
//! Why it exists: a pooled connection that is never given back starves every later request,
//! and the symptom (requests waiting, then timing out) points nowhere near the cause. Every
//! checkout therefore records its holder's name and the time; [`Leases::overdue`] lists the
//! leases held past a threshold, and the pools' periodic check logs each of them once, naming
//! the holder, so the owner of a leak is in the log before anyone has to guess.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One held lease, as reported by [`Leases::overdue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeldLease {
    /// The holder's name, as given at checkout (e.g. `store.save_window`).
    pub holder: String,
    /// How long it has been held.
    pub held_for: Duration,
}

#[derive(Debug)]
struct Entry {
    holder: String,
    since: Instant,
    warned: bool,
}

/// The registry of live leases of one pool.
#[derive(Debug, Default)]
pub(crate) struct Leases {
    next: AtomicU64,
    live: Mutex<HashMap<u64, Entry>>,
    leaks_reported: AtomicU64,
}

impl Leases {
    /// Record a checkout by `holder`; returns the lease id to pass to [`Leases::release`].
    pub(crate) fn acquire(&self, holder: &str) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(
            id,
            Entry {
                holder: holder.to_string(),
                since: Instant::now(),
                warned: false,
            },
        );
        id
    }

    /// Record the return of lease `id`.
    pub(crate) fn release(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Leases held for longer than `threshold`, longest first.
    pub(crate) fn overdue(&self, threshold: Duration) -> Vec<HeldLease> {
        let now = Instant::now();
        let mut v: Vec<HeldLease> = self
            .lock()
            .values()
            .filter(|e| now.duration_since(e.since) > threshold)
            .map(|e| HeldLease {
                holder: e.holder.clone(),
                held_for: now.duration_since(e.since),
            })
            .collect();
        v.sort_by_key(|l| std::cmp::Reverse(l.held_for));
        v
    }

    /// Log every lease held past `threshold` that has not been reported yet (once per lease);
    /// returns how many were newly reported.
    pub(crate) fn report_overdue(&self, pool: &str, threshold: Duration) -> usize {
        let now = Instant::now();
        let mut n = 0;
        for e in self.lock().values_mut() {
            let held = now.duration_since(e.since);
            if held > threshold && !e.warned {
                e.warned = true;
                n += 1;
                tracing::warn!(
                    pool,
                    holder = %e.holder,
                    held_ms = held.as_millis() as u64,
                    "connection held past the leak threshold"
                );
            }
        }
        self.leaks_reported.fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    /// Leases reported as overdue since start.
    pub(crate) fn leaks_reported(&self) -> u64 {
        self.leaks_reported.load(Ordering::Relaxed)
    }

    /// Leases currently held.
    pub(crate) fn held(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overdue_names_the_holder_once() {
        let l = Leases::default();
        let a = l.acquire("store.save_window");
        let b = l.acquire("store.load_skips");
        l.release(b);
        assert_eq!(l.held(), 1);
        // A zero threshold makes every live lease overdue without sleeping.
        let over = l.overdue(Duration::ZERO);
        assert_eq!(over.len(), 1);
        assert_eq!(over[0].holder, "store.save_window");
        assert_eq!(l.report_overdue("sqlite", Duration::ZERO), 1);
        assert_eq!(
            l.report_overdue("sqlite", Duration::ZERO),
            0,
            "reported once"
        );
        assert_eq!(l.leaks_reported(), 1);
        assert!(l.overdue(Duration::from_secs(3600)).is_empty());
        l.release(a);
        assert_eq!(l.held(), 0);
    }
}
