//! Build facts for `calendarbot --version` and `/api/health`: the git commit and the cargo
//! profile the binary was built with. Nothing here depends on the time or the machine, so
//! two builds of the same commit stay byte-identical (ci/release.sh checks it).
//!
//! - `CALENDARBOT_GIT_COMMIT`: the environment's value if set (a build from a tarball), else
//!   `git rev-parse HEAD`, else `unknown`.
//! - `CALENDARBOT_BUILD_PROFILE`: the profile directory cargo builds into (`debug`,
//!   `release`, `pi`), read from `OUT_DIR` (`target/[triple/]<profile>/build/<pkg>/out`).
use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CALENDARBOT_GIT_COMMIT");
    let commit = match std::env::var("CALENDARBOT_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => {
            // Rebuild when HEAD moves: HEAD itself, the branch it names, and packed refs. Only
            // files that exist are named (a missing one would rerun this script every build).
            let mut watch = vec![git(&["rev-parse", "--git-path", "HEAD"])];
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watch.push(git(&["rev-parse", "--git-path", &branch]));
            }
            watch.push(git(&["rev-parse", "--git-path", "packed-refs"]));
            for path in watch.into_iter().flatten() {
                if Path::new(&path).exists() {
                    println!("cargo:rerun-if-changed={path}");
                }
            }
            git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_string())
        }
    };
    println!("cargo:rustc-env=CALENDARBOT_GIT_COMMIT={commit}");
    let out_dir = std::env::var("OUT_DIR").unwrap_or_default();
    let profile = Path::new(&out_dir)
        .ancestors()
        .nth(3)
        .and_then(|p| p.file_name())
        .and_then(|p| p.to_str())
        .unwrap_or("unknown")
        .to_string();
    println!("cargo:rustc-env=CALENDARBOT_BUILD_PROFILE={profile}");
}
