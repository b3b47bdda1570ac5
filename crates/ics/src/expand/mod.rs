//! Events → occurrences in a window: series expansion, EXDATE/RDATE, overrides, ids, bounds.
//!
//! Why it exists: this is where RFC 5545's recurrence semantics meet real feeds. Decisions
//! (also in docs/engine.md):
//! - **Wall clock.** Rules run on the wall clock of DTSTART's zone ([`super::recur`]); each
//!   instance is then converted to an instant (gap → offset before the gap, fold → first).
//! - **DTSTART is the first instance** even when it does not match its rule, and it counts
//!   towards COUNT (RFC 5545 §3.3.10 "The DTSTART property value always counts as the first
//!   occurrence").
//! - **UNTIL repairs.** `…Z` is an inclusive instant (Google's `T235959Z`, Outlook's exact
//!   instant); a local UNTIL (iCloud) is wall-clock in DTSTART's zone; a DATE UNTIL with a
//!   DATE-TIME start covers that whole local day; with an all-day start the date part counts.
//! - **EXDATE / RECURRENCE-ID** match an instance by instant for timed series (any zone form),
//!   by date for all-day series; an EXDATE given as a DATE on a timed series removes that day.
//! - **Overrides** replace exactly their slot; several for one slot: highest SEQUENCE, then the
//!   last one. A slot's override is shown even when moved far away (into or out of the window
//!   independently of the slot). RANGE=THISANDFUTURE shifts and restyles every later instance.
//!   An override without master is a single event. Duplicate masters: highest SEQUENCE, then last.
//! - **Ids.** A single event and an override: the UID (SPEC §5 and the CalendarBot fixtures).
//!   An expanded instance: `UID_YYYYMMDDTHHMMSS` of its UTC start (all-day: its date, T000000).
//! - **Efficiency and bounds.** Rules seek to the window instead of walking from DTSTART when
//!   COUNT does not force counting (or when each period yields one instance, so counting is
//!   arithmetic). Per-rule instances, rule steps and per-feed occurrences are bounded; a bound
//!   hit is a warning, and what was produced up to it is kept.
//! - **Budgets.** Candidates examined (days looked at plus instances made, counted by
//!   [`RuleIter::work`]) are a hard budget per rule and per feed: a feed that needs more is
//!   refused whole ([`super::IcsError::OverBudget`], naming the budget and the event), because
//!   a rule that costs that much is hostile, not a calendar.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

use super::event::{Event, RDate, Span, Time};
use super::recur::{RRule, RuleIter, Until};
use super::tz::Zone;
use super::{BudgetKind, ExpandOptions, Occurrence, OverBudget, When, when_utc};

/// Period steps one rule may take before it is stopped (runaway rules that match nothing).
const MAX_RULE_STEPS: u64 = 100_000;
/// Period steps all rules of one feed may take together.
pub const MAX_FEED_STEPS: u64 = 1_000_000;

/// Identity of a slot in a series: an instant for timed series, a date for all-day ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    At(NaiveDateTime),
    Day(NaiveDate),
}

/// One generated instance of a series.
#[derive(Debug, Clone)]
struct Slot {
    key: Key,
    /// Wall-clock start in the series zone (dates at 00:00).
    local: NaiveDateTime,
    /// Explicit end (RDATE PERIOD).
    end: Option<Time>,
    /// Whether an RDATE (not a rule or DTSTART) made it: UNTIL does not bound it.
    rdate: bool,
}

/// Shared counters for one feed.
pub struct Budget<'a> {
    /// Options of this expansion.
    pub opts: &'a ExpandOptions,
    /// Warnings so far.
    pub warnings: &'a mut Vec<String>,
    /// Bounds hit so far.
    pub bounds_hit: &'a mut u64,
    /// Occurrences produced so far.
    pub produced: usize,
    /// Rule steps left for this feed (starts at [`MAX_FEED_STEPS`]).
    pub steps_left: u64,
    /// Candidates the feed's rules may still examine (hard budget: `max_feed_candidates`
    /// less what its VTIMEZONE rules took).
    pub candidates_left: u64,
    /// The hard budget that ran out, if one did: expansion stops and the feed is refused.
    pub over: Option<OverBudget>,
}

impl Budget<'_> {
    fn hit(&mut self, msg: String) {
        *self.bounds_hit += 1;
        self.warnings.push(msg);
    }

    /// Record that `budget` (whose limit is `limit`) ran out at event `uid`; the first wins.
    fn over(&mut self, budget: BudgetKind, limit: u64, uid: &str) {
        if self.over.is_none() {
            self.over = Some(OverBudget {
                budget,
                limit,
                uid: uid.to_string(),
            });
        }
    }
}

