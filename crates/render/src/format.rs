//! Money and rate formatting for pages and downloads, delegated to the domain's `Money` and `Percent`.
//!
//! The domain already decides how the ledger shows money (`Money`'s `Display`, `plain`,
//! `wan`) and rates (`Percent`'s `Display`, rounded half away from zero); these helpers
//! accept a bare `Decimal` (what tables and charts carry) and hand it to those types so
//! that a page, a CSV file and the JSON API never disagree about a figure.
//!
//! Rounding, everywhere: half away from zero (the domain's rule, "四舍五入"). A money
//! value is first rounded to fen (two decimals); ledger money always has exactly two
//! decimals, so for real figures this never changes anything.

use ledger_domain::rates::percent_of_counts;
use ledger_domain::{Money, Percent};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

/// The dash shown for an undefined rate (a division by zero): never "0" or "0.00%".
pub const UNDEFINED: &str = "—";

/// `1,234,567.89`: yuan with thousands separators and exactly two decimals, no symbol;
/// `-1,234.56` below zero.
///
/// Values with more than two decimals are rounded half away from zero to fen. Values
/// beyond ±92,233,720,368,547,758.07 yuan (the `i64` fen range, far above
/// `ledger_domain::AMOUNT_MAX_YUAN`) are shown exactly with two decimals but without
/// separators, rather than wrongly.
pub fn yuan(d: Decimal) -> String {
    match to_money(d) {
        // `Money` shows `¥1,234.56` or `-¥1,234.56`: keep the sign, drop the symbol.
        Some(money) => money.to_string().replacen('¥', "", 1),
        None => fixed_two(d),
    }
}

/// `1234.56`: yuan with exactly two decimals, no separators, no symbol (what CSV files
/// carry, and what `Money::plain` gives). Rounded like [`yuan`].
pub fn yuan_plain(d: Decimal) -> String {
    match to_money(d) {
        Some(money) => money.plain(),
        None => fixed_two(d),
    }
}

/// `616.80`: yuan in units of 万元 (10,000 yuan) with two decimals, no separators and
/// no unit (the page writes 万元 in the heading). Rounded half away from zero, like
/// `Money::wan`: ¥6,168,049.99 shows as 616.80 and ¥6,168,050.00 as 616.81. The value is
/// first rounded to fen, like [`yuan`].
pub fn wan_yuan(d: Decimal) -> String {
    match to_money(d) {
        Some(money) => {
            let text = money.wan();
            text.strip_suffix("万元").unwrap_or(&text).to_owned()
        }
        None => fixed_two(to_wan(d)),
    }
}

/// `73.13%` for the fraction 0.7313, `—` for an undefined rate (`None`).
///
/// The fraction is turned into a domain `Percent` (rounded half away from zero to two
/// decimals of a percent) and shown as the domain shows it. Ratios above 1 (a loss
/// ratio of 121%) and below 0 (a fall year on year) are shown as they are.
pub fn percent(r: Option<Decimal>) -> String {
    match r {
        Some(fraction) if fraction.abs() <= PERCENT_OF_FRACTION_MAX => {
            percent_of_fraction(fraction).to_string()
        }
        Some(fraction) => format!("{}%", shift_point_right_two(fraction)),
        None => UNDEFINED.to_owned(),
    }
}

/// The fraction a domain `Percent` stands for (73.13% → 0.7313), for a ratio cell:
/// `Cell::Ratio(ratio_of(ledger_domain::rates::simple_loss_ratio(claims, premiums)))`.
pub fn ratio_of(p: Option<Percent>) -> Option<Decimal> {
    p.map(|p| Decimal::from_i128_with_scale(p.basis_points(), 4))
}

/// Yuan as 万元 (÷ 10,000), exact, for chart values whose unit is 万元.
pub fn to_wan(yuan: Decimal) -> Decimal {
    yuan.checked_div(Decimal::from(10_000))
        .expect("dividing by 10,000 cannot overflow")
}

/// Rounds to fen and wraps in `Money`; `None` beyond the `i64` fen range.
fn to_money(d: Decimal) -> Option<Money> {
    let fen = round_to_fen(d).checked_mul(Decimal::ONE_HUNDRED)?;
    Some(Money::from_fen(fen.to_i64()?))
}

/// The largest fraction the domain's `Percent` can hold (its hundredths of a percent
/// must fit in a `Decimal`); beyond it, [`percent`] shifts the decimal point itself.
const PERCENT_OF_FRACTION_MAX: Decimal =
    Decimal::from_parts(0xA100_0000, 0x1BCE_CCED, 0x0000_D3C2, false, 0);

/// `fraction × 100` as text, exact, with exactly two decimals. Only used beyond
/// `PERCENT_OF_FRACTION_MAX` (10^24), where a `Decimal` has at most four decimals, so
/// the product has at most two and nothing is rounded.
fn shift_point_right_two(fraction: Decimal) -> String {
    let text = fraction.abs().to_string();
    let (integer, decimals) = text.split_once('.').unwrap_or((&text, ""));
    let decimals = format!("{decimals:0<4}");
    let (moved, rest) = decimals.split_at(2);
    let sign = if fraction.is_sign_negative() { "-" } else { "" };
    format!("{sign}{integer}{moved}.{rest:0<2}")
}

