//! The one façade a device uses: create or open the member's vault, read and edit the
//! journal (plan, check-ins, consent ledger), subscribe to changes, take in bundles
//! from other devices, compact, back up and restore. Every edit becomes a signed,
//! encrypted bundle that is durable in the store before the call returns; the
//! decrypted document lives only in memory. Networking is not here (that is `sync`).

mod backup;
mod center;
mod journal;
mod keys;
mod replica;
mod share;
mod withheld;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::access::{AclError, Role};
use crate::bundle::BundleError;
use crate::crypto::{self, CryptoError};
use crate::doc::{DocError, JournalDoc, Model, ShareDoc};
use crate::envelope::EnvelopeError;
use crate::identity::{DeviceKeys, KeyStore, KeyStoreError, Seed};
use crate::ids::{DeviceId, DocId};
pub use crate::item::SyncItem;
use crate::model::{
    CheckIn, CheckInId, CheckInPatch, NewCheckIn, PlanSection, RecoveryPlan, Supporter,
    ValidationError,
};
use crate::pairing::PeerAddr;
use crate::store::{Batch, Store, StoreError};
use crate::sync::message::{MAX_WITNESS_HUBS, Witness};
use crate::wire;

pub use backup::{BACKUP_FORMAT, BackupError, MIN_PASSPHRASE_CHARS};
use journal::{Journal, Source};
pub use share::{ShareCode, SharedWithMe};
pub use withheld::{CLOCK_MARGIN_MS, Gap, Rollback};

/// The store file inside a vault directory.
pub const STORE_FILE: &str = "hearth.redb";
/// After this many live bundles in the journal, an edit also writes a snapshot that
/// supersedes them (loading thousands of small bundles is 3.4× slower and 12.5× larger;
/// each bundle costs a signature check and an age unwrap on every open and first sync).
pub const COMPACT_AFTER: usize = 64;

const META_JOURNAL: &str = "journal";
const META_ACTOR: &str = "actor";
const META_PEER: &str = "peer/";
/// What a hub held at the last reconciliation with it (`hubheld/<hub>`).
const META_HUB_HELD: &str = "hubheld/";
/// What that reconciliation found the hub no longer listed (`hubfound/<hub>`).
const META_HUB_FOUND: &str = "hubfound/";
/// What the last meeting with another of the member's devices found a hub withheld
/// from this one (`witnessfound/<hub>/<device>`).
const META_WITNESS_FOUND: &str = "witnessfound/";
const META_PORT: &str = "listen_port";

/// Where a vault keeps its store.
#[derive(Debug, Clone)]
pub enum Location {
    /// A directory holding `hearth.redb`.
    Dir(PathBuf),
    /// Memory only (tests, benchmarks).
    Memory,
}

impl Location {
    fn open_store(&self, create: bool) -> Result<Store, VaultError> {
        match self {
            Location::Dir(dir) => {
                if create && !dir.exists() {
                    std::fs::create_dir_all(dir).map_err(|e| VaultError::Io(e.to_string()))?;
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::PermissionsExt;
                        let _ =
                            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
                    }
                }
                let path = dir.join(STORE_FILE);
                Store::open(&path, create).map_err(|e| match e {
                    StoreError::Missing(p) => VaultError::NoVault(p.display().to_string()),
                    other => other.into(),
                })
            }
            Location::Memory => Ok(Store::in_memory()?),
        }
    }
}

/// A vault operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// There is no vault here yet.
    #[error("no Hearth vault at {0}")]
    NoVault(String),
    /// A vault already exists where one was to be created.
    #[error("a Hearth vault already exists here")]
    AlreadyExists,
    /// The key store failed.
    #[error(transparent)]
    KeyStore(#[from] KeyStoreError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The document refused an edit.
    #[error(transparent)]
    Doc(#[from] DocError),
    /// A value is out of bounds.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Encryption failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A coach's card does not check.
    #[error(transparent)]
    Card(#[from] crate::share::CardError),
    /// A bundle failed.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// An ACL record failed.
    #[error(transparent)]
    Acl(#[from] AclError),
    /// An envelope failed.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The stored data cannot be read back.
    #[error("the vault is damaged: {0}")]
    Damaged(String),
    /// This device holds no key for the document.
    #[error("this device has no key for the journal (it was removed, or never paired)")]
    NoKey,
    /// A backup could not be made or used.
    #[error(transparent)]
    Backup(#[from] BackupError),
    /// This device may not do that.
    #[error("not allowed: {0}")]
    Denied(String),
    /// What was asked for is not there (a sign-up, a session, a center).
    #[error("{0}")]
    NotFound(String),
    /// A file operation failed.
    #[error("file: {0}")]
    Io(String),
}

/// Whether a change was made here or arrived from another device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// This device.
    Local,
    /// Another device, through sync.
    Remote,
}

/// Something in the vault changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultEvent {
    /// A document changed.
    Changed {
        /// Which.
        doc: DocId,
        /// Where the change came from.
        origin: Origin,
    },
}

/// What happened to items handed to [`Vault::ingest`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestReport {
    /// New items stored.
    pub accepted: usize,
    /// Items already held.
    pub duplicates: usize,
    /// Items dropped, with why.
    pub rejected: Vec<String>,
}

/// What kind of identity the journal's access log names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceKind {
    /// One of the member's devices.
    Device,
    /// The key inside a backup file: it can add the device a backup is restored on.
    BackupKey,
    /// A center's hub, which stores the journal without a key.
    Hub,
}

/// Whether an identity the access log names still has access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceState {
    /// It has access.
    Active,
    /// It was removed: it can read nothing written since, and write nothing.
    Removed,
    /// It was removed at the same time as it removed another device: Hearth removes
    /// both (there is no telling which was the member's), see `ARCHITECTURE.md`.
    RemovedInConflict,
}

