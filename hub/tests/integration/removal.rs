//! A removal reaches connections that are already open: a device removed while
//! connected is cut off, and an answer it asked for before its removal is never sent
//! (at the hub and at a member's listening device). And the hub never loses what a
//! snapshot replaced before another reader shows the snapshot applied.

use hearth_core::access::Role;
use hearth_core::bundle::{Bundle, BundleKind};
use hearth_core::device::Live;
use hearth_core::envelope::Envelope;
use hearth_core::ids::DocId;
use hearth_core::sync::message::{Message, PROTOCOL_VERSION, Summary};
use hearth_core::vault::SyncItem;

use crate::{
    Raw, WAIT, add_device, checkin, empty_hello, enrolled_member, hub_items, net, notes, start_hub,
    sync,
};

/// Says hello as the device behind `raw`, listing `doc` as empty, and reads the hello
/// that comes back.
async fn hello(raw: &mut Raw, doc: DocId) -> Vec<Summary> {
    raw.write(&Message::Hello {
        version: PROTOCOL_VERSION,
        docs: vec![Summary::of(doc, &mut [], 0)],
    })
    .await;
    match raw.read().await {
        Ok(Some(Message::Hello { docs, .. })) => docs,
        other => panic!("expected a hello, got {other:?}"),
    }
}

