//! The per-document access log: signed records (a genesis by the creator, then grants
//! and removals by owner devices) naming a subject device, its role and the epoch from
//! which the record applies. [`AclState`] evaluates a set of records the same way on
//! every device and on the hub, whatever order they arrived in. It does not hold keys.
//!
//! Records link to the record their issuer last saw (`prev`), forming a tree rooted at
//! the genesis. Evaluation walks the tree by (depth, id) and applies a record only when
//! its issuer is an owner at that point, so every holder of the same records reaches
//! the same state.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::crypto::{self, Domain};
use crate::identity::DeviceKeys;
use crate::ids::{AclId, DeviceId, DocId};
use crate::wire::{self, Reader, WireError};

const MAGIC: &[u8; 4] = b"HAC1";
const MAX_BODY: usize = 4096;

/// What a device may do with a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// Read, write, grant and remove.
    Owner,
    /// Read and write.
    Writer,
    /// Read only.
    Reader,
    /// Hold ciphertext without a key (the hub's blind store).
    Store,
    /// Removed: nothing from the record's epoch on.
    Removed,
}

/// What a record says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclBody {
    /// The document.
    pub doc: DocId,
    /// The record the issuer last saw (`None` only for the genesis).
    pub prev: Option<AclId>,
    /// The signing device.
    pub issuer: DeviceId,
    /// The device the record is about.
    pub subject: DeviceId,
    /// The subject's age recipient (`age1…`), so owners can seal envelopes to it.
    pub subject_recipient: Option<String>,
    /// The subject's role from `epoch` on.
    pub role: Role,
    /// The key epoch from which this record applies.
    pub epoch: u32,
    /// Random bytes that, hashed with the creator's id, give the doc id (genesis only).
    pub nonce: Option<[u8; 16]>,
    /// When it was made, ms since the Unix epoch.
    pub created_at_ms: u64,
}

/// A signed ACL record.
#[derive(Debug, Clone)]
pub struct AclRecord {
    body: AclBody,
    id: AclId,
    bytes: Vec<u8>,
}

/// A record failed to decode or verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AclError {
    /// The bytes are not an ACL record.
    #[error("malformed ACL record: {0}")]
    Wire(#[from] WireError),
    /// The signature does not verify.
    #[error("ACL record signature does not verify")]
    BadSignature,
    /// The issuer may not make this record.
    #[error("device {0:?} may not change this document's access")]
    NotOwner(DeviceId),
}

/// The doc id a genesis by `creator` with `nonce` names.
pub fn doc_id_for(creator: &DeviceId, nonce: &[u8; 16]) -> DocId {
    let mut h = blake3::Hasher::new_derive_key("hearth 2026-11 doc id v1");
    h.update(creator.as_bytes());
    h.update(nonce);
    let mut id = [0u8; 16];
    id.copy_from_slice(&h.finalize().as_bytes()[..16]);
    DocId(id)
}

impl AclRecord {
    /// Signs a record as a device.
    pub fn sign(body: AclBody, issuer: &DeviceKeys) -> Self {
        Self::sign_with(body, issuer.endpoint_key())
    }

    /// Signs a record with any Ed25519 key that is an owner (a device, or the member's
    /// recovery key when restoring a backup).
    pub fn sign_with(body: AclBody, issuer: &iroh_base::SecretKey) -> Self {
        let body = AclBody {
            issuer: DeviceId::from(issuer.public()),
            ..body
        };
        let body_bytes = wire::to_postcard(&body);
        let signature = crypto::sign(issuer, Domain::ACL, &body_bytes);
        let mut bytes = Vec::with_capacity(body_bytes.len() + 72);
        bytes.extend_from_slice(MAGIC);
        wire::put_sized(&mut bytes, &body_bytes);
        bytes.extend_from_slice(&signature);
        AclRecord {
            body,
            id: AclId::of(&bytes),
            bytes,
        }
    }

    /// A new document's genesis: its creator as owner at epoch 0. Returns the doc id too.
    pub fn genesis(creator: &DeviceKeys) -> (DocId, Self) {
        let nonce: [u8; 16] = crypto::random_bytes();
        let doc = doc_id_for(&creator.id(), &nonce);
        let body = AclBody {
            doc,
            prev: None,
            issuer: creator.id(),
            subject: creator.id(),
            subject_recipient: Some(creator.recipient().to_string()),
            role: Role::Owner,
            epoch: 0,
            nonce: Some(nonce),
            created_at_ms: wire::now_ms(),
        };
        (doc, Self::sign(body, creator))
    }

