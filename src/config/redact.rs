//! Secrets stay secret: what `calendarbot config`, logs and errors may show.
//!
//! Why it exists: calendar URLs carry their secret in the path or the query, and tokens,
//! passwords and secret headers must never reach a log line or a printed configuration.

use super::{Config, Loaded, SourceAuth};

/// Keys whose values are secrets: never printed.
const SECRET_KEYS: &[&str] = &["alexa_bearer_token", "password", "token"];
/// Tables whose every value is a secret: a source's `auth` (a mistyped `auth = "Bearer xyz"`
/// is a token too) and its `headers` (any header may carry a credential: `Cookie`,
/// `X-Goog-Api-Key`, `Private-Token`, ...). Header names stay visible.
const SECRET_TABLES: &[&str] = &["auth", "headers"];
/// What is printed instead of a secret.
pub const REDACTED: &str = "<redacted>";

/// Whether the value at a dotted key (`sources.0.auth.token`) is a secret: a secret key, or
/// anything under `auth` or `headers`.
pub(super) fn is_secret_key(key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap_or(key);
    SECRET_KEYS.contains(&last) || key.split('.').any(|seg| SECRET_TABLES.contains(&seg))
}

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

impl Config {
    /// A copy that is safe to print: the Alexa token, everything under a source's `auth` and
    /// `headers` (header names stay) and URL paths hidden.
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
                Some(SourceAuth::Basic { username, password }) => {
                    *username = REDACTED.into();
                    *password = REDACTED.into();
                }
                Some(SourceAuth::Bearer { token }) => *token = REDACTED.into(),
                None => {}
            }
            for value in s.headers.values_mut() {
                *value = REDACTED.into();
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
