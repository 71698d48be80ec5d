//! Proves that one resident ID number is registered under at most one beneficiary:
//! spellings of the same number (lower-case x, spaces, hyphens, full-width characters)
//! map to one person, a different number does not, and concurrent registrations of the
//! same number from several threads store exactly one. Also that the dedup index holds
//! no id number in plaintext, only keyed hashes.

mod common;

use std::sync::{Arc, Barrier};

use common::{files_containing, person, today, Ledger};
use ledger_registry::{Cipher, MasterKey, PersonalData, PutOutcome, ResidentIdNumber};

fn with_id(name: &str, id_number: &str) -> PersonalData {
    PersonalData::parse(name, id_number, None, None, None, today()).unwrap()
}

#[test]
fn spellings_of_one_number_are_one_person() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let db = ledger.db();
    let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
    assert_eq!(
        vault
            .put("b-1", &with_id("林秀英", "11010519491231002X"))
            .unwrap(),
        PutOutcome::Stored
    );
    let first = PutOutcome::AlreadyRegistered {
        beneficiary: "b-1".into(),
    };
    for (n, spelling) in [
        "11010519491231002x",
        " 110105 19491231 002X ",
        "110105-19491231-002x",
        "１１０１０５１９４９１２３１００２Ｘ",
        "110105\u{3000}19491231\u{3000}002ｘ",
    ]
    .iter()
    .enumerate()
    {
        let outcome = vault
            .put(&format!("b-dup-{n}"), &with_id("林秀英", spelling))
            .unwrap();
        assert_eq!(outcome, first, "{spelling}");
        assert_eq!(
            vault.status(&format!("b-dup-{n}")).unwrap(),
            None,
            "nothing stored for {spelling}"
        );
    }
    // A different number is a different person, even with the same name.
    assert_eq!(
        vault
            .put("b-2", &with_id("林秀英", &common::id_number(7)))
            .unwrap(),
        PutOutcome::Stored
    );
    let number = ResidentIdNumber::parse("110105 19491231 002x", today()).unwrap();
    assert_eq!(
        vault.find_by_id_number(&number).unwrap().as_deref(),
        Some("b-1")
    );
    let unknown = ResidentIdNumber::parse(&common::id_number(8), today()).unwrap();
    assert_eq!(vault.find_by_id_number(&unknown).unwrap(), None);
    assert_eq!(vault.stats().unwrap().stored, 2);
}

#[test]
fn concurrent_registrations_of_one_number_store_exactly_one() {
    const THREADS: usize = 8;
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let db = ledger.db();
    let vault = Arc::new(ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap());
    for round in 0..5u32 {
        let barrier = Barrier::new(THREADS);
        let outcomes: Vec<(String, PutOutcome)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    let vault = Arc::clone(&vault);
                    let barrier = &barrier;
                    scope.spawn(move || {
                        let beneficiary = format!("b-{round}-{t}");
                        barrier.wait();
                        let outcome = vault.put(&beneficiary, &person(round)).unwrap();
                        (beneficiary, outcome)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let stored: Vec<&String> = outcomes
            .iter()
            .filter(|(_, o)| *o == PutOutcome::Stored)
            .map(|(b, _)| b)
            .collect();
        assert_eq!(stored.len(), 1, "round {round}: {outcomes:?}");
        let winner = stored[0].clone();
        for (beneficiary, outcome) in &outcomes {
            if *beneficiary != winner {
                assert_eq!(
                    *outcome,
                    PutOutcome::AlreadyRegistered {
                        beneficiary: winner.clone()
                    }
                );
            }
        }
        assert_eq!(vault.get(&winner).unwrap(), person(round));
    }
    assert_eq!(vault.stats().unwrap().stored, 5);
}

#[test]
fn the_dedup_index_holds_no_id_number_in_plaintext() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    {
        let db = ledger.db();
        let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
        vault.put("b-1", &person(1)).unwrap();
        let dedup = db.open_tree("registry_dedup").unwrap();
        let (hash, beneficiary) = dedup.iter().next().unwrap().unwrap();
        assert_eq!(hash.len(), 32);
        assert_eq!(&beneficiary[..], b"b-1");
    }
    assert!(files_containing(&ledger.data_dir(), common::id_number(1).as_bytes()).is_empty());
}
