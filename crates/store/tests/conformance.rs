//! Proves that every backend honours the same event-store contract: dense positions,
//! stream versions, expected-version checks, idempotency (also across reopen), input
//! limits, paging, subscriptions and verification. Each check is one generic function
//! run against the memory backend, the sled backend and the fault-injecting wrapper
//! with no faults planned.

// Test data are small counts and indexes: truncating casts cannot happen here.
#![allow(clippy::cast_possible_truncation)]

mod common;

use std::time::Duration;

use common::*;
use ledger_store::limits::{BATCH_EVENTS_MAX, EVENT_BYTES_MAX, READ_PAGE_EVENTS_MAX};
use ledger_store::{
    AppendError, Backend, CommandId, ExpectedVersion, FaultPlan, FaultyBackend, HashAlgorithm, Log,
    MemoryBackend, SledBackend, StoreError, GENESIS_HASH,
};

/// Runs `check` against each backend. `reopen` gives the check a way to drop the
/// log and open the same storage again, as a restarted process would.
fn for_each_backend(check: fn(&dyn Fn() -> Box<dyn Harness>)) {
    check(&|| Box::new(MemoryHarness::default()));
    check(&|| Box::new(SledHarness::new()));
    check(&|| Box::new(FaultyHarness::default()));
}

trait Harness {
    fn log(&mut self) -> &dyn ErasedLog;
    fn reopen(&mut self);
}

/// The log's API without its backend type, so checks are written once.
trait ErasedLog: Sync {
    fn append(&self, b: ledger_store::AppendBatch) -> Result<ledger_store::Appended, AppendError>;
    fn read_all(&self, from: u64, max: usize) -> Vec<ledger_store::RecordedEvent>;
    fn read_stream(&self, s: &str, from: u64, max: usize) -> Vec<ledger_store::RecordedEvent>;
    fn version(&self, s: &str) -> Option<u64>;
    fn head(&self) -> ledger_store::Head;
    fn verify(&self) -> ledger_store::VerifyReport;
    fn subscribe_collect(&self, from: u64, want: usize) -> Vec<u64>;
}

