//! `serve`: the HTTP API over the data directory, with a graceful shutdown.

use std::path::Path;
use std::sync::Arc;

use ledger_server::{App, Limits};

use crate::error::{exit, Failure};
use crate::ledger;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Serves until Ctrl-C or SIGTERM. Requests in flight finish; the engine then drains
/// its queue and makes every acknowledged command durable before the process exits.
pub fn serve(data: &Path, listen: &str, keys: &ledger::KeySource) -> Result<u8, Failure> {
    let (engine, registry) = ledger::open_with_registry(data, keys)?;
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
        ledger_server::serve(listener, app, shutdown_signal()).await
    })?;
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    let head = engine.log().head().next_position;
    drop(engine);
    println!("stopped; {head} events durable");
    Ok(exit::OK)
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
