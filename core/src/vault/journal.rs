//! The open journal inside a vault: the in-memory document plus what it takes to
//! extend it safely — the evaluated ACL, the epoch keys this device holds, the live
//! bundles, and this device's sequence in the doc. Every rule about which bundle,
//! record or envelope to accept lives here, once, for local loads and remote ingest.

use std::collections::BTreeMap;

use automerge::ActorId;

use super::{CompactReport, DevicePublic, IngestReport, SyncItem, VaultError};
use crate::acl::{AclBody, AclRecord, AclState, Role};
use crate::bundle::{Bundle, BundleHeader, BundleKind, FORMAT_V1};
use crate::crypto;
use crate::doc::JournalDoc;
use crate::envelope::{DocKey, Envelope};
use crate::identity::DeviceKeys;
use crate::ids::{BundleId, DeviceId, DocId};
use crate::item::{self, ItemId};
use crate::store::{Batch, Store};
use crate::wire;

fn seq_key(doc: DocId) -> String {
    format!("seq/{doc}")
}

pub(super) struct Journal {
    id: DocId,
    actor: ActorId,
    doc: JournalDoc,
    acl_records: Vec<AclRecord>,
    acl: AclState,
    keys: BTreeMap<u32, DocKey>,
    /// Stored bundles whose changes are in `doc`, with their authors.
    live: BTreeMap<BundleId, DeviceId>,
    seq: u64,
    last: Option<BundleId>,
}

impl Journal {
    /// A new journal: genesis ACL record, the member's recovery key as an owner, the
    /// epoch-0 key and its envelope for this device, and the skeleton document.
    pub(super) fn create(
        device: &DeviceKeys,
        actor: ActorId,
        name: Option<&str>,
        batch: &mut Batch,
    ) -> Result<Self, VaultError> {
        let (id, genesis) = AclRecord::genesis(device);
        let recovery_secret = zeroize::Zeroizing::new(crypto::random_bytes::<32>());
        let recovery = iroh_base::SecretKey::from_bytes(&recovery_secret);
        let recovery_grant = AclRecord::sign(
            AclBody {
                doc: id,
                prev: Some(genesis.id()),
                issuer: device.id(),
                subject: DeviceId::from(recovery.public()),
                subject_recipient: None,
                role: Role::Owner,
                epoch: 0,
                nonce: None,
                created_at_ms: wire::now_ms(),
            },
            device,
        );
        let (doc, genesis_change) = JournalDoc::create(actor.clone(), name, &recovery_secret)?;
        let mut j = Journal::empty(id, actor);
        j.doc = doc;
        j.add_acl(genesis, batch);
        j.add_acl(recovery_grant, batch);
        let key = DocKey::generate()?;
        let envelope = Envelope::seal(id, 0, &key, device.id(), device.recipient(), device)?;
        batch.put_envelope(id, 0, device.id(), envelope.bytes().to_vec());
        j.keys.insert(0, key);
        j.author(
            device,
            BundleKind::Changes,
            &genesis_change,
            Vec::new(),
            batch,
        )?;
        Ok(j)
    }

    /// A journal with nothing in it yet, to ingest into.
    pub(super) fn empty(id: DocId, actor: ActorId) -> Self {
        Journal {
            id,
            doc: JournalDoc::empty(actor.clone()),
            actor,
            acl_records: Vec::new(),
            acl: AclState::evaluate(id, &[]),
            keys: BTreeMap::new(),
            live: BTreeMap::new(),
            seq: 0,
            last: None,
        }
    }

