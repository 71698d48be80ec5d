//! A text arena: the memos and command ids of millions of events stored back to back in one string, each record holding only its offset and length.
//!
//! One allocation per event (a `Box<str>`) costs time on the rebuild path and about
//! 16 bytes of allocator overhead per string; the arena costs neither, and serialises
//! as a single string.

use serde::{Deserialize, Serialize};

/// Where a text lies in its arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct TextRef {
    start: u64,
    len: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Texts {
    bytes: String,
}

impl Texts {
    pub(crate) fn push(&mut self, text: &str) -> TextRef {
        let start = self.bytes.len() as u64;
        self.bytes.push_str(text);
        TextRef {
            start,
            // The log's event size limit keeps every memo far below 4 GiB.
            len: u32::try_from(text.len()).expect("a memo is shorter than 4 GiB"),
        }
    }

    pub(crate) fn get(&self, text: TextRef) -> &str {
        let start = usize::try_from(text.start).expect("the arena fits in memory");
        &self.bytes[start..start + text.len as usize]
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
}
