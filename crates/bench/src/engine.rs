//! The engine suite: commands decided and made durable through the one writer with
//! many concurrent submitters, rebuilding the model from the log, reopening with and
//! without a snapshot, and fund balance query latency.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use ledger_domain::{
    Amount, BeneficiaryId, BeneficiaryKind, Command, FundId, FundingTier, GrantModality,
    GrantPayment, Programme, TierSplit, UnitCode, UnitLevel, UserId,
};
use ledger_engine::{Engine, EngineOptions, GroupCommitted, GroupObserver, Submission};
use ledger_store::{HashAlgorithm, Log, SledBackend, SystemClock};

use crate::{fresh_dir, per_second, run_clients, Args, Latencies, Row};

const FUNDS: usize = 100;
const BENEFICIARIES: usize = 10_000;

fn submission(id: String, command: Command) -> Submission {
    Submission {
        command_id: id,
        command,
        actor: UserId::new("clerk-bench").expect("valid user"),
        effective_date: NaiveDate::from_ymd_opt(2021, 6, 30).expect("valid date"),
        memo: "benchmark".into(),
    }
}

fn fund(i: usize) -> FundId {
    FundId::new(format!("HP-{i:03}")).expect("valid fund")
}

fn grant(n: u64) -> Command {
    let amount = Amount::parse("100.00").expect("valid amount");
    let index = usize::try_from(n).unwrap_or(0);
    Command::PayGrant(GrantPayment {
        fund: fund(index % FUNDS),
        beneficiary: BeneficiaryId::new(format!("M{:05}", index % BENEFICIARIES))
            .expect("valid id"),
        modality: GrantModality::Relief,
        batch: Some("第十七批".into()),
        amount,
        shares: TierSplit::single(FundingTier::City, amount).expect("one share"),
    })
}

/// Counts the engine's group commits, for the commands row: how many commands share
/// one `fdatasync`, how long the commits take, and how much of the run went to slow
/// ones (on the reference disk mostly a journal sync that carries sled's last
/// segment write, docs/PERFORMANCE.md).
#[derive(Default)]
struct GroupTally {
    groups: AtomicU64,
    commands: AtomicU64,
    commit_ns: AtomicU64,
    longest_commit_ns: AtomicU64,
    slow_commits: AtomicU64,
    slow_commit_ns: AtomicU64,
}

/// A commit longer than this counts as slow: about ten times the usual one.
const SLOW_COMMIT: Duration = Duration::from_micros(1500);

impl GroupObserver for GroupTally {
    fn group_committed(&self, group: GroupCommitted) {
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.commands
            .fetch_add(group.commands as u64, Ordering::Relaxed);
        let commit_ns = u64::try_from(group.commit.as_nanos()).unwrap_or(u64::MAX);
        self.commit_ns.fetch_add(commit_ns, Ordering::Relaxed);
        self.longest_commit_ns
            .fetch_max(commit_ns, Ordering::Relaxed);
        if group.commit > SLOW_COMMIT {
            self.slow_commits.fetch_add(1, Ordering::Relaxed);
            self.slow_commit_ns.fetch_add(commit_ns, Ordering::Relaxed);
        }
    }
}

impl GroupTally {
    /// "N groups/s of M commands, commit mean T µs, longest U µs, S over 1.5 ms
    /// (P% of the run)" over `elapsed`, counting from zero again afterwards.
    fn take(&self, elapsed: Duration) -> String {
        let groups = self.groups.swap(0, Ordering::Relaxed).max(1);
        let commands = self.commands.swap(0, Ordering::Relaxed);
        let commit_ns = self.commit_ns.swap(0, Ordering::Relaxed);
        let longest_ns = self.longest_commit_ns.swap(0, Ordering::Relaxed);
        let slow = self.slow_commits.swap(0, Ordering::Relaxed);
        let slow_ns = self.slow_commit_ns.swap(0, Ordering::Relaxed);
        format!(
            "{:.0} groups/s of {:.1} commands, commit (journal + fdatasync + index) mean {} µs, longest {} µs, {slow} over {} ms ({:.1}% of the run)",
            per_second(groups, elapsed),
            commands as f64 / groups as f64,
            commit_ns / groups / 1000,
            longest_ns / 1000,
            SLOW_COMMIT.as_secs_f64() * 1000.0,
            slow_ns as f64 / 1e9 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE) * 100.0
        )
    }
}

