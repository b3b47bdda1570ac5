//! The real `calendarbot` binary as a child process, on a port picked here.
//!
//! There is one way to start it, [`Binary::launch`] (through [`Binary::start`] and
//! [`Binary::start_answering`]), and one way to pick its port, [`free_port`]. A port picked
//! that way is released before the child binds it, so another process can take it in between:
//! a port race. Then, and only then, the start is tried again on a new port. Any other
//! failure (the child exits for another reason, or is not ready in time) fails the test at
//! once with the child's stderr.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How many ports a start tries when each one is taken by another process before the child
/// binds it.
const PORT_ATTEMPTS: usize = 5;

/// How long a start may take before it fails the test.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// A free TCP port on 127.0.0.1 (bound and released; the binary binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real binary with a clean environment (except where a coverage run asks the
/// instrumented binary to write its profile: `ci/coverage.sh`).
pub fn command() -> Command {
    command_for(Path::new(env!("CARGO_BIN_EXE_calendarbot")))
}

/// [`command`] for another build of the binary (a release's stamped copy: tests/release.rs).
pub fn command_for(program: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear();
    if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
        cmd.env("LLVM_PROFILE_FILE", profile);
    }
    cmd
}

/// When a started binary counts as ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// `/api/health` answers (200 or 503): stored data is loaded and served; the first
    /// refresh may still be running or failing.
    Answering,
    /// `/api/health` says the first refresh of every source is done.
    FirstRefresh,
}

/// Why a start attempt did not get a ready binary.
enum Failed {
    /// Another process took the port before the child could bind it.
    PortTaken,
    /// Anything else: not retried.
    Other(String),
}

/// A running `calendarbot serve`.
pub struct Binary {
    pub child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// The child's stderr goes straight into this file, so whatever the child has logged is
    /// there to read (no reader thread to lag behind); removed on drop.
    log: tempfile::NamedTempFile,
}

impl Binary {
    /// Start the binary with `env` (CALENDARBOT_WEB_PORT is chosen here) and wait until it
    /// answers /api/health with its first refresh complete.
    pub fn start(data_dir: &Path, env: &[(&str, String)]) -> Binary {
        Self::launch(data_dir, env, Ready::FirstRefresh, free_port)
    }

    /// Start the binary with `env` and wait until it answers /api/health at all (for tests
    /// that watch the first refresh, or serve from storage with every feed down).
    pub fn start_answering(data_dir: &Path, env: &[(&str, String)]) -> Binary {
        Self::launch(data_dir, env, Ready::Answering, free_port)
    }

    /// Start `calendarbot serve` with data in `data_dir`, on a port from `pick_port`, with
    /// `env` (applied last, so it may override the defaults set here), and wait until it is
    /// `ready`. If another process took the port first (the child says the address is in
    /// use), start again on the next port from `pick_port`; fail at once on anything else.
    pub fn launch(
        data_dir: &Path,
        env: &[(&str, String)],
        ready: Ready,
        pick_port: impl FnMut() -> u16,
    ) -> Binary {
        let program = Path::new(env!("CARGO_BIN_EXE_calendarbot"));
        Self::launch_program(program, data_dir, env, ready, pick_port)
    }

    /// [`Binary::launch`] of another build of the binary (`program`).
    pub fn launch_program(
        program: &Path,
        data_dir: &Path,
        env: &[(&str, String)],
        ready: Ready,
        mut pick_port: impl FnMut() -> u16,
    ) -> Binary {
        let mut taken = Vec::new();
        let mut last_log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = pick_port();
            let mut b = Self::spawn(program, data_dir, env, port);
            match b.wait(ready, READY_WITHIN) {
                Ok(()) => return b,
                Err(Failed::PortTaken) => {
                    taken.push(port);
                    last_log = b.log();
                }
                Err(Failed::Other(why)) => {
                    b.kill();
                    panic!(
                        "calendarbot on port {port} {why}\n--- stderr ---\n{}",
                        b.log()
                    );
                }
            }
        }
        panic!(
            "calendarbot found its port taken {PORT_ATTEMPTS} times (ports {taken:?})\n\
             --- stderr (last attempt) ---\n{last_log}"
        );
    }

    fn spawn(program: &Path, data_dir: &Path, env: &[(&str, String)], port: u16) -> Binary {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut cmd = command_for(program);
        cmd.arg("serve")
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CALENDARBOT_WEB_HOST", "127.0.0.1")
            .env("CALENDARBOT_WEB_PORT", port.to_string())
            .env("CALENDARBOT_DATA_DIR", data_dir)
            .env("CALENDARBOT_LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Binary {
            child: cmd.spawn().expect("spawn calendarbot"),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            data_dir: data_dir.to_path_buf(),
            log,
        }
    }

    /// Wait until this child (its pid in the health answer, not another process that holds
    /// the port) is `ready`.
    fn wait(&mut self, ready: Ready, within: Duration) -> Result<(), Failed> {
        let client = json_client();
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(self.exited(status));
            }
            if let Ok((_, health)) = self.get_with(&client, "/api/health")
                && health["server_status"]["pid"] == self.child.id()
                && (ready == Ready::Answering
                    || health["data_status"]["initial_refresh_complete"] == true)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Failed::Other(format!(
                    "was not ready ({ready:?}) within {within:?}"
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Classify an early exit: the port race is the one failure a retry can fix.
    fn exited(&self, status: ExitStatus) -> Failed {
        let log = self.log().to_ascii_lowercase();
        if log.contains("address already in use") || log.contains("address in use") {
            Failed::PortTaken
        } else {
            Failed::Other(format!("exited early ({status})"))
        }
    }

    /// Everything the child wrote to stderr so far.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.log.path()).unwrap_or_default()).into_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// GET → (status, JSON body).
    pub fn get(&self, path: &str) -> Result<(u16, serde_json::Value), String> {
        self.get_with(&json_client(), path)
    }

    fn get_with(
        &self,
        client: &reqwest::blocking::Client,
        path: &str,
    ) -> Result<(u16, serde_json::Value), String> {
        let resp = client
            .get(self.url(path))
            .send()
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp.text().map_err(|e| e.to_string())?;
        let json = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        Ok((status, json))
    }

    /// GET → the body as text (`/metrics`).
    pub fn text(&self, path: &str) -> String {
        json_client()
            .get(self.url(path))
            .send()
            .and_then(|r| r.text())
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// POST JSON → (status, JSON body).
    pub fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let client = reqwest::blocking::Client::new();
        let resp = client.post(self.url(path)).json(&body).send().unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().unwrap())
    }

    /// Subject of the meeting /api/whats-next shows, if any.
    pub fn next_subject(&self) -> Option<String> {
        let (_, v) = self.get("/api/whats-next").unwrap();
        v["meeting"]["subject"].as_str().map(str::to_string)
    }

    /// The entry of /api/health's `sources` named `name`, and the HTTP status.
    pub fn source_health(&self, name: &str) -> (u16, serde_json::Value) {
        let (status, v) = self.get("/api/health").unwrap();
        let entry = v["sources"]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["name"] == name).cloned())
            .unwrap_or(serde_json::Value::Null);
        (status, entry)
    }

    /// Peak resident memory of the process in kB (VmHWM).
    pub fn vm_hwm_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// SIGTERM, then wait (killing after 10 s).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        None
    }

    /// SIGKILL, no cleanup.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The client of [`Binary::get`]: a 5 s timeout.
fn json_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}
