//! Configuration: built-in defaults < TOML file < `CALENDARBOT_*` environment (SPEC §3).
//!
//! Why it exists: one place decides every tunable, validates it once at start (one clear line
//! naming key, value and what is allowed) and keeps secrets out of logs and `calendarbot config`.
//! The loading and validation code is filled by the kiosk-server work (issue 3); the shape of
//! [`Config`] is the contract the other modules read.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Authentication for one feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SourceAuth {
    /// HTTP basic authentication.
    Basic {
        /// User name.
        username: String,
        /// Password (secret).
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// Token (secret).
        token: String,
    },
}

/// One calendar feed (`[[sources]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceConfig {
    /// Short name, unique, used in health and logs.
    pub name: String,
    /// http, https or file:// URL.
    pub url: String,
    /// Optional authentication.
    #[serde(default)]
    pub auth: Option<SourceAuth>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
}

/// Fetch limits and timeouts (SPEC §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FetchConfig {
    /// Response body cap in bytes (streamed, never buffered past it).
    pub max_body_bytes: u64,
    /// Connect timeout, seconds.
    pub connect_timeout_secs: u64,
    /// Whole-request timeout, seconds.
    pub timeout_secs: u64,
    /// Retries after the first attempt on network errors and 5xx.
    pub max_retries: u32,
    /// Redirects followed at most.
    pub max_redirects: usize,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            max_body_bytes: 50 * 1024 * 1024,
            connect_timeout_secs: 10,
            timeout_secs: 30,
            max_retries: 3,
            max_redirects: 5,
        }
    }
}

/// The expansion window kept in the store (SPEC §5: 7 days back, 365 ahead).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WindowConfig {
    /// Days before now.
    pub past_days: u32,
    /// Days after now.
    pub future_days: u32,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            past_days: 7,
            future_days: 365,
        }
    }
}

/// HTTP server bounds (SPEC §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Connections served at once; more wait in the kernel backlog.
    pub max_connections: usize,
    /// Time allowed to send the request head, milliseconds.
    pub header_read_timeout_ms: u64,
    /// Request body cap in bytes.
    pub max_body_bytes: usize,
    /// Request head cap in bytes.
    pub max_header_bytes: usize,
    /// Grace period for in-flight requests on shutdown, seconds.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: 64,
            header_read_timeout_ms: 5_000,
            max_body_bytes: 16 * 1024,
            max_header_bytes: 16 * 1024,
            shutdown_grace_secs: 5,
        }
    }
}

/// The optimisation layer's flags and tunables (SPEC §7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptimizationConfig {
    /// The whole layer; off means every part runs its plain path.
    pub enabled: bool,
    /// Pooled HTTP client (off: a fresh client per fetch).
    pub http_pool: bool,
    /// Pooled SQLite (off: a fresh connection per request).
    pub db_pool: bool,
    /// TTL response cache in front of the read endpoints.
    pub response_cache: bool,
    /// Coalescing of identical requests and batching of writes.
    pub request_batching: bool,
    /// Deadline of an optimised part before the plain path takes over, milliseconds.
    pub deadline_ms: u64,
    /// Failures within `fallback_window_secs` that switch a part off.
    pub fallback_threshold: u32,
    /// Window for counting failures, seconds.
    pub fallback_window_secs: u64,
    /// How long a switched-off part (or the whole service after an unclean exit) stays on the
    /// plain path, seconds.
    pub recovery_secs: u64,
    /// Response cache time to live, seconds.
    pub cache_ttl_secs: u64,
    /// Response cache memory cap, bytes.
    pub cache_max_bytes: u64,
    /// Write batching window, milliseconds.
    pub batch_window_ms: u64,
}

impl Default for OptimizationConfig {
    fn default() -> Self {
        OptimizationConfig {
            enabled: true,
            http_pool: true,
            db_pool: true,
            response_cache: true,
            request_batching: true,
            deadline_ms: 250,
            fallback_threshold: 3,
            fallback_window_secs: 60,
            recovery_secs: 300,
            cache_ttl_secs: 30,
            cache_max_bytes: 2 * 1024 * 1024,
            batch_window_ms: 50,
        }
    }
}

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// One feed URL (CALENDARBOT_ICS_URL); becomes a source named "default".
    pub ics_url: Option<String>,
    /// Feeds listed in TOML.
    pub sources: Vec<SourceConfig>,
    /// Seconds between refreshes.
    pub refresh_interval: u64,
    /// Listen address.
    pub web_host: String,
    /// Listen port.
    pub web_port: u16,
    /// Bearer token for /api/alexa/*; unset = those routes answer 401.
    pub alexa_bearer_token: Option<String>,
    /// IANA zone for floating times and "today".
    pub default_timezone: String,
    /// tracing filter.
    pub log_level: String,
    /// Fixed "now" (RFC 3339; naive = UTC).
    pub test_time: Option<String>,
    /// SQLite and state; default $STATE_DIRECTORY, else ./data.
    pub data_dir: Option<PathBuf>,
    /// Fetch limits.
    pub fetch: FetchConfig,
    /// Expansion window.
    pub window: WindowConfig,
    /// HTTP server bounds.
    pub server: ServerConfig,
    /// Optimisation layer.
    pub optimization: OptimizationConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ics_url: None,
            sources: Vec::new(),
            refresh_interval: 300,
            web_host: "127.0.0.1".into(),
            web_port: 8080,
            alexa_bearer_token: None,
            default_timezone: "UTC".into(),
            log_level: "info".into(),
            test_time: None,
            data_dir: None,
            fetch: FetchConfig::default(),
            window: WindowConfig::default(),
            server: ServerConfig::default(),
            optimization: OptimizationConfig::default(),
        }
    }
}
