//! The access rules under random histories: honest devices (three to five at a time)
//! add, remove, back up, restore, write and sync in part with one another, while an
//! adversary holding every key of every device ever removed (and every backup file)
//! signs records with any parents and epochs, envelopes for any epoch, and bundles with
//! any headers. Everything is delivered to three replicas in random orders, with
//! duplicates, in pieces. Then:
//!
//! 1. every replica (and every honest device still in) reaches the same access state;
//! 2. nothing the adversary signed after its key's removal takes effect — except the
//!    one documented rule: a removal it signs that closes a cycle of removals with the
//!    removal that took it out (it removes that removal's signer, or the device that
//!    granted it), not having seen that removal, stands with it (the sides of such a
//!    cycle are indistinguishable, see `access::eval`); such a record grants nothing,
//!    and the adversary stays out: removed with the cycle, or never in at all when the
//!    removal it answered removed its granter and so voided its grant;
//! 3. no key of an epoch opened at or after a device's removal reaches it, and no
//!    bundle it signed after its removal shows anywhere;
//! 4. every honest device still in holds the same key for the newest epoch.
//!
//! 1,000 cases; each prints nothing unless it fails, when proptest prints the case
//! (its `seed` drives every random choice after the history) and saves it under
//! `proptest-regressions/`.

use std::collections::{BTreeMap, BTreeSet};

use hearth_core::access::{AccessState, AclBody, AclRecord, Action, EpochKey, Removal, Role};
use hearth_core::bundle::{Bundle, BundleHeader, BundleKind, FORMAT_V1};
use hearth_core::envelope::{DocKey, Envelope};
use hearth_core::identity::{DeviceKeys, MemoryKeyStore};
use hearth_core::ids::{AclId, BundleId, DeviceId};
use hearth_core::vault::{DeviceState, Location, SyncItem, Vault};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

use crate::{checkin, keys_of};

const PASSPHRASE: &str = "correct horse battery";

/// What the cases did, printed once at the end (`--nocapture`): a property that held
/// only because nothing tried to break it would show here.
static SEEN: [std::sync::atomic::AtomicUsize; 5] =
    [const { std::sync::atomic::AtomicUsize::new(0) }; 5];
const STOLEN: usize = 0;
const SIGNED: usize = 1;
const SIGNED_AFTER_STANDING_REMOVAL: usize = 2;
const MUTUAL: usize = 3;
const ROTATED: usize = 4;

fn count(what: usize, n: usize) {
    SEEN[what].fetch_add(n, std::sync::atomic::Ordering::Relaxed);
}

#[derive(Debug, Clone)]
enum Op {
    /// A current owner adds a device.
    Add { by: u8, role: u8 },
    /// A current owner removes a device (its keys go to the adversary).
    Remove { by: u8, target: u8 },
    /// A current owner makes a backup (the file goes to the adversary too).
    Backup { by: u8 },
    /// A backup is restored on a new phone (honest: it becomes a device if it can).
    Restore { which: u8 },
    /// A device writes a check-in.
    Write { by: u8 },
    /// Two honest devices sync with each other.
    Sync { a: u8, b: u8 },
    /// The adversary acts.
    Attack,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (any::<u8>(), 0u8..3).prop_map(|(by, role)| Op::Add { by, role }),
        3 => (any::<u8>(), any::<u8>()).prop_map(|(by, target)| Op::Remove { by, target }),
        1 => any::<u8>().prop_map(|by| Op::Backup { by }),
        1 => any::<u8>().prop_map(|which| Op::Restore { which }),
        2 => any::<u8>().prop_map(|by| Op::Write { by }),
        3 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::Sync { a, b }),
        4 => Just(Op::Attack),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    ops: Vec<Op>,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (proptest::collection::vec(op(), 3..14), any::<u64>())
        .prop_map(|(ops, seed)| Case { ops, seed })
}

