//! The state directory on disk: `state.json` written atomically, the two slots, the
//! `current` symlink replaced by rename, `incoming/` for what is being written.
//!
//! Every change here is one rename after an fsync, followed by an fsync of the directory, so
//! a power cut leaves either the old or the new file, never half of one.

use crate::version::state::{self, STATE_FILE, State};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The state directory's layout.
#[derive(Debug, Clone)]
pub(crate) struct Dir {
    /// The root (`[update] state_dir`).
    pub root: PathBuf,
}

impl Dir {
    pub(crate) fn new(root: &Path) -> Dir {
        Dir {
            root: root.to_path_buf(),
        }
    }
    pub(crate) fn current_link(&self) -> PathBuf {
        self.root.join("current")
    }
    pub(crate) fn slot(&self, name: &str) -> PathBuf {
        self.root.join("slots").join(name)
    }
    pub(crate) fn incoming(&self) -> PathBuf {
        self.root.join("incoming")
    }
    pub(crate) fn snapshot(&self) -> PathBuf {
        self.root.join("db").join("snapshot.sqlite")
    }

    /// Create the directories (0755: the server reads `state.json`).
    pub(crate) fn create(&self) -> std::io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        let mut b = fs::DirBuilder::new();
        b.recursive(true).mode(0o755);
        for d in [
            self.root.clone(),
            self.root.join("slots"),
            self.incoming(),
            self.root.join("db"),
        ] {
            b.create(&d)?;
        }
        Ok(())
    }

    /// `state.json`, or the empty record when there is none.
    pub(crate) fn read_state(&self) -> Result<State, String> {
        state::read(&self.root).map(Option::unwrap_or_default)
    }

    /// Write `state.json`: tmp → fsync → rename → fsync dir.
    pub(crate) fn write_state(&self, s: &State) -> std::io::Result<()> {
        let mut text = serde_json::to_vec_pretty(s).map_err(std::io::Error::other)?;
        text.push(b'\n');
        write_atomic(&self.root.join(STATE_FILE), &text)
    }

    /// The slot `current` points at (`None`: no link, the factory binary).
    pub(crate) fn current_slot(&self) -> Option<String> {
        let target = fs::read_link(self.current_link()).ok()?;
        target.file_name().map(|n| n.to_string_lossy().into_owned())
    }

    /// Point `current` at `slot` (`None`: remove it, the factory binary): a new link renamed
    /// over the old one, then the directory fsynced.
    pub(crate) fn switch(&self, slot: Option<&str>) -> std::io::Result<()> {
        let link = self.current_link();
        match slot {
            Some(s) => {
                let tmp = self.root.join("current.new");
                let _ = fs::remove_file(&tmp);
                std::os::unix::fs::symlink(Path::new("slots").join(s), &tmp)?;
                fs::rename(&tmp, &link)?;
            }
            None => match fs::remove_file(&link) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            },
        }
        sync_dir(&self.root)
    }

    /// Empty `incoming/` (what an interrupted download or unpack left).
    pub(crate) fn clear_incoming(&self) -> std::io::Result<()> {
        let inc = self.incoming();
        if inc.exists() {
            fs::remove_dir_all(&inc)?;
        }
        fs::create_dir_all(&inc)
    }
}

/// The slot that is not `current` (`a` when nothing or `b` is current).
pub(crate) fn other_slot(current: Option<&str>) -> &'static str {
    match current {
        Some("a") => "b",
        _ => "a",
    }
}

/// fsync a directory (its entries: a rename in it is durable).
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Write `bytes` to `path` atomically: `path.tmp`, fsync, rename, fsync the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Now, RFC 3339 UTC to the second.
pub(crate) fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
