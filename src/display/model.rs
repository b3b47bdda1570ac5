//! What the screen says: a pure function of the server's last answer, "now" and the zone.
//!
//! It exists apart from the drawing so the wording can be held against the kiosk page
//! (`src/server/page/app.js`) line by line: the same countdown text, the same status
//! thresholds, the same time range (with the day when it is not today, "All day" for all-day
//! events), "No meetings scheduled", and "Reconnecting…" with the last meeting kept; the
//! meeting in progress ("NOW · 12 min left"), the rest of today, "Updated HH:MM" when the data
//! is stale and "Offline · updated HH:MM" while the server is away, in the server's
//! `time_format` (24h or 12h).

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

/// `meeting` of /api/whats-next (the fields the screen uses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Meeting {
    /// Id for /api/skip.
    pub meeting_id: String,
    /// SUMMARY.
    #[serde(default)]
    pub subject: String,
    /// RFC 3339 start.
    pub start_iso: String,
    /// Length in seconds.
    #[serde(default)]
    pub duration_seconds: i64,
    /// LOCATION.
    #[serde(default)]
    pub location: String,
    /// Seconds until start when the server answered.
    #[serde(default)]
    pub seconds_until_start: i64,
}

impl Meeting {
    /// The start as an instant.
    pub fn start(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.start_iso)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }
}

/// `status` of /api/whats-next.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
pub struct Status {
    /// The status line.
    #[serde(default)]
    pub message: String,
}

/// `current` of /api/whats-next: the meeting in progress.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Current {
    /// SUMMARY.
    #[serde(default)]
    pub subject: String,
    /// RFC 3339 end.
    pub end_iso: String,
}

/// The /api/whats-next answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WhatsNext {
    /// The next meeting, if any.
    pub meeting: Option<Meeting>,
    /// The status line when there is no meeting.
    #[serde(default)]
    pub status: Status,
    /// The meeting in progress (servers before issue #13 send none).
    #[serde(default)]
    pub current: Option<Current>,
    /// Meetings after the next one, today.
    #[serde(default)]
    pub later_today: Vec<Meeting>,
    /// Seconds since the server's data was refreshed, when it ever was.
    #[serde(default)]
    pub data_age_s: Option<i64>,
    /// Whether that data is stale.
    #[serde(default)]
    pub stale: bool,
    /// "24h" or "12h" (empty from older servers: 24h).
    #[serde(default)]
    pub time_format: String,
}

impl WhatsNext {
    /// The server's "now" when it answered (start − seconds_until_start), if it had a meeting.
    pub fn server_now(&self) -> Option<DateTime<Utc>> {
        let m = self.meeting.as_ref()?;
        Some(m.start()? - chrono::Duration::seconds(m.seconds_until_start))
    }

    /// Whether local times are written in 12-hour form.
    pub fn clock_12h(&self) -> bool {
        self.time_format == "12h"
    }
}

/// A wall-clock time: "14:05" or "2:05 PM" (with seconds: "14:05:09", "2:05:09 PM").
pub fn hm(t: DateTime<Tz>, clock_12h: bool, secs: bool) -> String {
    match (clock_12h, secs) {
        (false, false) => t.format("%H:%M").to_string(),
        (false, true) => t.format("%H:%M:%S").to_string(),
        (true, false) => t.format("%-I:%M %p").to_string(),
        (true, true) => t.format("%-I:%M:%S %p").to_string(),
    }
}

fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// What the display knows when it draws a frame.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// The last good answer (kept while the server is away).
    pub answer: Option<&'a WhatsNext>,
    /// Whether the last poll succeeded.
    pub online: bool,
    /// When the last good answer arrived (server time), for the reconnecting banner.
    pub answered_at: Option<DateTime<Utc>>,
    /// The server's "now".
    pub now: DateTime<Utc>,
    /// The configured zone (`default_timezone`).
    pub tz: Tz,
    /// Whether taps are read (draws the skip button).
    pub touch: bool,
}

