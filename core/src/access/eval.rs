//! The evaluation of a set of access records into an [`AccessState`]: a pure function
//! of the set, the same on every device and on the hub whatever order the records
//! arrived in and whatever parents their signers chose. It neither stores nor fetches
//! records (that is [`super::log`]).
//!
//! The rules, in the order they are applied:
//!
//! 1. **Structure.** The one genesis whose content hashes to the doc id roots the log.
//!    A record takes part only if every parent does, and its epoch is its parents'
//!    highest, plus one if it opens an epoch (no gaps, no overflow).
//! 2. **Authority in the signer's own view.** A record takes effect only if its
//!    issuer held the power it uses among the records it had seen (its causal past):
//!    an owner grants, removes and rotates; a backup's recovery key grants devices.
//!    A device with a removal in that past holds nothing.
//! 3. **Strong removal.** A removal of X voids every record by X that the removal
//!    did not see, whatever parents X chose for it, and bounds X's bundles by the
//!    mark it names. A device once removed stays removed (a grant never brings it
//!    back: a thief keeps the old key).
//! 4. **Concurrent conflicting owner records** (the one rule): concurrent removals
//!    that undo each other are settled by grounded labelling — a removal stands when
//!    every removal that would undo it falls, and falls when one that would undo it
//!    stands. Removals left in a cycle — A removes B while B removes A, not having
//!    seen each other's, or B removes the device that granted A — all stand: every
//!    device in the cycle is removed, and each of their other unseen records is void.
//!    With no trusted clock the two sides of such a cycle are indistinguishable (a
//!    thief can always sign a counter-removal that did not see its own removal), and
//!    this is the only choice that never leaves a thief with access.
//! 5. **Epochs.** Every record that opens an epoch commits to its key. Concurrent
//!    openings of one epoch number are all valid; the one with the smallest id is the
//!    epoch's key for new writes. When that key reached a device that is now removed,
//!    the state says a rotation is needed.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use super::record::{AclRecord, Action, EpochKey, Mark, Role};
use crate::ids::{AclId, DeviceId, DocId};

/// A device's standing in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The device (or backup key, or hub).
    pub device: DeviceId,
    /// Its role (kept after a removal, to say what it was).
    pub role: Role,
    /// Its age recipient, as its grant named it.
    pub recipient: String,
    /// The device that granted it (itself, for the creator).
    pub granted_by: DeviceId,
    /// The epoch its first grant was made in.
    pub granted_in: u32,
    /// Its removal, if it was removed.
    pub removed: Option<Removed>,
    /// When its access ends by itself, if an owner set a time ([`Action::Until`]).
    pub until_ms: Option<u64>,
}

impl Standing {
    /// Whether it is a member now (granted and not removed).
    pub fn is_current(&self) -> bool {
        self.removed.is_none()
    }

    /// Whether its access ran out by `now_ms` (a time an owner set has passed).
    pub fn ran_out(&self, now_ms: u64) -> bool {
        self.until_ms.is_some_and(|until| now_ms >= until)
    }
}

/// How a device was removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The first epoch it may never hold a key of.
    pub epoch: u32,
    /// The devices whose removals removed it.
    pub by: Vec<DeviceId>,
    /// The marks the removals named: its bundle is valid only within every one.
    pub marks: Vec<Option<Mark>>,
    /// Whether it was removed in a cycle of concurrent removals (it removed a device
    /// that removed it).
    pub mutual: bool,
}

/// A record that opened an epoch, with the key it committed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    /// The record.
    pub record: AclId,
    /// The epoch it opened.
    pub epoch: u32,
    /// Its issuer.
    pub issuer: DeviceId,
    /// The commitment to the epoch's key.
    pub key: EpochKey,
    /// The devices its key was sealed to.
    pub readers: BTreeSet<DeviceId>,
}

/// Whether a device's bundles are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteRight<'a> {
    /// It may write.
    Yes,
    /// It was removed: only its bundles within every one of these marks stand.
    WithinMarks(&'a [Option<Mark>]),
    /// It never could.
    No,
}

/// The evaluated access state of one document.
#[derive(Debug, Clone)]
pub struct AccessState {
    doc: DocId,
    evaluated: BTreeSet<AclId>,
    valid: BTreeSet<AclId>,
    /// Removals whose signer held the power to remove among the records it had seen.
    removals: BTreeSet<AclId>,
    heads: Vec<AclId>,
    head_epoch: u32,
    members: BTreeMap<DeviceId, Standing>,
    openings: BTreeMap<u32, Vec<Opening>>,
}

