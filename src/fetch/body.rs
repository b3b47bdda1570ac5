//! A fetched body: held in memory when small, in a spool file when large, hashed on the way in.
//!
//! Why it exists: the kiosk's memory must not follow the feed's size (issue #16). A body past
//! [`SPOOL_THRESHOLD`] goes to a spool file as it arrives, whether or not its length was
//! declared, and the engine reads it back by chunks; the DTSTAMP-blind hash is computed on the
//! stream, so nothing here ever holds a large body whole.

use super::{FetchError, SPOOL_THRESHOLD};
use sha2::{Digest, Sha256};

/// The bytes of a fetched feed: in memory (at most [`SPOOL_THRESHOLD`]) or in a file that is
/// read back by chunks ([`FeedBody::reader`]; the refresh hands it to the engine that way, so
/// a large feed is never held whole).
pub enum FeedBody {
    /// Held in memory.
    Memory(Vec<u8>),
    /// In a spool file, removed when this is dropped.
    Spooled(SpoolFile),
    /// A local feed (`file://`) larger than [`SPOOL_THRESHOLD`], read where it is.
    File(std::path::PathBuf),
}

/// A spool file of the data directory (`.fetch-*.part`), removed when dropped.
pub struct SpoolFile {
    pub(super) path: std::path::PathBuf,
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl FeedBody {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        match self {
            FeedBody::Memory(v) => v.len(),
            FeedBody::Spooled(SpoolFile { path }) | FeedBody::File(path) => std::fs::metadata(path)
                .map_or(0, |m| usize::try_from(m.len()).unwrap_or(usize::MAX)),
        }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A reader from the first byte (each call starts again).
    pub fn reader(&self) -> std::io::Result<Box<dyn std::io::BufRead + '_>> {
        match self {
            FeedBody::Memory(v) => Ok(Box::new(v.as_slice())),
            FeedBody::Spooled(SpoolFile { path }) | FeedBody::File(path) => Ok(Box::new(
                std::io::BufReader::with_capacity(64 * 1024, std::fs::File::open(path)?),
            )),
        }
    }

    /// The whole body in memory (for `check-feed` and tests; the refresh streams it).
    pub fn to_vec(&self) -> std::io::Result<Vec<u8>> {
        match self {
            FeedBody::Memory(v) => Ok(v.clone()),
            FeedBody::Spooled(SpoolFile { path }) | FeedBody::File(path) => std::fs::read(path),
        }
    }
}

impl std::fmt::Debug for FeedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedBody::Memory(v) => write!(f, "FeedBody::Memory({} bytes)", v.len()),
            FeedBody::Spooled(s) => write!(f, "FeedBody::Spooled({})", s.path.display()),
            FeedBody::File(p) => write!(f, "FeedBody::File({})", p.display()),
        }
    }
}

/// Compares the bytes (tests).
impl PartialEq for FeedBody {
    fn eq(&self, other: &Self) -> bool {
        matches!((self.to_vec(), other.to_vec()), (Ok(a), Ok(b)) if a == b)
    }
}

impl Eq for FeedBody {}

impl PartialEq<Vec<u8>> for FeedBody {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.to_vec().is_ok_and(|v| &v == other)
    }
}

/// A body being received: in memory up to [`SPOOL_THRESHOLD`], then in a spool file that is
/// removed when dropped.
pub(super) struct Body {
    mem: Vec<u8>,
    spool: Option<Spool>,
    len: u64,
    dir: std::path::PathBuf,
}

struct Spool {
    /// Removes the file when dropped.
    guard: SpoolFile,
    file: tokio::fs::File,
}

impl Body {
    pub(super) fn new(declared: Option<u64>, dir: &std::path::Path) -> Body {
        // A declared length was already checked against the cap; a small one is held in
        // memory at once, a large one goes to the spool file.
        let capacity = declared.map_or(64 * 1024, |n| {
            usize::try_from(n).unwrap_or(0).min(SPOOL_THRESHOLD)
        });
        Body {
            mem: Vec::with_capacity(capacity),
            spool: None,
            len: 0,
            dir: dir.to_path_buf(),
        }
    }

    pub(super) fn len(&self) -> u64 {
        self.len
    }

