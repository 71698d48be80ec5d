//! Starts the real `welfare-ledger serve` on loopback over a temporary ledger and
//! drives the HTTP API as its users would: an admin sets up units, funds, users and
//! tokens; a county clerk records money and reads it back; retries with the same
//! Idempotency-Key return the original answer; every error class answers with the
//! right status and a problem+json body; a clerk of one county can neither record nor
//! read another county's fund; an auditor's write is refused; SIGTERM drains and the
//! chain still verifies.

mod common;

use std::process::Command;

use common::*;
use serde_json::json;

/// Posts a body over the server's limit. The server answers 413 from the
/// Content-Length alone and closes the connection without reading the body; the
/// client, still writing, may then see the connection reset before it reads the
/// answer (a race of the loopback socket, not of the server's logic), so a
/// transport error is retried a few times.
fn post_too_large(base: &str, token: &str, body: &str) -> Answer {
    for _ in 0..10 {
        let result = ureq::AgentBuilder::new()
            .build()
            .post(&format!("{base}/api/v1/commands"))
            .set("Authorization", &format!("Bearer {token}"))
            .set("Idempotency-Key", "huge")
            .set("Content-Type", "application/json")
            .send_string(body);
        if let Err(ureq::Error::Status(status, r)) = result {
            let content_type = r.header("content-type").unwrap_or("").to_string();
            let text = r.into_string().unwrap();
            return Answer {
                status,
                content_type,
                replayed: false,
                headers: Vec::new(),
                body: serde_json::from_str(&text).unwrap(),
                text,
            };
        }
    }
    panic!("the server never answered the oversized body");
}

/// Two counties, a grant fund in each with ¥100,000.00 received, a beneficiary in
/// each, and a token for every role.
struct Setup {
    api: Api,
    clerk_sx: String,
    clerk_xm: String,
    auditor: String,
}

fn setup(server: &Server, admin: &str) -> Setup {
    let api = Api {
        base: server.base.clone(),
    };
    api.ok(admin, "u1", unit("FJ", "福建省", "Province", None));
    api.ok(admin, "u2", unit("FJ-SM", "三明市", "City", Some("FJ")));
    api.ok(
        admin,
        "u3",
        unit("FJ-SM-SX", "沙县区", "County", Some("FJ-SM")),
    );
    api.ok(admin, "u4", unit("FJ-XM", "厦门市", "City", Some("FJ")));
    api.ok(
        admin,
        "u5",
        unit("FJ-XM-SM", "思明区", "County", Some("FJ-XM")),
    );
    for (fund, county) in [("HP-SX", "FJ-SM-SX"), ("HP-XM", "FJ-XM-SM")] {
        api.ok(
            admin,
            &format!("f-{fund}"),
            json!({"OpenFund": {"fund": fund, "unit": county,
            "programme": "HappinessProject", "name": "幸福工程", "fiscal_year": 2021,
            "approval_threshold": "50000.00", "insurance_model": null}}),
        );
    }
    for (user, role, scope) in [
        ("clerk-sx", "clerk", Some("FJ-SM-SX")),
        ("clerk-xm", "clerk", Some("FJ-XM-SM")),
        ("auditor", "auditor", None),
    ] {
        api.ok(
            admin,
            &format!("user-{user}"),
            json!({"RegisterUser": {"user": user, "role": role, "scope": scope}}),
        );
    }
    let clerk_sx = api.token_for(admin, "clerk-sx");
    let clerk_xm = api.token_for(admin, "clerk-xm");
    let auditor = api.token_for(admin, "auditor");
    for (token, fund, who, county) in [
        (&clerk_sx, "HP-SX", "b-000001", "FJ-SM-SX"),
        (&clerk_xm, "HP-XM", "b-000002", "FJ-XM-SM"),
    ] {
        api.ok(token, &format!("c-{fund}"), json!({"CommitAppropriation": {"fund": fund, "tier": "County", "amount": "100000.00", "reference": "闽财 2021-1"}}));
        api.ok(token, &format!("r-{fund}"), json!({"ReceiveAppropriation": {"fund": fund, "tier": "County", "amount": "100000.00", "reference": null}}));
        api.ok(token, &format!("b-{fund}"), json!({"RegisterBeneficiary": {"beneficiary": who, "unit": county, "kind": "Person", "categories": ["PoorHousehold"]}}));
    }
    Setup {
        api,
        clerk_sx,
        clerk_xm,
        auditor,
    }
}

