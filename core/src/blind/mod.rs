//! The hub's blind store: it keeps members' documents as the signed ciphertext it
//! receives, checks every item against the doc's access log without any key, and
//! knows which devices enrolled. It never holds a doc key and never loads a document:
//! only access records are kept in memory, one lock per document.
//!
//! **Who gets what.** A doc's access log says who *may* hold it, but any enrolled
//! device can write a doc whose log names anyone's device id. So the hub offers and
//! pushes a doc to a device only once that device *joined* it here, by its own act:
//! it listed the doc in its `Hello` (it holds it) or pushed into it. And a removal
//! locks a device out of the hub only from a doc it joined: a stranger who names a
//! member's device in a doc of their own, or removes it there, changes nothing for
//! that device. (Being named still lets a device connect without enrolling — a
//! member's new device never enrolls, its journal vouches for it — and it then gets
//! only the docs it joins.)
//!
//! **Quota.** Every member (see [`members`]: an enrolled device, and the devices its
//! docs let in) may store at most a configured number of bytes across all its docs
//! (its journal and every share made from it): every bundle's signed bytes, envelope
//! and access record; and at most [`MAX_DOCS_PER_MEMBER`] docs. The counts are kept in
//! memory, grown when a push is checked (the final check and the growth under one
//! lock, so two pushes cannot both squeeze under the limit; no signature is checked
//! under it), shrunk when a confirmed snapshot's bundles are deleted, and rebuilt from
//! the store at open. A push that would pass the limit stores none of its bundles and
//! is answered with a typed
//! [`Refusal::QuotaExceeded`]; its access records and envelopes still go in, up to
//! [`ACCESS_HEADROOM_BYTES`] beyond the limit, so a member whose journal is full can
//! still remove a lost device (a push of bundles alone stores nothing at all).
//!
//! It cannot see whether a snapshot applies, so it deletes the bundles a snapshot
//! supersedes only once another reader of the doc shows (in the ids it syncs) that it
//! holds the snapshot and none of them: a snapshot that does not apply never costs
//! the hub what it replaced. Until then it keeps them but offers them to no one (a
//! new device would only download history twice; one that pairs gets a fresh snapshot
//! from the device that adds it).

mod members;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use serde::{Deserialize, Serialize};

use crate::access::{AccessLog, AccessState, AclRecord, Role, bundle_allowed};
use crate::bundle::{Bundle, BundleKind};
use crate::ids::{BundleId, DeviceId, DocId};
use crate::item::{self, CheckedBundles, ItemId, SyncItem};
use crate::store::{Batch, ItemsCursor, Store, StoreError};
use crate::sync::{Checked, Refusal, Replica, SyncError};
use members::Members;
pub use members::{MAX_DOCS_PER_MEMBER, NewDocRefusal, Usage};

const ENROLLED: &str = "enrolled/";
const PENDING: &str = "pending/";
/// `joined/<device>/<doc>`: the device joined the doc here by its own act.
const JOINED: &str = "joined/";
/// `charged/<doc>` = the member the doc is charged to.
const CHARGED: &str = "charged/";

/// The stored bytes one member's docs may take unless the hub is configured otherwise.
pub const DEFAULT_QUOTA_BYTES: u64 = 256 << 20;
/// How far past its quota a member may grow by pushes of access records and envelopes
/// alone (a removal and the new epoch's envelopes must never be refused).
pub const ACCESS_HEADROOM_BYTES: u64 = 1 << 20;

/// A snapshot whose superseded bundles wait for a reader's confirmation.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    author: DeviceId,
    supersedes: Vec<BundleId>,
}

struct BlindDoc {
    log: AccessLog,
    /// Snapshot id -> what it supersedes, not yet deleted.
    pending: BTreeMap<BundleId, Pending>,
    /// Stored bundles the access log voids: kept (never deleted for an access change),
    /// not offered.
    parked: BTreeSet<BundleId>,
    /// Bytes stored for the doc (and reserved by pushes checked but not yet durable).
    used: u64,
}

