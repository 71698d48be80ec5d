//! Lending funds: a Happiness Project fund (幸福工程) per city, lending to mothers in
//! half-yearly batches and paying small grants, and a revolving fund (滚动资金) per
//! county. Borrowers repay monthly, quarterly in advance, late, early, or stop paying
//! (then the loan is rescheduled, written off, or left overdue); repaid principal is
//! lent again, so the funds turn over more than once.

use chrono::{Datelike, NaiveDate};
use ledger_domain::{
    BeneficiaryCategory, BeneficiaryId, BeneficiaryKind, Command, FundId, FundingTier,
    GrantModality, GrantPayment, LoanDisbursement, LoanId, Programme, TierSplit, UnitCode, UserId,
};
use rand::Rng;

use crate::generate::{
    chinese_number, day, fen, fund_id, plus_days, plus_months, tier_word, user, yuan, Agenda, Cash,
    Draft, Gen, Seq,
};

/// Happiness Project loans above this need a second signature.
const HAPPINESS_THRESHOLD_FEN: i64 = yuan(20_000);
/// Revolving-fund loans above this need a second signature.
const REVOLVING_THRESHOLD_FEN: i64 = yuan(25_000);
/// The smallest capital a lending fund starts with, whatever the scale.
const CAPITAL_MIN_FEN: i64 = yuan(30_000);

pub(crate) fn generate(gen: &mut Gen) {
    for c in 0..gen.cities.len() {
        let city = &gen.cities[c];
        let villages: Vec<UnitCode> = city
            .counties
            .iter()
            .flat_map(|k| k.villages.iter().cloned())
            .collect();
        let spec = Spec {
            programme: Programme::HappinessProject,
            fund: fund_id(&format!("{}-HAPPINESS", city.code)),
            unit: city.code.clone(),
            name: format!("{}幸福工程救助资金", city.name),
            loan_prefix: format!("{}-HP", city.code),
            clerk: city.clerk.clone(),
            approver: city.approver.clone(),
            villages,
            lending_tiers: vec![FundingTier::Province, FundingTier::Donation],
            threshold_fen: HAPPINESS_THRESHOLD_FEN,
            rate_bp: 0,
            loans_per_month_hundredths: 100,
            principal_yuan: (10_000, 30_000),
            terms: &[12, 12, 24],
            categories: &[
                BeneficiaryCategory::Mother,
                BeneficiaryCategory::PoorHousehold,
            ],
            kind: BeneficiaryKind::Person,
            first_city: c == 0,
            first_of_kind: c == 0,
        };
        LendingSim::new(gen, spec).run(gen);
        for k in 0..gen.cities[c].counties.len() {
            let city = &gen.cities[c];
            let county = &city.counties[k];
            // A third of the counties charge a small fee (资金占用费) on their loans.
            let rate_bp = match (c + k) % 3 {
                0 => 150,
                _ => 0,
            };
            let spec = Spec {
                programme: Programme::RevolvingFund,
                fund: fund_id(&format!("{}-REVOLVING", county.code)),
                unit: county.code.clone(),
                name: format!("{}{}计生家庭发展滚动资金", city.name, county.name),
                loan_prefix: format!("{}-RV", county.code),
                clerk: county.clerk.clone(),
                approver: city.approver.clone(),
                villages: county.villages.clone(),
                lending_tiers: vec![FundingTier::County, FundingTier::City],
                threshold_fen: REVOLVING_THRESHOLD_FEN,
                rate_bp,
                loans_per_month_hundredths: 50,
                principal_yuan: (10_000, 30_000),
                terms: &[12, 24, 24, 36],
                categories: &[BeneficiaryCategory::PoorHousehold],
                kind: BeneficiaryKind::Household,
                first_city: false,
                first_of_kind: c == 0 && k == 0,
            };
            LendingSim::new(gen, spec).run(gen);
        }
    }
}

