//! Property tests of the engine over random command sequences (grants, loans,
//! repayments, reversals, retries, restarts) on the memory backend:
//! - the committed model equals a fold of the log from position 0, and the model as
//!   of every earlier position equals the state the ledger had when its log ended
//!   there;
//! - every projection rebuilt from position 0 equals the incrementally maintained one,
//!   and every record read in place (as the rebuild reads it) decodes exactly as the
//!   owned record does;
//! - the fund ledger projection and the domain state agree on every fund's balance,
//!   and no fund's available cash is ever negative;
//! - a retry never appends, and a restart changes nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use ledger_domain::{
    Amount, BeneficiaryId, BeneficiaryKind, Command, FundId, FundingTier, GrantModality,
    GrantPayment, LoanDisbursement, LoanId, Money, Programme, State, TierSplit, UnitCode,
    UnitLevel, UserId,
};
use ledger_engine::{Engine, Submission};
use ledger_store::{FixedClock, HashAlgorithm, Log, MemoryBackend};
use proptest::prelude::*;

const FUNDS: [&str; 2] = ["HP-A", "REV-B"];

#[derive(Debug, Clone)]
enum Op {
    Grant { beneficiary: u8, yuan: u16 },
    Loan { beneficiary: u8, yuan: u16 },
    Repay { loan: u8, yuan: u16 },
    Reverse { back: u8 },
    Retry { back: u8 },
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..6, 1u16..900).prop_map(|(beneficiary, yuan)| Op::Grant { beneficiary, yuan }),
        3 => (0u8..6, 1u16..900).prop_map(|(beneficiary, yuan)| Op::Loan { beneficiary, yuan }),
        2 => (0u8..8, 1u16..400).prop_map(|(loan, yuan)| Op::Repay { loan, yuan }),
        1 => any::<u8>().prop_map(|back| Op::Reverse { back }),
        1 => any::<u8>().prop_map(|back| Op::Retry { back }),
        1 => Just(Op::Restart),
    ]
}

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(1_640_952_000_000))
}

fn yuan(n: u16) -> Amount {
    Amount::parse(&n.to_string()).unwrap()
}

fn submission(id: String, command: Command) -> Submission {
    Submission {
        command_id: id,
        command,
        actor: UserId::new("clerk-1").unwrap(),
        effective_date: NaiveDate::from_ymd_opt(2021, 6, 30).unwrap(),
        memo: "property".into(),
    }
}

fn setup() -> Vec<Command> {
    let mut commands = vec![Command::RegisterUnit {
        unit: UnitCode::new("FJ").unwrap(),
        name: "福建省".into(),
        level: UnitLevel::Province,
        parent: None,
    }];
    for (fund, programme) in FUNDS
        .iter()
        .zip([Programme::HappinessProject, Programme::RevolvingFund])
    {
        commands.push(Command::OpenFund {
            fund: FundId::new(*fund).unwrap(),
            unit: UnitCode::new("FJ").unwrap(),
            programme,
            name: (*fund).into(),
            fiscal_year: Some(2021),
            approval_threshold: None,
            insurance_model: None,
        });
        commands.push(Command::CommitAppropriation {
            fund: FundId::new(*fund).unwrap(),
            tier: FundingTier::City,
            amount: yuan(3_000),
            reference: None,
        });
        commands.push(Command::ReceiveAppropriation {
            fund: FundId::new(*fund).unwrap(),
            tier: FundingTier::City,
            amount: yuan(3_000),
            reference: None,
        });
    }
    for b in 0..6 {
        commands.push(Command::RegisterBeneficiary {
            beneficiary: BeneficiaryId::new(format!("M{b}")).unwrap(),
            unit: UnitCode::new("FJ").unwrap(),
            kind: BeneficiaryKind::Person,
            categories: Default::default(),
        });
    }
    commands
}

fn open(memory: &MemoryBackend, create: bool) -> Engine<MemoryBackend> {
    let log = if create {
        Log::create(memory.clone(), HashAlgorithm::Sha256, clock()).unwrap()
    } else {
        Log::open(memory.clone(), None, clock()).unwrap()
    };
    Engine::open(log, clock()).unwrap()
}

