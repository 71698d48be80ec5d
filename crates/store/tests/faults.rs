//! Proves how the log behaves when storage fails, using the fault-injecting backend:
//! a failed write or flush fails the appends of that commit with an operating error,
//! the log then refuses writes until reopened, reads keep working and never show the
//! failed batch, and after reopening a retry with the same command id appends exactly
//! once. Also: one bad batch in a group commit does not disturb the others; a probe
//! for space fails while the disk is full; a log closes only as its last handle, after
//! which the same process can open its directory again (what the engine's in-process
//! recovery relies on).

// Test data are small counts and indexes: truncating casts cannot happen here.
#![allow(clippy::cast_possible_truncation)]

mod common;

use std::sync::Arc;

use common::*;
use ledger_store::{
    AppendError, Backend as _, ExpectedVersion, FaultPlan, FaultyBackend, GroupCommitter, Log,
    MemoryBackend, SledBackend, StoreError,
};

fn open_faulty(memory: &MemoryBackend, plan: &Arc<FaultPlan>) -> Log<FaultyBackend<MemoryBackend>> {
    Log::open(
        FaultyBackend::new(memory.clone(), Arc::clone(plan)),
        None,
        clock(),
    )
    .unwrap()
}

#[test]
fn a_failed_write_fails_the_append_and_the_log_refuses_writes_until_reopened() {
    let memory = MemoryBackend::new();
    let plan = FaultPlan::new();
    let log = create(FaultyBackend::new(memory.clone(), Arc::clone(&plan)));
    log.append(batch(
        "c1",
        vec![event("fund-a", ExpectedVersion::Any, b"1")],
    ))
    .unwrap();
    plan.fail_write_in(1);
    let err = log
        .append(batch(
            "c2",
            vec![event("fund-a", ExpectedVersion::Any, b"2")],
        ))
        .unwrap_err();
    assert!(!err.is_rejection());
    assert_eq!(err.code(), "io_error");
    assert!(
        err.to_string().contains("injected fault: write failed"),
        "{err}"
    );
    let err = log
        .append(batch(
            "c3",
            vec![event("fund-a", ExpectedVersion::Any, b"3")],
        ))
        .unwrap_err();
    assert!(
        matches!(err, AppendError::Store(StoreError::Poisoned { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("reopen the ledger"), "{err}");
    // Reads still work and show only what is durable.
    assert_eq!(log.read_all(0, 10).unwrap().len(), 1);
    assert_eq!(log.head().next_position, 1);
    drop(log);
    let log = open_faulty(&memory, &plan);
    assert_eq!(log.head().next_position, 1);
    let again = log
        .append(batch(
            "c2",
            vec![event("fund-a", ExpectedVersion::Any, b"2")],
        ))
        .unwrap();
    assert_eq!((again.first_position, again.duplicate), (1, false));
    assert!(log.verify().unwrap().is_intact());
}

#[test]
fn after_a_failed_flush_a_retry_appends_exactly_once() {
    let memory = MemoryBackend::new();
    let plan = FaultPlan::new();
    let log = create(FaultyBackend::new(memory.clone(), Arc::clone(&plan)));
    log.append(batch(
        "c1",
        vec![event("fund-a", ExpectedVersion::Any, b"1")],
    ))
    .unwrap();
    // The flush fails after the write: the batch may or may not have reached the disk.
    // With the memory backend it did, which is the harder case for exactly-once.
    plan.fail_flush_in(1);
    let b = batch(
        "pay-7",
        vec![
            event("fund-a", ExpectedVersion::Any, b"7"),
            event("loan-7", ExpectedVersion::Any, b"7"),
        ],
    );
    let err = log.append(b.clone()).unwrap_err();
    assert!(err.to_string().contains("flush failed"), "{err}");
    assert_eq!(
        log.head().next_position,
        1,
        "an unacknowledged batch is not visible to readers"
    );
    assert!(log.poisoned().is_some());
    drop(log);
    let log = open_faulty(&memory, &plan);
    let retry = log.append(b.clone()).unwrap();
    assert_eq!(
        (retry.first_position, retry.count, retry.duplicate),
        (1, 2, true)
    );
    assert_eq!(log.head().next_position, 3);
    assert!(log.verify().unwrap().is_intact());
}

#[test]
fn a_write_that_lands_but_reports_failure_is_found_by_the_retry() {
    let memory = MemoryBackend::new();
    let plan = FaultPlan::new();
    let log = create(FaultyBackend::new(memory.clone(), Arc::clone(&plan)));
    plan.set_write_lands_anyway(true);
    plan.fail_write_in(1);
    let b = batch(
        "pay-1",
        vec![event("fund-a", ExpectedVersion::NoStream, b"1")],
    );
    assert!(log.append(b.clone()).is_err());
    drop(log);
    let log = open_faulty(&memory, &plan);
    let retry = log.append(b).unwrap();
    assert!(retry.duplicate);
    assert_eq!(log.head().next_position, 1);
}

#[test]
fn a_full_disk_fails_writes_cleanly_keeps_reads_and_recovers_after_reopen() {
    let memory = MemoryBackend::new();
    let plan = FaultPlan::new();
    let log = create(FaultyBackend::new(memory.clone(), Arc::clone(&plan)));
    for i in 0..5 {
        log.append(batch(
            &format!("c{i}"),
            vec![event("fund-a", ExpectedVersion::Any, b"x")],
        ))
        .unwrap();
    }
    plan.set_disk_full(true);
    let err = log
        .append(batch(
            "c5",
            vec![event("fund-a", ExpectedVersion::Any, b"x")],
        ))
        .unwrap_err();
    assert!(err.to_string().contains("No space left on device"), "{err}");
    assert_eq!(log.read_all(0, 100).unwrap().len(), 5);
    assert!(log.verify().unwrap().is_intact());
    plan.set_disk_full(false);
    // Still refused: what reached the disk is unknown until the ledger is reopened.
    assert_eq!(
        log.append(batch(
            "c5",
            vec![event("fund-a", ExpectedVersion::Any, b"x")]
        ))
        .unwrap_err()
        .code(),
        "store_poisoned"
    );
    drop(log);
    let log = open_faulty(&memory, &plan);
    assert_eq!(
        log.append(batch(
            "c5",
            vec![event("fund-a", ExpectedVersion::Any, b"x")]
        ))
        .unwrap()
        .first_position,
        5
    );
}

#[test]
fn one_rejected_batch_in_a_group_does_not_disturb_the_others() {
    let log = create(MemoryBackend::new());
    let results = log.append_group(vec![
        batch("a", vec![event("fund-a", ExpectedVersion::NoStream, b"a")]),
        batch("b", vec![event("fund-a", ExpectedVersion::NoStream, b"b")]),
        batch("empty", vec![]),
        batch("c", vec![event("fund-a", ExpectedVersion::Exact(0), b"c")]),
        batch("a", vec![event("fund-a", ExpectedVersion::NoStream, b"a")]),
        batch(
            "a",
            vec![event("fund-a", ExpectedVersion::NoStream, b"other")],
        ),
    ]);
    let summary: Vec<_> = results
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|a| (a.first_position, a.duplicate))
                .map_err(|e| e.code())
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            Ok((0, false)),
            Err("wrong_expected_version"),
            Err("empty_batch"),
            Ok((1, false)),
            Ok((0, true)),
            Err("command_id_conflict")
        ]
    );
    assert_eq!(log.head().next_position, 2);
    assert!(log.verify().unwrap().is_intact());
}

