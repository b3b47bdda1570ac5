//! The update state machine without systemd: real files in a temp dir, real signed bundles
//! served over `file://`, a real SQLite database, and a fake machine that plays the service
//! (starts fine, exits at start, never READY, answers the old version, restarts while
//! settling, migrates the database) and cuts the power after any step.

use super::host::{HealthAnswer, Host, UNIT, UnitState};
use super::machine::Updater;
use super::slots::Dir;
use super::{Outcome, UpdateError};
use crate::config::UpdateConfig;
use crate::version::state::State;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const FACTORY: &str = "0.1.0";

/// How a version behaves once started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plays {
    Good,
    ExitsAtStart,
    NeverReady,
    OldVersion,
    RestartsWhileSettling,
    /// Starts fine and migrates the database (user_version 2, a row of its own).
    Migrates,
    /// Migrates the database, then exits (and is restarted until the start limit).
    MigratesThenExits,
}

struct Fake {
    now: Duration,
    dir: Dir,
    db: PathBuf,
    plays: BTreeMap<String, Plays>,
    running: Option<String>,
    started: Duration,
    restarts: u64,
    cut: Option<&'static str>,
    calls: Vec<String>,
}

/// The power goes out (unwinds out of the updater).
struct Cut;

impl Fake {
    fn new(dir: &Dir, db: &Path) -> Fake {
        let mut f = Fake {
            now: Duration::ZERO,
            dir: dir.clone(),
            db: db.to_path_buf(),
            plays: BTreeMap::new(),
            running: None,
            started: Duration::ZERO,
            restarts: 0,
            cut: None,
            calls: Vec::new(),
        };
        f.boot();
        f
    }

