//! Proves the insurance report's figures in given/when/then form: premiums with and without tax, cover, claims by insurer and by fund, the simple loss ratio and the incurred one (only where a reserve is recorded, with the reserve's change over the period), their formula labels, reversals, roll-up, and equality with the domain's own totals over a fund's whole history.
//!
//! How: an insurer-underwritten fund at the city and a self-insured fund at a county
//! are recorded through the domain's commands; every figure is checked exactly.

mod common;

use common::*;
use ledger_domain::{
    ClaimPayer, ClaimPayment, Command, FundingTier, InsuranceModel, PolicyLine, PremiumPayment,
    Programme,
};
use ledger_projections::{
    DateRange, InsuranceReport, INCURRED_LOSS_RATIO_FORMULA, SIMPLE_LOSS_RATIO_FORMULA,
};

use FundingTier::{City, County, HouseholdContribution};
use PolicyLine::HouseholdAccident;

fn claim(f: &str, beneficiary: &str, a: &str, payer: ClaimPayer) -> Command {
    Command::PayClaim(ClaimPayment {
        fund: fund(f),
        line: HouseholdAccident,
        beneficiary: person(beneficiary),
        amount: amount(a),
        payer,
    })
}

fn reserve(f: &str, y: i64) -> Command {
    Command::EstimateClaimsReserve {
        fund: fund(f),
        line: HouseholdAccident,
        amount: yuan(y),
    }
}

/// SM-INS (insurer-underwritten, at the city) collects ¥106,000.00 (¥100,000.00 without
/// tax) for 1,000 households; SX-INS (self-insured, at a county) ¥10,000.00 (¥9,400.00).
fn given_two_insurance_funds() -> Ledger {
    let mut l = Ledger::new().with_units();
    l.today = day(2021, 1, 10);
    l.open_fund_with(
        "SM-INS",
        "FJ-SM",
        Programme::Insurance,
        None,
        Some(InsuranceModel::InsurerUnderwritten),
    );
    l.open_fund_with(
        "SX-INS",
        "FJ-SM-SX",
        Programme::Insurance,
        None,
        Some(InsuranceModel::SelfInsured),
    );
    l.fund_cash("SM-INS", City, yuan(200_000));
    l.fund_cash("SX-INS", County, yuan(50_000));
    l.household("F1", "FJ-SM-SX");
    l.household("F2", "FJ-SM-SX-01");
    l.ok(Command::CollectPremium(PremiumPayment {
        fund: fund("SM-INS"),
        line: HouseholdAccident,
        coverage_start: day(2021, 1, 1),
        coverage_end: day(2021, 12, 31),
        households: 1_000,
        persons: 3_000,
        tax_inclusive: yuan(106_000),
        tax_exclusive: yuan(100_000),
        shares: split(&[(City, yuan(100_000)), (HouseholdContribution, yuan(6_000))]),
    }));
    l.today = day(2021, 2, 1);
    l.ok(Command::CollectPremium(PremiumPayment {
        fund: fund("SX-INS"),
        line: HouseholdAccident,
        coverage_start: day(2021, 2, 1),
        coverage_end: day(2022, 1, 31),
        households: 100,
        persons: 250,
        tax_inclusive: yuan(10_000),
        tax_exclusive: yuan(9_400),
        shares: split(&[(County, yuan(8_000)), (HouseholdContribution, yuan(2_000))]),
    }));
    l
}

