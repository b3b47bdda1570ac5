//! The parser as a stream: chunks of bytes in, each closed component out.
//!
//! Why it exists: a feed must never be held whole (issue #16); see [`Streamer`].

use super::{Attendee, Component, Parsed, Problem, excerpt, note, push_bounded, split_line};
use crate::Limits;

/// What a [`Streamer`] hands over, in feed order.
#[derive(Debug)]
pub enum Piece {
    /// A top-level `BEGIN:VCALENDAR`.
    CalendarBegin,
    /// A direct child of a top-level VCALENDAR (a VEVENT, a VTIMEZONE, …), once it is closed
    /// (or at the end of the bytes, for one left open).
    Child(Component),
    /// The VCALENDAR itself once it is closed: its properties (its children went out as
    /// [`Piece::Child`]).
    CalendarEnd(Component),
}

/// The parser as a stream: bytes go in by chunks ([`Streamer::push`]), and each direct child
/// of a VCALENDAR comes out as soon as its END is read, so a feed is never held whole, nor
/// its component tree: only the component being read.
///
/// In `light` mode only VCALENDAR properties and VTIMEZONE components are read; the content
/// lines of every other component are skimmed for BEGIN/END only (the structure stays exact,
/// so the pieces and the bounds are the same as a full pass). The engine's first pass uses it
/// to learn the zones before reading any event.
pub struct Streamer {
    limits: Limits,
    light: bool,
    out: Parsed,
    stack: Vec<Component>,
    /// Where each open component began (parallel to `stack`).
    begun: Vec<usize>,
    /// Depth of components being skipped (too deep, or unknown content above the bound).
    skipping: usize,
    /// Index in `stack` of the component whose content is only skimmed (light mode).
    skim_from: Option<usize>,
    events_seen: usize,
    skipped_lines: usize,
    cut_lines: usize,
    problems: Vec<Problem>,
    // Line assembly.
    /// Raw bytes of the physical line being read (at most `max_line_bytes + 4`).
    raw: Vec<u8>,
    /// The physical line being read has more bytes than `raw` holds.
    raw_over: bool,
    /// The last byte seen was a CR (a LF right after it ends nothing).
    after_cr: bool,
    physical: usize,
    started: bool,
    // Unfolding.
    buf: String,
    over: bool,
    have: bool,
    first_line: usize,
}

impl Streamer {
    /// A parser with these bounds; `light` skims everything but calendar properties and
    /// VTIMEZONEs.
    pub fn new(limits: &Limits, light: bool) -> Streamer {
        Streamer {
            limits: limits.clone(),
            light,
            out: Parsed::default(),
            stack: Vec::new(),
            begun: Vec::new(),
            skipping: 0,
            skim_from: None,
            events_seen: 0,
            skipped_lines: 0,
            cut_lines: 0,
            problems: Vec::new(),
            raw: Vec::new(),
            raw_over: false,
            after_cr: false,
            physical: 0,
            started: false,
            buf: String::new(),
            over: false,
            have: false,
            first_line: 0,
        }
    }

