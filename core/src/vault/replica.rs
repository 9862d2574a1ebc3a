//! The vault as one side of the sync protocol: it shares its journal with every
//! device the journal's ACL names (its own other devices, and the hub as a store),
//! and takes no doc it does not already hold.

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
        Ok(self.held_by(peer).into_iter().collect())
    }

    fn may_hold(&self, doc: &DocId, peer: &DeviceId) -> bool {
        self.held_by(peer) == Some(*doc)
    }

    fn may_take(&self, _doc: &DocId, _peer: &DeviceId) -> bool {
        false
    }

    fn may_connect(&self, peer: &DeviceId) -> bool {
        self.held_by(peer).is_some()
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
        if *doc != guard.journal.id() {
            return Ok((Vec::new(), 0));
        }
        let (ids, acl) = guard.store.item_ids(doc).map_err(VaultError::from)?;
        Ok((guard.journal.offered(ids), acl))
    }

    fn answer_skips(
        &self,
        _doc: &DocId,
        mut theirs: BTreeSet<ItemId>,
    ) -> Result<BTreeSet<ItemId>, SyncError> {
        let guard = self.lock()?;
        theirs.extend(guard.journal.parked().iter().map(|b| ItemId(b.0)));
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
        if *doc != guard.journal.id() {
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
        let (report, batch) = self.check_items(items)?;
        let mut checked = Checked::new(*doc, batch);
        checked.duplicates = report.duplicates;
        checked.rejected = report.rejected;
        Ok(checked)
    }

    fn commit(&self, checked: Checked) -> Result<(), SyncError> {
        Ok(self.commit_batch(checked.batch)?)
    }
}
