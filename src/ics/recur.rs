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

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};

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

/// Rule parts with dtstart-implied defaults filled in (RFC 5545 §3.3.10 "information, not
/// contained in the rule, necessary to determine the various recurrence instance start time
/// and dates are derived from the Start Time").
#[derive(Debug, Clone)]
struct Expanded {
    freq: Freq,
    interval: u32,
    seconds: Vec<u32>,
    minutes: Vec<u32>,
    hours: Vec<u32>,
    hour_given: bool,
    minute_given: bool,
    second_given: bool,
    byday_plain: Vec<Weekday>,
    byday_nth: Vec<(i32, Weekday)>,
    bymonthday: Vec<i32>,
    byyearday: Vec<i32>,
    byweekno: Vec<i32>,
    bymonth: Vec<u32>,
    bysetpos: Vec<i32>,
    wkst: Weekday,
}

/// Iterates the local date-times of a rule in ascending order, starting at DTSTART (instances
/// before DTSTART are never produced). It does not apply COUNT or UNTIL: the caller does, as
/// both depend on the zone.
#[derive(Debug, Clone)]
pub struct RuleIter {
    rule: Expanded,
    dtstart: NaiveDateTime,
    /// Start of the current period (for sub-daily frequencies: the exact period instant).
    cursor: NaiveDateTime,
    buf: Vec<NaiveDateTime>,
    pos: usize,
    /// Period steps taken so far (the caller bounds runaway rules with it).
    pub steps: u64,
    need_fill: bool,
    done: bool,
    /// No period starting after this is visited (instances never precede their period).
    horizon: Option<NaiveDateTime>,
}

const LAST_YEAR: i32 = 9000;

impl RuleIter {
    /// An iterator over `rule` anchored at `dtstart` (wall-clock).
    pub fn new(rule: &RRule, dtstart: NaiveDateTime) -> RuleIter {
        let mut bymonth = rule.bymonth.clone();
        let mut bymonthday = rule.bymonthday.clone();
        let mut byday = rule.byday.clone();
        if rule.byweekno.is_empty()
            && rule.byyearday.is_empty()
            && rule.bymonthday.is_empty()
            && rule.byday.is_empty()
        {
            match rule.freq {
                Freq::Yearly => {
                    if bymonth.is_empty() {
                        bymonth = vec![dtstart.month()];
                    }
                    bymonthday = vec![dtstart.day() as i32];
                }
                Freq::Monthly => bymonthday = vec![dtstart.day() as i32],
                Freq::Weekly => byday = vec![(0, dtstart.weekday())],
                _ => {}
            }
        }
        // Ordinals only mean something for MONTHLY, and YEARLY (month- or year-relative).
        let nth_allowed = matches!(rule.freq, Freq::Monthly | Freq::Yearly);
        let mut byday_plain = Vec::new();
        let mut byday_nth = Vec::new();
        for (n, wd) in byday {
            if n != 0 && nth_allowed {
                byday_nth.push((n, wd));
            } else if !byday_plain.contains(&wd) {
                byday_plain.push(wd);
            }
        }
        let pick = |v: &Vec<u32>, dflt: u32| -> Vec<u32> {
            let mut v = if v.is_empty() { vec![dflt] } else { v.clone() };
            v.sort_unstable();
            v.dedup();
            v
        };
        let seconds = pick(&rule.bysecond, dtstart.second());
        let minutes = pick(&rule.byminute, dtstart.minute());
        let hours = pick(&rule.byhour, dtstart.hour());
        let exp = Expanded {
            freq: rule.freq,
            interval: rule.interval.max(1),
            seconds,
            minutes,
            hours,
            hour_given: !rule.byhour.is_empty(),
            minute_given: !rule.byminute.is_empty(),
            second_given: !rule.bysecond.is_empty(),
            byday_plain,
            byday_nth,
            bymonthday,
            byyearday: rule.byyearday.clone(),
            byweekno: rule.byweekno.clone(),
            bymonth,
            bysetpos: rule.bysetpos.clone(),
            wkst: rule.wkst,
        };
        let cursor = period_start(&exp, dtstart);
        RuleIter {
            rule: exp,
            dtstart,
            cursor,
            buf: Vec::new(),
            pos: 0,
            steps: 0,
            need_fill: true,
            done: false,
            horizon: None,
        }
    }

