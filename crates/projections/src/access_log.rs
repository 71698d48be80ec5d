//! The personal-information access log: every read or change of a beneficiary's
//! personal information, every grant or withdrawal of the permission, and every
//! restriction and erasure, as the log recorded them. The registry writes its
//! `PersonalDataAccessed` event before it discloses anything, so this fold is the
//! complete record of who saw whose data, when and why (docs/PRIVACY.md).

use chrono::{NaiveDate, NaiveDateTime};
use ledger_domain::{BeneficiaryId, Event, PersonalDataAction, UserId};
use serde::{Deserialize, Serialize};

use crate::query::{DateRange, Page, PageRequest};
use crate::{advance, EventRecord, Projection};

/// What an access-log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccessKind {
    /// Read by the beneficiary's id.
    Read,
    /// Found by an ID number and read.
    LookUpByIdNumber,
    /// Contact data changed.
    UpdateContact,
    /// A user was granted the permission.
    PermissionGranted,
    /// A user's permission was withdrawn.
    PermissionWithdrawn,
    /// The beneficiary's data was restricted.
    Restricted,
    /// A restriction was lifted.
    RestrictionLifted,
    /// The beneficiary's data was erased.
    Erased,
}

/// One entry of the access log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessEntry {
    /// The event's position in the log.
    pub position: u64,
    /// When it was recorded (UTC).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub recorded_at: NaiveDateTime,
    /// Its business date.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub effective_date: NaiveDate,
    /// Who did it.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub actor: UserId,
    /// The command id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub command_id: ledger_domain::SmolStr,
    /// What was done.
    pub kind: AccessKind,
    /// Whose data (absent for grants and withdrawals).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub beneficiary: Option<BeneficiaryId>,
    /// The member of staff granted or withdrawn the permission.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub user: Option<UserId>,
    /// The purpose or reason given.
    pub reason: String,
}

/// Which entries to list; every given condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessFilter {
    pub beneficiary: Option<BeneficiaryId>,
    /// The actor, or the user granted or withdrawn the permission.
    pub user: Option<UserId>,
    pub dates: Option<DateRange>,
}

impl AccessFilter {
    fn admits(&self, entry: &AccessEntry) -> bool {
        self.beneficiary
            .as_ref()
            .is_none_or(|b| entry.beneficiary.as_ref() == Some(b))
            && self
                .user
                .as_ref()
                .is_none_or(|u| &entry.actor == u || entry.user.as_ref() == Some(u))
            && self
                .dates
                .is_none_or(|range| range.contains(entry.effective_date))
    }
}

/// The access log as a fold. Holds only the personal-information events, which are
/// few beside the money events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalDataLog {
    entries: Vec<AccessEntry>,
    next_position: u64,
}

impl PersonalDataLog {
    /// The entries that pass `filter`, in log order, one page of them.
    pub fn entries(&self, filter: &AccessFilter, page: PageRequest) -> Page<AccessEntry> {
        let matching: Vec<&AccessEntry> =
            self.entries.iter().filter(|e| filter.admits(e)).collect();
        let items = matching[page.window(matching.len())]
            .iter()
            .map(|e| (*e).clone())
            .collect();
        Page::new(items, matching.len() as u64, page)
    }

    /// How many entries the log holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no personal information was ever accessed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Projection for PersonalDataLog {
    const NAME: &'static str = "personal_data_log";

    fn apply(&mut self, record: &EventRecord) {
        advance(&mut self.next_position, record, Self::NAME);
        let r = &record.recorded;
        let (kind, beneficiary, user, reason) = match &r.event {
            Event::PersonalDataAccessed {
                beneficiary,
                action,
                purpose,
            } => (
                match action {
                    PersonalDataAction::Read => AccessKind::Read,
                    PersonalDataAction::LookUpByIdNumber => AccessKind::LookUpByIdNumber,
                    PersonalDataAction::UpdateContact => AccessKind::UpdateContact,
                },
                Some(beneficiary),
                None,
                purpose,
            ),
            Event::PersonalDataAccessGranted { user, reason } => {
                (AccessKind::PermissionGranted, None, Some(user), reason)
            }
            Event::PersonalDataAccessWithdrawn { user, reason } => {
                (AccessKind::PermissionWithdrawn, None, Some(user), reason)
            }
            Event::BeneficiaryRestricted {
                beneficiary,
                reason,
            } => (AccessKind::Restricted, Some(beneficiary), None, reason),
            Event::BeneficiaryRestrictionLifted {
                beneficiary,
                reason,
            } => (
                AccessKind::RestrictionLifted,
                Some(beneficiary),
                None,
                reason,
            ),
            Event::BeneficiaryErased {
                beneficiary,
                reason,
            } => (AccessKind::Erased, Some(beneficiary), None, reason),
            _ => return,
        };
        self.entries.push(AccessEntry {
            position: r.position,
            recorded_at: r.recorded_at,
            effective_date: r.effective_date,
            actor: r.actor.clone(),
            command_id: r.command_id.clone(),
            kind,
            beneficiary: beneficiary.cloned(),
            user: user.cloned(),
            reason: reason.clone(),
        });
    }

    fn next_position(&self) -> u64 {
        self.next_position
    }
}
