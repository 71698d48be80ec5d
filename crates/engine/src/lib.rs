//! Welfare Ledger's engine: every command goes through one writer, which decides it
//! against the current state (`ledger_domain::decide`), appends the resulting events
//! in a durable group commit, and only then answers. A committed read model follows
//! the writer, so a query never sees a partially applied batch.
//!
//! Threads: the writer decides a group of commands and prepares their records; the
//! flusher makes the group durable, publishes it to the read model and answers the
//! callers; the storer then stores the durable records in sled and writes the model's
//! snapshots (decision 0024); the projector folds the log into the projections. The
//! storer and the projector let a few groups gather before they wake (decision 0027).
//! While one group is flushed the next is decided (see the store's
//! `Log::prepare_group` / `Log::commit_prepared`).
//!
//! After a failed write or flush the engine refuses writes and keeps serving reads;
//! opened with [`Engine::open_with_recovery`], its writer reopens the log in the same
//! process once the storage takes writes again ([`recovery`]).

mod model;
mod projector;
pub mod recovery;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::thread::JoinHandle;

use chrono::{NaiveDate, NaiveDateTime};
use foldhash::{HashMap, HashMapExt as _};
use ledger_domain::{
    authorize_with, decide_with, Command, CommandContext, Event, Recorded, Rejection, UserId,
};
use ledger_store::limits::READ_PAGE_EVENTS_MAX;
use ledger_store::{
    AppendBatch, Backend, Clock, Head, Log, PreparedGroup, SnapshotSource, StoreError,
};
use tokio::sync::{mpsc, oneshot};

pub use model::Model;
use model::{digest_of, log_names, new_events, CommandEntry};
pub use projector::Projections;
use recovery::{Health, LogSlot};
pub use recovery::{Reopen, WriteStatus};

/// Most commands waiting in the writer's queue; a full queue makes submitters wait.
pub const COMMAND_QUEUE_DEPTH_MAX: usize = 4_096;
/// Most commands the writer decides into one group commit.
pub const GROUP_COMMANDS_MAX: usize = 4_096;
/// A snapshot of the committed model is written after this many events; the
/// projections and the store's indexes are checkpointed after this many or more (see
/// [`CHECKPOINT_SPACING_DIVISOR`]).
pub const SNAPSHOT_INTERVAL_EVENTS: u64 = 1_000_000;
/// The projections and the store's indexes are checkpointed once the ledger has grown
/// by this fraction of what their last checkpoint held (a quarter), when that is more
/// than [`SNAPSHOT_INTERVAL_EVENTS`] (decision 0030). A checkpoint copies and writes
/// state that grows with the ledger (1.3 GB at twelve million events, 3 to 4 s of a
/// core), so at a fixed interval its cost per event would grow with the ledger too;
/// spaced in proportion, that cost stays level, and an open still has at most a quarter
/// of the ledger to fold after its checkpoints.
pub const CHECKPOINT_SPACING_DIVISOR: u64 = 4;
/// The name of the committed model's snapshot in the store. It carries the layout
/// version of `Model` from version 2 on (the lean state of decision 0009; 3 added the
/// beneficiary status and the personal-data permission): raise it
/// whenever a serialised field changes, so that a snapshot of another layout is never
/// decoded (bincode could misread it rather than refuse it).
pub const MODEL_SNAPSHOT: &str = "model-v3";

/// The model's snapshots of earlier layouts, removed whenever a new one is written.
const SUPERSEDED_MODEL_SNAPSHOTS: [&str; 2] = ["model", "model-v2"];

/// Writes the committed model's snapshot, then removes those of earlier layouts.
fn save_model<B: Backend>(log: &Log<B>, model: &Model) -> Result<(), StoreError> {
    log.save_snapshot(MODEL_SNAPSHOT, model.next_position, model)?;
    SUPERSEDED_MODEL_SNAPSHOTS
        .iter()
        .try_for_each(|name| log.remove_snapshot(name))
}

/// Settings of an engine; `Default` gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// Write a snapshot of the committed model after this many events, and checkpoint
    /// the projections and the store's indexes after this many or more.
    pub snapshot_interval_events: u64,
    /// Checkpoint the projections and the store's indexes only once the ledger has
    /// grown by the events of their last checkpoint divided by this, when that is more
    /// than `snapshot_interval_events` (0: every `snapshot_interval_events` events). A
    /// clean shutdown checkpoints them too, if the tail is long enough
    /// ([`EngineOptions::checkpoint_due_at_shutdown`]).
    pub checkpoint_spacing_divisor: u64,
    /// After a failed write or flush, the first recovery attempt waits this long; each
    /// failed attempt doubles the wait (only with [`Engine::open_with_recovery`]).
    pub recovery_backoff_min_ms: u64,
    /// The longest wait between two recovery attempts.
    pub recovery_backoff_max_ms: u64,
}

impl EngineOptions {
    /// Whether the projections and the store's indexes, last checkpointed at position
    /// `last`, are due for a checkpoint at `reached`.
    pub fn checkpoint_due(&self, last: u64, reached: u64) -> bool {
        let spacing = match self.checkpoint_spacing_divisor {
            0 => 0,
            divisor => last / divisor,
        };
        reached.saturating_sub(last) >= self.snapshot_interval_events.max(spacing)
    }

    /// Whether a clean shutdown, with the projections (or the model) at `reached` and
    /// their last checkpoint (its last snapshot) at `last`, checkpoints them and the
    /// store's indexes (snapshots it): when a tenth of `snapshot_interval_events` or
    /// more came since.
    pub fn checkpoint_due_at_shutdown(&self, last: u64, reached: u64) -> bool {
        reached.saturating_sub(last) >= (self.snapshot_interval_events / 10).max(1)
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            snapshot_interval_events: SNAPSHOT_INTERVAL_EVENTS,
            checkpoint_spacing_divisor: CHECKPOINT_SPACING_DIVISOR,
            recovery_backoff_min_ms: recovery::RECOVERY_BACKOFF_MIN_MS,
            recovery_backoff_max_ms: recovery::RECOVERY_BACKOFF_MAX_MS,
        }
    }
}

/// A command as a member of staff submits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The idempotency key: the same id again returns the original result.
    pub command_id: String,
    pub command: Command,
    pub actor: UserId,
    /// The business date on which the money moved.
    pub effective_date: NaiveDate,
    /// Why: a memo or voucher reference (no personal information).
    pub memo: String,
}

/// Where an accepted command's events were appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub first_position: u64,
    /// Events appended (0 for a command that changed nothing, such as expiring
    /// requests when none has expired).
    pub count: u32,
    /// True when this was a retry of a command already accepted.
    pub duplicate: bool,
}

/// Why the engine did not accept a command.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A rule of the domain said no; nothing changed.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error("invalid {field}: {message}")]
    InvalidInput { field: String, message: String },
    #[error("command id {command_id} was already used for a different command (first at position {first_position}); use a new command id")]
    CommandIdConflict {
        command_id: String,
        first_position: u64,
    },
    /// The engine stopped accepting writes after a failure; reads still work.
    #[error("the ledger refuses writes after a failure ({cause}); restart it to recover")]
    Unavailable { cause: String },
    /// Writes are refused while the engine recovers from a failed write or flush (a
    /// full disk, an IO error): it reopens its log from disk as soon as the storage
    /// takes writes again. Reads go on. Same code as `Unavailable`.
    #[error("the ledger is recovering from an IO error ({cause}) and takes no writes until it has reopened its log from disk: retry in {} s with the same command id", retry_after_ms.div_ceil(1000).max(1))]
    Recovering { cause: String, retry_after_ms: u64 },
    /// The read models have not caught up with the log (a read waited for them). Same
    /// code as `Unavailable`: retry shortly.
    #[error("the read models have not reached position {position} yet ({cause}); retry shortly")]
    ReadModelBehind { position: u64, cause: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EngineError {
    fn corrupt(position: u64, what: String) -> Self {
        EngineError::Store(StoreError::Corruption {
            position: Some(position),
            what,
        })
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Rejected(r) => r.code(),
            EngineError::InvalidInput { .. } => "invalid_input",
            EngineError::CommandIdConflict { .. } => "command_id_conflict",
            EngineError::Unavailable { .. }
            | EngineError::Recovering { .. }
            | EngineError::ReadModelBehind { .. } => "unavailable",
            EngineError::Store(e) => e.code(),
        }
    }
}

