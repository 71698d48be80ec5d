//! What can go wrong in a command, and the exit code each kind gets (README.md).

use ledger_engine::EngineError;
use ledger_exchange::ExchangeError;
use ledger_projections::QueryError;
use ledger_server::registry::RegistryError;
use ledger_store::StoreError;

/// Exit codes, documented in README.md and docs/CLI.md.
pub mod exit {
    pub const OK: u8 = 0;
    /// The input was rejected (bad arguments, a rule said no, not permitted).
    pub const REJECTED: u8 = 2;
    /// `verify` found the hash chain broken, an export met a broken record, or
    /// `rebuild` found the projections differing from a rebuild.
    pub const VERIFICATION_FAILED: u8 = 3;
    /// The ledger could not be read or written (IO, corruption, not a ledger, locked).
    pub const IO_FAILURE: u8 = 4;
}

/// A failed command: its message and exit code.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad input: arguments, JSON, a rule's rejection.
    #[error("{0}")]
    Rejected(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A query's arguments: an unknown fund or unit, a bad range or page.
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// The registry of personal information (its key, the vault, or the log's answer).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The master key file.
    #[error(transparent)]
    Key(#[from] ledger_registry::KeyError),
    /// An IO failure on a file the command names (export output, import input, backup).
    #[error("{what} {path}: {source}")]
    File {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Rejected(_) => exit::REJECTED,
            Failure::Store(StoreError::AlreadyExists { .. }) => exit::REJECTED,
            Failure::Store(_) | Failure::Io(_) => exit::IO_FAILURE,
            Failure::Engine(e) => Failure::exit_code_of_engine(e),
            Failure::Query(_) => exit::REJECTED,
            Failure::File { .. } => exit::IO_FAILURE,
            Failure::Key(_) => exit::REJECTED,
            Failure::Registry(e) => match e {
                RegistryError::Engine(e) => Failure::exit_code_of_engine(e),
                RegistryError::Vault(v) if !v.is_rejection() => exit::IO_FAILURE,
                _ => exit::REJECTED,
            },
            Failure::Exchange(e) => match e {
                ExchangeError::Chain { .. } => exit::VERIFICATION_FAILED,
                ExchangeError::Io(_)
                | ExchangeError::Csv(_)
                | ExchangeError::Store(_)
                | ExchangeError::Interrupted { .. } => exit::IO_FAILURE,
                ExchangeError::Engine(
                    EngineError::Store(_)
                    | EngineError::Unavailable { .. }
                    | EngineError::Recovering { .. }
                    | EngineError::ReadModelBehind { .. },
                ) => exit::IO_FAILURE,
                ExchangeError::Range { .. }
                | ExchangeError::Engine(_)
                | ExchangeError::File(_)
                | ExchangeError::PersonalInformation { .. }
                | ExchangeError::RowsRejected { .. } => exit::REJECTED,
            },
        }
    }

    fn exit_code_of_engine(e: &EngineError) -> u8 {
        match e {
            EngineError::Store(_)
            | EngineError::Unavailable { .. }
            | EngineError::Recovering { .. }
            | EngineError::ReadModelBehind { .. } => exit::IO_FAILURE,
            _ => exit::REJECTED,
        }
    }

    /// The stable code shown with `--json`.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Rejected(_) => "rejected",
            Failure::Store(e) => e.code(),
            Failure::Engine(e) => e.code(),
            Failure::Io(_) | Failure::File { .. } => "io_error",
            Failure::Query(e) => e.code(),
            Failure::Exchange(e) => e.code(),
            Failure::Registry(e) => e.code(),
            Failure::Key(e) => e.code(),
        }
    }
}

/// Shorthand for a rejected input.
pub fn rejected(message: impl Into<String>) -> Failure {
    Failure::Rejected(message.into())
}

/// An IO error on a named file.
pub fn file_error(
    what: &'static str,
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> Failure {
    let path = path.display().to_string();
    move |source| Failure::File { what, path, source }
}
