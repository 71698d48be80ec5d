//! The 18-character PRC resident ID number (居民身份证号码, GB 11643-1999): normalising,
//! validating and masking. Pure: no IO, no clock (callers pass `today`).
//!
//! A number is 6 digits of region code (地址码), 8 digits of date of birth (出生日期码,
//! `yyyymmdd`), 3 digits of sequence (顺序码, odd for men, even for women) and a check
//! character (校验码) computed with ISO 7064 MOD 11-2 over the first 17 digits.
//!
//! What is checked, in order, each with its own [`IdNumberError`]:
//!
//! 1. length: 18 characters after normalising; a 15-digit first-generation number is
//!    refused with its own message (its check digit does not exist and its year has two
//!    digits, so it cannot be deduplicated reliably against the 18-digit form);
//! 2. characters: 17 digits, then a digit or `X`;
//! 3. region code: the first two digits are a province-level code of GB/T 2260
//!    (11–15, 21–23, 31–37, 41–46, 50–54, 61–65), or 81, 82, 83 — the codes 810000,
//!    820000 and 830000 that residence permits for residents of Hong Kong, Macao and
//!    Taiwan (港澳台居民居住证) carry, which follow the same standard. 71 (Taiwan in
//!    GB/T 2260) is refused: no number is issued with it. A mainland code must not end in
//!    `0000`: it names the county (县级) where the person's household is registered, and a
//!    province alone is never one. Beyond that the region code is not looked up in a table
//!    of counties: numbers keep the code of counties that have since been merged or
//!    renamed, so a current table would refuse real people;
//! 4. date of birth: a real calendar date, not before 1900-01-01 (no living beneficiary
//!    is older; the standard's own example from 1880 is therefore refused), not after
//!    `today`;
//! 5. check character: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2, the weighted sum mod
//!    11 indexes `1 0 X 9 8 7 6 5 4 3 2`.
//!
//! Error messages name positions and never echo the number: they end up in logs.

use std::fmt;

use chrono::NaiveDate;
use zeroize::Zeroize;

/// The length of a resident ID number, in characters.
pub const ID_NUMBER_CHARS: usize = 18;

/// The earliest date of birth accepted.
pub const BIRTH_DATE_MIN: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(date) => date,
    None => panic!("1900-01-01 is a date"),
};

/// The longest input looked at, in characters, before normalising: anything longer is
/// refused as the wrong length without building a normalised copy of it.
const RAW_CHARS_MAX: usize = 64;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARACTERS: [u8; 11] = *b"10X98765432";

/// Province-level codes of GB/T 2260 for the mainland.
const MAINLAND_PROVINCES: [u8; 31] = [
    11, 12, 13, 14, 15, // 北京 天津 河北 山西 内蒙古
    21, 22, 23, // 辽宁 吉林 黑龙江
    31, 32, 33, 34, 35, 36, 37, // 上海 江苏 浙江 安徽 福建 江西 山东
    41, 42, 43, 44, 45, 46, // 河南 湖北 湖南 广东 广西 海南
    50, 51, 52, 53, 54, // 重庆 四川 贵州 云南 西藏
    61, 62, 63, 64, 65, // 陕西 甘肃 青海 宁夏 新疆
];

/// The whole region codes of residence permits for residents of Hong Kong, Macao and Taiwan.
const RESIDENCE_PERMIT_REGIONS: [&[u8; 6]; 3] = [b"810000", b"820000", b"830000"];

