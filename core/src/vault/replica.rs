//! The vault as one side of the sync protocol: it shares its journal with every
//! device the journal's ACL names (its own other devices, and the hub as a store),
//! and each share it holds with every device that share's log names; it takes no doc
//! it does not already hold.

use std::collections::BTreeSet;

use super::{Vault, VaultError};
use crate::ids::{DeviceId, DocId};
use crate::item::{ItemId, SyncItem};
use crate::store::ItemsCursor;
use crate::sync::message::Witness;
use crate::sync::{Checked, Replica, Summary, SyncError};

impl From<VaultError> for SyncError {
    fn from(e: VaultError) -> Self {
        SyncError::Local(e.to_string())
    }
}

impl Replica for Vault {
    fn docs_for(&self, peer: &DeviceId) -> Result<Vec<DocId>, SyncError> {
        Ok(self.docs_held_by(peer))
    }

    fn may_hold(&self, doc: &DocId, peer: &DeviceId) -> bool {
        self.holds(doc, peer)
    }

    fn may_take(&self, _doc: &DocId, _peer: &DeviceId) -> bool {
        false
    }

    fn may_connect(&self, peer: &DeviceId) -> bool {
        !self.docs_held_by(peer).is_empty()
    }

    fn access_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.access.subscribe()
    }

    fn observe_summary(
        &self,
        doc: &DocId,
        peer: &DeviceId,
        theirs: Option<&Summary>,
    ) -> Result<(), SyncError> {
        if self.held_by(peer) == Some(*doc) {
            self.observe_hub_summary(peer, theirs.map_or(0, |s| s.acl_len));
        }
        Ok(())
    }

    fn observe_declined(&self, doc: &DocId, peer: &DeviceId) -> Result<(), SyncError> {
        // A peer that holds the journal and declines it from this device no longer
        // lets this device hold it: removed (or a backup restored from before a
        // removal). That ends the sync as the refusal it is.
        if self.held_by(peer) == Some(*doc) {
            return Err(SyncError::Denied(format!(
                "{peer:?} does not let this device hold document {doc}"
            )));
        }
        Ok(self.share_declined(doc, peer)?)
    }

    fn observe_ids(&self, doc: &DocId, peer: &DeviceId, ids: &[ItemId]) -> Result<(), SyncError> {
        if self.held_by(peer) == Some(*doc) {
            self.observe_hub_ids(peer, ids);
        }
        Ok(())
    }

    // The session asks both only for a doc the peer may hold (`may_hold`): the journal.
    fn witness(&self, _doc: &DocId, peer: &DeviceId) -> Result<Option<Vec<Witness>>, SyncError> {
        Ok(self.witness_for(peer)?)
    }

    fn observe_witness(
        &self,
        _doc: &DocId,
        peer: &DeviceId,
        hubs: Vec<Witness>,
    ) -> Result<(), SyncError> {
        Ok(self.observe_device_witness(peer, &hubs)?)
    }

    fn observe_reconciled(&self, peer: &DeviceId) -> Result<Vec<String>, SyncError> {
        self.observe_hub_reconciled(peer)?;
        Ok(self.withheld()?)
    }

    fn item_ids(&self, doc: &DocId) -> Result<(Vec<ItemId>, usize), SyncError> {
        let guard = self.lock()?;
        if *doc == guard.journal.id() {
            let (ids, acl) = guard.store.item_ids(doc).map_err(VaultError::from)?;
            return Ok((guard.journal.offered(ids), acl));
        }
        let Some(share) = guard.shares.get(doc) else {
            return Ok((Vec::new(), 0));
        };
        let (ids, acl) = guard.store.item_ids(doc).map_err(VaultError::from)?;
        Ok((share.offered(ids), acl))
    }

    fn answer_skips(
        &self,
        doc: &DocId,
        mut theirs: BTreeSet<ItemId>,
    ) -> Result<BTreeSet<ItemId>, SyncError> {
        let guard = self.lock()?;
        let parked = match guard.shares.get(doc) {
            Some(share) => share.parked(),
            None => guard.journal.parked(),
        };
        theirs.extend(parked.iter().map(|b| ItemId(b.0)));
        Ok(theirs)
    }

    fn items_page(
        &self,
        doc: &DocId,
        skip: &BTreeSet<ItemId>,
        from: Option<&ItemsCursor>,
        budget: usize,
    ) -> Result<(Vec<SyncItem>, Option<ItemsCursor>), SyncError> {
        let guard = self.lock()?;
        if *doc != guard.journal.id() && !guard.shares.contains_key(doc) {
            return Ok((Vec::new(), None));
        }
        Ok(guard
            .store
            .items_page(doc, skip, from, budget)
            .map_err(VaultError::from)?)
    }

    fn check(
        &self,
        doc: &DocId,
        peer: &DeviceId,
        items: Vec<SyncItem>,
    ) -> Result<Checked, SyncError> {
        if !self.may_hold(doc, peer) {
            return Err(SyncError::Denied(format!(
                "{peer:?} does not share document {doc}"
            )));
        }
        let (report, batch) = if self.is_share(doc) {
            self.check_share_items(doc, items)?
        } else {
            self.check_items(items)?
        };
        let mut checked = Checked::new(*doc, batch);
        checked.duplicates = report.duplicates;
        checked.rejected = report.rejected;
        Ok(checked)
    }

    fn commit(&self, checked: Checked) -> Result<(), SyncError> {
        if self.is_share(&checked.doc) {
            return Ok(self.commit_share_batch(&checked.doc, checked.batch)?);
        }
        Ok(self.commit_batch(checked.batch)?)
    }
}
