//! How a member is known to a center without being named: a 32-byte secret kept in
//! the member's journal (so every device of the member has it, and no one else),
//! from which each center gets its own tag (the member's proof and, hashed, their
//! pseudonym there) and each proposal its own interest token. Two centers cannot link
//! their pseudonyms; a center cannot link an interest token to a pseudonym, to
//! another proposal's token, or to a journal.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::ids::DeviceId;

use super::model::ProposalId;

/// The member's center secret. Redacted in `Debug`, zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MemberSecret([u8; 32]);

impl std::fmt::Debug for MemberSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemberSecret(..)")
    }
}

impl MemberSecret {
    /// A fresh random secret (made once, with the journal).
    pub fn generate() -> Self {
        MemberSecret(crate::crypto::random_bytes())
    }

    /// The secret from its bytes (as the journal keeps them).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MemberSecret(bytes)
    }

    /// The bytes, for the journal only.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// What the member presents to the hub `hub` with every sign-up request. It proves
    /// the sign-up is theirs (to withdraw it, to ask its status from another of their
    /// devices); the hub keeps only its hash, the pseudonym.
    pub fn tag(&self, hub: &DeviceId) -> MemberTag {
        MemberTag(derive(
            &self.0,
            "hearth/center-member/v1",
            &[hub.as_bytes()],
        ))
    }

    /// What the member presents when showing interest in `proposal` at `hub`: the same
    /// for all of the member's devices (so a member counts once), different for every
    /// proposal and center (so nothing links it to the member or their other choices).
    pub fn interest_token(&self, hub: &DeviceId, proposal: ProposalId) -> [u8; 32] {
        derive(
            &self.0,
            "hearth/center-interest/v1",
            &[hub.as_bytes(), &proposal.0.to_le_bytes()],
        )
    }
}

fn derive(key: &[u8; 32], context: &str, parts: &[&[u8]]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key(context);
    h.update(key);
    for p in parts {
        h.update(p);
    }
    *h.finalize().as_bytes()
}

/// A member's proof at one center (see [`MemberSecret::tag`]).
#[derive(Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Zeroize)]
pub struct MemberTag(pub [u8; 32]);

impl std::fmt::Debug for MemberTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemberTag(..)")
    }
}

impl MemberTag {
    /// What the center keeps: the member's pseudonym there.
    pub fn pseudonym(&self) -> Pseudonym {
        Pseudonym(blake3::derive_key("hearth/center-pseudonym/v1", &self.0))
    }
}

/// A member as one center knows them: a hash, never a name or a device.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Pseudonym(pub [u8; 32]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_member_is_one_pseudonym_per_center_and_unlinkable_across_centers() {
        let s = MemberSecret::from_bytes([7; 32]);
        let (a, b) = (DeviceId([1; 32]), DeviceId([2; 32]));
        assert_eq!(s.clone().tag(&a).pseudonym(), s.tag(&a).pseudonym());
        assert_ne!(s.tag(&a).pseudonym(), s.tag(&b).pseudonym());
        assert_ne!(s.tag(&a).pseudonym().0, s.tag(&a).0);
        let other = MemberSecret::from_bytes([8; 32]);
        assert_ne!(other.tag(&a).pseudonym(), s.tag(&a).pseudonym());
        assert_ne!(
            s.interest_token(&a, ProposalId(1)),
            s.interest_token(&a, ProposalId(2))
        );
        assert_ne!(s.interest_token(&a, ProposalId(1)), s.tag(&a).0);
        assert_eq!(format!("{s:?}"), "MemberSecret(..)");
    }
}
