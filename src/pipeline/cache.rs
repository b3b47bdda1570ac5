//! The response cache: a moka `future::Cache` of prepared answers, size-weighted and capped.
//!
//! Why it exists: the kiosk, a framebuffer UI, a watchdog script and voice assistants all ask
//! the same few questions many times between two calendar changes. Recomputing is correct but
//! wasteful on a Pi Zero; remembering the answer per [`CacheKey`] is cheap, *if* the key holds
//! everything the answer depends on. The key therefore carries the snapshot version (a refresh
//! that changes data, or a skip, makes a new version, so stale entries can never be read) and an
//! `epoch` the route computes from "now" (see [`super::next_epoch`] and `server::reads`), so time moving on is also part
//! of the key. Entries are weighed in bytes; the cache never holds more than `cache_max_bytes`
//! (moka applies the cap lazily; `../shared/notes/crates.md` §2.3) and lives at most `cache_ttl_secs`.
//!
//! Values are type-erased (`Arc<dyn Any>`) so one cache serves every route; a route stores and
//! reads back its own type.

use crate::fault::{self, Fault};
use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What a cached answer depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The route, e.g. `whats-next`.
    pub route: &'static str,
    /// Normalised parameters that change the answer (empty if none).
    pub params: Box<str>,
    /// Snapshot version the answer was computed from.
    pub version: u64,
    /// Time epoch within which the answer cannot change (route-specific).
    pub epoch: u64,
}

/// One cached value and its weight.
#[derive(Clone)]
pub struct Cached {
    /// The prepared answer (the route knows its type).
    pub value: Arc<dyn Any + Send + Sync>,
    /// Approximate heap bytes, for the memory cap.
    pub bytes: u32,
}

impl std::fmt::Debug for Cached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cached")
            .field("bytes", &self.bytes)
            .finish()
    }
}

/// Why the cache could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CacheError {
    /// A test fault (`fail-cache`).
    #[error("injected fault: fail-cache")]
    Injected,
}

/// The cache's counters, as reported.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CacheStats {
    /// Entries held (approximate; moka applies writes in batches).
    pub entries: u64,
    /// Bytes held by weight.
    pub weighted_bytes: u64,
    /// The memory cap.
    pub max_bytes: u64,
    /// Time to live, seconds.
    pub ttl_secs: u64,
    /// Lookups that found an answer.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// hits / (hits + misses), 0 when unused.
    pub hit_rate: f64,
    /// Times the cache was emptied because the snapshot changed.
    pub invalidations: u64,
    /// The cap in force now: `max_bytes`, or the floor while memory is under pressure.
    pub limit_bytes: u64,
}

/// The response cache.
#[derive(Debug)]
pub struct ResponseCache {
    cache: moka::future::Cache<CacheKey, Cached>,
    max_bytes: u64,
    ttl: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
    /// Highest snapshot version seen; a higher one empties the cache (older keys are dead).
    version: AtomicU64,
    /// The cap in force: `u64::MAX` (moka's own `max_bytes` applies) or the floor under
    /// memory pressure ([`ResponseCache::shrink_to`]).
    limit: AtomicU64,
}

