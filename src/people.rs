//! `person …`, `key …` and `registry …`: beneficiaries' personal information in the
//! registry beside the log (docs/PRIVACY.md). Personal information is read from a JSON
//! file or standard input, never from arguments, which end up in shell histories and
//! process lists.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use ledger_domain::{BeneficiaryCategory, BeneficiaryId, UnitCode, UserId};
use ledger_projections::{AccessFilter, DateRange, PageRequest, PAGE_SIZE_MAX};
use ledger_registry::{
    Address, BankAccount, ContactUpdate, FieldUpdate, MasterKey, PersonalData, Phone,
};
use ledger_server::registry::{self, Act, Registration, RegistryError, Target};
use ledger_server::RegistryHandle;
use serde::Deserialize;
use serde_json::Value;

use crate::args::{CategoryArg, KindArg};
use crate::error::{exit, file_error, rejected, Failure};
use crate::staff::{acting_user, command_id};
use crate::{ledger, Cli};

#[derive(Subcommand, Debug)]
pub enum PersonCommand {
    /// Register a beneficiary with their personal information (clerk). Reads
    /// `{"name", "id_number", "phone", "bank_account", "address"}` as JSON from FILE, or
    /// from standard input with `-`; prints the opaque id to pay them by.
    Register {
        #[arg(long)]
        unit: UnitCode,
        #[arg(long, value_enum)]
        kind: KindArg,
        /// A category; repeat the flag for several.
        #[arg(long = "category", value_enum)]
        categories: Vec<CategoryArg>,
        /// The JSON file, or `-` for standard input.
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        command_id: Option<String>,
    },
    /// Show a beneficiary's personal information (needs the permission); the read and
    /// its purpose are recorded in the log first.
    Show {
        beneficiary: BeneficiaryId,
        /// Why you need it (recorded).
        #[arg(long)]
        purpose: String,
    },
    /// Find a beneficiary by ID number, read from standard input (exact match).
    Find {
        /// Why you need it (recorded).
        #[arg(long)]
        purpose: String,
    },
    /// Change contact data (clerk with the permission): JSON with any of `phone`,
    /// `bank_account`, `address` (null removes one) from FILE or `-`.
    UpdateContact {
        beneficiary: BeneficiaryId,
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        purpose: String,
        #[arg(long)]
        command_id: Option<String>,
    },
    /// Restrict to storage only: no reads, no new payments (admin).
    Restrict {
        beneficiary: BeneficiaryId,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        command_id: Option<String>,
    },
    /// Lift a restriction (admin).
    Lift {
        beneficiary: BeneficiaryId,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        command_id: Option<String>,
    },
    /// Erase for good: the person's key is destroyed; the history stays (admin).
    Erase {
        beneficiary: BeneficiaryId,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        command_id: Option<String>,
    },
    /// Who read or changed whose personal information, when and why.
    AccessLog {
        #[arg(long)]
        beneficiary: Option<BeneficiaryId>,
        /// The actor, or the user granted or withdrawn the permission.
        #[arg(long = "staff")]
        staff: Option<UserId>,
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create a new master key file (mode 600; it must live outside the data directory).
    Generate { path: PathBuf },
}

#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    /// Counts, the master key's id, the cipher, an unfinished rotation.
    Status,
    /// Re-wrap every person's key by a new master key (start with the new key file
    /// afterwards). A running server rotates with POST /api/v1/registry/rotation.
    RotateKey {
        #[arg(long)]
        new_key_file: PathBuf,
    },
}

/// The personal fields of a registration, as JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonJson {
    name: String,
    id_number: String,
    phone: Option<String>,
    bank_account: Option<String>,
    address: Option<String>,
}

fn read_json(path: &Path) -> Result<Value, Failure> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(path).map_err(file_error("reading", path))?;
    }
    serde_json::from_str(&text)
        .map_err(|e| rejected(format!("the personal data is not valid JSON: {e}")))
}

fn open(
    cli: &Cli,
) -> Result<
    (
        ledger_engine::Engine<ledger_store::SledBackend>,
        RegistryHandle,
    ),
    Failure,
> {
    let (engine, registry) = ledger::open_with_registry(&cli.data, &cli.key_source())?;
    Ok((engine, registry.ok_or(RegistryError::NotConfigured)?))
}

fn act(cli: &Cli, command_id: String) -> Result<Act, Failure> {
    Ok(Act {
        actor: acting_user(cli)?,
        command_id,
        effective_date: ledger::today(),
        memo: String::new(),
    })
}

fn invalid(e: ledger_registry::PersonalDataError) -> Failure {
    rejected(format!("{}: {e}", e.field()))
}

fn contact_field<T>(
    json: &Value,
    name: &str,
    parse: impl Fn(&str) -> Result<T, ledger_registry::PersonalDataError>,
) -> Result<FieldUpdate<T>, Failure> {
    Ok(match json.get(name) {
        None => FieldUpdate::Keep,
        Some(Value::Null) => FieldUpdate::Clear,
        Some(Value::String(s)) => FieldUpdate::Set(parse(s).map_err(invalid)?),
        Some(_) => return Err(rejected(format!("{name} must be a string or null"))),
    })
}

