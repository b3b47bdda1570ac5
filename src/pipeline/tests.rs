//! Unit tests of the read path, the memo and the epoch.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

fn cfg() -> OptimizationConfig {
    OptimizationConfig::default()
}

fn key(epoch: u64) -> CacheKey {
    CacheKey {
        route: "test",
        params: "".into(),
        version: 1,
        epoch,
    }
}

#[test]
fn memo_serves_only_while_the_optimised_path_may() {
    let key = memo::MemoKey::at("whats-next", "UTC", 1, 0, Utc::now());
    let body = bytes::Bytes::from_static(b"{}");
    let optimized = Path::Optimized(Served::Computed);

    let p = Pipeline::new(&cfg(), Reported::default());
    p.memo_put(key.clone(), body.clone(), &optimized);
    assert_eq!(p.memo_get(&key), Some(body.clone()));
    // The service switched to the plain path: the memo neither serves nor keeps bodies.
    p.mode().force_fallback("test stall", None);
    assert_eq!(p.memo_get(&key), None);
    p.mode().restore();
    p.memo_put(
        key.clone(),
        body.clone(),
        &Path::Plain(PlainReason::FlagsOff),
    );
    assert_eq!(
        p.memo_get(&key),
        None,
        "a plain-path body is never memoised"
    );
    let served = p
        .monitor
        .requests()
        .get(&("whats-next".to_string(), "optimized/hit".to_string()))
        .copied();
    assert_eq!(served, Some(1), "a memo answer is counted as a cache hit");

    // Layer or cache switched off by configuration: no memo at all.
    for off in [
        OptimizationConfig {
            enabled: false,
            ..cfg()
        },
        OptimizationConfig {
            response_cache: false,
            ..cfg()
        },
    ] {
        let p = Pipeline::new(&off, Reported::default());
        p.memo_put(key.clone(), body.clone(), &optimized);
        assert_eq!(p.memo_get(&key), None);
    }
}

#[tokio::test]
async fn optimised_path_caches_and_plain_path_computes() {
    let p = Pipeline::new(&cfg(), Reported::default());
    let runs = AtomicUsize::new(0);
    let compute = || {
        runs.fetch_add(1, Ordering::SeqCst);
        ("answer".to_string(), 6)
    };
    let (a, pa) = p.read(key(0), compute).await;
    let (b, pb) = p.read(key(0), compute).await;
    assert_eq!((a.as_str(), b.as_str()), ("answer", "answer"));
    assert_eq!(pa, Path::Optimized(Served::Computed));
    assert_eq!(pb, Path::Optimized(Served::Hit));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(pb.header_value(), "optimized; cache=hit");

    let off = Pipeline::new(
        &OptimizationConfig {
            enabled: false,
            ..cfg()
        },
        Reported::default(),
    );
    let (c, pc) = off.read(key(0), compute).await;
    assert_eq!(c.as_str(), "answer");
    assert_eq!(pc, Path::Plain(PlainReason::LayerDisabled));
    assert_eq!(off.mode_report().mode, "fallback");
    assert_eq!(p.mode_report().mode, "optimized");
}

#[tokio::test]
async fn service_fallback_is_reported_per_request_and_in_the_mode() {
    let p = Pipeline::new(&cfg(), Reported::default());
    p.mode().force_fallback("unclean exit", None);
    let (_, path) = p.read(key(0), || (1u8, 1)).await;
    assert_eq!(
        path,
        Path::Plain(PlainReason::ServiceFallback("unclean exit".into()))
    );
    assert_eq!(p.mode_report().reason, "unclean exit");
    assert!(p.status_line().starts_with("mode=fallback"));
    let report = p.report();
    assert_eq!(report["mode"], "fallback");
    assert_eq!(report["flags"]["response_cache"], true);
}

#[test]
fn epoch_changes_exactly_when_an_occurrence_starts_or_a_skip_ends() {
    use crate::ics::{Details, EventText, Occurrence, Status, When};
    use chrono::TimeZone;
    let t = |h, m, s| Utc.with_ymd_and_hms(2025, 11, 5, h, m, s).unwrap();
    let occ = |id: &str, start| Occurrence {
        details: Arc::new(Details::from(EventText {
            uid: id.into(),
            subject: id.into(),
            ..Default::default()
        })),
        start: When::Timed(start),
        end: When::Timed(start + chrono::Duration::minutes(30)),
        status: Status::Busy,
        recurring: false,
        expanded: false,
    };
    let snap = Snapshot {
        version: 1,
        occurrences: Arc::new(vec![occ("a", t(9, 0, 0)), occ("b", t(10, 0, 0))]),
        skips: Arc::new([(Arc::from("a"), t(9, 30, 0))].into_iter().collect()),
    };
    let tz = chrono_tz::UTC;
    let e = |now| next_epoch(&snap, now, tz);
    assert_eq!(
        e(t(8, 0, 0)),
        e(t(9, 0, 0)),
        "a starting this second is still next"
    );
    assert_ne!(e(t(9, 0, 0)), e(t(9, 0, 1)));
    assert_eq!(e(t(9, 0, 1)), e(t(9, 29, 59)));
    assert_ne!(e(t(9, 29, 59)), e(t(9, 30, 0)), "the skip ended");
    assert_eq!(e(t(9, 30, 0)), e(t(10, 0, 0)));
    assert_ne!(e(t(10, 0, 0)), e(t(10, 0, 1)));
}
