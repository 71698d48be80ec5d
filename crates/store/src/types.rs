//! The values that go into and come out of the log: names, versions, new and recorded events.

use std::fmt;

use chrono::NaiveDate;

use crate::limits::{
    ACTOR_BYTES_MAX, COMMAND_ID_BYTES_MAX, EVENT_TYPE_BYTES_MAX, MEMO_BYTES_MAX,
    STREAM_NAME_BYTES_MAX,
};

/// Which kind of name failed validation; part of [`NameError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Stream,
    CommandId,
    EventType,
    Actor,
    Memo,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Stream => "stream name",
            NameKind::CommandId => "command id",
            NameKind::EventType => "event type",
            NameKind::Actor => "actor",
            NameKind::Memo => "memo",
        })
    }
}

/// A name or text field that does not have the shape the log accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {reason}")]
pub struct NameError {
    pub kind: NameKind,
    /// The offending value, cut to 80 characters so an error never echoes a huge input.
    pub value: String,
    pub reason: String,
}

impl NameError {
    fn new(kind: NameKind, value: &str, reason: impl Into<String>) -> Self {
        NameError {
            kind,
            value: value.chars().take(80).collect(),
            reason: reason.into(),
        }
    }
}

/// The bytes an identifier may hold: ASCII letters, digits and `-_.:`. A table, because
/// every record read is checked again (a rebuild checks tens of millions).
const IDENTIFIER_BYTES: [bool; 256] = {
    let mut allowed = [false; 256];
    let mut b = u8::MAX;
    loop {
        allowed[b as usize] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':');
        if b == 0 {
            break allowed;
        }
        b -= 1;
    }
};

/// Identifiers (streams, command ids) are ASCII letters, digits and `-_.:`,
/// start with a letter or digit, and have a bounded length. No `/`, no `..`,
/// no spaces: an id can be put in a URL path or a file name without escaping.
fn check_identifier(kind: NameKind, value: &str, max: usize) -> Result<(), NameError> {
    if value.is_empty() {
        return Err(NameError::new(kind, value, "it is empty"));
    }
    if value.len() > max {
        return Err(NameError::new(
            kind,
            value,
            format!("it is {} bytes long; the maximum is {max}", value.len()),
        ));
    }
    if !value.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(NameError::new(
            kind,
            value,
            "it must start with an ASCII letter or digit",
        ));
    }
    let allowed = |b: u8| IDENTIFIER_BYTES[usize::from(b)];
    // Bytes first (every allowed character is one ASCII byte); the characters only to
    // name the first one refused.
    if !value.bytes().all(allowed) {
        let bad = value
            .chars()
            .find(|&c| !u8::try_from(c).is_ok_and(allowed))
            .expect("a refused byte belongs to a refused character");
        return Err(NameError::new(
            kind,
            value,
            format!("character {bad:?} is not allowed; use ASCII letters, digits and - _ . :"),
        ));
    }
    if value.as_bytes().windows(2).any(|pair| pair == b"..") {
        return Err(NameError::new(kind, value, "it must not contain \"..\""));
    }
    Ok(())
}

/// Free text (actor, memo) may be any Unicode without control characters.
fn check_text(kind: NameKind, value: &str, max: usize, allow_empty: bool) -> Result<(), NameError> {
    if !allow_empty && value.trim().is_empty() {
        return Err(NameError::new(kind, value, "it is empty"));
    }
    if value.len() > max {
        return Err(NameError::new(
            kind,
            value,
            format!("it is {} bytes long; the maximum is {max}", value.len()),
        ));
    }
    // Printable ASCII has no control character; anything else is looked at by character.
    if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) && value.chars().any(char::is_control) {
        return Err(NameError::new(
            kind,
            value,
            "it contains a control character",
        ));
    }
    Ok(())
}

/// A validated string type. `check` is what every stored value satisfies (decoding
/// checks it); `new` also applies `new_check`, where given: a rule for values written
/// from now on that records written before it may break.
macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        validated_string!($(#[$doc])* $name, $check, |_| Ok(()));
    };
    ($(#[$doc:meta])* $name:ident, $check:expr, $new_check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Result<Self, NameError> {
                let value = value.into();
                Self::check(&value)?;
                let new_check: fn(&str) -> Result<(), NameError> = $new_check;
                new_check(&value)?;
                Ok($name(value))
            }

            /// Whether `value` is valid, without building the name: what
            /// [`RecordView`](crate::RecordView) holds its borrowed fields to.
            pub fn check(value: &str) -> Result<(), NameError> {
                let check: fn(&str) -> Result<(), NameError> = $check;
                check(value)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The name of `value`, which has passed [`Self::check`] already (a
            /// decoded record's field).
            pub(crate) fn from_checked(value: &str) -> Self {
                $name(value.to_owned())
            }
        }

        /// Maps keyed by names are looked up by a borrowed `&str` (hashes alike).
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = NameError;
            fn from_str(value: &str) -> Result<Self, NameError> {
                $name::new(value)
            }
        }
    };
}

