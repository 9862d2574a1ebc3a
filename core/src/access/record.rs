//! One signed access record: its body (which doc, who signs, the records the signer had
//! seen, the epoch, and what it does), its strict encoding and its id. Whether a
//! record takes effect is not decided here (that is [`super::eval`]).

use serde::{Deserialize, Serialize};

use crate::crypto::{self, Domain};
use crate::identity::DeviceKeys;
use crate::ids::{AclId, BundleId, DeviceId, DocId};
use crate::wire::{self, Reader, WireError};

const MAGIC: &[u8; 4] = b"HAC2";
/// The largest record body accepted (a removal naming every reader of a full doc).
pub const MAX_BODY: usize = 16 << 10;
/// The most records one record may name as seen (its parents).
pub const MAX_PARENTS: usize = 64;
/// The most devices one document may name as readers of an epoch.
pub const MAX_READERS: usize = 256;
/// The most devices one removal may remove.
pub const MAX_REMOVED: usize = 64;
/// The longest age recipient accepted (`age1` and 58 Bech32 characters).
const MAX_RECIPIENT: usize = 100;

/// What a device may do with a document. A removed device keeps the role it had;
/// its removal is part of its [`super::Standing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Read, write, add and remove devices.
    Owner,
    /// Read and write.
    Writer,
    /// Read only.
    Reader,
    /// Hold ciphertext without a key (the hub's blind store).
    Store,
    /// A backup's key: it can add the device a backup is restored on, and nothing else.
    /// It never syncs and never receives a document key.
    Recovery,
    /// Read, and add comments only (a coach in a share). The hub takes its bundles as
    /// it takes a writer's; every reader's device checks, before applying one, that it
    /// adds nothing but new comments of its author's (`doc::Model::check_comment`).
    Commenter,
}

impl Role {
    /// Whether this role receives the document's epoch keys.
    pub fn reads(self) -> bool {
        matches!(
            self,
            Role::Owner | Role::Writer | Role::Reader | Role::Commenter
        )
    }

    /// Whether this role's bundles are accepted.
    pub fn writes(self) -> bool {
        matches!(self, Role::Owner | Role::Writer | Role::Commenter)
    }

    /// Whether this role syncs the document (receives its items).
    pub fn holds(self) -> bool {
        matches!(
            self,
            Role::Owner | Role::Writer | Role::Reader | Role::Commenter | Role::Store
        )
    }

    /// Rank for joining concurrent grants of one device: the stronger role wins.
    pub(crate) fn rank(self) -> u8 {
        match self {
            Role::Owner => 5,
            Role::Writer => 4,
            Role::Commenter => 3,
            Role::Reader => 2,
            Role::Store => 1,
            Role::Recovery => 0,
        }
    }
}

/// The public half of an epoch's key, as the record opening that epoch commits to it:
/// a hash of the epoch key's age recipient. An envelope whose key does not match is
/// refused.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EpochKey(pub [u8; 32]);

impl EpochKey {
    /// The commitment to the epoch key whose age recipient is `recipient`.
    pub fn of_recipient(recipient: &str) -> Self {
        EpochKey(blake3::derive_key(
            "hearth 2026-11 epoch key commitment v1",
            recipient.as_bytes(),
        ))
    }
}

impl std::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EpochKey({})", &crate::ids::to_hex(&self.0)[..12])
    }
}

/// The newest bundle of a removed device's that the removing device had seen: its
/// bundles up to this one (following their back-links) stay valid, every other is void.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Mark {
    /// The bundle's sequence number in its author's chain.
    pub seq: u64,
    /// The bundle.
    pub bundle: BundleId,
}

/// One device a removal removes, and the high-water mark of its bundles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    /// The device removed.
    pub subject: DeviceId,
    /// Its newest bundle the removing device had seen (`None`: none of its bundles
    /// after this record stay valid).
    pub mark: Option<Mark>,
}

