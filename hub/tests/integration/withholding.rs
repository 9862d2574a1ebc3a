//! A hub that withholds is caught. The double here plays the attacker: the real blind
//! store, served over a real iroh endpoint, that leaves chosen bundles out of what it
//! lists and sends. The member's device finds the gap in the author's chain after
//! syncing and says so in plain words: in `sync_once`'s summary and `Vault::withheld`,
//! in the output of the real `hearth sync` and `hearth status`, and to the app's
//! listener through the FFI.

use std::collections::BTreeSet;
use std::sync::Arc;

use hearth_core::access::Role;
use hearth_core::blind::BlindStore;
use hearth_core::device;
use hearth_core::identity::{DeviceKeys, Seed};
use hearth_core::ids::{DeviceId, DocId};
use hearth_core::pairing::PeerAddr;
use hearth_core::store::{ItemsCursor, Store};
use hearth_core::sync::net::{Hooks, bind_endpoint, run_connection};
use hearth_core::sync::{Checked, ItemId, Replica, SYNC_ALPN, SyncError, SyncItem};
use hearth_core::vault::DevicePublic;

use hearth_mobile::{
    ChangeOrigin, HearthError as AppError, HearthListener, KeyStore as AppKeyStore, SyncStatus,
    open_hearth,
};

use crate::refusals::bundles;
use crate::{WAIT, add_device, bin, checkin, net, new_member, notes};

// `Fixture` keeps `a` and `b` as the crate's test devices.

/// The real blind store, minus the items it chooses to hide.
struct Withholding {
    inner: Arc<BlindStore>,
    hidden: std::sync::Mutex<BTreeSet<ItemId>>,
    /// How many of the hidden items are access records (its summary counts them).
    hidden_acl: std::sync::Mutex<usize>,
    /// An older state it answers with instead of what it stores (it kept a copy).
    frozen: std::sync::Mutex<Option<Vec<SyncItem>>>,
}

impl Withholding {
    fn hidden(&self) -> BTreeSet<ItemId> {
        self.hidden.lock().unwrap().clone()
    }
}

impl Replica for Withholding {
    fn docs_for(&self, peer: &DeviceId) -> Result<Vec<DocId>, SyncError> {
        self.inner.docs_for(peer)
    }
    fn may_hold(&self, doc: &DocId, peer: &DeviceId) -> bool {
        self.inner.may_hold(doc, peer)
    }
    fn may_take(&self, doc: &DocId, peer: &DeviceId) -> bool {
        self.inner.may_take(doc, peer)
    }
    fn item_ids(&self, doc: &DocId) -> Result<(Vec<ItemId>, usize), SyncError> {
        if let Some(old) = &*self.frozen.lock().unwrap() {
            let acl = old.iter().filter(|i| matches!(i, SyncItem::Acl(_))).count();
            return Ok((old.iter().map(SyncItem::id).collect(), acl));
        }
        let (ids, acl) = self.inner.item_ids(doc)?;
        let hidden = self.hidden();
        let hidden_acl = *self.hidden_acl.lock().unwrap();
        Ok((
            ids.into_iter().filter(|i| !hidden.contains(i)).collect(),
            acl - hidden_acl,
        ))
    }
    fn answer_skips(
        &self,
        doc: &DocId,
        theirs: BTreeSet<ItemId>,
    ) -> Result<BTreeSet<ItemId>, SyncError> {
        let mut skip = self.inner.answer_skips(doc, theirs)?;
        skip.extend(self.hidden());
        Ok(skip)
    }
    fn items_page(
        &self,
        doc: &DocId,
        skip: &BTreeSet<ItemId>,
        from: Option<&ItemsCursor>,
        budget: usize,
    ) -> Result<(Vec<SyncItem>, Option<ItemsCursor>), SyncError> {
        if let Some(old) = &*self.frozen.lock().unwrap() {
            let lacking = old.iter().filter(|i| !skip.contains(&i.id()));
            return Ok((lacking.cloned().collect(), None));
        }
        self.inner.items_page(doc, skip, from, budget)
    }
    fn observe_hello(&self, peer: &DeviceId, listed: &[DocId]) -> Result<(), SyncError> {
        self.inner.observe_hello(peer, listed)
    }
    fn may_connect(&self, peer: &DeviceId) -> bool {
        self.inner.may_connect(peer)
    }
    fn access_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.access_changes()
    }
    fn check(
        &self,
        doc: &DocId,
        peer: &DeviceId,
        items: Vec<SyncItem>,
    ) -> Result<Checked, SyncError> {
        self.inner.check(doc, peer, items)
    }
    fn commit(&self, checked: Checked) -> Result<(), SyncError> {
        self.inner.commit(checked)
    }
}

