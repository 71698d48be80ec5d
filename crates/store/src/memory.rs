//! An in-memory backend for tests and simulations: "durable" means "in this map, and
//! flushed". Writes since the last flush are remembered, so that [`MemoryBackend::crash`]
//! can take them back the way a power cut takes back what never reached the disk.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::{Arc, RwLock};

use crate::backend::{Backend, SnapshotBytes, SnapshotSource};
use crate::error::StoreError;

#[derive(Debug, Default)]
struct State {
    header: Option<Vec<u8>>,
    head: Option<Vec<u8>>,
    records: BTreeMap<u64, Vec<u8>>,
    snapshots: BTreeMap<String, Vec<u8>>,
    /// For each record written since the last flush: what it held before (undo log).
    unflushed_records: BTreeMap<u64, Option<Vec<u8>>>,
    /// The head before the first write since the last flush.
    unflushed_head: Option<Option<Vec<u8>>>,
}

/// A backend that keeps everything in memory. Clones share the same data, so a
/// test can drop a [`crate::Log`] and open another on the same backend, the way a
/// process reopens its data directory.
#[derive(Debug, Default, Clone)]
pub struct MemoryBackend {
    state: Arc<RwLock<State>>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().expect("memory backend lock poisoned")
    }

    /// A simulated power cut: every record and head written since the last successful
    /// flush is taken back. Headers and snapshots are written atomically and durably,
    /// as the sled backend does, and survive.
    pub fn crash(&self) {
        let mut state = self.state.write().expect("memory backend lock poisoned");
        let undo = std::mem::take(&mut state.unflushed_records);
        for (position, before) in undo {
            match before {
                Some(bytes) => state.records.insert(position, bytes),
                None => state.records.remove(&position),
            };
        }
        if let Some(head) = state.unflushed_head.take() {
            state.head = head;
        }
    }

    /// Replaces the stored bytes at `position` (for tamper tests).
    pub fn overwrite_record(&self, position: u64, bytes: Vec<u8>) {
        self.state
            .write()
            .expect("memory backend lock poisoned")
            .records
            .insert(position, bytes);
    }
}

impl SnapshotSource for MemoryBackend {
    fn load_snapshot(&self, name: &str) -> Result<Option<SnapshotBytes>, StoreError> {
        Ok(self
            .read_state()
            .snapshots
            .get(name)
            .cloned()
            .map(SnapshotBytes::from))
    }
}

impl Backend for MemoryBackend {
    fn read_header(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read_state().header.clone())
    }

    fn write_header(&self, header: &[u8]) -> Result<(), StoreError> {
        self.state
            .write()
            .expect("memory backend lock poisoned")
            .header = Some(header.to_vec());
        Ok(())
    }

    fn read_head(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read_state().head.clone())
    }

    fn write(
        &self,
        first_position: u64,
        records: &[Vec<u8>],
        head: &[u8],
    ) -> Result<(), StoreError> {
        let mut state = self.state.write().expect("memory backend lock poisoned");
        for (position, record) in (first_position..).zip(records) {
            let before = state.records.insert(position, record.clone());
            state.unflushed_records.entry(position).or_insert(before);
        }
        let before = state.head.replace(head.to_vec());
        state.unflushed_head.get_or_insert(before);
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        let mut state = self.state.write().expect("memory backend lock poisoned");
        state.unflushed_records.clear();
        state.unflushed_head = None;
        Ok(())
    }

    fn read(&self, position: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read_state().records.get(&position).cloned())
    }

    fn scan(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(u64, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let state = self.read_state();
        for (&position, bytes) in state.records.range(from..to) {
            if visit(position, bytes).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn last_position(&self) -> Result<Option<u64>, StoreError> {
        Ok(self.read_state().records.keys().next_back().copied())
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    fn save_snapshot(&self, name: &str, stored: &[u8]) -> Result<(), StoreError> {
        self.state
            .write()
            .expect("memory backend lock poisoned")
            .snapshots
            .insert(name.to_string(), stored.to_vec());
        Ok(())
    }

    fn remove_snapshot(&self, name: &str) -> Result<(), StoreError> {
        self.state
            .write()
            .expect("memory backend lock poisoned")
            .snapshots
            .remove(name);
        Ok(())
    }
}
