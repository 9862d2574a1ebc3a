//! The open journal inside a vault: the in-memory document plus what it takes to
//! extend it safely — the access log, the epoch keys this device holds, the bundles
//! applied, parked and superseded, and this device's sequence in the doc. Every rule
//! about which bundle, record or envelope to accept is applied here, once, for local
//! loads and remote ingest alike.
//!
//! Taking items in reads top to bottom as phases ([`Journal::ingest`]): access
//! records first (they decide the rest), then envelopes (keys), then bundles —
//! authorized from their headers, verified, decrypted, and applied, snapshots first.
//! A snapshot supersedes nothing until it has applied, and every Automerge call on
//! received bytes is contained so a panic is an error, never a poisoned vault.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::panic::AssertUnwindSafe;

use automerge::ActorId;

use super::keys::EpochKeys;
use super::withheld::{self, Gap, Link};
use super::{CompactReport, DevicePublic, IngestReport, RemovalReport, SyncItem, VaultError};
use crate::access::{
    AccessLog, AccessState, AclBody, AclRecord, Action, Chain, Mark, Removal, Role, bundle_allowed,
};
use crate::bundle::{Bundle, BundleHeader, BundleKind, FORMAT_V2};
use crate::doc::{DocError, JournalDoc, Model};
use crate::envelope::{DocKey, Envelope};
use crate::identity::{DeviceKeys, Seed};
use crate::ids::{BundleId, DeviceId, DocId};
use crate::item::{self, CheckedBundles, ItemId};
use crate::store::{Batch, Store};

/// The most envelopes held waiting for the records they depend on.
const MAX_WAITING: usize = 256;

fn seq_key(doc: DocId) -> String {
    format!("seq/{doc}")
}

fn frontier_key(doc: DocId) -> String {
    format!("frontier/{doc}")
}

/// What a snapshot says beside the document (after its parts, see `doc::with_note`).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct SnapshotNote {
    /// Each author's newest bundle the snapshot's author had applied.
    frontier: BTreeMap<DeviceId, Mark>,
}

/// The most authors a snapshot's note is read for (a journal's writers are a member's
/// devices and the few people it shares with).
const MAX_NOTE_AUTHORS: usize = 1024;

/// Where items come from: that decides what is written again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// This device's own store, read when the vault opens: nothing is written again,
    /// and bundles the access log voids stay stored but are not applied (parked).
    Store,
    /// A peer, a pairing or a backup: what is accepted is written to the batch.
    Received,
}

pub(super) struct Journal<D: Model = JournalDoc> {
    id: DocId,
    actor: ActorId,
    doc: D,
    access: AccessLog,
    keys: EpochKeys,
    /// Stored bundles whose changes are in `doc`.
    live: BTreeMap<BundleId, Link>,
    /// Stored bundles the access log voids (a removed author's, past its mark): not
    /// applied, not offered to peers.
    parked: BTreeSet<BundleId>,
    /// Bundles named by applied snapshots: never taken in again.
    superseded: HashSet<BundleId>,
    /// Envelopes that came before the records they depend on (bounded).
    waiting: Vec<Envelope>,
    /// Each author's newest bundle applied here, whether or not a snapshot has since
    /// replaced it: the mark a removal of that author names (kept in the store).
    frontier: BTreeMap<DeviceId, Mark>,
    frontier_changed: bool,
    /// Records or envelopes came in since an owner last looked for keys to seal.
    repair_due: bool,
    /// Parked bundles were applied because others built on them (see
    /// `take_depended_on`): an owner writes a snapshot so every device gets them.
    took_parked: bool,
    seq: u64,
    last: Option<BundleId>,
}

/// Runs Automerge on received bytes so that a panic inside it becomes an error.
fn contained<T>(what: &str, f: impl FnOnce() -> Result<T, DocError>) -> Result<T, VaultError> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.map_err(VaultError::from),
        Err(_) => Err(VaultError::Damaged(format!("{what} made Automerge fail"))),
    }
}

/// A bundle checked and decrypted, waiting to be applied.
struct Ready {
    bundle: Bundle,
    /// `None`: no key for its epoch yet (kept, applied when the key arrives).
    plain: Option<Vec<u8>>,
    /// New here (counted as accepted), rather than unlocked from the store.
    new: bool,
    /// Already in the store (unlocked, or written early while a snapshot loaded).
    written: bool,
}

impl Journal<JournalDoc> {
    /// A new journal: genesis access record committing to epoch 0's key, the key's
    /// envelope for this device, and the skeleton document.
    pub(super) fn create(
        device: &DeviceKeys,
        actor: ActorId,
        name: Option<&str>,
        batch: &mut Batch,
    ) -> Result<Self, VaultError> {
        Journal::create_with(
            device,
            actor.clone(),
            |_| Ok(JournalDoc::create(actor, name)?),
            batch,
        )
    }
}

impl<D: Model> Journal<D> {
    /// A new document of any kind: genesis access record committing to epoch 0's
    /// key, the key's envelope for this device, and the document `make` builds for
    /// the new id, with its first change.
    pub(super) fn create_with(
        device: &DeviceKeys,
        actor: ActorId,
        make: impl FnOnce(DocId) -> Result<(D, Vec<u8>), VaultError>,
        batch: &mut Batch,
    ) -> Result<Self, VaultError> {
        let key = DocKey::generate()?;
        let (id, genesis) = AclRecord::genesis(device, key.commitment())?;
        let (doc, first_change) = make(id)?;
        let mut j = Journal::empty(id, actor);
        j.doc = doc;
        j.add_own_record(genesis, batch)?;
        let envelope = Envelope::seal(id, 0, &key, device.id(), device.recipient(), device)?;
        batch.put_envelope(id, &envelope);
        j.keys.insert(0, key);
        j.author(
            device,
            BundleKind::Changes,
            &first_change,
            Vec::new(),
            batch,
        )?;
        Ok(j)
    }

