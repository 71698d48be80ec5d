//! Group commit: a writer thread drains a bounded queue of concurrent appends into
//! one group and prepares it (decides each append, writes the records); a second
//! thread makes each group durable with one flush and answers its callers. While one
//! group is being flushed the next is prepared, so the disk's flush latency and the
//! CPU's work overlap. This is how one fsync serves many appends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use crate::backend::Backend;
use crate::error::{AppendError, StoreError};
use crate::limits::{GROUP_COMMIT_EVENTS_MAX, QUEUE_DEPTH_MAX};
use crate::log::{Log, PreparedGroup};
use crate::types::{AppendBatch, Appended};

struct Job {
    batch: AppendBatch,
    reply: oneshot::Sender<Result<Appended, AppendError>>,
}

/// Counters of the group committer, for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct GroupStats {
    /// Durable commits made (each one write and one flush).
    pub commits: AtomicU64,
    /// Appends answered.
    pub appends: AtomicU64,
    /// Appends waiting in the queue right now.
    pub queued: AtomicU64,
    /// Groups handed to the flusher thread and not yet committed.
    pub flushing: AtomicU64,
    /// Time spent preparing groups (deciding, encoding, hashing, writing records).
    pub prepare_nanos: AtomicU64,
    /// Time spent making groups durable and publishing them (the flush).
    pub commit_nanos: AtomicU64,
    /// Time spent answering callers.
    pub answer_nanos: AtomicU64,
}

fn add_elapsed(counter: &AtomicU64, since: std::time::Instant) {
    let nanos = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
    counter.fetch_add(nanos, Ordering::Relaxed);
}

/// A writer thread that owns appends to a [`Log`]. Reads go straight to the log.
pub struct GroupCommitter<B: Backend> {
    log: Log<B>,
    queue: Option<mpsc::Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
    stats: Arc<GroupStats>,
}

impl<B: Backend> std::fmt::Debug for GroupCommitter<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommitter")
            .field("log", &self.log)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> GroupCommitter<B> {
    /// Starts the writer and flusher threads.
    pub fn start(log: Log<B>) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH_MAX);
        // A rendezvous: the writer hands a prepared group over only when the flusher
        // is free. One group is prepared while one is flushed, and appends arriving
        // meanwhile queue up into the next, larger group (decision 0004).
        let (prepared_sender, prepared_receiver) = std_mpsc::sync_channel(0);
        let stats = Arc::new(GroupStats::default());
        let writer = {
            let log = log.clone();
            let stats = Arc::clone(&stats);
            std::thread::Builder::new()
                .name("ledger-group-prepare".into())
                .spawn(move || prepare_groups(&log, receiver, &prepared_sender, &stats))
                .expect("spawning the group commit writer thread")
        };
        let flusher = {
            let log = log.clone();
            let stats = Arc::clone(&stats);
            std::thread::Builder::new()
                .name("ledger-group-flush".into())
                .spawn(move || commit_groups(&log, &prepared_receiver, &stats))
                .expect("spawning the group commit flusher thread")
        };
        GroupCommitter {
            log,
            queue: Some(sender),
            threads: vec![writer, flusher],
            stats,
        }
    }

    pub fn log(&self) -> &Log<B> {
        &self.log
    }

    pub fn stats(&self) -> &GroupStats {
        &self.stats
    }

    fn job(&self, batch: AppendBatch) -> (Job, oneshot::Receiver<Result<Appended, AppendError>>) {
        let (reply, answer) = oneshot::channel();
        (Job { batch, reply }, answer)
    }

    /// Appends one command's events; returns once they are durable. Blocks while the
    /// queue is full. Must not be called from inside an async runtime: use
    /// [`GroupCommitter::append_async`] there.
    pub fn append(&self, batch: AppendBatch) -> Result<Appended, AppendError> {
        let (job, answer) = self.job(batch);
        let queue = self.queue.as_ref().ok_or(StoreError::ShutDown)?;
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        queue.blocking_send(job).map_err(|_| StoreError::ShutDown)?;
        answer.blocking_recv().map_err(|_| StoreError::ShutDown)?
    }

    /// Appends one command's events; resolves once they are durable.
    pub async fn append_async(&self, batch: AppendBatch) -> Result<Appended, AppendError> {
        let (job, answer) = self.job(batch);
        let queue = self.queue.as_ref().ok_or(StoreError::ShutDown)?;
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        queue.send(job).await.map_err(|_| StoreError::ShutDown)?;
        answer.await.map_err(|_| StoreError::ShutDown)?
    }

    /// Stops taking appends, commits what is queued and joins the threads.
    pub fn shutdown(&mut self) {
        self.queue.take();
        for thread in self.threads.drain(..) {
            // A panic in a thread has already failed its callers; nothing to add here.
            let _ = thread.join();
        }
    }
}

