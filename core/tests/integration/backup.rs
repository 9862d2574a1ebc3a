//! Encrypted backups: a lost phone's journal comes back whole on a new device, which
//! then works and syncs with the member's other devices; a wrong passphrase, junk, or
//! another member's backup are clear errors.

use hearth_core::access::Role;
use hearth_core::identity::MemoryKeyStore;
use hearth_core::model::{NewCheckIn, PlanSection};
use hearth_core::vault::{Location, Vault};

use crate::{checkin, join, new_vault};

const PASS: &str = "correct horse battery";

fn filled_vault() -> (Vault, MemoryKeyStore) {
    let (a, ka) = new_vault();
    a.add_checkin(&NewCheckIn {
        mood: 2,
        craving: Some(7),
        tags: vec!["work".into(), "tired".into()],
        note: "rough shift".into(),
        ..Default::default()
    })
    .unwrap();
    let gone = a.add_checkin(&checkin(3, "to be deleted")).unwrap();
    a.add_checkin(&checkin(5, "meeting helped")).unwrap();
    a.delete_checkin(gone.id).unwrap();
    a.set_plan_text(PlanSection::Triggers, "payday; the old bar")
        .unwrap();
    a.add_plan_item(PlanSection::Toolbox, "walk the dog")
        .unwrap();
    a.add_plan_item(PlanSection::Toolbox, "call Jo").unwrap();
    (a, ka)
}

#[test]
fn restoring_a_backup_brings_the_journal_back_on_a_new_device() {
    let (a, _ka) = filled_vault();
    let bytes = a.export_backup(PASS).unwrap();
    assert!(
        !bytes
            .windows(b"rough shift".len())
            .any(|w| w == b"rough shift"),
        "a backup holds no plaintext"
    );

    let fresh = MemoryKeyStore::new();
    let r = Vault::restore_backup(Location::Memory, &fresh, &bytes, PASS).unwrap();
    assert_eq!(r.journal_id().unwrap(), a.journal_id().unwrap());
    assert_eq!(r.checkins().unwrap(), a.checkins().unwrap());
    assert_eq!(r.checkins().unwrap().len(), 2);
    assert_eq!(r.plan().unwrap(), a.plan().unwrap());
    assert_eq!(r.name().unwrap().as_deref(), Some("Sam"));
    assert_ne!(r.device_id().unwrap(), a.device_id().unwrap());
    let me = r.devices().unwrap();
    assert!(
        me.iter().any(|d| d.this_device && d.role == Role::Owner),
        "the restored device is an owner: {me:?}"
    );

    // It works as a device of its own...
    let added = r.add_checkin(&checkin(4, "back on track")).unwrap();
    assert_eq!(r.checkins().unwrap().len(), 3);
    // ...and the member's other device accepts what it writes.
    let report = a.ingest(r.sync_items().unwrap()).unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
    assert_eq!(a.checkin(added.id).unwrap().unwrap().note, "back on track");
    assert_eq!(a.checkins().unwrap(), r.checkins().unwrap());
    let report = r.ingest(a.sync_items().unwrap()).unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
    assert_eq!(a.checkins().unwrap(), r.checkins().unwrap());
}

#[test]
fn a_backup_can_be_merged_back_into_its_own_vault() {
    let (a, _ka) = filled_vault();
    let (b, _kb) = join(&a, Role::Owner);
    let bytes = a.export_backup(PASS).unwrap();
    b.add_checkin(&checkin(1, "only on B")).unwrap();
    let report = b.import_backup(&bytes, PASS).unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
    assert_eq!(b.checkins().unwrap().len(), 3);
    assert!(b.checkins().unwrap().iter().any(|c| c.note == "only on B"));
}

#[test]
fn bad_backups_and_passphrases_are_clear_errors() {
    let (a, _ka) = filled_vault();
    let err = a.export_backup("short").unwrap_err().to_string();
    assert!(err.contains("passphrase"), "{err}");
    let bytes = a.export_backup(PASS).unwrap();

    let err = Vault::restore_backup(
        Location::Memory,
        &MemoryKeyStore::new(),
        &bytes,
        "correct horse battery staple",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("passphrase"), "wrong passphrase: {err}");

    let junk = [
        b"age-encryption.org/v1\n".as_slice(),
        &bytes[bytes.len() / 2..],
    ]
    .concat();
    for (what, garbage) in [
        ("empty", Vec::new()),
        ("text", b"not a backup at all".to_vec()),
        ("half a backup", bytes[..bytes.len() / 2].to_vec()),
        ("age header then junk", junk),
    ] {
        let result =
            Vault::restore_backup(Location::Memory, &MemoryKeyStore::new(), &garbage, PASS);
        let err = result.map(|_| ()).unwrap_err().to_string();
        assert!(!err.trim().is_empty(), "{what}: empty message");
    }
    let mut flipped = bytes.clone();
    let at = flipped.len() - 20;
    flipped[at] ^= 1;
    assert!(
        Vault::restore_backup(Location::Memory, &MemoryKeyStore::new(), &flipped, PASS).is_err(),
        "a flipped bit in the backup went unnoticed"
    );

    // Another member's backup does not merge into this vault.
    let (other, _ko) = new_vault();
    let before = other.checkins().unwrap();
    let err = other.import_backup(&bytes, PASS).unwrap_err().to_string();
    assert!(err.contains("another vault"), "{err}");
    assert_eq!(other.checkins().unwrap(), before);

    // A restore never overwrites a vault that is already there.
    let tmp = tempfile::tempdir().unwrap();
    let ks = MemoryKeyStore::new();
    let here = Vault::create(Location::Dir(tmp.path().to_owned()), &ks, None).unwrap();
    drop(here);
    assert!(
        Vault::restore_backup(Location::Dir(tmp.path().to_owned()), &ks, &bytes, PASS).is_err()
    );
    let v = Vault::open(Location::Dir(tmp.path().to_owned()), &ks).unwrap();
    assert!(v.checkins().unwrap().is_empty());
}
