//! Feeds built to make expansion expensive, expanded by the real `calendarbot expand` under a
//! 64 MiB data limit (`prlimit --data`, standing in for the appliance's cgroup):
//! - a YEARLY rule naming every second of the year with BYSETPOS=1,-1 (752 MB before: every
//!   candidate of a year was built before BYSETPOS picked two) and a MONTHLY one naming every
//!   second of the month, BYSETPOS=-1, COUNT=100000 from 1900 (22 s of CPU before: a day's
//!   86,400 times were rebuilt for every month since 1900) expand within the limit, in well
//!   under a second of work, to the right instances.
//!
//! And the service (feature `fault-injection`, for a 1 s refresh interval): the real binary,
//! held to a 64 MiB data limit once its first good refresh is in, is served a feed over each
//! hard budget of the engine (docs/engine.md, "Budgets"). For each it must keep serving the
//! last good meeting, stay up, name the budget and the event in the source's `last_error`,
//! and count the refusal in `/metrics` (`calendarbot_feed_budget_refusals_total`):
//! - `rule_candidates`: a YEARLY rule naming every second of the year with a huge COUNT from
//!   1900 (before: a year's 31 million candidates were built per period, an abort under the
//!   limit; then minutes of CPU counting them);
//! - `feed_candidates`: 3,000 events whose YEARLY rule never matches (Feb 30) with a COUNT,
//!   walked from year 1 (before: accepted after seconds of CPU, emptying the calendar);
//! - `zones`: 5,000 events, each in its own VTIMEZONE-only zone (before: 113 MB and 9 s);
//! - `zone_transitions`: one VTIMEZONE whose observances list 200,000 RDATE transitions.

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

#[cfg(feature = "fault-injection")]
mod support;

#[cfg(feature = "fault-injection")]
mod service {
    use super::support::{Binary, FeedServer, Mode, ics, wait_for};

    const SUBJECT: &str = "Budget review";

    /// Every second of the year, as RRULE parts.
    fn all_seconds() -> String {
        let list = |lo: u32, hi: u32| {
            (lo..=hi)
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "BYMONTH={};BYMONTHDAY={};BYHOUR={};BYMINUTE={};BYSECOND={}",
            list(1, 12),
            list(1, 31),
            list(0, 23),
            list(0, 59),
            list(0, 59)
        )
    }

    fn calendar(parts: &[String]) -> Vec<u8> {
        let mut s = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//hostile//EN\r\n");
        for p in parts {
            s.push_str(p);
        }
        s.push_str("END:VCALENDAR\r\n");
        s.into_bytes()
    }

    fn event(uid: &str, dtstart: &str, rule: Option<&str>) -> String {
        let rule = rule.map(|r| format!("RRULE:{r}\r\n")).unwrap_or_default();
        format!(
            "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20250101T000000Z\r\nDTSTART{dtstart}\r\n\
             DURATION:PT30M\r\nSUMMARY:{uid}\r\n{rule}END:VEVENT\r\n"
        )
    }

    /// A VTIMEZONE-only zone (Outlook's "Customized Time Zone" shape), with `rdates` extra
    /// transitions in its STANDARD observance.
    fn vtimezone(tzid: &str, rdates: &str) -> String {
        format!(
            "BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\nBEGIN:STANDARD\r\nDTSTART:16010101T030000\r\n\
             TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\n\
             {rdates}END:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\n\
             TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n\
             END:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
        )
    }