validated_string!(
    /// The name of a stream, e.g. `fund-SM-2021-BURSARY` or `loan-L000123`.
    StreamName,
    |v| check_identifier(NameKind::Stream, v, STREAM_NAME_BYTES_MAX)
);
validated_string!(
    /// The idempotency key of a command: the same id again returns the original result.
    CommandId,
    |v| check_identifier(NameKind::CommandId, v, COMMAND_ID_BYTES_MAX)
);
validated_string!(
    /// The stable name of an event's type, e.g. `LoanDisbursed`.
    EventType,
    |v| check_identifier(NameKind::EventType, v, EVENT_TYPE_BYTES_MAX)
);
validated_string!(
    /// Who caused an event: a user id or a system component.
    Actor,
    |v| check_text(NameKind::Actor, v, ACTOR_BYTES_MAX, false)
);
validated_string!(
    /// Why an event happened: a memo or a reference to a voucher. May be empty. A new
    /// memo may not hold bidirectional formatting characters ([`BIDI_CONTROLS`]);
    /// records written before that rule still decode.
    Memo,
    |v| check_text(NameKind::Memo, v, MEMO_BYTES_MAX, true),
    |v| check_no_bidi_controls(NameKind::Memo, v)
);

/// Unicode's bidirectional formatting characters: marks, embeddings, overrides and
/// isolates. They make text display in another order than it is stored
/// (`"fee\u{202E}001"` shows as "fee100"), so an auditor reading a memo could read
/// something other than what was hashed.
pub const BIDI_CONTROLS: [char; 12] = [
    '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
];

fn check_no_bidi_controls(kind: NameKind, value: &str) -> Result<(), NameError> {
    // ASCII text holds none; anything else is looked at by character.
    match value.chars().find(|c| !c.is_ascii() && BIDI_CONTROLS.contains(c)) {
        None => Ok(()),
        Some(c) => Err(NameError::new(
            kind,
            value,
            format!(
                "it contains the bidirectional formatting character U+{:04X}, which makes text display in another order than it is recorded",
                u32::from(c)
            ),
        )),
    }
}

/// Snapshot names become file names: the identifier alphabet only, so no name can
/// reach outside the snapshot directory.
pub(crate) fn check_snapshot_name(name: &str) -> Result<(), crate::StoreError> {
    check_identifier(NameKind::Stream, name, STREAM_NAME_BYTES_MAX).map_err(|e| {
        crate::StoreError::Backend {
            op: "naming a snapshot",
            message: e.to_string(),
        }
    })
}

/// What the writer of an event expects the stream's current version to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have exactly this version.
    Exact(u64),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// One event to append. The log adds position, stream version, command id,
/// the time recorded and the predecessor's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub stream: StreamName,
    pub expected: ExpectedVersion,
    pub event_type: EventType,
    pub schema_version: u16,
    pub payload: Vec<u8>,
    pub actor: Actor,
    /// The business date on which the money moved.
    pub effective_date: NaiveDate,
    pub memo: Memo,
}

impl NewEvent {
    /// True when `other` carries the same content: everything the caller chooses
    /// except the expected version, which a successful first attempt has consumed.
    pub(crate) fn same_content(&self, other: &NewEvent) -> bool {
        self.stream == other.stream
            && self.event_type == other.event_type
            && self.schema_version == other.schema_version
            && self.actor == other.actor
            && self.effective_date == other.effective_date
            && self.memo == other.memo
            && self.payload == other.payload
    }
}

/// The events of one command: appended all or nothing, under one idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendBatch {
    pub command_id: CommandId,
    pub events: Vec<NewEvent>,
}

/// The outcome of an accepted append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Global position of the batch's first event.
    pub first_position: u64,
    /// Number of events in the batch; their positions are contiguous.
    pub count: u32,
    /// True when this append was a retry of a command already in the log:
    /// the positions are the original ones and nothing was appended.
    pub duplicate: bool,
}

impl Appended {
    pub fn positions(&self) -> std::ops::Range<u64> {
        self.first_position..self.first_position + u64::from(self.count)
    }
}

/// An event as stored in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    pub position: u64,
    /// The chain hash of the previous record (32 zero bytes for position 0).
    pub prev_hash: [u8; 32],
    /// This record's chain hash, `H(prev_hash ‖ record bytes)`, as stored.
    pub hash: [u8; 32],
    /// System time when the writer committed it, milliseconds since the Unix epoch (UTC).
    pub recorded_at_ms: i64,
    pub command_id: CommandId,
    /// Index of this event within its command, and the command's event count.
    pub command_event_index: u32,
    pub command_event_count: u32,
    pub stream: StreamName,
    pub stream_version: u64,
    pub event_type: EventType,
    pub schema_version: u16,
    pub actor: Actor,
    pub effective_date: NaiveDate,
    pub memo: Memo,
    pub payload: Vec<u8>,
}

impl RecordedEvent {
    /// True when this stored event carries the same content as `new`
    /// (everything the caller chose; not what the log added).
    pub(crate) fn same_content(&self, new: &NewEvent) -> bool {
        self.stream == new.stream
            && self.event_type == new.event_type
            && self.schema_version == new.schema_version
            && self.actor == new.actor
            && self.effective_date == new.effective_date
            && self.memo == new.memo
            && self.payload == new.payload
    }
}

