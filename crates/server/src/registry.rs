//! The registry workflow shared by the HTTP API and the command line: what happens in
//! the log and in the vault ([`ledger_registry::Vault`]), and in which order, when a
//! member of staff registers a beneficiary, reads or changes their personal
//! information, restricts or erases it.
//!
//! The order makes every step safe to retry and every disclosure recorded:
//! - **register**: the vault first (deduplicated by the ID number's keyed hash), then
//!   `RegisterBeneficiary` in the log; a refusal discards the vault's record, and a
//!   registration interrupted between the two is finished by its retry, which finds the
//!   record by the ID number;
//! - **read, look up, update**: `RecordPersonalDataAccess` in the log first (the writer
//!   checks the permission, the scope and the beneficiary's status), then the vault;
//! - **erase**: `EraseBeneficiary` in the log first, then the vault destroys the key;
//!   [`reconcile`] repeats the vault's part for every erased beneficiary when the
//!   ledger opens, so a crash between the two never leaves a key behind.

use std::collections::BTreeSet;

use ledger_domain::{
    authorize, BeneficiaryCategory, BeneficiaryId, BeneficiaryKind, Command, PersonalDataAction,
    UnitCode, UserId,
};
use ledger_engine::{Accepted, Engine, EngineError, Submission};
use ledger_registry::{
    ContactUpdate, PersonalData, PutOutcome, RecordStatus, ResidentIdNumber, Vault, VaultError,
};
use ledger_store::Backend;
use rand::Rng as _;

/// Why a registry request failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The ledger runs without a master key.
    #[error("the registry of personal information needs a master key: create one with `welfare-ledger key generate PATH` (outside the data directory) and start with --master-key-file PATH or WELFARE_LEDGER_MASTER_KEY_FILE")]
    NotConfigured,
    /// The log refused or could not record the command.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The vault refused or failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A typed ID number that is not valid.
    #[error(transparent)]
    IdNumber(#[from] ledger_registry::IdNumberError),
    /// No one is registered with that ID number.
    #[error("no beneficiary is registered with that ID number")]
    IdNumberNotFound,
}

impl RegistryError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::NotConfigured => "registry_not_configured",
            RegistryError::Engine(e) => e.code(),
            RegistryError::Vault(e) => e.code(),
            RegistryError::IdNumber(e) => e.code(),
            RegistryError::IdNumberNotFound => "id_number_not_found",
        }
    }
}

/// A new beneficiary with their personal information.
#[derive(Debug, Clone)]
pub struct Registration {
    pub unit: UnitCode,
    pub kind: BeneficiaryKind,
    pub categories: BTreeSet<BeneficiaryCategory>,
    pub data: PersonalData,
}

/// What a registration did.
#[derive(Debug, Clone)]
pub struct Registered {
    pub beneficiary: BeneficiaryId,
    /// False when the ID number was registered before: `beneficiary` is that person.
    pub created: bool,
    /// Where `BeneficiaryRegistered` was appended, when this request recorded it.
    pub accepted: Option<Accepted>,
}

/// Whose data to disclose.
#[derive(Debug, Clone)]
pub enum Target {
    Beneficiary(BeneficiaryId),
    /// An ID number as typed (exact match after normalising spaces and a lower-case x).
    IdNumber(String),
}

/// Personal information disclosed, with the position of the access record.
#[derive(Debug, Clone)]
pub struct Disclosure {
    pub beneficiary: BeneficiaryId,
    pub data: PersonalData,
    pub access_position: u64,
}

/// Who acts, when, and under which command id.
#[derive(Debug, Clone)]
pub struct Act {
    pub actor: UserId,
    pub command_id: String,
    pub effective_date: chrono::NaiveDate,
    pub memo: String,
}