/// 2021: the insurer pays three claims (one reversed), the county fund one; reserves
/// of ¥30,000.00 (30 June) and ¥12,000.00 (31 December) are estimated, then an estimate
/// of ¥18,000.00 dated 30 September is recorded last. 2022: one more claim, reserve nil.
fn when_claims_and_reserves_are_recorded(l: &mut Ledger) {
    l.today = day(2021, 6, 10);
    l.ok(claim("SM-INS", "F1", "20000", ClaimPayer::Insurer));
    l.ok(claim("SM-INS", "F2", "15000", ClaimPayer::Insurer));
    let wrong = l.ok(claim("SM-INS", "F2", "5000.25", ClaimPayer::Insurer))[0];
    l.today = day(2021, 7, 1);
    l.ok(Command::ReverseEvent {
        position: wrong,
        reason: "duplicate claim".into(),
    });
    l.today = day(2021, 8, 1);
    l.ok(claim(
        "SX-INS",
        "F1",
        "3000",
        ClaimPayer::Fund {
            shares: one_tier(County, yuan(3_000)),
        },
    ));
    l.ok_dated(day(2021, 6, 30), reserve("SM-INS", 30_000));
    l.today = day(2022, 1, 5);
    l.ok_dated(day(2021, 12, 31), reserve("SM-INS", 12_000));
    l.ok_dated(day(2021, 9, 30), reserve("SM-INS", 18_000));
    l.today = day(2022, 2, 1);
    l.ok(claim("SM-INS", "F1", "10000", ClaimPayer::Insurer));
    l.today = day(2022, 3, 31);
    l.ok(reserve("SM-INS", 0));
}

fn report(l: &Ledger, unit_code: &str, range: DateRange) -> InsuranceReport {
    l.projections
        .insurance
        .report(&unit(unit_code), HouseholdAccident, range)
        .expect("a report")
}

#[test]
fn the_subtree_adds_premiums_cover_and_claims_of_both_models() {
    let mut l = given_two_insurance_funds();
    when_claims_and_reserves_are_recorded(&mut l);
    let f = report(&l, "FJ-SM", DateRange::year(2021).unwrap()).figures;
    assert_eq!(f.premium_tax_inclusive, money("116000.00"));
    assert_eq!(f.premium_tax_exclusive, money("109400.00"));
    assert_eq!(f.households, 1_100);
    assert_eq!(f.persons, 3_250);
    // Three insurer claims minus the reversed one, plus the county fund's claim.
    assert_eq!(f.claims_count, 3);
    assert_eq!(f.claims_paid, money("38000.00"));
    assert_eq!(f.claims_paid_by_insurer, money("35000.00"));
    assert_eq!(f.claims_paid_by_fund, money("3000.00"));
    assert_eq!(f.simple_loss_ratio.value.unwrap().to_string(), "34.73%");
    assert_eq!(f.simple_loss_ratio.formula, SIMPLE_LOSS_RATIO_FORMULA);
}

#[test]
fn the_incurred_ratio_adds_the_reserves_change_and_says_so() {
    let mut l = given_two_insurance_funds();
    when_claims_and_reserves_are_recorded(&mut l);
    let r = report(&l, "FJ-SM", DateRange::year(2021).unwrap());
    // Of the estimates dated by 31 December the one recorded last (¥18,000.00) is in force.
    assert_eq!(r.figures.reserve_at_start, None);
    assert_eq!(r.figures.reserve_at_end, Some(money("18000.00")));
    let incurred = r.figures.incurred_loss_ratio.unwrap();
    // (38,000 + 18,000 − 0) ÷ 109,400.
    assert_eq!(incurred.value.unwrap().to_string(), "51.19%");
    assert_eq!(incurred.formula, INCURRED_LOSS_RATIO_FORMULA);
    // The city's own fund alone: 35,000 ÷ 100,000 and (35,000 + 18,000) ÷ 100,000.
    assert_eq!(r.own.simple_loss_ratio.value.unwrap().to_string(), "35.00%");
    assert_eq!(
        r.own
            .incurred_loss_ratio
            .unwrap()
            .value
            .unwrap()
            .to_string(),
        "53.00%"
    );
    // The county's self-insured fund has no reserve: no incurred ratio at all.
    assert_eq!(r.children[0].unit, unit("FJ-SM-SX"));
    assert_eq!(
        r.children[0]
            .figures
            .simple_loss_ratio
            .value
            .unwrap()
            .to_string(),
        "31.91%"
    );
    assert_eq!(r.children[0].figures.incurred_loss_ratio, None);
    // As of 30 June only the first estimate was in force.
    let half = report(
        &l,
        "FJ-SM",
        DateRange::new(day(2021, 1, 1), day(2021, 6, 30)).unwrap(),
    );
    assert_eq!(half.figures.reserve_at_end, Some(money("30000.00")));
}