/// What a record does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// The document's first record: its creator, as owner of epoch 0. The doc id is a
    /// hash of this record's content, so a document has exactly one genesis.
    Genesis {
        /// Random bytes, so every document's id is new.
        nonce: [u8; 16],
        /// The creator's age recipient.
        recipient: String,
        /// Epoch 0's key.
        key: EpochKey,
    },
    /// Names a device with a role (the hub as `Store`, a backup's key as `Recovery`).
    Grant {
        /// The device.
        subject: DeviceId,
        /// Its age recipient, which envelopes are sealed to.
        recipient: String,
        /// Its role.
        role: Role,
    },
    /// Removes devices for good and opens the next epoch, whose key reaches only
    /// `readers`.
    Remove {
        /// Who is removed, each with the mark of its bundles.
        removed: Vec<Removal>,
        /// The new epoch's key.
        key: EpochKey,
        /// The devices the new key is sealed to.
        readers: Vec<DeviceId>,
    },
    /// Opens the next epoch with a fresh key, removing nobody: after concurrent
    /// removals left the newest key with a removed device.
    Rotate {
        /// The new epoch's key.
        key: EpochKey,
        /// The devices the new key is sealed to.
        readers: Vec<DeviceId>,
    },
    /// Ends a device's access at a time, opening no epoch: a coach's, under a consent
    /// with a date. From `until_ms` on, a hub refuses the device by its own clock
    /// (nobody need be online); the member's device that is online first then removes
    /// it for good (a new epoch). It only ever shortens access: of several, the
    /// earliest counts.
    Until {
        /// The device.
        subject: DeviceId,
        /// When its access ends, ms since the Unix epoch.
        until_ms: u64,
    },
}

impl Action {
    /// The key and readers of the epoch this record opens, if it opens one.
    pub fn opens(&self) -> Option<(&EpochKey, &[DeviceId])> {
        match self {
            Action::Genesis { key, .. } => Some((key, &[])),
            Action::Remove { key, readers, .. } | Action::Rotate { key, readers } => {
                Some((key, readers))
            }
            Action::Grant { .. } | Action::Until { .. } => None,
        }
    }
}

/// What a record says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclBody {
    /// The document.
    pub doc: DocId,
    /// The signing device (or backup key).
    pub issuer: DeviceId,
    /// The records the issuer had seen that no other record it had seen names (its
    /// heads), sorted; empty only for the genesis.
    pub parents: Vec<AclId>,
    /// The epoch: the highest of the parents' epochs, plus one for a record that
    /// opens an epoch.
    pub epoch: u32,
    /// What it does.
    pub action: Action,
}

/// A signed access record.
#[derive(Debug, Clone)]
pub struct AclRecord {
    body: AclBody,
    id: AclId,
    bytes: Vec<u8>,
}

