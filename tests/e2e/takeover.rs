//! The takeover the issue describes, replayed with the stock binaries: a thief holds a
//! tablet the member has just removed, restores the tablet's backup on a device of
//! their own, and uses every command a member has (enroll, sync, invite, remove,
//! export) to get back in. THREATS.md: a thief of a removed device may never read
//! anything written after the removal, write, or take over.

use std::collections::BTreeSet;
use std::process::Output;

use crate::{Device, Listed, canary, found_under, start_hub};

const PASSPHRASE: &str = "a thief knows this one too";

/// `hearth ARGS` with the backup passphrase in the environment.
fn with_passphrase(device: &Device, args: &[&str]) -> Output {
    device
        .cmd()
        .args(args)
        .env("HEARTH_PASSPHRASE", PASSPHRASE)
        .output()
        .unwrap()
}

/// What a command printed, for the test's log (`--nocapture` shows it).
fn log(who: &str, args: &[&str], out: &Output) -> String {
    let text = format!(
        "{who}$ hearth {}  -> {}\n  stdout: {}\n  stderr: {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    eprintln!("{text}");
    text
}

/// The ids `list` shows with access.
fn active(list: &[Listed]) -> BTreeSet<String> {
    list.iter()
        .filter(|l| l.active())
        .map(|l| l.id.clone())
        .collect()
}

/// Whether `word` is anywhere the thief's device can show it: its journal, and a
/// plain JSON export of everything it can decrypt, written into its home and then
/// searched with every other file there.
fn thief_sees(device: &Device, word: &str) -> bool {
    let notes = device.run(&["journal", "--json"]);
    let in_journal = String::from_utf8_lossy(&notes.stdout).contains(word);
    let plain = device.home().join("everything.json");
    let _ = device.run(&["export", "--json", "--out", plain.to_str().unwrap()]);
    in_journal || found_under(device.home(), word.as_bytes())
}

/// Hub up; member device A enrolled; tablet B paired and synced; A removes B and syncs,
/// pairs a new device D, writes a canary check-in and syncs; D syncs. The thief, on B:
/// exports a backup; restores it on a fresh home C; enrolls C at the hub; syncs; has C
/// invite a throwaway device T, remove it and sync again; and gets C's own backup
/// merged into A. Nothing the thief holds (B, C, T) shows the canary; A's device list
/// names the same devices with access (A, D, the hub) before the thief acts, before
/// the merge and after it; B stays removed; A and D still sync with each other
/// through the hub; and when the member then removes D, the new epoch's key reaches
/// none of the thief's devices.
#[test]
fn a_thief_with_a_removed_tablets_backup_reads_nothing_new_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let hub_home = dir.path().join("hub");
    let (_hub, ticket) = start_hub(&hub_home, "127.0.0.1:0", None);

    let a = Device::new(dir.path(), "a");
    let b = Device::new(dir.path(), "b");
    a.ok(&["init", "--name", "Sam"]);
    a.ok(&["enroll", &ticket]);
    a.pair(&b);
    a.ok(&["checkin", "--mood", "3", "--note", "before the theft"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    assert!(b.notes().contains(&"before the theft".to_owned()));
    let (a_id, b_id) = (a.id(), b.id());

    // The tablet is stolen; the member removes it from the phone.
    let out = a.ok(&["device", "remove", &b_id[..12]]);
    assert!(out.contains("Removed"), "{out}");
    a.ok(&["sync"]);
    let d = Device::new(dir.path(), "d");
    a.pair(&d);
    let d_id = d.id();
    let word = canary();
    a.ok(&["checkin", "--mood", "4", "--note", &format!("after {word}")]);
    a.ok(&["sync"]);
    d.ok(&["sync"]);
    assert!(
        d.notes().contains(&format!("after {word}")),
        "the member's new device lacks the check-in"
    );

    let before = a.list();
    let hubs: Vec<&Listed> = before.iter().filter(|l| l.kind == "center hub").collect();
    assert_eq!(hubs.len(), 1, "{before:?}");
    let expected: BTreeSet<String> = [a_id.clone(), d_id.clone(), hubs[0].id.clone()].into();
    assert_eq!(active(&before), expected, "{before:?}");

    // The thief, on the tablet (which has not heard of its removal): a backup of it,
    // restored on a device of their own, enrolled at the center, synced.
    let c = Device::new(dir.path(), "c");
    let b_backup = dir.path().join("b.age");
    let b_backup = b_backup.to_str().unwrap();
    let mut transcript = Vec::new();
    for (who, device, args) in [
        ("B", &b, vec!["export", "--out", b_backup]),
        ("C", &c, vec!["import", b_backup]),
        ("C", &c, vec!["enroll", &ticket]),
    ] {
        let out = with_passphrase(device, &args);
        transcript.push(log(who, &args, &out));
    }
    let out = c.run(&["sync"]);
    transcript.push(log("C", &["sync"], &out));
    assert!(
        !out.status.success() || String::from_utf8_lossy(&out.stdout).contains("with 0 peer"),
        "the hub synced with the thief's device:\n{}",
        transcript.join("\n")
    );
    // The tablet itself tries too.
    let out = b.run(&["sync"]);
    transcript.push(log("B", &["sync"], &out));

    // C adds a throwaway device T (C is an owner in its own eyes), removes it again (a
    // removal opens an epoch: a key C chose) and syncs.
    let t = Device::new(dir.path(), "t");
    let thief_has_a_vault = c.home().join("hearth.redb").exists();
    if thief_has_a_vault {
        c.pair(&t);
        let t_id = t.id();
        let out = c.run(&["device", "remove", &t_id[..12]]);
        transcript.push(log("C", &["device", "remove", &t_id[..12]], &out));
        let out = c.run(&["sync"]);
        transcript.push(log("C", &["sync"], &out));
        let out = t.run(&["sync"]);
        transcript.push(log("T", &["sync"], &out));
    }
    let c_id = thief_has_a_vault.then(|| c.id());
    let t_id = t.home().join("hearth.redb").exists().then(|| t.id());

    // Whatever the hub took from the thief reaches A now.
    a.ok(&["sync"]);
    let before_import = a.list();

    // The thief's records, delivered to the member directly: a backup of C merged into A.
    let c_backup = dir.path().join("c.age");
    let c_backup = c_backup.to_str().unwrap();
    let out = with_passphrase(&c, &["export", "--out", c_backup]);
    transcript.push(log("C", &["export", "--out", c_backup], &out));
    if out.status.success() {
        let out = with_passphrase(&a, &["import", c_backup]);
        transcript.push(log("A", &["import", c_backup], &out));
    }
    let transcript = transcript.join("\n");

    // The member keeps writing; A and D still sync through the hub, both ways.
    let word2 = canary();
    a.ok(&[
        "checkin",
        "--mood",
        "4",
        "--note",
        &format!("later {word2}"),
    ]);
    a.ok(&["sync"]);
    d.ok(&["checkin", "--mood", "5", "--note", "from D"]);
    d.ok(&["sync"]);
    a.ok(&["sync"]);
    assert!(
        a.notes().contains(&"from D".to_owned()),
        "D's check-in did not reach A after the thief's attempts:\n{transcript}"
    );
    assert!(
        d.notes().contains(&format!("later {word2}")),
        "A's check-in did not reach D after the thief's attempts:\n{transcript}"
    );

    // Nothing written after the removal is anywhere the thief holds.
    for (who, device) in [("B", &b), ("C", &c), ("T", &t)] {
        if device.home().exists() {
            for w in [&word, &word2] {
                assert!(
                    !thief_sees(device, w),
                    "{who} reads a check-in written after the removal:\n{transcript}"
                );
            }
        }
    }
    for w in [&word, &word2] {
        assert!(!found_under(&hub_home, w.as_bytes()), "readable at the hub");
    }

    // The member's access is as it was: A, D and the hub; B removed; no C, no T.
    let after = a.list();
    assert_eq!(
        active(&after),
        expected,
        "{after:?}\nthe thief changed who has access:\n{transcript}"
    );
    assert_eq!(
        active(&before_import),
        expected,
        "{before_import:?}\nthe thief changed who has access:\n{transcript}"
    );
    for list in [&before, &before_import, &after] {
        let b_line = list.iter().find(|l| l.id == b_id).expect("B is listed");
        assert_eq!(b_line.state, "removed", "{list:?}");
        for thief in [&c_id, &t_id].into_iter().flatten() {
            assert!(
                list.iter().all(|l| &l.id != thief || !l.active()),
                "{thief} has access: {list:?}"
            );
        }
    }

    // The member's next removal opens an epoch whose key goes to every device A counts
    // as its own (before the rewrite, C was one of them and read what came next).
    a.ok(&["device", "remove", &d_id[..12]]);
    let word3 = canary();
    a.ok(&["checkin", "--mood", "3", "--note", &format!("next {word3}")]);
    a.ok(&["sync"]);
    let out = c.run(&["sync"]);
    let transcript = format!("{transcript}\n{}", log("C", &["sync"], &out));
    for (who, device) in [("B", &b), ("C", &c), ("T", &t)] {
        if device.home().exists() {
            assert!(
                !thief_sees(device, &word3),
                "{who} reads what was written after the member's next removal:\n{transcript}"
            );
        }
    }
}
