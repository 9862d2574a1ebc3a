//! What a device can tell is missing from what it was given, and what a hub once held
//! and no longer offers:
//!
//! * a gap in an author's chain of bundles (each names the one before it), which a hub
//!   that withholds entries leaves behind;
//! * a hub that answers with an older state: after every reconciliation with a hub the
//!   device remembers what the hub then held (how many access records, and each
//!   author's newest bundle), and the next time it meets the hub it checks that the hub
//!   still lists them (or a snapshot this device applied replaced them). Access records
//!   are never deleted, so fewer of them means a rollback or a withheld removal;
//! * a hub that gives one of a member's devices less than another had stored there:
//!   when two of the member's devices meet directly, each tells the other what every
//!   hub held at its last reconciliation and when ([`Witness`]). A device whose own
//!   reconciliation with that hub came later (by more than [`CLOCK_MARGIN_MS`]) and
//!   held fewer access records, or older entries of an author, was withheld them:
//!   the only way to see a hub hide the newest entries, or a removal, from a device
//!   that never saw them (no later entry of theirs shows a gap).
//!
//! It owns the findings, what is remembered per hub, and their wording for the member;
//! the chains themselves are the journal's, the bytes the store's.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::access::Mark;
use crate::ids::{BundleId, DeviceId};
use crate::item::ItemId;
use crate::sync::message::{MAX_WITNESS_AUTHORS, Witness};

/// How much later one device's reconciliation with a hub must be than another's for
/// the two to be compared: the member's devices keep network time, within a second
/// or so of each other. A clock off by more can at worst add or miss a warning; it
/// never changes data or access.
pub const CLOCK_MARGIN_MS: u64 = 3_000;

/// Entries of one author this device knows exist and does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// Whose entries.
    pub author: DeviceId,
    /// How many are missing, at least.
    pub missing: u64,
    /// The author's newest entry this device holds (its sequence number).
    pub newest_held: u64,
}

impl Gap {
    /// The finding in plain words, as `hearth sync` and the apps show it.
    pub fn describe(&self, me: &DeviceId) -> String {
        let whose = if self.author == *me {
            "this device".to_string()
        } else {
            format!("your device {}", self.author.short())
        };
        let entries = if self.missing == 1 {
            "entry"
        } else {
            "entries"
        };
        format!(
            "the hub may be withholding {} {entries} from {whose} (its newest entry here is number {})",
            self.missing, self.newest_held
        )
    }
}

/// What a hub held when this device last reconciled with it (kept in the store).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HubHeld {
    /// How many access records it held.
    pub(crate) acl_len: u32,
    /// Each author's newest bundle it held.
    pub(crate) frontier: BTreeMap<DeviceId, Mark>,
    /// When that reconciliation ended, by this device's clock (ms).
    pub(crate) at_ms: u64,
}

impl HubHeld {
    /// What to tell the member's other devices of `hub` (at most
    /// [`MAX_WITNESS_AUTHORS`] authors: the newest entries first).
    pub(crate) fn witness(&self, hub: DeviceId) -> Witness {
        let mut frontier: Vec<(DeviceId, Mark)> =
            self.frontier.iter().map(|(a, m)| (*a, *m)).collect();
        frontier.sort_by_key(|(_, m)| std::cmp::Reverse(m.seq));
        frontier.truncate(MAX_WITNESS_AUTHORS);
        Witness {
            hub,
            at_ms: self.at_ms,
            acl_len: self.acl_len,
            frontier,
        }
    }

    /// Whether `other` says the same of the hub, whenever it was taken.
    pub(crate) fn same_view(&self, other: &HubHeld) -> bool {
        self.acl_len == other.acl_len && self.frontier == other.frontier
    }

    /// What another device says a hub held.
    pub(crate) fn from_witness(w: &Witness) -> HubHeld {
        HubHeld {
            acl_len: w.acl_len,
            frontier: w.frontier.iter().copied().collect(),
            at_ms: w.at_ms,
        }
    }

