//! The reading subcommands: balances, statements, programme, insurance and loan
//! reports, the audit trail, pending requests, units and funds.
//!
//! Reads wait until the projections have reached the log's head (`projections_after`),
//! so a read right after a write sees it. `--at-position N` answers as the ledger stood
//! after the event at position N (a fold of the log's first N+1 events, as the HTTP
//! API's `at_position`); `--as-of DATE` takes every event dated on or before DATE.
//! Without `--user` the console reads the whole ledger (whoever can open the data
//! directory can read its files); with `--user` the user's scope is checked as the
//! HTTP API checks it.

use std::time::Duration;

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use ledger_domain::access::{may_read_fund, may_read_unit};
use ledger_domain::catalogue::{YEAR_MAX, YEAR_MIN};
use ledger_domain::{BeneficiaryId, FundId, Money, State, UnitCode, User, UserId};
use ledger_engine::{Engine, Projections};
use ledger_projections::{
    AuditRecord, DateRange, FundFigures, InsuranceFigures, LoanReport, Page, PageRequest,
    ProgrammeRow,
};
use ledger_store::SledBackend;
use serde_json::json;

use crate::args::{AtPosition, LineArg, Paging, Range, When};
use crate::error::{exit, rejected, Failure};
use crate::table::{pairs, percent, Table};
use crate::{ledger, staff, Cli};

/// How long a read waits for the projections to reach the head. Opening a ledger
/// resumes each projection from its last checkpoint, so a large tail takes a while.
const READ_WAIT: Duration = Duration::from_secs(600);

/// `fund ...` (reads).
#[derive(Subcommand, Debug)]
pub enum FundRead {
    /// A fund's figures: now, as of an effective date, or at a log position.
    Balance {
        fund: FundId,
        #[command(flatten)]
        when: When,
    },
    /// A fund's statement for a range of effective dates, with the running balance.
    Statement {
        fund: FundId,
        #[command(flatten)]
        range: Range,
        #[command(flatten)]
        position: AtPosition,
        #[command(flatten)]
        paging: Paging,
    },
    /// The funds and their units, programmes and approval thresholds.
    List,
}

/// `report ...`
#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// Programme totals, beneficiaries helped, rates and growth for a unit's subtree.
    Programmes {
        unit: UnitCode,
        #[command(flatten)]
        range: Range,
        #[command(flatten)]
        position: AtPosition,
    },
    /// Premiums, cover, claims and loss ratios for a unit's subtree and a policy line.
    Insurance {
        unit: UnitCode,
        #[arg(long, value_enum)]
        line: LineArg,
        #[command(flatten)]
        range: Range,
        #[command(flatten)]
        position: AtPosition,
    },
    /// Lending figures, repayment rate, overdue principal, PAR30 and revolving rounds,
    /// of one fund or a unit's subtree.
    Loans {
        #[command(flatten)]
        target: LoanTarget,
        #[command(flatten)]
        when: When,
    },
}

/// A loan report's subject: a fund or a unit.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct LoanTarget {
    /// A Happiness Project or revolving fund.
    #[arg(long)]
    fund: Option<FundId>,
    /// A unit: every lending fund in its subtree.
    #[arg(long)]
    unit: Option<UnitCode>,
}

/// `audit ...`: the audit trail by one key.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Every event of a fund.
    Fund {
        fund: FundId,
        #[command(flatten)]
        paging: Paging,
    },
    /// Every event naming a beneficiary.
    Beneficiary {
        beneficiary: BeneficiaryId,
        #[command(flatten)]
        paging: Paging,
    },
    /// Every event a member of staff recorded.
    Actor {
        actor: UserId,
        #[command(flatten)]
        paging: Paging,
    },
    /// The events of one command.
    Command {
        command_id: String,
        #[command(flatten)]
        paging: Paging,
    },
    /// Every event with an effective date in a range.
    Dates {
        #[command(flatten)]
        range: Range,
        #[command(flatten)]
        paging: Paging,
    },
    /// One event: its audit record and the decoded event.
    Event { position: u64 },
}

