//! The feed fetcher against a real HTTP server on 127.0.0.1 and real files:
//! - conditional GET: stored ETag sent as If-None-Match, 304 → NotModified; no validators
//!   → unconditional 200;
//! - basic and bearer auth and extra headers are sent; the user agent names calendarbot;
//! - 401/403 → auth error after exactly one request; 5xx → retried `max_retries` times;
//!   404 → not retried;
//! - the body cap: a declared length over the cap is refused, a streamed body is cut at the cap;
//! - file:// URLs: read with the same cap; a missing file is a clear error;
//! - the content hash ignores DTSTAMP lines, so re-stamped exports hash the same;
//! - errors never contain the URL (calendar URLs carry secrets);
//! - a machine without CA certificates (the HTTP client cannot be built): the real binary
//!   still starts and serves a file:// feed, and an https feed fails for its own source with
//!   a clear error in /api/health instead of stopping the service.

mod support;

use calendarbot::config::{FetchConfig, SourceAuth, SourceConfig};
use calendarbot::fetch::{FetchError, FetchOutcome, Fetcher, Validators};
use support::{Binary, FeedServer, Mode, ics, wait_for};

fn cfg() -> FetchConfig {
    FetchConfig {
        max_body_bytes: 1024 * 1024,
        connect_timeout_secs: 2,
        timeout_secs: 5,
        read_timeout_secs: 2,
        max_retries: 2,
        max_redirects: 3,
        retry_base_ms: 10,
    }
}

fn source(url: String) -> SourceConfig {
    SourceConfig {
        name: "t".into(),
        url,
        auth: None,
        headers: Default::default(),
        ..Default::default()
    }
}

#[tokio::test]
async fn conditional_get_and_headers() {
    let body = ics(&[("a", "A", 60, 30)]);
    let feed = FeedServer::start(Mode::Ok {
        body: body.clone(),
        etag: "\"v1\"".into(),
    });
    let f = Fetcher::new(cfg()).unwrap();
    let mut src = source(feed.url());
    src.auth = Some(SourceAuth::Bearer {
        token: "tok123".into(),
    });
    src.headers.insert("X-Extra".into(), "yes".into());

    let FetchOutcome::Body(got) = f.fetch(&src, None).await.unwrap() else {
        panic!("expected a body");
    };
    assert_eq!(got.bytes, body);
    assert_eq!(got.etag.as_deref(), Some("\"v1\""));
    let v = Validators {
        etag: got.etag.clone(),
        last_modified: None,
    };
    assert_eq!(
        f.fetch(&src, Some(&v)).await.unwrap(),
        FetchOutcome::NotModified
    );

    let reqs = feed.requests();
    assert_eq!(reqs.len(), 2);
    let first = reqs[0].to_ascii_lowercase();
    assert!(!first.contains("if-none-match"), "{first}");
    assert!(first.contains("authorization: bearer tok123"), "{first}");
    assert!(first.contains("x-extra: yes"), "{first}");
    assert!(first.contains("user-agent: calendarbot/"), "{first}");
    assert!(
        reqs[1]
            .to_ascii_lowercase()
            .contains("if-none-match: \"v1\"")
    );

    src.auth = Some(SourceAuth::Basic {
        username: "me".into(),
        password: "pw".into(),
    });
    f.fetch(&src, None).await.unwrap();
    // base64("me:pw")
    assert!(
        feed.requests()[2].contains("Basic bWU6cHc="),
        "{}",
        feed.requests()[2]
    );
}

#[tokio::test]
async fn retries_and_auth_errors() {
    let feed = FeedServer::start(Mode::Status(503));
    let f = Fetcher::new(cfg()).unwrap();
    let src = source(feed.url());
    let err = f.fetch(&src, None).await.unwrap_err();
    assert!(
        matches!(err, FetchError::Status { status: 503, .. }),
        "{err}"
    );
    assert_eq!(feed.requests().len(), 3, "first try + 2 retries");

    for (code, expect_requests) in [(401u16, 4usize), (403, 5)] {
        feed.set(Mode::Status(code));
        let err = f.fetch(&src, None).await.unwrap_err();
        assert_eq!(err, FetchError::Auth(code));
        assert_eq!(
            err.to_string(),
            format!("authentication failed: HTTP {code}")
        );
        assert_eq!(
            feed.requests().len(),
            expect_requests,
            "auth errors are not retried"
        );
    }
    feed.set(Mode::Status(404));
    let err = f.fetch(&src, None).await.unwrap_err();
    assert_eq!(err.to_string(), "HTTP 404 Not Found");
    assert_eq!(feed.requests().len(), 6, "4xx is not retried");
}