/// A fixed-size set of positions.
#[derive(Clone, PartialEq, Eq)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn or(&mut self, other: &Bits) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
}

/// The records in topological order with their causal pasts, ready to evaluate.
struct Graph<'a> {
    /// Records in topological order (parents first, ties by id).
    records: Vec<&'a AclRecord>,
    /// For each position, the positions of its strict ancestors.
    past: Vec<Bits>,
    /// Each issuer's records, by position.
    by_issuer: HashMap<DeviceId, Vec<usize>>,
    /// Positions of records that remove devices.
    removals: Vec<usize>,
}

impl<'a> Graph<'a> {
    /// Places the records that descend from the genesis with whole, well-formed
    /// ancestry; the rest take no part.
    fn build(doc: DocId, records: &BTreeMap<AclId, &'a AclRecord>) -> Option<Self> {
        let genesis = records
            .values()
            .find(|r| matches!(r.body().action, Action::Genesis { .. }) && r.body().doc == doc)?;
        let mut children: HashMap<AclId, Vec<AclId>> = HashMap::new();
        let mut waiting: HashMap<AclId, usize> = HashMap::new();
        for r in records.values() {
            let b = r.body();
            if b.parents.is_empty() {
                continue;
            }
            waiting.insert(r.id(), b.parents.len());
            for p in &b.parents {
                children.entry(*p).or_default().push(r.id());
            }
        }
        let mut position: HashMap<AclId, usize> = HashMap::new();
        let mut epochs: Vec<u32> = Vec::new();
        let mut placed: Vec<&AclRecord> = Vec::new();
        let mut ready = BinaryHeap::from([Reverse(genesis.id())]);
        while let Some(Reverse(id)) = ready.pop() {
            let Some(r) = records.get(&id) else { continue };
            let b = r.body();
            let parents_epoch = b
                .parents
                .iter()
                .filter_map(|p| position.get(p).map(|&i| epochs[i]))
                .max()
                .unwrap_or(0);
            let expected = match (&b.action, b.parents.is_empty()) {
                (Action::Genesis { .. }, true) => Some(0),
                (Action::Genesis { .. }, false) | (_, true) => None,
                (Action::Remove { .. } | Action::Rotate { .. }, false) => {
                    parents_epoch.checked_add(1)
                }
                (Action::Grant { .. } | Action::Until { .. }, false) => Some(parents_epoch),
            };
            if expected != Some(b.epoch) {
                continue; // its descendants never become ready
            }
            position.insert(id, placed.len());
            epochs.push(b.epoch);
            placed.push(r);
            for child in children.get(&id).into_iter().flatten() {
                if let Some(n) = waiting.get_mut(child) {
                    *n -= 1;
                    if *n == 0 {
                        ready.push(Reverse(*child));
                    }
                }
            }
        }
        let n = placed.len();
        let mut past: Vec<Bits> = Vec::with_capacity(n);
        let mut by_issuer: HashMap<DeviceId, Vec<usize>> = HashMap::new();
        let mut removals = Vec::new();
        for (i, r) in placed.iter().enumerate() {
            debug_assert_eq!(past.len(), i);
            let mut bits = Bits::new(n);
            for p in &r.body().parents {
                if let Some(&j) = position.get(p) {
                    bits.set(j);
                    bits.or(&past[j]);
                }
            }
            past.push(bits);
            by_issuer.entry(r.body().issuer).or_default().push(i);
            if matches!(r.body().action, Action::Remove { .. }) {
                removals.push(i);
            }
        }
        Some(Graph {
            records: placed,
            past,
            by_issuer,
            removals,
        })
    }

    fn saw(&self, later: usize, earlier: usize) -> bool {
        self.past[later].get(earlier)
    }

    fn removed_by(&self, i: usize) -> &[super::record::Removal] {
        match &self.records[i].body().action {
            Action::Remove { removed, .. } => removed,
            _ => &[],
        }
    }
}

/// Who holds what, found by one pass in topological order with some records void.
struct Pass {
    valid: Bits,
    /// Valid grants (and the genesis) per subject: (position, role).
    grants: HashMap<DeviceId, Vec<(usize, Role)>>,
    /// Valid removals per subject.
    removals: HashMap<DeviceId, Vec<usize>>,
}

