//! A beneficiary's personal information: validated field types, [`PersonalData`], the
//! [`ContactUpdate`] that changes its contact fields, and the plaintext encoding that is
//! encrypted into the registry.
//!
//! Every type here masks itself in `Debug` (and has a `masked()` form), so personal
//! information does not reach logs or panic messages by accident, and zeroes its text
//! when dropped (best effort: copies the caller makes are the caller's).
//!
//! # Plaintext encoding (inside the ciphertext)
//!
//! A small hand-rolled, length-prefixed encoding rather than serde: the store owns
//! bincode, and JSON would add escaping and field names for no benefit. Version 1:
//!
//! | bytes | content |
//! | --- | --- |
//! | 1 | format version, `1` |
//! | per field | name, id number, phone, bank account, address, in this order: a presence byte (`0` absent, `1` present; name and id number are always present), then if present a `u16` big-endian length and that many bytes of UTF-8 |
//!
//! Nothing may follow the last field. Decoding validates every field again with the
//! same constructors (the id number without the "not after today" check).

use std::fmt;

use chrono::NaiveDate;
use zeroize::{Zeroize, Zeroizing};

use crate::idcard::{IdNumberError, ResidentIdNumber};

/// The longest name, in characters.
pub const NAME_CHARS_MAX: usize = 50;
/// The longest address, in characters.
pub const ADDRESS_CHARS_MAX: usize = 200;
/// The fewest digits in a bank account number.
pub const BANK_ACCOUNT_DIGITS_MIN: usize = 10;
/// The most digits in a bank account number.
pub const BANK_ACCOUNT_DIGITS_MAX: usize = 30;

/// The version of the plaintext encoding written by this code.
const PLAINTEXT_FORMAT: u8 = 1;

/// Why a field of personal information is not valid. Messages never echo the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonalDataError {
    #[error("the name is empty")]
    NameEmpty,
    #[error("the name has {chars} characters; the maximum is {NAME_CHARS_MAX}")]
    NameTooLong { chars: usize },
    #[error("character {position} of the name is a control character")]
    NameControlCharacter { position: usize },
    #[error("the phone number is neither a mainland mobile number (11 digits starting 13 to 19, optionally after +86) nor a landline number (an area code 0xx or 0xxx, an optional hyphen, then 7 or 8 digits)")]
    PhoneInvalid,
    #[error("the bank account number has {digits} digits; it must have {BANK_ACCOUNT_DIGITS_MIN} to {BANK_ACCOUNT_DIGITS_MAX}")]
    BankAccountLength { digits: usize },
    #[error("character {position} of the bank account number is not a digit (only digits and spaces are accepted)")]
    BankAccountCharacter { position: usize },
    #[error("the address is empty: leave it out instead")]
    AddressEmpty,
    #[error("the address has {chars} characters; the maximum is {ADDRESS_CHARS_MAX}")]
    AddressTooLong { chars: usize },
    #[error("character {position} of the address is a control character")]
    AddressControlCharacter { position: usize },
    #[error(transparent)]
    IdNumber(#[from] IdNumberError),
}

impl PersonalDataError {
    /// The field the error is about: `name`, `id_number`, `phone`, `bank_account` or `address`.
    pub fn field(&self) -> &'static str {
        match self {
            PersonalDataError::NameEmpty
            | PersonalDataError::NameTooLong { .. }
            | PersonalDataError::NameControlCharacter { .. } => "name",
            PersonalDataError::PhoneInvalid => "phone",
            PersonalDataError::BankAccountLength { .. }
            | PersonalDataError::BankAccountCharacter { .. } => "bank_account",
            PersonalDataError::AddressEmpty
            | PersonalDataError::AddressTooLong { .. }
            | PersonalDataError::AddressControlCharacter { .. } => "address",
            PersonalDataError::IdNumber(_) => "id_number",
        }
    }

    /// A stable machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            PersonalDataError::NameEmpty => "name_empty",
            PersonalDataError::NameTooLong { .. } => "name_too_long",
            PersonalDataError::NameControlCharacter { .. } => "name_control_character",
            PersonalDataError::PhoneInvalid => "phone_invalid",
            PersonalDataError::BankAccountLength { .. } => "bank_account_length",
            PersonalDataError::BankAccountCharacter { .. } => "bank_account_character",
            PersonalDataError::AddressEmpty => "address_empty",
            PersonalDataError::AddressTooLong { .. } => "address_too_long",
            PersonalDataError::AddressControlCharacter { .. } => "address_control_character",
            PersonalDataError::IdNumber(e) => e.code(),
        }
    }
}

