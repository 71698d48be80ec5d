//! The web pages through the same router the binary serves (the API's merged with the
//! pages'), driven with `tower::ServiceExt::oneshot` on an in-memory ledger: who may
//! open which page, sign-in and language, CSRF, forms that keep what was typed and
//! show the rule's message at the field, and a resubmitted form that never pays twice.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use chrono::NaiveDate;
use ledger_domain::{
    Amount, BeneficiaryCategory, BeneficiaryKind, Command, FundId, FundingTier, Programme, Role,
    UnitCode, UnitLevel, UserId,
};
use ledger_engine::{Engine, Submission};
use ledger_server::{token_digest, App, Limits};
use ledger_store::{Clock, FixedClock, HashAlgorithm, Log, MemoryBackend};
use tower::ServiceExt;

const CSRF: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";

fn token(user: &str) -> String {
    format!("wlt_{:0>64}", hex_of(user))
}

fn hex_of(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect::<String>()[..text.len().min(32)].to_string()
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2021, 6, 30).unwrap()
}

struct Ledger {
    router: Router,
    engine: Arc<Engine<MemoryBackend>>,
}

/// Sanming city under Fujian: a bursary fund with ¥10,000 per tier, a Happiness
/// Project fund with approval above ¥20,000, a student and a mother, and a clerk,
/// approver, manager and auditor, each with a token.
fn ledger() -> Ledger {
    // The setup submits with the blocking `Engine::submit`: not on the test's runtime.
    std::thread::spawn(build).join().unwrap()
}

fn build() -> Ledger {
    // 2021-12-31 12:00 UTC.
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(1_640_952_000_000));
    let log = Log::create(MemoryBackend::new(), HashAlgorithm::Sha256, clock.clone()).unwrap();
    let engine = Arc::new(Engine::open(log, clock.clone()).unwrap());
    let mut n = 0;
    let mut run = |command: Command| {
        n += 1;
        engine
            .submit(Submission {
                command_id: format!("setup-{n}"),
                command,
                actor: UserId::new("operator").unwrap(),
                effective_date: date(),
                memo: String::new(),
            })
            .unwrap_or_else(|e| panic!("setup step {n}: {e}"));
    };
    let unit = |u: &str| UnitCode::new(u).unwrap();
    let fund = |f: &str| FundId::new(f).unwrap();
    let yuan = |y: i64| Amount::from_yuan(y).unwrap();
    run(Command::RegisterUnit {
        unit: unit("FJ"),
        name: "福建省".into(),
        level: UnitLevel::Province,
        parent: None,
    });
    run(Command::RegisterUnit {
        unit: unit("FJ-SM"),
        name: "三明市".into(),
        level: UnitLevel::City,
        parent: Some(unit("FJ")),
    });
    for (user, role, scope) in [
        ("clerk-sm", Role::Clerk, Some(unit("FJ-SM"))),
        ("approver-sm", Role::Approver, Some(unit("FJ-SM"))),
        ("manager-sm", Role::Manager, Some(unit("FJ-SM"))),
        ("auditor", Role::Auditor, None),
    ] {
        let user = UserId::new(user).unwrap();
        run(Command::RegisterUser {
            user: user.clone(),
            role,
            scope,
        });
        run(Command::IssueToken {
            token: token_digest(&token(user.as_str())),
            user,
            expires_on: None,
        });
    }
    for (id, programme, threshold) in [
        ("SM-BURSARY", Programme::Bursary, None),
        ("SM-HP", Programme::HappinessProject, Some(yuan(20_000))),
    ] {
        run(Command::OpenFund {
            fund: fund(id),
            unit: unit("FJ-SM"),
            programme,
            name: format!("三明 {id}"),
            fiscal_year: Some(2021),
            approval_threshold: threshold,
            insurance_model: None,
        });
        for tier in [
            FundingTier::Province,
            FundingTier::City,
            FundingTier::County,
        ] {
            run(Command::CommitAppropriation {
                fund: fund(id),
                tier,
                amount: yuan(10_000),
                reference: None,
            });
            run(Command::ReceiveAppropriation {
                fund: fund(id),
                tier,
                amount: yuan(10_000),
                reference: None,
            });
        }
    }
    for (b, category) in [
        ("b-000001", BeneficiaryCategory::Student),
        ("b-000002", BeneficiaryCategory::Mother),
    ] {
        run(Command::RegisterBeneficiary {
            beneficiary: ledger_domain::BeneficiaryId::new(b).unwrap(),
            unit: unit("FJ-SM"),
            kind: BeneficiaryKind::Person,
            categories: [category].into_iter().collect(),
        });
    }
    let app = App::new(engine.clone(), clock, Limits::default(), None);
    let router = ledger_server::router(app.clone()).merge(ledger_web::router(app));
    Ledger { router, engine }
}

