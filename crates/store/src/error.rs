//! The log's errors, in two kinds kept apart: rejections of an append (the caller's
//! input or expectation is wrong; nothing changed) and operating errors (IO,
//! corruption, a store that refuses writes after a failed flush).

use crate::types::{CommandId, ExpectedVersion, NameError, StreamName};

/// An operating error: the store could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("io error while {op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("storage engine error while {op}: {message}")]
    Backend { op: &'static str, message: String },
    /// Damaged data. Never skipped: the position says where to look.
    #[error("corrupt ledger{}: {what}", position.map_or_else(String::new, |p| format!(" at position {p}")))]
    Corruption { position: Option<u64>, what: String },
    #[error("the ledger was written in format version {found}; this program reads up to version {supported}: upgrade welfare-ledger")]
    NewerFormat { found: u16, supported: u16 },
    #[error("the ledger uses the {found} hash chain, but {requested} was requested: open it without choosing a hash algorithm, or use another directory")]
    HashAlgorithmMismatch {
        found: crate::HashAlgorithm,
        requested: crate::HashAlgorithm,
    },
    #[error("no ledger at {path}: create one with `welfare-ledger init`")]
    NotALedger { path: String },
    #[error("a ledger already exists at {path}")]
    AlreadyExists { path: String },
    /// A write or flush failed earlier; what reached the disk is unknown until reopened.
    #[error("the store refuses writes after a failed write or flush ({cause}); reopen the ledger to recover")]
    Poisoned { cause: String },
    #[error("the store has been shut down")]
    ShutDown,
}

impl StoreError {
    pub(crate) fn io(op: &'static str) -> impl FnOnce(std::io::Error) -> StoreError {
        move |source| StoreError::Io { op, source }
    }

    pub(crate) fn backend(op: &'static str) -> impl FnOnce(sled::Error) -> StoreError {
        move |e| {
            match e {
            sled::Error::Io(source) => StoreError::Io {
                op,
                source: plain_io_error(source),
            },
            sled::Error::Corruption { at, .. } => StoreError::Corruption {
                position: None,
                what: format!(
                    "{}/db is damaged: sled reports corruption at {at:?} while {op}; restore the data directory from a backup",
                    crate::SLED_DIR
                ),
            },
            other => StoreError::Backend {
                op,
                message: other.to_string(),
            },
        }
        }
    }

    /// Whether this is the disk running out of space (ENOSPC, or a disk quota).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::Io { source, .. }
            if source.kind() == std::io::ErrorKind::StorageFull
                || source.raw_os_error() == Some(libc::EDQUOT))
    }

    /// A stable machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Io { .. } => "io_error",
            StoreError::Backend { .. } => "storage_error",
            StoreError::Corruption { .. } => "corruption",
            StoreError::NewerFormat { .. } => "newer_format",
            StoreError::HashAlgorithmMismatch { .. } => "hash_algorithm_mismatch",
            StoreError::NotALedger { .. } => "not_a_ledger",
            StoreError::AlreadyExists { .. } => "already_exists",
            StoreError::Poisoned { .. } => "store_poisoned",
            StoreError::ShutDown => "shut_down",
        }
    }
}

/// sled hands out copies of the IO error that stopped it as a custom error whose text
/// is the original's `Debug` form (`Os { code: 28, kind: StorageFull, … }`); a full
/// disk is given back its plain form ("No space left on device (os error 28)").
fn plain_io_error(source: std::io::Error) -> std::io::Error {
    if source.raw_os_error().is_none() && source.kind() == std::io::ErrorKind::StorageFull {
        return std::io::Error::from_raw_os_error(libc::ENOSPC);
    }
    source
}

/// Why an append was not accepted. A rejection changes nothing.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("the batch of command {command_id} holds no events")]
    EmptyBatch { command_id: CommandId },
    #[error("the batch of command {command_id} holds {events} events; the maximum is {max}")]
    BatchTooLarge {
        command_id: CommandId,
        events: usize,
        max: usize,
    },
    #[error(
        "event {index} of command {command_id} encodes to {bytes} bytes; the maximum is {max}"
    )]
    EventTooLarge {
        command_id: CommandId,
        index: usize,
        bytes: usize,
        max: usize,
    },
    #[error(transparent)]
    InvalidName(#[from] NameError),
    #[error("stream {stream} is at {}, but the append expected {expected}", actual.map_or_else(|| "no stream (it does not exist)".to_string(), |v| format!("version {v}")))]
    WrongExpectedVersion {
        stream: StreamName,
        expected: ExpectedVersion,
        actual: Option<u64>,
    },
    #[error("command id {command_id} was already used for different events (first at position {first_position}); use a new command id")]
    CommandIdConflict {
        command_id: CommandId,
        first_position: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppendError {
    /// A stable machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            AppendError::EmptyBatch { .. } => "empty_batch",
            AppendError::BatchTooLarge { .. } => "batch_too_large",
            AppendError::EventTooLarge { .. } => "event_too_large",
            AppendError::InvalidName(_) => "invalid_name",
            AppendError::WrongExpectedVersion { .. } => "wrong_expected_version",
            AppendError::CommandIdConflict { .. } => "command_id_conflict",
            AppendError::Store(e) => e.code(),
        }
    }

    /// True for rejections of the input; false for operating errors.
    pub fn is_rejection(&self) -> bool {
        !matches!(self, AppendError::Store(_))
    }
}
