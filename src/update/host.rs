//! What the updater asks of the machine: systemd (restart, stop, reset-failed, the unit's
//! state and restart count), the service's `/api/health`, and time.
//!
//! Why a trait: the state machine is tested without systemd and without waiting. The real
//! implementation calls `systemctl` (or the program `CALENDARBOT_SYSTEMCTL` names: the
//! integration tests' stand-in) and GETs health over loopback; the unit tests' fake plays
//! "starts fine", "exits at start", "never READY", "answers the old version" and power cuts.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The server's unit.
pub(crate) const UNIT: &str = "calendarbot.service";
/// The display's unit (restarted with the server when it runs).
pub(crate) const DISPLAY_UNIT: &str = "calendarbot-display.service";
/// Environment variable naming the `systemctl` to call (tests).
pub(crate) const SYSTEMCTL_ENV: &str = "CALENDARBOT_SYSTEMCTL";

/// A unit's state as `systemctl show -p ActiveState,NRestarts` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct UnitState {
    /// `active`, `activating`, `failed`, `inactive`, …
    pub active: String,
    /// Restarts systemd made since the unit was last started by hand.
    pub n_restarts: u64,
}

/// What `/api/health` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HealthAnswer {
    /// The HTTP status.
    pub status: u16,
    /// Its top-level `version`.
    pub version: Option<String>,
}

/// The machine, as the updater sees it.
pub(crate) trait Host {
    /// `systemctl restart --no-block UNIT`.
    fn restart(&mut self, unit: &str) -> Result<(), String>;
    /// `systemctl stop UNIT`.
    fn stop(&mut self, unit: &str) -> Result<(), String>;
    /// `systemctl reset-failed UNIT`.
    fn reset_failed(&mut self, unit: &str) -> Result<(), String>;
    /// `systemctl show -p ActiveState,NRestarts UNIT`.
    fn show(&mut self, unit: &str) -> Result<UnitState, String>;
    /// GET `/api/health` once (`None`: no answer).
    fn health(&mut self) -> Option<HealthAnswer>;
    /// Wait.
    fn sleep(&mut self, d: Duration);
    /// Time since this host was made.
    fn elapsed(&mut self) -> Duration;
    /// Called after each step (the tests cut the power here).
    fn after_step(&mut self, _step: &str) {}
}

/// The real machine: `systemctl` and a loopback GET.
pub(crate) struct RealHost {
    systemctl: PathBuf,
    health: SocketAddr,
    started: Instant,
}

impl RealHost {
    /// `health` is where the server listens (its loopback address).
    pub(crate) fn new(health: SocketAddr) -> RealHost {
        let systemctl = std::env::var_os(SYSTEMCTL_ENV)
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from("systemctl"), PathBuf::from);
        RealHost {
            systemctl,
            health,
            started: Instant::now(),
        }
    }

    fn run(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(&self.systemctl)
            .args(args)
            .output()
            .map_err(|e| format!("{}: {e}", self.systemctl.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "systemctl {}: {} {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
}

impl Host for RealHost {
    fn restart(&mut self, unit: &str) -> Result<(), String> {
        self.run(&["restart", "--no-block", unit]).map(drop)
    }
    fn stop(&mut self, unit: &str) -> Result<(), String> {
        self.run(&["stop", unit]).map(drop)
    }
    fn reset_failed(&mut self, unit: &str) -> Result<(), String> {
        self.run(&["reset-failed", unit]).map(drop)
    }
    fn show(&mut self, unit: &str) -> Result<UnitState, String> {
        let text = self.run(&["show", "-p", "ActiveState,NRestarts", unit])?;
        Ok(parse_show(&text))
    }
    fn health(&mut self) -> Option<HealthAnswer> {
        get_health(self.health).ok()
    }
    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
    fn elapsed(&mut self) -> Duration {
        self.started.elapsed()
    }
}

/// `ActiveState=active\nNRestarts=2\n` → the state.
pub(crate) fn parse_show(text: &str) -> UnitState {
    let mut s = UnitState::default();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("ActiveState=") {
            s.active = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("NRestarts=") {
            s.n_restarts = v.trim().parse().unwrap_or(0);
        }
    }
    s
}

/// The largest health answer read.
const MAX_HEALTH_BYTES: u64 = 1 << 20;

/// One `GET /api/health` over HTTP/1.0 (the answer is read to its end, at most 1 MiB).
fn get_health(addr: SocketAddr) -> std::io::Result<HealthAnswer> {
    let timeout = Duration::from_secs(5);
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "GET /api/health HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.take(MAX_HEALTH_BYTES).read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no HTTP status line"))?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let version = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let top = v.get("version").and_then(|x| x.as_str());
            let sys = v
                .pointer("/system_diagnostics/version")
                .and_then(|x| x.as_str());
            top.or(sys).map(str::to_string)
        });
    Ok(HealthAnswer { status, version })
}