/// Why a text is not a valid resident ID number. Messages name the position of the
/// problem, never the number itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("the id number is empty")]
    Empty,
    #[error("this is a 15-digit first-generation id number, which is not accepted: ask for the 18-character number on the second-generation card")]
    FirstGeneration,
    #[error(
        "an id number has 18 characters, this one has {length} (spaces and hyphens are ignored)"
    )]
    WrongLength { length: usize },
    #[error("character {position} of the id number is not a digit{}", if *position == ID_NUMBER_CHARS { " or X" } else { "" })]
    InvalidCharacter { position: usize },
    #[error("the id number starts with {code}, which is not a province-level region code (11–15, 21–23, 31–37, 41–46, 50–54, 61–65, or 81, 82, 83 on residence permits)")]
    UnknownProvince { code: String },
    #[error("the region code (characters 1–6) ends in 0000, which names a province, never the county that issues a number")]
    RegionNotCounty,
    #[error("the region code (characters 1–6) of a residence permit number must be 810000, 820000 or 830000")]
    ResidencePermitRegion,
    #[error("characters 7–14 of the id number are not a calendar date (yyyymmdd)")]
    InvalidBirthDate,
    #[error("the date of birth in the id number (characters 7–14) is before 1900-01-01")]
    BirthDateTooEarly,
    #[error("the date of birth in the id number (characters 7–14) is after today")]
    BirthDateInFuture,
    #[error("the check character (character 18) is {found}, but the first 17 digits give {expected}: a digit was probably mistyped")]
    CheckDigit { expected: char, found: char },
}

impl IdNumberError {
    /// A stable machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            IdNumberError::Empty => "id_number_empty",
            IdNumberError::FirstGeneration => "id_number_first_generation",
            IdNumberError::WrongLength { .. } => "id_number_length",
            IdNumberError::InvalidCharacter { .. } => "id_number_character",
            IdNumberError::UnknownProvince { .. }
            | IdNumberError::RegionNotCounty
            | IdNumberError::ResidencePermitRegion => "id_number_region",
            IdNumberError::InvalidBirthDate
            | IdNumberError::BirthDateTooEarly
            | IdNumberError::BirthDateInFuture => "id_number_birth_date",
            IdNumberError::CheckDigit { .. } => "id_number_check_digit",
        }
    }
}

/// The sex encoded in the sequence code: odd 17th digit for men, even for women.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
}

/// A validated, normalised resident ID number: 17 ASCII digits then a digit or `X`.
///
/// `Display` and `Debug` show only the [`masked`](ResidentIdNumber::masked) form, so a
/// number does not leak into logs or panic messages; [`as_str`](ResidentIdNumber::as_str)
/// gives the whole number to code that needs it. The bytes are zeroed when dropped.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentIdNumber {
    chars: [u8; ID_NUMBER_CHARS],
    birth_date: NaiveDate,
}

impl ResidentIdNumber {
    /// Normalises and validates `raw` (see the module docs for the checks). `today` bounds
    /// the date of birth.
    ///
    /// Normalising trims, removes spaces (ASCII and full-width U+3000) and hyphens
    /// (ASCII and full-width U+FF0D) anywhere, maps full-width digits to ASCII and `x`,
    /// `Ｘ`, `ｘ` to `X`: `"11010519491231002x"` and `"110105 19491231 002Ｘ"` are the same
    /// number.
    pub fn parse(raw: &str, today: NaiveDate) -> Result<ResidentIdNumber, IdNumberError> {
        let mut normalised = normalise(raw)?;
        let result = ResidentIdNumber::from_normalised(&normalised, today);
        normalised.zeroize();
        result
    }

    /// Checks an already normalised number of 18 characters.
    fn from_normalised(chars: &[u8], today: NaiveDate) -> Result<ResidentIdNumber, IdNumberError> {
        let chars: [u8; ID_NUMBER_CHARS] = match <[u8; ID_NUMBER_CHARS]>::try_from(chars) {
            Ok(chars) => chars,
            Err(_) => {
                if chars.len() == 15 && chars.iter().all(u8::is_ascii_digit) {
                    return Err(IdNumberError::FirstGeneration);
                }
                return Err(IdNumberError::WrongLength {
                    length: chars.len(),
                });
            }
        };
        if let Some(index) = chars[..17].iter().position(|c| !c.is_ascii_digit()) {
            return Err(IdNumberError::InvalidCharacter {
                position: index + 1,
            });
        }
        if !(chars[17].is_ascii_digit() || chars[17] == b'X') {
            return Err(IdNumberError::InvalidCharacter {
                position: ID_NUMBER_CHARS,
            });
        }
        check_region(&chars[..6])?;
        let birth_date = birth_date(&chars[6..14])?;
        if birth_date < BIRTH_DATE_MIN {
            return Err(IdNumberError::BirthDateTooEarly);
        }
        if birth_date > today {
            return Err(IdNumberError::BirthDateInFuture);
        }
        let expected = check_character(&chars[..17]);
        if chars[17] != expected {
            return Err(IdNumberError::CheckDigit {
                expected: char::from(expected),
                found: char::from(chars[17]),
            });
        }
        Ok(ResidentIdNumber { chars, birth_date })
    }

