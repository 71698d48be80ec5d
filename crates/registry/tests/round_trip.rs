//! Proves that data put into the vault comes back unchanged, with both ciphers and after
//! reopening, and that every way of reading it wrongly fails loudly and by name: a wrong
//! master key on open, an altered ciphertext byte, an altered slot byte, and a
//! ciphertext copied onto another beneficiary. Each test alters the real bytes on disk
//! (through the sled tree or the slot file) and reads back through the public API.

mod common;

use std::time::Instant;

use common::{person, Ledger};
use ledger_registry::{
    Cipher, ContactUpdate, CorruptAt, FieldUpdate, MasterKey, Phone, PutOutcome, RecordStatus,
    VaultError,
};

#[test]
fn round_trip_with_both_ciphers_and_after_reopening() {
    for cipher in Cipher::ALL {
        let ledger = Ledger::new();
        let key = MasterKey::generate();
        {
            let db = ledger.db();
            let vault = ledger.open(&db, &key, cipher).unwrap();
            assert_eq!(vault.cipher(), cipher);
            for n in 0..5 {
                assert_eq!(
                    vault.put(&format!("b-{n}"), &person(n)).unwrap(),
                    PutOutcome::Stored
                );
            }
            for n in 0..5 {
                assert_eq!(vault.get(&format!("b-{n}")).unwrap(), person(n), "{cipher}");
            }
        }
        // Reopen the database and the vault: everything was durable.
        let db = ledger.db();
        let vault = ledger.open(&db, &key, cipher).unwrap();
        for n in 0..5 {
            assert_eq!(
                vault.get(&format!("b-{n}")).unwrap(),
                person(n),
                "{cipher} after reopening"
            );
            assert!(vault.contains(&format!("b-{n}")).unwrap());
        }
        match vault.status("b-0").unwrap() {
            Some(RecordStatus::Stored {
                version: 1,
                cipher: c,
                ..
            }) => assert_eq!(c, cipher),
            other => panic!("{other:?}"),
        }
        assert_eq!(vault.status("b-99").unwrap(), None);
        assert!(
            matches!(vault.get("b-99"), Err(VaultError::NotFound { beneficiary }) if beneficiary == "b-99")
        );
        let stats = vault.stats().unwrap();
        assert_eq!(
            (stats.stored, stats.erased, stats.slots, stats.slots_used),
            (5, 0, 5, 5)
        );
        assert_eq!(stats.key_id, key.key_id());
        assert_eq!(stats.rotation, None);
    }
}

#[test]
fn records_of_either_cipher_stay_readable_when_the_cipher_for_new_records_changes() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let db = ledger.db();
    {
        let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
        vault.put("b-aes", &person(1)).unwrap();
    }
    let vault = ledger.open(&db, &key, Cipher::Sm4Gcm).unwrap();
    vault.put("b-sm4", &person(2)).unwrap();
    assert_eq!(vault.get("b-aes").unwrap(), person(1));
    assert_eq!(vault.get("b-sm4").unwrap(), person(2));
    assert!(matches!(
        vault.status("b-sm4").unwrap(),
        Some(RecordStatus::Stored {
            cipher: Cipher::Sm4Gcm,
            ..
        })
    ));
}

#[test]
fn a_wrong_master_key_is_refused_on_open_with_both_key_ids() {
    let ledger = Ledger::new();
    let right = MasterKey::generate();
    let wrong = MasterKey::generate();
    let db = ledger.db();
    drop(ledger.open(&db, &right, Cipher::Aes256Gcm).unwrap());
    let error = ledger.open(&db, &wrong, Cipher::Aes256Gcm).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the master key does not match this ledger's registry (key id {}, expected {})",
            wrong.key_id(),
            right.key_id()
        )
    );
    assert_eq!(error.code(), "master_key_mismatch");
}

#[test]
fn an_altered_ciphertext_byte_fails_to_decrypt_naming_the_beneficiary() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let db = ledger.db();
    let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
    vault.put("b-1", &person(1)).unwrap();
    vault.put("b-2", &person(2)).unwrap();
    let people = db.open_tree("registry_people").unwrap();
    let mut record = people.get("b-1").unwrap().unwrap().to_vec();
    let last = record.len() - 20; // inside the ciphertext
    record[last] ^= 0x01;
    people.insert("b-1", record).unwrap();
    let error = vault.get("b-1").unwrap_err();
    assert!(
        matches!(&error, VaultError::Decrypt { beneficiary, .. } if beneficiary == "b-1"),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("the personal data of beneficiary b-1 cannot be decrypted"),
        "{error}"
    );
    assert_eq!(vault.get("b-2").unwrap(), person(2));
}

