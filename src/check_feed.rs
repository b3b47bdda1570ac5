//! `calendarbot check-feed URL|FILE [--tz ZONE] [--json] [--export-redacted OUT]`: one fetch
//! of a feed, as the service would do it, and a report of what the engine makes of it.
//!
//! Why it exists: an owner setting a kiosk up wants to know, before waiting for a refresh,
//! whether a URL works and what the kiosk will show; a bug report needs the same facts and,
//! often, the calendar itself without its private text. So this command:
//! - fetches with the service's own [`Fetcher`] (same client, limits, timeouts and retries)
//!   and, when the URL is a configured source's, that source's auth and headers;
//! - reports HTTP status, bytes, time, whether the body is a whole calendar, events and
//!   occurrences in the next 30 days, the zones used and those that could not be resolved,
//!   every skipped line or broken rule with its line number, and the next five meetings;
//! - never prints a secret: URLs are shown as `calendarbot config` shows them
//!   ([`crate::config::redact_url`]), fetch errors never carry the URL;
//! - with `--export-redacted`, writes the calendar with every text replaced by a stable
//!   placeholder and every time kept ([`redact_calendar`]).
//!
//! Exit codes (for scripts): 0 a whole calendar and nothing skipped; 1 usable, but something
//! was skipped, repaired or unresolved (the kiosk shows the rest); 2 bad arguments or
//! configuration; 3 the fetch failed (network, HTTP status, auth, size, unreadable file);
//! 4 the body is not a calendar or is cut short (the service would keep its last good window).
//!
//! Not part of the engine (`ics` stays pure): this is I/O and presentation around it.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Duration;
use serde::Serialize;

use crate::config::http_url;
use crate::config::{self, SourceConfig};
use crate::fetch::{FetchOutcome, Fetcher};
use crate::ics::{self, ExpandOptions, Limits, Status};

/// A whole calendar, nothing skipped.
pub const EXIT_OK: u8 = 0;
/// Usable, with problems: lines, events or rules skipped, zones unresolved, bounds hit.
pub const EXIT_PROBLEMS: u8 = 1;
/// Bad arguments or configuration.
pub const EXIT_USAGE: u8 = 2;
/// The fetch failed.
pub const EXIT_FETCH: u8 = 3;
/// Not a calendar, or a calendar cut short.
pub const EXIT_NOT_CALENDAR: u8 = 4;

/// Days ahead that the report covers.
const AHEAD_DAYS: i64 = 30;

/// Arguments of `calendarbot check-feed`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckFeedArgs {
    /// The feed: an http(s):// or webcal(s):// URL, a file:// URL or a path to a file.
    pub feed: String,
    /// IANA zone for floating times and all-day dates (default: the configured
    /// default_timezone).
    #[arg(long)]
    pub tz: Option<String>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write the calendar with every text replaced by a placeholder (times kept) to this file.
    #[arg(long, value_name = "OUT")]
    pub export_redacted: Option<PathBuf>,
}

/// Why the command stopped early.
#[derive(Debug, thiserror::Error)]
enum CheckError {
    #[error("{0}")]
    Usage(String),
}

/// One meeting in the report.
#[derive(Debug, Serialize)]
struct Meeting {
    start: String,
    end: String,
    subject: String,
    status: Status,
}

/// The report, as printed with `--json`.
#[derive(Debug, Serialize)]
struct Report {
    /// The feed as it may be shown (secrets hidden).
    feed: String,
    /// The configured source whose auth and headers were used, if any.
    source: Option<String>,
    http_status: Option<u16>,
    bytes: Option<usize>,
    elapsed_ms: u128,
    /// Why the fetch failed, if it did.
    fetch_error: Option<String>,
    /// Whether the body is a whole calendar.
    calendar: bool,
    /// Why it is not (not a calendar, or cut short).
    not_calendar_reason: Option<String>,
    events_parsed: usize,
    events_skipped: usize,
    lines_skipped: usize,
    rules_ignored: usize,
    bounds_hit: u64,
    /// Distinct events with an occurrence in the next 30 days.
    events_next_30_days: usize,
    occurrences_next_30_days: usize,
    zones_used: Vec<Zone>,
    zones_unresolved: Vec<String>,
    problems: Vec<ics::parse::Problem>,
    next_meetings: Vec<Meeting>,
    exported_redacted: Option<String>,
    exit_code: u8,
}

