//! Proves the sled backend's redo journal: records that sled lost are replayed from
//! the journal on open; a frame torn by a crash at the journal's end is dropped (it
//! was never acknowledged); damage in the middle of the journal is reported, never
//! skipped; and a checkpoint empties the journal.

mod common;

use std::io::Write as _;

use common::*;
use ledger_store::codec::{HEAD_KEY, RECORD_KEY_PREFIX};
use ledger_store::{
    ExpectedVersion, Log, SledBackend, StoreError, JOURNAL_FILE, LOG_TREE, SLED_DIR,
};

/// A ledger with `events` appended and not closed: the data directory is copied
/// while the log is open, as a crash at that moment would leave it.
fn ledger_with(events: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(dir.path()).unwrap());
    for i in 0..events {
        log.append(batch(
            &format!("c{i}"),
            vec![event("fund-a", ExpectedVersion::Any, &payload(i, 100))],
        ))
        .unwrap();
    }
    let copy = tempfile::tempdir().unwrap();
    copy_tree(dir.path(), copy.path());
    copy
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

fn journal_len(dir: &std::path::Path) -> u64 {
    std::fs::metadata(dir.join(JOURNAL_FILE)).unwrap().len()
}

#[test]
fn records_sled_lost_are_replayed_from_the_journal() {
    let dir = ledger_with(30);
    assert!(
        journal_len(dir.path()) > 0,
        "appends since the last checkpoint are in the journal"
    );
    // Make sled forget everything after creation, as if its buffers never reached the disk.
    {
        let db = raw_sled(&dir.path().join(SLED_DIR));
        let tree = db.open_tree(LOG_TREE).unwrap();
        let keys: Vec<_> = tree
            .range(&[RECORD_KEY_PREFIX][..]..)
            .keys()
            .map(Result::unwrap)
            .collect();
        for key in keys {
            tree.remove(key).unwrap();
        }
        tree.remove(HEAD_KEY).unwrap();
        db.flush().unwrap();
    }
    let log = Log::open(SledBackend::open(dir.path()).unwrap(), None, clock()).unwrap();
    assert_eq!(log.head().next_position, 30);
    assert!(log.verify().unwrap().is_intact());
    assert_eq!(log.read_all(29, 1).unwrap()[0].payload, payload(29, 100));
    // Open checkpoints: only the checkpoint frame is left, then preallocated zeros.
    let bytes = std::fs::read(dir.path().join(JOURNAL_FILE)).unwrap();
    let first_len = 12 + u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert!(first_len < 100, "a checkpoint frame holds no records");
    assert!(bytes[first_len..].iter().all(|&b| b == 0));
    assert!(journal_len(dir.path()) >= ledger_store::JOURNAL_GROWTH_BYTES);
}

/// Byte offsets of the journal's frames and the offset where zeros begin.
fn frame_offsets(bytes: &[u8]) -> (Vec<usize>, usize) {
    let mut offsets = Vec::new();
    let mut offset = 0;
    while offset + 12 <= bytes.len() && bytes[offset..offset + 4] == *b"WLJ1" {
        offsets.push(offset);
        offset +=
            12 + u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().unwrap()) as usize;
    }
    (offsets, offset)
}