    /// Reads everything stored for the journal and rebuilds it in memory.
    pub(super) fn load(
        store: &Store,
        device: &DeviceKeys,
        id: DocId,
        actor: ActorId,
    ) -> Result<Self, VaultError> {
        let mut j = Journal::empty(id, actor);
        let items = store.items(&id)?;
        let mut scratch = Batch::new();
        let report = j.ingest_with(store, device, items, &mut scratch, true)?;
        for reason in &report.rejected {
            tracing::warn!("stored item ignored: {reason}");
        }
        j.ready(device)?;
        if let Some(v) = store.meta(&seq_key(id))?
            && let (Some(seq), Some(last)) = (v.get(..8), v.get(8..40))
        {
            let mut s = [0u8; 8];
            s.copy_from_slice(seq);
            let mut l = [0u8; 32];
            l.copy_from_slice(last);
            if u64::from_le_bytes(s) >= j.seq {
                j.seq = u64::from_le_bytes(s);
                j.last = Some(BundleId(l));
            }
        }
        Ok(j)
    }

    /// Checks the journal can be used on this device: a key and a valid document.
    pub(super) fn ready(&self, device: &DeviceKeys) -> Result<(), VaultError> {
        if !self.acl.may_hold(&device.id()) || self.keys.is_empty() {
            return Err(VaultError::NoKey);
        }
        // A device that joined with keys but no bundles yet gets them on its first sync.
        if !self.live.is_empty() {
            self.doc.check_schema()?;
        }
        Ok(())
    }

    pub(super) fn id(&self) -> DocId {
        self.id
    }

    pub(super) fn actor(&self) -> ActorId {
        self.actor.clone()
    }

    pub(super) fn doc(&self) -> &JournalDoc {
        &self.doc
    }

    pub(super) fn doc_mut(&mut self) -> &mut JournalDoc {
        &mut self.doc
    }

    pub(super) fn acl(&self) -> &AclState {
        &self.acl
    }

    pub(super) fn keys(&self) -> &BTreeMap<u32, DocKey> {
        &self.keys
    }

    pub(super) fn live_bundles(&self) -> usize {
        self.live.len()
    }

    pub(super) fn is_owner(&self, device: &DeviceKeys) -> bool {
        self.acl.is_owner(&device.id())
    }

    fn add_acl(&mut self, record: AclRecord, batch: &mut Batch) {
        batch.put_acl(self.id, record.id(), record.bytes().to_vec());
        self.acl_records.push(record);
        self.acl = AclState::evaluate(self.id, &self.acl_records);
    }

    /// Seals `plaintext` as this device's next bundle under the current epoch.
    pub(super) fn author(
        &mut self,
        device: &DeviceKeys,
        kind: BundleKind,
        plaintext: &[u8],
        supersedes: Vec<BundleId>,
        batch: &mut Batch,
    ) -> Result<BundleId, VaultError> {
        let epoch = self.acl.epoch();
        let key = self.keys.get(&epoch).ok_or(VaultError::NoKey)?;
        if !self.acl.may_write(&device.id(), epoch) {
            return Err(VaultError::Denied(
                "this device may not write the journal".into(),
            ));
        }
        let header = BundleHeader {
            format: FORMAT_V1,
            doc: self.id,
            epoch,
            author: device.id(),
            seq: self.seq + 1,
            prev: self.last,
            kind,
            created_at_ms: wire::now_ms(),
            supersedes,
        };
        let bundle = Bundle::seal(header, plaintext, key, device)?;
        let id = bundle.id();
        let mut seq_value = (self.seq + 1).to_le_bytes().to_vec();
        seq_value.extend_from_slice(id.as_bytes());
        batch
            .put_bundle(self.id, id, bundle.into_bytes())
            .put_meta(&seq_key(self.id), seq_value);
        self.seq += 1;
        self.last = Some(id);
        self.live.insert(id, device.id());
        Ok(id)
    }

    /// Writes a snapshot of the whole document superseding every live bundle.
    pub(super) fn snapshot(
        &mut self,
        device: &DeviceKeys,
        batch: &mut Batch,
    ) -> Result<CompactReport, VaultError> {
        let superseded: Vec<BundleId> = self.live.keys().copied().collect();
        let snapshot = self.doc.save();
        self.author(
            device,
            BundleKind::Snapshot,
            &snapshot,
            superseded.clone(),
            batch,
        )?;
        for id in &superseded {
            batch.delete_bundle(self.id, *id);
            self.live.remove(id);
        }
        Ok(CompactReport {
            superseded: superseded.len(),
            snapshot_bytes: snapshot.len(),
        })
    }