#[tokio::test]
async fn network_errors_are_retried_and_hide_the_url() {
    let feed = FeedServer::start(Mode::Refuse);
    let f = Fetcher::new(cfg()).unwrap();
    let src = source(format!("http://{}/secret-token/feed.ics", feed.addr));
    let err = f.fetch(&src, None).await.unwrap_err();
    assert!(matches!(err, FetchError::Network(_)), "{err}");
    let text = err.to_string();
    assert!(
        !text.contains("secret-token") && !text.contains("127.0.0.1"),
        "{text}"
    );
}

#[tokio::test]
async fn body_cap() {
    let feed = FeedServer::start(Mode::Huge {
        len: 3 * 1024 * 1024,
        chunked: false,
    });
    let f = Fetcher::new(cfg()).unwrap();
    let src = source(feed.url());
    let err = f.fetch(&src, None).await.unwrap_err();
    assert_eq!(err, FetchError::TooLarge { limit: 1024 * 1024 });
    assert_eq!(feed.requests().len(), 1, "not retried");
    feed.set(Mode::Huge {
        len: 3 * 1024 * 1024,
        chunked: true,
    });
    let err = f.fetch(&src, None).await.unwrap_err();
    assert_eq!(err, FetchError::TooLarge { limit: 1024 * 1024 });
    // Exactly at the cap is fine.
    feed.set(Mode::Huge {
        len: 1024 * 1024,
        chunked: true,
    });
    let FetchOutcome::Body(b) = f.fetch(&src, None).await.unwrap() else {
        panic!()
    };
    assert_eq!(b.bytes.len(), 1024 * 1024);
}

#[tokio::test]
async fn file_urls() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.ics");
    let body = ics(&[("a", "A", 60, 30)]);
    std::fs::write(&path, &body).unwrap();
    let f = Fetcher::new(cfg()).unwrap();
    let src = source(format!("file://{}", path.display()));
    let FetchOutcome::Body(b) = f.fetch(&src, None).await.unwrap() else {
        panic!()
    };
    assert_eq!(b.bytes, body);

    std::fs::write(&path, vec![b'x'; 1024 * 1024 + 1]).unwrap();
    let err = f.fetch(&src, None).await.unwrap_err();
    assert_eq!(err, FetchError::TooLarge { limit: 1024 * 1024 });

    let missing = source(format!("file://{}/nope.ics", dir.path().display()));
    let err = f.fetch(&missing, None).await.unwrap_err();
    assert!(matches!(err, FetchError::File { .. }), "{err}");
    assert!(err.to_string().contains("nope.ics"), "{err}");
}