struct Spec {
    programme: Programme,
    fund: FundId,
    unit: UnitCode,
    name: String,
    loan_prefix: String,
    clerk: UserId,
    approver: UserId,
    villages: Vec<UnitCode>,
    lending_tiers: Vec<FundingTier>,
    threshold_fen: i64,
    rate_bp: u16,
    /// Loans wanted a month on average at the default scale, in hundredths.
    loans_per_month_hundredths: u32,
    principal_yuan: (i64, i64),
    terms: &'static [u16],
    categories: &'static [BeneficiaryCategory],
    kind: BeneficiaryKind,
    /// The first city's Happiness fund carries the threshold change and the request
    /// left to expire.
    first_city: bool,
    /// The first fund of its programme carries the forced special cases.
    first_of_kind: bool,
}

/// How a borrower repays.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// Each instalment on or just before its due date.
    Monthly,
    /// Three instalments at a time, at the first one's due date.
    Quarterly,
    /// Two instalments at a time, the older one a month or more late.
    Late,
    /// Monthly, then the whole rest at instalment `at`.
    EarlyPayoff { at: u16 },
    /// Monthly until instalment `stop_after`, then nothing.
    Defaulter { stop_after: u16, outcome: Outcome },
}

/// What happens to a loan whose borrower stopped paying.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Reschedule,
    WriteOff,
    Unresolved,
}

struct LoanSim {
    id: LoanId,
    beneficiary: BeneficiaryId,
    tier: FundingTier,
    outstanding: i64,
    /// The schedule in force: start, principal, term, grace.
    start: NaiveDate,
    basis: i64,
    term: u16,
    grace: u16,
    rate_bp: u16,
    /// Principal repaid since the schedule in force started.
    paid: i64,
    behaviour: Behaviour,
}

impl LoanSim {
    /// Principal due by the end of instalment `k`, exactly as the domain computes it.
    fn cumulative_due(&self, k: u16) -> i64 {
        if k >= self.term {
            self.basis
        } else {
            self.basis / i64::from(self.term) * i64::from(k)
        }
    }

    fn due(&self, k: u16) -> NaiveDate {
        plus_months(self.start, u32::from(self.grace) + u32::from(k))
    }

    /// Interest due with instalments `from..=to` (balance × rate ÷ 12, half away from zero).
    fn interest(&self, from: u16, to: u16) -> i64 {
        let rate = i64::from(self.rate_bp);
        (from..=to)
            .map(|k| {
                let balance = self.basis - self.cumulative_due(k - 1);
                (balance * rate * 2 + 120_000) / 240_000
            })
            .sum()
    }
}

/// A loan waiting for a decision.
struct Requested {
    id: LoanId,
    beneficiary: BeneficiaryId,
    tier: FundingTier,
    principal: i64,
    term: u16,
    grace: u16,
    behaviour: Behaviour,
}

enum Task {
    Commit {
        tier: FundingTier,
        amount: i64,
    },
    Receive {
        tier: FundingTier,
        amount: i64,
    },
    BankInterest,
    Round,
    Grants {
        batch: String,
    },
    Decide {
        request: Seq,
        loan: Requested,
    },
    Repay {
        loan: usize,
        k: u16,
    },
    Reschedule {
        loan: usize,
    },
    WriteOff {
        loan: usize,
    },
    ReverseDuplicate {
        step: Seq,
        tier: FundingTier,
        amount: i64,
    },
    Release {
        tier: FundingTier,
        amount: i64,
    },
    Threshold {
        amount: i64,
    },
}

struct LendingSim {
    spec: Spec,
    agenda: Agenda<Task>,
    cash: Cash,
    loans: Vec<LoanSim>,
    next_loan: u32,
    /// Borrowers whose loans are repaid and who may borrow again.
    repaid_borrowers: Vec<BeneficiaryId>,
    threshold_fen: i64,
    duplicate_done: bool,
    forced_default_done: bool,
    abandon_done: bool,
    loans_disbursed: u32,
}

