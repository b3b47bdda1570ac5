//! `calendarbot display`: the kiosk drawn straight onto the Pi's framebuffer, no browser.
//!
//! Why a second process of the same binary: a display fault (a driver hang, a panel
//! unplugged, a bug here) never takes the API down, and the display gets its own systemd
//! unit, sandbox and memory limit. It reads the server's API over loopback exactly as the
//! kiosk page does (`/api/whats-next` every `poll_secs`, a heartbeat every 30 s that
//! `/api/health` shows as the display probe) and ticks the countdown from its own clock in
//! between.
//!
//! # Layout
//! - `crate::config::display`: the `[display]` table and its validation.
//! - [`model`]: what the screen says (the page's wording), a pure function.
//! - [`font`]: embedded Noto Sans, glyph cache, wrap and ellipsis.
//! - [`render`]: layout and drawing into a grey canvas.
//! - [`canvas`]: the grey picture and its primitives, painting at once or recording a frame.
//! - [`damage`]: which rectangles a recorded frame changes, so only they are repainted.
//! - [`rotate`]: rotation and pixel shift between the canvas and the panel.
//! - [`fb`]: fbdev output (geometry, pixel formats, changed rectangles only).
//! - `crate::sys::fbdev`: the ioctls (the crate's `unsafe` lives in `sys`).
//! - [`client`]: the loopback HTTP client.
//! - [`schedule`]: on-hours, following the day's meetings, pixel shift.
//! - [`touch`]: evdev taps for the skip button.

mod api;
pub mod canvas;
pub mod client;
pub mod damage;
pub mod fb;
pub mod font;
pub mod model;
pub mod render;
pub mod rotate;
pub mod schedule;
pub mod touch;

use crate::config::display::{DisplayConfig, GeometrySpec};
use crate::sys::fbdev as sys;
use anyhow::Context;
pub use api::server_url;
use api::{Polled, calendar_loaded, first_start, parse_time, poll};
use canvas::Canvas;
use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use client::Client;
use model::{Inputs, WhatsNext};
use render::{Hits, Renderer};
use schedule::DaySpan;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Seconds between heartbeats (as the page).
const HEARTBEAT_SECS: u64 = 30;
/// Seconds before a failed poll is retried (as the page).
const RETRY_SECS: u64 = 5;
/// The console whose mode is switched while drawing.
const CONSOLE: &str = "/dev/tty0";

/// `calendarbot display` arguments.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct DisplayArgs {
    /// Server base URL (default: display.server, else http://{web_host}:{web_port}).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Render one frame from the server's current answers to this PNG and exit.
    #[arg(long, value_name = "PNG")]
    pub snapshot: Option<PathBuf>,
    /// "Now" for the frame(s) (RFC 3339; naive = UTC) instead of the server's clock.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Panel size for --snapshot, WxH (default 480x800).
    #[arg(long, value_name = "WxH")]
    pub size: Option<String>,
    /// Rotation 0, 90, 180 or 270 (default: display.rotation).
    #[arg(long, value_name = "DEG")]
    pub rotate: Option<u16>,
    /// Framebuffer device or file (default: display.device).
    #[arg(long, value_name = "PATH")]
    pub device: Option<PathBuf>,
    /// Geometry of a regular file standing in for the framebuffer: WxHxBPP[+STRIDE].
    #[arg(long = "fb-geometry", value_name = "WxHxBPP")]
    pub fb_geometry: Option<String>,
    /// Write the --device file through a shared mapping, as a framebuffer device is written.
    #[arg(long = "fb-mmap")]
    pub fb_mmap: bool,
    /// Draw this many frames, then exit (with --at: one virtual second apart, no waiting).
    #[arg(long, value_name = "N")]
    pub frames: Option<u64>,
    /// Print one line per frame: rows written, render time, state.
    #[arg(long)]
    pub stats: bool,
    /// --snapshot: draw the answer as the screen shows it once the server stopped answering.
    #[arg(long)]
    pub offline: bool,
}

/// The display's state between frames.
struct State {
    answer: Option<WhatsNext>,
    online: bool,
    /// Server time of the last good answer.
    answered_at: Option<DateTime<Utc>>,
    /// Server clock minus ours at the last good answer.
    offset: chrono::Duration,
    day: Option<DaySpan>,
}

impl State {
    fn new() -> State {
        State {
            answer: None,
            online: true,
            answered_at: None,
            offset: chrono::Duration::zero(),
            day: None,
        }
    }

