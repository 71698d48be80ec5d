//! Proves the engine's contract through its public API on the sled backend:
//! accepted commands are durable events at the positions answered; rejections and
//! retries append nothing; a command id reused for another command is refused,
//! also after a restart; a reopened engine (from the log, or from a snapshot plus
//! the tail) has exactly the state it had; concurrent submitters can never
//! overdraw a fund because one writer decides in order; the model as of a position
//! equals the state the ledger had then; a group of commands submitted all or none is
//! recorded whole or not at all, also when other submitters race it; and a rebuild
//! over several pages of the log equals the incremental projections.

use std::sync::Arc;

use chrono::NaiveDate;
use ledger_domain::{
    Amount, BeneficiaryId, BeneficiaryKind, Command, FundId, FundingTier, LoanDisbursement, LoanId,
    Programme, UnitCode, UnitLevel, UserId,
};
use ledger_engine::{
    Engine, EngineError, EngineOptions, GroupCommitted, GroupObserver, GroupRefused, Submission,
};
use ledger_store::{FixedClock, HashAlgorithm, Log, SledBackend};

fn clock() -> Arc<FixedClock> {
    // 2021-12-31 12:00 UTC: later than every effective date used here.
    Arc::new(FixedClock::new(1_640_952_000_000))
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn open(dir: &std::path::Path) -> Engine<SledBackend> {
    open_with(dir, EngineOptions::default())
}

/// Opens the ledger in `dir`, creating it if there is none.
fn open_with(dir: &std::path::Path, options: EngineOptions) -> Engine<SledBackend> {
    let backend = SledBackend::open(dir).unwrap();
    let log = match Log::open(backend, None, clock()) {
        Ok(log) => log,
        Err(_) => Log::create(
            SledBackend::open(dir).unwrap(),
            HashAlgorithm::Sha256,
            clock(),
        )
        .unwrap(),
    };
    Engine::open_with(log, clock(), options).unwrap()
}

fn submission(id: &str, actor: &str, command: Command) -> Submission {
    Submission {
        command_id: id.to_string(),
        command,
        actor: UserId::new(actor).unwrap(),
        effective_date: day(2021, 6, 30),
        memo: "三明 2021".to_string(),
    }
}

/// The position of the engine's snapshot `name` (of a `T`), if there is one.
fn snapshot_position<T: serde::de::DeserializeOwned, B: ledger_store::Backend>(
    engine: &Engine<B>,
    name: &str,
) -> Option<u64> {
    engine
        .log()
        .unwrap()
        .load_snapshot::<T>(name)
        .unwrap()
        .map(|(position, _)| position)
}

/// Where the fund ledger is checkpointed, if it is.
fn fund_ledger_checkpoint<B: ledger_store::Backend>(engine: &Engine<B>) -> Option<u64> {
    use ledger_projections::{checkpoint_name, FundLedger};
    snapshot_position::<FundLedger, B>(engine, &checkpoint_name::<FundLedger>())
}

/// Where the model is snapshotted, if it is.
fn model_snapshot<B: ledger_store::Backend>(engine: &Engine<B>) -> Option<u64> {
    snapshot_position::<ledger_engine::Model, B>(engine, ledger_engine::MODEL_SNAPSHOT)
}

/// Registers `count` households of Sanming, `{prefix}0000` on, with command ids
/// `{prefix}-{n}`.
fn register_households<B: ledger_store::Backend>(engine: &Engine<B>, prefix: &str, count: usize) {
    for h in 0..count {
        engine
            .submit(submission(
                &format!("{prefix}-{h}"),
                "admin-sm",
                Command::RegisterBeneficiary {
                    beneficiary: BeneficiaryId::new(format!("{prefix}{h:04}")).unwrap(),
                    unit: UnitCode::new("FJ-SM").unwrap(),
                    kind: BeneficiaryKind::Household,
                    categories: Default::default(),
                },
            ))
            .unwrap();
    }
}

fn yuan(n: i64) -> Amount {
    Amount::parse(&n.to_string()).unwrap()
}

fn loan(id: &str, beneficiary: &str, principal: Amount) -> Command {
    Command::DisburseLoan(LoanDisbursement {
        loan: LoanId::new(id).unwrap(),
        fund: FundId::new("SM-2021-REV").unwrap(),
        beneficiary: BeneficiaryId::new(beneficiary).unwrap(),
        tier: FundingTier::City,
        principal,
        term_months: 24,
        grace_months: 0,
        annual_rate_bp: 0,
        batch: Some("第十七批".into()),
        migrant: false,
    })
}

/// A city with one revolving fund holding `cash` yuan of city money, and `households`.
fn setup<B: ledger_store::Backend>(engine: &Engine<B>, cash: i64, households: usize) {
    let admin = "admin-sm";
    let mut n = 0;
    let mut run = |command: Command| {
        n += 1;
        engine
            .submit(submission(&format!("setup-{n}"), admin, command))
            .unwrap();
    };
    run(Command::RegisterUnit {
        unit: UnitCode::new("FJ").unwrap(),
        name: "福建省".into(),
        level: UnitLevel::Province,
        parent: None,
    });
    run(Command::RegisterUnit {
        unit: UnitCode::new("FJ-SM").unwrap(),
        name: "三明市".into(),
        level: UnitLevel::City,
        parent: Some(UnitCode::new("FJ").unwrap()),
    });
    run(Command::OpenFund {
        fund: FundId::new("SM-2021-REV").unwrap(),
        unit: UnitCode::new("FJ-SM").unwrap(),
        programme: Programme::RevolvingFund,
        name: "三明市滚动资金".into(),
        fiscal_year: Some(2021),
        approval_threshold: None,
        insurance_model: None,
    });
    run(Command::CommitAppropriation {
        fund: FundId::new("SM-2021-REV").unwrap(),
        tier: FundingTier::City,
        amount: yuan(cash),
        reference: None,
    });
    run(Command::ReceiveAppropriation {
        fund: FundId::new("SM-2021-REV").unwrap(),
        tier: FundingTier::City,
        amount: yuan(cash),
        reference: None,
    });
    for h in 0..households {
        run(Command::RegisterBeneficiary {
            beneficiary: BeneficiaryId::new(format!("H{h:04}")).unwrap(),
            unit: UnitCode::new("FJ-SM").unwrap(),
            kind: BeneficiaryKind::Household,
            categories: Default::default(),
        });
    }
}

fn available(engine: &Engine<SledBackend>) -> String {
    engine.read(|m| {
        m.state()
            .fund_balance(&FundId::new("SM-2021-REV").unwrap())
            .unwrap()
            .available
            .to_string()
    })
}

#[test]
fn accepted_commands_are_durable_events_and_rejections_append_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    setup(&engine, 50_000, 3);
    let head = engine.log().unwrap().head().next_position;
    let accepted = engine
        .submit(submission(
            "loan-1",
            "clerk-1",
            loan("L1", "H0000", yuan(20_000)),
        ))
        .unwrap();
    assert_eq!((accepted.first_position, accepted.duplicate), (head, false));
    assert!(accepted.count >= 1);
    assert_eq!(
        engine.log().unwrap().head().next_position,
        head + u64::from(accepted.count)
    );
    assert_eq!(available(&engine), "¥30,000.00");

    let err = engine
        .submit(submission(
            "loan-2",
            "clerk-1",
            loan("L2", "H0001", yuan(40_000)),
        ))
        .unwrap_err();
    assert!(matches!(err, EngineError::Rejected(_)), "{err:?}");
    assert!(
        err.to_string().contains("30,000.00") && err.to_string().contains("40,000.00"),
        "{err}"
    );
    assert_eq!(
        engine.log().unwrap().head().next_position,
        head + u64::from(accepted.count),
        "a rejection appends nothing"
    );

    let record = &engine.log().unwrap().read_all(head, 1).unwrap()[0];
    assert_eq!(record.event_type.as_str(), "LoanDisbursed");
    assert_eq!(record.stream.as_str(), "fund-SM-2021-REV");
    assert_eq!(record.actor.as_str(), "clerk-1");
    assert_eq!(record.memo.as_str(), "三明 2021");
    assert_eq!(record.command_id.as_str(), "loan-1");
    assert!(engine.log().unwrap().verify().unwrap().is_intact());
}

