//! The RRULE engine (RFC 5545 §3.3.10): a rule plus a local DTSTART → local date-times in order.
//!
//! Why it is hand-written rather than the `rrule` crate: `rrule` 0.14 rejects Windows TZIDs and
//! many real-world UNTIL/DTSTART combinations (iCloud's local UNTIL, UNTIL as DATE with a
//! DATE-TIME start), cannot start iterating in the middle of a series (a DAILY rule from 2010 is
//! walked from 2010), and has a sub-daily DST bug (fmeringdal/rust-rrule#115). `calcard`'s engine
//! is not public and its `expand_dates` drops the last occurrence of a UTC UNTIL. The algorithm
//! here is the classic one (python-dateutil, libical): walk periods of FREQ×INTERVAL, build each
//! period's candidate set from the BYxxx parts, apply BYSETPOS, emit in order.
//!
//! Everything is computed on *wall-clock* (naive local) date-times in the event's own zone, so a
//! 09:00 meeting stays at 09:00 across DST; converting to instants, UNTIL, COUNT and the window
//! are the caller's business ([`RuleIter`] gives the hooks). [`RuleIter::seek`] jumps straight
//! to a period near the window for rules whose position does not depend on counting.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Weekday};

/// FREQ, ordered from the shortest to the longest period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Freq {
    /// Every second.
    Secondly,
    /// Every minute.
    Minutely,
    /// Every hour.
    Hourly,
    /// Every day.
    Daily,
    /// Every week.
    Weekly,
    /// Every month.
    Monthly,
    /// Every year.
    Yearly,
}

/// UNTIL as written: its form decides how it is compared (see the module docs of `expand`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// `…Z`: an instant in UTC.
    Utc(NaiveDateTime),
    /// No `Z`: a wall-clock time in the event's zone (iCloud, floating events).
    Local(NaiveDateTime),
    /// A DATE: the whole day counts (in the event's zone).
    Date(NaiveDate),
}

/// A parsed RRULE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RRule {
    /// FREQ.
    pub freq: Freq,
    /// INTERVAL (≥ 1).
    pub interval: u32,
    /// COUNT, if given.
    pub count: Option<u64>,
    /// UNTIL, if given.
    pub until: Option<Until>,
    /// BYSECOND (0–60; 60 is treated as 59 by the date library, so it is dropped).
    pub bysecond: Vec<u32>,
    /// BYMINUTE.
    pub byminute: Vec<u32>,
    /// BYHOUR.
    pub byhour: Vec<u32>,
    /// BYDAY: ordinal (0 = every) and weekday.
    pub byday: Vec<(i32, Weekday)>,
    /// BYMONTHDAY (±1–31).
    pub bymonthday: Vec<i32>,
    /// BYYEARDAY (±1–366).
    pub byyearday: Vec<i32>,
    /// BYWEEKNO (±1–53).
    pub byweekno: Vec<i32>,
    /// BYMONTH (1–12).
    pub bymonth: Vec<u32>,
    /// BYSETPOS (±1–366).
    pub bysetpos: Vec<i32>,
    /// WKST (default Monday).
    pub wkst: Weekday,
    /// Parts that were repaired or ignored while parsing (for warnings and `check-feed`).
    pub notes: Vec<String>,
}

/// Why an RRULE could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RRULE: {0}")]
pub struct RuleError(pub String);

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

/// Parse a date or date-time as written in UNTIL / DTSTART values (basic ISO form).
pub fn parse_until(v: &str) -> Option<Until> {
    let v = v.trim();
    if let Some(body) = v.strip_suffix(['Z', 'z']) {
        return parse_naive_datetime(body).map(Until::Utc);
    }
    if let Some(dt) = parse_naive_datetime(v) {
        return Some(Until::Local(dt));
    }
    parse_naive_date(v).map(Until::Date)
}

