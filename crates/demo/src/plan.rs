//! The generated plan: steps in date order, the staff who issue them, and what the
//! plan promises the domain will do with them.

use chrono::NaiveDate;
use ledger_domain::{Command, Programme, UnitCode, UserId};

use crate::config::DemoConfig;

/// What a step asks of the ledger. Approvals, rejections and reversals name a log
/// position that exists only once an earlier step has been accepted, so they refer to
/// that step and the loader resolves the position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoAction {
    /// A command complete in itself.
    Command(Command),
    /// Reverse the money event of an earlier step: its last event (a payment step's
    /// only event, or an approval's payment event).
    Reverse { of_step: usize, reason: String },
    /// Approve the payment request an earlier step created (its first event).
    Approve { of_step: usize },
    /// Reject the payment request an earlier step created (its first event).
    Reject { of_step: usize, reason: String },
}

impl DemoAction {
    /// The earlier step this action refers to, if any.
    pub fn refers_to(&self) -> Option<usize> {
        match self {
            DemoAction::Command(_) => None,
            DemoAction::Reverse { of_step, .. }
            | DemoAction::Approve { of_step }
            | DemoAction::Reject { of_step, .. } => Some(*of_step),
        }
    }

    /// A stable name, as `Command::command_type` gives for the command it becomes.
    pub fn command_type(&self) -> &'static str {
        match self {
            DemoAction::Command(command) => command.command_type(),
            DemoAction::Reverse { .. } => "ReverseEvent",
            DemoAction::Approve { .. } => "ApprovePayment",
            DemoAction::Reject { .. } => "RejectPayment",
        }
    }
}

/// One step of the plan: an action, who issues it, its business date and memo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoStep {
    pub action: DemoAction,
    pub actor: UserId,
    pub effective_date: NaiveDate,
    /// A voucher-style memo (never personal information).
    pub memo: String,
    /// The programme of the fund the step concerns (`None` for units, closes, expiry).
    pub programme: Option<Programme>,
    /// How many events the domain appends for it (an approval appends two).
    pub expected_events: u32,
}

/// What a member of staff of the demo does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActorRole {
    /// Registers units, opens funds, closes periods, expires stale requests.
    Admin,
    /// Records appropriations, payments, repayments, premiums and claims (the maker).
    Clerk,
    /// Approves or rejects payments above a fund's threshold (the checker).
    Approver,
}

impl ActorRole {
    /// A lowercase label.
    pub fn label(self) -> &'static str {
        match self {
            ActorRole::Admin => "admin",
            ActorRole::Clerk => "clerk",
            ActorRole::Approver => "approver",
        }
    }
}

/// A member of staff the plan uses, for registering as a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoActor {
    pub id: UserId,
    pub role: ActorRole,
    /// The unit the person works for.
    pub unit: UnitCode,
}

/// A fund the plan opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoFund {
    pub id: ledger_domain::FundId,
    pub unit: UnitCode,
    pub programme: Programme,
}

/// A generated dataset: a pure function of its [`DemoConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPlan {
    pub(crate) config: DemoConfig,
    pub(crate) steps: Vec<DemoStep>,
    pub(crate) actors: Vec<DemoActor>,
    pub(crate) funds: Vec<DemoFund>,
    pub(crate) pending_requests_left: u32,
}

impl DemoPlan {
    /// The configuration it was generated from.
    pub fn config(&self) -> &DemoConfig {
        &self.config
    }

    /// The steps, in submission order (effective dates never decrease).
    pub fn steps(&self) -> &[DemoStep] {
        &self.steps
    }

    /// The staff the steps name, in a stable order: the admin, then each unit's people.
    pub fn actors(&self) -> &[DemoActor] {
        &self.actors
    }

    /// Every fund the plan opens, in opening order.
    pub fn funds(&self) -> &[DemoFund] {
        &self.funds
    }

    /// The events the domain appends when the whole plan is loaded into an empty ledger.
    pub fn expected_events(&self) -> u64 {
        self.steps
            .iter()
            .map(|s| u64::from(s.expected_events))
            .sum()
    }

    /// Payment requests neither approved, rejected nor expired at the end.
    pub fn pending_requests_left(&self) -> u32 {
        self.pending_requests_left
    }

    /// The command id of step `index`: `demo-<seed>-<index>`, so that loading the same
    /// plan again is recognised as a retry.
    pub fn command_id(&self, index: usize) -> String {
        format!("demo-{}-{index}", self.config.seed)
    }

    /// The latest effective date: the ledger must record on or after it.
    pub fn last_effective_date(&self) -> Option<NaiveDate> {
        self.steps.last().map(|s| s.effective_date)
    }
}
