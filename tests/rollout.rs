//! Staged rollout of the layer's parts (`[optimization] rollout`):
//! - a device's bucket per part is SHA-256(machine id, NUL, part) mod 100, pinned here
//!   independently of the code, because a change would move every device of a fleet;
//! - raising the stage only ever adds devices; the stages' shares hold over many random ids;
//! - `calendarbot flags` prints the flags for a given machine id and stage;
//! - the running service takes its parts from its bucket, says so at start and in
//!   `/api/status/optimization`, and really runs the part (cache hits) only where admitted;
//! - an invalid stage is refused at start with one line.

mod support;

use calendarbot::config::{Device, ROLLOUT_PARTS, Rollout, STAGES};
use rand::Rng;
use sha2::{Digest, Sha256};
use support::{Binary, command};

/// The documented bucket, computed without the code under test.
fn expected_bucket(id: &str, part: &str) -> u8 {
    let d = Sha256::digest(format!("{id}\0{part}").as_bytes());
    (u64::from_be_bytes(d[..8].try_into().unwrap()) % 100) as u8
}

fn random_id(rng: &mut impl Rng) -> String {
    (0..32)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap())
        .collect()
}

#[test]
fn bucket_is_the_documented_hash() {
    let mut rng = rand::rng();
    for _ in 0..500 {
        let id = random_id(&mut rng);
        let d = Device::with_id(&id);
        for part in ROLLOUT_PARTS {
            assert_eq!(d.bucket(part), expected_bucket(&id, part), "{id} {part}");
        }
        // The id as /etc/machine-id holds it: one line with a newline.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("machine-id");
        std::fs::write(&path, format!("{id}\n")).unwrap();
        assert_eq!(Device::from_file(&path), d);
    }
    // Fixed values: the same id lands in the same bucket on every build.
    let d = Device::with_id("3d1219c7c4c5404aaa1f6d2a48adfda4");
    let got: Vec<u8> = ROLLOUT_PARTS.iter().map(|p| d.bucket(p)).collect();
    let want: Vec<u8> = ROLLOUT_PARTS
        .iter()
        .map(|p| expected_bucket("3d1219c7c4c5404aaa1f6d2a48adfda4", p))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn stages_are_monotone_and_spread_evenly() {
    const N: usize = 20_000;
    let mut rng = rand::rng();
    let devices: Vec<Device> = (0..N)
        .map(|_| Device::with_id(&random_id(&mut rng)))
        .collect();
    for part in ROLLOUT_PARTS {
        let buckets: Vec<u8> = devices.iter().map(|d| d.bucket(part)).collect();
        // Every bucket holds about 1 % of the fleet (200 of 20,000; ±70 is > 4.9 sigma).
        let mut per = [0usize; 100];
        for b in &buckets {
            per[*b as usize] += 1;
        }
        for (b, n) in per.iter().enumerate() {
            assert!(
                (130..=270).contains(n),
                "{part}: bucket {b} has {n} devices"
            );
        }
        // Each named stage turns the part on for its share (±1.5 points).
        for (name, pct) in STAGES {
            let r: Rollout = name.parse().unwrap();
            let on = buckets.iter().filter(|b| r.admits(**b)).count();
            let share = on as f64 * 100.0 / N as f64;
            assert!(
                (share - f64::from(*pct)).abs() <= 1.5,
                "{part} at {name}: {share:.2} % of devices"
            );
        }
        // Raising the stage only adds devices.
        for b in &buckets {
            let mut was_on = false;
            for pct in 0..=100 {
                let on = pct.to_string().parse::<Rollout>().unwrap().admits(*b);
                assert!(on || !was_on, "{part}: bucket {b} turned off at {pct} %");
                was_on = on;
            }
        }
    }
    // Different parts pick different devices at the same stage.
    let same = devices
        .iter()
        .filter(|d| d.bucket("response_cache") == d.bucket("db_pool"))
        .count();
    assert!(same < N / 50, "{same} devices share buckets across parts");
}

/// A machine id whose `response_cache` bucket is (or is not) admitted at canary (5 %).
fn id_with_cache(admitted: bool) -> String {
    let mut rng = rand::rng();
    loop {
        let id = random_id(&mut rng);
        if (expected_bucket(&id, "response_cache") < 5) == admitted {
            return id;
        }
    }
}

fn flags_output(args: &[&str]) -> serde_json::Value {
    let out = command().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn flags_command_prints_the_flags_of_a_context() {
    let id = id_with_cache(true);
    let v = flags_output(&["flags", "--machine-id", &id, "--rollout", "canary"]);
    for part in ROLLOUT_PARTS {
        let want = expected_bucket(&id, part) < 5;
        assert_eq!(v["flags"][part], want, "{part}: {v}");
        assert_eq!(
            v["rollout"]["parts"][part]["bucket"],
            expected_bucket(&id, part)
        );
    }
    assert_eq!(v["rollout"]["stage"], "canary");
    assert_eq!(v["rollout"]["percent"], 5);
    assert_eq!(v["rollout"]["machine_id"], "found");
    // `full` turns every part on, `disabled` every part off, whatever the id.
    let full = flags_output(&["flags", "--machine-id", &id, "--rollout", "full"]);
    let off = flags_output(&["flags", "--machine-id", &id, "--rollout", "0"]);
    for part in ROLLOUT_PARTS {
        assert_eq!(full["flags"][part], true);
        assert_eq!(off["flags"][part], false);
    }
    // The layer's own switch still wins.
    let out = command()
        .args(["flags", "--machine-id", &id, "--rollout", "full"])
        .env("CALENDARBOT_OPTIMIZATION__ENABLED", "false")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["flags"]["response_cache"], false);
}

fn serve_as(id: &str, stage: &str) -> (Binary, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mid = dir.path().join("machine-id");
    std::fs::write(&mid, format!("{id}\n")).unwrap();
    let b = Binary::start(
        dir.path(),
        &[
            ("CALENDARBOT_OPTIMIZATION__ROLLOUT", stage.to_string()),
            (
                "CALENDARBOT_OPTIMIZATION__MACHINE_ID_PATH",
                mid.display().to_string(),
            ),
        ],
    );
    (b, dir)
}

#[test]
fn the_service_takes_its_parts_from_its_bucket() {
    for admitted in [true, false] {
        let id = id_with_cache(admitted);
        let (mut b, _dir) = serve_as(&id, "canary");
        for _ in 0..3 {
            let (code, _) = b.get("/api/whats-next").unwrap();
            assert_eq!(code, 200);
        }
        let (_, s) = b.get("/api/status/optimization").unwrap();
        assert_eq!(s["flags"]["response_cache"], admitted, "{s}");
        assert_eq!(s["rollout"]["stage"], "canary");
        assert_eq!(
            s["rollout"]["parts"]["response_cache"]["bucket"],
            expected_bucket(&id, "response_cache")
        );
        // The read path is optimised only where the cache or batching is admitted.
        let optimised = expected_bucket(&id, "response_cache") < 5
            || expected_bucket(&id, "request_batching") < 5;
        let (opt, plain) = (
            s["latency_us"]["optimized"]["count"].as_u64().unwrap(),
            s["latency_us"]["plain"]["count"].as_u64().unwrap(),
        );
        if optimised {
            assert!(opt >= 3 && plain == 0, "admitted device ran plain: {s}");
        } else {
            assert!(
                opt == 0 && plain >= 3,
                "device outside the stage ran the layer: {s}"
            );
        }
        let log = b.log();
        assert!(
            log.contains("rollout=canary (5%)") && log.contains("machine_id=\"found\"")
                || log.contains("rollout=canary (5%)") && log.contains("machine_id=found"),
            "start line lacks the rollout: {log}"
        );
        b.stop();
    }
}

#[test]
fn an_invalid_stage_is_refused_in_one_line() {
    for bad in ["most", "101", "-5"] {
        let out = command()
            .arg("flags")
            .env("CALENDARBOT_OPTIMIZATION__ROLLOUT", bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains("optimization.rollout") && err.contains("expected disabled, canary"),
            "{err}"
        );
    }
}
