//! Events: past-tense facts, the recorded envelope `evolve` consumes, the compact `Reversible` record, and the upcasting hook.

use std::collections::BTreeSet;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Deserializer, Serialize};
use smol_str::SmolStr;

use crate::access::{Role, TokenDigest};
use crate::catalogue::{
    BeneficiaryCategory, BeneficiaryKind, ClaimPayer, CondolenceForm, FundingTier, InsuranceModel,
    Period, PolicyLine, Programme, TierSplit, UnitLevel, VisitOutcome,
};
use crate::command::{ClaimPayment, GrantPayment, LoanDisbursement, Payment, PersonalDataAction};
use crate::ids::{AwardId, BeneficiaryId, CampaignId, FundId, LoanId, UnitCode, UserId};
use crate::money::Amount;

/// The schema version every event is written with today.
pub const CURRENT_SCHEMA_VERSION: u16 = 1;

/// A fact the ledger has recorded.
///
/// Serde uses the default externally tagged form (bincode stores the variant index):
/// new variants are only ever appended at the end, never inserted or reordered, and a
/// changed payload gets a new schema version and an upcaster (see `upcast`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Event {
    /// An organisational unit was added.
    UnitRegistered {
        unit: UnitCode,
        name: String,
        level: UnitLevel,
        parent: Option<UnitCode>,
    },
    /// A fund was opened.
    FundOpened {
        fund: FundId,
        unit: UnitCode,
        programme: Programme,
        name: String,
        fiscal_year: Option<i32>,
        approval_threshold: Option<Amount>,
        insurance_model: Option<InsuranceModel>,
    },
    /// A fund's approval threshold was changed.
    ApprovalThresholdSet {
        fund: FundId,
        threshold: Option<Amount>,
    },
    /// A beneficiary was registered.
    BeneficiaryRegistered {
        beneficiary: BeneficiaryId,
        unit: UnitCode,
        kind: BeneficiaryKind,
        categories: BTreeSet<BeneficiaryCategory>,
    },
    /// A tier committed money to a fund.
    AppropriationCommitted {
        fund: FundId,
        tier: FundingTier,
        amount: Amount,
        reference: Option<String>,
    },
    /// Committed money arrived in the fund's cash.
    AppropriationReceived {
        fund: FundId,
        tier: FundingTier,
        amount: Amount,
        reference: Option<String>,
    },
    /// A loan was disbursed (dated by the envelope's effective date).
    LoanDisbursed(LoanDisbursement),
    /// A repayment was received.
    LoanRepaid {
        loan: LoanId,
        fund: FundId,
        tier: FundingTier,
        principal: Amount,
        interest: Amount,
    },
    /// A loan's outstanding principal got a new schedule starting at the effective date.
    LoanRescheduled {
        loan: LoanId,
        fund: FundId,
        outstanding: Amount,
        term_months: u16,
        grace_months: u16,
        annual_rate_bp: u16,
    },
    /// A loan's outstanding principal was written off.
    LoanWrittenOff {
        loan: LoanId,
        fund: FundId,
        tier: FundingTier,
        amount: Amount,
        reason: String,
    },
    /// A Happiness Project grant was paid.
    GrantPaid(GrantPayment),
    /// A housing grant was awarded (a commitment; no money moves yet).
    HousingGrantAwarded {
        award: AwardId,
        fund: FundId,
        beneficiary: BeneficiaryId,
        amount: Amount,
        shares: TierSplit,
    },
    /// A housing grant instalment was paid.
    HousingInstalmentPaid {
        award: AwardId,
        fund: FundId,
        beneficiary: BeneficiaryId,
        amount: Amount,
        shares: TierSplit,
    },
    /// A follow-up visit to a housing grant's family was recorded.
    FollowUpVisitRecorded {
        award: AwardId,
        fund: FundId,
        beneficiary: BeneficiaryId,
        outcome: VisitOutcome,
    },
    /// A bursary was awarded (a commitment; no money moves yet).
    BursaryAwarded {
        award: AwardId,
        fund: FundId,
        student: BeneficiaryId,
        academic_year: i32,
        tier: FundingTier,
        amount: Amount,
        years: u8,
        supplement_reason: Option<String>,
    },
    /// A bursary instalment was paid.
    BursaryInstalmentPaid {
        award: AwardId,
        fund: FundId,
        student: BeneficiaryId,
        academic_year: i32,
        tier: FundingTier,
        amount: Amount,
    },
    /// A condolence campaign was opened.
    CampaignOpened {
        campaign: CampaignId,
        fund: FundId,
        name: String,
    },
    /// A condolence payment was made.
    CondolencePaid {
        campaign: CampaignId,
        fund: FundId,
        beneficiary: BeneficiaryId,
        category: BeneficiaryCategory,
        form: CondolenceForm,
        amount: Amount,
        shares: TierSplit,
    },
    /// Premiums were collected for a coverage period.
    PremiumCollected {
        fund: FundId,
        line: PolicyLine,
        model: InsuranceModel,
        coverage_start: NaiveDate,
        coverage_end: NaiveDate,
        households: u32,
        persons: u32,
        tax_inclusive: Amount,
        tax_exclusive: Amount,
        shares: TierSplit,
    },
    /// A claim was paid to a family (by the insurer or by the fund).
    ClaimPaid(ClaimPayment),
    /// The outstanding-claims reserve (未决) of a fund and line was estimated; replaces the previous estimate.
    ClaimsReserveEstimated {
        fund: FundId,
        line: PolicyLine,
        amount: Amount,
    },
    /// A payment above the fund's threshold was requested and its money reserved.
    /// The request is identified by this event's log position.
    PaymentRequested {
        fund: FundId,
        /// The cash reserved, by tier (what leaves the fund if approved).
        reserved: TierSplit,
        /// The last day the request can be approved.
        expires_on: NaiveDate,
        payment: Payment,
    },
    /// A different user approved a request; the reservation is released and the
    /// payment's own event follows in the same command.
    PaymentApproved {
        request: u64,
        fund: FundId,
        reserved: TierSplit,
    },
    /// A request was rejected; its reservation is released.
    PaymentRejected {
        request: u64,
        fund: FundId,
        reserved: TierSplit,
        reason: String,
    },
    /// A request's approval window ended; its reservation is released.
    PaymentRequestExpired {
        request: u64,
        fund: FundId,
        reserved: TierSplit,
    },
    /// A period was closed for a unit and its subtree.
    PeriodClosed { unit: UnitCode, period: Period },
    /// A money event was reversed; `reversed` carries what the original moved, and the
    /// reversal posts exactly the opposite lines.
    EventReversed {
        position: u64,
        reason: String,
        reversed: Reversible,
    },
    /// A member of staff was registered.
    UserRegistered {
        user: UserId,
        role: Role,
        scope: Option<UnitCode>,
    },
    /// A user's role or scope changed.
    UserRoleChanged {
        user: UserId,
        role: Role,
        scope: Option<UnitCode>,
    },
    /// A user was disabled.
    UserDisabled { user: UserId, reason: String },
    /// An API token was issued (its digest only).
    TokenIssued {
        token: TokenDigest,
        user: UserId,
        expires_on: Option<NaiveDate>,
    },
    /// An API token was revoked.
    TokenRevoked {
        token: TokenDigest,
        user: UserId,
        reason: String,
    },
    /// A user may now read beneficiaries' personal information.
    PersonalDataAccessGranted { user: UserId, reason: String },
    /// A user may no longer read beneficiaries' personal information.
    PersonalDataAccessWithdrawn { user: UserId, reason: String },
    /// The actor read or changed a beneficiary's personal information in the registry
    /// (recorded before the registry disclosed anything). Names the person by opaque id
    /// only; the purpose is the actor's own words.
    PersonalDataAccessed {
        beneficiary: BeneficiaryId,
        action: PersonalDataAction,
        purpose: String,
    },
    /// Use of a beneficiary's personal information stopped except for storage.
    BeneficiaryRestricted {
        beneficiary: BeneficiaryId,
        reason: String,
    },
    /// A restriction was lifted.
    BeneficiaryRestrictionLifted {
        beneficiary: BeneficiaryId,
        reason: String,
    },
    /// A beneficiary's personal information was erased (the registry destroyed the
    /// person's key); the history of payments stays.
    BeneficiaryErased {
        beneficiary: BeneficiaryId,
        reason: String,
    },
}

