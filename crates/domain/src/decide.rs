//! `decide`: checks a command against the state and the rules, and returns the events it causes or the rule it breaks.
//!
//! Pure and deterministic: the same state, command and context always give the same
//! result. Nothing here mutates the state; `evolve` does that once events are recorded.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};

use crate::access::{Role, User};
use crate::catalogue::{
    ClaimPayer, FundingTier, InsuranceModel, Programme, TierShare, TierSplit, YEAR_MAX, YEAR_MIN,
};
use crate::command::{Command, CommandContext, Payment};
use crate::event::{Event, Reversible};
use crate::ids::{BeneficiaryId, FundId, UnitCode, UserId};
use crate::ledger::{Account, Side};
use crate::money::{Amount, Money};
use crate::rejection::Rejection;
use crate::rejection_terms::{
    AmountSubject, CurrentAward, FundUse, LoanAction, ReversalBlock, TextSubject, YearSubject,
};
use crate::state::{AwardKind, Beneficiary, BeneficiaryStatus, Fund, LoanStatus, State};

/// Days a payment request stays open for approval; it expires after the last of them.
pub const APPROVAL_WINDOW_DAYS: u64 = 30;
/// The longest loan term.
pub const LOAN_TERM_MONTHS_MAX: u16 = 360;
/// The longest grace period.
pub const LOAN_GRACE_MONTHS_MAX: u16 = 60;
/// The highest annual interest rate, in basis points (24%).
pub const LOAN_RATE_BP_MAX: u16 = 2_400;
/// The longest bursary plan, in years.
pub const BURSARY_YEARS_MAX: u8 = 8;
/// The longest unit, fund or campaign name, in characters.
pub const NAME_CHARS_MAX: usize = 200;
/// The longest reason or goods description, in characters.
pub const REASON_CHARS_MAX: usize = 500;
/// The longest batch label or reference, in characters.
pub const LABEL_CHARS_MAX: usize = 100;

/// Decides a command: the events it causes, or why it is refused.
///
/// # Panics
/// On a reversal of a money event in a lean state (`State::lean`), which keeps no
/// reversal records: decide those with [`decide_with`].
pub fn decide(
    state: &State,
    command: &Command,
    ctx: &CommandContext,
) -> Result<Vec<Event>, Rejection> {
    decide_with(state, command, ctx, &|_| None)
}

