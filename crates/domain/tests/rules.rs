//! Proves every domain rule and every rejection of issue 3 in given/when/then form: each test sets up a ledger through real commands (given), runs one command (when), and checks the events, balances or the typed rejection with its code and message (then).

mod common;

use std::collections::BTreeSet;

use common::*;
use ledger_domain::ledger::{is_balanced, Side};
use ledger_domain::state::LoanStatus;
use ledger_domain::{
    decide, upcast, Account, AwardId, BeneficiaryCategory, BeneficiaryKind, BursaryInstalment,
    CampaignId, ClaimPayer, ClaimPayment, Command, CondolenceForm, CondolencePayment, Event,
    FundingTier, GrantModality, GrantPayment, HousingInstalment, InsuranceModel, Money, Period,
    PolicyLine, PremiumPayment, Programme, State, UnitLevel, VisitOutcome,
};

use FundingTier::{City, County, HouseholdContribution, Interest, Province};

fn award(id: &str) -> AwardId {
    AwardId::new(id).unwrap()
}

/// Units, a revolving fund with ¥100,000.00 of city money, and two borrowers.
fn lending_ledger(threshold: Option<ledger_domain::Amount>) -> Ledger {
    let mut l = Ledger::new().with_units();
    l.open_fund("SM-REV", "FJ-SM", Programme::RevolvingFund, threshold);
    l.fund_cash("SM-REV", City, yuan(100_000));
    l.register_beneficiary("HH-1", "FJ-SM-SX-01-01", BeneficiaryKind::Household);
    l.register_beneficiary("HH-2", "FJ-SM-SX", BeneficiaryKind::Household);
    l
}

fn bursary_ledger() -> Ledger {
    let mut l = Ledger::new().with_units();
    l.open_fund("SM-2021-BURSARY", "FJ-SM", Programme::Bursary, None);
    l.fund_cash("SM-2021-BURSARY", Province, yuan(100_000));
    l.fund_cash("SM-2021-BURSARY", City, yuan(10_000));
    l.register_beneficiary("ST-1", "FJ-SM-SX", BeneficiaryKind::Person);
    l
}

fn award_bursary(
    id: &str,
    tier: FundingTier,
    a: ledger_domain::Amount,
    years: u8,
    supplement: Option<&str>,
) -> Command {
    Command::AwardBursary {
        award: award(id),
        fund: fund("SM-2021-BURSARY"),
        student: person("ST-1"),
        academic_year: 2021,
        tier,
        amount: a,
        years,
        supplement_reason: supplement.map(str::to_owned),
    }
}

fn housing_ledger() -> Ledger {
    let mut l = Ledger::new().with_units();
    l.open_fund("SM-HOUSING", "FJ-SM", Programme::Housing, None);
    l.fund_cash("SM-HOUSING", Province, yuan(100_000));
    l.fund_cash("SM-HOUSING", City, yuan(100_000));
    l.fund_cash("SM-HOUSING", County, yuan(100_000));
    l.register_beneficiary("HH-1", "FJ-SM-SX-01", BeneficiaryKind::Household);
    l
}

fn insurance_ledger(model: InsuranceModel) -> Ledger {
    let mut l = Ledger::new().with_units();
    l.open_fund_with_model("SM-INS", "FJ-SM", Programme::Insurance, None, Some(model));
    l.fund_cash("SM-INS", City, yuan(10_000));
    l.register_beneficiary("HH-1", "FJ-SM-SX", BeneficiaryKind::Household);
    l
}

fn premium(tax_inclusive: &str, tax_exclusive: &str, shares: ledger_domain::TierSplit) -> Command {
    Command::CollectPremium(PremiumPayment {
        fund: fund("SM-INS"),
        line: PolicyLine::HouseholdAccident,
        coverage_start: day(2021, 1, 1),
        coverage_end: day(2021, 12, 31),
        households: 100,
        persons: 300,
        tax_inclusive: amount(tax_inclusive),
        tax_exclusive: amount(tax_exclusive),
        shares,
    })
}

fn claim(amount_text: &str, payer: ClaimPayer) -> Command {
    Command::PayClaim(ClaimPayment {
        fund: fund("SM-INS"),
        line: PolicyLine::HouseholdAccident,
        beneficiary: person("HH-1"),
        amount: amount(amount_text),
        payer,
    })
}

fn grant(f: &str, a: &str, shares: ledger_domain::TierSplit) -> Command {
    Command::PayGrant(GrantPayment {
        fund: fund(f),
        beneficiary: person("HH-1"),
        modality: GrantModality::Relief,
        batch: None,
        amount: amount(a),
        shares,
    })
}

// ---- organisations -----------------------------------------------------------------

#[test]
fn a_unit_hangs_exactly_one_level_below_its_parent() {
    // Given a province and a city
    let mut l = Ledger::new();
    l.register_unit("FJ", UnitLevel::Province, None);
    l.register_unit("FJ-SM", UnitLevel::City, Some("FJ"));
    // When a township is put directly under the city
    let r = l.rejects(Command::RegisterUnit {
        unit: unit("FJ-SM-X"),
        name: "x".into(),
        level: UnitLevel::Township,
        parent: Some(unit("FJ-SM")),
    });
    // Then it is refused, naming both levels
    assert_eq!(r.code(), "parent_level_mismatch");
    assert_eq!(
        r.to_string(),
        "unit FJ-SM-X is a township/street, so its parent must be a county/district; FJ-SM is a city"
    );
    let r = l.rejects(Command::RegisterUnit {
        unit: unit("FJ2"),
        name: "x".into(),
        level: UnitLevel::Province,
        parent: Some(unit("FJ")),
    });
    assert_eq!(r.code(), "province_has_parent");
    let r = l.rejects(Command::RegisterUnit {
        unit: unit("C2"),
        name: "x".into(),
        level: UnitLevel::City,
        parent: None,
    });
    assert_eq!(r.code(), "parent_required");
    let r = l.rejects(Command::RegisterUnit {
        unit: unit("C3"),
        name: "x".into(),
        level: UnitLevel::City,
        parent: Some(unit("NOPE")),
    });
    assert_eq!(r.code(), "unknown_unit");
    assert_eq!(r.to_string(), "unknown unit NOPE; register the unit first");
    let r = l.rejects(Command::RegisterUnit {
        unit: unit("FJ-SM"),
        name: "x".into(),
        level: UnitLevel::City,
        parent: Some(unit("FJ")),
    });
    assert_eq!(r.code(), "unit_exists");
    let r = l.rejects(Command::RegisterUnit {
        unit: unit("C4"),
        name: "  ".into(),
        level: UnitLevel::City,
        parent: Some(unit("FJ")),
    });
    assert_eq!(r.code(), "text_invalid");
}

#[test]
fn subtree_queries_follow_the_hierarchy() {
    let l = Ledger::new().with_units();
    let s = &l.state;
    assert!(s.is_within(&unit("FJ-SM-SX-01-01"), &unit("FJ")));
    assert!(s.is_within(&unit("FJ-SM-SX-01-01"), &unit("FJ-SM-SX")));
    assert!(s.is_within(&unit("FJ-SM"), &unit("FJ-SM")));
    assert!(!s.is_within(&unit("FJ-SM"), &unit("FJ-SM-SX")));
    assert!(!s.is_within(&unit("FJ-SM-SX"), &unit("FJ-XM")));
    let chain: Vec<String> = s
        .ancestors_and_self(&unit("FJ-SM-SX-01"))
        .map(|u| u.to_string())
        .collect();
    assert_eq!(chain, ["FJ-SM-SX-01", "FJ-SM-SX", "FJ-SM", "FJ"]);
}