#[derive(Debug, Serialize)]
struct Zone {
    tzid: String,
    resolved: String,
}

/// Run the command; returns the process exit code.
pub fn run_check_feed(args: &CheckFeedArgs, config_path: Option<&Path>) -> u8 {
    match run(args, config_path) {
        Ok(code) => code,
        Err(CheckError::Usage(msg)) => {
            eprintln!("calendarbot check-feed: {msg}");
            EXIT_USAGE
        }
    }
}

/// The source to fetch: a configured one whose URL is the same feed (its auth and headers
/// apply), else an ad-hoc source without auth. A path becomes a file:// URL.
fn source_for(feed: &str, cfg: &config::Config) -> Result<(SourceConfig, bool), CheckError> {
    let url = if feed.contains("://") {
        feed.to_string()
    } else {
        let abs =
            std::path::absolute(feed).map_err(|e| CheckError::Usage(format!("{feed:?}: {e}")))?;
        reqwest::Url::from_file_path(&abs)
            .map_err(|()| CheckError::Usage(format!("{feed:?}: not a usable path")))?
            .to_string()
    };
    let want = http_url(&url);
    if let Some(s) = cfg
        .effective_sources()
        .into_iter()
        .find(|s| http_url(&s.url) == want)
    {
        return Ok((s, true));
    }
    Ok((
        SourceConfig {
            name: "check-feed".into(),
            url,
            auth: None,
            headers: Default::default(),
            ..Default::default()
        },
        false,
    ))
}

