//! The engine's hard budgets by name, and the error a feed over one of them gets.
//!
//! Why it exists: the soft bounds of [`crate::Limits`] keep what was produced up to them (a
//! warning, SPEC §5), but CPU and memory need a ceiling that refuses the feed instead: a rule
//! that examines millions of candidates or a feed naming hundreds of zones is hostile, not a
//! calendar, and the service must keep its last good window (docs/engine.md, "Budgets").

/// The hard budgets of [`crate::Limits`], by name (health, metrics and logs use [`BudgetKind::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BudgetKind {
    /// `max_rule_candidates`.
    RuleCandidates,
    /// `max_feed_candidates`.
    FeedCandidates,
    /// `max_zones`.
    Zones,
    /// `max_zone_transitions`.
    ZoneTransitions,
}

impl BudgetKind {
    /// Every budget, for counters that list them all.
    pub const ALL: [BudgetKind; 4] = [
        BudgetKind::RuleCandidates,
        BudgetKind::FeedCandidates,
        BudgetKind::Zones,
        BudgetKind::ZoneTransitions,
    ];

    /// The budget's name in messages and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            BudgetKind::RuleCandidates => "rule_candidates",
            BudgetKind::FeedCandidates => "feed_candidates",
            BudgetKind::Zones => "zones",
            BudgetKind::ZoneTransitions => "zone_transitions",
        }
    }

    fn what(self) -> &'static str {
        match self {
            BudgetKind::RuleCandidates => "candidates examined by one rule",
            BudgetKind::FeedCandidates => "candidates examined by all rules of the feed",
            BudgetKind::Zones => "time zones named by the feed",
            BudgetKind::ZoneTransitions => "transitions compiled from the feed's VTIMEZONEs",
        }
    }
}

/// Which budget a feed went over, and at which event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "event {uid:?} needs more than {limit} {} ({}): feed refused",
    budget.name(),
    budget.what()
)]
pub struct OverBudget {
    /// The budget.
    pub budget: BudgetKind,
    /// Its limit.
    pub limit: u64,
    /// The UID of the event being read or expanded when it ran out.
    pub uid: String,
}