/// Why the engine recorded none of an all-or-none group of commands.
#[derive(Debug, thiserror::Error)]
#[error("{}{error}", .command.map(|i| format!("command {} of the group: ", i + 1)).unwrap_or_default())]
pub struct GroupRefused {
    /// The command that was refused (0-based), or `None` when the group as a whole was
    /// (the engine shut down or refuses writes).
    pub command: Option<usize>,
    pub error: EngineError,
}

impl From<EngineError> for GroupRefused {
    fn from(error: EngineError) -> Self {
        GroupRefused {
            command: None,
            error,
        }
    }
}

/// The most commands [`Engine::submit_all_checked_async`] takes at once.
pub const ALL_OR_NONE_COMMANDS_MAX: usize = 64;

/// Why `commands` commands cannot be one all-or-none group, if they cannot.
pub fn group_size_refusal(commands: usize) -> Option<String> {
    (commands == 0 || commands > ALL_OR_NONE_COMMANDS_MAX)
        .then(|| format!("a group holds 1 to {ALL_OR_NONE_COMMANDS_MAX} commands, not {commands}"))
}

fn check_group_size(submissions: &[Submission]) -> Result<(), EngineError> {
    match group_size_refusal(submissions.len()) {
        Some(message) => Err(EngineError::InvalidInput {
            field: "commands".into(),
            message,
        }),
        None => Ok(()),
    }
}

/// A submission with its digest (SHA-256 of the command, actor, date and memo), which
/// needs no state: the caller's thread computes it before it queues, so that the
/// writer, which decides one command at a time, does not.
struct Submitted {
    submission: Submission,
    digest: [u8; 32],
}

impl Submitted {
    fn new(submission: Submission) -> Submitted {
        let s = &submission;
        let digest = digest_of(&s.command, &s.actor, s.effective_date, &s.memo);
        Submitted { submission, digest }
    }
}

/// What a job carries and how it is answered.
enum Work {
    /// Boxed: the queue holds jobs by value.
    One(
        Box<Submitted>,
        oneshot::Sender<Result<Accepted, EngineError>>,
    ),
    /// Recorded all together, in order, or not at all.
    All(
        Vec<Submitted>,
        oneshot::Sender<Result<Vec<Accepted>, GroupRefused>>,
    ),
}

impl Work {
    fn refuse(self, error: EngineError) {
        match self {
            Work::One(_, reply) => {
                let _ = reply.send(Err(error));
            }
            Work::All(_, reply) => {
                let _ = reply.send(Err(error.into()));
            }
        }
    }
}

struct Job {
    work: Work,
    authority: Authority,
}

/// What the writer's queue carries.
enum Message {
    Job(Job),
    /// A write or flush failed: the writer, perhaps waiting for a job, should start
    /// counting down to its first recovery attempt.
    Wake,
}

/// Whether the writer checks the actor's role and scope before the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Authority {
    /// A member of staff: `ledger_domain::authorize` must pass (HTTP, CLI).
    Staff,
    /// The operator of the ledger itself (bootstrap at `init`, the demo loader, tests):
    /// the actor is recorded as given and not checked against the users.
    Operator,
}

/// What the writer decided for one command, answered after its group is durable.
enum Decided {
    /// New events: the index of the batch in the group and the expected positions.
    Appended { batch: usize, first_position: u64 },
    /// Answered without appending (a retry, a rejection, a command with no events).
    Answer(Result<Accepted, EngineError>),
}

/// What the writer decided for one job.
enum DecidedJob {
    One(Decided, oneshot::Sender<Result<Accepted, EngineError>>),
    /// Every command accepted (each `Appended` or an `Answer(Ok)`), or the refusal;
    /// and how many commands the group held.
    All(
        Result<Vec<Decided>, GroupRefused>,
        oneshot::Sender<Result<Vec<Accepted>, GroupRefused>>,
        usize,
    ),
}

impl DecidedJob {
    /// The accepted commands' batches and expected first positions.
    fn appended(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        let decided: &[Decided] = match self {
            DecidedJob::One(d, _) => std::slice::from_ref(d),
            DecidedJob::All(Ok(all), ..) => all,
            DecidedJob::All(Err(_), ..) => &[],
        };
        decided.iter().filter_map(|d| match d {
            Decided::Appended {
                batch,
                first_position,
            } => Some((*batch, *first_position)),
            Decided::Answer(_) => None,
        })
    }

    /// The commands answered: a refused group's commands are all answered (refused).
    fn commands(&self) -> usize {
        match self {
            DecidedJob::One(..) => 1,
            DecidedJob::All(_, _, commands) => *commands,
        }
    }
}

/// One decided group on its way to the flusher.
struct Group<B: Backend> {
    /// The log the group was prepared on, which must commit it.
    log: Log<B>,
    prepared: PreparedGroup,
    decided: Vec<DecidedJob>,
    /// The domain envelopes of the group's events, for the read model (and for the
    /// writer, which may have to find a reversal's original here until it is durable).
    recorded: Arc<Vec<Recorded>>,
    /// The writer's number for this group.
    sequence: u64,
}

/// Shared between the threads and the handle.
struct Shared<B: Backend> {
    log: LogSlot<B>,
    algorithm: ledger_store::HashAlgorithm,
    clock: Arc<dyn Clock>,
    read: RwLock<Model>,
    /// Failed when a group failed after the writer had evolved its state with it.
    health: Health,
    /// How to open the log again after a failure; without it only a restart recovers.
    reopen: Option<Reopen<B>>,
    /// The sequence number of the last group the flusher finished successfully.
    finished_sequence: AtomicU64,
    /// The sequence number of the last group the flusher answered, with or without
    /// success, and dropped (with its handle to the log).
    settled_sequence: Mutex<u64>,
    settled: std::sync::Condvar,
    /// Wakes the writer when a group fails.
    wake: mpsc::WeakSender<Message>,
    /// Told about every committed group (metrics).
    observer: OnceLock<Arc<dyn GroupObserver>>,
}

impl<B: Backend> Shared<B> {
    /// Marks writes as refused after a failed group, and wakes the writer.
    fn fail(&self, cause: String) {
        if self.health.fail(cause) {
            if let Some(queue) = self.wake.upgrade() {
                // A full queue wakes the writer anyway.
                let _ = queue.try_send(Message::Wake);
            }
        }
    }

