//! Welfare Ledger's read models: pure folds over the domain's events that answer every query of the ledger.
//!
//! Each projection is a [`Projection`]: it starts empty (`Default`), takes every
//! [`EventRecord`] of the log once, in position order, through [`Projection::apply`],
//! and answers queries with pure functions over its state. No IO, no clock, no
//! storage: the engine feeds the events, keeps each projection's checkpoint beside its
//! serialised state, and rebuilds any of them from position 0.
//!
//! | projection | answers |
//! |---|---|
//! | [`FundLedger`] | fund balance now, as of an effective date or a log position; bank-statement view |
//! | [`ProgrammeReports`] | programme totals, beneficiaries helped, rates and growth for a unit's subtree and a period |
//! | [`InsuranceReports`] | premiums, cover, claims, labelled loss ratios and premium growth |
//! | [`LoanReports`] | lending figures, repayment rate, overdue principal, PAR30, rounds as of a date |
//! | [`AuditTrail`] | every event by beneficiary, fund, actor, command id or effective dates, reversals linked both ways |
//! | [`PersonalDataLog`] | every read or change of personal information, grant of the permission, restriction and erasure |
//!
//! "As of an effective date" always means: the events whose effective (business) date
//! is on or before that date, whenever they were recorded. A correction dated in the
//! past therefore changes later as-of answers, and a reversal takes effect on its own
//! effective date. docs/PROJECTIONS.md states every figure's formula.

mod access_log;
mod audit;
mod chunked;
mod directory;
mod figures;
mod fund_ledger;
mod insurance;
mod intern;
mod loans;
mod log_records;
mod pack;
mod pairs;
mod programmes;
mod query;
mod symbols;
mod time;

use std::sync::Arc;

use ledger_domain::{BeneficiaryId, Event, Payment};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use access_log::{AccessEntry, AccessFilter, AccessKind, PersonalDataLog};
pub use audit::{AuditRecord, AuditTrail};
pub use figures::{FundFigures, TierFigures};
pub use fund_ledger::{FundLedger, Statement, StatementLine};
pub use insurance::{
    InsuranceFigures, InsuranceReport, InsuranceReports, LabelledRate, UnitInsurance,
    INCURRED_LOSS_RATIO_FORMULA, PREMIUM_GROWTH_FORMULA, SIMPLE_LOSS_RATIO_FORMULA,
};
pub use loans::{LoanReport, LoanReports, PAR_DAYS_PAST_DUE};
pub use log_records::LogRecords;
pub use programmes::{
    Helped, ProgrammeReport, ProgrammeReports, ProgrammeRow, TierRow, UnitProgrammes,
};
pub use query::{DateRange, Page, PageRequest, QueryError, PAGE_SIZE_MAX};
pub use symbols::{SymbolTable, Symbols};

/// One event as the engine hands it to the projections: the domain's envelope plus what
/// the log's record adds (the memo, and the chain hash that follows the record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Position, command id, actor, dates and the event.
    pub recorded: ledger_domain::Recorded,
    /// Why: the free-text memo or reference the clerk gave with the command. Shared:
    /// a decoder hands runs of events with one memo the same allocation.
    pub memo: Arc<str>,
    /// The record's hash in the log's hash chain.
    pub hash: [u8; 32],
    /// Numbers for its ids from the decoder's [`SymbolTable`], if it has one
    /// (`Symbols::default()` otherwise): they speed up interning and change no answer.
    #[serde(skip)]
    pub symbols: Symbols,
}