impl LendingSim {
    fn new(gen: &mut Gen, spec: Spec) -> LendingSim {
        let mut sim = LendingSim {
            threshold_fen: spec.threshold_fen,
            spec,
            agenda: Agenda::new(gen.end),
            cash: Cash::default(),
            loans: Vec::new(),
            next_loan: 0,
            repaid_borrowers: Vec::new(),
            duplicate_done: false,
            forced_default_done: false,
            abandon_done: false,
            loans_disbursed: 0,
        };
        let opened = gen.date_between(day(gen.span.first(), 1, 4), day(gen.span.first(), 1, 10));
        gen.open_fund(
            opened,
            &sim.spec.fund,
            &sim.spec.unit,
            sim.spec.programme,
            sim.spec.name.clone(),
            None,
            Some(sim.spec.threshold_fen),
            None,
        );
        sim.plan_capital(gen, opened);
        sim.agenda.at(plus_days(opened, 40), Task::Round);
        if sim.spec.programme == Programme::HappinessProject {
            for year in gen.span.years() {
                for (half, month) in [(0, 4), (1, 10)] {
                    let date = gen.date_between(day(year, month, 15), day(year, month, 28));
                    let batch = batch_label(gen, year, half);
                    sim.agenda.at(date, Task::Grants { batch });
                }
            }
        }
        if sim.spec.first_city && gen.span.last() - gen.span.first() >= 2 {
            sim.agenda.at(
                day(gen.span.first() + 2, 7, 1),
                Task::Threshold {
                    amount: yuan(25_000),
                },
            );
        }
        sim
    }

    /// Capital: a start-up appropriation from each lending tier, yearly top-ups, and
    /// (for Happiness funds) the city's money for grants. In the last year part of the
    /// county's top-up is still to arrive.
    fn plan_capital(&mut self, gen: &mut Gen, opened: NaiveDate) {
        let scale = self.scale(gen);
        let happiness = self.spec.programme == Programme::HappinessProject;
        for year in gen.span.years() {
            let commit_on = if year == gen.span.first() {
                opened
            } else {
                gen.date_between(day(year, 1, 5), day(year, 1, 20))
            };
            let first = year == gen.span.first();
            let parts: Vec<(FundingTier, i64)> = match (happiness, first) {
                (true, true) => vec![
                    (
                        FundingTier::Province,
                        gen.amount_between(100_000, 200_000, 10_000),
                    ),
                    (
                        FundingTier::Donation,
                        gen.amount_between(60_000, 150_000, 10_000),
                    ),
                ],
                (true, false) => vec![
                    (
                        FundingTier::Province,
                        gen.amount_between(20_000, 50_000, 10_000),
                    ),
                    (
                        FundingTier::Donation,
                        gen.amount_between(20_000, 60_000, 10_000),
                    ),
                ],
                (false, true) => vec![
                    (
                        FundingTier::County,
                        gen.amount_between(60_000, 120_000, 10_000),
                    ),
                    (
                        FundingTier::City,
                        gen.amount_between(30_000, 60_000, 10_000),
                    ),
                ],
                (false, false) => vec![(
                    FundingTier::County,
                    gen.amount_between(20_000, 50_000, 10_000),
                )],
            };
            for (i, (tier, base)) in parts.into_iter().enumerate() {
                // Whatever the scale, the fund starts with enough to lend.
                let floor = if first && i == 0 { CAPITAL_MIN_FEN } else { 0 };
                let amount = scale.fen(base).max(floor);
                self.agenda.at(commit_on, Task::Commit { tier, amount });
                let received_on = plus_days(commit_on, gen.rng.gen_range(7..=40));
                // The last year's county top-up arrives only in part by the end.
                let received = if year == gen.span.last() && tier == FundingTier::County {
                    amount / 100 * gen.rng.gen_range(60..=90) / 100 * 100
                } else {
                    amount
                };
                self.agenda.at(
                    received_on,
                    Task::Receive {
                        tier,
                        amount: received,
                    },
                );
            }
            if happiness {
                let grants = scale.fen(gen.amount_between(20_000, 40_000, 5_000));
                let on = gen.date_between(day(year, 3, 1), day(year, 3, 10));
                self.agenda.at(
                    on,
                    Task::Commit {
                        tier: FundingTier::City,
                        amount: grants,
                    },
                );
                self.agenda.at(
                    plus_days(on, 5),
                    Task::Receive {
                        tier: FundingTier::City,
                        amount: grants,
                    },
                );
            }
            self.agenda.at(day(year, 12, 21), Task::BankInterest);
        }
    }

    /// The first fund of each kind runs at the default volume whatever the scale, so
    /// that its special cases (a write-off, an expired request, an overdue loan at the
    /// end, a reversed duplicate) happen in every dataset.
    fn scale(&self, gen: &Gen) -> crate::config::Scale {
        if self.spec.first_of_kind {
            gen.scale.max(crate::config::Scale::DEFAULT)
        } else {
            gen.scale
        }
    }

