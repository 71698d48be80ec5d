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
//! - [`cipher`]: AES-256-GCM or SM4-GCM ([`Cipher`]).

pub mod cipher;
pub mod idcard;
pub mod keys;
pub mod personal;

pub use cipher::Cipher;
pub use idcard::{IdNumberError, ResidentIdNumber, Sex};
pub use keys::{KeyError, KeyId, MasterKey};
pub use personal::{
    Address, BankAccount, ContactUpdate, FieldUpdate, PersonName, PersonalData, PersonalDataError, Phone,
};
