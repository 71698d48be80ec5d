//! `GET /openapi.json`: the API's OpenAPI 3.1 description, generated from the handlers'
//! `#[utoipa::path]` attributes and the request and response types' `ToSchema`
//! derives (the domain's and projections' behind their `openapi` features).
//!
//! `tests/openapi.rs` fetches it from the running server and checks that every entry of
//! [`crate::ROUTES`] (the list the router itself is built from) is described, with its
//! methods, and that real answers match the schemas.

use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use ledger_store::Backend;

use crate::{people, reads, writes, App};

/// Who may call a read that checks the caller's scope.
pub(crate) const READERS: &str = "Any signed-in member of staff. Clerks, approvers, managers and scoped admins see their unit's subtree; auditors and unscoped admins see everything.";
/// Who may call a read of the whole ledger.
pub(crate) const AUDITORS: &str = "Reads by fund or beneficiary: anyone whose scope covers it. By actor, command id or dates alone, and /verify: auditors and admins without a scope.";
/// Who may write.
pub(crate) const WRITERS: &str = "Clerks record money within their scope, approvers and managers approve, close periods and reverse, admins manage units, funds and staff; auditors never write. docs/DOMAIN.md has the full table.";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Welfare Ledger API",
        description = "An append-only, hash-chained ledger of family-planning association (计生协) welfare funds. Money is always a decimal string with two decimals; errors are application/problem+json, and a command refused by a rule of the ledger has its detail in 简体中文 when Accept-Language ranks Chinese above English (Content-Language says which). docs/API.md is the manual.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        reads::me,
        writes::command,
        writes::command_group,
        writes::issue_token,
        reads::funds,
        reads::balance,
        reads::statement,
        reads::fund_loans,
        reads::programmes,
        reads::insurance,
        reads::unit_loans,
        reads::requests,
        reads::audit,
        reads::event,
        reads::verify,
        reads::export,
        people::register,
        people::beneficiary,
        people::update_contact,
        people::restrict,
        people::lift,
        people::erase,
        people::disclose,
        people::access_log,
        people::registry_status,
        people::rotate,
        crate::health,
        crate::metrics_text,
        openapi_json,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "commands", description = "Recording money and administration: every write is a domain command"),
        (name = "access", description = "Who is signed in, and issuing tokens"),
        (name = "funds", description = "Funds, balances, statements, loans and pending approvals"),
        (name = "registry", description = "Beneficiaries' personal information, kept encrypted beside the log: register, disclose, change, restrict, erase, the access log"),
        (name = "reports", description = "Programme, insurance and loan reports of a unit's subtree"),
        (name = "audit", description = "The audit trail, single events and chain verification"),
        (name = "operations", description = "Health, metrics and this description (no token needed)"),
    )
)]
struct ApiDoc;

/// Adds the bearer-token security scheme the operations name.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("wlt_ and 64 hex digits")
                    .description(Some(
                        "A token an admin issued (POST /api/v1/users/{user}/tokens or the CLI); the ledger stores only its SHA-256 digest",
                    ))
                    .build(),
            ),
        );
    }
}

/// The description as a value.
pub fn spec() -> utoipa::openapi::OpenApi {
    let mut spec = ApiDoc::openapi();
    spec.info.version = env!("CARGO_PKG_VERSION").to_string();
    spec
}

/// The description as JSON text, built once.
pub fn spec_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        spec()
            .to_pretty_json()
            .expect("the OpenAPI description serialises")
    })
}

/// The API's description, OpenAPI 3.1.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "This document", content_type = "application/json")))]
pub(crate) async fn openapi_json<B: Backend>(State(_): State<Arc<App<B>>>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], spec_json()).into_response()
}
