//! Proves the ledger's invariants over random command sequences (proptest): every event's postings balance; all accounts sum to zero; state balances equal the sums of their postings; available cash is never negative; reversing any event restores every balance to what it would be without it; decide and evolve are deterministic and a rebuild from the log equals the incremental state.
//!
//! How: a fixed world (units, one fund per programme and insurance model, beneficiaries
//! inside and outside the funds' units, two users) receives a random sequence of
//! commands, some valid and many not (overdrafts, duplicates, self-approvals, closed
//! periods, reversals of anything). After each accepted command the invariants are
//! checked; at the end every reversible event is reversed in turn on a copy and compared
//! with a ledger rebuilt from the log without it.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate};
use common::*;
use ledger_domain::ledger::is_balanced;
use ledger_domain::{
    decide, decide_with, evolve, Account, Amount, AwardId, BeneficiaryCategory, BeneficiaryKind,
    BursaryInstalment, CampaignId, ClaimPayer, ClaimPayment, Command, CondolenceForm,
    CondolencePayment, Event, FundingTier, GrantModality, GrantPayment, HousingInstalment,
    InsuranceModel, LoanDisbursement, Money, Period, PolicyLine, PremiumPayment, Programme,
    Recorded, State, TierShare, TierSplit,
};
use proptest::prelude::*;

const FUNDS: [&str; 7] = ["REV", "HP", "HOUSE", "BURS", "INS-I", "INS-S", "COND"];
const TIERS: [FundingTier; 5] = [
    FundingTier::Province,
    FundingTier::City,
    FundingTier::County,
    FundingTier::HouseholdContribution,
    FundingTier::Interest,
];
const BENEFICIARIES: [&str; 5] = ["B0", "B1", "B2", "B3", "BX"];
const USERS: [&str; 2] = ["U0", "U1"];
/// The simulation's log starts here, leaving positions below it free for the cash buffer
/// of the counterfactual ledgers (see `buffer`).
const FIRST_POSITION: u64 = 1_000;
const UNITS: [&str; 4] = ["FJ", "FJ-SM", "FJ-SM-SX", "FJ-XM"];

#[derive(Debug, Clone)]
enum Op {
    Commit(usize, usize, i64),
    Receive(usize, usize, i64),
    Loan(u8, usize, usize, i64, u16),
    Repay(u8, i64, i64),
    WriteOff(u8),
    Reschedule(u8, u16),
    Grant(usize, Vec<(usize, i64)>),
    HousingAward(u8, usize, Vec<(usize, i64)>),
    HousingPay(u8, usize),
    BursaryAward(u8, usize, usize, i64, bool),
    BursaryPay(u8, i64),
    Condolence(usize, Vec<(usize, i64)>),
    Premium(bool, Vec<(usize, i64)>),
    Claim(bool, usize, Vec<(usize, i64)>),
    Approve(usize, usize),
    Reject(usize),
    Expire,
    Reverse(usize),
    Close(usize, bool),
    Advance(u64),
}

fn fen() -> impl Strategy<Value = i64> {
    prop_oneof![1i64..=50_000, 50_001i64..=1_000_000]
}

/// Mostly the city tier, so that payments usually find money, sometimes any tier.
fn tier() -> impl Strategy<Value = usize> {
    prop_oneof![4 => Just(1usize), 1 => 0..TIERS.len()]
}