/// Who each document lets in: kept beside the per-doc locks so admitting a connection
/// never scans every document.
#[derive(Default)]
struct Index {
    /// Device -> the docs that let it hold them now.
    holds: HashMap<DeviceId, BTreeSet<DocId>>,
    /// Device -> the docs that removed it.
    removed: HashMap<DeviceId, BTreeSet<DocId>>,
    /// (Device, doc) -> when the device's access to the doc runs out (a coach's under
    /// a dated consent): from then on the hub treats it as not named.
    until: HashMap<(DeviceId, DocId), u64>,
}

impl Index {
    /// Whether `device`'s access to `doc` ran out by `now` (an owner set a time).
    fn ran_out(&self, device: &DeviceId, doc: &DocId, now: u64) -> bool {
        self.until
            .get(&(*device, *doc))
            .is_some_and(|&until| now >= until)
    }

    fn update(&mut self, doc: DocId, state: &AccessState) {
        for docs in self.holds.values_mut().chain(self.removed.values_mut()) {
            docs.remove(&doc);
        }
        self.until.retain(|(_, d), _| *d != doc);
        for m in state.members() {
            if let Some(until) = m.until_ms.filter(|_| m.is_current()) {
                self.until.insert((m.device, doc), until);
            }
            if state.may_hold(&m.device) {
                self.holds.entry(m.device).or_default().insert(doc);
            } else if m.removed.is_some() {
                self.removed.entry(m.device).or_default().insert(doc);
            }
        }
        self.holds.retain(|_, d| !d.is_empty());
        self.removed.retain(|_, d| !d.is_empty());
    }
}

/// The hub's store of members' documents, as ciphertext.
pub struct BlindStore {
    store: Store,
    me: DeviceId,
    docs: RwLock<BTreeMap<DocId, Arc<Mutex<BlindDoc>>>>,
    index: RwLock<Index>,
    enrolled: Mutex<BTreeSet<DeviceId>>,
    /// Device -> the docs it joined here by its own act (listed them, pushed into them).
    joined: RwLock<HashMap<DeviceId, BTreeSet<DocId>>>,
    /// Whom each doc is charged to, and what each member stores.
    members: Mutex<Members>,
    quota: u64,
    clock_offset_ms: i64,
    access: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for BlindStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlindStore")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

fn poisoned() -> SyncError {
    SyncError::Local("the hub's state lock is poisoned".into())
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        SyncError::Local(e.to_string())
    }
}

fn pending_key(doc: &DocId, snapshot: &BundleId) -> String {
    format!("{PENDING}{doc}/{snapshot}")
}

fn joined_key(device: &DeviceId, doc: &DocId) -> String {
    format!("{JOINED}{device}/{doc}")
}

fn charged_key(doc: &DocId) -> String {
    format!("{CHARGED}{doc}")
}

impl BlindDoc {
    /// The stored bundles kept but not offered to a peer starting afresh: void under the
    /// access log, or replaced by a snapshot no other reader has confirmed yet.
    fn hidden(&self) -> std::collections::HashSet<BundleId> {
        self.parked
            .iter()
            .chain(self.pending.values().flat_map(|p| p.supersedes.iter()))
            .copied()
            .collect()
    }

    /// Finds the stored bundles the access log voids: a removed author's, past its
    /// mark (following back-links among the bundles stored here).
    fn reconsider(&mut self, store: &Store, doc: &DocId) -> Result<(), StoreError> {
        let state = self.log.state();
        if !state
            .members()
            .any(|m| m.removed.is_some() && m.role.writes())
        {
            self.parked.clear();
            return Ok(());
        }
        let headers: BTreeMap<BundleId, crate::bundle::BundleHeader> = store
            .bundles(doc)?
            .into_iter()
            .filter_map(|(id, bytes)| Some((id, Bundle::peek_header(&bytes).ok()?)))
            .collect();
        let chain = |id: &BundleId| headers.get(id).map(|h| h.prev);
        self.parked = headers
            .iter()
            .filter(|(id, h)| !bundle_allowed(state, &h.author, h.seq, id, &chain))
            .map(|(id, _)| *id)
            .collect();
        Ok(())
    }
}

