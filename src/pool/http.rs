//! The HTTP side of the connection manager: one shared, pooled `reqwest::Client`, or a fresh
//! client per fetch on the plain path.
//!
//! Why it exists: a feed refresh every few minutes to the same host should reuse the TLS
//! connection (keep-alive, bounded idle connections per host) instead of paying a handshake
//! each time — that is the optimised path. The plain path builds a brand-new client for every
//! fetch: slower, but it shares nothing, so it is what runs when `http_pool` is off or when the
//! shared client keeps failing (its breaker is open). How a client is *built* (timeouts,
//! redirects, user agent) stays with the fetcher, which passes a builder function; this module
//! only decides reuse, and counts.
//!
//! Every fetch takes an [`HttpLease`] naming its holder (e.g. `fetch:work`), so a fetch that
//! hangs past the leak threshold is logged with its name, like a held SQLite connection.

use super::leak::Leases;
use crate::breaker::Breaker;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Builds a configured client (the fetcher's settings).
pub(crate) type BuildClient = Arc<dyn Fn() -> Result<reqwest::Client, String> + Send + Sync>;

/// The HTTP pool's counters, as reported.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HttpStats {
    /// Whether the shared client is in use (flag on, breaker closed).
    pub enabled: bool,
    /// The breaker's state: closed, open, half_open.
    pub breaker: &'static str,
    /// Fetches in flight right now.
    pub in_flight: usize,
    /// Most fetches in flight at once.
    pub max_in_flight: usize,
    /// Fetches served by the shared client.
    pub pooled_requests: u64,
    /// Fetches served by a fresh client (plain path).
    pub fresh_requests: u64,
    /// Fetches that failed (any error).
    pub failures: u64,
    /// Fetches that failed by timing out.
    pub timeouts: u64,
    /// Leases reported as held past the leak threshold.
    pub leaks_reported: u64,
}

struct Inner {
    /// The shared client; `None` until it can be built (see [`HttpPool::new`]).
    shared: std::sync::Mutex<Option<reqwest::Client>>,
    build: BuildClient,
    enabled: bool,
    breaker: Arc<Breaker>,
    leases: Leases,
    leak_threshold: Duration,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    pooled: AtomicU64,
    fresh: AtomicU64,
    failures: AtomicU64,
    timeouts: AtomicU64,
}

/// The shared client plus the plain-path switch. Cheap to clone.
#[derive(Clone)]
pub struct HttpPool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HttpPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpPool")
            .field("stats", &self.stats())
            .finish()
    }
}

/// The client one fetch uses. Record how the fetch went with [`HttpLease::succeeded`] or
/// [`HttpLease::failed`]; dropping the lease ends it.
pub struct HttpLease {
    client: reqwest::Client,
    pooled: bool,
    lease: u64,
    pool: Arc<Inner>,
}

impl std::fmt::Debug for HttpLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpLease")
            .field("pooled", &self.pooled)
            .finish()
    }
}

impl HttpLease {
    /// The client to send with.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Whether this is the shared client (false: a fresh one, plain path).
    pub fn is_pooled(&self) -> bool {
        self.pooled
    }

    /// The fetch got an HTTP response (any status).
    pub fn succeeded(&self) {
        if self.pooled {
            self.pool.breaker.record_success();
        }
    }

    /// The fetch failed at the transport level. A failure of the shared client counts toward
    /// its breaker; the fetcher's retry then takes a new lease (plain path once it opens).
    pub fn failed(&self, err: &reqwest::Error) {
        self.pool.failures.fetch_add(1, Ordering::Relaxed);
        if err.is_timeout() {
            self.pool.timeouts.fetch_add(1, Ordering::Relaxed);
        }
        // Connection-level trouble is what a fresh client could avoid (a stale keep-alive
        // connection); HTTP statuses are the server's answer and say nothing about the pool.
        if self.pooled && (err.is_connect() || err.is_timeout() || err.is_request()) {
            self.pool.breaker.record_failure(&err.to_string());
        }
    }
}

impl Drop for HttpLease {
    fn drop(&mut self) {
        self.pool.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.pool.leases.release(self.lease);
    }
}

