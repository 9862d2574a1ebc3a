//! Tampered, forged, replayed and misplaced items, fed to a real second device: each is
//! refused and the member sees exactly what they saw before. Damaged store files are
//! errors, never panics.

use hearth_core::access::{AccessState, AclBody, AclRecord, Action, Role};
use hearth_core::bundle::{Bundle, BundleHeader, BundleKind, FORMAT_V1};
use hearth_core::envelope::{DocKey, Envelope};
use hearth_core::identity::{DeviceKeys, MemoryKeyStore, Seed};
use hearth_core::model::PlanSection;
use hearth_core::vault::{Location, STORE_FILE, SyncItem, Vault};

use crate::{assert_rejected, bundle_for_new_checkin, checkin, join, keys_of, new_vault};

/// The byte ranges of a bundle: header, ciphertext, signature.
struct Layout {
    header: std::ops::Range<usize>,
    ciphertext: std::ops::Range<usize>,
    signature: std::ops::Range<usize>,
}

fn layout(bytes: &[u8]) -> Layout {
    let len_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!(&bytes[..4], b"HBD1");
    let header = 8..8 + len_at(4);
    let ct_start = header.end + 4;
    let ciphertext = ct_start..ct_start + len_at(header.end);
    let signature = ciphertext.end..bytes.len();
    assert_eq!(
        signature.len(),
        64,
        "a bundle ends with a 64-byte signature"
    );
    Layout {
        header,
        ciphertext,
        signature,
    }
}

/// The doc key this device received (opens its own envelope from `items`).
fn key_from_envelopes(items: &[SyncItem], device: &DeviceKeys) -> DocKey {
    items
        .iter()
        .find_map(|item| match item {
            SyncItem::Envelope(b) => {
                let env = Envelope::decode(b).unwrap();
                (env.body().recipient == device.id()).then(|| env.open(device).unwrap())
            }
            _ => None,
        })
        .expect("an envelope for this device")
}

/// A first changes bundle in `doc`'s journal, sealed and signed by `author`.
fn forge(author: &DeviceKeys, doc_bundle: &[u8], plaintext: &[u8], key: &DocKey) -> Vec<u8> {
    let genuine = Bundle::decode(doc_bundle).unwrap();
    let header = BundleHeader {
        format: FORMAT_V1,
        doc: genuine.header().doc,
        epoch: genuine.header().epoch,
        author: author.id(),
        seq: 1,
        prev: None,
        kind: BundleKind::Changes,
        created_at_ms: genuine.header().created_at_ms + 1,
        supersedes: Vec::new(),
    };
    Bundle::seal(header, plaintext, key, author)
        .unwrap()
        .into_bytes()
}

#[test]
fn flipped_bits_anywhere_in_a_bundle_are_rejected() {
    let (a, _ka) = new_vault();
    let (b, _kb) = join(&a, Role::Owner);
    let bundle = bundle_for_new_checkin(&a, &checkin(4, "went to a meeting"));
    let l = layout(&bundle);
    let seen_before = b.checkins().unwrap();

    let mid = |r: &std::ops::Range<usize>| r.start + r.len() / 2;
    let targets = [
        ("header, first byte", l.header.start),
        ("header, middle", mid(&l.header)),
        ("header, last byte", l.header.end - 1),
        ("header length", 4),
        ("ciphertext length", l.header.end),
        ("ciphertext, first byte", l.ciphertext.start),
        ("ciphertext, middle", mid(&l.ciphertext)),
        ("ciphertext, last byte", l.ciphertext.end - 1),
        ("signature, first byte", l.signature.start),
        ("signature, middle", mid(&l.signature)),
        ("signature, last byte", l.signature.end - 1),
    ];
    for (what, at) in targets {
        for bit in [0x01u8, 0x80] {
            let mut bad = bundle.clone();
            bad[at] ^= bit;
            let report = b.ingest(vec![SyncItem::Bundle(bad)]).unwrap();
            let what = format!("bit {bit:#04x} flipped in the {what} (byte {at})");
            assert_eq!(report.accepted, 0, "{what}: accepted ({report:?})");
            assert_eq!(
                report.rejected.len(),
                1,
                "{what}: not rejected ({report:?})"
            );
            assert_eq!(
                b.checkins().unwrap(),
                seen_before,
                "{what}: B's check-ins changed"
            );
        }
    }
    // A truncated bundle and trailing garbage are refused too.
    for bad in [
        bundle[..bundle.len() - 1].to_vec(),
        [&bundle[..], b"x"].concat(),
    ] {
        let report = b.ingest(vec![SyncItem::Bundle(bad)]).unwrap();
        assert_eq!(
            (report.accepted, report.rejected.len()),
            (0, 1),
            "{report:?}"
        );
    }
    assert_eq!(b.checkins().unwrap(), seen_before);

    // The untouched bundle goes in: the rejections were about the flips.
    let report = b.ingest(vec![SyncItem::Bundle(bundle)]).unwrap();
    assert_eq!(
        (report.accepted, report.rejected.len()),
        (1, 0),
        "{report:?}"
    );
    assert_eq!(b.checkins().unwrap(), a.checkins().unwrap());
    assert_eq!(b.checkins().unwrap()[0].note, "went to a meeting");
}