#[test]
fn funds_need_a_known_unit_and_the_right_insurance_model() {
    let mut l = Ledger::new().with_units();
    let open = |f: &str, u: &str, p: Programme, m: Option<InsuranceModel>| Command::OpenFund {
        fund: fund(f),
        unit: unit(u),
        programme: p,
        name: "n".into(),
        fiscal_year: Some(2021),
        approval_threshold: None,
        insurance_model: m,
    };
    assert_eq!(
        l.rejects(open("F1", "NOPE", Programme::Bursary, None))
            .code(),
        "unknown_unit"
    );
    assert_eq!(
        l.rejects(open("F1", "FJ", Programme::Insurance, None))
            .code(),
        "insurance_model_required"
    );
    assert_eq!(
        l.rejects(open(
            "F1",
            "FJ",
            Programme::Bursary,
            Some(InsuranceModel::SelfInsured)
        ))
        .code(),
        "insurance_model_not_applicable"
    );
    l.ok(open("F1", "FJ", Programme::Bursary, None));
    assert_eq!(
        l.rejects(open("F1", "FJ", Programme::Bursary, None)).code(),
        "fund_exists"
    );
    let r = l.rejects(Command::OpenFund {
        fund: fund("F2"),
        unit: unit("FJ"),
        programme: Programme::Bursary,
        name: "n".into(),
        fiscal_year: Some(1900),
        approval_threshold: None,
        insurance_model: None,
    });
    assert_eq!(r.code(), "year_invalid");
}

#[test]
fn beneficiaries_are_registered_once_in_a_known_unit() {
    let mut l = Ledger::new().with_units();
    l.register_beneficiary("HH-1", "FJ-SM", BeneficiaryKind::Household);
    let again = Command::RegisterBeneficiary {
        beneficiary: person("HH-1"),
        unit: unit("FJ-SM"),
        kind: BeneficiaryKind::Household,
        categories: BTreeSet::new(),
    };
    assert_eq!(l.rejects(again).code(), "beneficiary_exists");
    let unknown_unit = Command::RegisterBeneficiary {
        beneficiary: person("HH-2"),
        unit: unit("NOPE"),
        kind: BeneficiaryKind::Household,
        categories: BTreeSet::new(),
    };
    assert_eq!(l.rejects(unknown_unit).code(), "unknown_unit");
}

// ---- appropriations and cash -------------------------------------------------------

#[test]
fn receipts_cannot_exceed_the_tiers_commitment_and_arrival_rate_follows() {
    // Given a commitment of ¥10,000.00 from the province
    let mut l = Ledger::new().with_units();
    l.open_fund("F", "FJ-SM", Programme::Bursary, None);
    l.ok(Command::CommitAppropriation {
        fund: fund("F"),
        tier: Province,
        amount: yuan(10_000),
        reference: Some("闽计生协〔2021〕1号".into()),
    });
    // When ¥6,000.00 arrives, then ¥5,000.00 more
    l.ok(Command::ReceiveAppropriation {
        fund: fund("F"),
        tier: Province,
        amount: yuan(6_000),
        reference: None,
    });
    let r = l.rejects(Command::ReceiveAppropriation {
        fund: fund("F"),
        tier: Province,
        amount: yuan(5_000),
        reference: None,
    });
    // Then the second receipt is refused and the arrival rate is 60%
    assert_eq!(r.code(), "commitment_exceeded");
    assert_eq!(r.to_string(), "the province tier has ¥4,000.00 committed to fund F and not yet received; a receipt of ¥5,000.00 exceeds it, so record the commitment first");
    let tier = *l.state.fund(&fund("F")).unwrap().tier(Province);
    assert_eq!(tier.arrival_rate().unwrap().to_string(), "60.00%");
    assert_eq!(tier.available(), money("6000"));
    let r = l.rejects(Command::CommitAppropriation {
        fund: fund("F"),
        tier: Province,
        amount: yuan(0),
        reference: None,
    });
    assert_eq!(r.code(), "amount_zero");
    assert_eq!(r.to_string(), "the appropriation must be more than ¥0.00");
    let r = l.rejects(Command::CommitAppropriation {
        fund: fund("NOPE"),
        tier: Province,
        amount: yuan(1),
        reference: None,
    });
    assert_eq!(r.code(), "unknown_fund");
    assert_eq!(r.to_string(), "unknown fund NOPE; open the fund first");
}

#[test]
fn a_payment_cannot_overdraw_its_tier() {
    // Given a bursary fund with ¥1,200.00 of province money
    let mut l = Ledger::new().with_units();
    l.open_fund("SM-2021-BURSARY", "FJ-SM", Programme::Bursary, None);
    l.fund_cash("SM-2021-BURSARY", Province, yuan(1_200));
    l.fund_cash("SM-2021-BURSARY", City, yuan(50_000));
    l.register_beneficiary("ST-1", "FJ-SM-SX", BeneficiaryKind::Person);
    l.ok(award_bursary("B-1", Province, yuan(3_000), 1, None));
    // When an instalment of ¥3,000.00 is paid
    let r = l.rejects(Command::PayBursaryInstalment(BursaryInstalment {
        award: award("B-1"),
        amount: yuan(3_000),
    }));
    // Then it is refused with the figures, and the city's money is not touched
    assert_eq!(r.code(), "insufficient_funds");
    assert_eq!(
        r.to_string(),
        "fund SM-2021-BURSARY has ¥1,200.00 available in its province tier; the payment needs ¥3,000.00"
    );
    assert_eq!(l.available("SM-2021-BURSARY", Province), money("1200"));
}

// ---- loans ---------------------------------------------------------------------------

#[test]
fn a_loan_moves_cash_to_loans_receivable_with_an_equal_instalment_schedule() {
    let mut l = lending_ledger(None);
    l.today = Some(day(2021, 1, 31));
    l.ok(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-1",
        amount("10000.00"),
        3,
    )));
    let lines = l.last_event().postings();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0].account,
        Account::LoansReceivable {
            fund: fund("SM-REV"),
            tier: City
        }
    );
    assert_eq!(lines[0].side, Side::Debit);
    assert_eq!(l.available("SM-REV", City), money("90000"));
    let loan = l.state.loan(&loan_id("L-1")).unwrap();
    let schedule = loan.schedule();
    // ¥10,000.00 over 3 months: 3,333.33 twice and the remainder on the last instalment.
    let principals: Vec<String> = schedule.iter().map(|i| i.principal.plain()).collect();
    assert_eq!(principals, ["3333.33", "3333.33", "3333.34"]);
    // Month-end dates clamp: 31 Jan + 1 month = 28 Feb.
    assert_eq!(schedule[0].due_on, day(2021, 2, 28));
    assert_eq!(schedule[2].due_on, day(2021, 4, 30));
    assert!(
        schedule.iter().all(|i| i.interest.is_zero()),
        "interest-free by default"
    );
}

#[test]
fn interest_and_grace_periods_shape_the_schedule() {
    let mut l = lending_ledger(None);
    l.today = Some(day(2021, 1, 15));
    let mut terms = loan("L-1", "SM-REV", "HH-1", yuan(12_000), 12);
    terms.annual_rate_bp = 600;
    terms.grace_months = 3;
    l.ok(Command::DisburseLoan(terms));
    let schedule = l.state.loan(&loan_id("L-1")).unwrap().schedule();
    assert_eq!(schedule[0].due_on, day(2021, 5, 15));
    // 12,000 × 6% ÷ 12 = 60.00 on the first month, 55.00 on the second.
    assert_eq!(schedule[0].interest, money("60"));
    assert_eq!(schedule[1].interest, money("55"));
    assert_eq!(schedule[11].interest, money("5"));
    // Interest paid lands in the fund's interest tier as income.
    l.today = Some(day(2021, 5, 15));
    l.ok(Command::RepayLoan {
        loan: loan_id("L-1"),
        principal: yuan(1_000),
        interest: yuan(60),
    });
    assert_eq!(l.available("SM-REV", Interest), money("60"));
    assert_eq!(
        l.state.fund(&fund("SM-REV")).unwrap().interest_income(),
        money("60")
    );
}

