//! What one side of a sync offers the protocol: which docs it shares with a peer, the
//! ids and items it holds, and a two-phase ingest. [`Replica::check`] verifies items
//! and applies them in memory (so a device shows them and a hub can forward them at
//! once); [`Replica::commit`] makes them durable, after which they are acknowledged.

use std::collections::BTreeSet;

use super::SyncError;
use super::message::Witness;
use crate::ids::{DeviceId, DocId};
use crate::item::{ItemId, SyncItem};
use crate::store::{Batch, ItemsCursor};

/// Items from a peer that passed verification, and the write that keeps them.
#[derive(Debug)]
pub struct Checked {
    /// The doc.
    pub doc: DocId,
    /// The items that were new and valid.
    pub accepted: Vec<SyncItem>,
    /// How many were already held.
    pub duplicates: usize,
    /// What was dropped, with why.
    pub rejected: Vec<String>,
    /// Why part of what the peer sent was refused in a way it must be told (typed):
    /// the rest is committed, then the refusal ends the stream.
    pub refusal: Option<super::Refusal>,
    pub(crate) batch: Batch,
}

impl Checked {
    pub(crate) fn new(doc: DocId, batch: Batch) -> Self {
        Checked {
            doc,
            accepted: batch.items(),
            duplicates: 0,
            rejected: Vec::new(),
            refusal: None,
            batch,
        }
    }
}

/// A side of the sync protocol: a member's vault, or the hub's blind store.
pub trait Replica: Send + Sync + 'static {
    /// The docs this side syncs with `peer`: those the peer may hold.
    fn docs_for(&self, peer: &DeviceId) -> Result<Vec<DocId>, SyncError>;
    /// Whether `peer` may receive `doc`'s items.
    fn may_hold(&self, doc: &DocId, peer: &DeviceId) -> bool;
    /// Whether this side takes a doc it does not hold yet from `peer`.
    fn may_take(&self, doc: &DocId, peer: &DeviceId) -> bool;
    /// The ids of the items held for `doc`, and how many of them are ACL records.
    fn item_ids(&self, doc: &DocId) -> Result<(Vec<ItemId>, usize), SyncError>;

    /// What to leave out of an answer to a peer that holds `theirs` of `doc`: its
    /// ids, and whatever this side holds but does not offer. Asked once per answer.
    fn answer_skips(
        &self,
        _doc: &DocId,
        theirs: BTreeSet<ItemId>,
    ) -> Result<BTreeSet<ItemId>, SyncError> {
        Ok(theirs)
    }

    /// One page of the items held for `doc` whose ids are not in `skip`: from `from`
    /// (`None`: the first page), as many as fit `budget` bytes (one larger item goes
    /// alone), and where the next page starts (`None`: that was the last). An answer
    /// is streamed a page at a time, so it never holds the whole doc.
    fn items_page(
        &self,
        doc: &DocId,
        skip: &BTreeSet<ItemId>,
        from: Option<&ItemsCursor>,
        budget: usize,
    ) -> Result<(Vec<SyncItem>, Option<ItemsCursor>), SyncError>;

    /// Told the ids `peer` holds for `doc` (from its `Ids`), before they are answered.
    fn observe_ids(
        &self,
        _doc: &DocId,
        _peer: &DeviceId,
        _ids: &[ItemId],
    ) -> Result<(), SyncError> {
        Ok(())
    }

    /// Told the docs `peer` listed in its `Hello` (it holds them by its own choice),
    /// before this side's session starts: an acceptor reads the dialer's hello first.
    fn observe_hello(&self, _peer: &DeviceId, _docs: &[DocId]) -> Result<(), SyncError> {
        Ok(())
    }

    /// Told `peer`'s summary of `doc`, a doc this side offers (`None`: the peer does
    /// not list it), when the peer's hello arrives.
    fn observe_summary(
        &self,
        _doc: &DocId,
        _peer: &DeviceId,
        _theirs: Option<&super::Summary>,
    ) -> Result<(), SyncError> {
        Ok(())
    }

    /// Told that every doc is settled with `peer`: both sides now hold the same.
    /// Returns what this side now finds missing from what it was given (a gap in an
    /// author's chain, a state older than one seen before), in plain words; empty when
    /// nothing is amiss.
    fn observe_reconciled(&self, _peer: &DeviceId) -> Result<Vec<String>, SyncError> {
        Ok(Vec::new())
    }

    /// The peer declined `doc`, which this side offered it: it will not take it from
    /// this side (a hub that no longer lets this device hold a share).
    fn observe_declined(&self, _doc: &DocId, _peer: &DeviceId) -> Result<(), SyncError> {
        Ok(())
    }

    /// Told that `peer`'s summary of `doc` equals this side's: it holds exactly what
    /// this side offers.
    fn observe_in_sync(&self, _doc: &DocId, _peer: &DeviceId) -> Result<(), SyncError> {
        Ok(())
    }

    /// What this side last saw each hub hold of `doc`, to tell `peer` if it is another
    /// of the member's own devices ([`Message::Witness`](super::Message)); `None` for
    /// anyone else (a hub, a coach) and on a hub. Asked, like [`Replica::observe_witness`],
    /// only for a doc `peer` may hold ([`Replica::may_hold`]).
    fn witness(&self, _doc: &DocId, _peer: &DeviceId) -> Result<Option<Vec<Witness>>, SyncError> {
        Ok(None)
    }

    /// Told what `peer` last saw each hub hold of `doc` (already bounded by the
    /// session); a side that keeps no such record ignores it.
    fn observe_witness(
        &self,
        _doc: &DocId,
        _peer: &DeviceId,
        _hubs: Vec<Witness>,
    ) -> Result<(), SyncError> {
        Ok(())
    }

    /// Whether `peer` may stay connected at all (asked again whenever access changes).
    fn may_connect(&self, peer: &DeviceId) -> bool;

    /// Ticks whenever any document's access changes, so open connections re-check.
    fn access_changes(&self) -> tokio::sync::watch::Receiver<u64>;

    /// Verifies items `peer` sent for `doc` and applies them in memory.
    fn check(
        &self,
        doc: &DocId,
        peer: &DeviceId,
        items: Vec<SyncItem>,
    ) -> Result<Checked, SyncError>;
    /// Makes checked items durable.
    fn commit(&self, checked: Checked) -> Result<(), SyncError>;
}
