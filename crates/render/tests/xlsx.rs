//! Proves that `xlsx` writes exact numbers, keeps inexact ones as text with a note (for
//! any decimal: a proptest), round-trips Chinese text, lays out title, header, freeze
//! panes and footnotes, and gives the same bytes for the same table.
//!
//! How: the workbook bytes are unzipped (the `zip` crate) and the sheet, shared-strings,
//! styles and comments XML are parsed (roxmltree) into a map from cell reference to
//! value, style and type, which the tests compare with the table they wrote.

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::str::FromStr;

use ledger_render::{xlsx, Cell, Column, ColumnKind, Table};
use proptest::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};

fn d(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

/// One cell as the sheet XML has it: the text of `<v>` (shared strings resolved), its
/// type attribute and its number format code.
#[derive(Debug, Clone, PartialEq)]
struct SheetCell {
    value: String,
    kind: Option<String>,
    number_format: Option<String>,
    bold: bool,
}

struct Workbook {
    files: HashMap<String, String>,
}

impl Workbook {
    fn open(bytes: &[u8]) -> Workbook {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip archive");
        let mut files = HashMap::new();
        for index in 0..archive.len() {
            let mut file = archive.by_index(index).unwrap();
            let mut text = String::new();
            file.read_to_string(&mut text).expect("UTF-8 XML parts");
            files.insert(file.name().to_owned(), text);
        }
        Workbook { files }
    }

    fn part(&self, name: &str) -> &str {
        self.files
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.files.keys()))
    }

    fn shared_strings(&self) -> Vec<String> {
        let Some(xml) = self.files.get("xl/sharedStrings.xml") else {
            return Vec::new();
        };
        let doc = roxmltree::Document::parse(xml).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name("si"))
            .map(|si| {
                si.descendants()
                    .filter(|n| n.has_tag_name("t"))
                    .filter_map(|t| t.text())
                    .collect()
            })
            .collect()
    }

    /// Style index → (number format code, bold).
    fn styles(&self) -> Vec<(Option<String>, bool)> {
        let doc = roxmltree::Document::parse(self.part("xl/styles.xml")).unwrap();
        let formats: HashMap<String, String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("numFmt"))
            .map(|n| {
                (
                    n.attribute("numFmtId").unwrap().to_owned(),
                    n.attribute("formatCode").unwrap().to_owned(),
                )
            })
            .collect();
        let fonts: Vec<bool> = doc
            .descendants()
            .find(|n| n.has_tag_name("fonts"))
            .unwrap()
            .children()
            .filter(|n| n.has_tag_name("font"))
            .map(|font| font.children().any(|c| c.has_tag_name("b")))
            .collect();
        doc.descendants()
            .find(|n| n.has_tag_name("cellXfs"))
            .unwrap()
            .children()
            .filter(|n| n.has_tag_name("xf"))
            .map(|xf| {
                let format = xf
                    .attribute("numFmtId")
                    .and_then(|id| formats.get(id).cloned());
                let font: usize = xf.attribute("fontId").unwrap_or("0").parse().unwrap();
                (format, fonts[font])
            })
            .collect()
    }

    fn cells(&self) -> HashMap<String, SheetCell> {
        let strings = self.shared_strings();
        let styles = self.styles();
        let doc = roxmltree::Document::parse(self.part("xl/worksheets/sheet1.xml")).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name("c"))
            .map(|c| {
                let raw = c
                    .children()
                    .find(|n| n.has_tag_name("v"))
                    .and_then(|v| v.text())
                    .unwrap_or("")
                    .to_owned();
                let kind = c.attribute("t").map(str::to_owned);
                let value = if kind.as_deref() == Some("s") {
                    strings[raw.parse::<usize>().unwrap()].clone()
                } else {
                    raw
                };
                let (number_format, bold) = c
                    .attribute("s")
                    .map(|s| styles[s.parse::<usize>().unwrap()].clone())
                    .unwrap_or((None, false));
                (
                    c.attribute("r").unwrap().to_owned(),
                    SheetCell {
                        value,
                        kind,
                        number_format,
                        bold,
                    },
                )
            })
            .collect()
    }
}

fn column(heading: &str, kind: ColumnKind) -> Column {
    Column {
        heading: heading.to_owned(),
        kind,
    }
}

