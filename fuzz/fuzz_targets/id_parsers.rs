//! Fuzzes the domain's id constructors (`ledger_domain::ids`: `UnitCode`, `FundId`,
//! `BeneficiaryId`, `UserId`, `LoanId`, `AwardId`, `CampaignId`) on arbitrary strings,
//! through `new`, `FromStr` and serde JSON.
//!
//! Proves: no panic; `new`, `FromStr` and JSON deserialisation accept exactly the same
//! strings; an accepted id holds the documented alphabet (1 to 64 ASCII letters,
//! digits, `-`, `_`, `.`, starting with a letter or digit) and reads back unchanged
//! through `Display`/`FromStr` and JSON; a refusal of a beneficiary or user id that
//! looks like an ID-card, phone or bank-card number does not repeat the digits.
#![no_main]

use std::fmt::Display;
use std::str::FromStr;

use ledger_domain::{
    AwardId, BeneficiaryId, CampaignId, FundId, IdError, LoanId, UnitCode, UserId,
};
use libfuzzer_sys::fuzz_target;

welfare_ledger_fuzz::bounded_allocator!();
use serde::de::DeserializeOwned;
use serde::Serialize;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let accepted = [
        check::<UnitCode>(text, |s| UnitCode::new(s), UnitCode::as_str, false),
        check::<FundId>(text, |s| FundId::new(s), FundId::as_str, false),
        check::<BeneficiaryId>(text, |s| BeneficiaryId::new(s), BeneficiaryId::as_str, true),
        check::<UserId>(text, |s| UserId::new(s), UserId::as_str, true),
        check::<LoanId>(text, |s| LoanId::new(s), LoanId::as_str, false),
        check::<AwardId>(text, |s| AwardId::new(s), AwardId::as_str, false),
        check::<CampaignId>(text, |s| CampaignId::new(s), CampaignId::as_str, false),
    ];
    // The kinds differ only in the personal-number rule.
    assert!(accepted.iter().all(|&a| a == accepted[0]) || looks_personal(text));
    assert_eq!(accepted[2], accepted[3]);
});

/// Checks one id kind on `text`; returns whether it was accepted.
fn check<T>(
    text: &str,
    new: fn(&str) -> Result<T, IdError>,
    as_str: fn(&T) -> &str,
    personal_rule: bool,
) -> bool
where
    T: FromStr<Err = IdError>
        + Display
        + Serialize
        + DeserializeOwned
        + PartialEq
        + std::fmt::Debug,
{
    let built = new(text);
    assert_eq!(T::from_str(text), built, "FromStr is new for {text:?}");
    let json_string = serde_json::to_string(text).unwrap();
    let from_json = serde_json::from_str::<T>(&json_string);
    assert_eq!(
        from_json.is_ok(),
        built.is_ok(),
        "JSON validates like new: {text:?}"
    );
    match built {
        Ok(id) => {
            assert_eq!(as_str(&id), text);
            assert!(in_alphabet(text), "{text:?} was accepted");
            assert!(
                !(personal_rule && looks_personal(text)),
                "{text:?} was accepted"
            );
            let shown = id.to_string();
            assert_eq!(shown, text);
            assert_eq!(T::from_str(&shown).as_ref(), Ok(&id));
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, json_string);
            assert_eq!(from_json.unwrap(), id);
            true
        }
        Err(error) => {
            assert_eq!(error.code(), "invalid_id");
            assert!(!error.kind().is_empty());
            let message = error.to_string();
            if personal_rule && in_alphabet(text) && looks_personal(text) {
                assert!(
                    !message.contains(text),
                    "{message} repeats a personal number"
                );
            }
            assert!(!in_alphabet(text) || (personal_rule && looks_personal(text)));
            false
        }
    }
}

/// The documented id alphabet (docs/DOMAIN.md).
fn in_alphabet(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text.as_bytes()[0].is_ascii_alphanumeric()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Eleven or more digits, possibly ending in X: an ID-card, phone or bank-card number.
fn looks_personal(text: &str) -> bool {
    let body = text.strip_suffix(['X', 'x']).unwrap_or(text);
    text.len() >= 11 && body.bytes().all(|b| b.is_ascii_digit())
}
