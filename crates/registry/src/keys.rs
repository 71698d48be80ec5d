//! The master key: 32 random bytes held outside the data directory, from which the
//! registry derives the keys that wrap every per-person key and the dedup secret.
//!
//! The key is kept in a file (one line of standard base64) or an environment variable.
//! Loading refuses a key file inside the data directory (a backup of the directory would
//! then carry its own key, and erasure would mean nothing), a key file that group or
//! others may read, and anything that is not exactly 32 bytes. The bytes are zeroed when
//! the key is dropped and never printed: operators see the [`KeyId`] instead.

use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

use crate::cipher::{derive_key, hmac_sha256, random_bytes, Cipher, CipherKey};

/// Bytes of a master key.
pub const MASTER_KEY_BYTES: usize = 32;

/// The largest key file read, in bytes: a key is 44 characters of base64 and a newline.
const KEY_FILE_BYTES_MAX: u64 = 1024;

const KEY_ID_LABEL: &[u8] = b"welfare-ledger master key id v1";

/// A master key's public name: the first 8 bytes of HMAC-SHA256(key, "welfare-ledger
/// master key id v1"), shown as 16 hex digits. It tells keys apart without revealing them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 8]);

impl KeyId {
    pub(crate) fn from_bytes(bytes: [u8; 8]) -> KeyId {
        KeyId(bytes)
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// Why a master key could not be loaded or created. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("io error while {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the master key file {path} is inside the data directory {data_dir}: move it elsewhere (a backup of the data directory must not carry its own key)")]
    InsideDataDir { path: PathBuf, data_dir: PathBuf },
    #[error("the master key file {path} can be read or written by group or others (mode {mode:04o}): run `chmod 600 {path}`")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("the master key file {path} is larger than {KEY_FILE_BYTES_MAX} bytes: it should hold one line of base64")]
    FileTooLarge { path: PathBuf },
    #[error(
        "the master key from {source_name} is not base64 (one line of standard base64 is expected)"
    )]
    NotBase64 { source_name: String },
    #[error("the master key from {source_name} decodes to {bytes} bytes; a master key is exactly {MASTER_KEY_BYTES}")]
    WrongLength { source_name: String, bytes: usize },
    #[error("a file already exists at {path}: a new master key is never written over another")]
    FileExists { path: PathBuf },
}

impl KeyError {
    /// A stable machine-readable code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::Io { .. } => "io_error",
            KeyError::InsideDataDir { .. } => "master_key_inside_data_dir",
            KeyError::Permissions { .. } => "master_key_permissions",
            KeyError::FileTooLarge { .. } => "master_key_file_too_large",
            KeyError::NotBase64 { .. } => "master_key_not_base64",
            KeyError::WrongLength { .. } => "master_key_length",
            KeyError::FileExists { .. } => "master_key_file_exists",
        }
    }
}

/// The registry's master key. Cloning copies the bytes; every copy is zeroed when dropped.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; MASTER_KEY_BYTES]>,
    id: KeyId,
}

impl MasterKey {
    /// A new random key from the operating system's RNG.
    pub fn generate() -> MasterKey {
        MasterKey::from_secret(random_bytes::<MASTER_KEY_BYTES>())
    }

    /// A key from its bytes (tests, and callers with their own key store).
    pub fn from_bytes(bytes: [u8; MASTER_KEY_BYTES]) -> MasterKey {
        MasterKey::from_secret(Zeroizing::new(bytes))
    }

    fn from_secret(bytes: Zeroizing<[u8; MASTER_KEY_BYTES]>) -> MasterKey {
        let digest = hmac_sha256(bytes.as_ref(), KEY_ID_LABEL);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        MasterKey {
            bytes,
            id: KeyId(id),
        }
    }

    /// A key from the value of an environment variable holding it as base64.
    pub fn from_env_value(value: &str) -> Result<MasterKey, KeyError> {
        MasterKey::decode(value, || "the environment".to_owned())
    }

