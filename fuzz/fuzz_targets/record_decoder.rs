//! Fuzzes every decoder that `Log::open`, the reads, recovery and the engine run on
//! stored bytes (`ledger_store::codec`), plus the engine's payload and model decoding.
//! The first input byte picks the decoder, the rest are the bytes.
//!
//! Proves: no panic, no abort and no allocation out of proportion to the input (the
//! smoke and long runs use `-malloc_limit_mb`); each decoder either returns a value or
//! a `CodecError`. Where a decoder is exact (a record, the header, the head marker, a
//! snapshot, a plain chunk, a journal frame) a decoded value re-encodes to the same
//! bytes; where encodings are not unique (payloads, index checkpoints, compressed
//! chunks) the re-encoded value decodes equal.
#![no_main]

use ledger_domain::Event;
use ledger_engine::Model;
use ledger_projections::{AuditTrail, FundLedger, InsuranceReports, LoanReports, ProgrammeReports};
use ledger_store::codec::{self, FrameRead};
use libfuzzer_sys::fuzz_target;

welfare_ledger_fuzz::bounded_allocator!();

/// What the engine stores as an event's payload (`ledger_engine`'s private `Payload`:
/// the command's digest on its first event, then the event). bincode encodes a struct
/// as the tuple of its fields, so this tuple reads the same bytes; the seeds in
/// corpus/record_decoder are real payloads written by the engine.
type Payload = (Option<[u8; 32]>, Event);

/// The decoders, in the order of the selector byte (`docs/RELIABILITY.md` lists them).
#[derive(Debug, Clone, Copy)]
enum Kind {
    StoredRecord,
    Payload,
    Header,
    HeadMarker,
    Chunk,
    JournalFrame,
    Snapshot,
    ModelValue,
    IndexCheckpoint,
    ProjectionValue,
}

const KINDS: [Kind; 10] = [
    Kind::StoredRecord,
    Kind::Payload,
    Kind::Header,
    Kind::HeadMarker,
    Kind::Chunk,
    Kind::JournalFrame,
    Kind::Snapshot,
    Kind::ModelValue,
    Kind::IndexCheckpoint,
    Kind::ProjectionValue,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    match KINDS[usize::from(selector) % KINDS.len()] {
        Kind::StoredRecord => stored_record(bytes),
        Kind::Payload => payload(bytes),
        Kind::Header => header(bytes),
        Kind::HeadMarker => head_marker(bytes),
        Kind::Chunk => chunk(bytes),
        Kind::JournalFrame => journal_frame(bytes),
        Kind::Snapshot => snapshot(bytes),
        Kind::ModelValue => {
            let _ = codec::decode_value::<Model>(bytes);
        }
        Kind::IndexCheckpoint => index_checkpoint(bytes),
        Kind::ProjectionValue => projection_value(bytes),
    }
});

/// A stored value (record bytes ‖ chain hash), as `Log::open` and every read decode it.
fn stored_record(stored: &[u8]) {
    let Ok(event) = codec::decode_stored(stored) else {
        return;
    };
    let (record, hash) = codec::split_stored(stored).expect("decoded, so it splits");
    assert_eq!(event.hash, hash);
    assert_eq!(
        codec::encode_recorded(&event),
        record,
        "a decoded record re-encodes to its bytes"
    );
    // The engine decodes the payload of every record it folds in.
    payload(&event.payload);
}

fn payload(bytes: &[u8]) {
    let Ok(payload) = codec::decode_value::<Payload>(bytes) else {
        return;
    };
    let again = codec::encode_value(&payload).expect("a decoded payload encodes");
    let back: Payload = codec::decode_value(&again).expect("a re-encoded payload decodes");
    assert_eq!(back, payload, "a payload survives a round trip");
}

fn header(bytes: &[u8]) {
    let Ok(header) = codec::decode_header(bytes) else {
        return;
    };
    // A newer format version is reported without reading further; the versions this
    // code reads are decoded whole.
    if (codec::FORMAT_VERSION_OLDEST..=codec::FORMAT_VERSION).contains(&header.format_version) {
        assert_eq!(codec::encode_header(&header), bytes);
    }
}

fn head_marker(bytes: &[u8]) {
    if let Ok(head) = codec::decode_head(bytes) {
        assert_eq!(codec::encode_head(&head), bytes);
    }
}