/// [`decide`] for any state, lean or not: `reversal_record` gives the reversal record
/// (`Event::reversible`) of the money event at a position, which a lean state does not
/// keep. It is asked only for a position the state knows to be an unreversed money
/// event, and only when the state does not hold the record itself.
///
/// # Panics
/// When the state is lean and `reversal_record` has no record for such a position: the
/// caller's history and the state disagree.
pub fn decide_with(
    state: &State,
    command: &Command,
    ctx: &CommandContext,
    reversal_record: &dyn Fn(u64) -> Option<Reversible>,
) -> Result<Vec<Event>, Rejection> {
    let recorded_on = crate::command::business_date(ctx.recorded_at);
    if ctx.effective_date > recorded_on {
        return Err(Rejection::EffectiveDateInFuture {
            effective_date: ctx.effective_date,
            recorded_on,
        });
    }
    let date = ctx.effective_date;
    match command {
        Command::RegisterUnit {
            unit,
            name,
            level,
            parent,
        } => {
            text(name, TextSubject::UnitName, NAME_CHARS_MAX)?;
            if state.unit(unit).is_some() {
                return Err(Rejection::UnitExists { unit: unit.clone() });
            }
            match (level.parent_level(), parent) {
                (None, Some(_)) => {
                    return Err(Rejection::ProvinceHasParent { unit: unit.clone() });
                }
                (Some(expected), None) => {
                    return Err(Rejection::ParentRequired {
                        unit: unit.clone(),
                        level: *level,
                        expected,
                    });
                }
                (Some(expected), Some(parent)) => {
                    let p = state.unit(parent).ok_or_else(|| Rejection::UnknownUnit {
                        unit: parent.clone(),
                    })?;
                    if p.level() != expected {
                        return Err(Rejection::ParentLevelMismatch {
                            unit: unit.clone(),
                            level: *level,
                            expected,
                            parent: parent.clone(),
                            parent_level: p.level(),
                        });
                    }
                    ensure_open(state, parent, date)?;
                }
                (None, None) => {}
            }
            Ok(vec![Event::UnitRegistered {
                unit: unit.clone(),
                name: name.clone(),
                level: *level,
                parent: parent.clone(),
            }])
        }
        Command::OpenFund {
            fund,
            unit,
            programme,
            name,
            fiscal_year,
            approval_threshold,
            insurance_model,
        } => {
            text(name, TextSubject::FundName, NAME_CHARS_MAX)?;
            if state.fund(fund).is_some() {
                return Err(Rejection::FundExists { fund: fund.clone() });
            }
            known_unit(state, unit)?;
            if let Some(year) = fiscal_year {
                year_in_range(YearSubject::FiscalYear, *year)?;
            }
            match (programme, insurance_model) {
                (Programme::Insurance, None) => {
                    return Err(Rejection::InsuranceModelRequired { fund: fund.clone() });
                }
                (p, Some(_)) if *p != Programme::Insurance => {
                    return Err(Rejection::InsuranceModelNotApplicable {
                        fund: fund.clone(),
                        programme: *p,
                    });
                }
                _ => {}
            }
            ensure_open(state, unit, date)?;
            Ok(vec![Event::FundOpened {
                fund: fund.clone(),
                unit: unit.clone(),
                programme: *programme,
                name: name.clone(),
                fiscal_year: *fiscal_year,
                approval_threshold: *approval_threshold,
                insurance_model: *insurance_model,
            }])
        }
        Command::SetApprovalThreshold { fund, threshold } => {
            let f = known_fund(state, fund)?;
            ensure_open(state, f.unit(), date)?;
            Ok(vec![Event::ApprovalThresholdSet {
                fund: fund.clone(),
                threshold: *threshold,
            }])
        }
        Command::RegisterBeneficiary {
            beneficiary,
            unit,
            kind,
            categories,
        } => {
            if state.beneficiary(beneficiary).is_some() {
                return Err(Rejection::BeneficiaryExists {
                    beneficiary: beneficiary.clone(),
                });
            }
            known_unit(state, unit)?;
            ensure_open(state, unit, date)?;
            Ok(vec![Event::BeneficiaryRegistered {
                beneficiary: beneficiary.clone(),
                unit: unit.clone(),
                kind: *kind,
                categories: categories.clone(),
            }])
        }
        Command::CommitAppropriation {
            fund,
            tier,
            amount,
            reference,
        } => {
            let f = known_fund(state, fund)?;
            positive(*amount, AmountSubject::Appropriation)?;
            optional_text(
                reference.as_deref(),
                TextSubject::Reference,
                LABEL_CHARS_MAX,
            )?;
            ensure_open(state, f.unit(), date)?;
            Ok(vec![Event::AppropriationCommitted {
                fund: fund.clone(),
                tier: *tier,
                amount: *amount,
                reference: reference.clone(),
            }])
        }
        Command::ReceiveAppropriation {
            fund,
            tier,
            amount,
            reference,
        } => {
            let f = known_fund(state, fund)?;
            positive(*amount, AmountSubject::Receipt)?;
            optional_text(
                reference.as_deref(),
                TextSubject::Reference,
                LABEL_CHARS_MAX,
            )?;
            let t = f.tier(*tier);
            let outstanding = t.committed() - t.received();
            if amount.to_money() > outstanding {
                return Err(Rejection::CommitmentExceeded {
                    fund: fund.clone(),
                    tier: *tier,
                    outstanding,
                    amount: *amount,
                });
            }
            ensure_open(state, f.unit(), date)?;
            Ok(vec![Event::AppropriationReceived {
                fund: fund.clone(),
                tier: *tier,
                amount: *amount,
                reference: reference.clone(),
            }])
        }
        Command::DisburseLoan(l) => decide_payment(state, Payment::Loan(l.clone()), ctx),
        Command::PayGrant(g) => decide_payment(state, Payment::Grant(g.clone()), ctx),
        Command::PayHousingInstalment(h) => {
            decide_payment(state, Payment::HousingInstalment(h.clone()), ctx)
        }
        Command::PayBursaryInstalment(b) => {
            decide_payment(state, Payment::BursaryInstalment(b.clone()), ctx)
        }
        Command::PayCondolence(c) => decide_payment(state, Payment::Condolence(c.clone()), ctx),
        Command::PayClaim(c) => decide_payment(state, Payment::Claim(c.clone()), ctx),
        Command::CollectPremium(p) => decide_payment(state, Payment::Premium(p.clone()), ctx),
        Command::RepayLoan {
            loan,
            principal,
            interest,
        } => {
            let l = state
                .loan(loan)
                .ok_or_else(|| Rejection::UnknownLoan { loan: loan.clone() })?;
            if principal.is_zero() && interest.is_zero() {
                return Err(Rejection::AmountZero {
                    what: AmountSubject::Repayment,
                });
            }
            not_before_loan(l, loan, date, LoanAction::Repayment)?;
            if l.status() != LoanStatus::Active {
                return Err(Rejection::LoanNotActive {
                    loan: loan.clone(),
                    status: l.standing(),
                    action: LoanAction::Repayment,
                });
            }
            if principal.to_money() > l.outstanding() {
                return Err(Rejection::RepaymentExceedsOutstanding {
                    loan: loan.clone(),
                    outstanding: l.outstanding(),
                    principal: *principal,
                });
            }
            ensure_fund_open(state, l.fund(), date)?;
            Ok(vec![Event::LoanRepaid {
                loan: loan.clone(),
                fund: l.fund().clone(),
                tier: l.tier(),
                principal: *principal,
                interest: *interest,
            }])
        }
        Command::RescheduleLoan {
            loan,
            term_months,
            grace_months,
            annual_rate_bp,
        } => {
            let l = state
                .loan(loan)
                .ok_or_else(|| Rejection::UnknownLoan { loan: loan.clone() })?;
            if l.status() != LoanStatus::Active || l.outstanding().is_zero() {
                return Err(Rejection::LoanNotActive {
                    loan: loan.clone(),
                    status: l.standing(),
                    action: LoanAction::Reschedule,
                });
            }
            loan_terms(*term_months, *grace_months, *annual_rate_bp)?;
            not_before_loan(l, loan, date, LoanAction::Reschedule)?;
            ensure_fund_open(state, l.fund(), date)?;
            Ok(vec![Event::LoanRescheduled {
                loan: loan.clone(),
                fund: l.fund().clone(),
                outstanding: Amount::try_from(l.outstanding())?,
                term_months: *term_months,
                grace_months: *grace_months,
                annual_rate_bp: *annual_rate_bp,
            }])
        }
        Command::WriteOffLoan { loan, reason } => {
            let l = state
                .loan(loan)
                .ok_or_else(|| Rejection::UnknownLoan { loan: loan.clone() })?;
            text(reason, TextSubject::WriteOffReason, REASON_CHARS_MAX)?;
            if l.status() != LoanStatus::Active || l.outstanding().is_zero() {
                return Err(Rejection::LoanNotActive {
                    loan: loan.clone(),
                    status: l.standing(),
                    action: LoanAction::WriteOff,
                });
            }
            not_before_loan(l, loan, date, LoanAction::WriteOff)?;
            ensure_fund_open(state, l.fund(), date)?;
            Ok(vec![Event::LoanWrittenOff {
                loan: loan.clone(),
                fund: l.fund().clone(),
                tier: l.tier(),
                amount: Amount::try_from(l.outstanding())?,
                reason: reason.clone(),
            }])
        }
        Command::AwardHousingGrant {
            award,
            fund,
            beneficiary,
            amount,
            shares,
        } => {
            let f = fund_for(state, fund, FundUse::HousingGrant)?;
            if state.award(award).is_some() {
                return Err(Rejection::AwardExists {
                    award: award.clone(),
                });
            }
            beneficiary_within(state, beneficiary, fund, f)?;
            positive(*amount, AmountSubject::HousingGrant)?;
            shares_add_up(shares, *amount)?;
            ensure_open(state, f.unit(), date)?;
            Ok(vec![Event::HousingGrantAwarded {
                award: award.clone(),
                fund: fund.clone(),
                beneficiary: beneficiary.clone(),
                amount: *amount,
                shares: shares.clone(),
            }])
        }
        Command::RecordFollowUpVisit { award, outcome } => {
            let a = state.award(award).ok_or_else(|| Rejection::UnknownAward {
                award: award.clone(),
            })?;
            if !matches!(a.kind(), AwardKind::Housing { .. }) || a.is_reversed() {
                return Err(Rejection::AwardKindMismatch {
                    award: award.clone(),
                    expected: CurrentAward::Housing,
                });
            }
            ensure_fund_open(state, a.fund(), date)?;
            Ok(vec![Event::FollowUpVisitRecorded {
                award: award.clone(),
                fund: a.fund().clone(),
                beneficiary: a.beneficiary().clone(),
                outcome: *outcome,
            }])
        }
        Command::AwardBursary {
            award,
            fund,
            student,
            academic_year,
            tier,
            amount,
            years,
            supplement_reason,
        } => {
            let f = fund_for(state, fund, FundUse::Bursary)?;
            if state.award(award).is_some() {
                return Err(Rejection::AwardExists {
                    award: award.clone(),
                });
            }
            beneficiary_within(state, student, fund, f)?;
            year_in_range(YearSubject::AcademicYear, *academic_year)?;
            positive(*amount, AmountSubject::Bursary)?;
            if !(1..=BURSARY_YEARS_MAX).contains(years) {
                return Err(Rejection::BursaryYearsInvalid { years: *years });
            }
            optional_text(
                supplement_reason.as_deref(),
                TextSubject::SupplementReason,
                REASON_CHARS_MAX,
            )?;
            if supplement_reason.is_none() {
                if let Some(existing) = state.bursary_awards(student, *academic_year, *tier).first()
                {
                    return Err(Rejection::DuplicateBursary {
                        student: student.clone(),
                        academic_year: *academic_year,
                        tier: *tier,
                        existing: existing.clone(),
                    });
                }
            }
            ensure_open(state, f.unit(), date)?;
            Ok(vec![Event::BursaryAwarded {
                award: award.clone(),
                fund: fund.clone(),
                student: student.clone(),
                academic_year: *academic_year,
                tier: *tier,
                amount: *amount,
                years: *years,
                supplement_reason: supplement_reason.clone(),
            }])
        }
        Command::OpenCampaign {
            campaign,
            fund,
            name,
        } => {
            let f = fund_for(state, fund, FundUse::CondolenceCampaign)?;
            if state.campaign_fund(campaign).is_some() {
                return Err(Rejection::CampaignExists {
                    campaign: campaign.clone(),
                });
            }
            text(name, TextSubject::CampaignName, NAME_CHARS_MAX)?;
            ensure_open(state, f.unit(), date)?;
            Ok(vec![Event::CampaignOpened {
                campaign: campaign.clone(),
                fund: fund.clone(),
                name: name.clone(),
            }])
        }
        Command::EstimateClaimsReserve { fund, line, amount } => {
            let f = fund_for(state, fund, FundUse::ClaimsReserve)?;
            ensure_open(state, f.unit(), date)?;
            Ok(vec![Event::ClaimsReserveEstimated {
                fund: fund.clone(),
                line: *line,
                amount: *amount,
            }])
        }
        Command::ApprovePayment { request } => {
            let r = state
                .pending_request(*request)
                .ok_or(Rejection::UnknownRequest { request: *request })?;
            if r.maker() == &ctx.actor {
                return Err(Rejection::SelfApproval {
                    request: *request,
                    user: ctx.actor.clone(),
                });
            }
            if date > r.expires_on() {
                return Err(Rejection::RequestExpired {
                    request: *request,
                    expired_on: r.expires_on(),
                });
            }
            let prepared = prepare(state, r.payment(), ctx)?;
            let events = vec![
                Event::PaymentApproved {
                    request: *request,
                    fund: r.fund().clone(),
                    reserved: r.reserved().clone(),
                },
                prepared.event,
            ];
            // The release and the payment net out on the reserved tiers; anything the
            // reservation did not cover must still be available.
            check_cash(state, &events)?;
            Ok(events)
        }
        Command::RejectPayment { request, reason } => {
            let r = state
                .pending_request(*request)
                .ok_or(Rejection::UnknownRequest { request: *request })?;
            text(reason, TextSubject::RejectionReason, REASON_CHARS_MAX)?;
            ensure_fund_open(state, r.fund(), date)?;
            Ok(vec![Event::PaymentRejected {
                request: *request,
                fund: r.fund().clone(),
                reserved: r.reserved().clone(),
                reason: reason.clone(),
            }])
        }
        Command::ExpireRequests { as_of } => {
            let mut events = Vec::new();
            for (request, r) in state.pending_requests() {
                if r.expires_on() < *as_of {
                    ensure_fund_open(state, r.fund(), date)?;
                    events.push(Event::PaymentRequestExpired {
                        request,
                        fund: r.fund().clone(),
                        reserved: r.reserved().clone(),
                    });
                }
            }
            // A command that records nothing would leave no trace of its id, so a
            // retry could later do something else: refuse it instead.
            if events.is_empty() {
                return Err(Rejection::NothingExpired { as_of: *as_of });
            }
            Ok(events)
        }
        Command::ClosePeriod { unit, period } => {
            known_unit(state, unit)?;
            if !period.is_valid() {
                return Err(Rejection::PeriodInvalid { period: *period });
            }
            if state
                .closed_periods(unit)
                .is_some_and(|set| set.contains(period))
            {
                return Err(Rejection::PeriodAlreadyClosed {
                    unit: unit.clone(),
                    period: *period,
                });
            }
            Ok(vec![Event::PeriodClosed {
                unit: unit.clone(),
                period: *period,
            }])
        }
        Command::ReverseEvent { position, reason } => {
            decide_reversal(state, *position, reason, ctx, reversal_record)
        }
        Command::RegisterUser { user, role, scope } => {
            if state.access().user(user).is_some() {
                return Err(Rejection::UserExists { user: user.clone() });
            }
            check_role_scope(state, *role, scope.as_ref())?;
            Ok(vec![Event::UserRegistered {
                user: user.clone(),
                role: *role,
                scope: scope.clone(),
            }])
        }
        Command::ChangeUserRole { user, role, scope } => {
            active_user(state, user)?;
            check_role_scope(state, *role, scope.as_ref())?;
            if !(*role == Role::Admin && scope.is_none()) {
                keeps_an_admin(state, user)?;
            }
            Ok(vec![Event::UserRoleChanged {
                user: user.clone(),
                role: *role,
                scope: scope.clone(),
            }])
        }
        Command::DisableUser { user, reason } => {
            active_user(state, user)?;
            text(reason, TextSubject::Reason, REASON_CHARS_MAX)?;
            keeps_an_admin(state, user)?;
            Ok(vec![Event::UserDisabled {
                user: user.clone(),
                reason: reason.clone(),
            }])
        }
        Command::IssueToken {
            token,
            user,
            expires_on,
        } => {
            active_user(state, user)?;
            if state.access().token(token).is_some() {
                return Err(Rejection::TokenExists {
                    token: token.short(),
                });
            }
            if let Some(expires_on) = expires_on.filter(|d| *d < date) {
                return Err(Rejection::TokenExpiryInvalid {
                    expires_on,
                    issued_on: date,
                });
            }
            Ok(vec![Event::TokenIssued {
                token: *token,
                user: user.clone(),
                expires_on: *expires_on,
            }])
        }
        Command::RevokeToken { token, reason } => {
            let t = state
                .access()
                .token(token)
                .ok_or_else(|| Rejection::UnknownToken {
                    token: token.short(),
                })?;
            if t.is_revoked() {
                return Err(Rejection::TokenAlreadyRevoked {
                    token: token.short(),
                });
            }
            text(reason, TextSubject::Reason, REASON_CHARS_MAX)?;
            Ok(vec![Event::TokenRevoked {
                token: *token,
                user: t.user().clone(),
                reason: reason.clone(),
            }])
        }
        Command::GrantPersonalDataAccess { user, reason } => {
            active_user(state, user)?;
            text(reason, TextSubject::Reason, REASON_CHARS_MAX)?;
            if state
                .access()
                .user(user)
                .is_some_and(User::reads_personal_data)
            {
                return Err(Rejection::PersonalDataAccessAlreadyGranted { user: user.clone() });
            }
            Ok(vec![Event::PersonalDataAccessGranted {
                user: user.clone(),
                reason: reason.clone(),
            }])
        }
        Command::WithdrawPersonalDataAccess { user, reason } => {
            if !state.access().user(user).is_some_and(|u| u.personal_data) {
                active_user(state, user)?;
                return Err(Rejection::PersonalDataAccessNotGranted { user: user.clone() });
            }
            text(reason, TextSubject::Reason, REASON_CHARS_MAX)?;
            Ok(vec![Event::PersonalDataAccessWithdrawn {
                user: user.clone(),
                reason: reason.clone(),
            }])
        }
        Command::RecordPersonalDataAccess {
            beneficiary,
            action,
            purpose,
        } => {
            usable_beneficiary(state, beneficiary)?;
            text(purpose, TextSubject::Purpose, REASON_CHARS_MAX)?;
            no_personal_digits(purpose, TextSubject::Purpose)?;
            Ok(vec![Event::PersonalDataAccessed {
                beneficiary: beneficiary.clone(),
                action: *action,
                purpose: purpose.clone(),
            }])
        }
        Command::RestrictBeneficiary {
            beneficiary,
            reason,
        } => {
            if known_beneficiary(state, beneficiary)?.status() == BeneficiaryStatus::Restricted {
                return Err(Rejection::BeneficiaryAlreadyRestricted {
                    beneficiary: beneficiary.clone(),
                });
            }
            not_erased(state, beneficiary)?;
            text(reason, TextSubject::Reason, REASON_CHARS_MAX)?;
            no_personal_digits(reason, TextSubject::Reason)?;
            Ok(vec![Event::BeneficiaryRestricted {
                beneficiary: beneficiary.clone(),
                reason: reason.clone(),
            }])
        }
        Command::LiftBeneficiaryRestriction {
            beneficiary,
            reason,
        } => {
            not_erased(state, beneficiary)?;
            if known_beneficiary(state, beneficiary)?.status() != BeneficiaryStatus::Restricted {
                return Err(Rejection::BeneficiaryNotRestricted {
                    beneficiary: beneficiary.clone(),
                });
            }
            text(reason, TextSubject::Reason, REASON_CHARS_MAX)?;
            no_personal_digits(reason, TextSubject::Reason)?;
            Ok(vec![Event::BeneficiaryRestrictionLifted {
                beneficiary: beneficiary.clone(),
                reason: reason.clone(),
            }])
        }
        Command::EraseBeneficiary {
            beneficiary,
            reason,
        } => {
            not_erased(state, beneficiary)?;
            text(reason, TextSubject::Reason, REASON_CHARS_MAX)?;
            no_personal_digits(reason, TextSubject::Reason)?;
            Ok(vec![Event::BeneficiaryErased {
                beneficiary: beneficiary.clone(),
                reason: reason.clone(),
            }])
        }
    }
}