/// Maps full-width digits (U+FF10–U+FF19) to ASCII, leaves other characters alone.
fn ascii_digit(c: char) -> char {
    match c {
        '\u{FF10}'..='\u{FF19}' => char::from_u32(u32::from(c) - 0xFF10 + u32::from('0'))
            .expect("a full-width digit maps to an ASCII digit"),
        '\u{FF0D}' => '-',
        '\u{FF0B}' => '+',
        other => other,
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\u{3000}')
}

/// Masks all but the first character: `张**`.
fn mask_after_first(text: &str) -> String {
    let mut chars = text.chars();
    let first = chars.next().map(String::from).unwrap_or_default();
    let rest = chars.count().max(1);
    format!("{first}{}", "*".repeat(rest))
}

/// A person's name: 1 to [`NAME_CHARS_MAX`] characters after trimming, no control characters.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// Trims and validates.
    pub fn parse(raw: &str) -> Result<PersonName, PersonalDataError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(PersonalDataError::NameEmpty);
        }
        let chars = text.chars().count();
        if chars > NAME_CHARS_MAX {
            return Err(PersonalDataError::NameTooLong { chars });
        }
        if let Some(index) = text.chars().position(char::is_control) {
            return Err(PersonalDataError::NameControlCharacter {
                position: index + 1,
            });
        }
        Ok(PersonName(text.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first character, the rest starred: `张**`.
    pub fn masked(&self) -> String {
        mask_after_first(&self.0)
    }
}

/// A phone number, normalised: a mainland mobile number as 11 digits (`13800138000`), or
/// a landline as area code, hyphen, local number (`0598-8221234`).
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Accepts a mobile number `1[3-9]` and 9 more digits (spaces, hyphens and a `+86`
    /// prefix are ignored), or a landline `0\d{2,3}-?\d{7,8}` (spaces ignored). Without a
    /// hyphen the area code is split by the national rule: `01x` and `02x` have three
    /// digits, all others four.
    pub fn parse(raw: &str) -> Result<Phone, PersonalDataError> {
        let compact: String = raw
            .trim()
            .chars()
            .filter(|c| !is_space(*c))
            .map(ascii_digit)
            .collect();
        let digits: String = compact.chars().filter(|c| *c != '-').collect();
        let mobile = digits.strip_prefix("+86").unwrap_or(&digits);
        if mobile.len() == 11
            && mobile.bytes().all(|b| b.is_ascii_digit())
            && mobile.as_bytes()[0] == b'1'
            && (b'3'..=b'9').contains(&mobile.as_bytes()[1])
        {
            return Ok(Phone(mobile.to_owned()));
        }
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let (area, local) = match compact.split_once('-') {
            Some((area, local)) => (area, local),
            None => {
                if !all_digits(&compact) || !compact.starts_with('0') || compact.len() < 3 {
                    return Err(PersonalDataError::PhoneInvalid);
                }
                let area_digits = if matches!(compact.as_bytes()[1], b'1' | b'2') {
                    3
                } else {
                    4
                };
                compact.split_at(area_digits.min(compact.len()))
            }
        };
        let area_ok = all_digits(area) && area.starts_with('0') && (3..=4).contains(&area.len());
        let local_ok = all_digits(local) && (7..=8).contains(&local.len());
        if !(area_ok && local_ok) {
            return Err(PersonalDataError::PhoneInvalid);
        }
        Ok(Phone(format!("{area}-{local}")))
    }

    /// The normalised number.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for a mobile number.
    pub fn is_mobile(&self) -> bool {
        !self.0.contains('-')
    }

    /// The last four digits and the mobile prefix or area code: `138****8000`, `0598-****1234`.
    pub fn masked(&self) -> String {
        let last4 = &self.0[self.0.len() - 4..];
        match self.0.split_once('-') {
            Some((area, _)) => format!("{area}-****{last4}"),
            None => format!("{}****{last4}", &self.0[..3]),
        }
    }
}

/// A bank account (or card) number: [`BANK_ACCOUNT_DIGITS_MIN`] to
/// [`BANK_ACCOUNT_DIGITS_MAX`] digits, spaces removed.
#[derive(Clone, PartialEq, Eq)]
pub struct BankAccount(String);

impl BankAccount {
    /// Removes spaces (ASCII and full-width), maps full-width digits, validates.
    pub fn parse(raw: &str) -> Result<BankAccount, PersonalDataError> {
        let digits: String = raw
            .trim()
            .chars()
            .filter(|c| !is_space(*c))
            .map(ascii_digit)
            .collect();
        if let Some(index) = digits.chars().position(|c| !c.is_ascii_digit()) {
            return Err(PersonalDataError::BankAccountCharacter {
                position: index + 1,
            });
        }
        if !(BANK_ACCOUNT_DIGITS_MIN..=BANK_ACCOUNT_DIGITS_MAX).contains(&digits.len()) {
            return Err(PersonalDataError::BankAccountLength {
                digits: digits.len(),
            });
        }
        Ok(BankAccount(digits))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Only the last four digits: `****1234`.
    pub fn masked(&self) -> String {
        format!("****{}", &self.0[self.0.len() - 4..])
    }
}

/// A postal address: 1 to [`ADDRESS_CHARS_MAX`] characters after trimming, no control characters.
#[derive(Clone, PartialEq, Eq)]
pub struct Address(String);

impl Address {
    /// Trims and validates.
    pub fn parse(raw: &str) -> Result<Address, PersonalDataError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(PersonalDataError::AddressEmpty);
        }
        let chars = text.chars().count();
        if chars > ADDRESS_CHARS_MAX {
            return Err(PersonalDataError::AddressTooLong { chars });
        }
        if let Some(index) = text.chars().position(char::is_control) {
            return Err(PersonalDataError::AddressControlCharacter {
                position: index + 1,
            });
        }
        Ok(Address(text.to_owned()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Only the length: `<address, 23 characters>`.
    pub fn masked(&self) -> String {
        format!("<address, {} characters>", self.0.chars().count())
    }
}

macro_rules! zeroize_and_mask {
    ($($name:ident),*) => {$(
        impl Drop for $name {
            fn drop(&mut self) {
                self.0.zeroize();
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.masked())
            }
        }
    )*};
}

zeroize_and_mask!(PersonName, Phone, BankAccount, Address);

/// Everything the registry keeps about one beneficiary. Name and id number are identity;
/// phone, bank account and address are contact data that [`ContactUpdate`] changes.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonalData {
    name: PersonName,
    id_number: ResidentIdNumber,
    phone: Option<Phone>,
    bank_account: Option<BankAccount>,
    address: Option<Address>,
}

impl PersonalData {
    /// Joins validated fields.
    pub fn new(
        name: PersonName,
        id_number: ResidentIdNumber,
        phone: Option<Phone>,
        bank_account: Option<BankAccount>,
        address: Option<Address>,
    ) -> PersonalData {
        PersonalData {
            name,
            id_number,
            phone,
            bank_account,
            address,
        }
    }

    /// Parses every field from text, for callers holding a form or a CSV row. `today`
    /// bounds the date of birth in the id number. The error's [`PersonalDataError::field`]
    /// names the field.
    pub fn parse(
        name: &str,
        id_number: &str,
        phone: Option<&str>,
        bank_account: Option<&str>,
        address: Option<&str>,
        today: NaiveDate,
    ) -> Result<PersonalData, PersonalDataError> {
        Ok(PersonalData {
            name: PersonName::parse(name)?,
            id_number: ResidentIdNumber::parse(id_number, today)?,
            phone: phone.map(Phone::parse).transpose()?,
            bank_account: bank_account.map(BankAccount::parse).transpose()?,
            address: address.map(Address::parse).transpose()?,
        })
    }

    pub fn name(&self) -> &PersonName {
        &self.name
    }

    pub fn id_number(&self) -> &ResidentIdNumber {
        &self.id_number
    }

    pub fn phone(&self) -> Option<&Phone> {
        self.phone.as_ref()
    }

    pub fn bank_account(&self) -> Option<&BankAccount> {
        self.bank_account.as_ref()
    }

    pub fn address(&self) -> Option<&Address> {
        self.address.as_ref()
    }

    /// This data with the contact fields changed as `update` says.
    pub fn with_contact(&self, update: &ContactUpdate) -> PersonalData {
        PersonalData {
            name: self.name.clone(),
            id_number: self.id_number.clone(),
            phone: update.phone.apply(&self.phone),
            bank_account: update.bank_account.apply(&self.bank_account),
            address: update.address.apply(&self.address),
        }
    }

    /// The plaintext encoding (module docs), zeroed when dropped.
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(128));
        out.push(PLAINTEXT_FORMAT);
        let fields = [
            Some(self.name.as_str()),
            Some(self.id_number.as_str()),
            self.phone.as_ref().map(Phone::as_str),
            self.bank_account.as_ref().map(BankAccount::as_str),
            self.address.as_ref().map(Address::as_str),
        ];
        for field in fields {
            match field {
                None => out.push(0),
                Some(text) => {
                    // Every field is bounded far below 64 KiB by its constructor.
                    let length = u16::try_from(text.len()).expect("a field is shorter than 64 KiB");
                    out.push(1);
                    out.extend_from_slice(&length.to_be_bytes());
                    out.extend_from_slice(text.as_bytes());
                }
            }
        }
        out
    }

    /// Decodes and revalidates the plaintext encoding. The error says what is wrong,
    /// never the value.
    pub(crate) fn decode(bytes: &[u8]) -> Result<PersonalData, String> {
        let mut reader = Reader { bytes, at: 0 };
        let format = reader.byte()?;
        if format != PLAINTEXT_FORMAT {
            return Err(format!("unknown plaintext format {format}"));
        }
        let name = reader.field("name")?.ok_or("the name is missing")?;
        let id_number = reader
            .field("id number")?
            .ok_or("the id number is missing")?;
        let phone = reader.field("phone")?;
        let bank_account = reader.field("bank account")?;
        let address = reader.field("address")?;
        if reader.at != bytes.len() {
            return Err(format!(
                "{} bytes follow the last field",
                bytes.len() - reader.at
            ));
        }
        let invalid = |field: &'static str| {
            move |e: PersonalDataError| format!("the stored {field} is not valid: {e}")
        };
        Ok(PersonalData {
            name: PersonName::parse(name).map_err(invalid("name"))?,
            id_number: ResidentIdNumber::from_stored(id_number)
                .map_err(|e| format!("the stored id number is not valid: {e}"))?,
            phone: phone
                .map(Phone::parse)
                .transpose()
                .map_err(invalid("phone"))?,
            bank_account: bank_account
                .map(BankAccount::parse)
                .transpose()
                .map_err(invalid("bank account"))?,
            address: address
                .map(Address::parse)
                .transpose()
                .map_err(invalid("address"))?,
        })
    }
}

