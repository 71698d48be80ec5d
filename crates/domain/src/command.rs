//! Commands: what a clerk, checker or importer asks the ledger to do, and the context every command is decided in.

use std::collections::BTreeSet;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use smol_str::SmolStr;

use crate::access::{Role, TokenDigest};
use crate::catalogue::{
    BeneficiaryCategory, BeneficiaryKind, ClaimPayer, CondolenceForm, FundingTier, GrantModality,
    InsuranceModel, Period, PolicyLine, Programme, TierSplit, UnitLevel, VisitOutcome,
};
use crate::ids::{AwardId, BeneficiaryId, CampaignId, FundId, LoanId, UnitCode, UserId};
use crate::money::Amount;

/// The ledger's business day runs on China Standard Time (UTC+8, no daylight saving):
/// a payment recorded at 07:30 in Sanming is of that day, not of the day before in UTC.
pub const BUSINESS_UTC_OFFSET_HOURS: i64 = 8;

/// The business date (China Standard Time) of a UTC recording time.
pub fn business_date(recorded_at_utc: NaiveDateTime) -> NaiveDate {
    recorded_at_utc
        .checked_add_signed(chrono::TimeDelta::hours(BUSINESS_UTC_OFFSET_HOURS))
        .unwrap_or(recorded_at_utc)
        .date()
}

/// Who acts, when the money moves, when the command is recorded, and its id.
///
/// Time is an argument: the domain reads no clock. `effective_date` is the business
/// date (the day the money moved); `recorded_at` is the system time the engine stamps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandContext {
    /// The member of staff issuing the command.
    pub actor: UserId,
    /// The business date of the money movement.
    pub effective_date: NaiveDate,
    /// When the engine recorded the command, UTC (injected, never read from a clock
    /// here); its business date is [`business_date`].
    pub recorded_at: NaiveDateTime,
    /// The caller's command id (idempotency is the engine's job; the domain only carries it).
    pub command_id: String,
}

/// A loan to a beneficiary from one tier of a lending fund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoanDisbursement {
    /// The new loan's id.
    pub loan: LoanId,
    /// A Happiness Project or revolving fund.
    pub fund: FundId,
    /// The borrower.
    pub beneficiary: BeneficiaryId,
    /// The tier whose cash is lent; repaid principal returns to it.
    pub tier: FundingTier,
    /// The principal lent.
    pub principal: Amount,
    /// Number of monthly instalments (1 to `LOAN_TERM_MONTHS_MAX`).
    pub term_months: u16,
    /// Months before the first instalment's month (0 to `LOAN_GRACE_MONTHS_MAX`).
    pub grace_months: u16,
    /// Annual interest in basis points (0 = interest-free, the default in practice).
    pub annual_rate_bp: u16,
    /// The batch label, e.g. 第十七批 (held inline up to 23 bytes: see [`crate::ids`]).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub batch: Option<SmolStr>,
    /// Whether the borrower is a migrant (流动人口) at the time of the loan.
    pub migrant: bool,
}

/// A Happiness Project grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantPayment {
    /// A Happiness Project fund.
    pub fund: FundId,
    /// The mother or household helped.
    pub beneficiary: BeneficiaryId,
    /// Relief, skills or health.
    pub modality: GrantModality,
    /// The batch label, e.g. 第十七批 (held inline up to 23 bytes: see [`crate::ids`]).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub batch: Option<SmolStr>,
    /// The grant.
    pub amount: Amount,
    /// Which tiers pay; must add up to `amount`.
    pub shares: TierSplit,
}

/// One instalment of an awarded housing grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HousingInstalment {
    /// The housing award.
    pub award: AwardId,
    /// The instalment.
    pub amount: Amount,
    /// Which tiers pay it; must add up to `amount`, and no tier beyond its awarded share.
    pub shares: TierSplit,
}

/// One instalment of an awarded bursary (charged to the award's tier).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BursaryInstalment {
    /// The bursary award.
    pub award: AwardId,
    /// The instalment.
    pub amount: Amount,
}

