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
use ledger_domain::{BeneficiaryId, FundId, PolicyLine, UnitCode, UserId};
use ledger_engine::Projections;
use ledger_projections::{DateRange, PageRequest, PAGE_SIZE_MAX};
use ledger_store::Backend;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

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

/// When to answer for.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AsOf {
    /// An effective date: the figures of every event dated on or before it.
    as_of: Option<NaiveDate>,
    /// A log position: the figures after the event at that position.
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

/// Runs `query` on a blocking thread over the projections: the live ones once they
/// reach the head, or a fold of the log up to `at_position` inclusive.
async fn with_projections<B: Backend + 'static, R: Send + 'static>(
    app: &Arc<App<B>>,
    at_position: Option<u64>,
    query: impl FnOnce(&Projections) -> Result<R, Problem> + Send + 'static,
) -> Result<R, Problem> {
    let app = Arc::clone(app);
    tokio::task::spawn_blocking(move || match at_position {
        Some(position) => {
            let head = app.engine.log().head().next_position;
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
            let head = app.engine.log().head().next_position;
            app.engine
                .projections_after(head, app.limits.read_wait, query)?
        }
    })
    .await
    .map_err(|e| Problem::internal(format!("the query failed: {e}")))?
}

fn json<T: Serialize>(value: &T) -> Response {
    Json(value).into_response()
}

pub(crate) async fn me<B: Backend>(State(app): State<Arc<App<B>>>, caller: Caller) -> Response {
    let tokens = app.engine.read(|m| {
        m.state()
            .access()
            .tokens_of(&caller.user)
            .filter(|(_, t)| !t.is_revoked())
            .count()
    });
    Json(json!({
        "user": caller.user,
        "role": caller.role(),
        "scope": caller.scope(),
        "active_tokens": tokens,
    }))
    .into_response()
}

#[derive(Serialize)]
struct FundRow<'a> {
    fund: &'a FundId,
    unit: &'a UnitCode,
    programme: ledger_domain::Programme,
    name: &'a str,
    fiscal_year: Option<i32>,
    approval_threshold: Option<ledger_domain::Amount>,
}

pub(crate) async fn funds<B: Backend>(State(app): State<Arc<App<B>>>, caller: Caller) -> Response {
    app.engine.read(|m| {
        let state = m.state();
        let rows: Vec<FundRow> = state
            .funds()
            .filter(|(_, f)| caller.may_read_unit(state, f.unit()).is_ok())
            .map(|(id, f)| FundRow {
                fund: id,
                unit: f.unit(),
                programme: f.programme(),
                name: f.name(),
                fiscal_year: f.fiscal_year(),
                approval_threshold: f.approval_threshold(),
            })
            .collect();
        json(&json!({ "funds": rows }))
    })
}

fn check_fund<B: Backend>(app: &App<B>, caller: &Caller, fund: &FundId) -> Result<(), Problem> {
    app.engine.read(|m| caller.may_read_fund(m.state(), fund))
}

fn check_unit<B: Backend>(app: &App<B>, caller: &Caller, unit: &UnitCode) -> Result<(), Problem> {
    app.engine.read(|m| caller.may_read_unit(m.state(), unit))
}

pub(crate) async fn balance<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(fund): Id<FundId>,
    Params(when): Params<AsOf>,
) -> Result<Response, Problem> {
    one_of(&when)?;
    check_fund(&app, &caller, &fund)?;
    let at = when.at_position;
    let figures = with_projections(&app, at, move |p| {
        let ledger = &p.fund_ledger;
        Ok(match when.as_of {
            Some(date) => ledger.balance_as_of(&fund, date)?,
            None => ledger.balance(&fund)?,
        })
    })
    .await?;
    Ok(Json(json!({
        "as_of": when.as_of,
        "at_position": at,
        "budget_execution_rate": figures.budget_execution_rate(),
        "revolving_rounds": figures.revolving_rounds().map(|d| d.to_string()),
        "figures": figures,
    }))
    .into_response())
}

/// A page and a range of effective dates.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Window {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    /// Shorthand for from = 1 January, to = 31 December of the year.
    year: Option<i32>,
    at_position: Option<u64>,
    #[serde(default)]
    offset: u64,
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
        Ok(PageRequest::new(
            self.offset,
            self.limit.unwrap_or(100).min(PAGE_SIZE_MAX + 1),
        )?)
    }
}

pub(crate) async fn statement<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(fund): Id<FundId>,
    Params(window): Params<Window>,
) -> Result<Response, Problem> {
    check_fund(&app, &caller, &fund)?;
    let range = window.range(app.today())?;
    let page = window.page()?;
    let statement = with_projections(&app, window.at_position, move |p| {
        Ok(p.fund_ledger.statement(&fund, range, page)?)
    })
    .await?;
    Ok(json(&statement))
}