fn insurance() -> Table {
    Table {
        title: "三明市 2021 年计生保险 <&>\"".to_owned(),
        columns: vec![
            column("险种", ColumnKind::Text),
            column("税后保费收入（元）", ColumnKind::Money),
            column("简单赔付率", ColumnKind::Ratio),
            column("户数", ColumnKind::Count),
        ],
        rows: vec![
            vec![
                Cell::Text("计生家庭意外伤害保险".to_owned()),
                Cell::Money(d("9668400.00")),
                Cell::Ratio(Some(d("0.7313"))),
                Cell::Count(120_000),
            ],
            vec![
                Cell::Text("=1+1".to_owned()),
                Cell::Money(d("1234.56")),
                Cell::Ratio(None),
                Cell::Empty,
            ],
            vec![
                Cell::Text("住院护理补贴保险".to_owned()),
                // 16 significant digits: Excel would show 12345678901234.5.
                Cell::Money(d("12345678901234.56")),
                Cell::Ratio(Some(d("1.21"))),
                Cell::Count(u64::MAX),
            ],
            vec![
                Cell::Text("合计".to_owned()),
                Cell::Money(d("-0.01")),
                Cell::Ratio(Some(d("0.1234567890123456"))),
                Cell::Count(0),
            ],
        ],
        footnotes: vec![
            "简单赔付率 = 已决赔款 ÷ 税后保费收入".to_owned(),
            "来源：三明市计生协".to_owned(),
        ],
    }
}

#[test]
fn given_exact_decimals_when_written_then_the_sheet_holds_numbers_with_formats() {
    let cells = Workbook::open(&xlsx(&insurance()).unwrap()).cells();

    let premium = &cells["B3"];
    assert_eq!(premium.value, "9668400");
    assert_eq!(premium.kind, None, "a number, not a string");
    assert_eq!(premium.number_format.as_deref(), Some("#,##0.00"));

    assert_eq!(cells["B4"].value, "1234.56");
    assert_eq!(cells["B4"].kind, None);
    assert_eq!(cells["B6"].value, "-0.01");

    let ratio = &cells["C3"];
    assert_eq!(ratio.value, "0.7313");
    assert_eq!(ratio.kind, None);
    assert_eq!(ratio.number_format.as_deref(), Some("0.00%"));
    assert_eq!(cells["C5"].value, "1.21");

    assert_eq!(cells["D3"].value, "120000");
    assert_eq!(cells["D3"].kind, None);
    assert_eq!(cells["D3"].number_format.as_deref(), Some("#,##0"));
    assert_eq!(cells["D6"].value, "0");
}

