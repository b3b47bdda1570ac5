//! Configuration through the real binary:
//! - `calendarbot config` prints the effective configuration as TOML: defaults < file < env;
//! - the Python server's variable names work (CALENDARBOT_ICS_URL, _WEB_PORT, ...), nested keys
//!   use `__` (CALENDARBOT_OPTIMIZATION__ENABLED), unrelated CALENDARBOT_* variables are ignored;
//! - `--config` beats CALENDARBOT_CONFIG; a named file that does not exist is refused;
//! - secrets (Alexa token, auth passwords and tokens, secret headers, URL paths and queries)
//!   are never printed, not by `config` and not in error messages;
//! - what a CalendarBot `.env` writes starts the kiosk: an empty CALENDARBOT_ALEXA_BEARER_TOKEN
//!   is unset, a refresh interval below the minimum is raised to it (one warning each);
//! - unknown TOML keys are warned about, like unknown CALENDARBOT_* variables;
//! - the kiosk keys (issue #13) are checked the same way: `time_format`, `later_today_max`, a
//!   source's `privacy` and `owner` addresses;
//! - invalid values are refused at start with a non-zero exit and exactly one clear line naming
//!   key, value and what is allowed, before anything listens.

mod support;

use std::process::Output;
use support::command;

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const FILE: &str = r#"
web_port = 9000
refresh_interval = 600
default_timezone = "Europe/Berlin"
alexa_bearer_token = "alexa-secret-123"

[optimization]
response_cache = false

[[sources]]
name = "work"
url = "https://user:hunter2@calendar.example.com/private-abc123/basic.ics?token=qq"
auth = { type = "basic", username = "user-secret", password = "pw-secret" }
headers = { "X-Api-Key" = "key-secret", "Accept-Language" = "de" }

[[sources]]
name = "team"
url = "https://example.org/team.ics"
auth = { type = "bearer", token = "bearer-secret" }
"#;

