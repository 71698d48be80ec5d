//! Proves that every rejection reads in Chinese (`Rejection::detail_zh`) with the same figures as its English message, and that the English messages are unchanged now that their terms are enums.
//!
//! `samples()` builds every variant of `Rejection` (with every term of every term enum
//! and both nested errors), and is checked against the codes of docs/DOMAIN.md so that
//! a new variant without a sample fails here. For each sample: the Chinese holds Chinese
//! characters and, once the ids and typed inputs of the sample are taken out, no Latin
//! letter (so no English word slipped in); and every figure of the English (each word
//! with a digit: amounts, dates, positions, limits, ids) appears in the Chinese. A few
//! Chinese and English messages are pinned whole.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use ledger_domain::{
    Activity, AmountError, AmountSubject, AwardId, BeneficiaryId, CampaignId, CurrentAward, FundId,
    FundUse, FundingTier, InsuranceModel, LoanAction, LoanId, LoanStanding, Money, Period,
    Programme, Rejection, ReversalBlock, Role, TextSubject, TierSplitError, UnitCode, UnitLevel,
    UserId, YearSubject,
};

const FUND: &str = "FJ-SM-2025-BURSARY";
const OTHER_FUND: &str = "FJ-SM-2025-HP";
const UNIT: &str = "FJ-SM-SX";
const CLOSED_UNIT: &str = "FJ-SM";
const PARENT: &str = "FJ-XM";
const BENEFICIARY: &str = "b-000123";
const LOAN: &str = "L-2021-0007";
const AWARD: &str = "SM-B-0001-province";
const EXISTING: &str = "SM-B-0000-province";
const CAMPAIGN: &str = "C-2021-SPRING";
const USER: &str = "clerk-sm";
const TOKEN: &str = "3f9a0c1d2e4b";
const TYPED: &str = "abc12.345";

/// Ids and typed text of the samples: the only Latin letters a Chinese message may hold.
const VERBATIM: &[&str] = &[
    FUND,
    OTHER_FUND,
    UNIT,
    CLOSED_UNIT,
    PARENT,
    BENEFICIARY,
    LOAN,
    AWARD,
    EXISTING,
    CAMPAIGN,
    USER,
    TOKEN,
    TYPED,
];

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn money(text: &str) -> Money {
    ledger_domain::Amount::parse(text).unwrap().to_money()
}

fn amount(text: &str) -> ledger_domain::Amount {
    ledger_domain::Amount::parse(text).unwrap()
}

fn fund() -> FundId {
    FundId::new(FUND).unwrap()
}

fn unit(code: &str) -> UnitCode {
    UnitCode::new(code).unwrap()
}

fn beneficiary() -> BeneficiaryId {
    BeneficiaryId::new(BENEFICIARY).unwrap()
}

fn loan() -> LoanId {
    LoanId::new(LOAN).unwrap()
}

fn award() -> AwardId {
    AwardId::new(AWARD).unwrap()
}

fn user() -> UserId {
    UserId::new(USER).unwrap()
}

const LEVELS: [UnitLevel; 5] = [
    UnitLevel::Province,
    UnitLevel::City,
    UnitLevel::County,
    UnitLevel::Township,
    UnitLevel::Village,
];

const MODELS: [InsuranceModel; 2] = [
    InsuranceModel::InsurerUnderwritten,
    InsuranceModel::SelfInsured,
];

fn reversal_blocks() -> Vec<ReversalBlock> {
    let mut blocks = vec![
        ReversalBlock::LoanHasLaterEntries { loan: loan() },
        ReversalBlock::RescheduledAfter { loan: loan() },
        ReversalBlock::InstalmentsPaid {
            award: award(),
            instalments: 3,
        },
    ];
    for tier in FundingTier::ALL {
        blocks.push(ReversalBlock::ReceiptsExceedCommitment {
            tier,
            received: money("8,000.00"),
            committed: money("10,000.00"),
        });
    }
    for standing in LoanStanding::ALL {
        blocks.push(ReversalBlock::LoanNotActive {
            loan: loan(),
            standing: *standing,
        });
    }
    blocks
}

