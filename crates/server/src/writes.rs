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
use ledger_domain::{Command, Rejection, TokenDigest, UserId};
use ledger_engine::{group_size_refusal, Accepted, EngineError, GroupRefused, Submission};
use ledger_store::Backend;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::openapi::WRITERS;
use crate::problem::ProblemBody;
use crate::reads::Id;
use crate::{new_token, token_digest, App, Caller, Problem};

/// The header that makes a write safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<String, Problem> {
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
pub(crate) fn parse_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, Problem> {
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

/// The body of `POST /api/v1/commands`. Public (with `Serialize` and `PartialEq`) so
/// that the fuzz target `http_command_body` parses exactly this type.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    /// One domain command, e.g. `{"PayGrant": {...}}` (docs/API.md).
    command: Command,
    /// The business date; today (UTC) when absent.
    effective_date: Option<NaiveDate>,
    /// Why: a voucher number or note. No personal information.
    #[serde(default)]
    memo: String,
}

/// A command recorded (or, on a retry, the original answer).
#[derive(Serialize, ToSchema)]
pub(crate) struct CommandAccepted {
    /// The Idempotency-Key, which is the command id in the audit trail.
    command_id: String,
    /// The position of the first event appended.
    first_position: u64,
    /// Events appended (0 for a command that changed nothing).
    count: u32,
    /// Every position appended, in order.
    positions: Vec<u64>,
}

impl CommandAccepted {
    pub(crate) fn new(command_id: &str, accepted: Accepted) -> Self {
        CommandAccepted {
            command_id: command_id.to_string(),
            first_position: accepted.first_position,
            count: accepted.count,
            positions: (accepted.first_position
                ..accepted.first_position + u64::from(accepted.count))
                .collect(),
        }
    }
}

pub(crate) fn created<T: Serialize>(body: T, replayed: bool) -> Response {
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
    let caller = actor.clone();
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
    result.map_err(|error| about_target_user(error, &caller))
}

/// A command naming an unknown or disabled user other than the caller (issuing a
/// token, changing a role) breaks a rule about its content, like naming an unknown
/// fund: 422, not the 403 that an unknown or disabled caller would get.
fn about_target_user(error: EngineError, caller: &UserId) -> Problem {
    match &error {
        EngineError::Rejected(
            rejection @ (Rejection::UnknownUser { user } | Rejection::UserDisabled { user }),
        ) if user != caller => Problem::rejected(StatusCode::UNPROCESSABLE_ENTITY, rejection),
        _ => error.into(),
    }
}

/// Records one domain command as the caller. The engine checks the caller's role and
/// scope and every domain rule; the answer comes once the events are durable.
#[utoipa::path(post, path = "/api/v1/commands", tag = "commands", security(("bearer" = [])),
    description = WRITERS,
    params(("Idempotency-Key" = String, Header, description = "Required. The command id: a retry with the same key and body returns the original answer with `Idempotent-Replayed: true`; the same key with another body is a 422")),
    request_body(content = CommandRequest, description = "The command, its effective date and a memo"),
    responses(
        (status = 201, description = "Recorded and durable (or a replay of the original answer)", body = CommandAccepted,
            headers(("Idempotent-Replayed" = String, description = "`true` when this answers a retry"))),
        (status = 400, description = "No Idempotency-Key, a body that is not the expected JSON (naming the field), a bad amount or id", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role may not issue the command, or it touches a unit outside the caller's scope", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "It collides with something that already exists or already happened (unit_exists, duplicate_bursary, already_reversed, period_already_closed, ...)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 256 KiB", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "A domain rule refuses it (insufficient_funds, period_closed, ...), or the Idempotency-Key was used for another command", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The writer's queue is full or the ledger is shutting down; retry with the same key", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn command<B: Backend>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let request: CommandRequest = parse_body(body)?;
    let date = request.effective_date.unwrap_or_else(|| app.today());
    let erased = match &request.command {
        Command::EraseBeneficiary { beneficiary, .. } => Some(beneficiary.clone()),
        _ => None,
    };
    let accepted = submit(
        &app,
        key.clone(),
        request.command,
        caller.user,
        date,
        request.memo,
    )
    .await?;
    // An erasure recorded here destroys the key too, as through the registry's own
    // endpoint (without a registry, `registry::reconcile` does it at the next start).
    if let (Some(beneficiary), Some(registry)) = (erased, app.registry.clone()) {
        tokio::task::spawn_blocking(move || crate::registry::shred(&registry.vault, &beneficiary))
            .await
            .map_err(|e| Problem::internal(format!("the erasure failed: {e}")))?
            .map_err(crate::registry::RegistryError::from)?;
    }
    Ok(created(
        CommandAccepted::new(&key, accepted),
        accepted.duplicate,
    ))
}

/// The body of `POST /api/v1/command-groups`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommandGroupRequest {
    /// 1 to 64 commands, recorded in this order, all or none. Command `i` (counting
    /// from 1) gets the command id `{Idempotency-Key}.{i}`.
    commands: Vec<CommandRequest>,
}