impl Pass {
    /// One pass with the records in `void` void; the removals in `forced` stand
    /// whatever their signers' standing (they stand in a cycle of removals).
    fn run(g: &Graph<'_>, void: &Bits, forced: &BTreeSet<usize>) -> Self {
        let n = g.records.len();
        let mut pass = Pass {
            valid: Bits::new(n),
            grants: HashMap::new(),
            removals: HashMap::new(),
        };
        for (i, r) in g.records.iter().enumerate() {
            let b = r.body();
            let authorized = match &b.action {
                Action::Genesis { .. } => true,
                _ if void.get(i) => false,
                Action::Grant { subject, role, .. } => {
                    let granter = pass.role_in_view(g, &b.issuer, i);
                    let may = match granter {
                        Some(Role::Owner) => true,
                        Some(Role::Recovery) => role.reads(),
                        _ => false,
                    };
                    may && !pass.removed_in_view(g, subject, i)
                }
                Action::Remove { .. } if forced.contains(&i) => true,
                Action::Remove { .. } | Action::Rotate { .. } | Action::Until { .. } => {
                    pass.role_in_view(g, &b.issuer, i) == Some(Role::Owner)
                }
            };
            if !authorized {
                continue;
            }
            pass.valid.set(i);
            match &b.action {
                Action::Genesis { .. } => pass
                    .grants
                    .entry(b.issuer)
                    .or_default()
                    .push((i, Role::Owner)),
                Action::Grant { subject, role, .. } => {
                    pass.grants.entry(*subject).or_default().push((i, *role))
                }
                Action::Remove { removed, .. } => {
                    for removal in removed {
                        pass.removals.entry(removal.subject).or_default().push(i);
                    }
                }
                Action::Rotate { .. } | Action::Until { .. } => {}
            }
        }
        pass
    }

    /// The device's role among the valid records position `at` had seen, if it was a
    /// member there.
    fn role_in_view(&self, g: &Graph<'_>, device: &DeviceId, at: usize) -> Option<Role> {
        if self.removed_in_view(g, device, at) {
            return None;
        }
        self.grants
            .get(device)?
            .iter()
            .filter(|(i, _)| g.saw(at, *i))
            .map(|(_, role)| *role)
            .max_by_key(|r| r.rank())
    }

    fn removed_in_view(&self, g: &Graph<'_>, device: &DeviceId, at: usize) -> bool {
        self.removals
            .get(device)
            .is_some_and(|rs| rs.iter().any(|&i| g.saw(at, i)))
    }

    /// The devices the standing of record `at`'s signer rests on: the signer, whoever
    /// granted it (among the records `at` had seen), whoever granted them, and so on.
    fn standing_chain(&self, g: &Graph<'_>, at: usize) -> BTreeSet<DeviceId> {
        let mut chain = BTreeSet::new();
        let mut todo = vec![g.records[at].body().issuer];
        while let Some(d) = todo.pop() {
            if !chain.insert(d) {
                continue;
            }
            for (i, _) in self.grants.get(&d).into_iter().flatten() {
                if g.saw(at, *i) {
                    todo.push(g.records[*i].body().issuer);
                }
            }
        }
        chain
    }

    fn valid_removals(&self, g: &Graph<'_>) -> Vec<usize> {
        g.removals
            .iter()
            .copied()
            .filter(|&i| self.valid.get(i))
            .collect()
    }
}

/// The records the removals in `effective` void: every record by a device a removal
/// removes that the removal did not see — but a removal in `mutual` voids no other
/// removal in `mutual` (they stand together).
fn voided(g: &Graph<'_>, effective: &[usize], mutual: &BTreeSet<usize>) -> Bits {
    let mut void = Bits::new(g.records.len());
    for &removal in effective {
        for r in g.removed_by(removal) {
            for &i in g.by_issuer.get(&r.subject).into_iter().flatten() {
                if i == removal || g.saw(removal, i) {
                    continue;
                }
                if mutual.contains(&i) && mutual.contains(&removal) {
                    continue;
                }
                void.set(i);
            }
        }
    }
    void
}

/// How a removal fares against the others (rules 3 and 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Undecided,
    Stands,
    Falls,
}