/// Every message until the stream or the connection ends: none may carry items.
async fn assert_no_items(raw: &mut Raw, what: &str) {
    for m in raw.read_to_end().await {
        assert!(
            !matches!(m, Message::Items { .. } | Message::Push { .. }),
            "{what}: a removed device was sent {m:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_answers_nothing_a_device_asked_for_before_its_removal() {
    let (hub, _home) = start_hub().await;
    let a = enrolled_member("Sam", &hub).await;
    let b = add_device(&a.vault, Role::Owner);
    a.vault.add_checkin(&checkin(3, "before")).unwrap();
    sync(&a.vault).await;
    sync(&b.vault).await;
    let doc = a.vault.journal_id().unwrap();

    // B (soon stolen) opens a connection and says hello while it still has access.
    let mut raw = Raw::connect(&b.device_keys(), &hub).await;
    let offered = hello(&mut raw, doc).await;
    assert!(offered.iter().any(|s| s.doc == doc));

    // The member removes B and writes; the hub hears of both.
    a.vault.remove_device(b.vault.device_id().unwrap()).unwrap();
    a.vault
        .add_checkin(&checkin(2, "after the removal"))
        .unwrap();
    sync(&a.vault).await;

    // B's request, sent on the connection opened before: nothing comes back.
    raw.write(&Message::Ids {
        doc,
        ids: Vec::new(),
    })
    .await;
    assert_no_items(&mut raw, "hub").await;
    let why = raw.closed().await;
    assert!(why.contains("no longer has access"), "{why}");
    raw.close().await;
    hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_closes_the_removed_devices_open_connection_to_the_hub() {
    let (hub, _home) = start_hub().await;
    let a = enrolled_member("Sam", &hub).await;
    let b = add_device(&a.vault, Role::Owner);
    sync(&a.vault).await;
    sync(&b.vault).await;
    let doc = a.vault.journal_id().unwrap();
    let mut raw = Raw::connect(&b.device_keys(), &hub).await;
    hello(&mut raw, doc).await;

    let started = std::time::Instant::now();
    a.vault.remove_device(b.vault.device_id().unwrap()).unwrap();
    sync(&a.vault).await;
    let why = raw.closed().await;
    assert!(why.contains("no longer has access"), "{why}");
    assert!(started.elapsed() < WAIT);
    raw.close().await;
    hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listening_device_answers_nothing_a_device_asked_for_before_its_removal() {
    let (hub, _home) = start_hub().await;
    let a = enrolled_member("Sam", &hub).await;
    let b = add_device(&a.vault, Role::Owner);
    a.vault.add_checkin(&checkin(3, "before")).unwrap();
    let doc = a.vault.journal_id().unwrap();
    let (live, _) = Live::start(a.vault.clone(), &net(), None, false, None)
        .await
        .unwrap();
    let mut raw = Raw::connect_to(&b.device_keys(), live.addr().clone()).await;
    let offered = hello(&mut raw, doc).await;
    assert!(offered.iter().any(|s| s.doc == doc));

    a.vault.remove_device(b.vault.device_id().unwrap()).unwrap();
    a.vault
        .add_checkin(&checkin(2, "after the removal"))
        .unwrap();
    raw.write(&Message::Ids {
        doc,
        ids: Vec::new(),
    })
    .await;
    assert_no_items(&mut raw, "device").await;
    let why = raw.closed().await;
    assert!(why.contains("no longer has access"), "{why}");
    raw.close().await;
    live.shutdown().await;
    hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_keeps_what_a_snapshot_replaced_until_another_reader_has_applied_it() {
    let (hub, _home) = start_hub().await;
    let a = enrolled_member("Sam", &hub).await;
    let b = add_device(&a.vault, Role::Owner);
    for i in 0..3 {
        a.vault
            .add_checkin(&checkin(3, &format!("note {i}")))
            .unwrap();
    }
    sync(&a.vault).await;
    let doc = a.vault.journal_id().unwrap();
    let a_keys = a.device_keys();
    let held = |items: &[SyncItem]| -> Vec<Bundle> {
        items
            .iter()
            .filter_map(|i| match i {
                SyncItem::Bundle(b) => Some(Bundle::decode(b).unwrap()),
                _ => None,
            })
            .collect()
    };
    let before = held(&hub_items(&hub, &a_keys, doc).await);

    // A compacts; the hub gets a snapshot that replaces what it held, and keeps those
    // (offered to no one) until some other reader shows it has applied the snapshot.
    a.vault.compact().unwrap();
    sync(&a.vault).await;
    let offered = held(&hub_items(&hub, &a_keys, doc).await);
    let stored = hub.stored_bundles(&doc).unwrap();
    let snapshot = offered
        .iter()
        .filter(|b| b.header().kind == BundleKind::Snapshot)
        .max_by_key(|b| b.header().seq)
        .unwrap()
        .clone();
    for old in &before {
        assert!(
            stored.contains(&old.id()),
            "the hub deleted a replaced bundle before anyone applied the snapshot"
        );
        assert!(!offered.iter().any(|b| b.id() == old.id()));
        assert!(snapshot.header().supersedes.contains(&old.id()));
    }

    // B takes the snapshot; its next sync shows the hub it holds the snapshot and none
    // of what it replaced.
    sync(&b.vault).await;
    assert_eq!(notes(&b.vault).len(), 3);
    sync(&b.vault).await;
    let settled = hub.stored_bundles(&doc).unwrap();
    for old in &before {
        assert!(
            !settled.contains(&old.id()),
            "the hub still holds what an applied snapshot replaced"
        );
    }
    hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_no_reader_can_apply_costs_the_hub_nothing() {
    let (hub, _home) = start_hub().await;
    let a = enrolled_member("Sam", &hub).await;
    let c = add_device(&a.vault, Role::Reader);
    a.vault.add_checkin(&checkin(3, "kept")).unwrap();
    sync(&a.vault).await;
    let doc = a.vault.journal_id().unwrap();
    let a_keys = a.device_keys();
    let items = hub_items(&hub, &a_keys, doc).await;
    let mut live = Vec::new();
    let mut newest: Option<Bundle> = None;
    for item in &items {
        if let SyncItem::Bundle(b) = item {
            let b = Bundle::decode(b).unwrap();
            live.push(b.id());
            if b.header().author == a_keys.id()
                && newest
                    .as_ref()
                    .is_none_or(|n| n.header().seq < b.header().seq)
            {
                newest = Some(b);
            }
        }
    }
    let newest = newest.unwrap();
    let key = items
        .iter()
        .find_map(|i| match i {
            SyncItem::Envelope(e) => {
                let e = Envelope::decode(e).unwrap();
                (e.body().recipient == a_keys.id()).then(|| e.open(&a_keys).unwrap())
            }
            _ => None,
        })
        .unwrap();
    // A's key (a buggy build, or a thief before the removal) pushes a signed snapshot
    // that is not a journal, naming everything as replaced.
    let junk = Bundle::seal(
        hearth_core::bundle::BundleHeader {
            seq: newest.header().seq + 1,
            prev: Some(newest.id()),
            kind: BundleKind::Snapshot,
            supersedes: live,
            ..newest.header().clone()
        },
        b"not a journal",
        &key,
        &a_keys,
    )
    .unwrap();
    let mut raw = Raw::connect(&a_keys, &hub).await;
    raw.write(&empty_hello()).await;
    let _ = raw.read().await;
    raw.write(&Message::Push {
        doc,
        items: vec![SyncItem::Bundle(junk.bytes().to_vec())],
    })
    .await;
    match raw.read().await {
        Ok(Some(Message::Ack { stored: 1, .. })) => {}
        other => panic!("expected the push acknowledged, got {other:?}"),
    }
    raw.close().await;

    // A reader syncing from the hub still gets the journal whole.
    sync(&c.vault).await;
    assert_eq!(notes(&c.vault), ["kept"]);
    hub.shutdown().await.unwrap();
}
