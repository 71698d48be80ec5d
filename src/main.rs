//! The `welfare-ledger` binary: a thin shell over the store. It parses arguments,
//! opens the data directory and prints results; all rules live in the crates.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use ledger_store::{Backend as _, HashAlgorithm, Log, SledBackend, StoreError, SystemClock};

/// Exit codes, documented in README.md.
mod exit {
    pub const OK: u8 = 0;
    /// The input was rejected (bad arguments, a rule said no).
    pub const REJECTED: u8 = 2;
    /// `verify` found the hash chain broken.
    pub const VERIFICATION_FAILED: u8 = 3;
    /// The ledger could not be read or written (IO, corruption, not a ledger).
    pub const IO_FAILURE: u8 = 4;
}

#[derive(Parser, Debug)]
#[command(
    name = "welfare-ledger",
    version,
    about = "An append-only, tamper-evident ledger for welfare funds"
)]
struct Cli {
    /// The ledger's data directory.
    #[arg(
        long,
        global = true,
        env = "WELFARE_LEDGER_DATA",
        default_value = "./ledger-data"
    )]
    data: PathBuf,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a new, empty ledger in the data directory.
    Init {
        /// The hash of the ledger's chain, fixed for its lifetime: sha256 or sm3.
        #[arg(long, default_value = "sha256")]
        hash: HashAlgorithm,
    },
    /// Show the ledger's head: number of events, head hash, hash algorithm, size.
    Status,
    /// Recompute the hash chain from position 0; exit 3 and name the first bad position if broken.
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(match e {
                StoreError::AlreadyExists { .. } => exit::REJECTED,
                _ => exit::IO_FAILURE,
            })
        }
    }
}

/// The data directory's backend, refusing a directory that holds no ledger (rather
/// than creating an empty database there).
fn backend(cli: &Cli) -> Result<SledBackend, StoreError> {
    if !cli.data.join(ledger_store::JOURNAL_FILE).exists() {
        return Err(StoreError::NotALedger {
            path: cli.data.display().to_string(),
        });
    }
    SledBackend::open(&cli.data)
}

fn open(cli: &Cli) -> Result<Log<SledBackend>, StoreError> {
    Log::open(backend(cli)?, None, Arc::new(SystemClock))
}

fn run(cli: &Cli) -> Result<u8, StoreError> {
    match &cli.command {
        Command::Init { hash } => {
            if cli.data.join(ledger_store::JOURNAL_FILE).exists() {
                return Err(StoreError::AlreadyExists {
                    path: cli.data.display().to_string(),
                });
            }
            let log = Log::create(SledBackend::open(&cli.data)?, *hash, Arc::new(SystemClock))?;
            if cli.json {
                let out = serde_json::json!({
                    "data": cli.data.display().to_string(),
                    "hash_algorithm": log.algorithm().name(),
                });
                println!("{out}");
            } else {
                println!(
                    "created a ledger in {} with the {} hash chain",
                    cli.data.display(),
                    log.algorithm()
                );
            }
            Ok(exit::OK)
        }
        Command::Status => {
            let log = open(cli)?;
            let head = log.head();
            let bytes = log.backend().size_on_disk()?;
            if cli.json {
                let out = serde_json::json!({
                    "events": head.next_position,
                    "head_hash": hex::encode(head.hash),
                    "hash_algorithm": log.algorithm().name(),
                    "bytes_on_disk": bytes,
                });
                println!("{out}");
            } else {
                println!("events:         {}", head.next_position);
                println!("head hash:      {}", hex::encode(head.hash));
                println!("hash algorithm: {}", log.algorithm());
                println!("bytes on disk:  {bytes}");
            }
            Ok(exit::OK)
        }
        Command::Verify => {
            // Verified from storage, not through an opened log: damage that would stop
            // the log from opening is reported by position like any other.
            let report = Log::verify_storage(&backend(cli)?)?;
            match &report.first_break {
                None => {
                    if cli.json {
                        let out = serde_json::json!({
                            "intact": true,
                            "events": report.events_checked,
                            "head_hash": hex::encode(report.head.hash),
                        });
                        println!("{out}");
                    } else {
                        println!(
                            "intact: {} events, head hash {} ({})",
                            report.events_checked,
                            hex::encode(report.head.hash),
                            report.algorithm
                        );
                    }
                    Ok(exit::OK)
                }
                Some(b) => {
                    if cli.json {
                        let out = serde_json::json!({
                            "intact": false,
                            "first_bad_position": b.position,
                            "problem": b.problem,
                        });
                        println!("{out}");
                    } else {
                        println!("BROKEN at position {}: {}", b.position, b.problem);
                    }
                    Ok(exit::VERIFICATION_FAILED)
                }
            }
        }
    }
}
