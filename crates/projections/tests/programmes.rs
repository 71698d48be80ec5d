//! Proves the programme report's figures in given/when/then form: totals, distinct beneficiaries by kind and category, migrants, averages, rates, year-on-year growth, roll-up through the hierarchy with a row per child unit, and reversals on their own effective dates.
//!
//! How: a small ledger of Happiness Project funds at a city and two of its counties is
//! recorded through the domain's commands, and every figure is checked exactly.

mod common;

use common::*;
use ledger_domain::{
    BeneficiaryCategory, BeneficiaryKind, CampaignId, Command, CondolenceForm, CondolencePayment,
    FundingTier, GrantModality, GrantPayment, Programme,
};
use ledger_projections::{DateRange, ProgrammeReport, ProgrammeRow};

use BeneficiaryCategory::{Migrant, Mother};

fn grant(f: &str, beneficiary: &str, y: i64) -> Command {
    Command::PayGrant(GrantPayment {
        fund: fund(f),
        beneficiary: person(beneficiary),
        modality: GrantModality::Skills,
        batch: Some("第十七批".into()),
        amount: yuan(y),
        shares: one_tier(FundingTier::City, yuan(y)),
    })
}

fn reverse(position: u64) -> Command {
    Command::ReverseEvent {
        position,
        reason: "paid to the wrong household".into(),
    }
}

fn hp_row(rows: &[ProgrammeRow]) -> &ProgrammeRow {
    rows.iter()
        .find(|r| r.programme == Programme::HappinessProject)
        .expect("a Happiness Project row")
}

/// Happiness Project funds at Sanming (city) and at two of its counties, Shaxian and
/// Youxi; mothers M1 and M2 (M2 a migrant) in Shaxian, households H1 and H2 in Youxi.
fn given_happiness_project_funds() -> Ledger {
    let mut l = Ledger::new().with_units();
    l.today = day(2021, 3, 1);
    l.open_fund("SX-HP", "FJ-SM-SX", Programme::HappinessProject);
    l.open_fund("YX-HP", "FJ-SM-YX", Programme::HappinessProject);
    l.open_fund("SM-HP", "FJ-SM", Programme::HappinessProject);
    l.ok(Command::CommitAppropriation {
        fund: fund("SX-HP"),
        tier: FundingTier::City,
        amount: yuan(100_000),
        reference: None,
    });
    l.ok(Command::ReceiveAppropriation {
        fund: fund("SX-HP"),
        tier: FundingTier::City,
        amount: yuan(80_000),
        reference: None,
    });
    l.fund_cash("YX-HP", FundingTier::City, yuan(50_000));
    l.fund_cash("SM-HP", FundingTier::City, yuan(20_000));
    l.register("M1", "FJ-SM-SX", BeneficiaryKind::Person, &[Mother]);
    l.register(
        "M2",
        "FJ-SM-SX-01",
        BeneficiaryKind::Person,
        &[Mother, Migrant],
    );
    l.register("H1", "FJ-SM-YX", BeneficiaryKind::Household, &[]);
    l.register("H2", "FJ-SM-YX", BeneficiaryKind::Household, &[]);
    l
}

/// 2021: M1 twice from Shaxian and once from the city, M2 a loan, H1 a grant reversed
/// in the same month, H2 a loan as a migrant; 2020 (backdated): one grant to M1.
fn when_a_year_of_payments_is_recorded(l: &mut Ledger) {
    l.ok_dated(day(2021, 3, 1), grant("SX-HP", "M1", 3_000));
    l.ok_dated(
        day(2021, 3, 2),
        Command::DisburseLoan(loan("L-M2", "SX-HP", "M2", yuan(10_000), 12)),
    );
    l.ok_dated(day(2021, 4, 1), grant("SX-HP", "M1", 2_000));
    let wrong = l.ok_dated(day(2021, 3, 5), grant("YX-HP", "H1", 5_000))[0];
    l.ok_dated(day(2021, 3, 20), reverse(wrong));
    let mut migrant_loan = loan("L-H2", "YX-HP", "H2", yuan(8_000), 12);
    migrant_loan.migrant = true;
    l.ok_dated(day(2021, 5, 1), Command::DisburseLoan(migrant_loan));
    l.today = day(2021, 6, 1);
    l.ok_dated(day(2021, 6, 1), grant("SM-HP", "M1", 1_000));
    l.ok_dated(day(2020, 6, 1), grant("SX-HP", "M1", 4_000));
}

