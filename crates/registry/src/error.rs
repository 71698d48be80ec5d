//! The registry's errors. [`VaultError`] holds both kinds the style keeps apart, each
//! variant documented as one or the other: rejections (the caller asked for something
//! the registry's state refuses: not found, erased, already stored) and operating errors
//! (IO, corruption, a wrong key). [`VaultError::is_rejection`] tells them apart.

use std::fmt;
use std::path::PathBuf;

use crate::keys::KeyId;

/// Where damaged data was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorruptAt {
    /// A slot of the key-slot file, by index.
    Slot(u64),
    /// The `registry_people` record of a beneficiary.
    Record(String),
    /// An entry of the `registry_meta` tree, by key.
    Meta(&'static str),
    /// An entry of the `registry_dedup` tree.
    DedupIndex,
    /// The header of the key-slot file.
    SlotFileHeader(PathBuf),
}

impl fmt::Display for CorruptAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CorruptAt::Slot(index) => write!(f, "key slot {index}"),
            CorruptAt::Record(beneficiary) => write!(f, "the record of beneficiary {beneficiary}"),
            CorruptAt::Meta(key) => write!(f, "the registry metadata entry {key}"),
            CorruptAt::DedupIndex => f.write_str("the dedup index"),
            CorruptAt::SlotFileHeader(path) => {
                write!(f, "the header of the key-slot file {}", path.display())
            }
        }
    }
}

