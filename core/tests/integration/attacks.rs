//! The attacks on the access log, one test each, made as an attacker would: with the
//! keys a thief takes from a removed device (or a past owner keeps), signing records,
//! envelopes and bundles with whatever parents, epochs and headers suit it, and
//! handing them to the member's devices. Each must change nothing the member relies on.

use hearth_core::access::{AccessState, AclBody, AclRecord, Action, EpochKey, Role};
use hearth_core::bundle::{Bundle, BundleHeader, BundleKind, FORMAT_V1};
use hearth_core::crypto::{self, Domain};
use hearth_core::envelope::{DocKey, Envelope, EnvelopeBody};
use hearth_core::identity::{DeviceKeys, MemoryKeyStore};
use hearth_core::ids::{AclId, DeviceId};
use hearth_core::vault::{BackupState, DeviceState, Location, SyncItem, Vault};

use crate::{checkin, join, keys_of, new_vault};

/// The access state a vault's items evaluate to (what any replica holding them sees).
fn state_of(v: &Vault) -> AccessState {
    let records: Vec<AclRecord> = v
        .sync_items()
        .unwrap()
        .iter()
        .filter_map(|i| match i {
            SyncItem::Acl(b) => Some(AclRecord::decode(b).unwrap()),
            _ => None,
        })
        .collect();
    AccessState::evaluate(v.journal_id().unwrap(), &records)
}

/// A record signed by `by` with exactly the parents and epoch the attacker chooses.
fn signed(by: &DeviceKeys, v: &Vault, parents: &[AclId], epoch: u32, action: Action) -> Vec<u8> {
    let mut parents = parents.to_vec();
    parents.sort();
    AclRecord::sign(
        AclBody {
            doc: v.journal_id().unwrap(),
            issuer: by.id(),
            parents,
            epoch,
            action,
        },
        by,
    )
    .unwrap()
    .bytes()
    .to_vec()
}

/// Frames and signs any body, however malformed (what modified code would send).
fn raw_signed<T: serde::Serialize>(
    magic: &[u8; 4],
    domain: Domain,
    body: &T,
    by: &DeviceKeys,
) -> Vec<u8> {
    let body = postcard::to_stdvec(body).unwrap();
    let sig = crypto::sign(by.endpoint_key(), domain, &body);
    let mut out = magic.to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&sig);
    out
}

fn grant(to: &DeviceKeys, role: Role) -> Action {
    Action::Grant {
        subject: to.id(),
        recipient: to.recipient().to_string(),
        role,
    }
}

/// A removal of `subject` with no mark, opening an epoch under `key` for `reader` alone
/// (what a thief signs with a removed key).
fn removal(subject: &DeviceKeys, key: EpochKey, reader: &DeviceKeys) -> Action {
    Action::Remove {
        removed: vec![hearth_core::access::Removal {
            subject: subject.id(),
            mark: None,
        }],
        key,
        readers: vec![reader.id()],
    }
}

fn stranger(n: u8) -> DeviceKeys {
    DeviceKeys::derive(&hearth_core::identity::Seed::from_bytes([n; 32])).unwrap()
}

fn state_of_device(v: &Vault, id: DeviceId) -> Option<DeviceState> {
    v.devices()
        .unwrap()
        .into_iter()
        .find(|d| d.id == id)
        .map(|d| d.state)
}

/// The newest bundle a vault wrote, decoded.
fn newest_bundle_by(v: &Vault, author: DeviceId) -> Bundle {
    v.sync_items()
        .unwrap()
        .iter()
        .filter_map(|i| match i {
            SyncItem::Bundle(b) => Bundle::decode(b).ok(),
            _ => None,
        })
        .filter(|b| b.header().author == author)
        .max_by_key(|b| b.header().seq)
        .unwrap()
}

