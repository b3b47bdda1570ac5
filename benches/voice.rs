//! How long the voice answers take on a large calendar: 20,000 occurrences (a year of about
//! 55 meetings a day, the store window's worst realistic case), answered from the whole
//! snapshot. Prints criterion's figures; no assertions.

use calendarbot::ics::{Details, EventText, Occurrence, Status, When};
use calendarbot::snapshot::Snapshot;
use calendarbot::voice::{self, Ctx, Params, Route};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use criterion::{Criterion, criterion_group, criterion_main};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

fn calendar(n: usize) -> Snapshot {
    let base: DateTime<Utc> = "2025-11-01T15:00:00Z".parse().unwrap();
    let mut v: Vec<Occurrence> = (0..n)
        .map(|i| {
            let day = (i / 55) as i64;
            let slot = (i % 55) as i64;
            let start = base + Duration::days(day) + Duration::minutes(slot * 10);
            Occurrence {
                details: Arc::new(Details::from(EventText {
                    uid: format!("u{i}"),
                    subject: format!("Meeting {i} & review <{slot}>"),
                    location: "Room 4".into(),
                    ..Default::default()
                })),
                start: When::Timed(start),
                end: When::Timed(start + Duration::minutes(10)),
                status: if i % 7 == 0 {
                    Status::Tentative
                } else {
                    Status::Busy
                },
                recurring: true,
                expanded: false,
            }
        })
        .collect();
    v.sort_by(|a, b| a.cmp_start_then_id(b, Tz::UTC));
    Snapshot {
        version: 1,
        occurrences: Arc::new(v),
        skips: Arc::new(HashMap::new()),
    }
}

fn bench(c: &mut Criterion) {
    let snap = calendar(20_000);
    let ctx = Ctx {
        snap: &snap,
        now: "2025-11-20T16:00:00Z".parse().unwrap(),
        default_tz: Tz::UTC,
        clock_12h: false,
    };
    let la: Tz = "America/Los_Angeles".parse().unwrap();
    let p = |q: &str, r| {
        let pairs: Vec<(String, String)> = q
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Params::parse(&pairs, r, Tz::UTC).unwrap()
    };
    let launch = p("tz=America/Los_Angeles", Route::LaunchSummary);
    let morning = p(
        "timezone=America/Los_Angeles&detail_level=verbose",
        Route::MorningSummary,
    );
    let next = p("tz=America/Los_Angeles", Route::NextMeeting);
    c.bench_function("voice/done_for_day (20k occurrences)", |b| {
        b.iter(|| black_box(voice::done_for_day(&ctx, la)))
    });
    c.bench_function("voice/next_meeting (20k)", |b| {
        b.iter(|| black_box(voice::next_meeting_answer(&ctx, &next)))
    });
    c.bench_function("voice/launch_summary (20k)", |b| {
        b.iter(|| black_box(voice::launch_summary_answer(&ctx, &launch)))
    });
    c.bench_function("voice/morning_summary verbose (20k)", |b| {
        b.iter(|| black_box(voice::morning_summary_answer(&ctx, &morning)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
