//! Sharing with a coach with the real binaries: a member with two devices shares two
//! plan sections with a coach through a real hub; the coach reads exactly those and a
//! later edit, comments, and the member sees the comment; a canary written everywhere
//! else is in no byte the coach or the hub holds; after `hearth revoke` the coach's
//! device says sharing ended and shows no content. The share is then decoded from the
//! hub's store file with the member's keys: exactly the two sections, no canary.

use std::path::Path;

use hearth_core::doc::{Model, ShareDoc};
use hearth_core::envelope::Envelope;
use hearth_core::identity::{DeviceKeys, FileKeyStore, KeyStore};
use hearth_core::store::Store;
use hearth_core::vault::{ShareCode, SyncItem};

use crate::{Device, canary, found_under, start_hub};

/// The share as the stopped hub's store file holds it, every bundle decrypted with the
/// keys of the member's device at `member` and applied as that device would.
fn share_at_hub(hub_home: &Path, code: &str, member: &Path) -> ShareDoc {
    let share = code.parse::<ShareCode>().unwrap().0;
    let seed = FileKeyStore::new(member.join("device.key"))
        .load()
        .unwrap()
        .unwrap();
    let keys = DeviceKeys::derive(&seed).unwrap();
    // `hearth-hub`'s store file (`hearth_hub::STORE_FILE`).
    let items = Store::open(&hub_home.join("hub.redb"), false)
        .unwrap()
        .items(&share)
        .unwrap();
    let doc_keys: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            SyncItem::Envelope(b) => {
                let e = Envelope::decode(b).unwrap();
                (e.body().recipient == keys.id()).then(|| e.open(&keys).unwrap())
            }
            _ => None,
        })
        .collect();
    let mut doc = ShareDoc::empty(automerge::ActorId::random());
    for i in &items {
        if let SyncItem::Bundle(b) = i {
            let b = hearth_core::bundle::Bundle::decode(b).unwrap();
            let plain = doc_keys.iter().find_map(|k| b.decrypt(k).ok()).unwrap();
            doc.apply(&plain).unwrap();
        }
    }
    doc
}

#[test]
fn a_member_shares_two_sections_with_a_coach_who_comments_and_is_out_after_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let hub_home = dir.path().join("hub");
    let (hub, ticket) = start_hub(&hub_home, "127.0.0.1:0", None);
    let (phone, tablet, coach) = (
        Device::new(dir.path(), "phone"),
        Device::new(dir.path(), "tablet"),
        Device::new(dir.path(), "coach"),
    );
    let secret = canary();
    phone.ok(&["init", "--name", "Sam"]);
    phone.ok(&["enroll", &ticket]);
    phone.pair(&tablet);
    coach.ok(&["init", "--name", "Lee"]);
    coach.ok(&["enroll", &ticket]);
    phone.ok(&["plan", "set", "crisis", "Call Jo, then the warmline."]);
    phone.ok(&["plan", "add", "toolbox", "walk by the river"]);
    for s in [
        "daily",
        "triggers",
        "warning-signs",
        "breakdown",
        "post-crisis",
        "goals",
        "strengths",
    ] {
        phone.ok(&["plan", "set", s, &format!("{secret} {s}")]);
    }
    phone.ok(&["checkin", "--mood", "2", "--note", &secret]);

    let card = coach.ok(&["coach", "card"]).trim().to_owned();
    assert!(card.starts_with("hearthcoach"), "{card}");
    let code = phone
        .ok(&[
            "share",
            "plan",
            "--with",
            &card,
            "--sections",
            "crisis,toolbox",
            "--purpose",
            "support between meetings",
            "--yes",
        ])
        .trim()
        .to_owned();
    assert!(code.starts_with("hearthshare"), "{code}");
    phone.ok(&["sync"]);

    coach.ok(&["shared", "add", &code]);
    coach.ok(&["sync"]);
    let list = coach.ok(&["shared"]);
    assert!(list.contains("shared by Sam on "), "{list}");
    let id = list.split_whitespace().next().unwrap().to_owned();
    let shown = coach.ok(&["shared", "show", &id]);
    assert!(shown.contains("Call Jo, then the warmline."), "{shown}");
    assert!(shown.contains("walk by the river"), "{shown}");
    assert!(!shown.contains(&secret), "{shown}");

    phone.ok(&["plan", "set", "crisis", "Call Jo first."]);
    phone.ok(&["sync"]);
    coach.ok(&["sync"]);
    assert!(
        coach
            .ok(&["shared", "show", &id])
            .contains("Call Jo first.")
    );
    coach.ok(&["comment", &id, "Proud of this plan."]);
    coach.ok(&["sync"]);
    tablet.ok(&["sync"]);
    tablet.ok(&["sync"]);
    let consents = tablet.ok(&["consents"]);
    assert!(consents.contains("active  with Lee"), "{consents}");
    let plan = tablet.ok(&["plan", "show"]);
    assert!(plan.contains("Proud of this plan."), "{plan}");

    for home in [coach.home(), hub_home.as_path()] {
        assert!(!found_under(home, secret.as_bytes()), "{}", home.display());
    }

    let consent_id = consents.split_whitespace().next().unwrap().to_owned();
    let ended = tablet.ok(&["revoke", &consent_id]);
    assert!(ended.contains("Sharing with Lee ended."), "{ended}");
    tablet.ok(&["sync"]);
    coach.ok(&["sync"]);
    let list = coach.ok(&["shared"]);
    assert!(list.contains("sharing ended on "), "{list}");
    let shown = coach.ok(&["shared", "show", &id]);
    assert!(!shown.contains("Call Jo"), "{shown}");
    phone.ok(&["sync"]);
    let ledger = phone.ok(&["consents"]);
    assert!(ledger.contains("revoked  with Lee"), "{ledger}");
    assert!(ledger.contains("· revoked on "), "{ledger}");

    drop(hub);
    let mut stored = share_at_hub(&hub_home, &code, phone.home());
    let view = stored.view();
    let sections: Vec<_> = view.sections.iter().map(|(s, _)| s.key()).collect();
    assert_eq!(sections, ["toolbox", "crisis"]);
    assert_eq!(view.sections[1].1.text, "Call Jo first.");
    assert_eq!(view.comments[0].text, "Proud of this plan.");
    let bytes = stored.save_uncompressed();
    assert!(
        !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the canary is in the share"
    );
    assert!(!format!("{view:?}").contains(&secret));
}
