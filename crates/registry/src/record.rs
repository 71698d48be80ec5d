//! The values of the `registry_people` tree (beneficiary id → record) and of the
//! `registry_meta` tree, encoded by hand (integers big-endian).
//!
//! `registry_people` values, by their first byte:
//!
//! | kind | layout |
//! | --- | --- |
//! | 1 stored | kind, format `1`, slot index u64, cipher u8, nonce \[12], dedup key \[32], created ms u64, updated ms u64, version u32, ciphertext length u32, ciphertext (with its 16-byte tag) |
//! | 2 erased | kind, format `1`, erased ms u64 |
//! | 3 erasing | kind, format `1`, erased ms u64, slot index u64: an erasure whose slot may not be zeroed yet; finished on open |
//! | 4 discarding | kind, format `1`, discarded ms u64, slot index u64: the same for a discard, whose record is then removed |
//!
//! The dedup key is kept in the record so that erasure can remove the dedup entry even
//! when the ciphertext is damaged. It is the same HMAC that keys `registry_dedup`.
//!
//! Byte offsets of a stored record: kind 0, format 1, slot 2..10, cipher 10, nonce
//! 11..23, dedup key 23..55, created ms 55..63, updated ms 63..71, version 71..75,
//! ciphertext length 75..79, ciphertext from 79.
//!
//! `registry_meta` entries (keys are ASCII):
//!
//! | key | value |
//! | --- | --- |
//! | `format` | u16, the registry format, `1` |
//! | `registry_id` | 16 random bytes, also in the slot file's header |
//! | `key_id` | 8 bytes: the id of the master key that wraps new keys |
//! | `dedup_secret` | cipher u8, key id \[8], nonce \[12], the 32-byte secret encrypted with its 16-byte tag (69 bytes) |
//! | `rotation` | from key id \[8], to key id \[8], started ms u64; present only while a rotation is unfinished |
//! | `created_ms` | u64 |

use crate::cipher::{Cipher, NONCE_BYTES};

const FORMAT: u8 = 1;
const STORED: u8 = 1;
const ERASED: u8 = 2;
const ERASING: u8 = 3;
const DISCARDING: u8 = 4;
const STORED_HEADER_BYTES: usize = 79;

/// Bytes of a dedup key (HMAC-SHA256).
pub(crate) const DEDUP_KEY_BYTES: usize = 32;

/// A decoded `registry_people` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    Stored(Stored),
    Erased {
        erased_ms: u64,
    },
    /// An erasure or discard between its first step (tombstone and dedup entry removed)
    /// and its last (slot zeroed and synced).
    Pending {
        kind: Pending,
        erased_ms: u64,
        slot: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pending {
    Erase,
    Discard,
}

/// The record of a beneficiary whose data is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    pub(crate) slot: u64,
    pub(crate) cipher: Cipher,
    pub(crate) nonce: [u8; NONCE_BYTES],
    pub(crate) dedup_key: [u8; DEDUP_KEY_BYTES],
    pub(crate) created_ms: u64,
    pub(crate) updated_ms: u64,
    pub(crate) version: u32,
    pub(crate) ciphertext: Vec<u8>,
}

