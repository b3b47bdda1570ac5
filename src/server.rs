//! The HTTP server: accept loop, per-connection hyper, limits and graceful shutdown.
//!
//! Why it exists: the kiosk page and CalendarBot's clients talk to this one small HTTP/1.1
//! server (SPEC §6). It takes an already bound listener and a shutdown future from its caller
//! (so tests bind `127.0.0.1:0` and systemd could hand over a socket), keeps every resource a
//! client can hold bounded (see [`limits`]) so a slow or hostile client cannot starve the
//! kiosk, and on shutdown stops accepting, lets in-flight requests finish within
//! `server.shutdown_grace_secs`, then returns.
//!
//! # Layout
//! - [`limits`]: connection tracking and eviction, first-head pre-read, body cap.
//! - [`routes`]: the route table and the handlers (plain functions of the request).
//! - [`page`]: the embedded kiosk page.
//! - [`probe`]: the watchdog's loopback request, its reserved slot and the serving counters.

mod guard;
pub mod limits;
mod metrics;
pub mod page;
pub mod probe;
pub mod reads;
pub mod response;
pub mod routes;

use crate::app::App;
use crate::config::ServerConfig;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use limits::{BodyError, ConnGuard, ConnTracker, Head};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

/// How long a request waits for a handler permit before it is answered 503.
pub const PERMIT_WAIT: Duration = Duration::from_secs(5);
/// How long a shed or refused connection is given to read its canned answer.
pub const LINGER: Duration = Duration::from_millis(500);
/// Canned 503 answers being written at once at most; beyond, excess connections are closed.
pub const MAX_SHEDDING: usize = 64;

/// Server bounds (from `[server]` of the configuration, plus the derived open-connection cap).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `[server]` settings.
    pub server: ServerConfig,
    /// Open connections at most (idle ones are evicted, longest-idle first, to stay under).
    /// Default: 8 × `max_connections`, at least 64.
    pub max_open_connections: usize,
    /// The watchdog probe's token, reserved slot and the serving counters (see [`probe`]).
    pub health: Arc<probe::Health>,
}

impl ServeOptions {
    /// Options from the `[server]` configuration.
    pub fn from_config(server: &ServerConfig) -> Self {
        ServeOptions {
            max_open_connections: server.max_connections.saturating_mul(8).max(64),
            server: server.clone(),
            health: Arc::default(),
        }
    }
}

/// Serve the kiosk page and the API on `listener` until `shutdown` resolves, then drain
/// in-flight requests for at most `server.shutdown_grace_secs`.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let opts = ServeOptions::from_config(&app.config.server);
    serve_with(listener, app, shutdown, opts).await
}

/// What every connection task shares.
struct Shared {
    app: Arc<App>,
    opts: ServeOptions,
    /// Handler permits: requests being answered at once.
    permits: Semaphore,
    tracker: Arc<ConnTracker>,
    /// Canned-503 writers at once.
    shedding: Arc<Semaphore>,
}

/// [`serve`] with explicit bounds.
pub async fn serve_with(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    opts: ServeOptions,
) -> anyhow::Result<()> {
    let shared = Arc::new(Shared {
        permits: Semaphore::new(opts.server.max_connections.max(1)),
        tracker: ConnTracker::new(opts.max_open_connections),
        shedding: Arc::new(Semaphore::new(MAX_SHEDDING)),
        app,
        opts,
    });
    let graceful = GracefulShutdown::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving");
    }
    crate::fault::arm();
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            r = accept(&listener) => r,
        };
        match accepted {
            Ok((stream, _peer)) => {
                shared.opts.health.note_accepted();
                let Some(guard) = shared.tracker.register() else {
                    shed(&shared, stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                // Subscribe now, before any shutdown signal, so the signal is seen.
                let watcher = graceful.watcher();
                let stop = stop_rx.clone();
                tokio::spawn(connection(shared.clone(), stream, guard, watcher, stop));
            }
            Err(e) => {
                // Out of file descriptors (or a transient accept error): make room, back off.
                tracing::warn!(error = %e, open = shared.tracker.open(), "accept failed");
                shared.tracker.evict_one();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let grace = Duration::from_secs(shared.opts.server.shutdown_grace_secs);
    tracing::info!(
        grace_s = grace.as_secs(),
        "shutting down: draining connections"
    );
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over; closing remaining connections");
    }
    Ok(())
}

/// The next connection from `listener`. Under the `wedge-accept` fault (once it is due) the
/// loop takes one more connection and then never returns, as a wedged accept loop would.
async fn accept(listener: &TcpListener) -> std::io::Result<(TcpStream, std::net::SocketAddr)> {
    let r = listener.accept().await;
    if crate::fault::due(crate::fault::Fault::WedgeAccept) {
        tracing::warn!("fault wedge-accept: the accept loop hangs");
        std::future::pending::<()>().await;
    }
    r
}

/// Answer a connection we have no room for with a canned 503 (or just close it when even the
/// shedders are busy).
fn shed(shared: &Shared, stream: TcpStream) {
    let Ok(permit) = shared.shedding.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        limits::answer_and_close(stream, "503 Service Unavailable", "server busy", LINGER).await;
        drop(permit);
    });
}