impl Event {
    /// A stable name for the event type, stored next to the payload and used by `upcast`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::UnitRegistered { .. } => "UnitRegistered",
            Event::FundOpened { .. } => "FundOpened",
            Event::ApprovalThresholdSet { .. } => "ApprovalThresholdSet",
            Event::BeneficiaryRegistered { .. } => "BeneficiaryRegistered",
            Event::AppropriationCommitted { .. } => "AppropriationCommitted",
            Event::AppropriationReceived { .. } => "AppropriationReceived",
            Event::LoanDisbursed(_) => "LoanDisbursed",
            Event::LoanRepaid { .. } => "LoanRepaid",
            Event::LoanRescheduled { .. } => "LoanRescheduled",
            Event::LoanWrittenOff { .. } => "LoanWrittenOff",
            Event::GrantPaid(_) => "GrantPaid",
            Event::HousingGrantAwarded { .. } => "HousingGrantAwarded",
            Event::HousingInstalmentPaid { .. } => "HousingInstalmentPaid",
            Event::FollowUpVisitRecorded { .. } => "FollowUpVisitRecorded",
            Event::BursaryAwarded { .. } => "BursaryAwarded",
            Event::BursaryInstalmentPaid { .. } => "BursaryInstalmentPaid",
            Event::CampaignOpened { .. } => "CampaignOpened",
            Event::CondolencePaid { .. } => "CondolencePaid",
            Event::PremiumCollected { .. } => "PremiumCollected",
            Event::ClaimPaid(_) => "ClaimPaid",
            Event::ClaimsReserveEstimated { .. } => "ClaimsReserveEstimated",
            Event::PaymentRequested { .. } => "PaymentRequested",
            Event::PaymentApproved { .. } => "PaymentApproved",
            Event::PaymentRejected { .. } => "PaymentRejected",
            Event::PaymentRequestExpired { .. } => "PaymentRequestExpired",
            Event::PeriodClosed { .. } => "PeriodClosed",
            Event::EventReversed { .. } => "EventReversed",
            Event::UserRegistered { .. } => "UserRegistered",
            Event::UserRoleChanged { .. } => "UserRoleChanged",
            Event::UserDisabled { .. } => "UserDisabled",
            Event::TokenIssued { .. } => "TokenIssued",
            Event::TokenRevoked { .. } => "TokenRevoked",
            Event::PersonalDataAccessGranted { .. } => "PersonalDataAccessGranted",
            Event::PersonalDataAccessWithdrawn { .. } => "PersonalDataAccessWithdrawn",
            Event::PersonalDataAccessed { .. } => "PersonalDataAccessed",
            Event::BeneficiaryRestricted { .. } => "BeneficiaryRestricted",
            Event::BeneficiaryRestrictionLifted { .. } => "BeneficiaryRestrictionLifted",
            Event::BeneficiaryErased { .. } => "BeneficiaryErased",
        }
    }

    /// The schema version of this event's payload; 1 for every event today.
    pub fn schema_version(&self) -> u16 {
        CURRENT_SCHEMA_VERSION
    }

    /// Every event type name, for documentation, golden files and the store's codec.
    pub const TYPES: [&'static str; 38] = [
        "UnitRegistered",
        "FundOpened",
        "ApprovalThresholdSet",
        "BeneficiaryRegistered",
        "AppropriationCommitted",
        "AppropriationReceived",
        "LoanDisbursed",
        "LoanRepaid",
        "LoanRescheduled",
        "LoanWrittenOff",
        "GrantPaid",
        "HousingGrantAwarded",
        "HousingInstalmentPaid",
        "FollowUpVisitRecorded",
        "BursaryAwarded",
        "BursaryInstalmentPaid",
        "CampaignOpened",
        "CondolencePaid",
        "PremiumCollected",
        "ClaimPaid",
        "ClaimsReserveEstimated",
        "PaymentRequested",
        "PaymentApproved",
        "PaymentRejected",
        "PaymentRequestExpired",
        "PeriodClosed",
        "EventReversed",
        "UserRegistered",
        "UserRoleChanged",
        "UserDisabled",
        "TokenIssued",
        "TokenRevoked",
        "PersonalDataAccessGranted",
        "PersonalDataAccessWithdrawn",
        "PersonalDataAccessed",
        "BeneficiaryRestricted",
        "BeneficiaryRestrictionLifted",
        "BeneficiaryErased",
    ];

    /// The fund the event belongs to, if any.
    pub fn fund(&self) -> Option<&FundId> {
        match self {
            Event::UnitRegistered { .. }
            | Event::BeneficiaryRegistered { .. }
            | Event::PeriodClosed { .. }
            | Event::UserRegistered { .. }
            | Event::UserRoleChanged { .. }
            | Event::UserDisabled { .. }
            | Event::TokenIssued { .. }
            | Event::PersonalDataAccessGranted { .. }
            | Event::PersonalDataAccessWithdrawn { .. }
            | Event::PersonalDataAccessed { .. }
            | Event::BeneficiaryRestricted { .. }
            | Event::BeneficiaryRestrictionLifted { .. }
            | Event::BeneficiaryErased { .. }
            | Event::TokenRevoked { .. } => None,
            Event::FundOpened { fund, .. }
            | Event::ApprovalThresholdSet { fund, .. }
            | Event::AppropriationCommitted { fund, .. }
            | Event::AppropriationReceived { fund, .. }
            | Event::LoanRepaid { fund, .. }
            | Event::LoanRescheduled { fund, .. }
            | Event::LoanWrittenOff { fund, .. }
            | Event::HousingGrantAwarded { fund, .. }
            | Event::HousingInstalmentPaid { fund, .. }
            | Event::FollowUpVisitRecorded { fund, .. }
            | Event::BursaryAwarded { fund, .. }
            | Event::BursaryInstalmentPaid { fund, .. }
            | Event::CampaignOpened { fund, .. }
            | Event::CondolencePaid { fund, .. }
            | Event::PremiumCollected { fund, .. }
            | Event::ClaimsReserveEstimated { fund, .. }
            | Event::PaymentRequested { fund, .. }
            | Event::PaymentApproved { fund, .. }
            | Event::PaymentRejected { fund, .. }
            | Event::PaymentRequestExpired { fund, .. } => Some(fund),
            Event::LoanDisbursed(l) => Some(&l.fund),
            Event::GrantPaid(g) => Some(&g.fund),
            Event::ClaimPaid(c) => Some(&c.fund),
            Event::EventReversed { reversed, .. } => Some(reversed.fund()),
        }
    }

    /// The compact record of what a money event moved, which is what a reversal needs.
    /// `None` for events that move no money and so cannot be reversed.
    pub fn reversible(&self) -> Option<Reversible> {
        let record = match self {
            Event::AppropriationCommitted {
                fund, tier, amount, ..
            } => Reversible::Commitment {
                fund: fund.clone(),
                tier: *tier,
                amount: *amount,
            },
            Event::AppropriationReceived {
                fund, tier, amount, ..
            } => Reversible::Receipt {
                fund: fund.clone(),
                tier: *tier,
                amount: *amount,
            },
            Event::LoanDisbursed(l) => Reversible::Loan {
                fund: l.fund.clone(),
                loan: l.loan.clone(),
                tier: l.tier,
                principal: l.principal,
            },
            Event::LoanRepaid {
                loan,
                fund,
                tier,
                principal,
                interest,
            } => Reversible::Repayment {
                fund: fund.clone(),
                loan: loan.clone(),
                tier: *tier,
                principal: *principal,
                interest: *interest,
            },
            Event::LoanWrittenOff {
                loan,
                fund,
                tier,
                amount,
                ..
            } => Reversible::WriteOff {
                fund: fund.clone(),
                loan: loan.clone(),
                tier: *tier,
                amount: *amount,
            },
            Event::GrantPaid(g) => Reversible::Payment {
                fund: g.fund.clone(),
                purpose: Purpose::Grant,
                shares: g.shares.clone(),
            },
            Event::HousingGrantAwarded { award, fund, .. } => Reversible::HousingAward {
                fund: fund.clone(),
                award: award.clone(),
            },
            Event::HousingInstalmentPaid {
                award,
                fund,
                shares,
                ..
            } => Reversible::Payment {
                fund: fund.clone(),
                purpose: Purpose::HousingInstalment {
                    award: award.clone(),
                },
                shares: shares.clone(),
            },
            Event::BursaryAwarded { award, fund, .. } => Reversible::BursaryAward {
                fund: fund.clone(),
                award: award.clone(),
            },
            Event::BursaryInstalmentPaid {
                award,
                fund,
                tier,
                amount,
                ..
            } => Reversible::Payment {
                fund: fund.clone(),
                purpose: Purpose::BursaryInstalment {
                    award: award.clone(),
                },
                shares: TierSplit::single(*tier, *amount)
                    .expect("a recorded bursary instalment is above zero"),
            },
            Event::CondolencePaid { fund, shares, .. } => Reversible::Payment {
                fund: fund.clone(),
                purpose: Purpose::Condolence,
                shares: shares.clone(),
            },
            Event::PremiumCollected {
                fund,
                line,
                model,
                households,
                persons,
                tax_exclusive,
                shares,
                ..
            } => Reversible::Premium {
                fund: fund.clone(),
                line: *line,
                model: *model,
                shares: shares.clone(),
                tax_exclusive: *tax_exclusive,
                households: *households,
                persons: *persons,
            },
            Event::ClaimPaid(c) => match &c.payer {
                ClaimPayer::Insurer => Reversible::InsurerClaim {
                    fund: c.fund.clone(),
                    line: c.line,
                    amount: c.amount,
                },
                ClaimPayer::Fund { shares } => Reversible::Payment {
                    fund: c.fund.clone(),
                    purpose: Purpose::Claim { line: c.line },
                    shares: shares.clone(),
                },
            },
            Event::UnitRegistered { .. }
            | Event::FundOpened { .. }
            | Event::ApprovalThresholdSet { .. }
            | Event::BeneficiaryRegistered { .. }
            | Event::LoanRescheduled { .. }
            | Event::FollowUpVisitRecorded { .. }
            | Event::CampaignOpened { .. }
            | Event::ClaimsReserveEstimated { .. }
            | Event::PaymentRequested { .. }
            | Event::PaymentApproved { .. }
            | Event::PaymentRejected { .. }
            | Event::PaymentRequestExpired { .. }
            | Event::PeriodClosed { .. }
            | Event::EventReversed { .. }
            | Event::UserRegistered { .. }
            | Event::UserRoleChanged { .. }
            | Event::UserDisabled { .. }
            | Event::TokenIssued { .. }
            | Event::PersonalDataAccessGranted { .. }
            | Event::PersonalDataAccessWithdrawn { .. }
            | Event::PersonalDataAccessed { .. }
            | Event::BeneficiaryRestricted { .. }
            | Event::BeneficiaryRestrictionLifted { .. }
            | Event::BeneficiaryErased { .. }
            | Event::TokenRevoked { .. } => return None,
        };
        Some(record)
    }
}