impl BlindStore {
    /// Opens the blind store for the hub whose device id is `me`, reading every doc's
    /// access records, pending supersessions and the enrolled devices.
    pub fn open(store: Store, me: DeviceId) -> Result<Self, StoreError> {
        let mut docs = BTreeMap::new();
        let mut index = Index::default();
        let mut pending: BTreeMap<DocId, BTreeMap<BundleId, Pending>> = BTreeMap::new();
        for (key, value) in store.meta_prefixed(PENDING)? {
            let mut parts = key.strip_prefix(PENDING).unwrap_or_default().split('/');
            if let (Some(Ok(doc)), Some(Ok(snapshot)), Ok(p)) = (
                parts.next().map(str::parse::<DocId>),
                parts.next().map(str::parse::<BundleId>),
                postcard::from_bytes::<Pending>(&value),
            ) {
                pending.entry(doc).or_default().insert(snapshot, p);
            }
        }
        for doc in store.docs()? {
            let records: Vec<AclRecord> = store
                .acl(&doc)?
                .iter()
                .filter_map(|b| AclRecord::decode(b).ok())
                .collect();
            let log = AccessLog::from_stored(doc, records);
            index.update(doc, log.state());
            let mut d = BlindDoc {
                log,
                pending: pending.remove(&doc).unwrap_or_default(),
                parked: BTreeSet::new(),
                used: store.doc_bytes(&doc)?,
            };
            d.reconsider(&store, &doc)?;
            docs.insert(doc, Arc::new(Mutex::new(d)));
        }
        let enrolled = store
            .meta_prefixed(ENROLLED)?
            .into_iter()
            .filter_map(|(k, _)| k.strip_prefix(ENROLLED)?.parse().ok())
            .collect();
        let mut joined: HashMap<DeviceId, BTreeSet<DocId>> = HashMap::new();
        for (key, _) in store.meta_prefixed(JOINED)? {
            let mut parts = key.strip_prefix(JOINED).unwrap_or_default().split('/');
            if let (Some(Ok(device)), Some(Ok(doc))) = (
                parts.next().map(str::parse::<DeviceId>),
                parts.next().map(str::parse::<DocId>),
            ) {
                joined.entry(device).or_default().insert(doc);
            }
        }
        // Docs stored before charges were recorded are charged to their creator.
        let charged: HashMap<DocId, DeviceId> = store
            .meta_prefixed(CHARGED)?
            .into_iter()
            .filter_map(|(k, v)| {
                let doc = k.strip_prefix(CHARGED)?.parse().ok()?;
                Some((doc, DeviceId(v.try_into().ok()?)))
            })
            .collect();
        let mut members = Members::default();
        for (doc, d) in &docs {
            let Ok(d) = d.lock() else { continue };
            if let Some(member) = charged.get(doc).copied().or(d.log.state().creator()) {
                members.charge_stored(*doc, member, d.used);
            }
        }
        Ok(BlindStore {
            store,
            me,
            docs: RwLock::new(docs),
            index: RwLock::new(index),
            enrolled: Mutex::new(enrolled),
            joined: RwLock::new(joined),
            members: Mutex::new(members),
            quota: DEFAULT_QUOTA_BYTES,
            clock_offset_ms: 0,
            access: tokio::sync::watch::Sender::new(0),
        })
    }

    /// The same store with its clock moved by `offset_ms`: when a device's access runs
    /// out is judged by it (tests move time with it; 0 in service).
    pub fn with_clock_offset(mut self, offset_ms: i64) -> Self {
        self.clock_offset_ms = offset_ms;
        self
    }

    /// The same store with a quota of `bytes` per member (default [`DEFAULT_QUOTA_BYTES`]).
    pub fn with_quota(mut self, bytes: u64) -> Self {
        self.quota = bytes;
        self
    }

    /// The stored bytes one member's docs may take.
    pub fn quota(&self) -> u64 {
        self.quota
    }

