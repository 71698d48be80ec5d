//! Pins the on-disk format: the committed files under `tests/golden/v1/` hold a
//! ledger header and a hash chain of records exactly as format version 1 writes
//! them. Every future version must still decode them to the same values, and must
//! link them into the same chain. While version 1 is current, encoding the same
//! values must also give the same bytes. `WELFARE_BLESS_GOLDEN=1` writes the files
//! (only ever for a new format version's folder; never rewrite v1).

// Test data are small counts and indexes: truncating casts cannot happen here.
#![allow(clippy::cast_possible_truncation)]

use std::path::PathBuf;

use chrono::NaiveDate;
use ledger_store::codec::{self, Header, Placement, FORMAT_VERSION};
use ledger_store::{
    Actor, CommandId, EventType, ExpectedVersion, HashAlgorithm, Memo, NewEvent, StreamName,
    GENESIS_HASH,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v1")
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

fn header() -> Header {
    Header {
        format_version: FORMAT_VERSION,
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

fn file(name: &str) -> PathBuf {
    dir().join(name)
}

#[test]
fn bless_golden_files_when_asked() {
    if std::env::var("WELFARE_BLESS_GOLDEN").as_deref() != Ok("1") {
        return;
    }
    std::fs::create_dir_all(dir()).unwrap();
    std::fs::write(file("header.bin"), codec::encode_header(&header())).unwrap();
    for (algorithm, name) in [
        (HashAlgorithm::Sha256, "sha256"),
        (HashAlgorithm::Sm3, "sm3"),
    ] {
        for (i, bytes) in encode_all(algorithm).into_iter().enumerate() {
            std::fs::write(file(&format!("{name}-record-{i}.bin")), bytes).unwrap();
        }
    }
}

#[test]
fn golden_header_decodes() {
    let bytes = std::fs::read(file("header.bin")).expect("golden header is committed");
    assert_eq!(codec::decode_header(&bytes).unwrap(), header());
    assert_eq!(
        codec::encode_header(&header()),
        bytes,
        "format version 1 must encode the header byte for byte as before"
    );
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
                "format version 1 must encode {name} record {i} byte for byte as before"
            );
            prev = hash;
        }
    }
}