/// Expand every event of one feed into `out`.
pub fn expand_events(
    events: Vec<Event>,
    default: &Zone,
    budget: &mut Budget<'_>,
    out: &mut Vec<Occurrence>,
) {
    // Grouped by UID through a list of indices sorted by UID (8 bytes an event): maps keyed
    // by cloned UIDs held ~5 MB at the refresh peak of the 50k feed (heaptrack), and a map of
    // whole events 28 MB before that. Each event is taken out when its series is expanded.
    let mut slots: Vec<Option<Event>> = events.into_iter().map(Some).collect();
    let mut by_uid: Vec<usize> = (0..slots.len()).collect();
    // Stable: within one UID, feed order.
    by_uid.sort_by(|&a, &b| {
        let (x, y) = (slots[a].as_ref(), slots[b].as_ref());
        x.map(|e| e.uid.as_str()).cmp(&y.map(|e| e.uid.as_str()))
    });
    let seq = |slots: &[Option<Event>], i: usize| slots[i].as_ref().map_or(0, |e| e.sequence);
    let order_of = |slots: &[Option<Event>], i: usize| slots[i].as_ref().map_or(0, |e| e.order);
    let is_override = |slots: &[Option<Event>], i: usize| {
        slots[i].as_ref().is_some_and(|e| e.recurrence_id.is_some())
    };
    // Per UID: its master (highest SEQUENCE, then last) and where its events are in `by_uid`.
    let mut groups: Vec<(Option<usize>, std::ops::Range<usize>)> = Vec::new();
    let mut at = 0;
    while at < by_uid.len() {
        let first = slots[by_uid[at]].as_ref().map(|e| e.uid.as_str());
        let mut end = at + 1;
        while end < by_uid.len() && slots[by_uid[end]].as_ref().map(|e| e.uid.as_str()) == first {
            end += 1;
        }
        let mut master: Option<usize> = None;
        for &i in &by_uid[at..end] {
            if is_override(&slots, i) {
                continue;
            }
            match master {
                Some(old) if seq(&slots, old) > seq(&slots, i) => {}
                _ => master = Some(i),
            }
        }
        groups.push((master, at..end));
        at = end;
    }
    groups.sort_by_key(|(m, r)| match m {
        Some(i) => (0, order_of(&slots, *i)),
        None => (
            1,
            by_uid[r.clone()]
                .iter()
                .map(|&j| order_of(&slots, j))
                .min()
                .unwrap_or(0),
        ),
    });
    let take_overrides = |slots: &mut [Option<Event>], r: std::ops::Range<usize>| -> Vec<Event> {
        let mut list: Vec<usize> = by_uid[r]
            .iter()
            .copied()
            .filter(|&j| is_override(slots, j))
            .collect();
        list.sort_unstable();
        list.into_iter().filter_map(|j| slots[j].take()).collect()
    };
    let feed_cap = budget.opts.limits.max_occurrences_per_feed;
    let mut stopped = false;
    for (master, range) in groups {
        match master {
            Some(i) => {
                if stopped || budget.produced >= feed_cap || budget.over.is_some() {
                    stopped = true;
                    continue;
                }
                let Some(m) = slots[i].take() else { continue };
                let ovs = take_overrides(&mut slots, range);
                expand_series(&m, ovs, default, budget, out);
            }
            // Overrides whose master is missing: single events.
            None => {
                let ovs = take_overrides(&mut slots, range);
                let mut best: HashMap<Key, Event> = HashMap::new();
                for o in ovs {
                    let zone = o.start.zone_or(default).clone();
                    let key = rid_key(o.recurrence_id.as_ref().expect("override"), false, &zone);
                    pick_latest(&mut best, key, o);
                }
                let mut list: Vec<Event> = best.into_values().collect();
                list.sort_by_key(|e| e.order);
                for o in list {
                    emit_single(&o, default, true, budget, out);
                }
            }
        }
    }
}

fn pick_latest(map: &mut HashMap<Key, Event>, key: Key, ev: Event) {
    match map.get(&key) {
        Some(old) if old.sequence > ev.sequence => {}
        _ => {
            map.insert(key, ev);
        }
    }
}

fn rid_key(rid: &Time, all_day_series: bool, zone: &Zone) -> Key {
    match rid {
        Time::Date(d) => Key::Day(*d),
        Time::DateTime { local, zone: z } => {
            if all_day_series {
                // A date-time RECURRENCE-ID on an all-day series names the day.
                let z = z.as_ref().unwrap_or(zone);
                Key::Day(z.to_local(z.to_utc(*local)).date())
            } else {
                Key::At(z.as_ref().unwrap_or(zone).to_utc(*local))
            }
        }
    }
}

fn utc_dt(n: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(n, Utc)
}

