//! The on-disk encoding, owned here and nowhere else: the ledger header, the head
//! marker and the record envelope, in bincode 2.0.1 with fixed-width little-endian
//! integers. docs/FORMAT.md specifies every byte; golden files pin it.

use bincode::config::{Configuration, Fixint, Limit, LittleEndian};
use bincode::{BorrowDecode, Decode, Encode};
use chrono::NaiveDate;

use crate::hash::HashAlgorithm;
use crate::limits::EVENT_BYTES_MAX;
use crate::types::{
    Actor, CommandId, EventType, Memo, NewEvent, RecordView, RecordedEvent, StreamName,
};

/// The format version this code writes. Opening a ledger with a newer one is refused.
/// Version 2 added compressed chunks (decision 0029); nothing else differs from 1.
pub const FORMAT_VERSION: u16 = 2;
/// The oldest format version this code reads (and goes on writing in its own format).
pub const FORMAT_VERSION_OLDEST: u16 = 1;

/// Whether the sled backend may compress chunks in a ledger of `format_version`: a
/// ledger of version 1 keeps plain chunks, which every reader of version 1 reads.
pub fn compresses_chunks(format_version: u16) -> bool {
    format_version >= 2
}

/// The first bytes of the header value: "WLEDGER" and a NUL.
pub const MAGIC: [u8; 8] = *b"WLEDGER\0";
/// The first byte of every stored record: the envelope layout that follows.
pub const RECORD_LAYOUT_V1: u8 = 1;

/// sled keys of the log tree. They sort `C` < `H` < `R…`.
pub const HEADER_KEY: &[u8] = b"C";
pub const HEAD_KEY: &[u8] = b"H";
pub const RECORD_KEY_PREFIX: u8 = b'R';

type Config = Configuration<LittleEndian, Fixint, Limit<EVENT_BYTES_MAX>>;

fn config() -> Config {
    unlimited_config().with_limit::<EVENT_BYTES_MAX>()
}

/// The configuration of every encoding here, without a size limit (records and values
/// are encoded without one; decoders add theirs).
fn unlimited_config() -> Configuration<LittleEndian, Fixint> {
    bincode::config::legacy()
        .with_little_endian()
        .with_fixed_int_encoding()
}

/// Room an encoded value starts with: most event payloads fit, so encoding one grows
/// its buffer once at most, instead of doubling from eight bytes.
const VALUE_CAPACITY_START_BYTES: usize = 256;

/// Why bytes could not be decoded. The caller adds where they came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

/// The key of the record at `position`: `R` followed by the position as big-endian u64,
/// so that keys sort by position.
pub fn record_key(position: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = RECORD_KEY_PREFIX;
    key[1..].copy_from_slice(&position.to_be_bytes());
    key
}

pub fn position_of_key(key: &[u8]) -> Result<u64, CodecError> {
    match key {
        [RECORD_KEY_PREFIX, rest @ ..] if rest.len() == 8 => {
            let mut be = [0u8; 8];
            be.copy_from_slice(rest);
            Ok(u64::from_be_bytes(be))
        }
        _ => Err(CodecError(format!("unexpected key {}", hex::encode(key)))),
    }
}

/// The ledger header, written once when the ledger is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub format_version: u16,
    pub hash_algorithm: HashAlgorithm,
    pub created_at_ms: i64,
}

#[derive(Encode, Decode)]
struct HeaderV1 {
    magic: [u8; 8],
    format_version: u16,
    hash_algorithm: u8,
    created_at_ms: i64,
}

pub fn encode_header(header: &Header) -> Vec<u8> {
    let raw = HeaderV1 {
        magic: MAGIC,
        format_version: header.format_version,
        hash_algorithm: header.hash_algorithm.code(),
        created_at_ms: header.created_at_ms,
    };
    bincode::encode_to_vec(raw, config()).expect("encoding a fixed-size header cannot fail")
}

/// Decodes the header. A newer format version is decoded (so that the caller can say
/// which version it found) but an unknown hash algorithm or wrong magic is an error.
pub fn decode_header(bytes: &[u8]) -> Result<Header, CodecError> {
    // The magic and version are read before anything else so that a future header
    // layout still yields a clear "newer format" error.
    if bytes.len() < 10 || bytes[..8] != MAGIC {
        return Err(CodecError(
            "the header does not start with the Welfare Ledger magic bytes".into(),
        ));
    }
    let format_version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if !(FORMAT_VERSION_OLDEST..=FORMAT_VERSION).contains(&format_version) {
        return Ok(Header {
            format_version,
            hash_algorithm: HashAlgorithm::Sha256,
            created_at_ms: 0,
        });
    }
    let raw: HeaderV1 = decode_exact(bytes)?;
    let hash_algorithm = HashAlgorithm::from_code(raw.hash_algorithm).ok_or_else(|| {
        CodecError(format!(
            "unknown hash algorithm code {}",
            raw.hash_algorithm
        ))
    })?;
    Ok(Header {
        format_version,
        hash_algorithm,
        created_at_ms: raw.created_at_ms,
    })
}

/// The head marker, rewritten in the same atomic write as every batch of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct HeadMarker {
    pub next_position: u64,
    pub hash: [u8; 32],
}

pub fn encode_head(head: &HeadMarker) -> Vec<u8> {
    bincode::encode_to_vec(head, config()).expect("encoding a fixed-size head cannot fail")
}

pub fn decode_head(bytes: &[u8]) -> Result<HeadMarker, CodecError> {
    decode_exact(bytes)
}

/// 1970-01-01 counted as days from 0001-01-01 (chrono's common era day numbering).
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

pub fn days_since_epoch(date: NaiveDate) -> i32 {
    use chrono::Datelike as _;
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

pub fn date_from_days(days: i32) -> Option<NaiveDate> {
    days.checked_add(UNIX_EPOCH_DAYS_FROM_CE)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}

/// What the log adds to a [`NewEvent`] when it stores it.
#[derive(Debug, Clone, Copy)]
pub struct Placement<'a> {
    pub position: u64,
    pub prev_hash: [u8; 32],
    pub recorded_at_ms: i64,
    pub command_id: &'a CommandId,
    pub command_event_index: u32,
    pub command_event_count: u32,
    pub stream_version: u64,
}

/// Length of the chain hash stored after each record's bytes.
pub const HASH_BYTES: usize = 32;

