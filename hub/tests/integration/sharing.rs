//! Sharing plan sections with a coach through a real hub: the coach's device fetches
//! the share by its code and sees exactly the consented sections, later edits, and
//! nothing else; a comment reaches the member's devices; after revocation the coach's
//! device shows the end, holds no content, and the hub gives it nothing new.

use std::collections::BTreeSet;

use hearth_core::access::Role;
use hearth_core::doc::{Model, ShareDoc};
use hearth_core::envelope::{DocKey, Envelope};
use hearth_core::identity::DeviceKeys;
use hearth_core::ids::DocId;
use hearth_core::model::{ConsentExpiry, NewCheckIn, PlanSection};
use hearth_core::share::ConsentState;
use hearth_core::store::Store;
use hearth_core::vault::{ShareCode, SyncItem};

use hearth_core::wire::now_ms;
use hearth_hub::{Hub, HubConfig};

use crate::refusals::bundles;
use crate::{add_device, any_file_contains, enrolled_member, hub_items, start_hub, sync};

const CANARY: &str = "CANARY-91c3";

/// What the hub's store holds of `docs`, read from its file after it stopped: the
/// bytes exactly as it keeps them.
fn stored(home: &std::path::Path, docs: &[DocId]) -> Vec<SyncItem> {
    let store = Store::open(&home.join(hearth_hub::STORE_FILE), false).unwrap();
    docs.iter().flat_map(|d| store.items(d).unwrap()).collect()
}

/// Every epoch key `device` could ever open among `items`: what it held, or could
/// have been sent.
fn keys_of(items: &[SyncItem], device: &DeviceKeys) -> Vec<DocKey> {
    items
        .iter()
        .filter_map(|i| match i {
            SyncItem::Envelope(b) => {
                let env = Envelope::decode(b).unwrap();
                (env.body().recipient == device.id()).then(|| env.open(device).unwrap())
            }
            _ => None,
        })
        .collect()
}