/// `YYYYMMDD` (also tolerates `YYYY-MM-DD`).
pub fn parse_naive_date(v: &str) -> Option<NaiveDate> {
    let v = v.trim();
    let digits: String = v.chars().filter(|c| *c != '-').collect();
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y = digits[0..4].parse().ok()?;
    let m = digits[4..6].parse().ok()?;
    let d = digits[6..8].parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

/// `YYYYMMDDTHHMMSS` (also tolerates `-`/`:` separators, missing seconds, fractions, and a
/// leap second 60 read as 59).
pub fn parse_naive_datetime(v: &str) -> Option<NaiveDateTime> {
    let (d, t) = v.trim().split_once(['T', 't'])?;
    let date = parse_naive_date(d)?;
    let t: String = t
        .chars()
        .take_while(|c| *c != '.' && *c != ',')
        .filter(|c| *c != ':')
        .collect();
    if !t.bytes().all(|b| b.is_ascii_digit()) || !(t.len() == 4 || t.len() == 6) {
        return None;
    }
    let h: u32 = t[0..2].parse().ok()?;
    let m: u32 = t[2..4].parse().ok()?;
    let s: u32 = if t.len() == 6 {
        t[4..6].parse().ok()?
    } else {
        0
    };
    let time = NaiveTime::from_hms_opt(h, m, s.min(59))?;
    Some(date.and_time(time))
}

fn int_list(v: &str, lo: i32, hi: i32, allow_neg: bool, what: &str) -> Result<Vec<i32>, RuleError> {
    let mut out = Vec::new();
    for part in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let n: i32 = part
            .trim_start_matches('+')
            .parse()
            .map_err(|_| RuleError(format!("{what}={v}")))?;
        let a = n.abs();
        if a < lo || a > hi || (n < 0 && !allow_neg) || n == 0 && lo > 0 {
            return Err(RuleError(format!("{what}={v}")));
        }
        if !out.contains(&n) {
            out.push(n);
        }
    }
    Ok(out)
}