    /// The bytes stored for a doc (0 if it is not stored).
    pub fn used_bytes(&self, doc: &DocId) -> u64 {
        self.doc(doc)
            .and_then(|d| d.lock().ok().map(|d| d.used))
            .unwrap_or(0)
    }

    /// The member a stored doc is charged to.
    pub fn member_of(&self, doc: &DocId) -> Option<DeviceId> {
        self.members.lock().ok()?.of_doc(doc)
    }

    /// What a member stores.
    pub fn usage(&self, member: &DeviceId) -> Usage {
        self.members
            .lock()
            .map(|m| m.usage(member))
            .unwrap_or_default()
    }

    /// The member a device would be charged for a new doc (see [`members`]): only docs
    /// it joined as an owner count (a coach's device is no member's by the share).
    /// No lock is held while another is taken.
    fn member_for_new(&self, device: &DeviceId) -> Option<DeviceId> {
        let enrolled = self.is_enrolled(device);
        let joined: Vec<DocId> = self
            .joined
            .read()
            .ok()?
            .get(device)
            .map(|d| d.iter().copied().collect())
            .unwrap_or_default();
        let owned: Vec<DocId> = joined
            .into_iter()
            .filter(|d| self.role_of(d, device) == Some(Role::Owner))
            .collect();
        self.members
            .lock()
            .ok()?
            .of_device(device, enrolled, &owned)
    }

    /// Whether `device` joined `doc` here by its own act.
    fn has_joined(&self, device: &DeviceId, doc: &DocId) -> bool {
        self.joined
            .read()
            .map(|j| j.get(device).is_some_and(|d| d.contains(doc)))
            .unwrap_or(false)
    }

    /// Records in memory that `device` joined `docs`; returns the ones that are new.
    fn join(&self, device: &DeviceId, docs: impl IntoIterator<Item = DocId>) -> Vec<DocId> {
        let Ok(mut joined) = self.joined.write() else {
            return Vec::new();
        };
        let mine = joined.entry(*device).or_default();
        docs.into_iter().filter(|d| mine.insert(*d)).collect()
    }

    /// Whether the access log of `doc` lets `device` hold it (whether or not the
    /// device joined it here).
    fn named(&self, doc: &DocId, device: &DeviceId) -> bool {
        let now = self.now();
        self.index
            .read()
            .map(|i| {
                i.holds.get(device).is_some_and(|d| d.contains(doc)) && !i.ran_out(device, doc, now)
            })
            .unwrap_or(false)
    }

    /// The hub's clock (moved by [`BlindStore::with_clock_offset`] in tests).
    fn now(&self) -> u64 {
        crate::wire::now_ms().saturating_add_signed(self.clock_offset_ms)
    }

    fn doc(&self, doc: &DocId) -> Option<Arc<Mutex<BlindDoc>>> {
        self.docs.read().ok()?.get(doc).cloned()
    }

    /// The hub's own device id.
    pub fn id(&self) -> DeviceId {
        self.me
    }

    /// Whether a device enrolled with the center's ticket.
    pub fn is_enrolled(&self, device: &DeviceId) -> bool {
        self.enrolled
            .lock()
            .map(|e| e.contains(device))
            .unwrap_or(false)
    }

    /// Records a device that enrolled with the center's ticket (durably; a device
    /// already enrolled costs no write).
    pub fn enroll(&self, device: DeviceId) -> Result<(), SyncError> {
        if self.is_enrolled(&device) {
            return Ok(());
        }
        let mut batch = Batch::new();
        batch.put_meta(&format!("{ENROLLED}{device}"), Vec::new());
        self.store.commit(batch, true)?;
        self.enrolled.lock().map_err(|_| poisoned())?.insert(device);
        Ok(())
    }

