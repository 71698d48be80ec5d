//! The small ledger the exchange tests (and docs/examples/payments.csv) work on: the
//! province of Fujian and the city of Sanming, one fund of each programme with cash,
//! five households, a loan, a housing award, a bursary award and a condolence campaign.

#![allow(dead_code)] // each test file uses a different part

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use ledger_domain::{
    Amount, AwardId, BeneficiaryCategory, BeneficiaryId, BeneficiaryKind, BursaryInstalment,
    CampaignId, ClaimPayer, ClaimPayment, Command, CondolenceForm, CondolencePayment, FundId,
    FundingTier, GrantModality, GrantPayment, HousingInstalment, InsuranceModel, LoanDisbursement,
    LoanId, Period, PolicyLine, PremiumPayment, Programme, TierSplit, UnitCode, UnitLevel, UserId,
    VisitOutcome,
};
use ledger_engine::{Accepted, Engine, Submission};
use ledger_store::{Backend, FixedClock, HashAlgorithm, Log, MemoryBackend};

/// 2021-12-31 12:00 UTC: after every business date used here.
pub const NOW_MS: i64 = 1_640_952_000_000;

pub fn now() -> NaiveDateTime {
    chrono::DateTime::from_timestamp_millis(NOW_MS)
        .unwrap()
        .naive_utc()
}

pub fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(NOW_MS))
}

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn yuan(text: &str) -> Amount {
    Amount::parse_plain(text).unwrap()
}

pub fn user(id: &str) -> UserId {
    UserId::new(id).unwrap()
}

pub const REVOLVING: &str = "SM-2021-REV";
pub const HAPPINESS: &str = "SM-2021-HP";
pub const HOUSING: &str = "SM-2021-HOUSING";
pub const BURSARY: &str = "SM-2021-BURSARY";
pub const INSURANCE: &str = "SM-2021-INS";
pub const CONDOLENCE: &str = "SM-2021-COND";
/// City cash in the revolving fund (the loan of the setup takes 10,000.00 of it).
pub const REVOLVING_CASH: &str = "50000.00";

pub fn memory_engine(algorithm: HashAlgorithm) -> Engine<MemoryBackend> {
    let log = Log::create(MemoryBackend::new(), algorithm, clock()).unwrap();
    Engine::open(log, clock()).unwrap()
}

/// Submits `command` as the administrator on 2021-06-30.
pub fn run<B: Backend>(engine: &Engine<B>, id: &str, command: Command) -> Accepted {
    run_as(engine, id, "admin-sm", command)
}

/// Submits `command` as `actor` on 2021-06-30.
pub fn run_as<B: Backend>(engine: &Engine<B>, id: &str, actor: &str, command: Command) -> Accepted {
    engine
        .submit(Submission {
            command_id: id.to_string(),
            command,
            actor: user(actor),
            effective_date: day(2021, 6, 30),
            memo: "三明 2021".to_string(),
        })
        .unwrap_or_else(|e| panic!("setup command {id}: {e}"))
}

fn fund(id: &str) -> FundId {
    FundId::new(id).unwrap()
}

fn household(i: usize) -> BeneficiaryId {
    BeneficiaryId::new(format!("H{i:04}")).unwrap()
}

/// The ledger docs/examples/payments.csv is written for.
pub fn setup<B: Backend>(engine: &Engine<B>) {
    let mut n = 0;
    let mut go = |command: Command| {
        n += 1;
        run(engine, &format!("setup-{n}"), command);
    };
    go(Command::RegisterUnit {
        unit: UnitCode::new("FJ").unwrap(),
        name: "福建省".into(),
        level: UnitLevel::Province,
        parent: None,
    });
    // The clerk who imports payment files, for the whole province.
    go(Command::RegisterUser {
        user: user("clerk-0042"),
        role: ledger_domain::Role::Clerk,
        scope: Some(UnitCode::new("FJ").unwrap()),
    });
    go(Command::RegisterUnit {
        unit: UnitCode::new("FJ-SM").unwrap(),
        name: "三明市".into(),
        level: UnitLevel::City,
        parent: Some(UnitCode::new("FJ").unwrap()),
    });
    for (id, programme, model) in [
        (REVOLVING, Programme::RevolvingFund, None),
        (HAPPINESS, Programme::HappinessProject, None),
        (HOUSING, Programme::Housing, None),
        (BURSARY, Programme::Bursary, None),
        (
            INSURANCE,
            Programme::Insurance,
            Some(InsuranceModel::InsurerUnderwritten),
        ),
        (CONDOLENCE, Programme::Condolence, None),
    ] {
        go(Command::OpenFund {
            fund: fund(id),
            unit: UnitCode::new("FJ-SM").unwrap(),
            programme,
            name: format!("三明市 {id}"),
            fiscal_year: Some(2021),
            approval_threshold: None,
            insurance_model: model,
        });
        let cash = if id == REVOLVING {
            REVOLVING_CASH
        } else {
            "10000000.00"
        };
        for tier in [FundingTier::Province, FundingTier::City] {
            go(Command::CommitAppropriation {
                fund: fund(id),
                tier,
                amount: yuan(cash),
                reference: Some("2021 下达".into()),
            });
            go(Command::ReceiveAppropriation {
                fund: fund(id),
                tier,
                amount: yuan(cash),
                reference: None,
            });
        }
    }
    for i in 1..=5 {
        go(Command::RegisterBeneficiary {
            beneficiary: household(i),
            unit: UnitCode::new("FJ-SM").unwrap(),
            kind: BeneficiaryKind::Household,
            categories: Default::default(),
        });
    }
    go(Command::DisburseLoan(LoanDisbursement {
        loan: LoanId::new("L0001").unwrap(),
        fund: fund(REVOLVING),
        beneficiary: household(1),
        tier: FundingTier::City,
        principal: yuan("10000.00"),
        term_months: 24,
        grace_months: 0,
        annual_rate_bp: 0,
        batch: Some("第十六批".into()),
        migrant: false,
    }));
    go(Command::AwardHousingGrant {
        award: AwardId::new("SM-H-0001").unwrap(),
        fund: fund(HOUSING),
        beneficiary: household(2),
        amount: yuan("20000.00"),
        shares: TierSplit::of(&[
            (FundingTier::Province, yuan("5000.00")),
            (FundingTier::City, yuan("15000.00")),
        ])
        .unwrap(),
    });
    go(Command::AwardBursary {
        award: AwardId::new("SM-B-0001").unwrap(),
        fund: fund(BURSARY),
        student: household(3),
        academic_year: 2021,
        tier: FundingTier::City,
        amount: yuan("5000.00"),
        years: 1,
        supplement_reason: None,
    });
    go(Command::OpenCampaign {
        campaign: CampaignId::new("SM-2021-SPRING").unwrap(),
        fund: fund(CONDOLENCE),
        name: "2021 春节慰问".into(),
    });
}

