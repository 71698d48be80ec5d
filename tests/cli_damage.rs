//! Drives `welfare-ledger verify` (and `status`, `rebuild`) on copies of a real data
//! directory whose files were damaged, for a few representative cases of
//! `crates/store/tests/data_directory.rs`: a deleted or emptied sled database, a
//! missing or truncated journal, damaged sled files each exit 4 with a message naming
//! the file and nothing printed about a panic (`status` too: the failed `verify`
//! rewrote nothing); damaged or missing snapshots and index checkpoint lose nothing (`verify`
//! exits 0 with every event, `rebuild` finds the projections equal).

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use ledger_store::{Log, SledBackend, SystemClock, JOURNAL_FILE, SLED_DIR, SNAPSHOT_DIR};

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A ledger with a few units, and the engine's snapshots and checkpoints saved.
fn ledger_with_snapshots() -> (Ledger, u64) {
    let l = Ledger::init();
    for (code, name) in [("FJ", "福建省"), ("ZJ", "浙江省"), ("JX", "江西省")] {
        ok(l.run_as(
            "admin",
            &[
                "unit", "register", code, "--name", name, "--level", "province",
            ],
        ));
    }
    let log = Log::open(
        SledBackend::open(&l.data).unwrap(),
        None,
        Arc::new(SystemClock),
    )
    .unwrap();
    let engine = ledger_engine::Engine::open(log, Arc::new(SystemClock)).unwrap();
    let head = engine.head().next_position;
    engine.save_snapshot().unwrap();
    engine.checkpoint_projections().unwrap();
    drop(engine);
    (l, head)
}

/// A copy of the ledger with `damage` done to it.
fn damaged(original: &Ledger, damage: impl FnOnce(&Path)) -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&original.data, copy.path());
    damage(copy.path());
    copy
}

/// `verify` on a damaged copy exits 4 and names `what`.
fn reports(original: &Ledger, damage: impl FnOnce(&Path), what: &str) {
    let copy = damaged(original, damage);
    for command in ["verify", "status"] {
        let out = ledger(copy.path(), &[command]);
        let message = stderr(&out);
        assert_eq!(
            out.status.code(),
            Some(4),
            "{command}: {message}{}",
            stdout(&out)
        );
        assert!(
            message.contains(what),
            "{command}: expected {what:?} in {message}"
        );
        assert!(!message.contains("panicked"), "{message}");
    }
}

/// A change to a copy of the data directory.
type Damage = Box<dyn Fn(&Path)>;

fn truncate(path: &Path, to: impl FnOnce(u64) -> u64) {
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    let len = file.metadata().unwrap().len();
    file.set_len(to(len)).unwrap();
}

fn change_byte(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x5A;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_damaged_sled_database_or_journal_exits_4_naming_the_file() {
    let (l, head) = ledger_with_snapshots();
    let intact = ledger(&l.data, &["verify"]);
    assert!(stdout(&intact).starts_with(&format!("intact: {head} events")));

    let db = |dir: &Path| dir.join(SLED_DIR).join("db");
    // sled either starts afresh (caught by the journal's head) or finds its page table
    // (`snap.*`) pointing into the missing data: both name sled/db.
    reports(&l, |d| std::fs::remove_file(db(d)).unwrap(), "sled/db");
    reports(&l, |d| truncate(&db(d), |_| 0), "sled/db");
    // Without its page table (`snap.*`) sled reads `db` from the start; a changed
    // first byte makes it drop its data (on larger ledgers it panics, which is caught:
    // crates/store/tests/data_directory.rs). Either way: named, and no panic printed.
    reports(
        &l,
        |d| {
            for entry in std::fs::read_dir(d.join(SLED_DIR)).unwrap() {
                let path = entry.unwrap().path();
                if path
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("snap.")
                {
                    std::fs::remove_file(path).unwrap();
                }
            }
            change_byte(&db(d), 0);
        },
        "sled/db",
    );
    reports(
        &l,
        |d| change_byte(&d.join(SLED_DIR).join("conf"), 0),
        "sled/conf is damaged",
    );
    reports(
        &l,
        |d| std::fs::remove_file(d.join(JOURNAL_FILE)).unwrap(),
        "journal is missing",
    );
    reports(
        &l,
        |d| truncate(&d.join(JOURNAL_FILE), |len| len / 2),
        "it was truncated",
    );
}

#[test]
fn damaged_or_missing_snapshots_lose_nothing() {
    let (l, head) = ledger_with_snapshots();
    let snapshots: Vec<_> = std::fs::read_dir(l.data.join(SNAPSHOT_DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        snapshots.len() >= 7,
        "the model, five projections, the index: {snapshots:?}"
    );
    let cases: [(&str, Damage); 2] = [
        (
            "every snapshot deleted",
            Box::new(|d: &Path| std::fs::remove_dir_all(d.join(SNAPSHOT_DIR)).unwrap()),
        ),
        (
            "a byte of every snapshot changed",
            Box::new(|d: &Path| {
                for entry in std::fs::read_dir(d.join(SNAPSHOT_DIR)).unwrap() {
                    let path = entry.unwrap().path();
                    let len = std::fs::metadata(&path).unwrap().len();
                    change_byte(&path, usize::try_from(len / 2).unwrap());
                }
            }),
        ),
    ];
    for (what, damage) in cases {
        let copy = damaged(&l, damage);
        let out = ledger(copy.path(), &["verify"]);
        assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));
        assert!(
            stdout(&out).starts_with(&format!("intact: {head} events")),
            "{what}: {}",
            stdout(&out)
        );
        let out = ledger(copy.path(), &["rebuild"]);
        assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));
        assert!(stdout(&out).contains("equal"), "{what}: {}", stdout(&out));
    }
}