/// A condolence payment within a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CondolencePayment {
    /// The campaign (its fund is charged).
    pub campaign: CampaignId,
    /// The household visited.
    pub beneficiary: BeneficiaryId,
    /// The category the household is paid under.
    pub category: BeneficiaryCategory,
    /// Cash or goods of equal value.
    pub form: CondolenceForm,
    /// The value paid.
    pub amount: Amount,
    /// Which tiers pay; must add up to `amount`.
    pub shares: TierSplit,
}

/// An insurance claim paid to a beneficiary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimPayment {
    /// An insurance fund.
    pub fund: FundId,
    /// The policy line.
    pub line: PolicyLine,
    /// The family paid.
    pub beneficiary: BeneficiaryId,
    /// The claim paid (已决赔款).
    pub amount: Amount,
    /// The insurer (insurer-underwritten funds) or the fund's tiers (self-insured funds).
    pub payer: ClaimPayer,
}

/// Premiums for a coverage period, co-funded by tiers and households.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PremiumPayment {
    /// An insurance fund.
    pub fund: FundId,
    /// The policy line.
    pub line: PolicyLine,
    /// First day of cover.
    pub coverage_start: NaiveDate,
    /// Last day of cover.
    pub coverage_end: NaiveDate,
    /// Households covered.
    pub households: u32,
    /// Persons covered.
    pub persons: u32,
    /// The premium including tax; the shares add up to it.
    pub tax_inclusive: Amount,
    /// The premium excluding tax (税后保费收入): the loss ratio's denominator.
    pub tax_exclusive: Amount,
    /// Tier shares; the `HouseholdContribution` share is the households' own money,
    /// collected with the premium rather than taken from the fund's cash.
    pub shares: TierSplit,
}

/// A payment that leaves (or, for premiums, passes through) a fund: the commands that
/// the maker-checker control may hold for approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Payment {
    /// A loan disbursement.
    Loan(LoanDisbursement),
    /// A Happiness Project grant.
    Grant(GrantPayment),
    /// A housing grant instalment.
    HousingInstalment(HousingInstalment),
    /// A bursary instalment.
    BursaryInstalment(BursaryInstalment),
    /// A condolence payment.
    Condolence(CondolencePayment),
    /// An insurance claim.
    Claim(ClaimPayment),
    /// An insurance premium.
    Premium(PremiumPayment),
}

