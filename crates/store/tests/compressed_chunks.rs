//! Chunks of a ledger of format 2 are stored compressed, unless compressing would not
//! make one smaller (decision 0029); a ledger of format 1 keeps plain chunks, which a
//! program of format 1 reads. Each test reads sled's values directly, as
//! docs/FORMAT.md §8 describes them.

mod common;

use std::path::Path;

use common::*;
use ledger_store::codec::{self, Header, COMPRESSED_CHUNK_TAG, RECORD_KEY_PREFIX};
use ledger_store::{
    Backend, ExpectedVersion, HashAlgorithm, Log, SledBackend, StoreError, LOG_TREE, SLED_DIR,
};

/// Every chunk of the ledger at `dir` as sled holds it, with its key.
fn stored_chunks(dir: &Path) -> Vec<(sled::IVec, Vec<u8>)> {
    let db = raw_sled(&dir.join(SLED_DIR));
    let tree = db.open_tree(LOG_TREE).unwrap();
    tree.scan_prefix([RECORD_KEY_PREFIX])
        .map(|item| {
            let (key, chunk) = item.unwrap();
            (key, chunk.to_vec())
        })
        .collect()
}

fn is_compressed(chunk: &[u8]) -> bool {
    chunk[..4] == COMPRESSED_CHUNK_TAG
}

/// Every stored value of the log (record ‖ hash), in order.
fn stored_values<B: Backend>(log: &Log<B>) -> Vec<Vec<u8>> {
    let head = usize::try_from(log.head().next_position).unwrap();
    log.read_raw(0, head)
        .unwrap()
        .into_iter()
        .map(|raw| [raw.record, raw.hash.to_vec()].concat())
        .collect()
}

/// Bytes that do not compress: a xorshift stream.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

#[test]
fn a_new_ledger_stores_compressed_chunks_and_reads_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(dir.path()).unwrap());
    append_numbered(&log, 0, 150);
    // A record too random to compress, in a chunk of its own: stored plain.
    log.append(batch(
        "noise",
        vec![event("fund-b", ExpectedVersion::Any, &noise(5_000, 7))],
    ))
    .unwrap();
    append_numbered(&log, 151, 200);
    let written = stored_values(&log);
    assert_eq!(written.len(), 200);
    drop(log);

    let chunks = stored_chunks(dir.path());
    let compressed = chunks.iter().filter(|(_, c)| is_compressed(c)).count();
    assert!(
        compressed > 0 && compressed < chunks.len(),
        "{compressed} of {} compressed",
        chunks.len()
    );
    let mut buffer = Vec::new();
    let (mut stored_bytes, mut plain_bytes) = (0, 0);
    for (_, chunk) in &chunks {
        stored_bytes += chunk.len();
        plain_bytes += codec::plain_chunk(chunk, &mut buffer).unwrap().len();
    }
    assert!(
        stored_bytes * 2 < plain_bytes,
        "{stored_bytes} bytes stored for {plain_bytes} of chunks"
    );

    let log = Log::open(SledBackend::open(dir.path()).unwrap(), None, clock()).unwrap();
    assert_eq!(log.head().next_position, 200);
    assert_eq!(stored_values(&log), written);
    assert!(log.verify().unwrap().first_break.is_none());
    // Point reads through the backend, each from the chunk that holds the position.
    for position in [0, 77, 150, 199] {
        let stored = log.backend().read(position).unwrap();
        assert_eq!(
            stored.as_ref(),
            Some(&written[usize::try_from(position).unwrap()])
        );
    }
    assert_eq!(log.backend().read(200).unwrap(), None);
}

#[test]
fn a_ledger_of_format_1_keeps_plain_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let backend = SledBackend::open(dir.path()).unwrap();
    let header = Header {
        format_version: 1,
        hash_algorithm: HashAlgorithm::Sha256,
        created_at_ms: 1_600_000_000_000,
    };
    backend
        .write_header(&codec::encode_header(&header))
        .unwrap();
    let log = Log::open(backend, None, clock()).unwrap();
    append_numbered(&log, 0, 100);
    drop(log);
    // Reopened, it still writes plain chunks.
    let log = Log::open(SledBackend::open(dir.path()).unwrap(), None, clock()).unwrap();
    append_numbered(&log, 100, 150);
    let written = stored_values(&log);
    drop(log);

    let chunks = stored_chunks(dir.path());
    assert!(chunks.len() > 5);
    assert!(chunks.iter().all(|(_, c)| !is_compressed(c)));
    let backend = SledBackend::open(dir.path()).unwrap();
    let stored_header = codec::decode_header(&backend.read_header().unwrap().unwrap()).unwrap();
    assert_eq!(stored_header, header);
    let log = Log::open(backend, None, clock()).unwrap();
    assert_eq!(stored_values(&log), written);
    assert!(log.verify().unwrap().first_break.is_none());
}

/// A compressed chunk whose block is cut short does not decompress: `verify` names
/// the chunk's first position, and nothing panics.
#[test]
fn a_damaged_compressed_chunk_is_named_by_its_first_position() {
    let dir = tempfile::tempdir().unwrap();
    let log = create(SledBackend::open(dir.path()).unwrap());
    append_numbered(&log, 0, 100);
    drop(log);
    let chunks = stored_chunks(dir.path());
    let (key, chunk) = &chunks[chunks.len() / 2];
    assert!(is_compressed(chunk));
    let first = codec::position_of_key(key).unwrap();
    {
        let db = raw_sled(&dir.path().join(SLED_DIR));
        let tree = db.open_tree(LOG_TREE).unwrap();
        tree.insert(key, &chunk[..chunk.len() - 20]).unwrap();
        db.flush().unwrap();
    }
    let backend = SledBackend::open(dir.path()).unwrap();
    let outcome = Log::verify_storage(&backend);
    match outcome {
        Err(StoreError::Corruption {
            position: Some(p),
            what,
        }) => {
            assert_eq!(p, first);
            assert!(what.contains("compressed chunk"), "{what}");
        }
        other => panic!("expected corruption at {first}, got {other:?}"),
    }
}
