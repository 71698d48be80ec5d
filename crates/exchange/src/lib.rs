//! Welfare Ledger's exchange formats: what leaves the ledger for auditors and
//! spreadsheets, and what enters it in bulk.
//!
//! - [`export_jsonl`]: one JSON line per event with its position, the chain hashes and
//!   the exact record bytes that were hashed (base64), so that an auditor can recompute
//!   `hash = H(prev_hash ‖ record)` with `docs/tools/verify_export.py` or any
//!   implementation of docs/FORMAT.md §11, plus the decoded event for reading.
//! - [`export_csv`]: one row per event with Chinese and English headers and amounts as
//!   plain decimal text, for spreadsheets.
//! - [`parse_payments`] and [`import_payments`]: a CSV file of payment commands, parsed
//!   and checked row by row (including a dry run of the domain rules against the
//!   engine's current state), then applied all or nothing, or with bad rows skipped
//!   into a rejects file. Command ids derive from the file's bytes and the line number,
//!   so running the same file again applies only what is missing.
//!
//! docs/EXCHANGE.md describes every field and column. Exports stream in pages of
//! [`EXPORT_PAGE_EVENTS`] events, so memory does not grow with the log. Every
//! operation takes a progress callback `(done, total)`; pass `&mut |_, _| {}` for none.
//!
//! How a command line would call them (errors and output files are its business):
//!
//! ```no_run
//! # fn run(engine: &ledger_engine::Engine<ledger_store::SledBackend>) -> Result<(), ledger_exchange::ExchangeError> {
//! use ledger_exchange::{export_csv, export_jsonl, import_payments, CsvExportOptions, ImportOptions};
//!
//! let mut show = |done: u64, total: u64| eprint!("\r{done}/{total}");
//! let mut out = std::fs::File::create("ledger.jsonl")?;
//! export_jsonl(&engine.log()?, .., &mut out, &mut show)?;
//! let mut out = std::fs::File::create("events.csv")?;
//! export_csv(&engine.log()?, 1_000..2_000, CsvExportOptions::default(), &mut out, &mut show)?;
//!
//! let file = std::fs::read("payments.csv")?;
//! let clerk = ledger_domain::UserId::new("clerk-0042").expect("a valid user id");
//! let options = ImportOptions::now(clerk, false);
//! let mut rejects = Vec::new();
//! let result = import_payments(engine, &file, &options, &mut rejects, &mut show);
//! if !rejects.is_empty() {
//!     std::fs::write("payments.rejects.csv", &rejects)?;
//! }
//! let summary = result?;
//! println!("{} applied, {} already there", summary.applied, summary.duplicates);
//! # Ok(())
//! # }
//! ```
//!
//! No personal information enters the log through an import: a file with a column
//! that looks like names, ID numbers, phone numbers, bank accounts or addresses is
//! refused as a whole, and a row whose free text holds a long run of digits is refused.

mod csv_export;
mod import;
mod jsonl;
mod restore;

use std::ops::{Bound, RangeBounds};

use ledger_engine::EngineError;
use ledger_store::StoreError;

pub use csv_export::{export_csv, CsvExportOptions, CSV_EXPORT_COLUMNS};
pub use import::{
    import_payments, parse_payments, ImportOptions, ImportSummary, Language, PaymentFile,
    PaymentRow, RowError, IMPORT_BYTES_MAX, IMPORT_COLUMNS, IMPORT_ROWS_MAX, IMPORT_WINDOW_ROWS,
};
pub use jsonl::{export_jsonl, JSONL_FORMAT, JSONL_VERSION};
pub use restore::{restore_jsonl, RecordCopier, COPY_BATCH_RECORDS};

/// Events read from the log per page while exporting (the memory bound of an export).
pub const EXPORT_PAGE_EVENTS: usize = 1_024;

/// A progress callback: `(done, total)` in events (exports) or rows (imports).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    /// The first position exported.
    pub from_position: u64,
    /// One past the last position exported.
    pub to_position: u64,
    /// The chain hash of the last event exported (its predecessor's when none was).
    pub last_hash: [u8; 32],
}

impl Exported {
    /// Number of events written.
    pub fn events(&self) -> u64 {
        self.to_position - self.from_position
    }
}

/// Why an export or import failed as a whole. Row problems of an import are
/// [`RowError`]s, collected rather than returned one by one.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("cannot export positions {from}..{to}: the log holds positions 0..{head}; choose a range inside it")]
    Range { from: u64, to: u64, head: u64 },
    #[error("writing the export failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing CSV failed: {0}")]
    Csv(#[from] csv::Error),
    #[error(
        "the stored chain is broken at position {position}: {what}; run `verify` on the ledger"
    )]
    Chain { position: u64, what: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The import file itself is unusable (encoding, header, size); nothing was applied.
    #[error("{0}")]
    File(String),
    /// The file carries personal information; nothing was applied.
    #[error("the file has columns that look like personal information ({}); remove them and identify beneficiaries by their opaque ids", columns.join(", "))]
    PersonalInformation { columns: Vec<String> },
    /// All or nothing: some rows are bad, so no row was applied.
    #[error("{} of the file's rows are bad, so nothing was applied; the first: {}", errors.len(), errors.first().map(ToString::to_string).unwrap_or_default())]
    RowsRejected { errors: Vec<RowError> },
    /// Applying stopped on an operating error after `applied` rows; running the same
    /// file again applies only the rest.
    #[error("the import stopped after applying {applied} rows at line {line}: {cause}; run the same file again to apply the rest")]
    Interrupted {
        applied: u64,
        line: u64,
        cause: EngineError,
    },
}