/// `request ...` (reads).
#[derive(Subcommand, Debug)]
pub enum RequestRead {
    /// Payment requests waiting for approval.
    List,
}

/// The user reading, if `--user` names one: an active user whose scope is checked.
fn reader(cli: &Cli, state: &State) -> Result<Option<(UserId, User)>, Failure> {
    if cli.user.is_none() {
        return Ok(None);
    }
    let id = staff::acting_user(cli)?;
    match state.access().user(&id) {
        Some(user) if user.is_active() => Ok(Some((id, user.clone()))),
        Some(_) => Err(rejected(format!("user {id} is disabled"))),
        None => Err(rejected(format!(
            "there is no user {id}; `welfare-ledger user list` shows the users"
        ))),
    }
}

fn out_of_scope(id: &UserId, user: &User, what: &str) -> Failure {
    rejected(format!(
        "user {id} works within unit {}, and {what} lies outside it",
        user.scope().map_or("-".to_string(), ToString::to_string)
    ))
}

fn check_fund(cli: &Cli, engine: &Engine<SledBackend>, fund: &FundId) -> Result<(), Failure> {
    engine.read(|m| match reader(cli, m.state())? {
        Some((id, user)) if !may_read_fund(m.state(), &user, fund) => {
            Err(out_of_scope(&id, &user, &format!("fund {fund}")))
        }
        _ => Ok(()),
    })
}

fn check_unit(cli: &Cli, engine: &Engine<SledBackend>, unit: &UnitCode) -> Result<(), Failure> {
    engine.read(|m| match reader(cli, m.state())? {
        Some((id, user)) if !may_read_unit(m.state(), &user, unit) => {
            Err(out_of_scope(&id, &user, &format!("unit {unit}")))
        }
        _ => Ok(()),
    })
}

fn check_everything(cli: &Cli, engine: &Engine<SledBackend>, what: &str) -> Result<(), Failure> {
    engine.read(|m| match reader(cli, m.state())? {
        Some((id, user)) if !user.reads_whole_ledger() => Err(rejected(format!(
            "user {id} is a {} of unit {}; {what} is for auditors and admins of the whole ledger",
            user.role(),
            user.scope().map_or("-".to_string(), ToString::to_string)
        ))),
        _ => Ok(()),
    })
}

/// Runs `query` over the projections: the live ones once they reach the head, or a
/// fold of the log up to `at_position` inclusive.
fn with_projections<R>(
    engine: &Engine<SledBackend>,
    at_position: Option<u64>,
    query: impl FnOnce(&Projections) -> Result<R, Failure>,
) -> Result<R, Failure> {
    let head = engine.head().next_position;
    match at_position {
        Some(position) => {
            if position >= head {
                return Err(rejected(format!(
                    "the log holds positions 0 to {}; there is no position {position}",
                    head.saturating_sub(1)
                )));
            }
            query(&engine.projections_at_position(position + 1)?)
        }
        None => engine.projections_after(head, READ_WAIT, query)?,
    }
}

fn range(r: &Range) -> Result<DateRange, Failure> {
    Ok(match (r.year, r.from, r.to) {
        (Some(year), _, _) => DateRange::year(year)?,
        (None, from, to) => {
            let first = NaiveDate::from_ymd_opt(YEAR_MIN, 1, 1).expect("valid");
            let last = NaiveDate::from_ymd_opt(YEAR_MAX, 12, 31).expect("valid");
            DateRange::new(
                from.unwrap_or(first),
                to.unwrap_or(ledger::today().min(last)),
            )?
        }
    })
}

fn page(p: &Paging) -> Result<PageRequest, Failure> {
    Ok(PageRequest::new(p.offset, p.limit)?)
}

