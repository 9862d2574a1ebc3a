//! A device's identity: the 32-byte seed the platform keeps (behind [`KeyStore`]) and
//! the two keys derived from it — the Ed25519 key that is the iroh endpoint key and
//! the device id, and the age X25519 identity that envelopes are encrypted to.
//! It does not decide who may do what (that is `acl`).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::crypto::{self, CryptoError};
use crate::ids::DeviceId;

/// The one secret a device keeps: everything else is derived from it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Seed([u8; 32]);

impl Seed {
    /// A fresh random seed.
    pub fn generate() -> Self {
        Seed(crypto::random_bytes())
    }

    /// A seed from bytes the platform key store returned.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Seed(bytes)
    }

    /// The secret bytes, for handing to the platform key store.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Seed([redacted])")
    }
}

/// The key store failed to read or write the seed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyStoreError {
    /// The platform store failed.
    #[error("key store: {0}")]
    Io(#[from] std::io::Error),
    /// The stored seed is not 32 bytes.
    #[error("key store holds a damaged device key ({0} bytes, expected 32)")]
    Damaged(usize),
    /// The platform key store reported an error.
    #[error("key store: {0}")]
    Platform(String),
}

/// Where a device keeps its seed: the Android Keystore, the iOS Keychain, a 0600 file
/// for the CLI, memory for tests.
pub trait KeyStore: Send + Sync {
    /// The stored seed, or `None` on a device that has none yet.
    fn load(&self) -> Result<Option<Seed>, KeyStoreError>;
    /// Stores the seed durably, replacing any earlier one.
    fn save(&self, seed: &Seed) -> Result<(), KeyStoreError>;
}

/// A seed in a file readable only by its owner (mode 0600), written atomically.
#[derive(Debug, Clone)]
pub struct FileKeyStore {
    path: PathBuf,
}

impl FileKeyStore {
    /// A key store at `path` (the file need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileKeyStore { path: path.into() }
    }

    /// Where the seed lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl KeyStore for FileKeyStore {
    fn load(&self) -> Result<Option<Seed>, KeyStoreError> {
        let mut bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let seed = <[u8; 32]>::try_from(bytes.as_slice())
            .map(Seed)
            .map_err(|_| KeyStoreError::Damaged(bytes.len()));
        bytes.zeroize();
        seed.map(Some)
    }

    fn save(&self, seed: &Seed) -> Result<(), KeyStoreError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let tmp = self.path.with_extension("tmp");
        {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp)?;
            file.write_all(seed.expose())?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            // Make the rename durable; not every platform can sync a directory.
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// A seed held in memory: for tests and for apps that manage persistence themselves.
#[derive(Debug, Default)]
pub struct MemoryKeyStore(Mutex<Option<Seed>>);

impl MemoryKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl KeyStore for MemoryKeyStore {
    fn load(&self) -> Result<Option<Seed>, KeyStoreError> {
        let guard = self
            .0
            .lock()
            .map_err(|_| KeyStoreError::Platform("key store lock poisoned".into()))?;
        Ok(guard.clone())
    }

    fn save(&self, seed: &Seed) -> Result<(), KeyStoreError> {
        let mut guard = self
            .0
            .lock()
            .map_err(|_| KeyStoreError::Platform("key store lock poisoned".into()))?;
        *guard = Some(seed.clone());
        Ok(())
    }
}

/// The keys a device derives from its seed.
pub struct DeviceKeys {
    signing: iroh_base::SecretKey,
    age: age::x25519::Identity,
    id: DeviceId,
    recipient: age::x25519::Recipient,
}

impl DeviceKeys {
    /// Derives the device's keys from its seed (BLAKE3 key derivation, one context per
    /// key, so the two keys are independent).
    pub fn derive(seed: &Seed) -> Result<Self, CryptoError> {
        let mut ed = blake3::derive_key("hearth 2026-11 device ed25519 key v1", seed.expose());
        let mut x = blake3::derive_key("hearth 2026-11 device x25519 age key v1", seed.expose());
        let signing = iroh_base::SecretKey::from_bytes(&ed);
        let age = crypto::age_identity(&x);
        ed.zeroize();
        x.zeroize();
        let age = age?;
        let id = DeviceId::from(signing.public());
        let recipient = age.to_public();
        Ok(DeviceKeys {
            signing,
            age,
            id,
            recipient,
        })
    }

    /// This device's id (its Ed25519 public key, the iroh endpoint id).
    pub fn id(&self) -> DeviceId {
        self.id
    }

    /// The age recipient other devices encrypt envelopes to.
    pub fn recipient(&self) -> &age::x25519::Recipient {
        &self.recipient
    }

    /// The iroh endpoint secret key (the same Ed25519 key).
    pub fn endpoint_key(&self) -> &iroh_base::SecretKey {
        &self.signing
    }

    /// The age identity that opens envelopes addressed to this device.
    pub(crate) fn age_identity(&self) -> &age::x25519::Identity {
        &self.age
    }

    /// Signs `message` in `domain`.
    pub(crate) fn sign(&self, domain: crypto::Domain, message: &[u8]) -> [u8; 64] {
        crypto::sign(&self.signing, domain, message)
    }
}

impl fmt::Debug for DeviceKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceKeys")
            .field("id", &self.id)
            .field("secrets", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_stable_and_debug_is_redacted() {
        let seed = Seed::from_bytes([1u8; 32]);
        let a = DeviceKeys::derive(&seed).unwrap();
        let b = DeviceKeys::derive(&seed).unwrap();
        assert_eq!(a.id(), b.id());
        assert_eq!(a.recipient().to_string(), b.recipient().to_string());
        assert_eq!(format!("{seed:?}"), "Seed([redacted])");
        assert!(format!("{a:?}").contains("[redacted]"));
        let other = DeviceKeys::derive(&Seed::from_bytes([2u8; 32])).unwrap();
        assert_ne!(a.id(), other.id());
    }

    #[test]
    fn file_key_store_is_private_and_detects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileKeyStore::new(dir.path().join("device.key"));
        assert!(store.load().unwrap().is_none());
        let seed = Seed::generate();
        store.save(&seed).unwrap();
        assert_eq!(store.load().unwrap().unwrap().expose(), seed.expose());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(store.path(), b"short").unwrap();
        assert!(matches!(store.load(), Err(KeyStoreError::Damaged(5))));
    }
}