    /// Compares what the hub gave this device (`self`) with what another of the
    /// member's devices (`device`) saw it hold (`theirs`) earlier: what it held then
    /// and did not give this device at a later reconciliation was withheld. Authors
    /// `counted` refuses (removed ones, whose late entries are void) and entries a
    /// snapshot applied here `replaced` are not counted.
    pub(crate) fn behind(
        &self,
        device: DeviceId,
        theirs: &HubHeld,
        counted: impl Fn(&DeviceId) -> bool,
        replaced: impl Fn(&BundleId) -> bool,
    ) -> Option<Rollback> {
        if self.at_ms <= theirs.at_ms.saturating_add(CLOCK_MARGIN_MS) {
            return None; // this device's view is not the later one
        }
        let access_records = theirs.acl_len.saturating_sub(self.acl_len);
        let entries: u64 = theirs
            .frontier
            .iter()
            .filter(|(author, m)| counted(author) && !replaced(&m.bundle))
            .map(|(author, m)| {
                let mine = self.frontier.get(author).map_or(0, |x| x.seq);
                m.seq.saturating_sub(mine)
            })
            .sum();
        (access_records > 0 || entries > 0).then_some(Rollback::BehindDevice {
            device,
            access_records,
            entries,
        })
    }
}

/// Something a hub once held and no longer offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rollback {
    /// The hub lists fewer access records than it held: a removal or a grant may be
    /// withheld from this member's devices.
    AccessRecords {
        /// How many it held.
        before: u32,
        /// How many it lists now.
        now: u32,
    },
    /// The hub no longer lists an author's newest entry it held.
    Entries {
        /// Whose.
        author: DeviceId,
    },
    /// At a later reconciliation, the hub gave this device fewer access records or
    /// older entries than another of the member's devices had seen it hold.
    BehindDevice {
        /// The device that had seen more.
        device: DeviceId,
        /// Access records withheld.
        access_records: u32,
        /// Entries withheld, at least.
        entries: u64,
    },
}

impl Rollback {
    /// The finding in plain words.
    pub fn describe(&self, hub: &DeviceId, me: &DeviceId) -> String {
        match self {
            Rollback::AccessRecords { before, now } => format!(
                "the hub {} lists {now} access changes where it held {before}: it may be withholding a device removal or answering with an older copy",
                hub.short()
            ),
            Rollback::Entries { author } => {
                let whose = if author == me {
                    "this device".to_string()
                } else {
                    format!("your device {}", author.short())
                };
                format!(
                    "the hub {} no longer lists the newest entry it held from {whose}: it may have lost it or be answering with an older copy (this device sent what it has again)",
                    hub.short()
                )
            }
            Rollback::BehindDevice {
                device,
                access_records,
                entries,
            } => {
                let mut what = Vec::new();
                if *entries > 0 {
                    let noun = if *entries == 1 { "entry" } else { "entries" };
                    what.push(format!("{entries} {noun}"));
                }
                if *access_records > 0 {
                    let noun = if *access_records == 1 {
                        "access change (a device removal, perhaps)"
                    } else {
                        "access changes (a device removal, perhaps)"
                    };
                    what.push(format!("{access_records} {noun}"));
                }
                format!(
                    "the hub {} may be withholding {} from this device: your device {} had stored them there before this device's last sync with it (they came over directly just now)",
                    hub.short(),
                    what.join(" and "),
                    device.short()
                )
            }
        }
    }
}

/// What a device saw of each hub during the syncs in progress.
#[derive(Debug, Default)]
pub(crate) struct HubWatch {
    seen: Mutex<HashMap<DeviceId, Seen>>,
    /// When each hub's remembered view was last confirmed in this process (the store
    /// keeps the time it last changed: a write per reconciliation would cost every sync).
    confirmed: Mutex<HashMap<DeviceId, u64>>,
}

#[derive(Debug, Default)]
struct Seen {
    acl_len: u32,
    ids: Option<HashSet<BundleId>>,
}