struct Answer {
    status: StatusCode,
    location: String,
    set_cookies: Vec<String>,
    body: String,
}

impl Ledger {
    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let set_cookies = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Answer {
            status,
            location,
            set_cookies,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, user: Option<&str>, path: &str) -> Answer {
        self.get_lang(user, path, "zh").await
    }

    async fn get_lang(&self, user: Option<&str>, path: &str, lang: &str) -> Answer {
        let mut cookie = format!("wl_csrf={CSRF}; wl_lang={lang}");
        if let Some(user) = user {
            cookie.push_str(&format!("; wl_token={}", token(user)));
        }
        self.send(
            Request::get(path)
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    async fn post(&self, user: &str, path: &str, fields: &[(&str, &str)]) -> Answer {
        self.post_lang(user, path, fields, "zh").await
    }

    async fn post_lang(
        &self,
        user: &str,
        path: &str,
        fields: &[(&str, &str)],
        lang: &str,
    ) -> Answer {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", ledger_web::api::encode(v)))
            .collect();
        let cookie = format!("wl_csrf={CSRF}; wl_token={}; wl_lang={lang}", token(user));
        self.send(
            Request::post(path)
                .header(header::COOKIE, cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body.join("&")))
                .unwrap(),
        )
        .await
    }

    fn available(&self, fund: &str) -> Amount {
        let fund = FundId::new(fund).unwrap();
        self.engine.read(|m| {
            let money = m.state().fund(&fund).unwrap().balance().available;
            Amount::parse_plain(&money.plain()).unwrap()
        })
    }

    fn head(&self) -> u64 {
        self.engine.head().next_position
    }
}

fn bursary(key: &str, province: &str) -> Vec<(&'static str, String)> {
    vec![
        ("csrf", CSRF.to_string()),
        ("idempotency_key", key.to_string()),
        ("fund", "SM-BURSARY".to_string()),
        ("award", "SM-B-0001".to_string()),
        ("student", "b-000001".to_string()),
        ("academic_year", "2021".to_string()),
        ("share_Province", province.to_string()),
        ("share_City", "1,500.00".to_string()),
        ("share_County", "0.1万".to_string()),
        ("effective_date", "2021-09-01".to_string()),
        ("memo", "2021 学年 金秋助学".to_string()),
    ]
}

fn fields<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn a_visitor_without_a_token_is_sent_to_sign_in_in_chinese_by_default() {
    let l = ledger();
    for path in [
        "/web/",
        "/web/funds",
        "/web/record/loan",
        "/web/audit",
        "/web/verify",
        "/web/requests",
    ] {
        let a = l.get(None, path).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(a.location, "/web/sign-in?why=required", "{path}");
    }
    let page = l.get(None, "/web/sign-in?why=required").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("lang=\"zh-CN\""));
    assert!(page.body.contains("请先登录"), "{}", page.body);
    assert!(page.body.contains("<label for=\"token\">访问令牌"));
    let english = l.get_lang(None, "/web/sign-in", "en").await;
    assert!(english.body.contains("Access token"));
    assert!(english.body.contains("lang=\"en\""));
    assert_eq!(l.get(None, "/").await.location, "/web/");
}

