//! `ledger-bench`: measures the event log on the machine at hand and prints each
//! figure beside raw baselines measured in the same run (a plain file's
//! `fdatasync` rate, raw sled insert+flush), so that figures from different
//! machines can be compared by their ratio to the baseline.
//!
//! Run with `cargo run --release -p ledger-bench -- store` (or `engine`,
//! `engine-open`, `engine-rebuild`, `http-load`). Not part of the test command: benchmarks need a quiet
//! machine and minutes, not a CI slot.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

mod engine;
mod http_load;

// The same allocator, configured the same way, as the `welfare-ledger` binary
// (decisions 0016, 0020), so that figures match it.
#[global_allocator]
static GLOBAL: ledger_alloc::Allocator = ledger_alloc::Allocator;

use chrono::NaiveDate;
use clap::Parser;
use ledger_store::limits::READ_PAGE_EVENTS_MAX;
use ledger_store::{
    Actor, AppendBatch, Backend as _, CommandId, EventType, ExpectedVersion, GroupCommitter,
    HashAlgorithm, Log, Memo, NewEvent, SledBackend, StreamName, SystemClock,
};

#[derive(Parser, Debug)]
#[command(about = "Welfare Ledger benchmarks")]
struct Args {
    /// Which suite to run.
    #[arg(value_parser = ["store", "engine", "engine-open", "engine-rebuild", "http-load"], default_value = "store")]
    suite: String,
    /// Directory for benchmark data (must be on the disk you want to measure, not tmpfs).
    #[arg(long, default_value = "target/bench-data")]
    dir: PathBuf,
    /// Seconds for each timed measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Events in the ledger used for the reopen/read and verify measurements.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Events in the engine's ledger for the query, rebuild and open measurements.
    #[arg(long, default_value_t = 1_000_000)]
    engine_events: u64,
    /// How many times the engine suite reopens the ledger from its snapshots.
    #[arg(long, default_value_t = 3)]
    open_repeats: u32,
    /// How many times `engine-rebuild` rebuilds the projections and the model.
    #[arg(long, default_value_t = 3)]
    rebuild_repeats: u32,
    /// Concurrent clients for the group-commit measurement.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Async runtime worker threads for the concurrent clients.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// http-load: connections that write (each a keep-alive connection, one request
    /// in flight).
    #[arg(long, default_value_t = 64)]
    write_connections: usize,
    /// http-load: connections that read.
    #[arg(long, default_value_t = 256)]
    read_connections: usize,
    /// http-load: seconds of each of its three phases.
    #[arg(long, default_value_t = 20)]
    phase_seconds: u64,
    /// http-load: the `welfare-ledger` binary to serve (default: the one beside this
    /// benchmark, from `cargo build --release --bin welfare-ledger`).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// http-load: keep the ledger it made in `--dir` (removed by default).
    #[arg(long)]
    keep_data: bool,
    /// The engine's `checkpoint_spacing_divisor` (default: the engine's, 4; 0 spaces
    /// the projections' checkpoints by one million events however long the ledger).
    #[arg(long)]
    checkpoint_spacing_divisor: Option<u64>,
    /// engine-open: open with the snapshots and checkpoints the ledger has, however far
    /// behind its head they are, instead of writing fresh ones first. The first open
    /// then folds the tail after them; its clean shutdown checkpoints that tail, so the
    /// later opens start from there.
    #[arg(long)]
    keep_checkpoints: bool,
    /// Run only these sections, comma-separated: baseline-sled, single, concurrent,
    /// bulk, large (the fdatasync baseline always runs: other figures are given as
    /// ratios to it); for `engine`: commands (the suite stops after them); for
    /// `engine-rebuild`: model, projections, breakdown.
    #[arg(long)]
    only: Option<String>,
}

impl Args {
    /// Whether `--only` leaves `section` in (everything runs without `--only`).
    fn selected(&self, section: &str) -> bool {
        self.only
            .as_deref()
            .is_none_or(|only| only.split(',').any(|s| s.trim() == section))
    }
}

/// Target size of one encoded event, in bytes, as the issue specifies.
const EVENT_BYTES_TARGET: usize = 200;

