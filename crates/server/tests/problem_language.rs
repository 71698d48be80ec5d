//! Proves the language of a refusal's `detail`: the API's router over an in-memory ledger is asked to overdraw a fund, to record as an auditor, and to record a group whose second command is refused, with and without `Accept-Language`.
//!
//! Chinese (`zh-CN`, `zh`, `zh-Hans`, or ranked above English by q-values) gets the
//! domain's Chinese detail and `Content-Language: zh-CN`; no header, `en`, and Chinese
//! ranked below English get the English detail, byte for byte the same body, with
//! `Content-Language: en`. The status, `type`, `title`, `code` and `command_index`
//! never change with the language, and an error that has no Chinese (a missing
//! `Idempotency-Key`) stays English whatever the caller asks.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use chrono::NaiveDate;
use ledger_domain::{
    Amount, BeneficiaryCategory, BeneficiaryId, BeneficiaryKind, Command, FundId, FundingTier,
    Programme, Role, UnitCode, UnitLevel, UserId,
};
use ledger_engine::{Engine, Submission};
use ledger_server::{router, token_digest, App, Limits};
use ledger_store::{Clock, FixedClock, HashAlgorithm, Log, MemoryBackend};
use serde_json::Value;
use tower::ServiceExt as _;

const FUND: &str = "FJ-SM-2025-HP";
const OVERDRAW: &str = r#"{"command": {"PayGrant": {"fund": "FJ-SM-2025-HP", "beneficiary": "b-000001", "modality": "Relief", "batch": null,
    "amount": "99990000.00", "shares": [{"tier": "Province", "amount": "99990000.00"}]}}, "effective_date": "2025-06-30"}"#;
const ENGLISH: &str = "fund FJ-SM-2025-HP has ¥14,000.00 available in its province tier; the payment needs ¥99,990,000.00";
const CHINESE: &str = "资金 FJ-SM-2025-HP 的省级可用余额为 ¥14,000.00，本次支付需要 ¥99,990,000.00";

/// A token per user: `wlt_` and the user id's bytes in hex, padded to 64 digits.
fn token(user: &str) -> String {
    let hex: String = user.bytes().map(|b| format!("{b:02x}")).collect();
    format!("wlt_{hex:0>64}")
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 30).unwrap()
}

/// Fujian and Sanming, a Happiness Project fund with ¥14,000.00 of province money, a
/// mother, a clerk of Sanming and an auditor.
async fn app() -> Arc<App<MemoryBackend>> {
    // 2025-07-01 04:00 UTC.
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(1_751_342_400_000));
    let log = Log::create(MemoryBackend::new(), HashAlgorithm::Sha256, clock.clone()).unwrap();
    let engine = Arc::new(Engine::open(log, clock.clone()).unwrap());
    let unit = |u: &str| UnitCode::new(u).unwrap();
    let fourteen_thousand = Amount::from_yuan(14_000).unwrap();
    let mut commands = vec![
        Command::RegisterUnit {
            unit: unit("FJ"),
            name: "福建省".into(),
            level: UnitLevel::Province,
            parent: None,
        },
        Command::RegisterUnit {
            unit: unit("FJ-SM"),
            name: "三明市".into(),
            level: UnitLevel::City,
            parent: Some(unit("FJ")),
        },
        Command::OpenFund {
            fund: FundId::new(FUND).unwrap(),
            unit: unit("FJ-SM"),
            programme: Programme::HappinessProject,
            name: "三明市幸福工程".into(),
            fiscal_year: Some(2025),
            approval_threshold: None,
            insurance_model: None,
        },
        Command::CommitAppropriation {
            fund: FundId::new(FUND).unwrap(),
            tier: FundingTier::Province,
            amount: fourteen_thousand,
            reference: None,
        },
        Command::ReceiveAppropriation {
            fund: FundId::new(FUND).unwrap(),
            tier: FundingTier::Province,
            amount: fourteen_thousand,
            reference: None,
        },
        Command::RegisterBeneficiary {
            beneficiary: BeneficiaryId::new("b-000001").unwrap(),
            unit: unit("FJ-SM"),
            kind: BeneficiaryKind::Person,
            categories: [BeneficiaryCategory::Mother].into_iter().collect(),
        },
    ];
    for (user, role, scope) in [
        ("clerk-sm", Role::Clerk, Some(unit("FJ-SM"))),
        ("auditor", Role::Auditor, None),
    ] {
        let user = UserId::new(user).unwrap();
        commands.push(Command::RegisterUser {
            user: user.clone(),
            role,
            scope,
        });
        commands.push(Command::IssueToken {
            token: token_digest(&token(user.as_str())),
            user,
            expires_on: None,
        });
    }
    for (n, command) in commands.into_iter().enumerate() {
        engine
            .submit_async(Submission {
                command_id: format!("setup-{n}"),
                command,
                actor: UserId::new("operator").unwrap(),
                effective_date: date(),
                memo: String::new(),
            })
            .await
            .unwrap();
    }
    App::new(engine, clock, Limits::default(), None)
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap()
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
}

