//! Helpers shared by the end-to-end tests: the real binary in a temporary data
//! directory (CLI tests), a server on loopback and a small HTTP client that returns
//! status, headers and JSON whatever the status (HTTP tests).

#![allow(dead_code)] // each test file uses a different part

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{json, Map, Value};

/// A temporary ledger created with `init` (its admin is `admin`).
pub struct Ledger {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
}

impl Ledger {
    pub fn init() -> Ledger {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("ledger");
        ok(ledger(&data, &["init"]));
        Ledger { dir, data }
    }

    /// Runs the binary on this ledger without a user.
    pub fn run(&self, args: &[&str]) -> Output {
        ledger(&self.data, args)
    }

    /// Runs the binary on this ledger as `user`.
    pub fn run_as(&self, user: &str, args: &[&str]) -> Output {
        let mut all = vec!["--user", user];
        all.extend_from_slice(args);
        ledger(&self.data, &all)
    }

    /// A path inside the temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

pub fn ledger(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_welfare-ledger"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("WELFARE_LEDGER_USER")
        .env_remove("WELFARE_LEDGER_DATA")
        .output()
        .unwrap()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Asserts success, showing stderr otherwise.
pub fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "exit {:?}: {}{}",
        out.status.code(),
        stderr(&out),
        stdout(&out)
    );
    out
}

pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

/// The repository's root (for docs/).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The ledger docs/examples/payments.csv is written for (as in
/// crates/exchange/tests/common): Fujian and Sanming, one fund of each programme with
/// province and city cash, households H0001–H0005, loan L0001, housing award
/// SM-H-0001, bursary SM-B-0001 and campaign SM-2021-SPRING; clerk `clerk-sm`.
pub fn sanming() -> Ledger {
    let l = Ledger::init();
    let admin = |args: &[&str]| {
        ok(l.run_as("admin", args));
    };
    admin(&[
        "unit",
        "register",
        "FJ",
        "--name",
        "福建省",
        "--level",
        "province",
    ]);
    admin(&[
        "unit",
        "register",
        "FJ-SM",
        "--name",
        "三明市",
        "--level",
        "city",
        "--parent",
        "FJ",
    ]);
    admin(&[
        "user", "add", "clerk-sm", "--role", "clerk", "--scope", "FJ-SM",
    ]);
    let funds = [
        ("SM-2021-REV", "revolving", "50000.00"),
        ("SM-2021-HP", "happiness", "10000000.00"),
        ("SM-2021-HOUSING", "housing", "10000000.00"),
        ("SM-2021-BURSARY", "bursary", "10000000.00"),
        ("SM-2021-INS", "insurance", "10000000.00"),
        ("SM-2021-COND", "condolence", "10000000.00"),
    ];
    let clerk = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--effective-date", "2021-06-30"]);
        ok(l.run_as("clerk-sm", &all));
    };
    for (fund, programme, cash) in funds {
        let mut open = vec![
            "fund",
            "open",
            fund,
            "--unit",
            "FJ-SM",
            "--programme",
            programme,
            "--name",
            fund,
            "--fiscal-year",
            "2021",
        ];
        if programme == "insurance" {
            open.extend_from_slice(&["--insurance-model", "insurer"]);
        }
        admin(&open);
        for tier in ["province", "city"] {
            for verb in ["commit", "receive"] {
                clerk(&[
                    "appropriation",
                    verb,
                    "--fund",
                    fund,
                    "--tier",
                    tier,
                    "--amount",
                    cash,
                ]);
            }
        }
    }
    for i in 1..=5 {
        clerk(&[
            "beneficiary",
            "register",
            &format!("H000{i}"),
            "--unit",
            "FJ-SM",
            "--kind",
            "household",
        ]);
    }
    clerk(&[
        "loan",
        "disburse",
        "L0001",
        "--fund",
        "SM-2021-REV",
        "--beneficiary",
        "H0001",
        "--tier",
        "city",
        "--principal",
        "10000.00",
        "--term-months",
        "24",
        "--batch",
        "第十六批",
    ]);
    clerk(&[
        "housing",
        "award",
        "SM-H-0001",
        "--fund",
        "SM-2021-HOUSING",
        "--beneficiary",
        "H0002",
        "--amount",
        "20000.00",
        "--shares",
        "province:5000.00,city:15000.00",
    ]);
    clerk(&[
        "bursary",
        "award",
        "SM-B-0001",
        "--fund",
        "SM-2021-BURSARY",
        "--student",
        "H0003",
        "--academic-year",
        "2021",
        "--tier",
        "city",
        "--amount",
        "5000.00",
    ]);
    clerk(&[
        "condolence",
        "campaign",
        "SM-2021-SPRING",
        "--fund",
        "SM-2021-COND",
        "--name",
        "2021 春节慰问",
    ]);
    l
}

// ---- HTTP -------------------------------------------------------------------------