/// What a cash payment out of a fund was for (the part of a `Reversible::Payment`
/// that tells `evolve` which other counters to undo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Purpose {
    /// A Happiness Project grant.
    Grant,
    /// A housing instalment of this award.
    HousingInstalment { award: AwardId },
    /// A bursary instalment of this award.
    BursaryInstalment { award: AwardId },
    /// A condolence payment.
    Condolence,
    /// A claim paid from a self-insured fund.
    Claim { line: PolicyLine },
}

/// The compact record of a reversible event: enough to post the opposite lines and to
/// undo its effect on the state, without the beneficiary, batch or memo details.
/// The state keeps one per unreversed money event, keyed by log position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Reversible {
    /// `AppropriationCommitted`.
    Commitment {
        fund: FundId,
        tier: FundingTier,
        amount: Amount,
    },
    /// `AppropriationReceived`.
    Receipt {
        fund: FundId,
        tier: FundingTier,
        amount: Amount,
    },
    /// `LoanDisbursed`.
    Loan {
        fund: FundId,
        loan: LoanId,
        tier: FundingTier,
        principal: Amount,
    },
    /// `LoanRepaid`.
    Repayment {
        fund: FundId,
        loan: LoanId,
        tier: FundingTier,
        principal: Amount,
        interest: Amount,
    },
    /// `LoanWrittenOff`.
    WriteOff {
        fund: FundId,
        loan: LoanId,
        tier: FundingTier,
        amount: Amount,
    },
    /// Grants, housing and bursary instalments, condolence payments, self-insured claims.
    Payment {
        fund: FundId,
        purpose: Purpose,
        shares: TierSplit,
    },
    /// `PremiumCollected`.
    Premium {
        fund: FundId,
        line: PolicyLine,
        model: InsuranceModel,
        shares: TierSplit,
        tax_exclusive: Amount,
        households: u32,
        persons: u32,
    },
    /// `ClaimPaid` by the insurer.
    InsurerClaim {
        fund: FundId,
        line: PolicyLine,
        amount: Amount,
    },
    /// `HousingGrantAwarded` (no postings: an award is a commitment).
    HousingAward { fund: FundId, award: AwardId },
    /// `BursaryAwarded` (no postings: an award is a commitment).
    BursaryAward { fund: FundId, award: AwardId },
}