    fn memo(&self, what: &str) -> String {
        format!("{} {what}", self.spec.fund)
    }

    fn run(mut self, gen: &mut Gen) {
        while let Some((date, task)) = self.agenda.pop() {
            self.handle(gen, date, task);
        }
    }

    fn handle(&mut self, gen: &mut Gen, date: NaiveDate, task: Task) {
        let programme = Some(self.spec.programme);
        let clerk = self.spec.clerk.clone();
        match task {
            Task::Commit { tier, amount } => {
                gen.command(
                    date,
                    &clerk,
                    programme,
                    "资金下达文件",
                    Command::CommitAppropriation {
                        fund: self.spec.fund.clone(),
                        tier,
                        amount: fen(amount),
                        reference: Some(format!("{}年{}级下达", date.year(), tier_word(tier))),
                    },
                );
            }
            Task::Receive { tier, amount } => {
                if amount > 0 {
                    gen.command(
                        date,
                        &clerk,
                        programme,
                        "资金到位 银行回单",
                        Command::ReceiveAppropriation {
                            fund: self.spec.fund.clone(),
                            tier,
                            amount: fen(amount),
                            reference: None,
                        },
                    );
                    self.cash.add(tier, amount);
                }
            }
            Task::BankInterest => {
                let held: i64 = self
                    .spec
                    .lending_tiers
                    .iter()
                    .map(|&t| self.cash.available(t))
                    .sum();
                // Bank interest on the idle balance (活期 0.35% a year), at least ¥10.
                let interest = (held * 35 / 10_000).max(yuan(10));
                let tier = FundingTier::Interest;
                gen.command(
                    date,
                    &clerk,
                    programme,
                    "银行结息",
                    Command::CommitAppropriation {
                        fund: self.spec.fund.clone(),
                        tier,
                        amount: fen(interest),
                        reference: Some(format!("{}年度结息", date.year())),
                    },
                );
                gen.command(
                    date,
                    &clerk,
                    programme,
                    "银行结息 入账",
                    Command::ReceiveAppropriation {
                        fund: self.spec.fund.clone(),
                        tier,
                        amount: fen(interest),
                        reference: None,
                    },
                );
                self.cash.add(tier, interest);
            }
            Task::Round => {
                self.lending_round(gen, date);
                let next = plus_months(date, 1);
                let next = gen.date_between(
                    day(next.year(), next.month(), 8),
                    day(next.year(), next.month(), 25),
                );
                self.agenda.at(next, Task::Round);
            }
            Task::Grants { batch } => self.grants(gen, date, &batch),
            Task::Decide { request, loan } => self.decide(gen, date, request, loan),
            Task::Repay { loan, k } => self.repay(gen, date, loan, k),
            Task::Reschedule { loan } => {
                let l = &mut self.loans[loan];
                if l.outstanding == 0 {
                    return;
                }
                gen.command(
                    date,
                    &clerk,
                    programme,
                    "借款人困难，经审批调整还款计划",
                    Command::RescheduleLoan {
                        loan: l.id.clone(),
                        term_months: 12,
                        grace_months: 1,
                        annual_rate_bp: l.rate_bp,
                    },
                );
                l.start = date;
                l.basis = l.outstanding;
                l.term = 12;
                l.grace = 1;
                l.paid = 0;
                l.behaviour = Behaviour::Monthly;
                let first = l.due(1);
                self.agenda.at(first, Task::Repay { loan, k: 1 });
            }
            Task::WriteOff { loan } => {
                let l = &mut self.loans[loan];
                if l.outstanding == 0 {
                    return;
                }
                gen.command(
                    date,
                    &clerk,
                    programme,
                    "呆账核销 经理事会审议",
                    Command::WriteOffLoan {
                        loan: l.id.clone(),
                        reason: "借款人因病丧失劳动能力，逾期一年以上无力偿还，经审批核销".into(),
                    },
                );
                l.outstanding = 0;
            }
            Task::ReverseDuplicate { step, tier, amount } => {
                gen.follow_up(
                    date,
                    &clerk,
                    self.spec.programme,
                    &self.memo("冲正"),
                    Draft::Reverse {
                        of: step,
                        reason: "同一笔放款重复录入，冲正".into(),
                    },
                );
                self.cash.add(tier, amount);
            }
            Task::Release { tier, amount } => self.cash.add(tier, amount),
            Task::Threshold { amount } => {
                let admin = gen.admin.clone();
                gen.command(
                    date,
                    &admin,
                    programme,
                    "按新修订的资金管理办法调整审批额度",
                    Command::SetApprovalThreshold {
                        fund: self.spec.fund.clone(),
                        threshold: Some(fen(amount)),
                    },
                );
                self.threshold_fen = amount;
            }
        }
    }

