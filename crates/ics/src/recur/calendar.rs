//! Calendar arithmetic the rule engine needs: month and year lengths, ISO-style week numbers
//! for any week start, and "the n-th weekday" of a month or year (RFC 5545 §3.3.10).

use chrono::{Datelike, Duration, NaiveDate, Weekday};

pub(super) fn days_in_month(y: i32, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map(|d| d.day())
        .unwrap_or(31)
}

pub(super) fn days_in_year(y: i32) -> i32 {
    if NaiveDate::from_ymd_opt(y, 2, 29).is_some() {
        366
    } else {
        365
    }
}

/// First day of week 1 of `year` for a week starting on `wkst` (RFC 5545: week 1 is the first
/// week with at least four days in the year).
pub(super) fn week1_start(year: i32, wkst: Weekday) -> NaiveDate {
    let jan1 = NaiveDate::from_ymd_opt(year, 1, 1).expect("jan 1");
    let back = (7 + jan1.weekday().num_days_from_monday() - wkst.num_days_from_monday()) % 7;
    let start = jan1 - Duration::days(i64::from(back));
    // If the week holding Jan 1 has fewer than 4 days in the year, week 1 is the next one.
    if 7 - back < 4 {
        start + Duration::days(7)
    } else {
        start
    }
}

/// (week-numbering year, week number, weeks in that year) of `d`.
pub(super) fn week_number(d: NaiveDate, wkst: Weekday) -> (i32, i32, i32) {
    let back = (7 + d.weekday().num_days_from_monday() - wkst.num_days_from_monday()) % 7;
    let ws = d - Duration::days(i64::from(back));
    let wy = (ws + Duration::days(3)).year();
    let w1 = week1_start(wy, wkst);
    let next = week1_start(wy + 1, wkst);
    let n = ((ws - w1).num_days() / 7 + 1) as i32;
    let total = ((next - w1).num_days() / 7) as i32;
    (wy, n, total)
}

pub(super) fn nth_weekday_matches(d: NaiveDate, n: i32, wd: Weekday, within_month: bool) -> bool {
    if d.weekday() != wd {
        return false;
    }
    let (idx, len) = if within_month {
        (d.day() as i32, days_in_month(d.year(), d.month()) as i32)
    } else {
        (d.ordinal() as i32, days_in_year(d.year()))
    };
    if n > 0 {
        (idx - 1) / 7 + 1 == n
    } else {
        (len - idx) / 7 + 1 == -n
    }
}