/// Refuses a repayment, reschedule or write-off dated before the loan was disbursed.
fn not_before_loan(
    l: &crate::state::Loan,
    loan: &crate::ids::LoanId,
    date: NaiveDate,
    action: LoanAction,
) -> Result<(), Rejection> {
    if date < l.disbursed_on() {
        return Err(Rejection::BeforeDisbursement {
            loan: loan.clone(),
            disbursed_on: l.disbursed_on(),
            date,
            action,
        });
    }
    Ok(())
}

fn active_user(state: &State, user: &UserId) -> Result<(), Rejection> {
    match state.access().user(user) {
        None => Err(Rejection::UnknownUser { user: user.clone() }),
        Some(u) if !u.is_active() => Err(Rejection::UserDisabled { user: user.clone() }),
        Some(_) => Ok(()),
    }
}

fn check_role_scope(state: &State, role: Role, scope: Option<&UnitCode>) -> Result<(), Rejection> {
    match scope {
        None if role.needs_scope() => Err(Rejection::ScopeRequired { role }),
        Some(_) if role.reads_everything() => Err(Rejection::ScopeNotApplicable { role }),
        Some(unit) => known_unit(state, unit).map(|_| ()),
        None => Ok(()),
    }
}

/// Refuses a change to `user` that would leave the ledger without an active admin of
/// the whole ledger (nobody could then register users or issue tokens).
fn keeps_an_admin(state: &State, user: &UserId) -> Result<(), Rejection> {
    let is_ledger_admin = state
        .access()
        .user(user)
        .is_some_and(|u| u.is_active() && u.role() == Role::Admin && u.scope().is_none());
    if is_ledger_admin && state.access().ledger_admins() == 1 {
        return Err(Rejection::LastAdmin { user: user.clone() });
    }
    Ok(())
}

