//! The read routes' cache keys and prepared answers: what each cached answer depends on.
//!
//! Why it exists: a cache is only as correct as its keys. This module states, for each read
//! route, exactly what its answer depends on, and splits the answer into a *prepared* part
//! that is the same for every request with the same key (cached) and a cheap *rendering* that
//! depends on the exact second (done per request). Both parts are `answers` functions, so the
//! optimised and the plain path give identical answers:
//!
//! - whats-next: the chosen meeting depends on the snapshot version and on which occurrences
//!   have started and which skips have ended ([`crate::pipeline::next_epoch`]); `seconds_until_start`
//!   and the status line depend on the second and are rendered per request.
//! - done-for-day: counts the meetings still to come and says whether the last one ended, so
//!   its body depends on the second; it is cached per (version, zone, second).
//! - events: the whole body depends only on the version and the resolved window, so the
//!   serialised bytes themselves are cached.

use crate::answers;
use crate::ics::{Details, Occurrence};
use crate::pipeline::cache::CacheKey;
use crate::pipeline::memo::MemoKey;
use crate::pipeline::{Path, Pipeline, Served, next_epoch};
use crate::snapshot::Snapshot;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// The prepared "what's next": the chosen occurrence and its start, before seconds are counted.
pub type NextChoice = Option<(Occurrence, DateTime<Utc>)>;

/// Approximate heap size of an occurrence, for the cache's weigher.
fn occurrence_bytes(o: &Occurrence) -> u32 {
    (std::mem::size_of::<Occurrence>() + std::mem::size_of::<Details>() + o.details.text_len())
        as u32
}

/// The cache key of whats-next at `now`. `tz` must be the zone the snapshot is sorted in (the
/// default zone), which is what whats-next answers in.
pub fn whats_next_key(snap: &Snapshot, now: DateTime<Utc>, tz: Tz) -> CacheKey {
    CacheKey {
        route: "whats-next",
        params: tz.name().into(),
        version: snap.version,
        epoch: next_epoch(snap, now, tz),
    }
}

fn choose_next(snap: &Snapshot, now: DateTime<Utc>, tz: Tz) -> (NextChoice, u32) {
    let choice = answers::next_occurrence(snap, now, tz).map(|(o, s)| (o.clone(), s));
    let bytes = choice
        .as_ref()
        .map_or(16, |(o, _)| occurrence_bytes(o) + 16);
    (choice, bytes)
}

/// GET /api/whats-next through the pipeline: the JSON body. A repeat within the same second
/// is answered from the memo ([`crate::pipeline::memo`]); otherwise the cached choice of meeting is
/// rendered for `now`.
///
/// The kiosk's fields (`current`, `later_today`, `data_age_s`, `stale`, `time_format`) are
/// computed per answer on both paths ([`answers::add_kiosk_fields`]); the memo's key holds
/// the newest refresh success too, so a refresh is seen at once.
pub(crate) async fn whats_next(
    p: &Pipeline,
    snap: &Snapshot,
    now: DateTime<Utc>,
    tz: Tz,
    facts: &answers::KioskFacts,
) -> (Bytes, Path) {
    let skips_ended = snap.skips.values().filter(|until| **until <= now).count() as u64;
    let memo_key = MemoKey {
        data_at: facts.last_success.map(|t| t.timestamp()),
        ..MemoKey::at("whats-next", tz.name(), snap.version, skips_ended, now)
    };
    if let Some(body) = p.memo_get(&memo_key) {
        return (body, Path::Optimized(Served::Hit));
    }
    let key = whats_next_key(snap, now, tz);
    let (choice, path) = p.read(key, || choose_next(snap, now, tz)).await;
    let choice = choice.as_ref().as_ref().map(|(o, s)| (o, *s));
    let mut answer = answers::whats_next_from(choice, now, tz);
    answers::add_kiosk_fields(&mut answer, snap, choice.map(|(o, _)| o), now, tz, facts);
    let (body, _) = json_body(&answer);
    p.memo_put(memo_key, body.clone(), &path);
    (body, path)
}

/// Cache warming after a new calendar: the answers the kiosk asks for next, computed before
/// its first poll does. That is whats-next in the default zone (the kiosk page and the display
/// poll it every few seconds). done-for-day is keyed by the second and events by the
/// requester's window, so there is nothing to warm for them.
pub async fn warm(p: &Pipeline, snap: &Snapshot, now: DateTime<Utc>, tz: Tz) -> bool {
    p.warm(whats_next_key(snap, now, tz), || choose_next(snap, now, tz))
        .await
}

/// The watchdog's self-check of the optimised parts: whats-next through the optimised path
/// (see [`Pipeline::self_check`]). Returns why it failed, if it did.
pub async fn self_check(
    p: &Pipeline,
    snap: &Snapshot,
    now: DateTime<Utc>,
    tz: Tz,
) -> Option<String> {
    let key = whats_next_key(snap, now, tz);
    p.self_check(key, || choose_next(snap, now, tz)).await
}

/// GET /api/done-for-day through the pipeline: the JSON body. The answer counts meetings
/// still to come and says whether the last one has ended, so it depends on the exact second;
/// occurrence times are whole seconds, so every instant within one second gives the same
/// answer, and the key holds that second (plus version and zone).
pub async fn done_for_day_body(
    p: &Pipeline,
    snap: &Snapshot,
    now: DateTime<Utc>,
    tz: Tz,
    default_tz: Tz,
) -> (Bytes, Path) {
    let key = CacheKey {
        route: "done-for-day",
        params: format!("{}|{}", tz.name(), default_tz.name()).into(),
        version: snap.version,
        epoch: now.timestamp() as u64,
    };
    let (body, path) = p
        .read(key, || {
            let ctx = crate::voice::Ctx {
                snap,
                now,
                default_tz,
                clock_12h: false,
            };
            json_body(&crate::voice::done_for_day(&ctx, tz))
        })
        .await;
    (Bytes::clone(&body), path)
}

fn json_body<T: serde::Serialize>(v: &T) -> (Bytes, u32) {
    let body = Bytes::from(serde_json::to_vec(v).unwrap_or_default());
    let n = body.len() as u32;
    (body, n)
}

/// GET /api/events through the pipeline: the JSON body for `[from, to)`.
pub async fn events_body(
    p: &Pipeline,
    snap: &Snapshot,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: Tz,
) -> (Bytes, Path) {
    let key = CacheKey {
        route: "events",
        params: format!("{from:?}|{to:?}|{}", tz.name()).into(),
        version: snap.version,
        epoch: 0,
    };
    let (body, path) = p
        .read(key, || json_body(&answers::events_in(snap, from, to, tz)))
        .await;
    (Bytes::clone(&body), path)
}