#[test]
fn a_device_without_write_right_cannot_add_to_the_journal() {
    let (a, _ka) = new_vault();
    let (b, kb) = join(&a, Role::Owner);
    // C is added as a reader only, so it legitimately holds the real epoch key.
    let (c, kc) = join(&a, Role::Reader);
    // B learns of C's grant (so B refuses C because of its role, not because C is
    // unknown); this is before A writes the bundle B will not be given.
    b.ingest(a.sync_items().unwrap()).unwrap();
    let seen_before = b.checkins().unwrap();
    assert_eq!(seen_before, a.checkins().unwrap());

    // A real Automerge change (a check-in B has not seen) to re-sign as someone else.
    let withheld = bundle_for_new_checkin(&a, &checkin(2, "withheld from B"));
    let items = a.sync_items().unwrap();
    let real_key = key_from_envelopes(&items, &keys_of(&kb));
    let change = Bundle::decode(&withheld)
        .unwrap()
        .decrypt(&real_key)
        .unwrap();

    // The reader's own vault refuses to write.
    let err = c.add_checkin(&checkin(3, "reader writes")).unwrap_err();
    assert!(err.to_string().contains("not allowed"), "{err}");

    let reader = keys_of(&kc);
    let reader_key = key_from_envelopes(&items, &reader);
    let outsider = DeviceKeys::derive(&Seed::generate()).unwrap();
    let cases = [
        (
            "reader C, real epoch key",
            forge(&reader, &withheld, &change, &reader_key),
        ),
        (
            "unlisted device, fresh key",
            forge(&outsider, &withheld, &change, &DocKey::generate().unwrap()),
        ),
        (
            "unlisted device, leaked real key",
            forge(&outsider, &withheld, &change, &real_key),
        ),
    ];
    for (what, forged) in cases {
        // Well-formed and validly signed: only the write right is missing.
        assert!(
            Bundle::decode(&forged).is_ok(),
            "{what}: forgery is malformed"
        );
        let report = b.ingest(vec![SyncItem::Bundle(forged.clone())]).unwrap();
        assert_rejected(&report, "may not write", what);
        assert_eq!(b.checkins().unwrap(), seen_before, "{what}: B changed");
        let report = a.ingest(vec![SyncItem::Bundle(forged)]).unwrap();
        assert_rejected(&report, "may not write", what);
    }
    // Nothing forged was kept to hand on to others.
    let a_id = a.device_id().unwrap();
    for item in b.sync_items().unwrap() {
        if let SyncItem::Bundle(x) = item {
            let author = Bundle::decode(&x).unwrap().header().author;
            assert_eq!(author, a_id, "B stored a bundle by someone else");
        }
    }

    // The genuine bundle carrying the same change is accepted: the plaintext mattered.
    let report = b.ingest(vec![SyncItem::Bundle(withheld)]).unwrap();
    assert_eq!(
        (report.accepted, report.rejected.len()),
        (1, 0),
        "{report:?}"
    );
    assert!(
        b.checkins()
            .unwrap()
            .iter()
            .any(|c| c.note == "withheld from B")
    );
}

