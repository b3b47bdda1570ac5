//! Bounds on what clients can hold: open connections, request heads, bodies, busy handlers.
//!
//! Why it exists: the kiosk page on the same device must keep getting answers while a broken
//! or hostile client on the LAN holds hundreds of idle or trickling connections. A plain
//! "semaphore at accept" lets 64 slowloris connections lock the kiosk out, so the bounds here
//! are split by what a connection is doing:
//! - **open connections** are capped ([`ConnTracker`]); when the cap is reached, the connection
//!   that has been idle the longest (no request in flight: still sending its first head, or
//!   waiting between keep-alive requests) is closed to make room. Only when every connection is
//!   busy is a newcomer shed with a canned 503.
//! - **the first request head** is read here, before hyper sees the connection
//!   ([`read_head`]): bounded in size (431 with a JSON body) and in time (closed). A connection
//!   costs nothing else until it has sent a whole head.
//! - **bodies** are capped while they are read ([`read_body`]; 413), and the rest of an
//!   oversized body is drained briefly so the client reads the 413 instead of a reset.
//! - **busy handlers** (requests whose body is in) are capped by a semaphore of
//!   `server.max_connections` permits, which is therefore "connections served at once".

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// The open connections and who to close first when there are too many.
#[derive(Debug)]
pub struct ConnTracker {
    /// Open connections at most (idle ones are evicted to stay under it).
    cap: usize,
    /// Zero point of the `last_active` stamps.
    epoch: Instant,
    inner: Mutex<TrackerInner>,
}

#[derive(Debug, Default)]
struct TrackerInner {
    next_id: u64,
    conns: HashMap<u64, Arc<ConnSlot>>,
}

/// One open connection, as the tracker sees it.
#[derive(Debug)]
pub struct ConnSlot {
    id: u64,
    /// Requests of this connection being handled now; a connection with none may be evicted.
    in_flight: AtomicUsize,
    /// Milliseconds since the tracker's epoch when a request last started or ended (or the
    /// connection was accepted). Eviction picks the smallest.
    last_active: AtomicU64,
    /// Signalled when the tracker closes this connection to make room.
    evict: Notify,
}

impl ConnSlot {
    /// Resolves when the tracker has evicted this connection.
    pub async fn evicted(&self) {
        self.evict.notified().await
    }
}

/// Keeps a slot registered while the connection lives; unregisters on drop.
#[derive(Debug)]
pub struct ConnGuard {
    tracker: Arc<ConnTracker>,
    /// The slot (shared with the request handlers of this connection).
    pub slot: Arc<ConnSlot>,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.tracker.lock().conns.remove(&self.slot.id);
    }
}

