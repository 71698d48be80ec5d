//! Proves that the borrowed record decoder (`codec::decode_record_view`, used by
//! `Log::read_views` for rebuilds) and the owned one (`codec::decode_record`) are the
//! same decoder: on generated records of every shape (names at their limits, Unicode
//! actors and memos, empty and large payloads) they give the same fields; on the
//! golden records they give the same fields; on damaged bytes (every truncation,
//! extended bytes, random byte replacements, lengths that claim more than there is)
//! they both refuse, with the same message, and neither panics. A log read through
//! `read_views` visits exactly what `read_all` returns, and reports corruption at the
//! same position. A reader that remembers the texts of the record before
//! (`codec::decode_stored_view_after`, what `read_views` uses) decodes alike too.

use std::sync::Arc;

use chrono::NaiveDate;
use ledger_store::codec::{self, Placement};
use ledger_store::{
    Actor, AppendBatch, CommandId, EventType, ExpectedVersion, FixedClock, HashAlgorithm, Log,
    Memo, MemoryBackend, NewEvent, StreamName,
};
use proptest::prelude::*;

fn identifier(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Za-z0-9][A-Za-z0-9_:-]{{0,{}}}", max - 1))
        .expect("valid regex")
}

fn text(max_chars: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-z0-9 第十七批幸福工程三明é€]{{1,{max_chars}}}"))
        .expect("valid regex")
        .prop_filter("not blank", |s| !s.trim().is_empty())
}

prop_compose! {
    fn record()(
        position in any::<u64>(),
        prev_hash in any::<[u8; 32]>(),
        recorded_at_ms in any::<i64>(),
        command_id in identifier(128),
        (index, count) in (1u32..5).prop_flat_map(|count| (0..count, Just(count))),
        stream in identifier(128),
        stream_version in any::<u64>(),
        event_type in identifier(64),
        schema_version in any::<u16>(),
        actor in text(40),
        days in -96_465_292i32..=95_026_236,
        memo in prop_oneof![Just(String::new()), text(300)],
        payload in proptest::collection::vec(any::<u8>(), 0..600),
    ) -> Vec<u8> {
        let command_id = CommandId::new(command_id).unwrap();
        let event = NewEvent {
            stream: StreamName::new(stream).unwrap(),
            expected: ExpectedVersion::Any,
            event_type: EventType::new(event_type).unwrap(),
            schema_version,
            payload,
            actor: Actor::new(actor).unwrap(),
            effective_date: codec::date_from_days(days).unwrap(),
            memo: Memo::new(memo).unwrap(),
        };
        codec::encode_record(&event, Placement {
            position,
            prev_hash,
            recorded_at_ms,
            command_id: &command_id,
            command_event_index: index,
            command_event_count: count,
            stream_version,
        })
    }
}