/// A payment checked against every rule except its approval.
struct Prepared {
    event: Event,
    fund: FundId,
}

fn decide_payment(
    state: &State,
    payment: Payment,
    ctx: &CommandContext,
) -> Result<Vec<Event>, Rejection> {
    let prepared = prepare(state, &payment, ctx)?;
    let fund = known_fund(state, &prepared.fund)?;
    let outflow = cash_outflow(&prepared.event);
    if let (Some(threshold), Some(reserved)) = (fund.approval_threshold(), outflow) {
        if reserved.total() > threshold.to_money() {
            let expires_on = ctx
                .effective_date
                .checked_add_days(Days::new(APPROVAL_WINDOW_DAYS))
                .unwrap_or(NaiveDate::MAX);
            let events = vec![Event::PaymentRequested {
                fund: prepared.fund,
                reserved,
                expires_on,
                payment,
            }];
            check_cash(state, &events)?;
            return Ok(events);
        }
    }
    let events = vec![prepared.event];
    check_cash(state, &events)?;
    Ok(events)
}

/// Validates a payment and builds its event (cash is checked by the caller, because
/// an approval draws on money its request already reserved).
fn prepare(state: &State, payment: &Payment, ctx: &CommandContext) -> Result<Prepared, Rejection> {
    let date = ctx.effective_date;
    let (event, fund) = match payment {
        Payment::Loan(l) => {
            let f = fund_for(state, &l.fund, FundUse::Loan)?;
            if state.loan(&l.loan).is_some() {
                return Err(Rejection::LoanExists {
                    loan: l.loan.clone(),
                });
            }
            beneficiary_within(state, &l.beneficiary, &l.fund, f)?;
            positive(l.principal, AmountSubject::LoanPrincipal)?;
            loan_terms(l.term_months, l.grace_months, l.annual_rate_bp)?;
            optional_text(l.batch.as_deref(), TextSubject::BatchLabel, LABEL_CHARS_MAX)?;
            ensure_open(state, f.unit(), date)?;
            (Event::LoanDisbursed(l.clone()), l.fund.clone())
        }
        Payment::Grant(g) => {
            let f = fund_for(state, &g.fund, FundUse::Grant)?;
            beneficiary_within(state, &g.beneficiary, &g.fund, f)?;
            positive(g.amount, AmountSubject::Grant)?;
            shares_add_up(&g.shares, g.amount)?;
            optional_text(g.batch.as_deref(), TextSubject::BatchLabel, LABEL_CHARS_MAX)?;
            ensure_open(state, f.unit(), date)?;
            (Event::GrantPaid(g.clone()), g.fund.clone())
        }
        Payment::HousingInstalment(h) => {
            let a = state
                .award(&h.award)
                .ok_or_else(|| Rejection::UnknownAward {
                    award: h.award.clone(),
                })?;
            if !matches!(a.kind(), AwardKind::Housing { .. }) || a.is_reversed() {
                return Err(Rejection::AwardKindMismatch {
                    award: h.award.clone(),
                    expected: CurrentAward::Housing,
                });
            }
            positive(h.amount, AmountSubject::Instalment)?;
            shares_add_up(&h.shares, h.amount)?;
            for share in h.shares.shares() {
                let remaining = a.remaining_for(share.tier);
                if share.amount.to_money() > remaining {
                    return Err(Rejection::InstalmentExceedsAward {
                        award: h.award.clone(),
                        tier: share.tier,
                        remaining,
                        needed: share.amount.to_money(),
                    });
                }
            }
            ensure_fund_open(state, a.fund(), date)?;
            (
                Event::HousingInstalmentPaid {
                    award: h.award.clone(),
                    fund: a.fund().clone(),
                    beneficiary: a.beneficiary().clone(),
                    amount: h.amount,
                    shares: h.shares.clone(),
                },
                a.fund().clone(),
            )
        }
        Payment::BursaryInstalment(b) => {
            let a = state
                .award(&b.award)
                .ok_or_else(|| Rejection::UnknownAward {
                    award: b.award.clone(),
                })?;
            let (academic_year, tier) = match a.kind() {
                AwardKind::Bursary {
                    academic_year,
                    tier,
                    ..
                } if !a.is_reversed() => (*academic_year, *tier),
                _ => {
                    return Err(Rejection::AwardKindMismatch {
                        award: b.award.clone(),
                        expected: CurrentAward::Bursary,
                    })
                }
            };
            positive(b.amount, AmountSubject::Instalment)?;
            let remaining = a.remaining_for(tier);
            if b.amount.to_money() > remaining {
                return Err(Rejection::InstalmentExceedsAward {
                    award: b.award.clone(),
                    tier,
                    remaining,
                    needed: b.amount.to_money(),
                });
            }
            ensure_fund_open(state, a.fund(), date)?;
            (
                Event::BursaryInstalmentPaid {
                    award: b.award.clone(),
                    fund: a.fund().clone(),
                    student: a.beneficiary().clone(),
                    academic_year,
                    tier,
                    amount: b.amount,
                },
                a.fund().clone(),
            )
        }
        Payment::Condolence(c) => {
            let fund =
                state
                    .campaign_fund(&c.campaign)
                    .ok_or_else(|| Rejection::UnknownCampaign {
                        campaign: c.campaign.clone(),
                    })?;
            let f = known_fund(state, fund)?;
            beneficiary_within(state, &c.beneficiary, fund, f)?;
            positive(c.amount, AmountSubject::CondolencePayment)?;
            shares_add_up(&c.shares, c.amount)?;
            if let crate::catalogue::CondolenceForm::Goods { description } = &c.form {
                text(description, TextSubject::GoodsDescription, REASON_CHARS_MAX)?;
            }
            ensure_open(state, f.unit(), date)?;
            (
                Event::CondolencePaid {
                    campaign: c.campaign.clone(),
                    fund: fund.clone(),
                    beneficiary: c.beneficiary.clone(),
                    category: c.category,
                    form: c.form.clone(),
                    amount: c.amount,
                    shares: c.shares.clone(),
                },
                fund.clone(),
            )
        }
        Payment::Claim(c) => {
            let f = fund_for(state, &c.fund, FundUse::Claim)?;
            beneficiary_within(state, &c.beneficiary, &c.fund, f)?;
            positive(c.amount, AmountSubject::Claim)?;
            let model = f
                .insurance_model()
                .ok_or_else(|| Rejection::InsuranceModelRequired {
                    fund: c.fund.clone(),
                })?;
            match (&c.payer, model) {
                (ClaimPayer::Insurer, InsuranceModel::InsurerUnderwritten) => {}
                (ClaimPayer::Fund { shares }, InsuranceModel::SelfInsured) => {
                    shares_add_up(shares, c.amount)?;
                }
                (ClaimPayer::Fund { .. }, InsuranceModel::InsurerUnderwritten) => {
                    return Err(Rejection::ClaimPayerMismatch {
                        fund: c.fund.clone(),
                        model,
                    });
                }
                (ClaimPayer::Insurer, InsuranceModel::SelfInsured) => {
                    return Err(Rejection::ClaimPayerMismatch {
                        fund: c.fund.clone(),
                        model,
                    });
                }
            }
            ensure_open(state, f.unit(), date)?;
            (Event::ClaimPaid(c.clone()), c.fund.clone())
        }
        Payment::Premium(p) => {
            let f = fund_for(state, &p.fund, FundUse::Premium)?;
            positive(p.tax_inclusive, AmountSubject::Premium)?;
            if p.tax_exclusive > p.tax_inclusive {
                return Err(Rejection::PremiumTaxInconsistent {
                    tax_exclusive: p.tax_exclusive,
                    tax_inclusive: p.tax_inclusive,
                });
            }
            if p.coverage_end < p.coverage_start {
                return Err(Rejection::CoverageInvalid {
                    start: p.coverage_start,
                    end: p.coverage_end,
                });
            }
            shares_add_up(&p.shares, p.tax_inclusive)?;
            let model = f
                .insurance_model()
                .ok_or_else(|| Rejection::InsuranceModelRequired {
                    fund: p.fund.clone(),
                })?;
            ensure_open(state, f.unit(), date)?;
            (
                Event::PremiumCollected {
                    fund: p.fund.clone(),
                    line: p.line,
                    model,
                    coverage_start: p.coverage_start,
                    coverage_end: p.coverage_end,
                    households: p.households,
                    persons: p.persons,
                    tax_inclusive: p.tax_inclusive,
                    tax_exclusive: p.tax_exclusive,
                    shares: p.shares.clone(),
                },
                p.fund.clone(),
            )
        }
    };
    Ok(Prepared { event, fund })
}

