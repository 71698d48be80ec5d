//! `user` and `token`: staff management at the console, as the admin named by `--user`
//! (checked like any other command: role and scope).

use chrono::NaiveDate;
use clap::Subcommand;
use ledger_domain::{Command, Role, TokenDigest, UnitCode, UserId};
use ledger_engine::Submission;
use ledger_server::{new_token, token_digest};

use crate::args::{free_text, Recording};
use crate::error::{exit, rejected, Failure};
use crate::{ledger, Cli};

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Register a member of staff with a role (clerk, approver, manager, auditor, admin).
    Add {
        /// The new user's id (an opaque staff id, never a name).
        id: String,
        #[arg(long)]
        role: Role,
        /// The unit whose subtree they work in (required for clerk, approver, manager).
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        command_id: Option<String>,
    },
    /// Change a user's role or scope.
    Change {
        id: String,
        #[arg(long)]
        role: Role,
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        command_id: Option<String>,
    },
    /// Disable a user; their tokens stop working.
    Disable {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        command_id: Option<String>,
    },
    /// Allow a user to read beneficiaries' personal information (a permission apart
    /// from the role).
    GrantPersonalData {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        command_id: Option<String>,
    },
    /// Withdraw that permission.
    WithdrawPersonalData {
        id: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        command_id: Option<String>,
    },
    /// List users, their roles and scopes.
    List,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Issue a token to a user and print it once.
    Issue {
        /// The user the token signs in as. (Its own id: the global `--user` is the
        /// admin issuing it, and clap would otherwise fill both from one value.)
        #[arg(id = "token_user", value_name = "USER")]
        user: String,
        /// The last day it works (YYYY-MM-DD); none = until revoked.
        #[arg(long)]
        expires_on: Option<NaiveDate>,
    },
    /// Revoke a token by its digest (shown by `token issue` and in the audit trail).
    Revoke {
        digest: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        command_id: Option<String>,
    },
}

/// The `--user` acting, as a user id.
pub fn acting_user(cli: &Cli) -> Result<UserId, Failure> {
    let actor = cli.user.as_deref().ok_or_else(|| {
        rejected("name the acting member of staff with --user (or WELFARE_LEDGER_USER)")
    })?;
    id(actor, |s| UserId::new(s))
}

fn id<T>(
    text: &str,
    parse: impl Fn(&str) -> Result<T, ledger_domain::IdError>,
) -> Result<T, Failure> {
    parse(text).map_err(|e| rejected(e.to_string()))
}

fn scope(text: &Option<String>) -> Result<Option<UnitCode>, Failure> {
    text.as_deref()
        .map(|s| id(s, |s| UnitCode::new(s)))
        .transpose()
}

/// A fresh command id when the caller gave none (printed, so a retry can reuse it).
pub fn command_id(given: &Option<String>, kind: &str) -> String {
    given.clone().unwrap_or_else(|| {
        let token = new_token();
        format!("cli-{kind}-{}", &token[4..20])
    })
}

/// Submits `command` as the `--user`, checked, dated today and without a memo, and
/// prints where it landed.
pub fn record(cli: &Cli, command_id: String, command: Command) -> Result<u8, Failure> {
    record_with(cli, command_id, ledger::today(), String::new(), command)
}

/// Submits `command` as the `--user` with the recording flags every recording
/// subcommand shares: the command id (generated when absent, prefixed with `kind`),
/// the effective date (default today) and the memo (checked for personal digits).
pub fn record_as(
    cli: &Cli,
    recording: &Recording,
    kind: &str,
    command: Command,
) -> Result<u8, Failure> {
    let memo = free_text("memo", &recording.memo)?;
    let effective_date = recording.effective_date.unwrap_or_else(ledger::today);
    record_with(
        cli,
        command_id(&recording.command_id, kind),
        effective_date,
        memo,
        command,
    )
}

