//! Hostile and malformed input over HTTP, against the real `welfare-ledger serve` on
//! loopback. Every request is written byte for byte on its own TCP connection (no
//! client library that would normalise `..`, re-encode a path or refuse a bad header),
//! and each must get its documented status with an `application/problem+json` body
//! carrying its stable `code` (a few hostile requests that are valid get their normal
//! answer), and together they must append nothing: the log's head is the same before
//! and after. The cases: tokens that are expired, revoked, of a disabled user or
//! malformed; wrong JSON types and amounts in every odd spelling; bodies that are not
//! objects, have duplicate keys or nest 10,000 deep; wrong or missing Content-Type;
//! bad Idempotency-Keys; path traversal, NUL, invalid UTF-8, 10 KB and bidirectional
//! control characters in path segments; every wrong method on every kind of route;
//! bad dates, positions, pages and parameters in query strings. The mapping is
//! published in docs/RELIABILITY.md, with the number of cases.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use ledger_server::{new_token, token_digest};
use serde_json::{json, Value};

/// One request, as bytes on the wire.
struct Case {
    name: String,
    method: &'static str,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    /// The status and, for an error, the problem's code (`None`: a normal JSON answer).
    status: u16,
    code: Option<&'static str>,
}

/// Sends `request` on a fresh connection and reads the whole answer (the request asks
/// the server to close the connection).
fn raw(base: &str, case: &Case) -> Answer {
    let address = base.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!(
        "{} {} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n",
        case.method, case.target
    )
    .into_bytes();
    for (name, value) in &case.headers {
        request.extend_from_slice(name.as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    if !case.body.is_empty() || case.method == "POST" {
        request.extend_from_slice(format!("Content-Length: {}\r\n", case.body.len()).as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(&case.body);
    stream.write_all(&request).unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    parse_answer(&bytes).unwrap_or_else(|| {
        panic!(
            "{}: not an HTTP answer: {:?}",
            case.name,
            String::from_utf8_lossy(&bytes)
        )
    })
}

fn parse_answer(bytes: &[u8]) -> Option<Answer> {
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..split]).ok()?;
    let mut body = bytes[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    if header("transfer-encoding").as_deref() == Some("chunked") {
        body = dechunk(&body)?;
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    Some(Answer {
        status,
        content_type: header("content-type").unwrap_or_default(),
        replayed: header("idempotent-replayed").as_deref() == Some("true"),
        body: serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone())),
        headers,
        text,
    })
}

fn dechunk(mut bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = bytes.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&bytes[..line_end]).ok()?, 16).ok()?;
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(bytes.get(..size)?);
        bytes = bytes.get(size + 2..)?;
    }
}

/// The ledger the cases run against, and the tokens they use.
struct Tokens {
    admin: String,
    clerk: String,
    auditor: String,
    expired: String,
    revoked: String,
    disabled: String,
}

/// A county with a funded grant fund and a beneficiary; a clerk and an auditor; and
/// three tokens that sign no one in: one that expired on 2021-07-01 (recorded by the
/// admin as issued on 2021-06-30, the only honest way to hold an expired token while
/// the server runs on the system clock; `crates/server/tests/token_clock.rs` moves a
/// clock across the boundary), one revoked, and one of a user who was disabled.
fn setup(api: &Api, admin: &str) -> Tokens {
    api.ok(admin, "u1", unit("FJ", "福建省", "Province", None));
    api.ok(admin, "u2", unit("FJ-SM", "三明市", "City", Some("FJ")));
    api.ok(
        admin,
        "u3",
        unit("FJ-SM-SX", "沙县区", "County", Some("FJ-SM")),
    );
    api.ok(
        admin,
        "f-HP-SX",
        json!({"OpenFund": {"fund": "HP-SX", "unit": "FJ-SM-SX", "programme": "HappinessProject",
            "name": "幸福工程", "fiscal_year": 2021, "approval_threshold": "50000.00", "insurance_model": null}}),
    );
    for (user, role, scope) in [
        ("clerk-sx", "clerk", Some("FJ-SM-SX")),
        ("clerk-gone", "clerk", Some("FJ-SM-SX")),
        ("auditor", "auditor", None),
    ] {
        api.ok(
            admin,
            &format!("user-{user}"),
            json!({"RegisterUser": {"user": user, "role": role, "scope": scope}}),
        );
    }
    let clerk = api.token_for(admin, "clerk-sx");
    let auditor = api.token_for(admin, "auditor");
    api.ok(&clerk, "c", json!({"CommitAppropriation": {"fund": "HP-SX", "tier": "County", "amount": "100000.00", "reference": null}}));
    api.ok(&clerk, "r", json!({"ReceiveAppropriation": {"fund": "HP-SX", "tier": "County", "amount": "100000.00", "reference": null}}));
    api.ok(&clerk, "b", json!({"RegisterBeneficiary": {"beneficiary": "b-000001", "unit": "FJ-SM-SX", "kind": "Person", "categories": ["PoorHousehold"]}}));
    api.ok(&clerk, "loan", json!({"DisburseLoan": {"loan": "L-0001", "fund": "HP-SX", "beneficiary": "b-000001",
        "tier": "County", "principal": "10000.00", "term_months": 12, "grace_months": 0, "annual_rate_bp": 0,
        "batch": null, "migrant": false}}));

    let expired = new_token();
    api.ok(
        admin,
        "token-expired",
        json!({"IssueToken": {"token": token_digest(&expired).to_hex(), "user": "clerk-sx", "expires_on": "2021-07-01"}}),
    );
    let revoked = new_token();
    let digest = token_digest(&revoked).to_hex();
    api.ok(
        admin,
        "token-revoked",
        json!({"IssueToken": {"token": digest, "user": "clerk-sx", "expires_on": null}}),
    );
    api.ok(
        admin,
        "revoke",
        json!({"RevokeToken": {"token": digest, "reason": "lost laptop"}}),
    );
    let disabled = api.token_for(admin, "clerk-gone");
    api.ok(
        admin,
        "disable",
        json!({"DisableUser": {"user": "clerk-gone", "reason": "left the association"}}),
    );
    Tokens {
        admin: admin.to_string(),
        clerk,
        auditor,
        expired,
        revoked,
        disabled,
    }
}

