//! Proves what a damaged data directory does, file by file. A real sled data
//! directory (600 events in 4 KiB chunks, an index checkpoint and a snapshot) is
//! closed cleanly, once (sled keeps its data in `db` alone) and again after another
//! open (sled's page table in `snap.*` too). Then each of its files (the journal,
//! sled's `conf`, `db` and `snap.*`, the snapshot, the index checkpoint) is, in a
//! copy, deleted, truncated to 0, to half and by one byte, and has a byte changed at
//! several offsets. A third copy is taken as a crash leaves it, with 20 acknowledged
//! events only in the journal (sled lost them), for the journal's cases. For every
//! case, `SledBackend::open` + `Log::open` + `verify` either recover fully (the same
//! head, position and hash, and an intact chain: nothing acknowledged is missing) or
//! report an error naming the file (and the byte offset or position where known); a
//! second open reports it again (the failed open rewrote nothing). Never a panic,
//! never an open with fewer events.
//!
//! One case is a known limit and is asserted as such: damage to the journal's last
//! frame cannot be told from a write torn by a crash, so that frame is dropped and its
//! events are lost if sled had not written them yet (docs/RELIABILITY.md).
//!
//! `cargo test -p ledger-store --test data_directory -- --nocapture` prints the table.

// Test data are small counts and offsets: truncating casts cannot happen here.
#![allow(clippy::cast_possible_truncation)]

mod common;

use std::path::{Path, PathBuf};

use common::*;
use ledger_store::codec::{record_key, RECORD_KEY_PREFIX};
use ledger_store::{
    Head, Log, SledBackend, INDEX_CHECKPOINT, JOURNAL_FILE, LOG_TREE, SLED_DIR, SNAPSHOT_DIR,
};

const EVENTS: u64 = 600;
/// Events appended after the clean close, one per journal frame, in the crash copy.
const EVENTS_AFTER: u64 = 20;

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for file in walk(from) {
        let target = to.join(file.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, &target).unwrap();
    }
}

/// Appends events `from..to`; on reaching `EVENTS / 2` saves an index checkpoint and
/// a snapshot there.
fn append(log: &Log<SledBackend>, from: u64, to: u64) {
    let half = EVENTS / 2;
    if (from..to).contains(&(half - 1)) {
        append_numbered(log, from, half);
        log.save_index_checkpoint().unwrap();
        log.save_snapshot("model", half, &(half, vec![7u64; 100]))
            .unwrap();
        append_numbered(log, half, to);
    } else {
        append_numbered(log, from, to);
    }
}

struct Ledgers {
    /// Written and closed once: sled has no `snap.*` yet.
    fresh: tempfile::TempDir,
    /// Then opened and closed again, as a ledger in use is: sled keeps its page table
    /// in a `snap.*` file beside `db`.
    clean: tempfile::TempDir,
    head: Head,
    /// A copy as a crash leaves it, with `EVENTS_AFTER` more acknowledged events that
    /// only the journal holds.
    crashed: tempfile::TempDir,
    crashed_head: Head,
}

fn ledgers() -> Ledgers {
    let clean = tempfile::tempdir().unwrap();
    let head = {
        let log = create(SledBackend::open(clean.path()).unwrap());
        append(&log, 0, EVENTS);
        log.head()
    };
    let fresh = tempfile::tempdir().unwrap();
    copy_dir(clean.path(), fresh.path());
    drop(Log::open(SledBackend::open(clean.path()).unwrap(), None, clock()).unwrap());
    let scratch = tempfile::tempdir().unwrap();
    copy_dir(clean.path(), scratch.path());
    let crashed = tempfile::tempdir().unwrap();
    let crashed_head = {
        let log = Log::open(SledBackend::open(scratch.path()).unwrap(), None, clock()).unwrap();
        append(&log, EVENTS, EVENTS + EVENTS_AFTER);
        // Copied while the log is open, as a crash leaves the directory.
        copy_dir(scratch.path(), crashed.path());
        log.head()
    };
    // sled lost everything after the clean close: only the journal holds it.
    {
        let db = raw_sled(&crashed.path().join(SLED_DIR));
        let tree = db.open_tree(LOG_TREE).unwrap();
        let stale: Vec<_> = tree
            .range(&record_key(EVENTS)[..]..&[RECORD_KEY_PREFIX + 1][..])
            .keys()
            .map(Result::unwrap)
            .collect();
        for key in stale {
            tree.remove(key).unwrap();
        }
        db.flush().unwrap();
    }
    Ledgers {
        fresh,
        clean,
        head,
        crashed,
        crashed_head,
    }
}

