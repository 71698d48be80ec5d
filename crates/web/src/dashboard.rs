//! The manager's dashboard for a unit and a year: programme figures, the units below
//! (to drill down from province to village), money disbursed per month, and the loss
//! ratio and repayment rate over five years. Every figure comes from the API's reports
//! (`/api/v1/units/{unit}/programmes`, `…/loans`, `…/insurance`), so scope is the API's;
//! tables are `ledger_render::Table`s, which the page shows and offers as CSV and XLSX
//! with the metric definitions as footnotes, and charts are `ledger_render::svg`.

use chrono::{Datelike, NaiveDate};
use ledger_render::{Cell, ChartKind, ChartSpec, Column, ColumnKind, Series, Table};
use ledger_store::Backend;
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::api::{encode, query, ApiProblem, Caller};
use crate::i18n::{Lang, Tr};
use crate::money::{budget_execution, fraction, parse};
use crate::Web;

/// Years in the trend table and chart, ending with the year shown.
pub const TREND_YEARS: i32 = 5;

#[derive(Debug, Deserialize)]
struct Helped {
    beneficiaries: u64,
    households: u64,
    students: u64,
}

#[derive(Debug, Deserialize)]
struct ProgrammeRow {
    programme: String,
    committed: String,
    received: String,
    disbursed: String,
    budget_execution_rate: Option<String>,
    disbursed_growth: Option<String>,
    helped: Helped,
}

#[derive(Debug, Deserialize)]
struct ChildRows {
    unit: String,
    rows: Vec<ProgrammeRow>,
    /// All programmes together, each beneficiary once.
    helped: Helped,
}

#[derive(Debug, Deserialize)]
struct Programmes {
    rows: Vec<ProgrammeRow>,
    children: Vec<ChildRows>,
    /// All programmes together, each beneficiary once.
    helped: Helped,
}

#[derive(Debug, Deserialize)]
struct FundRow {
    fund: String,
    unit: String,
    programme: String,
}

#[derive(Debug, Deserialize)]
struct Funds {
    funds: Vec<FundRow>,
}

#[derive(Debug, Deserialize)]
struct FundFigures {
    available: String,
    reserved: String,
    loans_outstanding: String,
    received: String,
    disbursed: String,
}

#[derive(Debug, Deserialize)]
struct Balance {
    figures: FundFigures,
}

#[derive(Debug, Deserialize)]
struct Loans {
    repayment_rate: Option<String>,
    par30: Option<String>,
    outstanding: String,
}

#[derive(Debug, Deserialize)]
struct LossRatio {
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
struct InsuranceFigures {
    premium_tax_exclusive: String,
    claims_paid: String,
    simple_loss_ratio: LossRatio,
}

#[derive(Debug, Deserialize)]
struct Insurance {
    figures: InsuranceFigures,
}

/// The dashboard's tables, by the name their download carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Balances,
    Programmes,
    Children,
    Monthly,
    Trends,
}

impl Which {
    pub const ALL: [Which; 5] = [
        Which::Balances,
        Which::Programmes,
        Which::Children,
        Which::Monthly,
        Which::Trends,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Which::Balances => "balances",
            Which::Programmes => "programmes",
            Which::Children => "units",
            Which::Monthly => "monthly",
            Which::Trends => "trends",
        }
    }

    pub fn from_name(name: &str) -> Option<Which> {
        Which::ALL.into_iter().find(|w| w.name() == name)
    }
}

fn money(text: &str) -> Cell {
    parse(text).map_or(Cell::Empty, Cell::Money)
}

/// A column; money columns say their unit, 元.
fn col(tr: Tr, key: &str, kind: ColumnKind) -> Column {
    let suffix = if kind == ColumnKind::Money {
        tr.t("dashboard.yuan_suffix")
    } else {
        ""
    };
    Column {
        heading: format!("{}{suffix}", tr.t(key)),
        kind,
    }
}

fn definitions(tr: Tr, keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| tr.t(k).to_string()).collect()
}

