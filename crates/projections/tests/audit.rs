//! Proves the audit trail in given/when/then form: every event is found by beneficiary (also through its loan, award, request or reversal), fund, actor, command id and effective dates, with who, when, why, position and hash, reversals linked both ways, and pages that keep their order.
//!
//! How: a maker-checker loan, a grant, a repayment, a backdated correction and a
//! reversal are recorded through the domain's commands by two members of staff.

mod common;

use common::*;
use ledger_domain::{
    AwardId, BeneficiaryCategory, BeneficiaryKind, BursaryInstalment, Command, FundingTier,
    GrantModality, GrantPayment, Programme,
};
use ledger_projections::{DateRange, EventRecord, LogRecords, PageRequest};

struct Story {
    ledger: Ledger,
    registration: u64,
    grant: u64,
    request: u64,
    approval: u64,
    disbursement: u64,
    repayment: u64,
    backdated: u64,
    reversal: u64,
}

/// clerk-1 pays M1 a grant and asks for an ¥8,000.00 loan (above the fund's ¥5,000.00
/// threshold); checker-2 approves it; clerk-1 records a repayment and a receipt
/// backdated to 1 February; checker-2 reverses the grant.
fn given_a_maker_checker_story() -> Story {
    let mut l = Ledger::new().with_units();
    l.today = day(2021, 3, 1);
    l.open_fund_with(
        "SM-HP",
        "FJ-SM",
        Programme::HappinessProject,
        Some(yuan(5_000)),
        None,
    );
    l.fund_cash("SM-HP", FundingTier::City, yuan(50_000));
    let registration = l.ok(Command::RegisterBeneficiary {
        beneficiary: person("M1"),
        unit: unit("FJ-SM-SX"),
        kind: BeneficiaryKind::Person,
        categories: [BeneficiaryCategory::Mother].into_iter().collect(),
    })[0];
    l.memo = Some("skills class fee, receipt 0031".into());
    let grant = l.ok(Command::PayGrant(GrantPayment {
        fund: fund("SM-HP"),
        beneficiary: person("M1"),
        modality: GrantModality::Skills,
        batch: None,
        amount: yuan(2_000),
        shares: one_tier(FundingTier::City, yuan(2_000)),
    }))[0];
    l.memo = Some("loan for a tea stall".into());
    let request = l.ok(Command::DisburseLoan(loan(
        "L1",
        "SM-HP",
        "M1",
        yuan(8_000),
        12,
    )))[0];
    l.today = day(2021, 3, 2);
    l.memo = Some("approved after a home visit".into());
    let approved = l
        .run_as(
            "checker-2",
            day(2021, 3, 2),
            Command::ApprovePayment { request },
        )
        .unwrap();
    l.today = day(2021, 4, 2);
    l.memo = None;
    let repayment = l.ok(Command::RepayLoan {
        loan: loan_id("L1"),
        principal: yuan(700),
        interest: yuan(0),
    })[0];
    l.memo = Some("bank slip found late".into());
    l.ok_dated(
        day(2021, 2, 1),
        Command::CommitAppropriation {
            fund: fund("SM-HP"),
            tier: FundingTier::Donation,
            amount: yuan(900),
            reference: None,
        },
    );
    let backdated = l.log.len() as u64 - 1;
    l.memo = Some("paid twice by mistake".into());
    let reversal = l
        .run_as(
            "checker-2",
            day(2021, 4, 2),
            Command::ReverseEvent {
                position: grant,
                reason: "duplicate".into(),
            },
        )
        .unwrap()[0];
    Story {
        ledger: l,
        registration,
        grant,
        request,
        approval: approved[0],
        disbursement: approved[1],
        repayment,
        backdated,
        reversal,
    }
}

fn positions(page: &ledger_projections::Page<ledger_projections::AuditRecord>) -> Vec<u64> {
    page.items.iter().map(|r| r.position).collect()
}

#[test]
fn every_event_of_a_beneficiary_is_found_including_through_loans_requests_and_reversals() {
    let s = given_a_maker_checker_story();
    let trail = &s.ledger.projections.audit;
    let log = &s.ledger.log[..];
    let page = trail
        .by_beneficiary(&person("M1"), None, PageRequest::first(), log)
        .unwrap();
    assert_eq!(
        positions(&page),
        vec![
            s.registration,
            s.grant,
            s.request,
            s.approval,
            s.disbursement,
            s.repayment,
            s.reversal
        ]
    );
    assert_eq!(page.total, 7);
    assert_eq!(page.next_offset, None);
    assert!(trail
        .by_beneficiary(&person("NOBODY"), None, PageRequest::first(), log)
        .unwrap()
        .items
        .is_empty());
}

