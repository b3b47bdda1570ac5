//! calendarbot: a meeting kiosk for the Raspberry Pi Zero 2W.
//!
//! It fetches ICS feeds, expands their recurrences, keeps the last good occurrences of every
//! feed in SQLite and serves a kiosk page plus CalendarBot's JSON API. `main.rs` is only the
//! command line; everything else lives here so tests can build the parts themselves (a
//! listener bound to port 0, a shutdown future they control).
//!
//! # Layout (data flows one way; docs/architecture.md is the plan, `ci/modcheck.py` checks it)
//! Leaves first; a module uses only those listed before it.
//! - [`clock`]: "now", fixed by CALENDARBOT_TEST_TIME in tests and demos.
//! - `fault`: test-only injected faults (cargo feature `fault-injection`).
//! - `sys`: the one place with `unsafe` (handing freed heap back to the kernel; the
//!   framebuffer's ioctls).
//! - [`ics`]: the pure RFC 5545 engine (the workspace crate `crates/ics`): parse, time zones,
//!   recurrence. Re-exported here so the rest of the crate says `crate::ics`.
//! - [`version`]: the release version (stamped by `ci/release.sh`), git commit, build profile.
//! - [`config`]: layered configuration (defaults < TOML < `CALENDARBOT_*`) and validation.
//! - `breaker`, `batch`, `pool`: circuit breakers, write batching, the connection manager
//!   (SQLite pool, shared HTTP client): the leaves of the optimisation layer.
//! - `demo`: the built-in demo calendar served when no feed is configured.
//! - `policy`: a source's `owner` / `privacy` settings applied to its window (declined
//!   occurrences, events shown as busy) before it enters the snapshot.
//! - [`snapshot`]: the immutable, versioned calendar the server answers from, and live health.
//! - [`store`]: SQLite: last good window per source, skips, service state.
//! - `answers`: pure functions of a snapshot and "now": what the API says.
//! - [`fetch`]: the HTTP/file feed fetcher (conditional GET, content hash, retries).
//! - [`voice`]: the Alexa routes and day-level answers (done for the day, summaries).
//! - `pipeline`: the optimisation layer's read path: memo, cache, coalescing, service mode,
//!   monitor, reports; the plain path beside each part.
//! - [`app`]: the hub that owns the snapshot, the store and the pipeline.
//! - `refresh`: one task per source: fetch → expand → store → new snapshot.
//! - [`server`]: hyper accept loop, the route table, embedded kiosk page, limits.
//! - `ops`: systemd notification (READY, WATCHDOG gated by a probe, STATUS) and logging.
//! - [`service`]: assembly: build every part from a config and run until shutdown.
//! - [`expand_cmd`]: `calendarbot expand`: the engine's output as JSON lines.
//! - [`display`]: `calendarbot display`, the kiosk drawn on the framebuffer (no browser); a
//!   second process that reads the server's API over loopback.
//! - [`check_feed`]: `calendarbot check-feed`: one fetch as the service does it, a report of
//!   what the engine makes of the feed, and a redacted export for bug reports.
//! - [`update`]: `calendarbot update`: signed bundles into two slots, an atomic switch, the
//!   health gate and rollback; and the launcher that runs the current slot's binary.
//!
//! Modules that nothing outside the crate needs are private, so that `unreachable_pub` and
//! dead-code warnings can see what is unused; `unsafe` is denied except in `sys`.

#![deny(unsafe_code)]
#![deny(unreachable_pub)]
// The API docs are built with private items (`cargo doc --document-private-items`): they are
// for the people who work on this crate, and links to private modules then resolve.
#![allow(rustdoc::private_intra_doc_links)]

mod answers;
pub mod app;
mod batch;
mod breaker;
pub mod check_feed;
pub mod clock;
pub mod config;
mod demo;
pub mod display;
mod fault;
pub mod fetch;
pub use calendarbot_ics as ics;
pub mod expand_cmd;
mod ops;
mod pipeline;
mod policy;
mod pool;
mod pressure;
mod refresh;
pub mod server;
pub mod service;
pub mod snapshot;
pub mod store;
mod sys;
pub mod update;
pub mod version;
pub mod voice;