#[test]
fn a_back_dated_record_by_a_removed_owner_changes_nothing() {
    let (a, ka) = new_vault();
    let (b, kb) = join(&a, Role::Owner);
    let (c, kc) = join(&a, Role::Owner);
    let (ak, bk, ck) = (keys_of(&ka), keys_of(&kb), keys_of(&kc));
    b.ingest(a.sync_items().unwrap()).unwrap();
    c.ingest(a.sync_items().unwrap()).unwrap();
    // What the thief's copy of B has seen: everything up to now.
    let seen = state_of(&b).heads().to_vec();
    let epoch = state_of(&b).head_epoch();
    a.remove_device(bk.id()).unwrap();
    c.ingest(a.sync_items().unwrap()).unwrap();

    // B, removed, signs records hung below what it had seen: it adds its own device X,
    // removes the member's other owner C, and removes A, the device that removed it.
    let x = stranger(40);
    let adds_x = signed(&bk, &b, &seen, epoch, grant(&x, Role::Owner));
    let removes_c = signed(
        &bk,
        &b,
        &seen,
        epoch + 1,
        removal(&ck, EpochKey([7; 32]), &bk),
    );
    for v in [&a, &c] {
        let report = v
            .ingest(vec![
                SyncItem::Acl(adds_x.clone()),
                SyncItem::Acl(removes_c.clone()),
            ])
            .unwrap();
        assert!(report.accepted <= 1, "{report:?}");
        assert!(
            report.rejected.iter().any(|r| r.contains("no authority")),
            "{report:?}"
        );
        assert_eq!(state_of_device(v, x.id()), None, "X was never added");
        assert_eq!(state_of_device(v, ck.id()), Some(DeviceState::Active));
        assert_eq!(state_of_device(v, ak.id()), Some(DeviceState::Active));
    }
    // The grant is stored nowhere, so forwarded nowhere; the removal is kept, void (a
    // conflict of removals is weighed alike on every replica that holds it).
    assert!(
        !a.sync_items()
            .unwrap()
            .contains(&SyncItem::Acl(adds_x.clone()))
    );
    let removes_c_id = AclRecord::decode(&removes_c).unwrap().id();
    assert!(!state_of(&a).is_valid(&removes_c_id));
    // The member keeps writing; C reads it, and nothing of it is sealed to B or X.
    a.add_checkin(&checkin(4, "after the removal")).unwrap();
    c.ingest(a.sync_items().unwrap()).unwrap();
    assert!(
        c.checkins()
            .unwrap()
            .iter()
            .any(|k| k.note == "after the removal")
    );
    let newest = newest_bundle_by(&a, ak.id());
    for thief in [&bk, &x] {
        let sealed_to_thief = a.sync_items().unwrap().iter().any(|i| match i {
            SyncItem::Envelope(e) => {
                let e = Envelope::decode(e).unwrap();
                e.body().recipient == thief.id() && e.body().epoch >= newest.header().epoch
            }
            _ => false,
        });
        assert!(
            !sealed_to_thief,
            "a key of the new epoch reached a removed device"
        );
    }
}

#[test]
fn a_second_genesis_for_a_journal_is_refused() {
    let (a, ka) = new_vault();
    let (c, _kc) = join(&a, Role::Owner);
    let ak = keys_of(&ka);
    let before = state_of(&c).applied();
    // The creator's key (from a stolen first phone) signs another genesis for the
    // same doc id: one that roots only its own records.
    let body = AclBody {
        doc: a.journal_id().unwrap(),
        issuer: ak.id(),
        parents: Vec::new(),
        epoch: 0,
        action: Action::Genesis {
            nonce: [0; 16],
            recipient: ak.recipient().to_string(),
            key: EpochKey([1; 32]),
        },
    };
    let forged = raw_signed(b"HAC2", Domain::ACL, &body, &ak);
    let report = c.ingest(vec![SyncItem::Acl(forged)]).unwrap();
    assert_eq!(report.accepted, 0, "{report:?}");
    assert!(report.rejected[0].contains("genesis"), "{report:?}");
    assert_eq!(state_of(&c).applied(), before);
    assert_eq!(c.devices().unwrap().len(), 2);
}

#[test]
fn an_envelope_planted_for_a_future_epoch_never_becomes_its_key() {
    let (a, _ka) = new_vault();
    let (b, kb) = join(&a, Role::Owner);
    let (c, kc) = join(&a, Role::Owner);
    let (bk, ck) = (keys_of(&kb), keys_of(&kc));
    b.ingest(a.sync_items().unwrap()).unwrap();
    c.ingest(a.sync_items().unwrap()).unwrap();
    // B, still an owner, plants a key of its choosing for epoch 1, before epoch 1 exists.
    let planted = DocKey::generate().unwrap();
    let doc = a.journal_id().unwrap();
    let envelope = Envelope::seal(doc, 1, &planted, ck.id(), ck.recipient(), &bk).unwrap();
    let report = c
        .ingest(vec![SyncItem::Envelope(envelope.bytes().to_vec())])
        .unwrap();
    assert_eq!(report.accepted, 0, "{report:?}");
    // Then the member removes B, opening epoch 1 with a key of its own.
    a.remove_device(bk.id()).unwrap();
    let mut items = a.sync_items().unwrap();
    items.push(SyncItem::Envelope(envelope.bytes().to_vec()));
    let report = c.ingest(items).unwrap();
    assert!(
        report.rejected.iter().any(|r| r.contains("envelope")),
        "{report:?}"
    );
    c.add_checkin(&checkin(2, "written by C under epoch 1"))
        .unwrap();
    let newest = newest_bundle_by(&c, ck.id());
    assert_eq!(newest.header().epoch, 1);
    assert!(
        newest.decrypt(&planted).is_err(),
        "C wrote under the key B planted"
    );
}