fn decide_reversal(
    state: &State,
    position: u64,
    reason: &str,
    ctx: &CommandContext,
    reversal_record: &dyn Fn(u64) -> Option<Reversible>,
) -> Result<Vec<Event>, Rejection> {
    text(reason, TextSubject::ReversalReason, REASON_CHARS_MAX)?;
    if position >= state.next_position() {
        return Err(Rejection::UnknownEvent { position });
    }
    if state.reversals.contains(&position) {
        return Err(Rejection::CannotReverseReversal { position });
    }
    if let Some(reversed_by) = state.reversed_by(position) {
        return Err(Rejection::AlreadyReversed {
            position,
            reversed_by,
        });
    }
    if !state.is_reversible(position) {
        return Err(Rejection::NotReversible { position });
    }
    let looked_up;
    let record = match state.reversible_at(position) {
        Some(record) => record,
        None => {
            looked_up = reversal_record(position).unwrap_or_else(|| {
                panic!("no reversal record for the money event at {position}: a lean state needs decide_with")
            });
            &looked_up
        }
    };
    let blocked = |why: ReversalBlock| Rejection::ReversalBlocked { position, why };
    let fund = known_fund(state, record.fund())?;
    match record {
        Reversible::Commitment { tier, amount, .. } => {
            let t = fund.tier(*tier);
            if t.committed() - *amount < t.received() {
                return Err(blocked(ReversalBlock::ReceiptsExceedCommitment {
                    tier: *tier,
                    received: t.received(),
                    committed: t.committed(),
                }));
            }
        }
        Reversible::Loan { loan, .. } => {
            let l = state
                .loan(loan)
                .ok_or_else(|| Rejection::UnknownLoan { loan: loan.clone() })?;
            if l.status() != LoanStatus::Active
                || l.rescheduled
                || !l.repayments.is_empty()
                || !l.interest_paid().is_zero()
            {
                return Err(blocked(ReversalBlock::LoanHasLaterEntries {
                    loan: loan.clone(),
                }));
            }
        }
        Reversible::Repayment { loan, .. } => {
            let l = state
                .loan(loan)
                .ok_or_else(|| Rejection::UnknownLoan { loan: loan.clone() })?;
            if l.status() != LoanStatus::Active {
                return Err(blocked(ReversalBlock::LoanNotActive {
                    loan: loan.clone(),
                    standing: l.standing(),
                }));
            }
            if l.schedule.from_position > position {
                return Err(blocked(ReversalBlock::RescheduledAfter {
                    loan: loan.clone(),
                }));
            }
        }
        Reversible::HousingAward { award, .. } | Reversible::BursaryAward { award, .. } => {
            let a = state.award(award).ok_or_else(|| Rejection::UnknownAward {
                award: award.clone(),
            })?;
            if a.instalments() > 0 {
                return Err(blocked(ReversalBlock::InstalmentsPaid {
                    award: award.clone(),
                    instalments: a.instalments(),
                }));
            }
        }
        Reversible::Receipt { .. }
        | Reversible::WriteOff { .. }
        | Reversible::Payment { .. }
        | Reversible::Premium { .. }
        | Reversible::InsurerClaim { .. } => {}
    }
    ensure_open(state, fund.unit(), ctx.effective_date)?;
    let events = vec![Event::EventReversed {
        position,
        reason: reason.to_owned(),
        reversed: record.clone(),
    }];
    // A reversal that takes cash back out (a receipt, a repayment, a self-insured
    // household contribution) must find it still available.
    check_cash(state, &events)?;
    Ok(events)
}

