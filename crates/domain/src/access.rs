//! Who may do what: staff users, their roles and organisation scopes, API tokens (held
//! only as SHA-256 digests), and `authorize`, the rule that a command is within its
//! actor's role and unit subtree.
//!
//! Users and tokens are recorded as events like everything else, so an auditor can see
//! who was granted which role, by whom and when. Nothing here is personal information:
//! a user id is an opaque staff id (no names), and a token is only ever stored as the
//! digest of a 256-bit random secret that is shown once, when it is issued.
//!
//! The roles:
//! - *clerk* records money movements and beneficiaries within the unit's subtree;
//! - *approver* approves or rejects others' payment requests there, and writes loans off;
//! - *manager* reads the subtree and never writes;
//! - *auditor* reads everything, verifies and exports, and can never write;
//! - *admin* manages units, funds, thresholds, users, tokens and periods (within its
//!   scope, or everywhere when it has none), and records no payments.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::command::{Command, PersonalDataAction};
use crate::event::Reversible;
use crate::ids::{AwardId, BeneficiaryId, FundId, UnitCode, UserId};
use crate::rejection::Rejection;
use crate::rejection_terms::Activity;
use crate::state::State;

/// A member of staff's role. Each role's permissions are in the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    Clerk,
    Approver,
    Manager,
    Auditor,
    Admin,
}

impl Role {
    /// Every role, in order of the enum.
    pub const ALL: [Role; 5] = [
        Role::Clerk,
        Role::Approver,
        Role::Manager,
        Role::Auditor,
        Role::Admin,
    ];

    /// The lower-case name used in commands, JSON and messages.
    pub fn name(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Approver => "approver",
            Role::Manager => "manager",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// The role's Chinese name (the web workspace shows the same).
    pub const fn zh(self) -> &'static str {
        match self {
            Role::Clerk => "财务人员",
            Role::Approver => "审批人",
            Role::Manager => "项目负责人",
            Role::Auditor => "审计人员",
            Role::Admin => "管理员",
        }
    }

    /// Whether the role must be bound to a unit. Auditors read the whole ledger; an
    /// admin may be bound to a unit or to none (the whole ledger).
    pub fn needs_scope(self) -> bool {
        matches!(self, Role::Clerk | Role::Approver | Role::Manager)
    }

    /// Whether the role may read the whole ledger whatever its scope.
    pub fn reads_everything(self) -> bool {
        matches!(self, Role::Auditor)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?}; use clerk, approver, manager, auditor or admin")
            })
    }
}

/// The SHA-256 digest of an API token. The token itself is never recorded.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl TokenDigest {
    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            s.push(char::from(b"0123456789abcdef"[usize::from(b & 0x0f)]));
        }
        s
    }

    /// A short form for messages: the first 12 hex digits.
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_string()
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenDigest({})", self.short())
    }
}

impl fmt::Display for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for TokenDigest {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(format!(
                "a token digest is 64 hex digits; got {} characters",
                s.chars().count()
            ));
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(format!("{:?} is not a hex digit", char::from(c))),
        };
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Ok(TokenDigest(out))
    }
}

impl Serialize for TokenDigest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.to_hex())
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for TokenDigest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let s = String::deserialize(deserializer)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            <[u8; 32]>::deserialize(deserializer).map(TokenDigest)
        }
    }
}

/// A member of staff as the ledger knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub(crate) role: Role,
    pub(crate) scope: Option<UnitCode>,
    pub(crate) active: bool,
    /// Granted the separate permission to read beneficiaries' personal information.
    pub(crate) personal_data: bool,
}

impl User {
    /// Whether the user may read beneficiaries' personal information (within their
    /// scope): active and granted the permission, whatever the role.
    pub fn reads_personal_data(&self) -> bool {
        self.active && self.personal_data
    }
    pub fn role(&self) -> Role {
        self.role
    }
    /// The unit whose subtree the user works in; `None` = the whole ledger.
    pub fn scope(&self) -> Option<&UnitCode> {
        self.scope.as_ref()
    }
    /// False once disabled: the user's tokens stop working.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Whether the user reads every unit: an active auditor, or an active user without
    /// a scope (an admin of the whole ledger).
    pub fn reads_whole_ledger(&self) -> bool {
        self.active && (self.role.reads_everything() || self.scope.is_none())
    }
}

/// An issued token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub(crate) user: UserId,
    pub(crate) expires_on: Option<NaiveDate>,
    pub(crate) revoked: bool,
}

