//! The `welfare-ledger` binary: a thin shell over the store. It parses arguments,
//! opens the data directory and prints results; all rules live in the crates.

mod demo;
mod error;
mod ledger;
mod serve;
mod staff;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use error::{exit, Failure};
use ledger_store::{Backend as _, HashAlgorithm, Log};

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
    /// The member of staff acting (a registered user id); their role and unit scope
    /// are checked for every command that records something.
    #[arg(long, global = true, env = "WELFARE_LEDGER_USER")]
    user: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a new ledger in the data directory, with its first admin; prints the
    /// admin's API token once (it is stored only as a hash).
    Init {
        /// The hash of the ledger's chain, fixed for its lifetime: sha256 or sm3.
        #[arg(long, default_value = "sha256")]
        hash: HashAlgorithm,
        /// The first admin's user id (an opaque staff id, not a name).
        #[arg(long, default_value = "admin")]
        admin: String,
    },
    /// Show the ledger's head: number of events, head hash, hash algorithm, size.
    Status,
    /// Recompute the hash chain from position 0; exit 3 and name the first bad position if broken.
    Verify,
    /// Serve the HTTP API (docs/API.md) until Ctrl-C or SIGTERM, then drain and flush.
    Serve {
        /// The address to listen on.
        #[arg(long, default_value = serve::DEFAULT_LISTEN)]
        listen: String,
    },
    /// Create (or reuse) a ledger holding a generated province dataset — all six
    /// programmes over 2021–2025, tens of thousands of events — and serve it, printing
    /// the address and an auditor's and a clerk's token.
    Demo {
        /// The address to listen on.
        #[arg(long, default_value = serve::DEFAULT_LISTEN)]
        listen: String,
        /// The dataset's seed: the same seed gives the same ledger.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The dataset's volume in percent of the default (about 46,000 events).
        #[arg(long, default_value_t = 100)]
        scale: u32,
    },
    /// Manage staff users (as an admin named by --user).
    #[command(subcommand)]
    User(staff::UserCommand),
    /// Issue and revoke API tokens (as an admin named by --user).
    #[command(subcommand)]
    Token(staff::TokenCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if cli.json {
                eprintln!(
                    "{}",
                    serde_json::json!({"error": e.code(), "detail": e.to_string()})
                );
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: &Cli) -> Result<u8, Failure> {
    match &cli.command {
        Command::Init { hash, admin } => {
            let token = ledger::create(&cli.data, *hash, admin)?;
            if cli.json {
                let out = serde_json::json!({
                    "data": cli.data.display().to_string(),
                    "hash_algorithm": hash.name(),
                    "admin": admin,
                    "admin_token": token,
                });
                println!("{out}");
            } else {
                println!(
                    "created a ledger in {} with the {hash} hash chain",
                    cli.data.display()
                );
                println!("admin user: {admin}");
                println!("admin token (shown once, keep it safe): {token}");
            }
            Ok(exit::OK)
        }
        Command::Serve { listen } => serve::serve(&cli.data, listen),
        Command::Demo {
            listen,
            seed,
            scale,
        } => demo::demo(&cli.data, listen, *seed, *scale),
        Command::User(command) => staff::user(cli, command),
        Command::Token(command) => staff::token(cli, command),
        Command::Status => {
            let log = ledger::open_log(&cli.data)?;
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
            let report = Log::verify_storage(&ledger::backend(&cli.data)?)?;
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
