//! The pages' only way to the ledger: requests to the JSON API's own router, in
//! process, with the signed-in user's bearer token. Authentication, role and scope
//! checks, idempotency, queries and problem codes are therefore exactly the API's
//! (`ledger_server`); the pages add no rule of their own. Every request says the page's
//! language in `Accept-Language`, so that a refusal's detail comes back in it.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

use crate::i18n::Lang;

/// The largest API answer a page reads (a page of 1,000 audit records is far below).
pub const API_ANSWER_BYTES_MAX: usize = 32 * 1024 * 1024;

/// An error answer of the API (`application/problem+json`), or a failure to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiProblem {
    pub status: u16,
    pub code: String,
    pub detail: String,
}

impl ApiProblem {
    pub fn internal(detail: impl Into<String>) -> Self {
        ApiProblem {
            status: 500,
            code: "internal".to_string(),
            detail: detail.into(),
        }
    }
}

/// Who asks the API: the signed-in user's bearer token, and the page's language, in which
/// the API answers a refusal's detail (the domain's rejections have both).
#[derive(Clone)]
pub struct Caller {
    pub token: String,
    pub lang: Lang,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("lang", &self.lang)
            .finish_non_exhaustive()
    }
}

/// The body of `POST /api/v1/commands`.
#[derive(Debug, Serialize)]
pub struct CommandBody<'a> {
    pub command: &'a ledger_domain::Command,
    pub effective_date: Option<chrono::NaiveDate>,
    pub memo: &'a str,
}

/// A command recorded, or the original answer to a repeated key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Recorded {
    pub command_id: String,
    pub positions: Vec<u64>,
    #[serde(skip)]
    pub replayed: bool,
}

/// The in-process API client.
#[derive(Clone, Debug)]
pub struct Api {
    router: Router,
}

impl Api {
    pub fn new(router: Router) -> Self {
        Api { router }
    }

    /// Sends one request to the API router as `caller`, in `caller`'s language, and
    /// returns its raw answer.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        caller: &Caller,
        idempotency_key: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<Response, ApiProblem> {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", caller.token))
            .header(header::ACCEPT_LANGUAGE, caller.lang.html());
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let request = match body {
            Some(bytes) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(bytes)),
            None => request.body(Body::empty()),
        }
        .map_err(|e| ApiProblem::internal(format!("the request could not be built: {e}")))?;
        self.router
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| ApiProblem::internal(format!("the API did not answer: {e}")))
    }

    /// `GET uri` as the caller, decoded as `T`, or the API's problem.
    pub async fn get<T: DeserializeOwned>(
        &self,
        caller: &Caller,
        uri: &str,
    ) -> Result<T, ApiProblem> {
        let response = self.send(Method::GET, uri, caller, None, None).await?;
        let status = response.status();
        let bytes = read_body(response).await?;
        if !status.is_success() {
            return Err(problem(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            ApiProblem::internal(format!("the API's answer to {uri} was not understood: {e}"))
        })
    }

    /// Records one command with `key` as its command id.
    pub async fn command(
        &self,
        caller: &Caller,
        key: &str,
        body: &CommandBody<'_>,
    ) -> Result<Recorded, ApiProblem> {
        let (recorded, replayed) = self
            .post_command(caller, key, "/api/v1/commands", body)
            .await?;
        Ok(Recorded {
            replayed,
            ..recorded
        })
    }

    /// Records several commands all or none (`POST /api/v1/command-groups`); command
    /// `i` (from 1) gets the id `{key}.{i}`.
    pub async fn command_group(
        &self,
        caller: &Caller,
        key: &str,
        bodies: &[CommandBody<'_>],
    ) -> Result<Vec<Recorded>, ApiProblem> {
        #[derive(Serialize)]
        struct Group<'a, 'b> {
            commands: &'a [CommandBody<'b>],
        }
        #[derive(Deserialize)]
        struct Answer {
            commands: Vec<Recorded>,
        }
        let (answer, replayed): (Answer, bool) = self
            .post_command(
                caller,
                key,
                "/api/v1/command-groups",
                &Group { commands: bodies },
            )
            .await?;
        Ok(answer
            .commands
            .into_iter()
            .map(|r| Recorded { replayed, ..r })
            .collect())
    }

    /// POSTs a write with its idempotency key; the answer and whether it was replayed.
    async fn post_command<T: DeserializeOwned>(
        &self,
        caller: &Caller,
        key: &str,
        uri: &str,
        body: &impl Serialize,
    ) -> Result<(T, bool), ApiProblem> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| ApiProblem::internal(format!("the command could not be encoded: {e}")))?;
        let response = self
            .send(Method::POST, uri, caller, Some(key), Some(bytes))
            .await?;
        let status = response.status();
        let replayed = response
            .headers()
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true");
        let bytes = read_body(response).await?;
        if status != StatusCode::CREATED {
            return Err(problem(status, &bytes));
        }
        let answer = serde_json::from_slice(&bytes).map_err(|e| {
            ApiProblem::internal(format!("the API's answer was not understood: {e}"))
        })?;
        Ok((answer, replayed))
    }
}

async fn read_body(response: Response) -> Result<Vec<u8>, ApiProblem> {
    axum::body::to_bytes(response.into_body(), API_ANSWER_BYTES_MAX)
        .await
        .map(|b| b.to_vec())
        .map_err(|e| ApiProblem::internal(format!("the API's answer could not be read: {e}")))
}

fn problem(status: StatusCode, bytes: &[u8]) -> ApiProblem {
    serde_json::from_slice::<ApiProblem>(bytes).unwrap_or_else(|_| ApiProblem {
        status: status.as_u16(),
        code: "internal".to_string(),
        detail: String::from_utf8_lossy(bytes).into_owned(),
    })
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A query string from the pairs whose value is not empty.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v.trim())))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded_and_empty_ones_left_out() {
        assert_eq!(encode("b-0001"), "b-0001");
        assert_eq!(encode("a b&c"), "a%20b%26c");
        assert_eq!(encode("批"), "%E6%89%B9");
        assert_eq!(
            query(&[("fund", "F1"), ("from", ""), ("to", " 2024-01-01 ")]),
            "?fund=F1&to=2024-01-01"
        );
        assert_eq!(query(&[("fund", "")]), "");
    }
}
