//! Engine benchmark: CPU time of parse + expand of one feed over the SPEC window
//! (7 days back, 365 days ahead of the feed's anchor), in a release build.
//!
//! Why a plain `main` instead of criterion: the figure that matters is "one refresh of a big
//! feed on a Pi", i.e. a few whole runs, and ci/bench-engine.sh also needs the peak RSS of a
//! single parse, which it measures by running this binary once under `/usr/bin/time -v`.
//!
//! Usage: `cargo bench --bench engine -- FILE [ANCHOR=YYYY-MM-DD] [ITERATIONS]`
//! (ITERATIONS 1 = one run, for RSS measurement).

use std::time::Instant;

use calendarbot::ics::{ExpandOptions, Limits, expand_feed};
use chrono::{Duration, NaiveDate};

/// User + system CPU seconds of this process so far (Linux /proc; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the ")" that ends the command name: utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(file) = args.first() else {
        eprintln!("usage: engine FILE [ANCHOR] [ITERATIONS]");
        std::process::exit(2);
    };
    let anchor = args
        .get(1)
        .and_then(|a| NaiveDate::parse_from_str(a, "%Y-%m-%d").ok())
        .unwrap_or(NaiveDate::from_ymd_opt(2026, 3, 2).expect("date"));
    let iterations: u32 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(20);
    let now = anchor.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
    let opts = ExpandOptions {
        default_tz: chrono_tz::UTC,
        from: now - Duration::days(7),
        to: now + Duration::days(365),
        limits: Limits::default(),
    };
    let bytes = std::fs::read(file).expect("read feed");
    let mut walls = Vec::new();
    let cpu0 = cpu_seconds();
    let mut count = 0;
    for _ in 0..iterations.max(1) {
        let t = Instant::now();
        let exp = expand_feed(&bytes, &opts).expect("a calendar");
        walls.push(t.elapsed().as_secs_f64());
        count = exp.occurrences.len();
        std::hint::black_box(&exp);
    }
    let cpu = (cpu_seconds() - cpu0) / f64::from(iterations.max(1));
    walls.sort_by(f64::total_cmp);
    let median = walls[walls.len() / 2];
    println!(
        "feed {file}: {} bytes, {count} occurrences in the window",
        bytes.len()
    );
    println!(
        "parse+expand: median wall {:.1} ms, min {:.1} ms, CPU {:.1} ms/run over {} runs",
        median * 1e3,
        walls[0] * 1e3,
        cpu * 1e3,
        walls.len()
    );
}
