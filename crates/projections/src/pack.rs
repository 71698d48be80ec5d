//! Packed per-event records for checkpoints: the records of millions of events as one byte string of variable-length integers, most of them small gaps from the record before.
//!
//! A checkpoint of a projection is decoded whole when the engine opens a ledger, so
//! its size is open time. Fixed-width fields spend 8 bytes on a position that is one
//! more than the last and 12 on a time stamp a few seconds after the last; packed, a
//! field like that takes a byte or two. The packed string is still one serde value, so
//! a checkpoint stays a plain serde state (bincode's serde mode, or JSON in tests).

use serde::de::{SeqAccess, Visitor};
use serde::{Deserializer, Serializer};

/// Builds a packed byte string.
#[derive(Debug, Default)]
pub(crate) struct Packer {
    pub(crate) bytes: Vec<u8>,
}

impl Packer {
    /// An unsigned integer, LEB128: 7 bits per byte, low bits first.
    pub(crate) fn unsigned(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.bytes.push(n.to_le_bytes()[0] | 0x80);
            n >>= 7;
        }
        self.bytes.push(n.to_le_bytes()[0]);
    }

    /// A signed integer, zigzag-mapped so that small magnitudes take few bytes.
    pub(crate) fn signed(&mut self, n: i64) {
        // Zigzag: the sign moves to bit 0; the casts keep every bit.
        self.unsigned(((n << 1) ^ (n >> 63)) as u64);
    }

    /// `value - previous`, for values that usually grow a little each record.
    pub(crate) fn gap(&mut self, value: i64, previous: i64) {
        self.signed(value.wrapping_sub(previous));
    }

    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }
}

/// Reads a packed byte string, failing (never panicking) on bytes that run short.
#[derive(Debug)]
pub(crate) struct Unpacker<'a> {
    bytes: &'a [u8],
}

impl<'a> Unpacker<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Unpacker { bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn unsigned(&mut self) -> Result<u64, String> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.bytes.split_first().ok_or("packed records end early")?;
            self.bytes = rest;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err("a packed integer is too long".into())
    }

    pub(crate) fn signed(&mut self) -> Result<i64, String> {
        let n = self.unsigned()?;
        Ok(((n >> 1) as i64) ^ -((n & 1) as i64))
    }

    pub(crate) fn gap(&mut self, previous: i64) -> Result<i64, String> {
        Ok(previous.wrapping_add(self.signed()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, String> {
        u32::try_from(self.unsigned()?).map_err(|_| "a packed u32 is out of range".to_string())
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        if self.bytes.len() < N {
            return Err("packed records end early".into());
        }
        let (head, rest) = self.bytes.split_at(N);
        self.bytes = rest;
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        Ok(out)
    }
}

/// Writes packed records as one byte string.
pub(crate) fn serialize<S: Serializer>(packer: Packer, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(&packer.bytes)
}

/// Reads a byte string written by [`serialize`] and unpacks it with `unpack`, straight
/// from the decoder's bytes where it lends them (bincode does; JSON gives a sequence).
pub(crate) fn deserialize<'de, D, T, F>(
    deserializer: D,
    what: &'static str,
    unpack: F,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    F: FnOnce(&[u8]) -> Result<T, String>,
{
    struct Bytes<F> {
        what: &'static str,
        unpack: F,
    }
    impl<'de, T, F: FnOnce(&[u8]) -> Result<T, String>> Visitor<'de> for Bytes<F> {
        type Value = T;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("packed records as a byte string")
        }

        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<T, E> {
            (self.unpack)(v).map_err(|problem| invalid(self.what, problem))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(b) = seq.next_element::<u8>()? {
                out.push(b);
            }
            (self.unpack)(&out).map_err(|problem| invalid(self.what, problem))
        }
    }
    deserializer.deserialize_bytes(Bytes { what, unpack })
}

/// Turns an unpacking failure into the deserializer's error.
pub(crate) fn invalid<E: serde::de::Error>(what: &str, problem: String) -> E {
    E::custom(format!("packed {what}: {problem}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_and_small_ones_are_short() {
        let mut p = Packer::default();
        let values = [0i64, 1, -1, 63, -64, 64, i64::MAX, i64::MIN, 1_600_000_000];
        for v in values {
            p.signed(v);
        }
        p.unsigned(u64::MAX);
        p.gap(1_000_005, 1_000_000);
        assert_eq!(p.bytes[0], 0);
        let mut u = Unpacker::new(&p.bytes);
        for v in values {
            assert_eq!(u.signed().unwrap(), v);
        }
        assert_eq!(u.unsigned().unwrap(), u64::MAX);
        assert_eq!(u.gap(1_000_000).unwrap(), 1_000_005);
        assert!(u.is_empty());
        assert!(u.unsigned().is_err());
        let mut short = Unpacker::new(&[0x80]);
        assert!(short.unsigned().is_err());
        let _ = invalid::<serde_json::Error>("test", "x".into());
    }
}
