//! No unsolicited docs: any enrolled device can write a doc whose access log names
//! another member's device. Nothing it writes there changes whether the hub admits
//! that device or what the hub sends it unasked.

use std::time::Duration;

use hearth_core::access::Role;
use hearth_core::device;
use hearth_core::identity::DeviceKeys;
use hearth_core::ids::DocId;
use hearth_core::pairing::{self, PAIR_ALPN, PairRequest, PairResponse};
use hearth_core::sync::message::{Message, PROTOCOL_VERSION, Summary};
use hearth_core::sync::net::bind_endpoint;
use hearth_core::vault::DevicePublic;

use crate::{
    Raw, WAIT, checkin, empty_hello, enrolled_member, hub_peer, net, new_member, notes, start_hub,
    sync,
};

/// The docs the hub's hello offers `keys` when it lists `mine` (or nothing).
async fn offered(raw: &mut Raw, mine: Option<DocId>) -> Vec<DocId> {
    raw.write(&match mine {
        None => empty_hello(),
        Some(doc) => Message::Hello {
            version: PROTOCOL_VERSION,
            docs: vec![Summary {
                doc,
                count: 0,
                digest: [0; 32],
                acl_len: 0,
            }],
        },
    })
    .await;
    match raw.read().await {
        Ok(Some(Message::Hello { docs, .. })) => docs.iter().map(|s| s.doc).collect(),
        other => panic!("expected the hub's hello, got {other:?}"),
    }
}

/// Enrolls `keys` at the hub with its ticket, and nothing else (no upload).
async fn enroll_only(keys: &DeviceKeys, hub: &hearth_hub::Hub) {
    let ep = bind_endpoint(keys.endpoint_key(), &net(), Vec::new())
        .await
        .unwrap();
    let conn = tokio::time::timeout(WAIT, ep.connect(hub.ticket().addr.clone(), PAIR_ALPN))
        .await
        .unwrap()
        .unwrap();
    let answer = pairing::request(
        &conn,
        &PairRequest::Enroll {
            secret: hub.ticket().secret,
        },
    )
    .await
    .unwrap();
    assert!(
        matches!(answer, PairResponse::Enrolled { .. }),
        "{answer:?}"
    );
    conn.close(0u32.into(), b"done");
    ep.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_doc_naming_a_members_device_is_neither_pushed_to_it_nor_locks_it_out() {
    let (hub, _home) = start_hub().await;
    // B has enrolled but not uploaded its journal yet (a phone at the desk, mid-way).
    let b = new_member("Bo");
    let b_keys = b.device_keys();
    let b_id = b.vault.device_id().unwrap();
    enroll_only(&b_keys, &hub).await;

    // M, a stranger enrolled at the same center, names B in M's own journal.
    let m = enrolled_member("Mo", &hub).await;
    let m_doc = m.vault.journal_id().unwrap();
    let stand_in = DevicePublic {
        id: b_id,
        recipient: m.vault.device_public().unwrap().recipient,
    };
    m.vault.authorize_device(&stand_in, Role::Reader).unwrap();
    sync(&m.vault).await;

    // The hub does not offer M's doc to B, neither in its hello ...
    let mut raw = Raw::connect(&b_keys, &hub).await;
    let docs = offered(&mut raw, None).await;
    assert!(!docs.contains(&m_doc), "the hub offered B a stranger's doc");
    // ... nor live: M writes while B is connected, and nothing reaches B.
    m.vault.add_checkin(&checkin(2, "unsolicited")).unwrap();
    sync(&m.vault).await;
    match tokio::time::timeout(Duration::from_millis(800), raw.read()).await {
        Err(_) => {}
        Ok(got) => panic!("the hub sent B something unasked: {got:?}"),
    }
    raw.close().await;

    // M removes B from M's doc: B, which never joined it, is not locked out.
    m.vault.remove_device(b_id).unwrap();
    sync(&m.vault).await;
    let b_doc = b.vault.journal_id().unwrap();
    b.vault
        .authorize_device(
            &DevicePublic {
                id: hub.id(),
                recipient: hub_recipient(&hub).await,
            },
            Role::Store,
        )
        .unwrap();
    b.vault.remember_peer(&hub_peer(&hub)).unwrap();
    b.vault.add_checkin(&checkin(4, "B's own")).unwrap();
    let synced = tokio::time::timeout(WAIT * 2, device::sync_once(&b.vault, &net(), None))
        .await
        .expect("sync timed out");
    assert!(synced.is_ok(), "B was locked out by a stranger: {synced:?}");

    // B's own journal is offered to B (it joined it by pushing), M's still is not.
    let mut raw = Raw::connect(&b_keys, &hub).await;
    let docs = offered(&mut raw, Some(b_doc)).await;
    assert_eq!(docs, vec![b_doc]);
    raw.close().await;
    assert_eq!(notes(&b.vault), vec!["B's own".to_string()]);
    hub.shutdown().await.unwrap();
}

/// The hub's age recipient, as enrollment tells it (a second enrollment of a
/// throwaway key).
async fn hub_recipient(hub: &hearth_hub::Hub) -> String {
    let keys = DeviceKeys::derive(&hearth_core::identity::Seed::generate()).unwrap();
    let ep = bind_endpoint(keys.endpoint_key(), &net(), Vec::new())
        .await
        .unwrap();
    let conn = ep
        .connect(hub.ticket().addr.clone(), PAIR_ALPN)
        .await
        .unwrap();
    let answer = pairing::request(
        &conn,
        &PairRequest::Enroll {
            secret: hub.ticket().secret,
        },
    )
    .await
    .unwrap();
    conn.close(0u32.into(), b"done");
    ep.close().await;
    match answer {
        PairResponse::Enrolled { recipient, .. } => recipient,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_new_device_gets_what_the_hub_holds_on_its_first_sync() {
    // The hub offers a doc only to devices that joined it; a member's new device joins
    // by listing its journal, and still gets everything in one sync.
    let (hub, _home) = start_hub().await;
    let a = enrolled_member("Sam", &hub).await;
    let b = crate::add_device(&a.vault, Role::Owner);
    sync(&a.vault).await;
    a.vault.add_checkin(&checkin(3, "only on the hub")).unwrap();
    sync(&a.vault).await;
    sync(&b.vault).await;
    assert!(notes(&b.vault).contains(&"only on the hub".to_string()));
    hub.shutdown().await.unwrap();
}