    /// Whether a device may connect: a doc it joined still lets it hold it; or no doc
    /// it joined has removed it, and it enrolled or a stored doc names it (a member's
    /// new device never enrolls). Only docs the device joined count against it, so
    /// nobody locks another's device out by naming and removing it in a doc of their
    /// own; and a removal in one doc never locks out a device that another doc it
    /// joined still names.
    pub fn admits(&self, device: &DeviceId) -> bool {
        let Ok(index) = self.index.read() else {
            return false;
        };
        let Ok(joined) = self.joined.read() else {
            return false;
        };
        let joined = joined.get(device);
        let joined_any = |docs: Option<&BTreeSet<DocId>>| {
            docs.zip(joined)
                .is_some_and(|(docs, j)| docs.iter().any(|d| j.contains(d)))
        };
        if joined_any(index.holds.get(device)) {
            return true;
        }
        if joined_any(index.removed.get(device)) {
            return false;
        }
        index.holds.contains_key(device) || self.is_enrolled(device)
    }

    /// How many documents are stored.
    pub fn doc_count(&self) -> usize {
        self.docs.read().map(|d| d.len()).unwrap_or(0)
    }

    /// How many devices enrolled.
    pub fn enrolled_count(&self) -> usize {
        self.enrolled.lock().map(|e| e.len()).unwrap_or(0)
    }

    fn lock<'a>(&self, d: &'a Mutex<BlindDoc>) -> Result<MutexGuard<'a, BlindDoc>, SyncError> {
        d.lock().map_err(|_| poisoned())
    }
}

impl Replica for BlindStore {
    fn docs_for(&self, peer: &DeviceId) -> Result<Vec<DocId>, SyncError> {
        let index = self.index.read().map_err(|_| poisoned())?;
        let joined = self.joined.read().map_err(|_| poisoned())?;
        let (Some(docs), Some(joined)) = (index.holds.get(peer), joined.get(peer)) else {
            return Ok(Vec::new());
        };
        let mine = index.holds.get(&self.me);
        let now = self.now();
        Ok(docs
            .iter()
            .filter(|d| joined.contains(d) && mine.is_some_and(|m| m.contains(d)))
            .filter(|d| !index.ran_out(peer, d, now))
            .copied()
            .collect())
    }

    /// Whether the hub sends `peer` items of `doc`: the doc lets it hold it *and* the
    /// peer joined it here by its own act (never because someone else named it).
    fn may_hold(&self, doc: &DocId, peer: &DeviceId) -> bool {
        self.named(doc, peer) && self.has_joined(peer, doc)
    }

    fn observe_hello(&self, peer: &DeviceId, docs: &[DocId]) -> Result<(), SyncError> {
        // The peer holds these by its own choice: it joins every one stored here whose
        // log names it (as a member now, or as one it removed).
        let named: Vec<DocId> = {
            let index = self.index.read().map_err(|_| poisoned())?;
            let holds = index.holds.get(peer);
            let removed = index.removed.get(peer);
            docs.iter()
                .filter(|d| {
                    holds.is_some_and(|h| h.contains(d)) || removed.is_some_and(|r| r.contains(d))
                })
                .copied()
                .collect()
        };
        let new = self.join(peer, named);
        if new.is_empty() {
            return Ok(());
        }
        let mut batch = Batch::new();
        for doc in &new {
            batch.put_meta(&joined_key(peer, doc), Vec::new());
        }
        // Not worth an fsync: lost in a crash, the device joins again with its next hello.
        self.store.commit(batch, false)?;
        Ok(())
    }

    /// A new doc from an admitted device that is some member's, within its count of
    /// docs; a doc stored here only from a device its log lets hold it. Any other is
    /// declined, rather than asked for and then refused: a coach removed from a share,
    /// or one that may store nothing of its own here, keeps syncing everything else.
    fn may_take(&self, doc: &DocId, peer: &DeviceId) -> bool {
        self.admits(peer)
            && match self.doc(doc) {
                Some(_) => self.named(doc, peer),
                None => self
                    .member_for_new(peer)
                    .is_some_and(|m| self.usage(&m).docs < MAX_DOCS_PER_MEMBER),
            }
    }

    fn item_ids(&self, doc: &DocId) -> Result<(Vec<ItemId>, usize), SyncError> {
        let (ids, acl) = self.store.item_ids(doc)?;
        let Some(d) = self.doc(doc) else {
            return Ok((ids, acl));
        };
        let hidden = self.lock(&d)?.hidden();
        Ok((
            ids.into_iter()
                .filter(|id| !hidden.contains(&BundleId(id.0)))
                .collect(),
            acl,
        ))
    }