/// A withholding hub serving on loopback, and a member with two devices using it.
struct Fixture {
    hub: Arc<Withholding>,
    blind: Arc<BlindStore>,
    ep: iroh::Endpoint,
    serving: tokio::task::JoinHandle<()>,
    a: crate::Device,
    b: crate::Device,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn start() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let keys = DeviceKeys::derive(&Seed::generate()).unwrap();
        let store = Store::open(&dir.path().join("hub.redb"), true).unwrap();
        let blind = Arc::new(BlindStore::open(store, keys.id()).unwrap());
        let hub = Arc::new(Withholding {
            inner: blind.clone(),
            hidden: Default::default(),
            hidden_acl: Default::default(),
            frozen: Default::default(),
        });
        let ep = bind_endpoint(keys.endpoint_key(), &net(), vec![SYNC_ALPN.to_vec()])
            .await
            .unwrap();
        let serving = {
            let (ep, hub) = (ep.clone(), hub.clone());
            tokio::spawn(async move {
                while let Some(incoming) = ep.accept().await {
                    let hub: Arc<dyn Replica> = hub.clone();
                    tokio::spawn(async move {
                        if let Ok(conn) = incoming.await {
                            let hooks = Hooks {
                                stay_open: true,
                                ..Hooks::once()
                            };
                            let _ = run_connection(conn, hub, hooks, false).await;
                        }
                    });
                }
            })
        };
        let a = new_member("Sam");
        a.vault
            .authorize_device(
                &DevicePublic {
                    id: keys.id(),
                    recipient: keys.recipient().to_string(),
                },
                Role::Store,
            )
            .unwrap();
        let b = add_device(&a.vault, Role::Owner);
        for d in [&a, &b] {
            blind.enroll(d.vault.device_id().unwrap()).unwrap();
            d.vault
                .remember_peer(&PeerAddr {
                    hub: true,
                    addr: ep.addr(),
                })
                .unwrap();
        }
        Fixture {
            hub,
            blind,
            ep,
            serving,
            a,
            b,
            _dir: dir,
        }
    }

    /// Everything the hub stores of the journal now.
    fn stored(&self) -> BTreeSet<ItemId> {
        let doc = self.a.vault.journal_id().unwrap();
        self.blind.item_ids(&doc).unwrap().0.into_iter().collect()
    }

    /// From now on the hub lists and sends only `these` (of what it stores).
    fn serve_only(&self, these: &BTreeSet<ItemId>) {
        let hidden: BTreeSet<ItemId> = self.stored().difference(these).copied().collect();
        let records = self.a.vault.sync_items().unwrap();
        *self.hub.hidden_acl.lock().unwrap() = records
            .iter()
            .filter(|i| matches!(i, SyncItem::Acl(_)) && hidden.contains(&i.id()))
            .count();
        *self.hub.hidden.lock().unwrap() = hidden;
    }

    /// Every item the hub stores of the journal now, as it would send them.
    fn copy(&self) -> Vec<SyncItem> {
        let doc = self.a.vault.journal_id().unwrap();
        let (items, _) = self
            .blind
            .items_page(&doc, &BTreeSet::new(), None, usize::MAX)
            .unwrap();
        items
    }

    async fn stop(self) {
        self.serving.abort();
        self.ep.close().await;
    }
}