/// Splits a stored value into the record bytes (what the chain hashes) and the
/// record's own chain hash, stored after it so that `verify` can name exactly
/// which record was altered.
pub fn split_stored(value: &[u8]) -> Result<(&[u8], [u8; 32]), CodecError> {
    if value.len() <= HASH_BYTES {
        return Err(CodecError(format!(
            "stored value of {} bytes is too short to hold a record and its hash",
            value.len()
        )));
    }
    let (record, hash) = value.split_at(value.len() - HASH_BYTES);
    let mut out = [0u8; 32];
    out.copy_from_slice(hash);
    Ok((record, out))
}

/// Encodes one record into its record bytes (layout byte, then the envelope).
pub fn encode_record(event: &NewEvent, at: Placement<'_>) -> Vec<u8> {
    // Borrowing encode avoids copying the payload: bincode encodes `&str` and `&[u8]`
    // exactly like `String` and `Vec<u8>`.
    let fields = (
        at.position,
        at.prev_hash,
        at.recorded_at_ms,
        at.command_id.as_str(),
        at.command_event_index,
        at.command_event_count,
        event.stream.as_str(),
        at.stream_version,
        event.event_type.as_str(),
        event.schema_version,
        event.actor.as_str(),
        days_since_epoch(event.effective_date),
        event.memo.as_str(),
        event.payload.as_slice(),
    );
    let mut out = Vec::with_capacity(160 + event.payload.len());
    out.push(RECORD_LAYOUT_V1);
    // Encoding into a Vec cannot fail except through the size limit, which the caller
    // checks on the result; encode without the limit and let the caller decide.
    bincode::encode_into_std_write(fields, &mut out, unlimited_config())
        .expect("encoding into a Vec cannot fail");
    out
}

/// The record bytes of a decoded record ([`encode_record`] of its content at its
/// placement): for a record that decoded, exactly the bytes it was decoded from.
pub fn encode_recorded(event: &RecordedEvent) -> Vec<u8> {
    let content = NewEvent {
        stream: event.stream.clone(),
        expected: crate::ExpectedVersion::Any,
        event_type: event.event_type.clone(),
        schema_version: event.schema_version,
        payload: event.payload.clone(),
        actor: event.actor.clone(),
        effective_date: event.effective_date,
        memo: event.memo.clone(),
    };
    let at = Placement {
        position: event.position,
        prev_hash: event.prev_hash,
        recorded_at_ms: event.recorded_at_ms,
        command_id: &event.command_id,
        command_event_index: event.command_event_index,
        command_event_count: event.command_event_count,
        stream_version: event.stream_version,
    };
    encode_record(&content, at)
}

/// Decodes a stored value: record bytes followed by the record's chain hash.
pub fn decode_stored(value: &[u8]) -> Result<RecordedEvent, CodecError> {
    let (record, hash) = split_stored(value)?;
    decode_record(record, hash)
}

/// Decodes record bytes; `hash` is the chain hash stored with them. Every name is
/// validated again after reading, so a record that decodes is also a record the log
/// could have written. The checks are [`decode_record_view`]'s: this is its owned copy.
pub fn decode_record(bytes: &[u8], hash: [u8; 32]) -> Result<RecordedEvent, CodecError> {
    decode_record_view(bytes, hash).map(|view| view.to_recorded())
}

/// The record envelope, layout 1, read in place: every string and the payload
/// borrowed from the stored bytes. Field order is the byte order on disk
/// ([`encode_record`] writes the same fields). bincode encodes `&str` and `&[u8]`
/// exactly like `String` and `Vec<u8>`, checks the UTF-8 of a `&str`, and refuses a
/// length beyond the bytes before taking a slice, so nothing is allocated whatever the
/// bytes claim. The event type, actor and memo are taken as bytes: the decoders check
/// them as text ([`EnvelopeTexts`] only when they differ from the record before).
#[derive(BorrowDecode)]
struct RecordV1Ref<'a> {
    position: u64,
    prev_hash: [u8; 32],
    recorded_at_ms: i64,
    command_id: &'a str,
    command_event_index: u32,
    command_event_count: u32,
    stream: &'a str,
    stream_version: u64,
    event_type: &'a [u8],
    schema_version: u16,
    actor: &'a [u8],
    effective_date_days: i32,
    memo: &'a [u8],
    payload: &'a [u8],
}

/// A text field of the envelope taken as bytes: UTF-8, and valid by its name's rule.
fn envelope_text<'a>(
    bytes: &'a [u8],
    field: &str,
    check: fn(&str) -> Result<(), crate::types::NameError>,
) -> Result<&'a str, CodecError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| CodecError(format!("cannot decode: the {field} is not UTF-8 ({e})")))?;
    check(text).map_err(|e| CodecError(e.to_string()))?;
    Ok(text)
}

/// The event type, actor and memo of the record a reader decoded last, as checked
/// then. Runs of records of one event type, by one clerk, with one memo are the rule:
/// a field whose bytes equal the last one's is known to be valid text, and is not
/// checked again ([`decode_stored_view_after`]). A rebuild reads tens of millions of
/// records; checking these three in every one took about 6% of its instructions.
#[derive(Debug, Default)]
pub struct EnvelopeTexts {
    event_type: Option<String>,
    actor: Option<String>,
    memo: Option<String>,
}

/// Makes `slot` hold `bytes` as checked text, checking them only if it holds other
/// bytes, and returns the text it holds.
fn remember_text<'t>(
    slot: &'t mut Option<String>,
    bytes: &[u8],
    field: &str,
    check: fn(&str) -> Result<(), crate::types::NameError>,
) -> Result<&'t str, CodecError> {
    if slot.as_deref().map(str::as_bytes) != Some(bytes) {
        let text = envelope_text(bytes, field, check)?;
        let slot = slot.get_or_insert_with(String::new);
        slot.clear();
        slot.push_str(text);
    }
    Ok(slot.as_deref().expect("just remembered"))
}

/// Decodes a stored value in place, as [`decode_stored`] does but borrowing every text
/// and the payload from `value`.
pub fn decode_stored_view(value: &[u8]) -> Result<RecordView<'_>, CodecError> {
    let (record, hash) = split_stored(value)?;
    decode_record_view(record, hash)
}

/// Decodes record bytes in place, without allocating: with [`decode_stored_view_after`],
/// the one place the envelope's checks are made ([`decode_record`] copies the result).
pub fn decode_record_view(bytes: &[u8], hash: [u8; 32]) -> Result<RecordView<'_>, CodecError> {
    let raw = decode_envelope(bytes)?;
    let event_type = envelope_text(raw.event_type, "event type", EventType::check)?;
    let actor = envelope_text(raw.actor, "actor", Actor::check)?;
    let memo = envelope_text(raw.memo, "memo", Memo::check)?;
    view_of(raw, hash, event_type, actor, memo)
}