    pub(super) async fn push(&mut self, chunk: &[u8]) -> Result<(), FetchError> {
        use tokio::io::AsyncWriteExt;
        self.len += chunk.len() as u64;
        if self.spool.is_none() && self.mem.len() + chunk.len() <= SPOOL_THRESHOLD {
            self.mem.extend_from_slice(chunk);
            return Ok(());
        }
        let spool_err = |e: std::io::Error| FetchError::File {
            path: "spool file".into(),
            reason: e.to_string(),
        };
        if self.spool.is_none() {
            static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = self
                .dir
                .join(format!(".fetch-{}-{n}.part", std::process::id()));
            let file = tokio::fs::File::create(&path).await.map_err(spool_err)?;
            let mut spool = Spool {
                guard: SpoolFile { path },
                file,
            };
            spool.file.write_all(&self.mem).await.map_err(spool_err)?;
            self.mem = Vec::new();
            self.spool = Some(spool);
        }
        if let Some(spool) = &mut self.spool {
            spool.file.write_all(chunk).await.map_err(spool_err)?;
        }
        Ok(())
    }

    pub(super) async fn finish(mut self) -> Result<FeedBody, FetchError> {
        use tokio::io::AsyncWriteExt;
        let Some(mut spool) = self.spool.take() else {
            return Ok(FeedBody::Memory(std::mem::take(&mut self.mem)));
        };
        let spool_err = |e: std::io::Error| FetchError::File {
            path: "spool file".into(),
            reason: e.to_string(),
        };
        spool.file.flush().await.map_err(spool_err)?;
        // The file now belongs to the body (removed when the body is dropped).
        Ok(FeedBody::Spooled(spool.guard))
    }
}

/// sha256 (hex) of `bytes` without their `DTSTAMP` properties: every content line whose name is
/// `DTSTAMP` (any case, with or without parameters) and its folded continuation lines are left
/// out; line endings (CRLF or LF) do not matter.
pub fn content_hash(bytes: &[u8]) -> String {
    let mut h = ContentHasher::default();
    h.update(bytes);
    h.finish()
}

/// [`content_hash`] computed on the stream, chunk by chunk, as the body arrives: the same
/// digest, without holding the body. Each line is decided on its first 8 bytes (a
/// continuation, or `DTSTAMP` followed by `:` or `;`); a CR is held back until the next byte
/// says whether it ends the line.
#[derive(Default)]
pub struct ContentHasher {
    h: Sha256,
    /// The first bytes of the current line, until the line is decided.
    head: Vec<u8>,
    decided: bool,
    /// The current line is left out.
    skip: bool,
    /// The last non-continuation line was a DTSTAMP.
    in_dtstamp: bool,
    /// A CR was the last byte seen.
    cr: bool,
}

impl ContentHasher {
    /// Add the next bytes of the body.
    pub fn update(&mut self, mut b: &[u8]) {
        while !b.is_empty() {
            match b.iter().position(|&x| x == b'\n') {
                Some(i) => {
                    self.segment(&b[..i]);
                    self.end_line();
                    b = &b[i + 1..];
                }
                None => {
                    self.segment(b);
                    b = &[];
                }
            }
        }
    }

