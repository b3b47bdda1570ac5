//! Fetching feeds: one pooled HTTP client, conditional GET, a size cap, retries, file:// URLs.
//!
//! Why it exists: feeds are slow, large, flaky and sometimes hostile, and a Pi Zero has 512 MB.
//! Everything that touches the network for calendar data goes through [`Fetcher::fetch`], which
//! guarantees: at most `max_body_bytes` are ever held (a declared length past the cap is refused
//! before reading, a streamed body is abandoned the moment it passes the cap); a 304 costs
//! nothing; network errors and 5xx are retried with jittered exponential backoff; 401/403 are
//! reported as auth errors at once; and error messages never contain the feed URL (calendar
//! URLs carry their secret in the path or query).
//!
//! The content hash ([`content_hash`]) ignores `DTSTAMP` lines: many servers stamp every export
//! with the current time, so an unchanged calendar would otherwise be re-parsed every refresh.

use crate::breaker::{FallbackSettings, Part};
use crate::config::http_url;
use crate::config::{FetchConfig, SourceAuth, SourceConfig};
use crate::pool::http::{BuildClient, HttpLease, HttpPool};

mod body;
use body::Body;
pub use body::{ContentHasher, FeedBody, SpoolFile, content_hash};
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("calendarbot/", env!("CARGO_PKG_VERSION"));
/// Longest wait between two retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A body is held in memory up to this size; past it (declared length or not), it goes to a
/// spool file, which the engine reads back by chunks. So a body never costs more memory than
/// this, however large the feed (issue #16: a 49 MB feed used to be held whole, then parsed).
pub const SPOOL_THRESHOLD: usize = 4 * 1024 * 1024;

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL cannot be fetched at all (scheme, syntax).
    #[error("bad feed URL: {0}")]
    BadUrl(String),
    /// Connecting, sending or receiving failed (retried).
    #[error("network error: {0}")]
    Network(String),
    /// The server (or the body) took longer than allowed (retried).
    #[error("timed out: {0}")]
    Timeout(String),
    /// 401 or 403: the credentials are wrong or missing (not retried).
    #[error("authentication failed: HTTP {0}")]
    Auth(u16),
    /// Any other non-success status; 5xx are retried.
    #[error("HTTP {status}{}", reason.as_deref().map(|r| format!(" {r}")).unwrap_or_default())]
    Status {
        /// The status code.
        status: u16,
        /// Its canonical reason phrase.
        reason: Option<String>,
    },
    /// The body is larger than the cap (not retried).
    #[error("feed is larger than the {limit}-byte limit")]
    TooLarge {
        /// The cap in bytes.
        limit: u64,
    },
    /// A local file could not be read.
    #[error("cannot read {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What the file system said.
        reason: String,
    },
}

impl FetchError {
    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Network(_) | FetchError::Timeout(_) => true,
            FetchError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    fn from_reqwest(e: reqwest::Error) -> FetchError {
        let timeout = e.is_timeout();
        // Strip the URL: it may hold the feed's secret.
        let e = e.without_url();
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let s_text = s.to_string();
            if !msg.contains(&s_text) {
                msg.push_str(": ");
                msg.push_str(&s_text);
            }
            source = s.source();
        }
        if timeout {
            FetchError::Timeout(msg)
        } else {
            FetchError::Network(msg)
        }
    }
}

/// Validators of the copy we already have, for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// ETag of the last 200 response.
    pub etag: Option<String>,
    /// Last-Modified of the last 200 response.
    pub last_modified: Option<String>,
}

/// A successful fetch.
#[derive(Debug, PartialEq, Eq)]
pub enum FetchOutcome {
    /// 304: what we have is current.
    NotModified,
    /// A new body.
    Body(Fetched),
}

/// A body and what to remember about it.
#[derive(Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The body (at most the cap): in memory, or in a spool file past [`SPOOL_THRESHOLD`].
    pub bytes: FeedBody,
    /// ETag header, if any.
    pub etag: Option<String>,
    /// Last-Modified header, if any.
    pub last_modified: Option<String>,
    /// [`content_hash`] of `bytes`.
    pub hash: String,
    /// The HTTP status of the response (`None` for a local file).
    pub status: Option<u16>,
}

/// Hands out the HTTP client through the connection manager ([`crate::pool::http`]): the one
/// shared, pooled client (keep-alive, two idle connections per host), or — when `http_pool` is
/// off or the shared client keeps failing — a fresh client per fetch (the plain path). Each
/// fetch holds a lease named after its source, so a hung fetch is logged by name.
#[derive(Debug, Clone)]
pub struct ClientProvider {
    pool: HttpPool,
}

impl ClientProvider {
    /// The pooled client from the fetch settings (the optimised path, with default breaker).
    pub fn new(cfg: &FetchConfig) -> Result<ClientProvider, FetchError> {
        ClientProvider::with_options(cfg, true, FallbackSettings::default())
    }