/// Decodes a stored value in place, as [`decode_stored_view`] does, checking its event
/// type, actor and memo only where they differ from those of the record `texts` saw
/// last (the same checks, made once per run of equal values). The view borrows those
/// texts from `texts` and everything else from `value`.
pub fn decode_stored_view_after<'t, 'v: 't>(
    value: &'v [u8],
    texts: &'t mut EnvelopeTexts,
) -> Result<RecordView<'t>, CodecError> {
    let (record, hash) = split_stored(value)?;
    let raw = decode_envelope(record)?;
    let event_type = remember_text(
        &mut texts.event_type,
        raw.event_type,
        "event type",
        EventType::check,
    )?;
    let actor = remember_text(&mut texts.actor, raw.actor, "actor", Actor::check)?;
    let memo = remember_text(&mut texts.memo, raw.memo, "memo", Memo::check)?;
    view_of(raw, hash, event_type, actor, memo)
}

/// The envelope's layout byte and fields, with the checks of everything but its
/// event type, actor, memo and date.
fn decode_envelope(bytes: &[u8]) -> Result<RecordV1Ref<'_>, CodecError> {
    let (&layout, body) = bytes
        .split_first()
        .ok_or_else(|| CodecError("empty record".into()))?;
    if layout != RECORD_LAYOUT_V1 {
        return Err(CodecError(format!(
            "unknown record layout {layout}; this version reads layout {RECORD_LAYOUT_V1}"
        )));
    }
    let (raw, used) = bincode::borrow_decode_from_slice::<RecordV1Ref<'_>, _>(body, config())
        .map_err(|e| CodecError(format!("cannot decode: {e}")))?;
    if used != body.len() {
        return Err(CodecError(format!(
            "{} trailing bytes after the encoded value",
            body.len() - used
        )));
    }
    let name_err = |e: crate::types::NameError| CodecError(e.to_string());
    if raw.command_event_count == 0 || raw.command_event_index >= raw.command_event_count {
        return Err(CodecError(format!(
            "event index {} is outside its command of {} events",
            raw.command_event_index, raw.command_event_count
        )));
    }
    CommandId::check(raw.command_id).map_err(name_err)?;
    StreamName::check(raw.stream).map_err(name_err)?;
    Ok(raw)
}

/// The view of a decoded envelope whose texts are checked; checks its date.
fn view_of<'a>(
    raw: RecordV1Ref<'a>,
    hash: [u8; 32],
    event_type: &'a str,
    actor: &'a str,
    memo: &'a str,
) -> Result<RecordView<'a>, CodecError> {
    let effective_date = date_from_days(raw.effective_date_days).ok_or_else(|| {
        CodecError(format!(
            "effective date {} days from 1970-01-01 is out of range",
            raw.effective_date_days
        ))
    })?;
    Ok(RecordView {
        position: raw.position,
        prev_hash: raw.prev_hash,
        hash,
        recorded_at_ms: raw.recorded_at_ms,
        command_id: raw.command_id,
        command_event_index: raw.command_event_index,
        command_event_count: raw.command_event_count,
        stream: raw.stream,
        stream_version: raw.stream_version,
        event_type,
        schema_version: raw.schema_version,
        actor,
        effective_date,
        memo,
        payload: raw.payload,
    })
}

/// Decodes a value that must use every byte: trailing bytes mean the data is not what
/// this version wrote.
fn decode_exact<T: Decode<()>>(bytes: &[u8]) -> Result<T, CodecError> {
    let (value, used) = bincode::decode_from_slice::<T, _>(bytes, config())
        .map_err(|e| CodecError(format!("cannot decode: {e}")))?;
    if used != bytes.len() {
        return Err(CodecError(format!(
            "{} trailing bytes after the encoded value",
            bytes.len() - used
        )));
    }
    Ok(value)
}

/// Encodes a value of a higher layer (an event payload, a state snapshot) with
/// bincode's serde support and the same fixed-width little-endian configuration as
/// the envelope. Types must avoid serde features bincode cannot decode (`flatten`,
/// `untagged`, `skip_serializing_if`, `deserialize_any`).
pub fn encode_value<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(VALUE_CAPACITY_START_BYTES);
    encode_value_into(value, &mut out)?;
    Ok(out)
}

/// Writes the bytes [`encode_value`] gives into `out` (a hasher, a buffer), without
/// gathering them first.
pub fn encode_value_into<T: serde::Serialize>(
    value: &T,
    out: &mut impl std::io::Write,
) -> Result<(), CodecError> {
    bincode::serde::encode_into_std_write(value, out, unlimited_config())
        .map(|_| ())
        .map_err(|e| CodecError(format!("cannot encode: {e}")))
}

/// The limits given to bincode when decoding a value of at most this many bytes, in
/// increasing order: see [`decode_value`].
const VALUE_LIMIT_TIERS_BYTES: [usize; 5] = [EVENT_BYTES_MAX, 1 << 22, 1 << 28, 1 << 34, 1 << 40];

/// Decodes a value written by [`encode_value`]; every byte must be used.
///
/// A length inside the bytes (of a string, a byte buffer) is believed only as far as
/// the bytes could hold it. bincode allocates a string's buffer before reading it, so
/// without a limit a damaged or hostile length of 2^40 aborts the process (found by
/// the `record_decoder` fuzz target). Through serde, bincode counts exactly the bytes it
/// reads against its limit, so a limit of at least `bytes.len()` never refuses a value
/// that is there; the limit is the smallest of [`VALUE_LIMIT_TIERS_BYTES`] that holds the
/// input (bincode takes it as a type parameter, so one limit per size class). Every
/// payload is in the first class, so nothing decoded from a record allocates more than
/// [`EVENT_BYTES_MAX`] at once; a larger value (a snapshot) allocates at most 64 times
/// its size.
pub fn decode_value<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let [t0, t1, t2, t3, t4] = VALUE_LIMIT_TIERS_BYTES;
    match bytes.len() {
        n if n <= t0 => decode_value_within::<T, { VALUE_LIMIT_TIERS_BYTES[0] }>(bytes),
        n if n <= t1 => decode_value_within::<T, { VALUE_LIMIT_TIERS_BYTES[1] }>(bytes),
        n if n <= t2 => decode_value_within::<T, { VALUE_LIMIT_TIERS_BYTES[2] }>(bytes),
        n if n <= t3 => decode_value_within::<T, { VALUE_LIMIT_TIERS_BYTES[3] }>(bytes),
        n if n <= t4 => decode_value_within::<T, { VALUE_LIMIT_TIERS_BYTES[4] }>(bytes),
        n => Err(CodecError(format!(
            "a value of {n} bytes is larger than any this version decodes ({t4} bytes)"
        ))),
    }
}

