//! The engine's model of the ledger: the domain state plus the command index, built
//! by folding log events, and the mapping between domain events and log records.

use chrono::NaiveDateTime;
use ledger_domain::{evolve, Event, Recorded, State, UserId, CURRENT_SCHEMA_VERSION};
use ledger_store::{
    Actor, CommandId, EventType, ExpectedVersion, HashAlgorithm, Memo, NewEvent, RecordView,
    StreamName, GENESIS_HASH,
};
use serde::{Deserialize, Serialize};

use crate::EngineError;

/// What the log stores as an event's payload. The first event of each command also
/// carries the command's digest, so that the command index (idempotency) can be
/// rebuilt from the log alone.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Payload {
    #[serde(deserialize_with = "digest_in_words")]
    pub digest: Option<[u8; 32]>,
    pub event: Event,
}

/// Reads an optional digest, written as `[u8; 32]`, as four `u64`s: with the payload
/// codec's fixed-width little-endian integers (`ledger_store::codec::encode_value`,
/// docs/FORMAT.md §10) those are the same 32 bytes, taken in four steps of serde
/// instead of thirty-two (a rebuild decodes one digest per command).
fn digest_in_words<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<[u8; 32]>, D::Error> {
    struct Words([u8; 32]);
    impl<'de> Deserialize<'de> for Words {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Words, D::Error> {
            struct Visitor;
            impl<'de> serde::de::Visitor<'de> for Visitor {
                type Value = Words;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a 32-byte digest")
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> Result<Words, A::Error> {
                    let mut bytes = [0u8; 32];
                    for (i, chunk) in bytes.chunks_exact_mut(8).enumerate() {
                        let word: u64 = seq
                            .next_element()?
                            .ok_or_else(|| serde::de::Error::invalid_length(i, &self))?;
                        chunk.copy_from_slice(&word.to_le_bytes());
                    }
                    Ok(Words(bytes))
                }
            }
            deserializer.deserialize_tuple(4, Visitor)
        }
    }
    Ok(Option::<Words>::deserialize(deserializer)?.map(|Words(bytes)| bytes))
}

/// [`Payload`] by reference, for encoding without cloning the event: serde writes a
/// reference exactly as the value, so the bytes are the same.
#[derive(Serialize)]
struct PayloadRef<'a> {
    digest: Option<[u8; 32]>,
    event: &'a Event,
}

/// Where an accepted command's events are, and what it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CommandEntry {
    pub digest: [u8; 32],
    pub first_position: u64,
    pub count: u32,
}

/// The domain state after the events before `next_position`. (The command index
/// lives in the store; a command's digest is in its first event's payload.) The state
/// is lean: it keeps one bit per money event, and a reversal's original is read back
/// from the log (decision 0009).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    pub(crate) state: State,
    pub(crate) next_position: u64,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            state: State::lean(),
            next_position: 0,
        }
    }
}

impl Model {
    /// The domain state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// One past the last event folded in.
    pub fn next_position(&self) -> u64 {
        self.next_position
    }

    /// Folds one decoded event in. Events must come in position order.
    pub(crate) fn apply(&mut self, recorded: &Recorded) {
        assert_eq!(
            recorded.position, self.next_position,
            "events are folded in position order"
        );
        evolve(&mut self.state, recorded);
        self.next_position = recorded.position + 1;
    }
}

/// Decodes an event's payload, refusing schema versions this code cannot read. Takes
/// a view so that a rebuild decodes straight from the stored bytes; an owned
/// `RecordedEvent` passes `record.view()`.
pub(crate) fn decode_payload(record: &RecordView<'_>) -> Result<Payload, EngineError> {
    if record.schema_version != CURRENT_SCHEMA_VERSION {
        return Err(EngineError::corrupt(
            record.position,
            format!(
                "event {} has schema version {}; this version reads {CURRENT_SCHEMA_VERSION}",
                record.event_type, record.schema_version
            ),
        ));
    }
    let payload: Payload = ledger_store::codec::decode_value(record.payload)
        .map_err(|e| EngineError::corrupt(record.position, format!("payload: {e}")))?;
    if payload.event.event_type() != record.event_type {
        return Err(EngineError::corrupt(
            record.position,
            format!(
                "the envelope says {} but the payload holds {}",
                record.event_type,
                payload.event.event_type()
            ),
        ));
    }
    Ok(payload)
}

/// The domain's envelope for a stored event.
pub(crate) fn recorded_of(record: &RecordView<'_>, event: Event) -> Result<Recorded, EngineError> {
    recorded_sharing(record, event, &mut None)
}

/// [`recorded_of`], reusing `last_actor` when the event has the same actor (runs of
/// events by one clerk are the rule), else checking the name and remembering it.
pub(crate) fn recorded_sharing(
    record: &RecordView<'_>,
    event: Event,
    last_actor: &mut Option<UserId>,
) -> Result<Recorded, EngineError> {
    let actor = match last_actor {
        Some(actor) if actor.as_str() == record.actor => actor.clone(),
        _ => {
            let actor = UserId::new(record.actor)
                .map_err(|e| EngineError::corrupt(record.position, format!("actor: {e}")))?;
            *last_actor = Some(actor.clone());
            actor
        }
    };
    Ok(Recorded {
        position: record.position,
        command_id: ledger_domain::SmolStr::new(record.command_id),
        actor,
        effective_date: record.effective_date,
        recorded_at: datetime_of_ms(record.recorded_at_ms),
        event,
    })
}

/// Milliseconds since the Unix epoch as a UTC date and time (the epoch if out of range).
pub(crate) fn datetime_of_ms(ms: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .naive_utc()
}