    /// The answer to a command while writes are refused, if they are.
    fn refusal(&self) -> Option<EngineError> {
        match self.health.status(self.reopen.is_some()) {
            WriteStatus::Available => None,
            WriteStatus::Unavailable {
                cause,
                recovering: false,
                ..
            } => Some(EngineError::Unavailable { cause }),
            WriteStatus::Unavailable {
                cause,
                recovering: true,
                last_attempt,
                retry_in,
                ..
            } => Some(EngineError::Recovering {
                cause: match last_attempt {
                    Some(why) => format!("{cause}; the last attempt to reopen: {why}"),
                    None => cause,
                },
                retry_after_ms: u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }

    /// The open log, or why there is none (a recovery has closed it).
    fn open_log(&self) -> Result<Log<B>, EngineError> {
        self.log.get().ok_or_else(|| {
            self.refusal().unwrap_or(EngineError::Unavailable {
                cause: "the log is closed".into(),
            })
        })
    }

    /// Records that the flusher has answered and dropped the group `sequence`.
    fn settle(&self, sequence: u64) {
        *self.settled_sequence.lock().expect("settled lock") = sequence;
        self.settled.notify_all();
    }

    /// Waits until the flusher has answered and dropped every group up to `sequence`.
    fn wait_settled(&self, sequence: u64) {
        let mut settled = self.settled_sequence.lock().expect("settled lock");
        while *settled < sequence {
            settled = self.settled.wait(settled).expect("settled lock");
        }
    }
}

/// What one group commit did, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitted {
    /// Commands answered by the group (accepted, rejected and retries).
    pub commands: usize,
    /// Events appended.
    pub events: usize,
    /// Time spent making the group durable and readable: the journal write, `fdatasync`
    /// and the in-memory index.
    pub commit: std::time::Duration,
}

/// Receives a [`GroupCommitted`] after every group is durable, on the flusher thread:
/// keep it cheap (update counters, never block).
pub trait GroupObserver: Send + Sync {
    fn group_committed(&self, group: GroupCommitted);
}

/// The ledger engine over a log. Dropping it stops the threads after the queue drains.
pub struct Engine<B: Backend> {
    shared: Arc<Shared<B>>,
    projections: Arc<projector::Hosted>,
    queue: Option<mpsc::Sender<Message>>,
    threads: Vec<JoinHandle<()>>,
}

impl<B: Backend> std::fmt::Debug for Engine<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("log", &self.shared.log.get())
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Engine<B> {
    /// Opens the engine: loads the model's snapshot (if any and usable), folds the
    /// log's tail into it, and starts the writer, flusher, storer and projector.
    pub fn open(log: Log<B>, clock: Arc<dyn Clock>) -> Result<Self, EngineError> {
        Self::open_with(log, clock, EngineOptions::default())
    }

    /// [`Engine::open`] with non-default options.
    pub fn open_with(
        log: Log<B>,
        clock: Arc<dyn Clock>,
        options: EngineOptions,
    ) -> Result<Self, EngineError> {
        Self::start(log, clock, options, None, None)
    }

    /// Opens the log in `backend` ([`Log::open`]) and the engine over it
    /// ([`Engine::open_with`]), the projections' checkpoints loading while the log
    /// opens (decision 0032).
    pub fn open_backend(
        backend: B,
        clock: Arc<dyn Clock>,
        options: EngineOptions,
    ) -> Result<Self, EngineError> {
        let (log, projections) =
            Log::open_alongside(backend, None, Arc::clone(&clock), Projections::load)?;
        Self::start(log, clock, options, None, Some(projections))
    }

    /// Opens the backend `open` gives and the engine over it, as
    /// [`Engine::open_backend`] does, except that the projections' checkpoints start
    /// loading from `snapshots` (the same data directory's: [`ledger_store::SnapshotFiles`])
    /// before the backend opens: sled's recovery and the journal's replay take one core,
    /// the loading the other (decision 0035). With `reopen`, the engine recovers as
    /// [`Engine::open_with_recovery`] does. If the backend or the log cannot be opened,
    /// that error is returned at once; the loading thread finishes on its own.
    pub fn open_loading_first<S: SnapshotSource + Send + Sync + 'static>(
        snapshots: S,
        open: impl FnOnce() -> Result<B, StoreError>,
        clock: Arc<dyn Clock>,
        options: EngineOptions,
        reopen: Option<Reopen<B>>,
    ) -> Result<Self, EngineError> {
        let loading = std::thread::Builder::new()
            .name("ledger-checkpoints".into())
            .spawn(move || Projections::load(&snapshots))
            .expect("spawning the thread that loads the checkpoints");
        let log = Log::open(open()?, None, Arc::clone(&clock))?;
        let projections = loading
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Self::start(log, clock, options, reopen, Some(projections))
    }

    /// [`Engine::open_with`], and after a failed write or flush (a full disk) the
    /// engine recovers by itself: once its storage takes writes again it drops the
    /// failed log and opens a new one with `reopen` (see [`recovery`]). Nobody else
    /// may keep a handle to the log (or, for sled, a clone of its database) for long,
    /// or the recovery waits for it.
    pub fn open_with_recovery(
        log: Log<B>,
        clock: Arc<dyn Clock>,
        options: EngineOptions,
        reopen: Reopen<B>,
    ) -> Result<Self, EngineError> {
        Self::start(log, clock, options, Some(reopen), None)
    }

    /// Starts the engine over `log`, with the projections loaded from their
    /// checkpoints while the log opened, or else loading them now.
    fn start(
        log: Log<B>,
        clock: Arc<dyn Clock>,
        options: EngineOptions,
        reopen: Option<Reopen<B>>,
        projections: Option<Projections>,
    ) -> Result<Self, EngineError> {
        let head = log.head().next_position;
        // A snapshot is only a shortcut: an unreadable one, or one from beyond the
        // durable head, is ignored and the log is replayed instead.
        let mut model = match log.load_snapshot::<Model>(MODEL_SNAPSHOT) {
            Ok(Some((position, model))) if position <= head && model.next_position == position => {
                model
            }
            _ => Model::default(),
        };
        // The tail folded here counts towards the next snapshot: after a crash it may
        // be long, and the open after the next one would fold it again.
        let snapshot_at = model.next_position;
        let mut projections = match projections {
            Some(projections) => projections,
            // Unless they loaded while the log opened, the projections' checkpoints
            // load while the model folds its tail: the load is mostly the kernel
            // handing out fresh pages, the fold mostly decoding.
            None => {
                let (projections, folded) = std::thread::scope(|scope| {
                    let projections = scope.spawn(|| Projections::load(log.backend()));
                    let folded = fold(&log, &mut model, head);
                    let projections = projections
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    (projections, folded)
                });
                folded?;
                projections
            }
        }
        .within(head);
        let checkpointed_at = projections.next_position();
        // After a crash both have a tail (the model's snapshot is more frequent than
        // the projections' checkpoints): one fold reads and decodes it once for both
        // (decision 0034). A model without a snapshot first folds alone up to the
        // projections' tail. A fault stops the shared fold; the model's own fold then
        // gives the error, or folds the rest if the fault lay before the model's tail,
        // and the projector goes on from where the projections stopped.
        if model.next_position < head && projector::catches_up_with_readers(checkpointed_at, head) {
            fold(&log, &mut model, checkpointed_at)?;
            let _ = projections.fold_on(&log, checkpointed_at, head, |page| {
                for record in page {
                    if record.recorded.position >= model.next_position {
                        model.apply(&record.recorded);
                    }
                }
            });
        }
        fold(&log, &mut model, head)?;
        let projections = Arc::new(projector::Hosted::new(projections));
        let (sender, receiver) = mpsc::channel(COMMAND_QUEUE_DEPTH_MAX);
        let shared = Arc::new(Shared {
            algorithm: log.algorithm(),
            log: LogSlot::new(log),
            clock,
            read: RwLock::new(model.clone()),
            health: Health::new(
                options.recovery_backoff_min_ms,
                options.recovery_backoff_max_ms,
            ),
            reopen,
            finished_sequence: AtomicU64::new(0),
            settled_sequence: Mutex::new(0),
            settled: std::sync::Condvar::new(),
            wake: sender.downgrade(),
            observer: OnceLock::new(),
        });
        let (group_sender, group_receiver) = std_mpsc::sync_channel::<Group<B>>(0);
        let writer = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("ledger-writer".into())
                .spawn(move || write_groups(&shared, model, receiver, &group_sender))
                .expect("spawning the writer thread")
        };
        let (store_sender, store_receiver) = std_mpsc::sync_channel::<()>(1);
        let flusher = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("ledger-flusher".into())
                .spawn(move || flush_groups(&shared, &group_receiver, &store_sender))
                .expect("spawning the flusher thread")
        };
        let storer = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("ledger-storer".into())
                .spawn(move || store_groups(&shared, &store_receiver, snapshot_at, options))
                .expect("spawning the storer thread")
        };
        let projector_thread = {
            let shared = Arc::clone(&shared);
            let hosted = Arc::clone(&projections);
            std::thread::Builder::new()
                .name("ledger-projector".into())
                .spawn(move || {
                    projector::run(&shared.log, &hosted, options, checkpointed_at);
                })
                .expect("spawning the projector thread")
        };
        Ok(Engine {
            shared,
            projections,
            queue: Some(sender),
            threads: vec![writer, flusher, storer, projector_thread],
        })
    }

    /// A handle to the log underneath, for one operation: drop it when done (a
    /// recovery waits for every handle to the failed log to be dropped). An error
    /// while a recovery has closed the log.
    pub fn log(&self) -> Result<Log<B>, EngineError> {
        self.shared.open_log()
    }

    /// The durable end of the log (while a recovery has closed the log: the end it
    /// had when it was closed).
    pub fn head(&self) -> Head {
        match self.shared.log.get() {
            Some(log) => log.head(),
            None => self.shared.health.closed_at().unwrap_or(Head {
                next_position: self.read(Model::next_position),
                hash: ledger_store::GENESIS_HASH,
            }),
        }
    }

    /// The ledger's hash algorithm.
    pub fn algorithm(&self) -> ledger_store::HashAlgorithm {
        self.shared.algorithm
    }

    /// Where a durable command's events are (its first position and event count);
    /// `None` also while a recovery has closed the log.
    pub fn command_span(&self, command_id: &ledger_store::CommandId) -> Option<(u64, u32)> {
        self.shared.log.get()?.command_span(command_id)
    }

    /// Whether the engine takes writes; if not, why, and how its recovery is going.
    pub fn write_status(&self) -> WriteStatus {
        self.shared.health.status(self.shared.reopen.is_some())
    }

    /// How many times the engine has reopened its log after a failure since it was
    /// opened.
    pub fn recoveries(&self) -> u64 {
        self.shared.health.recoveries()
    }

    /// Submits a command as the ledger's operator (bootstrap, demo data, tests): the
    /// rules apply but the actor's role is not checked. Waits until the command is
    /// decided and, if accepted, durable. Must not be called from inside an async
    /// runtime: use [`Engine::submit_async`].
    pub fn submit(&self, submission: Submission) -> Result<Accepted, EngineError> {
        self.enqueue_blocking(submission, Authority::Operator)
    }

    /// Submits a command as the member of staff named by its actor: the writer first
    /// checks that the actor is an active user whose role and unit scope allow the
    /// command (`ledger_domain::authorize`), then the rules. Blocking, like `submit`.
    pub fn submit_checked(&self, submission: Submission) -> Result<Accepted, EngineError> {
        self.enqueue_blocking(submission, Authority::Staff)
    }

    /// `submit`, resolving when the command is decided and, if accepted, durable.
    pub async fn submit_async(&self, submission: Submission) -> Result<Accepted, EngineError> {
        self.enqueue(submission, Authority::Operator).await
    }

    /// `submit_checked` for async callers (the HTTP server).
    pub async fn submit_checked_async(
        &self,
        submission: Submission,
    ) -> Result<Accepted, EngineError> {
        self.enqueue(submission, Authority::Staff).await
    }

    /// Submits several commands as the members of staff named by their actors, to be
    /// recorded all together, in order, in one durable group, or not at all: the writer
    /// decides each against the state the earlier ones left (as `submit_checked`), and
    /// if any is refused it forgets the others' events and answers with the refusal
    /// and the command's index. Commands already recorded under their ids count as
    /// accepted with their original positions (`duplicate`), so a resubmission of the
    /// same group is answered as before. At most [`ALL_OR_NONE_COMMANDS_MAX`] commands.
    pub async fn submit_all_checked_async(
        &self,
        submissions: Vec<Submission>,
    ) -> Result<Vec<Accepted>, GroupRefused> {
        check_group_size(&submissions)?;
        let (reply, answer) = oneshot::channel();
        let submitted = submissions.into_iter().map(Submitted::new).collect();
        self.send(Work::All(submitted, reply), Authority::Staff)
            .await?;
        answer
            .await
            .map_err(|_| EngineError::from(StoreError::ShutDown))?
    }

    /// `submit_all_checked_async` for callers outside an async runtime.
    pub fn submit_all_checked(
        &self,
        submissions: Vec<Submission>,
    ) -> Result<Vec<Accepted>, GroupRefused> {
        check_group_size(&submissions)?;
        let (reply, answer) = oneshot::channel();
        let submitted = submissions.into_iter().map(Submitted::new).collect();
        self.send_blocking(Work::All(submitted, reply), Authority::Staff)?;
        answer
            .blocking_recv()
            .map_err(|_| EngineError::from(StoreError::ShutDown))?
    }

    fn enqueue_blocking(
        &self,
        submission: Submission,
        authority: Authority,
    ) -> Result<Accepted, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.send_blocking(
            Work::One(Box::new(Submitted::new(submission)), reply),
            authority,
        )?;
        answer.blocking_recv().map_err(|_| StoreError::ShutDown)?
    }

    fn send_blocking(&self, work: Work, authority: Authority) -> Result<(), EngineError> {
        let queue = self.queue.as_ref().ok_or(StoreError::ShutDown)?;
        queue
            .blocking_send(Message::Job(Job { work, authority }))
            .map_err(|_| StoreError::ShutDown)?;
        Ok(())
    }

    async fn enqueue(
        &self,
        submission: Submission,
        authority: Authority,
    ) -> Result<Accepted, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.send(
            Work::One(Box::new(Submitted::new(submission)), reply),
            authority,
        )
        .await?;
        answer.await.map_err(|_| StoreError::ShutDown)?
    }

    async fn send(&self, work: Work, authority: Authority) -> Result<(), EngineError> {
        let queue = self.queue.as_ref().ok_or(StoreError::ShutDown)?;
        queue
            .send(Message::Job(Job { work, authority }))
            .await
            .map_err(|_| StoreError::ShutDown)?;
        Ok(())
    }

    /// Commands waiting in the writer's queue.
    pub fn queue_depth(&self) -> usize {
        self.queue
            .as_ref()
            .map_or(0, |q| q.max_capacity() - q.capacity())
    }

    /// Sets the observer told about every committed group (once; later calls are
    /// ignored and return false).
    pub fn set_observer(&self, observer: Arc<dyn GroupObserver>) -> bool {
        self.shared.observer.set(observer).is_ok()
    }

    /// Reads the committed model: everything durable, never part of a group.
    pub fn read<R>(&self, query: impl FnOnce(&Model) -> R) -> R {
        query(&self.shared.read.read().expect("read model lock poisoned"))
    }

    /// The model as it was after the first `position` events: a fold of the log.
    pub fn model_at_position(&self, position: u64) -> Result<Model, EngineError> {
        let log = self.log()?;
        let head = log.head().next_position;
        let mut model = Model::default();
        fold(&log, &mut model, position.min(head))?;
        Ok(model)
    }

    /// Writes a snapshot of the committed model and a checkpoint of the store's
    /// indexes now (both are also written every [`SNAPSHOT_INTERVAL_EVENTS`] events),
    /// so that the next open decodes and folds only the tail.
    pub fn save_snapshot(&self) -> Result<u64, EngineError> {
        let log = self.log()?;
        let model = self.shared.read.read().expect("read model lock").clone();
        save_model(&log, &model)?;
        log.save_index_checkpoint()?;
        Ok(model.next_position)
    }

    /// Reads the projections as they are now (they follow the log closely; use
    /// [`Engine::projections_after`] to read your own writes).
    pub fn projections<R>(&self, query: impl FnOnce(&Projections) -> R) -> R {
        query(
            &self
                .projections
                .projections
                .read()
                .expect("projections lock"),
        )
    }

    /// Reads the projections once they include every event before `position` (for
    /// example `first_position + count` of an accepted command).
    pub fn projections_after<R>(
        &self,
        position: u64,
        timeout: std::time::Duration,
        query: impl FnOnce(&Projections) -> R,
    ) -> Result<R, EngineError> {
        if !self.projections.wait_for(position, timeout) {
            let cause = match self
                .projections
                .failure
                .lock()
                .expect("projector lock")
                .clone()
            {
                Some(failure) => format!("reading the log failed: {failure}"),
                None => format!("they did not get there in {timeout:?}"),
            };
            return Err(EngineError::ReadModelBehind { position, cause });
        }
        Ok(self.projections(query))
    }

    /// Every projection rebuilt from position 0 up to `position`: a rebuild, and the
    /// answer to "as of log position N".
    pub fn projections_at_position(&self, position: u64) -> Result<Projections, EngineError> {
        let log = self.log()?;
        let head = log.head().next_position;
        Projections::fold(&log, position.min(head))
    }

    /// Checkpoints every projection now.
    pub fn checkpoint_projections(&self) -> Result<(), EngineError> {
        let log = self.log()?;
        self.projections
            .projections
            .read()
            .expect("projections lock")
            .save(&log)
    }

    /// Stops taking commands, finishes the queued ones and joins the threads.
    pub fn shutdown(&mut self) {
        self.queue.take();
        self.projections
            .stop
            .store(true, std::sync::atomic::Ordering::Release);
        // The writer, the flusher and the storer end when the queue closes (in that
        // order, each when the one before has gone); the projector may be
        // waiting for new events: wake it once they have finished.
        let mut threads: Vec<_> = self.threads.drain(..).collect();
        let projector = threads.pop();
        for thread in threads {
            // A thread that panicked has already failed its callers.
            let _ = thread.join();
        }
        if let Some(log) = self.shared.log.get() {
            log.wake_subscribers();
        }
        if let Some(thread) = projector {
            let _ = thread.join();
        }
    }
}

