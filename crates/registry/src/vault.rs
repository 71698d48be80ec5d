//! The vault: beneficiaries' personal data, encrypted per person beside the event log,
//! deduplicated by id number, erasable by destroying the person's key.
//!
//! # Where things are
//!
//! In the ledger's own sled database (never the event log's tree):
//!
//! - `registry_people`: beneficiary id → record (slot index, cipher, nonce, ciphertext,
//!   dedup key, times, version), or a tombstone once erased (`crate::record` has the
//!   byte layout);
//! - `registry_dedup`: HMAC-SHA256(dedup secret, normalised id number) → beneficiary id;
//! - `registry_meta`: format version, registry id, the current master key's id, the
//!   dedup secret wrapped by the master key, and the rotation in progress, if any.
//!
//! In the directory given to [`Vault::open`]: `keys.slots`, the per-person keys wrapped
//! by the master key, one fixed-size slot each, overwritten in place (`crate::slots`
//! has the byte layout).
//!
//! # Keys
//!
//! The master key (outside the data directory, [`MasterKey`]) wraps two kinds of keys
//! through keys derived from it with HMAC-SHA256 per cipher: each person's random
//! 32-byte key (in their slot) and the registry's random 32-byte dedup secret (in
//! `registry_meta`). A person's data is encrypted with a key derived from their own key.
//! Every ciphertext's associated data names what it is and where it belongs (registry
//! id, and the beneficiary id or slot index), so one moved elsewhere does not decrypt.
//!
//! # Erasure: what it does and does not guarantee
//!
//! [`Vault::erase`] first replaces the record with a tombstone and removes the dedup
//! entry (one sled transaction, flushed), then writes zeros over the person's slot and
//! `fdatasync`s it, then marks the tombstone final. After it returns, the person's key
//! exists nowhere in the registry's files, so the ciphertext that sled may still hold in
//! old segments (sled is log-structured and reclaims space lazily) cannot be decrypted,
//! even with the master key; a copy of the data directory taken afterwards cannot yield
//! the data either. A crash in between is finished on the next open.
//!
//! It does not reach blocks the filesystem or disk keeps elsewhere: copy-on-write
//! filesystems (btrfs, ZFS) and snapshots write the zeros to a new block and keep the
//! old one until reused; SSDs remap writes and keep old pages until their own garbage
//! collection; a backup taken before erasure holds the old slot and, with the master
//! key, can still be decrypted (so backups must expire, or the master key be rotated and
//! the old key destroyed once backups holding the old key are gone). The dedup HMAC of
//! the erased id number may survive in old sled segments: holding the master key and a
//! candidate id number, one could learn that it was once registered. Use the registry on
//! a filesystem that overwrites in place (ext4, XFS) for erasure to mean what it says.
//!
//! # Concurrency
//!
//! Writes (put, update, erase, discard, each rotation batch) are serialised by one lock,
//! which is what makes two registrations of the same id number impossible. Reads take no
//! write lock: a read that races with an erasure or a rotation rereads the record and
//! slot and tries again.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use sled::transaction::TransactionError;
use sled::Transactional;
use zeroize::Zeroizing;

use crate::cipher::{
    associated_data, derive_key, hmac_sha256, random_bytes, Cipher, CipherKey, Kind, NONCE_BYTES,
};
use crate::error::{CorruptAt, VaultError};
use crate::idcard::ResidentIdNumber;
use crate::keys::{KeyId, MasterKey};
use crate::personal::{ContactUpdate, PersonalData};
use crate::record::{meta, Pending, Record, Stored, DEDUP_KEY_BYTES};
use crate::slots::{
    decode_slot, encode_slot, HeaderError, SlotBytes, SlotContent, SlotFile, WrappedKey,
    PERSON_KEY_BYTES, REGISTRY_ID_BYTES, SLOTS_MAX, SLOT_FILE,
};

/// The tree of beneficiary records.
pub const PEOPLE_TREE: &str = "registry_people";
/// The tree of the dedup index.
pub const DEDUP_TREE: &str = "registry_dedup";
/// The tree of the registry's metadata.
pub const META_TREE: &str = "registry_meta";
/// The most registrations in one [`Vault::put_many`] (the demo registers about 9,400
/// people in one batch; this bounds the memory of one sled transaction).
pub const PUT_MANY_ITEMS_MAX: usize = 20_000;
/// Slots rewrapped between two syncs of a rotation; the write lock is released between
/// batches so that other writers proceed.
pub const ROTATION_BATCH_SLOTS: u64 = 1_024;
/// The longest beneficiary id, in bytes (the domain's ids are at most 64 ASCII characters).
pub const BENEFICIARY_ID_BYTES_MAX: usize = 64;

/// The registry format written by this code.
const REGISTRY_FORMAT: u16 = 1;
/// Reads racing with an erasure or rotation are retried at most this often.
const READ_ATTEMPTS_MAX: usize = 5;
/// Bytes of the dedup secret as stored: cipher, key id, nonce, wrapped secret and tag.
const WRAPPED_SECRET_BYTES: usize = 1 + 8 + NONCE_BYTES + PERSON_KEY_BYTES + 16;

/// The master keys given to [`Vault::open`]: the current one, and during an unfinished
/// rotation the previous one.
#[derive(Debug, Clone)]
pub struct VaultKeys {
    pub current: MasterKey,
    pub previous: Option<MasterKey>,
}

impl VaultKeys {
    /// Only the current key (the normal case).
    pub fn new(current: MasterKey) -> VaultKeys {
        VaultKeys {
            current,
            previous: None,
        }
    }
}

/// What [`Vault::put`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// The data is stored under the beneficiary id, durably.
    Stored,
    /// The same id number is already registered, under `beneficiary` (which may be the
    /// id that was asked for: a retried registration). Nothing was stored.
    AlreadyRegistered { beneficiary: String },
}

/// The state of a beneficiary's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordStatus {
    /// Data is stored; `version` counts the updates from 1.
    Stored {
        version: u32,
        cipher: Cipher,
        created_ms: u64,
        updated_ms: u64,
    },
    /// The data was erased (milliseconds since the Unix epoch).
    Erased { erased_ms: u64 },
}

/// A rotation in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationProgress {
    pub from: KeyId,
    pub to: KeyId,
    /// Slots (and the dedup secret) still wrapped by `from`.
    pub keys_remaining: u64,
}

/// Counts for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultStats {
    pub stored: u64,
    pub erased: u64,
    pub slots: u64,
    pub slots_used: u64,
    pub slots_free: u64,
    pub slots_corrupt: u64,
    pub key_id: KeyId,
    pub cipher_for_new_records: Cipher,
    pub rotation: Option<RotationProgress>,
}

/// What a finished rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    pub from: KeyId,
    pub to: KeyId,
    /// Slots rewrapped by this call (slots written by other writers during the rotation
    /// are wrapped by the new key already).
    pub slots_rewrapped: u64,
    /// Corrupt slots that could not be rewrapped: their data was unreadable before.
    pub slots_corrupt: Vec<u64>,
    pub batches: u64,
    pub elapsed_ms: u64,
}

/// Tests only: where a simulated crash stops an operation (the vault then refuses
/// writes, like a dead process, until it is reopened).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// `put`/`put_many` after the slots are synced, before the records are written.
    PutAfterSlots,
    /// `erase`/`discard` after the tombstone is flushed, before the slot is zeroed.
    EraseAfterTombstone,
    /// A rotation after this many slots were rewrapped and synced.
    RotationAfterSlots(u64),
}

/// The master keys in use; readers hold an `Arc` of it for one read.
struct KeyRing {
    current: MasterKey,
    previous: Option<MasterKey>,
}

