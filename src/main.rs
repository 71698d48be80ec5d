//! The `welfare-ledger` binary: a thin shell over the store. It parses arguments,
//! opens the data directory and prints results; all rules live in the crates.

mod args;
mod demo;
mod error;
mod exchange;
mod ledger;
mod maintain;
mod people;
mod read;
mod record;
mod serve;
mod staff;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use error::{exit, Failure};
use ledger_store::{Backend as _, HashAlgorithm, Log};

/// mimalloc, as in `ledger-bench` (decisions 0016, 0020): rebuilds and the read model
/// allocate and free millions of small values, which it serves from thread-local pages.
#[global_allocator]
static GLOBAL: ledger_alloc::Allocator = ledger_alloc::Allocator;

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
    /// Show money in tables in 万元 (exact: amount ÷ 10,000, never rounded) instead of
    /// 元. JSON always carries yuan as decimal strings.
    #[arg(long, global = true)]
    wan: bool,
    /// The registry's master key file (base64, mode 600, outside the data directory).
    /// Without a key (this or WELFARE_LEDGER_MASTER_KEY) the ledger runs without the
    /// registry of personal information.
    #[arg(long, global = true, env = "WELFARE_LEDGER_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// The previous master key file, to finish an interrupted key rotation.
    #[arg(long, global = true, env = "WELFARE_LEDGER_PREVIOUS_MASTER_KEY_FILE")]
    previous_master_key_file: Option<PathBuf>,
    /// The cipher for new records in the registry: aes-256-gcm or sm4-gcm.
    #[arg(
        long,
        global = true,
        env = "WELFARE_LEDGER_REGISTRY_CIPHER",
        default_value = "aes-256-gcm"
    )]
    registry_cipher: ledger_registry::Cipher,
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
    /// Organisational units: register (admin), list.
    #[command(subcommand)]
    Unit(record::UnitCommand),
    /// Funds: open, set the approval threshold (admin); balance, statement, list.
    #[command(subcommand)]
    Fund(FundCommand),
    /// Beneficiaries, by opaque id (clerk).
    #[command(subcommand)]
    Beneficiary(record::BeneficiaryCommand),
    /// Appropriations committed (下达) and received (到位) (clerk).
    #[command(subcommand)]
    Appropriation(record::AppropriationCommand),
    /// Loans: disburse, repay, reschedule (clerk), write off (approver).
    #[command(subcommand)]
    Loan(record::LoanCommand),
    /// Happiness Project grants (clerk).
    #[command(subcommand)]
    Grant(record::GrantCommand),
    /// Housing grants: award, instalments, follow-up visits (clerk).
    #[command(subcommand)]
    Housing(record::HousingCommand),
    /// Golden Autumn bursaries: award, instalments (clerk).
    #[command(subcommand)]
    Bursary(record::BursaryCommand),
    /// Family-planning insurance: premiums, claims, the claims reserve (clerk).
    #[command(subcommand)]
    Insurance(record::InsuranceCommand),
    /// Condolence campaigns and payments (clerk).
    #[command(subcommand)]
    Condolence(record::CondolenceCommand),
    /// Payment requests awaiting a second person: list, approve, reject, expire.
    #[command(subcommand)]
    Request(RequestCommand),
    /// Reversals of money events (clerk).
    #[command(subcommand)]
    Event(record::EventCommand),
    /// Accounting periods: close (admin).
    #[command(subcommand)]
    Period(record::PeriodCommand),
    /// Programme, insurance and loan reports.
    #[command(subcommand)]
    Report(read::ReportCommand),
    /// The audit trail: by fund, beneficiary, actor, command or dates; one event.
    #[command(subcommand)]
    Audit(read::AuditCommand),
    /// Export the log: JSONL for auditors, CSV for spreadsheets.
    Export(exchange::ExportArgs),
    /// Import a CSV file of payments as --user (all or nothing unless --skip-bad-rows).
    Import(exchange::ImportArgs),
    /// Recompute every projection from position 0 and compare with the incremental ones.
    Rebuild,
    /// Copy the ledger into a new directory and verify the copy.
    Backup {
        /// A new or empty directory for the copy.
        dir: PathBuf,
        /// Copy the ledger a running server holds (its address, e.g.
        /// http://127.0.0.1:8080), through its export, instead of opening --data.
        #[arg(long)]
        server: Option<String>,
        /// An auditor's or whole-ledger admin's token for --server.
        #[arg(long, env = "WELFARE_LEDGER_TOKEN", requires = "server")]
        token: Option<String>,
    },
    /// Beneficiaries' personal information in the registry: register, show, find,
    /// update contact data, restrict, lift, erase, the access log (docs/PRIVACY.md).
    #[command(subcommand)]
    Person(people::PersonCommand),
    /// The registry's master key: generate a key file.
    #[command(subcommand)]
    Key(people::KeyCommand),
    /// The registry: status, master key rotation.
    #[command(subcommand)]
    Registry(people::RegistryCommand),
    /// Manage staff users (as an admin named by --user).
    #[command(subcommand)]
    User(staff::UserCommand),
    /// Issue and revoke API tokens (as an admin named by --user).
    #[command(subcommand)]
    Token(staff::TokenCommand),
}

