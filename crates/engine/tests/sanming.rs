//! The Sanming 2021 reference scenario (shared/domain.md) recorded through the
//! engine's public commands on the sled backend reproduces every published figure
//! exactly, and again after the engine is restarted from its log: revolving loans
//! ¥6,168,000.00 to 337 households; bursaries ¥2,031,600.00 to 642 students with each
//! tier's share; housing ¥920,000.00 to 16 households with each tier's share;
//! premiums ¥9,668,400.00 after tax, claims ¥7,070,500.92, simple loss ratio 73.13%,
//! +14.07% over ¥8,475,848.16 in 2020; condolence ¥224,600.00 to 394 households.

use std::collections::BTreeSet;
use std::sync::Arc;

use ledger_domain::rates::year_on_year_growth;
use ledger_domain::scenario::{self, sanming_2021};
use ledger_domain::{Event, FundId, FundingTier, Money, PolicyLine, Programme, State, UnitCode};
use ledger_engine::{Engine, Projections, Submission};
use ledger_projections::DateRange;
use ledger_store::{FixedClock, HashAlgorithm, Log, SledBackend};

fn money(text: &str) -> Money {
    ledger_domain::Amount::parse(text).unwrap().to_money()
}

fn fund(id: &str) -> FundId {
    FundId::new(id).unwrap()
}

fn open(dir: &std::path::Path, create: bool) -> Engine<SledBackend> {
    // Recorded on 2022-01-05, after every business date of the scenario.
    let clock = Arc::new(FixedClock::new(1_641_340_800_000));
    let backend = SledBackend::open(dir).unwrap();
    let log = if create {
        Log::create(backend, HashAlgorithm::Sm3, clock.clone()).unwrap()
    } else {
        Log::open(backend, None, clock.clone()).unwrap()
    };
    Engine::open(log, clock).unwrap()
}

/// Distinct beneficiaries of the events `pick` selects, read back from the log.
fn distinct(engine: &Engine<SledBackend>, pick: impl Fn(&Event) -> Option<String>) -> usize {
    let mut seen = BTreeSet::new();
    let mut from = 0;
    let head = engine.log().unwrap().head().next_position;
    while from < head {
        let page = engine.log().unwrap().read_all(from, 10_000).unwrap();
        for record in &page {
            let payload: (Option<[u8; 32]>, Event) =
                ledger_store::codec::decode_value(&record.payload).unwrap();
            if let Some(who) = pick(&payload.1) {
                seen.insert(who);
            }
        }
        from += page.len() as u64;
    }
    seen.len()
}

fn check_figures(state: &State) {
    let revolving = state
        .fund_balance(&fund(scenario::SANMING_REVOLVING))
        .unwrap();
    assert_eq!(revolving.lent, money("6168000.00"));
    assert_eq!(revolving.lent.wan(), "616.80万元");

    let bursary = state.fund(&fund(scenario::SANMING_BURSARY)).unwrap();
    assert_eq!(bursary.balance().disbursed, money("2031600.00"));
    assert_eq!(
        bursary.tier(FundingTier::Province).disbursed(),
        money("426600.00")
    );
    assert_eq!(
        bursary.tier(FundingTier::City).disbursed(),
        money("963000.00")
    );
    assert_eq!(
        bursary.tier(FundingTier::County).disbursed(),
        money("642000.00")
    );

    let housing = state.fund(&fund(scenario::SANMING_HOUSING)).unwrap();
    assert_eq!(housing.balance().disbursed, money("920000.00"));
    assert_eq!(
        housing.tier(FundingTier::Province).disbursed(),
        money("320000.00")
    );
    assert_eq!(
        housing.tier(FundingTier::City).disbursed(),
        money("280000.00")
    );
    assert_eq!(
        housing.tier(FundingTier::County).disbursed(),
        money("320000.00")
    );

    let line = PolicyLine::HouseholdAccident;
    let t2021 = *state
        .fund(&fund(scenario::SANMING_INSURANCE_2021))
        .unwrap()
        .insurance(line)
        .unwrap();
    let t2020 = *state
        .fund(&fund(scenario::SANMING_INSURANCE_2020))
        .unwrap()
        .insurance(line)
        .unwrap();
    assert_eq!(t2021.premium_tax_exclusive(), money("9668400.00"));
    assert_eq!(t2021.claims_paid(), money("7070500.92"));
    assert_eq!(t2021.claims_count(), 1_234);
    assert_eq!(t2021.simple_loss_ratio().unwrap().to_string(), "73.13%");
    assert_eq!(t2020.premium_tax_exclusive(), money("8475848.16"));
    let growth =
        year_on_year_growth(t2021.premium_tax_exclusive(), t2020.premium_tax_exclusive()).unwrap();
    assert_eq!(growth.to_string(), "14.07%");

    let condolence = state
        .fund_balance(&fund(scenario::SANMING_CONDOLENCE))
        .unwrap();
    assert_eq!(condolence.disbursed, money("224600.00"));
}