impl<B: Backend> Drop for Engine<B> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The audit trail and the fund statement read the records of the page they answer,
/// and where a command's events are, from the log rather than keeping copies
/// (decisions 0022 and 0023).
impl<B: Backend> ledger_projections::LogRecords for Engine<B> {
    fn record(&self, position: u64) -> Result<Option<ledger_projections::EventRecord>, String> {
        let log = self.log().map_err(|e| e.to_string())?;
        let records = log.read_all(position, 1).map_err(|e| e.to_string())?;
        records
            .iter()
            .find(|r| r.position == position)
            .map(|r| event_record(&r.view()).map_err(|e| e.to_string()))
            .transpose()
    }

    fn command_events(&self, command_id: &str) -> Result<Option<(u64, u32)>, String> {
        // A text that is not a valid command id names no command.
        Ok(ledger_store::CommandId::new(command_id)
            .ok()
            .and_then(|id| self.command_span(&id)))
    }
}

/// The domain's view of a stored event: its envelope and the decoded event.
pub fn recorded_event(record: &ledger_store::RecordedEvent) -> Result<Recorded, EngineError> {
    let view = record.view();
    let payload = model::decode_payload(&view)?;
    model::recorded_of(&view, payload.event)
}

/// A stored event read in place ([`Log::read_views`]) as the projections take it: what
/// a rebuild feeds them. The same decoding as [`recorded_event`] on the owned record,
/// plus the memo and the chain hash.
pub fn event_record(
    record: &ledger_store::RecordView<'_>,
) -> Result<ledger_projections::EventRecord, EngineError> {
    projector::event_record(record, &mut projector::Decoding::default())
}