/// Everything the ledger can be asked to do. Imperative names; `decide` turns each
/// into past-tense events or a `Rejection`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Command {
    /// Add an organisational unit below its parent (one level up).
    RegisterUnit {
        unit: UnitCode,
        name: String,
        level: UnitLevel,
        parent: Option<UnitCode>,
    },
    /// Open a fund for a unit and programme.
    OpenFund {
        fund: FundId,
        unit: UnitCode,
        programme: Programme,
        name: String,
        fiscal_year: Option<i32>,
        /// Payments above this need a second person's approval; `None` = never.
        approval_threshold: Option<Amount>,
        /// Required for insurance funds, refused for others.
        insurance_model: Option<InsuranceModel>,
    },
    /// Change a fund's approval threshold.
    SetApprovalThreshold {
        fund: FundId,
        threshold: Option<Amount>,
    },
    /// Record a beneficiary by opaque id and non-identifying attributes.
    RegisterBeneficiary {
        beneficiary: BeneficiaryId,
        unit: UnitCode,
        kind: BeneficiaryKind,
        categories: BTreeSet<BeneficiaryCategory>,
    },
    /// A tier commits (下达) money to a fund.
    CommitAppropriation {
        fund: FundId,
        tier: FundingTier,
        amount: Amount,
        reference: Option<String>,
    },
    /// Committed money arrives (到位) in the fund's cash.
    ReceiveAppropriation {
        fund: FundId,
        tier: FundingTier,
        amount: Amount,
        reference: Option<String>,
    },
    /// Lend money.
    DisburseLoan(LoanDisbursement),
    /// Record a repayment: principal (partial, early or late) and any interest.
    RepayLoan {
        loan: LoanId,
        principal: Amount,
        interest: Amount,
    },
    /// Replace the schedule of the outstanding principal from the effective date.
    RescheduleLoan {
        loan: LoanId,
        term_months: u16,
        grace_months: u16,
        annual_rate_bp: u16,
    },
    /// Write off the outstanding principal.
    WriteOffLoan { loan: LoanId, reason: String },
    /// Pay a Happiness Project grant.
    PayGrant(GrantPayment),
    /// Award a housing grant split across tiers (paid later in instalments).
    AwardHousingGrant {
        award: AwardId,
        fund: FundId,
        beneficiary: BeneficiaryId,
        amount: Amount,
        shares: TierSplit,
    },
    /// Pay an instalment of a housing grant.
    PayHousingInstalment(HousingInstalment),
    /// Record a follow-up visit (跟踪服务) to a housing grant's family.
    RecordFollowUpVisit {
        award: AwardId,
        outcome: VisitOutcome,
    },
    /// Award a bursary for a student, academic year and tier.
    AwardBursary {
        award: AwardId,
        fund: FundId,
        student: BeneficiaryId,
        /// The calendar year the academic year starts in (2021 for 2021–22).
        academic_year: i32,
        tier: FundingTier,
        amount: Amount,
        /// Over how many years the award is planned to be paid (1 to 8).
        years: u8,
        /// A second award for the same student, year and tier needs a reason here.
        supplement_reason: Option<String>,
    },
    /// Pay an instalment of a bursary.
    PayBursaryInstalment(BursaryInstalment),
    /// Open a condolence campaign (e.g. Spring Festival 2021).
    OpenCampaign {
        campaign: CampaignId,
        fund: FundId,
        name: String,
    },
    /// Pay a household within a campaign.
    PayCondolence(CondolencePayment),
    /// Collect and pay premiums for a coverage period.
    CollectPremium(PremiumPayment),
    /// Record a claim paid to a family.
    PayClaim(ClaimPayment),
    /// Record the current outstanding-claims reserve (未决) of a fund and line; replaces the previous estimate.
    EstimateClaimsReserve {
        fund: FundId,
        line: PolicyLine,
        amount: Amount,
    },
    /// A checker approves a pending payment (by the position of its `PaymentRequested` event).
    ApprovePayment { request: u64 },
    /// A checker (or the maker, withdrawing) rejects a pending payment.
    RejectPayment { request: u64, reason: String },
    /// Release every pending request whose approval window ended before `as_of`.
    ExpireRequests { as_of: NaiveDate },
    /// Close a period for a unit and its whole subtree.
    ClosePeriod { unit: UnitCode, period: Period },
    /// Reverse a money event (by its log position), once, with a reason.
    ReverseEvent { position: u64, reason: String },
    /// Register a member of staff with a role, bound to a unit's subtree (`scope`), or
    /// for auditors and admins to none: the whole ledger. The id is an opaque staff id,
    /// never a name.
    RegisterUser {
        user: UserId,
        role: Role,
        scope: Option<UnitCode>,
    },
    /// Change a user's role or scope.
    ChangeUserRole {
        user: UserId,
        role: Role,
        scope: Option<UnitCode>,
    },
    /// Disable a user: their tokens stop working; their history stays.
    DisableUser { user: UserId, reason: String },
    /// Issue an API token to a user; only its SHA-256 digest is recorded.
    IssueToken {
        token: TokenDigest,
        user: UserId,
        /// The last day the token is valid; `None` = until revoked.
        expires_on: Option<NaiveDate>,
    },
    /// Revoke a token.
    RevokeToken { token: TokenDigest, reason: String },
    /// Allow a user to read beneficiaries' personal information (a permission of its
    /// own, apart from the role's reading of money).
    GrantPersonalDataAccess { user: UserId, reason: String },
    /// Take that permission back.
    WithdrawPersonalDataAccess { user: UserId, reason: String },
    /// Record that the actor reads or changes a beneficiary's personal information in
    /// the registry, and why. The registry discloses nothing until this is recorded.
    RecordPersonalDataAccess {
        beneficiary: BeneficiaryId,
        action: PersonalDataAction,
        purpose: String,
    },
    /// Stop every use of a beneficiary's personal information except storage (PIPL
    /// Art. 47 ¶2); no new payments name the beneficiary while restricted.
    RestrictBeneficiary {
        beneficiary: BeneficiaryId,
        reason: String,
    },
    /// Lift a restriction.
    LiftBeneficiaryRestriction {
        beneficiary: BeneficiaryId,
        reason: String,
    },
    /// Erase a beneficiary's personal information: the registry destroys the person's
    /// key. The history stays; the beneficiary can no longer be paid.
    EraseBeneficiary {
        beneficiary: BeneficiaryId,
        reason: String,
    },
}

