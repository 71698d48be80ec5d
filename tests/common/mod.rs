//! Running the real binary in a temporary data directory, for the CLI tests.

#![allow(dead_code)] // each test file uses a different part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

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
