//! Property: whatever people are registered and looked up through the registry
//! workflow, no record of the log ever holds their name, ID number, phone or bank
//! account (the log names them by opaque id only).

use std::sync::Arc;

use chrono::NaiveDate;
use ledger_domain::{BeneficiaryKind, Command, Role, UnitCode, UnitLevel, UserId};
use ledger_engine::{Engine, Submission};
use ledger_registry::{Cipher, MasterKey, PersonalData, Vault, VaultKeys};
use ledger_server::registry::{self, Act, Registration, Target};
use ledger_store::{FixedClock, HashAlgorithm, Log, SledBackend};
use proptest::prelude::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2021, 12, 31).unwrap()
}

fn with_check(body17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body17
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    let check = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize];
    format!("{body17}{check}")
}

/// (name, ID number, phone, bank account)
fn person() -> impl Strategy<Value = (String, String, String, String)> {
    (
        "[\u{4e00}-\u{9fa5}]{2,3}",
        0u32..20_000,
        0u32..1000,
        "1[3-9][0-9]{9}",
        "62[0-9]{15}",
    )
        .prop_map(|(name, day, seq, phone, account)| {
            let birth =
                NaiveDate::from_ymd_opt(1950, 1, 1).unwrap() + chrono::Days::new(day.into());
            let id = with_check(&format!("350427{}{seq:03}", birth.format("%Y%m%d")));
            (name, id, phone, account)
        })
}

fn operator(engine: &Engine<SledBackend>, id: &str, command: Command) {
    engine
        .submit(Submission {
            command_id: id.to_string(),
            command,
            actor: UserId::new("operator").unwrap(),
            effective_date: today(),
            memo: String::new(),
        })
        .unwrap();
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn act(id: String) -> Act {
    Act {
        actor: UserId::new("clerk").unwrap(),
        command_id: id,
        effective_date: today(),
        memo: String::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn no_log_record_holds_personal_information(people in prop::collection::vec(person(), 1..6)) {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("ledger");
        // 2021-12-31 12:00 UTC.
        let clock = Arc::new(FixedClock::new(1_640_952_000_000));
        let backend = SledBackend::open(&data).unwrap();
        let db = backend.db().clone();
        let log = Log::create(backend, HashAlgorithm::Sha256, clock.clone()).unwrap();
        let engine = Engine::open(log, clock).unwrap();
        let vault = Vault::open(
            &db,
            &data.join(ledger_store::SLED_DIR),
            &data.join("registry"),
            VaultKeys::new(MasterKey::generate()),
            Cipher::Aes256Gcm,
        )
        .unwrap();
        let fj = || UnitCode::new("FJ").unwrap();
        let clerk = || UserId::new("clerk").unwrap();
        operator(&engine, "unit", Command::RegisterUnit {
            unit: fj(),
            name: "福建省计生协".into(),
            level: UnitLevel::Province,
            parent: None,
        });
        operator(&engine, "clerk", Command::RegisterUser { user: clerk(), role: Role::Clerk, scope: Some(fj()) });
        operator(&engine, "grant", Command::GrantPersonalDataAccess { user: clerk(), reason: "核对".into() });
        for (i, (name, id_number, phone, account)) in people.iter().enumerate() {
            let data = PersonalData::parse(name, id_number, Some(phone), Some(account), None, today()).unwrap();
            let registration = Registration {
                unit: fj(),
                kind: BeneficiaryKind::Person,
                categories: Default::default(),
                data,
            };
            let registered = registry::register(&engine, &vault, &act(format!("reg-{i}")), registration).unwrap();
            let target = Target::IdNumber(id_number.to_lowercase());
            let found = registry::disclose(&engine, &vault, &act(format!("find-{i}")), &target, "核对").unwrap();
            prop_assert_eq!(&found.beneficiary, &registered.beneficiary);
        }
        let head = engine.head().next_position;
        prop_assert!(head > 3);
        for record in engine.log().unwrap().read_raw(0, usize::try_from(head).unwrap()).unwrap() {
            for (name, id_number, phone, account) in &people {
                for needle in [name, id_number, phone, account] {
                    prop_assert!(
                        !contains(&record.record, needle.as_bytes()),
                        "position {} holds {}", record.position, needle
                    );
                }
            }
        }
    }
}
