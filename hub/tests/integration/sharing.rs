//! Sharing plan sections with a coach through a real hub: the coach's device fetches
//! the share by its code and sees exactly the consented sections, later edits, and
//! nothing else; a comment reaches the member's devices; after revocation the coach's
//! device shows the end, holds no content, and the hub gives it nothing new.

use hearth_core::access::Role;
use hearth_core::model::{ConsentExpiry, NewCheckIn, PlanSection};
use hearth_core::share::ConsentState;
use hearth_core::vault::ShareCode;

use crate::{add_device, enrolled_member, start_hub, sync};

const CANARY: &str = "CANARY-91c3";

/// Whether `needle` occurs in any file under `dir`.
fn found_under(dir: &std::path::Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                return true;
            }
        }
    }
    false
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
        assert!(!found_under(dir, CANARY.as_bytes()), "{}", dir.display());
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
    let ended = tablet.vault.revoke(&granted.consent.id).unwrap();
    assert!(matches!(ended.state, ConsentState::Revoked { .. }));
    sync(&tablet.vault).await;
    sync(&coach.vault).await;
    let after = coach.vault.shared_with_me().unwrap();
    assert!(
        after[0].status.starts_with("sharing ended on "),
        "{after:?}"
    );
    assert!(after[0].plan.is_none());
    assert!(coach.vault.comment(&share, "still here?").is_err());
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

    hub.shutdown().await.unwrap();
    drop(hub_home);
}