impl Reversible {
    /// The fund the record belongs to.
    pub fn fund(&self) -> &FundId {
        match self {
            Reversible::Commitment { fund, .. }
            | Reversible::Receipt { fund, .. }
            | Reversible::Loan { fund, .. }
            | Reversible::Repayment { fund, .. }
            | Reversible::WriteOff { fund, .. }
            | Reversible::Payment { fund, .. }
            | Reversible::Premium { fund, .. }
            | Reversible::InsurerClaim { fund, .. }
            | Reversible::HousingAward { fund, .. }
            | Reversible::BursaryAward { fund, .. } => fund,
        }
    }

    /// The name of the event type the record came from.
    pub fn event_type(&self) -> &'static str {
        match self {
            Reversible::Commitment { .. } => "AppropriationCommitted",
            Reversible::Receipt { .. } => "AppropriationReceived",
            Reversible::Loan { .. } => "LoanDisbursed",
            Reversible::Repayment { .. } => "LoanRepaid",
            Reversible::WriteOff { .. } => "LoanWrittenOff",
            Reversible::Payment { purpose, .. } => match purpose {
                Purpose::Grant => "GrantPaid",
                Purpose::HousingInstalment { .. } => "HousingInstalmentPaid",
                Purpose::BursaryInstalment { .. } => "BursaryInstalmentPaid",
                Purpose::Condolence => "CondolencePaid",
                Purpose::Claim { .. } => "ClaimPaid",
            },
            Reversible::Premium { .. } => "PremiumCollected",
            Reversible::InsurerClaim { .. } => "ClaimPaid",
            Reversible::HousingAward { .. } => "HousingGrantAwarded",
            Reversible::BursaryAward { .. } => "BursaryAwarded",
        }
    }
}