fn print_json(value: &impl serde::Serialize) -> Result<u8, Failure> {
    println!(
        "{}",
        serde_json::to_string(value).map_err(|e| rejected(e.to_string()))?
    );
    Ok(exit::OK)
}

/// A heading with the money unit: `拨付 disbursed (元)`.
fn money_heading(cli: &Cli, heading: &str) -> String {
    format!("{heading} ({})>", cli.money_unit().label())
}

fn money(cli: &Cli, m: Money) -> String {
    cli.money_unit().money(m)
}

pub fn fund(cli: &Cli, command: &FundRead) -> Result<u8, Failure> {
    let engine = ledger::open_engine(&cli.data)?;
    match command {
        FundRead::Balance { fund, when } => {
            check_fund(cli, &engine, fund)?;
            let at = when.position.at_position;
            let figures = with_projections(&engine, at, |p| {
                Ok(match when.as_of {
                    Some(date) => p.fund_ledger.balance_as_of(fund, date)?,
                    None => p.fund_ledger.balance(fund)?,
                })
            })?;
            if cli.json {
                return print_json(&json!({
                    "fund": fund,
                    "as_of": when.as_of,
                    "at_position": at,
                    "budget_execution_rate": figures.budget_execution_rate(),
                    "revolving_rounds": figures.revolving_rounds().map(|d| d.to_string()),
                    "figures": figures,
                }));
            }
            let when_text = match (when.as_of, at) {
                (Some(date), _) => format!("as of {date}"),
                (None, Some(p)) => format!("after the event at position {p}"),
                (None, None) => "now".to_string(),
            };
            println!(
                "资金 fund {fund}, {when_text} (金额 amounts in {})",
                cli.money_unit().label()
            );
            print_figures(cli, &figures);
            Ok(exit::OK)
        }
        FundRead::Statement {
            fund,
            range: r,
            position,
            paging,
        } => {
            check_fund(cli, &engine, fund)?;
            let range = range(r)?;
            let page = page(paging)?;
            let statement = with_projections(&engine, position.at_position, |p| {
                Ok(p.fund_ledger.statement(fund, range, page, &engine)?)
            })?;
            if cli.json {
                return print_json(&statement);
            }
            println!(
                "资金 fund {fund}: 对账单 statement {} to {}",
                range.from(),
                range.to()
            );
            println!(
                "期初可用 opening available {}  期末可用 closing available {}  ({})",
                money(cli, statement.opening.available),
                money(cli, statement.closing.available),
                cli.money_unit().label()
            );
            let mut table = Table::new(&[
                "位置 position>",
                "业务日期 date",
                "事件 event",
                "经办人 actor",
                &money_heading(cli, "可用变动 change"),
                &money_heading(cli, "可用余额 available"),
                &money_heading(cli, "累计拨付 disbursed"),
                "备注 memo",
            ]);
            for line in &statement.lines.items {
                table.row(vec![
                    line.position.to_string(),
                    line.effective_date.to_string(),
                    line.event_type.to_string(),
                    line.actor.to_string(),
                    money(cli, line.change.available),
                    money(cli, line.balance.available),
                    money(cli, line.balance.disbursed),
                    line.memo.clone(),
                ]);
            }
            table.print();
            print_page_note(&statement.lines);
            Ok(exit::OK)
        }
        FundRead::List => {
            let rows = engine.read(|m| -> Result<Vec<_>, Failure> {
                let state = m.state();
                let who = reader(cli, state)?;
                Ok(state
                    .funds()
                    .filter(|(id, _)| {
                        who.as_ref()
                            .is_none_or(|(_, user)| may_read_fund(state, user, id))
                    })
                    .map(|(id, f)| {
                        json!({
                            "fund": id,
                            "unit": f.unit(),
                            "programme": f.programme(),
                            "name": f.name(),
                            "fiscal_year": f.fiscal_year(),
                            "approval_threshold": f.approval_threshold(),
                            "insurance_model": f.insurance_model(),
                        })
                    })
                    .collect())
            })?;
            if cli.json {
                return print_json(&json!({ "funds": rows }));
            }
            let mut table = Table::new(&[
                "资金 fund",
                "单位 unit",
                "项目 programme",
                "年度 year",
                &money_heading(cli, "审批门槛 threshold"),
                "名称 name",
            ]);
            for r in &rows {
                let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
                table.row(vec![
                    text("fund"),
                    text("unit"),
                    text("programme"),
                    r["fiscal_year"]
                        .as_i64()
                        .map_or(String::new(), |y| y.to_string()),
                    r["approval_threshold"]
                        .as_str()
                        .and_then(|a| ledger_domain::Amount::parse_plain(a).ok())
                        .map_or("—".to_string(), |a| money(cli, a.to_money())),
                    text("name"),
                ]);
            }
            table.print();
            Ok(exit::OK)
        }
    }
}

