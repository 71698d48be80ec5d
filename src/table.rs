//! Human output: aligned tables (Chinese characters count two columns) and money in
//! 元 or exact 万元.

use ledger_domain::{Money, Percent};
use rust_decimal::Decimal;
use unicode_width::UnicodeWidthStr;

use crate::args::MoneyUnit;

/// A column's alignment: text left, figures right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table being built: headings, then rows of cells.
#[derive(Debug)]
pub struct Table {
    headings: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these headings; a heading ending in `>` is right-aligned (figures).
    pub fn new(headings: &[&str]) -> Table {
        Table {
            headings: headings
                .iter()
                .map(|h| match h.strip_suffix('>') {
                    Some(h) => (h.to_string(), Align::Right),
                    None => (h.to_string(), Align::Left),
                })
                .collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headings.len());
        self.rows.push(cells);
    }

    /// The table as text, columns separated by two spaces, a rule under the headings.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headings.iter().map(|(h, _)| h.width()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.width());
            }
        }
        let line = |cells: Vec<&str>| {
            let mut out = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(cell.width());
                let last = i + 1 == cells.len();
                match self.headings[i].1 {
                    Align::Right => {
                        out.push_str(&" ".repeat(pad));
                        out.push_str(cell);
                    }
                    Align::Left => {
                        out.push_str(cell);
                        if !last {
                            out.push_str(&" ".repeat(pad));
                        }
                    }
                }
                if !last {
                    out.push_str("  ");
                }
            }
            out.trim_end().to_string()
        };
        let mut text = line(self.headings.iter().map(|(h, _)| h.as_str()).collect());
        text.push('\n');
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        text.push_str(&line(rule.iter().map(String::as_str).collect()));
        for row in &self.rows {
            text.push('\n');
            text.push_str(&line(row.iter().map(String::as_str).collect()));
        }
        text
    }

    pub fn print(&self) {
        println!("{}", self.render());
    }
}

/// Two-column key/value lines, keys padded to the same display width.
pub fn pairs(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.width()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k}{}  {v}", " ".repeat(width - k.width())))
        .collect::<Vec<_>>()
        .join("\n")
}

impl MoneyUnit {
    /// The unit's heading suffix: `元` or `万元`.
    pub fn label(self) -> &'static str {
        match self {
            MoneyUnit::Yuan => "元",
            MoneyUnit::Wan => "万元",
        }
    }

    /// Money in this unit, without a symbol: `1,234,567.89` (元) or `123.456789` (万元,
    /// exact: the amount ÷ 10,000 in decimal arithmetic, at least two decimals).
    pub fn money(self, money: Money) -> String {
        match self {
            MoneyUnit::Yuan => grouped(money),
            MoneyUnit::Wan => wan_exact(money.to_decimal()),
        }
    }
}

/// `1,234,567.89`, `-0.01`.
fn grouped(money: Money) -> String {
    let plain = money.plain();
    let (sign, digits) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "00"));
    let mut out = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}.{frac}")
}

/// The exact quotient of yuan ÷ 10,000, at least two decimals (fen need at most six).
pub fn wan_exact(yuan: Decimal) -> String {
    let mut wan = yuan
        .checked_div(Decimal::from(10_000))
        .expect("dividing by 10,000 cannot overflow")
        .normalize();
    if wan.scale() < 2 {
        wan.rescale(2);
    }
    if wan.is_zero() {
        return "0.00".to_string();
    }
    wan.to_string()
}

/// A rate, or `—` (undefined: a zero denominator).
pub fn percent(p: Option<Percent>) -> String {
    p.map_or_else(|| "—".to_string(), |p| p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wan_is_exact_and_yuan_is_grouped() {
        let m = |fen: i64| Money::from_fen(fen);
        assert_eq!(MoneyUnit::Wan.money(m(616_804_999)), "616.804999");
        assert_eq!(MoneyUnit::Wan.money(m(1_000_000)), "1.00");
        assert_eq!(MoneyUnit::Wan.money(m(1)), "0.000001");
        assert_eq!(MoneyUnit::Wan.money(m(0)), "0.00");
        assert_eq!(MoneyUnit::Wan.money(m(-50_000_000)), "-50.00");
        assert_eq!(MoneyUnit::Yuan.money(m(123_456_789)), "1,234,567.89");
        assert_eq!(MoneyUnit::Yuan.money(m(-1)), "-0.01");
    }

    #[test]
    fn tables_align_chinese_text_by_display_width() {
        let mut t = Table::new(&["资金 fund", "余额 balance>"]);
        t.row(vec!["三明".into(), "1.00".into()]);
        t.row(vec!["FJ-SM-2021".into(), "1,000.00".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "资金 fund   余额 balance");
        assert_eq!(lines[1], "----------  ------------");
        assert_eq!(lines[2], "三明                1.00");
        assert_eq!(lines[3], "FJ-SM-2021      1,000.00");
    }
}
