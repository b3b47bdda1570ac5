//! Operations glue: systemd notification (READY, WATCHDOG, STATUS, STOPPING) and logging.
//!
//! Why it exists: under systemd (`Type=notify`, `WatchdogSec=`) the service must say when it is
//! really ready (port bound, stored data loaded) and must keep proving that it still serves.
//! A bare timer would ping the watchdog even when every request hangs, so the watchdog here
//! only pings when a *probe* says the serving path answers in time: a loopback request to the
//! bound address, through the accept loop, hyper, the request slots and the handlers (see
//! `server::probe`). Logging goes to journald
//! with structured fields when the journal is there, and to readable stderr otherwise.
//!
//! Outside systemd (no `NOTIFY_SOCKET`) every notification is a no-op, so the same binary runs
//! in a terminal, in tests and under systemd.

use crate::app::App;
use crate::server::probe::Health;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;

/// The result of one watchdog probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Probe {
    /// The serving path answered in time: feed the watchdog. The text, if any, becomes the new
    /// `STATUS=` line (sent only when it changes).
    Healthy(String),
    /// Nothing answered in time: do not feed the watchdog (systemd will restart us).
    Stalled(String),
}

/// Send `READY=1` with a status line and our pid. A no-op outside systemd.
pub(crate) fn ready(status: &str) {
    send(&[
        NotifyState::Ready,
        NotifyState::Status(status),
        NotifyState::MainPid(std::process::id()),
    ]);
    tracing::info!(status, "ready");
}

/// Send `STATUS=...`. A no-op outside systemd.
pub(crate) fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// Send `STOPPING=1`. A no-op outside systemd.
pub(crate) fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// Send one `WATCHDOG=1`. A no-op outside systemd.
pub(crate) fn watchdog_ping() {
    send(&[NotifyState::Watchdog]);
}

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "sd_notify failed");
    }
}

/// How often to feed the watchdog: half of `WATCHDOG_USEC` (systemd's advice), or `None` when
/// systemd did not ask for a watchdog (or asked another pid, `WATCHDOG_PID`).
pub(crate) fn watchdog_period() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 2)
}

/// Run the watchdog loop until the task is dropped: every `period`, run `probe` and send
/// `WATCHDOG=1` only if it reports [`Probe::Healthy`]. A changed status text is sent as
/// `STATUS=`. The probe should bound its own time (it must answer well inside `period`).
pub(crate) async fn watchdog_loop<P, F>(period: Duration, mut probe: P)
where
    P: FnMut() -> F,
    F: Future<Output = Probe>,
{
    let mut last_status = String::new();
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match probe().await {
            Probe::Healthy(s) => {
                if !s.is_empty() && s != last_status {
                    send(&[NotifyState::Watchdog, NotifyState::Status(&s)]);
                    last_status = s;
                } else {
                    watchdog_ping();
                }
            }
            Probe::Stalled(why) => {
                tracing::error!(reason = %why, "watchdog probe failed; not feeding the watchdog");
                let s = format!("stalled: {why}");
                if s != last_status {
                    status(&s);
                    last_status = s;
                }
            }
        }
    }
}

/// Completes on SIGTERM or SIGINT.
pub(crate) async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
    }
}

/// The service-state key of the clean-shutdown marker: "1" after a graceful exit, "0" while
/// running. Found at "0" on start, the previous run died (kill -9, OOM, power cut, watchdog).
pub(crate) const CLEAN_SHUTDOWN_KEY: &str = "clean_shutdown";

/// At start (blocking: SQLite): if the previous run did not shut down cleanly, run on the plain
/// path for `recovery_secs` (the optimised path may be what killed it); then mark this run as
/// running. Returns whether the previous exit was unclean.
pub(crate) fn begin_run(app: &App) -> bool {
    let previous = match app.store.state(CLEAN_SHUTDOWN_KEY) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the clean-shutdown marker");
            None
        }
    };
    // No marker at all: a first start, not a crash.
    let unclean = previous.as_deref() == Some("0");
    if unclean {
        let recovery = Duration::from_secs(app.config.optimization.recovery_secs);
        let reason = "previous run did not shut down cleanly";
        app.pipeline.mode().force_fallback(reason, Some(recovery));
        tracing::warn!(
            reason,
            recovery_secs = recovery.as_secs(),
            "starting on the plain path"
        );
    }
    // At once, not through the write batcher: its window (50 ms) would delay READY and the
    // first answer of every restart.
    if let Err(e) = app.store.set_state_now(CLEAN_SHUTDOWN_KEY, "0") {
        tracing::error!(error = %e, "cannot write the clean-shutdown marker");
    }
    unclean
}

