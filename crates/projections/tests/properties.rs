//! Proves the projections' properties over random command sequences (proptest): each fund's balance equals the domain's `State::fund_balance` and the sums of its postings; folding the log in one pass equals folding it in two parts with the state serialised (bincode's serde mode, and JSON) in between; a balance as of date D equals a fresh fold of only the events dated on or before D, and as of position N a fresh fold of the first N events; the loan, insurance and programme reports agree with the domain's state and with simple models of the log; the audit trail finds every event where a naive scan does.
//!
//! How: a fixed world (units, one fund per programme and insurance model, beneficiaries
//! of every kind, two users) receives random commands, many of them backdated and many
//! rejected (overdrafts, self-approvals, closed periods, reversals of anything); the
//! domain's `decide` and `evolve` record the accepted ones, which the harness feeds to
//! the projections. Every check then runs on the final log.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate};
use common::*;
use ledger_domain::{
    Amount, BeneficiaryCategory, BeneficiaryKind, BursaryInstalment, CampaignId, ClaimPayer,
    ClaimPayment, Command, CondolenceForm, CondolencePayment, Event, FundId, FundingTier,
    GrantModality, GrantPayment, HousingInstalment, InsuranceModel, LoanDisbursement, Money,
    Period, PolicyLine, PremiumPayment, Programme, TierShare, TierSplit, UnitLevel,
};
use ledger_projections::{
    AuditTrail, DateRange, EventRecord, FundFigures, FundLedger, PageRequest, Projection,
    PAGE_SIZE_MAX,
};
use proptest::prelude::*;

/// Fund id, unit, programme, insurance model, approval threshold in yuan.
type FundSpec = (
    &'static str,
    &'static str,
    Programme,
    Option<InsuranceModel>,
    Option<i64>,
);

const FUNDS: [FundSpec; 7] = [
    ("REV", "FJ-SM", Programme::RevolvingFund, None, Some(3_000)),
    ("HP", "FJ-SM-SX", Programme::HappinessProject, None, None),
    ("HOUSE", "FJ-SM", Programme::Housing, None, None),
    ("BURS", "FJ-SM", Programme::Bursary, None, Some(2_000)),
    (
        "INS-I",
        "FJ-SM",
        Programme::Insurance,
        Some(InsuranceModel::InsurerUnderwritten),
        Some(5_000),
    ),
    (
        "INS-S",
        "FJ-SM-SX",
        Programme::Insurance,
        Some(InsuranceModel::SelfInsured),
        None,
    ),
    ("COND", "FJ-SM", Programme::Condolence, None, Some(500)),
];
const TIERS: [FundingTier; 5] = [
    FundingTier::Province,
    FundingTier::City,
    FundingTier::County,
    FundingTier::HouseholdContribution,
    FundingTier::Interest,
];
const BENEFICIARIES: [&str; 5] = ["B0", "B1", "B2", "B3", "BX"];
const USERS: [&str; 2] = ["U0", "U1"];
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
    Reserve(bool, i64),
    Approve(usize, usize),
    Reject(usize),
    Expire,
    Reverse(usize),
    /// Reverse the event this many positions before the last one.
    ReverseRecent(usize),
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
        4 => (0u8..6, 0..BENEFICIARIES.len(), tier(), fen(), 1u16..14)
            .prop_map(|(i, b, t, a, n)| Op::Loan(i, b, t, a, n)),
        4 => (0u8..6, fen(), prop_oneof![Just(0i64), 1i64..1_000]).prop_map(|(i, p, r)| Op::Repay(i, p, r)),
        1 => (0u8..6).prop_map(Op::WriteOff),
        1 => (0u8..6, 1u16..14).prop_map(|(i, n)| Op::Reschedule(i, n)),
        2 => (0..BENEFICIARIES.len(), shares()).prop_map(|(b, s)| Op::Grant(b, s)),
        2 => (0u8..4, 0..BENEFICIARIES.len(), shares()).prop_map(|(i, b, s)| Op::HousingAward(i, b, s)),
        2 => (0u8..4, 0usize..3).prop_map(|(i, part)| Op::HousingPay(i, part)),
        2 => (0u8..6, 0..BENEFICIARIES.len(), tier(), fen(), any::<bool>())
            .prop_map(|(i, b, t, a, s)| Op::BursaryAward(i, b, t, a, s)),
        2 => (0u8..6, 0i64..3).prop_map(|(i, part)| Op::BursaryPay(i, part)),
        2 => (0..BENEFICIARIES.len(), shares()).prop_map(|(b, s)| Op::Condolence(b, s)),
        2 => (any::<bool>(), shares()).prop_map(|(i, s)| Op::Premium(i, s)),
        2 => (any::<bool>(), 0..BENEFICIARIES.len(), shares()).prop_map(|(i, b, s)| Op::Claim(i, b, s)),
        1 => (any::<bool>(), 0i64..500_000).prop_map(|(i, a)| Op::Reserve(i, a)),
        3 => (0usize..8, 0..USERS.len()).prop_map(|(p, u)| Op::Approve(p, u)),
        1 => (0usize..8).prop_map(Op::Reject),
        1 => Just(Op::Expire),
        3 => (0usize..400).prop_map(Op::Reverse),
        3 => (0usize..12).prop_map(Op::ReverseRecent),
        1 => (0..UNITS.len(), any::<bool>()).prop_map(|(u, y)| Op::Close(u, y)),
        3 => (1u64..40).prop_map(Op::Advance),
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

