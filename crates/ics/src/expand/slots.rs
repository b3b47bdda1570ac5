//! The slots of a series: its rule's instances as wall clock and instant, UNTIL and EXDATE
//! applied, within a span (RFC 5545 §3.8.5).

use super::*;

/// Whether an instance at wall clock `local` (instant `utc`) is past `until` (see the module
/// docs: `Z` is an instant, a local UNTIL is wall clock, a DATE covers its whole day).
pub(super) fn past_until(
    until: Until,
    local: NaiveDateTime,
    utc: NaiveDateTime,
    all_day: bool,
) -> bool {
    match until {
        Until::Utc(u) if all_day => local.date() > u.date(),
        Until::Utc(u) => utc > u,
        Until::Local(u) if all_day => local.date() > u.date(),
        Until::Local(u) => local > u,
        Until::Date(d) => local.date() > d,
    }
}

/// Whether `dtstart` is the first instance of `rule` (only the first period is looked at).
pub(super) fn first_is(rule: &RRule, dtstart: NaiveDateTime) -> bool {
    let mut it = RuleIter::new(rule, dtstart);
    it.set_horizon(dtstart);
    it.next() == Some(dtstart)
}

/// Whether the series `m` has an instance in slot `key` (a DATE key on a timed series: any
/// instance on that local day). Only the slot's own span is generated.
pub(super) fn is_instance(m: &Event, key: Key, zone: &Zone, budget: &mut Budget<'_>) -> bool {
    let all_day = m.start.is_date();
    let (lo, hi) = match key {
        Key::At(u) => (u, u + Duration::seconds(1)),
        Key::Day(d) => (
            zone.to_utc(d.and_time(chrono::NaiveTime::MIN)),
            zone.to_utc((d + Duration::days(1)).and_time(chrono::NaiveTime::MIN)),
        ),
    };
    generate(m, zone, all_day, lo, hi, budget)
        .iter()
        .any(|s| s.key == key || Key::Day(s.local.date()) == key)
}