#[test]
fn config_prints_layers_and_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, FILE).unwrap();
    let out = run(
        &["config"],
        &[
            ("CALENDARBOT_CONFIG", path.to_str().unwrap()),
            ("CALENDARBOT_WEB_PORT", "9100"),
            ("CALENDARBOT_OPTIMIZATION__ENABLED", "false"),
            ("CALENDARBOT_FAULT", "anything"),
            ("CALENDARBOT_LOG_LEVEL", "debug"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let parsed: toml::Value = toml::from_str(
        &text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .unwrap();
    assert_eq!(
        parsed["web_port"].as_integer(),
        Some(9100),
        "env beats file"
    );
    assert_eq!(
        parsed["refresh_interval"].as_integer(),
        Some(600),
        "file beats default"
    );
    assert_eq!(parsed["web_host"].as_str(), Some("127.0.0.1"), "default");
    assert_eq!(parsed["log_level"].as_str(), Some("debug"));
    assert_eq!(parsed["optimization"]["enabled"].as_bool(), Some(false));
    assert_eq!(
        parsed["optimization"]["response_cache"].as_bool(),
        Some(false)
    );
    assert_eq!(parsed["sources"].as_array().unwrap().len(), 2);
    assert!(text.contains("# sources: work, team"), "{text}");
    assert!(
        text.contains(&format!("# config file: {}", path.display())),
        "{text}"
    );
    for secret in [
        "alexa-secret-123",
        "hunter2",
        "private-abc123",
        "token=qq",
        "pw-secret",
        "user-secret",
        "key-secret",
        "bearer-secret",
        "\"de\"",
    ] {
        assert!(!text.contains(secret), "{secret} printed:\n{text}");
        assert!(!stderr(&out).contains(secret));
    }
    assert!(
        text.contains("https://calendar.example.com/<redacted>"),
        "{text}"
    );
    // Every header value is hidden, whatever its name; the names stay.
    assert!(text.contains("Accept-Language = \"<redacted>\""), "{text}");
    assert!(text.contains("X-Api-Key = \"<redacted>\""), "{text}");
}

#[test]
fn python_names_and_explicit_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.toml");
    let b = dir.path().join("b.toml");
    std::fs::write(&a, "web_port = 1111\n").unwrap();
    std::fs::write(&b, "web_port = 2222\n").unwrap();
    let out = run(
        &["--config", b.to_str().unwrap(), "config"],
        &[
            ("CALENDARBOT_CONFIG", a.to_str().unwrap()),
            ("CALENDARBOT_ICS_URL", "file:///srv/feed.ics"),
            ("CALENDARBOT_REFRESH_INTERVAL", "120"),
            ("CALENDARBOT_WEB_HOST", "0.0.0.0"),
            ("CALENDARBOT_DEFAULT_TIMEZONE", "America/New_York"),
            ("CALENDARBOT_TEST_TIME", "2025-11-05T08:00:00"),
            ("CALENDARBOT_DATA_DIR", "/tmp/cb-data"),
            ("CALENDARBOT_ALEXA_BEARER_TOKEN", "12345"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "web_port = 2222",
        "ics_url = \"file:///srv/feed.ics\"",
        "refresh_interval = 120",
        "web_host = \"0.0.0.0\"",
        "default_timezone = \"America/New_York\"",
        "test_time = \"2025-11-05T08:00:00\"",
        "# data directory: /tmp/cb-data",
        "# sources: default",
        "alexa_bearer_token = \"<redacted>\"",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("12345"));
}

#[test]
fn no_source_means_demo_and_state_directory_is_the_data_dir() {
    let out = run(&["config"], &[("STATE_DIRECTORY", "/var/lib/calendarbot")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("demo calendar"), "{text}");
    assert!(
        text.contains("# data directory: /var/lib/calendarbot"),
        "{text}"
    );
}

/// Every case: (env, the exact stderr line, or its start when it ends in '…').
const BAD: &[(&[(&str, &str)], &str)] = &[
    (
        &[("CALENDARBOT_WEB_PORT", "abc")],
        "invalid configuration: web_port = \"abc\": expected an integer 1-65535",
    ),
    (
        &[("CALENDARBOT_WEB_PORT", "99999")],
        "invalid configuration: web_port = 99999: expected an integer 1-65535",
    ),
    (
        &[("CALENDARBOT_DEFAULT_TIMEZONE", "Moon/Base")],
        "invalid configuration: default_timezone = \"Moon/Base\": expected an IANA time zone name such as UTC or Europe/Berlin",
    ),
    (
        &[("CALENDARBOT_REFRESH_INTERVAL", "86401")],
        "invalid configuration: refresh_interval = 86401: expected a whole number of seconds …",
    ),
    (
        &[("CALENDARBOT_OPTIMIZATION__CACHE_TTL_SECS", "99999999999")],
        "invalid configuration: optimization.cache_ttl_secs = 99999999999: …",
    ),
    (
        &[("CALENDARBOT_OPTIMIZATION__BATCH_WINDOW_MS", "999999")],
        "invalid configuration: optimization.batch_window_ms = 999999: …",
    ),
    (
        &[("CALENDARBOT_LOG_LEVEL", "verbose")],
        "invalid configuration: log_level = \"verbose\": expected a tracing filter …",
    ),
    (
        &[("CALENDARBOT_LOG_LEVEL", "calendarbot=debug,loud")],
        "invalid configuration: log_level = \"calendarbot=debug,loud\": expected a tracing filter …",
    ),
    (
        &[("CALENDARBOT_REFRESH_INTERVAL", "soon")],
        "invalid configuration: refresh_interval = \"soon\": expected a whole number of seconds …",
    ),
    (
        &[("CALENDARBOT_ICS_URL", "gopher://example.com/secret-path")],
        "invalid configuration: ics_url = \"gopher://example.com/<redacted>\": expected an http://, https://, webcal://, webcals:// or file:// URL",
    ),
    (
        &[("CALENDARBOT_TEST_TIME", "tomorrow")],
        "invalid configuration: test_time = \"tomorrow\": expected an RFC 3339 date-time …",
    ),
    (
        &[("CALENDARBOT_OPTIMIZATION__ENABLED", "perhaps")],
        "invalid configuration: optimization.enabled = \"perhaps\": expected true or false",
    ),
    (
        &[("CALENDARBOT_CONFIG", "/nonexistent/calendarbot.toml")],
        "invalid configuration: file /nonexistent/calendarbot.toml: …",
    ),
];

#[test]
fn invalid_values_are_refused_with_one_line() {
    for (env, expected) in BAD {
        for sub in ["config", "serve"] {
            let out = run(&[sub], env);
            assert!(!out.status.success(), "{env:?} {sub} must fail");
            let err = stderr(&out);
            let lines: Vec<&str> = err.lines().collect();
            assert_eq!(lines.len(), 1, "{env:?}: one line expected, got:\n{err}");
            match expected.strip_suffix('…') {
                Some(prefix) => assert!(lines[0].starts_with(prefix), "{env:?}: {}", lines[0]),
                None => assert_eq!(lines[0], *expected, "{env:?}"),
            }
            assert!(stdout(&out).is_empty());
        }
    }
}

#[test]
fn bad_file_values_name_their_key_and_hide_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[[sources]]\nname = \"a\"\nurl = \"https://x.example/a.ics\"\n[[sources]]\nname = \"a\"\nurl = \"https://x.example/b.ics\"\n",
            "invalid configuration: sources.1.name = \"a\": source names must be unique",
        ),
        (
            "[[sources]]\nname = \"a\"\n",
            "invalid configuration: sources.0.url = (missing): this key is required",
        ),
        (
            "[[sources]]\nname = \"a\"\nurl = \"https://x.example/a.ics\"\nauth = { type = \"digest\", password = \"pw-secret\" }\n",
            "invalid configuration: sources.0.auth.type = <redacted>: expected one of: basic, bearer",
        ),
        (
            "web_port = [1]\n",
            "invalid configuration: web_port = a list: expected an integer 1-65535",
        ),
        (
            "[[sources]]\nname = \"a\"\nurl = \"https://x.example/a.ics\"\nprivacy = \"secret\"\n",
            "invalid configuration: sources.0.privacy = \"secret\": expected one of: show, busy, hide",
        ),
        (
            "[[sources]]\nname = \"a\"\nurl = \"https://x.example/a.ics\"\nowner = [\"mailto: \"]\n",
            "invalid configuration: sources.0.owner.0 = \"mailto: \": expected a calendar address such as me@example.com",
        ),
        (
            "time_format = \"13h\"\n",
            "invalid configuration: time_format = \"13h\": expected one of: 24h, 12h",
        ),
        (
            "later_today_max = 21\n",
            "invalid configuration: later_today_max = 21: expected an integer 0-20",
        ),
    ];
    for (i, (toml_text, expected)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, toml_text).unwrap();
        let out = run(&["--config", path.to_str().unwrap(), "config"], &[]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert_eq!(err.trim_end(), *expected, "case {i}");
        assert!(!err.contains("pw-secret"));
    }
    // A TOML syntax error names the file.
    let path = dir.path().join("syntax.toml");
    std::fs::write(&path, "web_port = = 1\n").unwrap();
    let out = run(&["--config", path.to_str().unwrap(), "serve"], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("invalid configuration: file {}", path.display())),
        "{err}"
    );
}

/// The smallest refresh interval: 10 s in the shipped build (SPEC §3), 1 s in test builds
/// (feature `fault-injection`), so failure scenarios run in seconds. A value below it is raised
/// to it with a warning (a CalendarBot `.env` must start the kiosk). `ci/test.sh` runs the suite
/// both ways, so each floor is tested in the build that has it.
#[test]
fn refresh_interval_floor_is_the_builds() {
    let floor: u64 = if cfg!(feature = "fault-injection") {
        1
    } else {
        10
    };
    let ok = run(
        &["config"],
        &[("CALENDARBOT_REFRESH_INTERVAL", &floor.to_string())],
    );
    assert!(ok.status.success(), "{floor} s refused: {}", stderr(&ok));
    assert!(stdout(&ok).contains(&format!("\nrefresh_interval = {floor}\n")));
    assert!(!stdout(&ok).contains("# warning:"), "{}", stdout(&ok));
    let below = floor - 1;
    let out = run(
        &["config"],
        &[("CALENDARBOT_REFRESH_INTERVAL", &below.to_string())],
    );
    assert!(out.status.success(), "{below} s refused: {}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("\nrefresh_interval = {floor}\n")),
        "{below} s was not raised to {floor}: {text}"
    );
    assert!(
        text.contains(&format!("refresh_interval = {below} is below the minimum")),
        "{text}"
    );
}

/// Every key that can carry a secret, given a wrong value that contains one: the error names
/// the key and shows `<redacted>`, never the value.
#[test]
fn errors_never_show_a_secret_bearing_value() {
    let dir = tempfile::tempdir().unwrap();
    let source = "[[sources]]\nname = \"a\"\nurl = \"https://x.example/a.ics\"\n";
    let cases: &[(&str, &str)] = &[
        ("alexa_bearer_token = [\"s-1\"]\n", "alexa_bearer_token"),
        ("auth = \"Bearer s-2\"\n", "sources.0.auth"),
        ("auth = { type = \"Bearer s-3\" }\n", "sources.0.auth.type"),
        (
            "auth = { type = \"basic\", username = [\"s-4\"], password = \"p\" }\n",
            // The tagged enum reports the table, not the field.
            "sources.0.auth",
        ),
        (
            "auth = { type = \"basic\", username = \"u\", password = { x = \"s-5\" } }\n",
            "sources.0.auth",
        ),
        (
            "auth = { type = \"bearer\", token = [\"s-6\"] }\n",
            "sources.0.auth",
        ),
        ("headers = \"Cookie: s-7\"\n", "sources.0.headers"),
        (
            "headers = { Cookie = [\"s-8\"] }\n",
            "sources.0.headers.Cookie",
        ),
        (
            "headers = { Accept = \"s-9\\u007f\" }\n",
            "sources.0.headers.Accept",
        ),
    ];
    for (i, (extra, key)) in cases.iter().enumerate() {
        let text = if key.starts_with("sources") {
            format!("{source}{extra}")
        } else {
            extra.to_string()
        };
        let path = dir.path().join(format!("secret{i}.toml"));
        std::fs::write(&path, &text).unwrap();
        let out = run(&["--config", path.to_str().unwrap(), "config"], &[]);
        assert!(!out.status.success(), "case {i} accepted:\n{text}");
        let err = stderr(&out);
        let secret = format!("s-{}", i + 1);
        assert!(!err.contains(&secret), "case {i}: {secret} shown: {err}");
        assert!(
            err.contains(&format!("invalid configuration: {key} = <redacted>")),
            "case {i}: {err}"
        );
        assert!(!stdout(&out).contains(&secret));
    }
}

#[test]
fn calendarbot_env_values_are_softened_with_a_warning() {
    let out = run(
        &["config"],
        &[
            ("CALENDARBOT_ALEXA_BEARER_TOKEN", ""),
            ("CALENDARBOT_REFRESH_INTERVAL", "0"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("# warning:"))
        .collect();
    assert_eq!(warnings.len(), 2, "{text}");
    assert!(
        text.contains("alexa_bearer_token is empty: treated as unset"),
        "{text}"
    );
    assert!(
        text.contains("refresh_interval = 0 is below the minimum"),
        "{text}"
    );
    assert!(!text.contains("\nalexa_bearer_token ="), "{text}");
    let interval = text
        .lines()
        .find_map(|l| l.strip_prefix("refresh_interval = "))
        .unwrap();
    assert!(interval.parse::<u64>().unwrap() >= 1, "{text}");
}

#[test]
fn unknown_toml_keys_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.toml");
    std::fs::write(
        &path,
        "web_prot = 9000\n[optimisation]\nenabled = false\n[server]\nmax_conections = 3\nallowed_hosts = [\"kiosk.local\"]\n[display.on_hours]\nmon = \"07:00-19:00\"\n[[sources]]\nname = \"a\"\nurl = \"https://x.example/a.ics\"\nnmae = \"b\"\n",
    )
    .unwrap();
    let out = run(&["--config", path.to_str().unwrap(), "config"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for key in [
        "web_prot",
        "optimisation",
        "server.max_conections",
        "sources.0.nmae",
    ] {
        assert!(
            text.contains(&format!("# warning: ignoring unknown key {key} in ")),
            "{key}: {text}"
        );
    }
    assert_eq!(text.matches("# warning:").count(), 4, "{text}");
}
