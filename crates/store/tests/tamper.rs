//! Proves that the hash chain exposes alteration. Each test writes a ledger, copies
//! its data directory, changes stored bytes in the copy through sled itself (as an
//! insider with access to the database could), and checks that `verify` — or, for
//! damage that open can see without hashing, `open` — names the altered position.

// Test data are small counts and indexes: truncating casts cannot happen here.
#![allow(clippy::cast_possible_truncation)]

mod common;

use common::*;
use ledger_store::codec::{record_key, HEAD_KEY};
use ledger_store::{ExpectedVersion, Log, SledBackend, StoreError, LOG_TREE, SLED_DIR};

fn ledger_with(events: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(dir.path()).unwrap());
    for i in 0..events {
        log.append(batch(
            &format!("c{i}"),
            vec![event("fund-a", ExpectedVersion::Any, &payload(i, 200))],
        ))
        .unwrap();
    }
    dir
}

fn copy_dir(from: &std::path::Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for entry in walk(from) {
        let target = to.path().join(entry.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
    to
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Changes the sled value at `key` (header or head marker) in a copy of the ledger.
fn alter(dir: &std::path::Path, key: &[u8], change: impl FnOnce(&mut Vec<u8>)) {
    let db = raw_sled(&dir.join(SLED_DIR));
    let tree = db.open_tree(LOG_TREE).unwrap();
    let mut value = tree.get(key).unwrap().unwrap().to_vec();
    change(&mut value);
    tree.insert(key, value).unwrap();
    db.flush().unwrap();
}

/// Changes the stored value (record ‖ hash) of the record at `position`, inside the
/// chunk that holds it; `None` from `change` removes the record from its chunk.
fn alter_record(dir: &std::path::Path, position: u64, change: impl FnOnce(&mut Vec<u8>) -> bool) {
    let db = raw_sled(&dir.join(SLED_DIR));
    let tree = db.open_tree(LOG_TREE).unwrap();
    let (key, chunk) = tree
        .range(&b"R"[..]..=&record_key(position)[..])
        .next_back()
        .unwrap()
        .unwrap();
    let first = u64::from_be_bytes(key[1..].try_into().unwrap());
    let mut values = chunk_values(&chunk);
    let index = usize::try_from(position - first).unwrap();
    if !change(&mut values[index]) {
        values.remove(index);
    }
    rewrite_chunk(&tree, &key, &values);
    db.flush().unwrap();
}

/// The position named by open (damage visible without hashing) or else by verify.
fn first_break(dir: &std::path::Path) -> (u64, String) {
    let log = match Log::open(SledBackend::open(dir).unwrap(), None, clock()) {
        Ok(log) => log,
        Err(StoreError::Corruption {
            position: Some(p),
            what,
        }) => return (p, what),
        Err(e) => panic!("{e}"),
    };
    let report = log.verify().unwrap();
    let b = report.first_break.expect("verify must find the alteration");
    (b.position, b.problem)
}

#[test]
fn a_changed_payload_byte_is_named_by_position() {
    let original = ledger_with(100);
    drop(Log::open(SledBackend::open(original.path()).unwrap(), None, clock()).unwrap());
    let copy = copy_dir(original.path());
    // Flip one byte in the middle of record 37's payload.
    alter_record(copy.path(), 37, |v| {
        let i = v.len() - 32 - 50;
        v[i] ^= 0x01;
        true
    });
    let (position, problem) = first_break(copy.path());
    assert_eq!(position, 37);
    assert!(problem.contains("altered"), "{problem}");
    // The original is untouched and verifies.
    let log = Log::open(SledBackend::open(original.path()).unwrap(), None, clock()).unwrap();
    assert!(log.verify().unwrap().is_intact());
}

#[test]
fn a_changed_prev_hash_or_stored_hash_is_named_by_position() {
    let original = ledger_with(20);
    let copy = copy_dir(original.path());
    // Byte 9 of the record is the first byte of its prev_hash (after layout and position).
    alter_record(copy.path(), 5, |v| {
        v[9] ^= 0xFF;
        true
    });
    assert_eq!(first_break(copy.path()).0, 5);

    let copy = copy_dir(original.path());
    alter_record(copy.path(), 11, |v| {
        let last = v.len() - 1;
        v[last] ^= 0x80;
        true
    });
    assert_eq!(first_break(copy.path()).0, 11);
}

#[test]
fn an_undecodable_or_missing_record_stops_open_with_its_position() {
    let original = ledger_with(20);
    let copy = copy_dir(original.path());
    alter_record(copy.path(), 7, |v| {
        v.truncate(40);
        true
    });
    let err = Log::open(SledBackend::open(copy.path()).unwrap(), None, clock()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Corruption {
                position: Some(7),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.code(), "corruption");
    // Verification from storage reports the same position without opening the log.
    let report = Log::verify_storage(&SledBackend::open(copy.path()).unwrap()).unwrap();
    assert_eq!(report.first_break.map(|b| b.position), Some(7));

    let copy = copy_dir(original.path());
    alter_record(copy.path(), 12, |_| false);
    let err = Log::open(SledBackend::open(copy.path()).unwrap(), None, clock()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Corruption {
                position: Some(12),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_changed_last_record_or_head_marker_stops_open() {
    let original = ledger_with(20);
    let copy = copy_dir(original.path());
    alter_record(copy.path(), 19, |v| {
        v[60] ^= 0x01;
        true
    });
    let err = Log::open(SledBackend::open(copy.path()).unwrap(), None, clock()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Corruption {
                position: Some(19),
                ..
            }
        ),
        "{err}"
    );

    let copy = copy_dir(original.path());
    // The journal's checkpoint frame also records the head, and open trusts it over
    // sled's copy (an emptied or shortened journal is refused by name): an insider who
    // rewrites the head marker must write a journal that agrees with it too.
    let mut head = Vec::new();
    alter(copy.path(), HEAD_KEY, |v| {
        v[0] = 25;
        head = v.clone();
    });
    let mut journal = ledger_store::codec::encode_journal_frame(25, &head, &[]);
    journal.resize(journal.len() + 1024 * 1024, 0);
    std::fs::write(copy.path().join(ledger_store::JOURNAL_FILE), journal).unwrap();
    // Refused as soon as the journal is replayed: sled lacks records the head names.
    let err = SledBackend::open(copy.path())
        .and_then(|backend| Log::open(backend, None, clock()))
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Corruption {
                position: Some(20),
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("25 events"), "{err}");
}

#[test]
fn a_newer_format_version_is_refused_with_a_clear_error() {
    let original = ledger_with(1);
    let copy = copy_dir(original.path());
    alter(copy.path(), ledger_store::codec::HEADER_KEY, |v| v[8] = 3);
    let err = Log::open(SledBackend::open(copy.path()).unwrap(), None, clock()).unwrap_err();
    assert_eq!(err.to_string(), "the ledger was written in format version 3; this program reads up to version 2: upgrade welfare-ledger");
}
