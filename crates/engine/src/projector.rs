//! Hosts the read models of `ledger-projections`: a projector thread follows the log
//! through a subscription, folds every durable event into each projection, and
//! checkpoints each projection (its state with its position, in one snapshot) every
//! so many events. On open each projection resumes from its own checkpoint. It takes a
//! handle to the engine's current log for each page only, so that a recovery can
//! close a failed log and the projector goes on with the reopened one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

use ledger_projections::{
    AuditTrail, EventRecord, FundLedger, InsuranceReports, LoanReports, PersonalDataLog,
    ProgrammeReports, Projection, SymbolTable, Symbols,
};
use ledger_store::limits::READ_PAGE_EVENTS_MAX;
use ledger_store::{Backend, Log, RecordView, SnapshotSource};

use crate::recovery::LogSlot;
use crate::{EngineError, EngineOptions, PageDecoder};

/// Pages at least this long are folded on two threads.
const PARALLEL_PAGE_MIN: usize = 512;

/// How long the projector waits for new events before checking whether to stop.
const PROJECTOR_POLL_MS: u64 = 100;

/// How long the projector, once it has caught up with the log, lets commits gather
/// before it reads again, unless a reader is waiting for the projections (decision
/// 0027). Each wake-up of a follower is a context switch on one of two cores, which
/// the writer and the flusher wait behind; a gather folds a few hundred events at
/// once instead of each group's thirty.
pub(crate) const FOLLOWER_GATHER: Duration = Duration::from_millis(2);

/// A tail at least this long (after the checkpoints, at open) is folded with
/// [`crate::fold_log`]'s reader threads before the projector follows the log.
const CATCH_UP_WITH_READERS_MIN: u64 = READ_PAGE_EVENTS_MAX as u64;

/// How many events the catch-up at open folds before it checks whether to stop.
const CATCH_UP_SLICE_EVENTS: u64 = 20 * READ_PAGE_EVENTS_MAX as u64;

/// How long the projector waits after a failed read before it tries again.
const PROJECTOR_RETRY_MS: u64 = 1_000;

/// How much the projector thread lowers its CPU priority (its nice value), so that on
/// a busy machine the writer, the flusher and the callers waiting for them go first:
/// projections are read models that follow the log, an acknowledgement is the
/// caller's wait (decision 0017).
const PROJECTOR_NICE_INCREMENT: i32 = 10;

/// Lowers the calling thread's CPU priority by [`PROJECTOR_NICE_INCREMENT`] (on Linux
/// the nice value belongs to each thread, and threads it spawns inherit it). Where
/// that is not possible nothing changes: it orders work, it guards nothing.
fn yield_to_the_writer() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let thread = Some(rustix::thread::gettid());
        let current = getpriority_process(thread).unwrap_or(0);
        let _ = setpriority_process(thread, (current + PROJECTOR_NICE_INCREMENT).min(19));
    }
}

/// Every read model, each with its own position.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Projections {
    pub fund_ledger: FundLedger,
    pub programmes: ProgrammeReports,
    pub insurance: InsuranceReports,
    pub loans: LoanReports,
    pub audit: AuditTrail,
    pub personal_data: PersonalDataLog,
}

/// Applies `record` to `projection` unless its checkpoint is already past it.
fn feed<P: Projection>(projection: &mut P, record: &EventRecord) {
    if record.recorded.position >= projection.next_position() {
        projection.apply(record);
    }
}

/// `P` from its checkpoint in `source`, if it has a readable one that holds what it
/// claims (the projection's position is the checkpoint's); else from position 0.
/// Whether the checkpoint is within the durable log is for [`within`].
fn load<P: Projection, S: SnapshotSource + ?Sized>(source: &S) -> P {
    let name = ledger_projections::checkpoint_name::<P>();
    match ledger_store::load_snapshot::<S, P>(source, &name) {
        Ok(Some((position, projection))) if projection.next_position() == position => projection,
        _ => P::default(),
    }
}

/// `projection`, unless it comes from a checkpoint beyond the durable log's `head`:
/// then from position 0.
fn within<P: Projection>(projection: P, head: u64) -> P {
    if projection.next_position() <= head {
        projection
    } else {
        P::default()
    }
}