/// A fraction as a domain `Percent`: `mantissa / 10^scale` through the domain's own
/// rounding.
fn percent_of_fraction(fraction: Decimal) -> Percent {
    // A Decimal's scale is at most 28 and its mantissa below 2^96, so the denominator
    // (10^28 < 2^94) and the domain's numerator × 10,000 (< 2^110) both fit in i128.
    let denominator = 10_i128.pow(fraction.scale());
    percent_of_counts(fraction.mantissa(), denominator).expect("10^scale is never zero")
}

/// Rounds yuan half away from zero to two decimals (fen).
pub(crate) fn round_to_fen(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// `d` rounded half away from zero and written with exactly two decimals, no
/// separators: the exact form for values beyond the domain's `Money` range.
fn fixed_two(d: Decimal) -> String {
    let mut rounded = round_to_fen(d);
    if rounded.is_zero() {
        rounded.set_sign_positive(true);
    }
    let text = rounded.to_string();
    match text.split_once('.') {
        None => format!("{text}.00"),
        Some((_, decimals)) if decimals.len() == 1 => format!("{text}0"),
        Some(_) => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    #[test]
    fn yuan_groups_thousands_with_two_decimals() {
        assert_eq!(yuan(d("1234567.89")), "1,234,567.89");
        assert_eq!(yuan(d("0")), "0.00");
        assert_eq!(yuan(d("12.5")), "12.50");
        assert_eq!(yuan(d("-1234.56")), "-1,234.56");
        assert_eq!(yuan(d("999")), "999.00");
        assert_eq!(yuan(d("1000000000000")), "1,000,000,000,000.00");
    }

    #[test]
    fn yuan_rounds_half_away_from_zero_to_fen() {
        assert_eq!(yuan(d("1.005")), "1.01");
        assert_eq!(yuan(d("1.004")), "1.00");
        assert_eq!(yuan(d("-1.005")), "-1.01");
        assert_eq!(yuan(d("-0.001")), "0.00");
    }

    #[test]
    fn yuan_beyond_the_fen_range_is_exact_without_separators() {
        assert_eq!(
            yuan(d("100000000000000000000.5")),
            "100000000000000000000.50"
        );
        assert_eq!(yuan(Decimal::MAX), "79228162514264337593543950335.00");
        assert_eq!(yuan(Decimal::MIN), "-79228162514264337593543950335.00");
    }

    #[test]
    fn yuan_plain_has_no_separators() {
        assert_eq!(yuan_plain(d("1234567.8")), "1234567.80");
        assert_eq!(yuan_plain(d("-0.5")), "-0.50");
    }

    #[test]
    fn wan_yuan_is_ten_thousands_rounded_half_away_from_zero() {
        assert_eq!(wan_yuan(d("6168000")), "616.80");
        assert_eq!(wan_yuan(d("6168049.99")), "616.80");
        assert_eq!(wan_yuan(d("6168050.00")), "616.81");
        assert_eq!(wan_yuan(d("-6168050.00")), "-616.81");
        assert_eq!(wan_yuan(d("0")), "0.00");
        assert_eq!(wan_yuan(d("49.99")), "0.00");
        assert_eq!(wan_yuan(d("132000000")), "13200.00");
    }

    #[test]
    fn percent_shows_fractions_with_two_decimals_and_a_dash_when_undefined() {
        assert_eq!(percent(Some(d("0.7313"))), "73.13%");
        assert_eq!(percent(Some(d("1.21"))), "121.00%");
        assert_eq!(percent(Some(d("0.140749"))), "14.07%");
        assert_eq!(percent(Some(d("0.00005"))), "0.01%");
        assert_eq!(percent(Some(d("-0.05"))), "-5.00%");
        assert_eq!(percent(Some(Decimal::ZERO)), "0.00%");
        assert_eq!(percent(None), "—");
        assert_eq!(PERCENT_OF_FRACTION_MAX, d("1000000000000000000000000"));
        assert_eq!(
            percent(Some(PERCENT_OF_FRACTION_MAX)),
            "100000000000000000000000000.00%"
        );
        assert_eq!(
            percent(Some(d("1000000000000000000000000.0001"))),
            "100000000000000000000000000.01%"
        );
        assert_eq!(
            percent(Some(Decimal::MAX)),
            "7922816251426433759354395033500.00%"
        );
        assert_eq!(
            percent(Some(Decimal::MIN)),
            "-7922816251426433759354395033500.00%"
        );
    }

    #[test]
    fn ratio_of_a_domain_percent_is_its_fraction() {
        let p = ledger_domain::rates::percent_of_counts(7313, 10_000);
        assert_eq!(ratio_of(p), Some(d("0.7313")));
        assert_eq!(percent(ratio_of(p)), "73.13%");
        assert_eq!(ratio_of(None), None);
    }

    #[test]
    fn to_wan_is_exact() {
        assert_eq!(to_wan(d("6168000")), d("616.8"));
        assert_eq!(to_wan(d("1.23")), d("0.000123"));
    }
}