#[test]
fn overdue_days_past_due_par30_and_repayment_rate_as_of_a_date() {
    // Given a ¥3,000.00 loan over 3 months from 1 Jan, and a ¥1,000.00 repayment on 20 Feb
    let mut l = lending_ledger(None);
    l.today = Some(day(2021, 1, 1));
    l.ok(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-1",
        yuan(3_000),
        3,
    )));
    l.ok(Command::DisburseLoan(loan(
        "L-2",
        "SM-REV",
        "HH-2",
        yuan(1_000),
        1,
    )));
    l.today = Some(day(2021, 2, 20));
    l.ok(Command::RepayLoan {
        loan: loan_id("L-1"),
        principal: yuan(1_000),
        interest: yuan(0),
    });
    l.today = Some(day(2021, 2, 1));
    l.ok(Command::RepayLoan {
        loan: loan_id("L-2"),
        principal: yuan(1_000),
        interest: yuan(0),
    });
    let loan = l.state.loan(&loan_id("L-1")).unwrap();
    // Then on 15 Jan nothing is due yet
    assert_eq!(loan.overdue_principal(day(2021, 1, 15)), Money::ZERO);
    // On 10 Feb the first instalment (due 1 Feb) is 9 days late
    assert_eq!(loan.overdue_principal(day(2021, 2, 10)), money("1000"));
    assert_eq!(loan.days_past_due(day(2021, 2, 10)), 9);
    // On 15 Apr two instalments are unpaid; the oldest (1 Mar) is 45 days late
    assert_eq!(loan.overdue_principal(day(2021, 4, 15)), money("2000"));
    assert_eq!(loan.days_past_due(day(2021, 4, 15)), 45);
    assert!(loan.at_risk_30(day(2021, 4, 15)));
    assert!(!loan.at_risk_30(day(2021, 3, 20)));
    // PAR30: L-1's ¥2,000.00 outstanding is at risk; L-2 is fully repaid.
    let (risk, all) = l.state.par30_inputs(&fund("SM-REV"), day(2021, 4, 15));
    assert_eq!((risk, all), (money("2000"), money("2000")));
    assert_eq!(
        l.state
            .par30(&fund("SM-REV"), day(2021, 4, 15))
            .unwrap()
            .to_string(),
        "100.00%"
    );
    // Repayment rate on 15 Apr: due 3,000 + 1,000; on time: L-2's 1,000 (paid before its
    // 1 Feb due date); L-1's repayment on 20 Feb came after its 1 Feb due date.
    let (on_time, due) = l.state.repayment_inputs(&fund("SM-REV"), day(2021, 4, 15));
    assert_eq!((on_time, due), (money("1000"), money("4000")));
    assert_eq!(
        l.state.overdue_principal(&fund("SM-REV"), day(2021, 4, 15)),
        money("2000")
    );
}

#[test]
fn early_repayment_counts_as_on_time_and_clears_overdue() {
    let mut l = lending_ledger(None);
    l.today = Some(day(2021, 1, 1));
    l.ok(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-1",
        yuan(3_000),
        3,
    )));
    l.today = Some(day(2021, 1, 10));
    l.ok(Command::RepayLoan {
        loan: loan_id("L-1"),
        principal: yuan(3_000),
        interest: yuan(0),
    });
    let loan = l.state.loan(&loan_id("L-1")).unwrap();
    assert_eq!(loan.outstanding(), Money::ZERO);
    assert_eq!(loan.standing().to_string(), "fully repaid");
    assert_eq!(loan.overdue_principal(day(2021, 6, 1)), Money::ZERO);
    assert_eq!(loan.repaid_on_time_by(day(2021, 6, 1)), money("3000"));
    // A fully repaid loan takes no further repayment.
    let r = l.rejects(Command::RepayLoan {
        loan: loan_id("L-1"),
        principal: yuan(1),
        interest: yuan(0),
    });
    assert_eq!(r.code(), "repayment_exceeds_outstanding");
}

#[test]
fn a_repayment_above_the_outstanding_principal_is_refused() {
    let mut l = lending_ledger(None);
    l.ok(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-1",
        yuan(5_000),
        10,
    )));
    l.ok(Command::RepayLoan {
        loan: loan_id("L-1"),
        principal: yuan(4_000),
        interest: yuan(0),
    });
    let r = l.rejects(Command::RepayLoan {
        loan: loan_id("L-1"),
        principal: yuan(1_500),
        interest: yuan(0),
    });
    assert_eq!(r.code(), "repayment_exceeds_outstanding");
    assert_eq!(
        r.to_string(),
        "loan L-1 has ¥1,000.00 outstanding; the repayment's principal is ¥1,500.00"
    );
    let r = l.rejects(Command::RepayLoan {
        loan: loan_id("NOPE"),
        principal: yuan(1),
        interest: yuan(0),
    });
    assert_eq!(r.code(), "unknown_loan");
    let r = l.rejects(Command::RepayLoan {
        loan: loan_id("L-1"),
        principal: yuan(0),
        interest: yuan(0),
    });
    assert_eq!(r.code(), "amount_zero");
}

#[test]
fn nothing_can_happen_to_a_loan_before_it_is_disbursed() {
    let mut l = lending_ledger(None);
    l.ok(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-1",
        yuan(5_000),
        10,
    )));
    let before = l.today.unwrap().pred_opt().unwrap();
    for command in [
        Command::RepayLoan {
            loan: loan_id("L-1"),
            principal: yuan(100),
            interest: yuan(0),
        },
        Command::RescheduleLoan {
            loan: loan_id("L-1"),
            term_months: 12,
            grace_months: 0,
            annual_rate_bp: 0,
        },
        Command::WriteOffLoan {
            loan: loan_id("L-1"),
            reason: "uncollectable".into(),
        },
    ] {
        let r = l.rejects_as("clerk-1", before, command);
        assert_eq!(r.code(), "before_disbursement", "{r}");
        assert!(r.to_string().contains("was disbursed on"), "{r}");
    }
}

#[test]
fn loans_validate_terms_ids_and_beneficiaries() {
    let mut l = lending_ledger(None);
    let mut bad = loan("L-1", "SM-REV", "HH-1", yuan(1_000), 0);
    assert_eq!(
        l.rejects(Command::DisburseLoan(bad.clone())).code(),
        "loan_term_invalid"
    );
    bad.term_months = 12;
    bad.grace_months = 61;
    assert_eq!(
        l.rejects(Command::DisburseLoan(bad.clone())).code(),
        "loan_grace_invalid"
    );
    bad.grace_months = 0;
    bad.annual_rate_bp = 2_401;
    assert_eq!(
        l.rejects(Command::DisburseLoan(bad)).code(),
        "loan_rate_invalid"
    );
    let zero = loan("L-1", "SM-REV", "HH-1", yuan(0), 12);
    let r = l.rejects(Command::DisburseLoan(zero));
    assert_eq!(r.to_string(), "the loan principal must be more than ¥0.00");
    let unknown = loan("L-1", "SM-REV", "HH-9", yuan(10), 12);
    let r = l.rejects(Command::DisburseLoan(unknown));
    assert_eq!(r.code(), "unknown_beneficiary");
    assert_eq!(
        r.to_string(),
        "unknown beneficiary HH-9; register the beneficiary first"
    );
    l.ok(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-1",
        yuan(10),
        12,
    )));
    let r = l.rejects(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-2",
        yuan(10),
        12,
    )));
    assert_eq!(r.code(), "loan_exists");
}

#[test]
fn a_beneficiary_outside_the_funds_unit_cannot_be_paid() {
    let mut l = lending_ledger(None);
    l.register_beneficiary("HH-XM", "FJ-XM", BeneficiaryKind::Household);
    let r = l.rejects(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-XM",
        yuan(10),
        12,
    )));
    assert_eq!(r.code(), "beneficiary_outside_fund_unit");
    assert_eq!(
        r.to_string(),
        "beneficiary HH-XM belongs to unit FJ-XM, which is outside unit FJ-SM of fund SM-REV"
    );
}