impl KeyRing {
    fn find(&self, id: KeyId) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|key| key.key_id() == id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Free,
    Used(KeyId),
    Corrupt,
}

/// The slot table, guarded by the write lock.
struct Slots {
    table: Vec<SlotState>,
    /// Free slots below `table.len()`, reused lowest first.
    free: BTreeSet<u64>,
}

impl Slots {
    fn len(&self) -> u64 {
        u64::try_from(self.table.len()).expect("the slot count fits in u64")
    }

    fn available(&self) -> u64 {
        u64::try_from(self.free.len()).expect("fits") + (SLOTS_MAX - self.len())
    }

    /// The lowest free slot, or a new one at the end. The caller checked `available`.
    fn allocate(&mut self) -> u64 {
        if let Some(slot) = self.free.pop_first() {
            return slot;
        }
        let slot = self.len();
        assert!(
            slot < SLOTS_MAX,
            "allocation beyond SLOTS_MAX: check available() first"
        );
        self.table.push(SlotState::Free);
        slot
    }

    fn set(&mut self, slot: u64, state: SlotState) {
        let index = usize::try_from(slot).expect("a slot index fits in usize");
        self.table[index] = state;
    }

    fn get(&self, slot: u64) -> Option<SlotState> {
        usize::try_from(slot)
            .ok()
            .and_then(|i| self.table.get(i).copied())
    }

    fn count_under(&self, key: KeyId) -> u64 {
        let count = self
            .table
            .iter()
            .filter(|s| **s == SlotState::Used(key))
            .count();
        u64::try_from(count).expect("fits")
    }
}

/// The slot directories open in this process: one vault per key-slot file.
static OPEN_SLOT_FILES: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

struct OpenGuard(PathBuf);

impl OpenGuard {
    fn acquire(path: PathBuf) -> Result<OpenGuard, VaultError> {
        let mut open = OPEN_SLOT_FILES
            .lock()
            .expect("the open-registry set is not poisoned");
        if !open.insert(path.clone()) {
            return Err(VaultError::AlreadyOpen { path });
        }
        Ok(OpenGuard(path))
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        if let Ok(mut open) = OPEN_SLOT_FILES.lock() {
            open.remove(&self.0);
        }
    }
}

/// The ledger's sled database, made durable as the store makes it (its decision 0001):
/// sled 0.34's `flush` ends in `sync_file_range`, which neither flushes the device's
/// cache nor persists a grown file's size, so every flush here is followed by an
/// `fdatasync` of sled's data file `db`. (sled keeps values over its blob threshold in
/// separate files; the registry's values are all under 1 KiB.)
struct Sled {
    db: sled::Db,
    data_file: std::fs::File,
    data_path: PathBuf,
}

impl Sled {
    fn open(db: &sled::Db, sled_dir: &Path) -> Result<Sled, VaultError> {
        let data_path = sled_dir.join("db");
        let data_file = std::fs::File::open(&data_path).map_err(|source| VaultError::Io {
            op: "opening sled's data file (pass the directory the sled database was opened with)",
            path: data_path.clone(),
            source,
        })?;
        Ok(Sled {
            db: db.clone(),
            data_file,
            data_path,
        })
    }

    /// Flushes sled and syncs its data file.
    fn flush(&self, op: &'static str) -> Result<(), VaultError> {
        self.db.flush().map_err(VaultError::storage(op))?;
        self.data_file
            .sync_data()
            .map_err(VaultError::io("syncing sled's data file", &self.data_path))
    }
}

/// The directory of the registry's own sled database inside its directory ([`Vault::open_dir`]).
pub const SLED_DIR: &str = "sled";

/// The beneficiary registry. `Send + Sync`: share it with an `Arc`.
pub struct Vault {
    sled: Sled,
    people: sled::Tree,
    dedup: sled::Tree,
    meta: sled::Tree,
    slot_file: SlotFile,
    registry_id: [u8; REGISTRY_ID_BYTES],
    cipher: Cipher,
    keys: RwLock<Arc<KeyRing>>,
    dedup_secret: Zeroizing<[u8; 32]>,
    /// The write lock, with the slot table it guards.
    writes: Mutex<Slots>,
    /// Slot reads share it; slot writes take it alone, so a read never sees half a write.
    slot_io: RwLock<()>,
    poisoned: Mutex<Option<String>>,
    crash_point: Mutex<Option<CrashPoint>>,
    /// Unit tests: `get` waits on the first barrier after reading the record, then on
    /// the second before reading the slot, so a test can change things in between.
    #[cfg(test)]
    pause_between_reads: Mutex<Option<(Arc<std::sync::Barrier>, Arc<std::sync::Barrier>)>>,
    _open: OpenGuard,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("slot_file", &self.slot_file.path())
            .field("key_id", &self.ring().current.key_id())
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

fn check_beneficiary(beneficiary: &str) -> Result<(), VaultError> {
    let reason = if beneficiary.is_empty() {
        "it is empty"
    } else if beneficiary.len() > BENEFICIARY_ID_BYTES_MAX {
        "it is longer than 64 bytes"
    } else if !beneficiary.bytes().all(|b| b.is_ascii_graphic()) {
        "use only printable ASCII characters without spaces"
    } else {
        return Ok(());
    };
    Err(VaultError::InvalidBeneficiaryId {
        beneficiary: beneficiary
            .chars()
            .take(BENEFICIARY_ID_BYTES_MAX + 8)
            .collect(),
        reason,
    })
}

/// A wrapped key did not unwrap: another key wrapped it, or its bytes were altered.
struct UnwrapFailed;

impl Vault {
    /// Opens the registry kept wholly in `dir`: its own sled database in `dir/sled`
    /// and its key-slot file, creating both on first use (see [`Vault::open`]). Apart
    /// from the log's database, the log can be closed and reopened (recovery from a
    /// full disk) while the registry stays open, and the registry is one directory to
    /// back up.
    pub fn open_dir(
        dir: &Path,
        keys: VaultKeys,
        cipher_for_new_records: Cipher,
    ) -> Result<Vault, VaultError> {
        let sled_dir = dir.join(SLED_DIR);
        std::fs::create_dir_all(&sled_dir)
            .map_err(VaultError::io("creating the registry directory", &sled_dir))?;
        let db = sled::Config::new()
            .path(&sled_dir)
            .open()
            .map_err(VaultError::storage("opening the registry's database"))?;
        Vault::open(&db, &sled_dir, dir, keys, cipher_for_new_records)
    }