/// The net cash each (fund, tier) loses across the events' postings.
fn cash_changes(events: &[Event]) -> BTreeMap<(FundId, FundingTier), Money> {
    let mut changes: BTreeMap<(FundId, FundingTier), Money> = BTreeMap::new();
    for event in events {
        for posting in event.postings() {
            if let Account::FundCash { fund, tier } = posting.account {
                let delta = match posting.side {
                    Side::Debit => posting.amount.to_money(),
                    Side::Credit => posting.amount.to_money().negated(),
                };
                *changes.entry((fund, tier)).or_default() += delta;
            }
        }
    }
    changes
}

/// The cash an event takes out of its fund, by tier (`None` if it takes none).
fn cash_outflow(event: &Event) -> Option<TierSplit> {
    let shares: Vec<TierShare> = cash_changes(std::slice::from_ref(event))
        .into_iter()
        .filter(|(_, delta)| delta.is_negative())
        .map(|((_, tier), delta)| TierShare {
            tier,
            amount: Amount::try_from(delta.negated()).expect("one payment's outflow is an Amount"),
        })
        .collect();
    TierSplit::new(shares).ok()
}

/// Available cash never goes below zero: every tier the events draw on must hold enough.
fn check_cash(state: &State, events: &[Event]) -> Result<(), Rejection> {
    for ((fund, tier), delta) in cash_changes(events) {
        if !delta.is_negative() {
            continue;
        }
        let f = known_fund(state, &fund)?;
        let available = f.tier(tier).available();
        if (available + delta).is_negative() {
            return Err(Rejection::InsufficientFunds {
                fund,
                tier,
                available,
                needed: delta.negated(),
            });
        }
    }
    Ok(())
}