/// Reopens the ledger the engine suite left in `--dir` (kept on purpose: filling 10
/// million events takes minutes) and measures where an open's time goes. Fresh
/// snapshots and checkpoints are saved first (which also rebuilds those that no longer
/// decode, after a change of a projection's layout), unless `--keep-checkpoints` asks
/// for opens that fold the tail after the ledger's own.
pub(crate) fn reopen_suite(args: &Args) -> anyhow::Result<Vec<Row>> {
    use ledger_projections::{
        AuditTrail, FundLedger, InsuranceReports, LoanReports, ProgrammeReports, Projection,
    };
    fn load<P: Projection>(log: &Log<SledBackend>) -> anyhow::Result<(&'static str, Duration)> {
        let start = Instant::now();
        let loaded = log.load_snapshot::<P>(&ledger_projections::checkpoint_name::<P>())?;
        anyhow::ensure!(loaded.is_some(), "no usable checkpoint of {}", P::NAME);
        Ok((P::NAME, start.elapsed()))
    }
    let dir = args.dir.join("engine");
    anyhow::ensure!(
        dir.exists(),
        "{} holds no engine ledger: run the engine suite first",
        dir.display()
    );
    let mut rows = Vec::new();
    if !args.keep_checkpoints {
        let engine = open(&dir, args)?;
        let events = engine.head().next_position;
        engine.projections_after(events, Duration::from_secs(1800), |_| ())?;
        engine.save_snapshot()?;
        engine.checkpoint_projections()?;
    }
    for _ in 0..args.open_repeats.max(1) {
        let start = Instant::now();
        let engine = open(&dir, args)?;
        let writer_ready = start.elapsed();
        let events = engine.head().next_position;
        engine.projections_after(events, Duration::from_secs(600), |_| ())?;
        let caught_up = start.elapsed();
        drop(engine);
        let start = Instant::now();
        let backend = SledBackend::open(&dir)?;
        let sled_open = start.elapsed();
        let log = Log::open(backend, None, Arc::new(SystemClock))?;
        let log_open = start.elapsed();
        let loads = [
            load::<FundLedger>(&log)?,
            load::<ProgrammeReports>(&log)?,
            load::<InsuranceReports>(&log)?,
            load::<LoanReports>(&log)?,
            load::<AuditTrail>(&log)?,
        ];
        drop(log);
        rows.push(Row {
            name: format!("open {events} events from snapshots, projections caught up"),
            rate: per_second(events, caught_up),
            unit: "events/s",
            detail: format!(
                "{caught_up:.2?} (writer ready {writer_ready:.2?}); then alone, one after another: log open {log_open:.2?} (of which sled and its journal {sled_open:.2?}), {}; {}",
                loads
                    .iter()
                    .map(|(name, d)| format!("{name} {d:.2?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                memory()
            ),
        });
    }
    rows.push(commands_on_reopened(
        &dir,
        args,
        &submitters_runtime(args)?,
    )?);
    Ok(rows)
}

/// The submitters' runtime: `--workers` threads.
fn submitters_runtime(args: &Args) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers)
        .enable_all()
        .build()?)
}

/// Commands for `--seconds` on the ledger in `dir`, reopened: each new command id is
/// looked up among the index checkpoint's sorted keys as well as the commands taken
/// since the open, as in a server that opened a large ledger.
fn commands_on_reopened(
    dir: &Path,
    args: &Args,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<Row> {
    let engine = Arc::new(open(dir, args)?);
    let events = engine.head().next_position;
    // Ids of their own: a grant's id repeated from an earlier run would be answered
    // from the log, not decided again.
    let ids = format!(
        "reopened-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos()
    );
    let mut row = measure_commands(
        &engine,
        runtime,
        args,
        Duration::from_secs(args.seconds),
        &Arc::new(AtomicU64::new(0)),
        &ids,
        format!(
            "commands on the reopened ledger of {events} events, {} concurrent submitters",
            args.clients
        ),
    )?;
    // The runtime's tasks are done: this is the last handle.
    let start = Instant::now();
    drop(engine);
    row.detail += &format!(
        "; then a clean shutdown in {:.2?} (with a checkpoint of the projections and the indexes when the tail is long)",
        start.elapsed()
    );
    Ok(row)
}

/// Rebuilds the model, then every projection, from position 0, each compared with the
/// incremental one the engine maintains.
fn rebuilds(
    engine: &Engine<SledBackend>,
    events: u64,
    selected: impl Fn(&str) -> bool,
) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    if selected("model") {
        rows.push(rebuild_model(engine, events)?);
    }
    if selected("projections") {
        rows.push(rebuild_projections(engine, events)?);
    }
    Ok(rows)
}