    /// Stop once periods start after `h`: a rule that never matches (Feb 30) then costs the
    /// periods up to the horizon, not the periods up to year 9000.
    pub fn set_horizon(&mut self, h: NaiveDateTime) {
        self.horizon = Some(h);
    }

    /// Start of the current period (wall-clock).
    pub fn period(&self) -> NaiveDateTime {
        self.cursor
    }

    /// Jump forward to the last period that starts at or before `target` (never backwards).
    /// Returns how many periods were skipped, so a caller counting one instance per period
    /// can keep COUNT exact.
    pub fn seek(&mut self, target: NaiveDateTime) -> u64 {
        if target <= self.cursor {
            return 0;
        }
        let r = &self.rule;
        let iv = i64::from(r.interval);
        let periods: i64 = match r.freq {
            Freq::Yearly => i64::from(target.year() - self.cursor.year()) / iv,
            Freq::Monthly => {
                let m = |d: NaiveDateTime| i64::from(d.year()) * 12 + i64::from(d.month0());
                (m(target) - m(self.cursor)) / iv
            }
            Freq::Weekly => (target.date() - self.cursor.date()).num_days() / 7 / iv,
            Freq::Daily => (target.date() - self.cursor.date()).num_days() / iv,
            Freq::Hourly => (target - self.cursor).num_seconds() / 3600 / iv,
            Freq::Minutely => (target - self.cursor).num_seconds() / 60 / iv,
            Freq::Secondly => (target - self.cursor).num_seconds() / iv,
        };
        if periods <= 0 {
            return 0;
        }
        match advance(r, self.cursor, periods) {
            Some(c) => self.cursor = c,
            None => self.done = true,
        }
        self.buf.clear();
        self.pos = 0;
        self.need_fill = true;
        periods as u64
    }

    fn fill(&mut self) {
        self.buf.clear();
        self.pos = 0;
        candidates(&self.rule, self.cursor, &mut self.buf);
        // Never before DTSTART.
        let dtstart = self.dtstart;
        self.buf.retain(|d| *d >= dtstart);
    }
}

impl Iterator for RuleIter {
    type Item = NaiveDateTime;

    fn next(&mut self) -> Option<NaiveDateTime> {
        loop {
            if self.pos < self.buf.len() {
                self.pos += 1;
                return Some(self.buf[self.pos - 1]);
            }
            if self.done {
                return None;
            }
            if self.need_fill {
                self.need_fill = false;
            } else {
                match next_period(&self.rule, self.cursor) {
                    Some(c) if c.year() <= LAST_YEAR && self.horizon.is_none_or(|h| c <= h) => {
                        self.cursor = c
                    }
                    _ => {
                        self.done = true;
                        return None;
                    }
                }
            }
            self.steps += 1;
            self.fill();
        }
    }
}

fn period_start(r: &Expanded, d: NaiveDateTime) -> NaiveDateTime {
    let date = d.date();
    match r.freq {
        Freq::Yearly => date
            .with_ordinal(1)
            .expect("day 1")
            .and_time(NaiveTime::MIN),
        Freq::Monthly => date.with_day(1).expect("day 1").and_time(NaiveTime::MIN),
        Freq::Weekly => {
            let back =
                (7 + date.weekday().num_days_from_monday() - r.wkst.num_days_from_monday()) % 7;
            (date - Duration::days(i64::from(back))).and_time(NaiveTime::MIN)
        }
        Freq::Daily => date.and_time(NaiveTime::MIN),
        Freq::Hourly => date.and_hms_opt(d.hour(), 0, 0).expect("valid"),
        Freq::Minutely => date.and_hms_opt(d.hour(), d.minute(), 0).expect("valid"),
        Freq::Secondly => d,
    }
}

