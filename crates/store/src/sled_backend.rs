//! The embedded default backend: one sled database in a data directory.
//!
//! sled 0.34's `flush()` ends in `sync_file_range(2)` on Linux, which neither
//! flushes the device's write cache nor the file's metadata, and it never syncs the
//! blob files it writes for very large pages. `flush` here adds `fdatasync(2)` of the
//! database file and an fsync of every new blob file (docs/decisions/0002).

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::backend::Backend;
use crate::codec::{position_of_key, record_key, HEADER_KEY, HEAD_KEY, RECORD_KEY_PREFIX};
use crate::error::StoreError;

/// The name of the sled tree that holds the log.
pub const LOG_TREE: &str = "log";

/// The log in a sled database.
#[derive(Debug)]
pub struct SledBackend {
    path: PathBuf,
    db: sled::Db,
    tree: sled::Tree,
    /// sled's single data file, kept open for `fdatasync`.
    data_file: File,
    synced_blobs: Mutex<HashSet<OsString>>,
}

impl SledBackend {
    /// Opens (creating if needed) the sled database in `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&path).map_err(StoreError::io("creating the data directory"))?;
        let db = sled::Config::new()
            .path(&path)
            .open()
            .map_err(StoreError::backend("opening the sled database"))?;
        Self::from_db(path, db)
    }

    /// Uses an already open sled database (so that other components can keep their
    /// trees in the same database and share its flushes).
    pub fn from_db(path: PathBuf, db: sled::Db) -> Result<Self, StoreError> {
        let tree = db
            .open_tree(LOG_TREE)
            .map_err(StoreError::backend("opening the log tree"))?;
        let data_file = File::open(path.join("db"))
            .map_err(StoreError::io("opening sled's data file for fdatasync"))?;
        // Make the directory entries of sled's files durable once, so that the files
        // themselves cannot vanish in a power loss.
        sync_dir(&path)?;
        let backend = SledBackend {
            path,
            db,
            tree,
            data_file,
            synced_blobs: Mutex::new(HashSet::new()),
        };
        // Blobs that exist at open were made durable by whoever wrote them... or not:
        // sync them now rather than trust a previous process.
        backend.sync_new_blobs()?;
        Ok(backend)
    }

    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sync_new_blobs(&self) -> Result<(), StoreError> {
        let dir = self.path.join("blobs");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io("listing sled's blob directory")(e)),
        };
        let mut synced = self.synced_blobs.lock().expect("blob set lock poisoned");
        let mut any_new = false;
        for entry in entries {
            let entry = entry.map_err(StoreError::io("listing sled's blob directory"))?;
            let name = entry.file_name();
            if synced.contains(&name) {
                continue;
            }
            File::open(entry.path())
                .and_then(|f| f.sync_all())
                .map_err(StoreError::io("syncing a sled blob file"))?;
            synced.insert(name);
            any_new = true;
        }
        if any_new {
            sync_dir(&dir)?;
        }
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io("syncing a directory"))
}

impl Backend for SledBackend {
    fn read_header(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tree
            .get(HEADER_KEY)
            .map_err(StoreError::backend("reading the header"))?
            .map(|v| v.to_vec()))
    }

    fn write_header(&self, header: &[u8]) -> Result<(), StoreError> {
        self.tree
            .insert(HEADER_KEY, header)
            .map_err(StoreError::backend("writing the header"))?;
        self.flush()
    }

    fn read_head(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tree
            .get(HEAD_KEY)
            .map_err(StoreError::backend("reading the head marker"))?
            .map(|v| v.to_vec()))
    }

    fn write(
        &self,
        first_position: u64,
        records: &[Vec<u8>],
        head: &[u8],
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (position, record) in (first_position..).zip(records) {
            batch.insert(&record_key(position)[..], record.as_slice());
        }
        batch.insert(HEAD_KEY, head);
        self.tree
            .apply_batch(batch)
            .map_err(StoreError::backend("writing a batch of records"))
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db
            .flush()
            .map_err(StoreError::backend("flushing the database"))?;
        self.data_file
            .sync_data()
            .map_err(StoreError::io("fdatasync of sled's data file"))?;
        self.sync_new_blobs()
    }

    fn read(&self, position: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .tree
            .get(record_key(position))
            .map_err(StoreError::backend("reading a record"))?
            .map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        from: u64,
        to: u64,
        visit: &mut dyn FnMut(u64, &[u8]) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        if from >= to {
            return Ok(());
        }
        for item in self.tree.range(record_key(from)..record_key(to)) {
            let (key, value) = item.map_err(StoreError::backend("scanning records"))?;
            let position = position_of_key(&key).map_err(|e| StoreError::Corruption {
                position: None,
                what: e.0,
            })?;
            if visit(position, &value).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn last_position(&self) -> Result<Option<u64>, StoreError> {
        let upper = [RECORD_KEY_PREFIX + 1];
        let last = self
            .tree
            .range(&[RECORD_KEY_PREFIX][..]..&upper[..])
            .next_back()
            .transpose()
            .map_err(StoreError::backend("finding the last record"))?;
        last.map(|(key, _)| {
            position_of_key(&key).map_err(|e| StoreError::Corruption {
                position: None,
                what: e.0,
            })
        })
        .transpose()
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db
            .size_on_disk()
            .map_err(StoreError::backend("measuring the database size"))
    }
}
