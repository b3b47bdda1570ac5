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

pub mod display;
mod env;
mod error;
mod lenient;
mod optimization;
mod pressure;
mod ranges;
mod redact;
mod rollout;
mod update;
mod validate;

pub use error::ConfigError;
pub use optimization::{Flags, OptimizationConfig};
pub use pressure::PressureConfig;
pub use ranges::RANGES;
pub use redact::{REDACTED, describe, redact_url};
pub use rollout::{Device, ROLLOUT_PARTS, Rollout, STAGES};
pub use update::UpdateConfig;

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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SourceConfig {
    /// Short name, unique, used in health and logs.
    pub name: String,
    /// http, https, webcal, webcals or file:// URL.
    pub url: String,
    /// Optional authentication.
    #[serde(default)]
    pub auth: Option<SourceAuth>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Addresses of the person the kiosk is for: an occurrence one of them declined
    /// (PARTSTAT=DECLINED) is not a meeting. Matched case-insensitively, `mailto:` ignored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner: Vec<String>,
    /// How much of this source's events the kiosk may show.
    #[serde(default, skip_serializing_if = "Privacy::is_show")]
    pub privacy: Privacy,
    /// Show CLASS:PRIVATE / CONFIDENTIAL events in full (otherwise they are shown as busy).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub show_private: bool,
}

/// A source's `privacy`: what its events may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Privacy {
    /// Everything (CLASS:PRIVATE events still busy unless `show_private`).
    #[default]
    Show,
    /// Every event as "Busy": no subject, description, location or attendees.
    Busy,
    /// No event of this source is shown at all.
    Hide,
}

impl Privacy {
    /// Whether this is the default.
    pub fn is_show(&self) -> bool {
        *self == Privacy::Show
    }
}

/// How local times are written on the page, the display and in day summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TimeFormat {
    /// 14:30.
    #[default]
    #[serde(rename = "24h")]
    H24,
    /// 2:30 PM.
    #[serde(rename = "12h")]
    H12,
}

impl TimeFormat {
    /// "24h" or "12h", as configured.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeFormat::H24 => "24h",
            TimeFormat::H12 => "12h",
        }
    }
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
    /// Host names (the `Host` header, port aside) answered besides the loopback names, the
    /// bind address and, when bound to every address, IP literals and this machine's name.
    /// `"*"` answers any. Other hosts get 403 (DNS rebinding). TOML only.
    pub allowed_hosts: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: 64,
            header_read_timeout_ms: 5_000,
            max_body_bytes: 16 * 1024,
            max_header_bytes: 16 * 1024,
            shutdown_grace_secs: 5,
            allowed_hosts: Vec::new(),
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
    /// Memory-pressure watching.
    pub pressure: PressureConfig,
    /// `calendarbot display`: the framebuffer kiosk ([`display::DisplayConfig`]).
    pub display: display::DisplayConfig,
    /// "24h" or "12h": local times on the page, the display and in day summaries.
    pub time_format: TimeFormat,
    /// How many meetings after the next one `later_today` lists at most.
    pub later_today_max: usize,
    /// Field updates (`calendarbot update`, docs/updates.md).
    pub update: UpdateConfig,
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
            pressure: PressureConfig::default(),
            display: display::DisplayConfig::default(),
            time_format: TimeFormat::H24,
            later_today_max: 3,
            update: UpdateConfig::default(),
        }
    }
}

use env::{EnvLayer, known_env_keys};
use error::from_figment;
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
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

/// Load the configuration: defaults < TOML (`explicit`, else `CALENDARBOT_CONFIG`, else
/// [`DEFAULT_CONFIG_PATH`] if it exists) < `CALENDARBOT_*`; then validate it.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, ConfigError> {
    let file = config_file(explicit)?;
    let env = EnvLayer {
        known: known_env_keys(),
    };
    let mut warnings: Vec<String> = env
        .unknown()
        .into_iter()
        .map(|v| format!("ignoring unknown environment variable {v}"))
        .collect();
    if let Some(f) = &file {
        warnings.extend(
            lenient::unknown_file_keys(f, &env.known)
                .into_iter()
                .map(|k| format!("ignoring unknown key {k} in {}", f.display())),
        );
    }
    let mut config: Config = figment(file.as_deref())
        .extract()
        .map_err(|e| from_figment(e, file.as_deref()))?;
    warnings.extend(config.soften());
    config.validate()?;
    Ok(Loaded {
        config,
        file,
        warnings,
    })
}

/// A configuration's leaf values by dotted key (`server.max_connections`), as figment sees
/// them. Lists of tables (`[[sources]]`) are left out: they come from TOML only and have no
/// bounds of their own. The environment layer, validation and error messages all read keys
/// through this one walk.
pub(crate) fn leaves(c: &Config) -> std::collections::BTreeMap<String, figment::value::Value> {
    use figment::value::{Dict, Value};
    fn walk(prefix: &str, dict: &Dict, out: &mut std::collections::BTreeMap<String, Value>) {
        for (k, v) in dict {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Dict(_, d) => walk(&key, d, out),
                Value::Array(..) => {}
                other => {
                    out.insert(key, other.clone());
                }
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    if let Ok(data) = figment::Provider::data(&Serialized::defaults(c))
        && let Some(dict) = data.get(&figment::Profile::Default)
    {
        walk("", dict, &mut out);
    }
    out
}

/// The URL to request: `webcal://` is `http://` and `webcals://` is `https://` (the scheme
/// calendar apps use to share subscriptions; it names no other protocol). Any other URL is
/// returned as it is. The scheme is matched case-insensitively (RFC 3986 §3.1).
pub fn http_url(raw: &str) -> std::borrow::Cow<'_, str> {
    let t = raw.trim_start();
    for (from, to) in [("webcals://", "https://"), ("webcal://", "http://")] {
        if t.len() >= from.len() && t[..from.len()].eq_ignore_ascii_case(from) {
            return std::borrow::Cow::Owned(format!("{to}{}", &t[from.len()..]));
        }
    }
    std::borrow::Cow::Borrowed(raw)
}

impl Config {
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
                owner: Vec::new(),
                privacy: Privacy::Show,
                show_private: false,
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
}

#[cfg(test)]
mod tests;