/// Rebuilds the model from position 0 and compares it with the incremental one.
fn rebuild_model(engine: &Engine<SledBackend>, events: u64) -> anyhow::Result<Row> {
    let (start, cpu) = (Instant::now(), cpu_time());
    let rebuilt = engine.model_at_position(events)?;
    let (elapsed, cpu) = (start.elapsed(), cpu_time().saturating_sub(cpu));
    // Compared in place: a copy of either would cost memory the 10-million run lacks.
    anyhow::ensure!(
        engine.read(|m| m.state() == rebuilt.state()),
        "rebuild differs from the incremental model"
    );
    drop(rebuilt);
    Ok(Row {
        name: format!("rebuild the model from position 0 ({events} events)"),
        rate: per_second(events, elapsed),
        unit: "events/s",
        detail: format!(
            "{elapsed:.2?}, process CPU {cpu:.2?} ({}); target ≥ 1,000,000/s",
            cpu_per_event(cpu, events)
        ),
    })
}

/// Rebuilds every projection from position 0 and compares them with the incremental ones.
fn rebuild_projections(engine: &Engine<SledBackend>, events: u64) -> anyhow::Result<Row> {
    let (start, cpu, faults) = (Instant::now(), cpu_time(), minor_faults());
    let rebuilt = engine.projections_at_position(events)?;
    let (elapsed, cpu) = (start.elapsed(), cpu_time().saturating_sub(cpu));
    let faults = minor_faults().saturating_sub(faults);
    let equal = engine.projections_after(events, Duration::from_secs(600), |incremental| {
        *incremental == rebuilt
    })?;
    anyhow::ensure!(
        equal,
        "rebuilt projections differ from the incremental ones"
    );
    drop(rebuilt);
    Ok(Row {
        name: format!("rebuild all projections from position 0 ({events} events)"),
        rate: per_second(events, elapsed),
        unit: "events/s",
        detail: format!(
            "{elapsed:.2?}, process CPU {cpu:.2?} ({}), {faults} minor page faults; target ≥ 1,000,000/s",
            cpu_per_event(cpu, events)
        ),
    })
}

/// Reopens the ledger the engine suite left in `--dir` and rebuilds the model and the
/// projections `--rebuild-repeats` times, then prints the one-thread breakdown: the
/// rebuild figures without the minutes of filling the ledger first.
pub(crate) fn rebuild_suite(args: &Args) -> anyhow::Result<Vec<Row>> {
    let dir = args.dir.join("engine");
    anyhow::ensure!(
        dir.exists(),
        "{} holds no engine ledger: run the engine suite first",
        dir.display()
    );
    let selected = |section: &str| args.selected(section);
    let engine = open(&dir, args)?;
    let events = engine.head().next_position;
    engine.projections_after(events, Duration::from_secs(1800), |_| ())?;
    eprintln!("opened {events} events; rebuilding");
    let mut rows = Vec::new();
    for _ in 0..args.rebuild_repeats.max(1) {
        rows.extend(rebuilds(&engine, events, selected)?);
    }
    if selected("breakdown") {
        rows.extend(rebuild_breakdown(
            &engine,
            events.min(BREAKDOWN_EVENTS_MAX),
        )?);
    }
    Ok(rows)
}

/// Most events the rebuild breakdown holds in memory at once, decoded.
const BREAKDOWN_EVENTS_MAX: u64 = 1_000_000;

