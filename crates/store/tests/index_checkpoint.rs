//! Proves the index checkpoint (decision 0010) is only an accelerator: its encoding
//! is pinned by a golden file and round-trips; a ledger reopened from a checkpoint has
//! exactly the indexes (stream versions, command spans, retries) of one rebuilt from
//! position 0; a stale checkpoint (taken before a crash, with appends after it) is
//! extended by decoding the tail; and a checkpoint the log does not prove (of another
//! history, beyond the head, damaged) is ignored. Alterations of the tail are still
//! refused on open, and `verify` still checks every record.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use ledger_store::codec::{
    decode_index_checkpoint, encode_index_checkpoint, IndexCheckpoint, INDEX_CHECKPOINT_VERSION,
};
use ledger_store::{
    CommandId, ExpectedVersion, Log, SledBackend, StoreError, INDEX_CHECKPOINT, SNAPSHOT_DIR,
};

fn golden() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/index-checkpoint-v1.bin")
}

fn sample() -> IndexCheckpoint {
    IndexCheckpoint {
        next_position: 7,
        head_hash: [0xA5; 32],
        command_key_probe: 0x0102_0304_0506_0708_090A_0B0C_0D0E_0F10,
        streams: vec![
            ("fund-HP-001".into(), vec![0, 2, 300]),
            ("unit-FJ".into(), vec![1, 3, 4, 5, 6]),
        ],
        commands: vec![(7, 3, 4), (42, 2, 1), (u128::MAX, 0, 2)],
    }
}

#[test]
fn an_index_checkpoint_has_pinned_bytes_and_round_trips() {
    let bytes = encode_index_checkpoint(&sample());
    if std::env::var_os("WELFARE_BLESS_GOLDEN").is_some() && !golden().exists() {
        std::fs::write(golden(), &bytes).unwrap();
    }
    let pinned = std::fs::read(golden()).expect("the golden index checkpoint");
    assert_eq!(bytes, pinned, "version 1 of the index checkpoint changed");
    assert_eq!(decode_index_checkpoint(&pinned).unwrap(), sample());
    assert_eq!(
        u16::from_le_bytes([pinned[0], pinned[1]]),
        INDEX_CHECKPOINT_VERSION
    );
    // Every shortened copy, and one with a byte more, is refused, never misread.
    for end in 0..pinned.len() {
        assert!(decode_index_checkpoint(&pinned[..end]).is_err(), "{end}");
    }
    let mut longer = pinned.clone();
    longer.push(0);
    assert!(decode_index_checkpoint(&longer).is_err());
    let mut newer = pinned;
    newer[0] = 2;
    assert!(decode_index_checkpoint(&newer).is_err());
}

/// Appends `commands` commands from `from`: command `n` has 1 + n % 3 events on
/// streams `s{n % 5}` and `t{n % 2}`, each expecting its stream's exact version.
fn append(log: &Log<SledBackend>, from: u64, commands: u64) {
    for n in from..from + commands {
        let events = (0..1 + n % 3)
            .map(|i| {
                let name = if i % 2 == 0 {
                    format!("s{}", n % 5)
                } else {
                    format!("t{}", n % 2)
                };
                (name, i)
            })
            .collect::<Vec<_>>();
        let mut planned: std::collections::HashMap<String, Option<u64>> = Default::default();
        let events = events
            .into_iter()
            .map(|(name, i)| {
                let current = *planned
                    .entry(name.clone())
                    .or_insert_with(|| log.stream_version(&stream(&name)));
                let expected = current.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
                planned.insert(name.clone(), Some(current.map_or(0, |v| v + 1)));
                event(&name, expected, &payload(n * 10 + i, 40))
            })
            .collect();
        log.append(batch(&format!("cmd-{n}"), events)).unwrap();
    }
}

/// What the indexes answer: every stream's version and every command's span.
fn indexes(log: &Log<SledBackend>, commands: u64) -> Vec<String> {
    let mut out: Vec<String> = ["s0", "s1", "s2", "s3", "s4", "t0", "t1", "none"]
        .iter()
        .map(|s| format!("{s}: {:?}", log.stream_version(&stream(s))))
        .collect();
    for n in 0..commands + 2 {
        let id = CommandId::new(format!("cmd-{n}")).unwrap();
        out.push(format!("cmd-{n}: {:?}", log.command_span(&id)));
    }
    out.push(format!("head {:?}", log.head()));
    out
}

fn open(dir: &Path) -> Log<SledBackend> {
    Log::open(SledBackend::open(dir).unwrap(), None, clock()).unwrap()
}

fn checkpoint_file(dir: &Path) -> PathBuf {
    dir.join(SNAPSHOT_DIR)
        .join(format!("{INDEX_CHECKPOINT}.snap"))
}

