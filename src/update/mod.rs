//! `calendarbot update`: field updates from signed bundles into two slots, switched
//! atomically, kept only if the new version passes a health gate, rolled back otherwise.
//!
//! Why it exists: a kiosk in the field must update itself without anyone pulling its SD card,
//! and a bad release ("black screen after update") must roll back by itself. The contract
//! (formats, steps, what an operator sees) is docs/updates.md. The updater is always the
//! image's factory binary: it never launches into a slot, so a broken release cannot break
//! its own rollback.
//!
//! - `manifest`: the signed manifest, the release keys, the install decision.
//! - `bundle`: fetching (size-capped, `file://` and https) and unpacking a bundle;
//!   `ustar`: the bundle's tar, read from memory.
//! - `slots`: the state directory: `state.json`, slots, the `current` symlink.
//! - `db`: the database snapshot and its restore.
//! - `host`: systemd and the health endpoint behind a trait (faked in the unit tests).
//! - `machine`: the steps, the gate, commit, rollback and recovery.
//! - `launcher`: `serve`/`display` exec the current slot's binary.

mod bundle;
mod db;
mod host;
pub mod launcher;
mod machine;
mod manifest;
mod slots;
mod ustar;

pub use launcher::launch;

use crate::config::{self, Config};
use std::path::{Path, PathBuf};

/// Exit codes of `calendarbot update` (also in its `--help`).
pub mod exit {
    /// Installed, up to date, updates off, rolled back on `--rollback`, or status printed.
    pub const OK: u8 = 0;
    /// Refused: signature, key, hash, channel, version (downgrade, bad) or size.
    pub const REFUSED: u8 = 1;
    /// Usage or configuration error.
    pub const USAGE: u8 = 2;
    /// The channel could not be fetched (network, missing file).
    pub const FETCH: u8 = 3;
    /// The new version failed the health gate and was rolled back.
    pub const ROLLED_BACK: u8 = 4;
    /// A local failure (I/O, systemctl, state.json) or another run holds the lock.
    pub const LOCAL: u8 = 5;
}

/// Why an update step failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpdateError {
    /// Verification or policy refused the release; nothing was written to a slot.
    #[error("refused: {0}")]
    Refused(String),
    /// The release key could not be read.
    #[error("release key: {0}")]
    Key(String),
    /// Fetching failed.
    #[error("fetch failed: {0}")]
    Fetch(String),
    /// A local failure.
    #[error("{0}")]
    Io(String),
}

impl UpdateError {
    fn exit_code(&self) -> u8 {
        match self {
            UpdateError::Refused(_) | UpdateError::Key(_) => exit::REFUSED,
            UpdateError::Fetch(_) => exit::FETCH,
            UpdateError::Io(_) => exit::LOCAL,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing to do (and why).
    Nothing(String),
    /// This version was installed and passed the gate.
    Installed(String),
    /// This version was rolled back (and why).
    RolledBack(String, String),
    /// An attempt interrupted before its switch was abandoned.
    Interrupted(String),
    /// A rollback itself failed (the message says what to do).
    Failed(String),
}

/// `calendarbot update`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct UpdateArgs {
    /// Verify only: fetch and check the manifest, print what would be done, write nothing.
    #[arg(long, conflicts_with_all = ["rollback", "status"])]
    pub check: bool,
    /// Roll back to the previous version (or the factory binary) and mark the current one bad.
    #[arg(long, conflicts_with = "status")]
    pub rollback: bool,
    /// Why (with --rollback), recorded as the last attempt's reason.
    #[arg(long, value_name = "TEXT", requires = "rollback")]
    pub reason: Option<String>,
    /// Print the state (state.json's summary) and exit.
    #[arg(long)]
    pub status: bool,
    /// The state directory (default: the configured update.state_dir).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// `calendarbot update`: returns the exit code.
pub fn update_command(config_path: Option<&Path>, args: &UpdateArgs) -> u8 {
    let loaded = match config::load(config_path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return exit::USAGE;
        }
    };
    // UPDATE_STEP, UPDATE_VERSION, …: the updater's journal fields carry no `F_` prefix.
    crate::ops::init_logging_with_prefix(&loaded.config.log_level, None);
    let mut cfg: Config = loaded.config;
    if let Some(d) = &args.state_dir {
        cfg.update.state_dir = d.clone();
    }
    if args.status {
        return print_status(&cfg.update.state_dir);
    }
    let dir = slots::Dir::new(&cfg.update.state_dir);
    let addr = health_addr(&cfg);
    let mut host = host::RealHost::new(addr);
    let mut up = machine::Updater {
        cfg: &cfg.update,
        dir: dir.clone(),
        db: cfg.effective_data_dir().join(crate::store::DB_FILE),
        host: &mut host,
        factory_version: crate::version::version().to_string(),
    };
    if args.check {
        return check_only(&mut up);
    }
    // One run at a time: the timer's run and OnFailure's rollback never interleave.
    if let Err(e) = dir.create() {
        eprintln!("cannot create {}: {e}", dir.root.display());
        return exit::LOCAL;
    }
    let lock = match std::fs::File::create(dir.root.join("lock")) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot open the lock: {e}");
            return exit::LOCAL;
        }
    };
    if lock.try_lock().is_err() {
        // A run in progress handles its own failures (its gate sees the unit fail).
        let msg = "another update run holds the lock; it handles this";
        machine::log_step("lock", "", "", "busy", msg);
        println!("{msg}");
        return if args.rollback { exit::OK } else { exit::LOCAL };
    }
    let result = if args.rollback {
        let reason = args.reason.as_deref().unwrap_or("rollback requested");
        up.rollback_command(reason)
    } else {
        up.run()
    };
    report(result)
}

