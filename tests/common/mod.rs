//! Shared by the end-to-end tests of the HTTP API's description and manual: a real
//! `welfare-ledger serve` over a temporary ledger, a plain HTTP call, and a small JSON
//! Schema checker for the subset of OpenAPI 3.1 that utoipa writes ($ref, oneOf, allOf,
//! type, properties, required, items, prefixItems, enum, pattern, format date,
//! minimum/maximum, minLength/maxLength). It is stricter than JSON Schema in one way:
//! an object may carry no property the schema does not name, so that an undocumented
//! field in an answer fails.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Map, Value};

pub struct Server {
    child: Child,
    pub base: String,
    pub admin: String,
    _dir: tempfile::TempDir,
    pub data: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ledger(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_welfare-ledger"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

/// `init` a temporary ledger (which records the first admin and prints its token),
/// then `serve` it on a loopback port chosen by the system.
pub fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let out = ledger(&data, &["--json", "init"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let admin = v["admin_token"].as_str().unwrap().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_welfare-ledger"))
        .arg("--data")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
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
        admin,
        _dir: dir,
        data,
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Value,
    pub text: String,
}

/// Sends one request; `headers` are (name, value) pairs.
pub fn call(method: &str, url: &str, headers: &[(String, String)], body: Option<&str>) -> Answer {
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
    let headers = response
        .headers_names()
        .into_iter()
        .map(|name| {
            let value = response.header(&name).unwrap_or("").to_string();
            (name.to_lowercase(), value)
        })
        .collect();
    let text = response.into_string().unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        content_type,
        headers,
        body,
        text,
    }
}

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
