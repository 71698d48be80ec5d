//! A table as an XLSX workbook written in memory, numbers exact or not numbers at all.
//!
//! One worksheet: the title (bold, larger) in row 1, the header (bold, frozen with the
//! title so that they stay on screen while scrolling) in row 2, the data rows, an empty
//! row, then each footnote in column A of its own row. Printed, it fits the width of an
//! A4 page and repeats the title and header on every page.
//!
//! Excel keeps numbers as `f64` and shows at most 15 significant digits. A money or ratio
//! cell is written as a number only when that loses nothing: the decimal has at most
//! [`XLSX_SIGNIFICANT_DIGITS_MAX`] significant digits and the `f64` nearest to it,
//! written in Rust's shortest round-trip form (which is what lands in the sheet XML),
//! reads back as the same decimal. Otherwise the exact decimal is written as
//! right-aligned text with a note on the cell saying why. Money is formatted
//! `#,##0.00`, ratios `0.00%`, counts `#,##0`; an undefined ratio is the text "—".
//!
//! Cells are typed, so text that starts with `=` stays text: no formula injection.
//!
//! The same table always gives the same bytes: the workbook's "created" property is
//! fixed at [`XLSX_CREATED`] instead of the writer's default of now (the download's own
//! time is the HTTP response's business), so a download can be cached and compared.

use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use rust_xlsxwriter::{
    ColNum, DocProperties, ExcelDateTime, Format, FormatAlign, Note, RowNum, Workbook, Worksheet,
};

use crate::format::{round_to_fen, UNDEFINED};
use crate::text::display_width;
use crate::{Cell, ColumnKind, RenderError, Table};

/// Excel's precision: a decimal with more significant digits than this is written as
/// text, never as a rounded number.
pub const XLSX_SIGNIFICANT_DIGITS_MAX: u32 = 15;

/// The fixed "created" date of every workbook, `(year, month, day)`, midnight UTC.
pub const XLSX_CREATED: (u16, u8, u8) = (2000, 1, 1);

/// Column widths in Excel's units (the width of a digit); a Chinese character is two.
const COLUMN_WIDTH_MIN: usize = 8;
const COLUMN_WIDTH_MAX: usize = 60;
/// Excel's limit on a worksheet name, in characters.
const SHEET_NAME_CHARS_MAX: usize = 31;

const TITLE_ROW: RowNum = 0;
const HEADER_ROW: RowNum = 1;
const FIRST_DATA_ROW: RowNum = 2;

const MONEY_FORMAT: &str = "#,##0.00";
const RATIO_FORMAT: &str = "0.00%";
const COUNT_FORMAT: &str = "#,##0";

const NOTE_INEXACT: &str = "精确值以文本保存：超出 Excel 数字的 15 位有效数字。\
Exact value kept as text: Excel numbers hold only 15 significant digits.";

/// The table as the bytes of an `.xlsx` file (see the module docs for the layout and
/// when a number is written as text).
///
/// # Errors
/// [`RenderError::Xlsx`] when the table exceeds Excel's limits: more rows or columns
/// than a worksheet holds, or a text longer than 32,767 characters.
pub fn xlsx(table: &Table) -> Result<Vec<u8>, RenderError> {
    let mut workbook = Workbook::new();
    let (year, month, day) = XLSX_CREATED;
    let created = ExcelDateTime::from_ymd(year, month, day)?;
    workbook.set_properties(
        &DocProperties::new()
            .set_title(&table.title)
            .set_creation_datetime(&created),
    );
    let sheet = workbook.add_worksheet();
    sheet.set_name(sheet_name(&table.title))?;
    let formats = Formats::new();

    sheet.write_string_with_format(TITLE_ROW, 0, &table.title, &formats.title)?;
    for (index, column) in table.columns.iter().enumerate() {
        let col = col_num(index)?;
        let format = match column.kind {
            ColumnKind::Text => &formats.header,
            ColumnKind::Money | ColumnKind::Ratio | ColumnKind::Count => &formats.header_number,
        };
        sheet.write_string_with_format(HEADER_ROW, col, &column.heading, format)?;
    }
    sheet.set_freeze_panes(FIRST_DATA_ROW, 0)?;
    // Printed: A4 (paper size 9), as wide as one page, title and header on every page.
    sheet
        .set_paper_size(9)
        .set_print_fit_to_pages(1, 0)
        .set_repeat_rows(TITLE_ROW, HEADER_ROW)?;

    for (index, row) in table.rows.iter().enumerate() {
        let row_num = row_num(index, FIRST_DATA_ROW)?;
        for (index, cell) in row.iter().enumerate() {
            write_cell(sheet, &formats, row_num, col_num(index)?, cell)?;
        }
    }

    // One empty row between the table and its footnotes.
    let footnote_row = row_num(table.rows.len(), FIRST_DATA_ROW + 1)?;
    for (index, footnote) in table.footnotes.iter().enumerate() {
        let row = row_num(index, footnote_row)?;
        sheet.write_string(row, 0, footnote)?;
    }

    for (index, width) in column_widths(table).into_iter().enumerate() {
        // Widths are small integers (at most COLUMN_WIDTH_MAX), exact in f64.
        sheet.set_column_width(col_num(index)?, f64::from(width))?;
    }

    Ok(workbook.save_to_buffer()?)
}

