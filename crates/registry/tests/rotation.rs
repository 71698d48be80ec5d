//! Proves master-key rotation: online (reader and writer threads keep working during
//! it and never see an error), complete (afterwards everything opens with the new key
//! alone, and the old key is refused), and crash-safe (a rotation stopped after some
//! slots, simulating a crash, is refused with a clear message when only the new key is
//! given, and finished on open when the old key is given as the previous one).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{person, Ledger};
use ledger_registry::{
    Cipher, ContactUpdate, CrashPoint, FieldUpdate, MasterKey, Phone, PutOutcome, RotationProgress,
    VaultError, ROTATION_BATCH_SLOTS,
};

/// More than two batches of slots.
const PEOPLE: u32 = 2 * 1_024 + 300;

#[test]
fn the_people_span_more_than_two_rotation_batches() {
    assert!(u64::from(PEOPLE) > 2 * ROTATION_BATCH_SLOTS);
}

fn register(vault: &ledger_registry::Vault, range: std::ops::Range<u32>) {
    let items: Vec<_> = range.map(|n| (format!("b-{n}"), person(n))).collect();
    assert!(vault
        .put_many(&items)
        .unwrap()
        .iter()
        .all(|o| *o == PutOutcome::Stored));
}

#[test]
fn online_rotation_with_concurrent_readers_and_writers() {
    let ledger = Ledger::new();
    let old = MasterKey::generate();
    let new = MasterKey::generate();
    // How many people the writer registered (and erased) during the rotation.
    let written = {
        let db = ledger.db();
        let vault = Arc::new(ledger.open(&db, &old, Cipher::Sm4Gcm).unwrap());
        register(&vault, 0..PEOPLE);
        let done = AtomicBool::new(false);
        let report = std::thread::scope(|scope| {
            // Readers: every get succeeds, whichever key wraps the slot at that moment.
            for t in 0..2u32 {
                let (vault, done) = (Arc::clone(&vault), &done);
                scope.spawn(move || {
                    let mut n = t;
                    let mut reads = 0;
                    while !done.load(Ordering::Relaxed) || reads < 100 {
                        let id = n % PEOPLE;
                        // The writer updates ids ending in 5 and erases ids ending in 3.
                        if id % 10 != 3 && id % 10 != 5 {
                            assert_eq!(vault.get(&format!("b-{id}")).unwrap(), person(id));
                        }
                        n = n.wrapping_add(7919);
                        reads += 1;
                    }
                });
            }
            // A writer: registers, updates and erases while the rotation runs.
            let writer = {
                let (vault, done) = (Arc::clone(&vault), &done);
                scope.spawn(move || {
                    let mut n = PEOPLE;
                    let mut writes = 0;
                    while (!done.load(Ordering::Relaxed) || writes < 20) && writes < PEOPLE / 10 {
                        vault.put(&format!("b-{n}"), &person(n)).unwrap();
                        let update = ContactUpdate {
                            phone: FieldUpdate::Set(Phone::parse("0598-8221234").unwrap()),
                            ..ContactUpdate::default()
                        };
                        vault
                            .update_contact(&format!("b-{}", 5 + 10 * writes), &update)
                            .unwrap();
                        vault.erase(&format!("b-{}", 3 + 10 * writes)).unwrap();
                        n += 1;
                        writes += 1;
                    }
                    n
                })
            };
            let report = vault.rotate_master_key(new.clone()).unwrap();
            done.store(true, Ordering::Relaxed);
            let next = writer.join().unwrap();
            (report, next)
        });
        let (report, next) = report;
        assert_eq!((report.from, report.to), (old.key_id(), new.key_id()));
        assert!(report.batches >= 3, "{report:?}");
        assert!(
            report.slots_rewrapped > 0 && report.slots_corrupt.is_empty(),
            "{report:?}"
        );
        eprintln!("rotation: {report:?}");
        let stats = vault.stats().unwrap();
        assert_eq!(stats.rotation, None);
        assert_eq!(stats.key_id, new.key_id());
        assert_eq!(vault.key_id(), new.key_id());
        assert!(next > PEOPLE);
        assert!(matches!(
            vault.rotate_master_key(new.clone()),
            Err(VaultError::SameKey { .. })
        ));
        next - PEOPLE
    };
    // Everything opens and reads with the new key alone; the old key is refused.
    let db = ledger.db();
    let error = ledger.open(&db, &old, Cipher::Sm4Gcm).unwrap_err();
    assert!(
        matches!(error, VaultError::KeyMismatch { found, expected } if found == old.key_id() && expected == new.key_id())
    );
    let vault = ledger.open(&db, &new, Cipher::Sm4Gcm).unwrap();
    let mut readable = 0;
    for n in 0..PEOPLE + 20 {
        match vault.get(&format!("b-{n}")) {
            Ok(_) => readable += 1,
            Err(VaultError::Erased { .. }) => assert_eq!(n % 10, 3),
            Err(VaultError::NotFound { .. }) => assert!(n >= PEOPLE),
            Err(e) => panic!("b-{n}: {e}"),
        }
    }
    // The writer erased one earlier person per registration, and the loop above reads
    // the first 20 it registered (how many it managed depends on the machine's speed).
    assert_eq!(readable, PEOPLE - written + written.min(20));
}