#[test]
fn a_retry_returns_the_original_positions_and_a_reused_id_is_refused_also_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first;
    {
        let engine = open(dir.path());
        setup(&engine, 50_000, 2);
        first = engine
            .submit(submission(
                "loan-1",
                "clerk-1",
                loan("L1", "H0000", yuan(10_000)),
            ))
            .unwrap();
        let retry = engine
            .submit(submission(
                "loan-1",
                "clerk-1",
                loan("L1", "H0000", yuan(10_000)),
            ))
            .unwrap();
        assert_eq!(
            (retry.first_position, retry.count, retry.duplicate),
            (first.first_position, first.count, true)
        );
        assert_eq!(available(&engine), "¥40,000.00", "the retry paid nothing");
    }
    let engine = open(dir.path());
    let retry = engine
        .submit(submission(
            "loan-1",
            "clerk-1",
            loan("L1", "H0000", yuan(10_000)),
        ))
        .unwrap();
    assert_eq!(
        (retry.first_position, retry.duplicate),
        (first.first_position, true)
    );
    let err = engine
        .submit(submission(
            "loan-1",
            "clerk-1",
            loan("L9", "H0001", yuan(5_000)),
        ))
        .unwrap_err();
    assert_eq!(err.code(), "command_id_conflict");
    assert!(err.to_string().contains("loan-1"), "{err}");
    assert_eq!(available(&engine), "¥40,000.00");
}

