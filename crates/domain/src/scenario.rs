//! The Sanming 2021 reference scenario from shared/domain.md as a list of commands,
//! so that every layer (engine, projections, benchmarks, the demo) records exactly
//! the same figures: revolving loans ¥6,168,000.00 to 337 households, bursaries
//! ¥2,031,600.00 to 642 students from three tiers, housing ¥920,000.00 to 16
//! households from three tiers, accident-insurance premiums ¥9,668,400.00 after tax
//! (2020: ¥8,475,848.16) with claims ¥7,070,500.92, and condolence ¥224,600.00 to 394
//! households.

use chrono::NaiveDate;

use crate::catalogue::{
    BeneficiaryCategory, BeneficiaryKind, ClaimPayer, CondolenceForm, FundingTier, InsuranceModel,
    PolicyLine, Programme, TierSplit, UnitLevel, VisitOutcome,
};
use crate::command::{
    BursaryInstalment, ClaimPayment, Command, CondolencePayment, HousingInstalment,
    LoanDisbursement, PremiumPayment,
};
use crate::ids::{AwardId, BeneficiaryId, CampaignId, FundId, LoanId, UnitCode, UserId};
use crate::money::Amount;

/// One command of a scenario, with who issues it and its business date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub command: Command,
    pub actor: UserId,
    pub effective_date: NaiveDate,
}

/// The counties of Sanming used by the scenario (beneficiaries are spread over them).
pub const SANMING_COUNTIES: [&str; 3] = ["FJ-SM-SX", "FJ-SM-YA", "FJ-SM-MX"];

/// Fund ids of the scenario, by programme.
pub const SANMING_REVOLVING: &str = "SM-2021-REVOLVING";
pub const SANMING_BURSARY: &str = "SM-2021-BURSARY";
pub const SANMING_HOUSING: &str = "SM-2021-HOUSING";
pub const SANMING_INSURANCE_2020: &str = "SM-2020-INSURANCE";
pub const SANMING_INSURANCE_2021: &str = "SM-2021-INSURANCE";
pub const SANMING_CONDOLENCE: &str = "SM-2021-CONDOLENCE";

/// Builds steps; fixed strings are valid by construction, so the `expect`s cannot fire.
struct Builder {
    steps: Vec<Step>,
    actor: UserId,
    date: NaiveDate,
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid calendar date")
}

fn yuan(text: &str) -> Amount {
    Amount::parse(text).expect("a valid amount")
}

fn fund(id: &str) -> FundId {
    FundId::new(id).expect("a valid fund id")
}

fn unit(code: &str) -> UnitCode {
    UnitCode::new(code).expect("a valid unit code")
}

fn beneficiary(id: &str) -> BeneficiaryId {
    BeneficiaryId::new(id).expect("a valid beneficiary id")
}

fn split(pairs: &[(FundingTier, Amount)]) -> TierSplit {
    TierSplit::of(pairs).expect("shares that add up")
}

impl Builder {
    fn on(&mut self, date: NaiveDate) -> &mut Self {
        self.date = date;
        self
    }

    fn run(&mut self, command: Command) {
        self.steps.push(Step {
            command,
            actor: self.actor.clone(),
            effective_date: self.date,
        });
    }

    fn open_fund(&mut self, id: &str, programme: Programme, year: i32) {
        let insurance_model =
            (programme == Programme::Insurance).then_some(InsuranceModel::InsurerUnderwritten);
        self.run(Command::OpenFund {
            fund: fund(id),
            unit: unit("FJ-SM"),
            programme,
            name: format!("三明市 {id}"),
            fiscal_year: Some(year),
            approval_threshold: None,
            insurance_model,
        });
    }

    fn fund_cash(&mut self, id: &str, tier: FundingTier, amount: Amount) {
        self.run(Command::CommitAppropriation {
            fund: fund(id),
            tier,
            amount,
            reference: Some(format!("{id} {tier:?} appropriation")),
        });
        self.run(Command::ReceiveAppropriation {
            fund: fund(id),
            tier,
            amount,
            reference: None,
        });
    }

    fn register(
        &mut self,
        prefix: &str,
        count: usize,
        kind: BeneficiaryKind,
        category: BeneficiaryCategory,
    ) -> Vec<String> {
        (0..count)
            .map(|i| {
                let id = format!("{prefix}-{i:04}");
                self.run(Command::RegisterBeneficiary {
                    beneficiary: beneficiary(&id),
                    unit: unit(SANMING_COUNTIES[i % 3]),
                    kind,
                    categories: [category].into_iter().collect(),
                });
                id
            })
            .collect()
    }
}

