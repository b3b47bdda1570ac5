//! The refresh loop: one task per source, fetch → expand → store → new snapshot.
//!
//! Why it exists: it is where "nothing lost" is decided. A refresh replaces a source's window
//! only after the new window is expanded *and* saved; any failure (network, HTTP status, size
//! cap, a body that is not a calendar, a store error) leaves the last good window in place and
//! is recorded honestly: `consecutive_failures`, `last_error` and `last_attempt` on the status
//! board and in SQLite. Parsing runs on the blocking pool and the body is dropped as soon as it
//! is parsed, so a refresh never stalls the server and its memory peak is one body plus one
//! expansion.
//!
//! Time: the expansion window is taken from the service clock (`CALENDARBOT_TEST_TIME` fixes
//! it); refresh times and task beats use [`App::status_now`], which always advances with real
//! time, so staleness is real even under a fixed clock.

use crate::app::App;
use crate::config::SourceConfig;
use crate::fetch::{FetchError, FetchOutcome, Fetched, Fetcher, Validators};
use crate::ics::{ExpandOptions, Expansion, IcsError, Limits};
use crate::store::{SourceState, StoreError};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::task::JoinSet;

/// Name of the built-in demo source (SPEC: health says the source is "demo").
pub(crate) const DEMO_SOURCE: &str = "demo";
/// A window expanded longer ago than this is expanded again even if the feed is unchanged,
/// so the 7-days-back / 365-days-ahead window follows "now".
const REEXPAND_AFTER_HOURS: i64 = 24;

/// What a refresh task reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// A configured feed (http, https or file).
    Remote(SourceConfig),
    /// The built-in demo calendar, generated from "now".
    Demo,
}

impl Feed {
    /// The source name used in the store, health and logs.
    pub fn name(&self) -> &str {
        match self {
            Feed::Remote(s) => &s.name,
            Feed::Demo => DEMO_SOURCE,
        }
    }
}

/// The feeds a configuration asks for: its sources, or the demo calendar when there are none.
pub(crate) fn feeds_for(config: &crate::config::Config) -> Vec<Feed> {
    let sources = config.effective_sources();
    if sources.is_empty() {
        vec![Feed::Demo]
    } else {
        sources.into_iter().map(Feed::Remote).collect()
    }
}