    /// Decodes and checks the issuer's signature (not the issuer's rights).
    pub fn decode(bytes: &[u8]) -> Result<Self, AclError> {
        let mut r = Reader::new(bytes);
        r.magic(MAGIC, "ACL record")?;
        let body_bytes = r.sized("ACL body", MAX_BODY)?;
        let signature: [u8; 64] = r.array()?;
        r.finish()?;
        let body: AclBody = wire::from_postcard(body_bytes, "ACL body")?;
        crypto::verify(&body.issuer, Domain::ACL, body_bytes, &signature)
            .map_err(|_| AclError::BadSignature)?;
        Ok(AclRecord {
            body,
            id: AclId::of(bytes),
            bytes: bytes.to_vec(),
        })
    }

    /// What it says.
    pub fn body(&self) -> &AclBody {
        &self.body
    }

    /// Its content id.
    pub fn id(&self) -> AclId {
        self.id
    }

    /// The signed bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn is_valid_genesis(&self, doc: DocId) -> bool {
        let b = &self.body;
        b.prev.is_none()
            && b.issuer == b.subject
            && b.role == Role::Owner
            && b.epoch == 0
            && b.doc == doc
            && b.nonce.is_some_and(|n| doc_id_for(&b.issuer, &n) == doc)
    }
}

/// One device's standing in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The device.
    pub device: DeviceId,
    /// Its current role.
    pub role: Role,
    /// Its age recipient, if a record named it.
    pub recipient: Option<String>,
    /// The first epoch of its current grant.
    pub since_epoch: u32,
    /// The epoch from which it was removed.
    pub removed_at: Option<u32>,
    wrote: bool,
    owned: bool,
}

/// The evaluated access state of one document.
#[derive(Debug, Clone, Default)]
pub struct AclState {
    doc: Option<DocId>,
    members: BTreeMap<DeviceId, Member>,
    epoch: u32,
    head: Option<AclId>,
    applied: usize,
    ids: BTreeSet<AclId>,
}

impl AclState {
    /// Evaluates `records` for `doc` (records for other docs, forged geneses and records
    /// by non-owners are ignored).
    pub fn evaluate(doc: DocId, records: &[AclRecord]) -> Self {
        let mut state = AclState {
            doc: Some(doc),
            ids: records.iter().map(|r| r.id).collect(),
            ..AclState::default()
        };
        let Some(genesis) = records
            .iter()
            .filter(|r| r.is_valid_genesis(doc))
            .min_by_key(|r| r.id)
        else {
            return state;
        };
        let mut children: BTreeMap<AclId, Vec<&AclRecord>> = BTreeMap::new();
        for r in records.iter().filter(|r| r.body.doc == doc) {
            if let Some(prev) = r.body.prev {
                children.entry(prev).or_default().push(r);
            }
        }
        let mut frontier = vec![genesis];
        let mut seen = BTreeSet::new();
        while !frontier.is_empty() {
            frontier.sort_by_key(|r| r.id);
            let mut next = Vec::new();
            for record in frontier {
                if !seen.insert(record.id) {
                    continue;
                }
                state.apply(record);
                if let Some(kids) = children.get(&record.id) {
                    next.extend(kids.iter().copied());
                }
            }
            frontier = next;
        }
        state
    }

    fn apply(&mut self, record: &AclRecord) {
        let b = &record.body;
        let genesis = b.prev.is_none();
        if !genesis && !self.is_owner(&b.issuer) {
            return;
        }
        let entry = self.members.entry(b.subject).or_insert(Member {
            device: b.subject,
            role: b.role,
            recipient: None,
            since_epoch: b.epoch,
            removed_at: None,
            wrote: false,
            owned: false,
        });
        if b.role == Role::Removed {
            entry.removed_at = Some(b.epoch);
        } else {
            if entry.role == Role::Removed {
                entry.since_epoch = b.epoch;
                entry.removed_at = None;
            }
            entry.wrote |= matches!(b.role, Role::Owner | Role::Writer);
            entry.owned |= b.role == Role::Owner;
        }
        entry.role = b.role;
        if let Some(r) = &b.subject_recipient {
            entry.recipient = Some(r.clone());
        }
        self.epoch = self.epoch.max(b.epoch);
        self.head = Some(record.id);
        self.applied += 1;
    }

    /// The doc this state is for.
    pub fn doc(&self) -> Option<DocId> {
        self.doc
    }

    /// The current key epoch.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The record a new record should link to.
    pub fn head(&self) -> Option<AclId> {
        self.head
    }

    /// How many records took effect.
    pub fn applied(&self) -> usize {
        self.applied
    }