#[test]
fn an_altered_slot_is_reported_as_corrupt_with_its_index_and_never_used() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let slot_path = ledger.registry_dir().join("keys.slots");
    let slot = {
        let db = ledger.db();
        let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
        vault.put("b-1", &person(1)).unwrap();
        vault.put("b-2", &person(2)).unwrap();
        let slot = ledger.slot_of(&db, "b-2");
        // Flip one bit of the wrapped key while the vault is open.
        let mut bytes = std::fs::read(&slot_path).unwrap();
        bytes[usize::try_from(128 + slot * 128 + 30).unwrap()] ^= 0x04;
        std::fs::write(&slot_path, &bytes).unwrap();
        let error = vault.get("b-2").unwrap_err();
        assert!(
            matches!(&error, VaultError::Corrupt { at: CorruptAt::Slot(s), .. } if *s == slot),
            "{error}"
        );
        assert!(
            error.to_string().starts_with(&format!(
                "corrupt registry at key slot {slot}: its checksum"
            )),
            "{error}"
        );
        slot
    };
    // After reopening, the corrupt slot is still reported (not silently zeroed as unused).
    let db = ledger.db();
    let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
    assert!(
        matches!(vault.get("b-2"), Err(VaultError::Corrupt { at: CorruptAt::Slot(s), .. }) if s == slot)
    );
    assert_eq!(vault.stats().unwrap().slots_corrupt, 1);
    assert_eq!(vault.get("b-1").unwrap(), person(1));
    // Erasing the person overwrites the corrupt slot.
    vault.erase("b-2").unwrap();
    assert_eq!(vault.stats().unwrap().slots_corrupt, 0);
}

#[test]
fn a_ciphertext_copied_to_another_beneficiary_does_not_decrypt() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let db = ledger.db();
    let vault = ledger.open(&db, &key, Cipher::Sm4Gcm).unwrap();
    vault.put("b-1", &person(1)).unwrap();
    vault.put("b-2", &person(2)).unwrap();
    let people = db.open_tree("registry_people").unwrap();
    // b-2's record becomes a copy of b-1's: same slot, same key, same ciphertext.
    let copied = people.get("b-1").unwrap().unwrap();
    people.insert("b-2", copied).unwrap();
    let error = vault.get("b-2").unwrap_err();
    assert!(
        matches!(&error, VaultError::Decrypt { beneficiary, .. } if beneficiary == "b-2"),
        "{error}"
    );
    assert_eq!(vault.get("b-1").unwrap(), person(1));
}

#[test]
fn contact_updates_re_encrypt_and_count_versions() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let db = ledger.db();
    let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
    vault.put("b-1", &person(1)).unwrap();
    let before = db
        .open_tree("registry_people")
        .unwrap()
        .get("b-1")
        .unwrap()
        .unwrap();
    let update = ContactUpdate {
        phone: FieldUpdate::Set(Phone::parse("0598-8221234").unwrap()),
        bank_account: FieldUpdate::Clear,
        address: FieldUpdate::Keep,
    };
    vault.update_contact("b-1", &update).unwrap();
    let after = db
        .open_tree("registry_people")
        .unwrap()
        .get("b-1")
        .unwrap()
        .unwrap();
    assert_ne!(before[11..23], after[11..23], "a fresh nonce");
    assert_eq!(
        before[2..10],
        after[2..10],
        "the same slot (the same person key)"
    );
    let data = vault.get("b-1").unwrap();
    assert_eq!(data, person(1).with_contact(&update));
    assert!(matches!(
        vault.status("b-1").unwrap(),
        Some(RecordStatus::Stored { version: 2, .. })
    ));
    assert!(matches!(
        vault.update_contact("b-9", &update),
        Err(VaultError::NotFound { .. })
    ));
    // Putting again over stored data is refused; the same number returns its owner.
    assert!(matches!(
        vault.put("b-1", &person(2)),
        Err(VaultError::AlreadyStored { .. })
    ));
    assert_eq!(
        vault.put("b-1", &person(1)).unwrap(),
        PutOutcome::AlreadyRegistered {
            beneficiary: "b-1".into()
        }
    );
}

