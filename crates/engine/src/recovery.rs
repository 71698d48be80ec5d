//! Recovering from a failed write or flush (a full disk, an IO error) without a
//! restart. The store refuses writes after such a failure until it is reopened,
//! because sled's memory may hold writes that never reached the disk. So the engine
//! reopens it: once a probe finds the storage writable again, the writer closes the
//! failed log (every handle to it must go, which releases sled's file lock), opens
//! the data directory again through the caller's [`Reopen`] (journal replay and the
//! durable head, as at start), checks that the reopened log extends what was durable,
//! rebuilds its model from the committed read model plus the reopened log's tail and
//! takes writes again. Meanwhile writes are answered `unavailable` and reads go on
//! from the committed read model and the projections. See docs/RELIABILITY.md.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use ledger_store::{Backend, Head, Log, StoreError};

/// Opens the engine's log again from its storage (the same data directory), for
/// [`crate::Engine::open_with_recovery`]. Called only after the previous log has been
/// dropped, so sled's lock on the directory is free again.
pub type Reopen<B> = Arc<dyn Fn() -> Result<Log<B>, StoreError> + Send + Sync>;

/// The first wait before a recovery attempt, doubled after each failed attempt.
pub const RECOVERY_BACKOFF_MIN_MS: u64 = 250;
/// The longest wait between two recovery attempts.
pub const RECOVERY_BACKOFF_MAX_MS: u64 = 10_000;
/// How long a recovery waits for the other handles to the failed log (a subscription,
/// an export or verify in progress) to be dropped before it gives up until the next
/// attempt.
pub const LOG_CLOSE_WAIT_MS: u64 = 5_000;
/// How often the writer, while writes are refused, looks at its queue and the clock.
pub(crate) const RECOVERY_POLL_MS: u64 = 20;

/// Whether the engine takes writes ([`crate::Engine::write_status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteStatus {
    /// Writes are taken.
    Available,
    /// Writes are refused since a write or flush failed; reads go on.
    Unavailable {
        /// The failure that stopped writes.
        cause: String,
        /// Whether the engine reopens its log by itself; if not, only a restart recovers.
        recovering: bool,
        /// Recovery attempts made so far.
        attempts: u32,
        /// Why the last attempt failed, if one did.
        last_attempt: Option<String>,
        /// Time until the next attempt.
        retry_in: Duration,
    },
}

/// The engine's log, which a recovery replaces. Every user takes a handle for one
/// operation and drops it, so that the failed log can be closed.
pub(crate) struct LogSlot<B: Backend> {
    current: RwLock<Option<Log<B>>>,
}

impl<B: Backend> LogSlot<B> {
    pub fn new(log: Log<B>) -> Self {
        LogSlot {
            current: RwLock::new(Some(log)),
        }
    }

    /// A handle to the open log; `None` while a recovery has closed it.
    pub fn get(&self) -> Option<Log<B>> {
        self.current.read().expect("log slot lock").clone()
    }

    fn take(&self) -> Option<Log<B>> {
        self.current.write().expect("log slot lock").take()
    }

    fn put(&self, log: Log<B>) {
        let mut current = self.current.write().expect("log slot lock");
        assert!(current.is_none(), "one log at a time");
        *current = Some(log);
    }