fn print_page_note<T>(page: &Page<T>) {
    if let Some(next) = page.next_offset {
        println!(
            "({} of {} shown; the next page: --offset {next})",
            page.items.len(),
            page.total
        );
    } else if page.total == 0 {
        println!("(none)");
    }
}

fn print_figures(cli: &Cli, f: &FundFigures) {
    let m = |x: Money| money(cli, x);
    println!(
        "{}",
        pairs(&[
            ("下达 committed", m(f.committed)),
            ("到位 received", m(f.received)),
            ("拨付 disbursed", m(f.disbursed)),
            ("放贷 lent", m(f.lent)),
            ("回收 repaid", m(f.repaid)),
            ("在贷 loans outstanding", m(f.loans_outstanding)),
            ("核销 written off", m(f.written_off)),
            ("待审批 reserved", m(f.reserved)),
            ("可用 available", m(f.available)),
            ("利息收入 interest income", m(f.interest_income)),
            (
                "个人缴费 household contributions",
                m(f.household_contributions)
            ),
            (
                "执行率 budget execution",
                percent(f.budget_execution_rate())
            ),
            (
                "周转轮次 revolving rounds",
                f.revolving_rounds()
                    .map_or("—".to_string(), |d| d.to_string()),
            ),
        ])
    );
    if f.by_tier.is_empty() {
        return;
    }
    println!();
    let mut table = Table::new(&[
        "层级 tier",
        &money_heading(cli, "下达 committed"),
        &money_heading(cli, "到位 received"),
        &money_heading(cli, "拨付 disbursed"),
        &money_heading(cli, "在贷 outstanding"),
        &money_heading(cli, "可用 available"),
        "到位率 arrival>",
    ]);
    for (tier, t) in &f.by_tier {
        table.row(vec![
            tier.label().to_string(),
            m(t.committed),
            m(t.received),
            m(t.disbursed),
            m(t.loans_outstanding),
            m(t.available),
            percent(t.arrival_rate()),
        ]);
    }
    table.print();
}

