//! Proves the bulk payment import's promises through its public API on the in-memory
//! backend: the shipped example file (docs/examples/payments.csv) imports every
//! payment kind; a file with bad rows (too many decimals, an exponent, an unknown
//! fund, a bad date, an empty required cell, an overdraft found by the dry run)
//! applies nothing and names each row's line; with skip_bad_rows only the good rows
//! are applied and the bad ones are written to a rejects file that can be fixed and
//! imported; running a file again, also after an interruption, applies only the
//! missing rows; files with personal-information columns are refused whole.

mod common;

use common::*;
use ledger_domain::{Amount, Command, FundId, FundingTier, LoanId};
use ledger_engine::{Engine, Submission};
use ledger_exchange::{
    import_payments, parse_payments, ExchangeError, ImportOptions, ImportSummary, Language,
    RowError,
};
use ledger_store::{HashAlgorithm, MemoryBackend};

fn example() -> Vec<u8> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/examples/payments.csv");
    std::fs::read(path).expect("docs/examples/payments.csv is committed")
}

fn options(skip_bad_rows: bool) -> ImportOptions {
    ImportOptions {
        actor: user("clerk-0042"),
        skip_bad_rows,
        now: now(),
        language: Language::English,
    }
}

fn ledger() -> Engine<MemoryBackend> {
    let engine = memory_engine(HashAlgorithm::Sha256);
    setup(&engine);
    engine
}

fn import(
    engine: &Engine<MemoryBackend>,
    file: &[u8],
    skip_bad_rows: bool,
) -> (Result<ImportSummary, ExchangeError>, Vec<u8>) {
    let mut rejects = Vec::new();
    let result = import_payments(
        engine,
        file,
        &options(skip_bad_rows),
        &mut rejects,
        &mut |_, _| {},
    );
    (result, rejects)
}

fn city_available(engine: &Engine<MemoryBackend>, fund: &str) -> String {
    engine.read(|model| {
        model
            .state()
            .fund(&ledger_domain::FundId::new(fund).unwrap())
            .unwrap()
            .tier(FundingTier::City)
            .available()
            .plain()
    })
}

const HEADER: &str = "类型 kind,业务日期 effective_date,资金 fund,受益人 beneficiary,贷款 loan,金额 amount,层级 tier,期限月数 term_months,备注 memo";

fn file(rows: &[&str]) -> Vec<u8> {
    let mut text = String::from(HEADER);
    for row in rows {
        text.push('\n');
        text.push_str(row);
    }
    text.push('\n');
    text.into_bytes()
}

/// A good loan of `amount` yuan to H0004 as loan `id`.
fn loan_row(id: &str, amount: &str) -> String {
    format!("loan,2021-07-01,SM-2021-REV,H0004,{id},{amount},city,12,")
}

fn lines_of(errors: &[RowError]) -> Vec<u64> {
    errors.iter().map(|e| e.line).collect()
}

#[test]
fn the_example_file_imports_every_payment_kind() {
    let engine = ledger();
    let head = engine.log().unwrap().head().next_position;
    let mut reports = Vec::new();
    let summary = import_payments(
        &engine,
        &example(),
        &options(false),
        &mut Vec::new(),
        &mut |done, total| reports.push((done, total)),
    )
    .unwrap();
    assert_eq!(
        summary,
        ImportSummary {
            rows: 8,
            applied: 8,
            ..ImportSummary::default()
        }
    );
    assert_eq!(reports.first(), Some(&(0, 8)));
    assert_eq!(reports.last(), Some(&(8, 8)));
    assert_eq!(engine.log().unwrap().head().next_position, head + 8);

    let events: Vec<String> = engine
        .log()
        .unwrap()
        .read_all(head, 100)
        .unwrap()
        .iter()
        .map(|e| e.event_type.to_string())
        .collect();
    assert_eq!(
        events,
        [
            "LoanDisbursed",
            "LoanRepaid",
            "GrantPaid",
            "HousingInstalmentPaid",
            "BursaryInstalmentPaid",
            "PremiumCollected",
            "ClaimPaid",
            "CondolencePaid"
        ]
    );
    // ¥50,000.00 less the setup's loan of ¥10,000.00 and the new one of ¥20,000.00,
    // plus the ¥1,000.00 of principal repaid.
    assert_eq!(city_available(&engine, REVOLVING), "21000.00");
    engine.read(|model| {
        let loan = model.state().loan(&LoanId::new("L0002").unwrap()).unwrap();
        assert_eq!(loan.principal(), yuan("20000.00"));
    });
    let recorded = engine.log().unwrap().read_all(head + 1, 1).unwrap();
    assert_eq!(recorded[0].actor.as_str(), "clerk-0042");
    assert_eq!(recorded[0].memo.as_str(), "8月还款");
}

