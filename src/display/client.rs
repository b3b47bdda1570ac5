//! The display's HTTP client for the server's API over loopback.
//!
//! Why not reqwest: the display only ever talks plain HTTP to 127.0.0.1, and reqwest as built
//! for the feed fetcher brings rustls, its crypto provider and a CA store with it (the
//! server's client refuses to start without one). A one-request-per-connection HTTP/1.0
//! exchange over a tokio `TcpStream` is all the display needs: the server then answers with a
//! Content-Length body and closes, so there is no chunked decoding and no pool to go stale
//! across a server restart. Every exchange is bounded in time and size.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest answer read (the whats-next body is well under 4 KiB).
const MAX_BODY: usize = 1 << 20;

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server URL is not `http://host:port[/...]`.
    #[error("server URL {0:?}: expected http://HOST:PORT")]
    Url(String),
    /// Connect, write or read failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Not HTTP, or too large.
    #[error("bad answer: {0}")]
    Bad(String),
    /// A non-2xx status.
    #[error("HTTP {0}")]
    Status(u16),
    /// The body is not the JSON expected.
    #[error("bad JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The server's address.
#[derive(Debug, Clone)]
pub struct Client {
    authority: String,
    timeout: Duration,
}

impl Client {
    /// `http://host:port` (a path after it is ignored).
    pub fn new(url: &str) -> Result<Client, ClientError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| ClientError::Url(url.to_string()))?;
        let authority = rest.split('/').next().unwrap_or_default().to_string();
        if authority.is_empty() {
            return Err(ClientError::Url(url.to_string()));
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority
        } else {
            format!("{authority}:80")
        };
        Ok(Client {
            authority,
            timeout: Duration::from_secs(5),
        })
    }

    /// `host:port`.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// One request; the body of a 2xx answer.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Vec<u8>, ClientError> {
        tokio::time::timeout(self.timeout, self.exchange(method, path, body))
            .await
            .map_err(|_| ClientError::Timeout(self.timeout))?
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Vec<u8>, ClientError> {
        let mut s = TcpStream::connect(&self.authority).await?;
        let host = self.authority.as_str();
        let mut req = format!(
            "{method} {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: calendarbot-display\r\nConnection: close\r\n"
        );
        let body = body.unwrap_or("");
        if method != "GET" {
            req.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).await?;
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0u8; 4096];
        loop {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            if buf.len() + n > MAX_BODY {
                return Err(ClientError::Bad("answer larger than 1 MiB".into()));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let split = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| ClientError::Bad("no end of headers".into()))?;
        let mut body = buf.split_off(split + 4);
        let head = std::str::from_utf8(&buf[..split])
            .map_err(|_| ClientError::Bad("headers not UTF-8".into()))?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ClientError::Bad("no status line".into()))?;
        if !(200..300).contains(&status) {
            return Err(ClientError::Status(status));
        }
        if let Some(len) = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        }) {
            body.truncate(len);
        }
        Ok(body)
    }

    /// GET `path` as JSON.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, ClientError> {
        let body = self.request("GET", path, None).await?;
        Ok(serde_json::from_slice(&body)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            Client::new("http://127.0.0.1:8080").unwrap().authority(),
            "127.0.0.1:8080"
        );
        assert_eq!(
            Client::new("http://localhost/x").unwrap().authority(),
            "localhost:80"
        );
        assert_eq!(
            Client::new("http://[::1]:9/").unwrap().authority(),
            "[::1]:9"
        );
        assert!(Client::new("https://x:1").is_err());
    }
}
