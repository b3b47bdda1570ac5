//! Field updates (`calendarbot update`, docs/updates.md) with the real binary, real
//! throwaway Ed25519 keys made by openssl, bundles built here, a `file://` channel, and a
//! stand-in `systemctl` (`CALENDARBOT_SYSTEMCTL`) that really starts and stops
//! `calendarbot serve` on 127.0.0.1, so the health gate runs against a real server.
//!
//! Checks:
//! - refused, with nothing written to a slot and no systemctl call: a bundle with one byte
//!   changed, a signature by another key, a manifest changed after signing, a downgrade, another
//!   channel, a bundle over `max_bundle_bytes`; a downgrade is accepted with `pin`;
//! - `--check` verifies and says what it would do, and writes nothing;
//! - a good bundle (the test binary stamped with a newer version) is unpacked into the inactive
//!   slot, `current` is switched, the server is restarted through the launcher, the gate
//!   passes, and `/api/health` reports the new version and the `update` section;
//! - a bundle whose binary exits at start is rolled back (exit 4): `current` removed, the
//!   factory binary serves, the version is marked bad;
//! - the launcher execs the slot's binary (health reports its version) and falls back to the
//!   factory binary when the slot's binary is missing or not executable;
//! - `--status` prints the summary.

mod support;

use sha2::{Digest, Sha256};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use support::{Binary, command, free_port, wait_for};

const FACTORY: &str = env!("CARGO_PKG_VERSION");

fn hex(b: &[u8]) -> String {
    format!("{:x}", Sha256::digest(b))
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private key and its public half (PEM), made by openssl.
fn keypair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    openssl(&[
        "genpkey",
        "-algorithm",
        "ed25519",
        "-out",
        key.to_str().unwrap(),
    ]);
    openssl(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);
    (key, public)
}

/// The test binary with `version` stamped into its release stamp (as ci/release.sh does).
fn stamped_binary(version: &str) -> Vec<u8> {
    let mut bytes = fs::read(env!("CARGO_BIN_EXE_calendarbot")).unwrap();
    let marker = calendarbot::version::STAMP_MARKER;
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("stamp marker")
        + marker.len();
    let field = 64 - marker.len();
    bytes[at..at + field].fill(0);
    bytes[at..at + version.len()].copy_from_slice(version.as_bytes());
    bytes
}

/// A release of `version` on `channel` with `binary`, published into `dir`, signed with `key`;
/// `tamper` may change the bundle after its hash went into the manifest, `tamper_manifest`
/// the manifest after it was signed.
struct Release<'a> {
    version: &'a str,
    channel: &'a str,
    binary: Vec<u8>,
    tamper_bundle: bool,
    tamper_manifest: bool,
}

impl Release<'_> {
    fn new(version: &str, binary: Vec<u8>) -> Release<'_> {
        Release {
            version,
            channel: "stable",
            binary,
            tamper_bundle: false,
            tamper_manifest: false,
        }
    }

    fn publish(&self, dir: &Path, key: &Path) {
        fs::create_dir_all(dir).unwrap();
        let unit = fs::read("overlays/etc/systemd/system/calendarbot.service").unwrap();
        let files: [(&str, &[u8], u32); 2] = [
            ("calendarbot", &self.binary, 0o755),
            (
                "overlay/etc/systemd/system/calendarbot.service",
                &unit,
                0o644,
            ),
        ];
        let index = serde_json::json!({
            "name": "calendarbot", "version": self.version, "git_commit": "0".repeat(40),
            "files": files.iter().map(|(p, b, m)| serde_json::json!({
                "path": p, "size": b.len(), "sha256": hex(b), "mode": m})).collect::<Vec<_>>(),
        });
        let index = serde_json::to_vec_pretty(&index).unwrap();
        let mut tar = tar::Builder::new(Vec::new());
        let mut add = |path: &str, data: &[u8], mode: u32| {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(mode);
            h.set_mtime(1_764_500_000);
            h.set_cksum();
            tar.append_data(&mut h, path, data).unwrap();
        };
        add("bundle.json", &index, 0o644);
        for (p, b, m) in files {
            add(p, b, m);
        }
        let mut bundle = tar.into_inner().unwrap();
        let name = format!("calendarbot-{}.bundle.tar", self.version);
        let manifest = format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "name": "calendarbot", "version": self.version, "channel": self.channel,
                "git_commit": "0".repeat(40), "profile": "debug", "source_date_epoch": 1_764_500_000,
                "artifacts": [{"kind": "bundle", "file": name, "size": bundle.len(), "sha256": hex(&bundle)}],
            }))
            .unwrap()
        );
        if self.tamper_bundle {
            let last = bundle.len() - 2000;
            bundle[last] ^= 1;
        }
        fs::write(dir.join(&name), &bundle).unwrap();
        let m = dir.join("manifest.json");
        fs::write(&m, &manifest).unwrap();
        openssl(&[
            "pkeyutl",
            "-sign",
            "-rawin",
            "-inkey",
            key.to_str().unwrap(),
            "-in",
            m.to_str().unwrap(),
            "-out",
            dir.join("manifest.json.sig").to_str().unwrap(),
        ]);
        if self.tamper_manifest {
            fs::write(
                &m,
                manifest.replace("\"profile\": \"debug\"", "\"profile\": \"Debug\""),
            )
            .unwrap();
        }
    }
}