    /// Names another device in the ACL and seals every epoch key this device holds
    /// to it.
    pub(super) fn grant(
        &mut self,
        me: &DeviceKeys,
        to: &DevicePublic,
        role: Role,
        batch: &mut Batch,
    ) -> Result<(), VaultError> {
        self.grant_with(me.endpoint_key(), to, role, batch)?;
        match role {
            // A store (the hub) keeps ciphertext and never gets a key.
            Role::Owner | Role::Writer | Role::Reader => self.seal_keys_for(me, to, batch),
            Role::Store | Role::Removed => Ok(()),
        }
    }

    /// An ACL grant signed by `issuer` (a device, or the recovery key).
    pub(super) fn grant_with(
        &mut self,
        issuer: &iroh_base::SecretKey,
        to: &DevicePublic,
        role: Role,
        batch: &mut Batch,
    ) -> Result<(), VaultError> {
        if !self.acl.is_owner(&DeviceId::from(issuer.public())) {
            return Err(VaultError::Denied("only an owner adds devices".into()));
        }
        crypto::age_recipient(&to.recipient)?;
        let record = AclRecord::sign_with(
            AclBody {
                doc: self.id,
                prev: self.acl.head(),
                issuer: DeviceId::from(issuer.public()),
                subject: to.id,
                subject_recipient: Some(to.recipient.clone()),
                role,
                epoch: self.acl.epoch(),
                nonce: None,
                created_at_ms: wire::now_ms(),
            },
            issuer,
        );
        self.add_acl(record, batch);
        Ok(())
    }

    /// Envelopes for every epoch key held, from `me` to `to`.
    pub(super) fn seal_keys_for(
        &mut self,
        me: &DeviceKeys,
        to: &DevicePublic,
        batch: &mut Batch,
    ) -> Result<(), VaultError> {
        let recipient = crypto::age_recipient(&to.recipient)?;
        for (epoch, key) in &self.keys {
            let envelope = Envelope::seal(self.id, *epoch, key, to.id, &recipient, me)?;
            batch.put_envelope(self.id, *epoch, to.id, envelope.bytes().to_vec());
        }
        Ok(())
    }

    /// Removes a device: a removal record opening a new epoch, a new key sealed only
    /// to the devices that remain, and a snapshot under it that supersedes everything.
    pub(super) fn remove_device(
        &mut self,
        me: &DeviceKeys,
        target: DeviceId,
        batch: &mut Batch,
    ) -> Result<(), VaultError> {
        if !self.acl.is_owner(&me.id()) {
            return Err(VaultError::Denied("only an owner removes devices".into()));
        }
        if target == me.id() {
            return Err(VaultError::Denied(
                "a device cannot remove itself; remove it from another device".into(),
            ));
        }
        if !self.acl.may_hold(&target) {
            return Err(VaultError::Denied(format!(
                "{target:?} is not one of this journal's devices"
            )));
        }
        let epoch = self.acl.epoch() + 1;
        let record = AclRecord::sign(
            AclBody {
                doc: self.id,
                prev: self.acl.head(),
                issuer: me.id(),
                subject: target,
                subject_recipient: None,
                role: Role::Removed,
                epoch,
                nonce: None,
                created_at_ms: wire::now_ms(),
            },
            me,
        );
        self.add_acl(record, batch);
        let key = DocKey::generate()?;
        let remaining: Vec<(DeviceId, String)> = self
            .acl
            .members()
            .filter(|m| matches!(m.role, Role::Owner | Role::Writer | Role::Reader))
            .filter_map(|m| Some((m.device, m.recipient.clone()?)))
            .collect();
        for (device, recipient) in remaining {
            let recipient = crypto::age_recipient(&recipient)?;
            let envelope = Envelope::seal(self.id, epoch, &key, device, &recipient, me)?;
            batch.put_envelope(self.id, epoch, device, envelope.bytes().to_vec());
        }
        self.keys.insert(epoch, key);
        self.snapshot(me, batch)?;
        Ok(())
    }

