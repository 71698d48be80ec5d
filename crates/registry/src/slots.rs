//! The key-slot file `keys.slots`: fixed-size slots, each holding one wrapped per-person
//! key, overwritten in place so that erasing a person can destroy their key.
//!
//! sled is log-structured: a value that is overwritten or removed stays in its segment
//! files until garbage collection reuses the space, so a key kept in sled could not be
//! reliably destroyed. A slot here is written with `pwrite` at a fixed offset and made
//! durable with `fdatasync`; erasing writes zeros over it.
//!
//! # Layout (all integers big-endian)
//!
//! Header, [`HEADER_BYTES`] bytes at offset 0:
//!
//! | offset | bytes | content |
//! | --- | --- | --- |
//! | 0 | 8 | magic `WLKEYSLT` |
//! | 8 | 2 | format version, `1` |
//! | 10 | 2 | slot size in bytes, `128` |
//! | 12 | 16 | registry id (random, also in the `registry_meta` tree) |
//! | 28 | 4 | CRC-32 (IEEE, crc32fast) of bytes 0..28 |
//! | 32 | 96 | zero |
//!
//! Slot `i`, [`SLOT_BYTES`] bytes at offset `HEADER_BYTES + i × SLOT_BYTES`:
//!
//! | offset | bytes | content |
//! | --- | --- | --- |
//! | 0 | 1 | status: `0` free (the whole slot is zero), `1` used |
//! | 1 | 1 | cipher of the wrapping: `1` AES-256-GCM, `2` SM4-GCM |
//! | 2 | 8 | id of the master key that wrapped it |
//! | 10 | 12 | nonce |
//! | 22 | 48 | the 32-byte per-person key, encrypted, then the 16-byte tag |
//! | 70 | 4 | CRC-32 of the slot index (8 bytes) followed by bytes 0..70 |
//! | 74 | 54 | zero |
//!
//! A slot whose CRC does not match, whose status is unknown, or that is marked free but
//! is not all zeros is corrupt and reported with its index; it is never used. Slots are
//! 128-byte aligned, so a slot never straddles a 512-byte sector.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::cipher::{Cipher, NONCE_BYTES, TAG_BYTES};
use crate::keys::{sync_directory, KeyId};

/// The file name of the key-slot file in the directory given to the vault.
pub const SLOT_FILE: &str = "keys.slots";
/// Bytes of the header.
pub const HEADER_BYTES: u64 = HEADER as u64;
/// Bytes of one slot.
pub const SLOT_BYTES: u64 = SLOT as u64;
/// The most slots a registry holds (1.28 GB of slot file).
pub const SLOTS_MAX: u64 = 10_000_000;

const MAGIC: [u8; 8] = *b"WLKEYSLT";
const FORMAT: u16 = 1;
const HEADER: usize = 128;
const SLOT: usize = 128;
/// Bytes of a per-person key.
pub(crate) const PERSON_KEY_BYTES: usize = 32;
const WRAPPED_BYTES: usize = PERSON_KEY_BYTES + TAG_BYTES;
const CRC_AT: usize = 22 + WRAPPED_BYTES;

/// Bytes of a registry id.
pub(crate) const REGISTRY_ID_BYTES: usize = 16;

/// The raw bytes of one slot.
pub(crate) type SlotBytes = [u8; SLOT];

/// A per-person key encrypted under a master key.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct WrappedKey {
    pub(crate) cipher: Cipher,
    pub(crate) key_id: KeyId,
    pub(crate) nonce: [u8; NONCE_BYTES],
    pub(crate) wrapped: [u8; WRAPPED_BYTES],
}

/// What a slot holds.
pub(crate) enum SlotContent {
    Free,
    Used(WrappedKey),
}

fn slot_crc(index: u64, bytes: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&index.to_be_bytes());
    hasher.update(bytes);
    hasher.finalize()
}