#[test]
fn staff_record_and_read_within_their_roles_and_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let admin = init(&data);
    let server = serve(&data);
    let s = setup(&server, &admin);
    let api = &s.api;

    // A clerk records a grant and reads the balance back, money as decimal strings.
    let paid = api.ok(
        &s.clerk_sx,
        "grant-1",
        grant("HP-SX", "b-000001", "1234.56"),
    );
    let balance = api.get(&s.clerk_sx, "/api/v1/funds/HP-SX/balance");
    assert_eq!(balance.status, 200, "{}", balance.body);
    assert_eq!(balance.body["figures"]["available"], "98765.44");
    assert_eq!(balance.body["figures"]["disbursed"], "1234.56");
    assert_eq!(balance.body["budget_execution_rate"], "1.23");
    let before = api.get(&s.clerk_sx, "/api/v1/funds/HP-SX/balance?as_of=2021-06-29");
    assert_eq!(
        before.body["figures"]["available"], "0.00",
        "{}",
        before.body
    );
    let at = paid.body["first_position"].as_u64().unwrap();
    let just_before = api.get(
        &s.clerk_sx,
        &format!("/api/v1/funds/HP-SX/balance?at_position={}", at - 1),
    );
    assert_eq!(
        just_before.body["figures"]["available"], "100000.00",
        "{}",
        just_before.body
    );

    // A retry with the same key is the original answer; another body is a 422.
    let retry = api.command(
        &s.clerk_sx,
        "grant-1",
        grant("HP-SX", "b-000001", "1234.56"),
    );
    assert_eq!((retry.status, &retry.body), (201, &paid.body));
    assert!(retry.replayed);
    let other = api.command(&s.clerk_sx, "grant-1", grant("HP-SX", "b-000001", "99.00"));
    problem(&other, 422, "command_id_conflict");

    // One county's clerk can neither record nor read the other county's fund.
    problem(
        &api.command(&s.clerk_sx, "x-1", grant("HP-XM", "b-000002", "10.00")),
        403,
        "out_of_scope",
    );
    problem(
        &api.get(&s.clerk_sx, "/api/v1/funds/HP-XM/balance"),
        403,
        "out_of_scope",
    );
    problem(
        &api.get(&s.clerk_sx, "/api/v1/audit?fund=HP-XM"),
        403,
        "out_of_scope",
    );
    let visible = api.get(&s.clerk_sx, "/api/v1/funds");
    assert_eq!(
        visible.body["funds"].as_array().unwrap().len(),
        1,
        "{}",
        visible.body
    );

    // An auditor reads everything and can never write.
    problem(
        &api.command(&s.auditor, "a-1", grant("HP-SX", "b-000001", "10.00")),
        403,
        "not_permitted",
    );
    let xm = api.get(&s.auditor, "/api/v1/funds/HP-XM/balance");
    assert_eq!(xm.body["figures"]["received"], "100000.00");
    let trail = api.get(&s.auditor, "/api/v1/audit?command_id=grant-1");
    let items = trail.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", trail.body);
    assert_eq!(items[0]["actor"], "clerk-sx");
    assert_eq!(items[0]["hash"].as_str().unwrap().len(), 64);
    // The trail of a key narrowed to a range of effective dates, paged.
    let july = api.post(
        &s.clerk_sx,
        "grant-july",
        "/api/v1/commands",
        &json!({"command": grant("HP-SX", "b-000001", "10.00"), "effective_date": "2021-07-15"}),
    );
    assert_eq!(july.status, 201, "{}", july.body);
    let in_july = api.get(
        &s.auditor,
        "/api/v1/audit?fund=HP-SX&from=2021-07-01&to=2021-07-31",
    );
    assert_eq!(in_july.body["total"], 1, "{}", in_july.body);
    assert_eq!(
        in_july.body["items"][0]["position"],
        july.body["first_position"]
    );
    let all = api.get(&s.auditor, "/api/v1/audit?fund=HP-SX");
    let june = api.get(
        &s.auditor,
        "/api/v1/audit?fund=HP-SX&to=2021-06-30&offset=1&limit=2",
    );
    let total = all.body["total"].as_u64().unwrap();
    assert_eq!(june.body["total"], total - 1, "{}", june.body);
    assert_eq!(june.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(june.body["items"][0], all.body["items"][1]);
    assert_eq!(june.body["next_offset"], 3);
    problem(
        &api.get(&s.clerk_sx, "/api/v1/audit?fund=HP-SX&actor=clerk-sx"),
        400,
        "audit_key_conflict",
    );
    let verify = api.get(&s.auditor, "/api/v1/verify");
    assert_eq!(verify.body["intact"], true, "{}", verify.body);
    problem(
        &api.get(&s.clerk_xm, "/api/v1/verify"),
        403,
        "not_permitted",
    );

    // Statement and pending approvals.
    let statement = api.get(&s.clerk_sx, "/api/v1/funds/HP-SX/statement?year=2021");
    assert_eq!(statement.status, 200, "{}", statement.body);
    // Appropriation committed and received, the June grant and the July one.
    assert_eq!(statement.body["lines"]["total"], 4, "{}", statement.body);
    let big = api.ok(
        &s.clerk_sx,
        "grant-big",
        grant("HP-SX", "b-000001", "60000.00"),
    );
    let pending = api.get(&s.clerk_sx, "/api/v1/requests");
    assert_eq!(
        pending.body["requests"][0]["request"],
        big.body["first_position"]
    );
    assert_eq!(pending.body["requests"][0]["reserved"], "60000.00");
}