struct Dev {
    vault: Vault,
    keys: DeviceKeys,
    /// Acts honestly (false once an honest device has removed it: then the adversary
    /// holds its keys and its vault).
    honest: bool,
}

/// What the adversary holds and has signed.
#[derive(Default)]
struct Adversary {
    /// Every removed device (index into the devices): its keys and vault.
    stolen: Vec<usize>,
    /// Backup files (the passphrase is known).
    backups: Vec<Vec<u8>>,
    /// Records it signed after the removal of their signer, by id.
    records: BTreeMap<AclId, DeviceId>,
    /// Each removed identity, and the honest removal that removed it first.
    removed_by: BTreeMap<DeviceId, AclId>,
    /// Every backup key ever made.
    backup_keys: Vec<DeviceId>,
    /// Check-in notes it wrote after a removal, with the device it wrote them on.
    notes: BTreeMap<String, DeviceId>,
    /// Items it sends.
    items: Vec<SyncItem>,
}

fn all_items(devs: &[Dev], adv: &Adversary) -> Vec<SyncItem> {
    let mut items: Vec<SyncItem> = devs
        .iter()
        .flat_map(|d| d.vault.sync_items().unwrap())
        .collect();
    items.extend(adv.items.iter().cloned());
    items
}

fn records_in(items: &[SyncItem]) -> Vec<AclRecord> {
    let mut seen = BTreeSet::new();
    items
        .iter()
        .filter_map(|i| match i {
            SyncItem::Acl(b) => AclRecord::decode(b).ok(),
            _ => None,
        })
        .filter(|r| seen.insert(r.id()))
        .collect()
}

/// Hands `items` (once each) to `to`, shuffled, some twice, in one to three pieces.
fn deliver(to: &Vault, items: Vec<SyncItem>, rng: &mut StdRng) {
    let mut once = BTreeSet::new();
    let mut items: Vec<SyncItem> = items.into_iter().filter(|i| once.insert(i.id())).collect();
    let again: Vec<_> = items
        .iter()
        .filter(|_| rng.random_bool(0.3))
        .cloned()
        .collect();
    items.extend(again);
    items.shuffle(rng);
    let pieces = rng.random_range(1..=3usize);
    let size = items.len().div_ceil(pieces).max(1);
    for piece in items.chunks(size) {
        to.ingest(piece.to_vec()).unwrap();
    }
}

fn acl_ids(v: &Vault) -> BTreeSet<AclId> {
    records_in(&v.sync_items().unwrap())
        .iter()
        .map(AclRecord::id)
        .collect()
}

fn new_records(v: &Vault, before: &BTreeSet<AclId>) -> Vec<AclRecord> {
    records_in(&v.sync_items().unwrap())
        .into_iter()
        .filter(|r| !before.contains(&r.id()))
        .collect()
}

fn owners(devs: &[Dev]) -> Vec<usize> {
    (0..devs.len())
        .filter(|&i| devs[i].honest && devs[i].vault.devices().is_ok())
        .filter(|&i| {
            let me = devs[i].keys.id();
            devs[i]
                .vault
                .devices()
                .unwrap()
                .iter()
                .any(|d| d.id == me && d.role == Role::Owner && d.state == DeviceState::Active)
        })
        .collect()
}

fn honest(devs: &[Dev]) -> Vec<usize> {
    (0..devs.len()).filter(|&i| devs[i].honest).collect()
}

fn new_device(owner: &Vault, role: Role) -> Dev {
    let ks = MemoryKeyStore::new();
    let public = Vault::prepare_device(&ks).unwrap();
    owner.authorize_device(&public, role).unwrap();
    let vault = Vault::join(
        Location::Memory,
        &ks,
        owner.journal_id().unwrap(),
        owner.sync_items().unwrap(),
    )
    .unwrap();
    Dev {
        vault,
        keys: keys_of(&ks),
        honest: true,
    }
}

