//! The watchdog's probe of the real serving path: a loopback HTTP request to the bound address.
//!
//! Why it exists: systemd's watchdog must be fed only while the kiosk is really served. An
//! in-process computation proves nothing about the accept loop, hyper, the request slots or
//! the handlers, so the probe is an ordinary request, `GET /api/whats-next`, sent over a fresh
//! loopback connection to the listener and answered by the same code as every client.
//!
//! A flood of clients must not make the probe fail, or an attacker on the LAN could get the
//! kiosk restarted at will. Two rules keep it fair (docs/optimization.md, "Watchdog probe"):
//! - **a reserved request slot**: the probe carries a per-process random token
//!   ([`PROBE_HEADER`]); a request with the right token takes the one probe permit of
//!   [`Health`] instead of queueing for the `max_connections` client permits;
//! - **serving counts as healthy**: when the probe's own request fails (its connection was shed
//!   at the connection cap, or it timed out behind a saturated runtime), the service is still
//!   healthy if, during the probe, the accept loop accepted connections *and* handlers
//!   finished requests. A wedged accept loop moves the first counter no more, wedged handlers
//!   the second, so neither can hide behind the rule.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// The request header that carries the probe's token.
pub const PROBE_HEADER: &str = "x-calendarbot-probe";

/// What the server tells the watchdog: the probe's token and reserved slot, and counters
/// that show it is serving. One per server; shared by the accept loop, the handlers and the
/// watchdog.
#[derive(Debug)]
pub struct Health {
    /// Random per process; only the watchdog knows it (never logged, never served).
    token: String,
    /// The probe's own handler permit, so that busy client slots do not delay it.
    pub(crate) reserved: Semaphore,
    /// Connections the accept loop has taken from the listener (shed ones included).
    accepted: AtomicU64,
    /// Requests whose handler finished (whatever the status).
    answered: AtomicU64,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            token: format!("{:032x}", rand::random::<u128>()),
            reserved: Semaphore::new(1),
            accepted: AtomicU64::new(0),
            answered: AtomicU64::new(0),
        }
    }
}

/// The two counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Connections accepted so far.
    pub accepted: u64,
    /// Requests answered so far.
    pub answered: u64,
}

impl Health {
    /// Whether `value` (a request's [`PROBE_HEADER`]) is this process's token.
    pub(crate) fn is_probe(&self, value: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        value.ct_eq(self.token.as_bytes()).into()
    }

    pub(crate) fn note_accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn note_answered(&self) {
        self.answered.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn progress(&self) -> Progress {
        Progress {
            accepted: self.accepted.load(Ordering::Relaxed),
            answered: self.answered.load(Ordering::Relaxed),
        }
    }

    /// Probe the server listening on `bound`: one `GET /api/whats-next` over loopback within
    /// `deadline`. `Ok` says how it passed (its own answer, or other clients being served
    /// meanwhile); `Err` says why it failed.
    pub async fn probe(
        &self,
        bound: SocketAddr,
        deadline: Duration,
    ) -> Result<&'static str, String> {
        let before = self.progress();
        let own = tokio::time::timeout(deadline, self.request(loopback(bound))).await;
        let why = match own {
            Ok(Ok(())) => return Ok("answered"),
            Ok(Err(e)) => e,
            Err(_) => format!("no answer within {} ms", deadline.as_millis()),
        };
        let after = self.progress();
        if after.accepted > before.accepted && after.answered > before.answered {
            return Ok("busy but serving");
        }
        Err(format!("the server did not answer the probe: {why}"))
    }

    async fn request(&self, addr: SocketAddr) -> Result<(), String> {
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let req = format!(
            "GET /api/whats-next HTTP/1.1\r\nHost: {addr}\r\n{PROBE_HEADER}: {}\r\n\
             Connection: close\r\n\r\n",
            self.token
        );
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        // The status line is all we need; a closed connection before it is a failure.
        let mut buf = Vec::with_capacity(64);
        let mut chunk = [0u8; 256];
        while !buf.windows(2).any(|w| w == b"\r\n") {
            let n = s.read(&mut chunk).await.map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed before a status line".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.lines().next().unwrap_or_default();
        if line.starts_with("HTTP/1.1 200 ") {
            Ok(())
        } else {
            Err(format!("answered {line:?}"))
        }
    }
}

/// Where to send the probe: the bound address, with an unspecified IP (`0.0.0.0`, `::`)
/// replaced by the loopback address of its family.
pub fn loopback(bound: SocketAddr) -> SocketAddr {
    let ip = match bound.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bound.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_become_loopback() {
        let a: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(loopback(a), "127.0.0.1:8080".parse().unwrap());
        let a: SocketAddr = "[::]:8080".parse().unwrap();
        assert_eq!(loopback(a), "[::1]:8080".parse().unwrap());
        let a: SocketAddr = "192.168.1.5:80".parse().unwrap();
        assert_eq!(loopback(a), a);
    }

    #[test]
    fn only_the_token_is_a_probe() {
        let h = Health::default();
        assert!(h.is_probe(h.token.as_bytes()));
        assert!(!h.is_probe(b""));
        assert!(!h.is_probe(&h.token.as_bytes()[1..]));
    }

    /// A listener that accepts and never answers; while the probe waits, `moves` runs.
    async fn probe_a_mute_server(
        moves: impl Fn(&Health) + Send + 'static,
    ) -> Result<&'static str, String> {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                held.push(s);
            }
        });
        let h = std::sync::Arc::new(Health::default());
        let h2 = h.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            moves(&h2);
        });
        h.probe(addr, Duration::from_millis(300)).await
    }

    #[tokio::test]
    async fn serving_others_counts_only_when_accepts_and_answers_both_move() {
        let r = probe_a_mute_server(|_| {}).await;
        assert!(r.unwrap_err().contains("no answer within 300 ms"));
        // Accepting without answering (wedged handlers) is not serving.
        let r = probe_a_mute_server(|h| h.note_accepted()).await;
        assert!(r.is_err(), "{r:?}");
        // Answering without accepting (a wedged accept loop, old connections) is not either.
        let r = probe_a_mute_server(|h| h.note_answered()).await;
        assert!(r.is_err(), "{r:?}");
        let r = probe_a_mute_server(|h| {
            h.note_accepted();
            h.note_answered();
        })
        .await;
        assert_eq!(r, Ok("busy but serving"));
    }

    #[tokio::test]
    async fn nothing_listening_fails_the_probe() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let h = Health::default();
        let r = h.probe(addr, Duration::from_millis(300)).await;
        assert!(r.is_err(), "{r:?}");
    }
}
