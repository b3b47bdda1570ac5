//! `calendarbot expand FILE --from T --to T`: the engine's output, as JSON lines.
//!
//! Why it exists: it is how the engine's correctness is checked from outside (SPEC §5) — an
//! independent implementation can expand the same file and compare line by line — and how an
//! operator checks what the kiosk will make of a feed. The format is exact: fields `uid`, `id`,
//! `subject`, `location`, `start`, `end`, `all_day`, `status` in that order; timed values are
//! RFC 3339 UTC with `Z` and no fraction, all-day values `YYYY-MM-DD` (end exclusive).
//! Exit 0 on success, 2 (one line on stderr) when the file cannot be read, is not a calendar
//! or the arguments are invalid.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::ics::{ExpandOptions, Limits, Occurrence, Status, format_when};

/// A feed file, opened again for each pass of the engine.
struct FileSource<'a>(&'a std::path::Path);

impl crate::ics::stream::Source for FileSource<'_> {
    fn open(&self) -> std::io::Result<Box<dyn std::io::BufRead + '_>> {
        Ok(Box::new(std::io::BufReader::with_capacity(
            64 * 1024,
            std::fs::File::open(self.0)?,
        )))
    }
}

/// Arguments of `calendarbot expand`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExpandArgs {
    /// The ICS file to expand.
    pub file: PathBuf,
    /// Window start: RFC 3339, or YYYY-MM-DD (00:00 UTC). Default: 7 days before now.
    #[arg(long)]
    pub from: Option<String>,
    /// Window end (exclusive): RFC 3339, or YYYY-MM-DD (00:00 UTC). Default: 365 days after now.
    #[arg(long)]
    pub to: Option<String>,
    /// IANA zone for floating times and all-day dates.
    #[arg(long, env = "CALENDARBOT_DEFAULT_TIMEZONE", default_value = "UTC")]
    pub tz: String,
}

/// One output line.
#[derive(Serialize)]
struct Line<'a> {
    uid: &'a str,
    id: &'a str,
    subject: &'a str,
    location: &'a str,
    start: String,
    end: String,
    all_day: bool,
    status: Status,
}

/// The JSON line of one occurrence (also used by `/api/events`-style consumers).
pub fn occurrence_json(o: &Occurrence) -> String {
    serde_json::to_string(&Line {
        uid: o.details.uid(),
        id: &o.id(),
        subject: o.details.subject(),
        location: o.details.location(),
        start: format_when(o.start),
        end: format_when(o.end),
        all_day: o.all_day(),
        status: o.status,
    })
    .expect("plain data serialises")
}

/// Parse a window bound: RFC 3339 or a date (00:00 UTC).
pub fn parse_bound(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc());
    }
    // A naive date-time is UTC (as CALENDARBOT_TEST_TIME reads it).
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
        .map(|n| n.and_utc())
}

/// Run the command; returns the process exit code.
pub fn run_expand(args: &ExpandArgs) -> u8 {
    match run(args) {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("calendarbot expand: {msg}");
            2
        }
    }
}

fn run(args: &ExpandArgs) -> Result<(), String> {
    let default_tz: chrono_tz::Tz = args
        .tz
        .trim()
        .parse()
        .map_err(|_| format!("unknown time zone {:?} (want an IANA name)", args.tz))?;
    let now = Utc::now();
    let from = match &args.from {
        Some(s) => {
            parse_bound(s).ok_or_else(|| format!("--from {s:?}: want RFC 3339 or YYYY-MM-DD"))?
        }
        None => now - chrono::Duration::days(7),
    };
    let to = match &args.to {
        Some(s) => {
            parse_bound(s).ok_or_else(|| format!("--to {s:?}: want RFC 3339 or YYYY-MM-DD"))?
        }
        None => now + chrono::Duration::days(365),
    };
    // Read by chunks, not whole (the engine reads the file in passes; a 48 MB feed no longer
    // costs 48 MB here). The first byte is read now so an unreadable file fails as before.
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", args.file.display());
    let mut probe = std::fs::File::open(&args.file).map_err(cannot)?;
    std::io::Read::read(&mut probe, &mut [0u8; 1]).map_err(cannot)?;
    drop(probe);
    let opts = ExpandOptions {
        default_tz,
        from,
        to,
        limits: Limits::default(),
    };
    let exp = crate::ics::stream::expand_source(&FileSource(&args.file), &opts)
        .map_err(|e| format!("{}: {e}", args.file.display()))?;
    for w in &exp.warnings {
        eprintln!("warning: {w}");
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for o in &exp.occurrences {
        writeln!(out, "{}", occurrence_json(o)).map_err(|e| format!("write: {e}"))?;
    }
    out.flush().map_err(|e| format!("write: {e}"))?;
    Ok(())
}