    /// Adds epoch keys from a backup.
    pub(super) fn add_keys(&mut self, keys: impl IntoIterator<Item = (u32, DocKey)>) {
        self.keys.extend(keys);
    }

    /// Takes in items from a peer: see [`Journal::ingest_with`].
    pub(super) fn ingest(
        &mut self,
        store: &Store,
        device: &DeviceKeys,
        items: Vec<SyncItem>,
        batch: &mut Batch,
    ) -> Result<IngestReport, VaultError> {
        self.ingest_with(store, device, items, batch, false)
    }

    /// Verifies and applies items (see [`crate::item::verify`]): ACL records decide
    /// the rest; envelopes for this device are opened; bundles are decrypted and
    /// applied, snapshots first. With `loading`, the items come from our own store and
    /// are not written again.
    fn ingest_with(
        &mut self,
        store: &Store,
        device: &DeviceKeys,
        items: Vec<SyncItem>,
        batch: &mut Batch,
        loading: bool,
    ) -> Result<IngestReport, VaultError> {
        let (mut verified, mut raw) =
            item::verify_records(self.id, &mut self.acl_records, &mut self.acl, items, |id| {
                holds(store, self.id, loading, id)
            });
        let mut report = IngestReport::default();
        for record in std::mem::take(&mut verified.acl) {
            if !loading {
                batch.put_acl(self.id, record.id(), record.bytes().to_vec());
            }
            report.accepted += 1;
        }
        let mut new_epochs = Vec::new();
        for env in std::mem::take(&mut verified.envelopes) {
            let body = env.body();
            if body.recipient == device.id() && !self.keys.contains_key(&body.epoch) {
                match env.open(device) {
                    Ok(key) => {
                        self.keys.insert(body.epoch, key);
                        new_epochs.push(body.epoch);
                    }
                    Err(e) => {
                        report.rejected.push(format!("envelope: {e}"));
                        continue;
                    }
                }
            }
            if !loading {
                batch.put_envelope(self.id, body.epoch, body.recipient, env.bytes().to_vec());
            }
            report.accepted += 1;
        }
        // Bundles kept earlier without a key for their epoch can be read now.
        let mut unlocked = Vec::new();
        if !new_epochs.is_empty() && !loading {
            for (id, bytes) in store.bundles(&self.id)? {
                if self.live.contains_key(&id) {
                    continue;
                }
                if let Ok(b) = Bundle::decode(&bytes)
                    && new_epochs.contains(&b.header().epoch)
                    && self.acl.may_write(&b.header().author, b.header().epoch)
                {
                    unlocked.push(b);
                }
            }
        }
        // The snapshot an empty journal starts from (the largest bundle) is checked
        // alone and loaded on this thread at once, while the other bundles are checked
        // and decrypted on another: Automerge's load is the long pole of a first sync
        // and of every open.
        if self.live.is_empty() && !raw.is_empty() {
            let largest = vec![raw.remove(0)];
            item::verify_bundles(
                self.id,
                &self.acl,
                largest,
                0,
                |id| holds_bundle(&self.live, store, self.id, loading, id),
                &mut verified,
            );
        }
        let base = match verified.bundles.first() {
            Some(b)
                if self.live.is_empty()
                    && b.header().kind == BundleKind::Snapshot
                    && self.keys.contains_key(&b.header().epoch) =>
            {
                Some(verified.bundles.remove(0))
            }
            _ => None,
        };
        let base = base.and_then(|b| {
            let key = self.keys.get(&b.header().epoch)?;
            match b.decrypt(key) {
                Ok(plain) => Some((b, plain)),
                Err(e) => {
                    report.rejected.push(format!("bundle {:?}: {e}", b.id()));
                    None
                }
            }
        });
        let mut pending: Vec<(BundleId, Vec<u8>)> = Vec::new();
        let (base, plain) = base.unzip();
        let actor = self.actor.clone();
        // Everything but the snapshot: checked, decrypted and queued, then written
        // durably while the snapshot loads (the ciphertext does not depend on the
        // load; a snapshot that fails to load is deleted again below).
        let rest = |busy: usize| {
            item::verify_bundles(
                self.id,
                &self.acl,
                raw,
                busy,
                |id| holds_bundle(&self.live, store, self.id, loading, id),
                &mut verified,
            );
            report.duplicates += verified.duplicates;
            report.rejected.append(&mut verified.rejected);
            let bundles = std::mem::take(&mut verified.bundles)
                .into_iter()
                .map(|b| (b, false))
                .chain(unlocked.into_iter().map(|b| (b, true)));
            bundles
                .into_iter()
                .try_for_each(|(bundle, already_stored)| {
                    self.take_bundle(TakeBundle {
                        store,
                        device,
                        bundle,
                        write: !loading && !already_stored,
                        count: !already_stored,
                        base_loading: busy > 0,
                        loading,
                        batch: &mut *batch,
                        report: &mut report,
                        pending: &mut pending,
                    })
                })?;
            match &base {
                Some(bundle) if !loading => {
                    let mut now = std::mem::take(&mut *batch);
                    now.put_bundle(self.id, bundle.id(), bundle.bytes().to_vec());
                    store.commit(now, true)?;
                    Ok::<_, VaultError>(true)
                }
                _ => Ok(false),
            }
        };
        let (loaded, written_early) = match plain {
            // The snapshot loads on this thread at once; the rest runs beside it.
            Some(plain) => std::thread::scope(|s| {
                let others = s.spawn(|| rest(1));
                let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    JournalDoc::load(&plain, actor).map_err(VaultError::from)
                }))
                .unwrap_or_else(|_| {
                    Err(VaultError::Damaged(
                        "the snapshot could not be loaded".into(),
                    ))
                });
                match others.join() {
                    Ok(written) => Ok((Some(loaded), written?)),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }),
            None => rest(0).map(|written| (None, written)),
        }?;
        if let (Some(bundle), Some(doc)) = (base, loaded) {
            match doc {
                Ok(doc) => {
                    self.doc = doc;
                    let write = !loading && !written_early;
                    self.keep_bundle(store, device, bundle, write, loading, batch)?;
                    report.accepted += 1;
                }
                Err(e) => {
                    if written_early {
                        batch.delete_bundle(self.id, bundle.id());
                    }
                    report
                        .rejected
                        .push(format!("bundle {:?}: {e}", bundle.id()));
                }
            }
        }
        self.apply_pending(pending, batch, &mut report, written_early);
        Ok(report)
    }
}

