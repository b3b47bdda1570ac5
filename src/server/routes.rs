//! The routes: one table, and each route a plain function of the request.
//!
//! Why it exists: the HTTP surface (SPEC §6) in one readable place, apart from connection
//! handling. [`ROUTES`] is the only list of paths and methods: dispatch, `405` with `Allow`,
//! `HEAD` (answered wherever `GET` is) and the voice routes all derive from it. Reads are
//! synchronous functions of the current snapshot; writes (skip, heartbeat) go through
//! `spawn_blocking` because they wait for SQLite. Every error is JSON `{"error": "..."}` with
//! the matching status.

use super::guard;
use super::page;
use super::reads;
use super::response::{Resp, error, json, with_path, with_type};
use crate::answers;
use crate::app::App;
use crate::voice;
use bytes::Bytes;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use hyper::header::{ALLOW, HeaderValue};
use hyper::{Method, Request, StatusCode};
use std::sync::Arc;

/// Longest window /api/events answers for (a little over the stored 365 days).
pub const MAX_EVENTS_WINDOW_DAYS: i64 = 400;
/// Default /api/events window length from `from`.
pub const DEFAULT_EVENTS_WINDOW_DAYS: i64 = 7;
/// Longest meeting id accepted by /api/skip.
pub const MAX_MEETING_ID_CHARS: usize = 1024;

/// The method a route answers. `Get` answers `HEAD` too (hyper sends no body for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// GET and HEAD.
    Get,
    /// POST.
    Post,
    /// DELETE.
    Delete,
}

impl Verb {
    fn matches(self, m: &Method) -> bool {
        match self {
            Verb::Get => m == Method::GET || m == Method::HEAD,
            Verb::Post => m == Method::POST,
            Verb::Delete => m == Method::DELETE,
        }
    }

    fn allow(self) -> &'static str {
        match self {
            Verb::Get => "GET, HEAD",
            Verb::Post => "POST",
            Verb::Delete => "DELETE",
        }
    }
}

/// What answers a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    /// The kiosk page.
    Index,
    /// GET /api/whats-next.
    WhatsNext,
    /// GET /api/health, /health.
    Health,
    /// GET /api/clear_skips (CalendarBot's form, with a message).
    ClearSkipsGet,
    /// GET /api/done-for-day.
    DoneForDay,
    /// GET /api/events.
    Events,
    /// GET /api/status/optimization.
    Status,
    /// GET /metrics.
    Metrics,
    /// POST /api/skip.
    Skip,
    /// DELETE /api/skip.
    ClearSkips,
    /// POST /api/browser-heartbeat.
    Heartbeat,
    /// The voice routes (/api/alexa/*, POST /api/morning-summary).
    Voice(voice::Route),
}

/// Every route: path, method, handler. A path may appear once per method.
pub const ROUTES: &[(&str, Verb, Handler)] = &[
    ("/", Verb::Get, Handler::Index),
    ("/index.html", Verb::Get, Handler::Index),
    ("/api/whats-next", Verb::Get, Handler::WhatsNext),
    ("/api/health", Verb::Get, Handler::Health),
    ("/health", Verb::Get, Handler::Health),
    ("/api/clear_skips", Verb::Get, Handler::ClearSkipsGet),
    ("/api/done-for-day", Verb::Get, Handler::DoneForDay),
    ("/api/events", Verb::Get, Handler::Events),
    ("/api/status/optimization", Verb::Get, Handler::Status),
    ("/metrics", Verb::Get, Handler::Metrics),
    ("/api/skip", Verb::Post, Handler::Skip),
    ("/api/skip", Verb::Delete, Handler::ClearSkips),
    ("/api/browser-heartbeat", Verb::Post, Handler::Heartbeat),
    (
        "/api/alexa/next-meeting",
        Verb::Get,
        Handler::Voice(voice::Route::NextMeeting),
    ),
    (
        "/api/alexa/time-until-next",
        Verb::Get,
        Handler::Voice(voice::Route::TimeUntilNext),
    ),
    (
        "/api/alexa/done-for-day",
        Verb::Get,
        Handler::Voice(voice::Route::DoneForDay),
    ),
    (
        "/api/alexa/launch-summary",
        Verb::Get,
        Handler::Voice(voice::Route::LaunchSummary),
    ),
    (
        "/api/alexa/morning-summary",
        Verb::Get,
        Handler::Voice(voice::Route::MorningSummary),
    ),
    (
        "/api/morning-summary",
        Verb::Post,
        Handler::Voice(voice::Route::PostMorningSummary),
    ),
];

/// What the table says about `method` on `path`: the handler, or the `Allow` list of a known
/// path (405), or `None` (404). A trailing `/` is ignored (`/api/alexa/next-meeting/`).
pub fn resolve(method: &Method, path: &str) -> Result<Handler, Option<String>> {
    let path = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    let mut allow: Vec<&str> = Vec::new();
    for (p, verb, handler) in ROUTES {
        if *p == path {
            if verb.matches(method) {
                return Ok(*handler);
            }
            allow.push(verb.allow());
        }
    }
    Err((!allow.is_empty()).then(|| allow.join(", ")))
}

