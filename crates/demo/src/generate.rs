//! The generator: each fund is simulated on its own, in date order, against a small
//! shadow of the domain's rules (cash by tier, reservations, loan schedules), and the
//! fund streams are then merged by effective date into one plan.
//!
//! Funds never share cash, so merging streams by date keeps every fund's own order;
//! beneficiaries are registered on the date of their first use, before any other step
//! of that day; references between steps (approvals, reversals) stay within a stream
//! and point backwards.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use chrono::{Datelike, Days, Months, NaiveDate};
use ledger_domain::{
    Amount, BeneficiaryCategory, BeneficiaryId, BeneficiaryKind, Command, FundId, FundingTier,
    Period, Programme, UnitCode, UnitLevel, UserId,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::{DemoConfig, Scale, YearSpan};
use crate::geography::{self, CITIES, PROVINCE, TOWNSHIPS_PER_COUNTY, VILLAGES_PER_TOWNSHIP};
use crate::plan::{ActorRole, DemoAction, DemoActor, DemoFund, DemoPlan, DemoStep};
use crate::{grants, insurance, lending};

/// Generates the plan for a configuration: a pure function of it.
pub fn generate(config: &DemoConfig) -> DemoPlan {
    let mut gen = Gen::new(config);
    gen.setup_units();
    lending::generate(&mut gen);
    grants::generate(&mut gen);
    insurance::generate(&mut gen);
    gen.admin_steps();
    gen.finish()
}

/// A step's identity while the plan is generated (its creation number).
pub(crate) type Seq = u64;

/// A step before references are turned into step indices.
pub(crate) enum Draft {
    Command(Command),
    Reverse { of: Seq, reason: String },
    Approve { of: Seq },
    Reject { of: Seq, reason: String },
}

struct Item {
    date: NaiveDate,
    /// Order among steps of the same date: units, then registrations, then the rest.
    rank: u8,
    seq: Seq,
    draft: Draft,
    actor: UserId,
    memo: String,
    programme: Option<Programme>,
    expected_events: u32,
}

const RANK_UNITS: u8 = 0;
const RANK_REGISTRATION: u8 = 1;
const RANK_OTHER: u8 = 2;

/// A beneficiary waiting to be registered on its first use.
struct Registration {
    unit: UnitCode,
    kind: BeneficiaryKind,
    categories: BTreeSet<BeneficiaryCategory>,
    clerk: UserId,
    programme: Programme,
    first_use: Option<NaiveDate>,
}

/// A county of the demo province.
pub(crate) struct County {
    pub code: UnitCode,
    pub name: &'static str,
    pub villages: Vec<UnitCode>,
    pub clerk: UserId,
}

/// A city of the demo province.
pub(crate) struct City {
    pub code: UnitCode,
    pub name: &'static str,
    pub counties: Vec<County>,
    pub clerk: UserId,
    pub approver: UserId,
}

/// The whole generation context.
pub(crate) struct Gen {
    pub rng: StdRng,
    pub scale: Scale,
    pub span: YearSpan,
    pub end: NaiveDate,
    pub province: UnitCode,
    pub cities: Vec<City>,
    pub admin: UserId,
    pub province_clerk: UserId,
    pub province_approver: UserId,
    /// When the stale payment requests are expired (`None` if the span is too short).
    pub expiry_date: Option<NaiveDate>,
    /// Requests deliberately left undecided before `expiry_date`, by request date.
    pub abandoned: Vec<NaiveDate>,
    /// Requests whose decision would fall after the end: they stay pending.
    pub pending_left: u32,
    config: DemoConfig,
    items: Vec<Item>,
    next_seq: Seq,
    registry: BTreeMap<BeneficiaryId, Registration>,
    next_beneficiary: u32,
    actors: Vec<DemoActor>,
    funds: Vec<DemoFund>,
}

/// Fixed strings and dates are valid by construction.
pub(crate) fn unit(code: &str) -> UnitCode {
    UnitCode::new(code).expect("a valid unit code")
}

pub(crate) fn user(id: &str) -> UserId {
    UserId::new(id).expect("a valid user id")
}

pub(crate) fn fund_id(id: &str) -> FundId {
    FundId::new(id).expect("a valid fund id")
}

pub(crate) fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid calendar date")
}

