//! Test harness shared by the domain's integration tests: a tiny in-memory ledger that runs commands through `decide` and `evolve`, plus builders.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use ledger_domain::ledger::is_balanced;
use ledger_domain::{
    decide, evolve, Account, Amount, BeneficiaryCategory, BeneficiaryId, BeneficiaryKind, Command,
    CommandContext, Event, FundId, FundingTier, InsuranceModel, LoanDisbursement, LoanId, Money,
    Programme, Recorded, Rejection, State, TierSplit, UnitCode, UnitLevel, UserId,
};

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
}

pub fn amount(text: &str) -> Amount {
    Amount::parse(text).expect("valid test amount")
}

pub fn yuan(y: i64) -> Amount {
    Amount::from_yuan(y).expect("valid test amount")
}

pub fn money(text: &str) -> Money {
    amount(text).to_money()
}

pub fn fund(id: &str) -> FundId {
    FundId::new(id).expect("valid fund id")
}

pub fn unit(code: &str) -> UnitCode {
    UnitCode::new(code).expect("valid unit code")
}

pub fn person(id: &str) -> BeneficiaryId {
    BeneficiaryId::new(id).expect("valid beneficiary id")
}

pub fn loan_id(id: &str) -> LoanId {
    LoanId::new(id).expect("valid loan id")
}

pub fn user(id: &str) -> UserId {
    UserId::new(id).expect("valid user id")
}

pub fn split(pairs: &[(FundingTier, Amount)]) -> TierSplit {
    TierSplit::of(pairs).expect("valid split")
}

pub fn one_tier(tier: FundingTier, a: Amount) -> TierSplit {
    TierSplit::single(tier, a).expect("valid split")
}

