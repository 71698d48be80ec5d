//! The real server through a full disk, recovering without a restart.
//!
//! Two ways to fill the disk:
//! - everywhere: the binary's test-only failpoint (`WELFARE_LEDGER_TEST_DISK_FULL_FLAG`
//!   names a file; while it exists the store fails every write, flush, snapshot and
//!   probe for space with ENOSPC);
//! - a real ENOSPC: the server runs in a private mount namespace on a 24 MiB tmpfs,
//!   which the test fills with a file (through `/proc/PID/root`) and empties again.
//!   Mounting needs root (or an unprivileged user namespace). `.ci/run` sets
//!   `WELFARE_LEDGER_TMPFS_TEST=require` when it runs as root, and then this test
//!   fails if it cannot mount; elsewhere it says on stderr that it did not run
//!   (`=skip` skips it outright).
//!
//! In both: while the disk is full, writes answer 503 `unavailable` with a detail
//! naming "No space left on device" and a `Retry-After`; reads answer 200 with the
//! figures committed before; `/health` says `recovering` and `/metrics`
//! `writes_unavailable 1`. Once the disk has space the same server process takes writes
//! again (`/metrics` counts the log's reopen); every request retried with its
//! Idempotency-Key is recorded exactly once, every acknowledged request is in the
//! audit trail once at its answered position, and the chain verifies.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// The ledger every test here builds: a county fund with ¥1,000,000 of county cash, one
/// beneficiary and a clerk. Returns the clerk's and an auditor's tokens.
fn setup(api: &Api, admin: &str) -> (String, String) {
    api.ok(admin, "u1", unit("FJ", "福建省", "Province", None));
    api.ok(admin, "u2", unit("FJ-SM", "三明市", "City", Some("FJ")));
    api.ok(
        admin,
        "u3",
        unit("FJ-SM-SX", "沙县区", "County", Some("FJ-SM")),
    );
    api.ok(
        admin,
        "f1",
        json!({"OpenFund": {"fund": "HP-SX", "unit": "FJ-SM-SX",
        "programme": "HappinessProject", "name": "幸福工程", "fiscal_year": 2021,
        "approval_threshold": null, "insurance_model": null}}),
    );
    api.ok(
        admin,
        "user",
        json!({"RegisterUser": {"user": "clerk-sx", "role": "clerk", "scope": "FJ-SM-SX"}}),
    );
    api.ok(
        admin,
        "auditor",
        json!({"RegisterUser": {"user": "auditor", "role": "auditor", "scope": null}}),
    );
    let clerk = api.token_for(admin, "clerk-sx");
    let auditor = api.token_for(admin, "auditor");
    api.ok(&clerk, "c", json!({"CommitAppropriation": {"fund": "HP-SX", "tier": "County", "amount": "1000000.00", "reference": null}}));
    api.ok(&clerk, "r", json!({"ReceiveAppropriation": {"fund": "HP-SX", "tier": "County", "amount": "1000000.00", "reference": null}}));
    api.ok(&clerk, "b", json!({"RegisterBeneficiary": {"beneficiary": "b-000001", "unit": "FJ-SM-SX", "kind": "Person", "categories": []}}));
    (clerk, auditor)
}

/// A ¥1.00 grant with a long memo (so that a few hundred fill a journal step).
fn pay(api: &Api, clerk: &str, key: &str) -> Answer {
    api.post(
        clerk,
        key,
        "/api/v1/commands",
        &json!({"command": grant("HP-SX", "b-000001", "1.00"), "effective_date": "2021-06-30",
            "memo": format!("{key} {}", "凭证".repeat(150))}),
    )
}

fn metric(api: &Api, name: &str) -> f64 {
    let text = call("GET", &format!("{}/metrics", api.base), None, None, None).text;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

fn health(api: &Api) -> Value {
    call("GET", &format!("{}/health", api.base), None, None, None).body
}

/// The answer of a write refused because the disk is full.
fn assert_disk_full(answer: &Answer) {
    problem(answer, 503, "unavailable");
    let detail = answer.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("recovering from an IO error")
            && detail.contains("No space left on device"),
        "{detail}"
    );
    let retry_after: u64 = answer
        .headers
        .iter()
        .find(|(name, _)| name == "retry-after")
        .map(|(_, v)| v.parse().unwrap())
        .expect("a Retry-After header");
    assert!((1..=10).contains(&retry_after), "{retry_after}");
}

/// Retries `key` until it is acknowledged (the server recovers by itself), and returns
/// its position.
fn retry_until_acknowledged(api: &Api, clerk: &str, key: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = pay(api, clerk, key);
        match answer.status {
            201 => return answer.body["first_position"].as_u64().unwrap(),
            503 => {
                assert_eq!(answer.body["code"], "unavailable", "{}", answer.body);
                assert!(Instant::now() < deadline, "{key}: no recovery in 60 s");
                std::thread::sleep(Duration::from_millis(100));
            }
            other => panic!("{key}: {other} {}", answer.body),
        }
    }
}