/// Where a projections rebuild's time and memory go: reading the log, decoding the
/// events, and each projection's fold, measured one after another on one thread over
/// the first `events` events. Every projection folded stays in memory until the end,
/// so that the resident memory a fold adds is what that projection holds (and the
/// little its fold allocates and frees on the way): a rebuild's new memory is faulted
/// in and zeroed by the kernel, a large part of its time (decision 0020).
fn rebuild_breakdown(engine: &Engine<SledBackend>, events: u64) -> anyhow::Result<Vec<Row>> {
    use ledger_projections::{
        AuditTrail, EventRecord, FundLedger, InsuranceReports, LoanReports, ProgrammeReports,
        Projection,
    };
    /// The fold's time, the resident bytes it added, and the projection (to keep).
    fn fold<P: Projection>(records: &[EventRecord]) -> (Duration, u64, P) {
        let resident = resident_bytes();
        let start = Instant::now();
        let mut projection = P::default();
        for record in records {
            projection.apply(record);
        }
        let elapsed = start.elapsed();
        (
            elapsed,
            resident_bytes().saturating_sub(resident),
            projection,
        )
    }
    // Read and decoded as a rebuild does: each record in place, straight to what the
    // projections take.
    let start = Instant::now();
    let mut records = Vec::with_capacity(usize::try_from(events).unwrap_or(0));
    while (records.len() as u64) < events {
        let wanted = usize::try_from(events - records.len() as u64).unwrap_or(usize::MAX);
        let read = engine.log()?.read_views(
            records.len() as u64,
            wanted.min(ledger_store::limits::READ_PAGE_EVENTS_MAX),
            &mut |view| {
                records.push(ledger_engine::event_record(&view).map_err(|e| e.to_string())?);
                Ok(())
            },
        )?;
        anyhow::ensure!(read > 0, "the log ended early");
    }
    let read_decode = start.elapsed();
    let (fund_time, fund_bytes, fund) = fold::<FundLedger>(&records);
    let (programme_time, programme_bytes, programmes) = fold::<ProgrammeReports>(&records);
    let (insurance_time, insurance_bytes, insurance) = fold::<InsuranceReports>(&records);
    let (loan_time, loan_bytes, loans) = fold::<LoanReports>(&records);
    let (audit_time, audit_bytes, audit) = fold::<AuditTrail>(&records);
    drop((fund, programmes, insurance, loans, audit));
    let folds = [
        ("fund ledger", fund_time, fund_bytes),
        ("programme reports", programme_time, programme_bytes),
        ("insurance reports", insurance_time, insurance_bytes),
        ("loan reports", loan_time, loan_bytes),
        ("audit trail", audit_time, audit_bytes),
    ];
    let per_event = |d: Duration| format!("{:.0} ns/event", d.as_nanos() as f64 / events as f64);
    let bytes_per_event = |b: u64| format!("{:.0} B/event", b as f64 / events as f64);
    let total_fold: Duration = folds.iter().map(|(_, d, _)| *d).sum();
    let total_bytes: u64 = folds.iter().map(|(_, _, b)| *b).sum();
    let detail = folds
        .iter()
        .map(|(name, d, b)| format!("{name} {}, {}", per_event(*d), bytes_per_event(*b)))
        .collect::<Vec<_>>()
        .join("; ");
    Ok(vec![Row {
        name: format!("rebuild breakdown, first {events} events, one thread"),
        rate: per_second(events, read_decode + total_fold),
        unit: "events/s",
        detail: format!(
            "read and decode {}, folds {} and {} resident ({detail})",
            per_event(read_decode),
            per_event(total_fold),
            bytes_per_event(total_bytes)
        ),
    }])
}

/// The CPU time (user and system) of the whole process so far, from `/proc/self/stat`
/// (in clock ticks of 10 ms): on a machine shared with other work, CPU per event says
/// more about the code than the wall-clock rate does.
fn cpu_time() -> Duration {
    let ticks: u64 = process_stat(&[11, 12]).iter().sum();
    Duration::from_millis(ticks * 10)
}

/// Minor page faults of the process so far: a fault on fresh memory is where the
/// kernel zeroes a page (or, with transparent huge pages, 2 MiB at once).
fn minor_faults() -> u64 {
    process_stat(&[7])[0]
}

/// Fields of `/proc/self/stat`, counted from the one after the command name (the
/// state, field 3) as 0.
fn process_stat(fields: &[usize]) -> Vec<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let values: Vec<&str> = after.split_whitespace().collect();
    fields
        .iter()
        .map(|&i| values.get(i).and_then(|v| v.parse().ok()).unwrap_or(0))
        .collect()
}

