//! Drives `export`, `import`, `backup` and `rebuild` of the real binary on the small
//! Sanming ledger (set up through the CLI itself): docs/examples/payments.csv imports
//! whole and a second run applies nothing; a file with a bad row exits 2 naming the
//! line and applies nothing, and with --skip-bad-rows applies the good row and writes
//! the rejects file; the JSONL export passes docs/tools/verify_export.py; the CSV
//! export has its bilingual header and exact amounts; a backup opens and verifies to
//! the same head hash; a rebuild equals the incremental projections.

mod common;

use common::{json, ok, repo, sanming, stderr, stdout};

#[test]
fn payments_import_export_backup_and_rebuild() {
    let l = sanming();
    let example = repo().join("docs/examples/payments.csv");
    let example = example.to_str().unwrap();

    // The example file: every row applied; again: every row a duplicate.
    let summary = json(&ok(l.run_as("clerk-sm", &["--json", "import", example])));
    assert_eq!(summary["rows"], 8);
    assert_eq!(summary["applied"], 8);
    let again = json(&ok(l.run_as("clerk-sm", &["--json", "import", example])));
    assert_eq!(again["applied"], 0);
    assert_eq!(again["duplicates"], 8);
    let balance = json(&ok(l.run(&["--json", "fund", "balance", "SM-2021-REV"])));
    assert_eq!(
        balance["figures"]["lent"], "30000.00",
        "L0001 and L0002 once each"
    );

    // A bad row (an unknown fund on line 3): nothing of the file is applied.
    let bad = l.path("grants.csv");
    std::fs::write(
        &bad,
        "类型 kind,业务日期 effective_date,资金 fund,受益人 beneficiary,金额 amount,层级 tier,资助方式 modality\n\
         grant,2021-07-20,SM-2021-HP,H0005,100.00,city,relief\n\
         grant,2021-07-20,SM-2021-NOPE,H0005,200.00,city,relief\n",
    )
    .unwrap();
    let before = json(&ok(l.run(&["--json", "status"])))["events"].clone();
    let out = l.run_as("clerk-sm", &["import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 3"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing was applied"),
        "{}",
        stderr(&out)
    );
    assert_eq!(json(&ok(l.run(&["--json", "status"])))["events"], before);

    // With --skip-bad-rows: the good row is applied, the bad one goes to the rejects file.
    let rejects = l.path("rejects.csv");
    let out = l.run_as(
        "clerk-sm",
        &[
            "--json",
            "import",
            bad.to_str().unwrap(),
            "--skip-bad-rows",
            "--rejects",
            rejects.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let summary = json(&out);
    assert_eq!(summary["applied"], 1);
    assert_eq!(summary["rejected"][0]["line"], 3);
    let text = std::fs::read_to_string(&rejects).unwrap();
    assert!(text.contains("SM-2021-NOPE"), "{text}");

    // A clerk of another unit may not import into Sanming's funds.
    ok(l.run_as(
        "admin",
        &[
            "unit",
            "register",
            "FJ-NP",
            "--name",
            "南平市",
            "--level",
            "city",
            "--parent",
            "FJ",
        ],
    ));
    ok(l.run_as(
        "admin",
        &[
            "user", "add", "clerk-np", "--role", "clerk", "--scope", "FJ-NP",
        ],
    ));
    let out = l.run_as("clerk-np", &["import", example]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not permitted to clerk-np"),
        "{}",
        stderr(&out)
    );

    // The auditor's export, checked by the independent script.
    let export = l.path("ledger.jsonl");
    let summary = json(&ok(l.run(&[
        "--json",
        "export",
        "--format",
        "jsonl",
        "--output",
        export.to_str().unwrap(),
    ])));
    let status = json(&ok(l.run(&["--json", "status"])));
    assert_eq!(summary["events"], status["events"]);
    assert_eq!(summary["last_hash"], status["head_hash"]);
    let script = std::process::Command::new("python3")
        .arg(repo().join("docs/tools/verify_export.py"))
        .arg(&export)
        .output()
        .unwrap();
    assert!(
        script.status.success(),
        "{}{}",
        stdout(&script),
        stderr(&script)
    );

    // A range, to stdout.
    let out = ok(l.run(&["export", "--format", "jsonl", "--from", "3", "--to", "5"]));
    assert_eq!(stdout(&out).lines().count(), 1 + 3);
    let out = l.run(&[
        "export", "--format", "jsonl", "--from", "3", "--to", "99999",
    ]);
    assert_eq!(out.status.code(), Some(2));

    // The spreadsheet export: BOM, bilingual headers, exact amounts.
    let csv = l.path("events.csv");
    ok(l.run(&[
        "export",
        "--format",
        "csv",
        "--output",
        csv.to_str().unwrap(),
    ]));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with("\u{feff}位置 position,"),
        "{}",
        &text[..80]
    );
    assert!(text.contains(",500000.00,"), "the premium, exactly");

    // A backup opens and verifies to the same head.
    let copy = l.path("backup");
    let backup = json(&ok(l.run(&["--json", "backup", copy.to_str().unwrap()])));
    assert_eq!(backup["head_hash"], status["head_hash"]);
    let verified = json(&ok(common::ledger(&copy, &["--json", "verify"])));
    assert_eq!(verified["intact"], true);
    assert_eq!(verified["head_hash"], status["head_hash"]);
    let copied = json(&ok(common::ledger(
        &copy,
        &["--json", "fund", "balance", "SM-2021-REV"],
    )));
    assert_eq!(copied["figures"], balance["figures"]);
    // A backup never overwrites.
    let out = l.run(&["backup", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not empty"));

    let rebuild = json(&ok(l.run(&["--json", "rebuild"])));
    assert_eq!(rebuild["equal"], true);
    assert_eq!(rebuild["events"], status["events"]);
}