/// Marks a request of a connection as in flight (not evictable) until dropped.
#[derive(Debug)]
pub struct Busy {
    tracker: Arc<ConnTracker>,
    slot: Arc<ConnSlot>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.slot
            .last_active
            .store(self.tracker.stamp(), Ordering::Relaxed);
        self.slot.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl ConnTracker {
    /// A tracker allowing `cap` open connections.
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(ConnTracker {
            cap: cap.max(1),
            epoch: Instant::now(),
            inner: Mutex::new(TrackerInner::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TrackerInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stamp(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Open connections now.
    pub fn open(&self) -> usize {
        self.lock().conns.len()
    }

    /// Register a new connection, evicting the longest-idle one if the cap is reached.
    /// `None`: every open connection is busy; shed the newcomer.
    pub fn register(self: &Arc<Self>) -> Option<ConnGuard> {
        let mut g = self.lock();
        if g.conns.len() >= self.cap && !Self::evict_locked(&mut g) {
            return None;
        }
        g.next_id += 1;
        let slot = Arc::new(ConnSlot {
            id: g.next_id,
            in_flight: AtomicUsize::new(0),
            last_active: AtomicU64::new(self.stamp()),
            evict: Notify::new(),
        });
        g.conns.insert(slot.id, slot.clone());
        Some(ConnGuard {
            tracker: self.clone(),
            slot,
        })
    }

    /// Close the longest-idle connection (used when accept runs out of file descriptors).
    pub fn evict_one(&self) -> bool {
        Self::evict_locked(&mut self.lock())
    }

    fn evict_locked(g: &mut TrackerInner) -> bool {
        let victim = g
            .conns
            .values()
            .filter(|s| s.in_flight.load(Ordering::Acquire) == 0)
            .min_by_key(|s| (s.last_active.load(Ordering::Relaxed), s.id))
            .map(|s| s.id);
        match victim.and_then(|id| g.conns.remove(&id)) {
            Some(slot) => {
                // notify_one stores a permit, so a task not yet waiting still sees it.
                slot.evict.notify_one();
                true
            }
            None => false,
        }
    }

    /// Mark a request of `slot` in flight.
    pub fn busy(self: &Arc<Self>, slot: &Arc<ConnSlot>) -> Busy {
        slot.in_flight.fetch_add(1, Ordering::AcqRel);
        slot.last_active.store(self.stamp(), Ordering::Relaxed);
        Busy {
            tracker: self.clone(),
            slot: slot.clone(),
        }
    }
}

/// How reading the first request head ended.
#[derive(Debug)]
pub enum Head {
    /// The bytes read so far, which hold a whole head (and maybe more).
    Complete(Bytes),
    /// The head is larger than allowed.
    TooLarge,
    /// The client closed, failed or was too slow; nothing to answer.
    Gone,
}

/// Most header fields in a request head (hyper's own default, set on it too). The first head
/// over it is answered 431 with a JSON body here; hyper would answer with an empty one.
pub const MAX_HEADER_FIELDS: usize = 100;

/// Header fields of a complete head: its lines minus the request line and the blank end.
fn field_count(head: &[u8]) -> usize {
    head.iter()
        .filter(|b| **b == b'\n')
        .count()
        .saturating_sub(2)
}

/// Read until the end of the first request head (`\r\n\r\n`), at most `max` bytes and
/// [`MAX_HEADER_FIELDS`] fields, within `timeout`.
pub async fn read_head(stream: &mut TcpStream, max: usize, timeout: Duration) -> Head {
    let mut buf = BytesMut::with_capacity(1024);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if buf.len() > max {
            return Head::TooLarge;
        }
        let read = tokio::time::timeout_at(deadline, stream.read_buf(&mut buf)).await;
        match read {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Head::Gone,
            Ok(Ok(_)) => {
                // Search from a little before the new bytes: the terminator may straddle reads.
                if let Some(end) = find_head_end(&buf) {
                    if end > max || field_count(&buf[..end]) > MAX_HEADER_FIELDS {
                        return Head::TooLarge;
                    }
                    return Head::Complete(buf.freeze());
                }
            }
        }
    }
}

/// Index just past the `\r\n\r\n` (or bare `\n\n`) that ends a head, if present.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Write a whole canned response and close, after draining what the client still sends (for
/// at most `linger`), so that it reads the answer rather than a connection reset.
pub async fn answer_and_close(mut stream: TcpStream, status: &str, error: &str, linger: Duration) {
    let body = serde_json::json!({ "error": error }).to_string();
    let msg = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\ncache-control: no-store\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        stream.write_all(msg.as_bytes()).await?;
        stream.shutdown().await
    };
    if tokio::time::timeout(linger, write).await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + linger;
    let mut drained = 0usize;
    while drained < DRAIN_MAX_BYTES {
        match tokio::time::timeout_at(deadline, stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => drained += n,
            _ => break,
        }
    }
}

/// Bytes of an oversized body (or head) read and thrown away before closing.
pub const DRAIN_MAX_BYTES: usize = 1024 * 1024;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Larger than the cap.
    #[error("request body larger than {0} bytes")]
    TooLarge(usize),
    /// Not sent in time.
    #[error("request body not received in time")]
    Timeout,
    /// The connection failed mid-body.
    #[error("request body could not be read: {0}")]
    Read(String),
}

/// Read a whole body of at most `max` bytes within `timeout`. An oversized body is drained
/// (up to [`DRAIN_MAX_BYTES`], within the same time) so the client gets to read the 413.
pub async fn read_body<B>(mut body: B, max: usize, timeout: Duration) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut buf = BytesMut::new();
    let mut over = 0usize;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) if over > 0 => break,
            Err(_) => return Err(BodyError::Timeout),
            Ok(None) => break,
            Ok(Some(Err(e))) if over > 0 => {
                let _ = e;
                break;
            }
            Ok(Some(Err(e))) => return Err(BodyError::Read(e.to_string())),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if over > 0 || buf.len() + data.len() > max {
            over += data.len();
            if over > DRAIN_MAX_BYTES {
                break;
            }
        } else {
            buf.extend_from_slice(&data);
        }
    }
    if over > 0 {
        Err(BodyError::TooLarge(max))
    } else {
        Ok(buf.freeze())
    }
}

