//! The small ledger the exchange tests (and docs/examples/payments.csv) work on: the
//! province of Fujian and the city of Sanming, one fund of each programme with cash,
//! five households, a loan, a housing award, a bursary award and a condolence campaign.

#![allow(dead_code)] // each test file uses a different part

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use ledger_domain::{
    Amount, AwardId, BeneficiaryId, BeneficiaryKind, CampaignId, ClaimPayer, ClaimPayment, Command,
    FundId, FundingTier, InsuranceModel, LoanDisbursement, LoanId, PolicyLine, PremiumPayment,
    Programme, TierSplit, UnitCode, UnitLevel, UserId,
};
use ledger_engine::{Engine, Submission};
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
pub fn run<B: Backend>(engine: &Engine<B>, id: &str, command: Command) {
    engine
        .submit(Submission {
            command_id: id.to_string(),
            command,
            actor: user("admin-sm"),
            effective_date: day(2021, 6, 30),
            memo: "三明 2021".to_string(),
        })
        .unwrap_or_else(|e| panic!("setup command {id}: {e}"));
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
