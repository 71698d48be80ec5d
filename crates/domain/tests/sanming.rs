//! Proves the Sanming 2021 reference figures from shared/domain.md reproduce exactly when recorded through `decide` and `evolve`: revolving loans, bursaries, housing grants across three tiers, insurance premiums, claims, loss ratio and year-on-year growth, and condolence payments.

mod common;

use std::collections::BTreeSet;

use common::*;
use ledger_domain::rates::{simple_loss_ratio, year_on_year_growth};
use ledger_domain::{
    AwardId, BeneficiaryCategory, BeneficiaryKind, BursaryInstalment, CampaignId, ClaimPayer,
    ClaimPayment, Command, CondolenceForm, CondolencePayment, Event, FundingTier,
    HousingInstalment, InsuranceModel, Money, PolicyLine, PremiumPayment, Programme, UnitLevel,
};

use FundingTier::{City, County, HouseholdContribution, Province};

const COUNTIES: [&str; 3] = ["FJ-SM-SX", "FJ-SM-YA", "FJ-SM-MX"];

fn sanming() -> Ledger {
    let mut l = Ledger::new();
    l.today = Some(day(2021, 1, 4));
    l.register_unit("FJ", UnitLevel::Province, None);
    l.register_unit("FJ-SM", UnitLevel::City, Some("FJ"));
    for county in COUNTIES {
        l.register_unit(county, UnitLevel::County, Some("FJ-SM"));
    }
    l
}

fn register_many(l: &mut Ledger, prefix: &str, count: usize, kind: BeneficiaryKind) -> Vec<String> {
    (0..count)
        .map(|i| {
            let id = format!("{prefix}-{i:04}");
            l.register_beneficiary(&id, COUNTIES[i % 3], kind);
            id
        })
        .collect()
}

fn distinct_beneficiaries(l: &Ledger, pick: impl Fn(&Event) -> Option<String>) -> usize {
    l.log
        .iter()
        .filter_map(|r| pick(&r.event))
        .collect::<BTreeSet<_>>()
        .len()
}

#[test]
fn revolving_funds_lend_6_168_000_to_337_households() {
    let mut l = sanming();
    l.open_fund("SM-2021-REVOLVING", "FJ-SM", Programme::RevolvingFund, None);
    l.fund_cash("SM-2021-REVOLVING", City, amount("616.8万"));
    let households = register_many(&mut l, "REV", 337, BeneficiaryKind::Household);
    l.today = Some(day(2021, 4, 1));
    for (i, household) in households.iter().enumerate() {
        // 336 loans of ¥18,300.00 and one of ¥19,200.00.
        let principal = if i == 336 { yuan(19_200) } else { yuan(18_300) };
        l.ok(Command::DisburseLoan(loan(
            &format!("SM21-L{i:04}"),
            "SM-2021-REVOLVING",
            household,
            principal,
            24,
        )));
    }
    let balance = l.state.fund_balance(&fund("SM-2021-REVOLVING")).unwrap();
    assert_eq!(balance.lent, money("6168000.00"));
    assert_eq!(balance.loans_outstanding, money("6168000.00"));
    assert_eq!(balance.available, Money::ZERO);
    assert_eq!(balance.lent.wan(), "616.80万元");
    assert_eq!(balance.revolving_rounds().unwrap().to_string(), "1.00");
    let borrowers = distinct_beneficiaries(&l, |e| match e {
        Event::LoanDisbursed(d) => Some(d.beneficiary.to_string()),
        _ => None,
    });
    assert_eq!(borrowers, 337);
    assert!(common::account_balances(l.log.iter().map(|r| &r.event))
        .values()
        .copied()
        .sum::<Money>()
        .is_zero());
}

