//! Vault benchmark: a journal of 5,500 check-ins, one commit (one signed, encrypted,
//! fsync'd bundle) each, in a real redb file in a temporary directory.
//!
//! It measures, and prints:
//! 1. **Adding a check-in**: every one of the 5,500 `add_checkin` calls is timed
//!    (median, p90, p99, max; the calls that also auto-compacted are counted apart).
//!    The same calls on a `Location::Memory` vault (no fsync), interleaved call by
//!    call with the file vault, show how much of the cost is the durable write; the
//!    parts of a call (Automerge edit, sealing, a bare fsync'd redb commit of a value
//!    of the same size) are timed on their own for comparison.
//! 2. **Cold open** after `compact()`: `Vault::open` (open redb, read, verify
//!    signatures, unwrap the doc key, decrypt, load) against `JournalDoc::load` of
//!    the same journal's `save()` bytes (Automerge's load of each of the journal's
//!    parts, in parallel as the vault loads them), both 15
//!    times, interleaved, in the same run; the ratio of the medians is checked against
//!    the target (≤ 1.3×). The compacted open is broken down stage by stage with the
//!    crate's public parts. Also timed: the open of the state left by the build (a
//!    snapshot plus the change bundles written since the last auto-compaction), and
//!    the slowest state of the cycle (a snapshot plus `COMPACT_AFTER - 1` change
//!    bundles, just before the next auto-compaction), with what one change bundle
//!    costs there. "Cold" means a fresh `Vault` with nothing cached in the process;
//!    the files are in the OS page cache (dropping it needs root).
//! 3. **Bytes at rest** after `compact()`: the redb file, and everything in the
//!    vault directory except the 32-byte device key, against `save()`; and the sum of
//!    the stored values alone (bundles, envelopes, ACL records). The target is
//!    "≤ 1.1 × save() + a fixed overhead"; the fixed part is measured in the same run
//!    as the overhead of a compacted vault with an empty journal. A bare redb file
//!    holding the same number of bytes, as one value and in 16,000-byte values, is the
//!    baseline that shows what redb itself costs.
//!
//! 4. **Access log evaluation**: a 10,000-record access log (owners adding and removing
//!    devices, a removal in every few records opening an epoch, every tenth step two
//!    owners acting concurrently), evaluated 11 times: the median against the target
//!    (< 50 ms), beside the signature checks of the same records (what any replica
//!    pays to receive them) as the baseline, and the cost of admitting one more record.
//!
//! Run: `cargo bench -p hearth-core --bench vault` (release profile; under a minute
//! on two cores when the disk is idle). The check-in data is random but seeded, so
//! runs are comparable. Only ratios within one run mean much: fsync times here vary
//! tenfold with other work on the machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use automerge::ActorId;
use hearth_core::access::{
    AccessLog, AccessState, AclBody, AclRecord, Action, EpochKey, Removal, Role,
};
use hearth_core::bundle::{Bundle, BundleHeader, BundleKind, FORMAT_V1};
use hearth_core::doc::JournalDoc;
use hearth_core::envelope::{DocKey, Envelope};
use hearth_core::identity::{DeviceKeys, FileKeyStore, KeyStore, Seed};
use hearth_core::ids::{BundleId, DocId};
use hearth_core::model::NewCheckIn;
use hearth_core::store::Store;
use hearth_core::vault::{COMPACT_AFTER, Location, STORE_FILE, SyncItem, Vault};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Check-ins in the journal.
const CHECKINS: usize = 5_500;
/// Timed opens (and baseline loads).
const OPENS: usize = 15;
/// Cold-open target, as a ratio to Automerge's load of the journal's parts.
const OPEN_TARGET: f64 = 1.3;
/// Bytes-at-rest target, as a ratio to `save()` (plus a fixed overhead).
const BYTES_TARGET: f64 = 1.1;
/// The seed of the check-in data (fixed, so runs are comparable).
const SEED: u64 = 0x4EA7_2026;
/// The device key file (not counted as journal data at rest).
const KEY_FILE: &str = "device.key";

/// The words notes are made of.
const WORDS: &str = "\
    today felt better than yesterday went to the meeting and talked with my sponsor \
    about work slept badly again walked dog in park called sister cravings were \
    strong after dinner but I used breathing exercise grateful for small things \
    tired anxious calm kitchen cooked soup read a book evening morning coffee rain \
    sun group shared story listened quiet day hard";