#[test]
fn parsing_turns_rows_into_commands_with_ids_from_the_file_and_line() {
    let bytes = example();
    let parsed = parse_payments(&bytes, &user("clerk-0042")).unwrap();
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    assert_eq!(parsed.rows.len(), 8);
    let repayment = &parsed.rows[1];
    assert_eq!(repayment.line, 3);
    assert_eq!(repayment.effective_date, day(2021, 8, 1));
    assert_eq!(
        repayment.command,
        Command::RepayLoan {
            loan: LoanId::new("L0001").unwrap(),
            principal: yuan("1000.00"),
            interest: yuan("12.50"),
        }
    );
    assert_eq!(
        repayment.command_id,
        format!("imp-{}-3", parsed.file_digest)
    );
    // The same bytes give the same ids; other bytes give other ids.
    let again = parse_payments(&bytes, &user("clerk-0042")).unwrap();
    assert_eq!(again.rows[1].command_id, repayment.command_id);
    let mut edited = bytes.clone();
    edited.extend_from_slice(b"\n");
    let other = parse_payments(&edited, &user("clerk-0042")).unwrap();
    assert_ne!(other.rows[1].command_id, repayment.command_id);

    // Chinese-only or English-only headers, a BOM and Chinese values are accepted.
    let text = "\u{feff}类型,业务日期,贷款,金额,利息\n还款,2021/08/01,L0001,1000,0.5\n";
    let parsed = parse_payments(text.as_bytes(), &user("clerk-0042")).unwrap();
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let text = "kind,effective_date,loan,amount\nRepayLoan,2021-08-01,L0001,\"1,000.00\"\n";
    let parsed = parse_payments(text.as_bytes(), &user("clerk-0042")).unwrap();
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
}

/// Good rows at lines 2 and 8; every other row is bad in its own way.
fn mixed_file() -> Vec<u8> {
    file(&[
        &loan_row("L0100", "1000.00"),
        &loan_row("L0101", "12.345"),
        &loan_row("L0102", "1e3"),
        "loan,2021-07-01,SM-2099-NONE,H0004,L0103,1000.00,city,12,",
        "loan,2021-13-01,SM-2021-REV,H0004,L0104,1000.00,city,12,",
        "loan,2021-07-01,SM-2021-REV,H0004,L0105,1000.00,city,,",
        &loan_row("L0106", "2000.00"),
    ])
}

#[test]
fn a_bad_row_applies_nothing_and_every_bad_row_is_named_by_its_line() {
    let engine = ledger();
    let head = engine.log().unwrap().head();
    let (result, rejects) = import(&engine, &mixed_file(), false);
    let Err(ExchangeError::RowsRejected { errors }) = result else {
        panic!("expected rows rejected, got {result:?}");
    };
    assert_eq!(lines_of(&errors), [3, 4, 5, 6, 7]);
    for (error, expected) in errors.iter().zip([
        "more than two decimal places",
        "exponent",
        "unknown fund SM-2099-NONE",
        "is not a date",
        "needs 期限月数 term_months; the cell is empty",
    ]) {
        assert!(error.reason.contains(expected), "{error}");
    }
    assert_eq!(engine.log().unwrap().head(), head, "nothing was applied");

    // The rejects file holds the five rows as they were, with line and reason.
    let mut reader = csv::Reader::from_reader(&rejects[3..]);
    assert!(rejects.starts_with(b"\xEF\xBB\xBF"));
    let headers = reader.headers().unwrap().clone();
    assert_eq!(headers.len(), 11);
    assert_eq!(&headers[9], "原行号 source_line");
    assert_eq!(&headers[10], "原因 reason");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(&rows[0][4], "L0101");
    assert_eq!(&rows[0][5], "12.345");
    assert_eq!(&rows[0][9], "3");
}