    /// Whether a record with this id is among those evaluated.
    pub fn contains(&self, id: &AclId) -> bool {
        self.ids.contains(id)
    }

    /// A device's standing.
    pub fn member(&self, device: &DeviceId) -> Option<&Member> {
        self.members.get(device)
    }

    /// Every device named, in id order.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// Whether the device is a current owner.
    pub fn is_owner(&self, device: &DeviceId) -> bool {
        self.member(device).is_some_and(|m| m.role == Role::Owner)
    }

    /// Whether the device was ever an owner (its envelopes for earlier epochs stay
    /// valid after it is removed).
    pub fn was_owner(&self, device: &DeviceId) -> bool {
        self.member(device).is_some_and(|m| m.owned)
    }

    /// Whether a bundle by `device` under `epoch` carries a write right: the device held
    /// owner or writer from an epoch at or before it and was not removed by then.
    pub fn may_write(&self, device: &DeviceId, epoch: u32) -> bool {
        self.member(device).is_some_and(|m| {
            m.wrote
                && m.since_epoch <= epoch
                && match m.removed_at {
                    Some(removed) => epoch < removed,
                    None => matches!(m.role, Role::Owner | Role::Writer),
                }
        })
    }

    /// Whether the device may currently receive this doc's bundles.
    pub fn may_hold(&self, device: &DeviceId) -> bool {
        self.member(device).is_some_and(|m| m.role != Role::Removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Seed;

    fn device(n: u8) -> DeviceKeys {
        DeviceKeys::derive(&Seed::from_bytes([n; 32])).unwrap()
    }

    fn grant(
        doc: DocId,
        prev: AclId,
        issuer: &DeviceKeys,
        subject: &DeviceKeys,
        role: Role,
        epoch: u32,
    ) -> AclRecord {
        AclRecord::sign(
            AclBody {
                doc,
                prev: Some(prev),
                issuer: issuer.id(),
                subject: subject.id(),
                subject_recipient: Some(subject.recipient().to_string()),
                role,
                epoch,
                nonce: None,
                created_at_ms: 0,
            },
            issuer,
        )
    }

    #[test]
    fn grants_removals_and_forgeries() {
        let (a, b, c) = (device(1), device(2), device(3));
        let (doc, genesis) = AclRecord::genesis(&a);
        let add_b = grant(doc, genesis.id(), &a, &b, Role::Writer, 0);
        // c is not an owner: its grant to itself is ignored.
        let forged = grant(doc, genesis.id(), &c, &c, Role::Owner, 0);
        let remove_b = grant(doc, add_b.id(), &a, &b, Role::Removed, 1);
        let records = vec![remove_b.clone(), forged, add_b.clone(), genesis.clone()];
        let state = AclState::evaluate(doc, &records);
        assert!(state.is_owner(&a.id()));
        assert!(!state.may_hold(&c.id()));
        assert!(!state.may_write(&c.id(), 0));
        assert!(state.may_write(&b.id(), 0), "b wrote before its removal");
        assert!(
            !state.may_write(&b.id(), 1),
            "b may not write after removal"
        );
        assert!(!state.may_hold(&b.id()));
        assert_eq!(state.epoch(), 1);

        // A genesis for another doc id, or one whose nonce does not match, is ignored.
        let (_, other) = AclRecord::genesis(&c);
        let state = AclState::evaluate(doc, &[other]);
        assert!(state.members().next().is_none());
    }

    #[test]
    fn order_does_not_matter() {
        let (a, b) = (device(1), device(2));
        let (doc, genesis) = AclRecord::genesis(&a);
        let add_b = grant(doc, genesis.id(), &a, &b, Role::Owner, 0);
        let b_adds_a_reader = grant(doc, add_b.id(), &b, &device(4), Role::Reader, 0);
        let mut records = vec![genesis, add_b, b_adds_a_reader];
        let first = AclState::evaluate(doc, &records);
        records.reverse();
        let second = AclState::evaluate(doc, &records);
        assert_eq!(first.head(), second.head());
        assert_eq!(
            first.members().cloned().collect::<Vec<_>>(),
            second.members().cloned().collect::<Vec<_>>()
        );
        assert_eq!(first.member(&device(4).id()).unwrap().role, Role::Reader);
    }

    #[test]
    fn tampered_records_do_not_decode() {
        let (_, genesis) = AclRecord::genesis(&device(1));
        AclRecord::decode(genesis.bytes()).unwrap();
        for i in 0..genesis.bytes().len() {
            let mut bad = genesis.bytes().to_vec();
            bad[i] ^= 0x04;
            assert!(AclRecord::decode(&bad).is_err());
        }
    }
}