fn world() -> Ledger {
    let mut l = Ledger::new();
    l.today = day(2021, 1, 1);
    l.register_unit("FJ", UnitLevel::Province, None);
    l.register_unit("FJ-SM", UnitLevel::City, Some("FJ"));
    l.register_unit("FJ-SM-SX", UnitLevel::County, Some("FJ-SM"));
    l.register_unit("FJ-XM", UnitLevel::City, Some("FJ"));
    for (id, home, programme, model, threshold) in FUNDS {
        l.open_fund_with(id, home, programme, threshold.map(yuan), model);
    }
    use BeneficiaryCategory::*;
    l.register(
        "B0",
        "FJ-SM-SX",
        BeneficiaryKind::Household,
        &[PoorHousehold],
    );
    l.register("B1", "FJ-SM-SX", BeneficiaryKind::Person, &[Mother]);
    l.register(
        "B2",
        "FJ-SM-SX",
        BeneficiaryKind::Person,
        &[Student, Migrant],
    );
    l.register("B3", "FJ-SM-SX", BeneficiaryKind::Household, &[Migrant]);
    l.register("BX", "FJ-XM", BeneficiaryKind::Household, &[]);
    l.ok(Command::OpenCampaign {
        campaign: CampaignId::new("C1").unwrap(),
        fund: fund("COND"),
        name: "Spring".into(),
    });
    // Money in most tiers, so that most random payments are accepted.
    for (id, ..) in FUNDS {
        for tier in [
            FundingTier::Province,
            FundingTier::City,
            FundingTier::County,
        ] {
            l.fund_cash(id, tier, yuan(50_000));
        }
    }
    l
}

