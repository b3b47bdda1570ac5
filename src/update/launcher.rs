//! The launcher: `calendarbot serve` and `calendarbot display` started as the image's factory
//! binary `exec` the current slot's binary when there is one.
//!
//! It must be cheap (a config read and a `readlink`, before anything else starts) and must
//! never keep the factory binary from serving: a missing, unreadable or non-executable slot
//! binary, or a failed `exec`, is logged and the factory binary serves.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Set in the slot binary's environment: the slot it runs from (and "do not launch again").
pub const SLOT_ENV: &str = "CALENDARBOT_SLOT";

/// What the launcher decided.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Launch {
    /// Serve as this binary (and why).
    Here(&'static str),
    /// Exec this binary, from this slot.
    Slot(PathBuf, String),
}

/// Decide: `CALENDARBOT_SLOT` set → here; `state_dir/current/calendarbot` an executable
/// file → that slot.
pub(crate) fn decide(state_dir: &Path, slot_env: Option<OsString>) -> Launch {
    use std::os::unix::fs::PermissionsExt;
    if slot_env.is_some_and(|v| !v.is_empty()) {
        return Launch::Here("already running from a slot");
    }
    let link = state_dir.join("current");
    let Ok(target) = std::fs::read_link(&link) else {
        return Launch::Here("no current slot");
    };
    let slot = target
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let bin = link.join("calendarbot");
    match std::fs::metadata(&bin) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Launch::Slot(bin, slot),
        Ok(_) => Launch::Here("the slot's binary is not an executable file"),
        Err(_) => Launch::Here("the slot has no binary"),
    }
}

/// Exec the current slot's binary with this process's arguments, if there is one; returns
/// (to serve as the factory binary) when there is none or the exec fails.
pub fn launch(config_path: Option<&Path>) {
    use std::os::unix::process::CommandExt;
    if std::env::var_os(SLOT_ENV).is_some_and(|v| !v.is_empty()) {
        return;
    }
    // A configuration error is the command's to report; the default state dir then.
    let state_dir = crate::config::load(config_path)
        .map(|l| l.config.update.state_dir)
        .unwrap_or_else(|_| crate::config::UpdateConfig::default().state_dir);
    match decide(&state_dir, None) {
        Launch::Here("no current slot") => {}
        Launch::Here(why) => {
            eprintln!(
                "calendarbot: serving as the factory binary: {why} ({})",
                state_dir.display()
            );
        }
        Launch::Slot(bin, slot) => {
            let args: Vec<OsString> = std::env::args_os().skip(1).collect();
            let err = std::process::Command::new(&bin)
                .args(&args)
                .env(SLOT_ENV, &slot)
                .exec();
            eprintln!(
                "calendarbot: cannot exec {} ({err}); serving as the factory binary",
                bin.display()
            );
        }
    }
}
