//! Drives the real `welfare-ledger` binary as its users would, in a temporary data
//! directory: the admin registers units, users and a fund; a city clerk records
//! appropriations, a beneficiary and a loan and reads the balance back in JSON (now,
//! as of a date, at a position, and in 万元); a retry with the same --command-id is a
//! duplicate and changes nothing; an overdraft exits 2 with the rule's message; a clerk
//! of another city is refused; a memo with an ID-card-like number is refused; a
//! payment above the threshold waits in `request list` until an approver approves it;
//! the reports and the audit trail answer; `rebuild` equals the incremental projections,
//! and exits 3 when a checkpoint (taken from another ledger) disagrees with the log.

mod common;

use common::{json, ok, stderr, Ledger};

fn setup() -> Ledger {
    let l = Ledger::init();
    let admin = |args: &[&str]| ok(l.run_as("admin", args));
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
        "unit",
        "register",
        "FJ-NP",
        "--name",
        "南平市",
        "--level",
        "city",
        "--parent",
        "FJ",
    ]);
    admin(&[
        "user", "add", "clerk-sm", "--role", "clerk", "--scope", "FJ-SM",
    ]);
    admin(&[
        "user",
        "add",
        "approver-sm",
        "--role",
        "approver",
        "--scope",
        "FJ-SM",
    ]);
    admin(&[
        "user", "add", "clerk-np", "--role", "clerk", "--scope", "FJ-NP",
    ]);
    admin(&[
        "fund",
        "open",
        "SM-2021-REV",
        "--unit",
        "FJ-SM",
        "--programme",
        "revolving",
        "--name",
        "三明市滚动资金",
        "--fiscal-year",
        "2021",
        "--threshold",
        "30000",
    ]);
    let clerk = |args: &[&str]| ok(l.run_as("clerk-sm", args));
    for verb in ["commit", "receive"] {
        clerk(&[
            "appropriation",
            verb,
            "--fund",
            "SM-2021-REV",
            "--tier",
            "city",
            "--amount",
            "5万",
            "--effective-date",
            "2021-06-30",
        ]);
    }
    clerk(&[
        "beneficiary",
        "register",
        "H0001",
        "--unit",
        "FJ-SM",
        "--kind",
        "household",
        "--category",
        "poor-household",
    ]);
    l
}

fn disburse(l: &Ledger, user: &str, loan: &str, principal: &str) -> std::process::Output {
    l.run_as(
        user,
        &[
            "--json",
            "loan",
            "disburse",
            loan,
            "--fund",
            "SM-2021-REV",
            "--beneficiary",
            "H0001",
            "--tier",
            "city",
            "--principal",
            principal,
            "--term-months",
            "24",
            "--effective-date",
            "2021-07-01",
            "--command-id",
            &format!("loan-{loan}"),
            "--memo",
            "幸福工程第十七批",
        ],
    )
}

#[test]
fn a_clerk_records_a_loan_and_reads_the_balance_back() {
    let l = setup();
    let first = json(&ok(disburse(&l, "clerk-sm", "L0001", "10000.00")));
    assert_eq!(first["duplicate"], false);
    assert_eq!(first["command_id"], "loan-L0001");

    // The same command id again: a duplicate at the same position, nothing doubles.
    let again = json(&ok(disburse(&l, "clerk-sm", "L0001", "10000.00")));
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["first_position"], first["first_position"]);
    let balance = json(&ok(l.run(&["--json", "fund", "balance", "SM-2021-REV"])));
    assert_eq!(balance["figures"]["lent"], "10000.00");
    assert_eq!(balance["figures"]["received"], "50000.00");
    assert_eq!(balance["figures"]["available"], "40000.00");

    // The same id for another command is refused, naming the first position.
    let conflict = disburse(&l, "clerk-sm", "L0001", "9000.00");
    assert_eq!(conflict.status.code(), Some(2));
    assert!(common::stderr(&conflict).contains("already used"));

    // As of the day before the loan, and after the receipt's position.
    let before = json(&ok(l.run(&[
        "--json",
        "fund",
        "balance",
        "SM-2021-REV",
        "--as-of",
        "2021-06-30",
    ])));
    assert_eq!(before["figures"]["lent"], "0.00");
    assert_eq!(before["figures"]["available"], "50000.00");
    let position = first["first_position"].as_u64().unwrap();
    let at = json(&ok(l.run(&[
        "--json",
        "fund",
        "balance",
        "SM-2021-REV",
        "--at-position",
        &(position - 1).to_string(),
    ])));
    assert_eq!(at["figures"]["lent"], "0.00");
    let at = json(&ok(l.run(&[
        "--json",
        "fund",
        "balance",
        "SM-2021-REV",
        "--at-position",
        &position.to_string(),
    ])));
    assert_eq!(at["figures"]["lent"], "10000.00");
    let beyond = l.run(&["fund", "balance", "SM-2021-REV", "--at-position", "9999"]);
    assert_eq!(beyond.status.code(), Some(2));
    assert!(common::stderr(&beyond).contains("there is no position 9999"));

    // Human tables: 元 with separators, or exact 万元.
    let text = common::stdout(&ok(l.run(&["fund", "balance", "SM-2021-REV"])));
    assert!(text.contains("40,000.00"), "{text}");
    let text = common::stdout(&ok(l.run(&["--wan", "fund", "balance", "SM-2021-REV"])));
    assert!(text.contains("万元") && text.contains("4.00"), "{text}");

    // The statement, the loan report and the audit trail by command.
    let statement = json(&ok(l.run(&[
        "--json",
        "fund",
        "statement",
        "SM-2021-REV",
        "--year",
        "2021",
    ])));
    assert_eq!(statement["lines"]["total"], 3);
    assert_eq!(statement["closing"]["available"], "40000.00");
    let loans = json(&ok(l.run(&[
        "--json",
        "report",
        "loans",
        "--fund",
        "SM-2021-REV",
        "--as-of",
        "2021-12-31",
    ])));
    assert_eq!(loans["outstanding"], "10000.00");
    let trail = json(&ok(l.run(&["--json", "audit", "command", "loan-L0001"])));
    assert_eq!(trail["total"], 1);
    assert_eq!(trail["items"][0]["memo"], "幸福工程第十七批");
    assert_eq!(trail["items"][0]["actor"], "clerk-sm");
    let programmes = json(&ok(l.run(&[
        "--json",
        "report",
        "programmes",
        "FJ",
        "--year",
        "2021",
    ])));
    assert_eq!(programmes["unit"], "FJ");

    let rebuild = ok(l.run(&["rebuild"]));
    assert!(common::stdout(&rebuild).contains("equal"));
}

