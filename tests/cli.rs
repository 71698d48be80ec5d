//! Drives the real `welfare-ledger` binary in temporary data directories: `init`
//! creates a ledger (and refuses to overwrite one), `status` and `verify` report
//! its head, `verify` exits 3 naming the first altered position, and a missing
//! ledger exits 4. Events are appended through the store's API directly.

use std::process::Command;
use std::sync::Arc;

use chrono::NaiveDate;
use ledger_store::codec::{self, record_key};
use ledger_store::{
    Actor, AppendBatch, CommandId, EventType, ExpectedVersion, Log, Memo, NewEvent, SledBackend,
    StreamName, SystemClock, LOG_TREE, SLED_DIR,
};

fn ledger(args: &[&str], data: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_welfare-ledger"))
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap()
}

fn append_some(data: &std::path::Path, n: u64) {
    let log = Log::open(
        SledBackend::open(data).unwrap(),
        None,
        Arc::new(SystemClock),
    )
    .unwrap();
    for i in 0..n {
        log.append(AppendBatch {
            command_id: CommandId::new(format!("c{i}")).unwrap(),
            events: vec![NewEvent {
                stream: StreamName::new("fund-SM-2021-BURSARY").unwrap(),
                expected: ExpectedVersion::Any,
                event_type: EventType::new("BursaryAwarded").unwrap(),
                schema_version: 1,
                payload: vec![7; 64],
                actor: Actor::new("clerk-1").unwrap(),
                effective_date: NaiveDate::from_ymd_opt(2021, 9, 1).unwrap(),
                memo: Memo::new("金秋助学").unwrap(),
            }],
        })
        .unwrap();
    }
}

#[test]
fn init_status_and_verify_report_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    let out = ledger(&["init", "--hash", "sm3"], &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("sm3 hash chain"), "{text}");
    // The first admin and their token: two events, the token shown once.
    assert!(text.contains("admin token (shown once"), "{text}");

    let again = ledger(&["init"], &data);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("a ledger already exists"));

    append_some(&data, 12);
    let out = ledger(&["status", "--json"], &data);
    assert!(out.status.success());
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["events"], 2 + 12);
    assert_eq!(status["hash_algorithm"], "sm3");
    assert_eq!(status["head_hash"].as_str().unwrap().len(), 64);

    let out = ledger(&["verify"], &data);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("intact: 14 events"));
}

#[test]
fn verify_exits_3_and_names_the_altered_position() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    assert!(ledger(&["init"], &data).status.success());
    append_some(&data, 10);
    {
        // Alter one byte of record 6 inside its sled chunk, as an insider could. sled
        // 0.34 releases its file lock a moment after the log above is dropped: wait
        // for it (up to 3 s, as `SledBackend::open` does).
        let started = std::time::Instant::now();
        let db = loop {
            match ledger_store::sled_config(&data.join(SLED_DIR)).open() {
                Ok(db) => break db,
                Err(e) if started.elapsed() < std::time::Duration::from_secs(3) => {
                    let _ = e;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("sled stayed locked: {e}"),
            }
        };
        let tree = db.open_tree(LOG_TREE).unwrap();
        // The chunk holding record 6: the last one whose first position is at most 6.
        let (key, chunk) = tree
            .range(..=record_key(6).to_vec())
            .next_back()
            .expect("a chunk at or before record 6")
            .unwrap();
        let first = u64::from_be_bytes(key[1..9].try_into().unwrap());
        // Chunks are compressed (docs/FORMAT.md §8): unpack, change, pack again.
        let mut buffer = Vec::new();
        let plain = codec::plain_chunk(&chunk, &mut buffer).unwrap();
        let mut entries: Vec<Vec<u8>> = codec::chunk_entries(plain)
            .map(|e| e.unwrap().to_vec())
            .collect();
        let index = usize::try_from(6 - first).unwrap();
        entries[index][100] ^= 0x20;
        let [(0, rebuilt)] = &codec::encode_chunks(&entries)[..] else {
            panic!("the entries of one chunk fit one chunk");
        };
        tree.insert(key, codec::compress_chunk(rebuilt.clone()))
            .unwrap();
        db.flush().unwrap();
    }
    let out = ledger(&["verify", "--json"], &data);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["intact"], false);
    assert_eq!(report["first_bad_position"], 6);
}

#[test]
fn a_missing_ledger_exits_4_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let out = ledger(&["status"], &dir.path().join("nothing-here"));
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("welfare-ledger init"));
}