/// On graceful exit (blocking: SQLite): mark the shutdown as clean, merge the WAL.
pub(crate) fn end_run(app: &App) {
    if let Err(e) = app.store.set_state(CLEAN_SHUTDOWN_KEY, "1") {
        tracing::error!(error = %e, "cannot write the clean-shutdown marker");
    }
    if let Err(e) = app.store.checkpoint() {
        tracing::warn!(error = %e, "cannot checkpoint the WAL at shutdown");
    }
}

/// The watchdog task, when systemd asked for one (`WATCHDOG_USEC`). Every half period:
/// 1. the self-check of the optimised parts (what's next through cache and coalescer, with
///    the pipeline's deadline); a stalled or failing part switches the service to the plain
///    path, which keeps answering;
/// 2. the probe of the real serving path ([`crate::server::probe`]): `GET /api/whats-next`
///    over loopback to `bound` within half the ping period (at most 5 s). Only if it
///    passes is `WATCHDOG=1` sent, so a wedged accept loop or wedged handlers get the service
///    restarted by systemd.
pub(crate) fn watchdog(
    app: Arc<App>,
    health: Arc<Health>,
    bound: SocketAddr,
) -> Option<impl Future<Output = ()> + Send + 'static> {
    let period = watchdog_period()?;
    let deadline = (period / 2).min(Duration::from_secs(5));
    tracing::info!(
        period_ms = period.as_millis() as u64,
        probe_deadline_ms = deadline.as_millis() as u64,
        "watchdog enabled"
    );
    Some(watchdog_loop(period, move || {
        let (app, health) = (app.clone(), health.clone());
        async move {
            let snap = app.snapshot();
            let now = app.clock.now();
            // A failure here has switched the service to the plain path (and said so): the
            // probe below then finds out whether the plain path serves.
            let _ =
                crate::server::reads::self_check(&app.pipeline, &snap, now, app.default_tz).await;
            match health.probe(bound, deadline).await {
                Ok(_) => Probe::Healthy(app.pipeline.status_line()),
                Err(why) => Probe::Stalled(why),
            }
        }
    }))
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogTarget {
    /// journald, structured fields.
    Journald,
    /// Human-readable lines on stderr.
    Stderr,
}

/// journald when we run under systemd (`JOURNAL_STREAM` set, or the journal socket exists),
/// stderr otherwise.
pub(crate) fn log_target() -> LogTarget {
    if std::env::var_os("JOURNAL_STREAM").is_some()
        || Path::new("/run/systemd/journal/socket").exists()
    {
        LogTarget::Journald
    } else {
        LogTarget::Stderr
    }
}

/// Install the global tracing subscriber with `filter` (CALENDARBOT_LOG_LEVEL syntax). Falls
/// back to stderr when the journal cannot be opened. Returns where logs go. Calling it twice
/// keeps the first subscriber.
pub(crate) fn init_logging(filter: &str) -> LogTarget {
    init_logging_with_prefix(filter, Some("F"))
}

/// [`init_logging`] with another journald field prefix: `Some("F")` writes a field `source`
/// as `F_SOURCE` (the service's fields); `None` writes `update_step` as `UPDATE_STEP` (the
/// updater's fields, named by docs/updates.md).
pub(crate) fn init_logging_with_prefix(filter: &str, prefix: Option<&str>) -> LogTarget {
    use tracing_subscriber::prelude::*;
    // `Targets`, not `EnvFilter`: the same `level` and `target=level` directives without the
    // span and field matchers, whose regex engine cost the binary about 0.4 MB.
    let level_filter = filter
        .parse::<tracing_subscriber::filter::Targets>()
        .unwrap_or_else(|_| {
            tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO)
        });
    let journald = match log_target() {
        LogTarget::Journald => tracing_journald::layer()
            .map(|l| {
                l.with_syslog_identifier("calendarbot".into())
                    .with_field_prefix(prefix.map(str::to_string))
            })
            .ok(),
        LogTarget::Stderr => None,
    };
    let registry = tracing_subscriber::registry().with(level_filter);
    match journald {
        Some(layer) => {
            let _ = registry.with(layer).try_init();
            LogTarget::Journald
        }
        None => {
            let _ = registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_writer(std::io::stderr)
                        // Colour only on a terminal: a file or a pipe gets plain text.
                        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                        .with_target(false),
                )
                .try_init();
            LogTarget::Stderr
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn watchdog_loop_runs_the_probe_every_period() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let task = tokio::spawn(watchdog_loop(Duration::from_secs(1), move || {
            let c = c.clone();
            async move {
                let n = c.fetch_add(1, Ordering::SeqCst);
                if n.is_multiple_of(2) {
                    Probe::Healthy("optimized".into())
                } else {
                    Probe::Stalled("test".into())
                }
            }
        }));
        // The first tick is immediate, then one per period.
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        task.abort();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }
}