#[test]
fn given_inexact_decimals_when_written_then_exact_text_with_a_note() {
    let workbook = Workbook::open(&xlsx(&insurance()).unwrap());
    let cells = workbook.cells();

    for (reference, exact) in [
        ("B5", "12345678901234.56"),
        ("C6", "0.1234567890123456"),
        ("D5", "18446744073709551615"),
    ] {
        assert_eq!(cells[reference].value, exact, "{reference}");
        assert_eq!(cells[reference].kind.as_deref(), Some("s"), "{reference}");
    }
    let comments = workbook
        .files
        .iter()
        .find(|(name, _)| name.starts_with("xl/comments"))
        .map(|(_, xml)| xml.clone())
        .expect("notes on the inexact cells");
    for reference in ["B5", "C6", "D5"] {
        assert!(
            comments.contains(&format!(r#"ref="{reference}""#)),
            "{reference}"
        );
    }
    assert!(comments.contains("15 位有效数字"));
}

#[test]
fn given_an_undefined_ratio_when_written_then_a_dash_not_zero() {
    let cells = Workbook::open(&xlsx(&insurance()).unwrap()).cells();
    assert_eq!(cells["C4"].value, "—");
    assert_eq!(cells["C4"].kind.as_deref(), Some("s"));
}

#[test]
fn given_chinese_and_markup_when_written_then_text_round_trips_and_formulas_stay_text() {
    let table = insurance();
    let cells = Workbook::open(&xlsx(&table).unwrap()).cells();
    assert_eq!(cells["A1"].value, table.title);
    assert_eq!(cells["A2"].value, "险种");
    assert_eq!(cells["B2"].value, "税后保费收入（元）");
    assert_eq!(cells["A3"].value, "计生家庭意外伤害保险");
    assert_eq!(cells["A4"].value, "=1+1");
    assert_eq!(
        cells["A4"].kind.as_deref(),
        Some("s"),
        "text, not a formula"
    );
}

#[test]
fn given_a_table_when_written_then_title_and_header_bold_frozen_and_footnotes_below() {
    let workbook = Workbook::open(&xlsx(&insurance()).unwrap());
    let cells = workbook.cells();
    assert!(cells["A1"].bold);
    assert!(cells["A2"].bold && cells["D2"].bold);
    assert!(!cells["A3"].bold);
    // Four data rows (3 to 6), row 7 empty, then the footnotes.
    assert!(!cells.keys().any(|r| r.ends_with('7') && r.len() == 2));
    assert_eq!(cells["A8"].value, "简单赔付率 = 已决赔款 ÷ 税后保费收入");
    assert_eq!(cells["A9"].value, "来源：三明市计生协");

    let sheet = workbook.part("xl/worksheets/sheet1.xml");
    let doc = roxmltree::Document::parse(sheet).unwrap();
    let pane = doc
        .descendants()
        .find(|n| n.has_tag_name("pane"))
        .expect("freeze panes");
    assert_eq!(pane.attribute("state"), Some("frozen"));
    assert_eq!(pane.attribute("ySplit"), Some("2"));
    assert_eq!(pane.attribute("topLeftCell"), Some("A3"));

    // Printing: one page wide, title and header repeated.
    let fit = doc
        .descendants()
        .find(|n| n.has_tag_name("pageSetup"))
        .expect("page setup");
    assert_eq!(fit.attribute("fitToHeight"), Some("0"));
    assert!(workbook
        .part("xl/workbook.xml")
        .contains("!$1:$2</definedName>"));

    // The Chinese heading column is wider than the minimum.
    let widths: Vec<f64> = doc
        .descendants()
        .filter(|n| n.has_tag_name("col"))
        .map(|n| n.attribute("width").unwrap().parse().unwrap())
        .collect();
    assert_eq!(widths.len(), 4);
    assert!(widths[0] >= 22.0, "{widths:?}");

    let workbook_xml = workbook.part("xl/workbook.xml");
    assert!(workbook_xml.contains("三明市 2021 年计生保险 &lt;&amp;&gt;"));
}

#[test]
fn given_an_empty_table_when_written_then_a_valid_workbook() {
    let workbook = Workbook::open(&xlsx(&Table::default()).unwrap());
    assert!(workbook.part("xl/workbook.xml").contains("Sheet1"));
}

#[test]
fn given_a_text_beyond_excels_limit_when_written_then_an_error_not_a_panic() {
    let table = Table {
        title: "长".repeat(40_000),
        ..Table::default()
    };
    let error = xlsx(&table).unwrap_err();
    assert_eq!(error.code(), "render.xlsx_limit");
    assert!(error
        .to_string()
        .starts_with("cannot write the table as xlsx"));
}

#[test]
fn given_the_same_table_when_written_twice_then_the_same_bytes() {
    let first = xlsx(&insurance()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(first, xlsx(&insurance()).unwrap());
    let workbook = Workbook::open(&first);
    assert!(workbook
        .part("docProps/core.xml")
        .contains("2000-01-01T00:00:00Z"));
}

fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (-1_000_000_000_000_000_i64..=1_000_000_000_000_000, 0u32..=2)
            .prop_map(|(m, s)| Decimal::new(m, s)),
        (i64::MIN..=i64::MAX, 0u32..=28).prop_map(|(m, s)| Decimal::new(m, s)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the decimal, the sheet holds either a number whose text is that decimal
    /// or a string that is exactly it: Excel never sees a rounded figure.
    #[test]
    fn money_and_ratios_are_exact_numbers_or_exact_text(values in proptest::collection::vec(decimal(), 1..20)) {
        let table = Table {
            title: "精确".to_owned(),
            columns: vec![column("金额", ColumnKind::Money), column("比率", ColumnKind::Ratio)],
            rows: values.iter().map(|v| vec![Cell::Money(*v), Cell::Ratio(Some(*v))]).collect(),
            footnotes: Vec::new(),
        };
        let cells = Workbook::open(&xlsx(&table).unwrap()).cells();
        for (index, value) in values.iter().enumerate() {
            let row = index + 3;
            let fen = value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            for (reference, expected) in [(format!("A{row}"), fen), (format!("B{row}"), *value)] {
                let cell = &cells[&reference];
                let written = Decimal::from_str(&cell.value)
                    .map_err(|e| TestCaseError::fail(format!("{reference}: {:?}: {e}", cell.value)))?;
                prop_assert_eq!(written, expected, "{}", reference);
                if cell.kind.is_none() {
                    let digits = written.normalize().mantissa().unsigned_abs().to_string();
                    prop_assert!(digits.trim_end_matches('0').len() <= 15, "{}: {}", reference, cell.value);
                }
            }
        }
    }
}