/// Answer one request whose body has been read.
pub async fn route(app: &Arc<App>, req: Request<Bytes>) -> Resp {
    if let Some(refused) = guard::check(&app.config, &req) {
        return refused;
    }
    let path = req.uri().path();
    if req.method() == Method::OPTIONS {
        return options(path);
    }
    let handler = match resolve(req.method(), path) {
        Ok(h) => h,
        Err(Some(allow)) => {
            let mut r = error(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("method {} not allowed on {path}", req.method()),
            );
            if let Ok(v) = HeaderValue::from_str(&allow) {
                r.headers_mut().insert(ALLOW, v);
            }
            return r;
        }
        Err(None) => return error(StatusCode::NOT_FOUND, &format!("not found: {path}")),
    };
    match handler {
        Handler::Index => page::index(),
        Handler::WhatsNext => whats_next(app).await,
        Handler::Health => health(app),
        Handler::ClearSkipsGet => clear_skips(app, true).await,
        Handler::DoneForDay => done_for_day(app, &req).await,
        Handler::Events => events(app, &req).await,
        Handler::Status => json(StatusCode::OK, &app.pipeline.report()),
        Handler::Metrics => metrics(app),
        Handler::Skip => skip(app, req.body()).await,
        Handler::ClearSkips => clear_skips(app, false).await,
        Handler::Heartbeat => heartbeat(app).await,
        Handler::Voice(route) => voice_route(app, route, &req),
    }
}

/// OPTIONS: 204 with the path's `Allow` list (no CORS headers: cross-origin use is not
/// offered, so a preflight never succeeds); 404 for an unknown path.
fn options(path: &str) -> Resp {
    match resolve(&Method::OPTIONS, path) {
        Err(Some(allow)) => {
            let mut r = with_type(StatusCode::NO_CONTENT, "application/json", Bytes::new());
            if let Ok(v) = HeaderValue::from_str(&format!("OPTIONS, {allow}")) {
                r.headers_mut().insert(ALLOW, v);
            }
            r
        }
        _ => error(StatusCode::NOT_FOUND, &format!("not found: {path}")),
    }
}

/// GET /api/whats-next (through the optimisation layer's pipeline).
pub async fn whats_next(app: &App) -> Resp {
    let facts = answers::KioskFacts {
        later_today_max: app.config.later_today_max,
        time_format: app.config.time_format.as_str(),
        last_success: app
            .status
            .read()
            .sources
            .values()
            .filter_map(|s| s.last_success)
            .max(),
        refresh_interval_secs: app.config.refresh_interval,
    };
    let (body, path) = reads::whats_next(
        &app.pipeline,
        &app.snapshot(),
        app.clock.now(),
        app.default_tz,
        &facts,
    )
    .await;
    with_path(with_type(StatusCode::OK, "application/json", body), &path)
}

/// GET /metrics: Prometheus text format.
pub fn metrics(app: &App) -> Resp {
    let mut out = String::with_capacity(8 * 1024);
    app.pipeline.write_prometheus(&mut out);
    super::metrics::write_source_metrics(&app.status.read(), &mut out);
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
        database_file_present: app.store.path().exists(),
        database_moved_aside: app.store.moved_aside().map(|p| p.display().to_string()),
        database_rows_skipped: app.store.undecodable_rows(),
        // Read at request time (a small file): never cached, always what is on disk.
        update: crate::version::state::summary(&app.config.update.state_dir),
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
        clock_12h: app.config.time_format == crate::config::TimeFormat::H12,
    };
    let pairs = query_pairs(req);
    let vreq = voice::Request {
        route,
        query: &pairs,
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
    // RFC 3339 has four-digit years: a window past 9999 (or before year 1) cannot be answered.
    if chrono::Datelike::year(&to) > 9999 || chrono::Datelike::year(&from) < 1 {
        return error(
            StatusCode::BAD_REQUEST,
            "from and to must lie within 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z (UTC)",
        );
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

/// The query string's pairs, percent-decoded, values trimmed; empty values count as absent.
/// Every route reads its parameters through this one function.
fn query_pairs(req: &Request<Bytes>) -> Vec<(String, String)> {
    let q = req.uri().query().unwrap_or("");
    form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.trim().to_string()))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// The first value of `key` in the query string (see [`query_pairs`]).
fn query(req: &Request<Bytes>, key: &str) -> Option<String> {
    query_pairs(req)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_table_resolves_paths_methods_and_allow() {
        let get = Method::GET;
        assert_eq!(
            resolve(&get, "/api/alexa/next-meeting"),
            Ok(Handler::Voice(voice::Route::NextMeeting))
        );
        // A trailing slash is ignored, HEAD goes wherever GET goes.
        assert_eq!(
            resolve(&Method::HEAD, "/api/alexa/launch-summary/"),
            Ok(Handler::Voice(voice::Route::LaunchSummary))
        );
        assert_eq!(resolve(&get, "/"), Ok(Handler::Index));
        assert_eq!(
            resolve(&Method::POST, "/api/morning-summary"),
            Ok(Handler::Voice(voice::Route::PostMorningSummary))
        );
        assert_eq!(
            resolve(&get, "/api/morning-summary"),
            Err(Some("POST".into()))
        );
        assert_eq!(
            resolve(&Method::POST, "/api/alexa/launch-summary"),
            Err(Some("GET, HEAD".into()))
        );
        assert_eq!(
            resolve(&Method::PUT, "/api/skip"),
            Err(Some("POST, DELETE".into()))
        );
        assert_eq!(resolve(&get, "/api/alexa/other"), Err(None));
        assert_eq!(resolve(&get, "/api/done-for-day/x"), Err(None));
    }
}
