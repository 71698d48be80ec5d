//! A record-for-record copy (`backup`) writes the original's header, so the copy keeps
//! the original's format version and with it its kind of chunks (docs/FORMAT.md §8):
//! a ledger of format 1 stays plain, one of format 2 is compressed.

use std::sync::Arc;

use chrono::NaiveDate;
use ledger_exchange::RecordCopier;
use ledger_store::codec::{self, Header};
use ledger_store::{
    Actor, AppendBatch, Backend, CommandId, EventType, ExpectedVersion, FixedClock, HashAlgorithm,
    Log, Memo, NewEvent, SledBackend, StreamName, LOG_TREE,
};

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(1_600_000_000_000))
}

/// A ledger of `format_version` at `dir` with 200 events, and its stored values.
fn ledger(dir: &std::path::Path, format_version: u16) -> Vec<Vec<u8>> {
    let backend = SledBackend::open(dir).unwrap();
    let header = Header {
        format_version,
        hash_algorithm: HashAlgorithm::Sha256,
        created_at_ms: 1_600_000_000_000,
    };
    backend
        .write_header(&codec::encode_header(&header))
        .unwrap();
    let log = Log::open(backend, None, clock()).unwrap();
    for i in 0..200u32 {
        log.append(AppendBatch {
            command_id: CommandId::new(format!("c{i}")).unwrap(),
            events: vec![NewEvent {
                stream: StreamName::new("fund-a").unwrap(),
                expected: ExpectedVersion::Any,
                event_type: EventType::new("PaymentRecorded").unwrap(),
                schema_version: 1,
                payload: [i.to_le_bytes().as_slice(), &[0xAB; 200]].concat(),
                actor: Actor::new("clerk-1").unwrap(),
                effective_date: NaiveDate::from_ymd_opt(2021, 6, 30).unwrap(),
                memo: Memo::new("test").unwrap(),
            }],
        })
        .unwrap();
    }
    stored(&log)
}

fn stored<B: Backend>(log: &Log<B>) -> Vec<Vec<u8>> {
    log.read_raw(0, 1_000)
        .unwrap()
        .into_iter()
        .map(|raw| [raw.record, raw.hash.to_vec()].concat())
        .collect()
}

#[test]
fn a_copy_keeps_the_format_version_and_its_kind_of_chunks() {
    for format_version in [1, 2] {
        let original = tempfile::tempdir().unwrap();
        let values = ledger(original.path(), format_version);
        let log = Log::open(SledBackend::open(original.path()).unwrap(), None, clock()).unwrap();
        let header = log.backend().read_header().unwrap().unwrap();

        let target = tempfile::tempdir().unwrap();
        let copy = SledBackend::open(target.path()).unwrap();
        let mut copier = RecordCopier::start(&copy, &header).unwrap();
        for raw in log.read_raw(0, 1_000).unwrap() {
            copier.push(raw).unwrap();
        }
        assert_eq!(copier.finish().unwrap(), log.head());

        // The copy's records reach sled once stored (decision 0019), as a read would.
        copy.store_durable().unwrap();
        let stored_header = codec::decode_header(&copy.read_header().unwrap().unwrap()).unwrap();
        assert_eq!(stored_header.format_version, format_version);
        let tree = copy.db().open_tree(LOG_TREE).unwrap();
        let chunks: Vec<_> = tree
            .scan_prefix([codec::RECORD_KEY_PREFIX])
            .values()
            .map(Result::unwrap)
            .collect();
        assert!(chunks.len() > 5);
        let compressed = chunks
            .iter()
            .all(|chunk| chunk.starts_with(&codec::COMPRESSED_CHUNK_TAG));
        let plain = chunks
            .iter()
            .all(|chunk| !chunk.starts_with(&codec::COMPRESSED_CHUNK_TAG));
        assert!(
            if format_version == 1 {
                plain
            } else {
                compressed
            },
            "format {format_version}: chunks plain {plain}, compressed {compressed}"
        );
        drop(tree);
        let copied = Log::open(copy, None, clock()).unwrap();
        assert_eq!(stored(&copied), values);
        assert!(copied.verify().unwrap().first_break.is_none());
    }
}
