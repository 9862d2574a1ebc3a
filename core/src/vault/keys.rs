//! The epoch keys one device holds for its journal: per epoch, every key it was sent
//! that matches a record opening that epoch (usually one; two after concurrent
//! removals opened the same epoch). It decides which key a new bundle is sealed with
//! and tries the right ones on a bundle; it does not decide who gets a key.

use std::collections::BTreeMap;

use crate::access::{AccessState, EpochKey};
use crate::bundle::{Bundle, BundleError};
use crate::envelope::DocKey;

/// The keys held, by epoch.
#[derive(Debug, Default, Clone)]
pub(super) struct EpochKeys(BTreeMap<u32, Vec<DocKey>>);

impl EpochKeys {
    /// Adds a key; false when it was already held.
    pub(super) fn insert(&mut self, epoch: u32, key: DocKey) -> bool {
        let keys = self.0.entry(epoch).or_default();
        if keys.iter().any(|k| k.commitment() == key.commitment()) {
            return false;
        }
        keys.push(key);
        true
    }

    /// Whether no key is held.
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether some key of `epoch` is held.
    pub(super) fn has_epoch(&self, epoch: u32) -> bool {
        self.0.get(&epoch).is_some_and(|k| !k.is_empty())
    }

    /// Every key held, with its epoch.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, &DocKey)> {
        self.0
            .iter()
            .flat_map(|(epoch, keys)| keys.iter().map(move |k| (*epoch, k)))
    }

    /// The key new bundles are sealed with: the one the newest epoch's first opening
    /// committed to (every device writes under the same key; another opening's key of
    /// that epoch may have reached a removed device).
    pub(super) fn for_write(&self, state: &AccessState) -> Option<(u32, &DocKey)> {
        let opening = state.write_opening()?;
        self.get(opening.epoch, &opening.key)
            .map(|k| (opening.epoch, k))
    }

    /// The key of `epoch` with this commitment, if held.
    pub(super) fn get(&self, epoch: u32, commitment: &EpochKey) -> Option<&DocKey> {
        self.0
            .get(&epoch)?
            .iter()
            .find(|k| k.commitment() == *commitment)
    }

    /// Decrypts a bundle with the keys of its epoch; `None` when none is held.
    pub(super) fn decrypt(&self, bundle: &Bundle) -> Option<Result<Vec<u8>, BundleError>> {
        let keys = self.0.get(&bundle.header().epoch)?;
        let mut last = None;
        for key in keys {
            match bundle.decrypt(key) {
                Ok(plain) => return Some(Ok(plain)),
                Err(e) => last = Some(e),
            }
        }
        last.map(Err)
    }
}
