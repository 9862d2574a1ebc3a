//! Sync benchmark, printed as medians with ratios against baselines measured in the
//! same run. Run with `cargo bench -p hearth-hub --bench sync`.
//!
//! 1. Live latency: devices A and B online through a hub on loopback (real iroh, real
//!    redb files with fsync); 100 times, from A calling `add_checkin` until B's vault
//!    announces the change. Target: median under 3 ms.
//! 2. First sync: a journal of 5,500 check-ins (one commit each) reaches a newly paired
//!    device through the hub: from B's `sync_once` (which binds a new endpoint and
//!    dials) until B holds all 5,500 durably. One warm-up run, then the median of 11.
//!    (Adding B compacts A's journal, as every pairing does, so B receives one snapshot.)
//!    Beside it, Automerge's `load` of the same journal alone: the floor under it.
//! 3. The same two workloads in automerge-repo (JavaScript: repo + websocket adapter +
//!    a sync server on loopback, `bench/automerge-repo/bench.mjs`), run in this same
//!    run when Node is installed, and the ratios.
//! 4. A coach: a member with a full plan shares two sections with a coach's device.
//!    Live: the member edits a shared section and the hub carries it to the coach's
//!    device, 50 rounds, from `set_plan_text` until the coach's device announces the
//!    share changed (against section 1's check-in between a member's own devices).
//!    First sync: from the coach's `sync_once` (after taking the share's code) until
//!    its device shows the plan, median of 11 (against section 2's first sync).
//! 5. The hub's resident memory with many members' 5,500-check-in journals stored
//!    (`HEARTH_BENCH_MEMBERS`, default 1,000): the real `hearth-hub` binary started on
//!    a store holding them, RSS read from /proc after start and after serving a sync.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_core::access::Role;
use hearth_core::device::{self, Live};
use hearth_core::doc::JournalDoc;
use hearth_core::identity::MemoryKeyStore;
use hearth_core::ids::DocId;
use hearth_core::model::{ConsentExpiry, NewCheckIn, PlanSection};
use hearth_core::pairing::PeerAddr;
use hearth_core::sync::net::NetConfig;
use hearth_core::vault::{Location, Origin, ShareCode, SyncItem, Vault, VaultEvent};
use hearth_hub::{EnrollLimits, Hub, HubConfig};
use rand::Rng;

