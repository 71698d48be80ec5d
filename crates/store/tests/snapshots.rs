//! Proves the snapshot store used by higher layers: a saved snapshot comes back with
//! its position on every backend, a newer one replaces it, names are checked, and a
//! damaged snapshot file is reported (callers then replay the log instead).

mod common;

use common::*;
use ledger_store::{Log, MemoryBackend, SledBackend, SNAPSHOT_DIR, SNAPSHOT_SYNC_BYTES};

#[test]
fn snapshots_round_trip_and_replace_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let sled_log = create(SledBackend::open(dir.path()).unwrap());
    let memory_log = create(MemoryBackend::new());
    fn check<B: ledger_store::Backend>(log: &Log<B>) {
        assert_eq!(log.load_snapshot::<Vec<String>>("model").unwrap(), None);
        log.save_snapshot("model", 7, &vec!["三明".to_string(), "fund".to_string()])
            .unwrap();
        log.save_snapshot("model", 9, &vec!["newer".to_string()])
            .unwrap();
        assert_eq!(
            log.load_snapshot::<Vec<String>>("model").unwrap(),
            Some((9, vec!["newer".to_string()]))
        );
        assert!(log.save_snapshot("../escape", 1, &1u8).is_err());
    }
    check(&sled_log);
    check(&memory_log);
    drop(sled_log);
    let reopened = Log::open(SledBackend::open(dir.path()).unwrap(), None, clock()).unwrap();
    assert_eq!(
        reopened
            .load_snapshot::<Vec<String>>("model")
            .unwrap()
            .unwrap()
            .0,
        9
    );
}

#[test]
fn a_snapshot_written_in_synced_pieces_comes_back_whole() {
    // Larger than two pieces and not a whole number of them (decision 0030).
    let dir = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(dir.path()).unwrap());
    let words = (2 * SNAPSHOT_SYNC_BYTES + 12_345) / 8;
    let big: Vec<u64> = (0..words as u64)
        .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .collect();
    log.save_snapshot("big", 11, &big).unwrap();
    let file = dir.path().join(SNAPSHOT_DIR).join("big.snap");
    assert!(std::fs::metadata(&file).unwrap().len() > 2 * SNAPSHOT_SYNC_BYTES as u64);
    assert!(!dir.path().join(SNAPSHOT_DIR).join("big.next").exists());
    drop(log);
    let reopened = Log::open(SledBackend::open(dir.path()).unwrap(), None, clock()).unwrap();
    assert_eq!(
        reopened.load_snapshot::<Vec<u64>>("big").unwrap(),
        Some((11, big))
    );
}

#[test]
fn a_damaged_snapshot_is_reported_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(dir.path()).unwrap());
    log.save_snapshot("model", 3, &vec![1u64, 2, 3]).unwrap();
    let path = dir.path().join(SNAPSHOT_DIR).join("model.snap");
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let err = log.load_snapshot::<Vec<u64>>("model").unwrap_err();
    assert_eq!(err.code(), "corruption");
    assert!(err.to_string().contains("snapshot model"), "{err}");
}

/// The sled backend maps a snapshot's file (decision 0034): bytes loaded before the
/// snapshot is replaced or removed stay what they were, because the store never writes
/// a snapshot's file in place; an empty file, which cannot be mapped, is read.
#[test]
fn a_loaded_snapshot_keeps_its_bytes_while_the_file_is_replaced_or_removed() {
    use ledger_store::{Backend as _, SnapshotSource as _};
    let dir = tempfile::tempdir().unwrap();
    let backend = SledBackend::open(dir.path()).unwrap();
    let first: Vec<u8> = (0..3 * 4096 + 17).map(|i| (i % 251) as u8).collect();
    let second = vec![7u8; 5000];
    backend.save_snapshot("model", &first).unwrap();
    let held = backend.load_snapshot("model").unwrap().unwrap();
    assert!(format!("{held:?}").contains("mapped"), "{held:?}");
    backend.save_snapshot("model", &second).unwrap();
    assert_eq!(&*held, &first[..]);
    let newer = backend.load_snapshot("model").unwrap().unwrap();
    assert_eq!(&*newer, &second[..]);
    backend.remove_snapshot("model").unwrap();
    assert!(backend.load_snapshot("model").unwrap().is_none());
    assert_eq!(&*newer, &second[..]);
    assert_eq!(&*held, &first[..]);
    backend.save_snapshot("empty", &[]).unwrap();
    assert!(backend.load_snapshot("empty").unwrap().unwrap().is_empty());
}

/// A data directory's snapshot files read before its backend opens (decision 0035)
/// are the snapshots the backend saved: an engine's open loads checkpoints that way
/// while sled recovers. A missing directory holds none.
#[test]
fn snapshot_files_read_before_the_backend_opens_are_what_it_saved() {
    use ledger_store::{SnapshotFiles, SnapshotSource as _};
    let dir = tempfile::tempdir().unwrap();
    let files = SnapshotFiles::of(dir.path());
    assert!(files.load_snapshot("model").unwrap().is_none());
    {
        let log = create(SledBackend::open(dir.path()).unwrap());
        log.save_snapshot("model", 41, &vec!["三明".to_string()])
            .unwrap();
    }
    let loaded = ledger_store::load_snapshot::<_, Vec<String>>(&files, "model").unwrap();
    assert_eq!(loaded, Some((41, vec!["三明".to_string()])));
    assert!(files.load_snapshot("other").unwrap().is_none());
    let outside = files.load_snapshot("../model").unwrap_err();
    assert!(
        outside.to_string().contains("naming a snapshot"),
        "{outside}"
    );
    let log = Log::open(SledBackend::open(dir.path()).unwrap(), None, clock()).unwrap();
    assert_eq!(
        log.load_snapshot::<Vec<String>>("model").unwrap(),
        Some((41, vec!["三明".to_string()]))
    );
}
