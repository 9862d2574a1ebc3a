//! What the hub bounds, tried as a stranger or a broken device would: a pairing request
//! that never comes, a device that never finishes reconciling (and a hub that never
//! does, seen from the device), a device that never reads its live updates, too many
//! connections from one device. Each is cut off while the hub keeps serving an honest
//! member.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_core::access::Role;
use hearth_core::bundle::{Bundle, BundleHeader, BundleKind, FORMAT_V1};
use hearth_core::identity::{DeviceKeys, Seed};
use hearth_core::pairing::{PAIR_ALPN, PairResponse, REQUEST_TIMEOUT};
use hearth_core::sync::message::{Message, PROTOCOL_VERSION, Summary, read_frame};
use hearth_core::sync::net::{Hooks, bind_endpoint, run_connection};
use hearth_core::sync::{Replica, SYNC_ALPN, SyncError};
use hearth_core::vault::SyncItem;
use hearth_hub::HubLimits;

use crate::refusals::{bundles, doc_key};
use crate::{
    Raw, WAIT, add_device, checkin, empty_hello, enrolled_member, hub_items, net, new_member,
    notes, refused, start_hub, start_hub_with, sync,
};

fn stranger() -> DeviceKeys {
    DeviceKeys::derive(&Seed::generate()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pairing_request_that_never_comes_is_cut_off_while_members_enroll() {
    let (hub, _home) = start_hub().await;
    let keys = stranger();
    let ep = bind_endpoint(keys.endpoint_key(), &net(), Vec::new())
        .await
        .unwrap();
    let conn = ep
        .connect(hub.ticket().addr.clone(), PAIR_ALPN)
        .await
        .unwrap();
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    // The length of a request, then nothing: the hub must not wait for the rest.
    send.write_all(&100u32.to_le_bytes()).await.unwrap();
    let started = Instant::now();

    // Meanwhile a member enrolls and syncs as usual.
    let a = enrolled_member("Sam", &hub).await;
    a.vault
        .add_checkin(&checkin(3, "while a stranger waits"))
        .unwrap();
    sync(&a.vault).await;

    let answer = tokio::time::timeout(
        REQUEST_TIMEOUT + WAIT,
        read_frame::<_, PairResponse>(&mut recv, 1 << 16, "pairing response"),
    )
    .await
    .expect("the hub held the pairing connection past its deadline");
    match answer {
        Ok(Some(PairResponse::Refused { reason })) => {
            assert!(reason.contains("too slowly"), "{reason}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(started.elapsed() < REQUEST_TIMEOUT + Duration::from_secs(3));
    ep.close().await;
    hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_never_finishes_reconciling_is_cut_off_by_the_hub() {
    let (hub, _home) = start_hub_with(HubLimits {
        reconcile_within: Duration::from_secs(1),
        ..HubLimits::default()
    })
    .await;
    let a = enrolled_member("Sam", &hub).await;
    let b = add_device(&a.vault, Role::Owner);
    sync(&a.vault).await;

    // B connects and starts a frame it never finishes (a drip, not a hello).
    let mut raw = Raw::connect(&b.device_keys(), &hub).await;
    raw.write_bytes(&10u32.to_le_bytes()).await;
    let started = Instant::now();
    let got = raw.read_to_end().await;
    assert!(
        got.iter().any(|m| matches!(
            m,
            Message::Error { reason } if reason.contains("not reconciled within 1 s")
        )),
        "{got:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // An honest sync reconciles well within the deadline.
    a.vault.add_checkin(&checkin(4, "honest")).unwrap();
    sync(&a.vault).await;
    sync(&b.vault).await;
    assert!(notes(&b.vault).contains(&"honest".to_string()));
    hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_gives_up_on_a_hub_that_never_finishes_reconciling() {
    // A "hub" that accepts the stream and then says nothing at all.
    let stuck = stranger();
    let ep = bind_endpoint(stuck.endpoint_key(), &net(), vec![SYNC_ALPN.to_vec()])
        .await
        .unwrap();
    let addr = ep.addr();
    let accepting = ep.clone();
    tokio::spawn(async move {
        let conn = accepting.accept().await.unwrap().await.unwrap();
        let (_send, _recv) = conn.accept_bi().await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
    });

    let a = new_member("Sam");
    let dialer = bind_endpoint(&a.vault.endpoint_key().unwrap(), &net(), Vec::new())
        .await
        .unwrap();
    let conn = dialer.connect(addr, SYNC_ALPN).await.unwrap();
    let replica: Arc<dyn Replica> = a.vault.clone();
    let hooks = Hooks {
        reconcile_within: Duration::from_secs(1),
        ..Hooks::once()
    };
    let started = Instant::now();
    let result = tokio::time::timeout(WAIT, run_connection(conn, replica, hooks, true))
        .await
        .expect("the device waited on a stuck hub past its deadline");
    match result {
        Err(SyncError::Network(why)) => assert!(why.contains("not reconciled"), "{why}"),
        other => panic!("expected the deadline, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(4));
    dialer.close().await;
    ep.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_never_reads_its_live_updates_is_disconnected_and_costs_no_acked_data() {
    const BIG: usize = 8 << 20;
    let (hub, _home) = start_hub().await;
    let a = enrolled_member("Sam", &hub).await;
    let w = add_device(&a.vault, Role::Owner);
    let x = add_device(&a.vault, Role::Owner);
    sync(&a.vault).await;
    let doc = a.vault.journal_id().unwrap();

    // X says hello, listing the journal as a device does, and never reads again.
    let mut slow = Raw::connect(&x.device_keys(), &hub).await;
    slow.write(&Message::Hello {
        version: PROTOCOL_VERSION,
        docs: vec![Summary::of(doc, &mut [], 0)],
    })
    .await;

    // W pushes 8 MiB bundles into the journal X holds, one after another.
    let writer = w.device_keys();
    let items = a.vault.sync_items().unwrap();
    let epoch = bundles(&items)
        .iter()
        .map(|b| b.header().epoch)
        .max()
        .unwrap();
    let key = doc_key(&items, &writer, epoch);
    let mut pusher = Raw::connect(&writer, &hub).await;
    pusher.write(&empty_hello()).await;
    assert!(matches!(
        pusher.read().await,
        Ok(Some(Message::Hello { .. }))
    ));
    let mut prev = None;
    let mut pushed = Vec::new();
    for seq in 1..=5u64 {
        let header = BundleHeader {
            format: FORMAT_V1,
            doc,
            epoch,
            author: writer.id(),
            seq,
            prev,
            kind: BundleKind::Changes,
            created_at_ms: 0,
            supersedes: Vec::new(),
        };
        let bundle = Bundle::seal(header, &vec![seq as u8; BIG], &key, &writer).unwrap();
        prev = Some(bundle.id());
        pushed.push(bundle.id());
        pusher
            .write(&Message::Push {
                doc,
                items: vec![SyncItem::Bundle(bundle.into_bytes())],
            })
            .await;
        match pusher.read().await {
            Ok(Some(Message::Ack { stored: 1, .. })) => {}
            other => panic!("push {seq} not stored: {other:?}"),
        }
    }

    // X was cut off, saying why; every push W had acknowledged is at the hub.
    let why = slow.closed().await;
    assert!(why.contains("fell behind"), "{why}");
    let held: Vec<_> = bundles(&hub_items(&hub, &a.device_keys(), doc).await)
        .iter()
        .map(|b| b.id())
        .collect();
    assert!(pushed.iter().all(|id| held.contains(id)));
    pusher.close().await;
    hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_device_holds_at_most_its_share_of_the_hubs_connections() {
    let (hub, _home) = start_hub_with(HubLimits {
        per_device: 2,
        ..HubLimits::default()
    })
    .await;
    let a = enrolled_member("Sam", &hub).await;
    let keys = a.device_keys();
    let mut first = Raw::connect(&keys, &hub).await;
    first.write(&empty_hello()).await;
    assert!(matches!(
        first.read().await,
        Ok(Some(Message::Hello { .. }))
    ));
    let mut second = Raw::connect(&keys, &hub).await;
    second.write(&empty_hello()).await;
    assert!(matches!(
        second.read().await,
        Ok(Some(Message::Hello { .. }))
    ));

    let why = refused(&keys, &hub).await;
    assert!(why.contains("too many connections"), "{why}");

    // Another member is not affected, and a place is given back when one closes.
    let b = enrolled_member("Ada", &hub).await;
    sync(&b.vault).await;
    first.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    sync(&a.vault).await;
    second.close().await;
    hub.shutdown().await.unwrap();
}

/// A device that was offline while its other device wrote much, and wrote much
/// itself: the hub and the device each have more for the other than the other
/// buffers (QUIC's windows and two frames, about 12 MiB). Were both to stream their
/// answers at once, neither would read again (the sync failed so before the accepting
/// side answered last). Both answers arrive, in one sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_and_the_hub_each_with_more_than_the_other_buffers_both_get_all_of_it() {
    use rand::Rng;
    // Batches of notes of random letters (they do not compress): about 23 MiB a side.
    const BATCHES: usize = 20;
    const PER_BATCH: usize = 100;
    let (hub, _home) = start_hub().await;
    let a = enrolled_member("Sam", &hub).await;
    let b = add_device(&a.vault, Role::Owner);
    sync(&a.vault).await;
    sync(&b.vault).await;
    let write = |vault: &Arc<hearth_core::vault::Vault>, who: &str| {
        let mut rng = rand::rng();
        for batch in 0..BATCHES {
            let notes: Vec<_> = (0..PER_BATCH)
                .map(|i| {
                    let note: String = (0..19_000)
                        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz"[rng.random_range(0..26)]))
                        .collect();
                    checkin(3, &format!("{who} {batch} {i} {note}"))
                })
                .collect();
            vault.add_checkins(&notes).unwrap();
        }
    };
    write(&b.vault, "b");
    sync(&b.vault).await;
    let doc = a.vault.journal_id().unwrap();
    assert!(hub.used_bytes(&doc) > 20 << 20, "{}", hub.used_bytes(&doc));
    write(&a.vault, "a");
    sync(&a.vault).await;
    let seen = notes(&a.vault);
    for who in ["a", "b"] {
        assert_eq!(
            seen.iter()
                .filter(|n| n.starts_with(&format!("{who} ")))
                .count(),
            BATCHES * PER_BATCH,
            "{who}'s notes on A"
        );
    }
    sync(&b.vault).await;
    assert_eq!(notes(&b.vault).len(), seen.len());
}
