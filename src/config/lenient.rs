//! What a CalendarBot `.env` or a hand-written TOML file gets away with: values that the
//! Python server accepted are taken (with a warning) instead of refused, and keys nobody reads
//! are named instead of ignored silently.
//!
//! - `CALENDARBOT_ALEXA_BEARER_TOKEN=` (empty, as CalendarBot's templates write it) is unset:
//!   the Alexa routes answer 401.
//! - `refresh_interval` below [`MIN_REFRESH_INTERVAL`] is raised to it.
//! - A TOML key that is not a configuration key is reported (like an unknown
//!   `CALENDARBOT_*` variable).

use super::{Config, MIN_REFRESH_INTERVAL};
use figment::providers::Format;
use figment::value::{Dict, Value};
use std::collections::BTreeSet;
use std::path::Path;

/// Keys a `[[sources]]` entry may have.
const SOURCE_KEYS: &[&str] = &["name", "url", "auth", "headers"];
/// Keys whose values are lists (the walk of defaults leaves lists out).
const LIST_KEYS: &[&str] = &["server.allowed_hosts"];
/// Tables whose own keys are data, checked by validation (`[display.on_hours] mon = ...`):
/// their defaults are empty, so the walk of defaults cannot know them.
const MAP_KEYS: &[&str] = &["display.on_hours"];

impl Config {
    /// Turn values CalendarBot accepted into ours; one warning each.
    pub(super) fn soften(&mut self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self
            .alexa_bearer_token
            .as_deref()
            .is_some_and(|t| t.trim().is_empty())
        {
            self.alexa_bearer_token = None;
            warnings.push(
                "alexa_bearer_token is empty: treated as unset, the Alexa routes answer 401"
                    .to_string(),
            );
        }
        if self.refresh_interval < MIN_REFRESH_INTERVAL {
            warnings.push(format!(
                "refresh_interval = {} is below the minimum: using {MIN_REFRESH_INTERVAL} seconds",
                self.refresh_interval
            ));
            self.refresh_interval = MIN_REFRESH_INTERVAL;
        }
        warnings
    }
}

/// Dotted keys of the TOML file that no configuration key reads (`optimisation.enabled`,
/// `sources.0.nmae`). A file that does not parse yields nothing here (loading reports it).
pub(super) fn unknown_file_keys(file: &Path, known: &BTreeSet<String>) -> Vec<String> {
    let provider = figment::providers::Toml::file_exact(file);
    let Ok(data) = figment::Provider::data(&provider) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for dict in data.values() {
        walk("", dict, known, &mut out);
    }
    out
}

fn walk(prefix: &str, dict: &Dict, known: &BTreeSet<String>, out: &mut Vec<String>) {
    for (k, v) in dict {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if key == "sources" {
            if let Value::Array(_, items) = v {
                for (i, item) in items.iter().enumerate() {
                    if let Value::Dict(_, d) = item {
                        out.extend(
                            d.keys()
                                .filter(|k| !SOURCE_KEYS.contains(&k.as_str()))
                                .map(|k| format!("sources.{i}.{k}")),
                        );
                    }
                }
            }
            continue;
        }
        let table = format!("{key}.");
        let is_table = known.iter().any(|k| k.starts_with(&table));
        match v {
            Value::Dict(_, d) if is_table => walk(&key, d, known, out),
            _ if known.contains(&key)
                || is_table
                || LIST_KEYS.contains(&key.as_str())
                || MAP_KEYS.contains(&key.as_str()) => {}
            _ => out.push(key),
        }
    }
}
