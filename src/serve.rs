//! `serve`: the HTTP API over the data directory, with a graceful shutdown, and the
//! engine's in-process recovery from a full disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ledger_engine::{Engine, EngineOptions};
use ledger_server::{App, Limits};
use ledger_store::{Backend, FaultPlan, FaultyBackend, Log, SledBackend, StoreError};

use crate::error::{exit, Failure};
use crate::ledger;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// For end-to-end tests only: names a file; while it exists the server's store fails
/// every write, flush, snapshot and probe for space with ENOSPC, as a full disk would
/// (a `FaultyBackend` around the data directory). Never set it in production.
pub const TEST_DISK_FULL_FLAG_ENV: &str = "WELFARE_LEDGER_TEST_DISK_FULL_FLAG";

/// How often the test failpoint looks at its flag file.
const TEST_FLAG_POLL_MS: u64 = 20;

/// Serves until Ctrl-C or SIGTERM. Requests in flight finish; the engine then drains
/// its queue and makes every acknowledged command durable before the process exits.
pub fn serve(data: &Path, listen: &str, keys: &ledger::KeySource) -> Result<u8, Failure> {
    match std::env::var_os(TEST_DISK_FULL_FLAG_ENV) {
        None => serve_engine(data, listen, keys, ledger::open_serving_engine(data)?),
        Some(flag) => serve_engine(data, listen, keys, failpoint_engine(data, flag.into())?),
    }
}

fn serve_engine<B: Backend>(
    data: &Path,
    listen: &str,
    keys: &ledger::KeySource,
    engine: Engine<B>,
) -> Result<u8, Failure> {
    let registry = ledger::open_registry(data, keys, &engine)?;
    let engine = Arc::new(engine);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let address = listener.local_addr()?;
        let with_registry = registry.is_some();
        let app = App::new(
            Arc::clone(&engine),
            ledger::clock(),
            Limits::default(),
            registry,
        );
        println!(
            "serving the ledger in {} on http://{address}",
            data.display()
        );
        if !with_registry {
            eprintln!("(no master key: the registry of personal information is off)");
        }
        let pages = ledger_web::router(Arc::clone(&app));
        ledger_server::serve_with(listener, app, pages, shutdown_signal()).await
    })?;
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    let head = engine.head().next_position;
    drop(engine);
    println!("stopped; {head} events durable");
    Ok(exit::OK)
}

/// The serving engine over a store that fails as a full disk would while `flag`
/// exists (see [`TEST_DISK_FULL_FLAG_ENV`]).
fn failpoint_engine(
    data: &Path,
    flag: PathBuf,
) -> Result<Engine<FaultyBackend<SledBackend>>, Failure> {
    eprintln!(
        "TEST FAILPOINT: {TEST_DISK_FULL_FLAG_ENV} is set; the disk counts as full while {} exists",
        flag.display()
    );
    let plan = FaultPlan::new();
    {
        let plan = Arc::clone(&plan);
        std::thread::Builder::new()
            .name("test-disk-full-flag".into())
            .spawn(move || loop {
                plan.set_disk_full(flag.exists());
                std::thread::sleep(std::time::Duration::from_millis(TEST_FLAG_POLL_MS));
            })?;
    }
    let dir = data.to_path_buf();
    let backend = move || -> Result<_, StoreError> {
        Ok(FaultyBackend::new(
            ledger::backend(&dir)?,
            Arc::clone(&plan),
        ))
    };
    let first = backend.clone();
    Ok(Engine::open_loading_first(
        ledger_store::SnapshotFiles::of(data),
        first,
        ledger::clock(),
        EngineOptions::default(),
        Some(Arc::new(move || {
            Log::open(backend()?, None, ledger::clock())
        })),
    )?)
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
