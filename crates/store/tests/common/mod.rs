//! Builders shared by the store's integration tests.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::NaiveDate;
use ledger_store::{
    Actor, AppendBatch, Backend, CommandId, EventType, ExpectedVersion, FixedClock, HashAlgorithm,
    Log, Memo, NewEvent, StreamName,
};

pub fn stream(name: &str) -> StreamName {
    StreamName::new(name).unwrap()
}

pub fn event(stream_name: &str, expected: ExpectedVersion, payload: &[u8]) -> NewEvent {
    NewEvent {
        stream: stream(stream_name),
        expected,
        event_type: EventType::new("PaymentRecorded").unwrap(),
        schema_version: 1,
        payload: payload.to_vec(),
        actor: Actor::new("clerk-1").unwrap(),
        effective_date: NaiveDate::from_ymd_opt(2021, 6, 30).unwrap(),
        memo: Memo::new("test").unwrap(),
    }
}

pub fn batch(command_id: &str, events: Vec<NewEvent>) -> AppendBatch {
    AppendBatch {
        command_id: CommandId::new(command_id).unwrap(),
        events,
    }
}

pub fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(1_600_000_000_000))
}

pub fn create<B: Backend>(backend: B) -> Log<B> {
    Log::create(backend, HashAlgorithm::Sha256, clock()).unwrap()
}

/// An event payload of about `size` bytes, distinct per `n`.
pub fn payload(n: u64, size: usize) -> Vec<u8> {
    let mut p = n.to_le_bytes().to_vec();
    p.resize(size.max(8), 0xAB);
    p
}

/// Appends events `from..to`, one command each (`c{i}`), to the stream `fund-a`, with
/// payloads of 300 bytes distinct per event (`payload(i, 300)`).
pub fn append_numbered<B: Backend>(log: &Log<B>, from: u64, to: u64) {
    for i in from..to {
        log.append(batch(
            &format!("c{i}"),
            vec![event("fund-a", ExpectedVersion::Any, &payload(i, 300))],
        ))
        .unwrap();
    }
}

/// Opens a sled database directly, as an insider's tool would, waiting for the lock
/// that sled 0.34 releases a moment after the previous handle is dropped.
pub fn raw_sled(path: &std::path::Path) -> sled::Db {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        match ledger_store::sled_config(path).open() {
            Ok(db) => return db,
            Err(e)
                if std::time::Instant::now() < deadline
                    && e.to_string().contains("could not acquire lock") =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("opening sled at {}: {e}", path.display()),
        }
    }
}

/// The stored values of a chunk as sled holds it, plain or compressed.
pub fn chunk_values(chunk: &[u8]) -> Vec<Vec<u8>> {
    let mut buffer = Vec::new();
    let plain = ledger_store::codec::plain_chunk(chunk, &mut buffer).unwrap();
    ledger_store::codec::chunk_entries(plain)
        .map(|v| v.unwrap().to_vec())
        .collect()
}

/// Replaces the chunk at `key` with `values`, packed and compressed as a ledger of the
/// current format stores them (an empty chunk if there are none).
pub fn rewrite_chunk(tree: &sled::Tree, key: &[u8], values: &[Vec<u8>]) {
    let rebuilt = match &ledger_store::codec::encode_chunks(values)[..] {
        [] => Vec::new(),
        [(0, plain)] => ledger_store::codec::compress_chunk(plain.clone()),
        _ => panic!("the values of one chunk fit one chunk"),
    };
    tree.insert(key, rebuilt).unwrap();
}