/// Folds the log's events from `model.next_position` up to `end` into `model`.
fn fold<B: Backend>(log: &Log<B>, model: &mut Model, end: u64) -> Result<(), EngineError> {
    let start = model.next_position;
    fold_log(
        log,
        start,
        end,
        || {
            let mut actor = None;
            move |record: &ledger_store::RecordView<'_>| {
                let payload = model::decode_payload(record)?;
                model::recorded_sharing(record, payload.event, &mut actor)
            }
        },
        |page: &mut Vec<Recorded>| page.iter().for_each(|recorded| model.apply(recorded)),
    )
}

/// Reads the log's events in `from..end` page by page, decodes each record straight
/// from the stored bytes (a [`ledger_store::RecordView`]: no owned copy of the envelope
/// is made) with a decoder from `decoder`, and hands each page to `apply`, in order.
///
/// Reading and decoding take about as long as applying, so [`FOLD_READERS`] threads
/// read and decode alternate pages (each with its own decoder), a page or two ahead of
/// `apply`, which takes the pages in order. `apply` gets the page's buffer, which it may
/// lend to another thread while it applies the page, as long as it puts it back before
/// it returns. The page buffers go back to their reader once applied and are refilled
/// there (so the decoded values are also freed by the thread that allocated them): a
/// rebuild allocates a few pages once instead of a fresh multi-megabyte buffer per
/// page, whose page faults cost more than the decoding.
///
/// What a fold checks: every record as [`Log::read_views`] does (it decodes with every
/// check of docs/FORMAT.md §3, is stored at its position, none is missing up to the
/// durable head) and its payload as the decoder does. It does not rehash the chain:
/// that is `Log::verify`'s job (and `Log::open` checks the tail's hashes).
pub(crate) fn fold_log<B: Backend, T: Send, D>(
    log: &Log<B>,
    from: u64,
    end: u64,
    decoder: impl Fn() -> D + Sync,
    mut apply: impl FnMut(&mut Vec<T>),
) -> Result<(), EngineError>
where
    D: PageDecoder<T>,
{
    let page_events = u64::try_from(READ_PAGE_EVENTS_MAX).expect("a page count fits u64");
    let mut readers = Vec::with_capacity(FOLD_READERS);
    let decoder = &decoder;
    // `move`: the receivers are dropped when this closure returns (also on an error),
    // before the scope joins the readers, so a reader blocked on a full channel ends.
    std::thread::scope(move |scope| {
        for reader in 0..FOLD_READERS {
            let (pages, decoded) =
                std_mpsc::sync_channel::<Result<Vec<T>, EngineError>>(FOLD_PAGES_AHEAD);
            let (spent, spares) = std_mpsc::channel::<Vec<T>>();
            readers.push((decoded, spent));
            scope.spawn(move || {
                let mut decode = decoder();
                // Pages reader, reader + FOLD_READERS, ... of `from..end`.
                let mut page_start = from.saturating_add(page_events * reader as u64);
                while page_start < end {
                    let wanted = usize::try_from((end - page_start).min(page_events))
                        .expect("bounded by a page");
                    let mut page = spares
                        .try_recv()
                        .unwrap_or_else(|_| Vec::with_capacity(READ_PAGE_EVENTS_MAX));
                    page.clear();
                    let mut failure = None;
                    let read = log.read_views(page_start, wanted, &mut |view| match decode
                        .decode(&view)
                    {
                        Ok(item) => {
                            page.push(item);
                            Ok(())
                        }
                        Err(e) => {
                            let what = e.to_string();
                            failure = Some(e);
                            Err(what)
                        }
                    });
                    let page = match (read, failure) {
                        (_, Some(e)) => Err(e),
                        (Err(e), None) => Err(EngineError::from(e)),
                        (Ok(_), None) => {
                            decode.finish(&mut page);
                            Ok(page)
                        }
                    };
                    // A short page is the log's end; an error ends the fold.
                    let stop = !matches!(&page, Ok(page) if page.len() == wanted);
                    // The applying side stops reading on an error; a closed channel
                    // ends this too.
                    if pages.send(page).is_err() || stop {
                        break;
                    }
                    page_start = page_start.saturating_add(page_events * FOLD_READERS as u64);
                }
            });
        }
        let mut next = from;
        let mut turn = 0;
        while next < end {
            let (decoded, spent) = &readers[turn % FOLD_READERS];
            turn += 1;
            let Ok(page) = decoded.recv() else {
                break;
            };
            let mut page = page?;
            let full = page.len() as u64 == (end - next).min(page_events);
            next += page.len() as u64;
            apply(&mut page);
            // The reader may have finished: then the buffer is simply dropped.
            let _ = spent.send(page);
            if !full {
                break;
            }
        }
        Ok(())
    })
}