#[test]
fn each_entry_says_who_when_why_where_and_its_hash() {
    let s = given_a_maker_checker_story();
    let log = &s.ledger.log[..];
    let entry = s
        .ledger
        .projections
        .audit
        .entry(s.disbursement, log)
        .unwrap()
        .unwrap();
    assert_eq!(entry.event_type, "LoanDisbursed");
    assert_eq!(entry.actor, user("checker-2"));
    assert_eq!(entry.effective_date, day(2021, 3, 2));
    assert_eq!(
        entry.recorded_at,
        day(2021, 3, 2).and_hms_opt(18, 0, 0).unwrap()
    );
    assert_eq!(entry.memo, "approved after a home visit");
    assert_eq!(entry.hash, fake_hash(s.disbursement));
    assert_eq!(entry.fund, Some(fund("SM-HP")));
    assert_eq!(entry.beneficiary, Some(person("M1")));
    assert_eq!(
        entry.command_id,
        s.ledger.record(s.approval).recorded.command_id
    );
    assert_eq!(entry.reverses, None);
    assert_eq!(s.ledger.projections.audit.entry(9_999, log).unwrap(), None);
}

#[test]
fn a_reversal_and_its_original_point_at_each_other() {
    let s = given_a_maker_checker_story();
    let trail = &s.ledger.projections.audit;
    let log = &s.ledger.log[..];
    let original = trail.entry(s.grant, log).unwrap().unwrap();
    let reversal = trail.entry(s.reversal, log).unwrap().unwrap();
    assert_eq!(original.reversed_by, Some(s.reversal));
    assert_eq!(original.memo, "skills class fee, receipt 0031");
    assert_eq!(reversal.reverses, Some(s.grant));
    assert_eq!(reversal.reversed_by, None);
    assert_eq!(reversal.event_type, "EventReversed");
    assert_eq!(reversal.memo, "paid twice by mistake");
}

#[test]
fn events_are_found_by_actor_fund_and_command() {
    let s = given_a_maker_checker_story();
    let trail = &s.ledger.projections.audit;
    let log = &s.ledger.log[..];
    assert_eq!(
        positions(
            &trail
                .by_actor(&user("checker-2"), None, PageRequest::first(), log)
                .unwrap()
        ),
        vec![s.approval, s.disbursement, s.reversal]
    );
    let command = s.ledger.record(s.approval).recorded.command_id.clone();
    assert_eq!(
        positions(
            &trail
                .by_command(&command, None, PageRequest::first(), log)
                .unwrap()
        ),
        vec![s.approval, s.disbursement]
    );
    let fund_events: Vec<u64> = s
        .ledger
        .log
        .iter()
        .filter(|r| r.recorded.event.fund() == Some(&fund("SM-HP")))
        .map(|r| r.recorded.position)
        .collect();
    let by_fund = trail
        .by_fund(&fund("SM-HP"), None, PageRequest::first(), log)
        .unwrap();
    assert_eq!(positions(&by_fund), fund_events);
    assert_eq!(by_fund.total, 10);
}

#[test]
fn pages_keep_the_order_and_say_where_the_next_one_starts() {
    let s = given_a_maker_checker_story();
    let trail = &s.ledger.projections.audit;
    let log = &s.ledger.log[..];
    let all = positions(
        &trail
            .by_fund(&fund("SM-HP"), None, PageRequest::first(), log)
            .unwrap(),
    );
    let second = trail
        .by_fund(&fund("SM-HP"), None, PageRequest::new(4, 4).unwrap(), log)
        .unwrap();
    assert_eq!(positions(&second), all[4..8].to_vec());
    assert_eq!(second.offset, 4);
    assert_eq!(second.next_offset, Some(8));
    let last = trail
        .by_fund(&fund("SM-HP"), None, PageRequest::new(8, 4).unwrap(), log)
        .unwrap();
    assert_eq!(positions(&last), all[8..].to_vec());
    assert_eq!(last.next_offset, None);
    let beyond = trail
        .by_fund(&fund("SM-HP"), None, PageRequest::new(50, 4).unwrap(), log)
        .unwrap();
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 10);
}

#[test]
fn a_date_range_lists_events_by_effective_date_then_position() {
    let s = given_a_maker_checker_story();
    let trail = &s.ledger.projections.audit;
    let log = &s.ledger.log[..];
    let feb_to_mar = DateRange::new(day(2021, 2, 1), day(2021, 3, 1)).unwrap();
    let page = trail
        .by_effective_dates(feb_to_mar, PageRequest::first(), log)
        .unwrap();
    // The backdated commitment (recorded last but one) comes first.
    assert_eq!(page.items[0].position, s.backdated);
    assert_eq!(page.items[0].memo, "bank slip found late");
    let expected: Vec<u64> = std::iter::once(s.backdated)
        .chain(
            s.ledger
                .log
                .iter()
                .filter(|r| r.recorded.effective_date == day(2021, 3, 1))
                .map(|r| r.recorded.position),
        )
        .collect();
    assert_eq!(positions(&page), expected);
    // Paging across days keeps the same order.
    let mut paged = Vec::new();
    let mut offset = 0;
    loop {
        let p = trail
            .by_effective_dates(feb_to_mar, PageRequest::new(offset, 3).unwrap(), log)
            .unwrap();
        paged.extend(positions(&p));
        match p.next_offset {
            Some(next) => offset = next,
            None => break,
        }
    }
    assert_eq!(paged, expected);
}