pub(crate) fn plus_days(date: NaiveDate, days: u64) -> NaiveDate {
    date.checked_add_days(Days::new(days))
        .expect("demo dates stay in range")
}

pub(crate) fn plus_months(date: NaiveDate, months: u32) -> NaiveDate {
    date.checked_add_months(Months::new(months))
        .expect("demo dates stay in range")
}

/// An amount from fen; the generator never makes a negative or huge one.
pub(crate) fn fen(fen: i64) -> Amount {
    Amount::from_fen(fen).expect("a generated amount is valid")
}

/// Yuan as fen.
pub(crate) const fn yuan(yuan: i64) -> i64 {
    yuan * 100
}

/// 1 to 99 in Chinese numerals, for batch labels (第十七批).
pub(crate) fn chinese_number(n: u32) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    let (tens, ones) = (n / 10 % 10, n % 10);
    let mut text = String::new();
    if tens > 1 {
        text.push_str(DIGITS[tens as usize]);
    }
    if tens > 0 {
        text.push('十');
    }
    if ones > 0 || tens == 0 {
        text.push_str(DIGITS[ones as usize]);
    }
    text
}

impl Gen {
    fn new(config: &DemoConfig) -> Gen {
        let span = config.years;
        let admin = user("admin-fj");
        let province = unit(PROVINCE.0);
        let expiry_date = (span.last() > span.first()).then(|| day(span.first() + 1, 7, 1));
        let mut gen = Gen {
            rng: StdRng::seed_from_u64(config.seed),
            scale: config.scale,
            span,
            end: span.end(),
            province: province.clone(),
            cities: Vec::new(),
            admin: admin.clone(),
            province_clerk: user("clerk-fj"),
            province_approver: user("approver-fj"),
            expiry_date,
            abandoned: Vec::new(),
            pending_left: 0,
            config: *config,
            items: Vec::new(),
            next_seq: 0,
            registry: BTreeMap::new(),
            next_beneficiary: 0,
            actors: Vec::new(),
            funds: Vec::new(),
        };
        gen.actor(admin, ActorRole::Admin, &province);
        gen.actor(gen.province_clerk.clone(), ActorRole::Clerk, &province);
        gen.actor(
            gen.province_approver.clone(),
            ActorRole::Approver,
            &province,
        );
        gen
    }

    fn actor(&mut self, id: UserId, role: ActorRole, unit: &UnitCode) {
        self.actors.push(DemoActor {
            id,
            role,
            unit: unit.clone(),
        });
    }

    /// The first day of the demo.
    pub fn start(&self) -> NaiveDate {
        day(self.span.first(), 1, 2)
    }

    /// A uniformly random date between two dates, inclusive.
    pub fn date_between(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let days = (to - from).num_days().max(0);
        let offset = self.rng.gen_range(0..=days);
        plus_days(from, u64::try_from(offset).expect("non-negative"))
    }

    /// A random amount in whole multiples of `step_yuan` between two yuan figures.
    pub fn amount_between(&mut self, low_yuan: i64, high_yuan: i64, step_yuan: i64) -> i64 {
        let steps = (high_yuan - low_yuan) / step_yuan;
        yuan(low_yuan + self.rng.gen_range(0..=steps) * step_yuan)
    }