impl<B: Backend> ErasedLog for Log<B> {
    fn append(&self, b: ledger_store::AppendBatch) -> Result<ledger_store::Appended, AppendError> {
        Log::append(self, b)
    }
    fn read_all(&self, from: u64, max: usize) -> Vec<ledger_store::RecordedEvent> {
        Log::read_all(self, from, max).unwrap()
    }
    fn read_stream(&self, s: &str, from: u64, max: usize) -> Vec<ledger_store::RecordedEvent> {
        Log::read_stream(self, &stream(s), from, max).unwrap()
    }
    fn version(&self, s: &str) -> Option<u64> {
        self.stream_version(&stream(s))
    }
    fn head(&self) -> ledger_store::Head {
        Log::head(self)
    }
    fn verify(&self) -> ledger_store::VerifyReport {
        Log::verify(self).unwrap()
    }
    fn subscribe_collect(&self, from: u64, want: usize) -> Vec<u64> {
        let mut sub = self.subscribe(from);
        let mut seen = Vec::new();
        while seen.len() < want {
            let page = sub.next_page(7, Duration::from_secs(10)).unwrap();
            assert!(
                !page.is_empty(),
                "subscription stalled after {} events",
                seen.len()
            );
            seen.extend(page.iter().map(|e| e.position));
        }
        // The same events visited in place, page by page, once all are durable.
        let mut views = self.subscribe(from);
        let mut viewed = Vec::new();
        while viewed.len() < seen.len() {
            let count = views
                .next_views(7, Duration::from_secs(10), &mut |view| {
                    viewed.push(view.to_recorded());
                    Ok(())
                })
                .unwrap();
            assert!(count > 0, "views stalled after {} events", viewed.len());
        }
        viewed.truncate(seen.len());
        assert_eq!(viewed, Log::read_all(self, from, seen.len()).unwrap());
        // A visitor's refusal is corruption at that position, and the subscription
        // stays where it was.
        let mut refusing = self.subscribe(from);
        let refused = refusing
            .next_views(7, Duration::from_secs(10), &mut |view| {
                if view.position == from + 2 {
                    Err("refused".into())
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert!(
            matches!(refused, ledger_store::StoreError::Corruption { position: Some(p), .. } if p == from + 2),
            "{refused:?}"
        );
        assert_eq!(refusing.position(), from);
        seen
    }
}

#[derive(Default)]
struct MemoryHarness {
    backend: MemoryBackend,
    log: Option<Log<MemoryBackend>>,
}

impl Harness for MemoryHarness {
    fn log(&mut self) -> &dyn ErasedLog {
        let backend = self.backend.clone();
        self.log.get_or_insert_with(|| create(backend))
    }
    fn reopen(&mut self) {
        self.log = None;
        self.log = Some(Log::open(self.backend.clone(), None, clock()).unwrap());
    }
}

struct SledHarness {
    dir: tempfile::TempDir,
    log: Option<Log<SledBackend>>,
}

impl SledHarness {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = create(SledBackend::open(dir.path()).unwrap());
        SledHarness {
            dir,
            log: Some(log),
        }
    }
}

impl Harness for SledHarness {
    fn log(&mut self) -> &dyn ErasedLog {
        self.log.as_ref().unwrap()
    }
    fn reopen(&mut self) {
        self.log = None;
        let backend = SledBackend::open(self.dir.path()).unwrap();
        self.log = Some(Log::open(backend, None, clock()).unwrap());
    }
}

#[derive(Default)]
struct FaultyHarness {
    backend: MemoryBackend,
    log: Option<Log<FaultyBackend<MemoryBackend>>>,
}

impl Harness for FaultyHarness {
    fn log(&mut self) -> &dyn ErasedLog {
        let backend = FaultyBackend::new(self.backend.clone(), FaultPlan::new());
        self.log.get_or_insert_with(|| create(backend))
    }
    fn reopen(&mut self) {
        self.log = None;
        let backend = FaultyBackend::new(self.backend.clone(), FaultPlan::new());
        self.log = Some(Log::open(backend, None, clock()).unwrap());
    }
}

#[test]
fn positions_are_dense_and_streams_keep_their_own_versions() {
    for_each_backend(|make| {
        let mut h = make();
        let log = h.log();
        let a = log
            .append(batch(
                "c1",
                vec![
                    event("fund-a", ExpectedVersion::NoStream, b"1"),
                    event("fund-b", ExpectedVersion::Any, b"2"),
                ],
            ))
            .unwrap();
        assert_eq!((a.first_position, a.count, a.duplicate), (0, 2, false));
        let b = log
            .append(batch(
                "c2",
                vec![event("fund-a", ExpectedVersion::Exact(0), b"3")],
            ))
            .unwrap();
        assert_eq!(b.first_position, 2);
        assert_eq!(log.head().next_position, 3);
        assert_eq!(log.version("fund-a"), Some(1));
        assert_eq!(log.version("fund-b"), Some(0));
        assert_eq!(log.version("fund-c"), None);
        let all = log.read_all(0, 100);
        assert_eq!(
            all.iter().map(|e| e.position).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(all[0].prev_hash, GENESIS_HASH);
        assert_eq!(all[1].prev_hash, all[0].hash);
        assert_eq!(all[2].prev_hash, all[1].hash);
        assert_eq!(log.head().hash, all[2].hash);
        let a_events = log.read_stream("fund-a", 0, 100);
        assert_eq!(
            a_events
                .iter()
                .map(|e| (e.stream_version, e.payload.clone()))
                .collect::<Vec<_>>(),
            vec![(0, b"1".to_vec()), (1, b"3".to_vec())]
        );
        assert_eq!(log.read_stream("fund-a", 1, 100).len(), 1);
        assert!(log.read_stream("nothing", 0, 10).is_empty());
        assert_eq!(all[0].command_id.as_str(), "c1");
        assert_eq!(
            (all[1].command_event_index, all[1].command_event_count),
            (1, 2)
        );
        assert_eq!(all[0].recorded_at_ms, 1_600_000_000_000);
        assert!(log.verify().is_intact());
    });
}

#[test]
fn a_wrong_expected_version_rejects_the_whole_batch_and_names_the_stream() {
    for_each_backend(|make| {
        let mut h = make();
        let log = h.log();
        log.append(batch(
            "c1",
            vec![event("fund-a", ExpectedVersion::Any, b"1")],
        ))
        .unwrap();
        let err = log
            .append(batch(
                "c2",
                vec![
                    event("fund-b", ExpectedVersion::NoStream, b"2"),
                    event("fund-a", ExpectedVersion::Exact(5), b"3"),
                ],
            ))
            .unwrap_err();
        match &err {
            AppendError::WrongExpectedVersion {
                stream,
                expected,
                actual,
            } => {
                assert_eq!(stream.as_str(), "fund-a");
                assert_eq!(*expected, ExpectedVersion::Exact(5));
                assert_eq!(*actual, Some(0));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "stream fund-a is at version 0, but the append expected version 5"
        );
        let err = log
            .append(batch(
                "c3",
                vec![event("fund-a", ExpectedVersion::NoStream, b"x")],
            ))
            .unwrap_err();
        assert_eq!(err.code(), "wrong_expected_version");
        let err = log
            .append(batch(
                "c4",
                vec![event("fund-z", ExpectedVersion::Exact(0), b"x")],
            ))
            .unwrap_err();
        assert!(err.to_string().contains("no stream"), "{err}");
        // Nothing of the rejected batches was written, not even the valid first event.
        assert_eq!(log.head().next_position, 1);
        assert_eq!(log.version("fund-b"), None);
        // Versions within one batch advance event by event.
        log.append(batch(
            "c5",
            vec![
                event("fund-a", ExpectedVersion::Exact(0), b"4"),
                event("fund-a", ExpectedVersion::Exact(1), b"5"),
            ],
        ))
        .unwrap();
        assert_eq!(log.version("fund-a"), Some(2));
    });
}

#[test]
fn a_retried_command_returns_the_original_positions_even_after_reopen() {
    for_each_backend(|make| {
        let mut h = make();
        let first = batch(
            "pay-42",
            vec![
                event("fund-a", ExpectedVersion::NoStream, b"100.00"),
                event("loan-1", ExpectedVersion::NoStream, b"x"),
            ],
        );
        let original = h.log().append(first.clone()).unwrap();
        h.log()
            .append(batch(
                "other",
                vec![event("fund-a", ExpectedVersion::Any, b"y")],
            ))
            .unwrap();
        let retry = h.log().append(first.clone()).unwrap();
        assert_eq!(retry.positions(), original.positions());
        assert!(retry.duplicate);
        assert_eq!(h.log().head().next_position, 3);
        h.reopen();
        let retry = h.log().append(first.clone()).unwrap();
        assert_eq!(retry.positions(), original.positions());
        assert!(retry.duplicate);
        assert_eq!(h.log().head().next_position, 3);
        // Same id, different payload: a conflict, not a retry.
        let mut changed = first.clone();
        changed.events[0].payload = b"200.00".to_vec();
        let err = h.log().append(changed).unwrap_err();
        assert!(
            matches!(
                err,
                AppendError::CommandIdConflict {
                    first_position: 0,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("pay-42"));
        // Same id with fewer events is a conflict too.
        let mut shorter = first.clone();
        shorter.events.pop();
        assert_eq!(
            h.log().append(shorter).unwrap_err().code(),
            "command_id_conflict"
        );
        assert_eq!(h.log().head().next_position, 3);
        assert!(h.log().verify().is_intact());
    });
}

#[test]
fn bad_batches_get_their_own_errors_and_change_nothing() {
    for_each_backend(|make| {
        let mut h = make();
        let log = h.log();
        log.append(batch(
            "c0",
            vec![event("fund-a", ExpectedVersion::Any, b"0")],
        ))
        .unwrap();
        let head = log.head();

        let err = log.append(batch("empty", vec![])).unwrap_err();
        assert_eq!(err.code(), "empty_batch");
        assert_eq!(
            err.to_string(),
            "the batch of command empty holds no events"
        );

        let err = log
            .append(batch(
                "huge",
                vec![event(
                    "fund-a",
                    ExpectedVersion::Any,
                    &vec![0u8; EVENT_BYTES_MAX],
                )],
            ))
            .unwrap_err();
        assert_eq!(err.code(), "event_too_large");
        assert!(
            err.to_string()
                .contains(&format!("the maximum is {EVENT_BYTES_MAX}")),
            "{err}"
        );

        let many = (0..=BATCH_EVENTS_MAX)
            .map(|_| event("fund-a", ExpectedVersion::Any, b"x"))
            .collect();
        let err = log.append(batch("many", many)).unwrap_err();
        assert_eq!(err.code(), "batch_too_large");

        assert_eq!(log.head(), head);
        assert!(log.verify().is_intact());
    });
    let err: AppendError = ledger_store::StreamName::new("fund/../../etc")
        .unwrap_err()
        .into();
    assert_eq!(err.code(), "invalid_name");
    assert!(err.to_string().starts_with("invalid stream name"), "{err}");
    assert!(CommandId::new("").is_err());
}

#[test]
fn an_event_just_under_the_limit_is_accepted() {
    for_each_backend(|make| {
        let mut h = make();
        let log = h.log();
        // Find the largest payload that fits by probing down from the limit.
        let mut size = EVENT_BYTES_MAX;
        let accepted = loop {
            match log.append(batch(
                &format!("probe-{size}"),
                vec![event("fund-a", ExpectedVersion::Any, &vec![1u8; size])],
            )) {
                Ok(a) => break a,
                Err(AppendError::EventTooLarge { bytes, max, .. }) => size -= bytes - max,
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(accepted.first_position, 0);
        assert_eq!(log.read_all(0, 1)[0].payload.len(), size);
    });
}

#[test]
fn reads_are_paged_with_a_named_maximum() {
    for_each_backend(|make| {
        let mut h = make();
        let log = h.log();
        let events: Vec<_> = (0..(READ_PAGE_EVENTS_MAX + 5))
            .map(|i| event("fund-a", ExpectedVersion::Any, &payload(i as u64, 8)))
            .collect();
        log.append(batch("bulk-1", events[..READ_PAGE_EVENTS_MAX / 2].to_vec()))
            .unwrap();
        log.append(batch("bulk-2", events[READ_PAGE_EVENTS_MAX / 2..].to_vec()))
            .unwrap();
        assert_eq!(log.read_all(0, usize::MAX).len(), READ_PAGE_EVENTS_MAX);
        assert_eq!(
            log.read_all(READ_PAGE_EVENTS_MAX as u64, usize::MAX).len(),
            5
        );
        assert_eq!(
            log.read_all(3, 2)
                .iter()
                .map(|e| e.position)
                .collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert!(log.read_all(1_000_000, 10).is_empty());
        assert_eq!(
            log.read_stream("fund-a", 0, usize::MAX).len(),
            READ_PAGE_EVENTS_MAX
        );
    });
}

#[test]
fn a_subscription_delivers_history_then_live_events_without_gap_or_duplicate() {
    for_each_backend(|make| {
        let mut h = make();
        for i in 0..20 {
            h.log()
                .append(batch(
                    &format!("early-{i}"),
                    vec![event("fund-a", ExpectedVersion::Any, b"e")],
                ))
                .unwrap();
        }
        // A writer keeps appending while the subscriber catches up and switches to live.
        std::thread::scope(|scope| {
            let log = h.log();
            let writer = scope.spawn(|| {
                for i in 0..200 {
                    log.append(batch(
                        &format!("live-{i}"),
                        vec![event("fund-b", ExpectedVersion::Any, b"l")],
                    ))
                    .unwrap();
                }
            });
            let seen = log.subscribe_collect(5, 215);
            writer.join().unwrap();
            assert_eq!(seen, (5..220).collect::<Vec<_>>());
        });
    });
}

#[test]
fn verify_reports_an_intact_chain_with_its_head() {
    for_each_backend(|make| {
        let mut h = make();
        let empty = h.log().verify();
        assert!(empty.is_intact());
        assert_eq!(empty.events_checked, 0);
        assert_eq!(empty.head.hash, GENESIS_HASH);
        for i in 0..10 {
            h.log()
                .append(batch(
                    &format!("c{i}"),
                    vec![event("fund-a", ExpectedVersion::Any, b"v"); 3],
                ))
                .unwrap();
        }
        h.reopen();
        let report = h.log().verify();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.events_checked, 30);
        assert_eq!(report.head, h.log().head());
    });
}

#[test]
fn create_refuses_an_existing_ledger_and_open_refuses_a_missing_one_or_another_hash() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::create(
        SledBackend::open(dir.path()).unwrap(),
        HashAlgorithm::Sm3,
        clock(),
    )
    .unwrap();
    log.append(batch(
        "c1",
        vec![event("fund-a", ExpectedVersion::Any, b"1")],
    ))
    .unwrap();
    drop(log);
    let err = Log::create(
        SledBackend::open(dir.path()).unwrap(),
        HashAlgorithm::Sm3,
        clock(),
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
    let err = Log::open(
        SledBackend::open(dir.path()).unwrap(),
        Some(HashAlgorithm::Sha256),
        clock(),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "the ledger uses the sm3 hash chain, but sha256 was requested: open it without choosing a hash algorithm, or use another directory");
    let log = Log::open(SledBackend::open(dir.path()).unwrap(), None, clock()).unwrap();
    assert_eq!(log.algorithm(), HashAlgorithm::Sm3);
    assert!(log.verify().unwrap().is_intact());
    let err = Log::open(MemoryBackend::new(), None, clock()).unwrap_err();
    assert_eq!(err.code(), "not_a_ledger");
}

#[test]
fn sm3_and_sha256_chains_differ_and_both_verify() {
    let mut heads = Vec::new();
    for algorithm in [HashAlgorithm::Sha256, HashAlgorithm::Sm3] {
        let log = Log::create(MemoryBackend::new(), algorithm, clock()).unwrap();
        log.append(batch(
            "c1",
            vec![event("fund-a", ExpectedVersion::Any, b"1")],
        ))
        .unwrap();
        assert!(log.verify().unwrap().is_intact());
        heads.push(log.head().hash);
    }
    assert_ne!(heads[0], heads[1]);
}