fn decode_value_within<T: serde::de::DeserializeOwned, const LIMIT: usize>(
    bytes: &[u8],
) -> Result<T, CodecError> {
    let (value, used) =
        bincode::serde::decode_from_slice::<T, _>(bytes, unlimited_config().with_limit::<LIMIT>())
            .map_err(|e| CodecError(format!("cannot decode: {e}")))?;
    if used != bytes.len() {
        return Err(CodecError(format!(
            "{} trailing bytes after the encoded value",
            bytes.len() - used
        )));
    }
    Ok(value)
}

/// The first bytes of a state snapshot file: "WLSNAP1" and a NUL.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"WLSNAP1\0";

/// A state snapshot as stored: magic, position (u64 LE), CRC-32 of the bytes (u32 LE),
/// then the bytes.
pub fn encode_snapshot(position: u64, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(20 + bytes.len());
    out.extend_from_slice(&SNAPSHOT_MAGIC);
    out.extend_from_slice(&position.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(bytes).to_le_bytes());
    out.extend_from_slice(bytes);
    out
}

/// A value encoded as by [`encode_value`] inside a stored snapshot, as
/// [`encode_snapshot`] would give it, without a second copy of a value that may take
/// gigabytes.
pub fn encode_value_snapshot<T: serde::Serialize>(
    position: u64,
    value: &T,
) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    out.extend_from_slice(&SNAPSHOT_MAGIC);
    out.extend_from_slice(&position.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    encode_value_into(value, &mut out)?;
    let crc = crc32fast::hash(&out[20..]);
    out[16..20].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Decodes a stored snapshot into its position and bytes, checking magic and CRC.
pub fn decode_snapshot(stored: &[u8]) -> Result<(u64, &[u8]), CodecError> {
    if stored.len() < 20 || stored[..8] != SNAPSHOT_MAGIC {
        return Err(CodecError("not a Welfare Ledger state snapshot".into()));
    }
    let mut position = [0u8; 8];
    position.copy_from_slice(&stored[8..16]);
    let crc = u32::from_le_bytes([stored[16], stored[17], stored[18], stored[19]]);
    let bytes = &stored[20..];
    if crc32fast::hash(bytes) != crc {
        return Err(CodecError(
            "the snapshot's checksum does not match its bytes".into(),
        ));
    }
    Ok((u64::from_le_bytes(position), bytes))
}

/// The layout version of an index checkpoint (`IndexCheckpoint`), its first field.
pub const INDEX_CHECKPOINT_VERSION: u16 = 1;

/// The store's in-memory indexes as of `next_position`, saved so that an open decodes
/// only the records after it (docs/FORMAT.md §12, decision 0010). An accelerator, never
/// a source of truth: it is used only where the log proves it (the stored hash of
/// record `next_position - 1` equals `head_hash`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexCheckpoint {
    /// One past the last position indexed.
    pub next_position: u64,
    /// The stored hash of the record at `next_position - 1` (the genesis hash for 0).
    pub head_hash: [u8; 32],
    /// The in-memory command key of a fixed probe id when the checkpoint was written:
    /// a program whose key function differs must not use the command keys.
    pub command_key_probe: u128,
    /// Each stream and the positions of its events, in version order.
    pub streams: Vec<(String, Vec<u64>)>,
    /// Each command: its key, first position and event count, in increasing key order.
    pub commands: Vec<(u128, u64, u32)>,
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push(n.to_le_bytes()[0] | 0x80);
        n >>= 7;
    }
    out.push(n.to_le_bytes()[0]);
}

/// Reads what an index checkpoint holds, refusing anything out of bounds.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.bytes.len() < n {
            return Err(CodecError("index checkpoint ends early".into()));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn varint(&mut self) -> Result<u64, CodecError> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let [b] = self.array::<1>()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(CodecError("index checkpoint: a varint is too long".into()))
    }

    /// A count of items that each take at least `min_bytes`, checked against what is left.
    fn count(&mut self, min_bytes: usize) -> Result<usize, CodecError> {
        let n = usize::try_from(self.varint()?).unwrap_or(usize::MAX);
        if n.saturating_mul(min_bytes) > self.bytes.len() {
            return Err(CodecError(
                "index checkpoint: a count exceeds the bytes".into(),
            ));
        }
        Ok(n)
    }
}

/// Encodes an index checkpoint (docs/FORMAT.md §12): version (u16 LE), next position
/// (u64 LE), head hash (32 bytes), command key probe (u128 LE); then the streams (a
/// varint count; per stream a varint name length, the name's UTF-8 bytes, a varint
/// count and each position as a varint gap from the previous one, the first from 0);
/// then the commands (a varint count; per command its key as u128 LE, its first
/// position and its event count as varints). Commands must be sorted by key, each key
/// once, so that an open can binary-search them as they are.
pub fn encode_index_checkpoint(checkpoint: &IndexCheckpoint) -> Vec<u8> {
    let positions: usize = checkpoint.streams.iter().map(|(_, p)| p.len()).sum();
    let mut out = Vec::with_capacity(64 + 2 * positions + 19 * checkpoint.commands.len());
    out.extend_from_slice(&INDEX_CHECKPOINT_VERSION.to_le_bytes());
    out.extend_from_slice(&checkpoint.next_position.to_le_bytes());
    out.extend_from_slice(&checkpoint.head_hash);
    out.extend_from_slice(&checkpoint.command_key_probe.to_le_bytes());
    put_varint(&mut out, checkpoint.streams.len() as u64);
    for (name, positions) in &checkpoint.streams {
        put_varint(&mut out, name.len() as u64);
        out.extend_from_slice(name.as_bytes());
        put_varint(&mut out, positions.len() as u64);
        let mut previous = 0;
        for &position in positions {
            assert!(position >= previous, "a stream's positions increase");
            put_varint(&mut out, position - previous);
            previous = position;
        }
    }
    put_varint(&mut out, checkpoint.commands.len() as u64);
    for (i, &(key, first_position, count)) in checkpoint.commands.iter().enumerate() {
        assert!(
            i == 0 || checkpoint.commands[i - 1].0 < key,
            "commands are sorted by key"
        );
        out.extend_from_slice(&key.to_le_bytes());
        put_varint(&mut out, first_position);
        put_varint(&mut out, u64::from(count));
    }
    out
}

