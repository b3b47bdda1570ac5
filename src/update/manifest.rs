//! The signed release manifest, the bundle's own `bundle.json`, the release keys and the
//! decision whether a manifest's version may be installed.

use super::UpdateError;
use serde::Deserialize;

/// `manifest.json` (docs/updates.md; unknown keys are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Manifest {
    /// Always `calendarbot`.
    pub name: String,
    /// The release version (SemVer).
    pub version: String,
    /// The channel it was published on.
    pub channel: String,
    /// The commit it was built from.
    #[serde(default)]
    pub git_commit: String,
    /// binary, bundle, image.
    pub artifacts: Vec<Artifact>,
}

/// One artifact of a release.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Artifact {
    /// `binary`, `bundle` or `image`.
    pub kind: String,
    /// Its file name, relative to the channel directory.
    pub file: String,
    /// Bytes.
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
}

impl Manifest {
    /// The bundle artifact.
    pub(crate) fn bundle(&self) -> Result<&Artifact, UpdateError> {
        let a = self
            .artifacts
            .iter()
            .find(|a| a.kind == "bundle")
            .ok_or_else(|| UpdateError::Refused("the manifest names no bundle".into()))?;
        if a.file.is_empty() || a.file.contains('/') || a.file.starts_with('.') {
            return Err(UpdateError::Refused(format!(
                "bundle file name {:?} is not a plain name",
                a.file
            )));
        }
        Ok(a)
    }
}

/// `bundle.json`, the first entry of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct BundleIndex {
    /// Always `calendarbot`.
    pub name: String,
    /// Must equal the manifest's.
    pub version: String,
    /// Every other entry.
    pub files: Vec<BundleFile>,
}

/// One entry of `bundle.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct BundleFile {
    /// `calendarbot` or `overlay/<path>`.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    /// Unix mode bits.
    pub mode: u32,
}

/// Parse `manifest.json`.
pub(crate) fn parse_manifest(bytes: &[u8]) -> Result<Manifest, UpdateError> {
    serde_json::from_slice(bytes)
        .map_err(|e| UpdateError::Refused(format!("manifest.json does not parse: {e}")))
}

/// The fixed DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE {
/// OID 1.3.101.112 }, BIT STRING (32 bytes) }.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Every Ed25519 key of a PEM file of `PUBLIC KEY` blocks (several during a key rotation).
pub(crate) fn parse_public_keys(pem: &str) -> Result<Vec<[u8; 32]>, UpdateError> {
    use base64::Engine;
    let mut keys = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        match (line, &mut body) {
            ("-----BEGIN PUBLIC KEY-----", None) => body = Some(String::new()),
            ("-----END PUBLIC KEY-----", Some(b)) => {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(b.as_bytes())
                    .map_err(|e| UpdateError::Key(format!("a PUBLIC KEY block: {e}")))?;
                if der.len() != 44 || der[..12] != ED25519_SPKI_PREFIX {
                    return Err(UpdateError::Key(
                        "a PUBLIC KEY block is not an Ed25519 key".into(),
                    ));
                }
                let mut k = [0u8; 32];
                k.copy_from_slice(&der[12..]);
                keys.push(k);
                body = None;
            }
            (l, Some(b)) => b.push_str(l),
            _ => {}
        }
    }
    if keys.is_empty() {
        return Err(UpdateError::Key("no PUBLIC KEY block".into()));
    }
    Ok(keys)
}

/// Whether `sig` (64 raw bytes) is an Ed25519 signature of `msg` by any of `keys`.
pub(crate) fn verify(keys: &[[u8; 32]], msg: &[u8], sig: &[u8]) -> Result<(), UpdateError> {
    use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
    if sig.len() != 64 {
        return Err(UpdateError::Refused(format!(
            "manifest.json.sig is {} bytes, not 64",
            sig.len()
        )));
    }
    if keys
        .iter()
        .any(|k| UnparsedPublicKey::new(&ED25519, k).verify(msg, sig).is_ok())
    {
        Ok(())
    } else {
        Err(UpdateError::Refused(
            "manifest.json's signature does not verify with the release key".into(),
        ))
    }
}

/// What to do with a verified manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Install it.
    Install,
    /// Nothing to do (not newer): no attempt is recorded.
    UpToDate,
}

/// Whether `m` may be installed over `current`: name and channel match; newer than current,
/// not bad — or exactly the pin (which allows a downgrade and a bad version).
pub(crate) fn decide(
    m: &Manifest,
    channel: &str,
    current: &str,
    bad: &[String],
    pin: &str,
) -> Result<Decision, UpdateError> {
    if m.name != "calendarbot" {
        return Err(UpdateError::Refused(format!(
            "the manifest is for {:?}, not calendarbot",
            m.name
        )));
    }
    if m.channel != channel {
        return Err(UpdateError::Refused(format!(
            "the manifest is for channel {:?}, this kiosk follows {channel:?}",
            m.channel
        )));
    }
    let parse = |v: &str, what: &str| {
        semver::Version::parse(v)
            .map_err(|e| UpdateError::Refused(format!("{what} version {v:?}: {e}")))
    };
    let new = parse(&m.version, "the manifest's")?;
    let cur = parse(current, "the installed")?;
    if !pin.is_empty() {
        let pin = parse(pin, "the pinned")?;
        return if new == pin && new != cur {
            Ok(Decision::Install)
        } else if new == cur {
            Ok(Decision::UpToDate)
        } else {
            Err(UpdateError::Refused(format!(
                "version {new} is not the pinned {pin}"
            )))
        };
    }
    if new == cur {
        return Ok(Decision::UpToDate);
    }
    if new < cur {
        return Err(UpdateError::Refused(format!(
            "version {new} is older than the installed {cur} (a downgrade needs [update] pin)"
        )));
    }
    if bad.iter().any(|b| b == &m.version) {
        return Err(UpdateError::Refused(format!(
            "version {new} is marked bad (it failed before)"
        )));
    }
    Ok(Decision::Install)
}

/// Lower-case hex sha256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}