#[test]
fn a_group_of_commands_is_recorded_all_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let admin = init(&data);
    let server = serve(&data);
    let s = setup(&server, &admin);
    let api = &s.api;
    let group = |amounts: &[&str]| {
        let commands: Vec<serde_json::Value> = amounts
            .iter()
            .map(|a| json!({"command": grant("HP-SX", "b-000001", a), "effective_date": "2021-06-30", "memo": "第十七批"}))
            .collect();
        json!({ "commands": commands })
    };
    let available = || {
        api.get(&s.clerk_sx, "/api/v1/funds/HP-SX/balance").body["figures"]["available"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let head = || api.get(&s.auditor, "/api/v1/verify").body["head_position"].clone();
    let before = head();

    // ¥105,000 of ¥100,000: the third grant is refused, and so are the first two.
    let refused = api.post(
        &s.clerk_sx,
        "g-1",
        "/api/v1/command-groups",
        &group(&["30000.00", "30000.00", "45000.00"]),
    );
    problem(&refused, 422, "insufficient_funds");
    assert_eq!(refused.body["command_index"], 2, "{}", refused.body);
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("command 3 of the group: "),
        "{}",
        refused.body
    );
    assert_eq!(available(), "100000.00");
    assert_eq!(head(), before);

    // A group that fits: one answer per command, ids `{key}.{i}`, consecutive positions.
    let recorded = api.post(
        &s.clerk_sx,
        "g-2",
        "/api/v1/command-groups",
        &group(&["30000.00", "30000.00"]),
    );
    assert_eq!(recorded.status, 201, "{}", recorded.body);
    let commands = recorded.body["commands"].as_array().unwrap();
    assert_eq!(commands.len(), 2);
    assert_eq!(commands[0]["command_id"], "g-2.1");
    assert_eq!(commands[1]["command_id"], "g-2.2");
    assert_eq!(
        commands[1]["first_position"].as_u64().unwrap(),
        commands[0]["first_position"].as_u64().unwrap() + 1
    );
    assert_eq!(available(), "40000.00");
    let retry = api.post(
        &s.clerk_sx,
        "g-2",
        "/api/v1/command-groups",
        &group(&["30000.00", "30000.00"]),
    );
    assert_eq!((retry.status, &retry.body), (201, &recorded.body));
    assert!(retry.replayed);
    assert_eq!(available(), "40000.00");

    // Out of scope, empty, an erasure: refused, nothing recorded.
    let after = head();
    let foreign = api.post(
        &s.clerk_xm,
        "g-3",
        "/api/v1/command-groups",
        &group(&["1.00"]),
    );
    problem(&foreign, 403, "out_of_scope");
    assert_eq!(foreign.body["command_index"], 0);
    let empty = api.post(
        &s.clerk_sx,
        "g-4",
        "/api/v1/command-groups",
        &json!({"commands": []}),
    );
    problem(&empty, 400, "invalid_group");
    let erasure = api.post(
        &s.clerk_sx,
        "g-5",
        "/api/v1/command-groups",
        &json!({"commands": [{"command": {"EraseBeneficiary": {"beneficiary": "b-000001", "reason": "请求删除"}}}]}),
    );
    problem(&erasure, 400, "invalid_group");
    assert_eq!(head(), after);
}