/// A group of commands recorded (or, on a retry, the original answer).
#[derive(Serialize, ToSchema)]
pub(crate) struct CommandGroupAccepted {
    /// One answer per command, in the request's order.
    commands: Vec<CommandAccepted>,
}

/// Records several domain commands as the caller, all or none: the engine decides them
/// in order in one group, each against the state the earlier ones leave, and appends
/// them in one durable commit only if every one is accepted (for example a bursary's
/// award and first instalment for each funding tier).
#[utoipa::path(post, path = "/api/v1/command-groups", tag = "commands", security(("bearer" = [])),
    description = WRITERS,
    params(("Idempotency-Key" = String, Header, description = "Required. Command `i` of the group (counting from 1) gets the command id `{key}.{i}`; a retry with the same key and body returns the original answer with `Idempotent-Replayed: true`")),
    request_body(content = CommandGroupRequest, description = "The commands, each with its effective date and memo"),
    responses(
        (status = 201, description = "All recorded and durable (or a replay of the original answer)", body = CommandGroupAccepted,
            headers(("Idempotent-Replayed" = String, description = "`true` when this answers a retry"))),
        (status = 400, description = "No Idempotency-Key, a body that is not the expected JSON, no commands or more than 64, an erasure (it has its own endpoint)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The caller may not issue one of the commands (`command_index` names it); nothing was recorded", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "One of the commands collides with something that exists or happened (`command_index` names it); nothing was recorded", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 256 KiB", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "A domain rule refuses one of the commands (`command_index` names it); nothing was recorded", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The writer's queue is full or the ledger is shutting down; retry with the same key", body = ProblemBody, content_type = "application/problem+json"),
    ))]
pub(crate) async fn command_group<B: Backend>(
    State(app): State<Arc<App<B>>>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let request: CommandGroupRequest = parse_body(body)?;
    if let Some(refusal) = group_size_refusal(request.commands.len()) {
        return Err(Problem::bad_request("invalid_group", refusal));
    }
    if let Some(i) = request
        .commands
        .iter()
        .position(|c| matches!(c.command, Command::EraseBeneficiary { .. }))
    {
        return Err(Problem {
            command_index: Some(i),
            ..Problem::bad_request(
                "invalid_group",
                "an erasure cannot be part of a group: record it alone (POST /api/v1/beneficiaries/{beneficiary}/erasure)",
            )
        });
    }
    let today = app.today();
    let ids: Vec<String> = (1..=request.commands.len())
        .map(|i| format!("{key}.{i}"))
        .collect();
    let kinds: Vec<&'static str> = request
        .commands
        .iter()
        .map(|c| c.command.command_type())
        .collect();
    let submissions = request
        .commands
        .into_iter()
        .zip(&ids)
        .map(|(c, id)| Submission {
            command_id: id.clone(),
            command: c.command,
            actor: caller.user.clone(),
            effective_date: c.effective_date.unwrap_or(today),
            memo: c.memo,
        })
        .collect();
    let started = std::time::Instant::now();
    let result = app.engine.submit_all_checked_async(submissions).await;
    for (i, kind) in kinds.iter().enumerate() {
        let outcome = match &result {
            Ok(_) => "accepted",
            Err(GroupRefused {
                command: Some(refused),
                error,
            }) if *refused == i => error.code(),
            Err(_) => "not_recorded",
        };
        app.metrics
            .observe_command(kind, outcome, started.elapsed());
    }
    let accepted = result.map_err(|refused| {
        let index = refused.command;
        let detail = refused.to_string();
        let problem = about_target_user(refused.error, &caller.user);
        let detail_zh = problem.detail_zh.as_deref().map(|zh| match index {
            Some(i) => format!("本组第 {} 条命令：{zh}", i + 1),
            None => zh.to_string(),
        });
        Problem {
            command_index: index,
            detail,
            detail_zh,
            ..problem
        }
    })?;
    let replayed = accepted.iter().all(|a| a.duplicate);
    let commands = ids
        .iter()
        .zip(accepted)
        .map(|(id, a)| CommandAccepted::new(id, a))
        .collect();
    Ok(created(CommandGroupAccepted { commands }, replayed))
}

