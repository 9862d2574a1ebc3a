//! What the hub refuses, each a test: an unknown device gets nothing; a removed device
//! is refused and cannot decrypt what is written after its removal; a bundle forged by
//! a non-writer (validly encrypted to the doc key) is kept by no one; an oversize,
//! garbage or truncated frame ends only that stream, and the hub keeps serving.

use std::time::Duration;

use hearth_core::access::{AclRecord, Role};
use hearth_core::bundle::{Bundle, BundleHeader, BundleKind, FORMAT_V1};
use hearth_core::device::{self, Live, NetError};
use hearth_core::doc::JournalDoc;
use hearth_core::envelope::{DocKey, Envelope};
use hearth_core::identity::DeviceKeys;
use hearth_core::ids::DocId;
use hearth_core::sync::message::{MAX_FRAME, Message, PROTOCOL_VERSION, Summary};
use hearth_core::sync::net::SyncEvent;
use hearth_core::vault::{DevicePublic, SyncItem, VaultError};
use rand::{Rng, SeedableRng};

use crate::{
    Raw, WAIT, add_device, any_file_contains, checkin, empty_hello, enrolled_member, hub_items,
    hub_peer, net, new_member, notes, refused, start_hub, sync,
};

/// The doc key for `epoch` that `device` received (it opens its own envelope).
pub(crate) fn doc_key(items: &[SyncItem], device: &DeviceKeys, epoch: u32) -> DocKey {
    items
        .iter()
        .find_map(|item| match item {
            SyncItem::Envelope(b) => {
                let env = Envelope::decode(b).unwrap();
                (env.body().recipient == device.id() && env.body().epoch == epoch)
                    .then(|| env.open(device).unwrap())
            }
            _ => None,
        })
        .expect("an envelope for this device")
}

/// The decoded bundles among `items`.
pub(crate) fn bundles(items: &[SyncItem]) -> Vec<Bundle> {
    items
        .iter()
        .filter_map(|i| match i {
            SyncItem::Bundle(b) => Some(Bundle::decode(b).unwrap()),
            _ => None,
        })
        .collect()
}

/// Every document named by the ACL records and bundles among `items`.
fn docs_named(items: &[SyncItem]) -> Vec<DocId> {
    let mut docs: Vec<DocId> = items
        .iter()
        .map(|i| match i {
            SyncItem::Acl(b) => AclRecord::decode(b).unwrap().body().doc,
            SyncItem::Bundle(b) => Bundle::decode(b).unwrap().header().doc,
            SyncItem::Envelope(b) => Envelope::decode(b).unwrap().body().doc,
        })
        .collect();
    docs.sort_by_key(|d| *d.as_bytes());
    docs.dedup();
    docs
}