/// Whether an ACL record or envelope is already kept (never, while loading our own
/// store).
fn holds(store: &Store, doc: DocId, loading: bool, id: &ItemId) -> bool {
    !loading && store.has_item(&doc, id).unwrap_or(false)
}

/// [`holds`] for a bundle: one key lookup, no scan of the envelopes.
fn holds_bundle(
    live: &BTreeMap<BundleId, DeviceId>,
    store: &Store,
    doc: DocId,
    loading: bool,
    id: &ItemId,
) -> bool {
    let id = BundleId(id.0);
    !loading && (live.contains_key(&id) || store.has_bundle(&doc, &id).unwrap_or(false))
}

/// One bundle for [`Journal::take_bundle`], and where its outcome goes.
struct TakeBundle<'a> {
    store: &'a Store,
    device: &'a DeviceKeys,
    bundle: Bundle,
    /// Store it (it is neither from our store nor already there).
    write: bool,
    /// Count it as accepted.
    count: bool,
    /// A snapshot is being loaded into the document meanwhile.
    base_loading: bool,
    loading: bool,
    batch: &'a mut Batch,
    report: &'a mut IngestReport,
    pending: &'a mut Vec<(BundleId, Vec<u8>)>,
}

impl Journal {
    /// Decrypts a verified bundle and loads it (a snapshot into an empty journal) or
    /// queues its changes for [`Journal::apply_pending`]; keeps a bundle of an epoch
    /// we hold no key for, so a later envelope can unlock it.
    fn take_bundle(&mut self, t: TakeBundle<'_>) -> Result<(), VaultError> {
        let TakeBundle {
            store,
            device,
            bundle,
            write,
            count,
            base_loading,
            loading,
            batch,
            report,
            pending,
        } = t;
        if self.live.contains_key(&bundle.id()) {
            report.duplicates += 1;
            return Ok(());
        }
        let h = bundle.header();
        let Some(key) = self.keys.get(&h.epoch) else {
            if write {
                batch.put_bundle(self.id, bundle.id(), bundle.bytes().to_vec());
            }
            report.accepted += 1;
            return Ok(());
        };
        let applied = bundle
            .decrypt(key)
            .map_err(VaultError::from)
            .and_then(|plain| {
                if self.live.is_empty() && !base_loading && h.kind == BundleKind::Snapshot {
                    self.doc = JournalDoc::load(&plain, self.actor.clone())?;
                } else {
                    // Applied together: one load_incremental of many changes is several
                    // times faster than one call per bundle.
                    pending.push((bundle.id(), plain));
                }
                Ok(())
            });
        if let Err(e) = applied {
            report
                .rejected
                .push(format!("bundle {:?}: {e}", bundle.id()));
            return Ok(());
        }
        self.keep_bundle(store, device, bundle, write, loading, batch)?;
        if count {
            report.accepted += 1;
        }
        Ok(())
    }