/// One identity the journal's access log names: a device, a backup key, a hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Its id.
    pub id: DeviceId,
    /// What it is.
    pub kind: DeviceKind,
    /// Its role.
    pub role: Role,
    /// Whether it still has access.
    pub state: DeviceState,
    /// Whether it is the device asking.
    pub this_device: bool,
}

/// What a removal did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemovalReport {
    /// How many backup keys it retired (their backups restore nothing written from
    /// now on: the member should make a new backup).
    pub backups_retired: usize,
    /// Devices that remain but could not be sealed the new key to (they need to be
    /// added again).
    pub skipped: Vec<DeviceId>,
}

/// Whether the member has a backup that restores the journal as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackupState {
    /// A backup made since the last removal restores everything.
    Current,
    /// No backup was ever made on any of the member's devices.
    Never,
    /// A removal retired every backup: make a new one.
    Retired,
}

impl BackupState {
    /// What to tell the member, in plain words (the CLI and the apps show the same).
    pub fn advice(self) -> Option<&'static str> {
        match self {
            BackupState::Current => None,
            BackupState::Never => Some(
                "You have no backup yet: if you lose this device, your journal is gone. Make one with a passphrase.",
            ),
            BackupState::Retired => Some(
                "A device was removed, so your earlier backups no longer restore your journal. Make a new backup now.",
            ),
        }
    }
}

impl DeviceKind {
    /// How to name it to the member.
    pub fn label(self) -> &'static str {
        match self {
            DeviceKind::Device => "device",
            DeviceKind::BackupKey => "backup key",
            DeviceKind::Hub => "center hub",
        }
    }
}

impl DeviceState {
    /// How to describe it to the member.
    pub fn label(self) -> &'static str {
        match self {
            DeviceState::Active => "has access",
            DeviceState::Removed => "removed",
            DeviceState::RemovedInConflict => {
                "removed (it removed another device at the same time, so both were removed)"
            }
        }
    }
}

/// The public half of a device, which an owner needs to add it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePublic {
    /// Its id.
    pub id: DeviceId,
    /// Its age recipient (`age1…`).
    pub recipient: String,
}

/// What a compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactReport {
    /// Bundles the snapshot replaced.
    pub superseded: usize,
    /// The snapshot's size in bytes.
    pub snapshot_bytes: usize,
}

struct Inner {
    store: Store,
    device: DeviceKeys,
    journal: Journal,
    /// The share documents this device holds (see `vault/share`).
    shares: BTreeMap<DocId, Journal<ShareDoc>>,
}

/// A member's vault on one device.
pub struct Vault {
    inner: Mutex<Inner>,
    /// Who may hold the journal, readable while an edit holds `inner` through its
    /// fsync: a live push asks this, and must not wait for the edit's write.
    holders: RwLock<Holders>,
    /// Ticks whenever `holders` changes, so open connections re-check their peer.
    access: tokio::sync::watch::Sender<u64>,
    events: broadcast::Sender<VaultEvent>,
    outgoing: broadcast::Sender<Outgoing>,
    location: Location,
    /// What each hub listed during the syncs in progress (`withheld`).
    hubs: withheld::HubWatch,
}

/// The journal's id, and for it and every share the devices its access log lets
/// hold it, as of the last change.
#[derive(Debug, PartialEq)]
struct Holders {
    journal: DocId,
    docs: BTreeMap<DocId, BTreeSet<DeviceId>>,
}

/// The devices a doc's access log lets hold it.
fn holders_of<D: Model>(j: &Journal<D>) -> BTreeSet<DeviceId> {
    let state = j.state();
    state
        .members()
        .map(|m| m.device)
        .filter(|d| state.may_hold(d))
        .collect()
}

/// Who may hold each doc: a share this device learned of from the ledger but holds
/// nothing of yet is asked of whoever may hold the journal (the member's devices and
/// hubs), so its first sync can bring it.
fn all_holders(inner: &Inner) -> Vec<(DocId, BTreeSet<DeviceId>)> {
    let journal = holders_of(&inner.journal);
    let mut out = Vec::with_capacity(1 + inner.shares.len());
    for (id, share) in &inner.shares {
        let holders = if share.state().has_genesis() {
            holders_of(share)
        } else {
            journal.clone()
        };
        out.push((*id, holders));
    }
    out.push((inner.journal.id(), journal));
    out
}

impl Holders {
    fn of(inner: &Inner) -> Self {
        Holders {
            journal: inner.journal.id(),
            docs: all_holders(inner).into_iter().collect(),
        }
    }

    /// Whether `device` may hold `doc` (the journal or a share).
    fn holds(&self, doc: &DocId, device: &DeviceId) -> bool {
        self.docs.get(doc).is_some_and(|d| d.contains(device))
    }
}

/// The vault's lock; on release it updates [`Holders`] from every document, so
/// whatever changed an access log (an edit, a sync, a failed write that reloaded) is
/// seen.
struct Locked<'a> {
    guard: MutexGuard<'a, Inner>,
    holders: &'a RwLock<Holders>,
    access: &'a tokio::sync::watch::Sender<u64>,
}

impl std::ops::Deref for Locked<'_> {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.guard
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Inner {
        &mut self.guard
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        for (id, now) in all_holders(&self.guard) {
            update(self.holders, self.access, id, now);
        }
    }
}

/// Updates who may hold `j` when it changed, and tells open connections.
fn refresh<D: Model>(
    holders: &RwLock<Holders>,
    access: &tokio::sync::watch::Sender<u64>,
    j: &Journal<D>,
) {
    update(holders, access, j.id(), holders_of(j));
}

fn update(
    holders: &RwLock<Holders>,
    access: &tokio::sync::watch::Sender<u64>,
    id: DocId,
    now: BTreeSet<DeviceId>,
) {
    let stale = holders
        .read()
        .map_or(true, |h| h.docs.get(&id) != Some(&now));
    if stale && let Ok(mut h) = holders.write() {
        h.docs.insert(id, now);
        access.send_modify(|n| *n += 1);
    }
}