/// The tags check-ins carry.
const TAGS: &str = "meeting family work exercise sleep sponsor stress outdoors friends therapy";

/// Seeded, realistic check-ins: mood 1–5, craving about half the time, energy and
/// sleep mostly, one to three tags from a small set, a note of 20–200 characters.
fn checkins(n: usize) -> Vec<NewCheckIn> {
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let tag_set: Vec<&str> = TAGS.split_whitespace().collect();
    let mut rng = StdRng::seed_from_u64(SEED);
    let start_ms: u64 = 1_700_000_000_000;
    (0..n)
        .map(|i| {
            let target = rng.random_range(20..=200usize);
            let mut note = String::new();
            while note.len() < target {
                let w = words[rng.random_range(0..words.len())];
                if note.len() + 1 + w.len() > 200 {
                    break;
                }
                if !note.is_empty() {
                    note.push(' ');
                }
                note.push_str(w);
            }
            let tags = (0..rng.random_range(1..=3))
                .map(|_| tag_set[rng.random_range(0..tag_set.len())].to_owned())
                .collect();
            NewCheckIn {
                // Roughly one check-in a day, at varying times.
                at_ms: Some(start_ms + i as u64 * 86_400_000 + rng.random_range(0..43_200_000u64)),
                mood: rng.random_range(1..=5),
                craving: rng.random_bool(0.5).then(|| rng.random_range(0..=10)),
                energy: rng.random_bool(0.8).then(|| rng.random_range(1..=5)),
                sleep_hours: rng
                    .random_bool(0.7)
                    .then(|| f32::from(rng.random_range(8..=20u8)) / 2.0),
                tags,
                note,
            }
        })
        .collect()
}

/// Nearest-rank percentile of sorted samples (`p` in 0..=1).
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The median (the mean of the middle two for an even count).
fn median(samples: &[Duration]) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2
    }
}

fn fmt_d(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1_000.0 {
        format!("{us:.1} µs")
    } else {
        format!("{:.2} ms", us / 1_000.0)
    }
}

fn fmt_bytes(b: u64) -> String {
    if b >= 10_000 {
        format!("{b} B ({:.1} KiB)", b as f64 / 1024.0)
    } else {
        format!("{b} B")
    }
}

fn pass(ok: bool) -> &'static str {
    if ok { "PASS" } else { "MISS" }
}

fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let t = Instant::now();
    let out = f();
    (t.elapsed(), out)
}

/// Every file under `dir` except the device key, in bytes.
fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            total += dir_bytes(&entry.path());
        } else if entry.file_name() != KEY_FILE {
            total += meta.len();
        }
    }
    total
}

fn file_bytes(dir: &Path) -> u64 {
    std::fs::metadata(dir.join(STORE_FILE)).unwrap().len()
}

/// The stored values, by kind: (ACL records, envelopes, bundles, bundle count).
fn value_bytes(items: &[SyncItem]) -> (u64, u64, u64, usize) {
    let (mut acl, mut env, mut bun, mut n) = (0, 0, 0, 0);
    for item in items {
        match item {
            SyncItem::Acl(b) => acl += b.len() as u64,
            SyncItem::Envelope(b) => env += b.len() as u64,
            SyncItem::Bundle(b) => {
                bun += b.len() as u64;
                n += 1;
            }
        }
    }
    (acl, env, bun, n)
}

/// What a compacted vault weighs at rest.
struct AtRest {
    save: u64,
    file: u64,
    dir: u64,
    values: u64,
    acl: u64,
    envelopes: u64,
    bundles: u64,
    bundle_count: usize,
}

/// Compacts the vault, closes it, and measures it at rest.
fn compact_and_measure(vault: Vault, dir: &Path) -> AtRest {
    let report = vault.compact().unwrap();
    let save = vault.journal_bytes().unwrap().len() as u64;
    // The snapshot is save() and a small note (its author's frontier).
    let note = (report.snapshot_bytes as u64).checked_sub(save);
    assert!(
        note.is_some_and(|n| n < 4096),
        "snapshot ≠ save() and a note"
    );
    let (acl, envelopes, bundles, bundle_count) = value_bytes(&vault.sync_items().unwrap());
    assert_eq!(bundle_count, vault.bundle_count().unwrap());
    drop(vault);
    AtRest {
        save,
        file: file_bytes(dir),
        dir: dir_bytes(dir),
        values: acl + envelopes + bundles,
        acl,
        envelopes,
        bundles,
        bundle_count,
    }
}

const REDB_T: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("t");