/// Found by the `csv_import` fuzz target (docs/RELIABILITY.md, "Fuzzing"): the csv
/// reader's own line count put every row after lone `\r` line ends on line 1 (one
/// command id for them all), every row of a CRLF file (as Excel saves it) one line
/// early, and the first row after a blank line on the blank line.
#[test]
fn rows_are_named_by_the_line_they_start_on_whatever_ends_the_lines() {
    // The fuzzer's minimised input: a header, a lone carriage return, one row.
    let parsed = parse_payments("kind,业务日期,金额\r5".as_bytes(), &user("clerk-0042")).unwrap();
    assert_eq!(lines_of(&parsed.errors), [2]);

    let lf = String::from_utf8(mixed_file()).unwrap();
    for text in [
        lf.clone(),
        lf.replace('\n', "\r\n"),
        lf.replace('\n', "\r"),
        format!("\u{feff}{}", lf.replace('\n', "\r\n")),
    ] {
        let parsed = parse_payments(text.as_bytes(), &user("clerk-0042")).unwrap();
        let lines: Vec<u64> = parsed.rows.iter().map(|row| row.line).collect();
        // Line 5's unknown fund is found by the dry run, not the parser.
        assert_eq!(lines, [2, 5, 8], "{text:?}");
        assert_eq!(lines_of(&parsed.errors), [3, 4, 6, 7], "{text:?}");
        for row in &parsed.rows {
            let id = format!("imp-{}-{}", parsed.file_digest, row.line);
            assert_eq!(row.command_id, id);
        }
    }

    // Blank lines, and a quoted memo over two lines (refused: the memo may not hold a
    // line break), count as the lines they are.
    let text = format!(
        "{HEADER}\n\n{}\r\n\r\n{}\"two\nlines\"\n{}\n",
        loan_row("L0100", "1000.00"),
        loan_row("L0101", "1000.00"),
        loan_row("L0102", "1.001"),
    );
    let parsed = parse_payments(text.as_bytes(), &user("clerk-0042")).unwrap();
    let lines: Vec<u64> = parsed.rows.iter().map(|row| row.line).collect();
    assert_eq!(lines, [3]);
    assert_eq!(lines_of(&parsed.errors), [5, 7], "{:?}", parsed.errors);
    assert!(parsed.errors[0].reason.contains("control character"));
}

#[test]
fn with_skip_bad_rows_the_good_rows_are_applied_and_a_fixed_rejects_file_imports() {
    let engine = ledger();
    let head = engine.log().unwrap().head().next_position;
    let (result, rejects) = import(&engine, &mixed_file(), true);
    let summary = result.unwrap();
    assert_eq!((summary.rows, summary.applied), (7, 2));
    assert_eq!(lines_of(&summary.rejected), [3, 4, 5, 6, 7]);
    assert_eq!(engine.log().unwrap().head().next_position, head + 2);
    assert_eq!(city_available(&engine, REVOLVING), "37000.00");

    // The clerk fixes the rejects in place and imports the rejects file itself.
    let fixed = String::from_utf8(rejects)
        .unwrap()
        .replace("12.345", "12.34")
        .replace("1e3", "1000")
        .replace("SM-2099-NONE", "SM-2021-REV")
        .replace("2021-13-01", "2021-07-01")
        .replace("L0105,1000.00,city,,", "L0105,1000.00,city,12,");
    let (result, _) = import(&engine, fixed.as_bytes(), false);
    let summary = result.unwrap();
    assert_eq!((summary.applied, summary.rejected.len()), (5, 0));
    assert_eq!(engine.log().unwrap().head().next_position, head + 7);
}

#[test]
fn running_a_file_again_applies_only_what_is_missing() {
    let engine = ledger();
    let bytes = example();
    // An interrupted run: the first three rows were applied before it stopped.
    let parsed = parse_payments(&bytes, &user("clerk-0042")).unwrap();
    for row in &parsed.rows[..3] {
        engine
            .submit(Submission {
                command_id: row.command_id.clone(),
                command: row.command.clone(),
                actor: row.actor.clone(),
                effective_date: row.effective_date,
                memo: row.memo.clone(),
            })
            .unwrap();
    }
    let (result, _) = import(&engine, &bytes, false);
    let summary = result.unwrap();
    assert_eq!((summary.applied, summary.duplicates), (5, 3));
    let head = engine.log().unwrap().head();
    let available = city_available(&engine, REVOLVING);

    // And once more: nothing is paid twice.
    let (result, _) = import(&engine, &bytes, false);
    let summary = result.unwrap();
    assert_eq!((summary.applied, summary.duplicates), (0, 8));
    assert_eq!(engine.log().unwrap().head(), head);
    assert_eq!(city_available(&engine, REVOLVING), available);
}