/// Submits `command` as the `--user`, checked (role and scope, then the rules), and
/// prints where it landed.
pub fn record_with(
    cli: &Cli,
    command_id: String,
    effective_date: NaiveDate,
    memo: String,
    command: Command,
) -> Result<u8, Failure> {
    let actor = acting_user(cli)?;
    let engine = ledger::open_engine(&cli.data)?;
    let accepted = engine.submit_checked(Submission {
        command_id: command_id.clone(),
        command,
        actor,
        effective_date,
        memo,
    })?;
    // A payment above its fund's threshold is recorded as a request that waits for a
    // second person: say so, with the request's number.
    let event_types: Vec<String> = if accepted.count == 0 {
        Vec::new()
    } else {
        engine
            .log()?
            .read_all(
                accepted.first_position,
                usize::try_from(accepted.count).unwrap_or(usize::MAX),
            )?
            .iter()
            .map(|e| e.event_type.to_string())
            .collect()
    };
    let request = (event_types.first().map(String::as_str) == Some("PaymentRequested"))
        .then_some(accepted.first_position);
    if cli.json {
        println!(
            "{}",
            serde_json::json!({
                "command_id": command_id,
                "first_position": accepted.first_position,
                "count": accepted.count,
                "duplicate": accepted.duplicate,
                "event_types": event_types,
                "payment_request": request,
            })
        );
    } else {
        let again = if accepted.duplicate {
            " (a retry: already recorded)"
        } else {
            ""
        };
        println!(
            "recorded {} event(s) at position {} with command id {command_id}{again}: {}",
            accepted.count,
            accepted.first_position,
            event_types.join(", ")
        );
        if let Some(request) = request {
            println!(
                "the payment is above the fund's approval threshold: request {request} waits for an approver (`welfare-ledger request approve {request}`)"
            );
        }
    }
    Ok(exit::OK)
}

pub fn user(cli: &Cli, command: &UserCommand) -> Result<u8, Failure> {
    match command {
        UserCommand::Add {
            id: user,
            role,
            scope: s,
            command_id: c,
        } => record(
            cli,
            command_id(c, "user"),
            Command::RegisterUser {
                user: id(user, |s| UserId::new(s))?,
                role: *role,
                scope: scope(s)?,
            },
        ),
        UserCommand::Change {
            id: user,
            role,
            scope: s,
            command_id: c,
        } => record(
            cli,
            command_id(c, "user"),
            Command::ChangeUserRole {
                user: id(user, |s| UserId::new(s))?,
                role: *role,
                scope: scope(s)?,
            },
        ),
        UserCommand::GrantPersonalData {
            id: user,
            reason,
            command_id: c,
        } => record(
            cli,
            command_id(c, "user"),
            Command::GrantPersonalDataAccess {
                user: id(user, |s| UserId::new(s))?,
                reason: crate::args::free_text("reason", reason)?,
            },
        ),
        UserCommand::WithdrawPersonalData {
            id: user,
            reason,
            command_id: c,
        } => record(
            cli,
            command_id(c, "user"),
            Command::WithdrawPersonalDataAccess {
                user: id(user, |s| UserId::new(s))?,
                reason: crate::args::free_text("reason", reason)?,
            },
        ),
        UserCommand::Disable {
            id: user,
            reason,
            command_id: c,
        } => record(
            cli,
            command_id(c, "user"),
            Command::DisableUser {
                user: id(user, |s| UserId::new(s))?,
                reason: reason.clone(),
            },
        ),
        UserCommand::List => {
            let engine = ledger::open_engine(&cli.data)?;
            let users: Vec<_> = engine.read(|m| {
                m.state()
                    .access()
                    .users()
                    .map(|(id, u)| (id.clone(), u.clone()))
                    .collect()
            });
            if cli.json {
                let rows: Vec<_> = users
                    .iter()
                    .map(|(id, u)| {
                        serde_json::json!({"user": id, "role": u.role(), "scope": u.scope(), "active": u.is_active()})
                    })
                    .collect();
                println!("{}", serde_json::json!({ "users": rows }));
            } else {
                println!("{:<24} {:<9} {:<20} active", "user", "role", "scope");
                for (id, u) in &users {
                    println!(
                        "{:<24} {:<9} {:<20} {}",
                        id.as_str(),
                        u.role().name(),
                        u.scope()
                            .map_or("(whole ledger)".to_string(), ToString::to_string),
                        if u.is_active() { "yes" } else { "no" }
                    );
                }
            }
            Ok(exit::OK)
        }
    }
}

pub fn token(cli: &Cli, command: &TokenCommand) -> Result<u8, Failure> {
    match command {
        TokenCommand::Issue { user, expires_on } => {
            let token = new_token();
            let digest = token_digest(&token);
            let code = record(
                cli,
                command_id(&None, "token"),
                Command::IssueToken {
                    token: digest,
                    user: id(user, |s| UserId::new(s))?,
                    expires_on: *expires_on,
                },
            )?;
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({"user": user, "token": token, "digest": digest})
                );
            } else {
                println!("token for {user} (shown once, keep it safe): {token}");
                println!("its digest (to revoke it): {digest}");
            }
            Ok(code)
        }
        TokenCommand::Revoke {
            digest,
            reason,
            command_id: c,
        } => {
            let digest: TokenDigest = digest.parse().map_err(|e: String| rejected(e))?;
            record(
                cli,
                command_id(c, "revoke"),
                Command::RevokeToken {
                    token: digest,
                    reason: reason.clone(),
                },
            )
        }
    }
}
