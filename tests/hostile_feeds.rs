//! Feeds built to make expansion expensive, expanded by the real `calendarbot expand` under a
//! 64 MiB data limit (`prlimit --data`, standing in for the appliance's cgroup):
//! - a YEARLY rule naming every second of the year with BYSETPOS=1,-1 (752 MB before: every
//!   candidate of a year was built before BYSETPOS picked two) and a MONTHLY one naming every
//!   second of the month, BYSETPOS=-1, COUNT=100000 from 1900 (22 s of CPU before: a day's
//!   86,400 times were rebuilt for every month since 1900) expand within the limit, in well
//!   under a second of work, to the right instances.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const DATA_LIMIT: &str = "--data=67108864";

#[test]
fn bysetpos_over_a_year_of_seconds_fits_in_64_mib() {
    let feed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hostile/bysetpos-budget.ics");
    let started = Instant::now();
    let out = Command::new("prlimit")
        .arg(DATA_LIMIT)
        .arg(env!("CARGO_BIN_EXE_calendarbot"))
        .arg("expand")
        .arg(&feed)
        .args([
            "--from",
            "2025-11-01T00:00:00Z",
            "--to",
            "2026-03-01T00:00:00Z",
        ])
        .env_clear()
        .output()
        .expect("prlimit runs");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let starts: Vec<String> = stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{} {}",
                v["uid"].as_str().unwrap(),
                v["start"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        starts,
        [
            "monthly-1900@hostile 2025-10-31T23:59:59Z",
            "monthly-1900@hostile 2025-11-30T23:59:59Z",
            "monthly-1900@hostile 2025-12-31T23:59:59Z",
            "setpos-year@hostile 2025-12-31T23:59:59Z",
            "setpos-year@hostile 2026-01-01T00:00:00Z",
            "monthly-1900@hostile 2026-01-31T23:59:59Z",
            "monthly-1900@hostile 2026-02-28T23:59:59Z",
        ],
        "{stdout}"
    );
}
