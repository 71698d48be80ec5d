//! Measures how fast each projection folds a synthetic province-scale log, and what its state costs, in release mode.
//!
//! Run: `cargo run --release -p ledger-projections --example rebuild -- 1000000 [name]`
//! (with a projection's `NAME` to measure only that one).
//! The log is made by the domain's `decide` and `evolve` (so it is a log the engine
//! could have written): units, a city with ten counties, one fund per programme per
//! county, 50,000 beneficiaries, then a mix of loans and repayments, bursaries, housing
//! instalments, grants, condolence payments, insurer-paid claims, premiums, receipts
//! and reversals, each with a 22-byte memo. Memory is the heap a projection still holds
//! after its fold, counted by a global allocator that wraps the system's.
// The counting allocator must implement `GlobalAlloc`, an unsafe trait; it only adds
// to counters around the system allocator's own calls.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use chrono::{Days, NaiveDate};
use ledger_domain::{
    decide, evolve, Amount, AwardId, BeneficiaryCategory, BeneficiaryId, BeneficiaryKind,
    BursaryInstalment, CampaignId, ClaimPayer, ClaimPayment, Command, CommandContext,
    CondolenceForm, CondolencePayment, FundId, FundingTier, GrantModality, GrantPayment,
    InsuranceModel, LoanDisbursement, LoanId, PolicyLine, PremiumPayment, Programme, Recorded,
    State, TierSplit, UnitCode, UnitLevel, UserId,
};
use ledger_projections::{
    AuditTrail, EventRecord, FundLedger, InsuranceReports, LoanReports, ProgrammeReports,
    Projection,
};

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the contract;
// the counter is only arithmetic on the sizes passed in.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same layout, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
        ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const COUNTIES: usize = 10;
const BENEFICIARIES: usize = 50_000;

struct Maker {
    state: State,
    log: Vec<EventRecord>,
    commands: u64,
    today: NaiveDate,
}

impl Maker {
    fn run(&mut self, command: Command) -> bool {
        self.commands += 1;
        let ctx = CommandContext {
            actor: UserId::new(format!("clerk-{}", self.commands % 7)).unwrap(),
            effective_date: self.today,
            recorded_at: self.today.and_hms_opt(10, 0, 0).unwrap(),
            command_id: format!("cmd-{:012}", self.commands),
        };
        let Ok(events) = decide(&self.state, &command, &ctx) else {
            return false;
        };
        for event in events {
            let recorded = Recorded {
                position: self.log.len() as u64,
                command_id: ctx.command_id.as_str().into(),
                actor: ctx.actor.clone(),
                effective_date: ctx.effective_date,
                recorded_at: ctx.recorded_at,
                event,
            };
            evolve(&mut self.state, &recorded);
            let mut hash = [7u8; 32];
            hash[..8].copy_from_slice(&recorded.position.to_be_bytes());
            self.log.push(EventRecord {
                recorded,
                memo: "receipt 2021-000123 ok".into(),
                hash,
                symbols: Default::default(),
            });
        }
        true
    }

    fn must(&mut self, command: Command) {
        let text = format!("{command:?}");
        assert!(self.run(command), "setup failed: {text}");
    }
}

fn yuan(y: i64) -> Amount {
    Amount::from_yuan(y).unwrap()
}

fn fund(county: usize, what: &str) -> FundId {
    FundId::new(format!("C{county}-{what}")).unwrap()
}

fn beneficiary(i: usize) -> BeneficiaryId {
    BeneficiaryId::new(format!("B{i:06}")).unwrap()
}

fn county(i: usize) -> usize {
    i % COUNTIES
}

