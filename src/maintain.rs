//! `rebuild` and `backup`: checks and copies of a ledger the console holds open.

use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use ledger_store::{Backend as _, Log, SledBackend};
use serde_json::json;

use crate::error::{exit, file_error, rejected, Failure};
use crate::{ledger, Cli};

/// Where a `backup --server` copies from.
#[derive(Debug, Clone)]
pub struct Source {
    pub url: String,
    pub token: String,
}

/// Records read per page by a backup.
pub const BACKUP_PAGE_RECORDS: usize = 1_024;

/// How long `rebuild` waits for the incremental projections to reach the head.
const REBUILD_WAIT: Duration = Duration::from_secs(600);

/// Recomputes every projection from position 0 and compares it with the incremental
/// projections (checkpoints plus the tail); exit 3 if any differs.
pub fn rebuild(cli: &Cli) -> Result<u8, Failure> {
    let engine = ledger::open_engine(&cli.data)?;
    let head = engine.head().next_position;
    let incremental = engine.projections_after(head, REBUILD_WAIT, Clone::clone)?;
    let started = Instant::now();
    let rebuilt = engine.projections_at_position(head)?;
    let seconds = started.elapsed().as_secs_f64();
    let mut differing = Vec::new();
    if rebuilt.fund_ledger != incremental.fund_ledger {
        differing.push("fund_ledger");
    }
    if rebuilt.programmes != incremental.programmes {
        differing.push("programmes");
    }
    if rebuilt.insurance != incremental.insurance {
        differing.push("insurance");
    }
    if rebuilt.loans != incremental.loans {
        differing.push("loans");
    }
    if rebuilt.audit != incremental.audit {
        differing.push("audit");
    }
    // A rate for display only; the figures themselves are exact.
    let per_second = if seconds > 0.0 {
        (head as f64 / seconds).round()
    } else {
        0.0
    };
    if cli.json {
        println!(
            "{}",
            json!({
                "events": head,
                "seconds": format!("{seconds:.3}"),
                "events_per_second": per_second,
                "equal": differing.is_empty(),
                "differing": differing,
            })
        );
    } else {
        println!(
            "rebuilt every projection from {head} events in {seconds:.3} s ({per_second} events/s)"
        );
        if differing.is_empty() {
            println!("equal: the rebuilt projections equal the incremental ones");
        } else {
            println!(
                "DIFFER: {} (the incremental projections disagree with a rebuild from position 0)",
                differing.join(", ")
            );
        }
    }
    Ok(if differing.is_empty() {
        exit::OK
    } else {
        exit::VERIFICATION_FAILED
    })
}

/// Copies the ledger's records, exactly as stored, into a new ledger in `target`,
/// then opens the copy and checks that it verifies to the same head.
///
/// The console holds the data directory (sled's lock), so nothing is appended while
/// it copies: the copy is the log up to the head when it started. With `server`, the
/// ledger a running server holds is copied from its whole-log JSONL export (which
/// carries each record's exact bytes and hash): the copy is the log up to the head
/// when the export started, while the server goes on serving. Projection checkpoints
/// and the model's snapshot are not copied; the copy rebuilds them.
pub fn backup(cli: &Cli, target: &Path, server: Option<&Source>) -> Result<u8, Failure> {
    if target.exists()
        && std::fs::read_dir(target)
            .map_err(file_error("cannot read the backup directory", target))?
            .next()
            .is_some()
    {
        return Err(rejected(format!(
            "{} is not empty; give backup a new or empty directory",
            target.display()
        )));
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message("copying");
    let head = match server {
        // A ledger a running server holds: its whole-log export, streamed.
        Some(source) => {
            let response = ureq::get(&format!(
                "{}/api/v1/export",
                source.url.trim_end_matches('/')
            ))
            .set("Authorization", &format!("Bearer {}", source.token))
            .call()
            .map_err(|e| match e {
                ureq::Error::Status(code, r) => rejected(format!(
                    "the server answered {code}: {}",
                    r.into_string().unwrap_or_default()
                )),
                other => rejected(format!("cannot reach the server: {other}")),
            })?;
            let mut reader = std::io::BufReader::new(response.into_reader());
            let copy = SledBackend::open(target)?;
            ledger_exchange::restore_jsonl(&mut reader, &copy, &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .map_err(|e| rejected(e.to_string()))?
        }
        // A ledger this process can open: its records, page by page.
        None => {
            let log = ledger::open_log(&cli.data)?;
            let head = log.head();
            bar.set_length(head.next_position);
            let header = log
                .backend()
                .read_header()?
                .ok_or_else(|| rejected("the ledger has no header"))?;
            let copy = SledBackend::open(target)?;
            let mut copier = ledger_exchange::RecordCopier::start(&copy, &header)
                .map_err(|e| rejected(e.to_string()))?;
            while copier.copied() < head.next_position {
                let wanted =
                    usize::try_from(head.next_position - copier.copied()).unwrap_or(usize::MAX);
                let page = log.read_raw(copier.copied(), wanted.min(BACKUP_PAGE_RECORDS))?;
                if page.is_empty() {
                    return Err(rejected(format!(
                        "the log ended at position {} before its head {}",
                        copier.copied(),
                        head.next_position
                    )));
                }
                for raw in page {
                    copier.push(raw).map_err(|e| rejected(e.to_string()))?;
                }
                bar.set_position(copier.copied());
            }
            copier.finish().map_err(|e| rejected(e.to_string()))?;
            head
        }
    };
    bar.finish_and_clear();
    // Reopen the copy as a ledger and check its whole chain.
    let copy = Log::open(SledBackend::open(target)?, None, ledger::clock())?;
    let report = copy.verify()?;
    if !report.is_intact() || report.head != head {
        return Err(rejected(format!(
            "the copy in {} does not verify to the ledger's head ({} events, head hash {}); it is unusable",
            target.display(),
            head.next_position,
            hex::encode(head.hash)
        )));
    }
    if cli.json {
        println!(
            "{}",
            json!({
                "backup": target.display().to_string(),
                "events": head.next_position,
                "head_hash": hex::encode(head.hash),
                "hash_algorithm": report.algorithm.name(),
            })
        );
    } else {
        println!(
            "backed up {} events to {}; the copy verifies to head hash {}",
            head.next_position,
            target.display(),
            hex::encode(head.hash)
        );
    }
    Ok(exit::OK)
}
