//! Pins the on-disk format: the committed files under `tests/golden/v1/` hold a
//! ledger header and a hash chain of records exactly as format version 1 writes
//! them. Every future version must still decode them to the same values, and must
//! link them into the same chain. While record layout 1 is current, encoding the same
//! values must also give the same bytes. `tests/golden/v2/` holds what format version
//! 2 added: its header, and the SHA-256 chain's four records in one compressed chunk
//! (decision 0029). `WELFARE_BLESS_GOLDEN=1` writes the files of the current version's
//! folder (only ever for a new format version; never rewrite an earlier one).

// Test data are small counts and indexes: truncating casts cannot happen here.
#![allow(clippy::cast_possible_truncation)]

use std::path::PathBuf;

use chrono::NaiveDate;
use ledger_store::codec::{self, Header, Placement, FORMAT_VERSION, FORMAT_VERSION_OLDEST};
use ledger_store::{
    Actor, CommandId, EventType, ExpectedVersion, HashAlgorithm, Memo, NewEvent, StreamName,
    GENESIS_HASH,
};

fn dir(format_version: u16) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/v{format_version}"))
}

/// The values behind each golden record: (command id, index, count, stream, version,
/// event type, schema, actor, date, memo, payload).
/// (command id, index, count, stream, version, event type, schema, actor, date, memo, payload)
type GoldenEvent = (
    &'static str,
    u32,
    u32,
    &'static str,
    u64,
    &'static str,
    u16,
    &'static str,
    NaiveDate,
    &'static str,
    Vec<u8>,
);

fn golden_events() -> Vec<GoldenEvent> {
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
    vec![
        (
            "cmd-0001",
            0,
            1,
            "fund-SM-2021-REVOLVING",
            0,
            "FundOpened",
            1,
            "admin-sanming",
            d(2021, 1, 1),
            "三明市 滚动资金 2021",
            b"{\"programme\":\"revolving\"}".to_vec(),
        ),
        (
            "cmd-0002",
            0,
            2,
            "fund-SM-2021-REVOLVING",
            1,
            "LoanDisbursed",
            1,
            "clerk-0042",
            d(2021, 3, 15),
            "第十七批",
            vec![0, 1, 2, 3, 255, 254],
        ),
        (
            "cmd-0002",
            1,
            2,
            "loan-L000001",
            0,
            "LoanScheduled",
            1,
            "clerk-0042",
            d(2021, 3, 15),
            "",
            vec![],
        ),
        (
            "cmd-0003",
            0,
            1,
            "fund-SM-2021-BURSARY",
            0,
            "BursaryAwarded",
            2,
            "clerk-0007",
            d(1999, 12, 31),
            "金秋助学",
            (0u8..=255).collect(),
        ),
    ]
}

fn header(format_version: u16) -> Header {
    Header {
        format_version,
        hash_algorithm: HashAlgorithm::Sha256,
        created_at_ms: 1_609_459_200_000,
    }
}

fn encode_all(algorithm: HashAlgorithm) -> Vec<Vec<u8>> {
    let mut prev = GENESIS_HASH;
    golden_events()
        .into_iter()
        .enumerate()
        .map(
            |(
                position,
                (cmd, index, count, stream, version, ty, schema, actor, date, memo, payload),
            )| {
                let event = NewEvent {
                    stream: StreamName::new(stream).unwrap(),
                    expected: ExpectedVersion::Any,
                    event_type: EventType::new(ty).unwrap(),
                    schema_version: schema,
                    payload,
                    actor: Actor::new(actor).unwrap(),
                    effective_date: date,
                    memo: Memo::new(memo).unwrap(),
                };
                let command_id = CommandId::new(cmd).unwrap();
                let mut bytes = codec::encode_record(
                    &event,
                    Placement {
                        position: position as u64,
                        prev_hash: prev,
                        recorded_at_ms: 1_609_459_200_000 + position as i64,
                        command_id: &command_id,
                        command_event_index: index,
                        command_event_count: count,
                        stream_version: version,
                    },
                );
                let hash = algorithm.chain(&prev, &bytes);
                bytes.extend_from_slice(&hash);
                prev = hash;
                bytes
            },
        )
        .collect()
}

/// A golden file of format version 1, the records' folder.
fn file(name: &str) -> PathBuf {
    dir(FORMAT_VERSION_OLDEST).join(name)
}

