//! VEVENT components → typed events: times with their zones, span, status, people, rules.
//!
//! Why it exists: it is the one place where raw property text becomes meaning — which DTSTART
//! form means all-day, how a missing DTEND is filled in, which of STATUS / TRANSP /
//! X-MICROSOFT-CDO-BUSYSTATUS / X-OUTLOOK-DELETED decides the busy status (SPEC §5, first match
//! wins), how long fields are cut (characters, not bytes) — so that [`super::expand`] only deals
//! with instants and rules.

use chrono::{Duration, NaiveDate, NaiveDateTime};

use super::parse::{Component, Problem, Property, note, split_list, unescape_text};
use super::recur::{RRule, parse_naive_date, parse_naive_datetime};
use super::tz::{Resolver, Zone};
use super::{Class, Details, EventText, Limits, Status};
use std::sync::Arc;

/// A DATE or DATE-TIME value with its zone.
#[derive(Debug, Clone, PartialEq)]
pub enum Time {
    /// A DATE value (all-day).
    Date(NaiveDate),
    /// A DATE-TIME; `zone` is `None` for floating times (interpreted in a context zone).
    DateTime {
        /// Wall-clock value as written.
        local: NaiveDateTime,
        /// `Z` → UTC, TZID → its zone, none → floating.
        zone: Option<Zone>,
    },
}

impl Time {
    /// Whether this is a DATE value.
    pub fn is_date(&self) -> bool {
        matches!(self, Time::Date(_))
    }

    /// The zone of the value, with floating values taken to be in `ctx`.
    pub fn zone_or<'z>(&'z self, ctx: &'z Zone) -> &'z Zone {
        match self {
            Time::DateTime { zone: Some(z), .. } => z,
            _ => ctx,
        }
    }

    /// The UTC instant (naive); floating values and dates are taken in `ctx`.
    pub fn utc(&self, ctx: &Zone) -> NaiveDateTime {
        match self {
            Time::Date(d) => ctx.to_utc(d.and_time(chrono::NaiveTime::MIN)),
            Time::DateTime { local, zone } => zone.as_ref().unwrap_or(ctx).to_utc(*local),
        }
    }

    /// The wall-clock value as written (dates at 00:00).
    pub fn local(&self) -> NaiveDateTime {
        match self {
            Time::Date(d) => d.and_time(chrono::NaiveTime::MIN),
            Time::DateTime { local, .. } => *local,
        }
    }
}

/// A DURATION value: days are nominal (wall-clock), the rest exact (RFC 5545 §3.3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Whole days (weeks included), added on the wall clock.
    pub days: i64,
    /// Seconds, added to the instant.
    pub secs: i64,
}