#[test]
fn bursaries_pay_2_031_600_to_642_students_from_three_tiers() {
    let mut l = sanming();
    l.open_fund("SM-2021-BURSARY", "FJ-SM", Programme::Bursary, None);
    l.fund_cash("SM-2021-BURSARY", Province, amount("426,600.00"));
    l.fund_cash("SM-2021-BURSARY", City, amount("963,000.00"));
    l.fund_cash("SM-2021-BURSARY", County, amount("642,000.00"));
    let students = register_many(&mut l, "STU", 642, BeneficiaryKind::Person);
    l.today = Some(day(2021, 8, 20));
    let pay = |l: &mut Ledger, id: String, student: &str, tier: FundingTier, a| {
        l.ok(Command::AwardBursary {
            award: AwardId::new(&id).unwrap(),
            fund: fund("SM-2021-BURSARY"),
            student: person(student),
            academic_year: 2021,
            tier,
            amount: a,
            years: 1,
            supplement_reason: None,
        });
        l.ok(Command::PayBursaryInstalment(BursaryInstalment {
            award: AwardId::new(&id).unwrap(),
            amount: a,
        }));
    };
    for (i, student) in students.iter().enumerate() {
        pay(
            &mut l,
            format!("B-CTY-{i:04}"),
            student,
            County,
            yuan(1_000),
        );
        pay(&mut l, format!("B-CIT-{i:04}"), student, City, yuan(1_500));
        if i < 180 {
            pay(
                &mut l,
                format!("B-PRV-{i:04}"),
                student,
                Province,
                yuan(2_370),
            );
        }
    }
    let f = l.state.fund(&fund("SM-2021-BURSARY")).unwrap();
    let balance = f.balance();
    assert_eq!(balance.disbursed, money("2031600.00"));
    assert_eq!(balance.disbursed.to_string(), "¥2,031,600.00");
    assert_eq!(f.tier(Province).disbursed(), money("426600"));
    assert_eq!(f.tier(City).disbursed(), money("963000"));
    assert_eq!(f.tier(County).disbursed(), money("642000"));
    assert_eq!(balance.available, Money::ZERO);
    assert_eq!(
        balance.budget_execution_rate().unwrap().to_string(),
        "100.00%"
    );
    let paid_students = distinct_beneficiaries(&l, |e| match e {
        Event::BursaryInstalmentPaid { student, .. } => Some(student.to_string()),
        _ => None,
    });
    assert_eq!(paid_students, 642);
}

#[test]
fn housing_grants_pay_920_000_to_16_households_across_three_tiers() {
    let mut l = sanming();
    l.open_fund("SM-2021-HOUSING", "FJ-SM", Programme::Housing, None);
    l.fund_cash("SM-2021-HOUSING", Province, yuan(320_000));
    l.fund_cash("SM-2021-HOUSING", City, yuan(280_000));
    l.fund_cash("SM-2021-HOUSING", County, yuan(320_000));
    let households = register_many(&mut l, "HOU", 16, BeneficiaryKind::Household);
    for (i, household) in households.iter().enumerate() {
        let award = AwardId::new(format!("H21-{i:02}")).unwrap();
        l.today = Some(day(2021, 5, 10));
        l.ok(Command::AwardHousingGrant {
            award: award.clone(),
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
            award: award.clone(),
            amount: yuan(37_500),
            shares: split(&[(Province, yuan(20_000)), (City, yuan(17_500))]),
        }));
        l.today = Some(day(2021, 9, 15));
        l.ok(Command::PayHousingInstalment(HousingInstalment {
            award: award.clone(),
            amount: yuan(20_000),
            shares: one_tier(County, yuan(20_000)),
        }));
        l.ok(Command::RecordFollowUpVisit {
            award,
            outcome: ledger_domain::VisitOutcome::Completed,
        });
    }
    let f = l.state.fund(&fund("SM-2021-HOUSING")).unwrap();
    assert_eq!(f.balance().disbursed, money("920000.00"));
    assert_eq!(f.tier(Province).disbursed(), money("320000.00"));
    assert_eq!(f.tier(City).disbursed(), money("280000.00"));
    assert_eq!(f.tier(County).disbursed(), money("320000.00"));
    let families = distinct_beneficiaries(&l, |e| match e {
        Event::HousingInstalmentPaid { beneficiary, .. } => Some(beneficiary.to_string()),
        _ => None,
    });
    assert_eq!(families, 16);
}