/// `POST /api/v1/users/{user}/tokens`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenRequest {
    /// The last day the token works; none = until revoked.
    expires_on: Option<NaiveDate>,
}

/// A token issued: the only time its secret is shown.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenIssued {
    #[serde(flatten)]
    accepted: CommandAccepted,
    /// The member of staff the token signs in.
    user: UserId,
    /// The secret: `wlt_` and 64 hex digits. Shown once, never stored.
    #[schema(pattern = "^wlt_[0-9a-f]{64}$")]
    token: String,
    /// What the ledger records: SHA-256 of the token; name it to revoke the token.
    digest: TokenDigest,
    /// The last day the token works; null = until revoked.
    expires_on: Option<NaiveDate>,
}

/// Issues a token to a user: the server draws the secret, records only its digest, and
/// shows the secret in this one response. A retry with the same key cannot show it
/// again (it was never stored): it answers 409 naming the digest to revoke.
#[utoipa::path(post, path = "/api/v1/users/{user}/tokens", tag = "access", security(("bearer" = [])),
    description = "Admins only (an admin with a scope, for users within it).",
    params(
        ("user" = UserId, Path, description = "The member of staff to issue the token to"),
        ("Idempotency-Key" = String, Header, description = "Required. A retry with the same key cannot show the secret again: it answers 409 token_already_issued"),
    ),
    request_body(content = Option<TokenRequest>, description = "Optional; an empty body is a token without expiry"),
    responses(
        (status = 201, description = "The token, shown this once", body = TokenIssued),
        (status = 400, description = "No Idempotency-Key, or a malformed body or user id", body = ProblemBody, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = ProblemBody, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not an admin (of the user's unit)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 409, description = "This Idempotency-Key already issued a token (token_already_issued)", body = ProblemBody, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 256 KiB", body = ProblemBody, content_type = "application/problem+json"),
        (status = 422, description = "No such user, or the user is disabled", body = ProblemBody, content_type = "application/problem+json"),
        (status = 503, description = "The writer's queue is full or the ledger is shutting down", body = ProblemBody, content_type = "application/problem+json"),
    ))]
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
        Ok(accepted) if !accepted.duplicate => Ok(created(
            TokenIssued {
                accepted: CommandAccepted::new(&key, accepted),
                user,
                token,
                digest,
                expires_on: request.expires_on,
            },
            false,
        )),
        Ok(accepted) => Err(Problem::new(
            StatusCode::CONFLICT,
            "token_already_issued",
            format!(
                "this Idempotency-Key already issued a token (position {}); its secret was shown once and is not stored. Revoke it if it was lost, and issue another with a new key",
                accepted.first_position
            ),
        )),
        // A retry draws a new secret, so it differs from the recorded command.
        Err(p) if p.code == "command_id_conflict" => Err(Problem::new(
            StatusCode::CONFLICT,
            "token_already_issued",
            "this Idempotency-Key already issued a token; its secret was shown once and is not stored. Revoke it if it was lost (its digest is in the audit trail under this command id), and issue another with a new key",
        )),
        Err(p) => Err(p),
    }
}
