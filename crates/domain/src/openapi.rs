//! OpenAPI schemas (feature `openapi`) for the types whose JSON is not what their Rust
//! fields suggest: money, percentages, ids and token digests are strings on the wire.
//!
//! The patterns here restate the serde code next to each type (`money.rs`, `rates.rs`,
//! `ids.rs`, `access.rs`); the server's tests check real answers against them.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::access::TokenDigest;
use crate::ids::ID_CHARS_MAX;
use crate::ids::{AwardId, BeneficiaryId, CampaignId, FundId, LoanId, UnitCode, UserId};
use crate::money::{Amount, Money};
use crate::rates::Percent;

/// An amount: non-negative yuan with exactly two decimals.
pub const AMOUNT_PATTERN: &str = r"^[0-9]+\.[0-9]{2}$";
/// Money and percentages: signed, with exactly two decimals.
pub const MONEY_PATTERN: &str = r"^-?[0-9]+\.[0-9]{2}$";
/// An id: ASCII letters, digits, '-', '_' and '.', starting with a letter or digit.
pub const ID_PATTERN: &str = r"^[A-Za-z0-9][A-Za-z0-9._-]*$";
/// A SHA-256 digest in lowercase hex.
pub const DIGEST_PATTERN: &str = r"^[0-9a-f]{64}$";

fn string(pattern: &str, description: &str, example: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .description(Some(description))
        .examples([example])
}

impl PartialSchema for Amount {
    fn schema() -> RefOr<Schema> {
        string(
            AMOUNT_PATTERN,
            "An amount in yuan as a decimal string with exactly two decimals (fen), never a JSON number; at most AMOUNT_MAX_YUAN",
            "1234.56",
        )
        .into()
    }
}
impl ToSchema for Amount {}

impl PartialSchema for Money {
    fn schema() -> RefOr<Schema> {
        string(
            MONEY_PATTERN,
            "Signed money in yuan as a decimal string with exactly two decimals, never a JSON number",
            "-1234.56",
        )
        .into()
    }
}
impl ToSchema for Money {}

impl PartialSchema for Percent {
    fn schema() -> RefOr<Schema> {
        string(
            MONEY_PATTERN,
            "A percentage as a decimal string with two decimals and no percent sign (\"73.13\" is 73.13%); may be negative or above 100",
            "73.13",
        )
        .into()
    }
}
impl ToSchema for Percent {}

impl PartialSchema for TokenDigest {
    fn schema() -> RefOr<Schema> {
        string(
            DIGEST_PATTERN,
            "The SHA-256 digest of an API token's text, as 64 lowercase hex digits",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        )
        .into()
    }
}
impl ToSchema for TokenDigest {}

macro_rules! id_schema {
    ($($name:ident: $what:literal, $example:literal;)*) => {$(
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                string(ID_PATTERN, $what, $example)
                    .min_length(Some(1))
                    .max_length(Some(ID_CHARS_MAX))
                    .into()
            }
        }
        impl ToSchema for $name {}
    )*};
}

id_schema! {
    UnitCode: "The code of an organisational unit", "FJ-SM";
    FundId: "A fund id", "SM-2021-BURSARY";
    BeneficiaryId: "An opaque beneficiary id (never a name, ID-card, phone or bank-card number: 11 or more digits are refused)", "b-000001";
    UserId: "An opaque staff id (never a name; 11 or more digits are refused)", "clerk-sx";
    LoanId: "A loan id", "L-2021-0001";
    AwardId: "A housing grant or bursary award id", "AW-2021-0001";
    CampaignId: "A condolence campaign id", "SM-2021-SPRING";
}