/// Median time of `n` one-value commits (`durable`: fsync'd) in a bare redb database.
fn bare_redb_commit(db: &redb::Database, value: &[u8], n: u64, durable: bool) -> Duration {
    let samples: Vec<Duration> = (0..n)
        .map(|i| {
            time(|| {
                let mut tx = db.begin_write().unwrap();
                if !durable {
                    tx.set_durability(redb::Durability::None).unwrap();
                }
                tx.open_table(REDB_T).unwrap().insert(i, value).unwrap();
                tx.commit().unwrap();
            })
            .0
        })
        .collect();
    median(&samples)
}

/// The size of a fresh, compacted redb file holding `total` bytes as values of at
/// most `chunk` bytes each.
fn bare_redb_bytes(total: usize, chunk: usize) -> u64 {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bare.redb");
    {
        let mut db = redb::Database::create(&path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(REDB_T).unwrap();
            let data = vec![0xA5u8; total];
            for (i, part) in data.chunks(chunk).enumerate() {
                t.insert(i as u64, part).unwrap();
            }
        }
        tx.commit().unwrap();
        db.compact().unwrap();
    }
    std::fs::metadata(&path).unwrap().len()
}

/// Where one `add_checkin` goes, with the crate's public parts and bare redb:
/// prints the medians.
fn add_breakdown(data: &[NewCheckIn], vault_median: Duration, memory_median: Duration) {
    let actor = automerge::ActorId::from(vec![1u8; 16]);
    let (mut doc, _) = JournalDoc::create(actor, Some("Sam")).unwrap();
    let mut edit_t = Vec::with_capacity(data.len());
    let mut changes = Vec::with_capacity(data.len());
    for c in data {
        let c = c.validate(0).unwrap();
        let (d, change) = time(|| doc.add_checkin(&c).unwrap());
        edit_t.push(d);
        changes.push(change);
    }
    let mean_change = changes.iter().map(Vec::len).sum::<usize>() / changes.len();
    let key = DocKey::generate().unwrap();
    let device = DeviceKeys::derive(&Seed::generate()).unwrap();
    let seal_t: Vec<Duration> = changes
        .iter()
        .step_by(5)
        .map(|c| {
            let header = BundleHeader {
                format: FORMAT_V1,
                doc: DocId([1; 16]),
                epoch: 0,
                author: device.id(),
                seq: 2,
                prev: Some(BundleId([2; 32])),
                kind: BundleKind::Changes,
                created_at_ms: 1,
                supersedes: Vec::new(),
            };
            time(|| Bundle::seal(header, c, &key, &device).unwrap()).0
        })
        .collect();
    let sealed_len = mean_change + 450;
    let value = vec![0x5Au8; sealed_len];
    let tmp = tempfile::tempdir().unwrap();
    let file_db = redb::Database::create(tmp.path().join("bare.redb")).unwrap();
    let durable = bare_redb_commit(&file_db, &value, 1000, true);
    let mem_db = redb::Database::builder()
        .create_with_backend(redb::backends::InMemoryBackend::new())
        .unwrap();
    let in_memory = bare_redb_commit(&mem_db, &value, 1000, false);
    let pct = |d: Duration| 100.0 * d.as_secs_f64() / vault_median.as_secs_f64();
    println!("   where a call goes (medians; each part timed on its own):");
    println!(
        "     automerge edit + save_after (JournalDoc)  {:>10}  ({:.0}% of the file-vault median; \
         change {mean_change} B)",
        fmt_d(median(&edit_t)),
        pct(median(&edit_t))
    );
    println!(
        "     Bundle::seal (age encrypt + sign)         {:>10}  ({:.0}%)",
        fmt_d(median(&seal_t)),
        pct(median(&seal_t))
    );
    println!(
        "     bare redb commit of a {sealed_len} B value, fsync'd {:>10}  ({:.0}%; not fsync'd, \
         in memory: {})",
        fmt_d(durable),
        pct(durable),
        fmt_d(in_memory)
    );
    let rest = memory_median
        .saturating_sub(median(&edit_t))
        .saturating_sub(median(&seal_t))
        .saturating_sub(in_memory);
    println!(
        "     rest of the Memory-vault call (validation, batch, 4 tables, lock) ≈ {}",
        fmt_d(rest)
    );
}