/// Items this device just made, for pushing to connected peers.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The doc.
    pub doc: DocId,
    /// The new items.
    pub items: Vec<SyncItem>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

fn new_actor() -> automerge::ActorId {
    automerge::ActorId::from(crypto::random_bytes::<16>().to_vec())
}

/// This device's keys from its key store, creating its seed first if it has none.
pub fn device_keys_of(keys: &dyn KeyStore) -> Result<DeviceKeys, VaultError> {
    device_keys(keys)
}

/// Loads the device seed, creating and saving one if the key store has none.
fn device_keys(keys: &dyn KeyStore) -> Result<DeviceKeys, VaultError> {
    let seed = match keys.load()? {
        Some(seed) => seed,
        None => {
            let seed = Seed::generate();
            keys.save(&seed)?;
            seed
        }
    };
    Ok(DeviceKeys::derive(&seed)?)
}

impl Vault {
    /// This device's public keys, creating its seed first if it has none (a device
    /// about to join another's vault hands these to the inviting device).
    pub fn prepare_device(keys: &dyn KeyStore) -> Result<DevicePublic, VaultError> {
        let device = device_keys(keys)?;
        Ok(DevicePublic {
            id: device.id(),
            recipient: device.recipient().to_string(),
        })
    }

    /// Whether a vault exists in `dir`.
    pub fn exists(dir: &Path) -> bool {
        dir.join(STORE_FILE).exists()
    }

    /// Creates a new vault with an empty journal. `name` is the name the member
    /// chooses to be called by (optional, never a legal name).
    pub fn create(
        location: Location,
        keys: &dyn KeyStore,
        name: Option<&str>,
    ) -> Result<Self, VaultError> {
        let store = location.open_store(true)?;
        if store.meta(META_JOURNAL)?.is_some() {
            return Err(VaultError::AlreadyExists);
        }
        let device = device_keys(keys)?;
        let actor = new_actor();
        let mut batch = Batch::new();
        let journal = Journal::create(&device, actor.clone(), name, &mut batch)?;
        batch
            .put_meta(META_JOURNAL, journal.id().as_bytes().to_vec())
            .put_meta(META_ACTOR, actor.to_bytes().to_vec());
        store.commit(batch, true)?;
        Self::assemble(location, store, device, journal)
    }

    /// Opens the vault: reads, verifies and decrypts the journal's bundles.
    pub fn open(location: Location, keys: &dyn KeyStore) -> Result<Self, VaultError> {
        let store = location.open_store(false)?;
        let doc = store
            .meta(META_JOURNAL)?
            .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
            .map(DocId)
            .ok_or_else(|| VaultError::NoVault(format!("{location:?}")))?;
        let actor = store
            .meta(META_ACTOR)?
            .map(automerge::ActorId::from)
            .ok_or_else(|| VaultError::Damaged("no actor id".into()))?;
        let seed = keys
            .load()?
            .ok_or_else(|| VaultError::Damaged("the device key is missing".into()))?;
        let device = DeviceKeys::derive(&seed)?;
        let journal = Journal::load(&store, &device, doc, actor)?;
        Self::assemble(location, store, device, journal)
    }

    /// Joins a vault another of the member's devices created: `items` are what that
    /// device sent after adding this one (its ACL records, envelopes and bundles).
    pub fn join(
        location: Location,
        keys: &dyn KeyStore,
        journal: DocId,
        items: Vec<SyncItem>,
    ) -> Result<Self, VaultError> {
        let store = location.open_store(true)?;
        if store.meta(META_JOURNAL)?.is_some() {
            return Err(VaultError::AlreadyExists);
        }
        let device = device_keys(keys)?;
        let actor = new_actor();
        let mut batch = Batch::new();
        let mut j = Journal::empty(journal, actor.clone());
        j.ingest(&store, &device, items, Source::Received, &mut batch)?;
        j.ready(&device)?;
        batch
            .put_meta(META_JOURNAL, journal.as_bytes().to_vec())
            .put_meta(META_ACTOR, actor.to_bytes().to_vec());
        store.commit(batch, true)?;
        Self::assemble(location, store, device, j)
    }

    fn assemble(
        location: Location,
        store: Store,
        device: DeviceKeys,
        journal: Journal,
    ) -> Result<Self, VaultError> {
        let (events, _) = broadcast::channel(256);
        let (outgoing, _) = broadcast::channel(1024);
        let shares = share::load_all(&store, &device, &journal)?;
        let inner = Inner {
            store,
            device,
            journal,
            shares,
        };
        Ok(Vault {
            holders: RwLock::new(Holders::of(&inner)),
            access: tokio::sync::watch::Sender::new(0),
            inner: Mutex::new(inner),
            events,
            outgoing,
            location,
            hubs: withheld::HubWatch::default(),
        })
    }