/// Events with the amounts the CSV export must keep exactly: ¥0.01, the Sanming
/// 2021 premium income ¥9,668,400.00 and its claims ¥7,070,500.92.
pub fn exact_amounts<B: Backend>(engine: &Engine<B>) {
    run(
        engine,
        "amounts-1",
        Command::CommitAppropriation {
            fund: fund(REVOLVING),
            tier: FundingTier::Donation,
            amount: yuan("0.01"),
            reference: Some("一分钱捐赠".into()),
        },
    );
    run(
        engine,
        "amounts-2",
        Command::CollectPremium(PremiumPayment {
            fund: fund(INSURANCE),
            line: PolicyLine::HouseholdAccident,
            coverage_start: day(2021, 1, 1),
            coverage_end: day(2021, 12, 31),
            households: 120_000,
            persons: 360_000,
            tax_inclusive: yuan("9668400.00"),
            tax_exclusive: yuan("9668400.00"),
            shares: TierSplit::of(&[
                (FundingTier::Province, yuan("4834200.00")),
                (FundingTier::City, yuan("4834200.00")),
            ])
            .unwrap(),
        }),
    );
    run(
        engine,
        "amounts-3",
        Command::PayClaim(ClaimPayment {
            fund: fund(INSURANCE),
            line: PolicyLine::HouseholdAccident,
            beneficiary: household(4),
            amount: yuan("7070500.92"),
            payer: ClaimPayer::Insurer,
        }),
    );
}