/// What one damaged copy did.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Opened with the same head (position and hash); the chain verifies.
    Recovered,
    /// Opening or `verify` reported the damage.
    Detected(String),
    /// Opened with fewer events than were acknowledged, or different ones.
    Lost(String),
    Panicked,
}

fn outcome(dir: &Path, head: Head) -> Outcome {
    let run = std::panic::catch_unwind(|| {
        let backend = match SledBackend::open(dir) {
            Ok(backend) => backend,
            Err(e) => return Outcome::Detected(e.to_string()),
        };
        let log = match Log::open(backend, None, clock()) {
            Ok(log) => log,
            Err(e) => return Outcome::Detected(e.to_string()),
        };
        let report = match log.verify() {
            Ok(report) => report,
            Err(e) => return Outcome::Detected(format!("verify: {e}")),
        };
        if let Some(b) = report.first_break {
            return Outcome::Detected(format!("verify: position {}: {}", b.position, b.problem));
        }
        if log.head() != head {
            return Outcome::Lost(format!(
                "opened with {} events, {} were acknowledged",
                log.head().next_position,
                head.next_position
            ));
        }
        Outcome::Recovered
    });
    run.unwrap_or(Outcome::Panicked)
}

/// What a case must do.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Recovered,
    /// Reported, with this text in the message.
    Detected(&'static str),
    /// Either, depending on what sled's damaged bytes held; reported with this text.
    RecoveredOrDetected(&'static str),
    /// The known limit: the events of the journal's last frame are lost.
    LastFrameLost,
}

type Damage = Box<dyn Fn(&Path)>;

fn delete() -> (String, Damage) {
    (
        "deleted".into(),
        Box::new(|p| std::fs::remove_file(p).unwrap()),
    )
}

fn truncate(name: &str, to: u64) -> (String, Damage) {
    (
        name.into(),
        Box::new(move |p| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(p)
                .unwrap()
                .set_len(to)
                .unwrap();
        }),
    )
}

fn flip(at: u64) -> (String, Damage) {
    (
        format!("byte {at} changed"),
        Box::new(move |p| {
            let mut bytes = std::fs::read(p).unwrap();
            bytes[at as usize] ^= 0x5A;
            std::fs::write(p, bytes).unwrap();
        }),
    )
}

fn truncations(len: u64) -> Vec<(String, Damage, Expect)> {
    vec![
        truncate("truncated to 0", 0),
        truncate("truncated to half", len / 2),
        truncate("truncated by 1 byte", len - 1),
    ]
    .into_iter()
    .map(|(name, damage)| (name, damage, Expect::Recovered))
    .collect()
}

/// Byte offsets of the journal's frames, and where its zeros begin.
fn frames(journal: &[u8]) -> (Vec<u64>, u64) {
    let mut offsets = Vec::new();
    let mut offset = 0usize;
    while offset + 12 <= journal.len() && journal[offset..offset + 4] == *b"WLJ1" {
        offsets.push(offset as u64);
        offset +=
            12 + u32::from_le_bytes(journal[offset + 4..offset + 8].try_into().unwrap()) as usize;
    }
    (offsets, offset as u64)
}

struct Case {
    state: &'static str,
    file: String,
    damage: String,
    expect: Expect,
    outcome: Outcome,
}

