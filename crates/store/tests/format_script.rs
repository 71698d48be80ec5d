//! Proves that docs/FORMAT.md is enough to read the log without this crate: the
//! independent decoder docs/tools/ledger_record.py, written from that document alone,
//! verifies both committed golden chains (SHA-256 and SM3) to the head hash the Rust
//! code stored, decodes golden records to the values tests/golden.rs pins, refuses a
//! newer format version, and names position 1 when one byte of record 1 is flipped.
//! Each test runs the script with `python3` from PATH; without it the tests fail
//! (CI has python3), they never skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn golden(name: &str) -> PathBuf {
    manifest_dir().join("tests/golden/v1").join(name)
}

/// A golden file of format version 2 (a header and a compressed chunk).
fn golden_v2(name: &str) -> PathBuf {
    manifest_dir().join("tests/golden/v2").join(name)
}

fn golden_chain(algorithm: &str) -> Vec<PathBuf> {
    (0..4)
        .map(|i| golden(&format!("{algorithm}-record-{i}.bin")))
        .collect()
}

/// Runs `python3 docs/tools/ledger_record.py <args>`.
fn script(args: &[&str], files: &[PathBuf]) -> Output {
    let path = manifest_dir().join("../../docs/tools/ledger_record.py");
    Command::new("python3")
        .arg(&path)
        .args(args)
        .args(files)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `python3 {}` ({e}): these tests need Python 3 on PATH to check \
                 docs/FORMAT.md with its independent decoder; install python3",
                path.display()
            )
        })
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("the script prints UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what}: the script failed with {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The stored hash of a stored value: its last 32 bytes, in hex.
fn stored_hash_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("golden record is committed");
    hex(&bytes[bytes.len() - 32..])
}

#[test]
fn script_verifies_both_golden_chains_to_the_last_stored_hash() {
    for algorithm in ["sha256", "sm3"] {
        let files = golden_chain(algorithm);
        let output = script(&["verify", "--hash", algorithm], &files);
        assert_success(&output, &format!("verify {algorithm}"));
        let out = stdout(&output);
        let head = out
            .lines()
            .find_map(|line| line.strip_prefix("head_hash "))
            .unwrap_or_else(|| panic!("no head_hash line in:\n{out}"));
        assert_eq!(head, stored_hash_hex(&files[3]), "{algorithm} head hash");
        assert!(out.contains("intact: 4 records"), "{out}");
    }
}

#[test]
fn script_refuses_a_chain_hashed_with_the_other_algorithm() {
    let output = script(&["verify", "--hash", "sm3"], &golden_chain("sha256"));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("first bad position 0 ("),
        "{}",
        stderr(&output)
    );
}

#[test]
fn script_decodes_golden_records_to_the_pinned_values() {
    let files = [golden("sha256-record-1.bin"), golden("sm3-record-3.bin")];
    let output = script(&["decode"], &files);
    assert_success(&output, "decode");
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "one JSON line per file:\n{out}");

    // The values of golden.rs's second and fourth events.
    let record_1 = [
        "\"position\": 1".to_string(),
        format!(
            "\"prev_hash\": \"{}\"",
            stored_hash_hex(&golden("sha256-record-0.bin"))
        ),
        format!("\"hash\": \"{}\"", stored_hash_hex(&files[0])),
        "\"recorded_at_ms\": 1609459200001".into(),
        "\"command_id\": \"cmd-0002\"".into(),
        "\"command_event_index\": 0".into(),
        "\"command_event_count\": 2".into(),
        "\"stream\": \"fund-SM-2021-REVOLVING\"".into(),
        "\"stream_version\": 1".into(),
        "\"event_type\": \"LoanDisbursed\"".into(),
        "\"schema_version\": 1".into(),
        "\"actor\": \"clerk-0042\"".into(),
        "\"effective_date\": \"2021-03-15\"".into(),
        "\"memo\": \"第十七批\"".into(),
        "\"payload\": \"00010203fffe\"".into(),
    ];
    let record_3 = [
        "\"position\": 3".to_string(),
        "\"command_id\": \"cmd-0003\"".into(),
        "\"stream\": \"fund-SM-2021-BURSARY\"".into(),
        "\"event_type\": \"BursaryAwarded\"".into(),
        "\"schema_version\": 2".into(),
        "\"actor\": \"clerk-0007\"".into(),
        "\"effective_date_days\": 10956".into(),
        "\"effective_date\": \"1999-12-31\"".into(),
        "\"memo\": \"金秋助学\"".into(),
        format!("\"payload\": \"{}\"", hex(&(0u8..=255).collect::<Vec<_>>())),
    ];
    for (line, expected) in [(lines[0], &record_1[..]), (lines[1], &record_3[..])] {
        for field in expected {
            assert!(line.contains(field.as_str()), "{field} missing in:\n{line}");
        }
    }
}