    /// The digest (hex).
    pub fn finish(mut self) -> String {
        // A CR at the very end is a line ending; the last (possibly empty) line counts.
        self.cr = false;
        self.end_line();
        let digest = self.h.finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn segment(&mut self, mut seg: &[u8]) {
        if seg.is_empty() {
            return;
        }
        if self.cr {
            self.cr = false;
            self.content(b"\r");
        }
        if let Some(rest) = seg.strip_suffix(b"\r") {
            self.cr = true;
            seg = rest;
        }
        self.content(seg);
    }

    fn content(&mut self, mut s: &[u8]) {
        if !self.decided {
            let take = (8 - self.head.len()).min(s.len());
            self.head.extend_from_slice(&s[..take]);
            s = &s[take..];
            if self.head.len() < 8 {
                return;
            }
            self.decide();
        }
        if !self.skip {
            self.h.update(s);
        }
    }

    fn decide(&mut self) {
        self.decided = true;
        if matches!(self.head.first(), Some(b' ' | b'\t')) {
            self.skip = self.in_dtstamp;
        } else {
            self.in_dtstamp = is_dtstamp(&self.head);
            self.skip = self.in_dtstamp;
        }
        if !self.skip {
            self.h.update(&self.head);
        }
    }

    fn end_line(&mut self) {
        // A CR right before the LF is the line ending, not content.
        self.cr = false;
        if !self.decided {
            self.decide();
        }
        if !self.skip {
            self.h.update(b"\n");
        }
        self.head.clear();
        self.decided = false;
        self.skip = false;
    }
}

fn is_dtstamp(line: &[u8]) -> bool {
    const NAME: &[u8] = b"DTSTAMP";
    line.len() > NAME.len()
        && line[..NAME.len()].eq_ignore_ascii_case(NAME)
        && matches!(line[NAME.len()], b':' | b';')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash as it was computed on a whole body before it was computed on the stream.
    fn reference_hash(bytes: &[u8]) -> String {
        let mut hasher = Sha256::new();
        let mut in_dtstamp = false;
        for raw in bytes.split(|b| *b == b'\n') {
            let line = raw.strip_suffix(b"\r").unwrap_or(raw);
            if matches!(line.first(), Some(b' ' | b'\t')) {
                if in_dtstamp {
                    continue;
                }
            } else {
                in_dtstamp = is_dtstamp(line);
                if in_dtstamp {
                    continue;
                }
            }
            hasher.update(line);
            hasher.update(b"\n");
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn hash_by_chunks_is_the_hash_of_the_whole() {
        let samples: [&[u8]; 5] = [
            b"BEGIN:VCALENDAR\r\nDTSTAMP:20260101T000000Z\r\n more\r\nSUMMARY:x\r\n",
            b"DTSTAMP;X=1:a\n\tfold\nDTSTAM\nDTSTAMP\r\nEND\rX\r",
            b"a\r\r\nb\r",
            b"\n\n DTSTAMP:x\nDTSTAMP:y\n z\n",
            b"",
        ];
        for s in samples {
            let whole = reference_hash(s);
            assert_eq!(content_hash(s), whole, "{s:?}");
            for size in 1..=9 {
                let mut h = ContentHasher::default();
                for c in s.chunks(size) {
                    h.update(c);
                }
                assert_eq!(h.finish(), whole, "{s:?} by {size}");
            }
        }
    }

    #[test]
    fn hash_ignores_dtstamp_only() {
        let a = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTAMP:20250101T000000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let b = b"BEGIN:VCALENDAR\nBEGIN:VEVENT\ndtstamp;VALUE=DATE-TIME:20261231T235959Z\nSUMMARY:x\nEND:VEVENT\nEND:VCALENDAR\n";
        assert_eq!(content_hash(a), content_hash(b));
        let c = b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:y\nEND:VEVENT\nEND:VCALENDAR\n";
        assert_ne!(content_hash(a), content_hash(c));
        // A property that merely starts with the letters is kept.
        let d = b"BEGIN:VCALENDAR\nDTSTAMPX:1\nEND:VCALENDAR\n";
        let e = b"BEGIN:VCALENDAR\nDTSTAMPX:2\nEND:VCALENDAR\n";
        assert_ne!(content_hash(d), content_hash(e));
    }

    #[test]
    fn hash_drops_folded_dtstamp_continuations() {
        let a = b"BEGIN:VEVENT\r\nDTSTAMP:2025010\r\n 1T000000Z\r\nSUMMARY:long\r\n  folded\r\nEND:VEVENT\r\n";
        let b = b"BEGIN:VEVENT\r\nDTSTAMP:2026010\r\n\t2T000000Z\r\nSUMMARY:long\r\n  folded\r\nEND:VEVENT\r\n";
        assert_eq!(content_hash(a), content_hash(b));
        // A folded continuation of another property still counts.
        let c = b"BEGIN:VEVENT\r\nDTSTAMP:2025010\r\n 1T000000Z\r\nSUMMARY:long\r\n  changed\r\nEND:VEVENT\r\n";
        assert_ne!(content_hash(a), content_hash(c));
    }
}