fn bearer(token: &str) -> (String, Vec<u8>) {
    (
        "Authorization".into(),
        format!("Bearer {token}").into_bytes(),
    )
}

fn header(name: &str, value: &[u8]) -> (String, Vec<u8>) {
    (name.into(), value.to_vec())
}

/// A grant whose amount (and share) is the given JSON text.
fn grant_with_amount(amount: &str) -> String {
    format!(
        r#"{{"command": {{"PayGrant": {{"fund": "HP-SX", "beneficiary": "b-000001", "modality": "Relief", "batch": null, "amount": {amount}, "shares": [{{"tier": "County", "amount": {amount}}}]}}}}}}"#
    )
}

/// A valid grant of ¥1.00 with `field` (JSON text) in place of the beneficiary.
fn grant_to(beneficiary: &str) -> String {
    format!(
        r#"{{"command": {{"PayGrant": {{"fund": "HP-SX", "beneficiary": {beneficiary}, "modality": "Relief", "batch": null, "amount": "1.00", "shares": [{{"tier": "County", "amount": "1.00"}}]}}}}}}"#
    )
}

/// Builds the cases; each POST gets an Idempotency-Key of its own.
struct Cases {
    tokens: Tokens,
    list: Vec<Case>,
}

impl Cases {
    fn push(
        &mut self,
        name: &str,
        method: &'static str,
        target: &str,
        headers: Vec<(String, Vec<u8>)>,
        body: &[u8],
        (status, code): (u16, Option<&'static str>),
    ) {
        self.list.push(Case {
            name: name.to_string(),
            method,
            target: target.to_string(),
            headers,
            body: body.to_vec(),
            status,
            code,
        });
    }

    /// A GET as the auditor.
    fn get(&mut self, name: &str, target: &str, status: u16, code: &'static str) {
        let auth = bearer(&self.tokens.auditor);
        self.push(name, "GET", target, vec![auth], b"", (status, Some(code)));
    }

    /// A POST of a command as the clerk, JSON, with a fresh key.
    fn post(&mut self, name: &str, body: &[u8], status: u16, code: &'static str) {
        let key = format!("hostile-{}", self.list.len());
        let headers = vec![
            bearer(&self.tokens.clerk),
            header("Idempotency-Key", key.as_bytes()),
            header("Content-Type", b"application/json"),
        ];
        self.push(
            name,
            "POST",
            "/api/v1/commands",
            headers,
            body,
            (status, Some(code)),
        );
    }

    /// A request with a method the route does not serve.
    fn method(&mut self, method: &'static str, target: &str) {
        let auth = bearer(&self.tokens.auditor);
        self.push(
            &format!("{method} {target}"),
            method,
            target,
            vec![auth],
            b"",
            (405, Some("method_not_allowed")),
        );
    }
}

fn cases(tokens: Tokens) -> Vec<Case> {
    let mut c = Cases {
        tokens,
        list: Vec::new(),
    };
    let t = |c: &Cases, f: fn(&Tokens) -> &String| f(&c.tokens).clone();
    let ok_grant = grant_with_amount(r#""1.00""#);

    // ---- Tokens: each refused before anything is read or recorded.
    for (label, token, code) in [
        ("expired", t(&c, |t| &t.expired), "token_expired"),
        ("revoked", t(&c, |t| &t.revoked), "token_revoked"),
        (
            "of a disabled user",
            t(&c, |t| &t.disabled),
            "user_disabled",
        ),
        (
            "unknown, 10 KB long",
            format!("wlt_{}", "a".repeat(10_240)),
            "token_unknown",
        ),
    ] {
        c.push(
            &format!("GET with a token {label}"),
            "GET",
            "/api/v1/me",
            vec![bearer(&token)],
            b"",
            (401, Some(code)),
        );
        c.push(
            &format!("POST with a token {label}"),
            "POST",
            "/api/v1/commands",
            vec![
                bearer(&token),
                header("Idempotency-Key", b"k-token"),
                header("Content-Type", b"application/json"),
            ],
            ok_grant.as_bytes(),
            (401, Some(code)),
        );
    }
    let clerk = t(&c, |t| &t.clerk);
    for (label, value) in [
        (
            "Basic credentials",
            b"Basic Y2xlcmstc3g6cGFzc3dvcmQ=".to_vec(),
        ),
        ("Bearer without a token", b"Bearer".to_vec()),
        ("Bearer and spaces only", b"Bearer    ".to_vec()),
        (
            "a token alone, without the scheme",
            clerk.clone().into_bytes(),
        ),
        (
            "a token with a byte that is not ASCII",
            [b"Bearer wlt_".as_slice(), &[0xC3, 0xA9]].concat(),
        ),
    ] {
        c.push(
            &format!("Authorization: {label}"),
            "GET",
            "/api/v1/me",
            vec![header("Authorization", &value)],
            b"",
            (401, Some("token_malformed")),
        );
    }

    // ---- JSON types and amounts: 400 invalid_body, naming the field.
    for (label, amount) in [
        ("a JSON number", "12"),
        ("a JSON number with decimals", "12.50"),
        ("null", "null"),
        ("an object", "{}"),
        ("an array", r#"["12.00"]"#),
        ("true", "true"),
        ("negative", r#""-12.00""#),
        ("in exponent form", r#""1e3""#),
        ("with a leading space", r#"" 12.00""#),
        ("with a trailing space", r#""12.00 ""#),
        ("with a decimal comma", r#""12,00""#),
        ("with a thousands separator", r#""1,200.00""#),
        ("in full-width digits", r#""０１２.００""#),
        ("with a plus sign", r#""+12.00""#),
        ("with three decimals", r#""12.345""#),
        ("with a trailing point", r#""12.""#),
        ("with a leading point", r#""".50""#),
        ("with a currency sign", r#""¥12.00""#),
        ("in 万", r#""1.2万""#),
        ("empty", r#""""#),
        ("NaN", r#""NaN""#),
        ("Infinity", r#""Infinity""#),
        ("hexadecimal", r#""0x10""#),
        ("beyond the largest amount", r#""100000000000000000000.00""#),
        ("of 10,000 digits", &format!("\"{}\"", "9".repeat(10_000))),
    ] {
        c.post(
            &format!("an amount {label}"),
            grant_with_amount(amount).as_bytes(),
            400,
            "invalid_body",
        );
    }
    for (label, body) in [
        ("a fund id as a number", r#"{"command": {"PayGrant": {"fund": 12, "beneficiary": "b-000001", "modality": "Relief", "batch": null, "amount": "1.00", "shares": [{"tier": "County", "amount": "1.00"}]}}}"#.to_string()),
        ("shares as an object", r#"{"command": {"PayGrant": {"fund": "HP-SX", "beneficiary": "b-000001", "modality": "Relief", "batch": null, "amount": "1.00", "shares": {"tier": "County", "amount": "1.00"}}}}"#.to_string()),
        ("an unknown tier", r#"{"command": {"PayGrant": {"fund": "HP-SX", "beneficiary": "b-000001", "modality": "Relief", "batch": null, "amount": "1.00", "shares": [{"tier": "Galaxy", "amount": "1.00"}]}}}"#.to_string()),
        ("a command as an array", r#"{"command": []}"#.to_string()),
        ("a command as null", r#"{"command": null}"#.to_string()),
        ("a command as a string", r#"{"command": "PayGrant"}"#.to_string()),
        ("an unknown command", r#"{"command": {"StealMoney": {"fund": "HP-SX"}}}"#.to_string()),
        ("a command name in lower case", ok_grant.replace("PayGrant", "paygrant")),
        ("two commands in one", r#"{"command": {"RegisterUnit": {"unit": "X1", "name": "x", "level": "County", "parent": "FJ-SM"}, "RegisterUnit ": {}}}"#.to_string()),
        ("no command", r#"{"memo": "nothing"}"#.to_string()),
        ("an array", "[]".to_string()),
        ("an array of a command", format!("[{ok_grant}]")),
        ("null", "null".to_string()),
        ("a number", "42".to_string()),
        ("a string", r#""PayGrant""#.to_string()),
        ("empty", String::new()),
        ("whitespace", " \r\n\t ".to_string()),
        ("the key command twice", format!(r#"{{"command": {{"ReverseEvent": {{"position": 1, "reason": "x"}}}}, {}"#, &ok_grant[1..])),
        ("the key amount twice", ok_grant.replace(r#""amount": "1.00", "shares""#, r#""amount": "1.00", "amount": "9000.00", "shares""#)),
        ("10,000 nested arrays", "[".repeat(10_000)),
        ("10,000 nested objects", r#"{"a": "#.repeat(10_000)),
        ("a command of 10,000 nested arrays", format!(r#"{{"command": {}"#, "[".repeat(10_000))),
        ("a byte-order mark before the object", format!("\u{feff}{ok_grant}")),
        ("a second object after the first", format!("{ok_grant} {ok_grant}")),
        ("a trailing comma", ok_grant.replacen('}', ",}", 1)),
        ("single quotes", ok_grant.replace('"', "'")),
        ("a comment", format!("/* pay */ {ok_grant}")),
        ("an effective date of 30 February", ok_grant.replacen('{', r#"{"effective_date": "2021-02-30", "#, 1)),
        ("an effective date in month 13", ok_grant.replacen('{', r#"{"effective_date": "2021-13-01", "#, 1)),
        ("an effective date as a number", ok_grant.replacen('{', r#"{"effective_date": 20210630, "#, 1)),
        ("an effective date with a time", ok_grant.replacen('{', r#"{"effective_date": "2021-06-30T12:00:00", "#, 1)),
        ("a memo as a number", ok_grant.replacen('{', r#"{"memo": 7, "#, 1)),
        ("a beneficiary with a right-to-left override", grant_to("\"b-000001\u{202e}\"")),
        ("a beneficiary with a zero-width space", grant_to("\"b-0000\u{200b}01\"")),
        ("a beneficiary of 10 KB", grant_to(&format!("\"{}\"", "b".repeat(10_240)))),
        ("a beneficiary that is an ID-card number", grant_to("\"350402199001011234\"")),
        ("a beneficiary with a NUL", grant_to("\"b-000001\\u0000\"")),
        ("a beneficiary as ../", grant_to("\"../../etc/passwd\"")),
        ("a lone surrogate", grant_to("\"b-\\ud800\"")),
    ] {
        c.post(&format!("a body with {label}"), body.as_bytes(), 400, "invalid_body");
    }
    for (label, body, status, code) in [
        (
            "a memo with a NUL",
            ok_grant.replacen('{', r#"{"memo": "凭证\u0000", "#, 1),
            400,
            "invalid_input",
        ),
        (
            "a memo with a line break",
            ok_grant.replacen('{', r#"{"memo": "凭证\n2021", "#, 1),
            400,
            "invalid_input",
        ),
        (
            "a memo with a right-to-left override",
            ok_grant.replacen('{', r#"{"memo": "利息\u202e001", "#, 1),
            400,
            "invalid_input",
        ),
        (
            "a memo of 2 KB",
            ok_grant.replacen('{', &format!(r#"{{"memo": "{}", "#, "m".repeat(2_048)), 1),
            400,
            "invalid_input",
        ),
        (
            "an effective date in the future",
            ok_grant.replacen('{', r#"{"effective_date": "2999-01-01", "#, 1),
            422,
            "effective_date_in_future",
        ),
        (
            "a batch of 10 KB",
            ok_grant.replace(
                r#""batch": null"#,
                &format!(r#""batch": "{}""#, "批".repeat(3_400)),
            ),
            422,
            "text_invalid",
        ),
    ] {
        c.post(
            &format!("a body with {label}"),
            body.as_bytes(),
            status,
            code,
        );
    }
    c.post(
        "a body that is not UTF-8",
        &[
            br#"{"memo": ""#.as_slice(),
            &[0xFF, 0xFE],
            br#"", "#,
            &ok_grant.as_bytes()[1..],
        ]
        .concat(),
        400,
        "invalid_body",
    );

    // ---- Content-Type: the body is read as JSON whatever it says; what is not JSON is 400.
    let key = |n: &str| header("Idempotency-Key", format!("ct-{n}").as_bytes());
    for (label, content_type) in [
        ("text/plain", Some(b"text/plain".as_slice())),
        (
            "application/x-www-form-urlencoded",
            Some(b"application/x-www-form-urlencoded".as_slice()),
        ),
        (
            "multipart/form-data",
            Some(b"multipart/form-data; boundary=x".as_slice()),
        ),
        ("none", None),
    ] {
        let mut headers = vec![bearer(&clerk), key(label)];
        if let Some(ct) = content_type {
            headers.push(header("Content-Type", ct));
        }
        c.push(
            &format!("Content-Type {label} with a form body"),
            "POST",
            "/api/v1/commands",
            headers,
            b"command=PayGrant&fund=HP-SX&amount=1.00",
            (400, Some("invalid_body")),
        );
    }

    // ---- Idempotency-Key.
    let with_key = |c: &Cases, key: &[u8]| {
        vec![
            bearer(&c.tokens.clerk),
            header("Idempotency-Key", key),
            header("Content-Type", b"application/json"),
        ]
    };
    for (label, value, code) in [
        (
            "not ASCII",
            "凭证-1".as_bytes().to_vec(),
            "idempotency_key_invalid",
        ),
        ("empty", Vec::new(), "invalid_input"),
        ("of 10 KB", vec![b'k'; 10_240], "invalid_input"),
    ] {
        let headers = with_key(&c, &value);
        c.push(
            &format!("an Idempotency-Key {label}"),
            "POST",
            "/api/v1/commands",
            headers,
            ok_grant.as_bytes(),
            (400, Some(code)),
        );
    }

    // ---- Odd ids in path segments: 400 invalid_path, or no such endpoint.
    for (label, segment) in [
        ("../ encoded", "..%2F..%2Fetc%2Fpasswd"),
        ("..\\ encoded", "..%5C..%5Cwindows"),
        ("a NUL", "HP%00SX"),
        ("invalid UTF-8", "%FF%FE"),
        ("10 KB", &"F".repeat(10_240)),
        ("Chinese", "%E5%9F%BA%E9%87%91"),
        ("a right-to-left mark", "HP-SX%E2%80%8F"),
        ("a right-to-left override", "%E2%80%AEXS-PH"),
        ("a leading space", "%20HP-SX"),
        ("a percent sign", "HP%25SX"),
        ("a dot only", "."),
        ("dot-dot", ".."),
    ] {
        c.get(
            &format!("a fund id with {label}"),
            &format!("/api/v1/funds/{segment}/balance"),
            400,
            "invalid_path",
        );
    }
    c.get(
        "a raw ../ in the path",
        "/api/v1/funds/../../etc/passwd/balance",
        404,
        "no_such_endpoint",
    );
    c.get(
        "an empty fund id",
        "/api/v1/funds//balance",
        400,
        "invalid_path",
    );
    c.get(
        "a unit id with an encoded slash",
        "/api/v1/units/FJ%2FFJ-SM/programmes",
        400,
        "invalid_path",
    );
    c.get("a position of -1", "/api/v1/events/-1", 400, "invalid_path");
    c.get(
        "a position of 2^64",
        "/api/v1/events/18446744073709551616",
        400,
        "invalid_path",
    );
    c.get(
        "a position in exponent form",
        "/api/v1/events/1e3",
        400,
        "invalid_path",
    );
    c.get(
        "a position of 2^64 - 1",
        "/api/v1/events/18446744073709551615",
        404,
        "unknown_position",
    );
    let admin = t(&c, |t| &t.admin);
    c.push(
        "a user id of ../admin for a token",
        "POST",
        "/api/v1/users/..%2Fadmin/tokens",
        vec![bearer(&admin), header("Idempotency-Key", b"tok-traversal")],
        b"",
        (400, Some("invalid_path")),
    );

    // ---- Methods a route does not serve: 405 with Allow, as problem+json.
    for (method, target) in [
        ("PUT", "/api/v1/funds/HP-SX/balance"),
        ("DELETE", "/api/v1/funds/HP-SX/balance"),
        ("POST", "/api/v1/funds/HP-SX/balance"),
        ("PATCH", "/api/v1/audit"),
        ("DELETE", "/api/v1/events/1"),
        ("GET", "/api/v1/commands"),
        ("PUT", "/api/v1/commands"),
        ("DELETE", "/api/v1/commands"),
        ("GET", "/api/v1/users/clerk-sx/tokens"),
        ("DELETE", "/api/v1/users/clerk-sx/tokens"),
        ("OPTIONS", "/api/v1/me"),
        ("TRACE", "/api/v1/me"),
        ("POST", "/health"),
        ("DELETE", "/metrics"),
        ("PUT", "/openapi.json"),
    ] {
        c.method(method, target);
    }
    let auth = bearer(&c.tokens.auditor);
    c.push(
        "DELETE on no route",
        "DELETE",
        "/api/v1/nowhere",
        vec![auth],
        b"",
        (404, Some("no_such_endpoint")),
    );

    // ---- Query strings.
    for (label, target, status, code) in [
        (
            "as_of on 30 February",
            "/api/v1/funds/HP-SX/balance?as_of=2021-02-30",
            400,
            "invalid_query",
        ),
        (
            "as_of of 99999-01-01",
            "/api/v1/funds/HP-SX/balance?as_of=99999-01-01",
            400,
            "invalid_query",
        ),
        (
            "as_of with a bad escape",
            "/api/v1/funds/HP-SX/balance?as_of=%ZZ",
            400,
            "invalid_query",
        ),
        (
            "as_of twice",
            "/api/v1/funds/HP-SX/balance?as_of=2021-06-30&as_of=2021-07-01",
            400,
            "invalid_query",
        ),
        (
            "as_of and at_position",
            "/api/v1/funds/HP-SX/balance?as_of=2021-06-30&at_position=1",
            400,
            "as_of_conflict",
        ),
        (
            "at_position of -1",
            "/api/v1/funds/HP-SX/balance?at_position=-1",
            400,
            "invalid_query",
        ),
        (
            "at_position of 2^64",
            "/api/v1/funds/HP-SX/balance?at_position=18446744073709551616",
            400,
            "invalid_query",
        ),
        (
            "at_position of 2^64 - 1",
            "/api/v1/funds/HP-SX/balance?at_position=18446744073709551615",
            404,
            "unknown_position",
        ),
        (
            "at_position beyond the head",
            "/api/v1/funds/HP-SX/statement?at_position=1000000",
            404,
            "unknown_position",
        ),
        (
            "at_position as text",
            "/api/v1/funds/HP-SX/balance?at_position=head",
            400,
            "invalid_query",
        ),
        (
            "an unknown parameter",
            "/api/v1/funds/HP-SX/balance?admin=true",
            400,
            "invalid_query",
        ),
        (
            "a page of 0",
            "/api/v1/funds/HP-SX/statement?limit=0",
            400,
            "page_limit_invalid",
        ),
        (
            "an audit page of 0",
            "/api/v1/audit?fund=HP-SX&limit=0",
            400,
            "page_limit_invalid",
        ),
        (
            "a page of -1",
            "/api/v1/funds/HP-SX/statement?limit=-1",
            400,
            "invalid_query",
        ),
        (
            "a page of 2^32",
            "/api/v1/audit?fund=HP-SX&limit=4294967296",
            400,
            "invalid_query",
        ),
        (
            "an offset of -1",
            "/api/v1/audit?fund=HP-SX&offset=-1",
            400,
            "invalid_query",
        ),
        (
            "a year of 99999",
            "/api/v1/funds/HP-SX/statement?year=99999",
            400,
            "date_out_of_range",
        ),
        (
            "a year of -2021",
            "/api/v1/funds/HP-SX/statement?year=-2021",
            400,
            "date_out_of_range",
        ),
        (
            "a year of 2^31 - 1",
            "/api/v1/units/FJ/programmes?year=2147483647",
            400,
            "date_out_of_range",
        ),
        (
            "a year of 2^31",
            "/api/v1/units/FJ/programmes?year=2147483648",
            400,
            "invalid_query",
        ),
        (
            "a year and a from",
            "/api/v1/funds/HP-SX/statement?year=2021&from=2021-01-01",
            400,
            "range_conflict",
        ),
        (
            "from after to",
            "/api/v1/funds/HP-SX/statement?from=2021-12-31&to=2021-01-01",
            400,
            "date_range_reversed",
        ),
        (
            "from before 1980",
            "/api/v1/units/FJ/programmes?from=1900-01-01&to=2021-01-01",
            400,
            "date_out_of_range",
        ),
        (
            "an insurance line that does not exist",
            "/api/v1/units/FJ/insurance?line=Nope",
            400,
            "invalid_query",
        ),
        (
            "no insurance line",
            "/api/v1/units/FJ/insurance?year=2021",
            400,
            "line_missing",
        ),
        (
            "an audit without a key",
            "/api/v1/audit",
            400,
            "audit_key_missing",
        ),
        (
            "an audit fund of ../",
            "/api/v1/audit?fund=..%2F..%2Fetc",
            400,
            "invalid_query",
        ),
        (
            "an audit with two keys",
            "/api/v1/audit?fund=HP-SX&actor=clerk-sx",
            400,
            "audit_key_conflict",
        ),
        (
            "10 KB of parameters",
            &format!("/api/v1/funds/HP-SX/balance?{}", "x=1&".repeat(2_560)),
            400,
            "invalid_query",
        ),
    ] {
        c.get(&format!("a query with {label}"), target, status, code);
    }

    // ---- Issuing tokens.
    for (label, body, status, code) in [
        (
            "an expiry on 30 February",
            r#"{"expires_on": "2021-02-30"}"#,
            400,
            "invalid_body",
        ),
        (
            "an expiry in the past",
            r#"{"expires_on": "2020-01-01"}"#,
            422,
            "token_expiry_invalid",
        ),
        (
            "a role",
            r#"{"expires_on": null, "role": "admin"}"#,
            400,
            "invalid_body",
        ),
        ("an array", "[]", 400, "invalid_body"),
    ] {
        let admin = t(&c, |t| &t.admin);
        let key = format!("tok-{}", c.list.len());
        c.push(
            &format!("a token request with {label}"),
            "POST",
            "/api/v1/users/clerk-sx/tokens",
            vec![
                bearer(&admin),
                header("Idempotency-Key", key.as_bytes()),
                header("Content-Type", b"application/json"),
            ],
            body.as_bytes(),
            (status, Some(code)),
        );
    }

    // ---- Hostile but valid: answered normally, without error and without panic.
    let auth = bearer(&c.tokens.auditor);
    c.push(
        "a statement page at offset 2^64 - 1",
        "GET",
        "/api/v1/funds/HP-SX/statement?offset=18446744073709551615&limit=1000",
        vec![auth.clone()],
        b"",
        (200, None),
    );
    c.push(
        "an audit page at offset 2^64 - 1 narrowed to dates",
        "GET",
        "/api/v1/audit?fund=HP-SX&from=2021-01-01&offset=18446744073709551615&limit=1000",
        vec![auth.clone()],
        b"",
        (200, None),
    );
    c.push(
        "an audit by a command id of 10 KB",
        "GET",
        &format!("/api/v1/audit?command_id={}", "c".repeat(10_240)),
        vec![auth.clone()],
        b"",
        (200, None),
    );
    c.push(
        "a lower-case bearer scheme",
        "GET",
        "/api/v1/me",
        vec![header(
            "Authorization",
            format!("bearer {clerk}").as_bytes(),
        )],
        b"",
        (200, None),
    );
    // A `+` in a query is a space: the far future's sign is sent as %2B.
    for date in [
        "1000-01-01",
        "9999-12-31",
        "%2B262142-12-31",
        "-262143-01-01",
    ] {
        c.push(
            &format!("a loan report as of {date}"),
            "GET",
            &format!("/api/v1/funds/HP-SX/loans?as_of={date}"),
            vec![auth.clone()],
            b"",
            (200, None),
        );
        c.push(
            &format!("a balance as of {date}"),
            "GET",
            &format!("/api/v1/funds/HP-SX/balance?as_of={date}"),
            vec![auth.clone()],
            b"",
            (200, None),
        );
    }
    c.push(
        "HEAD on a read route",
        "HEAD",
        "/api/v1/me",
        vec![auth],
        b"",
        (200, None),
    );
    c.list
}

/// Requests that are not well-formed HTTP/1.1, as whole bytes: hyper's parser refuses
/// them before any of the server's code runs, with a bare status (no body) and the
/// connection closed, except a broken chunked body, which the server reads and answers
/// as problem+json.
struct Malformed {
    name: &'static str,
    bytes: Vec<u8>,
    status: u16,
    code: Option<&'static str>,
}

fn malformed(token: &str) -> Vec<Malformed> {
    let post = |headers: &str, body: &str| {
        format!(
            "POST /api/v1/commands HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: m-1\r\n{headers}\r\n{body}"
        )
        .into_bytes()
    };
    let get = |extra: &[u8]| {
        [
            format!("GET /api/v1/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n").as_bytes(),
            extra,
            b"\r\n",
        ]
        .concat()
    };
    let many_headers: String = (0..200).map(|i| format!("X-H{i}: {i}\r\n")).collect();
    vec![
        Malformed {
            name: "a control character in a header value",
            bytes: get(b"Idempotency-Key: a\x01b\r\n"),
            status: 400,
            code: None,
        },
        Malformed {
            name: "a header line without a colon",
            bytes: get(b"Idempotency-Key\r\n"),
            status: 400,
            code: None,
        },
        Malformed {
            name: "a space inside the request target",
            bytes: b"GET /api/v1/funds/HP SX/balance HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            status: 400,
            code: None,
        },
        Malformed {
            name: "a request line that is not HTTP",
            bytes: b"HELLO\r\n\r\n".to_vec(),
            status: 400,
            code: None,
        },
        Malformed {
            name: "a Content-Length that is not a number",
            bytes: post("Content-Length: ten\r\n", ""),
            status: 400,
            code: None,
        },
        Malformed {
            name: "two different Content-Lengths",
            bytes: post("Content-Length: 2\r\nContent-Length: 3\r\n", "{}"),
            status: 400,
            code: None,
        },
        Malformed {
            name: "a header section of 1 MB",
            bytes: get(format!("X-Big: {}\r\n", "b".repeat(1 << 20)).as_bytes()),
            status: 431,
            code: None,
        },
        Malformed {
            name: "200 headers",
            bytes: get(many_headers.as_bytes()),
            status: 431,
            code: None,
        },
        Malformed {
            name: "a chunked body with a chunk size that is not hexadecimal",
            bytes: post("Transfer-Encoding: chunked\r\n", "zz\r\n{}\r\n0\r\n\r\n"),
            status: 400,
            code: Some("invalid_body"),
        },
    ]
}

#[test]
fn hostile_requests_get_their_status_as_problem_json_and_append_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let admin = init(&data);
    let server = serve(&data);
    let api = Api {
        base: server.base.clone(),
    };
    let tokens = setup(&api, &admin);
    let auditor = tokens.auditor.clone();
    let clerk = tokens.clerk.clone();
    let head = |api: &Api| {
        let verify = api.get(&auditor, "/api/v1/verify");
        assert_eq!(verify.body["intact"], true, "{}", verify.body);
        verify.body["head_position"].as_u64().unwrap()
    };
    let before = head(&api);

    let cases = cases(tokens);
    let mut failures = Vec::new();
    for case in &cases {
        let answer = raw(&server.base, case);
        let wrong = match case.code {
            Some(code) => {
                answer.status != case.status
                    || answer.content_type != "application/problem+json"
                    || answer.body["code"] != code
                    || answer.body["status"] != case.status
                    || answer.body["detail"].as_str().is_none_or(str::is_empty)
                    || answer.body["type"] != format!("/problems/{code}")
            }
            None => answer.status != case.status || answer.content_type.contains("problem"),
        };
        println!(
            "{:>3} {:<24} {}",
            case.status,
            case.code.unwrap_or("(answered)"),
            case.name
        );
        if wrong {
            failures.push(format!(
                "{}: expected {} {:?}, got {} {} {}",
                case.name,
                case.status,
                case.code,
                answer.status,
                answer.content_type,
                answer.text.chars().take(300).collect::<String>()
            ));
        }
        if case.status == 401 && answer.status == 401 {
            let challenge = answer.headers.iter().find(|(n, _)| n == "www-authenticate");
            if challenge.is_none() {
                failures.push(format!("{}: a 401 without WWW-Authenticate", case.name));
            }
        }
        if case.status == 405 && answer.status == 405 {
            let allow = answer.headers.iter().find(|(n, _)| n == "allow");
            if allow.is_none_or(|(_, v)| v.is_empty()) {
                failures.push(format!("{}: a 405 without Allow", case.name));
            }
        }
    }
    let malformed = malformed(&clerk);
    for case in &malformed {
        let address = server.base.strip_prefix("http://").unwrap();
        let mut stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // The server may answer and close before it has read all of a large request.
        let _ = stream.write_all(&case.bytes);
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        let answer = parse_answer(&bytes);
        let right = answer.as_ref().is_some_and(|a| {
            a.status == case.status
                && match case.code {
                    Some(code) => {
                        a.content_type == "application/problem+json" && a.body["code"] == code
                    }
                    None => a.text.is_empty(),
                }
        });
        println!(
            "{:>3} {:<24} {}",
            case.status,
            case.code.unwrap_or("(no body)"),
            case.name
        );
        if !right {
            failures.push(format!(
                "{}: expected {} {:?}, got {:?}",
                case.name,
                case.status,
                case.code,
                String::from_utf8_lossy(&bytes)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases answered wrongly:\n{}",
        failures.len(),
        cases.len() + malformed.len(),
        failures.join("\n")
    );
    assert_eq!(head(&api), before, "a hostile request appended something");
    // The number published in docs/RELIABILITY.md ("bad HTTP inputs tried").
    let tried = cases.len() + malformed.len();
    println!("{tried} hostile requests, none appended anything");
    assert!(tried >= 180, "{tried} cases");

    // The Content-Type is not checked: a valid command is recorded whatever it says
    // (docs/API.md, Conventions), so `curl -d` without a header works.
    let answer = raw(
        &server.base,
        &Case {
            name: "a valid command sent as text/plain".into(),
            method: "POST",
            target: "/api/v1/commands".into(),
            headers: vec![
                bearer(&clerk),
                header("Idempotency-Key", b"plain-text-grant"),
                header("Content-Type", b"text/plain"),
            ],
            body: grant_with_amount(r#""1.00""#).into_bytes(),
            status: 201,
            code: None,
        },
    );
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert_eq!(head(&api), before + 1);

    // A token whose last day is today still works (the server's today, China Standard
    // Time).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let today = ledger_domain::business_date(
        chrono::DateTime::from_timestamp(i64::try_from(now.as_secs()).unwrap(), 0)
            .unwrap()
            .naive_utc(),
    );
    let issued = api.post(
        &admin,
        "token-today",
        "/api/v1/users/clerk-sx/tokens",
        &json!({"expires_on": today.to_string()}),
    );
    assert_eq!(issued.status, 201, "{}", issued.body);
    let me = api.get(issued.body["token"].as_str().unwrap(), "/api/v1/me");
    assert_eq!(me.status, 200, "{}", me.body);
}