fn run(args: &CheckFeedArgs, config_path: Option<&Path>) -> Result<u8, CheckError> {
    let loaded = config::load(config_path).map_err(|e| CheckError::Usage(e.to_string()))?;
    let cfg = loaded.config;
    let tz: chrono_tz::Tz = match &args.tz {
        Some(t) => t.trim().parse().map_err(|_| {
            CheckError::Usage(format!("unknown time zone {t:?} (want an IANA name)"))
        })?,
        None => cfg.tz(),
    };
    let (source, configured) = source_for(&args.feed, &cfg)?;
    let now = cfg.clock().now();
    let fetcher = Fetcher::new(cfg.fetch.clone())
        .map_err(|e| CheckError::Usage(format!("cannot build the HTTP client: {e}")))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CheckError::Usage(format!("cannot start the runtime: {e}")))?;
    let started = Instant::now();
    let outcome = runtime.block_on(fetcher.fetch(&source, None));
    let elapsed_ms = started.elapsed().as_millis();

    let mut report = Report {
        feed: config::redact_url(&source.url),
        source: configured.then(|| source.name.clone()),
        http_status: None,
        bytes: None,
        elapsed_ms,
        fetch_error: None,
        calendar: false,
        not_calendar_reason: None,
        events_parsed: 0,
        events_skipped: 0,
        lines_skipped: 0,
        rules_ignored: 0,
        bounds_hit: 0,
        events_next_30_days: 0,
        occurrences_next_30_days: 0,
        zones_used: vec![],
        zones_unresolved: vec![],
        problems: vec![],
        next_meetings: vec![],
        exported_redacted: None,
        exit_code: EXIT_OK,
    };
    let fetched = match outcome {
        Ok(FetchOutcome::Body(f)) => f,
        // No validators were sent, so a 304 is the server's mistake: nothing to check.
        Ok(FetchOutcome::NotModified) => {
            report.http_status = Some(304);
            report.fetch_error = Some("HTTP 304 without a conditional request".into());
            report.exit_code = EXIT_FETCH;
            return Ok(finish(&report, args.json));
        }
        Err(e) => {
            report.http_status = match &e {
                crate::fetch::FetchError::Status { status, .. } => Some(*status),
                crate::fetch::FetchError::Auth(s) => Some(*s),
                _ => None,
            };
            report.fetch_error = Some(e.to_string());
            report.exit_code = EXIT_FETCH;
            return Ok(finish(&report, args.json));
        }
    };
    report.http_status = fetched.status;
    report.bytes = Some(fetched.bytes.len());
    let body = fetched
        .bytes
        .to_vec()
        .map_err(|e| CheckError::Usage(format!("cannot read the fetched body: {e}")))?;

    if let Some(out) = &args.export_redacted {
        let text = redact_calendar(&body);
        std::fs::write(out, text)
            .map_err(|e| CheckError::Usage(format!("cannot write {}: {e}", out.display())))?;
        report.exported_redacted = Some(out.display().to_string());
    }

    let opts = ExpandOptions {
        default_tz: tz,
        from: now,
        to: now + Duration::days(AHEAD_DAYS),
        limits: Limits::default(),
    };
    let exp = match ics::expand_feed(&body, &opts) {
        Ok(exp) => exp,
        Err(e) => {
            report.not_calendar_reason = Some(e.to_string());
            report.exit_code = EXIT_NOT_CALENDAR;
            return Ok(finish(&report, args.json));
        }
    };
    let st = &exp.stats;
    report.calendar = st.truncated.is_none();
    report.not_calendar_reason = st.truncated.as_ref().map(|t| format!("truncated: {t}"));
    report.events_parsed = st.events_parsed;
    report.events_skipped = st.events_skipped;
    report.lines_skipped = st.lines_skipped;
    report.rules_ignored = st.rules_ignored;
    report.bounds_hit = exp.bounds_hit;
    report.zones_used = st
        .zones_used
        .iter()
        .map(|(t, r)| Zone {
            tzid: t.clone(),
            resolved: r.clone(),
        })
        .collect();
    report.zones_unresolved = st.zones_unresolved.clone();
    report.problems = st.problems.clone();
    report.occurrences_next_30_days = exp.occurrences.len();
    let mut uids: Vec<&str> = exp.occurrences.iter().map(|o| o.details.uid()).collect();
    uids.sort_unstable();
    uids.dedup();
    report.events_next_30_days = uids.len();
    report.next_meetings = exp
        .occurrences
        .iter()
        .filter(|o| o.status.is_meeting() && o.start_utc(tz) >= now)
        .take(5)
        .map(|o| Meeting {
            start: ics::format_when(o.start),
            end: ics::format_when(o.end),
            subject: o.details.subject().to_string(),
            status: o.status,
        })
        .collect();
    report.exit_code = if st.truncated.is_some() {
        EXIT_NOT_CALENDAR
    } else if st.events_skipped + st.lines_skipped + st.rules_ignored > 0
        || !st.problems.is_empty()
        || !st.zones_unresolved.is_empty()
        || exp.bounds_hit > 0
    {
        EXIT_PROBLEMS
    } else {
        EXIT_OK
    };
    Ok(finish(&report, args.json))
}

/// Print the report; returns its exit code.
fn finish(r: &Report, json: bool) -> u8 {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let text = if json {
        serde_json::to_string_pretty(r).expect("plain data serialises") + "\n"
    } else {
        human(r)
    };
    // A closed pipe (`| head`) is not an error of the feed.
    let _ = out.write_all(text.as_bytes());
    r.exit_code
}

