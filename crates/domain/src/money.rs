//! Money: `Amount` (a non-negative payment amount) and `Money` (a signed balance), both exact yuan with two decimals.
//!
//! Both wrap a `rust_decimal::Decimal` whose scale is always exactly 2, so the
//! mantissa is the amount in fen (分). Nothing here ever rounds an input: text with
//! more than two decimal places (after applying 万 or 亿) is rejected.

use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest amount one payment, appropriation or premium can carry: ten trillion yuan
/// (10^13 元), far above any real figure, low enough that sums never approach the
/// `Decimal` or `i64` fen limits.
pub const AMOUNT_MAX_YUAN: i64 = 10_000_000_000_000;
/// The same limit in fen.
pub const AMOUNT_MAX_FEN: i64 = AMOUNT_MAX_YUAN * 100;
/// Amount text longer than this is rejected before any parsing (a typed amount is short).
pub const AMOUNT_INPUT_CHARS_MAX: usize = 64;

const SCALE: u32 = 2;

/// Why a text or number could not become an `Amount`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Nothing was typed.
    #[error("the amount is empty; type a figure such as 1234.56")]
    Empty,
    /// A minus sign or a negative number where only payments are allowed.
    #[error("the amount {input} is negative; amounts are entered as positive figures")]
    Negative { input: String },
    /// Scientific notation (`1e5`) is refused because clerks never type it and it hides typos.
    #[error("the amount {input} uses exponent notation; type the figure in full")]
    Exponent { input: String },
    /// Letters, misplaced separators, NaN and the like.
    #[error(
        "{input} is not an amount; type a figure such as 1234.56, 1,234.56, 616.8万 or 1.32亿"
    )]
    Malformed { input: String },
    /// More than two decimals of yuan once 万 or 亿 has been applied: rounding would lose money.
    #[error(
        "the amount {input} has more than two decimal places of yuan; amounts are never rounded"
    )]
    TooManyDecimals { input: String },
    /// Above `AMOUNT_MAX_YUAN`.
    #[error("the amount {input} exceeds the maximum of ¥10,000,000,000,000.00")]
    Overflow { input: String },
}

impl AmountError {
    /// A stable machine code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            AmountError::Empty => "amount_empty",
            AmountError::Negative { .. } => "amount_negative",
            AmountError::Exponent { .. } => "amount_exponent",
            AmountError::Malformed { .. } => "amount_malformed",
            AmountError::TooManyDecimals { .. } => "amount_too_many_decimals",
            AmountError::Overflow { .. } => "amount_overflow",
        }
    }
}

/// A non-negative amount of yuan with exactly two decimals, at most `AMOUNT_MAX_YUAN`.
///
/// Used for everything a person types or a command carries: payments, appropriations,
/// premiums, shares. Zero is a valid `Amount` (a household contribution can be zero);
/// `decide` refuses zero where a payment must move money.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(Decimal);

impl Amount {
    /// ¥0.00.
    pub const ZERO: Amount = Amount(Decimal::from_parts(0, 0, 0, false, SCALE));

    /// Builds an amount from a whole number of fen.
    pub fn from_fen(fen: i64) -> Result<Amount, AmountError> {
        if fen < 0 {
            return Err(AmountError::Negative {
                input: Money::from_fen_unchecked(fen).plain(),
            });
        }
        if fen > AMOUNT_MAX_FEN {
            return Err(AmountError::Overflow {
                input: Money::from_fen_unchecked(fen).plain(),
            });
        }
        Ok(Amount(Decimal::new(fen, SCALE)))
    }

    /// Builds an amount from whole yuan (convenient in tests and fixtures).
    pub fn from_yuan(yuan: i64) -> Result<Amount, AmountError> {
        let fen = yuan.checked_mul(100).ok_or_else(|| AmountError::Overflow {
            input: yuan.to_string(),
        })?;
        Amount::from_fen(fen)
    }

    /// Accepts a decimal with at most two significant decimal places; never rounds.
    pub fn from_decimal(value: Decimal) -> Result<Amount, AmountError> {
        let input = value.to_string();
        if value.is_sign_negative() && !value.is_zero() {
            return Err(AmountError::Negative { input });
        }
        if value.normalize().scale() > SCALE {
            return Err(AmountError::TooManyDecimals { input });
        }
        let mut scaled = value;
        scaled.rescale(SCALE);
        let amount = Amount(scaled.abs());
        if amount.fen_i128() > i128::from(AMOUNT_MAX_FEN) {
            return Err(AmountError::Overflow { input });
        }
        Ok(amount)
    }

