//! `export` and `import`: the exchange formats of `ledger-exchange` (docs/EXCHANGE.md)
//! with progress bars on stderr.

use std::io::Write as _;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ledger_domain::authorize;
use ledger_exchange::{
    export_csv, export_jsonl, import_payments, parse_payments, CsvExportOptions, ExchangeError,
    Exported, ImportOptions,
};

use crate::error::{exit, file_error, rejected, Failure};
use crate::{ledger, staff, Cli};

/// The export formats.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON line per event with the exact hashed bytes: for auditors
    /// (`python3 docs/tools/verify_export.py FILE` checks it).
    Jsonl,
    /// One row per event with Chinese and English headers: for spreadsheets.
    Csv,
}

/// `export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    #[arg(long, value_enum)]
    format: Format,
    /// Write to this file (created or replaced once the export is complete) instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
    /// The first position to export (default 0).
    #[arg(long)]
    from: Option<u64>,
    /// The last position to export, included (default: the head when the export starts).
    #[arg(long)]
    to: Option<u64>,
    /// CSV only: leave out the UTF-8 byte order mark (Excel needs it to read Chinese).
    #[arg(long)]
    no_bom: bool,
}

/// `import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A payments CSV file (docs/EXCHANGE.md §3).
    file: PathBuf,
    /// Apply the good rows even if some are bad, and write the bad ones to the rejects file.
    #[arg(long)]
    skip_bad_rows: bool,
    /// Where the bad rows go, with their line and reason (default with
    /// --skip-bad-rows: FILE's name with `.rejects.csv`).
    #[arg(long)]
    rejects: Option<PathBuf>,
}

fn bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// A sibling path for a file being written: renamed over the target when complete.
fn partial(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

pub fn export(cli: &Cli, args: &ExportArgs) -> Result<u8, Failure> {
    let log = ledger::open_log(&cli.data)?;
    let from = Bound::Included(args.from.unwrap_or(0));
    let to = args.to.map_or(Bound::Unbounded, Bound::Included);
    let range = (from, to);
    let run = |out: &mut dyn std::io::Write,
               progress: &mut dyn FnMut(u64, u64)|
     -> Result<Exported, ExchangeError> {
        match args.format {
            Format::Jsonl => export_jsonl(&log, range, out, progress),
            Format::Csv => export_csv(
                &log,
                range,
                CsvExportOptions { bom: !args.no_bom },
                out,
                progress,
            ),
        }
    };
    let exported = match &args.output {
        None => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            run(&mut out, &mut |_, _| {})?;
            out.flush()?;
            return Ok(exit::OK);
        }
        Some(path) => {
            let temporary = partial(path);
            let mut file = std::fs::File::create(&temporary)
                .map_err(file_error("cannot create the export file", &temporary))?;
            let bar = bar(0, "exporting");
            let result = run(&mut file, &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            });
            bar.finish_and_clear();
            let exported = match result {
                Ok(exported) => exported,
                Err(e) => {
                    let _ = std::fs::remove_file(&temporary);
                    return Err(e.into());
                }
            };
            file.sync_all()
                .map_err(file_error("cannot write the export file", &temporary))?;
            std::fs::rename(&temporary, path)
                .map_err(file_error("cannot move the export into place at", path))?;
            exported
        }
    };
    let output = args.output.as_ref().map(|p| p.display().to_string());
    if cli.json {
        println!(
            "{}",
            serde_json::json!({
                "output": output,
                "format": format!("{:?}", args.format).to_lowercase(),
                "events": exported.events(),
                "from_position": exported.from_position,
                "to_position": exported.to_position,
                "last_hash": hex::encode(exported.last_hash),
            })
        );
    } else {
        println!(
            "exported {} events (positions {} to {}) to {}; last hash {}",
            exported.events(),
            exported.from_position,
            exported.to_position.saturating_sub(1),
            output.unwrap_or_default(),
            hex::encode(exported.last_hash)
        );
    }
    Ok(exit::OK)
}

