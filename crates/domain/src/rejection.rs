//! Rejections: one typed variant per rule, each with a stable code and a message a finance clerk can act on.

use chrono::NaiveDate;

use crate::access::Role;
use crate::catalogue::{FundingTier, InsuranceModel, Period, Programme, TierSplitError, UnitLevel};
use crate::ids::{AwardId, BeneficiaryId, CampaignId, FundId, LoanId, UnitCode, UserId};
use crate::money::{Amount, AmountError, Money};
use crate::rejection_terms::{
    claim_payer_hint, Activity, AmountSubject, CurrentAward, FundUse, LoanAction, LoanStanding,
    ReversalBlock, TextSubject, YearSubject,
};

/// Why `decide` refused a command. Nothing was recorded.
///
/// `Display` is the English message; [`Rejection::detail_zh`] says the same in Chinese.
/// Never serialised: a rejection is answered, not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A payment, share or appropriation of ¥0.00.
    #[error("the {what} must be more than ¥0.00")]
    AmountZero { what: AmountSubject },
    /// An amount that could not be read (negative, too many decimals, malformed); raised
    /// where amounts are parsed, before a command exists.
    #[error(transparent)]
    InvalidAmount(#[from] AmountError),
    /// Tier shares that are not a valid split (empty, duplicate tier, zero share).
    #[error(transparent)]
    InvalidShares(#[from] TierSplitError),
    /// The tier shares do not add up to the amount.
    #[error("the tier shares add up to {shares_total} but the amount is {amount}; correct the shares so they add up")]
    TierSharesMismatch { shares_total: Money, amount: Amount },
    /// A name, reason or label that is empty or too long.
    #[error("the {what} must be between 1 and {max_chars} characters")]
    TextInvalid { what: TextSubject, max_chars: usize },
    /// A year outside the ledger's range.
    #[error("the {what} {year} is outside the years 1980 to 2200")]
    YearInvalid { what: YearSubject, year: i32 },

    /// The unit does not exist.
    #[error("unknown unit {unit}; register the unit first")]
    UnknownUnit { unit: UnitCode },
    /// The unit code is taken.
    #[error("unit {unit} is already registered")]
    UnitExists { unit: UnitCode },
    /// A province was given a parent.
    #[error("unit {unit} is a province and cannot have a parent")]
    ProvinceHasParent { unit: UnitCode },
    /// A non-province was given no parent.
    #[error("unit {unit} is a {level} and needs a parent {expected}")]
    ParentRequired {
        unit: UnitCode,
        level: UnitLevel,
        expected: UnitLevel,
    },
    /// The parent is not exactly one level up.
    #[error("unit {unit} is a {level}, so its parent must be a {expected}; {parent} is a {parent_level}")]
    ParentLevelMismatch {
        unit: UnitCode,
        level: UnitLevel,
        expected: UnitLevel,
        parent: UnitCode,
        parent_level: UnitLevel,
    },

    /// The fund does not exist.
    #[error("unknown fund {fund}; open the fund first")]
    UnknownFund { fund: FundId },
    /// The fund id is taken.
    #[error("fund {fund} is already open")]
    FundExists { fund: FundId },
    /// An insurance fund without a model.
    #[error(
        "insurance fund {fund} needs an insurance model: insurer-underwritten or self-insured"
    )]
    InsuranceModelRequired { fund: FundId },
    /// A non-insurance fund with a model.
    #[error("fund {fund} is a {programme} fund and cannot have an insurance model")]
    InsuranceModelNotApplicable { fund: FundId, programme: Programme },
    /// The command does not fit the fund's programme (a claim against a bursary fund).
    #[error("fund {fund} is a {programme} fund; {action} needs {}", action.expected())]
    ProgrammeMismatch {
        fund: FundId,
        programme: Programme,
        action: FundUse,
    },

    /// The beneficiary does not exist.
    #[error("unknown beneficiary {beneficiary}; register the beneficiary first")]
    UnknownBeneficiary { beneficiary: BeneficiaryId },
    /// The beneficiary id is taken.
    #[error("beneficiary {beneficiary} is already registered")]
    BeneficiaryExists { beneficiary: BeneficiaryId },
    /// The beneficiary lives outside the fund's unit subtree.
    #[error("beneficiary {beneficiary} belongs to unit {beneficiary_unit}, which is outside unit {fund_unit} of fund {fund}")]
    BeneficiaryOutsideFundUnit {
        beneficiary: BeneficiaryId,
        beneficiary_unit: UnitCode,
        fund: FundId,
        fund_unit: UnitCode,
    },

    /// A fund's tier has too little cash.
    #[error(
        "fund {fund} has {available} available in its {tier} tier; the payment needs {needed}"
    )]
    InsufficientFunds {
        fund: FundId,
        tier: FundingTier,
        available: Money,
        needed: Money,
    },
    /// More money arrives than the tier committed.
    #[error("the {tier} tier has {outstanding} committed to fund {fund} and not yet received; a receipt of {amount} exceeds it, so record the commitment first")]
    CommitmentExceeded {
        fund: FundId,
        tier: FundingTier,
        outstanding: Money,
        amount: Amount,
    },

    /// The loan does not exist.
    #[error("unknown loan {loan}")]
    UnknownLoan { loan: LoanId },
    /// The loan id is taken.
    #[error("loan {loan} already exists; give the new loan its own id")]
    LoanExists { loan: LoanId },
    /// The loan cannot take this action in its current status.
    #[error("loan {loan} is {status} and cannot take a {action}")]
    LoanNotActive {
        loan: LoanId,
        status: LoanStanding,
        action: LoanAction,
    },
    /// A repayment's principal is above the outstanding principal.
    #[error("loan {loan} has {outstanding} outstanding; the repayment's principal is {principal}")]
    RepaymentExceedsOutstanding {
        loan: LoanId,
        outstanding: Money,
        principal: Amount,
    },
    /// A term outside the allowed range.
    #[error("a loan term must be 1 to {max} months; {term_months} was given")]
    LoanTermInvalid { term_months: u16, max: u16 },
    /// A grace period outside the allowed range.
    #[error("a grace period must be 0 to {max} months; {grace_months} was given")]
    LoanGraceInvalid { grace_months: u16, max: u16 },
    /// An interest rate outside the allowed range.
    #[error("an annual interest rate must be 0 to {max} basis points; {annual_rate_bp} was given")]
    LoanRateInvalid { annual_rate_bp: u16, max: u16 },

    /// The award does not exist.
    #[error("unknown award {award}")]
    UnknownAward { award: AwardId },
    /// The award id is taken.
    #[error("award {award} already exists; give the new award its own id")]
    AwardExists { award: AwardId },
    /// A housing command with a bursary award or the reverse.
    #[error("award {award} is not a {expected} award")]
    AwardKindMismatch {
        award: AwardId,
        expected: CurrentAward,
    },
    /// A second bursary for the same student, academic year and tier.
    #[error("student {student} already has a {tier} bursary for academic year {academic_year} (award {existing}); this would pay twice, so mark the award as a supplement with a reason if it is intended")]
    DuplicateBursary {
        student: BeneficiaryId,
        academic_year: i32,
        tier: FundingTier,
        existing: AwardId,
    },
    /// An instalment above what is left of the award for a tier.
    #[error("award {award} has {remaining} left to pay from the {tier} tier; the instalment needs {needed}")]
    InstalmentExceedsAward {
        award: AwardId,
        tier: FundingTier,
        remaining: Money,
        needed: Money,
    },
    /// A bursary planned over too few or too many years.
    #[error("a bursary is paid over 1 to 8 years; {years} was given")]
    BursaryYearsInvalid { years: u8 },

    /// The campaign does not exist.
    #[error("unknown campaign {campaign}")]
    UnknownCampaign { campaign: CampaignId },
    /// The campaign id is taken.
    #[error("campaign {campaign} already exists")]
    CampaignExists { campaign: CampaignId },

    /// A claim payer that does not match the fund's insurance model.
    #[error("fund {fund} is {}: {}", model.label(), claim_payer_hint(*model))]
    ClaimPayerMismatch { fund: FundId, model: InsuranceModel },
    /// The tax-exclusive premium is above the tax-inclusive one.
    #[error("the premium excluding tax ({tax_exclusive}) cannot be above the premium including tax ({tax_inclusive})")]
    PremiumTaxInconsistent {
        tax_exclusive: Amount,
        tax_inclusive: Amount,
    },
    /// The coverage ends before it starts.
    #[error("the coverage period ends on {end}, before it starts on {start}")]
    CoverageInvalid { start: NaiveDate, end: NaiveDate },

    /// No pending request at that position.
    #[error("there is no pending payment request at position {request}")]
    UnknownRequest { request: u64 },
    /// The maker tried to approve their own request.
    #[error("user {user} requested payment {request} and cannot also approve it; another member of staff must approve")]
    SelfApproval { request: u64, user: UserId },
    /// `ExpireRequests` found nothing to expire.
    #[error("no pending payment request had expired before {as_of}; nothing was recorded")]
    NothingExpired { as_of: NaiveDate },
    /// The approval window has ended.
    #[error("payment request {request} expired on {expired_on}; submit the payment again")]
    RequestExpired { request: u64, expired_on: NaiveDate },

    /// The effective date lies in a closed period of the unit or one of its ancestors.
    #[error("period {period} is closed for unit {closed_unit}, which covers unit {unit}; an entry dated {date} cannot be recorded, so date the correction in an open period")]
    PeriodClosed {
        unit: UnitCode,
        closed_unit: UnitCode,
        period: Period,
        date: NaiveDate,
    },
    /// The period is already closed for the unit.
    #[error("period {period} is already closed for unit {unit}")]
    PeriodAlreadyClosed { unit: UnitCode, period: Period },
    /// A month outside 1 to 12 or a year out of range.
    #[error("period {period} is not a valid month or year")]
    PeriodInvalid { period: Period },
    /// The business date is after the recording date.
    #[error("the effective date {effective_date} is after the recording date {recorded_on}; money cannot move in the future")]
    EffectiveDateInFuture {
        effective_date: NaiveDate,
        recorded_on: NaiveDate,
    },

    /// No event at that position yet.
    #[error("there is no event at position {position}")]
    UnknownEvent { position: u64 },
    /// The event moves no money.
    #[error("the event at position {position} moves no money and cannot be reversed")]
    NotReversible { position: u64 },
    /// The event was reversed before.
    #[error("the event at position {position} was already reversed by the event at position {reversed_by}")]
    AlreadyReversed { position: u64, reversed_by: u64 },
    /// The event is a reversal.
    #[error("the event at position {position} is a reversal and cannot itself be reversed; record the original entry again instead")]
    CannotReverseReversal { position: u64 },
    /// Later events depend on the one to reverse.
    #[error("the event at position {position} cannot be reversed: {why}")]
    ReversalBlocked { position: u64, why: ReversalBlock },

    /// A repayment, reschedule or write-off dated before the loan was disbursed.
    #[error("loan {loan} was disbursed on {disbursed_on}; a {action} dated {date} cannot come before it")]
    BeforeDisbursement {
        loan: LoanId,
        disbursed_on: NaiveDate,
        date: NaiveDate,
        action: LoanAction,
    },

    /// The acting user is not registered.
    #[error("user {user} is not registered in this ledger; an admin must register them first")]
    UnknownUser { user: UserId },
    /// The acting or target user is disabled.
    #[error("user {user} is disabled")]
    UserDisabled { user: UserId },
    /// A user with that id exists.
    #[error("user {user} is already registered; change their role instead")]
    UserExists { user: UserId },
    /// The role does not allow the command.
    #[error("user {user} is a {role}, and a {role} may not {action}")]
    NotPermitted {
        user: UserId,
        role: Role,
        action: Activity,
    },
    /// The command touches a unit outside the user's subtree.
    #[error("user {user} works within unit {scope}, and {} lies outside it", match unit { Some(u) => format!("unit {u}"), None => "the whole ledger".to_string() })]
    OutOfScope {
        user: UserId,
        scope: UnitCode,
        unit: Option<UnitCode>,
    },
    /// Clerks, approvers and managers must be bound to a unit.
    #[error("a {role} must be bound to a unit (scope); only auditors and admins may have the whole ledger")]
    ScopeRequired { role: Role },
    /// An auditor bound to a unit makes no sense: auditors read everything.
    #[error("an auditor reads the whole ledger and takes no scope")]
    ScopeNotApplicable { role: Role },
    /// That token digest was issued before.
    #[error("a token with digest {token} was issued before; issue a fresh random token")]
    TokenExists { token: String },
    /// No token with that digest.
    #[error("no token with digest {token} was issued")]
    UnknownToken { token: String },
    /// The token was revoked before.
    #[error("the token {token} is already revoked")]
    TokenAlreadyRevoked { token: String },
    /// The token would expire before it is issued.
    #[error("the token would expire on {expires_on}, before it is issued on {issued_on}")]
    TokenExpiryInvalid {
        expires_on: NaiveDate,
        issued_on: NaiveDate,
    },
    /// The change would leave no active admin of the whole ledger.
    #[error("user {user} is the last active admin of the whole ledger; register another before disabling or changing them")]
    LastAdmin { user: UserId },

    /// The user may not read personal information.
    #[error(
        "user {user} has not been granted access to personal information; an admin can grant it"
    )]
    PersonalDataNotPermitted { user: UserId },
    /// The user already has that permission.
    #[error("user {user} already has access to personal information")]
    PersonalDataAccessAlreadyGranted { user: UserId },
    /// The user does not have that permission.
    #[error("user {user} has no access to personal information to withdraw")]
    PersonalDataAccessNotGranted { user: UserId },
    /// The beneficiary's data is restricted: no use but storage, no new payments.
    #[error("beneficiary {beneficiary} is restricted: their personal information may only be stored, and they cannot be paid until an admin lifts the restriction")]
    BeneficiaryRestricted { beneficiary: BeneficiaryId },
    /// The beneficiary's personal information was erased.
    #[error("beneficiary {beneficiary} was erased: their personal information is gone and they cannot be paid or looked up")]
    BeneficiaryErased { beneficiary: BeneficiaryId },
    /// Lifting a restriction that is not in place.
    #[error("beneficiary {beneficiary} is not restricted")]
    BeneficiaryNotRestricted { beneficiary: BeneficiaryId },
    /// Free text that would put personal information into the immutable log.
    #[error("the {what} holds a run of {digits} digits, which looks like an ID, phone or bank-card number; personal information never goes into the log: describe the purpose without it")]
    PersonalDigits { what: TextSubject, digits: usize },
    /// Restricting a beneficiary twice.
    #[error("beneficiary {beneficiary} is already restricted")]
    BeneficiaryAlreadyRestricted { beneficiary: BeneficiaryId },
}

