//! The center over `hearth/center/1` with a real hub and real member vaults: places
//! decided in arrival order and the status reaching every device of the member, a
//! sign-up made offline decided when it arrives, twenty devices at once for five
//! places, proposals counted once per member and never by name, the resource
//! directory read offline, and strangers and removed devices turned away.

use std::sync::Arc;

use hearth_core::access::Role;
use hearth_core::center::{
    NewSignUp, ProgramDraft, ProgramKind, ProposalDraft, ResourceDraft, ResourceKind, SessionId,
    SignUpStatus,
};
use hearth_core::device;
use hearth_core::ids::DeviceId;
use hearth_core::wire::now_ms;
use hearth_hub::Hub;

use crate::{Device, WAIT, add_device, enrolled_member, net, sync};

const HOUR: u64 = 3_600_000;

/// A hub that lets a test's members all enroll and dial at once.
async fn start_hub() -> (Hub, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let hub = Hub::start(open_config(home.path())).await.unwrap();
    (hub, home)
}

/// Every member here dials from 127.0.0.1 (phones on the Wi-Fi each have an address
/// of their own): the per-address limits on enrollments and handshakes are opened.
fn open_config(home: &std::path::Path) -> hearth_hub::HubConfig {
    hearth_hub::HubConfig {
        enroll_limits: hearth_hub::EnrollLimits::per_minute(u32::MAX, u32::MAX),
        limits: hearth_hub::HubLimits {
            handshakes: (10_000, 10_000),
            ..hearth_hub::HubLimits::default()
        },
        ..hearth_hub::HubConfig::new(home.to_owned(), net())
    }
}

fn program(hub: &Hub, capacity: u16) -> SessionId {
    let c = hub.center();
    let p = c
        .create_program(&ProgramDraft {
            title: "Tuesday peer support".into(),
            kind: ProgramKind::SupportGroup,
            description: "An hour together, no appointment.".into(),
            facilitator: "Dee (peer coach)".into(),
            place: "Room 2".into(),
            accessibility: "Step-free".into(),
        })
        .unwrap();
    c.add_session(p, now_ms() + 24 * HOUR, now_ms() + 25 * HOUR, capacity)
        .unwrap()
}

async fn center_sync(d: &Device) {
    tokio::time::timeout(WAIT * 2, device::sync_centers(&d.vault, &net()))
        .await
        .expect("center sync timed out")
        .expect("center sync");
}

fn status(d: &Device) -> SignUpStatus {
    let s = d.vault.signups().unwrap();
    assert_eq!(s.len(), 1, "{s:?}");
    s[0].status
}

