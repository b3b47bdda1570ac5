//! When the screen is on, and where the picture sits (pixel shift): pure functions of the
//! configuration, "now" and the day's meetings, so the rules are tested without a panel.
//!
//! On = inside the weekday's on-hours and, with `follow_meetings`, between `wake_before_mins`
//! before the day's first meeting and `sleep_after_mins` after its last one ends (a day
//! without meetings stays dark). The day's span comes from the server (`/api/done-for-day`
//! for the last end, `/api/events` for the first start), read by the run loop.

use crate::config::display::DisplayConfig;
use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;

/// The day's meetings as far as the screen cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaySpan {
    /// The local date it was read for (days since CE), so a stale span is not used.
    pub day: i32,
    /// Start of the first meeting; `None` = no meetings that day.
    pub first_start: Option<DateTime<Utc>>,
    /// End of the last meeting.
    pub last_end: Option<DateTime<Utc>>,
}

/// Whether the screen should be on at `now`.
pub fn screen_on(cfg: &DisplayConfig, now: DateTime<Utc>, tz: Tz, day: Option<&DaySpan>) -> bool {
    let local = now.with_timezone(&tz);
    let hours = cfg.hours_for(local.weekday().num_days_from_monday() as usize);
    let minute = local.hour() * 60 + local.minute();
    if !hours.contains(minute) {
        return false;
    }
    if !cfg.follow_meetings {
        return true;
    }
    // Until the day's span is known, stay on (a fresh start shows the screen).
    let Some(span) = day.filter(|d| d.day == local.date_naive().num_days_from_ce()) else {
        return true;
    };
    let (Some(first), Some(last)) = (span.first_start, span.last_end) else {
        return false;
    };
    let wake = first - chrono::Duration::minutes(cfg.wake_before_mins as i64);
    let sleep = last + chrono::Duration::minutes(cfg.sleep_after_mins as i64);
    wake <= now && now < sleep
}

/// The pixel shift at `now`: one step of a small square walk every `pixel_shift_mins`,
/// within ±`pixel_shift_px` (0, 0 when off).
pub fn pixel_shift(cfg: &DisplayConfig, now: DateTime<Utc>) -> (i32, i32) {
    let r = cfg.pixel_shift_px as i32;
    if r == 0 {
        return (0, 0);
    }
    let step = now
        .timestamp()
        .div_euclid(cfg.pixel_shift_mins.max(1) as i64 * 60);
    // Walk the square's border: 8r positions, so every pixel near an edge moves.
    let n = 8 * r as i64;
    let i = step.rem_euclid(n) as i32;
    let side = 2 * r;
    match i / side {
        0 => (-r + i, -r),
        1 => (r, -r + (i - side)),
        2 => (r - (i - 2 * side), r),
        _ => (-r, r - (i - 3 * side)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn on_hours_per_weekday() {
        let mut c = DisplayConfig::default();
        c.on_hours.insert("wed".into(), "07:00-19:00".into());
        c.on_hours.insert("sat".into(), "off".into());
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        // 2025-11-05 is a Wednesday; 06:59 and 19:00 local are off, 07:00 on.
        assert!(!screen_on(&c, t("2025-11-05T05:59:00Z"), tz, None));
        assert!(screen_on(&c, t("2025-11-05T06:00:00Z"), tz, None));
        assert!(!screen_on(&c, t("2025-11-05T18:00:00Z"), tz, None));
        assert!(!screen_on(&c, t("2025-11-08T12:00:00Z"), tz, None));
        assert!(
            screen_on(&c, t("2025-11-09T03:00:00Z"), tz, None),
            "sun: default on"
        );
    }

    #[test]
    fn follows_the_days_meetings() {
        let c = DisplayConfig {
            follow_meetings: true,
            wake_before_mins: 30,
            sleep_after_mins: 15,
            ..Default::default()
        };
        let tz = Tz::UTC;
        let day = t("2025-11-05T00:00:00Z").date_naive().num_days_from_ce();
        let span = DaySpan {
            day,
            first_start: Some(t("2025-11-05T09:00:00Z")),
            last_end: Some(t("2025-11-05T17:00:00Z")),
        };
        assert!(!screen_on(&c, t("2025-11-05T08:29:59Z"), tz, Some(&span)));
        assert!(screen_on(&c, t("2025-11-05T08:30:00Z"), tz, Some(&span)));
        assert!(screen_on(&c, t("2025-11-05T17:14:59Z"), tz, Some(&span)));
        assert!(!screen_on(&c, t("2025-11-05T17:15:00Z"), tz, Some(&span)));
        let none = DaySpan {
            day,
            first_start: None,
            last_end: None,
        };
        assert!(!screen_on(&c, t("2025-11-05T12:00:00Z"), tz, Some(&none)));
        // A span of another day is not used.
        assert!(screen_on(&c, t("2025-11-06T12:00:00Z"), tz, Some(&none)));
    }

    #[test]
    fn shift_walks_within_bounds() {
        let c = DisplayConfig {
            pixel_shift_px: 2,
            pixel_shift_mins: 1,
            ..Default::default()
        };
        let mut seen = std::collections::BTreeSet::new();
        for m in 0..16 {
            let (dx, dy) =
                pixel_shift(&c, t("2025-11-05T00:00:00Z") + chrono::Duration::minutes(m));
            assert!(dx.abs() <= 2 && dy.abs() <= 2);
            seen.insert((dx, dy));
        }
        assert_eq!(seen.len(), 16);
        assert_eq!(pixel_shift(&DisplayConfig::default(), Utc::now()), (0, 0));
    }
}