/// The occurrence of `ev` starting at wall-clock `local` in `zone` (timed) or on a date.
fn occurrence_at(
    ev: &Event,
    start: &Time,
    end_override: Option<&Time>,
    zone: &Zone,
    default: &Zone,
    expanded: bool,
    recurring: bool,
) -> Occurrence {
    let (s, e) = match start {
        Time::Date(d) => {
            let end = match end_override {
                Some(t) => t.local().date(),
                None => *d + Duration::days(all_day_len(ev)),
            };
            let end = if end <= *d {
                *d + Duration::days(1)
            } else {
                end
            };
            (When::AllDay(*d), When::AllDay(end))
        }
        Time::DateTime { .. } => {
            let z = start.zone_or(zone);
            let su = start.utc(zone);
            let eu = match end_override {
                Some(t) => t.utc(z),
                None => timed_end(ev, su, z, default),
            };
            let eu = eu.max(su);
            (When::Timed(utc_dt(su)), When::Timed(utc_dt(eu)))
        }
    };
    Occurrence {
        details: Arc::clone(&ev.details),
        start: s,
        end: e,
        status: ev.status,
        recurring,
        expanded,
    }
}

/// Days an all-day event lasts (at least one).
fn all_day_len(ev: &Event) -> i64 {
    let start = ev.start.local().date();
    let days = match (&ev.end, ev.duration) {
        (Some(e), _) => (e.local().date() - start).num_days(),
        (None, Some(d)) => d.days + d.secs.div_euclid(86_400),
        (None, None) => 1,
    };
    days.max(1)
}

/// End instant of a timed occurrence starting at instant `su` in zone `z`.
///
/// RFC 5545 §3.8.5.3: with DTEND every instance lasts the master's *exact* duration (DTEND's
/// instant minus DTSTART's); with DURATION the days are nominal (added on the wall clock) and
/// the rest exact. No end: zero length.
fn timed_end(ev: &Event, su: NaiveDateTime, z: &Zone, default: &Zone) -> NaiveDateTime {
    match (&ev.end, ev.duration) {
        (Some(end), _) => {
            let ctx = ev.start.zone_or(default);
            su + (end.utc(ctx) - ev.start.utc(ctx))
        }
        (None, Some(Span { days, secs })) => {
            let base = if days != 0 {
                z.to_utc(z.to_local(su) + Duration::days(days))
            } else {
                su
            };
            base + Duration::seconds(secs)
        }
        (None, None) => su,
    }
}

fn in_window(o: &Occurrence, opts: &ExpandOptions) -> bool {
    let s = when_utc(o.start, opts.default_tz);
    let e = when_utc(o.end, opts.default_tz);
    if e > s {
        e > opts.from && s < opts.to
    } else {
        s >= opts.from && s < opts.to
    }
}

fn push(o: Occurrence, budget: &mut Budget<'_>, out: &mut Vec<Occurrence>) {
    if !in_window(&o, budget.opts) {
        return;
    }
    let cap = budget.opts.limits.max_occurrences_per_feed;
    if budget.produced >= cap {
        if budget.produced == cap {
            budget.hit(format!(
                "more than {cap} occurrences in the feed: the rest are dropped"
            ));
            budget.produced += 1;
        }
        return;
    }
    budget.produced += 1;
    out.push(o);
}

fn emit_single(
    ev: &Event,
    default: &Zone,
    recurring: bool,
    budget: &mut Budget<'_>,
    out: &mut Vec<Occurrence>,
) {
    let zone = ev.start.zone_or(default).clone();
    let o = occurrence_at(
        ev,
        &ev.start,
        ev.end.as_ref().filter(|_| ev.start.is_date()),
        &zone,
        default,
        false,
        recurring,
    );
    push(o, budget, out);
}

/// Upper bound of an occurrence's length (RDATE periods included), for widening the window
/// in which slots are generated: a slot starting before the window may still overlap it.
fn span_estimate(ev: &Event, default: &Zone) -> Duration {
    let ctx = ev.start.zone_or(default);
    let hour = Duration::hours(1);
    let base = match (&ev.end, ev.duration) {
        // Exact durations need no slack; all-day spans are nominal days (25 h across DST).
        (Some(e), _) if ev.start.is_date() => (e.local() - ev.start.local()).abs() + hour,
        (Some(e), _) => (e.utc(ctx) - ev.start.utc(ctx)).abs(),
        (None, Some(s)) => {
            let slack = if s.days != 0 {
                hour * 2
            } else {
                Duration::zero()
            };
            Duration::days(s.days.abs()) + Duration::seconds(s.secs.abs()) + slack
        }
        (None, None) if ev.start.is_date() => Duration::days(1) + hour,
        (None, None) => Duration::zero(),
    };
    let periods = ev
        .rdates
        .iter()
        .filter_map(|r| match r {
            RDate::Period(s, e) => Some((e.utc(ctx) - s.utc(ctx)).abs() + hour * 25),
            RDate::At(_) => None,
        })
        .max()
        .unwrap_or_else(Duration::zero);
    base.max(periods)
}