pub(crate) async fn programmes<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(unit): Id<UnitCode>,
    Params(window): Params<Window>,
) -> Result<Response, Problem> {
    check_unit(&app, &caller, &unit)?;
    let range = window.range(app.today())?;
    let report = with_projections(&app, window.at_position, move |p| {
        Ok(p.programmes.report(&unit, range)?)
    })
    .await?;
    Ok(json(&report))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InsuranceQuery {
    line: Option<PolicyLine>,
    year: Option<i32>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    at_position: Option<u64>,
}

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
    let report = with_projections(&app, q.at_position, move |p| {
        Ok(p.insurance.report(&unit, line, range)?)
    })
    .await?;
    Ok(json(&report))
}

fn as_of_date<B: Backend>(app: &App<B>, when: &AsOf) -> NaiveDate {
    when.as_of.unwrap_or_else(|| app.today())
}

pub(crate) async fn fund_loans<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(fund): Id<FundId>,
    Params(when): Params<AsOf>,
) -> Result<Response, Problem> {
    one_of(&when)?;
    check_fund(&app, &caller, &fund)?;
    let date = as_of_date(&app, &when);
    let report = with_projections(&app, when.at_position, move |p| {
        Ok(p.loans.fund_report(&fund, date)?)
    })
    .await?;
    Ok(json(&report))
}

pub(crate) async fn unit_loans<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(unit): Id<UnitCode>,
    Params(when): Params<AsOf>,
) -> Result<Response, Problem> {
    one_of(&when)?;
    check_unit(&app, &caller, &unit)?;
    let date = as_of_date(&app, &when);
    let report = with_projections(&app, when.at_position, move |p| {
        Ok(p.loans.unit_report(&unit, date)?)
    })
    .await?;
    Ok(json(&report))
}

#[derive(Serialize)]
struct RequestRow<'a> {
    request: u64,
    fund: &'a FundId,
    maker: &'a UserId,
    requested_on: NaiveDate,
    expires_on: NaiveDate,
    reserved: ledger_domain::Money,
    payment: &'a ledger_domain::Payment,
}

/// Payment requests awaiting approval within the caller's scope.
pub(crate) async fn requests<B: Backend>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
) -> Response {
    app.engine.read(|m| {
        let state = m.state();
        let rows: Vec<RequestRow> = state
            .pending_requests()
            .filter(|(_, r)| caller.may_read_fund(state, r.fund()).is_ok())
            .map(|(request, r)| RequestRow {
                request,
                fund: r.fund(),
                maker: r.maker(),
                requested_on: r.requested_on(),
                expires_on: r.expires_on(),
                reserved: r.reserved().total(),
                payment: r.payment(),
            })
            .collect();
        json(&json!({ "requests": rows }))
    })
}

/// Which trail to read: exactly one of the keys, or a date range.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    beneficiary: Option<BeneficiaryId>,
    fund: Option<FundId>,
    actor: Option<UserId>,
    command_id: Option<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    #[serde(default)]
    offset: u64,
    limit: Option<u32>,
}

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
            "give one of beneficiary, fund, actor or command_id (or a date range alone)",
        ));
    }
    let page = PageRequest::new(q.offset, q.limit.unwrap_or(100).min(PAGE_SIZE_MAX + 1))?;
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
    let page = with_projections(&app, None, move |p| {
        let trail = &p.audit;
        Ok(if let Some(fund) = &q.fund {
            trail.by_fund(fund, page)
        } else if let Some(b) = &q.beneficiary {
            trail.by_beneficiary(b, page)
        } else if let Some(actor) = &q.actor {
            trail.by_actor(actor, page)
        } else if let Some(id) = &q.command_id {
            trail.by_command(id, page)
        } else if let Some(range) = range {
            trail.by_effective_dates(range, page)
        } else {
            return Err(Problem::bad_request(
                "audit_key_missing",
                "give one of beneficiary, fund, actor, command_id, or from/to",
            ));
        })
    })
    .await?;
    Ok(json(&page))
}

/// One event with its audit record and the decoded event.
pub(crate) async fn event<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(position): Id<u64>,
) -> Result<Response, Problem> {
    let record = with_projections(&app, None, move |p| {
        p.audit.entry(position).ok_or_else(|| {
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
        .log()
        .read_all(position, 1)
        .map_err(|e| Problem::internal(e.to_string()))?;
    let stored = events.first().ok_or_else(|| {
        Problem::not_found(
            "unknown_position",
            format!("there is no event at position {position}"),
        )
    })?;
    let recorded = ledger_engine::recorded_event(stored).map_err(Problem::from)?;
    Ok(Json(json!({ "audit": record, "event": recorded.event })).into_response())
}

pub(crate) async fn verify<B: Backend + 'static>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
) -> Result<Response, Problem> {
    caller.must_read_everything("verifying the chain")?;
    let engine = Arc::clone(&app.engine);
    let report = tokio::task::spawn_blocking(move || engine.log().verify())
        .await
        .map_err(|e| Problem::internal(format!("verify failed: {e}")))?
        .map_err(|e| Problem::internal(e.to_string()))?;
    Ok(Json(json!({
        "intact": report.is_intact(),
        "hash_algorithm": report.algorithm.name(),
        "events_checked": report.events_checked,
        "head_position": report.head.next_position,
        "head_hash": hex::encode(report.head.hash),
        "first_break": report.first_break.map(|b| json!({"position": b.position, "problem": b.problem})),
    }))
    .into_response())
}
