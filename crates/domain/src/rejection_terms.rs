//! The words a rejection names besides ids and figures (what amount, which text, what a role may not do, what blocks a reversal), each with its English and Chinese.
//!
//! A rejection's English message (`Display`) and its Chinese one (`Rejection::detail_zh`)
//! are built from the same variant, so a term is an enum rather than a string: the
//! Chinese can never miss a word the English uses. Each enum's `Display` prints exactly
//! the English that the messages have always carried. None of these is serialised:
//! rejections are answered, never stored.

use std::fmt;

use crate::catalogue::{FundingTier, InsuranceModel, Programme};
use crate::ids::{AwardId, LoanId};
use crate::money::Money;

/// Declares an enum of terms, each with its English (`en`, also its `Display`) and its
/// Chinese (`zh`), and `ALL`, every term in order.
macro_rules! terms {
    (
        $(#[$meta:meta])*
        $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $en:literal, $zh:literal;)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            /// Every term, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The English, as the messages say it.
            pub fn en(self) -> &'static str {
                match self {
                    $($name::$variant => $en,)+
                }
            }

            /// The Chinese.
            pub fn zh(self) -> &'static str {
                match self {
                    $($name::$variant => $zh,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.en())
            }
        }
    };
}

terms! {
    /// The amount that must not be ¥0.00 (`Rejection::AmountZero`).
    AmountSubject {
        Appropriation => "appropriation", "下达金额";
        Receipt => "receipt", "到位金额";
        Repayment => "repayment", "还款金额";
        LoanPrincipal => "loan principal", "借款本金";
        Grant => "grant", "补助金额";
        HousingGrant => "housing grant", "安居工程补助金额";
        Bursary => "bursary", "助学金金额";
        Instalment => "instalment", "分期金额";
        CondolencePayment => "condolence payment", "慰问金金额";
        Claim => "claim", "理赔金额";
        Premium => "premium", "保费";
    }
}

terms! {
    /// The free text that is empty or too long (`Rejection::TextInvalid`) or holds a
    /// run of digits (`Rejection::PersonalDigits`).
    TextSubject {
        UnitName => "unit name", "单位名称";
        FundName => "fund name", "资金名称";
        CampaignName => "campaign name", "慰问活动名称";
        Reference => "reference", "文号";
        BatchLabel => "batch label", "批次";
        GoodsDescription => "goods description", "实物说明";
        Reason => "reason", "理由";
        Purpose => "purpose", "用途";
        SupplementReason => "supplement reason", "补充资助理由";
        WriteOffReason => "write-off reason", "核销理由";
        RejectionReason => "rejection reason", "驳回理由";
        ReversalReason => "reversal reason", "冲销理由";
    }
}

terms! {
    /// The year outside the ledger's range (`Rejection::YearInvalid`).
    YearSubject {
        FiscalYear => "fiscal year", "年度";
        AcademicYear => "academic year", "学年";
    }
}

terms! {
    /// What a role may not do (`Rejection::NotPermitted`), as in "a clerk may not
    /// approve payments".
    Activity {
        RegisterUnits => "register units", "登记单位";
        OpenFunds => "open funds", "开设资金";
        SetApprovalThresholds => "set approval thresholds", "设置审批限额";
        ClosePeriods => "close periods", "办理会计期间结账";
        ManageUsers => "manage users", "管理用户";
        ManageUsersAndTokens => "manage users and tokens", "管理用户和令牌";
        RevokeTokens => "revoke tokens", "吊销令牌";
        GrantPersonalDataAccess => "grant access to personal information", "授予个人信息查阅权";
        RegisterBeneficiaries => "register beneficiaries", "登记受助对象";
        ChangePersonalInformation => "change personal information", "修改个人信息";
        ReadPersonalInformation => "read personal information", "查阅个人信息";
        RestrictOrEraseBeneficiaries => "restrict or erase beneficiaries' personal information", "限制处理或删除受助对象的个人信息";
        RecordAppropriations => "record appropriations", "登记资金下达和到位";
        RecordPayments => "record payments", "记录付款";
        RecordPremiums => "record premiums", "记录保费";
        RecordAwardsAndCampaigns => "record awards and campaigns", "登记补助核定和慰问活动";
        RecordRepayments => "record repayments", "登记还款";
        WriteLoansOff => "write loans off", "核销借款";
        RecordFollowUpVisits => "record follow-up visits", "登记跟踪回访";
        ApprovePayments => "approve payments", "审批付款";
        RejectPaymentRequests => "reject payment requests", "驳回付款申请";
        RejectOthersPaymentRequests => "reject others' payment requests", "驳回他人的付款申请";
        ExpirePaymentRequests => "expire payment requests", "办理付款申请过期";
        ReverseEntries => "reverse entries", "冲销记录";
    }
}

terms! {
    /// A loan command that needs the loan active and disbursed
    /// (`Rejection::LoanNotActive`, `Rejection::BeforeDisbursement`).
    LoanAction {
        Repayment => "repayment", "还款";
        Reschedule => "reschedule", "展期";
        WriteOff => "write-off", "核销";
    }
}

terms! {
    /// Where a loan stands, as a message names it.
    LoanStanding {
        /// Lent, with principal outstanding.
        Active => "active", "尚未还清";
        /// Lent and repaid in full.
        FullyRepaid => "fully repaid", "已还清";
        /// Its outstanding principal was written off.
        WrittenOff => "written off", "已核销";
        /// Its disbursement was reversed.
        Reversed => "reversed", "已冲销";
    }
}