fn print_accepted(cli: &Cli, what: &str, beneficiary: &BeneficiaryId, position: u64) {
    if cli.json {
        println!(
            "{}",
            serde_json::json!({"beneficiary": beneficiary.to_string(), "first_position": position})
        );
    } else {
        println!("{what} {beneficiary} (position {position})");
    }
}

pub fn person(cli: &Cli, command: &PersonCommand) -> Result<u8, Failure> {
    match command {
        PersonCommand::Register {
            unit,
            kind,
            categories,
            from,
            command_id: c,
        } => {
            let person: PersonJson = serde_json::from_value(read_json(from)?)
                .map_err(|e| rejected(format!("the personal data: {e}")))?;
            let data = PersonalData::parse(
                &person.name,
                &person.id_number,
                person.phone.as_deref(),
                person.bank_account.as_deref(),
                person.address.as_deref(),
                ledger::today(),
            )
            .map_err(invalid)?;
            let (engine, registry) = open(cli)?;
            let registration = Registration {
                unit: unit.clone(),
                kind: (*kind).into(),
                categories: categories
                    .iter()
                    .map(|c| BeneficiaryCategory::from(*c))
                    .collect(),
                data,
            };
            let act = act(cli, command_id(c, "person"))?;
            let r = registry::register(&engine, &registry.vault, &act, registration)?;
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({"beneficiary": r.beneficiary.to_string(), "created": r.created})
                );
            } else if r.created {
                println!("registered {}", r.beneficiary);
            } else {
                println!("already registered as {} (nothing recorded)", r.beneficiary);
            }
            Ok(exit::OK)
        }
        PersonCommand::Show {
            beneficiary,
            purpose,
        } => disclose(cli, Target::Beneficiary(beneficiary.clone()), purpose),
        PersonCommand::Find { purpose } => {
            let mut number = String::new();
            std::io::stdin().read_line(&mut number)?;
            disclose(cli, Target::IdNumber(number.trim().to_string()), purpose)
        }
        PersonCommand::UpdateContact {
            beneficiary,
            from,
            purpose,
            command_id: c,
        } => {
            let json = read_json(from)?;
            let update = ContactUpdate {
                phone: contact_field(&json, "phone", Phone::parse)?,
                bank_account: contact_field(&json, "bank_account", BankAccount::parse)?,
                address: contact_field(&json, "address", Address::parse)?,
            };
            if update.is_empty() {
                return Err(rejected(
                    "give at least one of phone, bank_account or address (null removes it)",
                ));
            }
            let (engine, registry) = open(cli)?;
            let act = act(cli, command_id(c, "contact"))?;
            let accepted = registry::update_contact(
                &engine,
                &registry.vault,
                &act,
                beneficiary,
                &update,
                purpose,
            )?;
            print_accepted(
                cli,
                "changed the contact data of",
                beneficiary,
                accepted.first_position,
            );
            Ok(exit::OK)
        }
        PersonCommand::Restrict {
            beneficiary,
            reason,
            command_id: c,
        }
        | PersonCommand::Lift {
            beneficiary,
            reason,
            command_id: c,
        }
        | PersonCommand::Erase {
            beneficiary,
            reason,
            command_id: c,
        } => {
            let (engine, registry) = open(cli)?;
            let act = act(cli, command_id(c, "person"))?;
            let (what, accepted) = match command {
                PersonCommand::Erase { .. } => (
                    "erased",
                    registry::erase(&engine, &registry.vault, &act, beneficiary, reason)?,
                ),
                PersonCommand::Restrict { .. } => (
                    "restricted",
                    act.submit(
                        &engine,
                        ledger_domain::Command::RestrictBeneficiary {
                            beneficiary: beneficiary.clone(),
                            reason: reason.clone(),
                        },
                    )?,
                ),
                _ => (
                    "lifted the restriction of",
                    act.submit(
                        &engine,
                        ledger_domain::Command::LiftBeneficiaryRestriction {
                            beneficiary: beneficiary.clone(),
                            reason: reason.clone(),
                        },
                    )?,
                ),
            };
            print_accepted(cli, what, beneficiary, accepted.first_position);
            Ok(exit::OK)
        }
        PersonCommand::AccessLog {
            beneficiary,
            staff,
            from,
            to,
        } => {
            let engine = ledger::open_engine(&cli.data)?;
            let actor = acting_user(cli)?;
            let reads_all = engine.read(|m| {
                m.state()
                    .access()
                    .user(&actor)
                    .is_some_and(|u| u.reads_whole_ledger())
            });
            if !reads_all {
                return Err(rejected(format!(
                    "the access log is for auditors and admins of the whole ledger, not {actor}"
                )));
            }
            let dates = match (from, to) {
                (None, None) => None,
                (f, t) => Some(DateRange::new(
                    f.unwrap_or(chrono::NaiveDate::from_ymd_opt(1980, 1, 1).expect("a date")),
                    t.unwrap_or_else(ledger::today),
                )?),
            };
            let filter = AccessFilter {
                beneficiary: beneficiary.clone(),
                user: staff.clone(),
                dates,
            };
            let mut offset = 0;
            let mut entries = Vec::new();
            loop {
                let page = engine.projections(|p| {
                    p.personal_data.entries(
                        &filter,
                        PageRequest::new(offset, PAGE_SIZE_MAX).expect("a page"),
                    )
                });
                entries.extend(page.items);
                match page.next_offset {
                    Some(next) => offset = next,
                    None => break,
                }
            }
            if cli.json {
                println!(
                    "{}",
                    serde_json::to_string(&entries).map_err(|e| rejected(e.to_string()))?
                );
            } else {
                for e in &entries {
                    println!(
                        "{:>8}  {}  {:<14} {:<22} {:<16} {}",
                        e.position,
                        e.recorded_at.format("%Y-%m-%d %H:%M:%S"),
                        e.actor.to_string(),
                        serde_json::to_value(e.kind)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        e.beneficiary
                            .as_ref()
                            .map(ToString::to_string)
                            .or_else(|| e.user.as_ref().map(ToString::to_string))
                            .unwrap_or_default(),
                        e.reason
                    );
                }
                println!("{} entries", entries.len());
            }
            Ok(exit::OK)
        }
    }
}