/// An event as stored in the log, read in place: the same fields as [`RecordedEvent`],
/// every text and the payload borrowed from the stored bytes, so that reading a record
/// allocates nothing. It is built only by the codec, with every check of the owned
/// decoder: the names are valid ([`CommandId::check`] and the others), the event index
/// lies inside its command, the date is in range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub position: u64,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
    pub recorded_at_ms: i64,
    pub command_id: &'a str,
    pub command_event_index: u32,
    pub command_event_count: u32,
    pub stream: &'a str,
    pub stream_version: u64,
    pub event_type: &'a str,
    pub schema_version: u16,
    pub actor: &'a str,
    pub effective_date: NaiveDate,
    pub memo: &'a str,
    pub payload: &'a [u8],
}

impl RecordView<'_> {
    /// The owned event with the same fields (the names were checked when decoded).
    pub fn to_recorded(&self) -> RecordedEvent {
        RecordedEvent {
            position: self.position,
            prev_hash: self.prev_hash,
            hash: self.hash,
            recorded_at_ms: self.recorded_at_ms,
            command_id: CommandId::from_checked(self.command_id),
            command_event_index: self.command_event_index,
            command_event_count: self.command_event_count,
            stream: StreamName::from_checked(self.stream),
            stream_version: self.stream_version,
            event_type: EventType::from_checked(self.event_type),
            schema_version: self.schema_version,
            actor: Actor::from_checked(self.actor),
            effective_date: self.effective_date,
            memo: Memo::from_checked(self.memo),
            payload: self.payload.to_vec(),
        }
    }
}

impl RecordedEvent {
    /// This event as a view borrowing its fields.
    pub fn view(&self) -> RecordView<'_> {
        RecordView {
            position: self.position,
            prev_hash: self.prev_hash,
            hash: self.hash,
            recorded_at_ms: self.recorded_at_ms,
            command_id: self.command_id.as_str(),
            command_event_index: self.command_event_index,
            command_event_count: self.command_event_count,
            stream: self.stream.as_str(),
            stream_version: self.stream_version,
            event_type: self.event_type.as_str(),
            schema_version: self.schema_version,
            actor: self.actor.as_str(),
            effective_date: self.effective_date,
            memo: self.memo.as_str(),
            payload: &self.payload,
        }
    }
}

/// The end of the log: how many events it holds and the hash of the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The position the next event will get; equal to the number of events.
    pub next_position: u64,
    /// Hash of the last event (32 zero bytes for an empty log).
    pub hash: [u8; 32],
}

/// An event's exact record bytes (what the chain hashes) and its stored hash,
/// for exporters and auditors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub position: u64,
    pub record: Vec<u8>,
    pub hash: [u8; 32],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_accept_the_documented_alphabet() {
        assert!(StreamName::new("fund-SM-2021_BURSARY.v1:a").is_ok());
        assert!(CommandId::new("0c9a6f1e-7b4d-4c5e-9f00-1234567890ab").is_ok());
    }

    #[test]
    fn identifiers_reject_empty_long_traversal_and_odd_characters() {
        for bad in ["", "-lead", "a/b", "a..b", "ab..", "a b", "x\u{0}", "资金"] {
            let err = StreamName::new(bad).unwrap_err();
            assert_eq!(err.kind, NameKind::Stream, "{bad:?}");
        }
        assert!(StreamName::new("a.b.c.").is_ok());
        // Every byte after the first: ASCII letters, digits and - _ . : only.
        for b in 0..=u8::MAX {
            let name = format!("a{}", char::from(b));
            let allowed = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':');
            assert_eq!(StreamName::new(&name).is_ok(), allowed, "{name:?}");
        }
        let long = "a".repeat(STREAM_NAME_BYTES_MAX + 1);
        let err = StreamName::new(long).unwrap_err();
        assert!(err.reason.contains("maximum"), "{err}");
        assert!(err.value.len() <= 80);
    }

    #[test]
    fn text_fields_accept_unicode_and_reject_control_characters() {
        assert!(Memo::new("第十七批 幸福工程").is_ok());
        assert!(Memo::new("").is_ok());
        assert!(Actor::new("").is_err());
        assert!(Actor::new("clerk\n").is_err());
        assert_eq!(
            Memo::new("a".repeat(MEMO_BYTES_MAX + 1)).unwrap_err().kind,
            NameKind::Memo
        );
    }

    #[test]
    fn a_new_memo_refuses_bidirectional_formatting_but_a_stored_one_still_checks() {
        for c in BIDI_CONTROLS {
            let memo = format!("利息{c}001");
            let err = Memo::new(memo.as_str()).unwrap_err();
            assert_eq!(err.kind, NameKind::Memo);
            assert!(
                err.reason.contains(&format!("U+{:04X}", u32::from(c))),
                "{err}"
            );
            // What decoding checks: records written before the rule still read.
            assert!(Memo::check(&memo).is_ok());
        }
        // Right-to-left text itself is fine.
        assert!(Memo::new("مساعدة 2021 幸福工程").is_ok());
    }
}