#[test]
fn a_different_key_for_the_current_epoch_is_refused_and_survives_no_restart() {
    let (a, _ka) = new_vault();
    let (b, kb) = join(&a, Role::Owner);
    let bk = keys_of(&kb);
    let dir = tempfile::tempdir().unwrap();
    let kc = MemoryKeyStore::new();
    a.authorize_device(&Vault::prepare_device(&kc).unwrap(), Role::Owner)
        .unwrap();
    let c = Vault::join(
        Location::Dir(dir.path().to_owned()),
        &kc,
        a.journal_id().unwrap(),
        a.sync_items().unwrap(),
    )
    .unwrap();
    let ck = keys_of(&kc);
    b.ingest(a.sync_items().unwrap()).unwrap();
    let doc = a.journal_id().unwrap();
    let secret = [42u8; 32];
    let chosen = DocKey::from_secret(secret).unwrap();
    // An envelope that says what it is (another key for epoch 0), and one that claims
    // the epoch's real key while sealing B's.
    let honest = Envelope::seal(doc, 0, &chosen, ck.id(), ck.recipient(), &bk).unwrap();
    let real = state_of(&a).openings(0)[0].key;
    let lying = EnvelopeBody {
        doc,
        epoch: 0,
        recipient: ck.id(),
        granter: bk.id(),
        key: real,
        sealed_key: crypto::encrypt(&[ck.recipient()], &secret).unwrap(),
    };
    let lying = raw_signed(b"HEN2", Domain::ENVELOPE, &lying, &bk);
    let report = c
        .ingest(vec![
            SyncItem::Envelope(honest.bytes().to_vec()),
            SyncItem::Envelope(lying),
        ])
        .unwrap();
    assert_eq!(report.accepted, 0, "{report:?}");
    assert_eq!(report.rejected.len(), 2, "{report:?}");
    drop(c);
    let c = Vault::open(Location::Dir(dir.path().to_owned()), &kc).unwrap();
    c.add_checkin(&checkin(3, "after a restart")).unwrap();
    let newest = newest_bundle_by(&c, ck.id());
    assert!(newest.decrypt(&chosen).is_err(), "C wrote under B's key");
}

#[test]
fn a_malformed_recipient_cannot_make_a_device_unremovable() {
    let (a, ka) = new_vault();
    let (_b, kb) = join(&a, Role::Owner);
    let (ak, bk) = (keys_of(&ka), keys_of(&kb));
    let state = state_of(&a);
    // A record naming a device with a recipient no one can seal to, signed by B while
    // it was an owner (or by modified code on A).
    let body = AclBody {
        doc: a.journal_id().unwrap(),
        issuer: bk.id(),
        parents: state.heads().to_vec(),
        epoch: state.head_epoch(),
        action: Action::Grant {
            subject: stranger(50).id(),
            recipient: "age1notarecipientatall".into(),
            role: Role::Owner,
        },
    };
    let report = a
        .ingest(vec![SyncItem::Acl(raw_signed(
            b"HAC2",
            Domain::ACL,
            &body,
            &bk,
        ))])
        .unwrap();
    assert_eq!(report.accepted, 0, "{report:?}");
    let removal = a.remove_device(bk.id()).unwrap();
    assert!(removal.skipped.is_empty());
    assert_eq!(state_of_device(&a, bk.id()), Some(DeviceState::Removed));
    assert_eq!(state_of_device(&a, ak.id()), Some(DeviceState::Active));
}