#[test]
fn bad_input_is_refused_with_the_field_named_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    setup(&engine, 1_000, 1);
    let head = engine.log().unwrap().head();
    let mut s = submission("bad/../id", "clerk-1", loan("L1", "H0000", yuan(10)));
    let err = engine.submit(s.clone()).unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("command id"), "{err}");
    s.command_id = "ok-id".into();
    s.memo = "line\nbreak".into();
    let err = engine.submit(s).unwrap_err();
    assert!(err.to_string().contains("memo"), "{err}");
    assert_eq!(engine.log().unwrap().head(), head);
}

#[test]
fn a_reopened_engine_has_the_same_state_from_the_log_or_from_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let before;
    {
        let engine = open(dir.path());
        setup(&engine, 100_000, 10);
        for i in 0..5 {
            engine
                .submit(submission(
                    &format!("loan-{i}"),
                    "clerk-1",
                    loan(&format!("L{i}"), &format!("H{i:04}"), yuan(1_000)),
                ))
                .unwrap();
        }
        before = engine.read(|m| m.state().clone());
    }
    let engine = open(dir.path());
    assert_eq!(
        engine.read(|m| m.state().clone()),
        before,
        "rebuilt from the log"
    );
    let at = engine.save_snapshot().unwrap();
    for i in 5..8 {
        engine
            .submit(submission(
                &format!("loan-{i}"),
                "clerk-1",
                loan(&format!("L{i}"), &format!("H{i:04}"), yuan(1_000)),
            ))
            .unwrap();
    }
    let after = engine.read(|m| m.state().clone());
    drop(engine);
    let engine = open(dir.path());
    assert_eq!(
        engine.read(|m| m.state().clone()),
        after,
        "snapshot at {at} plus the tail"
    );
    assert_eq!(engine.model_at_position(at).unwrap().state(), &before);
}

#[test]
fn concurrent_submitters_never_overdraw_a_fund() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(open(dir.path()));
    setup(&engine, 100_000, 64);
    // 64 clerks each try to lend ¥3,000 twice: only 33 loans fit in ¥100,000.
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..64)
            .map(|t| {
                let engine = Arc::clone(&engine);
                scope.spawn(move || {
                    (0..2)
                        .map(|k| {
                            engine.submit(submission(
                                &format!("c{t}-{k}"),
                                &format!("clerk-{t}"),
                                loan(&format!("L{t}-{k}"), &format!("H{t:04}"), yuan(3_000)),
                            ))
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
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(accepted, 33);
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, EngineError::Rejected(_)), "{e:?}");
        }
    }
    assert_eq!(available(&engine), "¥1,000.00");
    assert!(engine.log().unwrap().verify().unwrap().is_intact());
}

/// `submit_checked` runs `ledger_domain::authorize` in the writer, before the rules:
/// an unknown actor, a reader and a clerk of another unit are refused and nothing is
/// appended; a clerk of the fund's unit is accepted.
#[test]
fn checked_submissions_follow_role_and_scope() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    setup(&engine, 100_000, 2);
    let register = |id: &str, user: &str, role: ledger_domain::Role, scope: Option<&str>| {
        engine
            .submit(submission(
                id,
                "operator",
                Command::RegisterUser {
                    user: UserId::new(user).unwrap(),
                    role,
                    scope: scope.map(|s| UnitCode::new(s).unwrap()),
                },
            ))
            .unwrap();
    };
    register("u-1", "admin", ledger_domain::Role::Admin, None);
    engine
        .submit_checked(submission(
            "unit-xm",
            "admin",
            Command::RegisterUnit {
                unit: UnitCode::new("FJ-XM").unwrap(),
                name: "厦门市".into(),
                level: UnitLevel::City,
                parent: Some(UnitCode::new("FJ").unwrap()),
            },
        ))
        .expect("an admin registers units");
    register("u-2", "clerk-sm", ledger_domain::Role::Clerk, Some("FJ-SM"));
    register("u-3", "clerk-xm", ledger_domain::Role::Clerk, Some("FJ-XM"));
    register("u-4", "auditor", ledger_domain::Role::Auditor, None);
    let head = engine.log().unwrap().head().next_position;
    for (actor, code) in [
        ("stranger", "unknown_user"),
        ("auditor", "not_permitted"),
        ("clerk-xm", "out_of_scope"),
    ] {
        match engine.submit_checked(submission(
            &format!("loan-{actor}"),
            actor,
            loan("L-1", "H0000", yuan(1_000)),
        )) {
            Err(EngineError::Rejected(r)) => assert_eq!(r.code(), code, "{actor}: {r}"),
            other => panic!("{actor}: expected a rejection, got {other:?}"),
        }
    }
    assert_eq!(
        engine.log().unwrap().head().next_position,
        head,
        "nothing appended"
    );
    let accepted = engine
        .submit_checked(submission(
            "loan-ok",
            "clerk-sm",
            loan("L-1", "H0000", yuan(1_000)),
        ))
        .expect("the city's clerk records the loan");
    assert_eq!(accepted.first_position, head);
    // A reversal is checked against the scope of the fund of the event it names, which
    // the lean state reads back from the log.
    let reverse = |id: &str, actor: &str| {
        engine.submit_checked(submission(
            id,
            actor,
            Command::ReverseEvent {
                position: head,
                reason: "录入错误".into(),
            },
        ))
    };
    match reverse("rev-xm", "clerk-xm") {
        Err(EngineError::Rejected(r)) => assert_eq!(r.code(), "out_of_scope", "{r}"),
        other => panic!("expected out_of_scope, got {other:?}"),
    }
    reverse("rev-sm", "clerk-sm").expect("the city's clerk reverses the loan");
}