fn nested() -> Vec<Rejection> {
    let typed = || TYPED.to_string();
    let mut out: Vec<Rejection> = [
        AmountError::Empty,
        AmountError::Negative { input: typed() },
        AmountError::Exponent { input: typed() },
        AmountError::Malformed { input: typed() },
        AmountError::TooManyDecimals { input: typed() },
        AmountError::Overflow { input: typed() },
    ]
    .into_iter()
    .map(Rejection::from)
    .collect();
    out.push(TierSplitError::Empty.into());
    for tier in FundingTier::ALL {
        out.push(TierSplitError::DuplicateTier(tier).into());
        out.push(TierSplitError::ZeroShare(tier).into());
    }
    out
}

/// Every variant, with every term.
fn samples() -> Vec<Rejection> {
    let mut out = nested();
    out.extend(
        AmountSubject::ALL
            .iter()
            .map(|&what| Rejection::AmountZero { what }),
    );
    for &what in TextSubject::ALL {
        out.push(Rejection::TextInvalid {
            what,
            max_chars: 200,
        });
        out.push(Rejection::PersonalDigits { what, digits: 18 });
    }
    for &what in YearSubject::ALL {
        out.push(Rejection::YearInvalid { what, year: 2300 });
    }
    out.extend(units());
    out.extend(funds());
    out.extend(loans());
    out.extend(awards());
    out.extend(approvals_and_periods());
    out.extend(reversals());
    out.extend(staff());
    out.extend(people());
    out
}

fn units() -> Vec<Rejection> {
    let mut out = vec![
        Rejection::UnknownUnit { unit: unit(UNIT) },
        Rejection::UnitExists { unit: unit(UNIT) },
        Rejection::ProvinceHasParent { unit: unit(UNIT) },
    ];
    for level in LEVELS {
        for expected in LEVELS {
            out.push(Rejection::ParentRequired {
                unit: unit(UNIT),
                level,
                expected,
            });
            out.push(Rejection::ParentLevelMismatch {
                unit: unit(UNIT),
                level,
                expected,
                parent: unit(PARENT),
                parent_level: level,
            });
        }
    }
    out
}

fn funds() -> Vec<Rejection> {
    let mut out = vec![
        Rejection::UnknownFund { fund: fund() },
        Rejection::FundExists { fund: fund() },
        Rejection::InsuranceModelRequired { fund: fund() },
        Rejection::TierSharesMismatch {
            shares_total: money("2,500.00"),
            amount: amount("3,000.00"),
        },
        Rejection::BeneficiaryOutsideFundUnit {
            beneficiary: beneficiary(),
            beneficiary_unit: unit(PARENT),
            fund: FundId::new(OTHER_FUND).unwrap(),
            fund_unit: unit(UNIT),
        },
    ];
    for programme in Programme::ALL {
        out.push(Rejection::InsuranceModelNotApplicable {
            fund: fund(),
            programme,
        });
        for &action in FundUse::ALL {
            out.push(Rejection::ProgrammeMismatch {
                fund: fund(),
                programme,
                action,
            });
        }
    }
    for tier in FundingTier::ALL {
        out.push(Rejection::InsufficientFunds {
            fund: fund(),
            tier,
            available: money("14,000.00"),
            needed: money("99,990,000.00"),
        });
        out.push(Rejection::CommitmentExceeded {
            fund: fund(),
            tier,
            outstanding: money("1,000.00"),
            amount: amount("1,500.50"),
        });
    }
    for model in MODELS {
        out.push(Rejection::ClaimPayerMismatch {
            fund: fund(),
            model,
        });
    }
    out.push(Rejection::PremiumTaxInconsistent {
        tax_exclusive: amount("1,060.00"),
        tax_inclusive: amount("1,000.00"),
    });
    out.push(Rejection::CoverageInvalid {
        start: day(2022, 1, 1),
        end: day(2021, 12, 31),
    });
    out
}