/// A record failed to decode or verify, or cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AclError {
    /// The bytes are not an access record.
    #[error("malformed access record: {0}")]
    Wire(#[from] WireError),
    /// The signature does not verify.
    #[error("access record signature does not verify")]
    BadSignature,
    /// The record breaks a rule every record must keep.
    #[error("invalid access record: {0}")]
    Invalid(&'static str),
}

/// The doc id a genesis with this content names.
pub fn doc_id_for(creator: &DeviceId, nonce: &[u8; 16], recipient: &str, key: &EpochKey) -> DocId {
    let mut h = blake3::Hasher::new_derive_key("hearth 2026-11 doc id v2");
    h.update(creator.as_bytes());
    h.update(nonce);
    h.update(&(recipient.len() as u32).to_le_bytes());
    h.update(recipient.as_bytes());
    h.update(&key.0);
    let mut id = [0u8; 16];
    id.copy_from_slice(&h.finalize().as_bytes()[..16]);
    DocId(id)
}

/// The id of a record: a hash of its signed body, so another signature over the same
/// body is the same record.
fn id_of_body(body_bytes: &[u8]) -> AclId {
    AclId(blake3::derive_key(
        "hearth 2026-11 access record id v2",
        body_bytes,
    ))
}

/// The id of a record's signed bytes, read without checking the signature (for
/// indexing what is stored). `None` when the framing is broken.
pub(crate) fn id_of_bytes(bytes: &[u8]) -> Option<AclId> {
    let mut r = Reader::new(bytes);
    r.magic(MAGIC, "access record").ok()?;
    let body = r.sized("access record body", MAX_BODY).ok()?;
    Some(id_of_body(body))
}

fn check_recipient(recipient: &str) -> Result<(), AclError> {
    if recipient.len() > MAX_RECIPIENT || crypto::age_recipient(recipient).is_err() {
        return Err(AclError::Invalid("a recipient is not an age recipient"));
    }
    Ok(())
}

/// The rules a body keeps whatever else is true: bounds, sorted sets, valid
/// recipients, no device acting on itself, a genesis that names its doc.
fn check_body(b: &AclBody) -> Result<(), AclError> {
    let sorted_unique = |ids: &[AclId]| ids.windows(2).all(|w| w[0] < w[1]);
    if b.parents.len() > MAX_PARENTS || !sorted_unique(&b.parents) {
        return Err(AclError::Invalid("parents must be sorted, unique and few"));
    }
    match &b.action {
        Action::Genesis {
            nonce,
            recipient,
            key,
        } => {
            if !b.parents.is_empty() || b.epoch != 0 {
                return Err(AclError::Invalid("a genesis has no parents and epoch 0"));
            }
            check_recipient(recipient)?;
            if doc_id_for(&b.issuer, nonce, recipient, key) != b.doc {
                return Err(AclError::Invalid("a genesis must name its own doc id"));
            }
        }
        Action::Grant {
            subject, recipient, ..
        } => {
            if b.parents.is_empty() {
                return Err(AclError::Invalid("only a genesis has no parents"));
            }
            if *subject == b.issuer {
                return Err(AclError::Invalid("a device cannot grant itself"));
            }
            check_recipient(recipient)?;
        }
        Action::Remove {
            removed, readers, ..
        } => {
            if b.parents.is_empty() || b.epoch == 0 {
                return Err(AclError::Invalid("a removal has parents and a new epoch"));
            }
            if removed.is_empty() || removed.len() > MAX_REMOVED {
                return Err(AclError::Invalid("a removal removes one to 64 devices"));
            }
            let mut subjects: Vec<_> = removed.iter().map(|r| r.subject).collect();
            subjects.sort();
            subjects.dedup();
            if subjects.len() != removed.len() || subjects.contains(&b.issuer) {
                return Err(AclError::Invalid(
                    "a removal names each device once and never its issuer",
                ));
            }
            check_readers(readers)?;
        }
        Action::Until { subject, .. } => {
            if b.parents.is_empty() {
                return Err(AclError::Invalid("only a genesis has no parents"));
            }
            if *subject == b.issuer {
                return Err(AclError::Invalid("a device cannot end its own access"));
            }
        }
        Action::Rotate { readers, .. } => {
            if b.parents.is_empty() || b.epoch == 0 {
                return Err(AclError::Invalid("a rotation has parents and a new epoch"));
            }
            check_readers(readers)?;
        }
    }
    Ok(())
}

fn check_readers(readers: &[DeviceId]) -> Result<(), AclError> {
    if readers.len() > MAX_READERS || !readers.windows(2).all(|w| w[0] < w[1]) {
        return Err(AclError::Invalid("readers must be sorted, unique and few"));
    }
    Ok(())
}

impl AclRecord {
    /// Signs a body as a device.
    pub fn sign(body: AclBody, issuer: &DeviceKeys) -> Result<Self, AclError> {
        Self::sign_with(body, issuer.endpoint_key())
    }

    /// Signs a body with any Ed25519 key (a device's, or a backup's recovery key).
    /// The issuer is the key's; the body must keep the rules every record keeps.
    pub fn sign_with(mut body: AclBody, issuer: &iroh_base::SecretKey) -> Result<Self, AclError> {
        body.issuer = DeviceId::from(issuer.public());
        check_body(&body)?;
        let body_bytes = wire::to_postcard(&body);
        if body_bytes.len() > MAX_BODY {
            return Err(AclError::Invalid("the record is too large"));
        }
        let signature = crypto::sign(issuer, Domain::ACL, &body_bytes);
        let mut bytes = Vec::with_capacity(body_bytes.len() + 72);
        bytes.extend_from_slice(MAGIC);
        wire::put_sized(&mut bytes, &body_bytes);
        bytes.extend_from_slice(&signature);
        Ok(AclRecord {
            id: id_of_body(&body_bytes),
            body,
            bytes,
        })
    }

    /// A new document's genesis: `creator` as owner of epoch 0 with `key`. Returns the
    /// doc id too.
    pub fn genesis(creator: &DeviceKeys, key: EpochKey) -> Result<(DocId, Self), AclError> {
        let nonce: [u8; 16] = crypto::random_bytes();
        let recipient = creator.recipient().to_string();
        let doc = doc_id_for(&creator.id(), &nonce, &recipient, &key);
        let body = AclBody {
            doc,
            issuer: creator.id(),
            parents: Vec::new(),
            epoch: 0,
            action: Action::Genesis {
                nonce,
                recipient,
                key,
            },
        };
        Ok((doc, Self::sign(body, creator)?))
    }

    /// Decodes, checks the rules every record keeps, and checks the issuer's
    /// signature (not the issuer's rights).
    pub fn decode(bytes: &[u8]) -> Result<Self, AclError> {
        let mut r = Reader::new(bytes);
        r.magic(MAGIC, "access record")?;
        let body_bytes = r.sized("access record body", MAX_BODY)?;
        let signature: [u8; 64] = r.array()?;
        r.finish()?;
        let body: AclBody = wire::from_postcard(body_bytes, "access record body")?;
        check_body(&body)?;
        crypto::verify(&body.issuer, Domain::ACL, body_bytes, &signature)
            .map_err(|_| AclError::BadSignature)?;
        Ok(AclRecord {
            body,
            id: id_of_body(body_bytes),
            bytes: bytes.to_vec(),
        })
    }

    /// What it says.
    pub fn body(&self) -> &AclBody {
        &self.body
    }

    /// Its id.
    pub fn id(&self) -> AclId {
        self.id
    }

    /// The signed bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Seed;

    fn device(n: u8) -> DeviceKeys {
        DeviceKeys::derive(&Seed::from_bytes([n; 32])).unwrap()
    }

    #[test]
    fn tampered_records_do_not_decode() {
        let (_, genesis) = AclRecord::genesis(&device(1), EpochKey([3; 32])).unwrap();
        AclRecord::decode(genesis.bytes()).unwrap();
        for i in 0..genesis.bytes().len() {
            let mut bad = genesis.bytes().to_vec();
            bad[i] ^= 0x04;
            assert!(AclRecord::decode(&bad).is_err(), "flip at {i} accepted");
        }
        assert_eq!(id_of_bytes(genesis.bytes()), Some(genesis.id()));
    }

    #[test]
    fn a_genesis_must_name_the_doc_its_content_hashes_to() {
        let a = device(1);
        let (doc, genesis) = AclRecord::genesis(&a, EpochKey([3; 32])).unwrap();
        let mut body = genesis.body().clone();
        body.doc = DocId([0; 16]);
        assert!(AclRecord::sign(body, &a).is_err());
        let mut body = genesis.body().clone();
        if let Action::Genesis { key, .. } = &mut body.action {
            *key = EpochKey([4; 32]);
        }
        assert_eq!(body.doc, doc);
        assert!(
            AclRecord::sign(body, &a).is_err(),
            "a second genesis for the same doc with another key"
        );
    }

    #[test]
    fn malformed_recipients_and_self_grants_are_refused_when_made_and_read() {
        let (a, b) = (device(1), device(2));
        let (doc, genesis) = AclRecord::genesis(&a, EpochKey([3; 32])).unwrap();
        let grant = |subject: DeviceId, recipient: &str| AclBody {
            doc,
            issuer: a.id(),
            parents: vec![genesis.id()],
            epoch: 0,
            action: Action::Grant {
                subject,
                recipient: recipient.into(),
                role: Role::Owner,
            },
        };
        assert!(AclRecord::sign(grant(b.id(), "age1notarecipient"), &a).is_err());
        assert!(AclRecord::sign(grant(a.id(), &a.recipient().to_string()), &a).is_err());
        let good = AclRecord::sign(grant(b.id(), &b.recipient().to_string()), &a).unwrap();
        AclRecord::decode(good.bytes()).unwrap();
    }
}