fn report(l: &Ledger, unit_code: &str, range: DateRange) -> ProgrammeReport {
    l.projections
        .programmes
        .report(&unit(unit_code), range)
        .expect("a report")
}

#[test]
fn the_subtree_row_counts_money_and_distinct_beneficiaries_of_the_period() {
    let mut l = given_happiness_project_funds();
    when_a_year_of_payments_is_recorded(&mut l);
    let r = report(&l, "FJ-SM", DateRange::year(2021).unwrap());
    let hp = hp_row(&r.rows);
    assert_eq!(r.rows.len(), 1);
    assert_eq!(hp.funds, 3);
    assert_eq!(hp.committed, money("170000.00"));
    assert_eq!(hp.received, money("150000.00"));
    // 3,000 + 10,000 + 2,000 + (5,000 − 5,000) + 8,000 + 1,000; the 2020 grant is outside.
    assert_eq!(hp.disbursed, money("24000.00"));
    assert_eq!(hp.paid_to_beneficiaries, money("24000.00"));
    // M1, M2 and H2; H1's only grant was reversed within the period.
    assert_eq!(hp.helped.beneficiaries, 3);
    assert_eq!(hp.helped.persons, 2);
    assert_eq!(hp.helped.households, 1);
    assert_eq!(hp.helped.mothers, 2);
    assert_eq!(hp.helped.students, 0);
    // M2 by category, H2 by the loan's migrant flag.
    assert_eq!(hp.helped.migrants, 2);
    assert_eq!(hp.average_per_beneficiary, Some(money("8000.00")));
    assert_eq!(hp.budget_execution_rate.unwrap().to_string(), "14.12%");
    assert_eq!(hp.arrival_rate.unwrap().to_string(), "88.24%");
    assert_eq!(hp.by_tier.len(), 1);
    assert_eq!(
        hp.by_tier[0].share_of_disbursed.unwrap().to_string(),
        "100.00%"
    );
}

#[test]
fn growth_compares_with_the_same_period_a_year_earlier() {
    let mut l = given_happiness_project_funds();
    when_a_year_of_payments_is_recorded(&mut l);
    let r = report(&l, "FJ-SM", DateRange::year(2021).unwrap());
    assert_eq!(r.last_year, DateRange::year(2020).unwrap());
    let hp = hp_row(&r.rows);
    assert_eq!(hp.disbursed_last_year, money("4000.00"));
    assert_eq!(hp.helped_last_year.beneficiaries, 1);
    assert_eq!(hp.disbursed_growth.unwrap().to_string(), "500.00%");
    assert_eq!(hp.beneficiaries_growth.unwrap().to_string(), "200.00%");
    // A year with nothing a year earlier has undefined growth, not 0% or 100%.
    let r2020 = report(&l, "FJ-SM", DateRange::year(2020).unwrap());
    assert_eq!(hp_row(&r2020.rows).disbursed_growth, None);
}

#[test]
fn rows_per_child_unit_let_a_manager_drill_down() {
    let mut l = given_happiness_project_funds();
    when_a_year_of_payments_is_recorded(&mut l);
    let r = report(&l, "FJ-SM", DateRange::year(2021).unwrap());
    let own = hp_row(&r.own);
    assert_eq!(own.funds, 1);
    assert_eq!(own.disbursed, money("1000.00"));
    assert_eq!(own.helped.beneficiaries, 1);
    let children: Vec<&str> = r.children.iter().map(|c| c.unit.as_str()).collect();
    assert_eq!(children, vec!["FJ-SM-SX", "FJ-SM-YX"]);
    let shaxian = hp_row(&r.children[0].rows);
    assert_eq!(shaxian.disbursed, money("15000.00"));
    assert_eq!(shaxian.helped.beneficiaries, 2);
    assert_eq!(shaxian.helped.migrants, 1);
    let youxi = hp_row(&r.children[1].rows);
    assert_eq!(youxi.disbursed, money("8000.00"));
    assert_eq!(youxi.helped.households, 1);
    // Money adds up across the rows; people need not (M1 was helped by two units).
    assert_eq!(
        own.disbursed + shaxian.disbursed + youxi.disbursed,
        hp_row(&r.rows).disbursed
    );
    // Drilling into Shaxian: its township holds no fund, its own fund is the county's.
    let county = report(&l, "FJ-SM-SX", DateRange::year(2021).unwrap());
    assert_eq!(hp_row(&county.rows), shaxian);
    assert_eq!(county.children.len(), 1);
    assert!(county.children[0].rows.is_empty());
    // The province rolls everything up.
    let province = report(&l, "FJ", DateRange::year(2021).unwrap());
    assert_eq!(hp_row(&province.rows).disbursed, money("24000.00"));
}