fn make_log(target: usize) -> Vec<EventRecord> {
    let start = NaiveDate::from_ymd_opt(2015, 1, 1).unwrap();
    let mut m = Maker {
        state: State::new(),
        log: Vec::new(),
        commands: 0,
        today: start,
    };
    m.must(Command::RegisterUnit {
        unit: UnitCode::new("FJ").unwrap(),
        name: "Fujian".into(),
        level: UnitLevel::Province,
        parent: None,
    });
    m.must(Command::RegisterUnit {
        unit: UnitCode::new("FJ-SM").unwrap(),
        name: "Sanming".into(),
        level: UnitLevel::City,
        parent: Some(UnitCode::new("FJ").unwrap()),
    });
    let programmes = [
        ("REV", Programme::RevolvingFund, None),
        ("HP", Programme::HappinessProject, None),
        ("BURS", Programme::Bursary, None),
        ("HOUSE", Programme::Housing, None),
        (
            "INS",
            Programme::Insurance,
            Some(InsuranceModel::InsurerUnderwritten),
        ),
        ("COND", Programme::Condolence, None),
    ];
    for c in 0..COUNTIES {
        let code = UnitCode::new(format!("FJ-SM-{c:02}")).unwrap();
        m.must(Command::RegisterUnit {
            unit: code.clone(),
            name: format!("county {c}"),
            level: UnitLevel::County,
            parent: Some(UnitCode::new("FJ-SM").unwrap()),
        });
        for (what, programme, model) in programmes {
            m.must(Command::OpenFund {
                fund: fund(c, what),
                unit: code.clone(),
                programme,
                name: what.into(),
                fiscal_year: None,
                approval_threshold: None,
                insurance_model: model,
            });
            for tier in [
                FundingTier::Province,
                FundingTier::City,
                FundingTier::County,
            ] {
                for command in [
                    Command::CommitAppropriation {
                        fund: fund(c, what),
                        tier,
                        amount: yuan(5_000_000_000),
                        reference: None,
                    },
                    Command::ReceiveAppropriation {
                        fund: fund(c, what),
                        tier,
                        amount: yuan(5_000_000_000),
                        reference: None,
                    },
                ] {
                    m.must(command);
                }
            }
        }
        m.must(Command::OpenCampaign {
            campaign: CampaignId::new(format!("C{c}-SPRING")).unwrap(),
            fund: fund(c, "COND"),
            name: "Spring".into(),
        });
    }
    for i in 0..BENEFICIARIES {
        let mut categories = BTreeSet::from([BeneficiaryCategory::PoorHousehold]);
        if i % 5 == 0 {
            categories.insert(BeneficiaryCategory::Student);
        }
        m.must(Command::RegisterBeneficiary {
            beneficiary: beneficiary(i),
            unit: UnitCode::new(format!("FJ-SM-{:02}", county(i))).unwrap(),
            kind: if i % 5 == 0 {
                BeneficiaryKind::Person
            } else {
                BeneficiaryKind::Household
            },
            categories,
        });
    }
    let city = FundingTier::City;
    let mut loans: Vec<(LoanId, usize)> = Vec::new();
    let mut step = 0usize;
    while m.log.len() < target {
        step += 1;
        if step % 2_000 == 0 {
            m.today = m.today + Days::new(1);
        }
        let b = (step * 7_919) % BENEFICIARIES;
        let c = county(b);
        let kind = step % 20;
        match kind {
            0 | 1 => {
                let id = LoanId::new(format!("L{step}")).unwrap();
                if m.run(Command::DisburseLoan(LoanDisbursement {
                    loan: id.clone(),
                    fund: fund(c, if step % 3 == 0 { "HP" } else { "REV" }),
                    beneficiary: beneficiary(b),
                    tier: city,
                    principal: yuan(12_000),
                    term_months: 12,
                    grace_months: 0,
                    annual_rate_bp: 0,
                    batch: Some("第十七批".into()),
                    migrant: step % 9 == 0,
                })) {
                    loans.push((id, 0));
                }
            }
            2..=5 if !loans.is_empty() => {
                let pick = (step * 31) % loans.len();
                let (id, paid) = &mut loans[pick];
                if *paid < 12
                    && m.run(Command::RepayLoan {
                        loan: id.clone(),
                        principal: yuan(1_000),
                        interest: Amount::ZERO,
                    })
                {
                    *paid += 1;
                }
            }
            6 | 7 => {
                let award = AwardId::new(format!("A{step}")).unwrap();
                m.run(Command::AwardBursary {
                    award: award.clone(),
                    fund: fund(c, "BURS"),
                    student: beneficiary(b),
                    academic_year: 2015 + i32::try_from(step % 8).unwrap(),
                    tier: city,
                    amount: yuan(3_000),
                    years: 1,
                    supplement_reason: Some("synthetic".into()),
                });
                m.run(Command::PayBursaryInstalment(BursaryInstalment {
                    award,
                    amount: yuan(3_000),
                }));
            }
            8 | 9 => {
                m.run(Command::PayGrant(GrantPayment {
                    fund: fund(c, "HP"),
                    beneficiary: beneficiary(b),
                    modality: GrantModality::Relief,
                    batch: None,
                    amount: yuan(500),
                    shares: TierSplit::of(&[(FundingTier::Province, yuan(200)), (city, yuan(300))])
                        .unwrap(),
                }));
            }
            10 | 11 => {
                m.run(Command::PayCondolence(CondolencePayment {
                    campaign: CampaignId::new(format!("C{c}-SPRING")).unwrap(),
                    beneficiary: beneficiary(b),
                    category: BeneficiaryCategory::PoorHousehold,
                    form: CondolenceForm::Cash,
                    amount: yuan(570),
                    shares: TierSplit::single(city, yuan(570)).unwrap(),
                }));
            }
            12..=16 => {
                m.run(Command::PayClaim(ClaimPayment {
                    fund: fund(c, "INS"),
                    line: PolicyLine::HouseholdAccident,
                    beneficiary: beneficiary(b),
                    amount: yuan(5_730),
                    payer: ClaimPayer::Insurer,
                }));
            }
            17 => {
                m.run(Command::CollectPremium(PremiumPayment {
                    fund: fund(c, "INS"),
                    line: PolicyLine::HouseholdAccident,
                    coverage_start: m.today,
                    coverage_end: m.today + Days::new(364),
                    households: 1_000,
                    persons: 3_000,
                    tax_inclusive: yuan(100_000),
                    tax_exclusive: yuan(94_000),
                    shares: TierSplit::of(&[
                        (city, yuan(90_000)),
                        (FundingTier::HouseholdContribution, yuan(10_000)),
                    ])
                    .unwrap(),
                }));
            }
            18 => {
                m.run(Command::CommitAppropriation {
                    fund: fund(c, "COND"),
                    tier: FundingTier::Donation,
                    amount: yuan(1_000),
                    reference: Some("donation".into()),
                });
            }
            _ => {
                // Reverse a recent grant or condolence payment now and then.
                let position = m.log.len().saturating_sub(5) as u64;
                m.run(Command::ReverseEvent {
                    position,
                    reason: "correction".into(),
                });
            }
        }
    }
    m.log
}

