//! Words for times, durations and days, as a voice assistant should say them.
//!
//! Why it exists: the voice answers are read aloud, so "17:00:00-08:00" must become
//! "5:00 pm", 7,500 seconds "2 hours and 5 minutes", and a date "tomorrow" or "on Monday".
//! Keeping these rules in one place makes every route sound the same.

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

/// A time of day in `tz`: "5:00 pm", "10:30 am", "noon", "midnight".
pub fn spoken_time(t: DateTime<Utc>, tz: Tz) -> String {
    let local = t.with_timezone(&tz);
    let (h, m) = (local.hour(), local.minute());
    match (h, m) {
        (0, 0) => "midnight".to_string(),
        (12, 0) => "noon".to_string(),
        _ => {
            let h12 = if h % 12 == 0 { 12 } else { h % 12 };
            let ampm = if h < 12 { "am" } else { "pm" };
            format!("{h12}:{m:02} {ampm}")
        }
    }
}

/// A time of day in `tz` as written (cards, day summaries): "17:05", or "5:05 PM" when
/// `clock_12h` (the `time_format` setting; the page and the display write times the same way).
pub fn written_time(t: DateTime<Utc>, tz: Tz, clock_12h: bool) -> String {
    let local = t.with_timezone(&tz);
    if clock_12h {
        local.format("%-I:%M %p").to_string()
    } else {
        local.format("%H:%M").to_string()
    }
}

fn unit(n: i64, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// Join phrases as a list is spoken: "a", "a and b", "a, b and c".
pub fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A length of time: "2 hours and 5 minutes", "30 minutes", "1 day and 3 hours",
/// "less than a minute". Rounded to the nearest minute (to the nearest hour past a day);
/// zero or negative is "no time".
pub fn spoken_duration(seconds: i64) -> String {
    if seconds <= 0 {
        return "no time".to_string();
    }
    let minutes = (seconds + 30) / 60;
    if minutes == 0 {
        return "less than a minute".to_string();
    }
    let mut parts = Vec::new();
    if minutes >= 24 * 60 {
        let hours = (minutes + 30) / 60;
        let (days, hours) = (hours / 24, hours % 24);
        parts.push(unit(days, "day"));
        if hours > 0 {
            parts.push(unit(hours, "hour"));
        }
    } else {
        let (hours, mins) = (minutes / 60, minutes % 60);
        if hours > 0 {
            parts.push(unit(hours, "hour"));
        }
        if mins > 0 {
            parts.push(unit(mins, "minute"));
        }
    }
    join_and(&parts)
}

/// How a date is referred to from `today`: "today", "tomorrow", "yesterday", "on Monday"
/// (within the coming week), else "on Monday, November 17".
pub fn day_phrase(date: NaiveDate, today: NaiveDate) -> String {
    let delta = (date - today).num_days();
    match delta {
        0 => "today".to_string(),
        1 => "tomorrow".to_string(),
        -1 => "yesterday".to_string(),
        2..=6 => format!("on {}", date.format("%A")),
        _ => format!("on {}", date.format("%A, %B %-d")),
    }
}

/// "today at 5:00 pm", "tomorrow at 9:30 am", "on Monday at 10:00 am".
pub fn when_phrase(t: DateTime<Utc>, tz: Tz, today: NaiveDate) -> String {
    let date = t.with_timezone(&tz).date_naive();
    format!("{} at {}", day_phrase(date, today), spoken_time(t, tz))
}

/// A count with its noun: "1 meeting", "3 meetings", "no meetings".
pub fn count_of(n: usize, noun: &str) -> String {
    match n {
        0 => format!("no {noun}s"),
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}

/// Upper-case the first letter of a sentence.
pub fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America, Asia};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn times_in_the_asked_zone() {
        let t = utc("2025-11-06T01:00:00Z");
        assert_eq!(spoken_time(t, America::Los_Angeles), "5:00 pm");
        assert_eq!(spoken_time(t, Asia::Tokyo), "10:00 am");
        assert_eq!(
            spoken_time(utc("2025-11-05T18:30:00Z"), America::Los_Angeles),
            "10:30 am"
        );
        assert_eq!(
            spoken_time(utc("2025-11-06T07:00:00Z"), America::Los_Angeles),
            "11:00 pm"
        );
        assert_eq!(
            spoken_time(utc("2025-11-05T20:00:00Z"), America::Los_Angeles),
            "noon"
        );
        assert_eq!(
            spoken_time(utc("2025-11-06T08:00:00Z"), America::Los_Angeles),
            "midnight"
        );
        assert_eq!(
            spoken_time(utc("2025-11-06T08:05:00Z"), America::Los_Angeles),
            "12:05 am"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(spoken_duration(7500), "2 hours and 5 minutes");
        assert_eq!(spoken_duration(1800), "30 minutes");
        assert_eq!(spoken_duration(3600), "1 hour");
        assert_eq!(spoken_duration(60), "1 minute");
        assert_eq!(spoken_duration(20), "less than a minute");
        assert_eq!(spoken_duration(0), "no time");
        assert_eq!(spoken_duration(27 * 3600 + 10 * 60), "1 day and 3 hours");
        assert_eq!(spoken_duration(2 * 86400), "2 days");
    }

    #[test]
    fn days() {
        let today = NaiveDate::from_ymd_opt(2025, 11, 5).unwrap();
        let day = |n: u64| today.checked_add_days(chrono::Days::new(n)).unwrap();
        assert_eq!(day_phrase(today, today), "today");
        assert_eq!(day_phrase(day(1), today), "tomorrow");
        assert_eq!(day_phrase(day(5), today), "on Monday");
        assert_eq!(day_phrase(day(12), today), "on Monday, November 17");
    }

    #[test]
    fn lists_and_counts() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(join_and(&v(&["a"])), "a");
        assert_eq!(join_and(&v(&["a", "b"])), "a and b");
        assert_eq!(join_and(&v(&["a", "b", "c"])), "a, b and c");
        assert_eq!(count_of(0, "meeting"), "no meetings");
        assert_eq!(count_of(1, "meeting"), "1 meeting");
        assert_eq!(count_of(4, "meeting"), "4 meetings");
        assert_eq!(capitalize("tomorrow looks light"), "Tomorrow looks light");
    }
}
