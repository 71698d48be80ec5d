//! The web workspace in a real browser: the real binary serves the demo ledger (its
//! smallest scale) on loopback, and headless Chromium, driven through chromedriver over
//! WebDriver (fantoccini), goes through the staff's tasks. A clerk signs in (with the
//! keyboard), records a bursary with three tier shares by double-clicking submit and
//! sees the fund's balance fall by their sum, once; sees a refused form keep what was
//! typed and show the rule's message at the field; records a grant above the fund's
//! approval threshold; and imports a CSV with a bad row skipped. An approver approves
//! the grant from the queue. An auditor finds it in the audit trail by command id and
//! by beneficiary, sees the chain verified with the server's head hash, and is refused
//! recording. A manager reads the province's dashboard and drills down to a city. The
//! pages switch to English, and a phone-width screen has no sideways scrolling.
//! Screenshots of the main pages (1280×800, and one 390×844) are written to
//! docs/screenshots/, where docs/USER-GUIDE.md shows them.
//!
//! It needs Debian's `chromium` and `chromium-driver` (and `fonts-wqy-microhei` for
//! Chinese glyphs in the screenshots); without chromedriver it fails and says so (it
//! never skips).

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use rust_decimal::Decimal;
use serde_json::{json, Value};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const DESKTOP: (u32, u32) = (1280, 800);
const PHONE: (u32, u32) = (390, 844);