/// Checkpoints `projection`, then removes its checkpoints of earlier layouts (left by
/// an older build; nothing reads them any more).
fn save<P: Projection, B: Backend>(log: &Log<B>, projection: &P) -> Result<(), EngineError> {
    log.save_snapshot(
        &ledger_projections::checkpoint_name::<P>(),
        projection.next_position(),
        projection,
    )?;
    for name in ledger_projections::superseded_checkpoint_names::<P>() {
        log.remove_snapshot(&name)?;
    }
    Ok(())
}

impl Projections {
    /// Every projection, each from its checkpoint in `source` ([`load`]): a checkpoint
    /// is a shortcut, and a projection without a usable one is rebuilt from position 0.
    /// The fund ledger, about as much to load as the other four together, loads on a
    /// thread of its own: most of a load is the kernel zeroing fresh pages, which two
    /// threads do faster than one (docs/PERFORMANCE.md, "The open uses both cores").
    pub(crate) fn load<S: SnapshotSource + Sync + ?Sized>(source: &S) -> Self {
        std::thread::scope(|scope| {
            let fund_ledger = scope.spawn(|| load(source));
            let programmes = load(source);
            let insurance = load(source);
            let loans = load(source);
            let audit = load(source);
            let personal_data = load(source);
            Projections {
                fund_ledger: fund_ledger
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                programmes,
                insurance,
                loans,
                audit,
                personal_data,
            }
        })
    }

    /// These projections, except that those from checkpoints beyond the durable log's
    /// `head` (a log that lost its tail) start from position 0.
    pub(crate) fn within(self, head: u64) -> Self {
        Projections {
            fund_ledger: within(self.fund_ledger, head),
            programmes: within(self.programmes, head),
            insurance: within(self.insurance, head),
            loans: within(self.loans, head),
            audit: within(self.audit, head),
            personal_data: within(self.personal_data, head),
        }
    }

    /// Checkpoints every projection.
    pub(crate) fn save<B: Backend>(&self, log: &Log<B>) -> Result<(), EngineError> {
        save(log, &self.fund_ledger)?;
        save(log, &self.programmes)?;
        save(log, &self.insurance)?;
        save(log, &self.loans)?;
        save(log, &self.audit)?;
        save(log, &self.personal_data)
    }

    /// The first position some projection still needs.
    pub fn next_position(&self) -> u64 {
        [
            self.fund_ledger.next_position(),
            self.programmes.next_position(),
            self.insurance.next_position(),
            self.loans.next_position(),
            self.audit.next_position(),
            self.personal_data.next_position(),
        ]
        .into_iter()
        .min()
        .unwrap_or(0)
    }

    /// Applies records in order. The projections are independent, so a large page
    /// is folded on two threads, the work split about evenly between them (the fund
    /// ledger costs about as much as the other four together; docs/PERFORMANCE.md).
    pub(crate) fn apply_all(&mut self, records: &[EventRecord]) {
        let (mut first, mut second) = self.halves();
        if records.len() < PARALLEL_PAGE_MIN {
            first.apply(records);
            second.apply(records);
            return;
        }
        std::thread::scope(|scope| {
            scope.spawn(move || second.apply(records));
            first.apply(records);
        });
    }

    /// The projections in two halves of about equal work, to fold on two threads: the
    /// fund ledger, insurance reports and personal data log; the programme reports,
    /// audit trail and loan reports.
    fn halves(
        &mut self,
    ) -> (
        Half<'_, FundLedger, InsuranceReports, PersonalDataLog>,
        Half<'_, ProgrammeReports, AuditTrail, LoanReports>,
    ) {
        let Projections {
            fund_ledger,
            programmes,
            insurance,
            loans,
            audit,
            personal_data,
        } = self;
        (
            Half {
                a: fund_ledger,
                b: insurance,
                c: personal_data,
            },
            Half {
                a: programmes,
                b: audit,
                c: loans,
            },
        )
    }

    /// Every projection folded from position 0 up to `end`: what a rebuild gives.
    pub(crate) fn fold<B: Backend>(log: &Log<B>, end: u64) -> Result<Self, EngineError> {
        let mut projections = Projections::default();
        projections.fold_on(log, 0, end, |_| ())?;
        Ok(projections)
    }

