//! The API's description, `/openapi.json`, against the code and the running server.
//!
//! The description is generated from the handlers' attributes; the router is built from
//! `ledger_server::ROUTES`. Fetched from the real binary, the description must be
//! OpenAPI 3.x, describe every route of `ROUTES` with its method and no other, give
//! every authenticated operation the bearer scheme, a 401 and problem+json errors, and
//! every write the Idempotency-Key header. Each route of `ROUTES` is then called on the
//! server, which must not answer `no_such_endpoint` (so the list is the router's).
//! Finally the JSON bodies of tests/http.rs must satisfy the Command request schema, and
//! real answers of every read must satisfy their response schemas (tests/common).

mod common;

use std::collections::BTreeSet;

use common::{call_with_headers as call, check, request_schema, response_schema, start, Answer};
use serde_json::{json, Value};

fn spec(base: &str) -> Value {
    let answer = call("GET", &format!("{base}/openapi.json"), &[], None);
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(answer.content_type.starts_with("application/json"));
    let spec: Value = serde_json::from_str(&answer.text).expect("the description is JSON");
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "{}",
        spec["openapi"]
    );
    spec
}

#[test]
fn every_route_is_described_with_its_methods_and_nothing_else() {
    let server = start();
    let spec = spec(&server.base);
    let routes: BTreeSet<(String, String)> = ledger_server::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let mut described = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            described.insert((method.clone(), path.clone()));
            let errors = operation["responses"].as_object().unwrap();
            for (status, response) in errors.iter().filter(|(s, _)| s.as_str() >= "400") {
                let content = response["content"].as_object();
                assert!(
                    content.is_some_and(|c| c.contains_key("application/problem+json")),
                    "{method} {path} {status} is not problem+json"
                );
            }
            if path.starts_with("/api/") {
                assert_eq!(
                    operation["security"],
                    json!([{"bearer": []}]),
                    "{method} {path} must name the bearer scheme"
                );
                assert!(errors.contains_key("401"), "{method} {path} lacks a 401");
            } else {
                assert!(operation.get("security").is_none(), "{method} {path}");
            }
            // Every POST that records in the log takes an Idempotency-Key; rotating the
            // master key records nothing there (a repeat is refused as the same key).
            if method == "post" && path != "/api/v1/registry/rotation" {
                let header = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["name"] == "Idempotency-Key");
                assert!(
                    header.is_some_and(|h| h["in"] == "header" && h["required"] == true),
                    "{method} {path} must document a required Idempotency-Key header"
                );
            }
        }
    }
    let undocumented: Vec<_> = routes.difference(&described).collect();
    assert!(
        undocumented.is_empty(),
        "routes without a description (add #[utoipa::path] and list it in openapi.rs): {undocumented:?}"
    );
    let phantom: Vec<_> = described.difference(&routes).collect();
    assert!(phantom.is_empty(), "described but not routed: {phantom:?}");
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for status in ["400", "401", "403", "404", "409", "413", "422", "503"] {
        assert!(
            spec["paths"]
                .as_object()
                .unwrap()
                .values()
                .flat_map(|item| item.as_object().unwrap().values())
                .any(|op| op["responses"].get(status).is_some()),
            "no operation documents {status}"
        );
    }

    // Each route of ROUTES is served by the router (not the fallback), and a call
    // without a token is refused as the description says.
    for (method, path) in ledger_server::ROUTES {
        let concrete = path
            .replace("{fund}", "HP-SX")
            .replace("{unit}", "FJ")
            .replace("{user}", "nobody")
            .replace("{position}", "0");
        let answer = call(
            &method.to_uppercase(),
            &format!("{}{concrete}", server.base),
            &[],
            (*method == "post").then_some("{}"),
        );
        assert_ne!(answer.body["code"], "no_such_endpoint", "{method} {path}");
        assert_ne!(answer.status, 405, "{method} {path}");
        let described = &spec["paths"][path][method]["responses"][answer.status.to_string()];
        assert!(
            !described.is_null(),
            "{method} {path} answered {} without a token, which the description does not list",
            answer.status
        );
    }
}

fn auth(token: &str) -> Vec<(String, String)> {
    vec![("Authorization".into(), format!("Bearer {token}"))]
}

fn post(base: &str, token: &str, key: &str, path: &str, body: &Value) -> Answer {
    let mut headers = auth(token);
    headers.push(("Idempotency-Key".into(), key.into()));
    headers.push(("Content-Type".into(), "application/json".into()));
    call(
        "POST",
        &format!("{base}{path}"),
        &headers,
        Some(&body.to_string()),
    )
}

