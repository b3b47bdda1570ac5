//! The operator docs against the code they describe:
//! - every route in `calendarbot::server::routes::ROUTES` is documented in docs/api.md, written
//!   as `` `METHOD /path` `` (a heading or a table row);
//! - every configuration key that `calendarbot config` prints is documented in
//!   docs/configuration.md as `` `dotted.key` ``, and every key the environment can set also as
//!   `` `CALENDARBOT_<TABLE>__<KEY>` ``. The env names this test derives are checked against
//!   the binary itself: set to their printed values, none may be reported as unknown.

mod support;

use calendarbot::server::routes::{ROUTES, Verb};
use std::collections::BTreeMap;
use std::path::Path;
use support::command;

fn doc(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn method(v: Verb) -> &'static str {
    match v {
        Verb::Get => "GET",
        Verb::Post => "POST",
        Verb::Delete => "DELETE",
    }
}

#[test]
fn every_route_is_in_api_md() {
    let api = doc("api.md");
    let missing: Vec<String> = ROUTES
        .iter()
        .map(|(path, verb, _)| format!("`{} {path}`", method(*verb)))
        .filter(|needle| !api.contains(needle.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/api.md does not document these routes (write them as `METHOD /path`): {missing:?}"
    );
}

/// A configuration file that makes `calendarbot config` print the keys a default config
/// leaves out: one source with auth and headers.
const FILE: &str = r#"
[[sources]]
name = "work"
url = "https://cal.example.com/team.ics"
auth = { type = "basic", username = "kiosk", password = "pw" }
headers = { "X-Api-Key" = "key" }
"#;

/// The optional top-level keys, set so that they are printed too.
const OPTIONAL: &[(&str, &str)] = &[
    ("CALENDARBOT_ICS_URL", "https://example.org/cal.ics"),
    ("CALENDARBOT_ALEXA_BEARER_TOKEN", "token"),
    ("CALENDARBOT_TEST_TIME", "2026-01-05T08:00:00Z"),
    ("CALENDARBOT_DATA_DIR", "/tmp/calendarbot-docs-test"),
];

/// `calendarbot --config FILE config` with `env`: stdout.
fn config_output(file: &Path, env: &[(String, String)]) -> String {
    let mut cmd = command();
    for (k, v) in OPTIONAL {
        cmd.env(k, v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .arg("--config")
        .arg(file)
        .arg("config")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One configuration key: its printed value when the environment can set it (a scalar
/// outside a list), `None` for TOML-only keys (lists, tables of names, keys of `[[sources]]`).
type Keys = BTreeMap<String, Option<String>>;

fn walk(prefix: &str, table: &toml::Table, in_list: bool, out: &mut Keys) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) if !t.is_empty() && !in_list => walk(&key, t, false, out),
            toml::Value::Array(items)
                if !items.is_empty() && items.iter().all(|i| i.is_table()) =>
            {
                out.insert(key.clone(), None);
                for item in items {
                    if let toml::Value::Table(t) = item {
                        walk(&key, t, true, out);
                    }
                }
            }
            toml::Value::Table(_) | toml::Value::Array(_) => {
                out.insert(key, None);
            }
            toml::Value::String(s) if !in_list => {
                out.insert(key, Some(s.clone()));
            }
            other if !in_list => {
                out.insert(key, Some(other.to_string()));
            }
            _ => {
                out.insert(key, None);
            }
        }
    }
}

/// `optimization.rollout` → `CALENDARBOT_OPTIMIZATION__ROLLOUT`, `web_port` →
/// `CALENDARBOT_WEB_PORT`.
fn env_name(key: &str) -> String {
    format!(
        "CALENDARBOT_{}",
        key.to_ascii_uppercase().replace('.', "__")
    )
}

#[test]
fn every_config_key_is_in_configuration_md() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(&file, FILE).unwrap();
    let printed = config_output(&file, &[]);
    let table: toml::Table = toml::from_str(&printed).unwrap();
    let mut keys = Keys::new();
    walk("", &table, false, &mut keys);
    // The walk must have found the tables the brief names, so an empty walk cannot pass.
    for expected in [
        "sources.url",
        "fetch.max_body_bytes",
        "window.past_days",
        "server.allowed_hosts",
        "optimization.rollout",
        "optimization.machine_id_path",
        "pressure.psi_path",
        "display.on_hours",
        "ics_url",
        "alexa_bearer_token",
    ] {
        assert!(keys.contains_key(expected), "{expected} not in {keys:?}");
    }

    // The env names derived here are the binary's: set to their printed values, none is
    // reported as unknown (and the configuration stays valid).
    let env: Vec<(String, String)> = keys
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (env_name(k), v.clone())))
        .filter(|(k, _)| !OPTIONAL.iter().any(|(o, _)| o == k))
        .collect();
    let again = config_output(&file, &env);
    let unknown: Vec<&str> = again
        .lines()
        .filter(|l| l.contains("unknown environment variable"))
        .collect();
    assert!(unknown.is_empty(), "{unknown:?}");

    let text = doc("configuration.md");
    let mut missing = Vec::new();
    for (key, value) in &keys {
        let needle = format!("`{key}`");
        if !text.contains(&needle) {
            missing.push(needle);
        }
        if value.is_some() {
            let needle = format!("`{}`", env_name(key));
            if !text.contains(&needle) {
                missing.push(needle);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not document: {missing:?}"
    );
}