#[test]
fn repaid_principal_is_lent_again_and_rounds_are_counted() {
    // Given ¥100,000.00 of capital lent in full
    let mut l = lending_ledger(None);
    l.ok(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-1",
        yuan(100_000),
        12,
    )));
    assert_eq!(l.available("SM-REV", City), Money::ZERO);
    let r = l.rejects(Command::DisburseLoan(loan(
        "L-2",
        "SM-REV",
        "HH-2",
        yuan(1),
        12,
    )));
    assert_eq!(r.code(), "insufficient_funds");
    // When it is repaid, it can be lent again
    l.ok(Command::RepayLoan {
        loan: loan_id("L-1"),
        principal: yuan(100_000),
        interest: yuan(0),
    });
    l.ok(Command::DisburseLoan(loan(
        "L-2",
        "SM-REV",
        "HH-2",
        yuan(50_000),
        12,
    )));
    // Then the capital has turned over 1.5 times
    let balance = l.state.fund_balance(&fund("SM-REV")).unwrap();
    assert_eq!(balance.lent, money("150000"));
    assert_eq!(balance.repaid, money("100000"));
    assert_eq!(balance.loans_outstanding, money("50000"));
    assert_eq!(balance.available, money("50000"));
    assert_eq!(balance.revolving_rounds().unwrap().to_string(), "1.50");
}

#[test]
fn write_off_moves_outstanding_principal_and_closes_the_loan() {
    let mut l = lending_ledger(None);
    l.ok(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-1",
        yuan(5_000),
        10,
    )));
    l.ok(Command::RepayLoan {
        loan: loan_id("L-1"),
        principal: yuan(1_000),
        interest: yuan(0),
    });
    let r = l.rejects(Command::WriteOffLoan {
        loan: loan_id("L-1"),
        reason: "".into(),
    });
    assert_eq!(r.code(), "text_invalid");
    l.ok(Command::WriteOffLoan {
        loan: loan_id("L-1"),
        reason: "borrower deceased; no estate".into(),
    });
    let balance = l.state.fund_balance(&fund("SM-REV")).unwrap();
    assert_eq!(balance.written_off, money("4000"));
    assert_eq!(balance.loans_outstanding, Money::ZERO);
    let loan = l.state.loan(&loan_id("L-1")).unwrap();
    assert_eq!(loan.status(), LoanStatus::WrittenOff);
    assert_eq!(loan.overdue_principal(day(2030, 1, 1)), Money::ZERO);
    let r = l.rejects(Command::RepayLoan {
        loan: loan_id("L-1"),
        principal: yuan(1),
        interest: yuan(0),
    });
    assert_eq!(r.code(), "loan_not_active");
    assert_eq!(
        r.to_string(),
        "loan L-1 is written off and cannot take a repayment"
    );
}

#[test]
fn reschedule_spreads_the_outstanding_principal_from_the_effective_date() {
    let mut l = lending_ledger(None);
    l.today = Some(day(2021, 1, 1));
    l.ok(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-1",
        yuan(3_000),
        3,
    )));
    l.today = Some(day(2021, 6, 1));
    // Given three missed instalments, when the loan is rescheduled over 6 months
    assert_eq!(
        l.state
            .loan(&loan_id("L-1"))
            .unwrap()
            .overdue_principal(day(2021, 6, 1)),
        money("3000")
    );
    l.ok(Command::RescheduleLoan {
        loan: loan_id("L-1"),
        term_months: 6,
        grace_months: 0,
        annual_rate_bp: 0,
    });
    // Then nothing is overdue until the first new instalment
    let loan = l.state.loan(&loan_id("L-1")).unwrap();
    assert_eq!(loan.overdue_principal(day(2021, 6, 30)), Money::ZERO);
    assert_eq!(loan.overdue_principal(day(2021, 7, 1)), money("500"));
    assert_eq!(loan.schedule().len(), 6);
    let r = l.rejects(Command::RescheduleLoan {
        loan: loan_id("L-1"),
        term_months: 361,
        grace_months: 0,
        annual_rate_bp: 0,
    });
    assert_eq!(r.code(), "loan_term_invalid");
}

// ---- programmes --------------------------------------------------------------------

#[test]
fn a_claim_against_a_bursary_fund_is_a_programme_mismatch() {
    let mut l = bursary_ledger();
    let r = l.rejects(Command::PayClaim(ClaimPayment {
        fund: fund("SM-2021-BURSARY"),
        line: PolicyLine::HouseholdAccident,
        beneficiary: person("ST-1"),
        amount: yuan(100),
        payer: ClaimPayer::Insurer,
    }));
    assert_eq!(r.code(), "programme_mismatch");
    assert_eq!(
        r.to_string(),
        "fund SM-2021-BURSARY is a bursary fund; a claim needs an insurance fund"
    );
    let r = l.rejects(Command::DisburseLoan(loan(
        "L-1",
        "SM-2021-BURSARY",
        "ST-1",
        yuan(1),
        1,
    )));
    assert_eq!(r.code(), "programme_mismatch");
}

#[test]
fn housing_tier_shares_must_add_up_to_the_grant() {
    let mut l = housing_ledger();
    let r = l.rejects(Command::AwardHousingGrant {
        award: award("H-1"),
        fund: fund("SM-HOUSING"),
        beneficiary: person("HH-1"),
        amount: yuan(60_000),
        shares: split(&[
            (Province, yuan(20_000)),
            (City, yuan(20_000)),
            (County, yuan(10_000)),
        ]),
    });
    assert_eq!(r.code(), "tier_shares_mismatch");
    assert_eq!(
        r.to_string(),
        "the tier shares add up to ¥50,000.00 but the amount is ¥60,000.00; correct the shares so they add up"
    );
}

#[test]
fn housing_grants_are_paid_in_instalments_charging_each_tier_its_share() {
    // Given a ¥57,500.00 grant: province 20,000, city 17,500, county 20,000
    let mut l = housing_ledger();
    l.ok(Command::AwardHousingGrant {
        award: award("H-1"),
        fund: fund("SM-HOUSING"),
        beneficiary: person("HH-1"),
        amount: amount("57500"),
        shares: split(&[
            (Province, yuan(20_000)),
            (City, amount("17500")),
            (County, yuan(20_000)),
        ]),
    });
    assert!(
        l.last_event().postings().is_empty(),
        "an award moves no money"
    );
    // When the first instalment charges province and city
    l.ok(Command::PayHousingInstalment(HousingInstalment {
        award: award("H-1"),
        amount: amount("37500"),
        shares: split(&[(Province, yuan(20_000)), (City, amount("17500"))]),
    }));
    // Then each tier is charged its share
    assert_eq!(l.available("SM-HOUSING", Province), money("80000"));
    assert_eq!(l.available("SM-HOUSING", City), money("82500"));
    assert_eq!(l.available("SM-HOUSING", County), money("100000"));
    // And a tier cannot pay beyond its share
    let r = l.rejects(Command::PayHousingInstalment(HousingInstalment {
        award: award("H-1"),
        amount: yuan(1),
        shares: one_tier(Province, yuan(1)),
    }));
    assert_eq!(r.code(), "instalment_exceeds_award");
    assert_eq!(
        r.to_string(),
        "award H-1 has ¥0.00 left to pay from the province tier; the instalment needs ¥1.00"
    );
    l.ok(Command::PayHousingInstalment(HousingInstalment {
        award: award("H-1"),
        amount: yuan(20_000),
        shares: one_tier(County, yuan(20_000)),
    }));
    l.ok(Command::RecordFollowUpVisit {
        award: award("H-1"),
        outcome: VisitOutcome::Completed,
    });
    let a = l.state.award(&award("H-1")).unwrap();
    assert_eq!(a.paid(), money("57500"));
    assert_eq!(a.instalments(), 2);
    let r = l.rejects(Command::RecordFollowUpVisit {
        award: award("NOPE"),
        outcome: VisitOutcome::Completed,
    });
    assert_eq!(r.code(), "unknown_award");
}

