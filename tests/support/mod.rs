//! The one test-support module of the integration tests (`mod support;` in each test file):
//! - [`Binary`]: the real binary as a child process, started one way on a port picked one way
//!   ([`free_port`]), retried only when another process takes that port first (`binary.rs`);
//! - [`FeedServer`]: a scriptable feed server for the failures a feed can show, and [`ics`]
//!   to make its feeds (`feed.rs`);
//! - [`InProcess`]: the real server in this process (real Store in a tempdir, real TCP on
//!   127.0.0.1:0), for tests that reach into the [`App`];
//! - small helpers: [`client`], [`wait_for`], [`t`], [`meeting`].
#![allow(dead_code)]

mod binary;
mod feed;

// Each test file uses a part of this module.
#[allow(unused_imports)]
pub use binary::{Binary, Ready, command, command_for, free_port};
#[allow(unused_imports)]
pub use feed::{FeedServer, Mode, ics};

use calendarbot::app::App;
use calendarbot::clock::Clock;
use calendarbot::config::Config;
use calendarbot::ics::{Details, EventText, Occurrence, Status, When};
use calendarbot::store::Store;
use chrono::{DateTime, Utc};
use std::net::SocketAddr;
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

/// Poll `f` every 50 ms until it returns `Some`, or panic after `secs` with `what`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
