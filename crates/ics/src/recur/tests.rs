//! Unit tests of the RRULE engine: RFC 5545 examples, edge cases, seeking.

use super::*;

fn dt(s: &str) -> NaiveDateTime {
    parse_naive_datetime(s).expect("date-time")
}

fn take(rule: &str, start: &str, n: usize) -> Vec<String> {
    let r = RRule::parse(rule).expect("rule");
    RuleIter::new(&r, dt(start))
        .take(n)
        .map(|d| d.format("%Y%m%dT%H%M%S").to_string())
        .collect()
}

#[test]
fn byday_ending_in_a_multibyte_character_is_an_error_not_a_panic() {
    // Fuzz-found: the last two bytes of "MO\u{FFFD}" fall inside the replacement character.
    for v in ["MO\u{FFFD}", "\u{FFFD}", "1\u{e9}", "\u{e9}", "M"] {
        let e = RRule::parse(&format!("FREQ=WEEKLY;BYDAY={v}")).unwrap_err();
        assert!(e.to_string().contains("BYDAY"), "{v}: {e}");
    }
    assert!(RRule::parse("FREQ=WEEKLY;BYDAY=-1MO").is_ok());
}

#[test]
fn rfc5545_examples() {
    // "Monthly on the first and last day of the month for 10 occurrences" (3.8.5.3).
    assert_eq!(
        take("FREQ=MONTHLY;BYMONTHDAY=1,-1", "19970930T090000", 4),
        [
            "19970930T090000",
            "19971001T090000",
            "19971031T090000",
            "19971101T090000"
        ]
    );
    // "Every Friday the 13th".
    assert_eq!(
        take("FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13", "19970902T090000", 3),
        ["19980213T090000", "19980313T090000", "19981113T090000"]
    );
    // "The third instance into the month of one of Tuesday, Wednesday, or Thursday".
    assert_eq!(
        take(
            "FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3",
            "19970904T090000",
            3
        ),
        ["19970904T090000", "19971007T090000", "19971106T090000"]
    );
    // "Monday of week number 20".
    assert_eq!(
        take("FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO", "19970512T090000", 3),
        ["19970512T090000", "19980511T090000", "19990517T090000"]
    );
    // WKST changes the result (RFC example: SU vs MO).
    assert_eq!(
        take(
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;WKST=SU",
            "19970805T090000",
            4
        ),
        [
            "19970805T090000",
            "19970817T090000",
            "19970819T090000",
            "19970831T090000"
        ]
    );
    assert_eq!(
        take(
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;WKST=MO",
            "19970805T090000",
            4
        ),
        [
            "19970805T090000",
            "19970810T090000",
            "19970819T090000",
            "19970824T090000"
        ]
    );
    // "Every 20th Monday of the year".
    assert_eq!(
        take("FREQ=YEARLY;BYDAY=20MO", "19970519T090000", 2),
        ["19970519T090000", "19980518T090000"]
    );
    // "Every 3 hours from 09:00 to 17:00 on a specific day" (INTERVAL with UNTIL left to
    // the caller): the first four.
    assert_eq!(
        take("FREQ=HOURLY;INTERVAL=3", "19970902T090000", 4),
        [
            "19970902T090000",
            "19970902T120000",
            "19970902T150000",
            "19970902T180000"
        ]
    );
    // "Every day in January, for 3 years" (yearly form).
    assert_eq!(
        take(
            "FREQ=YEARLY;BYMONTH=1;BYDAY=SU,MO,TU,WE,TH,FR,SA",
            "19980101T090000",
            2
        ),
        ["19980101T090000", "19980102T090000"]
    );
}