/// Both decoders on the same bytes: equal values, or equal errors.
fn same_outcome(bytes: &[u8], hash: [u8; 32]) -> Result<bool, TestCaseError> {
    let owned = codec::decode_record(bytes, hash);
    let view = codec::decode_record_view(bytes, hash);
    match (&owned, &view) {
        (Ok(owned), Ok(view)) => {
            prop_assert_eq!(owned, &view.to_recorded());
            prop_assert_eq!(&owned.view(), view);
            Ok(true)
        }
        (Err(owned), Err(view)) => {
            prop_assert_eq!(owned, view);
            Ok(false)
        }
        _ => Err(TestCaseError::fail(format!(
            "the decoders disagree: owned {owned:?}, view {view:?}"
        ))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_view_decodes_every_record_like_the_owned_decoder(bytes in record(), hash in any::<[u8; 32]>()) {
        prop_assert!(same_outcome(&bytes, hash)?, "a record the codec wrote must decode");
        let mut stored = bytes.clone();
        stored.extend_from_slice(&hash);
        prop_assert_eq!(
            codec::decode_stored(&stored).unwrap(),
            codec::decode_stored_view(&stored).unwrap().to_recorded()
        );
    }

    #[test]
    fn damaged_records_are_refused_alike(
        bytes in record(),
        cut in any::<prop::sample::Index>(),
        replacements in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        extra in proptest::collection::vec(any::<u8>(), 1..8),
    ) {
        // Truncated anywhere: always refused.
        let cut = cut.index(bytes.len());
        prop_assert!(!same_outcome(&bytes[..cut], [0; 32])?);
        // Extended: trailing bytes are refused.
        let mut longer = bytes.clone();
        longer.extend_from_slice(&extra);
        prop_assert!(!same_outcome(&longer, [0; 32])?);
        // Bytes replaced (a length, a name, the layout...): either both read the same
        // record or both refuse.
        let mut damaged = bytes.clone();
        for (at, byte) in &replacements {
            let at = at.index(damaged.len());
            damaged[at] = *byte;
        }
        same_outcome(&damaged, [0; 32])?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A reader that remembers the texts of the record before (`decode_stored_view_after`)
    /// decodes every record of a sequence like the decoder that remembers nothing: the
    /// same views and the same refusals, whatever came before (repeated records,
    /// damaged ones, records after a refused one).
    #[test]
    fn remembering_the_texts_before_changes_no_outcome(
        records in proptest::collection::vec((record(), any::<[u8; 32]>()), 1..4),
        order in proptest::collection::vec(
            (any::<prop::sample::Index>(), proptest::option::of((any::<prop::sample::Index>(), any::<u8>()))),
            1..16,
        ),
    ) {
        let mut texts = codec::EnvelopeTexts::default();
        for (pick, damage) in order {
            let (bytes, hash) = &records[pick.index(records.len())];
            let mut stored = bytes.clone();
            if let Some((at, byte)) = damage {
                let at = at.index(stored.len());
                stored[at] = byte;
            }
            stored.extend_from_slice(hash);
            let alone = codec::decode_stored_view(&stored).map(|view| view.to_recorded());
            let after = codec::decode_stored_view_after(&stored, &mut texts).map(|view| view.to_recorded());
            prop_assert_eq!(alone, after);
        }
    }
}

/// The record bytes of a grant of command `cmd-1` at position 0, by `actor` with `memo`.
fn first_record(actor: &str, memo: &str) -> Vec<u8> {
    let command_id = CommandId::new("cmd-1").unwrap();
    let event = NewEvent {
        stream: StreamName::new("fund-SM").unwrap(),
        expected: ExpectedVersion::Any,
        event_type: EventType::new("GrantPaid").unwrap(),
        schema_version: 1,
        payload: vec![1, 2, 3],
        actor: Actor::new(actor).unwrap(),
        effective_date: NaiveDate::from_ymd_opt(2021, 6, 30).unwrap(),
        memo: Memo::new(memo).unwrap(),
    };
    codec::encode_record(
        &event,
        Placement {
            position: 0,
            prev_hash: [0; 32],
            recorded_at_ms: 0,
            command_id: &command_id,
            command_event_index: 0,
            command_event_count: 1,
            stream_version: 0,
        },
    )
}

#[test]
fn texts_that_differ_from_the_last_ones_are_checked_again() {
    let encode = |actor: &str| {
        let mut stored = first_record(actor, "第十七批");
        stored.extend_from_slice(&[7; 32]);
        stored
    };
    let good = encode("clerk");
    // The same record with a control character in place of the actor's first letter,
    // and with a byte of the memo that is not UTF-8.
    let at = good.windows(5).position(|w| w == b"clerk").unwrap();
    let mut control = good.clone();
    control[at] = 0x01;
    let memo_at = good.windows(3).position(|w| w == "第".as_bytes()).unwrap();
    let mut not_utf8 = good.clone();
    not_utf8[memo_at] = 0xff;
    let mut texts = codec::EnvelopeTexts::default();
    let first = codec::decode_stored_view_after(&good, &mut texts)
        .unwrap()
        .to_recorded();
    assert_eq!(first.actor.as_str(), "clerk");
    for bad in [&control, &not_utf8] {
        let refused = codec::decode_stored_view_after(bad, &mut texts).unwrap_err();
        assert_eq!(refused, codec::decode_stored_view(bad).unwrap_err());
    }
    assert!(codec::decode_stored_view(&not_utf8)
        .unwrap_err()
        .0
        .contains("the memo is not UTF-8"));
    // After the refusals the reader goes on with what it remembered.
    let again = codec::decode_stored_view_after(&good, &mut texts)
        .unwrap()
        .to_recorded();
    assert_eq!(again, first);
    let other = encode("clerk-2");
    let second = codec::decode_stored_view_after(&other, &mut texts).unwrap();
    assert_eq!(second.actor, "clerk-2");
}

#[test]
fn lengths_beyond_the_bytes_are_refused_alike_without_allocating() {
    let bytes = first_record("clerk", "");
    // The command id's length is the u64 at offset 49 (docs/FORMAT.md §3).
    for claimed in [6u64, 1 << 16, 1 << 40, u64::MAX] {
        let mut damaged = bytes.clone();
        damaged[49..57].copy_from_slice(&claimed.to_le_bytes());
        let owned = codec::decode_record(&damaged, [0; 32]).unwrap_err();
        let view = codec::decode_record_view(&damaged, [0; 32]).unwrap_err();
        assert_eq!(owned, view, "claimed {claimed}");
    }
    // A name outside the identifier alphabet, and invalid UTF-8.
    let stream_at = bytes
        .windows(7)
        .position(|w| w == b"fund-SM")
        .expect("the stream is in the record");
    let mut bad_stream = bytes.clone();
    bad_stream[stream_at + 4] = b'/';
    assert_eq!(
        codec::decode_record(&bad_stream, [0; 32]).unwrap_err(),
        codec::decode_record_view(&bad_stream, [0; 32]).unwrap_err()
    );
    let mut bad_utf8 = bytes.clone();
    bad_utf8[49 + 8] = 0xff;
    assert_eq!(
        codec::decode_record(&bad_utf8, [0; 32]).unwrap_err(),
        codec::decode_record_view(&bad_utf8, [0; 32]).unwrap_err()
    );
}

#[test]
fn the_golden_records_decode_alike() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v1");
    for chain in ["sha256", "sm3"] {
        for position in 0..4 {
            let stored = std::fs::read(dir.join(format!("{chain}-record-{position}.bin"))).unwrap();
            let owned = codec::decode_stored(&stored).unwrap();
            let view = codec::decode_stored_view(&stored).unwrap();
            assert_eq!(owned, view.to_recorded(), "{chain} {position}");
            assert_eq!(owned.position, position);
        }
    }
}

fn event(i: u64) -> NewEvent {
    NewEvent {
        stream: StreamName::new(format!("fund-{}", i % 3)).unwrap(),
        expected: ExpectedVersion::Any,
        event_type: EventType::new("GrantPaid").unwrap(),
        schema_version: 1,
        payload: vec![u8::try_from(i % 251).unwrap(); usize::try_from(i % 40).unwrap()],
        actor: Actor::new(format!("clerk-{}", i % 2)).unwrap(),
        effective_date: NaiveDate::from_ymd_opt(2021, 6, 30).unwrap(),
        memo: Memo::new(if i % 5 == 0 { "" } else { "第十七批" }).unwrap(),
    }
}

#[test]
fn read_views_visits_what_read_all_returns() {
    let log = Log::create(
        MemoryBackend::new(),
        HashAlgorithm::Sha256,
        Arc::new(FixedClock::new(1_625_000_000_000)),
    )
    .unwrap();
    for c in 0..40u64 {
        log.append(AppendBatch {
            command_id: CommandId::new(format!("cmd-{c}")).unwrap(),
            events: (0..=c % 3).map(|k| event(c * 3 + k)).collect(),
        })
        .unwrap();
    }
    let head = log.head().next_position;
    for (from, max) in [(0, 10_000), (0, 7), (5, 1), (head - 3, 10), (head, 10)] {
        let owned = log.read_all(from, max).unwrap();
        let mut viewed = Vec::new();
        let count = log
            .read_views(from, max, &mut |view| {
                viewed.push(view.to_recorded());
                Ok(())
            })
            .unwrap();
        assert_eq!(count, owned.len());
        assert_eq!(viewed, owned, "from {from}, max {max}");
    }
    // A visitor's refusal is corruption at that record's position.
    let error = log
        .read_views(0, 100, &mut |view| {
            if view.position == 9 {
                Err("payload: refused".into())
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    match error {
        ledger_store::StoreError::Corruption { position, what } => {
            assert_eq!(position, Some(9));
            assert_eq!(what, "payload: refused");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}
