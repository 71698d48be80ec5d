//! Proves crypto-shredding: after `erase`, the person's wrapped key is gone from every
//! file under the data directory (scanned byte by byte), the name and id number were
//! never in any file, reads say "erased", other people are untouched, erasing again is
//! harmless, and a copy of the directory taken afterwards cannot yield the data even
//! with the master key and with the old ciphertext put back. Also that an erasure or a
//! registration interrupted by a (simulated) crash is finished or undone on reopen, and
//! that `discard` leaves no tombstone.

mod common;

use common::{copy_dir, files_containing, id_number, name, person, today, Ledger};
use ledger_registry::{
    Cipher, CrashPoint, MasterKey, PutOutcome, RecordStatus, ResidentIdNumber, VaultError,
};

const PEOPLE: u32 = 20;
const VICTIM: u32 = 7;

fn victim() -> String {
    format!("b-{VICTIM}")
}

#[test]
fn erasure_destroys_the_key_and_a_later_backup_cannot_decrypt() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let (wrapped, old_record) = {
        let db = ledger.db();
        let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
        for n in 0..PEOPLE {
            vault.put(&format!("b-{n}"), &person(n)).unwrap();
        }
        let slot = ledger.slot_of(&db, &victim());
        let wrapped = ledger.wrapped_key_bytes(slot);
        let old_record = db
            .open_tree("registry_people")
            .unwrap()
            .get(victim())
            .unwrap()
            .unwrap();

        // Before: the wrapped key is in the slot file only; no plaintext anywhere.
        let holders = files_containing(&ledger.data_dir(), &wrapped);
        assert_eq!(holders, vec![ledger.registry_dir().join("keys.slots")]);
        assert!(files_containing(&ledger.data_dir(), name(VICTIM).as_bytes()).is_empty());
        assert!(files_containing(&ledger.data_dir(), id_number(VICTIM).as_bytes()).is_empty());
        // The scan does see sled's data: the record's ciphertext is in its files.
        assert!(!files_containing(&ledger.db_dir(), &old_record[79..111]).is_empty());

        vault.erase(&victim()).unwrap();

        assert!(
            matches!(vault.get(&victim()), Err(VaultError::Erased { beneficiary, .. }) if beneficiary == victim())
        );
        assert!(matches!(
            vault.status(&victim()).unwrap(),
            Some(RecordStatus::Erased { .. })
        ));
        assert!(!vault.contains(&victim()).unwrap());
        let number = ResidentIdNumber::parse(&id_number(VICTIM), today()).unwrap();
        assert_eq!(vault.find_by_id_number(&number).unwrap(), None);
        for n in (0..PEOPLE).filter(|n| *n != VICTIM) {
            assert_eq!(vault.get(&format!("b-{n}")).unwrap(), person(n));
        }
        // Idempotent.
        vault.erase(&victim()).unwrap();
        // The id is never used again; the person may be registered under a new id.
        assert!(matches!(
            vault.put(&victim(), &person(VICTIM)),
            Err(VaultError::Erased { .. })
        ));
        let stats = vault.stats().unwrap();
        assert_eq!(
            (stats.stored, stats.erased, stats.slots_free),
            (PEOPLE as u64 - 1, 1, 1)
        );
        (wrapped, old_record)
    };

    // After: the wrapped key bytes are nowhere, and the plaintext never was.
    assert!(files_containing(&ledger.data_dir(), &wrapped).is_empty());
    assert!(files_containing(&ledger.data_dir(), name(VICTIM).as_bytes()).is_empty());
    assert!(files_containing(&ledger.data_dir(), id_number(VICTIM).as_bytes()).is_empty());

    // A backup taken now, opened with the master key, even with the old record put back.
    let backup = Ledger::new();
    copy_dir(&ledger.data_dir(), &backup.data_dir());
    let db = backup.db();
    let vault = backup.open(&db, &key, Cipher::Aes256Gcm).unwrap();
    assert!(matches!(
        vault.get(&victim()),
        Err(VaultError::Erased { .. })
    ));
    assert_eq!(vault.get("b-0").unwrap(), person(0));
    db.open_tree("registry_people")
        .unwrap()
        .insert(victim(), old_record)
        .unwrap();
    let error = vault.get(&victim()).unwrap_err();
    assert!(
        matches!(
            error,
            VaultError::Corrupt { .. } | VaultError::Decrypt { .. }
        ),
        "{error}"
    );
    // The freed slot is reused by the next registration; the old record still cannot decrypt.
    assert_eq!(
        vault.put("b-new", &person(1000)).unwrap(),
        PutOutcome::Stored
    );
    let error = vault.get(&victim()).unwrap_err();
    assert!(matches!(error, VaultError::Decrypt { .. }), "{error}");
}