/// Times `Vault::open` and the baseline `JournalDoc::load` of `bytes`, `OPENS` times
/// each, interleaved (alternating which goes first, after one untimed warm-up of
/// each) so that drift on the machine hits both alike. Returns (open, load) samples.
fn open_vs_load(dir: &Path, keys: &FileKeyStore, bytes: &[u8]) -> (Vec<Duration>, Vec<Duration>) {
    drop(Vault::open(Location::Dir(dir.to_owned()), keys).unwrap());
    drop(JournalDoc::load(bytes, ActorId::random()).unwrap());
    let (mut open_t, mut load_t) = (Vec::new(), Vec::new());
    for i in 0..OPENS {
        let mut open = || {
            let (d, v) = time(|| Vault::open(Location::Dir(dir.to_owned()), keys));
            drop(v.unwrap());
            open_t.push(d);
        };
        let mut load = || {
            let (d, doc) = time(|| JournalDoc::load(bytes, ActorId::random()));
            drop(doc.unwrap());
            load_t.push(d);
        };
        if i % 2 == 0 {
            open();
            load();
        } else {
            load();
            open();
        }
    }
    (open_t, load_t)
}

/// What each change bundle costs when a vault opens: times (over `REPS` passes) the
/// decode + signature check, the age decryption and the Automerge apply of every
/// stored bundle after the snapshot, one by one as `Vault::open` applies them and,
/// for comparison, as one `load_incremental` of all of them. Prints per-bundle medians.
fn change_bundle_costs(dir: &Path, keys: &FileKeyStore, journal: DocId) {
    const REPS: usize = 3;
    let device = DeviceKeys::derive(&keys.load().unwrap().unwrap()).unwrap();
    let store = Store::open(&dir.join(STORE_FILE), false).unwrap();
    let key = store
        .envelopes(&journal)
        .unwrap()
        .iter()
        .map(|e| Envelope::decode(e).unwrap())
        .find(|e| e.body().recipient == device.id())
        .unwrap()
        .open(&device)
        .unwrap();
    let raw = store.bundles(&journal).unwrap();
    drop(store);
    let mut bundles: Vec<Bundle> = raw
        .iter()
        .map(|(_, b)| Bundle::decode(b).unwrap())
        .collect();
    bundles.sort_by_key(|b| (b.header().kind != BundleKind::Snapshot, b.header().seq));
    let changes = bundles.len() - 1;
    let plain: Vec<Vec<u8>> = bundles.iter().map(|b| b.decrypt(&key).unwrap()).collect();
    let all: Vec<u8> = plain[1..].concat();
    let (mut verify, mut decrypt, mut apply, mut batch) = (vec![], vec![], vec![], vec![]);
    for _ in 0..REPS {
        verify.push(
            time(|| {
                for (_, b) in &raw[1..] {
                    Bundle::decode(b).unwrap();
                }
            })
            .0,
        );
        decrypt.push(
            time(|| {
                for b in &bundles[1..] {
                    b.decrypt(&key).unwrap();
                }
            })
            .0,
        );
        let mut doc = JournalDoc::load(&plain[0], ActorId::random()).unwrap();
        apply.push(
            time(|| {
                for p in &plain[1..] {
                    doc.apply(p).unwrap();
                }
            })
            .0,
        );
        let mut doc = JournalDoc::load(&plain[0], ActorId::random()).unwrap();
        batch.push(time(|| doc.apply(&all).unwrap()).0);
    }
    let each = |s: &[Duration]| fmt_d(median(s) / changes as u32);
    println!(
        "   per change bundle in that state (medians of {REPS} passes over the {changes}): \
         decode + verify {}, age decrypt {}, automerge apply one by one {} \
         (all {changes} in one apply: {} each)",
        each(&verify),
        each(&decrypt),
        each(&apply),
        each(&batch),
    );
}