/// CPU time of this thread (user + system), from /proc: unlike wall time it does not
/// count the time other processes held the core. Clock ticks are 1/100 s on Linux.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// Folds the log into a fresh projection; returns events per second, the heap bytes the
/// projection holds, its bincode size, and the projection itself.
fn measure<P: Projection + 'static>(
    log: &[EventRecord],
) -> (f64, usize, usize, Box<dyn std::any::Any>) {
    // The machine is shared: the best of three folds is the figure least disturbed by
    // other work. Memory is measured on the first.
    let before = ALLOCATED.load(Ordering::Relaxed);
    let started = Instant::now();
    let cpu_started = cpu_seconds();
    let mut projection = P::default();
    for record in log {
        projection.apply(record);
    }
    let mut seconds = started.elapsed().as_secs_f64();
    let mut cpu = cpu_seconds().zip(cpu_started).map(|(b, a)| b - a);
    let held = ALLOCATED.load(Ordering::Relaxed) - before;
    for _ in 0..2 {
        let started = Instant::now();
        let cpu_started = cpu_seconds();
        let mut again = P::default();
        for record in log {
            again.apply(record);
        }
        seconds = seconds.min(started.elapsed().as_secs_f64());
        let this_cpu = cpu_seconds().zip(cpu_started).map(|(b, a)| b - a);
        cpu = match (cpu, this_cpu) {
            (Some(a), Some(b)) => Some(a.min(b)),
            _ => None,
        };
        assert!(again == projection, "two folds of the same log differ");
    }
    if let Some(cpu) = cpu {
        eprintln!(
            "  {}: {:.0} events per CPU second",
            P::NAME,
            log.len() as f64 / cpu.max(0.01)
        );
    }
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(&projection, config)
        .unwrap()
        .len();
    (
        log.len() as f64 / seconds,
        held,
        bytes,
        Box::new(projection),
    )
}