#[test]
fn a_removed_device_cannot_write_under_an_old_epoch_or_fork_its_chain() {
    let (a, _ka) = new_vault();
    let (b, kb) = join(&a, Role::Writer);
    let bk = keys_of(&kb);
    b.add_checkin(&checkin(2, "B before its removal")).unwrap();
    a.ingest(b.sync_items().unwrap()).unwrap();
    let last = newest_bundle_by(&b, bk.id());
    a.remove_device(bk.id()).unwrap();
    let epoch0 = b
        .sync_items()
        .unwrap()
        .iter()
        .find_map(|i| match i {
            SyncItem::Envelope(e) => {
                let e = Envelope::decode(e).unwrap();
                (e.body().recipient == bk.id() && e.body().epoch == 0).then(|| e.open(&bk).unwrap())
            }
            _ => None,
        })
        .unwrap();
    let header = |seq: u64, prev| BundleHeader {
        format: FORMAT_V1,
        doc: a.journal_id().unwrap(),
        epoch: 0,
        author: bk.id(),
        seq,
        prev,
        kind: BundleKind::Changes,
        created_at_ms: 0,
        supersedes: Vec::new(),
    };
    let change = last.decrypt(&epoch0).unwrap();
    // Past its mark, labelled with the old epoch whose key B holds.
    let next = Bundle::seal(
        header(last.header().seq + 1, Some(last.id())),
        &change,
        &epoch0,
        &bk,
    )
    .unwrap();
    // Within its mark's number, but not on the chain the removal named.
    let fork = Bundle::seal(
        header(last.header().seq, last.header().prev),
        b"forged",
        &epoch0,
        &bk,
    )
    .unwrap();
    let before = a.checkins().unwrap();
    for bundle in [next, fork] {
        let report = a
            .ingest(vec![SyncItem::Bundle(bundle.bytes().to_vec())])
            .unwrap();
        assert_eq!(report.accepted, 0, "{report:?}");
        assert!(report.rejected[0].contains("may not write"), "{report:?}");
    }
    assert_eq!(a.checkins().unwrap(), before);
}

#[test]
fn a_snapshot_that_fails_to_apply_supersedes_nothing() {
    let (a, ka) = new_vault();
    let (c, _kc) = join(&a, Role::Reader);
    let ak = keys_of(&ka);
    a.add_checkin(&checkin(3, "kept")).unwrap();
    c.ingest(a.sync_items().unwrap()).unwrap();
    let live: Vec<_> = c
        .sync_items()
        .unwrap()
        .iter()
        .filter_map(|i| match i {
            SyncItem::Bundle(b) => Some(Bundle::decode(b).unwrap().id()),
            _ => None,
        })
        .collect();
    // A validly signed snapshot, under the right key, whose plaintext is not a journal.
    let key = {
        let items = a.sync_items().unwrap();
        items
            .iter()
            .find_map(|i| match i {
                SyncItem::Envelope(e) => {
                    let e = Envelope::decode(e).unwrap();
                    (e.body().recipient == ak.id()).then(|| e.open(&ak).unwrap())
                }
                _ => None,
            })
            .unwrap()
    };
    let newest = newest_bundle_by(&a, ak.id());
    let snapshot = Bundle::seal(
        BundleHeader {
            seq: newest.header().seq + 1,
            prev: Some(newest.id()),
            kind: BundleKind::Snapshot,
            supersedes: live.clone(),
            ..newest.header().clone()
        },
        b"\x01\x00\x05\x00\x00\x00junk!",
        &key,
        &ak,
    )
    .unwrap();
    let report = c
        .ingest(vec![SyncItem::Bundle(snapshot.bytes().to_vec())])
        .unwrap();
    assert_eq!(report.accepted, 0, "{report:?}");
    assert!(c.checkins().unwrap().iter().any(|k| k.note == "kept"));
    for id in live {
        assert!(
            c.sync_items().unwrap().iter().any(|i| i.id().0 == id.0),
            "a bundle the failed snapshot named was deleted"
        );
    }
    // A new device whose first sync brings the bad snapshot with what it names: the
    // snapshot is tried first (it replaces the rest), fails, and the rest is taken in.
    let ke = MemoryKeyStore::new();
    a.authorize_device(&Vault::prepare_device(&ke).unwrap(), Role::Reader)
        .unwrap();
    let mut items: Vec<SyncItem> = a
        .sync_items()
        .unwrap()
        .into_iter()
        .filter(|i| !matches!(i, SyncItem::Bundle(_)))
        .collect();
    items.extend(
        c.sync_items()
            .unwrap()
            .into_iter()
            .filter(|i| matches!(i, SyncItem::Bundle(_))),
    );
    items.push(SyncItem::Bundle(snapshot.bytes().to_vec()));
    let e = Vault::join(Location::Memory, &ke, a.journal_id().unwrap(), items).unwrap();
    assert!(e.checkins().unwrap().iter().any(|k| k.note == "kept"));
}