/// How a reader thread of [`fold_log`] decodes: each record, then each page whole.
pub(crate) trait PageDecoder<T> {
    /// The record's value, or why it cannot be decoded.
    fn decode(&mut self, record: &ledger_store::RecordView<'_>) -> Result<T, EngineError>;

    /// Finishes a page whose records all decoded, before it is applied.
    fn finish(&mut self, _page: &mut [T]) {}
}

/// A closure decodes each record, and a page needs nothing more.
impl<T, F> PageDecoder<T> for F
where
    F: FnMut(&ledger_store::RecordView<'_>) -> Result<T, EngineError>,
{
    fn decode(&mut self, record: &ledger_store::RecordView<'_>) -> Result<T, EngineError> {
        self(record)
    }
}

/// Threads that read and decode alternate pages of a fold.
const FOLD_READERS: usize = 2;

/// Pages the decoding thread of a fold may run ahead.
const FOLD_PAGES_AHEAD: usize = 2;

/// The writer's own state: the model with every decided command folded in, and the
/// commands and events of groups not yet durable (the store has the durable ones).
struct Writer {
    model: Model,
    in_flight: HashMap<String, (u64, CommandEntry)>,
    /// The events of groups not yet durable, by group sequence number, oldest first.
    in_flight_events: VecDeque<(u64, Arc<Vec<Recorded>>)>,
    sequence: u64,
}

fn write_groups<B: Backend>(
    shared: &Shared<B>,
    model: Model,
    mut queue: mpsc::Receiver<Message>,
    groups: &std_mpsc::SyncSender<Group<B>>,
) {
    let mut writer = Writer {
        model,
        in_flight: HashMap::new(),
        in_flight_events: VecDeque::new(),
        sequence: 0,
    };
    loop {
        let first = match receive(shared, &mut queue) {
            Received::Closed => break,
            Received::RecoveryDue => {
                recover(shared, &mut writer);
                continue;
            }
            Received::Job(job) => job,
        };
        let mut jobs = vec![first];
        while jobs.len() < GROUP_COMMANDS_MAX {
            match queue.try_recv() {
                Ok(Message::Job(job)) => jobs.push(job),
                Ok(Message::Wake) => {}
                Err(_) => break,
            }
        }
        let log = match shared.refusal() {
            None => shared.log.get(),
            Some(_) => None,
        };
        let Some(log) = log else {
            for job in jobs {
                let refusal = shared.refusal().unwrap_or(EngineError::Unavailable {
                    cause: "the log is closed".into(),
                });
                job.work.refuse(refusal);
            }
            continue;
        };
        let finished = shared.finished_sequence.load(Ordering::Acquire);
        writer
            .in_flight
            .retain(|_, (sequence, _)| *sequence > finished);
        writer
            .in_flight_events
            .retain(|(sequence, _)| *sequence > finished);
        writer.sequence += 1;
        let group = decide_group(shared, log, &mut writer, jobs);
        writer
            .in_flight_events
            .push_back((group.sequence, Arc::clone(&group.recorded)));
        if let Err(std_mpsc::SendError(group)) = groups.send(group) {
            // The flusher is gone: commit here so that no prepared group is left behind.
            let sequence = group.sequence;
            finish_group(shared, group);
            shared.settle(sequence);
        }
    }
}

/// What the writer waits for.
enum Received {
    Job(Job),
    /// Writes are refused and the next recovery attempt is due.
    RecoveryDue,
    /// The engine is shutting down.
    Closed,
}

/// The next job; while writes are refused and a recovery is possible, also the
/// moment of the next recovery attempt (the queue is then polled).
fn receive<B: Backend>(shared: &Shared<B>, queue: &mut mpsc::Receiver<Message>) -> Received {
    loop {
        let due = match &shared.reopen {
            Some(_) => shared.health.next_attempt(),
            None => None,
        };
        let message = match due {
            None => queue.blocking_recv(),
            Some(due) => {
                let now = std::time::Instant::now();
                if now >= due {
                    return Received::RecoveryDue;
                }
                match queue.try_recv() {
                    Ok(message) => Some(message),
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        std::thread::sleep(
                            (due - now)
                                .min(std::time::Duration::from_millis(recovery::RECOVERY_POLL_MS)),
                        );
                        continue;
                    }
                }
            }
        };
        match message {
            None => return Received::Closed,
            Some(Message::Job(job)) => return Received::Job(job),
            // A group failed: look at the clock again.
            Some(Message::Wake) => {}
        }
    }
}

/// One attempt to recover from a failed write or flush by reopening the log; on
/// failure the next attempt waits longer. See [`recovery`].
fn recover<B: Backend>(shared: &Shared<B>, writer: &mut Writer) {
    let Some(reopen) = &shared.reopen else {
        return;
    };
    // Every group prepared on the failed log has been answered and dropped.
    shared.wait_settled(writer.sequence);
    match reopen_log(shared, reopen, writer) {
        Ok(()) => shared.health.recovered(),
        Err(why) => shared.health.attempt_failed(why),
    }
}

fn reopen_log<B: Backend>(
    shared: &Shared<B>,
    reopen: &Reopen<B>,
    writer: &mut Writer,
) -> Result<(), String> {
    if let Some(failed) = shared.log.get() {
        // Closing a log that could not be reopened yet would leave no log to read
        // from: first make sure the storage takes writes again.
        failed
            .backend()
            .probe_writable()
            .map_err(|e| format!("the storage still refuses writes: {e}"))?;
        let durable = failed.head();
        drop(failed);
        shared.health.set_closed_at(durable);
        shared.log.close(std::time::Duration::from_millis(
            recovery::LOG_CLOSE_WAIT_MS,
        ))?;
    }
    let durable = shared
        .health
        .closed_at()
        .expect("the failed log's head is kept when it is closed");
    let log = reopen().map_err(|e| format!("reopening the log: {e}"))?;
    recovery::check_extends(&log, durable)?;
    // The committed read model holds exactly the durable groups; a group whose flush
    // reported failure may have reached the disk all the same, so fold the tail.
    let mut model = shared.read.read().expect("read model lock").clone();
    fold(&log, &mut model, log.head().next_position)
        .map_err(|e| format!("folding the reopened log's tail: {e}"))?;
    *shared.read.write().expect("read model lock") = model.clone();
    writer.model = model;
    writer.in_flight.clear();
    writer.in_flight_events.clear();
    shared
        .finished_sequence
        .store(writer.sequence, Ordering::Release);
    shared.log.install(log);
    Ok(())
}

/// Decides every job of a group against the writer's model, evolving it as it goes
/// so that later commands see earlier ones, and prepares the accepted events.
fn decide_group<B: Backend>(
    shared: &Shared<B>,
    log: Log<B>,
    writer: &mut Writer,
    jobs: Vec<Job>,
) -> Group<B> {
    let mut deciding = Deciding {
        log: &log,
        recorded_at: model::datetime_of_ms(shared.clock.now_ms()),
        batches: Vec::new(),
        recorded: Vec::new(),
    };
    let mut decided = Vec::with_capacity(jobs.len());
    for job in jobs {
        let authority = job.authority;
        decided.push(match job.work {
            Work::One(s, reply) => {
                let d = deciding
                    .decide(writer, *s, authority)
                    .unwrap_or_else(|e| Decided::Answer(Err(e)));
                DecidedJob::One(d, reply)
            }
            Work::All(submissions, reply) => {
                let commands = submissions.len();
                DecidedJob::All(
                    deciding.decide_all(writer, submissions, authority),
                    reply,
                    commands,
                )
            }
        });
    }
    let Deciding {
        batches, recorded, ..
    } = deciding;
    Group {
        prepared: log.prepare_group(batches),
        log,
        decided,
        recorded: Arc::new(recorded),
        sequence: writer.sequence,
    }
}

/// A group being decided: the batches to append and their domain envelopes.
struct Deciding<'a, B: Backend> {
    log: &'a Log<B>,
    recorded_at: NaiveDateTime,
    batches: Vec<AppendBatch>,
    recorded: Vec<Recorded>,
}

