//! `demo`: a ledger holding the generated province dataset (crates/demo), with a user
//! for each member of staff the plan names, served over HTTP. The first of the
//! README's two commands: a new user sees the ledger working in one step.

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use ledger_demo::{ActorRole, DemoConfig, DemoPlan, Scale};
use ledger_domain::{Command, Role, UnitCode, UserId};
use ledger_engine::{Engine, Submission};
use ledger_server::{new_token, token_digest, App, Limits};
use ledger_store::{CommandId, HashAlgorithm, SledBackend};

use crate::error::{exit, rejected, Failure};
use crate::{ledger, serve, Cli};
use ledger_server::registry::RegistryError;

/// The auditor and manager the demo adds beside the plan's staff.
const DEMO_AUDITOR: &str = "auditor-fj";
const DEMO_MANAGER: &str = "manager-fj";

fn role_of(role: ActorRole) -> Role {
    match role {
        ActorRole::Admin => Role::Admin,
        ActorRole::Clerk => Role::Clerk,
        ActorRole::Approver => Role::Approver,
    }
}

/// Creates (or reuses) the demo ledger in `data`, then serves it on `listen`.
pub fn demo(cli: &Cli, listen: &str, seed: u64, scale_percent: u32) -> Result<u8, Failure> {
    let data = cli.data.as_path();
    let scale = Scale::percent(scale_percent).map_err(|e| rejected(e.to_string()))?;
    let config = DemoConfig {
        seed,
        scale,
        ..DemoConfig::default()
    };
    let plan = ledger_demo::generate(&config);
    let fresh = !data.join(ledger_store::JOURNAL_FILE).exists();
    if fresh {
        println!("creating a demo ledger in {}", data.display());
        ledger::create(data, HashAlgorithm::Sha256, "admin")?;
    }
    let keys = demo_key(cli)?;
    let engine = ledger::open_serving_engine(data)?;
    let registry = ledger::open_registry(data, &keys, &engine)?;
    let engine = Arc::new(engine);
    let first = CommandId::new(plan.command_id(0)).map_err(|e| rejected(e.to_string()))?;
    let head = engine.head().next_position;
    if !fresh && head > 2 && engine.command_span(&first).is_none() {
        return Err(rejected(format!(
            "{} holds a ledger that is not this demo (seed {seed}); give the demo its own directory with --data",
            data.display()
        )));
    }
    load(&engine, &plan)?;
    let (auditor, clerk) = staff(&engine, &plan)?;
    if let Some(registry) = &registry {
        register_people(registry, &plan)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        println!();
        println!("the demo ledger is served on http://{address}");
        println!("  auditor {DEMO_AUDITOR}:  {auditor}");
        println!("  clerk {}: {}", clerk.0, clerk.1);
        println!("the web workspace: http://{address}/web/ (sign in with one of these tokens)");
        println!("try:");
        println!("  curl -H 'Authorization: Bearer {auditor}' http://{address}/api/v1/funds");
        println!("  curl -H 'Authorization: Bearer {auditor}' 'http://{address}/api/v1/units/FJ/programmes?year=2024'");
        println!("  curl -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' -H 'Idempotency-Key: read-1' -d '{{\"beneficiary\":\"b-000001\",\"purpose\":\"核对发放信息\"}}' http://{address}/api/v1/personal-data/disclosures", auditor);
        println!("(tokens are shown once and stored only as hashes; Ctrl-C stops the server)");
        let app = App::new(
            Arc::clone(&engine),
            ledger::clock(),
            Limits::default(),
            registry,
        );
        let pages = ledger_web::router(Arc::clone(&app));
        ledger_server::serve_with(listener, app, pages, serve::shutdown_signal()).await
    })?;
    runtime.shutdown_timeout(Duration::from_secs(5));
    Ok(exit::OK)
}

/// The master key: the configured one, or else a demo key file beside the data
/// directory (`<data>.master-key`), created on the first run.
fn demo_key(cli: &Cli) -> Result<ledger::KeySource, Failure> {
    let mut keys = cli.key_source();
    if keys.file.is_none() && keys.value.is_none() {
        let mut name = cli
            .data
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "ledger-data".into());
        name.push(".master-key");
        let path = cli.data.with_file_name(name);
        if !path.exists() {
            ledger_registry::MasterKey::generate_file(&path)?;
            println!(
                "created a demo master key in {} (for real data, keep the key elsewhere: docs/PRIVACY.md)",
                path.display()
            );
        }
        keys.file = Some(path);
    }
    Ok(keys)
}