#[test]
fn the_report_counts_each_beneficiary_once_across_programmes() {
    let mut l = given_happiness_project_funds();
    when_a_year_of_payments_is_recorded(&mut l);
    // Shaxian's festival visit pays M1, whom the Happiness Project already helped.
    l.open_fund("SX-WW", "FJ-SM-SX", Programme::Condolence);
    l.fund_cash("SX-WW", FundingTier::County, yuan(10_000));
    let campaign = CampaignId::new("SX-2021-SPRING").unwrap();
    l.ok(Command::OpenCampaign {
        campaign: campaign.clone(),
        fund: fund("SX-WW"),
        name: "两节慰问 2021".into(),
    });
    l.ok(Command::PayCondolence(CondolencePayment {
        campaign,
        beneficiary: person("M1"),
        category: Mother,
        form: CondolenceForm::Cash,
        amount: yuan(500),
        shares: one_tier(FundingTier::County, yuan(500)),
    }));
    let r = report(&l, "FJ-SM", DateRange::year(2021).unwrap());
    assert_eq!(r.rows.len(), 2);
    let per_programme: u64 = r.rows.iter().map(|row| row.helped.beneficiaries).sum();
    assert_eq!(per_programme, 4, "M1 is in both programmes' rows");
    // M1, M2 and H2, each once.
    assert_eq!(r.helped.beneficiaries, 3);
    assert_eq!(r.helped.mothers, 2);
    assert_eq!(r.helped.households, 1);
    let shaxian = &r.children[0];
    assert_eq!(shaxian.unit.as_str(), "FJ-SM-SX");
    assert_eq!(shaxian.rows.len(), 2);
    // M1 and M2; the city's own grant to M1 is not Shaxian's.
    assert_eq!(shaxian.helped.beneficiaries, 2);
    assert_eq!(r.children[1].helped.beneficiaries, 1);
    // A period without payments helps no one.
    let empty = report(&l, "FJ-SM", DateRange::year(2019).unwrap());
    assert_eq!(empty.helped.beneficiaries, 0);
}

#[test]
fn a_reversal_counts_on_its_own_effective_date() {
    let mut l = given_happiness_project_funds();
    l.register("M3", "FJ-SM-SX", BeneficiaryKind::Person, &[Mother]);
    l.today = day(2022, 1, 10);
    let late = l.ok_dated(day(2021, 12, 30), grant("SX-HP", "M3", 600))[0];
    l.ok_dated(day(2022, 1, 5), reverse(late));
    let r2021 = report(&l, "FJ-SM-SX", DateRange::year(2021).unwrap());
    let hp2021 = hp_row(&r2021.rows);
    assert_eq!(hp2021.disbursed, money("600.00"));
    assert_eq!(hp2021.helped.beneficiaries, 1);
    let r2022 = report(&l, "FJ-SM-SX", DateRange::year(2022).unwrap());
    let hp2022 = hp_row(&r2022.rows);
    assert_eq!(hp2022.disbursed, money("600.00").negated());
    assert_eq!(hp2022.paid_to_beneficiaries, money("600.00").negated());
    assert_eq!(hp2022.helped.beneficiaries, 0);
    assert_eq!(hp2022.average_per_beneficiary, None);
    // Over both years the grant and its reversal cancel.
    let both = DateRange::new(day(2021, 1, 1), day(2022, 12, 31)).unwrap();
    let hp_both = report(&l, "FJ-SM-SX", both);
    assert_eq!(hp_row(&hp_both.rows).disbursed, money("0.00"));
    assert_eq!(hp_row(&hp_both.rows).helped.beneficiaries, 0);
}

#[test]
fn an_unknown_unit_is_an_error() {
    let l = given_happiness_project_funds();
    let error = l
        .projections
        .programmes
        .report(&unit("FJ-NOPE"), DateRange::year(2021).unwrap())
        .unwrap_err();
    assert_eq!(error.code(), "unknown_unit");
}