    /// Folds the events in `from..end` into these projections (each from its own
    /// position), as a rebuild does: each record is decoded once, from the stored
    /// bytes, for all of them. `also` gets each page too, on this thread, while the
    /// helper applies its half (the engine's open folds the model's tail with it). A
    /// fault stops the fold after the last whole page.
    ///
    /// The second half of the projections is folded on one helper thread for the whole
    /// fold, not on a thread per page as [`Projections::apply_all`] does: a new
    /// thread starts with an empty heap of its own in the allocator, and the first
    /// rebuild of a process at 10 million events took about a tenth less CPU with one
    /// helper (docs/PERFORMANCE.md, "One helper thread for a rebuild").
    pub(crate) fn fold_on<B: Backend>(
        &mut self,
        log: &Log<B>,
        from: u64,
        end: u64,
        mut also: impl FnMut(&[EventRecord]),
    ) -> Result<(), EngineError> {
        let (mut first, mut second) = self.halves();
        std::thread::scope(|scope| {
            let (pages, helper_pages) = std_mpsc::sync_channel::<Arc<Vec<EventRecord>>>(1);
            let (helper_done, done) = std_mpsc::sync_channel::<()>(1);
            scope.spawn(move || {
                for page in helper_pages {
                    second.apply(&page);
                    // Its share of the page goes before the answer, so that the fold
                    // gets the buffer back whole.
                    drop(page);
                    if helper_done.send(()).is_err() {
                        break;
                    }
                }
            });
            crate::fold_log(
                log,
                from,
                end,
                fold_decoder,
                |page: &mut Vec<EventRecord>| {
                    let shared = Arc::new(std::mem::take(page));
                    pages
                        .send(Arc::clone(&shared))
                        .expect("the fold's helper thread ended");
                    first.apply(&shared);
                    also(&shared);
                    done.recv().expect("the fold's helper thread ended");
                    *page = Arc::try_unwrap(shared).expect("the helper has given the page back");
                },
            )
        })
    }
}

/// Three projections folded together: half of the six, about half of a fold's work
/// (the fund ledger costs about as much as the other four together).
struct Half<'a, A, B, C> {
    a: &'a mut A,
    b: &'a mut B,
    c: &'a mut C,
}

impl<A: Projection, B: Projection, C: Projection> Half<'_, A, B, C> {
    fn apply(&mut self, records: &[EventRecord]) {
        for record in records {
            feed(self.a, record);
            feed(self.b, record);
            feed(self.c, record);
        }
    }
}

/// A decoder for one reader thread of a fold, with a symbol table of its own.
fn fold_decoder() -> Decoding {
    Decoding::with_symbols()
}

/// What a decoder shares between the events it decodes in turn: the previous event's
/// actor and memo (runs of one clerk's events with one memo are the rule: equal ones
/// share one allocation) and, for the decoders of a fold, a symbol table
/// (`ledger_projections::SymbolTable`: the projections then intern the ids by number).
#[derive(Debug, Default)]
pub(crate) struct Decoding {
    actor: Option<ledger_domain::UserId>,
    memo: Option<Arc<str>>,
    symbols: Option<SymbolTable>,
}

impl Decoding {
    pub(crate) fn with_symbols() -> Decoding {
        Decoding {
            symbols: Some(SymbolTable::new()),
            ..Decoding::default()
        }
    }
}

impl PageDecoder<EventRecord> for Decoding {
    fn decode(&mut self, record: &RecordView<'_>) -> Result<EventRecord, EngineError> {
        event_record(record, self)
    }

    /// Stamps the page with the symbols of this decoder's table, if it has one: a page
    /// at a time, which is cheaper than a record at a time (`SymbolTable::assign_all`).
    fn finish(&mut self, page: &mut [EventRecord]) {
        if let Some(symbols) = &mut self.symbols {
            symbols.assign_all(page);
        }
    }
}

/// A stored event as the projections take it, sharing the actor's id and the memo
/// with the previous event's when they are the same. Its symbols come with the
/// decoder's [`PageDecoder::finish`].
pub(crate) fn event_record(
    record: &RecordView<'_>,
    decoding: &mut Decoding,
) -> Result<EventRecord, EngineError> {
    let payload = crate::model::decode_payload(record)?;
    let memo = match &decoding.memo {
        Some(memo) if **memo == *record.memo => Arc::clone(memo),
        _ => {
            let memo: Arc<str> = Arc::from(record.memo);
            decoding.memo = Some(Arc::clone(&memo));
            memo
        }
    };
    Ok(EventRecord {
        recorded: crate::model::recorded_sharing(record, payload.event, &mut decoding.actor)?,
        memo,
        hash: record.hash,
        symbols: Symbols::default(),
    })
}

