//! The built-in demo calendar, served when no feed is configured.
//!
//! Why it exists: a kiosk that was just flashed has no feed yet, and an empty screen looks
//! broken. With no `CALENDARBOT_ICS_URL` and no `[[sources]]`, calendarbot serves this feed
//! under the source name "demo". It is ICS text generated around an anchor instant (the
//! service's start) and goes through the real engine like any feed, so the demo also shows that
//! parsing, recurrence and the API work. Because the anchor is fixed for the life of the
//! process, every refresh produces the same text (its hash matches and the parse is skipped),
//! and the "in 25 minutes" meeting really starts 25 minutes after start. Daily items (a
//! standup, lunch) keep the demo alive on later days.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use std::fmt::Write as _;

fn utc_stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn local_stamp(d: NaiveDate, t: NaiveTime) -> String {
    d.and_time(t).format("%Y%m%dT%H%M%S").to_string()
}

struct Timed<'a> {
    uid: &'a str,
    summary: &'a str,
    location: &'a str,
    description: &'a str,
    start: DateTime<Utc>,
    minutes: i64,
}

/// The demo feed as ICS text, laid out around `anchor` (normally the service start) in `tz`:
/// a meeting 25 minutes after the anchor, more later that day, a daily standup and a daily
/// lunch (recurring, in `tz`), an all-day event on the anchor's date and meetings the next days.
pub(crate) fn feed(anchor: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    let base = anchor
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(anchor);
    let local_today = anchor.with_timezone(&tz).date_naive();
    let tomorrow = local_today + Duration::days(1);
    let at_local = |d: NaiveDate, h: u32, m: u32| -> DateTime<Utc> {
        let naive = d.and_hms_opt(h, m, 0).expect("valid time");
        tz.from_local_datetime(&naive)
            .earliest()
            .map_or_else(|| Utc.from_utc_datetime(&naive), |t| t.with_timezone(&Utc))
    };
    let stamp = utc_stamp(anchor);
    let mut out = String::new();
    out.push_str(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calendarbot//demo//EN\r\nCALSCALE:GREGORIAN\r\nX-WR-CALNAME:calendarbot demo\r\n",
    );
    let timed = [
        Timed {
            uid: "demo-design-review",
            summary: "Design review",
            location: "Room 4.2",
            description: "Walk through the new kiosk layout.",
            start: base + Duration::minutes(25),
            minutes: 45,
        },
        Timed {
            uid: "demo-one-on-one",
            summary: "1:1 with Alex",
            location: "Alex's office",
            description: "Weekly catch-up.",
            start: base + Duration::minutes(150),
            minutes: 30,
        },
        Timed {
            uid: "demo-focus",
            summary: "Focus time",
            location: "",
            description: "Blocked for deep work.",
            start: base + Duration::minutes(210),
            minutes: 90,
        },
        Timed {
            uid: "demo-vendor-call",
            summary: "Vendor call",
            location: "Phone",
            description: "Renewal of the support contract.",
            start: base + Duration::minutes(330),
            minutes: 30,
        },
        Timed {
            uid: "demo-quarterly-planning",
            summary: "Quarterly planning",
            location: "Board room",
            description: "Goals for next quarter.",
            start: at_local(tomorrow, 10, 0),
            minutes: 90,
        },
        Timed {
            uid: "demo-customer-call",
            summary: "Customer call",
            location: "Video",
            description: "Feedback on the pilot.",
            start: at_local(tomorrow, 14, 0),
            minutes: 60,
        },
        Timed {
            uid: "demo-team-retro",
            summary: "Team retrospective",
            location: "Room 1.1",
            description: "What went well, what did not.",
            start: at_local(tomorrow + Duration::days(1), 15, 0),
            minutes: 60,
        },
    ];
    for e in &timed {
        let _ = write!(
            out,
            "BEGIN:VEVENT\r\nUID:{}@calendarbot.demo\r\nDTSTAMP:{stamp}\r\nDTSTART:{}\r\nDTEND:{}\r\nSUMMARY:{}\r\nLOCATION:{}\r\nDESCRIPTION:{}\r\nATTENDEE;CN=You:mailto:you@example.com\r\nORGANIZER;CN=Demo:mailto:demo@example.com\r\nEND:VEVENT\r\n",
            e.uid,
            utc_stamp(e.start),
            utc_stamp(e.start + Duration::minutes(e.minutes)),
            e.summary,
            e.location,
            e.description,
        );
    }
    let tzid = tz.name();
    let first = local_today - Duration::days(7);
    for (uid, summary, location, h, m, minutes) in [
        ("demo-standup", "Daily standup", "Team corner", 9, 30, 15),
        ("demo-lunch", "Lunch", "Cafeteria", 12, 0, 60),
    ] {
        let start = NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
        let end = start + Duration::minutes(minutes);
        let _ = write!(
            out,
            "BEGIN:VEVENT\r\nUID:{uid}@calendarbot.demo\r\nDTSTAMP:{stamp}\r\nDTSTART;TZID={tzid}:{}\r\nDTEND;TZID={tzid}:{}\r\nRRULE:FREQ=DAILY\r\nSUMMARY:{summary}\r\nLOCATION:{location}\r\nEND:VEVENT\r\n",
            local_stamp(first, start),
            local_stamp(first, end),
        );
    }
    let _ = write!(
        out,
        "BEGIN:VEVENT\r\nUID:demo-all-day@calendarbot.demo\r\nDTSTAMP:{stamp}\r\nDTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nSUMMARY:Office open day\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n",
        local_today.format("%Y%m%d"),
        tomorrow.format("%Y%m%d"),
    );
    out.push_str("END:VCALENDAR\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_relative_to_the_anchor() {
        let anchor = Utc.with_ymd_and_hms(2025, 11, 5, 8, 0, 30).unwrap();
        let text = feed(anchor, chrono_tz::Europe::Berlin);
        assert!(text.starts_with("BEGIN:VCALENDAR\r\n"));
        assert!(text.ends_with("END:VCALENDAR\r\n"));
        // 25 minutes after the anchor, to the minute.
        assert!(text.contains("DTSTART:20251105T082500Z"), "{text}");
        assert!(text.contains("DTSTART;TZID=Europe/Berlin:20251029T093000"));
        assert!(text.contains("RRULE:FREQ=DAILY"));
        assert!(text.contains("DTSTART;VALUE=DATE:20251105"));
        // Tomorrow 10:00 in Berlin is 09:00 UTC.
        assert!(text.contains("DTSTART:20251106T090000Z"));
        assert_eq!(
            text.matches("BEGIN:VEVENT").count(),
            text.matches("END:VEVENT").count()
        );
        // Same anchor, same text (so refreshes skip the parse).
        assert_eq!(text, feed(anchor, chrono_tz::Europe::Berlin));
    }

    #[test]
    fn the_engine_expands_the_demo() {
        let anchor = Utc.with_ymd_and_hms(2025, 11, 5, 7, 0, 0).unwrap();
        let tz = chrono_tz::Europe::Berlin;
        let opts = crate::ics::ExpandOptions {
            default_tz: tz,
            from: anchor - Duration::days(7),
            to: anchor + Duration::days(365),
            limits: crate::ics::Limits::default(),
        };
        let exp = crate::ics::expand_feed(feed(anchor, tz).as_bytes(), &opts).unwrap();
        assert!(exp.warnings.is_empty(), "{:?}", exp.warnings);
        let review = exp
            .occurrences
            .iter()
            .find(|o| o.details.subject() == "Design review")
            .unwrap();
        assert_eq!(review.start_utc(tz), anchor + Duration::minutes(25));
        let standups: Vec<_> = exp
            .occurrences
            .iter()
            .filter(|o| o.details.subject() == "Daily standup")
            .collect();
        // From 7 days before the anchor's date to the end of the window: one a day.
        assert!(standups.len() >= 365, "{}", standups.len());
        // 09:30 in Berlin (CET, UTC+1) on the anchor's date.
        assert!(
            standups
                .iter()
                .any(|o| o.start_utc(tz) == Utc.with_ymd_and_hms(2025, 11, 5, 8, 30, 0).unwrap())
        );
        let all_day = exp
            .occurrences
            .iter()
            .find(|o| o.details.subject() == "Office open day")
            .unwrap();
        assert!(all_day.all_day());
        assert_eq!(all_day.status, crate::ics::Status::Free);
    }
}