impl HttpPool {
    /// Build the shared client with `build`; `enabled` is `[optimization] http_pool` (and
    /// `enabled`).
    ///
    /// A client that cannot be built (the usual cause: no CA certificates on the machine) is
    /// not fatal: the kiosk still serves its stored calendar and its `file://` feeds, which
    /// need no client. The failure is logged, and every http(s) fetch tries to build the client
    /// again and, failing, reports why for its own source (health `last_error`).
    pub fn new(
        build: BuildClient,
        enabled: bool,
        breaker: Breaker,
        leak_threshold: Duration,
    ) -> Self {
        let shared = match build() {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "HTTP client unavailable; http(s) feeds will fail until it can be built (file:// feeds are unaffected)");
                None
            }
        };
        HttpPool {
            inner: Arc::new(Inner {
                shared: std::sync::Mutex::new(shared),
                build,
                enabled,
                breaker: Arc::new(breaker),
                leases: Leases::default(),
                leak_threshold,
                in_flight: AtomicUsize::new(0),
                max_in_flight: AtomicUsize::new(0),
                pooled: AtomicU64::new(0),
                fresh: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                timeouts: AtomicU64::new(0),
            }),
        }
    }

    /// The client for one fetch by `holder`: the shared one, or a fresh one (plain path) when
    /// the pool is off or its breaker is open.
    pub fn lease(&self, holder: &str) -> Result<HttpLease, String> {
        let i = &self.inner;
        let pooled = i.enabled && i.breaker.allows();
        let client = if pooled {
            let mut shared = i.shared.lock().unwrap_or_else(|e| e.into_inner());
            let client = match &*shared {
                Some(c) => c.clone(),
                None => {
                    let c = (i.build)()?;
                    tracing::info!("HTTP client built");
                    shared.insert(c).clone()
                }
            };
            i.pooled.fetch_add(1, Ordering::Relaxed);
            client
        } else {
            i.fresh.fetch_add(1, Ordering::Relaxed);
            (i.build)()?
        };
        let n = i.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        i.max_in_flight.fetch_max(n, Ordering::Relaxed);
        Ok(HttpLease {
            client,
            pooled,
            lease: i.leases.acquire(holder),
            pool: i.clone(),
        })
    }

    /// Memory pressure: drop the shared client, and with it its idle keep-alive connections
    /// and TLS sessions (a fetch in flight keeps its own handle until it ends). The next
    /// fetch builds a new client. Returns whether there was one to drop.
    pub fn drop_idle(&self) -> bool {
        let mut shared = self.inner.shared.lock().unwrap_or_else(|e| e.into_inner());
        shared.take().is_some()
    }

    /// Health check: no fetch is held past the leak threshold and the breaker is not open.
    pub fn health_check(&self) -> Result<(), String> {
        let over = self.inner.leases.overdue(self.inner.leak_threshold);
        if let Some(l) = over.first() {
            return Err(format!(
                "fetch {} in flight for {} s",
                l.holder,
                l.held_for.as_secs()
            ));
        }
        if !self.inner.breaker.allows() {
            return Err(format!(
                "shared client switched off: {}",
                self.inner.breaker.last_error().unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// Log fetches held past the leak threshold (each once); returns how many were new.
    pub fn check_leaks(&self) -> usize {
        self.inner
            .leases
            .report_overdue("http", self.inner.leak_threshold)
    }

    /// Counters.
    pub fn stats(&self) -> HttpStats {
        let i = &self.inner;
        HttpStats {
            enabled: i.enabled && i.breaker.allows(),
            breaker: i.breaker.state().name(),
            in_flight: i.in_flight.load(Ordering::Relaxed),
            max_in_flight: i.max_in_flight.load(Ordering::Relaxed),
            pooled_requests: i.pooled.load(Ordering::Relaxed),
            fresh_requests: i.fresh.load(Ordering::Relaxed),
            failures: i.failures.load(Ordering::Relaxed),
            timeouts: i.timeouts.load(Ordering::Relaxed),
            leaks_reported: i.leases.leaks_reported(),
        }
    }

    /// The breaker (for reports).
    pub fn breaker(&self) -> &Arc<Breaker> {
        &self.inner.breaker
    }
}

/// A breaker for the HTTP pool (the tests' shorthand; the service builds it from
/// `FallbackSettings`).
#[cfg(test)]
pub(crate) fn breaker(threshold: u32, window: Duration, recovery: Duration) -> Breaker {
    Breaker::new(crate::breaker::Part::HttpPool, threshold, window, recovery)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build() -> BuildClient {
        Arc::new(|| {
            reqwest::Client::builder()
                .build()
                .map_err(|e| e.to_string())
        })
    }

    #[test]
    fn shared_client_when_enabled_fresh_when_not() {
        let b = breaker(3, Duration::from_secs(60), Duration::from_secs(300));
        let p = HttpPool::new(build(), true, b, Duration::from_secs(60));
        {
            let a = p.lease("fetch:a").unwrap();
            let b = p.lease("fetch:b").unwrap();
            assert!(a.is_pooled() && b.is_pooled());
            assert_eq!(p.stats().in_flight, 2);
        }
        let s = p.stats();
        assert_eq!((s.pooled_requests, s.fresh_requests), (2, 0));
        assert_eq!((s.in_flight, s.max_in_flight), (0, 2));

        let off = HttpPool::new(
            build(),
            false,
            breaker(3, Duration::from_secs(60), Duration::from_secs(300)),
            Duration::from_secs(60),
        );
        assert!(!off.lease("fetch:a").unwrap().is_pooled());
        assert_eq!(off.stats().fresh_requests, 1);
        assert!(off.health_check().is_ok());
    }

    #[test]
    fn a_client_that_cannot_be_built_yet_is_built_at_the_first_fetch_that_can() {
        // The machine has no CA store at start (the build fails), then gets one.
        let attempts = Arc::new(AtomicUsize::new(0));
        let a = attempts.clone();
        let flaky: BuildClient = Arc::new(move || {
            if a.fetch_add(1, Ordering::SeqCst) < 2 {
                Err("no CA certificates".to_string())
            } else {
                reqwest::Client::builder()
                    .build()
                    .map_err(|e| e.to_string())
            }
        });
        let b = breaker(3, Duration::from_secs(60), Duration::from_secs(300));
        let p = HttpPool::new(flaky, true, b, Duration::from_secs(60));
        let err = p.lease("fetch:a").unwrap_err();
        assert!(err.contains("no CA certificates"), "{err}");
        assert_eq!(p.stats().in_flight, 0);
        assert!(p.lease("fetch:a").unwrap().is_pooled());
        assert!(p.lease("fetch:b").unwrap().is_pooled());
        assert_eq!(
            attempts.load(Ordering::SeqCst),
            3,
            "built once, then shared"
        );
    }

    #[test]
    fn held_fetch_fails_the_health_check_with_its_holder() {
        let b = breaker(3, Duration::from_secs(60), Duration::from_secs(300));
        let p = HttpPool::new(build(), true, b, Duration::ZERO);
        let _l = p.lease("fetch:slow-feed").unwrap();
        let err = p.health_check().unwrap_err();
        assert!(err.contains("fetch:slow-feed"), "{err}");
        assert_eq!(p.check_leaks(), 1);
    }

    #[test]
    fn dropping_idle_connections_rebuilds_the_client_and_an_open_breaker_fails_health() {
        let b = breaker(1, Duration::from_secs(60), Duration::from_secs(300));
        let p = HttpPool::new(build(), true, b, Duration::from_secs(60));
        assert!(p.drop_idle(), "the client built at start is dropped");
        assert!(!p.drop_idle(), "nothing left to drop");
        let l = p.lease("fetch:a").unwrap();
        assert!(
            l.is_pooled(),
            "a new shared client is built for the next fetch"
        );
        assert!(format!("{l:?}").contains("pooled: true"));
        assert!(format!("{p:?}").contains("HttpPool"));
        drop(l);
        p.breaker().record_failure("connection refused");
        let err = p.health_check().unwrap_err();
        assert!(err.contains("connection refused"), "{err}");
        assert!(
            !p.lease("fetch:b").unwrap().is_pooled(),
            "plain path while open"
        );
    }
}
