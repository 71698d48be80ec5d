//! Proves the Sanming 2021 reference figures (shared/domain.md) come out of the projections' reports exactly: loss ratio 73.13% from ¥9,668,400.00 premiums and ¥7,070,500.92 claims, +14.07% premium growth over ¥8,475,848.16, 642 students and ¥2,031,600.00 of bursaries, 16 households and ¥920,000.00 of housing with each tier's share, 337 households and ¥6,168,000.00 of revolving loans.
//!
//! How: the year is recorded through the domain's public commands (`decide` and
//! `evolve`, as in the domain's own Sanming test), every accepted event is fed to the
//! projections, and the figures are read from the projections' reports only.

mod common;

use common::*;
use ledger_domain::{
    BeneficiaryCategory, BeneficiaryKind, BursaryInstalment, CampaignId, ClaimPayer, ClaimPayment,
    Command, CondolenceForm, CondolencePayment, FundingTier, HousingInstalment, InsuranceModel,
    PolicyLine, PremiumPayment, Programme, UnitLevel,
};
use ledger_projections::{
    DateRange, ProgrammeReport, ProgrammeRow, Projection, SIMPLE_LOSS_RATIO_FORMULA,
};

use FundingTier::{City, County, HouseholdContribution, Province};

const COUNTIES: [&str; 3] = ["FJ-SM-SX", "FJ-SM-YA", "FJ-SM-MX"];

fn sanming() -> Ledger {
    let mut l = Ledger::new();
    l.today = day(2021, 1, 4);
    l.register_unit("FJ", UnitLevel::Province, None);
    l.register_unit("FJ-SM", UnitLevel::City, Some("FJ"));
    for county in COUNTIES {
        l.register_unit(county, UnitLevel::County, Some("FJ-SM"));
    }
    l
}

fn register_many(
    l: &mut Ledger,
    prefix: &str,
    count: usize,
    kind: BeneficiaryKind,
    category: BeneficiaryCategory,
) -> Vec<String> {
    (0..count)
        .map(|i| {
            let id = format!("{prefix}-{i:04}");
            l.register(&id, COUNTIES[i % 3], kind, &[category]);
            id
        })
        .collect()
}

fn year_2021() -> DateRange {
    DateRange::year(2021).unwrap()
}

fn row(report: &ProgrammeReport, programme: Programme) -> &ProgrammeRow {
    report
        .rows
        .iter()
        .find(|r| r.programme == programme)
        .unwrap_or_else(|| panic!("no {programme} row"))
}

fn record_revolving_loans(l: &mut Ledger) {
    l.open_fund("SM-2021-REVOLVING", "FJ-SM", Programme::RevolvingFund);
    l.fund_cash("SM-2021-REVOLVING", City, amount("616.8万"));
    let households = register_many(
        l,
        "REV",
        337,
        BeneficiaryKind::Household,
        BeneficiaryCategory::PoorHousehold,
    );
    l.today = day(2021, 4, 1);
    for (i, household) in households.iter().enumerate() {
        // 336 loans of ¥18,300.00 and one of ¥19,200.00.
        let principal = if i == 336 { yuan(19_200) } else { yuan(18_300) };
        let mut terms = loan(
            &format!("SM21-L{i:04}"),
            "SM-2021-REVOLVING",
            household,
            principal,
            24,
        );
        terms.migrant = i % 10 == 0;
        l.ok(Command::DisburseLoan(terms));
    }
}

fn record_bursaries(l: &mut Ledger) {
    l.open_fund("SM-2021-BURSARY", "FJ-SM", Programme::Bursary);
    l.fund_cash("SM-2021-BURSARY", Province, amount("426,600.00"));
    l.fund_cash("SM-2021-BURSARY", City, amount("963,000.00"));
    l.fund_cash("SM-2021-BURSARY", County, amount("642,000.00"));
    let students = register_many(
        l,
        "STU",
        642,
        BeneficiaryKind::Person,
        BeneficiaryCategory::Student,
    );
    l.today = day(2021, 8, 20);
    let pay = |l: &mut Ledger, id: String, student: &str, tier: FundingTier, a| {
        l.ok(Command::AwardBursary {
            award: award(&id),
            fund: fund("SM-2021-BURSARY"),
            student: person(student),
            academic_year: 2021,
            tier,
            amount: a,
            years: 1,
            supplement_reason: None,
        });
        l.ok(Command::PayBursaryInstalment(BursaryInstalment {
            award: award(&id),
            amount: a,
        }));
    };
    for (i, student) in students.iter().enumerate() {
        pay(l, format!("B-CTY-{i:04}"), student, County, yuan(1_000));
        pay(l, format!("B-CIT-{i:04}"), student, City, yuan(1_500));
        if i < 180 {
            pay(l, format!("B-PRV-{i:04}"), student, Province, yuan(2_370));
        }
    }
}

