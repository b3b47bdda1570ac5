//! systemd integration of SPEC §7, through a real `NOTIFY_SOCKET` (a unix datagram socket this
//! test binds) and the real binary:
//! - READY=1 is sent once the port is bound and stored data is loaded, with STATUS=mode=...;
//! - with WATCHDOG_USEC=2 s, WATCHDOG=1 arrives about once a second (half the period);
//! - STOPPING=1 on SIGTERM;
//! - under `stall-pipeline` the self-check switches the service to the plain path: STATUS=
//!   says fallback and why, health says `mode: "fallback"`, requests are still answered, and
//!   the watchdog keeps being fed;
//! - the probe is a real request through the listener: with the accept loop wedged
//!   (`wedge-accept`) or every handler wedged (`wedge-handlers`), WATCHDOG=1 stops and STATUS=
//!   says why, so systemd would restart the service; pings flowed before the wedge;
//! - after `kill -9` the next start runs in fallback mode ("did not shut down cleanly") for
//!   `recovery_secs`, then returns to optimized (STATUS= and health say so); after a clean
//!   stop the next start is optimized at once.
//!
//! The tests with injected faults need the feature `fault-injection`; the others run in the
//! shipped build too.
//!
//! WATCHDOG_PID is left unset: sd-notify would only honour it if it equalled the child's pid,
//! which the test cannot know before spawning.

mod support;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Binary, client};

const NOW: &str = "2025-11-05T15:00:00Z";

/// A fake systemd notify socket recording every datagram with its arrival time.
struct Notify {
    path: PathBuf,
    got: Arc<Mutex<Vec<(Instant, String)>>>,
    _dir: tempfile::TempDir,
}

impl Notify {
    fn bind() -> Notify {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        let got: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
        let g = got.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = sock.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                g.lock().unwrap().push((Instant::now(), msg));
            }
        });
        Notify {
            path,
            got,
            _dir: dir,
        }
    }

    fn messages(&self) -> Vec<(Instant, String)> {
        self.got.lock().unwrap().clone()
    }

    /// Wait until a message satisfying `pred` arrives; returns it.
    fn wait_for(&self, within: Duration, pred: impl Fn(&str) -> bool) -> (Instant, String) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(m) = self.messages().into_iter().find(|(_, m)| pred(m)) {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "no matching notification; got {:?}",
                self.messages().iter().map(|(_, m)| m).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn watchdogs_after(&self, t: Instant) -> usize {
        self.messages()
            .iter()
            .filter(|(at, m)| *at > t && m.lines().any(|l| l == "WATCHDOG=1"))
            .count()
    }
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layer.ics")
}

fn env(n: &Notify, extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut v = vec![
        (
            "CALENDARBOT_ICS_URL",
            format!("file://{}", fixture().display()),
        ),
        ("CALENDARBOT_TEST_TIME", NOW.to_string()),
        ("NOTIFY_SOCKET", n.path.display().to_string()),
        ("WATCHDOG_USEC", "2000000".to_string()),
        ("CALENDARBOT_OPTIMIZATION__DEADLINE_MS", "100".to_string()),
    ];
    v.extend(extra.iter().map(|(k, val)| (*k, val.to_string())));
    v
}

