//! A text arena: the memos and command ids of millions of events stored back to back in one string, each record holding only its offset and length.
//!
//! One allocation per event (a `Box<str>`) costs time on the rebuild path and about
//! 16 bytes of allocator overhead per string; the arena costs neither, and serialises
//! as a single string.

use serde::{Deserialize, Serialize};

/// Where a text lies in its arena: its start in the low [`START_BITS`] bits and its
/// length above them, in 8 bytes instead of a 16-byte (`u64`, `u32`) pair (one is kept
/// per event and per money movement: at 10 million events the pair's padding alone
/// was tens of megabytes). Its serde form is still the pair ([`TextRefParts`]), so
/// checkpoints are unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "TextRefParts", into = "TextRefParts")]
pub(crate) struct TextRef(u64);

/// Bits of a [`TextRef`] that hold the start: an arena of up to 1 TiB, and texts of up
/// to 16 MiB (an event's stored value is at most 64 KiB, so every text is shorter).
const START_BITS: u32 = 40;

/// A [`TextRef`]'s serde form.
#[derive(Serialize, Deserialize)]
struct TextRefParts {
    start: u64,
    len: u32,
}

impl TryFrom<TextRefParts> for TextRef {
    type Error = String;

    fn try_from(parts: TextRefParts) -> Result<TextRef, String> {
        TextRef::from_parts(parts.start, parts.len)
    }
}

impl From<TextRef> for TextRefParts {
    fn from(text: TextRef) -> TextRefParts {
        let (start, len) = text.parts();
        TextRefParts { start, len }
    }
}

impl TextRef {
    /// Start and length, for packing.
    pub(crate) fn parts(self) -> (u64, u32) {
        let len = u32::try_from(self.0 >> START_BITS).expect("24 bits fit u32");
        (self.0 & ((1 << START_BITS) - 1), len)
    }

    /// Refuses a start or a length that does not fit (see [`START_BITS`]): the arena
    /// and the event size limit keep both far inside, so only a damaged checkpoint
    /// holds one.
    pub(crate) fn from_parts(start: u64, len: u32) -> Result<TextRef, String> {
        if start < 1 << START_BITS && u64::from(len) < 1 << (64 - START_BITS) {
            Ok(TextRef(u64::from(len) << START_BITS | start))
        } else {
            Err(format!(
                "a text at {start} of {len} bytes is beyond the arena's reach"
            ))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Texts {
    bytes: String,
}

impl Texts {
    pub(crate) fn push(&mut self, text: &str) -> TextRef {
        let start = self.bytes.len() as u64;
        self.bytes.push_str(text);
        // The log's event size limit keeps every memo far below 4 GiB, and a ledger's
        // texts far below the arena's reach.
        TextRef::from_parts(
            start,
            u32::try_from(text.len()).expect("a memo is shorter than 4 GiB"),
        )
        .expect("the texts fit the arena's reach")
    }

    /// Pushes `text` unless it equals `last` (the caller's previous text), whose
    /// place it then shares: the events of a command, or a batch of commands, usually
    /// carry one memo.
    pub(crate) fn push_repeated(&mut self, text: &str, last: &mut Option<TextRef>) -> TextRef {
        if let Some(previous) = *last {
            if self.get(previous) == text {
                return previous;
            }
        }
        let pushed = self.push(text);
        *last = Some(pushed);
        pushed
    }

    pub(crate) fn get(&self, text: TextRef) -> &str {
        let (start, len) = text.parts();
        let start = usize::try_from(start).expect("the arena fits in memory");
        &self.bytes[start..start + len as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_come_back_as_they_went_in() {
        let mut texts = Texts::default();
        let a = texts.push("慰问金 2021");
        let b = texts.push("");
        let c = texts.push("receipt 0031");
        assert_eq!(texts.get(a), "慰问金 2021");
        assert_eq!(texts.get(b), "");
        assert_eq!(texts.get(c), "receipt 0031");
    }

    #[test]
    fn a_text_ref_is_eight_bytes_and_keeps_the_pair_s_serde_form() {
        assert_eq!(std::mem::size_of::<TextRef>(), 8);
        for (start, len) in [(0, 0), (7, 1_024), ((1 << START_BITS) - 1, (1 << 24) - 1)] {
            let text = TextRef::from_parts(start, len).unwrap();
            assert_eq!(text.parts(), (start, len));
            let config = bincode::config::standard();
            let pair = bincode::serde::encode_to_vec(TextRefParts { start, len }, config).unwrap();
            assert_eq!(bincode::serde::encode_to_vec(text, config).unwrap(), pair);
            let (back, _): (TextRef, usize) =
                bincode::serde::decode_from_slice(&pair, config).unwrap();
            assert_eq!(back, text);
        }
        assert!(TextRef::from_parts(1 << START_BITS, 0).is_err());
        assert!(TextRef::from_parts(0, 1 << 24).is_err());
        // A damaged checkpoint's text reference is an error, not a panic.
        let beyond = TextRefParts {
            start: 1 << START_BITS,
            len: 3,
        };
        let bytes = bincode::serde::encode_to_vec(beyond, bincode::config::standard()).unwrap();
        assert!(bincode::serde::decode_from_slice::<TextRef, _>(
            &bytes,
            bincode::config::standard()
        )
        .is_err());
    }

    #[test]
    fn a_repeated_text_shares_its_place() {
        let mut texts = Texts::default();
        let mut last = None;
        let a = texts.push_repeated("第十七批", &mut last);
        let b = texts.push_repeated("第十七批", &mut last);
        let c = texts.push_repeated("第十八批", &mut last);
        let d = texts.push_repeated("第十七批", &mut last);
        assert_eq!(a, b);
        assert_ne!(a, d, "only the previous text is shared");
        assert_eq!(
            [a, b, c, d].map(|t| texts.get(t)),
            ["第十七批", "第十七批", "第十八批", "第十七批"]
        );
    }
}