#[test]
fn invalid_rules_are_errors() {
    for bad in [
        "",
        "FREQ=FORTNIGHTLY",
        "FREQ=DAILY;BYHOUR=24",
        "FREQ=DAILY;BYDAY=XX",
        "FREQ=DAILY;COUNT=-1",
        "FREQ=DAILY;COUNT=0",
        "FREQ=MONTHLY;BYMONTHDAY=0",
        "FREQ=DAILY;UNTIL=tomorrow",
    ] {
        assert!(RRule::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_bad_count_beside_until_is_ignored() {
    let r = RRule::parse("FREQ=WEEKLY;UNTIL=20240331;COUNT=-1;INTERVAL=4;BYDAY=MO").unwrap();
    assert_eq!(r.count, None);
    assert_eq!(
        r.until,
        Some(Until::Date(NaiveDate::from_ymd_opt(2024, 3, 31).unwrap()))
    );
    assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
    assert!(RRule::parse("FREQ=WEEKLY;COUNT=-1").is_err());
    assert!(
        RRule::parse("FREQ=WEEKLY;COUNT=5")
            .unwrap()
            .notes
            .is_empty()
    );
}

#[test]
fn a_date_series_drops_time_parts() {
    let r = RRule::parse("FREQ=DAILY;BYMINUTE=1,2,3,4;BYHOUR=5;BYSECOND=6;INTERVAL=2").unwrap();
    let d = r.for_dates();
    assert!(d.byminute.is_empty() && d.byhour.is_empty() && d.bysecond.is_empty());
    assert_eq!(d.interval, 2);
    let plain = RRule::parse("FREQ=DAILY").unwrap();
    assert!(matches!(plain.for_dates(), std::borrow::Cow::Borrowed(_)));
}

/// Seeking must never lose or invent an instance: for each rule and target, the instances
/// after a seek equal the instances of a full walk from DTSTART that are at or after the
/// target (within a horizon).
#[test]
fn seek_matches_a_full_walk() {
    let rules = [
        "FREQ=DAILY",
        "FREQ=DAILY;INTERVAL=3",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH",
        "FREQ=WEEKLY;BYDAY=SU;WKST=SU",
        "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=31",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "FREQ=HOURLY;INTERVAL=7;BYDAY=MO,WE",
        "FREQ=MINUTELY;INTERVAL=97;BYHOUR=9,10",
        "FREQ=YEARLY;BYWEEKNO=1,-1;BYDAY=MO",
    ];
    let start = dt("20200131T093000");
    let horizon = dt("20270101T000000");
    for rule in rules {
        let r = RRule::parse(rule).unwrap();
        let all: Vec<NaiveDateTime> = RuleIter::new(&r, start)
            .take_while(|d| *d < horizon)
            .collect();
        for target in [
            "20200131T093000",
            "20230315T000000",
            "20250228T231500",
            "20261231T000000",
        ] {
            let t = dt(target);
            let mut it = RuleIter::new(&r, start);
            it.seek(t);
            let after: Vec<NaiveDateTime> = it
                .skip_while(|d| *d < t)
                .take_while(|d| *d < horizon)
                .collect();
            let want: Vec<NaiveDateTime> = all.iter().copied().filter(|d| *d >= t).collect();
            assert_eq!(after, want, "{rule} seek {target}");
            // skip_before leaves out exactly the current period's candidates before t.
            let mut it = RuleIter::new(&r, start);
            it.seek(t);
            it.skip_before(t);
            let skipped: Vec<NaiveDateTime> = it.take_while(|d| *d < horizon).collect();
            assert_eq!(skipped, want, "{rule} seek + skip_before {target}");
        }
    }
}

#[test]
fn a_year_of_seconds_is_generated_lazily() {
    // 31.6 million candidates a year: only the ones asked for are made, and BYSETPOS picks by
    // index (the whole set was built before: 752 MB).
    let all = "BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,\
               16,17,18,19,20,21,22,23;BYMINUTE=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,\
               19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,\
               45,46,47,48,49,50,51,52,53,54,55,56,57,58,59;BYSECOND=0,1,2,3,4,5,6,7,8,9,10,\
               11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,\
               37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59";
    let r = RRule::parse(&format!("FREQ=YEARLY;BYMONTHDAY=-1;{all}")).unwrap();
    let mut it = RuleIter::new(&r, dt("20240101T000000"));
    let first: Vec<_> = it.by_ref().take(3).collect();
    assert_eq!(
        first,
        [
            dt("20240131T000000"),
            dt("20240131T000001"),
            dt("20240131T000002")
        ]
    );
    assert!(it.work < 1_000, "{} candidates examined", it.work);
    it.skip_before(dt("20241231T235958"));
    assert_eq!(
        it.take(3).collect::<Vec<_>>(),
        [
            dt("20241231T235958"),
            dt("20241231T235959"),
            dt("20250131T000000")
        ]
    );
}