impl AccessState {
    /// Evaluates the records for `doc` (records for other docs, and records whose
    /// ancestry is incomplete or malformed, take no part).
    pub fn evaluate<'a>(doc: DocId, records: impl IntoIterator<Item = &'a AclRecord>) -> Self {
        let records: BTreeMap<AclId, &AclRecord> = records
            .into_iter()
            .filter(|r| r.body().doc == doc)
            .map(|r| (r.id(), r))
            .collect();
        let mut state = AccessState {
            doc,
            evaluated: records.keys().copied().collect(),
            valid: BTreeSet::new(),
            removals: BTreeSet::new(),
            heads: Vec::new(),
            head_epoch: 0,
            members: BTreeMap::new(),
            openings: BTreeMap::new(),
        };
        let Some(g) = Graph::build(doc, &records) else {
            return state;
        };
        let (pass, in_cycle, candidates) = settle(&g);
        state.removals = candidates.iter().map(|&i| g.records[i].id()).collect();
        state.fill(&g, &pass, &in_cycle);
        state
    }

    fn fill(&mut self, g: &Graph<'_>, pass: &Pass, in_cycle: &BTreeSet<usize>) {
        let n = g.records.len();
        let mut has_child = Bits::new(n);
        for bits in &g.past {
            has_child.or(bits);
        }
        for (i, r) in g.records.iter().enumerate() {
            let b = r.body();
            if !has_child.get(i) {
                self.heads.push(r.id());
                self.head_epoch = self.head_epoch.max(b.epoch);
            }
            if !pass.valid.get(i) {
                continue;
            }
            self.valid.insert(r.id());
            let (subject, role, recipient) = match &b.action {
                Action::Genesis { recipient, .. } => (b.issuer, Role::Owner, recipient),
                Action::Grant {
                    subject,
                    role,
                    recipient,
                } => (*subject, *role, recipient),
                // Removals are noted once every grant is: a removal can come before a
                // concurrent grant of the same device in this order, and still wins.
                Action::Remove { .. } | Action::Rotate { .. } => {
                    self.open(r.id(), b.issuer, b.epoch, &b.action);
                    continue;
                }
                // Like removals, noted once every grant is.
                Action::Until { .. } => continue,
            };
            if matches!(b.action, Action::Genesis { .. }) {
                self.open(r.id(), b.issuer, 0, &b.action);
            }
            let entry = self.members.entry(subject).or_insert_with(|| Standing {
                device: subject,
                role,
                recipient: recipient.clone(),
                granted_by: b.issuer,
                granted_in: b.epoch,
                removed: None,
                until_ms: None,
            });
            if role.rank() > entry.role.rank() {
                entry.role = role;
                entry.recipient = recipient.clone();
            }
        }
        for (i, r) in g.records.iter().enumerate() {
            if !pass.valid.get(i) {
                continue;
            }
            match &r.body().action {
                Action::Remove { removed, .. } => {
                    for removal in removed {
                        self.note_removal(i, r.body().issuer, r.body().epoch, removal, in_cycle);
                    }
                }
                Action::Until { subject, until_ms } => {
                    if let Some(m) = self.members.get_mut(subject) {
                        m.until_ms = Some(m.until_ms.map_or(*until_ms, |u| u.min(*until_ms)));
                    }
                }
                _ => {}
            }
        }
        self.heads.sort();
    }

    fn note_removal(
        &mut self,
        at: usize,
        by: DeviceId,
        epoch: u32,
        removal: &super::record::Removal,
        in_cycle: &BTreeSet<usize>,
    ) {
        // A removal of a device that was never granted leaves nothing to show.
        let Some(member) = self.members.get_mut(&removal.subject) else {
            return;
        };
        let removed = member.removed.get_or_insert(Removed {
            epoch,
            by: Vec::new(),
            marks: Vec::new(),
            mutual: false,
        });
        removed.epoch = removed.epoch.min(epoch);
        removed.by.push(by);
        removed.marks.push(removal.mark);
        removed.mutual |= in_cycle.contains(&at);
    }

    fn open(&mut self, record: AclId, issuer: DeviceId, epoch: u32, action: &Action) {
        let Some((key, readers)) = action.opens() else {
            return;
        };
        let readers = if readers.is_empty() && epoch == 0 {
            BTreeSet::from([issuer])
        } else {
            readers.iter().copied().collect()
        };
        self.openings.entry(epoch).or_default().push(Opening {
            record,
            epoch,
            issuer,
            key: *key,
            readers,
        });
    }

    /// The document.
    pub fn doc(&self) -> DocId {
        self.doc
    }

    /// The device that created the document: the issuer of the genesis that opened
    /// its first epoch.
    pub fn creator(&self) -> Option<DeviceId> {
        self.openings.get(&0)?.first().map(|o| o.issuer)
    }

    /// Whether a genesis roots the log.
    pub fn has_genesis(&self) -> bool {
        !self.openings.is_empty()
    }

    /// Whether a record with this id was among those evaluated.
    pub fn contains(&self, id: &AclId) -> bool {
        self.evaluated.contains(id)
    }

    /// Whether the record took effect.
    pub fn is_valid(&self, id: &AclId) -> bool {
        self.valid.contains(id)
    }

    /// Whether the record is a removal its signer could make among the records it had
    /// seen (it may still fall to another removal): such records are kept and passed on
    /// even when void, so every replica weighs the same conflicts.
    pub fn is_signed_removal(&self, id: &AclId) -> bool {
        self.removals.contains(id)
    }

    /// How many records took effect.
    pub fn applied(&self) -> usize {
        self.valid.len()
    }

    /// The records a new record names as seen: every record no other names.
    pub fn heads(&self) -> &[AclId] {
        &self.heads
    }

    /// The epoch a new record that opens no epoch carries (its parents' highest).
    pub fn head_epoch(&self) -> u32 {
        self.head_epoch
    }

    /// A device's standing.
    pub fn member(&self, device: &DeviceId) -> Option<&Standing> {
        self.members.get(device)
    }

    /// Every device ever granted, in id order.
    pub fn members(&self) -> impl Iterator<Item = &Standing> {
        self.members.values()
    }

    /// Whether the device is a current owner.
    pub fn is_owner(&self, device: &DeviceId) -> bool {
        self.current(device).is_some_and(|m| m.role == Role::Owner)
    }

    /// Whether the device may grant devices now (an owner, or a backup's key).
    pub fn may_grant(&self, device: &DeviceId) -> bool {
        self.current(device)
            .is_some_and(|m| matches!(m.role, Role::Owner | Role::Recovery))
    }

    fn current(&self, device: &DeviceId) -> Option<&Standing> {
        self.member(device).filter(|m| m.is_current())
    }

    /// Whether the device may receive this doc's items now.
    pub fn may_hold(&self, device: &DeviceId) -> bool {
        self.current(device).is_some_and(|m| m.role.holds())
    }

    /// [`AccessState::may_hold`], and its access has not run out by `now_ms` (what a
    /// hub, which cannot wait for a member's device to remove it, goes by).
    pub fn may_hold_at(&self, device: &DeviceId, now_ms: u64) -> bool {
        self.current(device)
            .is_some_and(|m| m.role.holds() && !m.ran_out(now_ms))
    }

    /// Whether (and how far) the device's bundles are accepted.
    pub fn write_right(&self, device: &DeviceId) -> WriteRight<'_> {
        match self.member(device) {
            Some(m) if m.role.writes() => match &m.removed {
                None => WriteRight::Yes,
                Some(r) => WriteRight::WithinMarks(&r.marks),
            },
            _ => WriteRight::No,
        }
    }

    /// Whether the device may hold the key of `epoch`: it reads, and was not removed
    /// at or before that epoch.
    pub fn may_receive_key(&self, device: &DeviceId, epoch: u32) -> bool {
        self.member(device)
            .is_some_and(|m| m.role.reads() && m.removed.as_ref().is_none_or(|r| epoch < r.epoch))
    }

    /// Whether the device may seal the key of `epoch` to others: an owner that was not
    /// removed at or before that epoch.
    pub fn may_seal_key(&self, device: &DeviceId, epoch: u32) -> bool {
        self.member(device).is_some_and(|m| {
            m.role == Role::Owner && m.removed.as_ref().is_none_or(|r| epoch < r.epoch)
        })
    }

    /// The newest epoch that has a key.
    pub fn key_epoch(&self) -> u32 {
        self.openings.keys().next_back().copied().unwrap_or(0)
    }

    /// The records that opened `epoch`, the one whose key new writes use first.
    pub fn openings(&self, epoch: u32) -> &[Opening] {
        self.openings.get(&epoch).map_or(&[], |o| o.as_slice())
    }

    /// Every epoch that has a key.
    pub fn epochs(&self) -> impl Iterator<Item = u32> + '_ {
        self.openings.keys().copied()
    }

    /// The opening whose key new writes use: the newest epoch's, smallest id first.
    pub fn write_opening(&self) -> Option<&Opening> {
        self.openings
            .values()
            .next_back()
            .and_then(|o| o.iter().min_by_key(|o| o.record))
    }

    /// Whether the newest key reached a device that is now removed: an owner should
    /// open a new epoch.
    pub fn rekey_needed(&self) -> bool {
        self.write_opening().is_some_and(|o| {
            o.readers
                .iter()
                .any(|d| self.member(d).is_none_or(|m| !m.is_current()))
        })
    }

    /// Every key each current reading member should hold: (device, epoch, key) for
    /// every opening of every epoch it may read. A member added while another device
    /// was being removed (the opening did not see its grant), or whose granter knew
    /// only one of two concurrent openings, lacks some; an owner holding them seals
    /// them on.
    pub fn expected_keys(&self) -> Vec<(DeviceId, u32, EpochKey)> {
        let mut out = Vec::new();
        for m in self
            .members
            .values()
            .filter(|m| m.is_current() && m.role.reads())
        {
            for (&epoch, openings) in &self.openings {
                out.extend(openings.iter().map(|o| (m.device, epoch, o.key)));
            }
        }
        out
    }

    /// The devices that should receive a new epoch's key: every current member that
    /// reads.
    pub fn readers(&self) -> BTreeSet<DeviceId> {
        self.members
            .values()
            .filter(|m| m.is_current() && m.role.reads())
            .map(|m| m.device)
            .collect()
    }
}