pub fn import(cli: &Cli, args: &ImportArgs) -> Result<u8, Failure> {
    let actor = staff::acting_user(cli)?;
    let bytes = std::fs::read(&args.file).map_err(file_error("cannot read", &args.file))?;
    let engine = ledger::open_engine(&cli.data)?;
    // The library checks role, scope and actor per row, and `--skip-bad-rows` would
    // skip a row it refuses. A permission problem is not a bad row to skip: the console
    // refuses the whole file up front when any row is not the importing user's to record.
    let parsed = parse_payments(&bytes, &actor)?;
    let refused: Vec<String> = engine.read(|m| {
        parsed
            .rows
            .iter()
            .filter_map(|row| {
                if row.actor != actor {
                    return Some(format!(
                        "line {}: the row names {} as 经办人 actor, but the import is recorded by --user {actor}; leave the actor column empty",
                        row.line, row.actor
                    ));
                }
                authorize(m.state(), &row.actor, &row.command)
                    .err()
                    .map(|e| format!("line {}: {e}", row.line))
            })
            .collect()
    });
    if !refused.is_empty() {
        for line in &refused {
            eprintln!("{line}");
        }
        return Err(rejected(format!(
            "{} of the file's rows are not permitted to {actor}, so nothing was applied; the first: {}",
            refused.len(),
            refused[0]
        )));
    }
    let options = ImportOptions::now(actor, args.skip_bad_rows);
    let mut rejects = Vec::new();
    let bar = bar(parsed.row_count, "importing");
    let result = import_payments(
        &engine,
        &bytes,
        &options,
        &mut rejects,
        &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    );
    bar.finish_and_clear();
    let rejects_path = match (&args.rejects, args.skip_bad_rows) {
        (Some(path), _) => Some(path.clone()),
        (None, true) => Some(rejects_beside(&args.file)),
        (None, false) => None,
    };
    let written = match (&rejects_path, rejects.is_empty()) {
        (Some(path), false) => {
            std::fs::write(path, &rejects)
                .map_err(file_error("cannot write the rejects file", path))?;
            Some(path.display().to_string())
        }
        _ => None,
    };
    let summary = match result {
        Ok(summary) => summary,
        Err(ExchangeError::RowsRejected { errors }) => {
            for error in &errors {
                eprintln!("{error}");
            }
            if let Some(path) = &written {
                eprintln!("the bad rows with their reasons are in {path}");
            }
            return Err(ExchangeError::RowsRejected { errors }.into());
        }
        Err(e) => return Err(e.into()),
    };
    if cli.json {
        let rejected_rows: Vec<_> = summary
            .rejected
            .iter()
            .map(|e| serde_json::json!({"line": e.line, "reason": e.reason}))
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "rows": summary.rows,
                "applied": summary.applied,
                "duplicates": summary.duplicates,
                "rejected": rejected_rows,
                "pending_approval": summary.pending_approval,
                "rejects_file": written,
            })
        );
    } else {
        println!(
            "{} rows: {} applied, {} already there, {} rejected",
            summary.rows,
            summary.applied,
            summary.duplicates,
            summary.rejected.len()
        );
        for error in &summary.rejected {
            println!("  {error}");
        }
        if !summary.pending_approval.is_empty() {
            println!(
                "lines waiting for approval (`welfare-ledger request list`): {:?}",
                summary.pending_approval
            );
        }
        if let Some(path) = &written {
            println!("the rejected rows with their reasons are in {path}");
        }
    }
    Ok(if summary.rejected.is_empty() {
        exit::OK
    } else {
        exit::REJECTED
    })
}

/// `payments.csv` → `payments.rejects.csv`, in the same directory.
fn rejects_beside(file: &Path) -> PathBuf {
    let stem = file.file_stem().unwrap_or_default().to_string_lossy();
    file.with_file_name(format!("{stem}.rejects.csv"))
}
