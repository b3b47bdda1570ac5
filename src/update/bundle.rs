//! Fetching a release's files (`file://` and https, each read size-capped, through the feed
//! fetcher) and unpacking a bundle into a slot, every file checked against `bundle.json`.

use super::UpdateError;
use super::manifest::{BundleIndex, sha256_hex};
use super::slots::sync_dir;
use crate::config::FetchConfig;
use crate::fetch::{FetchOutcome, Fetcher};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Component, Path};

/// The largest `manifest.json`, `manifest.json.sig` or `bundle.json` read.
pub(crate) const MAX_SMALL_BYTES: u64 = 1 << 20;

/// `base` (the channel directory) joined with a file name.
pub(crate) fn join_url(base: &str, file: &str) -> String {
    if base.ends_with('/') {
        format!("{base}{file}")
    } else {
        format!("{base}/{file}")
    }
}

/// Fetch one URL (`https://` or `file://`), at most `cap` bytes, into memory.
pub(crate) fn fetch(url: &str, cap: u64) -> Result<Vec<u8>, UpdateError> {
    let cfg = FetchConfig {
        max_body_bytes: cap,
        // A bundle is megabytes over a kiosk's Wi-Fi: a longer whole-request timeout.
        timeout_secs: 600,
        ..FetchConfig::default()
    };
    let source = crate::config::SourceConfig {
        name: "update".into(),
        url: url.to_string(),
        ..Default::default()
    };
    let failed = |e: String| UpdateError::Fetch(format!("{url}: {e}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(e.to_string()))?;
    rt.block_on(async {
        let fetcher = Fetcher::new(cfg).map_err(|e| failed(e.to_string()))?;
        match fetcher.fetch(&source, None).await {
            Ok(FetchOutcome::Body(b)) => b.bytes.to_vec().map_err(|e| failed(e.to_string())),
            Ok(FetchOutcome::NotModified) => Err(failed("304 without a stored copy".into())),
            Err(crate::fetch::FetchError::TooLarge { limit }) => Err(UpdateError::Refused(
                format!("{url} is larger than {limit} bytes"),
            )),
            Err(e) => Err(failed(e.to_string())),
        }
    })
}

/// Whether `p` is a relative path of plain names (no `..`, not absolute, not empty).
fn plain_relative(p: &str) -> bool {
    !p.is_empty()
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// Unpack `tar` (already checked against the signed manifest) into `dest` (a fresh directory
/// in `incoming/`): `bundle.json` first, then every file it lists, each checked for size and
/// sha256 and given its mode; fsynced. Returns the index.
pub(crate) fn unpack(tar: &[u8], dest: &Path, version: &str) -> Result<BundleIndex, UpdateError> {
    use std::os::unix::fs::PermissionsExt;
    let bad = |why: String| UpdateError::Refused(format!("bundle: {why}"));
    let io = |e: std::io::Error| UpdateError::Io(format!("unpacking into {}: {e}", dest.display()));
    fs::create_dir_all(dest).map_err(io)?;
    let all = super::ustar::entries(tar).map_err(bad)?;
    let mut entries = all.into_iter();
    let first = entries.next().ok_or_else(|| bad("empty".into()))?;
    if first.path != "bundle.json" || !matches!(first.kind, b'0' | 0) {
        return Err(bad("the first entry is not bundle.json".into()));
    }
    if first.data.len() as u64 > MAX_SMALL_BYTES {
        return Err(bad("bundle.json is too large".into()));
    }
    let index_bytes = first.data.to_vec();
    let index: BundleIndex = serde_json::from_slice(&index_bytes)
        .map_err(|e| bad(format!("bundle.json does not parse: {e}")))?;
    if index.name != "calendarbot" || index.version != version {
        return Err(bad(format!(
            "bundle.json names {} {}, the manifest {version}",
            index.name, index.version
        )));
    }
    let mut wanted: BTreeMap<&str, &super::manifest::BundleFile> = BTreeMap::new();
    for f in &index.files {
        if !plain_relative(&f.path) || f.path == "bundle.json" {
            return Err(bad(format!("bundle.json lists a bad path {:?}", f.path)));
        }
        wanted.insert(f.path.as_str(), f);
    }
    if !wanted.contains_key("calendarbot") {
        return Err(bad("bundle.json lists no calendarbot binary".into()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for entry in entries {
        let path = entry.path.clone();
        let is_file = matches!(entry.kind, b'0' | 0);
        let listed = wanted.get(path.as_str());
        // Directories, and links bundle.json does not list (the overlay's wants links), are
        // not unpacked: a slot holds only checked regular files.
        if entry.kind == b'5' || (listed.is_none() && !is_file) {
            continue;
        }
        let Some(want) = listed else {
            return Err(bad(format!("{path:?} is not listed in bundle.json")));
        };
        if !is_file {
            return Err(bad(format!("{path:?} is not a regular file")));
        }
        if !seen.insert(path.clone()) {
            return Err(bad(format!("{path:?} appears twice")));
        }
        let hex = sha256_hex(entry.data);
        if entry.data.len() as u64 != want.size || hex != want.sha256 {
            return Err(bad(format!(
                "{path:?} does not match bundle.json (size {}, sha256 {hex})",
                entry.data.len()
            )));
        }
        let target = dest.join(&path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io)?;
        }
        let mut out = fs::File::create(&target).map_err(io)?;
        out.write_all(entry.data).map_err(io)?;
        out.set_permissions(fs::Permissions::from_mode(want.mode & 0o755))
            .map_err(io)?;
        out.sync_all().map_err(io)?;
    }
    if let Some(missing) = wanted.keys().find(|p| !seen.contains(**p)) {
        return Err(bad(format!("{missing:?} is listed but missing")));
    }
    fs::write(dest.join("bundle.json"), &index_bytes).map_err(io)?;
    fs::File::open(dest.join("bundle.json"))
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    sync_tree(dest).map_err(io)?;
    Ok(index)
}

/// fsync every directory under `dir` (and `dir`).
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            sync_tree(&e.path())?;
        }
    }
    sync_dir(dir)
}

/// Check a fetched artifact's size and sha256 against the manifest.
pub(crate) fn check_artifact(bytes: &[u8], size: u64, sha256: &str) -> Result<(), UpdateError> {
    if bytes.len() as u64 != size {
        return Err(UpdateError::Refused(format!(
            "the bundle is {} bytes, the manifest says {size}",
            bytes.len()
        )));
    }
    let got = sha256_hex(bytes);
    if got != sha256 {
        return Err(UpdateError::Refused(format!(
            "the bundle's sha256 {got} is not the manifest's {sha256}"
        )));
    }
    Ok(())
}