#[test]
fn a_failed_group_commit_fails_every_caller_in_it_and_loses_nothing_acknowledged() {
    let memory = MemoryBackend::new();
    let plan = FaultPlan::new();
    let committer = Arc::new(GroupCommitter::start(create(FaultyBackend::new(
        memory.clone(),
        Arc::clone(&plan),
    ))));
    plan.fail_flush_in(20);
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let committer = Arc::clone(&committer);
                scope.spawn(move || {
                    (0..50)
                        .map(|i| {
                            let id = format!("t{t}-{i}");
                            (
                                id.clone(),
                                committer.append(batch(
                                    &id,
                                    vec![event("fund-a", ExpectedVersion::Any, id.as_bytes())],
                                )),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let acknowledged: Vec<_> = outcomes
        .iter()
        .filter_map(|(id, r)| r.as_ref().ok().map(|a| (id.clone(), a.first_position)))
        .collect();
    let failed = outcomes.iter().filter(|(_, r)| r.is_err()).count();
    assert!(
        !acknowledged.is_empty() && failed > 0,
        "the fault must hit mid-run: {} ok, {failed} failed",
        acknowledged.len()
    );
    drop(committer);
    let log = open_faulty(&memory, &plan);
    for (id, position) in &acknowledged {
        assert_eq!(
            log.read_all(*position, 1).unwrap()[0].command_id.as_str(),
            id
        );
    }
    // Retrying everything appends each command exactly once.
    for (id, _) in &outcomes {
        log.append(batch(
            id,
            vec![event("fund-a", ExpectedVersion::Any, id.as_bytes())],
        ))
        .unwrap();
    }
    assert_eq!(log.head().next_position, outcomes.len() as u64);
    assert!(log.verify().unwrap().is_intact());
}

#[test]
fn a_failed_flush_on_sled_recovers_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let plan = FaultPlan::new();
    let log = create(FaultyBackend::new(
        SledBackend::open(dir.path()).unwrap(),
        Arc::clone(&plan),
    ));
    log.append(batch(
        "c1",
        vec![event("fund-a", ExpectedVersion::Any, b"1")],
    ))
    .unwrap();
    plan.fail_flush_in(1);
    let b = batch("c2", vec![event("fund-a", ExpectedVersion::Any, b"2")]);
    assert!(log.append(b.clone()).is_err());
    drop(log);
    let log = Log::open(SledBackend::open(dir.path()).unwrap(), None, clock()).unwrap();
    let retry = log.append(b).unwrap();
    assert_eq!(retry.first_position, 1);
    assert_eq!(log.head().next_position, 2);
    assert!(log.verify().unwrap().is_intact());
}

/// The in-memory backend's simulated power cut takes back exactly what was not
/// flushed: a write whose flush failed is gone after `crash`, unless the flush reached
/// the disk anyway, in which case the retry finds it.
#[test]
fn a_crash_takes_back_only_what_was_not_flushed() {
    let memory = MemoryBackend::new();
    let plan = FaultPlan::new();
    let log = create(FaultyBackend::new(memory.clone(), Arc::clone(&plan)));
    log.append(batch(
        "c1",
        vec![event("fund-a", ExpectedVersion::Any, b"1")],
    ))
    .unwrap();
    plan.fail_flush_in(1);
    assert!(log
        .append(batch(
            "c2",
            vec![event("fund-a", ExpectedVersion::Any, b"2")]
        ))
        .is_err());
    drop(log);
    memory.crash();
    let log = open_faulty(&memory, &plan);
    assert_eq!(log.head().next_position, 1, "the unflushed write is gone");
    assert!(log.verify().unwrap().is_intact());

    plan.set_flush_lands_anyway(true);
    plan.fail_flush_in(1);
    assert!(log
        .append(batch(
            "c2",
            vec![event("fund-a", ExpectedVersion::Any, b"2")]
        ))
        .is_err());
    drop(log);
    memory.crash();
    let log = open_faulty(&memory, &plan);
    assert_eq!(log.head().next_position, 2, "the flush reached the disk");
    let retry = log
        .append(batch(
            "c2",
            vec![event("fund-a", ExpectedVersion::Any, b"2")],
        ))
        .unwrap();
    assert!(retry.duplicate);
    assert_eq!(retry.first_position, 1);
}

#[test]
fn a_probe_for_space_fails_while_the_disk_is_full_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let plan = FaultPlan::new();
    let log = create(FaultyBackend::new(
        SledBackend::open(dir.path()).unwrap(),
        Arc::clone(&plan),
    ));
    log.backend().probe_writable().unwrap();
    plan.set_disk_full(true);
    let err = log.backend().probe_writable().unwrap_err();
    assert!(err.is_disk_full(), "{err:?}");
    assert!(
        err.to_string()
            .contains("No space left on device (os error 28)"),
        "{err}"
    );
    plan.set_disk_full(false);
    log.backend().probe_writable().unwrap();
    assert!(
        !dir.path().join(ledger_store::SPACE_PROBE_FILE).exists(),
        "the probe removes its file"
    );
}

#[test]
fn a_log_closes_only_as_its_last_handle_and_then_reopens_in_the_same_process() {
    let dir = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(dir.path()).unwrap());
    log.append(batch(
        "c1",
        vec![event("fund-a", ExpectedVersion::Any, b"1")],
    ))
    .unwrap();
    let head = log.head();
    let reader = log.clone();
    // Another handle is left: the log is given back, still open.
    let log = log.close().unwrap_err();
    assert_eq!(log.head(), head);
    drop(reader);
    log.close().unwrap();
    // sled's file lock is released: the same process opens the directory again.
    let reopened = Log::open(SledBackend::open(dir.path()).unwrap(), None, clock()).unwrap();
    assert_eq!(reopened.head(), head);
    assert!(reopened.verify().unwrap().is_intact());
}

#[test]
fn the_latest_records_are_read_from_memory_while_the_storage_refuses_reads() {
    let plan = FaultPlan::new();
    let log = create(FaultyBackend::new(MemoryBackend::new(), Arc::clone(&plan)));
    // 150 records of about 60 KB: more than the 8 MiB kept in memory.
    for i in 0..150u64 {
        log.append(batch(
            &format!("c{i}"),
            vec![event("fund-a", ExpectedVersion::Any, &payload(i, 60_000))],
        ))
        .unwrap();
    }
    plan.set_unreadable(true);
    // The latest records, as a follower close behind the head reads them.
    let latest = log
        .subscribe(140)
        .next_page(10, std::time::Duration::ZERO)
        .unwrap();
    assert_eq!(latest.len(), 10);
    assert_eq!(latest[9].payload, payload(149, 60_000));
    // Older ones are only in storage, which refuses reads: an error, never a gap.
    let kept = ledger_store::limits::RECENT_RECORDS_BYTES_MAX / 60_000;
    assert!(kept < 150);
    let err = log
        .subscribe(0)
        .next_page(10, std::time::Duration::ZERO)
        .unwrap_err();
    assert_eq!(err.code(), "io_error", "{err}");
    // Every other read (an export, a lookup) reads storage, the bytes on disk.
    assert_eq!(log.read_all(149, 1).unwrap_err().code(), "io_error");
    assert_eq!(log.read_raw(149, 1).unwrap_err().code(), "io_error");
    assert_eq!(log.verify().unwrap_err().code(), "io_error");
    plan.set_unreadable(false);
    assert_eq!(log.read_all(0, 150).unwrap().len(), 150);
    assert!(log.verify().unwrap().is_intact());
}
