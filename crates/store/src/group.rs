//! Group commit: one writer thread drains a bounded queue of concurrent appends into
//! one durable commit (one write, one flush), then answers every caller. This is how
//! one fsync serves many appends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use crate::backend::Backend;
use crate::error::{AppendError, StoreError};
use crate::limits::{GROUP_COMMIT_EVENTS_MAX, QUEUE_DEPTH_MAX};
use crate::log::Log;
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
}

/// A writer thread that owns appends to a [`Log`]. Reads go straight to the log.
pub struct GroupCommitter<B: Backend> {
    log: Log<B>,
    queue: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
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
    /// Starts the writer thread.
    pub fn start(log: Log<B>) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH_MAX);
        let stats = Arc::new(GroupStats::default());
        let thread = {
            let log = log.clone();
            let stats = Arc::clone(&stats);
            std::thread::Builder::new()
                .name("ledger-group-commit".into())
                .spawn(move || run(log, receiver, &stats))
                .expect("spawning the group commit thread")
        };
        GroupCommitter {
            log,
            queue: Some(sender),
            thread: Some(thread),
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

    /// Stops taking appends, commits what is queued and joins the writer thread.
    pub fn shutdown(&mut self) {
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            // A panic in the writer has already failed its callers; nothing to add here.
            let _ = thread.join();
        }
    }
}

impl<B: Backend> Drop for GroupCommitter<B> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run<B: Backend>(log: Log<B>, mut queue: mpsc::Receiver<Job>, stats: &GroupStats) {
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
        let results = log.append_group(&batches);
        stats.commits.fetch_add(1, Ordering::Relaxed);
        stats
            .appends
            .fetch_add(batches.len() as u64, Ordering::Relaxed);
        for (result, reply) in results.into_iter().zip(replies) {
            // A caller that gave up waiting is not an error of the log.
            let _ = reply.send(result);
        }
    }
}
