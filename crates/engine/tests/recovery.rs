//! Proves that the engine recovers from a full disk and from failed flushes without a
//! restart. The ledger lives in a real sled data directory wrapped in the
//! fault-injecting backend (`FaultyBackend<SledBackend>`), whose plan can say "the
//! disk is full" until the test says otherwise; the engine is opened with a `Reopen`
//! that opens the same directory again. While the disk is full every write fails
//! with a clear `unavailable` error naming ENOSPC, reads answer from the committed
//! model and the projections, and nothing is appended; once the disk has space the
//! engine reopens its log in the same process (sled's file lock is released and
//! taken again) and the next writes succeed through the same `Engine`. The storage
//! also refuses reads while full, as sled does after one of its own writes failed:
//! the projections still reach every acknowledged event (the log serves its latest
//! records from memory). Every
//! acknowledged command is in the log exactly once, at its answered position; every
//! command whose outcome was unknown is settled exactly once by its retry (as
//! `duplicate` if its flush had reached the disk, decided afresh if not); the chain
//! verifies and the model and projections equal a rebuild.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use ledger_domain::{
    Amount, BeneficiaryId, BeneficiaryKind, Command, FundId, FundingTier, GrantModality,
    GrantPayment, Programme, TierSplit, UnitCode, UnitLevel, UserId,
};
use ledger_engine::{Engine, EngineError, EngineOptions, Projections, Submission, WriteStatus};
use ledger_store::{
    FaultPlan, FaultyBackend, FixedClock, HashAlgorithm, Log, SledBackend, StoreError,
};

type Faulty = FaultyBackend<SledBackend>;

const FUND: &str = "HP-1";

fn clock() -> Arc<FixedClock> {
    // 2021-12-31 12:00 UTC: later than every effective date used here.
    Arc::new(FixedClock::new(1_640_952_000_000))
}

/// Recovery attempts every 5 to 40 ms, to keep the tests short.
fn options(backoff_min_ms: u64, backoff_max_ms: u64) -> EngineOptions {
    EngineOptions {
        recovery_backoff_min_ms: backoff_min_ms,
        recovery_backoff_max_ms: backoff_max_ms,
        ..EngineOptions::default()
    }
}

fn open_log(dir: &std::path::Path, plan: &Arc<FaultPlan>) -> Result<Log<Faulty>, StoreError> {
    Log::open(
        FaultyBackend::new(SledBackend::open(dir)?, Arc::clone(plan)),
        None,
        clock(),
    )
}

/// A new ledger in `dir` whose engine reopens it after a failure; `reopens` counts
/// the reopen calls, and the first `failing_reopens` of them fail.
fn open(
    dir: &std::path::Path,
    plan: &Arc<FaultPlan>,
    reopens: &Arc<AtomicU32>,
    failing_reopens: u32,
) -> Engine<Faulty> {
    open_with(dir, plan, reopens, failing_reopens, options(5, 40))
}

fn open_with(
    dir: &std::path::Path,
    plan: &Arc<FaultPlan>,
    reopens: &Arc<AtomicU32>,
    failing_reopens: u32,
    options: EngineOptions,
) -> Engine<Faulty> {
    let log = Log::create(
        FaultyBackend::new(SledBackend::open(dir).unwrap(), Arc::clone(plan)),
        HashAlgorithm::Sha256,
        clock(),
    )
    .unwrap();
    let (dir, plan, reopens) = (dir.to_path_buf(), Arc::clone(plan), Arc::clone(reopens));
    let reopen = Arc::new(move || {
        if reopens.fetch_add(1, Ordering::SeqCst) < failing_reopens {
            return Err(StoreError::Io {
                op: "opening the sled database",
                source: std::io::Error::from_raw_os_error(libc_enospc()),
            });
        }
        open_log(&dir, &plan)
    });
    Engine::open_with_recovery(log, clock(), options, reopen).unwrap()
}