/// The same figures through the read models' reports.
fn check_reports(p: &Projections) {
    let city = UnitCode::new("FJ-SM").unwrap();
    let year = DateRange::year(2021).unwrap();
    let insurance = p
        .insurance
        .report(&city, PolicyLine::HouseholdAccident, year)
        .unwrap();
    assert_eq!(insurance.figures.premium_tax_exclusive, money("9668400.00"));
    assert_eq!(insurance.figures.claims_paid, money("7070500.92"));
    assert_eq!(
        insurance
            .figures
            .simple_loss_ratio
            .value
            .unwrap()
            .to_string(),
        "73.13%"
    );
    assert_eq!(
        insurance.premium_growth.value.unwrap().to_string(),
        "14.07%"
    );

    let report = p.programmes.report(&city, year).unwrap();
    let row = |programme: Programme| {
        report
            .rows
            .iter()
            .find(|r| r.programme == programme)
            .unwrap()
    };
    assert_eq!(row(Programme::RevolvingFund).disbursed, money("6168000.00"));
    assert_eq!(row(Programme::RevolvingFund).helped.households, 337);
    assert_eq!(row(Programme::Bursary).disbursed, money("2031600.00"));
    assert_eq!(row(Programme::Bursary).helped.students, 642);
    assert_eq!(row(Programme::Housing).disbursed, money("920000.00"));
    assert_eq!(row(Programme::Housing).helped.households, 16);
    assert_eq!(row(Programme::Condolence).disbursed, money("224600.00"));
    assert_eq!(row(Programme::Condolence).helped.households, 394);

    let balance = p
        .fund_ledger
        .balance(&fund(scenario::SANMING_HOUSING))
        .unwrap();
    assert_eq!(balance.disbursed, money("920000.00"));
}

#[test]
fn the_sanming_2021_figures_reproduce_through_the_engine_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), true);
    let steps = sanming_2021();
    for (i, step) in steps.iter().enumerate() {
        let submission = Submission {
            command_id: format!("sanming-{i:05}"),
            command: step.command.clone(),
            actor: step.actor.clone(),
            effective_date: step.effective_date,
            memo: "三明市 2021 年报".into(),
        };
        if let Err(e) = engine.submit(submission) {
            panic!("step {i} ({:?}) was refused: {e}", step.command);
        }
    }
    engine.read(|m| check_figures(m.state()));
    assert_eq!(
        distinct(&engine, |e| match e {
            Event::LoanDisbursed(d) => Some(d.beneficiary.to_string()),
            _ => None,
        }),
        337
    );
    assert_eq!(
        distinct(&engine, |e| match e {
            Event::BursaryInstalmentPaid { student, .. } => Some(student.to_string()),
            _ => None,
        }),
        642
    );
    assert_eq!(
        distinct(&engine, |e| match e {
            Event::HousingInstalmentPaid { beneficiary, .. } => Some(beneficiary.to_string()),
            _ => None,
        }),
        16
    );
    assert_eq!(
        distinct(&engine, |e| match e {
            Event::CondolencePaid { beneficiary, .. } => Some(beneficiary.to_string()),
            _ => None,
        }),
        394
    );
    assert!(engine.log().unwrap().verify().unwrap().is_intact());
    let head = engine.log().unwrap().head().next_position;
    let incremental = engine
        .projections_after(head, std::time::Duration::from_secs(30), |p| {
            check_reports(p);
            p.clone()
        })
        .unwrap();
    let rebuilt = engine.projections_at_position(head).unwrap();
    assert!(
        rebuilt == incremental,
        "every projection rebuilt from 0 equals the incremental one"
    );
    engine.checkpoint_projections().unwrap();
    drop(engine);

    let engine = open(dir.path(), false);
    engine.read(|m| check_figures(m.state()));
    let reopened = engine
        .projections_after(head, std::time::Duration::from_secs(30), Projections::clone)
        .unwrap();
    assert!(
        reopened == incremental,
        "projections reopened from their checkpoints"
    );
}
