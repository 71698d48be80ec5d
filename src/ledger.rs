//! Opening the data directory: the log, the engine, and the users bootstrap at `init`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate};
use ledger_domain::{Command, Role, UserId};
use ledger_engine::{Engine, EngineOptions, Submission};
use ledger_registry::{Cipher, MasterKey, Vault, VaultKeys};
use ledger_server::registry::{self, RegistryError};
use ledger_server::{new_token, token_digest, RegistryHandle};
use ledger_store::{
    Backend, Clock, HashAlgorithm, Log, SledBackend, SnapshotFiles, StoreError, SystemClock,
};

use crate::error::{rejected, Failure};

/// The actor recorded for what the ledger's operator does at the console (`init`).
pub const OPERATOR: &str = "operator";

/// The data directory's backend, refusing a directory that holds no ledger (rather
/// than creating an empty database there). A directory with a sled database but no
/// journal is opened, so that the store reports the missing journal.
pub fn backend(data: &Path) -> Result<SledBackend, StoreError> {
    if !data.join(ledger_store::JOURNAL_FILE).exists()
        && !data.join(ledger_store::SLED_DIR).exists()
    {
        return Err(StoreError::NotALedger {
            path: data.display().to_string(),
        });
    }
    SledBackend::open(data)
}

pub fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

pub fn open_log(data: &Path) -> Result<Log<SledBackend>, StoreError> {
    Log::open(backend(data)?, None, clock())
}

/// The engine over the data directory, its projections' checkpoints loading while sled
/// opens (decision 0035).
pub fn open_engine(data: &Path) -> Result<Engine<SledBackend>, Failure> {
    Ok(Engine::open_loading_first(
        SnapshotFiles::of(data),
        || backend(data),
        clock(),
        EngineOptions::default(),
        None,
    )?)
}

/// Where the registry's master key comes from (global flags and environment).
#[derive(Debug, Clone, Default)]
pub struct KeySource {
    /// A key file outside the data directory.
    pub file: Option<PathBuf>,
    /// The key itself, base64 (`WELFARE_LEDGER_MASTER_KEY`), when no file is given.
    pub value: Option<String>,
    /// The old key while a rotation is unfinished.
    pub previous_file: Option<PathBuf>,
    /// The cipher for new records.
    pub cipher: Cipher,
}

impl KeySource {
    /// The keys, or `None` when no master key is configured.
    fn keys(&self, data: &Path) -> Result<Option<VaultKeys>, Failure> {
        let current = match (&self.file, &self.value) {
            (Some(file), _) => MasterKey::from_file(file, data)?,
            (None, Some(value)) => MasterKey::from_env_value(value)?,
            (None, None) => return Ok(None),
        };
        let previous = self
            .previous_file
            .as_deref()
            .map(|file| MasterKey::from_file(file, data))
            .transpose()?;
        Ok(Some(VaultKeys { current, previous }))
    }
}

/// The directory of the registry's key-slot file, beside sled's.
pub const REGISTRY_DIR: &str = "registry";

/// Opens the engine the console commands use and, when a master key is configured, the
/// registry beside it.
pub fn open_with_registry(
    data: &Path,
    keys: &KeySource,
) -> Result<(Engine<SledBackend>, Option<RegistryHandle>), Failure> {
    let engine = open_engine(data)?;
    let registry = open_registry(data, keys, &engine)?;
    Ok((engine, registry))
}

/// Opens the registry beside `engine` when a master key is configured; it then destroys
/// the keys of beneficiaries the log says are erased.
pub fn open_registry<B: Backend>(
    data: &Path,
    keys: &KeySource,
    engine: &Engine<B>,
) -> Result<Option<RegistryHandle>, Failure> {
    let keys_cipher = keys.cipher;
    let Some(keys) = keys.keys(data)? else {
        if data.join(REGISTRY_DIR).exists() {
            eprintln!(
                "warning: {} holds a registry of personal information, but no master key is configured: registry requests will be refused (set WELFARE_LEDGER_MASTER_KEY_FILE)",
                data.display()
            );
        }
        return Ok(None);
    };
    let vault = Vault::open_dir(&data.join(REGISTRY_DIR), keys, keys_cipher)
        .map_err(RegistryError::from)?;
    let shredded = registry::reconcile(engine, &vault).map_err(RegistryError::from)?;
    if shredded > 0 {
        eprintln!("the registry destroyed the keys of {shredded} beneficiaries erased in the log");
    }
    Ok(Some(RegistryHandle {
        vault: Arc::new(vault),
        data_dir: data.to_path_buf(),
    }))
}

/// The engine of a long-running server: after a failed write or flush (a full disk)
/// it reopens the data directory by itself once the disk takes writes again.
pub fn open_serving_engine(data: &Path) -> Result<Engine<SledBackend>, Failure> {
    let dir = data.to_path_buf();
    Ok(Engine::open_loading_first(
        SnapshotFiles::of(data),
        || backend(data),
        clock(),
        EngineOptions::default(),
        Some(Arc::new(move || open_log(&dir))),
    )?)
}

/// Today's business date by the system clock (China Standard Time,
/// `ledger_domain::business_date`), the default effective date.
pub fn today() -> NaiveDate {
    DateTime::from_timestamp_millis(clock().now_ms()).map_or(NaiveDate::MIN, |t| {
        ledger_domain::business_date(t.naive_utc())
    })
}

/// Creates a ledger with its first admin (the whole ledger, no scope) and returns the
/// admin's token, which is shown once and never stored.
pub fn create(data: &Path, hash: HashAlgorithm, admin: &str) -> Result<String, Failure> {
    if data.join(ledger_store::JOURNAL_FILE).exists() {
        return Err(StoreError::AlreadyExists {
            path: data.display().to_string(),
        }
        .into());
    }
    let admin = UserId::new(admin).map_err(|e| rejected(e.to_string()))?;
    let log = Log::create(SledBackend::open(data)?, hash, clock())?;
    let engine = Engine::open(log, clock())?;
    let token = new_token();
    let run = |id: &str, command: Command| {
        engine.submit(Submission {
            command_id: id.to_string(),
            command,
            actor: UserId::new(OPERATOR).expect("valid id"),
            effective_date: today(),
            memo: "init".to_string(),
        })
    };
    run(
        "init-admin",
        Command::RegisterUser {
            user: admin.clone(),
            role: Role::Admin,
            scope: None,
        },
    )?;
    run(
        "init-admin-token",
        Command::IssueToken {
            token: token_digest(&token),
            user: admin,
            expires_on: None,
        },
    )?;
    Ok(token)
}