#[test]
fn every_damaged_file_is_recovered_from_or_reported_by_name() {
    let Ledgers {
        fresh,
        clean,
        head,
        crashed,
        crashed_head,
    } = ledgers();
    let len = |dir: &Path, file: &str| std::fs::metadata(dir.join(file)).unwrap().len();
    let snapshot = |name: &str| format!("{SNAPSHOT_DIR}/{name}.snap");
    let mut plan: Vec<(&str, &Path, Head, String, String, Damage, Expect)> = Vec::new();
    let mut add = |state, dir, head, file: &str, cases: Vec<(String, Damage, Expect)>| {
        for (damage, apply, expect) in cases {
            plan.push((state, dir, head, file.to_string(), damage, apply, expect));
        }
    };

    // The journal of a cleanly closed ledger: a checkpoint frame, then zeros.
    let journal = std::fs::read(clean.path().join(JOURNAL_FILE)).unwrap();
    let (_, frames_end) = frames(&journal);
    let n = journal.len() as u64;
    add("closed", clean.path(), head, JOURNAL_FILE, {
        let (d, a) = delete();
        let mut cases = vec![(d, a, Expect::Detected("journal is missing"))];
        for (name, damage, _) in truncations(n) {
            let needle = if name == "truncated to 0" {
                "journal is empty"
            } else {
                "truncated"
            };
            cases.push((name, damage, Expect::Detected(needle)));
        }
        for (at, expect) in [
            (0, Expect::Detected("journal frame at byte 0")),
            (5, Expect::Detected("journal frame at byte 0")),
            (20, Expect::Detected("journal frame at byte 0")),
            // Past the last frame: the bytes held nothing (taken for a torn write).
            (frames_end + 100, Expect::Recovered),
            (n - 1, Expect::Recovered),
        ] {
            let (d, a) = flip(at);
            cases.push((d, a, expect));
        }
        cases
    });

    // sled's configuration: missing or empty is written again; damage is reported.
    let conf = format!("{SLED_DIR}/conf");
    let n = len(clean.path(), &conf);
    add("closed", clean.path(), head, &conf, {
        let (d, a) = delete();
        let mut cases = vec![(d, a, Expect::Recovered)];
        cases.extend(truncations(n).into_iter().map(|(name, damage, _)| {
            let expect = match name.as_str() {
                "truncated to 0" => Expect::Recovered,
                _ => Expect::RecoveredOrDetected("sled/conf"),
            };
            (name, damage, expect)
        }));
        for at in [0, n / 2, n - 1] {
            let (d, a) = flip(at);
            cases.push((d, a, Expect::RecoveredOrDetected("sled/conf")));
        }
        cases
    });

    // sled's data: an emptied database is caught by the journal's head; other damage
    // by sled, by the journal's head, or by the chain.
    let db = format!("{SLED_DIR}/db");
    let n = len(clean.path(), &db);
    add("closed", clean.path(), head, &db, {
        let (d, a) = delete();
        let mut cases = vec![(d, a, Expect::Detected("sled/db"))];
        cases.extend(truncations(n).into_iter().map(|(name, damage, _)| {
            let expect = match name.as_str() {
                "truncated to 0" => Expect::Detected("sled/db"),
                _ => Expect::RecoveredOrDetected("sled/db"),
            };
            (name, damage, expect)
        }));
        for twentieth in 0..20 {
            let (d, a) = flip(n * twentieth / 20);
            cases.push((d, a, Expect::RecoveredOrDetected("sled/db")));
        }
        let (d, a) = flip(n - 1);
        cases.push((d, a, Expect::RecoveredOrDetected("sled/db")));
        cases
    });

    // sled's data before its first snap.* exists: an emptied or shortened database is
    // caught by the journal's head.
    let n = len(fresh.path(), &db);
    add("closed once", fresh.path(), head, &db, {
        let (d, a) = delete();
        let mut cases = vec![(d, a, Expect::Detected("sled/db: sled holds no ledger"))];
        cases.extend(truncations(n).into_iter().map(|(name, damage, _)| {
            let expect = match name.as_str() {
                "truncated to 0" => Expect::Detected("sled/db: sled holds no ledger"),
                _ => Expect::RecoveredOrDetected("sled/db"),
            };
            (name, damage, expect)
        }));
        for fifth in 0..5 {
            let (d, a) = flip(n * fifth / 5);
            cases.push((d, a, Expect::RecoveredOrDetected("sled/db")));
        }
        cases
    });

    // sled's page table: rebuilt from its log when missing, else checked by sled.
    let snap = std::fs::read_dir(clean.path().join(SLED_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|name| name.starts_with("snap."))
        .expect("sled keeps a snap.* file");
    let snap = format!("{SLED_DIR}/{snap}");
    let n = len(clean.path(), &snap);
    add("closed", clean.path(), head, &snap, {
        let (d, a) = delete();
        let mut cases = vec![(d, a, Expect::RecoveredOrDetected("sled/snap."))];
        cases.extend(
            truncations(n)
                .into_iter()
                .map(|(name, damage, _)| (name, damage, Expect::RecoveredOrDetected("sled/snap."))),
        );
        for at in [0, n / 2, n - 1] {
            let (d, a) = flip(at);
            cases.push((d, a, Expect::RecoveredOrDetected("sled/snap.")));
        }
        cases
    });

    // Snapshots and the index checkpoint only save work: whatever happens to them,
    // the log opens whole (the index from the records).
    for name in ["model", INDEX_CHECKPOINT] {
        let file = snapshot(name);
        let n = len(clean.path(), &file);
        add("closed", clean.path(), head, &file, {
            let (d, a) = delete();
            let mut cases = vec![(d, a, Expect::Recovered)];
            cases.extend(truncations(n));
            for at in [0, 8, 16, n / 2, n - 1] {
                let (d, a) = flip(at);
                cases.push((d, a, Expect::Recovered));
            }
            cases
        });
    }

    // The journal after a crash: frames that sled lost.
    let journal = std::fs::read(crashed.path().join(JOURNAL_FILE)).unwrap();
    let (offsets, _) = frames(&journal);
    assert_eq!(
        offsets.len() as u64,
        1 + EVENTS_AFTER,
        "a checkpoint and a frame per append"
    );
    let n = journal.len() as u64;
    add("crashed", crashed.path(), crashed_head, JOURNAL_FILE, {
        let (d, a) = delete();
        let mut cases = vec![(d, a, Expect::Detected("journal is missing"))];
        for (name, damage, _) in truncations(n) {
            let needle = if name == "truncated to 0" {
                "journal is empty"
            } else {
                "truncated"
            };
            cases.push((name, damage, Expect::Detected(needle)));
        }
        let middle = offsets[offsets.len() / 2];
        let last = *offsets.last().unwrap();
        for (at, expect) in [
            (20, Expect::Detected("journal frame at byte 0")),
            (middle + 20, Expect::Detected("an intact frame follows")),
            (last + 20, Expect::LastFrameLost),
        ] {
            let (d, a) = flip(at);
            cases.push((d, a, expect));
        }
        cases
    });

    let mut cases = Vec::new();
    for (state, dir, head, file, damage, apply, expect) in plan {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir, copy.path());
        apply(&copy.path().join(&file));
        let first = outcome(copy.path(), head);
        if let Outcome::Detected(_) = first {
            // The failed open rewrote nothing: opening again reports it again.
            assert!(
                matches!(outcome(copy.path(), head), Outcome::Detected(_)),
                "{state} {file} {damage}: a second open accepted what the first reported"
            );
        }
        cases.push(Case {
            state,
            file,
            damage,
            expect,
            outcome: first,
        });
    }

    println!("| state | file | damage | outcome |");
    println!("|---|---|---|---|");
    for case in &cases {
        let outcome = match &case.outcome {
            Outcome::Recovered => "recovered: same head, chain intact".to_string(),
            Outcome::Detected(message) => format!("reported: {message}"),
            Outcome::Lost(what) => format!("LOST: {what}"),
            Outcome::Panicked => "PANIC".to_string(),
        };
        println!(
            "| {} | `{}` | {} | {outcome} |",
            case.state, case.file, case.damage
        );
    }
    let made = cases.len();
    let recovered = cases
        .iter()
        .filter(|c| c.outcome == Outcome::Recovered)
        .count();
    let detected = cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Detected(_)))
        .count();
    println!(
        "{made} damaged copies: {recovered} recovered fully, {detected} reported, {} lost",
        made - recovered - detected
    );

    for case in &cases {
        let what = format!(
            "{} {} {}: {:?}",
            case.state, case.file, case.damage, case.outcome
        );
        match (case.expect, &case.outcome) {
            (Expect::Recovered, Outcome::Recovered) => {}
            (Expect::Detected(needle), Outcome::Detected(message)) => {
                assert!(message.contains(needle), "{what}: expected {needle:?}");
            }
            (Expect::RecoveredOrDetected(_), Outcome::Recovered) => {}
            (Expect::RecoveredOrDetected(needle), Outcome::Detected(message)) => {
                // Named by file, or by the position the chain or the head found.
                assert!(
                    message.contains(needle) || message.contains("position"),
                    "{what}: expected {needle:?} or a position"
                );
            }
            (Expect::LastFrameLost, Outcome::Lost(_)) => {}
            _ => panic!("{what}: expected {:?}", case.expect),
        }
    }
    let lost = cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Lost(_)))
        .count();
    assert_eq!(lost, 1, "only the journal's last frame is a known limit");
    // sled 0.34 panics on some damaged bytes; which ones depends on its layout, which
    // differs between runs (some runs reach it with none of 200 offsets). A panic that
    // was reached was caught and named (no `Outcome::Panicked` above); the handling
    // itself is tested deterministically in `sled_backend`'s unit tests.
    let sled_panics = cases
        .iter()
        .filter(|c| {
            matches!(&c.outcome, Outcome::Detected(m) if m.contains("sled stopped with an internal error"))
        })
        .count();
    println!("{sled_panics} cases reached a panic of sled, caught and reported");
}
