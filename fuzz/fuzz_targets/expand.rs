//! Fuzz target: arbitrary bytes → parse + expand. Must never panic, and what it returns must
//! be sane: sorted by start, every occurrence inside the window, ends not before starts,
//! field bounds respected, bounded output.
#![no_main]

// The engine crate alone (see fuzz/Cargo.toml for why not the calendarbot crate).
use calendarbot_ics::{ExpandOptions, Limits, expand_feed};
use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the default zone, so floating/all-day paths see DST zones too.
    let zones = [
        chrono_tz::UTC,
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
        chrono_tz::Australia::Sydney,
    ];
    let tz = zones[usize::from(data.first().copied().unwrap_or(0)) % zones.len()];
    let limits = Limits {
        max_occurrences_per_rule: 2_000,
        max_occurrences_per_feed: 20_000,
        ..Limits::default()
    };
    let opts = ExpandOptions {
        default_tz: tz,
        from: Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap(),
        limits: limits.clone(),
    };
    let Ok(exp) = expand_feed(data, &opts) else {
        return;
    };
    assert!(exp.occurrences.len() <= limits.max_occurrences_per_feed);
    let mut last = None;
    for o in &exp.occurrences {
        let s = o.start_utc(tz);
        let e = o.end_utc(tz);
        assert!(e >= s, "end before start: {o:?}");
        if e > s {
            assert!(e > opts.from && s < opts.to, "outside window: {o:?}");
        } else {
            assert!(s >= opts.from && s < opts.to, "outside window: {o:?}");
        }
        assert!(o.details.subject().chars().count() <= limits.max_subject_chars);
        assert!(o.details.location().chars().count() <= limits.max_location_chars);
        assert!(o.details.description().chars().count() <= limits.max_description_chars);
        if let Some(l) = last {
            assert!(s >= l, "not sorted");
        }
        last = Some(s);
    }
});
