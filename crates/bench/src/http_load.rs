//! The `http-load` suite: the real `welfare-ledger serve` on loopback in a fresh data
//! directory, driven by many keep-alive HTTP/1.1 connections, one request in flight on
//! each (a closed loop). Three phases of equal length: writes alone (clerks paying
//! grants, each with its own Idempotency-Key), reads alone (balances, statement pages,
//! audit pages and the fund list), then both at once, which is the figure that matters:
//! how reads fare while the writes keep the disk busy. Every request's latency, from
//! sending the request to the last byte of the answer, goes into an HDR histogram per
//! phase and kind; every answer that is not the expected status is counted by status.
//! At the end the ledger must verify (over HTTP, and offline after a SIGTERM) and hold
//! exactly the events that were acknowledged, and the funds must have paid out exactly
//! ¥1.00 per acknowledged grant.
//!
//! Needs the release binary beside `ledger-bench` (`cargo build --release --bin
//! welfare-ledger`) or `--binary PATH`.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use crate::{fresh_dir, per_second, Args};

/// Funds the writers spread their grants over, and the readers read.
const FUNDS: usize = 16;
/// Beneficiaries the writers pay, in turn.
const BENEFICIARIES: usize = 64;
/// Each fund's county cash: far more than a run pays out at ¥1.00 a grant.
const FUND_CASH: &str = "10000000.00";
/// What every grant pays, in fen.
const GRANT_FEN: i64 = 100;
/// Largest latency the histograms hold (longer ones are recorded as this): 60 s in µs.
const LATENCY_MAX_MICROS: u64 = 60_000_000;
/// Lines or records per statement or audit page the readers ask for.
const READ_PAGE_ITEMS: u32 = 100;

/// What a request asks for; each has its own histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// `POST /api/v1/commands` with a `PayGrant` of ¥1.00.
    Grant,
    /// `GET /api/v1/funds/{fund}/balance`: waits for the projections to reach the head.
    Balance,
    /// `GET /api/v1/funds/{fund}/statement?limit=100`: the same wait, then a walk of
    /// the fund's movements.
    Statement,
    /// `GET /api/v1/audit?fund={fund}&limit=100`: the same wait, then a page.
    Audit,
    /// `GET /api/v1/funds`: answered from the writer's committed model, without waiting
    /// for the projections (a control: it shows what the wait costs the others).
    Funds,
}

impl Kind {
    const READS: [Kind; 4] = [Kind::Balance, Kind::Statement, Kind::Audit, Kind::Funds];

    fn label(self) -> &'static str {
        match self {
            Kind::Grant => "write: POST PayGrant",
            Kind::Balance => "read: fund balance",
            Kind::Statement => "read: statement page (100 lines)",
            Kind::Audit => "read: audit page by fund (100)",
            Kind::Funds => "read: fund list (no projection wait)",
        }
    }
}

/// One kind's measurements in one phase.
struct Tally {
    latency: Histogram<u64>,
    /// Answers with the expected status (201 for writes, 200 for reads).
    ok: u64,
    /// Other answers, by status.
    refused: BTreeMap<u16, u64>,
    /// The first body of each unexpected status, to show what went wrong.
    examples: BTreeMap<u16, String>,
    /// Requests that got no answer (the connection failed; it is opened again).
    transport_errors: u64,
    /// Events the acknowledged writes appended (their `count`s).
    events_acknowledged: u64,
}