/// An event as the log recorded it: its global position and the command's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// The event's global log position (strictly increasing; gaps are tolerated).
    pub position: u64,
    /// The command that produced it (held inline up to 23 bytes: see [`crate::ids`]).
    pub command_id: SmolStr,
    /// Who issued the command.
    pub actor: UserId,
    /// The business date.
    pub effective_date: NaiveDate,
    /// When it was recorded.
    pub recorded_at: NaiveDateTime,
    /// The fact itself.
    pub event: Event,
}

/// Why a stored event could not be decoded into today's `Event`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpcastError {
    /// A version this build does not know (written by a newer build, or corrupt).
    #[error("event type {event_type} has unknown schema version {schema_version}")]
    UnknownVersion {
        event_type: String,
        schema_version: u16,
    },
    /// The payload decoded, but as a different event type than its label says.
    #[error("event labelled {expected} decoded as {found}")]
    TypeMismatch {
        expected: String,
        found: &'static str,
    },
}

/// Decodes a stored event of any schema version into today's `Event`.
///
/// The store keeps `event_type` and `schema_version` next to each payload and passes a
/// deserializer positioned on the payload; the domain stays format-agnostic. Version 1
/// decodes directly. When an event's payload changes, its old shape is kept here as a
/// frozen struct (e.g. `LoanDisbursedV1`), the current version constant goes up, and a
/// match arm `("LoanDisbursed", 1) => LoanDisbursedV1::deserialize(d)?.into()` converts
/// old payloads field by field, filling new fields with their documented defaults.
pub fn upcast<'de, D>(
    event_type: &str,
    schema_version: u16,
    deserializer: D,
) -> Result<Event, D::Error>
where
    D: Deserializer<'de>,
{
    use serde::de::Error as _;
    match schema_version {
        CURRENT_SCHEMA_VERSION => {
            let event = Event::deserialize(deserializer)?;
            if event.event_type() != event_type {
                return Err(D::Error::custom(UpcastError::TypeMismatch {
                    expected: event_type.to_owned(),
                    found: event.event_type(),
                }));
            }
            Ok(event)
        }
        _ => Err(D::Error::custom(UpcastError::UnknownVersion {
            event_type: event_type.to_owned(),
            schema_version,
        })),
    }
}