fn disclose(cli: &Cli, target: Target, purpose: &str) -> Result<u8, Failure> {
    let (engine, registry) = open(cli)?;
    let act = act(cli, registry::new_access_id())?;
    let d = registry::disclose(&engine, &registry.vault, &act, &target, purpose)?;
    let data = &d.data;
    let text = |v: Option<&str>| v.unwrap_or("").to_string();
    if cli.json {
        println!(
            "{}",
            serde_json::json!({
                "beneficiary": d.beneficiary.to_string(),
                "name": data.name().as_str(),
                "id_number": data.id_number().as_str(),
                "birth_date": data.id_number().birth_date(),
                "phone": data.phone().map(|p| p.as_str()),
                "bank_account": data.bank_account().map(|b| b.as_str()),
                "address": data.address().map(|a| a.as_str()),
                "access_position": d.access_position,
            })
        );
    } else {
        println!("beneficiary:  {}", d.beneficiary);
        println!("name:         {}", data.name().as_str());
        println!("ID number:    {}", data.id_number().as_str());
        println!("born:         {}", data.id_number().birth_date());
        println!("phone:        {}", text(data.phone().map(|p| p.as_str())));
        println!(
            "bank account: {}",
            text(data.bank_account().map(|b| b.as_str()))
        );
        println!("address:      {}", text(data.address().map(|a| a.as_str())));
        println!("(this read is recorded at position {})", d.access_position);
    }
    Ok(exit::OK)
}

pub fn key(command: &KeyCommand) -> Result<u8, Failure> {
    match command {
        KeyCommand::Generate { path } => {
            let key = MasterKey::generate_file(path)?;
            println!(
                "wrote a new master key (key id {}) to {}; keep it outside the data directory and back it up apart from the data",
                key.key_id(),
                path.display()
            );
            Ok(exit::OK)
        }
    }
}

pub fn registry(cli: &Cli, command: &RegistryCommand) -> Result<u8, Failure> {
    let (_engine, registry) = open(cli)?;
    match command {
        RegistryCommand::Status => {
            let stats = registry.vault.stats().map_err(RegistryError::from)?;
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "stored": stats.stored,
                        "erased": stats.erased,
                        "key_id": stats.key_id.to_string(),
                        "cipher": stats.cipher_for_new_records.name(),
                        "slots_corrupt": stats.slots_corrupt,
                        "rotation_keys_remaining": stats.rotation.map(|r| r.keys_remaining),
                    })
                );
            } else {
                println!("people stored:  {}", stats.stored);
                println!("people erased:  {}", stats.erased);
                println!("master key id:  {}", stats.key_id);
                println!("cipher:         {}", stats.cipher_for_new_records.name());
                if stats.slots_corrupt > 0 {
                    println!("CORRUPT key slots: {}", stats.slots_corrupt);
                }
            }
            Ok(exit::OK)
        }
        RegistryCommand::RotateKey { new_key_file } => {
            let key = MasterKey::from_file(new_key_file, &cli.data)?;
            let report = registry
                .vault
                .rotate_master_key(key)
                .map_err(RegistryError::from)?;
            println!(
                "rotated from key id {} to {}: {} keys re-wrapped in {} ms; use {} from now on",
                report.from,
                report.to,
                report.slots_rewrapped,
                report.elapsed_ms,
                new_key_file.display()
            );
            Ok(exit::OK)
        }
    }
}