pub struct Server {
    pub child: Child,
    pub base: String,
    /// The first admin's token, when the server was made by [`start`].
    pub admin: String,
    pub data: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn init(data: &Path) -> String {
    let out = ledger(data, &["--json", "init"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["admin_token"].as_str().unwrap().to_string()
}

pub fn serve(data: &Path) -> Server {
    serve_with(data, &[])
}

/// [`serve`] with environment variables (a master key file, say).
pub fn serve_with(data: &Path, env: &[(&str, &Path)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_welfare-ledger"))
        .arg("--data")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .rsplit(' ')
        .next()
        .filter(|a| a.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Server {
        child,
        base,
        admin: String::new(),
        data: data.to_path_buf(),
        _dir: None,
    }
}

/// One HTTP answer: status, headers we look at, JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub replayed: bool,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub text: String,
}

pub fn call(
    method: &str,
    url: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Option<&str>,
) -> Answer {
    let mut headers = Vec::new();
    if let Some(t) = token {
        headers.push(("Authorization".to_string(), format!("Bearer {t}")));
    }
    if let Some(k) = key {
        headers.push(("Idempotency-Key".to_string(), k.to_string()));
    }
    if body.is_some() {
        headers.push(("Content-Type".to_string(), "application/json".to_string()));
    }
    call_with_headers(method, url, &headers, body)
}

/// Sends one request; `headers` are (name, value) pairs.
pub fn call_with_headers(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Answer {
    let agent = ureq::AgentBuilder::new().build();
    let mut request = agent.request(method, url);
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let result = match body {
        Some(b) => request.send_string(b),
        None => request.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    let content_type = response.header("content-type").unwrap_or("").to_string();
    let replayed = response.header("idempotent-replayed") == Some("true");
    let headers = response
        .headers_names()
        .into_iter()
        .map(|name| {
            let value = response.header(&name).unwrap_or("").to_string();
            (name.to_lowercase(), value)
        })
        .collect();
    let text = response.into_string().unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
    Answer {
        status,
        content_type,
        replayed,
        headers,
        body,
        text,
    }
}

/// `init` a temporary ledger (which records the first admin and prints its token),
/// then `serve` it on a loopback port chosen by the system.
pub fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let admin = init(&data);
    let mut server = serve(&data);
    server.admin = admin;
    server._dir = Some(dir);
    server
}

pub struct Api {
    pub base: String,
}

impl Api {
    pub fn get(&self, token: &str, path: &str) -> Answer {
        call(
            "GET",
            &format!("{}{path}", self.base),
            Some(token),
            None,
            None,
        )
    }

    pub fn post(&self, token: &str, key: &str, path: &str, body: &Value) -> Answer {
        call(
            "POST",
            &format!("{}{path}", self.base),
            Some(token),
            Some(key),
            Some(&body.to_string()),
        )
    }

    pub fn command(&self, token: &str, key: &str, command: Value) -> Answer {
        self.post(
            token,
            key,
            "/api/v1/commands",
            &json!({ "command": command, "effective_date": "2021-06-30", "memo": "凭证 2021-06" }),
        )
    }

    pub fn ok(&self, token: &str, key: &str, command: Value) -> Answer {
        let a = self.command(token, key, command);
        assert_eq!(a.status, 201, "{key}: {}", a.body);
        a
    }

    pub fn token_for(&self, admin: &str, user: &str) -> String {
        let a = self.post(
            admin,
            &format!("token-{user}"),
            &format!("/api/v1/users/{user}/tokens"),
            &json!({}),
        );
        assert_eq!(a.status, 201, "{}", a.body);
        a.body["token"].as_str().unwrap().to_string()
    }
}

pub fn problem(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.content_type, "application/problem+json", "{}", a.body);
    assert_eq!(a.body["code"], code, "{}", a.body);
    assert!(!a.body["detail"].as_str().unwrap_or("").is_empty());
}

pub fn unit(code: &str, name: &str, level: &str, parent: Option<&str>) -> Value {
    json!({"RegisterUnit": {"unit": code, "name": name, "level": level, "parent": parent}})
}

pub fn grant(fund: &str, who: &str, amount: &str) -> Value {
    json!({"PayGrant": {"fund": fund, "beneficiary": who, "modality": "Relief", "batch": "第十七批",
        "amount": amount, "shares": [{"tier": "County", "amount": amount}]}})
}

// ---- OpenAPI schema checks ---------------------------------------------------------
//
// A small JSON Schema checker for the subset of OpenAPI 3.1 that utoipa writes ($ref,
// oneOf, allOf, type, properties, required, items, prefixItems, enum, pattern, format
// date, minimum/maximum, minLength/maxLength). It is stricter than JSON Schema in one
// way: an object may carry no property the schema does not name, so that an
// undocumented field in an answer fails.

/// The spec's schema of an operation's answer with `status` (JSON bodies only).
pub fn response_schema<'a>(
    spec: &'a Value,
    method: &str,
    path: &str,
    status: u16,
) -> Option<&'a Value> {
    let content = &spec["paths"][path][method]["responses"][status.to_string()]["content"];
    content
        .as_object()?
        .iter()
        .find(|(kind, _)| kind.contains("json"))
        .map(|(_, c)| &c["schema"])
        .filter(|s| !s.is_null())
}

/// The spec's schema of an operation's JSON request body.
pub fn request_schema<'a>(spec: &'a Value, method: &str, path: &str) -> Option<&'a Value> {
    let s = &spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
    (!s.is_null()).then_some(s)
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unsupported $ref {r}"));
            let target = &spec["components"]["schemas"][name];
            assert!(!target.is_null(), "the spec has no schema {name}");
            resolve(spec, target)
        }
        None => schema,
    }
}