fn assert_matches(spec: &Value, method: &str, path: &str, answer: &Answer) {
    let schema = response_schema(spec, method, path, answer.status).unwrap_or_else(|| {
        panic!(
            "{method} {path} answered {} which has no JSON schema: {}",
            answer.status, answer.text
        )
    });
    let errors = check(spec, schema, &answer.body);
    assert!(
        errors.is_empty(),
        "{method} {path} ({}): {errors:#?}\n{}",
        answer.status,
        answer.body
    );
}

#[test]
fn request_bodies_and_real_answers_match_the_schemas() {
    let server = start();
    let base = &server.base;
    let admin = &server.admin;
    let spec = spec(base);
    let commands_schema = request_schema(&spec, "post", "/api/v1/commands").unwrap();

    // The commands tests/http.rs and docs/API.md send, and a few of every shape.
    let commands = [
        json!({"RegisterUnit": {"unit": "FJ", "name": "福建省", "level": "Province", "parent": null}}),
        json!({"RegisterUnit": {"unit": "FJ-SM", "name": "三明市", "level": "City", "parent": "FJ"}}),
        json!({"RegisterUnit": {"unit": "FJ-SM-SX", "name": "沙县区", "level": "County", "parent": "FJ-SM"}}),
        json!({"OpenFund": {"fund": "HP-SX", "unit": "FJ-SM-SX", "programme": "HappinessProject",
            "name": "幸福工程", "fiscal_year": 2021, "approval_threshold": "50000.00", "insurance_model": null}}),
        json!({"RegisterUser": {"user": "clerk-sx", "role": "clerk", "scope": "FJ-SM-SX"}}),
        json!({"RegisterUser": {"user": "auditor", "role": "auditor", "scope": null}}),
        json!({"CommitAppropriation": {"fund": "HP-SX", "tier": "County", "amount": "100000.00", "reference": "闽财 2021-1"}}),
        json!({"ReceiveAppropriation": {"fund": "HP-SX", "tier": "County", "amount": "100000.00", "reference": null}}),
        json!({"RegisterBeneficiary": {"beneficiary": "b-000001", "unit": "FJ-SM-SX", "kind": "Person", "categories": ["PoorHousehold"]}}),
        json!({"PayGrant": {"fund": "HP-SX", "beneficiary": "b-000001", "modality": "Relief", "batch": "第十七批",
            "amount": "1234.56", "shares": [{"tier": "County", "amount": "1234.56"}]}}),
        json!({"DisburseLoan": {"loan": "L-1", "fund": "HP-SX", "beneficiary": "b-000001", "tier": "County",
            "principal": "5000.00", "term_months": 12, "grace_months": 0, "annual_rate_bp": 0, "batch": null, "migrant": false}}),
        json!({"ClosePeriod": {"unit": "FJ", "period": {"Month": {"year": 2021, "month": 5}}}}),
    ];
    let admin_only = 6;
    for (i, command) in commands.iter().enumerate() {
        let body =
            json!({"command": command, "effective_date": "2021-06-30", "memo": "凭证 2021-06"});
        let errors = check(&spec, commands_schema, &body);
        assert!(errors.is_empty(), "{command}: {errors:#?}");
        let token = if i < admin_only {
            admin.clone()
        } else {
            String::new()
        };
        if i < admin_only {
            let a = post(base, &token, &format!("k{i}"), "/api/v1/commands", &body);
            assert_eq!(a.status, 201, "{}", a.text);
            assert_matches(&spec, "post", "/api/v1/commands", &a);
        }
    }
    // What the schema refuses, the server refuses too.
    for bad in [
        json!({"command": {"PayGrant": {"fund": "HP-SX", "beneficiary": "b-000001", "modality": "Relief", "batch": null,
            "amount": "12.345", "shares": [{"tier": "County", "amount": "12.345"}]}}}),
        json!({"command": {"RegisterUnit": {"unit": "X", "name": "x", "level": "Planet", "parent": null}}}),
        json!({"command": {"NoSuchCommand": {}}}),
    ] {
        assert!(!check(&spec, commands_schema, &bad).is_empty(), "{bad}");
        let a = post(base, admin, "bad", "/api/v1/commands", &bad);
        assert_eq!(a.status, 400, "{}", a.text);
        assert_matches(&spec, "post", "/api/v1/commands", &a);
    }

    let token = |user: &str| {
        let a = post(
            base,
            admin,
            &format!("t-{user}"),
            &format!("/api/v1/users/{user}/tokens"),
            &json!({}),
        );
        assert_eq!(a.status, 201, "{}", a.text);
        assert_matches(&spec, "post", "/api/v1/users/{user}/tokens", &a);
        a.body["token"].as_str().unwrap().to_string()
    };
    let clerk = token("clerk-sx");
    let auditor = token("auditor");
    for (i, command) in commands.iter().enumerate().skip(admin_only) {
        let body =
            json!({"command": command, "effective_date": "2021-06-30", "memo": "凭证 2021-06"});
        let who = if matches!(
            command.as_object().unwrap().keys().next().unwrap().as_str(),
            "ClosePeriod"
        ) {
            admin
        } else {
            &clerk
        };
        let a = post(base, who, &format!("k{i}"), "/api/v1/commands", &body);
        assert!(matches!(a.status, 201 | 403 | 422), "{}", a.text);
        assert_matches(&spec, "post", "/api/v1/commands", &a);
    }
    let big = json!({"command": {"PayGrant": {"fund": "HP-SX", "beneficiary": "b-000001", "modality": "Health", "batch": null,
        "amount": "60000.00", "shares": [{"tier": "County", "amount": "60000.00"}]}}, "effective_date": "2021-07-01"});
    assert_eq!(
        post(base, &clerk, "big", "/api/v1/commands", &big).status,
        201
    );

    // Every read, answered for real, against its schema; and some refusals.
    let reads = [
        (&clerk, "/api/v1/me", "/api/v1/me"),
        (&clerk, "/api/v1/funds", "/api/v1/funds"),
        (
            &clerk,
            "/api/v1/funds/HP-SX/balance",
            "/api/v1/funds/{fund}/balance",
        ),
        (
            &clerk,
            "/api/v1/funds/HP-SX/balance?as_of=2021-06-30",
            "/api/v1/funds/{fund}/balance",
        ),
        (
            &clerk,
            "/api/v1/funds/HP-SX/balance?at_position=3",
            "/api/v1/funds/{fund}/balance",
        ),
        (
            &clerk,
            "/api/v1/funds/HP-SX/statement?year=2021&limit=2",
            "/api/v1/funds/{fund}/statement",
        ),
        (
            &clerk,
            "/api/v1/funds/HP-SX/loans?as_of=2022-06-30",
            "/api/v1/funds/{fund}/loans",
        ),
        (
            &clerk,
            "/api/v1/units/FJ-SM-SX/programmes?year=2021",
            "/api/v1/units/{unit}/programmes",
        ),
        (
            &auditor,
            "/api/v1/units/FJ/insurance?line=HouseholdAccident&year=2021",
            "/api/v1/units/{unit}/insurance",
        ),
        (
            &auditor,
            "/api/v1/units/FJ/loans?as_of=2021-12-31",
            "/api/v1/units/{unit}/loans",
        ),
        (&clerk, "/api/v1/requests", "/api/v1/requests"),
        (
            &auditor,
            "/api/v1/audit?fund=HP-SX&from=2021-06-01&to=2021-06-30",
            "/api/v1/audit",
        ),
        (
            &auditor,
            "/api/v1/audit?from=2021-01-01&to=2021-12-31&limit=3",
            "/api/v1/audit",
        ),
        (&auditor, "/api/v1/events/0", "/api/v1/events/{position}"),
        (&clerk, "/api/v1/events/9", "/api/v1/events/{position}"),
        (&auditor, "/api/v1/verify", "/api/v1/verify"),
        (&clerk, "/api/v1/verify", "/api/v1/verify"),
        (
            &clerk,
            "/api/v1/funds/NOPE/balance",
            "/api/v1/funds/{fund}/balance",
        ),
        (
            &auditor,
            "/api/v1/funds/NOPE/balance",
            "/api/v1/funds/{fund}/balance",
        ),
        (
            &auditor,
            "/api/v1/audit?limit=5000&fund=HP-SX",
            "/api/v1/audit",
        ),
        (
            &auditor,
            "/api/v1/units/FJ/insurance",
            "/api/v1/units/{unit}/insurance",
        ),
    ];
    for (token, url, path) in reads {
        let a = call("GET", &format!("{base}{url}"), &auth(token), None);
        assert_matches(&spec, "get", path, &a);
    }
    let health = call("GET", &format!("{base}/health"), &[], None);
    assert_matches(&spec, "get", "/health", &health);

    // The checker is not blind: a money figure as a number, a missing field or an
    // undocumented one in a real answer fail.
    let a = call(
        "GET",
        &format!("{base}/api/v1/funds/HP-SX/balance"),
        &auth(&clerk),
        None,
    );
    let schema = response_schema(&spec, "get", "/api/v1/funds/{fund}/balance", 200).unwrap();
    assert!(check(&spec, schema, &a.body).is_empty());
    for spoil in [
        |b: &mut Value| b["figures"]["available"] = json!(98765.44),
        |b: &mut Value| b["figures"]["available"] = json!("98765.4"),
        |b: &mut Value| {
            b["figures"].as_object_mut().unwrap().remove("available");
        },
        |b: &mut Value| b["figures"]["surplus"] = json!("1.00"),
        |b: &mut Value| b["budget_execution_rate"] = json!(1.23),
    ] {
        let mut body = a.body.clone();
        spoil(&mut body);
        assert!(!check(&spec, schema, &body).is_empty(), "{body}");
    }
}