    /// Serve a good feed, hold the kiosk to 64 MiB of data, serve `hostile`, and check that
    /// the refusal names `budget` and the event (its UID starts with `uid`) while the good
    /// meeting stays.
    fn refused(hostile: Vec<u8>, budget: &str, uid: &str) {
        let feed = FeedServer::start(Mode::Ok {
            body: ics(&[("budget-1", SUBJECT, 120, 30)]),
            etag: "\"v1\"".into(),
        });
        let dir = tempfile::tempdir().unwrap();
        let k = Binary::start_answering(
            &dir.path().join("data"),
            &[
                ("CALENDARBOT_ICS_URL", feed.url()),
                ("CALENDARBOT_REFRESH_INTERVAL", "1".into()),
            ],
        );
        wait_for(20, "the first good refresh", || {
            (k.next_subject().as_deref() == Some(SUBJECT)).then_some(())
        });
        let limited = std::process::Command::new("prlimit")
            .args(["--pid", &k.child.id().to_string(), super::DATA_LIMIT])
            .status()
            .expect("prlimit runs");
        assert!(limited.success());
        feed.set(Mode::Ok {
            body: hostile,
            etag: "\"v2\"".into(),
        });
        let h = wait_for(60, "the hostile feed to be refused", || {
            let (_, h) = k.source_health("default");
            h["last_error"]
                .as_str()?
                .contains("over budget")
                .then_some(h)
        });
        let err = h["last_error"].as_str().unwrap();
        assert!(err.contains(budget), "{err}");
        assert!(err.contains(&format!("event \"{uid}")), "{err}");
        assert_eq!(k.next_subject().as_deref(), Some(SUBJECT), "{}", k.log());
        let metrics = super::support::client()
            .get(k.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        let line = format!(
            "calendarbot_feed_budget_refusals_total{{source=\"default\",budget=\"{budget}\"}} "
        );
        let count: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&line))
            .unwrap_or_else(|| panic!("no {line:?} in\n{metrics}"))
            .parse()
            .unwrap();
        assert!(count >= 1, "{metrics}");
        let mut k = k;
        assert!(k.child.try_wait().unwrap().is_none(), "{}", k.log());
        k.stop();
    }

    #[test]
    fn a_rule_over_its_candidate_budget_is_refused() {
        let rule = format!("FREQ=YEARLY;{};COUNT=999999999999", all_seconds());
        let feed = calendar(&[event(
            "count-seconds@hostile",
            ":19000101T000000Z",
            Some(&rule),
        )]);
        refused(feed, "rule_candidates", "count-seconds@hostile");
    }

    #[test]
    fn a_feed_over_its_candidate_budget_is_refused() {
        let events: Vec<String> = (0..3000)
            .map(|i| {
                event(
                    &format!("never-{i}@hostile"),
                    ":00010101T000000Z",
                    Some("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;COUNT=5"),
                )
            })
            .collect();
        // 10,000,000 candidates at about 57,000 per event: the 175th or so runs out.
        refused(calendar(&events), "feed_candidates", "never-1");
    }

    #[test]
    fn a_feed_naming_too_many_zones_is_refused() {
        let mut parts: Vec<String> = (0..5000)
            .map(|i| vtimezone(&format!("Custom {i}"), ""))
            .collect();
        parts.extend((0..5000).map(|i| {
            event(
                &format!("zone-{i}@hostile"),
                &format!(";TZID=Custom {i}:20261201T090000"),
                None,
            )
        }));
        // 200 zones are allowed: the 201st event's zone is one too many.
        refused(calendar(&parts), "zones", "zone-200@hostile");
    }

    #[test]
    fn a_zone_with_too_many_transitions_is_refused() {
        let rdates: String = (0..2000)
            .map(|line| {
                let values: Vec<String> = (0..100)
                    .map(|i| {
                        let d = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap()
                            + chrono::Duration::days(line * 100 + i);
                        d.format("%Y%m%dT030000").to_string()
                    })
                    .collect();
                format!("RDATE:{}\r\n", values.join(","))
            })
            .collect();
        let parts = [
            vtimezone("Many Transitions", &rdates),
            event(
                "transitions@hostile",
                ";TZID=Many Transitions:20261201T090000",
                None,
            ),
        ];
        refused(calendar(&parts), "zone_transitions", "transitions@hostile");
    }
}
