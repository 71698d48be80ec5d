//! The auditor's JSONL export: a header line, then one line per event with the exact
//! record bytes that the chain hashed, so that the chain can be recomputed from the
//! file and docs/FORMAT.md alone (docs/tools/verify_export.py does it).

use std::io::Write;
use std::ops::RangeBounds;

use base64::Engine as _;
use ledger_domain::Recorded;
use ledger_store::{Backend, Log};
use serde::Serialize;

use crate::{for_each_event, resolve_range, ExchangeError, Exported, Progress};

/// The `format` value of the header line.
pub const JSONL_FORMAT: &str = "welfare-ledger-export";
/// The `version` value of the header line; a change of any field's meaning raises it.
pub const JSONL_VERSION: u32 = 1;

/// The first line of an export.
#[derive(Serialize)]
struct HeaderLine<'a> {
    format: &'a str,
    version: u32,
    /// `sha256` or `sm3`: H of docs/FORMAT.md §4, for every line of the file.
    hash_algorithm: &'a str,
    /// The first position exported, and one past the last.
    from_position: u64,
    to_position: u64,
    /// The log's head when the export started: its event count and last hash.
    head_position: u64,
    head_hash: String,
    /// When the ledger was created (its header's `created_at_ms`), so that a backup
    /// restored from the export has the original's header byte for byte.
    ledger_created_at_ms: i64,
}

/// One event.
#[derive(Serialize)]
struct EventLine<'a> {
    position: u64,
    prev_hash: String,
    hash: String,
    /// Base64 (RFC 4648, with padding) of the record bytes: the stored value without
    /// its last 32 bytes, exactly what the chain hashed.
    record: String,
    memo: &'a str,
    /// The domain envelope: a decoding of the record's fields and payload, for reading.
    event: &'a Recorded,
}

/// Writes the events in `range` (positions; `..` is the whole log, an open end is the
/// head when the export starts) as JSON lines to `out`: first a header line, then one
/// line per event, each ending in `\n`. Streams page by page; reports `(events
/// written, events in range)` to `progress`. Refuses to export a record that does not
/// link to its predecessor or does not rehash to its stored hash.
pub fn export_jsonl<B: Backend>(
    log: &Log<B>,
    range: impl RangeBounds<u64>,
    out: &mut dyn Write,
    progress: Progress<'_>,
) -> Result<Exported, ExchangeError> {
    let head = log.head();
    let (from, to) = resolve_range(range, head.next_position)?;
    let mut out = std::io::BufWriter::new(out);
    let header = HeaderLine {
        format: JSONL_FORMAT,
        version: JSONL_VERSION,
        hash_algorithm: log.algorithm().name(),
        from_position: from,
        to_position: to,
        head_position: head.next_position,
        head_hash: hex::encode(head.hash),
        ledger_created_at_ms: ledger_created_at_ms(log)?,
    };
    serde_json::to_writer(&mut out, &header).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    let base64 = base64::engine::general_purpose::STANDARD;
    let last_hash = for_each_event(log, from, to, progress, |event| {
        let line = EventLine {
            position: event.raw.position,
            prev_hash: hex::encode(event.stored.prev_hash),
            hash: hex::encode(event.raw.hash),
            record: base64.encode(&event.raw.record),
            memo: event.stored.memo.as_str(),
            event: &event.recorded,
        };
        serde_json::to_writer(&mut out, &line).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
        Ok(())
    })?;
    out.flush()?;
    Ok(Exported {
        from_position: from,
        to_position: to,
        last_hash,
    })
}

/// The ledger's creation time from its stored header.
fn ledger_created_at_ms<B: Backend>(log: &Log<B>) -> Result<i64, ExchangeError> {
    let bytes = log.backend().read_header()?.ok_or(ExchangeError::Chain {
        position: 0,
        what: "the ledger has no header".into(),
    })?;
    let header = ledger_store::codec::decode_header(&bytes).map_err(|e| ExchangeError::Chain {
        position: 0,
        what: format!("the ledger's header: {}", e.0),
    })?;
    Ok(header.created_at_ms)
}
