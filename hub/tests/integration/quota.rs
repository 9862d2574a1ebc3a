//! The storage quota per member (its journal and shares): a push that would pass it
//! stores none of its bundles, the member's device is told why (typed, and in one
//! line), and a removal still reaches the hub when the journal is full. Every doc is
//! charged to a member: devices a member let in are charged to it, and a device that
//! is no member's stores nothing of its own.

use hearth_core::access::Role;
use hearth_core::device::{self, NetError};
use hearth_core::model::{ConsentExpiry, PlanSection};
use hearth_core::sync::Refusal;
use hearth_hub::{Hub, HubConfig};
use rand::Rng;

use crate::{WAIT, add_device, checkin, enrolled_member, net, new_member, notes, refused, sync};

/// The quota these tests give the hub: room for a new journal and a few notes.
const QUOTA: u64 = 96 << 10;

/// A note of `len` random characters (they do not compress).
fn noise(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(b"0123456789abcdefghijklmnopqrstuvwxyz"[rng.random_range(0..36)]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_over_the_quota_stores_nothing_and_the_member_is_told_typed() {
    let home = tempfile::tempdir().unwrap();
    let hub = Hub::start(HubConfig {
        quota_bytes: QUOTA,
        ..HubConfig::new(home.path().to_owned(), net())
    })
    .await
    .unwrap();
    let a = enrolled_member("Sam", &hub).await;
    let b = add_device(&a.vault, Role::Owner);
    sync(&a.vault).await;
    sync(&b.vault).await;
    let doc = a.vault.journal_id().unwrap();
    assert!(hub.used_bytes(&doc) > 0);

    // Notes go in until the journal no longer fits.
    let mut refusal = None;
    let mut last = 0;
    for i in 0..40 {
        last = i;
        a.vault
            .add_checkin(&checkin(3, &format!("{i} {}", noise(16_000))))
            .unwrap();
        let before = (hub.stored_bundles(&doc).unwrap(), hub.used_bytes(&doc));
        match tokio::time::timeout(WAIT * 2, device::sync_once(&a.vault, &net(), None))
            .await
            .expect("sync timed out")
        {
            Ok(_) => assert!(hub.used_bytes(&doc) <= QUOTA),
            Err(e) => {
                // Refused: nothing of the push was stored.
                assert_eq!(
                    (hub.stored_bundles(&doc).unwrap(), hub.used_bytes(&doc)),
                    before
                );
                refusal = Some(e);
                break;
            }
        }
    }
    let err = refusal.expect("the hub never refused a push over its quota");
    match &err {
        NetError::HubRefused {
            hub: id,
            refusal:
                Refusal::QuotaExceeded {
                    used_bytes,
                    limit_bytes,
                },
        } => {
            assert_eq!(*id, hub.id());
            assert_eq!(*limit_bytes, QUOTA);
            assert!(*used_bytes <= QUOTA, "{used_bytes}");
        }
        other => panic!("expected a typed quota refusal, got {other:?}"),
    }
    let line = err.to_string();
    assert!(!line.contains('\n'), "{line}");
    assert!(
        line.starts_with("the center's hub is full for your documents:"),
        "{line}"
    );
    assert!(line.contains("used of 96 KB"), "{line}");
    // What the member wrote is safe on the device.
    let prefix = format!("{last} ");
    assert!(notes(&a.vault).iter().any(|n| n.starts_with(&prefix)));

    // The journal is full, yet removing a lost device still reaches the hub: the
    // removal's records go in (its snapshot does not), and the hub refuses the device.
    a.vault.remove_device(b.vault.device_id().unwrap()).unwrap();
    let again = tokio::time::timeout(WAIT * 2, device::sync_once(&a.vault, &net(), None))
        .await
        .expect("sync timed out");
    assert!(
        matches!(again, Err(NetError::HubRefused { .. })),
        "{again:?}"
    );
    let why = refused(&b.device_keys(), &hub).await;
    assert!(why.contains("unknown device"), "{why}");
    hub.shutdown().await.unwrap();
}

/// The count the quota keeps push by push (and shrinks when a confirmed snapshot's
/// bundles are deleted) is what the store holds: a restart, which counts afresh,
/// finds the same number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_count_kept_per_push_matches_the_store_after_a_restart() {
    let home = tempfile::tempdir().unwrap();
    let start = || Hub::start(HubConfig::new(home.path().to_owned(), net()));
    let hub = start().await.unwrap();
    let a = enrolled_member("Sam", &hub).await;
    let b = add_device(&a.vault, Role::Owner);
    for i in 0..5 {
        a.vault
            .add_checkin(&checkin(3, &format!("{i} {}", noise(2_000))))
            .unwrap();
    }
    sync(&a.vault).await;
    let doc = a.vault.journal_id().unwrap();
    let grown = hub.used_bytes(&doc);

    // A compacts; once B has applied the snapshot, the hub deletes what it replaced.
    a.vault.compact().unwrap();
    sync(&a.vault).await;
    let with_snapshot = hub.used_bytes(&doc);
    assert!(with_snapshot > grown);
    sync(&b.vault).await;
    sync(&b.vault).await;
    let settled = hub.used_bytes(&doc);
    assert!(settled < with_snapshot, "{settled} >= {with_snapshot}");
    let member = hub.member_of(&doc).unwrap();
    assert_eq!(hub.usage(&member).bytes, settled, "the member's count");

    hub.shutdown().await.unwrap();
    let hub = start().await.unwrap();
    assert_eq!(hub.used_bytes(&doc), settled, "the kept count drifted");
    assert_eq!(
        hub.usage(&member).bytes,
        settled,
        "the member's count drifted"
    );
    hub.shutdown().await.unwrap();
}

/// A device that never enrolled (a member's tablet, or a stranger's fresh key named as
/// an owner of the stranger's own journal) is charged to the member that let it in:
/// what it makes counts against that member's quota and count of documents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_a_let_in_device_makes_are_charged_to_the_member_that_let_it_in() {
    let (hub, home) = crate::start_hub().await;
    let stranger = enrolled_member("Stranger", &hub).await;
    let key = add_device(&stranger.vault, Role::Owner);
    let coach = enrolled_member("Lee", &hub).await;
    sync(&stranger.vault).await;
    sync(&key.vault).await;
    let card = coach.vault.coach_card("Lee").unwrap();
    let share = key
        .vault
        .share_plan(
            &card,
            &[PlanSection::Crisis],
            "anything",
            ConsentExpiry::Event("never".into()),
        )
        .unwrap()
        .consent
        .share
        .unwrap();
    sync(&key.vault).await;
    let journal = stranger.vault.journal_id().unwrap();
    let payer = hub.member_of(&journal).expect("the journal is charged");
    assert_eq!(hub.member_of(&share), Some(payer), "the key's share");
    let usage = hub.usage(&payer);
    assert_eq!(usage.docs, 2);
    assert_eq!(
        usage.bytes,
        hub.used_bytes(&journal) + hub.used_bytes(&share)
    );
    // The coach's own journal is the coach's.
    let coach_journal = coach.vault.journal_id().unwrap();
    assert_ne!(hub.member_of(&coach_journal), Some(payer));
    // The charges outlive a restart (the share's creator is the key, not the payer).
    hub.shutdown().await.unwrap();
    let hub = Hub::start(HubConfig::new(home.path().to_owned(), net()))
        .await
        .unwrap();
    assert_eq!(hub.member_of(&share), Some(payer));
    assert_eq!(hub.usage(&payer), usage);
    hub.shutdown().await.unwrap();
}

