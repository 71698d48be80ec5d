//! Fuzzes the amount parsers of `ledger_domain::Amount` on arbitrary strings: `parse`
//! (what a clerk types and the CSV import reads: `1,234.56`, `¥1234.56元`, `616.8万`),
//! `parse_plain` (the JSON form) and `FromStr`.
//!
//! Proves: no panic; `FromStr` is `parse`; an accepted amount is within 0 and
//! `AMOUNT_MAX_YUAN` with exactly two decimals, and its display (`¥1,234.56`), plain
//! (`1234.56`), 万元 and JSON forms read back as the same amount; every plain amount is
//! also a typed amount of the same value. Two oracles written from the documented
//! rules with `rust_decimal` check the values: `parse_plain` against a strict grammar
//! (both ways: accepted exactly when the oracle accepts), and every amount `parse`
//! accepts against the digits left once symbols, units and separators are removed.
#![no_main]

use std::str::FromStr;

use ledger_domain::{Amount, AMOUNT_MAX_YUAN};
use libfuzzer_sys::fuzz_target;

welfare_ledger_fuzz::bounded_allocator!();
use rust_decimal::Decimal;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let typed = Amount::parse(text);
    assert_eq!(Amount::from_str(text), typed, "FromStr is parse");
    let plain = Amount::parse_plain(text);
    assert_eq!(
        plain.as_ref().ok(),
        plain_oracle(text).as_ref(),
        "parse_plain({text:?})"
    );
    if let Ok(amount) = plain {
        assert_eq!(typed, Ok(amount), "a plain amount is also a typed amount");
    }
    if let Ok(amount) = typed {
        check_accepted(amount);
        assert_eq!(
            Some(amount.to_decimal()),
            typed_oracle(text),
            "parse({text:?})"
        );
    }
    if let Err(error) = typed {
        assert!(!error.code().is_empty() && !error.to_string().is_empty());
    }
});

fn max() -> Decimal {
    Decimal::from(AMOUNT_MAX_YUAN)
}

fn check_accepted(amount: Amount) {
    let decimal = amount.to_decimal();
    assert_eq!(decimal.scale(), 2, "an amount has exactly two decimals");
    assert!(!decimal.is_sign_negative() && decimal <= max());
    assert_eq!(Decimal::new(amount.fen(), 2), decimal);
    let shown = amount.to_string();
    let (_, decimals) = shown
        .rsplit_once('.')
        .expect("the display has a decimal point");
    assert_eq!(decimals.len(), 2, "{shown} has two decimals");
    assert_eq!(
        Amount::parse(&shown),
        Ok(amount),
        "the display {shown} reads back"
    );
    assert_eq!(Amount::parse_plain(&amount.plain()), Ok(amount));
    let json = serde_json::to_string(&amount).unwrap();
    assert_eq!(serde_json::from_str::<Amount>(&json).unwrap(), amount);
    // 万元 is rounded for display; it must read back within half a hundredth of 万.
    let wan = amount.wan();
    let back = Amount::parse(&wan)
        .expect("the 万元 form reads back")
        .to_decimal();
    assert!(
        (back - decimal).abs() <= Decimal::from(50),
        "{wan} is far from {decimal}"
    );
}

/// docs/DOMAIN.md's plain form: digits, optionally a point and one or two digits; at
/// most 64 characters; not above the maximum.
fn plain_oracle(text: &str) -> Option<Amount> {
    if text.is_empty() || text.len() > 64 {
        return None;
    }
    let (int, frac) = text.split_once('.').unwrap_or((text, "00"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) || frac.len() > 2 {
        return None;
    }
    let int = int.trim_start_matches('0');
    if int.len() > 20 {
        return None;
    }
    let value = Decimal::from_str_exact(&format!(
        "{}.{frac}",
        if int.is_empty() { "0" } else { int }
    ))
    .ok()?;
    (value <= max()).then(|| Amount::from_decimal(value).expect("the oracle's value is an amount"))
}

/// The value docs/DOMAIN.md gives a typed amount: without the ¥ or ￥ sign, the 元
/// unit and thousands separators, times 10,000 for 万 or 100,000,000 for 亿. Used only
/// on text that `parse` accepted.
fn typed_oracle(text: &str) -> Option<Decimal> {
    let mut s = text.trim();
    s = s.trim_start_matches(['¥', '￥']).trim_start();
    s = s.strip_suffix('元').unwrap_or(s).trim_end();
    let mut unit = Decimal::ONE;
    if let Some(rest) = s.strip_suffix('万') {
        unit = Decimal::from(10_000);
        s = rest.trim_end();
    } else if let Some(rest) = s.strip_suffix('亿') {
        unit = Decimal::from(100_000_000);
        s = rest.trim_end();
    }
    let digits: String = s.chars().filter(|&c| c != ',').collect();
    let (int, frac) = digits.split_once('.').unwrap_or((&digits, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let exact = format!(
        "{}.{}",
        if int.is_empty() { "0" } else { int },
        if frac.is_empty() { "0" } else { frac }
    );
    let mut value = Decimal::from_str_exact(&exact).ok()?.checked_mul(unit)?;
    if value.normalize().scale() > 2 {
        return None;
    }
    value.rescale(2);
    Some(value)
}
