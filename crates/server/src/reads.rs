//! Read endpoints: balances, statements, reports, pending requests, the audit trail and
//! verification. Each checks the caller's scope, waits until the projections have
//! caught up with the log's head at the time of the request (so a caller reads its own
//! writes), and answers now, `as_of` an effective date, or `at_position` N (after the
//! event at position N: a fold of the log up to it).

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use ledger_domain::catalogue::{YEAR_MAX, YEAR_MIN};
use ledger_domain::{
    Amount, BeneficiaryId, Event, FundId, Money, Payment, Percent, PolicyLine, Programme, Role,
    UnitCode, UserId,
};
use ledger_engine::Projections;
use ledger_projections::{
    AuditRecord, DateRange, FundFigures, InsuranceReport, LoanReport, Page, PageRequest,
    ProgrammeReport, Statement,
};
use ledger_store::Backend;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::openapi::{AUDITORS, READERS};
use crate::problem::ProblemBody;
use crate::{App, Caller, Problem};

/// `Query<T>` whose errors are problem+json.
pub(crate) struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| Params(t))
            .map_err(|e| Problem::bad_request("invalid_query", e.body_text()))
    }
}

/// `Path<T>` whose errors are problem+json.
pub(crate) struct Id<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Id<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| Id(t))
            .map_err(|e| Problem::bad_request("invalid_path", e.body_text()))
    }
}

/// When to answer for: now (neither), `as_of` a date, or `at_position` N.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AsOf {
    /// An effective date: the figures of every event dated on or before it, whenever
    /// recorded. Not with `at_position`.
    as_of: Option<NaiveDate>,
    /// A log position: the figures after the event at that position (a fold of the log
    /// up to it, inclusive). Not with `as_of`; 404 beyond the head.
    at_position: Option<u64>,
}

fn one_of(as_of: &AsOf) -> Result<(), Problem> {
    if as_of.as_of.is_some() && as_of.at_position.is_some() {
        return Err(Problem::bad_request(
            "as_of_conflict",
            "give either as_of (an effective date) or at_position (a log position), not both",
        ));
    }
    Ok(())
}

/// Runs `query` over the projections: the live ones once they reach the head, or a
/// fold of the log up to `at_position` inclusive. Blocks; call it on a blocking thread.
fn query_projections<B: Backend, R>(
    app: &App<B>,
    at_position: Option<u64>,
    query: impl FnOnce(&Projections) -> Result<R, Problem>,
) -> Result<R, Problem> {
    match at_position {
        Some(position) => {
            let head = app.engine.head().next_position;
            if position >= head {
                return Err(Problem::not_found(
                    "unknown_position",
                    format!(
                        "the log holds positions 0 to {} ; there is no position {position}",
                        head.saturating_sub(1)
                    ),
                ));
            }
            let projections = app.engine.projections_at_position(position + 1)?;
            query(&projections)
        }
        None => {
            let head = app.engine.head().next_position;
            app.engine
                .projections_after(head, app.limits.read_wait, query)?
        }
    }
}

/// Runs `job` on a blocking thread once one of the server's query permits
/// ([`Limits::concurrent_queries`](crate::Limits)) is free.
async fn on_query_thread<B: Backend + 'static, R: Send + 'static>(
    app: &Arc<App<B>>,
    job: impl FnOnce(&App<B>) -> Result<R, Problem> + Send + 'static,
) -> Result<R, Problem> {
    let _permit = app
        .queries
        .acquire()
        .await
        .map_err(|_| Problem::internal("the query permits are closed"))?;
    let app = Arc::clone(app);
    tokio::task::spawn_blocking(move || job(&app))
        .await
        .map_err(|e| Problem::internal(format!("the query failed: {e}")))?
}

/// Runs `query` over the projections on a blocking thread ([`query_projections`]).
async fn with_projections<B: Backend + 'static, R: Send + 'static>(
    app: &Arc<App<B>>,
    at_position: Option<u64>,
    query: impl FnOnce(&Projections) -> Result<R, Problem> + Send + 'static,
) -> Result<R, Problem> {
    on_query_thread(app, move |app| query_projections(app, at_position, query)).await
}

