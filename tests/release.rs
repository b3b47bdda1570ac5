//! A release (`ci/release.sh`, docs/updates.md "A release"), cut from the host test binary
//! (`--binary`, `--any-arch --allow-dirty`) with throwaway keys made by openssl here:
//! - the manifest has the documented keys, order and layout, and every artifact's size and
//!   sha256;
//! - the signature verifies with `openssl pkeyutl -verify`, and fails after one byte of the
//!   manifest changed or with another key;
//! - the bundle is ustar with the documented entries in order (bundle.json, calendarbot,
//!   overlay/…), mtime SOURCE_DATE_EPOCH, uid/gid 0, no owner names; bundle.json lists every
//!   other entry with its size, sha256 and mode; the overlay files are the repository's;
//! - the stamped binary prints the stamped version with `--version`, and, started on
//!   127.0.0.1 with a real feed, reports it in `/api/health` (top level and system_diagnostics);
//! - two runs give identical bytes for every artifact;
//! - refused: a dirty tree, a version too long or not SemVer, a binary without the stamp
//!   marker or stamped already, a non-aarch64 binary without `--any-arch`, no key or not an
//!   Ed25519 one, an image key file without the signing key, a non-empty output directory;
//! - with the aarch64 build of ci/cross-build.sh (skipped without it, unless
//!   CALENDARBOT_REQUIRE_CROSS=1): the image release on a synthetic base image, reproducible,
//!   with the stamped binary and the release key laid into the image.

mod support;

use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::{Binary, FeedServer, Mode, Ready, free_port, ics};

const EPOCH: u64 = 1_764_500_000;
const VERSION: &str = "9.8.7-rc.1";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"))
}

/// `ci/release.sh ARGS` (from `script`, default the repository's) with a fixed
/// SOURCE_DATE_EPOCH and no key in the environment.
fn release_in(script: &Path, args: &[&str]) -> Output {
    run(Command::new(script)
        .args(args)
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
        .env_remove("CALENDARBOT_RELEASE_KEY"))
}

fn release(args: &[&str]) -> Output {
    release_in(&repo().join("ci/release.sh"), args)
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "ci/release.sh failed\n--- stdout ---\n{}\n--- stderr ---\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// `out` failed and said `why` on stderr.
fn refused(out: &Output, why: &str) {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "not refused ({why}): {err}");
    assert!(err.contains(why), "refused, but not for {why:?}: {err}");
}

/// A throwaway Ed25519 key pair: (private PEM, public PEM).
fn keypair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    ok(&run(Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&key)));
    ok(&run(Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&public)));
    (key, public)
}

fn verifies(public: &Path, manifest: &Path, sig: &Path) -> bool {
    run(Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-rawin", "-inkey"])
        .arg(public)
        .arg("-in")
        .arg(manifest)
        .arg("-sigfile")
        .arg(sig))
    .status
    .success()
}

fn host_binary() -> &'static str {
    env!("CARGO_BIN_EXE_calendarbot")
}

/// One ustar entry.
#[derive(Debug)]
struct Entry {
    name: String,
    mode: u64,
    uid: u64,
    gid: u64,
    mtime: u64,
    typeflag: u8,
    magic: Vec<u8>,
    uname: String,
    gname: String,
    data: Vec<u8>,
}

fn octal(b: &[u8]) -> u64 {
    let s = std::str::from_utf8(b).unwrap();
    let s = s.trim_matches(|c| c == '\0' || c == ' ');
    if s.is_empty() {
        0
    } else {
        u64::from_str_radix(s, 8).unwrap()
    }
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8(b[..end].to_vec()).unwrap()
}

fn untar(bytes: &[u8]) -> Vec<Entry> {
    assert_eq!(bytes.len() % 512, 0, "a tar is whole 512-byte blocks");
    let mut entries = Vec::new();
    let mut off = 0;
    while off + 512 <= bytes.len() {
        let h = &bytes[off..off + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let (prefix, name) = (cstr(&h[345..500]), cstr(&h[0..100]));
        let size = usize::try_from(octal(&h[124..136])).unwrap();
        let start = off + 512;
        entries.push(Entry {
            name: if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            },
            mode: octal(&h[100..108]),
            uid: octal(&h[108..116]),
            gid: octal(&h[116..124]),
            mtime: octal(&h[136..148]),
            typeflag: h[156],
            magic: h[257..265].to_vec(),
            uname: cstr(&h[265..297]),
            gname: cstr(&h[297..329]),
            data: bytes[start..start + size].to_vec(),
        });
        off = start + size.div_ceil(512) * 512;
    }
    entries
}