/// Encodes a used slot, checks it decodes back (data is checked right before it is written).
pub(crate) fn encode_slot(index: u64, key: &WrappedKey) -> SlotBytes {
    let mut bytes = [0u8; SLOT];
    bytes[0] = 1;
    bytes[1] = key.cipher.id();
    bytes[2..10].copy_from_slice(key.key_id.as_bytes());
    bytes[10..22].copy_from_slice(&key.nonce);
    bytes[22..CRC_AT].copy_from_slice(&key.wrapped);
    let crc = slot_crc(index, &bytes[..CRC_AT]);
    bytes[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    assert!(
        matches!(decode_slot(index, &bytes), Ok(SlotContent::Used(ref k)) if k == key),
        "an encoded slot decodes to what was encoded"
    );
    bytes
}

/// Decodes a slot; the error says what is wrong with it.
pub(crate) fn decode_slot(index: u64, bytes: &SlotBytes) -> Result<SlotContent, String> {
    match bytes[0] {
        0 if bytes.iter().all(|b| *b == 0) => Ok(SlotContent::Free),
        0 => Err("it is marked free but is not all zeros (a torn or altered write)".to_owned()),
        1 => {
            let stored = u32::from_be_bytes(bytes[CRC_AT..CRC_AT + 4].try_into().expect("4 bytes"));
            let computed = slot_crc(index, &bytes[..CRC_AT]);
            if stored != computed {
                return Err(format!(
                    "its checksum is {stored:08x} but its bytes give {computed:08x} (a torn or altered write)"
                ));
            }
            if bytes[CRC_AT + 4..].iter().any(|b| *b != 0) {
                return Err("its reserved bytes are not zero".to_owned());
            }
            let cipher =
                Cipher::from_id(bytes[1]).ok_or_else(|| format!("unknown cipher {}", bytes[1]))?;
            Ok(SlotContent::Used(WrappedKey {
                cipher,
                key_id: KeyId::from_bytes(bytes[2..10].try_into().expect("8 bytes")),
                nonce: bytes[10..22].try_into().expect("12 bytes"),
                wrapped: bytes[22..CRC_AT].try_into().expect("48 bytes"),
            }))
        }
        other => Err(format!("unknown status {other}")),
    }
}

/// Why the header could not be used.
pub(crate) enum HeaderError {
    Io(std::io::Error),
    Invalid(String),
    NewerFormat(u16),
}

/// The open key-slot file.
pub(crate) struct SlotFile {
    file: File,
    path: PathBuf,
}

impl SlotFile {
    /// Creates a new slot file with its header, durable (file and directory synced).
    pub(crate) fn create(
        path: &Path,
        registry_id: &[u8; REGISTRY_ID_BYTES],
    ) -> std::io::Result<SlotFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(&MAGIC);
        header[8..10].copy_from_slice(&FORMAT.to_be_bytes());
        header[10..12].copy_from_slice(&u16::try_from(SLOT_BYTES).expect("128").to_be_bytes());
        header[12..28].copy_from_slice(registry_id);
        let crc = crc32fast::hash(&header[..28]);
        header[28..32].copy_from_slice(&crc.to_be_bytes());
        write_at(&file, &header, 0)?;
        file.sync_all()?;
        if let Some(parent) = path.parent() {
            sync_directory(parent)?;
        }
        Ok(SlotFile {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing slot file and returns it with the registry id of its header.
    pub(crate) fn open(path: &Path) -> Result<(SlotFile, [u8; REGISTRY_ID_BYTES]), HeaderError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(HeaderError::Io)?;
        let mut header = [0u8; HEADER];
        read_at(&file, &mut header, 0).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                HeaderError::Invalid("the file is shorter than its header".to_owned())
            }
            _ => HeaderError::Io(e),
        })?;
        if header[..8] != MAGIC {
            return Err(HeaderError::Invalid(
                "the file does not start with WLKEYSLT: it is not a key-slot file".to_owned(),
            ));
        }
        let stored = u32::from_be_bytes(header[28..32].try_into().expect("4 bytes"));
        if stored != crc32fast::hash(&header[..28]) {
            return Err(HeaderError::Invalid(
                "the header checksum does not match".to_owned(),
            ));
        }
        let format = u16::from_be_bytes([header[8], header[9]]);
        if format > FORMAT {
            return Err(HeaderError::NewerFormat(format));
        }
        if format != FORMAT {
            return Err(HeaderError::Invalid(format!(
                "unknown format version {format}"
            )));
        }
        let slot_bytes = u16::from_be_bytes([header[10], header[11]]);
        if u64::from(slot_bytes) != SLOT_BYTES {
            return Err(HeaderError::Invalid(format!(
                "the slot size is {slot_bytes}, not {SLOT_BYTES}"
            )));
        }
        let registry_id = header[12..28].try_into().expect("16 bytes");
        Ok((
            SlotFile {
                file,
                path: path.to_path_buf(),
            },
            registry_id,
        ))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Every whole slot in the file. A partial slot at the end (an append cut short) is
    /// left out: no record can refer to it, and the next append overwrites it.
    pub(crate) fn read_all(&self) -> std::io::Result<Vec<SlotBytes>> {
        let length = self.file.metadata()?.len();
        let count = length.saturating_sub(HEADER_BYTES) / SLOT_BYTES;
        let bytes = usize::try_from(count * SLOT_BYTES).map_err(std::io::Error::other)?;
        let mut all = vec![0u8; bytes];
        read_at(&self.file, &mut all, HEADER_BYTES)?;
        Ok(all
            .chunks_exact(SLOT)
            .map(|chunk| chunk.try_into().expect("a whole slot"))
            .collect())
    }

    /// Reads slot `index`; `UnexpectedEof` if it lies beyond the end of the file.
    pub(crate) fn read(&self, index: u64) -> std::io::Result<SlotBytes> {
        let mut bytes = [0u8; SLOT];
        read_at(&self.file, &mut bytes, offset(index))?;
        Ok(bytes)
    }

    /// Overwrites slot `index` in place (not yet durable: see [`SlotFile::sync`]).
    pub(crate) fn write(&self, index: u64, bytes: &SlotBytes) -> std::io::Result<()> {
        write_at(&self.file, bytes, offset(index))
    }

    /// Makes every write so far durable (`fdatasync`).
    pub(crate) fn sync(&self) -> std::io::Result<()> {
        self.file.sync_data()
    }
}