/// Nanoseconds each of the process's threads has run so far, summed by thread name,
/// from `/proc/self/task/*/schedstat` (its first field).
fn cpu_by_thread() -> std::collections::BTreeMap<String, u64> {
    let mut by_name = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return by_name;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let (Ok(name), Ok(schedstat)) = (
            std::fs::read_to_string(path.join("comm")),
            std::fs::read_to_string(path.join("schedstat")),
        ) else {
            continue; // the thread ended meanwhile
        };
        let ns: u64 = schedstat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let name = name.trim_end();
        // Numbered pool threads (sled-io-3) count as one pool.
        let name = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-');
        *by_name.entry(name.to_string()).or_insert(0) += ns;
    }
    by_name
}

/// What the machine's CPUs did, from `/proc/stat` (clock ticks, all CPUs together),
/// and how long this process's threads waited for a CPU while ready to run (from
/// `/proc/self/task/*/schedstat`, its second field, in nanoseconds). On a shared
/// virtual machine they tell some causes of a slow run apart: time the hypervisor gave
/// other guests (steal), other processes here, or our own threads queueing for two
/// cores. Caches and memory shared with other guests show in none of them, only in
/// more CPU per command.
struct HostCpu {
    /// Ticks of user, nice, system, irq and softirq time, this process's included.
    busy: u64,
    /// Ticks the hypervisor ran something else while this guest wanted the CPU.
    steal: u64,
    /// Ticks of every kind.
    total: u64,
    /// Ticks of this process (user and system).
    ours: u64,
    /// Nanoseconds this process's threads waited in a run queue.
    waited_ns: u64,
}