/// The regular files of overlays/, as bundle paths, sorted by bytes.
fn overlay_files() -> Vec<(String, Vec<u8>)> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let meta = fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                walk(&p, base, out);
            } else if meta.is_file() {
                let rel = p.strip_prefix(base).unwrap().to_str().unwrap();
                out.push((format!("overlay/{rel}"), fs::read(&p).unwrap()));
            }
        }
    }
    let base = repo().join("overlays");
    let mut out = Vec::new();
    walk(&base, &base, &mut out);
    out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out
}

/// The manifest's exact text for these artifacts (kind, file name, bytes).
fn expected_manifest(profile: &str, commit: &str, artifacts: &[(&str, String, &[u8])]) -> String {
    let lines: Vec<String> = artifacts
        .iter()
        .map(|(kind, file, bytes)| {
            format!(
                "    {{ \"kind\": \"{kind}\", \"file\": \"{file}\", \"size\": {}, \"sha256\": \"{}\" }}",
                bytes.len(),
                sha256(bytes)
            )
        })
        .collect();
    format!(
        "{{\n  \"name\": \"calendarbot\",\n  \"version\": \"{VERSION}\",\n  \"channel\": \"beta\",\n  \
         \"git_commit\": \"{commit}\",\n  \"profile\": \"{profile}\",\n  \"source_date_epoch\": {EPOCH},\n  \
         \"artifacts\": [\n{}\n  ]\n}}\n",
        lines.join(",\n")
    )
}

fn head_commit() -> String {
    let out = run(Command::new("git")
        .arg("-C")
        .arg(repo())
        .args(["rev-parse", "HEAD"]));
    text(&out.stdout).trim().to_string()
}

/// Every file of a release directory, by name.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_str().unwrap().to_string(),
                fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_host_release_is_signed_complete_reproducible_and_reports_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path(), "release");
    let (_, other_public) = keypair(dir.path(), "other");
    let outs = [dir.path().join("r1"), dir.path().join("r2")];
    for out in &outs {
        let o = release(&[
            "--out",
            out.to_str().unwrap(),
            "--version",
            VERSION,
            "--channel",
            "beta",
            "--key",
            key.to_str().unwrap(),
            "--binary",
            host_binary(),
            "--any-arch",
            "--allow-dirty",
        ]);
        ok(&o);
        print!("{}", text(&o.stdout));
    }
    let r = &outs[0];

    // Two runs, identical bytes, the documented files only.
    let (a, b) = (files(&outs[0]), files(&outs[1]));
    let names: Vec<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
    let bin_name = format!("calendarbot-{VERSION}-aarch64");
    let bundle_name = format!("calendarbot-{VERSION}.bundle.tar");
    let mut want = vec![
        bin_name.as_str(),
        bundle_name.as_str(),
        "manifest.json",
        "manifest.json.sig",
    ];
    want.sort();
    assert_eq!(names, want);
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs between two runs");
    }

    // The stamped binary: the host binary but for the stamp's bytes.
    let stamped = fs::read(r.join(&bin_name)).unwrap();
    let original = fs::read(host_binary()).unwrap();
    assert_eq!(stamped.len(), original.len());
    let differing: Vec<usize> = (0..stamped.len())
        .filter(|&i| stamped[i] != original[i])
        .collect();
    assert_eq!(differing.len(), VERSION.len(), "only the stamp changes");
    let at = original
        .windows(26)
        .position(|w| w == b"CALENDARBOT-RELEASE-STAMP:")
        .unwrap();
    assert_eq!(
        &stamped[at + 26..at + 26 + VERSION.len()],
        VERSION.as_bytes()
    );

    let version = run(Command::new(r.join(&bin_name)).arg("--version"));
    ok(&version);
    let line = text(&version.stdout);
    assert!(
        line.starts_with(&format!("calendarbot {VERSION} (commit ")),
        "{line}"
    );
    let profile = line
        .trim()
        .rsplit_once("profile ")
        .unwrap()
        .1
        .trim_end_matches(')')
        .to_string();

    // The manifest: documented keys, order, layout, sizes and hashes.
    let manifest = fs::read_to_string(r.join("manifest.json")).unwrap();
    let bundle = fs::read(r.join(&bundle_name)).unwrap();
    assert_eq!(
        manifest,
        expected_manifest(
            &profile,
            &head_commit(),
            &[
                ("binary", bin_name.clone(), &stamped),
                ("bundle", bundle_name.clone(), &bundle),
            ]
        )
    );

    // The signature: 64 raw bytes; verifies; fails for one changed byte or another key.
    let sig = r.join("manifest.json.sig");
    assert_eq!(fs::metadata(&sig).unwrap().len(), 64);
    assert!(verifies(&public, &r.join("manifest.json"), &sig));
    assert!(!verifies(&other_public, &r.join("manifest.json"), &sig));
    let tampered = dir.path().join("tampered.json");
    let mut bytes = manifest.clone().into_bytes();
    let i = manifest.find("\"size\": ").unwrap() + 8;
    bytes[i] = if bytes[i] == b'1' { b'2' } else { b'1' };
    fs::write(&tampered, &bytes).unwrap();
    assert!(!verifies(&public, &tampered, &sig), "one byte changed");

    // The bundle: ustar, entries in order, fixed metadata; bundle.json covers every file.
    let entries = untar(&bundle);
    let overlay = overlay_files();
    let mut names = vec!["bundle.json".to_string(), "calendarbot".to_string()];
    names.extend(overlay.iter().map(|(p, _)| p.clone()));
    assert_eq!(
        entries.iter().map(|e| e.name.clone()).collect::<Vec<_>>(),
        names
    );
    for e in &entries {
        assert_eq!(e.magic, b"ustar\x0000", "{}: ustar", e.name);
        assert_eq!(e.typeflag, b'0', "{}: a regular file", e.name);
        assert_eq!((e.uid, e.gid), (0, 0), "{}", e.name);
        assert_eq!((e.uname.as_str(), e.gname.as_str()), ("", ""), "{}", e.name);
        assert_eq!(e.mtime, EPOCH, "{}", e.name);
    }
    assert_eq!(entries[1].data, stamped);
    assert_eq!(entries[1].mode, 0o755);
    for (e, (_, bytes)) in entries[2..].iter().zip(&overlay) {
        assert_eq!(&e.data, bytes, "{}", e.name);
        assert_eq!(e.mode, 0o644, "{}", e.name);
    }
    let doc: serde_json::Value = serde_json::from_slice(&entries[0].data).unwrap();
    assert_eq!(doc["name"], "calendarbot");
    assert_eq!(doc["version"], VERSION);
    assert_eq!(doc["git_commit"], head_commit());
    let listed = doc["files"].as_array().unwrap();
    assert_eq!(listed.len(), entries.len() - 1);
    for (f, e) in listed.iter().zip(&entries[1..]) {
        assert_eq!(f["path"], e.name.as_str());
        assert_eq!(f["size"], e.data.len());
        assert_eq!(f["sha256"], sha256(&e.data));
        assert_eq!(f["mode"], e.mode);
    }

    // The stamped binary serves and reports its version.
    let feed = FeedServer::start(Mode::Ok {
        body: ics(&[("Standup", "Standup", 3600, 1800)]),
        etag: "\"1\"".into(),
    });
    let data = tempfile::tempdir().unwrap();
    let server = Binary::launch_program(
        &r.join(&bin_name),
        data.path(),
        &[("CALENDARBOT_ICS_URL", feed.url())],
        Ready::Answering,
        free_port,
    );
    let (_, health) = server.get("/api/health").unwrap();
    assert_eq!(health["version"], VERSION);
    assert_eq!(health["system_diagnostics"]["version"], VERSION);
}