/// What a member of staff does with a beneficiary's personal information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PersonalDataAction {
    /// Read the data by the beneficiary's id.
    Read,
    /// Found the beneficiary by an ID number typed in, and read the data.
    LookUpByIdNumber,
    /// Changed the contact data (phone, bank account, address).
    UpdateContact,
}

impl PersonalDataAction {
    /// The snake_case name used in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PersonalDataAction::Read => "read",
            PersonalDataAction::LookUpByIdNumber => "look_up_by_id_number",
            PersonalDataAction::UpdateContact => "update_contact",
        }
    }
}

impl Command {
    /// A stable name for logs and metrics.
    pub fn command_type(&self) -> &'static str {
        match self {
            Command::RegisterUnit { .. } => "RegisterUnit",
            Command::OpenFund { .. } => "OpenFund",
            Command::SetApprovalThreshold { .. } => "SetApprovalThreshold",
            Command::RegisterBeneficiary { .. } => "RegisterBeneficiary",
            Command::CommitAppropriation { .. } => "CommitAppropriation",
            Command::ReceiveAppropriation { .. } => "ReceiveAppropriation",
            Command::DisburseLoan(_) => "DisburseLoan",
            Command::RepayLoan { .. } => "RepayLoan",
            Command::RescheduleLoan { .. } => "RescheduleLoan",
            Command::WriteOffLoan { .. } => "WriteOffLoan",
            Command::PayGrant(_) => "PayGrant",
            Command::AwardHousingGrant { .. } => "AwardHousingGrant",
            Command::PayHousingInstalment(_) => "PayHousingInstalment",
            Command::RecordFollowUpVisit { .. } => "RecordFollowUpVisit",
            Command::AwardBursary { .. } => "AwardBursary",
            Command::PayBursaryInstalment(_) => "PayBursaryInstalment",
            Command::OpenCampaign { .. } => "OpenCampaign",
            Command::PayCondolence(_) => "PayCondolence",
            Command::CollectPremium(_) => "CollectPremium",
            Command::PayClaim(_) => "PayClaim",
            Command::EstimateClaimsReserve { .. } => "EstimateClaimsReserve",
            Command::ApprovePayment { .. } => "ApprovePayment",
            Command::RejectPayment { .. } => "RejectPayment",
            Command::ExpireRequests { .. } => "ExpireRequests",
            Command::ClosePeriod { .. } => "ClosePeriod",
            Command::ReverseEvent { .. } => "ReverseEvent",
            Command::RegisterUser { .. } => "RegisterUser",
            Command::ChangeUserRole { .. } => "ChangeUserRole",
            Command::DisableUser { .. } => "DisableUser",
            Command::IssueToken { .. } => "IssueToken",
            Command::RevokeToken { .. } => "RevokeToken",
            Command::GrantPersonalDataAccess { .. } => "GrantPersonalDataAccess",
            Command::WithdrawPersonalDataAccess { .. } => "WithdrawPersonalDataAccess",
            Command::RecordPersonalDataAccess { .. } => "RecordPersonalDataAccess",
            Command::RestrictBeneficiary { .. } => "RestrictBeneficiary",
            Command::LiftBeneficiaryRestriction { .. } => "LiftBeneficiaryRestriction",
            Command::EraseBeneficiary { .. } => "EraseBeneficiary",
        }
    }
}