/// The meeting card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// Subject ("(no subject)" when empty; "Waiting for the calendar server" before any answer).
    pub subject: String,
    /// "09:00 – 09:30", "Thu, Nov 6 · 09:00 – 09:30" or "Thu, Nov 6 · All day".
    pub time: String,
    /// Location, may be empty.
    pub location: String,
}

/// Everything one frame shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    /// "Reconnecting…" while the server is away.
    pub banner: Option<String>,
    /// "Last update 07:59:12" under the banner.
    pub banner_detail: Option<String>,
    /// The countdown value ("14:05", "1:02:03", "2d 3:04:05", "NOW"); none without a meeting.
    pub countdown: Option<String>,
    /// The meeting card.
    pub card: Option<Card>,
    /// "No meetings scheduled" (or the server's status message) when there is no meeting.
    pub empty: Option<String>,
    /// The status line.
    pub status: String,
    /// Urgent look (black countdown box).
    pub urgent: bool,
    /// Critical look (underlined countdown).
    pub critical: bool,
    /// "Wednesday 07:00:00".
    pub clock: String,
    /// The meeting area dimmed (reconnecting).
    pub dimmed: bool,
    /// The "Skip this meeting" button (touch only).
    pub skip: bool,
    /// The meeting in progress: "NOW · 12 min left" and its subject.
    pub now_line: Option<(String, String)>,
    /// Later today: start time and subject, one line each.
    pub later: Vec<(String, String)>,
    /// "Updated 14:05" (stale) or "Offline · updated 14:05" (server away), in the footer.
    pub fresh: Option<String>,
}

/// The page's `statusFor`: text, urgent, critical (SPEC §6 thresholds).
pub fn status_for(secs: i64) -> (&'static str, bool, bool) {
    if secs <= 0 {
        return ("Meeting in progress", true, false);
    }
    let m = secs / 60;
    if m <= 2 {
        ("Starting very soon", true, true)
    } else if m <= 15 {
        ("Starting soon", true, false)
    } else if m <= 60 {
        ("Starting within the hour", false, false)
    } else {
        ("Plenty of time", false, false)
    }
}

/// The page's `countdownText`.
pub fn countdown_text(secs: i64) -> String {
    if secs <= 0 {
        return "NOW".into();
    }
    let (d, h) = (secs / 86_400, secs % 86_400 / 3600);
    let (m, s) = (secs % 3600 / 60, secs % 60);
    let hms = if h > 0 || d > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    };
    if d > 0 { format!("{d}d {hms}") } else { hms }
}

/// The page's `timeRange`, in `tz` (24h).
pub fn time_range(m: &Meeting, now: DateTime<Utc>, tz: Tz) -> String {
    time_range_as(m, now, tz, false)
}

/// The page's `timeRange`, in `tz`, 12-hour when `clock_12h`.
pub fn time_range_as(m: &Meeting, now: DateTime<Utc>, tz: Tz, clock_12h: bool) -> String {
    let Some(start) = m.start() else {
        return String::new();
    };
    let s = start.with_timezone(&tz);
    let e = (start + chrono::Duration::seconds(m.duration_seconds.max(0))).with_timezone(&tz);
    let day = s.format("%a, %b %-d").to_string();
    if m.duration_seconds > 0
        && m.duration_seconds % 86_400 == 0
        && s.hour() == 0
        && s.minute() == 0
    {
        return format!("{day} · All day");
    }
    let today = now.with_timezone(&tz).date_naive() == s.date_naive();
    let range = format!("{} – {}", hm(s, clock_12h, false), hm(e, clock_12h, false));
    if today {
        range
    } else {
        format!("{day} · {range}")
    }
}

/// The clock line: weekday and time with seconds, in `tz` (24h).
pub fn clock_text(now: DateTime<Utc>, tz: Tz) -> String {
    clock_text_as(now, tz, false)
}

/// The clock line, 12-hour when `clock_12h`.
pub fn clock_text_as(now: DateTime<Utc>, tz: Tz, clock_12h: bool) -> String {
    let l = now.with_timezone(&tz);
    format!("{} {}", weekday_name(l.weekday()), hm(l, clock_12h, true))
}

