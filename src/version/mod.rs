//! What this binary is: its release version, git commit and build profile.
//!
//! The version is Cargo's (`CARGO_PKG_VERSION`) unless `ci/release.sh` stamped another into the
//! binary's release stamp: a fixed 64-byte field, found by its marker and rewritten in place.
//! A release names its version without a rebuild (two releases of one build differ only in
//! those bytes), and the update tests make a "newer" release from the build they already have.
//! Updates compare these versions (`update` refuses a downgrade), `calendarbot --version`
//! prints them, and `/api/health` reports them so the update's health gate can tell which
//! build answers.

pub mod state;

/// The marker in front of the stamped version. `ci/release.sh` finds it and writes the version
/// into the bytes after it (NUL-padded); the field is 64 bytes in all.
pub const STAMP_MARKER: &[u8] = b"CALENDARBOT-RELEASE-STAMP:";

const STAMP_LEN: usize = 64;

const fn blank_stamp() -> [u8; STAMP_LEN] {
    let mut s = [0u8; STAMP_LEN];
    let mut i = 0;
    while i < STAMP_MARKER.len() {
        s[i] = STAMP_MARKER[i];
        i += 1;
    }
    s
}

/// The release stamp. `#[used]` keeps it in the binary; it is read with a volatile load so the
/// compiler cannot fold the blank value into the code.
#[used]
static RELEASE_STAMP: [u8; STAMP_LEN] = blank_stamp();

fn stamped() -> Option<String> {
    // A volatile load (in `sys`, the one module allowed `unsafe`): the bytes on disk, not
    // the blank value the compiler knows.
    let bytes = crate::sys::read_volatile(&RELEASE_STAMP);
    let payload = &bytes[STAMP_MARKER.len()..];
    let end = payload
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(payload.len());
    let v = std::str::from_utf8(&payload[..end]).ok()?;
    (!v.is_empty()).then(|| v.to_string())
}

/// The release version: the stamp if `ci/release.sh` wrote one, else Cargo's version.
pub fn version() -> &'static str {
    use std::sync::OnceLock;
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| stamped().unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string()))
}

/// The git commit the binary was built from (`unknown` outside a git checkout).
pub fn commit() -> &'static str {
    env!("CALENDARBOT_GIT_COMMIT")
}

/// The cargo profile the binary was built with: `pi` for the shipped build, `release`,
/// `debug`.
pub fn profile() -> &'static str {
    env!("CALENDARBOT_BUILD_PROFILE")
}

/// `calendarbot --version`'s line after the name: version, short commit, profile.
pub fn long() -> &'static str {
    use std::sync::OnceLock;
    static L: OnceLock<String> = OnceLock::new();
    L.get_or_init(|| {
        let c = commit();
        let short = c.get(..12).unwrap_or(c);
        format!("{} (commit {short}, profile {})", version(), profile())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unstamped_binary_reports_cargo_version() {
        assert_eq!(version(), env!("CARGO_PKG_VERSION"));
        assert!(long().starts_with(env!("CARGO_PKG_VERSION")));
        assert!(
            ["debug", "release", "pi"].contains(&profile()) || !profile().is_empty(),
            "{}",
            profile()
        );
    }

    #[test]
    fn the_stamp_field_carries_its_marker() {
        assert!(RELEASE_STAMP.starts_with(STAMP_MARKER));
        assert_eq!(RELEASE_STAMP.len(), STAMP_LEN);
    }
}