#[tokio::test]
async fn signing_in_checks_the_token_and_keeps_it_in_a_strict_http_only_cookie() {
    let l = ledger();
    let ok = l
        .post(
            "clerk-sm",
            "/web/sign-in",
            &[("csrf", CSRF), ("token", &token("clerk-sm"))],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let cookie = ok
        .set_cookies
        .iter()
        .find(|c| c.starts_with("wl_token="))
        .expect("a token cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let bad = l
        .post(
            "clerk-sm",
            "/web/sign-in",
            &[("csrf", CSRF), ("token", "wlt_00")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.body.contains("令牌无效"), "{}", bad.body);
    let forged = l
        .post("clerk-sm", "/web/sign-in", &[("token", &token("clerk-sm"))])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "no CSRF field");
}

#[tokio::test]
async fn each_role_opens_the_pages_the_api_lets_it_and_no_others() {
    let l = ledger();
    let cases = [
        ("clerk-sm", "/web/", 200),
        ("clerk-sm", "/web/record", 200),
        ("clerk-sm", "/web/record/bursary", 200),
        ("clerk-sm", "/web/funds/SM-BURSARY", 200),
        ("clerk-sm", "/web/requests", 200),
        ("clerk-sm", "/web/verify", 403),
        ("clerk-sm", "/web/audit/export.jsonl", 403),
        ("approver-sm", "/web/requests", 200),
        ("approver-sm", "/web/record/loan", 403),
        ("manager-sm", "/web/funds", 200),
        ("manager-sm", "/web/record/grant", 403),
        ("manager-sm", "/web/verify", 403),
        ("auditor", "/web/record/loan", 403),
        ("auditor", "/web/verify", 200),
        ("auditor", "/web/audit?key=fund&value=SM-HP", 200),
        ("auditor", "/web/audit/export.jsonl", 200),
        ("auditor", "/web/funds/SM-HP?as_of=2021-06-30", 200),
        ("clerk-sm", "/web/funds/XX-OTHER", 403),
        ("clerk-sm", "/web/record/nothing", 404),
    ];
    for (user, path, status) in cases {
        let a = l.get(Some(user), path).await;
        assert_eq!(a.status.as_u16(), status, "{user} {path}: {}", a.body);
    }
    let refused = l.get(Some("auditor"), "/web/record/loan").await;
    assert!(refused.body.contains("not_permitted"), "{}", refused.body);
    assert!(
        refused.body.contains("您的角色不能办理此事项"),
        "{}",
        refused.body
    );
    let verify = l.get(Some("auditor"), "/web/verify").await;
    assert!(verify.body.contains("完整"), "{}", verify.body);
    let head = hex::encode(l.engine.head().hash);
    assert!(verify.body.contains(&head), "the latest head hash is shown");
}

#[tokio::test]
async fn navigation_follows_the_role() {
    let l = ledger();
    let clerk = l.get(Some("clerk-sm"), "/web/").await.body;
    assert!(clerk.contains("href=\"/web/record\""));
    assert!(!clerk.contains("href=\"/web/audit\""));
    let auditor = l.get(Some("auditor"), "/web/").await.body;
    assert!(auditor.contains("href=\"/web/audit\""));
    assert!(!auditor.contains("href=\"/web/record\""));
}

#[tokio::test]
async fn a_bursary_with_three_tier_shares_pays_once_however_often_it_is_submitted() {
    let l = ledger();
    let before = l.available("SM-BURSARY");
    let form = bursary("web-test-bursary-1", "2,000");
    let first = l
        .post("clerk-sm", "/web/record/bursary", &fields(&form))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert!(first.body.contains("已写入账本"), "{}", first.body);
    let paid = Amount::parse("4500.00").unwrap();
    assert_eq!(
        l.available("SM-BURSARY").to_decimal(),
        before.to_decimal() - paid.to_decimal()
    );
    assert!(
        first.body.contains("25,500.00"),
        "the new balance is shown: {}",
        first.body
    );
    let head = l.head();

    // A double click: the same form with the same key.
    let again = l
        .post("clerk-sm", "/web/record/bursary", &fields(&form))
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert!(again.body.contains("重复提交"), "{}", again.body);
    assert_eq!(l.head(), head, "nothing appended");
    assert_eq!(
        l.available("SM-BURSARY").to_decimal(),
        before.to_decimal() - paid.to_decimal()
    );
}

#[tokio::test]
async fn a_rejected_form_keeps_what_was_typed_and_shows_the_rule_at_the_field() {
    let l = ledger();
    let head = l.head();
    // The province tier holds ¥10,000; ask for ¥12,000 of it.
    let form = bursary("web-test-bursary-2", "1.2万");
    let a = l
        .post("clerk-sm", "/web/record/bursary", &fields(&form))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("id=\"shares-error\""), "{}", a.body);
    assert!(a.body.contains("资金不足"), "{}", a.body);
    assert!(a.body.contains("value=\"1.2万\""), "what was typed is kept");
    assert!(a.body.contains("value=\"1,500.00\""));
    assert!(
        a.body.contains("value=\"web-test-bursary-2\""),
        "the same key, for the corrected form"
    );
    assert_eq!(
        l.head(),
        head,
        "all or nothing: no award or instalment recorded"
    );
    // The county's share, decided after the province's and the city's, does not fit:
    // those two are not recorded either.
    let mut late = bursary("web-test-bursary-4", "2,000");
    late.push(("share_County", "1.2万".into()));
    let c = l
        .post("clerk-sm", "/web/record/bursary", &fields(&late))
        .await;
    assert_eq!(c.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", c.body);
    assert!(c.body.contains("资金不足"), "{}", c.body);
    assert_eq!(l.head(), head, "the earlier tiers are not recorded");

    // A malformed amount never reaches the ledger.
    let mut bad = bursary("web-test-bursary-3", "12.345");
    bad.push(("share_City", "abc".into()));
    let b = l
        .post("clerk-sm", "/web/record/bursary", &fields(&bad))
        .await;
    assert_eq!(b.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b.body.contains("id=\"share_Province-error\""), "{}", b.body);
    assert!(b.body.contains("两位小数"), "{}", b.body);
}

#[tokio::test]
async fn a_refusal_names_its_figures_in_the_language_of_the_session() {
    let l = ledger();
    // The province tier holds ¥10,000; ask for ¥12,000 of it, in Chinese and in English.
    let form = bursary("web-test-bursary-lang", "1.2万");
    let chinese = l
        .post_lang("clerk-sm", "/web/record/bursary", &fields(&form), "zh")
        .await;
    assert_eq!(chinese.status, StatusCode::UNPROCESSABLE_ENTITY);
    let shares = chinese.body.split("id=\"shares-error\"").nth(1).unwrap();
    let shares = &shares[..shares.find("</").unwrap()];
    assert!(
        shares.contains(
            "资金不足：该级次的可用余额不够支付。（本组第 4 条命令：资金 SM-BURSARY 的省级可用余额为 ¥10,000.00，本次支付需要 ¥12,000.00）"
        ),
        "{shares}"
    );
    for english in [
        "available",
        "the payment needs",
        "command 4",
        "fund SM-BURSARY",
    ] {
        assert!(
            !chinese.body.contains(english),
            "{english}: {}",
            chinese.body
        );
    }

    let english = l
        .post_lang("clerk-sm", "/web/record/bursary", &fields(&form), "en")
        .await;
    assert_eq!(english.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        english.body.contains(
            "command 4 of the group: fund SM-BURSARY has ¥10,000.00 available in its province tier; the payment needs ¥12,000.00"
        ),
        "{}",
        english.body
    );
    assert!(!english.body.contains("可用余额为"), "{}", english.body);

    // A page the role may not open says why in the session's language too.
    let refused = l.get(Some("auditor"), "/web/record/loan").await;
    assert!(
        refused
            .body
            .contains("用户 auditor 的角色是审计人员，审计人员不能登记还款"),
        "{}",
        refused.body
    );
    let refused = l.get_lang(Some("auditor"), "/web/record/loan", "en").await;
    assert!(
        refused
            .body
            .contains("user auditor is a auditor, and a auditor may not record repayments"),
        "{}",
        refused.body
    );

    // A typed amount that is not one is described in the session's language as well.
    let bad = bursary("web-test-bursary-lang-2", "12.345");
    let typed = l
        .post_lang("clerk-sm", "/web/record/bursary", &fields(&bad), "zh")
        .await;
    assert!(
        typed
            .body
            .contains("金额 12.345 超过两位小数（元以下只到分）；账本从不对金额四舍五入"),
        "{}",
        typed.body
    );

    // So is a typed id that cannot be one.
    let mut bad_id = bursary("web-test-bursary-lang-3", "100.00");
    bad_id.iter_mut().find(|(k, _)| *k == "student").unwrap().1 = "b 000001".to_string();
    let typed = l
        .post_lang("clerk-sm", "/web/record/bursary", &fields(&bad_id), "zh")
        .await;
    assert!(
        typed
            .body
            .contains("不是有效的受助对象编号：只能使用英文字母、数字和"),
        "{}",
        typed.body
    );
    assert!(!typed.body.contains("is not a valid"), "{}", typed.body);
    let typed = l
        .post_lang("clerk-sm", "/web/record/bursary", &fields(&bad_id), "en")
        .await;
    assert!(
        typed
            .body
            .contains("is not a valid beneficiary id: use only ASCII letters"),
        "{}",
        typed.body
    );
}

#[tokio::test]
async fn a_payment_above_the_threshold_waits_for_another_person_to_approve_it() {
    let l = ledger();
    let grant = [
        ("csrf", CSRF),
        ("idempotency_key", "web-test-grant-1"),
        ("fund", "SM-HP"),
        ("beneficiary", "b-000002"),
        ("modality", "Skills"),
        ("share_Province", "4000"),
        ("share_City", "9,000"),
        ("share_County", "0.8万"),
        ("effective_date", "2021-12-20"),
    ];
    let made = l.post("clerk-sm", "/web/record/grant", &grant).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert!(made.body.contains("待另一人审批"), "{}", made.body);
    let queue = l.get(Some("approver-sm"), "/web/requests").await;
    assert!(
        queue.body.contains("21,000.00"),
        "the reserved amount: {}",
        queue.body
    );
    let request = l
        .engine
        .read(|m| m.state().pending_requests().next().unwrap().0);
    let clerk_view = l.get(Some("clerk-sm"), "/web/requests").await;
    assert!(
        !clerk_view
            .body
            .contains(&format!("id=\"approve-{request}\"")),
        "a clerk cannot approve"
    );
    let before = l.available("SM-HP");
    let approved = l
        .post(
            "approver-sm",
            &format!("/web/requests/{request}"),
            &[
                ("csrf", CSRF),
                ("idempotency_key", "web-approve-1"),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(approved.status, StatusCode::SEE_OTHER, "{}", approved.body);
    assert_eq!(approved.location, "/web/requests?done=approved");
    // The reserved money was already out of "available"; approval pays it.
    assert_eq!(l.available("SM-HP"), before);
    assert!(l
        .engine
        .read(|m| m.state().pending_requests().next().is_none()));
    let trail = l
        .get(Some("auditor"), "/web/audit?key=beneficiary&value=b-000002")
        .await;
    assert!(
        trail.body.contains("GrantPaid") && trail.body.contains("approver-sm"),
        "{}",
        trail.body
    );
}

#[tokio::test]
async fn the_dashboard_shows_programmes_units_months_and_trends_with_downloads() {
    let l = ledger();
    let grant = [
        ("csrf", CSRF),
        ("idempotency_key", "web-test-grant-small"),
        ("fund", "SM-HP"),
        ("beneficiary", "b-000002"),
        ("modality", "Relief"),
        ("share_County", "1,234.56"),
        ("effective_date", "2021-11-05"),
    ];
    assert_eq!(
        l.post("clerk-sm", "/web/record/grant", &grant).await.status,
        StatusCode::CREATED
    );

    // The manager's own unit by default; figures in 元, or in 万元 when asked.
    let page = l.get(Some("manager-sm"), "/web/dashboard?year=2021").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for id in [
        "table-balances",
        "table-programmes",
        "table-units",
        "table-monthly",
        "table-trends",
    ] {
        assert!(page.body.contains(&format!("id=\"{id}\"")), "{id}");
    }
    assert!(page.body.contains("幸福工程"));
    assert!(page.body.contains("1,234.56"), "the grant in 元");
    assert!(page.body.contains("<svg"), "charts drawn on the server");
    // The happiness fund's ¥30,000 received less the grant, at the year's end.
    let balances = page.body.split("id=\"table-balances\"").nth(1).unwrap();
    let balances = &balances[..balances.find("</table>").unwrap()];
    assert!(balances.contains("28,765.44"), "{balances}");
    assert!(
        page.body.contains("简单赔付率 = 已决赔款 ÷ 税后保费收入"),
        "definitions as footnotes"
    );
    let wan = l
        .get(Some("manager-sm"), "/web/dashboard?year=2021&wan=1")
        .await;
    assert!(
        wan.body.contains("（万元）") && wan.body.contains("0.12"),
        "{}",
        wan.body
    );

    // Drill down from the province to the city.
    let province = l
        .get(Some("auditor"), "/web/dashboard?unit=FJ&year=2021")
        .await;
    assert!(
        province
            .body
            .contains("href=\"/web/dashboard?unit=FJ-SM&#38;year=2021\""),
        "{}",
        province.body
    );
    let city = l
        .get(Some("auditor"), "/web/dashboard?unit=FJ-SM&year=2021")
        .await;
    assert!(city.body.contains("id=\"up\""), "a way back up");

    // Downloads: CSV with a byte order mark and footnotes, XLSX a zip.
    let csv = l
        .get(
            Some("manager-sm"),
            "/web/dashboard/download/monthly.csv?year=2021",
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.starts_with('\u{feff}'));
    assert!(csv.body.contains("2021-11,1234.56,1"), "{}", csv.body);
    assert!(csv.body.contains("每月发放 = "), "{}", csv.body);
    let xlsx = l
        .send(
            Request::get("/web/dashboard/download/programmes.xlsx?year=2021")
                .header(header::COOKIE, format!("wl_token={}", token("manager-sm")))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(xlsx.status, StatusCode::OK);
    assert!(xlsx.body.starts_with("PK"), "an XLSX is a zip file");

    // The API's scope: a city manager cannot read the province.
    let refused = l
        .get(Some("manager-sm"), "/web/dashboard?unit=FJ&year=2021")
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        l.get(Some("manager-sm"), "/web/dashboard/download/nothing.csv")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_csv_import_runs_in_the_background_with_progress_and_a_rejects_file() {
    let l = ledger();
    let header = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/examples/payments.csv"
    ))
    .unwrap()
    .lines()
    .next()
    .unwrap()
    .to_string();
    let file = format!(
        "{header}\n\
         grant,2021-07-15,SM-HP,b-000002,,,,3000.00,,,,province:1000.00;city:2000.00,,,,第十七批,,skills,,,,,,,,,,技能培训\n\
         grant,2021-07-16,SM-HP,b-999999,,,,500.00,,,county,,,,,,,relief,,,,,,,,,,无此人\n"
    );
    let boundary = "XBOUNDARYX";
    let mut body = String::new();
    for (name, value) in [("csrf", CSRF), ("skip_bad_rows", "1")] {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"july.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
    ));
    let request = |body: String| {
        Request::post("/web/import")
            .header(
                header::COOKIE,
                format!("wl_csrf={CSRF}; wl_token={}", token("clerk-sm")),
            )
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap()
    };
    let before = l.available("SM-HP");
    let started = l.send(request(body.clone())).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let job = started.location.clone();
    assert!(job.starts_with("/web/import/"), "{job}");

    // The page reloads itself while the import runs, then shows what was done.
    let mut page = l.get(Some("clerk-sm"), &job).await;
    for _ in 0..200 {
        if !page.body.contains("http-equiv=\"refresh\"") {
            break;
        }
        assert!(page.body.contains("<progress"), "{}", page.body);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        page = l.get(Some("clerk-sm"), &job).await;
    }
    assert!(page.body.contains("导入完成"), "{}", page.body);
    let summary = page.body.split("id=\"import-summary\"").nth(1).unwrap();
    assert!(
        summary.contains("本次记入</th><td class=\"num\">1<"),
        "{summary}"
    );
    assert!(
        summary.contains("被拒绝的行</th><td class=\"num\">1<"),
        "{summary}"
    );
    assert_eq!(
        l.available("SM-HP").to_decimal(),
        before.to_decimal() - Amount::parse("3000").unwrap().to_decimal()
    );
    let rejects = l.get(Some("clerk-sm"), &format!("{job}/rejects.csv")).await;
    assert_eq!(rejects.status, StatusCode::OK);
    assert!(
        rejects.body.contains("b-999999") && rejects.body.contains("原因 reason"),
        "{}",
        rejects.body
    );
    assert!(!rejects.body.contains("b-000002"), "only the refused row");
    assert!(
        rejects
            .body
            .contains("没有受助对象 b-999999；请先登记该受助对象"),
        "the ledger's reason in the clerk's language: {}",
        rejects.body
    );

    // Another member of staff cannot see the job; importing the file again pays nothing twice.
    assert_eq!(
        l.get(Some("approver-sm"), &job).await.status,
        StatusCode::NOT_FOUND
    );
    let again = l.send(request(body)).await;
    let mut page = l.get(Some("clerk-sm"), &again.location).await;
    for _ in 0..200 {
        if !page.body.contains("http-equiv=\"refresh\"") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        page = l.get(Some("clerk-sm"), &again.location).await;
    }
    assert!(
        page.body
            .contains("以前已记入（未重复）</th><td class=\"num\">1<"),
        "{}",
        page.body
    );
    assert_eq!(
        l.available("SM-HP").to_decimal(),
        before.to_decimal() - Amount::parse("3000").unwrap().to_decimal()
    );
    // Only clerks import.
    assert_eq!(
        l.get(Some("auditor"), "/web/import").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_clerk_withdraws_their_own_request_with_a_reason() {
    let l = ledger();
    let grant = [
        ("csrf", CSRF),
        ("idempotency_key", "web-test-grant-withdraw"),
        ("fund", "SM-HP"),
        ("beneficiary", "b-000002"),
        ("modality", "Health"),
        ("share_Province", "9,000"),
        ("share_City", "9,000"),
        ("share_County", "9,000"),
        ("effective_date", "2021-12-20"),
    ];
    assert_eq!(
        l.post("clerk-sm", "/web/record/grant", &grant).await.status,
        StatusCode::CREATED
    );
    let request = l
        .engine
        .read(|m| m.state().pending_requests().next().unwrap().0);
    let queue = l.get(Some("clerk-sm"), "/web/requests").await;
    assert!(queue.body.contains("撤回"), "{}", queue.body);
    let path = format!("/web/requests/{request}");
    let withdrawn = l
        .post(
            "clerk-sm",
            &path,
            &[
                ("csrf", CSRF),
                ("idempotency_key", "web-withdraw-1"),
                ("decision", "reject"),
                ("reason", "金额有误，重新申请"),
            ],
        )
        .await;
    assert_eq!(
        withdrawn.status,
        StatusCode::SEE_OTHER,
        "{}",
        withdrawn.body
    );
    assert!(l
        .engine
        .read(|m| m.state().pending_requests().next().is_none()));
    // Approving what is no longer pending is refused with the rule's message.
    let late = l
        .post(
            "approver-sm",
            &path,
            &[
                ("csrf", CSRF),
                ("idempotency_key", "web-approve-late"),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(
        late.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        late.body
    );
    assert!(late.body.contains("unknown_request"), "{}", late.body);
}

#[tokio::test]
async fn appropriations_are_committed_then_received_and_more_than_committed_is_refused() {
    let l = ledger();
    let before = l.available("SM-HP");
    let form = |key: &'static str, amount: &'static str| {
        [
            ("csrf", CSRF),
            ("idempotency_key", key),
            ("fund", "SM-HP"),
            ("tier", "City"),
            ("amount", amount),
            ("reference", "明计协〔2021〕12号"),
            ("effective_date", "2021-12-01"),
        ]
    };
    let committed = l
        .post(
            "clerk-sm",
            "/web/record/commit",
            &form("web-commit-1", "5万"),
        )
        .await;
    assert_eq!(committed.status, StatusCode::CREATED, "{}", committed.body);
    assert_eq!(l.available("SM-HP"), before, "a commitment is not cash yet");
    let received = l
        .post(
            "clerk-sm",
            "/web/record/receive",
            &form("web-receive-1", "50,000.00"),
        )
        .await;
    assert_eq!(received.status, StatusCode::CREATED, "{}", received.body);
    assert_eq!(
        l.available("SM-HP").to_decimal(),
        before.to_decimal() + Amount::from_yuan(50_000).unwrap().to_decimal()
    );
    let too_much = l
        .post(
            "clerk-sm",
            "/web/record/receive",
            &form("web-receive-2", "1"),
        )
        .await;
    assert_eq!(
        too_much.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        too_much.body
    );
    assert!(
        too_much.body.contains("id=\"amount-error\""),
        "{}",
        too_much.body
    );
    assert!(
        too_much.body.contains("到位资金超过已下达金额"),
        "{}",
        too_much.body
    );
}

#[test]
fn the_pages_paths_are_apart_from_the_apis_routes() {
    for path in ledger_web::WEB_PATHS {
        assert!(
            !ledger_server::ROUTES.iter().any(|(_, api)| api == path),
            "{path} is an API route"
        );
        assert!(*path == "/" || path.starts_with("/web"), "{path}");
    }
}

#[tokio::test]
async fn every_form_renders_in_both_languages_with_labels_bound_to_inputs() {
    let l = ledger();
    for kind in ledger_web::forms::Kind::ALL {
        let path = format!("/web/record/{}", kind.slug());
        for (lang, word) in [("zh", "提交"), ("en", "Submit")] {
            let page = l.get_lang(Some("clerk-sm"), &path, lang).await;
            assert_eq!(page.status, StatusCode::OK, "{path} {lang}");
            assert!(page.body.contains(word), "{path} {lang}");
            // Every input, select and share field has a label naming its id.
            for id in page
                .body
                .split(" id=\"f-")
                .skip(1)
                .map(|rest| &rest[..rest.find('"').unwrap()])
            {
                assert!(
                    page.body.contains(&format!("<label for=\"f-{id}\"")),
                    "{path}: no label for f-{id}"
                );
            }
        }
    }
    let english = l
        .get_lang(Some("clerk-sm"), "/web/record/loan", "en")
        .await
        .body;
    assert!(english.contains("Principal (元)") && english.contains("Business date"));
    assert!(
        !english.contains("本金"),
        "no Chinese label left in English"
    );
}