/// Like [`with_projections`], and also serialises the answer on that blocking thread,
/// after the projections' lock is released: a page of a statement or of the audit trail
/// is a few hundred kilobytes of JSON, and formatting it on one of the async runtime's
/// few worker threads would stall every other connection's requests meanwhile, writes
/// included (docs/RELIABILITY.md, Load).
async fn answer_from_projections<B: Backend + 'static, R: Serialize + Send + 'static>(
    app: &Arc<App<B>>,
    at_position: Option<u64>,
    query: impl FnOnce(&Projections) -> Result<R, Problem> + Send + 'static,
) -> Result<Response, Problem> {
    on_query_thread(app, move |app| {
        query_projections(app, at_position, query).map(|answer| json(&answer))
    })
    .await
}

fn json<T: Serialize>(value: &T) -> Response {
    Json(value).into_response()
}

/// The signed-in caller.
#[derive(Serialize, ToSchema)]
pub(crate) struct Me {
    user: UserId,
    role: Role,
    /// The unit whose subtree the caller works in; null = the whole ledger.
    scope: Option<UnitCode>,
    /// The caller's tokens that are not revoked (expired ones included).
    active_tokens: u64,
}

/// Who am I: the caller's user id, role, scope and number of live tokens.
#[utoipa::path(get, path = "/api/v1/me", tag = "access", security(("bearer" = [])),
    description = READERS,
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "No token, or an unknown, revoked or expired one", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The token's user is disabled", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn me<B: Backend>(State(app): State<Arc<App<B>>>, caller: Caller) -> Response {
    let tokens = app.engine.read(|m| {
        m.state()
            .access()
            .tokens_of(&caller.user)
            .filter(|(_, t)| !t.is_revoked())
            .count()
    });
    json(&Me {
        role: caller.role(),
        scope: caller.scope().cloned(),
        user: caller.user,
        active_tokens: u64::try_from(tokens).unwrap_or(u64::MAX),
    })
}

/// One fund the caller may read.
#[derive(Serialize, ToSchema)]
pub(crate) struct FundRow {
    fund: FundId,
    /// The unit that holds the fund.
    unit: UnitCode,
    programme: Programme,
    name: String,
    fiscal_year: Option<i32>,
    /// Payments above this wait for a second person's approval; null = never.
    approval_threshold: Option<Amount>,
}

/// The funds within the caller's scope, in fund-id order.
#[derive(Serialize, ToSchema)]
pub(crate) struct Funds {
    funds: Vec<FundRow>,
}

/// Lists the funds the caller may read.
#[utoipa::path(get, path = "/api/v1/funds", tag = "funds", security(("bearer" = [])),
    description = READERS,
    responses(
        (status = 200, description = "The funds within the caller's scope", body = Funds),
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The token's user is disabled", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn funds<B: Backend>(State(app): State<Arc<App<B>>>, caller: Caller) -> Response {
    app.engine.read(|m| {
        let state = m.state();
        let funds: Vec<FundRow> = state
            .funds()
            .filter(|(_, f)| caller.may_read_unit(state, f.unit()).is_ok())
            .map(|(id, f)| FundRow {
                fund: id.clone(),
                unit: f.unit().clone(),
                programme: f.programme(),
                name: f.name().to_string(),
                fiscal_year: f.fiscal_year(),
                approval_threshold: f.approval_threshold(),
            })
            .collect();
        json(&Funds { funds })
    })
}

fn check_fund<B: Backend>(app: &App<B>, caller: &Caller, fund: &FundId) -> Result<(), Problem> {
    app.engine.read(|m| caller.may_read_fund(m.state(), fund))
}

fn check_unit<B: Backend>(app: &App<B>, caller: &Caller, unit: &UnitCode) -> Result<(), Problem> {
    app.engine.read(|m| caller.may_read_unit(m.state(), unit))
}

/// A fund's balance and the parameters it was computed for.
#[derive(Serialize, ToSchema)]
pub(crate) struct Balance {
    /// The `as_of` date asked for, if any.
    as_of: Option<NaiveDate>,
    /// The `at_position` asked for, if any.
    at_position: Option<u64>,
    /// Disbursed ÷ committed; null when nothing was committed.
    budget_execution_rate: Option<Percent>,
    /// Principal lent ÷ capital received, truncated to two decimals; null when nothing was received.
    #[schema(pattern = r"^[0-9]+(\.[0-9]+)?$")]
    revolving_rounds: Option<String>,
    figures: FundFigures,
}