impl Tally {
    fn new() -> Self {
        Tally {
            latency: Histogram::new_with_bounds(1, LATENCY_MAX_MICROS, 3)
                .expect("valid histogram bounds"),
            ok: 0,
            refused: BTreeMap::new(),
            examples: BTreeMap::new(),
            transport_errors: 0,
            events_acknowledged: 0,
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latency
            .add(&other.latency)
            .expect("histograms of the same bounds");
        self.ok += other.ok;
        for (status, n) in other.refused {
            *self.refused.entry(status).or_default() += n;
        }
        for (status, body) in other.examples {
            self.examples.entry(status).or_insert(body);
        }
        self.transport_errors += other.transport_errors;
        self.events_acknowledged += other.events_acknowledged;
    }

    fn requests(&self) -> u64 {
        self.ok + self.refused.values().sum::<u64>()
    }
}

type Tallies = BTreeMap<Kind, Tally>;

fn merge_into(all: &mut Tallies, part: Tallies) {
    for (kind, tally) in part {
        all.entry(kind).or_insert_with(Tally::new).merge(tally);
    }
}

/// What the load needs to know about the ledger it set up.
struct Target {
    address: SocketAddr,
    clerk: String,
    auditor: String,
    funds: Vec<String>,
}

/// One phase's results.
struct Phase {
    name: &'static str,
    writers: usize,
    readers: usize,
    elapsed: Duration,
    tallies: Tallies,
    load_before: String,
    load_after: String,
    group_commits: u64,
    /// Time the flusher spent making groups durable (journal write and fdatasync).
    flushing: Duration,
    server_cpu: Duration,
    client_cpu: Duration,
    /// The server's threads: CPU and preemptions by thread name over the phase.
    threads: BTreeMap<String, ThreadUse>,
    /// The most threads the server had at once during the phase.
    threads_max: u64,
}

/// What a group of the server's threads (same name) did over a phase.
#[derive(Debug, Default, Clone, Copy)]
struct ThreadUse {
    threads: u64,
    cpu_ticks: u64,
    /// Switches away while still runnable: the thread wanted the CPU and lost it.
    preempted: u64,
    /// Switches away to wait (a lock, a condition, IO).
    waited: u64,
}

/// Per thread id: name, CPU ticks, voluntary and involuntary context switches.
type ThreadSample = BTreeMap<u64, (String, u64, u64, u64)>;

/// Reads every thread of process `pid` from /proc.
fn sample_threads(pid: u32) -> ThreadSample {
    let mut sample = ThreadSample::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return sample;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let (Ok(stat), Ok(status)) = (
            std::fs::read_to_string(task.path().join("stat")),
            std::fs::read_to_string(task.path().join("status")),
        ) else {
            continue;
        };
        let Some((name, rest)) = stat.split_once('(').and_then(|(_, r)| r.rsplit_once(')')) else {
            continue;
        };
        let fields: Vec<u64> = rest
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
        let switches = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        sample.insert(
            tid,
            (
                name.to_string(),
                ticks,
                switches("voluntary_ctxt_switches:"),
                switches("nonvoluntary_ctxt_switches:"),
            ),
        );
    }
    sample
}

/// The use of each thread name between two samples (threads that exited in between are
/// missing: the blocking pool keeps idle threads for 10 s, longer than most gaps).
fn thread_use(before: &ThreadSample, after: &ThreadSample) -> BTreeMap<String, ThreadUse> {
    let mut by_name: BTreeMap<String, ThreadUse> = BTreeMap::new();
    for (tid, (name, ticks, voluntary, involuntary)) in after {
        let (t0, v0, i0) = before
            .get(tid)
            .map_or((0, 0, 0), |(_, t, v, i)| (*t, *v, *i));
        let entry = by_name.entry(name.clone()).or_default();
        entry.threads += 1;
        entry.cpu_ticks += ticks.saturating_sub(t0);
        entry.waited += voluntary.saturating_sub(v0);
        entry.preempted += involuntary.saturating_sub(i0);
    }
    by_name
}

/// CPU time this process has used, from /proc.
fn own_cpu() -> Duration {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let fields: Vec<u64> = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .map(|f| f.parse().unwrap_or(0))
                .collect();
            Some(fields.get(11)? + fields.get(12)?)
        })
        .map_or(Duration::ZERO, |ticks| {
            Duration::from_millis(ticks * 1000 / clock_ticks_per_second())
        })
}

