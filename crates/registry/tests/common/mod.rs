//! Helpers shared by the registry's integration tests: valid people, a ledger-like
//! directory (sled database and key-slot directory side by side, the master key
//! elsewhere), and a scan of every byte on disk.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use ledger_registry::{Cipher, MasterKey, PersonalData, Vault, VaultError, VaultKeys};

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 6, 1).unwrap()
}

/// The ISO 7064 MOD 11-2 check character of 17 digits, computed independently of the crate.
pub fn check_character(first17: &str) -> char {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    b"10X98765432"[(sum % 11) as usize] as char
}

/// A valid id number, different for every `n` below 36,000,000.
pub fn id_number(n: u32) -> String {
    let birth = NaiveDate::from_ymd_opt(1940, 1, 1).unwrap()
        + chrono::Duration::days(i64::from(n % 24_000));
    let first17 = format!(
        "3504{:02}{}{:03}",
        2 + (n / 24_000) % 30,
        birth.format("%Y%m%d"),
        (n / 720_000) % 1000
    );
    format!("{first17}{}", check_character(&first17))
}

const SURNAMES: [&str; 10] = ["林", "陈", "黄", "张", "李", "王", "吴", "刘", "蔡", "杨"];
const GIVEN: [&str; 12] = [
    "秀英", "桂兰", "玉梅", "美华", "丽娟", "春燕", "雪梅", "海燕", "淑珍", "建华", "志强", "晓东",
];

/// A distinctive three-character name for `n` (9 bytes of UTF-8: never found by chance).
pub fn name(n: u32) -> String {
    format!(
        "{}{}",
        SURNAMES[(n % 10) as usize],
        GIVEN[((n / 10) % 12) as usize]
    )
}

/// A valid person for `n`, with a phone, a bank account and an address.
pub fn person(n: u32) -> PersonalData {
    PersonalData::parse(
        &name(n),
        &id_number(n),
        Some(&format!("139{:08}", n)),
        Some(&format!("62220212{:011}", n)),
        Some(&format!("福建省三明市梅列区列东街{}号", n % 500)),
        today(),
    )
    .unwrap()
}

/// A temporary ledger: `root/ledger/db` (sled), `root/ledger/registry` (key slots);
/// the master key lives outside `root/ledger`.
pub struct Ledger {
    pub root: tempfile::TempDir,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger {
            root: tempfile::tempdir().unwrap(),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("ledger")
    }

    pub fn db_dir(&self) -> PathBuf {
        self.data_dir().join("db")
    }

    pub fn registry_dir(&self) -> PathBuf {
        self.data_dir().join("registry")
    }

    /// Opens the ledger's sled database, waiting for the lock that sled 0.34 releases
    /// only a moment after the previous handle is dropped (as the store's own open
    /// does): a test that reopens at once otherwise fails on a busy machine.
    pub fn db(&self) -> sled::Db {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        loop {
            match sled::open(self.db_dir()) {
                Ok(db) => return db,
                Err(e)
                    if std::time::Instant::now() < deadline
                        && e.to_string().contains("could not acquire lock") =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("opening sled at {}: {e}", self.db_dir().display()),
            }
        }
    }

    pub fn open(
        &self,
        db: &sled::Db,
        key: &MasterKey,
        cipher: Cipher,
    ) -> Result<Vault, VaultError> {
        Vault::open(
            db,
            &self.db_dir(),
            &self.registry_dir(),
            VaultKeys::new(key.clone()),
            cipher,
        )
    }

    pub fn open_with(
        &self,
        db: &sled::Db,
        current: &MasterKey,
        previous: &MasterKey,
    ) -> Result<Vault, VaultError> {
        let keys = VaultKeys {
            current: current.clone(),
            previous: Some(previous.clone()),
        };
        Vault::open(
            db,
            &self.db_dir(),
            &self.registry_dir(),
            keys,
            Cipher::Aes256Gcm,
        )
    }

    /// The key slot of a stored beneficiary, from the record's documented layout
    /// (kind, format, then the slot index as a big-endian u64).
    pub fn slot_of(&self, db: &sled::Db, beneficiary: &str) -> u64 {
        let record = db
            .open_tree("registry_people")
            .unwrap()
            .get(beneficiary)
            .unwrap()
            .unwrap();
        assert_eq!(record[0], 1, "a stored record");
        u64::from_be_bytes(record[2..10].try_into().unwrap())
    }

    /// The 48 wrapped-key bytes of a slot (offset 22 of the slot).
    pub fn wrapped_key_bytes(&self, slot: u64) -> Vec<u8> {
        let bytes = std::fs::read(self.registry_dir().join("keys.slots")).unwrap();
        let at = usize::try_from(128 + slot * 128 + 22).unwrap();
        bytes[at..at + 48].to_vec()
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// The files under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    assert!(
        needle.len() >= 6,
        "a needle this short could match by chance"
    );
    files_under(dir)
        .into_iter()
        .filter(|path| {
            let bytes = std::fs::read(path).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .collect()
}

/// Copies a directory tree (a "backup").
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}
