//! The hub's blind store: it keeps members' documents as the signed ciphertext it
//! receives, checks every item's signature and its author's rights against the doc's
//! ACL without any key, and knows which devices enrolled. It never holds a doc key and
//! never loads a document: only ACL records are kept in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use crate::acl::{AclRecord, AclState, Role};
use crate::bundle::BundleKind;
use crate::ids::{DeviceId, DocId};
use crate::item::{self, ItemId, SyncItem};
use crate::store::{Batch, Store, StoreError};
use crate::sync::{Checked, Replica, SyncError};

const ENROLLED: &str = "enrolled/";

#[derive(Clone)]
struct BlindDoc {
    records: Vec<AclRecord>,
    acl: AclState,
}

/// The hub's store of members' documents, as ciphertext.
pub struct BlindStore {
    store: Store,
    me: DeviceId,
    docs: Mutex<BTreeMap<DocId, BlindDoc>>,
    enrolled: Mutex<BTreeSet<DeviceId>>,
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

impl BlindStore {
    /// Opens the blind store for the hub whose device id is `me`, reading every doc's
    /// ACL records and the enrolled devices.
    pub fn open(store: Store, me: DeviceId) -> Result<Self, StoreError> {
        let mut docs = BTreeMap::new();
        for doc in store.docs()? {
            let records: Vec<AclRecord> = store
                .acl(&doc)?
                .iter()
                .filter_map(|b| AclRecord::decode(b).ok())
                .collect();
            let acl = AclState::evaluate(doc, &records);
            docs.insert(doc, BlindDoc { records, acl });
        }
        let enrolled = store
            .meta_prefixed(ENROLLED)?
            .into_iter()
            .filter_map(|(k, _)| k.strip_prefix(ENROLLED)?.parse().ok())
            .collect();
        Ok(BlindStore {
            store,
            me,
            docs: Mutex::new(docs),
            enrolled: Mutex::new(enrolled),
        })
    }

    fn docs(&self) -> Result<MutexGuard<'_, BTreeMap<DocId, BlindDoc>>, SyncError> {
        self.docs.lock().map_err(|_| poisoned())
    }

    /// The hub's own device id.
    pub fn id(&self) -> DeviceId {
        self.me
    }

    /// Records a device that enrolled with the center's ticket (durably).
    pub fn enroll(&self, device: DeviceId) -> Result<(), SyncError> {
        let mut batch = Batch::new();
        batch.put_meta(&format!("{ENROLLED}{device}"), Vec::new());
        self.store.commit(batch, true)?;
        self.enrolled.lock().map_err(|_| poisoned())?.insert(device);
        Ok(())
    }

    /// Whether a device may connect: a doc stored here names it as a current member,
    /// or it enrolled and no doc stored here has removed it. (A removal in one doc
    /// never locks out a device that another doc still names, so one member cannot
    /// shut another's device out by naming and removing it.)
    pub fn admits(&self, device: &DeviceId) -> bool {
        let Ok(docs) = self.docs.lock() else {
            return false;
        };
        if docs.values().any(|d| d.acl.may_hold(device)) {
            return true;
        }
        let removed = docs.values().any(|d| {
            d.acl
                .member(device)
                .is_some_and(|m| m.role == Role::Removed)
        });
        let enrolled = self
            .enrolled
            .lock()
            .map(|e| e.contains(device))
            .unwrap_or(false);
        enrolled && !removed
    }

    /// How many documents are stored.
    pub fn doc_count(&self) -> usize {
        self.docs.lock().map(|d| d.len()).unwrap_or(0)
    }

    /// How many devices enrolled.
    pub fn enrolled_count(&self) -> usize {
        self.enrolled.lock().map(|e| e.len()).unwrap_or(0)
    }
}

impl Replica for BlindStore {
    fn docs_for(&self, peer: &DeviceId) -> Result<Vec<DocId>, SyncError> {
        Ok(self
            .docs()?
            .iter()
            .filter(|(_, d)| d.acl.may_hold(peer) && d.acl.may_hold(&self.me))
            .map(|(id, _)| *id)
            .collect())
    }

    fn may_hold(&self, doc: &DocId, peer: &DeviceId) -> bool {
        self.docs
            .lock()
            .map(|d| d.get(doc).is_some_and(|d| d.acl.may_hold(peer)))
            .unwrap_or(false)
    }

    fn may_take(&self, _doc: &DocId, peer: &DeviceId) -> bool {
        self.admits(peer)
    }

    fn item_ids(&self, doc: &DocId) -> Result<(Vec<ItemId>, usize), SyncError> {
        Ok(self.store.item_ids(doc)?)
    }

    fn items_except(
        &self,
        doc: &DocId,
        except: &BTreeSet<ItemId>,
    ) -> Result<Vec<SyncItem>, SyncError> {
        Ok(self.store.items_except(doc, except)?)
    }

    fn check(
        &self,
        doc: &DocId,
        peer: &DeviceId,
        items: Vec<SyncItem>,
    ) -> Result<Checked, SyncError> {
        let mut docs = self.docs()?;
        let mut d = docs.get(doc).cloned().unwrap_or_else(|| BlindDoc {
            records: Vec::new(),
            acl: AclState::evaluate(*doc, &[]),
        });
        let store = &self.store;
        let v = item::verify(*doc, &mut d.records, &mut d.acl, items, |id| {
            store.has_item(doc, id).unwrap_or(false)
        });
        if !d.acl.may_hold(&self.me) {
            return Err(SyncError::Denied(format!(
                "document {doc} is not shared with this hub"
            )));
        }
        if !d.acl.may_hold(peer) {
            return Err(SyncError::Denied(format!(
                "{peer:?} may not hold document {doc}"
            )));
        }
        let mut batch = Batch::new();
        for r in &v.acl {
            batch.put_acl(*doc, r.id(), r.bytes().to_vec());
        }
        for e in &v.envelopes {
            let b = e.body();
            batch.put_envelope(*doc, b.epoch, b.recipient, e.bytes().to_vec());
        }
        for bundle in v.bundles {
            let h = bundle.header();
            if h.kind == BundleKind::Snapshot && d.acl.is_owner(&h.author) {
                for old in &h.supersedes {
                    if store.has_bundle(doc, old)? {
                        batch.delete_bundle(*doc, *old);
                    }
                }
            }
            batch.put_bundle(*doc, bundle.id(), bundle.into_bytes());
        }
        docs.insert(*doc, d);
        let mut checked = Checked::new(*doc, batch);
        checked.duplicates = v.duplicates;
        checked.rejected = v.rejected;
        Ok(checked)
    }

    fn commit(&self, checked: Checked) -> Result<(), SyncError> {
        if !checked.batch.is_empty() {
            self.store.commit(checked.batch, true)?;
        }
        Ok(())
    }
}