fn main() {
    let target: usize = std::env::args()
        .nth(1)
        .map_or(1_000_000, |a| a.parse().expect("a number of events"));
    let started = Instant::now();
    let log = make_log(target);
    println!(
        "made {} events in {:.1} s",
        log.len(),
        started.elapsed().as_secs_f64()
    );
    let mut total_seconds = 0.0;
    let n = log.len() as f64;
    type Measure = fn(&[EventRecord]) -> (f64, usize, usize, Box<dyn std::any::Any>);
    let rows: [(&str, Measure); 5] = [
        (FundLedger::NAME, measure::<FundLedger>),
        (ProgrammeReports::NAME, measure::<ProgrammeReports>),
        (InsuranceReports::NAME, measure::<InsuranceReports>),
        (LoanReports::NAME, measure::<LoanReports>),
        (AuditTrail::NAME, measure::<AuditTrail>),
    ];
    println!("| projection | events/s | heap bytes/event | bincode bytes/event |");
    println!("|---|---|---|---|");
    let only = std::env::args().nth(2);
    let mut kept = Vec::new();
    for (name, run) in rows {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let (rate, held, bytes, projection) = run(&log);
        kept.push(projection);
        total_seconds += n / rate;
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} |",
            rate,
            held as f64 / n,
            bytes as f64 / n
        );
    }
    println!(
        "| all five, one after another | {:.0} | | |",
        n / total_seconds
    );
    drop(kept);
    queries(&log);
}

/// Times each query on the whole log: the median of 21 runs after a warm-up call.
fn queries(log: &[EventRecord]) {
    use ledger_projections::{DateRange, PageRequest};
    let mut ledger = FundLedger::default();
    let mut programmes = ProgrammeReports::default();
    let mut insurance = InsuranceReports::default();
    let mut loans = LoanReports::default();
    let mut audit = AuditTrail::default();
    for record in log {
        ledger.apply(record);
        programmes.apply(record);
        insurance.apply(record);
        loans.apply(record);
        audit.apply(record);
    }
    let first = log.first().unwrap().recorded.effective_date;
    let last = log.last().unwrap().recorded.effective_date;
    let middle = log[log.len() / 2].recorded.effective_date;
    let year = DateRange::new(middle - Days::new(364), middle).unwrap();
    let month = DateRange::new(middle - Days::new(30), middle).unwrap();
    let city = UnitCode::new("FJ-SM").unwrap();
    // The synthetic mix lends from counties 0 and 9 only: C0-REV is the busiest fund.
    let big = fund(0, "REV");
    let time = |name: &str, f: &mut dyn FnMut()| {
        f();
        let mut runs: Vec<f64> = (0..21)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed().as_secs_f64() * 1_000.0
            })
            .collect();
        runs.sort_by(f64::total_cmp);
        println!("| {name} | {:.3} ms |", runs[10]);
    };
    let started = Instant::now();
    let before = ALLOCATED.load(Ordering::Relaxed);
    audit.build_indexes();
    let index_bytes = ALLOCATED.load(Ordering::Relaxed) - before;
    println!(
        "\naudit indexes built in {:.0} ms, {:.0} heap bytes/event; effective dates {first} to {last}; fund {big} has {} movements\n",
        started.elapsed().as_secs_f64() * 1_000.0,
        index_bytes as f64 / log.len() as f64,
        ledger.movement_count(&big).unwrap()
    );
    println!("| query | median |");
    println!("|---|---|");
    time("fund balance now", &mut || {
        ledger.balance(&big).unwrap();
    });
    time("fund balance as of a past date", &mut || {
        ledger.balance_as_of(&big, middle).unwrap();
    });
    time("fund statement, one month, first page", &mut || {
        ledger
            .statement(&big, month, PageRequest::first(), log)
            .unwrap();
    });
    time("fund statement, one year, a page deep in", &mut || {
        ledger
            .statement(&big, year, PageRequest::new(10_000, 1_000).unwrap(), log)
            .unwrap();
    });
    time("fund balance at a log position", &mut || {
        ledger.balance_at_position(&big, 500_000).unwrap();
    });
    time("programme report, city, one year", &mut || {
        programmes.report(&city, year).unwrap();
    });
    time("insurance report, city, one year", &mut || {
        insurance
            .report(&city, PolicyLine::HouseholdAccident, year)
            .unwrap();
    });
    time("loan report, city, as of a date", &mut || {
        loans.unit_report(&city, middle).unwrap();
    });
    time("audit trail, one beneficiary", &mut || {
        audit
            .by_beneficiary(&beneficiary(4_242), None, PageRequest::first(), log)
            .unwrap();
    });
    time("audit trail, one fund, a page deep in", &mut || {
        audit
            .by_fund(&big, None, PageRequest::new(10_000, 1_000).unwrap(), log)
            .unwrap();
    });
}
