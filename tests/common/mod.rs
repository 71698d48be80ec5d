//! Helpers shared by the end-to-end tests: the real binary, a server on loopback, and
//! a small HTTP client that returns status, headers and JSON whatever the status.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn ledger(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_welfare-ledger"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_welfare-ledger"))
        .arg("--data")
        .arg(data)
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
    Server { child, base }
}

/// One HTTP answer: status, headers we look at, JSON body.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub replayed: bool,
    pub body: Value,
}

pub fn call(
    method: &str,
    url: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Option<&str>,
) -> Answer {
    let agent = ureq::AgentBuilder::new().build();
    let mut request = agent.request(method, url);
    if let Some(t) = token {
        request = request.set("Authorization", &format!("Bearer {t}"));
    }
    if let Some(k) = key {
        request = request.set("Idempotency-Key", k);
    }
    let result = match body {
        Some(b) => request
            .set("Content-Type", "application/json")
            .send_string(b),
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
    let text = response.into_string().unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        content_type,
        replayed,
        body,
    }
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
