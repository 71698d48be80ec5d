//! The pages' only way to the ledger: requests to the JSON API's own router, in
//! process, with the signed-in user's bearer token. Authentication, role and scope
//! checks, idempotency, queries and problem codes are therefore exactly the API's
//! (`ledger_server`); the pages add no rule of their own.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tower::ServiceExt;

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

    /// Sends one request to the API router and returns its raw answer.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        idempotency_key: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<Response, ApiProblem> {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
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

    /// `GET uri` as the token's user, decoded as `T`, or the API's problem.
    pub async fn get<T: DeserializeOwned>(&self, token: &str, uri: &str) -> Result<T, ApiProblem> {
        let response = self.send(Method::GET, uri, token, None, None).await?;
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
        token: &str,
        key: &str,
        body: &CommandBody<'_>,
    ) -> Result<Recorded, ApiProblem> {
        let (recorded, replayed) = self
            .post_command(token, key, "/api/v1/commands", body)
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
        token: &str,
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
                token,
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
        token: &str,
        key: &str,
        uri: &str,
        body: &impl Serialize,
    ) -> Result<(T, bool), ApiProblem> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| ApiProblem::internal(format!("the command could not be encoded: {e}")))?;
        let response = self
            .send(Method::POST, uri, token, Some(key), Some(bytes))
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