/// chromedriver, killed when dropped, then its temporary directory removed: Chromium
/// leaves its scoped directories (`org.chromium.Chromium.*`) in `TMPDIR`, which is
/// this directory rather than the machine's /tmp.
struct Running {
    driver: Child,
    /// Removed after `drop` has killed the driver, as fields are.
    _tmp: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn find_chromedriver() -> PathBuf {
    let found = [PathBuf::from(CHROMEDRIVER)]
        .into_iter()
        .chain(
            std::env::var_os("PATH")
                .map(|p| {
                    std::env::split_paths(&p)
                        .map(|d| d.join("chromedriver"))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        )
        .find(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!(
            "chromedriver was not found ({CHROMEDRIVER} or on PATH): the browser tests need Debian's \
             packages `chromium chromium-driver` (and `fonts-wqy-microhei` for Chinese text): \
             apt-get install -y chromium chromium-driver fonts-wqy-microhei"
        )
    })
}

/// The demo ledger at its smallest scale in `data`, loaded by `welfare-ledger demo`
/// and stopped once it serves.
fn load_demo(data: &Path) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_welfare-ledger"))
        .arg("--data")
        .arg(data)
        .args(["demo", "--listen", "127.0.0.1:0", "--scale", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut served = false;
    let mut seen = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("the web workspace: http://") {
            served = true;
            break;
        }
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    assert!(served, "the demo did not start serving:\n{seen}");
}

/// A token for `user`, issued with the command line while the server is stopped.
fn issue_token(data: &Path, user: &str) -> String {
    let out = common::ok(common::ledger(
        data,
        &["--json", "--user", "admin", "token", "issue", user],
    ));
    // Two JSON lines: the command recorded, then the token.
    common::stdout(&out)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find_map(|v| v["token"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no token in {}", common::stdout(&out)))
}

fn start_chromedriver() -> (Running, String) {
    let driver = find_chromedriver();
    let port = free_port();
    let tmp = tempfile::tempdir().expect("a temporary directory for Chromium");
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while ureq::get(&format!("{url}/status")).call().is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not answer on {url}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (
        Running {
            driver: child,
            _tmp: tmp,
        },
        url,
    )
}

/// A Chromium session; with `phone`, emulating a phone's screen of that width and
/// height (Chromium's windows are never narrower than 500 pixels).
async fn browser(driver: &str, phone: Option<(u32, u32)>) -> Client {
    let mut options = json!({
        "binary": CHROMIUM,
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--hide-scrollbars", "--lang=zh-CN", "--force-device-scale-factor=1",
                 format!("--window-size={},{}", DESKTOP.0, DESKTOP.1)],
    });
    if let Some((width, height)) = phone {
        options["mobileEmulation"] = json!({
            "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "touch": true}
        });
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".to_string(), options);
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(driver)
        .await
        .expect("a Chromium session through chromedriver")
}

struct Web {
    c: Client,
    base: String,
    shots: PathBuf,
}

impl Web {
    async fn go(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    async fn text(&self, css: &str) -> String {
        let found = self
            .c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => element.text().await.unwrap(),
            Err(e) => {
                let url = self
                    .c
                    .current_url()
                    .await
                    .map(|u| u.to_string())
                    .unwrap_or_default();
                let page = self.source().await;
                let main = page.split("<main").nth(1).unwrap_or(&page);
                panic!("no {css} on {url} ({e}); the page shows:\n{main}")
            }
        }
    }

    /// Makes the page's viewport `width` × `height` (the window is larger by its frame).
    async fn viewport(&self, width: u32, height: u32) {
        self.c.set_window_size(width, height).await.unwrap();
        let frame = self
            .c
            .execute("return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];", vec![])
            .await
            .unwrap();
        let dw = u32::try_from(frame[0].as_u64().unwrap_or(0)).unwrap();
        let dh = u32::try_from(frame[1].as_u64().unwrap_or(0)).unwrap();
        self.c
            .set_window_size(width + dw, height + dh)
            .await
            .unwrap();
    }

    async fn fill(&self, css: &str, value: &str) {
        let field = self
            .c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"));
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    async fn choose(&self, css: &str, value: &str) {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("no option {value} in {css}: {e}"));
    }

    async fn click(&self, css: &str) {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn source(&self) -> String {
        self.c.source().await.unwrap()
    }

    async fn shot(&self, name: &str) {
        self.c
            .execute("window.scrollTo(0, 0);", vec![])
            .await
            .unwrap();
        self.save(name).await;
    }

    /// A screenshot with the element `css` scrolled to the top of the window.
    async fn shot_at(&self, name: &str, css: &str) {
        let script = format!("document.querySelector({css:?}).scrollIntoView();");
        self.c.execute(&script, vec![]).await.unwrap();
        self.save(name).await;
    }

    async fn save(&self, name: &str) {
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(self.shots.join(name), png).unwrap();
    }

    async fn sign_in(&self, token: &str) {
        self.go("/web/").await;
        assert!(self
            .c
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/web/sign-in"));
        self.fill("#token", token).await;
        // Keyboard use: Enter in the field submits the form.
        self.c
            .find(Locator::Css("#token"))
            .await
            .unwrap()
            .send_keys("\u{E007}")
            .await
            .unwrap();
        self.text("#whoami").await;
    }

    async fn sign_out(&self) {
        self.click("#sign-out").await;
        self.text("#token").await;
    }

    async fn available(&self, fund: &str) -> Decimal {
        self.go(&format!("/web/funds/{fund}")).await;
        yuan(&self.text("#figure-available").await)
    }
}

fn yuan(text: &str) -> Decimal {
    text.replace(',', "")
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a figure: {text}"))
}

/// The province, city and county allocate money to `fund` (committed and arrived,
/// today), through the JSON API as the clerk: the demo's funds are mostly spent.
fn allocate(api: &common::Api, token: &str, fund: &str, tiers: &[&str], amount: &str) {
    for tier in tiers {
        for (verb, command) in [
            ("commit", "CommitAppropriation"),
            ("receive", "ReceiveAppropriation"),
        ] {
            let body = json!({
                "command": {command: {"fund": fund, "tier": tier, "amount": amount, "reference": null}},
                "memo": "浏览器测试 拨款",
            });
            let answer = api.post(
                token,
                &format!("browser-{verb}-{fund}-{tier}"),
                "/api/v1/commands",
                &body,
            );
            assert_eq!(answer.status, 201, "{verb} {fund} {tier}: {}", answer.text);
        }
    }
}

/// The first beneficiary of a record in `fund`'s audit trail.
fn beneficiary_of(api: &common::Api, token: &str, fund: &str) -> String {
    let answer = api.get(token, &format!("/api/v1/audit?fund={fund}&limit=200"));
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| r["beneficiary"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no beneficiary in the trail of {fund}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_use_the_web_workspace_in_a_real_browser() {
    let started = Instant::now();
    let driver_path = find_chromedriver();
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: apt-get install -y chromium chromium-driver"
    );
    drop(driver_path);

    // The demo province, served by the real binary on loopback.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ledger");
    load_demo(&data);
    let clerk = issue_token(&data, "clerk-fj-sm");
    let approver = issue_token(&data, "approver-fj-sm");
    let auditor = issue_token(&data, "auditor-fj");
    let manager = issue_token(&data, "manager-fj");
    let key = dir.path().join("ledger.master-key");
    let server = common::serve_with(&data, &[("WELFARE_LEDGER_MASTER_KEY_FILE", &key)]);
    let api = common::Api {
        base: server.base.clone(),
    };
    // The academic year of the new bursary: this year (China Standard Time, roughly).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let china =
        chrono::DateTime::from_timestamp(i64::try_from(now.as_secs()).unwrap() + 8 * 3600, 0)
            .unwrap();
    let year = china.format("%Y").to_string();
    let today = china.format("%Y-%m-%d").to_string();
    let bursary_fund = "FJ-SM-2025-BURSARY";
    allocate(
        &api,
        &clerk,
        bursary_fund,
        &["Province", "City", "County"],
        "10000.00",
    );
    allocate(&api, &clerk, "FJ-SM-HAPPINESS", &["City"], "30000.00");
    let student = beneficiary_of(&api, &auditor, bursary_fund);
    let mother = beneficiary_of(&api, &auditor, "FJ-SM-HAPPINESS");

    let shots = common::repo().join("docs/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let (_driver, driver_url) = start_chromedriver();
    let web = Web {
        c: browser(&driver_url, None).await,
        base: server.base.clone(),
        shots,
    };
    web.viewport(DESKTOP.0, DESKTOP.1).await;

    // Sign-in page, in Chinese by default.
    web.go("/web/").await;
    assert!(web.source().await.contains("访问令牌"));
    web.shot("sign-in.png").await;

    // A clerk records a bursary with three tier shares and sees the fund's balance fall.
    web.sign_in(&clerk).await;
    assert_eq!(web.text("#whoami").await, "clerk-fj-sm");
    let before = web.available(bursary_fund).await;
    web.go("/web/record/bursary").await;
    web.choose("#f-fund", bursary_fund).await;
    web.fill("#f-award", "WEB-SM-B-0001").await;
    web.fill("#f-student", &student).await;
    web.fill("#f-academic_year", &year).await;
    web.fill("#f-share_Province", "2,000").await;
    web.fill("#f-share_City", "1500.50").await;
    web.fill("#f-share_County", "0.1万").await;
    web.fill("#f-memo", "金秋助学 浏览器测试").await;
    web.shot("clerk-bursary-form.png").await;
    // A double click on submit: two posts of the same form, which pay once.
    web.c
        .execute(
            "const b = document.getElementById('submit'); b.click(); b.click();",
            vec![],
        )
        .await
        .unwrap();
    assert!(web.text("#notice-1").await.contains("已写入账本"));
    let after_page = yuan(&web.text("#fund-available").await);
    web.shot("clerk-recorded.png").await;
    let paid: Decimal = "4500.50".parse().unwrap();
    assert_eq!(
        after_page,
        before - paid,
        "the result page shows the new balance"
    );
    assert_eq!(
        web.available(bursary_fund).await,
        before - paid,
        "the fund page agrees"
    );
    web.shot("fund.png").await;

    // A rejected form keeps what was typed and shows the rule's message at the field.
    web.go("/web/record/bursary").await;
    web.choose("#f-fund", bursary_fund).await;
    web.fill("#f-award", "WEB-SM-B-0002").await;
    web.fill("#f-student", &mother).await;
    web.fill("#f-academic_year", &year).await;
    web.fill("#f-share_Province", "9999万").await;
    web.click("#submit").await;
    let message = web.text("#shares-error").await;
    assert!(message.contains("资金不足"), "{message}");
    let kept = web
        .c
        .find(Locator::Css("#f-share_Province"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("9999万"));
    web.shot("clerk-rejected-form.png").await;
    assert_eq!(
        web.available(bursary_fund).await,
        before - paid,
        "nothing was paid"
    );

    // A grant above the fund's approval threshold waits for an approver.
    web.go("/web/record/grant").await;
    web.choose("#f-fund", "FJ-SM-HAPPINESS").await;
    web.fill("#f-beneficiary", &mother).await;
    web.choose("#f-modality", "Skills").await;
    web.fill("#f-share_City", "25,000").await;
    web.fill("#f-memo", "幸福工程 浏览器测试").await;
    web.click("#submit").await;
    let notice = web.text("#notice-2").await;
    assert!(
        notice.contains("待另一人审批"),
        "the payment waits for approval: {notice}"
    );
    let command_id = web.text("#command-ids").await;

    // A CSV import with one good row and one bad one, skipping the bad one.
    let header = std::fs::read_to_string(common::repo().join("docs/examples/payments.csv"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let csv = dir.path().join("payments-web.csv");
    std::fs::write(
        &csv,
        format!(
            "{header}\ncondolence,{today},,{mother},,,WEB-NO-SUCH-CAMPAIGN,500.00,,,city,,,,,,,,,,,,,,poor_household,cash,,春节慰问\n\
             grant,{today},FJ-SM-HAPPINESS,{mother},,,,800.00,,,city,,,,,,,relief,,,,,,,,,,浏览器导入\n"
        ),
    )
    .unwrap();
    web.go("/web/import").await;
    web.c
        .find(Locator::Css("#file"))
        .await
        .unwrap()
        .send_keys(csv.to_str().unwrap())
        .await
        .unwrap();
    web.click("#skip_bad_rows").await;
    web.click("#start-import").await;
    let started_import = Instant::now();
    while !web.text("#import-status").await.contains("导入完成") {
        assert!(
            started_import.elapsed() < Duration::from_secs(30),
            "the import did not finish"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let summary = web.text("#import-summary").await;
    assert!(
        summary.contains("本次记入 1") && summary.contains("被拒绝的行 1"),
        "{summary}"
    );
    assert!(web.text("#rejects").await.contains("rejects.csv"));
    web.shot("clerk-import.png").await;
    web.sign_out().await;

    // The approver sees it with its reserved amount, and approves it.
    web.sign_in(&approver).await;
    web.go("/web/requests").await;
    let rows = web
        .c
        .find_all(Locator::Css("tr[id^=request-]"))
        .await
        .unwrap();
    let mut request = None;
    for row in rows {
        let text = row.text().await.unwrap();
        if text.contains("clerk-fj-sm") && text.contains("25,000.00") && text.contains(&mother) {
            request = row.attr("id").await.unwrap();
        }
    }
    let request = request.expect("the grant is in the approver's queue");
    let number = request.trim_start_matches("request-").to_string();
    web.shot("approver-queue.png").await;
    web.click(&format!("#approve-{number}")).await;
    assert!(web.text("#flash").await.contains("已批准"));
    assert!(!web.source().await.contains(&format!("id=\"{request}\"")));
    web.sign_out().await;

    // The auditor finds it in the trail, sees the chain verified, and cannot record.
    web.sign_in(&auditor).await;
    web.go("/web/audit").await;
    web.choose("#key", "command_id").await;
    web.fill("#value", &command_id).await;
    web.click("#search").await;
    let trail = web.text("#audit-table").await;
    assert!(
        trail.contains("PaymentRequested") && trail.contains("clerk-fj-sm"),
        "{trail}"
    );
    web.go(&format!(
        "/web/audit?key=beneficiary&value={mother}&from={year}-01-01"
    ))
    .await;
    let trail = web.text("#audit-table").await;
    assert!(
        trail.contains("GrantPaid") && trail.contains("approver-fj-sm"),
        "{trail}"
    );
    web.shot("auditor-trail.png").await;
    web.go("/web/verify").await;
    assert!(web.text("#chain-status").await.contains("完整"));
    let head: Value = ureq::get(&format!("{}/health", server.base))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(
        web.text("#head-hash").await,
        head["head_hash"].as_str().unwrap()
    );
    web.shot("auditor-verify.png").await;
    web.go("/web/record/loan").await;
    assert!(web.text("#page-error").await.contains("not_permitted"));
    web.shot("auditor-refused.png").await;
    web.sign_out().await;

    // A manager reads the province's dashboard and drills down to a city.
    web.sign_in(&manager).await;
    web.go("/web/dashboard?unit=FJ&year=2024").await;
    assert!(web.text("#table-programmes").await.contains("幸福工程"));
    assert!(
        web.source().await.contains("<svg"),
        "charts drawn on the server"
    );
    web.shot("manager-dashboard.png").await;
    web.shot_at("manager-charts.png", "#h-monthly").await;
    web.click("#table-units a[href*='unit=FJ-SM&']").await;
    assert!(web.text("h1").await.contains("FJ-SM"));
    assert!(
        web.text("#table-units").await.contains("FJ-SM-SX"),
        "the counties of Sanming"
    );

    // English, and a phone-width screen.
    web.go("/web/funds/FJ-SM-HAPPINESS").await;
    web.click("#lang-switch").await;
    assert!(web.text("h1").await.contains("Fund"));
    web.shot("fund-en.png").await;
    web.click("#lang-switch").await;
    web.c.clone().close().await.unwrap();

    // A clerk's form on a phone-width screen: one column, every field reachable.
    let phone = Web {
        c: browser(&driver_url, Some(PHONE)).await,
        base: server.base.clone(),
        shots: web.shots.clone(),
    };
    phone.sign_in(&clerk).await;
    phone.go("/web/record/bursary").await;
    let width: Value = phone
        .c
        .execute("return document.documentElement.scrollWidth;", vec![])
        .await
        .unwrap();
    assert!(
        width.as_u64().unwrap() <= u64::from(PHONE.0),
        "no sideways scrolling: {width}"
    );
    phone.shot("phone-bursary-form.png").await;
    phone.c.clone().close().await.unwrap();
    drop(server);
    eprintln!(
        "the browser test took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