/// The share as the hub stores it (`items`), every bundle decrypted with the member's
/// keys and applied as a member's device would.
fn decode_share(items: &[SyncItem], members: &[DeviceKeys]) -> ShareDoc {
    let keys: Vec<DocKey> = members.iter().flat_map(|m| keys_of(items, m)).collect();
    let mut doc = ShareDoc::empty(automerge::ActorId::random());
    for b in bundles(items) {
        let plain = keys
            .iter()
            .find_map(|k| b.decrypt(k).ok())
            .expect("the member's keys open every bundle of the share");
        doc.apply(&plain).unwrap();
    }
    doc
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coach_sees_exactly_the_shared_sections_comments_and_is_out_after_revocation() {
    let (hub, hub_home) = start_hub().await;
    let phone = enrolled_member("Sam", &hub).await;
    let tablet = add_device(&phone.vault, Role::Owner);
    let coach = enrolled_member("Lee", &hub).await;
    let v = &phone.vault;
    v.set_plan_text(PlanSection::Crisis, "Call Jo, then the warmline.")
        .unwrap();
    v.add_plan_item(PlanSection::Toolbox, "walk by the river")
        .unwrap();
    for s in PlanSection::ALL {
        if ![PlanSection::Crisis, PlanSection::Toolbox].contains(&s) {
            v.set_plan_text(s, &format!("{CANARY} in {}", s.key()))
                .unwrap();
        }
    }
    v.add_checkin(&NewCheckIn {
        mood: 2,
        note: format!("{CANARY} in a check-in"),
        ..Default::default()
    })
    .unwrap();

    let card = coach.vault.coach_card("Lee").unwrap();
    let granted = v
        .share_plan(
            &card,
            &[PlanSection::Crisis, PlanSection::Toolbox],
            "support between meetings",
            ConsentExpiry::Event("the program ends".into()),
        )
        .unwrap();
    let share = granted.consent.share.unwrap();
    sync(v).await;
    sync(&tablet.vault).await;
    sync(&tablet.vault).await;
    assert_eq!(
        tablet.vault.shared_plan(&share).unwrap().sections.len(),
        2,
        "the member's other device holds the share"
    );

    // The coach takes it up by its code and fetches it from the hub.
    coach.vault.accept_share(&ShareCode(share)).unwrap();
    sync(&coach.vault).await;
    let mine = coach.vault.shared_with_me().unwrap();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert!(mine[0].consent_valid, "{mine:?}");
    assert!(mine[0].status.starts_with("shared by Sam on "), "{mine:?}");
    let seen = mine[0].plan.clone().unwrap();
    let shown: Vec<(PlanSection, String, Vec<String>)> = seen
        .sections
        .iter()
        .map(|(s, sec)| (*s, sec.text.clone(), sec.items.clone()))
        .collect();
    assert_eq!(
        shown,
        vec![
            (
                PlanSection::Toolbox,
                String::new(),
                vec!["walk by the river".into()]
            ),
            (
                PlanSection::Crisis,
                "Call Jo, then the warmline.".into(),
                vec![]
            ),
        ]
    );
    assert!(!format!("{seen:?}").contains(CANARY));
    for dir in [coach.home(), hub_home.path()] {
        assert!(
            !any_file_contains(dir, CANARY.as_bytes()),
            "{}",
            dir.display()
        );
    }

    // A later edit reaches the coach; a comment reaches the member's devices.
    v.set_plan_text(PlanSection::Crisis, "Call Jo first.")
        .unwrap();
    sync(v).await;
    coach.vault.comment(&share, "Proud of this plan.").unwrap();
    sync(&coach.vault).await;
    let seen = coach.vault.shared_with_me().unwrap()[0]
        .plan
        .clone()
        .unwrap();
    assert_eq!(seen.sections[1].1.text, "Call Jo first.");
    sync(&tablet.vault).await;
    let comments = tablet.vault.shared_plan(&share).unwrap().comments;
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].text, "Proud of this plan.");
    assert_eq!(comments[0].author, coach.vault.device_id().unwrap());

    // Revoked on the tablet: the coach's device shows the end and keeps nothing.
    let journal = v.journal_id().unwrap();
    let before_revoke: BTreeSet<_> = [share, journal]
        .iter()
        .flat_map(|d| hub.stored_bundles(d).unwrap())
        .collect();
    let share_before = hub_items(&hub, &phone.device_keys(), share).await;
    let ended = tablet.vault.revoke(&granted.consent.id).unwrap();
    assert!(matches!(ended.state, ConsentState::Revoked { .. }));
    sync(&tablet.vault).await;
    // As the hub offers it right after the revocation.
    let share_at_revoke = hub_items(&hub, &phone.device_keys(), share).await;
    sync(&coach.vault).await;
    let after = coach.vault.shared_with_me().unwrap();
    assert!(
        after[0].status.starts_with("sharing ended on "),
        "{after:?}"
    );
    assert!(after[0].plan.is_none());
    assert!(coach.vault.comment(&share, "still here?").is_err());
    // The member writes on the phone, which has not heard of the end yet: the edit
    // goes into no share, since the phone projects only once its ledger is current.
    v.set_plan_text(PlanSection::Crisis, "AFTER-REVOKE")
        .unwrap();
    sync(v).await;
    sync(&coach.vault).await;
    assert!(coach.vault.shared_with_me().unwrap()[0].plan.is_none());
    // The phone hears of the end from the ledger, with valid signatures.
    sync(v).await;
    let ledger = v.consents().unwrap();
    assert!(matches!(ledger[0].state, ConsentState::Revoked { .. }));
    assert_eq!(ledger[0].history.len(), 2);

    v.add_checkin(&NewCheckIn {
        mood: 4,
        note: "AFTER-REVOKE in a check-in".into(),
        ..Default::default()
    })
    .unwrap();
    sync(v).await;
    sync(&tablet.vault).await;

    // Every key the coach ever held, or could have been sent, opens nothing written
    // since: the snapshot under the new epoch, the later edits, the journal.
    hub.shutdown().await.unwrap();
    let items = stored(hub_home.path(), &[share, journal]);
    let coach_keys = keys_of(&items, &coach.device_keys());
    assert!(!coach_keys.is_empty(), "the coach held the share's key");
    let mut later: Vec<_> = bundles(&items)
        .into_iter()
        .chain(bundles(&share_at_revoke))
        .filter(|b| !before_revoke.contains(&b.id()))
        .collect();
    later.sort_by_key(|b| b.id());
    later.dedup_by_key(|b| b.id());
    assert!(
        later.iter().any(|b| b.header().doc == share),
        "the revocation wrote into the share (its snapshot under the new epoch)"
    );
    assert!(later.iter().any(|b| b.header().doc == journal));
    // Nothing, but for the end itself if the hub still keeps it: the mark is written
    // under the old key (the same write as the snapshot that replaces it), and holds
    // that mark and nothing else.
    let members = [phone.device_keys(), tablet.device_keys()];
    let before = decode_share(&share_before, &members).view();
    for b in later
        .iter()
        .filter(|b| coach_keys.iter().any(|k| b.decrypt(k).is_ok()))
    {
        let mut with_mark = share_before.clone();
        with_mark.push(SyncItem::Bundle(b.bytes().to_vec()));
        let mut view = decode_share(&with_mark, &members).view();
        let how = view.ended.take().map(|(how, _)| how);
        assert_eq!(how.as_deref(), Some("revoked"), "{:?}", b.header());
        assert_eq!(view, before, "{:?} holds more than the end", b.header());
    }
    let share_items = stored(hub_home.path(), &[share]);
    // The share as the hub holds it, decoded: the shared sections, the end, and
    // nothing else of the journal.
    // (Its uncompressed bytes hold every text ever inserted, deleted or not.)
    let mut decoded = decode_share(&share_items, &members);
    let view = decoded.view();
    assert_eq!(view.sections.len(), 2);
    assert_eq!(view.sections[1].1.text, "Call Jo first.");
    assert_eq!(view.comments[0].text, "Proud of this plan.");
    assert_eq!(
        view.ended.as_ref().map(|(how, _)| how.as_str()),
        Some("revoked")
    );
    let bytes = decoded.save_uncompressed();
    assert!(
        contains(&bytes, "Proud of this plan."),
        "the search reads the doc"
    );
    for absent in [CANARY, "AFTER-REVOKE"] {
        assert!(!contains(&bytes, absent), "{absent} is in the share");
        assert!(!format!("{view:?}").contains(absent));
    }
    drop(hub_home);
}