fn record_housing(l: &mut Ledger) {
    l.open_fund("SM-2021-HOUSING", "FJ-SM", Programme::Housing);
    l.fund_cash("SM-2021-HOUSING", Province, yuan(320_000));
    l.fund_cash("SM-2021-HOUSING", City, yuan(280_000));
    l.fund_cash("SM-2021-HOUSING", County, yuan(320_000));
    let households = register_many(
        l,
        "HOU",
        16,
        BeneficiaryKind::Household,
        BeneficiaryCategory::PoorHousehold,
    );
    for (i, household) in households.iter().enumerate() {
        let id = award(&format!("H21-{i:02}"));
        l.today = day(2021, 5, 10);
        l.ok(Command::AwardHousingGrant {
            award: id.clone(),
            fund: fund("SM-2021-HOUSING"),
            beneficiary: person(household),
            amount: yuan(57_500),
            shares: split(&[
                (Province, yuan(20_000)),
                (City, yuan(17_500)),
                (County, yuan(20_000)),
            ]),
        });
        l.ok(Command::PayHousingInstalment(HousingInstalment {
            award: id.clone(),
            amount: yuan(37_500),
            shares: split(&[(Province, yuan(20_000)), (City, yuan(17_500))]),
        }));
        l.today = day(2021, 9, 15);
        l.ok(Command::PayHousingInstalment(HousingInstalment {
            award: id,
            amount: yuan(20_000),
            shares: one_tier(County, yuan(20_000)),
        }));
    }
}

fn record_insurance(l: &mut Ledger) {
    // 2020: the same line's after-tax premium income was ¥8,475,848.16.
    l.today = day(2020, 1, 10);
    l.open_fund_with(
        "SM-2020-INSURANCE",
        "FJ-SM",
        Programme::Insurance,
        None,
        Some(InsuranceModel::InsurerUnderwritten),
    );
    l.fund_cash("SM-2020-INSURANCE", City, amount("8,984,399.05"));
    l.ok(Command::CollectPremium(PremiumPayment {
        fund: fund("SM-2020-INSURANCE"),
        line: PolicyLine::HouseholdAccident,
        coverage_start: day(2020, 1, 1),
        coverage_end: day(2020, 12, 31),
        households: 105_000,
        persons: 315_000,
        tax_inclusive: amount("8984399.05"),
        tax_exclusive: amount("8475848.16"),
        shares: one_tier(City, amount("8984399.05")),
    }));
    // 2021: premiums co-funded by three tiers and the households' own ¥10 each.
    l.today = day(2021, 1, 8);
    l.open_fund_with(
        "SM-2021-INSURANCE",
        "FJ-SM",
        Programme::Insurance,
        None,
        Some(InsuranceModel::InsurerUnderwritten),
    );
    l.fund_cash("SM-2021-INSURANCE", Province, amount("3,052,504.00"));
    l.fund_cash("SM-2021-INSURANCE", City, yuan(3_000_000));
    l.fund_cash("SM-2021-INSURANCE", County, yuan(3_000_000));
    l.ok(Command::CollectPremium(PremiumPayment {
        fund: fund("SM-2021-INSURANCE"),
        line: PolicyLine::HouseholdAccident,
        coverage_start: day(2021, 1, 1),
        coverage_end: day(2021, 12, 31),
        households: 119_600,
        persons: 358_800,
        tax_inclusive: amount("10,248,504.00"),
        tax_exclusive: amount("966.84万"),
        shares: split(&[
            (Province, amount("3052504")),
            (City, yuan(3_000_000)),
            (County, yuan(3_000_000)),
            (HouseholdContribution, yuan(1_196_000)),
        ]),
    }));
    // 1,234 claims paid by the insurer: 1,233 of ¥5,730.00 and one of ¥5,410.92.
    let families = register_many(
        l,
        "INS",
        600,
        BeneficiaryKind::Household,
        BeneficiaryCategory::SpecialFamily,
    );
    l.today = day(2021, 12, 20);
    for i in 0..1_234usize {
        let a = if i == 1_233 {
            amount("5410.92")
        } else {
            yuan(5_730)
        };
        l.ok(Command::PayClaim(ClaimPayment {
            fund: fund("SM-2021-INSURANCE"),
            line: PolicyLine::HouseholdAccident,
            beneficiary: person(&families[i % families.len()]),
            amount: a,
            payer: ClaimPayer::Insurer,
        }));
    }
}