    /// Read every line of `r` (to its end) into the parser.
    pub fn read_from(
        &mut self,
        r: &mut dyn std::io::BufRead,
        sink: &mut dyn FnMut(Piece),
    ) -> std::io::Result<()> {
        loop {
            let n = {
                let chunk = match r.fill_buf() {
                    Ok(c) => c,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if chunk.is_empty() {
                    return Ok(());
                }
                self.push(chunk, sink);
                chunk.len()
            };
            r.consume(n);
        }
    }

    /// Feed the next bytes of the feed.
    pub fn push(&mut self, mut bytes: &[u8], sink: &mut dyn FnMut(Piece)) {
        let keep = self.limits.max_line_bytes.saturating_add(4);
        while !bytes.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if bytes[0] == b'\n' {
                    bytes = &bytes[1..];
                    continue;
                }
            }
            match bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) => {
                    self.take_raw(&bytes[..i], keep);
                    self.after_cr = bytes[i] == b'\r';
                    bytes = &bytes[i + 1..];
                    self.end_physical(sink);
                }
                None => {
                    self.take_raw(bytes, keep);
                    bytes = &[];
                }
            }
        }
    }

    fn take_raw(&mut self, b: &[u8], keep: usize) {
        self.started = true;
        let room = keep.saturating_sub(self.raw.len());
        if b.len() > room {
            self.raw.extend_from_slice(&b[..room]);
            self.raw_over = true;
        } else {
            self.raw.extend_from_slice(b);
        }
    }

    /// One physical line is complete in `raw`.
    fn end_physical(&mut self, sink: &mut dyn FnMut(Piece)) {
        let raw = std::mem::take(&mut self.raw);
        let raw_over = std::mem::replace(&mut self.raw_over, false);
        let i = self.physical;
        self.physical += 1;
        {
            let decoded = String::from_utf8_lossy(&raw);
            let mut line: &str = &decoded;
            if i == 0 {
                line = line.strip_prefix('\u{feff}').unwrap_or(line);
            }
            let max = self.limits.max_line_bytes;
            if let Some(tail) = line.strip_prefix([' ', '\t'])
                && self.have
            {
                push_bounded(&mut self.buf, tail, max, &mut self.over);
                if raw_over {
                    self.over = true;
                }
            } else {
                self.flush(sink);
                if !line.is_empty() || raw_over {
                    push_bounded(&mut self.buf, line, max, &mut self.over);
                    if raw_over {
                        self.over = true;
                    }
                    self.have = true;
                    self.first_line = i + 1;
                }
            }
        }
        self.raw = raw;
        self.raw.clear();
    }

    fn flush(&mut self, sink: &mut dyn FnMut(Piece)) {
        if self.have {
            if self.over {
                self.cut_lines += 1;
            }
            let line = std::mem::take(&mut self.buf);
            self.on_line(self.first_line, &line, sink);
            self.buf = line;
        }
        self.buf.clear();
        self.over = false;
        self.have = false;
    }

    /// The end of the bytes: close what is open and return the diagnostics (`calendars` is
    /// empty: the calendars went to the sink).
    pub fn finish(mut self, sink: &mut dyn FnMut(Piece)) -> Parsed {
        if self.started && (!self.raw.is_empty() || self.raw_over) {
            self.end_physical(sink);
        }
        self.flush(sink);
        let mut out = std::mem::take(&mut self.out);
        // Unterminated components (truncated download): keep what was read, and say so: a
        // calendar that does not end where a calendar ends was cut, and the caller decides
        // whether a smaller calendar is acceptable (the service refuses it, `expand` shows
        // what is there).
        if let Some(innermost) = self.stack.last() {
            let open: Vec<&str> = self.stack.iter().map(|c| c.name.as_str()).collect();
            out.truncated = Some(format!(
                "the feed ends inside {} (line {}): no END:{}",
                innermost.name,
                self.begun.last().copied().unwrap_or(0),
                open.first().copied().unwrap_or("VCALENDAR"),
            ));
            out.warnings.push(format!(
                "truncated: {}",
                out.truncated.as_deref().unwrap_or("")
            ));
        }
        while let Some(c) = self.stack.pop() {
            self.attach(c, sink);
        }
        out.lines_skipped = self.skipped_lines;
        out.problems = self.problems;
        if self.cut_lines > 0 {
            out.bounds_hit += 1;
            out.warnings.push(format!(
                "{} line(s) longer than {} bytes were cut",
                self.cut_lines, self.limits.max_line_bytes
            ));
        }
        if self.skipped_lines > 0 {
            out.warnings
                .push(format!("{} malformed line(s) skipped", self.skipped_lines));
        }
        out
    }

    fn attach(&mut self, c: Component, sink: &mut dyn FnMut(Piece)) {
        if self.skim_from.is_some_and(|d| d >= self.stack.len()) {
            self.skim_from = None;
        }
        match self.stack.len() {
            0 => sink(Piece::CalendarEnd(c)),
            1 => sink(Piece::Child(c)),
            _ => {
                if let Some(parent) = self.stack.last_mut() {
                    parent.children.push(c);
                }
            }
        }
    }

    fn on_line(&mut self, line_no: usize, raw: &str, sink: &mut dyn FnMut(Piece)) {
        let limits = &self.limits;
        if self.skim_from.is_some() || (self.skipping > 0 && self.light) {
            // Only BEGIN and END lines change the structure.
            let t = raw.trim_start().as_bytes();
            let starts = |w: &[u8]| t.len() >= w.len() && t[..w.len()].eq_ignore_ascii_case(w);
            if !starts(b"BEGIN") && !starts(b"END") {
                return;
            }
        }
        let Some(mut prop) = split_line(raw) else {
            if !raw.trim().is_empty() {
                self.skipped_lines += 1;
                note(
                    &mut self.problems,
                    Some(line_no),
                    format!("malformed line skipped: {:?}", excerpt(raw)),
                );
            }
            return;
        };
        prop.line = line_no;
        match prop.name.as_str() {
            "BEGIN" => {
                let name = prop.value.trim().to_ascii_uppercase();
                if self.skipping > 0 {
                    self.skipping += 1;
                    return;
                }
                if self.stack.len() >= limits.max_nesting {
                    self.out.bounds_hit += 1;
                    self.out.warnings.push(format!(
                        "component {name} nested deeper than {} levels: skipped",
                        limits.max_nesting
                    ));
                    self.skipping = 1;
                    return;
                }
                if name == "VEVENT" {
                    self.events_seen += 1;
                    if self.events_seen == limits.max_events + 1 {
                        self.out.bounds_hit += 1;
                        self.out.warnings.push(format!(
                            "more than {} events in the feed: the rest are ignored",
                            limits.max_events
                        ));
                    }
                    if self.events_seen > limits.max_events {
                        self.skipping = 1;
                        return;
                    }
                }
                // Outside a VCALENDAR only a VCALENDAR may start.
                if self.stack.is_empty() && name != "VCALENDAR" {
                    self.skipping = 1;
                    return;
                }
                if self.stack.is_empty() {
                    sink(Piece::CalendarBegin);
                }
                if self.light
                    && self.skim_from.is_none()
                    && self.stack.len() == 1
                    && name != "VTIMEZONE"
                {
                    self.skim_from = Some(1);
                }
                self.stack.push(Component {
                    name,
                    line: line_no,
                    ..Component::default()
                });
                self.begun.push(line_no);
            }
            "END" => {
                if self.skipping > 0 {
                    self.skipping -= 1;
                    return;
                }
                let name = prop.value.trim().to_ascii_uppercase();
                // Close up to the matching BEGIN; an END without BEGIN is ignored.
                if let Some(pos) = self.stack.iter().rposition(|c| c.name == name) {
                    while self.stack.len() > pos + 1 {
                        let child = self.stack.pop().expect("non-empty");
                        let at = self.begun.pop();
                        note(
                            &mut self.problems,
                            at,
                            format!(
                                "BEGIN:{} has no END:{} (closed by END:{name})",
                                child.name, child.name
                            ),
                        );
                        self.attach(child, sink);
                    }
                    let done = self.stack.pop().expect("non-empty");
                    self.begun.pop();
                    self.attach(done, sink);
                } else {
                    self.skipped_lines += 1;
                    note(
                        &mut self.problems,
                        Some(line_no),
                        format!("END:{name} without BEGIN:{name} skipped"),
                    );
                }
            }
            _ => {
                if self.skipping > 0 || self.skim_from.is_some() {
                    return;
                }
                if let Some(top) = self.stack.last_mut() {
                    if prop.name == "ATTENDEE" {
                        top.attendees.push(Attendee::from(&prop));
                    } else {
                        top.props.push(prop);
                    }
                }
            }
        }
    }
}
