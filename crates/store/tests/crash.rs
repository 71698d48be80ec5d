//! Proves that an acknowledged append survives a process crash. The test runs this
//! same test binary as a child process that appends from many threads through the
//! group committer and prints each acknowledgement; the parent SIGKILLs it at a
//! random moment, reopens the data directory, and checks that every acknowledged
//! event is there with its command, that no partial batch is visible, that positions
//! are dense and that the hash chain verifies. 50 kills in the default run
//! (`CRASH_TEST_KILLS` sets another number).

// Test data are small counts and indexes: truncating casts cannot happen here.
#![allow(clippy::cast_possible_truncation)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ledger_store::{
    AppendBatch, ExpectedVersion, GroupCommitter, HashAlgorithm, Log, SledBackend, SystemClock,
    LOG_TREE,
};
use rand::{Rng, SeedableRng};

const CHILD_ENV: &str = "LEDGER_CRASH_CHILD_DIR";

/// Command `id`, the `i`th of its writer: 1 to 3 events on `stream`, each carrying
/// "{id}/{k}" so that a reader can check it.
fn command(id: &str, stream: &str, i: u32) -> AppendBatch {
    let events = (0..=(i % 3))
        .map(|k| event(stream, ExpectedVersion::Any, format!("{id}/{k}").as_bytes()))
        .collect();
    batch(id, events)
}

/// Runs the test `name` of this binary as a child process, with `env` set to `dir`,
/// its standard output piped.
fn spawn_child(name: &str, env: &str, dir: &std::path::Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(env, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The child's body. Without the environment variable it is an ordinary, empty test.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let backend = SledBackend::open(&dir).unwrap();
    let log = match Log::open(backend, None, Arc::new(SystemClock)) {
        Ok(log) => log,
        Err(ledger_store::StoreError::NotALedger { .. }) => Log::create(
            SledBackend::open(&dir).unwrap(),
            HashAlgorithm::Sha256,
            Arc::new(SystemClock),
        )
        .unwrap(),
        Err(e) => panic!("{e}"),
    };
    let committer = Arc::new(GroupCommitter::start(log));
    let run = std::process::id();
    std::thread::scope(|scope| {
        for t in 0..16u32 {
            let committer = Arc::clone(&committer);
            scope.spawn(move || {
                for i in 0u32.. {
                    let id = format!("r{run}-t{t}-{i}");
                    let appended = committer
                        .append(command(&id, &format!("fund-{}", t % 5), i))
                        .unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(
                        out,
                        "ACK {} {} {id}",
                        appended.first_position, appended.count
                    )
                    .unwrap();
                    out.flush().unwrap();
                }
            });
        }
    });
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    let kills: u32 = std::env::var("CRASH_TEST_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("CRASH_TEST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash test seed {seed} (set CRASH_TEST_SEED to replay the kill timings)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut dir = tempfile::tempdir().unwrap();
    let mut acknowledged: HashMap<String, (u64, u32)> = HashMap::new();
    let mut runs_with_acks = 0;
    let mut timings = Vec::new();
    let mut total_acknowledged = 0;
    for kill in 0..kills {
        let started = std::time::Instant::now();
        // A fresh ledger every ten kills keeps each round's reopen and checks short;
        // within the ten, the ledger grows and is reopened after every kill.
        if kill % 10 == 0 {
            dir = tempfile::tempdir().unwrap();
            total_acknowledged += acknowledged.len();
            acknowledged.clear();
        }
        let mut child = spawn_child("crash_child", CHILD_ENV, dir.path());
        let stdout = child.stdout.take().unwrap();
        let (first_ack, got_first_ack) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut acks = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // The harness prints "test crash_child ... " before the first one.
                if let Some(at) = line.find("ACK ") {
                    if acks.is_empty() {
                        let _ = first_ack.send(());
                    }
                    acks.push(line[at..].to_string());
                }
            }
            acks
        });
        // Kill at a random moment while appends are in full flow: after the first
        // acknowledgement, so that no run is spent only starting up.
        let _ = got_first_ack.recv_timeout(Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..150)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        if !lines.is_empty() {
            runs_with_acks += 1;
        }
        for line in lines {
            let mut parts = line.split(' ').skip(1);
            let first: u64 = parts.next().unwrap().parse().unwrap();
            let count: u32 = parts.next().unwrap().parse().unwrap();
            let id = parts.next().unwrap().to_string();
            acknowledged.insert(id, (first, count));
        }

        let log = Log::open(
            SledBackend::open(dir.path()).unwrap(),
            None,
            Arc::new(SystemClock),
        )
        .unwrap_or_else(|e| panic!("reopen after kill {kill} failed: {e}"));
        let report = log.verify().unwrap();
        assert!(report.is_intact(), "after kill {kill}: {report:?}");
        let head = log.head().next_position;
        // One pass over the log: where each command's events are.
        let mut stored: HashMap<String, (u64, u32)> = HashMap::new();
        let mut from = 0;
        while from < head {
            let page = log
                .read_all(from, ledger_store::limits::READ_PAGE_EVENTS_MAX)
                .unwrap();
            for e in &page {
                assert_eq!(
                    e.payload,
                    format!("{}/{}", e.command_id, e.command_event_index).into_bytes()
                );
                stored
                    .entry(e.command_id.to_string())
                    .or_insert((e.position, e.command_event_count));
            }
            from += page.len() as u64;
        }
        for (id, span) in &acknowledged {
            assert_eq!(
                stored.get(id),
                Some(span),
                "after kill {kill}: acknowledged command {id} is not where it was acknowledged"
            );
        }
        timings.push(started.elapsed());
    }
    eprintln!(
        "{kills} kills, {} acknowledged commands, {runs_with_acks} runs with acknowledgements, slowest round {:?}",
        total_acknowledged + acknowledged.len(),
        timings.iter().max()
    );
    assert_eq!(
        runs_with_acks, kills,
        "every run must be killed while acknowledging appends"
    );
}