/// The adversary signs one thing of its choosing with a stolen key.
fn attack(devs: &[Dev], adv: &mut Adversary, rng: &mut StdRng) {
    let Some(&thief) = adv.stolen.choose(rng) else {
        return;
    };
    let (key, stolen_vault) = (&devs[thief].keys, &devs[thief].vault);
    let doc = devs[0].vault.journal_id().unwrap();
    let items = all_items(devs, adv);
    let records = records_in(&items);
    let epochs: BTreeMap<AclId, u32> = records.iter().map(|r| (r.id(), r.body().epoch)).collect();
    let how_many = rng.random_range(1..=3);
    let mut parents: Vec<AclId> = records
        .choose_multiple(rng, how_many)
        .map(|r| r.id())
        .collect();
    parents.sort();
    parents.dedup();
    let base = parents
        .iter()
        .filter_map(|p| epochs.get(p))
        .max()
        .copied()
        .unwrap_or(0);
    let epoch = |opens: bool, rng: &mut StdRng| match rng.random_range(0..5u8) {
        0 => base,
        1 => base + 2,
        2 => rng.random_range(0..8),
        _ => base + u32::from(opens),
    };
    let targets: Vec<&DeviceKeys> = devs.iter().map(|d| &d.keys).collect();
    let target = *targets.choose(rng).unwrap();
    let held_keys: Vec<(u32, DocKey)> = stolen_vault
        .sync_items()
        .unwrap()
        .iter()
        .filter_map(|i| match i {
            SyncItem::Envelope(e) => {
                let e = Envelope::decode(e).ok()?;
                (e.body().recipient == key.id())
                    .then(|| e.open(key).ok().map(|k| (e.body().epoch, k)))
                    .flatten()
            }
            _ => None,
        })
        .collect();
    let sign = |action: Action, epoch: u32| {
        AclRecord::sign(
            AclBody {
                doc,
                issuer: key.id(),
                parents: parents.clone(),
                epoch,
                action,
            },
            key,
        )
    };
    match rng.random_range(0..6u8) {
        0 => {
            let helper =
                DeviceKeys::derive(&hearth_core::identity::Seed::from_bytes(rng.random())).unwrap();
            if let Ok(r) = sign(
                Action::Grant {
                    subject: helper.id(),
                    recipient: helper.recipient().to_string(),
                    role: Role::Owner,
                },
                epoch(false, rng),
            ) {
                adv.records.insert(r.id(), key.id());
                adv.items.push(SyncItem::Acl(r.bytes().to_vec()));
            }
        }
        1 => {
            if target.id() == key.id() {
                return;
            }
            if let Ok(r) = sign(
                Action::Remove {
                    removed: vec![Removal {
                        subject: target.id(),
                        mark: None,
                    }],
                    key: EpochKey(rng.random()),
                    readers: vec![key.id()],
                },
                epoch(true, rng),
            ) {
                adv.records.insert(r.id(), key.id());
                adv.items.push(SyncItem::Acl(r.bytes().to_vec()));
            }
        }
        2 => {
            let chosen = DocKey::generate().unwrap();
            if let Ok(r) = sign(
                Action::Rotate {
                    key: chosen.commitment(),
                    readers: vec![key.id()],
                },
                epoch(true, rng),
            ) {
                adv.records.insert(r.id(), key.id());
                adv.items.push(SyncItem::Acl(r.bytes().to_vec()));
            }
        }
        3 => {
            // A key of its choosing (or one it held) for any epoch, to a member.
            let k = match held_keys.choose(rng) {
                Some((_, k)) if rng.random_bool(0.5) => k.clone(),
                _ => DocKey::generate().unwrap(),
            };
            let e = Envelope::seal(
                doc,
                epoch(false, rng),
                &k,
                target.id(),
                target.recipient(),
                key,
            )
            .unwrap();
            adv.items.push(SyncItem::Envelope(e.bytes().to_vec()));
        }
        4 => {
            // A check-in written on the stolen device, re-sealed with any header.
            let note = format!("ADV {}", rng.random::<u32>());
            let before: BTreeSet<_> = stolen_vault
                .sync_items()
                .unwrap()
                .iter()
                .map(SyncItem::id)
                .collect();
            if stolen_vault.add_checkin(&checkin(1, &note)).is_err() {
                return;
            }
            adv.notes.insert(note, key.id());
            let fresh: Vec<Bundle> = stolen_vault
                .sync_items()
                .unwrap()
                .into_iter()
                .filter(|i| !before.contains(&i.id()))
                .filter_map(|i| match i {
                    SyncItem::Bundle(b) => Bundle::decode(&b).ok(),
                    _ => None,
                })
                .collect();
            for b in fresh {
                adv.items.push(SyncItem::Bundle(b.bytes().to_vec()));
                let Some((ep, k)) = held_keys.choose(rng) else {
                    continue;
                };
                let plain = held_keys.iter().find_map(|(e, k)| {
                    (*e == b.header().epoch)
                        .then(|| b.decrypt(k).ok())
                        .flatten()
                });
                let Some(plain) = plain else { continue };
                let header = BundleHeader {
                    format: FORMAT_V1,
                    doc,
                    epoch: *ep,
                    author: key.id(),
                    seq: rng.random_range(1..6),
                    prev: Some(BundleId(rng.random())),
                    kind: BundleKind::Changes,
                    created_at_ms: 0,
                    supersedes: Vec::new(),
                };
                if let Ok(forged) = Bundle::seal(header, &plain, k, key) {
                    adv.items.push(SyncItem::Bundle(forged.bytes().to_vec()));
                }
            }
        }
        _ => {
            // A backup whose key a removal has retired, restored and its records sent.
            let retired: Vec<usize> = (0..adv.backups.len())
                .filter(|&i| {
                    adv.backup_keys
                        .get(i)
                        .is_some_and(|k| adv.removed_by.contains_key(k))
                })
                .collect();
            let Some(&which) = retired.choose(rng) else {
                return;
            };
            let file = adv.backups[which].clone();
            if let Ok(v) =
                Vault::restore_backup(Location::Memory, &MemoryKeyStore::new(), &file, PASSPHRASE)
            {
                let have: BTreeSet<AclId> = records.iter().map(|r| r.id()).collect();
                for r in records_in(&v.sync_items().unwrap()) {
                    if !have.contains(&r.id()) {
                        adv.records.insert(r.id(), r.body().issuer);
                        adv.items.push(SyncItem::Acl(r.bytes().to_vec()));
                    }
                }
            }
        }
    }
}