async fn programmes<B: Backend>(
    web: &Web<B>,
    caller: &Caller,
    unit: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Programmes, ApiProblem> {
    let (from, to) = (from.to_string(), to.to_string());
    web.api
        .get(
            caller,
            &format!(
                "/api/v1/units/{}/programmes{}",
                encode(unit),
                query(&[("from", &from), ("to", &to)])
            ),
        )
        .await
}

fn year_range(year: i32, lang: Lang) -> Result<(NaiveDate, NaiveDate), ApiProblem> {
    let bad = || ApiProblem {
        status: 400,
        code: "year_invalid".to_string(),
        detail: lang.pick(
            format!("{year} 不是账本记录的年份"),
            format!("{year} is not a year the ledger records"),
        ),
    };
    Ok((
        NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(bad)?,
        NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(bad)?,
    ))
}

fn title(tr: Tr, key: &str, unit: &str, year: i32) -> String {
    format!("{unit} · {year} · {}", tr.t(key))
}

/// One table of the dashboard, with the units its rows drill down to (the units table).
#[derive(Debug)]
pub struct Built {
    pub table: Table,
    pub links: Vec<Option<String>>,
}

/// Builds one of the tables for `unit` and `year`.
pub async fn build<B: Backend>(
    web: &Web<B>,
    caller: &Caller,
    tr: Tr,
    which: Which,
    unit: &str,
    year: i32,
) -> Result<Built, ApiProblem> {
    let (from, to) = year_range(year, caller.lang)?;
    match which {
        Which::Balances => {
            // Every fund of the unit's subtree (the API lists those in the caller's
            // scope), as of the year's end or today, summed per programme.
            let as_of = to.min(web.app.today());
            let root = ledger_domain::UnitCode::new(unit).map_err(|e| ApiProblem {
                status: 400,
                code: "invalid_id".into(),
                detail: e.to_string(),
            })?;
            let funds: Funds = web.api.get(caller, "/api/v1/funds").await?;
            let within: Vec<FundRow> = web.app.engine.read(|m| {
                funds
                    .funds
                    .into_iter()
                    .filter(|f| {
                        ledger_domain::UnitCode::new(&f.unit)
                            .is_ok_and(|u| m.state().is_within(&u, &root))
                    })
                    .collect()
            });
            let mut totals: Vec<(String, u64, [Decimal; 5])> = Vec::new();
            for f in &within {
                let balance: Balance = web
                    .api
                    .get(
                        caller,
                        &format!(
                            "/api/v1/funds/{}/balance{}",
                            encode(&f.fund),
                            query(&[("as_of", &as_of.to_string())])
                        ),
                    )
                    .await?;
                let g = &balance.figures;
                let figures = [
                    &g.received,
                    &g.disbursed,
                    &g.reserved,
                    &g.loans_outstanding,
                    &g.available,
                ]
                .map(|t| parse(t).unwrap_or_default());
                match totals.iter_mut().find(|(p, _, _)| *p == f.programme) {
                    Some((_, count, sums)) => {
                        *count += 1;
                        for (sum, x) in sums.iter_mut().zip(figures) {
                            *sum += x;
                        }
                    }
                    None => totals.push((f.programme.clone(), 1, figures)),
                }
            }
            let rows = totals
                .iter()
                .map(|(programme, count, sums)| {
                    let mut row = vec![
                        Cell::Text(tr.of("programme.", programme)),
                        Cell::Count(*count),
                    ];
                    row.extend(sums.iter().map(|d| Cell::Money(*d)));
                    row
                })
                .collect();
            Ok(Built {
                table: Table {
                    title: format!("{unit} · {as_of} · {}", tr.t("dashboard.balances")),
                    columns: vec![
                        col(tr, "funds.programme", ColumnKind::Text),
                        col(tr, "dashboard.funds", ColumnKind::Count),
                        col(tr, "fund.received", ColumnKind::Money),
                        col(tr, "fund.disbursed", ColumnKind::Money),
                        col(tr, "fund.reserved", ColumnKind::Money),
                        col(tr, "fund.outstanding", ColumnKind::Money),
                        col(tr, "fund.available", ColumnKind::Money),
                    ],
                    rows,
                    footnotes: definitions(tr, &["dashboard.money_note", "def.balances"]),
                },
                links: Vec::new(),
            })
        }
        Which::Programmes => {
            let report = programmes(web, caller, unit, from, to).await?;
            let rows = report
                .rows
                .iter()
                .map(|r| {
                    vec![
                        Cell::Text(tr.of("programme.", &r.programme)),
                        money(&r.committed),
                        money(&r.received),
                        money(&r.disbursed),
                        Cell::Ratio(fraction(r.budget_execution_rate.as_deref())),
                        Cell::Count(r.helped.beneficiaries),
                        Cell::Count(r.helped.households),
                        Cell::Count(r.helped.students),
                        Cell::Ratio(fraction(r.disbursed_growth.as_deref())),
                    ]
                })
                .collect();
            Ok(Built {
                table: Table {
                    title: title(tr, "dashboard.programmes", unit, year),
                    columns: vec![
                        col(tr, "funds.programme", ColumnKind::Text),
                        col(tr, "dashboard.committed", ColumnKind::Money),
                        col(tr, "dashboard.received", ColumnKind::Money),
                        col(tr, "dashboard.disbursed", ColumnKind::Money),
                        col(tr, "dashboard.budget_execution", ColumnKind::Ratio),
                        col(tr, "dashboard.beneficiaries", ColumnKind::Count),
                        col(tr, "dashboard.households", ColumnKind::Count),
                        col(tr, "dashboard.students", ColumnKind::Count),
                        col(tr, "dashboard.growth", ColumnKind::Ratio),
                    ],
                    rows,
                    footnotes: definitions(
                        tr,
                        &[
                            "dashboard.money_note",
                            "def.budget_execution",
                            "def.growth",
                            "def.helped",
                        ],
                    ),
                },
                links: Vec::new(),
            })
        }
        Which::Children => {
            let report = programmes(web, caller, unit, from, to).await?;
            let mut rows = Vec::new();
            let mut links = Vec::new();
            for child in &report.children {
                let disbursed: Decimal =
                    child.rows.iter().filter_map(|r| parse(&r.disbursed)).sum();
                let committed: Decimal =
                    child.rows.iter().filter_map(|r| parse(&r.committed)).sum();
                let execution = budget_execution(disbursed, committed);
                rows.push(vec![
                    Cell::Text(child.unit.clone()),
                    Cell::Money(committed),
                    Cell::Money(disbursed),
                    Cell::Ratio(execution),
                    Cell::Count(child.helped.beneficiaries),
                ]);
                links.push(Some(format!(
                    "/web/dashboard{}",
                    query(&[("unit", &child.unit), ("year", &year.to_string())])
                )));
            }
            Ok(Built {
                table: Table {
                    title: title(tr, "dashboard.children", unit, year),
                    columns: vec![
                        col(tr, "dashboard.unit", ColumnKind::Text),
                        col(tr, "dashboard.committed", ColumnKind::Money),
                        col(tr, "dashboard.disbursed", ColumnKind::Money),
                        col(tr, "dashboard.budget_execution", ColumnKind::Ratio),
                        col(tr, "dashboard.beneficiaries", ColumnKind::Count),
                    ],
                    rows,
                    footnotes: definitions(
                        tr,
                        &[
                            "dashboard.money_note",
                            "def.budget_execution",
                            "def.units_sum",
                            "def.helped_all",
                        ],
                    ),
                },
                links,
            })
        }
        Which::Monthly => {
            let mut rows = Vec::new();
            for month in 1..=12u32 {
                let first = NaiveDate::from_ymd_opt(year, month, 1).expect("a valid month");
                let last = first
                    .checked_add_months(chrono::Months::new(1))
                    .and_then(|d| d.pred_opt())
                    .expect("a valid month");
                let report = programmes(web, caller, unit, first, last).await?;
                let disbursed: Decimal =
                    report.rows.iter().filter_map(|r| parse(&r.disbursed)).sum();
                rows.push(vec![
                    Cell::Text(format!("{year}-{month:02}")),
                    Cell::Money(disbursed),
                    Cell::Count(report.helped.beneficiaries),
                ]);
            }
            Ok(Built {
                table: Table {
                    title: title(tr, "dashboard.monthly", unit, year),
                    columns: vec![
                        col(tr, "dashboard.month", ColumnKind::Text),
                        col(tr, "dashboard.disbursed", ColumnKind::Money),
                        col(tr, "dashboard.beneficiaries", ColumnKind::Count),
                    ],
                    rows,
                    footnotes: definitions(
                        tr,
                        &["dashboard.money_note", "def.monthly", "def.helped_all"],
                    ),
                },
                links: Vec::new(),
            })
        }
        Which::Trends => {
            let mut rows = Vec::new();
            for y in (year - TREND_YEARS + 1)..=year {
                let end = year_range(y, caller.lang)?.1.to_string();
                let loans: Loans = web
                    .api
                    .get(
                        caller,
                        &format!(
                            "/api/v1/units/{}/loans{}",
                            encode(unit),
                            query(&[("as_of", &end)])
                        ),
                    )
                    .await?;
                let insurance: Insurance = web
                    .api
                    .get(
                        caller,
                        &format!(
                            "/api/v1/units/{}/insurance{}",
                            encode(unit),
                            query(&[("line", "HouseholdAccident"), ("year", &y.to_string())])
                        ),
                    )
                    .await?;
                rows.push(vec![
                    Cell::Text(y.to_string()),
                    money(&insurance.figures.premium_tax_exclusive),
                    money(&insurance.figures.claims_paid),
                    Cell::Ratio(fraction(
                        insurance.figures.simple_loss_ratio.value.as_deref(),
                    )),
                    Cell::Ratio(fraction(loans.repayment_rate.as_deref())),
                    Cell::Ratio(fraction(loans.par30.as_deref())),
                    money(&loans.outstanding),
                ]);
            }
            Ok(Built {
                table: Table {
                    title: title(tr, "dashboard.trends", unit, year),
                    columns: vec![
                        col(tr, "dashboard.year", ColumnKind::Text),
                        col(tr, "dashboard.premium", ColumnKind::Money),
                        col(tr, "dashboard.claims", ColumnKind::Money),
                        col(tr, "dashboard.loss_ratio", ColumnKind::Ratio),
                        col(tr, "dashboard.repayment_rate", ColumnKind::Ratio),
                        col(tr, "dashboard.par30", ColumnKind::Ratio),
                        col(tr, "dashboard.outstanding", ColumnKind::Money),
                    ],
                    rows,
                    footnotes: definitions(
                        tr,
                        &[
                            "dashboard.money_note",
                            "def.loss_ratio",
                            "def.repayment_rate",
                            "def.par30",
                            "def.trend_dates",
                        ],
                    ),
                },
                links: Vec::new(),
            })
        }
    }
}

/// The value of a cell as a chart value: money in 万元, a ratio as a percent.
fn chart_value(cell: &Cell) -> Option<Decimal> {
    match cell {
        Cell::Money(d) => Some(ledger_render::to_wan(*d)),
        Cell::Ratio(r) => r.map(|f| f * Decimal::ONE_HUNDRED),
        Cell::Count(n) => Some(Decimal::from(*n)),
        _ => None,
    }
}

fn series(tr: Tr, table: &Table, column: usize, key: &str) -> Series {
    Series {
        name: tr.t(key).to_string(),
        points: table
            .rows
            .iter()
            .map(|row| {
                let label = match row.first() {
                    Some(Cell::Text(t)) => t.clone(),
                    _ => String::new(),
                };
                (label, row.get(column).and_then(chart_value))
            })
            .collect(),
    }
}

/// Money disbursed per month, as bars in 万元.
pub fn monthly_chart(tr: Tr, monthly: &Table) -> String {
    ledger_render::svg(&ChartSpec {
        title: monthly.title.clone(),
        description: tr.t("dashboard.chart_monthly").to_string(),
        kind: ChartKind::Bar,
        unit: tr.t("dashboard.wan").to_string(),
        series: vec![series(tr, monthly, 1, "dashboard.disbursed")],
        width: 640,
        height: 300,
    })
}

/// The loss ratio and repayment rate per year, as lines in %.
pub fn trends_chart(tr: Tr, trends: &Table) -> String {
    ledger_render::svg(&ChartSpec {
        title: trends.title.clone(),
        description: tr.t("dashboard.chart_trends").to_string(),
        kind: ChartKind::Line,
        unit: "%".to_string(),
        series: vec![
            series(tr, trends, 3, "dashboard.loss_ratio"),
            series(tr, trends, 4, "dashboard.repayment_rate"),
        ],
        width: 640,
        height: 300,
    })
}

/// The unit a dashboard opens on: the caller's scope, or for those who read the whole
/// ledger its first top-level unit.
pub fn default_unit<B: Backend>(web: &Web<B>, scope: Option<&str>) -> Option<String> {
    if let Some(scope) = scope {
        return Some(scope.to_string());
    }
    web.app.engine.read(|m| {
        m.state()
            .units()
            .filter(|(_, u)| u.parent().is_none())
            .map(|(code, _)| code.to_string())
            .min()
    })
}

/// The unit above `unit`, if the caller's scope reaches it.
pub fn parent<B: Backend>(web: &Web<B>, unit: &str, scope: Option<&str>) -> Option<String> {
    if scope == Some(unit) {
        return None;
    }
    let code = ledger_domain::UnitCode::new(unit).ok()?;
    web.app.engine.read(|m| {
        m.state()
            .unit(&code)
            .and_then(|u| u.parent())
            .map(ToString::to_string)
    })
}

/// This year, by the ledger's clock.
pub fn this_year<B: Backend>(web: &Web<B>) -> i32 {
    web.app.today().year()
}