/// What must hold once the server has recovered: writes are taken, the log was
/// reopened once or more, every acknowledged key is in the audit trail once at its
/// position, the fund paid ¥1.00 per key, and the chain verifies.
fn check_recovered(api: &Api, auditor: &str, acknowledged: &BTreeMap<String, u64>) {
    assert_eq!(health(api)["writes"], "available");
    assert_eq!(metric(api, "welfare_ledger_writes_unavailable"), 0.0);
    assert!(metric(api, "welfare_ledger_log_reopens_total") >= 1.0);
    for (key, position) in acknowledged {
        let trail = api.get(auditor, &format!("/api/v1/audit?command_id={key}"));
        let items = trail.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{key}: {}", trail.body);
        assert_eq!(items[0]["position"].as_u64(), Some(*position), "{key}");
    }
    let balance = api.get(auditor, "/api/v1/funds/HP-SX/balance");
    assert_eq!(
        balance.body["figures"]["disbursed"],
        format!("{}.00", acknowledged.len()),
        "{}",
        balance.body
    );
    let verify = api.get(auditor, "/api/v1/verify");
    assert_eq!(verify.body["intact"], true, "{}", verify.body);
}

#[test]
fn the_server_recovers_from_a_full_disk_failpoint_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let flag = dir.path().join("disk-full");
    let admin = init(&data);
    let mut child = Command::new(env!("CARGO_BIN_EXE_welfare-ledger"))
        .arg("--data")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("WELFARE_LEDGER_TEST_DISK_FULL_FLAG", &flag)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = address(&mut child);
    let server = KillOnDrop(child);
    let api = Api { base };
    let (clerk, auditor) = setup(&api, &admin);
    let mut acknowledged = BTreeMap::new();
    for i in 0..5 {
        let key = format!("before-{i}");
        let answer = pay(&api, &clerk, &key);
        assert_eq!(answer.status, 201, "{}", answer.body);
        acknowledged.insert(key, answer.body["first_position"].as_u64().unwrap());
    }
    let before = api.get(&auditor, "/api/v1/funds/HP-SX/balance").body;

    std::fs::write(&flag, b"full").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut refused = Vec::new();
    for i in 0..5 {
        let key = format!("during-{i}");
        let answer = pay(&api, &clerk, &key);
        assert_disk_full(&answer);
        refused.push(key);
        // Reads answer from what was committed.
        let balance = api.get(&auditor, "/api/v1/funds/HP-SX/balance");
        assert_eq!(balance.status, 200);
        assert_eq!(balance.body, before);
    }
    assert_eq!(health(&api)["writes"], "recovering");
    assert_eq!(metric(&api, "welfare_ledger_writes_unavailable"), 1.0);
    // Still full after several recovery attempts: the server keeps refusing.
    std::thread::sleep(Duration::from_millis(800));
    assert_disk_full(&pay(&api, &clerk, "during-0"));

    std::fs::remove_file(&flag).unwrap();
    for key in refused {
        let position = retry_until_acknowledged(&api, &clerk, &key);
        acknowledged.insert(key, position);
    }
    for i in 0..5 {
        let key = format!("after-{i}");
        let answer = pay(&api, &clerk, &key);
        assert_eq!(answer.status, 201, "{}", answer.body);
        acknowledged.insert(key, answer.body["first_position"].as_u64().unwrap());
    }
    check_recovered(&api, &auditor, &acknowledged);
    drop(server);
    let out = ledger(&data, &["verify"]);
    assert!(out.status.success(), "{}", stdout(&out));
}

/// Kills the server when the test ends, passed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The server's address from its first line on stdout.
fn address(child: &mut std::process::Child) -> String {
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "the server exited"
        );
        if let Some(address) = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|a| a.starts_with("http://"))
        {
            let address = address.to_string();
            // Keep reading its stdout so that it never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            return address;
        }
    }
}

// ---- a real ENOSPC on a tmpfs ------------------------------------------------------

/// Size of the tmpfs the server's data directory lives on.
const TMPFS_BYTES: u64 = 24 * 1024 * 1024;

