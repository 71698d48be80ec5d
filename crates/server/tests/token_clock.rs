//! A token's expiry against the server's clock. `App` takes its clock as an argument
//! (the real server passes the system clock), so this test builds the same router over
//! an in-memory ledger with a `FixedClock` and moves the clock across the boundary:
//! a token works through the whole of its last day (`expires_on`, a business date in
//! China Standard Time, UTC+8) and is refused from the first millisecond of the next
//! day with 401 `token_expired` in problem+json, for reads and writes alike, and the
//! refused write appends nothing. The end-to-end suite (`tests/http_hostile.rs`) runs
//! on the system clock and can only show a token that expired long ago.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{NaiveDate, NaiveDateTime};
use ledger_domain::{Command, Role, UserId};
use ledger_engine::{Engine, Submission};
use ledger_server::{new_token, router, token_digest, App, Limits};
use ledger_store::{Clock, FixedClock, HashAlgorithm, Log, MemoryBackend};
use serde_json::Value;
use tower::ServiceExt as _;

fn utc_ms(text: &str) -> i64 {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.3f")
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// Sends one request through the router; returns status, content type and JSON body.
async fn send(
    app: &Arc<App<MemoryBackend>>,
    request: Request<Body>,
) -> (StatusCode, String, Value) {
    let response = router(Arc::clone(app)).oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        content_type,
        serde_json::from_slice(&bytes).unwrap(),
    )
}

fn me(token: &str) -> Request<Body> {
    Request::get("/api/v1/me")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn register_unit(token: &str, key: &str) -> Request<Body> {
    Request::post("/api/v1/commands")
        .header("authorization", format!("Bearer {token}"))
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"command": {"RegisterUnit": {"unit": "FJ", "name": "福建省", "level": "Province", "parent": null}}}"#,
        ))
        .unwrap()
}

#[tokio::test]
async fn a_token_works_through_its_last_day_and_not_a_millisecond_longer() {
    // Given an admin whose token's last day is 2021-07-01, issued ten days earlier.
    let clock = Arc::new(FixedClock::new(utc_ms("2021-06-21 02:00:00.000")));
    let shared: Arc<dyn Clock> = clock.clone();
    let log = Log::create(MemoryBackend::new(), HashAlgorithm::Sha256, shared.clone()).unwrap();
    let engine = Arc::new(Engine::open(log, shared.clone()).unwrap());
    let admin = UserId::new("admin").unwrap();
    let token = new_token();
    for (id, command) in [
        (
            "user",
            Command::RegisterUser {
                user: admin.clone(),
                role: Role::Admin,
                scope: None,
            },
        ),
        (
            "token",
            Command::IssueToken {
                token: token_digest(&token),
                user: admin.clone(),
                expires_on: Some(date("2021-07-01")),
            },
        ),
    ] {
        engine
            .submit_async(Submission {
                command_id: id.into(),
                command,
                actor: UserId::new("operator").unwrap(),
                effective_date: date("2021-06-21"),
                memo: String::new(),
            })
            .await
            .unwrap();
    }
    let app = App::new(Arc::clone(&engine), shared, Limits::default(), None);

    // When the clock shows the last day's final millisecond in China Standard Time
    // (15:59:59.999 UTC), the token signs the admin in.
    clock.set(utc_ms("2021-07-01 15:59:59.999"));
    let (status, _, body) = send(&app, me(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"], "admin");

    // Then, one millisecond later, the next business day, it signs no one in: reads and
    // writes get 401 token_expired as problem+json, naming the day it expired.
    clock.set(utc_ms("2021-07-01 16:00:00.000"));
    let head = engine.head().next_position;
    for request in [me(&token), register_unit(&token, "unit-FJ")] {
        let (status, content_type, body) = send(&app, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["code"], "token_expired", "{body}");
        assert!(
            body["detail"].as_str().unwrap().contains("2021-07-01"),
            "{body}"
        );
    }
    assert_eq!(engine.head().next_position, head, "nothing appended");

    // And turning the clock back (a clock that jumps) makes it work again: expiry is a
    // comparison with today's date, not a state recorded when it was first refused.
    clock.set(utc_ms("2021-07-01 08:00:00.000"));
    let (status, _, body) = send(&app, me(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