impl fmt::Debug for PersonalData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersonalData")
            .field("name", &self.name)
            .field("id_number", &self.id_number)
            .field("phone", &self.phone)
            .field("bank_account", &self.bank_account)
            .field("address", &self.address)
            .finish()
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(count)
            .filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| format!("the plaintext ends early at byte {}", self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn field(&mut self, what: &str) -> Result<Option<&'a str>, String> {
        match self.byte()? {
            0 => Ok(None),
            1 => {
                let length = self.take(2)?;
                let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
                let text = self.take(length)?;
                std::str::from_utf8(text)
                    .map(Some)
                    .map_err(|_| format!("the stored {what} is not UTF-8"))
            }
            other => Err(format!("the presence byte of the {what} is {other}")),
        }
    }
}

/// One contact field's change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FieldUpdate<T> {
    /// Leave the field as it is.
    #[default]
    Keep,
    /// Replace the field.
    Set(T),
    /// Remove the field.
    Clear,
}

impl<T: Clone> FieldUpdate<T> {
    fn apply(&self, current: &Option<T>) -> Option<T> {
        match self {
            FieldUpdate::Keep => current.clone(),
            FieldUpdate::Set(value) => Some(value.clone()),
            FieldUpdate::Clear => None,
        }
    }
}

/// A change of contact data. Name and id number are identity, not contact data: they
/// cannot be changed (erase and register again instead).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactUpdate {
    pub phone: FieldUpdate<Phone>,
    pub bank_account: FieldUpdate<BankAccount>,
    pub address: FieldUpdate<Address>,
}

