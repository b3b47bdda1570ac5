//! The routes: a `match` on method and path, each route a plain function of the request.
//!
//! Why it exists: the HTTP surface (SPEC §6) in one readable table, apart from connection
//! handling. Reads are synchronous functions of the current snapshot; writes (skip, heartbeat)
//! go through `spawn_blocking` because they wait for SQLite. Every error is JSON
//! `{"error": "..."}` with the matching status.

use super::page;
use crate::answers;
use crate::app::App;
use crate::pipeline::{PATH_HEADER, Path, reads};
use crate::voice;
use bytes::Bytes;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use http_body_util::Full;
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;
use std::sync::Arc;

/// The response type of every route.
pub type Resp = Response<Full<Bytes>>;

/// Longest window /api/events answers for (a little over the stored 365 days).
pub const MAX_EVENTS_WINDOW_DAYS: i64 = 400;
/// Default /api/events window length from `from`.
pub const DEFAULT_EVENTS_WINDOW_DAYS: i64 = 7;
/// Longest meeting id accepted by /api/skip.
pub const MAX_MEETING_ID_CHARS: usize = 1024;

/// A JSON response.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Resp {
    match serde_json::to_vec(value) {
        Ok(body) => with_type(status, "application/json", body.into()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &format!("encoding: {e}")),
    }
}

/// A JSON error `{"error": message}`.
pub fn error(status: StatusCode, message: &str) -> Resp {
    let body = serde_json::json!({ "error": message }).to_string();
    with_type(status, "application/json", body.into())
}

fn with_type(status: StatusCode, content_type: &'static str, body: Bytes) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// What a path allows.
enum Allowed {
    Get,
    Post,
    PostDelete,
}

impl Allowed {
    fn header(&self) -> &'static str {
        match self {
            Allowed::Get => "GET, HEAD",
            Allowed::Post => "POST",
            Allowed::PostDelete => "POST, DELETE",
        }
    }
}

fn path_allows(path: &str) -> Option<Allowed> {
    Some(match path {
        "/"
        | "/index.html"
        | "/api/whats-next"
        | "/api/health"
        | "/health"
        | "/api/clear_skips"
        | "/api/done-for-day"
        | "/api/events"
        | "/api/status/optimization"
        | "/metrics" => Allowed::Get,
        "/api/browser-heartbeat" => Allowed::Post,
        "/api/skip" => Allowed::PostDelete,
        _ => return None,
    })
}

/// Answer one request whose body has been read.
pub async fn route(app: &Arc<App>, req: Request<Bytes>) -> Resp {
    let path = req.uri().path();
    if let Some(route) = voice::Route::from_path(path) {
        return voice_route(app, route, &req);
    }
    let get = req.method() == Method::GET || req.method() == Method::HEAD;
    match (path, get, req.method()) {
        ("/" | "/index.html", true, _) => page::index(),
        ("/api/whats-next", true, _) => whats_next(app).await,
        ("/api/health" | "/health", true, _) => health(app),
        ("/api/clear_skips", true, _) => clear_skips(app, true).await,
        ("/api/done-for-day", true, _) => done_for_day(app, &req).await,
        ("/api/events", true, _) => events(app, &req).await,
        ("/api/status/optimization", true, _) => json(StatusCode::OK, &app.pipeline.report()),
        ("/metrics", true, _) => metrics(app),
        ("/api/skip", _, &Method::POST) => skip(app, req.body()).await,
        ("/api/skip", _, &Method::DELETE) => clear_skips(app, false).await,
        ("/api/browser-heartbeat", _, &Method::POST) => heartbeat(app).await,
        _ => match path_allows(path) {
            Some(allowed) => {
                let mut r = error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &format!("method {} not allowed on {path}", req.method()),
                );
                r.headers_mut()
                    .insert(ALLOW, HeaderValue::from_static(allowed.header()));
                r
            }
            None => error(StatusCode::NOT_FOUND, &format!("not found: {path}")),
        },
    }
}

/// Say which path served the request, and why (`x-calendarbot-path`).
fn with_path(mut r: Resp, path: &Path) -> Resp {
    if let Ok(v) = HeaderValue::from_str(&path.header_value()) {
        r.headers_mut().insert(PATH_HEADER, v);
    }
    r
}

/// GET /api/whats-next (through the optimisation layer's pipeline).
pub async fn whats_next(app: &App) -> Resp {
    let (body, path) = reads::whats_next(
        &app.pipeline,
        &app.snapshot(),
        app.clock.now(),
        app.default_tz,
    )
    .await;
    with_path(with_type(StatusCode::OK, "application/json", body), &path)
}

/// GET /metrics: Prometheus text format.
pub fn metrics(app: &App) -> Resp {
    let mut out = String::with_capacity(8 * 1024);
    app.pipeline.write_prometheus(&mut out);
    crate::ops::write_source_metrics(&app.status.read(), &mut out);
    with_type(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        out.into(),
    )
}

/// GET /api/health and /health: 200 when ok, 503 when degraded.
pub fn health(app: &App) -> Resp {
    let facts = answers::ProcessFacts {
        now: app.status_now(),
        server_time: app.clock.now(),
        started_at: app.started_at,
        pid: std::process::id(),
        mode: app.pipeline.mode_report().mode,
        refresh_interval_secs: app.config.refresh_interval,
    };
    let h = answers::health(&app.snapshot(), &app.status.read(), &facts);
    let status = if h.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(status, &h)
}