fn shares() -> impl Strategy<Value = Vec<(usize, i64)>> {
    prop::collection::vec((tier(), fen()), 1..3)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..FUNDS.len(), tier(), 1i64..=5_000_000).prop_map(|(f, t, a)| Op::Commit(f, t, a)),
        6 => (0usize..64, 0usize..4, 1i64..=5_000_000).prop_map(|(pick, whole, a)| Op::Receive(pick, whole, a)),
        3 => (0u8..6, 0..BENEFICIARIES.len(), tier(), fen(), 0u16..14)
            .prop_map(|(i, b, t, a, n)| Op::Loan(i, b, t, a, n)),
        3 => (0u8..6, fen(), prop_oneof![Just(0i64), 1i64..1_000]).prop_map(|(i, p, r)| Op::Repay(i, p, r)),
        1 => (0u8..6).prop_map(Op::WriteOff),
        1 => (0u8..6, 0u16..14).prop_map(|(i, n)| Op::Reschedule(i, n)),
        2 => (0..BENEFICIARIES.len(), shares()).prop_map(|(b, s)| Op::Grant(b, s)),
        2 => (0u8..4, 0..BENEFICIARIES.len(), shares()).prop_map(|(i, b, s)| Op::HousingAward(i, b, s)),
        2 => (0u8..4, 0usize..3).prop_map(|(i, part)| Op::HousingPay(i, part)),
        2 => (0u8..6, 0..BENEFICIARIES.len(), tier(), fen(), any::<bool>())
            .prop_map(|(i, b, t, a, s)| Op::BursaryAward(i, b, t, a, s)),
        2 => (0u8..6, 0i64..3).prop_map(|(i, part)| Op::BursaryPay(i, part)),
        2 => (0..BENEFICIARIES.len(), shares()).prop_map(|(b, s)| Op::Condolence(b, s)),
        2 => (any::<bool>(), shares()).prop_map(|(i, s)| Op::Premium(i, s)),
        2 => (any::<bool>(), 0..BENEFICIARIES.len(), shares()).prop_map(|(i, b, s)| Op::Claim(i, b, s)),
        3 => (0usize..8, 0..USERS.len()).prop_map(|(p, u)| Op::Approve(p, u)),
        1 => (0usize..8).prop_map(Op::Reject),
        1 => Just(Op::Expire),
        4 => (0usize..400).prop_map(Op::Reverse),
        1 => (0..UNITS.len(), any::<bool>()).prop_map(|(u, y)| Op::Close(u, y)),
        2 => (1u64..40).prop_map(Op::Advance),
    ]
}

fn amount_of(f: i64) -> Amount {
    Amount::from_fen(f).unwrap()
}

fn split_of(pairs: &[(usize, i64)]) -> Option<TierSplit> {
    let mut by_tier = BTreeMap::new();
    for &(t, a) in pairs {
        by_tier.entry(TIERS[t]).or_insert(a);
    }
    TierSplit::new(
        by_tier
            .into_iter()
            .map(|(tier, a)| TierShare {
                tier,
                amount: amount_of(a),
            })
            .collect(),
    )
    .ok()
}

fn total_of(split: &TierSplit) -> Amount {
    Amount::try_from(split.total()).unwrap()
}

/// The simulation: a log, the incremental state, and a shadow state evolved in parallel
/// to check that evolve is deterministic.
struct Sim {
    state: State,
    shadow: State,
    log: Vec<Recorded>,
    ledger: BTreeMap<Account, Money>,
    today: NaiveDate,
    commands: u64,
}

impl Sim {
    fn new() -> Sim {
        let mut sim = Sim {
            state: State::new(),
            shadow: State::lean(),
            log: Vec::new(),
            ledger: BTreeMap::new(),
            today: day(2021, 1, 1),
            commands: 0,
        };
        use ledger_domain::UnitLevel::*;
        for (code, level, parent) in [
            ("FJ", Province, None),
            ("FJ-SM", City, Some("FJ")),
            ("FJ-SM-SX", County, Some("FJ-SM")),
            ("FJ-XM", City, Some("FJ")),
        ] {
            sim.must(Command::RegisterUnit {
                unit: unit(code),
                name: code.into(),
                level,
                parent: parent.map(unit),
            });
        }
        let programmes = [
            (Programme::RevolvingFund, None, Some(yuan(3_000))),
            (Programme::HappinessProject, None, None),
            (Programme::Housing, None, None),
            (Programme::Bursary, None, Some(yuan(2_000))),
            (
                Programme::Insurance,
                Some(InsuranceModel::InsurerUnderwritten),
                Some(yuan(5_000)),
            ),
            (
                Programme::Insurance,
                Some(InsuranceModel::SelfInsured),
                None,
            ),
            (Programme::Condolence, None, Some(yuan(500))),
        ];
        for (id, (programme, model, threshold)) in FUNDS.iter().zip(programmes) {
            sim.must(Command::OpenFund {
                fund: fund(id),
                unit: unit("FJ-SM"),
                programme,
                name: id.to_string(),
                fiscal_year: None,
                approval_threshold: threshold,
                insurance_model: model,
            });
        }
        for b in BENEFICIARIES {
            let home = if b == "BX" { "FJ-XM" } else { "FJ-SM-SX" };
            sim.must(Command::RegisterBeneficiary {
                beneficiary: person(b),
                unit: unit(home),
                kind: BeneficiaryKind::Household,
                categories: BTreeSet::new(),
            });
        }
        sim.must(Command::OpenCampaign {
            campaign: CampaignId::new("C1").unwrap(),
            fund: fund("COND"),
            name: "Spring".into(),
        });
        sim
    }