    fn lock(&self) -> Result<Locked<'_>, VaultError> {
        let guard = self
            .inner
            .lock()
            .map_err(|_| VaultError::Damaged("an earlier operation panicked".into()))?;
        Ok(Locked {
            guard,
            holders: &self.holders,
            access: &self.access,
        })
    }

    /// The journal, if `device` may hold it; never waits for an edit in progress.
    fn held_by(&self, device: &DeviceId) -> Option<DocId> {
        let h = self.holders.read().ok()?;
        h.holds(&h.journal, device).then_some(h.journal)
    }

    /// Every doc `device` may hold here (the journal first), never waiting for an
    /// edit in progress.
    fn docs_held_by(&self, device: &DeviceId) -> Vec<DocId> {
        let Ok(h) = self.holders.read() else {
            return Vec::new();
        };
        let journal = h.holds(&h.journal, device).then_some(h.journal);
        journal
            .into_iter()
            .chain(
                h.docs
                    .iter()
                    .filter(|(id, d)| **id != h.journal && d.contains(device))
                    .map(|(id, _)| *id),
            )
            .collect()
    }

    /// Whether `device` may hold `doc` here.
    fn holds(&self, doc: &DocId, device: &DeviceId) -> bool {
        self.holders.read().is_ok_and(|h| h.holds(doc, device))
    }

    fn read<T>(&self, f: impl FnOnce(&Journal) -> T) -> Result<T, VaultError> {
        Ok(f(&self.lock()?.journal))
    }

    fn notify(&self, origin: Origin, doc: DocId) {
        // No subscribers is fine.
        let _ = self.events.send(VaultEvent::Changed { doc, origin });
    }

    /// Hands new local items to connected peers (before the local fsync completes, so
    /// peers see an edit while it is being made durable here).
    fn send_out<D: Model>(&self, j: &Journal<D>, batch: &Batch) {
        // A removal's items must not be pushed to the device it removes.
        refresh(&self.holders, &self.access, j);
        if self.outgoing.receiver_count() > 0 {
            let _ = self.outgoing.send(Outgoing {
                doc: j.id(),
                items: batch.items(),
            });
        }
    }

    /// New items this device makes, as they are made (for live sync).
    pub fn subscribe_outgoing(&self) -> broadcast::Receiver<Outgoing> {
        self.outgoing.subscribe()
    }

    /// Runs an edit on the journal; when it changed something, the change becomes a
    /// bundle that is durable before this returns. On a failed write the in-memory
    /// journal is reloaded from the store, so memory never runs ahead of disk.
    fn edit<T>(
        &self,
        f: impl FnOnce(&mut JournalDoc) -> Result<(Option<Vec<u8>>, T), VaultError>,
    ) -> Result<T, VaultError> {
        let mut guard = self.lock()?;
        let (change, out) = f(guard.journal.doc_mut())?;
        let Some(change) = change else {
            return Ok(out);
        };
        let kind = crate::bundle::BundleKind::Changes;
        self.write_locked(&mut guard, |j, d, b| {
            j.author(d, kind, &change, Vec::new(), b)
        })?;
        if guard.journal.live_bundles() > COMPACT_AFTER && guard.journal.is_owner(&guard.device) {
            self.compact_after(&mut guard, "the edit is saved");
        }
        let doc = guard.journal.id();
        drop(guard);
        self.notify(Origin::Local, doc);
        Ok(out)
    }

    /// This device's id.
    pub fn device_id(&self) -> Result<DeviceId, VaultError> {
        Ok(self.lock()?.device.id())
    }

    /// The journal's document id.
    pub fn journal_id(&self) -> Result<DocId, VaultError> {
        self.read(|j| j.id())
    }

    /// The member's chosen name.
    pub fn name(&self) -> Result<Option<String>, VaultError> {
        self.read(|j| j.doc().name())
    }

    /// The recovery plan.
    pub fn plan(&self) -> Result<RecoveryPlan, VaultError> {
        self.read(|j| j.doc().plan())
    }

    /// Every check-in, newest first.
    pub fn checkins(&self) -> Result<Vec<CheckIn>, VaultError> {
        self.read(|j| {
            let mut all = j.doc().checkins();
            all.reverse();
            all
        })
    }

    /// One check-in.
    pub fn checkin(&self, id: CheckInId) -> Result<Option<CheckIn>, VaultError> {
        self.read(|j| j.doc().checkin(id))
    }

    /// Every identity the journal's access log names: the member's devices, backup
    /// keys, hubs; current ones first.
    pub fn devices(&self) -> Result<Vec<DeviceInfo>, VaultError> {
        let guard = self.lock()?;
        let me = guard.device.id();
        let mut out: Vec<DeviceInfo> = guard
            .journal
            .state()
            .members()
            .map(|m| DeviceInfo {
                id: m.device,
                kind: match m.role {
                    Role::Store => DeviceKind::Hub,
                    Role::Recovery => DeviceKind::BackupKey,
                    Role::Owner | Role::Writer | Role::Reader | Role::Commenter => {
                        DeviceKind::Device
                    }
                },
                role: m.role,
                state: match &m.removed {
                    None => DeviceState::Active,
                    Some(r) if r.mutual => DeviceState::RemovedInConflict,
                    Some(_) => DeviceState::Removed,
                },
                this_device: m.device == me,
            })
            .collect();
        out.sort_by_key(|d| (d.state != DeviceState::Active, d.kind as u8, !d.this_device));
        Ok(out)
    }

    /// Whether the member has a backup that restores the journal as it is now.
    pub fn backup_state(&self) -> Result<BackupState, VaultError> {
        self.read(|j| {
            let keys: Vec<bool> = j
                .state()
                .members()
                .filter(|m| m.role == Role::Recovery)
                .map(|m| m.is_current())
                .collect();
            if keys.iter().any(|current| *current) {
                BackupState::Current
            } else if keys.is_empty() {
                BackupState::Never
            } else {
                BackupState::Retired
            }
        })
    }

    /// The epoch and key commitment this device seals new bundles with, if it holds a
    /// key of the newest epoch (shown by `status`; equal on every device in sync).
    pub fn key_in_use(&self) -> Result<Option<(u32, crate::access::EpochKey)>, VaultError> {
        self.read(|j| {
            j.keys()
                .for_write(j.state())
                .map(|(epoch, key)| (epoch, key.commitment()))
        })
    }

    /// Whether this device still has access to the journal (a removed device opens
    /// read-only: what it held stays readable here, nothing new reaches it).
    pub fn is_removed(&self) -> Result<bool, VaultError> {
        let guard = self.lock()?;
        let me = guard.device.id();
        Ok(!guard.journal.state().may_hold(&me))
    }

    /// What this device can tell it was not given, in plain words for the member: gaps
    /// in an author's chain (the hub may be withholding entries), and what a hub held
    /// when this device last reconciled with it and no longer listed at the latest
    /// reconciliation (a rollback, or a withheld removal).
    pub fn withheld(&self) -> Result<Vec<String>, VaultError> {
        let guard = self.lock()?;
        let me = guard.device.id();
        let mut out: Vec<String> = guard
            .journal
            .gaps()
            .iter()
            .map(|g| g.describe(&me))
            .collect();
        for prefix in [META_HUB_FOUND, META_WITNESS_FOUND] {
            for (key, bytes) in guard.store.meta_prefixed(prefix)? {
                let hub = key[prefix.len()..].split('/').next().unwrap_or_default();
                let Ok(hub) = hub.parse::<DeviceId>() else {
                    continue;
                };
                let found: Vec<Rollback> = postcard::from_bytes(&bytes).unwrap_or_default();
                out.extend(found.iter().map(|f| f.describe(&hub, &me)));
            }
        }
        Ok(out)
    }

    fn is_hub(&self, peer: &DeviceId) -> bool {
        self.peers().is_ok_and(|p| {
            p.iter()
                .any(|p| p.hub && DeviceId::from(p.addr.id) == *peer)
        })
    }

    /// A hub's summary of the journal (see [`Vault::withheld`]).
    fn observe_hub_summary(&self, peer: &DeviceId, acl_len: u32) {
        if self.is_hub(peer) {
            self.hubs.summary(*peer, acl_len);
        }
    }

    /// The ids a hub lists for the journal.
    fn observe_hub_ids(&self, peer: &DeviceId, ids: &[crate::item::ItemId]) {
        if self.is_hub(peer) {
            self.hubs.ids(*peer, ids);
        }
    }

    /// A reconciliation with a hub ended: what it held before and no longer lists is
    /// kept as a finding (until the next reconciliation with it), and what it holds now
    /// is remembered.
    fn observe_hub_reconciled(&self, peer: &DeviceId) -> Result<(), VaultError> {
        if !self.is_hub(peer) {
            return Ok(());
        }
        let guard = self.lock()?;
        let doc = guard.journal.id();
        let before = stored_hub_held(&guard.store, peer)?.unwrap_or_default();
        let (_, acl_len) = guard.store.item_ids(&doc)?;
        let now = withheld::HubHeld {
            acl_len: acl_len as u32,
            frontier: guard.journal.newest_by_author(),
            // When, so the member's other devices can tell whose view is the later.
            at_ms: wire::now_ms(),
        };
        let (found, remember) = self
            .hubs
            .reconciled(*peer, &before, now, |id| guard.journal.replaced(id));
        // The usual case writes nothing: the hub holds what it held and nothing new is
        // found. The time is kept in memory meanwhile (`HubWatch`); the stored one may
        // be older, which only makes this device's view look earlier to a witness
        // comparison: it then finds less, never more.
        let mut batch = Batch::new();
        let mut changed = stage_findings(
            &guard.store,
            &mut batch,
            &format!("{META_HUB_FOUND}{peer}"),
            &found,
        )?;
        if !remember.same_view(&before) {
            batch.put_meta(
                &format!("{META_HUB_HELD}{peer}"),
                wire::to_postcard(&remember),
            );
            changed = true;
        }
        if changed {
            // Not fsync'd on its own (it is not the member's data, and a one-shot sync
            // must not wait for it): the next durable write, or closing the vault, makes
            // it so.
            guard.store.commit(batch, false)?;
        }
        Ok(())
    }

    /// What this device saw each hub hold at its last reconciliation with it, for
    /// another of the member's own devices (an owner that is not a hub); `None` for
    /// anyone else.
    fn witness_for(&self, peer: &DeviceId) -> Result<Option<Vec<Witness>>, VaultError> {
        if self.is_hub(peer) {
            return Ok(None);
        }
        let guard = self.lock()?;
        if !guard.journal.state().is_owner(peer) {
            return Ok(None);
        }
        let mut out = Vec::new();
        for (key, bytes) in guard.store.meta_prefixed(META_HUB_HELD)? {
            let (Ok(hub), Ok(held)) = (
                key[META_HUB_HELD.len()..].parse::<DeviceId>(),
                postcard::from_bytes::<withheld::HubHeld>(&bytes),
            ) else {
                continue;
            };
            out.push(self.hubs.latest(hub, held).witness(hub));
            if out.len() == MAX_WITNESS_HUBS {
                break;
            }
        }
        Ok(Some(out))
    }

    /// Another of the member's devices says what each hub held when it last
    /// reconciled with it: whatever a hub held then and gave this device less of at a
    /// later reconciliation is kept as a finding (until the next meeting with that
    /// device says otherwise).
    fn observe_device_witness(&self, peer: &DeviceId, hubs: &[Witness]) -> Result<(), VaultError> {
        if self.is_hub(peer) {
            return Ok(());
        }
        let guard = self.lock()?;
        let state = guard.journal.state();
        if !state.is_owner(peer) {
            return Ok(());
        }
        let mut batch = Batch::new();
        let mut changed = false;
        for w in hubs {
            let Some(mine) = stored_hub_held(&guard.store, &w.hub)? else {
                continue; // this device never reconciled with that hub
            };
            let found = self.hubs.latest(w.hub, mine).behind(
                *peer,
                &withheld::HubHeld::from_witness(w),
                |author| state.may_hold(author),
                |id| guard.journal.replaced(id),
            );
            let key = format!("{META_WITNESS_FOUND}{}/{peer}", w.hub);
            changed |= stage_findings(&guard.store, &mut batch, &key, found.as_slice())?;
        }
        if changed {
            guard.store.commit(batch, false)?;
        }
        Ok(())
    }

    /// Records a check-in.
    pub fn add_checkin(&self, new: &NewCheckIn) -> Result<CheckIn, VaultError> {
        let checkin = new.validate(wire::now_ms())?;
        self.edit(|doc| Ok((Some(doc.add_checkin(&checkin)?), checkin.clone())))
    }

    /// Records many check-ins as one change (importing a history kept elsewhere).
    pub fn add_checkins(&self, new: &[NewCheckIn]) -> Result<Vec<CheckIn>, VaultError> {
        let now = wire::now_ms();
        let checkins = new
            .iter()
            .map(|n| n.validate(now))
            .collect::<Result<Vec<_>, _>>()?;
        self.edit(|doc| Ok((Some(doc.add_checkins(&checkins)?), checkins.clone())))
    }

    /// Changes a check-in.
    pub fn edit_checkin(&self, id: CheckInId, patch: &CheckInPatch) -> Result<CheckIn, VaultError> {
        self.edit(|doc| {
            let change = doc.edit_checkin(id, patch)?;
            let now = doc.checkin(id).ok_or(DocError::NoCheckIn(id))?;
            Ok((change, now))
        })
    }

    /// Deletes a check-in.
    pub fn delete_checkin(&self, id: CheckInId) -> Result<(), VaultError> {
        self.edit(|doc| Ok((Some(doc.delete_checkin(id)?), ())))
    }

    /// Replaces a plan section's text.
    pub fn set_plan_text(&self, section: PlanSection, text: &str) -> Result<(), VaultError> {
        self.edit(|doc| Ok((doc.set_section_text(section, text)?, ())))?;
        self.project_if_live()
    }

    /// Adds an item to a plan section.
    pub fn add_plan_item(&self, section: PlanSection, item: &str) -> Result<(), VaultError> {
        self.edit(|doc| Ok((Some(doc.add_section_item(section, item)?), ())))?;
        self.project_if_live()
    }

    /// Removes an item (0-based) from a plan section.
    pub fn remove_plan_item(&self, section: PlanSection, index: usize) -> Result<(), VaultError> {
        self.edit(|doc| Ok((Some(doc.remove_section_item(section, index)?), ())))?;
        self.project_if_live()
    }

    /// Adds a supporter to the crisis plan.
    pub fn add_supporter(&self, supporter: &Supporter) -> Result<(), VaultError> {
        self.edit(|doc| Ok((Some(doc.add_supporter(supporter)?), ())))?;
        self.project_if_live()
    }

    /// Sets the name the member chooses to be called by.
    pub fn set_name(&self, name: &str) -> Result<(), VaultError> {
        self.edit(|doc| Ok((doc.set_name(name)?, ())))
    }

    /// Changes as they happen (local edits and arrivals from other devices).
    pub fn subscribe(&self) -> broadcast::Receiver<VaultEvent> {
        self.events.subscribe()
    }

    /// Writes a snapshot that supersedes every bundle of the journal and deletes them;
    /// on a file-backed vault it then rewrites the file to give the space back.
    pub fn compact(&self) -> Result<CompactReport, VaultError> {
        let mut guard = self.lock()?;
        let report = self.compact_locked(&mut guard)?;
        guard.store.compact_file()?;
        Ok(report)
    }

    /// The journal's whole Automerge document (`save()`), in plaintext: for
    /// benchmarks and for moving the journal to another Automerge tool. Never stored.
    pub fn journal_bytes(&self) -> Result<Vec<u8>, VaultError> {
        Ok(self.lock()?.journal.doc_mut().save())
    }

    /// How many bundles the journal is stored as.
    pub fn bundle_count(&self) -> Result<usize, VaultError> {
        self.read(|j| j.live_bundles())
    }

    /// Everything a peer of this journal should hold: ACL records, envelopes, bundles.
    pub fn sync_items(&self) -> Result<Vec<SyncItem>, VaultError> {
        let guard = self.lock()?;
        let parked = guard
            .journal
            .parked()
            .iter()
            .map(|b| crate::item::ItemId(b.0))
            .collect();
        Ok(guard.store.items_except(&guard.journal.id(), &parked)?)
    }

    /// Takes in items from another device: each is verified (signature, write right,
    /// document) before it is stored; bad ones are dropped and reported, never stored.
    /// What is accepted is durable when this returns.
    pub fn ingest(&self, items: Vec<SyncItem>) -> Result<IngestReport, VaultError> {
        let (report, batch) = self.check_items(items)?;
        self.commit_batch(batch)?;
        Ok(report)
    }

    /// Verifies items and applies them in memory (subscribers hear of them now);
    /// returns the write that [`Vault::commit_batch`] makes durable. (A snapshot that
    /// starts an empty journal is written while it loads, with what came along.)
    pub(crate) fn check_items(
        &self,
        items: Vec<SyncItem>,
    ) -> Result<(IngestReport, Batch), VaultError> {
        let mut guard = self.lock()?;
        let Inner {
            store,
            device,
            journal,
            ..
        } = &mut *guard;
        let mut batch = Batch::new();
        // Part may have been written already (a snapshot, while it loaded).
        let report = or_reload(store, device, journal, |j| {
            j.ingest(store, device, items, Source::Received, &mut batch)
        })?;
        let doc = journal.id();
        drop(guard);
        if report.accepted > 0 {
            self.notify(Origin::Remote, doc);
        }
        Ok((report, batch))
    }

    /// Makes checked items durable; on failure the journal is reloaded from the store.
    pub(crate) fn commit_batch(&self, batch: Batch) -> Result<(), VaultError> {
        let mut guard = self.lock()?;
        let Inner {
            store,
            device,
            journal,
            ..
        } = &mut *guard;
        self.commit_received(store, device, journal, batch)?;
        if guard.journal.rekey_due(&guard.device)
            && let Err(e) = self.write_locked(&mut guard, |j, d, b| j.rotate(d, b))
        {
            tracing::warn!("could not open a new epoch after concurrent removals: {e}");
        }
        // Shares another of the member's devices made are in the ledger now.
        share::adopt_from_ledger(&mut guard)?;
        Ok(())
    }

    /// Makes items received for one doc durable, then makes the repairs an owner makes
    /// on what came in (see ARCHITECTURE, "Repairs after concurrency"): keys a member
    /// lacks.
    fn commit_received<D: Model>(
        &self,
        store: &Store,
        device: &DeviceKeys,
        j: &mut Journal<D>,
        batch: Batch,
    ) -> Result<(), VaultError> {
        if !batch.is_empty() {
            // Items that came from peers: not pushed back out from here.
            write_journal(
                store,
                device,
                j,
                |_, _, b| {
                    *b = batch;
                    Ok(())
                },
                |_, _| {},
            )?;
        }
        if let Err(e) = write_journal(
            store,
            device,
            j,
            |j, d, b| j.seal_missing_keys(store, d, b),
            |j, b| self.send_out(j, b),
        ) {
            tracing::warn!("could not seal keys to a device added during a removal: {e}");
        }
        Ok(())
    }

    /// Adds another device of the member's (an owner may do this): an ACL record
    /// naming it, and envelopes for every epoch key this device holds.
    ///
    /// The journal is then compacted, unless it already is one snapshot: the new
    /// device (or hub) is about to receive all of it, and Automerge loads one saved
    /// document faster than a snapshot followed by loose changes (~2 ms for 60
    /// changes after a 5,500-check-in snapshot), while pairing is rare.
    pub fn authorize_device(&self, device: &DevicePublic, role: Role) -> Result<(), VaultError> {
        let mut guard = self.lock()?;
        self.write_locked(&mut guard, |j, me, b| j.grant(me, device, role, b))?;
        if guard.journal.live_bundles() > 1 {
            self.compact_after(&mut guard, "the device is added");
        }
        Ok(())
    }

    /// Removes one of the member's devices (lost or given away), a backup key or a
    /// hub: it is refused from then on and cannot decrypt anything written after
    /// this. Every backup key is retired with it (a backup on the lost phone must not
    /// restore what is written from now on), so the member should make a new backup.
    pub fn remove_device(&self, device: DeviceId) -> Result<RemovalReport, VaultError> {
        self.write(|j, me, b| j.remove_device(me, device, b))
    }

    /// Remembers where a peer (a hub, or one of the member's devices) can be reached.
    pub fn remember_peer(&self, peer: &PeerAddr) -> Result<(), VaultError> {
        let guard = self.lock()?;
        let mut batch = Batch::new();
        let id = DeviceId::from(peer.addr.id);
        batch.put_meta(&format!("{META_PEER}{id}"), wire::to_postcard(peer));
        guard.store.commit(batch, true)?;
        Ok(())
    }

    /// Every peer this device remembers.
    pub fn peers(&self) -> Result<Vec<PeerAddr>, VaultError> {
        let guard = self.lock()?;
        Ok(guard
            .store
            .meta_prefixed(META_PEER)?
            .into_iter()
            .filter_map(|(_, v)| postcard::from_bytes(&v).ok())
            .collect())
    }

    /// The port this device last listened on (so the address its devices remember
    /// stays valid across runs).
    pub fn listen_port(&self) -> Result<Option<u16>, VaultError> {
        let guard = self.lock()?;
        Ok(guard
            .store
            .meta(META_PORT)?
            .and_then(|v| <[u8; 2]>::try_from(v.as_slice()).ok())
            .map(u16::from_le_bytes))
    }

    /// Remembers the port this device listens on.
    pub fn set_listen_port(&self, port: u16) -> Result<(), VaultError> {
        let guard = self.lock()?;
        let mut batch = Batch::new();
        batch.put_meta(META_PORT, port.to_le_bytes().to_vec());
        guard.store.commit(batch, true)?;
        Ok(())
    }

    /// This device's keys, for its network endpoint.
    pub fn endpoint_key(&self) -> Result<iroh_base::SecretKey, VaultError> {
        Ok(self.lock()?.device.endpoint_key().clone())
    }

    /// This device's public half.
    pub fn device_public(&self) -> Result<DevicePublic, VaultError> {
        let guard = self.lock()?;
        Ok(DevicePublic {
            id: guard.device.id(),
            recipient: guard.device.recipient().to_string(),
        })
    }

    /// Everything in the journal as plain JSON, for the member to take elsewhere.
    /// This is the one output that is not encrypted: callers ask the member first.
    pub fn export_json(&self) -> Result<serde_json::Value, VaultError> {
        let guard = self.lock()?;
        let doc = guard.journal.doc();
        let mut checkins = doc.checkins();
        checkins.reverse();
        Ok(serde_json::json!({
            "format": "hearth.export/1",
            "exported_at_ms": wire::now_ms(),
            "journal": guard.journal.id().to_string(),
            "name": doc.name(),
            "plan": doc.plan(),
            "checkins": checkins,
            "consents": doc.consents(),
        }))
    }
}