    /// Opens the registry in `db` (its `registry_*` trees) with its key-slot file in `dir`,
    /// creating both on first use. `sled_dir` is the directory `db` was opened with: the
    /// vault syncs sled's data file itself, because sled's own flush is not power-safe. Checks the master key against the registry's key id,
    /// finishes an erasure or a rotation that a crash interrupted (a rotation needs
    /// `keys.previous`), and removes keys that an interrupted registration left behind.
    ///
    /// If the registry's key is `keys.previous` and no rotation is recorded, a rotation
    /// to `keys.current` is started and finished here: that is where a crash before the
    /// rotation was recorded leaves an operator who restarts with both keys.
    ///
    /// `cipher_for_new_records` encrypts and wraps what is written from now on; what was
    /// written with the other cipher stays readable.
    pub fn open(
        db: &sled::Db,
        sled_dir: &Path,
        dir: &Path,
        keys: VaultKeys,
        cipher_for_new_records: Cipher,
    ) -> Result<Vault, VaultError> {
        std::fs::create_dir_all(dir)
            .map_err(VaultError::io("creating the registry directory", dir))?;
        let dir = dir
            .canonicalize()
            .map_err(VaultError::io("resolving the registry directory", dir))?;
        let slot_path = dir.join(SLOT_FILE);
        let guard = OpenGuard::acquire(slot_path.clone())?;
        let sled = Sled::open(db, sled_dir)?;
        let open_tree = |name: &str| {
            db.open_tree(name)
                .map_err(VaultError::storage("opening a registry tree"))
        };
        let people = open_tree(PEOPLE_TREE)?;
        let dedup = open_tree(DEDUP_TREE)?;
        let meta_tree = open_tree(META_TREE)?;

        let format = meta_get(&meta_tree, meta::FORMAT)?;
        let (slot_file, registry_id) = match format {
            None => create_registry(
                &sled,
                &people,
                &dedup,
                &meta_tree,
                &slot_path,
                &keys.current,
                cipher_for_new_records,
            )?,
            Some(bytes) => open_registry(&meta_tree, &bytes, &slot_path)?,
        };
        let table = read_slot_table(&slot_file)?;
        let mut slots = Slots {
            table,
            free: BTreeSet::new(),
        };
        // Needs no key: finishes interrupted erasures, zeroes keys no record refers to.
        recover(&sled, &people, &slot_file, &mut slots)?;
        slots.free = (0..slots.len())
            .filter(|s| slots.get(*s) == Some(SlotState::Free))
            .collect();

        // Which keys are needed, and is a rotation to be finished?
        let expected = KeyId::from_bytes(meta_array(&meta_tree, meta::KEY_ID)?);
        let rotation = meta_get(&meta_tree, meta::ROTATION)?
            .map(|bytes| decode_rotation(&bytes))
            .transpose()?;
        let wrapped_secret = meta_get(&meta_tree, meta::DEDUP_SECRET)?
            .ok_or_else(|| corrupt_meta(meta::DEDUP_SECRET, "it is missing"))?;
        let secret_key_id = decode_wrapped_secret(&wrapped_secret)?.1;
        let VaultKeys { current, previous } = keys;
        let (ring, rotation) = match rotation {
            None if current.key_id() == expected => (
                KeyRing {
                    current,
                    previous: None,
                },
                None,
            ),
            None => match previous {
                Some(previous) if previous.key_id() == expected => {
                    // Start the rotation the operator asked for by supplying both keys.
                    let (from, to) = (previous.key_id(), current.key_id());
                    record_rotation(&sled, &meta_tree, from, to)?;
                    (
                        KeyRing {
                            current,
                            previous: Some(previous),
                        },
                        Some((from, to)),
                    )
                }
                _ => {
                    return Err(VaultError::KeyMismatch {
                        found: current.key_id(),
                        expected,
                    })
                }
            },
            Some((from, to)) => {
                let keys_remaining = slots.count_under(from) + u64::from(secret_key_id == from);
                if current.key_id() != to {
                    if current.key_id() == from {
                        return Err(VaultError::RotationUnfinished {
                            from,
                            to,
                            keys_remaining,
                        });
                    }
                    return Err(VaultError::KeyMismatch {
                        found: current.key_id(),
                        expected: to,
                    });
                }
                let previous = previous.filter(|p| p.key_id() == from);
                if previous.is_none() && keys_remaining > 0 {
                    return Err(VaultError::RotationUnfinished {
                        from,
                        to,
                        keys_remaining,
                    });
                }
                (KeyRing { current, previous }, Some((from, to)))
            }
        };
        let dedup_secret = unwrap_secret(&ring, &registry_id, &wrapped_secret)?;

        let vault = Vault {
            sled,
            people,
            dedup,
            meta: meta_tree,
            slot_file,
            registry_id,
            cipher: cipher_for_new_records,
            keys: RwLock::new(Arc::new(ring)),
            dedup_secret,
            writes: Mutex::new(slots),
            slot_io: RwLock::new(()),
            poisoned: Mutex::new(None),
            crash_point: Mutex::new(None),
            #[cfg(test)]
            pause_between_reads: Mutex::new(None),
            _open: guard,
        };
        if let Some((from, to)) = rotation {
            vault.finish_rotation(from, to, Instant::now())?;
        }
        Ok(vault)
    }

    /// The id of the master key that wraps new keys.
    pub fn key_id(&self) -> KeyId {
        self.ring().current.key_id()
    }

    /// The cipher for records written from now on.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// Registers a beneficiary's data. Returns [`PutOutcome::AlreadyRegistered`] (and
    /// stores nothing) when the id number is registered already, under any beneficiary;
    /// refuses an id that holds data ([`VaultError::AlreadyStored`]) or was erased. Durable
    /// when it returns (the slot is synced, sled flushed).
    pub fn put(&self, beneficiary: &str, data: &PersonalData) -> Result<PutOutcome, VaultError> {
        let mut outcomes = self.put_batch(&[(beneficiary, data)])?;
        Ok(outcomes.pop().expect("one outcome per item"))
    }

    /// [`Vault::put`] for many, with one slot sync and one sled flush for the batch. All
    /// or nothing for errors: if any item is refused (other than as already registered),
    /// nothing is stored. An id number twice in the batch: the second is
    /// `AlreadyRegistered` under the first's beneficiary. At most [`PUT_MANY_ITEMS_MAX`].
    pub fn put_many(
        &self,
        items: &[(String, PersonalData)],
    ) -> Result<Vec<PutOutcome>, VaultError> {
        let items: Vec<(&str, &PersonalData)> =
            items.iter().map(|(b, d)| (b.as_str(), d)).collect();
        self.put_batch(&items)
    }

    fn put_batch(&self, items: &[(&str, &PersonalData)]) -> Result<Vec<PutOutcome>, VaultError> {
        if items.len() > PUT_MANY_ITEMS_MAX {
            return Err(VaultError::BatchTooLarge {
                items: items.len(),
                max: PUT_MANY_ITEMS_MAX,
            });
        }
        for (beneficiary, _) in items {
            check_beneficiary(beneficiary)?;
        }
        let mut slots = self.lock_writes()?;

        // Decide every item before writing anything.
        let mut outcomes = Vec::with_capacity(items.len());
        let mut accepted: Vec<(&str, &PersonalData, [u8; DEDUP_KEY_BYTES])> = Vec::new();
        let mut in_batch: HashMap<[u8; DEDUP_KEY_BYTES], &str> = HashMap::new();
        let mut beneficiaries: HashSet<&str> = HashSet::new();
        for (beneficiary, data) in items {
            let dedup_key = self.dedup_key(data.id_number());
            let registered = match in_batch.get(&dedup_key) {
                Some(first) => Some((*first).to_owned()),
                None => self.dedup_lookup(&dedup_key)?,
            };
            if let Some(registered) = registered {
                outcomes.push(PutOutcome::AlreadyRegistered {
                    beneficiary: registered,
                });
                continue;
            }
            match self.record(beneficiary)? {
                None => {}
                Some(Record::Stored(_)) => {
                    return Err(VaultError::AlreadyStored {
                        beneficiary: beneficiary.to_string(),
                    })
                }
                Some(Record::Erased { erased_ms } | Record::Pending { erased_ms, .. }) => {
                    return Err(VaultError::Erased {
                        beneficiary: beneficiary.to_string(),
                        erased_ms,
                    })
                }
            }
            if !beneficiaries.insert(beneficiary) {
                return Err(VaultError::AlreadyStored {
                    beneficiary: beneficiary.to_string(),
                });
            }
            in_batch.insert(dedup_key, beneficiary);
            accepted.push((beneficiary, data, dedup_key));
            outcomes.push(PutOutcome::Stored);
        }
        if accepted.is_empty() {
            return Ok(outcomes);
        }
        let needed = u64::try_from(accepted.len()).expect("fits");
        if slots.available() < needed {
            return Err(VaultError::Full { max: SLOTS_MAX });
        }

        // Keys into slots, synced once; then the records and dedup entries in one transaction.
        let ring = self.ring();
        let wrapping_key = ring.current.wrapping_key(self.cipher);
        let now = now_ms();
        let mut writes = Vec::with_capacity(accepted.len());
        for (beneficiary, data, dedup_key) in accepted {
            let slot = slots.allocate();
            let person_key = random_bytes::<PERSON_KEY_BYTES>();
            let wrapped = self.wrap(&wrapping_key, ring.current.key_id(), slot, &person_key);
            self.write_slot(slot, &encode_slot(slot, &wrapped))?;
            slots.set(slot, SlotState::Used(ring.current.key_id()));
            let data_key = data_key(&person_key, self.cipher);
            let (nonce, ciphertext) = data_key.seal(&self.data_aad(beneficiary), &data.encode());
            let record = Record::Stored(Stored {
                slot,
                cipher: self.cipher,
                nonce,
                dedup_key,
                created_ms: now,
                updated_ms: now,
                version: 1,
                ciphertext,
            });
            writes.push((beneficiary, record.encode(), dedup_key));
        }
        self.sync_slots()?;
        self.crash_if(CrashPoint::PutAfterSlots)?;
        let result: Result<(), TransactionError<()>> =
            (&self.people, &self.dedup).transaction(|(people, dedup)| {
                for (beneficiary, record, dedup_key) in &writes {
                    people.insert(beneficiary.as_bytes(), record.as_slice())?;
                    dedup.insert(&dedup_key[..], beneficiary.as_bytes())?;
                }
                Ok(())
            });
        result.map_err(|e| self.poisoning(transaction_error("writing registry records", e)))?;
        self.flush("flushing registry records")?;
        Ok(outcomes)
    }