impl RRule {
    /// Parse an RRULE value (`FREQ=WEEKLY;BYDAY=MO;…`). Unknown parts are ignored; a missing
    /// or unknown FREQ and out-of-range values are errors.
    pub fn parse(value: &str) -> Result<RRule, RuleError> {
        let mut freq = None;
        let mut r = RRule {
            freq: Freq::Daily,
            interval: 1,
            count: None,
            until: None,
            bysecond: vec![],
            byminute: vec![],
            byhour: vec![],
            byday: vec![],
            bymonthday: vec![],
            byyearday: vec![],
            byweekno: vec![],
            bymonth: vec![],
            bysetpos: vec![],
            wkst: Weekday::Mon,
            notes: vec![],
        };
        // A COUNT that is not a positive integer (Confluence writes `COUNT=-1` next to UNTIL).
        let mut bad_count: Option<String> = None;
        for part in value.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            let k = k.trim().to_ascii_uppercase();
            let v = v.trim().to_ascii_uppercase();
            match k.as_str() {
                "FREQ" => {
                    freq = Some(match v.as_str() {
                        "SECONDLY" => Freq::Secondly,
                        "MINUTELY" => Freq::Minutely,
                        "HOURLY" => Freq::Hourly,
                        "DAILY" => Freq::Daily,
                        "WEEKLY" => Freq::Weekly,
                        "MONTHLY" => Freq::Monthly,
                        "YEARLY" => Freq::Yearly,
                        _ => return Err(RuleError(format!("FREQ={v}"))),
                    })
                }
                "INTERVAL" => {
                    let n: u32 = v.parse().map_err(|_| RuleError(format!("INTERVAL={v}")))?;
                    r.interval = n.max(1);
                }
                "COUNT" => match v.parse::<u64>() {
                    Ok(n) if n > 0 => r.count = Some(n),
                    _ => bad_count = Some(v),
                },
                "UNTIL" => {
                    r.until = Some(parse_until(&v).ok_or_else(|| RuleError(format!("UNTIL={v}")))?)
                }
                "BYSECOND" => {
                    r.bysecond = int_list(&v, 0, 60, false, "BYSECOND")?
                        .into_iter()
                        .map(|n| n.min(59) as u32)
                        .collect()
                }
                "BYMINUTE" => {
                    r.byminute = int_list(&v, 0, 59, false, "BYMINUTE")?
                        .into_iter()
                        .map(|n| n as u32)
                        .collect()
                }
                "BYHOUR" => {
                    r.byhour = int_list(&v, 0, 23, false, "BYHOUR")?
                        .into_iter()
                        .map(|n| n as u32)
                        .collect()
                }
                "BYMONTH" => {
                    r.bymonth = int_list(&v, 1, 12, false, "BYMONTH")?
                        .into_iter()
                        .map(|n| n as u32)
                        .collect()
                }
                "BYMONTHDAY" => r.bymonthday = int_list(&v, 1, 31, true, "BYMONTHDAY")?,
                "BYYEARDAY" => r.byyearday = int_list(&v, 1, 366, true, "BYYEARDAY")?,
                "BYWEEKNO" => r.byweekno = int_list(&v, 1, 53, true, "BYWEEKNO")?,
                "BYSETPOS" => r.bysetpos = int_list(&v, 1, 366, true, "BYSETPOS")?,
                "WKST" => {
                    r.wkst = weekday(&v).ok_or_else(|| RuleError(format!("WKST={v}")))?;
                }
                "BYDAY" => {
                    for d in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        // The weekday is the last two bytes; a multi-byte character there
                        // (fuzz-found) is not a weekday, not a panic.
                        let (n, wd) = d
                            .len()
                            .checked_sub(2)
                            .and_then(|at| d.split_at_checked(at))
                            .ok_or_else(|| RuleError(format!("BYDAY={v}")))?;
                        let wd = weekday(wd).ok_or_else(|| RuleError(format!("BYDAY={v}")))?;
                        let n: i32 = if n.is_empty() {
                            0
                        } else {
                            n.trim_start_matches('+')
                                .parse()
                                .map_err(|_| RuleError(format!("BYDAY={v}")))?
                        };
                        if n.abs() > 53 {
                            return Err(RuleError(format!("BYDAY={v}")));
                        }
                        if !r.byday.contains(&(n, wd)) {
                            r.byday.push((n, wd));
                        }
                    }
                }
                _ => {}
            }
        }
        r.freq = freq.ok_or_else(|| RuleError("no FREQ".into()))?;
        if let Some(v) = bad_count {
            // RFC 5545 §3.3.10 forbids COUNT and UNTIL together and wants COUNT positive. With
            // an UNTIL the series' end is still known: honour it, as real clients do. Without
            // one the rule's length is unknown: refuse it (DTSTART alone is shown).
            if r.until.is_none() {
                return Err(RuleError(format!("COUNT={v}")));
            }
            r.count = None;
            r.notes
                .push(format!("COUNT={v} ignored (UNTIL ends the series)"));
        }
        Ok(r)
    }

    /// The rule as it applies to an all-day (DATE) series: BYHOUR, BYMINUTE and BYSECOND are
    /// dropped, because RFC 5545 §3.3.10 says they "MUST be ignored" when DTSTART is a DATE.
    /// Without this, `FREQ=DAILY;BYMINUTE=1,2` makes several instances a day that collapse into
    /// one date, and COUNT is used up in a fraction of the days.
    pub fn for_dates(&self) -> std::borrow::Cow<'_, RRule> {
        if self.byhour.is_empty() && self.byminute.is_empty() && self.bysecond.is_empty() {
            return std::borrow::Cow::Borrowed(self);
        }
        let mut r = self.clone();
        r.byhour.clear();
        r.byminute.clear();
        r.bysecond.clear();
        std::borrow::Cow::Owned(r)
    }

    /// Whether every period yields exactly one instance (no BYxxx parts, period of a week or
    /// less). Such rules can skip ahead even with COUNT, by counting skipped periods.
    pub fn one_per_period(&self) -> bool {
        self.freq <= Freq::Weekly
            && self.bysecond.is_empty()
            && self.byminute.is_empty()
            && self.byhour.is_empty()
            && self.byday.is_empty()
            && self.bymonthday.is_empty()
            && self.byyearday.is_empty()
            && self.byweekno.is_empty()
            && self.bymonth.is_empty()
            && self.bysetpos.is_empty()
    }
}

mod calendar;
mod iter;
pub use iter::RuleIter;

#[cfg(test)]
mod tests;