#[test]
fn a_second_bursary_for_the_same_student_year_and_tier_is_a_duplicate() {
    // Given a province bursary for ST-1 in 2021
    let mut l = bursary_ledger();
    l.ok(award_bursary("B-1", Province, yuan(5_000), 1, None));
    // When a second one is awarded without a reason
    let r = l.rejects(award_bursary("B-2", Province, yuan(5_000), 1, None));
    // Then it is refused as a duplicate payment
    assert_eq!(r.code(), "duplicate_bursary");
    assert_eq!(r.to_string(), "student ST-1 already has a province bursary for academic year 2021 (award B-1); this would pay twice, so mark the award as a supplement with a reason if it is intended");
    // A different tier is not a duplicate
    l.ok(award_bursary("B-3", City, yuan(4_000), 1, None));
    // A supplement needs a real reason, and is then accepted
    let r = l.rejects(award_bursary("B-2", Province, yuan(1_000), 1, Some(" ")));
    assert_eq!(r.code(), "text_invalid");
    l.ok(award_bursary(
        "B-2",
        Province,
        yuan(1_000),
        1,
        Some("tuition rose after enrolment"),
    ));
    assert_eq!(
        l.state
            .bursary_awards(&person("ST-1"), 2021, Province)
            .len(),
        2
    );
    let r = l.rejects(award_bursary("B-2", County, yuan(1_000), 1, None));
    assert_eq!(r.code(), "award_exists");
    let r = l.rejects(award_bursary("B-9", County, yuan(1_000), 9, None));
    assert_eq!(r.code(), "bursary_years_invalid");
}

#[test]
fn a_multi_year_bursary_is_paid_in_instalments_up_to_the_award() {
    // Province ¥20,000.00 over four years, city ¥4,000.00 once
    let mut l = bursary_ledger();
    l.ok(award_bursary("B-P", Province, yuan(20_000), 4, None));
    l.ok(award_bursary("B-C", City, yuan(4_000), 1, None));
    for year in 2021..2025 {
        l.today = Some(day(year, 9, 1));
        l.ok(Command::PayBursaryInstalment(BursaryInstalment {
            award: award("B-P"),
            amount: yuan(5_000),
        }));
    }
    l.ok(Command::PayBursaryInstalment(BursaryInstalment {
        award: award("B-C"),
        amount: yuan(4_000),
    }));
    let r = l.rejects(Command::PayBursaryInstalment(BursaryInstalment {
        award: award("B-P"),
        amount: yuan(1),
    }));
    assert_eq!(r.code(), "instalment_exceeds_award");
    let balance = l.state.fund_balance(&fund("SM-2021-BURSARY")).unwrap();
    assert_eq!(balance.disbursed, money("24000"));
    assert_eq!(l.state.award(&award("B-P")).unwrap().instalments(), 4);
    let r = l.rejects(Command::PayBursaryInstalment(BursaryInstalment {
        award: award("NOPE"),
        amount: yuan(1),
    }));
    assert_eq!(r.code(), "unknown_award");
}

#[test]
fn grants_record_modality_and_charge_their_tiers() {
    let mut l = Ledger::new().with_units();
    l.open_fund("HP", "FJ-SM", Programme::HappinessProject, None);
    l.fund_cash("HP", Province, yuan(10_000));
    l.register_beneficiary("HH-1", "FJ-SM-SX", BeneficiaryKind::Person);
    let r = l.rejects(grant("HP", "100", one_tier(Province, yuan(90))));
    assert_eq!(r.code(), "tier_shares_mismatch");
    l.ok(grant("HP", "100", one_tier(Province, yuan(100))));
    assert_eq!(l.available("HP", Province), money("9900"));
    let lines = l.last_event().postings();
    assert_eq!(
        lines[0].account,
        Account::GrantsPaid {
            fund: fund("HP"),
            tier: Province
        }
    );
}

#[test]
fn condolence_payments_belong_to_a_campaign_and_may_be_goods() {
    let mut l = Ledger::new().with_units();
    l.open_fund("COND", "FJ-SM", Programme::Condolence, None);
    l.fund_cash("COND", City, yuan(1_000));
    l.register_beneficiary("HH-1", "FJ-SM-SX", BeneficiaryKind::Household);
    let campaign = CampaignId::new("SPRING-2021").unwrap();
    let pay = |form: CondolenceForm| {
        Command::PayCondolence(CondolencePayment {
            campaign: campaign.clone(),
            beneficiary: person("HH-1"),
            category: BeneficiaryCategory::SpecialFamily,
            form,
            amount: yuan(500),
            shares: one_tier(City, yuan(500)),
        })
    };
    assert_eq!(
        l.rejects(pay(CondolenceForm::Cash)).code(),
        "unknown_campaign"
    );
    l.ok(Command::OpenCampaign {
        campaign: campaign.clone(),
        fund: fund("COND"),
        name: "Spring Festival 2021".into(),
    });
    l.ok(pay(CondolenceForm::Cash));
    l.ok(pay(CondolenceForm::Goods {
        description: "rice and cooking oil".into(),
    }));
    assert_eq!(l.available("COND", City), Money::ZERO);
    let r = l.rejects(Command::OpenCampaign {
        campaign,
        fund: fund("COND"),
        name: "again".into(),
    });
    assert_eq!(r.code(), "campaign_exists");
}

// ---- insurance ---------------------------------------------------------------------

#[test]
fn insurer_underwritten_premiums_leave_the_fund_and_insurer_claims_do_not_charge_it() {
    // Given an insurer-underwritten fund with ¥10,000.00 of city money
    let mut l = insurance_ledger(InsuranceModel::InsurerUnderwritten);
    // When a premium of ¥1,060.00 (¥1,000.00 before tax) is paid: city 800, households 260
    l.ok(premium(
        "1060",
        "1000",
        split(&[(City, yuan(800)), (HouseholdContribution, yuan(260))]),
    ));
    // Then the city's cash falls by its share only; households' money passes through
    assert_eq!(l.available("SM-INS", City), money("9200"));
    let f = l.state.fund(&fund("SM-INS")).unwrap();
    assert_eq!(f.household_contributions(), money("260"));
    assert_eq!(f.tier(HouseholdContribution).available(), Money::ZERO);
    // When the insurer pays a ¥700.00 claim
    l.ok(claim("700", ClaimPayer::Insurer));
    // Then the fund's cash is untouched, and the loss ratio uses the tax-exclusive premium
    assert_eq!(l.available("SM-INS", City), money("9200"));
    let totals = *l
        .state
        .fund(&fund("SM-INS"))
        .unwrap()
        .insurance(PolicyLine::HouseholdAccident)
        .unwrap();
    assert_eq!(totals.claims_count(), 1);
    assert_eq!(totals.claims_paid_by_insurer(), money("700"));
    assert_eq!(totals.premium_tax_inclusive(), money("1060"));
    assert_eq!(totals.households(), 100);
    assert_eq!(totals.persons(), 300);
    assert_eq!(totals.simple_loss_ratio().unwrap().to_string(), "70.00%");
    // The insurer pays, so naming the fund's tiers as payer is refused
    let r = l.rejects(claim(
        "10",
        ClaimPayer::Fund {
            shares: one_tier(City, yuan(10)),
        },
    ));
    assert_eq!(r.code(), "claim_payer_mismatch");
    assert_eq!(r.to_string(), "fund SM-INS is insurer-underwritten: its claims are paid by the insurer and recorded without charging the fund");
}

#[test]
fn self_insured_claims_are_paid_from_the_fund_and_households_money_stays() {
    let mut l = insurance_ledger(InsuranceModel::SelfInsured);
    l.ok(premium(
        "1060",
        "1000",
        split(&[(City, yuan(800)), (HouseholdContribution, yuan(260))]),
    ));
    // The city's share stays in the fund to pay claims; households' money arrives
    assert_eq!(l.available("SM-INS", City), money("10000"));
    assert_eq!(l.available("SM-INS", HouseholdContribution), money("260"));
    l.ok(claim(
        "700",
        ClaimPayer::Fund {
            shares: split(&[(City, yuan(500)), (HouseholdContribution, yuan(200))]),
        },
    ));
    assert_eq!(l.available("SM-INS", City), money("9500"));
    assert_eq!(l.available("SM-INS", HouseholdContribution), money("60"));
    let r = l.rejects(claim("10", ClaimPayer::Insurer));
    assert_eq!(r.code(), "claim_payer_mismatch");
    let r = l.rejects(claim(
        "10",
        ClaimPayer::Fund {
            shares: one_tier(City, yuan(9)),
        },
    ));
    assert_eq!(r.code(), "tier_shares_mismatch");
}