/// The position an index checkpoint stored as a snapshot covers and the hash it ends
/// with, read from its first bytes only: enough to prove it against the log and start
/// decoding the records after it while the rest (which [`decode_snapshot`]'s checksum
/// and [`decode_index_checkpoint`] check) is decoded elsewhere.
pub fn index_checkpoint_start(stored: &[u8]) -> Result<(u64, [u8; 32]), CodecError> {
    let Some(rest) = stored.strip_prefix(&SNAPSHOT_MAGIC[..]) else {
        return Err(CodecError("not a Welfare Ledger state snapshot".into()));
    };
    let mut r = Reader { bytes: rest };
    let position = u64::from_le_bytes(r.array()?);
    let _crc: [u8; 4] = r.array()?;
    let version = u16::from_le_bytes(r.array()?);
    if version != INDEX_CHECKPOINT_VERSION {
        return Err(CodecError(format!(
            "index checkpoint version {version}; this version reads {INDEX_CHECKPOINT_VERSION}"
        )));
    }
    let next_position = u64::from_le_bytes(r.array()?);
    if next_position != position {
        return Err(CodecError(format!(
            "index checkpoint at {next_position} stored as a snapshot at {position}"
        )));
    }
    Ok((next_position, r.array()?))
}

/// Decodes an index checkpoint; every byte must be used.
pub fn decode_index_checkpoint(bytes: &[u8]) -> Result<IndexCheckpoint, CodecError> {
    decode_index_checkpoint_with_room(bytes, 0)
}

/// [`decode_index_checkpoint`], its commands' vector holding room for `more` commands
/// beyond the checkpoint's: an open that will merge the commands of a long tail into
/// them does so in place, without a second copy of every key.
pub fn decode_index_checkpoint_with_room(
    bytes: &[u8],
    more: usize,
) -> Result<IndexCheckpoint, CodecError> {
    let mut r = Reader { bytes };
    let version = u16::from_le_bytes(r.array()?);
    if version != INDEX_CHECKPOINT_VERSION {
        return Err(CodecError(format!(
            "index checkpoint version {version}; this version reads {INDEX_CHECKPOINT_VERSION}"
        )));
    }
    let next_position = u64::from_le_bytes(r.array()?);
    let head_hash = r.array()?;
    let command_key_probe = u128::from_le_bytes(r.array()?);
    let stream_count = r.count(2)?;
    let mut streams = Vec::with_capacity(stream_count);
    for _ in 0..stream_count {
        let name_bytes = r.count(1)?;
        let name = std::str::from_utf8(r.take(name_bytes)?)
            .map_err(|_| CodecError("index checkpoint: a stream name is not UTF-8".into()))?
            .to_owned();
        let n = r.count(1)?;
        let mut positions = Vec::with_capacity(n);
        let mut previous = 0u64;
        for _ in 0..n {
            previous = previous
                .checked_add(r.varint()?)
                .ok_or_else(|| CodecError("index checkpoint: a position overflows".into()))?;
            positions.push(previous);
        }
        streams.push((name, positions));
    }
    let command_count = r.count(18)?;
    let mut commands = Vec::with_capacity(command_count.saturating_add(more));
    for _ in 0..command_count {
        let key = u128::from_le_bytes(r.array()?);
        let first_position = r.varint()?;
        let count = u32::try_from(r.varint()?)
            .map_err(|_| CodecError("index checkpoint: a command count overflows".into()))?;
        if commands
            .last()
            .is_some_and(|(previous, _, _): &(u128, u64, u32)| *previous >= key)
        {
            return Err(CodecError(
                "index checkpoint: commands are not in increasing key order".into(),
            ));
        }
        commands.push((key, first_position, count));
    }
    if !r.bytes.is_empty() {
        return Err(CodecError(format!(
            "{} trailing bytes after the index checkpoint",
            r.bytes.len()
        )));
    }
    Ok(IndexCheckpoint {
        next_position,
        head_hash,
        command_key_probe,
        streams,
        commands,
    })
}

/// Most bytes of records the sled backend packs into one sled value (a chunk).
/// sled splits a leaf above 16 entries and writes a page above 128 KiB as a separate
/// blob file; 4 KiB chunks keep a full leaf at 64 KiB, far from that threshold.
pub const CHUNK_BYTES_TARGET: usize = 4 * 1024;

/// Packs stored values (record ‖ hash) into chunks of about [`CHUNK_BYTES_TARGET`]
/// bytes: each entry is a u32 little-endian length followed by the value. Returns
/// (index of the first record in the chunk, chunk bytes) pairs.
pub fn encode_chunks(values: &[Vec<u8>]) -> Vec<(usize, Vec<u8>)> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut current: Vec<u8> = Vec::with_capacity(CHUNK_BYTES_TARGET);
    for (i, value) in values.iter().enumerate() {
        if !current.is_empty() && current.len() + 4 + value.len() > CHUNK_BYTES_TARGET {
            let full = std::mem::replace(&mut current, Vec::with_capacity(CHUNK_BYTES_TARGET));
            chunks.push((start, full));
            start = i;
        }
        let len = u32::try_from(value.len()).expect("a stored value is bounded by EVENT_BYTES_MAX");
        current.extend_from_slice(&len.to_le_bytes());
        current.extend_from_slice(value);
    }
    if !current.is_empty() {
        chunks.push((start, current));
    }
    chunks
}

/// The first four bytes of a compressed chunk. A plain chunk starts with the length of
/// its first stored value, which is more than 32, so it never starts with these.
pub const COMPRESSED_CHUNK_TAG: [u8; 4] = [0; 4];

/// The most bytes a compressed chunk may decompress to: a chunk of
/// [`CHUNK_BYTES_TARGET`], or one entry of the largest stored value.
pub const CHUNK_PLAIN_BYTES_MAX: usize = 4 + EVENT_BYTES_MAX;

const _: () = assert!(CHUNK_BYTES_TARGET <= CHUNK_PLAIN_BYTES_MAX);

