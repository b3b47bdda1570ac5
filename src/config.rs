//! Configuration: built-in defaults < TOML file < `CALENDARBOT_*` environment (SPEC §3).
//!
//! Why it exists: one place decides every tunable, validates it once at start (one clear line
//! naming key, value and what is allowed) and keeps secrets out of logs and `calendarbot config`.
//! The shape of [`Config`] is the contract the other modules read; [`load`] builds it from the
//! layers and [`Config::validate`] refuses what cannot work.
//!
//! # Environment
//! `CALENDARBOT_<KEY>` sets a top-level key, `CALENDARBOT_<TABLE>__<KEY>` a nested one
//! (`CALENDARBOT_OPTIMIZATION__ENABLED=false`). Only names that map onto a key are read: other
//! `CALENDARBOT_*` variables (`CALENDARBOT_CONFIG`, `CALENDARBOT_FAULT`, typos) never break
//! loading; unknown ones are reported as warnings. Values of text keys are taken verbatim (a
//! token `12345` stays text); other values are parsed (numbers, booleans).

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
    /// Longest wait for the next piece of a response body, seconds.
    pub read_timeout_secs: u64,
    /// First retry delay in milliseconds; doubled per retry, with jitter, capped at 30 s.
    pub retry_base_ms: u64,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            max_body_bytes: 50 * 1024 * 1024,
            connect_timeout_secs: 10,
            timeout_secs: 30,
            max_retries: 3,
            max_redirects: 5,
            read_timeout_secs: 20,
            retry_base_ms: 1_000,
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
    /// `calendarbot display`: the framebuffer kiosk (src/display/config.rs).
    pub display: crate::display::config::DisplayConfig,
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
            display: Default::default(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use std::collections::BTreeSet;
use std::path::Path;

/// Prefix of every environment variable read here.
pub const ENV_PREFIX: &str = "CALENDARBOT_";
/// Environment variable naming the TOML file (when `--config` is not given).
pub const CONFIG_ENV: &str = "CALENDARBOT_CONFIG";
/// The TOML file read when neither `--config` nor `CALENDARBOT_CONFIG` names one, if it exists.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/calendarbot/config.toml";
/// Name of the source built from `ics_url`.
pub const DEFAULT_SOURCE_NAME: &str = "default";
/// Smallest refresh interval in seconds (SPEC §3). Test builds (feature `fault-injection`)
/// accept 1 s so failure scenarios run in seconds, not minutes.
pub const MIN_REFRESH_INTERVAL: u64 = if cfg!(feature = "fault-injection") {
    1
} else {
    10
};

/// `CALENDARBOT_*` variables that are read elsewhere, not configuration keys.
const NOT_CONFIG_ENV: &[&str] = &["config", "fault"];
/// Keys whose values are text: taken verbatim from the environment, never parsed.
const TEXT_KEYS: &[&str] = &[
    "ics_url",
    "web_host",
    "alexa_bearer_token",
    "default_timezone",
    "log_level",
    "test_time",
    "data_dir",
];
/// Keys whose values are secrets: never printed.
const SECRET_KEYS: &[&str] = &["alexa_bearer_token", "password", "token"];
/// What is printed instead of a secret.
pub const REDACTED: &str = "<redacted>";

/// Why the configuration was refused. Its `Display` is the one line printed at start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A key has a value that cannot work.
    #[error("invalid configuration: {key} = {value}: {allowed}")]
    Invalid {
        /// Dotted key (`web_port`, `sources.0.url`).
        key: String,
        /// The value as given, quoted; secrets redacted.
        value: String,
        /// What is allowed.
        allowed: String,
    },
    /// The TOML file is missing or unreadable.
    #[error("invalid configuration: file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

fn invalid(
    key: impl Into<String>,
    value: impl Into<String>,
    allowed: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.into(),
        allowed: allowed.into(),
    }
}

/// The result of [`load`]: the configuration and how it was found.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The effective configuration (already validated).
    pub config: Config,
    /// The TOML file that was read, if any.
    pub file: Option<PathBuf>,
    /// Things worth a warning (unknown `CALENDARBOT_*` variables); log them once logging runs.
    pub warnings: Vec<String>,
}

