//! TZID → zone, and wall-clock ↔ instant conversion with RFC 5545's DST rules.
//!
//! Why it exists: feeds name zones in every way imaginable. Google and iCloud use IANA names,
//! Outlook/Exchange use Windows names ("W. Europe Standard Time") or display names
//! ("(UTC+01:00) Amsterdam, Berlin, …"), Lightning prefixes them ("/mozilla.org/…/Europe/Berlin"),
//! and Exchange sometimes invents a zone ("Customized Time Zone") that exists only as the
//! feed's VTIMEZONE. Resolution order (first hit wins):
//! 1. the TZID as an IANA name or alias (`chrono-tz`: "Europe/Berlin", "US/Eastern", "GMT");
//! 2. `calcard`'s resolver: registry prefixes, ~300 Windows and Outlook display names (CLDR);
//! 3. the VTIMEZONE's `X-LIC-LOCATION` / `X-MICROSOFT-CDO-TZID`;
//! 4. a zone built from the VTIMEZONE's own STANDARD/DAYLIGHT rules ([`CustomZone`]);
//! 5. the default zone, with a warning.
//!
//! Conversions follow RFC 5545 §3.3.5: a wall-clock time in a DST gap is "interpreted using the
//! UTC offset before the gap" (so 02:30 on a spring-forward night becomes 03:30), and a time in
//! a fold (fall-back) is the first of the two instants.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{Duration, NaiveDateTime, Offset, TimeZone};

use super::parse::Component;
use super::recur::{RRule, RuleIter, Until, parse_naive_datetime};