    /// Loads the key from `path` (one line of base64). Refuses a file inside `data_dir`
    /// (compared after canonicalising both), a file that group or others can read or write
    /// (Unix), and a key that is not 32 bytes.
    pub fn from_file(path: &Path, data_dir: &Path) -> Result<MasterKey, KeyError> {
        let io = |op| {
            move |source| KeyError::Io {
                op,
                path: path.to_path_buf(),
                source,
            }
        };
        let canonical = path
            .canonicalize()
            .map_err(io("resolving the master key file"))?;
        // A data directory that does not exist yet cannot contain the key.
        if let Ok(data_dir) = data_dir.canonicalize() {
            if canonical.starts_with(&data_dir) {
                return Err(KeyError::InsideDataDir {
                    path: path.to_path_buf(),
                    data_dir,
                });
            }
        }
        let file = File::open(&canonical).map_err(io("opening the master key file"))?;
        let metadata = file
            .metadata()
            .map_err(io("reading the metadata of the master key file"))?;
        check_permissions(path, &metadata)?;
        if metadata.len() > KEY_FILE_BYTES_MAX {
            return Err(KeyError::FileTooLarge {
                path: path.to_path_buf(),
            });
        }
        let mut text = Zeroizing::new(String::new());
        file.take(KEY_FILE_BYTES_MAX)
            .read_to_string(&mut text)
            .map_err(io("reading the master key file"))?;
        MasterKey::decode(&text, || format!("the file {}", path.display()))
    }

    /// Creates a new random key in a new file at `path` with mode 0600, and syncs the file
    /// and its directory. Never overwrites: an existing file is an error.
    pub fn generate_file(path: &Path) -> Result<MasterKey, KeyError> {
        let io = |op| {
            move |source| KeyError::Io {
                op,
                path: path.to_path_buf(),
                source,
            }
        };
        let key = MasterKey::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::FileExists {
                    path: path.to_path_buf(),
                }
            } else {
                io("creating the master key file")(source)
            }
        })?;
        let mut line = Zeroizing::new(STANDARD.encode(key.bytes.as_ref()));
        line.push('\n');
        file.write_all(line.as_bytes())
            .map_err(io("writing the master key file"))?;
        file.sync_all().map_err(io("syncing the master key file"))?;
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        sync_directory(parent).map_err(io("syncing the directory of the master key file"))?;
        Ok(key)
    }

    fn decode(text: &str, source_name: impl Fn() -> String) -> Result<MasterKey, KeyError> {
        let decoded =
            Zeroizing::new(
                STANDARD
                    .decode(text.trim())
                    .map_err(|_| KeyError::NotBase64 {
                        source_name: source_name(),
                    })?,
            );
        let bytes: [u8; MASTER_KEY_BYTES] =
            decoded
                .as_slice()
                .try_into()
                .map_err(|_| KeyError::WrongLength {
                    source_name: source_name(),
                    bytes: decoded.len(),
                })?;
        Ok(MasterKey::from_secret(Zeroizing::new(bytes)))
    }

    /// The key's public name (16 hex digits), shown to operators and stored in the registry.
    pub fn key_id(&self) -> KeyId {
        self.id
    }

    /// The key that wraps per-person keys and the dedup secret with `cipher`.
    pub(crate) fn wrapping_key(&self, cipher: Cipher) -> CipherKey {
        derive_key(self.bytes.as_ref(), "key wrapping", cipher)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey {{ id: {} }}", self.id)
    }
}

#[cfg(unix)]
fn check_permissions(path: &Path, metadata: &std::fs::Metadata) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _metadata: &std::fs::Metadata) -> Result<(), KeyError> {
    // Access control lists are the operator's responsibility on other systems.
    Ok(())
}