impl Vault {
    /// Makes a change to the journal the caller holds locked, hands its items to live
    /// peers and commits it (see [`write_journal`]): the one way a locked write goes.
    fn write_locked<T>(
        &self,
        inner: &mut Inner,
        change: impl FnOnce(&mut Journal, &DeviceKeys, &mut Batch) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        let Inner {
            store,
            device,
            journal,
            ..
        } = inner;
        write_journal(store, device, journal, change, |j, b| self.send_out(j, b))
    }

    /// [`Vault::write_locked`] under the vault's lock.
    fn write<T>(
        &self,
        change: impl FnOnce(&mut Journal, &DeviceKeys, &mut Batch) -> Result<T, VaultError>,
    ) -> Result<T, VaultError> {
        self.write_locked(&mut *self.lock()?, change)
    }

    /// Writes a snapshot of the journal the caller holds locked, handing it to live
    /// peers like any other write.
    fn compact_locked(&self, inner: &mut Inner) -> Result<CompactReport, VaultError> {
        if !inner.journal.is_owner(&inner.device) {
            return Err(VaultError::Denied("only an owner device compacts".into()));
        }
        self.write_locked(inner, |j, d, b| j.snapshot(d, b))
    }

    /// [`Vault::compact_locked`] after a write that has already succeeded (`done`):
    /// a failed compaction is logged, and the write stands.
    fn compact_after(&self, inner: &mut Inner, done: &str) {
        if let Err(e) = self.compact_locked(inner) {
            tracing::warn!("compaction failed ({done}): {e}");
        }
    }
}