/// Which TOML file to read: `--config`, else `CALENDARBOT_CONFIG`, else the default path if
/// it exists. A file that was named explicitly must exist.
fn config_file(explicit: Option<&Path>) -> Result<Option<PathBuf>, ConfigError> {
    let named = explicit.map(Path::to_path_buf).or_else(|| {
        std::env::var_os(CONFIG_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    match named {
        Some(p) => match std::fs::metadata(&p) {
            Ok(m) if m.is_file() => Ok(Some(p)),
            Ok(_) => Err(ConfigError::File {
                path: p.display().to_string(),
                reason: "not a regular file".into(),
            }),
            Err(e) => Err(ConfigError::File {
                path: p.display().to_string(),
                reason: e.to_string(),
            }),
        },
        None => {
            let p = PathBuf::from(DEFAULT_CONFIG_PATH);
            Ok(p.is_file().then_some(p))
        }
    }
}

/// Every key an environment variable may set, dotted (`optimization.enabled`).
fn known_env_keys() -> BTreeSet<String> {
    fn walk(prefix: &str, dict: &Dict, out: &mut BTreeSet<String>) {
        for (k, v) in dict {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Dict(_, d) => walk(&key, d, out),
                // Lists of tables ([[sources]]) come from TOML only.
                Value::Array(..) => {}
                _ => {
                    out.insert(key);
                }
            }
        }
    }
    let mut out: BTreeSet<String> = TEXT_KEYS.iter().map(|s| s.to_string()).collect();
    if let Ok(data) = Serialized::defaults(Config::default()).data()
        && let Some(dict) = data.get(&Profile::Default)
    {
        walk("", dict, &mut out);
    }
    out
}

fn insert_path(dict: &mut Dict, path: &[&str], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert((*last).to_string(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry((*first).to_string())
                .or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, d) = entry {
                insert_path(d, rest, value);
            }
        }
    }
}

/// The `CALENDARBOT_*` layer: figment's `Env::prefixed(..).split("__")` naming, restricted to
/// known keys, with text keys taken verbatim.
struct EnvLayer {
    known: BTreeSet<String>,
}

impl EnvLayer {
    fn env() -> figment::providers::Env {
        figment::providers::Env::prefixed(ENV_PREFIX).split("__")
    }

    /// Unknown `CALENDARBOT_*` variables (neither keys nor read elsewhere).
    fn unknown(&self) -> Vec<String> {
        Self::env()
            .iter()
            .map(|(k, _)| k.as_str().to_string())
            .filter(|k| !self.known.contains(k) && !NOT_CONFIG_ENV.contains(&k.as_str()))
            .map(|k| format!("{ENV_PREFIX}{}", k.to_ascii_uppercase().replace('.', "__")))
            .collect()
    }
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named("CALENDARBOT_* environment variables")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (k, v) in Self::env().iter() {
            let key = k.as_str();
            if !self.known.contains(key) {
                continue;
            }
            let value = if TEXT_KEYS.contains(&key) {
                Value::from(v)
            } else {
                v.parse::<Value>().unwrap_or_else(|never| match never {})
            };
            let path: Vec<&str> = key.split('.').collect();
            insert_path(&mut dict, &path, value);
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// The layered figment: defaults < TOML file < environment.
pub fn figment(file: Option<&Path>) -> Figment {
    let mut f = Figment::from(Serialized::defaults(Config::default()));
    if let Some(p) = file {
        f = f.merge(Toml::file_exact(p));
    }
    f.merge(EnvLayer {
        known: known_env_keys(),
    })
}

fn is_secret_key(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    SECRET_KEYS.contains(&last)
}

/// What each key allows, for error messages.
fn allowed_for(key: &str, expected: &str) -> String {
    let last = key.rsplit('.').next().unwrap_or(key);
    match key {
        "web_port" => "expected an integer 1-65535".into(),
        "refresh_interval" => {
            format!("expected a whole number of seconds >= {MIN_REFRESH_INTERVAL}")
        }
        _ if key.starts_with("optimization.")
            && !last.ends_with("_ms")
            && !last.ends_with("_secs")
            && !last.ends_with("_bytes")
            && last != "fallback_threshold" =>
        {
            "expected true or false".into()
        }
        _ if expected.contains("int") || expected.starts_with('u') || expected.starts_with('i') => {
            "expected a non-negative integer".into()
        }
        _ => format!("expected {expected}"),
    }
}

fn actual_text(a: &figment::error::Actual) -> String {
    use figment::error::Actual;
    match a {
        Actual::Str(s) => format!("{s:?}"),
        Actual::Unsigned(n) => n.to_string(),
        Actual::Signed(n) => n.to_string(),
        Actual::Float(n) => n.to_string(),
        Actual::Bool(b) => b.to_string(),
        Actual::Char(c) => format!("{:?}", c.to_string()),
        Actual::Seq => "a list".into(),
        Actual::Map => "a table".into(),
        other => other.to_string(),
    }
}

/// Turn figment's first error into one clear line.
fn from_figment(err: figment::Error, file: Option<&Path>) -> ConfigError {
    use figment::error::Kind;
    let Some(e) = err.into_iter().next() else {
        return invalid("configuration", "?", "could not be read");
    };
    let key = e.path.join(".");
    let shown = |v: String| {
        if is_secret_key(&key) {
            REDACTED.to_string()
        } else {
            v
        }
    };
    match &e.kind {
        Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => invalid(
            &key,
            shown(actual_text(actual)),
            allowed_for(&key, expected),
        ),
        Kind::MissingField(name) => {
            let full = if key.is_empty() {
                name.to_string()
            } else {
                format!("{key}.{name}")
            };
            invalid(full, "(missing)", "this key is required")
        }
        Kind::UnknownVariant(v, expected) => invalid(
            &key,
            shown(format!("{v:?}")),
            format!("expected one of: {}", expected.join(", ")),
        ),
        Kind::InvalidLength(n, expected) => {
            invalid(&key, format!("{n} items"), format!("expected {expected}"))
        }
        Kind::Message(m) => match file {
            // Parse errors of the TOML file come as messages.
            Some(p) if e.path.is_empty() => ConfigError::File {
                path: p.display().to_string(),
                reason: m.lines().next().unwrap_or(m).to_string(),
            },
            _ => invalid(
                if key.is_empty() {
                    "configuration"
                } else {
                    &key
                },
                "?",
                m.clone(),
            ),
        },
        other => invalid(
            if key.is_empty() {
                "configuration"
            } else {
                &key
            },
            "?",
            other.to_string(),
        ),
    }
}

/// Load the configuration: defaults < TOML (`explicit`, else `CALENDARBOT_CONFIG`, else
/// [`DEFAULT_CONFIG_PATH`] if it exists) < `CALENDARBOT_*`; then validate it.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, ConfigError> {
    let file = config_file(explicit)?;
    let env = EnvLayer {
        known: known_env_keys(),
    };
    let warnings = env
        .unknown()
        .into_iter()
        .map(|v| format!("ignoring unknown environment variable {v}"))
        .collect();
    let config: Config = figment(file.as_deref())
        .extract()
        .map_err(|e| from_figment(e, file.as_deref()))?;
    config.validate()?;
    Ok(Loaded {
        config,
        file,
        warnings,
    })
}

// ---------------------------------------------------------------------------------------------
// Validation and derived values
// ---------------------------------------------------------------------------------------------

/// A URL as it may be shown: scheme, host and port; path, query and user info hidden (calendar
/// URLs carry their secret in any of them). `file://` URLs are shown whole.
pub fn redact_url(raw: &str) -> String {
    match reqwest::Url::parse(raw) {
        Ok(u) if u.scheme() == "file" => u.to_string(),
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let hidden = (u.path() != "/" && !u.path().is_empty())
                || u.query().is_some()
                || !u.username().is_empty()
                || u.password().is_some();
            let tail = if hidden { "/<redacted>" } else { "/" };
            format!("{}://{host}{port}{tail}", u.scheme())
        }
        Err(_) => REDACTED.to_string(),
    }
}

/// Whether a request header's value is a secret.
pub fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "cookie"
        || ["auth", "token", "key", "secret", "pass", "session"]
            .iter()
            .any(|w| n.contains(w))
}