/// A resolved zone.
#[derive(Debug, Clone)]
pub enum Zone {
    /// UTC (`Z` values).
    Utc,
    /// An IANA zone.
    Iana(chrono_tz::Tz),
    /// A zone that exists only as a VTIMEZONE in the feed.
    Custom(Arc<CustomZone>),
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Zone::Utc, Zone::Utc) => true,
            (Zone::Iana(a), Zone::Iana(b)) => a == b,
            (Zone::Custom(a), Zone::Custom(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// A zone built from VTIMEZONE observances: a sorted list of transitions.
#[derive(Debug, Clone)]
pub struct CustomZone {
    /// The TZID, for messages.
    pub name: String,
    /// Offset (seconds east of UTC) before the first transition.
    initial: i32,
    /// (UTC instant of the transition, offset after it), sorted; shared by every TZID whose
    /// VTIMEZONE has the same observances (compiled once).
    transitions: Arc<[(NaiveDateTime, i32)]>,
}

impl CustomZone {
    fn offset_at(&self, utc: NaiveDateTime) -> i32 {
        match self.transitions.partition_point(|(t, _)| *t <= utc) {
            0 => self.initial,
            i => self.transitions[i - 1].1,
        }
    }

    fn to_utc(&self, local: NaiveDateTime) -> NaiveDateTime {
        let lo = local - Duration::hours(30);
        let hi = local + Duration::hours(30);
        let mut offsets = vec![self.offset_at(lo)];
        let a = self.transitions.partition_point(|(t, _)| *t < lo);
        let b = self.transitions.partition_point(|(t, _)| *t <= hi);
        for (_, o) in &self.transitions[a..b] {
            if !offsets.contains(o) {
                offsets.push(*o);
            }
        }
        let mut valid: Vec<NaiveDateTime> = offsets
            .iter()
            .map(|o| local - Duration::seconds(i64::from(*o)))
            .filter(|u| {
                let off = self.offset_at(*u);
                *u + Duration::seconds(i64::from(off)) == local
            })
            .collect();
        valid.sort();
        if let Some(first) = valid.first() {
            return *first;
        }
        // In a gap: use the offset before the transition that caused it.
        for i in a..b {
            let (t, after) = self.transitions[i];
            let before = if i == 0 {
                self.initial
            } else {
                self.transitions[i - 1].1
            };
            let gap_start = t + Duration::seconds(i64::from(before));
            let gap_end = t + Duration::seconds(i64::from(after));
            if local >= gap_start && local < gap_end {
                return local - Duration::seconds(i64::from(before));
            }
        }
        local - Duration::seconds(i64::from(offsets[0]))
    }
}

impl Zone {
    /// The UTC instant (as a naive UTC date-time) of wall-clock `local` in this zone: a time in
    /// a fold is its first instant, a time in a gap uses the offset before the gap.
    pub fn to_utc(&self, local: NaiveDateTime) -> NaiveDateTime {
        match self {
            Zone::Utc => local,
            Zone::Iana(tz) => match tz.from_local_datetime(&local) {
                chrono::LocalResult::Single(t) => t.naive_utc(),
                chrono::LocalResult::Ambiguous(a, b) => a.naive_utc().min(b.naive_utc()),
                chrono::LocalResult::None => {
                    let probe = local - Duration::hours(15);
                    let before = tz.offset_from_utc_datetime(&probe).fix().local_minus_utc();
                    local - Duration::seconds(i64::from(before))
                }
            },
            Zone::Custom(c) => c.to_utc(local),
        }
    }

    /// The wall-clock time in this zone of a UTC instant.
    pub fn to_local(&self, utc: NaiveDateTime) -> NaiveDateTime {
        match self {
            Zone::Utc => utc,
            Zone::Iana(tz) => tz.from_utc_datetime(&utc).naive_local(),
            Zone::Custom(c) => utc + Duration::seconds(i64::from(c.offset_at(utc))),
        }
    }

    /// A short name for messages.
    pub fn name(&self) -> String {
        match self {
            Zone::Utc => "UTC".into(),
            Zone::Iana(tz) => tz.name().to_string(),
            Zone::Custom(c) => format!("{} (from VTIMEZONE)", c.name),
        }
    }
}

/// Resolves TZIDs against the feed's VTIMEZONEs, caching each answer.
pub struct Resolver<'a> {
    vtimezones: HashMap<String, &'a Component>,
    cache: HashMap<String, Zone>,
    /// Compiled VTIMEZONE rules by their observances' text: 5,000 copies of one definition
    /// under different TZIDs are compiled once.
    compiled: HashMap<String, Option<Compiled>>,
    /// Hard budgets (see [`crate::Limits`]): zones named, transitions compiled.
    max_zones: usize,
    max_transitions: u64,
    max_candidates: u64,
    transitions: u64,
    /// Candidates the feed's rules may still examine; VTIMEZONE rules spend from it first.
    pub candidates_left: u64,
    /// The hard budget that ran out, with its limit: the feed is refused.
    pub over_budget: Option<(crate::BudgetKind, u64)>,
    default: chrono_tz::Tz,
    /// The zone of floating times in the calendar being read (its X-WR-TIMEZONE), if any.
    floating: Option<Zone>,
    /// Warnings about zones that fell back to the default.
    pub warnings: Vec<String>,
    /// TZIDs (and X-WR-TIMEZONE values) that could not be resolved, each once, in feed order.
    pub unresolved: Vec<String>,
    /// Zones in use: each TZID or X-WR-TIMEZONE as written and what it resolved to.
    pub used: Vec<(String, String)>,
}

impl<'a> Resolver<'a> {
    /// A resolver over the VTIMEZONE components of a feed.
    pub fn new(
        vtimezones: impl IntoIterator<Item = &'a Component>,
        default: chrono_tz::Tz,
    ) -> Self {
        let mut map = HashMap::new();
        for c in vtimezones {
            if let Some(p) = c.prop("TZID") {
                map.entry(clean_tzid(&p.value).to_string()).or_insert(c);
            }
        }
        let limits = crate::Limits::default();
        Resolver {
            vtimezones: map,
            cache: HashMap::new(),
            compiled: HashMap::new(),
            max_zones: limits.max_zones,
            max_transitions: limits.max_zone_transitions,
            max_candidates: limits.max_feed_candidates,
            transitions: 0,
            candidates_left: limits.max_feed_candidates,
            over_budget: None,
            default,
            floating: None,
            warnings: Vec::new(),
            unresolved: Vec::new(),
            used: Vec::new(),
        }
    }

    /// Use the hard budgets of `limits` (the defaults otherwise).
    pub fn set_budget(&mut self, limits: &crate::Limits) {
        self.max_zones = limits.max_zones;
        self.max_transitions = limits.max_zone_transitions;
        self.max_candidates = limits.max_feed_candidates;
        self.candidates_left = limits.max_feed_candidates;
    }

    fn over(&mut self, budget: crate::BudgetKind, limit: u64) {
        self.over_budget.get_or_insert((budget, limit));
    }

    /// Set the zone of floating times from a calendar's `X-WR-TIMEZONE` (Google, sports and
    /// fixture feeds write floating times meaning that zone); `None` restores the default.
    /// RFC 5545 §3.3.5 leaves floating times to the reader's zone; a calendar that declares
    /// its zone says which one it meant. An unknown name keeps the default, with a warning.
    pub fn set_calendar_zone(&mut self, x_wr_timezone: Option<&str>) {
        self.floating = None;
        let Some(name) = x_wr_timezone.map(clean_tzid).filter(|n| !n.is_empty()) else {
            return;
        };
        match resolve_name(name) {
            Some(tz) => {
                let z = iana_or_utc(tz);
                self.note_used(name, &z);
                self.floating = Some(z);
            }
            None => {
                if !self.unresolved.iter().any(|u| u == name) {
                    self.unresolved.push(name.to_string());
                }
                self.warnings.push(format!(
                    "unknown X-WR-TIMEZONE {name:?}: floating times use the default zone {}",
                    self.default.name()
                ));
            }
        }
    }

    /// The zone of floating times, when the calendar declares one.
    pub fn floating_zone(&self) -> Option<Zone> {
        self.floating.clone()
    }

    fn note_used(&mut self, name: &str, z: &Zone) {
        if !self.used.iter().any(|(n, _)| n == name) {
            self.used.push((name.to_string(), z.name()));
        }
    }

    /// The default zone (floating times).
    pub fn default_zone(&self) -> Zone {
        Zone::Iana(self.default)
    }

    /// Resolve a TZID (see the module docs for the order).
    pub fn resolve(&mut self, tzid: &str) -> Zone {
        let key = clean_tzid(tzid);
        if let Some(z) = self.cache.get(key) {
            return z.clone();
        }
        if self.cache.len() >= self.max_zones {
            self.over(crate::BudgetKind::Zones, self.max_zones as u64);
            return Zone::Iana(self.default);
        }
        let z = self.resolve_uncached(key);
        self.cache.insert(key.to_string(), z.clone());
        self.note_used(key, &z);
        z
    }

    fn resolve_uncached(&mut self, tzid: &str) -> Zone {
        let vtz = self.vtimezones.get(tzid).copied();
        let named = resolve_name(tzid);
        // A "(UTC+01:00) Somewhere" name calcard only understood as a fixed offset loses DST;
        // prefer the feed's own definition then.
        let fixed_guess =
            matches!(named, Some(tz) if tz.name().starts_with("Etc/")) && tzid.starts_with('(');
        if let Some(tz) = named
            && !(fixed_guess && vtz.is_some())
        {
            return iana_or_utc(tz);
        }
        if let Some(c) = vtz {
            for key in ["X-LIC-LOCATION", "X-MICROSOFT-CDO-TZID"] {
                if let Some(p) = c.prop(key) {
                    let v = clean_tzid(&p.value);
                    let tz = if key == "X-MICROSOFT-CDO-TZID" {
                        match calcard::common::timezone::Tz::from_ms_cdo_zone_id(v) {
                            Some(calcard::common::timezone::Tz::Tz(tz)) => Some(tz),
                            _ => None,
                        }
                    } else {
                        resolve_name(v)
                    };
                    if let Some(tz) = tz {
                        return iana_or_utc(tz);
                    }
                }
            }
            if let Some(cz) = self.compile(tzid, c) {
                return Zone::Custom(Arc::new(cz));
            }
        }
        if let Some(tz) = named {
            return iana_or_utc(tz);
        }
        self.warnings.push(format!(
            "unknown time zone {tzid:?}: using the default zone {}",
            self.default.name()
        ));
        self.unresolved.push(tzid.to_string());
        Zone::Iana(self.default)
    }
}

impl Resolver<'_> {
    /// The zone a VTIMEZONE's own observances define, compiled once per distinct definition
    /// and within the feed's budgets (transitions, candidates).
    fn compile(&mut self, tzid: &str, c: &Component) -> Option<CustomZone> {
        let mut key = String::new();
        for obs in &c.children {
            key.push_str(&obs.name);
            for p in &obs.props {
                key.push('\n');
                key.push_str(&p.name);
                key.push(':');
                key.push_str(&p.value);
            }
            key.push('\n');
        }
        let built = match self.compiled.get(&key) {
            Some(b) => b.clone(),
            None => {
                let mut work = 0u64;
                let cap = self.max_transitions.saturating_sub(self.transitions);
                let b = build_custom(c, cap, &mut work);
                self.candidates_left = self.candidates_left.saturating_sub(work);
                let b = match b {
                    Err(Over::Transitions) => {
                        self.over(crate::BudgetKind::ZoneTransitions, self.max_transitions);
                        None
                    }
                    Ok(b) => b,
                };
                if self.candidates_left == 0 {
                    self.over(crate::BudgetKind::FeedCandidates, self.max_candidates);
                }
                if let Some((_, t)) = &b {
                    self.transitions += t.len() as u64;
                }
                self.compiled.insert(key, b.clone());
                b
            }
        };
        built.map(|(initial, transitions)| CustomZone {
            name: tzid.to_string(),
            initial,
            transitions,
        })
    }
}