fn offset(index: u64) -> u64 {
    assert!(index < SLOTS_MAX, "slot {index} is beyond SLOTS_MAX");
    HEADER_BYTES + index * SLOT_BYTES
}

#[cfg(unix)]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
}

#[cfg(unix)]
fn write_at(file: &File, buffer: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buffer, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buffer: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buffer.is_empty() {
        match file.seek_read(buffer, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buffer = &mut buffer[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(windows)]
fn write_at(file: &File, mut buffer: &[u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buffer.is_empty() {
        let n = file.seek_write(buffer, offset)?;
        buffer = &buffer[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WrappedKey {
        WrappedKey {
            cipher: Cipher::Sm4Gcm,
            key_id: KeyId::from_bytes([1, 2, 3, 4, 5, 6, 7, 8]),
            nonce: [9; 12],
            wrapped: [7; 48],
        }
    }

    #[test]
    fn slot_layout_is_as_documented() {
        let bytes = encode_slot(5, &sample());
        assert_eq!(bytes[0], 1);
        assert_eq!(bytes[1], 2);
        assert_eq!(&bytes[2..10], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&bytes[10..22], &[9; 12]);
        assert_eq!(&bytes[22..70], &[7; 48]);
        let mut covered = 5u64.to_be_bytes().to_vec();
        covered.extend_from_slice(&bytes[..70]);
        assert_eq!(&bytes[70..74], &crc32fast::hash(&covered).to_be_bytes());
        assert!(bytes[74..].iter().all(|b| *b == 0));
    }

    #[test]
    fn every_changed_byte_is_detected() {
        let bytes = encode_slot(5, &sample());
        for at in 0..SLOT {
            let mut changed = bytes;
            changed[at] ^= 0x40;
            assert!(decode_slot(5, &changed).is_err(), "byte {at}");
        }
        // A slot copied to another index does not pass either.
        assert!(decode_slot(6, &bytes).is_err());
        assert!(matches!(
            decode_slot(0, &[0u8; SLOT]),
            Ok(SlotContent::Free)
        ));
    }

    #[test]
    fn file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SLOT_FILE);
        let file = SlotFile::create(&path, &[3; 16]).unwrap();
        file.write(2, &encode_slot(2, &sample())).unwrap();
        file.sync().unwrap();
        drop(file);
        let (file, registry_id) = SlotFile::open(&path).ok().unwrap();
        assert_eq!(registry_id, [3; 16]);
        let all = file.read_all().unwrap();
        assert_eq!(all.len(), 3);
        assert!(matches!(decode_slot(0, &all[0]), Ok(SlotContent::Free)));
        assert!(matches!(decode_slot(2, &all[2]), Ok(SlotContent::Used(k)) if k == sample()));
        assert!(file.read(3).is_err());
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            HEADER_BYTES + 3 * SLOT_BYTES
        );
        assert!(
            matches!(SlotFile::create(&path, &[3; 16]), Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists)
        );
    }
}