fn human(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "feed:        {}", r.feed);
    if let Some(src) = &r.source {
        let _ = writeln!(s, "source:      {src} (its auth and headers were used)");
    }
    let status = match r.http_status {
        Some(c) => format!("HTTP {c}"),
        None if r.feed.starts_with("file:") => "local file".to_string(),
        None => "no HTTP status".to_string(),
    };
    let bytes = r.bytes.map_or_else(|| "-".to_string(), |b| b.to_string());
    let _ = writeln!(
        s,
        "fetch:       {status}, {bytes} bytes, {} ms",
        r.elapsed_ms
    );
    if let Some(e) = &r.fetch_error {
        let _ = writeln!(s, "FAILED:      {e}");
        let _ = writeln!(s, "exit code:   {}", r.exit_code);
        return s;
    }
    match &r.not_calendar_reason {
        Some(why) => {
            let _ = writeln!(s, "calendar:    NO: {why}");
        }
        None => {
            let _ = writeln!(s, "calendar:    yes (a whole VCALENDAR)");
        }
    }
    let _ = writeln!(
        s,
        "events:      {} parsed, {} skipped; {} lines skipped; {} rules ignored; {} bounds hit",
        r.events_parsed, r.events_skipped, r.lines_skipped, r.rules_ignored, r.bounds_hit
    );
    let _ = writeln!(
        s,
        "next {AHEAD_DAYS} days: {} occurrences of {} events",
        r.occurrences_next_30_days, r.events_next_30_days
    );
    if r.zones_used.is_empty() {
        let _ = writeln!(s, "zones:       none named (floating times and dates only)");
    }
    for z in &r.zones_used {
        let _ = writeln!(s, "zone:        {:?} -> {}", z.tzid, z.resolved);
    }
    for z in &r.zones_unresolved {
        let _ = writeln!(
            s,
            "UNRESOLVED:  zone {z:?} (its times were read in the default zone)"
        );
    }
    for p in &r.problems {
        match p.line {
            Some(l) => {
                let _ = writeln!(s, "line {l:>6}: {}", p.message);
            }
            None => {
                let _ = writeln!(s, "problem:     {}", p.message);
            }
        }
    }
    if r.problems.len() >= ics::parse::MAX_PROBLEMS {
        let _ = writeln!(
            s,
            "(only the first {} problems are listed)",
            ics::parse::MAX_PROBLEMS
        );
    }
    if r.next_meetings.is_empty() {
        let _ = writeln!(s, "next:        no meetings in the next {AHEAD_DAYS} days");
    }
    for m in &r.next_meetings {
        let _ = writeln!(s, "next:        {} - {}  {}", m.start, m.end, m.subject);
    }
    if let Some(p) = &r.exported_redacted {
        let _ = writeln!(s, "exported:    {p} (texts replaced, times kept)");
    }
    let _ = writeln!(s, "exit code:   {}", r.exit_code);
    s
}

/// Properties whose values are times, rules, zones or flags: kept as they are. Everything
/// else is text (or may hold text) and is replaced.
const KEEP: &[&str] = &[
    "BEGIN",
    "END",
    "VERSION",
    "PRODID",
    "CALSCALE",
    "METHOD",
    "X-WR-TIMEZONE",
    "DTSTART",
    "DTEND",
    "DUE",
    "DURATION",
    "DTSTAMP",
    "CREATED",
    "LAST-MODIFIED",
    "RRULE",
    "RDATE",
    "EXDATE",
    "EXRULE",
    "RECURRENCE-ID",
    "SEQUENCE",
    "STATUS",
    "TRANSP",
    "CLASS",
    "PRIORITY",
    "TZID",
    "TZNAME",
    "TZOFFSETFROM",
    "TZOFFSETTO",
    "TZURL",
    "X-LIC-LOCATION",
    "X-MICROSOFT-CDO-TZID",
    "X-MICROSOFT-CDO-BUSYSTATUS",
    "X-MICROSOFT-CDO-INTENDEDSTATUS",
    "X-MICROSOFT-CDO-ALLDAYEVENT",
    "X-OUTLOOK-DELETED",
    "ACTION",
    "TRIGGER",
    "REPEAT",
];

/// Parameters kept on kept properties (they change what a time means).
const KEEP_PARAMS: &[&str] = &["TZID", "VALUE", "RANGE", "RELATED"];

/// Stable placeholders: the same original text gets the same placeholder everywhere in the
/// file (so overrides still share their master's UID), numbered in order of appearance.
#[derive(Default)]
struct Placeholders {
    seen: HashMap<(String, String), usize>,
    next: HashMap<String, usize>,
}

impl Placeholders {
    fn get(&mut self, kind: &str, original: &str) -> usize {
        let key = (kind.to_string(), original.to_string());
        if let Some(n) = self.seen.get(&key) {
            return *n;
        }
        let counter = self.next.entry(kind.to_string()).or_insert(0);
        *counter += 1;
        let n = *counter;
        self.seen.insert(key, n);
        n
    }
}