#[test]
fn script_decodes_the_golden_headers_and_refuses_a_newer_format_version() {
    for (file, version) in [(golden("header.bin"), 1), (golden_v2("header.bin"), 2)] {
        let output = script(&["header"], std::slice::from_ref(&file));
        assert_success(&output, "header");
        let out = stdout(&output);
        for field in [
            format!("\"format_version\": {version}"),
            "\"hash_algorithm\": \"sha256\"".into(),
            "\"created_at_ms\": 1609459200000".into(),
        ] {
            assert!(out.contains(&field), "{field} missing in:\n{out}");
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let newer = dir.path().join("header.bin");
    let mut bytes = std::fs::read(golden_v2("header.bin")).unwrap();
    bytes[8] = 3; // format_version, u16 little-endian at offset 8
    std::fs::write(&newer, bytes).unwrap();
    let output = script(&["header"], &[newer]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("newer"), "{}", stderr(&output));
}

#[test]
fn script_names_position_1_when_one_byte_of_record_1_is_flipped() {
    let dir = tempfile::tempdir().unwrap();
    let copies: Vec<PathBuf> = golden_chain("sha256")
        .iter()
        .map(|original| {
            let copy = dir.path().join(original.file_name().unwrap());
            std::fs::copy(original, &copy).unwrap();
            copy
        })
        .collect();
    // The untouched copies verify, so a failure below comes from the flipped byte.
    assert_success(
        &script(&["verify", "--hash", "sha256"], &copies),
        "verify the untouched copies",
    );
    let original = std::fs::read(&copies[1]).unwrap();
    let last = original.len() - 1;
    // Layout byte, position, prev_hash, recorded_at_ms, the command id's length, a
    // payload byte and the stored hash: each is caught, and blamed on position 1.
    for offset in [0, 1, 9, 41, 49, last - 33, last] {
        let mut altered = original.clone();
        altered[offset] ^= 0x01;
        std::fs::write(&copies[1], &altered).unwrap();
        let output = script(&["verify", "--hash", "sha256"], &copies);
        let err = stderr(&output);
        assert_eq!(
            output.status.code(),
            Some(1),
            "byte {offset} flipped: the script must fail\nstdout:\n{}\nstderr:\n{err}",
            stdout(&output)
        );
        assert!(
            err.contains("first bad position 1 ("),
            "byte {offset} flipped: {err}"
        );
        assert!(!stdout(&output).contains("head_hash"), "byte {offset}");
    }
}

/// Each JSON line of the script's output from the first field of the record on: the
/// file and entry names differ between `decode` and `chunk`, the records must not.
fn record_fields(out: &str) -> Vec<String> {
    out.lines()
        .map(|line| {
            let at = line
                .find("\"layout\"")
                .unwrap_or_else(|| panic!("no layout in {line}"));
            line[at..].to_string()
        })
        .collect()
}

#[test]
fn script_reads_the_golden_compressed_chunk_as_the_golden_records() {
    let chunk = script(&["chunk"], &[golden_v2("sha256-chunk-0.bin")]);
    assert_success(&chunk, "chunk");
    let records = script(&["decode"], &golden_chain("sha256"));
    assert_success(&records, "decode");
    assert_eq!(
        record_fields(&stdout(&chunk)),
        record_fields(&stdout(&records))
    );
}

/// Chunks whose records hold long runs of incompressible and of repeated bytes, so
/// that the LZ4 blocks have literal and match lengths extended by bytes of 255: the
/// script decodes each compressed chunk to the payloads the Rust code packed.
#[test]
fn script_decompresses_chunks_with_long_literals_and_long_matches() {
    use ledger_store::codec::{self, Placement};
    use ledger_store::{Actor, CommandId, EventType, ExpectedVersion, Memo, NewEvent, StreamName};

    let mut noise = 0x9e37_79b9_7f4a_7c15_u64;
    let payloads: Vec<Vec<u8>> = (0..6u8)
        .map(|i| {
            let mut payload: Vec<u8> = (0..300 + usize::from(i) * 100)
                .map(|_| {
                    noise ^= noise << 13;
                    noise ^= noise >> 7;
                    noise ^= noise << 17;
                    noise.to_le_bytes()[0]
                })
                .collect();
            payload.extend(std::iter::repeat_n(i, 1_000 + usize::from(i) * 90));
            payload
        })
        .collect();
    let command_id = CommandId::new("cmd-runs").unwrap();
    let values: Vec<Vec<u8>> = payloads
        .iter()
        .enumerate()
        .map(|(position, payload)| {
            let event = NewEvent {
                stream: StreamName::new("fund-runs").unwrap(),
                expected: ExpectedVersion::Any,
                event_type: EventType::new("Runs").unwrap(),
                schema_version: 1,
                payload: payload.clone(),
                actor: Actor::new("clerk-0001").unwrap(),
                effective_date: chrono::NaiveDate::from_ymd_opt(2021, 3, 15).unwrap(),
                memo: Memo::new("").unwrap(),
            };
            let position = u64::try_from(position).unwrap();
            let mut stored = codec::encode_record(
                &event,
                Placement {
                    position,
                    prev_hash: [7; 32],
                    recorded_at_ms: 1_609_459_200_000,
                    command_id: &command_id,
                    command_event_index: 0,
                    command_event_count: 1,
                    stream_version: position,
                },
            );
            stored.extend_from_slice(&[9; 32]);
            stored
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut expected = Vec::new();
    for (start, plain) in codec::encode_chunks(&values) {
        let entries = codec::chunk_entries(&plain).count();
        let packed = codec::compress_chunk(plain);
        assert_eq!(
            packed[..4],
            codec::COMPRESSED_CHUNK_TAG,
            "the chunk compresses"
        );
        let file = dir.path().join(format!("chunk-{start}.bin"));
        std::fs::write(&file, packed).unwrap();
        files.push(file);
        expected.extend(&payloads[start..start + entries]);
    }
    assert!(files.len() > 1, "the records fill several chunks");
    let output = script(&["chunk"], &files);
    assert_success(&output, "chunk");
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), payloads.len(), "one line per record:\n{out}");
    for (line, payload) in lines.iter().zip(expected) {
        let field = format!("\"payload\": \"{}\"", hex(payload));
        assert!(line.contains(&field), "{field} missing in:\n{line}");
    }
}

#[test]
fn script_names_a_damaged_compressed_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let damaged = dir.path().join("chunk.bin");
    let mut bytes = std::fs::read(golden_v2("sha256-chunk-0.bin")).unwrap();
    bytes.truncate(bytes.len() - 10);
    std::fs::write(&damaged, bytes).unwrap();
    let output = script(&["chunk"], &[damaged]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("LZ4"), "{}", stderr(&output));
}