fn loans() -> Vec<Rejection> {
    let mut out = vec![
        Rejection::UnknownLoan { loan: loan() },
        Rejection::LoanExists { loan: loan() },
        Rejection::RepaymentExceedsOutstanding {
            loan: loan(),
            outstanding: money("4,000.00"),
            principal: amount("5,000.00"),
        },
        Rejection::LoanTermInvalid {
            term_months: 400,
            max: 360,
        },
        Rejection::LoanGraceInvalid {
            grace_months: 61,
            max: 60,
        },
        Rejection::LoanRateInvalid {
            annual_rate_bp: 3000,
            max: 2400,
        },
    ];
    for &action in LoanAction::ALL {
        for &status in LoanStanding::ALL {
            out.push(Rejection::LoanNotActive {
                loan: loan(),
                status,
                action,
            });
        }
        out.push(Rejection::BeforeDisbursement {
            loan: loan(),
            disbursed_on: day(2021, 3, 15),
            date: day(2021, 3, 1),
            action,
        });
    }
    out
}

fn awards() -> Vec<Rejection> {
    let mut out = vec![
        Rejection::UnknownAward { award: award() },
        Rejection::AwardExists { award: award() },
        Rejection::BursaryYearsInvalid { years: 9 },
        Rejection::UnknownCampaign {
            campaign: CampaignId::new(CAMPAIGN).unwrap(),
        },
        Rejection::CampaignExists {
            campaign: CampaignId::new(CAMPAIGN).unwrap(),
        },
    ];
    for &expected in CurrentAward::ALL {
        out.push(Rejection::AwardKindMismatch {
            award: award(),
            expected,
        });
    }
    for tier in FundingTier::ALL {
        out.push(Rejection::DuplicateBursary {
            student: beneficiary(),
            academic_year: 2021,
            tier,
            existing: AwardId::new(EXISTING).unwrap(),
        });
        out.push(Rejection::InstalmentExceedsAward {
            award: award(),
            tier,
            remaining: money("1,200.00"),
            needed: money("1,500.00"),
        });
    }
    out
}

fn approvals_and_periods() -> Vec<Rejection> {
    let month = Period::Month {
        year: 2021,
        month: 6,
    };
    vec![
        Rejection::UnknownRequest { request: 42 },
        Rejection::SelfApproval {
            request: 42,
            user: user(),
        },
        Rejection::NothingExpired {
            as_of: day(2021, 7, 1),
        },
        Rejection::RequestExpired {
            request: 42,
            expired_on: day(2021, 7, 30),
        },
        Rejection::PeriodClosed {
            unit: unit(UNIT),
            closed_unit: unit(CLOSED_UNIT),
            period: month,
            date: day(2021, 6, 30),
        },
        Rejection::PeriodAlreadyClosed {
            unit: unit(UNIT),
            period: Period::Year { year: 2021 },
        },
        Rejection::PeriodInvalid {
            period: Period::Month {
                year: 2021,
                month: 13,
            },
        },
        Rejection::EffectiveDateInFuture {
            effective_date: day(2022, 1, 2),
            recorded_on: day(2021, 12, 31),
        },
    ]
}

fn reversals() -> Vec<Rejection> {
    let mut out = vec![
        Rejection::UnknownEvent { position: 1234 },
        Rejection::NotReversible { position: 1234 },
        Rejection::AlreadyReversed {
            position: 1234,
            reversed_by: 1240,
        },
        Rejection::CannotReverseReversal { position: 1240 },
    ];
    out.extend(
        reversal_blocks()
            .into_iter()
            .map(|why| Rejection::ReversalBlocked {
                position: 1234,
                why,
            }),
    );
    out
}

