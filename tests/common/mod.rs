//! Helpers shared by the end-to-end tests: the real binary in a temporary data
//! directory (CLI tests), a server on loopback and a small HTTP client that returns
//! status, headers and JSON whatever the status (HTTP tests).

#![allow(dead_code)] // each test file uses a different part

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{json, Value};

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
