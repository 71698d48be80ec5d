//! Pins the encoding of event payloads (docs/FORMAT.md §10): the whole Sanming
//! scenario plus one reversal is recorded through the engine on the memory backend;
//! for the first record of every event type, the payload must equal, byte for byte,
//! the committed file of the same position under `tests/golden/v1/`, and every
//! committed file must still decode to an event of the type its name says. `WELFARE_BLESS_GOLDEN=1` writes the files
//! (only ever for a new format version's folder; never rewrite v1).

use std::path::PathBuf;
use std::sync::Arc;

use ledger_domain::scenario::sanming_2021;
use ledger_domain::Command;
use ledger_engine::{recorded_event, Engine, Submission};
use ledger_store::{FixedClock, HashAlgorithm, Log, MemoryBackend};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v1")
}

#[test]
fn event_payloads_are_encoded_exactly_as_committed() {
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
