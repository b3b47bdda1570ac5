//! Staged rollout of the optimisation layer's parts across a fleet (`[optimization] rollout`).
//!
//! Why it exists: a fleet runs one image with one configuration, yet an operator wants to turn
//! a part of the layer on for a few devices first (canary), then more, and back. Each device
//! puts each part in a bucket 0-99 from a stable hash of its `/etc/machine-id` and the part's
//! name; a part is on when its bucket is below the stage's share. Raising the stage therefore
//! only ever adds devices, and different parts pick different devices at the same stage.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;

/// The named stages and their share of devices, percent.
pub const STAGES: &[(&str, u8)] = &[
    ("disabled", 0),
    ("canary", 5),
    ("partial", 25),
    ("majority", 75),
    ("full", 100),
];

/// The parts a rollout stage applies to (the names `/api/status/optimization` shows).
pub const ROLLOUT_PARTS: &[&str] = &["http_pool", "db_pool", "response_cache", "request_batching"];

const WANT: &str = "disabled, canary, partial, majority, full or an integer 0-100";

/// A rollout stage: a named stage or a share 0-100 of devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "RawStage")]
pub struct Rollout {
    name: Option<&'static str>,
    percent: u8,
}

/// What TOML or the environment may say: a stage name or a number.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum RawStage {
    Percent(i64),
    Name(String),
}

impl Rollout {
    /// Every device, every part (the default).
    pub const FULL: Rollout = Rollout {
        name: Some("full"),
        percent: 100,
    };

    /// The share of devices, percent.
    pub fn percent(&self) -> u8 {
        self.percent
    }

    /// Whether a part in `bucket` (0-99) is on at this stage.
    pub fn admits(&self, bucket: u8) -> bool {
        bucket < self.percent
    }
}

impl<'de> Deserialize<'de> for Rollout {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, Unexpected};
        let raw = RawStage::deserialize(d)?;
        let unexpected = match &raw {
            RawStage::Percent(n) => Unexpected::Signed(*n),
            RawStage::Name(s) => Unexpected::Str(s),
        };
        Rollout::try_from(raw.clone()).map_err(|_| D::Error::invalid_value(unexpected, &WANT))
    }
}

impl Default for Rollout {
    fn default() -> Self {
        Rollout::FULL
    }
}

impl fmt::Display for Rollout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name {
            Some(n) => write!(f, "{n} ({}%)", self.percent),
            None => write!(f, "{}%", self.percent),
        }
    }
}

impl std::str::FromStr for Rollout {
    type Err = String;
    /// A stage name (case-insensitive) or a number 0-100, as `calendarbot flags --rollout`
    /// takes it.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        match s.parse::<i64>() {
            Ok(n) => Rollout::try_from(RawStage::Percent(n)),
            Err(_) => Rollout::try_from(RawStage::Name(s.to_string())),
        }
    }
}

impl TryFrom<RawStage> for Rollout {
    type Error = String;
    fn try_from(raw: RawStage) -> Result<Self, String> {
        match raw {
            RawStage::Percent(n) if (0..=100).contains(&n) => Ok(Rollout {
                name: None,
                percent: n as u8,
            }),
            RawStage::Percent(n) => Err(format!("invalid rollout {n}: expected {WANT}")),
            RawStage::Name(s) => STAGES
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(s.trim()))
                .map(|(name, percent)| Rollout {
                    name: Some(name),
                    percent: *percent,
                })
                .ok_or_else(|| format!("invalid rollout {s:?}: expected {WANT}")),
        }
    }
}

impl From<Rollout> for RawStage {
    fn from(r: Rollout) -> RawStage {
        match r.name {
            Some(n) => RawStage::Name(n.to_string()),
            None => RawStage::Percent(i64::from(r.percent)),
        }
    }
}

/// A device's identity for bucketing: the machine id, if it could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    machine_id: Option<String>,
}

impl Device {
    /// A device with the given machine id (`calendarbot flags --machine-id`, tests).
    pub fn with_id(id: &str) -> Device {
        let id = id.trim();
        Device {
            machine_id: (!id.is_empty()).then(|| id.to_string()),
        }
    }

    /// The device this process runs on: the first line of `path` (systemd's
    /// `/etc/machine-id`). Missing, unreadable or empty: no id (see [`Device::bucket`]).
    pub fn from_file(path: &Path) -> Device {
        let id = std::fs::read_to_string(path).unwrap_or_default();
        Device::with_id(id.lines().next().unwrap_or(""))
    }

    /// Whether a machine id was found.
    pub fn has_id(&self) -> bool {
        self.machine_id.is_some()
    }

    /// The part's bucket 0-99 on this device: the first 8 bytes of
    /// SHA-256(machine id, NUL, part name) modulo 100. A device without a machine id is in
    /// bucket 99 for every part: it turns parts on only at `full`, never in a partial stage.
    pub fn bucket(&self, part: &str) -> u8 {
        let Some(id) = &self.machine_id else {
            return 99;
        };
        let mut h = Sha256::new();
        h.update(id.as_bytes());
        h.update([0]);
        h.update(part.as_bytes());
        let d = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&d[..8]);
        (u64::from_be_bytes(first) % 100) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_by_name_and_number() {
        assert_eq!("canary".parse::<Rollout>().unwrap().percent(), 5);
        assert_eq!("Majority".parse::<Rollout>().unwrap().percent(), 75);
        assert_eq!("40".parse::<Rollout>().unwrap().percent(), 40);
        assert!("101".parse::<Rollout>().is_err());
        assert!("-1".parse::<Rollout>().is_err());
        let e = "most".parse::<Rollout>().unwrap_err();
        assert!(e.contains("expected disabled, canary"), "{e}");
    }

    #[test]
    fn a_device_without_an_id_waits_for_full() {
        let d = Device::with_id("  ");
        assert!(!d.has_id());
        for part in ROLLOUT_PARTS {
            assert_eq!(d.bucket(part), 99);
            assert!(
                !"majority"
                    .parse::<Rollout>()
                    .unwrap()
                    .admits(d.bucket(part))
            );
            assert!(Rollout::FULL.admits(d.bucket(part)));
        }
    }
}
