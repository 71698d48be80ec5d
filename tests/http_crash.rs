//! The real server under concurrent clients, SIGKILLed and restarted again and again.
//! Each client records ¥1.00 grants with its own Idempotency-Keys (one client in
//! groups of three, all or none) and, when the connection fails, retries the same key
//! until it gets an answer. Afterwards every acknowledged request is in the ledger
//! exactly once, no retried request is doubled (the fund paid out exactly ¥1.00 per
//! distinct command id), each group's three grants sit at consecutive positions (never
//! part of a group before a crash and the rest after), and `verify` passes.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const CLIENTS: usize = 4;
const KILLS: usize = 6;

/// Grants per group of the client that records groups.
const GROUP: usize = 3;

/// One client: records grants (client 0 in groups of [`GROUP`]) until told to stop,
/// retrying each key until answered.
fn client(
    n: usize,
    base: Arc<RwLock<String>>,
    token: String,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<BTreeMap<String, u64>>>,
) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(5))
        .build();
    let one =
        json!({"command": grant("HP-SX", "b-000001", "1.00"), "effective_date": "2021-06-30"});
    let (path, body) = if n == 0 {
        (
            "/api/v1/command-groups",
            json!({ "commands": vec![one; GROUP] }),
        )
    } else {
        ("/api/v1/commands", one)
    };
    let body = body.to_string();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let key = format!("client-{n}-{i}");
        let started = Instant::now();
        loop {
            let url = format!("{}{path}", base.read().unwrap());
            let answer = agent
                .post(&url)
                .set("Authorization", &format!("Bearer {token}"))
                .set("Idempotency-Key", &key)
                .set("Content-Type", "application/json")
                .send_string(&body);
            match answer {
                Ok(r) => {
                    let v: serde_json::Value = r.into_json().unwrap();
                    let mut acked = acked.lock().unwrap();
                    match v["commands"].as_array() {
                        Some(commands) => {
                            for c in commands {
                                acked.insert(
                                    c["command_id"].as_str().unwrap().to_string(),
                                    c["first_position"].as_u64().unwrap(),
                                );
                            }
                        }
                        None => {
                            acked.insert(key.clone(), v["first_position"].as_u64().unwrap());
                        }
                    }
                    break;
                }
                Err(ureq::Error::Status(code, r)) => {
                    panic!("{key}: {code} {}", r.into_string().unwrap_or_default())
                }
                Err(_) => {
                    // The server is down or restarting: retry the same key.
                    assert!(
                        started.elapsed() < Duration::from_secs(60),
                        "{key}: no answer for a minute"
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

#[cfg(unix)]
#[test]
fn sigkill_under_load_loses_no_acknowledged_request_and_doubles_no_retry() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let admin = init(&data);
    let mut server = serve(&data);
    let api = Api {
        base: server.base.clone(),
    };
    api.ok(&admin, "u1", unit("FJ", "福建省", "Province", None));
    api.ok(&admin, "u2", unit("FJ-SM", "三明市", "City", Some("FJ")));
    api.ok(
        &admin,
        "u3",
        unit("FJ-SM-SX", "沙县区", "County", Some("FJ-SM")),
    );
    api.ok(
        &admin,
        "f1",
        json!({"OpenFund": {"fund": "HP-SX", "unit": "FJ-SM-SX",
        "programme": "HappinessProject", "name": "幸福工程", "fiscal_year": 2021,
        "approval_threshold": null, "insurance_model": null}}),
    );
    api.ok(
        &admin,
        "user",
        json!({"RegisterUser": {"user": "clerk-sx", "role": "clerk", "scope": "FJ-SM-SX"}}),
    );
    let clerk = api.token_for(&admin, "clerk-sx");
    api.ok(&clerk, "c", json!({"CommitAppropriation": {"fund": "HP-SX", "tier": "County", "amount": "1000000.00", "reference": null}}));
    api.ok(&clerk, "r", json!({"ReceiveAppropriation": {"fund": "HP-SX", "tier": "County", "amount": "1000000.00", "reference": null}}));
    api.ok(&clerk, "b", json!({"RegisterBeneficiary": {"beneficiary": "b-000001", "unit": "FJ-SM-SX", "kind": "Person", "categories": []}}));

    let base = Arc::new(RwLock::new(server.base.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            let (base, token, stop, acked) =
                (base.clone(), clerk.clone(), stop.clone(), acked.clone());
            std::thread::spawn(move || client(n, base, token, stop, acked))
        })
        .collect();
    for _ in 0..KILLS {
        std::thread::sleep(Duration::from_millis(300));
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        server = serve(&data);
        *base.write().unwrap() = server.base.clone();
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }

    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "the clients recorded too little: {}",
        acked.len()
    );
    let api = Api {
        base: server.base.clone(),
    };
    let auditor_user =
        json!({"RegisterUser": {"user": "auditor", "role": "auditor", "scope": null}});
    api.ok(&admin, "auditor", auditor_user);
    let auditor = api.token_for(&admin, "auditor");
    for (key, position) in &acked {
        let trail = api.get(&auditor, &format!("/api/v1/audit?command_id={key}"));
        let items = trail.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{key}: {}", trail.body);
        assert_eq!(items[0]["position"].as_u64(), Some(*position), "{key}");
    }
    // A group's grants were decided and made durable together.
    let groups = acked
        .iter()
        .filter(|(key, _)| key.starts_with("client-0-") && key.ends_with(".1"));
    let mut recorded_groups = 0;
    for (key, first) in groups {
        recorded_groups += 1;
        let stem = key.trim_end_matches(".1");
        for i in 2..=GROUP {
            assert_eq!(
                acked.get(&format!("{stem}.{i}")),
                Some(&(first + i as u64 - 1)),
                "{stem}"
            );
        }
    }
    assert!(recorded_groups > 0, "the group client recorded nothing");
    // Exactly ¥1.00 per distinct command id: no retry was paid twice, none was lost.
    let balance = api.get(&auditor, "/api/v1/funds/HP-SX/balance");
    assert_eq!(
        balance.body["figures"]["disbursed"],
        format!("{}.00", acked.len()),
        "{}",
        balance.body
    );
    let verify = api.get(&auditor, "/api/v1/verify");
    assert_eq!(verify.body["intact"], true, "{}", verify.body);
    drop(server);
    let out = ledger(&data, &["verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
