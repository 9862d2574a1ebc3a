//! What a device can tell is missing from what it was given: a gap in an author's
//! chain of bundles (each names the one before it), which a hub that withholds entries
//! leaves behind. It owns the finding and its wording for the member; the chains
//! themselves are the journal's.

use std::collections::{BTreeMap, BTreeSet};

use crate::ids::{BundleId, DeviceId};

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
