//! CalendarBot's 29 Alexa scenarios (tests/fixtures/calendarbot/alexa_specs.yaml, the Python
//! suite's own file) against the real `calendarbot serve` binary over HTTP:
//! - each scenario's feed is served from its `alexa/*.ics` fixture as a file:// URL, "now" is
//!   its `datetime_override` (CALENDARBOT_TEST_TIME), and a bearer token is configured and sent;
//! - every response is checked with the Python runner's rules, faithfully: `field_exact_match`
//!   (dotted paths, equality), `field_contains` (substring of a string, item of a list),
//!   `speech_text_patterns` (case-sensitive substring, or `{regex}`), `ssml_validation`
//!   (present when required, at most `max_chars`, well-formed XML rooted at `<speak>`, required
//!   tags) and `nested_objects` (required when asked; present fields non-null; field values);
//! - any assertion kind the YAML uses that this checker does not know fails the test, so a new
//!   kind cannot pass unnoticed;
//! - all 29 are run and every failure is reported together.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::{Binary, client};

const TOKEN: &str = "scenario-token-7f3a";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/calendarbot")
}

fn load_specs() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("alexa_specs.yaml")).unwrap();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let v: Value = serde_json::to_value(yaml).unwrap();
    v["tests"].as_array().unwrap().clone()
}

/// `a.b.c` in `obj`, or None (the Python `_get_nested_field`).
fn nested<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(obj, |cur, part| cur.get(part))
}

/// Python truthiness of a JSON value (for `elif actual_obj:`).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Python `==` between a YAML value and a JSON value (numbers compare by value).
fn py_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn check_ssml(ssml: &str, rules: &Value, errors: &mut Vec<String>) {
    if let Some(max) = rules.get("max_chars").and_then(Value::as_u64) {
        let n = ssml.chars().count() as u64;
        if n > max {
            errors.push(format!("SSML exceeds max characters: {n} > {max}"));
        }
    }
    // As the Python runner: declare Amazon's namespace if amazon: tags are used without it.
    let mut doc_text = ssml.to_string();
    if ssml.contains("amazon:") && !ssml.contains("xmlns:amazon=") {
        doc_text = ssml.replacen(
            "<speak>",
            "<speak xmlns:amazon=\"https://developer.amazon.com/alexa/ssml\">",
            1,
        );
    }
    match roxmltree::Document::parse(&doc_text) {
        Err(e) => errors.push(format!("SSML is not valid XML: {e}")),
        Ok(doc) => {
            let root = doc.root_element();
            if root.tag_name().name() != "speak" {
                errors.push(format!(
                    "SSML root tag should be <speak>, got <{}>",
                    root.tag_name().name()
                ));
            }
            for tag in rules
                .get("required_tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let found = tag == root.tag_name().name()
                    || root
                        .descendants()
                        .skip(1)
                        .any(|n| n.is_element() && n.tag_name().name() == tag);
                if !found {
                    errors.push(format!("SSML missing required tag: <{tag}>"));
                }
            }
        }
    }
}