#[test]
fn rules_scopes_and_personal_information_are_refused_with_exit_2() {
    let l = setup();
    // An overdraft: the rule's own message.
    let out = disburse(&l, "clerk-sm", "L0009", "60000.00");
    assert_eq!(out.status.code(), Some(2));
    let error = common::stderr(&out);
    assert!(error.contains("fund SM-2021-REV has"), "{error}");
    assert!(error.contains("available in its city tier"), "{error}");

    // A clerk of Nanping may not record in Sanming's fund.
    let out = disburse(&l, "clerk-np", "L0002", "100.00");
    assert_eq!(out.status.code(), Some(2));
    let error = common::stderr(&out);
    assert!(error.contains("clerk-np"), "{error}");
    assert!(error.contains("FJ-NP"), "{error}");
    // ... nor read it.
    let out = l.run_as("clerk-np", &["fund", "balance", "SM-2021-REV"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("lies outside it"));

    // No acting user.
    let out = l.run(&["loan", "repay", "L0001", "--principal", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("--user"));

    // A memo that looks like an ID-card number never reaches the log.
    let out = l.run_as(
        "clerk-sm",
        &[
            "beneficiary",
            "register",
            "H0002",
            "--unit",
            "FJ-SM",
            "--kind",
            "person",
            "--memo",
            "身份证 350203198001011234",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("personal information"));

    // A malformed amount is refused by the argument parser, also with exit 2.
    let out = disburse(&l, "clerk-sm", "L0003", "12.345");
    assert_eq!(out.status.code(), Some(2));

    let balance = json(&ok(l.run(&["--json", "fund", "balance", "SM-2021-REV"])));
    assert_eq!(balance["figures"]["lent"], "0.00", "nothing was lent");
}

#[test]
fn a_payment_above_the_threshold_waits_for_an_approver() {
    let l = setup();
    let requested = json(&ok(disburse(&l, "clerk-sm", "L0005", "35000.00")));
    let request = requested["first_position"].as_u64().unwrap().to_string();
    assert_eq!(requested["payment_request"], requested["first_position"]);
    assert_eq!(requested["event_types"][0], "PaymentRequested");
    let pending = json(&ok(l.run(&["--json", "request", "list"])));
    assert_eq!(pending["requests"][0]["request"].to_string(), request);
    assert_eq!(pending["requests"][0]["reserved"], "35000.00");
    let text = common::stdout(&ok(l.run(&["request", "list"])));
    assert!(text.contains("35,000.00"), "{text}");

    // The maker cannot approve their own request; the approver can.
    let approve = [
        "request",
        "approve",
        &request,
        "--effective-date",
        "2021-07-02",
    ];
    let out = l.run_as("clerk-sm", &approve);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("clerk"), "{}", stderr(&out));
    ok(l.run_as("approver-sm", &approve));
    let pending = json(&ok(l.run(&["--json", "request", "list"])));
    assert_eq!(pending["requests"].as_array().unwrap().len(), 0);
    let balance = json(&ok(l.run(&["--json", "fund", "balance", "SM-2021-REV"])));
    assert_eq!(balance["figures"]["lent"], "35000.00");
}

/// `rebuild` can fail: ledger A gets the fund-ledger checkpoint of ledger B (same
/// number of events, another loan amount), so its incremental projection disagrees
/// with a rebuild of its own log.
#[test]
fn rebuild_exits_3_when_a_checkpoint_disagrees_with_the_log() {
    use std::sync::Arc;

    use ledger_projections::{checkpoint_name, FundLedger};
    use ledger_store::{Log, SledBackend, SystemClock};

    let a = setup();
    let b = setup();
    ok(disburse(&a, "clerk-sm", "L0001", "10000.00"));
    ok(disburse(&b, "clerk-sm", "L0001", "20000.00"));
    let open = |data: &std::path::Path| {
        Log::open(
            SledBackend::open(data).unwrap(),
            None,
            Arc::new(SystemClock),
        )
        .unwrap()
    };
    let (head, other) = {
        let engine = ledger_engine::Engine::open(open(&b.data), Arc::new(SystemClock)).unwrap();
        let head = engine.log().unwrap().head().next_position;
        (
            head,
            engine.projections_at_position(head).unwrap().fund_ledger,
        )
    };
    {
        let log = open(&a.data);
        assert_eq!(log.head().next_position, head);
        log.save_snapshot(&checkpoint_name::<FundLedger>(), head, &other)
            .unwrap();
    }
    let out = a.run(&["--json", "rebuild"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["equal"], false);
    assert_eq!(report["differing"], serde_json::json!(["fund_ledger"]));
}