impl Token {
    pub fn user(&self) -> &UserId {
        &self.user
    }
    /// The last day the token is valid; `None` = until revoked.
    pub fn expires_on(&self) -> Option<NaiveDate> {
        self.expires_on
    }
    pub fn is_revoked(&self) -> bool {
        self.revoked
    }
}

/// Users and tokens, part of the domain `State`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    pub(crate) users: BTreeMap<UserId, User>,
    #[serde(with = "crate::state::pairs")]
    pub(crate) tokens: BTreeMap<TokenDigest, Token>,
}

/// Why a token does not sign a request in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not known to this ledger")]
    Unknown,
    #[error("the token {0} was revoked")]
    Revoked(String),
    #[error("the token {digest} expired on {expired_on}")]
    Expired {
        digest: String,
        expired_on: NaiveDate,
    },
    #[error("user {0} is disabled")]
    UserDisabled(UserId),
}

impl TokenError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Unknown => "token_unknown",
            TokenError::Revoked(_) => "token_revoked",
            TokenError::Expired { .. } => "token_expired",
            TokenError::UserDisabled(_) => "user_disabled",
        }
    }
}

impl Access {
    /// A user.
    pub fn user(&self, user: &UserId) -> Option<&User> {
        self.users.get(user)
    }

    /// All users in id order.
    pub fn users(&self) -> impl Iterator<Item = (&UserId, &User)> {
        self.users.iter()
    }

    /// An issued token by its digest.
    pub fn token(&self, digest: &TokenDigest) -> Option<&Token> {
        self.tokens.get(digest)
    }

    /// The tokens issued to a user, in digest order.
    pub fn tokens_of<'a>(
        &'a self,
        user: &'a UserId,
    ) -> impl Iterator<Item = (&'a TokenDigest, &'a Token)> {
        self.tokens.iter().filter(move |(_, t)| &t.user == user)
    }

    /// The user a token signs in as on `today`, with the user's record.
    pub fn sign_in(
        &self,
        digest: &TokenDigest,
        today: NaiveDate,
    ) -> Result<(&UserId, &User), TokenError> {
        let token = self.tokens.get(digest).ok_or(TokenError::Unknown)?;
        if token.revoked {
            return Err(TokenError::Revoked(digest.short()));
        }
        if let Some(expired_on) = token.expires_on.filter(|d| *d < today) {
            return Err(TokenError::Expired {
                digest: digest.short(),
                expired_on,
            });
        }
        let user = self
            .users
            .get(&token.user)
            .filter(|u| u.active)
            .ok_or_else(|| TokenError::UserDisabled(token.user.clone()))?;
        Ok((&token.user, user))
    }

    /// Active admins without a scope: the ones who can manage the whole ledger.
    pub(crate) fn ledger_admins(&self) -> usize {
        self.users
            .values()
            .filter(|u| u.active && u.role == Role::Admin && u.scope.is_none())
            .count()
    }
}

/// Whether `user` may read what belongs to `unit` (a fund's unit, a report's root).
pub fn may_read_unit(state: &State, user: &User, unit: &UnitCode) -> bool {
    user.reads_whole_ledger()
        || (user.active
            && user
                .scope
                .as_ref()
                .is_some_and(|scope| state.is_within(unit, scope)))
}

/// Whether `user` may read a fund (false for an unknown fund unless the user reads
/// everything, so that ids outside one's scope reveal nothing).
pub fn may_read_fund(state: &State, user: &User, fund: &FundId) -> bool {
    match state.fund(fund) {
        Some(f) => may_read_unit(state, user, f.unit()),
        None => user.reads_whole_ledger(),
    }
}

/// What a command needs of its actor: the roles allowed, and the unit it touches
/// (`None` when the target does not exist, in which case `decide` names what is missing,
/// or when the command touches the ledger as a whole).
struct Need {
    roles: &'static [Role],
    action: Activity,
    unit: Option<UnitCode>,
    /// The command touches the whole ledger (a root unit, a scope-less user, expiring
    /// every request): only a scope-less actor may issue it.
    whole_ledger: bool,
}

const CLERK: &[Role] = &[Role::Clerk];
const APPROVER: &[Role] = &[Role::Approver];
const ADMIN: &[Role] = &[Role::Admin];
const CLERK_OR_APPROVER: &[Role] = &[Role::Clerk, Role::Approver];

