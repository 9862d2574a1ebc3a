//! `hearth/center/1`: what a member's device asks its center's hub, one request per
//! stream, one answer each. Frames are length-prefixed postcard, checked against a
//! bound before their body is allocated (requests 16 KiB, answers 4 MiB); the signed
//! flyer is checked by the device before it is kept.

use serde::{Deserialize, Serialize};

use crate::crypto::{self, Domain};
use crate::ids::DeviceId;
use crate::wire::{self, WireError};

use super::model::{Flyer, ProposalDraft, ProposalId, SessionId, SignUpId, SignUpStatus};
use super::secret::MemberTag;

/// The protocol's ALPN.
pub const CENTER_ALPN: &[u8] = b"hearth/center/1";
/// The largest request a hub reads.
pub const MAX_REQUEST: usize = 16 << 10;
/// The largest answer a device reads (a flyer of every program, session, resource and
/// proposal a center may list fits far below it).
pub const MAX_ANSWER: usize = 4 << 20;
/// The most sign-ups one member may have at a center that have not ended.
pub const MAX_OPEN_SIGNUPS: usize = 64;

/// A request from a member's device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// The flyer, unless the device already has version `have` or newer.
    Flyer {
        /// The version the device holds (0 for none).
        have: u64,
    },
    /// Sign up for a session (again is harmless: the id decides).
    SignUp {
        /// The member's proof at this center.
        tag: MemberTag,
        /// Made on the device.
        id: SignUpId,
        /// Which session.
        session: SessionId,
        /// The nickname for this center.
        nickname: String,
        /// A note to staff.
        note: String,
    },
    /// Withdraw a sign-up.
    Withdraw {
        /// The member's proof.
        tag: MemberTag,
        /// Which sign-up.
        id: SignUpId,
    },
    /// Where each of the member's sign-ups here stands.
    Statuses {
        /// The member's proof.
        tag: MemberTag,
    },
    /// Propose an activity (the proposer is not recorded).
    Propose(ProposalDraft),
    /// Show interest in a proposal.
    Interested {
        /// The member's token for this proposal ([`super::MemberSecret::interest_token`]).
        token: [u8; 32],
        /// Which proposal.
        proposal: ProposalId,
    },
}

/// Why a hub turned a request down, in words a member can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Refusal {
    /// No such session, program or proposal.
    #[error("the center has no {0} with that number")]
    Unknown(String),
    /// The session has already started or ended.
    #[error("that session has already started")]
    Started,
    /// The session is cancelled.
    #[error("that session is cancelled")]
    Cancelled,
    /// The member has too many open sign-ups, or proposes too often.
    #[error("{0}")]
    TooMany(String),
    /// A field is out of bounds.
    #[error("{0}")]
    Invalid(String),
    /// The hub could not record it (try again).
    #[error("the center could not record it just now: {0}")]
    Unavailable(String),
}

/// A hub's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    /// The newer flyer, or `None` when the device's is current.
    Flyer(Option<SignedFlyer>),
    /// The member's sign-ups here and where each stands.
    Statuses(Vec<(SignUpId, SignUpStatus)>),
    /// The proposal's number.
    Proposed(ProposalId),
    /// How many members are interested now.
    Interest(u32),
    /// Turned down.
    Refused(Refusal),
}

/// A flyer as the hub signed it: postcard bytes and the hub's signature over them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedFlyer {
    /// The flyer's canonical postcard encoding.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
    /// The hub's signature ([`Domain::FLYER`]).
    #[serde(with = "sig")]
    pub signature: [u8; 64],
}

impl std::fmt::Debug for SignedFlyer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SignedFlyer({} bytes)", self.bytes.len())
    }
}

/// A flyer could not be trusted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlyerError {
    /// Its bytes are not a flyer.
    #[error("the center's flyer is malformed: {0}")]
    Malformed(#[from] WireError),
    /// The signature is not the hub's.
    #[error("the center's flyer is not signed by its hub")]
    BadSignature,
    /// It was signed by another hub than the one asked.
    #[error("the flyer is another center's")]
    WrongHub,
    /// It lists more than a flyer may.
    #[error("the center's flyer lists too much")]
    TooLarge,
}

impl SignedFlyer {
    /// Signs a flyer with the hub's key.
    pub fn sign(flyer: &Flyer, key: &iroh_base::SecretKey) -> Self {
        let bytes = wire::to_postcard(flyer);
        let signature = crypto::sign(key, Domain::FLYER, &bytes);
        SignedFlyer { bytes, signature }
    }

    /// The flyer, if `hub` signed it and it is well formed.
    pub fn open(&self, hub: &DeviceId) -> Result<Flyer, FlyerError> {
        crypto::verify(hub, Domain::FLYER, &self.bytes, &self.signature)
            .map_err(|_| FlyerError::BadSignature)?;
        let flyer: Flyer = wire::from_postcard(&self.bytes, "flyer")?;
        if &flyer.hub != hub {
            return Err(FlyerError::WrongHub);
        }
        let entries = flyer.programs.len()
            + flyer.sessions.len()
            + flyer.resources.len()
            + flyer.proposals.len();
        if entries > 4 * super::model::limits::FLYER_ENTRIES {
            return Err(FlyerError::TooLarge);
        }
        Ok(flyer)
    }

    /// Bytes to keep on a device (postcard of the signed flyer).
    pub fn to_bytes(&self) -> Vec<u8> {
        wire::to_postcard(self)
    }

    /// Reads kept bytes back (still to be opened with [`SignedFlyer::open`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FlyerError> {
        Ok(wire::from_postcard(bytes, "signed flyer")?)
    }
}

mod sig {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(sig: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        serde_bytes::serialize(&sig[..], s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let v: serde_bytes::ByteBuf = serde_bytes::ByteBuf::deserialize(d)?;
        <[u8; 64]>::try_from(v.as_ref()).map_err(|_| serde::de::Error::custom("signature length"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::center::model::{Program, ProgramDraft, ProgramId, ProgramKind};
    use crate::identity::{DeviceKeys, Seed};

    #[test]
    fn a_flyer_opens_only_with_its_hubs_signature_and_unchanged() {
        let keys = DeviceKeys::derive(&Seed::from_bytes([3; 32])).unwrap();
        let mut flyer = Flyer::empty(keys.id());
        flyer.version = 4;
        flyer.programs.push(Program {
            id: ProgramId(1),
            draft: ProgramDraft {
                title: "Art".into(),
                kind: ProgramKind::Art,
                description: String::new(),
                facilitator: String::new(),
                place: String::new(),
                accessibility: String::new(),
            },
        });
        let signed = SignedFlyer::sign(&flyer, keys.endpoint_key());
        let kept = SignedFlyer::from_bytes(&signed.to_bytes()).unwrap();
        assert_eq!(kept.open(&keys.id()).unwrap(), flyer);

        let other = DeviceKeys::derive(&Seed::from_bytes([4; 32])).unwrap();
        assert!(matches!(
            kept.open(&other.id()),
            Err(FlyerError::BadSignature)
        ));
        let mut changed = kept.clone();
        let last = changed.bytes.len() - 1;
        changed.bytes[last] ^= 1;
        assert!(matches!(
            changed.open(&keys.id()),
            Err(FlyerError::BadSignature)
        ));
        // Signed by the right key but naming another hub: refused.
        let mut theirs = flyer.clone();
        theirs.hub = other.id();
        let forged = SignedFlyer::sign(&theirs, keys.endpoint_key());
        assert!(matches!(forged.open(&keys.id()), Err(FlyerError::WrongHub)));
        assert!(SignedFlyer::from_bytes(b"junk").is_err());
    }
}