struct Formats {
    title: Format,
    header: Format,
    header_number: Format,
    money: Format,
    ratio: Format,
    count: Format,
    exact_text: Format,
    undefined: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            title: Format::new().set_bold().set_font_size(14),
            header: Format::new().set_bold().set_text_wrap(),
            header_number: Format::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Right),
            money: Format::new().set_num_format(MONEY_FORMAT),
            ratio: Format::new().set_num_format(RATIO_FORMAT),
            count: Format::new().set_num_format(COUNT_FORMAT),
            exact_text: Format::new().set_align(FormatAlign::Right),
            undefined: Format::new().set_align(FormatAlign::Right),
        }
    }
}

fn write_cell(
    sheet: &mut Worksheet,
    formats: &Formats,
    row: RowNum,
    col: ColNum,
    cell: &Cell,
) -> Result<(), RenderError> {
    match cell {
        Cell::Text(text) => {
            sheet.write_string(row, col, text)?;
        }
        Cell::Money(yuan) => {
            // Rounded to fen first, as everywhere (`yuan`, CSV).
            let yuan = round_to_fen(*yuan);
            write_decimal(sheet, formats, row, col, yuan, &formats.money)?;
        }
        Cell::Ratio(Some(fraction)) => {
            write_decimal(sheet, formats, row, col, *fraction, &formats.ratio)?;
        }
        Cell::Ratio(None) => {
            sheet.write_string_with_format(row, col, UNDEFINED, &formats.undefined)?;
        }
        Cell::Count(count) => match exact_f64(Decimal::from(*count)) {
            Some(number) => {
                sheet.write_number_with_format(row, col, number, &formats.count)?;
            }
            None => {
                sheet.write_string_with_format(row, col, count.to_string(), &formats.exact_text)?;
                sheet.insert_note(row, col, &inexact_note())?;
            }
        },
        Cell::Empty => {}
    }
    Ok(())
}

fn write_decimal(
    sheet: &mut Worksheet,
    formats: &Formats,
    row: RowNum,
    col: ColNum,
    value: Decimal,
    number_format: &Format,
) -> Result<(), RenderError> {
    match exact_f64(value) {
        Some(number) => {
            sheet.write_number_with_format(row, col, number, number_format)?;
        }
        None => {
            sheet.write_string_with_format(
                row,
                col,
                value.normalize().to_string(),
                &formats.exact_text,
            )?;
            sheet.insert_note(row, col, &inexact_note())?;
        }
    }
    Ok(())
}

fn inexact_note() -> Note {
    // Wide enough for the two sentences without scrolling the note.
    Note::new(NOTE_INEXACT)
        .add_author_prefix(false)
        .set_width(320)
        .set_height(64)
}

/// The `f64` for `value` if Excel can hold it exactly: at most
/// [`XLSX_SIGNIFICANT_DIGITS_MAX`] significant digits, and the shortest round-trip text
/// of the nearest `f64` (what the sheet XML will contain) reads back as `value`.
pub(crate) fn exact_f64(value: Decimal) -> Option<f64> {
    if significant_digits(value) > XLSX_SIGNIFICANT_DIGITS_MAX {
        return None;
    }
    let number = value.to_f64()?;
    if !number.is_finite() {
        return None;
    }
    let back = Decimal::from_str(&number.to_string()).ok()?;
    (back == value).then_some(number)
}

/// Significant digits, trailing zeros excluded on either side of the point (1 for zero).
fn significant_digits(value: Decimal) -> u32 {
    let mut mantissa = value.mantissa().unsigned_abs();
    while mantissa != 0 && mantissa % 10 == 0 {
        mantissa /= 10;
    }
    mantissa.checked_ilog10().map_or(1, |log| log + 1)
}