/// How to run a command in a private mount namespace where it may mount a tmpfs, if
/// this machine allows it: as root directly, else in an unprivileged user namespace.
fn mount_namespace(probe_dir: &Path) -> Option<Vec<&'static str>> {
    let candidates: [&[&'static str]; 2] = [
        &["unshare", "--mount", "--propagation", "private"],
        &[
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "--propagation",
            "private",
        ],
    ];
    candidates.into_iter().map(<[&str]>::to_vec).find(|prefix| {
        Command::new(prefix[0])
            .args(&prefix[1..])
            .args(["sh", "-c", "mount -t tmpfs -o size=1m tmpfs \"$0\""])
            .arg(probe_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

#[test]
fn the_server_recovers_from_a_real_enospc_on_a_tmpfs_without_a_restart() {
    let mode = std::env::var("WELFARE_LEDGER_TMPFS_TEST").unwrap_or_default();
    if mode == "skip" {
        eprintln!("WELFARE_LEDGER_TMPFS_TEST=skip: the real-ENOSPC test did not run");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("mnt");
    std::fs::create_dir(&mount).unwrap();
    let Some(prefix) = mount_namespace(&mount) else {
        assert_ne!(
            mode, "require",
            "WELFARE_LEDGER_TMPFS_TEST=require, but a tmpfs cannot be mounted here \
             (neither as root nor in a user namespace): run as root on a machine (not a \
             container without CAP_SYS_ADMIN), or set WELFARE_LEDGER_TMPFS_TEST=skip"
        );
        eprintln!(
            "NOT RUN: the real-ENOSPC test needs to mount a tmpfs (root, or unprivileged \
             user namespaces); the failpoint test above covers the server's recovery"
        );
        return;
    };
    // In the namespace: mount the tmpfs over `mnt`, create the ledger there (its
    // `init --json` answer is the first line on stdout), then become the server.
    let script = format!(
        "set -e; mount -t tmpfs -o size={TMPFS_BYTES} tmpfs \"$0\"; \
         \"$1\" --data \"$0/ledger\" --json init; \
         exec \"$1\" --data \"$0/ledger\" serve --listen 127.0.0.1:0"
    );
    let mut child = Command::new(prefix[0])
        .args(&prefix[1..])
        .args(["sh", "-c", &script])
        .arg(&mount)
        .arg(env!("CARGO_BIN_EXE_welfare-ledger"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let init: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let admin = init["admin_token"].as_str().unwrap().to_string();
    line.clear();
    reader.read_line(&mut line).unwrap();
    let base = line
        .trim()
        .rsplit(' ')
        .next()
        .filter(|a| a.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    // The tmpfs as the server sees it (its mount namespace, through /proc).
    let inside: PathBuf =
        PathBuf::from(format!("/proc/{}/root", child.id())).join(mount.strip_prefix("/").unwrap());
    let _server = KillOnDrop(child);
    let api = Api { base };
    let (clerk, auditor) = setup(&api, &admin);
    let mut acknowledged = BTreeMap::new();
    for i in 0..5 {
        let key = format!("before-{i}");
        let answer = pay(&api, &clerk, &key);
        assert_eq!(answer.status, 201, "{}", answer.body);
        acknowledged.insert(key, answer.body["first_position"].as_u64().unwrap());
    }

    // Fill the tmpfs to the last byte.
    let filler = inside.join("filler");
    {
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0x5A_u8; 64 * 1024];
        loop {
            match file.write_all(&block) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling the tmpfs: {e}"),
            }
        }
        // The last partial block, byte by byte.
        while file.write_all(&[0x5A]).is_ok() {}
    }
    // Write until the full disk stops the ledger: the journal has preallocated room
    // (1–2 MiB ahead of its frames, decision 0028: a few thousand of these writes;
    // 2,441 when it was measured), so the first failure comes when it must grow or
    // sled must write out its log.
    let mut refused = None;
    for i in 0..10_000 {
        let key = format!("full-{i}");
        let answer = pay(&api, &clerk, &key);
        match answer.status {
            201 => {
                acknowledged.insert(key, answer.body["first_position"].as_u64().unwrap());
            }
            _ => {
                assert_disk_full(&answer);
                refused = Some(key);
                break;
            }
        }
    }
    let refused = refused.expect("10,000 writes on a full disk all succeeded");
    eprintln!(
        "the tmpfs was full; {} writes were acknowledged before {refused} met ENOSPC",
        acknowledged.len()
    );
    let before = api.get(&auditor, "/api/v1/funds/HP-SX/balance");
    assert_eq!(
        before.status, 200,
        "reads answer on a full disk: {}",
        before.body
    );
    assert_eq!(
        before.body["figures"]["disbursed"],
        format!("{}.00", acknowledged.len()),
        "{}",
        before.body
    );
    assert_disk_full(&pay(&api, &clerk, &refused));
    assert_eq!(health(&api)["writes"], "recovering");
    assert_eq!(metric(&api, "welfare_ledger_writes_unavailable"), 1.0);
    std::thread::sleep(Duration::from_millis(600));
    assert_disk_full(&pay(&api, &clerk, &refused));

    // Space returns.
    std::fs::remove_file(&filler).unwrap();
    let position = retry_until_acknowledged(&api, &clerk, &refused);
    acknowledged.insert(refused, position);
    for i in 0..5 {
        let key = format!("after-{i}");
        let answer = pay(&api, &clerk, &key);
        assert_eq!(answer.status, 201, "{}", answer.body);
        acknowledged.insert(key, answer.body["first_position"].as_u64().unwrap());
    }
    check_recovered(&api, &auditor, &acknowledged);
}