impl Record {
    /// Encodes the record and checks that it decodes back.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Record::Stored(s) => {
                out.reserve(STORED_HEADER_BYTES + s.ciphertext.len());
                out.extend_from_slice(&[STORED, FORMAT]);
                out.extend_from_slice(&s.slot.to_be_bytes());
                out.push(s.cipher.id());
                out.extend_from_slice(&s.nonce);
                out.extend_from_slice(&s.dedup_key);
                out.extend_from_slice(&s.created_ms.to_be_bytes());
                out.extend_from_slice(&s.updated_ms.to_be_bytes());
                out.extend_from_slice(&s.version.to_be_bytes());
                let length =
                    u32::try_from(s.ciphertext.len()).expect("a ciphertext is far below 4 GiB");
                out.extend_from_slice(&length.to_be_bytes());
                out.extend_from_slice(&s.ciphertext);
            }
            Record::Erased { erased_ms } => {
                out.extend_from_slice(&[ERASED, FORMAT]);
                out.extend_from_slice(&erased_ms.to_be_bytes());
            }
            Record::Pending {
                kind,
                erased_ms,
                slot,
            } => {
                let tag = match kind {
                    Pending::Erase => ERASING,
                    Pending::Discard => DISCARDING,
                };
                out.extend_from_slice(&[tag, FORMAT]);
                out.extend_from_slice(&erased_ms.to_be_bytes());
                out.extend_from_slice(&slot.to_be_bytes());
            }
        }
        // Checked right before it is written.
        assert_eq!(
            Record::decode(&out).as_ref(),
            Ok(self),
            "a record decodes to what was encoded"
        );
        out
    }

    /// Decodes a record; the error says what is wrong.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Record, String> {
        if bytes.len() < 2 {
            return Err(format!("the record has {} bytes", bytes.len()));
        }
        if bytes[1] != FORMAT {
            return Err(format!("unknown record format {}", bytes[1]));
        }
        let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let expect_length = |length: usize| {
            if bytes.len() == length {
                Ok(())
            } else {
                Err(format!(
                    "the record has {} bytes, expected {length}",
                    bytes.len()
                ))
            }
        };
        match bytes[0] {
            STORED => {
                if bytes.len() < STORED_HEADER_BYTES {
                    return Err(format!(
                        "the record has {} bytes, fewer than its header",
                        bytes.len()
                    ));
                }
                let length = u32::from_be_bytes(bytes[75..79].try_into().expect("4 bytes"));
                let length = usize::try_from(length)
                    .map_err(|_| "the ciphertext length overflows".to_owned())?;
                expect_length(STORED_HEADER_BYTES + length)?;
                Ok(Record::Stored(Stored {
                    slot: u64_at(2),
                    cipher: Cipher::from_id(bytes[10])
                        .ok_or_else(|| format!("unknown cipher {}", bytes[10]))?,
                    nonce: bytes[11..23].try_into().expect("12 bytes"),
                    dedup_key: bytes[23..55].try_into().expect("32 bytes"),
                    created_ms: u64_at(55),
                    updated_ms: u64_at(63),
                    version: u32::from_be_bytes(bytes[71..75].try_into().expect("4 bytes")),
                    ciphertext: bytes[STORED_HEADER_BYTES..].to_vec(),
                }))
            }
            ERASED => {
                expect_length(10)?;
                Ok(Record::Erased {
                    erased_ms: u64_at(2),
                })
            }
            tag @ (ERASING | DISCARDING) => {
                expect_length(18)?;
                Ok(Record::Pending {
                    kind: if tag == ERASING {
                        Pending::Erase
                    } else {
                        Pending::Discard
                    },
                    erased_ms: u64_at(2),
                    slot: u64_at(10),
                })
            }
            other => Err(format!("unknown record kind {other}")),
        }
    }
}

/// The keys of the `registry_meta` tree.
pub(crate) mod meta {
    /// u16: the registry's format version.
    pub(crate) const FORMAT: &str = "format";
    /// \[16]: the registry id, also in the slot file's header.
    pub(crate) const REGISTRY_ID: &str = "registry_id";
    /// \[8]: the id of the master key that wraps new keys.
    pub(crate) const KEY_ID: &str = "key_id";
    /// cipher u8, key id \[8], nonce \[12], wrapped secret \[48]: the dedup secret.
    pub(crate) const DEDUP_SECRET: &str = "dedup_secret";
    /// from key id \[8], to key id \[8], started ms u64: present while a rotation runs.
    pub(crate) const ROTATION: &str = "rotation";
    /// u64: when the registry was created.
    pub(crate) const CREATED_MS: &str = "created_ms";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_damage_is_detected() {
        let records = [
            Record::Stored(Stored {
                slot: 7,
                cipher: Cipher::Sm4Gcm,
                nonce: [1; 12],
                dedup_key: [2; 32],
                created_ms: 3,
                updated_ms: 4,
                version: 5,
                ciphertext: vec![6; 40],
            }),
            Record::Erased { erased_ms: 9 },
            Record::Pending {
                kind: Pending::Erase,
                erased_ms: 9,
                slot: 3,
            },
            Record::Pending {
                kind: Pending::Discard,
                erased_ms: 9,
                slot: 3,
            },
        ];
        for record in records {
            let bytes = record.encode();
            assert_eq!(Record::decode(&bytes).unwrap(), record);
            for cut in 0..bytes.len() {
                assert!(
                    Record::decode(&bytes[..cut]).is_err(),
                    "{record:?} cut at {cut}"
                );
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(Record::decode(&longer).is_err());
        }
        assert!(Record::decode(&[9, 1])
            .unwrap_err()
            .contains("unknown record kind 9"));
        assert!(Record::decode(&[2, 2, 0, 0, 0, 0, 0, 0, 0, 0])
            .unwrap_err()
            .contains("format 2"));
    }
}
