//! On a busy machine the writer and the flusher go before the projector (decision
//! 0017): the running engine's projector thread has a nice value 10 higher than the
//! process's (at most 19), and its writer and flusher keep the process's.
#![cfg(target_os = "linux")]

use std::sync::Arc;

use ledger_engine::Engine;
use ledger_store::{FixedClock, HashAlgorithm, Log, SledBackend};

/// The nice value in a `/proc/.../stat` line: after "pid (comm) ", the state is
/// field 3 and the nice value field 19.
fn nice_in(stat: &str) -> i32 {
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    after_name.split(' ').nth(19 - 3).unwrap().parse().unwrap()
}

/// The nice value of each of this process's threads, by thread name.
fn nice_by_thread() -> Vec<(String, i32)> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let task = task.unwrap().path();
        let (Ok(name), Ok(stat)) = (
            std::fs::read_to_string(task.join("comm")),
            std::fs::read_to_string(task.join("stat")),
        ) else {
            continue; // the thread ended meanwhile
        };
        threads.push((name.trim_end().to_string(), nice_in(&stat)));
    }
    threads
}

fn nice_of(threads: &[(String, i32)], name: &str) -> i32 {
    let found: Vec<i32> = threads
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, nice)| *nice)
        .collect();
    assert_eq!(found.len(), 1, "one {name} thread in {threads:?}");
    found[0]
}

#[test]
fn the_projector_yields_the_cpu_to_the_writer_and_the_flusher() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(FixedClock::new(1_640_952_000_000));
    let log = Log::create(
        SledBackend::open(dir.path()).unwrap(),
        HashAlgorithm::Sha256,
        clock.clone(),
    )
    .unwrap();
    let process = nice_in(&std::fs::read_to_string("/proc/thread-self/stat").unwrap());
    let engine = Engine::open(log, clock).unwrap();
    // Each thread takes its name once it runs, and the projector lowers its priority
    // as it starts: wait for all three. (The kernel cuts thread names to 15 bytes.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let threads = loop {
        let threads = nice_by_thread();
        let named = |wanted: &str| threads.iter().any(|(name, _)| name == wanted);
        let lowered = threads
            .iter()
            .any(|(name, nice)| name == "ledger-projecto" && *nice != process);
        let started = lowered && named("ledger-writer") && named("ledger-flusher");
        if started || std::time::Instant::now() > deadline {
            break threads;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_eq!(nice_of(&threads, "ledger-projecto"), (process + 10).min(19));
    assert_eq!(nice_of(&threads, "ledger-writer"), process);
    assert_eq!(nice_of(&threads, "ledger-flusher"), process);
    drop(engine);
}
