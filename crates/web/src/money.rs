//! Showing money: the API's decimal strings (`"1234.56"`, `"-5.00"`) as 元 with
//! thousands separators, or as 万元 (exact: one 分 is 0.000001 万, never rounded).
//! Exact decimal throughout; never a float.

use rust_decimal::Decimal;

/// `1234567.5` → `1,234,567.50` (two decimals, a minus sign kept).
pub fn yuan(value: Decimal) -> String {
    let mut v = value;
    v.rescale(2);
    grouped(v, 2)
}

/// `6168000` → `616.80` 万; exact, never rounded: as many decimals as the 分 need
/// (at most six), and at least two.
pub fn wan(value: Decimal) -> String {
    let mut v = (value / Decimal::from(10_000)).normalize();
    if v.scale() < 2 {
        v.rescale(2);
    }
    let places = v.scale();
    grouped(v, places)
}

fn grouped(v: Decimal, places: u32) -> String {
    let text = v.abs().to_string();
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if v.is_sign_negative() && !v.is_zero() {
        "-"
    } else {
        ""
    };
    if places == 0 {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

/// Parses an API money string; `None` for anything else (shown as "—").
pub fn parse(text: &str) -> Option<Decimal> {
    text.parse::<Decimal>().ok()
}

/// An API money string as 元, or "—" when absent or malformed.
pub fn show_yuan(text: Option<&str>) -> String {
    text.and_then(parse).map_or_else(|| "—".to_string(), yuan)
}

/// An API money string as 万元, or "—".
pub fn show_wan(text: Option<&str>) -> String {
    text.and_then(parse).map_or_else(|| "—".to_string(), wan)
}

/// An API percentage string (`"73.13"`) as `73.13%`; `null` (a zero denominator) as "—".
pub fn show_percent(text: Option<&str>) -> String {
    text.map_or_else(|| "—".to_string(), |t| format!("{t}%"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn yuan_groups_thousands_and_keeps_two_decimals() {
        assert_eq!(yuan(d("0")), "0.00");
        assert_eq!(yuan(d("5.5")), "5.50");
        assert_eq!(yuan(d("999.99")), "999.99");
        assert_eq!(yuan(d("1000")), "1,000.00");
        assert_eq!(yuan(d("1234567.89")), "1,234,567.89");
        assert_eq!(yuan(d("-1234.56")), "-1,234.56");
    }

    #[test]
    fn wan_divides_by_ten_thousand_exactly() {
        assert_eq!(wan(d("6168000.00")), "616.80");
        assert_eq!(wan(d("9668400.00")), "966.84");
        assert_eq!(wan(d("0.01")), "0.000001");
        assert_eq!(wan(d("1234567.89")), "123.456789");
        assert_eq!(wan(d("132000000")), "13,200.00");
        assert_eq!(wan(d("-10000")), "-1.00");
    }

    #[test]
    fn missing_figures_show_a_dash() {
        assert_eq!(show_yuan(None), "—");
        assert_eq!(show_yuan(Some("x")), "—");
        assert_eq!(show_percent(None), "—");
        assert_eq!(show_percent(Some("73.13")), "73.13%");
    }
}