/// A compiled VTIMEZONE: the offset before its first transition, and its transitions (UTC
/// instant, offset after), sorted.
type Compiled = (i32, Arc<[(NaiveDateTime, i32)]>);

/// Why a VTIMEZONE was not compiled.
enum Over {
    /// It has more transitions than the feed's budget has left.
    Transitions,
}

fn iana_or_utc(tz: chrono_tz::Tz) -> Zone {
    if tz == chrono_tz::Tz::UTC {
        Zone::Utc
    } else {
        Zone::Iana(tz)
    }
}

fn clean_tzid(s: &str) -> &str {
    s.trim().trim_matches('"').trim()
}

/// IANA names and aliases, then calcard's resolver (prefixes, Windows and display names).
pub fn resolve_name(name: &str) -> Option<chrono_tz::Tz> {
    let name = clean_tzid(name);
    if name.is_empty() {
        return None;
    }
    if let Ok(tz) = chrono_tz::Tz::from_str(name) {
        return Some(tz);
    }
    match calcard::common::timezone::Tz::from_str(name) {
        Ok(calcard::common::timezone::Tz::Tz(tz)) => Some(tz),
        _ => {
            // Case-insensitive IANA match ("europe/berlin").
            chrono_tz::TZ_VARIANTS
                .iter()
                .find(|tz| tz.name().eq_ignore_ascii_case(name))
                .copied()
        }
    }
}