    fn must(&mut self, command: Command) {
        let positions = self.run("U0", self.today, &command);
        assert!(
            positions.is_ok(),
            "setup failed: {command:?}: {positions:?}"
        );
    }

    fn run(&mut self, actor: &str, date: NaiveDate, command: &Command) -> Result<Vec<u64>, String> {
        self.commands += 1;
        let ctx = ledger_domain::CommandContext {
            actor: user(actor),
            effective_date: date,
            recorded_at: self.today.and_hms_opt(12, 0, 0).unwrap(),
            command_id: format!("c{}", self.commands),
        };
        let first = decide(&self.state, command, &ctx);
        let second = decide(&self.state, command, &ctx);
        assert_eq!(first, second, "decide is not deterministic");
        // A lean state, handed each original's record from the log, decides the same.
        let log = &self.log;
        let lean = decide_with(&self.shadow, command, &ctx, &|p| {
            log.get(index(p)).and_then(|r| r.event.reversible())
        });
        assert_eq!(first, lean, "a lean state decides differently");
        let events = first.map_err(|r| r.code().to_owned())?;
        let mut positions = Vec::new();
        for event in events {
            let postings = event.postings();
            assert!(is_balanced(&postings), "unbalanced postings: {event:?}");
            for p in &postings {
                *self.ledger.entry(p.account.clone()).or_default() += p.signed();
            }
            let recorded = Recorded {
                position: FIRST_POSITION + self.log.len() as u64,
                command_id: ctx.command_id.as_str().into(),
                actor: ctx.actor.clone(),
                effective_date: ctx.effective_date,
                recorded_at: ctx.recorded_at,
                event,
            };
            evolve(&mut self.state, &recorded);
            evolve(&mut self.shadow, &recorded);
            positions.push(recorded.position);
            self.log.push(recorded);
        }
        Ok(positions)
    }