    fn pick_behaviour(&mut self, gen: &mut Gen, term: u16, date: NaiveDate) -> Behaviour {
        // The first loan of the first revolving fund lent in the last year stops
        // paying and stays overdue: PAR30 is never zero at the end.
        if self.spec.first_of_kind
            && !self.forced_default_done
            && date.year() == gen.span.last()
            && self.spec.programme == Programme::RevolvingFund
        {
            self.forced_default_done = true;
            return Behaviour::Defaulter {
                stop_after: 2,
                outcome: Outcome::Unresolved,
            };
        }
        // The second loan of every Happiness fund is written off in the end.
        if self.spec.programme == Programme::HappinessProject && self.loans_disbursed == 1 {
            return Behaviour::Defaulter {
                stop_after: 3,
                outcome: Outcome::WriteOff,
            };
        }
        match gen.rng.gen_range(0..100) {
            0..=31 => Behaviour::Monthly,
            32..=73 => Behaviour::Quarterly,
            74..=82 => Behaviour::Late,
            83..=94 => Behaviour::EarlyPayoff {
                at: (term / 2).max(1),
            },
            n => Behaviour::Defaulter {
                stop_after: gen.rng.gen_range(1..=(term / 2).max(1)),
                outcome: match n % 3 {
                    0 => Outcome::Reschedule,
                    1 => Outcome::WriteOff,
                    _ => Outcome::Unresolved,
                },
            },
        }
    }

    fn borrower(&mut self, gen: &mut Gen) -> BeneficiaryId {
        if !self.repaid_borrowers.is_empty() && gen.rng.gen_ratio(1, 5) {
            let i = gen.rng.gen_range(0..self.repaid_borrowers.len());
            return self.repaid_borrowers.swap_remove(i);
        }
        let village = self.spec.villages[gen.rng.gen_range(0..self.spec.villages.len())].clone();
        let mut categories = self.spec.categories.to_vec();
        if gen.rng.gen_ratio(1, 6) {
            categories.push(BeneficiaryCategory::Migrant);
        }
        let county_clerk = clerk_of(&village);
        gen.new_beneficiary(
            &village,
            self.spec.kind,
            &categories,
            &county_clerk,
            self.spec.programme,
        )
    }

    fn batch_of(&self, gen: &Gen, date: NaiveDate) -> Option<String> {
        (self.spec.programme == Programme::HappinessProject)
            .then(|| batch_label(gen, date.year(), usize::from(date.month() > 6)))
    }

