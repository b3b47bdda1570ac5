//! The memory-pressure response, against the real binary with pressure signals the test
//! controls (`[pressure] psi_path` and `cgroup_dir` point at files written here):
//! - PSI `some avg10` over the threshold: the cache shrinks to its floor and stays there, one
//!   warning is logged with the figures, status and metrics say so, every request is answered;
//! - calm again for `calm_checks` checks: the cap is restored and the cache fills again;
//! - `memory.current` near `memory.high`, and a growing `high` count in `memory.events`, are
//!   pressure too; a missing PSI file is no signal and no error.

mod support;

use std::path::Path;
use support::{Binary, wait_for};

const CALM_PSI: &str = "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n\
                        full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
const HOT_PSI: &str = "some avg10=42.50 avg60=20.00 avg300=5.00 total=99999\n\
                       full avg10=10.00 avg60=5.00 avg300=1.00 total=5000\n";

struct Signals {
    _dir: tempfile::TempDir,
    psi: std::path::PathBuf,
    cgroup: std::path::PathBuf,
}

impl Signals {
    fn new() -> Signals {
        let dir = tempfile::tempdir().unwrap();
        let psi = dir.path().join("memory.pressure");
        let cgroup = dir.path().join("cgroup");
        std::fs::create_dir(&cgroup).unwrap();
        let s = Signals {
            psi,
            cgroup,
            _dir: dir,
        };
        s.write_psi(CALM_PSI);
        s.write_cgroup(10 << 20, 48 << 20, 0);
        s
    }

    fn write_psi(&self, text: &str) {
        replace(&self.psi, text);
    }

    fn write_cgroup(&self, current: u64, high: u64, high_events: u64) {
        replace(&self.cgroup.join("memory.current"), &format!("{current}\n"));
        replace(&self.cgroup.join("memory.high"), &format!("{high}\n"));
        replace(
            &self.cgroup.join("memory.events"),
            &format!("low 0\nhigh {high_events}\nmax 0\noom 0\noom_kill 0\n"),
        );
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "CALENDARBOT_PRESSURE__PSI_PATH",
                self.psi.display().to_string(),
            ),
            (
                "CALENDARBOT_PRESSURE__CGROUP_DIR",
                self.cgroup.display().to_string(),
            ),
            ("CALENDARBOT_PRESSURE__INTERVAL_MS", "100".into()),
            ("CALENDARBOT_PRESSURE__CALM_CHECKS", "3".into()),
            ("CALENDARBOT_PRESSURE__CACHE_FLOOR_BYTES", "0".into()),
            ("CALENDARBOT_OPTIMIZATION__CACHE_TTL_SECS", "600".into()),
        ]
    }
}

/// Write a file whole (rename over), so the watcher never reads half of it.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn status(b: &Binary) -> serde_json::Value {
    b.get("/api/status/optimization").unwrap().1
}

/// Ask twice for answers that the cache keeps (events for five fixed windows, and
/// whats-next); every answer must be 200. Returns the cache hits this made.
fn ask(b: &Binary) -> u64 {
    let hits = |b: &Binary| status(b)["cache"]["hits"].as_u64().unwrap();
    let before = hits(b);
    let now = chrono::Utc::now();
    let from = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    for _ in 0..2 {
        for days in 1..=5 {
            let to = (now + chrono::Duration::days(days)).format("%Y-%m-%dT%H:%M:%SZ");
            let url = format!("/api/events?from={from}&to={to}");
            let (code, _) = b.get(&url).unwrap();
            assert_eq!(code, 200, "{url}");
            let (code, _) = b.get("/api/whats-next").unwrap();
            assert_eq!(code, 200);
        }
    }
    hits(b) - before
}

/// Wait until the service reports pressure (`active`) or its end; returns the status.
fn wait_pressure(b: &Binary, active: bool, what: &str) -> serde_json::Value {
    wait_for(5, what, || {
        let st = status(b);
        (st["memory_pressure"]["active"].as_bool()? == active).then_some(st)
    })
}

fn pressure_warnings(b: &Binary) -> usize {
    b.log().matches("memory pressure: cache shrunk").count()
}

#[test]
fn psi_pressure_shrinks_the_cache_and_calm_restores_it() {
    let s = Signals::new();
    let dir = tempfile::tempdir().unwrap();
    let mut b = Binary::start(dir.path(), &s.env());
    assert!(ask(&b) >= 5, "the cache serves before any pressure");
    let max = status(&b)["cache"]["max_bytes"].as_u64().unwrap();

    s.write_psi(HOT_PSI);
    let st = wait_pressure(&b, true, "pressure to be noticed");
    assert!(
        st["memory_pressure"]["reason"]
            .as_str()
            .unwrap()
            .contains("PSI some avg10 42.50"),
        "{st}"
    );
    assert_eq!(st["memory_pressure"]["episodes"], 1);
    assert_eq!(st["cache"]["limit_bytes"], 0);
    // Serving goes on; nothing is cached above the floor while the pressure lasts.
    for _ in 0..3 {
        assert_eq!(ask(&b), 0, "a cache hit under pressure with a floor of 0");
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    let st = status(&b);
    assert_eq!(
        st["memory_pressure"]["episodes"], 1,
        "one episode, not one per check"
    );
    assert_eq!(pressure_warnings(&b), 1, "{}", b.log());
    let metrics = b.text("/metrics");
    assert!(
        metrics.contains("\ncalendarbot_memory_pressure 1\n"),
        "{metrics}"
    );

    s.write_psi(CALM_PSI);
    wait_pressure(&b, false, "pressure to end");
    assert!(b.log().contains("memory pressure gone"));
    assert_eq!(status(&b)["cache"]["limit_bytes"].as_u64(), Some(max));
    assert!(ask(&b) >= 5, "the cache serves again after the pressure");
    let metrics = b.text("/metrics");
    assert!(metrics.contains("\ncalendarbot_memory_pressure 0\n"));
    assert!(metrics.contains("\ncalendarbot_memory_pressure_episodes_total 1\n"));
    b.stop();
}

#[test]
fn the_cgroup_signals_are_pressure_too() {
    let s = Signals::new();
    std::fs::remove_file(&s.psi).unwrap(); // no PSI on this kernel: no signal, no error
    let dir = tempfile::tempdir().unwrap();
    let mut b = Binary::start(dir.path(), &s.env());
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(status(&b)["memory_pressure"]["active"], false);

    // Close to memory.high (90 % by default).
    s.write_cgroup(46 << 20, 48 << 20, 0);
    let st = wait_pressure(&b, true, "memory.current near memory.high");
    assert!(
        st["memory_pressure"]["reason"]
            .as_str()
            .unwrap()
            .contains("of memory.high"),
        "{st}"
    );
    s.write_cgroup(10 << 20, 48 << 20, 0);
    wait_pressure(&b, false, "calm");

    // The kernel throttled us (memory.events high grew), though current is low now.
    s.write_cgroup(10 << 20, 48 << 20, 7);
    let st = wait_pressure(&b, true, "memory.events high to count");
    assert!(
        st["memory_pressure"]["reason"]
            .as_str()
            .unwrap()
            .contains("memory.events high 0 -> 7"),
        "{st}"
    );
    assert_eq!(st["memory_pressure"]["episodes"], 2);
    ask(&b);
    assert!(!b.log().contains("ERROR"), "{}", b.log());
    b.stop();
}