/// What two replicas must agree on.
fn summary(state: &AccessState) -> String {
    let members: Vec<String> = state
        .members()
        .map(|m| {
            format!(
                "{} {:?} {}",
                m.device.short(),
                m.role,
                m.removed.as_ref().map_or("in".into(), |r| format!(
                    "out@{}{}",
                    r.epoch,
                    if r.mutual { "m" } else { "" }
                ))
            )
        })
        .collect();
    format!(
        "{members:?} epoch {} writes {:?}",
        state.key_epoch(),
        state.write_opening().map(|o| o.record)
    )
}

fn state_of(v: &Vault) -> AccessState {
    AccessState::evaluate(
        v.journal_id().unwrap(),
        &records_in(&v.sync_items().unwrap()),
    )
}

fn run(case: &Case) -> Result<(), TestCaseError> {
    let mut rng = StdRng::seed_from_u64(case.seed);
    let creator_ks = MemoryKeyStore::new();
    let creator = Vault::create(Location::Memory, &creator_ks, Some("Sam")).unwrap();
    let mut devs = vec![Dev {
        vault: creator,
        keys: keys_of(&creator_ks),
        honest: true,
    }];
    devs.push(new_device(&devs[0].vault, Role::Owner));
    // The three replicas: readers added at the start that only ever receive.
    let replicas: Vec<Dev> = (0..3)
        .map(|_| new_device(&devs[0].vault, Role::Reader))
        .collect();
    devs[1]
        .vault
        .ingest(devs[0].vault.sync_items().unwrap())
        .unwrap();
    let mut adv = Adversary::default();

    for op in &case.ops {
        let live = honest(&devs);
        let owners = owners(&devs);
        match *op {
            Op::Add { by, role } if !owners.is_empty() && live.len() < 5 => {
                let by = owners[usize::from(by) % owners.len()];
                let role = [Role::Owner, Role::Writer, Role::Reader][usize::from(role)];
                let dev = new_device(&devs[by].vault, role);
                devs.push(dev);
            }
            Op::Remove { by, target } if !owners.is_empty() && live.len() > 1 => {
                let by = owners[usize::from(by) % owners.len()];
                let others: Vec<usize> = live.iter().copied().filter(|&i| i != by).collect();
                let t = others[usize::from(target) % others.len()];
                let before = acl_ids(&devs[by].vault);
                if devs[by].vault.remove_device(devs[t].keys.id()).is_ok() {
                    devs[t].honest = false;
                    for r in new_records(&devs[by].vault, &before) {
                        if let Action::Remove { removed, .. } = &r.body().action {
                            for w in removed {
                                adv.removed_by.entry(w.subject).or_insert(r.id());
                            }
                        }
                    }
                }
            }
            Op::Backup { by } if !owners.is_empty() => {
                let by = owners[usize::from(by) % owners.len()];
                let before = acl_ids(&devs[by].vault);
                adv.backups
                    .push(devs[by].vault.export_backup_costing(PASSPHRASE, 8).unwrap());
                // The backup's key: the grant the export just wrote.
                for r in new_records(&devs[by].vault, &before) {
                    if let Action::Grant { subject, .. } = r.body().action {
                        adv.backup_keys.push(subject);
                    }
                }
            }
            Op::Restore { which } if !adv.backups.is_empty() && live.len() < 5 => {
                let file = &adv.backups[usize::from(which) % adv.backups.len()];
                let ks = MemoryKeyStore::new();
                if let Ok(vault) = Vault::restore_backup(Location::Memory, &ks, file, PASSPHRASE) {
                    devs.push(Dev {
                        vault,
                        keys: keys_of(&ks),
                        honest: true,
                    });
                }
            }
            Op::Write { by } if !live.is_empty() => {
                let by = live[usize::from(by) % live.len()];
                let _ = devs[by].vault.add_checkin(&checkin(3, "honest"));
            }
            Op::Sync { a, b } if live.len() > 1 => {
                let (a, b) = (
                    live[usize::from(a) % live.len()],
                    live[usize::from(b) % live.len()],
                );
                let from_a = devs[a].vault.sync_items().unwrap();
                let from_b = devs[b].vault.sync_items().unwrap();
                devs[b].vault.ingest(from_a).unwrap();
                devs[a].vault.ingest(from_b).unwrap();
            }
            Op::Attack => attack(&devs, &mut adv, &mut rng),
            _ => {}
        }
        // Whatever an honest device removed is the adversary's from now on.
        for (i, d) in devs.iter().enumerate() {
            if !d.honest && !adv.stolen.contains(&i) {
                adv.stolen.push(i);
            }
        }
    }

    // Everything, to every replica and every honest device, in random orders; then
    // rounds of honest syncing until nothing changes (rotations after concurrent
    // removals happen on the way).
    let everything = all_items(&devs, &adv);
    for r in &replicas {
        deliver(&r.vault, everything.clone(), &mut rng);
    }
    for i in honest(&devs) {
        deliver(&devs[i].vault, everything.clone(), &mut rng);
    }
    for _ in 0..4 {
        let mut pool: Vec<SyncItem> = honest(&devs)
            .iter()
            .flat_map(|&i| devs[i].vault.sync_items().unwrap())
            .collect();
        pool.extend(replicas.iter().flat_map(|r| r.vault.sync_items().unwrap()));
        for r in &replicas {
            deliver(&r.vault, pool.clone(), &mut rng);
        }
        for i in honest(&devs) {
            deliver(&devs[i].vault, pool.clone(), &mut rng);
        }
    }

    // 1. One access state.
    let expected = summary(&state_of(&replicas[0].vault));
    for (n, r) in replicas.iter().enumerate() {
        if summary(&state_of(&r.vault)) != expected {
            let have = acl_ids(&r.vault);
            let missing: Vec<SyncItem> = records_in(&replicas[0].vault.sync_items().unwrap())
                .into_iter()
                .filter(|x| !have.contains(&x.id()))
                .map(|x| SyncItem::Acl(x.bytes().to_vec()))
                .collect();
            let report = r.vault.ingest(missing.clone()).unwrap();
            eprintln!(
                "replica {n} lacks {} records; given them: {report:?}",
                missing.len()
            );
            for x in &missing {
                if let SyncItem::Acl(b) = x {
                    eprintln!("  it refuses {:?}", AclRecord::decode(b).unwrap().body());
                }
            }
        }
        prop_assert_eq!(
            summary(&state_of(&r.vault)),
            expected.clone(),
            "replica {}",
            n
        );
    }
    let state = state_of(&replicas[0].vault);
    let still_in: Vec<usize> = honest(&devs)
        .into_iter()
        .filter(|&i| state.may_hold(&devs[i].keys.id()))
        .collect();
    for &i in &still_in {
        prop_assert_eq!(
            summary(&state_of(&devs[i].vault)),
            expected.clone(),
            "device {}",
            i
        );
    }

    count(STOLEN, adv.stolen.len());
    count(SIGNED, adv.records.len() + adv.notes.len());
    count(
        SIGNED_AFTER_STANDING_REMOVAL,
        adv.records
            .values()
            .filter(|s| adv.removed_by.get(s).is_some_and(|r| state.is_valid(r)))
            .count(),
    );
    count(
        MUTUAL,
        usize::from(
            state
                .members()
                .any(|m| m.removed.as_ref().is_some_and(|r| r.mutual)),
        ),
    );
    count(
        ROTATED,
        usize::from(state.openings(state.key_epoch()).iter().any(|o| {
            records_in(&replicas[0].vault.sync_items().unwrap())
                .iter()
                .any(|r| r.id() == o.record && matches!(r.body().action, Action::Rotate { .. }))
        })),
    );

    // 2. Nothing the adversary signed after a removal that stands takes effect, but
    //    for the rule. (A removal can itself be voided — its signer removed at the same
    //    time by another owner — and then the device it named was never out.)
    for (id, signer) in &adv.records {
        let removal_stands = adv
            .removed_by
            .get(signer)
            .is_some_and(|r| state.is_valid(r));
        if !state.is_valid(id) || !removal_stands {
            continue;
        }
        let record = records_in(&replicas[0].vault.sync_items().unwrap())
            .into_iter()
            .find(|r| r.id() == *id)
            .unwrap();
        // Its signer is out: removed with the cycle, or never in at all (the grant it
        // rested on fell to a removal of its granter that stands).
        let signer = state.member(signer);
        prop_assert!(
            signer.is_none_or(|s| s.removed.as_ref().is_some_and(|r| r.mutual)),
            "an adversary record took effect: {:?}",
            record.body()
        );
        match &record.body().action {
            Action::Remove { removed: who, .. } => {
                for w in who {
                    let m = state.member(&w.subject);
                    prop_assert!(
                        m.is_none_or(|m| m.removed.as_ref().is_some_and(|r| r.mutual)),
                        "an adversary removal took effect outside a cycle of removals"
                    );
                }
            }
            other => prop_assert!(false, "an adversary record took effect: {other:?}"),
        }
    }

    // 3. The key new writes use never reached a device whose removal stands (after
    //    concurrent removals an owner opens a new epoch; with no owner left, nothing
    //    is written at all), and nothing a removed device wrote afterwards shows.
    // (An honest owner still in: a device whose removal was itself voided is a member
    // again, but here the adversary holds it and renews nothing.)
    let owner_left = still_in.iter().any(|&i| state.is_owner(&devs[i].keys.id()));
    prop_assert!(
        !owner_left || !state.rekey_needed(),
        "no owner renewed the key: {}; still in: {:?}",
        expected,
        still_in
            .iter()
            .map(|&i| (
                devs[i].keys.id().short(),
                devs[i].vault.key_in_use().unwrap()
            ))
            .collect::<Vec<_>>()
    );
    if let Some(w) = state.write_opening() {
        for key in adv.stolen.iter().map(|&i| &devs[i].keys) {
            let stands = adv
                .removed_by
                .get(&key.id())
                .is_some_and(|r| state.is_valid(r));
            prop_assert!(
                !stands || !w.readers.contains(&key.id()) || state.rekey_needed(),
                "the key in use was sealed to a removed device"
            );
        }
    }
    if state.rekey_needed() {
        for &i in &still_in {
            prop_assert!(
                devs[i]
                    .vault
                    .add_checkin(&checkin(1, "under a key a thief holds"))
                    .is_err(),
                "a device wrote under a key a removed device holds"
            );
        }
    }
    for v in replicas
        .iter()
        .map(|r| &r.vault)
        .chain(still_in.iter().map(|&i| &devs[i].vault))
    {
        for c in v.checkins().unwrap() {
            let by_removed = adv.notes.get(&c.note).is_some_and(|author| {
                adv.removed_by
                    .get(author)
                    .is_some_and(|r| state.is_valid(r))
            });
            prop_assert!(
                !by_removed,
                "a check-in a removed device wrote afterwards shows"
            );
        }
    }

    // 4. The same newest key on every device still in (once no owner is left to
    //    renew a leaked key, there is nothing to agree on: nobody writes).
    let keys: Vec<_> = replicas
        .iter()
        .map(|r| {
            (
                "replica",
                r.keys.id().short(),
                r.vault.key_in_use().unwrap(),
            )
        })
        .chain(still_in.iter().map(|&i| {
            (
                "device",
                devs[i].keys.id().short(),
                devs[i].vault.key_in_use().unwrap(),
            )
        }))
        .collect();
    let distinct: BTreeSet<_> = keys.iter().map(|k| k.2).collect();
    prop_assert!(
        distinct.len() == 1 || state.rekey_needed(),
        "devices write under different keys: {:?}\n{}",
        keys,
        expected
    );
    Ok(())
}