    fn answer_skips(
        &self,
        doc: &DocId,
        theirs: BTreeSet<ItemId>,
    ) -> Result<BTreeSet<ItemId>, SyncError> {
        let mut also = Vec::new();
        if let Some(d) = self.doc(doc) {
            let d = self.lock(&d)?;
            also.extend(d.parked.iter().map(|b| ItemId(b.0)));
            // What an unconfirmed snapshot replaced goes only to a peer that holds part
            // of it already (it may yet need the rest); a peer starting afresh gets the
            // snapshot alone.
            for p in d.pending.values() {
                if !p.supersedes.iter().any(|b| theirs.contains(&ItemId(b.0))) {
                    also.extend(p.supersedes.iter().map(|b| ItemId(b.0)));
                }
            }
        }
        let mut skip = theirs;
        skip.extend(also);
        Ok(skip)
    }

    fn items_page(
        &self,
        doc: &DocId,
        skip: &BTreeSet<ItemId>,
        from: Option<&ItemsCursor>,
        budget: usize,
    ) -> Result<(Vec<SyncItem>, Option<ItemsCursor>), SyncError> {
        Ok(self.store.items_page(doc, skip, from, budget)?)
    }

    fn observe_in_sync(&self, doc: &DocId, peer: &DeviceId) -> Result<(), SyncError> {
        // The peer holds exactly what is offered: every pending snapshot, and none of
        // what they replaced.
        let Some(d) = self.doc(doc) else {
            return Ok(());
        };
        let snapshots: Vec<ItemId> = self.lock(&d)?.pending.keys().map(|b| ItemId(b.0)).collect();
        self.observe_ids(doc, peer, &snapshots)
    }

    fn observe_ids(&self, doc: &DocId, peer: &DeviceId, ids: &[ItemId]) -> Result<(), SyncError> {
        let Some(d) = self.doc(doc) else {
            return Ok(());
        };
        let mut d = self.lock(&d)?;
        if d.pending.is_empty()
            || !d
                .log
                .state()
                .may_receive_key(peer, d.log.state().key_epoch())
        {
            return Ok(());
        }
        let held: BTreeSet<ItemId> = ids.iter().copied().collect();
        let mut batch = Batch::new();
        let confirmed: Vec<BundleId> = d
            .pending
            .iter()
            .filter(|(snapshot, p)| {
                p.author != *peer
                    && held.contains(&ItemId(snapshot.0))
                    && !p.supersedes.iter().any(|b| held.contains(&ItemId(b.0)))
            })
            .map(|(snapshot, _)| *snapshot)
            .collect();
        let mut freed = 0u64;
        for snapshot in confirmed {
            if let Some(p) = d.pending.remove(&snapshot) {
                for old in p.supersedes {
                    freed += self.store.bundle_len(doc, &old)?.unwrap_or(0);
                    batch.delete_bundle(*doc, old);
                }
                batch.delete_meta(&pending_key(doc, &snapshot));
            }
        }
        if !batch.is_empty() {
            self.store.commit(batch, true)?;
            d.used = d.used.saturating_sub(freed);
            if let Ok(mut members) = self.members.lock()
                && let Some(member) = members.of_doc(doc)
            {
                members.shrink(&member, freed);
            }
        }
        Ok(())
    }

