//! A feed read as a stream, in passes, keeping only what can reach the window.
//!
//! Why it exists: the kiosk's memory must follow the window (7 days back, a year ahead), not
//! the feed. An Outlook or Google calendar with years of history is tens of megabytes of text
//! and tens of thousands of events, almost all of them over. Reading it whole (bytes, then a
//! component tree, then every event) peaked at 91 MiB for a 9.5 MB feed, past the unit's
//! 64 MiB limit. Here the bytes are read by chunks ([`crate::parse::Streamer`]), each VEVENT is
//! turned into an event as soon as it closes, and an event that cannot reach the window is
//! dropped right then. What is held at once: one component, the events that can reach the
//! window, and a few bytes per dropped event.
//!
//! The passes (the bytes are read again, not kept: a [`Source`] can be opened more than once):
//! 1. **Zones**: calendar properties (`X-WR-TIMEZONE`) and VTIMEZONEs only; every other
//!    component is skimmed for BEGIN/END. A TZID resolves the same whether its VTIMEZONE comes
//!    before or after the events that use it, as when the feed was read whole.
//! 2. **Events**: each VEVENT is read; what can reach the window is kept. Dropped, with a hash
//!    of its UID kept:
//!    - a single event (no RRULE, RDATE or RECURRENCE-ID) that ends before the window;
//!    - a series whose every rule has an UNTIL and whose last possible instance (UNTIL, RDATEs,
//!      DTSTART) ends before the window;
//!    - an override (not THISANDFUTURE) that ends before the window and whose slot is more
//!      than [`OVERRIDE_SLACK_DAYS`] before it.
//!
//!    "Before" is judged with a day of slack for zones and the event's longest possible span.
//! 3. **Conflicts** (only when needed): a UID whose dropped event could still change what a
//!    kept one shows (a duplicate master, a master whose overrides were kept, an override for
//!    a slot a dropped override may also name (the same instant when both name their zone,
//!    else within two days as written), a THISANDFUTURE override) is read again whole, so
//!    the result is exactly the one of a whole read.
//!
//! Warnings, problems and counts come from pass 2 alone, in the order a whole read gave them.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::BufRead;

use chrono::{Duration, NaiveDateTime};

use super::event::{Event, RDate, Time, read_event};
use super::parse::{Component, MAX_PROBLEMS, Piece, Problem, Streamer};
use super::recur::Until;
use super::tz::Resolver;
use super::{ExpandOptions, Expansion, FeedStats, IcsError, OverBudget, expand};

/// An override is dropped only when its slot is at least this long before the window: a
/// master's instance at that slot would have to last longer than this to reach the window.
pub const OVERRIDE_SLACK_DAYS: i64 = 30;

/// Bytes of a feed that can be read from the start more than once (a buffer, a spool file).
pub trait Source {
    /// A reader positioned at the first byte.
    fn open(&self) -> std::io::Result<Box<dyn BufRead + '_>>;
}

impl Source for &[u8] {
    fn open(&self) -> std::io::Result<Box<dyn BufRead + '_>> {
        Ok(Box::new(*self))
    }
}

fn read_err(e: std::io::Error) -> IcsError {
    IcsError::Read(e.to_string())
}

/// Run one pass of the parser over `src`.
fn pass(
    src: &dyn Source,
    opts: &ExpandOptions,
    light: bool,
    sink: &mut dyn FnMut(Piece),
) -> Result<super::parse::Parsed, IcsError> {
    let mut streamer = Streamer::new(&opts.limits, light);
    let mut r = src.open().map_err(read_err)?;
    streamer.read_from(&mut *r, sink).map_err(read_err)?;
    Ok(streamer.finish(sink))
}

fn uid_hash(uid: &str) -> u64 {
    let mut h = DefaultHasher::new();
    uid.hash(&mut h);
    h.finish()
}