/// ENOSPC on Linux (the test does not depend on libc for one constant).
fn libc_enospc() -> i32 {
    28
}

fn submission(id: &str, command: Command) -> Submission {
    Submission {
        command_id: id.to_string(),
        command,
        actor: UserId::new("admin-sm").unwrap(),
        effective_date: NaiveDate::from_ymd_opt(2021, 6, 30).unwrap(),
        memo: "三明 2021".to_string(),
    }
}

fn yuan(n: i64) -> Amount {
    Amount::parse(&n.to_string()).unwrap()
}

/// A Happiness Project fund holding ¥1,000,000 and 50 mothers.
fn setup(engine: &Engine<Faulty>) {
    let mut commands = vec![
        Command::RegisterUnit {
            unit: UnitCode::new("FJ").unwrap(),
            name: "福建省".into(),
            level: UnitLevel::Province,
            parent: None,
        },
        Command::OpenFund {
            fund: FundId::new(FUND).unwrap(),
            unit: UnitCode::new("FJ").unwrap(),
            programme: Programme::HappinessProject,
            name: "幸福工程".into(),
            fiscal_year: Some(2021),
            approval_threshold: None,
            insurance_model: None,
        },
        Command::CommitAppropriation {
            fund: FundId::new(FUND).unwrap(),
            tier: FundingTier::City,
            amount: yuan(1_000_000),
            reference: None,
        },
        Command::ReceiveAppropriation {
            fund: FundId::new(FUND).unwrap(),
            tier: FundingTier::City,
            amount: yuan(1_000_000),
            reference: None,
        },
    ];
    commands.extend((0..50).map(|b| Command::RegisterBeneficiary {
        beneficiary: BeneficiaryId::new(format!("M{b:03}")).unwrap(),
        unit: UnitCode::new("FJ").unwrap(),
        kind: BeneficiaryKind::Person,
        categories: Default::default(),
    }));
    for (n, command) in commands.into_iter().enumerate() {
        engine
            .submit(submission(&format!("setup-{n}"), command))
            .unwrap();
    }
}

/// A relief grant of ¥100 to mother `b % 50`.
fn grant(b: usize) -> Command {
    let amount = yuan(100);
    Command::PayGrant(GrantPayment {
        fund: FundId::new(FUND).unwrap(),
        beneficiary: BeneficiaryId::new(format!("M{:03}", b % 50)).unwrap(),
        modality: GrantModality::Relief,
        batch: None,
        amount,
        shares: TierSplit::single(FundingTier::City, amount).unwrap(),
    })
}

fn available(engine: &Engine<Faulty>) -> String {
    engine.read(|m| {
        m.state()
            .fund_balance(&FundId::new(FUND).unwrap())
            .unwrap()
            .available
            .to_string()
    })
}