#[test]
fn a_rotation_interrupted_mid_way_is_refused_with_the_new_key_alone_and_finished_with_both() {
    let ledger = Ledger::new();
    let old = MasterKey::generate();
    let new = MasterKey::generate();
    {
        let db = ledger.db();
        let vault = ledger.open(&db, &old, Cipher::Aes256Gcm).unwrap();
        register(&vault, 0..PEOPLE);
        vault.set_crash_point(Some(CrashPoint::RotationAfterSlots(1_500)));
        assert!(matches!(
            vault.rotate_master_key(new.clone()),
            Err(VaultError::SimulatedCrash(_))
        ));
        let progress = vault.stats().unwrap().rotation;
        let remaining = u64::from(PEOPLE) - 1_500 + 1; // and the dedup secret
        assert_eq!(
            progress,
            Some(RotationProgress {
                from: old.key_id(),
                to: new.key_id(),
                keys_remaining: remaining
            })
        );
        // Reads still work in the crashed process: both keys are in memory.
        assert_eq!(vault.get("b-0").unwrap(), person(0));
        assert_eq!(
            vault.get(&format!("b-{}", PEOPLE - 1)).unwrap(),
            person(PEOPLE - 1)
        );
    }
    let db = ledger.db();
    let remaining = u64::from(PEOPLE) - 1_500 + 1;
    for current in [&new, &old] {
        let error = ledger.open(&db, current, Cipher::Aes256Gcm).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "a master key rotation from key id {old} to {new} is unfinished ({remaining} keys are still wrapped by {old}): \
                 open the registry with the new key ({new}) as the current key and the old key ({old}) as the previous key to finish it",
                old = old.key_id(),
                new = new.key_id(),
            )
        );
    }
    // The wrong way round is refused too.
    assert!(ledger.open_with(&db, &old, &new).is_err());
    let vault = ledger.open_with(&db, &new, &old).unwrap();
    assert_eq!(vault.stats().unwrap().rotation, None);
    assert_eq!(vault.get("b-5").unwrap(), person(5));
    drop(vault);
    let vault = ledger.open(&db, &new, Cipher::Aes256Gcm).unwrap();
    for n in (0..PEOPLE).step_by(97) {
        assert_eq!(vault.get(&format!("b-{n}")).unwrap(), person(n));
    }
}

#[test]
fn opening_with_the_old_key_as_previous_starts_and_finishes_a_rotation() {
    // Where a crash before the rotation was recorded leaves an operator who restarts
    // with both keys.
    let ledger = Ledger::new();
    let old = MasterKey::generate();
    let new = MasterKey::generate();
    let db = ledger.db();
    {
        let vault = ledger.open(&db, &old, Cipher::Aes256Gcm).unwrap();
        register(&vault, 0..50);
    }
    drop(ledger.open_with(&db, &new, &old).unwrap());
    let vault = ledger.open(&db, &new, Cipher::Aes256Gcm).unwrap();
    assert_eq!(vault.get("b-49").unwrap(), person(49));
    assert_eq!(vault.stats().unwrap().key_id, new.key_id());
}
