//! Fuzzes the resident ID-number parser (`ledger_registry::ResidentIdNumber::parse`,
//! GB 11643-1999) on arbitrary strings, against an oracle written here from the
//! standard, independently of the parser.
//!
//! Proves: no panic; the parser accepts exactly what the oracle accepts (18 characters
//! after removing spaces and hyphens and mapping full-width forms, 17 digits and a digit
//! or `X`, a province-level or residence-permit region code that names a county, a real
//! date of birth from 1900-01-01 to today, the ISO 7064 MOD 11-2 check character); an
//! accepted number is the oracle's normalised form, parses back to itself, and has the
//! birth date and sex its digits say; its `Display`, `Debug` and masked forms show at
//! most its first and last four characters; a refusal has a stable code and its message
//! holds no run of five or more digits but the
//! residence-permit codes its fixed text names.
#![no_main]

use chrono::{Datelike, NaiveDate};
use ledger_registry::{IdNumberError, ResidentIdNumber, Sex};
use libfuzzer_sys::fuzz_target;

welfare_ledger_fuzz::bounded_allocator!();

/// The region codes of residence permits for residents of Hong Kong, Macao and Taiwan.
const PERMIT_REGIONS: [&str; 3] = ["810000", "820000", "830000"];

/// A fixed "today", so that a run is reproducible.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 26).expect("a date")
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = ResidentIdNumber::parse(text, today());
    let expected = oracle(text);
    match (&parsed, &expected) {
        (Ok(number), Some(normalised)) => {
            assert_eq!(number.as_str(), normalised.as_str(), "normalised form of {text:?}");
            let again = ResidentIdNumber::parse(number.as_str(), today()).expect("reparses");
            assert_eq!(&again, number);
            let digits = normalised.as_bytes();
            let year = digits[6..10].iter().fold(0i32, |a, d| a * 10 + i32::from(d - b'0'));
            assert_eq!(number.birth_date().year(), year);
            let odd = (digits[16] - b'0') % 2 == 1;
            assert_eq!(number.sex(), if odd { Sex::Male } else { Sex::Female });
            let masked = number.masked();
            assert_eq!(masked.len(), 18);
            assert_eq!(&masked[..4], &normalised[..4]);
            assert_eq!(&masked[4..14], "**********");
            assert_eq!(&masked[14..], &normalised[14..]);
            assert!(!format!("{number}").contains(&normalised[4..14]));
            assert!(!format!("{number:?}").contains(&normalised[4..14]));
        }
        (Err(error), None) => {
            assert!(error.code().starts_with("id_number_"));
            // The variants carry positions, a length, a two-digit province and single
            // check characters, never the number: a run of five or more digits in a
            // message can only be a residence-permit code its fixed text names, or a
            // length.
            let message = error.to_string();
            for run in digit_runs(&message, 5) {
                assert!(
                    PERMIT_REGIONS.contains(&run.as_str())
                        || matches!(error, IdNumberError::WrongLength { .. }),
                    "the message {message:?} holds digits of the input"
                );
            }
        }
        (Ok(_), None) => panic!("accepted {text:?}, which the oracle refuses"),
        (Err(error), Some(_)) => panic!("refused {text:?} ({error}), which the oracle accepts"),
    }
});

/// The normalised number if `text` is a valid resident ID number, by the standard.
fn oracle(text: &str) -> Option<String> {
    let mut normalised = String::new();
    for c in text.trim().chars() {
        match c {
            ' ' | '\u{3000}' | '-' | '\u{FF0D}' => {}
            'x' | 'X' | 'ｘ' | 'Ｘ' => normalised.push('X'),
            '0'..='9' => normalised.push(c),
            '０'..='９' => normalised.push(char::from(b'0' + (c as u32 - '０' as u32) as u8)),
            _ => return None,
        }
    }
    let bytes = normalised.as_bytes();
    if bytes.len() != 18
        || !bytes[..17].iter().all(u8::is_ascii_digit)
        || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
    {
        return None;
    }
    let region = &normalised[..6];
    let province: u32 = region[..2].parse().ok()?;
    let mainland = matches!(province, 11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65);
    let permit = PERMIT_REGIONS.contains(&region);
    if !(mainland && !region.ends_with("0000") || permit) {
        return None;
    }
    let date = NaiveDate::parse_from_str(&normalised[6..14], "%Y%m%d").ok()?;
    if date < NaiveDate::from_ymd_opt(1900, 1, 1)? || date > today() {
        return None;
    }
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = bytes[..17].iter().zip(weights).map(|(d, w)| u32::from(d - b'0') * w).sum();
    let check = b"10X98765432"[(sum % 11) as usize];
    (bytes[17] == check).then_some(normalised)
}

/// The runs of at least `min` ASCII digits in `text`.
fn digit_runs(text: &str, min: usize) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() >= min)
        .map(str::to_owned)
        .collect()
}