fn valid_source_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn check_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| invalid(key, format!("{:?}", redact_url(url)), why.to_string());
    let u = reqwest::Url::parse(url)
        .map_err(|_| bad("expected an http://, https:// or file:// URL"))?;
    match u.scheme() {
        "http" | "https" if u.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        "http" | "https" => Err(bad("expected a host name in the URL")),
        "file" if u.to_file_path().is_ok() => Ok(()),
        "file" => Err(bad("expected an absolute file:///path")),
        _ => Err(bad("expected an http://, https:// or file:// URL")),
    }
}

impl Config {
    /// Refuse values that cannot work; the error names key, value and what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.web_port == 0 {
            return Err(invalid("web_port", "0", allowed_for("web_port", "")));
        }
        let host = self.web_host.trim();
        let host_ok = host.parse::<std::net::IpAddr>().is_ok()
            || (!host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.')));
        if !host_ok {
            return Err(invalid(
                "web_host",
                format!("{:?}", self.web_host),
                "expected an IP address or a host name",
            ));
        }
        if self.refresh_interval < MIN_REFRESH_INTERVAL || self.refresh_interval > 86_400 {
            return Err(invalid(
                "refresh_interval",
                self.refresh_interval.to_string(),
                format!("expected a whole number of seconds {MIN_REFRESH_INTERVAL}-86400"),
            ));
        }
        if self.default_timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(invalid(
                "default_timezone",
                format!("{:?}", self.default_timezone),
                "expected an IANA time zone name such as UTC or Europe/Berlin",
            ));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log_level).is_err() {
            return Err(invalid(
                "log_level",
                format!("{:?}", self.log_level),
                "expected a tracing filter such as info, debug or calendarbot=debug,warn",
            ));
        }
        if let Some(t) = &self.test_time
            && crate::clock::Clock::parse_test_time(t).is_none()
        {
            return Err(invalid(
                "test_time",
                format!("{t:?}"),
                "expected an RFC 3339 date-time such as 2025-11-05T08:00:00Z (naive = UTC)",
            ));
        }
        if let Some(t) = &self.alexa_bearer_token
            && t.trim().is_empty()
        {
            return Err(invalid(
                "alexa_bearer_token",
                "\"\"",
                "expected a non-empty token (leave it unset to refuse the Alexa routes)",
            ));
        }
        if let Some(d) = &self.data_dir
            && d.as_os_str().is_empty()
        {
            return Err(invalid("data_dir", "\"\"", "expected a directory path"));
        }
        self.validate_sources()?;
        self.validate_limits()?;
        self.display.validate()
    }

    fn validate_sources(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.ics_url {
            check_url("ics_url", url)?;
        }
        let mut names = BTreeSet::new();
        if self.ics_url.is_some() {
            names.insert(DEFAULT_SOURCE_NAME.to_string());
        }
        for (i, s) in self.sources.iter().enumerate() {
            let key = |k: &str| format!("sources.{i}.{k}");
            if !valid_source_name(&s.name) {
                return Err(invalid(
                    key("name"),
                    format!("{:?}", s.name),
                    "expected 1-64 characters of A-Z a-z 0-9 - _ .",
                ));
            }
            if !names.insert(s.name.clone()) {
                let why = if s.name == DEFAULT_SOURCE_NAME && self.ics_url.is_some() {
                    "source names must be unique (\"default\" is taken by ics_url)"
                } else {
                    "source names must be unique"
                };
                return Err(invalid(key("name"), format!("{:?}", s.name), why));
            }
            check_url(&key("url"), &s.url)?;
            match &s.auth {
                Some(SourceAuth::Basic { username, .. }) if username.is_empty() => {
                    return Err(invalid(
                        key("auth.username"),
                        "\"\"",
                        "expected a user name for basic auth",
                    ));
                }
                Some(SourceAuth::Bearer { token }) if token.is_empty() => {
                    return Err(invalid(key("auth.token"), "\"\"", "expected a token"));
                }
                _ => {}
            }
            for (name, value) in &s.headers {
                let hk = key(&format!("headers.{name}"));
                if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err(invalid(
                        hk,
                        format!("{name:?}"),
                        "expected a valid HTTP header name",
                    ));
                }
                if reqwest::header::HeaderValue::from_str(value).is_err() {
                    let shown = if is_secret_header(name) {
                        REDACTED.to_string()
                    } else {
                        format!("{value:?}")
                    };
                    return Err(invalid(hk, shown, "expected a visible-ASCII header value"));
                }
            }
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        let range = |key: &str, v: u64, lo: u64, hi: u64| {
            if v < lo || v > hi {
                Err(invalid(
                    key,
                    v.to_string(),
                    format!("expected an integer {lo}-{hi}"),
                ))
            } else {
                Ok(())
            }
        };
        let f = &self.fetch;
        range("fetch.max_body_bytes", f.max_body_bytes, 1024, 1 << 30)?;
        range("fetch.connect_timeout_secs", f.connect_timeout_secs, 1, 300)?;
        range("fetch.timeout_secs", f.timeout_secs, 1, 3600)?;
        range("fetch.read_timeout_secs", f.read_timeout_secs, 1, 3600)?;
        range("fetch.max_retries", f.max_retries.into(), 0, 10)?;
        range("fetch.max_redirects", f.max_redirects as u64, 0, 20)?;
        range("fetch.retry_base_ms", f.retry_base_ms, 1, 60_000)?;
        range("window.past_days", self.window.past_days.into(), 0, 366)?;
        range(
            "window.future_days",
            self.window.future_days.into(),
            1,
            3660,
        )?;
        let s = &self.server;
        range(
            "server.max_connections",
            s.max_connections as u64,
            1,
            10_000,
        )?;
        range(
            "server.header_read_timeout_ms",
            s.header_read_timeout_ms,
            100,
            600_000,
        )?;
        range(
            "server.max_body_bytes",
            s.max_body_bytes as u64,
            256,
            16 << 20,
        )?;
        range(
            "server.max_header_bytes",
            s.max_header_bytes as u64,
            1024,
            1 << 20,
        )?;
        range("server.shutdown_grace_secs", s.shutdown_grace_secs, 0, 300)?;
        Ok(())
    }

    /// The feeds to refresh: `ics_url` (named [`DEFAULT_SOURCE_NAME`]) first, then
    /// `[[sources]]`. Empty means the demo calendar is served.
    pub fn effective_sources(&self) -> Vec<SourceConfig> {
        let mut out = Vec::with_capacity(self.sources.len() + 1);
        if let Some(url) = &self.ics_url {
            out.push(SourceConfig {
                name: DEFAULT_SOURCE_NAME.into(),
                url: url.clone(),
                auth: None,
                headers: Default::default(),
            });
        }
        out.extend(self.sources.iter().cloned());
        out
    }

    /// The data directory: `data_dir` (CALENDARBOT_DATA_DIR), else systemd's
    /// `$STATE_DIRECTORY` (its first entry), else `./data`.
    pub fn effective_data_dir(&self) -> PathBuf {
        if let Some(d) = &self.data_dir {
            return d.clone();
        }
        if let Some(sd) = std::env::var_os("STATE_DIRECTORY")
            && let Some(first) = sd.to_string_lossy().split(':').next()
            && !first.is_empty()
        {
            return PathBuf::from(first);
        }
        PathBuf::from("./data")
    }

    /// The clock: fixed by `test_time`, else the system clock.
    pub fn clock(&self) -> crate::clock::Clock {
        self.test_time
            .as_deref()
            .and_then(crate::clock::Clock::parse_test_time)
            .map_or(crate::clock::Clock::System, crate::clock::Clock::Fixed)
    }

    /// The default zone (UTC if `default_timezone` does not parse; validation refuses that).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.default_timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// A copy that is safe to print: tokens, passwords, secret headers and URL paths hidden.
    pub fn redacted(&self) -> Config {
        let mut c = self.clone();
        if c.alexa_bearer_token.is_some() {
            c.alexa_bearer_token = Some(REDACTED.into());
        }
        if let Some(u) = &c.ics_url {
            c.ics_url = Some(redact_url(u));
        }
        for s in &mut c.sources {
            s.url = redact_url(&s.url);
            match &mut s.auth {
                Some(SourceAuth::Basic { password, .. }) => *password = REDACTED.into(),
                Some(SourceAuth::Bearer { token }) => *token = REDACTED.into(),
                None => {}
            }
            for (name, value) in s.headers.iter_mut() {
                if is_secret_header(name) {
                    *value = REDACTED.into();
                }
            }
        }
        c
    }

    /// The effective configuration as TOML, secrets redacted (`calendarbot config`).
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(&self.redacted())
            .unwrap_or_else(|e| format!("# cannot print the configuration: {e}\n"))
    }
}