    /// Pooled (`pooled`) or fresh-per-fetch clients, with the given breaker settings.
    pub fn with_options(
        cfg: &FetchConfig,
        pooled: bool,
        fallback: FallbackSettings,
    ) -> Result<ClientProvider, FetchError> {
        let c = cfg.clone();
        let build: BuildClient = Arc::new(move || build_client(&c).map_err(|e| e.to_string()));
        let leak_threshold = Duration::from_secs(cfg.timeout_secs.saturating_add(5));
        let pool = HttpPool::new(
            build,
            pooled,
            fallback.breaker(Part::HttpPool),
            leak_threshold,
        );
        Ok(ClientProvider { pool })
    }

    /// The client for one fetch of `source`.
    pub fn lease(&self, source: &str) -> Result<HttpLease, FetchError> {
        self.pool
            .lease(&format!("fetch:{source}"))
            .map_err(FetchError::Network)
    }

    /// The connection manager's HTTP side (stats, health, leak check).
    pub fn pool(&self) -> &HttpPool {
        &self.pool
    }
}

fn build_client(cfg: &FetchConfig) -> Result<reqwest::Client, FetchError> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .gzip(true)
        .http1_only()
        .pool_max_idle_per_host(2)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_keepalive(Duration::from_secs(60))
        .connect_timeout(Duration::from_secs(cfg.connect_timeout_secs))
        .read_timeout(Duration::from_secs(cfg.read_timeout_secs))
        .timeout(Duration::from_secs(cfg.timeout_secs))
        .redirect(reqwest::redirect::Policy::limited(cfg.max_redirects))
        .build()
        .map_err(|e| FetchError::Network(format!("cannot build the HTTP client: {e}")))
}

/// Fetches feeds with the configured limits.
#[derive(Debug, Clone)]
pub struct Fetcher {
    clients: ClientProvider,
    cfg: FetchConfig,
    spool_dir: std::path::PathBuf,
}

impl Fetcher {
    /// A fetcher with its own pooled client.
    pub fn new(cfg: FetchConfig) -> Result<Fetcher, FetchError> {
        Ok(Fetcher {
            clients: ClientProvider::new(&cfg)?,
            cfg,
            spool_dir: std::env::temp_dir(),
        })
    }

    /// A fetcher whose clients come from `clients` (pooled or fresh, per `[optimization]`).
    pub fn with_clients(cfg: FetchConfig, clients: ClientProvider) -> Fetcher {
        Fetcher {
            clients,
            cfg,
            spool_dir: std::env::temp_dir(),
        }
    }

    /// The client provider (the connection manager's HTTP side).
    pub fn clients(&self) -> &ClientProvider {
        &self.clients
    }

    /// Spool large streamed bodies into `dir` (the data directory) instead of the temp dir.
    pub fn with_spool_dir(mut self, dir: &std::path::Path) -> Fetcher {
        self.spool_dir = dir.to_path_buf();
        self
    }

    /// The settings in force.
    pub fn config(&self) -> &FetchConfig {
        &self.cfg
    }

    /// Fetch one source, retrying network errors and 5xx with backoff. `validators` are sent
    /// as If-None-Match / If-Modified-Since; pass `None` when there is no stored copy to fall
    /// back on (a 304 would then leave nothing to show).
    pub async fn fetch(
        &self,
        source: &SourceConfig,
        validators: Option<&Validators>,
    ) -> Result<FetchOutcome, FetchError> {
        let url = reqwest::Url::parse(&http_url(&source.url))
            .map_err(|e| FetchError::BadUrl(format!("source {:?}: {e}", source.name)))?;
        if url.scheme() == "file" {
            let path = url.to_file_path().map_err(|()| {
                FetchError::BadUrl(format!("source {:?}: not a local path", source.name))
            })?;
            return read_file(&path, self.cfg.max_body_bytes).await;
        }
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::BadUrl(format!(
                "source {:?}: unsupported scheme {}",
                source.name,
                url.scheme()
            )));
        }
        let mut attempt = 0u32;
        loop {
            match self.fetch_once(&url, source, validators).await {
                Err(e) if e.is_retryable() && attempt < self.cfg.max_retries => {
                    let wait = backoff(self.cfg.retry_base_ms, attempt);
                    tracing::debug!(source = %source.name, attempt, error = %e, ?wait, "fetch failed; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn fetch_once(
        &self,
        url: &reqwest::Url,
        source: &SourceConfig,
        validators: Option<&Validators>,
    ) -> Result<FetchOutcome, FetchError> {
        use reqwest::header;
        let lease = self.clients.lease(&source.name)?;
        let mut req = lease.client().get(url.clone());
        req = req.header(header::ACCEPT, "text/calendar, */*;q=0.5");
        match &source.auth {
            Some(SourceAuth::Basic { username, password }) => {
                req = req.basic_auth(username, Some(password));
            }
            Some(SourceAuth::Bearer { token }) => req = req.bearer_auth(token),
            None => {}
        }
        for (k, v) in &source.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(v) = validators {
            if let Some(etag) = &v.etag {
                req = req.header(header::IF_NONE_MATCH, etag.as_str());
            }
            if let Some(lm) = &v.last_modified {
                req = req.header(header::IF_MODIFIED_SINCE, lm.as_str());
            }
        }
        let mut resp = match req.send().await {
            Ok(r) => {
                lease.succeeded();
                r
            }
            Err(e) => {
                lease.failed(&e);
                return Err(FetchError::from_reqwest(e));
            }
        };
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified);
        }
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(FetchError::Auth(status.as_u16()));
        }
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
                reason: status.canonical_reason().map(str::to_string),
            });
        }
        let cap = self.cfg.max_body_bytes;
        if resp.content_length().is_some_and(|n| n > cap) {
            return Err(FetchError::TooLarge { limit: cap });
        }
        let text_header = |name: header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = text_header(header::ETAG);
        let last_modified = text_header(header::LAST_MODIFIED);
        let declared = resp.content_length();
        let mut body = Body::new(declared, &self.spool_dir);
        let mut hasher = ContentHasher::default();
        while let Some(chunk) = resp.chunk().await.map_err(FetchError::from_reqwest)? {
            if body.len() + chunk.len() as u64 > cap {
                // Dropping `resp` closes the connection; nothing past the cap is read.
                return Err(FetchError::TooLarge { limit: cap });
            }
            hasher.update(&chunk);
            body.push(&chunk).await?;
        }
        let bytes = body.finish().await?;
        let hash = hasher.finish();
        Ok(FetchOutcome::Body(Fetched {
            bytes,
            etag,
            last_modified,
            hash,
            status: Some(status.as_u16()),
        }))
    }
}