    fn lending_round(&mut self, gen: &mut Gen, date: NaiveDate) {
        // The first fund of each kind lends in the last year, so that its special
        // cases always happen.
        let scale = self.scale(gen);
        let mut wanted = scale.draw(&mut gen.rng, self.spec.loans_per_month_hundredths);
        if self.spec.first_of_kind && !self.forced_default_done && date.year() == gen.span.last() {
            wanted = wanted.max(1);
        }
        for _ in 0..wanted {
            let (low, high) = self.spec.principal_yuan;
            let mut principal = gen.amount_between(low, high, 1_000);
            let (tier, available) = self
                .spec
                .lending_tiers
                .iter()
                .map(|&t| (t, self.cash.available(t)))
                .max_by_key(|&(t, a)| (a, std::cmp::Reverse(t)))
                .expect("a lending fund lends from some tier");
            if available < principal {
                principal = available / yuan(1_000) * yuan(1_000);
                if principal < yuan(low) {
                    break;
                }
            }
            let beneficiary = self.borrower(gen);
            let term = self.spec.terms[gen.rng.gen_range(0..self.spec.terms.len())];
            let grace = if gen.rng.gen_ratio(1, 10) { 3 } else { 0 };
            let behaviour = self.pick_behaviour(gen, term, date);
            self.next_loan += 1;
            let id = LoanId::new(format!("{}-{:05}", self.spec.loan_prefix, self.next_loan))
                .expect("a valid loan id");
            let loan = Requested {
                id,
                beneficiary,
                tier,
                principal,
                term,
                grace,
                behaviour,
            };
            let step = self.disburse_command(gen, date, &loan);
            self.cash.take(tier, principal);
            if principal > self.threshold_fen {
                // Held for a second signature: decided a few days later, or left
                // pending if that falls after the end. One request of the first
                // Happiness fund in the second year is never decided and expires.
                if self.spec.first_city
                    && self.spec.programme == Programme::HappinessProject
                    && !self.abandon_done
                    && date.year() == gen.span.first() + 1
                    && gen
                        .expiry_date
                        .is_some_and(|expiry| plus_days(date, 31) < expiry)
                {
                    self.abandon_done = true;
                    gen.abandoned.push(date);
                    let expiry = gen.expiry_date.expect("checked above");
                    self.agenda.at(
                        expiry,
                        Task::Release {
                            tier,
                            amount: principal,
                        },
                    );
                    continue;
                }
                // Requests made in the last December wait for an approver away until January.
                if date.year() == gen.span.last() && date.month() == 12 && gen.rng.gen_ratio(1, 2) {
                    gen.pending_left += 1;
                    continue;
                }
                let decide_on = plus_days(date, gen.rng.gen_range(1..=6));
                if !self.agenda.at(
                    decide_on,
                    Task::Decide {
                        request: step,
                        loan,
                    },
                ) {
                    gen.pending_left += 1;
                }
                continue;
            }
            self.start_loan(gen, date, loan);
            // Now and then a clerk records the same disbursement twice and reverses
            // the copy a day or two later (the first fund of each kind always does).
            let duplicate = if self.spec.first_of_kind && !self.duplicate_done {
                true
            } else {
                gen.rng.gen_ratio(1, 150)
            };
            let last = self.loans.last().expect("just started");
            if duplicate && self.cash.available(tier) >= last.basis {
                self.duplicate_done = true;
                self.next_loan += 1;
                let copy = Requested {
                    id: LoanId::new(format!("{}-{:05}", self.spec.loan_prefix, self.next_loan))
                        .expect("a valid loan id"),
                    beneficiary: last.beneficiary.clone(),
                    tier,
                    principal: last.basis,
                    term: last.term,
                    grace: last.grace,
                    behaviour: Behaviour::Monthly,
                };
                let step = self.disburse_command(gen, date, &copy);
                self.cash.take(tier, copy.principal);
                self.agenda.at(
                    plus_days(date, gen.rng.gen_range(1..=3)),
                    Task::ReverseDuplicate {
                        step,
                        tier,
                        amount: copy.principal,
                    },
                );
            }
        }
    }

    fn disburse_command(&mut self, gen: &mut Gen, date: NaiveDate, loan: &Requested) -> Seq {
        gen.touch(&loan.beneficiary, date);
        let batch = self.batch_of(gen, date);
        let migrant = gen.rng.gen_ratio(1, 8);
        let clerk = self.spec.clerk.clone();
        gen.command(
            date,
            &clerk,
            Some(self.spec.programme),
            &self.memo("放款"),
            Command::DisburseLoan(LoanDisbursement {
                loan: loan.id.clone(),
                fund: self.spec.fund.clone(),
                beneficiary: loan.beneficiary.clone(),
                tier: loan.tier,
                principal: fen(loan.principal),
                term_months: loan.term,
                grace_months: loan.grace,
                annual_rate_bp: self.spec.rate_bp,
                batch: batch.map(Into::into),
                migrant,
            }),
        )
    }