/// Makes a change to the journal in memory, hands its items to peers, and commits it
/// durably. If the change or the commit fails, the journal is reloaded from the store,
/// so memory never runs ahead of disk.
fn write_journal<T, D: Model>(
    store: &Store,
    device: &DeviceKeys,
    journal: &mut Journal<D>,
    change: impl FnOnce(&mut Journal<D>, &DeviceKeys, &mut Batch) -> Result<T, VaultError>,
    send_out: impl FnOnce(&Journal<D>, &Batch),
) -> Result<T, VaultError> {
    let mut batch = Batch::new();
    or_reload(store, device, journal, |j| {
        let out = change(j, device, &mut batch)?;
        if !batch.is_empty() {
            send_out(j, &batch);
            store.commit(batch, true)?;
        }
        Ok(out)
    })
}

/// Runs `f` on the journal; if it fails, reloads the journal from the store before
/// returning the error, so memory never runs ahead of disk.
fn or_reload<T, D: Model>(
    store: &Store,
    device: &DeviceKeys,
    journal: &mut Journal<D>,
    f: impl FnOnce(&mut Journal<D>) -> Result<T, VaultError>,
) -> Result<T, VaultError> {
    let result = f(journal);
    if result.is_err() {
        *journal = Journal::load(store, device, journal.id(), journal.actor())?;
    }
    result
}

