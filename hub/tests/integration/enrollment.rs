//! Enrollment under the staff's control: a rotated ticket enrolls nobody from the
//! moment it is replaced (also while the hub serves) while enrolled devices keep
//! syncing; an expired ticket enrolls nobody; too many attempts are turned away with
//! a clear answer and cost the hub no write.

use hearth_core::device::{self, NetError};
use hearth_core::identity::{DeviceKeys, Seed};
use hearth_core::pairing::{self, PAIR_ALPN, PairRequest, PairResponse, Ticket};
use hearth_core::sync::net::bind_endpoint;
use hearth_hub::enrollment::ENROLL_BURST_PER_ADDR;

use crate::{WAIT, checkin, enrolled_member, net, new_member, notes, refused, start_hub, sync};

/// One enrollment attempt with `ticket`, from a fresh key; returns the key and what
/// the hub answered.
async fn attempt(ticket: &Ticket) -> (DeviceKeys, PairResponse) {
    let keys = DeviceKeys::derive(&Seed::generate()).unwrap();
    let ep = bind_endpoint(keys.endpoint_key(), &net(), Vec::new())
        .await
        .unwrap();
    let conn = tokio::time::timeout(WAIT, ep.connect(ticket.addr.clone(), PAIR_ALPN))
        .await
        .expect("connect timed out")
        .unwrap();
    let answer = pairing::request(
        &conn,
        &PairRequest::Enroll {
            secret: ticket.secret,
        },
    )
    .await
    .unwrap();
    conn.close(0u32.into(), b"done");
    ep.close().await;
    (keys, answer)
}

fn refusal(answer: PairResponse) -> String {
    match answer {
        PairResponse::Refused { reason } => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_ticket_is_refused_while_enrolled_devices_keep_syncing() {
    let (hub, _home) = start_hub().await;
    let old = hub.current_ticket().unwrap();
    let a = enrolled_member("Sam", &hub).await;

    let new = hub.rotate_ticket(None).unwrap();
    assert_ne!(new.secret, old.secret);
    assert_eq!(new.addr, old.addr);

    // The old ticket enrolls nobody from now on, and says why.
    let late = new_member("Lee");
    let err = device::enroll(&late.vault, &old, &net())
        .await
        .expect_err("the replaced ticket still enrolled a device");
    assert!(matches!(err, NetError::Refused(_)), "{err}");
    assert!(err.to_string().contains("not valid"), "{err}");
    let why = refused(&late.device_keys(), &hub).await;
    assert!(why.contains("unknown device"), "{why}");

    // A, enrolled with the old ticket, keeps syncing.
    a.vault
        .add_checkin(&checkin(4, "after the rotation"))
        .unwrap();
    sync(&a.vault).await;

    // The new ticket enrolls.
    let c = new_member("Cy");
    device::enroll(&c.vault, &new, &net()).await.unwrap();
    assert_eq!(hub.enrolled_count(), 2);
    assert!(notes(&a.vault).contains(&"after the rotation".to_string()));
    hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_ticket_enrolls_nobody() {
    let (hub, home) = start_hub().await;
    let mut expired = hub.current_ticket().unwrap();
    expired.expires_at_ms = 1;
    hearth_hub::enrollment::write_ticket(home.path(), &expired).unwrap();
    let (_, answer) = attempt(&expired).await;
    let why = refusal(answer);
    assert!(why.contains("expired"), "{why}");
    assert_eq!(hub.enrolled_count(), 0);
    hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_enrollments_from_one_address_are_refused_without_a_write() {
    let (hub, _home) = start_hub().await;
    let ticket = hub.current_ticket().unwrap();
    for _ in 0..ENROLL_BURST_PER_ADDR {
        let (_, answer) = attempt(&ticket).await;
        assert!(
            matches!(answer, PairResponse::Enrolled { .. }),
            "{answer:?}"
        );
    }
    let (keys, answer) = attempt(&ticket).await;
    let why = refusal(answer);
    assert!(why.contains("too many enrollments"), "{why}");
    assert!(why.contains("try again in a minute"), "{why}");
    // Nothing was recorded for it: it is as unknown as any stranger.
    assert_eq!(hub.enrolled_count(), ENROLL_BURST_PER_ADDR as usize);
    let why = refused(&keys, &hub).await;
    assert!(why.contains("unknown device"), "{why}");
    hub.shutdown().await.unwrap();
}
