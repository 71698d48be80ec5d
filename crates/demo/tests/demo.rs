//! The demo plan is accepted by the real domain without a single rejection, is a pure
//! function of its configuration, loads idempotently, and gives the read models
//! something to show in every programme: each test generates a plan, loads it into an
//! engine on the in-memory backend (recording on 2026-01-10, after every business
//! date) and reads the figures back through the engine's state and projections.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use ledger_demo::{generate, load, ActorRole, DemoAction, DemoConfig, DemoPlan, Scale, YearSpan};
use ledger_domain::{Command, Event, PolicyLine, Programme, UnitCode};
use ledger_engine::{recorded_event, Engine};
use ledger_projections::DateRange;
use ledger_store::{FixedClock, HashAlgorithm, Log, MemoryBackend};

/// 2026-01-10T00:00:00Z.
const RECORDED_MS: i64 = 1_768_003_200_000;

fn engine() -> Engine<MemoryBackend> {
    let clock = Arc::new(FixedClock::new(RECORDED_MS));
    let log = Log::create(MemoryBackend::new(), HashAlgorithm::Sha256, clock.clone()).unwrap();
    Engine::open(log, clock).unwrap()
}

fn config(seed: u64, percent: u32) -> DemoConfig {
    DemoConfig {
        seed,
        scale: Scale::percent(percent).unwrap(),
        years: YearSpan::DEFAULT,
    }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Every event of the log, decoded.
fn events(engine: &Engine<MemoryBackend>) -> Vec<Event> {
    let head = engine.log().unwrap().head().next_position;
    let mut out = Vec::new();
    while (out.len() as u64) < head {
        let page = engine
            .log()
            .unwrap()
            .read_all(out.len() as u64, 10_000)
            .unwrap();
        for record in &page {
            out.push(recorded_event(record).unwrap().event);
        }
    }
    out
}

fn percent_bp(rate: Option<ledger_domain::Percent>) -> i128 {
    rate.expect("a defined rate").basis_points()
}

#[test]
fn a_small_plan_loads_without_a_rejection_and_every_programme_has_figures() {
    let plan = generate(&config(7, 10));
    let engine = engine();
    let mut reported = 0;
    let summary = load(&engine, &plan, |done, total| {
        assert!(done <= total);
        reported = done;
    })
    .unwrap();
    assert_eq!(reported, plan.steps().len() as u64);
    assert_eq!(summary.commands, plan.steps().len() as u64);
    assert_eq!(summary.duplicates, 0);
    assert_eq!(summary.events_appended, plan.expected_events());
    assert_eq!(summary.head, plan.expected_events());
    assert!(engine.log().unwrap().verify().unwrap().is_intact());

    // Every programme has commands and events.
    for programme in Programme::ALL {
        let counts = summary.by_programme[&programme];
        assert!(counts.events > 0, "{programme} has events");
    }

    // Requests left pending, as the plan says, and at least one.
    let pending = engine.read(|m| m.state().pending_requests().count());
    assert_eq!(
        u32::try_from(pending).unwrap(),
        plan.pending_requests_left()
    );
    assert!(pending >= 1);

    let all = events(&engine);
    let count = |pick: fn(&Event) -> bool| all.iter().filter(|e| pick(e)).count();
    assert!(count(|e| matches!(e, Event::EventReversed { .. })) >= 3);
    assert!(count(|e| matches!(e, Event::PaymentApproved { .. })) >= 1);
    assert!(count(|e| matches!(e, Event::PaymentRejected { .. })) >= 1);
    assert_eq!(
        count(|e| matches!(e, Event::PaymentRequestExpired { .. })),
        1
    );
    assert!(count(|e| matches!(e, Event::LoanWrittenOff { .. })) >= 1);
    assert!(count(|e| matches!(e, Event::LoanRescheduled { .. })) >= 1);
    assert!(count(|e| matches!(e, Event::PeriodClosed { .. })) >= 2);
    assert!(count(|e| matches!(e, Event::ClaimsReserveEstimated { .. })) >= 1);
    assert!(count(|e| matches!(e, Event::FollowUpVisitRecorded { .. })) >= 1);

    let province = UnitCode::new("FJ").unwrap();
    let head = summary.head;
    engine
        .projections_after(head, Duration::from_secs(30), |p| {
            let range = DateRange::new(day(2021, 1, 1), day(2025, 12, 31)).unwrap();
            let report = p.programmes.report(&province, range).unwrap();
            assert_eq!(report.rows.len(), 6, "all six programmes");
            for row in &report.rows {
                assert!(
                    (!row.disbursed.is_negative() && !row.disbursed.is_zero()),
                    "{} disbursed",
                    row.programme
                );
                assert!(row.helped.beneficiaries > 0, "{} helped", row.programme);
            }

            let loans = p.loans.unit_report(&province, day(2025, 12, 31)).unwrap();
            let par30 = percent_bp(loans.par30);
            assert!((1..3_000).contains(&par30), "PAR30 {par30} bp");
            assert!(!loans.written_off.is_zero());
            let rounds = loans.revolving_rounds.unwrap();
            assert!(rounds > rust_decimal_one(), "revolving rounds {rounds}");

            for year in 2021..=2025 {
                let insurance = p
                    .insurance
                    .report(
                        &province,
                        PolicyLine::HouseholdAccident,
                        DateRange::year(year).unwrap(),
                    )
                    .unwrap();
                let ratio = percent_bp(insurance.figures.simple_loss_ratio.value);
                assert!(
                    (5_500..=8_500).contains(&ratio),
                    "{year} loss ratio {ratio} bp"
                );
                if year > 2021 {
                    let growth = percent_bp(insurance.premium_growth.value);
                    assert!((0..=2_000).contains(&growth), "{year} growth {growth} bp");
                }
            }
        })
        .unwrap();
}

fn rust_decimal_one() -> rust_decimal::Decimal {
    rust_decimal::Decimal::ONE
}

#[test]
fn loading_the_same_plan_twice_changes_nothing() {
    let plan = generate(&config(11, 5));
    let engine = engine();
    let first = load(&engine, &plan, |_, _| {}).unwrap();
    let head = engine.log().unwrap().head();
    let second = load(&engine, &plan, |_, _| {}).unwrap();
    assert_eq!(engine.log().unwrap().head(), head, "nothing appended");
    assert_eq!(second.events_appended, 0);
    assert_eq!(second.duplicates, second.commands);
    assert_eq!(second.events, first.events);
    assert_eq!(second.by_programme, first.by_programme);
    assert!(engine.log().unwrap().verify().unwrap().is_intact());
}

#[test]
fn the_plan_is_a_pure_function_of_its_configuration() {
    let a = generate(&config(1, 5));
    let b = generate(&config(1, 5));
    assert!(a == b, "the same seed gives the same plan");
    let c = generate(&config(2, 5));
    assert!(a != c, "another seed gives another plan");
    assert_eq!(a.command_id(3), "demo-1-3");
}

/// The plan's own promises: dates never decrease, references point backwards to steps
/// of the right kind, actors are listed, approvers never approve their own requests.
fn check_shape(plan: &DemoPlan) {
    let steps = plan.steps();
    let actors: BTreeSet<_> = plan.actors().iter().map(|a| a.id.clone()).collect();
    for pair in steps.windows(2) {
        assert!(pair[0].effective_date <= pair[1].effective_date);
    }
    assert!(plan.last_effective_date().unwrap() <= day(2025, 12, 31));
    for (i, step) in steps.iter().enumerate() {
        assert!(actors.contains(&step.actor), "{} is listed", step.actor);
        if let Some(target) = step.action.refers_to() {
            assert!(target < i);
            if matches!(step.action, DemoAction::Approve { .. }) {
                assert_ne!(steps[target].actor, step.actor, "no self-approval");
                let role = plan
                    .actors()
                    .iter()
                    .find(|a| a.id == step.actor)
                    .unwrap()
                    .role;
                assert_eq!(role, ActorRole::Approver);
            }
        }
        // No personal information: beneficiaries are opaque ids, memos carry no long
        // digit runs (ID-card, phone or bank numbers).
        if let DemoAction::Command(Command::RegisterBeneficiary { beneficiary, .. }) = &step.action
        {
            let id = beneficiary.as_str();
            assert!(id.starts_with("b-") && id.len() == 8, "{id}");
        }
        let longest_digits = step
            .memo
            .split(|c: char| !c.is_ascii_digit())
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(longest_digits < 11, "memo {:?}", step.memo);
    }
}

#[test]
fn the_default_plan_has_tens_of_thousands_of_events_and_loads_them_all() {
    let started = Instant::now();
    let plan = generate(&DemoConfig::default());
    let generated = started.elapsed();
    check_shape(&plan);
    let expected = plan.expected_events();
    assert!(
        (30_000..=60_000).contains(&expected),
        "{expected} events at the default scale"
    );
    let engine = engine();
    let loading = Instant::now();
    let summary = load(&engine, &plan, |_, _| {}).unwrap();
    let loaded = loading.elapsed();
    assert_eq!(summary.events_appended, expected);
    eprintln!(
        "default demo: {} steps, {expected} events; generated in {generated:?}, loaded in {loaded:?} ({} events/s); by programme {:?}",
        plan.steps().len(),
        u128::from(expected) * 1_000 / loaded.as_millis().max(1),
        summary.by_programme
    );
}
