//! Assembly: build every part from a [`Config`] and run until shutdown.
//!
//! Why it exists: `main.rs` must stay a thin command line, and tests must be able to run the
//! real service on a listener they bound themselves (127.0.0.1:0) with a shutdown future they
//! control. [`run`] is that seam; [`serve_command`] and [`config_command`] are what the
//! subcommands call.
//!
//! Start order matters for "nothing lost": the store is opened and the last good windows are
//! published *before* the first refresh and before the first request, so after a restart
//! (even a `kill -9`, even with every feed down) the last good meeting is served at once.

use crate::app::{App, NearLoad};
use crate::breaker::FallbackSettings;
use crate::config::{self, Config};
use crate::fetch::{ClientProvider, Fetcher};
use crate::pipeline::{Pipeline, Reported};
use crate::pool::http::HttpPool;
use crate::refresh::{self, Feed};
use crate::store::{Store, StoreOptions};
use anyhow::Context;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// The hub and its request pipeline, assembled from their parts: the pipeline is given typed
/// handles of the parts it reports on (the store's pool and batcher, the HTTP client).
pub fn hub(
    config: Arc<Config>,
    clock: crate::clock::Clock,
    tz: chrono_tz::Tz,
    store: Store,
    http: Option<HttpPool>,
) -> App {
    let pipeline = Pipeline::new(
        &config.optimization,
        Reported {
            store: Some(store.clone()),
            http,
        },
    );
    App::new(config, clock, tz, store, Arc::new(pipeline))
}

/// Hours ahead of the near part of the stored windows, loaded and served before the rest at a
/// restart (issue #16: the first meeting is answered without reading a year of occurrences).
pub const NEAR_HOURS: i64 = 48;

/// Open the store, drop what belongs to feeds no longer configured, build the hub and load the
/// near part of the last good data into it ([`NEAR_HOURS`]); the rest is loaded by
/// [`App::load_rest_from_store`] with what this returns, once the near part is served.
pub fn build_app(
    config: Arc<Config>,
    feeds: &[Feed],
    http: Option<HttpPool>,
) -> anyhow::Result<(Arc<App>, Option<NearLoad>)> {
    let data_dir = config.effective_data_dir();
    // Timed for the log: a restart's first answer waits for these two steps (issue #16).
    let t0 = std::time::Instant::now();
    let (store, _moved_aside) =
        crate::store::open_or_recover(&data_dir, &StoreOptions::from_config(&config))
            .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;
    let opened = t0.elapsed();
    remove_stale_spool_files(&data_dir);
    let wanted: Vec<&str> = feeds.iter().map(Feed::name).collect();
    for name in store.source_names()? {
        if !wanted.contains(&name.as_str()) {
            tracing::info!(source = %name, "source is no longer configured; forgetting its events");
            store.remove_source(&name)?;
        }
    }
    if let Err(e) = store.purge_expired_skips(config.clock().now()) {
        tracing::warn!(error = %e, "cannot purge expired skips");
    }
    let app = Arc::new(hub(
        config.clone(),
        config.clock(),
        config.tz(),
        store,
        http,
    ));
    let near = match app.load_near_from_store(NEAR_HOURS) {
        Ok(near) => {
            let n = app.snapshot().occurrences.len();
            tracing::info!(
                events = n,
                hours = NEAR_HOURS,
                open_ms = opened.as_millis() as u64,
                near_ms = t0.elapsed().as_millis() as u64,
                "loaded the near part of the last good events"
            );
            Some(near)
        }
        // Corrupt stored data must not keep the kiosk down: the next refresh replaces it.
        Err(e) => {
            tracing::error!(error = %e, "cannot load stored events; starting empty");
            None
        }
    };
    if let Err(e) = refresh::seed_status(&app, feeds) {
        tracing::error!(error = %e, "cannot load stored source states");
    }
    Ok((app, near))
}

/// The rest of the stored windows, after the near part is served.
fn load_rest(app: &App, near: NearLoad) {
    match app.load_rest_from_store(near) {
        Ok(()) => {
            let n = app.snapshot().occurrences.len();
            tracing::info!(events = n, "loaded the last good events from the store");
        }
        Err(e) => tracing::error!(error = %e, "cannot load stored events; starting empty"),
    }
    crate::sys::release_free_memory();
}