/// `calendarbot config`: the effective configuration, secrets redacted, with where it came
/// from as comments.
pub fn describe(loaded: &Loaded) -> String {
    let c = &loaded.config;
    let mut out = String::new();
    out.push_str("# calendarbot effective configuration (secrets redacted)\n");
    match &loaded.file {
        Some(p) => out.push_str(&format!("# config file: {}\n", p.display())),
        None => out.push_str("# config file: none\n"),
    }
    out.push_str(&format!(
        "# data directory: {}\n",
        c.effective_data_dir().display()
    ));
    let sources = c.effective_sources();
    if sources.is_empty() {
        out.push_str("# sources: none configured, serving the built-in demo calendar\n");
    } else {
        let names: Vec<_> = sources.iter().map(|s| s.name.as_str()).collect();
        out.push_str(&format!("# sources: {}\n", names.join(", ")));
    }
    for w in &loaded.warnings {
        out.push_str(&format!("# warning: {w}\n"));
    }
    out.push('\n');
    out.push_str(&c.to_redacted_toml());
    out
}

#[cfg(test)]
// figment::Jail's closures return figment::Error, which is large by figment's design.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    fn load_in(jail: &Jail, explicit: Option<&str>) -> Result<Loaded, ConfigError> {
        load(explicit.map(|p| jail.directory().join(p)).as_deref())
    }

    #[test]
    fn defaults_without_file_or_env() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let l = load_in(jail, None).unwrap();
            assert_eq!(l.config, Config::default());
            assert!(l.config.effective_sources().is_empty());
            Ok(())
        });
    }

    #[test]
    fn layering_env_beats_file_beats_defaults() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "c.toml",
                r#"
                web_port = 9000
                refresh_interval = 60
                default_timezone = "Europe/Berlin"
                [optimization]
                enabled = true
                cache_ttl_secs = 5
                [[sources]]
                name = "work"
                url = "https://example.com/cal.ics"
                auth = { type = "bearer", token = "s3cret" }
                headers = { "X-Api-Key" = "k", "Accept-Language" = "en" }
                "#,
            )?;
            jail.set_env("CALENDARBOT_CONFIG", "c.toml");
            jail.set_env("CALENDARBOT_WEB_PORT", "9100");
            jail.set_env("CALENDARBOT_OPTIMIZATION__ENABLED", "false");
            jail.set_env("CALENDARBOT_ALEXA_BEARER_TOKEN", "12345");
            jail.set_env("CALENDARBOT_FAULT", "whatever");
            jail.set_env("CALENDARBOT_NOT_A_KEY", "1");
            let l = load_in(jail, None).unwrap();
            let c = &l.config;
            assert_eq!(c.web_port, 9100, "env wins");
            assert_eq!(c.refresh_interval, 60, "file wins over default");
            assert_eq!(c.web_host, "127.0.0.1", "default");
            assert!(!c.optimization.enabled);
            assert_eq!(c.optimization.cache_ttl_secs, 5);
            assert_eq!(
                c.alexa_bearer_token.as_deref(),
                Some("12345"),
                "text stays text"
            );
            assert_eq!(c.sources[0].name, "work");
            assert_eq!(
                l.warnings,
                vec!["ignoring unknown environment variable CALENDARBOT_NOT_A_KEY"]
            );
            assert_eq!(l.file.as_deref(), Some(Path::new("c.toml")));
            Ok(())
        });
    }

    #[test]
    fn explicit_file_beats_env_file_and_must_exist() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("a.toml", "web_port = 1111")?;
            jail.create_file("b.toml", "web_port = 2222")?;
            jail.set_env("CALENDARBOT_CONFIG", "a.toml");
            assert_eq!(load_in(jail, Some("b.toml")).unwrap().config.web_port, 2222);
            let err = load_in(jail, Some("missing.toml")).unwrap_err();
            assert!(matches!(err, ConfigError::File { .. }), "{err}");
            jail.set_env("CALENDARBOT_CONFIG", "gone.toml");
            let err = load_in(jail, None).unwrap_err().to_string();
            assert!(
                err.starts_with("invalid configuration: file gone.toml"),
                "{err}"
            );
            Ok(())
        });
    }

    #[test]
    fn python_names() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("CALENDARBOT_ICS_URL", "file:///tmp/x.ics");
            jail.set_env("CALENDARBOT_REFRESH_INTERVAL", "120");
            jail.set_env("CALENDARBOT_WEB_HOST", "0.0.0.0");
            jail.set_env("CALENDARBOT_DEFAULT_TIMEZONE", "America/Los_Angeles");
            jail.set_env("CALENDARBOT_LOG_LEVEL", "debug");
            jail.set_env("CALENDARBOT_TEST_TIME", "2025-11-05T08:00:00");
            jail.set_env("CALENDARBOT_DATA_DIR", "/var/lib/x");
            let c = load_in(jail, None).unwrap().config;
            assert_eq!(c.ics_url.as_deref(), Some("file:///tmp/x.ics"));
            assert_eq!(c.effective_sources()[0].name, DEFAULT_SOURCE_NAME);
            assert_eq!(c.refresh_interval, 120);
            assert_eq!(c.web_host, "0.0.0.0");
            assert_eq!(c.tz(), chrono_tz::America::Los_Angeles);
            assert_eq!(c.log_level, "debug");
            assert!(matches!(c.clock(), crate::clock::Clock::Fixed(_)));
            assert_eq!(c.effective_data_dir(), PathBuf::from("/var/lib/x"));
            Ok(())
        });
    }

    #[test]
    fn data_dir_fallbacks() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            assert_eq!(
                Config::default().effective_data_dir(),
                PathBuf::from("./data")
            );
            jail.set_env("STATE_DIRECTORY", "/var/lib/calendarbot:/other");
            assert_eq!(
                Config::default().effective_data_dir(),
                PathBuf::from("/var/lib/calendarbot")
            );
            Ok(())
        });
    }

    fn err_with(env: &[(&str, &str)]) -> String {
        let mut out = String::new();
        Jail::expect_with(|jail| {
            jail.clear_env();
            for (k, v) in env {
                jail.set_env(k, v);
            }
            out = load_in(jail, None).unwrap_err().to_string();
            Ok(())
        });
        out
    }

    #[test]
    fn validation_messages() {
        assert_eq!(
            err_with(&[("CALENDARBOT_WEB_PORT", "abc")]),
            "invalid configuration: web_port = \"abc\": expected an integer 1-65535"
        );
        assert_eq!(
            err_with(&[("CALENDARBOT_WEB_PORT", "70000")]),
            "invalid configuration: web_port = 70000: expected an integer 1-65535"
        );
        assert_eq!(
            err_with(&[("CALENDARBOT_WEB_PORT", "0")]),
            "invalid configuration: web_port = 0: expected an integer 1-65535"
        );
        assert!(
            err_with(&[("CALENDARBOT_DEFAULT_TIMEZONE", "Mars/Base")]).starts_with(
                "invalid configuration: default_timezone = \"Mars/Base\": expected an IANA"
            )
        );
        assert!(
            err_with(&[("CALENDARBOT_REFRESH_INTERVAL", "0")])
                .starts_with("invalid configuration: refresh_interval = 0: expected")
        );
        assert!(
            err_with(&[("CALENDARBOT_ICS_URL", "ftp://example.com/x.ics")])
                .contains("ics_url = \"ftp://example.com/<redacted>\": expected an http://")
        );
        assert!(
            err_with(&[("CALENDARBOT_TEST_TIME", "yesterday")])
                .starts_with("invalid configuration: test_time = \"yesterday\"")
        );
        assert_eq!(
            err_with(&[("CALENDARBOT_OPTIMIZATION__ENABLED", "maybe")]),
            "invalid configuration: optimization.enabled = \"maybe\": expected true or false"
        );
    }

    #[test]
    fn duplicate_source_names_refused() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "c.toml",
                r#"
                ics_url = "https://example.com/a.ics"
                [[sources]]
                name = "default"
                url = "https://example.com/b.ics"
                "#,
            )?;
            let err = load_in(jail, Some("c.toml")).unwrap_err().to_string();
            assert!(err.contains("sources.0.name = \"default\""), "{err}");
            assert!(err.contains("unique"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn redaction() {
        let c = Config {
            ics_url: Some(
                "https://user:pw@calendar.example.com/private-abc/basic.ics?tok=1".into(),
            ),
            alexa_bearer_token: Some("alexa-secret".into()),
            sources: vec![SourceConfig {
                name: "w".into(),
                url: "https://example.com/x.ics".into(),
                auth: Some(SourceAuth::Basic {
                    username: "me".into(),
                    password: "hunter2".into(),
                }),
                headers: [
                    ("X-Api-Key".to_string(), "key-secret".to_string()),
                    ("Accept".to_string(), "text/calendar".to_string()),
                ]
                .into_iter()
                .collect(),
            }],
            ..Config::default()
        };
        let text = c.to_redacted_toml();
        for secret in [
            "pw",
            "private-abc",
            "tok=1",
            "alexa-secret",
            "hunter2",
            "key-secret",
        ] {
            assert!(!text.contains(secret), "{secret} leaked:\n{text}");
        }
        assert!(text.contains("text/calendar"));
        assert!(text.contains("https://calendar.example.com/<redacted>"));
        // The printed form parses back as a configuration.
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back.sources[0].name, "w");
    }
}
