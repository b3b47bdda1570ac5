//! The aarch64 build (ci/cross-build.sh) behaves like the host build, run under qemu-user.
//!
//! Checks:
//! - `calendarbot expand` on a DST-crossing fixture prints the same bytes on aarch64 as on the
//!   host (and the output really crosses the DST change: two different UTC start hours);
//! - the same for the 2.9 MB benchmark feed (tools/gen_large_ics.py, fixed anchor);
//! - `calendarbot serve` on aarch64 answers GET /api/health on 127.0.0.1 with the feed loaded.
//!
//! They need target/aarch64-unknown-linux-gnu/release/calendarbot. Without it they say so and
//! pass, unless CALENDARBOT_REQUIRE_CROSS=1 (set by .ci/run, which builds it first): then a
//! missing binary fails.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The aarch64 binary, or None (after saying why) when it is absent and not required.
fn aarch64_binary() -> Option<PathBuf> {
    let bin = repo().join("target/aarch64-unknown-linux-gnu/release/calendarbot");
    if bin.is_file() {
        return Some(bin);
    }
    if std::env::var("CALENDARBOT_REQUIRE_CROSS").as_deref() == Ok("1") {
        panic!("{} missing; run ci/cross-build.sh", bin.display());
    }
    eprintln!("skipped: no {} (run ci/cross-build.sh)", bin.display());
    None
}

/// A command running the aarch64 binary under qemu-user (the same runner cargo uses).
fn qemu(bin: &Path) -> Command {
    let mut cmd = Command::new(repo().join("ci/qemu-aarch64.sh"));
    cmd.arg(bin);
    cmd
}

fn host() -> Command {
    Command::new(env!("CARGO_BIN_EXE_calendarbot"))
}

fn expand(mut cmd: Command, file: &Path, from: &str, to: &str) -> Output {
    cmd.arg("expand")
        .arg(file)
        .args(["--from", from, "--to", to]);
    cmd.output().expect("spawn expand")
}

fn assert_same_expansion(bin: &Path, file: &Path, from: &str, to: &str) -> String {
    let t = Instant::now();
    let h = expand(host(), file, from, to);
    let host_s = t.elapsed();
    let t = Instant::now();
    let a = expand(qemu(bin), file, from, to);
    let qemu_s = t.elapsed();
    println!(
        "expand {}: host {:.2} s, aarch64 under qemu-user {:.2} s",
        file.display(),
        host_s.as_secs_f64(),
        qemu_s.as_secs_f64()
    );
    assert!(
        h.status.success(),
        "host expand failed: {}",
        String::from_utf8_lossy(&h.stderr)
    );
    assert!(
        a.status.success(),
        "aarch64 expand failed: {}",
        String::from_utf8_lossy(&a.stderr)
    );
    let out = String::from_utf8(h.stdout).expect("UTF-8 output");
    assert_eq!(
        out,
        String::from_utf8_lossy(&a.stdout),
        "aarch64 output differs from host"
    );
    assert!(!out.trim().is_empty(), "no occurrences at all");
    out
}

#[test]
fn expand_dst_fixture_is_identical_on_aarch64() {
    let Some(bin) = aarch64_binary() else { return };
    let fixture = repo().join("tests/fixtures/calendarbot/recurring-dst-crossing-weekly.ics");
    let out = assert_same_expansion(
        &bin,
        &fixture,
        "2025-10-01T00:00:00Z",
        "2025-12-01T00:00:00Z",
    );
    // 09:00 America/Los_Angeles: 16:00Z before the fall-back on 2025-11-02, 17:00Z after.
    assert!(
        out.contains("T16:00:00Z") && out.contains("T17:00:00Z"),
        "no DST shift:\n{out}"
    );
}

#[test]
fn expand_benchmark_feed_is_identical_on_aarch64() {
    let Some(bin) = aarch64_binary() else { return };
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("bench.ics");
    let made = Command::new("python3")
        .arg(repo().join("tools/gen_large_ics.py"))
        .arg(&feed)
        .args(["--anchor", "2026-03-02"])
        .output()
        .expect("python3");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let out = assert_same_expansion(&bin, &feed, "2026-02-23T00:00:00Z", "2026-04-06T00:00:00Z");
    println!("benchmark feed: {} occurrences", out.lines().count());
}

/// Kills the child on drop, so a failing assertion leaves no server behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_answers_health_under_qemu_user() {
    let Some(bin) = aarch64_binary() else { return };
    let data = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fixture = repo().join("tests/fixtures/calendarbot/recurring-dst-crossing-weekly.ics");
    let mut cmd = qemu(&bin);
    cmd.arg("serve")
        .env("CALENDARBOT_WEB_HOST", "127.0.0.1")
        .env("CALENDARBOT_WEB_PORT", port.to_string())
        .env("CALENDARBOT_DATA_DIR", data.path())
        .env(
            "CALENDARBOT_ICS_URL",
            format!("file://{}", fixture.display()),
        )
        .env("CALENDARBOT_TEST_TIME", "2025-10-19T15:00:00Z")
        .env_remove("CALENDARBOT_CONFIG")
        .env_remove("NOTIFY_SOCKET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut server = Server(cmd.spawn().expect("spawn serve under qemu"));
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/api/health");
    let start = Instant::now();
    let mut last = String::from("no answer");
    while start.elapsed() < Duration::from_secs(120) {
        if let Ok(Some(status)) = server.0.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = server.0.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            panic!("serve exited with {status}: {err}");
        }
        if let Ok(resp) = client.get(&url).send() {
            let code = resp.status().as_u16();
            let body: serde_json::Value = resp.json().unwrap_or_default();
            let count = body["data_status"]["event_count"].as_u64().unwrap_or(0);
            if code == 200 && body["status"] == "ok" && count > 0 {
                println!(
                    "aarch64 serve under qemu-user: health ok with {count} events after {:.1} s",
                    start.elapsed().as_secs_f64()
                );
                return;
            }
            last = format!("{code} {body}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("health never became ok with events: {last}");
}