pub(crate) fn suite(args: &Args) -> anyhow::Result<String> {
    let binary = match &args.binary {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("the bench binary has no directory")?
            .join("welfare-ledger"),
    };
    ensure!(
        binary.exists(),
        "{} does not exist: build it with `cargo build --release --bin welfare-ledger` (same CARGO_TARGET_DIR), or give --binary",
        binary.display()
    );
    let phase_length = Duration::from_secs(args.phase_seconds);
    let data = fresh_dir(&args.dir, "http-load")?.join("ledger");

    let admin = init(&binary, &data)?;
    let mut server = Server::start(&binary, &data)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .enable_all()
        .build()?;
    let target = runtime.block_on(set_up(server.address, &admin))?;
    let head_after_setup = runtime.block_on(health(server.address))?["events"]
        .as_u64()
        .context("health has no event count")?;
    println!(
        "set up: {FUNDS} funds, {BENEFICIARIES} beneficiaries, {head_after_setup} events; server {}",
        server.address
    );

    let target = Arc::new(target);
    let plan = [
        ("writes alone", args.write_connections, 0),
        ("reads alone", 0, args.read_connections),
        (
            "writes and reads",
            args.write_connections,
            args.read_connections,
        ),
    ];
    let mut phases = Vec::new();
    for (number, (name, writers, readers)) in plan.into_iter().enumerate() {
        println!(
            "phase {}: {name} ({writers} writing, {readers} reading connections, {phase_length:?})",
            number + 1
        );
        let phase = runtime.block_on(run_phase(
            &target,
            &server,
            u8::try_from(number).unwrap_or(u8::MAX),
            name,
            writers,
            readers,
            phase_length,
        ))?;
        phases.push(phase);
    }

    let acknowledged: u64 = phases
        .iter()
        .filter_map(|p| p.tallies.get(&Kind::Grant))
        .map(|t| t.events_acknowledged)
        .sum();
    let grants_acknowledged: u64 = phases
        .iter()
        .filter_map(|p| p.tallies.get(&Kind::Grant))
        .map(|t| t.ok)
        .sum();
    let checks = runtime.block_on(check_ledger(
        &target,
        head_after_setup,
        acknowledged,
        grants_acknowledged,
    ))?;
    server.stop()?;
    let offline = verify_offline(&binary, &data, head_after_setup + acknowledged)?;

    let mut out = String::new();
    out.push_str(&report(&phases, phase_length));
    out.push('\n');
    out.push_str(&checks);
    out.push_str(&offline);
    if !args.keep_data {
        std::fs::remove_dir_all(data.parent().expect("a parent"))?;
    }
    Ok(out)
}

fn init(binary: &Path, data: &Path) -> anyhow::Result<String> {
    let out = Process::new(binary)
        .arg("--data")
        .arg(data)
        .args(["--json", "init"])
        .output()?;
    ensure!(
        out.status.success(),
        "init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    Ok(v["admin_token"]
        .as_str()
        .context("init printed no admin_token")?
        .to_string())
}

/// `welfare-ledger serve` on a loopback port the system picks.
struct Server {
    child: Child,
    address: SocketAddr,
}