/// A stream that first yields bytes already read from it (the pre-read head), then the rest.
///
/// On the way out it replaces hyper's automatic answers to a request head it cannot parse
/// (431 for too many or too large header fields, 400, 414: hyper sends them with an empty
/// body, for the second and later requests of a kept-alive connection, which [`read_head`]
/// does not see) with the same status and a JSON body like every other error.
#[derive(Debug)]
pub struct Prefixed<S> {
    prefix: Bytes,
    inner: S,
    /// A rewritten automatic answer still being written, and how many bytes of hyper's own
    /// to report once it is out.
    canned: Option<(Bytes, usize)>,
}

impl<S> Prefixed<S> {
    /// Replay `prefix` before reading `inner`.
    pub fn new(prefix: Bytes, inner: S) -> Self {
        Prefixed {
            prefix,
            inner,
            canned: None,
        }
    }
}

/// The JSON answer that replaces `buf` when `buf` is one of hyper's automatic error answers:
/// a whole head with status 400, 414 or 431, an empty body and no content type (every answer
/// of ours carries one).
fn json_for_automatic(buf: &[u8]) -> Option<Bytes> {
    let error = match buf.get(..13)? {
        b"HTTP/1.1 431 " => "request header fields too large",
        b"HTTP/1.1 400 " => "malformed request",
        b"HTTP/1.1 414 " => "request target too long",
        _ => return None,
    };
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    if end + 4 != buf.len() {
        return None;
    }
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let lower = head.to_ascii_lowercase();
    if !lower.contains("\r\ncontent-length: 0") || lower.contains("\r\ncontent-type:") {
        return None;
    }
    let status_line = head.lines().next()?;
    let date = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("date:"))
        .map(|l| format!("{l}\r\n"))
        .unwrap_or_default();
    let body = serde_json::json!({ "error": error }).to_string();
    Some(Bytes::from(format!(
        "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\ncache-control: no-store\r\n{date}\r\n{body}",
        body.len()
    )))
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            let chunk = self.prefix.split_to(n);
            buf.put_slice(&chunk);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.canned.is_none() {
            match json_for_automatic(buf) {
                Some(json) => self.canned = Some((json, buf.len())),
                None => return Pin::new(&mut self.inner).poll_write(cx, buf),
            }
        }
        let this = &mut *self;
        while let Some((rest, reported)) = this.canned.as_mut() {
            if rest.is_empty() {
                let n = *reported;
                this.canned = None;
                return Poll::Ready(Ok(n));
            }
            match Pin::new(&mut this.inner).poll_write(cx, rest) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => {
                    let _ = rest.split_to(n);
                }
                other => return other,
            }
        }
        Poll::Ready(Ok(0))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        // hyper writes an automatic answer as one head with no body.
        let first = bufs.iter().find(|b| !b.is_empty());
        if let Some(first) = first
            && (self.canned.is_some() || json_for_automatic(first).is_some())
        {
            return self.poll_write(cx, first);
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_end_found_for_crlf_and_lf() {
        assert_eq!(
            find_head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nxyz"),
            Some(27)
        );
        assert_eq!(find_head_end(b"GET / HTTP/1.1\nHost: a\n\n"), Some(24));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
    }

    #[test]
    fn only_hyper_automatic_answers_are_rewritten() {
        let auto = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n\
                     content-length: 0\r\ndate: Mon, 30 Nov 2026 10:11:26 GMT\r\n\r\n";
        let json = json_for_automatic(auto).expect("rewritten");
        let text = std::str::from_utf8(&json).unwrap();
        assert!(text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(text.contains("date: Mon, 30 Nov 2026 10:11:26 GMT\r\n"));
        assert!(text.ends_with("{\"error\":\"request header fields too large\"}"));
        // Ours carry a content type; a 200 is never touched.
        let ours = b"HTTP/1.1 431 X\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert!(json_for_automatic(ours).is_none());
        assert!(json_for_automatic(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }

    #[test]
    fn eviction_prefers_longest_idle_and_spares_busy() {
        let t = ConnTracker::new(2);
        let a = t.register().unwrap();
        let b = t.register().unwrap();
        // a is busy: b (idle) is evicted for c.
        let busy = t.busy(&a.slot);
        let c = t.register().unwrap();
        assert_eq!(t.open(), 2);
        assert!(!t.lock().conns.contains_key(&b.slot.id));
        // a busy and c idle: c goes for d; then a (busy) and d (busy) leave no room.
        let _d_busy;
        let d = t.register().unwrap();
        _d_busy = t.busy(&d.slot);
        assert!(!t.lock().conns.contains_key(&c.slot.id));
        assert!(t.register().is_none());
        drop(busy);
        // a is idle again: it can be evicted.
        assert!(t.register().is_some());
    }
}