/// The bundle `d` wrote just before its last one (its next-to-last check-in).
fn next_to_last(d: &crate::Device) -> ItemId {
    let mine = d.vault.device_id().unwrap();
    let mut written: Vec<_> = bundles(&d.vault.sync_items().unwrap())
        .into_iter()
        .filter(|x| x.header().author == mine)
        .collect();
    written.sort_by_key(|x| x.header().seq);
    ItemId(written[written.len() - 2].id().0)
}

async fn sync(vault: &Arc<hearth_core::vault::Vault>) -> Vec<String> {
    device::sync_once(vault, &net(), None)
        .await
        .unwrap()
        .withheld
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_that_withholds_an_entry_is_reported_by_the_members_other_device() {
    let f = Fixture::start().await;
    let (a, b, hub) = (&f.a, &f.b, &f.hub);
    for note in ["one", "two", "three"] {
        a.vault.add_checkin(&checkin(3, note)).unwrap();
    }
    let sent = device::sync_once(&a.vault, &net(), None).await.unwrap();
    assert!(sent.withheld.is_empty(), "{:?}", sent.withheld);

    // The hub hides A's "two" from B, and hands over the rest.
    let mine = a.vault.device_id().unwrap();
    hub.hidden.lock().unwrap().insert(next_to_last(a));

    let got = device::sync_once(&b.vault, &net(), None).await.unwrap();
    assert!(notes(&b.vault).contains(&"one".to_string()));
    assert!(!notes(&b.vault).contains(&"two".to_string()));
    assert_eq!(got.withheld.len(), 1, "{:?}", got.withheld);
    let words = &got.withheld[0];
    assert!(
        words.contains("the hub may be withholding 1 entry from your device")
            && words.contains(&mine.short()),
        "{words}"
    );

    // When the hub hands it over, the report goes away.
    hub.hidden.lock().unwrap().clear();
    let healed = device::sync_once(&b.vault, &net(), None).await.unwrap();
    assert!(healed.withheld.is_empty(), "{:?}", healed.withheld);
    assert!(b.vault.withheld().unwrap().is_empty());
    assert!(notes(&b.vault).contains(&"two".to_string()));
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_that_answers_with_an_older_state_is_caught_and_given_back_what_it_lost() {
    let f = Fixture::start().await;
    let (a, b) = (&f.a, &f.b);
    let d = add_device(&a.vault, Role::Owner);
    a.vault.add_checkin(&checkin(3, "early")).unwrap();
    assert!(sync(&a.vault).await.is_empty());
    assert!(sync(&b.vault).await.is_empty());
    let early = f.stored();

    // The member removes a device and writes on; both devices reconcile with the hub.
    a.vault.remove_device(d.vault.device_id().unwrap()).unwrap();
    a.vault.add_checkin(&checkin(4, "late")).unwrap();
    assert!(sync(&a.vault).await.is_empty());
    assert!(sync(&b.vault).await.is_empty());
    assert!(notes(&b.vault).contains(&"late".to_string()));

    // The hub goes back to what it held before the removal.
    f.serve_only(&early);
    let found = sync(&b.vault).await;
    assert!(
        found
            .iter()
            .any(|w| w.contains("access changes where it held")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|w| w.contains("no longer lists the newest entry")),
        "{found:?}"
    );
    // `hearth status` shows the same until a reconciliation finds nothing missing.
    assert_eq!(b.vault.withheld().unwrap(), found);
    // What B sent again reached the hub's store.
    f.serve_only(&f.stored());
    assert!(sync(&b.vault).await.is_empty());
    assert!(b.vault.withheld().unwrap().is_empty());
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_that_drops_a_removal_record_it_held_is_caught_by_the_device_that_made_it() {
    let f = Fixture::start().await;
    let a = &f.a;
    let d = add_device(&a.vault, Role::Owner);
    assert!(sync(&a.vault).await.is_empty());
    let before = f.stored();
    a.vault.remove_device(d.vault.device_id().unwrap()).unwrap();
    assert!(sync(&a.vault).await.is_empty());

    // The hub drops the removal record (and only that).
    let records: BTreeSet<ItemId> = a
        .vault
        .sync_items()
        .unwrap()
        .iter()
        .filter(|i| matches!(i, SyncItem::Acl(_)))
        .map(SyncItem::id)
        .collect();
    let removal: Vec<ItemId> = records.difference(&before).copied().collect();
    assert_eq!(removal.len(), 1, "one new access record: the removal");
    let mut shown = f.stored();
    shown.remove(&removal[0]);
    f.serve_only(&shown);
    let found = sync(&a.vault).await;
    assert!(
        found
            .iter()
            .any(|w| w.contains("withholding a device removal")),
        "{found:?}"
    );
    f.stop().await;
}

/// The attack no chain can show: the hub hides a removal, and the entries written
/// after it, from a device that never saw them (no later entry of theirs leaves a
/// gap, and the device lists nothing the hub dropped). The device's own checks find
/// nothing; when it meets the member's other device directly, the two compare what the
/// hub held at each one's last sync, and the device that was given less is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_and_entries_hidden_from_a_device_that_never_saw_them_are_caught_when_the_devices_meet()
 {
    let f = Fixture::start().await;
    let (a, b) = (&f.a, &f.b);
    let lost = add_device(&a.vault, Role::Owner);
    a.vault.add_checkin(&checkin(3, "before")).unwrap();
    assert!(sync(&a.vault).await.is_empty());
    assert!(sync(&b.vault).await.is_empty());
    let before = f.copy();

    // The member removes the lost phone and writes on; A's sync stores it all.
    let lost_id = lost.vault.device_id().unwrap();
    a.vault.remove_device(lost_id).unwrap();
    a.vault
        .add_checkin(&checkin(4, "after the removal"))
        .unwrap();
    assert!(sync(&a.vault).await.is_empty());

    // Later (past the clock margin), the hub answers B with the copy it kept of what
    // it held before (bundles the new snapshot replaced included).
    tokio::time::sleep(std::time::Duration::from_millis(
        hearth_core::vault::CLOCK_MARGIN_MS + 500,
    ))
    .await;
    *f.hub.frozen.lock().unwrap() = Some(before);
    let missed = sync(&b.vault).await;
    assert!(missed.is_empty(), "B alone cannot tell: {missed:?}");
    assert!(!notes(&b.vault).contains(&"after the removal".to_string()));
    let active = |v: &hearth_core::vault::Vault| {
        v.devices()
            .unwrap()
            .iter()
            .any(|d| d.id == lost_id && d.state == hearth_core::vault::DeviceState::Active)
    };
    assert!(active(&b.vault), "B has not heard of the removal");

    // A listens (as the app does on the center's Wi-Fi); B syncs and reaches it.
    let (live, _) = device::Live::start(a.vault.clone(), &net(), None, false, None)
        .await
        .unwrap();
    b.vault
        .remember_peer(&PeerAddr {
            hub: false,
            addr: live.addr().clone(),
        })
        .unwrap();
    let found = sync(&b.vault).await;
    let a_short = a.vault.device_id().unwrap().short();
    assert!(
        found.iter().any(|w| w.contains("may be withholding")
            && w.contains("access change")
            && w.contains(&a_short)),
        "{found:?}"
    );
    // `hearth status` says the same; B now holds what A passed on, removal included.
    assert_eq!(b.vault.withheld().unwrap(), found);
    assert!(notes(&b.vault).contains(&"after the removal".to_string()));
    assert!(!active(&b.vault));
    // A, whose view of the hub is the earlier one, has nothing to report.
    assert!(a.vault.withheld().unwrap().is_empty());

    // Once the hub serves B everything, the next meeting clears the finding.
    *f.hub.frozen.lock().unwrap() = None;
    sync(&b.vault).await;
    let left = sync(&b.vault).await;
    assert!(left.is_empty(), "{left:?}");
    assert!(b.vault.withheld().unwrap().is_empty());
    live.shutdown().await;
    f.stop().await;
}

/// What the app's listener hears, kept for the test to wait on.
struct Heard(std::sync::mpsc::Sender<SyncStatus>);

impl HearthListener for Heard {
    fn on_change(&self, _origin: ChangeOrigin) {}
    fn on_sync_status(&self, status: SyncStatus) {
        let _ = self.0.send(status);
    }
}

/// The app's key store: the seed the test gives it.
struct Seeded(std::sync::Mutex<Option<Vec<u8>>>);

impl AppKeyStore for Seeded {
    fn load(&self) -> Result<Option<Vec<u8>>, AppError> {
        Ok(self.0.lock().unwrap().clone())
    }
    fn save(&self, seed: Vec<u8>) -> Result<(), AppError> {
        *self.0.lock().unwrap() = Some(seed);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withholding_hub_is_reported_by_hearth_sync_and_status_and_to_the_apps_listener() {
    let f = Fixture::start().await;
    let a = &f.a;
    // The member's laptop (the `hearth` CLI) and phone (the app), both at the hub.
    let laptop = add_device(&a.vault, Role::Owner);
    let phone = add_device(&a.vault, Role::Owner);
    for d in [&laptop, &phone] {
        f.blind.enroll(d.vault.device_id().unwrap()).unwrap();
    }
    for note in ["one", "two", "three"] {
        a.vault.add_checkin(&checkin(3, note)).unwrap();
    }
    assert!(sync(&a.vault).await.is_empty());

    // The hub hides A's "two" from everyone from now on.
    let mine = a.vault.device_id().unwrap();
    f.hub.hidden.lock().unwrap().insert(next_to_last(a));
    let said = format!(
        "the hub may be withholding 1 entry from your device {}",
        mine.short()
    );

    // `hearth sync` says so in one line, and `hearth status` keeps saying it.
    let home = laptop.close();
    let hearth = |args: &[&str]| {
        let out = std::process::Command::new(bin("hearth"))
            .arg("--home")
            .arg(&home.path)
            .args(["--bind", "127.0.0.1:0", "--local-discovery", "off"])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "hearth {args:?}: {text}");
        text
    };
    let synced = hearth(&["sync"]);
    assert!(
        synced
            .lines()
            .any(|l| l.starts_with("Warning: ") && l.contains(&said)),
        "{synced}"
    );
    let status = hearth(&["status"]);
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("warning:") && l.contains(&said)),
        "{status}"
    );

    // The app, online for live sync, hears it on its listener.
    let home = phone.close();
    let app = open_hearth(
        home.path.to_string_lossy().into_owned(),
        Arc::new(Seeded(std::sync::Mutex::new(Some(home.seed.clone())))),
        Some("127.0.0.1:0".into()),
    )
    .await
    .unwrap();
    let (tx, heard) = std::sync::mpsc::channel();
    let _subscription = app.subscribe(Arc::new(Heard(tx))).unwrap();
    app.go_online().await.unwrap();
    let warned = tokio::task::spawn_blocking(move || {
        loop {
            match heard.recv_timeout(WAIT) {
                Ok(SyncStatus::Withheld { warnings, .. }) => break warnings,
                Ok(_) => {}
                Err(e) => panic!("the listener never heard of the withheld entry: {e}"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains(&said), "{warned:?}");
    // The app's own "sync now" report carries it too.
    let report = app.sync().await.unwrap();
    assert!(
        report.withheld.iter().any(|w| w.contains(&said)),
        "{report:?}"
    );
    app.go_offline().await.unwrap();
    f.stop().await;
}
