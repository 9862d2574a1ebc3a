use std::sync::Arc;

use hearth_core::center::{
    MemberSecret, ProgramDraft, ProgramKind, ProposalDraft, ResourceDraft, ResourceKind, SignUpId,
    SignUpStatus,
};
use hearth_core::identity::{DeviceKeys, Seed};

use super::*;

const HOUR: u64 = 3_600_000;
const NOW: u64 = 1_796_083_200_000; // 2026-12-01T00:00Z

fn hub_key() -> iroh::SecretKey {
    DeviceKeys::derive(&Seed::from_bytes([9; 32]))
        .unwrap()
        .endpoint_key()
        .clone()
}

fn center(dir: &Path) -> Center {
    Center::open(dir, hub_key(), 30).unwrap()
}

fn art() -> ProgramDraft {
    ProgramDraft {
        title: "Open art studio".into(),
        kind: ProgramKind::Art,
        description: "Paint, clay, collage.".into(),
        facilitator: "Rosa".into(),
        place: "Back room".into(),
        accessibility: "Step-free".into(),
    }
}

struct Member {
    device: DeviceId,
    tag: MemberTag,
}

impl Member {
    fn who(&self) -> Asker<'_> {
        Asker {
            device: self.device,
            tag: &self.tag,
        }
    }
}

fn asker(device: DeviceId, tag: &MemberTag) -> Asker<'_> {
    Asker { device, tag }
}

fn member(n: u8, hub: &DeviceId) -> Member {
    Member {
        device: DeviceId([n; 32]),
        tag: MemberSecret::from_bytes([n; 32]).tag(hub),
    }
}

fn status_of(list: &[(SignUpId, SignUpStatus)], id: SignUpId) -> SignUpStatus {
    list.iter()
        .find(|(i, _)| *i == id)
        .map(|(_, s)| *s)
        .unwrap()
}