#[test]
fn erasing_unknown_and_erased_ids() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let db = ledger.db();
    let vault = ledger.open(&db, &key, Cipher::Sm4Gcm).unwrap();
    assert!(matches!(
        vault.erase("b-never"),
        Err(VaultError::NotFound { .. })
    ));
    vault.put("b-1", &person(1)).unwrap();
    vault.erase("b-1").unwrap();
    vault.erase("b-1").unwrap();
    vault.discard("b-1").unwrap();
    assert!(
        matches!(
            vault.status("b-1").unwrap(),
            Some(RecordStatus::Erased { .. })
        ),
        "discard keeps a tombstone"
    );
    drop(vault);
    let vault = ledger.open(&db, &key, Cipher::Sm4Gcm).unwrap();
    assert!(matches!(vault.get("b-1"), Err(VaultError::Erased { .. })));
}

#[test]
fn discard_leaves_no_tombstone() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let db = ledger.db();
    let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
    vault.put("b-1", &person(1)).unwrap();
    let wrapped = ledger.wrapped_key_bytes(ledger.slot_of(&db, "b-1"));
    vault.discard("b-1").unwrap();
    vault.discard("b-1").unwrap();
    assert_eq!(vault.status("b-1").unwrap(), None);
    assert!(matches!(vault.get("b-1"), Err(VaultError::NotFound { .. })));
    assert!(files_containing(&ledger.data_dir(), &wrapped).is_empty());
    // The id and the number can be registered again.
    assert_eq!(vault.put("b-1", &person(1)).unwrap(), PutOutcome::Stored);
    assert_eq!(vault.get("b-1").unwrap(), person(1));
    assert_eq!(vault.stats().unwrap().erased, 0);
}

#[test]
fn an_erasure_interrupted_after_its_tombstone_is_finished_on_open() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let wrapped = {
        let db = ledger.db();
        let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
        vault.put("b-1", &person(1)).unwrap();
        vault.put("b-2", &person(2)).unwrap();
        let wrapped = ledger.wrapped_key_bytes(ledger.slot_of(&db, "b-1"));
        vault.set_crash_point(Some(CrashPoint::EraseAfterTombstone));
        assert!(matches!(
            vault.erase("b-1"),
            Err(VaultError::SimulatedCrash(_))
        ));
        // The tombstone is there already; the key is not destroyed yet.
        assert!(matches!(vault.get("b-1"), Err(VaultError::Erased { .. })));
        assert!(!files_containing(&ledger.data_dir(), &wrapped).is_empty());
        // Like a dead process, the vault refuses writes.
        assert!(matches!(
            vault.put("b-3", &person(3)),
            Err(VaultError::Poisoned { .. })
        ));
        wrapped
    };
    let db = ledger.db();
    let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
    assert!(files_containing(&ledger.data_dir(), &wrapped).is_empty());
    assert!(matches!(
        vault.status("b-1").unwrap(),
        Some(RecordStatus::Erased { .. })
    ));
    assert_eq!(vault.get("b-2").unwrap(), person(2));
    assert_eq!(vault.stats().unwrap().slots_free, 1);
}

#[test]
fn a_registration_interrupted_before_its_record_leaves_no_key_behind() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    {
        let db = ledger.db();
        let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
        vault.put("b-1", &person(1)).unwrap();
        vault.set_crash_point(Some(CrashPoint::PutAfterSlots));
        let items: Vec<_> = (2..6).map(|n| (format!("b-{n}"), person(n))).collect();
        assert!(matches!(
            vault.put_many(&items),
            Err(VaultError::SimulatedCrash(_))
        ));
        assert_eq!(
            vault.stats().unwrap().slots_used,
            5,
            "the keys reached the slot file"
        );
    }
    let db = ledger.db();
    let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
    let stats = vault.stats().unwrap();
    assert_eq!(
        (stats.stored, stats.slots_used, stats.slots_free),
        (1, 1, 4)
    );
    assert_eq!(vault.status("b-2").unwrap(), None);
    // The registration can simply be retried.
    let items: Vec<_> = (2..6).map(|n| (format!("b-{n}"), person(n))).collect();
    assert!(vault
        .put_many(&items)
        .unwrap()
        .iter()
        .all(|o| *o == PutOutcome::Stored));
    assert_eq!(vault.get("b-5").unwrap(), person(5));
}

/// A stress test: readers racing with discards and re-registrations that reuse the same
/// slots with new keys see the data or "not found", never a decryption error or
/// corruption. (The race is rare here; `vault::tests` forces it deterministically.)
#[test]
fn reads_racing_with_slot_reuse_never_see_a_mismatched_key() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let db = ledger.db();
    let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
    for n in 0..4 {
        vault.put(&format!("b-{n}"), &person(n)).unwrap();
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for t in 0..2u32 {
            let (vault, done) = (&vault, &done);
            scope.spawn(move || {
                let mut reads = 0u32;
                while !done.load(Ordering::Relaxed) {
                    let n = (reads + t) % 4;
                    match vault.get(&format!("b-{n}")) {
                        Ok(data) => assert_eq!(data, person(n)),
                        Err(VaultError::NotFound { .. }) => {}
                        Err(e) => panic!("b-{n}: {e}"),
                    }
                    reads += 1;
                }
            });
        }
        for round in 0..60u32 {
            let n = round % 4;
            vault.discard(&format!("b-{n}")).unwrap();
            vault.put(&format!("b-{n}"), &person(n)).unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    assert_eq!(vault.stats().unwrap().slots, 4, "freed slots are reused");
}