impl HubWatch {
    /// The hub's summary of the journal: how many access records it lists now (0 when
    /// it does not list the journal at all).
    pub(crate) fn summary(&self, hub: DeviceId, acl_len: u32) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(hub, Seen { acl_len, ids: None });
        }
    }

    /// The ids the hub lists (when its copy differs from this device's).
    pub(crate) fn ids(&self, hub: DeviceId, ids: &[ItemId]) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.entry(hub).or_default().ids = Some(ids.iter().map(|i| BundleId(i.0)).collect());
        }
    }

    /// A stored view of `hub`, with the time it was last confirmed in this process.
    pub(crate) fn latest(&self, hub: DeviceId, mut held: HubHeld) -> HubHeld {
        if let Some(at) = self
            .confirmed
            .lock()
            .ok()
            .and_then(|c| c.get(&hub).copied())
        {
            held.at_ms = held.at_ms.max(at);
        }
        held
    }

    /// Ends a reconciliation with `hub`: what it held before that it no longer lists
    /// (`replaced`: bundles a snapshot this device applied replaced), and what to
    /// remember now (`now`: this device's own state, which the hub now holds too).
    pub(crate) fn reconciled(
        &self,
        hub: DeviceId,
        before: &HubHeld,
        now: HubHeld,
        replaced: impl Fn(&BundleId) -> bool,
    ) -> (Vec<Rollback>, HubHeld) {
        let seen = self
            .seen
            .lock()
            .ok()
            .and_then(|mut s| s.remove(&hub))
            .unwrap_or_default();
        let mut found = Vec::new();
        if seen.acl_len < before.acl_len {
            found.push(Rollback::AccessRecords {
                before: before.acl_len,
                now: seen.acl_len,
            });
        }
        // Equal summaries send no ids: the hub then holds exactly what this device does.
        if let Some(ids) = &seen.ids {
            for (author, mark) in &before.frontier {
                let id = &mark.bundle;
                if !ids.contains(id) && !replaced(id) {
                    found.push(Rollback::Entries { author: *author });
                }
            }
        }
        if let Ok(mut c) = self.confirmed.lock() {
            c.insert(hub, now.at_ms);
        }
        let remember = HubHeld {
            acl_len: now.acl_len.max(seen.acl_len),
            ..now
        };
        (found, remember)
    }
}

/// One bundle's place in its author's chain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Link {
    pub(crate) author: DeviceId,
    pub(crate) seq: u64,
    pub(crate) prev: Option<BundleId>,
}