/// A chunk of [`encode_chunks`] as a ledger of format 2 stores it (docs/FORMAT.md §8):
/// [`COMPRESSED_CHUNK_TAG`], the plain chunk's length as a u32 little-endian, then
/// the plain chunk as one LZ4 block; or the plain chunk itself when that is not
/// larger.
pub fn compress_chunk(plain: Vec<u8>) -> Vec<u8> {
    let plain_len = u32::try_from(plain.len()).expect("a chunk is bounded by a few stored values");
    let mut packed = vec![0; 8 + lz4_flex::block::get_maximum_output_size(plain.len())];
    packed[4..8].copy_from_slice(&plain_len.to_le_bytes());
    let block_len = lz4_flex::block::compress_into(&plain, &mut packed[8..])
        .expect("the output has room for the largest block");
    if 8 + block_len >= plain.len() {
        return plain;
    }
    packed.truncate(8 + block_len);
    packed
}

/// The plain bytes of a stored chunk, which [`chunk_entries`] reads: the chunk
/// itself, or, for a compressed one, its block decompressed into `buffer`.
pub fn plain_chunk<'a>(chunk: &'a [u8], buffer: &'a mut Vec<u8>) -> Result<&'a [u8], CodecError> {
    let Some(packed) = chunk.strip_prefix(&COMPRESSED_CHUNK_TAG) else {
        return Ok(chunk);
    };
    let (plain_len, block) = packed
        .split_first_chunk::<4>()
        .ok_or_else(|| CodecError("compressed chunk has a truncated length".into()))?;
    let plain_len = usize::try_from(u32::from_le_bytes(*plain_len)).expect("u32 fits usize");
    if plain_len == 0 || plain_len > CHUNK_PLAIN_BYTES_MAX {
        return Err(CodecError(format!(
            "compressed chunk gives a length of {plain_len} bytes, outside 1..={CHUNK_PLAIN_BYTES_MAX}"
        )));
    }
    buffer.clear();
    buffer.resize(plain_len, 0);
    let unpacked = lz4_flex::block::decompress_into(block, buffer)
        .map_err(|e| CodecError(format!("compressed chunk does not decompress: {e}")))?;
    if unpacked != plain_len {
        return Err(CodecError(format!(
            "compressed chunk decompresses to {unpacked} bytes, not the {plain_len} it gives"
        )));
    }
    Ok(buffer)
}

/// The stored values in a plain chunk ([`plain_chunk`]) or a journal frame, in order.
/// Stops with an error at a malformed entry.
pub fn chunk_entries(chunk: &[u8]) -> impl Iterator<Item = Result<&[u8], CodecError>> + '_ {
    let mut rest = chunk;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let entry = (|| {
            let (len, tail) = rest
                .split_first_chunk::<4>()
                .ok_or_else(|| CodecError("chunk entry has a truncated length".into()))?;
            let len = usize::try_from(u32::from_le_bytes(*len)).expect("u32 fits usize");
            if len > tail.len() {
                return Err(CodecError(format!(
                    "chunk entry of {len} bytes runs past the chunk's end"
                )));
            }
            let (value, after) = tail.split_at(len);
            Ok((value, after))
        })();
        Some(match entry {
            Ok((value, after)) => {
                rest = after;
                Ok(value)
            }
            Err(e) => {
                rest = &[];
                Err(e)
            }
        })
    })
}

/// The first bytes of every journal frame: "WLJ1".
pub const JOURNAL_FRAME_MAGIC: [u8; 4] = *b"WLJ1";
/// Frame header: magic, payload length (u32 LE), CRC-32 of the length bytes and the
/// payload together (u32 LE), so that a damaged length is detected too.
pub const JOURNAL_FRAME_HEADER_BYTES: usize = 12;

/// Encodes one journal frame: a durable copy of one write (records and head marker)
/// that recovery replays into sled if sled lost it.
pub fn encode_journal_frame(first_position: u64, head: &[u8], values: &[Vec<u8>]) -> Vec<u8> {
    let mut payload =
        Vec::with_capacity(16 + head.len() + values.iter().map(|v| v.len() + 4).sum::<usize>());
    payload.extend_from_slice(&first_position.to_le_bytes());
    let head_len = u32::try_from(head.len()).expect("head marker is small");
    payload.extend_from_slice(&head_len.to_le_bytes());
    payload.extend_from_slice(head);
    let count = u32::try_from(values.len()).expect("bounded by GROUP_COMMIT_EVENTS_MAX");
    payload.extend_from_slice(&count.to_le_bytes());
    for value in values {
        let len = u32::try_from(value.len()).expect("bounded by EVENT_BYTES_MAX");
        payload.extend_from_slice(&len.to_le_bytes());
        payload.extend_from_slice(value);
    }
    let mut frame = Vec::with_capacity(JOURNAL_FRAME_HEADER_BYTES + payload.len());
    frame.extend_from_slice(&JOURNAL_FRAME_MAGIC);
    let len = u32::try_from(payload.len()).expect("a frame is bounded by the group size");
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&frame_crc(len.to_le_bytes(), &payload).to_le_bytes());
    frame.extend_from_slice(&payload);
    frame
}

/// A decoded journal frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalFrame {
    pub first_position: u64,
    pub head: Vec<u8>,
    pub values: Vec<Vec<u8>>,
}

/// What reading a frame at some offset of the journal found.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameRead {
    /// A complete, intact frame and its length in bytes.
    Frame(JournalFrame, usize),
    /// Nothing more: the journal ends here.
    End,
    /// Bytes that are not a whole intact frame; `declared_end` is where the frame
    /// would end if its header is to be believed (None if the header is cut short).
    Damaged {
        what: String,
        declared_end: Option<usize>,
    },
}

/// Reads the frame at the start of `bytes`.
pub fn read_journal_frame(bytes: &[u8]) -> FrameRead {
    if bytes.is_empty() {
        return FrameRead::End;
    }
    if bytes.len() < JOURNAL_FRAME_HEADER_BYTES {
        return FrameRead::Damaged {
            what: "the frame header is cut short".into(),
            declared_end: None,
        };
    }
    let len = usize::try_from(u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]))
        .expect("u32 fits usize");
    let declared_end = JOURNAL_FRAME_HEADER_BYTES.checked_add(len);
    if bytes[..4] != JOURNAL_FRAME_MAGIC {
        return FrameRead::Damaged {
            what: "the frame does not start with the journal magic".into(),
            declared_end: None,
        };
    }
    let Some(payload) = declared_end.and_then(|end| bytes.get(JOURNAL_FRAME_HEADER_BYTES..end))
    else {
        return FrameRead::Damaged {
            what: format!("the frame declares {len} bytes but the journal ends first"),
            declared_end,
        };
    };
    let crc = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if frame_crc([bytes[4], bytes[5], bytes[6], bytes[7]], payload) != crc {
        return FrameRead::Damaged {
            what: "the frame's checksum does not match its bytes".into(),
            declared_end,
        };
    }
    match decode_frame_payload(payload) {
        Ok(frame) => FrameRead::Frame(frame, JOURNAL_FRAME_HEADER_BYTES + len),
        Err(e) => FrameRead::Damaged {
            what: e.0,
            declared_end,
        },
    }
}