/// A one-shot sync whose only peer is the hub was refused by the hub, and the member
/// is told so in plain words.
fn assert_refused_sync(err: &NetError, hub: &hearth_hub::Hub) {
    assert!(matches!(err, NetError::Refused(_)), "{err}");
    assert!(err.to_string().contains("no access"), "{err}");
    assert!(err.to_string().contains(&hub.id().short()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_device_gets_nothing() {
    let (hub, _home) = start_hub().await;
    let a = new_member("Sam");
    a.vault
        .add_checkin(&checkin(4, "A's private note"))
        .unwrap();
    device::enroll(&a.vault, hub.ticket(), &net())
        .await
        .unwrap();
    let a_doc = a.vault.journal_id().unwrap();
    assert_eq!(hub.doc_count(), 1);

    // C has a vault of its own but never enrolled and is not in A's ACL.
    let c = new_member("Cy");
    c.vault.add_checkin(&checkin(2, "C's own")).unwrap();
    let c_doc = c.vault.journal_id().unwrap();
    let c_before = c.vault.sync_items().unwrap();
    c.vault.remember_peer(&hub_peer(&hub)).unwrap();

    // Through the device's own sync: refused.
    let err = tokio::time::timeout(WAIT * 2, device::sync_once(&c.vault, &net(), None))
        .await
        .expect("sync timed out")
        .expect_err("an unknown device synced with the hub");
    assert_refused_sync(&err, &hub);

    // On the wire: a hello gets no answer, only the connection closed with the reason.
    let why = refused(&c.device_keys(), &hub).await;
    assert!(why.contains("unknown device"), "{why}");

    // C got nothing and planted nothing.
    assert_eq!(hub.doc_count(), 1);
    assert_eq!(c.vault.journal_id().unwrap(), c_doc);
    assert_eq!(c.vault.sync_items().unwrap(), c_before);
    assert_eq!(docs_named(&c.vault.sync_items().unwrap()), vec![c_doc]);
    assert_eq!(notes(&c.vault), vec!["C's own".to_string()]);

    // E enrolled at the center, but A never shared its journal with E.
    let e = enrolled_member("Eve", &hub).await;
    let e_doc = e.vault.journal_id().unwrap();
    assert_eq!(hub.doc_count(), 2);
    let e_keys = e.device_keys();

    // E's hello offers nothing: the hub offers E only E's own journal.
    let mut raw = Raw::connect(&e_keys, &hub).await;
    raw.write(&empty_hello()).await;
    match raw.read().await {
        Ok(Some(Message::Hello { docs, .. })) => {
            let offered: Vec<DocId> = docs.iter().map(|s| s.doc).collect();
            assert_eq!(offered, vec![e_doc], "the hub offered E {offered:?}");
        }
        other => panic!("expected the hub's hello, got {other:?}"),
    }
    // Asking for A's journal outright is a protocol error, not a reply.
    raw.write(&Message::Ids {
        doc: a_doc,
        ids: Vec::new(),
    })
    .await;
    let got = raw.read_to_end().await;
    match got.as_slice() {
        [Message::Error { reason }] => {
            assert!(reason.contains("did not offer"), "{reason}")
        }
        other => panic!("expected one error, got {other:?}"),
    }
    raw.close().await;

    // Claiming to hold A's journal gets E declined (the hub stores it, and its log
    // does not name E): never asked for it, never given it; what E "sends" anyway is
    // refused.
    let mut raw = Raw::connect(&e_keys, &hub).await;
    raw.write(&Message::Hello {
        version: PROTOCOL_VERSION,
        docs: vec![Summary {
            doc: a_doc,
            count: 0,
            digest: [0; 32],
            acl_len: 0,
        }],
    })
    .await;
    match raw.read().await {
        Ok(Some(Message::Hello { docs, .. })) => {
            assert!(docs.iter().all(|s| s.doc != a_doc), "{docs:?}")
        }
        other => panic!("expected the hub's hello, got {other:?}"),
    }
    match raw.read().await {
        Ok(Some(Message::Decline { doc })) => assert_eq!(doc, a_doc),
        other => panic!("expected the hub to decline the doc, got {other:?}"),
    }
    raw.write(&Message::Items {
        doc: a_doc,
        items: Vec::new(),
        last: true,
    })
    .await;
    let got = raw.read_to_end().await;
    match got.as_slice() {
        [Message::Error { reason }] => assert!(reason.contains("did not ask"), "{reason}"),
        other => panic!("expected one error, got {other:?}"),
    }
    raw.close().await;
    assert_eq!(hub.doc_count(), 2);

    // A's journal at the hub is intact: A still syncs, and the hub holds what A holds.
    sync(&a.vault).await;
    let held = hub_items(&hub, &a.device_keys(), a_doc).await;
    let mut held_ids: Vec<_> = held.iter().map(SyncItem::id).collect();
    let mut a_ids: Vec<_> = a
        .vault
        .sync_items()
        .unwrap()
        .iter()
        .map(SyncItem::id)
        .collect();
    held_ids.sort();
    a_ids.sort();
    assert_eq!(held_ids, a_ids);
    hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_device_is_refused_and_cannot_decrypt_later_writes() {
    const CANARY: &str = "canary 7f3a: written after the phone was lost";
    let (hub, home) = start_hub().await;
    let a = enrolled_member("Sam", &hub).await;
    let b = add_device(&a.vault, Role::Owner);
    let d = add_device(&a.vault, Role::Owner);
    a.vault
        .add_checkin(&checkin(5, "before the phone was lost"))
        .unwrap();
    sync(&a.vault).await;
    // Control: B syncs through the hub before its removal.
    sync(&b.vault).await;
    sync(&d.vault).await;
    assert!(notes(&b.vault).contains(&"before the phone was lost".to_string()));

    // B is lost: A removes it, writes, and syncs the removal and the note to the hub.
    a.vault.remove_device(b.vault.device_id().unwrap()).unwrap();
    a.vault.add_checkin(&checkin(3, CANARY)).unwrap();
    sync(&a.vault).await;

    // The hub refuses B.
    let err = tokio::time::timeout(WAIT * 2, device::sync_once(&b.vault, &net(), None))
        .await
        .expect("sync timed out")
        .expect_err("a removed device synced with the hub");
    assert_refused_sync(&err, &hub);
    let why = refused(&b.device_keys(), &hub).await;
    assert!(why.contains("unknown device"), "{why}");
    assert!(!notes(&b.vault).iter().any(|n| n == CANARY));

    // Even handed everything A holds, B cannot read what was written after.
    let report = b.vault.ingest(a.vault.sync_items().unwrap()).unwrap();
    assert!(report.accepted > 0, "{report:?}");
    assert!(!notes(&b.vault).iter().any(|n| n == CANARY));
    let b_id = b.vault.device_id().unwrap();
    let items = a.vault.sync_items().unwrap();
    let latest = bundles(&items)
        .into_iter()
        .map(|x| x.header().epoch)
        .max()
        .unwrap();
    assert!(latest >= 1, "the removal started a new epoch");
    let b_envelopes: Vec<u32> = items
        .iter()
        .filter_map(|i| match i {
            SyncItem::Envelope(x) => {
                let env = Envelope::decode(x).unwrap();
                (env.body().recipient == b_id).then_some(env.body().epoch)
            }
            _ => None,
        })
        .collect();
    assert!(
        b_envelopes.iter().all(|e| *e < latest),
        "B was given a key for epoch {latest}: {b_envelopes:?}"
    );
    // Nor after reopening its vault from disk.
    match b.reopen() {
        Ok(b) => assert!(!notes(&b.vault).iter().any(|n| n == CANARY)),
        Err(e) => assert!(matches!(e, VaultError::NoKey), "{e}"),
    }

    // The device that stays gets it through the hub; A sees it after a restart.
    sync(&d.vault).await;
    assert!(notes(&d.vault).iter().any(|n| n == CANARY));
    let a = a.reopen().unwrap();
    assert!(notes(&a.vault).iter().any(|n| n == CANARY));
    // The hub stored it blind: the note is in none of its files.
    hub.shutdown().await.unwrap();
    assert!(!any_file_contains(home.path(), CANARY.as_bytes()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_bundle_is_rejected_by_hub_and_devices() {
    const FORGED: &str = "forged by the reader";
    let (hub, _home) = start_hub().await;
    let a = new_member("Sam");
    a.vault.add_checkin(&checkin(4, "written by A")).unwrap();
    device::enroll(&a.vault, hub.ticket(), &net())
        .await
        .unwrap();
    let b = add_device(&a.vault, Role::Owner);
    let r = add_device(&a.vault, Role::Reader);
    sync(&a.vault).await; // the hub learns of B and R
    let doc = a.vault.journal_id().unwrap();

    // R reads the journal but its vault will not write it.
    assert_eq!(notes(&r.vault), vec!["written by A".to_string()]);
    let err = r.vault.add_checkin(&checkin(1, FORGED)).unwrap_err();
    assert!(err.to_string().contains("not allowed"), "{err}");

    // So R makes a real Automerge change on its decrypted copy, encrypts it with the
    // real epoch key it legitimately holds, and signs it as itself.
    let reader = r.device_keys();
    let items = a.vault.sync_items().unwrap();
    let epoch = bundles(&items)[0].header().epoch;
    let key = doc_key(&items, &reader, epoch);
    let actor = automerge::ActorId::from(hearth_core::crypto::random_bytes::<16>().to_vec());
    let mut copy = JournalDoc::load(&r.vault.journal_bytes().unwrap(), actor).unwrap();
    let forged_checkin = checkin(1, FORGED)
        .validate(hearth_core::wire::now_ms())
        .unwrap();
    let change = copy.add_checkin(&forged_checkin).unwrap();
    assert!(
        copy.checkins().iter().any(|c| c.note == FORGED),
        "the change is a real check-in"
    );
    let header = BundleHeader {
        format: FORMAT_V1,
        doc,
        epoch,
        author: reader.id(),
        seq: 1,
        prev: None,
        kind: BundleKind::Changes,
        created_at_ms: hearth_core::wire::now_ms(),
        supersedes: Vec::new(),
    };
    let forged = Bundle::seal(header, &change, &key, &reader)
        .unwrap()
        .into_bytes();
    assert_eq!(
        Bundle::decode(&forged).unwrap().decrypt(&key).unwrap(),
        change,
        "validly signed and encrypted to the doc key"
    );

    // R pushes it to the hub: acknowledged with nothing stored.
    let mut raw = Raw::connect(&reader, &hub).await;
    raw.write(&crate::hello_listing(doc)).await;
    match raw.read().await {
        Ok(Some(Message::Hello { docs, .. })) => {
            assert!(docs.iter().any(|s| s.doc == doc), "R may hold the journal")
        }
        other => panic!("expected the hub's hello, got {other:?}"),
    }
    assert!(
        matches!(raw.read().await, Ok(Some(Message::Ids { .. }))),
        "the hub asks R for what it holds"
    );
    raw.write(&Message::Push {
        doc,
        items: vec![SyncItem::Bundle(forged.clone())],
    })
    .await;
    assert_eq!(
        raw.read().await.unwrap(),
        Some(Message::Ack {
            doc,
            stored: 0,
            reconcile: false
        })
    );
    raw.close().await;

    // Control: the same push from an owner is stored.
    let before = a.vault.sync_items().unwrap();
    a.vault.add_checkin(&checkin(5, "pushed by A")).unwrap();
    let genuine: Vec<SyncItem> = a
        .vault
        .sync_items()
        .unwrap()
        .into_iter()
        .filter(|i| !before.contains(i))
        .collect();
    assert_eq!(genuine.len(), 1);
    let mut raw = Raw::connect(&a.device_keys(), &hub).await;
    raw.write(&empty_hello()).await;
    assert!(matches!(raw.read().await, Ok(Some(Message::Hello { .. }))));
    raw.write(&Message::Push {
        doc,
        items: genuine,
    })
    .await;
    assert_eq!(
        raw.read().await.unwrap(),
        Some(Message::Ack {
            doc,
            stored: 1,
            reconcile: false
        })
    );
    raw.close().await;

    // The hub holds no bundle by R, and B syncing through the hub never sees it.
    let held = hub_items(&hub, &b.device_keys(), doc).await;
    let held_bundles = bundles(&held);
    assert!(!held_bundles.is_empty());
    assert!(
        held_bundles
            .iter()
            .all(|x| x.header().author != reader.id()),
        "the hub stored a bundle by the reader"
    );
    sync(&b.vault).await;
    let seen = notes(&b.vault);
    assert!(seen.contains(&"pushed by A".to_string()), "{seen:?}");
    assert!(!seen.iter().any(|n| n == FORGED), "{seen:?}");

    // Handed straight to the devices, it is refused there too.
    for (what, v) in [("A", &a.vault), ("B", &b.vault)] {
        let before = notes(v);
        let report = v.ingest(vec![SyncItem::Bundle(forged.clone())]).unwrap();
        assert_eq!(report.accepted, 0, "{what}: {report:?}");
        assert_eq!(report.rejected.len(), 1, "{what}: {report:?}");
        assert!(report.rejected[0].contains("may not write"), "{report:?}");
        assert_eq!(notes(v), before, "{what}'s check-ins changed");
    }
    hub.shutdown().await.unwrap();
}

/// A removal another member writes in their own journal must not cut a device off
/// from the journals it still belongs to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_in_another_members_journal_does_not_lock_a_device_out() {
    let (hub, _home) = start_hub().await;
    let a = enrolled_member("Sam", &hub).await;
    let b = add_device(&a.vault, Role::Owner);
    sync(&a.vault).await;
    sync(&b.vault).await;
    let b_id = b.vault.device_id().unwrap();

    // M, another member enrolled at the same center, names B in M's own journal (a
    // device id is all it takes) and removes it again.
    let m = enrolled_member("Mo", &hub).await;
    let stand_in = DevicePublic {
        id: b_id,
        recipient: m.vault.device_public().unwrap().recipient,
    };
    m.vault.authorize_device(&stand_in, Role::Reader).unwrap();
    m.vault.remove_device(b_id).unwrap();
    sync(&m.vault).await;

    // B is still one of A's devices, untouched in A's journal.
    a.vault.add_checkin(&checkin(4, "still mine")).unwrap();
    sync(&a.vault).await;
    let synced = tokio::time::timeout(WAIT * 2, device::sync_once(&b.vault, &net(), None))
        .await
        .expect("sync timed out");
    assert!(synced.is_ok(), "B was locked out by M: {synced:?}");
    assert!(notes(&b.vault).iter().any(|n| n == "still mine"));
    hub.shutdown().await.unwrap();
}

/// Sends `bytes` on a fresh connection as `keys` and returns what the hub answered
/// after its hello, checking that the answer is an error or the stream's end.
async fn send_bad(hub: &hearth_hub::Hub, keys: &DeviceKeys, bytes: &[u8], finish: bool) -> String {
    let mut raw = Raw::connect(keys, hub).await;
    raw.write_bytes(bytes).await;
    if finish {
        raw.finish();
    }
    let got = raw.read_to_end().await;
    raw.close().await;
    match got.as_slice() {
        [Message::Hello { .. }, Message::Error { reason }] => reason.clone(),
        [Message::Hello { .. }] => "stream closed".into(),
        other => panic!("expected the hub's hello then an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_oversize_frames_close_only_that_stream() {
    let (hub, _home) = start_hub().await;
    let a = enrolled_member("Sam", &hub).await;
    let b = add_device(&a.vault, Role::Owner);
    sync(&a.vault).await;

    // B stays connected to the hub, live, the whole time.
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let (live, _) = Live::start(b.vault.clone(), &net(), None, true, Some(tx))
        .await
        .unwrap();
    tokio::time::timeout(WAIT, async {
        while let Some(ev) = events.recv().await {
            if matches!(ev, SyncEvent::Reconciled { peer } if peer == hub.id()) {
                return;
            }
        }
    })
    .await
    .expect("B never reconciled with the hub");

    // G: another enrolled device, sending nonsense.
    let g = enrolled_member("Gus", &hub).await;
    let g_keys = g.device_keys();

    // (a) A length prefix past the limit, refused before the body is sent or read.
    let too_big = u32::try_from(MAX_FRAME + 1).unwrap().to_le_bytes();
    let why = send_bad(&hub, &g_keys, &too_big, false).await;
    assert!(why.contains("limit"), "oversize: {why}");

    // (b) A well-sized frame of random bytes.
    let seed: u64 = rand::random();
    eprintln!("garbage frame seed: {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut garbage = vec![0u8; 4 + 1024];
    rng.fill(&mut garbage[4..]);
    garbage[..4].copy_from_slice(&1024u32.to_le_bytes());
    let why = send_bad(&hub, &g_keys, &garbage, false).await;
    assert!(why.contains("bad frame"), "garbage (seed {seed}): {why}");

    // (c) A frame cut short, then the end of the stream.
    let mut cut = hearth_core::sync::message::frame(&empty_hello());
    cut.truncate(cut.len() - 1);
    let why = send_bad(&hub, &g_keys, &cut, true).await;
    assert!(why.contains("cut short"), "truncated: {why}");

    // (d) Garbage after a proper hello, mid-session.
    let mut raw = Raw::connect(&g_keys, &hub).await;
    raw.write(&empty_hello()).await;
    assert!(matches!(raw.read().await, Ok(Some(Message::Hello { .. }))));
    raw.write_bytes(&garbage).await;
    let got = raw.read_to_end().await;
    match got.as_slice() {
        [Message::Error { reason }] => assert!(reason.contains("bad frame"), "{reason}"),
        other => panic!("expected one error, got {other:?}"),
    }
    raw.close().await;

    // The hub keeps serving: a new device enrolls, A syncs, and A's new check-in
    // reaches B over the connection B held open all along.
    let _fay = enrolled_member("Fay", &hub).await; // a third journal on the hub
    assert_eq!(hub.doc_count(), 3);
    a.vault
        .add_checkin(&checkin(4, "after the garbage"))
        .unwrap();
    sync(&a.vault).await;
    let mut changes = b.vault.subscribe();
    tokio::time::timeout(WAIT, async {
        while !notes(&b.vault).iter().any(|n| n == "after the garbage") {
            let _ = tokio::time::timeout(Duration::from_millis(200), changes.recv()).await;
        }
    })
    .await
    .expect("A's check-in never reached B through the hub");
    live.shutdown().await;
    hub.shutdown().await.unwrap();
}
