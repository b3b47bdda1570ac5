//! Bytes → a tree of iCalendar components (RFC 5545 §3.1–3.6), tolerant of real-world feeds.
//!
//! Why it exists (instead of a general-purpose parser crate): the kiosk must never lose a whole
//! calendar because of one bad line, must stay inside hard bounds on hostile input (line
//! length, nesting, event count) and must be cheap on a Pi Zero 2W. So this parser is a single
//! pass over the bytes that:
//! - decodes lossily (invalid UTF-8 becomes U+FFFD), strips a BOM, accepts CRLF, LF or CR;
//! - unfolds continuation lines (a line starting with a space or a tab);
//! - splits `NAME;PARAM=a,"b;c":value`, honouring quoted parameter values;
//! - skips lines it cannot split (no colon, empty name) instead of failing;
//! - cuts lines longer than [`Limits::max_line_bytes`] and skips components nested deeper than
//!   [`Limits::max_nesting`], recording a warning for each bound hit.
//!
//! Text unescaping (`\n`, `\,`, `\;`, `\\`) is done on demand by [`unescape_text`] because only
//! TEXT values are escaped (RRULE and dates must not be touched).

use super::Limits;

mod streamer;
pub use streamer::{Piece, Streamer};

/// One content line: `NAME;PARAMS:value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// Upper-cased property name.
    pub name: String,
    /// Parameters in order: upper-cased name, raw values (quotes removed).
    pub params: Vec<(String, Vec<String>)>,
    /// The raw value (still escaped for TEXT values).
    pub value: String,
    /// 1-based number of the physical line it starts on (0 when not read from a feed).
    pub line: usize,
}

impl Property {
    /// The first value of parameter `name` (upper case), if present.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }
}

/// A `BEGIN:X … END:X` block with its properties and sub-components.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Component {
    /// Upper-cased component name (VCALENDAR, VEVENT, VTIMEZONE, STANDARD, …).
    pub name: String,
    /// Properties in feed order.
    pub props: Vec<Property>,
    /// Sub-components in feed order.
    pub children: Vec<Component>,
    /// 1-based line of its BEGIN (0 when not read from a feed).
    pub line: usize,
    /// Its ATTENDEE lines, packed (the parser keeps them here, not in `props`: an all-hands
    /// meeting can carry 100,000 of them, and a [`Property`] costs ~450 bytes of heap).
    pub attendees: Vec<Attendee>,
}

/// One ATTENDEE line, packed into one allocation: the address (the value), and the `CN`,
/// `PARTSTAT` and `EMAIL` parameters, which is all a kiosk uses of it (who is invited, and
/// whether the owner declined).
#[derive(Clone, PartialEq, Eq)]
pub struct Attendee {
    /// value, CN, PARTSTAT, EMAIL back to back.
    packed: Box<str>,
    /// End offsets of the first three parts in `packed`.
    ends: [u32; 3],
    /// 1-based line it starts on.
    pub line: usize,
}

impl Attendee {
    fn part(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        let end = self.ends.get(i).map_or(self.packed.len(), |e| *e as usize);
        &self.packed[start..end]
    }

    /// The raw value (usually `mailto:…`).
    pub fn value(&self) -> &str {
        self.part(0)
    }

    /// The `CN` parameter (empty when absent).
    pub fn cn(&self) -> &str {
        self.part(1)
    }

    /// The `PARTSTAT` parameter (empty when absent), as written.
    pub fn partstat(&self) -> &str {
        self.part(2)
    }

    /// The `EMAIL` parameter (empty when absent).
    pub fn email(&self) -> &str {
        self.part(3)
    }
}

impl From<&Property> for Attendee {
    fn from(p: &Property) -> Self {
        let parts = [
            p.value.as_str(),
            p.param("CN").unwrap_or(""),
            p.param("PARTSTAT").unwrap_or(""),
            p.param("EMAIL").unwrap_or(""),
        ];
        let mut packed = String::with_capacity(parts.iter().map(|x| x.len()).sum());
        let mut ends = [0u32; 3];
        for (i, part) in parts.iter().enumerate() {
            packed.push_str(part);
            if let Some(e) = ends.get_mut(i) {
                // A line is at most 64 KiB (Limits::max_line_bytes), so this never saturates.
                *e = u32::try_from(packed.len()).unwrap_or(u32::MAX);
            }
        }
        Attendee {
            packed: packed.into_boxed_str(),
            ends,
            line: p.line,
        }
    }
}