/// The beneficiary an event names in its own fields, if any (a repayment, an approval
/// or a reversal concerns one only through an earlier event).
pub(crate) fn named_beneficiary(event: &Event) -> Option<&BeneficiaryId> {
    Some(match event {
        Event::GrantPaid(g) => &g.beneficiary,
        Event::LoanDisbursed(l) => &l.beneficiary,
        Event::ClaimPaid(c) => &c.beneficiary,
        Event::BeneficiaryRegistered { beneficiary, .. }
        | Event::HousingGrantAwarded { beneficiary, .. }
        | Event::HousingInstalmentPaid { beneficiary, .. }
        | Event::FollowUpVisitRecorded { beneficiary, .. }
        | Event::CondolencePaid { beneficiary, .. }
        | Event::PersonalDataAccessed { beneficiary, .. }
        | Event::BeneficiaryRestricted { beneficiary, .. }
        | Event::BeneficiaryRestrictionLifted { beneficiary, .. }
        | Event::BeneficiaryErased { beneficiary, .. } => beneficiary,
        Event::BursaryAwarded { student, .. } | Event::BursaryInstalmentPaid { student, .. } => {
            student
        }
        Event::PaymentRequested { payment, .. } => match payment {
            Payment::Loan(l) => &l.beneficiary,
            Payment::Grant(g) => &g.beneficiary,
            Payment::Condolence(c) => &c.beneficiary,
            Payment::Claim(c) => &c.beneficiary,
            Payment::HousingInstalment(_) | Payment::BursaryInstalment(_) | Payment::Premium(_) => {
                return None
            }
        },
        Event::UnitRegistered { .. }
        | Event::FundOpened { .. }
        | Event::ApprovalThresholdSet { .. }
        | Event::AppropriationCommitted { .. }
        | Event::AppropriationReceived { .. }
        | Event::LoanRepaid { .. }
        | Event::LoanRescheduled { .. }
        | Event::LoanWrittenOff { .. }
        | Event::CampaignOpened { .. }
        | Event::PremiumCollected { .. }
        | Event::ClaimsReserveEstimated { .. }
        | Event::PaymentApproved { .. }
        | Event::PaymentRejected { .. }
        | Event::PaymentRequestExpired { .. }
        | Event::PeriodClosed { .. }
        | Event::EventReversed { .. }
        | Event::UserRegistered { .. }
        | Event::UserRoleChanged { .. }
        | Event::UserDisabled { .. }
        | Event::TokenIssued { .. }
        | Event::TokenRevoked { .. }
        | Event::PersonalDataAccessGranted { .. }
        | Event::PersonalDataAccessWithdrawn { .. } => return None,
    })
}

/// A read model: a fold over the log.
///
/// Contract with the engine: `Default` is the empty projection (before position 0);
/// `apply` receives every event of the log exactly once in increasing position order
/// and panics otherwise (a programmer error, like the domain's `evolve`); the state
/// round-trips through serde, including bincode's serde mode (no `flatten`, `untagged`,
/// `skip_serializing_if` or `deserialize_any` anywhere), so the engine can store it
/// with its checkpoint. Applying the log in one pass and applying it in two parts with
/// a serialisation in between give equal states.
pub trait Projection:
    Default + std::fmt::Debug + PartialEq + Send + Serialize + DeserializeOwned
{
    /// A stable name, usable as a storage key.
    const NAME: &'static str;

    /// The layout of the serialised state. Raise it whenever a serialised field
    /// changes: the engine stores each layout under its own name
    /// ([`checkpoint_name`]), so it never decodes a checkpoint of another layout,
    /// which bincode could misread (as an enormous length, say) instead of refusing.
    const LAYOUT_VERSION: u32 = 1;

    /// Folds one event into the projection.
    fn apply(&mut self, record: &EventRecord);

    /// One past the position of the last event applied (0 when empty): the checkpoint
    /// the engine stores with the state.
    fn next_position(&self) -> u64;
}

/// The storage key of a projection's checkpoint: its name, followed by `-v` and its
/// layout version from version 2 on.
pub fn checkpoint_name<P: Projection>() -> String {
    layout_name(P::NAME, P::LAYOUT_VERSION)
}

/// The checkpoint names of `P`'s earlier layouts, which no build of this version reads:
/// the engine removes them once it has saved the current one.
pub fn superseded_checkpoint_names<P: Projection>() -> Vec<String> {
    (1..P::LAYOUT_VERSION)
        .map(|version| layout_name(P::NAME, version))
        .collect()
}

fn layout_name(name: &str, version: u32) -> String {
    match version {
        1 => name.to_string(),
        version => format!("{name}-v{version}"),
    }
}

/// Checks the engine's contract on positions and returns the position to record as
/// applied. Shared by every projection so that the message is the same everywhere.
fn advance(next_position: &mut u64, record: &EventRecord, name: &str) {
    let position = record.recorded.position;
    assert!(
        position >= *next_position,
        "projection {name} got position {position} after {}: events must arrive once, in order",
        *next_position
    );
    *next_position = position + 1;
}

/// Serialises a chain hash as 64 lowercase hex digits.
pub(crate) fn hex_hash<S: serde::Serializer>(
    hash: &[u8; 32],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(64);
    for b in hash {
        let _ = write!(text, "{b:02x}");
    }
    serializer.serialize_str(&text)
}