impl HostCpu {
    fn now() -> HostCpu {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let ticks: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .take(8)
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        let tick = |i: usize| ticks.get(i).copied().unwrap_or(0);
        let waited_ns = std::fs::read_dir("/proc/self/task")
            .map(|tasks| {
                tasks
                    .flatten()
                    .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
                    .filter_map(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0);
        HostCpu {
            busy: tick(0) + tick(1) + tick(2) + tick(5) + tick(6),
            steal: tick(7),
            total: ticks.iter().sum(),
            ours: process_stat(&[11, 12]).iter().sum(),
            waited_ns,
        }
    }

    /// The shares of the CPUs' time stolen and taken by other processes since
    /// `before`, and our threads' wait for a CPU per command.
    fn since(&self, before: &HostCpu, commands: u64) -> String {
        let total = self.total.saturating_sub(before.total).max(1) as f64;
        let steal = self.steal.saturating_sub(before.steal) as f64;
        let others = self
            .busy
            .saturating_sub(before.busy)
            .saturating_sub(self.ours.saturating_sub(before.ours)) as f64;
        format!(
            "host: {:.1}% of CPU time stolen, {:.1}% other processes; threads waited for a CPU {:.1} µs per command",
            100.0 * steal / total,
            100.0 * others / total,
            self.waited_ns.saturating_sub(before.waited_ns) as f64 / 1000.0 / commands.max(1) as f64
        )
    }
}

/// CPU per command of the engine's threads and of the rest, between two
/// [`cpu_by_thread`] readings.
fn cpu_per_command(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
    commands: u64,
) -> String {
    let mut parts = Vec::new();
    let mut rest = 0;
    let mut total = 0;
    for (name, ns) in after {
        let used = ns.saturating_sub(before.get(name).copied().unwrap_or(0));
        total += used;
        match name.as_str() {
            "ledger-writer" | "ledger-flusher" | "ledger-storer" | "ledger-projecto"
            | "tokio-rt-worker" => {
                parts.push(format!(
                    "{} {:.1}",
                    name.trim_start_matches("ledger-"),
                    used as f64 / 1000.0 / commands.max(1) as f64
                ));
            }
            _ => rest += used,
        }
    }
    format!(
        "µs CPU per command: {}, other {:.1}, total {:.1}",
        parts.join(", "),
        rest as f64 / 1000.0 / commands.max(1) as f64,
        total as f64 / 1000.0 / commands.max(1) as f64
    )
}

fn cpu_per_event(cpu: Duration, events: u64) -> String {
    format!(
        "{:.0} ns CPU/event",
        cpu.as_nanos() as f64 / events.max(1) as f64
    )
}

/// A row of query latencies in nanoseconds: p50, p99 and p99.9, then `note`.
fn query_row(name: String, nanos: Vec<u64>, note: &str) -> Row {
    let mut lat = Latencies(nanos);
    Row {
        name,
        rate: 0.0,
        unit: "",
        detail: format!(
            "p50 {} ns, p99 {} ns, p99.9 {} ns{note}",
            lat.percentile(50.0),
            lat.percentile(99.0),
            lat.percentile(99.9)
        ),
    }
}

/// Items per page in the page-latency rows.
const PAGE_LINES: u32 = 100;

/// Latencies of `samples` pages of [`PAGE_LINES`] items, each fund's in turn, spread
/// over the fund's whole list by a multiplicative walk (not a pattern sled's cache
/// would favour). `page` answers one page of a fund: the items on it and the total.
fn page_latencies(
    samples: u64,
    mut page: impl FnMut(&FundId, ledger_projections::PageRequest) -> anyhow::Result<(usize, u64)>,
) -> anyhow::Result<Vec<u64>> {
    let first = ledger_projections::PageRequest::new(0, 1)?;
    let totals = (0..FUNDS)
        .map(|i| Ok(page(&fund(i), first)?.1))
        .collect::<anyhow::Result<Vec<u64>>>()?;
    let mut lat = Vec::with_capacity(usize::try_from(samples)?);
    for i in 0..samples {
        let k = usize::try_from(i)? % FUNDS;
        let f = fund(k);
        let room = totals[k].saturating_sub(u64::from(PAGE_LINES)).max(1);
        let request =
            ledger_projections::PageRequest::new(i.wrapping_mul(0x9e37_79b9) % room, PAGE_LINES)?;
        let t = Instant::now();
        let (items, _) = page(&f, request)?;
        lat.push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
        anyhow::ensure!(
            items == PAGE_LINES as usize,
            "a page of {items} items, not {PAGE_LINES}"
        );
    }
    Ok(lat)
}

/// The process's resident memory now and at its peak, from `/proc/self/status`.
fn memory() -> String {
    let kb = |name: &str| status_kb(name).map_or("?".to_string(), |kb| format!("{kb} kB"));
    format!("resident {}, peak {}", kb("VmRSS:"), kb("VmHWM:"))
}

/// The process's resident memory in bytes (0 where `/proc/self/status` has none).
fn resident_bytes() -> u64 {
    status_kb("VmRSS:").map_or(0, |kb| kb * 1024)
}

/// A field of `/proc/self/status` given in kB, such as `VmRSS:`.
fn status_kb(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// Opens the engine as the program does: the projections' checkpoints load while sled
/// and the log open (decisions 0032 and 0035).
fn open(dir: &std::path::Path, args: &Args) -> anyhow::Result<Engine<SledBackend>> {
    let mut options = EngineOptions::default();
    if let Some(divisor) = args.checkpoint_spacing_divisor {
        options.checkpoint_spacing_divisor = divisor;
    }
    Ok(Engine::open_loading_first(
        ledger_store::SnapshotFiles::of(dir),
        || SledBackend::open(dir),
        Arc::new(SystemClock),
        options,
        None,
    )?)
}

fn setup(engine: &Engine<SledBackend>) -> anyhow::Result<()> {
    let mut n = 0u64;
    let mut run = |command: Command| -> anyhow::Result<()> {
        n += 1;
        engine.submit(submission(format!("setup-{n}"), command))?;
        Ok(())
    };
    run(Command::RegisterUnit {
        unit: UnitCode::new("FJ")?,
        name: "福建省".into(),
        level: UnitLevel::Province,
        parent: None,
    })?;
    run(Command::RegisterUnit {
        unit: UnitCode::new("FJ-SM")?,
        name: "三明市".into(),
        level: UnitLevel::City,
        parent: Some(UnitCode::new("FJ")?),
    })?;
    let cash = Amount::parse("1000000000.00")?;
    for i in 0..FUNDS {
        run(Command::OpenFund {
            fund: fund(i),
            unit: UnitCode::new("FJ-SM")?,
            programme: Programme::HappinessProject,
            name: format!("幸福工程 {i}"),
            fiscal_year: Some(2021),
            approval_threshold: None,
            insurance_model: None,
        })?;
        run(Command::CommitAppropriation {
            fund: fund(i),
            tier: FundingTier::City,
            amount: cash,
            reference: None,
        })?;
        run(Command::ReceiveAppropriation {
            fund: fund(i),
            tier: FundingTier::City,
            amount: cash,
            reference: None,
        })?;
    }
    for b in 0..BENEFICIARIES {
        run(Command::RegisterBeneficiary {
            beneficiary: BeneficiaryId::new(format!("M{b:05}"))?,
            unit: UnitCode::new("FJ-SM")?,
            kind: BeneficiaryKind::Person,
            categories: Default::default(),
        })?;
    }
    Ok(())
}

/// Commands through the writer for `duration`: `args.clients` concurrent submitters
/// paying grants with command ids `{ids}-{n}`, `n` counting on from `next_id`. The
/// row's figures count the groups from here on (the engine's observer can be set once:
/// call this once per engine).
fn measure_commands(
    engine: &Arc<Engine<SledBackend>>,
    runtime: &tokio::runtime::Runtime,
    args: &Args,
    duration: Duration,
    next_id: &Arc<AtomicU64>,
    ids: &str,
    name: String,
) -> anyhow::Result<Row> {
    let tally = Arc::new(GroupTally::default());
    anyhow::ensure!(
        engine.set_observer(Arc::clone(&tally) as Arc<dyn GroupObserver>),
        "the engine's group observer was set before"
    );
    let cpu_before = cpu_by_thread();
    let host_before = HostCpu::now();
    let (all, elapsed) = {
        let engine = Arc::clone(engine);
        let ids: Arc<str> = ids.into();
        run_clients(runtime, args.clients, duration, next_id, move |n| {
            let engine = Arc::clone(&engine);
            let id = format!("{ids}-{n}");
            async move {
                engine
                    .submit_async(submission(id, grant(n)))
                    .await
                    .expect("grant accepted");
            }
        })?
    };
    let n = all.len() as u64;
    let cpu = cpu_per_command(&cpu_before, &cpu_by_thread(), n);
    let host = HostCpu::now().since(&host_before, n);
    let mut lat = Latencies(all);
    Ok(Row {
        name,
        rate: per_second(n, elapsed),
        unit: "commands/s",
        detail: format!(
            "p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs; {}; {cpu}; {host}; target ≥ 80,000/s",
            lat.percentile(50.0),
            lat.percentile(99.0),
            lat.percentile(99.9),
            lat.percentile(100.0),
            tally.take(elapsed)
        ),
    })
}

pub(crate) fn suite(args: &Args, duration: Duration) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let dir = fresh_dir(&args.dir, "engine")?;
    Log::create(
        SledBackend::open(&dir)?,
        HashAlgorithm::Sha256,
        Arc::new(SystemClock),
    )?;
    let engine = Arc::new(open(&dir, args)?);
    setup(&engine)?;
    // Commands through the writer: 64 concurrent submitters paying grants.
    let runtime = submitters_runtime(args)?;
    let next_id = Arc::new(AtomicU64::new(0));
    rows.push(measure_commands(
        &engine,
        &runtime,
        args,
        duration,
        &next_id,
        "grant",
        format!(
            "engine: commands (decide + append + durable), {} concurrent submitters",
            args.clients
        ),
    )?);
    if args.only.as_deref() == Some("commands") {
        return Ok(rows);
    }

    // Fill to the requested size quickly (bulk submitters), then measure reads.
    let target = args.engine_events;
    let fill_start = Instant::now();
    while engine.head().next_position < target {
        let from = next_id.fetch_add(10_000, Ordering::Relaxed);
        let tasks: Vec<_> = (0..args.clients as u64)
            .map(|c| {
                let engine = Arc::clone(&engine);
                runtime.spawn(async move {
                    let mut k = c;
                    while k < 10_000 {
                        let id = from + k;
                        engine
                            .submit_async(submission(format!("grant-{id}"), grant(id)))
                            .await
                            .expect("grant accepted");
                        k += 64;
                    }
                })
            })
            .collect();
        for t in tasks {
            runtime.block_on(t)?;
        }
    }
    let events = engine.head().next_position;
    eprintln!("filled to {events} events in {:.1?}", fill_start.elapsed());
    engine.projections_after(events, Duration::from_secs(600), |_| ())?;
    rows.push(Row {
        name: format!("memory with {events} events (writer, read model, projections, store)"),
        rate: 0.0,
        unit: "",
        detail: memory(),
    });

    // Fund balance query latency on the committed model.
    let mut lat = Vec::with_capacity(100_000);
    for i in 0..100_000usize {
        let f = fund(i % FUNDS);
        let t = Instant::now();
        let balance = engine.read(|m| m.state().fund_balance(&f).map(|b| b.available));
        lat.push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
        assert!(balance.is_some());
    }
    rows.push(query_row(
        format!("fund balance query with {events} events in the log"),
        lat,
        "; target p99 < 1 ms",
    ));

    // Fund balance as of a past effective date, from the fund ledger projection.
    let past = NaiveDate::from_ymd_opt(2021, 3, 31).expect("valid date");
    engine.projections_after(events, Duration::from_secs(600), |_| ())?;
    let mut lat = Vec::with_capacity(10_000);
    for i in 0..10_000usize {
        let f = fund(i % FUNDS);
        let t = Instant::now();
        let figures =
            engine.projections(|p| p.fund_ledger.balance_as_of(&f, past).map(|b| b.available));
        lat.push(u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
        anyhow::ensure!(figures.is_ok(), "as-of query failed");
    }
    rows.push(query_row(
        format!("fund balance as of a past date (projection) with {events} events"),
        lat,
        "; target p99 < 50 ms",
    ));

    // A page of a fund's audit trail, anywhere in it: each record is read back from the
    // log (decisions 0022, 0023).
    let lat = page_latencies(1_000, |f, page| {
        let records = engine.projections(|p| p.audit.by_fund(f, None, page, &*engine))?;
        Ok((records.items.len(), records.total))
    })?;
    rows.push(query_row(
        format!("audit trail page of {PAGE_LINES} records by fund with {events} events"),
        lat,
        " (each record read from the log)",
    ));

    // A page of a fund's statement for a year, anywhere in it: a pass over the fund's
    // movements, a sort of the year's, and each line's record read from the log
    // (decision 0023).
    let year = ledger_projections::DateRange::year(2021)?;
    let lat = page_latencies(200, |f, page| {
        let statement = engine.projections(|p| p.fund_ledger.statement(f, year, page, &*engine))?;
        Ok((statement.lines.items.len(), statement.lines.total))
    })?;
    rows.push(query_row(
        format!("fund statement page of {PAGE_LINES} lines, one year, with {events} events"),
        lat,
        " (a pass over the fund's movements; each line's record read from the log)",
    ));

    rows.extend(rebuilds(&engine, events, |_| true)?);

    rows.extend(rebuild_breakdown(
        &engine,
        events.min(BREAKDOWN_EVENTS_MAX),
    )?);

    // Reopen without, then with, a snapshot.
    drop(runtime);
    let engine = Arc::try_unwrap(engine).map_err(|_| anyhow::anyhow!("engine still shared"))?;
    drop(engine);
    let start = Instant::now();
    let engine = open(&dir, args)?;
    let cold = start.elapsed();
    rows.push(Row {
        name: format!("open {events} events, no model snapshot (log + model ready)"),
        rate: per_second(events, cold),
        unit: "events/s",
        detail: format!("{cold:.2?}; the projections resume from their checkpoints"),
    });
    engine.projections_after(events, Duration::from_secs(600), |_| ())?;
    let snap_start = Instant::now();
    engine.save_snapshot()?;
    engine.checkpoint_projections()?;
    let snap = snap_start.elapsed();
    drop(engine);
    for _ in 0..args.open_repeats.max(1) {
        let start = Instant::now();
        let engine = open(&dir, args)?;
        let ready = start.elapsed();
        let checkpoint = engine.log()?.opened_from_index_checkpoint();
        engine.projections_after(events, Duration::from_secs(600), |_| ())?;
        let caught_up = start.elapsed();
        rows.push(Row {
            name: format!("open {events} events from snapshots, projections caught up"),
            rate: per_second(events, caught_up),
            unit: "events/s",
            detail: format!(
                "{caught_up:.2?} (from index checkpoint {checkpoint:?}; writer ready after {ready:.2?}; snapshots written in {snap:.2?}); target < 10 s at 10 million"
            ),
        });
        drop(engine);
    }
    // A runtime of its own: the suite's was dropped to release the first engine.
    rows.push(commands_on_reopened(
        &dir,
        args,
        &submitters_runtime(args)?,
    )?);
    rows.push(Row {
        name: "memory at the end of the engine suite".into(),
        rate: 0.0,
        unit: "",
        detail: memory(),
    });
    Ok(rows)
}