#[test]
fn bad_inputs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keypair(dir.path(), "release");
    let key = key.to_str().unwrap();
    let out = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let base = |o: &str, v: &str| {
        vec![
            "--out".to_string(),
            o.to_string(),
            "--version".into(),
            v.into(),
            "--key".into(),
            key.into(),
            "--binary".into(),
            host_binary().into(),
            "--allow-dirty".into(),
            "--any-arch".into(),
        ]
    };
    let go = |args: Vec<String>| release(&args.iter().map(String::as_str).collect::<Vec<_>>());

    // Versions: over 37 bytes, or not SemVer.
    let long = format!("1.0.0-{}", "a".repeat(32));
    assert_eq!(long.len(), 38);
    refused(&go(base(&out("v1"), &long)), "at most 37");
    for bad in ["1.0", "v1.0.0", "1.0.0-", "01.0.0", "1.0.0 beta", ""] {
        refused(&go(base(&out("v2"), bad)), "not SemVer");
    }

    // A binary without the marker (a copy of the host's `true`).
    let plain = dir.path().join("plain");
    fs::copy("/bin/true", &plain).unwrap();
    let mut args = base(&out("m"), "1.0.0");
    args[7] = plain.to_str().unwrap().to_string();
    refused(&go(args), "no release stamp");

    // 37 bytes is the longest accepted. Then a binary stamped already (the marker is not
    // followed by NULs) is refused.
    let limit = format!("1.0.0-{}", "a".repeat(31));
    assert_eq!(limit.len(), 37);
    ok(&go(base(&out("s1"), &limit)));
    let mut args = base(&out("s2"), "1.0.1");
    args[7] = out(&format!("s1/calendarbot-{limit}-aarch64"));
    refused(&go(args), "not a blank field");

    // Not aarch64 without --any-arch; no key; a non-empty output directory.
    let mut args = base(&out("a"), "1.0.0");
    args.pop();
    refused(&go(args), "not an aarch64 ELF");
    let mut args = base(&out("k"), "1.0.0");
    args.drain(4..6);
    refused(&go(args), "no signing key");
    refused(&go(base(&out("s1"), "1.0.0")), "is not empty");
    let mut args = base(&out("k2"), "1.0.0");
    args[5] = out("release.pub");
    refused(&go(args), "not an Ed25519 private key");
    // The image's key file must hold the signing key (a rotation adds blocks, never drops it).
    let (_, other) = keypair(dir.path(), "other");
    let mut args = base(&out("p"), "1.0.0");
    args.extend(["--public-key".to_string(), other.to_str().unwrap().into()]);
    refused(&go(args), "does not hold the signing key");
}

