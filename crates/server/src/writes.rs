//! Write endpoints. Every write carries an `Idempotency-Key` header, which becomes the
//! command id: a retry with the same key and body returns the original response (with
//! `Idempotent-Replayed: true`), the same key with another body is a 422.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use ledger_domain::{Command, UserId};
use ledger_engine::{Accepted, Submission};
use ledger_store::Backend;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::reads::Id;
use crate::{new_token, token_digest, App, Caller, Problem};

/// The header that makes a write safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

fn idempotency_key(headers: &HeaderMap) -> Result<String, Problem> {
    let value = headers.get(IDEMPOTENCY_KEY).ok_or_else(|| {
        Problem::bad_request(
            "idempotency_key_missing",
            "every write needs an Idempotency-Key header (for example a UUID); retrying with the same key never records twice",
        )
    })?;
    let key = value.to_str().map_err(|_| {
        Problem::bad_request(
            "idempotency_key_invalid",
            "the Idempotency-Key must be visible ASCII",
        )
    })?;
    Ok(key.to_string())
}

/// Parses a JSON body, answering 413 for a body over the limit and 400 (naming the
/// field) for anything that is not the expected JSON.
fn parse_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, Problem> {
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is larger than the server accepts (docs/API.md, Limits)",
            )
        } else {
            Problem::bad_request("invalid_body", e.body_text())
        }
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Problem::bad_request("invalid_body", format!("the body is not valid: {e}")))
}

/// `POST /api/v1/commands`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommandRequest {
    /// One domain command, e.g. `{"PayGrant": {...}}` (docs/API.md).
    command: Command,
    /// The business date; today (UTC) when absent.
    effective_date: Option<NaiveDate>,
    /// Why: a voucher number or note. No personal information.
    #[serde(default)]
    memo: String,
}

fn accepted_body(command_id: &str, accepted: Accepted) -> serde_json::Value {
    json!({
        "command_id": command_id,
        "first_position": accepted.first_position,
        "count": accepted.count,
        "positions": (accepted.first_position..accepted.first_position + u64::from(accepted.count)).collect::<Vec<_>>(),
    })
}

fn created(body: serde_json::Value, replayed: bool) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    response
}

async fn submit<B: Backend>(
    app: &App<B>,
    command_id: String,
    command: Command,
    actor: UserId,
    effective_date: NaiveDate,
    memo: String,
) -> Result<Accepted, Problem> {
    let started = std::time::Instant::now();
    let kind = command.command_type();
    let result = app
        .engine
        .submit_checked_async(Submission {
            command_id,
            command,
            actor,
            effective_date,
            memo,
        })
        .await;
    app.metrics.observe_command(
        kind,
        result.as_ref().map_or_else(|e| e.code(), |_| "accepted"),
        started.elapsed(),
    );
    Ok(result?)
}

pub(crate) async fn command<B: Backend>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let request: CommandRequest = parse_body(body)?;
    let date = request.effective_date.unwrap_or_else(|| app.today());
    let accepted = submit(
        &app,
        key.clone(),
        request.command,
        caller.user,
        date,
        request.memo,
    )
    .await?;
    Ok(created(accepted_body(&key, accepted), accepted.duplicate))
}

/// `POST /api/v1/users/{user}/tokens`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenRequest {
    /// The last day the token works; none = until revoked.
    expires_on: Option<NaiveDate>,
}

/// Issues a token to a user: the server draws the secret, records only its digest, and
/// shows the secret in this one response. A retry with the same key cannot show it
/// again (it was never stored): it answers 409 naming the digest to revoke.
pub(crate) async fn issue_token<B: Backend>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    Id(user): Id<UserId>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let request: TokenRequest = match &body {
        Ok(bytes) if bytes.is_empty() => TokenRequest::default(),
        _ => parse_body(body)?,
    };
    let token = new_token();
    let digest = token_digest(&token);
    let command = Command::IssueToken {
        token: digest,
        user: user.clone(),
        expires_on: request.expires_on,
    };
    let date = app.today();
    match submit(&app, key.clone(), command, caller.user, date, String::new()).await {
        Ok(accepted) if !accepted.duplicate => {
            let mut body = accepted_body(&key, accepted);
            body["user"] = json!(user);
            body["token"] = json!(token);
            body["digest"] = json!(digest);
            body["expires_on"] = json!(request.expires_on);
            Ok(created(body, false))
        }
        Ok(accepted) => Err(Problem::new(
            StatusCode::CONFLICT,
            "token_already_issued",
            format!(
                "this Idempotency-Key already issued a token (position {}); its secret was shown once and is not stored. Revoke it if it was lost, and issue another with a new key",
                accepted.first_position
            ),
        )),
        Err(p) if p.code == "command_id_conflict" => Err(Problem::new(
            StatusCode::CONFLICT,
            "token_already_issued",
            format!(
                "this Idempotency-Key already issued a token; its secret was shown once and is not stored ({}). Revoke it if it was lost, and issue another with a new key",
                p.detail
            ),
        )),
        Err(p) => Err(p),
    }
}
