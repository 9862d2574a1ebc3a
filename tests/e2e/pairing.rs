//! Pairing asks the member. A device invite's ticket is a QR on the member's screen:
//! anyone who photographs it can present it first (THREATS.md: stranger at the
//! center). The inviting device shows a code and adds the newcomer only when the
//! member confirms that the new device shows the same code.

use std::time::Duration;

use crate::{Device, Running, canary};

const WAIT: Duration = Duration::from_secs(30);

/// Opens an invite on `inviter` that asks the member (no `--yes`); returns it
/// running and its ticket.
fn open_invite(inviter: &Device) -> (Running, String) {
    let mut cmd = inviter.cmd();
    cmd.args(["device", "invite", "--wait", "60"]);
    let running = Running::spawn_interactive(cmd);
    let ticket = running.wait_for("the invite ticket", WAIT, |l| l.starts_with("hearth"));
    (running, ticket)
}

/// Starts `hearth device join TICKET` on `joiner`; returns it running and the code it
/// tells the member to look for.
fn start_join(joiner: &Device, ticket: &str) -> (Running, String) {
    let mut cmd = joiner.cmd();
    cmd.args(["device", "join", ticket]);
    let running = Running::spawn_interactive(cmd);
    let line = running.wait_for_stderr("the joiner's code", WAIT, |l| {
        l.contains("Check that it shows:")
    });
    let code = line.rsplit("shows:").next().unwrap().trim().to_owned();
    (running, code)
}

/// Waits for the inviting device to ask; returns the short id and the code it shows.
fn asked(invite: &Running) -> (String, String) {
    let line = invite.wait_for_stderr("the member to be asked", WAIT, |l| {
        l.contains("asks to join")
    });
    let short = line
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(id, _)| id.to_owned())
        .unwrap_or_else(|| panic!("no device id in {line:?}"));
    let code = line.rsplit("code:").next().unwrap().trim().to_owned();
    (short, code)
}

/// Whether `code` looks like a code to compare by eye: `123 456`.
fn well_formed(code: &str) -> bool {
    let groups: Vec<&str> = code.split(' ').collect();
    groups.len() == 2
        && groups
            .iter()
            .all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()))
}

/// A stranger who photographed the QR joins first. The member's device shows the code
/// and asks; the member answers no (their own device shows nothing). The stranger's join
/// fails and leaves no vault, the device list does not name it, a second device
/// presenting the same ticket meanwhile is refused, and once the member has answered
/// the invite is closed. A new invite, answered yes after comparing the two codes,
/// adds the member's own device, which then holds the journal.
#[test]
fn a_device_that_presents_a_photographed_invite_is_added_only_if_the_member_confirms() {
    let dir = tempfile::tempdir().unwrap();
    let a = Device::new(dir.path(), "a");
    a.ok(&["init", "--name", "Sam"]);
    let word = canary();
    a.ok(&["checkin", "--mood", "4", "--note", &word]);

    let (mut invite, ticket) = open_invite(&a);
    let stranger = Device::new(dir.path(), "stranger");
    let (mut join, stranger_code) = start_join(&stranger, &ticket);
    let (stranger_short, code) = asked(&invite);
    assert!(well_formed(&code), "{code:?}");
    assert_eq!(code, stranger_code, "both sides derive the same code");

    // While the member looks at the code, a second device presents the same ticket.
    let second = Device::new(dir.path(), "second");
    let out = second.run(&["device", "join", &ticket]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a used invite admitted a second device"
    );
    assert!(err.contains("already used"), "{err}");
    assert!(!second.home().join("hearth.redb").exists());

    // The member's own device shows no code: no.
    invite.answer("n");
    let (status, _, err) = join.exit(WAIT);
    assert!(!status.success(), "the stranger joined: {err}");
    assert!(err.contains("refused"), "{err}");
    assert!(!stranger.home().join("hearth.redb").exists());
    let (status, out, err) = invite.exit(WAIT);
    assert!(!status.success(), "{out}{err}");
    assert!(!out.contains("joined"), "{out}");

    let listed = a.list();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].id, a.id(), "{listed:?}");
    assert!(
        listed.iter().all(|l| !l.id.starts_with(&stranger_short)),
        "{listed:?}"
    );

    // The invite is closed: the same ticket again admits nobody.
    let out = stranger.run(&["device", "join", &ticket]);
    assert!(!out.status.success(), "a closed invite admitted a device");
    assert!(!stranger.home().join("hearth.redb").exists());

    // A new invite; the member compares the codes on both screens: yes.
    let (mut invite, ticket) = open_invite(&a);
    let tablet = Device::new(dir.path(), "tablet");
    let (mut join, tablet_code) = start_join(&tablet, &ticket);
    let (tablet_short, code) = asked(&invite);
    assert_eq!(code, tablet_code, "the two screens show different codes");
    assert_ne!(code, stranger_code, "a new invite, a new code");
    invite.answer("y");
    let (status, out, err) = join.exit(WAIT);
    assert!(status.success(), "{err}");
    assert!(out.starts_with("Joined"), "{out}");
    let (status, out, err) = invite.exit(WAIT);
    assert!(status.success(), "{err}");
    assert!(out.contains("joined"), "{out}");

    assert_eq!(tablet.notes(), vec![word]);
    assert!(tablet.id().starts_with(&tablet_short));
    let listed = a.list();
    assert!(
        listed
            .iter()
            .any(|l| l.id.starts_with(&tablet_short) && l.active()),
        "{listed:?}"
    );
}
