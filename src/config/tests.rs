//! Unit tests of loading, validation and redaction.

// figment::Jail's closures return figment::Error, which is large by figment's design.
#![allow(clippy::result_large_err)]

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
        // Set by the launcher for a slot's binary: not a key, and not worth a warning.
        jail.set_env("CALENDARBOT_SLOT", "a");
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
        err_with(&[("CALENDARBOT_REFRESH_INTERVAL", "86401")])
            .starts_with("invalid configuration: refresh_interval = 86401: expected")
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
        ics_url: Some("https://user:pw@calendar.example.com/private-abc/basic.ics?tok=1".into()),
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
            ..SourceConfig::default()
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
        "username = \"me\"",
    ] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    // Every header value is hidden, whatever the header; the names stay.
    assert!(!text.contains("text/calendar"), "{text}");
    assert!(text.contains("Accept = \"<redacted>\""), "{text}");
    assert!(text.contains("https://calendar.example.com/<redacted>"));
    // The printed form parses back as a configuration.
    let back: Config = toml::from_str(&text).unwrap();
    assert_eq!(back.sources[0].name, "w");
}

#[test]
fn optimization_values_are_validated_not_clamped() {
    for (var, value, line) in [
        (
            "CALENDARBOT_OPTIMIZATION__BATCH_WINDOW_MS",
            "999999",
            "invalid configuration: optimization.batch_window_ms = 999999: expected an integer 1-1000",
        ),
        (
            "CALENDARBOT_OPTIMIZATION__CACHE_TTL_SECS",
            "99999999999",
            "invalid configuration: optimization.cache_ttl_secs = 99999999999: expected an integer 1-86400",
        ),
        (
            "CALENDARBOT_OPTIMIZATION__DEADLINE_MS",
            "0",
            "invalid configuration: optimization.deadline_ms = 0: expected an integer 1-60000",
        ),
        (
            "CALENDARBOT_OPTIMIZATION__RESPONSE_CACHE",
            "maybe",
            "invalid configuration: optimization.response_cache = \"maybe\": expected true or false",
        ),
        (
            "CALENDARBOT_SERVER__MAX_CONNECTIONS",
            "0",
            "invalid configuration: server.max_connections = 0: expected an integer 1-10000",
        ),
    ] {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env(var, value);
            let err = load_in(jail, None).unwrap_err();
            assert_eq!(err.to_string(), line, "{var}={value}");
            Ok(())
        });
    }
}

#[test]
fn every_numeric_key_has_bounds() {
    // A new numeric key must get a row in RANGES (or be one of the two checked on their own).
    for (key, value) in leaves(&Config::default()) {
        if let figment::value::Value::Num(..) = value
            && !matches!(key.as_str(), "web_port" | "refresh_interval")
            && !key.starts_with("display.")
        {
            assert!(
                RANGES.iter().any(|(k, ..)| *k == key),
                "{key} has no bounds in config/ranges.rs"
            );
        }
    }
}

#[test]
fn update_section_is_validated() {
    let ok = |f: &dyn Fn(&mut UpdateConfig)| {
        let mut c = Config::default();
        f(&mut c.update);
        c.validate()
    };
    assert!(ok(&|_| {}).is_ok(), "updates off by default");
    assert!(ok(&|u| u.url = "https://updates.example.com/stable/".into()).is_ok());
    assert!(ok(&|u| u.url = "file:///media/usb/calendarbot/stable/".into()).is_ok());
    for (set, key) in [
        (
            &(|u: &mut UpdateConfig| u.url = "http://updates.example.com/".into())
                as &dyn Fn(&mut UpdateConfig),
            "update.url",
        ),
        (
            &|u: &mut UpdateConfig| u.url = "ftp://x/".into(),
            "update.url",
        ),
        (
            &|u: &mut UpdateConfig| u.channel = "".into(),
            "update.channel",
        ),
        (
            &|u: &mut UpdateConfig| u.channel = "a/b".into(),
            "update.channel",
        ),
        (
            &|u: &mut UpdateConfig| u.pin = "latest".into(),
            "update.pin",
        ),
        (
            &|u: &mut UpdateConfig| u.state_dir = "state".into(),
            "update.state_dir",
        ),
        (
            &|u: &mut UpdateConfig| u.public_key = "k.pub".into(),
            "update.public_key",
        ),
        (
            &|u: &mut UpdateConfig| u.gate_timeout_s = 0,
            "update.gate_timeout_s",
        ),
        (
            &|u: &mut UpdateConfig| u.max_bundle_bytes = 10,
            "update.max_bundle_bytes",
        ),
    ] {
        let e = ok(set).expect_err(key).to_string();
        assert!(e.contains(key), "{e}");
    }
}

#[test]
fn update_text_keys_are_taken_verbatim_from_the_environment() {
    Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("CALENDARBOT_UPDATE__PIN", "0.2.0");
        jail.set_env("CALENDARBOT_UPDATE__SETTLE_S", "5");
        let l = load_in(jail, None).unwrap();
        assert_eq!(l.config.update.pin, "0.2.0");
        assert_eq!(l.config.update.settle_s, 5);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        Ok(())
    });
}