    /// Records a step; returns its identity for later references.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        date: NaiveDate,
        rank: u8,
        actor: &UserId,
        programme: Option<Programme>,
        memo: &str,
        draft: Draft,
        expected_events: u32,
    ) -> Seq {
        assert!(
            date <= self.end,
            "a step dated {date} is after the demo's end"
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        self.items.push(Item {
            date,
            rank,
            seq,
            draft,
            actor: actor.clone(),
            memo: memo.to_owned(),
            programme,
            expected_events,
        });
        seq
    }

    /// Records a command of a fund's stream.
    pub fn command(
        &mut self,
        date: NaiveDate,
        actor: &UserId,
        programme: Option<Programme>,
        memo: &str,
        command: Command,
    ) -> Seq {
        self.push(
            date,
            RANK_OTHER,
            actor,
            programme,
            memo,
            Draft::Command(command),
            1,
        )
    }

    /// Records an approval, a rejection or a reversal.
    pub fn follow_up(
        &mut self,
        date: NaiveDate,
        actor: &UserId,
        programme: Programme,
        memo: &str,
        draft: Draft,
    ) -> Seq {
        let expected = match draft {
            Draft::Approve { .. } => 2,
            _ => 1,
        };
        self.push(
            date,
            RANK_OTHER,
            actor,
            Some(programme),
            memo,
            draft,
            expected,
        )
    }

    /// Opens a fund (by the admin) and remembers it.
    #[allow(clippy::too_many_arguments)]
    pub fn open_fund(
        &mut self,
        date: NaiveDate,
        fund: &FundId,
        unit: &UnitCode,
        programme: Programme,
        name: String,
        fiscal_year: Option<i32>,
        threshold_fen: Option<i64>,
        insurance_model: Option<ledger_domain::InsuranceModel>,
    ) {
        let admin = self.admin.clone();
        self.command(
            date,
            &admin,
            Some(programme),
            "设立资金账户",
            Command::OpenFund {
                fund: fund.clone(),
                unit: unit.clone(),
                programme,
                name,
                fiscal_year,
                approval_threshold: threshold_fen.map(fen),
                insurance_model,
            },
        );
        self.funds.push(DemoFund {
            id: fund.clone(),
            unit: unit.clone(),
            programme,
        });
    }

    /// Commits and receives an appropriation on two dates (`receive_fen` may be less
    /// than committed: the rest is still to arrive).
    #[allow(clippy::too_many_arguments)]
    pub fn appropriation(
        &mut self,
        clerk: &UserId,
        programme: Programme,
        fund: &FundId,
        tier: FundingTier,
        committed_on: NaiveDate,
        commit_fen: i64,
        received_on: NaiveDate,
        receive_fen: i64,
    ) {
        let reference = format!(
            "{} {}年 {}级下达",
            fund,
            committed_on.year(),
            tier_word(tier)
        );
        self.command(
            committed_on,
            clerk,
            Some(programme),
            "资金下达文件",
            Command::CommitAppropriation {
                fund: fund.clone(),
                tier,
                amount: fen(commit_fen),
                reference: Some(reference),
            },
        );
        if receive_fen > 0 {
            self.command(
                received_on,
                clerk,
                Some(programme),
                "资金到位 银行回单",
                Command::ReceiveAppropriation {
                    fund: fund.clone(),
                    tier,
                    amount: fen(receive_fen),
                    reference: None,
                },
            );
        }
    }

    /// A new opaque beneficiary, registered on the date of its first use.
    pub fn new_beneficiary(
        &mut self,
        unit: &UnitCode,
        kind: BeneficiaryKind,
        categories: &[BeneficiaryCategory],
        clerk: &UserId,
        programme: Programme,
    ) -> BeneficiaryId {
        self.next_beneficiary += 1;
        let id = BeneficiaryId::new(format!("b-{:06}", self.next_beneficiary))
            .expect("an opaque beneficiary id");
        self.registry.insert(
            id.clone(),
            Registration {
                unit: unit.clone(),
                kind,
                categories: categories.iter().copied().collect(),
                clerk: clerk.clone(),
                programme,
                first_use: None,
            },
        );
        id
    }

    /// Notes that a step dated `date` names the beneficiary.
    pub fn touch(&mut self, beneficiary: &BeneficiaryId, date: NaiveDate) {
        let r = self
            .registry
            .get_mut(beneficiary)
            .expect("beneficiaries are created before use");
        r.first_use = Some(r.first_use.map_or(date, |d| d.min(date)));
    }

    /// The province, cities, counties, townships and villages, registered on the first day.
    fn setup_units(&mut self) {
        let date = self.start();
        let admin = self.admin.clone();
        let register = |gen: &mut Gen, code: &UnitCode, name: String, level, parent| {
            gen.push(
                date,
                RANK_UNITS,
                &admin,
                None,
                "建立计生协组织机构",
                Draft::Command(Command::RegisterUnit {
                    unit: code.clone(),
                    name,
                    level,
                    parent,
                }),
                1,
            );
        };
        let province = self.province.clone();
        register(
            self,
            &province,
            format!("{}计划生育协会", PROVINCE.1),
            UnitLevel::Province,
            None,
        );
        for seed in &CITIES {
            let city_code = unit(&format!("{}-{}", PROVINCE.0, seed.code));
            register(
                self,
                &city_code,
                format!("{}计划生育协会", seed.name),
                UnitLevel::City,
                Some(province.clone()),
            );
            let lower = city_code.as_str().to_ascii_lowercase();
            let mut city = City {
                code: city_code.clone(),
                name: seed.name,
                counties: Vec::new(),
                clerk: user(&format!("clerk-{lower}")),
                approver: user(&format!("approver-{lower}")),
            };
            self.actor(city.clerk.clone(), ActorRole::Clerk, &city_code);
            self.actor(city.approver.clone(), ActorRole::Approver, &city_code);
            for c in seed.counties {
                let county_code = unit(&format!("{city_code}-{}", c.code));
                register(
                    self,
                    &county_code,
                    format!("{}计划生育协会", c.name),
                    UnitLevel::County,
                    Some(city_code.clone()),
                );
                let clerk = user(&format!(
                    "clerk-{}",
                    county_code.as_str().to_ascii_lowercase()
                ));
                self.actor(clerk.clone(), ActorRole::Clerk, &county_code);
                let mut villages = Vec::new();
                for t in 1..=TOWNSHIPS_PER_COUNTY {
                    let township = unit(&format!("{county_code}-{t:02}"));
                    let name = geography::township_name(&mut self.rng, c.district);
                    register(
                        self,
                        &township,
                        format!("{name}计生协"),
                        UnitLevel::Township,
                        Some(county_code.clone()),
                    );
                    for v in 1..=VILLAGES_PER_TOWNSHIP {
                        let village = unit(&format!("{township}-{v:03}"));
                        let name = geography::village_name(&mut self.rng, c.district);
                        register(
                            self,
                            &village,
                            format!("{name}计生协"),
                            UnitLevel::Village,
                            Some(township.clone()),
                        );
                        villages.push(village);
                    }
                }
                city.counties.push(County {
                    code: county_code,
                    name: c.name,
                    villages,
                    clerk,
                });
            }
            self.cities.push(city);
        }
    }

    /// Period closes and the expiry of stale requests.
    fn admin_steps(&mut self) {
        let admin = self.admin.clone();
        let province = self.province.clone();
        // The province closes each of the first two years at the end of the next March
        // (annual accounts approved), whole subtree.
        for year in self.span.first()..self.span.last().min(self.span.first() + 2) {
            self.command(
                day(year + 1, 3, 31),
                &admin,
                None,
                "年度决算审定，结账",
                Command::ClosePeriod {
                    unit: province.clone(),
                    period: Period::Year { year },
                },
            );
        }
        // Xiamen closes June of the last year (monthly close).
        let xiamen = unit("FJ-XM");
        self.command(
            day(self.span.last(), 7, 10),
            &admin,
            None,
            "月度结账",
            Command::ClosePeriod {
                unit: xiamen,
                period: Period::Month {
                    year: self.span.last(),
                    month: 6,
                },
            },
        );
        if let Some(as_of) = self.expiry_date {
            let expired = self
                .abandoned
                .iter()
                .filter(|&&requested| plus_days(requested, 30) < as_of)
                .count();
            if expired > 0 {
                self.push(
                    as_of,
                    RANK_OTHER,
                    &admin,
                    None,
                    "清理逾期未审批的支付申请",
                    Draft::Command(Command::ExpireRequests { as_of }),
                    u32::try_from(expired).expect("few abandoned requests"),
                );
            }
        }
    }

    /// Registrations, the merge by date, and references turned into step indices.
    fn finish(mut self) -> DemoPlan {
        let registry = std::mem::take(&mut self.registry);
        for (beneficiary, r) in registry {
            let Some(first_use) = r.first_use else {
                continue;
            };
            self.push(
                first_use,
                RANK_REGISTRATION,
                &r.clerk,
                Some(r.programme),
                "登记受助对象（匿名编号）",
                Draft::Command(Command::RegisterBeneficiary {
                    beneficiary,
                    unit: r.unit,
                    kind: r.kind,
                    categories: r.categories,
                }),
                1,
            );
        }
        let mut items = std::mem::take(&mut self.items);
        items.sort_by_key(|i| (i.date, i.rank, i.seq));
        let mut index_of = BTreeMap::new();
        for (index, item) in items.iter().enumerate() {
            index_of.insert(item.seq, index);
        }
        let steps = items
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                let resolve = |of: Seq| {
                    let target = index_of[&of];
                    assert!(target < index, "a step refers only to earlier steps");
                    target
                };
                let action = match item.draft {
                    Draft::Command(command) => DemoAction::Command(command),
                    Draft::Reverse { of, reason } => DemoAction::Reverse {
                        of_step: resolve(of),
                        reason,
                    },
                    Draft::Approve { of } => DemoAction::Approve {
                        of_step: resolve(of),
                    },
                    Draft::Reject { of, reason } => DemoAction::Reject {
                        of_step: resolve(of),
                        reason,
                    },
                };
                DemoStep {
                    action,
                    actor: item.actor,
                    effective_date: item.date,
                    memo: item.memo,
                    programme: item.programme,
                    expected_events: item.expected_events,
                }
            })
            .collect();
        DemoPlan {
            config: self.config,
            steps,
            actors: self.actors,
            funds: self.funds,
            pending_requests_left: self.pending_left,
        }
    }
}