pub fn report(cli: &Cli, command: &ReportCommand) -> Result<u8, Failure> {
    let engine = ledger::open_engine(&cli.data)?;
    match command {
        ReportCommand::Programmes {
            unit,
            range: r,
            position,
        } => {
            check_unit(cli, &engine, unit)?;
            let range = range(r)?;
            let report = with_projections(&engine, position.at_position, |p| {
                Ok(p.programmes.report(unit, range)?)
            })?;
            if cli.json {
                return print_json(&report);
            }
            println!(
                "单位 unit {unit} (含下级 with its subtree): 项目报表 programme report {} to {}",
                range.from(),
                range.to()
            );
            programme_table(cli, &report.rows).print();
            for child in report.children.iter().filter(|c| !c.rows.is_empty()) {
                println!();
                println!("下级单位 subunit {}", child.unit);
                programme_table(cli, &child.rows).print();
            }
            Ok(exit::OK)
        }
        ReportCommand::Insurance {
            unit,
            line,
            range: r,
            position,
        } => {
            check_unit(cli, &engine, unit)?;
            let range = range(r)?;
            let line = (*line).into();
            let report = with_projections(&engine, position.at_position, |p| {
                Ok(p.insurance.report(unit, line, range)?)
            })?;
            if cli.json {
                return print_json(&report);
            }
            println!(
                "单位 unit {unit}, 险种 line {}: 保险报表 insurance report {} to {} (金额 amounts in {})",
                line.label(),
                range.from(),
                range.to(),
                cli.money_unit().label()
            );
            print_insurance(
                cli,
                &report.figures,
                (
                    "保费同比 premium growth",
                    percent(report.premium_growth.value),
                ),
            );
            Ok(exit::OK)
        }
        ReportCommand::Loans { target, when } => {
            let date = when.as_of.unwrap_or_else(ledger::today);
            let report = match (&target.fund, &target.unit) {
                (Some(fund), _) => {
                    check_fund(cli, &engine, fund)?;
                    with_projections(&engine, when.position.at_position, |p| {
                        Ok(p.loans.fund_report(fund, date)?)
                    })?
                }
                (None, Some(unit)) => {
                    check_unit(cli, &engine, unit)?;
                    with_projections(&engine, when.position.at_position, |p| {
                        Ok(p.loans.unit_report(unit, date)?)
                    })?
                }
                (None, None) => return Err(rejected("give --fund or --unit")),
            };
            if cli.json {
                return print_json(&report);
            }
            let subject = target
                .fund
                .as_ref()
                .map(|f| format!("资金 fund {f}"))
                .or_else(|| target.unit.as_ref().map(|u| format!("单位 unit {u}")))
                .unwrap_or_default();
            println!(
                "{subject}: 贷款报表 loan report as of {} (金额 amounts in {})",
                report.as_of,
                cli.money_unit().label()
            );
            print_loans(cli, &report);
            Ok(exit::OK)
        }
    }
}

fn programme_table(cli: &Cli, rows: &[ProgrammeRow]) -> Table {
    let mut table = Table::new(&[
        "项目 programme",
        "资金数 funds>",
        &money_heading(cli, "下达 committed"),
        &money_heading(cli, "到位 received"),
        &money_heading(cli, "拨付 disbursed"),
        "受益 helped>",
        "执行率 execution>",
        "到位率 arrival>",
        "同比 growth>",
    ]);
    for r in rows {
        table.row(vec![
            r.programme.label().to_string(),
            r.funds.to_string(),
            money(cli, r.committed),
            money(cli, r.received),
            money(cli, r.disbursed),
            r.helped.beneficiaries.to_string(),
            percent(r.budget_execution_rate),
            percent(r.arrival_rate),
            percent(r.disbursed_growth),
        ]);
    }
    table
}

fn print_insurance(cli: &Cli, f: &InsuranceFigures, growth: (&str, String)) {
    let m = |x: Money| money(cli, x);
    let mut rows = vec![
        ("保费(含税) premium incl. tax", m(f.premium_tax_inclusive)),
        ("保费(不含税) premium excl. tax", m(f.premium_tax_exclusive)),
        ("户数 households", f.households.to_string()),
        ("人数 persons", f.persons.to_string()),
        ("赔案数 claims", f.claims_count.to_string()),
        ("已决赔款 claims paid", m(f.claims_paid)),
        ("保险公司赔付 paid by insurer", m(f.claims_paid_by_insurer)),
        ("资金赔付 paid by fund", m(f.claims_paid_by_fund)),
        (
            "未决(期末) reserve at end",
            f.reserve_at_end.map_or("—".to_string(), m),
        ),
        (
            "简单赔付率 simple loss ratio",
            percent(f.simple_loss_ratio.value),
        ),
    ];
    if let Some(incurred) = &f.incurred_loss_ratio {
        rows.push(("已发生赔付率 incurred loss ratio", percent(incurred.value)));
    }
    rows.push(growth);
    println!("{}", pairs(&rows));
}