/// The stream an event belongs to: its fund's, else its unit's or beneficiary's.
pub(crate) fn stream_of(event: &Event) -> StreamName {
    let name = match (event.fund(), event) {
        (Some(fund), _) => format!("fund-{fund}"),
        (None, Event::UnitRegistered { unit, .. } | Event::PeriodClosed { unit, .. }) => {
            format!("unit-{unit}")
        }
        (None, Event::BeneficiaryRegistered { beneficiary, .. }) => {
            format!("beneficiary-{beneficiary}")
        }
        (None, _) => "ledger".to_string(),
    };
    StreamName::new(name).expect("domain ids are a subset of the stream name alphabet")
}

/// A command's digest: what a retry under the same command id must match.
pub(crate) fn digest_of(
    command: &ledger_domain::Command,
    actor: &UserId,
    effective_date: chrono::NaiveDate,
    memo: &str,
) -> [u8; 32] {
    HashAlgorithm::Sha256
        .chain_value(&GENESIS_HASH, &(command, actor, effective_date, memo))
        .expect("commands encode")
}

/// The log records of one command's events.
pub(crate) fn new_events(
    events: &[Event],
    digest: [u8; 32],
    actor: &Actor,
    effective_date: chrono::NaiveDate,
    memo: &Memo,
) -> Vec<NewEvent> {
    events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let payload = PayloadRef {
                digest: (i == 0).then_some(digest),
                event,
            };
            NewEvent {
                stream: stream_of(event),
                expected: ExpectedVersion::Any,
                event_type: EventType::new(event.event_type())
                    .expect("event type names are identifiers"),
                schema_version: event.schema_version(),
                payload: ledger_store::codec::encode_value(&payload).expect("events encode"),
                actor: actor.clone(),
                effective_date,
                memo: memo.clone(),
            }
        })
        .collect()
}

/// Validated log-level names for a submission.
pub(crate) fn log_names(
    command_id: &str,
    actor: &UserId,
    memo: &str,
) -> Result<(CommandId, Actor, Memo), EngineError> {
    let invalid = |e: ledger_store::NameError| EngineError::InvalidInput {
        field: e.kind.to_string(),
        message: e.to_string(),
    };
    Ok((
        CommandId::new(command_id).map_err(invalid)?,
        Actor::new(actor.to_string()).map_err(invalid)?,
        Memo::new(memo).map_err(invalid)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A digest read in words is the digest written in bytes, and a payload cut
        /// inside its digest is refused as before.
        #[test]
        fn a_digest_reads_back_in_words(digest in proptest::option::of(proptest::array::uniform32(0u8..)), cut in 0usize..40) {
            let event = Event::ApprovalThresholdSet {
                fund: ledger_domain::FundId::new("HP-001").unwrap(),
                threshold: Some(ledger_domain::Amount::parse("5000.00").unwrap()),
            };
            let bytes = ledger_store::codec::encode_value(&PayloadRef { digest, event: &event }).unwrap();
            let back: Payload = ledger_store::codec::decode_value(&bytes).unwrap();
            proptest::prop_assert_eq!(back.digest, digest);
            proptest::prop_assert_eq!(back.event, event);
            let cut = cut.min(bytes.len() - 1);
            proptest::prop_assert!(ledger_store::codec::decode_value::<Payload>(&bytes[..cut]).is_err());
        }
    }

    /// Found by the `record_decoder` fuzz target (docs/RELIABILITY.md, "Fuzzing"): this
    /// payload (no digest, `UnitRegistered`, a unit code claiming 0x0100_0000_0168_0000
    /// bytes) aborted the process while the engine decoded it. It is corruption at its
    /// position now.
    #[test]
    fn a_payload_with_an_impossible_length_is_corruption_at_its_position() {
        let minimised = vec![
            0x00, 0, 0, 0, 0, 0x00, 0x00, 0x68, 0x01, 0x00, 0x00, 0x00, 0x01,
        ];
        let record = ledger_store::RecordedEvent {
            position: 41,
            prev_hash: [0; 32],
            hash: [0; 32],
            recorded_at_ms: 0,
            command_id: ledger_store::CommandId::new("cmd-1").unwrap(),
            command_event_index: 0,
            command_event_count: 1,
            stream: ledger_store::StreamName::new("unit-FJ").unwrap(),
            stream_version: 0,
            event_type: ledger_store::EventType::new("UnitRegistered").unwrap(),
            schema_version: CURRENT_SCHEMA_VERSION,
            actor: ledger_store::Actor::new("admin").unwrap(),
            effective_date: chrono::NaiveDate::from_ymd_opt(2021, 1, 4).unwrap(),
            memo: ledger_store::Memo::new("").unwrap(),
            payload: minimised,
        };
        match decode_payload(&record.view()) {
            Err(EngineError::Store(ledger_store::StoreError::Corruption { position, what })) => {
                assert_eq!(position, Some(41));
                assert!(what.starts_with("payload: "), "{what}");
            }
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    #[test]
    fn a_payload_by_reference_encodes_exactly_like_the_owned_payload() {
        let event = Event::UnitRegistered {
            unit: ledger_domain::UnitCode::new("FJ").unwrap(),
            name: "福建省".into(),
            level: ledger_domain::UnitLevel::Province,
            parent: None,
        };
        let owned = Payload {
            digest: Some([7; 32]),
            event: event.clone(),
        };
        let borrowed = PayloadRef {
            digest: Some([7; 32]),
            event: &event,
        };
        assert_eq!(
            ledger_store::codec::encode_value(&owned).unwrap(),
            ledger_store::codec::encode_value(&borrowed).unwrap()
        );
    }
}