fn known_unit<'a>(state: &'a State, unit: &UnitCode) -> Result<&'a crate::state::Unit, Rejection> {
    state
        .unit(unit)
        .ok_or_else(|| Rejection::UnknownUnit { unit: unit.clone() })
}

fn known_fund<'a>(state: &'a State, fund: &FundId) -> Result<&'a Fund, Rejection> {
    state
        .fund(fund)
        .ok_or_else(|| Rejection::UnknownFund { fund: fund.clone() })
}

fn fund_for<'a>(state: &'a State, fund: &FundId, action: FundUse) -> Result<&'a Fund, Rejection> {
    let f = known_fund(state, fund)?;
    if !action.accepts(f.programme()) {
        return Err(Rejection::ProgrammeMismatch {
            fund: fund.clone(),
            programme: f.programme(),
            action,
        });
    }
    Ok(f)
}

/// Period close: an event is refused if its date lies in a period closed for its unit
/// or for any ancestor of it (closing a county closes its townships and villages).
fn ensure_open(state: &State, unit: &UnitCode, date: NaiveDate) -> Result<(), Rejection> {
    match state.closed_period_covering(unit, date) {
        Some((closed_unit, period)) => Err(Rejection::PeriodClosed {
            unit: unit.clone(),
            closed_unit,
            period,
            date,
        }),
        None => Ok(()),
    }
}

