//! `SyncItem`: one signed thing a peer stores and syncs (access record, envelope or
//! bundle), and the checks every receiver applies before keeping one — a member's
//! device and the hub's blind store alike. Nothing here needs a key: whether an
//! envelope's key is the right one is for its recipient to find out.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::access::{AccessState, AclRecord};
use crate::bundle::{Bundle, BundleHeader, BundleKind};
use crate::envelope::Envelope;
use crate::ids::{BundleId, DocId};

/// One thing a peer stores and syncs: all are signed, bundles are also encrypted.
///
/// The bytes travel as one byte string (`serde_bytes`): the same postcard encoding
/// as a sequence of `u8` (a varint length, then the bytes), but copied at once
/// rather than a byte at a time, which is most of the cost of framing a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncItem {
    /// An access record.
    Acl(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A doc-key envelope.
    Envelope(#[serde(with = "serde_bytes")] Vec<u8>),
    /// A bundle.
    Bundle(#[serde(with = "serde_bytes")] Vec<u8>),
}

/// The content id of a synced item: BLAKE3 of its bytes (for a bundle that is its
/// `BundleId`; for an access record, its `AclId`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct ItemId(pub [u8; 32]);

impl SyncItem {
    /// Its content id (for an access record, the id of its signed body, so another
    /// signature over the same body is the same record).
    pub fn id(&self) -> ItemId {
        if let SyncItem::Acl(bytes) = self
            && let Some(id) = crate::access::record::id_of_bytes(bytes)
        {
            return ItemId(id.0);
        }
        ItemId(*blake3::hash(self.bytes()).as_bytes())
    }

    /// Its signed bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            SyncItem::Acl(b) | SyncItem::Envelope(b) | SyncItem::Bundle(b) => b,
        }
    }
}

/// Items for one doc sorted by kind; access records and envelopes decoded and their
/// signatures checked, bundles left as bytes for [`check_bundles`].
#[derive(Debug, Default)]
pub(crate) struct Sorted {
    /// Access records (signatures checked, any doc's: the log refuses strangers).
    pub acl: Vec<AclRecord>,
    /// Envelopes for the doc (signatures checked).
    pub envelopes: Vec<Envelope>,
    /// Bundles, unchecked, largest first.
    pub bundles: Vec<Vec<u8>>,
    /// Items refused while decoding, with why.
    pub rejected: Vec<String>,
    /// Items already held (found by id, before any signature is checked).
    pub duplicates: usize,
}

/// Sorts items for `doc` by kind, decoding access records and envelopes; records and
/// envelopes `held` says are already kept (or repeated in `items`) are counted, not
/// decoded.
pub(crate) fn sort(
    doc: DocId,
    items: Vec<SyncItem>,
    held: impl Fn(&SyncItem, &ItemId) -> bool,
) -> Sorted {
    let mut out = Sorted::default();
    let mut seen = BTreeSet::new();
    for item in items {
        // Bundles are found by id where they are checked (hashing one twice would cost
        // a first sync a pass over its snapshot).
        if !matches!(item, SyncItem::Bundle(_)) {
            let id = item.id();
            if !seen.insert(id) || held(&item, &id) {
                out.duplicates += 1;
                continue;
            }
        }
        match item {
            SyncItem::Acl(bytes) => match AclRecord::decode(&bytes) {
                Ok(r) => out.acl.push(r),
                Err(e) => out.rejected.push(format!("access record: {e}")),
            },
            SyncItem::Envelope(bytes) => match Envelope::decode(&bytes) {
                Ok(e) if e.body().doc == doc => out.envelopes.push(e),
                Ok(_) => out.rejected.push("envelope for another document".into()),
                Err(e) => out.rejected.push(format!("envelope: {e}")),
            },
            SyncItem::Bundle(bytes) => out.bundles.push(bytes),
        }
    }
    out.bundles.sort_by_key(|b| std::cmp::Reverse(b.len()));
    out
}