#[test]
fn every_error_class_is_problem_json_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let admin = init(&data);
    let server = serve(&data);
    let s = setup(&server, &admin);
    let api = &s.api;
    let head = |api: &Api| api.get(&s.auditor, "/api/v1/verify").body["head_position"].clone();
    let events = head(api);

    let base = &server.base;
    problem(
        &call("GET", &format!("{base}/api/v1/me"), None, None, None),
        401,
        "token_missing",
    );
    problem(
        &call(
            "GET",
            &format!("{base}/api/v1/me"),
            Some("wlt_forged"),
            None,
            None,
        ),
        401,
        "token_unknown",
    );
    problem(
        &call(
            "POST",
            &format!("{base}/api/v1/commands"),
            Some(&s.clerk_sx),
            None,
            Some("{}"),
        ),
        400,
        "idempotency_key_missing",
    );
    let post = |body: &str| {
        call(
            "POST",
            &format!("{base}/api/v1/commands"),
            Some(&s.clerk_sx),
            Some("bad"),
            Some(body),
        )
    };
    problem(&post("{not json"), 400, "invalid_body");
    problem(
        &post(&json!({"command": grant("HP-SX", "b-000001", "12.345")}).to_string()),
        400,
        "invalid_body",
    );
    problem(
        &post(&json!({"command": grant("HP-SX", "b-000001", "1e3")}).to_string()),
        400,
        "invalid_body",
    );
    problem(
        &post(&json!({"command": grant("HP-SX", "b-000001", "1.00"), "extra": 1}).to_string()),
        400,
        "invalid_body",
    );
    let huge = format!("{{\"memo\": \"{}\"}}", "x".repeat(300 * 1024));
    problem(
        &post_too_large(base, &s.clerk_sx, &huge),
        413,
        "body_too_large",
    );
    problem(
        &api.command(&s.clerk_sx, "over", grant("HP-SX", "b-000001", "100000.01")),
        422,
        "insufficient_funds",
    );
    problem(
        &api.command(&admin, "again", unit("FJ", "福建省", "Province", None)),
        409,
        "unit_exists",
    );
    // A command about another user who does not exist breaks a rule of its content
    // (like an unknown fund): 422, not the 403 of a caller who may not act.
    problem(
        &api.post(&admin, "t-ghost", "/api/v1/users/ghost/tokens", &json!({})),
        422,
        "unknown_user",
    );
    problem(
        &api.get(&s.auditor, "/api/v1/funds/NOPE/balance"),
        404,
        "unknown_fund",
    );
    problem(
        &api.get(&s.auditor, "/api/v1/nowhere"),
        404,
        "no_such_endpoint",
    );
    problem(
        &api.get(&s.auditor, "/api/v1/audit?fund=HP-SX&limit=5000"),
        400,
        "page_limit_invalid",
    );
    problem(
        &api.get(&s.auditor, "/api/v1/funds/HP-SX/balance?as_of=yesterday"),
        400,
        "invalid_query",
    );
    assert_eq!(head(api), events, "no error appended anything");

    let health = call("GET", &format!("{base}/health"), None, None, None);
    assert_eq!(health.body["status"], "ok");
    let metrics = call("GET", &format!("{base}/metrics"), None, None, None);
    let text = metrics.body.as_str().unwrap();
    for name in [
        "welfare_ledger_events_appended_total",
        "welfare_ledger_group_commit_seconds_bucket",
        "welfare_ledger_group_commit_commands_bucket",
        "welfare_ledger_command_queue_depth",
        "welfare_ledger_http_requests_total",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
}

#[cfg(unix)]
#[test]
fn sigterm_drains_and_the_ledger_verifies_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let admin = init(&data);
    let mut server = serve(&data);
    let s = setup(&server, &admin);
    s.api
        .ok(&s.clerk_sx, "g-1", grant("HP-SX", "b-000001", "500.00"));
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let out = ledger(&data, &["--json", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let server = serve(&data);
    let api = Api {
        base: server.base.clone(),
    };
    let balance = api.get(&s.clerk_sx, "/api/v1/funds/HP-SX/balance");
    assert_eq!(
        balance.body["figures"]["disbursed"], "500.00",
        "{}",
        balance.body
    );
}

/// A backup of the ledger a running server holds: `backup --server` streams the
/// whole-log export and rebuilds the ledger byte for byte while the server goes on
/// serving; the copy verifies to the head the server reports. Only auditors and
/// whole-ledger admins may export.
#[test]
fn a_backup_is_taken_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let admin = init(&data);
    let server = serve(&data);
    let s = setup(&server, &admin);
    s.api
        .ok(&s.clerk_sx, "g-1", grant("HP-SX", "b-000001", "500.00"));
    problem(
        &s.api.get(&s.clerk_sx, "/api/v1/export"),
        403,
        "not_permitted",
    );
    let health = call("GET", &format!("{}/health", server.base), None, None, None);
    let copy = dir.path().join("copy");
    let out = Command::new(env!("CARGO_BIN_EXE_welfare-ledger"))
        .arg("--data")
        .arg(&data)
        .args(["--json", "backup"])
        .arg(&copy)
        .args(["--server", &server.base, "--token", &s.auditor])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["head_hash"], health.body["head_hash"], "{report}");
    assert_eq!(report["events"], health.body["events"]);
    // The server kept serving; the copy is a ledger of its own that verifies.
    s.api
        .ok(&s.clerk_sx, "g-2", grant("HP-SX", "b-000001", "1.00"));
    let status = ledger(&copy, &["--json", "status"]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["head_hash"], health.body["head_hash"]);
    let verify = ledger(&copy, &["verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}