/// Why one refresh failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RefreshError {
    /// Fetching failed.
    #[error("fetch failed: {0}")]
    Fetch(#[from] FetchError),
    /// The body is not a calendar.
    #[error("parse failed: {0}")]
    Parse(#[from] IcsError),
    /// The body is a calendar cut short (no END:VCALENDAR, or a component still open at the
    /// end): accepting it would silently drop every meeting after the cut.
    #[error("truncated feed: {0}")]
    Truncated(String),
    /// Saving failed.
    #[error("store failed: {0}")]
    Store(#[from] StoreError),
    /// A blocking task died.
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a successful refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refreshed {
    /// The server answered 304.
    NotModified,
    /// The body's DTSTAMP-blind hash matched the stored one; no parse.
    Unchanged,
    /// A new window of this many occurrences was stored and published.
    Updated(usize),
}

/// Put what the store knows about each feed on the status board (after a restart, health
/// shows the last success and the failures of the previous run at once).
pub(crate) fn seed_status(app: &App, feeds: &[Feed]) -> Result<(), StoreError> {
    // The counts only: reading every window a second time cost a restart ~40 % of its time.
    let counts = app.store.window_counts().unwrap_or_default();
    for feed in feeds {
        let name = feed.name();
        let st = app.store.source_state(name)?.unwrap_or_default();
        let count = counts.get(name).copied().unwrap_or(0);
        app.status.update(|s| {
            let h = s.sources.entry(name.to_string()).or_default();
            h.name = name.to_string();
            h.last_success = st.last_success;
            h.consecutive_failures = st.consecutive_failures;
            h.last_error = st.last_error.clone();
            h.event_count = count;
        });
    }
    Ok(())
}

/// Start one task per feed in `tasks`: refresh at once, then every `refresh_interval` seconds.
pub(crate) fn spawn(tasks: &mut JoinSet<()>, app: Arc<App>, fetcher: Fetcher, feeds: Vec<Feed>) {
    let total = feeds.len();
    let tried = Arc::new(AtomicUsize::new(0));
    if total == 0 {
        app.status.update(|s| s.initial_refresh_complete = true);
    }
    let interval = std::time::Duration::from_secs(app.config.refresh_interval.max(1));
    for feed in feeds {
        let app = app.clone();
        let fetcher = fetcher.clone();
        let tried = tried.clone();
        tasks.spawn(async move {
            let task = format!("refresh:{}", feed.name());
            let mut first = true;
            loop {
                app.status.beat(&task, "running", app.status_now());
                let ok = refresh_once(&app, &fetcher, &feed).await.is_ok();
                if first {
                    first = false;
                    if tried.fetch_add(1, Ordering::SeqCst) + 1 == total {
                        app.status.update(|s| s.initial_refresh_complete = true);
                    }
                }
                let status = if ok { "idle" } else { "failing" };
                app.status.beat(&task, status, app.status_now());
                // Even an unchanged feed was read whole (and hashed) into freed buffers:
                // hand them back now rather than let the heap keep them (measured +4.7
                // MiB resident per 2.9 MB feed otherwise). A new snapshot is trimmed again
                // once readers let go of the old one (see `service::run`).
                crate::sys::release_free_memory();
                tokio::time::sleep(interval).await;
            }
        });
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, RefreshError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RefreshError::Internal(e.to_string()))
}

fn window_key(name: &str) -> String {
    format!("window_now:{name}")
}

/// One refresh of one feed; failures are recorded (store and status board) before returning.
pub(crate) async fn refresh_once(
    app: &Arc<App>,
    fetcher: &Fetcher,
    feed: &Feed,
) -> Result<Refreshed, RefreshError> {
    let name = feed.name().to_string();
    let attempt_at = app.status_now();
    app.status.update(|s| {
        let h = s.sources.entry(name.clone()).or_default();
        h.name = name.clone();
        h.last_attempt = Some(attempt_at);
    });
    let prev = {
        let (store, n) = (app.store.clone(), name.clone());
        blocking(move || store.source_state(&n).map_err(RefreshError::from))
            .await
            .and_then(|r| r)
    };
    let (prev, result) = match prev {
        Ok(prev) => {
            let prev = prev.unwrap_or_default();
            let result = attempt(app, fetcher, feed, &prev).await;
            (prev, result)
        }
        // Without the stored state there is nothing safe to do; record it like a failure.
        Err(e) => {
            let prev = app
                .status
                .read()
                .sources
                .get(&name)
                .map(|h| SourceState {
                    consecutive_failures: h.consecutive_failures,
                    last_success: h.last_success,
                    ..SourceState::default()
                })
                .unwrap_or_default();
            (prev, Err(e))
        }
    };
    let done_at = app.status_now();
    match &result {
        Ok((outcome, state)) => {
            tracing::info!(source = %name, ?outcome, "refresh ok");
            app.status.update(|s| {
                let h = s.sources.entry(name.clone()).or_default();
                h.last_success = state.last_success.or(Some(done_at));
                h.consecutive_failures = 0;
                h.last_error = None;
            });
        }
        Err(e) => {
            let failures = prev.consecutive_failures.saturating_add(1);
            let message = e.to_string();
            tracing::warn!(source = %name, failures, error = %message, "refresh failed; keeping the last good events");
            let state = SourceState {
                consecutive_failures: failures,
                last_error: Some(message.clone()),
                ..prev.clone()
            };
            let (store, n) = (app.store.clone(), name.clone());
            if let Ok(Err(se)) = blocking(move || store.save_source_state(&n, &state)).await {
                tracing::error!(source = %name, error = %se, "cannot record the failure");
            }
            let over = match e {
                RefreshError::Parse(IcsError::OverBudget(o)) => Some(o.budget.name()),
                _ => None,
            };
            app.status.update(|s| {
                let h = s.sources.entry(name.clone()).or_default();
                h.consecutive_failures = failures;
                h.last_error = Some(message);
                if let Some(budget) = over {
                    *h.budget_refusals.entry(budget).or_default() += 1;
                }
            });
        }
    }
    result.map(|(outcome, _)| outcome)
}

/// Fetch, and if needed expand and store; returns what happened and the state now stored.
async fn attempt(
    app: &Arc<App>,
    fetcher: &Fetcher,
    feed: &Feed,
    prev: &SourceState,
) -> Result<(Refreshed, SourceState), RefreshError> {
    let name = feed.name().to_string();
    let now = app.clock.now();
    let success_at = app.status_now();
    let (has_window, window_now) = {
        let (store, n) = (app.store.clone(), name.clone());
        blocking(move || -> Result<_, StoreError> {
            Ok((store.has_window(&n)?, store.state(&window_key(&n))?))
        })
        .await??
    };
    let window_fresh = window_now
        .as_deref()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .is_some_and(|t| {
            (now - t.with_timezone(&Utc)).abs() < Duration::hours(REEXPAND_AFTER_HOURS)
        });

    let outcome = match feed {
        Feed::Remote(src) => {
            // Without a stored window a 304 would leave nothing to show: ask unconditionally.
            let validators = Validators {
                etag: prev.etag.clone(),
                last_modified: prev.last_modified.clone(),
            };
            let conditional = has_window && window_fresh;
            fetcher
                .fetch(src, conditional.then_some(&validators))
                .await?
        }
        Feed::Demo => {
            let bytes = crate::demo::feed(app.started_at, app.default_tz).into_bytes();
            let hash = crate::fetch::content_hash(&bytes);
            FetchOutcome::Body(Fetched {
                bytes: crate::fetch::FeedBody::Memory(bytes),
                etag: None,
                last_modified: None,
                hash,
                status: None,
            })
        }
    };
    let success = |f: Option<&Fetched>| SourceState {
        etag: f.map_or(prev.etag.clone(), |f| f.etag.clone()),
        last_modified: f.map_or(prev.last_modified.clone(), |f| f.last_modified.clone()),
        content_hash: f.map_or(prev.content_hash.clone(), |f| Some(f.hash.clone())),
        last_success: Some(success_at),
        consecutive_failures: 0,
        last_error: None,
    };
    let fetched = match outcome {
        FetchOutcome::NotModified => {
            let state = success(None);
            save_state(app, &name, &state).await?;
            return Ok((Refreshed::NotModified, state));
        }
        FetchOutcome::Body(f)
            if has_window && window_fresh && prev.content_hash.as_deref() == Some(&f.hash) =>
        {
            let state = success(Some(&f));
            save_state(app, &name, &state).await?;
            return Ok((Refreshed::Unchanged, state));
        }
        FetchOutcome::Body(f) => f,
    };
    let state = success(Some(&fetched));
    let opts = ExpandOptions {
        default_tz: app.default_tz,
        from: now - Duration::days(app.config.window.past_days.into()),
        to: now + Duration::days(app.config.window.future_days.into()),
        limits: Limits::default(),
    };
    let Fetched { bytes, .. } = fetched;
    // The body is read by chunks (a large one from its spool file): only the events that can
    // reach the window are held (ics::stream).
    let expansion: Expansion = blocking(move || {
        let bytes = BodySource(bytes);
        let r = crate::ics::stream::expand_source(&bytes, &opts);
        drop(bytes);
        r
    })
    .await??;
    for w in expansion.warnings.iter().take(20) {
        tracing::warn!(source = %name, "{w}");
    }
    // A calendar that does not end where a calendar ends was cut in transit or by the server
    // (a complete HTTP response can still carry half a calendar): a failed fetch, so the last
    // good window stays. A broken event inside a whole calendar is skipped and counted instead.
    if let Some(why) = expansion.stats.truncated {
        return Err(RefreshError::Truncated(why));
    }
    let occurrences = expansion.occurrences;
    let count = occurrences.len();
    let occurrences = {
        let (store, n, st) = (app.store.clone(), name.clone(), state.clone());
        blocking(move || -> Result<_, StoreError> {
            store.save_window(&n, &st, &occurrences)?;
            store.set_state(&window_key(&n), &now.to_rfc3339())?;
            Ok(occurrences)
        })
        .await??
    };
    app.set_source_occurrences(&name, occurrences);
    app.status.update(|s| {
        let h = s.sources.entry(name.clone()).or_default();
        h.event_count = count;
        h.bounds_hit = expansion.bounds_hit;
        h.parse = Some(crate::snapshot::ParseStats::from(&expansion.stats));
    });
    Ok((Refreshed::Updated(count), state))
}

/// The engine reads a fetched body by chunks, from memory or from its spool file.
struct BodySource(crate::fetch::FeedBody);

impl crate::ics::stream::Source for BodySource {
    fn open(&self) -> std::io::Result<Box<dyn std::io::BufRead + '_>> {
        self.0.reader()
    }
}

async fn save_state(app: &Arc<App>, name: &str, state: &SourceState) -> Result<(), RefreshError> {
    let (store, n, st) = (app.store.clone(), name.to_string(), state.clone());
    blocking(move || store.save_source_state(&n, &st)).await??;
    Ok(())
}
