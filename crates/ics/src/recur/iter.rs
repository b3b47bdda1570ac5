//! Walking a rule: periods of FREQ×INTERVAL, each period's candidates from the BYxxx parts,
//! BYSETPOS, then the instances in order (RFC 5545 §3.3.10).

use super::calendar::{days_in_month, days_in_year, nth_weekday_matches, week_number};
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
    /// A period's times as seconds after its base (sorted), built once: for DAILY and coarser
    /// rules hours × minutes × seconds after midnight, for HOURLY minutes × seconds after the
    /// hour, for MINUTELY the seconds, for SECONDLY just 0. A rule listing every second of a
    /// day does not rebuild 86,400 times per period.
    offsets: Vec<u32>,
}

/// Iterates the local date-times of a rule in ascending order, starting at DTSTART (instances
/// before DTSTART are never produced). It does not apply COUNT or UNTIL: the caller does, as
/// both depend on the zone.
///
/// Candidates are generated lazily: a period holds its matching days (at most 366) and an
/// index into days × a day's times (built once per rule), so a rule naming every second of a
/// year costs a year's days and one day's times in memory, never its 31 million date-times;
/// BYSETPOS picks indices in that space.
#[derive(Debug, Clone)]
pub struct RuleIter {
    rule: Expanded,
    dtstart: NaiveDateTime,
    /// Start of the current period (for sub-daily frequencies: the exact period instant).
    cursor: NaiveDateTime,
    /// Matching days of the current period, ascending.
    days: Vec<NaiveDate>,
    /// Seconds after midnight that every offset of this period is added to.
    base: u32,
    /// BYSETPOS: the chosen candidate indices of this period, ascending.
    picks: Vec<usize>,
    /// Next position (in `picks` when the rule has BYSETPOS, else in days × offsets).
    pos: usize,
    /// End of the positions of this period.
    end: usize,
    /// Period steps taken so far (the caller bounds runaway rules with it).
    pub steps: u64,
    /// Candidates examined so far: days looked at, instances produced and sub-daily periods
    /// skipped. The caller's CPU budget (`Limits::max_rule_candidates`) is counted in it.
    pub work: u64,
    /// Once `work` passes this, no further period is visited (and `out_of_work` is set):
    /// a rule that never matches cannot spin between two instances.
    work_limit: u64,
    /// Whether iteration stopped because `work` passed the limit.
    pub out_of_work: bool,
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
            offsets: Vec::new(),
        };
        let mut exp = exp;
        exp.bymonth.sort_unstable();
        exp.bymonth.dedup();
        // Hours, minutes and seconds are sorted and deduplicated, so the offsets are too.
        let (hs, ms, ss): (&[u32], &[u32], &[u32]) = match exp.freq {
            Freq::Secondly => (&[0], &[0], &[0]),
            Freq::Minutely => (&[0], &[0], &exp.seconds),
            Freq::Hourly => (&[0], &exp.minutes, &exp.seconds),
            _ => (&exp.hours, &exp.minutes, &exp.seconds),
        };
        let mut offsets = Vec::with_capacity(hs.len() * ms.len() * ss.len());
        for &h in hs {
            for &mi in ms {
                for &se in ss {
                    offsets.push(h * 3600 + mi * 60 + se);
                }
            }
        }
        exp.offsets = offsets;
        let cursor = period_start(&exp, dtstart);
        RuleIter {
            rule: exp,
            dtstart,
            cursor,
            days: Vec::new(),
            base: 0,
            picks: Vec::new(),
            pos: 0,
            end: 0,
            steps: 0,
            work: 0,
            work_limit: u64::MAX,
            out_of_work: false,
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

    /// Stop once more than `limit` candidates were examined (see [`RuleIter::out_of_work`]).
    pub fn set_work_limit(&mut self, limit: u64) {
        self.work_limit = limit;
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
        self.days.clear();
        self.picks.clear();
        self.pos = 0;
        self.end = 0;
        self.need_fill = true;
        periods as u64
    }

    /// Skip the candidates of the current period that are before `target` without producing
    /// them (after [`RuleIter::seek`], later periods start after it anyway); returns how many
    /// were skipped, so a caller counting one instance per period can keep COUNT exact.
    pub fn skip_before(&mut self, target: NaiveDateTime) -> u64 {
        if self.need_fill && !self.next_period() {
            return 0;
        }
        let first = self.first_at_or_after(self.pos, target);
        let skipped = first - self.pos;
        self.pos = first;
        skipped as u64
    }

    /// The candidate at position `k` of the current period.
    fn at(&self, k: usize) -> NaiveDateTime {
        let i = if self.rule.bysetpos.is_empty() {
            k
        } else {
            self.picks[k]
        };
        let per = self.rule.offsets.len();
        let secs = self.base + self.rule.offsets[i % per];
        let time = NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap_or(NaiveTime::MIN);
        self.days[i / per].and_time(time)
    }

    /// The first position at or after `from` whose candidate is not before `t` (candidates
    /// ascend with their position).
    fn first_at_or_after(&self, from: usize, t: NaiveDateTime) -> usize {
        let (mut lo, mut hi) = (from, self.end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.at(mid) < t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Move to the next period (the first one after a seek) and set up its candidates;
    /// `false` when the rule has no more periods.
    fn next_period(&mut self) -> bool {
        if self.done {
            return false;
        }
        if self.work > self.work_limit {
            self.out_of_work = true;
            self.done = true;
            return false;
        }
        if self.need_fill {
            self.need_fill = false;
        } else {
            match next_period(&self.rule, self.cursor, &mut self.work) {
                Some(c) if c.year() <= LAST_YEAR && self.horizon.is_none_or(|h| c <= h) => {
                    self.cursor = c
                }
                _ => {
                    self.done = true;
                    return false;
                }
            }
        }
        self.steps += 1;
        self.fill();
        true
    }

    fn fill(&mut self) {
        self.days.clear();
        self.picks.clear();
        self.pos = 0;
        self.end = 0;
        self.work += period_days(&self.rule, self.cursor, &mut self.days);
        let Some(base) = period_base(&self.rule, self.cursor) else {
            self.days.clear();
            return;
        };
        self.base = base;
        let n = self.days.len() * self.rule.offsets.len();
        if self.rule.bysetpos.is_empty() {
            self.end = n;
        } else if n > 0 {
            // BYSETPOS indexes the period's candidates (days × times, both sorted) directly.
            let n = n as i64;
            self.picks
                .extend(self.rule.bysetpos.iter().filter_map(|&p| {
                    let p = i64::from(p);
                    let i = if p > 0 { p - 1 } else { n + p };
                    (0..n).contains(&i).then_some(i as usize)
                }));
            self.picks.sort_unstable();
            self.picks.dedup();
            self.work += self.picks.len() as u64;
            self.end = self.picks.len();
        }
        // Never before DTSTART.
        self.pos = self.first_at_or_after(0, self.dtstart);
    }
}

impl Iterator for RuleIter {
    type Item = NaiveDateTime;

    fn next(&mut self) -> Option<NaiveDateTime> {
        loop {
            if self.pos < self.end {
                let c = self.at(self.pos);
                self.pos += 1;
                self.work += 1;
                return Some(c);
            }
            if !self.next_period() {
                return None;
            }
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

/// The period after `c`; `work` counts the excluded days, hours and minutes jumped over.
fn next_period(r: &Expanded, c: NaiveDateTime, work: &mut u64) -> Option<NaiveDateTime> {
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
        *work += 1;
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

/// The matching days of the period starting at `c`, ascending, into `out`; returns how many
/// days were looked at. A YEARLY rule with BYMONTH looks only at the listed months.
fn period_days(r: &Expanded, c: NaiveDateTime, out: &mut Vec<NaiveDate>) -> u64 {
    let date = c.date();
    let mut examined = 0u64;
    let mut scan = |first: NaiveDate, len: u32, out: &mut Vec<NaiveDate>| {
        let mut d = first;
        for _ in 0..len {
            examined += 1;
            if day_matches(r, d) {
                out.push(d);
            }
            match d.succ_opt() {
                Some(n) => d = n,
                None => break,
            }
        }
    };
    match r.freq {
        Freq::Yearly if !r.bymonth.is_empty() => {
            for &m in &r.bymonth {
                if let Some(first) = NaiveDate::from_ymd_opt(date.year(), m, 1) {
                    scan(first, days_in_month(date.year(), m), out);
                }
            }
        }
        Freq::Yearly => scan(date, days_in_year(date.year()) as u32, out),
        Freq::Monthly => scan(date, days_in_month(date.year(), date.month()), out),
        Freq::Weekly => scan(date, 7, out),
        _ => scan(date, 1, out),
    }
    examined.max(1)
}

/// Seconds after midnight that a period's offsets start from, or `None` when the period is
/// excluded (a sub-daily period fixes its own unit and those above it; BYxxx parts given for
/// them filter, parts below it expand, defaulting to DTSTART's value).
fn period_base(r: &Expanded, c: NaiveDateTime) -> Option<u32> {
    let (h, m, s) = (c.hour(), c.minute(), c.second());
    if r.freq >= Freq::Daily {
        return Some(0);
    }
    if r.hour_given && !r.hours.contains(&h) {
        return None;
    }
    if r.freq == Freq::Hourly {
        return Some(h * 3600);
    }
    if r.minute_given && !r.minutes.contains(&m) {
        return None;
    }
    if r.freq == Freq::Minutely {
        return Some(h * 3600 + m * 60);
    }
    if r.second_given && !r.seconds.contains(&s) {
        return None;
    }
    Some(h * 3600 + m * 60 + s)
}