impl<B: Backend> Drop for GroupCommitter<B> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

type Replies = Vec<oneshot::Sender<Result<Appended, AppendError>>>;

fn prepare_groups<B: Backend>(
    log: &Log<B>,
    mut queue: mpsc::Receiver<Job>,
    prepared: &std_mpsc::SyncSender<(PreparedGroup, Replies)>,
    stats: &GroupStats,
) {
    while let Some(first) = queue.blocking_recv() {
        let mut events = first.batch.events.len();
        let mut jobs = vec![first];
        while events < GROUP_COMMIT_EVENTS_MAX {
            match queue.try_recv() {
                Ok(job) => {
                    events += job.batch.events.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        stats.queued.fetch_sub(jobs.len() as u64, Ordering::Relaxed);
        let (batches, replies): (Vec<_>, Vec<_>) =
            jobs.into_iter().map(|j| (j.batch, j.reply)).unzip();
        let started = std::time::Instant::now();
        let group = log.prepare_group(batches);
        add_elapsed(&stats.prepare_nanos, started);
        // With no group being flushed and nobody else waiting, there is nothing to
        // overlap with this flush: commit here and spare a lone caller two thread
        // hand-offs. Under load the flusher is busy and groups go to it.
        if stats.flushing.load(Ordering::Acquire) == 0 && queue.is_empty() {
            commit_and_answer(log, group, replies, stats);
            continue;
        }
        stats.flushing.fetch_add(1, Ordering::AcqRel);
        if let Err(std_mpsc::SendError((group, replies))) = prepared.send((group, replies)) {
            // The flusher is gone (it panicked): commit here so no group is left behind.
            stats.flushing.fetch_sub(1, Ordering::AcqRel);
            commit_and_answer(log, group, replies, stats);
        }
    }
}

fn commit_groups<B: Backend>(
    log: &Log<B>,
    prepared: &std_mpsc::Receiver<(PreparedGroup, Replies)>,
    stats: &GroupStats,
) {
    while let Ok((group, replies)) = prepared.recv() {
        commit_and_answer(log, group, replies, stats);
        stats.flushing.fetch_sub(1, Ordering::AcqRel);
    }
}

fn commit_and_answer<B: Backend>(
    log: &Log<B>,
    group: PreparedGroup,
    replies: Replies,
    stats: &GroupStats,
) {
    let started = std::time::Instant::now();
    let results = log.commit_prepared(group);
    add_elapsed(&stats.commit_nanos, started);
    answer(results, replies, stats);
    // Answered: now the backend's deferred work, off the callers' path (decision
    // 0019). A failure fails the next flush and every read, which report it.
    let _ = log.store_durable();
}

fn answer(results: Vec<Result<Appended, AppendError>>, replies: Replies, stats: &GroupStats) {
    let started = std::time::Instant::now();
    stats.commits.fetch_add(1, Ordering::Relaxed);
    stats
        .appends
        .fetch_add(replies.len() as u64, Ordering::Relaxed);
    for (result, reply) in results.into_iter().zip(replies) {
        // A caller that gave up waiting is not an error of the log.
        let _ = reply.send(result);
    }
    add_elapsed(&stats.answer_nanos, started);
}