impl std::fmt::Debug for Attendee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attendee")
            .field("value", &self.value())
            .field("cn", &self.cn())
            .field("partstat", &self.partstat())
            .field("line", &self.line)
            .finish()
    }
}

impl Component {
    /// The first property called `name` (upper case).
    pub fn prop(&self, name: &str) -> Option<&Property> {
        self.props.iter().find(|p| p.name == name)
    }

    /// Every property called `name` (upper case).
    pub fn props_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Property> + 'a {
        self.props.iter().filter(move |p| p.name == name)
    }
}

/// Something in the feed that was skipped or repaired, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// 1-based physical line number, when known.
    pub line: Option<usize>,
    /// What was wrong and what was done about it.
    pub message: String,
}

/// At most this many problems are listed one by one (the counts stay exact).
pub const MAX_PROBLEMS: usize = 200;

/// Add a problem to `list` unless it is full.
pub fn note(list: &mut Vec<Problem>, line: Option<usize>, message: String) {
    if list.len() < MAX_PROBLEMS {
        list.push(Problem { line, message });
    }
}

/// The parse result: every top-level VCALENDAR, plus what had to be bounded or skipped.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The VCALENDAR components found (usually one).
    pub calendars: Vec<Component>,
    /// Warnings (bounds hit, skipped lines and components).
    pub warnings: Vec<String>,
    /// How many bounds were hit.
    pub bounds_hit: u64,
    /// Lines that could not be read (no colon, no name, an END without its BEGIN).
    pub lines_skipped: usize,
    /// Skipped lines and unclosed components, with their line numbers (at most
    /// [`MAX_PROBLEMS`]).
    pub problems: Vec<Problem>,
    /// Why the feed does not end where a calendar ends (a component still open at the end of
    /// the bytes: a cut download); `None` for a whole calendar.
    pub truncated: Option<String>,
}

/// Parse a feed. Never fails: a feed without any VCALENDAR yields an empty `calendars`.
pub fn parse(bytes: &[u8], limits: &Limits) -> Parsed {
    let mut calendars: Vec<Component> = Vec::new();
    let mut children: Vec<Component> = Vec::new();
    let mut s = Streamer::new(limits, false);
    let mut sink = |piece: Piece| match piece {
        Piece::CalendarBegin => {}
        Piece::Child(c) => children.push(c),
        Piece::CalendarEnd(mut c) => {
            c.children = std::mem::take(&mut children);
            calendars.push(c);
        }
    };
    s.push(bytes, &mut sink);
    let mut out = s.finish(&mut sink);
    out.calendars = calendars;
    out
}

/// The start of a line, for messages (at most 60 characters).
pub fn excerpt(s: &str) -> String {
    let mut t: String = s.chars().take(60).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    t
}

pub(crate) fn push_bounded(buf: &mut String, s: &str, max: usize, over: &mut bool) {
    if buf.len() >= max {
        if !s.is_empty() {
            *over = true;
        }
        return;
    }
    let room = max - buf.len();
    if s.len() <= room {
        buf.push_str(s);
    } else {
        let mut end = room;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        buf.push_str(&s[..end]);
        *over = true;
    }
}

