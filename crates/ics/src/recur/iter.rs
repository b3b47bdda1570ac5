//! Walking a rule: periods of FREQ×INTERVAL, each period's candidates from the BYxxx parts,
//! BYSETPOS, then the instances in order (RFC 5545 §3.3.10).

use super::*;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};

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
    /// The times of a day for DAILY and coarser rules (hours × minutes × seconds, sorted),
    /// built once: a rule listing every second of a day does not rebuild 86,400 times per
    /// period.
    day_times: Vec<NaiveTime>,
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
            day_times: Vec::new(),
        };
        let mut exp = exp;
        if !matches!(exp.freq, Freq::Hourly | Freq::Minutely | Freq::Secondly) {
            for &h in &exp.hours {
                for &mi in &exp.minutes {
                    for &se in &exp.seconds {
                        if let Some(t) = NaiveTime::from_hms_opt(h, mi, se) {
                            exp.day_times.push(t);
                        }
                    }
                }
            }
        }
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
    let mut sub_daily: Vec<NaiveTime> = Vec::new();
    let times: &[NaiveTime] = match r.freq {
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
                        sub_daily.push(t);
                    }
                }
            }
            &sub_daily
        }
        _ => &r.day_times,
    };
    if r.bysetpos.is_empty() {
        for d in &days {
            for t in times {
                out.push(d.and_time(*t));
            }
        }
        return;
    }
    // BYSETPOS indexes the period's candidates (days × times, both sorted) directly: the
    // candidate set is never built, so a rule naming every second of a year costs its days
    // and one day's times, not 31 million date-times.
    let per = times.len();
    let n = (days.len() * per) as i64;
    let mut picked: Vec<NaiveDateTime> = r
        .bysetpos
        .iter()
        .filter_map(|&p| {
            let p = i64::from(p);
            let i = if p > 0 { p - 1 } else { n + p };
            (0..n).contains(&i).then(|| {
                let i = i as usize;
                days[i / per].and_time(times[i % per])
            })
        })
        .collect();
    picked.sort_unstable();
    picked.dedup();
    out.extend(picked);
}