#[test]
fn an_outstanding_claims_reserve_gives_the_incurred_loss_ratio() {
    let mut l = insurance_ledger(InsuranceModel::InsurerUnderwritten);
    l.ok(premium("1000", "1000", one_tier(City, yuan(1_000))));
    l.ok(claim("700", ClaimPayer::Insurer));
    l.ok(Command::EstimateClaimsReserve {
        fund: fund("SM-INS"),
        line: PolicyLine::HouseholdAccident,
        amount: yuan(150),
    });
    let totals = *l
        .state
        .fund(&fund("SM-INS"))
        .unwrap()
        .insurance(PolicyLine::HouseholdAccident)
        .unwrap();
    assert_eq!(totals.simple_loss_ratio().unwrap().to_string(), "70.00%");
    assert_eq!(totals.incurred_loss_ratio().unwrap().to_string(), "85.00%");
}

#[test]
fn premiums_are_checked_for_tax_coverage_and_shares() {
    let mut l = insurance_ledger(InsuranceModel::InsurerUnderwritten);
    let r = l.rejects(premium("1000", "1001", one_tier(City, yuan(1_000))));
    assert_eq!(r.code(), "premium_tax_inconsistent");
    let r = l.rejects(premium("1000", "900", one_tier(City, yuan(999))));
    assert_eq!(r.code(), "tier_shares_mismatch");
    let r = l.rejects(Command::CollectPremium(PremiumPayment {
        fund: fund("SM-INS"),
        line: PolicyLine::CriticalIllness,
        coverage_start: day(2021, 12, 31),
        coverage_end: day(2021, 1, 1),
        households: 1,
        persons: 1,
        tax_inclusive: yuan(1),
        tax_exclusive: yuan(1),
        shares: one_tier(City, yuan(1)),
    }));
    assert_eq!(r.code(), "coverage_invalid");
    let r = l.rejects(premium("20000", "20000", one_tier(City, yuan(20_000))));
    assert_eq!(r.code(), "insufficient_funds");
}

// ---- maker-checker -------------------------------------------------------------------

#[test]
fn a_payment_above_the_threshold_is_reserved_until_another_user_approves() {
    // Given a fund whose payments above ¥5,000.00 need approval
    let mut l = lending_ledger(Some(yuan(5_000)));
    // When clerk-1 disburses ¥8,000.00
    let positions = l.ok(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-1",
        yuan(8_000),
        12,
    )));
    let request = positions[0];
    // Then only a request is recorded, and its money is reserved
    assert!(matches!(l.last_event(), Event::PaymentRequested { .. }));
    assert!(l.state.loan(&loan_id("L-1")).is_none());
    let balance = l.state.fund_balance(&fund("SM-REV")).unwrap();
    assert_eq!(balance.available, money("92000"));
    assert_eq!(balance.reserved, money("8000"));
    // And the maker cannot approve it
    let r = l.rejects(Command::ApprovePayment { request });
    assert_eq!(r.code(), "self_approval");
    assert_eq!(
        r.to_string(),
        format!("user clerk-1 requested payment {request} and cannot also approve it; another member of staff must approve")
    );
    // When checker-1 approves
    let today = l.today.unwrap();
    l.run_as("checker-1", today, Command::ApprovePayment { request })
        .unwrap();
    // Then the loan exists and the reservation is gone
    assert!(l.state.loan(&loan_id("L-1")).is_some());
    let balance = l.state.fund_balance(&fund("SM-REV")).unwrap();
    assert_eq!(balance.available, money("92000"));
    assert_eq!(balance.reserved, Money::ZERO);
    assert_eq!(balance.loans_outstanding, money("8000"));
    assert!(l.state.pending_request(request).is_none());
    let r = l.rejects_as("checker-1", today, Command::ApprovePayment { request });
    assert_eq!(r.code(), "unknown_request");
    assert_eq!(
        r.to_string(),
        format!("there is no pending payment request at position {request}")
    );
}

#[test]
fn payments_at_or_below_the_threshold_need_no_approval() {
    let mut l = lending_ledger(Some(yuan(5_000)));
    l.ok(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-1",
        yuan(5_000),
        12,
    )));
    assert!(matches!(l.last_event(), Event::LoanDisbursed(_)));
}

#[test]
fn a_request_cannot_reserve_money_that_is_not_available() {
    let mut l = lending_ledger(Some(yuan(5_000)));
    let r = l.rejects(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-1",
        yuan(100_001),
        12,
    )));
    assert_eq!(r.code(), "insufficient_funds");
}

#[test]
fn rejection_and_expiry_release_the_reservation() {
    let mut l = lending_ledger(Some(yuan(1_000)));
    l.today = Some(day(2021, 3, 1));
    let first = l.ok(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-1",
        yuan(8_000),
        12,
    )))[0];
    let second = l.ok(Command::DisburseLoan(loan(
        "L-2",
        "SM-REV",
        "HH-2",
        yuan(2_000),
        12,
    )))[0];
    assert_eq!(l.available("SM-REV", City), money("90000"));
    // A checker rejects the first
    let r = l.rejects_as(
        "checker-1",
        day(2021, 3, 2),
        Command::RejectPayment {
            request: first,
            reason: String::new(),
        },
    );
    assert_eq!(r.code(), "text_invalid");
    l.run_as(
        "checker-1",
        day(2021, 3, 2),
        Command::RejectPayment {
            request: first,
            reason: "business plan incomplete".into(),
        },
    )
    .unwrap();
    assert_eq!(l.available("SM-REV", City), money("98000"));
    // The second expires after its 30-day window
    assert_eq!(
        l.state.pending_request(second).unwrap().expires_on(),
        day(2021, 3, 31)
    );
    l.today = Some(day(2021, 3, 31));
    let nothing = l.rejects(Command::ExpireRequests {
        as_of: day(2021, 3, 31),
    });
    assert_eq!(nothing.code(), "nothing_expired");
    let r = l.rejects_as(
        "checker-1",
        day(2021, 4, 1),
        Command::ApprovePayment { request: second },
    );
    assert_eq!(r.code(), "request_expired");
    assert_eq!(
        r.to_string(),
        format!("payment request {second} expired on 2021-03-31; submit the payment again")
    );
    l.today = Some(day(2021, 4, 1));
    let expired = l.ok(Command::ExpireRequests {
        as_of: day(2021, 4, 1),
    });
    assert_eq!(expired.len(), 1);
    assert!(matches!(
        l.last_event(),
        Event::PaymentRequestExpired { .. }
    ));
    let balance = l.state.fund_balance(&fund("SM-REV")).unwrap();
    assert_eq!(balance.available, money("100000"));
    assert_eq!(balance.reserved, Money::ZERO);
    assert!(l.state.loan(&loan_id("L-2")).is_none());
}

// ---- period close ------------------------------------------------------------------

