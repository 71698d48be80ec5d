//! Identifiers: validated, cheap-to-clone names for units, funds, beneficiaries, users, loans, awards and campaigns.
//!
//! Each id wraps a `SmolStr`: an id of up to 23 bytes (nearly all of them) is held
//! inline, so making, copying or dropping one allocates nothing and shares nothing
//! between threads; a longer one is an `Arc<str>` that every copy shares (a fund id is
//! repeated in millions of reversal records). Decoding a stored event then allocates
//! nothing for its ids (docs/decisions/0037-ids-held-inline.md).

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smol_str::SmolStr;

/// The longest id accepted, in bytes (ids are ASCII).
pub const ID_CHARS_MAX: usize = 64;

/// Why a text cannot be used as an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a valid {kind}: {reason}", kind = kind.0, reason = reason.en())]
pub struct IdError {
    /// The kind of id, in English and in Chinese.
    kind: (&'static str, &'static str),
    input: String,
    reason: IdFault,
}

/// What is wrong with a text given as an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdFault {
    Empty,
    TooLong,
    Characters,
    Start,
    LooksPersonal,
}

impl IdFault {
    fn en(self) -> &'static str {
        match self {
            IdFault::Empty => "it is empty",
            IdFault::TooLong => "it is longer than 64 characters",
            IdFault::Characters => {
                "use only ASCII letters, digits, '-', '_' and '.' (for example SM-2021-BURSARY)"
            }
            IdFault::Start => "it must start with a letter or a digit",
            IdFault::LooksPersonal => {
                "it looks like an ID-card, phone or bank-card number; use an opaque id instead"
            }
        }
    }

    fn zh(self) -> &'static str {
        match self {
            IdFault::Empty => "不能为空",
            IdFault::TooLong => "超过 64 个字符",
            IdFault::Characters => "只能使用英文字母、数字和“-”“_”“.”（例如 SM-2021-BURSARY）",
            IdFault::Start => "必须以字母或数字开头",
            IdFault::LooksPersonal => "像是身份证号、手机号或银行卡号；请改用不含个人信息的编号",
        }
    }
}

impl IdError {
    /// The kind of id that was being built ("fund id", ...).
    pub fn kind(&self) -> &'static str {
        self.kind.0
    }
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        "invalid_id"
    }
    /// The message in Chinese, naming what was typed as the English does.
    pub fn detail_zh(&self) -> String {
        format!(
            "{:?} 不是有效的{}：{}",
            self.input,
            self.kind.1,
            self.reason.zh()
        )
    }
}

/// The bytes an id may hold: ASCII letters, digits, `-`, `_` and `.`. A table, because
/// every id of every event is checked again when it is decoded.
const ID_BYTES: [bool; 256] = {
    let mut allowed = [false; 256];
    let mut b = u8::MAX;
    loop {
        allowed[b as usize] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
        if b == 0 {
            break allowed;
        }
        b -= 1;
    }
};

fn check_common(kind: (&'static str, &'static str), input: &str) -> Result<(), IdError> {
    let error = |reason| IdError {
        kind,
        input: input.chars().take(ID_CHARS_MAX + 8).collect(),
        reason,
    };
    if input.is_empty() {
        return Err(error(IdFault::Empty));
    }
    if input.len() > ID_CHARS_MAX {
        return Err(error(IdFault::TooLong));
    }
    if !input.bytes().all(|b| ID_BYTES[usize::from(b)]) {
        return Err(error(IdFault::Characters));
    }
    if !input.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(error(IdFault::Start));
    }
    Ok(())
}

/// Rejects ids that look like personal information: a long run of digits is what an
/// 18-digit resident ID (possibly ending in X), an 11-digit mobile number or a 16–19
/// digit bank card looks like, and none of these may enter an immutable log.
fn check_not_personal(kind: (&'static str, &'static str), input: &str) -> Result<(), IdError> {
    let body = input.strip_suffix(['X', 'x']).unwrap_or(input);
    if input.len() >= 11 && body.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdError {
            kind,
            input: "<withheld>".to_owned(),
            reason: IdFault::LooksPersonal,
        });
    }
    Ok(())
}

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $kind_zh:literal, $personal:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(SmolStr);

        impl $name {
            /// Validates and builds the id.
            pub fn new(value: impl AsRef<str>) -> Result<$name, IdError> {
                let value = value.as_ref();
                check_common(($kind, $kind_zh), value)?;
                if $personal {
                    check_not_personal(($kind, $kind_zh), value)?;
                }
                Ok($name(SmolStr::new(value)))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether the text is held inline (up to 23 bytes): a copy then shares
            /// no allocation with the original, and there is none to share.
            pub fn is_inline(&self) -> bool {
                !self.0.is_heap_allocated()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<$name, IdError> {
                $name::new(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                // Validate on the way in: a stored or received id is held to the same
                // rules. The text is taken as a `&str` (borrowed from the input where the
                // format allows), so a short id costs no allocation and a long one only
                // its `Arc`, not a `String` first: a rebuild decodes millions of them.
                struct Text;
                impl serde::de::Visitor<'_> for Text {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "a {} as a string", $kind)
                    }
                    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<$name, E> {
                        $name::new(text).map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(Text)
            }
        }
    };
}

define_id!(
    /// The code of an organisational unit (a 计生协 at some level), e.g. `FJ-SM`.
    UnitCode, "unit code", "单位代码", false
);
define_id!(
    /// A fund, e.g. `SM-2021-BURSARY`.
    FundId, "fund id", "资金编号", false
);
define_id!(
    /// An opaque beneficiary id: never a name, ID number, phone or bank account.
    BeneficiaryId, "beneficiary id", "受助对象编号", true
);
define_id!(
    /// A member of staff acting on the ledger (maker, checker, clerk).
    UserId, "user id", "用户编号", true
);
define_id!(
    /// A loan (Happiness Project micro-loan or revolving-fund loan).
    LoanId, "loan id", "借款编号", false
);
define_id!(
    /// A housing grant or bursary award.
    AwardId, "award id", "核定编号", false
);
define_id!(
    /// A condolence campaign, e.g. `SM-2021-SPRING`.
    CampaignId, "campaign id", "慰问活动编号", false
);