/// What this device remembers a hub held at its last reconciliation with it (a view
/// stored by an older build reads as none).
fn stored_hub_held(store: &Store, hub: &DeviceId) -> Result<Option<withheld::HubHeld>, VaultError> {
    Ok(store
        .meta(&format!("{META_HUB_HELD}{hub}"))?
        .and_then(|b| postcard::from_bytes(&b).ok()))
}

/// Stages `found` under `key` when it differs from what is stored (none: the key goes);
/// says whether anything was staged.
fn stage_findings(
    store: &Store,
    batch: &mut Batch,
    key: &str,
    found: &[Rollback],
) -> Result<bool, VaultError> {
    let before = store.meta(key)?;
    if found.is_empty() {
        if before.is_some() {
            batch.delete_meta(key);
        }
        return Ok(before.is_some());
    }
    let bytes = wire::to_postcard(&found);
    if before.as_deref() == Some(bytes.as_slice()) {
        return Ok(false);
    }
    batch.put_meta(key, bytes);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::identity::MemoryKeyStore;
    use crate::sync::Replica;

    /// A live push asks whether the peer may hold the doc while the edit that made the
    /// items still holds the vault for its fsync: the answer must not wait for it.
    #[test]
    fn who_may_hold_the_journal_is_known_while_an_edit_holds_the_vault() {
        let keys = MemoryKeyStore::new();
        let vault = Vault::create(Location::Memory, &keys, None).unwrap();
        let doc = vault.journal_id().unwrap();
        let me = vault.device_id().unwrap();
        let stranger = DeviceId([7; 32]);
        let editing = vault.lock().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let _ = tx.send((vault.may_hold(&doc, &me), vault.may_hold(&doc, &stranger)));
            });
            let answer = rx.recv_timeout(Duration::from_secs(5));
            drop(editing);
            assert_eq!(answer, Ok((true, false)));
        });
    }

    fn owner_of(a: &Vault) -> (Vault, MemoryKeyStore) {
        let keys = MemoryKeyStore::new();
        a.authorize_device(&Vault::prepare_device(&keys).unwrap(), Role::Owner)
            .unwrap();
        let journal = a.journal_id().unwrap();
        let v = Vault::join(Location::Memory, &keys, journal, a.sync_items().unwrap()).unwrap();
        (v, keys)
    }

    fn bundles(v: &Vault) -> Vec<SyncItem> {
        let items = v.sync_items().unwrap();
        items
            .into_iter()
            .filter(|i| matches!(i, SyncItem::Bundle(_)))
            .collect()
    }

    /// A device given only a snapshot still knows how far each author had got: the
    /// snapshot says so beside the document.
    #[test]
    fn a_device_given_only_a_snapshot_knows_every_authors_newest_entry_in_it() {
        let keys = MemoryKeyStore::new();
        let a = Vault::create(Location::Memory, &keys, None).unwrap();
        let (c, _kc) = owner_of(&a);
        for note in ["one", "two", "three"] {
            c.add_checkin(&NewCheckIn {
                mood: 3,
                note: note.into(),
                ..Default::default()
            })
            .unwrap();
        }
        a.ingest(c.sync_items().unwrap()).unwrap();
        let c_id = c.device_id().unwrap();
        let c_mark = a.lock().unwrap().journal.newest_by_author()[&c_id];
        assert_eq!(
            c_mark.seq,
            c.lock().unwrap().journal.newest_by_author()[&c_id].seq
        );
        a.compact().unwrap();
        // B joins with the access log and keys, then receives A's one bundle: the
        // snapshot that replaced C's.
        let (b, _kb) = owner_of(&a);
        let only = bundles(&a);
        assert_eq!(only.len(), 1, "one snapshot");
        b.ingest(only).unwrap();
        assert_eq!(b.checkins().unwrap().len(), 3);
        let frontier = b.lock().unwrap().journal.newest_by_author();
        assert_eq!(frontier.get(&c_id), Some(&c_mark), "{frontier:?}");
        assert!(b.withheld().unwrap().is_empty());
    }
}