fn need(
    state: &State,
    command: &Command,
    reversal_record: &dyn Fn(u64) -> Option<Reversible>,
) -> Need {
    let fund_unit = |fund: &FundId| state.fund(fund).map(|f| f.unit().clone());
    let award_unit = |award: &AwardId| state.award(award).and_then(|a| fund_unit(a.fund()));
    let beneficiary_unit =
        |beneficiary: &BeneficiaryId| state.beneficiary(beneficiary).map(|b| b.unit().clone());
    let n = |roles, action, unit| Need {
        roles,
        action,
        unit,
        whole_ledger: false,
    };
    match command {
        Command::RegisterUnit { parent, .. } => Need {
            roles: ADMIN,
            action: Activity::RegisterUnits,
            unit: parent.clone(),
            whole_ledger: parent.is_none(),
        },
        Command::OpenFund { unit, .. } => n(ADMIN, Activity::OpenFunds, Some(unit.clone())),
        Command::SetApprovalThreshold { fund, .. } => {
            n(ADMIN, Activity::SetApprovalThresholds, fund_unit(fund))
        }
        Command::ClosePeriod { unit, .. } => n(ADMIN, Activity::ClosePeriods, Some(unit.clone())),
        Command::RegisterUser { scope, .. } | Command::ChangeUserRole { scope, .. } => Need {
            roles: ADMIN,
            action: Activity::ManageUsers,
            unit: scope.clone(),
            whole_ledger: scope.is_none(),
        },
        Command::DisableUser { user, .. } | Command::IssueToken { user, .. } => {
            let scope = state.access().user(user).map(|u| u.scope.clone());
            Need {
                roles: ADMIN,
                action: Activity::ManageUsersAndTokens,
                unit: scope.clone().flatten(),
                whole_ledger: matches!(scope, Some(None)),
            }
        }
        Command::RevokeToken { token, .. } => {
            let scope = state
                .access()
                .token(token)
                .and_then(|t| state.access().user(&t.user))
                .map(|u| u.scope.clone());
            Need {
                roles: ADMIN,
                action: Activity::RevokeTokens,
                unit: scope.clone().flatten(),
                whole_ledger: matches!(scope, Some(None)),
            }
        }
        Command::GrantPersonalDataAccess { user, .. }
        | Command::WithdrawPersonalDataAccess { user, .. } => {
            let scope = state.access().user(user).map(|u| u.scope.clone());
            Need {
                roles: ADMIN,
                action: Activity::GrantPersonalDataAccess,
                unit: scope.clone().flatten(),
                whole_ledger: matches!(scope, Some(None)),
            }
        }
        Command::RegisterBeneficiary { unit, .. } => {
            n(CLERK, Activity::RegisterBeneficiaries, Some(unit.clone()))
        }
        // Any role may be granted the permission (`authorize_with` checks it); only the
        // clerks who register beneficiaries change their contact data.
        Command::RecordPersonalDataAccess {
            beneficiary,
            action: PersonalDataAction::UpdateContact,
            ..
        } => n(
            CLERK,
            Activity::ChangePersonalInformation,
            beneficiary_unit(beneficiary),
        ),
        Command::RecordPersonalDataAccess { beneficiary, .. } => n(
            &Role::ALL,
            Activity::ReadPersonalInformation,
            beneficiary_unit(beneficiary),
        ),
        Command::RestrictBeneficiary { beneficiary, .. }
        | Command::LiftBeneficiaryRestriction { beneficiary, .. }
        | Command::EraseBeneficiary { beneficiary, .. } => n(
            ADMIN,
            Activity::RestrictOrEraseBeneficiaries,
            beneficiary_unit(beneficiary),
        ),
        Command::CommitAppropriation { fund, .. } | Command::ReceiveAppropriation { fund, .. } => {
            n(CLERK, Activity::RecordAppropriations, fund_unit(fund))
        }
        Command::DisburseLoan(l) => n(CLERK, Activity::RecordPayments, fund_unit(&l.fund)),
        Command::PayGrant(g) => n(CLERK, Activity::RecordPayments, fund_unit(&g.fund)),
        Command::PayHousingInstalment(h) => {
            n(CLERK, Activity::RecordPayments, award_unit(&h.award))
        }
        Command::PayBursaryInstalment(b) => {
            n(CLERK, Activity::RecordPayments, award_unit(&b.award))
        }
        Command::PayCondolence(c) => n(
            CLERK,
            Activity::RecordPayments,
            state.campaign_fund(&c.campaign).and_then(fund_unit),
        ),
        Command::PayClaim(c) => n(CLERK, Activity::RecordPayments, fund_unit(&c.fund)),
        Command::CollectPremium(p) => n(CLERK, Activity::RecordPremiums, fund_unit(&p.fund)),
        Command::AwardHousingGrant { fund, .. }
        | Command::AwardBursary { fund, .. }
        | Command::OpenCampaign { fund, .. }
        | Command::EstimateClaimsReserve { fund, .. } => {
            n(CLERK, Activity::RecordAwardsAndCampaigns, fund_unit(fund))
        }
        Command::RepayLoan { loan, .. } | Command::RescheduleLoan { loan, .. } => n(
            CLERK,
            Activity::RecordRepayments,
            state.loan(loan).and_then(|l| fund_unit(l.fund())),
        ),
        Command::WriteOffLoan { loan, .. } => n(
            APPROVER,
            Activity::WriteLoansOff,
            state.loan(loan).and_then(|l| fund_unit(l.fund())),
        ),
        Command::RecordFollowUpVisit { award, .. } => {
            n(CLERK, Activity::RecordFollowUpVisits, award_unit(award))
        }
        Command::ApprovePayment { request } => n(
            APPROVER,
            Activity::ApprovePayments,
            state
                .pending_request(*request)
                .and_then(|r| fund_unit(r.fund())),
        ),
        // The maker may withdraw their own request; an approver may reject any.
        Command::RejectPayment { request, .. } => n(
            CLERK_OR_APPROVER,
            Activity::RejectPaymentRequests,
            state
                .pending_request(*request)
                .and_then(|r| fund_unit(r.fund())),
        ),
        Command::ExpireRequests { .. } => Need {
            roles: &[Role::Approver, Role::Admin],
            action: Activity::ExpirePaymentRequests,
            unit: None,
            whole_ledger: true,
        },
        Command::ReverseEvent { position, .. } => n(
            CLERK,
            Activity::ReverseEntries,
            reversal_record(*position).and_then(|r| fund_unit(r.fund())),
        ),
    }
}