    /// The version `current` points at (its bundle.json), else the factory's.
    fn linked_version(&self) -> String {
        std::fs::read(self.dir.current_link().join("bundle.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["version"].as_str().map(str::to_string))
            .unwrap_or_else(|| FACTORY.to_string())
    }

    fn plays(&self) -> Plays {
        let v = self.running.clone().unwrap_or_default();
        *self.plays.get(&v).unwrap_or(&Plays::Good)
    }

    /// systemd starts the unit: the launcher runs whatever `current` points at.
    fn boot(&mut self) {
        let v = self.linked_version();
        self.running = Some(v);
        self.started = self.now;
        self.restarts = 0;
        if matches!(self.plays(), Plays::Migrates | Plays::MigratesThenExits) {
            let c = rusqlite::Connection::open(&self.db).unwrap();
            c.execute_batch(
                "PRAGMA user_version = 2; INSERT INTO t VALUES ('written by the new build');",
            )
            .unwrap();
        }
    }
}

impl Host for Fake {
    fn restart(&mut self, unit: &str) -> Result<(), String> {
        self.calls.push(format!("restart {unit}"));
        if unit == UNIT {
            self.boot();
        }
        Ok(())
    }
    fn stop(&mut self, unit: &str) -> Result<(), String> {
        self.calls.push(format!("stop {unit}"));
        if unit == UNIT {
            self.running = None;
        }
        Ok(())
    }
    fn reset_failed(&mut self, unit: &str) -> Result<(), String> {
        self.calls.push(format!("reset-failed {unit}"));
        Ok(())
    }
    fn show(&mut self, unit: &str) -> Result<UnitState, String> {
        if unit != UNIT || self.running.is_none() {
            return Ok(UnitState {
                active: "inactive".into(),
                n_restarts: 0,
            });
        }
        let up = (self.now - self.started).as_secs();
        let (active, n) = match self.plays() {
            // Restart=on-failure every 5 s, start limit 5.
            Plays::ExitsAtStart | Plays::MigratesThenExits if up / 5 >= 5 => ("failed", 5),
            Plays::ExitsAtStart | Plays::MigratesThenExits => ("activating", up / 5),
            Plays::NeverReady => ("activating", 0),
            Plays::RestartsWhileSettling if up >= 10 => ("active", 1),
            _ => ("active", 0),
        };
        Ok(UnitState {
            active: active.into(),
            n_restarts: self.restarts + n,
        })
    }
    fn health(&mut self) -> Option<HealthAnswer> {
        let v = self.running.clone()?;
        match self.plays() {
            Plays::ExitsAtStart | Plays::MigratesThenExits | Plays::NeverReady => None,
            Plays::OldVersion => Some(HealthAnswer {
                status: 200,
                version: Some(FACTORY.into()),
            }),
            _ => Some(HealthAnswer {
                status: 200,
                version: Some(v),
            }),
        }
    }
    fn sleep(&mut self, d: Duration) {
        self.now += d;
    }
    fn elapsed(&mut self) -> Duration {
        self.now
    }
    fn after_step(&mut self, step: &str) {
        if self.cut == Some(step) {
            self.cut = None;
            std::panic::panic_any(Cut);
        }
    }
}

/// A channel directory, keys, a state dir and a database in one temp dir.
struct World {
    tmp: tempfile::TempDir,
    key: Ed25519KeyPair,
    cfg: UpdateConfig,
    dir: Dir,
    db: PathBuf,
}

fn pem(public: &[u8]) -> String {
    use base64::Engine;
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(public);
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
}

fn new_key() -> Ed25519KeyPair {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let doc = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap()
}

fn hex(b: &[u8]) -> String {
    super::manifest::sha256_hex(b)
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let key = new_key();
        std::fs::create_dir_all(tmp.path().join("channel")).unwrap();
        std::fs::create_dir_all(tmp.path().join("data")).unwrap();
        std::fs::write(
            tmp.path().join("release.pub"),
            pem(key.public_key().as_ref()),
        )
        .unwrap();
        let db = tmp.path().join("data/calendarbot.db");
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (x TEXT); PRAGMA user_version = 1; INSERT INTO t VALUES ('kept');")
            .unwrap();
        drop(c);
        let cfg = UpdateConfig {
            url: format!("file://{}/channel/", tmp.path().display()),
            public_key: tmp.path().join("release.pub"),
            state_dir: tmp.path().join("state"),
            settle_s: 30,
            gate_timeout_s: 60,
            ..UpdateConfig::default()
        };
        let dir = Dir::new(&cfg.state_dir);
        World {
            tmp,
            key,
            cfg,
            dir,
            db,
        }
    }

    fn channel(&self) -> PathBuf {
        self.tmp.path().join("channel")
    }

    /// Publish `version` (a bundle with a fake binary and one overlay file), signed.
    fn publish(&self, version: &str) {
        self.publish_with(version, "stable", |_| {}, |_| {});
    }

    fn publish_with(
        &self,
        version: &str,
        channel: &str,
        tamper_tar: impl FnOnce(&mut Vec<u8>),
        tamper_manifest: impl FnOnce(&mut Vec<u8>),
    ) {
        let bin = format!("#!/bin/sh\necho calendarbot {version}\n").into_bytes();
        let unit = b"[Unit]\nDescription=x\n".to_vec();
        let files = [
            ("calendarbot", &bin, 0o755u32),
            (
                "overlay/etc/systemd/system/calendarbot.service",
                &unit,
                0o644,
            ),
        ];
        let index = serde_json::json!({
            "name": "calendarbot", "version": version, "git_commit": "0".repeat(40),
            "files": files.iter().map(|(p, b, m)| serde_json::json!({
                "path": p, "size": b.len(), "sha256": hex(b), "mode": m})).collect::<Vec<_>>(),
        });
        let index = serde_json::to_vec_pretty(&index).unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        let mut add = |path: &str, data: &[u8], mode: u32| {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(mode);
            h.set_mtime(1_764_500_000);
            h.set_cksum();
            builder.append_data(&mut h, path, data).unwrap();
        };
        add("bundle.json", &index, 0o644);
        for (p, b, m) in files {
            add(p, b, m);
        }
        let mut tar = builder.into_inner().unwrap();
        let bundle_name = format!("calendarbot-{version}.bundle.tar");
        let manifest = serde_json::json!({
            "name": "calendarbot", "version": version, "channel": channel,
            "git_commit": "0".repeat(40), "profile": "pi", "source_date_epoch": 1_764_500_000,
            "artifacts": [{"kind": "bundle", "file": bundle_name, "size": tar.len(), "sha256": hex(&tar)}],
        });
        let mut manifest = serde_json::to_vec_pretty(&manifest).unwrap();
        manifest.push(b'\n');
        let sig = self.key.sign(&manifest);
        tamper_tar(&mut tar);
        tamper_manifest(&mut manifest);
        std::fs::write(self.channel().join(&bundle_name), &tar).unwrap();
        std::fs::write(self.channel().join("manifest.json"), &manifest).unwrap();
        std::fs::write(self.channel().join("manifest.json.sig"), sig.as_ref()).unwrap();
    }

    /// The updater over this rig's directories, driving `fake` as its machine.
    fn updater<'a>(&'a self, fake: &'a mut Fake) -> Updater<'a, Fake> {
        Updater {
            cfg: &self.cfg,
            dir: self.dir.clone(),
            db: self.db.clone(),
            host: fake,
            factory_version: FACTORY.into(),
        }
    }

    fn run(&self, fake: &mut Fake) -> Result<Outcome, UpdateError> {
        self.updater(fake).run()
    }

    fn rollback(&self, fake: &mut Fake, reason: &str) -> Result<Outcome, UpdateError> {
        self.updater(fake).rollback_command(reason)
    }

    fn fake(&self) -> Fake {
        Fake::new(&self.dir, &self.db)
    }

    fn state(&self) -> State {
        self.dir.read_state().unwrap()
    }

    fn user_version(&self) -> i64 {
        super::db::user_version(&self.db).unwrap().unwrap()
    }

    fn rows(&self) -> Vec<String> {
        let c = rusqlite::Connection::open(&self.db).unwrap();
        let mut s = c.prepare("SELECT x FROM t ORDER BY x").unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// Nothing was written to a slot and `current` is untouched.
    fn assert_nothing_installed(&self) {
        assert!(!self.dir.slot("a").exists() && !self.dir.slot("b").exists());
        assert!(self.dir.current_slot().is_none());
        assert!(self.state().trying.is_none());
    }
}

#[test]
fn a_good_bundle_is_installed_into_the_inactive_slot_and_committed() {
    let w = World::new();
    w.publish("0.2.0");
    let mut f = w.fake();
    assert_eq!(w.run(&mut f).unwrap(), Outcome::Installed("0.2.0".into()));
    assert_eq!(w.dir.current_slot().as_deref(), Some("a"));
    let st = w.state();
    assert_eq!(st.current.as_ref().unwrap().version, "0.2.0");
    assert!(st.previous.is_none() && st.trying.is_none() && st.bad.is_empty());
    assert_eq!(st.last_attempt.unwrap().outcome, "installed");
    assert!(w.dir.snapshot().exists());
    assert!(
        w.dir
            .slot("a")
            .join("overlay/etc/systemd/system/calendarbot.service")
            .exists()
    );
    assert_eq!(f.running.as_deref(), Some("0.2.0"));
    // The settle period was waited out.
    assert!(f.now >= Duration::from_secs(30), "{:?}", f.now);

    // The next release goes into the other slot; the first becomes the previous one.
    w.publish("0.3.0");
    assert_eq!(w.run(&mut f).unwrap(), Outcome::Installed("0.3.0".into()));
    assert_eq!(w.dir.current_slot().as_deref(), Some("b"));
    let st = w.state();
    assert_eq!(st.previous.unwrap().version, "0.2.0");
    // Nothing newer: nothing to do, nothing recorded.
    assert!(matches!(w.run(&mut f).unwrap(), Outcome::Nothing(_)));
}

fn rolled_back(plays: Plays) -> (World, Fake) {
    let w = World::new();
    w.publish("0.2.0");
    let mut f = w.fake();
    f.plays.insert("0.2.0".into(), plays);
    match w.run(&mut f).unwrap() {
        Outcome::RolledBack(v, _) => assert_eq!(v, "0.2.0"),
        other => panic!("{plays:?}: {other:?}"),
    }
    let st = w.state();
    assert_eq!(st.bad, vec!["0.2.0".to_string()]);
    assert!(st.current.is_none() && st.trying.is_none());
    assert_eq!(st.last_attempt.as_ref().unwrap().outcome, "rolled_back");
    assert!(w.dir.current_slot().is_none(), "back to the factory binary");
    assert_eq!(f.running.as_deref(), Some(FACTORY));
    assert!(f.calls.contains(&format!("reset-failed {UNIT}")));
    assert_eq!(w.rows(), vec!["kept".to_string()]);
    (w, f)
}

#[test]
fn a_binary_that_exits_at_start_is_rolled_back() {
    let (_, f) = rolled_back(Plays::ExitsAtStart);
    assert!(f.now < Duration::from_secs(60));
}

#[test]
fn a_binary_that_is_never_ready_is_rolled_back_after_the_gate_timeout() {
    let (_, f) = rolled_back(Plays::NeverReady);
    assert!(f.now >= Duration::from_secs(60));
}

#[test]
fn health_reporting_the_old_version_is_rolled_back() {
    rolled_back(Plays::OldVersion);
}

#[test]
fn a_restart_while_settling_is_rolled_back() {
    let (w, _) = rolled_back(Plays::RestartsWhileSettling);
    let why = w.state().last_attempt.unwrap().reason.unwrap();
    assert!(why.contains("settle"), "{why}");
}

#[test]
fn a_migrated_database_is_restored_on_rollback() {
    let w = World::new();
    w.publish("0.2.0");
    let mut f = w.fake();
    f.plays.insert("0.2.0".into(), Plays::Migrates);
    w.run(&mut f).unwrap();
    assert_eq!(w.user_version(), 2);
    // Later it crash-loops: OnFailure runs `--rollback`.
    assert_eq!(
        w.rollback(&mut f, "service failed").unwrap(),
        Outcome::RolledBack("0.2.0".into(), "service failed".into())
    );
    assert_eq!(w.user_version(), 1, "the old schema is back");
    assert_eq!(w.rows(), vec!["kept".to_string()]);
    let st = w.state();
    assert!(st.current.is_none() && st.bad == vec!["0.2.0".to_string()]);
    // A bad version is never tried again.
    assert!(matches!(w.run(&mut f), Err(UpdateError::Refused(m)) if m.contains("bad")));
}

#[test]
fn rollback_without_a_schema_change_keeps_the_database_and_returns_to_the_previous_slot() {
    let w = World::new();
    w.publish("0.2.0");
    let mut f = w.fake();
    w.run(&mut f).unwrap();
    w.publish("0.3.0");
    w.run(&mut f).unwrap();
    rusqlite::Connection::open(&w.db)
        .unwrap()
        .execute_batch("INSERT INTO t VALUES ('later')")
        .unwrap();
    w.rollback(&mut f, "service failed").unwrap();
    assert_eq!(w.dir.current_slot().as_deref(), Some("a"));
    assert_eq!(w.state().current.unwrap().version, "0.2.0");
    assert_eq!(w.rows(), vec!["kept".to_string(), "later".to_string()]);
    // With the factory binary running there is nothing to roll back to.
    w.rollback(&mut f, "again").unwrap();
    assert!(matches!(
        w.rollback(&mut f, "and again").unwrap(),
        Outcome::Nothing(_)
    ));
}

fn refused(w: &World, want: &str) {
    let mut f = w.fake();
    match w.run(&mut f) {
        Err(UpdateError::Refused(m)) => assert!(m.contains(want), "{m} (wanted {want})"),
        other => panic!("wanted a refusal ({want}), got {other:?}"),
    }
    w.assert_nothing_installed();
    assert_eq!(w.state().last_attempt.unwrap().outcome, "refused");
    assert!(f.calls.is_empty(), "{:?}", f.calls);
}

#[test]
fn a_tampered_bundle_is_refused_before_anything_is_written() {
    let w = World::new();
    w.publish_with("0.2.0", "stable", |t| t[600] ^= 1, |_| {});
    refused(&w, "sha256");
}

#[test]
fn a_tampered_manifest_is_refused() {
    let w = World::new();
    w.publish_with("0.2.0", "stable", |_| {}, |m| m[20] ^= 1);
    refused(&w, "signature");
}

#[test]
fn a_signature_by_another_key_is_refused_and_any_key_of_a_rotation_is_accepted() {
    let w = World::new();
    w.publish("0.2.0");
    let other = new_key();
    std::fs::write(&w.cfg.public_key, pem(other.public_key().as_ref())).unwrap();
    refused(&w, "signature");
    let both = format!(
        "{}{}",
        pem(other.public_key().as_ref()),
        pem(w.key.public_key().as_ref())
    );
    std::fs::write(&w.cfg.public_key, both).unwrap();
    assert_eq!(
        w.run(&mut w.fake()).unwrap(),
        Outcome::Installed("0.2.0".into())
    );
}

#[test]
fn a_downgrade_is_refused_unless_pinned() {
    let mut w = World::new();
    w.publish("0.2.0");
    let mut f = w.fake();
    w.run(&mut f).unwrap();
    w.publish("0.1.5");
    match w.run(&mut f) {
        Err(UpdateError::Refused(m)) => assert!(m.contains("older"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A refusal after the signature verified names the version it refused.
    assert_eq!(w.state().last_attempt.unwrap().version, "0.1.5");
    w.cfg.pin = "0.1.5".into();
    assert_eq!(w.run(&mut f).unwrap(), Outcome::Installed("0.1.5".into()));
}

#[test]
fn another_channel_and_an_oversized_bundle_are_refused() {
    let mut w = World::new();
    w.publish_with("0.2.0", "beta", |_| {}, |_| {});
    refused(&w, "channel");
    w.publish("0.2.0");
    w.cfg.max_bundle_bytes = 1024;
    refused(&w, "max_bundle_bytes");
}

#[test]
fn a_pem_of_another_algorithm_is_a_key_error() {
    let bad = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VuAyEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n-----END PUBLIC KEY-----\n";
    assert!(super::manifest::parse_public_keys(bad).is_err());
    assert!(super::manifest::parse_public_keys("").is_err());
}

/// Every point a power cut can hit: after it the kiosk boots (systemd starts whatever
/// `current` points at) and the next run leaves a consistent, serving state.
const CUTS: &[&str] = &[
    "unpack",
    "snapshot",
    "trying",
    "switch",
    "restart",
    "rollback-record",
    "rollback-switch",
    "rollback-restore",
];

fn cut_then_recover(plays: Plays, cut: &'static str) -> (World, Fake) {
    let w = World::new();
    w.publish("0.2.0");
    let mut f = w.fake();
    f.plays.insert("0.2.0".into(), plays);
    f.cut = Some(cut);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w.run(&mut f)));
    let was_cut = r.is_err();
    // Power back: the machine boots into whatever `current` points at.
    f.boot();
    let after = w.run(&mut f);
    assert!(after.is_ok(), "{cut}: {after:?}");
    let st = w.state();
    assert!(st.trying.is_none(), "{cut} (cut: {was_cut}): {st:?}");
    let want = st.current.as_ref().map_or(FACTORY, |c| c.version.as_str());
    assert_eq!(
        f.running.as_deref(),
        Some(want),
        "{cut}: serving what state.json says"
    );
    assert_eq!(
        w.dir.current_slot(),
        st.current.as_ref().map(|c| c.slot.clone()),
        "{cut}"
    );
    assert!(
        std::fs::read_dir(w.dir.incoming())
            .unwrap()
            .next()
            .is_none()
    );
    (w, f)
}

#[test]
fn a_power_cut_at_any_step_of_a_good_install_ends_serving() {
    for cut in CUTS {
        let (w, _) = cut_then_recover(Plays::Good, cut);
        // Cut before the switch: abandoned, then installed by the next run; after: committed.
        let st = w.state();
        let v = st.current.map(|c| c.version);
        assert!(v.is_none() || v.as_deref() == Some("0.2.0"), "{cut}");
        let mut f = w.fake();
        w.run(&mut f).unwrap();
        assert_eq!(w.state().current.unwrap().version, "0.2.0", "{cut}");
    }
}

#[test]
fn a_power_cut_at_any_step_of_a_failing_install_ends_on_the_old_version() {
    for cut in CUTS {
        let (w, _) = cut_then_recover(Plays::MigratesThenExits, cut);
        let st = w.state();
        assert!(st.current.is_none(), "{cut}: {st:?}");
        // Whether the rollback ran before or after the cut, the old schema serves.
        assert_eq!(w.user_version(), 1, "{cut}");
        assert_eq!(w.rows(), vec!["kept".to_string()], "{cut}");
    }
    for cut in CUTS {
        let (w, _) = cut_then_recover(Plays::ExitsAtStart, cut);
        let st = w.state();
        assert!(st.current.is_none(), "{cut}: {st:?}");
        assert_eq!(w.rows(), vec!["kept".to_string()], "{cut}");
    }
}

#[test]
fn parse_show_reads_state_and_restarts() {
    let s = super::host::parse_show("ActiveState=activating\nNRestarts=3\n");
    assert_eq!((s.active.as_str(), s.n_restarts), ("activating", 3));
}

#[test]
fn the_ustar_reader_reads_what_python_and_gnu_tar_write() {
    let tmp = tempfile::tempdir().unwrap();
    let long = format!("overlay/{}/unit.service", "d".repeat(120));
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join(long.rsplit_once('/').unwrap().0)).unwrap();
    std::fs::write(src.join("bundle.json"), b"{}").unwrap();
    std::fs::write(src.join(&long), vec![7u8; 1000]).unwrap();
    std::os::unix::fs::symlink("/etc/x", src.join("link")).unwrap();
    let py = format!(
        "import tarfile\nt = tarfile.open({out:?}, 'w', format=tarfile.USTAR_FORMAT)\n\
         for n in ['bundle.json', {long:?}, 'link']:\n    t.add({src:?} + '/' + n, arcname=n, recursive=False)\nt.close()\n",
        out = tmp.path().join("py.tar").display().to_string(),
        src = src.display().to_string(),
    );
    let ok = std::process::Command::new("python3")
        .arg("-c")
        .arg(&py)
        .status()
        .unwrap();
    assert!(ok.success());
    let gnu = std::process::Command::new("tar")
        .arg("--format=ustar")
        .arg("-cf")
        .arg(tmp.path().join("gnu.tar"))
        .arg("-C")
        .arg(&src)
        .args(["bundle.json", &long, "link"])
        .status()
        .unwrap();
    assert!(gnu.success());
    for name in ["py.tar", "gnu.tar"] {
        let bytes = std::fs::read(tmp.path().join(name)).unwrap();
        let e = super::ustar::entries(&bytes).unwrap();
        let got: Vec<(&str, u8, usize)> = e
            .iter()
            .map(|e| (e.path.as_str(), e.kind, e.data.len()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("bundle.json", b'0', 2),
                (long.as_str(), b'0', 1000),
                ("link", b'2', 0)
            ],
            "{name}"
        );
        assert_eq!(e[1].data, &[7u8; 1000][..]);
        // One flipped header byte: the checksum says so.
        let mut broken = bytes.clone();
        broken[3] ^= 1;
        assert!(
            super::ustar::entries(&broken)
                .unwrap_err()
                .contains("checksum")
        );
        // Cut short: refused.
        assert!(super::ustar::entries(&bytes[..1024]).is_err());
    }
}