    /// Parses an amount as a person types it: `1234.56`, `1,234.56`, `¥1,234.56`,
    /// `1234.56元`, `616.8万`, `616.8万元`, `1.32亿`. Rules are in docs/DOMAIN.md.
    pub fn parse(input: &str) -> Result<Amount, AmountError> {
        parse_human(input)
    }

    /// Parses the strict stored form: digits, optionally a point and one or two decimals.
    /// This is what JSON carries; no separators, units or symbols.
    pub fn parse_plain(input: &str) -> Result<Amount, AmountError> {
        parse_plain_strict(input)
    }

    /// The amount as a `Decimal` with scale 2.
    pub fn to_decimal(self) -> Decimal {
        self.0
    }

    /// The amount in fen.
    pub fn fen(self) -> i64 {
        // The invariant (scale 2, at most AMOUNT_MAX_FEN) makes this conversion exact.
        i64::try_from(self.fen_i128()).expect("an Amount always fits in i64 fen")
    }

    fn fen_i128(self) -> i128 {
        self.0.mantissa()
    }

    /// True for ¥0.00.
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// The amount as a signed `Money`.
    pub fn to_money(self) -> Money {
        Money(self.0)
    }

    /// `1234.56`: no symbol, no separators (the stored and exported form).
    pub fn plain(self) -> String {
        self.to_money().plain()
    }

    /// `616.80万元`: the amount in units of 10,000 yuan, rounded half away from zero
    /// to two decimals (so ¥6,168,049.99 shows as 616.80万元 and ¥6,168,050.00 as 616.81万元).
    pub fn wan(self) -> String {
        self.to_money().wan()
    }

    /// Adds two amounts; `None` above `AMOUNT_MAX_YUAN`.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        Amount::from_fen(self.fen().checked_add(other.fen())?).ok()
    }

    /// Subtracts; `None` if the result would be negative.
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        Amount::from_fen(self.fen().checked_sub(other.fen())?).ok()
    }
}

impl fmt::Display for Amount {
    /// `¥1,234.56`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_money(), f)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.plain())
    }
}

impl FromStr for Amount {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Amount, AmountError> {
        Amount::parse(s)
    }
}

impl TryFrom<Money> for Amount {
    type Error = AmountError;
    fn try_from(value: Money) -> Result<Amount, AmountError> {
        Amount::from_decimal(value.0)
    }
}

impl From<Amount> for Money {
    fn from(value: Amount) -> Money {
        value.to_money()
    }
}

/// A signed amount of yuan with exactly two decimals: balances, posting sums, differences.
///
/// Arithmetic is exact. `Decimal` holds 96 bits, so a sum would need more than 10^13
/// maximal payments to overflow; overflow is therefore treated as a programmer error (panic).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

impl Money {
    /// ¥0.00.
    pub const ZERO: Money = Money(Decimal::from_parts(0, 0, 0, false, SCALE));

    /// Builds money from a signed number of fen.
    pub fn from_fen(fen: i64) -> Money {
        Money::from_fen_unchecked(fen)
    }

    fn from_fen_unchecked(fen: i64) -> Money {
        Money(Decimal::new(fen, SCALE))
    }

    /// The value in fen, if it fits in `i64` (it always does for realistic ledgers).
    pub fn fen(self) -> Option<i64> {
        i64::try_from(self.0.mantissa()).ok()
    }

    /// The value in fen as `i128` (always exact).
    pub fn fen_i128(self) -> i128 {
        self.0.mantissa()
    }

    /// The value as a `Decimal` with scale 2.
    pub fn to_decimal(self) -> Decimal {
        self.0
    }

    /// True for zero.
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// True below zero.
    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    /// The larger of zero and this value.
    pub fn clamp_zero(self) -> Money {
        if self.is_negative() {
            Money::ZERO
        } else {
            self
        }
    }

    /// The value with its sign flipped.
    pub fn negated(self) -> Money {
        // Keep zero unsigned so that equality and display never see "-0.00".
        if self.0.is_zero() {
            Money::ZERO
        } else {
            Money(-self.0)
        }
    }

    /// `1234.56` or `-1234.56`.
    pub fn plain(self) -> String {
        let fen = self.fen_i128();
        let sign = if fen < 0 { "-" } else { "" };
        let abs = fen.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// `616.80万元`: rounded half away from zero to two decimals of 万元.
    pub fn wan(self) -> String {
        let wan = self
            .0
            .checked_div(Decimal::from(10_000))
            .expect("dividing by 10,000 cannot overflow")
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        let hundredths = (wan * Decimal::from(100)).trunc().mantissa();
        let sign = if hundredths < 0 { "-" } else { "" };
        let abs = hundredths.unsigned_abs();
        format!("{sign}{}.{:02}万元", abs / 100, abs % 100)
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(
            self.0
                .checked_add(rhs.0)
                .expect("money overflow is beyond any ledger"),
        )
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(
            self.0
                .checked_sub(rhs.0)
                .expect("money overflow is beyond any ledger"),
        )
    }
}

impl std::ops::AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        *self = *self + rhs;
    }
}

