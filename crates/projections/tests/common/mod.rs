//! Test harness shared by the projections' integration tests: an in-memory ledger that runs commands through the domain's `decide` and `evolve` and feeds every accepted event to all five projections, plus builders and comparisons.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use ledger_domain::ledger::is_balanced;
use ledger_domain::{
    decide, evolve, Account, Amount, AwardId, BeneficiaryCategory, BeneficiaryId, BeneficiaryKind,
    Command, CommandContext, Event, FundBalance, FundId, FundingTier, InsuranceModel,
    LoanDisbursement, LoanId, Money, Programme, Recorded, Rejection, State, TierSplit, UnitCode,
    UnitLevel, UserId,
};
use ledger_projections::{
    AuditTrail, EventRecord, FundFigures, FundLedger, InsuranceReports, LoanReports,
    ProgrammeReports, Projection, SymbolTable,
};
use serde::{de::DeserializeOwned, Serialize};

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

pub fn award(id: &str) -> AwardId {
    AwardId::new(id).expect("valid award id")
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

/// A stand-in for the log's chain hash: distinct per position, which is all the
/// projections rely on.
pub fn fake_hash(position: u64) -> [u8; 32] {
    let mut hash = [0xA5; 32];
    hash[..8].copy_from_slice(&position.to_be_bytes());
    hash
}

/// All five projections, fed together.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Projections {
    pub fund_ledger: FundLedger,
    pub programmes: ProgrammeReports,
    pub insurance: InsuranceReports,
    pub loans: LoanReports,
    pub audit: AuditTrail,
}

impl Projections {
    pub fn apply(&mut self, record: &EventRecord) {
        self.fund_ledger.apply(record);
        self.programmes.apply(record);
        self.insurance.apply(record);
        self.loans.apply(record);
        self.audit.apply(record);
    }

    pub fn from_log<'a>(log: impl IntoIterator<Item = &'a EventRecord>) -> Projections {
        let mut p = Projections::default();
        for record in log {
            p.apply(record);
        }
        p
    }
}

/// Serialises a projection with bincode's serde mode (as the engine stores it) and reads it back.
pub fn through_bincode<P: Projection>(projection: &P) -> P {
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(projection, config).expect("encodes");
    let (back, read) = bincode::serde::decode_from_slice(&bytes, config).expect("decodes");
    assert_eq!(read, bytes.len(), "{} left bytes unread", P::NAME);
    back
}

/// Serialises a projection as JSON and reads it back.
pub fn through_json<P: Serialize + DeserializeOwned>(projection: &P) -> P {
    let text = serde_json::to_string(projection).expect("encodes as JSON");
    serde_json::from_str(&text).expect("decodes from JSON")
}

/// A ledger in memory: every accepted event is checked for balanced postings, evolved
/// into the domain state, appended to `log` with a memo and a hash, and applied to the
/// projections.
#[derive(Debug)]
pub struct Ledger {
    pub state: State,
    pub log: Vec<EventRecord>,
    pub projections: Projections,
    pub today: NaiveDate,
    /// The memo of the next commands (the command id when `None`).
    pub memo: Option<String>,
    commands: u64,
    /// Records are stamped with symbols (`SymbolTable`) of two tables in turn, as a
    /// rebuild's two readers do, so that every test goes through symbol interning;
    /// `Ledger::rebuild` folds them again with every interning table empty.
    symbols: [SymbolTable; 2],
}