/// The names of the properties an object schema allows, through allOf and $ref.
fn known_properties(spec: &Value, schema: &Value, into: &mut Vec<String>) {
    let schema = resolve(spec, schema);
    if let Some(p) = schema.get("properties").and_then(Value::as_object) {
        into.extend(p.keys().cloned());
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        known_properties(spec, part, into);
    }
}

fn type_matches(kind: &str, value: &Value) -> bool {
    match kind {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("unknown type {other}"),
    }
}

/// Checks `value` against `schema`; returns what does not match, with JSON paths.
pub fn check(spec: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    validate(spec, schema, value, "$", true, &mut errors);
    errors
}

fn validate(
    spec: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    strict: bool,
    errors: &mut Vec<String>,
) {
    let schema = resolve(spec, schema);
    let s = |k: &str| schema.get(k);
    if let Some(options) = s("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|o| check(spec, o, value).is_empty())
            .count();
        if matching != 1 {
            errors.push(format!(
                "{at}: {matching} of {} oneOf alternatives match {value}",
                options.len()
            ));
        }
    }
    if let Some(options) = s("anyOf").and_then(Value::as_array) {
        if !options.iter().any(|o| check(spec, o, value).is_empty()) {
            errors.push(format!("{at}: no anyOf alternative matches {value}"));
        }
    }
    if let Some(parts) = s("allOf").and_then(Value::as_array) {
        for part in parts {
            validate(spec, part, value, at, false, errors);
        }
    }
    match s("type") {
        Some(Value::String(kind)) if !type_matches(kind, value) => {
            errors.push(format!("{at}: {value} is not of type {kind}"));
            return;
        }
        Some(Value::Array(kinds))
            if !kinds
                .iter()
                .any(|k| type_matches(k.as_str().unwrap(), value)) =>
        {
            errors.push(format!("{at}: {value} is not of types {kinds:?}"));
            return;
        }
        _ => {}
    }
    if let Some(options) = s("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            errors.push(format!("{at}: {value} is not one of {options:?}"));
        }
    }
    if let Some(expected) = s("const") {
        if expected != value {
            errors.push(format!("{at}: {value} is not {expected}"));
        }
    }
    match value {
        Value::String(text) => {
            if let Some(pattern) = s("pattern").and_then(Value::as_str) {
                let re = regex_lite::Regex::new(pattern).unwrap();
                if !re.is_match(text) {
                    errors.push(format!("{at}: {text:?} does not match {pattern}"));
                }
            }
            if s("format").and_then(Value::as_str) == Some("date")
                && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_err()
            {
                errors.push(format!("{at}: {text:?} is not a date"));
            }
            let chars = text.chars().count() as u64;
            if s("minLength")
                .and_then(Value::as_u64)
                .is_some_and(|m| chars < m)
                || s("maxLength")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| chars > m)
            {
                errors.push(format!("{at}: {text:?} has a length out of bounds"));
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap();
            if s("minimum").and_then(Value::as_f64).is_some_and(|m| x < m)
                || s("maximum").and_then(Value::as_f64).is_some_and(|m| x > m)
            {
                errors.push(format!("{at}: {x} is out of bounds"));
            }
        }
        Value::Array(items) => {
            let prefix = s("prefixItems").and_then(Value::as_array);
            for (i, item) in items.iter().enumerate() {
                let here = format!("{at}[{i}]");
                match prefix.and_then(|p| p.get(i)) {
                    Some(p) => validate(spec, p, item, &here, true, errors),
                    None => {
                        if let Some(each) = s("items").filter(|i| i.is_object()) {
                            validate(spec, each, item, &here, true, errors);
                        }
                    }
                }
            }
        }
        Value::Object(map) => check_object(spec, schema, map, at, strict, errors),
        _ => {}
    }
}

fn check_object(
    spec: &Value,
    schema: &Value,
    map: &Map<String, Value>,
    at: &str,
    strict: bool,
    errors: &mut Vec<String>,
) {
    let properties = schema.get("properties").and_then(Value::as_object);
    for name in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = name.as_str().unwrap();
        if !map.contains_key(name) {
            errors.push(format!("{at}: the required property {name} is missing"));
        }
    }
    if let Some(properties) = properties {
        for (name, value) in map {
            if let Some(p) = properties.get(name) {
                validate(spec, p, value, &format!("{at}.{name}"), true, errors);
            }
        }
    }
    let open = schema
        .get("additionalProperties")
        .is_some_and(|a| a != &Value::Bool(false));
    if strict && !open && (properties.is_some() || schema.get("allOf").is_some()) {
        let mut known = Vec::new();
        known_properties(spec, schema, &mut known);
        for name in map.keys() {
            if !known.contains(name) {
                errors.push(format!("{at}: the property {name} is not in the spec"));
            }
        }
    }
}