fn main() {
    let wall = Instant::now();
    println!("hearth-core vault benchmark: {CHECKINS} check-ins, one commit each");
    println!(
        "(auto-compaction after {COMPACT_AFTER} live bundles; medians; all ratios are \
         against baselines measured in this run)"
    );
    let data = checkins(CHECKINS);
    let mean_note = data.iter().map(|c| c.note.len()).sum::<usize>() as f64 / CHECKINS as f64;
    println!("mean note length {mean_note:.0} characters\n");

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vault");
    let keys = FileKeyStore::new(dir.join(KEY_FILE));
    let mem_tmp = tempfile::tempdir().unwrap();
    let mem_keys = FileKeyStore::new(mem_tmp.path().join(KEY_FILE));

    // ---- 1. Adding check-ins -------------------------------------------------
    let vault = Vault::create(Location::Dir(dir.clone()), &keys, Some("Sam")).unwrap();
    let mem = Vault::create(Location::Memory, &mem_keys, Some("Sam")).unwrap();
    let mut file_t = Vec::with_capacity(CHECKINS);
    let mut mem_t = Vec::with_capacity(CHECKINS);
    let mut compacting = Vec::new();
    let mut plain = Vec::new();
    let build = Instant::now();
    for c in &data {
        let before = vault.bundle_count().unwrap();
        let (d, r) = time(|| vault.add_checkin(c));
        r.unwrap();
        file_t.push(d);
        if vault.bundle_count().unwrap() < before {
            compacting.push(d);
        } else {
            plain.push(d);
        }
        let (d, r) = time(|| mem.add_checkin(c));
        r.unwrap();
        mem_t.push(d);
    }
    let build = build.elapsed();
    let mut sorted = file_t.clone();
    sorted.sort();
    println!(
        "1. add_checkin (file vault, fsync'd; {} calls)",
        file_t.len()
    );
    println!(
        "   median {}   p90 {}   p99 {}   max {}",
        fmt_d(median(&sorted)),
        fmt_d(percentile(&sorted, 0.90)),
        fmt_d(percentile(&sorted, 0.99)),
        fmt_d(*sorted.last().unwrap()),
    );
    println!(
        "   calls that also auto-compacted: {} (median {}); the others: median {}",
        compacting.len(),
        if compacting.is_empty() {
            "-".to_owned()
        } else {
            fmt_d(median(&compacting))
        },
        fmt_d(median(&plain)),
    );
    println!(
        "   first 500 calls median {}   last 500 calls median {}",
        fmt_d(median(&file_t[..500])),
        fmt_d(median(&file_t[CHECKINS - 500..])),
    );
    let mut mem_sorted = mem_t.clone();
    mem_sorted.sort();
    let (fm, mm) = (median(&file_t), median(&mem_t));
    println!(
        "   same calls on a Location::Memory vault (no fsync): median {}   p99 {}   \
         (first 500 {}, last 500 {})",
        fmt_d(mm),
        fmt_d(percentile(&mem_sorted, 0.99)),
        fmt_d(median(&mem_t[..500])),
        fmt_d(median(&mem_t[CHECKINS - 500..])),
    );
    println!(
        "   durable write share of the median: {} ({:.0}%)",
        fmt_d(fm.saturating_sub(mm)),
        100.0 * fm.saturating_sub(mm).as_secs_f64() / fm.as_secs_f64(),
    );
    println!(
        "   building both journals took {:.1} s",
        build.as_secs_f64()
    );
    add_breakdown(&data, fm, mm);
    println!();
    let live_before = vault.bundle_count().unwrap();
    let uncompacted_save = vault.journal_bytes().unwrap().len();
    let (acl, env, bun, _) = value_bytes(&vault.sync_items().unwrap());
    drop(mem);
    drop(vault);
    let uncompacted_file = file_bytes(&dir);

    // ---- 2. Cold open --------------------------------------------------------
    println!("2. cold open");
    // Before compact(): a snapshot plus the change bundles written since.
    let mut open_unc = Vec::with_capacity(OPENS);
    for _ in 0..OPENS {
        let (d, v) = time(|| Vault::open(Location::Dir(dir.clone()), &keys));
        drop(v.unwrap());
        open_unc.push(d);
    }
    println!(
        "   before compact() ({live_before} live bundles, redb file {}, stored values {}): \
         Vault::open median {} ({OPENS} runs)",
        fmt_bytes(uncompacted_file),
        fmt_bytes(acl + env + bun),
        fmt_d(median(&open_unc)),
    );

    let vault = Vault::open(Location::Dir(dir.clone()), &keys).unwrap();
    let journal = vault.journal_id().unwrap();
    let at_rest = compact_and_measure(vault, &dir);
    let vault = Vault::open(Location::Dir(dir.clone()), &keys).unwrap();
    let bytes = vault.journal_bytes().unwrap();
    assert_eq!(vault.checkins().unwrap().len(), CHECKINS);
    assert_eq!(vault.bundle_count().unwrap(), 1);
    if bytes.len() != uncompacted_save {
        println!(
            "   note: save() is {} B after reopening, {uncompacted_save} B before compact()",
            bytes.len()
        );
    }
    drop(vault);

    let (open_t, load_t) = open_vs_load(&dir, &keys, &bytes);
    let (om, lm) = (median(&open_t), median(&load_t));
    let ratio = om.as_secs_f64() / lm.as_secs_f64();
    println!(
        "   after compact(): Vault::open median {}   (min {}, max {})",
        fmt_d(om),
        fmt_d(*open_t.iter().min().unwrap()),
        fmt_d(*open_t.iter().max().unwrap()),
    );
    println!(
        "   baseline JournalDoc::load of the same save() ({}, its parts in parallel): median {}   \
         (min {}, max {})",
        fmt_bytes(bytes.len() as u64),
        fmt_d(lm),
        fmt_d(*load_t.iter().min().unwrap()),
        fmt_d(*load_t.iter().max().unwrap()),
    );
    println!(
        "   ratio open / load = {ratio:.2}×   target ≤ {OPEN_TARGET}×   {}",
        pass(ratio <= OPEN_TARGET)
    );

    // Where the open goes: the same stages with the crate's public parts.
    let seed = keys.load().unwrap().unwrap();
    let device = DeviceKeys::derive(&seed).unwrap();
    let path = dir.join(STORE_FILE);
    let mut stages: [Vec<Duration>; 6] = Default::default();
    for _ in 0..OPENS {
        let (d, store) = time(|| Store::open(&path, false).unwrap());
        stages[0].push(d);
        let (d, (acl, envs, bundles)) = time(|| {
            (
                store.acl(&journal).unwrap(),
                store.envelopes(&journal).unwrap(),
                store.bundles(&journal).unwrap(),
            )
        });
        stages[1].push(d);
        drop(store);
        let (d, (envs, bundles)) = time(|| {
            for a in &acl {
                AclRecord::decode(a).unwrap();
            }
            let envs: Vec<Envelope> = envs.iter().map(|e| Envelope::decode(e).unwrap()).collect();
            let bundles: Vec<Bundle> = bundles
                .iter()
                .map(|(_, b)| Bundle::decode(b).unwrap())
                .collect();
            (envs, bundles)
        });
        stages[2].push(d);
        let (d, key) = time(|| {
            envs.iter()
                .find(|e| e.body().recipient == device.id())
                .unwrap()
                .open(&device)
                .unwrap()
        });
        stages[3].push(d);
        let (d, plain) = time(|| bundles[0].decrypt(&key).unwrap());
        stages[4].push(d);
        let (d, doc) = time(|| JournalDoc::load(&plain, ActorId::random()).unwrap());
        stages[5].push(d);
        drop(doc);
    }
    let names = [
        "redb open (Store::open)",
        "read ACL, envelopes, bundles",
        "decode + verify signatures",
        "unwrap the doc key (age)",
        "decrypt the snapshot (age)",
        "automerge load (the parts in parallel)",
    ];
    println!(
        "   where it goes (medians of {OPENS}; stages run separately, so they need not add up):"
    );
    for (name, s) in names.iter().zip(&stages) {
        let m = median(s);
        println!(
            "     {name:<30} {:>10}  ({:.0}% of the load baseline)",
            fmt_d(m),
            100.0 * m.as_secs_f64() / lm.as_secs_f64()
        );
    }
    let after_opens = file_bytes(&dir);

    // The slowest open in the compaction cycle: just before the next auto-compaction,
    // a snapshot plus COMPACT_AFTER - 1 change bundles.
    let vault = Vault::open(Location::Dir(dir.clone()), &keys).unwrap();
    for c in data.iter().cycle() {
        if vault.bundle_count().unwrap() >= COMPACT_AFTER {
            break;
        }
        vault.add_checkin(c).unwrap();
    }
    let live = vault.bundle_count().unwrap();
    let worst_bytes = vault.journal_bytes().unwrap();
    drop(vault);
    let (wo, wl) = open_vs_load(&dir, &keys, &worst_bytes);
    let (wo, wl) = (median(&wo), median(&wl));
    println!(
        "   just before the next auto-compaction ({live} live bundles: the snapshot + {} \
         check-ins): Vault::open median {}, load of its save() {}: {:.2}×",
        live - 1,
        fmt_d(wo),
        fmt_d(wl),
        wo.as_secs_f64() / wl.as_secs_f64()
    );
    change_bundle_costs(&dir, &keys, journal);
    println!();

    // ---- 3. Bytes at rest ----------------------------------------------------
    // The fixed part: a vault with an empty journal, compacted the same way.
    let empty_tmp = tempfile::tempdir().unwrap();
    let empty_dir = empty_tmp.path().join("vault");
    let empty_keys = FileKeyStore::new(empty_dir.join(KEY_FILE));
    let empty = Vault::create(Location::Dir(empty_dir.clone()), &empty_keys, Some("Sam")).unwrap();
    let fixed = compact_and_measure(empty, &empty_dir);

    let r = &at_rest;
    println!(
        "3. bytes at rest after compact() ({} bundle{})",
        r.bundle_count,
        if r.bundle_count == 1 { "" } else { "s" }
    );
    println!("   save() of the journal: {}", fmt_bytes(r.save));
    let rows = [
        ("redb file (hearth.redb)", r.file, fixed.file),
        ("whole directory (no device key)", r.dir, fixed.dir),
        ("stored values (bundles+env+ACL)", r.values, fixed.values),
    ];
    println!(
        "   {:<33} {:>22} {:>8} {:>14} {:>14} {:>16}",
        "", "bytes", "× save", "overhead", "fixed part", "size-dependent"
    );
    for (name, bytes, fixed_bytes) in rows {
        let overhead = bytes as i64 - r.save as i64;
        let fixed_overhead = fixed_bytes as i64 - fixed.save as i64;
        let variable = overhead - fixed_overhead;
        let ok = bytes as f64 <= BYTES_TARGET * r.save as f64 + fixed_overhead as f64;
        println!(
            "   {name:<33} {:>22} {:>7.2}× {:>12} B {:>12} B {:>9} B {:>4.1}%  {}",
            fmt_bytes(bytes),
            bytes as f64 / r.save as f64,
            overhead,
            fixed_overhead,
            variable,
            100.0 * variable as f64 / r.save as f64,
            pass(ok),
        );
    }
    println!(
        "   target: ≤ {BYTES_TARGET} × save() + the fixed part, where the fixed part is the \
         same overhead measured on a compacted vault with an empty journal (its save() \
         is {} B)",
        fixed.save
    );
    println!(
        "   stored values: bundles {} B (snapshot overhead over save(): {} B), envelopes {} B, \
         ACL records {} B",
        r.bundles,
        r.bundles as i64 - r.save as i64,
        r.envelopes,
        r.acl,
    );
    println!(
        "   before compact(): redb file {}, stored values {} (bundles {} B in {live_before}), \
         save() {}",
        fmt_bytes(uncompacted_file),
        fmt_bytes(acl + env + bun),
        bun,
        fmt_bytes(uncompacted_save as u64),
    );
    let one_value = bare_redb_bytes(r.bundles as usize, r.bundles as usize);
    let chunked = bare_redb_bytes(r.bundles as usize, 16_000);
    println!(
        "   redb alone, same run (fresh file, compacted) holding {} B: as one value {} \
         ({:.2}× save()); as 16,000 B values {} ({:.2}×); empty {}",
        r.bundles,
        fmt_bytes(one_value),
        one_value as f64 / r.save as f64,
        fmt_bytes(chunked),
        chunked as f64 / r.save as f64,
        fmt_bytes(bare_redb_bytes(0, 1)),
    );
    if after_opens != r.file {
        println!(
            "   note: the redb file is {} after the {} opens above (was {} after compact())",
            fmt_bytes(after_opens),
            2 * OPENS + 3,
            fmt_bytes(r.file)
        );
    }
    println!();
    access_log_eval();
    println!("\ntotal {:.1} s", wall.elapsed().as_secs_f64());
}