    fn command_for(&self, op: &Op) -> Option<(usize, Command)> {
        let user0 = 0usize;
        let c = match op {
            Op::Commit(f, t, a) => Command::CommitAppropriation {
                fund: fund(FUNDS[*f]),
                tier: TIERS[*t],
                amount: amount_of(*a),
                reference: None,
            },
            Op::Receive(pick, whole, a) => {
                // Receive against a commitment that is still open (mostly in full, sometimes
                // in part, sometimes too much), so that money really arrives in the funds.
                let open: Vec<(ledger_domain::FundId, FundingTier, Money)> = self
                    .state
                    .funds()
                    .flat_map(|(id, f)| {
                        TIERS.iter().map(move |&t| {
                            let b = f.tier(t);
                            (id.clone(), t, b.committed() - b.received())
                        })
                    })
                    .filter(|(_, _, open)| !open.is_zero())
                    .collect();
                let (fund_id, tier, outstanding) = open.get(pick % open.len().max(1))?.clone();
                let outstanding = Amount::try_from(outstanding).unwrap();
                let amount = match whole {
                    0 | 1 => outstanding,
                    2 => Amount::from_fen((*a).min(outstanding.fen())).unwrap(),
                    _ => outstanding
                        .checked_add(Amount::from_fen(1).unwrap())
                        .unwrap(),
                };
                Command::ReceiveAppropriation {
                    fund: fund_id,
                    tier,
                    amount,
                    reference: None,
                }
            }
            Op::Loan(i, b, t, a, n) => Command::DisburseLoan(LoanDisbursement {
                loan: loan_id(&format!("L{i}")),
                fund: fund(if i % 2 == 0 { "REV" } else { "HP" }),
                beneficiary: person(BENEFICIARIES[*b]),
                tier: TIERS[*t],
                principal: amount_of(*a),
                term_months: *n,
                grace_months: u16::from(*i % 3),
                annual_rate_bp: if i % 3 == 0 { 0 } else { 600 },
                batch: None,
                migrant: *i == 5,
            }),
            Op::Repay(i, p, r) => Command::RepayLoan {
                loan: loan_id(&format!("L{i}")),
                principal: Amount::from_fen(*p % 300_000).unwrap(),
                interest: Amount::from_fen(*r).unwrap(),
            },
            Op::WriteOff(i) => Command::WriteOffLoan {
                loan: loan_id(&format!("L{i}")),
                reason: "uncollectable".into(),
            },
            Op::Reschedule(i, n) => Command::RescheduleLoan {
                loan: loan_id(&format!("L{i}")),
                term_months: *n,
                grace_months: 1,
                annual_rate_bp: 0,
            },
            Op::Grant(b, s) => {
                let shares = split_of(s)?;
                Command::PayGrant(GrantPayment {
                    fund: fund("HP"),
                    beneficiary: person(BENEFICIARIES[*b]),
                    modality: GrantModality::Skills,
                    batch: None,
                    amount: total_of(&shares),
                    shares,
                })
            }
            Op::HousingAward(i, b, s) => {
                let shares = split_of(s)?;
                Command::AwardHousingGrant {
                    award: AwardId::new(format!("H{i}")).unwrap(),
                    fund: fund("HOUSE"),
                    beneficiary: person(BENEFICIARIES[*b]),
                    amount: total_of(&shares),
                    shares,
                }
            }
            Op::HousingPay(i, part) => {
                // Pay what the award still owes (0: all, 1: half, 2: a fen too much).
                let award = AwardId::new(format!("H{i}")).unwrap();
                let a = self.state.award(&award)?;
                let shares: Vec<TierShare> = TIERS
                    .iter()
                    .filter_map(|&tier| {
                        let left = a.remaining_for(tier).fen()?;
                        let fen = match part {
                            0 => left,
                            1 => left / 2,
                            _ => left + 1,
                        };
                        (fen > 0).then(|| TierShare {
                            tier,
                            amount: amount_of(fen),
                        })
                    })
                    .collect();
                let shares = TierSplit::new(shares).ok()?;
                Command::PayHousingInstalment(HousingInstalment {
                    award,
                    amount: total_of(&shares),
                    shares,
                })
            }
            Op::BursaryAward(i, b, t, a, supplement) => Command::AwardBursary {
                award: AwardId::new(format!("S{i}")).unwrap(),
                fund: fund("BURS"),
                student: person(BENEFICIARIES[*b]),
                academic_year: 2021,
                tier: TIERS[*t],
                amount: amount_of(*a),
                years: 2,
                supplement_reason: supplement.then(|| "top-up".to_owned()),
            },
            Op::BursaryPay(i, part) => {
                let award = AwardId::new(format!("S{i}")).unwrap();
                let left = self
                    .state
                    .award(&award)
                    .map_or(100, |a| a.amount().fen() - a.paid().fen().unwrap_or(0));
                let fen = match part {
                    0 => left,
                    1 => left / 2,
                    _ => left + 1,
                };
                Command::PayBursaryInstalment(BursaryInstalment {
                    award,
                    amount: Amount::from_fen(fen.max(1)).unwrap(),
                })
            }
            Op::Condolence(b, s) => {
                let shares = split_of(s)?;
                Command::PayCondolence(CondolencePayment {
                    campaign: CampaignId::new("C1").unwrap(),
                    beneficiary: person(BENEFICIARIES[*b]),
                    category: BeneficiaryCategory::SpecialFamily,
                    form: CondolenceForm::Cash,
                    amount: total_of(&shares),
                    shares,
                })
            }
            Op::Premium(insurer, s) => {
                let shares = split_of(s)?;
                let total = total_of(&shares);
                Command::CollectPremium(PremiumPayment {
                    fund: fund(if *insurer { "INS-I" } else { "INS-S" }),
                    line: PolicyLine::HouseholdAccident,
                    coverage_start: self.today,
                    coverage_end: self.today + Days::new(365),
                    households: 10,
                    persons: 25,
                    tax_inclusive: total,
                    tax_exclusive: Amount::from_fen(total.fen() * 94 / 100).unwrap(),
                    shares,
                })
            }
            Op::Claim(insurer, b, s) => {
                let shares = split_of(s)?;
                let total = total_of(&shares);
                Command::PayClaim(ClaimPayment {
                    fund: fund(if *insurer { "INS-I" } else { "INS-S" }),
                    line: PolicyLine::HouseholdAccident,
                    beneficiary: person(BENEFICIARIES[*b]),
                    amount: total,
                    // Sometimes the wrong payer for the model, to exercise the rejection.
                    payer: if *insurer == (b % 4 != 0) {
                        ClaimPayer::Insurer
                    } else {
                        ClaimPayer::Fund { shares }
                    },
                })
            }
            Op::Approve(pick, u) => {
                let requests: Vec<u64> = self.state.pending_requests().map(|(p, _)| p).collect();
                let request = *requests.get(pick % requests.len().max(1))?;
                return Some((*u, Command::ApprovePayment { request }));
            }
            Op::Reject(pick) => {
                let requests: Vec<u64> = self.state.pending_requests().map(|(p, _)| p).collect();
                let request = *requests.get(pick % requests.len().max(1))?;
                Command::RejectPayment {
                    request,
                    reason: "not eligible".into(),
                }
            }
            Op::Expire => Command::ExpireRequests { as_of: self.today },
            Op::Reverse(pick) => Command::ReverseEvent {
                position: FIRST_POSITION + (*pick % (self.log.len() + 2)) as u64,
                reason: "correction".into(),
            },
            Op::Close(u, year) => {
                let last_month = self.today - Days::new(35);
                use chrono::Datelike;
                Command::ClosePeriod {
                    unit: unit(UNITS[*u]),
                    period: if *year {
                        Period::Year {
                            year: last_month.year() - 1,
                        }
                    } else {
                        Period::Month {
                            year: last_month.year(),
                            month: last_month.month(),
                        }
                    },
                }
            }
            Op::Advance(_) => return None,
        };
        Some((user0, c))
    }