#[test]
fn twenty_members_at_once_for_five_places_get_exactly_five_in_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    let c = Arc::new(center(dir.path()));
    let hub = DeviceId::from(hub_key().public());
    let p = c.create_program(&art()).unwrap();
    let s = c.add_session(p, NOW + HOUR, NOW + 2 * HOUR, 5).unwrap();
    let handles: Vec<_> = (1..=20u8)
        .map(|n| {
            let c = c.clone();
            std::thread::spawn(move || {
                let m = member(n, &hub);
                let id = SignUpId::new(NOW);
                let st = c
                    .sign_up(m.who(), id, s, &format!("m{n}"), "", NOW)
                    .unwrap();
                (m, id, status_of(&st, id))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let confirmed: Vec<_> = results
        .iter()
        .filter(|(_, _, st)| *st == SignUpStatus::Confirmed)
        .collect();
    assert_eq!(confirmed.len(), 5);
    // The roster and every member's own view agree, also after a restart.
    let roster = c.roster(s).unwrap();
    assert_eq!(
        roster
            .iter()
            .filter(|l| l.status == SignUpStatus::Confirmed)
            .count(),
        5
    );
    assert_eq!(c.session(s).unwrap().taken, 5);
    assert_eq!(c.session(s).unwrap().waiting, 15);
    drop(c);
    let c = center(dir.path());
    for (m, id, st) in &results {
        assert_eq!(status_of(&c.statuses(m.who()).unwrap(), *id), *st);
    }
}

#[test]
fn a_withdrawal_promotes_the_next_member_and_only_the_member_may_withdraw() {
    let dir = tempfile::tempdir().unwrap();
    let c = center(dir.path());
    let hub = DeviceId::from(hub_key().public());
    let p = c.create_program(&art()).unwrap();
    let s = c.add_session(p, NOW + HOUR, NOW + 2 * HOUR, 2).unwrap();
    let ms: Vec<Member> = (1..=3).map(|n| member(n, &hub)).collect();
    let ids: Vec<SignUpId> = ms
        .iter()
        .map(|m| {
            let id = SignUpId::new(NOW);
            c.sign_up(m.who(), id, s, "x", "", NOW).unwrap();
            id
        })
        .collect();
    assert_eq!(
        status_of(&c.statuses(ms[2].who()).unwrap(), ids[2]),
        SignUpStatus::Waitlisted { position: 1 }
    );
    // Member 3 cannot withdraw member 1's sign-up, nor can its device act as member 1.
    assert!(c.withdraw(asker(ms[2].device, &ms[2].tag), ids[0]).is_err());
    assert!(c.withdraw(asker(ms[2].device, &ms[0].tag), ids[0]).is_err());
    c.withdraw(asker(ms[0].device, &ms[0].tag), ids[0]).unwrap();
    assert_eq!(
        status_of(&c.statuses(ms[2].who()).unwrap(), ids[2]),
        SignUpStatus::Confirmed
    );
    // The same sign-up sent again (from the member's other device) is one sign-up.
    let other_device = DeviceId([77; 32]);
    c.sign_up(asker(other_device, &ms[1].tag), ids[1], s, "x", "", NOW)
        .unwrap();
    assert_eq!(c.roster(s).unwrap().len(), 3);
    // Started and cancelled sessions take no sign-ups.
    let late = member(9, &hub);
    assert_eq!(
        c.sign_up(late.who(), SignUpId::new(NOW), s, "x", "", NOW + HOUR),
        Err(Refusal::Started)
    );
    c.cancel_session(s).unwrap();
    assert_eq!(
        status_of(&c.statuses(ms[2].who()).unwrap(), ids[2]),
        SignUpStatus::Cancelled
    );
}

#[test]
fn interest_counts_each_member_once_and_keeps_no_one_who() {
    let dir = tempfile::tempdir().unwrap();
    let c = center(dir.path());
    let hub = DeviceId::from(hub_key().public());
    let id = c
        .propose(
            &ProposalDraft {
                title: "Saturday walk".into(),
                when: "Saturdays 10:00".into(),
                note: "I could lead it".into(),
            },
            NOW,
        )
        .unwrap();
    for n in 1..=4u8 {
        let token = MemberSecret::from_bytes([n; 32]).interest_token(&hub, id);
        c.interested(id, token).unwrap();
    }
    // Member 4 again, from its other device: the same token.
    let again = MemberSecret::from_bytes([4; 32]).interest_token(&hub, id);
    assert_eq!(c.interested(id, again).unwrap(), 4);
    assert_eq!(c.proposals()[0].interested, 4);
    let program = c.adopt(id, ProgramKind::Other).unwrap();
    assert_eq!(c.proposals()[0].program, Some(program));
    assert_eq!(c.program(program).unwrap().draft.title, "Saturday walk");
    // The flyer carries the count and the program; it opens with the hub's key.
    let flyer = c.flyer(NOW).open(&hub).unwrap();
    assert_eq!(flyer.proposals[0].interested, 4);
    assert!(flyer.program(program).is_some());
}

#[test]
fn retention_deletes_sign_ups_and_keeps_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let c = center(dir.path());
    let hub = DeviceId::from(hub_key().public());
    let p = c.create_program(&art()).unwrap();
    let s = c.add_session(p, NOW + HOUR, NOW + 2 * HOUR, 10).unwrap();
    for n in 1..=6u8 {
        let m = member(n, &hub);
        let id = SignUpId::new(NOW);
        c.sign_up(m.who(), id, s, "canary-nick", "canary-note", NOW)
            .unwrap();
        if n <= 5 {
            c.staff_action(id, StaffAction::Attended(true)).unwrap();
        }
    }
    c.add_resource(&ResourceDraft {
        name: "Food bank".into(),
        kind: ResourceKind::Food,
        description: "Groceries".into(),
        hours: "Mon-Fri".into(),
        contact: "Walk in".into(),
    })
    .unwrap();
    let before = c.counts(NOW + 3 * HOUR);
    let key = (p, "2026-12".to_owned());
    assert_eq!(
        before[&key],
        Counts {
            sessions_held: 1,
            signups: 6,
            attended: 5,
            participants: 5
        }
    );
    // Within retention nothing goes.
    assert_eq!(c.sweep(NOW + 29 * DAY_MS).unwrap().signups, 0);
    // Past it the sign-ups go (nicknames and notes with them), the counts stay.
    let later = NOW + 31 * DAY_MS;
    assert_eq!(c.sweep(later).unwrap().signups, 6);
    assert!(c.roster(s).unwrap().is_empty());
    assert_eq!(c.counts(later)[&key], before[&key]);
    // The month is past retention later: its participants become a number.
    let much_later = NOW + 70 * DAY_MS;
    assert_eq!(c.sweep(much_later).unwrap().months_closed, 1);
    drop(c);
    let c = center(dir.path());
    assert_eq!(c.counts(much_later)[&key], before[&key]);
    let bytes = std::fs::read(dir.path().join(CENTER_FILE)).unwrap();
    assert!(
        !bytes.windows(6).any(|w| w == b"canary"),
        "a deleted nickname or note is still in the file"
    );
    assert_eq!(c.resources().len(), 1);
}

#[test]
fn one_device_cannot_be_many_members() {
    let dir = tempfile::tempdir().unwrap();
    let c = center(dir.path());
    let hub = DeviceId::from(hub_key().public());
    let p = c.create_program(&art()).unwrap();
    let s = c.add_session(p, NOW + HOUR, NOW + 2 * HOUR, 3).unwrap();
    let device = DeviceId([5; 32]);
    let first = MemberSecret::from_bytes([1; 32]).tag(&hub);
    c.sign_up(asker(device, &first), SignUpId::new(NOW), s, "a", "", NOW)
        .unwrap();
    for n in 2..=4u8 {
        let forged = MemberSecret::from_bytes([n; 32]).tag(&hub);
        assert!(matches!(
            c.sign_up(asker(device, &forged), SignUpId::new(NOW), s, "a", "", NOW),
            Err(Refusal::Invalid(_))
        ));
    }
    assert_eq!(c.session(s).unwrap().taken, 1);
    // And one member cannot take two places on one session.
    assert!(
        c.sign_up(asker(device, &first), SignUpId::new(NOW), s, "a", "", NOW)
            .is_err()
    );
}