/// Records in the access-log benchmark.
const ACL_RECORDS: usize = 10_000;
/// The target for evaluating them.
const ACL_TARGET: Duration = Duration::from_millis(50);

/// A 10,000-record access log shaped like a long-lived member's, taken to extremes:
/// owners add devices and remove them (each removal opens an epoch), and every tenth
/// step two owners act without having seen each other's last record.
fn access_log() -> (DocId, Vec<AclRecord>, DeviceKeys) {
    let mut rng = StdRng::seed_from_u64(SEED);
    let device = |rng: &mut StdRng| DeviceKeys::derive(&Seed::from_bytes(rng.random())).unwrap();
    let owners: Vec<DeviceKeys> = (0..3).map(|_| device(&mut rng)).collect();
    let (doc, genesis) = AclRecord::genesis(&owners[0], EpochKey([0; 32])).unwrap();
    let mut records = vec![genesis];
    let mut heads = vec![records[0].id()];
    let mut epoch = 0u32;
    let mut members: Vec<DeviceKeys> = Vec::new();
    let sign =
        |by: &DeviceKeys, parents: &[hearth_core::ids::AclId], epoch: u32, action: Action| {
            let mut parents = parents.to_vec();
            parents.sort();
            AclRecord::sign(
                AclBody {
                    doc,
                    issuer: by.id(),
                    parents,
                    epoch,
                    action,
                },
                by,
            )
            .unwrap()
        };
    let grant = |to: &DeviceKeys, role: Role| Action::Grant {
        subject: to.id(),
        recipient: to.recipient().to_string(),
        role,
    };
    // The other owners join first.
    for o in &owners[1..] {
        let r = sign(&owners[0], &heads, epoch, grant(o, Role::Owner));
        heads = vec![r.id()];
        records.push(r);
    }
    let mut step = 0usize;
    while records.len() < ACL_RECORDS {
        step += 1;
        let by = &owners[step % owners.len()];
        if step.is_multiple_of(10) {
            // Two owners, each not having seen the other's record; then a merge.
            let other = &owners[(step + 1) % owners.len()];
            let (x, y) = (device(&mut rng), device(&mut rng));
            let a = sign(by, &heads, epoch, grant(&x, Role::Reader));
            let b = sign(other, &heads, epoch, grant(&y, Role::Reader));
            heads = vec![a.id(), b.id()];
            records.push(a);
            records.push(b);
            members.push(x);
            members.push(y);
            continue;
        }
        if members.len() > 4 || (step.is_multiple_of(3) && !members.is_empty()) {
            let gone = members.remove(rng.random_range(0..members.len()));
            epoch += 1;
            let mut readers: Vec<_> = owners
                .iter()
                .chain(members.iter())
                .map(|d| d.id())
                .collect();
            readers.sort();
            let r = sign(
                by,
                &heads,
                epoch,
                Action::Remove {
                    removed: vec![Removal {
                        subject: gone.id(),
                        mark: None,
                    }],
                    key: EpochKey(rng.random()),
                    readers,
                },
            );
            heads = vec![r.id()];
            records.push(r);
        } else {
            let x = device(&mut rng);
            let r = sign(by, &heads, epoch, grant(&x, Role::Writer));
            heads = vec![r.id()];
            records.push(r);
            members.push(x);
        }
    }
    records.truncate(ACL_RECORDS);
    let first = owners.into_iter().next().unwrap();
    (doc, records, first)
}