fn staff() -> Vec<Rejection> {
    let mut out = vec![
        Rejection::UnknownUser { user: user() },
        Rejection::UserDisabled { user: user() },
        Rejection::UserExists { user: user() },
        Rejection::OutOfScope {
            user: user(),
            scope: unit(CLOSED_UNIT),
            unit: Some(unit(PARENT)),
        },
        Rejection::OutOfScope {
            user: user(),
            scope: unit(CLOSED_UNIT),
            unit: None,
        },
        Rejection::TokenExists {
            token: TOKEN.into(),
        },
        Rejection::UnknownToken {
            token: TOKEN.into(),
        },
        Rejection::TokenAlreadyRevoked {
            token: TOKEN.into(),
        },
        Rejection::TokenExpiryInvalid {
            expires_on: day(2021, 1, 1),
            issued_on: day(2021, 3, 1),
        },
        Rejection::LastAdmin { user: user() },
        Rejection::PersonalDataNotPermitted { user: user() },
        Rejection::PersonalDataAccessAlreadyGranted { user: user() },
        Rejection::PersonalDataAccessNotGranted { user: user() },
    ];
    for role in Role::ALL {
        out.push(Rejection::ScopeRequired { role });
        out.push(Rejection::ScopeNotApplicable { role });
        for &action in Activity::ALL {
            out.push(Rejection::NotPermitted {
                user: user(),
                role,
                action,
            });
        }
    }
    out
}