fn parse_offset(v: &str) -> Option<i32> {
    let v = v.trim();
    let (sign, rest) = match v.as_bytes().first()? {
        b'+' => (1, &v[1..]),
        b'-' => (-1, &v[1..]),
        _ => (1, v),
    };
    if rest.len() < 4 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = rest[0..2].parse().ok()?;
    let m: i32 = rest[2..4].parse().ok()?;
    let s: i32 = if rest.len() >= 6 {
        rest[4..6].parse().ok()?
    } else {
        0
    };
    if h > 26 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60 + s))
}

/// The offset before the first transition and the transitions (UTC instant, offset after)
/// of a VTIMEZONE's STANDARD/DAYLIGHT observances, from 1900 to 2200; `Ok(None)` when it has
/// none. More than `cap` transitions is an error; `work` counts the candidates its rules
/// examined.
fn build_custom(c: &Component, cap: u64, work: &mut u64) -> Result<Option<Compiled>, Over> {
    let (Some(lo), Some(hi)) = (
        chrono::NaiveDate::from_ymd_opt(1900, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)),
        chrono::NaiveDate::from_ymd_opt(2200, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)),
    ) else {
        return Ok(None);
    };
    let mut transitions: Vec<(NaiveDateTime, i32, i32)> = Vec::new();
    for obs in &c.children {
        if obs.name != "STANDARD" && obs.name != "DAYLIGHT" {
            continue;
        }
        let Some(from) = obs
            .prop("TZOFFSETFROM")
            .and_then(|p| parse_offset(&p.value))
        else {
            continue;
        };
        let Some(to) = obs.prop("TZOFFSETTO").and_then(|p| parse_offset(&p.value)) else {
            continue;
        };
        let Some(start) = obs
            .prop("DTSTART")
            .and_then(|p| parse_naive_datetime(p.value.trim().trim_end_matches('Z')))
        else {
            continue;
        };
        // Observance onsets are wall-clock times in the offset in force before them.
        let to_utc = |local: NaiveDateTime| local - Duration::seconds(i64::from(from));
        transitions.push((to_utc(start), from, to));
        for p in obs.props_named("RDATE") {
            for v in super::parse::split_list(&p.value) {
                if let Some(d) = parse_naive_datetime(v.trim_end_matches('Z')) {
                    transitions.push((to_utc(d), from, to));
                }
            }
        }
        if let Some(rule) = obs.prop("RRULE").and_then(|p| RRule::parse(&p.value).ok()) {
            let mut it = RuleIter::new(&rule, start);
            it.set_horizon(hi);
            if rule.count.is_none() {
                it.seek(lo);
            }
            let mut n = 0u64;
            for local in it.by_ref() {
                n += 1;
                if rule.count.is_some_and(|c| n > c) || local > hi || n > 2000 {
                    break;
                }
                let utc = to_utc(local);
                let past_until = match rule.until {
                    Some(Until::Utc(u)) => utc > u,
                    Some(Until::Local(u)) => local > u,
                    Some(Until::Date(d)) => local.date() > d,
                    None => false,
                };
                if past_until {
                    break;
                }
                transitions.push((utc, from, to));
                if transitions.len() as u64 > cap {
                    *work += it.work;
                    return Err(Over::Transitions);
                }
            }
            *work += it.work;
        }
        if transitions.len() as u64 > cap {
            return Err(Over::Transitions);
        }
    }
    if transitions.is_empty() {
        return Ok(None);
    }
    transitions.sort_by_key(|t| t.0);
    transitions.dedup_by_key(|t| t.0);
    let initial = transitions[0].1;
    Ok(Some((
        initial,
        transitions.into_iter().map(|(t, _, to)| (t, to)).collect(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_vtimezones_are_compiled_once_and_zones_are_budgeted() {
        let vtz = |tzid: &str| {
            format!(
                "BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\nBEGIN:STANDARD\r\nDTSTART:16010101T030000\r\n\
                 TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\n\
                 END:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\n\
                 TZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\n\
                 END:VTIMEZONE\r\n"
            )
        };
        let feed = format!(
            "BEGIN:VCALENDAR\r\n{}{}{}END:VCALENDAR\r\n",
            vtz("Custom A"),
            vtz("Custom B"),
            vtz("Custom C")
        );
        let limits = crate::Limits {
            max_zones: 2,
            ..crate::Limits::default()
        };
        let parsed = crate::parse::parse(feed.as_bytes(), &limits);
        let mut r = Resolver::new(&parsed.calendars[0].children, chrono_tz::UTC);
        r.set_budget(&limits);
        let (Zone::Custom(a), Zone::Custom(b)) = (r.resolve("Custom A"), r.resolve("Custom B"))
        else {
            panic!("VTIMEZONE-only zones");
        };
        assert!(Arc::ptr_eq(&a.transitions, &b.transitions), "compiled once");
        assert_eq!((a.name.as_str(), b.name.as_str()), ("Custom A", "Custom B"));
        // Two a year from 1900 to 2200, and the onset in 1601.
        assert_eq!(a.transitions.len(), 601);
        assert!(r.over_budget.is_none());
        r.resolve("Custom C");
        assert_eq!(r.over_budget, Some((crate::BudgetKind::Zones, 2)));
    }

    #[test]
    fn windows_and_display_names_resolve() {
        assert_eq!(
            resolve_name("W. Europe Standard Time"),
            Some(chrono_tz::Europe::Berlin)
        );
        assert_eq!(
            resolve_name("Pacific Standard Time"),
            Some(chrono_tz::America::Los_Angeles)
        );
        assert_eq!(
            resolve_name("/mozilla.org/20050126_1/Europe/Berlin"),
            Some(chrono_tz::Europe::Berlin)
        );
        assert_eq!(resolve_name("US/Eastern"), Some(chrono_tz::US::Eastern));
        assert_eq!(resolve_name("Customized Time Zone"), None);
    }
}