#[test]
fn a_bursary_request_is_traced_to_its_student_through_the_award() {
    let mut l = Ledger::new().with_units();
    l.open_fund_with("SM-B", "FJ-SM", Programme::Bursary, Some(yuan(1_000)), None);
    l.fund_cash("SM-B", FundingTier::City, yuan(10_000));
    l.register(
        "S1",
        "FJ-SM-SX",
        BeneficiaryKind::Person,
        &[BeneficiaryCategory::Student],
    );
    l.ok(Command::AwardBursary {
        award: AwardId::new("A1").unwrap(),
        fund: fund("SM-B"),
        student: person("S1"),
        academic_year: 2021,
        tier: FundingTier::City,
        amount: yuan(4_000),
        years: 1,
        supplement_reason: None,
    });
    let request = l.ok(Command::PayBursaryInstalment(BursaryInstalment {
        award: AwardId::new("A1").unwrap(),
        amount: yuan(4_000),
    }))[0];
    assert_eq!(
        l.record(request).recorded.event.event_type(),
        "PaymentRequested"
    );
    let log = &l.log[..];
    let found = positions(
        &l.projections
            .audit
            .by_beneficiary(&person("S1"), None, PageRequest::first(), log)
            .unwrap(),
    );
    assert!(found.contains(&request), "{found:?}");
    assert_eq!(found.len(), 3);
}

/// A log that cannot be read.
struct Unreadable;

impl LogRecords for Unreadable {
    fn record(&self, _: u64) -> Result<Option<EventRecord>, String> {
        Err("disk gone".into())
    }

    fn command_events(&self, _: &str) -> Result<Option<(u64, u32)>, String> {
        Err("disk gone".into())
    }
}

#[test]
fn records_come_from_the_log_and_an_unreadable_log_is_an_error() {
    let s = given_a_maker_checker_story();
    let trail = &s.ledger.projections.audit;
    let error = trail.entry(s.grant, &Unreadable).unwrap_err();
    assert_eq!(error.code(), "log_unreadable");
    assert!(error.to_string().contains("disk gone"), "{error}");
    let by_fund = trail.by_fund(&fund("SM-HP"), None, PageRequest::first(), &Unreadable);
    assert_eq!(by_fund.unwrap_err().code(), "log_unreadable");
    let by_command = trail.by_command("any", None, PageRequest::first(), &Unreadable);
    assert_eq!(by_command.unwrap_err().code(), "log_unreadable");
    // A log that lacks the event the trail has is inconsistent, not an empty answer.
    let short = &s.ledger.log[..usize::try_from(s.grant).unwrap()];
    assert_eq!(
        trail.entry(s.grant, short).unwrap_err().code(),
        "log_unreadable"
    );
    // A page that asks nothing of the log does not fail.
    let none = trail.by_fund(&fund("NOPE"), None, PageRequest::first(), &Unreadable);
    assert_eq!(none.unwrap().total, 0);
}

#[test]
fn a_statement_reads_who_when_and_why_of_its_lines_from_the_log() {
    let s = given_a_maker_checker_story();
    let ledger = &s.ledger.projections.fund_ledger;
    let year = DateRange::new(day(2021, 1, 1), day(2021, 12, 31)).unwrap();
    let statement = ledger
        .statement(
            &fund("SM-HP"),
            year,
            PageRequest::first(),
            &s.ledger.log[..],
        )
        .unwrap();
    let line = statement
        .lines
        .items
        .iter()
        .find(|line| line.position == s.grant)
        .expect("the grant moves the fund");
    let r = s.ledger.record(s.grant);
    assert_eq!(line.event_type, "GrantPaid");
    assert_eq!(line.actor, r.recorded.actor);
    assert_eq!(line.recorded_at, r.recorded.recorded_at);
    assert_eq!(line.memo, r.memo.as_ref());
    // A log that cannot give a line back fails the statement; a page without lines
    // asks nothing of it.
    let failed = ledger.statement(&fund("SM-HP"), year, PageRequest::first(), &Unreadable);
    assert_eq!(failed.unwrap_err().code(), "log_unreadable");
    let before = DateRange::new(day(2001, 1, 1), day(2001, 12, 31)).unwrap();
    let empty = ledger.statement(&fund("SM-HP"), before, PageRequest::first(), &Unreadable);
    assert_eq!(empty.unwrap().lines.total, 0);
}
