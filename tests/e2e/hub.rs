//! The hub as the center's staff run it: the ticket's secret shown only on request,
//! never in the service's log; a ticket replaced while the hub serves; the quota
//! refusal a member reads from `hearth sync`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Device, bin, hub_ticket, start_hub, start_hub_with};

/// The ticket's secret part (what must never reach a log).
fn body(ticket: &str) -> String {
    ticket.trim().trim_start_matches("hearth").to_owned()
}

#[test]
fn serve_under_a_service_manager_never_prints_the_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("hub");
    let log = dir.path().join("service.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut hub = Command::new(bin("hearth-hub"))
        .arg("--home")
        .arg(&home)
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--local-discovery",
            "off",
            "--no-console",
        ])
        .env("HEARTH_LOG", "trace")
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log)
        .unwrap()
        .contains("hearth-hub ticket")
    {
        assert!(Instant::now() < deadline, "the hub never said it listens");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ticket = hub_ticket(&home, &[]);
    // A device enrolls, so the enrollment path has logged too.
    let a = Device::new(dir.path(), "a");
    a.ok(&["init", "--name", "Sam"]);
    a.ok(&["enroll", &ticket]);
    let _ = hub.kill();
    let _ = hub.wait();
    let output = std::fs::read_to_string(&log).unwrap();
    assert!(
        !output.contains(&body(&ticket)),
        "the ticket reached the service log"
    );
    assert!(
        output.contains("Run `hearth-hub ticket`"),
        "the log does not say how to show the ticket: {output}"
    );
}

#[test]
fn a_rotated_ticket_is_refused_while_enrolled_devices_keep_syncing() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("hub");
    let (_hub, old) = start_hub(&home, "127.0.0.1:0", None);
    let a = Device::new(dir.path(), "a");
    a.ok(&["init", "--name", "Sam"]);
    a.ok(&["enroll", &old]);

    // The staff replace the ticket while the hub serves.
    let new = hub_ticket(&home, &["--rotate", "--expires", "7d"]);
    assert_ne!(new, old);
    assert_eq!(hub_ticket(&home, &[]), new);

    let late = Device::new(dir.path(), "late");
    late.ok(&["init", "--name", "Lee"]);
    let out = late.run(&["enroll", &old]);
    assert!(!out.status.success(), "the replaced ticket still enrolled");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not valid"), "{err}");

    // A keeps syncing; the new ticket enrolls.
    a.ok(&["checkin", "--mood", "4", "--note", "after the rotation"]);
    a.ok(&["sync"]);
    late.ok(&["enroll", &new]);
}

#[test]
fn a_quota_refusal_reaches_the_member_as_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("hub");
    let (_hub, ticket) = start_hub_with(&home, "127.0.0.1:0", None, &["--quota-mb", "0.1"]);
    let a = Device::new(dir.path(), "a");
    a.ok(&["init", "--name", "Sam"]);
    a.ok(&["enroll", &ticket]);
    let mut refused = None;
    for i in 0..30 {
        let note: String = (0..16_000)
            .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rand::random_range(0..36)]))
            .collect();
        a.ok(&["checkin", "--mood", "3", "--note", &format!("{i} {note}")]);
        let out = a.run(&["sync"]);
        if !out.status.success() {
            assert!(i > 0, "the first note already did not fit");
            refused = Some(String::from_utf8(out.stderr).unwrap());
            break;
        }
    }
    let err = refused.expect("the hub never refused a sync over its quota");
    eprintln!("{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("hearth: the center's hub is full for your documents:"),
        "{err}"
    );
    assert!(err.contains("used of 103 KB"), "{err}");
    assert!(err.contains("center's staff"), "{err}");
}

#[test]
fn enrollment_past_the_limit_is_told_to_wait_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("hub");
    let (_hub, ticket) = start_hub_with(
        &home,
        "127.0.0.1:0",
        None,
        &["--enroll-limit-per-addr", "1"],
    );
    let a = Device::new(dir.path(), "a");
    a.ok(&["init", "--name", "Sam"]);
    a.ok(&["enroll", &ticket]);
    let b = Device::new(dir.path(), "b");
    b.ok(&["init", "--name", "Bo"]);
    let out = b.run(&["enroll", &ticket]);
    assert!(
        !out.status.success(),
        "a second enrollment passed the limit"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("too many enrollments"), "{err}");
    assert!(err.contains("try again in a minute"), "{err}");
    // A, enrolled, keeps syncing.
    a.ok(&["sync"]);
}
