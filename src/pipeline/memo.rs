//! The last rendered body of a per-second answer, reused by repeats within the same second.
//!
//! Why it exists: `/api/whats-next` counts down in seconds, so the response cache can only
//! hold the *choice* of meeting (valid until the next occurrence starts or a skip ends), and
//! every request still built and serialised its answer: measured at 0.68 of a bare hyper
//! server's throughput with 16 connections, under the 0.70 target. A kiosk page, a
//! framebuffer UI and a watchdog script polling together (or a load test) ask several times a
//! second; this keeps the bytes of the last answer with everything they depend on: route,
//! parameters, snapshot version, how many skips have ended, the second of `now` and whether
//! `now` falls exactly on it (an occurrence starting at `now` exactly is "next" with 0 s to go,
//! a nanosecond later it is in progress). A repeat with the same key is a read lock and a
//! reference-counted clone; anything else computes as before and replaces the entry.
//!
//! The pipeline decides when the memo may serve ([`super::Pipeline::memo_get`]): only when
//! the optimised path itself could (layer and response cache on, no fallback, breakers closed,
//! no injected fault), so the plain path and every fallback stay exactly as they were.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Everything a memoised body depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoKey {
    /// Route name.
    pub route: &'static str,
    /// Route parameters (the zone name for whats-next).
    pub params: &'static str,
    /// Snapshot version (data and skips).
    pub version: u64,
    /// Skips ended by `now` (a skip ends at any instant, not on a version change).
    pub skips_ended: u64,
    /// `now`, whole seconds.
    pub second: i64,
    /// Whether `now` is exactly on that second.
    pub on_the_second: bool,
    /// When the data was last refreshed (Unix seconds), for answers that show its age.
    pub data_at: Option<i64>,
}

impl MemoKey {
    /// The key of `route` answered at `now`.
    pub fn at(
        route: &'static str,
        params: &'static str,
        version: u64,
        skips_ended: u64,
        now: DateTime<Utc>,
    ) -> Self {
        MemoKey {
            route,
            params,
            version,
            skips_ended,
            second: now.timestamp(),
            on_the_second: now.timestamp_subsec_nanos() == 0,
            data_at: None,
        }
    }
}

/// One remembered body per memo (the latest).
#[derive(Debug, Default)]
pub(crate) struct Memo {
    slot: RwLock<Option<(MemoKey, Bytes)>>,
    hits: AtomicU64,
}

impl Memo {
    /// The body remembered for exactly `key`.
    pub(crate) fn get(&self, key: &MemoKey) -> Option<Bytes> {
        let g = self.slot.read().unwrap_or_else(|e| e.into_inner());
        let body = g
            .as_ref()
            .filter(|(k, _)| k == key)
            .map(|(_, b)| b.clone())?;
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(body)
    }

    /// Remember `body` for `key`, replacing what was there.
    pub(crate) fn put(&self, key: MemoKey, body: Bytes) {
        *self.slot.write().unwrap_or_else(|e| e.into_inner()) = Some((key, body));
    }

    /// Forget the body (the optimised path was switched off).
    pub(crate) fn clear(&self) {
        *self.slot.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Requests answered from the memo so far.
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_body_is_reused_only_for_exactly_its_key() {
        let memo = Memo::default();
        let key = |now, version, ended| MemoKey::at("whats-next", "UTC", version, ended, t(now));
        let k = key("2025-11-05T09:00:00.250Z", 1, 0);
        assert_eq!(memo.get(&k), None);
        memo.put(k.clone(), Bytes::from_static(b"a"));
        // Same second, later instant: same answer.
        assert_eq!(
            memo.get(&key("2025-11-05T09:00:00.900Z", 1, 0)),
            Some(Bytes::from_static(b"a"))
        );
        // Exactly on the second is a different key, as are the next second, a new snapshot
        // and a skip that has ended.
        for other in [
            key("2025-11-05T09:00:00Z", 1, 0),
            key("2025-11-05T09:00:01.250Z", 1, 0),
            key("2025-11-05T09:00:00.250Z", 2, 0),
            key("2025-11-05T09:00:00.250Z", 1, 1),
            MemoKey::at("other", "UTC", 1, 0, t("2025-11-05T09:00:00.250Z")),
            MemoKey::at(
                "whats-next",
                "Europe/Berlin",
                1,
                0,
                t("2025-11-05T09:00:00.250Z"),
            ),
        ] {
            assert_eq!(memo.get(&other), None, "{other:?}");
        }
        assert_eq!(memo.hits(), 1);
        memo.clear();
        assert_eq!(memo.get(&k), None);
    }
}