impl Default for Ledger {
    fn default() -> Ledger {
        Ledger::new()
    }
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger {
            state: State::new(),
            log: Vec::new(),
            projections: Projections::default(),
            today: day(2021, 3, 1),
            memo: None,
            commands: 0,
            symbols: [SymbolTable::new(), SymbolTable::new()],
        }
    }

    /// Runs a command as `actor` with effective date `date`; returns its events' positions.
    pub fn run_as(
        &mut self,
        actor: &str,
        date: NaiveDate,
        command: Command,
    ) -> Result<Vec<u64>, Rejection> {
        self.commands += 1;
        let ctx = CommandContext {
            actor: user(actor),
            effective_date: date,
            // Recorded on the later of the two days, so backdated commands are allowed.
            recorded_at: date
                .max(self.today)
                .and_hms_opt(18, 0, 0)
                .expect("valid time"),
            command_id: format!("cmd-{}", self.commands),
        };
        let events = decide(&self.state, &command, &ctx)?;
        let mut positions = Vec::new();
        for event in events {
            assert!(is_balanced(&event.postings()), "unbalanced: {event:?}");
            let position = self.log.len() as u64;
            let recorded = Recorded {
                position,
                command_id: ctx.command_id.as_str().into(),
                actor: ctx.actor.clone(),
                effective_date: ctx.effective_date,
                recorded_at: ctx.recorded_at,
                event,
            };
            evolve(&mut self.state, &recorded);
            let mut record = EventRecord {
                recorded,
                memo: self
                    .memo
                    .clone()
                    .unwrap_or_else(|| ctx.command_id.clone())
                    .into(),
                hash: fake_hash(position),
                symbols: Default::default(),
            };
            self.symbols[usize::from(self.commands % 2 == 0)].assign(&mut record);
            self.projections.apply(&record);
            self.log.push(record);
            positions.push(position);
        }
        Ok(positions)
    }

    pub fn run(&mut self, command: Command) -> Result<Vec<u64>, Rejection> {
        let today = self.today;
        self.run_as("clerk-1", today, command)
    }

    /// Runs a command that must succeed.
    pub fn ok(&mut self, command: Command) -> Vec<u64> {
        let description = format!("{command:?}");
        self.run(command)
            .unwrap_or_else(|r| panic!("expected {description} to succeed, got {r}"))
    }

    /// Runs a command dated `date` (recorded today) that must succeed.
    pub fn ok_dated(&mut self, date: NaiveDate, command: Command) -> Vec<u64> {
        let description = format!("{command:?}");
        self.run_as("clerk-1", date, command)
            .unwrap_or_else(|r| panic!("expected {description} to succeed, got {r}"))
    }

    pub fn register_unit(&mut self, code: &str, level: UnitLevel, parent: Option<&str>) {
        self.ok(Command::RegisterUnit {
            unit: unit(code),
            name: format!("unit {code}"),
            level,
            parent: parent.map(unit),
        });
    }

    /// Fujian → Sanming → Shaxian and Youxi → a township of Shaxian, plus Xiamen.
    pub fn with_units(mut self) -> Ledger {
        self.register_unit("FJ", UnitLevel::Province, None);
        self.register_unit("FJ-SM", UnitLevel::City, Some("FJ"));
        self.register_unit("FJ-SM-SX", UnitLevel::County, Some("FJ-SM"));
        self.register_unit("FJ-SM-YX", UnitLevel::County, Some("FJ-SM"));
        self.register_unit("FJ-SM-SX-01", UnitLevel::Township, Some("FJ-SM-SX"));
        self.register_unit("FJ-XM", UnitLevel::City, Some("FJ"));
        self
    }

    pub fn open_fund(&mut self, id: &str, unit_code: &str, programme: Programme) {
        let model =
            (programme == Programme::Insurance).then_some(InsuranceModel::InsurerUnderwritten);
        self.open_fund_with(id, unit_code, programme, None, model);
    }

    pub fn open_fund_with(
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
            fiscal_year: None,
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

    pub fn register(
        &mut self,
        id: &str,
        unit_code: &str,
        kind: BeneficiaryKind,
        categories: &[BeneficiaryCategory],
    ) {
        self.ok(Command::RegisterBeneficiary {
            beneficiary: person(id),
            unit: unit(unit_code),
            kind,
            categories: categories.iter().copied().collect::<BTreeSet<_>>(),
        });
    }

    pub fn household(&mut self, id: &str, unit_code: &str) {
        self.register(
            id,
            unit_code,
            BeneficiaryKind::Household,
            &[BeneficiaryCategory::PoorHousehold],
        );
    }

    /// The record at a position.
    pub fn record(&self, position: u64) -> &EventRecord {
        &self.log[usize::try_from(position).expect("a test position fits in usize")]
    }

    /// A fresh fold of every event of the log, for rebuild comparisons.
    pub fn rebuild(&self) -> Projections {
        Projections::from_log(&self.log)
    }
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

/// Balances of every account, summed from the postings of the events.
pub fn account_balances<'a>(events: impl Iterator<Item = &'a Event>) -> BTreeMap<Account, Money> {
    let mut balances: BTreeMap<Account, Money> = BTreeMap::new();
    for event in events {
        for posting in event.postings() {
            *balances.entry(posting.account.clone()).or_default() += posting.signed();
        }
    }
    balances
}