/// Print a run's outcome; its exit code.
fn report(result: Result<Outcome, UpdateError>) -> u8 {
    match result {
        Ok(Outcome::Nothing(msg)) => {
            println!("{msg}");
            exit::OK
        }
        Ok(Outcome::Installed(v)) => {
            println!("installed {v}");
            exit::OK
        }
        Ok(Outcome::Interrupted(v)) => {
            println!("an interrupted attempt at {v} was abandoned before its switch");
            exit::OK
        }
        Ok(Outcome::RolledBack(v, why)) => {
            println!("rolled back {v}: {why}");
            exit::ROLLED_BACK
        }
        Ok(Outcome::Failed(msg)) => {
            eprintln!("update failed: {msg}");
            exit::LOCAL
        }
        Err(e) => {
            eprintln!("update: {e}");
            e.exit_code()
        }
    }
}

/// `--check`: verify and say what a run would do; nothing is written.
fn check_only<H: host::Host>(up: &mut machine::Updater<'_, H>) -> u8 {
    if up.cfg.url.is_empty() {
        println!("updates are off ([update] url is not set)");
        return exit::OK;
    }
    let st = match crate::version::state::read(&up.dir.root) {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => {
            eprintln!("update: {e}");
            return exit::LOCAL;
        }
    };
    match up.check(&st) {
        Ok((m, manifest::Decision::Install)) => {
            let slot = slots::other_slot(up.dir.current_slot().as_deref());
            let b = m.bundle().map(|b| b.size).unwrap_or(0);
            println!(
                "would install {} (commit {}, bundle {b} bytes) into slot {slot}",
                m.version, m.git_commit
            );
            exit::OK
        }
        Ok((m, manifest::Decision::UpToDate)) => {
            println!("up to date: {} is installed", m.version);
            exit::OK
        }
        Err(e) => {
            eprintln!("update: {e}");
            e.exit_code()
        }
    }
}

/// `--status`: state.json's summary as JSON (the same object as `/api/health`'s `update`).
fn print_status(state_dir: &Path) -> u8 {
    let s = crate::version::state::summary(state_dir);
    let trying = crate::version::state::read(state_dir)
        .ok()
        .flatten()
        .and_then(|st| st.trying);
    let mut v = serde_json::to_value(&s).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        map.insert(
            "trying".into(),
            serde_json::to_value(trying).unwrap_or_default(),
        );
    }
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    if s.error.is_some() {
        exit::LOCAL
    } else {
        exit::OK
    }
}

/// The server's health address: its bind address, loopback when it binds every address.
fn health_addr(cfg: &Config) -> std::net::SocketAddr {
    let ip = match cfg.web_host.parse::<std::net::IpAddr>() {
        Ok(ip) if ip.is_unspecified() && ip.is_ipv6() => std::net::Ipv6Addr::LOCALHOST.into(),
        Ok(ip) if !ip.is_unspecified() => ip,
        _ => std::net::Ipv4Addr::LOCALHOST.into(),
    };
    std::net::SocketAddr::new(ip, cfg.web_port)
}

#[cfg(test)]
mod tests;
