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

impl TextRef {
    /// Start and length, for packing.
    pub(crate) fn parts(self) -> (u64, u32) {
        (self.start, self.len)
    }

    pub(crate) fn from_parts(start: u64, len: u32) -> TextRef {
        TextRef { start, len }
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
        TextRef {
            start,
            // The log's event size limit keeps every memo far below 4 GiB.
            len: u32::try_from(text.len()).expect("a memo is shorter than 4 GiB"),
        }
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
