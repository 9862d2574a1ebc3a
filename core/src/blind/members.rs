//! Whom the hub charges for what it stores, and how much each may store. The hub
//! cannot know people, only devices, so a *member* here is an enrolled device (one
//! that used the center's ticket). Every doc is charged to one member, fixed when the
//! doc is first stored: the member of the device that created it here.
//!
//! An enrolled device is its own member. A device that never enrolled (a member's
//! new tablet, let in because the member's journal names it) is charged to the member
//! of the first doc it joined here by its own act as an owner, and one that joined
//! none may create nothing (a coach's device, a commenter in a member's share, is
//! never charged to that member). So a stranger who names a thousand fresh keys in a doc of their
//! own charges everything those keys create to themself; and a stranger who names a
//! member's device in their doc charges nothing to that member (the device never
//! joined it).
//!
//! Each member may store at most the hub's quota in bytes across all its docs (the
//! journal and every share made from it), and at most [`MAX_DOCS_PER_MEMBER`] docs.
//! It owns the charges and the counts; it does not decide who may hold a doc (the
//! access log) or who is admitted (the blind store).

use std::collections::HashMap;

use crate::ids::{DeviceId, DocId};

/// Docs one member may keep on the hub: a journal and a share per coach, with room.
pub const MAX_DOCS_PER_MEMBER: usize = 64;

/// What one member stores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Docs charged to it.
    pub docs: usize,
    /// Bytes stored across them.
    pub bytes: u64,
}

/// The charges of every stored doc, and each member's usage.
#[derive(Debug, Default)]
pub struct Members {
    of_doc: HashMap<DocId, DeviceId>,
    usage: HashMap<DeviceId, Usage>,
}

/// Why a new doc was not charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NewDocRefusal {
    /// The member keeps as many docs as it may.
    #[error("this member already keeps {0} documents at the center's hub, the most it may")]
    TooMany(usize),
    /// The device is no member's: it neither enrolled nor joined a doc here.
    #[error("this device may store a new document at the hub only once it enrolled or joined one")]
    NoMember,
}

impl Members {
    /// The member `doc` is charged to, if it is stored.
    pub fn of_doc(&self, doc: &DocId) -> Option<DeviceId> {
        self.of_doc.get(doc).copied()
    }

    /// What `member` stores.
    pub fn usage(&self, member: &DeviceId) -> Usage {
        self.usage.get(member).copied().unwrap_or_default()
    }

    /// The member a device is charged to: itself if it enrolled, else the member of
    /// the first doc (by id) it joined that is charged to anyone.
    pub fn of_device<'a>(
        &self,
        device: &DeviceId,
        enrolled: bool,
        joined: impl IntoIterator<Item = &'a DocId>,
    ) -> Option<DeviceId> {
        if enrolled {
            return Some(*device);
        }
        joined.into_iter().find_map(|d| self.of_doc(d))
    }

    /// Charges a stored doc to `member` with its stored bytes (at open, whatever the
    /// count: what is stored stays).
    pub fn charge_stored(&mut self, doc: DocId, member: DeviceId, bytes: u64) {
        self.of_doc.insert(doc, member);
        let u = self.usage.entry(member).or_default();
        u.docs += 1;
        u.bytes += bytes;
    }

    /// Charges a new doc to `member` (given by [`Members::of_device`]), if it may keep
    /// one more. A doc charged already (two first pushes at once) keeps its charge.
    pub fn charge_new(
        &mut self,
        doc: DocId,
        member: Option<DeviceId>,
    ) -> Result<DeviceId, NewDocRefusal> {
        if let Some(charged) = self.of_doc(&doc) {
            return Ok(charged);
        }
        let member = member.ok_or(NewDocRefusal::NoMember)?;
        let u = self.usage.entry(member).or_default();
        if u.docs >= MAX_DOCS_PER_MEMBER {
            return Err(NewDocRefusal::TooMany(u.docs));
        }
        u.docs += 1;
        self.of_doc.insert(doc, member);
        Ok(member)
    }

    /// Adds stored bytes to `member`.
    pub fn grow(&mut self, member: &DeviceId, bytes: u64) {
        let u = self.usage.entry(*member).or_default();
        u.bytes = u.bytes.saturating_add(bytes);
    }

    /// Takes freed bytes off `member`.
    pub fn shrink(&mut self, member: &DeviceId, bytes: u64) {
        if let Some(u) = self.usage.get_mut(member) {
            u.bytes = u.bytes.saturating_sub(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> DeviceId {
        DeviceId([n; 32])
    }

    fn doc(n: u8) -> DocId {
        DocId([n; 16])
    }

    #[test]
    fn an_enrolled_device_is_its_own_member_and_others_go_by_the_docs_they_joined() {
        let mut m = Members::default();
        let phone = m.of_device(&id(1), true, []).unwrap();
        assert_eq!(phone, id(1));
        m.charge_new(doc(1), Some(phone)).unwrap();
        // The tablet never enrolled; it joined the phone's journal.
        assert_eq!(m.of_device(&id(2), false, [&doc(9), &doc(1)]), Some(id(1)));
        // A device that joined nothing stored here is no one's member.
        assert_eq!(m.of_device(&id(3), false, [&doc(9)]), None);
        assert_eq!(
            m.charge_new(doc(2), m.of_device(&id(3), false, [])),
            Err(NewDocRefusal::NoMember)
        );
    }

    #[test]
    fn a_member_keeps_at_most_its_docs_and_every_byte_of_them_counts_once() {
        let mut m = Members::default();
        for n in 0..MAX_DOCS_PER_MEMBER {
            m.charge_new(DocId([n as u8; 16]), Some(id(1))).unwrap();
        }
        assert_eq!(
            m.charge_new(doc(200), Some(id(1))),
            Err(NewDocRefusal::TooMany(MAX_DOCS_PER_MEMBER))
        );
        // Another member is not held back by the first.
        m.charge_new(doc(200), Some(id(2))).unwrap();
        m.grow(&id(1), 100);
        m.grow(&id(1), 50);
        m.shrink(&id(1), 30);
        assert_eq!(m.usage(&id(1)).bytes, 120);
        assert_eq!(m.usage(&id(2)).bytes, 0);
        // A doc charged already keeps its charge, counted once.
        assert_eq!(m.charge_new(doc(200), Some(id(3))), Ok(id(2)));
        assert_eq!(m.usage(&id(2)).docs, 1);
        assert_eq!(m.usage(&id(3)).docs, 0);
    }
}