impl Server {
    fn start(binary: &Path, data: &Path) -> anyhow::Result<Server> {
        let mut child = Process::new(binary)
            .arg("--data")
            .arg(data)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().context("no stdout")?).read_line(&mut line)?;
        let address = line
            .trim()
            .rsplit(' ')
            .next()
            .and_then(|a| a.strip_prefix("http://"))
            .with_context(|| format!("no address in {line:?}"))?
            .parse()?;
        Ok(Server { child, address })
    }

    /// CPU time the server process has used (all its threads), from /proc.
    fn cpu(&self) -> anyhow::Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .context("odd /proc stat")?
            .1
            .split_whitespace()
            .collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
        Ok(Duration::from_millis(
            ticks * 1000 / clock_ticks_per_second(),
        ))
    }

    /// SIGTERM, then waits: the server drains and makes everything durable.
    fn stop(&mut self) -> anyhow::Result<()> {
        let status = Process::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        ensure!(status.success(), "kill -TERM failed");
        let status = self.child.wait()?;
        ensure!(status.success(), "the server exited with {status}");
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn clock_ticks_per_second() -> u64 {
    Process::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// One keep-alive HTTP/1.1 connection.
async fn connect(address: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

fn request(
    method: Method,
    address: SocketAddr,
    path: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Option<Vec<u8>>,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, address.to_string());
    if let Some(token) = token {
        builder = builder.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(key) = key {
        builder = builder.header("idempotency-key", key);
    }
    let body = match body {
        Some(bytes) => {
            builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
            Bytes::from(bytes)
        }
        None => Bytes::new(),
    };
    builder.body(Full::new(body)).expect("a valid request")
}

/// Sends one request and reads the whole answer.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// A one-off request on a fresh connection (setup and checks).
async fn call(
    address: SocketAddr,
    method: Method,
    path: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: Option<Value>,
) -> anyhow::Result<(StatusCode, Value)> {
    let mut sender = connect(address).await?;
    let body = body.map(|b| b.to_string().into_bytes());
    let (status, bytes) = exchange(
        &mut sender,
        request(method, address, path, token, key, body),
    )
    .await?;
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok((status, value))
}

async fn health(address: SocketAddr) -> anyhow::Result<Value> {
    Ok(call(address, Method::GET, "/health", None, None, None)
        .await?
        .1)
}

/// Posts a command that must be accepted.
async fn record(address: SocketAddr, token: &str, key: &str, command: Value) -> anyhow::Result<()> {
    let (status, body) = call(
        address,
        Method::POST,
        "/api/v1/commands",
        Some(token),
        Some(key),
        Some(json!({"command": command, "effective_date": "2021-01-04", "memo": "load setup"})),
    )
    .await?;
    ensure!(status == StatusCode::CREATED, "{key}: {status} {body}");
    Ok(())
}

async fn issue_token(address: SocketAddr, admin: &str, user: &str) -> anyhow::Result<String> {
    let (status, body) = call(
        address,
        Method::POST,
        &format!("/api/v1/users/{user}/tokens"),
        Some(admin),
        Some(&format!("token-{user}")),
        None,
    )
    .await?;
    ensure!(
        status == StatusCode::CREATED,
        "token for {user}: {status} {body}"
    );
    Ok(body["token"].as_str().context("no token")?.to_string())
}

/// The ledger of the load, over the API as an admin and a clerk would set it up: a
/// province, a city and a county; `FUNDS` Happiness Project funds in the county with
/// county cash and no approval threshold; `BENEFICIARIES` people; a county clerk and an
/// auditor with tokens.
async fn set_up(address: SocketAddr, admin: &str) -> anyhow::Result<Target> {
    let units = [
        ("FJ", "福建省", "Province", None),
        ("FJ-SM", "三明市", "City", Some("FJ")),
        ("FJ-SM-SX", "沙县区", "County", Some("FJ-SM")),
    ];
    for (unit, name, level, parent) in units {
        record(
            address,
            admin,
            &format!("unit-{unit}"),
            json!({"RegisterUnit": {"unit": unit, "name": name, "level": level, "parent": parent}}),
        )
        .await?;
    }
    let funds: Vec<String> = (0..FUNDS).map(|i| format!("HP-LOAD-{i:02}")).collect();
    for fund in &funds {
        record(
            address,
            admin,
            &format!("open-{fund}"),
            json!({"OpenFund": {"fund": fund,
            "unit": "FJ-SM-SX", "programme": "HappinessProject", "name": "幸福工程（负载测试）",
            "fiscal_year": 2021, "approval_threshold": null, "insurance_model": null}}),
        )
        .await?;
    }
    for (user, role, scope) in [
        ("clerk-load", "clerk", Some("FJ-SM-SX")),
        ("auditor-load", "auditor", None),
    ] {
        record(
            address,
            admin,
            &format!("user-{user}"),
            json!({"RegisterUser": {"user": user, "role": role, "scope": scope}}),
        )
        .await?;
    }
    let clerk = issue_token(address, admin, "clerk-load").await?;
    let auditor = issue_token(address, admin, "auditor-load").await?;
    for fund in &funds {
        for verb in ["CommitAppropriation", "ReceiveAppropriation"] {
            record(
                address,
                &clerk,
                &format!("{verb}-{fund}"),
                json!({verb: {"fund": fund,
                "tier": "County", "amount": FUND_CASH, "reference": null}}),
            )
            .await?;
        }
    }
    for b in 0..BENEFICIARIES {
        record(
            address,
            &clerk,
            &format!("beneficiary-{b}"),
            json!({"RegisterBeneficiary": {
            "beneficiary": beneficiary(b), "unit": "FJ-SM-SX", "kind": "Person",
            "categories": ["PoorHousehold"]}}),
        )
        .await?;
    }
    Ok(Target {
        address,
        clerk,
        auditor,
        funds,
    })
}

fn beneficiary(i: usize) -> String {
    format!("b-{i:06}")
}

/// Reads a counter or a histogram's sum from the server's `/metrics`.
async fn metric(address: SocketAddr, name: &str) -> anyhow::Result<f64> {
    let (_, text) = call(address, Method::GET, "/metrics", None, None, None).await?;
    let text = text.as_str().context("metrics are text")?;
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .with_context(|| format!("no {name} in /metrics"))?;
    Ok(value.trim().parse()?)
}

/// The group-commit figures of `/metrics`: commits, and seconds spent making groups
/// durable (journal write and `fdatasync`).
async fn commit_metrics(address: SocketAddr) -> anyhow::Result<(f64, f64)> {
    Ok((
        metric(address, "welfare_ledger_group_commits_total").await?,
        metric(address, "welfare_ledger_group_commit_seconds_sum").await?,
    ))
}

async fn run_phase(
    target: &Arc<Target>,
    server: &Server,
    number: u8,
    name: &'static str,
    writers: usize,
    readers: usize,
    length: Duration,
) -> anyhow::Result<Phase> {
    let load_before = load_average();
    let (commits_before, flushing_before) = commit_metrics(target.address).await?;
    let cpu_before = server.cpu()?;
    let client_cpu_before = own_cpu();
    let threads_before = sample_threads(server.child.id());
    let start = Instant::now();
    let deadline = start + length;
    let pid = server.child.id();
    let watcher = tokio::spawn(async move {
        let mut most = 0u64;
        while Instant::now() < deadline {
            let count = std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("Threads:"))
                        .and_then(|v| v.trim().parse().ok())
                })
                .unwrap_or(0);
            most = most.max(count);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        most
    });
    let mut tasks = tokio::task::JoinSet::new();
    for connection in 0..writers {
        let target = Arc::clone(target);
        tasks.spawn(async move { write_loop(target, number, connection, deadline).await });
    }
    for connection in 0..readers {
        let target = Arc::clone(target);
        tasks.spawn(async move { read_loop(target, connection, deadline).await });
    }
    let mut tallies = Tallies::new();
    while let Some(result) = tasks.join_next().await {
        merge_into(&mut tallies, result??);
    }
    let elapsed = start.elapsed();
    let threads = thread_use(&threads_before, &sample_threads(server.child.id()));
    let client_cpu = own_cpu().saturating_sub(client_cpu_before);
    let threads_max = watcher.await?;
    let server_cpu = server.cpu()?.saturating_sub(cpu_before);
    let (commits_after, flushing_after) = commit_metrics(target.address).await?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let group_commits = (commits_after - commits_before).round() as u64;
    let flushing = Duration::from_secs_f64((flushing_after - flushing_before).max(0.0));
    Ok(Phase {
        name,
        writers,
        readers,
        elapsed,
        tallies,
        load_before,
        load_after: load_average(),
        group_commits,
        flushing,
        server_cpu,
        client_cpu,
        threads,
        threads_max,
    })
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Sends `request` on `sender` (opening a new connection if the last one failed) and
/// tallies the answer; returns the body of an expected answer.
async fn measured(
    target: &Target,
    sender: &mut Option<SendRequest<Full<Bytes>>>,
    tally: &mut Tally,
    expected: StatusCode,
    request: Request<Full<Bytes>>,
) -> Option<Bytes> {
    if sender.is_none() {
        *sender = connect(target.address).await.ok();
    }
    let Some(connection) = sender.as_mut() else {
        tally.transport_errors += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
        return None;
    };
    let started = Instant::now();
    match exchange(connection, request).await {
        Ok((status, body)) => {
            tally.latency.saturating_record(micros(started.elapsed()));
            if status == expected {
                tally.ok += 1;
                Some(body)
            } else {
                *tally.refused.entry(status.as_u16()).or_default() += 1;
                tally
                    .examples
                    .entry(status.as_u16())
                    .or_insert_with(|| String::from_utf8_lossy(&body).into_owned());
                None
            }
        }
        Err(_) => {
            tally.transport_errors += 1;
            *sender = None;
            None
        }
    }
}

/// One writing connection: ¥1.00 grants, each with a key of its own, round the funds
/// and beneficiaries.
async fn write_loop(
    target: Arc<Target>,
    phase: u8,
    connection: usize,
    deadline: Instant,
) -> anyhow::Result<Tallies> {
    let mut tally = Tally::new();
    let mut sender = None;
    let mut n = 0usize;
    while Instant::now() < deadline {
        let fund = &target.funds[(connection + n) % FUNDS];
        let who = beneficiary((connection + n) % BENEFICIARIES);
        let body = json!({"command": {"PayGrant": {"fund": fund, "beneficiary": who,
            "modality": "Relief", "batch": null, "amount": "1.00",
            "shares": [{"tier": "County", "amount": "1.00"}]}}, "memo": "负载测试"});
        let key = format!("load-{phase}-{connection}-{n}");
        let request = request(
            Method::POST,
            target.address,
            "/api/v1/commands",
            Some(&target.clerk),
            Some(&key),
            Some(body.to_string().into_bytes()),
        );
        if let Some(body) = measured(
            &target,
            &mut sender,
            &mut tally,
            StatusCode::CREATED,
            request,
        )
        .await
        {
            let answer: Value = serde_json::from_slice(&body)?;
            tally.events_acknowledged += answer["count"].as_u64().context("no count")?;
        }
        n += 1;
    }
    Ok(BTreeMap::from([(Kind::Grant, tally)]))
}

/// One reading connection: the read kinds in turn, round the funds.
async fn read_loop(
    target: Arc<Target>,
    connection: usize,
    deadline: Instant,
) -> anyhow::Result<Tallies> {
    let mut tallies: Tallies = Kind::READS.iter().map(|k| (*k, Tally::new())).collect();
    let mut sender = None;
    let mut n = connection;
    while Instant::now() < deadline {
        let kind = Kind::READS[n % Kind::READS.len()];
        let fund = &target.funds[(n / Kind::READS.len()) % FUNDS];
        let path = match kind {
            Kind::Balance => format!("/api/v1/funds/{fund}/balance"),
            Kind::Statement => {
                format!("/api/v1/funds/{fund}/statement?limit={READ_PAGE_ITEMS}")
            }
            Kind::Audit => format!("/api/v1/audit?fund={fund}&limit={READ_PAGE_ITEMS}"),
            Kind::Funds | Kind::Grant => "/api/v1/funds".to_string(),
        };
        let request = request(
            Method::GET,
            target.address,
            &path,
            Some(&target.auditor),
            None,
            None,
        );
        let tally = tallies.get_mut(&kind).expect("every read kind");
        measured(&target, &mut sender, tally, StatusCode::OK, request).await;
        n += 1;
    }
    Ok(tallies)
}

/// Money as fen, from the API's two-decimal strings.
fn fen(text: &str) -> anyhow::Result<i64> {
    let (yuan, cents) = text.split_once('.').context("no decimal point")?;
    ensure!(cents.len() == 2, "not two decimals: {text}");
    Ok(yuan.parse::<i64>()? * 100 + cents.parse::<i64>()?)
}

/// After the load: the chain verifies over HTTP, the log holds exactly the setup and
/// the acknowledged events, and the funds paid out exactly ¥1.00 per acknowledged grant.
async fn check_ledger(
    target: &Target,
    head_after_setup: u64,
    acknowledged: u64,
    grants: u64,
) -> anyhow::Result<String> {
    let (status, verify) = call(
        target.address,
        Method::GET,
        "/api/v1/verify",
        Some(&target.auditor),
        None,
        None,
    )
    .await?;
    ensure!(status == StatusCode::OK, "verify: {status} {verify}");
    ensure!(
        verify["intact"] == true,
        "the chain does not verify: {verify}"
    );
    let head = verify["head_position"].as_u64().context("no head")?;
    let expected = head_after_setup + acknowledged;
    ensure!(
        head == expected,
        "the log holds {head} events; the setup's {head_after_setup} and the {acknowledged} acknowledged make {expected}"
    );
    let mut disbursed = 0i64;
    for fund in &target.funds {
        let (status, balance) = call(
            target.address,
            Method::GET,
            &format!("/api/v1/funds/{fund}/balance"),
            Some(&target.auditor),
            None,
            None,
        )
        .await?;
        ensure!(status == StatusCode::OK, "{fund}: {status} {balance}");
        disbursed += fen(balance["figures"]["disbursed"]
            .as_str()
            .context("no disbursed")?)?;
    }
    let paid = i64::try_from(grants)? * GRANT_FEN;
    ensure!(
        disbursed == paid,
        "the funds disbursed {disbursed} fen; {grants} acknowledged grants of ¥1.00 make {paid}"
    );
    Ok(format!(
        "- `GET /api/v1/verify`: intact, {} events checked; the log holds {head} events = {head_after_setup} of setup + {acknowledged} acknowledged writes (none lost, none extra)\n- the {FUNDS} funds disbursed ¥{}.{:02} in all = {grants} acknowledged grants × ¥1.00\n",
        verify["events_checked"], disbursed / 100, disbursed % 100
    ))
}

/// After SIGTERM: `welfare-ledger verify` recomputes the chain from the files.
fn verify_offline(binary: &Path, data: &Path, expected: u64) -> anyhow::Result<String> {
    let out = Process::new(binary)
        .arg("--data")
        .arg(data)
        .args(["--json", "verify"])
        .output()?;
    ensure!(
        out.status.success(),
        "offline verify failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout)?;
    let events = report["events"].as_u64();
    if report["intact"] != true || events != Some(expected) {
        bail!("offline verify found {events:?} events, expected {expected}: {report}");
    }
    Ok(format!(
        "- after SIGTERM, `welfare-ledger verify` (offline): intact, {expected} events\n"
    ))
}

fn millis(micros: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let ms = micros as f64 / 1000.0;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

fn errors(tally: &Tally) -> String {
    let mut parts: Vec<String> = tally
        .refused
        .iter()
        .map(|(status, n)| format!("{n} × {status}"))
        .collect();
    if tally.transport_errors > 0 {
        parts.push(format!("{} × no answer", tally.transport_errors));
    }
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join(", ")
    }
}

/// The markdown table of every phase and kind, and the conditions.
fn report(phases: &[Phase], length: Duration) -> String {
    let mut out = String::from(
        "| phase | request | connections | requests | requests/s | p50 ms | p99 ms | p99.9 ms | max ms | errors |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for phase in phases {
        for (kind, tally) in &phase.tallies {
            let connections = if *kind == Kind::Grant {
                phase.writers.to_string()
            } else {
                format!("{} (all reads)", phase.readers)
            };
            let h = &tally.latency;
            out.push_str(&format!(
                "| {} | {} | {connections} | {} | {:.0} | {} | {} | {} | {} | {} |\n",
                phase.name,
                kind.label(),
                tally.requests(),
                per_second(tally.requests(), phase.elapsed),
                millis(h.value_at_quantile(0.50)),
                millis(h.value_at_quantile(0.99)),
                millis(h.value_at_quantile(0.999)),
                millis(h.max()),
                errors(tally),
            ));
        }
    }
    out.push('\n');
    for phase in phases {
        let all: u64 = phase.tallies.values().map(Tally::requests).sum();
        #[allow(clippy::cast_precision_loss)]
        let per_commit = phase
            .tallies
            .get(&Kind::Grant)
            .map(|t| t.ok as f64 / phase.group_commits.max(1) as f64);
        let core_seconds = phase.elapsed.as_secs_f64() * cores();
        out.push_str(&format!(
            "- {}: {:.1} s, {all} requests ({:.0}/s); CPU of the server {:.1} s, of the load generator {:.1} s, of the {:.1} core-seconds; {} group commits ({:.0}/s{}), making groups durable (journal write and fdatasync) {:.0}% of the time; load average {} before, {} after\n",
            phase.name,
            phase.elapsed.as_secs_f64(),
            per_second(all, phase.elapsed),
            phase.server_cpu.as_secs_f64(),
            phase.client_cpu.as_secs_f64(),
            core_seconds,
            phase.group_commits,
            per_second(phase.group_commits, phase.elapsed),
            per_commit.map_or(String::new(), |c| format!(", {c:.1} grants each")),
            100.0 * phase.flushing.as_secs_f64() / phase.elapsed.as_secs_f64(),
            phase.load_before,
            phase.load_after,
        ));
        let ticks = clock_ticks_per_second();
        let threads: Vec<String> = phase
            .threads
            .iter()
            .filter(|(_, u)| u.cpu_ticks > 0)
            .map(|(name, u)| {
                #[allow(clippy::cast_precision_loss)]
                let seconds = u.cpu_ticks as f64 / ticks as f64;
                format!(
                    "{name} ×{}: {seconds:.1} s CPU, preempted {} times, waited {} times",
                    u.threads, u.preempted, u.waited
                )
            })
            .collect();
        out.push_str(&format!(
            "  - server threads (at most {} at once): {}\n",
            phase.threads_max,
            threads.join("; ")
        ));
        for (kind, tally) in &phase.tallies {
            for (status, body) in &tally.examples {
                out.push_str(&format!(
                    "  - {}: first {status} answer: {body}\n",
                    kind.label()
                ));
            }
        }
    }
    out.push_str(&format!(
        "- each phase {length:?}; closed loop: every connection sends its next request when the answer to the last one has arrived\n"
    ));
    out
}

#[allow(clippy::cast_precision_loss)]
fn cores() -> f64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
}