/// The NOW line, the rest of today and the freshness badge of `inp`'s answer.
#[allow(clippy::type_complexity)]
fn kiosk_parts(
    inp: &Inputs<'_>,
) -> (
    Option<(String, String)>,
    Vec<(String, String)>,
    Option<String>,
) {
    let Some(a) = inp.answer else {
        return (None, Vec::new(), None);
    };
    let h12 = a.clock_12h();
    let now_line = a.current.as_ref().and_then(|c| {
        let left = (parse_iso(&c.end_iso)? - inp.now).num_seconds();
        (left > 0).then(|| {
            let subject = if c.subject.trim().is_empty() {
                "(no subject)".to_string()
            } else {
                c.subject.clone()
            };
            (format!("NOW · {} min left", (left + 59) / 60), subject)
        })
    });
    let later = a
        .later_today
        .iter()
        .filter_map(|m| {
            let at = hm(m.start()?.with_timezone(&inp.tz), h12, false);
            let subject = if m.subject.trim().is_empty() {
                "(no subject)".to_string()
            } else {
                m.subject.clone()
            };
            Some((at, subject))
        })
        .collect();
    let updated = match (inp.answered_at, a.data_age_s) {
        (Some(at), Some(age)) => Some(hm(
            (at - chrono::Duration::seconds(age)).with_timezone(&inp.tz),
            h12,
            false,
        )),
        _ => None,
    };
    let fresh = if !inp.online {
        Some(match &updated {
            Some(u) => format!("Offline · updated {u}"),
            None => "Offline".to_string(),
        })
    } else if a.stale {
        updated.map(|u| format!("Updated {u}"))
    } else {
        None
    };
    (now_line, later, fresh)
}

fn weekday_name(d: chrono::Weekday) -> &'static str {
    use chrono::Weekday::*;
    match d {
        Mon => "Monday",
        Tue => "Tuesday",
        Wed => "Wednesday",
        Thu => "Thursday",
        Fri => "Friday",
        Sat => "Saturday",
        Sun => "Sunday",
    }
}