/// A hub on `home`, listening where `at` was (devices remember its address), its clock
/// moved by `offset_ms`.
async fn hub_at(home: &std::path::Path, at: std::net::SocketAddr, offset_ms: i64) -> Hub {
    let mut net = crate::net();
    net.bind = at;
    Hub::start(HubConfig {
        clock_offset_ms: offset_ms,
        ..HubConfig::new(home.to_owned(), net)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_expiry_the_hub_refuses_the_coach_by_itself_and_the_member_records_the_end() {
    const HOUR: u64 = 3_600_000;
    let (hub, home) = start_hub().await;
    let at = *hub
        .addrs()
        .iter()
        .find(|a| a.ip().is_loopback())
        .expect("a loopback address");
    let phone = enrolled_member("Sam", &hub).await;
    let coach = enrolled_member("Lee", &hub).await;
    let v = &phone.vault;
    v.set_plan_text(PlanSection::Crisis, "Call Jo.").unwrap();
    v.set_plan_text(PlanSection::Goals, CANARY).unwrap();
    let card = coach.vault.coach_card("Lee").unwrap();
    let until = now_ms() + HOUR;
    let granted = v
        .share_plan(
            &card,
            &[PlanSection::Crisis],
            "support this month",
            ConsentExpiry::On(until),
        )
        .unwrap();
    let share = granted.consent.share.unwrap();
    sync(v).await;
    coach.vault.accept_share(&ShareCode(share)).unwrap();
    sync(&coach.vault).await;
    assert!(coach.vault.shared_with_me().unwrap()[0].plan.is_some());

    // Two hours pass on the hub's clock. Nobody of the member's is online: the hub
    // refuses the coach by itself, and the coach's device drops what it held.
    hub.shutdown().await.unwrap();
    let hub = hub_at(home.path(), at, 2 * HOUR as i64).await;
    assert_eq!(
        hub.role_of(&share, &coach.vault.device_id().unwrap()),
        Some(Role::Commenter)
    );
    sync(&coach.vault).await;
    let after = coach.vault.shared_with_me().unwrap();
    assert!(
        after[0].status.starts_with("sharing ended on "),
        "{after:?}"
    );
    assert!(after[0].plan.is_none(), "{after:?}");
    assert!(coach.vault.comment(&share, "still here?").is_err());

    // The member's phone, next online with its clock past the date, records the
    // expiry (signed) and removes the coach's devices for good.
    let later = until + 1;
    let expired = v.expire_consents(later).unwrap();
    assert_eq!(expired.len(), 1);
    assert!(matches!(
        expired[0].state,
        ConsentState::Expired { recorded: true, .. }
    ));
    assert_eq!(expired[0].history.len(), 2, "{:?}", expired[0].history);
    assert!(expired[0].history[1].words.starts_with("expired on "));
    sync(v).await;
    assert_eq!(hub.role_of(&share, &coach.vault.device_id().unwrap()), None);
    v.set_plan_text(PlanSection::Crisis, "AFTER-EXPIRY")
        .unwrap();
    sync(v).await;
    sync(&coach.vault).await;
    assert!(coach.vault.shared_with_me().unwrap()[0].plan.is_none());

    hub.shutdown().await.unwrap();
    let items = stored(home.path(), &[share]);
    let coach_keys = keys_of(&items, &coach.device_keys());
    let newest = bundles(&items)
        .into_iter()
        .map(|b| b.header().epoch)
        .max()
        .unwrap();
    assert!(newest >= 1, "the expiry opened a new epoch");
    for b in bundles(&items)
        .iter()
        .filter(|b| b.header().epoch == newest)
    {
        for k in &coach_keys {
            assert!(b.decrypt(k).is_err());
        }
    }
    let mut decoded = decode_share(&items, &[phone.device_keys()]);
    assert_eq!(decoded.view().sections[0].1.text, "Call Jo.");
    assert_eq!(
        decoded.view().ended.map(|(how, _)| how).as_deref(),
        Some("expired")
    );
    let bytes = decoded.save_uncompressed();
    assert!(contains(&bytes, "Call Jo."), "the search reads the doc");
    assert!(!contains(&bytes, CANARY) && !contains(&bytes, "AFTER-EXPIRY"));
}