    /// Takes the log out and drops it once no other handle is left, waiting up to
    /// `wait`; if another handle outlives the wait, the log is put back.
    pub fn close(&self, wait: Duration) -> Result<(), String> {
        let Some(mut log) = self.take() else {
            return Ok(());
        };
        let deadline = Instant::now() + wait;
        loop {
            match log.close() {
                Ok(()) => return Ok(()),
                Err(still_shared) if Instant::now() >= deadline => {
                    self.put(still_shared);
                    return Err(format!(
                        "the failed log is still in use after {} ms (an export or a verify in progress?)",
                        wait.as_millis()
                    ));
                }
                Err(still_shared) => {
                    log = still_shared;
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }

    /// Installs the reopened log.
    pub fn install(&self, log: Log<B>) {
        self.put(log);
    }
}

/// Whether the engine takes writes, and how its recovery is going.
#[derive(Debug)]
pub(crate) struct Health {
    state: Mutex<State>,
    backoff_min: Duration,
    backoff_max: Duration,
    /// Recoveries that reopened the log, since the engine was opened.
    recoveries: AtomicU64,
}

#[derive(Debug)]
enum State {
    Available,
    Failed(Failed),
}

#[derive(Debug)]
struct Failed {
    cause: String,
    attempts: u32,
    last_attempt: Option<String>,
    next_attempt: Instant,
    backoff: Duration,
    /// The durable head of the failed log, once it has been closed: what the
    /// reopened log must extend.
    closed_at: Option<Head>,
}

impl Health {
    pub fn new(backoff_min_ms: u64, backoff_max_ms: u64) -> Self {
        Health {
            state: Mutex::new(State::Available),
            backoff_min: Duration::from_millis(backoff_min_ms),
            backoff_max: Duration::from_millis(backoff_max_ms.max(backoff_min_ms)),
            recoveries: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("health lock")
    }

    /// Records a failed write or flush; returns true if writes were taken until now.
    pub fn fail(&self, cause: String) -> bool {
        let mut state = self.lock();
        if matches!(*state, State::Failed(_)) {
            return false;
        }
        *state = State::Failed(Failed {
            cause,
            attempts: 0,
            last_attempt: None,
            next_attempt: Instant::now() + self.backoff_min,
            backoff: self.backoff_min,
            closed_at: None,
        });
        true
    }

    /// When the next recovery attempt is due, if writes are refused.
    pub fn next_attempt(&self) -> Option<Instant> {
        match &*self.lock() {
            State::Available => None,
            State::Failed(failed) => Some(failed.next_attempt),
        }
    }

    /// Whether writes are refused, and why.
    pub fn status(&self, recovering: bool) -> WriteStatus {
        match &*self.lock() {
            State::Available => WriteStatus::Available,
            State::Failed(failed) => WriteStatus::Unavailable {
                cause: failed.cause.clone(),
                recovering,
                attempts: failed.attempts,
                last_attempt: failed.last_attempt.clone(),
                retry_in: failed
                    .next_attempt
                    .saturating_duration_since(Instant::now()),
            },
        }
    }

    /// The durable head of the failed log, once it has been closed.
    pub fn closed_at(&self) -> Option<Head> {
        match &*self.lock() {
            State::Failed(failed) => failed.closed_at,
            State::Available => None,
        }
    }

    pub fn set_closed_at(&self, head: Head) {
        if let State::Failed(failed) = &mut *self.lock() {
            failed.closed_at = Some(head);
        }
    }

    /// A recovery attempt failed: wait twice as long before the next one.
    pub fn attempt_failed(&self, why: String) {
        if let State::Failed(failed) = &mut *self.lock() {
            failed.attempts += 1;
            failed.last_attempt = Some(why);
            failed.backoff = (failed.backoff * 2).min(self.backoff_max);
            failed.next_attempt = Instant::now() + failed.backoff;
        }
    }

    /// The log was reopened: writes are taken again.
    pub fn recovered(&self) {
        *self.lock() = State::Available;
        self.recoveries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn recoveries(&self) -> u64 {
        self.recoveries.load(Ordering::Relaxed)
    }
}

/// Checks that a reopened log holds everything the failed one had made durable: at
/// least as many events, and the same record (by its chain hash) at the last of them.
/// It may hold more: a group whose flush reported failure may have reached the disk.
pub(crate) fn check_extends<B: Backend>(log: &Log<B>, durable: Head) -> Result<(), String> {
    let head = log.head();
    if head.next_position < durable.next_position {
        return Err(format!(
            "the reopened log holds {} events, but {} were durable before the failure",
            head.next_position, durable.next_position
        ));
    }
    if let Some(last) = durable.next_position.checked_sub(1) {
        let record = log
            .read_raw(last, 1)
            .map_err(|e| format!("reading the reopened log: {e}"))?
            .pop()
            .ok_or_else(|| format!("the reopened log has no record at position {last}"))?;
        if record.hash != durable.hash {
            return Err(format!(
                "the reopened log's record at position {last} is not the one that was durable before the failure"
            ));
        }
    }
    Ok(())
}