async fn post(
    app: &Arc<App<MemoryBackend>>,
    user: &str,
    path: &str,
    key: Option<&str>,
    body: &str,
    language: Option<&str>,
) -> Answer {
    let mut request = Request::post(path)
        .header("authorization", format!("Bearer {}", token(user)))
        .header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    if let Some(language) = language {
        request = request.header("accept-language", language);
    }
    let request = request.body(Body::from(body.to_string())).unwrap();
    let response = router(Arc::clone(app)).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap()
        .to_vec();
    Answer {
        status,
        headers,
        bytes,
    }
}

/// Every field but `detail` is the same in both answers.
fn same_but_detail(english: &Value, chinese: &Value) {
    let mut a = english.clone();
    let mut b = chinese.clone();
    a.as_object_mut().unwrap().remove("detail");
    b.as_object_mut().unwrap().remove("detail");
    assert_eq!(a, b);
}

#[tokio::test]
async fn a_refusal_is_in_chinese_for_a_caller_who_prefers_chinese_and_in_english_otherwise() {
    let app = app().await;
    let overdraw = |language: Option<&'static str>| {
        let app = Arc::clone(&app);
        async move {
            post(
                &app,
                "clerk-sm",
                "/api/v1/commands",
                Some("overdraw-1"),
                OVERDRAW,
                language,
            )
            .await
        }
    };

    let english = overdraw(None).await;
    assert_eq!(english.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(english.json()["detail"], ENGLISH);
    assert_eq!(english.json()["code"], "insufficient_funds");
    assert_eq!(english.header("content-language"), "en");
    assert_eq!(english.header("content-type"), "application/problem+json");
    assert!(english.header("vary").contains("accept-language"));
    for language in ["en", "en-US,en;q=0.9", "zh;q=0.1, en;q=0.9", "zh-TW"] {
        let answer = overdraw(Some(language)).await;
        assert_eq!(answer.status, english.status, "{language}");
        assert_eq!(answer.bytes, english.bytes, "{language}: the same bytes");
        assert_eq!(answer.header("content-language"), "en", "{language}");
    }

    for language in [
        "zh-CN",
        "zh",
        "zh-Hans",
        "zh-CN,zh;q=0.9,en;q=0.8",
        "en;q=0.5, zh",
    ] {
        let chinese = overdraw(Some(language)).await;
        assert_eq!(chinese.status, english.status, "{language}");
        assert_eq!(chinese.json()["detail"], CHINESE, "{language}");
        assert_eq!(chinese.header("content-language"), "zh-CN", "{language}");
        assert_eq!(chinese.header("content-type"), "application/problem+json");
        same_but_detail(&english.json(), &chinese.json());
    }
}

#[tokio::test]
async fn a_role_refusal_and_a_refused_group_read_in_chinese_with_the_same_codes() {
    let app = app().await;
    let as_auditor = |language| {
        post(
            &app,
            "auditor",
            "/api/v1/commands",
            Some("auditor-1"),
            OVERDRAW,
            language,
        )
    };
    let english = as_auditor(None).await;
    let chinese = as_auditor(Some("zh-CN")).await;
    assert_eq!(english.status, StatusCode::FORBIDDEN);
    assert_eq!(chinese.status, StatusCode::FORBIDDEN);
    assert_eq!(
        english.json()["detail"],
        "user auditor is a auditor, and a auditor may not record payments"
    );
    assert_eq!(
        chinese.json()["detail"],
        "用户 auditor 的角色是审计人员，审计人员不能记录付款"
    );
    same_but_detail(&english.json(), &chinese.json());

    let group = r#"{"commands": [
        {"command": {"PayGrant": {"fund": "FJ-SM-2025-HP", "beneficiary": "b-000001", "modality": "Relief", "batch": null,
            "amount": "10.00", "shares": [{"tier": "Province", "amount": "10.00"}]}}, "effective_date": "2025-06-30"},
        {"command": {"PayGrant": {"fund": "FJ-SM-NOPE", "beneficiary": "b-000001", "modality": "Relief", "batch": null,
            "amount": "10.00", "shares": [{"tier": "Province", "amount": "10.00"}]}}, "effective_date": "2025-06-30"}]}"#;
    let english = post(
        &app,
        "clerk-sm",
        "/api/v1/command-groups",
        Some("group-1"),
        group,
        Some("en"),
    )
    .await;
    let chinese = post(
        &app,
        "clerk-sm",
        "/api/v1/command-groups",
        Some("group-1"),
        group,
        Some("zh-CN"),
    )
    .await;
    assert_eq!(english.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(chinese.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        english.json()["detail"],
        "command 2 of the group: unknown fund FJ-SM-NOPE; open the fund first"
    );
    assert_eq!(
        chinese.json()["detail"],
        "本组第 2 条命令：没有资金 FJ-SM-NOPE；请先开设该资金"
    );
    assert_eq!(chinese.json()["command_index"], 1);
    same_but_detail(&english.json(), &chinese.json());
}

#[tokio::test]
async fn an_error_without_a_chinese_detail_stays_english() {
    let app = app().await;
    let answer = post(
        &app,
        "clerk-sm",
        "/api/v1/commands",
        None,
        OVERDRAW,
        Some("zh-CN"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["code"], "idempotency_key_missing");
    assert!(answer.json()["detail"]
        .as_str()
        .unwrap()
        .starts_with("every write needs an Idempotency-Key header"));
    assert_eq!(answer.header("content-language"), "en");
    assert!(!answer.headers.contains_key("vary"), "one language only");
}
