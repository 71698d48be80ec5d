//! Proves that a JSONL export is enough to recompute the chain without this code: the
//! independent verifier docs/tools/verify_export.py (Python standard library, built on
//! docs/tools/ledger_record.py) accepts the export of a SHA-256 ledger and of an SM3
//! ledger on sled, whole and as a range, and names the first bad position when an
//! amount inside a record, a hash or a prev_hash is changed, a line is deleted or two
//! lines are swapped; it decodes the payload of every event type (docs/FORMAT.md §10)
//! and catches an amount edited only in the readable `event`. Also checks the export's
//! own fields against the log, its progress reports, and that the CSV export keeps
//! amounts exactly. The script runs with `python3` from PATH; without it the tests
//! fail, they never skip.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine as _;
use common::*;
use ledger_domain::Amount;
use ledger_engine::Engine;
use ledger_exchange::{export_csv, export_jsonl, CsvExportOptions, CSV_EXPORT_COLUMNS};
use ledger_store::{Backend, HashAlgorithm, Log, SledBackend};

fn script(path: &Path) -> Output {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/tools/verify_export.py");
    std::process::Command::new("python3")
        .arg(&script)
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `python3 {}` ({e}): these tests need Python 3 on PATH",
                script.display()
            )
        })
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn assert_intact(path: &Path, events: u64) -> String {
    let output = script(path);
    assert!(
        output.status.success(),
        "the verifier failed on an untouched export:\n{}{}",
        stdout(&output),
        stderr(&output)
    );
    let out = stdout(&output);
    assert!(out.contains(&format!("intact: {events} records")), "{out}");
    out
}

/// Runs the verifier on `lines` and returns its message, which must name `position`.
fn assert_broken_at(dir: &Path, lines: &[String], position: u64, what: &str) {
    let path = dir.join("tampered.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let output = script(&path);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{what}: must fail\n{err}");
    assert!(
        err.contains(&format!("first bad position {position} (")),
        "{what}: must name position {position}:\n{err}"
    );
}

fn ledger_with_events<B: Backend>(engine: &Engine<B>) {
    setup(engine);
    exact_amounts(engine);
}

