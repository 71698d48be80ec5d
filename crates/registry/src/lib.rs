//! Welfare Ledger's beneficiary registry: the personal information (PI) of welfare
//! beneficiaries, kept beside the immutable event log — never in it — encrypted per
//! person, deduplicated by resident ID number, and erasable by crypto-shredding.
//!
//! The log names beneficiaries only by opaque ids; this crate maps an id to a name, a
//! resident ID number, and optional phone, bank account and address.
//!
//! # Modules
//!
//! - [`idcard`]: the 18-character resident ID number (GB 11643-1999), pure;
//! - [`personal`]: [`PersonalData`] and its validated fields, [`ContactUpdate`];
//! - [`keys`]: the [`MasterKey`], loaded from a file outside the data directory or an
//!   environment variable, and its public [`KeyId`];
//! - [`cipher`]: AES-256-GCM or SM4-GCM ([`Cipher`]);
//! - [`vault`]: the [`Vault`] itself;
//! - [`slots`] and [`record`]: the on-disk encodings (documentation; their items are
//!   internal).
//!
//! # Layout
//!
//! In a sled database, three trees of the registry's own. [`Vault::open_dir`] gives the
//! registry a database of its own in `dir/sled` (what `welfare-ledger` does, so that the
//! engine can close and reopen the log's database while the registry stays open);
//! [`Vault::open`] takes any database and never touches its other trees:
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `registry_people` | beneficiary id (UTF-8) | a stored record (slot index, cipher, nonce, dedup key, created and updated ms, version, ciphertext) or a tombstone (erased ms) |
//! | `registry_dedup` | HMAC-SHA256(dedup secret, normalised id number) | beneficiary id |
//! | `registry_meta` | `format`, `registry_id`, `key_id`, `dedup_secret`, `rotation`, `created_ms` | see [`record`] |
//!
//! In the registry's directory: `keys.slots`, a header of
//! 128 bytes (magic `WLKEYSLT`, format version, slot size, registry id, CRC-32) and then
//! one 128-byte slot per person at offset `128 + 128 × index`: status (0 free, 1 used),
//! cipher, wrapping key id (8), nonce (12), wrapped key (32 + 16 tag), CRC-32 of the
//! index and the slot (4), zero padding. Slots are overwritten in place; erasure zeroes
//! one. Byte-by-byte tables are in the [`slots`] and [`record`] modules' docs, and
//! decision 0012 says why the keys are not in sled.
//!
//! # Key hierarchy
//!
//! ```text
//! master key (32 bytes, outside the data directory; its KeyId is stored in registry_meta)
//!  ├─ HMAC → wrapping key per cipher ─┬─ wraps each person's key (32 random bytes) → keys.slots
//!  │                                  │     └─ HMAC → data key per cipher → encrypts that person's PersonalData
//!  │                                  └─ wraps the dedup secret (32 random bytes) → registry_meta
//!  └─ HMAC → KeyId (8 bytes, public)
//! dedup secret ─ HMAC-SHA256(secret, normalised id number) → registry_dedup key
//! ```
//!
//! Associated data binds every ciphertext to the registry, its kind and its place (the
//! beneficiary id for data, the slot index for a wrapped key).
//!
//! # Guarantees
//!
//! - No name, id number, phone, account or address is written in plaintext to any file.
//! - Every acknowledged write is durable: the slot file is `fdatasync`ed, sled is
//!   flushed and its data file `fdatasync`ed (sled 0.34's own flush is not power-safe,
//!   the store's decision 0001), which is why [`Vault::open`] takes sled's directory.
//! - One id number is registered under at most one beneficiary.
//! - After [`Vault::erase`] returns, the person's key no longer exists in the registry's
//!   files, so the data cannot be decrypted from them, nor from a copy taken afterwards,
//!   even with the master key. Copy-on-write filesystems, SSD remapping and backups
//!   taken before the erasure are outside this guarantee: the [`vault`] module docs and
//!   `docs/PRIVACY.md` say exactly what is and is not promised.
//! - Corruption (a torn slot, a damaged record) is reported with its place, never
//!   silently used.

pub mod cipher;
mod error;
pub mod idcard;
pub mod keys;
pub mod personal;
pub mod record;
pub mod slots;
pub mod vault;

pub use cipher::Cipher;
pub use error::{CorruptAt, VaultError};
pub use idcard::{IdNumberError, ResidentIdNumber, Sex};
pub use keys::{KeyError, KeyId, MasterKey};
pub use personal::{
    Address, BankAccount, ContactUpdate, FieldUpdate, PersonName, PersonalData, PersonalDataError,
    Phone,
};
pub use slots::{HEADER_BYTES, SLOTS_MAX, SLOT_BYTES, SLOT_FILE};
#[doc(hidden)]
pub use vault::CrashPoint;
pub use vault::{
    PutOutcome, RecordStatus, RotationProgress, RotationReport, Vault, VaultKeys, VaultStats,
    BENEFICIARY_ID_BYTES_MAX, DEDUP_TREE, META_TREE, PEOPLE_TREE, PUT_MANY_ITEMS_MAX,
    ROTATION_BATCH_SLOTS,
};