fn record_condolence(l: &mut Ledger) {
    l.today = day(2021, 1, 20);
    l.open_fund("SM-2021-CONDOLENCE", "FJ-SM", Programme::Condolence);
    l.fund_cash("SM-2021-CONDOLENCE", City, amount("22.46万"));
    let households = register_many(
        l,
        "CON",
        394,
        BeneficiaryKind::Household,
        BeneficiaryCategory::PoorHousehold,
    );
    let campaign = CampaignId::new("SM-2021-SPRING").unwrap();
    l.ok(Command::OpenCampaign {
        campaign: campaign.clone(),
        fund: fund("SM-2021-CONDOLENCE"),
        name: "两节慰问 2021".into(),
    });
    l.today = day(2021, 2, 5);
    for (i, household) in households.iter().enumerate() {
        let a = if i == 393 { yuan(590) } else { yuan(570) };
        l.ok(Command::PayCondolence(CondolencePayment {
            campaign: campaign.clone(),
            beneficiary: person(household),
            category: BeneficiaryCategory::PoorHousehold,
            form: CondolenceForm::Cash,
            amount: a,
            shares: one_tier(City, a),
        }));
    }
}

#[test]
fn insurance_report_gives_loss_ratio_73_13_and_premium_growth_14_07() {
    let mut l = sanming();
    record_insurance(&mut l);
    let report = l
        .projections
        .insurance
        .report(&unit("FJ-SM"), PolicyLine::HouseholdAccident, year_2021())
        .unwrap();
    let f = &report.figures;
    assert_eq!(f.premium_tax_exclusive, money("9668400.00"));
    assert_eq!(f.premium_tax_exclusive.to_string(), "¥9,668,400.00");
    assert_eq!(f.premium_tax_inclusive, money("10248504.00"));
    assert_eq!(f.households, 119_600);
    assert_eq!(f.persons, 358_800);
    assert_eq!(f.claims_count, 1_234);
    assert_eq!(f.claims_paid, money("7070500.92"));
    assert_eq!(f.claims_paid_by_insurer, money("7070500.92"));
    assert_eq!(f.simple_loss_ratio.value.unwrap().to_string(), "73.13%");
    assert_eq!(f.simple_loss_ratio.formula, SIMPLE_LOSS_RATIO_FORMULA);
    // No reserve was estimated: the incurred ratio is absent, not 0%.
    assert_eq!(f.incurred_loss_ratio, None);
    assert_eq!(
        report.last_year_figures.premium_tax_exclusive,
        money("8475848.16")
    );
    assert_eq!(report.premium_growth.value.unwrap().to_string(), "14.07%");
    assert!(report.premium_growth.formula.starts_with("同比增长"));
    // The funds are the city's own; the counties hold none.
    assert_eq!(report.own, report.figures);
    assert_eq!(report.children.len(), 3);
    assert!(report.children.iter().all(|c| c.figures.claims_count == 0));
    // The province rolls the city up.
    let province = l
        .projections
        .insurance
        .report(&unit("FJ"), PolicyLine::HouseholdAccident, year_2021())
        .unwrap();
    assert_eq!(province.figures, report.figures);
    assert_eq!(province.children[0].unit, unit("FJ-SM"));
    assert_eq!(province.children[0].figures, report.figures);
}

#[test]
fn programme_report_gives_642_students_and_2_031_600_of_bursaries() {
    let mut l = sanming();
    record_bursaries(&mut l);
    let report = l
        .projections
        .programmes
        .report(&unit("FJ-SM"), year_2021())
        .unwrap();
    let bursary = row(&report, Programme::Bursary);
    assert_eq!(bursary.disbursed, money("2031600.00"));
    assert_eq!(bursary.paid_to_beneficiaries, money("2031600.00"));
    assert_eq!(bursary.helped.students, 642);
    assert_eq!(bursary.helped.beneficiaries, 642);
    assert_eq!(bursary.helped.persons, 642);
    assert_eq!(bursary.helped.households, 0);
    // ¥2,031,600.00 ÷ 642 = ¥3,164.485… → ¥3,164.49.
    assert_eq!(bursary.average_per_beneficiary, Some(money("3164.49")));
    assert_eq!(
        bursary.budget_execution_rate.unwrap().to_string(),
        "100.00%"
    );
    let tiers: Vec<(FundingTier, String)> = bursary
        .by_tier
        .iter()
        .map(|t| (t.tier, t.disbursed.to_string()))
        .collect();
    assert_eq!(
        tiers,
        vec![
            (Province, "¥426,600.00".to_owned()),
            (City, "¥963,000.00".to_owned()),
            (County, "¥642,000.00".to_owned()),
        ]
    );
}