    /// Records a bundle whose changes are (or are about to be) in the document: this
    /// device's sequence, the bundles a snapshot supersedes, the live set, the write.
    fn keep_bundle(
        &mut self,
        store: &Store,
        device: &DeviceKeys,
        bundle: Bundle,
        write: bool,
        loading: bool,
        batch: &mut Batch,
    ) -> Result<(), VaultError> {
        let h = bundle.header();
        if h.author == device.id() && h.seq > self.seq {
            self.seq = h.seq;
            self.last = Some(bundle.id());
        }
        if h.kind == BundleKind::Snapshot && self.acl.is_owner(&h.author) {
            for old in &h.supersedes {
                if self.live.remove(old).is_some()
                    || (!loading && store.has_bundle(&self.id, old)?)
                {
                    batch.delete_bundle(self.id, *old);
                }
            }
        }
        self.live.insert(bundle.id(), h.author);
        if write {
            batch.put_bundle(self.id, bundle.id(), bundle.into_bytes());
        }
        Ok(())
    }

    /// Applies decrypted changes in one go; if Automerge refuses the lot, applies them
    /// one by one and drops (does not store, or deletes if `written_early`) the ones
    /// it refuses.
    fn apply_pending(
        &mut self,
        pending: Vec<(BundleId, Vec<u8>)>,
        batch: &mut Batch,
        report: &mut IngestReport,
        written_early: bool,
    ) {
        if pending.is_empty() {
            return;
        }
        let all: Vec<u8> = pending
            .iter()
            .flat_map(|(_, p)| p.iter().copied())
            .collect();
        if self.doc.apply(&all).is_ok() {
            return;
        }
        for (id, plain) in pending {
            if let Err(e) = self.doc.apply(&plain) {
                self.live.remove(&id);
                batch.forget_bundle(&id);
                if written_early {
                    batch.delete_bundle(self.id, id);
                }
                report.accepted = report.accepted.saturating_sub(1);
                report.rejected.push(format!("bundle {id:?}: {e}"));
            }
        }
    }
}