    /// A journal with nothing in it yet, to ingest into.
    pub(super) fn empty(id: DocId, actor: ActorId) -> Self {
        Journal {
            id,
            doc: D::empty(actor.clone()),
            actor,
            access: AccessLog::new(id),
            keys: EpochKeys::default(),
            live: BTreeMap::new(),
            parked: BTreeSet::new(),
            superseded: HashSet::new(),
            waiting: Vec::new(),
            frontier: BTreeMap::new(),
            frontier_changed: false,
            repair_due: true,
            took_parked: false,
            seq: 0,
            last: None,
        }
    }

    /// Reads everything stored for the journal and rebuilds it in memory, checking
    /// that what it holds is a journal.
    pub(super) fn load(
        store: &Store,
        device: &DeviceKeys,
        id: DocId,
        actor: ActorId,
    ) -> Result<Self, VaultError> {
        let j = Self::rebuild(store, device, id, actor)?;
        if !j.live.is_empty() {
            j.doc.check_schema()?;
        }
        Ok(j)
    }

    /// Reads everything stored for the journal and rebuilds it in memory (during a
    /// sync the document may lack what a snapshot still on its way brings).
    fn rebuild(
        store: &Store,
        device: &DeviceKeys,
        id: DocId,
        actor: ActorId,
    ) -> Result<Self, VaultError> {
        let mut j = Journal::empty(id, actor);
        if let Some(bytes) = store.meta(&frontier_key(id))? {
            j.frontier = postcard::from_bytes(&bytes).unwrap_or_default();
        }
        let records: Vec<AclRecord> = store
            .acl(&id)?
            .iter()
            .filter_map(|b| match AclRecord::decode(b) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!("stored access record ignored: {e}");
                    None
                }
            })
            .collect();
        j.access = AccessLog::from_stored(id, records);
        let items = store
            .envelopes(&id)?
            .into_iter()
            .map(SyncItem::Envelope)
            .chain(
                store
                    .bundles(&id)?
                    .into_iter()
                    .map(|(_, b)| SyncItem::Bundle(b)),
            )
            .collect();
        let mut scratch = Batch::new();
        let report = j.ingest(store, device, items, Source::Store, &mut scratch)?;
        for reason in &report.rejected {
            tracing::warn!("stored item not used: {reason}");
        }
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
        j.frontier_changed = false;
        Ok(j)
    }

    /// Checks a journal just joined or restored can be used here: this device holds
    /// it, has a key, and the document is a journal.
    pub(super) fn ready(&self, device: &DeviceKeys) -> Result<(), VaultError> {
        if !self.state().may_hold(&device.id()) || self.keys.is_empty() {
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

    pub(super) fn doc(&self) -> &D {
        &self.doc
    }

    pub(super) fn doc_mut(&mut self) -> &mut D {
        &mut self.doc
    }

    pub(super) fn state(&self) -> &AccessState {
        self.access.state()
    }

    pub(super) fn keys(&self) -> &EpochKeys {
        &self.keys
    }

    pub(super) fn live_bundles(&self) -> usize {
        self.live.len()
    }

    /// Stored bundles this journal does not offer to peers (void under its access log).
    /// Each author's newest bundle applied here (replaced by a snapshot or not).
    pub(super) fn newest_by_author(&self) -> BTreeMap<DeviceId, Mark> {
        self.frontier.clone()
    }

    /// Whether a snapshot applied here replaced `bundle`.
    pub(super) fn replaced(&self, bundle: &BundleId) -> bool {
        self.superseded.contains(bundle)
    }

    /// Gaps in the authors' chains among the bundles applied here.
    pub(super) fn gaps(&self) -> Vec<Gap> {
        withheld::gaps(self.live.iter(), |b| {
            self.live.contains_key(b) || self.superseded.contains(b) || self.parked.contains(b)
        })
    }

    pub(super) fn parked(&self) -> &BTreeSet<BundleId> {
        &self.parked
    }

    pub(super) fn is_owner(&self, device: &DeviceKeys) -> bool {
        self.state().is_owner(&device.id())
    }

    /// Whether this device should open a new epoch: the newest key reached a device
    /// that is now removed, and this device is an owner holding a key.
    pub(super) fn rekey_due(&self, device: &DeviceKeys) -> bool {
        self.state().rekey_needed() && self.is_owner(device) && !self.keys.is_empty()
    }

    fn add_own_record(&mut self, record: AclRecord, batch: &mut Batch) -> Result<(), VaultError> {
        self.access
            .add_own(record.clone())
            .map_err(|why| VaultError::Denied(why.into()))?;
        batch.put_acl(self.id, record.id(), record.bytes().to_vec());
        Ok(())
    }

    /// Signs a record naming everything this journal's log holds as seen.
    fn sign_record(
        &self,
        issuer: &iroh_base::SecretKey,
        action: Action,
    ) -> Result<AclRecord, VaultError> {
        let state = self.state();
        let opens = matches!(action, Action::Remove { .. } | Action::Rotate { .. });
        let epoch = if opens {
            state
                .head_epoch()
                .checked_add(1)
                .ok_or_else(|| VaultError::Denied("the journal has run out of epochs".into()))?
        } else {
            state.head_epoch()
        };
        let body = AclBody {
            doc: self.id,
            issuer: DeviceId::from(issuer.public()),
            parents: state.heads().to_vec(),
            epoch,
            action,
        };
        Ok(AclRecord::sign_with(body, issuer)?)
    }

    /// Seals `plaintext` as this device's next bundle under the newest key.
    pub(super) fn author(
        &mut self,
        device: &DeviceKeys,
        kind: BundleKind,
        plaintext: &[u8],
        supersedes: Vec<BundleId>,
        batch: &mut Batch,
    ) -> Result<BundleId, VaultError> {
        if self.state().write_right(&device.id()) != crate::access::WriteRight::Yes {
            return Err(VaultError::Denied(
                "this device may not write the journal (it was removed, or only reads)".into(),
            ));
        }
        if self.state().rekey_needed() {
            // Concurrent removals left the newest key with a removed device: nothing is
            // written under it. An owner opens a new epoch as soon as it sees this.
            return Err(VaultError::Denied(
                "the journal's key must be renewed first: sync with one of your devices that can add and remove devices".into(),
            ));
        }
        let (epoch, key) = self.keys.for_write(self.state()).ok_or(VaultError::NoKey)?;
        let header = BundleHeader {
            format: FORMAT_V2,
            doc: self.id,
            epoch,
            author: device.id(),
            seq: self.seq + 1,
            prev: self.last,
            kind,
            created_at_ms: 0,
            supersedes,
        };
        let prev = self.last;
        let bundle = Bundle::seal(header, plaintext, key, device)?;
        let id = bundle.id();
        let mut seq_value = (self.seq + 1).to_le_bytes().to_vec();
        seq_value.extend_from_slice(id.as_bytes());
        batch
            .put_bundle(self.id, id, bundle.into_bytes())
            .put_meta(&seq_key(self.id), seq_value);
        self.seq += 1;
        self.last = Some(id);
        self.live.insert(
            id,
            Link {
                author: device.id(),
                seq: self.seq,
                prev,
            },
        );
        self.advance(device.id(), self.seq, id);
        self.save_frontier(batch);
        Ok(id)
    }

    /// Writes a snapshot of the whole document superseding every live bundle.
    pub(super) fn snapshot(
        &mut self,
        device: &DeviceKeys,
        batch: &mut Batch,
    ) -> Result<CompactReport, VaultError> {
        let superseded: Vec<BundleId> = self.live.keys().copied().collect();
        // Beside the document, every author's newest entry it holds: a device given only
        // this snapshot knows how far each author had got (for the marks of removals
        // it makes, and to compare what hubs gave it with its other devices).
        let note = crate::wire::to_postcard(&SnapshotNote {
            frontier: self.frontier.clone(),
        });
        let snapshot = crate::doc::with_note(self.doc.save(), &note);
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
            self.superseded.insert(*id);
        }
        Ok(CompactReport {
            superseded: superseded.len(),
            snapshot_bytes: snapshot.len(),
        })
    }

    /// Names another device in the access log, and seals every key this device holds
    /// to it when its role reads.
    pub(super) fn grant(
        &mut self,
        me: &DeviceKeys,
        to: &DevicePublic,
        role: Role,
        batch: &mut Batch,
    ) -> Result<(), VaultError> {
        self.grant_with(me.endpoint_key(), to, role, batch)?;
        if role.reads() {
            self.seal_keys_for(me, to, batch)?;
        }
        Ok(())
    }

    /// A grant signed by `issuer` (a device, or a backup's recovery key).
    pub(super) fn grant_with(
        &mut self,
        issuer: &iroh_base::SecretKey,
        to: &DevicePublic,
        role: Role,
        batch: &mut Batch,
    ) -> Result<(), VaultError> {
        if !self.state().may_grant(&DeviceId::from(issuer.public())) {
            return Err(VaultError::Denied("only an owner adds devices".into()));
        }
        if self
            .state()
            .member(&to.id)
            .is_some_and(|m| m.removed.is_some())
        {
            return Err(VaultError::Denied(
                "that device was removed from this journal and cannot come back; reset it to add it again".into(),
            ));
        }
        let record = self.sign_record(
            issuer,
            Action::Grant {
                subject: to.id,
                recipient: to.recipient.clone(),
                role,
            },
        )?;
        self.add_own_record(record, batch)
    }

    /// Ends `subject`'s access at `until_ms` (a coach's, under a dated consent): hubs
    /// refuse it from then on by their own clocks, before any device removes it.
    pub(super) fn until(
        &mut self,
        me: &DeviceKeys,
        subject: DeviceId,
        until_ms: u64,
        batch: &mut Batch,
    ) -> Result<(), VaultError> {
        if !self.state().is_owner(&me.id()) {
            return Err(VaultError::Denied("only an owner ends access".into()));
        }
        let record = self.sign_record(me.endpoint_key(), Action::Until { subject, until_ms })?;
        self.add_own_record(record, batch)
    }

    /// Envelopes for every key held, from `me` to `to`.
    pub(super) fn seal_keys_for(
        &mut self,
        me: &DeviceKeys,
        to: &DevicePublic,
        batch: &mut Batch,
    ) -> Result<(), VaultError> {
        let recipient = crate::crypto::age_recipient(&to.recipient)?;
        for (epoch, key) in self.keys.iter() {
            let envelope = Envelope::seal(self.id, epoch, key, to.id, &recipient, me)?;
            batch.put_envelope(self.id, &envelope);
        }
        Ok(())
    }

    /// A new backup key: granted as `Recovery` (shown in the device list, rotated by
    /// every removal). Returns its seed, which lives only in the backup file.
    pub(super) fn add_backup_key(
        &mut self,
        me: &DeviceKeys,
        batch: &mut Batch,
    ) -> Result<Seed, VaultError> {
        if !self.is_owner(me) {
            return Err(VaultError::Denied(
                "only an owner device makes backups that can restore the journal".into(),
            ));
        }
        let seed = Seed::generate();
        let keys = DeviceKeys::derive(&seed)?;
        let public = DevicePublic {
            id: keys.id(),
            recipient: keys.recipient().to_string(),
        };
        self.grant_with(me.endpoint_key(), &public, Role::Recovery, batch)?;
        Ok(seed)
    }

    /// The newest bundle of `author`'s this journal has applied.
    fn mark_of(&self, author: &DeviceId) -> Option<Mark> {
        self.frontier.get(author).copied()
    }

    /// Notes an applied bundle in its author's frontier.
    fn advance(&mut self, author: DeviceId, seq: u64, bundle: BundleId) {
        let newer = self.frontier.get(&author).is_none_or(|m| m.seq < seq);
        if newer {
            self.frontier.insert(author, Mark { seq, bundle });
            self.frontier_changed = true;
        }
    }

    /// Writes the frontier when it changed.
    fn save_frontier(&mut self, batch: &mut Batch) {
        if std::mem::take(&mut self.frontier_changed) {
            batch.put_meta(
                &frontier_key(self.id),
                crate::wire::to_postcard(&self.frontier),
            );
        }
    }

    /// Removes a device and every backup key (old backups must not restore what is
    /// written from now on): a record opening a new epoch, its key sealed only to the
    /// devices that remain, and a snapshot under it that supersedes everything.
    pub(super) fn remove_device(
        &mut self,
        me: &DeviceKeys,
        target: DeviceId,
        batch: &mut Batch,
    ) -> Result<RemovalReport, VaultError> {
        self.remove_devices(me, &[target], batch)
    }

    /// [`Journal::remove_device`] for several at once (a coach's devices, when a
    /// consent ends): one new epoch without any of them.
    pub(super) fn remove_devices(
        &mut self,
        me: &DeviceKeys,
        targets: &[DeviceId],
        batch: &mut Batch,
    ) -> Result<RemovalReport, VaultError> {
        let state = self.state();
        if !state.is_owner(&me.id()) {
            return Err(VaultError::Denied("only an owner removes devices".into()));
        }
        if targets.contains(&me.id()) {
            return Err(VaultError::Denied(
                "a device cannot remove itself; remove it from another device".into(),
            ));
        }
        for target in targets {
            if !state.member(target).is_some_and(|m| m.is_current()) {
                return Err(VaultError::Denied(format!(
                    "{target:?} is not one of this journal's devices"
                )));
            }
        }
        let backups: Vec<DeviceId> = state
            .members()
            .filter(|m| m.is_current() && m.role == Role::Recovery && !targets.contains(&m.device))
            .map(|m| m.device)
            .collect();
        let removed: Vec<Removal> = targets
            .iter()
            .copied()
            .chain(backups.iter().copied())
            .map(|subject| Removal {
                subject,
                mark: self.mark_of(&subject),
            })
            .collect();
        let gone: BTreeSet<DeviceId> = removed.iter().map(|r| r.subject).collect();
        let readers: Vec<DeviceId> = state
            .readers()
            .into_iter()
            .filter(|d| !gone.contains(d))
            .collect();
        self.open_epoch(me, Some(removed), readers, batch)
            .map(|skipped| RemovalReport {
                backups_retired: backups.len(),
                skipped,
            })
    }

    /// Opens a new epoch with a fresh key, removing nobody: after concurrent removals
    /// left the newest key with a removed device.
    pub(super) fn rotate(&mut self, me: &DeviceKeys, batch: &mut Batch) -> Result<(), VaultError> {
        let readers = self.state().readers().into_iter().collect();
        self.open_epoch(me, None, readers, batch).map(drop)
    }

    /// The record opening the next epoch (a removal, or a rotation), the new key
    /// sealed to each reader that can be sealed to (the others are returned, never a
    /// reason to stop), and a snapshot under the new key.
    fn open_epoch(
        &mut self,
        me: &DeviceKeys,
        removed: Option<Vec<Removal>>,
        readers: Vec<DeviceId>,
        batch: &mut Batch,
    ) -> Result<Vec<DeviceId>, VaultError> {
        let key = DocKey::generate()?;
        let action = match removed {
            Some(removed) => Action::Remove {
                removed,
                key: key.commitment(),
                readers: readers.clone(),
            },
            None => Action::Rotate {
                key: key.commitment(),
                readers: readers.clone(),
            },
        };
        let record = self.sign_record(me.endpoint_key(), action)?;
        let epoch = record.body().epoch;
        self.add_own_record(record, batch)?;
        let mut skipped = Vec::new();
        for device in readers {
            let sealed = self
                .state()
                .member(&device)
                .ok_or(VaultError::NoKey)
                .and_then(|m| Ok(crate::crypto::age_recipient(&m.recipient)?))
                .and_then(|recipient| {
                    Ok(Envelope::seal(
                        self.id, epoch, &key, device, &recipient, me,
                    )?)
                });
            match sealed {
                Ok(envelope) => {
                    batch.put_envelope(self.id, &envelope);
                }
                Err(e) => {
                    tracing::warn!("no new key for {}: {e}", device.short());
                    skipped.push(device);
                }
            }
        }
        self.keys.insert(epoch, key);
        self.snapshot(me, batch)?;
        Ok(skipped)
    }

    /// Seals the keys this device holds to current members that were never sealed
    /// them (see [`AccessState::expected_keys`]); an owner does this whenever records
    /// or envelopes come in.
    pub(super) fn seal_missing_keys(
        &mut self,
        store: &Store,
        me: &DeviceKeys,
        batch: &mut Batch,
    ) -> Result<(), VaultError> {
        if !std::mem::take(&mut self.repair_due) || !self.is_owner(me) {
            return Ok(());
        }
        for (device, epoch, commitment) in self.state().expected_keys() {
            let Some(key) = self.keys.get(epoch, &commitment) else {
                continue;
            };
            if device == me.id()
                || store.has_envelope_for(&self.id, epoch, &device, &commitment.0)?
            {
                continue;
            }
            let Some(member) = self.state().member(&device) else {
                continue;
            };
            let recipient = crate::crypto::age_recipient(&member.recipient)?;
            let envelope = Envelope::seal(self.id, epoch, key, device, &recipient, me)?;
            batch.put_envelope(self.id, &envelope);
        }
        Ok(())
    }

    /// Adds epoch keys from a backup.
    pub(super) fn add_keys(&mut self, keys: impl IntoIterator<Item = (u32, DocKey)>) {
        for (epoch, key) in keys {
            self.keys.insert(epoch, key);
        }
    }

    /// Takes in items, phase by phase: access records, then envelopes, then bundles.
    pub(super) fn ingest(
        &mut self,
        store: &Store,
        device: &DeviceKeys,
        items: Vec<SyncItem>,
        source: Source,
        batch: &mut Batch,
    ) -> Result<IngestReport, VaultError> {
        let mut report = IngestReport::default();
        let sorted = item::sort(self.id, items, |item, id| match item {
            SyncItem::Acl(_) => self.access.contains(&crate::ids::AclId(id.0)),
            _ => source == Source::Received && store.has_item(&self.id, id).unwrap_or(false),
        });
        report.rejected.extend(sorted.rejected);
        report.duplicates += sorted.duplicates;
        let access_changed = self.take_records(sorted.acl, source, batch, &mut report);
        let new_epochs =
            self.take_envelopes(store, device, sorted.envelopes, source, batch, &mut report);
        let unlocked = match source {
            Source::Received if !new_epochs.is_empty() => {
                self.unlocked(store, device, &new_epochs)?
            }
            _ => Vec::new(),
        };
        self.take_bundles(
            store,
            device,
            sorted.bundles,
            unlocked,
            source,
            batch,
            &mut report,
        )?;
        self.take_depended_on(store, device.id(), batch)?;
        if source == Source::Received {
            self.save_frontier(batch);
        }
        if access_changed && source == Source::Received && self.voids_applied(device) {
            // A removal voided bundles already in the document (the removed device's,
            // past its mark): keep what came, and rebuild the document without them.
            store.commit(std::mem::take(batch), true)?;
            *self = Journal::rebuild(store, device, self.id, self.actor.clone())?;
        }
        if source == Source::Received
            && std::mem::take(&mut self.took_parked)
            && self.is_owner(device)
            && !self.state().rekey_needed()
        {
            // Peers judge a parked bundle by the marks too: the document it completes
            // reaches them as this owner's snapshot. (Where the key must be renewed
            // first, the rotation writes one.) Without the key to write under yet, the
            // next ingest tries again; what came in stands either way.
            if let Err(e) = self.snapshot(device, batch) {
                tracing::info!("snapshot after taking parked bundles back: {e}");
                self.took_parked = true;
            }
        }
        Ok(report)
    }

    /// Phase 1: access records, through the log (which stores only what takes effect).
    /// Returns whether the access state changed.
    fn take_records(
        &mut self,
        records: Vec<AclRecord>,
        source: Source,
        batch: &mut Batch,
        report: &mut IngestReport,
    ) -> bool {
        if records.is_empty() {
            return false;
        }
        let admitted = self.access.admit(records);
        report.duplicates += admitted.duplicates;
        report.rejected.extend(admitted.rejected);
        for r in &admitted.stored {
            if source == Source::Received {
                batch.put_acl(self.id, r.id(), r.bytes().to_vec());
            }
            report.accepted += 1;
        }
        self.repair_due |= !admitted.stored.is_empty();
        !admitted.stored.is_empty()
    }

    /// Whether bundles already applied are void under the access state now (a parked
    /// bundle applied because others built on it is not: see `take_depended_on`).
    fn voids_applied(&self, device: &DeviceKeys) -> bool {
        let chain = |id: &BundleId| self.live.get(id).map(|l| l.prev);
        self.live.iter().any(|(id, l)| {
            l.author != device.id()
                && !self.parked.contains(id)
                && !bundle_allowed(self.state(), &l.author, l.seq, id, &chain)
        })
    }

    /// Applies the parked bundles that changes applied here depend on. A removal
    /// voids its device's bundles past the mark its signer names, and the signer
    /// names what it had seen: a removal made concurrently (or back-dated by a thief
    /// holding a removed key) can name less than other devices had taken in and built
    /// on. Their changes would then wait for ever inside Automerge, and with them
    /// everything their authors wrote after. A parked bundle is one this device had
    /// accepted before it heard of the removal, so taking it back in on the strength
    /// of a dependency lets nobody write past a removal: it only keeps what members
    /// still in had already built on. It stays parked (never offered to peers, who
    /// judge it by the same rule from what they hold, or get it inside a snapshot).
    fn take_depended_on(
        &mut self,
        store: &Store,
        me: DeviceId,
        batch: &mut Batch,
    ) -> Result<(), VaultError> {
        if self.parked.is_empty() || self.doc.missing().is_empty() {
            return Ok(());
        }
        let mut candidates: Vec<(Bundle, Vec<u8>)> = store
            .bundles_where(&self.id, |id| {
                self.parked.contains(id) && !self.live.contains_key(id)
            })?
            .into_iter()
            .filter_map(|(_, bytes)| {
                let bundle = Bundle::decode(&bytes).ok()?;
                let plain = self.keys.decrypt(&bundle)?.ok()?;
                Some((bundle, plain))
            })
            .collect();
        // Each pass takes what the document waits for now; what that brings in can
        // wait for more.
        loop {
            let missing: HashSet<_> = self.doc.missing().into_iter().collect();
            if missing.is_empty() {
                return Ok(());
            }
            let (needed, rest): (Vec<_>, Vec<_>) =
                candidates.into_iter().partition(|(_, plain)| {
                    crate::doc::change_hashes(plain)
                        .iter()
                        .any(|h| missing.contains(h))
                });
            candidates = rest;
            if needed.is_empty() {
                return Ok(());
            }
            for (bundle, plain) in needed {
                if contained("a change", || self.doc.apply(&plain)).is_ok() {
                    self.keep(&bundle, me, false, batch);
                    self.took_parked = true;
                }
            }
        }
    }

    /// Phase 2: envelopes. Each must fit the access state; this device's are opened
    /// and must hold the key they name. Returns the epochs whose first key arrived.
    fn take_envelopes(
        &mut self,
        store: &Store,
        device: &DeviceKeys,
        envelopes: Vec<Envelope>,
        source: Source,
        batch: &mut Batch,
        report: &mut IngestReport,
    ) -> Vec<u32> {
        let mut new_epochs = Vec::new();
        let retried = std::mem::take(&mut self.waiting);
        for envelope in retried.into_iter().chain(envelopes) {
            let held = source == Source::Received
                && store.has_item(&self.id, &envelope.id()).unwrap_or(false);
            if held {
                report.duplicates += 1;
                continue;
            }
            match item::envelope_allowed(self.state(), &envelope) {
                Ok(()) => {}
                Err(item::EnvelopeRefusal::NotYet(_))
                    if source == Source::Received && self.waiting.len() < MAX_WAITING =>
                {
                    if !self.waiting.iter().any(|w| w.id() == envelope.id()) {
                        self.waiting.push(envelope);
                    }
                    continue;
                }
                Err(item::EnvelopeRefusal::NotYet(why) | item::EnvelopeRefusal::Never(why)) => {
                    report.rejected.push(why);
                    continue;
                }
            }
            let b = envelope.body();
            if b.recipient == device.id() {
                match envelope.open(device) {
                    Ok(key) => {
                        let had = self.keys.has_epoch(b.epoch);
                        if self.keys.insert(b.epoch, key) && !had {
                            new_epochs.push(b.epoch);
                        }
                    }
                    Err(e) => {
                        report.rejected.push(format!("envelope: {e}"));
                        continue;
                    }
                }
            }
            if source == Source::Received {
                batch.put_envelope(self.id, &envelope);
            }
            report.accepted += 1;
            self.repair_due = true;
        }
        new_epochs
    }

    /// Stored bundles that waited for a key of one of `epochs`, now readable.
    fn unlocked(
        &self,
        store: &Store,
        device: &DeviceKeys,
        epochs: &[u32],
    ) -> Result<Vec<Bundle>, VaultError> {
        let mut out = Vec::new();
        for (id, bytes) in store.bundles(&self.id)? {
            if self.live.contains_key(&id) || self.parked.contains(&id) {
                continue;
            }
            if let Ok(b) = Bundle::decode(&bytes)
                && epochs.contains(&b.header().epoch)
                && self.allowed(device, &b, &|_: &BundleId| None)
            {
                out.push(b);
            }
        }
        Ok(out)
    }

    fn allowed(&self, device: &DeviceKeys, bundle: &Bundle, chain: &impl Chain) -> bool {
        let h = bundle.header();
        h.author == device.id()
            || bundle_allowed(self.state(), &h.author, h.seq, &bundle.id(), chain)
    }

    /// Phase 3: bundles. Authorized from their headers, verified, decrypted, applied
    /// (snapshots first; the snapshot an empty journal starts from loads on this
    /// thread while the others are checked on another), and written.
    #[allow(clippy::too_many_arguments)]
    fn take_bundles(
        &mut self,
        store: &Store,
        device: &DeviceKeys,
        mut raw: Vec<Vec<u8>>,
        unlocked: Vec<Bundle>,
        source: Source,
        batch: &mut Batch,
        report: &mut IngestReport,
    ) -> Result<(), VaultError> {
        if raw.is_empty() && unlocked.is_empty() {
            return Ok(());
        }
        let me = device.id();
        let links = self.links_if_needed(&raw);
        // The snapshot an empty journal starts from (the newest: one no other snapshot
        // here replaces) is checked alone and loaded on this thread at once:
        // Automerge's load is the long pole of a first sync and of every open. What it
        // replaces is set aside unread, and taken in only if it fails to load.
        let mut first = CheckedBundles::default();
        let mut set_aside = Vec::new();
        if self.live.is_empty() && !raw.is_empty() {
            let (base, replaced) = self.pick_base(&mut raw);
            set_aside = replaced;
            self.check(me, base, 0, source, store, &links, &mut first);
        }
        let base = self.base_of(&mut first, report);
        if base.is_none() {
            raw.append(&mut set_aside);
        }
        let (loaded, ready) = {
            let this = &*self;
            let leftover = std::mem::take(&mut first.bundles);
            let check_rest = |busy: usize| -> Result<(Vec<Ready>, Vec<BundleId>), VaultError> {
                let mut rest = CheckedBundles::default();
                this.check(me, raw, busy, source, store, &links, &mut rest);
                rest.bundles.extend(leftover);
                let unauthorized = std::mem::take(&mut rest.unauthorized);
                let mut ready = this.decrypt_all(rest, unlocked, report);
                // Written durably while the snapshot loads: the ciphertext does not
                // depend on the load (a snapshot that fails to load is deleted again).
                if let Some((bundle, _)) = &base
                    && source == Source::Received
                {
                    let mut now = std::mem::take(&mut *batch);
                    for r in ready.iter_mut().filter(|r| !r.written) {
                        now.put_bundle(this.id, r.bundle.id(), r.bundle.bytes().to_vec());
                        r.written = true;
                    }
                    now.put_bundle(this.id, bundle.id(), bundle.bytes().to_vec());
                    store.commit(now, true)?;
                }
                Ok((ready, unauthorized))
            };
            match &base {
                Some((_, plain)) => {
                    let actor = this.actor.clone();
                    std::thread::scope(|s| {
                        let others = s.spawn(|| check_rest(1));
                        let loaded = contained("a snapshot", || D::load(plain, actor));
                        match others.join() {
                            Ok(rest) => rest.map(|rest| (Some(loaded), rest)),
                            Err(_) => Err(VaultError::Damaged("checking bundles failed".into())),
                        }
                    })?
                }
                None => (None, check_rest(0)?),
            }
        };
        let (ready, unauthorized) = ready;
        self.note_checked(first, source, report);
        if source == Source::Store {
            self.parked.extend(unauthorized);
        }
        if let (Some((bundle, plain)), Some(loaded)) = (base, loaded) {
            let written = source == Source::Received;
            match loaded {
                Ok(doc) => {
                    self.doc = doc;
                    self.keep(&bundle, me, false, batch);
                    self.supersede(store, &bundle, &plain, source, batch)?;
                    report.accepted += 1;
                    report.duplicates += set_aside.len();
                    set_aside.clear();
                }
                Err(e) => {
                    if written {
                        batch.delete_bundle(self.id, bundle.id());
                    }
                    report
                        .rejected
                        .push(format!("bundle {:?}: {e}", bundle.id()));
                }
            }
        }
        self.apply(store, me, ready, source, batch, report)?;
        if !set_aside.is_empty() {
            // The snapshot failed to load: what it would have replaced is needed.
            self.take_bundles(store, device, set_aside, Vec::new(), source, batch, report)?;
        }
        Ok(())
    }

    /// Takes the bundle an empty journal should start from out of `raw` (largest
    /// first): the biggest snapshot by an owner that no other snapshot in `raw`
    /// replaces (or just the largest bundle), with the bundles it replaces.
    fn pick_base(&self, raw: &mut Vec<Vec<u8>>) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let snapshots: Vec<(usize, crate::bundle::BundleHeader)> = raw
            .iter()
            .enumerate()
            .filter_map(|(i, b)| Some((i, Bundle::peek_header(b).ok()?)))
            .filter(|(_, h)| h.kind == BundleKind::Snapshot && self.state().is_owner(&h.author))
            .collect();
        let replaced: HashSet<BundleId> = snapshots
            .iter()
            .flat_map(|(_, h)| h.supersedes.iter().copied())
            .collect();
        // With one snapshot (a first sync, an open) there is nothing to compare ids with.
        let chosen = snapshots
            .iter()
            .find(|(i, _)| snapshots.len() == 1 || !replaced.contains(&BundleId::of(&raw[*i])));
        let Some((index, header)) = chosen else {
            return (vec![raw.remove(0)], Vec::new());
        };
        let theirs: HashSet<BundleId> = header.supersedes.iter().copied().collect();
        let base = raw.remove(*index);
        let (aside, rest): (Vec<_>, Vec<_>) = std::mem::take(raw)
            .into_iter()
            .partition(|b| theirs.contains(&BundleId::of(b)));
        *raw = rest;
        (vec![base], aside)
    }

    /// Counts what a check refused; a stored bundle the access log voids is parked.
    fn note_checked(&mut self, checked: CheckedBundles, source: Source, report: &mut IngestReport) {
        report.duplicates += checked.duplicates;
        if source == Source::Store {
            self.parked.extend(checked.unauthorized);
        }
        report.rejected.extend(checked.rejected);
    }

    /// The back-links of the bundles in `raw`, when some author is removed and its
    /// bundles must be followed to its mark.
    fn links_if_needed(&self, raw: &[Vec<u8>]) -> BTreeMap<BundleId, Option<BundleId>> {
        let any_removed_writer = self
            .state()
            .members()
            .any(|m| m.removed.is_some() && m.role.writes());
        if !any_removed_writer {
            return BTreeMap::new();
        }
        raw.iter()
            .filter_map(|b| Some((BundleId::of(b), Bundle::peek_header(b).ok()?.prev)))
            .collect()
    }

    /// Checks bundles (see [`item::check_bundles`]): this device's own always stand
    /// here (a removal never takes back what the member wrote on the device in their
    /// hand); others' must fit the access state, following back-links here and in
    /// this batch to a removed author's mark.
    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        me: DeviceId,
        raw: Vec<Vec<u8>>,
        busy: usize,
        source: Source,
        store: &Store,
        links: &BTreeMap<BundleId, Option<BundleId>>,
        out: &mut CheckedBundles,
    ) {
        let skip = |id: &BundleId| {
            self.superseded.contains(id)
                || (source == Source::Received
                    && (self.live.contains_key(id)
                        || self.parked.contains(id)
                        || store.has_bundle(&self.id, id).unwrap_or(false)))
        };
        let chain = |id: &BundleId| {
            self.live
                .get(id)
                .map(|l| l.prev)
                .or_else(|| links.get(id).copied())
        };
        let allowed = |h: &BundleHeader, id: &BundleId| {
            h.author == me || bundle_allowed(self.state(), &h.author, h.seq, id, &chain)
        };
        item::check_bundles(self.id, raw, busy, skip, allowed, out);
    }

    /// The base snapshot an empty journal starts from, decrypted, if the largest
    /// checked bundle is one whose key is held.
    fn base_of(
        &self,
        checked: &mut CheckedBundles,
        report: &mut IngestReport,
    ) -> Option<(Bundle, Vec<u8>)> {
        let first = checked.bundles.first()?;
        if first.header().kind != BundleKind::Snapshot {
            return None;
        }
        match self.keys.decrypt(first)? {
            Ok(plain) => Some((checked.bundles.remove(0), plain)),
            Err(e) => {
                let bundle = checked.bundles.remove(0);
                report
                    .rejected
                    .push(format!("bundle {:?}: {e}", bundle.id()));
                None
            }
        }
    }

    fn decrypt_all(
        &self,
        checked: CheckedBundles,
        unlocked: Vec<Bundle>,
        report: &mut IngestReport,
    ) -> Vec<Ready> {
        report.duplicates += checked.duplicates;
        report.rejected.extend(checked.rejected);
        let fresh = checked.bundles.into_iter().map(|b| (b, true));
        let stored = unlocked.into_iter().map(|b| (b, false));
        let mut out = Vec::new();
        for (bundle, new) in fresh.chain(stored) {
            let plain = match self.keys.decrypt(&bundle) {
                None => None,
                Some(Ok(plain)) => Some(plain),
                Some(Err(e)) => {
                    report
                        .rejected
                        .push(format!("bundle {:?}: {e}", bundle.id()));
                    continue;
                }
            };
            out.push(Ready {
                bundle,
                plain,
                new,
                written: !new,
            });
        }
        out
    }

    /// Applies decrypted bundles: snapshots one by one (each supersedes only once it
    /// has applied), then the changes no applied snapshot covers, together (one
    /// `load_incremental` of many changes is several times faster than one each);
    /// if Automerge refuses the lot, one by one, dropping the ones it refuses. A
    /// panic inside Automerge is an error: the vault then reloads from its store.
    fn apply(
        &mut self,
        store: &Store,
        me: DeviceId,
        ready: Vec<Ready>,
        source: Source,
        batch: &mut Batch,
        report: &mut IngestReport,
    ) -> Result<(), VaultError> {
        let received = source == Source::Received;
        let mut changes = Vec::new();
        for r in ready {
            if self.superseded.contains(&r.bundle.id()) {
                // An applied snapshot holds it already.
                report.duplicates += usize::from(r.new);
                if r.written && received {
                    batch.delete_bundle(self.id, r.bundle.id());
                }
                continue;
            }
            let Some(plain) = &r.plain else {
                // No key for its epoch yet: kept, so a later envelope can unlock it.
                if received && !r.written {
                    batch.put_bundle(self.id, r.bundle.id(), r.bundle.bytes().to_vec());
                }
                report.accepted += usize::from(r.new);
                continue;
            };
            if r.bundle.header().kind != BundleKind::Snapshot {
                changes.push(r);
                continue;
            }
            if self.comments_only(&r.bundle.header().author) {
                let e = DocError::NotAComment("a snapshot would replace the whole document");
                self.drop_refused(&r, e.into(), batch, report);
                continue;
            }
            match self.adopt_snapshot(plain) {
                Ok(()) => {
                    self.keep(&r.bundle, me, received && !r.written, batch);
                    self.supersede(store, &r.bundle, plain, source, batch)?;
                    report.accepted += usize::from(r.new);
                }
                Err(e @ VaultError::Damaged(_)) => return Err(e),
                Err(e) => self.drop_refused(&r, e, batch, report),
            }
        }
        changes.retain(|r| {
            let covered = self.superseded.contains(&r.bundle.id());
            if covered {
                report.duplicates += usize::from(r.new);
                if r.written && received {
                    batch.delete_bundle(self.id, r.bundle.id());
                }
            }
            !covered
        });
        let (comments, changes): (Vec<Ready>, Vec<Ready>) = changes
            .into_iter()
            .partition(|r| self.comments_only(&r.bundle.header().author));
        self.apply_changes(me, changes, received, batch, report)?;
        // A commenter's changes go one by one, each checked against the document as
        // it stands with everything else applied (a comment's dependencies included).
        for r in comments {
            let author = r.bundle.header().author;
            self.apply_one(r, me, received, batch, report, |doc, plain| {
                doc.check_comment(&author, plain)?;
                doc.apply(plain)
            })?;
        }
        Ok(())
    }

    /// Applies one bundle's changes with `how`; a refusal drops the bundle, a panic
    /// inside Automerge is an error.
    fn apply_one(
        &mut self,
        r: Ready,
        me: DeviceId,
        received: bool,
        batch: &mut Batch,
        report: &mut IngestReport,
        how: impl FnOnce(&mut D, &[u8]) -> Result<(), DocError>,
    ) -> Result<(), VaultError> {
        let plain = r.plain.as_deref().unwrap_or_default();
        match contained("a change", || how(&mut self.doc, plain)) {
            Ok(()) => {
                self.keep(&r.bundle, me, received && !r.written, batch);
                report.accepted += usize::from(r.new);
            }
            Err(e @ VaultError::Damaged(_)) => return Err(e),
            Err(e) => self.drop_refused(&r, e, batch, report),
        }
        Ok(())
    }

    /// Whether `author` may only add comments here.
    fn comments_only(&self, author: &DeviceId) -> bool {
        self.state()
            .member(author)
            .is_some_and(|m| m.role == Role::Commenter)
    }

    /// Applies changes together, or one by one if Automerge refuses the lot.
    fn apply_changes(
        &mut self,
        me: DeviceId,
        changes: Vec<Ready>,
        received: bool,
        batch: &mut Batch,
        report: &mut IngestReport,
    ) -> Result<(), VaultError> {
        if changes.is_empty() {
            return Ok(());
        }
        let all: Vec<u8> = changes
            .iter()
            .flat_map(|r| r.plain.iter().flatten().copied())
            .collect();
        match contained("changes", || self.doc.apply(&all)) {
            Ok(()) => {
                for r in &changes {
                    self.keep(&r.bundle, me, received && !r.written, batch);
                    report.accepted += usize::from(r.new);
                }
            }
            Err(e @ VaultError::Damaged(_)) => return Err(e),
            Err(_) => {
                for r in changes {
                    self.apply_one(r, me, received, batch, report, |doc, plain| {
                        doc.apply(plain)
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Applies a snapshot into a journal that already has content. It must load on its
    /// own first (Automerge's incremental load accepts bytes it cannot read as
    /// nothing, and a snapshot that supersedes bundles must hold what they held);
    /// when it holds everything the journal holds, it simply becomes the document.
    fn adopt_snapshot(&mut self, plain: &[u8]) -> Result<(), VaultError> {
        let actor = self.actor.clone();
        let mut loaded = contained("a snapshot", || D::load(plain, actor))?;
        loaded.check_schema()?;
        if self.doc.is_covered_by(&mut loaded) {
            self.doc = loaded;
            Ok(())
        } else {
            contained("a snapshot", || self.doc.apply(plain))
        }
    }

    fn drop_refused(
        &mut self,
        r: &Ready,
        e: VaultError,
        batch: &mut Batch,
        report: &mut IngestReport,
    ) {
        if r.written {
            // Written early, or unlocked from the store: it cannot be used.
            batch.delete_bundle(self.id, r.bundle.id());
        }
        report
            .rejected
            .push(format!("bundle {:?}: {e}", r.bundle.id()));
    }

    /// Records a bundle whose changes are in the document: this device's sequence,
    /// the applied set, the write.
    fn keep(&mut self, bundle: &Bundle, me: DeviceId, write: bool, batch: &mut Batch) {
        let h = bundle.header();
        if h.author == me && h.seq > self.seq {
            self.seq = h.seq;
            self.last = Some(bundle.id());
        }
        self.advance(h.author, h.seq, bundle.id());
        self.live.insert(
            bundle.id(),
            Link {
                author: h.author,
                seq: h.seq,
                prev: h.prev,
            },
        );
        if write {
            batch.put_bundle(self.id, bundle.id(), bundle.bytes().to_vec());
        }
    }

    /// Once a snapshot has applied: the bundles it names are no longer needed, when
    /// its author is an owner.
    fn supersede(
        &mut self,
        store: &Store,
        snapshot: &Bundle,
        plain: &[u8],
        source: Source,
        batch: &mut Batch,
    ) -> Result<(), VaultError> {
        let h = snapshot.header();
        if h.kind != BundleKind::Snapshot || !self.state().is_owner(&h.author) {
            return Ok(());
        }
        // What the snapshot's author had applied of each author's chain, it holds.
        let note = crate::doc::note_of(plain)
            .and_then(|b| postcard::from_bytes::<SnapshotNote>(b).ok())
            .unwrap_or_default();
        for (author, mark) in note.frontier.into_iter().take(MAX_NOTE_AUTHORS) {
            self.advance(author, mark.seq, mark.bundle);
        }
        let stored = match source {
            Source::Received => store.held_bundles(&self.id, &h.supersedes)?,
            Source::Store => BTreeSet::new(),
        };
        for old in &h.supersedes {
            let applied = self.live.remove(old).is_some() | self.parked.remove(old);
            if applied || stored.contains(old) {
                batch.delete_bundle(self.id, *old);
            }
            self.superseded.insert(*old);
        }
        Ok(())
    }

    /// The ids this journal offers peers: everything stored but parked bundles.
    pub(super) fn offered(&self, ids: Vec<ItemId>) -> Vec<ItemId> {
        if self.parked.is_empty() {
            return ids;
        }
        ids.into_iter()
            .filter(|id| !self.parked.contains(&BundleId(id.0)))
            .collect()
    }
}