/// The calendar with every text replaced by a stable placeholder and every time kept: UID,
/// SUMMARY, DESCRIPTION, LOCATION, ATTENDEE, ORGANIZER and every other property not known to
/// hold only times, rules or flags ([`KEEP`]); on kept properties only parameters that change
/// what a time means ([`KEEP_PARAMS`]) survive. Lines that cannot be read become
/// `redacted-line-N` (still unreadable, so the feed fails the same way); the structure,
/// including a cut-off end, is unchanged. Lines are written unfolded with CRLF.
pub fn redact_calendar(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut ph = Placeholders::default();
    let mut out = String::with_capacity(text.len() / 2);
    for line in unfolded(text) {
        let Some(p) = ics::parse::split_line(&line) else {
            let n = ph.get("line", &line);
            out.push_str(&format!("redacted-line-{n}\r\n"));
            continue;
        };
        let name = p.name.as_str();
        if KEEP.contains(&name) {
            out.push_str(name);
            for (k, vals) in &p.params {
                if KEEP_PARAMS.contains(&k.as_str()) {
                    out.push(';');
                    out.push_str(k);
                    out.push('=');
                    let vals: Vec<String> = vals.iter().map(|v| quote_param(v)).collect();
                    out.push_str(&vals.join(","));
                }
            }
            out.push(':');
            out.push_str(&p.value);
        } else {
            let value = match name {
                "UID" => format!("uid-{}@redacted.invalid", ph.get("uid", &p.value)),
                "ATTENDEE" | "ORGANIZER" => {
                    let who = format!("{}|{}", p.param("CN").unwrap_or(""), p.value);
                    let n = ph.get("person", &who);
                    out.push_str(name);
                    out.push_str(&format!(";CN=Person {n}"));
                    out.push(':');
                    out.push_str(&format!("mailto:person-{n}@redacted.invalid\r\n"));
                    continue;
                }
                "SUMMARY" => format!("Event {}", ph.get("summary", &p.value)),
                "LOCATION" => format!("Place {}", ph.get("location", &p.value)),
                "DESCRIPTION" => format!("Description {}", ph.get("description", &p.value)),
                _ => format!("redacted {}", ph.get("other", &p.value)),
            };
            out.push_str(name);
            out.push(':');
            out.push_str(&value);
        }
        out.push_str("\r\n");
    }
    out
}

fn quote_param(v: &str) -> String {
    if v.contains([';', ':', ',']) {
        format!("\"{}\"", v.replace('"', ""))
    } else {
        v.to_string()
    }
}

/// Logical lines (continuations joined), as the engine reads them.
fn unfolded(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        // A lone CR also ends a line (as in the engine).
        for part in raw.split('\r') {
            if let Some(tail) = part.strip_prefix([' ', '\t'])
                && let Some(last) = lines.last_mut()
            {
                last.push_str(tail);
                continue;
            }
            if !part.is_empty() {
                lines.push(part.to_string());
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_stable_and_times_stay() {
        let ics = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:secret-uid\r\nSUMMARY:Secret plan\r\n\
                   DTSTART;TZID=Europe/Berlin;X-FOO=bar:20260301T100000\r\nRRULE:FREQ=WEEKLY\r\n\
                   ATTENDEE;CN=Ann Smith:mailto:ann@corp.example\r\nEND:VEVENT\r\n\
                   BEGIN:VEVENT\r\nUID:secret-uid\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260308T100000\r\n\
                   SUMMARY:Secret pl\r\n an\r\nDTSTART;TZID=Europe/Berlin:20260308T110000\r\nEND:VEVENT\r\n\
                   this line is broken\r\nEND:VCALENDAR\r\n";
        let r = redact_calendar(ics.as_bytes());
        for secret in ["secret-uid", "Secret", "Ann", "ann@corp", "X-FOO", "broken"] {
            assert!(!r.contains(secret), "{secret} leaked:\n{r}");
        }
        assert_eq!(r.matches("UID:uid-1@redacted.invalid").count(), 2, "{r}");
        assert_eq!(r.matches("SUMMARY:Event 1").count(), 2, "{r}");
        assert!(
            r.contains("DTSTART;TZID=Europe/Berlin:20260301T100000\r\n"),
            "{r}"
        );
        assert!(r.contains("RECURRENCE-ID;TZID=Europe/Berlin:20260308T100000\r\n"));
        assert!(r.contains("RRULE:FREQ=WEEKLY\r\n"));
        assert!(r.contains("ATTENDEE;CN=Person 1:mailto:person-1@redacted.invalid\r\n"));
        assert!(r.contains("redacted-line-1\r\n"));
    }
}
