//! `rebuild` and `backup`: checks and copies of a ledger the console holds open.

use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use ledger_store::codec::{encode_head, HeadMarker};
use ledger_store::{Backend as _, Log, SledBackend};
use serde_json::json;

use crate::error::{exit, file_error, rejected, Failure};
use crate::{ledger, Cli};

/// Records copied per durable write of a backup.
pub const BACKUP_PAGE_RECORDS: usize = 1_024;

/// How long `rebuild` waits for the incremental projections to reach the head.
const REBUILD_WAIT: Duration = Duration::from_secs(600);

/// Recomputes every projection from position 0 and compares it with the incremental
/// projections (checkpoints plus the tail); exit 3 if any differs.
pub fn rebuild(cli: &Cli) -> Result<u8, Failure> {
    let engine = ledger::open_engine(&cli.data)?;
    let head = engine.log().head().next_position;
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
/// it copies: the copy is the log up to the head when it started. Projection
/// checkpoints and the model's snapshot are not copied; the copy rebuilds them.
pub fn backup(cli: &Cli, target: &Path) -> Result<u8, Failure> {
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
    let log = ledger::open_log(&cli.data)?;
    let head = log.head();
    let header = log
        .backend()
        .read_header()?
        .ok_or_else(|| rejected("the ledger has no header"))?;
    {
        let copy = SledBackend::open(target)?;
        copy.write_header(&header)?;
        let bar = ProgressBar::new(head.next_position);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_message("copying");
        let mut next = 0;
        while next < head.next_position {
            let wanted = usize::try_from(head.next_position - next).unwrap_or(usize::MAX);
            let page = log.read_raw(next, wanted.min(BACKUP_PAGE_RECORDS))?;
            let Some(last) = page.last() else {
                return Err(rejected(format!(
                    "the log ended at position {next} before its head {}",
                    head.next_position
                )));
            };
            let marker = encode_head(&HeadMarker {
                next_position: last.position + 1,
                hash: last.hash,
            });
            let values: Vec<Vec<u8>> = page
                .iter()
                .map(|raw| {
                    let mut value = raw.record.clone();
                    value.extend_from_slice(&raw.hash);
                    value
                })
                .collect();
            copy.write(next, &values, &marker)?;
            copy.flush()?;
            next = last.position + 1;
            bar.set_position(next);
        }
        bar.finish_and_clear();
    }
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
                "hash_algorithm": log.algorithm().name(),
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
