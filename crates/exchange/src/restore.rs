//! Copying a ledger record for record: from another log (`backup` at the console) or
//! from a whole-log JSONL export (`backup --server`, a copy of a ledger that a running
//! server holds). The copy's records, hashes and header are the original's bytes; the
//! caller reopens it and verifies its chain.

use std::io::BufRead;

use base64::Engine as _;
use ledger_store::codec::{encode_head, encode_header, HeadMarker, Header, FORMAT_VERSION};
use ledger_store::{Backend, HashAlgorithm, Head, RawRecord};
use serde::Deserialize;

use crate::{ExchangeError, Progress, JSONL_FORMAT, JSONL_VERSION};

/// Records written per write and flush of the copy.
pub const COPY_BATCH_RECORDS: usize = 4_096;

/// Writes records, in position order from 0, into an empty backend.
#[derive(Debug)]
pub struct RecordCopier<'a, B: Backend> {
    target: &'a B,
    next: u64,
    last_hash: [u8; 32],
    batch: Vec<Vec<u8>>,
}

impl<'a, B: Backend> RecordCopier<'a, B> {
    /// Starts a copy: writes the original's header bytes to an empty `target`.
    pub fn start(target: &'a B, header: &[u8]) -> Result<Self, ExchangeError> {
        if target.read_header()?.is_some() || target.last_position()?.is_some() {
            return Err(ExchangeError::File(
                "the backup's target already holds a ledger; give it a new or empty directory"
                    .into(),
            ));
        }
        target.write_header(header)?;
        Ok(RecordCopier {
            target,
            next: 0,
            last_hash: [0; 32],
            batch: Vec::new(),
        })
    }

    /// Adds the next record (its position must follow the previous one).
    pub fn push(&mut self, raw: RawRecord) -> Result<(), ExchangeError> {
        let expected = self.next + self.batch.len() as u64;
        if raw.position != expected {
            return Err(ExchangeError::Chain {
                position: raw.position,
                what: format!("the copy expected position {expected} next"),
            });
        }
        let mut value = raw.record;
        value.extend_from_slice(&raw.hash);
        self.batch.push(value);
        self.last_hash = raw.hash;
        if self.batch.len() >= COPY_BATCH_RECORDS {
            self.write()?;
        }
        Ok(())
    }

    fn write(&mut self) -> Result<(), ExchangeError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let next = self.next + self.batch.len() as u64;
        let marker = encode_head(&HeadMarker {
            next_position: next,
            hash: self.last_hash,
        });
        self.target.write(self.next, &self.batch, &marker)?;
        self.target.flush()?;
        self.batch.clear();
        self.next = next;
        Ok(())
    }

    /// Writes what is left; returns the copy's head.
    pub fn finish(mut self) -> Result<Head, ExchangeError> {
        self.write()?;
        Ok(Head {
            next_position: self.next,
            hash: self.last_hash,
        })
    }

    /// Records copied so far (written or waiting in the batch).
    pub fn copied(&self) -> u64 {
        self.next + self.batch.len() as u64
    }
}

#[derive(Deserialize)]
struct HeaderLine {
    format: String,
    version: u32,
    hash_algorithm: String,
    from_position: u64,
    to_position: u64,
    head_hash: String,
    ledger_created_at_ms: Option<i64>,
}

#[derive(Deserialize)]
struct EventLine {
    position: u64,
    hash: String,
    record: String,
}

/// Rebuilds a ledger in the empty `target` from a JSONL export of the whole log (from
/// position 0 to the head). Returns the copy's head, which the caller compares with the
/// export's `head_hash` after reopening and verifying the copy.
pub fn restore_jsonl<B: Backend>(
    input: &mut dyn BufRead,
    target: &B,
    progress: Progress<'_>,
) -> Result<Head, ExchangeError> {
    let bad = |what: String| ExchangeError::File(format!("not a whole-ledger export: {what}"));
    let mut lines = input.lines();
    let first = lines
        .next()
        .ok_or_else(|| bad("the export is empty".into()))??;
    let header: HeaderLine =
        serde_json::from_str(&first).map_err(|e| bad(format!("the header line: {e}")))?;
    if header.format != JSONL_FORMAT || header.version != JSONL_VERSION {
        return Err(bad(format!(
            "format {} version {} (expected {JSONL_FORMAT} version {JSONL_VERSION})",
            header.format, header.version
        )));
    }
    if header.from_position != 0 {
        return Err(bad(format!(
            "it starts at position {}, not 0",
            header.from_position
        )));
    }
    let algorithm = match header.hash_algorithm.as_str() {
        "sha256" => HashAlgorithm::Sha256,
        "sm3" => HashAlgorithm::Sm3,
        other => return Err(bad(format!("unknown hash algorithm {other}"))),
    };
    let ledger_header = encode_header(&Header {
        format_version: FORMAT_VERSION,
        hash_algorithm: algorithm,
        created_at_ms: header.ledger_created_at_ms.unwrap_or(0),
    });
    let mut copier = RecordCopier::start(target, &ledger_header)?;
    let base64 = base64::engine::general_purpose::STANDARD;
    for (i, line) in lines.enumerate() {
        let line = line?;
        let event: EventLine =
            serde_json::from_str(&line).map_err(|e| bad(format!("line {}: {e}", i + 2)))?;
        let record = base64
            .decode(&event.record)
            .map_err(|e| bad(format!("line {}: record: {e}", i + 2)))?;
        let mut hash = [0u8; 32];
        hex::decode_to_slice(&event.hash, &mut hash)
            .map_err(|e| bad(format!("line {}: hash: {e}", i + 2)))?;
        copier.push(RawRecord {
            position: event.position,
            record,
            hash,
        })?;
        progress(copier.copied(), header.to_position);
    }
    let head = copier.finish()?;
    if head.next_position != header.to_position || hex::encode(head.hash) != header.head_hash {
        return Err(bad(format!(
            "it ends at position {} with hash {}, but its header says {} and {}",
            head.next_position,
            hex::encode(head.hash),
            header.to_position,
            header.head_hash
        )));
    }
    Ok(head)
}