impl<B: Backend> Deciding<'_, B> {
    /// Decides one command; if accepted, evolves the writer's model and adds its batch.
    fn decide(
        &mut self,
        writer: &mut Writer,
        submitted: Submitted,
        authority: Authority,
    ) -> Result<Decided, EngineError> {
        let log = self.log;
        let Submitted {
            submission: s,
            digest,
        } = submitted;
        let (command_id, actor, memo) = log_names(&s.command_id, &s.actor, &s.memo)?;
        if let Some(entry) = earlier_command(log, &writer.in_flight, &command_id)? {
            return if entry.digest == digest {
                Ok(Decided::Answer(Ok(Accepted {
                    first_position: entry.first_position,
                    count: entry.count,
                    duplicate: true,
                })))
            } else {
                Err(EngineError::CommandIdConflict {
                    command_id: s.command_id.clone(),
                    first_position: entry.first_position,
                })
            };
        }
        let model = &mut writer.model;
        let context = CommandContext {
            actor: s.actor.clone(),
            effective_date: s.effective_date,
            recorded_at: self.recorded_at,
            command_id: s.command_id.clone(),
        };
        // The state keeps no reversal records: a reversal's original is read back.
        let original = match &s.command {
            Command::ReverseEvent { position, .. } if model.state.is_reversible(*position) => Some(
                original_event(log, &writer.in_flight_events, &self.recorded, *position)?,
            ),
            _ => None,
        };
        let reversal_record = |_| original.as_ref().and_then(Event::reversible);
        if authority == Authority::Staff {
            authorize_with(&model.state, &s.actor, &s.command, &reversal_record)?;
        }
        let events = decide_with(&model.state, &s.command, &context, &reversal_record)?;
        if events.is_empty() {
            return Ok(Decided::Answer(Ok(Accepted {
                first_position: model.next_position,
                count: 0,
                duplicate: false,
            })));
        }
        let first_position = model.next_position;
        let count = u32::try_from(events.len()).expect("a command yields few events");
        let batch_events = new_events(&events, digest, &actor, s.effective_date, &memo);
        for (i, event) in events.into_iter().enumerate() {
            let envelope = Recorded {
                position: first_position + i as u64,
                command_id: ledger_domain::SmolStr::new(&s.command_id),
                actor: s.actor.clone(),
                effective_date: s.effective_date,
                recorded_at: self.recorded_at,
                event,
            };
            ledger_domain::evolve(&mut model.state, &envelope);
            self.recorded.push(envelope);
        }
        model.next_position += u64::from(count);
        let entry = CommandEntry {
            digest,
            first_position,
            count,
        };
        writer
            .in_flight
            .insert(s.command_id, (writer.sequence, entry));
        self.batches.push(AppendBatch {
            command_id,
            events: batch_events,
        });
        Ok(Decided::Appended {
            batch: self.batches.len() - 1,
            first_position,
        })
    }

    /// Decides commands in order, all or none: on the first refusal the model, the
    /// group's batches and the in-flight command ids are put back as they were.
    fn decide_all(
        &mut self,
        writer: &mut Writer,
        submissions: Vec<Submitted>,
        authority: Authority,
    ) -> Result<Vec<Decided>, GroupRefused> {
        // A copy of the state is the undo: groups are rare (a form with several tiers).
        let before = writer.model.clone();
        let (batches, recorded) = (self.batches.len(), self.recorded.len());
        let mut all = Vec::with_capacity(submissions.len());
        let mut appended = Vec::new();
        for (i, submitted) in submissions.into_iter().enumerate() {
            let command_id = submitted.submission.command_id.clone();
            match self.decide(writer, submitted, authority) {
                Ok(d) => {
                    if matches!(d, Decided::Appended { .. }) {
                        appended.push(command_id);
                    }
                    all.push(d);
                }
                Err(error) => {
                    for command_id in &appended {
                        writer.in_flight.remove(command_id);
                    }
                    writer.model = before;
                    self.batches.truncate(batches);
                    self.recorded.truncate(recorded);
                    return Err(GroupRefused {
                        command: Some(i),
                        error,
                    });
                }
            }
        }
        Ok(all)
    }
}

/// The event at `position`, which the writer's model has evolved: in the group being
/// decided, in a group not yet durable, or in the log.
fn original_event<B: Backend>(
    log: &Log<B>,
    in_flight_events: &VecDeque<(u64, Arc<Vec<Recorded>>)>,
    deciding: &[Recorded],
    position: u64,
) -> Result<Event, EngineError> {
    let in_memory = std::iter::once(deciding)
        .chain(
            in_flight_events
                .iter()
                .rev()
                .map(|(_, group)| group.as_slice()),
        )
        .find_map(|group| {
            let i = group.binary_search_by_key(&position, |r| r.position).ok()?;
            Some(group[i].event.clone())
        });
    if let Some(event) = in_memory {
        return Ok(event);
    }
    let record = log
        .read_all(position, 1)?
        .pop()
        .filter(|r| r.position == position)
        .ok_or_else(|| {
            EngineError::corrupt(
                position,
                "a money event of the model is not in the log".into(),
            )
        })?;
    Ok(model::decode_payload(&record.view())?.event)
}

/// The command already accepted under `command_id`, if any: in a group not yet
/// durable, or in the log (its digest is in its first event's payload).
fn earlier_command<B: Backend>(
    log: &Log<B>,
    in_flight: &HashMap<String, (u64, CommandEntry)>,
    command_id: &ledger_store::CommandId,
) -> Result<Option<CommandEntry>, EngineError> {
    if let Some((_, entry)) = in_flight.get(command_id.as_str()) {
        return Ok(Some(*entry));
    }
    let Some((first_position, count)) = log.command_span(command_id) else {
        return Ok(None);
    };
    let record = log.read_all(first_position, 1)?.pop().ok_or_else(|| {
        EngineError::corrupt(first_position, "a command's first event is missing".into())
    })?;
    let digest = model::decode_payload(&record.view())?
        .digest
        .ok_or_else(|| {
            EngineError::corrupt(
                first_position,
                "a command's first event carries no digest".into(),
            )
        })?;
    Ok(Some(CommandEntry {
        digest,
        first_position,
        count,
    }))
}

fn flush_groups<B: Backend>(
    shared: &Shared<B>,
    groups: &std_mpsc::Receiver<Group<B>>,
    stored: &std_mpsc::SyncSender<()>,
) {
    while let Ok(group) = groups.recv() {
        let sequence = group.sequence;
        finish_group(shared, group);
        shared.settle(sequence);
        // The callers have their answers: the backend's deferred work is the storer's.
        // A full channel means a wake is already waiting for it.
        let _ = stored.try_send(());
    }
}

/// The work a group leaves once its callers have their answers, on a thread of its
/// own so that the flusher takes the next group at once (decision 0024): the backend's
/// deferred work (sled's inserts, decision 0019) and, every so many events, a snapshot
/// of the committed model. A failure to store fails the next flush and every read,
/// which report it; a snapshot is a shortcut for the next open, and failing to write
/// one loses nothing, so neither is an error of any command. `last_snapshot` is the
/// position of the snapshot the engine opened from (0 without one).
fn store_groups<B: Backend>(
    shared: &Shared<B>,
    wakes: &std_mpsc::Receiver<()>,
    mut last_snapshot: u64,
    options: EngineOptions,
) {
    while wakes.recv().is_ok() {
        // Let a few groups gather (decision 0027): nobody waits for this work.
        std::thread::sleep(projector::FOLLOWER_GATHER);
        let _ = wakes.try_recv();
        // Taken for this round only: a recovery waits for every handle to a failed log.
        let Some(log) = shared.log.get() else {
            continue;
        };
        let _ = log.store_durable();
        let position = shared.read.read().expect("read model lock").next_position;
        if position.saturating_sub(last_snapshot) >= options.snapshot_interval_events {
            let model = shared.read.read().expect("read model lock").clone();
            if save_model(&log, &model).is_ok() {
                last_snapshot = position;
            }
        }
    }
    // The flusher has gone, so the read model holds every committed group: a clean
    // shutdown snapshots a long tail, as the projector checkpoints its own.
    let model = shared.read.read().expect("read model lock").clone();
    if options.checkpoint_due_at_shutdown(last_snapshot, model.next_position) {
        if let Some(log) = shared.log.get() {
            let _ = save_model(&log, &model);
        }
    }
}

