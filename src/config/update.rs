//! `[update]`: where field updates come from and how long the health gate waits.
//!
//! Why it exists apart: `calendarbot update` (docs/updates.md) reads these keys, and the
//! server reads `state_dir` for `/api/health`'s `update` section; validation refuses a channel
//! URL that cannot be fetched before any timer fires.

use super::ConfigError;
use super::error::invalid;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Field updates (docs/updates.md, "On the kiosk").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UpdateConfig {
    /// The channel directory (`https://…/stable/` or `file:///…/stable/`); empty: updates off.
    pub url: String,
    /// Must equal the manifest's `channel`.
    pub channel: String,
    /// The release key(s): PEM `PUBLIC KEY` blocks (Ed25519).
    pub public_key: PathBuf,
    /// Slots, `state.json`, the database snapshot.
    pub state_dir: PathBuf,
    /// A version to install even if older (a deliberate downgrade); empty: none.
    pub pin: String,
    /// Seconds the new version must stay up without a restart.
    pub settle_s: u64,
    /// Seconds allowed for READY and a 200 health reporting the new version.
    pub gate_timeout_s: u64,
    /// A bundle bigger than this is refused before it is downloaded.
    pub max_bundle_bytes: u64,
}

impl Default for UpdateConfig {
    fn default() -> Self {
        UpdateConfig {
            url: String::new(),
            channel: "stable".into(),
            public_key: PathBuf::from("/etc/calendarbot/release.pub"),
            state_dir: PathBuf::from("/var/lib/calendarbot-update"),
            pin: String::new(),
            settle_s: 120,
            gate_timeout_s: 150,
            max_bundle_bytes: 32 * 1024 * 1024,
        }
    }
}

impl UpdateConfig {
    /// Refuse what cannot work (numeric bounds are in the ranges table).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.url.is_empty() {
            let bad = |why: &str| invalid("update.url", format!("{:?}", self.url), why);
            let u = reqwest::Url::parse(&self.url)
                .map_err(|_| bad("expected an https:// or file:/// URL"))?;
            match u.scheme() {
                "https" if u.host_str().is_some_and(|h| !h.is_empty()) => {}
                "file" if u.to_file_path().is_ok() => {}
                _ => return Err(bad("expected an https:// or file:/// URL")),
            }
        }
        let name_ok = !self.channel.is_empty()
            && self.channel.len() <= 64
            && self
                .channel
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err(invalid(
                "update.channel",
                format!("{:?}", self.channel),
                "expected 1-64 characters of A-Z a-z 0-9 - _ .",
            ));
        }
        if !self.pin.is_empty() && semver::Version::parse(&self.pin).is_err() {
            return Err(invalid(
                "update.pin",
                format!("{:?}", self.pin),
                "expected a SemVer version such as 0.2.0 (or empty)",
            ));
        }
        for (key, p) in [
            ("update.public_key", &self.public_key),
            ("update.state_dir", &self.state_dir),
        ] {
            if !p.is_absolute() {
                return Err(invalid(
                    key,
                    format!("{:?}", p.display().to_string()),
                    "expected an absolute path",
                ));
            }
        }
        Ok(())
    }
}