#[tokio::test]
async fn restamped_export_hashes_the_same() {
    let body = ics(&[("a", "A", 60, 30)]);
    let text = String::from_utf8(body.clone()).unwrap();
    let restamped = text
        .lines()
        .map(|l| {
            if l.starts_with("DTSTAMP:") {
                "DTSTAMP:19990101T000000Z"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
        + "\r\n";
    let feed = FeedServer::start(Mode::Ok {
        body,
        etag: "\"a\"".into(),
    });
    let f = Fetcher::new(cfg()).unwrap();
    let src = source(feed.url());
    let FetchOutcome::Body(a) = f.fetch(&src, None).await.unwrap() else {
        panic!()
    };
    feed.set(Mode::Ok {
        body: restamped.into_bytes(),
        etag: "\"b\"".into(),
    });
    let FetchOutcome::Body(b) = f.fetch(&src, None).await.unwrap() else {
        panic!()
    };
    assert_ne!(a.bytes, b.bytes);
    assert_eq!(a.hash, b.hash);
}

#[tokio::test]
async fn large_streamed_body_is_spooled_and_cleaned_up() {
    let len = calendarbot::fetch::SPOOL_THRESHOLD + 2 * 1024 * 1024;
    let feed = FeedServer::start(Mode::Huge { len, chunked: true });
    let spool = tempfile::tempdir().unwrap();
    let f = Fetcher::new(FetchConfig {
        max_body_bytes: 16 * 1024 * 1024,
        ..cfg()
    })
    .unwrap()
    .with_spool_dir(spool.path());
    let src = source(feed.url());
    let FetchOutcome::Body(b) = f.fetch(&src, None).await.unwrap() else {
        panic!()
    };
    assert_eq!(b.bytes.len(), len);
    // The server repeats one 64 KiB block; the spooled body must come back byte for byte.
    let bytes = b.bytes.to_vec().unwrap();
    let block = &bytes[..64 * 1024];
    assert!(block.starts_with(b"X-FILLER:aaaa"));
    assert!(bytes.chunks(64 * 1024).all(|c| block.starts_with(c)));
    // The engine reads the body from its spool file, which goes with the body.
    let spooled = || std::fs::read_dir(spool.path()).unwrap().count();
    assert_eq!(spooled(), 1, "the body stays in its spool file");
    drop(b);
    assert_eq!(spooled(), 0, "spool removed with the body");
    // A declared length past the threshold is spooled too (issue #16: never held whole).
    feed.set(Mode::Huge {
        len,
        chunked: false,
    });
    let FetchOutcome::Body(b) = f.fetch(&src, None).await.unwrap() else {
        panic!()
    };
    assert_eq!(b.bytes.to_vec().unwrap(), bytes);
    assert_eq!(spooled(), 1, "a large body with a length is spooled");
    drop(b);
    assert_eq!(spooled(), 0);
    // Over the cap while spooling: refused, spool removed too.
    feed.set(Mode::Huge {
        len: 20 * 1024 * 1024,
        chunked: true,
    });
    let err = f.fetch(&src, None).await.unwrap_err();
    assert_eq!(
        err,
        FetchError::TooLarge {
            limit: 16 * 1024 * 1024
        }
    );
    assert_eq!(
        std::fs::read_dir(spool.path()).unwrap().count(),
        0,
        "spool removed"
    );
}

/// The environment of a machine with no CA store: rustls finds no root certificates.
fn no_ca_store(dir: &std::path::Path) -> Vec<(&'static str, String)> {
    let empty = dir.join("no-certs");
    std::fs::create_dir_all(&empty).unwrap();
    vec![
        (
            "SSL_CERT_FILE",
            dir.join("missing.pem").display().to_string(),
        ),
        ("SSL_CERT_DIR", empty.display().to_string()),
    ]
}

#[test]
fn without_ca_certificates_file_feeds_still_serve() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("cal.ics");
    std::fs::write(&feed, ics(&[("offline-1", "Offline standup", 90, 30)])).unwrap();
    let mut env = no_ca_store(dir.path());
    env.push(("CALENDARBOT_ICS_URL", format!("file://{}", feed.display())));
    let k = Binary::start_answering(&dir.path().join("data"), &env);
    wait_for(20, "the file feed to be served", || {
        (k.next_subject().as_deref() == Some("Offline standup")).then_some(())
    });
    let (status, source) = k.source_health("default");
    assert_eq!(status, 200, "{source}");
    assert_eq!(source["consecutive_failures"], 0, "{source}");
    // The missing client was noticed and said, not hidden.
    assert!(k.log().contains("HTTP client unavailable"), "{}", k.log());
}

#[test]
fn without_ca_certificates_an_https_feed_fails_alone_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = no_ca_store(dir.path());
    env.push((
        "CALENDARBOT_ICS_URL",
        "https://127.0.0.1:9/cal.ics".to_string(),
    ));
    let k = Binary::start_answering(&dir.path().join("data"), &env);
    let source = wait_for(20, "the failed refresh in health", || {
        let (_, s) = k.source_health("default");
        (s["consecutive_failures"].as_u64().unwrap_or(0) >= 1).then_some(s)
    });
    let err = source["last_error"].as_str().unwrap_or_default();
    assert!(err.contains("cannot build the HTTP client"), "{source}");
    // Still serving: the process did not exit and answers requests.
    assert!(k.get("/api/whats-next").is_ok());
}
