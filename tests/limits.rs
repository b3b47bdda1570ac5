//! Load and abuse against the real binary on 127.0.0.1 (each test bounded in time):
//! - 256 concurrent clients, each on its own connection, all get 200s;
//! - 500 idle or trickling ("slowloris") connections that reconnect when dropped do not delay
//!   the kiosk: p99 of 200 sequential kiosk requests during the attack stays under 50 ms; the
//!   attackers are shed (evicted or timed out) and the server keeps answering afterwards;
//! - a request head over `server.max_header_bytes` gets 431 with a JSON error, on a new
//!   connection and on a kept-alive one (hyper's own 431, 400 and 414 are rewritten to JSON);
//! - a body over `server.max_body_bytes` gets 413 with a JSON error, whether it is sent or
//!   only announced by Content-Length;
//! - a body that stops arriving gets 408 once `server.header_read_timeout_ms` has passed;
//! - with `max_connections = 1` and the slot held (fault `hog-slots`, feature
//!   `fault-injection`): a request waits 5 s for a slot, then gets 503 "server busy"; with
//!   all 64 open connections busy, one more gets the canned 503 at once.

mod support;

use serde_json::Value;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{Binary, client};

fn demo_binary(extra: &[(&str, String)]) -> (Binary, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let feed = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/calendarbot/single-meeting.ics");
    let mut env = vec![
        ("CALENDARBOT_ICS_URL", format!("file://{}", feed.display())),
        (
            "CALENDARBOT_TEST_TIME",
            "2025-11-05T08:00:00-07:00".to_string(),
        ),
        ("CALENDARBOT_LOG_LEVEL", "warn".to_string()),
    ];
    env.extend(extra.iter().cloned());
    (Binary::start(dir.path(), &env), dir)
}

