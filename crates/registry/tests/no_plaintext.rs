//! Proves, for random personal data, that no file under the data directory (the sled
//! database and the key-slot directory) ever contains a person's name, id number, phone
//! number or bank account number in plaintext: after registering, after a contact update,
//! and after erasing. Each case builds a fresh ledger, writes through the public API,
//! closes the database so that everything is on disk, and scans every byte.
//!
//! Names are 2 to 6 CJK characters (6 to 18 bytes of UTF-8) so that a match cannot be a
//! coincidence in random ciphertext.

mod common;

use chrono::NaiveDate;
use common::{check_character, files_containing, Ledger};
use ledger_registry::{Cipher, ContactUpdate, FieldUpdate, MasterKey, PersonalData, Phone};
use proptest::prelude::*;

fn cjk(chars: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(0x4E00u32..=0x9FA5, chars).prop_map(|codes| {
        codes
            .into_iter()
            .map(|c| char::from_u32(c).unwrap())
            .collect()
    })
}

fn id_number() -> impl Strategy<Value = String> {
    (11u32..=65, 1u32..=9999, 0i64..37_000, 0u32..=999).prop_filter_map(
        "a province-level code",
        |(province, county, days, sequence)| {
            let provinces = [
                11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
                50, 51, 52, 53, 54, 61, 62, 63, 64, 65,
            ];
            provinces.contains(&province).then(|| {
                let birth =
                    NaiveDate::from_ymd_opt(1920, 1, 1).unwrap() + chrono::Duration::days(days);
                let first17 = format!(
                    "{province:02}{county:04}{}{sequence:03}",
                    birth.format("%Y%m%d")
                );
                format!("{first17}{}", check_character(&first17))
            })
        },
    )
}

fn personal_data() -> impl Strategy<Value = PersonalData> {
    (
        cjk(2..=6),
        id_number(),
        proptest::option::of(
            (3u8..=9, 0u64..1_000_000_000).prop_map(|(second, rest)| format!("1{second}{rest:09}")),
        ),
        proptest::option::of("[0-9]{16,19}"),
        proptest::option::of(cjk(5..=40)),
    )
        .prop_map(|(name, id, phone, bank, address)| {
            PersonalData::parse(
                &name,
                &id,
                phone.as_deref(),
                bank.as_deref(),
                address.as_deref(),
                common::today(),
            )
            .unwrap()
        })
}

fn secrets(data: &PersonalData) -> Vec<Vec<u8>> {
    let mut secrets = vec![
        data.name().as_str().as_bytes().to_vec(),
        data.id_number().as_str().as_bytes().to_vec(),
    ];
    secrets.extend(data.phone().map(|p| p.as_str().as_bytes().to_vec()));
    secrets.extend(data.bank_account().map(|b| b.as_str().as_bytes().to_vec()));
    secrets.extend(data.address().map(|a| a.as_str().as_bytes().to_vec()));
    secrets
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn no_file_ever_holds_personal_data_in_plaintext(
        people in proptest::collection::vec(personal_data(), 1..4),
        sm4 in any::<bool>(),
    ) {
        let ledger = Ledger::new();
        let key = MasterKey::generate();
        let cipher = if sm4 { Cipher::Sm4Gcm } else { Cipher::Aes256Gcm };
        {
            let db = ledger.db();
            let vault = ledger.open(&db, &key, cipher).unwrap();
            for (n, data) in people.iter().enumerate() {
                vault.put(&format!("b-{n}"), data).unwrap();
            }
            let update = ContactUpdate {
                phone: FieldUpdate::Set(Phone::parse("0598-8221234").unwrap()),
                ..ContactUpdate::default()
            };
            vault.update_contact("b-0", &update).unwrap();
            if people.len() > 1 {
                vault.erase("b-1").unwrap();
            }
        }
        for data in &people {
            for secret in secrets(data) {
                let found = files_containing(&ledger.data_dir(), &secret);
                prop_assert!(found.is_empty(), "{:?} found in {:?}", String::from_utf8_lossy(&secret), found);
            }
        }
    }
}