    fn check(
        &self,
        doc: &DocId,
        peer: &DeviceId,
        items: Vec<SyncItem>,
    ) -> Result<Checked, SyncError> {
        let known = self.doc(doc);
        // Authorized before anything is verified: a device a stored doc does not let
        // hold it pushes nothing into it. (One it lets hold it joins it by pushing.)
        if known.is_some() && !self.named(doc, peer) {
            return Err(SyncError::Denied(format!(
                "{peer:?} may not hold document {doc}"
            )));
        }
        // The member a new doc would be charged to, and whether it may keep one more:
        // also before anything is verified.
        let member = match &known {
            Some(_) => self.member_of(doc),
            None => {
                let member = self.member_for_new(peer);
                let docs = member.map(|m| self.usage(&m).docs);
                match (member, docs) {
                    (None, _) => {
                        return Err(SyncError::Denied(NewDocRefusal::NoMember.to_string()));
                    }
                    (Some(_), Some(n)) if n >= MAX_DOCS_PER_MEMBER => {
                        return Err(SyncError::Denied(NewDocRefusal::TooMany(n).to_string()));
                    }
                    (m, _) => m,
                }
            }
        };
        let entry = match &known {
            Some(d) => d.clone(),
            None => Arc::new(Mutex::new(BlindDoc {
                log: AccessLog::new(*doc),
                pending: BTreeMap::new(),
                parked: BTreeSet::new(),
                used: 0,
            })),
        };
        let mut guard = self.lock(&entry)?;
        let d: &mut BlindDoc = &mut guard;
        let sorted = item::sort(*doc, items, |item, id| match item {
            SyncItem::Acl(_) => d.log.contains(&crate::ids::AclId(id.0)),
            _ => self.store.has_item(doc, id).unwrap_or(false),
        });
        let mut checked_rejected = sorted.rejected;
        // Records go into a copy of the log (nothing changes here unless the push is
        // taken); a push without records is checked against the log as it is.
        let grown = (!sorted.acl.is_empty()).then(|| {
            let mut log = d.log.clone();
            let admitted = log.admit(sorted.acl);
            (log, admitted)
        });
        let (state, admitted) = match &grown {
            Some((log, admitted)) => (log.state(), Some(admitted)),
            None => (d.log.state(), None),
        };
        if let Some(a) = admitted {
            checked_rejected.extend(a.rejected.iter().cloned());
        }
        if !state.may_hold(&self.me) {
            return Err(SyncError::Denied(format!(
                "document {doc} is not shared with this hub"
            )));
        }
        if !state.may_hold_at(peer, self.now()) {
            return Err(SyncError::Denied(format!(
                "{peer:?} may not hold document {doc}"
            )));
        }
        let mut batch = Batch::new();
        let mut duplicates = sorted.duplicates + admitted.map_or(0, |a| a.duplicates);
        for r in admitted.iter().flat_map(|a| &a.stored) {
            batch.put_acl(*doc, r.id(), r.bytes().to_vec());
        }
        let mut envelope_bytes = 0u64;
        for e in &sorted.envelopes {
            if self.store.has_item(doc, &e.id())? {
                duplicates += 1;
            } else {
                match item::envelope_allowed(state, e) {
                    Ok(()) => {
                        envelope_bytes += e.bytes().len() as u64;
                        batch.put_envelope(*doc, e);
                    }
                    Err(item::EnvelopeRefusal::NotYet(why) | item::EnvelopeRefusal::Never(why)) => {
                        checked_rejected.push(why)
                    }
                }
            }
        }
        let links: BTreeMap<BundleId, Option<BundleId>> = sorted
            .bundles
            .iter()
            .filter_map(|b| Some((BundleId::of(b), Bundle::peek_header(b).ok()?.prev)))
            .collect();
        let chain = |id: &BundleId| links.get(id).copied();
        let store = &self.store;
        let mut checked = CheckedBundles::default();
        item::check_bundles(
            *doc,
            sorted.bundles,
            0,
            |id| store.has_bundle(doc, id).unwrap_or(false) || d.parked.contains(id),
            |h, id| bundle_allowed(state, &h.author, h.seq, id, &chain),
            &mut checked,
        );
        duplicates += checked.duplicates;
        checked_rejected.extend(checked.rejected);
        // The quota, before anything changes in memory: a push whose bundles would pass
        // it stores none of them (and, if it carries nothing else, nothing at all).
        let access_bytes: u64 = envelope_bytes
            + admitted
                .iter()
                .flat_map(|a| &a.stored)
                .map(|r| r.bytes().len() as u64)
                .sum::<u64>();
        let bundle_bytes: u64 = checked.bundles.iter().map(|b| b.bytes().len() as u64).sum();
        // From here to the growth, under the members' lock: arithmetic only.
        let mut members = self.members.lock().map_err(|_| poisoned())?;
        let used = member.map_or(d.used, |m| members.usage(&m).bytes);
        let over = Refusal::QuotaExceeded {
            used_bytes: used,
            limit_bytes: self.quota,
        };
        let mut refusal = None;
        let mut bundles = checked.bundles;
        if bundle_bytes > 0 && used.saturating_add(access_bytes + bundle_bytes) > self.quota {
            // The bundles are refused; access records and envelopes still go in (within
            // the headroom), so a removal is never held back by a full journal.
            bundles.clear();
            refusal = Some(over);
        }
        if access_bytes > 0
            && used.saturating_add(access_bytes) > self.quota.saturating_add(ACCESS_HEADROOM_BYTES)
        {
            return Err(SyncError::Refused {
                doc: *doc,
                refusal: over,
            });
        }
        if refusal.is_some() && access_bytes == 0 {
            // Nothing of the push is taken: refused whole, nothing written.
            return Err(SyncError::Refused {
                doc: *doc,
                refusal: over,
            });
        }
        let stored = access_bytes + bundles.iter().map(|b| b.bytes().len() as u64).sum::<u64>();
        if let Some(member) = member {
            if known.is_none() {
                let member = members
                    .charge_new(*doc, Some(member))
                    .map_err(|e| SyncError::Denied(e.to_string()))?;
                batch.put_meta(&charged_key(doc), member.0.to_vec());
            }
            members.grow(&member, stored);
        }
        drop(members);
        d.used += stored;
        if !self.has_joined(peer, doc) {
            // The pushing device joins the doc by its own act.
            self.join(peer, [*doc]);
            batch.put_meta(&joined_key(peer, doc), Vec::new());
        }
        for bundle in bundles {
            let h = bundle.header();
            if h.kind == BundleKind::Snapshot
                && state.is_owner(&h.author)
                && !h.supersedes.is_empty()
            {
                let p = Pending {
                    author: h.author,
                    supersedes: h.supersedes.clone(),
                };
                batch.put_meta(
                    &pending_key(doc, &bundle.id()),
                    crate::wire::to_postcard(&p),
                );
                d.pending.insert(bundle.id(), p);
            }
            batch.put_bundle(*doc, bundle.id(), bundle.into_bytes());
        }
        if let Some((log, admitted)) = grown
            && !admitted.stored.is_empty()
        {
            d.log = log;
            d.reconsider(&self.store, doc)?;
            if let Ok(mut index) = self.index.write() {
                index.update(*doc, d.log.state());
            }
            self.access.send_modify(|n| *n += 1);
        }
        drop(guard);
        if known.is_none()
            && let Ok(mut docs) = self.docs.write()
        {
            docs.entry(*doc).or_insert(entry);
        }
        let mut checked = Checked::new(*doc, batch);
        checked.duplicates = duplicates;
        checked.rejected = checked_rejected;
        checked.refusal = refusal;
        Ok(checked)
    }

    fn commit(&self, checked: Checked) -> Result<(), SyncError> {
        if !checked.batch.is_empty() {
            self.store.commit(checked.batch, true)?;
        }
        Ok(())
    }

    fn access_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.access.subscribe()
    }

    fn may_connect(&self, peer: &DeviceId) -> bool {
        self.admits(peer)
    }
}

impl BlindStore {
    /// Every bundle stored for a doc, offered or not (for operators' tools and tests).
    pub fn stored_bundles(&self, doc: &DocId) -> Result<Vec<BundleId>, StoreError> {
        self.store.bundle_ids(doc)
    }

    /// The role a doc gives a device, if it is a current member (for tests and tools).
    pub fn role_of(&self, doc: &DocId, device: &DeviceId) -> Option<Role> {
        let d = self.doc(doc)?;
        let d = d.lock().ok()?;
        d.log
            .state()
            .member(device)
            .filter(|m| m.is_current())
            .map(|m| m.role)
    }
}