#[test]
fn a_dirty_tree_is_refused() {
    // A throwaway repository holding the release scripts: clean, then dirty.
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("repo");
    fs::create_dir_all(r.join("ci")).unwrap();
    for f in ["release.sh", "release.py", "lib.sh"] {
        fs::copy(repo().join("ci").join(f), r.join("ci").join(f)).unwrap();
    }
    let git = |args: &[&str]| {
        ok(&run(Command::new("git")
            .arg("-C")
            .arg(&r)
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)))
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "scripts"]);
    let script = r.join("ci/release.sh");
    let args = ["--out", "../out", "--version", "1.0.0"];
    // Clean: past the tree check (stopped by the missing key).
    refused(&release_in(&script, &args), "no signing key");
    fs::write(r.join("stray.txt"), "x").unwrap();
    refused(&release_in(&script, &args), "uncommitted changes");
    fs::remove_file(r.join("stray.txt")).unwrap();
    let lib = fs::read_to_string(r.join("ci/lib.sh")).unwrap();
    fs::write(r.join("ci/lib.sh"), lib + "# changed\n").unwrap();
    refused(&release_in(&script, &args), "uncommitted changes");
}

/// The release with an image, from the aarch64 build (ci/cross-build.sh).
#[test]
fn an_image_release_from_the_cross_build_is_reproducible_and_carries_the_key() {
    let cross = repo().join("target/aarch64-unknown-linux-gnu/release/calendarbot");
    if !cross.is_file() {
        if std::env::var("CALENDARBOT_REQUIRE_CROSS").as_deref() == Ok("1") {
            panic!("{} missing; run ci/cross-build.sh", cross.display());
        }
        eprintln!("skipped: no {} (run ci/cross-build.sh)", cross.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path(), "release");
    let base = dir.path().join("base.img");
    ok(&run(Command::new(
        repo().join("ci/synthetic-base-image.sh"),
    )
    .arg(&base)));
    let outs = [dir.path().join("r1"), dir.path().join("r2")];
    for out in &outs {
        let t = std::time::Instant::now();
        let o = release(&[
            "--out",
            out.to_str().unwrap(),
            "--version",
            VERSION,
            "--channel",
            "beta",
            "--key",
            key.to_str().unwrap(),
            "--binary",
            cross.to_str().unwrap(),
            "--base-image",
            base.to_str().unwrap(),
            "--allow-dirty",
        ]);
        ok(&o);
        print!("{}", text(&o.stdout));
        println!("image release: {:.1} s", t.elapsed().as_secs_f64());
    }
    let (a, b) = (files(&outs[0]), files(&outs[1]));
    assert_eq!(a.len(), 5, "binary, bundle, image, manifest, signature");
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs between two runs");
    }
    let r = &outs[0];
    let manifest = fs::read_to_string(r.join("manifest.json")).unwrap();
    let img_name = format!("calendarbot-{VERSION}.img.xz");
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(m["profile"], "pi");
    let image = &m["artifacts"][2];
    assert_eq!(image["kind"], "image");
    assert_eq!(image["file"], img_name.as_str());
    let xz = fs::read(r.join(&img_name)).unwrap();
    assert_eq!(image["sha256"], sha256(&xz));
    assert!(verifies(
        &public,
        &r.join("manifest.json"),
        &r.join("manifest.json.sig")
    ));

    // The image: the stamped binary and the release key in its root filesystem.
    let img = dir.path().join("image.img");
    let o = run(Command::new("sh").arg("-c").arg(format!(
        "xz -dc '{}' > '{}'",
        r.join(&img_name).display(),
        img.display()
    )));
    ok(&o);
    let root = format!("{}?offset={}", img.display(), (8192 + 131_072) * 512);
    let cat = |path: &str| {
        let o = run(Command::new("debugfs")
            .arg("-R")
            .arg(format!("cat {path}"))
            .arg(&root));
        o.stdout
    };
    assert_eq!(
        cat("/usr/bin/calendarbot"),
        fs::read(r.join(format!("calendarbot-{VERSION}-aarch64"))).unwrap()
    );
    assert_eq!(
        cat("/etc/calendarbot/release.pub"),
        fs::read(&public).unwrap()
    );
}
