//! The update run as a state machine: recover → check → unpack → snapshot → trying → switch →
//! restart → gate → commit, or rollback. Every step is a journal line with `UPDATE_STEP`,
//! `UPDATE_VERSION`, `UPDATE_SLOT`, `UPDATE_OUTCOME`, and every durable change is one atomic
//! rename, so a power cut between any two steps is recovered by the next run.

use super::bundle;
use super::db;
use super::host::{DISPLAY_UNIT, Host, UNIT};
use super::manifest::{self, Decision};
use super::slots::{Dir, now_iso, other_slot};
use super::{Outcome, UpdateError};
use crate::config::UpdateConfig;
use crate::version::state::{Attempt, FACTORY, Installed, State, Trying};
use std::path::PathBuf;
use std::time::Duration;

/// The largest release key file read (a few PEM blocks).
const MAX_KEY_BYTES: u64 = 64 * 1024;

/// One journal line of the updater, with its structured fields.
pub(crate) fn log_step(step: &str, version: &str, slot: &str, outcome: &str, msg: &str) {
    tracing::info!(
        update_step = step,
        update_version = version,
        update_slot = slot,
        update_outcome = outcome,
        "update {step}: {msg}"
    );
}

/// The updater: its configuration, state directory, database and machine.
pub(crate) struct Updater<'a, H: Host> {
    pub cfg: &'a UpdateConfig,
    pub dir: Dir,
    /// The server's database file.
    pub db: PathBuf,
    pub host: &'a mut H,
    /// The factory binary's version (what runs when no slot is current).
    pub factory_version: String,
}