    /// The beneficiary's data. [`VaultError::NotFound`], [`VaultError::Erased`],
    /// [`VaultError::Corrupt`] (with the slot or record) or [`VaultError::Decrypt`] (an
    /// altered or moved ciphertext) name the beneficiary.
    pub fn get(&self, beneficiary: &str) -> Result<PersonalData, VaultError> {
        check_beneficiary(beneficiary)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let raw = self.raw_record(beneficiary)?;
            let stored = self.stored_record(beneficiary, raw.as_deref())?;
            #[cfg(test)]
            if let Some((reached, resume)) = self.pause_between_reads.lock().unwrap().take() {
                reached.wait();
                resume.wait();
            }
            let slot_bytes = self.read_slot(stored.slot)?;
            let result = self
                .person_key(beneficiary, stored.slot, &slot_bytes)
                .and_then(|person_key| self.decrypt(beneficiary, &stored, &person_key));
            match result {
                Ok(data) => return Ok(data),
                // An erasure, slot reuse or rotation may have changed things under us.
                Err(_)
                    if attempt < READ_ATTEMPTS_MAX
                        && self.changed(beneficiary, &raw, stored.slot, &slot_bytes)? => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The beneficiary registered with this id number, if any (exact match of the
    /// normalised number).
    pub fn find_by_id_number(
        &self,
        id_number: &ResidentIdNumber,
    ) -> Result<Option<String>, VaultError> {
        self.dedup_lookup(&self.dedup_key(id_number))
    }

    /// True if data is stored for the beneficiary (false if never stored or erased).
    pub fn contains(&self, beneficiary: &str) -> Result<bool, VaultError> {
        Ok(matches!(
            self.status(beneficiary)?,
            Some(RecordStatus::Stored { .. })
        ))
    }

    /// The state of the beneficiary's record, `None` if nothing was ever stored (or it was
    /// discarded).
    pub fn status(&self, beneficiary: &str) -> Result<Option<RecordStatus>, VaultError> {
        check_beneficiary(beneficiary)?;
        Ok(self.record(beneficiary)?.and_then(|record| match record {
            Record::Stored(s) => Some(RecordStatus::Stored {
                version: s.version,
                cipher: s.cipher,
                created_ms: s.created_ms,
                updated_ms: s.updated_ms,
            }),
            // A discard in progress already looks like what it will leave: nothing.
            Record::Pending {
                kind: Pending::Discard,
                ..
            } => None,
            Record::Erased { erased_ms }
            | Record::Pending {
                kind: Pending::Erase,
                erased_ms,
                ..
            } => Some(RecordStatus::Erased { erased_ms }),
        }))
    }

    /// Changes the beneficiary's contact data: the record is re-encrypted under the same
    /// person key with a fresh nonce, and its version incremented. Durable when it returns.
    pub fn update_contact(
        &self,
        beneficiary: &str,
        update: &ContactUpdate,
    ) -> Result<(), VaultError> {
        check_beneficiary(beneficiary)?;
        let _slots = self.lock_writes()?;
        let raw = self.raw_record(beneficiary)?;
        let stored = self.stored_record(beneficiary, raw.as_deref())?;
        let slot_bytes = self.read_slot(stored.slot)?;
        let person_key = self.person_key(beneficiary, stored.slot, &slot_bytes)?;
        let data = self.decrypt(beneficiary, &stored, &person_key)?;
        let changed = data.with_contact(update);
        let (nonce, ciphertext) = data_key(&person_key, stored.cipher)
            .seal(&self.data_aad(beneficiary), &changed.encode());
        let record = Record::Stored(Stored {
            nonce,
            ciphertext,
            updated_ms: now_ms().max(stored.updated_ms),
            version: stored
                .version
                .checked_add(1)
                .expect("fewer than 4 billion updates"),
            ..stored
        });
        self.people
            .insert(beneficiary.as_bytes(), record.encode())
            .map_err(|e| self.poisoning(VaultError::storage("writing a registry record")(e)))?;
        self.flush("flushing a registry record")
    }

    /// Erases the beneficiary's data by destroying their key (module docs say exactly
    /// what that guarantees); keeps a tombstone so that later reads say
    /// [`VaultError::Erased`] and the id is never registered again. Idempotent; an id
    /// that never held data is [`VaultError::NotFound`].
    pub fn erase(&self, beneficiary: &str) -> Result<(), VaultError> {
        self.remove(beneficiary, Pending::Erase)
    }

    /// Like [`Vault::erase`], but leaves no tombstone: for a registration that the ledger
    /// then refused, so the id may be used again. Idempotent, also for an id that holds
    /// nothing; an erased record keeps its tombstone.
    pub fn discard(&self, beneficiary: &str) -> Result<(), VaultError> {
        self.remove(beneficiary, Pending::Discard)
    }

    fn remove(&self, beneficiary: &str, kind: Pending) -> Result<(), VaultError> {
        check_beneficiary(beneficiary)?;
        let mut slots = self.lock_writes()?;
        let (kind, erased_ms, slot) = match self.record(beneficiary)? {
            None if kind == Pending::Discard => return Ok(()),
            None => {
                return Err(VaultError::NotFound {
                    beneficiary: beneficiary.to_string(),
                })
            }
            Some(Record::Erased { .. }) => return Ok(()),
            // Left by an earlier failure: finish it as it was begun.
            Some(Record::Pending {
                kind,
                erased_ms,
                slot,
            }) => (kind, erased_ms, slot),
            Some(Record::Stored(stored)) => {
                // Step 1: tombstone and dedup entry, atomically, durably.
                let erased_ms = now_ms();
                let pending = Record::Pending {
                    kind,
                    erased_ms,
                    slot: stored.slot,
                }
                .encode();
                let result: Result<(), TransactionError<()>> = (&self.people, &self.dedup)
                    .transaction(|(people, dedup)| {
                        people.insert(beneficiary.as_bytes(), pending.as_slice())?;
                        if dedup.get(stored.dedup_key)?.as_deref() == Some(beneficiary.as_bytes()) {
                            dedup.remove(&stored.dedup_key[..])?;
                        }
                        Ok(())
                    });
                result.map_err(|e| self.poisoning(transaction_error("writing a tombstone", e)))?;
                self.flush("flushing a tombstone")?;
                (kind, erased_ms, stored.slot)
            }
        };
        self.crash_if(CrashPoint::EraseAfterTombstone)?;
        // Step 2: destroy the key.
        if slots.get(slot).is_some() {
            self.write_slot(slot, &[0u8; 128])?;
            self.sync_slots()?;
            slots.set(slot, SlotState::Free);
        }
        // Step 3: the final tombstone (or none), durable before the slot may be reused.
        let result = match kind {
            Pending::Erase => self
                .people
                .insert(
                    beneficiary.as_bytes(),
                    Record::Erased { erased_ms }.encode(),
                )
                .map(drop),
            Pending::Discard => self.people.remove(beneficiary.as_bytes()).map(drop),
        };
        result.map_err(|e| self.poisoning(VaultError::storage("finishing a tombstone")(e)))?;
        self.flush("flushing a tombstone")?;
        if slots.get(slot) == Some(SlotState::Free) {
            slots.free.insert(slot);
        }
        Ok(())
    }

    /// Rewraps every per-person key and the dedup secret under `new`, online: other
    /// threads keep reading and writing. The rotation is recorded first (from, to), then
    /// slots are rewrapped in batches of [`ROTATION_BATCH_SLOTS`] (synced per batch), then
    /// the dedup secret, then the rotation is marked finished. After a crash, open with
    /// `current = new, previous = Some(old)` to finish it.
    pub fn rotate_master_key(&self, new: MasterKey) -> Result<RotationReport, VaultError> {
        let started = Instant::now();
        let (from, to) = {
            let _slots = self.lock_writes()?;
            if let Some(bytes) = meta_get(&self.meta, meta::ROTATION)? {
                let (from, to) = decode_rotation(&bytes)?;
                return Err(VaultError::RotationRunning { from, to });
            }
            let old = self.ring().current.clone();
            if new.key_id() == old.key_id() {
                return Err(VaultError::SameKey {
                    key_id: old.key_id(),
                });
            }
            let (from, to) = (old.key_id(), new.key_id());
            record_rotation(&self.sled, &self.meta, from, to).map_err(|e| self.poisoning(e))?;
            *self
                .keys
                .write()
                .expect("the key ring lock is not poisoned") = Arc::new(KeyRing {
                current: new,
                previous: Some(old),
            });
            (from, to)
        };
        self.finish_rotation(from, to, started)
    }

    fn finish_rotation(
        &self,
        from: KeyId,
        to: KeyId,
        started: Instant,
    ) -> Result<RotationReport, VaultError> {
        let mut report = RotationReport {
            from,
            to,
            slots_rewrapped: 0,
            slots_corrupt: Vec::new(),
            batches: 0,
            elapsed_ms: 0,
        };
        let stop_after = match self.crash_point() {
            Some(CrashPoint::RotationAfterSlots(limit)) => Some(limit),
            _ => None,
        };
        let mut next = 0u64;
        loop {
            let (rewrapped, end, stopped) = {
                let mut slots = self.lock_writes()?;
                if next >= slots.len() {
                    break;
                }
                let end = (next + ROTATION_BATCH_SLOTS).min(slots.len());
                let ring = self.ring();
                let wrapping_key = ring.current.wrapping_key(self.cipher);
                let mut rewrapped = 0u64;
                let mut stopped = false;
                for slot in next..end {
                    match slots.get(slot) {
                        Some(SlotState::Used(id)) if id == from => {}
                        Some(SlotState::Corrupt) => {
                            report.slots_corrupt.push(slot);
                            continue;
                        }
                        _ => continue,
                    }
                    let Some(old) = ring.find(from) else {
                        return Err(VaultError::RotationUnfinished {
                            from,
                            to,
                            keys_remaining: slots.count_under(from) + 1,
                        });
                    };
                    let bytes = self.read_slot(slot)?;
                    let unwrapped = match decode_slot(slot, &bytes) {
                        Ok(SlotContent::Used(wrapped)) => self.unwrap(old, slot, &wrapped).ok(),
                        _ => None,
                    };
                    let Some(person_key) = unwrapped else {
                        slots.set(slot, SlotState::Corrupt);
                        report.slots_corrupt.push(slot);
                        continue;
                    };
                    let rewrapped_key = self.wrap(&wrapping_key, to, slot, &person_key);
                    self.write_slot(slot, &encode_slot(slot, &rewrapped_key))?;
                    slots.set(slot, SlotState::Used(to));
                    rewrapped += 1;
                    if stop_after.is_some_and(|limit| report.slots_rewrapped + rewrapped >= limit) {
                        stopped = true;
                        break;
                    }
                }
                (rewrapped, end, stopped)
            };
            // Synced outside the lock: writers proceed meanwhile, and nothing depends on
            // these slots being durable until the rotation is marked finished.
            self.sync_slots()?;
            report.slots_rewrapped += rewrapped;
            report.batches += 1;
            if stopped {
                return Err(self.poisoning(VaultError::SimulatedCrash("a rotation")));
            }
            next = end;
        }
        // The dedup secret, then the end of the rotation.
        let _slots = self.lock_writes()?;
        let ring = self.ring();
        let wrapped_secret = self.wrap_secret(&ring.current, &self.dedup_secret);
        let mut batch = sled::Batch::default();
        batch.insert(meta::DEDUP_SECRET, wrapped_secret);
        batch.remove(meta::ROTATION);
        self.meta
            .apply_batch(batch)
            .map_err(|e| self.poisoning(VaultError::storage("finishing a rotation")(e)))?;
        self.flush("flushing the end of a rotation")?;
        let current = ring.current.clone();
        *self
            .keys
            .write()
            .expect("the key ring lock is not poisoned") = Arc::new(KeyRing {
            current,
            previous: None,
        });
        report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        Ok(report)
    }

    /// Counts of records and slots, the key id, the cipher and the rotation in progress.
    pub fn stats(&self) -> Result<VaultStats, VaultError> {
        let (mut stored, mut erased) = (0u64, 0u64);
        for entry in self.people.iter() {
            let (_, value) = entry.map_err(VaultError::storage("reading registry records"))?;
            match value.first() {
                Some(1) => stored += 1,
                _ => erased += 1,
            }
        }
        let slots = self.writes.lock().expect("the write lock is not poisoned");
        let count = |state: fn(&SlotState) -> bool| {
            u64::try_from(slots.table.iter().filter(|s| state(s)).count()).expect("fits")
        };
        let rotation = meta_get(&self.meta, meta::ROTATION)?
            .map(|bytes| decode_rotation(&bytes))
            .transpose()?
            .map(|(from, to)| -> Result<RotationProgress, VaultError> {
                let secret = meta_get(&self.meta, meta::DEDUP_SECRET)?.unwrap_or_default();
                let secret_under_from = decode_wrapped_secret(&secret)
                    .map(|(_, id)| id == from)
                    .unwrap_or(false);
                Ok(RotationProgress {
                    from,
                    to,
                    keys_remaining: slots.count_under(from) + u64::from(secret_under_from),
                })
            })
            .transpose()?;
        Ok(VaultStats {
            stored,
            erased,
            slots: slots.len(),
            slots_used: count(|s| matches!(s, SlotState::Used(_))),
            slots_free: count(|s| *s == SlotState::Free),
            slots_corrupt: count(|s| *s == SlotState::Corrupt),
            key_id: self.key_id(),
            cipher_for_new_records: self.cipher,
            rotation,
        })
    }

    /// Tests only: makes the next operation that reaches `point` stop there as if the
    /// process had died (the vault then refuses writes until reopened).
    #[doc(hidden)]
    pub fn set_crash_point(&self, point: Option<CrashPoint>) {
        *self.crash_point.lock().expect("not poisoned") = point;
    }

    // ---- reading ------------------------------------------------------------------

    fn ring(&self) -> Arc<KeyRing> {
        Arc::clone(&self.keys.read().expect("the key ring lock is not poisoned"))
    }

    fn raw_record(&self, beneficiary: &str) -> Result<Option<sled::IVec>, VaultError> {
        self.people
            .get(beneficiary.as_bytes())
            .map_err(VaultError::storage("reading a registry record"))
    }

    fn record(&self, beneficiary: &str) -> Result<Option<Record>, VaultError> {
        self.raw_record(beneficiary)?
            .map(|raw| decode_record(beneficiary, &raw))
            .transpose()
    }

    /// The stored record, or the error that says why there is none.
    fn stored_record(&self, beneficiary: &str, raw: Option<&[u8]>) -> Result<Stored, VaultError> {
        match raw.map(|raw| decode_record(beneficiary, raw)).transpose()? {
            // A discard in progress already looks like what it will leave: nothing.
            None
            | Some(Record::Pending {
                kind: Pending::Discard,
                ..
            }) => Err(VaultError::NotFound {
                beneficiary: beneficiary.to_string(),
            }),
            Some(Record::Erased { erased_ms } | Record::Pending { erased_ms, .. }) => {
                Err(VaultError::Erased {
                    beneficiary: beneficiary.to_string(),
                    erased_ms,
                })
            }
            Some(Record::Stored(stored)) => Ok(stored),
        }
    }

    /// True if the record or the slot changed since they were read.
    fn changed(
        &self,
        beneficiary: &str,
        raw: &Option<sled::IVec>,
        slot: u64,
        slot_bytes: &SlotBytes,
    ) -> Result<bool, VaultError> {
        if self.raw_record(beneficiary)? != *raw {
            return Ok(true);
        }
        Ok(self.read_slot(slot)? != *slot_bytes)
    }

    fn read_slot(&self, slot: u64) -> Result<SlotBytes, VaultError> {
        if slot >= SLOTS_MAX {
            return Err(VaultError::Corrupt {
                at: CorruptAt::Slot(slot),
                what: "the index is beyond the largest slot".to_owned(),
            });
        }
        let _reading = self.slot_io.read().expect("the slot lock is not poisoned");
        self.slot_file.read(slot).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => VaultError::Corrupt {
                at: CorruptAt::Slot(slot),
                what: "it lies beyond the end of the key-slot file".to_owned(),
            },
            _ => VaultError::io("reading a key slot from", self.slot_file.path())(e),
        })
    }

    /// Unwraps the person key in a slot read for `beneficiary`.
    fn person_key(
        &self,
        beneficiary: &str,
        slot: u64,
        bytes: &SlotBytes,
    ) -> Result<Zeroizing<[u8; PERSON_KEY_BYTES]>, VaultError> {
        let wrapped = match decode_slot(slot, bytes) {
            Ok(SlotContent::Used(wrapped)) => wrapped,
            Ok(SlotContent::Free) => {
                return Err(VaultError::Corrupt {
                    at: CorruptAt::Slot(slot),
                    what: format!(
                        "it is free, but the record of beneficiary {beneficiary} refers to it"
                    ),
                })
            }
            Err(what) => {
                return Err(VaultError::Corrupt {
                    at: CorruptAt::Slot(slot),
                    what,
                })
            }
        };
        let ring = self.ring();
        let Some(master) = ring.find(wrapped.key_id) else {
            return Err(VaultError::Decrypt {
                beneficiary: beneficiary.to_string(),
                what: format!(
                    "the key in slot {slot} is wrapped by master key {}, which is neither the current nor the previous key",
                    wrapped.key_id
                ),
            });
        };
        self.unwrap(master, slot, &wrapped).map_err(|_| VaultError::Decrypt {
            beneficiary: beneficiary.to_string(),
            what: format!("the wrapped key in slot {slot} does not authenticate (altered, or moved from another slot)"),
        })
    }

    fn decrypt(
        &self,
        beneficiary: &str,
        stored: &Stored,
        person_key: &[u8; PERSON_KEY_BYTES],
    ) -> Result<PersonalData, VaultError> {
        let plaintext = data_key(person_key, stored.cipher)
            .open(&stored.nonce, &self.data_aad(beneficiary), &stored.ciphertext)
            .map_err(|_| VaultError::Decrypt {
                beneficiary: beneficiary.to_string(),
                what: "the ciphertext does not authenticate (altered, or copied from another beneficiary's record)".to_owned(),
            })?;
        PersonalData::decode(&plaintext).map_err(|what| VaultError::Corrupt {
            at: CorruptAt::Record(beneficiary.to_string()),
            what,
        })
    }

    fn dedup_key(&self, id_number: &ResidentIdNumber) -> [u8; DEDUP_KEY_BYTES] {
        *hmac_sha256(self.dedup_secret.as_ref(), id_number.as_str().as_bytes())
    }

    fn dedup_lookup(
        &self,
        dedup_key: &[u8; DEDUP_KEY_BYTES],
    ) -> Result<Option<String>, VaultError> {
        let value = self
            .dedup
            .get(dedup_key)
            .map_err(VaultError::storage("reading the dedup index"))?;
        value
            .map(|v| {
                String::from_utf8(v.to_vec()).map_err(|_| VaultError::Corrupt {
                    at: CorruptAt::DedupIndex,
                    what: "an entry's beneficiary id is not UTF-8".to_owned(),
                })
            })
            .transpose()
    }

    // ---- keys ---------------------------------------------------------------------

    fn person_key_aad(&self, slot: u64) -> Vec<u8> {
        associated_data(Kind::PersonKey, &[&self.registry_id, &slot.to_be_bytes()])
    }

    fn data_aad(&self, beneficiary: &str) -> Vec<u8> {
        associated_data(
            Kind::PersonalData,
            &[&self.registry_id, beneficiary.as_bytes()],
        )
    }

    fn wrap(
        &self,
        wrapping_key: &CipherKey,
        key_id: KeyId,
        slot: u64,
        person_key: &[u8; PERSON_KEY_BYTES],
    ) -> WrappedKey {
        let (nonce, sealed) = wrapping_key.seal(&self.person_key_aad(slot), person_key);
        WrappedKey {
            cipher: self.cipher,
            key_id,
            nonce,
            wrapped: sealed.try_into().expect("a wrapped key is 48 bytes"),
        }
    }

    fn unwrap(
        &self,
        master: &MasterKey,
        slot: u64,
        wrapped: &WrappedKey,
    ) -> Result<Zeroizing<[u8; PERSON_KEY_BYTES]>, UnwrapFailed> {
        if master.key_id() != wrapped.key_id {
            return Err(UnwrapFailed);
        }
        let plain = master
            .wrapping_key(wrapped.cipher)
            .open(&wrapped.nonce, &self.person_key_aad(slot), &wrapped.wrapped)
            .map_err(|_| UnwrapFailed)?;
        let key: [u8; PERSON_KEY_BYTES] = plain.as_slice().try_into().map_err(|_| UnwrapFailed)?;
        Ok(Zeroizing::new(key))
    }

    fn wrap_secret(&self, master: &MasterKey, secret: &[u8; 32]) -> Vec<u8> {
        wrap_secret(master, self.cipher, &self.registry_id, secret)
    }

    // ---- writing ------------------------------------------------------------------

    fn lock_writes(&self) -> Result<MutexGuard<'_, Slots>, VaultError> {
        let guard = self.writes.lock().expect("the write lock is not poisoned");
        if let Some(cause) = self.poisoned.lock().expect("not poisoned").clone() {
            return Err(VaultError::Poisoned { cause });
        }
        Ok(guard)
    }