impl ContactUpdate {
    /// True if the update changes nothing.
    pub fn is_empty(&self) -> bool {
        matches!(
            (&self.phone, &self.bank_account, &self.address),
            (FieldUpdate::Keep, FieldUpdate::Keep, FieldUpdate::Keep)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 6, 1).unwrap()
    }

    fn sample() -> PersonalData {
        PersonalData::parse(
            " 林秀英 ",
            "11010519491231002x",
            Some("138 0013 8000"),
            Some("6222 0212 3456 7890 123"),
            Some("福建省三明市梅列区列东街 12 号"),
            today(),
        )
        .unwrap()
    }

    #[test]
    fn names() {
        assert_eq!(PersonName::parse(" 林秀英 ").unwrap().as_str(), "林秀英");
        assert_eq!(
            PersonName::parse("阿依古丽·买买提").unwrap().masked(),
            "阿*******"
        );
        assert_eq!(PersonName::parse("  "), Err(PersonalDataError::NameEmpty));
        assert_eq!(
            PersonName::parse(&"林".repeat(51)),
            Err(PersonalDataError::NameTooLong { chars: 51 })
        );
        assert!(PersonName::parse(&"林".repeat(50)).is_ok());
        assert_eq!(
            PersonName::parse("林\u{7}英"),
            Err(PersonalDataError::NameControlCharacter { position: 2 })
        );
    }

