//! The page handlers. Each signs the caller in through the API (`/api/v1/me`), reads
//! or writes through the API, and renders a template. A refusal of the API is shown
//! as the page's error in the page's language, with the API's detail (which the API
//! answers in the page's language too when a rule of the ledger refused) and code.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use ledger_domain::{authorize, Programme, Role, UserId};
use ledger_store::{Backend, CommandId};
use serde::Deserialize;
use serde_json::Value;

use crate::api::{query, ApiProblem, Caller, CommandBody};
use crate::forms::{self, FieldError, Input, Kind, Values};
use crate::i18n::{Lang, Tr};
use crate::money::{show_percent, show_yuan};
use crate::session::{self, Session, LANG_COOKIE, TOKEN_COOKIE};
use crate::Web;

// ---------------------------------------------------------------- API answers

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Me {
    pub user: String,
    pub role: Role,
    pub scope: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct FundRow {
    fund: String,
    unit: String,
    programme: Programme,
    name: String,
    fiscal_year: Option<i32>,
    approval_threshold: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Funds {
    funds: Vec<FundRow>,
}

#[derive(Debug, Deserialize)]
struct Figures {
    available: String,
    committed: String,
    received: String,
    disbursed: String,
    reserved: String,
    lent: String,
    repaid: String,
    loans_outstanding: String,
    #[serde(default)]
    by_tier: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct Balance {
    budget_execution_rate: Option<String>,
    figures: Figures,
}

#[derive(Debug, Deserialize)]
struct Available {
    available: String,
}

#[derive(Debug, Deserialize)]
struct StatementLine {
    position: u64,
    effective_date: String,
    event_type: String,
    actor: String,
    memo: String,
    change: Available,
    balance: Available,
}

#[derive(Debug, Deserialize)]
struct Lines {
    items: Vec<StatementLine>,
    total: u64,
}

#[derive(Debug, Deserialize)]
struct Statement {
    lines: Lines,
}

#[derive(Debug, Deserialize)]
struct RequestRow {
    request: u64,
    fund: String,
    maker: String,
    requested_on: String,
    expires_on: String,
    reserved: String,
    payment: Value,
}

#[derive(Debug, Deserialize)]
struct Requests {
    requests: Vec<RequestRow>,
}

#[derive(Debug, Deserialize)]
struct AuditRow {
    position: u64,
    event_type: String,
    command_id: String,
    actor: String,
    recorded_at: String,
    effective_date: String,
    memo: String,
    hash: String,
    fund: Option<String>,
    beneficiary: Option<String>,
    reverses: Option<u64>,
    reversed_by: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct AuditPageAnswer {
    items: Vec<AuditRow>,
    total: u64,
    next_offset: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct ChainBreak {
    position: u64,
    problem: String,
}

#[derive(Debug, Deserialize)]
struct Verification {
    intact: bool,
    hash_algorithm: String,
    events_checked: u64,
    head_position: u64,
    head_hash: String,
    first_break: Option<ChainBreak>,
}

#[derive(Debug, Deserialize)]
struct EventAnswer {
    audit: EventType,
}

#[derive(Debug, Deserialize)]
struct EventType {
    event_type: String,
}

// ---------------------------------------------------------------- the page frame

/// A navigation link.
pub(crate) struct Nav {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// What the layout (`base.html`) shows around every page.
pub(crate) struct Chrome {
    pub tr: Tr,
    pub html_lang: &'static str,
    pub title: String,
    pub csrf: String,
    pub user: Option<Me>,
    pub role_label: &'static str,
    pub scope_label: String,
    pub nav: Vec<Nav>,
    pub lang_href: String,
    /// Reload the page after this many seconds (0: never); an import in progress.
    pub refresh_seconds: u32,
}

impl Chrome {
    fn new(session: &Session, me: Option<&Me>, title_key: &str, here: &str) -> Chrome {
        let tr = Tr { lang: session.lang };
        let nav_keys: &[(&'static str, &'static str)] = match me.map(|m| m.role) {
            None => &[],
            Some(Role::Clerk) => &[
                ("/web/", "nav.home"),
                ("/web/funds", "nav.funds"),
                ("/web/record", "nav.record"),
                ("/web/import", "nav.import"),
                ("/web/requests", "nav.requests"),
            ],
            Some(Role::Approver) => &[
                ("/web/", "nav.home"),
                ("/web/funds", "nav.funds"),
                ("/web/requests", "nav.requests"),
            ],
            Some(Role::Manager) => &[
                ("/web/", "nav.home"),
                ("/web/dashboard", "nav.dashboard"),
                ("/web/funds", "nav.funds"),
            ],
            Some(Role::Auditor | Role::Admin) => &[
                ("/web/", "nav.home"),
                ("/web/dashboard", "nav.dashboard"),
                ("/web/funds", "nav.funds"),
                ("/web/audit", "nav.audit"),
                ("/web/verify", "nav.verify"),
            ],
        };
        let nav = nav_keys
            .iter()
            .map(|&(href, key)| Nav {
                href,
                label: tr.t(key),
                current: here == href,
            })
            .collect();
        let role_label = me.map_or("", |m| tr.t(&format!("role.{}", m.role.name())));
        let scope_label = me.map_or_else(String::new, |m| {
            m.scope
                .clone()
                .unwrap_or_else(|| tr.t("who.whole_ledger").to_string())
        });
        Chrome {
            tr,
            html_lang: session.lang.html(),
            title: tr.t(title_key).to_string(),
            csrf: session.csrf.clone(),
            user: me.cloned(),
            role_label,
            scope_label,
            nav,
            refresh_seconds: 0,
            lang_href: format!(
                "/web/lang?to={}&back={}",
                session.lang.other().code(),
                crate::api::encode(here)
            ),
        }
    }
}

/// An error shown on a page: the sentence in the page's language, the ledger's
/// detail (which names the figures) and its code.
pub(crate) struct ErrorView {
    pub message: String,
    pub detail: String,
    pub code: String,
}

impl ErrorView {
    fn of(tr: Tr, code: &str, detail: &str) -> ErrorView {
        ErrorView {
            message: tr.problem(code).to_string(),
            detail: detail.to_string(),
            code: code.to_string(),
        }
    }
}

fn html(
    status: StatusCode,
    session: &Session,
    rendered: Result<String, askama::Error>,
) -> Response {
    let mut response = match rendered {
        Ok(body) => (status, body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the page could not be rendered: {e}"),
        )
            .into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    if let Some(cookie) = session.csrf_set_cookie() {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    error: ErrorView,
}

fn error_page(session: &Session, me: Option<&Me>, problem: &ApiProblem) -> Response {
    let chrome = Chrome::new(session, me, "error.title", "");
    let error = ErrorView::of(chrome.tr, &problem.code, &problem.detail);
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    html(status, session, ErrorPage { chrome, error }.render())
}

/// The caller, signed in with the token cookie, or a redirect to the sign-in page.
async fn signed_in<B: Backend>(web: &Web<B>, session: &Session) -> Result<(Caller, Me), Response> {
    let Some(token) = session.token.clone() else {
        return Err(Redirect::to("/web/sign-in?why=required").into_response());
    };
    let caller = Caller {
        token,
        lang: session.lang,
    };
    match web.api.get::<Me>(&caller, "/api/v1/me").await {
        Ok(me) => Ok((caller, me)),
        Err(p) if p.status == 401 || p.status == 403 => {
            Err(Redirect::to(&format!("/web/sign-in?why={}", p.code)).into_response())
        }
        Err(p) => Err(error_page(session, None, &p)),
    }
}

macro_rules! sign_in_or_return {
    ($web:expr, $session:expr) => {
        match signed_in(&$web, &$session).await {
            Ok(found) => found,
            Err(response) => return response,
        }
    };
}

fn csrf_refused(session: &Session, me: Option<&Me>) -> Response {
    let chrome = Chrome::new(session, me, "error.title", "");
    let error = ErrorView {
        message: chrome.tr.t("error.csrf").to_string(),
        detail: String::new(),
        code: "csrf".to_string(),
    };
    html(
        StatusCode::FORBIDDEN,
        session,
        ErrorPage { chrome, error }.render(),
    )
}

// ---------------------------------------------------------------- sign-in

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    notice: Option<String>,
    error: Option<ErrorView>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Why {
    why: Option<String>,
}

pub(crate) async fn sign_in_form(session: Session, Query(why): Query<Why>) -> Response {
    let chrome = Chrome::new(&session, None, "signin.title", "/web/sign-in");
    let tr = chrome.tr;
    let (notice, error) = match why.why.as_deref() {
        None => (None, None),
        Some("signed_out") => (Some(tr.t("signin.signed_out").to_string()), None),
        Some("required") => (Some(tr.t("signin.required").to_string()), None),
        Some(code) => (None, Some(ErrorView::of(tr, code, ""))),
    };
    html(
        StatusCode::OK,
        &session,
        SignInPage {
            chrome,
            notice,
            error,
        }
        .render(),
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignInForm {
    token: String,
    csrf: Option<String>,
}

pub(crate) async fn sign_in<B: Backend>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
    Form(form): Form<SignInForm>,
) -> Response {
    if !session.csrf_matches(form.csrf.as_deref()) {
        return csrf_refused(&session, None);
    }
    let token = form.token.trim().to_string();
    let caller = Caller {
        token: token.clone(),
        lang: session.lang,
    };
    match web.api.get::<Me>(&caller, "/api/v1/me").await {
        Ok(_) => {
            let mut response = Redirect::to("/web/").into_response();
            if let Some(cookie) = session.set_cookie(TOKEN_COOKIE, &token, None) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(problem) => {
            let chrome = Chrome::new(&session, None, "signin.title", "/web/sign-in");
            let error = Some(ErrorView::of(chrome.tr, &problem.code, &problem.detail));
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::UNAUTHORIZED);
            html(
                status,
                &session,
                SignInPage {
                    chrome,
                    notice: None,
                    error,
                }
                .render(),
            )
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CsrfOnly {
    csrf: Option<String>,
}

pub(crate) async fn sign_out(session: Session, Form(form): Form<CsrfOnly>) -> Response {
    if !session.csrf_matches(form.csrf.as_deref()) {
        return csrf_refused(&session, None);
    }
    let mut response = Redirect::to("/web/sign-in?why=signed_out").into_response();
    if let Some(cookie) = session.set_cookie(TOKEN_COOKIE, "", Some(0)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Debug, Deserialize)]
pub(crate) struct LangSwitch {
    to: String,
    back: Option<String>,
}

pub(crate) async fn switch_lang(session: Session, Query(q): Query<LangSwitch>) -> Response {
    let lang = Lang::from_cookie(Some(&q.to));
    // Only a path of this site is a place to go back to.
    let back = q
        .back
        .filter(|b| b.starts_with("/web") && !b.starts_with("//"))
        .unwrap_or_else(|| "/web/".to_string());
    let mut response = Redirect::to(&back).into_response();
    if let Some(cookie) = session.set_cookie(LANG_COOKIE, lang.code(), Some(31_536_000)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

// ---------------------------------------------------------------- home

pub(crate) struct Card {
    pub href: &'static str,
    pub title: &'static str,
    pub text: &'static str,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    cards: Vec<Card>,
}

pub(crate) async fn home<B: Backend>(State(web): State<Arc<Web<B>>>, session: Session) -> Response {
    let (_, me) = sign_in_or_return!(web, session);
    let chrome = Chrome::new(&session, Some(&me), "home.title", "/web/");
    let tr = chrome.tr;
    let card = |href, title, text| Card {
        href,
        title: tr.t(title),
        text: tr.t(text),
    };
    let cards = match me.role {
        Role::Clerk => vec![
            card("/web/record", "nav.record", "home.clerk"),
            card("/web/import", "nav.import", "import.intro"),
            card("/web/funds", "nav.funds", "home.intro"),
        ],
        Role::Approver => vec![card("/web/requests", "nav.requests", "home.approver")],
        Role::Manager => vec![
            card("/web/dashboard", "nav.dashboard", "home.manager"),
            card("/web/funds", "nav.funds", "home.intro"),
        ],
        Role::Auditor => vec![
            card("/web/audit", "nav.audit", "home.auditor"),
            card("/web/verify", "nav.verify", "verify.title"),
            card("/web/dashboard", "nav.dashboard", "home.manager"),
        ],
        Role::Admin => vec![card("/web/funds", "nav.funds", "home.admin")],
    };
    html(
        StatusCode::OK,
        &session,
        HomePage { chrome, cards }.render(),
    )
}

// ---------------------------------------------------------------- funds

pub(crate) struct FundView {
    pub fund: String,
    pub name: String,
    pub unit: String,
    pub programme: String,
    pub year: String,
    pub threshold: String,
}

#[derive(Template)]
#[template(path = "funds.html")]
struct FundsPage {
    chrome: Chrome,
    filter: String,
    rows: Vec<FundView>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FundsFilter {
    q: Option<String>,
}

pub(crate) async fn funds<B: Backend>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
    Query(filter): Query<FundsFilter>,
) -> Response {
    let (caller, me) = sign_in_or_return!(web, session);
    let answer = match web.api.get::<Funds>(&caller, "/api/v1/funds").await {
        Ok(a) => a,
        Err(p) => return error_page(&session, Some(&me), &p),
    };
    let chrome = Chrome::new(&session, Some(&me), "funds.title", "/web/funds");
    let tr = chrome.tr;
    let needle = filter.q.clone().unwrap_or_default().trim().to_lowercase();
    let rows = answer
        .funds
        .into_iter()
        .filter(|f| {
            needle.is_empty()
                || f.fund.to_lowercase().contains(&needle)
                || f.unit.to_lowercase().contains(&needle)
                || f.name.to_lowercase().contains(&needle)
        })
        .map(|f| FundView {
            programme: tr.of("programme.", &format!("{:?}", f.programme)),
            year: f.fiscal_year.map_or_else(String::new, |y| y.to_string()),
            threshold: f
                .approval_threshold
                .as_deref()
                .map_or_else(|| tr.t("funds.none").to_string(), |t| show_yuan(Some(t))),
            fund: f.fund,
            name: f.name,
            unit: f.unit,
        })
        .collect();
    html(
        StatusCode::OK,
        &session,
        FundsPage {
            chrome,
            filter: filter.q.unwrap_or_default(),
            rows,
        }
        .render(),
    )
}

pub(crate) struct FigureView {
    pub label: &'static str,
    pub value: String,
    pub id: &'static str,
}

pub(crate) struct TierView {
    pub tier: String,
    pub available: String,
    pub disbursed: String,
}

pub(crate) struct LineView {
    pub position: u64,
    pub date: String,
    pub event: String,
    pub event_label: String,
    pub change: String,
    pub balance: String,
    pub actor: String,
    pub memo: String,
}

#[derive(Template)]
#[template(path = "fund.html")]
struct FundPage {
    chrome: Chrome,
    fund: String,
    as_of: String,
    figures: Vec<FigureView>,
    tiers: Vec<TierView>,
    lines: Vec<LineView>,
    total_lines: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AsOfQuery {
    as_of: Option<String>,
}

/// Statement lines shown on a fund's page: the latest ones up to the date.
const STATEMENT_LINES_SHOWN: u64 = 50;

pub(crate) async fn fund<B: Backend>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
    Path(fund): Path<String>,
    Query(q): Query<AsOfQuery>,
) -> Response {
    let (caller, me) = sign_in_or_return!(web, session);
    let as_of = q.as_of.unwrap_or_default().trim().to_string();
    let id = crate::api::encode(&fund);
    let balance = match web
        .api
        .get::<Balance>(
            &caller,
            &format!("/api/v1/funds/{id}/balance{}", query(&[("as_of", &as_of)])),
        )
        .await
    {
        Ok(b) => b,
        Err(p) => return error_page(&session, Some(&me), &p),
    };
    let base = format!("/api/v1/funds/{id}/statement");
    let to = as_of.clone();
    let probe = match web
        .api
        .get::<Statement>(
            &caller,
            &format!("{base}{}", query(&[("to", &to), ("limit", "1")])),
        )
        .await
    {
        Ok(s) => s,
        Err(p) => return error_page(&session, Some(&me), &p),
    };
    let total = probe.lines.total;
    let offset = total.saturating_sub(STATEMENT_LINES_SHOWN).to_string();
    let statement = match web
        .api
        .get::<Statement>(
            &caller,
            &format!(
                "{base}{}",
                query(&[
                    ("to", &to),
                    ("offset", &offset),
                    ("limit", &STATEMENT_LINES_SHOWN.to_string())
                ])
            ),
        )
        .await
    {
        Ok(s) => s,
        Err(p) => return error_page(&session, Some(&me), &p),
    };
    let chrome = Chrome::new(&session, Some(&me), "fund.title", "/web/funds");
    let tr = chrome.tr;
    let f = &balance.figures;
    let figure = |label: &str, value: &str, id| FigureView {
        label: tr.t(label),
        value: show_yuan(Some(value)),
        id,
    };
    let mut figures = vec![
        figure("fund.available", &f.available, "available"),
        figure("fund.committed", &f.committed, "committed"),
        figure("fund.received", &f.received, "received"),
        figure("fund.disbursed", &f.disbursed, "disbursed"),
        figure("fund.reserved", &f.reserved, "reserved"),
    ];
    if !money_is_zero(&f.lent) {
        figures.push(figure("fund.lent", &f.lent, "lent"));
        figures.push(figure("fund.repaid", &f.repaid, "repaid"));
        figures.push(figure(
            "fund.outstanding",
            &f.loans_outstanding,
            "outstanding",
        ));
    }
    figures.push(FigureView {
        label: tr.t("fund.budget_execution"),
        value: show_percent(balance.budget_execution_rate.as_deref()),
        id: "budget_execution",
    });
    let tiers = f
        .by_tier
        .iter()
        .filter_map(|entry| {
            let tier = entry.get(0)?.as_str()?;
            let figures = entry.get(1)?;
            Some(TierView {
                tier: tr.of("tier.", tier),
                available: show_yuan(figures.get("available").and_then(Value::as_str)),
                disbursed: show_yuan(figures.get("disbursed").and_then(Value::as_str)),
            })
        })
        .collect();
    let lines = statement
        .lines
        .items
        .into_iter()
        .rev()
        .map(|l| LineView {
            position: l.position,
            date: l.effective_date,
            event_label: tr.of("event.", &l.event_type),
            event: l.event_type,
            change: show_yuan(Some(&l.change.available)),
            balance: show_yuan(Some(&l.balance.available)),
            actor: l.actor,
            memo: l.memo,
        })
        .collect();
    html(
        StatusCode::OK,
        &session,
        FundPage {
            chrome,
            fund,
            as_of,
            figures,
            tiers,
            lines,
            total_lines: total,
        }
        .render(),
    )
}

fn money_is_zero(text: &str) -> bool {
    crate::money::parse(text).is_none_or(|d| d.is_zero())
}

// ---------------------------------------------------------------- recording

pub(crate) struct KindLink {
    pub href: String,
    pub label: &'static str,
}

#[derive(Template)]
#[template(path = "record_index.html")]
struct RecordIndexPage {
    chrome: Chrome,
    kinds: Vec<KindLink>,
}

/// Refuses, with the ledger's own rule, a caller whose role may not record payments:
/// `authorize` on a probe command (a repayment of a loan that does not exist, so that
/// only the role counts; the scope is checked when the real command is submitted). The
/// detail is in the page's language, as the API would answer it.
fn may_record<B: Backend>(web: &Web<B>, me: &Me, lang: Lang) -> Result<(), ApiProblem> {
    let user = UserId::new(&me.user).map_err(|e| ApiProblem::internal(e.to_string()))?;
    let probe = ledger_domain::Command::RepayLoan {
        loan: ledger_domain::LoanId::new("probe")
            .map_err(|e| ApiProblem::internal(e.to_string()))?,
        principal: ledger_domain::Amount::ZERO,
        interest: ledger_domain::Amount::ZERO,
    };
    web.app
        .engine
        .read(|m| authorize(m.state(), &user, &probe))
        .map_err(|rejection| ApiProblem {
            status: ledger_server::problem::rejection_status(&rejection).as_u16(),
            code: rejection.code().to_string(),
            detail: lang.pick(rejection.detail_zh(), rejection.to_string()),
        })
}

pub(crate) async fn record_index<B: Backend>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
) -> Response {
    let (_, me) = sign_in_or_return!(web, session);
    if let Err(p) = may_record(&web, &me, session.lang) {
        return error_page(&session, Some(&me), &p);
    }
    let chrome = Chrome::new(&session, Some(&me), "record.title", "/web/record");
    let kinds = Kind::ALL
        .iter()
        .map(|k| KindLink {
            href: format!("/web/record/{}", k.slug()),
            label: chrome.tr.t(k.title_key()),
        })
        .collect();
    html(
        StatusCode::OK,
        &session,
        RecordIndexPage { chrome, kinds }.render(),
    )
}

pub(crate) struct OptionView {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub(crate) struct ShareView {
    pub name: String,
    pub label: String,
    pub value: String,
    pub error: Option<String>,
}

pub(crate) struct FieldView {
    pub name: &'static str,
    pub label: &'static str,
    /// `text`, `select`, `check` or `shares`.
    pub widget: &'static str,
    pub inputmode: &'static str,
    pub placeholder: &'static str,
    pub value: String,
    pub required: bool,
    pub hint: Option<&'static str>,
    pub error: Option<String>,
    pub options: Vec<OptionView>,
    pub shares: Vec<ShareView>,
}

#[derive(Template)]
#[template(path = "record_form.html")]
struct FormPage {
    chrome: Chrome,
    slug: &'static str,
    heading: &'static str,
    key: String,
    fields: Vec<FieldView>,
    form_error: Option<ErrorView>,
    summary: Vec<SummaryItem>,
    has_errors: bool,
}

pub(crate) struct SummaryItem {
    pub href: String,
    pub label: String,
    pub message: String,
}

fn error_text(tr: Tr, e: &FieldError) -> String {
    let sentence = tr.problem(&e.code);
    if e.detail.is_empty() || e.code == "required" {
        sentence.to_string()
    } else {
        format!("{sentence}（{}）", e.detail)
    }
}

fn field_views(
    tr: Tr,
    kind: Kind,
    values: &Values,
    errors: &[FieldError],
    funds: &[FundRow],
) -> Vec<FieldView> {
    let error_of = |name: &str| {
        let texts: Vec<String> = errors
            .iter()
            .filter(|e| e.field == name)
            .map(|e| error_text(tr, e))
            .collect();
        (!texts.is_empty()).then(|| texts.join("；"))
    };
    kind.fields()
        .into_iter()
        .map(|f| {
            let value = values.get(f.name).cloned().unwrap_or_default();
            let mut view = FieldView {
                name: f.name,
                label: tr.t(f.key),
                widget: "text",
                inputmode: "text",
                placeholder: "",
                value: value.clone(),
                required: f.required,
                hint: f.hint.map(|h| tr.t(h)),
                error: error_of(f.name),
                options: Vec::new(),
                shares: Vec::new(),
            };
            match f.input {
                Input::Text => {}
                Input::Amount => {
                    view.inputmode = "decimal";
                    view.placeholder = "1,234.56";
                }
                Input::Date => {
                    view.inputmode = "numeric";
                    view.placeholder = "YYYY-MM-DD";
                }
                Input::Number => view.inputmode = "numeric",
                Input::Check => view.widget = "check",
                Input::Fund(programmes) => {
                    view.widget = "select";
                    view.options = funds
                        .iter()
                        .filter(|r| programmes.contains(&r.programme))
                        .map(|r| OptionView {
                            selected: r.fund == value,
                            label: format!("{} — {}", r.fund, r.name),
                            value: r.fund.clone(),
                        })
                        .collect();
                }
                Input::Choice(choices) => {
                    view.widget = "select";
                    view.options = choices
                        .iter()
                        .map(|(v, key)| OptionView {
                            value: (*v).to_string(),
                            label: tr.t(key).to_string(),
                            selected: *v == value,
                        })
                        .collect();
                }
                Input::Shares(tiers) => {
                    view.widget = "shares";
                    view.shares = tiers
                        .iter()
                        .map(|tier| {
                            let name = format!("share_{tier:?}");
                            ShareView {
                                label: tr.of("tier.", &format!("{tier:?}")),
                                value: values.get(&name).cloned().unwrap_or_default(),
                                error: error_of(&name),
                                name,
                            }
                        })
                        .collect();
                }
            }
            view
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn form_page(
    session: &Session,
    me: &Me,
    kind: Kind,
    key: String,
    values: &Values,
    errors: &[FieldError],
    funds: &[FundRow],
    status: StatusCode,
) -> Response {
    let chrome = Chrome::new(session, Some(me), kind.title_key(), "/web/record");
    let tr = chrome.tr;
    let fields = field_views(tr, kind, values, errors, funds);
    let form_error = errors
        .iter()
        .find(|e| e.field.is_empty())
        .map(|e| ErrorView::of(tr, &e.code, &e.detail));
    // The error summary at the top links to each field with a message (WCAG 3.3.1).
    let summary = errors
        .iter()
        .filter(|e| !e.field.is_empty())
        .map(|e| {
            let label = match e.field.strip_prefix("share_") {
                Some(tier) => format!("{} {}", tr.t("field.shares"), tr.of("tier.", tier)),
                None => kind
                    .fields()
                    .iter()
                    .find(|f| f.name == e.field)
                    .map_or_else(|| e.field.clone(), |f| tr.t(f.key).to_string()),
            };
            let target = if e.field == "shares" {
                "field-shares".to_string()
            } else {
                format!("f-{}", e.field)
            };
            SummaryItem {
                href: format!("#{target}"),
                label,
                message: error_text(tr, e),
            }
        })
        .collect();
    html(
        status,
        session,
        FormPage {
            chrome,
            slug: kind.slug(),
            heading: tr.t(kind.title_key()),
            key,
            fields,
            form_error,
            summary,
            has_errors: !errors.is_empty(),
        }
        .render(),
    )
}

fn not_found(session: &Session, me: Option<&Me>) -> Response {
    error_page(
        session,
        me,
        &ApiProblem {
            status: 404,
            code: "not_found".to_string(),
            detail: String::new(),
        },
    )
}

pub(crate) async fn record_form<B: Backend>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
    Path(slug): Path<String>,
) -> Response {
    let (caller, me) = sign_in_or_return!(web, session);
    let Some(kind) = Kind::from_slug(&slug) else {
        return not_found(&session, Some(&me));
    };
    if let Err(p) = may_record(&web, &me, session.lang) {
        return error_page(&session, Some(&me), &p);
    }
    let funds = match web.api.get::<Funds>(&caller, "/api/v1/funds").await {
        Ok(f) => f.funds,
        Err(p) => return error_page(&session, Some(&me), &p),
    };
    let values = kind.defaults(web.app.today());
    form_page(
        &session,
        &me,
        kind,
        session::idempotency_key(),
        &values,
        &[],
        &funds,
        StatusCode::OK,
    )
}

pub(crate) struct DoneView {
    pub notices: Vec<&'static str>,
    pub command_ids: Vec<String>,
    pub positions: String,
    pub fund: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "done.html")]
struct DonePage {
    chrome: Chrome,
    slug: &'static str,
    done: DoneView,
}

pub(crate) async fn record_submit<B: Backend>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
    Path(slug): Path<String>,
    Form(values): Form<HashMap<String, String>>,
) -> Response {
    let (caller, me) = sign_in_or_return!(web, session);
    let Some(kind) = Kind::from_slug(&slug) else {
        return not_found(&session, Some(&me));
    };
    if !session.csrf_matches(values.get("csrf").map(String::as_str)) {
        return csrf_refused(&session, Some(&me));
    }
    let funds = match web.api.get::<Funds>(&caller, "/api/v1/funds").await {
        Ok(f) => f.funds,
        Err(p) => return error_page(&session, Some(&me), &p),
    };
    let key = match values.get("idempotency_key") {
        Some(k) if CommandId::new(format!("{k}.9")).is_ok() => k.clone(),
        _ => session::idempotency_key(),
    };
    let refuse = |errors: Vec<FieldError>| {
        form_page(
            &session,
            &me,
            kind,
            key.clone(),
            &values,
            &errors,
            &funds,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let parsed = match forms::parse(kind, &values, session.lang) {
        Ok(p) => p,
        Err(errors) => return refuse(errors),
    };
    let bodies: Vec<CommandBody> = parsed
        .commands
        .iter()
        .map(|command| CommandBody {
            command,
            effective_date: parsed.effective_date,
            memo: &parsed.memo,
        })
        .collect();
    // A form of several commands (a bursary's award and instalment per tier) is one
    // group, recorded all or none; its commands get the ids `{key}.1`, `{key}.2`, ...
    let recorded = match bodies.as_slice() {
        [one] => web.api.command(&caller, &key, one).await.map(|r| vec![r]),
        all => web.api.command_group(&caller, &key, all).await,
    };
    let recorded = match recorded {
        Ok(recorded) => recorded,
        Err(problem) => return refuse(vec![as_field_error(kind, &problem)]),
    };
    let mut notices = vec!["done.recorded"];
    if recorded.iter().all(|r| r.replayed) {
        notices.push("done.replayed");
    }
    if let Some(first) = recorded.last().and_then(|r| r.positions.first()) {
        let event = web
            .api
            .get::<EventAnswer>(&caller, &format!("/api/v1/events/{first}"))
            .await;
        if matches!(&event, Ok(e) if e.audit.event_type == "PaymentRequested") {
            notices.push("done.pending");
        }
    }
    let fund = match &parsed.fund {
        Some(fund) => web
            .api
            .get::<Balance>(
                &caller,
                &format!(
                    "/api/v1/funds/{}/balance",
                    crate::api::encode(fund.as_str())
                ),
            )
            .await
            .ok()
            .map(|b| (fund.to_string(), show_yuan(Some(&b.figures.available)))),
        None => None,
    };
    let positions: Vec<String> = recorded
        .iter()
        .flat_map(|r| r.positions.iter().map(u64::to_string))
        .collect();
    let chrome = Chrome::new(&session, Some(&me), "done.title", "/web/record");
    html(
        StatusCode::CREATED,
        &session,
        DonePage {
            chrome,
            slug: kind.slug(),
            done: DoneView {
                notices,
                command_ids: recorded.into_iter().map(|r| r.command_id).collect(),
                positions: positions.join(", "),
                fund,
            },
        }
        .render(),
    )
}

fn as_field_error(kind: Kind, problem: &ApiProblem) -> FieldError {
    FieldError {
        field: forms::field_of_code(kind, &problem.code).to_string(),
        code: problem.code.clone(),
        detail: problem.detail.clone(),
    }
}

// ---------------------------------------------------------------- approvals

pub(crate) struct RequestView {
    pub request: u64,
    pub fund: String,
    pub maker: String,
    pub requested_on: String,
    pub expires_on: String,
    pub reserved: String,
    pub payment: String,
    pub own: bool,
    pub approve_key: String,
    pub reject_key: String,
}

#[derive(Template)]
#[template(path = "requests.html")]
struct RequestsPage {
    chrome: Chrome,
    rows: Vec<RequestView>,
    flash: Option<&'static str>,
    error: Option<ErrorView>,
    approver: bool,
    clerk: bool,
}

/// A short description of a pending payment: kind, beneficiary or award, amount.
fn describe_payment(tr: Tr, payment: &Value) -> String {
    let Some((kind, body)) = payment.as_object().and_then(|o| o.iter().next()) else {
        return String::new();
    };
    let who = ["beneficiary", "award", "loan"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str))
        .unwrap_or("");
    let amount = ["amount", "principal", "tax_inclusive"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str));
    format!("{} {} ¥{}", tr.of("payment.", kind), who, show_yuan(amount))
}

#[derive(Debug, Deserialize)]
pub(crate) struct Flash {
    done: Option<String>,
}

async fn requests_page<B: Backend>(
    web: &Web<B>,
    session: &Session,
    caller: &Caller,
    me: &Me,
    flash: Option<&'static str>,
    error: Option<ErrorView>,
) -> Response {
    let answer = match web.api.get::<Requests>(caller, "/api/v1/requests").await {
        Ok(a) => a,
        Err(p) => return error_page(session, Some(me), &p),
    };
    let chrome = Chrome::new(session, Some(me), "requests.title", "/web/requests");
    let tr = chrome.tr;
    let rows = answer
        .requests
        .into_iter()
        .map(|r| RequestView {
            payment: describe_payment(tr, &r.payment),
            own: r.maker == me.user,
            request: r.request,
            fund: r.fund,
            maker: r.maker,
            requested_on: r.requested_on,
            expires_on: r.expires_on,
            reserved: show_yuan(Some(&r.reserved)),
            approve_key: session::idempotency_key(),
            reject_key: session::idempotency_key(),
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    html(
        status,
        session,
        RequestsPage {
            chrome,
            rows,
            flash,
            error,
            approver: me.role == Role::Approver,
            clerk: me.role == Role::Clerk,
        }
        .render(),
    )
}

pub(crate) async fn requests<B: Backend>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
    Query(flash): Query<Flash>,
) -> Response {
    let (caller, me) = sign_in_or_return!(web, session);
    let flash = match flash.done.as_deref() {
        Some("approved") => Some("requests.approved"),
        Some("rejected") => Some("requests.rejected"),
        _ => None,
    };
    requests_page(&web, &session, &caller, &me, flash, None).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct Decision {
    csrf: Option<String>,
    idempotency_key: String,
    decision: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn decide_request<B: Backend>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
    Path(request): Path<u64>,
    Form(form): Form<Decision>,
) -> Response {
    let (caller, me) = sign_in_or_return!(web, session);
    if !session.csrf_matches(form.csrf.as_deref()) {
        return csrf_refused(&session, Some(&me));
    }
    let (command, done) = match form.decision.as_str() {
        "approve" => (
            ledger_domain::Command::ApprovePayment { request },
            "approved",
        ),
        _ => (
            ledger_domain::Command::RejectPayment {
                request,
                reason: form.reason.trim().to_string(),
            },
            "rejected",
        ),
    };
    let body = CommandBody {
        command: &command,
        effective_date: None,
        memo: form.reason.trim(),
    };
    match web.api.command(&caller, &form.idempotency_key, &body).await {
        Ok(_) => Redirect::to(&format!("/web/requests?done={done}")).into_response(),
        Err(p) => {
            let error = ErrorView::of(Tr { lang: session.lang }, &p.code, &p.detail);
            requests_page(&web, &session, &caller, &me, None, Some(error)).await
        }
    }
}

// ---------------------------------------------------------------- audit

pub(crate) struct AuditView {
    pub position: u64,
    pub date: String,
    pub recorded_at: String,
    pub event: String,
    pub event_label: String,
    pub fund: String,
    pub beneficiary: String,
    pub actor: String,
    pub command_id: String,
    pub memo: String,
    pub hash: String,
    pub links: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    value: String,
    from: String,
    to: String,
    searched: bool,
    rows: Vec<AuditView>,
    total: u64,
    next: Option<String>,
    error: Option<ErrorView>,
    keys: Vec<OptionView>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuditSearch {
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    offset: u64,
}

/// Audit records shown per page.
const AUDIT_PAGE_SIZE: u32 = 100;

pub(crate) async fn audit<B: Backend>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
    Query(q): Query<AuditSearch>,
) -> Response {
    let (caller, me) = sign_in_or_return!(web, session);
    let chrome = Chrome::new(&session, Some(&me), "audit.title", "/web/audit");
    let tr = chrome.tr;
    let key = match q.key.as_str() {
        k @ ("beneficiary" | "fund" | "actor" | "command_id" | "dates") => k,
        _ => "beneficiary",
    };
    let keys = [
        ("beneficiary", "audit.by_beneficiary"),
        ("fund", "audit.by_fund"),
        ("actor", "audit.by_actor"),
        ("command_id", "audit.by_command"),
        ("dates", "audit.by_dates"),
    ]
    .iter()
    .map(|(v, label)| OptionView {
        value: (*v).to_string(),
        label: tr.t(label).to_string(),
        selected: *v == key,
    })
    .collect();
    let searched =
        !q.value.trim().is_empty() || !q.from.trim().is_empty() || !q.to.trim().is_empty();
    let (mut rows, mut total, mut next, mut error) = (Vec::new(), 0, None, None);
    if searched {
        let value = if key == "dates" { "" } else { q.value.as_str() };
        let api_key = if key == "dates" { "none" } else { key };
        let offset = q.offset.to_string();
        let limit = AUDIT_PAGE_SIZE.to_string();
        let uri = format!(
            "/api/v1/audit{}",
            query(&[
                (api_key, value),
                ("from", &q.from),
                ("to", &q.to),
                ("offset", &offset),
                ("limit", &limit)
            ])
        );
        match web.api.get::<AuditPageAnswer>(&caller, &uri).await {
            Ok(page) => {
                total = page.total;
                next = page.next_offset.map(|o| {
                    format!(
                        "/web/audit{}",
                        query(&[
                            ("key", key),
                            ("value", &q.value),
                            ("from", &q.from),
                            ("to", &q.to),
                            ("offset", &o.to_string())
                        ])
                    )
                });
                rows = page
                    .items
                    .into_iter()
                    .map(|r| AuditView {
                        links: match (r.reverses, r.reversed_by) {
                            (Some(p), _) => format!("{} #{p}", tr.t("audit.reverses")),
                            (_, Some(p)) => format!("{} #{p}", tr.t("audit.reversed_by")),
                            _ => String::new(),
                        },
                        position: r.position,
                        date: r.effective_date,
                        recorded_at: r.recorded_at,
                        event_label: tr.of("event.", &r.event_type),
                        event: r.event_type,
                        fund: r.fund.unwrap_or_default(),
                        beneficiary: r.beneficiary.unwrap_or_default(),
                        actor: r.actor,
                        command_id: r.command_id,
                        memo: r.memo,
                        hash: r.hash.chars().take(16).collect(),
                    })
                    .collect();
            }
            Err(p) => error = Some(ErrorView::of(tr, &p.code, &p.detail)),
        }
    }
    let status = match &error {
        Some(_) => StatusCode::UNPROCESSABLE_ENTITY,
        None => StatusCode::OK,
    };
    html(
        status,
        &session,
        AuditPage {
            chrome,
            value: q.value,
            from: q.from,
            to: q.to,
            searched,
            rows,
            total,
            next,
            error,
            keys,
        }
        .render(),
    )
}

/// The auditor's JSONL export, streamed from the API with a file name.
pub(crate) async fn export<B: Backend>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
) -> Response {
    let (caller, me) = sign_in_or_return!(web, session);
    match web
        .api
        .send(Method::GET, "/api/v1/export", &caller, None, None)
        .await
    {
        Ok(mut response) if response.status().is_success() => {
            response.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"welfare-ledger.jsonl\""),
            );
            response
        }
        Ok(response) => {
            let status = response.status();
            let bytes =
                axum::body::to_bytes(response.into_body(), crate::api::API_ANSWER_BYTES_MAX)
                    .await
                    .unwrap_or_default();
            let problem = serde_json::from_slice::<ApiProblem>(&bytes)
                .unwrap_or_else(|_| ApiProblem::internal(format!("the export answered {status}")));
            error_page(&session, Some(&me), &problem)
        }
        Err(p) => error_page(&session, Some(&me), &p),
    }
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    chrome: Chrome,
    intact: bool,
    algorithm: String,
    events_checked: u64,
    head_position: u64,
    head_hash: String,
    first_break: Option<String>,
}

pub(crate) async fn verify<B: Backend>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
) -> Response {
    let (caller, me) = sign_in_or_return!(web, session);
    let v = match web.api.get::<Verification>(&caller, "/api/v1/verify").await {
        Ok(v) => v,
        Err(p) => return error_page(&session, Some(&me), &p),
    };
    let chrome = Chrome::new(&session, Some(&me), "verify.title", "/web/verify");
    html(
        StatusCode::OK,
        &session,
        VerifyPage {
            chrome,
            intact: v.intact,
            algorithm: v.hash_algorithm,
            events_checked: v.events_checked,
            head_position: v.head_position,
            head_hash: v.head_hash,
            first_break: v
                .first_break
                .map(|b| format!("#{}: {}", b.position, b.problem)),
        }
        .render(),
    )
}

// ---------------------------------------------------------------- dashboard

pub(crate) struct CellView {
    pub text: String,
    pub num: bool,
    pub href: Option<String>,
}

pub(crate) struct TableView {
    pub name: &'static str,
    pub title: String,
    pub headings: Vec<(String, bool)>,
    pub rows: Vec<Vec<CellView>>,
    pub footnotes: Vec<String>,
    pub csv: String,
    pub xlsx: String,
    pub chart: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    unit: String,
    year: String,
    wan: bool,
    up: Option<String>,
    tables: Vec<TableView>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DashboardQuery {
    unit: Option<String>,
    year: Option<String>,
    wan: Option<String>,
}

impl DashboardQuery {
    fn resolve<B: Backend>(
        &self,
        web: &Web<B>,
        me: &Me,
        lang: Lang,
    ) -> Result<(String, i32), ApiProblem> {
        let unit = match self
            .unit
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            Some(u) => u.to_string(),
            None => crate::dashboard::default_unit(web, me.scope.as_deref()).ok_or_else(|| {
                ApiProblem {
                    status: 404,
                    code: "unknown_unit".into(),
                    detail: lang
                        .pick("账本中还没有单位", "the ledger has no units yet")
                        .into(),
                }
            })?,
        };
        let year = match self
            .year
            .as_deref()
            .map(str::trim)
            .filter(|y| !y.is_empty())
        {
            Some(y) => y.parse::<i32>().map_err(|_| ApiProblem {
                status: 400,
                code: "year_invalid".into(),
                detail: lang.pick(format!("{y} 不是年份"), format!("{y} is not a year")),
            })?,
            None => crate::dashboard::this_year(web),
        };
        Ok((unit, year))
    }
}

fn cell_view(cell: &ledger_render::Cell, wan: bool) -> CellView {
    use ledger_render::Cell;
    let (text, num) = match cell {
        Cell::Text(t) => (t.clone(), false),
        Cell::Money(d) if wan => (ledger_render::wan_yuan(*d), true),
        Cell::Money(d) => (ledger_render::yuan(*d), true),
        Cell::Ratio(r) => (ledger_render::percent(*r), true),
        Cell::Count(n) => (n.to_string(), true),
        Cell::Empty => (String::new(), false),
    };
    CellView {
        text,
        num,
        href: None,
    }
}

pub(crate) async fn dashboard<B: Backend>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
    Query(q): Query<DashboardQuery>,
) -> Response {
    use crate::dashboard::{build, monthly_chart, trends_chart, Which};
    let (caller, me) = sign_in_or_return!(web, session);
    let (unit, year) = match q.resolve(&web, &me, session.lang) {
        Ok(x) => x,
        Err(p) => return error_page(&session, Some(&me), &p),
    };
    let wan = q.wan.is_some_and(|w| !w.is_empty());
    let chrome = Chrome::new(&session, Some(&me), "dashboard.title", "/web/dashboard");
    let tr = chrome.tr;
    let mut tables = Vec::new();
    for which in Which::ALL {
        let built = match build(&web, &caller, tr, which, &unit, year).await {
            Ok(b) => b,
            Err(p) => return error_page(&session, Some(&me), &p),
        };
        let table = &built.table;
        let chart = match which {
            Which::Monthly => Some(monthly_chart(tr, table)),
            Which::Trends => Some(trends_chart(tr, table)),
            _ => None,
        };
        let headings = table
            .columns
            .iter()
            .map(|c| {
                let heading = if wan && c.kind == ledger_render::ColumnKind::Money {
                    c.heading
                        .replace(tr.t("dashboard.yuan_suffix"), tr.t("dashboard.wan_suffix"))
                } else {
                    c.heading.clone()
                };
                (heading, c.kind != ledger_render::ColumnKind::Text)
            })
            .collect();
        let rows = table
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                row.iter()
                    .enumerate()
                    .map(|(j, cell)| {
                        let mut view = cell_view(cell, wan);
                        if j == 0 {
                            view.href = built.links.get(i).cloned().flatten();
                        }
                        view
                    })
                    .collect()
            })
            .collect();
        let file = |ext: &str| {
            format!(
                "/web/dashboard/download/{}.{ext}{}",
                which.name(),
                query(&[("unit", &unit), ("year", &year.to_string())])
            )
        };
        tables.push(TableView {
            name: which.name(),
            title: table.title.clone(),
            headings,
            rows,
            footnotes: table.footnotes.clone(),
            csv: file("csv"),
            xlsx: file("xlsx"),
            chart,
        });
    }
    let up = crate::dashboard::parent(&web, &unit, me.scope.as_deref()).map(|p| {
        format!(
            "/web/dashboard{}",
            query(&[("unit", &p), ("year", &year.to_string())])
        )
    });
    html(
        StatusCode::OK,
        &session,
        DashboardPage {
            chrome,
            unit,
            year: year.to_string(),
            wan,
            up,
            tables,
        }
        .render(),
    )
}

/// A dashboard table as CSV or XLSX: `/web/dashboard/download/<table>.<csv|xlsx>`.
pub(crate) async fn dashboard_download<B: Backend>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
    Path(file): Path<String>,
    Query(q): Query<DashboardQuery>,
) -> Response {
    use crate::dashboard::{build, Which};
    let (caller, me) = sign_in_or_return!(web, session);
    let Some((which, ext)) = file
        .rsplit_once('.')
        .and_then(|(name, ext)| Which::from_name(name).map(|w| (w, ext)))
        .filter(|(_, ext)| matches!(*ext, "csv" | "xlsx"))
    else {
        return not_found(&session, Some(&me));
    };
    let (unit, year) = match q.resolve(&web, &me, session.lang) {
        Ok(x) => x,
        Err(p) => return error_page(&session, Some(&me), &p),
    };
    let tr = Tr { lang: session.lang };
    let built = match build(&web, &caller, tr, which, &unit, year).await {
        Ok(b) => b,
        Err(p) => return error_page(&session, Some(&me), &p),
    };
    let (bytes, content_type) = if ext == "csv" {
        (ledger_render::csv(&built.table), "text/csv; charset=utf-8")
    } else {
        match ledger_render::xlsx(&built.table) {
            Ok(bytes) => (
                bytes,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            Err(e) => {
                return error_page(
                    &session,
                    Some(&me),
                    &ApiProblem::internal(format!("{e} ({})", e.code())),
                )
            }
        }
    };
    let name = format!("{unit}-{year}-{}.{ext}", which.name());
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

// ---------------------------------------------------------------- CSV import

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    chrome: Chrome,
    error: Option<ErrorView>,
}

pub(crate) async fn import_form<B: Backend>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
) -> Response {
    let (_, me) = sign_in_or_return!(web, session);
    if let Err(p) = may_record(&web, &me, session.lang) {
        return error_page(&session, Some(&me), &p);
    }
    let chrome = Chrome::new(&session, Some(&me), "import.title", "/web/import");
    html(
        StatusCode::OK,
        &session,
        ImportPage {
            chrome,
            error: None,
        }
        .render(),
    )
}

pub(crate) async fn import_start<B: Backend + 'static>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
    mut multipart: axum::extract::Multipart,
) -> Response {
    let (_, me) = sign_in_or_return!(web, session);
    if let Err(p) = may_record(&web, &me, session.lang) {
        return error_page(&session, Some(&me), &p);
    }
    let (mut csrf, mut skip, mut file, mut file_name) = (None, false, None, String::new());
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                if name == "file" {
                    file_name = field.file_name().unwrap_or("payments.csv").to_string();
                }
                match field.bytes().await {
                    Ok(bytes) => match name.as_str() {
                        "csrf" => csrf = Some(String::from_utf8_lossy(&bytes).into_owned()),
                        "skip_bad_rows" => skip = !bytes.is_empty(),
                        "file" => file = Some(bytes.to_vec()),
                        _ => {}
                    },
                    Err(e) => return import_refused(&session, &me, "import_file", &e.body_text()),
                }
            }
            Ok(None) => break,
            Err(e) => return import_refused(&session, &me, "import_file", &e.body_text()),
        }
    }
    if !session.csrf_matches(csrf.as_deref()) {
        return csrf_refused(&session, Some(&me));
    }
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        let detail = session
            .lang
            .pick("请选择付款 CSV 文件", "choose a CSV file of payments");
        return import_refused(&session, &me, "import_file", detail);
    };
    let actor = match UserId::new(&me.user) {
        Ok(a) => a,
        Err(e) => return error_page(&session, Some(&me), &ApiProblem::internal(e.to_string())),
    };
    match web.imports.start(
        Arc::clone(&web.app.engine),
        actor,
        file_name,
        file,
        skip,
        session.lang,
    ) {
        Ok(job) => Redirect::to(&format!("/web/import/{job}")).into_response(),
        Err(e) => error_page(
            &session,
            Some(&me),
            &ApiProblem::internal(format!("the import could not start: {e}")),
        ),
    }
}

fn import_refused(session: &Session, me: &Me, code: &str, detail: &str) -> Response {
    let chrome = Chrome::new(session, Some(me), "import.title", "/web/import");
    let error = Some(ErrorView::of(chrome.tr, code, detail));
    html(
        StatusCode::UNPROCESSABLE_ENTITY,
        session,
        ImportPage { chrome, error }.render(),
    )
}

pub(crate) struct ImportView {
    pub id: String,
    pub file_name: String,
    pub running: bool,
    pub done: u64,
    pub total: u64,
    pub percent: u64,
    pub summary: Vec<(&'static str, String)>,
    pub error: Option<ErrorView>,
    pub has_rejects: bool,
}

#[derive(Template)]
#[template(path = "import_job.html")]
struct ImportJobPage {
    chrome: Chrome,
    job: ImportView,
}

/// Seconds between reloads of a running import's page.
const IMPORT_REFRESH_SECONDS: u32 = 1;

pub(crate) async fn import_job<B: Backend>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    use crate::import::Stage;
    let (_, me) = sign_in_or_return!(web, session);
    let Some(job) = web.imports.get(&id, &me.user) else {
        return not_found(&session, Some(&me));
    };
    let mut chrome = Chrome::new(&session, Some(&me), "import.title", "/web/import");
    let tr = chrome.tr;
    let (done, total) = match &job.stage {
        Stage::Applying { done, total } => (*done, *total),
        Stage::Finished(s) => (s.applied + s.duplicates, s.applied + s.duplicates),
        _ => (0, 0),
    };
    let summary = match &job.stage {
        Stage::Finished(s) => vec![
            ("import.rows", s.rows.to_string()),
            ("import.applied", s.applied.to_string()),
            ("import.duplicates", s.duplicates.to_string()),
            ("import.rejected", s.rejected.len().to_string()),
            ("import.pending", s.pending_approval.len().to_string()),
        ],
        _ => Vec::new(),
    };
    let error = match &job.stage {
        Stage::Failed { code, message } => Some(ErrorView::of(tr, code, message)),
        _ => None,
    };
    if job.running() {
        chrome.refresh_seconds = IMPORT_REFRESH_SECONDS;
    }
    let view = ImportView {
        running: job.running(),
        percent: (done.saturating_mul(100)).checked_div(total).unwrap_or(0),
        done,
        total,
        summary,
        error,
        has_rejects: !job.rejects.is_empty(),
        id: job.id,
        file_name: job.file_name,
    };
    html(
        StatusCode::OK,
        &session,
        ImportJobPage { chrome, job: view }.render(),
    )
}

pub(crate) async fn import_rejects<B: Backend>(
    State(web): State<Arc<Web<B>>>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    let (_, me) = sign_in_or_return!(web, session);
    let Some(job) = web
        .imports
        .get(&id, &me.user)
        .filter(|j| !j.rejects.is_empty())
    else {
        return not_found(&session, Some(&me));
    };
    let mut response = (StatusCode::OK, job.rejects).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"rejects.csv\""),
    );
    response
}