#[test]
fn a_backup_made_before_a_removal_restores_what_it_held_and_gains_nothing_more() {
    let (a, ka) = new_vault();
    let ak = keys_of(&ka);
    a.add_checkin(&checkin(2, "before the backup")).unwrap();
    assert_eq!(a.backup_state().unwrap(), BackupState::Never);
    let old = a.export_backup("correct horse battery").unwrap();
    assert_eq!(a.backup_state().unwrap(), BackupState::Current);
    let backup_key = a
        .devices()
        .unwrap()
        .into_iter()
        .find(|d| d.role == Role::Recovery)
        .expect("the backup's key is listed");
    let (_b, kb) = join(&a, Role::Owner);
    let report = a.remove_device(keys_of(&kb).id()).unwrap();
    assert_eq!(report.backups_retired, 1);
    assert_eq!(a.backup_state().unwrap(), BackupState::Retired);
    assert_eq!(
        state_of_device(&a, backup_key.id),
        Some(DeviceState::Removed)
    );
    a.add_checkin(&checkin(3, "after the removal")).unwrap();

    // The old backup restores on a new phone, showing what it held...
    let kd = MemoryKeyStore::new();
    let d = Vault::restore_backup(Location::Memory, &kd, &old, "correct horse battery").unwrap();
    assert!(
        d.checkins()
            .unwrap()
            .iter()
            .any(|k| k.note == "before the backup")
    );
    // ...but the member's devices take nothing from it, and it can read nothing new.
    let report = a.ingest(d.sync_items().unwrap()).unwrap();
    assert_eq!(report.accepted, 0, "{report:?}");
    assert_eq!(state_of_device(&a, keys_of(&kd).id()), None);
    d.ingest(a.sync_items().unwrap()).unwrap();
    assert!(
        !d.checkins()
            .unwrap()
            .iter()
            .any(|k| k.note == "after the removal")
    );

    // A backup made after the latest removal restores everything, writes included.
    let new = a.export_backup("correct horse battery").unwrap();
    let ke = MemoryKeyStore::new();
    let e = Vault::restore_backup(Location::Memory, &ke, &new, "correct horse battery").unwrap();
    assert!(
        e.checkins()
            .unwrap()
            .iter()
            .any(|k| k.note == "after the removal")
    );
    e.add_checkin(&checkin(4, "on the restored phone")).unwrap();
    let report = a.ingest(e.sync_items().unwrap()).unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
    assert!(
        a.checkins()
            .unwrap()
            .iter()
            .any(|k| k.note == "on the restored phone")
    );
    assert_eq!(
        state_of_device(&a, keys_of(&ke).id()),
        Some(DeviceState::Active)
    );
    assert_eq!(state_of_device(&a, ak.id()), Some(DeviceState::Active));
}