/// The allocator of the `hearth` CLI, whose work (Automerge loads) this process's
/// devices do. (`hearth-hub` keeps the system allocator: it never loads a document,
/// and mimalloc doubled its resident memory, 36.4 vs 19.4 MiB with 1,000 members.)
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The words of notes (the same as `bench.mjs`'s).
const WORDS: &str = "today felt long but I went for a walk after work and called my sponsor slept \
     badly woke early meeting at noon helped cravings were strong in the evening \
     made dinner with friends kept busy journaled before bed felt calm anxious tired \
     hopeful grateful the group talked about triggers and routines coffee with a \
     friend ran three miles rain all day stayed in read a book";

/// The tags a check-in may carry, each with probability 0.2.
const TAGS: &[&str] = &[
    "walk", "meeting", "sponsor", "work", "family", "gym", "sleep", "therapy",
];

/// 20–200 characters of words.
fn note(rng: &mut impl Rng) -> String {
    let words: Vec<&str> = WORDS.split(' ').collect();
    let target = rng.random_range(20..=200);
    let mut s = words[rng.random_range(0..words.len())].to_owned();
    while s.len() < target {
        s.push(' ');
        s.push_str(words[rng.random_range(0..words.len())]);
    }
    s.truncate(200);
    s
}

/// A check-in drawn as `bench.mjs`'s `newCheckin` draws one (the same fields, tags,
/// note lengths and probabilities), so both sides store alike documents.
fn checkin(rng: &mut impl Rng, at_ms: u64) -> NewCheckIn {
    NewCheckIn {
        at_ms: Some(at_ms),
        mood: rng.random_range(1..=5),
        craving: rng.random_bool(0.7).then(|| rng.random_range(0..=10)),
        energy: Some(rng.random_range(1..=5)),
        sleep_hours: Some(f32::from(rng.random_range(8u8..=20)) / 2.0),
        tags: TAGS
            .iter()
            .filter(|_| rng.random_bool(0.2))
            .map(|t| (*t).to_owned())
            .collect(),
        note: note(rng),
    }
}

/// Measured runs of the first sync on each side, after one warm-up run each (medians
/// of many: this machine is noisy).
const FIRST_SYNC_RUNS: usize = 11;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

struct Member {
    vault: Arc<Vault>,
    _keys: Arc<MemoryKeyStore>,
}

fn member(dir: &Path, name: &str) -> Member {
    named(dir, name, None)
}

fn named(dir: &Path, name: &str, chosen: Option<&str>) -> Member {
    let keys = Arc::new(MemoryKeyStore::new());
    let vault = Vault::create(Location::Dir(dir.join(name)), &*keys, chosen).unwrap();
    Member {
        vault: Arc::new(vault),
        _keys: keys,
    }
}

/// A new device of `a`'s member that has the ACL and keys but no bundles, so the
/// journal itself must come through the hub.
fn pair_empty(a: &Member, dir: &Path, name: &str, hub: &Hub) -> Member {
    let keys = Arc::new(MemoryKeyStore::new());
    let public = Vault::prepare_device(&*keys).unwrap();
    a.vault.authorize_device(&public, Role::Owner).unwrap();
    let items: Vec<SyncItem> = a
        .vault
        .sync_items()
        .unwrap()
        .into_iter()
        .filter(|i| !matches!(i, SyncItem::Bundle(_)))
        .collect();
    let vault = Vault::join(
        Location::Dir(dir.join(name)),
        &*keys,
        a.vault.journal_id().unwrap(),
        items,
    )
    .unwrap();
    vault
        .remember_peer(&PeerAddr {
            hub: true,
            addr: hub.ticket().addr.clone(),
        })
        .unwrap();
    Member {
        vault: Arc::new(vault),
        _keys: keys,
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

struct JsFigures {
    /// From the new client connected until it has every check-in.
    first_sync_ms: f64,
    /// The same from before the client exists: what Hearth's figure covers (an
    /// endpoint bound, dialed and handshaken inside `sync_once`).
    first_sync_incl_connect_ms: f64,
    live_median_ms: f64,
}

fn run_js() -> Option<JsFigures> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/automerge-repo");
    if !dir.join("bench.mjs").exists() || Command::new("node").arg("--version").output().is_err() {
        eprintln!("automerge-repo baseline skipped: node or bench/automerge-repo missing");
        return None;
    }
    if !dir.join("node_modules").exists() {
        let ok = Command::new("npm")
            .arg("ci")
            .current_dir(&dir)
            .status()
            .map(|s| s.success());
        if !matches!(ok, Ok(true)) {
            eprintln!("automerge-repo baseline skipped: npm ci failed");
            return None;
        }
    }
    let out = Command::new("node")
        .arg("bench.mjs")
        .env("BENCH_FIRST_SYNC_RUNS", FIRST_SYNC_RUNS.to_string())
        .current_dir(&dir)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "automerge-repo baseline failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))?;
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let mut incl: Vec<f64> = v["first_sync_incl_connect_runs"]
        .as_array()?
        .iter()
        .filter_map(|x| x.as_f64())
        .collect();
    if incl.is_empty() {
        return None;
    }
    Some(JsFigures {
        first_sync_ms: v["first_sync_ms"].as_f64()?,
        first_sync_incl_connect_ms: median(&mut incl),
        live_median_ms: v["live_median_ms"].as_f64()?,
    })
}

async fn live_latency(dir: &Path, hub: &Hub, rounds: usize) -> Vec<f64> {
    let net = NetConfig::loopback();
    let a = member(dir, "live-a");
    device::enroll(&a.vault, hub.ticket(), &net).await.unwrap();
    let b = pair_empty(&a, dir, "live-b", hub);
    device::sync_once(&a.vault, &net, None).await.unwrap();
    device::sync_once(&b.vault, &net, None).await.unwrap();
    let (la, _) = Live::start(a.vault.clone(), &net, None, true, None)
        .await
        .unwrap();
    let (lb, _) = Live::start(b.vault.clone(), &net, None, true, None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // B's announcements, stamped where they happen.
    let rx = remote_changes(&b.vault, None);
    let mut rng = rand::rng();
    let mut out = Vec::new();
    for i in 0..rounds + 5 {
        let c = checkin(&mut rng, 1_700_000_000_000 + i as u64);
        let va = a.vault.clone();
        // Announcements left from the last round (a compaction's snapshot arrives
        // after the change that triggered it) must not be taken for this one.
        while rx.try_recv().is_ok() {}
        let t0 = Instant::now();
        let made = tokio::task::spawn_blocking(move || va.add_checkin(&c).unwrap())
            .await
            .unwrap();
        // The first announcement after which B holds this check-in.
        let t1 = loop {
            let t = rx
                .recv_timeout(Duration::from_secs(10))
                .expect("B never saw the check-in");
            if b.vault.checkin(made.id).unwrap().is_some() {
                break t;
            }
        };
        assert!(t1 > t0, "an announcement from before the check-in was made");
        if i >= 5 {
            out.push(t1.duration_since(t0).as_secs_f64() * 1e3);
        }
        // Let B's fsync finish before the next round.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(b.vault.checkins().unwrap().len(), rounds + 5);
    la.shutdown().await;
    lb.shutdown().await;
    out
}

async fn first_sync(dir: &Path, hub: &Hub, runs: usize) -> (Vec<f64>, usize, Vec<f64>) {
    let net = NetConfig::loopback();
    let a = member(dir, "big-a");
    let mut rng = rand::rng();
    let build = Instant::now();
    for i in 0..5_500u64 {
        a.vault
            .add_checkin(&checkin(&mut rng, 1_600_000_000_000 + i * 3_600_000))
            .unwrap();
    }
    eprintln!(
        "  built the 5,500-check-in journal (one commit each, fsync'd) in {:.1} s; {} live bundles",
        build.elapsed().as_secs_f64(),
        a.vault.bundle_count().unwrap()
    );
    device::enroll(&a.vault, hub.ticket(), &net).await.unwrap();
    let mut times = Vec::new();
    // One warm-up sync first, not counted (the JavaScript side does the same).
    for run in 0..=runs {
        let b = pair_empty(&a, dir, &format!("big-b{run}"), hub);
        device::sync_once(&a.vault, &net, None).await.unwrap(); // the hub learns of B
        assert_eq!(b.vault.checkins().unwrap().len(), 0);
        let t0 = Instant::now();
        device::sync_once(&b.vault, &net, None).await.unwrap();
        let dt = t0.elapsed().as_secs_f64() * 1e3;
        assert_eq!(b.vault.checkins().unwrap().len(), 5_500);
        if run == 0 {
            eprintln!("  first sync warm-up: {dt:.1} ms, not counted");
        } else {
            times.push(dt);
        }
    }
    let bytes = a.vault.journal_bytes().unwrap();
    (times, bytes.len(), automerge_load(&bytes, runs))
}

/// Stamps, on a thread, the announcements `vault` makes of remote changes (to `doc`
/// only, if given).
fn remote_changes(vault: &Vault, doc: Option<DocId>) -> std::sync::mpsc::Receiver<Instant> {
    let mut events = vault.subscribe();
    let (tx, rx) = std::sync::mpsc::channel::<Instant>();
    std::thread::spawn(move || {
        while let Ok(VaultEvent::Changed { doc: d, origin }) = events.blocking_recv() {
            if origin == Origin::Remote
                && doc.is_none_or(|want| want == d)
                && tx.send(Instant::now()).is_err()
            {
                break;
            }
        }
    });
    rx
}

/// A coach's device, enrolled at the hub, and a share of the crisis plan and the
/// toolbox that `a` made for it (taken up by its code, not yet synced).
async fn coach_with_share(a: &Member, dir: &Path, name: &str, hub: &Hub) -> (Member, DocId) {
    let c = named(dir, name, Some("Lee"));
    device::enroll(&c.vault, hub.ticket(), &NetConfig::loopback())
        .await
        .unwrap();
    let card = c.vault.coach_card("Lee").unwrap();
    let share = a
        .vault
        .share_plan(
            &card,
            &[PlanSection::Crisis, PlanSection::Toolbox],
            "support between meetings",
            ConsentExpiry::Event("the program ends".into()),
        )
        .unwrap()
        .consent
        .share
        .unwrap();
    c.vault.accept_share(&ShareCode(share)).unwrap();
    (c, share)
}

/// Section 4: a live edit of a shared section reaching the coach (`rounds`), and the
/// coach's first sync of a shared plan (`runs`, after one warm-up).
async fn coach(dir: &Path, hub: &Hub, rounds: usize, runs: usize) -> (Vec<f64>, Vec<f64>) {
    let net = NetConfig::loopback();
    let a = named(dir, "coach-member", Some("Sam"));
    device::enroll(&a.vault, hub.ticket(), &net).await.unwrap();
    let mut rng = rand::rng();
    for s in PlanSection::ALL {
        a.vault.set_plan_text(s, &note(&mut rng)).unwrap();
        for _ in 0..5 {
            a.vault.add_plan_item(s, &note(&mut rng)).unwrap();
        }
    }
    let (c, share) = coach_with_share(&a, dir, "coach-live", hub).await;
    device::sync_once(&a.vault, &net, None).await.unwrap();
    device::sync_once(&c.vault, &net, None).await.unwrap();
    assert!(c.vault.shared_with_me().unwrap()[0].plan.is_some());
    let (la, _) = Live::start(a.vault.clone(), &net, None, true, None)
        .await
        .unwrap();
    let (lc, _) = Live::start(c.vault.clone(), &net, None, true, None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rx = remote_changes(&c.vault, Some(share));
    let mut live = Vec::new();
    for i in 0..rounds + 5 {
        let text = format!("round {i}: {}", note(&mut rng));
        let (va, t) = (a.vault.clone(), text.clone());
        while rx.try_recv().is_ok() {}
        let t0 = Instant::now();
        tokio::task::spawn_blocking(move || va.set_plan_text(PlanSection::Crisis, &t).unwrap())
            .await
            .unwrap();
        let t1 = loop {
            let t = rx
                .recv_timeout(Duration::from_secs(10))
                .expect("the coach never saw the edit");
            let seen = c.vault.shared_plan(&share).unwrap();
            if seen
                .sections
                .iter()
                .any(|(s, sec)| *s == PlanSection::Crisis && sec.text == text)
            {
                break t;
            }
        };
        if i >= 5 {
            live.push(t1.duration_since(t0).as_secs_f64() * 1e3);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    la.shutdown().await;
    lc.shutdown().await;

    let mut first = Vec::new();
    for run in 0..=runs {
        let (c, _) = coach_with_share(&a, dir, &format!("coach-{run}"), hub).await;
        device::sync_once(&a.vault, &net, None).await.unwrap();
        let t0 = Instant::now();
        device::sync_once(&c.vault, &net, None).await.unwrap();
        let dt = t0.elapsed().as_secs_f64() * 1e3;
        let seen = c.vault.shared_with_me().unwrap();
        assert_eq!(seen[0].plan.as_ref().map(|p| p.sections.len()), Some(2));
        if run == 0 {
            eprintln!("  coach first sync warm-up: {dt:.1} ms, not counted");
        } else {
            first.push(dt);
        }
    }
    (live, first)
}

/// Automerge's own `load` of the same journal, alone, `runs` times: the part of a
/// first sync no sync protocol can remove (the floor under Hearth's figure).
fn automerge_load(bytes: &[u8], runs: usize) -> Vec<f64> {
    (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            let doc = JournalDoc::load(bytes, automerge::ActorId::random()).unwrap();
            let dt = t0.elapsed().as_secs_f64() * 1e3;
            assert_eq!(doc.checkins().len(), 5_500);
            dt
        })
        .collect()
}

/// Fills a hub home with `n` members' journals of 5,500 check-ins each (as the hub
/// would store them: every member's compacted, encrypted journal sent over sync).
async fn fill_hub(dir: &Path, n: usize) -> std::path::PathBuf {
    let home = dir.join("hub-many");
    // Every member enrolls from loopback: no enrollment limit here.
    let hub = Hub::start(HubConfig {
        enroll_limits: EnrollLimits::per_minute(u32::MAX, u32::MAX),
        ..HubConfig::new(home.clone(), NetConfig::loopback())
    })
    .await
    .unwrap();
    let net = NetConfig::loopback();
    let mut rng = rand::rng();
    let t = Instant::now();
    for i in 0..n {
        let keys = MemoryKeyStore::new();
        let vault = Arc::new(Vault::create(Location::Memory, &keys, None).unwrap());
        let batch: Vec<NewCheckIn> = (0..5_500u64)
            .map(|j| checkin(&mut rng, 1_600_000_000_000 + j * 3_600_000))
            .collect();
        vault.add_checkins(&batch).unwrap();
        vault.compact().unwrap();
        device::enroll(&vault, hub.ticket(), &net).await.unwrap();
        if (i + 1) % 100 == 0 {
            eprintln!(
                "  {} members stored ({:.0} s)",
                i + 1,
                t.elapsed().as_secs_f64()
            );
        }
    }
    assert_eq!(hub.doc_count(), n);
    hub.shutdown().await.unwrap();
    home
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let members: usize = std::env::var("HEARTH_BENCH_MEMBERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    println!("hearth sync benchmark (loopback iroh, relays off, real redb files; medians)");

    let (live, first, save_len, load, coach) = rt.block_on(async {
        let hub = Hub::start(HubConfig {
            enroll_limits: EnrollLimits::per_minute(u32::MAX, u32::MAX),
            ..HubConfig::new(dir.path().join("hub"), NetConfig::loopback())
        })
        .await
        .unwrap();
        let live = live_latency(dir.path(), &hub, 100).await;
        let first = first_sync(dir.path(), &hub, FIRST_SYNC_RUNS).await;
        let coach = coach(dir.path(), &hub, 50, FIRST_SYNC_RUNS).await;
        hub.shutdown().await.unwrap();
        (live, first.0, first.1, first.2, coach)
    });
    let (live, first, save_len, mut load, (mut coach_live, mut coach_first)) =
        (live, first, save_len, load, coach);
    let (mut live, mut first) = (live, first);
    let live_med = median(&mut live);
    let live_p90 = pct(&mut live, 0.9);
    let first_med = median(&mut first);
    let load_med = median(&mut load);
    println!("\n1. live: A add_checkin -> B sees it, through the hub, 100 rounds");
    println!(
        "   median {live_med:.2} ms   p90 {live_p90:.2} ms   max {:.2} ms   target < 3 ms: {}",
        live.iter().copied().fold(0.0, f64::max),
        if live_med < 3.0 { "PASS" } else { "MISS" }
    );
    println!(
        "\n2. first sync of a 5,500-check-in journal to a newly paired device via the hub \
         ({FIRST_SYNC_RUNS} runs; from binding an endpoint until B holds all 5,500, durably)"
    );
    println!("   median {first_med:.1} ms   (journal save() = {save_len} B)   runs {first:.1?}");
    println!(
        "   of which no protocol can remove Automerge's load of the journal: alone, same run, median {load_med:.1} ms"
    );

    println!("\n3. automerge-repo (JavaScript) baseline, same workloads, same run");
    match run_js() {
        Some(js) => {
            let ratio = js.first_sync_incl_connect_ms / first_med;
            println!(
                "   first sync, both from before connecting: automerge-repo {:.1} ms vs Hearth {first_med:.1} ms = {ratio:.1}x faster (goal >= 20x): {}",
                js.first_sync_incl_connect_ms,
                if ratio >= 20.0 { "PASS" } else { "MISS" }
            );
            println!(
                "   (automerge-repo from its client connected: {:.1} ms = {:.1}x Hearth's figure, which includes connecting)",
                js.first_sync_ms,
                js.first_sync_ms / first_med,
            );
            println!(
                "   (automerge-repo vs Automerge's load alone: {:.1}x, the most any Hearth first sync could reach in this run)",
                js.first_sync_incl_connect_ms / load_med,
            );
            println!(
                "   live:       automerge-repo {:.2} ms vs Hearth {live_med:.2} ms = {:.1}x faster (goal >= 10x): {}",
                js.live_median_ms,
                js.live_median_ms / live_med,
                if js.live_median_ms / live_med >= 10.0 {
                    "PASS"
                } else {
                    "MISS"
                }
            );
        }
        None => println!("   skipped (see above)"),
    }

    let coach_live_med = median(&mut coach_live);
    let coach_first_med = median(&mut coach_first);
    println!(
        "\n4. a coach (two sections of a full plan shared; the member's own devices above are the baseline)"
    );
    println!(
        "   live edit of a shared section -> the coach's device: median {coach_live_med:.2} ms   p90 {:.2} ms   = {:.2}x a check-in between the member's own devices",
        pct(&mut coach_live, 0.9),
        coach_live_med / live_med,
    );
    println!(
        "   coach's first sync of the shared plan: median {coach_first_med:.1} ms   = {:.2}x the member's 5,500-check-in first sync   runs {coach_first:.1?}",
        coach_first_med / first_med
    );

    if members == 0 {
        println!("\n5. hub memory: skipped (HEARTH_BENCH_MEMBERS=0)");
        return;
    }
    println!("\n5. hub memory with {members} members' 5,500-check-in journals stored");
    let home = rt.block_on(fill_hub(dir.path(), members));
    let store_bytes = std::fs::metadata(home.join(hearth_hub::STORE_FILE))
        .map(|m| m.len())
        .unwrap_or(0);
    let hub_bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/hearth-hub");
    let hub_bin = if hub_bin.exists() {
        hub_bin
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/hearth-hub")
    };
    let mut child = Command::new(&hub_bin)
        .arg("--home")
        .arg(&home)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("HEARTH_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let rss_start = rss_kib(child.id());
    println!(
        "   store file {:.1} MiB; hub RSS after start: {} KiB ({})",
        store_bytes as f64 / 1048576.0,
        rss_start.map(|r| r.to_string()).unwrap_or("?".into()),
        hub_bin.display()
    );
    let _ = child.kill();
    let _ = child.wait();
}
