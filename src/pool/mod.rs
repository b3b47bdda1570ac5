//! The connection manager: the SQLite pool and the shared HTTP client, with their plain
//! paths, counters, leak detection and health checks (SPEC §7).
//!
//! Why it exists: connections are the scarce, slow-to-make resources of the kiosk (an SD-card
//! database, TLS connections to calendar servers). Both pools follow the same rules, so they
//! live together: a checkout names its holder ([`leak`]), a connection held past a threshold is
//! logged with that name by [`leak_check`], and every failure of a pool falls back to a
//! fresh connection (the plain path) within the same call.
//!
//! - [`sqlite`]: one writer plus a few readers (WAL), or a fresh connection per call.
//! - [`http`]: one shared `reqwest::Client`, or a fresh client per fetch.
//! - [`leak`]: the lease registry both use.

pub(crate) mod http;
pub(crate) mod leak;
pub(crate) mod sqlite;

use std::time::Duration;

/// Check both pools for leaked connections every `period` (each leak is logged once, with
/// its holder). Runs until the task is aborted or the runtime ends.
pub(crate) async fn leak_check(
    sqlite: Option<sqlite::SqlitePool>,
    http: Option<http::HttpPool>,
    period: Duration,
) {
    {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Some(p) = &sqlite {
                p.check_leaks();
            }
            if let Some(p) = &http {
                p.check_leaks();
            }
        }
    }
}
