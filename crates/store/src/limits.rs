//! Every limit of the log, named once. A value here is a contract: raising one
//! is safe; lowering one can make old records unreadable by new code (event size).

/// Largest encoded record (envelope plus payload), in bytes.
pub const EVENT_BYTES_MAX: usize = 64 * 1024;
/// Most events one command (one [`crate::AppendBatch`]) may append.
pub const BATCH_EVENTS_MAX: usize = 10_000;
/// Most events the group committer puts into one durable commit.
pub const GROUP_COMMIT_EVENTS_MAX: usize = 20_000;
/// Most appends waiting in the group committer's queue; a full queue makes callers wait.
pub const QUEUE_DEPTH_MAX: usize = 4_096;
/// Most events one read returns.
pub const READ_PAGE_EVENTS_MAX: usize = 10_000;
/// Bytes of the latest committed records a log keeps in memory for readers close
/// behind its head (followers such as the engine's projector).
pub const RECENT_RECORDS_BYTES_MAX: usize = 8 * 1024 * 1024;

pub const STREAM_NAME_BYTES_MAX: usize = 128;
pub const COMMAND_ID_BYTES_MAX: usize = 128;
pub const EVENT_TYPE_BYTES_MAX: usize = 64;
pub const ACTOR_BYTES_MAX: usize = 128;
pub const MEMO_BYTES_MAX: usize = 1_024;