fn print_loans(cli: &Cli, r: &LoanReport) {
    let m = |x: Money| money(cli, x);
    println!(
        "{}",
        pairs(&[
            ("资金数 funds", r.funds.to_string()),
            ("笔数 loans", r.loans.to_string()),
            ("借款人 borrowers", r.borrowers.to_string()),
            ("本金到位 capital received", m(r.capital_received)),
            ("放贷 disbursed", m(r.disbursed)),
            ("回收 repaid", m(r.repaid)),
            ("利息 interest received", m(r.interest_received)),
            ("在贷 outstanding", m(r.outstanding)),
            ("核销 written off", m(r.written_off)),
            ("应还 principal due", m(r.principal_due)),
            ("按期还 repaid on time", m(r.repaid_on_time)),
            ("还款率 repayment rate", percent(r.repayment_rate)),
            ("逾期本金 overdue principal", m(r.overdue_principal)),
            (
                "风险笔数 loans at risk (PAR30)",
                r.loans_at_risk.to_string()
            ),
            ("风险余额 outstanding at risk", m(r.outstanding_at_risk)),
            ("PAR30", percent(r.par30)),
            (
                "周转轮次 revolving rounds",
                r.revolving_rounds
                    .map_or("—".to_string(), |d| d.to_string()),
            ),
        ])
    );
}

pub fn audit(cli: &Cli, command: &AuditCommand) -> Result<u8, Failure> {
    let engine = ledger::open_engine(&cli.data)?;
    let trail = match command {
        AuditCommand::Event { position } => return audit_event(cli, &engine, *position),
        AuditCommand::Fund { fund, paging } => {
            check_fund(cli, &engine, fund)?;
            let page = page(paging)?;
            with_projections(&engine, None, |p| {
                Ok(p.audit.by_fund(fund, None, page, &engine)?)
            })?
        }
        AuditCommand::Beneficiary {
            beneficiary,
            paging,
        } => {
            let unit =
                engine.read(|m| m.state().beneficiary(beneficiary).map(|b| b.unit().clone()));
            match unit {
                Some(unit) => check_unit(cli, &engine, &unit)?,
                None => check_everything(cli, &engine, "the trail of an unknown beneficiary")?,
            }
            let page = page(paging)?;
            with_projections(&engine, None, |p| {
                Ok(p.audit.by_beneficiary(beneficiary, None, page, &engine)?)
            })?
        }
        AuditCommand::Actor { actor, paging } => {
            check_everything(cli, &engine, "the trail by actor")?;
            let page = page(paging)?;
            with_projections(&engine, None, |p| {
                Ok(p.audit.by_actor(actor, None, page, &engine)?)
            })?
        }
        AuditCommand::Command { command_id, paging } => {
            check_everything(cli, &engine, "the trail by command")?;
            let page = page(paging)?;
            with_projections(&engine, None, |p| {
                Ok(p.audit.by_command(command_id, None, page, &engine)?)
            })?
        }
        AuditCommand::Dates { range: r, paging } => {
            check_everything(cli, &engine, "the trail by date")?;
            let range = range(r)?;
            let page = page(paging)?;
            with_projections(&engine, None, |p| {
                Ok(p.audit.by_effective_dates(range, page, &engine)?)
            })?
        }
    };
    if cli.json {
        return print_json(&trail);
    }
    audit_table(&trail.items).print();
    print_page_note(&trail);
    Ok(exit::OK)
}

fn audit_table(records: &[AuditRecord]) -> Table {
    let mut table = Table::new(&[
        "位置 position>",
        "业务日期 date",
        "事件 event",
        "经办人 actor",
        "指令号 command",
        "资金 fund",
        "受益人 beneficiary",
        "冲正 reversal",
        "备注 memo",
    ]);
    for r in records {
        let reversal = match (r.reverses, r.reversed_by) {
            (Some(p), _) => format!("reverses {p}"),
            (None, Some(p)) => format!("reversed by {p}"),
            (None, None) => String::new(),
        };
        table.row(vec![
            r.position.to_string(),
            r.effective_date.to_string(),
            r.event_type.to_string(),
            r.actor.to_string(),
            r.command_id.clone(),
            r.fund.as_ref().map_or(String::new(), ToString::to_string),
            r.beneficiary
                .as_ref()
                .map_or(String::new(), ToString::to_string),
            reversal,
            r.memo.clone(),
        ]);
    }
    table
}

