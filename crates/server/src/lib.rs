//! Welfare Ledger's HTTP API: a thin axum shell over the engine.
//!
//! Every request but `/health`, `/metrics` and `/openapi.json` carries
//! `Authorization: Bearer <token>`; the token's SHA-256 digest is looked up in the
//! ledger's users ([`ledger_domain::Access::sign_in`]), which gives the caller's role and
//! unit scope. Writes go through [`Engine::submit_checked_async`], so the single writer
//! checks role and scope with the rules; reads check scope here. Money is always a
//! decimal string. Errors are `application/problem+json` ([`problem`]), with a domain
//! rejection's detail in Chinese for a caller whose `Accept-Language` prefers it
//! ([`language`]). docs/API.md is the manual.

pub mod auth;
pub mod language;
pub mod metrics;
pub mod openapi;
mod people;
pub mod problem;
mod reads;
pub mod registry;
mod writes;

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate};
use ledger_engine::Engine;
use ledger_store::{Backend, Clock};
use serde::Serialize;
use tower::limit::ConcurrencyLimitLayer;
use utoipa::ToSchema;

pub use auth::{new_token, token_digest, Caller};
pub use metrics::Metrics;
pub use people::RegistryHandle;
pub use problem::Problem;
pub use writes::CommandRequest;

/// Limits the server enforces; `Default` gives the documented values.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body accepted (413 above it).
    pub body_bytes: usize,
    /// Requests served at once; more wait in line.
    pub concurrent_requests: usize,
    /// How long a read waits for the projections to catch up with the log's head.
    pub read_wait: Duration,
    /// Queries over the read models computed at once, each on a blocking thread
    /// (serialising the answer included); more wait in line. Without a bound, every
    /// concurrent read is a runnable thread, and a few hundred of them take the CPU from
    /// the async runtime and the single writer: writes slowed by an order of magnitude
    /// under 256 reading connections (docs/RELIABILITY.md, Load).
    pub concurrent_queries: NonZeroUsize,
}

/// Queries computed at once by default, per core: they are CPU-bound, but some wait
/// for the projector to reach the head, or read the log.
pub const CONCURRENT_QUERIES_PER_CORE: NonZeroUsize = NonZeroUsize::new(2).expect("not zero");

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 256 * 1024,
            concurrent_requests: 512,
            read_wait: Duration::from_secs(5),
            concurrent_queries: std::thread::available_parallelism()
                .ok()
                .and_then(|cores| cores.checked_mul(CONCURRENT_QUERIES_PER_CORE))
                .unwrap_or(CONCURRENT_QUERIES_PER_CORE),
        }
    }
}

/// What every handler shares.
pub struct App<B: Backend> {
    pub engine: Arc<Engine<B>>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// The registry of personal information; `None` without a master key.
    pub registry: Option<Arc<RegistryHandle>>,
    /// Permits for [`Limits::concurrent_queries`].
    queries: tokio::sync::Semaphore,
}

impl<B: Backend> std::fmt::Debug for App<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

impl<B: Backend> App<B> {
    /// An app over an open engine; registers the metrics observer with the engine.
    pub fn new(
        engine: Arc<Engine<B>>,
        clock: Arc<dyn Clock>,
        limits: Limits,
        registry: Option<RegistryHandle>,
    ) -> Arc<Self> {
        let metrics = Arc::new(Metrics::new());
        engine.set_observer(metrics.clone());
        Arc::new(App {
            engine,
            clock,
            metrics,
            queries: tokio::sync::Semaphore::new(limits.concurrent_queries.get()),
            limits,
            registry: registry.map(Arc::new),
        })
    }

    /// Today's business date by the ledger's clock (China Standard Time,
    /// `ledger_domain::business_date`), the default effective date.
    pub fn today(&self) -> NaiveDate {
        DateTime::from_timestamp_millis(self.clock.now_ms()).map_or(NaiveDate::MIN, |t| {
            ledger_domain::business_date(t.naive_utc())
        })
    }
}

/// Declares every route once: the router is built from this list, and [`ROUTES`] holds
/// the same (method, path) pairs, so that `tests/openapi.rs` can check that each one is
/// described in `/openapi.json` ([`openapi`]).
macro_rules! routes {
    ($($method:ident $path:literal => $($handler:ident)::+;)*) => {
        /// Every route the router serves, as (method, path in axum's `{param}` syntax).
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn routes<B: Backend + 'static>() -> Router<Arc<App<B>>> {
            Router::new()$(.route($path, $method($($handler)::+::<B>)))*
        }
    };
}