/// CRC-32 (IEEE) of a frame's length bytes followed by its payload.
fn frame_crc(len_bytes: [u8; 4], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len_bytes);
    hasher.update(payload);
    hasher.finalize()
}

/// The offset of the first intact frame in `bytes`, if any: used to tell a torn
/// last frame (nothing intact after it) from damage in the middle.
pub fn find_intact_journal_frame(bytes: &[u8]) -> Option<usize> {
    (0..bytes.len().saturating_sub(JOURNAL_FRAME_HEADER_BYTES - 1))
        .filter(|&i| bytes[i..].starts_with(&JOURNAL_FRAME_MAGIC))
        .find(|&i| matches!(read_journal_frame(&bytes[i..]), FrameRead::Frame(..)))
}

fn decode_frame_payload(payload: &[u8]) -> Result<JournalFrame, CodecError> {
    let short = || CodecError("the frame payload is cut short".into());
    let (first, rest) = payload.split_first_chunk::<8>().ok_or_else(short)?;
    let (head_len, rest) = rest.split_first_chunk::<4>().ok_or_else(short)?;
    let head_len = usize::try_from(u32::from_le_bytes(*head_len)).expect("u32 fits usize");
    if head_len > rest.len() {
        return Err(short());
    }
    let (head, rest) = rest.split_at(head_len);
    let (count, rest) = rest.split_first_chunk::<4>().ok_or_else(short)?;
    let count = u32::from_le_bytes(*count);
    let values = chunk_entries(rest)
        .map(|v| v.map(<[u8]>::to_vec))
        .collect::<Result<Vec<_>, _>>()?;
    if values.len() != count as usize {
        return Err(CodecError(format!(
            "the frame declares {count} records but holds {}",
            values.len()
        )));
    }
    Ok(JournalFrame {
        first_position: u64::from_le_bytes(*first),
        head: head.to_vec(),
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ExpectedVersion;

    fn sample_event() -> NewEvent {
        NewEvent {
            stream: StreamName::new("fund-SM-2021-BURSARY").unwrap(),
            expected: ExpectedVersion::Any,
            event_type: EventType::new("BursaryAwarded").unwrap(),
            schema_version: 1,
            payload: vec![1, 2, 3],
            actor: Actor::new("clerk-三明").unwrap(),
            effective_date: NaiveDate::from_ymd_opt(2021, 9, 1).unwrap(),
            memo: Memo::new("金秋助学 2021").unwrap(),
        }
    }

    #[test]
    fn a_value_snapshot_is_the_snapshot_of_the_encoded_value() {
        let value = (7u64, "三明".to_string(), vec![1u8, 2, 3]);
        assert_eq!(
            encode_value_snapshot(42, &value).unwrap(),
            encode_snapshot(42, &encode_value(&value).unwrap())
        );
    }

    /// Found by the `record_decoder` fuzz target (docs/RELIABILITY.md, "Fuzzing"): an
    /// event payload whose first string claims 0x0100_0000_0168_0000 bytes made bincode
    /// allocate that much before reading it, and the process aborted. The bytes are the
    /// fuzzer's minimised payload, read with a stand-in of the engine's payload layout
    /// (digest option, event variant index, the event's first field, a string).
    #[test]
    fn a_length_beyond_the_bytes_is_an_error_not_an_allocation() {
        let minimised = [
            0x00, 0, 0, 0, 0, 0x00, 0x00, 0x68, 0x01, 0x00, 0x00, 0x00, 0x01,
        ];
        let error = decode_value::<(Option<[u8; 32]>, u32, String)>(&minimised).unwrap_err();
        assert!(error.0.contains("LimitExceeded"), "{error}");
        // A length that could be allocated (lazily) is refused just the same, in a small
        // value and in a large one.
        let huge = (1u64 << 30).to_le_bytes();
        assert!(decode_value::<String>(&huge).is_err());
        assert!(decode_value::<Vec<u8>>(&huge).is_err());
        let mut large = encode_value(&vec![7u8; 2 * EVENT_BYTES_MAX]).unwrap();
        large.extend_from_slice(&(1u64 << 30).to_le_bytes());
        assert!(decode_value::<(Vec<u8>, String)>(&large).is_err());
    }

    #[test]
    fn values_of_every_size_class_decode_whole() {
        let tiers = VALUE_LIMIT_TIERS_BYTES;
        // A string's encoding is its u64 length and its bytes: these fill a size class
        // exactly and overflow it by one byte.
        for len in [0, 1, tiers[0] - 8, tiers[0] - 7, tiers[1] - 8, tiers[1] - 7] {
            let value = "x".repeat(len);
            let bytes = encode_value(&value).unwrap();
            assert_eq!(decode_value::<String>(&bytes).unwrap(), value, "{len}");
        }
    }

    #[test]
    fn record_round_trips_and_keeps_every_field() {
        let command_id = CommandId::new("cmd-1").unwrap();
        let event = sample_event();
        let bytes = encode_record(
            &event,
            Placement {
                position: 42,
                prev_hash: [9; 32],
                recorded_at_ms: 1_700_000_000_123,
                command_id: &command_id,
                command_event_index: 1,
                command_event_count: 2,
                stream_version: 7,
            },
        );
        let back = decode_record(&bytes, [3; 32]).unwrap();
        assert_eq!(back.hash, [3; 32]);
        assert_eq!(back.position, 42);
        assert_eq!(back.prev_hash, [9; 32]);
        assert_eq!(back.recorded_at_ms, 1_700_000_000_123);
        assert_eq!(back.command_id, command_id);
        assert_eq!((back.command_event_index, back.command_event_count), (1, 2));
        assert_eq!(back.stream_version, 7);
        assert!(back.same_content(&event));
    }

    #[test]
    fn truncated_extended_and_foreign_bytes_are_refused() {
        let command_id = CommandId::new("cmd-1").unwrap();
        let bytes = encode_record(
            &sample_event(),
            Placement {
                position: 0,
                prev_hash: [0; 32],
                recorded_at_ms: 0,
                command_id: &command_id,
                command_event_index: 0,
                command_event_count: 1,
                stream_version: 0,
            },
        );
        assert!(decode_record(&bytes[..bytes.len() - 1], [0; 32]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_record(&longer, [0; 32]).is_err());
        let mut other_layout = bytes.clone();
        other_layout[0] = 2;
        assert!(decode_record(&other_layout, [0; 32])
            .unwrap_err()
            .0
            .contains("layout"));
        assert!(decode_record(&[], [0; 32]).is_err());
        assert!(decode_stored(&[0; 32]).is_err());
    }

    #[test]
    fn header_and_head_round_trip() {
        let header = Header {
            format_version: FORMAT_VERSION,
            hash_algorithm: HashAlgorithm::Sm3,
            created_at_ms: 5,
        };
        assert_eq!(decode_header(&encode_header(&header)).unwrap(), header);
        let head = HeadMarker {
            next_position: 3,
            hash: [1; 32],
        };
        assert_eq!(decode_head(&encode_head(&head)).unwrap(), head);
        assert!(decode_header(b"not a ledger").is_err());
    }

    #[test]
    fn dates_map_to_days_since_the_unix_epoch() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        assert_eq!(days_since_epoch(epoch), 0);
        let d = NaiveDate::from_ymd_opt(2021, 12, 31).unwrap();
        assert_eq!(date_from_days(days_since_epoch(d)), Some(d));
        assert_eq!(date_from_days(i32::MAX), None);
    }

    #[test]
    fn chunks_pack_values_in_order_and_unpack_them() {
        let values: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 100 + usize::from(i)]).collect();
        let chunks = encode_chunks(&values);
        assert!(chunks.len() > 1);
        let mut back = Vec::new();
        for (start, chunk) in &chunks {
            assert_eq!(*start, back.len());
            assert!(chunk.len() <= CHUNK_BYTES_TARGET);
            back.extend(chunk_entries(chunk).map(|v| v.unwrap().to_vec()));
        }
        assert_eq!(back, values);
        // One value larger than the target gets a chunk of its own.
        let big = vec![vec![1u8; CHUNK_BYTES_TARGET * 2], vec![2u8; 10]];
        assert_eq!(encode_chunks(&big).len(), 2);
        let mut bad = chunks[0].1.clone();
        bad.truncate(bad.len() - 1);
        assert!(chunk_entries(&bad).any(|v| v.is_err()));
    }

    proptest::proptest! {
        /// Any chunk of stored values reads back the same through compression: plain
        /// when compressing does not pay, else from the LZ4 block.
        #[test]
        fn chunks_read_back_the_same_compressed_or_plain(
            values in proptest::collection::vec(
                (33usize..600, proptest::num::u8::ANY, proptest::bool::ANY),
                1..40,
            )
        ) {
            let values: Vec<Vec<u8>> = values
                .into_iter()
                .enumerate()
                .map(|(i, (len, byte, noisy))| {
                    (0..len)
                        .map(|j| if noisy { u8::try_from((i * 131 + j * 197) % 251).unwrap() ^ byte } else { byte })
                        .collect()
                })
                .collect();
            let mut back = Vec::new();
            let mut buffer = Vec::new();
            for (start, plain) in encode_chunks(&values) {
                proptest::prop_assert_eq!(start, back.len());
                let stored = compress_chunk(plain.clone());
                proptest::prop_assert!(stored.len() <= plain.len());
                proptest::prop_assert_eq!(
                    stored.starts_with(&COMPRESSED_CHUNK_TAG),
                    stored.len() < plain.len()
                );
                let read = plain_chunk(&stored, &mut buffer).unwrap();
                proptest::prop_assert_eq!(read, &plain[..]);
                back.extend(chunk_entries(read).map(|v| v.unwrap().to_vec()));
            }
            proptest::prop_assert_eq!(back, values);
        }
    }

    #[test]
    fn a_damaged_compressed_chunk_is_an_error() {
        let values: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 150]).collect();
        let (_, plain) = encode_chunks(&values).remove(0);
        let stored = compress_chunk(plain);
        assert!(stored.starts_with(&COMPRESSED_CHUNK_TAG));
        let mut buffer = Vec::new();
        let with_length = |len: u32| {
            let mut changed = stored.clone();
            changed[4..8].copy_from_slice(&len.to_le_bytes());
            changed
        };
        for (damaged, what) in [
            (stored[..6].to_vec(), "truncated length"),
            (stored[..stored.len() - 3].to_vec(), "does not decompress"),
            (with_length(0), "outside 1..="),
            (with_length(70_000), "outside 1..="),
            (with_length(100), "does not decompress"),
        ] {
            let e = plain_chunk(&damaged, &mut buffer).unwrap_err();
            assert!(e.0.contains(what), "{what}: {e}");
        }
    }

    #[test]
    fn journal_frames_round_trip_and_damage_is_reported() {
        let values = vec![vec![1u8, 2, 3], vec![4u8; 300]];
        let frame = encode_journal_frame(17, b"head", &values);
        let mut journal = frame.clone();
        journal.extend_from_slice(&encode_journal_frame(19, b"next", &[vec![9]]));
        let FrameRead::Frame(first, used) = read_journal_frame(&journal) else {
            panic!("first frame must read")
        };
        assert_eq!(used, frame.len());
        assert_eq!(
            (first.first_position, first.head.as_slice(), first.values),
            (17, &b"head"[..], values)
        );
        assert!(
            matches!(read_journal_frame(&journal[used..]), FrameRead::Frame(f, _) if f.first_position == 19)
        );
        assert_eq!(read_journal_frame(&[]), FrameRead::End);
        // A torn frame: its declared end lies beyond the bytes present.
        assert!(matches!(
            read_journal_frame(&frame[..frame.len() - 1]),
            FrameRead::Damaged { .. }
        ));
        let mut flipped = frame.clone();
        flipped[20] ^= 1;
        assert!(
            matches!(read_journal_frame(&flipped), FrameRead::Damaged { declared_end: Some(end), .. } if end == frame.len())
        );
    }

    #[test]
    fn record_keys_sort_by_position() {
        assert!(record_key(1) < record_key(256));
        assert_eq!(position_of_key(&record_key(300)).unwrap(), 300);
        assert!(HEADER_KEY < HEAD_KEY && HEAD_KEY < &record_key(0)[..]);
    }
}