/// After [`setup`] and [`exact_amounts`]: at least one event of every type the domain
/// has, for the verifier's payload decoder.
pub fn every_event_type<B: Backend>(engine: &Engine<B>) {
    let loan = || LoanId::new("L0001").unwrap();
    let go = |id: &str, command: Command| run(engine, id, command);
    go(
        "every-1",
        Command::RegisterBeneficiary {
            beneficiary: household(6),
            unit: UnitCode::new("FJ-SM").unwrap(),
            kind: BeneficiaryKind::Person,
            categories: [
                BeneficiaryCategory::Student,
                BeneficiaryCategory::PoorHousehold,
            ]
            .into_iter()
            .collect(),
        },
    );
    go(
        "every-2",
        Command::RepayLoan {
            loan: loan(),
            principal: yuan("1000.00"),
            interest: yuan("0.50"),
        },
    );
    go(
        "every-3",
        Command::RescheduleLoan {
            loan: loan(),
            term_months: 36,
            grace_months: 1,
            annual_rate_bp: 150,
        },
    );
    go(
        "every-4",
        Command::WriteOffLoan {
            loan: loan(),
            reason: "户主病故".into(),
        },
    );
    let grant = go(
        "every-5",
        Command::PayGrant(GrantPayment {
            fund: fund(HAPPINESS),
            beneficiary: household(5),
            modality: GrantModality::Health,
            batch: None,
            amount: yuan("1234.56"),
            shares: TierSplit::of(&[
                (FundingTier::Province, yuan("234.56")),
                (FundingTier::City, yuan("1000.00")),
            ])
            .unwrap(),
        }),
    );
    go(
        "every-6",
        Command::PayHousingInstalment(HousingInstalment {
            award: AwardId::new("SM-H-0001").unwrap(),
            amount: yuan("5000.00"),
            shares: TierSplit::single(FundingTier::City, yuan("5000.00")).unwrap(),
        }),
    );
    go(
        "every-7",
        Command::RecordFollowUpVisit {
            award: AwardId::new("SM-H-0001").unwrap(),
            outcome: VisitOutcome::InProgress,
        },
    );
    go(
        "every-8",
        Command::PayBursaryInstalment(BursaryInstalment {
            award: AwardId::new("SM-B-0001").unwrap(),
            amount: yuan("2500.00"),
        }),
    );
    go(
        "every-9",
        Command::PayCondolence(CondolencePayment {
            campaign: CampaignId::new("SM-2021-SPRING").unwrap(),
            beneficiary: household(3),
            category: BeneficiaryCategory::SpecialFamily,
            form: CondolenceForm::Goods {
                description: "大米和食用油".into(),
            },
            amount: yuan("300.00"),
            shares: TierSplit::single(FundingTier::Province, yuan("300.00")).unwrap(),
        }),
    );
    go(
        "every-10",
        Command::EstimateClaimsReserve {
            fund: fund(INSURANCE),
            line: PolicyLine::HospitalNursing,
            amount: yuan("88000.00"),
        },
    );
    go(
        "every-11",
        Command::SetApprovalThreshold {
            fund: fund(CONDOLENCE),
            threshold: Some(yuan("1000.00")),
        },
    );
    let condolence = |n: usize| {
        Command::PayCondolence(CondolencePayment {
            campaign: CampaignId::new("SM-2021-SPRING").unwrap(),
            beneficiary: household(n),
            category: BeneficiaryCategory::PoorHousehold,
            form: CondolenceForm::Cash,
            amount: yuan("2000.00"),
            shares: TierSplit::single(FundingTier::City, yuan("2000.00")).unwrap(),
        })
    };
    let approved = go("every-12", condolence(1));
    run_as(
        engine,
        "every-13",
        "checker-01",
        Command::ApprovePayment {
            request: approved.first_position,
        },
    );
    let rejected = go("every-14", condolence(2));
    run_as(
        engine,
        "every-15",
        "checker-01",
        Command::RejectPayment {
            request: rejected.first_position,
            reason: "重复申请".into(),
        },
    );
    go("every-16", condolence(4));
    go(
        "every-17",
        Command::ExpireRequests {
            as_of: day(2021, 12, 1),
        },
    );
    go(
        "every-18",
        Command::ReverseEvent {
            position: grant.first_position,
            reason: "受益人信息有误".into(),
        },
    );
    go(
        "every-19",
        Command::ClosePeriod {
            unit: UnitCode::new("FJ-SM").unwrap(),
            period: Period::Month {
                year: 2021,
                month: 1,
            },
        },
    );
    // Staff and tokens.
    let admin = || ledger_domain::UserId::new("staff-2").unwrap();
    let digest = ledger_domain::TokenDigest([0xab; 32]);
    go(
        "every-20",
        Command::RegisterUser {
            user: admin(),
            role: ledger_domain::Role::Clerk,
            scope: Some(UnitCode::new("FJ-SM").unwrap()),
        },
    );
    go(
        "every-21",
        Command::ChangeUserRole {
            user: admin(),
            role: ledger_domain::Role::Manager,
            scope: Some(UnitCode::new("FJ-SM").unwrap()),
        },
    );
    go(
        "every-22",
        Command::IssueToken {
            token: digest,
            user: admin(),
            expires_on: Some(NaiveDate::from_ymd_opt(2030, 1, 1).unwrap()),
        },
    );
    go(
        "every-23",
        Command::RevokeToken {
            token: digest,
            reason: "rotated".into(),
        },
    );
    go(
        "every-24",
        Command::DisableUser {
            user: admin(),
            reason: "left".into(),
        },
    );
    // Personal information: the permission, an access, restriction and erasure.
    let officer = || ledger_domain::UserId::new("staff-3").unwrap();
    go(
        "every-25",
        Command::RegisterUser {
            user: officer(),
            role: ledger_domain::Role::Auditor,
            scope: None,
        },
    );
    let reason = || "个人信息保护负责人".to_string();
    go(
        "every-26",
        Command::GrantPersonalDataAccess {
            user: officer(),
            reason: reason(),
        },
    );
    go(
        "every-27",
        Command::RecordPersonalDataAccess {
            beneficiary: household(1),
            action: ledger_domain::PersonalDataAction::Read,
            purpose: "核对银行账户".into(),
        },
    );
    go(
        "every-28",
        Command::WithdrawPersonalDataAccess {
            user: officer(),
            reason: reason(),
        },
    );
    let note = |text: &str| text.to_string();
    go(
        "every-29",
        Command::RestrictBeneficiary {
            beneficiary: household(2),
            reason: note("本人申请限制处理"),
        },
    );
    go(
        "every-30",
        Command::LiftBeneficiaryRestriction {
            beneficiary: household(2),
            reason: note("复核完毕"),
        },
    );
    go(
        "every-31",
        Command::EraseBeneficiary {
            beneficiary: household(3),
            reason: note("本人申请删除"),
        },
    );
}