#[test]
fn beneficiary_ids_are_checked() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let db = ledger.db();
    let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
    for bad in ["", "has space", "tab\t", &"x".repeat(65), "名字"] {
        let error = vault.put(bad, &person(1)).unwrap_err();
        assert!(
            matches!(error, VaultError::InvalidBeneficiaryId { .. }),
            "{bad:?}: {error}"
        );
        assert!(error.is_rejection());
    }
}

#[test]
fn a_second_vault_on_the_same_directory_is_refused() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let db = ledger.db();
    let _vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
    assert!(matches!(
        ledger.open(&db, &key, Cipher::Aes256Gcm),
        Err(VaultError::AlreadyOpen { .. })
    ));
}

#[test]
fn a_missing_or_foreign_slot_file_is_refused() {
    let key = MasterKey::generate();
    let ledger = Ledger::new();
    let other = Ledger::new();
    {
        let db = ledger.db();
        ledger
            .open(&db, &key, Cipher::Aes256Gcm)
            .unwrap()
            .put("b-1", &person(1))
            .unwrap();
        let db = other.db();
        other
            .open(&db, &key, Cipher::Aes256Gcm)
            .unwrap()
            .put("b-1", &person(1))
            .unwrap();
    }
    let slots = ledger.registry_dir().join("keys.slots");
    std::fs::copy(other.registry_dir().join("keys.slots"), &slots).unwrap();
    let db = ledger.db();
    let error = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap_err();
    assert!(
        matches!(error, VaultError::SlotFileMismatch { .. }),
        "{error}"
    );
    std::fs::remove_file(&slots).unwrap();
    let error = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap_err();
    assert!(
        matches!(error, VaultError::SlotFileMissing { .. }),
        "{error}"
    );
}

/// The demo registers about 9,400 people in one batch: that must take seconds.
#[test]
fn put_many_registers_the_demo_population_in_seconds() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let db = ledger.db();
    let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
    let items: Vec<(String, _)> = (0..9_400).map(|n| (format!("b-{n}"), person(n))).collect();
    let started = Instant::now();
    let outcomes = vault.put_many(&items).unwrap();
    let elapsed = started.elapsed();
    eprintln!("put_many of 9,400 people: {elapsed:?}");
    assert!(outcomes.iter().all(|o| *o == PutOutcome::Stored));
    assert!(elapsed.as_secs() < 30, "put_many took {elapsed:?}");
    assert_eq!(vault.get("b-9399").unwrap(), person(9_399));
    assert_eq!(vault.stats().unwrap().stored, 9_400);
    // Again: all already registered, nothing written.
    let outcomes = vault.put_many(&items[..10]).unwrap();
    assert_eq!(
        outcomes[3],
        PutOutcome::AlreadyRegistered {
            beneficiary: "b-3".into()
        }
    );
}

#[test]
fn put_many_is_all_or_nothing_for_errors() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let db = ledger.db();
    let vault = ledger.open(&db, &key, Cipher::Aes256Gcm).unwrap();
    vault.put("b-taken", &person(100)).unwrap();
    let items = vec![
        ("b-1".to_string(), person(1)),
        ("b-taken".to_string(), person(2)), // holds data already
    ];
    assert!(matches!(
        vault.put_many(&items),
        Err(VaultError::AlreadyStored { .. })
    ));
    assert_eq!(vault.status("b-1").unwrap(), None);
    assert_eq!(vault.stats().unwrap().slots_used, 1);
    // The same number twice in one batch: the second is already registered under the first.
    let items = vec![
        ("b-1".to_string(), person(1)),
        ("b-2".to_string(), person(1)),
    ];
    assert_eq!(
        vault.put_many(&items).unwrap(),
        vec![
            PutOutcome::Stored,
            PutOutcome::AlreadyRegistered {
                beneficiary: "b-1".into()
            }
        ]
    );
}

#[test]
fn open_needs_the_directory_of_the_sled_database() {
    let ledger = Ledger::new();
    let key = MasterKey::generate();
    let db = ledger.db();
    // The two directories swapped: the registry directory holds no sled data file.
    let error = ledger_registry::Vault::open(
        &db,
        &ledger.registry_dir(),
        &ledger.db_dir(),
        ledger_registry::VaultKeys::new(key),
        Cipher::Aes256Gcm,
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("io error while opening sled's data file"),
        "{error}"
    );
}
