//! Proves that the engine's committed model survives a process crash at any moment,
//! including between the log's commit and the model's snapshot: a child process
//! (this test binary again) pays grants from 8 threads with a snapshot every 50
//! events and prints each acceptance; the parent SIGKILLs it at random moments 20
//! times. After every reopen, every accepted command is in the log where it was
//! answered, a retry of it is a duplicate, the reopened model (snapshot plus tail)
//! and the projections (checkpoints plus tail) equal a rebuild from position 0, the
//! fund never went below zero, and the chain verifies.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command as Process, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use ledger_domain::{
    Amount, BeneficiaryId, BeneficiaryKind, Command, FundId, FundingTier, GrantModality,
    GrantPayment, Money, Programme, TierSplit, UnitCode, UnitLevel, UserId,
};
use ledger_engine::{Engine, EngineOptions, Submission};
use ledger_store::{HashAlgorithm, Log, SledBackend, StoreError, SystemClock};

const CHILD_ENV: &str = "LEDGER_ENGINE_CRASH_CHILD_DIR";

fn submission(id: &str, command: Command) -> Submission {
    Submission {
        command_id: id.to_string(),
        command,
        actor: UserId::new("clerk-1").unwrap(),
        effective_date: NaiveDate::from_ymd_opt(2021, 6, 30).unwrap(),
        memo: String::new(),
    }
}

fn grant(beneficiary: usize) -> Command {
    let amount = Amount::parse("10.00").unwrap();
    Command::PayGrant(GrantPayment {
        fund: FundId::new("HP-1").unwrap(),
        beneficiary: BeneficiaryId::new(format!("M{beneficiary:03}")).unwrap(),
        modality: GrantModality::Relief,
        batch: None,
        amount,
        shares: TierSplit::single(FundingTier::City, amount).unwrap(),
    })
}

fn open(dir: &str) -> Engine<SledBackend> {
    let log = match Log::open(SledBackend::open(dir).unwrap(), None, Arc::new(SystemClock)) {
        Ok(log) => log,
        Err(StoreError::NotALedger { .. }) => Log::create(
            SledBackend::open(dir).unwrap(),
            HashAlgorithm::Sha256,
            Arc::new(SystemClock),
        )
        .unwrap(),
        Err(e) => panic!("{e}"),
    };
    Engine::open_with(
        log,
        Arc::new(SystemClock),
        EngineOptions {
            snapshot_interval_events: 50,
            // Every 50 events, however long the ledger: kills fall among checkpoints.
            checkpoint_spacing_divisor: 0,
            ..EngineOptions::default()
        },
    )
    .unwrap()
}

fn setup(engine: &Engine<SledBackend>) {
    let cash = Amount::parse("500000.00").unwrap();
    let commands = vec![
        Command::RegisterUnit {
            unit: UnitCode::new("FJ").unwrap(),
            name: "福建省".into(),
            level: UnitLevel::Province,
            parent: None,
        },
        Command::OpenFund {
            fund: FundId::new("HP-1").unwrap(),
            unit: UnitCode::new("FJ").unwrap(),
            programme: Programme::HappinessProject,
            name: "幸福工程".into(),
            fiscal_year: Some(2021),
            approval_threshold: None,
            insurance_model: None,
        },
        Command::CommitAppropriation {
            fund: FundId::new("HP-1").unwrap(),
            tier: FundingTier::City,
            amount: cash,
            reference: None,
        },
        Command::ReceiveAppropriation {
            fund: FundId::new("HP-1").unwrap(),
            tier: FundingTier::City,
            amount: cash,
            reference: None,
        },
    ];
    for (i, command) in commands.into_iter().enumerate() {
        engine
            .submit(submission(&format!("setup-{i}"), command))
            .unwrap();
    }
    for b in 0..100 {
        engine
            .submit(submission(
                &format!("register-{b}"),
                Command::RegisterBeneficiary {
                    beneficiary: BeneficiaryId::new(format!("M{b:03}")).unwrap(),
                    unit: UnitCode::new("FJ").unwrap(),
                    kind: BeneficiaryKind::Person,
                    categories: Default::default(),
                },
            ))
            .unwrap();
    }
}

