//! A backend wrapper that fails on purpose: the Nth write, the Nth flush, or every
//! write, flush, snapshot and probe for space while "the disk is full" (until the
//! test says it is not), and every read while "unreadable" (as sled after a failed
//! write of its own). For fault-injection tests, simulations and the server's
//! test-only failpoint.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::backend::{Backend, SnapshotBytes, SnapshotSource};
use crate::error::StoreError;

/// Which operations fail. Shared between the test and the backend, so a test can
/// change the plan while the log is running.
#[derive(Debug, Default)]
pub struct FaultPlan {
    writes: AtomicU64,
    flushes: AtomicU64,
    /// 1-based number of the write that fails; 0 = none.
    fail_write_number: AtomicU64,
    /// 1-based number of the flush that fails; 0 = none.
    fail_flush_number: AtomicU64,
    disk_full: AtomicBool,
    /// Reads fail too, as sled's do after one of its own writes failed.
    unreadable: AtomicBool,
    /// When a write fails, keep what it wrote anyway (a write that reached the
    /// disk but whose acknowledgement was lost).
    write_lands_anyway: AtomicBool,
    /// When a flush fails, make the data durable anyway (the device flushed, then the
    /// acknowledgement was lost).
    flush_lands_anyway: AtomicBool,
}

impl FaultPlan {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Fails the `n`th write from now (1 = the next one).
    pub fn fail_write_in(&self, n: u64) {
        let done = self.writes.load(Ordering::SeqCst);
        self.fail_write_number.store(done + n, Ordering::SeqCst);
    }

    /// Fails the `n`th flush from now (1 = the next one).
    pub fn fail_flush_in(&self, n: u64) {
        let done = self.flushes.load(Ordering::SeqCst);
        self.fail_flush_number.store(done + n, Ordering::SeqCst);
    }

    /// While set ("the disk is full until told otherwise"), every write, flush,
    /// snapshot and probe for space fails with ENOSPC.
    pub fn set_disk_full(&self, full: bool) {
        self.disk_full.store(full, Ordering::SeqCst);
    }

    /// While set, every read of records, the header or the head marker fails with EIO,
    /// as sled's reads do once one of its own writes has failed (until reopened).
    /// Snapshots are files and stay readable.
    pub fn set_unreadable(&self, unreadable: bool) {
        self.unreadable.store(unreadable, Ordering::SeqCst);
    }

    /// Whether the disk is full (see [`FaultPlan::set_disk_full`]).
    pub fn disk_full(&self) -> bool {
        self.disk_full.load(Ordering::SeqCst)
    }

    /// Whether a failing write still stores its data (lost acknowledgement).
    pub fn set_write_lands_anyway(&self, lands: bool) {
        self.write_lands_anyway.store(lands, Ordering::SeqCst);
    }

    /// Whether a failing flush still makes the data durable (lost acknowledgement).
    pub fn set_flush_lands_anyway(&self, lands: bool) {
        self.flush_lands_anyway.store(lands, Ordering::SeqCst);
    }

    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::SeqCst)
    }

    fn injected(op: &'static str, kind: std::io::ErrorKind, what: &str) -> StoreError {
        StoreError::Io {
            op,
            source: std::io::Error::new(kind, format!("injected fault: {what}")),
        }
    }

    fn check_readable(&self, op: &'static str) -> Result<(), StoreError> {
        if self.unreadable.load(Ordering::SeqCst) {
            return Err(StoreError::Io {
                op,
                source: std::io::Error::from_raw_os_error(libc::EIO),
            });
        }
        Ok(())
    }

    fn disk_full_error(op: &'static str) -> StoreError {
        StoreError::Io {
            op,
            source: std::io::Error::from_raw_os_error(libc::ENOSPC),
        }
    }
}

/// Wraps a backend and fails the operations its [`FaultPlan`] names.
#[derive(Debug, Clone)]
pub struct FaultyBackend<B> {
    inner: B,
    plan: Arc<FaultPlan>,
}

impl<B: Backend> FaultyBackend<B> {
    pub fn new(inner: B, plan: Arc<FaultPlan>) -> Self {
        FaultyBackend { inner, plan }
    }

    pub fn inner(&self) -> &B {
        &self.inner
    }
}

impl<B: Backend> SnapshotSource for FaultyBackend<B> {
    fn load_snapshot(&self, name: &str) -> Result<Option<SnapshotBytes>, StoreError> {
        self.inner.load_snapshot(name)
    }
}

impl<B: Backend> Backend for FaultyBackend<B> {
    fn read_header(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.plan.check_readable("reading the header")?;
        self.inner.read_header()
    }

    fn write_header(&self, header: &[u8]) -> Result<(), StoreError> {
        if self.plan.disk_full.load(Ordering::SeqCst) {
            return Err(FaultPlan::disk_full_error("writing the header"));
        }
        self.inner.write_header(header)
    }

    fn read_head(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.plan.check_readable("reading the head marker")?;
        self.inner.read_head()
    }

    fn write(
        &self,
        first_position: u64,
        records: &[Vec<u8>],
        head: &[u8],
    ) -> Result<(), StoreError> {
        let number = self.plan.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if self.plan.disk_full.load(Ordering::SeqCst) {
            return Err(FaultPlan::disk_full_error("writing a batch of records"));
        }
        if number == self.plan.fail_write_number.load(Ordering::SeqCst) {
            if self.plan.write_lands_anyway.load(Ordering::SeqCst) {
                self.inner.write(first_position, records, head)?;
            }
            return Err(FaultPlan::injected(
                "writing a batch of records",
                std::io::ErrorKind::Other,
                "write failed",
            ));
        }
        self.inner.write(first_position, records, head)
    }

    fn flush(&self) -> Result<(), StoreError> {
        let number = self.plan.flushes.fetch_add(1, Ordering::SeqCst) + 1;
        if self.plan.disk_full.load(Ordering::SeqCst) {
            return Err(FaultPlan::disk_full_error("flushing"));
        }
        if number == self.plan.fail_flush_number.load(Ordering::SeqCst) {
            if self.plan.flush_lands_anyway.load(Ordering::SeqCst) {
                self.inner.flush()?;
            }
            return Err(FaultPlan::injected(
                "flushing",
                std::io::ErrorKind::Other,
                "flush failed",
            ));
        }
        self.inner.flush()
    }

    fn store_durable(&self) -> Result<(), StoreError> {
        self.inner.store_durable()
    }

    fn read(&self, position: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.plan.check_readable("reading a record")?;
        self.inner.read(position)
    }

    fn scan(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(u64, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        self.plan.check_readable("scanning records")?;
        self.inner.scan(from, to, visit)
    }

    fn last_position(&self) -> Result<Option<u64>, StoreError> {
        self.plan.check_readable("finding the last record")?;
        self.inner.last_position()
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.inner.size_on_disk()
    }

    fn save_snapshot(&self, name: &str, stored: &[u8]) -> Result<(), StoreError> {
        if self.plan.disk_full.load(Ordering::SeqCst) {
            return Err(FaultPlan::disk_full_error("writing a snapshot"));
        }
        self.inner.save_snapshot(name, stored)
    }

    fn remove_snapshot(&self, name: &str) -> Result<(), StoreError> {
        self.inner.remove_snapshot(name)
    }

    fn probe_writable(&self) -> Result<(), StoreError> {
        if self.plan.disk_full.load(Ordering::SeqCst) {
            return Err(FaultPlan::disk_full_error("probing for free space"));
        }
        self.inner.probe_writable()
    }
}