/// A fund's figures now, as of an effective date, or after a log position.
#[utoipa::path(get, path = "/api/v1/funds/{fund}/balance", tag = "funds", security(("bearer" = [])),
    description = READERS,
    params(("fund" = FundId, Path, description = "The fund"), AsOf),
    responses(
        (status = 200, description = "The fund's figures", body = Balance),
        (status = 400, description = "A malformed id, date or position, or both as_of and at_position", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The fund lies outside the caller's scope (also for an unknown fund, so that ids reveal nothing)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such fund (for callers who read everything), or at_position beyond the head", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The projections did not catch up in time", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn balance<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(fund): Id<FundId>,
    Params(when): Params<AsOf>,
) -> Result<Response, Problem> {
    one_of(&when)?;
    check_fund(&app, &caller, &fund)?;
    let at = when.at_position;
    answer_from_projections(&app, at, move |p| {
        let ledger = &p.fund_ledger;
        let figures = match when.as_of {
            Some(date) => ledger.balance_as_of(&fund, date)?,
            None => ledger.balance(&fund)?,
        };
        Ok(Balance {
            as_of: when.as_of,
            at_position: at,
            budget_execution_rate: figures.budget_execution_rate(),
            revolving_rounds: figures.revolving_rounds().map(|d| d.to_string()),
            figures,
        })
    })
    .await
}

/// A page and a range of effective dates.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct Window {
    /// The first effective date (inclusive); default 1 January 1980.
    from: Option<NaiveDate>,
    /// The last effective date (inclusive); default today.
    to: Option<NaiveDate>,
    /// Shorthand for from = 1 January, to = 31 December of the year; not with from/to.
    year: Option<i32>,
    /// Answer from a fold of the log up to this position (inclusive).
    at_position: Option<u64>,
    /// Items to skip (statement lines); default 0.
    #[serde(default)]
    offset: u64,
    /// Items per page (statement lines), 1 to 1,000; default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

impl Window {
    fn range(&self, today: NaiveDate) -> Result<DateRange, Problem> {
        match (self.year, self.from, self.to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(Problem::bad_request(
                "range_conflict",
                "give either year or from/to, not both",
            )),
            (Some(year), None, None) => Ok(DateRange::year(year)?),
            (None, from, to) => {
                let first = NaiveDate::from_ymd_opt(YEAR_MIN, 1, 1).expect("valid");
                let last = NaiveDate::from_ymd_opt(YEAR_MAX, 12, 31).expect("valid");
                Ok(DateRange::new(
                    from.unwrap_or(first),
                    to.unwrap_or(today.min(last)),
                )?)
            }
        }
    }

    fn page(&self) -> Result<PageRequest, Problem> {
        Ok(PageRequest::new(self.offset, self.limit.unwrap_or(100))?)
    }
}

/// A fund statement: opening and closing figures and a page of lines with running balances.
#[utoipa::path(get, path = "/api/v1/funds/{fund}/statement", tag = "funds", security(("bearer" = [])),
    description = READERS,
    params(("fund" = FundId, Path, description = "The fund"), Window),
    responses(
        (status = 200, description = "The statement", body = Statement),
        (status = 400, description = "A malformed parameter, year with from/to, a reversed or out-of-range date range, or a limit outside 1 to 1,000", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The fund lies outside the caller's scope", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such fund, or at_position beyond the head", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The projections did not catch up in time", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn statement<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(fund): Id<FundId>,
    Params(window): Params<Window>,
) -> Result<Response, Problem> {
    check_fund(&app, &caller, &fund)?;
    let range = window.range(app.today())?;
    let page = window.page()?;
    let engine = Arc::clone(&app.engine);
    answer_from_projections(&app, window.at_position, move |p| {
        Ok(p.fund_ledger.statement(&fund, range, page, &*engine)?)
    })
    .await
}

/// Programme figures for a unit's subtree and a period, with the same period a year earlier.
#[utoipa::path(get, path = "/api/v1/units/{unit}/programmes", tag = "reports", security(("bearer" = [])),
    description = READERS,
    params(("unit" = UnitCode, Path, description = "The root of the subtree"), Window),
    responses(
        (status = 200, description = "The programme report", body = ProgrammeReport),
        (status = 400, description = "A malformed parameter, or year with from/to", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The unit lies outside the caller's scope", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such unit, or at_position beyond the head", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The projections did not catch up in time", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn programmes<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(unit): Id<UnitCode>,
    Params(window): Params<Window>,
) -> Result<Response, Problem> {
    check_unit(&app, &caller, &unit)?;
    let range = window.range(app.today())?;
    answer_from_projections(&app, window.at_position, move |p| {
        Ok(p.programmes.report(&unit, range)?)
    })
    .await
}

/// A policy line and a period.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct InsuranceQuery {
    /// The policy line (required).
    #[param(required = true)]
    line: Option<PolicyLine>,
    /// Shorthand for from = 1 January, to = 31 December of the year; not with from/to.
    year: Option<i32>,
    /// The first effective date (inclusive); default 1 January 1980.
    from: Option<NaiveDate>,
    /// The last effective date (inclusive); default today.
    to: Option<NaiveDate>,
    /// Answer from a fold of the log up to this position (inclusive).
    at_position: Option<u64>,
}

/// Insurance figures (premiums, cover, claims, loss ratios, growth) for a subtree, a line and a period.
#[utoipa::path(get, path = "/api/v1/units/{unit}/insurance", tag = "reports", security(("bearer" = [])),
    description = READERS,
    params(("unit" = UnitCode, Path, description = "The root of the subtree"), InsuranceQuery),
    responses(
        (status = 200, description = "The insurance report", body = InsuranceReport),
        (status = 400, description = "No line, a malformed parameter, or year with from/to", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The unit lies outside the caller's scope", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such unit, or at_position beyond the head", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The projections did not catch up in time", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn insurance<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(unit): Id<UnitCode>,
    Params(q): Params<InsuranceQuery>,
) -> Result<Response, Problem> {
    check_unit(&app, &caller, &unit)?;
    let line = q.line.ok_or_else(|| {
        Problem::bad_request(
            "line_missing",
            "give the policy line, e.g. line=Accident (docs/API.md lists them)",
        )
    })?;
    let window = Window {
        from: q.from,
        to: q.to,
        year: q.year,
        at_position: q.at_position,
        offset: 0,
        limit: None,
    };
    let range = window.range(app.today())?;
    answer_from_projections(&app, q.at_position, move |p| {
        Ok(p.insurance.report(&unit, line, range)?)
    })
    .await
}

fn as_of_date<B: Backend>(app: &App<B>, when: &AsOf) -> NaiveDate {
    when.as_of.unwrap_or_else(|| app.today())
}

/// Lending figures of one fund as of a date (today by default): repayment rate, overdue principal, PAR30, rounds.
#[utoipa::path(get, path = "/api/v1/funds/{fund}/loans", tag = "funds", security(("bearer" = [])),
    description = READERS,
    params(("fund" = FundId, Path, description = "A lending fund"), AsOf),
    responses(
        (status = 200, description = "The loan report", body = LoanReport),
        (status = 400, description = "A malformed parameter, both as_of and at_position, or a fund that does not lend (not_a_lending_fund)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The fund lies outside the caller's scope", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such fund, or at_position beyond the head", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The projections did not catch up in time", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn fund_loans<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(fund): Id<FundId>,
    Params(when): Params<AsOf>,
) -> Result<Response, Problem> {
    one_of(&when)?;
    check_fund(&app, &caller, &fund)?;
    let date = as_of_date(&app, &when);
    answer_from_projections(&app, when.at_position, move |p| {
        Ok(p.loans.fund_report(&fund, date)?)
    })
    .await
}

/// Lending figures of every lending fund in a unit's subtree as of a date (today by default).
#[utoipa::path(get, path = "/api/v1/units/{unit}/loans", tag = "reports", security(("bearer" = [])),
    description = READERS,
    params(("unit" = UnitCode, Path, description = "The root of the subtree"), AsOf),
    responses(
        (status = 200, description = "The loan report", body = LoanReport),
        (status = 400, description = "A malformed parameter, or both as_of and at_position", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The unit lies outside the caller's scope", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such unit, or at_position beyond the head", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The projections did not catch up in time", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn unit_loans<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(unit): Id<UnitCode>,
    Params(when): Params<AsOf>,
) -> Result<Response, Problem> {
    one_of(&when)?;
    check_unit(&app, &caller, &unit)?;
    let date = as_of_date(&app, &when);
    answer_from_projections(&app, when.at_position, move |p| {
        Ok(p.loans.unit_report(&unit, date)?)
    })
    .await
}

/// A payment awaiting approval.
#[derive(Serialize, ToSchema)]
pub(crate) struct RequestRow {
    /// The position of its `PaymentRequested` event: what `ApprovePayment` and `RejectPayment` name.
    request: u64,
    fund: FundId,
    /// The clerk who asked; another person must approve.
    maker: UserId,
    requested_on: NaiveDate,
    /// The last day it can be approved; after it `ExpireRequests` releases the reservation.
    expires_on: NaiveDate,
    /// The money held back from the fund's available cash meanwhile.
    reserved: Money,
    payment: Payment,
}

/// The payments awaiting approval within the caller's scope, oldest first.
#[derive(Serialize, ToSchema)]
pub(crate) struct Requests {
    requests: Vec<RequestRow>,
}

/// Payment requests awaiting approval within the caller's scope.
#[utoipa::path(get, path = "/api/v1/requests", tag = "funds", security(("bearer" = [])),
    description = READERS,
    responses(
        (status = 200, description = "The pending requests", body = Requests),
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The token's user is disabled", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn requests<B: Backend>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
) -> Response {
    app.engine.read(|m| {
        let state = m.state();
        let requests: Vec<RequestRow> = state
            .pending_requests()
            .filter(|(_, r)| caller.may_read_fund(state, r.fund()).is_ok())
            .map(|(request, r)| RequestRow {
                request,
                fund: r.fund().clone(),
                maker: r.maker().clone(),
                requested_on: r.requested_on(),
                expires_on: r.expires_on(),
                reserved: r.reserved().total(),
                payment: r.payment().clone(),
            })
            .collect();
        json(&Requests { requests })
    })
}

/// Which trail to read: at most one of the keys, a range of effective dates, or both
/// (the key's trail narrowed to the dates).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Every event concerning the beneficiary (payments, loans and their repayments, approvals, reversals).
    beneficiary: Option<BeneficiaryId>,
    /// Every event of the fund.
    fund: Option<FundId>,
    /// Every event the member of staff issued (auditors and unscoped admins only).
    actor: Option<UserId>,
    /// The events one command produced (auditors and unscoped admins only).
    command_id: Option<String>,
    /// The first effective date (inclusive); default 1 January 1980.
    from: Option<NaiveDate>,
    /// The last effective date (inclusive); default today.
    to: Option<NaiveDate>,
    /// Records to skip; default 0.
    #[serde(default)]
    offset: u64,
    /// Records per page, 1 to 1,000; default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// The audit trail: who did what, when, why, with each record's chain hash.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", security(("bearer" = [])),
    description = AUDITORS,
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of audit records in log order", body = Page<AuditRecord>),
        (status = 400, description = "No key and no date, two keys, a malformed parameter, or a limit outside 1 to 1,000", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The fund or beneficiary lies outside the caller's scope, or a scoped caller asked by actor, command or date alone", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No such fund (for callers who read everything)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The projections did not catch up in time", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn audit<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Params(q): Params<AuditQuery>,
) -> Result<Response, Problem> {
    let keys = [
        q.beneficiary.is_some(),
        q.fund.is_some(),
        q.actor.is_some(),
        q.command_id.is_some(),
    ]
    .into_iter()
    .filter(|k| *k)
    .count();
    if keys > 1 {
        return Err(Problem::bad_request(
            "audit_key_conflict",
            "give at most one of beneficiary, fund, actor or command_id (with or without from/to)",
        ));
    }
    let page = PageRequest::new(q.offset, q.limit.unwrap_or(100))?;
    match (&q.fund, &q.beneficiary) {
        (Some(fund), _) => check_fund(&app, &caller, fund)?,
        (None, Some(b)) => {
            let unit = app
                .engine
                .read(|m| m.state().beneficiary(b).map(|x| x.unit().clone()));
            match unit {
                Some(unit) => check_unit(&app, &caller, &unit)?,
                None => caller.must_read_everything("the trail of an unknown beneficiary")?,
            }
        }
        (None, None) => caller.must_read_everything("the trail by actor, command or date")?,
    }
    let range = match (q.from, q.to) {
        (None, None) => None,
        (from, to) => Some(
            Window {
                from,
                to,
                year: None,
                at_position: None,
                offset: 0,
                limit: None,
            }
            .range(app.today())?,
        ),
    };
    if keys == 0 && range.is_none() {
        return Err(Problem::bad_request(
            "audit_key_missing",
            "give one of beneficiary, fund, actor, command_id, or from/to",
        ));
    }
    let engine = Arc::clone(&app.engine);
    answer_from_projections(&app, None, move |p| {
        let trail = &p.audit;
        let log = &*engine;
        let page = if let Some(fund) = &q.fund {
            trail.by_fund(fund, range, page, log)
        } else if let Some(b) = &q.beneficiary {
            trail.by_beneficiary(b, range, page, log)
        } else if let Some(actor) = &q.actor {
            trail.by_actor(actor, range, page, log)
        } else if let Some(id) = &q.command_id {
            trail.by_command(id, range, page, log)
        } else {
            trail.by_effective_dates(range.expect("checked above"), page, log)
        };
        Ok(page?)
    })
    .await
}

/// One event: its audit record and the decoded domain event.
#[derive(Serialize, ToSchema)]
pub(crate) struct EventAnswer {
    audit: AuditRecord,
    event: Event,
}

/// One event with its audit record and the decoded event.
#[utoipa::path(get, path = "/api/v1/events/{position}", tag = "audit", security(("bearer" = [])),
    description = READERS,
    params(("position" = u64, Path, description = "The event's log position (0 is the first)")),
    responses(
        (status = 200, description = "The event", body = EventAnswer),
        (status = 400, description = "The position is not a number", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The event's fund lies outside the caller's scope, or a scoped caller asked for an event outside any fund", body = ProblemBody, content_type = "application/problem+json"),
        (status = 404, description = "No event at that position", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The projections did not catch up in time", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn event<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(position): Id<u64>,
) -> Result<Response, Problem> {
    let engine = Arc::clone(&app.engine);
    let record = with_projections(&app, None, move |p| {
        p.audit.entry(position, &*engine)?.ok_or_else(|| {
            Problem::not_found(
                "unknown_position",
                format!("there is no event at position {position}"),
            )
        })
    })
    .await?;
    match &record.fund {
        Some(fund) => check_fund(&app, &caller, fund)?,
        None => caller.must_read_everything("an event outside any fund")?,
    }
    let events = app
        .engine
        .log()?
        .read_all(position, 1)
        .map_err(|e| Problem::internal(e.to_string()))?;
    let stored = events.first().ok_or_else(|| {
        Problem::not_found(
            "unknown_position",
            format!("there is no event at position {position}"),
        )
    })?;
    let recorded = ledger_engine::recorded_event(stored).map_err(Problem::from)?;
    Ok(json(&EventAnswer {
        audit: record,
        event: recorded.event,
    }))
}

/// The first record where the chain does not hold.
#[derive(Serialize, ToSchema)]
pub(crate) struct ChainBreak {
    position: u64,
    problem: String,
}

/// The result of recomputing the hash chain from position 0.
#[derive(Serialize, ToSchema)]
pub(crate) struct Verification {
    /// True when every record's hash and link holds.
    intact: bool,
    /// `sha256` or `sm3`.
    hash_algorithm: String,
    /// Records checked before the first break (all of them when intact).
    events_checked: u64,
    /// One past the last position.
    head_position: u64,
    /// The hash after the last record, 64 hex digits.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    head_hash: String,
    first_break: Option<ChainBreak>,
}

/// Recomputes the whole hash chain.
#[utoipa::path(get, path = "/api/v1/verify", tag = "audit", security(("bearer" = [])),
    description = AUDITORS,
    responses(
        (status = 200, description = "The verification (intact or not)", body = Verification),
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The caller does not read the whole ledger", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn verify<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
) -> Result<Response, Problem> {
    caller.must_read_everything("verifying the chain")?;
    let engine = Arc::clone(&app.engine);
    let report = tokio::task::spawn_blocking(move || {
        engine
            .log()?
            .verify()
            .map_err(|e| Problem::internal(e.to_string()))
    })
    .await
    .map_err(|e| Problem::internal(format!("verify failed: {e}")))??;
    Ok(json(&Verification {
        intact: report.is_intact(),
        hash_algorithm: report.algorithm.name().to_string(),
        events_checked: report.events_checked,
        head_position: report.head.next_position,
        head_hash: hex::encode(report.head.hash),
        first_break: report.first_break.map(|b| ChainBreak {
            position: b.position,
            problem: b.problem,
        }),
    }))
}

/// A `Write` that hands the export to the response body in chunks.
struct ChannelWriter {
    sender: tokio::sync::mpsc::Sender<Result<axum::body::Bytes, std::io::Error>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    const CHUNK_BYTES: usize = 64 * 1024;

    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = axum::body::Bytes::from(std::mem::take(&mut self.buffer));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left"))
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= Self::CHUNK_BYTES {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// The whole log as the auditor's JSONL export (docs/EXCHANGE.md), streamed: a header
/// line, then one line per event with its exact record bytes and chain hashes, up to
/// the head when the request arrived. `welfare-ledger backup --server` rebuilds a
/// ledger from it while the server goes on serving.
#[utoipa::path(get, path = "/api/v1/export", tag = "audit", security(("bearer" = [])),
    description = AUDITORS,
    responses(
        (status = 200, description = "JSON Lines: a header line, then one line per event (docs/EXCHANGE.md)", body = String, content_type = "application/x-ndjson"),
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The caller does not read the whole ledger", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn export<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
) -> Result<Response, Problem> {
    caller.must_read_everything("exporting the ledger")?;
    let (sender, receiver) = tokio::sync::mpsc::channel(8);
    let log = app.engine.log()?;
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            sender: sender.clone(),
            buffer: Vec::new(),
        };
        let result = ledger_exchange::export_jsonl(&log, .., &mut out, &mut |_, _| {})
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|_| std::io::Write::flush(&mut out));
        if let Err(e) = result {
            // The body ends with an error: the client sees a broken transfer, never
            // a short export that looks whole (the last line's hash is the head's).
            let _ = sender.blocking_send(Err(e));
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut r| async move {
        r.recv().await.map(|item| (item, r))
    });
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/x-ndjson; charset=utf-8",
        )],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use ledger_engine::Engine;
    use ledger_store::{Clock, HashAlgorithm, Log, MemoryBackend, SystemClock};

    use super::on_query_thread;
    use crate::{App, Limits};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queries_beyond_the_limit_wait_in_line_and_all_finish() {
        // Given a server that computes at most two queries at once.
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let log = Log::create(MemoryBackend::new(), HashAlgorithm::Sha256, clock.clone()).unwrap();
        let engine = Arc::new(Engine::open(log, clock.clone()).unwrap());
        let limits = Limits {
            concurrent_queries: NonZeroUsize::new(2).unwrap(),
            ..Limits::default()
        };
        let app = App::new(engine, clock, limits, None);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));

        // When twelve queries, each taking 20 ms of a blocking thread, arrive at once,
        let queries: Vec<_> = (0..12)
            .map(|i| {
                let (app, running, most) = (app.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    on_query_thread(&app, move |_| {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok(i)
                    })
                    .await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for query in queries {
            answers.push(query.await.unwrap().unwrap());
        }

        // Then every one is answered, never more than two at a time.
        assert_eq!(answers, (0..12).collect::<Vec<_>>());
        let most = most.load(Ordering::SeqCst);
        assert!((1..=2).contains(&most), "{most} queries ran at once");
    }
}