fn register_clerk<B: ledger_store::Backend>(engine: &Engine<B>, user: &str) {
    engine
        .submit(submission(
            &format!("user-{user}"),
            "operator",
            Command::RegisterUser {
                user: UserId::new(user).unwrap(),
                role: ledger_domain::Role::Clerk,
                scope: Some(UnitCode::new("FJ-SM").unwrap()),
            },
        ))
        .unwrap();
}

/// A group of loans by the clerk `clerk-sm`, with command ids `KEY.1`, `KEY.2`, …:
/// each loan as (loan id, household, yuan).
fn loan_group(key: &str, loans: &[(&str, &str, i64)]) -> Vec<Submission> {
    loans
        .iter()
        .enumerate()
        .map(|(i, (id, household, amount))| {
            submission(
                &format!("{key}.{}", i + 1),
                "clerk-sm",
                loan(id, household, yuan(*amount)),
            )
        })
        .collect()
}

#[test]
fn a_group_submitted_all_or_none_is_recorded_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    setup(&engine, 100_000, 3);
    register_clerk(&engine, "clerk-sm");
    let head = engine.log().unwrap().head().next_position;

    // The third loan does not fit: none of the three is recorded.
    let refused = engine
        .submit_all_checked(loan_group(
            "g1",
            &[
                ("L-1", "H0000", 40_000),
                ("L-2", "H0001", 40_000),
                ("L-3", "H0002", 40_000),
            ],
        ))
        .unwrap_err();
    match &refused {
        GroupRefused {
            command: Some(2),
            error: EngineError::Rejected(r),
        } => assert_eq!(r.code(), "insufficient_funds", "{r}"),
        other => panic!("expected the third command refused, got {other:?}"),
    }
    assert!(
        refused.to_string().starts_with("command 3 of the group: "),
        "{refused}"
    );
    assert_eq!(engine.log().unwrap().head().next_position, head);
    assert_eq!(available(&engine), "¥100,000.00");
    // The writer forgot the refused group's loans and command ids.
    for id in ["g1.1", "g1.2"] {
        assert!(engine
            .command_span(&ledger_store::CommandId::new(id).unwrap())
            .is_none());
    }
    let alone = engine
        .submit_checked(submission(
            "g1.1",
            "clerk-sm",
            loan("L-1", "H0000", yuan(10_000)),
        ))
        .expect("L-1 and the id g1.1 are free");
    assert_eq!(alone.first_position, head);

    // A group that fits is recorded in order, in consecutive positions.
    let accepted = engine
        .submit_all_checked(loan_group(
            "g2",
            &[("L-2", "H0001", 40_000), ("L-3", "H0002", 40_000)],
        ))
        .unwrap();
    assert_eq!(accepted.len(), 2);
    assert_eq!(accepted[0].first_position, head + 1);
    assert_eq!(
        accepted[1].first_position,
        accepted[0].first_position + u64::from(accepted[0].count)
    );
    assert_eq!(available(&engine), "¥10,000.00");
    // Submitted again, it is answered with the same positions and appends nothing.
    let next = engine.log().unwrap().head().next_position;
    let again = engine
        .submit_all_checked(loan_group(
            "g2",
            &[("L-2", "H0001", 40_000), ("L-3", "H0002", 40_000)],
        ))
        .unwrap();
    assert!(again.iter().all(|a| a.duplicate));
    assert_eq!(
        again.iter().map(|a| a.first_position).collect::<Vec<_>>(),
        accepted
            .iter()
            .map(|a| a.first_position)
            .collect::<Vec<_>>()
    );
    assert_eq!(engine.log().unwrap().head().next_position, next);
    // An empty group and a role that may not record are refused as a whole or at the
    // command, and change nothing.
    let empty = engine.submit_all_checked(Vec::new()).unwrap_err();
    assert!(matches!(
        empty,
        GroupRefused {
            command: None,
            error: EngineError::InvalidInput { .. }
        }
    ));
    let stranger = engine
        .submit_all_checked(vec![submission(
            "g3.1",
            "stranger",
            loan("L-9", "H0000", yuan(1)),
        )])
        .unwrap_err();
    assert_eq!(stranger.command, Some(0));
    assert_eq!(engine.log().unwrap().head().next_position, next);
    drop(engine);

    // After a restart the log holds exactly what was answered.
    let engine = open(dir.path());
    assert_eq!(available(&engine), "¥10,000.00");
    assert!(engine.log().unwrap().verify().unwrap().is_intact());
}