/// Why an envelope is not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EnvelopeRefusal {
    /// The records it depends on (its epoch's opening, its recipient's or granter's
    /// grant) have not arrived: it may be kept once they do.
    NotYet(String),
    /// It can never be kept.
    Never(String),
}

/// Whether an envelope may be kept and passed on: its epoch has a key, its granter
/// could seal that epoch's key, and its recipient may hold it.
pub(crate) fn envelope_allowed(
    state: &AccessState,
    envelope: &Envelope,
) -> Result<(), EnvelopeRefusal> {
    let b = envelope.body();
    let known = |d| state.member(d).is_some();
    if state.openings(b.epoch).is_empty() || !known(&b.granter) || !known(&b.recipient) {
        return Err(EnvelopeRefusal::NotYet(format!(
            "envelope for epoch {} waits for the records it depends on",
            b.epoch
        )));
    }
    if !state.openings(b.epoch).iter().any(|o| o.key == b.key) {
        return Err(EnvelopeRefusal::Never(
            "envelope names a key its epoch never committed to".into(),
        ));
    }
    if !state.may_seal_key(&b.granter, b.epoch) {
        return Err(EnvelopeRefusal::Never(
            "envelope from a device that may not grant that key".into(),
        ));
    }
    if !state.may_receive_key(&b.recipient, b.epoch) {
        return Err(EnvelopeRefusal::Never(
            "envelope for a device that may not hold that key".into(),
        ));
    }
    Ok(())
}

/// Bundles that passed [`check_bundles`].
#[derive(Debug, Default)]
pub(crate) struct CheckedBundles {
    /// New bundles whose authors may write them, signatures checked: snapshots first
    /// (largest first), then changes in each author's order.
    pub bundles: Vec<Bundle>,
    /// Bundles already held (or superseded), or repeated in the batch.
    pub duplicates: usize,
    /// Bundles refused, with why.
    pub rejected: Vec<String>,
    /// The bundles refused because their author may not write them.
    pub unauthorized: Vec<BundleId>,
    seen: BTreeSet<BundleId>,
}

/// Checks bundles for `doc`: the header names this doc; the bundle is new (`skip`
/// says whether it is held or superseded); its author may write it (`allowed`, read
/// from the header before the signature is checked); then the signature, spread over
/// the cores `busy` leaves free.
pub(crate) fn check_bundles(
    doc: DocId,
    raw: Vec<Vec<u8>>,
    busy: usize,
    skip: impl Fn(&BundleId) -> bool,
    allowed: impl Fn(&BundleHeader, &BundleId) -> bool,
    out: &mut CheckedBundles,
) {
    let mut authorized = Vec::with_capacity(raw.len());
    for bytes in raw {
        let header = match Bundle::peek_header(&bytes) {
            Ok(h) => h,
            Err(e) => {
                out.rejected.push(format!("bundle: {e}"));
                continue;
            }
        };
        let id = BundleId::of(&bytes);
        if header.doc != doc {
            out.rejected
                .push(format!("bundle {id:?} belongs to another document"));
        } else if skip(&id) || !out.seen.insert(id) {
            out.duplicates += 1;
        } else if !allowed(&header, &id) {
            out.rejected
                .push(format!("bundle {id:?}: its author may not write it"));
            out.unauthorized.push(id);
        } else {
            authorized.push((id, bytes));
        }
    }
    // Signature checks are most of the work here: a first sync checks dozens.
    let decode = |(id, bytes)| Bundle::decode_owned(bytes, Some(id));
    for decoded in crate::par::map(authorized, busy, decode) {
        match decoded {
            Ok(b) => out.bundles.push(b),
            Err(e) => out.rejected.push(format!("bundle: {e}")),
        }
    }
    out.bundles.sort_by_key(|b| {
        let h = b.header();
        (
            h.kind != BundleKind::Snapshot,
            std::cmp::Reverse(b.bytes().len()),
            h.author,
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
