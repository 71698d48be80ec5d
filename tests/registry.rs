//! The registry of personal information end to end, through the real server: register
//! with deduplication, the separate permission, disclosure recorded before it happens,
//! contact changes, restriction, erasure that leaves the chain and the money intact and
//! the person's data nowhere in the data directory, the access log, and key rotation.

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};

const NAME: &str = "林秀英";

/// `body17` followed by its ISO 7064 MOD 11-2 check character.
fn id_number(body17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body17
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    let check = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize];
    format!("{body17}{check}")
}

fn key_file(dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    ok(ledger(dir, &["key", "generate", path.to_str().unwrap()]));
    path
}

fn head(api: &Api, token: &str) -> u64 {
    let a = api.get(token, "/api/v1/verify");
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["head_position"].as_u64().unwrap()
}

/// Every file under `dir`, recursively, as bytes.
fn files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn personal_information_is_registered_disclosed_on_record_and_erased_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let key = key_file(dir.path(), "master.key");
    let admin = init(&data);
    let server = serve_with(&data, &[("WELFARE_LEDGER_MASTER_KEY_FILE", &key)]);
    let api = Api {
        base: server.base.clone(),
    };
    for (i, u) in [
        unit("FJ", "福建省计生协", "Province", None),
        unit("FJ-SM", "三明市计生协", "City", Some("FJ")),
        unit("FJ-SM-SX", "沙县计生协", "County", Some("FJ-SM")),
        unit("FJ-XM", "厦门市计生协", "City", Some("FJ")),
    ]
    .into_iter()
    .enumerate()
    {
        api.ok(&admin, &format!("unit-{i}"), u);
    }
    for (user, role, scope) in [
        ("clerk-sx", "clerk", Some("FJ-SM-SX")),
        ("clerk-xm", "clerk", Some("FJ-XM")),
        ("auditor", "auditor", None),
    ] {
        api.ok(
            &admin,
            &format!("user-{user}"),
            json!({"RegisterUser": {"user": user, "role": role, "scope": scope}}),
        );
    }
    let clerk = api.token_for(&admin, "clerk-sx");
    let other_clerk = api.token_for(&admin, "clerk-xm");
    let auditor = api.token_for(&admin, "auditor");

    let number = id_number("35042719850312002");
    let person = json!({
        "unit": "FJ-SM-SX", "kind": "Person", "categories": ["Mother"],
        "name": NAME, "id_number": number, "phone": "13905981234",
        "bank_account": "6228480012345678901", "address": "福建省三明市沙县区凤岗街道"
    });
    let registered = api.post(&clerk, "reg-1", "/api/v1/beneficiaries", &person);
    assert_eq!(registered.status, 201, "{}", registered.body);
    let id = registered.body["beneficiary"].as_str().unwrap().to_string();
    assert!(id.starts_with("b-"), "{id}");

    // The same number, spaced and with a lower-case x where it has one, is the same person.
    let mut again = person.clone();
    let spaced = format!("{} {} {}", &number[..6], &number[6..14], &number[14..]).to_lowercase();
    again["id_number"] = json!(spaced);
    let dup = api.post(&clerk, "reg-2", "/api/v1/beneficiaries", &again);
    assert_eq!(dup.status, 200, "{}", dup.body);
    assert_eq!(dup.body["beneficiary"], id.as_str());
    assert_eq!(dup.body["created"], false);

    // Bad input changes nothing.
    let before = head(&api, &auditor);
    let mut wrong = person.clone();
    let last = if number.ends_with('1') { "2" } else { "1" };
    wrong["id_number"] = json!(format!("{}{last}", &number[..17]));
    problem(
        &api.post(&clerk, "reg-3", "/api/v1/beneficiaries", &wrong),
        400,
        "id_number_check_digit",
    );
    problem(
        &api.post(
            &other_clerk,
            "reg-4",
            "/api/v1/beneficiaries",
            &json!({
                "unit": "FJ-SM-SX", "kind": "Person", "name": "陈美玲",
                "id_number": id_number("35042719900101004")
            }),
        ),
        403,
        "out_of_scope",
    );
    // Reading needs the separate permission, even for the clerk who registered.
    let read = json!({"beneficiary": id, "purpose": "核对银行账户"});
    problem(
        &api.post(&clerk, "read-0", "/api/v1/personal-data/disclosures", &read),
        403,
        "personal_data_not_permitted",
    );
    assert_eq!(head(&api, &auditor), before, "refusals append nothing");

    for user in ["clerk-sx", "clerk-xm"] {
        api.ok(
            &admin,
            &format!("grant-{user}"),
            json!({"GrantPersonalDataAccess": {"user": user, "reason": "发放核对"}}),
        );
    }
    let shown = api.post(&clerk, "read-1", "/api/v1/personal-data/disclosures", &read);
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.body["name"], NAME);
    assert_eq!(shown.body["id_number"], number.as_str());
    assert_eq!(shown.body["birth_date"], "1985-03-12");
    assert_eq!(shown.body["sex"], "female");
    assert!(shown
        .headers
        .iter()
        .any(|(k, v)| k == "cache-control" && v == "no-store"));
    // Scope applies to personal information as to money.
    problem(
        &api.post(
            &other_clerk,
            "read-2",
            "/api/v1/personal-data/disclosures",
            &read,
        ),
        403,
        "out_of_scope",
    );
    let found = api.post(
        &clerk,
        "read-3",
        "/api/v1/personal-data/disclosures",
        &json!({"id_number": spaced, "purpose": "来访核实身份"}),
    );
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["beneficiary"], id.as_str());

    let contact = call(
        "PATCH",
        &format!("{}/api/v1/beneficiaries/{id}/contact", server.base),
        Some(&clerk),
        Some("contact-1"),
        Some(
            &json!({"phone": "13805980000", "address": null, "purpose": "本人来电更新"})
                .to_string(),
        ),
    );
    assert_eq!(contact.status, 201, "{}", contact.body);
    let shown = api.post(&clerk, "read-4", "/api/v1/personal-data/disclosures", &read);
    assert_eq!(shown.body["phone"], "13805980000");
    assert_eq!(shown.body["address"], Value::Null);

    // Restriction: stored only.
    let path = |what: &str| format!("/api/v1/beneficiaries/{id}/{what}");
    let reason = json!({"reason": "本人申请限制处理"});
    assert_eq!(
        api.post(&admin, "restrict-1", &path("restriction"), &reason)
            .status,
        201
    );
    problem(
        &api.post(&clerk, "read-5", "/api/v1/personal-data/disclosures", &read),
        422,
        "beneficiary_restricted",
    );
    assert_eq!(
        api.post(&admin, "lift-1", &path("restriction/lift"), &reason)
            .status,
        201
    );
    assert_eq!(
        api.post(&clerk, "read-6", "/api/v1/personal-data/disclosures", &read)
            .status,
        200
    );

    // The access log: who read whose data, when and why.
    let log = api.get(
        &auditor,
        &format!("/api/v1/personal-data/access-log?beneficiary={id}"),
    );
    assert_eq!(log.status, 200, "{}", log.body);
    let kinds: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "read",
            "look_up_by_id_number",
            "update_contact",
            "read",
            "restricted",
            "restriction_lifted",
            "read"
        ]
    );
    assert_eq!(log.body["items"][0]["actor"], "clerk-sx");
    assert_eq!(log.body["items"][0]["reason"], "核对银行账户");
    problem(
        &api.get(&clerk, "/api/v1/personal-data/access-log"),
        403,
        "not_permitted",
    );

    // Erasure: the key is destroyed, the history stays.
    let funds_before = api.get(&auditor, "/api/v1/funds").body;
    assert_eq!(
        api.post(
            &admin,
            "erase-1",
            &path("erasure"),
            &json!({"reason": "本人申请删除"})
        )
        .status,
        201
    );
    problem(
        &api.post(&clerk, "read-7", "/api/v1/personal-data/disclosures", &read),
        422,
        "beneficiary_erased",
    );
    let status = api.get(&clerk, &format!("/api/v1/beneficiaries/{id}"));
    assert_eq!(status.body["status"], "erased", "{}", status.body);
    assert_eq!(status.body["personal_data"], "erased");
    assert_eq!(api.get(&auditor, "/api/v1/funds").body, funds_before);
    let verified = api.get(&auditor, "/api/v1/verify");
    assert_eq!(verified.body["intact"], true, "{}", verified.body);

    // Rotation while serving.
    let new_key = key_file(dir.path(), "master-2.key");
    let rotated = api.post(
        &admin,
        "rotate-1",
        "/api/v1/registry/rotation",
        &json!({"new_key_file": new_key}),
    );
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    drop(server);

    // Nothing personal anywhere in the data directory, in any file.
    for (path, bytes) in files(&data) {
        for needle in [NAME, number.as_str(), "13905981234", "6228480012345678901"] {
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "{} holds {needle}",
                path.display()
            );
        }
    }
    ok(ledger(&data, &["verify"]));

    // Restarted with the new key, the registry opens; the old key is refused.
    let server = serve_with(&data, &[("WELFARE_LEDGER_MASTER_KEY_FILE", &new_key)]);
    let api = Api {
        base: server.base.clone(),
    };
    let state = api.get(&auditor, "/api/v1/registry");
    assert_eq!(state.body["configured"], true, "{}", state.body);
    assert_eq!(state.body["erased"], 1);
    assert_eq!(state.body["key_id"], rotated.body["to_key_id"]);
    drop(server);
    let old = ledger(
        &data,
        &[
            "--master-key-file",
            key.to_str().unwrap(),
            "registry",
            "status",
        ],
    );
    assert_eq!(old.status.code(), Some(4), "{}", stderr(&old));
    assert!(stderr(&old).contains("does not match"), "{}", stderr(&old));
}

#[test]
fn without_a_master_key_the_registry_is_off_and_says_how_to_turn_it_on() {
    let server = start();
    let api = Api {
        base: server.base.clone(),
    };
    let a = api.post(
        &server.admin,
        "r-1",
        "/api/v1/beneficiaries",
        &json!({"unit": "FJ", "kind": "Person", "name": "x", "id_number": "1"}),
    );
    problem(&a, 503, "registry_not_configured");
    assert!(a.body["detail"].as_str().unwrap().contains("key generate"));
    let state = api.get(&server.admin, "/api/v1/registry");
    assert_eq!(state.body["configured"], false);
}