#[test]
fn a_torn_frame_at_the_end_of_the_journal_is_dropped() {
    let dir = ledger_with(5);
    let path = dir.path().join(JOURNAL_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let (offsets, end) = frame_offsets(&bytes);
    assert_eq!(
        offsets.len(),
        6,
        "a checkpoint frame and one frame per append"
    );
    // Half of a copy of the last frame where the next frame would go, as a crash in
    // the middle of a flush leaves it.
    let last = bytes[offsets[5]..end].to_vec();
    bytes[end..end + last.len() / 2].copy_from_slice(&last[..last.len() / 2]);
    std::fs::write(&path, &bytes).unwrap();
    let log = Log::open(SledBackend::open(dir.path()).unwrap(), None, clock()).unwrap();
    assert_eq!(log.head().next_position, 5);
    assert!(log.verify().unwrap().is_intact());
    log.append(batch(
        "after",
        vec![event("fund-a", ExpectedVersion::Any, b"x")],
    ))
    .unwrap();
    assert_eq!(log.head().next_position, 6);
}

#[test]
fn a_damaged_frame_header_in_the_middle_is_reported_not_taken_for_a_torn_tail() {
    for (what, byte) in [("magic", 0usize), ("length", 5)] {
        let dir = ledger_with(5);
        let path = dir.path().join(JOURNAL_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let (offsets, _) = frame_offsets(&bytes);
        bytes[offsets[2] + byte] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        let err = SledBackend::open(dir.path()).unwrap_err();
        assert!(
            matches!(err, StoreError::Corruption { .. }),
            "{what}: {err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("journal frame at byte {}", offsets[2])),
            "{what}: {err}"
        );
        assert!(
            err.to_string().contains("an intact frame follows"),
            "{what}: {err}"
        );
    }
}

#[test]
fn damage_in_the_middle_of_the_journal_is_reported_not_skipped() {
    let dir = ledger_with(5);
    let path = dir.path().join(JOURNAL_FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 0x01; // inside the first frame's payload; four intact frames follow
    std::fs::write(&path, &bytes).unwrap();
    let err = SledBackend::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Corruption { .. }), "{err}");
    assert!(err.to_string().contains("journal frame at byte 0"), "{err}");
    assert!(err.to_string().contains("checksum"), "{err}");
}

#[test]
fn a_journal_that_does_not_connect_to_the_log_is_reported() {
    let dir = ledger_with(3);
    let path = dir.path().join(JOURNAL_FILE);
    // Keep the checkpoint frame (an empty log) and the last frame, dropping the two
    // between them: the last frame starts at position 2, but the log before it ends at 0.
    let bytes = std::fs::read(&path).unwrap();
    let mut offset = 0;
    let mut frames = Vec::new();
    // Frames follow each other until the zero-filled, preallocated rest of the file.
    while offset < bytes.len() && bytes[offset..offset + 4] == *b"WLJ1" {
        let len =
            12 + u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().unwrap()) as usize;
        frames.push(bytes[offset..offset + len].to_vec());
        offset += len;
    }
    // Keep the checkpoint frame (an empty log) and the last frame, dropping the two
    // between them: the last frame starts at position 2, but the log before it ends at 0.
    assert_eq!(
        frames.len(),
        4,
        "a checkpoint frame and one frame per append"
    );
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(&frames[0]).unwrap();
    file.write_all(&frames[3]).unwrap();
    {
        let db = raw_sled(&dir.path().join(SLED_DIR));
        let tree = db.open_tree(LOG_TREE).unwrap();
        let keys: Vec<_> = tree
            .range(&[RECORD_KEY_PREFIX][..]..)
            .keys()
            .map(Result::unwrap)
            .collect();
        for key in keys {
            tree.remove(key).unwrap();
        }
        tree.remove(HEAD_KEY).unwrap();
        db.flush().unwrap();
    }
    let err = SledBackend::open(dir.path()).unwrap_err();
    assert!(
        err.to_string()
            .contains("holds positions from 2 but the log before it ends at 0"),
        "{err}"
    );
}

#[test]
fn chunks_beyond_the_journaled_head_are_unacknowledged_and_removed() {
    let dir = ledger_with(5);
    // sled kept a chunk of a write whose journal frame never became durable.
    {
        let db = raw_sled(&dir.path().join(SLED_DIR));
        let tree = db.open_tree(LOG_TREE).unwrap();
        tree.insert(ledger_store::codec::record_key(5), vec![1u8, 0, 0, 0, 42])
            .unwrap();
        db.flush().unwrap();
    }
    let log = Log::open(SledBackend::open(dir.path()).unwrap(), None, clock()).unwrap();
    assert_eq!(log.head().next_position, 5);
    assert!(log.verify().unwrap().is_intact());
    let next = log
        .append(batch(
            "next",
            vec![event("fund-a", ExpectedVersion::Any, b"n")],
        ))
        .unwrap();
    assert_eq!(next.first_position, 5);
    assert_eq!(log.read_all(5, 1).unwrap()[0].payload, b"n".to_vec());
}

#[test]
fn writes_merged_into_one_frame_replay_without_overlapping_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(dir.path()).unwrap());
    // Two groups prepared before either is flushed: the first flush writes both as
    // one journal frame, while sled holds them as separate chunks.
    let first = log.prepare_group(vec![batch(
        "g1",
        (0..3)
            .map(|i| event("fund-a", ExpectedVersion::Any, &payload(i, 50)))
            .collect(),
    )]);
    let second = log.prepare_group(vec![batch(
        "g2",
        (3..5)
            .map(|i| event("fund-a", ExpectedVersion::Any, &payload(i, 50)))
            .collect(),
    )]);
    assert!(log.commit_prepared(first)[0].is_ok());
    assert!(log.commit_prepared(second)[0].is_ok());
    // sled's own copy reaches its files (chunks starting at 0 and at 3), the journal
    // is not checkpointed: recovery must replace, not overlay, those chunks.
    log.backend().db().flush().unwrap();
    let copy = tempfile::tempdir().unwrap();
    copy_tree(dir.path(), copy.path());
    drop(log);
    let log = Log::open(SledBackend::open(copy.path()).unwrap(), None, clock()).unwrap();
    assert_eq!(log.head().next_position, 5);
    assert!(log.verify().unwrap().is_intact());
    let payloads: Vec<_> = log
        .read_all(0, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.payload)
        .collect();
    assert_eq!(payloads, (0..5).map(|i| payload(i, 50)).collect::<Vec<_>>());
}