    /// After every accepted command: the ledger sums to zero, no cash is negative, and
    /// the state's balances equal the sums of their postings.
    fn check_invariants(&self) {
        let total: Money = self.ledger.values().copied().sum();
        assert!(total.is_zero(), "the ledger does not sum to zero: {total}");
        for (id, f) in self.state.funds() {
            for tier in FundingTier::ALL {
                let t = f.tier(tier);
                let account = |make: fn(ledger_domain::FundId, FundingTier) -> Account| {
                    self.ledger
                        .get(&make(id.clone(), tier))
                        .copied()
                        .unwrap_or_default()
                };
                let cash = account(|fund, tier| Account::FundCash { fund, tier });
                assert!(!t.available().is_negative(), "negative cash in {id} {tier}");
                assert_eq!(t.available(), cash, "cash of {id} {tier}");
                assert_eq!(
                    t.reserved(),
                    account(|fund, tier| Account::Reserved { fund, tier }),
                    "reserved of {id} {tier}"
                );
                assert_eq!(
                    t.loans_outstanding(),
                    account(|fund, tier| Account::LoansReceivable { fund, tier }),
                    "loans of {id} {tier}"
                );
                assert_eq!(
                    t.committed(),
                    account(|fund, tier| Account::TierAppropriation { fund, tier }).negated(),
                    "committed of {id} {tier}"
                );
                assert_eq!(
                    t.committed() - t.received(),
                    account(|fund, tier| Account::TierReceivable { fund, tier }),
                    "receivable of {id} {tier}"
                );
                assert_eq!(
                    t.written_off(),
                    account(|fund, tier| Account::LoansWrittenOff { fund, tier }),
                    "written off of {id} {tier}"
                );
            }
        }
    }
}