/// Split one unfolded line into name, parameters and value. `None` for a line with no colon
/// or no name.
pub fn split_line(line: &str) -> Option<Property> {
    let bytes = line.as_bytes();
    // Name: up to ';' or ':'.
    let mut i = 0;
    while i < bytes.len() && bytes[i] != b';' && bytes[i] != b':' {
        i += 1;
    }
    if i == bytes.len() {
        return None;
    }
    let name = line[..i].trim();
    if name.is_empty() {
        return None;
    }
    let name = name.to_ascii_uppercase();
    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    while i < bytes.len() && bytes[i] == b';' {
        i += 1;
        let pstart = i;
        while i < bytes.len() && bytes[i] != b'=' && bytes[i] != b';' && bytes[i] != b':' {
            i += 1;
        }
        let pname = line[pstart..i].trim().to_ascii_uppercase();
        let mut values = Vec::new();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            loop {
                if i < bytes.len() && bytes[i] == b'"' {
                    i += 1;
                    let vstart = i;
                    while i < bytes.len() && bytes[i] != b'"' {
                        i += 1;
                    }
                    values.push(line[vstart..i].to_string());
                    if i < bytes.len() {
                        i += 1; // closing quote
                    }
                    // Tolerate junk between the closing quote and the delimiter.
                    while i < bytes.len() && !matches!(bytes[i], b',' | b';' | b':') {
                        i += 1;
                    }
                } else {
                    let vstart = i;
                    while i < bytes.len() && !matches!(bytes[i], b',' | b';' | b':') {
                        i += 1;
                    }
                    values.push(line[vstart..i].to_string());
                }
                if i < bytes.len() && bytes[i] == b',' {
                    i += 1;
                    continue;
                }
                break;
            }
        }
        if !pname.is_empty() {
            params.push((pname, values));
        }
    }
    if i >= bytes.len() || bytes[i] != b':' {
        return None;
    }
    Some(Property {
        name,
        params,
        value: line[i + 1..].to_string(),
        line: 0,
    })
}

/// Undo TEXT escaping (RFC 5545 §3.3.11): `\n`/`\N` → newline, `\,` `\;` `\\` → the character.
/// An unknown escape keeps the character after the backslash.
pub fn unescape_text(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Split a value list on unescaped commas (EXDATE, RDATE, CATEGORIES).
pub fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(p: &Parsed) -> Vec<Option<usize>> {
        p.problems.iter().map(|x| x.line).collect()
    }

    #[test]
    fn line_numbers_count_physical_lines_and_folds() {
        let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:long\r\n  folded\r\n\
                    not a property\r\nDTSTART:20260101T000000Z\r\nEND:VEVENT\r\nEND:X\r\n\
                    END:VCALENDAR\r\n";
        let p = parse(text.as_bytes(), &Limits::default());
        assert_eq!(p.truncated, None);
        assert_eq!(p.lines_skipped, 2);
        assert_eq!(lines_of(&p), [Some(5), Some(8)]);
        let ev = &p.calendars[0].children[0];
        assert_eq!(ev.line, 2);
        assert_eq!(ev.prop("DTSTART").unwrap().line, 6);
        assert_eq!(ev.prop("SUMMARY").unwrap().value, "long folded");
    }

    #[test]
    fn a_feed_that_ends_inside_a_component_is_truncated() {
        let limits = Limits::default();
        let whole = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nEND:VEVENT\nEND:VCALENDAR\n";
        assert_eq!(parse(whole.as_bytes(), &limits).truncated, None);
        let no_end = whole.replace("END:VCALENDAR\n", "");
        let t = parse(no_end.as_bytes(), &limits).truncated.unwrap();
        assert_eq!(
            t,
            "the feed ends inside VCALENDAR (line 1): no END:VCALENDAR"
        );
        let mid = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTA";
        let p = parse(mid.as_bytes(), &limits);
        assert_eq!(
            p.truncated.as_deref(),
            Some("the feed ends inside VEVENT (line 2): no END:VCALENDAR")
        );
        // A component closed by its parent's END inside a whole calendar is a problem, not a
        // cut: the calendar ends where a calendar ends.
        let unclosed =
            "BEGIN:VCALENDAR\nBEGIN:VTODO\nEND:VTOOD\nBEGIN:VEVENT\nEND:VEVENT\nEND:VCALENDAR\n";
        let p = parse(unclosed.as_bytes(), &limits);
        assert_eq!(p.truncated, None);
        // In the order they were noticed (expand_feed sorts them by line).
        assert_eq!(lines_of(&p), [Some(3), Some(2)]);
        assert!(
            p.problems[1]
                .message
                .starts_with("BEGIN:VTODO has no END:VTODO")
        );
    }
}
