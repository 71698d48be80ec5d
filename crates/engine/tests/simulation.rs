//! Deterministic simulation: a seeded random workload of commands, retries, reused
//! ids, approvals, reversals, expiries, period closes and reads, driven through the
//! engine over the fault-injecting in-memory store, with injected write and flush
//! failures (some of which reach the disk anyway, so the caller's error is a lost
//! acknowledgement) and simulated crashes (the process state is dropped and the store
//! loses everything not flushed). After every step the invariants are checked:
//!
//! - every acknowledged command is in the log exactly once, at the positions answered;
//!   a retry answers the same positions and a reused id with another command is refused;
//! - a command whose outcome was unknown (an IO error) is, after recovery, either in
//!   the log once or not at all, and retrying it settles which;
//! - positions are dense and the chain verifies;
//! - every event's postings balance, and no fund tier's available cash is negative;
//! - a rejected command appends nothing;
//! - the projections equal a rebuild from position 0, and the model equals a fold.
//!
//! A failure names its seed; `SIM_SEED=n cargo test -p ledger-engine --test
//! simulation` replays it. `SIM_SEEDS` sets how many seeds run (default 200); the soak
//! in docs/RELIABILITY.md runs thousands.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Days, NaiveDate};
use ledger_domain::ledger::is_balanced;
use ledger_domain::{
    Amount, BeneficiaryCategory, BeneficiaryId, BeneficiaryKind, Command, FundId, FundingTier,
    GrantModality, GrantPayment, LoanDisbursement, LoanId, Period, Programme, TierSplit, UnitCode,
    UnitLevel, UserId,
};
use ledger_engine::{Accepted, Engine, EngineError, Submission};
use ledger_store::{FaultPlan, FaultyBackend, FixedClock, HashAlgorithm, Log, MemoryBackend};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Backend = FaultyBackend<MemoryBackend>;

/// 2025-12-31 12:00 UTC: after every effective date the simulation uses.
const NOW_MS: i64 = 1_767_182_400_000;
const STEPS: usize = 150;
const HAPPINESS: &str = "FJ-SM-HP";
const REVOLVING: &str = "FJ-SM-REV";
const PEOPLE: u32 = 12;

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(NOW_MS))
}

fn fund(id: &str) -> FundId {
    FundId::new(id).unwrap()
}

fn unit(code: &str) -> UnitCode {
    UnitCode::new(code).unwrap()
}

fn person(n: u32) -> BeneficiaryId {
    BeneficiaryId::new(format!("b-{n:06}")).unwrap()
}

fn yuan(n: i64) -> Amount {
    Amount::from_yuan(n).unwrap()
}

/// What the simulation knows was acknowledged.
#[derive(Debug, Clone)]
struct Acked {
    submission: Submission,
    accepted: Accepted,
}

/// What happened across a run, to show the workload reaches every case.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    accepted: u64,
    rejected: u64,
    retries: u64,
    crashes: u64,
    /// Write or flush failures injected (each followed by a crash).
    io_faults: u64,
    /// IO errors whose command had reached the disk (lost acknowledgements).
    landed_anyway: u64,
    /// IO errors whose command was lost with the crash.
    lost: u64,
}