    fn apply(&mut self, r: Result<Polled, client::ClientError>, tz: Tz) {
        match r {
            Ok(p) => {
                if !self.online {
                    tracing::info!("server answers again");
                }
                self.offset = p.server_now - Utc::now();
                self.answered_at = Some(p.server_now);
                self.answer = Some(p.answer);
                self.online = true;
                let day = p
                    .server_now
                    .with_timezone(&tz)
                    .date_naive()
                    .num_days_from_ce();
                let first = self
                    .day
                    .filter(|d| d.day == day)
                    .and_then(|d| d.first_start);
                self.day = Some(DaySpan {
                    day,
                    first_start: first,
                    last_end: p.last_end,
                });
            }
            Err(e) => {
                if self.online {
                    tracing::warn!(error = %e, "server unreachable: showing Reconnecting");
                }
                self.online = false;
            }
        }
    }

    fn inputs(&self, now: DateTime<Utc>, tz: Tz, touch: bool) -> Inputs<'_> {
        Inputs {
            answer: self.answer.as_ref(),
            online: self.online,
            answered_at: self.answered_at,
            now,
            tz,
            touch,
        }
    }
}

fn parse_size(s: &str) -> anyhow::Result<(u32, u32)> {
    let (w, h) = s
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .filter(|&(w, h)| (16..=8192).contains(&w) && (16..=8192).contains(&h))
        .with_context(|| format!("--size {s:?}: expected WxH such as 480x800"))?;
    Ok((w, h))
}

fn rotation(args: &DisplayArgs, cfg: &DisplayConfig) -> anyhow::Result<u16> {
    let r = args.rotate.unwrap_or(cfg.rotation);
    anyhow::ensure!(
        matches!(r, 0 | 90 | 180 | 270),
        "--rotate {r}: expected 0, 90, 180 or 270"
    );
    Ok(r)
}

