//! Validation: refuse at start what cannot work.

use super::error::invalid;
use super::ranges::{RANGES, range_text};
use super::redact::{REDACTED, redact_url};
use super::{Config, ConfigError, DEFAULT_SOURCE_NAME, MIN_REFRESH_INTERVAL, SourceAuth};
use std::collections::BTreeSet;

fn valid_source_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn check_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| invalid(key, format!("{:?}", redact_url(url)), why.to_string());
    const WANT: &str = "expected an http://, https://, webcal://, webcals:// or file:// URL";
    // webcal:// and webcals:// (what calendar apps share) are http:// and https://.
    let u = reqwest::Url::parse(&super::http_url(url)).map_err(|_| bad(WANT))?;
    match u.scheme() {
        "http" | "https" if u.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        "http" | "https" => Err(bad("expected a host name in the URL")),
        "file" if u.to_file_path().is_ok() => Ok(()),
        "file" => Err(bad("expected an absolute file:///path")),
        _ => Err(bad(WANT)),
    }
}

/// Levels a bare filter directive may name.
const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// Whether every directive of a tracing filter without a `=` is a level. tracing reads a bare
/// word such as `verbose` as a target name enabled at every level, which silences everything
/// else; `target=level` still names a target.
fn log_filter_names_levels(filter: &str) -> bool {
    filter
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !d.contains('='))
        .all(|d| LEVELS.iter().any(|l| l.eq_ignore_ascii_case(d)))
}

impl Config {
    /// Refuse values that cannot work; the error names key, value and what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.web_port == 0 {
            return Err(invalid("web_port", "0", range_text(1, 65_535)));
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
        if self
            .log_level
            .parse::<tracing_subscriber::filter::Targets>()
            .is_err()
            || !log_filter_names_levels(&self.log_level)
        {
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
        self.update.validate()?;
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
            for (j, o) in s.owner.iter().enumerate() {
                let t = o.trim();
                let mailto = t
                    .get(..7)
                    .is_some_and(|p| p.eq_ignore_ascii_case("mailto:"));
                let bare = if mailto { &t[7..] } else { t };
                if bare.is_empty() || bare.contains(char::is_whitespace) {
                    return Err(invalid(
                        key(&format!("owner.{j}")),
                        format!("{o:?}"),
                        "expected a calendar address such as me@example.com",
                    ));
                }
            }
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
                    // Every header value may be a credential: never shown.
                    return Err(invalid(
                        hk,
                        REDACTED,
                        "expected a visible-ASCII header value",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every numeric key against [`RANGES`]. The values are read from the configuration as
    /// figment sees it (dotted keys), so the table is the only list of numeric bounds.
    fn validate_limits(&self) -> Result<(), ConfigError> {
        let values = flat_values(self);
        for (key, lo, hi) in RANGES {
            let Some(v) = values.get(*key) else { continue };
            if *v < *lo || *v > *hi {
                return Err(invalid(*key, v.to_string(), range_text(*lo, *hi)));
            }
        }
        Ok(())
    }
}

/// The configuration's numeric values by dotted key.
fn flat_values(c: &Config) -> std::collections::BTreeMap<String, u64> {
    super::leaves(c)
        .into_iter()
        .filter_map(|(k, v)| match v {
            figment::value::Value::Num(_, n) => {
                let n = n.to_u128()?;
                Some((k, u64::try_from(n).unwrap_or(u64::MAX)))
            }
            _ => None,
        })
        .collect()
}