#[test]
fn an_overdraft_found_by_the_dry_run_is_reported_at_its_row() {
    let engine = ledger();
    let head = engine.log().unwrap().head();
    // ¥40,000.00 is available: the first loan fits, the second would overdraw the fund
    // only because of the first, and the repayment after it is fine.
    let bytes = file(&[
        &loan_row("L0200", "30000.00"),
        &loan_row("L0201", "15000.00"),
        "repayment,2021-08-01,,,L0001,100.00,,,",
    ]);
    let (result, _) = import(&engine, &bytes, false);
    let Err(ExchangeError::RowsRejected { errors }) = result else {
        panic!("expected rows rejected, got {result:?}");
    };
    assert_eq!(lines_of(&errors), [3]);
    assert!(
        errors[0]
            .reason
            .contains("has ¥10,000.00 available in its city tier; the payment needs ¥15,000.00"),
        "{}",
        errors[0]
    );
    assert_eq!(engine.log().unwrap().head(), head);

    // A row dated after the import's clock is refused by the same dry run.
    let bytes = file(&["loan,2022-01-05,SM-2021-REV,H0004,L0202,1.00,city,12,"]);
    let (result, _) = import(&engine, &bytes, false);
    let Err(ExchangeError::RowsRejected { errors }) = result else {
        panic!("expected rows rejected, got {result:?}");
    };
    assert_eq!(lines_of(&errors), [2]);
}

#[test]
fn a_chinese_import_gives_the_ledgers_reasons_in_chinese_in_the_same_columns() {
    let engine = ledger();
    let bytes = file(&[
        &loan_row("L0200", "30000.00"),
        &loan_row("L0201", "15000.00"),
        "repayment,2021-08-01,,,L0001,100.00,,,",
    ]);
    let mut rejects = Vec::new();
    let result = import_payments(
        &engine,
        &bytes,
        &ImportOptions {
            language: Language::Chinese,
            ..options(false)
        },
        &mut rejects,
        &mut |_, _| {},
    );
    let Err(ExchangeError::RowsRejected { errors }) = result else {
        panic!("expected rows rejected, got {result:?}");
    };
    assert_eq!(lines_of(&errors), [3]);
    assert_eq!(
        errors[0].reason,
        "资金 SM-2021-REV 的市级可用余额为 ¥10,000.00，本次支付需要 ¥15,000.00"
    );
    // The rejects file keeps its columns: the row as it was, its line, the reason.
    let (_, english) = import(&engine, &bytes, false);
    let chinese = String::from_utf8(rejects).unwrap();
    let english = String::from_utf8(english).unwrap();
    assert_eq!(chinese.lines().next(), english.lines().next());
    let row = chinese.lines().nth(1).unwrap();
    assert!(
        row.starts_with("loan,2021-07-01,SM-2021-REV,H0004,L0201,15000.00"),
        "{row}"
    );
    assert!(
        row.ends_with(
            ",3,\"资金 SM-2021-REV 的市级可用余额为 ¥10,000.00，本次支付需要 ¥15,000.00\""
        ),
        "{row}"
    );
}

#[test]
fn personal_information_is_refused() {
    let engine = ledger();
    let head = engine.log().unwrap().head();
    for header in [
        "姓名",
        "name",
        "身份证号 id_number",
        "手机",
        "bank_account",
        "联系电话 tel",
    ] {
        let text = format!("类型 kind,业务日期 effective_date,贷款 loan,金额 amount,{header}\nrepayment,2021-08-01,L0001,100.00,x\n");
        let (result, _) = import(&engine, text.as_bytes(), true);
        let Err(error @ ExchangeError::PersonalInformation { .. }) = result else {
            panic!("{header}: expected a refusal, got {result:?}");
        };
        assert_eq!(error.code(), "personal_information");
        assert!(error.to_string().contains(header), "{error}");
    }
    // A phone number in a memo, or an ID-card number as a beneficiary, refuses the row.
    let bytes = file(&[
        "repayment,2021-08-01,,,L0001,100.00,,,请联系 13912345678",
        "loan,2021-07-01,SM-2021-REV,35020319800101123X,L0300,1.00,city,12,",
    ]);
    let (result, _) = import(&engine, &bytes, false);
    let Err(ExchangeError::RowsRejected { errors }) = result else {
        panic!("expected rows rejected, got {result:?}");
    };
    assert_eq!(lines_of(&errors), [2, 3]);
    assert!(errors[0].reason.contains("备注 memo"), "{}", errors[0]);
    assert!(errors[1].reason.contains("ID-card"), "{}", errors[1]);
    // The refusal does not echo the number.
    assert!(
        !errors[1].reason.contains("35020319800101123X"),
        "{}",
        errors[1]
    );
    assert_eq!(engine.log().unwrap().head(), head);
}