/// Write the panel's picture of `c` as an RGB PNG.
pub fn write_png(path: &Path, c: &Canvas, rotation: u16) -> anyhow::Result<()> {
    let (pw, ph) = rotate::physical_size(c.w, c.h, rotation);
    let mut data = Vec::with_capacity((pw * ph * 3) as usize);
    rotate::physical_rows(c, rotation, (0, 0), |_, row| {
        for &g in row {
            data.extend_from_slice(&[g, g, g]);
        }
    });
    let file = std::fs::File::create(path).with_context(|| format!("{}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), pw, ph);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header()?;
    w.write_image_data(&data)?;
    w.finish()?;
    Ok(())
}

/// `calendarbot display`.
pub fn display_command(config_path: Option<&Path>, args: DisplayArgs) -> anyhow::Result<()> {
    let loaded = crate::config::load(config_path)?;
    crate::ops::init_logging(&loaded.config.log_level);
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let cfg = loaded.config;
    let at = match &args.at {
        Some(s) => Some(parse_time(s).with_context(|| {
            format!("--at {s:?}: expected an RFC 3339 date-time such as 2025-11-05T08:00:00Z")
        })?),
        None => None,
    };
    let url = server_url(&cfg, args.server.as_deref());
    let client = Client::new(&url)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    if let Some(out) = args.snapshot.clone() {
        return runtime.block_on(snapshot(&cfg, &args, &client, at, &out));
    }
    runtime.block_on(run(cfg, args, client, at))
}

async fn snapshot(
    cfg: &crate::config::Config,
    args: &DisplayArgs,
    client: &Client,
    at: Option<DateTime<Utc>>,
    out: &Path,
) -> anyhow::Result<()> {
    let tz = cfg.tz();
    let rot = rotation(args, &cfg.display)?;
    let (pw, ph) = parse_size(args.size.as_deref().unwrap_or("480x800"))?;
    let mut st = State::new();
    st.apply(poll(client, tz).await, tz);
    if !st.online {
        tracing::warn!(
            server = client.authority(),
            "no answer: drawing the reconnecting screen"
        );
    }
    let now = at.unwrap_or_else(|| Utc::now() + st.offset);
    if args.offline {
        st.online = false;
        if at.is_some() {
            st.answered_at = Some(now);
        }
    }
    let (w, h) = rotate::physical_size(pw, ph, rot);
    let mut canvas = Canvas::new(w, h);
    let mut r = Renderer::new();
    let screen = model::screen(&st.inputs(now, tz, cfg.display.touch));
    r.draw(&screen, &mut canvas);
    write_png(out, &canvas, rot)?;
    println!("{}", out.display());
    Ok(())
}

/// Console in graphics mode while we draw; text mode again when dropped.
struct ConsoleGuard(Option<std::fs::File>);

impl ConsoleGuard {
    fn take() -> ConsoleGuard {
        let f = std::fs::OpenOptions::new().write(true).open(CONSOLE);
        match f {
            Ok(f) => match sys::kd_set_mode(&f, true) {
                Ok(()) => ConsoleGuard(Some(f)),
                Err(e) => {
                    tracing::info!(console = CONSOLE, error = %e, "console left in text mode");
                    ConsoleGuard(None)
                }
            },
            Err(e) => {
                tracing::info!(console = CONSOLE, error = %e, "no console to switch");
                ConsoleGuard(None)
            }
        }
    }
}

impl Drop for ConsoleGuard {
    fn drop(&mut self) {
        if let Some(f) = &self.0 {
            match sys::kd_set_mode(f, false) {
                Ok(()) => tracing::info!("console restored"),
                Err(e) => tracing::warn!(error = %e, "cannot restore the console"),
            }
        }
    }
}

/// Switch every backlight's `bl_power` (0 = on, 4 = off); absent or read-only is fine.
fn backlight(on: bool) {
    let Ok(dir) = std::fs::read_dir("/sys/class/backlight") else {
        return;
    };
    for e in dir.flatten() {
        let p = e.path().join("bl_power");
        if let Err(err) = std::fs::write(&p, if on { "0" } else { "4" }) {
            tracing::debug!(path = %p.display(), error = %err, "backlight switch not written");
        }
    }
}

async fn run(
    cfg: crate::config::Config,
    args: DisplayArgs,
    client: Client,
    at: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    let tz = cfg.tz();
    let dc = cfg.display.clone();
    let rot = rotation(&args, &dc)?;
    let device = args
        .device
        .clone()
        .unwrap_or_else(|| PathBuf::from(&dc.device));
    let spec_text = args
        .fb_geometry
        .clone()
        .unwrap_or_else(|| dc.geometry.clone());
    let spec =
        if spec_text.is_empty() {
            None
        } else {
            Some(GeometrySpec::parse(&spec_text).with_context(|| {
                format!("--fb-geometry {spec_text:?}: expected WxHxBPP[+STRIDE]")
            })?)
        };
    let mut fb = fb::Framebuffer::open(&device, spec)?;
    if args.fb_mmap {
        fb.map_file()?;
    }
    let g = fb.geometry;
    tracing::info!(
        device = %device.display(),
        geometry = %g.describe(),
        mapped = fb.is_mapped(),
        rotation = rot,
        server = client.authority(),
        "display starting"
    );
    if args.stats {
        println!("geometry {} rotation {rot}", g.describe());
    }
    let _console = fb.is_device.then(ConsoleGuard::take);
    let (cw, ch) = fb.canvas_size(rot);
    let mut canvas = Canvas::new(cw, ch);
    let mut renderer = Renderer::new();
    let mut st = State::new();
    st.apply(poll(&client, tz).await, tz);
    if dc.follow_meetings && st.online {
        let now = at.unwrap_or_else(|| Utc::now() + st.offset);
        if let Some(d) = st.day.as_mut() {
            d.first_start = first_start(&client, now, tz).await;
        }
    }
    let mut taps = if dc.touch {
        match touch::spawn(Path::new(&dc.touch_device), (g.xres, g.yres)) {
            Ok(rx) => Some(rx),
            Err(e) => {
                tracing::warn!(device = %dc.touch_device, error = %e, "touch disabled");
                None
            }
        }
    } else {
        None
    };
    let shutdown = crate::ops::shutdown_signal();
    tokio::pin!(shutdown);
    let (poll_tx, mut poll_rx) = tokio::sync::mpsc::channel::<(
        Result<Polled, client::ClientError>,
        Option<DateTime<Utc>>,
    )>(2);
    let poll_now = std::sync::Arc::new(tokio::sync::Notify::new());
    // Poller: whats-next (and the day's span) every poll_secs, RETRY_SECS after a failure.
    if at.is_none() {
        let (pclient, notify, follow) = (client.clone(), poll_now.clone(), dc.follow_meetings);
        let every = Duration::from_secs(dc.poll_secs as u64);
        let mut ok = st.online;
        // Until the server says its first refresh is done, an empty answer may only mean
        // "not loaded yet" (a large feed takes a while on a Pi): poll every RETRY_SECS then.
        // (Checked before each poll, so the answer polled at start is never trusted alone.)
        let mut settled = false;
        tokio::spawn(async move {
            loop {
                let wait = if ok && settled {
                    every
                } else {
                    Duration::from_secs(RETRY_SECS)
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = notify.notified() => {}
                }
                // Loaded before this poll: its answer reflects the calendar.
                let loaded = settled || calendar_loaded(&pclient).await;
                let r = poll(&pclient, tz).await;
                ok = r.is_ok();
                settled = loaded;
                let first = match (&r, follow) {
                    (Ok(p), true) => first_start(&pclient, p.server_now, tz).await,
                    _ => None,
                };
                if poll_tx.send((r, first)).await.is_err() {
                    return;
                }
            }
        });
        // Heartbeat: the display probe of /api/health.
        let hclient = client.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = hclient
                    .request("POST", "/api/browser-heartbeat", Some(""))
                    .await
                {
                    tracing::debug!(error = %e, "heartbeat not delivered");
                }
                tokio::time::sleep(Duration::from_secs(HEARTBEAT_SECS)).await;
            }
        });
    }
    let watchdog = crate::ops::watchdog_period();
    let mut last_ping = Instant::now() - Duration::from_secs(3600);
    let mut powered = true;
    let mut hits = Hits::default();
    let mut frame: u64 = 0;
    let started = Instant::now();
    let mut next = tokio::time::Instant::now();
    loop {
        let now = match at {
            Some(t) => t + chrono::Duration::seconds(frame as i64),
            None => Utc::now() + st.offset,
        };
        let on = schedule::screen_on(&dc, now, tz, st.day.as_ref());
        if on != powered {
            tracing::info!(on, "screen power");
            if let Err(e) = fb.set_power(on) {
                tracing::warn!(error = %e, "FBIOBLANK failed");
            }
            backlight(on);
            powered = on;
            fb.invalidate();
        }
        let (mut written, mut painted) = (0, 0);
        let t0 = Instant::now();
        if on {
            let screen = model::screen(&st.inputs(now, tz, dc.touch));
            // Lay the frame out as a list of drawing operations, then paint and write only
            // the rectangles where it differs from the last one (display::damage).
            canvas.record();
            hits = renderer.draw(&screen, &mut canvas);
            let damage = canvas.replay(&mut renderer.fonts);
            painted = damage.area(canvas.w, canvas.h);
            written = fb.present(&canvas, rot, schedule::pixel_shift(&dc, now), &damage)?;
        }
        let took = t0.elapsed();
        frame += 1;
        if args.stats {
            println!(
                "frame={frame} rows={} written={written} painted={painted} render_us={} online={} on={on}",
                g.yres,
                took.as_micros(),
                st.online
            );
        }
        if frame == 1 {
            crate::ops::ready(&format!(
                "drawing on {} ({})",
                device.display(),
                g.describe()
            ));
            // What ran only to start (configuration, arguments, logging setup) leaves the
            // resident set; the code the loop runs comes back as it runs (docs/display.md).
            match crate::sys::release_file_pages() {
                Ok(n) => tracing::debug!(bytes = n, "start-up code pages released"),
                Err(e) => tracing::debug!(error = %e, "start-up code pages kept"),
            }
        }
        if let Some(p) = watchdog
            && last_ping.elapsed() >= p
        {
            crate::ops::watchdog_ping();
            last_ping = Instant::now();
        }
        if args.frames.is_some_and(|n| frame >= n) {
            break;
        }
        if at.is_some() {
            continue;
        }
        // Next whole second of our clock (the countdown ticks with the wall clock).
        let sub = Utc::now().timestamp_subsec_millis() as u64;
        next = next.max(tokio::time::Instant::now()) + Duration::from_millis(1000 - sub.min(999));
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => break,
                Some((r, first)) = poll_rx.recv() => {
                    st.apply(r, tz);
                    if let (Some(f), Some(d)) = (first, st.day.as_mut()) {
                        d.first_start = Some(f);
                    }
                }
                Some(tap) = async { match taps.as_mut() { Some(t) => t.recv().await, None => std::future::pending().await } } => {
                    let (lx, ly) = rotate::to_logical(tap.x, tap.y, g.xres as f32, g.yres as f32, rot);
                    let id = st.answer.as_ref().and_then(|a| a.meeting.as_ref()).map(|m| m.meeting_id.clone());
                    if let (Some(b), Some(id)) = (hits.skip, id) && powered && b.contains(lx, ly) {
                        let body = serde_json::json!({ "meeting_id": id }).to_string();
                        match client.request("POST", "/api/skip", Some(&body)).await {
                            Ok(_) => tracing::info!(meeting_id = %id, "skipped by tap"),
                            Err(e) => tracing::warn!(error = %e, "skip failed"),
                        }
                        poll_now.notify_one();
                    }
                }
                _ = &mut shutdown => {
                    crate::ops::stopping();
                    tracing::info!(frames = frame, uptime_s = started.elapsed().as_secs(), "display stopping");
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}
