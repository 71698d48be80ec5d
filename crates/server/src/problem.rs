//! Errors as RFC 9457 `application/problem+json`: a stable `code`, a `detail` a person
//! can act on (naming the numbers), and the status that fits the error class. A domain
//! rejection also has its detail in Chinese, which [`crate::language`] answers to a
//! caller whose `Accept-Language` prefers it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger_domain::{Rejection, TokenError};
use ledger_engine::EngineError;
use ledger_projections::QueryError;
use serde::Serialize;

use crate::language::{ChineseProblem, ENGLISH};

/// One error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    pub code: String,
    pub detail: String,
    /// The detail in Chinese, for an error that has one (a domain rejection).
    pub detail_zh: Option<String>,
    /// Seconds after which a retry may succeed (the `Retry-After` header of a 503).
    pub retry_after_seconds: Option<u64>,
    /// For a refused group of commands: the index of the command refused.
    pub command_index: Option<usize>,
}

/// The `application/problem+json` body (RFC 9457) of every error answer.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub(crate) struct ProblemBody {
    /// `/problems/{code}`.
    #[serde(rename = "type")]
    #[schema(example = "/problems/insufficient_funds")]
    kind: String,
    /// The HTTP status's reason phrase.
    #[schema(example = "Unprocessable Entity")]
    title: String,
    /// The HTTP status.
    #[schema(example = 422)]
    status: u16,
    /// A stable machine code (docs/API.md lists them).
    #[schema(example = "insufficient_funds")]
    code: String,
    /// What went wrong, with the numbers, and what to do: in English, or for a domain
    /// rejection in Chinese when `Accept-Language` prefers it (`Content-Language` says
    /// which).
    detail: String,
    /// Only for a refused group of commands (`POST /api/v1/command-groups`): the index
    /// in `commands` of the command refused; none of the group was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    command_index: Option<usize>,
}

impl Problem {
    pub fn new(status: StatusCode, code: impl Into<String>, detail: impl Into<String>) -> Self {
        Problem {
            status,
            code: code.into(),
            detail: detail.into(),
            detail_zh: None,
            retry_after_seconds: None,
            command_index: None,
        }
    }

    pub fn bad_request(code: &str, detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn forbidden(code: &str, detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::FORBIDDEN, code, detail)
    }

    pub fn not_found(code: &str, detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, code, detail)
    }

    pub fn unauthorized(code: &str, detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }

    /// A domain rejection: its status, code and detail, in English and in Chinese.
    pub fn rejected(status: StatusCode, rejection: &Rejection) -> Self {
        Problem {
            detail_zh: Some(rejection.detail_zh()),
            ..Problem::new(status, rejection.code(), rejection.to_string())
        }
    }

    /// The problem+json body with `detail`.
    fn body(&self, detail: &str) -> Vec<u8> {
        let body = ProblemBody {
            kind: format!("/problems/{}", self.code),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            code: self.code.clone(),
            detail: detail.to_string(),
            command_index: self.command_index,
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let chinese = self.detail_zh.as_deref().map(|zh| self.body(zh));
        let mut response = (self.status, self.body(&self.detail)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
            .headers_mut()
            .insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(ENGLISH));
        if let Some(body) = chinese {
            response
                .extensions_mut()
                .insert(ChineseProblem(body.into()));
        }
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"welfare-ledger\""),
            );
        }
        response
    }
}

/// The status of a domain rejection: 403 when the actor may not issue the command,
/// 409 when it collides with something that already exists or already happened, and
/// 422 for every other rule.
pub fn rejection_status(rejection: &Rejection) -> StatusCode {
    match rejection.code() {
        "unknown_user"
        | "user_disabled"
        | "not_permitted"
        | "out_of_scope"
        | "personal_data_not_permitted" => StatusCode::FORBIDDEN,
        "unit_exists"
        | "fund_exists"
        | "beneficiary_exists"
        | "loan_exists"
        | "award_exists"
        | "campaign_exists"
        | "duplicate_bursary"
        | "already_reversed"
        | "period_already_closed"
        | "user_exists"
        | "token_exists"
        | "token_already_revoked"
        | "personal_data_access_already_granted"
        | "beneficiary_already_restricted" => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<Rejection> for Problem {
    fn from(rejection: Rejection) -> Self {
        Problem::rejected(rejection_status(&rejection), &rejection)
    }
}

impl From<QueryError> for Problem {
    fn from(error: QueryError) -> Self {
        Problem::new(
            StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
            error.code(),
            error.to_string(),
        )
    }
}

impl From<TokenError> for Problem {
    fn from(error: TokenError) -> Self {
        Problem::unauthorized(error.code(), error.to_string())
    }
}

impl From<EngineError> for Problem {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::Rejected(r) => r.into(),
            EngineError::CommandIdConflict { .. } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                error.code(),
                format!(
                    "{error}; an Idempotency-Key may be reused only to retry the very same request"
                ),
            ),
            EngineError::InvalidInput { .. } => {
                Problem::bad_request(error.code(), error.to_string())
            }
            EngineError::Unavailable { .. } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                error.code(),
                error.to_string(),
            ),
            EngineError::ReadModelBehind { .. } => Problem {
                retry_after_seconds: Some(1),
                ..Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    error.code(),
                    error.to_string(),
                )
            },
            EngineError::Recovering { retry_after_ms, .. } => Problem {
                retry_after_seconds: Some(retry_after_ms.div_ceil(1000).max(1)),
                ..Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    error.code(),
                    error.to_string(),
                )
            },
            other => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                other.code(),
                other.to_string(),
            ),
        }
    }
}
