//! Encrypted backup and restore through the CLI, plain JSON export on request.

use crate::{Home, canary, found_under};

#[test]
fn backup_restores_into_an_empty_home_as_a_new_device() {
    let phone = Home::empty();
    phone.ok(&["init", "--name", "Sam"]);
    let word = canary();
    phone.ok(&["checkin", "--mood", "4", "--note", &word]);
    phone.ok(&["plan", "add", "strengths", "I keep showing up"]);
    let backup = phone.path().with_file_name("backup.age");
    let out = phone
        .cmd()
        .args(["export", "--out"])
        .arg(&backup)
        .env("HEARTH_PASSPHRASE", "correct horse battery")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&backup).unwrap();
    assert!(!bytes.windows(word.len()).any(|w| w == word.as_bytes()));

    // Wrong passphrase: a clear error, and the new home is left as it was (absent).
    let new_phone = Home::empty();
    let out = new_phone
        .cmd()
        .arg("import")
        .arg(&backup)
        .env("HEARTH_PASSPHRASE", "wrong horse battery")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"));
    assert!(
        !new_phone.path().exists(),
        "a failed restore left files behind"
    );

    // A corrupt file.
    let junk = phone.path().with_file_name("junk.age");
    std::fs::write(&junk, b"age-encryption.org/v1\n-> nonsense").unwrap();
    let out = new_phone
        .cmd()
        .arg("import")
        .arg(&junk)
        .env("HEARTH_PASSPHRASE", "correct horse battery")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!new_phone.path().exists());

    let out = new_phone
        .cmd()
        .arg("import")
        .arg(&backup)
        .env("HEARTH_PASSPHRASE", "correct horse battery")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(new_phone.journal(), phone.journal());
    let plan: serde_json::Value =
        serde_json::from_str(&new_phone.ok(&["plan", "show", "--json"])).unwrap();
    assert_eq!(plan["strengths"]["items"][0], "I keep showing up");
    new_phone.ok(&["checkin", "--mood", "5", "--note", "on the new phone"]);
    assert_eq!(new_phone.journal().len(), 2);
    assert!(found_under(&new_phone.path(), word.as_bytes()).is_empty());

    // A backup of another member's vault does not merge into this one.
    let other = Home::empty();
    other.ok(&["init"]);
    let out = other
        .cmd()
        .arg("import")
        .arg(&backup)
        .env("HEARTH_PASSPHRASE", "correct horse battery")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("another vault"));
}

#[test]
fn short_passphrase_is_refused_and_json_export_is_plain_on_request() {
    let home = Home::empty();
    home.ok(&["init"]);
    home.ok(&["checkin", "--mood", "3", "--note", "plain on purpose"]);
    let out_file = home.path().with_file_name("b.age");
    let out = home
        .cmd()
        .args(["export", "--out"])
        .arg(&out_file)
        .env("HEARTH_PASSPHRASE", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!out_file.exists());

    let json_file = home.path().with_file_name("export.json");
    let out = home
        .cmd()
        .args(["export", "--json", "--out"])
        .arg(&json_file)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOT encrypted"));
    let value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_file).unwrap()).unwrap();
    assert_eq!(value["checkins"][0]["note"], "plain on purpose");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&json_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