/// The golden chunk of format version 2: the SHA-256 chain's four records, packed and
/// compressed as a ledger of that version stores them.
fn fresh_chunk() -> Vec<u8> {
    let chunks = codec::encode_chunks(&encode_all(HashAlgorithm::Sha256));
    let [(0, plain)] = &chunks[..] else {
        panic!("the four golden records fit one chunk");
    };
    codec::compress_chunk(plain.clone())
}

#[test]
fn bless_golden_files_when_asked() {
    if std::env::var("WELFARE_BLESS_GOLDEN").as_deref() != Ok("1") {
        return;
    }
    let current = dir(FORMAT_VERSION);
    std::fs::create_dir_all(&current).unwrap();
    std::fs::write(
        current.join("header.bin"),
        codec::encode_header(&header(FORMAT_VERSION)),
    )
    .unwrap();
    std::fs::write(current.join("sha256-chunk-0.bin"), fresh_chunk()).unwrap();
}

#[test]
fn golden_headers_decode() {
    for version in FORMAT_VERSION_OLDEST..=FORMAT_VERSION {
        let bytes = std::fs::read(dir(version).join("header.bin"))
            .expect("each version's golden header is committed");
        assert_eq!(codec::decode_header(&bytes).unwrap(), header(version));
        assert_eq!(
            codec::encode_header(&header(version)),
            bytes,
            "a header of format version {version} must encode byte for byte as before"
        );
    }
}

/// The compressed chunk decodes to the four golden records of version 1, byte for
/// byte. Its encoding is pinned by decoding, not by bytes: another LZ4 encoder may
/// compress the same chunk differently and stay within the format, so a fresh
/// encoding must only read back to the same records.
#[test]
fn the_golden_compressed_chunk_decodes_to_the_golden_records() {
    let stored = std::fs::read(dir(2).join("sha256-chunk-0.bin"))
        .expect("the golden chunk of version 2 is committed");
    let golden_records: Vec<Vec<u8>> = (0..4)
        .map(|i| std::fs::read(file(&format!("sha256-record-{i}.bin"))).unwrap())
        .collect();
    for chunk in [stored, fresh_chunk()] {
        assert_eq!(
            chunk[..4],
            codec::COMPRESSED_CHUNK_TAG,
            "the chunk is stored compressed"
        );
        let mut buffer = Vec::new();
        let plain = codec::plain_chunk(&chunk, &mut buffer).unwrap();
        let records: Vec<&[u8]> = codec::chunk_entries(plain).map(Result::unwrap).collect();
        assert_eq!(records, golden_records);
    }
}

#[test]
fn golden_records_decode_to_the_same_values_and_chain() {
    for (algorithm, name) in [
        (HashAlgorithm::Sha256, "sha256"),
        (HashAlgorithm::Sm3, "sm3"),
    ] {
        let mut prev = GENESIS_HASH;
        let fresh = encode_all(algorithm);
        for (i, (cmd, index, count, stream, version, ty, schema, actor, date, memo, payload)) in
            golden_events().into_iter().enumerate()
        {
            let stored = std::fs::read(file(&format!("{name}-record-{i}.bin")))
                .expect("golden record is committed");
            let event = codec::decode_stored(&stored).unwrap();
            assert_eq!(event.position, i as u64);
            assert_eq!(
                event.prev_hash, prev,
                "{name} record {i} links to its predecessor"
            );
            assert_eq!(event.recorded_at_ms, 1_609_459_200_000 + i as i64);
            assert_eq!(
                (
                    event.command_id.as_str(),
                    event.command_event_index,
                    event.command_event_count
                ),
                (cmd, index, count)
            );
            assert_eq!(
                (event.stream.as_str(), event.stream_version),
                (stream, version)
            );
            assert_eq!(
                (event.event_type.as_str(), event.schema_version),
                (ty, schema)
            );
            assert_eq!(
                (
                    event.actor.as_str(),
                    event.effective_date,
                    event.memo.as_str()
                ),
                (actor, date, memo)
            );
            assert_eq!(event.payload, payload);
            let (record, hash) = codec::split_stored(&stored).unwrap();
            assert_eq!(
                algorithm.chain(&prev, record),
                hash,
                "{name} record {i} hashes to its stored hash"
            );
            assert_eq!(event.hash, hash);
            assert_eq!(
                fresh[i], stored,
                "record layout 1 must encode {name} record {i} byte for byte as before"
            );
            prev = hash;
        }
    }
}