/// The Chinese word of a funding tier, for references and memos.
pub(crate) fn tier_word(tier: FundingTier) -> &'static str {
    match tier {
        FundingTier::Province => "省",
        FundingTier::City => "市",
        FundingTier::County => "县",
        FundingTier::Township => "乡镇",
        FundingTier::Village => "村",
        FundingTier::HouseholdContribution => "个人缴费",
        FundingTier::Insurer => "保险公司",
        FundingTier::Donation => "社会捐赠",
        FundingTier::Interest => "利息",
    }
}

/// A fund's own agenda: tasks ordered by date, then by when they were scheduled.
pub(crate) struct Agenda<T> {
    heap: BinaryHeap<Reverse<(NaiveDate, u64)>>,
    tasks: BTreeMap<u64, T>,
    next: u64,
    end: NaiveDate,
}

impl<T> Agenda<T> {
    pub fn new(end: NaiveDate) -> Agenda<T> {
        Agenda {
            heap: BinaryHeap::new(),
            tasks: BTreeMap::new(),
            next: 0,
            end,
        }
    }

    /// Schedules a task; returns false (and drops it) if it falls after the demo's end.
    pub fn at(&mut self, date: NaiveDate, task: T) -> bool {
        if date > self.end {
            return false;
        }
        let n = self.next;
        self.next += 1;
        self.heap.push(Reverse((date, n)));
        self.tasks.insert(n, task);
        true
    }