fn access_log_eval() {
    let (doc, records, _owner) = access_log();
    let bytes: Vec<Vec<u8>> = records.iter().map(|r| r.bytes().to_vec()).collect();
    let removals = records
        .iter()
        .filter(|r| matches!(r.body().action, Action::Remove { .. }))
        .count();
    let mut evals = Vec::new();
    let mut checks = Vec::new();
    let mut state = None;
    for _ in 0..11 {
        let (d, s) = time(|| AccessState::evaluate(doc, &records));
        evals.push(d);
        state = Some(s);
        let (d, decoded) = time(|| {
            bytes
                .iter()
                .filter(|b| AclRecord::decode(b).is_ok())
                .count()
        });
        assert_eq!(decoded, records.len());
        checks.push(d);
    }
    let state = state.unwrap();
    let (eval, check) = (median(&evals), median(&checks));
    // The last record arriving on top of the other 9,999: what a push of one record
    // costs a replica (it is evaluated with the whole log before it is kept).
    let mut log = AccessLog::from_stored(doc, records[..records.len() - 1].to_vec());
    let last = records.last().unwrap().clone();
    let (admit, admitted) = time(|| log.admit(vec![last]));
    assert_eq!(admitted.stored.len(), 1, "{admitted:?}");
    println!(
        "4. access log evaluation: {} records ({removals} removals, {} epochs, {} valid)",
        records.len(),
        state.key_epoch() + 1,
        state.applied()
    );
    println!(
        "   evaluate: median {}  p90 {}   target < {}: {}",
        fmt_d(eval),
        fmt_d(percentile(
            &{
                let mut e = evals.clone();
                e.sort();
                e
            },
            0.9
        )),
        fmt_d(ACL_TARGET),
        pass(eval < ACL_TARGET)
    );
    println!(
        "   baseline, same run: checking the {} signatures {} (evaluate = {:.2}× that)",
        records.len(),
        fmt_d(check),
        eval.as_secs_f64() / check.as_secs_f64()
    );
    println!(
        "   admitting the last record onto the other {} (evaluated with them): {}",
        records.len() - 1,
        fmt_d(admit)
    );
}