#[test]
fn a_later_period_nets_the_reserve_released_against_its_claims() {
    let mut l = given_two_insurance_funds();
    when_claims_and_reserves_are_recorded(&mut l);
    let r = report(&l, "FJ-SM", DateRange::year(2022).unwrap());
    assert_eq!(r.figures.premium_tax_exclusive, money("0.00"));
    assert_eq!(r.figures.claims_paid, money("10000.00"));
    assert_eq!(r.figures.reserve_at_start, Some(money("18000.00")));
    assert_eq!(r.figures.reserve_at_end, Some(money("0.00")));
    // No premium in 2022: both ratios are undefined rather than infinite or zero.
    assert_eq!(r.figures.simple_loss_ratio.value, None);
    assert_eq!(r.figures.incurred_loss_ratio.unwrap().value, None);
    // Growth against 2021's ¥109,400.00: −100.00%.
    assert_eq!(r.premium_growth.value.unwrap().to_string(), "-100.00%");
}

#[test]
fn over_a_funds_whole_history_the_report_equals_the_domains_totals() {
    let mut l = given_two_insurance_funds();
    when_claims_and_reserves_are_recorded(&mut l);
    let all = DateRange::new(day(2020, 1, 1), day(2022, 12, 31)).unwrap();
    let r = report(&l, "FJ-SM", all);
    for (figures, id) in [(&r.own, "SM-INS"), (&r.children[0].figures, "SX-INS")] {
        let totals = *l
            .state
            .fund(&fund(id))
            .unwrap()
            .insurance(HouseholdAccident)
            .unwrap();
        assert_eq!(
            figures.premium_tax_inclusive,
            totals.premium_tax_inclusive()
        );
        assert_eq!(
            figures.premium_tax_exclusive,
            totals.premium_tax_exclusive()
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
        assert_eq!(figures.claims_paid, totals.claims_paid());
        assert_eq!(figures.simple_loss_ratio.value, totals.simple_loss_ratio());
        if let Some(incurred) = &figures.incurred_loss_ratio {
            assert_eq!(incurred.value, totals.incurred_loss_ratio());
        }
    }
    assert_eq!(r.own.simple_loss_ratio.value.unwrap().to_string(), "45.00%");
    assert_eq!(
        r.own
            .incurred_loss_ratio
            .unwrap()
            .value
            .unwrap()
            .to_string(),
        "45.00%"
    );
}

#[test]
fn a_reversed_premium_takes_its_cover_back_on_the_reversals_date() {
    let mut l = given_two_insurance_funds();
    l.today = day(2021, 3, 1);
    let position = l
        .log
        .iter()
        .find(|r| {
            r.recorded.event.event_type() == "PremiumCollected"
                && r.recorded.event.fund() == Some(&fund("SX-INS"))
        })
        .unwrap()
        .recorded
        .position;
    l.ok(Command::ReverseEvent {
        position,
        reason: "wrong coverage period".into(),
    });
    let feb = report(
        &l,
        "FJ-SM-SX",
        DateRange::new(day(2021, 2, 1), day(2021, 2, 28)).unwrap(),
    );
    assert_eq!(feb.figures.households, 100);
    let year = report(&l, "FJ-SM-SX", DateRange::year(2021).unwrap());
    assert_eq!(year.figures.households, 0);
    assert_eq!(year.figures.premium_tax_exclusive, money("0.00"));
    let march = report(
        &l,
        "FJ-SM-SX",
        DateRange::new(day(2021, 3, 1), day(2021, 3, 31)).unwrap(),
    );
    assert_eq!(march.figures.households, -100);
    assert_eq!(
        march.figures.premium_tax_inclusive,
        money("10000.00").negated()
    );
}
