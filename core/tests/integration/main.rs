//! hearth-core's integration tests: tampering through the vault, convergence of two
//! devices editing offline, encrypted backups, and change events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access_property;
mod attacks;
mod backup;
mod converge;
mod events;
mod tamper;

use hearth_core::access::Role;
use hearth_core::identity::{DeviceKeys, KeyStore, MemoryKeyStore};
use hearth_core::model::NewCheckIn;
use hearth_core::vault::{IngestReport, Location, SyncItem, Vault};

/// A member's first device, in memory.
pub fn new_vault() -> (Vault, MemoryKeyStore) {
    let ks = MemoryKeyStore::new();
    let vault = Vault::create(Location::Memory, &ks, Some("Sam")).expect("create vault");
    (vault, ks)
}

/// A second device that `owner` adds with `role`, joined from what `owner` holds.
pub fn join(owner: &Vault, role: Role) -> (Vault, MemoryKeyStore) {
    let ks = MemoryKeyStore::new();
    let public = Vault::prepare_device(&ks).expect("prepare device");
    owner.authorize_device(&public, role).expect("authorize");
    let vault = Vault::join(
        Location::Memory,
        &ks,
        owner.journal_id().expect("journal id"),
        owner.sync_items().expect("sync items"),
    )
    .expect("join");
    (vault, ks)
}

/// The device keys a key store holds (what a test needs to forge as that device).
pub fn keys_of(ks: &MemoryKeyStore) -> DeviceKeys {
    DeviceKeys::derive(&ks.load().expect("load").expect("seed")).expect("derive")
}

/// A plain check-in.
pub fn checkin(mood: u8, note: &str) -> NewCheckIn {
    NewCheckIn {
        mood,
        note: note.into(),
        ..Default::default()
    }
}

/// The bundles in `after` that are not in `before`.
pub fn new_bundles(before: &[SyncItem], after: &[SyncItem]) -> Vec<Vec<u8>> {
    after
        .iter()
        .filter(|item| !before.contains(item))
        .filter_map(|item| match item {
            SyncItem::Bundle(b) => Some(b.clone()),
            _ => None,
        })
        .collect()
}

/// Adds a check-in on `vault` and returns the one bundle that edit wrote.
pub fn bundle_for_new_checkin(vault: &Vault, new: &NewCheckIn) -> Vec<u8> {
    let before = vault.sync_items().unwrap();
    vault.add_checkin(new).unwrap();
    let mut fresh = new_bundles(&before, &vault.sync_items().unwrap());
    assert_eq!(fresh.len(), 1, "one edit writes one bundle");
    fresh.pop().unwrap()
}

/// Asserts a report took nothing in and gave a reason mentioning `why`.
pub fn assert_rejected(report: &IngestReport, why: &str, what: &str) {
    assert_eq!(report.accepted, 0, "{what}: accepted ({report:?})");
    assert!(
        !report.rejected.is_empty(),
        "{what}: not rejected ({report:?})"
    );
    assert!(
        report.rejected.iter().all(|r| r.contains(why)),
        "{what}: expected a rejection mentioning {why:?}, got {report:?}"
    );
}