fn export_all<B: Backend>(engine: &Engine<B>) -> (Vec<u8>, Vec<(u64, u64)>) {
    let mut out = Vec::new();
    let mut reports = Vec::new();
    let exported = export_jsonl(&engine.log().unwrap(), .., &mut out, &mut |done, total| {
        reports.push((done, total))
    })
    .unwrap();
    let head = engine.log().unwrap().head();
    assert_eq!(exported.to_position, head.next_position);
    assert_eq!(exported.last_hash, head.hash);
    (out, reports)
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_script_verifies_the_export_of_a_sha256_ledger_and_names_each_tampered_position() {
    let engine = memory_engine(HashAlgorithm::Sha256);
    ledger_with_events(&engine);
    let (bytes, reports) = export_all(&engine);
    let head = engine.log().unwrap().head().next_position;
    assert_eq!(reports.first(), Some(&(0, head)));
    assert_eq!(reports.last(), Some(&(head, head)));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.jsonl");
    std::fs::write(&path, &bytes).unwrap();
    let out = assert_intact(&path, head);
    assert!(
        out.contains(&format!(
            "last_hash {}",
            hex::encode(engine.log().unwrap().head().hash)
        )),
        "{out}"
    );

    let original = lines(&bytes);
    assert_eq!(
        original.len() as u64,
        head + 1,
        "a header and one line per event"
    );
    // The premium of ¥9,668,400.00 is the second to last event: change its amount inside
    // the record bytes (i64 fen, little-endian, docs/FORMAT.md §10) to ¥9,668,499.00.
    let target = head - 2;
    let line = usize::try_from(target + 1).unwrap();
    let mut fields: serde_json::Value = serde_json::from_str(&original[line]).unwrap();
    let base64 = base64::engine::general_purpose::STANDARD;
    let mut record = base64.decode(fields["record"].as_str().unwrap()).unwrap();
    let fen = 966_840_000_i64.to_le_bytes();
    let at = record
        .windows(8)
        .position(|w| w == fen)
        .expect("the premium's amount is in its record");
    record[at..at + 8].copy_from_slice(&966_849_900_i64.to_le_bytes());
    fields["record"] = base64.encode(&record).into();
    let mut tampered = original.clone();
    tampered[line] = fields.to_string();
    assert_broken_at(
        dir.path(),
        &tampered,
        target,
        "an amount changed inside a record",
    );

    // A changed hash breaks that line (its own check) and the next line's link.
    let mut fields: serde_json::Value = serde_json::from_str(&original[5]).unwrap();
    fields["hash"] = "ab".repeat(32).into();
    let mut tampered = original.clone();
    tampered[5] = fields.to_string();
    assert_broken_at(dir.path(), &tampered, 4, "a changed hash");

    // A prev_hash that does not link.
    let mut fields: serde_json::Value = serde_json::from_str(&original[8]).unwrap();
    fields["prev_hash"] = "00".repeat(32).into();
    let mut tampered = original.clone();
    tampered[8] = fields.to_string();
    assert_broken_at(dir.path(), &tampered, 7, "a changed prev_hash");

    // A deleted line: the position that is missing is named.
    let mut tampered = original.clone();
    tampered.remove(11);
    assert_broken_at(dir.path(), &tampered, 10, "a deleted line");

    // The last line deleted: the file ends before the header's range does.
    let mut tampered = original.clone();
    tampered.pop();
    assert_broken_at(dir.path(), &tampered, head - 1, "the last line deleted");

    // Two lines swapped.
    let mut tampered = original.clone();
    tampered.swap(20, 21);
    assert_broken_at(dir.path(), &tampered, 19, "two lines swapped");

    // The readable envelope edited to blame someone else.
    let mut fields: serde_json::Value = serde_json::from_str(&original[3]).unwrap();
    fields["event"]["actor"] = "clerk-9999".into();
    let mut tampered = original.clone();
    tampered[3] = fields.to_string();
    assert_broken_at(
        dir.path(),
        &tampered,
        2,
        "a changed actor in the decoded event",
    );
}

#[test]
fn the_script_verifies_the_export_of_an_sm3_ledger_on_sled_whole_and_as_a_range() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::create(
        SledBackend::open(dir.path().join("ledger")).unwrap(),
        HashAlgorithm::Sm3,
        clock(),
    )
    .unwrap();
    let engine = Engine::open(log, clock()).unwrap();
    ledger_with_events(&engine);
    let head = engine.log().unwrap().head().next_position;

    let (bytes, _) = export_all(&engine);
    let header: serde_json::Value = serde_json::from_str(&lines(&bytes)[0]).unwrap();
    assert_eq!(header["hash_algorithm"], "sm3");
    let path = dir.path().join("export.jsonl");
    std::fs::write(&path, &bytes).unwrap();
    assert_intact(&path, head);

    // A range in the middle verifies on its own, from the prev_hash of its first line.
    let mut out = Vec::new();
    let exported = export_jsonl(&engine.log().unwrap(), 5..12, &mut out, &mut |_, _| {}).unwrap();
    assert_eq!((exported.from_position, exported.events()), (5, 7));
    let range = lines(&out);
    assert_eq!(range.len(), 8);
    let whole = lines(&bytes);
    assert_eq!(
        range[1..],
        whole[6..13],
        "a range's lines are the whole export's lines"
    );
    std::fs::write(&path, &out).unwrap();
    let out = assert_intact(&path, 7);
    assert!(out.contains("positions 5..12"), "{out}");

    // Under the other algorithm, the first line fails.
    let mut sha = lines(&bytes);
    sha[0] = sha[0].replace("\"sm3\"", "\"sha256\"");
    assert_broken_at(dir.path(), &sha, 0, "the wrong algorithm");
}

#[test]
fn each_jsonl_line_carries_the_stored_record_and_the_decoded_event() {
    let engine = memory_engine(HashAlgorithm::Sha256);
    ledger_with_events(&engine);
    let (bytes, _) = export_all(&engine);
    let all = lines(&bytes);
    let header: serde_json::Value = serde_json::from_str(&all[0]).unwrap();
    assert_eq!(header["format"], "welfare-ledger-export");
    assert_eq!(header["version"], 1);
    assert_eq!(header["hash_algorithm"], "sha256");
    assert_eq!(header["from_position"], 0);
    assert_eq!(
        header["to_position"],
        engine.log().unwrap().head().next_position
    );

    let raw = engine.log().unwrap().read_raw(0, 10_000).unwrap();
    let base64 = base64::engine::general_purpose::STANDARD;
    for (line, raw) in all[1..].iter().zip(&raw) {
        let fields: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(fields["position"], raw.position);
        assert_eq!(fields["hash"], hex::encode(raw.hash));
        assert_eq!(
            base64.decode(fields["record"].as_str().unwrap()).unwrap(),
            raw.record
        );
        assert_eq!(fields["event"]["position"], raw.position);
    }
    // Money is a decimal string in the decoded event.
    let claim: serde_json::Value = serde_json::from_str(all.last().unwrap()).unwrap();
    assert_eq!(claim["event"]["event"]["ClaimPaid"]["amount"], "7070500.92");
    assert_eq!(claim["memo"], "三明 2021");
}