/// The projections and how far they have got, shared with the engine's readers.
#[derive(Debug, Default)]
pub(crate) struct Hosted {
    pub projections: RwLock<Projections>,
    /// The position every projection has reached, for readers that wait for it.
    pub reached: Mutex<u64>,
    pub advanced: Condvar,
    pub stop: AtomicBool,
    /// Why the projector stopped, if it failed (reads then see stale projections).
    pub failure: Mutex<Option<String>>,
    /// Set by a reader that waits for a position the projections have not reached:
    /// the projector then ends its gather at once.
    pub hurry: Mutex<bool>,
    pub hurried: Condvar,
}

impl Hosted {
    pub(crate) fn new(projections: Projections) -> Hosted {
        let reached = projections.next_position();
        Hosted {
            projections: RwLock::new(projections),
            reached: Mutex::new(reached),
            advanced: Condvar::new(),
            stop: AtomicBool::new(false),
            hurry: Mutex::new(false),
            hurried: Condvar::new(),
            failure: Mutex::new(None),
        }
    }

    /// Waits until every projection has applied the events before `position`.
    pub fn wait_for(&self, position: u64, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut reached = self.reached.lock().expect("projector lock");
        if *reached < position {
            *self.hurry.lock().expect("projector lock") = true;
            self.hurried.notify_one();
        }
        while *reached < position {
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            reached = self
                .advanced
                .wait_timeout(reached, deadline - now)
                .expect("projector lock")
                .0;
        }
        true
    }

    /// The projector's pause after catching up ([`FOLLOWER_GATHER`]), ended early by a
    /// reader that waits for the projections.
    fn gather(&self, pause: Duration) {
        let hurry = self.hurry.lock().expect("projector lock");
        let (mut hurry, _) = self
            .hurried
            .wait_timeout_while(hurry, pause, |hurry| !*hurry)
            .expect("projector lock");
        *hurry = false;
    }
}

/// Whether a tail of the projections from `from` to `end` is long enough to fold with
/// [`crate::fold_log`]'s reader threads ([`catch_up`]) rather than page by page.
pub(crate) fn catches_up_with_readers(from: u64, end: u64) -> bool {
    end.saturating_sub(from) >= CATCH_UP_WITH_READERS_MIN
}

/// The projector thread's loop, for projections last checkpointed at `last_checkpoint`
/// (the oldest of their checkpoints' positions when they were loaded; the open may
/// have caught them up since). A failed read or decode is recorded (readers waiting
/// for the projections see it) and retried: after a recovery the log is another one.
pub(crate) fn run<B: Backend>(
    slot: &LogSlot<B>,
    hosted: &Hosted,
    options: EngineOptions,
    mut last_checkpoint: u64,
) {
    let mut next = hosted
        .projections
        .read()
        .expect("projections lock")
        .next_position();
    yield_to_the_writer();
    if let Some(log) = slot.get() {
        let head = log.head().next_position;
        if catches_up_with_readers(next, head) {
            if let Err(e) = catch_up(hosted, &log, next, head) {
                *hosted.failure.lock().expect("projector lock") = Some(e.to_string());
            }
            next = hosted
                .projections
                .read()
                .expect("projections lock")
                .next_position();
        }
        // A tail long enough to be due is checkpointed now, not only once new events
        // come: the next open would otherwise fold it again. (A shutdown during the
        // catch-up checkpoints below, if the tail is long enough.)
        if !hosted.stop.load(Ordering::Acquire)
            && options.checkpoint_due(last_checkpoint, next)
            && checkpoint(hosted, &log)
        {
            last_checkpoint = next;
        }
    }
    // One table for the thread's life: the projections then meet every id's symbol
    // once (the table holds each distinct id's text once more; docs/PROJECTIONS.md).
    let mut decoding = Decoding::with_symbols();
    let fail = |e: String| {
        *hosted.failure.lock().expect("projector lock") = Some(e);
        std::thread::sleep(Duration::from_millis(PROJECTOR_RETRY_MS));
    };
    while !hosted.stop.load(Ordering::Acquire) {
        let Some(log) = slot.get() else {
            // A recovery has closed the log: wait for the reopened one.
            std::thread::sleep(Duration::from_millis(PROJECTOR_POLL_MS));
            continue;
        };
        // Each record decoded in place, straight to what the projections take.
        let mut records = Vec::new();
        let read = log.subscribe(next).next_views(
            READ_PAGE_EVENTS_MAX,
            Duration::from_millis(PROJECTOR_POLL_MS),
            &mut |view| {
                records.push(event_record(&view, &mut decoding).map_err(|e| e.to_string())?);
                Ok(())
            },
        );
        if let Err(e) = read {
            drop(log);
            fail(e.to_string());
            continue;
        }
        if records.is_empty() {
            continue;
        }
        decoding.finish(&mut records);
        next += records.len() as u64;
        let reached = {
            let mut projections = hosted.projections.write().expect("projections lock");
            projections.apply_all(&records);
            projections.next_position()
        };
        *hosted.failure.lock().expect("projector lock") = None;
        *hosted.reached.lock().expect("projector lock") = reached;
        hosted.advanced.notify_all();
        let caught_up = records.len() < READ_PAGE_EVENTS_MAX;
        if options.checkpoint_due(last_checkpoint, reached) && checkpoint(hosted, &log) {
            last_checkpoint = reached;
        }
        drop(log);
        if caught_up {
            hosted.gather(FOLLOWER_GATHER);
        }
    }
    // Spaced by a quarter of the ledger, the tail after the last checkpoint may be
    // millions of events: a clean shutdown checkpoints it, so that the next open need
    // not fold it (decision 0030).
    let reached = hosted
        .projections
        .read()
        .expect("projections lock")
        .next_position();
    if options.checkpoint_due_at_shutdown(last_checkpoint, reached) {
        if let Some(log) = slot.get() {
            checkpoint(hosted, &log);
        }
    }
}