/// The gaps among `held` bundles: a bundle whose back-link names one that is neither
/// held nor replaced by a snapshot held. Counted from the author's nearest earlier
/// bundle held (or as one, when a snapshot hides where the run began).
pub(crate) fn gaps<'a>(
    held: impl Iterator<Item = (&'a BundleId, &'a Link)> + Clone,
    is_known: impl Fn(&BundleId) -> bool,
) -> Vec<Gap> {
    let mut seqs: BTreeMap<DeviceId, BTreeSet<u64>> = BTreeMap::new();
    for (_, link) in held.clone() {
        seqs.entry(link.author).or_default().insert(link.seq);
    }
    let mut found: BTreeMap<DeviceId, Gap> = BTreeMap::new();
    for (_, link) in held {
        let Some(prev) = link.prev else { continue };
        if is_known(&prev) {
            continue;
        }
        let mine = &seqs[&link.author];
        let below = mine.range(..link.seq).next_back().copied();
        let missing = below.map_or(1, |b| link.seq - b - 1).max(1);
        let gap = found.entry(link.author).or_insert(Gap {
            author: link.author,
            missing: 0,
            newest_held: 0,
        });
        gap.missing += missing;
        gap.newest_held = mine.last().copied().unwrap_or(link.seq);
    }
    found.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(seq: u64, id: u8) -> Mark {
        Mark {
            seq,
            bundle: BundleId([id; 32]),
        }
    }

    #[test]
    fn a_device_given_less_at_a_later_reconciliation_than_another_saw_is_told_what() {
        let (a, b, c) = (DeviceId([1; 32]), DeviceId([2; 32]), DeviceId([3; 32]));
        // A saw the hub hold 6 access records and A's entries up to 9, at t = 10 s.
        let theirs = HubHeld {
            acl_len: 6,
            frontier: [(a, mark(9, 9)), (b, mark(4, 40))].into(),
            at_ms: 10_000,
        };
        // This device (B) reconciled with the hub later and got 5 records and A's
        // entries up to 6: the removal and A's newest three were withheld.
        let mut mine = HubHeld {
            acl_len: 5,
            frontier: [(a, mark(6, 6)), (b, mark(5, 50))].into(),
            at_ms: 10_000 + CLOCK_MARGIN_MS + 1,
        };
        let found = mine.behind(a, &theirs, |_| true, |_| false);
        assert_eq!(
            found,
            Some(Rollback::BehindDevice {
                device: a,
                access_records: 1,
                entries: 3
            })
        );
        let words = found.unwrap().describe(&c, &b);
        assert!(
            words.contains("may be withholding 3 entries and 1 access change"),
            "{words}"
        );
        // An author this device counts out (removed), or an entry a snapshot here
        // replaced, is no finding; nor is anything when this view is not the later
        // one (within the clock margin, or earlier).
        let only_records = mine.behind(a, &theirs, |x| *x != a, |_| false);
        assert!(matches!(
            only_records,
            Some(Rollback::BehindDevice { entries: 0, .. })
        ));
        assert!(
            mine.behind(a, &theirs, |_| true, |id| *id == BundleId([9; 32]))
                .is_some_and(|r| matches!(r, Rollback::BehindDevice { entries: 0, .. }))
        );
        mine.at_ms = 10_000 + CLOCK_MARGIN_MS;
        assert_eq!(mine.behind(a, &theirs, |_| true, |_| false), None);
        mine.at_ms = 5_000;
        assert_eq!(mine.behind(a, &theirs, |_| true, |_| false), None);
        // A witness round-trips, and an honest hub leaves nothing to say.
        let back = HubHeld::from_witness(&theirs.witness(c));
        assert_eq!(back, theirs);
        let caught_up = HubHeld {
            at_ms: 60_000,
            ..theirs.clone()
        };
        assert_eq!(caught_up.behind(a, &theirs, |_| true, |_| false), None);
    }

    #[test]
    fn a_hub_that_lists_less_than_it_held_is_caught_and_a_replaced_entry_is_not() {
        let hub = DeviceId([7; 32]);
        let (a, b) = (DeviceId([1; 32]), DeviceId([2; 32]));
        let before = HubHeld {
            acl_len: 5,
            frontier: [(a, mark(1, 1)), (b, mark(1, 2))].into(),
            at_ms: 0,
        };
        let watch = HubWatch::default();
        watch.summary(hub, 4);
        // The hub lists B's newest, not A's; A's was not replaced by a snapshot here.
        watch.ids(hub, &[ItemId([2; 32])]);
        let (found, remember) = watch.reconciled(hub, &before, before.clone(), |_| false);
        assert_eq!(
            found,
            vec![
                Rollback::AccessRecords { before: 5, now: 4 },
                Rollback::Entries { author: a }
            ]
        );
        assert_eq!(remember.acl_len, 5);
        // The same, with A's newest replaced by a snapshot this device applied, and the
        // records all there: nothing to report.
        watch.summary(hub, 5);
        watch.ids(hub, &[ItemId([2; 32])]);
        let (found, _) = watch.reconciled(hub, &before, before.clone(), |id| id.0[0] == 1);
        assert!(found.is_empty(), "{found:?}");
    }

    fn chain(author: u8, seqs: &[u64]) -> Vec<(BundleId, Link)> {
        seqs.iter()
            .map(|&s| {
                (
                    BundleId([s as u8; 32]),
                    Link {
                        author: DeviceId([author; 32]),
                        seq: s,
                        prev: (s > 1).then(|| BundleId([(s - 1) as u8; 32])),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn a_missing_run_in_a_chain_is_counted_and_a_whole_chain_is_no_gap() {
        let whole = chain(1, &[1, 2, 3]);
        let ids: BTreeSet<BundleId> = whole.iter().map(|(id, _)| *id).collect();
        assert!(gaps(whole.iter().map(|(a, b)| (a, b)), |p| ids.contains(p)).is_empty());

        let holed = chain(1, &[1, 2, 5, 6]);
        let ids: BTreeSet<BundleId> = holed.iter().map(|(id, _)| *id).collect();
        let found = gaps(holed.iter().map(|(a, b)| (a, b)), |p| ids.contains(p));
        assert_eq!(
            found,
            vec![Gap {
                author: DeviceId([1; 32]),
                missing: 2,
                newest_held: 6
            }]
        );
        assert!(
            found[0]
                .describe(&DeviceId([9; 32]))
                .contains("withholding 2 entries")
        );
    }

    #[test]
    fn what_a_snapshot_replaced_is_no_gap() {
        let after = chain(1, &[4, 5]);
        // Bundles 1..=3 were replaced by a snapshot this device holds.
        let known = |p: &BundleId| p.0[0] <= 5;
        assert!(gaps(after.iter().map(|(a, b)| (a, b)), known).is_empty());
    }
}