/// The Python runner's `_validate_alexa_response`, rule for rule; returns the errors.
fn validate(expected: &Value, actual: &Value) -> Vec<String> {
    const KNOWN: [&str; 5] = [
        "field_exact_match",
        "field_contains",
        "speech_text_patterns",
        "ssml_validation",
        "nested_objects",
    ];
    let mut errors = Vec::new();
    for key in expected.as_object().unwrap().keys() {
        if !KNOWN.contains(&key.as_str()) {
            errors.push(format!("unknown assertion kind {key:?}: teach the checker"));
        }
    }
    if let Some(m) = expected.get("field_exact_match").and_then(Value::as_object) {
        for (path, want) in m {
            let got = nested(actual, path).unwrap_or(&Value::Null);
            if !py_eq(want, got) {
                errors.push(format!("Field '{path}': expected {want}, got {got}"));
            }
        }
    }
    if let Some(m) = expected.get("field_contains").and_then(Value::as_object) {
        for (path, items) in m {
            let items: Vec<Value> = match items {
                Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            let got = nested(actual, path).unwrap_or(&Value::Null);
            for item in &items {
                let ok = match (got, item) {
                    (Value::String(s), Value::String(i)) => s.contains(i.as_str()),
                    (Value::Array(a), i) => a.iter().any(|x| py_eq(x, i)),
                    // Python checks only strings and lists; anything else records nothing.
                    _ => true,
                };
                if !ok {
                    errors.push(format!("Field '{path}' should contain {item}, got {got}"));
                }
            }
        }
    }
    if let Some(patterns) = expected
        .get("speech_text_patterns")
        .and_then(Value::as_array)
    {
        let speech = actual
            .get("speech_text")
            .and_then(Value::as_str)
            .unwrap_or("");
        for p in patterns {
            if let Some(s) = p.as_str() {
                if !speech.contains(s) {
                    errors.push(format!("Speech text missing expected phrase: {s:?}"));
                }
            } else if let Some(re) = p.get("regex").and_then(Value::as_str) {
                // No regex in this YAML today; refuse rather than pretend.
                errors.push(format!(
                    "regex pattern {re:?} not supported by this checker"
                ));
            }
        }
    }
    if let Some(rules) = expected.get("ssml_validation") {
        let ssml = actual.get("ssml").and_then(Value::as_str).unwrap_or("");
        let required = rules.get("required").and_then(Value::as_bool) == Some(true);
        if required && ssml.is_empty() {
            errors.push("SSML is required but not present".into());
        } else if !ssml.is_empty() {
            check_ssml(ssml, rules, &mut errors);
        }
    }
    if let Some(m) = expected.get("nested_objects").and_then(Value::as_object) {
        for (path, rules) in m {
            let got = nested(actual, path).filter(|v| !v.is_null());
            let required = rules.get("required").and_then(Value::as_bool) == Some(true);
            match got {
                None if required => errors.push(format!("Required object '{path}' is missing")),
                Some(obj) if truthy(obj) => {
                    for f in rules
                        .get("required_fields")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if obj.get(f).is_none_or(Value::is_null) {
                            errors.push(format!("Object '{path}' missing required field: {f}"));
                        }
                    }
                    if let Some(values) = rules.get("field_values").and_then(Value::as_object) {
                        for (f, want) in values {
                            let got = obj.get(f).unwrap_or(&Value::Null);
                            if !py_eq(want, got) {
                                errors.push(format!(
                                    "Object '{path}.{f}': expected {want}, got {got}"
                                ));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    errors
}

/// The scalar query parameters of a scenario, as strings.
fn query_of(spec: &Value) -> Vec<(String, String)> {
    spec.get("query_params")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn checker_follows_the_python_rules() {
    let actual: Value = serde_json::json!({
        "speech_text": "You'll be done at 5:00 pm.",
        "has_meetings_today": true,
        "ssml": "<speak>Done &amp; dusted</speak>",
        "next_meeting": {"subject": "Team Standup", "start_iso": null},
        "last_meeting_end_iso": "2025-11-06T01:00:00Z",
    });
    let ok: Value = serde_yaml::from_str::<serde_yaml::Value>(
        "field_exact_match: {has_meetings_today: true}\n\
         field_contains: {speech_text: [done]}\n\
         speech_text_patterns: ['5:00 pm']\n\
         ssml_validation: {required: true, max_chars: 8000, required_tags: [speak]}\n\
         nested_objects:\n  last_meeting_end_iso: {required: false}\n  \
         next_meeting: {required: true, field_values: {subject: Team Standup}}\n",
    )
    .map(|y| serde_json::to_value(y).unwrap())
    .unwrap();
    assert_eq!(validate(&ok, &actual), Vec::<String>::new());
    let bad: Value = serde_json::json!({
        "field_exact_match": {"has_meetings_today": false},
        "field_contains": {"speech_text": ["Done"]},
        "speech_text_patterns": ["5:00 PM"],
        "ssml_validation": {"required": true, "max_chars": 10},
        "nested_objects": {
            "next_meeting": {"required": true, "required_fields": ["start_iso"]},
            "summary": {"required": true},
        },
        "latency": {"max_ms": 5},
    });
    let errors = validate(&bad, &actual);
    assert_eq!(errors.len(), 7, "{errors:#?}");
    let broken = serde_json::json!({"ssml": "<speak>R&D</speak>"});
    let rules = serde_json::json!({"ssml_validation": {"required": true}});
    assert_eq!(validate(&rules, &broken).len(), 1);
    let wrong_root = serde_json::json!({"ssml": "<say>x</say>"});
    assert_eq!(validate(&rules, &wrong_root).len(), 1);
}

#[test]
fn the_29_alexa_scenarios_pass_against_the_real_binary() {
    let specs = load_specs();
    assert_eq!(specs.len(), 29, "alexa_specs.yaml should hold 29 scenarios");
    // Scenarios sharing a feed and a "now" share one server process.
    let mut groups: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for spec in &specs {
        let ics = spec["ics_file"].as_str().unwrap().to_string();
        let now = spec["datetime_override"].as_str().unwrap().to_string();
        groups.entry((ics, now)).or_default().push(spec);
    }
    let c = client();
    let mut failures = Vec::new();
    let mut passed = 0;
    for ((ics, now), specs) in &groups {
        let feed = fixtures().join(ics);
        assert!(feed.is_file(), "missing fixture {}", feed.display());
        let dir = tempfile::tempdir().unwrap();
        let server = Binary::start(
            dir.path(),
            &[
                ("CALENDARBOT_ICS_URL", format!("file://{}", feed.display())),
                ("CALENDARBOT_TEST_TIME", now.clone()),
                ("CALENDARBOT_ALEXA_BEARER_TOKEN", TOKEN.to_string()),
            ],
        );
        for spec in specs {
            let id = spec["test_id"].as_str().unwrap();
            let endpoint = spec["endpoint"].as_str().unwrap();
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query_of(spec))
                .finish();
            let r = c
                .get(server.url(&format!("{endpoint}?{query}")))
                .bearer_auth(TOKEN)
                .send()
                .unwrap();
            let status = r.status();
            let body: Value = r.json().unwrap_or(Value::Null);
            let mut errors = Vec::new();
            if status != 200 {
                errors.push(format!("HTTP {status}"));
            }
            errors.extend(validate(&spec["expected"], &body));
            println!("{id}: {}", body["speech_text"]);
            if errors.is_empty() {
                passed += 1;
            } else {
                failures.push(format!(
                    "{id}: {}\n    speech_text: {}",
                    errors.join("; "),
                    body["speech_text"]
                ));
            }
        }
    }
    println!("alexa scenarios: {passed}/{} passed", specs.len());
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failures.len(),
        specs.len(),
        failures.join("\n")
    );
}