#[test]
fn insurance_premiums_9_668_400_claims_7_070_500_92_loss_ratio_73_13_and_growth_14_07() {
    let mut l = sanming();
    // 2020: the same line's after-tax premium income was ¥8,475,848.16.
    l.today = Some(day(2020, 1, 10));
    l.open_fund_with_model(
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
    l.today = Some(day(2021, 1, 8));
    l.open_fund_with_model(
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
    let families = register_many(&mut l, "INS", 600, BeneficiaryKind::Household);
    let insurance_cash_before = l.state.fund_balance(&fund("SM-2021-INSURANCE")).unwrap();
    l.today = Some(day(2021, 12, 20));
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
    let f2021 = l.state.fund(&fund("SM-2021-INSURANCE")).unwrap();
    let t2021 = *f2021.insurance(PolicyLine::HouseholdAccident).unwrap();
    let t2020 = *l
        .state
        .fund(&fund("SM-2020-INSURANCE"))
        .unwrap()
        .insurance(PolicyLine::HouseholdAccident)
        .unwrap();
    assert_eq!(t2021.premium_tax_exclusive(), money("9668400.00"));
    assert_eq!(t2021.premium_tax_inclusive(), money("10248504.00"));
    assert_eq!(t2021.households(), 119_600);
    assert_eq!(t2021.claims_count(), 1_234);
    assert_eq!(t2021.claims_paid(), money("7070500.92"));
    assert_eq!(t2021.simple_loss_ratio().unwrap().to_string(), "73.13%");
    assert_eq!(
        simple_loss_ratio(t2021.claims_paid(), t2021.premium_tax_exclusive())
            .unwrap()
            .value()
            .to_string(),
        "73.13"
    );
    let growth =
        year_on_year_growth(t2021.premium_tax_exclusive(), t2020.premium_tax_exclusive()).unwrap();
    assert_eq!(growth.to_string(), "14.07%");
    // The insurer paid the claims: the fund's cash did not move, and its tiers were
    // charged only their premium shares.
    assert_eq!(f2021.balance(), insurance_cash_before);
    assert_eq!(f2021.balance().available, Money::ZERO);
    assert_eq!(f2021.household_contributions(), money("1196000"));
}

#[test]
fn condolence_payments_reach_394_households_with_224_600() {
    let mut l = sanming();
    l.open_fund("SM-2021-CONDOLENCE", "FJ-SM", Programme::Condolence, None);
    l.fund_cash("SM-2021-CONDOLENCE", City, amount("22.46万"));
    let households = register_many(&mut l, "CON", 394, BeneficiaryKind::Household);
    let campaign = CampaignId::new("SM-2021-SPRING").unwrap();
    l.ok(Command::OpenCampaign {
        campaign: campaign.clone(),
        fund: fund("SM-2021-CONDOLENCE"),
        name: "两节慰问 2021".into(),
    });
    l.today = Some(day(2021, 2, 5));
    for (i, household) in households.iter().enumerate() {
        let a = if i == 393 { yuan(590) } else { yuan(570) };
        let form = if i % 2 == 0 {
            CondolenceForm::Cash
        } else {
            CondolenceForm::Goods {
                description: "rice and cooking oil".into(),
            }
        };
        l.ok(Command::PayCondolence(CondolencePayment {
            campaign: campaign.clone(),
            beneficiary: person(household),
            category: BeneficiaryCategory::PoorHousehold,
            form,
            amount: a,
            shares: one_tier(City, a),
        }));
    }
    let balance = l.state.fund_balance(&fund("SM-2021-CONDOLENCE")).unwrap();
    assert_eq!(balance.disbursed, money("224600.00"));
    assert_eq!(balance.disbursed.wan(), "22.46万元");
}