/// The period `n` periods after `c` (n ≥ 0), `None` past the supported range.
fn advance(r: &Expanded, c: NaiveDateTime, n: i64) -> Option<NaiveDateTime> {
    let step = n.checked_mul(i64::from(r.interval))?;
    match r.freq {
        Freq::Yearly => {
            let y = i64::from(c.year()) + step;
            if y > i64::from(LAST_YEAR) + 1 {
                return None;
            }
            NaiveDate::from_ymd_opt(y as i32, 1, 1).map(|d| d.and_time(NaiveTime::MIN))
        }
        Freq::Monthly => {
            let m = i64::from(c.year()) * 12 + i64::from(c.month0()) + step;
            let y = m.div_euclid(12);
            if y > i64::from(LAST_YEAR) + 1 {
                return None;
            }
            NaiveDate::from_ymd_opt(y as i32, (m.rem_euclid(12) + 1) as u32, 1)
                .map(|d| d.and_time(NaiveTime::MIN))
        }
        Freq::Weekly => c.checked_add_signed(Duration::try_days(step.checked_mul(7)?)?),
        Freq::Daily => c.checked_add_signed(Duration::try_days(step)?),
        Freq::Hourly => c.checked_add_signed(Duration::try_hours(step)?),
        Freq::Minutely => c.checked_add_signed(Duration::try_minutes(step)?),
        Freq::Secondly => c.checked_add_signed(Duration::try_seconds(step)?),
    }
}

fn next_period(r: &Expanded, c: NaiveDateTime) -> Option<NaiveDateTime> {
    let mut next = advance(r, c, 1)?;
    if r.freq >= Freq::Daily {
        return Some(next);
    }
    // Sub-daily rule in a day, hour or minute its BYxxx parts exclude: jump to the first period
    // of the next day / hour / minute (keeping the INTERVAL grid) instead of stepping through.
    let unit = match r.freq {
        Freq::Hourly => 3600,
        Freq::Minutely => 60,
        _ => 1,
    } * i64::from(r.interval);
    for _ in 0..256 {
        let (d, h, m, sec) = (next.date(), next.hour(), next.minute(), next.second());
        let at = |h: u32, m: u32, s: u32| d.and_hms_opt(h, m, s);
        // The next listed value after `x` in `list`, if any (lists are sorted).
        let after = |list: &[u32], x: u32| list.iter().copied().find(|v| *v > x);
        let next_day = (d + Duration::days(1)).and_time(NaiveTime::MIN);
        let boundary = if !day_matches(r, d) {
            next_day
        } else if r.freq <= Freq::Hourly && r.hour_given && !r.hours.contains(&h) {
            match after(&r.hours, h) {
                Some(h2) => at(h2, 0, 0)?,
                None => next_day,
            }
        } else if r.freq < Freq::Minutely && r.minute_given && !r.minutes.contains(&m) {
            match after(&r.minutes, m) {
                Some(m2) => at(h, m2, 0)?,
                None => at(h, 0, 0)? + Duration::hours(1),
            }
        } else if r.freq == Freq::Secondly && r.second_given && !r.seconds.contains(&sec) {
            match after(&r.seconds, sec) {
                Some(s2) => at(h, m, s2)?,
                None => at(h, m, 0)? + Duration::minutes(1),
            }
        } else {
            return Some(next);
        };
        let gap = (boundary - next).num_seconds();
        let k = (gap + unit - 1) / unit;
        next = next.checked_add_signed(Duration::try_seconds(k.checked_mul(unit)?)?)?;
    }
    Some(next)
}

fn days_in_month(y: i32, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map(|d| d.day())
        .unwrap_or(31)
}

fn days_in_year(y: i32) -> i32 {
    if NaiveDate::from_ymd_opt(y, 2, 29).is_some() {
        366
    } else {
        365
    }
}