terms! {
    /// What a command does with a fund of a given programme
    /// (`Rejection::ProgrammeMismatch`), as in "a claim needs an insurance fund".
    FundUse {
        Loan => "a loan", "借款";
        Grant => "a grant", "幸福工程补助";
        HousingGrant => "a housing grant", "安居工程补助";
        Bursary => "a bursary", "助学金";
        CondolenceCampaign => "a condolence campaign", "慰问活动";
        Claim => "a claim", "理赔";
        Premium => "a premium", "保费";
        ClaimsReserve => "a claims reserve", "未决赔款估计";
    }
}

impl FundUse {
    /// Whether a fund of `programme` serves this use.
    pub fn accepts(self, programme: Programme) -> bool {
        match self {
            FundUse::Loan => programme.lends(),
            FundUse::Grant => programme == Programme::HappinessProject,
            FundUse::HousingGrant => programme == Programme::Housing,
            FundUse::Bursary => programme == Programme::Bursary,
            FundUse::CondolenceCampaign => programme == Programme::Condolence,
            FundUse::Claim | FundUse::Premium | FundUse::ClaimsReserve => {
                programme == Programme::Insurance
            }
        }
    }

    /// The funds this use needs, in English: "an insurance fund".
    pub fn expected(self) -> &'static str {
        match self {
            FundUse::Loan => "a Happiness Project or revolving fund",
            FundUse::Grant => "a Happiness Project fund",
            FundUse::HousingGrant => "a housing fund",
            FundUse::Bursary => "a bursary fund",
            FundUse::CondolenceCampaign => "a condolence fund",
            FundUse::Claim | FundUse::Premium | FundUse::ClaimsReserve => "an insurance fund",
        }
    }

    /// The funds this use needs, in Chinese.
    pub fn expected_zh(self) -> &'static str {
        match self {
            FundUse::Loan => "幸福工程资金或滚动资金",
            FundUse::Grant => "幸福工程资金",
            FundUse::HousingGrant => "安居工程资金",
            FundUse::Bursary => "金秋助学资金",
            FundUse::CondolenceCampaign => "慰问金专项资金",
            FundUse::Claim | FundUse::Premium | FundUse::ClaimsReserve => "计生保险资金",
        }
    }
}

terms! {
    /// The award a command needs (`Rejection::AwardKindMismatch`): of this kind and not
    /// reversed.
    CurrentAward {
        Housing => "current housing", "安居工程补助";
        Bursary => "current bursary", "助学金";
    }
}

/// Why an entry that moves money cannot be reversed yet (`Rejection::ReversalBlocked`):
/// later entries depend on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReversalBlock {
    /// Reversing a commitment would leave less committed than the tier has received.
    ReceiptsExceedCommitment {
        tier: FundingTier,
        received: Money,
        committed: Money,
    },
    /// The loan has repayments, a reschedule, interest or a write-off after it.
    LoanHasLaterEntries { loan: LoanId },
    /// The loan of a repayment is no longer active (written off or reversed).
    LoanNotActive {
        loan: LoanId,
        standing: LoanStanding,
    },
    /// The loan was rescheduled after the repayment.
    RescheduledAfter { loan: LoanId },
    /// The award has instalments paid.
    InstalmentsPaid { award: AwardId, instalments: u32 },
}

impl fmt::Display for ReversalBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReversalBlock::ReceiptsExceedCommitment {
                tier,
                received,
                committed,
            } => write!(
                f,
                "the {tier} tier has received {received} of its {committed} commitment, more than would remain; reverse receipts first"
            ),
            ReversalBlock::LoanHasLaterEntries { loan } => write!(
                f,
                "loan {loan} has later repayments, a reschedule or a write-off; reverse those first"
            ),
            ReversalBlock::LoanNotActive { loan, standing } => {
                write!(f, "loan {loan} is {standing}; reverse that first")
            }
            ReversalBlock::RescheduledAfter { loan } => {
                write!(f, "loan {loan} was rescheduled after this repayment")
            }
            ReversalBlock::InstalmentsPaid { award, instalments } => write!(
                f,
                "award {award} has {instalments} paid instalment(s); reverse them first"
            ),
        }
    }
}

impl ReversalBlock {
    /// The same in Chinese.
    pub fn zh(&self) -> String {
        match self {
            ReversalBlock::ReceiptsExceedCommitment {
                tier,
                received,
                committed,
            } => format!(
                "{}下达 {committed}，已到位 {received}，冲销后剩余的下达金额将少于已到位金额；请先冲销到位记录",
                tier.zh()
            ),
            ReversalBlock::LoanHasLaterEntries { loan } => {
                format!("借款 {loan} 之后还有还款、展期或核销记录；请先冲销这些记录")
            }
            ReversalBlock::LoanNotActive { loan, standing } => {
                format!("借款 {loan} {}；请先冲销该记录", standing.zh())
            }
            ReversalBlock::RescheduledAfter { loan } => {
                format!("借款 {loan} 在这笔还款之后已展期")
            }
            ReversalBlock::InstalmentsPaid { award, instalments } => {
                format!("核定 {award} 已拨付 {instalments} 期；请先冲销这些分期")
            }
        }
    }
}

/// What a claim payer that does not fit the fund's insurance model should be, in English.
pub(crate) fn claim_payer_hint(model: InsuranceModel) -> &'static str {
    match model {
        InsuranceModel::InsurerUnderwritten => {
            "its claims are paid by the insurer and recorded without charging the fund"
        }
        InsuranceModel::SelfInsured => {
            "its claims are paid from the fund, so name the tiers that pay"
        }
    }
}

/// The same in Chinese.
pub(crate) fn claim_payer_hint_zh(model: InsuranceModel) -> &'static str {
    match model {
        InsuranceModel::InsurerUnderwritten => "其理赔由保险公司支付，只登记、不从本资金列支",
        InsuranceModel::SelfInsured => "其理赔从本资金支付，请填写承担理赔的级次",
    }
}
