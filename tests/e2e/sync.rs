//! A member's two devices and the center's hub, as separate processes on loopback.

use std::io::Write;
use std::time::Duration;

use crate::{Device, Running, canary, found_under, start_hub};

/// Hub up; A init + enroll; B joins A by invite; A checks in; A then B sync; B has
/// it; the hub's home holds no trace of it. Then store-and-forward: A checks in while
/// B is off, syncs with the hub, stops; B syncs later and has it.
#[test]
fn paired_devices_sync_through_a_blind_hub() {
    let dir = tempfile::tempdir().unwrap();
    let hub_home = dir.path().join("hub");
    let (hub, ticket) = start_hub(&hub_home, "127.0.0.1:0", None);

    let a = Device::new(dir.path(), "a");
    let b = Device::new(dir.path(), "b");
    a.ok(&["init", "--name", "Sam"]);
    let out = a.ok(&["enroll", &ticket]);
    assert!(out.contains("Enrolled"), "{out}");
    a.pair(&b);

    let word = canary();
    a.ok(&["checkin", "--mood", "4", "--note", &format!("phone {word}")]);
    a.ok(&["plan", "set", "crisis", &format!("call Jo {word}")]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    assert!(
        b.notes().contains(&format!("phone {word}")),
        "B lacks A's check-in"
    );
    let plan: serde_json::Value = serde_json::from_str(&b.ok(&["plan", "show", "--json"])).unwrap();
    assert_eq!(plan["crisis"]["text"], format!("call Jo {word}"));

    // Store and forward: B is not running while A writes and syncs.
    let later = canary();
    a.ok(&["checkin", "--mood", "2", "--note", &later]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    assert!(
        b.notes().contains(&later),
        "B did not get the stored-and-forwarded check-in"
    );

    // And back: B's edits reach A.
    b.ok(&["checkin", "--mood", "5", "--note", "from the tablet"]);
    b.ok(&["sync"]);
    a.ok(&["sync"]);
    assert!(a.notes().contains(&"from the tablet".to_owned()));

    // The hub stores ciphertext only.
    for secret in [&word, &later, "from the tablet", "Sam"] {
        assert!(
            !found_under(&hub_home, secret.as_bytes()),
            "{secret:?} readable at the hub"
        );
    }
    drop(hub);
    // With the hub gone (and A offline) there is nothing to sync with: one clear line.
    let out = b.run(&["sync"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nothing reachable"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// With A and B both in `sync --watch`, a check-in typed on A appears at B.
#[test]
fn live_checkin_appears_on_the_other_device() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, ticket) = start_hub(&dir.path().join("hub"), "127.0.0.1:0", None);
    let a = Device::new(dir.path(), "a");
    let b = Device::new(dir.path(), "b");
    a.ok(&["init"]);
    a.ok(&["enroll", &ticket]);
    a.pair(&b);
    b.ok(&["sync"]);

    let mut cmd = a.cmd();
    cmd.args(["sync", "--watch"])
        .stdin(std::process::Stdio::piped());
    let mut wa = Running::spawn(cmd);
    let mut cmd = b.cmd();
    cmd.args(["sync", "--watch"])
        .stdin(std::process::Stdio::piped());
    let wb = Running::spawn(cmd);
    wa.wait_for("A online", Duration::from_secs(20), |l| {
        l.starts_with("in sync with")
    });
    wb.wait_for("B online", Duration::from_secs(20), |l| {
        l.starts_with("in sync with")
    });

    let word = canary();
    let stdin = wa.child().stdin.as_mut().unwrap();
    writeln!(stdin, "checkin --mood 4 --note \"live {word}\"").unwrap();
    stdin.flush().unwrap();
    let line = wb.wait_for("the live check-in at B", Duration::from_secs(20), |l| {
        l.contains(&word)
    });
    assert!(line.starts_with("new check-in from"), "{line}");
}

/// A wrong or garbled ticket is one clear line, and nothing changes.
#[test]
fn bad_tickets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, ticket) = start_hub(&dir.path().join("hub"), "127.0.0.1:0", None);
    let a = Device::new(dir.path(), "a");
    a.ok(&["init"]);
    for bad in ["hearthnotaticket", "garbage", &ticket[..ticket.len() - 4]] {
        let out = a.run(&["enroll", bad]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("ticket"),
            "{bad}"
        );
    }
    // A device invite is not an enrollment ticket, and vice versa.
    let b = Device::new(dir.path(), "b");
    let out = b.run(&["device", "join", &ticket]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("enroll"));
    assert!(!b.home().join("hearth.redb").exists());
}