fn check_balances(state: &State, engine: &Engine<MemoryBackend>, head: u64) {
    let ledger_balances: Vec<_> = engine
        .projections_after(head, Duration::from_secs(10), |p| {
            FUNDS
                .iter()
                .map(|f| {
                    p.fund_ledger
                        .balance(&FundId::new(*f).unwrap())
                        .unwrap()
                        .available
                })
                .collect()
        })
        .unwrap();
    for (fund, from_projection) in FUNDS.iter().zip(ledger_balances) {
        let balance = state.fund_balance(&FundId::new(*fund).unwrap()).unwrap();
        assert_eq!(balance.available, from_projection, "fund {fund}");
        assert!(balance.available >= Money::ZERO, "fund {fund} below zero");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_agrees_with_its_log_and_its_projections(ops in prop::collection::vec(op(), 1..40)) {
        let memory = MemoryBackend::new();
        let mut engine = open(&memory, true);
        for (i, command) in setup().into_iter().enumerate() {
            engine.submit(submission(format!("setup-{i}"), command)).unwrap();
        }
        let mut sent: Vec<Submission> = Vec::new();
        let mut positions: Vec<u64> = Vec::new();
        let mut history: Vec<(u64, State)> = vec![(engine.log().unwrap().head().next_position, engine.read(|m| m.state().clone()))];
        let mut loans = 0u8;
        for (i, op) in ops.into_iter().enumerate() {
            let id = format!("op-{i}");
            let s = match op {
                Op::Grant { beneficiary, yuan: y } => submission(id, Command::PayGrant(GrantPayment {
                    fund: FundId::new("HP-A").unwrap(),
                    beneficiary: BeneficiaryId::new(format!("M{beneficiary}")).unwrap(),
                    modality: GrantModality::Health,
                    batch: None,
                    amount: yuan(y),
                    shares: TierSplit::single(FundingTier::City, yuan(y)).unwrap(),
                })),
                Op::Loan { beneficiary, yuan: y } => {
                    loans += 1;
                    submission(id, Command::DisburseLoan(LoanDisbursement {
                        loan: LoanId::new(format!("L{loans}")).unwrap(),
                        fund: FundId::new("REV-B").unwrap(),
                        beneficiary: BeneficiaryId::new(format!("M{beneficiary}")).unwrap(),
                        tier: FundingTier::City,
                        principal: yuan(y),
                        term_months: 12,
                        grace_months: 0,
                        annual_rate_bp: 0,
                        batch: None,
                        migrant: beneficiary % 2 == 0,
                    }))
                }
                Op::Repay { loan, yuan: y } => submission(id, Command::RepayLoan {
                    loan: LoanId::new(format!("L{}", loan % loans.max(1) + 1)).unwrap(),
                    principal: yuan(y),
                    interest: Amount::ZERO,
                }),
                Op::Reverse { back } if !positions.is_empty() => submission(id, Command::ReverseEvent {
                    position: positions[positions.len() - 1 - usize::from(back) % positions.len()],
                    reason: "entered in error".into(),
                }),
                Op::Retry { back } if !sent.is_empty() => sent[sent.len() - 1 - usize::from(back) % sent.len()].clone(),
                Op::Restart => {
                    let before = engine.read(|m| m.state().clone());
                    drop(engine);
                    engine = open(&memory, false);
                    prop_assert_eq!(engine.read(|m| m.state().clone()), before);
                    continue;
                }
                Op::Reverse { .. } | Op::Retry { .. } => continue,
            };
            let head = engine.log().unwrap().head().next_position;
            match engine.submit(s.clone()) {
                Ok(accepted) if accepted.duplicate => {
                    prop_assert_eq!(engine.log().unwrap().head().next_position, head, "a retry appends nothing");
                }
                Ok(accepted) => {
                    positions.extend(accepted.first_position..accepted.first_position + u64::from(accepted.count));
                    sent.push(s);
                    history.push((engine.log().unwrap().head().next_position, engine.read(|m| m.state().clone())));
                }
                Err(e) => {
                    prop_assert!(matches!(e, ledger_engine::EngineError::Rejected(_)), "{:?}", e);
                    prop_assert_eq!(engine.log().unwrap().head().next_position, head, "a rejection appends nothing");
                }
            }
        }
        let head = engine.log().unwrap().head().next_position;
        let committed = engine.read(|m| m.state().clone());
        let folded = engine.model_at_position(head).unwrap();
        prop_assert_eq!(folded.state(), &committed);
        for (position, state) in &history {
            let then = engine.model_at_position(*position).unwrap();
            prop_assert_eq!(then.state(), state, "as of position {}", position);
        }
        let incremental = engine.projections_after(head, Duration::from_secs(10), ledger_engine::Projections::clone).unwrap();
        prop_assert!(incremental == engine.projections_at_position(head).unwrap(), "projections rebuilt from 0 differ");
        // Every record read in place (as a rebuild reads it) decodes exactly as the
        // owned record does.
        let log = engine.log().unwrap();
        let mut in_place = Vec::new();
        log.read_views(0, usize::try_from(head).unwrap(), &mut |view| {
            in_place.push(ledger_engine::event_record(&view).map_err(|e| e.to_string())?);
            Ok(())
        }).unwrap();
        let owned = log.read_all(0, usize::try_from(head).unwrap()).unwrap();
        prop_assert_eq!(in_place.len(), owned.len());
        for (viewed, record) in in_place.iter().zip(&owned) {
            prop_assert_eq!(&viewed.recorded, &ledger_engine::recorded_event(record).unwrap());
            prop_assert_eq!(&*viewed.memo, record.memo.as_str());
            prop_assert_eq!(viewed.hash, record.hash);
        }
        drop(log);
        check_balances(&committed, &engine, head);
        prop_assert!(engine.log().unwrap().verify().unwrap().is_intact());
    }
}