impl Act {
    /// Submits `command` as this act's member of staff, checked by the writer.
    pub fn submit<B: Backend>(
        &self,
        engine: &Engine<B>,
        command: Command,
    ) -> Result<Accepted, EngineError> {
        engine.submit_checked(Submission {
            command_id: self.command_id.clone(),
            command,
            actor: self.actor.clone(),
            effective_date: self.effective_date,
            memo: self.memo.clone(),
        })
    }
}

/// A fresh opaque beneficiary id, `b-` and 12 random hex digits: it says nothing about
/// the person, the unit or the order of registration.
pub fn new_beneficiary_id() -> BeneficiaryId {
    let n: u64 = rand::thread_rng().gen_range(0..1 << 48);
    BeneficiaryId::new(format!("b-{n:012x}")).expect("a valid id")
}

/// A command id for an access record, which is never retried: each read is recorded.
pub fn new_access_id() -> String {
    let n: u128 = rand::thread_rng().gen();
    format!("pi-{n:032x}")
}

fn known_to_ledger<B: Backend>(engine: &Engine<B>, beneficiary: &BeneficiaryId) -> bool {
    engine.read(|m| m.state().beneficiary(beneficiary).is_some())
}

/// Registers a beneficiary: the vault, then the log. Registering an ID number that is
/// already registered returns that beneficiary (`created: false`) and records nothing.
pub fn register<B: Backend>(
    engine: &Engine<B>,
    vault: &Vault,
    act: &Act,
    registration: Registration,
) -> Result<Registered, RegistryError> {
    let command = |beneficiary: &BeneficiaryId| Command::RegisterBeneficiary {
        beneficiary: beneficiary.clone(),
        unit: registration.unit.clone(),
        kind: registration.kind,
        categories: registration.categories.clone(),
    };
    // Refuse a caller who may not register here before any personal data is written.
    let probe = new_beneficiary_id();
    engine
        .read(|m| authorize(m.state(), &act.actor, &command(&probe)))
        .map_err(EngineError::Rejected)?;
    let existing = vault.find_by_id_number(registration.data.id_number())?;
    let beneficiary = match existing {
        Some(id) => parse_vault_id(&id)?,
        None => match vault.put(probe.as_str(), &registration.data)? {
            PutOutcome::Stored => probe,
            PutOutcome::AlreadyRegistered { beneficiary } => parse_vault_id(&beneficiary)?,
        },
    };
    if known_to_ledger(engine, &beneficiary) {
        return Ok(Registered {
            beneficiary,
            created: false,
            accepted: None,
        });
    }
    match act.submit(engine, command(&beneficiary)) {
        Ok(accepted) => Ok(Registered {
            beneficiary,
            created: true,
            accepted: Some(accepted),
        }),
        Err(error @ (EngineError::Rejected(_) | EngineError::CommandIdConflict { .. })) => {
            // Refused: nothing in the log names this id, so its data must not stay.
            if !known_to_ledger(engine, &beneficiary) {
                vault.discard(beneficiary.as_str())?;
            }
            Err(error.into())
        }
        // Unknown outcome: keep the record; a retry finds it by the ID number.
        Err(error) => Err(error.into()),
    }
}

fn parse_vault_id(id: &str) -> Result<BeneficiaryId, RegistryError> {
    BeneficiaryId::new(id).map_err(|_| {
        RegistryError::Vault(VaultError::InvalidBeneficiaryId {
            beneficiary: id.to_string(),
            reason: "not a valid beneficiary id of the ledger",
        })
    })
}

/// Resolves the target, records the access in the log, then decrypts.
pub fn disclose<B: Backend>(
    engine: &Engine<B>,
    vault: &Vault,
    act: &Act,
    target: &Target,
    purpose: &str,
) -> Result<Disclosure, RegistryError> {
    let (beneficiary, action) = match target {
        Target::Beneficiary(b) => (b.clone(), PersonalDataAction::Read),
        Target::IdNumber(raw) => {
            let number = ResidentIdNumber::parse(raw, act.effective_date)?;
            let id = vault
                .find_by_id_number(&number)?
                .ok_or(RegistryError::IdNumberNotFound)?;
            (parse_vault_id(&id)?, PersonalDataAction::LookUpByIdNumber)
        }
    };
    ensure_stored(engine, vault, &beneficiary)?;
    let accepted = act.submit(
        engine,
        Command::RecordPersonalDataAccess {
            beneficiary: beneficiary.clone(),
            action,
            purpose: purpose.to_string(),
        },
    )?;
    let data = vault.get(beneficiary.as_str())?;
    Ok(Disclosure {
        beneficiary,
        data,
        access_position: accepted.first_position,
    })
}