/// Waits until writes are taken again (the engine's own recovery), or panics.
fn wait_available(engine: &Engine<Faulty>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while engine.write_status() != WriteStatus::Available {
        assert!(
            Instant::now() < deadline,
            "no recovery: {:?}",
            engine.write_status()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The whole-ledger checks: the chain verifies, every acknowledged command is in the
/// log once at its position, the model and the projections equal a rebuild.
fn check_ledger(engine: &Engine<Faulty>, acknowledged: &BTreeMap<String, u64>) {
    let log = engine.log().unwrap();
    assert!(log.verify().unwrap().is_intact());
    let head = log.head().next_position;
    let records = log.read_all(0, 10_000).unwrap();
    assert_eq!(records.len() as u64, head);
    let mut first_positions: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for record in &records {
        if record.command_event_index == 0 {
            first_positions
                .entry(record.command_id.to_string())
                .or_default()
                .push(record.position);
        }
    }
    for (id, position) in acknowledged {
        assert_eq!(
            first_positions.get(id),
            Some(&vec![*position]),
            "{id} is in the log once, where it was acknowledged"
        );
    }
    drop(log);
    let rebuilt = engine.model_at_position(head).unwrap();
    engine.read(|m| {
        assert_eq!(m.next_position(), head);
        assert_eq!(m.state(), rebuilt.state(), "the model equals a rebuild");
    });
    let incremental = engine
        .projections_after(head, Duration::from_secs(30), Projections::clone)
        .unwrap();
    assert!(
        incremental == engine.projections_at_position(head).unwrap(),
        "the projections equal a rebuild"
    );
}

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_recovers_in_process_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let plan = FaultPlan::new();
    let reopens = Arc::new(AtomicU32::new(0));
    let engine = open(dir.path(), &plan, &reopens, 0);
    setup(&engine);
    let mut acknowledged = BTreeMap::new();
    for i in 0..20 {
        let id = format!("before-{i}");
        let accepted = engine.submit(submission(&id, grant(i))).unwrap();
        acknowledged.insert(id, accepted.first_position);
    }
    let head_before = engine.head();
    let balance_before = available(&engine);
    let projections_before = engine
        .projections_after(head_before.next_position, Duration::from_secs(30), |p| {
            p.clone()
        })
        .unwrap();

    // The disk fills up, and stays full until the test says otherwise; like sled
    // after a failed write of its own, the storage refuses reads too.
    plan.set_disk_full(true);
    plan.set_unreadable(true);
    let err = engine.submit(submission("during-0", grant(0))).unwrap_err();
    assert!(matches!(err, EngineError::Recovering { .. }), "{err:?}");
    assert_eq!(err.code(), "unavailable");
    let message = err.to_string();
    assert!(
        message.contains("recovering from an IO error")
            && message.contains("No space left on device"),
        "{message}"
    );
    for i in 1..30 {
        let err = engine
            .submit(submission(&format!("during-{i}"), grant(i)))
            .unwrap_err();
        assert_eq!(err.code(), "unavailable", "{err}");
        // Reads answer meanwhile, from what was committed.
        assert_eq!(available(&engine), balance_before);
        assert_eq!(engine.head(), head_before);
        let projections = engine.projections(Projections::clone);
        assert!(projections == projections_before);
        std::thread::sleep(Duration::from_millis(5));
    }
    // The recovery keeps probing and keeps the failed log open for reads.
    match engine.write_status() {
        WriteStatus::Unavailable {
            recovering: true,
            attempts,
            last_attempt: Some(why),
            ..
        } => {
            assert!(attempts >= 1);
            assert!(why.contains("still refuses writes"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(reopens.load(Ordering::SeqCst), 0, "not reopened while full");
    // Reads of the failed log's storage fail; a subscription still gets the latest
    // records from memory, which is how the projections caught up.
    let failed = engine.log().unwrap();
    assert_eq!(failed.verify().unwrap_err().code(), "io_error");
    let latest = failed
        .subscribe(head_before.next_position - 1)
        .next_page(1, Duration::ZERO)
        .unwrap();
    assert_eq!(latest.len(), 1);
    drop(failed);
    assert_eq!(engine.head(), head_before, "nothing was appended");

    // Space returns: the same Engine takes writes again after reopening its log.
    plan.set_unreadable(false);
    plan.set_disk_full(false);
    wait_available(&engine);
    assert_eq!(reopens.load(Ordering::SeqCst), 1);
    assert_eq!(engine.recoveries(), 1);
    for i in 0..30 {
        // The refused commands are retried with their ids: none had been appended.
        let id = format!("during-{i}");
        let accepted = engine.submit(submission(&id, grant(i))).unwrap();
        assert!(!accepted.duplicate, "{id} was never appended");
        acknowledged.insert(id, accepted.first_position);
    }
    for i in 0..10 {
        let id = format!("after-{i}");
        let accepted = engine.submit(submission(&id, grant(i))).unwrap();
        acknowledged.insert(id, accepted.first_position);
    }
    assert_eq!(available(&engine), "¥994,000.00");
    check_ledger(&engine, &acknowledged);

    // The recovered directory reopens like any other, with the same ledger.
    let head = engine.head();
    drop(engine);
    let log = open_log(dir.path(), &plan).unwrap();
    assert_eq!(log.head(), head);
    assert!(log.verify().unwrap().is_intact());
}

#[test]
fn commands_whose_flush_failed_are_settled_exactly_once_by_their_retry() {
    let dir = tempfile::tempdir().unwrap();
    let plan = FaultPlan::new();
    let reopens = Arc::new(AtomicU32::new(0));
    let engine = open(dir.path(), &plan, &reopens, 0);
    setup(&engine);
    let mut acknowledged = BTreeMap::new();

    // A flush that reaches the disk and then reports failure: the caller cannot know
    // whether the command was appended.
    plan.set_flush_lands_anyway(true);
    plan.fail_flush_in(1);
    let landed = engine.submit(submission("landed", grant(1))).unwrap_err();
    assert_eq!(landed.code(), "unavailable", "{landed}");
    wait_available(&engine);
    // The reopened log holds it, and so does the committed model.
    assert_eq!(available(&engine), "¥999,900.00");
    let retry = engine.submit(submission("landed", grant(1))).unwrap();
    assert!(retry.duplicate, "settled as the command already appended");
    let again = engine.submit(submission("landed", grant(1))).unwrap();
    assert_eq!(
        (again.first_position, again.duplicate),
        (retry.first_position, true)
    );
    acknowledged.insert("landed".to_string(), retry.first_position);

    // A flush that fails without reaching the disk: the retry is decided afresh.
    plan.set_flush_lands_anyway(false);
    plan.fail_flush_in(1);
    let lost = engine.submit(submission("lost", grant(2))).unwrap_err();
    assert_eq!(lost.code(), "unavailable", "{lost}");
    wait_available(&engine);
    assert_eq!(
        available(&engine),
        "¥999,900.00",
        "the lost command is gone"
    );
    let retry = engine.submit(submission("lost", grant(2))).unwrap();
    assert!(!retry.duplicate, "appended now, once");
    acknowledged.insert("lost".to_string(), retry.first_position);
    let again = engine.submit(submission("lost", grant(2))).unwrap();
    assert_eq!(
        (again.first_position, again.duplicate),
        (retry.first_position, true)
    );
    // The same command id with another command is still refused.
    let conflict = engine.submit(submission("lost", grant(3))).unwrap_err();
    assert_eq!(conflict.code(), "command_id_conflict");

    assert_eq!(available(&engine), "¥999,800.00");
    assert_eq!(reopens.load(Ordering::SeqCst), 2);
    check_ledger(&engine, &acknowledged);
}

#[test]
fn concurrent_writers_through_a_full_disk_lose_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let plan = FaultPlan::new();
    let reopens = Arc::new(AtomicU32::new(0));
    // The first reopen fails too (the disk filled again between the probe and the
    // reopen): the log stays closed until the next attempt, and reads go on.
    let engine = Arc::new(open(dir.path(), &plan, &reopens, 1));
    setup(&engine);
    // Each writer stops after its 40th command until the disk is full, so that every
    // writer meets the full disk however fast the first ones went.
    let paused = Arc::new(AtomicU32::new(0));
    let filled = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let engine = Arc::clone(&engine);
            let (paused, filled) = (Arc::clone(&paused), Arc::clone(&filled));
            std::thread::spawn(move || {
                let mut acknowledged = BTreeMap::new();
                let mut refused = 0;
                for i in 0..150 {
                    if i == 40 {
                        paused.fetch_add(1, Ordering::SeqCst);
                        while !filled.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                    let id = format!("t{t}-{i}");
                    // Retry each command until it is acknowledged, as a client would.
                    loop {
                        match engine.submit(submission(&id, grant(t * 150 + i))) {
                            Ok(accepted) => {
                                acknowledged.insert(id, accepted.first_position);
                                break;
                            }
                            Err(e) => {
                                assert_eq!(e.code(), "unavailable", "{e}");
                                refused += 1;
                                std::thread::sleep(Duration::from_millis(2));
                            }
                        }
                    }
                }
                (acknowledged, refused)
            })
        })
        .collect();
    // Let the writers run, fill the disk for a while, then free it.
    while paused.load(Ordering::SeqCst) < 4 {
        std::thread::sleep(Duration::from_millis(1));
    }
    plan.set_disk_full(true);
    plan.set_unreadable(true);
    filled.store(true, Ordering::SeqCst);
    let full_since = Instant::now();
    while full_since.elapsed() < Duration::from_millis(300) {
        // Reads answer while the disk is full, even waiting for every acknowledged
        // event (the projector reads the latest records from memory).
        let _ = available(&engine);
        engine
            .projections_after(engine.head().next_position, Duration::from_secs(5), |p| {
                p.fund_ledger.clone()
            })
            .unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    plan.set_unreadable(false);
    plan.set_disk_full(false);
    let mut acknowledged = BTreeMap::new();
    let mut refused = 0;
    for thread in threads {
        let (acks, r) = thread.join().unwrap();
        acknowledged.extend(acks);
        refused += r;
    }
    assert!(refused > 0, "some writes met the full disk");
    assert_eq!(acknowledged.len(), 600);
    assert!(
        reopens.load(Ordering::SeqCst) >= 2,
        "a failed reopen, then one that worked"
    );
    assert!(engine.recoveries() >= 1);
    // Every command exactly once: 600 grants of ¥100.
    assert_eq!(available(&engine), "¥940,000.00");
    check_ledger(&engine, &acknowledged);
}

#[test]
fn while_a_failed_reopen_leaves_the_log_closed_reads_answer_from_memory() {
    let dir = tempfile::tempdir().unwrap();
    let plan = FaultPlan::new();
    let reopens = Arc::new(AtomicU32::new(0));
    // The first attempt comes 300 ms after the failure and its reopen fails; the
    // next comes 600 ms later.
    let engine = open_with(dir.path(), &plan, &reopens, 1, options(300, 2_000));
    setup(&engine);
    let mut acknowledged = BTreeMap::new();
    let accepted = engine.submit(submission("before", grant(0))).unwrap();
    acknowledged.insert("before".to_string(), accepted.first_position);
    let head_before = engine.head();

    plan.fail_flush_in(1);
    let err = engine.submit(submission("failed", grant(1))).unwrap_err();
    assert_eq!(err.code(), "unavailable", "{err}");
    // The probe passes (the disk is not full), the failed log is closed, and the
    // reopen fails: there is no open log until the next attempt.
    let deadline = Instant::now() + Duration::from_secs(10);
    while reopens.load(Ordering::SeqCst) < 1 {
        assert!(Instant::now() < deadline, "no reopen attempt");
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(20));
    let closed = engine.log().unwrap_err();
    assert_eq!(closed.code(), "unavailable");
    assert!(
        closed.to_string().contains("the last attempt to reopen"),
        "{closed}"
    );
    // Reads that need no log answer: the committed model, the projections, the head.
    assert_eq!(engine.head(), head_before);
    assert_eq!(available(&engine), "¥999,900.00");
    let _ = engine.projections(|p| p.fund_ledger.clone());
    // Writes are refused with the reason and the wait.
    let refused = engine.submit(submission("failed", grant(1))).unwrap_err();
    assert!(
        matches!(refused, EngineError::Recovering { .. }),
        "{refused:?}"
    );

    wait_available(&engine);
    assert_eq!(reopens.load(Ordering::SeqCst), 2);
    let retry = engine.submit(submission("failed", grant(1))).unwrap();
    assert!(!retry.duplicate);
    acknowledged.insert("failed".to_string(), retry.first_position);
    check_ledger(&engine, &acknowledged);
}