#[test]
fn access_holds_against_a_thief_with_every_removed_key() {
    let config = ProptestConfig {
        cases: 1000,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        source_file: Some(file!()),
        ..ProptestConfig::default()
    };
    // The run's seed, printed first: `HEARTH_PROPTEST_SEED=<hex> cargo test ...` replays it.
    let seed: [u8; 32] = std::env::var("HEARTH_PROPTEST_SEED")
        .ok()
        .and_then(|hex| {
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect();
            bytes.try_into().ok()
        })
        .unwrap_or_else(rand::random);
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    eprintln!("access property: seed {hex}");
    let rng = proptest::test_runner::TestRng::from_seed(
        proptest::test_runner::RngAlgorithm::ChaCha,
        &seed,
    );
    let mut runner = proptest::test_runner::TestRunner::new_with_rng(config, rng);
    if let Err(e) = runner.run(&case(), |case| run(&case)) {
        panic!("{e}\n(seed {hex}: HEARTH_PROPTEST_SEED={hex} replays this run)");
    }
    let n = |i: usize| SEEN[i].load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "access property: {} devices stolen, {} records and check-ins signed by the \
         adversary ({} after a removal that stands), {} cases with a mutual removal, {} \
         ending on a rotation",
        n(STOLEN),
        n(SIGNED),
        n(SIGNED_AFTER_STANDING_REMOVAL),
        n(MUTUAL),
        n(ROTATED)
    );
}