/// Refuses, before anything is recorded, a beneficiary the vault holds nothing for. The
/// log's rules come first for ids it knows: a restricted or erased beneficiary is
/// refused by the writer with the domain's own code.
fn ensure_stored<B: Backend>(
    engine: &Engine<B>,
    vault: &Vault,
    beneficiary: &BeneficiaryId,
) -> Result<(), RegistryError> {
    if !known_to_ledger(engine, beneficiary) {
        return Err(VaultError::NotFound {
            beneficiary: beneficiary.to_string(),
        }
        .into());
    }
    // An erased record passes: the writer then refuses with `beneficiary_erased`.
    if vault.status(beneficiary.as_str())?.is_none() {
        return Err(VaultError::NotFound {
            beneficiary: beneficiary.to_string(),
        }
        .into());
    }
    Ok(())
}

/// Records the change in the log, then re-encrypts the data with the new contact
/// fields. A retry with the same command id applies the same change again.
pub fn update_contact<B: Backend>(
    engine: &Engine<B>,
    vault: &Vault,
    act: &Act,
    beneficiary: &BeneficiaryId,
    update: &ContactUpdate,
    purpose: &str,
) -> Result<Accepted, RegistryError> {
    ensure_stored(engine, vault, beneficiary)?;
    let accepted = act.submit(
        engine,
        Command::RecordPersonalDataAccess {
            beneficiary: beneficiary.clone(),
            action: PersonalDataAction::UpdateContact,
            purpose: purpose.to_string(),
        },
    )?;
    vault.update_contact(beneficiary.as_str(), update)?;
    Ok(accepted)
}

/// Records the erasure, then destroys the person's key. A retry destroys it again
/// (nothing left to do).
pub fn erase<B: Backend>(
    engine: &Engine<B>,
    vault: &Vault,
    act: &Act,
    beneficiary: &BeneficiaryId,
    reason: &str,
) -> Result<Accepted, RegistryError> {
    let accepted = act.submit(
        engine,
        Command::EraseBeneficiary {
            beneficiary: beneficiary.clone(),
            reason: reason.to_string(),
        },
    )?;
    shred(vault, beneficiary)?;
    Ok(accepted)
}

/// Destroys the vault's record of an erased beneficiary (nothing to do when it holds
/// none).
pub fn shred(vault: &Vault, beneficiary: &BeneficiaryId) -> Result<(), VaultError> {
    match vault.erase(beneficiary.as_str()) {
        Ok(()) | Err(VaultError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Destroys the vault's records of every beneficiary the log says is erased, including
/// erasures recorded while the registry was not open (through `/api/v1/commands`
/// without a master key, or a crash between the log and the vault). Returns how many
/// records were destroyed now.
pub fn reconcile<B: Backend>(engine: &Engine<B>, vault: &Vault) -> Result<u64, VaultError> {
    let erased: Vec<BeneficiaryId> = engine.read(|m| {
        m.state()
            .beneficiaries()
            .filter(|(_, b)| b.status() == ledger_domain::BeneficiaryStatus::Erased)
            .map(|(id, _)| id.clone())
            .collect()
    });
    let mut shredded = 0;
    for beneficiary in erased {
        if let Some(RecordStatus::Stored { .. }) = vault.status(beneficiary.as_str())? {
            vault.erase(beneficiary.as_str())?;
            shredded += 1;
        }
    }
    Ok(shredded)
}