fn fund_views(state: &State) -> Vec<(String, ledger_domain::FundBalance, String)> {
    state
        .funds()
        .map(|(id, f)| {
            // A line whose totals went back to zero equals a line never used.
            let insurance = format!(
                "{:?}",
                f.insurance(PolicyLine::HouseholdAccident)
                    .filter(|t| **t != ledger_domain::state::InsuranceTotals::default())
            );
            (id.to_string(), f.balance(), insurance)
        })
        .collect()
}

fn index(position: u64) -> usize {
    usize::try_from(position - FIRST_POSITION).unwrap()
}

/// A large appropriation received by every fund and tier, recorded before the log.
///
/// A ledger rebuilt without one event is not a ledger `decide` would have produced: its
/// cash can dip below zero part-way (money lent, repaid and lent again), which `evolve`
/// rightly refuses. The same buffer is put under both sides of the comparison, so
/// the balances compared differ from the real ones by the same constant.
fn buffer(log: &[Recorded]) -> Vec<Recorded> {
    let setup = log.iter().take_while(|r| {
        matches!(
            r.event,
            Event::UnitRegistered { .. } | Event::FundOpened { .. }
        )
    });
    let mut events: Vec<Event> = setup.map(|r| r.event.clone()).collect();
    for f in FUNDS {
        for tier in TIERS {
            for event in [
                Event::AppropriationCommitted {
                    fund: fund(f),
                    tier,
                    amount: amount_of(100_000_000_000),
                    reference: None,
                },
                Event::AppropriationReceived {
                    fund: fund(f),
                    tier,
                    amount: amount_of(100_000_000_000),
                    reference: None,
                },
            ] {
                events.push(event);
            }
        }
    }
    events
        .into_iter()
        .enumerate()
        .map(|(i, event)| Recorded {
            position: i as u64,
            command_id: "buffer".into(),
            actor: user("U0"),
            effective_date: day(2020, 1, 1),
            recorded_at: day(2020, 1, 1).and_hms_opt(0, 0, 0).unwrap(),
            event,
        })
        .collect()
}

fn rebuild(events: &[&Recorded]) -> State {
    let mut state = State::new();
    for recorded in events {
        evolve(&mut state, recorded);
    }
    state
}

/// What a run exercised, so tests can prove they are not vacuous.
#[derive(Debug, Default)]
struct Coverage {
    event_types: BTreeSet<&'static str>,
    rejections: BTreeSet<String>,
    reversals_checked: usize,
}

