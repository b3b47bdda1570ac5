//! The `CALENDARBOT_*` environment layer.
//!
//! Why it exists: figment's own `Env` provider would parse a token `12345` as a number and
//! would turn any `CALENDARBOT_*` variable (`CALENDARBOT_CONFIG`, `CALENDARBOT_FAULT`, a typo)
//! into a key that breaks loading. This layer reads only names that map onto a key, takes text
//! keys verbatim and reports the rest as unknown.

use super::{Config, ENV_PREFIX};
use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};
use std::collections::BTreeSet;

/// `CALENDARBOT_*` variables that are not configuration keys: the config file's path, the
/// test faults, the slot the launcher started this binary from, and the updater's stand-in
/// `systemctl` (tests).
const NOT_CONFIG_ENV: &[&str] = &["config", "fault", "slot", "systemctl"];
/// Keys whose values are text: taken verbatim from the environment, never parsed.
const TEXT_KEYS: &[&str] = &[
    "ics_url",
    "web_host",
    "alexa_bearer_token",
    "default_timezone",
    "log_level",
    "test_time",
    "data_dir",
    "update.url",
    "update.channel",
    "update.pin",
];

/// Every key an environment variable may set, dotted (`optimization.enabled`).
pub(super) fn known_env_keys() -> BTreeSet<String> {
    let mut out: BTreeSet<String> = TEXT_KEYS.iter().map(|s| s.to_string()).collect();
    out.extend(super::leaves(&Config::default()).into_keys());
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
pub(super) struct EnvLayer {
    pub(super) known: BTreeSet<String>,
}

impl EnvLayer {
    fn env() -> figment::providers::Env {
        figment::providers::Env::prefixed(ENV_PREFIX).split("__")
    }

    /// Unknown `CALENDARBOT_*` variables (neither keys nor read elsewhere).
    pub(super) fn unknown(&self) -> Vec<String> {
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