#[test]
fn a_closed_period_refuses_entries_dated_inside_it_for_the_whole_subtree() {
    // Given January 2021 closed for the city
    let mut l = lending_ledger(None);
    l.open_fund("SX-REV", "FJ-SM-SX", Programme::RevolvingFund, None);
    l.fund_cash("SX-REV", County, yuan(10_000));
    l.ok(Command::ClosePeriod {
        unit: unit("FJ-SM"),
        period: Period::Month {
            year: 2021,
            month: 1,
        },
    });
    // When a county fund below it records a repayment dated 15 January
    let mut terms = loan("L-1", "SX-REV", "HH-2", yuan(1_000), 12);
    terms.tier = County;
    let r = l.rejects_as(
        "clerk-1",
        day(2021, 1, 15),
        Command::DisburseLoan(terms.clone()),
    );
    // Then it is refused, naming the closing unit
    assert_eq!(r.code(), "period_closed");
    assert_eq!(
        r.to_string(),
        "period 2021-01 is closed for unit FJ-SM, which covers unit FJ-SM-SX; an entry dated 2021-01-15 cannot be recorded, so date the correction in an open period"
    );
    // The correction dated in an open period is accepted
    l.run_as("clerk-1", day(2021, 2, 1), Command::DisburseLoan(terms))
        .unwrap();
    // A sibling city is not affected
    l.open_fund("XM-REV", "FJ-XM", Programme::RevolvingFund, None);
    l.ok(Command::CommitAppropriation {
        fund: fund("XM-REV"),
        tier: City,
        amount: yuan(1),
        reference: None,
    });
    l.run_as(
        "clerk-1",
        day(2021, 1, 20),
        Command::ReceiveAppropriation {
            fund: fund("XM-REV"),
            tier: City,
            amount: yuan(1),
            reference: None,
        },
    )
    .unwrap();
    // Closing twice, or a thirteenth month, is refused
    let r = l.rejects(Command::ClosePeriod {
        unit: unit("FJ-SM"),
        period: Period::Month {
            year: 2021,
            month: 1,
        },
    });
    assert_eq!(r.code(), "period_already_closed");
    let r = l.rejects(Command::ClosePeriod {
        unit: unit("FJ-SM"),
        period: Period::Month {
            year: 2021,
            month: 13,
        },
    });
    assert_eq!(r.code(), "period_invalid");
    let r = l.rejects(Command::ClosePeriod {
        unit: unit("NOPE"),
        period: Period::Year { year: 2021 },
    });
    assert_eq!(r.code(), "unknown_unit");
}

#[test]
fn a_closed_year_blocks_every_month_of_it() {
    let mut l = lending_ledger(None);
    l.ok(Command::ClosePeriod {
        unit: unit("FJ"),
        period: Period::Year { year: 2020 },
    });
    let r = l.rejects_as(
        "clerk-1",
        day(2020, 12, 31),
        Command::DisburseLoan(loan("L-1", "SM-REV", "HH-1", yuan(1), 1)),
    );
    assert_eq!(r.code(), "period_closed");
    l.run_as(
        "clerk-1",
        day(2021, 1, 1),
        Command::DisburseLoan(loan("L-1", "SM-REV", "HH-1", yuan(1), 1)),
    )
    .unwrap();
}

#[test]
fn money_cannot_move_in_the_future() {
    let mut l = lending_ledger(None);
    let mut ctx = l.context("clerk-1", day(2021, 3, 2));
    // 15:59:59 UTC is 23:59:59 on 1 March in China Standard Time: 2 March is the future.
    ctx.recorded_at = day(2021, 3, 1).and_hms_opt(15, 59, 59).unwrap();
    let command = Command::DisburseLoan(loan("L-1", "SM-REV", "HH-1", yuan(1), 1));
    let r = decide(&l.state, &command, &ctx).unwrap_err();
    assert_eq!(r.code(), "effective_date_in_future");
    // A second later it is midnight in Sanming, and 2 March is today.
    ctx.recorded_at = day(2021, 3, 1).and_hms_opt(16, 0, 0).unwrap();
    assert!(decide(&l.state, &command, &ctx).is_ok());
}

// ---- reversal ----------------------------------------------------------------------

#[test]
fn a_reversal_posts_exactly_the_opposite_lines_and_restores_balances() {
    // Given a grant of ¥300.00
    let mut l = Ledger::new().with_units();
    l.open_fund("HP", "FJ-SM", Programme::HappinessProject, None);
    l.fund_cash("HP", Province, yuan(1_000));
    l.fund_cash("HP", City, yuan(1_000));
    l.register_beneficiary("HH-1", "FJ-SM-SX", BeneficiaryKind::Person);
    let before = l.state.fund_balance(&fund("HP")).unwrap();
    let accounts_before = l.account_balances();
    let position = l.ok(grant(
        "HP",
        "300",
        split(&[(Province, yuan(100)), (City, yuan(200))]),
    ))[0];
    let original = l.last_event().postings();
    // When it is reversed
    let reversal = l.ok(Command::ReverseEvent {
        position,
        reason: "paid to the wrong household".into(),
    })[0];
    // Then the reversal's lines are the original's with sides swapped
    let opposite: Vec<_> = original.iter().map(|p| p.reversed()).collect();
    assert_eq!(l.last_event().postings(), opposite);
    assert!(is_balanced(&opposite));
    // And every balance is back where it was
    assert_eq!(l.state.fund_balance(&fund("HP")).unwrap(), before);
    assert_eq!(l.account_balances(), accounts_before);
    // Reversing twice, or reversing the reversal, is refused
    let r = l.rejects(Command::ReverseEvent {
        position,
        reason: "again".into(),
    });
    assert_eq!(r.code(), "already_reversed");
    assert_eq!(
        r.to_string(),
        format!("the event at position {position} was already reversed by the event at position {reversal}")
    );
    let r = l.rejects(Command::ReverseEvent {
        position: reversal,
        reason: "undo".into(),
    });
    assert_eq!(r.code(), "cannot_reverse_reversal");
}

#[test]
fn unknown_or_non_money_events_cannot_be_reversed() {
    let mut l = lending_ledger(None);
    let r = l.rejects(Command::ReverseEvent {
        position: 10_000,
        reason: "typo".into(),
    });
    assert_eq!(r.code(), "unknown_event");
    assert_eq!(r.to_string(), "there is no event at position 10000");
    let r = l.rejects(Command::ReverseEvent {
        position: 0,
        reason: "typo".into(),
    });
    assert_eq!(r.code(), "not_reversible");
    let r = l.rejects(Command::ReverseEvent {
        position: 0,
        reason: String::new(),
    });
    assert_eq!(r.code(), "text_invalid");
}

#[test]
fn reversals_that_would_break_later_events_are_blocked() {
    let mut l = lending_ledger(None);
    let disbursed = l.ok(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-1",
        yuan(100_000),
        12,
    )))[0];
    let repaid = l.ok(Command::RepayLoan {
        loan: loan_id("L-1"),
        principal: yuan(1_000),
        interest: yuan(0),
    })[0];
    // A disbursement with repayments cannot be reversed
    let r = l.rejects(Command::ReverseEvent {
        position: disbursed,
        reason: "wrong borrower".into(),
    });
    assert_eq!(r.code(), "reversal_blocked");
    // A receipt whose money has been lent cannot be reversed (cash would go negative)
    let receipt = l
        .log
        .iter()
        .find(|r| matches!(r.event, Event::AppropriationReceived { .. }))
        .unwrap()
        .position;
    let r = l.rejects(Command::ReverseEvent {
        position: receipt,
        reason: "bank returned it".into(),
    });
    assert_eq!(r.code(), "insufficient_funds");
    // A commitment already received cannot be reversed
    let r = l.rejects(Command::ReverseEvent {
        position: receipt - 1,
        reason: "cancelled".into(),
    });
    assert_eq!(r.code(), "reversal_blocked");
    // Reverse the repayment, then the disbursement: the loan is gone, cash is back
    l.ok(Command::ReverseEvent {
        position: repaid,
        reason: "bounced".into(),
    });
    assert_eq!(
        l.state.loan(&loan_id("L-1")).unwrap().outstanding(),
        money("100000")
    );
    l.ok(Command::ReverseEvent {
        position: disbursed,
        reason: "wrong borrower".into(),
    });
    assert_eq!(l.available("SM-REV", City), money("100000"));
    assert_eq!(
        l.state.loan(&loan_id("L-1")).unwrap().status(),
        LoanStatus::Reversed
    );
    let r = l.rejects(Command::RepayLoan {
        loan: loan_id("L-1"),
        principal: yuan(1),
        interest: yuan(0),
    });
    assert_eq!(r.code(), "loan_not_active");
}