/// Send raw bytes, read the whole answer (the server closes after it).
fn raw(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(request);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[test]
fn concurrent_clients_all_succeed() {
    let (bin, _dir) = demo_binary(&[]);
    let url = bin.url("/api/whats-next");
    let errors = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    // One pooled client shared by 256 threads: up to 256 connections at once.
    let shared = client();
    let threads: Vec<_> = (0..256)
        .map(|_| {
            let (url, errors, ok, c) = (url.clone(), errors.clone(), ok.clone(), shared.clone());
            std::thread::spawn(move || {
                for _ in 0..4 {
                    match c.get(&url).send() {
                        Ok(r) if r.status() == 200 => {
                            let v: Value = r.json().unwrap();
                            assert_eq!(v["meeting"]["subject"], "Team Standup");
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    println!(
        "256 clients x 4 requests: {} ok, {} errors in {:?}",
        ok.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
        start.elapsed()
    );
    assert_eq!(errors.load(Ordering::Relaxed), 0);
    assert_eq!(ok.load(Ordering::Relaxed), 1024);
}

/// 500 connections: half never send a byte, half trickle a header byte at a time. Whenever
/// the server drops one, it is reopened at once. Returns the number of drops seen.
fn attack(addr: SocketAddr, n: usize, stop: Arc<AtomicBool>, ready: Arc<AtomicBool>) -> usize {
    let open = |i: usize| -> Option<TcpStream> {
        let s = TcpStream::connect(addr).ok()?;
        s.set_nonblocking(true).ok()?;
        if i % 2 == 1 {
            let _ = (&s).write(b"GET /api/whats-next HTTP/1.1\r\nHost: x\r\n");
        }
        Some(s)
    };
    let mut conns: Vec<Option<TcpStream>> = (0..n).map(open).collect();
    ready.store(true, Ordering::SeqCst);
    let mut dropped = 0;
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::SeqCst) {
        for (i, c) in conns.iter_mut().enumerate() {
            let alive = match c {
                None => false,
                Some(s) => {
                    let trickle_ok = i % 2 == 0 || (&*s).write(b"X").is_ok();
                    let read_ok = match (&*s).read(&mut buf) {
                        Ok(0) => false,
                        Ok(_) => false, // an answer (e.g. 503): the server is done with it
                        Err(e) => e.kind() == ErrorKind::WouldBlock,
                    };
                    trickle_ok && read_ok
                }
            };
            if !alive {
                if c.is_some() {
                    dropped += 1;
                }
                *c = open(i);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    dropped
}

#[test]
fn slowloris_does_not_delay_the_kiosk() {
    // A small server: 16 handler permits, 128 open connections, 2 s to send a head. 500
    // attackers are far over both, so eviction and timeouts are at work during the test.
    let (bin, _dir) = demo_binary(&[
        ("CALENDARBOT_SERVER__MAX_CONNECTIONS", "16".into()),
        ("CALENDARBOT_SERVER__HEADER_READ_TIMEOUT_MS", "2000".into()),
    ]);
    let addr = bin.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicBool::new(false));
    let attacker = {
        let (stop, ready) = (stop.clone(), ready.clone());
        std::thread::spawn(move || attack(addr, 500, stop, ready))
    };
    while !ready.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Let the attack settle past one head timeout so evictions, timeouts and reconnects churn.
    std::thread::sleep(Duration::from_millis(2500));
    let kiosk = client();
    let mut lat = Vec::with_capacity(200);
    let mut errors = Vec::new();
    for _ in 0..200 {
        let t0 = Instant::now();
        match kiosk.get(bin.url("/api/whats-next")).send() {
            Ok(r) if r.status() == 200 => {
                let _ = r.bytes();
            }
            Ok(r) => errors.push(format!("status {}", r.status())),
            Err(e) => errors.push(e.to_string()),
        }
        lat.push(t0.elapsed());
    }
    stop.store(true, Ordering::SeqCst);
    let dropped = attacker.join().unwrap();
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q).ceil() as usize).saturating_sub(1)];
    println!(
        "kiosk during a 500-connection slowloris: p50 {:?} p99 {:?} max {:?}; attacker \
         connections dropped by the server: {dropped}",
        p(0.5),
        p(0.99),
        lat[lat.len() - 1]
    );
    assert!(errors.is_empty(), "kiosk errors: {errors:?}");
    assert!(p(0.99) < Duration::from_millis(50), "p99 {:?}", p(0.99));
    assert!(dropped >= 500, "attackers were not shed: {dropped}");
    // Still serving, and healthy.
    let r = client().get(bin.url("/api/health")).send().unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn oversized_head_is_431_json() {
    let (bin, _dir) = demo_binary(&[]);
    let big = "a".repeat(20 * 1024);
    let req = format!("GET /api/whats-next HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let (status, body) = raw(bin.addr, req.as_bytes());
    assert_eq!(status, 431);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v["error"].is_string(), "{body}");
    // Just under the cap is fine.
    let ok = "a".repeat(15 * 1024);
    let req = format!(
        "GET /api/whats-next HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Ok: {ok}\r\n\r\n"
    );
    assert_eq!(raw(bin.addr, req.as_bytes()).0, 200);
}

/// Every 431 is JSON, also the ones hyper itself answers for the second and later requests
/// of a kept-alive connection (too many header fields, or a head over the cap); so are its
/// 400 (a malformed head) and 414.
#[test]
fn every_431_on_a_kept_alive_connection_is_json() {
    let (bin, _dir) = demo_binary(&[]);
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let big = format!("X-Big: {}\r\n", "a".repeat(20 * 1024));
    for (bad, want) in [
        (
            format!("GET /api/whats-next HTTP/1.1\r\nHost: x\r\n{many}\r\n"),
            431,
        ),
        (
            format!("GET /api/whats-next HTTP/1.1\r\nHost: x\r\n{big}\r\n"),
            431,
        ),
        (
            "GET /api/whats-next HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_string(),
            400,
        ),
    ] {
        let first = b"GET /api/whats-next HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut s = TcpStream::connect(bin.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(first).unwrap();
        // Read the first answer whole (its Content-Length says where it ends).
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed after the first answer");
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap();
                if body.len() >= len {
                    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                    break;
                }
            }
        }
        let _ = s.write_all(bad.as_bytes());
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out).to_string();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        assert!(head.starts_with(&format!("HTTP/1.1 {want} ")), "{text:?}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{text:?}"
        );
        let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text:?}"));
        assert!(v["error"].is_string(), "{text:?}");
    }
}

#[test]
fn oversized_body_is_413_json() {
    let (bin, _dir) = demo_binary(&[]);
    let c = client();
    let body = format!(r#"{{"meeting_id": "{}"}}"#, "x".repeat(64 * 1024));
    let r = c
        .post(bin.url("/api/skip"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.json::<Value>().unwrap()["error"].is_string());
    // Announced but never sent: refused at once, without waiting for the bytes.
    let t0 = Instant::now();
    let (status, body) = raw(
        bin.addr,
        b"POST /api/skip HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n",
    );
    assert_eq!(status, 413);
    assert!(serde_json::from_str::<Value>(&body).unwrap()["error"].is_string());
    assert!(t0.elapsed() < Duration::from_secs(2));
    // A normal skip still works on a fresh connection.
    let r = c
        .post(bin.url("/api/skip"))
        .json(&serde_json::json!({"meeting_id": "single-meeting-20251105-001@example.com"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn body_that_stops_arriving_is_408() {
    let (b, _dir) = demo_binary(&[(
        "CALENDARBOT_SERVER__HEADER_READ_TIMEOUT_MS",
        "500".to_string(),
    )]);
    let started = Instant::now();
    let (status, body) = raw(
        b.addr,
        b"POST /api/skip HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n\
          content-length: 100\r\n\r\n{\"meeting_id\":",
    );
    let took = started.elapsed();
    assert_eq!(status, 408, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v["error"].is_string(), "{body}");
    assert!(
        (Duration::from_millis(450)..Duration::from_millis(2_000)).contains(&took),
        "408 after {took:?}, not after the 500 ms timeout"
    );
}

/// One `GET /api/health` with `Connection: close`: (status, body, how long it took).
#[cfg(feature = "fault-injection")]
fn timed_get(addr: SocketAddr) -> (u16, String, Duration) {
    let started = Instant::now();
    let (status, body) = raw(
        addr,
        b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    (status, body, started.elapsed())
}

#[cfg(feature = "fault-injection")]
#[test]
fn busy_slot_means_503_after_5_s_and_a_full_server_sheds_at_once() {
    // One request slot; from 2 s on, every request holds it for 10 s.
    let (b, _dir) = demo_binary(&[
        ("CALENDARBOT_SERVER__MAX_CONNECTIONS", "1".to_string()),
        ("CALENDARBOT_FAULT", "hog-slots".to_string()),
        ("CALENDARBOT_FAULT_AFTER_MS", "2000".to_string()),
    ]);
    std::thread::sleep(Duration::from_millis(2_200));
    let addr = b.addr;
    // 64 requests (the open-connection cap for max_connections = 1): one holds the slot,
    // 63 wait for it; every connection is busy, none can be evicted.
    let waiting: Vec<_> = (0..64)
        .map(|_| std::thread::spawn(move || timed_get(addr)))
        .collect();
    std::thread::sleep(Duration::from_millis(1_500));
    let (status, body, took) = timed_get(addr);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("server busy"), "{body}");
    assert!(
        took < Duration::from_millis(1_000),
        "canned 503 took {took:?}"
    );
    let results: Vec<_> = waiting.into_iter().map(|h| h.join().unwrap()).collect();
    let busy: Vec<_> = results.iter().filter(|(s, _, _)| *s == 503).collect();
    assert_eq!(busy.len(), 63, "{results:?}");
    for (_, body, took) in busy {
        assert!(body.contains("server busy"), "{body}");
        assert!(
            (Duration::from_millis(4_900)..Duration::from_millis(6_500)).contains(took),
            "503 after {took:?}, not after the 5 s slot wait"
        );
    }
    assert_eq!(results.iter().filter(|(s, _, _)| *s == 200).count(), 1);
}