fn people() -> Vec<Rejection> {
    vec![
        Rejection::UnknownBeneficiary {
            beneficiary: beneficiary(),
        },
        Rejection::BeneficiaryExists {
            beneficiary: beneficiary(),
        },
        Rejection::BeneficiaryRestricted {
            beneficiary: beneficiary(),
        },
        Rejection::BeneficiaryErased {
            beneficiary: beneficiary(),
        },
        Rejection::BeneficiaryNotRestricted {
            beneficiary: beneficiary(),
        },
        Rejection::BeneficiaryAlreadyRestricted {
            beneficiary: beneficiary(),
        },
    ]
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// The words of the English with a digit in them (amounts, dates, positions, limits,
/// ids with numbers), without the punctuation around them.
fn figures(english: &str) -> Vec<String> {
    english
        .split(|c: char| c.is_whitespace() || "();:".contains(c))
        .map(|w| w.trim_end_matches([',', '.']))
        .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_samples_cover_every_rejection_code_of_the_domain_manual() {
    let codes: BTreeSet<&str> = samples().iter().map(Rejection::code).collect();
    let manual = include_str!("../../../docs/DOMAIN.md");
    let table = manual
        .split("## Rejections")
        .nth(1)
        .and_then(|t| t.split("\n## ").next())
        .expect("the rejections table of docs/DOMAIN.md");
    let documented: BTreeSet<&str> = table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .flat_map(|l| {
            l.split('|')
                .nth(1)
                .unwrap_or("")
                .split('`')
                .skip(1)
                .step_by(2)
        })
        .collect();
    assert_eq!(documented.len(), 80, "{documented:?}");
    assert_eq!(codes, documented);
}

#[test]
fn every_rejection_reads_in_chinese_without_english_words() {
    for rejection in samples() {
        let zh = rejection.detail_zh();
        assert!(zh.chars().filter(|&c| is_cjk(c)).count() >= 4, "{zh}");
        let mut rest = zh.clone();
        for verbatim in VERBATIM {
            rest = rest.replace(verbatim, "");
        }
        assert!(
            !rest.chars().any(|c| c.is_ascii_alphabetic()),
            "{}: Latin letters in {zh:?}",
            rejection.code()
        );
        for english in [
            "the ", " is ", "fund ", "must", " a ", "unit ", "user ", "loan ",
        ] {
            assert!(!zh.contains(english), "{english:?} in {zh}");
        }
        assert!(
            !zh.ends_with('。'),
            "no trailing full stop, as in English: {zh}"
        );
    }
}

#[test]
fn every_chinese_rejection_names_the_figures_of_the_english() {
    for rejection in samples() {
        let (english, zh) = (rejection.to_string(), rejection.detail_zh());
        for figure in figures(&english) {
            assert!(
                zh.contains(&figure),
                "{}: {figure} of {english:?} is not in {zh:?}",
                rejection.code()
            );
        }
    }
}

#[test]
fn the_chinese_names_amounts_tiers_dates_and_ids_as_a_clerk_reads_them() {
    let cases = [
        (
            Rejection::InsufficientFunds {
                fund: fund(),
                tier: FundingTier::Province,
                available: money("14,000.00"),
                needed: money("99,990,000.00"),
            },
            "资金 FJ-SM-2025-BURSARY 的省级可用余额为 ¥14,000.00，本次支付需要 ¥99,990,000.00",
        ),
        (
            Rejection::TierSharesMismatch {
                shares_total: money("2,500.00"),
                amount: amount("3,000.00"),
            },
            "各级承担金额合计 ¥2,500.00，而总金额为 ¥3,000.00；请修改各级承担金额，使其合计等于总金额",
        ),
        (
            Rejection::PeriodClosed {
                unit: unit(UNIT),
                closed_unit: unit(CLOSED_UNIT),
                period: Period::Month {
                    year: 2021,
                    month: 6,
                },
                date: day(2021, 6, 30),
            },
            "单位 FJ-SM（含单位 FJ-SM-SX）的会计期间 2021-06 已结账；业务日期为 2021-06-30 的记录不能登记，请将更正记入未结账的期间",
        ),
        (
            Rejection::DuplicateBursary {
                student: beneficiary(),
                academic_year: 2021,
                tier: FundingTier::City,
                existing: AwardId::new(EXISTING).unwrap(),
            },
            "学生 b-000123 在 2021 学年已有市级助学金（核定 SM-B-0000-province）；再次核定将重复资助，如确属补充资助，请注明补充资助理由",
        ),
        (
            Rejection::NotPermitted {
                user: UserId::new("auditor-1").unwrap(),
                role: Role::Auditor,
                action: Activity::RecordPayments,
            },
            "用户 auditor-1 的角色是审计人员，审计人员不能记录付款",
        ),
        (
            Rejection::OutOfScope {
                user: user(),
                scope: unit(CLOSED_UNIT),
                unit: Some(unit(PARENT)),
            },
            "用户 clerk-sm 的工作范围是单位 FJ-SM，单位 FJ-XM 不在此范围内",
        ),
        (
            Rejection::OutOfScope {
                user: user(),
                scope: unit(CLOSED_UNIT),
                unit: None,
            },
            "用户 clerk-sm 的工作范围是单位 FJ-SM，不能办理涉及全部账本的事项",
        ),
        (
            Rejection::LoanNotActive {
                loan: loan(),
                status: LoanStanding::WrittenOff,
                action: LoanAction::Repayment,
            },
            "借款 L-2021-0007 已核销，不能办理还款",
        ),
        (
            Rejection::ProgrammeMismatch {
                fund: fund(),
                programme: Programme::Bursary,
                action: FundUse::Claim,
            },
            "资金 FJ-SM-2025-BURSARY 是金秋助学资金；理赔需要计生保险资金",
        ),
        (
            Rejection::from(AmountError::TooManyDecimals {
                input: "12.345".into(),
            }),
            "金额 12.345 超过两位小数（元以下只到分）；账本从不对金额四舍五入",
        ),
    ];
    for (rejection, zh) in cases {
        assert_eq!(rejection.detail_zh(), zh);
    }
}

#[test]
fn the_english_messages_are_unchanged_by_the_term_enums() {
    let cases = [
        (
            Rejection::AmountZero {
                what: AmountSubject::LoanPrincipal,
            },
            "the loan principal must be more than ¥0.00",
        ),
        (
            Rejection::TextInvalid {
                what: TextSubject::WriteOffReason,
                max_chars: 500,
            },
            "the write-off reason must be between 1 and 500 characters",
        ),
        (
            Rejection::YearInvalid {
                what: YearSubject::AcademicYear,
                year: 2300,
            },
            "the academic year 2300 is outside the years 1980 to 2200",
        ),
        (
            Rejection::PersonalDigits {
                what: TextSubject::Purpose,
                digits: 18,
            },
            "the purpose holds a run of 18 digits, which looks like an ID, phone or bank-card number; personal information never goes into the log: describe the purpose without it",
        ),
        (
            Rejection::NotPermitted {
                user: UserId::new("auditor-1").unwrap(),
                role: Role::Auditor,
                action: Activity::RecordPayments,
            },
            "user auditor-1 is a auditor, and a auditor may not record payments",
        ),
        (
            Rejection::NotPermitted {
                user: user(),
                role: Role::Clerk,
                action: Activity::RejectOthersPaymentRequests,
            },
            "user clerk-sm is a clerk, and a clerk may not reject others' payment requests",
        ),
        (
            Rejection::LoanNotActive {
                loan: loan(),
                status: LoanStanding::FullyRepaid,
                action: LoanAction::WriteOff,
            },
            "loan L-2021-0007 is fully repaid and cannot take a write-off",
        ),
        (
            Rejection::BeforeDisbursement {
                loan: loan(),
                disbursed_on: day(2021, 3, 15),
                date: day(2021, 3, 1),
                action: LoanAction::Reschedule,
            },
            "loan L-2021-0007 was disbursed on 2021-03-15; a reschedule dated 2021-03-01 cannot come before it",
        ),
        (
            Rejection::ProgrammeMismatch {
                fund: fund(),
                programme: Programme::Bursary,
                action: FundUse::Loan,
            },
            "fund FJ-SM-2025-BURSARY is a bursary fund; a loan needs a Happiness Project or revolving fund",
        ),
        (
            Rejection::AwardKindMismatch {
                award: award(),
                expected: CurrentAward::Housing,
            },
            "award SM-B-0001-province is not a current housing award",
        ),
        (
            Rejection::ClaimPayerMismatch {
                fund: fund(),
                model: InsuranceModel::InsurerUnderwritten,
            },
            "fund FJ-SM-2025-BURSARY is insurer-underwritten: its claims are paid by the insurer and recorded without charging the fund",
        ),
        (
            Rejection::ClaimPayerMismatch {
                fund: fund(),
                model: InsuranceModel::SelfInsured,
            },
            "fund FJ-SM-2025-BURSARY is self-insured: its claims are paid from the fund, so name the tiers that pay",
        ),
        (
            Rejection::ReversalBlocked {
                position: 1234,
                why: ReversalBlock::ReceiptsExceedCommitment {
                    tier: FundingTier::County,
                    received: money("8,000.00"),
                    committed: money("10,000.00"),
                },
            },
            "the event at position 1234 cannot be reversed: the county tier has received ¥8,000.00 of its ¥10,000.00 commitment, more than would remain; reverse receipts first",
        ),
        (
            Rejection::ReversalBlocked {
                position: 1234,
                why: ReversalBlock::LoanNotActive {
                    loan: loan(),
                    standing: LoanStanding::WrittenOff,
                },
            },
            "the event at position 1234 cannot be reversed: loan L-2021-0007 is written off; reverse that first",
        ),
        (
            Rejection::ReversalBlocked {
                position: 1234,
                why: ReversalBlock::InstalmentsPaid {
                    award: award(),
                    instalments: 2,
                },
            },
            "the event at position 1234 cannot be reversed: award SM-B-0001-province has 2 paid instalment(s); reverse them first",
        ),
        (
            Rejection::InsufficientFunds {
                fund: fund(),
                tier: FundingTier::Province,
                available: money("14,000.00"),
                needed: money("99,990,000.00"),
            },
            "fund FJ-SM-2025-BURSARY has ¥14,000.00 available in its province tier; the payment needs ¥99,990,000.00",
        ),
    ];
    for (rejection, english) in cases {
        assert_eq!(rejection.to_string(), english);
    }
}

#[test]
fn every_term_has_its_english_and_a_chinese_name() {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    pairs.extend(AmountSubject::ALL.iter().map(|t| (t.en(), t.zh())));
    pairs.extend(TextSubject::ALL.iter().map(|t| (t.en(), t.zh())));
    pairs.extend(YearSubject::ALL.iter().map(|t| (t.en(), t.zh())));
    pairs.extend(Activity::ALL.iter().map(|t| (t.en(), t.zh())));
    pairs.extend(LoanAction::ALL.iter().map(|t| (t.en(), t.zh())));
    pairs.extend(LoanStanding::ALL.iter().map(|t| (t.en(), t.zh())));
    pairs.extend(FundUse::ALL.iter().map(|t| (t.en(), t.zh())));
    pairs.extend(FundUse::ALL.iter().map(|t| (t.expected(), t.expected_zh())));
    pairs.extend(CurrentAward::ALL.iter().map(|t| (t.en(), t.zh())));
    pairs.extend(Programme::ALL.iter().map(|p| (p.label(), p.zh())));
    pairs.extend(FundingTier::ALL.iter().map(|t| (t.label(), t.zh())));
    pairs.extend(LEVELS.iter().map(|l| (l.label(), l.zh())));
    pairs.extend(Role::ALL.iter().map(|r| (r.name(), r.zh())));
    pairs.extend(MODELS.iter().map(|m| (m.label(), m.zh())));
    for (en, zh) in pairs {
        assert!(en.is_ascii() && !en.is_empty(), "{en}");
        assert!(zh.chars().all(is_cjk_or_mark), "{en}: {zh}");
    }
    assert_eq!(Activity::ALL.len(), 24);
    assert_eq!(
        Activity::RestrictOrEraseBeneficiaries.to_string(),
        "restrict or erase beneficiaries' personal information"
    );
}

fn is_cjk_or_mark(c: char) -> bool {
    is_cjk(c) || "（）".contains(c)
}

#[test]
fn an_id_that_cannot_be_an_id_reads_in_both_languages() {
    // The English is what it always was.
    assert_eq!(
        BeneficiaryId::new("b 000123").unwrap_err().to_string(),
        "\"b 000123\" is not a valid beneficiary id: use only ASCII letters, digits, '-', '_' and '.' (for example SM-2021-BURSARY)"
    );
    assert_eq!(
        BeneficiaryId::new("350402198001011234").unwrap_err().to_string(),
        "\"<withheld>\" is not a valid beneficiary id: it looks like an ID-card, phone or bank-card number; use an opaque id instead"
    );
    assert_eq!(
        BeneficiaryId::new("b 000123").unwrap_err().detail_zh(),
        "\"b 000123\" 不是有效的受助对象编号：只能使用英文字母、数字和“-”“_”“.”（例如 SM-2021-BURSARY）"
    );
    // Every fault, for every kind of id, in Chinese: what was typed, the kind, why.
    let long = "a".repeat(65);
    type Make = fn(&str) -> ledger_domain::IdError;
    let cases: [(&str, Make); 7] = [
        ("受助对象编号", |s| BeneficiaryId::new(s).unwrap_err()),
        ("资金编号", |s| FundId::new(s).unwrap_err()),
        ("单位代码", |s| UnitCode::new(s).unwrap_err()),
        ("借款编号", |s| LoanId::new(s).unwrap_err()),
        ("核定编号", |s| AwardId::new(s).unwrap_err()),
        ("用户编号", |s| UserId::new(s).unwrap_err()),
        ("慰问活动编号", |s| CampaignId::new(s).unwrap_err()),
    ];
    for (kind, make) in cases {
        for (typed, why) in [
            ("", "不能为空"),
            (long.as_str(), "超过 64 个字符"),
            ("张三", "只能使用英文字母"),
            ("-b1", "必须以字母或数字开头"),
        ] {
            let zh = make(typed).detail_zh();
            assert!(zh.contains(kind), "{zh}");
            assert!(zh.contains(why), "{zh}");
            let typed_shown: String = typed.chars().take(72).collect();
            assert!(zh.contains(&format!("{typed_shown:?}")), "{zh}");
        }
    }
    let personal = UserId::new("13800138000").unwrap_err().detail_zh();
    assert_eq!(
        personal,
        "\"<withheld>\" 不是有效的用户编号：像是身份证号、手机号或银行卡号；请改用不含个人信息的编号"
    );
}