/// Spool files of large bodies left behind by a process that was killed mid-fetch.
fn remove_stale_spool_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".fetch-") && name.ends_with(".part") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Run the service on `listener` until `shutdown` completes: store, hub, refresh tasks, server.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let feeds = refresh::feeds_for(&config);
    let names: Vec<&str> = feeds.iter().map(Feed::name).collect();
    tracing::info!(sources = ?names, data_dir = %config.effective_data_dir().display(), "starting");
    let clients = ClientProvider::with_options(
        &config.fetch,
        config.optimization.flags().http_pool,
        FallbackSettings::from_config(&config.optimization),
    )?;
    let (app, near) = {
        let (config, feeds) = (config.clone(), feeds.clone());
        let http = clients.pool().clone();
        tokio::task::spawn_blocking(move || build_app(config, &feeds, Some(http))).await??
    };
    let o = &config.optimization;
    let device = o.device();
    if !device.has_id() && o.rollout.percent() > 0 && o.rollout.percent() < 100 {
        tracing::warn!(
            path = %o.machine_id_path.display(),
            rollout = %o.rollout,
            "no machine id: this device takes the layer's parts only at rollout full"
        );
    }
    tracing::info!(
        rollout = %o.rollout,
        machine_id = if device.has_id() { "found" } else { "missing" },
        buckets = %config::ROLLOUT_PARTS
            .iter()
            .map(|p| format!("{p}={}", device.bucket(p)))
            .collect::<Vec<_>>()
            .join(","),
        flags = ?app.pipeline.flags(),
        deadline_ms = o.deadline_ms,
        fallback_threshold = o.fallback_threshold,
        recovery_secs = o.recovery_secs,
        "optimisation layer"
    );
    // A start after an unclean exit runs on the plain path for the recovery period.
    {
        let app = app.clone();
        tokio::task::spawn_blocking(move || crate::ops::begin_run(&app)).await?;
    }
    // Every background task lives in one set, stopped together at shutdown.
    let mut tasks = JoinSet::new();
    tasks.spawn(crate::pool::leak_check(
        Some(app.store.pool().clone()),
        Some(clients.pool().clone()),
        std::time::Duration::from_secs(5),
    ));
    // Hand freed heap back a moment after each new snapshot, once requests that still held
    // the previous calendar have finished with it (resident memory is what the cgroup sees).
    // The refresh loop also trims after every refresh, changed or not (an unchanged feed was
    // still read whole).
    // Give the layer's memory back while the kernel signals memory pressure.
    if config.pressure.enabled {
        tasks.spawn(crate::pressure::watch(
            config.pressure.clone(),
            app.pipeline.clone(),
        ));
    }
    // Warm the cache with the kiosk's next answer as soon as a new calendar is published.
    {
        let mut rx = app.subscribe();
        let app = app.clone();
        tasks.spawn(async move {
            while rx.changed().await.is_ok() {
                let snap = rx.borrow_and_update().clone();
                crate::server::reads::warm(&app.pipeline, &snap, app.clock.now(), app.default_tz)
                    .await;
            }
        });
    }
    {
        let mut rx = app.subscribe();
        tasks.spawn(async move {
            while rx.changed().await.is_ok() {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                rx.borrow_and_update();
                crate::sys::release_free_memory();
            }
        });
    }
    let fetcher = Fetcher::with_clients(config.fetch.clone(), clients)
        .with_spool_dir(&config.effective_data_dir());
    refresh::spawn(&mut tasks, app.clone(), fetcher, feeds);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "listening");
    }
    // Port bound (by the caller) and stored data loaded: tell systemd, start the watchdog,
    // which probes this server over loopback.
    let opts = crate::server::ServeOptions::from_config(&config.server);
    crate::ops::ready(&app.pipeline.status_line());
    if let Some(near) = near {
        let app = app.clone();
        tasks.spawn(async move {
            let _ = tokio::task::spawn_blocking(move || load_rest(&app, near)).await;
        });
    }
    if let Ok(bound) = listener.local_addr()
        && let Some(watchdog) = crate::ops::watchdog(app.clone(), opts.health.clone(), bound)
    {
        tasks.spawn(watchdog);
    }
    let served = crate::server::serve_with(listener, app.clone(), shutdown, opts).await;
    crate::ops::stopping();
    tasks.shutdown().await;
    {
        let app = app.clone();
        tokio::task::spawn_blocking(move || crate::ops::end_run(&app)).await?;
    }
    tracing::info!("stopped");
    served
}

/// `calendarbot serve` (the default): load the configuration, log, bind, run until a signal.
pub fn serve_command(config_path: Option<&Path>) -> anyhow::Result<()> {
    let loaded = config::load(config_path)?;
    crate::ops::init_logging(&loaded.config.log_level);
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    if let Some(f) = &loaded.file {
        tracing::info!(file = %f.display(), "configuration file");
    }
    let config = loaded.config;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let addr = (config.web_host.as_str(), config.web_port);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {}:{}", config.web_host, config.web_port))?;
        run(config, listener, crate::ops::shutdown_signal()).await
    })
}

/// `calendarbot config`: print the effective configuration, secrets redacted.
pub fn config_command(config_path: Option<&Path>) -> anyhow::Result<()> {
    let loaded = config::load(config_path)?;
    print!("{}", config::describe(&loaded));
    Ok(())
}

/// `calendarbot flags`: the effective flags of the layer for a device and a rollout stage
/// (this device and the configured stage unless given), as one JSON document.
pub fn flags_command(
    config_path: Option<&Path>,
    machine_id: Option<&str>,
    rollout: Option<config::Rollout>,
) -> anyhow::Result<()> {
    let mut o = config::load(config_path)?.config.optimization;
    if let Some(r) = rollout {
        o.rollout = r;
    }
    let device = match machine_id {
        Some(id) => config::Device::with_id(id),
        None => o.device(),
    };
    let out = serde_json::json!({
        "flags": o.flags_for(&device),
        "rollout": o.rollout_report(&device),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