/// A kiosk in a temp dir: state dir, data dir, keys, a channel, and the stand-in systemctl
/// that runs `calendarbot serve` (the factory binary: the test binary) on `port`.
struct Kiosk {
    tmp: tempfile::TempDir,
    port: u16,
    key: PathBuf,
    public: PathBuf,
}

impl Kiosk {
    fn new() -> Kiosk {
        let tmp = tempfile::tempdir().unwrap();
        let (key, public) = keypair(tmp.path(), "release");
        let port = free_port();
        let k = Kiosk {
            tmp,
            port,
            key,
            public,
        };
        fs::create_dir_all(k.path("data")).unwrap();
        fs::create_dir_all(k.path("sys")).unwrap();
        let script = format!(
            r#"#!/bin/bash
# Stand-in systemctl for tests/update.rs: calendarbot.service is `calendarbot serve` run in
# the background (its pid in sys/pid); other units are inactive.
sys={sys}
echo "$*" >>"$sys/calls"
alive() {{ [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat"; }}
stop() {{
    if [ -f "$sys/pid" ]; then
        pid=$(cat "$sys/pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
        rm -f "$sys/pid"
    fi
}}
case "$1" in
    restart)
        [ "$2" = --no-block ] && shift
        [ "$2" = calendarbot.service ] || exit 0
        stop
        env -i PATH="$PATH" CALENDARBOT_WEB_HOST=127.0.0.1 CALENDARBOT_WEB_PORT={port} \
            CALENDARBOT_DATA_DIR={data} CALENDARBOT_UPDATE__STATE_DIR={state} \
            CALENDARBOT_LOG_LEVEL=info {bin} serve </dev/null >>"$sys/server.log" 2>&1 &
        echo $! >"$sys/pid"
        ;;
    stop) [ "$2" = calendarbot.service ] && stop ;;
    reset-failed) ;;
    show)
        if [ "$4" = calendarbot.service ] && [ -f "$sys/pid" ]; then
            if alive "$(cat "$sys/pid")"; then echo ActiveState=active; else echo ActiveState=failed; fi
        else
            echo ActiveState=inactive
        fi
        echo NRestarts=0
        ;;
esac
exit 0
"#,
            sys = k.path("sys").display(),
            port = port,
            data = k.path("data").display(),
            state = k.path("state").display(),
            bin = env!("CARGO_BIN_EXE_calendarbot"),
        );
        let sc = k.path("systemctl");
        fs::write(&sc, script).unwrap();
        fs::set_permissions(&sc, fs::Permissions::from_mode(0o755)).unwrap();
        k
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    fn channel(&self) -> PathBuf {
        self.path("channel")
    }

    /// `calendarbot update ARGS` as the update unit runs it, with `env` on top.
    fn update(&self, args: &[&str], env: &[(&str, String)]) -> Output {
        let mut cmd = command();
        cmd.arg("update")
            .arg("--state-dir")
            .arg(self.path("state"))
            .args(args)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CALENDARBOT_SYSTEMCTL", self.path("systemctl"))
            .env("CALENDARBOT_WEB_PORT", self.port.to_string())
            .env("CALENDARBOT_DATA_DIR", self.path("data"))
            .env(
                "CALENDARBOT_UPDATE__URL",
                format!("file://{}/", self.channel().display()),
            )
            .env("CALENDARBOT_UPDATE__PUBLIC_KEY", &self.public)
            .env("CALENDARBOT_UPDATE__SETTLE_S", "2")
            .env("CALENDARBOT_UPDATE__GATE_TIMEOUT_S", "30")
            .env(
                "CALENDARBOT_UPDATE__MAX_BUNDLE_BYTES",
                (1u64 << 30).to_string(),
            );
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn systemctl(&self, args: &[&str]) {
        let st = Command::new(self.path("systemctl"))
            .args(args)
            .status()
            .unwrap();
        assert!(st.success());
    }

    fn calls(&self) -> String {
        fs::read_to_string(self.path("sys/calls")).unwrap_or_default()
    }

    fn health(&self) -> Option<serde_json::Value> {
        let url = format!("http://127.0.0.1:{}/api/health", self.port);
        let r = support::client().get(url).send().ok()?;
        r.json().ok()
    }

    /// Wait until health reports `version`.
    fn wait_version(&self, version: &str) -> serde_json::Value {
        wait_for(30, &format!("health reporting {version}"), || {
            self.health().filter(|h| h["version"] == version)
        })
    }

    /// Nothing in a slot, no `current`.
    fn assert_nothing_installed(&self) {
        assert!(!self.path("state/slots/a").exists());
        assert!(!self.path("state/slots/b").exists());
        assert!(fs::symlink_metadata(self.path("state/current")).is_err());
    }
}

impl Drop for Kiosk {
    fn drop(&mut self) {
        if self.path("sys/pid").exists() {
            self.systemctl(&["stop", "calendarbot.service"]);
        }
    }
}

fn text(o: &Output) -> String {
    format!(
        "rc {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A small stand-in binary: the refusals never run it.
fn script_binary(body: &str) -> Vec<u8> {
    format!("#!/bin/sh\n{body}\n").into_bytes()
}

fn assert_refused(k: &Kiosk, env: &[(&str, String)], want: &str) {
    let out = k.update(&[], env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(want), "wanted {want:?}: {}", text(&out));
    k.assert_nothing_installed();
    assert!(k.calls().is_empty(), "systemctl was called: {}", k.calls());
}

#[test]
fn refusals_write_nothing_to_a_slot() {
    let k = Kiosk::new();
    let ch = k.channel();
    let mut r = Release::new("9.0.0", script_binary("exit 0"));
    r.tamper_bundle = true;
    r.publish(&ch, &k.key);
    assert_refused(&k, &[], "sha256");

    let (other, _) = keypair(k.tmp.path(), "other");
    Release::new("9.0.0", script_binary("exit 0")).publish(&ch, &other);
    assert_refused(&k, &[], "signature");

    let mut r = Release::new("9.0.0", script_binary("exit 0"));
    r.tamper_manifest = true;
    r.publish(&ch, &k.key);
    assert_refused(&k, &[], "signature");

    let mut r = Release::new("9.0.0", script_binary("exit 0"));
    r.channel = "beta";
    r.publish(&ch, &k.key);
    assert_refused(&k, &[], "channel");

    Release::new("9.0.0", script_binary("exit 0")).publish(&ch, &k.key);
    assert_refused(
        &k,
        &[("CALENDARBOT_UPDATE__MAX_BUNDLE_BYTES", "1024".into())],
        "max_bundle_bytes",
    );

    Release::new("0.0.1", script_binary("exit 0")).publish(&ch, &k.key);
    assert_refused(&k, &[], "older");
    // The refusal is the last attempt, for health and --status.
    let status = k.update(&["--status"], &[]);
    let s: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(s["last_attempt"]["outcome"], "refused", "{}", text(&status));
    assert_eq!(s["slot"], "factory");
    // Pinned, the downgrade is accepted (checked only: nothing is written).
    let out = k.update(&["--check"], &[("CALENDARBOT_UPDATE__PIN", "0.0.1".into())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("would install 0.0.1"), "{}", text(&out));
}

#[test]
fn check_verifies_and_writes_nothing() {
    let k = Kiosk::new();
    Release::new("9.0.0", script_binary("exit 0")).publish(&k.channel(), &k.key);
    let out = k.update(&["--check"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("would install 9.0.0"), "{}", text(&out));
    assert!(!k.path("state").exists(), "--check wrote the state dir");
    assert!(k.calls().is_empty());
    // A tampered one is refused by --check too.
    let mut r = Release::new("9.0.0", script_binary("exit 0"));
    r.tamper_manifest = true;
    r.publish(&k.channel(), &k.key);
    assert_eq!(k.update(&["--check"], &[]).status.code(), Some(1));
    assert!(!k.path("state").exists());
}

#[test]
fn a_good_bundle_is_installed_and_a_crashing_one_rolled_back() {
    let k = Kiosk::new();
    k.systemctl(&["restart", "calendarbot.service"]);
    let h = k.wait_version(FACTORY);
    assert_eq!(h["update"]["slot"], "factory");
    assert_eq!(h["update"]["current"], FACTORY);

    Release::new("9.0.0", stamped_binary("9.0.0")).publish(&k.channel(), &k.key);
    let out = k.update(&[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("installed 9.0.0"), "{}", text(&out));
    assert_eq!(
        fs::read_link(k.path("state/current")).unwrap(),
        Path::new("slots/a")
    );
    let h = k.wait_version("9.0.0");
    assert_eq!(h["update"]["current"], "9.0.0");
    assert_eq!(h["update"]["slot"], "a");
    assert_eq!(h["update"]["last_attempt"]["outcome"], "installed");
    assert!(k.path("state/db/snapshot.sqlite").exists());
    // The restart went through the launcher: the slot binary runs with CALENDARBOT_SLOT.
    let pid = fs::read_to_string(k.path("sys/pid")).unwrap();
    let environ = fs::read(format!("/proc/{}/environ", pid.trim())).unwrap();
    assert!(
        environ
            .split(|b| *b == 0)
            .any(|v| v == b"CALENDARBOT_SLOT=a"),
        "the server does not run from slot a"
    );

    // A release whose binary exits at start: the gate fails, the rollback puts 9.0.0 back.
    Release::new("9.1.0", script_binary("exit 1")).publish(&k.channel(), &k.key);
    let out = k.update(&[], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(
        fs::read_link(k.path("state/current")).unwrap(),
        Path::new("slots/a")
    );
    let h = k.wait_version("9.0.0");
    assert_eq!(h["update"]["bad"], serde_json::json!(["9.1.0"]));
    assert_eq!(h["update"]["last_attempt"]["outcome"], "rolled_back");
    assert!(k.calls().contains("reset-failed calendarbot.service"));
    // A bad version is not tried again.
    let out = k.update(&[], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("bad"), "{}", text(&out));
}

/// A state dir whose `current` slot holds `binary` with `mode` (none: no binary).
fn slot_with(dir: &Path, binary: Option<(&[u8], u32)>) {
    let slot = dir.join("slots/a");
    fs::create_dir_all(&slot).unwrap();
    if let Some((bytes, mode)) = binary {
        fs::write(slot.join("calendarbot"), bytes).unwrap();
        fs::set_permissions(slot.join("calendarbot"), fs::Permissions::from_mode(mode)).unwrap();
    }
    std::os::unix::fs::symlink("slots/a", dir.join("current")).unwrap();
}

#[test]
fn the_launcher_runs_the_slot_binary_or_falls_back_to_the_factory_one() {
    let stamped = stamped_binary("7.5.0");
    for (case, binary, want) in [
        ("executable", Some((stamped.as_slice(), 0o755)), "7.5.0"),
        ("not executable", Some((stamped.as_slice(), 0o644)), FACTORY),
        ("missing", None, FACTORY),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        slot_with(&state, binary);
        let b = Binary::start_answering(
            &tmp.path().join("data"),
            &[("CALENDARBOT_UPDATE__STATE_DIR", state.display().to_string())],
        );
        let (_, h) = b.get("/api/health").unwrap();
        assert_eq!(h["version"], want, "{case}: {}", b.log());
        assert_eq!(h["system_diagnostics"]["version"], want, "{case}");
        if want == FACTORY {
            assert!(
                b.log().contains("serving as the factory binary"),
                "{case}: {}",
                b.log()
            );
        }
        drop(b);
        std::thread::sleep(Duration::from_millis(10));
    }
}