/// The projection's figures equal the domain's `FundBalance`, field by field and tier by tier.
pub fn assert_same_balance(view: &FundFigures, domain: &FundBalance, context: &str) {
    assert_eq!(view.committed, domain.committed, "committed of {context}");
    assert_eq!(view.received, domain.received, "received of {context}");
    assert_eq!(view.disbursed, domain.disbursed, "disbursed of {context}");
    assert_eq!(view.lent, domain.lent, "lent of {context}");
    assert_eq!(view.repaid, domain.repaid, "repaid of {context}");
    assert_eq!(
        view.loans_outstanding, domain.loans_outstanding,
        "outstanding of {context}"
    );
    assert_eq!(view.reserved, domain.reserved, "reserved of {context}");
    assert_eq!(
        view.written_off, domain.written_off,
        "written off of {context}"
    );
    assert_eq!(view.available, domain.available, "available of {context}");
    assert_eq!(
        view.interest_income, domain.interest_income,
        "interest of {context}"
    );
    assert_eq!(
        view.household_contributions, domain.household_contributions,
        "household contributions of {context}"
    );
    let tiers: Vec<FundingTier> = view.by_tier.iter().map(|(t, _)| *t).collect();
    let domain_tiers: Vec<FundingTier> = domain.by_tier.iter().map(|(t, _)| *t).collect();
    assert_eq!(tiers, domain_tiers, "tiers of {context}");
    for ((tier, v), (_, d)) in view.by_tier.iter().zip(domain.by_tier.iter()) {
        let c = format!("{context} tier {tier}");
        assert_eq!(v.committed, d.committed(), "committed of {c}");
        assert_eq!(v.received, d.received(), "received of {c}");
        assert_eq!(v.available, d.available(), "available of {c}");
        assert_eq!(v.reserved, d.reserved(), "reserved of {c}");
        assert_eq!(v.disbursed, d.disbursed(), "disbursed of {c}");
        assert_eq!(v.lent, d.lent(), "lent of {c}");
        assert_eq!(v.repaid, d.repaid(), "repaid of {c}");
        assert_eq!(
            v.loans_outstanding,
            d.loans_outstanding(),
            "outstanding of {c}"
        );
        assert_eq!(v.written_off, d.written_off(), "written off of {c}");
    }
}

/// The fund's figures that double-entry determines equal the sums of its accounts' postings.
pub fn assert_matches_postings(
    view: &FundFigures,
    fund_id: &FundId,
    balances: &BTreeMap<Account, Money>,
    context: &str,
) {
    for (tier, t) in FundingTier::ALL.iter().map(|&tier| (tier, view.tier(tier))) {
        let account = |make: fn(FundId, FundingTier) -> Account| {
            balances
                .get(&make(fund_id.clone(), tier))
                .copied()
                .unwrap_or_default()
        };
        let c = format!("{context} tier {tier}");
        let appropriation = account(|fund, tier| Account::TierAppropriation { fund, tier });
        let receivable = account(|fund, tier| Account::TierReceivable { fund, tier });
        assert_eq!(t.committed, appropriation.negated(), "committed of {c}");
        assert_eq!(
            t.received,
            (appropriation + receivable).negated(),
            "received of {c}"
        );
        assert_eq!(
            t.available,
            account(|fund, tier| Account::FundCash { fund, tier }),
            "cash of {c}"
        );
        assert_eq!(
            t.reserved,
            account(|fund, tier| Account::Reserved { fund, tier }),
            "reserved of {c}"
        );
        assert_eq!(
            t.loans_outstanding,
            account(|fund, tier| Account::LoansReceivable { fund, tier }),
            "loans of {c}"
        );
        assert_eq!(
            t.written_off,
            account(|fund, tier| Account::LoansWrittenOff { fund, tier }),
            "written off of {c}"
        );
        // Disbursed = every expense paid out of the tier's cash plus principal lent; the
        // households' premium share passes through without touching the fund's cash.
        let expenses = account(|fund, tier| Account::GrantsPaid { fund, tier })
            + account(|fund, tier| Account::ClaimsPaid { fund, tier })
            + if tier == FundingTier::HouseholdContribution {
                Money::ZERO
            } else {
                account(|fund, tier| Account::PremiumsPaid { fund, tier })
            };
        assert_eq!(t.disbursed, expenses + t.lent, "disbursed of {c}");
    }
    let fund_wide = |account: Account| balances.get(&account).copied().unwrap_or_default();
    assert_eq!(
        view.interest_income,
        fund_wide(Account::InterestIncome {
            fund: fund_id.clone()
        })
        .negated(),
        "interest of {context}"
    );
    assert_eq!(
        view.household_contributions,
        fund_wide(Account::HouseholdContributions {
            fund: fund_id.clone()
        })
        .negated(),
        "household contributions of {context}"
    );
}