    /// The earliest task.
    pub fn pop(&mut self) -> Option<(NaiveDate, T)> {
        let Reverse((date, n)) = self.heap.pop()?;
        let task = self.tasks.remove(&n).expect("every scheduled task is kept");
        Some((date, task))
    }
}

/// Available and reserved cash of one fund, by tier, in fen: the shadow of the
/// domain's "available cash never goes below zero".
#[derive(Debug, Default, Clone)]
pub(crate) struct Cash {
    available: [i64; 9],
}

impl Cash {
    pub fn available(&self, tier: FundingTier) -> i64 {
        self.available[tier.index()]
    }

    pub fn add(&mut self, tier: FundingTier, fen: i64) {
        self.available[tier.index()] += fen;
    }

    /// Takes cash out; the generator only asks for what it checked is there.
    pub fn take(&mut self, tier: FundingTier, fen: i64) {
        let slot = &mut self.available[tier.index()];
        assert!(
            *slot >= fen,
            "the generator overdrew the {tier} tier: {} < {fen} fen",
            *slot
        );
        *slot -= fen;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_numbers_read_as_chinese_numerals() {
        let read: Vec<String> = [1, 10, 15, 20, 21, 99].map(chinese_number).to_vec();
        assert_eq!(read, ["一", "十", "十五", "二十", "二十一", "九十九"]);
    }

    #[test]
    fn the_agenda_gives_tasks_in_date_order_then_in_order_of_scheduling() {
        let mut agenda = Agenda::new(day(2025, 12, 31));
        assert!(agenda.at(day(2021, 3, 1), "b"));
        assert!(agenda.at(day(2021, 1, 1), "a"));
        assert!(agenda.at(day(2021, 3, 1), "c"));
        assert!(!agenda.at(day(2026, 1, 1), "after the end"));
        let order: Vec<&str> = std::iter::from_fn(|| agenda.pop().map(|(_, t)| t)).collect();
        assert_eq!(order, ["a", "b", "c"]);
    }
}