/// One connection: pre-read the first head (bounded), then hand the stream to hyper.
async fn connection(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    guard: ConnGuard,
    watcher: hyper_util::server::graceful::Watcher,
    mut stop: watch::Receiver<bool>,
) {
    let cfg = &shared.opts.server;
    let head_timeout = Duration::from_millis(cfg.header_read_timeout_ms);
    let head = tokio::select! {
        h = limits::read_head(&mut stream, cfg.max_header_bytes, head_timeout) => h,
        () = guard.slot.evicted() => return,
        _ = stop.wait_for(|s| *s) => return,
    };
    let prefix = match head {
        Head::Complete(prefix) => prefix,
        Head::Gone => return,
        Head::TooLarge => {
            drop(watcher);
            limits::answer_and_close(
                stream,
                "431 Request Header Fields Too Large",
                "request header fields too large",
                LINGER,
            )
            .await;
            return;
        }
    };
    let io = TokioIo::new(limits::Prefixed::new(prefix, stream));
    let slot = guard.slot.clone();
    let svc_shared = shared.clone();
    let svc = service_fn(move |req| {
        let shared = svc_shared.clone();
        let slot = slot.clone();
        async move { Ok::<_, Infallible>(handle(&shared, &slot, req).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout)
        .max_header_size(cfg.max_header_bytes.max(1024))
        .max_headers(limits::MAX_HEADER_FIELDS)
        .keep_alive(true);
    let conn = watcher.watch(builder.serve_connection(io, svc));
    tokio::select! {
        r = conn => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        () = guard.slot.evicted() => tracing::debug!("idle connection evicted"),
    }
    drop(guard);
}

/// One request: [`answer`] it, and count it as answered for the watchdog's probe.
async fn handle(
    shared: &Shared,
    slot: &Arc<limits::ConnSlot>,
    req: Request<Incoming>,
) -> response::Resp {
    if crate::fault::due(crate::fault::Fault::WedgeHandlers) {
        std::future::pending::<()>().await;
    }
    let r = answer(shared, slot, req).await;
    shared.opts.health.note_answered();
    r
}

/// Read the body (bounded), wait for a handler permit (the probe's own when the request
/// carries the probe token), route.
async fn answer(
    shared: &Shared,
    slot: &Arc<limits::ConnSlot>,
    req: Request<Incoming>,
) -> response::Resp {
    let cfg = &shared.opts.server;
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let max = cfg.max_body_bytes;
    let timeout = Duration::from_millis(cfg.header_read_timeout_ms);
    let body = match declared {
        Some(n) if n > max as u64 + limits::DRAIN_MAX_BYTES as u64 => Err(BodyError::TooLarge(max)),
        _ => limits::read_body(body, max, timeout).await,
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let status = match e {
                BodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                BodyError::Timeout => StatusCode::REQUEST_TIMEOUT,
                BodyError::Read(_) => StatusCode::BAD_REQUEST,
            };
            let mut r = response::error(status, &e.to_string());
            r.headers_mut().insert(
                hyper::header::CONNECTION,
                hyper::header::HeaderValue::from_static("close"),
            );
            return r;
        }
    };
    let _busy = shared.tracker.busy(slot);
    let health = &shared.opts.health;
    let is_probe = parts
        .headers
        .get(probe::PROBE_HEADER)
        .is_some_and(|v| health.is_probe(v.as_bytes()));
    let permits = if is_probe {
        &health.reserved
    } else {
        &shared.permits
    };
    let _permit = match tokio::time::timeout(PERMIT_WAIT, permits.acquire()).await {
        Ok(Ok(p)) => p,
        _ => return response::error(StatusCode::SERVICE_UNAVAILABLE, "server busy"),
    };
    if !is_probe && crate::fault::due(crate::fault::Fault::HogSlots) {
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    routes::route(&shared.app, Request::from_parts(parts, body)).await
}
