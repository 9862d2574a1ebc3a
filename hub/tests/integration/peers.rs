//! How a one-shot sync treats the member's own devices beside the hub.

use super::*;

/// A device whose remembered address went stale (its endpoint restarted on a new
/// port) does not hold a sync up for the whole device timeout once the hub has
/// answered: it is given up shortly after, and the sync succeeds with the hub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_own_device_is_given_up_once_the_hub_has_synced() {
    let (hub, _home) = start_hub().await;
    let a = enrolled_member("A", &hub).await;
    let b = add_device(&a.vault, Role::Owner);
    // Where B's endpoint was a moment ago; nothing answers there now.
    let gone = bind_endpoint(b.device_keys().endpoint_key(), &net(), Vec::new())
        .await
        .expect("bind");
    let stale = gone.addr();
    gone.close().await;
    a.vault
        .remember_peer(&PeerAddr {
            hub: false,
            addr: stale,
        })
        .expect("remember B");
    a.vault
        .add_checkin(&checkin(3, "still here"))
        .expect("check in");

    let summary = tokio::time::timeout(WAIT, device::sync_once(&a.vault, &net(), None))
        .await
        .expect("sync timed out")
        .expect("the hub answered, so the sync succeeds");
    let hub_id = hearth_core::ids::DeviceId::from(hub.ticket().addr.id);
    assert_eq!(summary.reached, vec![hub_id], "{summary:?}");
    let b_id = b.device_keys().id();
    assert_eq!(summary.failed.len(), 1, "{summary:?}");
    assert_eq!(summary.failed[0].0, b_id, "{summary:?}");
    assert!(
        summary.failed[0]
            .1
            .contains("by the time the hub had synced"),
        "given up because the hub had synced, not after the full device timeout: {summary:?}"
    );
}