const UNSTORED_CHILD_ENV: &str = "LEDGER_UNSTORED_CHILD_DIR";
/// Commands the child of `writes_sled_never_got_survive_sigkill` appends.
const UNSTORED_COMMANDS: u32 = 200;

/// The child's body: appends through `Log::append`, which makes each write durable in
/// the journal but leaves sled's inserts for later (decision 0019), and nothing here
/// reads, so sled never gets them. Reports how many entries sled's log tree holds,
/// then waits to be killed.
#[test]
fn unstored_child() {
    let Ok(dir) = std::env::var(UNSTORED_CHILD_ENV) else {
        return;
    };
    let log = Log::create(
        SledBackend::open(&dir).unwrap(),
        HashAlgorithm::Sha256,
        Arc::new(SystemClock),
    )
    .unwrap();
    for i in 0..UNSTORED_COMMANDS {
        log.append(command(&format!("c{i}"), "fund-1", i)).unwrap();
    }
    let tree = log.backend().db().open_tree(LOG_TREE).unwrap();
    println!("SLED-ENTRIES {}", tree.len());
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

/// Acknowledged writes that were only in the journal when the process died (sled had
/// not been given their records yet) are all there after reopening, in order.
#[test]
fn writes_sled_never_got_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_child("unstored_child", UNSTORED_CHILD_ENV, dir.path());
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let entries: usize = stdout
        .lines()
        .map_while(Result::ok)
        // The harness prints "test unstored_child ... " before it on the same line.
        .find_map(|line| {
            line.split_once("SLED-ENTRIES ")
                .map(|(_, n)| n.trim().parse().unwrap())
        })
        .expect("the child reports sled's entries");
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    // The header and nothing else: not one record, not even the head marker.
    assert_eq!(
        entries, 1,
        "sled was given records before anything read them"
    );

    let log = Log::open(
        SledBackend::open(dir.path()).unwrap(),
        None,
        Arc::new(SystemClock),
    )
    .unwrap();
    assert!(log.verify().unwrap().is_intact());
    let events = log
        .read_all(0, ledger_store::limits::READ_PAGE_EVENTS_MAX)
        .unwrap();
    let expected: u32 = (0..UNSTORED_COMMANDS).map(|i| i % 3 + 1).sum();
    assert_eq!(events.len(), expected as usize);
    let mut position = 0;
    for i in 0..UNSTORED_COMMANDS {
        for k in 0..=(i % 3) {
            let e = &events[position];
            assert_eq!(e.position, position as u64);
            assert_eq!(e.command_id.to_string(), format!("c{i}"));
            assert_eq!(e.payload, format!("c{i}/{k}").into_bytes());
            position += 1;
        }
    }
}
