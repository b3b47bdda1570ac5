//! calendarbot: a meeting kiosk for the Raspberry Pi Zero 2W.
//!
//! It fetches ICS feeds, expands their recurrences, keeps the last good occurrences of every
//! feed in SQLite and serves a kiosk page plus CalendarBot's JSON API. `main.rs` is only the
//! command line; everything else lives here so tests can build the parts themselves (a
//! listener bound to port 0, a shutdown future they control).
//!
//! # Layout (data flows one way, see ARCHITECTURE.md)
//! - [`config`]: layered configuration (defaults < TOML < `CALENDARBOT_*`) and validation.
//! - [`clock`]: "now", fixed by CALENDARBOT_TEST_TIME in tests and demos.
//! - [`ics`]: the pure RFC 5545 engine: parse, time zones, recurrence.
//! - [`fetch`]: the HTTP/file feed fetcher (conditional GET, content hash, retries).
//! - [`store`]: SQLite: last good window per source, skips, service state.
//! - [`refresh`]: one task per source: fetch → expand → store → new snapshot.
//! - [`snapshot`]: the immutable, versioned calendar the server answers from, and live health.
//! - [`app`]: the hub that owns the snapshot, the store and the status board.
//! - [`answers`]: pure functions of a snapshot and "now": what the API says.
//! - [`server`]: hyper accept loop, routes, embedded kiosk page, limits, graceful shutdown.
//! - [`demo`]: the built-in demo calendar served when no feed is configured.
//! - [`pool`]: connection manager: SQLite pool (one writer, readers) and shared HTTP client.
//! - [`pipeline`]: the optimisation layer: response cache, coalescing, write batching,
//!   monitor, fallback switch; the plain path beside each part.
//! - [`fault`]: test-only injected faults (cargo feature `fault-injection`).
//! - [`ops`]: systemd notification (READY, WATCHDOG gated by a probe, STATUS) and logging.
//! - [`service`]: assembly: build every part from a config and run until shutdown.
//! - [`voice`]: the Alexa routes and day-level answers (done for the day, summaries).
//! - [`display`]: `calendarbot display`, the kiosk drawn on the framebuffer (no browser).

pub mod answers;
pub mod app;
pub mod clock;
pub mod config;
pub mod demo;
pub mod display;
pub mod fault;
pub mod fetch;
pub mod ics;
pub mod ops;
pub mod pipeline;
pub mod pool;
pub mod refresh;
pub mod server;
pub mod service;
pub mod snapshot;
pub mod store;
pub mod voice;
