//! Pins the encoding of event payloads (docs/FORMAT.md §10): the whole Sanming
//! scenario plus one reversal is recorded through the engine on the memory backend;
//! for the first record of every event type, the payload must equal, byte for byte,
//! the committed file of the same position under `tests/golden/v1/`, and every
//! committed file must still decode to an event of the type its name says. `WELFARE_BLESS_GOLDEN=1` writes the files
//! (only ever for a new format version's folder; never rewrite v1).
//!
//! The same log also proves that the rebuild's decoding, from records read in place
//! (`Log::read_views`, `ledger_engine::event_record`), gives exactly what decoding the
//! owned records gives (`Log::read_all`, `recorded_event`), for every record of every
//! event type in it, and that projections rebuilt that way equal a fold of the owned
//! records; and that a payload damaged anywhere is refused by the rebuild, as
//! corruption at its position, without a panic.

use std::path::PathBuf;
use std::sync::Arc;

use ledger_domain::scenario::sanming_2021;
use ledger_domain::Command;
use ledger_engine::{event_record, recorded_event, Engine, Submission};
use ledger_projections::{EventRecord, Projection as _};
use ledger_store::{FixedClock, HashAlgorithm, Log, MemoryBackend};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v1")
}

/// The Sanming scenario and one reversal, recorded on the memory backend, and the
/// stored records of every event.
fn scenario_log() -> (Engine<MemoryBackend>, Vec<ledger_store::RecordedEvent>) {
    let clock = Arc::new(FixedClock::new(1_641_340_800_000));
    let log = Log::create(MemoryBackend::new(), HashAlgorithm::Sha256, clock.clone()).unwrap();
    let engine = Engine::open(log, clock).unwrap();
    for (i, step) in sanming_2021().into_iter().enumerate() {
        engine
            .submit(Submission {
                command_id: format!("golden-{i:03}"),
                command: step.command,
                actor: step.actor,
                effective_date: step.effective_date,
                memo: String::new(),
            })
            .unwrap();
    }
    let last = engine.log().unwrap().head().next_position - 1;
    engine
        .submit(Submission {
            command_id: "golden-reversal".into(),
            command: Command::ReverseEvent {
                position: last,
                reason: "entered twice".into(),
            },
            actor: ledger_domain::UserId::new("clerk-sanming").unwrap(),
            effective_date: chrono::NaiveDate::from_ymd_opt(2021, 12, 31).unwrap(),
            memo: String::new(),
        })
        .unwrap();
    let head = engine.log().unwrap().head().next_position;
    let mut records = Vec::new();
    while (records.len() as u64) < head {
        records.extend(
            engine
                .log()
                .unwrap()
                .read_all(records.len() as u64, 10_000)
                .unwrap(),
        );
    }
    (engine, records)
}

#[test]
fn event_payloads_are_encoded_exactly_as_committed() {
    let (_engine, records) = scenario_log();
    let bless = std::env::var("WELFARE_BLESS_GOLDEN").as_deref() == Ok("1");
    let mut types = std::collections::BTreeSet::new();
    for record in &records {
        if types.contains(record.event_type.as_str()) {
            continue;
        }
        let path = dir().join(format!(
            "payload-{:03}-{}.bin",
            record.position, record.event_type
        ));
        if bless {
            std::fs::create_dir_all(dir()).unwrap();
            std::fs::write(&path, &record.payload).unwrap();
        }
        let golden = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("golden payload {} is committed: {e}", path.display()));
        assert_eq!(
            record.payload, golden,
            "payload at position {} changed",
            record.position
        );
        let decoded = recorded_event(record).unwrap();
        assert_eq!(decoded.event.event_type(), record.event_type.as_str());
        types.insert(record.event_type.to_string());
    }
    // Every event type the scenario produces is pinned.
    for expected in [
        "UnitRegistered",
        "FundOpened",
        "AppropriationCommitted",
        "AppropriationReceived",
        "PremiumCollected",
        "BeneficiaryRegistered",
    ] {
        assert!(
            types.contains(expected),
            "{expected} missing from the golden sample: {types:?}"
        );
    }
}

#[test]
fn records_read_in_place_decode_exactly_like_owned_records() {
    let (engine, records) = scenario_log();
    let log = engine.log().unwrap();
    let mut in_place = Vec::new();
    let mut from = 0;
    while from < records.len() as u64 {
        from += log
            .read_views(from, 7, &mut |view| {
                in_place.push(event_record(&view).map_err(|e| e.to_string())?);
                Ok(())
            })
            .unwrap() as u64;
    }
    assert_eq!(in_place.len(), records.len());
    let mut types = std::collections::BTreeSet::new();
    for (record, viewed) in records.iter().zip(&in_place) {
        let owned = EventRecord {
            recorded: recorded_event(record).unwrap(),
            memo: record.memo.as_str().into(),
            hash: record.hash,
            symbols: Default::default(),
        };
        assert_eq!(&owned, viewed, "position {}", record.position);
        types.insert(record.event_type.as_str());
    }
    assert!(
        types.len() >= 16,
        "the scenario covers the event types: {types:?}"
    );
    // Projections rebuilt from the records read in place equal a fold of the owned ones.
    let head = log.head().next_position;
    let rebuilt = engine.projections_at_position(head).unwrap();
    let mut folded = ledger_engine::Projections::default();
    for record in &in_place {
        folded.fund_ledger.apply(record);
        folded.programmes.apply(record);
        folded.insurance.apply(record);
        folded.loans.apply(record);
        folded.audit.apply(record);
        folded.personal_data.apply(record);
    }
    assert!(rebuilt == folded, "projections rebuilt in place differ");
}

#[test]
fn a_damaged_payload_is_corruption_at_its_position_in_a_rebuild() {
    let (engine, records) = scenario_log();
    // Rewrite one stored record with a damaged payload under a fresh chain: the store's
    // checks pass, and only the payload's decoding can refuse it.
    for (target, cut) in [(3usize, 1usize), (10, 5), (20, 0)] {
        let clock = Arc::new(FixedClock::new(1_641_340_800_000));
        let log = Log::create(MemoryBackend::new(), HashAlgorithm::Sha256, clock).unwrap();
        for (i, record) in records.iter().take(target + 1).enumerate() {
            let mut payload = record.payload.clone();
            if i == target {
                payload.truncate(cut);
                payload.extend_from_slice(&[0xff; 3]);
            }
            log.append(ledger_store::AppendBatch {
                command_id: ledger_store::CommandId::new(format!("c-{i}")).unwrap(),
                events: vec![ledger_store::NewEvent {
                    stream: record.stream.clone(),
                    expected: ledger_store::ExpectedVersion::Any,
                    event_type: record.event_type.clone(),
                    schema_version: record.schema_version,
                    payload,
                    actor: record.actor.clone(),
                    effective_date: record.effective_date,
                    memo: record.memo.clone(),
                }],
            })
            .unwrap();
        }
        let mut seen = 0;
        let error = log
            .read_views(0, 100, &mut |view| {
                seen += 1;
                event_record(&view).map(|_| ()).map_err(|e| e.to_string())
            })
            .unwrap_err();
        assert_eq!(seen, target + 1);
        match error {
            ledger_store::StoreError::Corruption { position, .. } => {
                assert_eq!(position, Some(target as u64));
            }
            other => panic!("expected corruption, got {other:?}"),
        }
        // The owned path refuses the same record.
        let owned = log.read_all(target as u64, 1).unwrap();
        assert!(recorded_event(&owned[0]).is_err());
    }
    drop(engine);
}