#[test]
fn a_replayed_bundle_is_a_duplicate() {
    let (a, _ka) = new_vault();
    let (b, _kb) = join(&a, Role::Owner);
    let bundle = bundle_for_new_checkin(&a, &checkin(5, "good day"));

    let first = b.ingest(vec![SyncItem::Bundle(bundle.clone())]).unwrap();
    assert_eq!((first.accepted, first.duplicates), (1, 0), "{first:?}");
    let seen = b.checkins().unwrap();
    assert_eq!(seen.len(), 1);

    let again = b.ingest(vec![SyncItem::Bundle(bundle.clone())]).unwrap();
    assert_eq!((again.accepted, again.duplicates), (0, 1), "{again:?}");
    assert!(again.rejected.is_empty(), "{again:?}");
    let twice_in_one = b
        .ingest(vec![
            SyncItem::Bundle(bundle.clone()),
            SyncItem::Bundle(bundle),
        ])
        .unwrap();
    assert_eq!((twice_in_one.accepted, twice_in_one.duplicates), (0, 2));
    assert_eq!(b.checkins().unwrap(), seen);
}

#[test]
fn replaying_everything_a_device_holds_changes_nothing_visible() {
    let (a, _ka) = new_vault();
    let (b, _kb) = join(&a, Role::Owner);
    a.add_checkin(&checkin(3, "one")).unwrap();
    a.add_checkin(&checkin(4, "two")).unwrap();
    a.set_plan_text(PlanSection::Goals, "ninety meetings")
        .unwrap();
    let items = a.sync_items().unwrap();

    let first = b.ingest(items.clone()).unwrap();
    assert!(
        first.accepted >= 3 && first.rejected.is_empty(),
        "{first:?}"
    );
    let (seen, plan) = (b.checkins().unwrap(), b.plan().unwrap());
    assert_eq!(seen, a.checkins().unwrap());
    assert_eq!(plan, a.plan().unwrap());

    for round in 0..2 {
        let again = b.ingest(items.clone()).unwrap();
        assert!(again.rejected.is_empty(), "round {round}: {again:?}");
        let bundles_and_acl = items
            .iter()
            .filter(|i| !matches!(i, SyncItem::Envelope(_)))
            .count();
        assert!(
            again.duplicates >= bundles_and_acl,
            "round {round}: {again:?}"
        );
        assert_eq!(b.checkins().unwrap(), seen, "round {round}");
        assert_eq!(b.plan().unwrap(), plan, "round {round}");
        assert_eq!(b.sync_items().unwrap().len(), items.len(), "round {round}");
    }
}

/// Strict form of the replay test: a replay stores nothing, counts every item as a
/// duplicate, and announces nothing (held envelopes used to be re-accepted and a
/// replay raised a remote-change event).
#[test]
fn replaying_everything_a_device_holds_is_all_duplicates() {
    let (a, _ka) = new_vault();
    let (b, _kb) = join(&a, Role::Owner);
    a.add_checkin(&checkin(3, "one")).unwrap();
    let items = a.sync_items().unwrap();
    b.ingest(items.clone()).unwrap();

    let mut events = b.subscribe();
    let again = b.ingest(items.clone()).unwrap();
    assert!(again.rejected.is_empty(), "{again:?}");
    assert_eq!(
        again.accepted, 0,
        "a replay stored something new: {again:?}"
    );
    assert_eq!(
        again.duplicates,
        items.len(),
        "every item is already held: {again:?}"
    );
    assert!(
        events.try_recv().is_err(),
        "a replay announced a remote change"
    );
}