/// All slots of a series that may touch [lo, hi) (UTC), EXDATEs removed, in any order.
pub(super) fn generate(
    m: &Event,
    zone: &Zone,
    all_day: bool,
    lo: NaiveDateTime,
    hi: NaiveDateTime,
    budget: &mut Budget<'_>,
) -> Vec<Slot> {
    if budget.over.is_some() {
        return Vec::new();
    }
    let per_rule = budget.opts.limits.max_occurrences_per_rule;
    let dtstart = m.start.local();
    let key_of = |local: NaiveDateTime| -> Key {
        if all_day {
            Key::Day(local.date())
        } else {
            Key::At(zone.to_utc(local))
        }
    };
    let utc_of = |local: NaiveDateTime| -> NaiveDateTime { zone.to_utc(local) };
    let mut slots: Vec<Slot> = Vec::new();
    let mut seen: HashSet<Key> = HashSet::new();
    let mut add = |slots: &mut Vec<Slot>, local: NaiveDateTime, end: Option<Time>, rdate: bool| {
        let k = key_of(local);
        if seen.insert(k) {
            slots.push(Slot {
                key: k,
                local,
                end,
                rdate,
            });
        }
    };
    let in_range = |local: NaiveDateTime| {
        let u = utc_of(local);
        u >= lo && u < hi
    };
    // DTSTART is always an instance.
    if in_range(dtstart) {
        add(&mut slots, dtstart, None, false);
    }
    // Wall-clock bounds for seeking and stopping; a few hours of slack cover DST shifts.
    let local_lo = zone.to_local(lo) - Duration::hours(3);
    let local_hi = zone.to_local(hi) + Duration::hours(3);
    let mut bound_msgs: Vec<String> = Vec::new();
    // An all-day series ignores BYHOUR/BYMINUTE/BYSECOND (RFC 5545 §3.3.10).
    let rules: Vec<std::borrow::Cow<'_, RRule>> = m
        .rrules
        .iter()
        .map(|r| {
            if all_day {
                r.for_dates()
            } else {
                std::borrow::Cow::Borrowed(r)
            }
        })
        .collect();
    // With several RRULEs (Fastmail/Cyrus) the set is their union plus DTSTART. DTSTART takes
    // a place in a rule's COUNT only when no rule has it as an instance: otherwise it already
    // is one rule's first instance, and each other rule counts its own instances.
    let dtstart_in_a_rule = rules.len() > 1 && rules.iter().any(|r| first_is(r, dtstart));
    for rule in &rules {
        let rule: &RRule = rule;
        let mut it = RuleIter::new(rule, dtstart);
        it.set_horizon(local_hi);
        let mut remaining: Option<u64> = rule.count;
        if rule.count.is_none() || rule.one_per_period() {
            // Straight to the window: whole periods, then the candidates of the first one
            // that are before it (a rule naming every second of a year does not walk them).
            let skipped = it.seek(local_lo) + it.skip_before(local_lo);
            if let Some(r) = remaining.as_mut() {
                *r = r.saturating_sub(skipped);
            }
        }
        let mut first = true;
        let mut kept = 0usize;
        // COUNT includes DTSTART: when DTSTART is not an instance of the rule, it takes one.
        let mut dtstart_extra = false;
        let max_steps = MAX_RULE_STEPS.min(budget.steps_left);
        let rule_cap = budget.opts.limits.max_rule_candidates;
        let work_cap = rule_cap.min(budget.candidates_left);
        it.set_work_limit(work_cap);
        let over = |it: &RuleIter, budget: &mut Budget<'_>| {
            let (kind, limit) = if it.work > rule_cap {
                (BudgetKind::RuleCandidates, rule_cap)
            } else {
                (
                    BudgetKind::FeedCandidates,
                    budget.opts.limits.max_feed_candidates,
                )
            };
            budget.over(kind, limit, &m.uid);
        };
        while let Some(local) = it.next() {
            if it.work > work_cap {
                over(&it, budget);
                return Vec::new();
            }
            if it.steps > max_steps {
                bound_msgs.push(format!(
                    "event {:?}: rule stopped after {max_steps} steps",
                    m.uid
                ));
                break;
            }
            if first {
                first = false;
                if rule.count.is_some()
                    && !rule.one_per_period()
                    && local != dtstart
                    && !dtstart_in_a_rule
                {
                    dtstart_extra = true;
                }
            }
            if let Some(r) = remaining.as_mut() {
                let need = if dtstart_extra { 2 } else { 1 };
                if *r < need {
                    break;
                }
                *r -= 1;
            }
            let past_until = rule
                .until
                .is_some_and(|u| past_until(u, local, utc_of(local), all_day));
            if past_until || local > local_hi {
                break;
            }
            if local < local_lo || !in_range(local) {
                continue;
            }
            kept += 1;
            if kept > per_rule {
                bound_msgs.push(format!(
                    "event {:?}: more than {per_rule} occurrences from one rule: the rest are dropped",
                    m.uid
                ));
                break;
            }
            add(&mut slots, local, None, false);
        }
        if it.out_of_work {
            over(&it, budget);
            return Vec::new();
        }
        budget.steps_left = budget.steps_left.saturating_sub(it.steps);
        budget.candidates_left = budget.candidates_left.saturating_sub(it.work);
    }
    for msg in bound_msgs {
        budget.hit(msg);
    }
    for r in &m.rdates {
        let (start, end) = match r {
            RDate::At(t) => (t, None),
            RDate::Period(s, e) => (s, Some(e.clone())),
        };
        let local = match (start, all_day) {
            (Time::Date(d), false) => d.and_time(dtstart.time()),
            (Time::Date(d), true) => d.and_time(chrono::NaiveTime::MIN),
            (t, true) => t.local().date().and_time(chrono::NaiveTime::MIN),
            (t, false) => zone.to_local(t.utc(zone)),
        };
        if in_range(local) {
            add(&mut slots, local, end, true);
        }
    }
    if !m.exdates.is_empty() {
        let ex = Excluded::of(m, zone, all_day);
        slots.retain(|s| !ex.keys.contains(&s.key) && !ex.days.contains(&s.local.date()));
    }
    slots
}

/// A master's EXDATEs as slot keys (timed series, by instant) and local days (DATE values, and
/// every value of an all-day series).
pub(super) struct Excluded {
    keys: HashSet<Key>,
    days: HashSet<NaiveDate>,
}

impl Excluded {
    fn of(m: &Event, zone: &Zone, all_day: bool) -> Excluded {
        let mut ex = Excluded {
            keys: HashSet::new(),
            days: HashSet::new(),
        };
        for x in &m.exdates {
            match (x, all_day) {
                (Time::Date(d), _) => {
                    ex.days.insert(*d);
                }
                (t, true) => {
                    ex.days.insert(t.local().date());
                }
                (t, false) => {
                    ex.keys.insert(Key::At(t.utc(zone)));
                }
            }
        }
        ex
    }
}