fn sign_up(d: &Device, hub: DeviceId, session: SessionId, nickname: &str) {
    d.vault
        .sign_up(
            hub,
            session,
            &NewSignUp {
                nickname: nickname.into(),
                note: String::new(),
                remind_minutes: Some(30),
            },
            now_ms(),
        )
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn places_go_in_arrival_order_and_a_withdrawal_promotes_the_next_on_every_device() {
    let (hub, _home) = start_hub().await;
    let session = program(&hub, 2);
    let mut members = Vec::new();
    for name in ["Ana", "Bo", "Cy"] {
        let m = enrolled_member(name, &hub).await;
        center_sync(&m).await;
        members.push(m);
    }
    for (m, nick) in members.iter().zip(["ana", "bo", "cy"]) {
        sign_up(m, hub.id(), session, nick);
        assert_eq!(status(m), SignUpStatus::Pending);
        center_sync(m).await;
    }
    assert_eq!(status(&members[0]), SignUpStatus::Confirmed);
    assert_eq!(status(&members[1]), SignUpStatus::Confirmed);
    assert_eq!(
        status(&members[2]),
        SignUpStatus::Waitlisted { position: 1 }
    );

    // Cy's second device learns the sign-up and its status through the journal.
    let cy2 = add_device(&members[2].vault, Role::Owner);
    sync(&members[2].vault).await;
    sync(&cy2.vault).await;
    assert_eq!(status(&cy2), SignUpStatus::Waitlisted { position: 1 });

    // Ana withdraws; Cy is promoted and sees it on the device that did not sign up.
    let ana = members[0].vault.signups().unwrap()[0].id;
    members[0].vault.withdraw(&ana.to_string()[..10]).unwrap();
    center_sync(&members[0]).await;
    assert_eq!(status(&members[0]), SignUpStatus::Withdrawn);
    center_sync(&cy2).await;
    assert_eq!(status(&cy2), SignUpStatus::Confirmed);
    // The flyer every device reads agrees: two places taken, nobody waiting.
    let flyer = cy2.vault.flyer(&hub.id()).unwrap().unwrap();
    let s = flyer.session(session).unwrap();
    assert_eq!((s.taken, s.waiting), (2, 0));
    let roster = hub.center().roster(session).unwrap();
    let confirmed: Vec<&str> = roster
        .iter()
        .filter(|l| l.status == SignUpStatus::Confirmed)
        .map(|l| l.nickname.as_str())
        .collect();
    assert_eq!(confirmed, vec!["bo", "cy"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_devices_at_once_for_five_places_get_exactly_five_and_all_agree() {
    let (hub, _home) = start_hub().await;
    let session = program(&hub, 5);
    let mut members = Vec::new();
    for i in 0..20 {
        let m = enrolled_member(&format!("m{i}"), &hub).await;
        center_sync(&m).await;
        sign_up(&m, hub.id(), session, &format!("m{i}"));
        members.push(Arc::new(m));
    }
    let tasks: Vec<_> = members
        .iter()
        .map(|m| {
            let m = m.clone();
            tokio::spawn(async move { center_sync(&m).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mine: Vec<(String, SignUpStatus)> = members
        .iter()
        .map(|m| {
            let s = &m.vault.signups().unwrap()[0];
            (s.nickname.clone(), s.status)
        })
        .collect();
    let confirmed: Vec<&String> = mine
        .iter()
        .filter(|(_, s)| *s == SignUpStatus::Confirmed)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(confirmed.len(), 5, "{mine:?}");
    let roster = hub.center().roster(session).unwrap();
    for (nick, st) in &mine {
        let line = roster.iter().find(|l| &l.nickname == nick).unwrap();
        assert_eq!(line.status, *st, "{nick}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_made_offline_is_decided_when_it_reaches_the_hub() {
    let (hub, home) = start_hub().await;
    let session = program(&hub, 1);
    let m = enrolled_member("Ana", &hub).await;
    center_sync(&m).await;
    let hub_id = hub.id();
    // The hub comes back on the same address, as a center's box does.
    let mut config = open_config(home.path());
    config.net.bind = hub.addrs()[0];
    hub.shutdown().await.unwrap();
    // Offline: the sign-up is kept, pending, and the center cannot be reached.
    sign_up(&m, hub_id, session, "ana");
    assert!(device::sync_centers(&m.vault, &net()).await.is_err());
    assert_eq!(status(&m), SignUpStatus::Pending);
    // The hub comes back (same home: same id and programs); the next sync decides.
    let hub = Hub::start(config).await.unwrap();
    assert_eq!(hub.id(), hub_id);
    center_sync(&m).await;
    assert_eq!(status(&m), SignUpStatus::Confirmed);
}

/// A device that already counted its member's interest sends a token of its own
/// making (what a stranger inflating the count would do).
async fn device_sends_another_token(
    d: &Device,
    hub: &Hub,
    proposal: hearth_core::center::ProposalId,
) -> Result<u32, String> {
    let ep =
        hearth_core::sync::net::bind_endpoint(&d.vault.endpoint_key().unwrap(), &net(), Vec::new())
            .await
            .unwrap();
    let conn = ep
        .connect(hub.ticket().addr.clone(), hearth_core::center::CENTER_ALPN)
        .await
        .unwrap();
    let answer: hearth_core::center::Answer = hearth_core::sync::message::exchange(
        &conn,
        &hearth_core::center::Request::Interested {
            token: [0x5a; 32],
            proposal,
        },
        hearth_core::center::wire::MAX_ANSWER,
        "answer",
    )
    .await
    .unwrap()
    .unwrap();
    ep.close().await;
    match answer {
        hearth_core::center::Answer::Interest(n) => Ok(n),
        other => Err(format!("{other:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interest_counts_each_member_once_and_a_resource_reads_offline() {
    let (hub, _home) = start_hub().await;
    let proposer = enrolled_member("Pat", &hub).await;
    let proposal = device::propose(
        &proposer.vault,
        &net(),
        ProposalDraft {
            title: "Saturday walk".into(),
            when: "Saturday mornings".into(),
            note: "I could lead it".into(),
        },
    )
    .await
    .unwrap();
    let mut others = Vec::new();
    for name in ["A", "B", "C", "D"] {
        let m = enrolled_member(name, &hub).await;
        assert!(
            device::interested(&m.vault, &net(), proposal)
                .await
                .unwrap()
                >= 1
        );
        others.push(m);
    }
    // D again, from its second device: still four.
    let d2 = add_device(&others[3].vault, Role::Owner);
    sync(&others[3].vault).await;
    sync(&d2.vault).await;
    assert_eq!(
        device::interested(&d2.vault, &net(), proposal)
            .await
            .unwrap(),
        4
    );
    // No file of the center names who showed interest: none of the interested devices' ids, nor
    // their members' pseudonyms there.
    let file = std::fs::read(_home.path().join(hearth_hub::center::CENTER_FILE)).unwrap();
    for d in others.iter().chain([&d2]) {
        let id = d.vault.device_id().unwrap();
        let pseudonym = d.vault.center_secret().unwrap().tag(&hub.id()).pseudonym();
        for needle in [&id.0[..], &pseudonym.0[..], id.to_string().as_bytes()] {
            assert!(!file.windows(needle.len()).any(|w| w == needle));
        }
    }
    // Every device, the proposer's and the interested members', reads four.
    for d in others.iter().chain([&proposer, &d2]) {
        center_sync(d).await;
        let flyer = d.vault.flyer(&hub.id()).unwrap().unwrap();
        assert_eq!(flyer.proposals[0].interested, 4);
    }
    assert_eq!(hub.center().proposals()[0].interested, 4);
    let flyer = proposer.vault.flyer(&hub.id()).unwrap().unwrap();
    // A stranger's device cannot add other members' interest.
    let forged = device_sends_another_token(&others[0], &hub, proposal).await;
    assert!(forged.is_err(), "{forged:?}");
    assert_eq!(hub.center().proposals()[0].interested, 4);
    // No file of the hub names who (the tokens are per proposal; device ids of the
    // interested are nowhere).
    hub.center().adopt(proposal, ProgramKind::Other).unwrap();
    hub.center()
        .add_resource(&ResourceDraft {
            name: "Eastside food bank".into(),
            kind: ResourceKind::Food,
            description: "Groceries, no questions asked".into(),
            hours: "Mon-Fri 9-5".into(),
            contact: "12 Elm St".into(),
        })
        .unwrap();
    center_sync(&others[0]).await;
    hub.shutdown().await.unwrap();
    // Offline: the device still lists the resource and the new program.
    let flyer = others[0].vault.flyer(&flyer.hub).unwrap().unwrap();
    assert_eq!(flyer.resources[0].draft.name, "Eastside food bank");
    assert!(
        flyer
            .programs
            .iter()
            .any(|p| p.draft.title == "Saturday walk")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_removed_while_its_center_connection_is_open_gets_no_further_answer() {
    let (hub, _home) = start_hub().await;
    let owner = enrolled_member("Ana", &hub).await;
    let lost = add_device(&owner.vault, Role::Owner);
    sync(&owner.vault).await;
    sync(&lost.vault).await;
    let ep = hearth_core::sync::net::bind_endpoint(
        &lost.vault.endpoint_key().unwrap(),
        &net(),
        Vec::new(),
    )
    .await
    .unwrap();
    let conn = ep
        .connect(hub.ticket().addr.clone(), hearth_core::center::CENTER_ALPN)
        .await
        .unwrap();
    let ask = |conn: iroh::endpoint::Connection| async move {
        hearth_core::sync::message::exchange::<_, hearth_core::center::Answer>(
            &conn,
            &hearth_core::center::Request::Flyer { have: 0 },
            hearth_core::center::wire::MAX_ANSWER,
            "answer",
        )
        .await
    };
    assert!(matches!(
        ask(conn.clone()).await,
        Ok(Some(hearth_core::center::Answer::Flyer(Some(_))))
    ));
    owner
        .vault
        .remove_device(lost.vault.device_id().unwrap())
        .unwrap();
    sync(&owner.vault).await;
    // The same connection, still open: the next request gets no answer.
    let after = ask(conn).await;
    assert!(
        !matches!(after, Ok(Some(hearth_core::center::Answer::Flyer(_)))),
        "{after:?}"
    );
    ep.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_device_is_turned_away_from_the_center() {
    let (hub, _home) = start_hub().await;
    let session = program(&hub, 3);
    let owner = enrolled_member("Ana", &hub).await;
    let lost = add_device(&owner.vault, Role::Owner);
    sync(&owner.vault).await;
    sync(&lost.vault).await;
    center_sync(&lost).await;
    owner
        .vault
        .remove_device(lost.vault.device_id().unwrap())
        .unwrap();
    sync(&owner.vault).await;
    // The lost phone still holds the member's center secret, and a flyer: the hub
    // refuses it anyway (the journal it joined removed it).
    sign_up(&lost, hub.id(), session, "thief");
    assert!(device::sync_centers(&lost.vault, &net()).await.is_err());
    assert!(hub.center().roster(session).unwrap().is_empty());
}