    #[test]
    fn phones() {
        let ok = |raw: &str, normal: &str| {
            assert_eq!(Phone::parse(raw).unwrap().as_str(), normal, "{raw}")
        };
        ok("13800138000", "13800138000");
        ok("138-0013-8000", "13800138000");
        ok("+86 138 0013 8000", "13800138000");
        ok("１３８００１３８０００", "13800138000");
        ok("0598-8221234", "0598-8221234");
        ok("05988221234", "0598-8221234");
        ok("010-12345678", "010-12345678");
        ok("01012345678", "010-12345678");
        ok("021 6234 5678", "021-62345678");
        for bad in [
            "",
            "12800138000",
            "1380013800",
            "138001380001",
            "0598-123456",
            "598-8221234",
            "0598-822123456",
            "abc",
            "0-1234567",
        ] {
            assert_eq!(
                Phone::parse(bad),
                Err(PersonalDataError::PhoneInvalid),
                "{bad}"
            );
        }
        assert!(Phone::parse("13800138000").unwrap().is_mobile());
        assert_eq!(Phone::parse("13800138000").unwrap().masked(), "138****8000");
        assert_eq!(
            Phone::parse("0598-8221234").unwrap().masked(),
            "0598-****1234"
        );
    }

    #[test]
    fn bank_accounts() {
        assert_eq!(
            BankAccount::parse("6222 0212 3456 7890 123")
                .unwrap()
                .as_str(),
            "6222021234567890123"
        );
        assert_eq!(
            BankAccount::parse("6222021234567890123").unwrap().masked(),
            "****0123"
        );
        assert_eq!(
            BankAccount::parse("123456789"),
            Err(PersonalDataError::BankAccountLength { digits: 9 })
        );
        assert!(BankAccount::parse("1234567890").is_ok());
        assert!(BankAccount::parse(&"1".repeat(30)).is_ok());
        assert_eq!(
            BankAccount::parse(&"1".repeat(31)),
            Err(PersonalDataError::BankAccountLength { digits: 31 })
        );
        assert_eq!(
            BankAccount::parse("6222-0212-3456"),
            Err(PersonalDataError::BankAccountCharacter { position: 5 })
        );
    }