impl ResponseCache {
    /// A cache of at most `max_bytes` (by weight) whose entries live `ttl`.
    pub fn new(ttl: Duration, max_bytes: u64) -> Self {
        let cache = moka::future::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|k: &CacheKey, v: &Cached| {
                let key = std::mem::size_of::<CacheKey>() + k.params.len();
                v.bytes.saturating_add(key as u32)
            })
            .time_to_live(ttl)
            .build();
        ResponseCache {
            cache,
            max_bytes,
            ttl,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            version: AtomicU64::new(0),
            limit: AtomicU64::new(u64::MAX),
        }
    }

    /// Memory pressure: empty the cache now and hold at most `floor` bytes until
    /// [`ResponseCache::restore`]. moka's capacity is fixed at build, so the floor is kept by
    /// refusing inserts that would pass it.
    pub async fn shrink_to(&self, floor: u64) {
        self.limit.store(floor, Ordering::Relaxed);
        self.cache.invalidate_all();
        self.cache.run_pending_tasks().await;
    }

    /// Pressure has gone: the configured cap applies again.
    pub fn restore(&self) {
        self.limit.store(u64::MAX, Ordering::Relaxed);
    }

    /// Look `key` up.
    pub async fn get(&self, key: &CacheKey) -> Result<Option<Cached>, CacheError> {
        if fault::active(Fault::FailCache) {
            return Err(CacheError::Injected);
        }
        self.see_version(key.version);
        let v = self.cache.get(key).await;
        let counter = if v.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(v)
    }

    /// Remember `value` under `key`.
    pub async fn insert(&self, key: CacheKey, value: Cached) -> Result<(), CacheError> {
        if fault::active(Fault::FailCache) {
            return Err(CacheError::Injected);
        }
        // A newer snapshot's answer (a warmed one: no lookup came first) drops the older
        // entries now, so the next lookup does not drop it with them.
        self.see_version(key.version);
        // An answer from an older snapshot is never stored (a refresh landed meanwhile).
        if key.version < self.version.load(Ordering::Relaxed) {
            return Ok(());
        }
        let limit = self.limit.load(Ordering::Relaxed);
        if limit != u64::MAX
            && self.cache.weighted_size() + u64::from(value.bytes) + key.params.len() as u64 > limit
        {
            return Ok(());
        }
        self.cache.insert(key, value).await;
        Ok(())
    }

    /// Every key carries the snapshot version, so when a newer version shows up every entry
    /// of older ones is unreachable: drop them now rather than let them age out.
    fn see_version(&self, v: u64) {
        let old = self.version.fetch_max(v, Ordering::Relaxed);
        if v > old && old != 0 {
            self.cache.invalidate_all();
            self.invalidations.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counters.
    pub fn stats(&self) -> CacheStats {
        let hits = self.hits.load(Ordering::Relaxed);
        let misses = self.misses.load(Ordering::Relaxed);
        CacheStats {
            entries: self.cache.entry_count(),
            weighted_bytes: self.cache.weighted_size(),
            max_bytes: self.max_bytes,
            ttl_secs: self.ttl.as_secs(),
            hits,
            misses,
            hit_rate: if hits + misses == 0 {
                0.0
            } else {
                hits as f64 / (hits + misses) as f64
            },
            invalidations: self.invalidations.load(Ordering::Relaxed),
            limit_bytes: self.limit.load(Ordering::Relaxed).min(self.max_bytes),
        }
    }

    /// Apply moka's pending housekeeping (tests and stats).
    pub async fn sync(&self) {
        self.cache.run_pending_tasks().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(version: u64, epoch: u64) -> CacheKey {
        CacheKey {
            route: "whats-next",
            params: "".into(),
            version,
            epoch,
        }
    }

    fn val(s: &str) -> Cached {
        Cached {
            value: Arc::new(s.to_string()),
            bytes: s.len() as u32,
        }
    }

    #[tokio::test]
    async fn hit_miss_and_version_invalidation() {
        let c = ResponseCache::new(Duration::from_secs(30), 1 << 20);
        assert!(c.get(&key(1, 0)).await.unwrap().is_none());
        c.insert(key(1, 0), val("a")).await.unwrap();
        let got = c.get(&key(1, 0)).await.unwrap().unwrap();
        assert_eq!(got.value.downcast_ref::<String>().unwrap(), "a");
        assert!(
            c.get(&key(1, 1)).await.unwrap().is_none(),
            "epoch is in the key"
        );
        // A newer snapshot: the old entry is gone and an old-version insert is refused.
        assert!(c.get(&key(2, 0)).await.unwrap().is_none());
        c.insert(key(1, 0), val("stale")).await.unwrap();
        c.sync().await;
        assert!(c.get(&key(1, 0)).await.unwrap().is_none());
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.invalidations), (1, 4, 1));
    }

    #[tokio::test]
    async fn the_floor_holds_under_pressure_and_lifts_after() {
        let c = ResponseCache::new(Duration::from_secs(30), 1 << 20);
        for i in 0..50 {
            c.insert(key(1, i), val(&"x".repeat(1_000))).await.unwrap();
        }
        c.sync().await;
        assert!(c.stats().weighted_bytes > 40_000);
        c.shrink_to(4_000).await;
        assert_eq!(c.stats().entries, 0);
        for i in 0..50 {
            c.insert(key(1, i), val(&"x".repeat(1_000))).await.unwrap();
            c.sync().await;
        }
        let s = c.stats();
        assert!(s.weighted_bytes <= 4_000 && s.entries > 0, "{s:?}");
        assert_eq!(s.limit_bytes, 4_000);
        c.restore();
        for i in 50..100 {
            c.insert(key(1, i), val(&"x".repeat(1_000))).await.unwrap();
        }
        c.sync().await;
        assert!(c.stats().weighted_bytes > 40_000);
    }

    #[tokio::test]
    async fn weight_cap_bounds_the_cache() {
        let c = ResponseCache::new(Duration::from_secs(30), 10_000);
        for i in 0..100 {
            c.insert(key(1, i), val(&"x".repeat(1_000))).await.unwrap();
        }
        c.sync().await;
        let s = c.stats();
        assert!(s.weighted_bytes <= 10_000, "{s:?}");
        assert!(s.entries < 100);
    }
}