#[test]
fn reversing_a_bursary_award_frees_the_student_year_and_tier() {
    let mut l = bursary_ledger();
    let awarded = l.ok(award_bursary("B-1", Province, yuan(5_000), 1, None))[0];
    let paid = l.ok(Command::PayBursaryInstalment(BursaryInstalment {
        award: award("B-1"),
        amount: yuan(5_000),
    }))[0];
    let r = l.rejects(Command::ReverseEvent {
        position: awarded,
        reason: "wrong student".into(),
    });
    assert_eq!(r.code(), "reversal_blocked");
    l.ok(Command::ReverseEvent {
        position: paid,
        reason: "wrong student".into(),
    });
    l.ok(Command::ReverseEvent {
        position: awarded,
        reason: "wrong student".into(),
    });
    assert!(l
        .state
        .bursary_awards(&person("ST-1"), 2021, Province)
        .is_empty());
    l.ok(award_bursary("B-2", Province, yuan(5_000), 1, None));
    let r = l.rejects(Command::PayBursaryInstalment(BursaryInstalment {
        award: award("B-1"),
        amount: yuan(1),
    }));
    assert_eq!(r.code(), "award_kind_mismatch");
}

#[test]
fn reversing_a_write_off_reactivates_the_loan() {
    let mut l = lending_ledger(None);
    l.ok(Command::DisburseLoan(loan(
        "L-1",
        "SM-REV",
        "HH-1",
        yuan(5_000),
        10,
    )));
    let written = l.ok(Command::WriteOffLoan {
        loan: loan_id("L-1"),
        reason: "unreachable".into(),
    })[0];
    l.ok(Command::ReverseEvent {
        position: written,
        reason: "borrower found".into(),
    });
    let loan = l.state.loan(&loan_id("L-1")).unwrap();
    assert_eq!(loan.status(), LoanStatus::Active);
    assert_eq!(loan.outstanding(), money("5000"));
    assert_eq!(
        l.state.fund_balance(&fund("SM-REV")).unwrap().written_off,
        Money::ZERO
    );
}

// ---- events, serde, determinism ------------------------------------------------------

#[test]
fn events_have_stable_types_and_schema_versions_and_round_trip_through_json_and_bincode() {
    let mut l = housing_ledger();
    l.ok(Command::AwardHousingGrant {
        award: award("H-1"),
        fund: fund("SM-HOUSING"),
        beneficiary: person("HH-1"),
        amount: yuan(3),
        shares: split(&[(Province, yuan(1)), (City, yuan(2))]),
    });
    let config = bincode::config::standard();
    let mut seen = BTreeSet::new();
    for recorded in &l.log {
        let event = &recorded.event;
        assert_eq!(event.schema_version(), 1);
        assert!(Event::TYPES.contains(&event.event_type()));
        seen.insert(event.event_type());
        let json = serde_json::to_string(event).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, event);
        let bytes = bincode::serde::encode_to_vec(event, config).unwrap();
        // The store decodes through the upcasting hook with the stored type and version.
        let mut reader = bincode::serde::BorrowedSerdeDecoder::from_slice(&bytes, config, ());
        let decoded = upcast(event.event_type(), 1, reader.as_deserializer()).unwrap();
        assert_eq!(&decoded, event);
        let mut reader = bincode::serde::BorrowedSerdeDecoder::from_slice(&bytes, config, ());
        assert!(upcast(event.event_type(), 2, reader.as_deserializer()).is_err());
        let mut reader = bincode::serde::BorrowedSerdeDecoder::from_slice(&bytes, config, ());
        assert!(upcast("SomethingElse", 1, reader.as_deserializer()).is_err());
        let full = serde_json::to_string(recorded).unwrap();
        assert_eq!(
            &serde_json::from_str::<ledger_domain::Recorded>(&full).unwrap(),
            recorded
        );
    }
    assert!(seen.contains("HousingGrantAwarded"));
    // The write-side state snapshots through bincode and JSON.
    let bytes = bincode::serde::encode_to_vec(&l.state, config).unwrap();
    let (state, _): (State, usize) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
    assert_eq!(state, l.state);
    let json = serde_json::to_string(&l.state).unwrap();
    assert_eq!(serde_json::from_str::<State>(&json).unwrap(), l.state);
}

#[test]
fn commands_from_json_refuse_bad_amounts() {
    let good = r#"{"CommitAppropriation":{"fund":"F","tier":"Province","amount":"10.50","reference":null}}"#;
    let command: Command = serde_json::from_str(good).unwrap();
    assert!(matches!(command, Command::CommitAppropriation { .. }));
    for bad in ["\"-10.50\"", "\"10.505\"", "10.5", "\"1e3\"", "\"\""] {
        let text = format!(
            r#"{{"CommitAppropriation":{{"fund":"F","tier":"Province","amount":{bad},"reference":null}}}}"#
        );
        assert!(
            serde_json::from_str::<Command>(&text).is_err(),
            "{bad} accepted"
        );
    }
}

#[test]
fn decide_is_deterministic_and_does_not_touch_the_state() {
    let mut l = lending_ledger(Some(yuan(10)));
    let command = Command::DisburseLoan(loan("L-1", "SM-REV", "HH-1", yuan(500), 12));
    let ctx = l.context("clerk-1", day(2021, 3, 1));
    let before = l.state.clone();
    let first = decide(&l.state, &command, &ctx);
    let second = decide(&l.state, &command, &ctx);
    assert_eq!(first, second);
    assert_eq!(l.state, before);
}

#[test]
fn every_rejection_code_is_documented() {
    let docs = include_str!("../../../docs/DOMAIN.md");
    let codes = [
        "amount_zero",
        "tier_shares_mismatch",
        "text_invalid",
        "year_invalid",
        "unknown_unit",
        "unit_exists",
        "province_has_parent",
        "parent_required",
        "parent_level_mismatch",
        "unknown_fund",
        "fund_exists",
        "insurance_model_required",
        "insurance_model_not_applicable",
        "programme_mismatch",
        "unknown_beneficiary",
        "beneficiary_exists",
        "beneficiary_outside_fund_unit",
        "insufficient_funds",
        "commitment_exceeded",
        "unknown_loan",
        "loan_exists",
        "loan_not_active",
        "repayment_exceeds_outstanding",
        "loan_term_invalid",
        "loan_grace_invalid",
        "loan_rate_invalid",
        "unknown_award",
        "award_exists",
        "award_kind_mismatch",
        "duplicate_bursary",
        "instalment_exceeds_award",
        "bursary_years_invalid",
        "unknown_campaign",
        "campaign_exists",
        "claim_payer_mismatch",
        "premium_tax_inconsistent",
        "coverage_invalid",
        "unknown_request",
        "self_approval",
        "request_expired",
        "period_closed",
        "period_already_closed",
        "period_invalid",
        "effective_date_in_future",
        "unknown_event",
        "not_reversible",
        "already_reversed",
        "cannot_reverse_reversal",
        "reversal_blocked",
        "nothing_expired",
        "before_disbursement",
        "unknown_user",
        "user_disabled",
        "user_exists",
        "not_permitted",
        "out_of_scope",
        "scope_required",
        "scope_not_applicable",
        "token_exists",
        "unknown_token",
        "token_already_revoked",
        "token_expiry_invalid",
        "last_admin",
        "amount_empty",
        "amount_negative",
        "amount_exponent",
        "amount_malformed",
        "amount_too_many_decimals",
        "amount_overflow",
        "shares_empty",
        "shares_duplicate_tier",
        "shares_zero",
    ];
    for code in codes {
        assert!(
            docs.contains(&format!("`{code}`")),
            "{code} is not in docs/DOMAIN.md"
        );
    }
    for event_type in Event::TYPES {
        assert!(
            docs.contains(event_type),
            "{event_type} is not in docs/DOMAIN.md"
        );
    }
}