/// Folds the events in `from..end` (the tail after the checkpoints, at open) into the
/// projections as a rebuild does: [`crate::fold_log`]'s two reader threads decode the
/// pages ahead while this thread applies them, where the projector's own loop decodes
/// and applies in turn on one. Each page is applied under the projections' lock and
/// published as reached, so readers see the catch-up advance. It goes in slices of
/// [`CATCH_UP_SLICE_EVENTS`], to stop soon when the engine shuts down meanwhile.
fn catch_up<B: Backend>(
    hosted: &Hosted,
    log: &Log<B>,
    from: u64,
    end: u64,
) -> Result<(), EngineError> {
    let mut start = from;
    while start < end && !hosted.stop.load(Ordering::Acquire) {
        let slice_end = end.min(start.saturating_add(CATCH_UP_SLICE_EVENTS));
        crate::fold_log(
            log,
            start,
            slice_end,
            fold_decoder,
            |page: &mut Vec<EventRecord>| {
                let reached = {
                    let mut projections = hosted.projections.write().expect("projections lock");
                    projections.apply_all(page);
                    projections.next_position()
                };
                *hosted.reached.lock().expect("projector lock") = reached;
                hosted.advanced.notify_all();
            },
        )?;
        start = slice_end;
    }
    Ok(())
}

/// Checkpoints the projections, then the store's indexes; whether both were saved.
/// Failing to checkpoint loses nothing: the projections are rebuilt from the previous
/// checkpoint and the log, and the store's indexes from its previous index checkpoint
/// (written here, off the commit path).
fn checkpoint<B: Backend>(hosted: &Hosted, log: &Log<B>) -> bool {
    let projections = hosted.projections.read().expect("projections lock");
    projections.save(log).is_ok() && log.save_index_checkpoint().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosted_at(reached: u64) -> Hosted {
        let hosted = Hosted::new(Projections::default());
        *hosted.reached.lock().unwrap() = reached;
        hosted
    }

    #[test]
    fn a_gather_lasts_its_pause_when_nobody_waits() {
        let hosted = hosted_at(10);
        // A reader of what the projections already hold does not hurry them.
        assert!(hosted.wait_for(10, Duration::ZERO));
        let started = std::time::Instant::now();
        hosted.gather(Duration::from_millis(50));
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn a_reader_waiting_for_the_projections_ends_the_gather() {
        let hosted = Arc::new(hosted_at(10));
        let projector = {
            let hosted = Arc::clone(&hosted);
            std::thread::spawn(move || {
                let started = std::time::Instant::now();
                hosted.gather(Duration::from_secs(600));
                started.elapsed()
            })
        };
        // The reader waits for a position not reached yet, which hurries the projector
        // whether it is gathering already or starts to.
        assert!(!hosted.wait_for(11, Duration::from_millis(20)));
        let gathered = projector.join().expect("the projector's gather ends");
        assert!(gathered < Duration::from_secs(60), "{gathered:?}");
        // The hurry is used up: the next gather lasts its pause again.
        assert!(!*hosted.hurry.lock().unwrap());
    }
}