/// `fund ...`: recording and reading.
#[derive(Subcommand, Debug)]
enum FundCommand {
    #[command(flatten)]
    Write(record::FundWrite),
    #[command(flatten)]
    Read(read::FundRead),
}

/// `request ...`: recording and reading.
#[derive(Subcommand, Debug)]
enum RequestCommand {
    #[command(flatten)]
    Read(read::RequestRead),
    #[command(flatten)]
    Write(record::RequestWrite),
}

impl Cli {
    /// Where the registry's master key comes from.
    fn key_source(&self) -> ledger::KeySource {
        ledger::KeySource {
            file: self.master_key_file.clone(),
            value: std::env::var("WELFARE_LEDGER_MASTER_KEY").ok(),
            previous_file: self.previous_master_key_file.clone(),
            cipher: self.registry_cipher,
        }
    }

    /// The unit tables show money in.
    fn money_unit(&self) -> args::MoneyUnit {
        if self.wan {
            args::MoneyUnit::Wan
        } else {
            args::MoneyUnit::Yuan
        }
    }
}

fn main() -> ExitCode {
    ledger_alloc::configure();
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
        Command::Serve { listen } => serve::serve(&cli.data, listen, &cli.key_source()),
        Command::Demo {
            listen,
            seed,
            scale,
        } => demo::demo(cli, listen, *seed, *scale),
        Command::Unit(c) => record::unit(cli, c),
        Command::Fund(FundCommand::Write(c)) => record::fund(cli, c),
        Command::Fund(FundCommand::Read(c)) => read::fund(cli, c),
        Command::Beneficiary(c) => record::beneficiary(cli, c),
        Command::Appropriation(c) => record::appropriation(cli, c),
        Command::Loan(c) => record::loan(cli, c),
        Command::Grant(c) => record::grant(cli, c),
        Command::Housing(c) => record::housing(cli, c),
        Command::Bursary(c) => record::bursary(cli, c),
        Command::Insurance(c) => record::insurance(cli, c),
        Command::Condolence(c) => record::condolence(cli, c),
        Command::Request(RequestCommand::Read(c)) => read::requests(cli, c),
        Command::Request(RequestCommand::Write(c)) => record::request(cli, c),
        Command::Event(c) => record::event(cli, c),
        Command::Period(c) => record::period(cli, c),
        Command::Report(c) => read::report(cli, c),
        Command::Audit(c) => read::audit(cli, c),
        Command::Export(args) => exchange::export(cli, args),
        Command::Import(args) => exchange::import(cli, args),
        Command::Rebuild => maintain::rebuild(cli),
        Command::Backup { dir, server, token } => {
            let source = match (server, token) {
                (Some(url), Some(token)) => Some(maintain::Source {
                    url: url.clone(),
                    token: token.clone(),
                }),
                (Some(_), None) => {
                    return Err(error::rejected(
                        "backup --server needs an auditor's or admin's --token (or WELFARE_LEDGER_TOKEN)",
                    ))
                }
                _ => None,
            };
            maintain::backup(cli, dir, source.as_ref())
        }
        Command::Person(command) => people::person(cli, command),
        Command::Key(command) => people::key(command),
        Command::Registry(command) => people::registry(cli, command),
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
