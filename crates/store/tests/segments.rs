//! sled's segment size is fixed when its database is created (decision 0026): a new
//! ledger gets `SLED_SEGMENT_BYTES`, and a database created with another size (sled's
//! default of 512 KiB, as every data directory before 2026-11-27) opens with its own,
//! keeps it, and loses nothing across reopens.

mod common;

use common::*;
use ledger_store::{sled_segment_bytes, Log, SledBackend, SLED_DIR, SLED_SEGMENT_BYTES};

/// sled's default segment size, which the data directories of earlier builds have.
const SLED_DEFAULT_SEGMENT_BYTES: usize = 512 * 1024;

fn conf_text(dir: &std::path::Path) -> String {
    let conf = std::fs::read(dir.join(SLED_DIR).join("conf")).unwrap();
    String::from_utf8_lossy(&conf[..conf.len() - 4]).into_owned()
}

/// Opens the ledger in `dir`, checks that it holds exactly `events` intact records,
/// appends `more`, and closes it.
fn reopen_check_and_append(dir: &std::path::Path, events: u64, more: u64) {
    let log = Log::open(SledBackend::open(dir).unwrap(), None, clock()).unwrap();
    let report = log.verify().unwrap();
    assert!(report.first_break.is_none());
    assert_eq!(report.events_checked, events);
    let read = log.read_all(0, usize::MAX).unwrap();
    assert_eq!(read.len(), usize::try_from(events).unwrap());
    for (i, record) in read.iter().enumerate() {
        assert_eq!(record.payload, payload(u64::try_from(i).unwrap(), 300));
    }
    append_numbered(&log, events, events + more);
}

#[test]
fn a_new_ledger_gets_the_larger_segments() {
    let dir = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(dir.path()).unwrap());
    append_numbered(&log, 0, 50);
    drop(log);
    assert!(
        conf_text(dir.path()).contains(&format!("segment_size: {SLED_SEGMENT_BYTES}\n")),
        "{}",
        conf_text(dir.path())
    );
    assert_eq!(
        sled_segment_bytes(&dir.path().join(SLED_DIR)),
        SLED_SEGMENT_BYTES
    );
    reopen_check_and_append(dir.path(), 50, 10);
    reopen_check_and_append(dir.path(), 60, 0);
}

#[test]
fn a_database_created_with_sleds_default_segments_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let sled_dir = dir.path().join(SLED_DIR);
    // The database as an earlier build created it: sled's default configuration.
    drop(sled::Config::new().path(&sled_dir).open().unwrap());
    assert!(
        conf_text(dir.path()).contains(&format!("segment_size: {SLED_DEFAULT_SEGMENT_BYTES}\n"))
    );
    assert_eq!(sled_segment_bytes(&sled_dir), SLED_DEFAULT_SEGMENT_BYTES);

    // Enough records to fill several of its segments, across reopens.
    let log = create(SledBackend::open(dir.path()).unwrap());
    append_numbered(&log, 0, 3_000);
    drop(log);
    reopen_check_and_append(dir.path(), 3_000, 2_000);
    reopen_check_and_append(dir.path(), 5_000, 0);
    assert!(
        conf_text(dir.path()).contains(&format!("segment_size: {SLED_DEFAULT_SEGMENT_BYTES}\n"))
    );
    let db_bytes = std::fs::metadata(sled_dir.join("db")).unwrap().len();
    assert!(
        db_bytes > 2 * SLED_DEFAULT_SEGMENT_BYTES as u64,
        "the records span several segments: {db_bytes} bytes"
    );
}