impl<H: Host> Updater<'_, H> {
    fn write(&self, st: &State) -> Result<(), UpdateError> {
        self.dir
            .write_state(st)
            .map_err(|e| UpdateError::Io(format!("writing state.json: {e}")))
    }

    fn io(what: &str) -> impl Fn(std::io::Error) -> UpdateError + '_ {
        move |e| UpdateError::Io(format!("{what}: {e}"))
    }

    /// The version running now: the current slot's, else the factory's.
    fn current_version(&self, st: &State) -> String {
        st.current
            .as_ref()
            .map_or_else(|| self.factory_version.clone(), |c| c.version.clone())
    }

    fn attempt(st: &mut State, version: &str, outcome: &str, reason: Option<String>) {
        st.last_attempt = Some(Attempt {
            version: version.to_string(),
            at: now_iso(),
            outcome: outcome.to_string(),
            reason,
        });
    }

    /// Step 1: finish an attempt a power cut (or a killed run) interrupted.
    pub(crate) fn recover(&mut self, st: &mut State) -> Result<Option<Outcome>, UpdateError> {
        self.dir
            .clear_incoming()
            .map_err(Self::io("clearing incoming/"))?;
        let Some(t) = st.trying.clone() else {
            return Ok(None);
        };
        if let Some(reason) = t.rollback.clone() {
            log_step(
                "recover",
                &t.version,
                &t.slot,
                "rolling_back",
                "finishing a cut rollback",
            );
            self.rollback_to(st, &t, false, &reason)?;
            return Ok(Some(Outcome::RolledBack(t.version, reason)));
        }
        if self.dir.current_slot().as_deref() != Some(t.slot.as_str()) {
            // The switch never happened: the old version still runs; nothing to undo.
            st.trying = None;
            let why = "interrupted before the switch".to_string();
            Self::attempt(st, &t.version, "interrupted", Some(why.clone()));
            self.write(st)?;
            log_step("recover", &t.version, &t.slot, "interrupted", &why);
            return Ok(Some(Outcome::Interrupted(t.version)));
        }
        log_step(
            "recover",
            &t.version,
            &t.slot,
            "gating",
            "an attempt was interrupted after the switch",
        );
        Ok(Some(self.gate_then_commit(st, &t)))
    }

    /// Steps 2-3 as far as verification goes: the manifest, fetched and verified, and the
    /// decision. Writes nothing.
    pub(crate) fn check(
        &mut self,
        st: &State,
    ) -> Result<(manifest::Manifest, Decision), UpdateError> {
        let m = self.verified_manifest()?;
        let d = self.decide(st, &m)?;
        Ok((m, d))
    }

    /// The channel's manifest, its signature verified with the release key(s).
    fn verified_manifest(&mut self) -> Result<manifest::Manifest, UpdateError> {
        let url = &self.cfg.url;
        let key_err =
            |e: String| UpdateError::Key(format!("{}: {e}", self.cfg.public_key.display()));
        let file = std::fs::File::open(&self.cfg.public_key).map_err(|e| key_err(e.to_string()))?;
        let mut pem = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_KEY_BYTES + 1), &mut pem)
            .map_err(|e| key_err(e.to_string()))?;
        if pem.len() as u64 > MAX_KEY_BYTES {
            return Err(key_err(format!("larger than {MAX_KEY_BYTES} bytes")));
        }
        let keys = manifest::parse_public_keys(&pem)?;
        let m_bytes = bundle::fetch(
            &bundle::join_url(url, "manifest.json"),
            bundle::MAX_SMALL_BYTES,
        )?;
        let sig = bundle::fetch(
            &bundle::join_url(url, "manifest.json.sig"),
            bundle::MAX_SMALL_BYTES,
        )?;
        manifest::verify(&keys, &m_bytes, &sig)?;
        manifest::parse_manifest(&m_bytes)
    }

    /// Whether a verified manifest may be installed here (and its bundle's size).
    fn decide(&self, st: &State, m: &manifest::Manifest) -> Result<Decision, UpdateError> {
        let decision = manifest::decide(
            m,
            &self.cfg.channel,
            &self.current_version(st),
            &st.bad,
            &self.cfg.pin,
        )?;
        let b = m.bundle()?;
        if decision == Decision::Install && b.size > self.cfg.max_bundle_bytes {
            return Err(UpdateError::Refused(format!(
                "the bundle is {} bytes, more than max_bundle_bytes {}",
                b.size, self.cfg.max_bundle_bytes
            )));
        }
        Ok(decision)
    }

    /// One whole run: recover, check, install, gate.
    pub(crate) fn run(&mut self) -> Result<Outcome, UpdateError> {
        self.dir
            .create()
            .map_err(Self::io("creating the state directory"))?;
        let mut st = self.dir.read_state().map_err(UpdateError::Io)?;
        if let Some(o) = self.recover(&mut st)? {
            return Ok(o);
        }
        if self.cfg.url.is_empty() {
            log_step("check", "", "", "off", "[update] url is not set");
            return Ok(Outcome::Nothing(
                "updates are off ([update] url is not set)".into(),
            ));
        }
        let verified = self.verified_manifest();
        let known = verified.as_ref().ok().map(|m| m.version.clone());
        let checked = verified.and_then(|m| self.decide(&st, &m).map(|d| (m, d)));
        let (m, decision) = match checked {
            Ok(v) => v,
            Err(e @ UpdateError::Refused(_)) | Err(e @ UpdateError::Key(_)) => {
                // The version, once the manifest verified; "unknown" before.
                let version = known.as_deref().unwrap_or("unknown");
                Self::attempt(&mut st, version, "refused", Some(e.to_string()));
                self.write(&st)?;
                log_step("check", version, "", "refused", &e.to_string());
                return Err(e);
            }
            Err(e) => {
                log_step("check", "", "", "failed", &e.to_string());
                return Err(e);
            }
        };
        if decision == Decision::UpToDate {
            let msg = format!(
                "{} is installed; nothing newer on {}",
                m.version, self.cfg.channel
            );
            log_step("check", &m.version, "", "up_to_date", &msg);
            return Ok(Outcome::Nothing(msg));
        }
        match self.install(&mut st, &m) {
            Err(e @ UpdateError::Refused(_)) => {
                Self::attempt(&mut st, &m.version, "refused", Some(e.to_string()));
                self.write(&st)?;
                log_step("fetch", &m.version, "", "refused", &e.to_string());
                Err(e)
            }
            other => other,
        }
    }

    /// Steps 3-6 for a verified manifest.
    fn install(&mut self, st: &mut State, m: &manifest::Manifest) -> Result<Outcome, UpdateError> {
        let v = m.version.clone();
        let art = m.bundle()?.clone();
        log_step(
            "check",
            &v,
            "",
            "found",
            &format!("{v} found on {}", self.cfg.channel),
        );
        let cap = art.size.min(self.cfg.max_bundle_bytes);
        let tar = bundle::fetch(&bundle::join_url(&self.cfg.url, &art.file), cap)?;
        bundle::check_artifact(&tar, art.size, &art.sha256)?;
        log_step(
            "fetch",
            &v,
            "",
            "ok",
            &format!("{} bytes, sha256 checked", tar.len()),
        );
        let current_slot = self.dir.current_slot();
        let slot = other_slot(current_slot.as_deref()).to_string();
        let staging = self.dir.incoming().join(&slot);
        bundle::unpack(&tar, &staging, &v)?;
        drop(tar);
        let dest = self.dir.slot(&slot);
        if dest.exists() {
            std::fs::remove_dir_all(&dest).map_err(Self::io("clearing the inactive slot"))?;
        }
        std::fs::rename(&staging, &dest).map_err(Self::io("moving the slot into place"))?;
        super::slots::sync_dir(&self.dir.root.join("slots")).map_err(Self::io("fsync slots/"))?;
        log_step("unpack", &v, &slot, "ok", "every file matches bundle.json");
        self.host.after_step("unpack");

        let user_version = db::user_version(&self.db)?;
        db::snapshot(&self.db, &self.dir.snapshot())?;
        log_step(
            "snapshot",
            &v,
            &slot,
            "ok",
            &format!("database user_version {user_version:?}"),
        );
        self.host.after_step("snapshot");

        let health_before = self.host.health().map(|h| h.status);
        let t = Trying {
            version: v.clone(),
            slot: slot.clone(),
            at: now_iso(),
            from: st.current.clone(),
            user_version,
            health_before,
            rollback: None,
        };
        st.trying = Some(t.clone());
        // The inactive slot held the previous version: it is gone now.
        if st.previous.as_ref().is_some_and(|p| p.slot == slot) {
            st.previous = None;
        }
        self.write(st)?;
        self.host.after_step("trying");

        self.dir
            .switch(Some(&slot))
            .map_err(Self::io("switching current"))?;
        log_step(
            "switch",
            &v,
            &slot,
            "ok",
            &format!("current -> slots/{slot}"),
        );
        self.host.after_step("switch");
        self.restart_units()?;
        log_step("restart", &v, &slot, "ok", "calendarbot.service restarted");
        self.host.after_step("restart");
        Ok(self.gate_then_commit(st, &t))
    }

    fn restart_units(&mut self) -> Result<(), UpdateError> {
        let display = self
            .host
            .show(DISPLAY_UNIT)
            .is_ok_and(|s| s.active == "active" || s.active == "activating");
        self.host.restart(UNIT).map_err(UpdateError::Io)?;
        if display {
            self.host.restart(DISPLAY_UNIT).map_err(UpdateError::Io)?;
        }
        Ok(())
    }

    /// Steps 6-7: the gate, then commit or roll back.
    fn gate_then_commit(&mut self, st: &mut State, t: &Trying) -> Outcome {
        match self.gate(&t.version, t.health_before) {
            Ok(()) => match self.commit(st, t) {
                Ok(()) => Outcome::Installed(t.version.clone()),
                Err(e) => Outcome::Failed(e.to_string()),
            },
            Err(reason) => {
                log_step("gate", &t.version, &t.slot, "failed", &reason);
                match self.rollback_to(st, t, true, &reason) {
                    Ok(()) => Outcome::RolledBack(t.version.clone(), reason),
                    Err(e) => Outcome::Failed(format!("{reason}; the rollback failed: {e}")),
                }
            }
        }
    }

    /// READY and health reporting `version` within the timeout, then the settle period
    /// without a restart. A health status other than 200 passes only if the old version
    /// answered the same before the switch (stale feeds are not the new build's fault).
    pub(crate) fn gate(&mut self, version: &str, before: Option<u16>) -> Result<(), String> {
        let start = self.host.elapsed();
        let timeout = Duration::from_secs(self.cfg.gate_timeout_s);
        let step = Duration::from_secs(1);
        let mut last;
        let base = loop {
            let unit = self.host.show(UNIT)?;
            if unit.active == "failed" {
                return Err(format!("{UNIT} failed while starting {version}"));
            }
            let health = self.host.health();
            let good_status = |s: u16| s == 200 || before.is_some_and(|b| b == s);
            match &health {
                Some(h)
                    if unit.active == "active"
                        && h.version.as_deref() == Some(version)
                        && good_status(h.status) =>
                {
                    break unit.n_restarts;
                }
                Some(h) => {
                    last = format!(
                        "state {}, health {} reporting {}",
                        unit.active,
                        h.status,
                        h.version.as_deref().unwrap_or("no version")
                    );
                }
                None => last = format!("state {}, no health answer", unit.active),
            }
            if self.host.elapsed() - start >= timeout {
                return Err(format!(
                    "{version} was not READY and healthy within {} s ({last})",
                    self.cfg.gate_timeout_s
                ));
            }
            self.host.sleep(step);
        };
        log_step("gate", version, "", "ready", "READY and healthy; settling");
        let settle = Duration::from_secs(self.cfg.settle_s);
        let t0 = self.host.elapsed();
        loop {
            let unit = self.host.show(UNIT)?;
            if unit.active != "active" || unit.n_restarts != base {
                return Err(format!(
                    "{version} restarted during the settle period (state {}, NRestarts {} → {})",
                    unit.active, base, unit.n_restarts
                ));
            }
            let spent = self.host.elapsed() - t0;
            if spent >= settle {
                break;
            }
            self.host.sleep(step.min(settle - spent));
        }
        match self.host.health() {
            Some(h) if h.version.as_deref() == Some(version) => Ok(()),
            h => Err(format!("after settling, health answered {h:?}")),
        }
    }

    fn commit(&mut self, st: &mut State, t: &Trying) -> Result<(), UpdateError> {
        st.previous = t.from.clone();
        st.current = Some(Installed {
            version: t.version.clone(),
            slot: t.slot.clone(),
        });
        st.trying = None;
        Self::attempt(st, &t.version, "installed", None);
        self.write(st)?;
        log_step(
            "commit",
            &t.version,
            &t.slot,
            "installed",
            "healthy after the settle period",
        );
        Ok(())
    }

    /// Step 7 (and `--rollback`): undo `t` (its version marked bad): recorded first (a cut
    /// rollback is finished by the next run), `current` back to `t.from` (none: factory), the
    /// database restored when `always_restore` or the schema changed, the unit reset and
    /// restarted.
    pub(crate) fn rollback_to(
        &mut self,
        st: &mut State,
        t: &Trying,
        always_restore: bool,
        reason: &str,
    ) -> Result<(), UpdateError> {
        let bad_version = t.version.as_str();
        let target = t.from.clone();
        let mut record = t.clone();
        record.rollback = Some(reason.to_string());
        st.trying = Some(record);
        self.write(st)?;
        self.host.after_step("rollback-record");
        let slot = target
            .as_ref()
            .map_or(FACTORY, |t| t.slot.as_str())
            .to_string();
        self.dir
            .switch(target.as_ref().map(|t| t.slot.as_str()))
            .map_err(Self::io("switching current back"))?;
        log_step(
            "rollback",
            bad_version,
            &slot,
            "switched",
            &format!("current -> {slot}"),
        );
        self.host.after_step("rollback-switch");
        let _ = self.host.stop(UNIT);
        let snap = self.dir.snapshot();
        let changed = snap.exists() && db::user_version(&snap)? != db::user_version(&self.db)?;
        if snap.exists() && (always_restore || changed) {
            db::restore(&snap, &self.db)?;
            log_step(
                "rollback",
                bad_version,
                &slot,
                "db_restored",
                "database snapshot restored",
            );
        }
        self.host.after_step("rollback-restore");
        let _ = self.host.reset_failed(UNIT);
        self.restart_units()?;
        if !st.bad.iter().any(|b| b == bad_version) {
            st.bad.push(bad_version.to_string());
        }
        if st
            .current
            .as_ref()
            .is_some_and(|c| c.version == bad_version)
        {
            st.current = target;
            st.previous = None;
        }
        st.trying = None;
        Self::attempt(st, bad_version, "rolled_back", Some(reason.to_string()));
        self.write(st)?;
        log_step("rollback", bad_version, &slot, "rolled_back", reason);
        Ok(())
    }

    /// `--rollback`: an attempt in progress is undone; otherwise the current version is
    /// replaced by the previous one (or the factory binary) and marked bad.
    pub(crate) fn rollback_command(&mut self, reason: &str) -> Result<Outcome, UpdateError> {
        self.dir
            .create()
            .map_err(Self::io("creating the state directory"))?;
        let mut st = self.dir.read_state().map_err(UpdateError::Io)?;
        if let Some(t) = st.trying.clone() {
            self.rollback_to(&mut st, &t, true, reason)?;
            return Ok(Outcome::RolledBack(t.version, reason.to_string()));
        }
        let Some(cur) = st.current.clone() else {
            let msg = "the factory binary runs: nothing to roll back to".to_string();
            log_step("rollback", &self.factory_version, FACTORY, "nothing", &msg);
            return Ok(Outcome::Nothing(msg));
        };
        let t = Trying {
            version: cur.version.clone(),
            slot: cur.slot.clone(),
            at: now_iso(),
            from: st.previous.clone(),
            user_version: None,
            health_before: None,
            rollback: None,
        };
        self.rollback_to(&mut st, &t, false, reason)?;
        Ok(Outcome::RolledBack(cur.version, reason.to_string()))
    }
}