/// The indexes of the ledger in `dir` as an open without any checkpoint sees them.
fn rebuilt_from_zero(dir: &Path, commands: u64) -> Vec<String> {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(dir, copy.path());
    let _ = std::fs::remove_file(checkpoint_file(copy.path()));
    indexes(&open(copy.path()), commands)
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A long tail after the checkpoint (more than an eighth of its events) joins the
/// checkpoint's sorted command keys at open; a short one goes into the hash maps of
/// recent commands. Either way the indexes equal a rebuild from position 0 (itself a
/// long tail).
#[test]
fn a_stale_checkpoint_is_extended_by_the_tail_and_equals_a_rebuild() {
    // 40 commands are 79 events; 25 more are 50 events, 3 more are 6.
    for tail in [25, 3] {
        a_stale_checkpoint_extended_by(tail);
    }
}

fn a_stale_checkpoint_extended_by(tail: u64) {
    let dir = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(dir.path()).unwrap());
    append(&log, 0, 40);
    let checkpoint = log.head().next_position;
    assert_eq!(log.save_index_checkpoint().unwrap(), checkpoint);
    // Appends after the checkpoint, then the process ends without a clean close.
    append(&log, 40, tail);
    let end = 40 + tail;
    let expected = indexes(&log, end);
    drop(log);
    let reopened = open(dir.path());
    assert_eq!(reopened.opened_from_index_checkpoint(), Some(checkpoint));
    assert_eq!(indexes(&reopened, end), expected);
    assert_eq!(rebuilt_from_zero(dir.path(), end), expected);
    // The reopened indexes keep working: retries are found, versions are checked.
    let reused = reopened.append(batch(
        "cmd-3",
        vec![event("s3", ExpectedVersion::Any, &payload(999, 40))],
    ));
    assert_eq!(
        reused.unwrap_err().code(),
        "command_id_conflict",
        "a command id from before the checkpoint is known"
    );
    let stale = reopened.append(batch(
        "new",
        vec![event("s0", ExpectedVersion::Exact(0), &payload(1, 40))],
    ));
    assert!(stale.is_err(), "a stale expected version is refused");
    let reused_tail = reopened.append(batch(
        &format!("cmd-{}", end - 1),
        vec![event("s3", ExpectedVersion::Any, &payload(999, 40))],
    ));
    assert_eq!(
        reused_tail.unwrap_err().code(),
        "command_id_conflict",
        "a command id of the tail is known"
    );
    append(&reopened, end, 5);
    assert!(reopened.verify().unwrap().is_intact());
    // A checkpoint of an index that started from one merges the old and new commands.
    let expected = indexes(&reopened, end + 5);
    let second = reopened.save_index_checkpoint().unwrap();
    drop(reopened);
    let again = open(dir.path());
    assert_eq!(again.opened_from_index_checkpoint(), Some(second));
    assert_eq!(indexes(&again, end + 5), expected);
    drop(again);
    assert_eq!(rebuilt_from_zero(dir.path(), end + 5), expected);
    // A checkpoint of an empty log is proven by the genesis hash.
    let empty = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(empty.path()).unwrap());
    assert_eq!(log.save_index_checkpoint().unwrap(), 0);
    drop(log);
    assert_eq!(open(empty.path()).opened_from_index_checkpoint(), Some(0));
}

/// Appends `commands` commands from `from` as `append` does, but in groups of a
/// thousand and expecting any version: quick enough for tails that an open decodes in
/// two pieces.
fn append_in_groups(log: &Log<SledBackend>, from: u64, commands: u64) {
    let numbers: Vec<u64> = (from..from + commands).collect();
    for group in numbers.chunks(1_000) {
        let batches = group
            .iter()
            .map(|&n| {
                let events = (0..1 + n % 3)
                    .map(|i| {
                        let name = if i % 2 == 0 {
                            format!("s{}", n % 5)
                        } else {
                            format!("t{}", n % 2)
                        };
                        event(&name, ExpectedVersion::Any, &payload(n * 10 + i, 8))
                    })
                    .collect();
                batch(&format!("cmd-{n}"), events)
            })
            .collect();
        for appended in log.append_group(batches) {
            appended.unwrap();
        }
    }
}

/// A tail of 65,536 records or more is decoded in two pieces, on two threads, split
/// within a command or between two. The indexes equal those the log had before it
/// was closed, from position 0 and after a checkpoint alike.
#[test]
fn a_tail_decoded_in_two_pieces_gives_the_indexes_the_log_had() {
    let dir = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(dir.path()).unwrap());
    append_in_groups(&log, 0, 20);
    let checkpoint = log.save_index_checkpoint().unwrap();
    // About 70,000 events after the checkpoint, in commands of one to three events.
    append_in_groups(&log, 20, 35_000);
    let end = 35_020;
    assert!(log.head().next_position - checkpoint >= 65_536);
    let expected = indexes(&log, end);
    drop(log);
    let reopened = open(dir.path());
    assert_eq!(reopened.opened_from_index_checkpoint(), Some(checkpoint));
    assert_eq!(indexes(&reopened, end), expected);
    drop(reopened);
    assert_eq!(rebuilt_from_zero(dir.path(), end), expected);
}