    /// Marks the vault as refusing writes, and passes the error on.
    fn poisoning(&self, error: VaultError) -> VaultError {
        let mut poisoned = self.poisoned.lock().expect("not poisoned");
        if poisoned.is_none() {
            *poisoned = Some(error.to_string());
        }
        error
    }

    fn crash_point(&self) -> Option<CrashPoint> {
        *self.crash_point.lock().expect("not poisoned")
    }

    fn crash_if(&self, point: CrashPoint) -> Result<(), VaultError> {
        if self.crash_point() == Some(point) {
            let what = match point {
                CrashPoint::PutAfterSlots => "a registration",
                CrashPoint::EraseAfterTombstone => "an erasure",
                CrashPoint::RotationAfterSlots(_) => "a rotation",
            };
            return Err(self.poisoning(VaultError::SimulatedCrash(what)));
        }
        Ok(())
    }

    fn write_slot(&self, slot: u64, bytes: &SlotBytes) -> Result<(), VaultError> {
        let _writing = self.slot_io.write().expect("the slot lock is not poisoned");
        self.slot_file.write(slot, bytes).map_err(|e| {
            self.poisoning(VaultError::io(
                "writing a key slot to",
                self.slot_file.path(),
            )(e))
        })
    }

    fn sync_slots(&self) -> Result<(), VaultError> {
        self.slot_file
            .sync()
            .map_err(|e| self.poisoning(VaultError::io("syncing", self.slot_file.path())(e)))
    }