/// A notify socket, a data directory and the binary started with `extra` environment.
#[cfg(feature = "fault-injection")]
fn started(extra: &[(&'static str, &str)]) -> (Notify, tempfile::TempDir, Binary) {
    let n = Notify::bind();
    let dir = tempfile::tempdir().unwrap();
    let b = Binary::start(dir.path(), &env(&n, extra));
    (n, dir, b)
}

fn mode(b: &Binary) -> String {
    let v: serde_json::Value = client()
        .get(b.url("/api/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    v["server_status"]["mode"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn ready_then_watchdog_at_half_the_period_then_stopping() {
    let n = Notify::bind();
    let dir = tempfile::tempdir().unwrap();
    let mut b = Binary::start(dir.path(), &env(&n, &[]));
    let (ready_at, ready) = n.wait_for(Duration::from_secs(5), |m| m.contains("READY=1"));
    assert!(ready.contains("STATUS=mode=optimized"), "{ready}");
    assert!(ready.contains("MAINPID="), "{ready}");
    assert!(
        n.watchdogs_after(ready_at) >= 1,
        "first ping right after READY"
    );
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_millis(5_200));
    // A 1 s period over 5.2 s: 5 pings; allow one either way for scheduling on a loaded box.
    let pings = n.watchdogs_after(t0);
    assert!((4..=6).contains(&pings), "{pings} WATCHDOG=1 in 5.2 s");
    assert_eq!(mode(&b), "optimized");
    b.stop();
    n.wait_for(Duration::from_secs(5), |m| m.contains("STOPPING=1"));
}

#[cfg(feature = "fault-injection")]
#[test]
fn stalled_optimised_path_switches_to_fallback_and_keeps_feeding_the_watchdog() {
    let (n, _dir, mut b) = started(&[("CALENDARBOT_FAULT", "stall-pipeline")]);
    let (switched_at, status) = n.wait_for(Duration::from_secs(6), |m| {
        m.contains("STATUS=mode=fallback") && m.contains("watchdog self-check")
    });
    assert!(
        status.contains("WATCHDOG=1"),
        "the switch is announced with a ping: {status}"
    );
    assert!(status.contains("did not answer within 100 ms"), "{status}");
    // Still serving (on the plain path), and saying so.
    let r = client().get(b.url("/api/whats-next")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(mode(&b), "fallback");
    let st: serde_json::Value = client()
        .get(b.url("/api/status/optimization"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        st["reason"]
            .as_str()
            .unwrap()
            .contains("watchdog self-check"),
        "{st}"
    );
    std::thread::sleep(Duration::from_millis(3_200));
    let pings = n.watchdogs_after(switched_at);
    assert!(pings >= 2, "watchdog starved after the switch: {pings}");
    assert!(
        b.log().contains("switching the service to the plain path"),
        "{}",
        b.log()
    );
    b.stop();
}

#[test]
fn unclean_exit_starts_in_fallback_until_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let recovery = [("CALENDARBOT_OPTIMIZATION__RECOVERY_SECS", "3")];
    {
        let n = Notify::bind();
        let mut b = Binary::start(dir.path(), &env(&n, &recovery));
        let (_, ready) = n.wait_for(Duration::from_secs(5), |m| m.contains("READY=1"));
        assert!(
            ready.contains("STATUS=mode=optimized"),
            "first start: {ready}"
        );
        b.kill(); // SIGKILL: no clean-shutdown marker
    }
    let n = Notify::bind();
    let mut b = Binary::start(dir.path(), &env(&n, &recovery));
    let (ready_at, ready) = n.wait_for(Duration::from_secs(5), |m| m.contains("READY=1"));
    assert!(
        ready.contains("STATUS=mode=fallback: previous run did not shut down cleanly"),
        "{ready}"
    );
    assert_eq!(mode(&b), "fallback");
    // Back to optimized after recovery_secs (3 s), announced by the next watchdog ping.
    let (back_at, _) = n.wait_for(Duration::from_secs(8), |m| {
        m.contains("STATUS=mode=optimized")
    });
    assert!(
        back_at.duration_since(ready_at) >= Duration::from_secs(2),
        "too early"
    );
    assert_eq!(mode(&b), "optimized");
    assert!(
        n.watchdogs_after(ready_at) >= 3,
        "watchdog fed during the fallback"
    );
    b.stop();

    // After a clean stop the next start is optimized at once.
    let n = Notify::bind();
    let mut b = Binary::start(dir.path(), &env(&n, &recovery));
    let (_, ready) = n.wait_for(Duration::from_secs(5), |m| m.contains("READY=1"));
    assert!(
        ready.contains("STATUS=mode=optimized"),
        "after clean stop: {ready}"
    );
    b.stop();
}

/// Under `fault` (due 3 s after the server starts): pings flow, then stop for good.
#[cfg(feature = "fault-injection")]
fn wedged_server_starves_the_watchdog(fault: &str) {
    let (n, _dir, mut b) = started(&[
        ("CALENDARBOT_FAULT", fault),
        ("CALENDARBOT_FAULT_AFTER_MS", "3000"),
    ]);
    let (ready_at, _) = n.wait_for(Duration::from_secs(5), |m| m.contains("READY=1"));
    let (stalled_at, status) = n.wait_for(Duration::from_secs(8), |m| {
        m.contains("STATUS=stalled: the server did not answer the probe")
    });
    assert!(
        n.watchdogs_after(ready_at) >= 2,
        "pings before the wedge: {:?}",
        n.messages()
    );
    assert!(!status.contains("WATCHDOG=1"), "{status}");
    // 3.2 s is over three ping periods (and past WatchdogSec=2 s): not one ping.
    std::thread::sleep(Duration::from_millis(3_200));
    assert_eq!(
        n.watchdogs_after(stalled_at),
        0,
        "a wedged server still fed the watchdog: {:?}",
        n.messages()
    );
    assert!(
        b.log()
            .contains("watchdog probe failed; not feeding the watchdog"),
        "{}",
        b.log()
    );
    b.kill();
}

#[cfg(feature = "fault-injection")]
#[test]
fn wedged_accept_loop_stops_the_watchdog() {
    wedged_server_starves_the_watchdog("wedge-accept");
}

#[cfg(feature = "fault-injection")]
#[test]
fn wedged_handlers_stop_the_watchdog() {
    wedged_server_starves_the_watchdog("wedge-handlers");
}

#[cfg(feature = "fault-injection")]
#[test]
fn clients_holding_every_slot_do_not_starve_the_probe() {
    // One request slot; from 3 s on, every client request holds it for 10 s (`hog-slots`).
    let (n, _dir, mut b) = started(&[
        ("CALENDARBOT_SERVER__MAX_CONNECTIONS", "1"),
        ("CALENDARBOT_FAULT", "hog-slots"),
        ("CALENDARBOT_FAULT_AFTER_MS", "3000"),
    ]);
    n.wait_for(Duration::from_secs(5), |m| m.contains("READY=1"));
    std::thread::sleep(Duration::from_millis(3_200));
    let flood_at = Instant::now();
    let url = b.url("/api/health");
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let c = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(20))
                    .build()
                    .unwrap();
                let t = Instant::now();
                let status = c.get(&url).send().map(|r| r.status().as_u16()).ok();
                (status, t.elapsed())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(5_000));
    let pings = n.watchdogs_after(flood_at);
    assert!(
        pings >= 4,
        "{pings} WATCHDOG=1 in 5 s with every slot held: {:?}",
        n.messages()
    );
    assert!(
        !n.messages().iter().any(|(_, m)| m.contains("stalled")),
        "{:?}",
        n.messages()
    );
    let results: Vec<_> = clients.into_iter().map(|h| h.join().unwrap()).collect();
    // One client holds the slot (10 s, then 200); the other three wait 5 s for it, then 503.
    let busy: Vec<_> = results.iter().filter(|(s, _)| *s == Some(503)).collect();
    assert_eq!(busy.len(), 3, "{results:?}");
    for (_, took) in busy {
        assert!(
            (Duration::from_millis(4_900)..Duration::from_millis(6_000)).contains(took),
            "503 after {took:?}, not after the 5 s slot wait"
        );
    }
    b.kill();
}