/// Widths from the longest text in each column (title and footnotes excluded: they run
/// across empty cells), clamped to a readable range.
fn column_widths(table: &Table) -> Vec<u16> {
    let mut widths: Vec<usize> = table
        .columns
        .iter()
        .map(|column| {
            // Headings wrap: the widest of their first 20 columns or their longest word.
            display_width(&column.heading).min(20)
        })
        .collect();
    for row in &table.rows {
        for (index, cell) in row.iter().enumerate() {
            let width = cell_width(cell);
            match widths.get_mut(index) {
                Some(current) => *current = (*current).max(width),
                None => widths.push(width),
            }
        }
    }
    widths
        .into_iter()
        .map(|width| {
            let padded = (width + 2).clamp(COLUMN_WIDTH_MIN, COLUMN_WIDTH_MAX);
            u16::try_from(padded).expect("clamped to COLUMN_WIDTH_MAX")
        })
        .collect()
}

fn cell_width(cell: &Cell) -> usize {
    match cell {
        Cell::Text(text) => display_width(text),
        Cell::Money(yuan) => crate::format::yuan(*yuan).len(),
        Cell::Ratio(fraction) => crate::format::percent(*fraction).len(),
        Cell::Count(count) => count.to_string().len(),
        Cell::Empty => 0,
    }
}

/// The title as a worksheet name: Excel forbids `[]:*?/\`, a leading or trailing `'`,
/// and more than 31 characters; an empty name becomes "Sheet1".
fn sheet_name(title: &str) -> String {
    let cleaned: String = title
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '[' | ']' | ':' | '*' | '?' | '/' | '\\' => '_',
            c => c,
        })
        .take(SHEET_NAME_CHARS_MAX)
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| c == '\'' || c.is_whitespace());
    // "History" is reserved by Excel.
    if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("history") {
        "Sheet1".to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn row_num(index: usize, first: RowNum) -> Result<RowNum, RenderError> {
    RowNum::try_from(index)
        .ok()
        .and_then(|index| index.checked_add(first))
        .ok_or(RenderError::Xlsx(
            rust_xlsxwriter::XlsxError::RowColumnLimitError,
        ))
}

fn col_num(index: usize) -> Result<ColNum, RenderError> {
    ColNum::try_from(index)
        .map_err(|_| RenderError::Xlsx(rust_xlsxwriter::XlsxError::RowColumnLimitError))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn exact_when_fifteen_digits_round_trip() {
        assert_eq!(exact_f64(d("1234.56")), Some(1234.56));
        assert_eq!(exact_f64(d("9668400.00")), Some(9_668_400.0));
        assert_eq!(exact_f64(d("0.7313")), Some(0.7313));
        assert_eq!(exact_f64(d("-0.05")), Some(-0.05));
        assert_eq!(exact_f64(Decimal::ZERO), Some(0.0));
        assert_eq!(exact_f64(d("1000000000000.00")), Some(1e12));
        assert_eq!(exact_f64(d("9999999999999.99")), Some(9_999_999_999_999.99));
    }

    #[test]
    fn inexact_beyond_fifteen_significant_digits() {
        // 16 digits: the nearest f64 prints back the same, but Excel would show
        // 12345678901234.5 and compute with that.
        assert_eq!(exact_f64(d("12345678901234.56")), None);
        assert_eq!(exact_f64(d("99999999999999999.99")), None);
        assert_eq!(exact_f64(Decimal::MAX), None);
        assert_eq!(exact_f64(d("0.1234567890123456")), None);
    }

    #[test]
    fn significant_digits_ignore_trailing_zeros() {
        assert_eq!(significant_digits(d("1234.5600")), 6);
        assert_eq!(significant_digits(d("0.0005")), 1);
        assert_eq!(significant_digits(Decimal::ZERO), 1);
        assert_eq!(significant_digits(d("1000000000000000")), 1);
    }

    #[test]
    fn sheet_names_follow_excel_rules() {
        assert_eq!(sheet_name("三明市 2021/01"), "三明市 2021_01");
        assert_eq!(sheet_name(""), "Sheet1");
        assert_eq!(sheet_name("'history'"), "Sheet1");
        assert_eq!(sheet_name(&"长".repeat(40)).chars().count(), 31);
    }
}