fn command_for(l: &Ledger, op: &Op) -> Option<(usize, Command)> {
    let c = match op {
        Op::Commit(f, t, a) => Command::CommitAppropriation {
            fund: fund(FUNDS[*f].0),
            tier: TIERS[*t],
            amount: amount_of(*a),
            reference: None,
        },
        Op::Receive(pick, whole, a) => {
            // Receive against a commitment that is still open, so money really arrives.
            let open: Vec<(FundId, FundingTier, Money)> = l
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
                2 => amount_of((*a).min(outstanding.fen())),
                _ => outstanding.checked_add(amount_of(1)).unwrap(),
            };
            Command::ReceiveAppropriation {
                fund: fund_id,
                tier,
                amount,
                reference: Some("slip".into()),
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
            principal: amount_of(*p % 300_000),
            interest: amount_of(*r),
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
                modality: GrantModality::Health,
                batch: None,
                amount: total_of(&shares),
                shares,
            })
        }
        Op::HousingAward(i, b, s) => {
            let shares = split_of(s)?;
            Command::AwardHousingGrant {
                award: award(&format!("H{i}")),
                fund: fund("HOUSE"),
                beneficiary: person(BENEFICIARIES[*b]),
                amount: total_of(&shares),
                shares,
            }
        }
        Op::HousingPay(i, part) => {
            let id = award(&format!("H{i}"));
            let a = l.state.award(&id)?;
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
                award: id,
                amount: total_of(&shares),
                shares,
            })
        }
        Op::BursaryAward(i, b, t, a, supplement) => Command::AwardBursary {
            award: award(&format!("S{i}")),
            fund: fund("BURS"),
            student: person(BENEFICIARIES[*b]),
            academic_year: 2021,
            tier: TIERS[*t],
            amount: amount_of(*a),
            years: 2,
            supplement_reason: supplement.then(|| "top-up".to_owned()),
        },
        Op::BursaryPay(i, part) => {
            let id = award(&format!("S{i}"));
            let left = l
                .state
                .award(&id)
                .map_or(100, |a| a.amount().fen() - a.paid().fen().unwrap_or(0));
            let fen = match part {
                0 => left,
                1 => left / 2,
                _ => left + 1,
            };
            Command::PayBursaryInstalment(BursaryInstalment {
                award: id,
                amount: amount_of(fen.max(1)),
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
                coverage_start: l.today,
                coverage_end: l.today + Days::new(365),
                households: 10,
                persons: 25,
                tax_inclusive: total,
                tax_exclusive: amount_of(total.fen() * 94 / 100),
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
        Op::Reserve(insurer, a) => Command::EstimateClaimsReserve {
            fund: fund(if *insurer { "INS-I" } else { "INS-S" }),
            line: PolicyLine::HouseholdAccident,
            amount: amount_of(*a),
        },
        Op::Approve(pick, u) => {
            let requests: Vec<u64> = l.state.pending_requests().map(|(p, _)| p).collect();
            let request = *requests.get(pick % requests.len().max(1))?;
            return Some((*u, Command::ApprovePayment { request }));
        }
        Op::Reject(pick) => {
            let requests: Vec<u64> = l.state.pending_requests().map(|(p, _)| p).collect();
            let request = *requests.get(pick % requests.len().max(1))?;
            Command::RejectPayment {
                request,
                reason: "not eligible".into(),
            }
        }
        Op::Expire => Command::ExpireRequests { as_of: l.today },
        Op::Reverse(pick) => Command::ReverseEvent {
            position: (*pick % (l.log.len() + 2)) as u64,
            reason: "correction".into(),
        },
        Op::ReverseRecent(back) => Command::ReverseEvent {
            position: (l.log.len() as u64).checked_sub(1 + *back as u64)?,
            reason: "correction of a recent entry".into(),
        },
        Op::Close(u, year) => {
            use chrono::Datelike;
            let last_month = l.today - Days::new(35);
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
    Some((0, c))
}

/// Runs the operations; each command is dated `back_days` before today.
fn run(ops: &[(Op, u64)]) -> Ledger {
    let mut l = world();
    for (i, (op, back_days)) in ops.iter().enumerate() {
        if let Op::Advance(days) = op {
            l.today = l.today + Days::new(*days);
            continue;
        }
        let Some((u, command)) = command_for(&l, op) else {
            continue;
        };
        let date = l.today - Days::new(*back_days);
        l.memo = (i % 3 != 0).then(|| format!("memo {i}"));
        let outcome = l.run_as(USERS[u], date, command.clone());
        if outcome.is_err() && matches!(op, Op::Approve(..)) {
            // The maker cannot approve: let the other user do it, so approvals happen.
            let _ = l.run_as(USERS[1 - u], date, command);
        }
    }
    l
}

fn is_zero(f: &FundFigures) -> bool {
    f.by_tier.is_empty()
        && [
            f.committed,
            f.received,
            f.disbursed,
            f.lent,
            f.repaid,
            f.loans_outstanding,
            f.reserved,
            f.written_off,
            f.available,
            f.interest_income,
            f.household_contributions,
        ]
        .iter()
        .all(|m| m.is_zero())
}

fn fund_ids() -> Vec<FundId> {
    FUNDS.iter().map(|f| fund(f.0)).collect()
}

/// Each fund's balance equals the domain's and the sums of its postings.
fn check_balances(l: &Ledger) {
    let postings = account_balances(l.log.iter().map(|r| &r.recorded.event));
    for id in fund_ids() {
        let view = l.projections.fund_ledger.balance(&id).unwrap();
        assert_same_balance(&view, &l.state.fund_balance(&id).unwrap(), id.as_str());
        assert_matches_postings(&view, &id, &postings, id.as_str());
    }
}

/// Folding in two parts, with the state serialised in between, equals one pass.
fn check_split(l: &Ledger, split: usize) {
    let (head, tail) = l.log.split_at(split);
    let mut first = Projections::from_log(head);
    first = Projections {
        fund_ledger: through_bincode(&first.fund_ledger),
        programmes: through_bincode(&first.programmes),
        insurance: through_bincode(&first.insurance),
        loans: through_bincode(&first.loans),
        audit: through_bincode(&first.audit),
    };
    for record in tail {
        first.apply(record);
    }
    assert!(first == l.projections, "bincode split at {split} differs");
    let mut json = Projections::from_log(head);
    json = Projections {
        fund_ledger: through_json(&json.fund_ledger),
        programmes: through_json(&json.programmes),
        insurance: through_json(&json.insurance),
        loans: through_json(&json.loans),
        audit: through_json(&json.audit),
    };
    for record in tail {
        json.apply(record);
    }
    assert!(json == l.projections, "JSON split at {split} differs");
}

/// As of date D equals a fresh fold of the events dated on or before D; as of position
/// N equals a fresh fold of the first N + 1 events.
fn check_as_of(l: &Ledger) {
    let dates: BTreeSet<NaiveDate> = l.log.iter().map(|r| r.recorded.effective_date).collect();
    let first = *dates.first().unwrap();
    let dates: Vec<NaiveDate> = dates.into_iter().collect();
    let step = (dates.len() / 8).max(1);
    let mut sample: Vec<NaiveDate> = dates.iter().copied().step_by(step).collect();
    sample.push(first.pred_opt().unwrap());
    sample.push(*dates.last().unwrap());
    for date in sample {
        let mut fresh = FundLedger::default();
        for r in l.log.iter().filter(|r| r.recorded.effective_date <= date) {
            fresh.apply(r);
        }
        for id in fund_ids() {
            let as_of = l.projections.fund_ledger.balance_as_of(&id, date).unwrap();
            match fresh.balance(&id) {
                Ok(expected) => assert_eq!(as_of, expected, "{id} as of {date}"),
                Err(_) => assert!(is_zero(&as_of), "{id} as of {date} before any event"),
            }
        }
    }
    let n = l.log.len();
    for position in [0, n / 4, n / 2, n - 1] {
        let fresh = Projections::from_log(&l.log[..=position]);
        for id in fund_ids() {
            let at = l
                .projections
                .fund_ledger
                .balance_at_position(&id, position as u64)
                .unwrap();
            match fresh.fund_ledger.balance(&id) {
                Ok(expected) => assert_eq!(at, expected, "{id} at position {position}"),
                Err(_) => assert!(is_zero(&at)),
            }
        }
    }
}

/// A statement over any range: opening and closing equal the balances as of the days
/// around it, pages put together give every movement dated in the range in (date,
/// position) order, and each line's balance is the previous one plus its change.
fn check_statements(l: &Ledger) {
    let dates: Vec<NaiveDate> = l
        .log
        .iter()
        .map(|r| r.recorded.effective_date)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let from = dates[dates.len() / 3];
    let to = *dates.last().unwrap();
    let range = DateRange::new(from, to).unwrap();
    let ledger = &l.projections.fund_ledger;
    for id in fund_ids() {
        let first = ledger
            .statement(&id, range, PageRequest::new(0, 3).unwrap(), &l.log[..])
            .unwrap();
        assert_eq!(
            first.opening,
            ledger.balance_as_of(&id, from.pred_opt().unwrap()).unwrap()
        );
        assert_eq!(first.closing, ledger.balance_as_of(&id, to).unwrap());
        let mut lines = first.lines.items.clone();
        let mut next = first.lines.next_offset;
        while let Some(offset) = next {
            let page = ledger
                .statement(&id, range, PageRequest::new(offset, 3).unwrap(), &l.log[..])
                .unwrap();
            lines.extend(page.lines.items);
            next = page.lines.next_offset;
        }
        assert_eq!(lines.len() as u64, first.lines.total);
        let keys: Vec<(NaiveDate, u64)> = lines
            .iter()
            .map(|x| (x.effective_date, x.position))
            .collect();
        let expected: Vec<(NaiveDate, u64)> = {
            let mut k: Vec<(NaiveDate, u64)> = l
                .log
                .iter()
                .filter(|r| {
                    r.recorded.event.fund() == Some(&id)
                        && range.contains(r.recorded.effective_date)
                })
                .filter(|r| {
                    // Only events that move a figure of the fund are movements.
                    let mut alone = FundLedger::default();
                    alone.apply(r);
                    alone.movement_count(&id).is_ok_and(|n| n == 1)
                })
                .map(|r| (r.recorded.effective_date, r.recorded.position))
                .collect();
            k.sort_unstable();
            k
        };
        assert_eq!(keys, expected, "{id} statement lines");
        // Who, when and why come from the log's record of each line.
        for line in &lines {
            let r = &l.log[usize::try_from(line.position).unwrap()];
            assert_eq!(line.event_type, r.recorded.event.event_type());
            assert_eq!(line.actor, r.recorded.actor);
            assert_eq!(line.recorded_at, r.recorded.recorded_at);
            assert_eq!(line.memo, r.memo.as_ref());
        }
        let mut previous = first.opening.clone();
        for line in &lines {
            assert_eq!(
                line.balance.available,
                previous.available + line.change.available
            );
            assert_eq!(
                line.balance.committed,
                previous.committed + line.change.committed
            );
            assert_eq!(
                line.balance.loans_outstanding,
                previous.loans_outstanding + line.change.loans_outstanding
            );
            assert_eq!(
                line.balance.reserved,
                previous.reserved + line.change.reserved
            );
            previous = line.balance.clone();
        }
        assert_eq!(
            previous, first.closing,
            "{id}: the last line's balance is the closing"
        );
    }
}

/// Loan reports: today they equal the domain's state; on any date their principal
/// figures equal the fund ledger's.
fn check_loans(l: &Ledger) {
    let today = l.today;
    for f in ["REV", "HP"] {
        let id = fund(f);
        let r = l.projections.loans.fund_report(&id, today).unwrap();
        assert_eq!(
            (r.repaid_on_time, r.principal_due),
            l.state.repayment_inputs(&id, today),
            "{f} repayment inputs"
        );
        assert_eq!(r.overdue_principal, l.state.overdue_principal(&id, today));
        assert_eq!(
            (r.outstanding_at_risk, r.outstanding),
            l.state.par30_inputs(&id, today),
            "{f} PAR30 inputs"
        );
        for back in [0u64, 20, 45, 90] {
            let date = today - Days::new(back);
            let r = l.projections.loans.fund_report(&id, date).unwrap();
            let b = l.projections.fund_ledger.balance_as_of(&id, date).unwrap();
            assert_eq!(
                (
                    r.disbursed,
                    r.repaid,
                    r.outstanding,
                    r.written_off,
                    r.capital_received
                ),
                (
                    b.lent,
                    b.repaid,
                    b.loans_outstanding,
                    b.written_off,
                    b.received
                ),
                "{f} principal figures as of {date}"
            );
        }
    }
    let all = l.projections.loans.unit_report(&unit("FJ"), today).unwrap();
    assert_eq!(all.funds, 2);
}

/// The reserve in force at the end of `date` for a fund, read naively from the log:
/// the estimate recorded last among those dated on or before it.
fn model_reserve(l: &Ledger, f: &str, date: NaiveDate) -> Option<Money> {
    l.log.iter().rev().find_map(|r| match &r.recorded.event {
        Event::ClaimsReserveEstimated {
            fund: id, amount, ..
        } if *id == fund(f) && r.recorded.effective_date <= date => Some(amount.to_money()),
        _ => None,
    })
}

/// Over all time, each insurance fund's figures equal the domain's totals; over any
/// period its reserves are the ones in force at the period's ends.
fn check_insurance(l: &Ledger) {
    let dates: BTreeSet<NaiveDate> = l.log.iter().map(|r| r.recorded.effective_date).collect();
    for date in dates.iter().step_by((dates.len() / 6).max(1)) {
        let from = *date - Days::new(20);
        let range = DateRange::new(from, *date).unwrap();
        let r = l
            .projections
            .insurance
            .report(&unit("FJ-SM"), PolicyLine::HouseholdAccident, range)
            .unwrap();
        let county = &r
            .children
            .iter()
            .find(|c| c.unit == unit("FJ-SM-SX"))
            .unwrap()
            .figures;
        for (figures, f) in [(&r.own, "INS-I"), (county, "INS-S")] {
            let day_before = from.pred_opt().unwrap();
            assert_eq!(
                figures.reserve_at_end,
                model_reserve(l, f, *date),
                "{f} reserve at {date}"
            );
            assert_eq!(
                figures.reserve_at_start,
                model_reserve(l, f, day_before),
                "{f} reserve before {from}"
            );
            assert_eq!(
                figures.incurred_loss_ratio.is_some(),
                figures.reserve_at_end.is_some()
            );
        }
    }
    let all = DateRange::new(day(2019, 1, 1), day(2030, 12, 31)).unwrap();
    let r = l
        .projections
        .insurance
        .report(&unit("FJ-SM"), PolicyLine::HouseholdAccident, all)
        .unwrap();
    let county = r
        .children
        .iter()
        .find(|c| c.unit == unit("FJ-SM-SX"))
        .unwrap();
    for (figures, f) in [(&r.own, "INS-I"), (&county.figures, "INS-S")] {
        let totals = l
            .state
            .fund(&fund(f))
            .unwrap()
            .insurance(PolicyLine::HouseholdAccident)
            .copied()
            .unwrap_or_default();
        assert_eq!(
            figures.premium_tax_inclusive,
            totals.premium_tax_inclusive(),
            "{f}"
        );
        assert_eq!(
            figures.premium_tax_exclusive,
            totals.premium_tax_exclusive(),
            "{f}"
        );
        assert_eq!(
            figures.households,
            i64::try_from(totals.households()).unwrap()
        );
        assert_eq!(figures.persons, i64::try_from(totals.persons()).unwrap());
        assert_eq!(
            figures.claims_count,
            i64::try_from(totals.claims_count()).unwrap()
        );
        assert_eq!(
            figures.claims_paid_by_insurer,
            totals.claims_paid_by_insurer()
        );
        assert_eq!(figures.claims_paid_by_fund, totals.claims_paid_by_fund());
        assert_eq!(
            figures.simple_loss_ratio.value,
            totals.simple_loss_ratio(),
            "{f}"
        );
        match &figures.incurred_loss_ratio {
            Some(incurred) => {
                assert_eq!(figures.reserve_at_end, Some(totals.outstanding_reserve()));
                assert_eq!(incurred.value, totals.incurred_loss_ratio(), "{f}");
            }
            None => assert!(totals.outstanding_reserve().is_zero()),
        }
    }
}

/// Payments to beneficiaries, by programme: (effective date, beneficiary, signed fen),
/// a reversal undoing its original on the reversal's date. A second, naive reading of
/// the log to check the programme report against.
/// One payment to a beneficiary in the naive model: date, beneficiary, signed fen, and
/// whether it was a loan to a borrower flagged as a migrant.
type ModelHelp = (NaiveDate, String, i64, bool);

fn helps_by_programme(l: &Ledger) -> BTreeMap<Programme, Vec<ModelHelp>> {
    let programme_of = |f: &FundId| l.state.fund(f).unwrap().programme();
    let mut originals: BTreeMap<u64, (Programme, String, i64, bool)> = BTreeMap::new();
    let mut helps: BTreeMap<Programme, Vec<ModelHelp>> = BTreeMap::new();
    for r in &l.log {
        let e = &r.recorded.event;
        let migrant = matches!(e, Event::LoanDisbursed(d) if d.migrant);
        let found = match e {
            Event::LoanDisbursed(d) => Some((&d.fund, &d.beneficiary, d.principal)),
            Event::GrantPaid(g) => Some((&g.fund, &g.beneficiary, g.amount)),
            Event::HousingInstalmentPaid {
                fund,
                beneficiary,
                amount,
                ..
            }
            | Event::CondolencePaid {
                fund,
                beneficiary,
                amount,
                ..
            } => Some((fund, beneficiary, *amount)),
            Event::BursaryInstalmentPaid {
                fund,
                student,
                amount,
                ..
            } => Some((fund, student, *amount)),
            Event::ClaimPaid(c) => Some((&c.fund, &c.beneficiary, c.amount)),
            _ => None,
        };
        let date = r.recorded.effective_date;
        if let Some((f, b, a)) = found {
            let entry = (programme_of(f), b.to_string(), a.fen(), migrant);
            helps
                .entry(entry.0)
                .or_default()
                .push((date, entry.1.clone(), entry.2, migrant));
            originals.insert(r.recorded.position, entry);
        }
        if let Event::EventReversed { position, .. } = e {
            if let Some((p, b, fen, migrant)) = originals.get(position) {
                helps
                    .entry(*p)
                    .or_default()
                    .push((date, b.clone(), -fen, *migrant));
            }
        }
    }
    helps
}

/// Programme rows equal the sums of the domain's fund balances (whole history) and the
/// naive reading of the log (for any period).
/// The naive reading of one programme's payments over one period: (paid, helped).
fn model_helped(
    helps: &BTreeMap<Programme, Vec<ModelHelp>>,
    programme: Programme,
    range: DateRange,
) -> (Money, ledger_projections::Helped) {
    let mut net: BTreeMap<&str, (i64, bool)> = BTreeMap::new();
    for (date, b, fen, migrant) in helps.get(&programme).into_iter().flatten() {
        if range.contains(*date) {
            let n = net.entry(b.as_str()).or_default();
            n.0 += fen;
            n.1 |= *migrant && *fen > 0;
        }
    }
    let paid: i64 = net.values().map(|n| n.0).sum();
    let helped: Vec<(&str, bool)> = net
        .iter()
        .filter(|(_, n)| n.0 > 0)
        .map(|(b, n)| (*b, n.1))
        .collect();
    let count = |pick: fn(&(&str, bool)) -> bool| helped.iter().filter(|h| pick(h)).count() as u64;
    // The world's profiles: B0 poor household, B1 mother, B2 migrant student, B3
    // migrant household, BX a household without categories.
    let model = ledger_projections::Helped {
        beneficiaries: helped.len() as u64,
        households: count(|h| matches!(h.0, "B0" | "B3" | "BX")),
        persons: count(|h| matches!(h.0, "B1" | "B2")),
        students: count(|h| h.0 == "B2"),
        mothers: count(|h| h.0 == "B1"),
        migrants: count(|h| matches!(h.0, "B2" | "B3") || h.1),
    };
    (Money::from_fen(paid), model)
}

/// Programme rows equal the sums of the domain's fund balances (whole history) and the
/// naive reading of the log (for any period and the same period a year earlier, also
/// when the two overlap).
fn check_programmes(l: &Ledger) {
    let all = DateRange::new(day(2019, 1, 1), day(2030, 12, 31)).unwrap();
    let helps = helps_by_programme(l);
    for range in [
        all,
        DateRange::year(2021).unwrap(),
        DateRange::year(2022).unwrap(),
        DateRange::new(day(2020, 12, 1), day(2021, 6, 30)).unwrap(),
    ] {
        let report = l.projections.programmes.report(&unit("FJ"), range).unwrap();
        let earlier = l
            .projections
            .programmes
            .report(&unit("FJ"), range.a_year_earlier())
            .unwrap();
        for row in &report.rows {
            let p = row.programme;
            let (paid, helped) = model_helped(&helps, p, range);
            assert_eq!(row.paid_to_beneficiaries, paid, "{p}");
            assert_eq!(row.helped, helped, "{p} helped in {range:?}");
            let (_, helped_before) = model_helped(&helps, p, range.a_year_earlier());
            assert_eq!(row.helped_last_year, helped_before, "{p} a year earlier");
            let before = earlier.rows.iter().find(|r| r.programme == p).unwrap();
            assert_eq!(
                row.disbursed_last_year, before.disbursed,
                "{p} a year earlier"
            );
            if range == all {
                let balances: Vec<_> = l
                    .state
                    .funds()
                    .filter(|(_, f)| f.programme() == p)
                    .map(|(_, f)| f.balance())
                    .collect();
                let sum = |field: fn(&ledger_domain::FundBalance) -> Money| {
                    balances.iter().map(field).sum::<Money>()
                };
                assert_eq!(row.committed, sum(|b| b.committed), "{p}");
                assert_eq!(row.received, sum(|b| b.received), "{p}");
                assert_eq!(row.disbursed, sum(|b| b.disbursed), "{p}");
            }
        }
    }
}

/// Who each event concerns, read naively: the beneficiary it names, or the borrower of
/// its loan, the beneficiary of its award, of the request it decides or of the event it
/// reverses.
fn beneficiary_model(l: &Ledger) -> Vec<(u64, Option<String>)> {
    let mut loans: BTreeMap<String, String> = BTreeMap::new();
    let mut awards: BTreeMap<String, String> = BTreeMap::new();
    let mut by_position: BTreeMap<u64, Option<String>> = BTreeMap::new();
    for r in &l.log {
        let who: Option<String> = match &r.recorded.event {
            Event::BeneficiaryRegistered { beneficiary, .. } => Some(beneficiary.to_string()),
            Event::LoanDisbursed(d) => {
                loans.insert(d.loan.to_string(), d.beneficiary.to_string());
                Some(d.beneficiary.to_string())
            }
            Event::HousingGrantAwarded {
                award, beneficiary, ..
            }
            | Event::BursaryAwarded {
                award,
                student: beneficiary,
                ..
            } => {
                awards.insert(award.to_string(), beneficiary.to_string());
                Some(beneficiary.to_string())
            }
            Event::LoanRepaid { loan, .. }
            | Event::LoanRescheduled { loan, .. }
            | Event::LoanWrittenOff { loan, .. } => loans.get(loan.as_str()).cloned(),
            Event::GrantPaid(g) => Some(g.beneficiary.to_string()),
            Event::HousingInstalmentPaid { beneficiary, .. }
            | Event::FollowUpVisitRecorded { beneficiary, .. }
            | Event::CondolencePaid { beneficiary, .. } => Some(beneficiary.to_string()),
            Event::BursaryInstalmentPaid { student, .. } => Some(student.to_string()),
            Event::ClaimPaid(c) => Some(c.beneficiary.to_string()),
            Event::PaymentRequested { payment, .. } => match payment {
                ledger_domain::Payment::Loan(d) => Some(d.beneficiary.to_string()),
                ledger_domain::Payment::Grant(g) => Some(g.beneficiary.to_string()),
                ledger_domain::Payment::HousingInstalment(h) => {
                    awards.get(h.award.as_str()).cloned()
                }
                ledger_domain::Payment::BursaryInstalment(b) => {
                    awards.get(b.award.as_str()).cloned()
                }
                ledger_domain::Payment::Condolence(c) => Some(c.beneficiary.to_string()),
                ledger_domain::Payment::Claim(c) => Some(c.beneficiary.to_string()),
                ledger_domain::Payment::Premium(_) => None,
            },
            Event::PaymentApproved { request, .. }
            | Event::PaymentRejected { request, .. }
            | Event::PaymentRequestExpired { request, .. } => by_position[request].clone(),
            Event::EventReversed { position, .. } => by_position[position].clone(),
            _ => None,
        };
        by_position.insert(r.recorded.position, who);
    }
    by_position.into_iter().collect()
}

/// The audit trail finds every event where a scan of the log does.
fn check_audit(l: &Ledger, trail: &AuditTrail) {
    assert_eq!(trail.len(), l.log.len() as u64);
    // The trail reads command ids and chain hashes back from the log.
    let log = &l.log[..];
    let page = PageRequest::new(0, PAGE_SIZE_MAX).unwrap();
    // The runs record fewer events than one page holds.
    let positions = |p: ledger_projections::Page<ledger_projections::AuditRecord>| {
        assert_eq!(p.next_offset, None);
        assert_eq!(p.total, p.items.len() as u64);
        p.items.iter().map(|r| r.position).collect::<Vec<u64>>()
    };
    for r in &l.log {
        let rec = &r.recorded;
        let e = trail.entry(rec.position, log).unwrap().unwrap();
        assert_eq!(e.event_type, rec.event.event_type());
        assert_eq!(e.actor, rec.actor);
        assert_eq!(e.command_id, rec.command_id);
        assert_eq!(e.effective_date, rec.effective_date);
        assert_eq!(e.recorded_at, rec.recorded_at);
        assert_eq!(e.memo, &*r.memo);
        assert_eq!(e.hash, r.hash);
        assert_eq!(e.fund.as_ref(), rec.event.fund());
        if let Event::EventReversed { position, .. } = rec.event {
            assert_eq!(e.reverses, Some(position));
            assert_eq!(
                trail.entry(position, log).unwrap().unwrap().reversed_by,
                Some(rec.position)
            );
        }
        let by_command: Vec<u64> = l
            .log
            .iter()
            .filter(|o| o.recorded.command_id == rec.command_id)
            .map(|o| o.recorded.position)
            .collect();
        assert_eq!(
            positions(trail.by_command(&rec.command_id, None, page, log).unwrap()),
            by_command
        );
    }
    for id in fund_ids() {
        let expected: Vec<u64> = l
            .log
            .iter()
            .filter(|r| r.recorded.event.fund() == Some(&id))
            .map(|r| r.recorded.position)
            .collect();
        assert_eq!(
            positions(trail.by_fund(&id, None, page, log).unwrap()),
            expected,
            "{id}"
        );
        // Narrowed to a year: the fund's events with an effective date in it.
        let year = DateRange::year(2021).unwrap();
        let in_year: Vec<u64> = l
            .log
            .iter()
            .filter(|r| {
                r.recorded.event.fund() == Some(&id) && year.contains(r.recorded.effective_date)
            })
            .map(|r| r.recorded.position)
            .collect();
        assert_eq!(
            positions(trail.by_fund(&id, Some(year), page, log).unwrap()),
            in_year,
            "{id} in 2021"
        );
    }
    for u in USERS {
        let expected: Vec<u64> = l
            .log
            .iter()
            .filter(|r| r.recorded.actor == user(u))
            .map(|r| r.recorded.position)
            .collect();
        assert_eq!(
            positions(trail.by_actor(&user(u), None, page, log).unwrap()),
            expected,
            "{u}"
        );
    }
    // Every event is found under the beneficiary it concerns, naively attributed.
    let model = beneficiary_model(l);
    for b in BENEFICIARIES {
        let expected: Vec<u64> = model
            .iter()
            .filter(|(_, who)| who.as_deref() == Some(b))
            .map(|(p, _)| *p)
            .collect();
        assert_eq!(
            positions(trail.by_beneficiary(&person(b), None, page, log).unwrap()),
            expected,
            "{b}"
        );
    }
    for b in BENEFICIARIES {
        let found: BTreeSet<u64> =
            positions(trail.by_beneficiary(&person(b), None, page, log).unwrap())
                .into_iter()
                .collect();
        for r in &l.log {
            let names = match &r.recorded.event {
                Event::GrantPaid(g) => g.beneficiary == person(b),
                Event::LoanDisbursed(d) => d.beneficiary == person(b),
                Event::ClaimPaid(c) => c.beneficiary == person(b),
                Event::BursaryInstalmentPaid { student, .. } => *student == person(b),
                _ => false,
            };
            assert!(!names || found.contains(&r.recorded.position), "{b}");
        }
    }
    let all = DateRange::new(day(2019, 1, 1), day(2030, 12, 31)).unwrap();
    let mut by_date: Vec<(NaiveDate, u64)> = l
        .log
        .iter()
        .map(|r| (r.recorded.effective_date, r.recorded.position))
        .collect();
    by_date.sort_unstable();
    let expected: Vec<u64> = by_date.into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        positions(trail.by_effective_dates(all, page, log).unwrap()),
        expected
    );
}

fn check_everything(l: &Ledger, split: usize) {
    let n = l.log.len() as u64;
    assert_eq!(l.projections.fund_ledger.next_position(), n);
    assert_eq!(l.projections.programmes.next_position(), n);
    assert_eq!(l.projections.insurance.next_position(), n);
    assert_eq!(l.projections.loans.next_position(), n);
    assert_eq!(l.projections.audit.next_position(), n);
    assert!(
        l.rebuild() == l.projections,
        "a rebuild differs from the incremental fold"
    );
    check_balances(l);
    check_split(l, split % (l.log.len() + 1));
    check_as_of(l);
    check_statements(l);
    check_loans(l);
    check_insurance(l);
    check_programmes(l);
    // The trail's indexes are built on its first query: here at the end, from all the
    // entries; and in a trail queried before any event, by `apply` one event at a time.
    check_audit(l, &l.projections.audit);
    let mut eager = AuditTrail::default();
    eager.build_indexes();
    for record in &l.log {
        eager.apply(record);
    }
    check_audit(l, &eager);
    // Queried half-way, then brought up to date.
    let mut halfway = Projections::from_log(&l.log[..l.log.len() / 2]).audit;
    halfway.build_indexes();
    for record in &l.log[l.log.len() / 2..] {
        halfway.apply(record);
    }
    check_audit(l, &halfway);
}

fn reversed_types(log: &[EventRecord]) -> BTreeSet<&'static str> {
    log.iter()
        .filter_map(|r| match &r.recorded.event {
            Event::EventReversed { reversed, .. } => Some(reversed.event_type()),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn random_command_sequences_keep_every_projection_property(
        ops in prop::collection::vec((op(), prop_oneof![5 => Just(0u64), 2 => 1u64..45]), 1..300),
        split in 0usize..400,
    ) {
        let l = run(&ops);
        if std::env::var("SIM_COVERAGE").is_ok() {
            eprintln!("{} events from {} operations", l.log.len(), ops.len());
        }
        check_everything(&l, split);
    }
}

/// A fixed, long sequence so that the interesting paths (approvals, backdating, every
/// kind of reversal, reserves, write-offs) are certainly exercised.
#[test]
fn a_long_deterministic_sequence_keeps_every_projection_property() {
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
            (Op::Loan(round * 2 % 6, r % 4, 1, 400_000, 6), 10),
            (Op::Loan((round * 2 + 1) % 6, r % 4, 0, 20_000, 3), 0),
            (Op::Approve(0, 1), 0),
            (Op::Advance(33), 0),
            (Op::Repay(round * 2 % 6, 50_000, 300), 0),
            (Op::Grant(r % 4, vec![(0, 10_000)]), 3),
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
            (Op::Reserve(true, 20_000 + i64::from(round)), 0),
            (Op::ReverseRecent(r), 0),
            (Op::ReverseRecent(r * 3 + 1), 20),
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
    let l = run(&ops);
    let types: BTreeSet<&str> = l
        .log
        .iter()
        .map(|r| r.recorded.event.event_type())
        .collect();
    for expected in [
        "LoanDisbursed",
        "LoanRepaid",
        "LoanWrittenOff",
        "LoanRescheduled",
        "GrantPaid",
        "HousingInstalmentPaid",
        "BursaryInstalmentPaid",
        "CondolencePaid",
        "PremiumCollected",
        "ClaimPaid",
        "ClaimsReserveEstimated",
        "PaymentRequested",
        "PaymentApproved",
        "PaymentRejected",
        "EventReversed",
        "PeriodClosed",
    ] {
        assert!(types.contains(expected), "{expected} never happened");
    }
    assert!(
        reversed_types(&l.log).len() >= 3,
        "{:?}",
        reversed_types(&l.log)
    );
    let backdated = l
        .log
        .iter()
        .filter(|r| r.recorded.effective_date < r.recorded.recorded_at.date())
        .count();
    assert!(backdated >= 10, "only {backdated} backdated events");
    for split in [0, l.log.len() / 3, l.log.len() / 2, l.log.len()] {
        check_everything(&l, split);
    }
}