    #[test]
    fn addresses() {
        assert!(Address::parse(&"路".repeat(200)).is_ok());
        assert_eq!(
            Address::parse(&"路".repeat(201)),
            Err(PersonalDataError::AddressTooLong { chars: 201 })
        );
        assert_eq!(Address::parse(" "), Err(PersonalDataError::AddressEmpty));
        assert_eq!(
            Address::parse("a\nb"),
            Err(PersonalDataError::AddressControlCharacter { position: 2 })
        );
    }

    #[test]
    fn parse_names_the_failing_field() {
        let e =
            PersonalData::parse("林", "110105194912310021", None, None, None, today()).unwrap_err();
        assert_eq!(e.field(), "id_number");
        assert_eq!(e.code(), "id_number_check_digit");
        let e = PersonalData::parse("林", "11010519491231002X", Some("12"), None, None, today())
            .unwrap_err();
        assert_eq!(e.field(), "phone");
    }

    #[test]
    fn debug_masks_everything() {
        let debug = format!("{:?}", sample());
        for secret in ["秀英", "19491231", "0013", "3456", "梅列", "列东街"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("林**"), "{debug}");
    }

    #[test]
    fn encoding_round_trips_and_rejects_damage() {
        let data = sample();
        let bytes = data.encode();
        assert_eq!(PersonalData::decode(&bytes).unwrap(), data);
        let bare = PersonalData::new(
            PersonName::parse("林").unwrap(),
            ResidentIdNumber::parse("11010519491231002X", today()).unwrap(),
            None,
            None,
            None,
        );
        assert_eq!(PersonalData::decode(&bare.encode()).unwrap(), bare);
        for cut in 0..bytes.len() {
            assert!(PersonalData::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(PersonalData::decode(&longer)
            .unwrap_err()
            .contains("follow the last field"));
        let mut other_version = bytes.to_vec();
        other_version[0] = 2;
        assert!(PersonalData::decode(&other_version).is_err());
    }

    #[test]
    fn contact_updates() {
        let data = sample();
        assert!(ContactUpdate::default().is_empty());
        assert_eq!(data.with_contact(&ContactUpdate::default()), data);
        let update = ContactUpdate {
            phone: FieldUpdate::Set(Phone::parse("0598-8221234").unwrap()),
            bank_account: FieldUpdate::Clear,
            address: FieldUpdate::Keep,
        };
        let changed = data.with_contact(&update);
        assert_eq!(changed.phone().unwrap().as_str(), "0598-8221234");
        assert!(changed.bank_account().is_none());
        assert_eq!(changed.address(), data.address());
        assert_eq!(changed.name(), data.name());
        assert_eq!(changed.id_number(), data.id_number());
    }
}