fn ensure_fund_open(state: &State, fund: &FundId, date: NaiveDate) -> Result<(), Rejection> {
    let f = known_fund(state, fund)?;
    ensure_open(state, f.unit(), date)
}

/// The longest run of digits allowed in free text about a person: mainland mobile
/// numbers have 11, ID numbers 18, bank cards 16 to 19.
pub const PERSONAL_DIGITS_MAX: usize = 10;

/// Refuses free text holding a run of more than [`PERSONAL_DIGITS_MAX`] digits.
fn no_personal_digits(text: &str, what: TextSubject) -> Result<(), Rejection> {
    let longest = text
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    if longest > PERSONAL_DIGITS_MAX {
        return Err(Rejection::PersonalDigits {
            what,
            digits: longest,
        });
    }
    Ok(())
}

fn known_beneficiary<'s>(
    state: &'s State,
    beneficiary: &BeneficiaryId,
) -> Result<&'s Beneficiary, Rejection> {
    state
        .beneficiary(beneficiary)
        .ok_or_else(|| Rejection::UnknownBeneficiary {
            beneficiary: beneficiary.clone(),
        })
}

fn not_erased(state: &State, beneficiary: &BeneficiaryId) -> Result<(), Rejection> {
    match known_beneficiary(state, beneficiary)?.status() {
        BeneficiaryStatus::Erased => Err(Rejection::BeneficiaryErased {
            beneficiary: beneficiary.clone(),
        }),
        _ => Ok(()),
    }
}

/// A known beneficiary whose personal information may be used: neither restricted nor
/// erased (new payments and reads of their data need this).
fn usable_beneficiary<'s>(
    state: &'s State,
    beneficiary: &BeneficiaryId,
) -> Result<&'s Beneficiary, Rejection> {
    let b = known_beneficiary(state, beneficiary)?;
    match b.status() {
        BeneficiaryStatus::Active => Ok(b),
        BeneficiaryStatus::Restricted => Err(Rejection::BeneficiaryRestricted {
            beneficiary: beneficiary.clone(),
        }),
        BeneficiaryStatus::Erased => Err(Rejection::BeneficiaryErased {
            beneficiary: beneficiary.clone(),
        }),
    }
}

fn beneficiary_within(
    state: &State,
    beneficiary: &BeneficiaryId,
    fund_id: &FundId,
    fund: &Fund,
) -> Result<(), Rejection> {
    let b = usable_beneficiary(state, beneficiary)?;
    if !state.is_within(b.unit(), fund.unit()) {
        return Err(Rejection::BeneficiaryOutsideFundUnit {
            beneficiary: beneficiary.clone(),
            beneficiary_unit: b.unit().clone(),
            fund: fund_id.clone(),
            fund_unit: fund.unit().clone(),
        });
    }
    Ok(())
}

fn positive(amount: Amount, what: AmountSubject) -> Result<(), Rejection> {
    if amount.is_zero() {
        return Err(Rejection::AmountZero { what });
    }
    Ok(())
}

fn shares_add_up(shares: &TierSplit, amount: Amount) -> Result<(), Rejection> {
    let shares_total = shares.total();
    if shares_total != amount.to_money() {
        return Err(Rejection::TierSharesMismatch {
            shares_total,
            amount,
        });
    }
    Ok(())
}

fn loan_terms(term_months: u16, grace_months: u16, annual_rate_bp: u16) -> Result<(), Rejection> {
    if !(1..=LOAN_TERM_MONTHS_MAX).contains(&term_months) {
        return Err(Rejection::LoanTermInvalid {
            term_months,
            max: LOAN_TERM_MONTHS_MAX,
        });
    }
    if grace_months > LOAN_GRACE_MONTHS_MAX {
        return Err(Rejection::LoanGraceInvalid {
            grace_months,
            max: LOAN_GRACE_MONTHS_MAX,
        });
    }
    if annual_rate_bp > LOAN_RATE_BP_MAX {
        return Err(Rejection::LoanRateInvalid {
            annual_rate_bp,
            max: LOAN_RATE_BP_MAX,
        });
    }
    Ok(())
}

fn text(value: &str, what: TextSubject, max_chars: usize) -> Result<(), Rejection> {
    let trimmed = value.trim();
    if trimmed.is_empty() || value.chars().count() > max_chars {
        return Err(Rejection::TextInvalid { what, max_chars });
    }
    Ok(())
}

fn optional_text(
    value: Option<&str>,
    what: TextSubject,
    max_chars: usize,
) -> Result<(), Rejection> {
    value.map_or(Ok(()), |v| text(v, what, max_chars))
}

fn year_in_range(what: YearSubject, year: i32) -> Result<(), Rejection> {
    if !(YEAR_MIN..=YEAR_MAX).contains(&year) {
        return Err(Rejection::YearInvalid { what, year });
    }
    Ok(())
}