/// Formats milliseconds since the Unix epoch as an RFC 3339 UTC time.
fn format_ms(ms: &u64) -> String {
    i64::try_from(*ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(
            || format!("{ms} ms after the epoch"),
            |t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        )
}

/// Everything that can go wrong in the registry. Messages name the beneficiary, slot,
/// operation or path, and never contain personal information or key material.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// Rejection: the id cannot name a beneficiary in the registry.
    #[error("{beneficiary:?} is not a valid beneficiary id for the registry: {reason}")]
    InvalidBeneficiaryId {
        beneficiary: String,
        reason: &'static str,
    },
    /// Rejection: nothing was ever registered under this id (or it was discarded).
    #[error("no personal data is registered for beneficiary {beneficiary}")]
    NotFound { beneficiary: String },
    /// Rejection: the data was erased; the id cannot be used again.
    #[error("the personal data of beneficiary {beneficiary} was erased at {}; an erased beneficiary id is never registered again", format_ms(.erased_ms))]
    Erased { beneficiary: String, erased_ms: u64 },
    /// Rejection: `put` for an id that holds data.
    #[error("beneficiary {beneficiary} already has personal data in the registry: change contact data with an update instead")]
    AlreadyStored { beneficiary: String },
    /// Rejection: a batch larger than [`crate::PUT_MANY_ITEMS_MAX`].
    #[error("the batch holds {items} registrations; the maximum is {max}")]
    BatchTooLarge { items: usize, max: usize },
    /// Rejection: a rotation to the key already in use.
    #[error(
        "the new master key is the current one (key id {key_id}): generate a new key to rotate to"
    )]
    SameKey { key_id: KeyId },
    /// Rejection: a rotation while another is unfinished.
    #[error("a master key rotation from key id {from} to {to} is already running")]
    RotationRunning { from: KeyId, to: KeyId },
    /// Operating: a ciphertext or wrapped key did not authenticate: a wrong master key,
    /// an altered ciphertext, or a ciphertext moved from another record.
    #[error("the personal data of beneficiary {beneficiary} cannot be decrypted: {what}")]
    Decrypt { beneficiary: String, what: String },
    /// Operating: damaged data, never skipped; `at` says where.
    #[error("corrupt registry at {at}: {what}")]
    Corrupt { at: CorruptAt, what: String },
    /// Operating: the master key supplied is not the registry's.
    #[error("the master key does not match this ledger's registry (key id {found}, expected {expected})")]
    KeyMismatch { found: KeyId, expected: KeyId },
    /// Operating: a rotation was interrupted and the old key was not supplied.
    #[error("a master key rotation from key id {from} to {to} is unfinished ({keys_remaining} keys are still wrapped by {from}): open the registry with the new key ({to}) as the current key and the old key ({from}) as the previous key to finish it")]
    RotationUnfinished {
        from: KeyId,
        to: KeyId,
        keys_remaining: u64,
    },
    /// Operating: the key-slot file is full.
    #[error("the key-slot file holds {max} slots, its maximum")]
    Full { max: u64 },
    /// Operating: the key-slot file is gone while the database holds a registry.
    #[error("the key-slot file {path} is missing but the database holds a registry: restore it from the same backup as the database (without it no personal data can be read)")]
    SlotFileMissing { path: PathBuf },
    /// Operating: the key-slot file belongs to another registry.
    #[error("the key-slot file {path} belongs to another registry (registry id {found}, expected {expected}): use the slot file that was backed up with this database")]
    SlotFileMismatch {
        path: PathBuf,
        found: String,
        expected: String,
    },
    /// Operating: written by a newer version of the program.
    #[error("the registry was written in format version {found}; this program reads up to version {supported}: upgrade welfare-ledger")]
    NewerFormat { found: u16, supported: u16 },
    /// Programmer error: the same key-slot directory opened twice in one process.
    #[error("the registry with the key-slot file {path} is already open in this process")]
    AlreadyOpen { path: PathBuf },
    /// Operating: a write or sync failed earlier; what reached the disk is known only
    /// after reopening (which recovers).
    #[error(
        "the registry refuses writes after a failed write or sync ({cause}); reopen it to recover"
    )]
    Poisoned { cause: String },
    /// Operating: a filesystem call failed.
    #[error("io error while {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Operating: sled failed.
    #[error("storage engine error while {op}: {message}")]
    Storage { op: &'static str, message: String },
    /// Tests only: a crash point set with `Vault::set_crash_point` was reached.
    #[doc(hidden)]
    #[error("simulated crash at {0}")]
    SimulatedCrash(&'static str),
}

impl VaultError {
    /// A stable machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            VaultError::InvalidBeneficiaryId { .. } => "invalid_beneficiary_id",
            VaultError::NotFound { .. } => "personal_data_not_found",
            VaultError::Erased { .. } => "personal_data_erased",
            VaultError::AlreadyStored { .. } => "personal_data_already_stored",
            VaultError::BatchTooLarge { .. } => "batch_too_large",
            VaultError::SameKey { .. } => "same_master_key",
            VaultError::RotationRunning { .. } => "rotation_running",
            VaultError::Decrypt { .. } => "decrypt_failed",
            VaultError::Corrupt { .. } => "corruption",
            VaultError::KeyMismatch { .. } => "master_key_mismatch",
            VaultError::RotationUnfinished { .. } => "rotation_unfinished",
            VaultError::Full { .. } => "registry_full",
            VaultError::SlotFileMissing { .. } => "slot_file_missing",
            VaultError::SlotFileMismatch { .. } => "slot_file_mismatch",
            VaultError::NewerFormat { .. } => "newer_format",
            VaultError::AlreadyOpen { .. } => "registry_already_open",
            VaultError::Poisoned { .. } => "registry_poisoned",
            VaultError::Io { .. } => "io_error",
            VaultError::Storage { .. } => "storage_error",
            VaultError::SimulatedCrash(_) => "simulated_crash",
        }
    }

    /// True for rejections of the request (nothing changed, the registry is fine); false
    /// for operating errors.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            VaultError::InvalidBeneficiaryId { .. }
                | VaultError::NotFound { .. }
                | VaultError::Erased { .. }
                | VaultError::AlreadyStored { .. }
                | VaultError::BatchTooLarge { .. }
                | VaultError::SameKey { .. }
                | VaultError::RotationRunning { .. }
        )
    }

    pub(crate) fn storage(op: &'static str) -> impl FnOnce(sled::Error) -> VaultError {
        move |e| match e {
            sled::Error::Io(source) => VaultError::Io {
                op,
                path: PathBuf::from("(the sled database)"),
                source,
            },
            sled::Error::Corruption { at, .. } => VaultError::Storage {
                op,
                message: format!("sled reports corruption at {at:?}"),
            },
            other => VaultError::Storage {
                op,
                message: other.to_string(),
            },
        }
    }

    pub(crate) fn io(
        op: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> VaultError {
        let path = path.to_path_buf();
        move |source| VaultError::Io { op, path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erased_message_shows_the_time() {
        let e = VaultError::Erased {
            beneficiary: "b-1".into(),
            erased_ms: 1_700_000_000_123,
        };
        assert_eq!(
            e.to_string(),
            "the personal data of beneficiary b-1 was erased at 2023-11-14T22:13:20.123Z; an erased beneficiary id is never registered again"
        );
        assert!(e.is_rejection());
    }
}