fn main() -> anyhow::Result<()> {
    ledger_alloc::configure();
    let args = Args::parse();
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    print_machine();
    let duration = Duration::from_secs(args.seconds);
    if args.suite == "http-load" {
        let report = http_load::suite(&args)?;
        println!();
        println!("{report}");
        return Ok(());
    }
    let rows = match args.suite.as_str() {
        "engine" => engine::suite(&args, duration)?,
        "engine-open" => engine::reopen_suite(&args)?,
        "engine-rebuild" => engine::rebuild_suite(&args)?,
        _ => store_suite(&args, duration)?,
    };
    println!();
    println!("{}", table(rows));
    Ok(())
}

fn print_machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown cpu".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("machine: {cpu}, {cores} cores");
}

fn fresh_dir(base: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let dir = base.join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn sample_event(i: u64) -> NewEvent {
    NewEvent {
        stream: StreamName::new(format!("fund-{:03}", i % 500)).expect("valid stream"),
        expected: ExpectedVersion::Any,
        event_type: EventType::new("PaymentRecorded").expect("valid type"),
        schema_version: 1,
        // The envelope takes about 130 bytes; the payload brings the record to ~200.
        payload: vec![0x5A; 70],
        actor: Actor::new("clerk-0042").expect("valid actor"),
        effective_date: NaiveDate::from_ymd_opt(2021, 6, 30).expect("valid date"),
        memo: Memo::new("benchmark").expect("valid memo"),
    }
}

fn single(id: u64) -> AppendBatch {
    AppendBatch {
        command_id: CommandId::new(format!("cmd-{id}")).expect("valid id"),
        events: vec![sample_event(id)],
    }
}

/// Latency percentiles from samples in microseconds.
struct Latencies(Vec<u64>);

impl Latencies {
    fn percentile(&mut self, p: f64) -> u64 {
        if self.0.is_empty() {
            return 0;
        }
        self.0.sort_unstable();
        // Nearest-rank percentile; the float only indexes the sorted samples.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }
}

struct Row {
    name: String,
    rate: f64,
    unit: &'static str,
    detail: String,
}

#[allow(clippy::cast_precision_loss)]
fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn store_suite(args: &Args, duration: Duration) -> anyhow::Result<Vec<Row>> {
    let selected = |section: &str| args.selected(section);
    let mut rows = Vec::new();
    let record_bytes = {
        let dir = fresh_dir(&args.dir, "probe")?;
        let log = Log::create(
            SledBackend::open(&dir)?,
            HashAlgorithm::Sha256,
            Arc::new(SystemClock),
        )?;
        log.append(single(0))?;
        log.read_raw(0, 1)?[0].record.len() + 32
    };
    println!("stored value per event: {record_bytes} bytes (record + 32-byte hash); target ~{EVENT_BYTES_TARGET}");

    // Baseline 1: a plain file, 200-byte write + fdatasync per record.
    let fsync_rate = {
        let dir = fresh_dir(&args.dir, "raw-file")?;
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("raw.log"))?;
        let buf = vec![0x5Au8; EVENT_BYTES_TARGET];
        let mut lat = Vec::new();
        let start = Instant::now();
        let mut n = 0;
        while start.elapsed() < duration {
            let t = Instant::now();
            file.write_all(&buf)?;
            file.sync_data()?;
            lat.push(micros(t.elapsed()));
            n += 1;
        }
        let rate = per_second(n, start.elapsed());
        let mut lat = Latencies(lat);
        rows.push(Row {
            name: "baseline: plain file write+fdatasync per record".into(),
            rate,
            unit: "records/s",
            detail: format!(
                "p50 {} µs, p99 {} µs",
                lat.percentile(50.0),
                lat.percentile(99.0)
            ),
        });
        rate
    };
    println!("raw fdatasync: {fsync_rate:.0}/s");

    // Baseline 2: raw sled, one insert + flush per record, and 1,000 inserts per flush.
    if selected("baseline-sled") {
        let dir = fresh_dir(&args.dir, "raw-sled")?;
        let db = sled::open(&dir)?;
        let value = vec![0x5Au8; EVENT_BYTES_TARGET];
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < duration {
            db.insert(n.to_be_bytes(), value.as_slice())?;
            db.flush()?;
            n += 1;
        }
        rows.push(Row {
            name: "baseline: raw sled insert+flush per record (not power-safe)".into(),
            rate: per_second(n, start.elapsed()),
            unit: "records/s",
            detail: String::new(),
        });
        let start = Instant::now();
        let mut total = 0u64;
        while start.elapsed() < duration {
            let mut batch = sled::Batch::default();
            for _ in 0..1000 {
                batch.insert(&(n + total).to_be_bytes()[..], value.as_slice());
                total += 1;
            }
            db.apply_batch(batch)?;
            db.flush()?;
        }
        rows.push(Row {
            name: "baseline: raw sled 1,000 inserts per flush (not power-safe)".into(),
            rate: per_second(total, start.elapsed()),
            unit: "records/s",
            detail: String::new(),
        });
    }

    // Durable append, one client, one event per append.
    if selected("single") {
        let dir = fresh_dir(&args.dir, "single")?;
        let committer = GroupCommitter::start(Log::create(
            SledBackend::open(&dir)?,
            HashAlgorithm::Sha256,
            Arc::new(SystemClock),
        )?);
        let mut lat = Vec::new();
        let start = Instant::now();
        let mut n = 0;
        while start.elapsed() < duration {
            let t = Instant::now();
            committer.append(single(n))?;
            lat.push(micros(t.elapsed()));
            n += 1;
        }
        let rate = per_second(n, start.elapsed());
        let mut lat = Latencies(lat);
        rows.push(Row {
            name: "durable append, 1 client, 1 event each".into(),
            rate,
            unit: "events/s",
            detail: format!(
                "p50 {} µs, p99 {} µs; {:.2}x raw fdatasync (target ≥ 0.8x)",
                lat.percentile(50.0),
                lat.percentile(99.0),
                rate / fsync_rate
            ),
        });
    }

    // The same through the log directly, without the writer thread: shows what the
    // hand-off to the group committer costs a lone client.
    if selected("single") {
        let dir = fresh_dir(&args.dir, "single-direct")?;
        let log = Log::create(
            SledBackend::open(&dir)?,
            HashAlgorithm::Sha256,
            Arc::new(SystemClock),
        )?;
        let mut lat = Vec::new();
        let start = Instant::now();
        let mut n = 0;
        while start.elapsed() < duration {
            let t = Instant::now();
            log.append(single(n))?;
            lat.push(micros(t.elapsed()));
            n += 1;
        }
        let rate = per_second(n, start.elapsed());
        let mut lat = Latencies(lat);
        rows.push(Row {
            name: "durable append without the writer thread, 1 client, 1 event each".into(),
            rate,
            unit: "events/s",
            detail: format!(
                "p50 {} µs, p99 {} µs; {:.2}x raw fdatasync",
                lat.percentile(50.0),
                lat.percentile(99.0),
                rate / fsync_rate
            ),
        });
    }

    // Durable append, many concurrent clients (async tasks), one event each.
    if selected("concurrent") {
        let dir = fresh_dir(&args.dir, "concurrent")?;
        let committer = Arc::new(GroupCommitter::start(Log::create(
            SledBackend::open(&dir)?,
            HashAlgorithm::Sha256,
            Arc::new(SystemClock),
        )?));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.workers)
            .enable_all()
            .build()?;
        let next_id = Arc::new(AtomicU64::new(0));
        let (all, elapsed) = {
            let committer = Arc::clone(&committer);
            run_clients(&runtime, args.clients, duration, &next_id, move |id| {
                let committer = Arc::clone(&committer);
                async move {
                    committer.append_async(single(id)).await.expect("append");
                }
            })?
        };
        let n = all.len() as u64;
        let commits = committer.stats().commits.load(Ordering::Relaxed);
        let stats = committer.stats();
        eprintln!(
            "per group: prepare {} µs, commit {} µs, answer {} µs",
            stats.prepare_nanos.load(Ordering::Relaxed) / commits.max(1) / 1000,
            stats.commit_nanos.load(Ordering::Relaxed) / commits.max(1) / 1000,
            stats.answer_nanos.load(Ordering::Relaxed) / commits.max(1) / 1000
        );
        let mut lat = Latencies(all);
        #[allow(clippy::cast_precision_loss)]
        let per_commit = n as f64 / commits.max(1) as f64;
        rows.push(Row {
            name: format!("durable append, {} concurrent clients, 1 event each", args.clients),
            rate: per_second(n, elapsed),
            unit: "events/s",
            detail: format!("p50 {} µs, p99 {} µs, p99.9 {} µs; {per_commit:.1} appends per group commit (target ≥ 100,000/s)", lat.percentile(50.0), lat.percentile(99.0), lat.percentile(99.9)),
        });
    }

    // Bulk append, 1,000 events per append (one command each).
    if selected("bulk") {
        let dir = fresh_dir(&args.dir, "bulk")?;
        let log = Log::create(
            SledBackend::open(&dir)?,
            HashAlgorithm::Sha256,
            Arc::new(SystemClock),
        )?;
        let start = Instant::now();
        let mut n = 0u64;
        let mut batches = 0u64;
        while start.elapsed() < duration {
            let events = (0..1000).map(|k| sample_event(n + k)).collect();
            log.append(AppendBatch {
                command_id: CommandId::new(format!("bulk-{batches}"))?,
                events,
            })?;
            n += 1000;
            batches += 1;
        }
        rows.push(Row {
            name: "durable bulk append, 1,000 events per append".into(),
            rate: per_second(n, start.elapsed()),
            unit: "events/s",
            detail: "target ≥ 150,000/s".into(),
        });
    }

    // A large ledger for reopen/read, verify and size.
    if selected("large") {
        let dir = fresh_dir(&args.dir, "large")?;
        {
            let log = Log::create(
                SledBackend::open(&dir)?,
                HashAlgorithm::Sha256,
                Arc::new(SystemClock),
            )?;
            let mut n = 0;
            while n < args.events {
                let size = (args.events - n).min(5_000);
                let events = (0..size).map(|k| sample_event(n + k)).collect();
                log.append(AppendBatch {
                    command_id: CommandId::new(format!("load-{n}"))?,
                    events,
                })?;
                n += size;
            }
        }
        let start = Instant::now();
        let log = Log::open(SledBackend::open(&dir)?, None, Arc::new(SystemClock))?;
        let opened = start.elapsed();
        let mut read = 0u64;
        let mut bytes = 0usize;
        let read_start = Instant::now();
        while read < args.events {
            let page = log.read_all(read, READ_PAGE_EVENTS_MAX)?;
            bytes += page.iter().map(|e| e.payload.len()).sum::<usize>();
            read += page.len() as u64;
        }
        let read_elapsed = read_start.elapsed();
        rows.push(Row {
            name: format!("reopen (index rebuild) of {} events", args.events),
            rate: per_second(args.events, opened),
            unit: "events/s",
            detail: format!("{opened:.2?} to open"),
        });
        rows.push(Row {
            name: "read everything with decode".into(),
            rate: per_second(read, read_elapsed),
            unit: "events/s",
            detail: format!("target ≥ 1,000,000/s; {bytes} payload bytes"),
        });
        let start = Instant::now();
        let report = log.verify()?;
        anyhow::ensure!(report.is_intact(), "verify failed: {report:?}");
        rows.push(Row {
            name: "verify the chain (SHA-256)".into(),
            rate: per_second(report.events_checked, start.elapsed()),
            unit: "events/s",
            detail: "target ≥ 1,000,000/s".into(),
        });
        let size = log.backend().size_on_disk()?;
        let on_disk = dir_size(&dir)?;
        #[allow(clippy::cast_precision_loss)]
        let per_event = on_disk as f64 / args.events as f64;
        rows.push(Row {
            name: "bytes on disk per event, including indexes".into(),
            rate: per_event,
            unit: "bytes",
            detail: format!("{on_disk} bytes in the data directory (sled reports {size})"),
        });
    }

    Ok(rows)
}

/// Runs `clients` async tasks for `duration`; each calls `operation` in a loop with
/// the next number from `next_id`. Returns every call's latency in microseconds and
/// the time the run took.
fn run_clients<F, Fut>(
    runtime: &tokio::runtime::Runtime,
    clients: usize,
    duration: Duration,
    next_id: &Arc<AtomicU64>,
    operation: F,
) -> anyhow::Result<(Vec<u64>, Duration)>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let operation = Arc::new(operation);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            let operation = Arc::clone(&operation);
            let stop = Arc::clone(&stop);
            let next_id = Arc::clone(next_id);
            runtime.spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    operation(id).await;
                    latencies.push(micros(t.elapsed()));
                }
                latencies
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for handle in handles {
        all.extend(runtime.block_on(handle)?);
    }
    Ok((all, start.elapsed()))
}

fn table(rows: Vec<Row>) -> String {
    let mut out = String::from("| measurement | figure | notes |\n|---|---|---|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {:.0} {} | {} |\n",
            row.name, row.rate, row.unit, row.detail
        ));
    }
    out
}

fn dir_size(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}