impl ExchangeError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ExchangeError::Range { .. } => "export_range",
            ExchangeError::Io(_) => "io",
            ExchangeError::Csv(_) => "csv",
            ExchangeError::Chain { .. } => "corruption",
            ExchangeError::Store(e) => e.code(),
            ExchangeError::Engine(e) => e.code(),
            ExchangeError::File(_) => "import_file",
            ExchangeError::PersonalInformation { .. } => "personal_information",
            ExchangeError::RowsRejected { .. } => "import_rows_rejected",
            ExchangeError::Interrupted { .. } => "import_interrupted",
        }
    }
}

/// Resolves a position range against the head: `..` is the whole log.
fn resolve_range(range: impl RangeBounds<u64>, head: u64) -> Result<(u64, u64), ExchangeError> {
    let from = match range.start_bound() {
        Bound::Included(&p) => p,
        Bound::Excluded(&p) => p.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let to = match range.end_bound() {
        Bound::Included(&p) => p.saturating_add(1),
        Bound::Excluded(&p) => p,
        Bound::Unbounded => head,
    };
    if from > to || to > head {
        return Err(ExchangeError::Range { from, to, head });
    }
    Ok((from, to))
}

/// One event as the exports see it: the exact stored bytes and their decodings.
struct ExportedEvent {
    raw: ledger_store::RawRecord,
    stored: ledger_store::RecordedEvent,
    recorded: ledger_domain::Recorded,
}

/// Reads the events `from..to` page by page, checks that each links to the one
/// before it and rehashes to its stored hash, and hands each to `each` in order.
/// Returns the hash of the last event visited (or of the one before `from`).
fn for_each_event<B: ledger_store::Backend>(
    log: &ledger_store::Log<B>,
    from: u64,
    to: u64,
    progress: Progress<'_>,
    mut each: impl FnMut(&ExportedEvent) -> Result<(), ExchangeError>,
) -> Result<[u8; 32], ExchangeError> {
    let algorithm = log.algorithm();
    let total = to - from;
    progress(0, total);
    // The hash before the range: the first record must link to it.
    let mut prev_hash = match from.checked_sub(1) {
        None => ledger_store::GENESIS_HASH,
        Some(before) => match log.read_raw(before, 1)?.pop() {
            Some(raw) => raw.hash,
            None => {
                return Err(ExchangeError::Chain {
                    position: before,
                    what: "record is missing".into(),
                })
            }
        },
    };
    let mut next = from;
    while next < to {
        let wanted = usize::try_from(to - next).unwrap_or(usize::MAX);
        let page = log.read_raw(next, wanted.min(EXPORT_PAGE_EVENTS))?;
        if page.is_empty() {
            return Err(ExchangeError::Chain {
                position: next,
                what: "record is missing".into(),
            });
        }
        for raw in page {
            let position = raw.position;
            let broken = |what: String| ExchangeError::Chain { position, what };
            let stored = ledger_store::codec::decode_record(&raw.record, raw.hash)
                .map_err(|e| broken(e.0))?;
            if stored.position != next {
                return Err(broken(format!(
                    "record claims position {}",
                    stored.position
                )));
            }
            if stored.prev_hash != prev_hash {
                return Err(broken(
                    "its prev_hash is not the stored hash of the record before it".into(),
                ));
            }
            if algorithm.chain(&stored.prev_hash, &raw.record) != raw.hash {
                return Err(broken(
                    "its bytes do not hash to the stored hash: the record was altered".into(),
                ));
            }
            let recorded = ledger_engine::recorded_event(&stored)?;
            prev_hash = raw.hash;
            each(&ExportedEvent {
                raw,
                stored,
                recorded,
            })?;
            next += 1;
        }
        progress(next - from, total);
    }
    Ok(prev_hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_against_the_head() {
        assert_eq!(resolve_range(.., 10).unwrap(), (0, 10));
        assert_eq!(resolve_range(3.., 10).unwrap(), (3, 10));
        assert_eq!(resolve_range(3..=4, 10).unwrap(), (3, 5));
        assert_eq!(resolve_range(10..10, 10).unwrap(), (10, 10));
        assert!(matches!(
            resolve_range(5..11, 10),
            Err(ExchangeError::Range { to: 11, .. })
        ));
        assert!(resolve_range((Bound::Included(6), Bound::Excluded(5)), 10).is_err());
    }
}