/// The frame for `inp`.
pub fn screen(inp: &Inputs<'_>) -> Screen {
    let h12 = inp.answer.is_some_and(WhatsNext::clock_12h);
    let clock = clock_text_as(inp.now, inp.tz, h12);
    let (now_line, later, fresh) = kiosk_parts(inp);
    let (banner, banner_detail) = if inp.online {
        (None, None)
    } else {
        (
            Some("Reconnecting…".to_string()),
            Some(match inp.answered_at {
                Some(t) => format!("Last update {}", hm(t.with_timezone(&inp.tz), h12, true)),
                None => "No answer from the calendar server yet".to_string(),
            }),
        )
    };
    let base = Screen {
        banner,
        banner_detail,
        countdown: None,
        card: None,
        empty: None,
        status: String::new(),
        urgent: false,
        critical: false,
        clock,
        dimmed: !inp.online,
        skip: false,
        now_line,
        later,
        fresh,
    };
    match inp.answer {
        None => Screen {
            card: Some(Card {
                subject: if inp.online {
                    "Loading…".into()
                } else {
                    "Waiting for the calendar server".into()
                },
                time: String::new(),
                location: String::new(),
            }),
            ..base
        },
        Some(WhatsNext {
            meeting: Some(m), ..
        }) => {
            let secs = m
                .start()
                .map(|s| (s - inp.now).num_seconds().max(0))
                .unwrap_or(0);
            let (status, urgent, critical) = status_for(secs);
            Screen {
                countdown: Some(countdown_text(secs)),
                card: Some(Card {
                    subject: if m.subject.trim().is_empty() {
                        "(no subject)".into()
                    } else {
                        m.subject.clone()
                    },
                    time: time_range_as(m, inp.now, inp.tz, h12),
                    location: m.location.clone(),
                }),
                status: status.into(),
                urgent,
                critical,
                skip: inp.touch && inp.online,
                ..base
            }
        }
        Some(WhatsNext {
            meeting: None,
            status,
            ..
        }) => {
            let msg = if status.message.is_empty() {
                "No meetings scheduled".to_string()
            } else {
                status.message.clone()
            };
            Screen {
                empty: Some("No meetings scheduled".into()),
                status: msg,
                ..base
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn countdown_and_status_match_the_page() {
        assert_eq!(countdown_text(0), "NOW");
        assert_eq!(countdown_text(59), "0:59");
        assert_eq!(countdown_text(3599), "59:59");
        assert_eq!(countdown_text(3600), "1:00:00");
        assert_eq!(countdown_text(86_400 + 61), "1d 0:01:01");
        assert_eq!(status_for(0), ("Meeting in progress", true, false));
        assert_eq!(status_for(179), ("Starting very soon", true, true));
        assert_eq!(status_for(180), ("Starting soon", true, false));
        assert_eq!(
            status_for(16 * 60),
            ("Starting within the hour", false, false)
        );
        assert_eq!(status_for(61 * 60), ("Plenty of time", false, false));
    }

    #[test]
    fn now_line_later_and_freshness_follow_the_page() {
        let answer: WhatsNext = serde_json::from_str(
            r#"{"meeting": null, "status": {"message": "x"},
                "current": {"subject": "Overlap", "end_iso": "2025-11-05T09:00:00Z"},
                "later_today": [{"meeting_id": "b", "subject": "Bravo",
                                 "start_iso": "2025-11-05T21:00:00Z"}],
                "data_age_s": 2400, "stale": true, "time_format": "12h"}"#,
        )
        .unwrap();
        let mut inp = Inputs {
            answer: Some(&answer),
            online: true,
            answered_at: Some(t("2025-11-05T08:45:00Z")),
            now: t("2025-11-05T08:45:30Z"),
            tz: Tz::UTC,
            touch: false,
        };
        let s = screen(&inp);
        assert_eq!(
            s.now_line,
            Some(("NOW · 15 min left".into(), "Overlap".into()))
        );
        assert_eq!(s.later, vec![("9:00 PM".into(), "Bravo".into())]);
        assert_eq!(s.fresh.as_deref(), Some("Updated 8:05 AM"));
        assert_eq!(s.clock, "Wednesday 8:45:30 AM");
        inp.online = false;
        assert_eq!(
            screen(&inp).fresh.as_deref(),
            Some("Offline · updated 8:05 AM")
        );
        // Ended: no NOW line.
        inp.now = t("2025-11-05T09:00:00Z");
        assert_eq!(screen(&inp).now_line, None);
    }

    #[test]
    fn time_range_in_zone_with_day_and_all_day() {
        let tz: Tz = "America/Los_Angeles".parse().unwrap();
        let m = Meeting {
            meeting_id: "a".into(),
            subject: "x".into(),
            start_iso: "2025-11-05T16:00:00Z".into(),
            duration_seconds: 1800,
            location: String::new(),
            seconds_until_start: 0,
        };
        assert_eq!(
            time_range(&m, t("2025-11-05T15:00:00Z"), tz),
            "08:00 – 08:30"
        );
        assert_eq!(
            time_range(&m, t("2025-11-04T15:00:00Z"), tz),
            "Wed, Nov 5 · 08:00 – 08:30"
        );
        let all = Meeting {
            start_iso: "2025-11-06T08:00:00Z".into(),
            duration_seconds: 86_400,
            ..m
        };
        assert_eq!(
            time_range(&all, t("2025-11-05T15:00:00Z"), Tz::UTC),
            "Thu, Nov 6 · 08:00 – 08:00"
        );
        let all = Meeting {
            start_iso: "2025-11-06T08:00:00Z".into(),
            ..all
        };
        assert_eq!(
            time_range(&all, t("2025-11-05T15:00:00Z"), tz),
            "Thu, Nov 6 · All day"
        );
    }
}