    fn flush(&self, op: &'static str) -> Result<(), VaultError> {
        self.sled.flush(op).map_err(|e| self.poisoning(e))
    }
}

// ---- opening ----------------------------------------------------------------------

fn data_key(person_key: &[u8; PERSON_KEY_BYTES], cipher: Cipher) -> CipherKey {
    derive_key(person_key, "personal data", cipher)
}

fn decode_record(beneficiary: &str, raw: &[u8]) -> Result<Record, VaultError> {
    Record::decode(raw).map_err(|what| VaultError::Corrupt {
        at: CorruptAt::Record(beneficiary.to_string()),
        what,
    })
}

fn transaction_error(op: &'static str, error: TransactionError<()>) -> VaultError {
    match error {
        TransactionError::Storage(e) => VaultError::storage(op)(e),
        TransactionError::Abort(()) => VaultError::Storage {
            op,
            message: "the transaction was aborted".to_owned(),
        },
    }
}

fn corrupt_meta(key: &'static str, what: &str) -> VaultError {
    VaultError::Corrupt {
        at: CorruptAt::Meta(key),
        what: what.to_owned(),
    }
}

fn meta_get(meta_tree: &sled::Tree, key: &'static str) -> Result<Option<sled::IVec>, VaultError> {
    meta_tree
        .get(key)
        .map_err(VaultError::storage("reading registry metadata"))
}

fn meta_array<const N: usize>(
    meta_tree: &sled::Tree,
    key: &'static str,
) -> Result<[u8; N], VaultError> {
    let value = meta_get(meta_tree, key)?.ok_or_else(|| corrupt_meta(key, "it is missing"))?;
    value
        .as_ref()
        .try_into()
        .map_err(|_| corrupt_meta(key, &format!("it has {} bytes, expected {N}", value.len())))
}

fn decode_rotation(bytes: &[u8]) -> Result<(KeyId, KeyId), VaultError> {
    if bytes.len() != 24 {
        return Err(corrupt_meta(
            meta::ROTATION,
            &format!("it has {} bytes, expected 24", bytes.len()),
        ));
    }
    Ok((
        KeyId::from_bytes(bytes[..8].try_into().expect("8 bytes")),
        KeyId::from_bytes(bytes[8..16].try_into().expect("8 bytes")),
    ))
}

/// Records the start of a rotation: the rotation entry and the new key id, durably.
fn record_rotation(
    sled: &Sled,
    meta_tree: &sled::Tree,
    from: KeyId,
    to: KeyId,
) -> Result<(), VaultError> {
    let mut value = Vec::with_capacity(24);
    value.extend_from_slice(from.as_bytes());
    value.extend_from_slice(to.as_bytes());
    value.extend_from_slice(&now_ms().to_be_bytes());
    let mut batch = sled::Batch::default();
    batch.insert(meta::ROTATION, value);
    batch.insert(meta::KEY_ID, &to.as_bytes()[..]);
    meta_tree
        .apply_batch(batch)
        .map_err(VaultError::storage("recording a rotation"))?;
    sled.flush("flushing the start of a rotation")
}

fn wrap_secret(
    master: &MasterKey,
    cipher: Cipher,
    registry_id: &[u8; REGISTRY_ID_BYTES],
    secret: &[u8; 32],
) -> Vec<u8> {
    let aad = associated_data(Kind::DedupSecret, &[registry_id]);
    let (nonce, sealed) = master.wrapping_key(cipher).seal(&aad, secret);
    let mut out = Vec::with_capacity(WRAPPED_SECRET_BYTES);
    out.push(cipher.id());
    out.extend_from_slice(master.key_id().as_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    assert_eq!(
        out.len(),
        WRAPPED_SECRET_BYTES,
        "the wrapped dedup secret has its documented size"
    );
    out
}

/// The cipher and key id of a wrapped dedup secret.
fn decode_wrapped_secret(bytes: &[u8]) -> Result<(Cipher, KeyId), VaultError> {
    if bytes.len() != WRAPPED_SECRET_BYTES {
        return Err(corrupt_meta(
            meta::DEDUP_SECRET,
            &format!(
                "it has {} bytes, expected {WRAPPED_SECRET_BYTES}",
                bytes.len()
            ),
        ));
    }
    let cipher = Cipher::from_id(bytes[0])
        .ok_or_else(|| corrupt_meta(meta::DEDUP_SECRET, "unknown cipher"))?;
    Ok((
        cipher,
        KeyId::from_bytes(bytes[1..9].try_into().expect("8 bytes")),
    ))
}

fn unwrap_secret(
    ring: &KeyRing,
    registry_id: &[u8; REGISTRY_ID_BYTES],
    bytes: &[u8],
) -> Result<Zeroizing<[u8; 32]>, VaultError> {
    let (cipher, key_id) = decode_wrapped_secret(bytes)?;
    let master = ring.find(key_id).ok_or(VaultError::KeyMismatch {
        found: ring.current.key_id(),
        expected: key_id,
    })?;
    let nonce: [u8; NONCE_BYTES] = bytes[9..21].try_into().expect("12 bytes");
    let aad = associated_data(Kind::DedupSecret, &[registry_id]);
    let plain = master
        .wrapping_key(cipher)
        .open(&nonce, &aad, &bytes[21..])
        .map_err(|_| {
            corrupt_meta(
                meta::DEDUP_SECRET,
                "the wrapped dedup secret does not authenticate",
            )
        })?;
    let secret: [u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| corrupt_meta(meta::DEDUP_SECRET, "wrong length"))?;
    Ok(Zeroizing::new(secret))
}

/// Creates the registry's metadata and slot file in an empty database.
fn create_registry(
    sled: &Sled,
    people: &sled::Tree,
    dedup: &sled::Tree,
    meta_tree: &sled::Tree,
    slot_path: &Path,
    key: &MasterKey,
    cipher: Cipher,
) -> Result<(SlotFile, [u8; REGISTRY_ID_BYTES]), VaultError> {
    if !people.is_empty() || !dedup.is_empty() || !meta_tree.is_empty() {
        return Err(corrupt_meta(
            meta::FORMAT,
            "it is missing, but the registry trees hold entries",
        ));
    }
    // A slot file without metadata is left by a crash during creation if it holds no
    // keys; with keys it belongs to another database.
    let (slot_file, registry_id) = match SlotFile::open(slot_path) {
        Ok((file, registry_id)) => {
            if read_slot_table(&file)?
                .iter()
                .any(|s| *s != SlotState::Free)
            {
                return Err(VaultError::SlotFileMismatch {
                    path: slot_path.to_path_buf(),
                    found: hex::encode(registry_id),
                    expected: "a new registry (this database has none)".to_owned(),
                });
            }
            (file, registry_id)
        }
        Err(HeaderError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            let registry_id = *random_bytes::<REGISTRY_ID_BYTES>();
            let file = SlotFile::create(slot_path, &registry_id)
                .map_err(VaultError::io("creating", slot_path))?;
            (file, registry_id)
        }
        Err(e) => return Err(header_error(slot_path, e)),
    };
    let secret = random_bytes::<32>();
    let mut batch = sled::Batch::default();
    batch.insert(meta::REGISTRY_ID, &registry_id[..]);
    batch.insert(meta::KEY_ID, &key.key_id().as_bytes()[..]);
    batch.insert(
        meta::DEDUP_SECRET,
        wrap_secret(key, cipher, &registry_id, &secret),
    );
    batch.insert(meta::CREATED_MS, &now_ms().to_be_bytes()[..]);
    // The format goes last in meaning, not in time: the batch is atomic.
    batch.insert(meta::FORMAT, &REGISTRY_FORMAT.to_be_bytes()[..]);
    meta_tree
        .apply_batch(batch)
        .map_err(VaultError::storage("creating the registry metadata"))?;
    sled.flush("flushing the registry metadata")?;
    Ok((slot_file, registry_id))
}

/// Opens the slot file of an existing registry and checks that it belongs to it.
fn open_registry(
    meta_tree: &sled::Tree,
    format: &[u8],
    slot_path: &Path,
) -> Result<(SlotFile, [u8; REGISTRY_ID_BYTES]), VaultError> {
    let format: [u8; 2] = format
        .try_into()
        .map_err(|_| corrupt_meta(meta::FORMAT, "it is not two bytes"))?;
    let format = u16::from_be_bytes(format);
    if format > REGISTRY_FORMAT {
        return Err(VaultError::NewerFormat {
            found: format,
            supported: REGISTRY_FORMAT,
        });
    }
    let registry_id: [u8; REGISTRY_ID_BYTES] = meta_array(meta_tree, meta::REGISTRY_ID)?;
    let (file, found) = match SlotFile::open(slot_path) {
        Ok(opened) => opened,
        Err(HeaderError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(VaultError::SlotFileMissing {
                path: slot_path.to_path_buf(),
            })
        }
        Err(e) => return Err(header_error(slot_path, e)),
    };
    if found != registry_id {
        return Err(VaultError::SlotFileMismatch {
            path: slot_path.to_path_buf(),
            found: hex::encode(found),
            expected: hex::encode(registry_id),
        });
    }
    Ok((file, registry_id))
}

fn header_error(path: &Path, error: HeaderError) -> VaultError {
    match error {
        HeaderError::Io(e) => VaultError::io("opening", path)(e),
        HeaderError::Invalid(what) => VaultError::Corrupt {
            at: CorruptAt::SlotFileHeader(path.to_path_buf()),
            what,
        },
        HeaderError::NewerFormat(found) => VaultError::NewerFormat {
            found,
            supported: REGISTRY_FORMAT,
        },
    }
}

fn read_slot_table(file: &SlotFile) -> Result<Vec<SlotState>, VaultError> {
    let all = file
        .read_all()
        .map_err(VaultError::io("reading", file.path()))?;
    Ok(all
        .iter()
        .zip(0u64..)
        .map(|(bytes, slot)| match decode_slot(slot, bytes) {
            Ok(SlotContent::Free) => SlotState::Free,
            Ok(SlotContent::Used(wrapped)) => SlotState::Used(wrapped.key_id),
            Err(_) => SlotState::Corrupt,
        })
        .collect())
}

/// Finishes interrupted erasures and discards, and zeroes the keys of registrations that
/// never reached sled (a used slot no record refers to).
fn recover(
    sled: &Sled,
    people: &sled::Tree,
    slot_file: &SlotFile,
    slots: &mut Slots,
) -> Result<(), VaultError> {
    let mut referenced = HashSet::new();
    let mut pending = Vec::new();
    let mut undecodable = false;
    for entry in people.iter() {
        let (key, value) = entry.map_err(VaultError::storage("reading registry records"))?;
        match Record::decode(&value) {
            Ok(Record::Stored(stored)) => {
                referenced.insert(stored.slot);
            }
            Ok(Record::Pending {
                kind,
                erased_ms,
                slot,
            }) => pending.push((key, kind, erased_ms, slot)),
            Ok(Record::Erased { .. }) => {}
            // Reported when read; meanwhile no slot may be taken for an orphan.
            Err(_) => undecodable = true,
        }
    }
    let mut zeroed = Vec::new();
    for (_, _, _, slot) in &pending {
        if !referenced.contains(slot) && slots.get(*slot).is_some() {
            zeroed.push(*slot);
        }
    }
    if !undecodable {
        for slot in 0..slots.len() {
            if slots.get(slot) != Some(SlotState::Free) && !referenced.contains(&slot) {
                zeroed.push(slot);
            }
        }
    }
    if !zeroed.is_empty() {
        for slot in &zeroed {
            slot_file
                .write(*slot, &[0u8; 128])
                .map_err(VaultError::io("zeroing a key slot in", slot_file.path()))?;
            slots.set(*slot, SlotState::Free);
        }
        slot_file
            .sync()
            .map_err(VaultError::io("syncing", slot_file.path()))?;
    }
    if !pending.is_empty() {
        for (key, kind, erased_ms, _) in pending {
            let result = match kind {
                Pending::Erase => people
                    .insert(key, Record::Erased { erased_ms }.encode())
                    .map(drop),
                Pending::Discard => people.remove(key).map(drop),
            };
            result.map_err(VaultError::storage("finishing an interrupted erasure"))?;
        }
        sled.flush("flushing finished erasures")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;

    fn person(id_number: &str) -> PersonalData {
        let today = chrono::NaiveDate::from_ymd_opt(2024, 6, 1).unwrap();
        PersonalData::parse("林秀英", id_number, None, None, None, today).unwrap()
    }

    /// Given a read that has its record but not yet its slot, when the person is
    /// discarded and registered again (the same slot, a new key), then the read notices
    /// the change, reads again and returns the new data: it does not report the key
    /// mismatch as a decryption error.
    #[test]
    fn a_read_interrupted_by_slot_reuse_reads_again() {
        let root = tempfile::tempdir().unwrap();
        let sled_dir = root.path().join("db");
        let db = sled::open(&sled_dir).unwrap();
        let keys = VaultKeys::new(MasterKey::generate());
        let vault = Vault::open(
            &db,
            &sled_dir,
            &root.path().join("registry"),
            keys,
            Cipher::Aes256Gcm,
        )
        .unwrap();
        let first = person("11010519491231002X");
        let second = person("350425198503121230");
        vault.put("b-1", &first).unwrap();
        let (reached, resume) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
        *vault.pause_between_reads.lock().unwrap() =
            Some((Arc::clone(&reached), Arc::clone(&resume)));
        std::thread::scope(|scope| {
            let reader = scope.spawn(|| vault.get("b-1"));
            reached.wait();
            vault.discard("b-1").unwrap();
            vault.put("b-1", &second).unwrap();
            assert_eq!(vault.stats().unwrap().slots, 1, "the slot was reused");
            resume.wait();
            assert_eq!(reader.join().unwrap().unwrap(), second);
        });
    }
}