/// The longest an instance of `ev` can last, with two days of slack for zones.
fn span_upper(ev: &Event) -> Duration {
    let base = match (&ev.end, ev.duration) {
        (Some(e), _) => (e.local() - ev.start.local()).abs(),
        (None, Some(d)) => Duration::days(d.days.abs()) + Duration::seconds(d.secs.abs()),
        (None, None) => Duration::days(1),
    };
    base + Duration::days(2)
}

/// The latest wall-clock start any instance of a non-override event can have, or `None` when
/// it is unbounded (a rule without UNTIL).
fn last_start_upper(ev: &Event) -> Option<NaiveDateTime> {
    let mut last = ev.start.local();
    for r in &ev.rrules {
        let u = match r.until? {
            Until::Utc(t) | Until::Local(t) => t,
            Until::Date(d) => d.and_time(chrono::NaiveTime::MIN) + Duration::days(1),
        };
        last = last.max(u);
    }
    for rd in &ev.rdates {
        let t = match rd {
            RDate::At(t) => t.local(),
            RDate::Period(s, e) => s.local().max(e.local()),
        };
        last = last.max(t);
    }
    Some(last)
}

/// Whether `ev` can be dropped: every instance ends before `from` (naive UTC), with slack.
fn ends_before(ev: &Event, from: NaiveDateTime) -> bool {
    let day = Duration::days(1);
    match &ev.recurrence_id {
        None => last_start_upper(ev).is_some_and(|t| t + span_upper(ev) + day < from),
        Some(rid) => {
            !ev.this_and_future
                && rid.local() + day < from - Duration::days(OVERRIDE_SLACK_DAYS)
                && ev.start.local() + span_upper(ev) + day < from
        }
    }
}

fn rid_upper(t: &Time) -> NaiveDateTime {
    t.local() + Duration::days(1)
}

/// What pass 2 dropped.
#[derive(Default)]
struct Dropped {
    /// UIDs of dropped singles and series.
    masters: HashSet<u64>,
    /// UIDs of dropped overrides, with the latest slot among them.
    overrides: HashMap<u64, NaiveDateTime>,
    /// (UID, day of the slot as written) of each dropped override.
    slots: HashSet<(u64, i32)>,
    /// (UID, instant) of each dropped override whose slot names its zone (`Z` or TZID).
    instants: HashSet<(u64, i64)>,
    /// UIDs with a dropped override whose slot is floating or a date.
    unzoned: HashSet<u64>,
}

/// The instant of a slot that names its zone (`Z` or TZID); `None` for floating and dates.
fn slot_instant(t: &Time) -> Option<i64> {
    match t {
        Time::DateTime {
            local,
            zone: Some(z),
        } => Some(z.to_utc(*local).and_utc().timestamp()),
        _ => None,
    }
}

/// The day of a slot as written (days since 1970), for matching slots with a day of slack.
fn slot_day(t: &Time) -> i32 {
    let days = (t.local().date() - chrono::NaiveDate::default()).num_days();
    i32::try_from(days).unwrap_or(i32::MAX)
}

impl Dropped {
    /// UIDs whose dropped events could change what the kept events show.
    fn conflicts(&self, kept: &[Event], from: NaiveDateTime) -> HashSet<u64> {
        let mut out = HashSet::new();
        if self.masters.is_empty() && self.overrides.is_empty() {
            return out;
        }
        // All-day series match slots by date: two instants can name one slot there.
        let all_day: HashSet<u64> = kept
            .iter()
            .filter(|e| e.recurrence_id.is_none() && e.start.is_date())
            .map(|e| uid_hash(&e.uid))
            .collect();
        for ev in kept {
            let h = uid_hash(&ev.uid);
            if self.masters.contains(&h) {
                out.insert(h);
                continue;
            }
            let Some(&last_slot) = self.overrides.get(&h) else {
                continue;
            };
            // A kept override conflicts when a dropped one may name the same slot: the same
            // instant when both name their zone (and the series is timed), else the same day
            // as written, give or take two (zone forms).
            let conflict = match &ev.recurrence_id {
                Some(rid) => {
                    let d = slot_day(rid);
                    let by_day = || (d - 2..=d + 2).any(|x| self.slots.contains(&(h, x)));
                    ev.this_and_future
                        || match slot_instant(rid) {
                            Some(t) if !all_day.contains(&h) && !self.unzoned.contains(&h) => {
                                self.instants.contains(&(h, t))
                            }
                            _ => by_day(),
                        }
                }
                None => last_slot + span_upper(ev) + Duration::days(1) >= from,
            };
            if conflict {
                out.insert(h);
            }
        }
        out
    }
}