#[test]
fn engine_crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let engine = Arc::new(open(&dir));
    if engine.log().unwrap().head().next_position == 0 {
        setup(&engine);
        println!("READY");
    }
    let run = std::process::id();
    std::thread::scope(|scope| {
        for t in 0..8u32 {
            let engine = Arc::clone(&engine);
            scope.spawn(move || {
                for i in 0u32.. {
                    let id = format!("r{run}-t{t}-{i}");
                    let accepted = engine
                        .submit(submission(&id, grant((t * 7 + i) as usize % 100)))
                        .unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ACK {} {id}", accepted.first_position).unwrap();
                    out.flush().unwrap();
                }
            });
        }
    });
}

#[test]
fn the_committed_model_survives_sigkill_and_equals_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acknowledged: Vec<(u64, String)> = Vec::new();
    for kill in 0..20u64 {
        let mut child = Process::new(&exe)
            .args([
                "--exact",
                "engine_crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (first_ack, got_first_ack) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut acks = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("ACK ") {
                    if acks.is_empty() {
                        let _ = first_ack.send(());
                    }
                    let (position, id) = rest.split_once(' ').unwrap();
                    acks.push((position.parse::<u64>().unwrap(), id.to_string()));
                }
            }
            acks
        });
        let _ = got_first_ack.recv_timeout(Duration::from_secs(60));
        // Pseudo-random moments without a dependency: spread over 0..120 ms.
        std::thread::sleep(Duration::from_millis((kill * 37 + 11) % 120));
        child.kill().unwrap();
        child.wait().unwrap();
        let acks = reader.join().unwrap();
        assert!(
            !acks.is_empty(),
            "kill {kill}: the child acknowledged nothing"
        );
        acknowledged.extend(acks);

        let engine = open(dir.path().to_str().unwrap());
        assert!(
            engine.log().unwrap().verify().unwrap().is_intact(),
            "kill {kill}"
        );
        let head = engine.log().unwrap().head().next_position;
        let rebuilt = engine.model_at_position(head).unwrap();
        // Projections resume from their checkpoints (every 50 events, so a kill often
        // falls between the log's commit and a checkpoint) and must equal a rebuild.
        let resumed = engine
            .projections_after(
                head,
                Duration::from_secs(30),
                ledger_engine::Projections::clone,
            )
            .unwrap();
        assert!(
            resumed == engine.projections_at_position(head).unwrap(),
            "kill {kill}: projections differ from a rebuild"
        );
        engine.read(|m| {
            assert_eq!(m.next_position(), head, "kill {kill}");
            assert_eq!(
                m.state(),
                rebuilt.state(),
                "kill {kill}: the reopened model differs from a rebuild"
            );
            let balance = m
                .state()
                .fund_balance(&FundId::new("HP-1").unwrap())
                .unwrap();
            assert!(balance.available >= Money::ZERO);
        });
        for (position, id) in acknowledged.iter().rev().take(200) {
            let record = &engine.log().unwrap().read_all(*position, 1).unwrap()[0];
            assert_eq!(record.command_id.as_str(), id, "kill {kill}");
        }
        // A retry of the last acknowledged command is recognised, not paid again.
        let (position, id) = acknowledged.last().unwrap();
        let parts: Vec<&str> = id.split('-').collect();
        let t: usize = parts[1][1..].parse().unwrap();
        let i: usize = parts[2].parse().unwrap();
        let retry = engine
            .submit(submission(id, grant((t * 7 + i) % 100)))
            .unwrap();
        assert_eq!(
            (retry.first_position, retry.duplicate),
            (*position, true),
            "kill {kill}"
        );
    }
}