/// Whether `actor` may issue `command` against `state`: a known, active user whose role
/// allows the command and whose scope covers the unit the command touches.
pub fn authorize(state: &State, actor: &UserId, command: &Command) -> Result<(), Rejection> {
    authorize_with(state, actor, command, &|position| {
        state.reversible_at(position).cloned()
    })
}

/// [`authorize`] for a lean state (`State::lean`), which keeps no reversal records:
/// `reversal_record` supplies the record of the event a reversal names (read from the
/// log by the caller), so that its fund's unit can be checked against the scope.
pub fn authorize_with(
    state: &State,
    actor: &UserId,
    command: &Command,
    reversal_record: &dyn Fn(u64) -> Option<Reversible>,
) -> Result<(), Rejection> {
    let user = state
        .access()
        .user(actor)
        .ok_or_else(|| Rejection::UnknownUser {
            user: actor.clone(),
        })?;
    if !user.active {
        return Err(Rejection::UserDisabled {
            user: actor.clone(),
        });
    }
    let need = need(state, command, reversal_record);
    if !need.roles.contains(&user.role) {
        return Err(Rejection::NotPermitted {
            user: actor.clone(),
            role: user.role,
            action: need.action,
        });
    }
    if matches!(command, Command::RecordPersonalDataAccess { .. }) && !user.personal_data {
        return Err(Rejection::PersonalDataNotPermitted {
            user: actor.clone(),
        });
    }
    if let Command::RejectPayment { request, .. } = command {
        let is_maker = state
            .pending_request(*request)
            .is_some_and(|r| r.maker() == actor);
        if user.role == Role::Clerk && !is_maker && state.pending_request(*request).is_some() {
            return Err(Rejection::NotPermitted {
                user: actor.clone(),
                role: user.role,
                action: Activity::RejectOthersPaymentRequests,
            });
        }
    }
    let Some(scope) = &user.scope else {
        return Ok(());
    };
    let out_of_scope = |unit: Option<UnitCode>| Rejection::OutOfScope {
        user: actor.clone(),
        scope: scope.clone(),
        unit,
    };
    if need.whole_ledger {
        return Err(out_of_scope(None));
    }
    match need.unit {
        Some(unit) if !state.is_within(&unit, scope) => Err(out_of_scope(Some(unit))),
        _ => Ok(()),
    }
}