/// First day of week 1 of `year` for a week starting on `wkst` (RFC 5545: week 1 is the first
/// week with at least four days in the year).
fn week1_start(year: i32, wkst: Weekday) -> NaiveDate {
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
fn week_number(d: NaiveDate, wkst: Weekday) -> (i32, i32, i32) {
    let back = (7 + d.weekday().num_days_from_monday() - wkst.num_days_from_monday()) % 7;
    let ws = d - Duration::days(i64::from(back));
    let wy = (ws + Duration::days(3)).year();
    let w1 = week1_start(wy, wkst);
    let next = week1_start(wy + 1, wkst);
    let n = ((ws - w1).num_days() / 7 + 1) as i32;
    let total = ((next - w1).num_days() / 7) as i32;
    (wy, n, total)
}

fn nth_weekday_matches(d: NaiveDate, n: i32, wd: Weekday, within_month: bool) -> bool {
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

fn day_matches(r: &Expanded, d: NaiveDate) -> bool {
    if !r.bymonth.is_empty() && !r.bymonth.contains(&d.month()) {
        return false;
    }
    if !r.byweekno.is_empty() {
        let (_, n, total) = week_number(d, r.wkst);
        if !r
            .byweekno
            .iter()
            .any(|&w| w == n || (w < 0 && total + w + 1 == n))
        {
            return false;
        }
    }
    if !r.byyearday.is_empty() {
        let yd = d.ordinal() as i32;
        let len = days_in_year(d.year());
        if !r
            .byyearday
            .iter()
            .any(|&n| n == yd || (n < 0 && len + n + 1 == yd))
        {
            return false;
        }
    }
    if !r.bymonthday.is_empty() {
        let md = d.day() as i32;
        let len = days_in_month(d.year(), d.month()) as i32;
        if !r
            .bymonthday
            .iter()
            .any(|&n| n == md || (n < 0 && len + n + 1 == md))
        {
            return false;
        }
    }
    if !r.byday_plain.is_empty() || !r.byday_nth.is_empty() {
        let within_month = r.freq == Freq::Monthly || !r.bymonth.is_empty();
        let plain = r.byday_plain.contains(&d.weekday());
        let nth = r
            .byday_nth
            .iter()
            .any(|&(n, wd)| nth_weekday_matches(d, n, wd, within_month));
        if !plain && !nth {
            return false;
        }
    }
    true
}

/// All candidate local date-times of the period starting at `c`, sorted, BYSETPOS applied.
fn candidates(r: &Expanded, c: NaiveDateTime, out: &mut Vec<NaiveDateTime>) {
    let date = c.date();
    // Days of the period.
    let (first, len): (NaiveDate, i64) = match r.freq {
        Freq::Yearly => (date, i64::from(days_in_year(date.year()))),
        Freq::Monthly => (date, i64::from(days_in_month(date.year(), date.month()))),
        Freq::Weekly => (date, 7),
        _ => (date, 1),
    };
    let mut days: Vec<NaiveDate> = Vec::new();
    let mut d = first;
    for _ in 0..len {
        if day_matches(r, d) {
            days.push(d);
        }
        match d.succ_opt() {
            Some(n) => d = n,
            None => break,
        }
    }
    if days.is_empty() {
        return;
    }
    // Times of each day.
    let mut times: Vec<NaiveTime> = Vec::new();
    match r.freq {
        Freq::Hourly | Freq::Minutely | Freq::Secondly => {
            let (h, m, s) = (c.hour(), c.minute(), c.second());
            // A sub-daily period fixes its own unit and those above; BYxxx parts given for
            // them filter, parts below it expand (defaulting to DTSTART's value).
            if r.hour_given && !r.hours.contains(&h) {
                return;
            }
            let mins: Vec<u32> = if r.freq == Freq::Hourly {
                r.minutes.clone()
            } else if !r.minute_given || r.minutes.contains(&m) {
                vec![m]
            } else {
                return;
            };
            let secs: Vec<u32> = if r.freq != Freq::Secondly {
                r.seconds.clone()
            } else if !r.second_given || r.seconds.contains(&s) {
                vec![s]
            } else {
                return;
            };
            for &mi in &mins {
                for &se in &secs {
                    if let Some(t) = NaiveTime::from_hms_opt(h, mi, se) {
                        times.push(t);
                    }
                }
            }
        }
        _ => {
            for &h in &r.hours {
                for &mi in &r.minutes {
                    for &se in &r.seconds {
                        if let Some(t) = NaiveTime::from_hms_opt(h, mi, se) {
                            times.push(t);
                        }
                    }
                }
            }
        }
    }
    let start = out.len();
    for d in &days {
        for t in &times {
            out.push(d.and_time(*t));
        }
    }
    if !r.bysetpos.is_empty() {
        let all: Vec<NaiveDateTime> = out.drain(start..).collect();
        let n = all.len() as i32;
        let mut picked: Vec<NaiveDateTime> = r
            .bysetpos
            .iter()
            .filter_map(|&p| {
                let i = if p > 0 { p - 1 } else { n + p };
                (0..n).contains(&i).then(|| all[i as usize])
            })
            .collect();
        picked.sort_unstable();
        picked.dedup();
        out.extend(picked);
    }
}

#[cfg(test)]
mod tests {
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
            }
        }
    }
}
