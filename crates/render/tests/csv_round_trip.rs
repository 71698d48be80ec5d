//! Proves that `csv` output reads back, through the csv crate, as exactly the table that
//! was written: title, headings, text (with the formula prefix where due), money as exact
//! two-decimal strings, ratios as percentages or "—", counts, and footnotes.
//!
//! How: proptest generates tables with arbitrary text (Chinese, quotes, commas, line
//! breaks, formula characters, control characters), amounts up to ±10^15 yuan with up to
//! four decimals, and undefined ratios; the bytes are checked for the BOM and parsed back.

use std::str::FromStr;

use ledger_render::{csv, percent, Cell, Column, ColumnKind, Table};
use proptest::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[三明市计生协幸福工程金秋助学保险=+\\-@\t\r\n,\"' a-z0-9]{0,12}",
        Just("=HYPERLINK(\"http://example.invalid\",\"点我\")".to_owned()),
        Just("-1234.56".to_owned()),
    ]
}

fn money() -> impl Strategy<Value = Decimal> {
    (
        -1_000_000_000_000_000_000_i64..=1_000_000_000_000_000_000,
        0u32..=4,
    )
        .prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale))
}

fn cell() -> impl Strategy<Value = Cell> {
    prop_oneof![
        text().prop_map(Cell::Text),
        money().prop_map(Cell::Money),
        proptest::option::of((-2_000_000_i64..=2_000_000, 0u32..=6))
            .prop_map(|r| Cell::Ratio(r.map(|(m, s)| Decimal::new(m, s)))),
        any::<u64>().prop_map(Cell::Count),
        Just(Cell::Empty),
    ]
}

fn table() -> impl Strategy<Value = Table> {
    (
        text(),
        proptest::collection::vec(text(), 0..5),
        proptest::collection::vec(proptest::collection::vec(cell(), 0..6), 0..8),
        proptest::collection::vec(text(), 0..3),
    )
        .prop_map(|(title, headings, rows, footnotes)| Table {
            title,
            columns: headings
                .into_iter()
                .map(|heading| Column {
                    heading,
                    kind: ColumnKind::Text,
                })
                .collect(),
            rows,
            footnotes,
        })
}

/// What a text field must read back as: with `'` in front of a formula start.
fn expected_text(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn expected_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(text) => expected_text(text),
        Cell::Money(yuan) => {
            let mut fen = yuan.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            fen.rescale(2);
            if fen.is_zero() {
                fen.set_sign_positive(true);
            }
            fen.to_string()
        }
        Cell::Ratio(fraction) => percent(*fraction),
        Cell::Count(count) => count.to_string(),
        Cell::Empty => String::new(),
    }
}

/// The csv crate writes a record of no fields, or of one empty field, as `""`.
fn as_read(fields: Vec<String>) -> Vec<String> {
    if fields.is_empty() {
        vec![String::new()]
    } else {
        fields
    }
}

fn read_back(bytes: &[u8]) -> Vec<Vec<String>> {
    let body = bytes
        .strip_prefix("\u{FEFF}".as_bytes())
        .expect("a UTF-8 byte order mark");
    ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body)
        .records()
        .map(|record| {
            record
                .expect("valid CSV")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_table_reads_back_exactly(table in table()) {
        let records = read_back(&csv(&table));

        let mut expected = vec![vec![expected_text(&table.title)]];
        expected.push(as_read(table.columns.iter().map(|c| expected_text(&c.heading)).collect()));
        for row in &table.rows {
            expected.push(as_read(row.iter().map(expected_cell).collect()));
        }
        // The blank line before the footnotes is skipped by the reader.
        for footnote in &table.footnotes {
            expected.push(vec![expected_text(footnote)]);
        }
        prop_assert_eq!(records, expected);
    }

    #[test]
    fn money_is_an_exact_two_decimal_string(yuan in money()) {
        let table = Table {
            rows: vec![vec![Cell::Money(yuan)]],
            ..Table::default()
        };
        let records = read_back(&csv(&table));
        let written = &records[2][0];
        let (_, decimals) = written.split_once('.').expect("a decimal point");
        prop_assert_eq!(decimals.len(), 2);
        prop_assert!(!written.contains(['e', 'E', ',']));
        let back = Decimal::from_str(written).unwrap();
        prop_assert_eq!(
            back,
            yuan.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
        );
    }
}

#[test]
fn the_blank_line_separates_rows_from_footnotes() {
    let table = Table {
        title: "t".to_owned(),
        rows: vec![vec![Cell::Count(1)]],
        footnotes: vec!["note".to_owned()],
        ..Table::default()
    };
    let text = String::from_utf8(csv(&table)).unwrap();
    assert!(text.ends_with("1\r\n\r\nnote\r\n"), "{text:?}");
}