    fn start_loan(&mut self, gen: &mut Gen, date: NaiveDate, loan: Requested) {
        let (term, grace) = (loan.term, loan.grace);
        let sim = LoanSim {
            id: loan.id,
            beneficiary: loan.beneficiary,
            tier: loan.tier,
            outstanding: loan.principal,
            start: date,
            basis: loan.principal,
            term,
            grace,
            rate_bp: self.spec.rate_bp,
            paid: 0,
            behaviour: loan.behaviour,
        };
        let first = match sim.behaviour {
            Behaviour::Late => sim.due(2.min(term)),
            _ => sim.due(1),
        };
        let first = plus_days(first, gen.rng.gen_range(0..=10));
        self.loans.push(sim);
        self.loans_disbursed += 1;
        let index = self.loans.len() - 1;
        self.agenda.at(first, Task::Repay { loan: index, k: 1 });
    }

    fn decide(&mut self, gen: &mut Gen, date: NaiveDate, request: Seq, loan: Requested) {
        let approver = self.spec.approver.clone();
        if gen.rng.gen_ratio(9, 10) {
            gen.follow_up(
                date,
                &approver,
                self.spec.programme,
                &self.memo("审批通过"),
                Draft::Approve { of: request },
            );
            self.start_loan(gen, date, loan);
        } else {
            let reason = if gen.rng.gen_bool(0.5) {
                "申请材料不全（缺少项目计划书），退回补充后重新申请"
            } else {
                "超过单户借款限额，请核减金额后重新申请"
            };
            gen.follow_up(
                date,
                &approver,
                self.spec.programme,
                &self.memo("审批退回"),
                Draft::Reject {
                    of: request,
                    reason: reason.into(),
                },
            );
            self.cash.add(loan.tier, loan.principal);
        }
    }

    fn repay(&mut self, gen: &mut Gen, date: NaiveDate, index: usize, k: u16) {
        let l = &self.loans[index];
        if l.outstanding == 0 || k > l.term {
            return;
        }
        let n = l.term;
        // Which instalments this payment covers, and when the next one comes.
        let (upto, next): (u16, Option<(u16, NaiveDate)>) = match l.behaviour {
            Behaviour::Monthly => (k, Some((k + 1, l.due(k + 1)))),
            Behaviour::Quarterly => {
                let upto = (k + 2).min(n);
                (upto, Some((upto + 1, l.due(upto + 1))))
            }
            Behaviour::Late => {
                let upto = (k + 1).min(n);
                let next = upto + 1;
                (upto, Some((next, l.due((next + 1).min(n)))))
            }
            Behaviour::EarlyPayoff { at } if k >= at => (n, None),
            Behaviour::EarlyPayoff { .. } => (k, Some((k + 1, l.due(k + 1)))),
            Behaviour::Defaulter {
                stop_after,
                outcome,
            } if k > stop_after => {
                let due = l.due(k);
                match outcome {
                    Outcome::Reschedule => {
                        let on = plus_days(due, gen.rng.gen_range(90..=150));
                        self.agenda.at(on, Task::Reschedule { loan: index });
                    }
                    Outcome::WriteOff => {
                        let on = plus_days(due, gen.rng.gen_range(400..=480));
                        self.agenda.at(on, Task::WriteOff { loan: index });
                    }
                    Outcome::Unresolved => {}
                }
                return;
            }
            Behaviour::Defaulter { .. } => (k, Some((k + 1, l.due(k + 1)))),
        };
        let principal = (l.cumulative_due(upto) - l.paid).min(l.outstanding);
        if principal > 0 {
            let interest = l.interest(k, upto);
            let clerk = self.spec.clerk.clone();
            gen.command(
                date,
                &clerk,
                Some(self.spec.programme),
                &self.memo("收回借款"),
                Command::RepayLoan {
                    loan: l.id.clone(),
                    principal: fen(principal),
                    interest: fen(interest),
                },
            );
            let l = &mut self.loans[index];
            l.outstanding -= principal;
            l.paid += principal;
            self.cash.add(l.tier, principal);
            self.cash.add(FundingTier::Interest, interest);
            if l.outstanding == 0 {
                self.repaid_borrowers.push(l.beneficiary.clone());
                return;
            }
        }
        if let Some((k, due)) = next {
            let early = gen.rng.gen_range(0..=3);
            let on = match self.loans[index].behaviour {
                Behaviour::Late => plus_days(due, gen.rng.gen_range(0..=20)),
                _ => due - chrono::Days::new(early),
            };
            self.agenda.at(on.max(date), Task::Repay { loan: index, k });
        }
    }