/// Registers the generated (fictitious) personal information of every beneficiary the
/// vault does not hold yet, in batches with one sync each.
fn register_people(
    registry: &ledger_server::RegistryHandle,
    plan: &DemoPlan,
) -> Result<(), Failure> {
    let vault = &registry.vault;
    let mut missing = Vec::new();
    for (beneficiary, data) in ledger_demo::personal_data(plan) {
        if vault
            .status(beneficiary.as_str())
            .map_err(RegistryError::from)?
            .is_none()
        {
            missing.push((beneficiary.to_string(), data));
        }
    }
    for batch in missing.chunks(ledger_registry::PUT_MANY_ITEMS_MAX) {
        vault.put_many(batch).map_err(RegistryError::from)?;
    }
    let stats = vault.stats().map_err(RegistryError::from)?;
    println!(
        "registry: {} people with personal information ({} new), master key id {}",
        stats.stored,
        missing.len(),
        stats.key_id
    );
    Ok(())
}

/// Loads the plan with a progress bar (a second run finds every step recorded).
fn load(engine: &Engine<SledBackend>, plan: &DemoPlan) -> Result<(), Failure> {
    let bar = ProgressBar::new(plan.steps().len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} commands ({per_sec}, {eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message("recording the demo");
    let summary = ledger_demo::load(engine, plan, |done, _| bar.set_position(done))
        .map_err(|e| rejected(format!("the demo plan was refused: {e}")))?;
    bar.finish_and_clear();
    println!(
        "demo ledger: {} events ({} new), {} commands, {} payment requests waiting for approval",
        summary.head, summary.events_appended, summary.commands, summary.pending_requests_left
    );
    Ok(())
}

/// Registers the plan's staff as users (once), plus an auditor and a manager, and
/// issues fresh tokens for the auditor and the first county clerk.
fn staff(
    engine: &Engine<SledBackend>,
    plan: &DemoPlan,
) -> Result<(String, (UserId, String)), Failure> {
    let submit = |id: String, command: Command| {
        engine.submit(Submission {
            command_id: id,
            command,
            actor: UserId::new(ledger::OPERATOR).expect("valid id"),
            effective_date: ledger::today(),
            memo: "demo staff".to_string(),
        })
    };
    let id = |text: &str| UserId::new(text).map_err(|e| rejected(e.to_string()));
    let province = UnitCode::new("FJ").map_err(|e| rejected(e.to_string()))?;
    let mut users: Vec<(UserId, Role, Option<UnitCode>)> = plan
        .actors()
        .iter()
        .map(|a| {
            let role = role_of(a.role);
            let scope = (role != Role::Admin).then(|| a.unit.clone());
            (a.id.clone(), role, scope)
        })
        .collect();
    users.push((id(DEMO_AUDITOR)?, Role::Auditor, None));
    users.push((id(DEMO_MANAGER)?, Role::Manager, Some(province)));
    for (user, role, scope) in users {
        submit(
            format!("demo-user-{user}"),
            Command::RegisterUser { user, role, scope },
        )?;
    }
    let clerk = plan
        .actors()
        .iter()
        .filter(|a| a.role == ActorRole::Clerk)
        .max_by_key(|a| a.unit.as_str().len())
        .map(|a| a.id.clone())
        .ok_or_else(|| rejected("the demo plan names no clerk"))?;
    let issue = |user: UserId| -> Result<String, Failure> {
        let token = new_token();
        submit(
            format!("demo-token-{}", &token[4..20]),
            Command::IssueToken {
                token: token_digest(&token),
                user,
                expires_on: None,
            },
        )?;
        Ok(token)
    };
    // The printed clerk and the auditor may read personal information.
    for user in [id(DEMO_AUDITOR)?, clerk.clone()] {
        submit(
            format!("demo-personal-data-{user}"),
            Command::GrantPersonalDataAccess {
                user,
                reason: "演示：核对发放对象".to_string(),
            },
        )?;
    }
    let auditor = issue(id(DEMO_AUDITOR)?)?;
    let clerk_token = issue(clerk.clone())?;
    Ok((auditor, (clerk, clerk_token)))
}