/// A sled value of the log tree: stored values packed with u32 lengths, each decoded
/// as `Log::open` does, plain or in a compressed chunk (an LZ4 block). A compressed
/// chunk that decompresses holds a plain chunk, which compresses and decompresses
/// back to itself.
fn chunk(bytes: &[u8]) {
    let mut buffer = Vec::new();
    let Ok(plain) = codec::plain_chunk(bytes, &mut buffer) else {
        return;
    };
    if bytes.starts_with(&codec::COMPRESSED_CHUNK_TAG) {
        let mut again = Vec::new();
        let packed = codec::compress_chunk(plain.to_vec());
        assert_eq!(
            codec::plain_chunk(&packed, &mut again).expect("a compressed chunk decompresses"),
            plain,
            "a plain chunk survives compression"
        );
    }
    plain_chunk(plain);
}

fn plain_chunk(bytes: &[u8]) {
    let mut rebuilt = Vec::with_capacity(bytes.len());
    let mut whole = true;
    for entry in codec::chunk_entries(bytes) {
        match entry {
            Ok(value) => {
                rebuilt.extend_from_slice(&u32::try_from(value.len()).unwrap().to_le_bytes());
                rebuilt.extend_from_slice(value);
                stored_record(value);
            }
            Err(_) => whole = false,
        }
    }
    if whole {
        assert_eq!(rebuilt, bytes, "a chunk is exactly its entries");
    }
}

/// The redo journal as recovery reads it: frame after frame, and the search for an
/// intact frame after a damaged one.
fn journal_frame(bytes: &[u8]) {
    let mut offset = 0;
    while let FrameRead::Frame(frame, used) = codec::read_journal_frame(&bytes[offset..]) {
        assert!(used > 0 && offset + used <= bytes.len());
        let again = codec::encode_journal_frame(frame.first_position, &frame.head, &frame.values);
        assert_eq!(
            again,
            &bytes[offset..offset + used],
            "a frame re-encodes to its bytes"
        );
        let _ = codec::decode_head(&frame.head);
        for value in &frame.values {
            stored_record(value);
        }
        offset += used;
    }
    if let Some(found) = codec::find_intact_journal_frame(&bytes[offset..]) {
        assert!(matches!(
            codec::read_journal_frame(&bytes[offset + found..]),
            FrameRead::Frame(..)
        ));
    }
}

/// A stored snapshot: magic, position, CRC, then a value; the model snapshot's and the
/// index checkpoint's readers run on what a snapshot holds.
fn snapshot(stored: &[u8]) {
    // An open reads where an index checkpoint starts before its checksum is checked.
    let start = codec::index_checkpoint_start(stored);
    let Ok((position, bytes)) = codec::decode_snapshot(stored) else {
        return;
    };
    if let Ok(checkpoint) = codec::decode_index_checkpoint(bytes) {
        if checkpoint.next_position == position {
            assert_eq!(start, Ok((position, checkpoint.head_hash)));
        } else {
            assert!(start.is_err(), "a checkpoint stored at another position");
        }
    }
    assert_eq!(codec::encode_snapshot(position, bytes), stored);
    let _ = codec::decode_value::<Model>(bytes);
    index_checkpoint(bytes);
}

fn index_checkpoint(bytes: &[u8]) {
    let Ok(checkpoint) = codec::decode_index_checkpoint(bytes) else {
        return;
    };
    let again = codec::encode_index_checkpoint(&checkpoint);
    assert_eq!(
        codec::decode_index_checkpoint(&again).as_ref(),
        Ok(&checkpoint),
        "an index checkpoint survives a round trip"
    );
}

/// The projections' checkpoints, as the projector loads them (`Log::load_snapshot`).
fn projection_value(bytes: &[u8]) {
    let Some((&which, bytes)) = bytes.split_first() else {
        return;
    };
    match which % 5 {
        0 => drop(codec::decode_value::<FundLedger>(bytes)),
        1 => drop(codec::decode_value::<ProgrammeReports>(bytes)),
        2 => drop(codec::decode_value::<InsuranceReports>(bytes)),
        3 => drop(codec::decode_value::<LoanReports>(bytes)),
        _ => drop(codec::decode_value::<AuditTrail>(bytes)),
    }
}