#[test]
fn bundles_cannot_move_to_another_members_journal() {
    let (a, _ka) = new_vault();
    let (b, _kb) = join(&a, Role::Owner);
    let (d, _kd) = new_vault();
    d.add_checkin(&checkin(1, "D's own")).unwrap();
    // B writes in both journals, so a bundle of B's relabelled into D passes the
    // author check and must fail on its signature.
    d.authorize_device(&b.device_public().unwrap(), Role::Writer)
        .unwrap();
    let d_before = d.checkins().unwrap();
    let bundle = bundle_for_new_checkin(&b, &checkin(2, "B's private note"));

    let report = d.ingest(vec![SyncItem::Bundle(bundle.clone())]).unwrap();
    assert_rejected(
        &report,
        "another document",
        "B's bundle for A's journal into D",
    );
    assert_eq!(d.checkins().unwrap(), d_before);

    // Relabelled as D's: the signature covers the doc id.
    let l = layout(&bundle);
    let doc_at = l.header.start + 1; // after the format byte
    let b_doc = *b.journal_id().unwrap().as_bytes();
    assert_eq!(&bundle[doc_at..doc_at + 16], &b_doc, "doc id location");
    let mut relabelled = bundle.clone();
    relabelled[doc_at..doc_at + 16].copy_from_slice(d.journal_id().unwrap().as_bytes());
    let report = d.ingest(vec![SyncItem::Bundle(relabelled)]).unwrap();
    assert_rejected(&report, "signature", "relabelled bundle into D");
    assert_eq!(d.checkins().unwrap(), d_before);

    // Everything D holds (its ACL, envelopes and bundles) pushed at B: all refused.
    let b_before = b.checkins().unwrap();
    let d_items = d.sync_items().unwrap();
    let report = b.ingest(d_items.clone()).unwrap();
    assert_eq!(report.accepted, 0, "{report:?}");
    assert_eq!(report.rejected.len(), d_items.len(), "{report:?}");
    assert_eq!(b.checkins().unwrap(), b_before);
    assert_eq!(b.devices().unwrap().len(), a.devices().unwrap().len());
}

#[test]
fn a_damaged_store_file_is_an_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vault");
    let ks = MemoryKeyStore::new();
    {
        let v = Vault::create(Location::Dir(dir.clone()), &ks, None).unwrap();
        for i in 1..=5u8 {
            v.add_checkin(&checkin(i, &format!("entry {i}"))).unwrap();
        }
    }
    let file = dir.join(STORE_FILE);
    let original = std::fs::read(&file).unwrap();
    // Control: the undamaged file opens and shows the entries.
    {
        let v = Vault::open(Location::Dir(dir.clone()), &ks).unwrap();
        assert_eq!(v.checkins().unwrap().len(), 5);
    }

    let n = original.len();
    let mut variants: Vec<(String, Vec<u8>)> = [0, 1, 16, 512, 4096, n / 2, n - 1]
        .into_iter()
        .filter(|&len| len < n)
        .map(|len| {
            (
                format!("truncated to {len} of {n} bytes"),
                original[..len].to_vec(),
            )
        })
        .collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut garbage = |len: usize| {
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect::<Vec<u8>>()
    };
    variants.push(("garbage of the same length".into(), garbage(n)));
    variants.push(("4 KiB of garbage".into(), garbage(4096)));
    variants.push(("text".into(), b"this is not a database\n".to_vec()));
    variants.push(("zeros".into(), vec![0; n]));

    for (what, bytes) in variants {
        std::fs::write(&file, &bytes).unwrap();
        let opened = std::panic::catch_unwind(|| Vault::open(Location::Dir(dir.clone()), &ks));
        match opened {
            Err(_) => panic!("{what}: Vault::open panicked"),
            Ok(Ok(v)) => panic!(
                "{what}: opened as a vault with {} check-ins",
                v.checkins().map(|c| c.len()).unwrap_or(0)
            ),
            Ok(Err(e)) => {
                eprintln!(
                    "{what}: after open {} bytes: {e}",
                    std::fs::metadata(&file).unwrap().len()
                );
                assert!(!e.to_string().trim().is_empty(), "{what}: empty message")
            }
        }
    }
}

#[test]
fn opening_where_there_is_no_vault_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let ks = MemoryKeyStore::new();
    for dir in [tmp.path().to_owned(), tmp.path().join("never-made")] {
        let err = Vault::open(Location::Dir(dir.clone()), &ks).unwrap_err();
        assert!(
            err.to_string().contains("no Hearth vault"),
            "{dir:?}: {err}"
        );
        assert!(!Vault::exists(&dir));
    }
}

