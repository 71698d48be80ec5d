//! A table as a CSV download that Excel on Chinese Windows opens correctly.
//!
//! Layout, each record ended by CRLF (RFC 4180):
//!
//! ```text
//! <BOM>title
//! heading 1,heading 2,…
//! cell,cell,…          (one record per row)
//!                      (an empty line)
//! footnote 1           (one record per footnote)
//! ```
//!
//! The byte order mark makes Excel read the file as UTF-8 instead of the system's GBK
//! code page. Money is `1234.56` (two decimals, no separators, rounded half away from
//! zero to fen), a ratio `73.13%` or `—`, a count its digits, an empty cell nothing.
//!
//! Formula injection: a spreadsheet runs a cell that starts with `=`, `+`, `-` or `@`
//! (and tab or carriage return can smuggle one in), so every text field we did not
//! produce ourselves (the title, headings, text cells and footnotes) that starts with one
//! of these gets a leading `'`: `=HYPERLINK(…)` is written as `'=HYPERLINK(…)`. A reader
//! of the raw file sees the apostrophe; Excel shows the text. Numbers we format
//! ourselves (a negative amount `-12.00`) are not text and are left alone.

use crate::format::{percent, yuan_plain};
use crate::text::neutralise_formula;
use crate::{Cell, Table};

const BOM: &[u8] = "\u{FEFF}".as_bytes();

/// The table as CSV bytes: UTF-8 with a byte order mark, the title, the header row, the
/// data rows, an empty line, then each footnote as its own record (see the module docs
/// for the exact layout and the formula neutralising).
pub fn csv(table: &Table) -> Vec<u8> {
    let mut out = BOM.to_vec();
    let mut writer = writer(out);
    write(&mut writer, [table.title.as_str()].into_iter().map(text));
    write(
        &mut writer,
        table.columns.iter().map(|column| text(&column.heading)),
    );
    for row in &table.rows {
        write(&mut writer, row.iter().map(cell));
    }
    out = writer
        .into_inner()
        .expect("writing CSV into memory cannot fail");
    if !table.footnotes.is_empty() {
        // The csv crate writes an empty record as `""`; the blank line is written raw.
        out.extend_from_slice(b"\r\n");
        let mut writer = self::writer(out);
        for footnote in &table.footnotes {
            write(&mut writer, [text(footnote)].into_iter());
        }
        out = writer
            .into_inner()
            .expect("writing CSV into memory cannot fail");
    }
    out
}

fn writer(out: Vec<u8>) -> ::csv::Writer<Vec<u8>> {
    ::csv::WriterBuilder::new()
        // Title and footnotes have one field, rows as many as they have.
        .flexible(true)
        .terminator(::csv::Terminator::CRLF)
        .from_writer(out)
}

fn write(writer: &mut ::csv::Writer<Vec<u8>>, fields: impl Iterator<Item = String>) {
    writer
        .write_record(fields)
        .expect("writing CSV into memory cannot fail");
}

fn text(value: &str) -> String {
    neutralise_formula(value).into_owned()
}

fn cell(value: &Cell) -> String {
    match value {
        Cell::Text(value) => text(value),
        Cell::Money(yuan) => yuan_plain(*yuan),
        Cell::Ratio(fraction) => percent(*fraction),
        Cell::Count(count) => count.to_string(),
        Cell::Empty => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Column, ColumnKind};
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn sanming() -> Table {
        Table {
            title: "三明市 2021 年计生保险".to_owned(),
            columns: vec![
                Column {
                    heading: "险种".to_owned(),
                    kind: ColumnKind::Text,
                },
                Column {
                    heading: "税后保费收入（元）".to_owned(),
                    kind: ColumnKind::Money,
                },
                Column {
                    heading: "简单赔付率".to_owned(),
                    kind: ColumnKind::Ratio,
                },
                Column {
                    heading: "户数".to_owned(),
                    kind: ColumnKind::Count,
                },
            ],
            rows: vec![
                vec![
                    Cell::Text("计生家庭意外伤害保险".to_owned()),
                    Cell::Money(d("9668400.00")),
                    Cell::Ratio(Some(d("0.7313"))),
                    Cell::Count(120_000),
                ],
                vec![
                    Cell::Text("=HYPERLINK(\"http://x\",\"点我\")".to_owned()),
                    Cell::Money(d("-12.5")),
                    Cell::Ratio(None),
                    Cell::Empty,
                ],
            ],
            footnotes: vec![
                "简单赔付率 = 已决赔款 ÷ 税后保费收入".to_owned(),
                "-来源：三明市计生协".to_owned(),
            ],
        }
    }

    #[test]
    fn given_a_table_when_written_then_bytes_are_bom_title_header_rows_blank_footnotes() {
        let bytes = csv(&sanming());
        let expected = "\u{FEFF}三明市 2021 年计生保险\r\n\
            险种,税后保费收入（元）,简单赔付率,户数\r\n\
            计生家庭意外伤害保险,9668400.00,73.13%,120000\r\n\
            \"'=HYPERLINK(\"\"http://x\"\",\"\"点我\"\")\",-12.50,—,\r\n\
            \r\n\
            简单赔付率 = 已决赔款 ÷ 税后保费收入\r\n\
            '-来源：三明市计生协\r\n";
        assert_eq!(String::from_utf8(bytes).unwrap(), expected);
    }

    #[test]
    fn given_no_footnotes_when_written_then_no_trailing_blank_line() {
        let mut table = sanming();
        table.footnotes.clear();
        table.rows.clear();
        let text = String::from_utf8(csv(&table)).unwrap();
        assert_eq!(
            text,
            "\u{FEFF}三明市 2021 年计生保险\r\n险种,税后保费收入（元）,简单赔付率,户数\r\n"
        );
    }

    #[test]
    fn given_an_empty_table_when_written_then_title_and_empty_header_only() {
        let text = String::from_utf8(csv(&Table::default())).unwrap();
        assert_eq!(text, "\u{FEFF}\"\"\r\n\"\"\r\n");
    }
}
