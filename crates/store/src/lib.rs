//! Welfare Ledger's append-only event log: named streams with versions, one global
//! order with dense positions, idempotent appends, a hash chain that `verify`
//! recomputes, durable group commit, and interchangeable backends (sled on disk,
//! memory for tests, a fault-injecting wrapper).
//!
//! Only this crate knows sled and bincode; the on-disk format is owned by [`codec`].

mod backend;
pub mod codec;
mod error;
mod faulty;
mod group;
mod hash;
pub mod limits;
mod log;
mod memory;
mod sled_backend;
mod types;

pub use backend::{Backend, SnapshotBytes, SnapshotSource};
pub use error::{AppendError, StoreError};
pub use faulty::{FaultPlan, FaultyBackend};
pub use group::{GroupCommitter, GroupStats};
pub use hash::{HashAlgorithm, GENESIS_HASH};
pub use log::{
    load_snapshot, ChainBreak, Clock, FixedClock, Log, PreparedGroup, Subscription, SystemClock,
    VerifyReport, INDEX_CHECKPOINT,
};
pub use memory::MemoryBackend;
pub use sled_backend::{
    sled_config, sled_segment_bytes, SledBackend, SnapshotFiles, JOURNAL_BYTES_MAX, JOURNAL_FILE,
    JOURNAL_GROWTH_BYTES, LOG_TREE, SLED_DIR, SLED_SEGMENT_BYTES, SNAPSHOT_DIR,
    SNAPSHOT_SYNC_BYTES, SPACE_PROBE_BYTES, SPACE_PROBE_FILE,
};
pub use types::{
    Actor, AppendBatch, Appended, CommandId, EventType, ExpectedVersion, Head, Memo, NameError,
    NameKind, NewEvent, RawRecord, RecordView, RecordedEvent, StreamName, BIDI_CONTROLS,
};

/// The contract every event store offers, whatever keeps the bytes: the sled and
/// memory backends through [`Log`], and appends through the [`GroupCommitter`].
pub trait EventStore: Send + Sync {
    /// Appends one command's events, all or nothing; returns once they are durable.
    fn append(&self, batch: AppendBatch) -> Result<Appended, AppendError>;
    /// Up to `max` (at most [`limits::READ_PAGE_EVENTS_MAX`]) events of one stream from a version.
    fn read_stream(
        &self,
        stream: &StreamName,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;
    /// Up to `max` (at most [`limits::READ_PAGE_EVENTS_MAX`]) events from a global position.
    fn read_all(&self, from_position: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError>;
    /// The durable end of the log.
    fn head(&self) -> Head;
    /// The version of the stream's last event, `None` if it does not exist.
    fn stream_version(&self, stream: &StreamName) -> Option<u64>;
    /// Recomputes the hash chain from position 0.
    fn verify(&self) -> Result<VerifyReport, StoreError>;
}

impl<B: Backend> EventStore for Log<B> {
    fn append(&self, batch: AppendBatch) -> Result<Appended, AppendError> {
        Log::append(self, batch)
    }
    fn read_stream(
        &self,
        stream: &StreamName,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        Log::read_stream(self, stream, from_version, max)
    }
    fn read_all(&self, from_position: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        Log::read_all(self, from_position, max)
    }
    fn head(&self) -> Head {
        Log::head(self)
    }
    fn stream_version(&self, stream: &StreamName) -> Option<u64> {
        Log::stream_version(self, stream)
    }
    fn verify(&self) -> Result<VerifyReport, StoreError> {
        Log::verify(self)
    }
}

impl<B: Backend> EventStore for GroupCommitter<B> {
    fn append(&self, batch: AppendBatch) -> Result<Appended, AppendError> {
        GroupCommitter::append(self, batch)
    }
    fn read_stream(
        &self,
        stream: &StreamName,
        from_version: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.log().read_stream(stream, from_version, max)
    }
    fn read_all(&self, from_position: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        self.log().read_all(from_position, max)
    }
    fn head(&self) -> Head {
        self.log().head()
    }
    fn stream_version(&self, stream: &StreamName) -> Option<u64> {
        self.log().stream_version(stream)
    }
    fn verify(&self) -> Result<VerifyReport, StoreError> {
        self.log().verify()
    }
}