/// Decides which removals stand (rules 3 and 4) and returns the final pass and the
/// removals that stand in a cycle.
///
/// A removal *attacks* a concurrent one when, applied alone, it leaves the other
/// without effect: directly (it removes the other's signer) or through the signer's
/// standing (it voids the grant the signer's power came from). A removal stands when
/// every removal attacking it falls, and falls when one attacking it stands (the
/// grounded labelling); removals still undecided then attack one another in a cycle,
/// and all of them stand — every device they remove is removed.
fn settle(g: &Graph<'_>) -> (Pass, BTreeSet<usize>, Vec<usize>) {
    let none = BTreeSet::new();
    let optimistic = Pass::run(g, &Bits::new(g.records.len()), &none);
    let candidates = optimistic.valid_removals(g);
    let concurrent = |a: usize, b: usize| a != b && !g.saw(a, b) && !g.saw(b, a);
    // For each device, the removals whose standing rests on it: their signer and the
    // granters before it. Only a removal of such a device can undo them.
    let mut resting_on: HashMap<DeviceId, Vec<usize>> = HashMap::new();
    for &o in &candidates {
        for d in optimistic.standing_chain(g, o) {
            resting_on.entry(d).or_default().push(o);
        }
    }
    let mut attackers: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &r in &candidates {
        let mut targets: Vec<usize> = g
            .removed_by(r)
            .iter()
            .flat_map(|x| resting_on.get(&x.subject).into_iter().flatten())
            .copied()
            .filter(|&o| concurrent(r, o))
            .collect();
        targets.sort_unstable();
        targets.dedup();
        if targets.is_empty() {
            continue;
        }
        let alone = Pass::run(g, &voided(g, &[r], &none), &none);
        for o in targets {
            if !alone.valid.get(o) {
                attackers.entry(o).or_default().push(r);
            }
        }
    }
    let mut label: BTreeMap<usize, Label> =
        candidates.iter().map(|&r| (r, Label::Undecided)).collect();
    loop {
        let mut changed = false;
        for &r in &candidates {
            if label[&r] != Label::Undecided {
                continue;
            }
            let against = attackers.get(&r).map_or(&[][..], |a| a.as_slice());
            let next = if against.iter().any(|a| label[a] == Label::Stands) {
                Label::Falls
            } else if against.iter().all(|a| label[a] == Label::Falls) {
                Label::Stands
            } else {
                continue;
            };
            label.insert(r, next);
            changed = true;
        }
        if !changed {
            break;
        }
    }
    let mutual: BTreeSet<usize> = label
        .iter()
        .filter(|(_, l)| **l == Label::Undecided)
        .map(|(r, _)| *r)
        .collect();
    let standing: Vec<usize> = label
        .iter()
        .filter(|(_, l)| **l != Label::Falls)
        .map(|(r, _)| *r)
        .collect();
    let pass = Pass::run(g, &voided(g, &standing, &mutual), &mutual);
    (pass, mutual, candidates)
}