/// Makes a directory entry (a created or renamed file) durable.
pub(crate) fn sync_directory(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_is_stable_and_distinguishes_keys() {
        let key = MasterKey::from_bytes([7u8; 32]);
        assert_eq!(key.key_id(), MasterKey::from_bytes([7u8; 32]).key_id());
        assert_ne!(key.key_id(), MasterKey::from_bytes([8u8; 32]).key_id());
        assert_eq!(key.key_id().to_string().len(), 16);
        let expected = hmac_sha256(&[7u8; 32], b"welfare-ledger master key id v1");
        assert_eq!(key.key_id().to_string(), hex::encode(&expected[..8]));
    }

    #[test]
    fn debug_shows_only_the_id() {
        let key = MasterKey::from_bytes([7u8; 32]);
        let debug = format!("{key:?}");
        assert_eq!(debug, format!("MasterKey {{ id: {} }}", key.key_id()));
    }

    #[test]
    fn env_values() {
        let text = STANDARD.encode([9u8; 32]);
        let key = MasterKey::from_env_value(&format!(" {text}\n")).unwrap();
        assert_eq!(key.key_id(), MasterKey::from_bytes([9u8; 32]).key_id());
        assert!(matches!(
            MasterKey::from_env_value("not base64!"),
            Err(KeyError::NotBase64 { .. })
        ));
        let short = STANDARD.encode([9u8; 16]);
        let e = MasterKey::from_env_value(&short).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the master key from the environment decodes to 16 bytes; a master key is exactly 32"
        );
    }

    #[test]
    fn generate_file_then_load_it() {
        let keys = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let path = keys.path().join("master.key");
        let key = MasterKey::generate_file(&path).unwrap();
        let loaded = MasterKey::from_file(&path, data.path()).unwrap();
        assert_eq!(loaded.key_id(), key.key_id());
        assert!(matches!(
            MasterKey::generate_file(&path),
            Err(KeyError::FileExists { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn refuses_a_key_inside_the_data_directory() {
        let data = tempfile::tempdir().unwrap();
        let path = data.path().join("sub").join("master.key");
        std::fs::create_dir(data.path().join("sub")).unwrap();
        MasterKey::generate_file(&path).unwrap();
        let e = MasterKey::from_file(&path, data.path()).unwrap_err();
        assert!(matches!(e, KeyError::InsideDataDir { .. }), "{e}");
        // Also through a path that is not canonical.
        let indirect = data
            .path()
            .join("sub")
            .join("..")
            .join("sub")
            .join("master.key");
        assert!(matches!(
            MasterKey::from_file(&indirect, data.path()),
            Err(KeyError::InsideDataDir { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_key_readable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let keys = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let path = keys.path().join("master.key");
        MasterKey::generate_file(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = MasterKey::from_file(&path, data.path()).unwrap_err();
        assert!(
            matches!(e, KeyError::Permissions { mode: 0o644, .. }),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains(&format!("chmod 600 {}", path.display())),
            "{e}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_file_that_is_not_32_bytes_of_base64() {
        use std::os::unix::fs::OpenOptionsExt;
        let keys = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let write = |name: &str, content: &[u8]| {
            let path = keys.path().join(name);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .unwrap();
            file.write_all(content).unwrap();
            path
        };
        let short = write("short", STANDARD.encode([1u8; 31]).as_bytes());
        assert!(matches!(
            MasterKey::from_file(&short, data.path()),
            Err(KeyError::WrongLength { bytes: 31, .. })
        ));
        let garbage = write("garbage", b"%%%%\n");
        assert!(matches!(
            MasterKey::from_file(&garbage, data.path()),
            Err(KeyError::NotBase64 { .. })
        ));
        let large = write("large", &[b'A'; 2048]);
        assert!(matches!(
            MasterKey::from_file(&large, data.path()),
            Err(KeyError::FileTooLarge { .. })
        ));
        let missing = keys.path().join("missing");
        let e = MasterKey::from_file(&missing, data.path()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("io error while resolving the master key file"),
            "{e}"
        );
    }
}