/// A device let in only as a commenter in someone's share (a coach who never
/// enrolled, or a stranger's key named so) stores nothing of its own at the hub:
/// the hub declines its journal, and its sync says it has no access there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_is_no_members_stores_no_document_of_its_own() {
    let (hub, _home) = crate::start_hub().await;
    let phone = enrolled_member("Sam", &hub).await;
    let coach = new_member("Lee");
    let card = coach.vault.coach_card("Lee").unwrap();
    let share = phone
        .vault
        .share_plan(
            &card,
            &[PlanSection::Crisis],
            "support",
            ConsentExpiry::Event("the program ends".into()),
        )
        .unwrap()
        .consent
        .share
        .unwrap();
    sync(&phone.vault).await;
    // The coach's device takes the share up, and (as an attacker's would) names the hub
    // as a store of its own journal and dials it, without ever enrolling.
    coach
        .vault
        .accept_share(&hearth_core::vault::ShareCode(share))
        .unwrap();
    let store = hearth_core::vault::DevicePublic {
        id: hub.id(),
        recipient: hub.recipient().to_string(),
    };
    coach.vault.authorize_device(&store, Role::Store).unwrap();
    coach
        .vault
        .remember_peer(&hearth_core::pairing::PeerAddr {
            hub: true,
            addr: hub.ticket().addr.clone(),
        })
        .unwrap();
    let refused = device::sync_once(&coach.vault, &net(), None)
        .await
        .expect_err("the hub takes nothing of its own");
    assert!(refused.to_string().contains("no access"), "{refused}");
    let coach_journal = coach.vault.journal_id().unwrap();
    assert_eq!(hub.member_of(&coach_journal), None);
    assert!(hub.stored_bundles(&coach_journal).unwrap().is_empty());
    assert_eq!(hub.doc_count(), 2, "the member's journal and the share");
}
