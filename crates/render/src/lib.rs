//! Welfare Ledger's rendering, pure: tables as CSV and XLSX downloads, charts as
//! accessible SVG, and the money and rate formatting the manager pages share.
//!
//! Nothing here does IO or runs async code, and the output is a function of the input
//! alone (same table or chart, same bytes): every function takes a value and returns
//! bytes or a string, so the web layer decides where they go.
//!
//! - [`Table`] → [`csv()`] (UTF-8 with a BOM, formula injection neutralised) and [`xlsx`]
//!   (numbers where Excel can hold them exactly, exact text otherwise).
//! - [`ChartSpec`] → [`svg`] (a self-contained line or bar chart; the page also shows
//!   the chart's data as a table, which is the accessible form of the figures).
//! - [`yuan`], [`wan_yuan`], [`percent`]: the ledger's display of money and rates,
//!   delegated to `ledger_domain::Money` and `ledger_domain::Percent`.
//!
//! ```
//! use ledger_render::{csv, percent, svg, wan_yuan, Cell, ChartKind, ChartSpec, Column, ColumnKind, Series, Table};
//! use rust_decimal::Decimal;
//!
//! let premium = Decimal::new(9_668_400_00, 2);
//! let table = Table {
//!     title: "三明市 2021 年计生保险".to_owned(),
//!     columns: vec![
//!         Column { heading: "税后保费收入（元）".to_owned(), kind: ColumnKind::Money },
//!         Column { heading: "简单赔付率".to_owned(), kind: ColumnKind::Ratio },
//!     ],
//!     rows: vec![vec![Cell::Money(premium), Cell::Ratio(Some(Decimal::new(7313, 4)))]],
//!     footnotes: vec!["简单赔付率 = 已决赔款 ÷ 税后保费收入".to_owned()],
//! };
//! let bytes = csv(&table);
//! assert!(String::from_utf8(bytes).unwrap().contains("9668400.00,73.13%"));
//! assert_eq!(wan_yuan(premium), "966.84");
//! assert_eq!(percent(None), "—");
//!
//! let chart = svg(&ChartSpec {
//!     title: "保费收入".to_owned(),
//!     description: "2021 年税后保费收入，单位万元".to_owned(),
//!     kind: ChartKind::Bar,
//!     unit: "万元".to_owned(),
//!     series: vec![Series {
//!         name: "意外伤害保险".to_owned(),
//!         points: vec![("2021".to_owned(), Some(ledger_render::to_wan(premium)))],
//!     }],
//!     width: 640,
//!     height: 360,
//! });
//! assert!(chart.starts_with("<svg "));
//! ```
//!
//! Money is never a float here. Pixel coordinates in the SVG are `f64` (geometry, not
//! money), and an XLSX number is an `f64` only when it round-trips to the same decimal.

mod chart;
mod format;
mod table_csv;
mod table_xlsx;
mod text;

pub use chart::{
    svg, ChartKind, ChartSpec, Series, CHART_HEIGHT_MIN, CHART_SIDE_MAX, CHART_WIDTH_MIN,
};
pub use format::{percent, ratio_of, to_wan, wan_yuan, yuan, yuan_plain, UNDEFINED};
pub use table_csv::csv;
pub use table_xlsx::{xlsx, XLSX_CREATED, XLSX_SIGNIFICANT_DIGITS_MAX};
pub use text::neutralise_formula;

use rust_decimal::Decimal;

/// A table for download (CSV, XLSX) and for the page: a title, typed columns, rows of
/// cells and footnotes (sources, definitions such as "简单赔付率 = 已决赔款 ÷ 税后保费收入").
///
/// A row may be shorter or longer than `columns`; cells are rendered by their own kind
/// (a `Cell::Text` in a money column is written as text), and the column's kind only
/// sets its width and alignment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    /// The table's title, written above the header row.
    pub title: String,
    /// The columns, left to right.
    pub columns: Vec<Column>,
    /// The data rows, top to bottom.
    pub rows: Vec<Vec<Cell>>,
    /// Notes written below the table, one per row.
    pub footnotes: Vec<String>,
}

/// One column of a [`Table`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The header text, e.g. "税后保费收入（元）".
    pub heading: String,
    /// What the column holds.
    pub kind: ColumnKind,
}

/// What a column holds, for its width, alignment and number format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    /// Names, units, dates: left-aligned text.
    Text,
    /// Yuan with two decimals.
    Money,
    /// A fraction shown as a percentage (0.7313 → 73.13%).
    Ratio,
    /// A number of households, students, claims.
    Count,
}

/// One cell of a [`Table`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// Text, written as text (formula characters neutralised in CSV).
    Text(String),
    /// Yuan; rounded half away from zero to fen when written.
    Money(Decimal),
    /// A fraction (0.7313 is 73.13%); `None` is undefined (a division by zero) and is
    /// shown as "—", never as 0.
    Ratio(Option<Decimal>),
    /// A count.
    Count(u64),
    /// Nothing.
    Empty,
}

/// Why a table could not be rendered. Only XLSX can fail, and only on Excel's limits.
///
/// An operating error from the page's point of view (the table is too big for the
/// format, not wrong): the web layer answers 500 with problem+json code
/// `render.xlsx_limit` and offers the CSV download, which has no such limit.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The spreadsheet writer refused the table: too many rows (more than 1,048,574 data
    /// rows with the title and header) or columns (16,384), or a text longer than
    /// Excel's 32,767 characters. Split the table or shorten the text.
    #[error("cannot write the table as xlsx: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
}

impl RenderError {
    /// A stable code for logs and problem+json answers.
    pub fn code(&self) -> &'static str {
        match self {
            RenderError::Xlsx(_) => "render.xlsx_limit",
        }
    }
}