impl std::ops::SubAssign for Money {
    fn sub_assign(&mut self, rhs: Money) {
        *self = *self - rhs;
    }
}

impl std::ops::Add<Amount> for Money {
    type Output = Money;
    fn add(self, rhs: Amount) -> Money {
        self + rhs.to_money()
    }
}

impl std::ops::Sub<Amount> for Money {
    type Output = Money;
    fn sub(self, rhs: Amount) -> Money {
        self - rhs.to_money()
    }
}

impl std::ops::AddAssign<Amount> for Money {
    fn add_assign(&mut self, rhs: Amount) {
        *self = *self + rhs;
    }
}

impl std::ops::SubAssign<Amount> for Money {
    fn sub_assign(&mut self, rhs: Amount) {
        *self = *self - rhs;
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for Money {
    /// `¥1,234.56`, or `-¥1,234.56` below zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fen = self.fen_i128();
        let sign = if fen < 0 { "-" } else { "" };
        let abs = fen.unsigned_abs();
        let yuan = (abs / 100).to_string();
        let mut grouped = String::with_capacity(yuan.len() + yuan.len() / 3);
        for (i, c) in yuan.chars().enumerate() {
            if i > 0 && (yuan.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        write!(f, "{sign}¥{grouped}.{:02}", abs % 100)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({})", self.plain())
    }
}

fn parse_plain_strict(input: &str) -> Result<Amount, AmountError> {
    if input.is_empty() {
        return Err(AmountError::Empty);
    }
    if input.len() > AMOUNT_INPUT_CHARS_MAX {
        return Err(AmountError::Malformed {
            input: truncate(input),
        });
    }
    if input.starts_with('-') {
        return Err(AmountError::Negative {
            input: input.to_owned(),
        });
    }
    let (int, frac) = match input.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (input, None),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed_or_exponent(input));
    }
    if let Some(frac) = frac {
        if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed_or_exponent(input));
        }
        if frac.len() > 2 {
            return Err(AmountError::TooManyDecimals {
                input: input.to_owned(),
            });
        }
    }
    digits_to_amount(input, int, frac.unwrap_or(""), Decimal::ONE)
}

fn parse_human(raw: &str) -> Result<Amount, AmountError> {
    let input = raw.trim();
    if input.is_empty() {
        return Err(AmountError::Empty);
    }
    if input.chars().count() > AMOUNT_INPUT_CHARS_MAX {
        return Err(AmountError::Malformed {
            input: truncate(input),
        });
    }
    let owned = || input.to_owned();
    let mut s = input;
    // A minus sign may come before or after the currency symbol ("-¥5" or "¥-5").
    let negative_marks = ['-', '−'];
    if s.starts_with(negative_marks) {
        return Err(AmountError::Negative { input: owned() });
    }
    s = s
        .strip_prefix('¥')
        .or_else(|| s.strip_prefix('￥'))
        .unwrap_or(s)
        .trim_start();
    if s.starts_with(negative_marks) {
        return Err(AmountError::Negative { input: owned() });
    }
    s = s.strip_suffix('元').unwrap_or(s).trim_end();
    let mut multiplier = Decimal::ONE;
    if let Some(rest) = s.strip_suffix('万') {
        multiplier = Decimal::from(10_000);
        s = rest.trim_end();
    } else if let Some(rest) = s.strip_suffix('亿') {
        multiplier = Decimal::from(100_000_000);
        s = rest.trim_end();
    }
    let (int_grouped, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if s.contains('.') && frac.is_empty() {
        return Err(AmountError::Malformed { input: owned() });
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed_or_exponent(input));
    }
    let int = strip_grouping(int_grouped).ok_or_else(|| malformed_or_exponent(input))?;
    digits_to_amount(input, &int, frac, multiplier)
}

/// Removes thousands separators, insisting on groups of exactly three digits so that
/// a typo such as `12,34.56` is refused rather than read as 1234.56.
fn strip_grouping(int: &str) -> Option<String> {
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit() || b == b',') {
        return None;
    }
    if !int.contains(',') {
        return Some(int.to_owned());
    }
    let groups: Vec<&str> = int.split(',').collect();
    let first_ok = (1..=3).contains(&groups[0].len());
    let rest_ok = groups[1..].iter().all(|g| g.len() == 3);
    (first_ok && rest_ok).then(|| groups.concat())
}