/// Read a local feed with the same cap as HTTP. A file larger than [`SPOOL_THRESHOLD`] is
/// hashed by chunks and left where it is: the engine reads it from there.
async fn read_file(path: &std::path::Path, cap: u64) -> Result<FetchOutcome, FetchError> {
    let err = |e: std::io::Error| FetchError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut file = tokio::fs::File::open(path).await.map_err(err)?;
    let meta = file.metadata().await.map_err(err)?;
    if meta.len() > cap {
        return Err(FetchError::TooLarge { limit: cap });
    }
    if meta.len() > SPOOL_THRESHOLD as u64 {
        let mut hasher = ContentHasher::default();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = file.read(&mut buf).await.map_err(err)?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > cap {
                return Err(FetchError::TooLarge { limit: cap });
            }
            hasher.update(&buf[..n]);
        }
        return Ok(FetchOutcome::Body(Fetched {
            bytes: FeedBody::File(path.to_path_buf()),
            etag: None,
            last_modified: None,
            hash: hasher.finish(),
            status: None,
        }));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // Read one byte past the cap to notice a file that grew since `metadata`.
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(err)?;
    if bytes.len() as u64 > cap {
        return Err(FetchError::TooLarge { limit: cap });
    }
    let hash = content_hash(&bytes);
    Ok(FetchOutcome::Body(Fetched {
        bytes: FeedBody::Memory(bytes),
        etag: None,
        last_modified: None,
        hash,
        status: None,
    }))
}

/// Delay before retry number `attempt` (0-based): `base * 2^attempt`, times a random factor
/// in [0.5, 1.5), at most 30 s.
pub fn backoff(base_ms: u64, attempt: u32) -> Duration {
    let exp = base_ms.saturating_mul(1u64 << attempt.min(20));
    let jitter: f64 = rand::rng().random_range(0.5..1.5);
    let ms = (exp as f64 * jitter) as u64;
    Duration::from_millis(ms).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webcal_is_http() {
        assert_eq!(
            http_url("webcal://h.example/a.ics?x=1"),
            "http://h.example/a.ics?x=1"
        );
        assert_eq!(http_url("WEBCALS://h.example/a"), "https://h.example/a");
        assert_eq!(http_url("https://h.example/a"), "https://h.example/a");
        assert_eq!(http_url("file:///tmp/webcal://x"), "file:///tmp/webcal://x");
        assert_eq!(http_url("webcalx://h"), "webcalx://h");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..5 {
            let d = backoff(100, attempt);
            let exp = 100u64 << attempt;
            assert!(d >= Duration::from_millis(exp / 2), "{d:?}");
            assert!(d < Duration::from_millis(exp * 3 / 2 + 1), "{d:?}");
        }
        assert_eq!(backoff(10_000, 30), MAX_BACKOFF.min(backoff(10_000, 30)));
        assert!(backoff(10_000, 30) <= MAX_BACKOFF);
    }

    #[test]
    fn retryable_classes() {
        assert!(FetchError::Network("x".into()).is_retryable());
        assert!(FetchError::Timeout("x".into()).is_retryable());
        assert!(
            FetchError::Status {
                status: 503,
                reason: None
            }
            .is_retryable()
        );
        assert!(
            !FetchError::Status {
                status: 404,
                reason: None
            }
            .is_retryable()
        );
        assert!(!FetchError::Auth(401).is_retryable());
        assert!(!FetchError::TooLarge { limit: 1 }.is_retryable());
    }
}