#[test]
fn a_checkpoint_the_log_does_not_prove_is_ignored() {
    // Two ledgers share their first 30 commands byte for byte (same clock); then they differ.
    let long = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(long.path()).unwrap());
    append(&log, 0, 50);
    log.save_index_checkpoint().unwrap();
    drop(log);
    let short = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(short.path()).unwrap());
    append(&log, 0, 30);
    let expected_short = indexes(&log, 50);
    drop(log);
    let other = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(other.path()).unwrap());
    append(&log, 1000, 50);
    let expected_other = indexes(&log, 50);
    drop(log);
    std::fs::create_dir_all(short.path().join(SNAPSHOT_DIR)).unwrap();
    std::fs::create_dir_all(other.path().join(SNAPSHOT_DIR)).unwrap();

    // Beyond the head: the long ledger's checkpoint under the short one.
    std::fs::copy(checkpoint_file(long.path()), checkpoint_file(short.path())).unwrap();
    let reopened = open(short.path());
    assert_eq!(reopened.opened_from_index_checkpoint(), None);
    assert_eq!(indexes(&reopened, 50), expected_short);
    drop(reopened);
    // Another history of the same length.
    std::fs::copy(checkpoint_file(long.path()), checkpoint_file(other.path())).unwrap();
    let reopened = open(other.path());
    assert_eq!(reopened.opened_from_index_checkpoint(), None);
    assert_eq!(indexes(&reopened, 50), expected_other);
    drop(reopened);
    // The long ledger's own checkpoint is used.
    assert!(open(long.path()).opened_from_index_checkpoint().is_some());
    // Damaged: one flipped bit in the long ledger's own checkpoint.
    let expected_long = rebuilt_from_zero(long.path(), 50);
    let mut bytes = std::fs::read(checkpoint_file(long.path())).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(checkpoint_file(long.path()), bytes).unwrap();
    let reopened = open(long.path());
    assert_eq!(reopened.opened_from_index_checkpoint(), None);
    assert_eq!(indexes(&reopened, 50), expected_long);
}

#[test]
fn a_broken_link_after_the_checkpoint_is_still_refused_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(dir.path()).unwrap());
    append(&log, 0, 20);
    let checkpoint = log.save_index_checkpoint().unwrap();
    append(&log, 20, 20);
    let head = log.head().next_position;
    drop(log);
    // Remove a record of the tail from its chunk: the next one no longer links.
    let db = raw_sled(&dir.path().join(ledger_store::SLED_DIR));
    let tree = db.open_tree(ledger_store::LOG_TREE).unwrap();
    let target = checkpoint + (head - checkpoint) / 2;
    let (key, chunk) = tree
        .range(&b"R"[..]..=&ledger_store::codec::record_key(target)[..])
        .next_back()
        .unwrap()
        .unwrap();
    let first = u64::from_be_bytes(key[1..].try_into().unwrap());
    let mut values = chunk_values(&chunk);
    // Swap two neighbouring records' stored values when the chunk holds both.
    let i = usize::try_from(target - first).unwrap();
    let j = if i + 1 < values.len() { i + 1 } else { i - 1 };
    values.swap(i, j);
    rewrite_chunk(&tree, &key, &values);
    db.flush().unwrap();
    drop(tree);
    drop(db);
    match Log::open(SledBackend::open(dir.path()).unwrap(), None, clock()) {
        Err(StoreError::Corruption {
            position: Some(p), ..
        }) => assert!(p >= checkpoint, "{p} < {checkpoint}"),
        other => panic!("expected corruption in the tail, got {other:?}"),
    }
}

#[test]
fn checkpoints_taken_while_commands_are_appended_equal_a_rebuild() {
    // The checkpoint is copied out of the index in pieces while commits go on
    // (decision 0030): each must still hold exactly the index at its position.
    let dir = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(dir.path()).unwrap());
    append(&log, 0, 50);
    let appender = {
        let log = log.clone();
        std::thread::spawn(move || append(&log, 50, 400))
    };
    let mut saved = Vec::new();
    while !appender.is_finished() {
        saved.push(log.save_index_checkpoint().unwrap());
    }
    appender.join().unwrap();
    let last = *saved.last().unwrap();
    assert!(saved.windows(2).all(|w| w[0] <= w[1]), "{saved:?}");
    let head = log.head().next_position;
    assert!(
        saved.iter().filter(|&&p| p > saved[0] && p < head).count() > 1,
        "checkpoints were taken among the appends: {saved:?}"
    );
    let expected = indexes(&log, 450);
    drop(log);
    let reopened = open(dir.path());
    assert_eq!(reopened.opened_from_index_checkpoint(), Some(last));
    assert_eq!(indexes(&reopened, 450), expected);
    drop(reopened);
    assert_eq!(rebuilt_from_zero(dir.path(), 450), expected);
}