    /// Rebuilds a number read back from the registry: the same checks, except that the
    /// date of birth is not compared with today (it was when the number was registered).
    pub(crate) fn from_stored(text: &str) -> Result<ResidentIdNumber, IdNumberError> {
        ResidentIdNumber::from_normalised(text.as_bytes(), NaiveDate::MAX)
    }

    /// The normalised number: 17 digits then a digit or `X`.
    pub fn as_str(&self) -> &str {
        // Every byte is an ASCII digit or 'X', checked in `from_normalised`.
        std::str::from_utf8(&self.chars).expect("an id number is ASCII")
    }

    /// The date of birth (characters 7–14).
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// The sex from the parity of the 17th digit.
    pub fn sex(&self) -> Sex {
        if (self.chars[16] - b'0') % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// The six-digit region code (characters 1–6).
    pub fn region_code(&self) -> &str {
        &self.as_str()[..6]
    }

    /// True for the numbers of residence permits for residents of Hong Kong, Macao and
    /// Taiwan (region code 810000, 820000 or 830000).
    pub fn is_residence_permit(&self) -> bool {
        matches!(self.chars[0], b'8')
    }

    /// The first 4 and last 4 characters, the rest starred: `3504**********123X`.
    pub fn masked(&self) -> String {
        let text = self.as_str();
        format!("{}{}{}", &text[..4], "*".repeat(10), &text[14..])
    }
}

impl Drop for ResidentIdNumber {
    fn drop(&mut self) {
        self.chars.zeroize();
    }
}

impl fmt::Display for ResidentIdNumber {
    /// The masked form: use [`ResidentIdNumber::as_str`] for the whole number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for ResidentIdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentIdNumber({:?})", self.masked())
    }
}

/// Trims, drops spaces and hyphens, maps full-width forms and `x`; returns ASCII bytes
/// (other characters are kept, and refused later as invalid characters).
fn normalise(raw: &str) -> Result<Vec<u8>, IdNumberError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(IdNumberError::Empty);
    }
    let mut out = Vec::with_capacity(ID_NUMBER_CHARS);
    let mut length = 0usize;
    for c in trimmed.chars() {
        let mapped = match c {
            ' ' | '\u{3000}' | '-' | '\u{FF0D}' => continue,
            'x' | 'X' | '\u{FF38}' | '\u{FF58}' => b'X',
            '0'..='9' => u8::try_from(c).expect("an ASCII digit"),
            '\u{FF10}'..='\u{FF19}' => {
                b'0' + u8::try_from(u32::from(c) - 0xFF10).expect("a full-width digit")
            }
            // Any other character: a placeholder that fails the character check, so the
            // message can name its position without echoing it.
            _ => b'?',
        };
        length += 1;
        // Count everything, keep only what could be a number.
        if length <= RAW_CHARS_MAX {
            out.push(mapped);
        }
    }
    if length > RAW_CHARS_MAX {
        return Err(IdNumberError::WrongLength { length });
    }
    if out.is_empty() {
        return Err(IdNumberError::Empty);
    }
    Ok(out)
}

fn check_region(region: &[u8]) -> Result<(), IdNumberError> {
    let province = (region[0] - b'0') * 10 + (region[1] - b'0');
    if MAINLAND_PROVINCES.contains(&province) {
        if &region[2..] == b"0000" {
            return Err(IdNumberError::RegionNotCounty);
        }
        return Ok(());
    }
    if matches!(province, 81..=83) {
        if RESIDENCE_PERMIT_REGIONS
            .iter()
            .any(|code| &code[..] == region)
        {
            return Ok(());
        }
        return Err(IdNumberError::ResidencePermitRegion);
    }
    Err(IdNumberError::UnknownProvince {
        code: format!("{province:02}"),
    })
}