/// Makes a decided group durable, publishes it to the read model and answers.
fn finish_group<B: Backend>(shared: &Shared<B>, group: Group<B>) {
    let started = std::time::Instant::now();
    let results = group.log.commit_prepared(group.prepared);
    if let Some(observer) = shared.observer.get() {
        observer.group_committed(GroupCommitted {
            commands: group.decided.iter().map(DecidedJob::commands).sum(),
            events: group.recorded.len(),
            commit: started.elapsed(),
        });
    }
    let failure = results.iter().find_map(|r| match r {
        Err(e) => Some(e.to_string()),
        Ok(a) if a.duplicate => Some("the log treated a new command as a retry".to_string()),
        Ok(_) => None,
    });
    // Positions must be exactly those the writer predicted when it evolved its state.
    let misplaced = group
        .decided
        .iter()
        .flat_map(DecidedJob::appended)
        .find_map(|(batch, first_position)| match &results[batch] {
            Ok(a) if a.first_position != first_position => Some(format!(
                "the log placed a command at {} but the writer expected {first_position}",
                a.first_position
            )),
            _ => None,
        });
    if let Some(cause) = failure.or(misplaced) {
        shared.fail(cause.clone());
        // The outcome is unknown until the log is reopened: the caller retries with
        // the same command id, which settles it exactly once.
        let unknown = || {
            shared.refusal().unwrap_or(EngineError::Unavailable {
                cause: cause.clone(),
            })
        };
        for decided in group.decided {
            match decided {
                DecidedJob::One(Decided::Answer(Err(e)), reply) => {
                    let _ = reply.send(Err(e));
                }
                DecidedJob::One(_, reply) => {
                    let _ = reply.send(Err(unknown()));
                }
                DecidedJob::All(Err(refused), reply, _) => {
                    let _ = reply.send(Err(refused));
                }
                DecidedJob::All(Ok(_), reply, _) => {
                    let _ = reply.send(Err(unknown().into()));
                }
            }
        }
        return;
    }
    {
        let mut read = shared.read.write().expect("read model lock");
        for envelope in group.recorded.iter() {
            ledger_domain::evolve(&mut read.state, envelope);
            read.next_position = envelope.position + 1;
        }
    }
    shared
        .finished_sequence
        .store(group.sequence, Ordering::Release);
    let answer = |decided: Decided| match decided {
        Decided::Answer(answer) => answer,
        Decided::Appended { batch, .. } => match &results[batch] {
            Ok(a) => Ok(Accepted {
                first_position: a.first_position,
                count: a.count,
                duplicate: false,
            }),
            Err(_) => unreachable!("failures are answered above"),
        },
    };
    for decided in group.decided {
        match decided {
            DecidedJob::One(decided, reply) => {
                let _ = reply.send(answer(decided));
            }
            DecidedJob::All(all, reply, _) => {
                let all = all.map(|all| {
                    all.into_iter()
                        .map(|d| answer(d).expect("a group holds only accepted commands"))
                        .collect()
                });
                let _ = reply.send(all);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use ledger_store::{
        Actor, AppendBatch, CommandId, EventType, ExpectedVersion, FixedClock, HashAlgorithm, Memo,
        MemoryBackend, NewEvent, StreamName,
    };

    #[test]
    fn checkpoints_are_spaced_in_proportion_to_the_ledger() {
        let options = EngineOptions::default();
        let million = SNAPSHOT_INTERVAL_EVENTS;
        // A small ledger: every million events.
        assert!(!options.checkpoint_due(0, million - 1));
        assert!(options.checkpoint_due(0, million));
        assert!(options.checkpoint_due(3 * million, 4 * million));
        // Past four million, a quarter of what the last checkpoint held.
        assert!(!options.checkpoint_due(10 * million, 12 * million));
        assert!(options.checkpoint_due(10 * million, 12 * million + million / 2));
        // Spacing by the interval alone.
        let fixed = EngineOptions {
            checkpoint_spacing_divisor: 0,
            ..options
        };
        assert!(fixed.checkpoint_due(10 * million, 11 * million));
        let small = EngineOptions {
            snapshot_interval_events: 50,
            ..options
        };
        assert!(small.checkpoint_due(100, 150));
        assert!(!small.checkpoint_due(400, 450));
        assert!(small.checkpoint_due(400, 500));
        // A clean shutdown checkpoints a tail of a tenth of the interval or more.
        assert!(options.checkpoint_due_at_shutdown(5 * million, 5 * million + million / 10));
        assert!(!options.checkpoint_due_at_shutdown(5 * million, 5 * million + 99_999));
        assert!(small.checkpoint_due_at_shutdown(400, 405));
        assert!(!small.checkpoint_due_at_shutdown(400, 404));
    }

    /// A log of `count` small events (their payloads are not domain events: the folds
    /// below decode only the envelope).
    fn log_of(count: u64) -> Log<MemoryBackend> {
        let log = Log::create(
            MemoryBackend::new(),
            HashAlgorithm::Sha256,
            Arc::new(FixedClock::new(1_625_000_000_000)),
        )
        .unwrap();
        let mut appended = 0;
        while appended < count {
            let n = (count - appended).min(5_000);
            log.append(AppendBatch {
                command_id: CommandId::new(format!("cmd-{appended}")).unwrap(),
                events: (0..n)
                    .map(|_| NewEvent {
                        stream: StreamName::new("s").unwrap(),
                        expected: ExpectedVersion::Any,
                        event_type: EventType::new("Probe").unwrap(),
                        schema_version: 1,
                        payload: Vec::new(),
                        actor: Actor::new("clerk").unwrap(),
                        effective_date: chrono::NaiveDate::from_ymd_opt(2021, 1, 4).unwrap(),
                        memo: Memo::new("").unwrap(),
                    })
                    .collect(),
            })
            .unwrap();
            appended += n;
        }
        log
    }

    /// Several pages, read by alternating readers, arrive once each and in order, from
    /// and to positions inside pages; the first failing record stops the fold with
    /// corruption at its position, after every page before it and none after.
    #[test]
    fn a_fold_applies_every_page_once_in_order_and_stops_at_the_first_failure() {
        let log = log_of(45_000);
        for (from, end) in [(0, 45_000), (3, 44_993), (10_000, 30_000), (7, 7), (0, 1)] {
            let mut seen = Vec::new();
            fold_log(
                &log,
                from,
                end,
                || |view: &ledger_store::RecordView<'_>| Ok(view.position),
                |page: &mut Vec<u64>| seen.extend_from_slice(page),
            )
            .unwrap();
            assert_eq!(seen, (from..end).collect::<Vec<_>>(), "{from}..{end}");
        }
        for failing in [0, 9_999, 10_000, 21_111, 44_999] {
            let mut seen = Vec::new();
            let error = fold_log(
                &log,
                0,
                45_000,
                || {
                    move |view: &ledger_store::RecordView<'_>| {
                        if view.position == failing || view.position == 44_999 {
                            Err(EngineError::corrupt(view.position, "refused".into()))
                        } else {
                            Ok(view.position)
                        }
                    }
                },
                |page: &mut Vec<u64>| seen.extend_from_slice(page),
            )
            .unwrap_err();
            match error {
                EngineError::Store(StoreError::Corruption { position, what }) => {
                    assert_eq!((position, what.as_str()), (Some(failing), "refused"));
                }
                other => panic!("expected corruption, got {other:?}"),
            }
            let page_start = failing - failing % 10_000;
            assert_eq!(seen, (0..page_start).collect::<Vec<_>>(), "{failing}");
        }
    }
}
