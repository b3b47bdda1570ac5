//! `/metrics` beyond the pipeline's own counters: what each feed's last parse found.
//!
//! Why it exists apart: the numbers come from the status board, not from the optimisation
//! layer; the route joins both into one Prometheus text.

/// Per-source feed metrics for `/metrics` (Prometheus text format): what the last parse of
/// each feed found, so an owner can see a feed losing events or zones without reading logs.
/// Sources not parsed yet in this run are left out of the parse gauges.
pub(crate) fn write_source_metrics(board: &crate::snapshot::StatusInner, out: &mut String) {
    use std::fmt::Write;
    // Prometheus label values escape backslash, quote and newline.
    let label = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    type Getter = fn(&crate::snapshot::ParseStats) -> usize;
    let gauges: [(&str, &str, Getter); 5] = [
        (
            "calendarbot_source_events_parsed",
            "VEVENTs read in the last parse",
            |p| p.events_parsed,
        ),
        (
            "calendarbot_source_events_skipped",
            "VEVENTs skipped in the last parse",
            |p| p.events_skipped,
        ),
        (
            "calendarbot_source_lines_skipped",
            "Content lines skipped in the last parse",
            |p| p.lines_skipped,
        ),
        (
            "calendarbot_source_rules_ignored",
            "Invalid RRULEs ignored in the last parse",
            |p| p.rules_ignored,
        ),
        (
            "calendarbot_source_zones_unresolved",
            "Time zones the last parse could not resolve",
            |p| p.zones_unresolved.len(),
        ),
    ];
    for (name, help, get) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (src, h) in &board.sources {
            if let Some(p) = &h.parse {
                let _ = writeln!(out, "{name}{{source=\"{}\"}} {}", label(src), get(p));
            }
        }
    }
    let name = "calendarbot_source_bounds_hit";
    let _ = writeln!(
        out,
        "# HELP {name} Bounds hit in the last parse (SPEC 5: what was produced up to them is kept)\n# TYPE {name} gauge"
    );
    for (src, h) in &board.sources {
        if h.parse.is_some() {
            let _ = writeln!(out, "{name}{{source=\"{}\"}} {}", label(src), h.bounds_hit);
        }
    }
    let name = "calendarbot_feed_budget_refusals_total";
    let _ = writeln!(
        out,
        "# HELP {name} Refreshes refused because the feed went over an expansion budget\n# TYPE {name} counter"
    );
    for (src, h) in &board.sources {
        for budget in crate::ics::BudgetKind::ALL {
            let n = h.budget_refusals.get(budget.name()).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "{name}{{source=\"{}\",budget=\"{}\"}} {n}",
                label(src),
                budget.name()
            );
        }
    }
    let name = "calendarbot_source_consecutive_failures";
    let _ = writeln!(
        out,
        "# HELP {name} Failed refreshes since the last success\n# TYPE {name} gauge"
    );
    for (src, h) in &board.sources {
        let _ = writeln!(
            out,
            "{name}{{source=\"{}\"}} {}",
            label(src),
            h.consecutive_failures
        );
    }
}