fn birth_date(digits: &[u8]) -> Result<NaiveDate, IdNumberError> {
    let number = |range: std::ops::Range<usize>| {
        digits[range]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    let year = i32::try_from(number(0..4)).expect("four digits fit in i32");
    NaiveDate::from_ymd_opt(year, number(4..6), number(6..8)).ok_or(IdNumberError::InvalidBirthDate)
}

/// The ISO 7064 MOD 11-2 check character of 17 ASCII digits.
pub(crate) fn check_character(digits: &[u8]) -> u8 {
    assert_eq!(digits.len(), 17, "the check character covers 17 digits");
    let sum: u32 = digits
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK_CHARACTERS[(sum % 11) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 6, 1).unwrap()
    }

    /// A valid number from its first 17 digits.
    fn complete(first17: &str) -> String {
        let check = check_character(first17.as_bytes());
        format!("{first17}{}", char::from(check))
    }

    #[test]
    fn check_character_of_the_standards_example() {
        // GB 11643-1999's example: 11010519491231002X.
        assert_eq!(check_character(b"11010519491231002"), b'X');
        // 3·7+5·9+0·10+4·5+2·8+5·4+1·2+9·1+8·6+5·3+0·7+3·9+1·10+2·5+1·8+2·4+3·2 = 265,
        // 265 mod 11 = 1, which maps to 0.
        assert_eq!(complete("35042519850312123"), "350425198503121230");
    }

    #[test]
    fn table_of_valid_and_invalid_numbers() {
        use IdNumberError as E;
        let fujian = complete("35042519850312123"); // Sanming; 17th digit 3: a man
        let wrong_check = {
            let mut s = fujian.clone();
            let last = s.pop().unwrap();
            s.push(if last == '0' { '1' } else { '0' });
            s
        };
        let cases: Vec<(String, Result<&str, E>)> = vec![
            ("11010519491231002X".into(), Ok("11010519491231002X")),
            ("11010519491231002x".into(), Ok("11010519491231002X")),
            (" 110105 19491231 002X ".into(), Ok("11010519491231002X")),
            ("110105-19491231-002X".into(), Ok("11010519491231002X")),
            (
                "１１０１０５１９４９１２３１００２Ｘ".into(),
                Ok("11010519491231002X"),
            ),
            (
                "110105\u{3000}19491231\u{3000}002ｘ".into(),
                Ok("11010519491231002X"),
            ),
            (fujian.clone(), Ok(fujian.as_str())),
            (complete("81000019900101001"), Ok("")), // residence permit, checked below
            (
                wrong_check,
                Err(E::CheckDigit {
                    expected: '0',
                    found: '1',
                }),
            ),
            (complete("35042519990230123"), Err(E::InvalidBirthDate)),
            (complete("35042519991301123"), Err(E::InvalidBirthDate)),
            (complete("35042520240602123"), Err(E::BirthDateInFuture)),
            (complete("35042518991231123"), Err(E::BirthDateTooEarly)),
            (complete("44052418800101001"), Err(E::BirthDateTooEarly)),
            (
                complete("99042519850312123"),
                Err(E::UnknownProvince { code: "99".into() }),
            ),
            (
                complete("71000019850312123"),
                Err(E::UnknownProvince { code: "71".into() }),
            ),
            (
                complete("91010119850312123"),
                Err(E::UnknownProvince { code: "91".into() }),
            ),
            (complete("35000019850312123"), Err(E::RegionNotCounty)),
            (complete("81010119850312123"), Err(E::ResidencePermitRegion)),
            ("350425850312123".into(), Err(E::FirstGeneration)),
            (
                "3504251985031212".into(),
                Err(E::WrongLength { length: 16 }),
            ),
            (
                "3504251985031212345".into(),
                Err(E::WrongLength { length: 19 }),
            ),
            ("".into(), Err(E::Empty)),
            ("  - ".into(), Err(E::Empty)),
            (
                "35042519850312A238".into(),
                Err(E::InvalidCharacter { position: 15 }),
            ),
            (
                "X50425198503121238".into(),
                Err(E::InvalidCharacter { position: 1 }),
            ),
            (
                "35042519850312123Y".into(),
                Err(E::InvalidCharacter { position: 18 }),
            ),
            (
                "3504251985031212张8".into(),
                Err(E::InvalidCharacter { position: 17 }),
            ),
        ];
        for (raw, expected) in cases {
            let got = ResidentIdNumber::parse(&raw, today());
            match (&got, &expected) {
                (Ok(number), Ok("")) => assert!(number.is_residence_permit(), "{raw}"),
                (Ok(number), Ok(text)) => assert_eq!(number.as_str(), *text, "{raw}"),
                (Err(e), Err(x)) => assert_eq!(e, x, "{raw}"),
                _ => panic!("{raw:?}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn getters_and_masking() {
        let number = ResidentIdNumber::parse("11010519491231002X", today()).unwrap();
        assert_eq!(
            number.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(number.sex(), Sex::Female); // 17th digit 2
        assert_eq!(number.region_code(), "110105");
        assert!(!number.is_residence_permit());
        assert_eq!(number.masked(), "1101**********002X");
        assert_eq!(number.to_string(), "1101**********002X");
        let debug = format!("{number:?}");
        assert!(!debug.contains("19491231"), "{debug}");
        let man = ResidentIdNumber::parse(&complete("35042519850312123"), today()).unwrap();
        assert_eq!(man.sex(), Sex::Male);
    }

    #[test]
    fn messages_say_what_and_where_without_the_number() {
        let e = ResidentIdNumber::parse(&complete("35042519990230123"), today()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "characters 7–14 of the id number are not a calendar date (yyyymmdd)"
        );
        let e = ResidentIdNumber::parse("35042519850312123Y", today()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "character 18 of the id number is not a digit or X"
        );
        let e = ResidentIdNumber::parse("3504251985031212", today()).unwrap_err();
        assert!(e.to_string().contains("this one has 16"), "{e}");
        let e = ResidentIdNumber::parse("350425850312123", today()).unwrap_err();
        assert!(e.to_string().contains("15-digit"), "{e}");
        let e = ResidentIdNumber::parse("350425198503121231", today()).unwrap_err();
        assert!(
            e.to_string()
                .contains("is 1, but the first 17 digits give 0"),
            "{e}"
        );
    }

    #[test]
    fn very_long_input_is_refused_by_length() {
        let raw = "1".repeat(10_000);
        assert_eq!(
            ResidentIdNumber::parse(&raw, today()),
            Err(IdNumberError::WrongLength { length: 10_000 })
        );
    }

    /// 17 digits with a real province, a county-level region code and a date of birth
    /// from 1900-01-01 to `today`.
    fn first17() -> impl Strategy<Value = String> {
        let days = (today() - BIRTH_DATE_MIN).num_days();
        (
            proptest::sample::select(MAINLAND_PROVINCES.to_vec()),
            1u32..=9999,
            0..=days,
            0u32..=999,
        )
            .prop_map(|(province, county, day, sequence)| {
                let date = BIRTH_DATE_MIN + chrono::Duration::days(day);
                format!(
                    "{province:02}{county:04}{}{sequence:03}",
                    date.format("%Y%m%d")
                )
            })
    }

    proptest! {
        #[test]
        fn valid_numbers_parse_and_any_single_change_fails(
            first17 in first17(),
            index in 0usize..18,
            replacement in proptest::sample::select(b"0123456789X".to_vec()),
        ) {
            let number = complete(&first17);
            let parsed = ResidentIdNumber::parse(&number, today()).unwrap();
            prop_assert_eq!(parsed.as_str(), number.as_str());
            let mut changed = number.clone().into_bytes();
            prop_assume!(changed[index] != replacement);
            changed[index] = replacement;
            let changed = String::from_utf8(changed).unwrap();
            prop_assert!(ResidentIdNumber::parse(&changed, today()).is_err(), "{} parsed", changed);
        }
    }
}