#[test]
fn file_level_problems_are_refused_before_any_row() {
    let engine = ledger();
    let refusals = [
        (
            b"kind,amount\nrepayment,1.00\n".to_vec(),
            "业务日期 effective_date",
        ),
        (
            b"kind,effective_date,amount,colour\n".to_vec(),
            "unknown column \"colour\"",
        ),
        (
            b"kind,effective_date,amount,amount\n".to_vec(),
            "appears twice",
        ),
        (b"kind,effective_date,amount\n\xff\n".to_vec(), "not UTF-8"),
    ];
    for (bytes, expected) in refusals {
        let (result, _) = import(&engine, &bytes, false);
        let Err(error @ ExchangeError::File(_)) = result else {
            panic!("expected a file error, got {result:?}");
        };
        assert!(error.to_string().contains(expected), "{error}");
    }
    // A column that does not apply to the row's kind, and a row of the wrong width.
    let bytes = file(&[
        "repayment,2021-08-01,SM-2021-REV,,L0001,100.00,,,",
        "repayment,2021-08-01,,,L0001,100.00",
    ]);
    let parsed = parse_payments(&bytes, &user("clerk-0042")).unwrap();
    assert_eq!(lines_of(&parsed.errors), [2, 3]);
    assert!(parsed.errors[0]
        .reason
        .contains("资金 fund does not apply to a repayment"));
    assert!(parsed.errors[1]
        .reason
        .contains("6 fields but the header has 9"));
}

#[test]
fn a_payment_above_the_approval_threshold_is_applied_as_a_request() {
    let engine = ledger();
    run(
        &engine,
        "threshold",
        Command::SetApprovalThreshold {
            fund: FundId::new(REVOLVING).unwrap(),
            threshold: Some(Amount::from_yuan(5_000).unwrap()),
        },
    );
    let bytes = file(&[&loan_row("L0400", "4000.00"), &loan_row("L0401", "6000.00")]);
    let (result, _) = import(&engine, &bytes, false);
    let summary = result.unwrap();
    assert_eq!(summary.applied, 2);
    assert_eq!(summary.pending_approval, [3]);
    let last = engine
        .log()
        .unwrap()
        .read_all(engine.log().unwrap().head().next_position - 1, 1)
        .unwrap();
    assert_eq!(last[0].event_type.as_str(), "PaymentRequested");
}

#[test]
fn docs_exchange_md_shows_the_example_file_and_names_every_column() {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/EXCHANGE.md");
    let manual = std::fs::read_to_string(path).unwrap();
    let example = String::from_utf8(example()).unwrap();
    assert!(
        manual.contains(&example),
        "docs/EXCHANGE.md must show docs/examples/payments.csv exactly"
    );
    for column in ledger_exchange::CSV_EXPORT_COLUMNS {
        assert!(
            manual.contains(&format!("`{column}`")),
            "{column} is not described"
        );
    }
    for (zh, en) in ledger_exchange::IMPORT_COLUMNS {
        assert!(
            manual.contains(&format!("{zh} {en}")),
            "{zh} {en} is not described"
        );
    }
}

/// The importer's role and scope are checked like any other command's: an unknown
/// user's file applies nothing and every row says why; a row naming another member of
/// staff as its actor is refused.
#[test]
fn an_importer_without_the_right_role_applies_nothing() {
    let engine = ledger();
    let head = engine.log().unwrap().head().next_position;
    let mut rejects = Vec::new();
    let result = import_payments(
        &engine,
        &example(),
        &ImportOptions {
            actor: user("stranger"),
            skip_bad_rows: false,
            now: now(),
            language: Language::English,
        },
        &mut rejects,
        &mut |_, _| {},
    );
    match result {
        Err(ExchangeError::RowsRejected { errors }) => {
            assert!(!errors.is_empty());
            assert!(
                errors.iter().all(|e| e.reason.contains("not registered")),
                "{errors:?}"
            );
        }
        other => panic!("expected every row refused, got {other:?}"),
    }
    assert_eq!(engine.log().unwrap().head().next_position, head);

    let text = format!(
        "{HEADER},经办人 actor\nloan,2021-07-01,SM-2021-REV,H0004,L0009,100.00,city,12,,clerk-0043"
    );
    let (result, _) = import(&engine, text.as_bytes(), false);
    match result {
        Err(ExchangeError::RowsRejected { errors }) => {
            assert_eq!(errors[0].line, 2);
            assert!(
                errors[0].reason.contains("records only as themselves"),
                "{errors:?}"
            );
        }
        other => panic!("expected the row refused, got {other:?}"),
    }
    assert_eq!(engine.log().unwrap().head().next_position, head);
}
