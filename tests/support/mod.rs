//! Shared test helpers: a real server in-process (real Store in a tempdir, real TCP on
//! 127.0.0.1:0) and the real binary as a child process.
#![allow(dead_code)]

use calendarbot::app::App;
use calendarbot::clock::Clock;
use calendarbot::config::Config;
use calendarbot::ics::{Details, EventText, Occurrence, Status, When};
use calendarbot::store::Store;
use chrono::{DateTime, Utc};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A busy timed occurrence.
pub fn meeting(id: &str, subject: &str, start: &str, end: &str) -> Occurrence {
    Occurrence {
        details: Arc::new(Details::from(EventText {
            uid: id.to_string(),
            subject: subject.to_string(),
            location: "Room 4".to_string(),
            ..Default::default()
        })),
        start: When::Timed(t(start)),
        end: When::Timed(t(end)),
        status: Status::Busy,
        recurring: false,
        expanded: false,
    }
}

/// The real server, in this process, on its own runtime thread.
pub struct InProcess {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
    pub dir: tempfile::TempDir,
}

impl InProcess {
    pub fn start(occurrences: Vec<Occurrence>, now: &str) -> InProcess {
        Self::start_with(occurrences, now, Config::default(), |_| {})
    }

    /// Start with `config`; `tune` may change the derived server options.
    pub fn start_with(
        occurrences: Vec<Occurrence>,
        now: &str,
        config: Config,
        tune: impl FnOnce(&mut calendarbot::server::ServeOptions),
    ) -> InProcess {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let config = Arc::new(config);
        let mut opts = calendarbot::server::ServeOptions::from_config(&config.server);
        tune(&mut opts);
        let app = Arc::new(calendarbot::service::hub(
            config,
            Clock::Fixed(t(now)),
            chrono_tz::Tz::UTC,
            store,
            None,
        ));
        app.set_source_occurrences("test", occurrences);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let app2 = app.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                addr_tx.send(listener.local_addr()?).unwrap();
                let shutdown = async move {
                    let _ = rx.await;
                };
                calendarbot::server::serve_with(listener, app2, shutdown, opts).await
            })
        });
        let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        InProcess {
            addr,
            app,
            stop: Some(tx),
            thread: Some(thread),
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Signal shutdown and wait for `serve` to return.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(h) => h.join().expect("server thread panicked"),
            None => Ok(()),
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real `calendarbot serve` as a child process.
pub struct Binary {
    pub child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    log: Arc<std::sync::Mutex<String>>,
}

impl Binary {
    /// Start the binary with `env` (CALENDARBOT_WEB_PORT is chosen here) and wait until it
    /// answers /api/health with its first refresh complete.
    pub fn start(data_dir: &Path, env: &[(&str, String)]) -> Binary {
        let mut last_err = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_calendarbot"));
            cmd.arg("serve")
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("CALENDARBOT_WEB_HOST", "127.0.0.1")
                .env("CALENDARBOT_WEB_PORT", port.to_string())
                .env("CALENDARBOT_DATA_DIR", data_dir)
                .env("CALENDARBOT_LOG_LEVEL", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            for (k, v) in env {
                cmd.env(k, v);
            }
            let mut child = cmd.spawn().expect("spawn calendarbot");
            let log = Arc::new(std::sync::Mutex::new(String::new()));
            let stderr = child.stderr.take().unwrap();
            let log2 = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut l = log2.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
            let mut b = Binary {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                data_dir: data_dir.to_path_buf(),
                log,
            };
            match b.wait_ready(Duration::from_secs(20)) {
                Ok(()) => return b,
                Err(e) => {
                    last_err = format!("{e}\n--- log ---\n{}", b.log());
                    b.kill();
                }
            }
        }
        panic!("calendarbot did not become ready: {last_err}");
    }

    /// Wait until health answers and the first refresh of every source is done.
    pub fn wait_ready(&mut self, within: Duration) -> Result<(), String> {
        let c = client();
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited early: {status}"));
            }
            if let Ok(r) = c.get(self.url("/api/health")).send()
                && let Ok(v) = r.json::<serde_json::Value>()
                && v["data_status"]["initial_refresh_complete"] == true
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("timed out waiting for the first refresh".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// SIGTERM, then wait (killing after 10 s).
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        None
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}