impl Rejection {
    /// A stable machine code (snake_case), documented in docs/DOMAIN.md.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::AmountZero { .. } => "amount_zero",
            Rejection::InvalidAmount(e) => e.code(),
            Rejection::InvalidShares(e) => e.code(),
            Rejection::TierSharesMismatch { .. } => "tier_shares_mismatch",
            Rejection::TextInvalid { .. } => "text_invalid",
            Rejection::YearInvalid { .. } => "year_invalid",
            Rejection::UnknownUnit { .. } => "unknown_unit",
            Rejection::UnitExists { .. } => "unit_exists",
            Rejection::ProvinceHasParent { .. } => "province_has_parent",
            Rejection::ParentRequired { .. } => "parent_required",
            Rejection::ParentLevelMismatch { .. } => "parent_level_mismatch",
            Rejection::UnknownFund { .. } => "unknown_fund",
            Rejection::FundExists { .. } => "fund_exists",
            Rejection::InsuranceModelRequired { .. } => "insurance_model_required",
            Rejection::InsuranceModelNotApplicable { .. } => "insurance_model_not_applicable",
            Rejection::ProgrammeMismatch { .. } => "programme_mismatch",
            Rejection::UnknownBeneficiary { .. } => "unknown_beneficiary",
            Rejection::BeneficiaryExists { .. } => "beneficiary_exists",
            Rejection::BeneficiaryOutsideFundUnit { .. } => "beneficiary_outside_fund_unit",
            Rejection::InsufficientFunds { .. } => "insufficient_funds",
            Rejection::CommitmentExceeded { .. } => "commitment_exceeded",
            Rejection::UnknownLoan { .. } => "unknown_loan",
            Rejection::LoanExists { .. } => "loan_exists",
            Rejection::LoanNotActive { .. } => "loan_not_active",
            Rejection::RepaymentExceedsOutstanding { .. } => "repayment_exceeds_outstanding",
            Rejection::LoanTermInvalid { .. } => "loan_term_invalid",
            Rejection::LoanGraceInvalid { .. } => "loan_grace_invalid",
            Rejection::LoanRateInvalid { .. } => "loan_rate_invalid",
            Rejection::UnknownAward { .. } => "unknown_award",
            Rejection::AwardExists { .. } => "award_exists",
            Rejection::AwardKindMismatch { .. } => "award_kind_mismatch",
            Rejection::DuplicateBursary { .. } => "duplicate_bursary",
            Rejection::InstalmentExceedsAward { .. } => "instalment_exceeds_award",
            Rejection::BursaryYearsInvalid { .. } => "bursary_years_invalid",
            Rejection::UnknownCampaign { .. } => "unknown_campaign",
            Rejection::CampaignExists { .. } => "campaign_exists",
            Rejection::ClaimPayerMismatch { .. } => "claim_payer_mismatch",
            Rejection::PremiumTaxInconsistent { .. } => "premium_tax_inconsistent",
            Rejection::CoverageInvalid { .. } => "coverage_invalid",
            Rejection::UnknownRequest { .. } => "unknown_request",
            Rejection::SelfApproval { .. } => "self_approval",
            Rejection::RequestExpired { .. } => "request_expired",
            Rejection::PeriodClosed { .. } => "period_closed",
            Rejection::PeriodAlreadyClosed { .. } => "period_already_closed",
            Rejection::PeriodInvalid { .. } => "period_invalid",
            Rejection::EffectiveDateInFuture { .. } => "effective_date_in_future",
            Rejection::UnknownEvent { .. } => "unknown_event",
            Rejection::NotReversible { .. } => "not_reversible",
            Rejection::AlreadyReversed { .. } => "already_reversed",
            Rejection::CannotReverseReversal { .. } => "cannot_reverse_reversal",
            Rejection::ReversalBlocked { .. } => "reversal_blocked",
            Rejection::NothingExpired { .. } => "nothing_expired",
            Rejection::BeforeDisbursement { .. } => "before_disbursement",
            Rejection::UnknownUser { .. } => "unknown_user",
            Rejection::UserDisabled { .. } => "user_disabled",
            Rejection::UserExists { .. } => "user_exists",
            Rejection::NotPermitted { .. } => "not_permitted",
            Rejection::OutOfScope { .. } => "out_of_scope",
            Rejection::ScopeRequired { .. } => "scope_required",
            Rejection::ScopeNotApplicable { .. } => "scope_not_applicable",
            Rejection::TokenExists { .. } => "token_exists",
            Rejection::UnknownToken { .. } => "unknown_token",
            Rejection::TokenAlreadyRevoked { .. } => "token_already_revoked",
            Rejection::TokenExpiryInvalid { .. } => "token_expiry_invalid",
            Rejection::LastAdmin { .. } => "last_admin",
            Rejection::PersonalDataNotPermitted { .. } => "personal_data_not_permitted",
            Rejection::PersonalDataAccessAlreadyGranted { .. } => {
                "personal_data_access_already_granted"
            }
            Rejection::PersonalDataAccessNotGranted { .. } => "personal_data_access_not_granted",
            Rejection::BeneficiaryRestricted { .. } => "beneficiary_restricted",
            Rejection::BeneficiaryErased { .. } => "beneficiary_erased",
            Rejection::BeneficiaryNotRestricted { .. } => "beneficiary_not_restricted",
            Rejection::BeneficiaryAlreadyRestricted { .. } => "beneficiary_already_restricted",
            Rejection::PersonalDigits { .. } => "personal_digits",
        }
    }
}