/// Parse `[+-]P[nW][nD][T[nH][nM][nS]]`.
pub fn parse_duration(v: &str) -> Option<Span> {
    let v = v.trim();
    let (neg, rest) = match v.as_bytes().first()? {
        b'-' => (true, &v[1..]),
        b'+' => (false, &v[1..]),
        _ => (false, v),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    let mut span = Span::default();
    let mut num: Option<i64> = None;
    let mut in_time = false;
    let mut any = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            '0'..='9' => {
                let d = i64::from(c.to_digit(10)?);
                num = Some(num.unwrap_or(0).checked_mul(10)?.checked_add(d)?);
            }
            'T' => in_time = true,
            u @ ('W' | 'D' | 'H' | 'M' | 'S') => {
                let n = num.take()?;
                any = true;
                match (u, in_time) {
                    ('W', _) => span.days = span.days.checked_add(n.checked_mul(7)?)?,
                    ('D', false) => span.days = span.days.checked_add(n)?,
                    ('H', true) => span.secs = span.secs.checked_add(n.checked_mul(3600)?)?,
                    ('M', true) => span.secs = span.secs.checked_add(n.checked_mul(60)?)?,
                    ('S', true) => span.secs = span.secs.checked_add(n)?,
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
    if !any || num.is_some() {
        return None;
    }
    // Keep spans sane (a century at most) so date arithmetic cannot overflow.
    if span.days.abs() > 36_600 || span.secs.abs() > 36_600 * 86_400 {
        return None;
    }
    if neg {
        span.days = -span.days;
        span.secs = -span.secs;
    }
    Some(span)
}

/// An RDATE entry.
#[derive(Debug, Clone, PartialEq)]
pub enum RDate {
    /// A start (DATE or DATE-TIME); the series span applies.
    At(Time),
    /// A PERIOD: start and explicit end.
    Period(Time, Time),
}

/// One VEVENT, typed.
#[derive(Debug, Clone)]
pub struct Event {
    /// UID (synthesised from the content when missing).
    pub uid: String,
    /// SUMMARY, DESCRIPTION, LOCATION (unescaped and cut), ATTENDEEs and ORGANIZER: the text
    /// every occurrence of this event shares.
    pub details: Arc<Details>,
    /// DTSTART.
    pub start: Time,
    /// DTEND, if given.
    pub end: Option<Time>,
    /// DURATION, if given (and no DTEND).
    pub duration: Option<Span>,
    /// Busy status after SPEC §5's mapping.
    pub status: Status,
    /// Valid RRULEs (usually one).
    pub rrules: Vec<RRule>,
    /// RDATEs.
    pub rdates: Vec<RDate>,
    /// EXDATEs.
    pub exdates: Vec<Time>,
    /// RECURRENCE-ID, if this is an override.
    pub recurrence_id: Option<Time>,
    /// RANGE=THISANDFUTURE on the RECURRENCE-ID.
    pub this_and_future: bool,
    /// SEQUENCE (0 when missing).
    pub sequence: i64,
    /// Position in the feed (later wins ties).
    pub order: usize,
}

impl Event {
    /// Whether the event recurs (RRULE or RDATE).
    pub fn is_recurring(&self) -> bool {
        !self.rrules.is_empty() || !self.rdates.is_empty()
    }
}

/// Cut `s` to at most `max` characters.
pub fn truncate_chars(mut s: String, max: usize) -> String {
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
    }
    s
}

fn text(c: &Component, name: &str, max: usize) -> String {
    c.prop(name)
        .map(|p| truncate_chars(unescape_text(&p.value), max))
        .unwrap_or_default()
}

/// Parse a DATE / DATE-TIME property value, resolving its TZID.
pub fn parse_time(p: &Property, value: &str, tz: &mut Resolver<'_>) -> Option<Time> {
    let v = value.trim();
    let is_date = p
        .param("VALUE")
        .is_some_and(|x| x.eq_ignore_ascii_case("DATE"))
        || (!v.contains(['T', 't']));
    if is_date {
        // VALUE=DATE with a date-time value: keep the date.
        let d = v.split(['T', 't']).next().unwrap_or(v);
        return parse_naive_date(d).map(Time::Date);
    }
    if let Some(body) = v.strip_suffix(['Z', 'z']) {
        return parse_naive_datetime(body).map(|local| Time::DateTime {
            local,
            zone: Some(Zone::Utc),
        });
    }
    let local = parse_naive_datetime(v)?;
    // No TZID: floating, unless the calendar names its zone (X-WR-TIMEZONE).
    let zone = match p.param("TZID") {
        Some(id) => Some(tz.resolve(id)),
        None => tz.floating_zone(),
    };
    Some(Time::DateTime { local, zone })
}

/// Who a CAL-ADDRESS property names: its CN, else the address without `mailto:`.
fn person(p: &Property) -> Option<String> {
    person_of(p.param("CN").unwrap_or(""), &p.value)
}

fn person_of(cn: &str, value: &str) -> Option<String> {
    let cn = cn.trim();
    if !cn.is_empty() {
        return Some(cn.to_string());
    }
    let v = value.trim();
    let v = if v.len() >= 7 && v[..7].eq_ignore_ascii_case("mailto:") {
        &v[7..]
    } else {
        v
    };
    (!v.is_empty()).then(|| v.to_string())
}

/// CLASS: PRIVATE and CONFIDENTIAL are told apart; anything else is public.
fn class_of(c: &Component) -> Class {
    match c
        .prop("CLASS")
        .map(|p| p.value.trim().to_ascii_uppercase())
        .as_deref()
    {
        Some("PRIVATE") => Class::Private,
        Some("CONFIDENTIAL") => Class::Confidential,
        _ => Class::Public,
    }
}

/// SPEC §5: first match wins.
fn status_of(c: &Component) -> Status {
    let upper = |n: &str| c.prop(n).map(|p| p.value.trim().to_ascii_uppercase());
    if c.prop("X-OUTLOOK-DELETED").is_some() {
        return Status::Cancelled;
    }
    if upper("X-MICROSOFT-CDO-BUSYSTATUS").as_deref() == Some("FREE") {
        return Status::Free;
    }
    match upper("STATUS").as_deref() {
        Some("CANCELLED") => return Status::Cancelled,
        Some("TENTATIVE") => return Status::Tentative,
        _ => {}
    }
    if upper("TRANSP").as_deref() == Some("TRANSPARENT") {
        return Status::Free;
    }
    Status::Busy
}

/// A stable UID for an event that has none: a hash of its content lines.
fn synth_uid(c: &Component) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    // In feed order: the attendees are kept apart from the other properties.
    let mut people = c.attendees.iter().peekable();
    let line = |h: &mut Sha256, name: &str, value: &str| {
        h.update(name.as_bytes());
        h.update(b":");
        h.update(value.as_bytes());
        h.update(b"\n");
    };
    for p in &c.props {
        while let Some(a) = people.next_if(|a| a.line < p.line) {
            line(&mut h, "ATTENDEE", a.value());
        }
        if p.name == "DTSTAMP" {
            continue;
        }
        line(&mut h, &p.name, &p.value);
    }
    for a in people {
        line(&mut h, "ATTENDEE", a.value());
    }
    let d = h.finalize();
    let hex: String = d.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("nouid-{hex}")
}

/// Read one VEVENT. `None` (with a warning) when it has no usable DTSTART.
pub fn read_event(
    c: &Component,
    order: usize,
    limits: &Limits,
    tz: &mut Resolver<'_>,
    warnings: &mut Vec<String>,
    problems: &mut Vec<Problem>,
) -> Option<Event> {
    let uid = c
        .prop("UID")
        .map(|p| p.value.trim().to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| synth_uid(c));
    let Some(start) = c.prop("DTSTART").and_then(|p| parse_time(p, &p.value, tz)) else {
        let msg = format!("event {uid:?} has no valid DTSTART: skipped");
        note(problems, Some(c.line), msg.clone());
        warnings.push(msg);
        return None;
    };
    let mut start = start;
    let mut end = c.prop("DTEND").and_then(|p| parse_time(p, &p.value, tz));
    // DTEND before DTSTART (RFC 5545 §3.6.1: DTEND MUST be later): the exporter swapped them.
    // Take the earlier as the start, so the meeting neither starts late nor lasts nothing.
    if let Some(e) = end.take() {
        let ctx = tz.default_zone();
        if e.utc(&ctx) < start.utc(&ctx) {
            let msg = format!("event {uid:?}: DTEND before DTSTART: swapped");
            let line = c.prop("DTEND").map(|p| p.line);
            note(problems, line, msg.clone());
            warnings.push(msg);
            end = Some(std::mem::replace(&mut start, e));
        } else {
            end = Some(e);
        }
    }
    let duration = if end.is_none() {
        c.prop("DURATION").and_then(|p| parse_duration(&p.value))
    } else {
        None
    };
    let mut rrules = Vec::new();
    for p in c.props_named("RRULE") {
        match RRule::parse(&p.value) {
            Ok(r) => {
                for n in &r.notes {
                    let msg = format!("event {uid:?}: RRULE {n}");
                    note(problems, Some(p.line), msg.clone());
                    warnings.push(msg);
                }
                rrules.push(r)
            }
            Err(e) => {
                let msg = format!("event {uid:?}: {e}: rule ignored");
                note(problems, Some(p.line), msg.clone());
                warnings.push(msg);
            }
        }
    }
    let mut rdates = Vec::new();
    for p in c.props_named("RDATE") {
        let period = p
            .param("VALUE")
            .is_some_and(|v| v.eq_ignore_ascii_case("PERIOD"));
        for v in split_list(&p.value) {
            if period || v.contains('/') {
                let Some((a, b)) = v.split_once('/') else {
                    continue;
                };
                let Some(s) = parse_time(p, a, tz) else {
                    continue;
                };
                let e = if b.trim_start().starts_with(['P', 'p', '+', '-']) {
                    parse_duration(b).map(|d| add_span(&s, d))
                } else {
                    parse_time(p, b, tz)
                };
                match e {
                    Some(e) => rdates.push(RDate::Period(s, e)),
                    None => rdates.push(RDate::At(s)),
                }
            } else if let Some(t) = parse_time(p, v, tz) {
                rdates.push(RDate::At(t));
            }
        }
    }
    let mut exdates = Vec::new();
    for p in c.props_named("EXDATE") {
        for v in split_list(&p.value) {
            if let Some(t) = parse_time(p, v, tz) {
                exdates.push(t);
            }
        }
    }
    let (recurrence_id, this_and_future) = match c.prop("RECURRENCE-ID") {
        Some(p) => (
            parse_time(p, &p.value, tz),
            p.param("RANGE")
                .is_some_and(|r| r.eq_ignore_ascii_case("THISANDFUTURE")),
        ),
        None => (None, false),
    };
    let sequence = c
        .prop("SEQUENCE")
        .and_then(|p| p.value.trim().parse().ok())
        .unwrap_or(0);
    // ATTENDEE lines read by the parser are packed apart; a component built by hand may still
    // hold them as properties. Feed order either way.
    let mut people: Vec<(usize, String)> = c
        .props_named("ATTENDEE")
        .filter_map(|p| person(p).map(|n| (p.line, n)))
        .chain(
            c.attendees
                .iter()
                .filter_map(|a| person_of(a.cn(), a.value()).map(|n| (a.line, n))),
        )
        .collect();
    if !c.attendees.is_empty() && people.len() > c.attendees.len() {
        people.sort_by_key(|(line, _)| *line);
    }
    let attendees = people.into_iter().map(|(_, n)| n).collect();
    // Who declined (issue #13's owner matching): from packed lines and hand-built properties.
    let declined = c
        .props_named("ATTENDEE")
        .filter(|p| {
            p.param("PARTSTAT")
                .is_some_and(|s| s.trim().eq_ignore_ascii_case("DECLINED"))
        })
        .map(|p| p.value.as_str())
        .chain(
            c.attendees
                .iter()
                .filter(|a| a.partstat().trim().eq_ignore_ascii_case("DECLINED"))
                .map(|a| a.value()),
        );
    let details = Arc::new(
        Details::from(EventText {
            uid: uid.clone(),
            subject: text(c, "SUMMARY", limits.max_subject_chars),
            description: text(c, "DESCRIPTION", limits.max_description_chars),
            location: text(c, "LOCATION", limits.max_location_chars),
            attendees,
            organizer: c.prop("ORGANIZER").and_then(person),
        })
        .with_access(class_of(c), declined),
    );
    // Kept events wait for their expansion: no spare capacity (a first push reserves four
    // rules, ~1.2 KB; 3,500 rules of the 50k benchmark feed held 3.9 MB that way).
    rrules.shrink_to_fit();
    rdates.shrink_to_fit();
    exdates.shrink_to_fit();
    Some(Event {
        uid,
        details,
        start,
        end,
        duration,
        status: status_of(c),
        rrules,
        rdates,
        exdates,
        recurrence_id,
        this_and_future,
        sequence,
        order,
    })
}

/// `t` plus a span, keeping its form (date stays date; exact seconds on a date are dropped).
fn add_span(t: &Time, d: Span) -> Time {
    match t {
        Time::Date(x) => Time::Date(*x + Duration::days(d.days)),
        Time::DateTime { local, zone } => Time::DateTime {
            local: *local + Duration::days(d.days) + Duration::seconds(d.secs),
            zone: zone.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("PT1H30M"),
            Some(Span {
                days: 0,
                secs: 5400
            })
        );
        assert_eq!(parse_duration("P1W"), Some(Span { days: 7, secs: 0 }));
        assert_eq!(parse_duration("-P1DT1S"), Some(Span { days: -1, secs: -1 }));
        assert_eq!(parse_duration("P"), None);
        assert_eq!(parse_duration("PT1"), None);
        assert_eq!(parse_duration("P99999999999999999999D"), None);
    }

    #[test]
    fn truncation_counts_chars() {
        assert_eq!(truncate_chars("äöüß".into(), 2), "äö");
        assert_eq!(truncate_chars("ab".into(), 5), "ab");
    }
}
