//! Why the configuration was refused: one line naming key, value and what is allowed.
//!
//! Why it exists: figment's errors name Rust types ("expected u16"); an operator reading the
//! journal needs the key, the value as given (secrets hidden) and the allowed range.

use super::Config;
use super::ranges::{range_of, range_text};
use super::redact::{REDACTED, is_secret_key};
use figment::value::Value;
use std::path::Path;

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
        /// What the file system or the TOML parser said.
        reason: String,
    },
}

pub(super) fn invalid(
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

/// What each key allows, for error messages: the key's bounds from [`super::ranges::RANGES`],
/// else what its default value is (a flag, a number, a text), else what figment expected.
fn allowed_for(key: &str, expected: &str) -> String {
    if key == "web_port" {
        return "expected an integer 1-65535".into();
    }
    if key == "refresh_interval" {
        return format!(
            "expected a whole number of seconds {}-86400",
            super::MIN_REFRESH_INTERVAL
        );
    }
    if let Some((lo, hi)) = range_of(key) {
        return range_text(lo, hi);
    }
    match default_value(key) {
        Some(Value::Bool(..)) => "expected true or false".into(),
        Some(Value::Num(..)) => "expected a non-negative integer".into(),
        _ => format!("expected {expected}"),
    }
}

/// The built-in default of a dotted key, as figment sees it.
fn default_value(key: &str) -> Option<Value> {
    super::leaves(&Config::default()).remove(key)
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
pub(super) fn from_figment(err: figment::Error, file: Option<&Path>) -> ConfigError {
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