fn audit_event(cli: &Cli, engine: &Engine<SledBackend>, position: u64) -> Result<u8, Failure> {
    let record = with_projections(engine, None, |p| {
        p.audit
            .entry(position, engine)?
            .ok_or_else(|| rejected(format!("there is no event at position {position}")))
    })?;
    match &record.fund {
        Some(fund) => check_fund(cli, engine, fund)?,
        None => check_everything(cli, engine, "an event outside any fund")?,
    }
    let stored = engine
        .log()?
        .read_all(position, 1)?
        .pop()
        .ok_or_else(|| rejected(format!("there is no event at position {position}")))?;
    let recorded = ledger_engine::recorded_event(&stored)?;
    if cli.json {
        return print_json(&json!({ "audit": record, "event": recorded.event }));
    }
    audit_table(std::slice::from_ref(&record)).print();
    println!();
    println!(
        "{}",
        serde_json::to_string_pretty(&recorded.event).map_err(|e| rejected(e.to_string()))?
    );
    Ok(exit::OK)
}

pub fn requests(cli: &Cli, command: &RequestRead) -> Result<u8, Failure> {
    let RequestRead::List = command;
    let engine = ledger::open_engine(&cli.data)?;
    let rows = engine.read(|m| -> Result<Vec<_>, Failure> {
        let state = m.state();
        let who = reader(cli, state)?;
        Ok(state
            .pending_requests()
            .filter(|(_, r)| {
                who.as_ref()
                    .is_none_or(|(_, user)| may_read_fund(state, user, r.fund()))
            })
            .map(|(request, r)| {
                json!({
                    "request": request,
                    "fund": r.fund(),
                    "maker": r.maker(),
                    "requested_on": r.requested_on(),
                    "expires_on": r.expires_on(),
                    "reserved": r.reserved().total(),
                    "payment": r.payment(),
                })
            })
            .collect())
    })?;
    if cli.json {
        return print_json(&json!({ "requests": rows }));
    }
    let mut table = Table::new(&[
        "申请 request>",
        "资金 fund",
        "经办人 maker",
        "申请日 requested",
        "到期日 expires",
        &money_heading(cli, "冻结 reserved"),
    ]);
    for r in &rows {
        let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
        table.row(vec![
            r["request"].to_string(),
            text("fund"),
            text("maker"),
            text("requested_on"),
            text("expires_on"),
            r["reserved"]
                .as_str()
                .and_then(|a| ledger_domain::Amount::parse_plain(a).ok())
                .map_or_else(|| text("reserved"), |a| money(cli, a.to_money())),
        ]);
    }
    table.print();
    if rows.is_empty() {
        println!("(none)");
    }
    Ok(exit::OK)
}

pub fn units(cli: &Cli) -> Result<u8, Failure> {
    let engine = ledger::open_engine(&cli.data)?;
    let rows: Vec<_> = engine.read(|m| {
        m.state()
            .units()
            .map(|(code, u)| {
                json!({
                    "unit": code,
                    "name": u.name(),
                    "level": u.level(),
                    "parent": u.parent(),
                })
            })
            .collect()
    });
    if cli.json {
        return print_json(&json!({ "units": rows }));
    }
    let mut table = Table::new(&["单位 unit", "层级 level", "上级 parent", "名称 name"]);
    for r in &rows {
        let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
        table.row(vec![
            text("unit"),
            text("level"),
            text("parent"),
            text("name"),
        ]);
    }
    table.print();
    Ok(exit::OK)
}