#[test]
fn an_export_range_outside_the_log_is_refused() {
    let engine = memory_engine(HashAlgorithm::Sha256);
    setup(&engine);
    let head = engine.log().unwrap().head().next_position;
    let error = export_jsonl(
        &engine.log().unwrap(),
        0..head + 1,
        &mut Vec::new(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert_eq!(error.code(), "export_range");
    // An empty range at the head is fine: a header and nothing else.
    let mut out = Vec::new();
    let exported = export_jsonl(&engine.log().unwrap(), head.., &mut out, &mut |_, _| {}).unwrap();
    assert_eq!(exported.events(), 0);
    assert_eq!(exported.last_hash, engine.log().unwrap().head().hash);
    assert_eq!(lines(&out).len(), 1);
}

#[test]
fn the_csv_export_keeps_amounts_exactly_with_bilingual_headers_and_a_bom() {
    let engine = memory_engine(HashAlgorithm::Sha256);
    ledger_with_events(&engine);
    let mut out = Vec::new();
    let mut last = (0, 0);
    let exported = export_csv(
        &engine.log().unwrap(),
        ..,
        CsvExportOptions::default(),
        &mut out,
        &mut |done, total| last = (done, total),
    )
    .unwrap();
    let head = engine.log().unwrap().head().next_position;
    assert_eq!((exported.events(), last), (head, (head, head)));
    assert!(
        out.starts_with(b"\xEF\xBB\xBF"),
        "a BOM for Excel by default"
    );

    let mut reader = csv::Reader::from_reader(&out[3..]);
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(headers, CSV_EXPORT_COLUMNS);
    let column = |name: &str| headers.iter().position(|h| h.ends_with(name)).unwrap();
    let (event, amount, tax, fund, actor, hash) = (
        column(" event"),
        column(" amount"),
        column(" tax_exclusive"),
        column(" fund"),
        column(" actor"),
        column(" hash"),
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len() as u64, head);
    let tail = &rows[rows.len() - 3..];
    assert_eq!(&tail[0][event], "AppropriationCommitted");
    assert_eq!(&tail[0][amount], "0.01");
    assert_eq!(&tail[1][event], "PremiumCollected");
    assert_eq!(&tail[1][amount], "9668400.00");
    assert_eq!(&tail[1][tax], "9668400.00");
    assert_eq!(&tail[2][event], "ClaimPaid");
    assert_eq!(&tail[2][amount], "7070500.92");
    assert_eq!(&tail[2][fund], INSURANCE);
    for (text, fen) in [
        ("0.01", 1),
        ("9668400.00", 966_840_000),
        ("7070500.92", 707_050_092),
    ] {
        assert_eq!(Amount::parse_plain(text).unwrap().fen(), fen);
    }
    // Every amount cell is plain decimal text: digits, a point, two decimals.
    for row in &rows {
        let cell = &row[amount];
        assert!(
            cell.is_empty() || Amount::parse_plain(cell).is_ok_and(|a| a.plain() == cell),
            "{cell:?} is not a plain amount"
        );
        assert_eq!(&row[actor], "admin-sm");
        assert_eq!(row[hash].len(), 64);
    }
    let raw = engine.log().unwrap().read_raw(head - 1, 1).unwrap();
    assert_eq!(&tail[2][hash], hex::encode(raw[0].hash));

    // Without the BOM the file starts with the first header.
    let mut plain = Vec::new();
    export_csv(
        &engine.log().unwrap(),
        0..1,
        CsvExportOptions { bom: false },
        &mut plain,
        &mut |_, _| {},
    )
    .unwrap();
    assert!(String::from_utf8(plain)
        .unwrap()
        .starts_with("位置 position,"));
}

#[test]
fn the_csv_export_writes_no_cell_a_spreadsheet_would_run_as_a_formula() {
    let engine = memory_engine(HashAlgorithm::Sha256);
    setup(&engine);
    let memos = [
        "=HYPERLINK(\"http://example.invalid\",\"点我\")",
        "+1+1",
        "-5 调整",
        "@SUM(A1:A9)",
        "三明 2021 =1",
    ];
    for (n, memo) in memos.iter().enumerate() {
        engine
            .submit(ledger_engine::Submission {
                command_id: format!("memo-{n}"),
                command: ledger_domain::Command::CommitAppropriation {
                    fund: ledger_domain::FundId::new(REVOLVING).unwrap(),
                    tier: ledger_domain::FundingTier::Donation,
                    amount: yuan("1.00"),
                    reference: None,
                },
                actor: user("admin-sm"),
                effective_date: day(2021, 6, 30),
                memo: (*memo).to_string(),
            })
            .unwrap();
    }
    let mut out = Vec::new();
    export_csv(
        &engine.log().unwrap(),
        ..,
        CsvExportOptions { bom: false },
        &mut out,
        &mut |_, _| {},
    )
    .unwrap();
    let mut reader = csv::Reader::from_reader(&out[..]);
    let memo = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h.ends_with(" memo"))
        .unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let cells: Vec<&str> = rows[rows.len() - memos.len()..]
        .iter()
        .map(|row| &row[memo])
        .collect();
    assert_eq!(
        cells,
        [
            "'=HYPERLINK(\"http://example.invalid\",\"点我\")",
            "'+1+1",
            "'-5 调整",
            "'@SUM(A1:A9)",
            "三明 2021 =1",
        ]
    );
    // No cell of any row starts like a formula.
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell:?} would run as a formula"
            );
        }
    }
    // The auditor's export keeps each memo exactly.
    let (jsonl, _) = export_all(&engine);
    let exported: Vec<String> = lines(&jsonl)[1..]
        .iter()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|line| {
            line["event"]["command_id"]
                .as_str()
                .unwrap()
                .starts_with("memo-")
        })
        .map(|line| line["memo"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(exported, memos);
}

#[test]
fn the_script_decodes_every_event_type_and_catches_an_edited_amount_in_the_readable_event() {
    let engine = memory_engine(HashAlgorithm::Sha256);
    ledger_with_events(&engine);
    every_event_type(&engine);
    let (bytes, _) = export_all(&engine);
    let original = lines(&bytes);
    let types: std::collections::BTreeSet<String> = original[1..]
        .iter()
        .map(|line| {
            let fields: serde_json::Value = serde_json::from_str(line).unwrap();
            let body = fields["event"]["event"].as_object().unwrap();
            body.keys().next().unwrap().clone()
        })
        .collect();
    let all: std::collections::BTreeSet<String> = ledger_domain::Event::TYPES
        .iter()
        .map(|t| t.to_string())
        .collect();
    assert_eq!(types, all, "the ledger must hold every event type");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.jsonl");
    std::fs::write(&path, &bytes).unwrap();
    let head = engine.log().unwrap().head().next_position;
    assert_intact(&path, head);

    // The CSV export has a row for each of them too, with the reversal's subject.
    let mut csv_bytes = Vec::new();
    export_csv(
        &engine.log().unwrap(),
        ..,
        CsvExportOptions { bom: false },
        &mut csv_bytes,
        &mut |_, _| {},
    )
    .unwrap();
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(&csv_bytes[..])
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len() as u64, head);
    let reversal = rows.iter().find(|r| &r[5] == "EventReversed").unwrap();
    assert!(reversal[8].starts_with("position:"), "{reversal:?}");
    assert_eq!(&reversal[10], "1234.56");

    // The ¥7,070,500.92 claim, shown as ¥70,500.92 in the readable part only: the chain
    // still holds, but the verifier decodes the payload and names the field.
    let line = original
        .iter()
        .position(|l| l.contains("\"ClaimPaid\""))
        .unwrap();
    let mut fields: serde_json::Value = serde_json::from_str(&original[line]).unwrap();
    let position = fields["position"].as_u64().unwrap();
    fields["event"]["event"]["ClaimPaid"]["amount"] = "70500.92".into();
    let mut tampered = original.clone();
    tampered[line] = fields.to_string();
    assert_broken_at(
        dir.path(),
        &tampered,
        position,
        "an amount edited in the readable event",
    );
    let path = dir.path().join("tampered.jsonl");
    let err = stderr(&script(&path));
    assert!(err.contains("event.event.ClaimPaid.amount"), "{err}");
}

#[test]
fn an_export_refuses_a_stored_record_that_was_altered_and_names_its_position() {
    let engine = memory_engine(HashAlgorithm::Sha256);
    setup(&engine);
    let raw = engine.log().unwrap().read_raw(5, 1).unwrap().pop().unwrap();
    let mut stored = raw.record.clone();
    let last = stored.len() - 1;
    stored[last] ^= 0x01; // the payload's last byte
    stored.extend_from_slice(&raw.hash);
    engine.log().unwrap().backend().overwrite_record(5, stored);
    for result in [
        export_jsonl(&engine.log().unwrap(), .., &mut Vec::new(), &mut |_, _| {}),
        export_csv(
            &engine.log().unwrap(),
            3..8,
            CsvExportOptions::default(),
            &mut Vec::new(),
            &mut |_, _| {},
        ),
    ] {
        let error = result.unwrap_err();
        assert_eq!(error.code(), "corruption");
        assert!(error.to_string().contains("position 5"), "{error}");
    }
    // A range after it still links: its first record is checked against position 5's
    // stored hash, which was left as it was.
    export_jsonl(&engine.log().unwrap(), 6.., &mut Vec::new(), &mut |_, _| {}).unwrap();
}