/// GET /api/done-for-day?tz=
pub async fn done_for_day(app: &App, req: &Request<Bytes>) -> Resp {
    let tz = match query(req, "tz") {
        None => app.default_tz,
        Some(name) => match name.parse::<chrono_tz::Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("tz: unknown time zone {name:?} (use an IANA name)"),
                );
            }
        },
    };
    let (body, path) = reads::done_for_day_body(
        &app.pipeline,
        &app.snapshot(),
        app.clock.now(),
        tz,
        app.default_tz,
    )
    .await;
    with_path(with_type(StatusCode::OK, "application/json", body), &path)
}

/// The voice routes (/api/alexa/*, POST /api/morning-summary): all answered by
/// [`voice::handle`] (token, method, parameters, answer).
pub fn voice_route(app: &App, route: voice::Route, req: &Request<Bytes>) -> Resp {
    let snap = app.snapshot();
    let ctx = voice::Ctx {
        snap: &snap,
        now: app.clock.now(),
        default_tz: app.default_tz,
    };
    let vreq = voice::Request {
        route,
        method: req.method().as_str(),
        query: req.uri().query().unwrap_or(""),
        authorization: req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .map(|v| v.as_bytes()),
    };
    let reply = voice::handle(&vreq, app.config.alexa_bearer_token.as_deref(), &ctx);
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = json(status, &reply.body);
    for (name, value) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            r.headers_mut().insert(name, v);
        }
    }
    r
}

/// GET /api/events?from=&to=
pub async fn events(app: &App, req: &Request<Bytes>) -> Resp {
    let now = app.clock.now();
    let parse = |key: &str| -> Result<Option<DateTime<Utc>>, String> {
        match query(req, key) {
            None => Ok(None),
            Some(v) => parse_instant(&v, app.default_tz).map(Some).ok_or_else(|| {
                format!("{key}: {v:?} is not an RFC 3339 time or a YYYY-MM-DD date")
            }),
        }
    };
    let (from, to) = match (parse("from"), parse("to")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let from = from.unwrap_or(now);
    let to = to.unwrap_or(from + Duration::days(DEFAULT_EVENTS_WINDOW_DAYS));
    if to <= from {
        return error(StatusCode::BAD_REQUEST, "to must be after from");
    }
    if to - from > Duration::days(MAX_EVENTS_WINDOW_DAYS) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("window longer than {MAX_EVENTS_WINDOW_DAYS} days"),
        );
    }
    let (body, path) =
        reads::events_body(&app.pipeline, &app.snapshot(), from, to, app.default_tz).await;
    with_path(with_type(StatusCode::OK, "application/json", body), &path)
}

/// An RFC 3339 time, a naive date-time (UTC, as CALENDARBOT_TEST_TIME), or a date (local
/// midnight in `tz`).
fn parse_instant(s: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    if let Some(t) = crate::clock::Clock::parse_test_time(s) {
        return Some(t);
    }
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()?;
    Some(crate::ics::when_utc(crate::ics::When::AllDay(d), tz))
}

/// The first value of `key` in the query string, percent-decoded; empty counts as absent.
fn query(req: &Request<Bytes>, key: &str) -> Option<String> {
    let q = req.uri().query()?;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// Run a blocking store write off the async threads; a failure is a 500.
async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&App) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, Resp> {
    let app = app.clone();
    match tokio::task::spawn_blocking(move || f(&app)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "store write failed");
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))
        }
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
    }
}

/// POST /api/skip {"meeting_id": "..."} → {"skipped_until": "..."}.
pub async fn skip(app: &Arc<App>, body: &Bytes) -> Resp {
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}")),
    };
    let id = match v.get("meeting_id").and_then(|x| x.as_str()).map(str::trim) {
        Some(id) if !id.is_empty() && id.chars().count() <= MAX_MEETING_ID_CHARS => id.to_string(),
        Some(id) if !id.is_empty() => {
            return error(StatusCode::BAD_REQUEST, "meeting_id is too long");
        }
        _ => return error(StatusCode::BAD_REQUEST, "missing or invalid meeting_id"),
    };
    match blocking(app, move |a| a.skip(&id)).await {
        Ok(until) => json(
            StatusCode::OK,
            &serde_json::json!({ "skipped_until": answers::iso_utc(until) }),
        ),
        Err(r) => r,
    }
}

/// DELETE /api/skip and GET /api/clear_skips (which adds a message).
pub async fn clear_skips(app: &Arc<App>, with_message: bool) -> Resp {
    match blocking(app, |a| a.clear_skips()).await {
        Ok(count) => {
            let mut v = serde_json::json!({ "cleared": true, "count": count });
            if with_message {
                v["message"] = format!("Cleared {count} skipped meetings").into();
            }
            json(StatusCode::OK, &v)
        }
        Err(r) => r,
    }
}

/// POST /api/browser-heartbeat → {"status":"ok","timestamp": "..."}.
pub async fn heartbeat(app: &Arc<App>) -> Resp {
    match blocking(app, |a| a.heartbeat()).await {
        Ok(at) => json(
            StatusCode::OK,
            &serde_json::json!({ "status": "ok", "timestamp": answers::iso_utc(at) }),
        ),
        Err(r) => r,
    }
}