    fn grants(&mut self, gen: &mut Gen, date: NaiveDate, batch: &str) {
        let count = gen.scale.of(4);
        let clerk = self.spec.clerk.clone();
        for _ in 0..count {
            let (modality, low, high) = match gen.rng.gen_range(0..3) {
                0 => (GrantModality::Relief, 2_000, 5_000),
                1 => (GrantModality::Skills, 800, 2_000),
                _ => (GrantModality::Health, 1_000, 3_000),
            };
            let amount = gen.amount_between(low, high, 100);
            if self.cash.available(FundingTier::City) < amount {
                break;
            }
            let village =
                self.spec.villages[gen.rng.gen_range(0..self.spec.villages.len())].clone();
            let county_clerk = clerk_of(&village);
            let mother = gen.new_beneficiary(
                &village,
                BeneficiaryKind::Person,
                &[
                    BeneficiaryCategory::Mother,
                    BeneficiaryCategory::PoorHousehold,
                ],
                &county_clerk,
                Programme::HappinessProject,
            );
            gen.touch(&mother, date);
            gen.command(
                date,
                &clerk,
                Some(Programme::HappinessProject),
                &format!("幸福工程 {batch} 项目资金"),
                Command::PayGrant(GrantPayment {
                    fund: self.spec.fund.clone(),
                    beneficiary: mother,
                    modality,
                    batch: Some(batch.into()),
                    amount: fen(amount),
                    shares: TierSplit::single(FundingTier::City, fen(amount))
                        .expect("a positive share"),
                }),
            );
            self.cash.take(FundingTier::City, amount);
        }
    }
}

/// The Happiness Project batch of a half-year: 第十五批 in the first half of the first year.
fn batch_label(gen: &Gen, year: i32, half: usize) -> String {
    let offset = u32::try_from(year - gen.span.first()).expect("years within the span");
    let half = u32::try_from(half).expect("0 or 1");
    format!("{year}年第{}批", chinese_number(15 + offset * 2 + half))
}

/// The clerk of the county a village belongs to (`FJ-SM-SX-01-003` → `clerk-fj-sm-sx`).
pub(crate) fn clerk_of(village: &UnitCode) -> UserId {
    let county: Vec<&str> = village.as_str().split('-').take(3).collect();
    user(&format!("clerk-{}", county.join("-").to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loan(principal_fen: i64, term: u16, grace: u16, rate_bp: u16) -> LoanSim {
        LoanSim {
            id: LoanId::new("L-1").unwrap(),
            beneficiary: BeneficiaryId::new("b-000001").unwrap(),
            tier: FundingTier::County,
            outstanding: principal_fen,
            start: day(2021, 1, 31),
            basis: principal_fen,
            term,
            grace,
            rate_bp,
            paid: 0,
            behaviour: Behaviour::Monthly,
        }
    }

    /// The shadow schedule must match docs/DOMAIN.md: equal instalments of ⌊principal ÷ n⌋
    /// fen with the remainder on the last, due grace + k months after the disbursement
    /// (month ends clamp), interest = balance × rate ÷ 10,000 ÷ 12 half away from zero.
    #[test]
    fn the_shadow_schedule_is_the_domains() {
        let l = loan(1_000_000, 3, 0, 150);
        assert_eq!(l.cumulative_due(1), 333_333);
        assert_eq!(l.cumulative_due(2), 666_666);
        assert_eq!(l.cumulative_due(3), 1_000_000);
        assert_eq!(l.due(1), day(2021, 2, 28));
        assert_eq!(l.due(3), day(2021, 4, 30));
        // ¥10,000.00 × 1.5% ÷ 12 = ¥12.50; ¥6,666.67 × 1.5% ÷ 12 = ¥8.3333… → ¥8.33.
        assert_eq!(l.interest(1, 1), 1_250);
        assert_eq!(l.interest(2, 2), 833);
        let graced = loan(1_000_000, 12, 3, 0);
        assert_eq!(graced.due(1), day(2021, 5, 31));
        assert_eq!(graced.interest(1, 12), 0);
    }
}
