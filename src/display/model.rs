//! What the screen says: a pure function of the server's last answer, "now" and the zone.
//!
//! It exists apart from the drawing so the wording can be held against the kiosk page
//! (`src/server/page/app.js`) line by line: the same countdown text, the same status
//! thresholds, the same time range (with the day when it is not today, "All day" for all-day
//! events), "No meetings scheduled", and "Reconnecting…" with the last meeting kept.

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

/// The /api/whats-next answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WhatsNext {
    /// The next meeting, if any.
    pub meeting: Option<Meeting>,
    /// The status line when there is no meeting.
    #[serde(default)]
    pub status: Status,
}

impl WhatsNext {
    /// The server's "now" when it answered (start − seconds_until_start), if it had a meeting.
    pub fn server_now(&self) -> Option<DateTime<Utc>> {
        let m = self.meeting.as_ref()?;
        Some(m.start()? - chrono::Duration::seconds(m.seconds_until_start))
    }
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

/// The page's `timeRange`, in `tz`.
pub fn time_range(m: &Meeting, now: DateTime<Utc>, tz: Tz) -> String {
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
    let range = format!("{} – {}", s.format("%H:%M"), e.format("%H:%M"));
    if today {
        range
    } else {
        format!("{day} · {range}")
    }
}

/// The clock line: weekday and time with seconds, in `tz`.
pub fn clock_text(now: DateTime<Utc>, tz: Tz) -> String {
    let l = now.with_timezone(&tz);
    format!("{} {}", weekday_name(l.weekday()), l.format("%H:%M:%S"))
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
    let clock = clock_text(inp.now, inp.tz);
    let (banner, banner_detail) = if inp.online {
        (None, None)
    } else {
        (
            Some("Reconnecting…".to_string()),
            Some(match inp.answered_at {
                Some(t) => format!(
                    "Last update {}",
                    t.with_timezone(&inp.tz).format("%H:%M:%S")
                ),
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
                    time: time_range(m, inp.now, inp.tz),
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