/// A ledger in memory: every accepted event is checked for balanced postings, evolved
/// into the state, and appended to `log` with its position.
#[derive(Debug, Default)]
pub struct Ledger {
    pub state: State,
    pub log: Vec<Recorded>,
    pub today: Option<NaiveDate>,
    commands: u64,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger {
            today: Some(day(2021, 3, 1)),
            ..Ledger::default()
        }
    }

    pub fn context(&mut self, actor: &str, date: NaiveDate) -> CommandContext {
        self.commands += 1;
        CommandContext {
            actor: user(actor),
            effective_date: date,
            recorded_at: date.and_hms_opt(18, 0, 0).expect("valid time"),
            command_id: format!("cmd-{}", self.commands),
        }
    }

    /// Runs a command as `actor` on `date`; returns the positions of its events.
    pub fn run_as(
        &mut self,
        actor: &str,
        date: NaiveDate,
        command: Command,
    ) -> Result<Vec<u64>, Rejection> {
        let ctx = self.context(actor, date);
        let events = decide(&self.state, &command, &ctx)?;
        let mut positions = Vec::new();
        for event in events {
            assert!(is_balanced(&event.postings()), "unbalanced: {event:?}");
            let position = self.log.last().map_or(0, |r| r.position + 1);
            let recorded = Recorded {
                position,
                command_id: ctx.command_id.as_str().into(),
                actor: ctx.actor.clone(),
                effective_date: ctx.effective_date,
                recorded_at: ctx.recorded_at,
                event,
            };
            evolve(&mut self.state, &recorded);
            self.log.push(recorded);
            positions.push(position);
        }
        Ok(positions)
    }

    pub fn run(&mut self, command: Command) -> Result<Vec<u64>, Rejection> {
        let today = self.today.expect("today is set");
        self.run_as("clerk-1", today, command)
    }

    /// Runs a command that must succeed.
    pub fn ok(&mut self, command: Command) -> Vec<u64> {
        let description = format!("{command:?}");
        self.run(command)
            .unwrap_or_else(|r| panic!("expected {description} to succeed, got {r}"))
    }

    /// Runs a command that must be rejected, and checks that nothing changed.
    pub fn rejects(&mut self, command: Command) -> Rejection {
        let today = self.today.expect("today is set");
        self.rejects_as("clerk-1", today, command)
    }

    pub fn rejects_as(&mut self, actor: &str, date: NaiveDate, command: Command) -> Rejection {
        let before = self.state.clone();
        let length = self.log.len();
        let rejection = self
            .run_as(actor, date, command)
            .expect_err("expected a rejection");
        assert_eq!(self.state, before, "a rejected command changed the state");
        assert_eq!(self.log.len(), length, "a rejected command recorded events");
        rejection
    }

    pub fn last_event(&self) -> &Event {
        &self.log.last().expect("an event").event
    }

    /// Balances of every account, summed from the postings of the whole log.
    pub fn account_balances(&self) -> BTreeMap<Account, Money> {
        account_balances(self.log.iter().map(|r| &r.event))
    }

    pub fn available(&self, f: &str, tier: FundingTier) -> Money {
        self.state
            .fund(&fund(f))
            .expect("fund exists")
            .tier(tier)
            .available()
    }

    // ---- builders --------------------------------------------------------------

    pub fn register_unit(&mut self, code: &str, level: UnitLevel, parent: Option<&str>) {
        self.ok(Command::RegisterUnit {
            unit: unit(code),
            name: format!("unit {code}"),
            level,
            parent: parent.map(unit),
        });
    }

    /// Fujian → Sanming → Shaxian → a township → a village, plus a second city (Xiamen).
    pub fn with_units(mut self) -> Ledger {
        self.register_unit("FJ", UnitLevel::Province, None);
        self.register_unit("FJ-SM", UnitLevel::City, Some("FJ"));
        self.register_unit("FJ-SM-SX", UnitLevel::County, Some("FJ-SM"));
        self.register_unit("FJ-SM-SX-01", UnitLevel::Township, Some("FJ-SM-SX"));
        self.register_unit("FJ-SM-SX-01-01", UnitLevel::Village, Some("FJ-SM-SX-01"));
        self.register_unit("FJ-XM", UnitLevel::City, Some("FJ"));
        self
    }

    pub fn open_fund(
        &mut self,
        id: &str,
        unit_code: &str,
        programme: Programme,
        threshold: Option<Amount>,
    ) {
        let insurance_model =
            (programme == Programme::Insurance).then_some(InsuranceModel::InsurerUnderwritten);
        self.open_fund_with_model(id, unit_code, programme, threshold, insurance_model);
    }

    pub fn open_fund_with_model(
        &mut self,
        id: &str,
        unit_code: &str,
        programme: Programme,
        threshold: Option<Amount>,
        insurance_model: Option<InsuranceModel>,
    ) {
        self.ok(Command::OpenFund {
            fund: fund(id),
            unit: unit(unit_code),
            programme,
            name: format!("fund {id}"),
            fiscal_year: Some(2021),
            approval_threshold: threshold,
            insurance_model,
        });
    }

    /// Commits and receives money from a tier.
    pub fn fund_cash(&mut self, id: &str, tier: FundingTier, a: Amount) {
        self.ok(Command::CommitAppropriation {
            fund: fund(id),
            tier,
            amount: a,
            reference: None,
        });
        self.ok(Command::ReceiveAppropriation {
            fund: fund(id),
            tier,
            amount: a,
            reference: None,
        });
    }

    pub fn register_beneficiary(&mut self, id: &str, unit_code: &str, kind: BeneficiaryKind) {
        self.ok(Command::RegisterBeneficiary {
            beneficiary: person(id),
            unit: unit(unit_code),
            kind,
            categories: BTreeSet::from([BeneficiaryCategory::PoorHousehold]),
        });
    }
}

pub fn account_balances<'a>(events: impl Iterator<Item = &'a Event>) -> BTreeMap<Account, Money> {
    let mut balances: BTreeMap<Account, Money> = BTreeMap::new();
    for event in events {
        for posting in event.postings() {
            *balances.entry(posting.account.clone()).or_default() += posting.signed();
        }
    }
    balances.retain(|_, m| !m.is_zero());
    balances
}

pub fn loan(
    id: &str,
    f: &str,
    beneficiary: &str,
    principal: Amount,
    term_months: u16,
) -> LoanDisbursement {
    LoanDisbursement {
        loan: loan_id(id),
        fund: fund(f),
        beneficiary: person(beneficiary),
        tier: FundingTier::City,
        principal,
        term_months,
        grace_months: 0,
        annual_rate_bp: 0,
        batch: Some("第十七批".into()),
        migrant: false,
    }
}