fn run_sequence(ops: &[(Op, u64)]) -> Coverage {
    let mut coverage = Coverage::default();
    let mut sim = Sim::new();
    for (op, back_days) in ops {
        if let Op::Advance(days) = op {
            sim.today = sim.today + Days::new(*days);
            continue;
        }
        let Some((u, command)) = sim.command_for(op) else {
            continue;
        };
        let date = sim.today - Days::new(*back_days);
        let outcome = sim.run(USERS[u], date, &command);
        if let Err(code) = &outcome {
            coverage.rejections.insert(code.clone());
        }
        if outcome.is_ok() {
            sim.check_invariants();
        } else if matches!(op, Op::Approve(..)) {
            // A rejected approval by the maker is retried by the other user, so that
            // approvals actually happen in the sequences.
            let _ = sim.run(USERS[1 - u], date, &command);
            sim.check_invariants();
        }
    }
    sim.check_invariants();
    // evolve is deterministic: the lean shadow and a rebuild from the log equal the state.
    assert_eq!(sim.state.to_lean(), sim.shadow);
    assert_eq!(sim.state.reversible_count(), sim.shadow.reversible_count());
    assert_eq!(rebuild(&sim.log.iter().collect::<Vec<_>>()), sim.state);

    // Reversing any reversible event restores every balance to what it would be
    // without that event.
    let reversal_pairs: BTreeMap<u64, u64> = sim
        .log
        .iter()
        .filter_map(|r| match r.event {
            Event::EventReversed { position, .. } => Some((position, r.position)),
            _ => None,
        })
        .collect();
    let candidates: Vec<u64> = sim
        .log
        .iter()
        .map(|r| r.position)
        .filter(|p| sim.state.reversible_at(*p).is_some())
        .collect();
    for position in candidates {
        let ctx = ledger_domain::CommandContext {
            actor: user("U1"),
            effective_date: sim.today,
            recorded_at: sim.today.and_hms_opt(23, 0, 0).unwrap(),
            command_id: "reverse".into(),
        };
        let command = Command::ReverseEvent {
            position,
            reason: "property".into(),
        };
        let Ok(events) = decide(&sim.state, &command, &ctx) else {
            continue;
        };
        assert_eq!(events.len(), 1);
        let original = sim.log[index(position)].event.postings();
        let opposite: Vec<_> = original.iter().map(|p| p.reversed()).collect();
        assert_eq!(
            events[0].postings(),
            opposite,
            "a reversal posts the opposite lines"
        );
        let reversal = Recorded {
            position: FIRST_POSITION + sim.log.len() as u64,
            command_id: "reverse".into(),
            actor: ctx.actor.clone(),
            effective_date: ctx.effective_date,
            recorded_at: ctx.recorded_at,
            event: events[0].clone(),
        };
        let buffered = buffer(&sim.log);
        let not_setup = |r: &&Recorded| {
            !matches!(
                r.event,
                Event::UnitRegistered { .. } | Event::FundOpened { .. }
            )
        };
        let with_log: Vec<&Recorded> = buffered
            .iter()
            .chain(sim.log.iter().filter(not_setup))
            .chain(std::iter::once(&reversal))
            .collect();
        let with = rebuild(&with_log);
        // Without it: the log minus the event, minus every pair already reversed (which
        // nets to nothing), minus the visits of awards that never existed then.
        let mut removed: BTreeSet<u64> = BTreeSet::from([position]);
        for (original, reversal) in &reversal_pairs {
            removed.insert(*original);
            removed.insert(*reversal);
        }
        let removed_awards: BTreeSet<String> = removed
            .iter()
            .filter_map(|p| match &sim.log[index(*p)].event {
                Event::HousingGrantAwarded { award, .. } => Some(award.to_string()),
                _ => None,
            })
            .collect();
        let kept: Vec<&Recorded> = sim
            .log
            .iter()
            .filter(|r| !removed.contains(&r.position))
            .filter(|r| match &r.event {
                Event::FollowUpVisitRecorded { award, .. } => {
                    !removed_awards.contains(award.as_str())
                }
                _ => true,
            })
            .collect();
        let without_log: Vec<&Recorded> = buffered
            .iter()
            .chain(kept.iter().copied().filter(not_setup))
            .collect();
        let without = rebuild(&without_log);
        assert_eq!(
            fund_views(&with),
            fund_views(&without),
            "reversing position {position} did not restore the balances"
        );
        let mut ledger_with = sim.ledger.clone();
        for p in events[0].postings() {
            *ledger_with.entry(p.account.clone()).or_default() += p.signed();
        }
        ledger_with.retain(|_, m| !m.is_zero());
        let ledger_without = account_balances(kept.iter().map(|r| &r.event));
        assert_eq!(ledger_with, ledger_without);
        coverage.reversals_checked += 1;
    }
    coverage.event_types = sim.log.iter().map(|r| r.event.event_type()).collect();
    coverage
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_keep_every_invariant(
        ops in prop::collection::vec((op(), prop_oneof![6 => Just(0u64), 1 => 1u64..45]), 1..160)
    ) {
        let coverage = run_sequence(&ops);
        if std::env::var("SIM_COVERAGE").is_ok() {
            eprintln!("{} reversals; {:?}; {:?}", coverage.reversals_checked, coverage.event_types, coverage.rejections);
        }
    }
}