struct Sim {
    stats: Stats,
    seed: u64,
    rng: StdRng,
    backend: MemoryBackend,
    plan: Arc<FaultPlan>,
    engine: Option<Engine<Backend>>,
    acked: BTreeMap<String, Acked>,
    /// Commands answered with an IO error: in the log once, or not at all.
    uncertain: Vec<Submission>,
    next_id: u64,
    today: NaiveDate,
    loans: Vec<LoanId>,
    checked_up_to: u64,
    log: Vec<String>,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let backend = MemoryBackend::new();
        let plan = FaultPlan::new();
        let log = Log::create(
            FaultyBackend::new(backend.clone(), Arc::clone(&plan)),
            HashAlgorithm::Sha256,
            clock(),
        )
        .unwrap();
        let engine = Engine::open(log, clock()).unwrap();
        Sim {
            stats: Stats::default(),
            seed,
            rng: StdRng::seed_from_u64(seed),
            backend,
            plan,
            engine: Some(engine),
            acked: BTreeMap::new(),
            uncertain: Vec::new(),
            next_id: 0,
            today: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
            loans: Vec::new(),
            checked_up_to: 0,
            log: Vec::new(),
        }
    }

    fn engine(&self) -> &Engine<Backend> {
        self.engine.as_ref().expect("the engine is open")
    }

    fn fail(&self, what: &str) -> ! {
        let recent: Vec<&String> = self.log.iter().rev().take(12).collect();
        panic!(
            "seed {}: {what}\nlast steps (newest first): {recent:#?}\nreplay with SIM_SEED={}",
            self.seed, self.seed
        );
    }

    fn submission(&mut self, actor: &str, command: Command) -> Submission {
        self.next_id += 1;
        Submission {
            command_id: format!("sim-{}", self.next_id),
            command,
            actor: UserId::new(actor).unwrap(),
            effective_date: self.today,
            memo: "模拟".to_string(),
        }
    }

    /// Submits and records the outcome in the simulation's knowledge.
    fn submit(&mut self, submission: Submission) -> Result<Accepted, EngineError> {
        let head = self.engine().log().unwrap().head().next_position;
        let result = self.engine().submit(submission.clone());
        self.log.push(format!(
            "{} {} -> {:?}",
            submission.command_id,
            submission.command.command_type(),
            result.as_ref().map_err(EngineError::code)
        ));
        match &result {
            Ok(a) if a.duplicate => self.stats.retries += 1,
            Ok(_) => self.stats.accepted += 1,
            Err(EngineError::Rejected(_)) => self.stats.rejected += 1,
            Err(_) => {}
        }
        match &result {
            Ok(accepted) => {
                if let Some(earlier) = self.acked.get(&submission.command_id) {
                    if !accepted.duplicate
                        || accepted.first_position != earlier.accepted.first_position
                    {
                        self.fail(&format!(
                            "a retry of {} answered {accepted:?}, first answered {:?}",
                            submission.command_id, earlier.accepted
                        ));
                    }
                } else {
                    self.acked.insert(
                        submission.command_id.clone(),
                        Acked {
                            submission,
                            accepted: *accepted,
                        },
                    );
                }
            }
            Err(EngineError::Rejected(_) | EngineError::CommandIdConflict { .. }) => {
                if self.engine().log().unwrap().head().next_position != head {
                    self.fail("a refused command appended events");
                }
            }
            Err(_) => self.uncertain.push(submission),
        }
        result
    }

    fn run(&mut self, actor: &str, command: Command) -> Result<Accepted, EngineError> {
        let submission = self.submission(actor, command);
        self.submit(submission)
    }

    fn setup(&mut self) {
        let setup = [
            Command::RegisterUnit {
                unit: unit("FJ"),
                name: "福建省".into(),
                level: UnitLevel::Province,
                parent: None,
            },
            Command::RegisterUnit {
                unit: unit("FJ-SM"),
                name: "三明市".into(),
                level: UnitLevel::City,
                parent: Some(unit("FJ")),
            },
            Command::OpenFund {
                fund: fund(HAPPINESS),
                unit: unit("FJ-SM"),
                programme: Programme::HappinessProject,
                name: "幸福工程".into(),
                fiscal_year: None,
                approval_threshold: Some(yuan(3_000)),
                insurance_model: None,
            },
            Command::OpenFund {
                fund: fund(REVOLVING),
                unit: unit("FJ-SM"),
                programme: Programme::RevolvingFund,
                name: "滚动资金".into(),
                fiscal_year: None,
                approval_threshold: None,
                insurance_model: None,
            },
        ];
        for command in setup {
            self.run("admin", command).unwrap();
        }
        for f in [HAPPINESS, REVOLVING] {
            for command in [
                Command::CommitAppropriation {
                    fund: fund(f),
                    tier: FundingTier::City,
                    amount: yuan(60_000),
                    reference: None,
                },
                Command::ReceiveAppropriation {
                    fund: fund(f),
                    tier: FundingTier::City,
                    amount: yuan(60_000),
                    reference: None,
                },
            ] {
                self.run("clerk-1", command).unwrap();
            }
        }
        for n in 0..PEOPLE {
            self.run(
                "clerk-1",
                Command::RegisterBeneficiary {
                    beneficiary: person(n),
                    unit: unit("FJ-SM"),
                    kind: BeneficiaryKind::Person,
                    categories: [BeneficiaryCategory::PoorHousehold].into(),
                },
            )
            .unwrap();
        }
    }

    /// One random command a clerk or checker would send.
    fn random_command(&mut self) -> (&'static str, Command) {
        let pick = self.rng.gen_range(0..100);
        let who = person(self.rng.gen_range(0..PEOPLE));
        match pick {
            0..=29 => {
                let amount = yuan(self.rng.gen_range(1..5_000));
                (
                    "clerk-1",
                    Command::PayGrant(GrantPayment {
                        fund: fund(HAPPINESS),
                        beneficiary: who,
                        modality: GrantModality::Relief,
                        batch: None,
                        amount,
                        shares: TierSplit::single(FundingTier::City, amount).unwrap(),
                    }),
                )
            }
            30..=44 => {
                let loan = LoanId::new(format!("L-{}", self.next_id + 1)).unwrap();
                self.loans.push(loan.clone());
                (
                    "clerk-1",
                    Command::DisburseLoan(LoanDisbursement {
                        loan,
                        fund: fund(REVOLVING),
                        beneficiary: who,
                        tier: FundingTier::City,
                        principal: yuan(self.rng.gen_range(1_000..20_000)),
                        term_months: self.rng.gen_range(1..24),
                        grace_months: 0,
                        annual_rate_bp: 0,
                        batch: None,
                        migrant: false,
                    }),
                )
            }
            45..=64 if !self.loans.is_empty() => {
                let loan = self.loans[self.rng.gen_range(0..self.loans.len())].clone();
                (
                    "clerk-1",
                    Command::RepayLoan {
                        loan,
                        principal: yuan(self.rng.gen_range(1..3_000)),
                        interest: yuan(0),
                    },
                )
            }
            65..=79 => {
                let pending: Vec<u64> = self
                    .engine()
                    .read(|m| m.state().pending_requests().map(|(r, _)| r).collect());
                let request = match pending.len() {
                    0 => self
                        .rng
                        .gen_range(0..self.engine().log().unwrap().head().next_position + 2),
                    n => pending[self.rng.gen_range(0..n)],
                };
                if self.rng.gen_bool(0.8) {
                    ("checker-1", Command::ApprovePayment { request })
                } else {
                    (
                        "checker-1",
                        Command::RejectPayment {
                            request,
                            reason: "单据不全".into(),
                        },
                    )
                }
            }
            80..=89 => {
                let head = self.engine().log().unwrap().head().next_position;
                (
                    "clerk-1",
                    Command::ReverseEvent {
                        position: self.rng.gen_range(0..head + 1),
                        reason: "录入错误".into(),
                    },
                )
            }
            90..=94 => ("checker-1", Command::ExpireRequests { as_of: self.today }),
            _ => {
                let earlier = self.today - Days::new(self.rng.gen_range(20..60));
                (
                    "admin",
                    Command::ClosePeriod {
                        unit: unit("FJ-SM"),
                        period: Period::Month {
                            year: chrono::Datelike::year(&earlier),
                            month: chrono::Datelike::month(&earlier),
                        },
                    },
                )
            }
        }
    }

    fn step(&mut self) {
        let roll = self.rng.gen_range(0..100);
        match roll {
            0..=3 => self.today = self.today + Days::new(self.rng.gen_range(1..10)),
            4..=9 if !self.acked.is_empty() => {
                // A client retrying: the same id and content answers the same positions.
                let n = self.rng.gen_range(0..self.acked.len());
                let earlier = self.acked.values().nth(n).unwrap().clone();
                match self.submit(earlier.submission.clone()) {
                    Ok(_) => {}
                    Err(e) => self.fail(&format!(
                        "a retry of {} failed: {e}",
                        earlier.submission.command_id
                    )),
                }
            }
            10..=12 if !self.acked.is_empty() => {
                // The same id with another command is refused.
                let n = self.rng.gen_range(0..self.acked.len());
                let mut other = self.acked.values().nth(n).unwrap().submission.clone();
                other.memo = format!("{} (edited)", other.memo);
                match self.submit(other) {
                    Err(EngineError::CommandIdConflict { .. }) => {}
                    other => self.fail(&format!("a reused id answered {other:?}")),
                }
            }
            13..=16 => {
                // The disk fails the next write or flush; half of the failed flushes
                // reach the disk anyway (a lost acknowledgement). Then the process dies.
                self.stats.io_faults += 1;
                let flush = self.rng.gen_bool(0.5);
                if flush {
                    self.plan.set_flush_lands_anyway(self.rng.gen_bool(0.5));
                    self.plan.fail_flush_in(1);
                } else {
                    self.plan.set_write_lands_anyway(self.rng.gen_bool(0.5));
                    self.plan.fail_write_in(1);
                }
                let (actor, command) = self.random_command();
                let _ = self.run(actor, command);
                self.crash_and_recover();
            }
            17..=19 => self.crash_and_recover(),
            20..=24 => self.read_as_of(),
            _ => {
                let (actor, command) = self.random_command();
                let _ = self.run(actor, command);
            }
        }
        self.check_cheap();
    }

    /// Drops the process (engine, caches, in-flight state), takes back whatever was
    /// not flushed, reopens from what was durable and settles the uncertain commands
    /// by retrying them.
    fn crash_and_recover(&mut self) {
        self.log.push("crash".into());
        self.stats.crashes += 1;
        self.plan.set_disk_full(true);
        drop(self.engine.take());
        self.backend.crash();
        self.plan.set_disk_full(false);
        self.plan.fail_write_in(u64::MAX / 2);
        self.plan.fail_flush_in(u64::MAX / 2);
        self.plan.set_write_lands_anyway(false);
        self.plan.set_flush_lands_anyway(false);
        let log = Log::open(
            FaultyBackend::new(self.backend.clone(), Arc::clone(&self.plan)),
            None,
            clock(),
        )
        .unwrap_or_else(|e| self.fail(&format!("reopening after a crash: {e}")));
        self.engine = Some(
            Engine::open(log, clock())
                .unwrap_or_else(|e| self.fail(&format!("opening the engine: {e}"))),
        );
        self.checked_up_to = 0;
        for submission in std::mem::take(&mut self.uncertain) {
            let span = self.engine().log().unwrap().command_span(
                &ledger_store::CommandId::new(submission.command_id.as_str()).unwrap(),
            );
            match (span, self.submit(submission.clone())) {
                (Some((first, _)), Ok(a)) if a.duplicate && a.first_position == first => {
                    self.stats.landed_anyway += 1;
                }
                (None, Ok(a)) if !a.duplicate => self.stats.lost += 1,
                (None, Err(EngineError::Rejected(_))) => self.stats.lost += 1,
                (span, answer) => self.fail(&format!(
                    "settling {}: in the log at {span:?}, the retry answered {answer:?}",
                    submission.command_id
                )),
            }
        }
        self.check_full();
    }

    /// A balance as of a past date equals the fold of the log's events dated up to it.
    fn read_as_of(&mut self) {
        let date = self.today - Days::new(self.rng.gen_range(0..40));
        let head = self.engine().log().unwrap().head().next_position;
        let answer = self
            .engine()
            .projections_after(head, Duration::from_secs(10), |p| {
                p.fund_ledger.balance_as_of(&fund(HAPPINESS), date)
            })
            .unwrap_or_else(|e| self.fail(&format!("reading: {e}")))
            .unwrap();
        let fold = self.engine().projections_at_position(head).unwrap();
        let expected = fold
            .fund_ledger
            .balance_as_of(&fund(HAPPINESS), date)
            .unwrap();
        if answer != expected {
            self.fail(&format!("the balance as of {date} differs from a rebuild"));
        }
    }

    /// After every step: acknowledged commands at their positions, dense positions,
    /// balanced postings, no negative cash.
    fn check_cheap(&mut self) {
        let log = self.engine().log().unwrap();
        let head = log.head().next_position;
        for (id, acked) in &self.acked {
            let span = log.command_span(&ledger_store::CommandId::new(id.as_str()).unwrap());
            let expected = (acked.accepted.count > 0)
                .then_some((acked.accepted.first_position, acked.accepted.count));
            if span != expected {
                self.fail(&format!(
                    "{id} was acknowledged as {:?} but the log has {span:?}",
                    acked.accepted
                ));
            }
        }
        let mut position = self.checked_up_to;
        while position < head {
            let page = log.read_all(position, 1_000).unwrap();
            for stored in &page {
                if stored.position != position {
                    self.fail(&format!(
                        "position {position} is followed by {}",
                        stored.position
                    ));
                }
                let recorded = ledger_engine::recorded_event(stored).unwrap();
                if !is_balanced(&recorded.event.postings()) {
                    self.fail(&format!("the postings at {position} do not balance"));
                }
                position += 1;
            }
            if page.is_empty() {
                self.fail(&format!(
                    "the log ends at {position}, before its head {head}"
                ));
            }
        }
        self.checked_up_to = head;
        let negative = self.engine().read(|m| {
            m.state().funds().any(|(_, f)| {
                FundingTier::ALL
                    .iter()
                    .any(|t| f.tier(*t).available().is_negative())
            })
        });
        if negative {
            self.fail("a fund tier's available cash is negative");
        }
    }

    /// After crashes and at the end: the chain verifies, the model equals a fold and
    /// the projections equal a rebuild.
    fn check_full(&mut self) {
        self.check_cheap();
        let engine = self.engine();
        let report = engine.log().unwrap().verify().unwrap();
        if !report.is_intact() {
            self.fail(&format!("the chain is broken: {:?}", report.first_break));
        }
        let head = engine.log().unwrap().head().next_position;
        let model = engine.read(|m| m.clone());
        let fold = engine.model_at_position(head).unwrap();
        if model.state() != fold.state() || model.next_position() != fold.next_position() {
            self.fail("the model differs from a fold of the log");
        }
        let live = engine
            .projections_after(
                head,
                Duration::from_secs(10),
                ledger_engine::Projections::clone,
            )
            .unwrap();
        if live != engine.projections_at_position(head).unwrap() {
            self.fail("the projections differ from a rebuild");
        }
    }
}

fn simulate(seed: u64) -> Stats {
    let mut sim = Sim::new(seed);
    sim.setup();
    for _ in 0..STEPS {
        sim.step();
    }
    sim.check_full();
    sim.stats
}

#[test]
fn seeded_workloads_with_faults_and_crashes_keep_every_invariant() {
    if let Ok(seed) = std::env::var("SIM_SEED") {
        simulate(seed.parse().expect("SIM_SEED is a number"));
        return;
    }
    let seeds: u64 = std::env::var("SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut total = Stats::default();
    for seed in 0..seeds {
        let s = simulate(seed);
        total.accepted += s.accepted;
        total.rejected += s.rejected;
        total.retries += s.retries;
        total.crashes += s.crashes;
        total.io_faults += s.io_faults;
        total.landed_anyway += s.landed_anyway;
        total.lost += s.lost;
    }
    eprintln!("{seeds} seeds: {total:?}");
    if seeds >= 50 {
        // The workload must reach every case it claims to test.
        assert!(
            total.accepted > 0 && total.rejected > 0 && total.retries > 0,
            "{total:?}"
        );
        assert!(
            total.crashes > 0 && total.io_faults > 0 && total.landed_anyway > 0 && total.lost > 0,
            "{total:?}"
        );
    }
}