/// The whole Sanming 2021 scenario, in the order a finance office would record it.
pub fn sanming_2021() -> Vec<Step> {
    use FundingTier::{City, County, HouseholdContribution, Province};
    let mut b = Builder {
        steps: Vec::new(),
        actor: UserId::new("clerk-sanming").expect("a valid user id"),
        date: day(2020, 1, 2),
    };
    b.run(Command::RegisterUnit {
        unit: unit("FJ"),
        name: "福建省计生协".into(),
        level: UnitLevel::Province,
        parent: None,
    });
    b.run(Command::RegisterUnit {
        unit: unit("FJ-SM"),
        name: "三明市计生协".into(),
        level: UnitLevel::City,
        parent: Some(unit("FJ")),
    });
    for (code, name) in SANMING_COUNTIES.iter().zip(["沙县区", "永安市", "明溪县"]) {
        b.run(Command::RegisterUnit {
            unit: unit(code),
            name: format!("{name}计生协"),
            level: UnitLevel::County,
            parent: Some(unit("FJ-SM")),
        });
    }

    // Insurance 2020: after-tax premium income ¥8,475,848.16, the base of the growth.
    b.on(day(2020, 1, 10));
    b.open_fund(SANMING_INSURANCE_2020, Programme::Insurance, 2020);
    b.fund_cash(SANMING_INSURANCE_2020, City, yuan("8984399.05"));
    b.run(Command::CollectPremium(PremiumPayment {
        fund: fund(SANMING_INSURANCE_2020),
        line: PolicyLine::HouseholdAccident,
        coverage_start: day(2020, 1, 1),
        coverage_end: day(2020, 12, 31),
        households: 105_000,
        persons: 315_000,
        tax_inclusive: yuan("8984399.05"),
        tax_exclusive: yuan("8475848.16"),
        shares: split(&[(City, yuan("8984399.05"))]),
    }));

    // Revolving funds: 616.8万 to 337 households (336 × ¥18,300 and one ¥19,200).
    b.on(day(2021, 1, 4));
    b.open_fund(SANMING_REVOLVING, Programme::RevolvingFund, 2021);
    b.fund_cash(SANMING_REVOLVING, City, yuan("616.8万"));
    let households = b.register(
        "REV",
        337,
        BeneficiaryKind::Household,
        BeneficiaryCategory::PoorHousehold,
    );
    b.on(day(2021, 4, 1));
    for (i, household) in households.iter().enumerate() {
        let principal = if i == 336 { "19200" } else { "18300" };
        b.run(Command::DisburseLoan(LoanDisbursement {
            loan: LoanId::new(format!("SM21-L{i:04}")).expect("a valid loan id"),
            fund: fund(SANMING_REVOLVING),
            beneficiary: beneficiary(household),
            tier: City,
            principal: yuan(principal),
            term_months: 24,
            grace_months: 0,
            annual_rate_bp: 0,
            batch: Some("2021年第一批".into()),
            migrant: i % 10 == 0,
        }));
    }

    // Bursaries: ¥2,031,600.00 to 642 students; county ¥1,000 and city ¥1,500 each,
    // province ¥2,370 for 180 of them.
    b.on(day(2021, 1, 4));
    b.open_fund(SANMING_BURSARY, Programme::Bursary, 2021);
    b.fund_cash(SANMING_BURSARY, Province, yuan("426,600.00"));
    b.fund_cash(SANMING_BURSARY, City, yuan("963,000.00"));
    b.fund_cash(SANMING_BURSARY, County, yuan("642,000.00"));
    let students = b.register(
        "STU",
        642,
        BeneficiaryKind::Person,
        BeneficiaryCategory::Student,
    );
    b.on(day(2021, 8, 20));
    for (i, student) in students.iter().enumerate() {
        let mut awards = vec![(County, "1000", "CTY"), (City, "1500", "CIT")];
        if i < 180 {
            awards.push((Province, "2370", "PRV"));
        }
        for (tier, amount, tag) in awards {
            let award = AwardId::new(format!("B-{tag}-{i:04}")).expect("a valid award id");
            b.run(Command::AwardBursary {
                award: award.clone(),
                fund: fund(SANMING_BURSARY),
                student: beneficiary(student),
                academic_year: 2021,
                tier,
                amount: yuan(amount),
                years: 1,
                supplement_reason: None,
            });
            b.run(Command::PayBursaryInstalment(BursaryInstalment {
                award,
                amount: yuan(amount),
            }));
        }
    }

    // Housing: ¥920,000.00 to 16 households, ¥57,500 each from three tiers, paid in
    // two instalments, each family visited afterwards.
    b.on(day(2021, 1, 4));
    b.open_fund(SANMING_HOUSING, Programme::Housing, 2021);
    b.fund_cash(SANMING_HOUSING, Province, yuan("320000"));
    b.fund_cash(SANMING_HOUSING, City, yuan("280000"));
    b.fund_cash(SANMING_HOUSING, County, yuan("320000"));
    let homes = b.register(
        "HOU",
        16,
        BeneficiaryKind::Household,
        BeneficiaryCategory::PoorHousehold,
    );
    for (i, home) in homes.iter().enumerate() {
        let award = AwardId::new(format!("H21-{i:02}")).expect("a valid award id");
        b.on(day(2021, 5, 10));
        b.run(Command::AwardHousingGrant {
            award: award.clone(),
            fund: fund(SANMING_HOUSING),
            beneficiary: beneficiary(home),
            amount: yuan("57500"),
            shares: split(&[
                (Province, yuan("20000")),
                (City, yuan("17500")),
                (County, yuan("20000")),
            ]),
        });
        b.run(Command::PayHousingInstalment(HousingInstalment {
            award: award.clone(),
            amount: yuan("37500"),
            shares: split(&[(Province, yuan("20000")), (City, yuan("17500"))]),
        }));
        b.on(day(2021, 9, 15));
        b.run(Command::PayHousingInstalment(HousingInstalment {
            award: award.clone(),
            amount: yuan("20000"),
            shares: split(&[(County, yuan("20000"))]),
        }));
        b.run(Command::RecordFollowUpVisit {
            award,
            outcome: VisitOutcome::Completed,
        });
    }

    // Insurance 2021: premiums 1,024.8504万 with tax, 966.84万 after tax, from three
    // tiers and the households' own ¥10 each; 1,234 claims paid by the insurer.
    b.on(day(2021, 1, 8));
    b.open_fund(SANMING_INSURANCE_2021, Programme::Insurance, 2021);
    b.fund_cash(SANMING_INSURANCE_2021, Province, yuan("3,052,504.00"));
    b.fund_cash(SANMING_INSURANCE_2021, City, yuan("3000000"));
    b.fund_cash(SANMING_INSURANCE_2021, County, yuan("3000000"));
    b.run(Command::CollectPremium(PremiumPayment {
        fund: fund(SANMING_INSURANCE_2021),
        line: PolicyLine::HouseholdAccident,
        coverage_start: day(2021, 1, 1),
        coverage_end: day(2021, 12, 31),
        households: 119_600,
        persons: 358_800,
        tax_inclusive: yuan("10,248,504.00"),
        tax_exclusive: yuan("966.84万"),
        shares: split(&[
            (Province, yuan("3052504")),
            (City, yuan("3000000")),
            (County, yuan("3000000")),
            (HouseholdContribution, yuan("1196000")),
        ]),
    }));
    let insured = b.register(
        "INS",
        600,
        BeneficiaryKind::Household,
        BeneficiaryCategory::SpecialFamily,
    );
    b.on(day(2021, 12, 20));
    for i in 0..1_234usize {
        let amount = if i == 1_233 { "5410.92" } else { "5730" };
        b.run(Command::PayClaim(ClaimPayment {
            fund: fund(SANMING_INSURANCE_2021),
            line: PolicyLine::HouseholdAccident,
            beneficiary: beneficiary(&insured[i % insured.len()]),
            amount: yuan(amount),
            payer: ClaimPayer::Insurer,
        }));
    }

    // Condolence at the Spring Festival: 22.46万 to 394 households.
    b.on(day(2021, 1, 4));
    b.open_fund(SANMING_CONDOLENCE, Programme::Condolence, 2021);
    b.fund_cash(SANMING_CONDOLENCE, City, yuan("22.46万"));
    let poor = b.register(
        "CON",
        394,
        BeneficiaryKind::Household,
        BeneficiaryCategory::PoorHousehold,
    );
    let campaign = CampaignId::new("SM-2021-SPRING").expect("a valid campaign id");
    b.run(Command::OpenCampaign {
        campaign: campaign.clone(),
        fund: fund(SANMING_CONDOLENCE),
        name: "两节慰问 2021".into(),
    });
    b.on(day(2021, 2, 5));
    for (i, household) in poor.iter().enumerate() {
        let amount = yuan(if i == 393 { "590" } else { "570" });
        let form = if i % 2 == 0 {
            CondolenceForm::Cash
        } else {
            CondolenceForm::Goods {
                description: "大米和食用油".into(),
            }
        };
        b.run(Command::PayCondolence(CondolencePayment {
            campaign: campaign.clone(),
            beneficiary: beneficiary(household),
            category: BeneficiaryCategory::PoorHousehold,
            form,
            amount,
            shares: split(&[(City, amount)]),
        }));
    }
    b.steps
}