/// Floating times of the `i`-th calendar are in its X-WR-TIMEZONE, if it names one.
fn calendar_zone(calendars: &[Component], i: usize) -> Option<&str> {
    calendars
        .get(i)
        .and_then(|c| c.prop("X-WR-TIMEZONE"))
        .map(|p| p.value.as_str())
}

/// Parse and expand the feed in `src` into the window of `opts` (see the module docs).
pub fn expand_source(src: &dyn Source, opts: &ExpandOptions) -> Result<Expansion, IcsError> {
    // Pass 1: calendar properties and zones.
    let mut vtimezones: Vec<Component> = Vec::new();
    let mut calendars: Vec<Component> = Vec::new();
    let mut vevents = 0usize;
    pass(src, opts, true, &mut |piece| match piece {
        Piece::Child(c) if c.name == "VTIMEZONE" => vtimezones.push(c),
        Piece::Child(c) if c.name == "VEVENT" => vevents += 1,
        Piece::CalendarEnd(c) => calendars.push(c),
        _ => {}
    })?;
    if calendars.is_empty() {
        return Err(IcsError::NotACalendar("no BEGIN:VCALENDAR found".into()));
    }
    let mut resolver = Resolver::new(vtimezones.iter(), opts.default_tz);
    resolver.set_budget(&opts.limits);
    let default = resolver.default_zone();
    let from = opts.from.naive_utc();
    // A hard budget of the zones (docs/engine.md, "Budgets"): the first event that runs over
    // it refuses the feed; the passes read on without doing anything more.
    let mut over: Option<OverBudget> = None;
    let check = |resolver: &Resolver, c: &Component, over: &mut Option<OverBudget>| {
        if over.is_none()
            && let Some((budget, limit)) = resolver.over_budget
        {
            let uid = c.prop("UID").map(|p| p.value.clone()).unwrap_or_default();
            *over = Some(OverBudget { budget, limit, uid });
        }
    };

    // Pass 2: events.
    let mut warnings: Vec<String> = Vec::new();
    let mut problems: Vec<Problem> = Vec::new();
    let mut stats = FeedStats::default();
    // Sized once from pass 1's count: one block, apart from the events' text that the calendar
    // keeps, handed back whole after the expansion. Grown by doubling (16 MB for the 42,000
    // events of the 50k feed), or boxed one by one (holes between the kept text that the heap
    // could not give back: 43 MiB resident after that load), it cost more (docs/engine.md).
    let mut kept: Vec<Event> = Vec::with_capacity(vevents.min(opts.limits.max_events));
    let mut dropped = Dropped::default();
    let mut order = 0usize;
    let mut calendar = 0usize;
    let parsed = pass(src, opts, false, &mut |piece| match piece {
        Piece::CalendarBegin => {
            resolver.set_calendar_zone(calendar_zone(&calendars, calendar));
            calendar += 1;
        }
        Piece::Child(c) if c.name == "VEVENT" && over.is_none() => {
            let rules = c.props_named("RRULE").count();
            let read = read_event(
                &c,
                order,
                &opts.limits,
                &mut resolver,
                &mut warnings,
                &mut problems,
            );
            check(&resolver, &c, &mut over);
            match read {
                Some(ev) => {
                    stats.rules_ignored += rules - ev.rrules.len();
                    stats.events_parsed += 1;
                    if ends_before(&ev, from) {
                        let h = uid_hash(&ev.uid);
                        match &ev.recurrence_id {
                            None => {
                                dropped.masters.insert(h);
                            }
                            Some(rid) => {
                                let slot = dropped.overrides.entry(h).or_insert(rid_upper(rid));
                                *slot = (*slot).max(rid_upper(rid));
                                dropped.slots.insert((h, slot_day(rid)));
                                match slot_instant(rid) {
                                    Some(t) => dropped.instants.insert((h, t)),
                                    None => dropped.unzoned.insert(h),
                                };
                            }
                        }
                    } else {
                        kept.push(ev);
                    }
                }
                None => stats.events_skipped += 1,
            }
            order += 1;
        }
        _ => {}
    })?;
    if let Some(over) = over {
        return Err(IcsError::OverBudget(over));
    }

    kept.shrink_to_fit();
    // Pass 3: UIDs whose dropped events matter, read again whole.
    let again = dropped.conflicts(&kept, from);
    drop(dropped);
    if !again.is_empty() {
        kept.retain(|ev| !again.contains(&uid_hash(&ev.uid)));
        // Their warnings were given in pass 2 already.
        let (mut w, mut p) = (Vec::new(), Vec::new());
        let zone_warnings = resolver.warnings.len();
        let mut order = 0usize;
        let mut calendar = 0usize;
        pass(src, opts, false, &mut |piece| match piece {
            Piece::CalendarBegin => {
                resolver.set_calendar_zone(calendar_zone(&calendars, calendar));
                calendar += 1;
            }
            Piece::Child(c) if c.name == "VEVENT" && over.is_none() => {
                let read = read_event(&c, order, &opts.limits, &mut resolver, &mut w, &mut p);
                check(&resolver, &c, &mut over);
                if let Some(ev) = read
                    && again.contains(&uid_hash(&ev.uid))
                {
                    kept.push(ev);
                }
                order += 1;
            }
            _ => {}
        })?;
        if let Some(over) = over {
            return Err(IcsError::OverBudget(over));
        }
        resolver.warnings.truncate(zone_warnings);
        kept.sort_by_key(|e| e.order);
    }

    // The diagnostics in the order a whole read gave them: the parser's, then the events'.
    let mut all_warnings = parsed.warnings;
    all_warnings.append(&mut warnings);
    let mut all_problems = parsed.problems;
    let room = MAX_PROBLEMS.saturating_sub(all_problems.len());
    all_problems.extend(problems.into_iter().take(room));
    all_problems.sort_by_key(|p| p.line);
    stats.problems = all_problems;
    stats.lines_skipped = parsed.lines_skipped;
    stats.truncated = parsed.truncated;
    stats.zones_used = std::mem::take(&mut resolver.used);
    stats.zones_unresolved = std::mem::take(&mut resolver.unresolved);
    all_warnings.append(&mut resolver.warnings);
    let candidates_left = resolver.candidates_left;
    drop(resolver);
    drop(vtimezones);
    let mut bounds_hit = parsed.bounds_hit;
    // Reserved at the bound once (pages are resident only when written): grown by doubling,
    // the old and the new buffer were both held at the refresh peak of the 50k feed.
    let mut occurrences = Vec::with_capacity(opts.limits.max_occurrences_per_feed.min(1 << 17));
    let mut budget = expand::Budget {
        opts,
        warnings: &mut all_warnings,
        bounds_hit: &mut bounds_hit,
        produced: 0,
        steps_left: expand::MAX_FEED_STEPS,
        candidates_left,
        over: None,
    };
    expand::expand_events(kept, &default, &mut budget, &mut occurrences);
    if let Some(over) = budget.over {
        return Err(IcsError::OverBudget(over));
    }
    let tz = opts.default_tz;
    occurrences.sort_by(|a, b| {
        a.cmp_start_then_id(b, tz)
            .then_with(|| a.end_utc(tz).cmp(&b.end_utc(tz)))
    });
    occurrences.shrink_to_fit();
    Ok(Expansion {
        occurrences,
        warnings: all_warnings,
        bounds_hit,
        stats,
    })
}
