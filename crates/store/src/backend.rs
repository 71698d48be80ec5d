//! The raw storage a log is kept in: keyed records, a header and a head marker.
//! A backend knows nothing of streams, hashes or idempotency; [`crate::Log`] does.

use std::ops::ControlFlow;

use crate::error::StoreError;

/// Where snapshots are read from: a backend, or a data directory's snapshot files
/// before its backend is open ([`crate::SnapshotFiles`]: an engine's open loads the
/// projections' checkpoints while sled recovers, decision 0035).
pub trait SnapshotSource {
    /// The snapshot stored under `name`, if any.
    fn load_snapshot(&self, name: &str) -> Result<Option<SnapshotBytes>, StoreError>;
}

/// Raw durable storage for the log.
///
/// Contract, checked by the conformance tests in `tests/`:
/// - `write` takes all of its records and the head marker, or none (a failed write
///   leaves nothing a read would show);
/// - after `flush` returns `Ok`, everything written before it survives a process
///   crash and a power loss;
/// - reads see everything flushed, and may or may not see what was written since
///   (the log bounds reads by its committed head, so unflushed records are never
///   shown to callers).
pub trait Backend: SnapshotSource + Send + Sync + 'static {
    /// The stored header, if the ledger has been created.
    fn read_header(&self) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes the header and makes it durable. Called once, on creation.
    fn write_header(&self, header: &[u8]) -> Result<(), StoreError>;
    /// The stored head marker, if any batch has been written.
    fn read_head(&self) -> Result<Option<Vec<u8>>, StoreError>;
    /// Atomically stores `records` at positions `first_position..` and replaces the head marker.
    fn write(
        &self,
        first_position: u64,
        records: &[Vec<u8>],
        head: &[u8],
    ) -> Result<(), StoreError>;
    /// Makes every earlier write durable.
    fn flush(&self) -> Result<(), StoreError>;
    /// Does now the work that makes flushed writes readable, which a backend may
    /// defer past `flush` (the sled backend's inserts, decision 0019), and work that
    /// keeps the next flushes short (the sled backend grows its journal ahead,
    /// decision 0028): a writer calls it once it has answered, off the answer's path.
    /// Reads never depend on it: a backend that defers does the work on a read first.
    /// Backends that defer nothing have nothing to do.
    fn store_durable(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// The record at `position`.
    fn read(&self, position: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Visits records at `from..to` in order until `visit` breaks. A missing position
    /// is reported to `visit`'s caller as a gap by the log, which checks positions.
    fn scan(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(u64, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError>;
    /// The highest position stored, if any.
    fn last_position(&self) -> Result<Option<u64>, StoreError>;
    /// Bytes the backend occupies on disk (0 for memory).
    fn size_on_disk(&self) -> Result<u64, StoreError>;
    /// Durably stores a snapshot of derived state (a projection, the writer's state)
    /// under `name`, replacing the previous one: all or nothing.
    fn save_snapshot(&self, name: &str, stored: &[u8]) -> Result<(), StoreError>;
    /// Removes the snapshot stored under `name`, if there is one (a snapshot of a layout
    /// no longer read).
    fn remove_snapshot(&self, name: &str) -> Result<(), StoreError>;
    /// Checks, without touching the log, whether storage accepts writes now (for
    /// example, whether the disk has space again after ENOSPC): an error says why not.
    /// Used before a failed log is closed and reopened, so that a log that cannot be
    /// reopened yet is not closed. Storage that cannot run out has nothing to check.
    fn probe_writable(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A stored snapshot's bytes as a backend gives them: a copy in memory, or the file
/// mapped read-only (the sled backend's, decision 0034). A snapshot is decoded once at
/// open and dropped; mapped, its hundreds of megabytes are read where the page cache
/// holds them instead of being copied into fresh pages the kernel must zero first.
pub struct SnapshotBytes(Held);

enum Held {
    Owned(Vec<u8>),
    Mapped(memmap2::Mmap),
}

impl SnapshotBytes {
    pub(crate) fn mapped(map: memmap2::Mmap) -> SnapshotBytes {
        SnapshotBytes(Held::Mapped(map))
    }
}

impl From<Vec<u8>> for SnapshotBytes {
    fn from(bytes: Vec<u8>) -> SnapshotBytes {
        SnapshotBytes(Held::Owned(bytes))
    }
}

impl std::ops::Deref for SnapshotBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Held::Owned(bytes) => bytes,
            Held::Mapped(map) => map,
        }
    }
}

impl std::fmt::Debug for SnapshotBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = match self.0 {
            Held::Owned(_) => "in memory",
            Held::Mapped(_) => "mapped",
        };
        write!(f, "SnapshotBytes({} bytes, {how})", self.len())
    }
}
