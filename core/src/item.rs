//! `SyncItem`: one signed thing a peer stores and syncs (ACL record, envelope or
//! bundle), and the shared checks every receiver applies before keeping one — a
//! member's device and the hub's blind store alike.

use serde::{Deserialize, Serialize};

use crate::acl::{AclRecord, AclState};
use crate::bundle::{Bundle, BundleKind};
use crate::envelope::Envelope;
use crate::ids::DocId;

/// One thing a peer stores and syncs: all are signed, bundles are also encrypted.
///
/// The bytes travel as one byte string (`serde_bytes`): the same postcard encoding
/// as a sequence of `u8` (a varint length, then the bytes), but copied at once
/// rather than a byte at a time, which is most of the cost of framing a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncItem {
    /// An ACL record.
    Acl(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A doc-key envelope.
    Envelope(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A bundle.
    Bundle(#[serde(with = "serde_bytes")] Vec<u8>),
}

/// The content id of a synced item: BLAKE3 of its bytes (for a bundle that is its
/// `BundleId`, for an ACL record its `AclId`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct ItemId(pub [u8; 32]);

impl SyncItem {
    /// Its content id.
    pub fn id(&self) -> ItemId {
        ItemId(*blake3::hash(self.bytes()).as_bytes())
    }

    /// Its signed bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            SyncItem::Acl(b) | SyncItem::Envelope(b) | SyncItem::Bundle(b) => b,
        }
    }
}

/// Items that passed the checks that need no key, ready for the receiver to keep.
#[derive(Debug, Default)]
pub(crate) struct Verified {
    /// New ACL records (already added to the records and the state).
    pub acl: Vec<AclRecord>,
    /// Envelopes whose granter is (or was) an owner.
    pub envelopes: Vec<Envelope>,
    /// New bundles by authors with the write right, snapshots first (largest first),
    /// then changes in time order.
    pub bundles: Vec<Bundle>,
    /// Items already held.
    pub duplicates: usize,
    /// Items dropped, with why.
    pub rejected: Vec<String>,
    /// The ids of the bundles checked so far, to count a repeat as a duplicate.
    seen: std::collections::BTreeSet<crate::ids::BundleId>,
}

/// Checks items for `doc`: signatures, that each names this doc, that ACL records
/// come first and decide the rest, that envelope granters are owners and bundle
/// authors may write at the bundle's epoch. `held` says whether an item is already
/// kept. Nothing here needs a key.
pub(crate) fn verify(
    doc: DocId,
    records: &mut Vec<AclRecord>,
    acl: &mut AclState,
    items: Vec<SyncItem>,
    held: impl Fn(&ItemId) -> bool,
) -> Verified {
    let (mut out, bundles) = verify_records(doc, records, acl, items, &held);
    verify_bundles(doc, acl, bundles, 0, &held, &mut out);
    out
}

/// The first half of [`verify`]: ACL records and envelopes. Returns the bundles
/// unchecked, largest first, for [`verify_bundles`].
pub(crate) fn verify_records(
    doc: DocId,
    records: &mut Vec<AclRecord>,
    acl: &mut AclState,
    items: Vec<SyncItem>,
    held: impl Fn(&ItemId) -> bool,
) -> (Verified, Vec<Vec<u8>>) {
    let mut out = Verified::default();
    let (mut envelopes, mut bundles) = (Vec::new(), Vec::new());
    let mut acl_changed = false;
    for item in items {
        match item {
            SyncItem::Acl(bytes) => match AclRecord::decode(&bytes) {
                Err(e) => out.rejected.push(format!("ACL record: {e}")),
                Ok(r) if r.body().doc != doc => {
                    out.rejected.push("ACL record for another document".into())
                }
                Ok(r) if records.iter().any(|x| x.id() == r.id()) => out.duplicates += 1,
                Ok(r) => {
                    records.push(r.clone());
                    out.acl.push(r);
                    acl_changed = true;
                }
            },
            SyncItem::Envelope(b) => envelopes.push(b),
            SyncItem::Bundle(b) => bundles.push(b),
        }
    }
    if acl_changed {
        *acl = AclState::evaluate(doc, records);
    }
    for bytes in envelopes {
        let id = ItemId(*blake3::hash(&bytes).as_bytes());
        match Envelope::decode(&bytes) {
            Err(e) => out.rejected.push(format!("envelope: {e}")),
            Ok(env) if env.body().doc != doc || !acl.was_owner(&env.body().granter) => out
                .rejected
                .push("envelope from a device that may not grant keys".into()),
            Ok(_) if held(&id) => out.duplicates += 1,
            Ok(env) => out.envelopes.push(env),
        }
    }
    bundles.sort_by_key(|b| std::cmp::Reverse(b.len()));
    (out, bundles)
}

/// The second half of [`verify`]: each bundle's signature and its author's write
/// right under `acl` (which [`verify_records`] brought up to date), leaving `busy`
/// cores alone. Adds the good ones to `out.bundles`, snapshots first (largest first),
/// then changes in time order.
pub(crate) fn verify_bundles(
    doc: DocId,
    acl: &AclState,
    bundles: Vec<Vec<u8>>,
    busy: usize,
    held: impl Fn(&ItemId) -> bool,
    out: &mut Verified,
) {
    // Signature checks are most of the work here: a first sync checks dozens.
    for decoded in crate::par::map(bundles, busy, |bytes| Bundle::decode(&bytes)) {
        match decoded {
            Err(e) => out.rejected.push(format!("bundle: {e}")),
            Ok(b) if b.header().doc != doc => out
                .rejected
                .push(format!("bundle {:?} belongs to another document", b.id())),
            Ok(b) if !acl.may_write(&b.header().author, b.header().epoch) => out
                .rejected
                .push(format!("bundle {:?}: its author may not write", b.id())),
            Ok(b) if held(&ItemId(b.id().0)) || !out.seen.insert(b.id()) => out.duplicates += 1,
            Ok(b) => out.bundles.push(b),
        }
    }
    out.bundles.sort_by_key(|b| {
        let h = b.header();
        (
            h.kind != BundleKind::Snapshot,
            std::cmp::Reverse(b.bytes().len()),
            h.created_at_ms,
            h.seq,
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire encoding the items had as plain `Vec<u8>` fields: `serde_bytes` must
    /// not change a byte of it (peers of either build read each other's frames).
    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    enum AsSequence {
        Acl(Vec<u8>),
        Envelope(Vec<u8>),
        Bundle(Vec<u8>),
    }

    #[test]
    fn items_encode_as_they_did_as_byte_sequences() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let cases = [
            (SyncItem::Acl(vec![]), AsSequence::Acl(vec![])),
            (
                SyncItem::Envelope(vec![7; 3]),
                AsSequence::Envelope(vec![7; 3]),
            ),
            (SyncItem::Bundle(bytes.clone()), AsSequence::Bundle(bytes)),
        ];
        for (item, old) in cases {
            let wire = postcard::to_allocvec(&item).unwrap();
            assert_eq!(wire, postcard::to_allocvec(&old).unwrap());
            assert_eq!(postcard::from_bytes::<AsSequence>(&wire).unwrap(), old);
            assert_eq!(postcard::from_bytes::<SyncItem>(&wire).unwrap(), item);
        }
    }
}
