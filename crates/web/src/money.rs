//! Showing money and rates: the API's decimal strings (`"1234.56"`, `"-5.00"`,
//! `"73.13"`) as 元 with thousands separators, as 万元, or as percentages, through
//! `ledger_render`'s formatting (which is the domain's `Money` and `Percent`). Exact
//! decimal throughout; never a float.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

/// Parses an API money or rate string.
pub fn parse(text: &str) -> Option<Decimal> {
    text.parse::<Decimal>().ok()
}

/// An API money string as 元 (`1,234.56`), or "—" when absent or malformed.
pub fn show_yuan(text: Option<&str>) -> String {
    text.and_then(parse)
        .map_or_else(|| ledger_render::UNDEFINED.to_string(), ledger_render::yuan)
}

/// An API percentage string (`"73.13"`) as `73.13%`; `null` (a zero denominator) as "—".
pub fn show_percent(text: Option<&str>) -> String {
    ledger_render::percent(fraction(text))
}

/// An API percentage string (`"73.13"`) as the fraction it stands for (0.7313).
pub fn fraction(text: Option<&str>) -> Option<Decimal> {
    text.and_then(parse).map(|p| p / Decimal::ONE_HUNDRED)
}

/// Budget execution (disbursed ÷ committed) of yuan amounts summed from the API, as a
/// fraction, by the domain's rule (`rates::budget_execution_rate`: rounded half away
/// from zero to hundredths of a percent); `None` when nothing was committed or an
/// amount is beyond the ledger's range.
pub fn budget_execution(disbursed: Decimal, committed: Decimal) -> Option<Decimal> {
    let money = |yuan: Decimal| {
        (yuan * Decimal::ONE_HUNDRED)
            .trunc()
            .to_i64()
            .map(ledger_domain::Money::from_fen)
    };
    ledger_render::ratio_of(ledger_domain::rates::budget_execution_rate(
        money(disbursed)?,
        money(committed)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_shown_in_yuan_with_separators() {
        assert_eq!(show_yuan(Some("1234567.89")), "1,234,567.89");
        assert_eq!(show_yuan(Some("-1234.56")), "-1,234.56");
        assert_eq!(show_yuan(Some("0.00")), "0.00");
    }

    #[test]
    fn rates_are_percentages_and_missing_figures_a_dash() {
        assert_eq!(show_percent(Some("73.13")), "73.13%");
        assert_eq!(show_percent(Some("121.00")), "121.00%");
        assert_eq!(show_percent(None), "—");
        assert_eq!(show_yuan(None), "—");
        assert_eq!(show_yuan(Some("x")), "—");
        assert_eq!(fraction(Some("73.13")), Some(Decimal::new(7313, 4)));
    }

    #[test]
    fn budget_execution_follows_the_domain_rule() {
        let yuan = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(
            budget_execution(yuan("437092.00"), yuan("232348.53")),
            Some(Decimal::new(18812, 4))
        );
        // 1 ÷ 32 = 3.125%: half away from zero gives 3.13% (half to even would give 3.12%).
        assert_eq!(
            budget_execution(yuan("1.00"), yuan("32.00")),
            Some(Decimal::new(313, 4))
        );
        assert_eq!(budget_execution(yuan("5.00"), yuan("0.00")), None);
    }
}