#[test]
fn the_group_observer_counts_every_command_a_group_answered_refused_or_not() {
    #[derive(Default)]
    struct Tally(std::sync::Mutex<Vec<(usize, usize)>>);
    impl GroupObserver for Tally {
        fn group_committed(&self, group: GroupCommitted) {
            self.0.lock().unwrap().push((group.commands, group.events));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    setup(&engine, 100_000, 3);
    register_clerk(&engine, "clerk-sm");
    let tally = Arc::new(Tally::default());
    assert!(engine.set_observer(Arc::clone(&tally) as Arc<dyn GroupObserver>));
    // Three commands refused together (the third does not fit), then two recorded.
    engine
        .submit_all_checked(loan_group(
            "g1",
            &[
                ("g1-L0", "H0000", 40_000),
                ("g1-L1", "H0001", 40_000),
                ("g1-L2", "H0002", 40_000),
            ],
        ))
        .unwrap_err();
    engine
        .submit_all_checked(loan_group(
            "g2",
            &[("g2-L0", "H0000", 10_000), ("g2-L1", "H0001", 10_000)],
        ))
        .unwrap();
    let seen = tally.0.lock().unwrap().clone();
    let commands: usize = seen.iter().map(|(commands, _)| commands).sum();
    let events: usize = seen.iter().map(|(_, events)| events).sum();
    assert_eq!(commands, 5, "{seen:?}");
    assert_eq!(events, 2, "only the recorded group appends: {seen:?}");
}

#[test]
fn groups_racing_single_commands_for_the_same_money_stay_whole() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(open(dir.path()));
    setup(&engine, 100_000, 64);
    register_clerk(&engine, "clerk-sm");
    // 16 threads each submit a group of two ¥3,000 loans, and 32 more a single one:
    // ¥192,000 asked of ¥100,000.
    let groups: Vec<Result<Vec<_>, GroupRefused>> = std::thread::scope(|scope| {
        let singles: Vec<_> = (16..48)
            .map(|t| {
                let engine = Arc::clone(&engine);
                scope.spawn(move || {
                    let _ = engine.submit_checked(submission(
                        &format!("s{t}"),
                        "clerk-sm",
                        loan(&format!("L{t}"), &format!("H{t:04}"), yuan(3_000)),
                    ));
                })
            })
            .collect();
        let groups: Vec<_> = (0..16)
            .map(|t| {
                let engine = Arc::clone(&engine);
                scope.spawn(move || {
                    engine.submit_all_checked(
                        (0..2)
                            .map(|k| {
                                submission(
                                    &format!("g{t}.{k}"),
                                    "clerk-sm",
                                    loan(&format!("G{t}-{k}"), &format!("H{t:04}"), yuan(3_000)),
                                )
                            })
                            .collect(),
                    )
                })
            })
            .collect();
        singles.into_iter().for_each(|h| h.join().unwrap());
        groups.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut loans = 0;
    for (t, outcome) in groups.iter().enumerate() {
        let recorded: Vec<bool> = (0..2)
            .map(|k| {
                engine
                    .command_span(&ledger_store::CommandId::new(format!("g{t}.{k}")).unwrap())
                    .is_some()
            })
            .collect();
        match outcome {
            Ok(accepted) => {
                assert_eq!(recorded, vec![true, true], "group {t}");
                assert_eq!(accepted.len(), 2);
            }
            Err(refused) => {
                assert_eq!(recorded, vec![false, false], "group {t}: {refused}");
                assert!(
                    matches!(refused.error, EngineError::Rejected(_)),
                    "{refused:?}"
                );
            }
        }
    }
    for t in 16..48 {
        if engine
            .command_span(&ledger_store::CommandId::new(format!("s{t}")).unwrap())
            .is_some()
        {
            loans += 1;
        }
    }
    loans += 2 * groups.iter().filter(|g| g.is_ok()).count();
    // 33 loans of ¥3,000 fit; a group that no longer fits whole leaves room for a single.
    assert!(loans <= 33, "{loans} loans");
    assert_eq!(available(&engine), format!("¥{},000.00", 100 - 3 * loans));
    assert!(engine.log().unwrap().verify().unwrap().is_intact());
}

#[test]
fn checkpoints_and_snapshots_remove_those_of_earlier_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    setup(&engine, 1_000, 1);
    let log = engine.log().unwrap();
    // What older builds left: the audit trail's layouts 2 and 3, the fund ledger's
    // layouts 1 and 2, the model's layout 2.
    let stale_names = [
        "audit_trail-v2",
        "audit_trail-v3",
        "fund_ledger",
        "fund_ledger-v2",
        "model-v2",
    ];
    for stale in stale_names {
        log.save_snapshot(stale, 0, &0u8).unwrap();
    }
    // The projections follow the log on their own thread, and a checkpoint saves them
    // as they are: let them take in the setup first.
    let head = log.head().next_position;
    engine
        .projections_after(head, std::time::Duration::from_secs(60), |_| ())
        .unwrap();
    engine.checkpoint_projections().unwrap();
    engine.save_snapshot().unwrap();
    for stale in stale_names {
        assert!(log.load_snapshot::<u8>(stale).unwrap().is_none(), "{stale}");
        assert!(!dir
            .path()
            .join("snapshots")
            .join(format!("{stale}.snap"))
            .exists());
    }
    let current = ledger_projections::checkpoint_name::<ledger_projections::AuditTrail>();
    assert_eq!(current, "audit_trail-v4");
    let (position, _) = log
        .load_snapshot::<ledger_projections::AuditTrail>(&current)
        .unwrap()
        .expect("the current checkpoint");
    assert_eq!(position, head);
    assert!(dir
        .path()
        .join("snapshots")
        .join(format!("{current}.snap"))
        .exists());
}

/// A clean shutdown checkpoints the projections and the store's indexes, and snapshots
/// the model, when their tail is long enough (decision 0030), so that the next open
/// folds nothing; a short tail is left to the next open.
#[test]
fn a_clean_shutdown_checkpoints_a_long_tail() {
    let options = EngineOptions {
        // A tenth of it, 100 events, is a long enough tail; periodic checkpoints come
        // every 1,000 events, which this ledger never reaches.
        snapshot_interval_events: 1_000,
        ..EngineOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let engine = open_with(dir.path(), options);
    setup(&engine, 1_000, 150);
    let head = engine.head().next_position;
    assert!((150..1_000).contains(&head), "{head}");
    engine
        .projections_after(head, std::time::Duration::from_secs(10), |_| ())
        .unwrap();
    assert_eq!(
        fund_ledger_checkpoint(&engine),
        None,
        "no periodic checkpoint yet"
    );
    drop(engine);
    let engine = open_with(dir.path(), options);
    assert_eq!(fund_ledger_checkpoint(&engine), Some(head));
    assert_eq!(
        engine.log().unwrap().opened_from_index_checkpoint(),
        Some(head)
    );
    assert_eq!(
        model_snapshot(&engine),
        Some(head),
        "the model's snapshot too"
    );
    // A tail of ten events is left to the next open.
    register_households(&engine, "N", 10);
    let later = engine.head().next_position;
    engine
        .projections_after(later, std::time::Duration::from_secs(10), |_| ())
        .unwrap();
    drop(engine);
    let engine = open_with(dir.path(), options);
    assert_eq!(fund_ledger_checkpoint(&engine), Some(head));
    assert_eq!(engine.head().next_position, later);
    engine
        .projections_after(later, std::time::Duration::from_secs(10), |_| ())
        .unwrap();
}

/// The tail an open folds onto the model's snapshot counts towards the next one: after
/// a crash (here: a shutdown with too short a tail to snapshot) the model is snapshotted
/// once `snapshot_interval_events` have passed since its last snapshot, not since the
/// open, so that the open after the next one does not fold that tail again.
#[test]
fn the_tail_folded_at_open_counts_towards_the_next_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    setup(&engine, 1_000, 100);
    let head = engine.head().next_position;
    drop(engine);
    // Snapshots every `head + 5` events: the open folds `head` events from position 0,
    // and five more commands make the model due.
    let options = EngineOptions {
        snapshot_interval_events: head + 5,
        ..EngineOptions::default()
    };
    let engine = open_with(dir.path(), options);
    assert_eq!(model_snapshot(&engine), None, "no snapshot at the open");
    register_households(&engine, "A", 10);
    let later = engine.head().next_position;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while model_snapshot(&engine).is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let snapshot = model_snapshot(&engine).expect("the storer snapshots the model");
    assert!(
        (head + 5..=later).contains(&snapshot),
        "{snapshot} in {head}..{later}"
    );
}

/// An engine opened from its backend loads the projections' checkpoints while the log
/// opens (decision 0032): they resume where they were checkpointed, except one from
/// beyond the log's head (a ledger that lost its tail; here another ledger's longer
/// history), which is not used. Either way the projections equal a rebuild.
#[test]
fn an_engine_opened_from_its_backend_resumes_only_checkpoints_within_the_log() {
    use ledger_projections::{checkpoint_name, FundLedger};
    use ledger_store::{Backend as _, MemoryBackend, SnapshotSource as _};
    let short = MemoryBackend::new();
    let long = MemoryBackend::new();
    for (backend, loans) in [(&short, 10), (&long, 30)] {
        let log = Log::create(backend.clone(), HashAlgorithm::Sha256, clock()).unwrap();
        let engine = Engine::open(log, clock()).unwrap();
        setup(&engine, 1_000_000, 20);
        for i in 0..loans {
            engine
                .submit(submission(
                    &format!("loan-{i}"),
                    "clerk-0",
                    loan(&format!("L{i}"), &format!("H{:04}", i % 20), yuan(10)),
                ))
                .unwrap();
        }
        let head = engine.head().next_position;
        engine
            .projections_after(head, std::time::Duration::from_secs(60), |_| ())
            .unwrap();
        engine.checkpoint_projections().unwrap();
        assert_eq!(fund_ledger_checkpoint(&engine), Some(head));
    }
    let name = checkpoint_name::<FundLedger>();
    let beyond = long.load_snapshot(&name).unwrap().unwrap();
    let within = short.load_snapshot(&name).unwrap().unwrap();
    for (stored, resumed) in [(within, true), (beyond, false)] {
        short.save_snapshot(&name, &stored).unwrap();
        let engine =
            Engine::open_backend(short.clone(), clock(), EngineOptions::default()).unwrap();
        let head = engine.head().next_position;
        assert_eq!(fund_ledger_checkpoint(&engine).unwrap() <= head, resumed);
        let rebuilt = engine.projections_at_position(head).unwrap();
        let equal = engine
            .projections_after(head, std::time::Duration::from_secs(60), |opened| {
                *opened == rebuilt
            })
            .unwrap();
        assert!(equal, "opened with the checkpoint resumed: {resumed}");
    }
}

/// Loans `numbers` of ¥10 each, one command each, to the households `H0000`..`H0099` of
/// [`setup`] in turn, recorded by seven clerks in turn.
fn lend_to_households<B: ledger_store::Backend>(
    engine: &Engine<B>,
    numbers: std::ops::Range<usize>,
) {
    for i in numbers {
        engine
            .submit(submission(
                &format!("loan-{i}"),
                &format!("clerk-{}", i % 7),
                loan(&format!("L{i}"), &format!("H{:04}", i % 100), yuan(10)),
            ))
            .unwrap();
    }
}

/// An engine whose projections' checkpoints load from the data directory's files
/// before sled opens (decision 0035) resumes from those checkpoints and folds the tail
/// after them, as an open from the backend does: with its own checkpoints it equals a
/// rebuild, and with another ledger's fund ledger checkpoint of the same length in
/// their place it does not. While another engine holds the data directory, the open
/// fails with sled's error.
#[test]
fn an_engine_loading_its_checkpoints_before_sled_opens_resumes_from_them() {
    use ledger_projections::{checkpoint_name, FundLedger};
    use ledger_store::{SnapshotFiles, SNAPSHOT_DIR};
    let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut heads = Vec::new();
    for (dir, cash) in [(&dir, 1_000_000), (&other, 2_000_000)] {
        let engine = open(dir.path());
        setup(&engine, cash, 100);
        lend_to_households(&engine, 0..200);
        let checkpointed = engine.head().next_position;
        engine
            .projections_after(checkpointed, std::time::Duration::from_secs(60), |_| ())
            .unwrap();
        engine.checkpoint_projections().unwrap();
        // Too short a tail to checkpoint at shutdown.
        lend_to_households(&engine, 200..260);
        heads.push((checkpointed, engine.head().next_position));
    }
    assert_eq!(heads[0], heads[1]);
    let (checkpointed, head) = heads[0];
    let open_loading_first = || {
        Engine::open_loading_first(
            SnapshotFiles::of(dir.path()),
            || SledBackend::open(dir.path()),
            clock(),
            EngineOptions::default(),
            None,
        )
    };
    let file = format!("{}.snap", checkpoint_name::<FundLedger>());
    for own in [true, false] {
        if !own {
            std::fs::copy(
                other.path().join(SNAPSHOT_DIR).join(&file),
                dir.path().join(SNAPSHOT_DIR).join(&file),
            )
            .unwrap();
        }
        let engine = open_loading_first().unwrap();
        assert_eq!(engine.head().next_position, head);
        assert_eq!(fund_ledger_checkpoint(&engine), Some(checkpointed));
        engine.read(|model| assert_eq!(model.next_position(), head));
        let rebuilt = engine.projections_at_position(head).unwrap();
        let equal = engine
            .projections_after(head, std::time::Duration::from_secs(60), |opened| {
                *opened == rebuilt
            })
            .unwrap();
        assert_eq!(equal, own, "resumed from its own checkpoints: {own}");
        if own {
            let refused = open_loading_first().unwrap_err();
            assert!(
                refused.to_string().contains("sled"),
                "another engine holds the directory: {refused}"
            );
        }
    }
}

/// After a crash the model's snapshot (every million events) is newer than the
/// projections' checkpoints (spaced by a quarter of the ledger): an engine opened from
/// its backend folds the shared tail once for both (decision 0034), so that the
/// projections have caught up when the open returns, and both equal a rebuild. A model
/// without a snapshot first folds alone up to the projections' tail. The projector
/// then takes the checkpoint that the tail made due.
#[test]
fn an_open_folds_the_tail_once_for_the_model_and_the_projections() {
    use ledger_store::limits::READ_PAGE_EVENTS_MAX;
    use ledger_store::{Backend as _, MemoryBackend, SnapshotSource as _};
    let backend = MemoryBackend::new();
    let log = Log::create(backend.clone(), HashAlgorithm::Sha256, clock()).unwrap();
    let engine = Engine::open(log, clock()).unwrap();
    setup(&engine, 1_000_000, 100);
    let mut loans = 0;
    let mut lend = |engine: &Engine<MemoryBackend>, count: usize| {
        lend_to_households(engine, loans..loans + count);
        loans += count;
        let head = engine.head().next_position;
        engine
            .projections_after(head, std::time::Duration::from_secs(60), |_| ())
            .unwrap();
        head
    };
    let checkpointed = lend(&engine, READ_PAGE_EVENTS_MAX / 2);
    engine.checkpoint_projections().unwrap();
    lend(&engine, READ_PAGE_EVENTS_MAX);
    let snapshot = engine.save_snapshot().unwrap();
    let head = lend(&engine, READ_PAGE_EVENTS_MAX / 3);
    // A tail too short to checkpoint at shutdown: what a crash leaves.
    drop(engine);
    assert!(backend
        .load_snapshot(ledger_engine::MODEL_SNAPSHOT)
        .unwrap()
        .is_some());
    assert!(checkpointed < snapshot && head - checkpointed > READ_PAGE_EVENTS_MAX as u64);
    let rebuilt = {
        let log = Log::open(backend.clone(), None, clock()).unwrap();
        let engine = Engine::open(log, clock()).unwrap();
        let model = engine.model_at_position(head).unwrap();
        (model, engine.projections_at_position(head).unwrap())
    };
    for (with_model_snapshot, options) in [
        (true, EngineOptions::default()),
        (
            false,
            EngineOptions {
                snapshot_interval_events: 5_000,
                ..EngineOptions::default()
            },
        ),
    ] {
        if !with_model_snapshot {
            backend
                .remove_snapshot(ledger_engine::MODEL_SNAPSHOT)
                .unwrap();
        }
        let engine = Engine::open_backend(backend.clone(), clock(), options).unwrap();
        assert_eq!(fund_ledger_checkpoint(&engine), Some(checkpointed));
        // Caught up when the open returns, without waiting for the projector.
        let opened = engine.projections(|projections| projections.clone());
        assert_eq!(
            opened.next_position(),
            head,
            "model snapshot: {with_model_snapshot}"
        );
        assert!(opened == rebuilt.1, "model snapshot: {with_model_snapshot}");
        engine.read(|model| {
            assert_eq!(model.next_position(), head);
            assert!(model.state() == rebuilt.0.state());
        });
        if with_model_snapshot {
            // Not due with the default spacing: the next open starts from the same
            // checkpoints.
            continue;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while fund_ledger_checkpoint(&engine) != Some(head) && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(
            fund_ledger_checkpoint(&engine),
            Some(head),
            "checkpointed once caught up"
        );
    }
}

/// A rebuild reads the log in pages of `READ_PAGE_EVENTS_MAX` events and folds half of
/// the projections on a helper thread it lends each page to: over several pages, and
/// a last one partly filled, the rebuilt projections equal the incremental ones, and so
/// does a rebuild up to a position inside a page.
#[test]
fn a_rebuild_over_several_pages_equals_the_incremental_projections() {
    use ledger_store::limits::READ_PAGE_EVENTS_MAX;
    use ledger_store::MemoryBackend;
    let backend = MemoryBackend::new();
    let log = Log::create(backend.clone(), HashAlgorithm::Sha256, clock()).unwrap();
    let engine = Engine::open(log, clock()).unwrap();
    setup(&engine, 1_000_000, 100);
    lend_to_households(
        &engine,
        0..2 * READ_PAGE_EVENTS_MAX + READ_PAGE_EVENTS_MAX / 3,
    );
    let head = engine.head().next_position;
    assert!(head > 2 * READ_PAGE_EVENTS_MAX as u64, "{head} events");
    let rebuilt = engine.projections_at_position(head).unwrap();
    let equal = engine
        .projections_after(head, std::time::Duration::from_secs(60), |incremental| {
            *incremental == rebuilt
        })
        .unwrap();
    assert!(equal, "the rebuild over {head} events differs");
    // Up to a position inside the second page: the same as the first events only.
    let inside = READ_PAGE_EVENTS_MAX as u64 + 1_234;
    let partial = engine.projections_at_position(inside).unwrap();
    assert_eq!(partial.next_position(), inside);
    assert!(partial != rebuilt);
    // No checkpoint yet (every million events; a shutdown checkpoints a tail of a
    // hundred thousand): a reopen catches the projections up over the whole log, a
    // tail of several pages folded with the rebuild's reader threads, to the same
    // state, and then checkpoints them, since 5,000 events make them due.
    drop(engine);
    let options = ledger_engine::EngineOptions {
        snapshot_interval_events: 5_000,
        ..ledger_engine::EngineOptions::default()
    };
    let log = Log::open(backend, None, clock()).unwrap();
    let engine = Engine::open_with(log, clock(), options).unwrap();
    let equal = engine
        .projections_after(head, std::time::Duration::from_secs(60), |caught_up| {
            *caught_up == rebuilt
        })
        .unwrap();
    assert!(
        equal,
        "the catch-up over {head} events differs from the rebuild"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while fund_ledger_checkpoint(&engine).is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        fund_ledger_checkpoint(&engine),
        Some(head),
        "checkpointed once caught up"
    );
}
