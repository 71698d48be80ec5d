//! Welfare Ledger's web workspace: server-rendered pages (askama templates compiled
//! into the binary, CSS inline, no script fetched from anywhere) for finance clerks,
//! approvers, managers and auditors, in 简体中文 by default and English.
//!
//! A thin shell: every page reads and writes through the JSON API's own router, in
//! process, with the signed-in user's token ([`api::Api`]), so that who may see and do
//! what is exactly what the API and the ledger's single writer enforce. The pages add
//! forms ([`forms`]), texts ([`i18n`]), cookies ([`session`]) and figures in 元 or 万元
//! ([`money`]). docs/USER-GUIDE.md is the manual.

pub mod api;
pub mod dashboard;
pub mod forms;
pub mod i18n;
pub mod import;
pub mod money;
mod pages;
pub mod session;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;
use ledger_server::App;
use ledger_store::Backend;

/// The largest form or upload the pages accept (a CSV import).
pub const WEB_BODY_BYTES_MAX: usize = 16 * 1024 * 1024;

/// What every page handler shares.
pub struct Web<B: Backend> {
    pub app: Arc<App<B>>,
    pub api: api::Api,
    pub imports: Arc<import::Jobs>,
}

impl<B: Backend> std::fmt::Debug for Web<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Web").finish_non_exhaustive()
    }
}

/// The pages' routes, under `/` and `/web/`. Merge them with the API's router
/// (`ledger_server::router`): their paths do not overlap, and the API's routes are
/// unchanged.
pub fn router<B: Backend + 'static>(app: Arc<App<B>>) -> Router {
    let web = Arc::new(Web {
        api: api::Api::new(ledger_server::router(Arc::clone(&app))),
        imports: Arc::default(),
        app,
    });
    Router::new()
        .route("/", get(|| async { Redirect::to("/web/") }))
        .route("/web", get(|| async { Redirect::to("/web/") }))
        .route("/web/", get(pages::home::<B>))
        .route(
            "/web/sign-in",
            get(pages::sign_in_form).post(pages::sign_in::<B>),
        )
        .route("/web/sign-out", post(pages::sign_out))
        .route("/web/lang", get(pages::switch_lang))
        .route("/web/funds", get(pages::funds::<B>))
        .route("/web/funds/{fund}", get(pages::fund::<B>))
        .route("/web/record", get(pages::record_index::<B>))
        .route(
            "/web/record/{kind}",
            get(pages::record_form::<B>).post(pages::record_submit::<B>),
        )
        .route(
            "/web/import",
            get(pages::import_form::<B>).post(pages::import_start::<B>),
        )
        .route("/web/import/{job}", get(pages::import_job::<B>))
        .route(
            "/web/import/{job}/rejects.csv",
            get(pages::import_rejects::<B>),
        )
        .route("/web/requests", get(pages::requests::<B>))
        .route("/web/requests/{request}", post(pages::decide_request::<B>))
        .route("/web/audit", get(pages::audit::<B>))
        .route("/web/audit/export.jsonl", get(pages::export::<B>))
        .route("/web/verify", get(pages::verify::<B>))
        .route("/web/dashboard", get(pages::dashboard::<B>))
        .route(
            "/web/dashboard/download/{file}",
            get(pages::dashboard_download::<B>),
        )
        .layer(DefaultBodyLimit::max(WEB_BODY_BYTES_MAX))
        .with_state(web)
}

/// Every path the pages answer, for documentation and for keeping them apart from
/// the API's `ROUTES`.
pub const WEB_PATHS: &[&str] = &[
    "/",
    "/web",
    "/web/",
    "/web/sign-in",
    "/web/sign-out",
    "/web/lang",
    "/web/funds",
    "/web/funds/{fund}",
    "/web/record",
    "/web/record/{kind}",
    "/web/import",
    "/web/import/{job}",
    "/web/import/{job}/rejects.csv",
    "/web/requests",
    "/web/requests/{request}",
    "/web/audit",
    "/web/audit/export.jsonl",
    "/web/verify",
    "/web/dashboard",
    "/web/dashboard/download/{file}",
];