fn expand_series(
    m: &Event,
    ovs: Vec<Event>,
    default: &Zone,
    budget: &mut Budget<'_>,
    out: &mut Vec<Occurrence>,
) {
    let all_day = m.start.is_date();
    // All-day series live on the default zone's calendar.
    let zone = if all_day {
        default.clone()
    } else {
        m.start.zone_or(default).clone()
    };
    // Overrides by slot: highest SEQUENCE, then last. An override older than the master
    // (lower SEQUENCE, RFC 5545 §3.8.7.4: the master is the later revision) whose slot the
    // master no longer has (an EXDATE, or a rule that ends before it) was withdrawn by that
    // revision: Confluence exports the edited instance and, in a newer copy of the master, an
    // EXDATE or an earlier UNTIL for it.
    let mut best: HashMap<Key, Event> = HashMap::new();
    for o in ovs {
        let key = rid_key(o.recurrence_id.as_ref().expect("override"), all_day, &zone);
        if o.sequence < m.sequence && m.is_recurring() && !is_instance(m, key, &zone, budget) {
            continue;
        }
        pick_latest(&mut best, key, o);
    }
    let mut ovs: Vec<(Key, Event)> = best.into_iter().collect();
    ovs.sort_by_key(|(k, _)| *k);

    if !m.is_recurring() {
        // A single event; an override naming its own start replaces it.
        let own = rid_key(&Time::clone(&m.start), all_day, &zone);
        if !ovs.iter().any(|(k, _)| *k == own) {
            emit_single(m, default, false, budget, out);
        }
        for (_, o) in &ovs {
            emit_single(o, default, true, budget, out);
        }
        return;
    }

    // Future-range overrides: (slot key, shift, override).
    let futures: Vec<(Key, Duration, &Event)> = ovs
        .iter()
        .filter(|(_, o)| o.this_and_future)
        .map(|(k, o)| {
            let rid = o.recurrence_id.as_ref().expect("override");
            let shift = if all_day {
                o.start.local() - rid.local()
            } else {
                o.start.utc(&zone) - rid.utc(&zone)
            };
            (*k, shift, o)
        })
        .collect();
    let max_shift = futures
        .iter()
        .map(|(_, s, _)| s.abs())
        .max()
        .unwrap_or_else(Duration::zero);
    let lo = budget.opts.from.naive_utc() - span_estimate(m, default) - max_shift;
    let hi = budget.opts.to.naive_utc() + max_shift;

    let slots = generate(m, &zone, all_day, lo, hi, budget);
    if budget.over.is_some() {
        return;
    }
    let replaced: HashSet<Key> = ovs.iter().map(|(k, _)| *k).collect();

    for slot in slots {
        // A DATE RECURRENCE-ID on a timed series names the instance on that local day.
        if replaced.contains(&slot.key) || replaced.contains(&Key::Day(slot.local.date())) {
            continue;
        }
        let start = if all_day {
            Time::Date(slot.local.date())
        } else {
            Time::DateTime {
                local: slot.local,
                zone: Some(zone.clone()),
            }
        };
        // The latest THISANDFUTURE override at or before this slot restyles and shifts it.
        let fut = futures.iter().rev().find(|(k, _, _)| *k <= slot.key);
        // An expanded slot's id is its UID and its (possibly shifted) start.
        let o = match fut {
            None => occurrence_at(m, &start, slot.end.as_ref(), &zone, default, true, true),
            Some((_, shift, ov)) => {
                let moved = match &start {
                    Time::Date(d) => Time::Date(*d + *shift),
                    Time::DateTime { .. } => Time::DateTime {
                        local: zone.to_local(start.utc(&zone) + *shift),
                        zone: Some(zone.clone()),
                    },
                };
                // The override re-anchors the rest of the series at its new time; the rule's
                // UNTIL still bounds that series (RFC 5545 §3.3.10: UNTIL bounds the instances
                // "in an inclusive manner"), so an instance moved past it is gone.
                let (ml, mu) = (moved.local(), moved.utc(&zone));
                if !slot.rdate
                    && !m.rrules.is_empty()
                    && m.rrules
                        .iter()
                        .all(|r| r.until.is_some_and(|u| past_until(u, ml, mu, all_day)))
                {
                    continue;
                }
                // Same UID as the master: overrides are grouped by it.
                occurrence_at(ov, &moved, None, &zone, default, true, true)
            }
        };
        push(o, budget, out);
    }
    for (_, o) in &ovs {
        emit_single(o, default, true, budget, out);
    }
}

mod slots;
use slots::{generate, is_instance, past_until};