#[test]
fn a_thief_answering_the_removal_of_its_granter_stands_with_it_and_stays_out() {
    // A and C are owners, R a reader. A adds P; P adds E. A removes P without having
    // seen P's grant of E; P removes E (lost), and the thief takes E's keys.
    let (a, ka) = new_vault();
    let (c, kc) = join(&a, Role::Owner);
    let (r, _) = join(&a, Role::Reader);
    let (p, kp) = join(&a, Role::Owner);
    let (ak, ck, pk) = (keys_of(&ka), keys_of(&kc), keys_of(&kp));
    p.ingest(a.sync_items().unwrap()).unwrap();
    let (e, ke) = join(&p, Role::Owner);
    let ek = keys_of(&ke);
    e.ingest(p.sync_items().unwrap()).unwrap();
    let seen = state_of(&e).heads().to_vec();
    let epoch = state_of(&e).head_epoch();
    a.remove_device(pk.id()).unwrap();
    p.remove_device(ek.id()).unwrap();

    // The thief hangs a removal of A below what E had seen: A's removal of P (E's
    // granter) and this one each void the other, a cycle no replica can tell from two
    // owners acting at once.
    let removes_a = signed(
        &ek,
        &e,
        &seen,
        epoch + 1,
        removal(&ak, EpochKey([9; 32]), &ek),
    );
    let mut everything: Vec<SyncItem> = [&a, &p, &e]
        .iter()
        .flat_map(|v| v.sync_items().unwrap())
        .collect();
    // C first hears of the honest removals, then of the thief's.
    c.ingest(everything.clone()).unwrap();
    everything.push(SyncItem::Acl(removes_a.clone()));
    for v in [&c, &r] {
        v.ingest(everything.clone()).unwrap();
    }
    // C, the owner left, renews the key on its next ingest; R hears of it.
    c.ingest(r.sync_items().unwrap()).unwrap();
    r.ingest(c.sync_items().unwrap()).unwrap();

    let state = state_of(&r);
    assert!(state.is_valid(&AclRecord::decode(&removes_a).unwrap().id()));
    // E is out: the grant it rested on fell with P; A and P went with the cycle.
    assert_eq!(state.member(&ek.id()), None, "E was never in");
    for gone in [ak.id(), pk.id()] {
        let removed = state.member(&gone).and_then(|m| m.removed.as_ref());
        assert!(removed.is_some_and(|x| x.mutual), "{gone:?}: {removed:?}");
    }
    assert_eq!(state_of_device(&r, ck.id()), Some(DeviceState::Active));
    assert!(!state.rekey_needed(), "C renewed the key");
    let w = state.write_opening().expect("an epoch to write under");
    for out in [ak.id(), pk.id(), ek.id()] {
        assert!(!w.readers.contains(&out), "the new key reached {out:?}");
    }
    // Nothing C writes from now on is sealed to the thief. (What the document held
    // came to C in A's snapshot under the epoch A's own removal opened; A is out at
    // that epoch, so no envelope of its key is accepted, and C is left without that
    // content: a known gap, see ARCHITECTURE.md, "Removals in a cycle".)
    assert!(!c.sync_items().unwrap().iter().any(|i| match i {
        SyncItem::Envelope(x) => {
            let x = Envelope::decode(x).unwrap();
            x.body().recipient == ek.id() && x.body().epoch >= w.epoch
        }
        _ => false,
    }));
}

#[test]
fn tmp_probe() {
    let (a, _) = new_vault();
    let (c, _) = join(&a, Role::Owner);
    eprintln!("probe1 {:?}", c.add_checkin(&checkin(4, "x")).map(|_| ()));
    let (d, _) = join(&a, Role::Owner);
    let (p, _) = join(&a, Role::Owner);
    let _ = p;
    d.ingest(a.sync_items().unwrap()).unwrap();
    eprintln!("probe2 {:?}", d.add_checkin(&checkin(4, "x")).map(|_| ()));
}

#[test]
fn a_removal_that_had_not_seen_what_others_built_on_takes_none_of_it_away() {
    // A, C and E are owners. E falls behind; A writes a check-in, C takes it in and
    // edits it; then E, still behind, removes A: its mark stops before A's check-in.
    let (a, ka) = new_vault();
    let (c, kc) = join(&a, Role::Owner);
    let (e, _) = join(&a, Role::Owner);
    let (ka, ck) = (keys_of(&ka).id(), keys_of(&kc));
    let x = a.add_checkin(&checkin(3, "written by A")).unwrap();
    c.ingest(a.sync_items().unwrap()).unwrap();
    c.edit_checkin(
        x.id,
        &hearth_core::model::CheckInPatch {
            note: Some("written by A, edited by C".into()),
            ..Default::default()
        },
    )
    .unwrap();
    e.remove_device(ka).unwrap();

    // C hears of the removal: A's check-in is past the mark, but C's edit stands on
    // it, and so does everything C writes after.
    c.ingest(e.sync_items().unwrap()).unwrap();
    c.add_checkin(&checkin(4, "written by C after")).unwrap();
    let notes =
        |v: &Vault| -> Vec<String> { v.checkins().unwrap().into_iter().map(|k| k.note).collect() };
    for note in ["written by A, edited by C", "written by C after"] {
        assert!(
            notes(&c).iter().any(|n| n == note),
            "C lost {note:?}: {:?}",
            notes(&c)
        );
    }
    // E, which judges A's check-in by the same mark, gets it inside C's snapshot.
    e.ingest(c.sync_items().unwrap()).unwrap();
    assert_eq!(notes(&e), notes(&c));
    c.ingest(e.sync_items().unwrap()).unwrap();
    assert_eq!(state_of_device(&c, ck.id()), Some(DeviceState::Active));
    assert_eq!(state_of_device(&e, ka), Some(DeviceState::Removed));
}