/// A fixed, long sequence so that the interesting paths (approvals, reversals of every
/// kind, closed periods) are certainly exercised, whatever the random seeds do.
#[test]
fn a_long_deterministic_sequence_keeps_every_invariant() {
    let mut ops = Vec::new();
    for round in 0..6u8 {
        let r = usize::from(round);
        ops.extend([
            (Op::Commit(0, 1, 2_000_000), 0),
            (Op::Receive(0, 2, 1_500_000), 0),
            (Op::Commit(1, 0, 2_000_000), 0),
            (Op::Receive(0, 0, 0), 0),
            (Op::Commit(2, 2, 3_000_000), 0),
            (Op::Receive(0, 0, 0), 0),
            (Op::Commit(3, 0, 3_000_000), 0),
            (Op::Receive(0, 0, 0), 0),
            (Op::Commit(4, 1, 3_000_000), 0),
            (Op::Receive(0, 0, 0), 0),
            (Op::Commit(5, 1, 3_000_000), 0),
            (Op::Receive(0, 0, 0), 0),
            (Op::Commit(6, 1, 3_000_000), 0),
            (Op::Receive(0, 0, 0), 0),
            (Op::Loan(round * 2 % 6, r % 4, 1, 400_000, 6), 0),
            (Op::Loan((round * 2 + 1) % 6, r % 4, 0, 20_000, 3), 0),
            (Op::Approve(0, 1), 0),
            (Op::Repay(round * 2 % 6, 50_000, 0), 0),
            (Op::Grant(r % 4, vec![(0, 10_000)]), 0),
            (Op::Grant(r % 4, vec![(2, 50_000)]), 0),
            (Op::HousingAward(round % 4, r % 4, vec![(2, 90_000)]), 0),
            (Op::HousingPay(round % 4, 1), 0),
            (
                Op::BursaryAward(round, r % 4, 0, 300_000, round % 2 == 1),
                0,
            ),
            (Op::BursaryPay(round, 0), 0),
            (Op::Approve(0, 0), 0),
            (Op::Condolence(r % 4, vec![(1, 40_000)]), 0),
            (Op::Premium(true, vec![(1, 700_000), (3, 100_000)]), 0),
            (Op::Premium(false, vec![(1, 70_000), (3, 10_000)]), 0),
            (Op::Claim(true, 1, vec![(1, 5_000)]), 0),
            (Op::Claim(false, 1, vec![(3, 5_000)]), 0),
            (Op::Reverse(r * 7 + 40), 0),
            (Op::Reverse(r * 11 + 60), 0),
            (Op::WriteOff((round * 2 + 1) % 6), 0),
            (Op::Reschedule(round * 2 % 6, 12), 0),
            (Op::Reject(0), 0),
            (Op::Advance(20), 0),
            (Op::Expire, 0),
            (Op::Close(r % 4, false), 0),
            (Op::Grant(r % 4, vec![(0, 1_000)]), 40),
        ]);
    }
    let coverage = run_sequence(&ops);
    for expected in [
        "LoanDisbursed",
        "LoanRepaid",
        "LoanWrittenOff",
        "LoanRescheduled",
        "GrantPaid",
        "HousingGrantAwarded",
        "HousingInstalmentPaid",
        "BursaryAwarded",
        "BursaryInstalmentPaid",
        "CondolencePaid",
        "PremiumCollected",
        "ClaimPaid",
        "PaymentRequested",
        "PaymentApproved",
        "PaymentRejected",
        "EventReversed",
        "PeriodClosed",
    ] {
        assert!(
            coverage.event_types.contains(expected),
            "{expected} never happened"
        );
    }
    for expected in ["self_approval", "period_closed", "insufficient_funds"] {
        assert!(
            coverage.rejections.contains(expected),
            "{expected} never happened"
        );
    }
    assert!(coverage.reversals_checked >= 20, "{coverage:?}");
}