routes! {
    get "/api/v1/me" => reads::me;
    post "/api/v1/commands" => writes::command;
    post "/api/v1/command-groups" => writes::command_group;
    post "/api/v1/users/{user}/tokens" => writes::issue_token;
    get "/api/v1/funds" => reads::funds;
    get "/api/v1/funds/{fund}/balance" => reads::balance;
    get "/api/v1/funds/{fund}/statement" => reads::statement;
    get "/api/v1/funds/{fund}/loans" => reads::fund_loans;
    get "/api/v1/units/{unit}/programmes" => reads::programmes;
    get "/api/v1/units/{unit}/insurance" => reads::insurance;
    get "/api/v1/units/{unit}/loans" => reads::unit_loans;
    get "/api/v1/requests" => reads::requests;
    get "/api/v1/audit" => reads::audit;
    get "/api/v1/events/{position}" => reads::event;
    get "/api/v1/verify" => reads::verify;
    get "/api/v1/export" => reads::export;
    post "/api/v1/beneficiaries" => people::register;
    get "/api/v1/beneficiaries/{beneficiary}" => people::beneficiary;
    patch "/api/v1/beneficiaries/{beneficiary}/contact" => people::update_contact;
    post "/api/v1/beneficiaries/{beneficiary}/restriction" => people::restrict;
    post "/api/v1/beneficiaries/{beneficiary}/restriction/lift" => people::lift;
    post "/api/v1/beneficiaries/{beneficiary}/erasure" => people::erase;
    post "/api/v1/personal-data/disclosures" => people::disclose;
    get "/api/v1/personal-data/access-log" => people::access_log;
    get "/api/v1/registry" => people::registry_status;
    post "/api/v1/registry/rotation" => people::rotate;
    get "/health" => health;
    get "/metrics" => metrics_text;
    get "/openapi.json" => openapi::openapi_json;
}

/// The API's routes, with body and concurrency limits and request metrics.
pub fn router<B: Backend + 'static>(app: Arc<App<B>>) -> Router {
    // The 405 fallback is set after the routes, for each of them; axum still adds the
    // `Allow` header listing the methods the route serves.
    let api = routes::<B>()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    api.layer(middleware::from_fn(language::negotiate))
        .layer(middleware::from_fn_with_state(
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
    serve_with(listener, app, Router::new(), shutdown).await
}

/// [`serve`] with more routes merged beside the API's (the web pages of
/// `ledger-web`); `extra` must not answer any path of [`ROUTES`] and has no fallback of
/// its own (the API's 404 answers what neither serves).
pub async fn serve_with<B: Backend + 'static>(
    listener: tokio::net::TcpListener,
    app: Arc<App<B>>,
    extra: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(app).merge(extra))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn not_found() -> Problem {
    Problem::not_found(
        "no_such_endpoint",
        "there is no such endpoint; docs/API.md lists them",
    )
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not answer this method; the Allow header lists those it does (docs/API.md)",
    )
}

/// The server is up: the log's head and the writer's queue.
#[derive(Serialize, ToSchema)]
struct Health {
    /// Always `ok` when the server answers.
    #[schema(example = "ok")]
    status: &'static str,
    /// Events in the log (one past the last position).
    events: u64,
    /// The hash after the last event, 64 hex digits.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    head_hash: String,
    /// `sha256` or `sm3`.
    hash_algorithm: &'static str,
    /// Commands waiting for the writer.
    queue_depth: u64,
    /// `available`; `recovering` while writes are refused after a failed write or
    /// flush (a full disk) and the engine reopens its log when the storage takes
    /// writes again; `unavailable` when only a restart recovers.
    #[schema(example = "available")]
    writes: &'static str,
}

/// Liveness and the log's head; no token needed.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The server is up", body = Health)))]
async fn health<B: Backend>(State(app): State<Arc<App<B>>>) -> Response {
    let head = app.engine.head();
    Json(Health {
        status: "ok",
        events: head.next_position,
        head_hash: hex::encode(head.hash),
        hash_algorithm: app.engine.algorithm().name(),
        queue_depth: u64::try_from(app.engine.queue_depth()).unwrap_or(u64::MAX),
        writes: match app.engine.write_status() {
            ledger_engine::WriteStatus::Available => "available",
            ledger_engine::WriteStatus::Unavailable {
                recovering: true, ..
            } => "recovering",
            ledger_engine::WriteStatus::Unavailable { .. } => "unavailable",
        },
    })
    .into_response()
}

/// Prometheus (OpenMetrics) text; no token needed. docs/API.md lists the metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "The metrics", body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
async fn metrics_text<B: Backend>(State(app): State<Arc<App<B>>>) -> Response {
    let engine = &app.engine;
    let body = app.metrics.render(metrics::EngineGauges {
        log_events: engine.head().next_position,
        queue_depth: engine.queue_depth(),
        writes_unavailable: engine.write_status() != ledger_engine::WriteStatus::Available,
        log_reopens: engine.recoveries(),
    });
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