#[test]
fn programme_report_gives_16_households_and_920_000_of_housing_with_each_tiers_share() {
    let mut l = sanming();
    record_housing(&mut l);
    let report = l
        .projections
        .programmes
        .report(&unit("FJ-SM"), year_2021())
        .unwrap();
    let housing = row(&report, Programme::Housing);
    assert_eq!(housing.disbursed, money("920000.00"));
    assert_eq!(housing.helped.households, 16);
    assert_eq!(housing.helped.beneficiaries, 16);
    assert_eq!(housing.average_per_beneficiary, Some(money("57500.00")));
    let shares: Vec<(FundingTier, String, String)> = housing
        .by_tier
        .iter()
        .map(|t| {
            (
                t.tier,
                t.disbursed.to_string(),
                t.share_of_disbursed.unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        shares,
        vec![
            (Province, "¥320,000.00".to_owned(), "34.78%".to_owned()),
            (City, "¥280,000.00".to_owned(), "30.43%".to_owned()),
            (County, "¥320,000.00".to_owned(), "34.78%".to_owned()),
        ]
    );
    assert!(housing
        .by_tier
        .iter()
        .all(|t| t.arrival_rate.unwrap().to_string() == "100.00%"));
}

#[test]
fn revolving_loans_lend_6_168_000_to_337_households() {
    let mut l = sanming();
    record_revolving_loans(&mut l);
    let report = l
        .projections
        .programmes
        .report(&unit("FJ-SM"), year_2021())
        .unwrap();
    let revolving = row(&report, Programme::RevolvingFund);
    assert_eq!(revolving.disbursed, money("6168000.00"));
    assert_eq!(revolving.disbursed.wan(), "616.80万元");
    assert_eq!(revolving.paid_to_beneficiaries, money("6168000.00"));
    assert_eq!(revolving.helped.households, 337);
    assert_eq!(revolving.helped.migrants, 34);
    let loans = l
        .projections
        .loans
        .fund_report(&fund("SM-2021-REVOLVING"), day(2021, 4, 1))
        .unwrap();
    assert_eq!(loans.loans, 337);
    assert_eq!(loans.borrowers, 337);
    assert_eq!(loans.disbursed, money("6168000.00"));
    assert_eq!(loans.outstanding, money("6168000.00"));
    assert_eq!(loans.revolving_rounds.unwrap().to_string(), "1.00");
    let balance = l
        .projections
        .fund_ledger
        .balance(&fund("SM-2021-REVOLVING"))
        .unwrap();
    assert_eq!(balance.lent, money("6168000.00"));
    assert_eq!(balance.available, money("0.00"));
}

#[test]
fn the_whole_year_rolls_up_into_one_report_and_equals_a_rebuild() {
    let mut l = sanming();
    record_revolving_loans(&mut l);
    record_bursaries(&mut l);
    record_housing(&mut l);
    record_insurance(&mut l);
    record_condolence(&mut l);
    let report = l
        .projections
        .programmes
        .report(&unit("FJ"), year_2021())
        .unwrap();
    let condolence = row(&report, Programme::Condolence);
    assert_eq!(condolence.disbursed, money("224600.00"));
    assert_eq!(condolence.helped.households, 394);
    assert_eq!(row(&report, Programme::Bursary).helped.students, 642);
    assert_eq!(row(&report, Programme::Housing).helped.households, 16);
    assert_eq!(
        row(&report, Programme::RevolvingFund).helped.households,
        337
    );
    // Insurance money paid out is the funding tiers' premium share; families helped are
    // the distinct claimants.
    let insurance = row(&report, Programme::Insurance);
    assert_eq!(insurance.disbursed, money("9052504.00"));
    assert_eq!(insurance.helped.households, 600);
    assert_eq!(insurance.paid_to_beneficiaries, money("7070500.92"));
    assert_eq!(insurance.funds, 2);
    // Every fund's balance equals the domain's, and a rebuild equals the incremental fold.
    for (id, _) in l.state.funds() {
        let view = l.projections.fund_ledger.balance(id).unwrap();
        assert_same_balance(&view, &l.state.fund_balance(id).unwrap(), id.as_str());
    }
    assert!(l.projections == l.rebuild());
    assert_eq!(l.projections.audit.len(), l.log.len() as u64);
    assert_eq!(
        l.projections.fund_ledger.next_position(),
        l.log.len() as u64
    );
}
