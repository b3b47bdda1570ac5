//! The one source of "now".
//!
//! Why it exists: CALENDARBOT_TEST_TIME must fix "now" everywhere (API answers, the expansion
//! window, status ages), so nothing may call `Utc::now()` directly; everything asks a
//! [`Clock`]. A fixed clock does not advance, so scenario answers are exact.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Real time, or a fixed instant for tests and demos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    System,
    /// A fixed instant (CALENDARBOT_TEST_TIME).
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => *t,
        }
    }

    /// Parse CALENDARBOT_TEST_TIME: RFC 3339, or a naive date-time taken as UTC.
    pub fn parse_test_time(s: &str) -> Option<DateTime<Utc>> {
        let s = s.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Some(t.with_timezone(&Utc));
        }
        for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"] {
            if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
                return Some(n.and_utc());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_time_forms() {
        let a = Clock::parse_test_time("2025-11-05T08:00:00-07:00").unwrap();
        assert_eq!(a.to_rfc3339(), "2025-11-05T15:00:00+00:00");
        let b = Clock::parse_test_time("2025-11-05T15:00:00").unwrap();
        assert_eq!(a, b);
        assert!(Clock::parse_test_time("yesterday").is_none());
    }
}
