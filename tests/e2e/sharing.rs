//! Sharing with a coach with the real binaries: a member with two devices shares two
//! plan sections with a coach through a real hub; the coach reads exactly those and a
//! later edit, comments, and the member sees the comment; a canary written everywhere
//! else is in no byte the coach or the hub holds; after `hearth revoke` the coach's
//! device says sharing ended and shows no content.

use crate::{Device, canary, found_under, start_hub};

#[test]
fn a_member_shares_two_sections_with_a_coach_who_comments_and_is_out_after_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let hub_home = dir.path().join("hub");
    let (_hub, ticket) = start_hub(&hub_home, "127.0.0.1:0", None);
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
}
