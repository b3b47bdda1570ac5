//! A scriptable feed server on 127.0.0.1 and the ICS feeds it serves.
//!
//! The feed server is plain `std::net` so it shares nothing with the code under test; each
//! failure a feed can show (5xx, refused, hang, garbage, truncated, huge, trickle) is one
//! [`Mode`].

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How the feed server answers.
#[derive(Debug, Clone)]
pub enum Mode {
    /// 200 with this body and ETag; a matching If-None-Match gets 304.
    Ok { body: Vec<u8>, etag: String },
    /// This status with a short body.
    Status(u16),
    /// The port is closed: connections are refused.
    Refuse,
    /// Read the request, then send nothing for a long time.
    Hang,
    /// 200 with bytes that are not a calendar.
    Garbage,
    /// Declare a length, send half of the body, close.
    Truncated { body: Vec<u8> },
    /// A body of `len` bytes, with Content-Length or chunked.
    Huge { len: usize, chunked: bool },
    /// Send `body` slowly: `bytes_per_tick` bytes every 100 ms.
    Trickle {
        body: Vec<u8>,
        bytes_per_tick: usize,
    },
}

struct Shared {
    mode: Mutex<Mode>,
    requests: Mutex<Vec<String>>,
    stop: AtomicBool,
    /// Connections in which the response body started (trickle/huge).
    bodies_started: AtomicUsize,
}

/// A feed server on 127.0.0.1.
pub struct FeedServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FeedServer {
    pub fn start(mode: Mode) -> FeedServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            mode: Mutex::new(mode),
            requests: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            bodies_started: AtomicUsize::new(0),
        });
        let s = shared.clone();
        let thread = thread::spawn(move || accept_loop(Some(listener), addr, s));
        FeedServer {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/feed.ics", self.addr)
    }

    pub fn set(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    /// Request heads received so far.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn bodies_started(&self) -> usize {
        self.shared.bodies_started.load(Ordering::SeqCst)
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(mut listener: Option<TcpListener>, addr: SocketAddr, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        let refuse = matches!(*shared.mode.lock().unwrap(), Mode::Refuse);
        if refuse {
            listener = None;
            thread::sleep(Duration::from_millis(10));
            continue;
        }
        if listener.is_none() {
            match TcpListener::bind(addr) {
                Ok(l) => listener = Some(l),
                Err(_) => {
                    thread::sleep(Duration::from_millis(20));
                    continue;
                }
            }
        }
        let l = listener.as_ref().unwrap();
        l.set_nonblocking(true).unwrap();
        match l.accept() {
            Ok((stream, _)) => {
                let s = shared.clone();
                thread::spawn(move || {
                    let _ = handle(stream, &s);
                });
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn handle(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        head.push_str(&line);
    }
    shared.requests.lock().unwrap().push(head.clone());
    let mode = shared.mode.lock().unwrap().clone();
    let if_none_match = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("if-none-match")
            .then(|| v.trim().to_string())
    });
    match mode {
        Mode::Ok { body, etag } => {
            if if_none_match.as_deref() == Some(etag.as_str()) {
                write!(
                    stream,
                    "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nContent-Length: 0\r\n\r\n"
                )?;
            } else {
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )?;
                stream.write_all(&body)?;
            }
        }
        Mode::Status(code) => {
            write!(
                stream,
                "HTTP/1.1 {code} Failing\r\nContent-Length: 4\r\nConnection: close\r\n\r\nfail"
            )?;
        }
        Mode::Refuse => {}
        Mode::Hang => {
            let until = Instant::now() + Duration::from_secs(30);
            while Instant::now() < until && !shared.stop.load(Ordering::SeqCst) {
                if !matches!(*shared.mode.lock().unwrap(), Mode::Hang) {
                    break;
                }
                thread::sleep(Duration::from_millis(50));
            }
        }
        Mode::Garbage => {
            let body: Vec<u8> = (0..20_000u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect();
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body)?;
        }
        Mode::Truncated { body } => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            stream.write_all(&body[..body.len() / 2])?;
        }
        Mode::Huge { len, chunked } => {
            shared.bodies_started.fetch_add(1, Ordering::SeqCst);
            let line = b"X-FILLER:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
            let block: Vec<u8> = line.iter().copied().cycle().take(64 * 1024).collect();
            if chunked {
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                )?;
            } else {
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
                )?;
            }
            let mut sent = 0;
            while sent < len {
                let n = block.len().min(len - sent);
                if chunked {
                    write!(stream, "{n:x}\r\n")?;
                    stream.write_all(&block[..n])?;
                    stream.write_all(b"\r\n")?;
                } else {
                    stream.write_all(&block[..n])?;
                }
                sent += n;
            }
            if chunked {
                stream.write_all(b"0\r\n\r\n")?;
            }
        }
        Mode::Trickle {
            body,
            bytes_per_tick,
        } => {
            shared.bodies_started.fetch_add(1, Ordering::SeqCst);
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            for chunk in body.chunks(bytes_per_tick.max(1)) {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                stream.write_all(chunk)?;
                stream.flush()?;
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
    stream.flush()?;
    // Let the client read everything before the socket closes.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 256];
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = stream.read(&mut sink);
    Ok(())
}

/// An ICS feed with the given (uid, subject, minutes from now, length in minutes) events,
/// anchored at the real current time, stamped with `dtstamp` (to test hash blindness).
pub fn ics(events: &[(&str, &str, i64, i64)]) -> Vec<u8> {
    let now = chrono::Utc::now();
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y%m%dT%H%M00Z").to_string();
    let mut s = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//feed//EN\r\n");
    for (uid, subject, from_now, minutes) in events {
        let start = now + chrono::Duration::minutes(*from_now);
        let end = start + chrono::Duration::minutes(*minutes);
        s.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:{}\r\nDTSTART:{}\r\nDTEND:{}\r\nSUMMARY:{subject}\r\nLOCATION:Room 7\r\nEND:VEVENT\r\n",
            fmt(now),
            fmt(start),
            fmt(end)
        ));
    }
    s.push_str("END:VCALENDAR\r\n");
    s.into_bytes()
}