fn malformed_or_exponent(input: &str) -> AmountError {
    let lower = input.to_ascii_lowercase();
    let looks_exponent = lower.contains('e')
        && lower
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, 'e' | '.' | '+' | '-' | ',' | '¥'));
    if looks_exponent {
        AmountError::Exponent {
            input: input.to_owned(),
        }
    } else {
        AmountError::Malformed {
            input: input.to_owned(),
        }
    }
}

fn digits_to_amount(
    input: &str,
    int: &str,
    frac: &str,
    multiplier: Decimal,
) -> Result<Amount, AmountError> {
    let int_trimmed = int.trim_start_matches('0');
    // More than 15 integer digits is above the maximum whatever the unit; refusing early
    // also keeps the text within what `Decimal` can hold exactly.
    if int_trimmed.len() > 15 {
        return Err(AmountError::Overflow {
            input: input.to_owned(),
        });
    }
    let frac_trimmed = frac.trim_end_matches('0');
    // Eight decimals is the most that can survive 亿 (10^8) with two left over; more
    // significant decimals are always too many.
    if frac_trimmed.len() > 10 {
        return Err(AmountError::TooManyDecimals {
            input: input.to_owned(),
        });
    }
    let int_part = if int_trimmed.is_empty() {
        "0"
    } else {
        int_trimmed
    };
    let text = if frac_trimmed.is_empty() {
        int_part.to_owned()
    } else {
        format!("{int_part}.{frac_trimmed}")
    };
    let value = Decimal::from_str_exact(&text).map_err(|_| AmountError::Malformed {
        input: input.to_owned(),
    })?;
    let scaled = value
        .checked_mul(multiplier)
        .ok_or_else(|| AmountError::Overflow {
            input: input.to_owned(),
        })?;
    match Amount::from_decimal(scaled) {
        Ok(amount) => Ok(amount),
        Err(AmountError::TooManyDecimals { .. }) => Err(AmountError::TooManyDecimals {
            input: input.to_owned(),
        }),
        Err(AmountError::Overflow { .. }) => Err(AmountError::Overflow {
            input: input.to_owned(),
        }),
        Err(other) => Err(other),
    }
}

fn truncate(input: &str) -> String {
    let mut s: String = input.chars().take(24).collect();
    s.push('…');
    s
}

impl Serialize for Amount {
    /// JSON and other human-readable formats: the decimal string `"1234.56"`, never a
    /// number (a JSON number would pass through binary floating point in many readers).
    /// Binary formats (bincode): the amount as `i64` fen.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.plain())
        } else {
            serializer.serialize_i64(self.fen())
        }
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Amount, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(AmountVisitor)
        } else {
            deserializer.deserialize_i64(AmountVisitor)
        }
    }
}

struct AmountVisitor;

impl Visitor<'_> for AmountVisitor {
    type Value = Amount;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "an amount as a decimal string such as \"1234.56\", or integer fen in binary formats",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
        Amount::parse_plain(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
        Amount::from_fen(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
        let fen = i64::try_from(v).map_err(|_| E::custom("amount in fen is out of range"))?;
        Amount::from_fen(fen).map_err(E::custom)
    }
}

impl Serialize for Money {
    /// Same encoding as `Amount`, signed: `"-1234.56"` or `i64` fen.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&self.plain())
        } else {
            let fen = self
                .fen()
                .ok_or_else(|| serde::ser::Error::custom("money exceeds the i64 fen range"))?;
            serializer.serialize_i64(fen)
        }
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(MoneyVisitor)
        } else {
            deserializer.deserialize_i64(MoneyVisitor)
        }
    }
}

struct MoneyVisitor;

impl Visitor<'_> for MoneyVisitor {
    type Value = Money;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "money as a decimal string such as \"-1234.56\", or integer fen in binary formats",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Money, E> {
        match v.strip_prefix('-') {
            Some(rest) => Amount::parse_plain(rest)
                .map(|a| a.to_money().negated())
                .map_err(E::custom),
            None => Amount::parse_plain(v)
                .map(Amount::to_money)
                .map_err(E::custom),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Money, E> {
        Ok(Money::from_fen(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Money, E> {
        let fen = i64::try_from(v).map_err(|_| E::custom("money in fen is out of range"))?;
        Ok(Money::from_fen(fen))
    }
}
