//! Welfare Ledger's pure domain core: money, organisations, funds, programmes, commands, events, `decide` and `evolve`.
//!
//! No IO, no clock, no randomness: time and ids are arguments. The engine calls
//! [`decide`] with the current [`State`], a [`Command`] and a [`CommandContext`]; it
//! records the returned events and feeds each back through [`evolve`] inside a
//! [`Recorded`] envelope. Every money event carries balanced double-entry postings
//! ([`Event::postings`]). docs/DOMAIN.md describes the programmes, accounts, controls
//! and rates.

pub mod access;
pub mod catalogue;
pub mod command;
pub mod decide;
pub mod event;
pub mod ids;
pub mod ledger;
pub mod money;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod rates;
pub mod rejection;
pub mod rejection_terms;
mod rejection_zh;
pub mod scenario;
pub mod state;

pub use access::{authorize, authorize_with, Access, Role, Token, TokenDigest, TokenError, User};
pub use catalogue::{
    BeneficiaryCategory, BeneficiaryKind, ClaimPayer, CondolenceForm, FundingTier, GrantModality,
    InsuranceModel, Period, PolicyLine, Programme, TierShare, TierSplit, TierSplitError, UnitLevel,
    VisitOutcome,
};
pub use command::{
    business_date, BursaryInstalment, ClaimPayment, Command, CommandContext, CondolencePayment,
    GrantPayment, HousingInstalment, LoanDisbursement, Payment, PersonalDataAction, PremiumPayment,
    BUSINESS_UTC_OFFSET_HOURS,
};
pub use decide::{decide, decide_with};
pub use event::{
    upcast, Event, Purpose, Recorded, Reversible, UpcastError, CURRENT_SCHEMA_VERSION,
};
pub use ids::{AwardId, BeneficiaryId, CampaignId, FundId, IdError, LoanId, UnitCode, UserId};
pub use ledger::{Account, Posting, Side};
pub use money::{Amount, AmountError, Money, AMOUNT_MAX_YUAN};
pub use rates::Percent;
pub use rejection::Rejection;
pub use rejection_terms::{
    Activity, AmountSubject, CurrentAward, FundUse, LoanAction, LoanStanding, ReversalBlock,
    TextSubject, YearSubject,
};
pub use smol_str::SmolStr;
pub use state::{evolve, Beneficiary, BeneficiaryStatus, FundBalance, State};