/// A crash during the very first `init` can leave an empty store file behind; the
/// member must be told there is no vault, and creating one there must work.
#[test]
fn an_empty_store_file_left_by_a_crash_does_not_block_the_vault() {
    let tmp = tempfile::tempdir().unwrap();
    let ks = MemoryKeyStore::new();
    std::fs::write(tmp.path().join(STORE_FILE), b"").unwrap();
    let err = Vault::open(Location::Dir(tmp.path().to_owned()), &ks).unwrap_err();
    assert!(err.to_string().contains("no Hearth vault"), "{err}");
    let v = Vault::create(Location::Dir(tmp.path().to_owned()), &ks, None).unwrap();
    v.add_checkin(&checkin(3, "first")).unwrap();
}

/// A bundle under an epoch whose key has not reached this device yet is kept (it is
/// validly signed by a writer); once the envelope with that key arrives, the member
/// must see its contents without restarting the app.
#[test]
fn a_bundle_that_arrives_before_its_key_shows_once_the_key_arrives() {
    let (a, ka) = new_vault();
    let tmp = tempfile::tempdir().unwrap();
    let kb = MemoryKeyStore::new();
    a.authorize_device(&Vault::prepare_device(&kb).unwrap(), Role::Owner)
        .unwrap();
    let doc = a.journal_id().unwrap();
    let b = Vault::join(
        Location::Dir(tmp.path().to_owned()),
        &kb,
        doc,
        a.sync_items().unwrap(),
    )
    .unwrap();
    let (ak, bk) = (keys_of(&ka), keys_of(&kb));

    // What A's device would send after opening epoch 1 (built here with A's own keys:
    // the public API opens an epoch only by removing a device): the record opening
    // epoch 1 with its key, B's envelope for that key, and a check-in bundle under it.
    let items = a.sync_items().unwrap();
    let key0 = key_from_envelopes(&items, &bk);
    let genuine = bundle_for_new_checkin(&a, &checkin(2, "written under epoch 1"));
    let genuine = Bundle::decode(&genuine).unwrap();
    let change = genuine.decrypt(&key0).unwrap();
    let records: Vec<AclRecord> = items
        .iter()
        .filter_map(|i| match i {
            SyncItem::Acl(x) => Some(AclRecord::decode(x).unwrap()),
            _ => None,
        })
        .collect();
    let state = AccessState::evaluate(doc, &records);
    let key1 = DocKey::generate().unwrap();
    let mut readers = vec![ak.id(), bk.id()];
    readers.sort();
    let epoch1 = AclRecord::sign(
        AclBody {
            doc,
            issuer: ak.id(),
            parents: state.heads().to_vec(),
            epoch: 1,
            action: Action::Rotate {
                key: key1.commitment(),
                readers,
            },
        },
        &ak,
    )
    .unwrap();
    let envelope = Envelope::seal(doc, 1, &key1, bk.id(), bk.recipient(), &ak).unwrap();
    let header = BundleHeader {
        epoch: 1,
        seq: genuine.header().seq + 1,
        prev: Some(genuine.id()),
        ..genuine.header().clone()
    };
    let bundle = Bundle::seal(header, &change, &key1, &ak)
        .unwrap()
        .into_bytes();

    // The bundle comes first (another path delivered it sooner): kept, not readable.
    let report = b.ingest(vec![SyncItem::Bundle(bundle.clone())]).unwrap();
    assert_eq!(
        (report.accepted, report.rejected.len()),
        (1, 0),
        "{report:?}"
    );
    assert!(b.checkins().unwrap().is_empty());
    // Then the ACL record and the key.
    let report = b
        .ingest(vec![
            SyncItem::Acl(epoch1.bytes().to_vec()),
            SyncItem::Envelope(envelope.bytes().to_vec()),
        ])
        .unwrap();
    assert!(report.rejected.is_empty(), "{report:?}");
    b.ingest(vec![SyncItem::Bundle(bundle)]).unwrap();
    let shown = b.checkins().unwrap().len();
    // After a restart it is there, so the only fault is the running vault's view.
    drop(b);
    let reopened = Vault::open(Location::Dir(tmp.path().to_owned()), &kb).unwrap();
    assert_eq!(reopened.checkins().unwrap().len(), 1, "stored and readable");
    assert_eq!(
        shown, 1,
        "the check-in shows only after reopening the vault"
    );
}
