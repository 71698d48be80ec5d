//! Welfare Ledger's HTTP API: a thin axum shell over the engine.
//!
//! Every request but `/health`, `/metrics` and `/openapi.json` carries
//! `Authorization: Bearer <token>`; the token's SHA-256 digest is looked up in the
//! ledger's users ([`ledger_domain::Access::sign_in`]), which gives the caller's role and
//! unit scope. Writes go through [`Engine::submit_checked_async`], so the single writer
//! checks role and scope with the rules; reads check scope here. Money is always a
//! decimal string. Errors are `application/problem+json` ([`problem`]). docs/API.md is
//! the manual.

pub mod auth;
pub mod metrics;
pub mod problem;
mod reads;
mod writes;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate};
use ledger_engine::Engine;
use ledger_store::{Backend, Clock};
use serde_json::json;
use tower::limit::ConcurrencyLimitLayer;

pub use auth::{new_token, token_digest, Caller};
pub use metrics::Metrics;
pub use problem::Problem;

/// Limits the server enforces; `Default` gives the documented values.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body accepted (413 above it).
    pub body_bytes: usize,
    /// Requests served at once; more wait in line.
    pub concurrent_requests: usize,
    /// How long a read waits for the projections to catch up with the log's head.
    pub read_wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 256 * 1024,
            concurrent_requests: 512,
            read_wait: Duration::from_secs(5),
        }
    }
}

/// What every handler shares.
pub struct App<B: Backend> {
    pub engine: Arc<Engine<B>>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
}

impl<B: Backend> std::fmt::Debug for App<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl<B: Backend> App<B> {
    /// An app over an open engine; registers the metrics observer with the engine.
    pub fn new(engine: Arc<Engine<B>>, clock: Arc<dyn Clock>, limits: Limits) -> Arc<Self> {
        let metrics = Arc::new(Metrics::new());
        engine.set_observer(metrics.clone());
        Arc::new(App {
            engine,
            clock,
            metrics,
            limits,
        })
    }

    /// Today's date by the ledger's clock (UTC), the default effective date.
    pub fn today(&self) -> NaiveDate {
        DateTime::from_timestamp_millis(self.clock.now_ms())
            .map_or(NaiveDate::MIN, |t| t.date_naive())
    }
}

/// The API's routes, with body and concurrency limits and request metrics.
pub fn router<B: Backend + 'static>(app: Arc<App<B>>) -> Router {
    let api = Router::new()
        .route("/api/v1/me", get(reads::me::<B>))
        .route("/api/v1/commands", post(writes::command::<B>))
        .route(
            "/api/v1/users/{user}/tokens",
            post(writes::issue_token::<B>),
        )
        .route("/api/v1/funds", get(reads::funds::<B>))
        .route("/api/v1/funds/{fund}/balance", get(reads::balance::<B>))
        .route("/api/v1/funds/{fund}/statement", get(reads::statement::<B>))
        .route("/api/v1/funds/{fund}/loans", get(reads::fund_loans::<B>))
        .route(
            "/api/v1/units/{unit}/programmes",
            get(reads::programmes::<B>),
        )
        .route("/api/v1/units/{unit}/insurance", get(reads::insurance::<B>))
        .route("/api/v1/units/{unit}/loans", get(reads::unit_loans::<B>))
        .route("/api/v1/requests", get(reads::requests::<B>))
        .route("/api/v1/audit", get(reads::audit::<B>))
        .route("/api/v1/events/{position}", get(reads::event::<B>))
        .route("/api/v1/verify", get(reads::verify::<B>))
        .route("/health", get(health::<B>))
        .route("/metrics", get(metrics_text::<B>))
        .fallback(not_found);
    api.layer(middleware::from_fn_with_state(
        app.clone(),
        count_request::<B>,
    ))
    .layer(DefaultBodyLimit::max(app.limits.body_bytes))
    .layer(ConcurrencyLimitLayer::new(app.limits.concurrent_requests))
    .with_state(app)
}

/// Serves until `shutdown` resolves, then stops taking connections and lets requests
/// in flight finish. The caller then drops the engine, which drains its queue and
/// makes everything acknowledged durable before the process exits.
pub async fn serve<B: Backend + 'static>(
    listener: tokio::net::TcpListener,
    app: Arc<App<B>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(app))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn not_found() -> Problem {
    Problem::not_found(
        "no_such_endpoint",
        "there is no such endpoint; docs/API.md lists them",
    )
}

async fn health<B: Backend>(State(app): State<Arc<App<B>>>) -> Response {
    let head = app.engine.log().head();
    Json(json!({
        "status": "ok",
        "events": head.next_position,
        "head_hash": hex::encode(head.hash),
        "hash_algorithm": app.engine.log().algorithm().name(),
        "queue_depth": app.engine.queue_depth(),
    }))
    .into_response()
}

async fn metrics_text<B: Backend>(State(app): State<Arc<App<B>>>) -> Response {
    let head = app.engine.log().head().next_position;
    let body = app.metrics.render(head, app.engine.queue_depth());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn count_request<B: Backend>(
    State(app): State<Arc<App<B>>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(request).await;
    app.metrics
        .count_request(method, route, response.status().as_u16());
    response
}
