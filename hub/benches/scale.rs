//! Scale benchmark (`cargo bench -p hearth-hub --bench scale`): 2,000 enrolled members
//! (`HEARTH_SCALE_MEMBERS`), each with a 5,500-check-in journal stored at the hub, all
//! reconnecting at once with nothing new: the morning the center's hub comes back
//! after a power cut and every phone on the Wi-Fi redials.
//!
//! One real `hearth-hub` process serves the stored home with its default limits. Each
//! member's device is a real vault (its own redb file, its journal loaded) whose
//! endpoint is bound beforehand on an address of its own (127.1.x.y: phones on the
//! Wi-Fi each have one), as the app keeps its endpoint while online. Timed, three
//! times (the first against the just-started hub): from every device dialing at once
//! until the last one's sync has returned, reconciled, having moved nothing (target
//! under 5 s); and the hub's peak resident memory (target under 300 MB).
//!
//! `HEARTH_SCALE_HUB_ARGS` passes more `serve` options to the hub (for example
//! `--max-setting-up 1024`, to compare). Each storm also prints how long the dials
//! took and how many datagrams the kernel dropped for full receive buffers meanwhile
//! (a lost first packet costs its device a retransmission, a second or more).
//!
//! The members are made once and kept in `target/bench-cache/scale-N-vK` (about half
//! a second each on two cores, the first time; remove the folder to make them anew).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hearth_core::device;
use hearth_core::identity::FileKeyStore;
use hearth_core::model::NewCheckIn;
use hearth_core::pairing::Ticket;
use hearth_core::sync::net::{Hooks, NetConfig, SyncEvent, bind_endpoint, run_connection};
use hearth_core::sync::{Replica, SYNC_ALPN};
use hearth_core::vault::{Location, Vault};
use hearth_hub::{EnrollLimits, Hub, HubConfig};
use iroh::Endpoint;
use support::{pct, peak_rss_mb, rss_mb, start_hub, threads};

/// The allocator of the `hearth` CLI, whose vaults this process holds.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CHECKINS: usize = 5_500;
/// Bumped when what is cached can no longer be read as it was written.
const CACHE_VERSION: u32 = 1;
const STORMS: usize = 3;
const TARGET_S: f64 = 5.0;
const RSS_TARGET_MB: f64 = 300.0;
/// How long one device may take to dial; past it the storm counts it as failed.
const DIAL_WITHIN: Duration = Duration::from_secs(30);

/// Member `i`'s device's own address on loopback.
fn device_net(i: usize) -> NetConfig {
    let (hi, lo) = ((i / 250) as u8, (i % 250 + 1) as u8);
    NetConfig {
        bind: SocketAddr::from(([127, 1, hi, lo], 0)),
        ..NetConfig::loopback()
    }
}

/// Where member `i`'s device keeps its vault (`hearth --home` would open it).
fn member_home(cache: &Path, i: usize) -> PathBuf {
    cache.join(format!("m{i:05}"))
}

fn key_store(home: &Path) -> FileKeyStore {
    FileKeyStore::new(home.join("device.key"))
}

/// A year and a half of hourly check-ins with notes of 20-200 characters.
fn journal() -> Vec<NewCheckIn> {
    const WORDS: [&str; 12] = [
        "walked", "slept", "badly", "meeting", "called", "my", "sponsor", "calm", "tired",
        "hopeful", "cravings", "evening",
    ];
    (0..CHECKINS)
        .map(|i| {
            let len = 20 + (i * 37) % 181;
            let mut note = String::new();
            let mut w = i;
            while note.len() < len {
                note.push_str(WORDS[w % WORDS.len()]);
                note.push(' ');
                w = w.wrapping_mul(7).wrapping_add(3);
            }
            note.truncate(len);
            NewCheckIn {
                at_ms: Some(1_600_000_000_000 + i as u64 * 3_600_000),
                mood: (i % 5) as u8 + 1,
                craving: (i % 3 != 0).then_some((i % 11) as u8),
                energy: Some((i % 4) as u8 + 1),
                sleep_hours: Some(6.5),
                tags: if i % 4 == 0 {
                    vec!["walk".into()]
                } else {
                    Vec::new()
                },
                note,
            }
        })
        .collect()
}

/// Makes `n` members (vault, 5,500 check-ins, compacted, enrolled at a hub whose home
/// is `cache/hub`), unless a complete set is cached already.
fn make_members(cache: &Path, n: usize, rt: &tokio::runtime::Runtime) {
    let done = cache.join("complete");
    if done.exists() {
        println!("   members: cached in {}", cache.display());
        return;
    }
    let _ = std::fs::remove_dir_all(cache);
    std::fs::create_dir_all(cache).unwrap();
    let t0 = Instant::now();
    let hub = rt
        .block_on(Hub::start(HubConfig {
            enroll_limits: EnrollLimits::per_minute(u32::MAX, u32::MAX),
            ..HubConfig::new(cache.join("hub"), NetConfig::loopback())
        }))
        .unwrap();
    let ticket = hub.ticket().clone();
    let batch = journal();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    make_member(cache, i, &batch, &ticket, rt.handle());
                    if (i + 1).is_multiple_of(100) {
                        eprintln!(
                            "   {} members made ({:.0} s)",
                            i + 1,
                            t0.elapsed().as_secs_f64()
                        );
                    }
                }
            });
        }
    });
    assert_eq!(hub.doc_count(), n);
    rt.block_on(hub.shutdown()).unwrap();
    std::fs::write(&done, b"").unwrap();
    println!(
        "   members: made {n} in {:.0} s, kept in {}",
        t0.elapsed().as_secs_f64(),
        cache.display()
    );
}

fn make_member(
    cache: &Path,
    i: usize,
    batch: &[NewCheckIn],
    ticket: &Ticket,
    rt: &tokio::runtime::Handle,
) {
    let home = member_home(cache, i);
    std::fs::create_dir_all(&home).unwrap();
    let vault =
        Arc::new(Vault::create(Location::Dir(home.clone()), &key_store(&home), None).unwrap());
    vault.add_checkins(batch).unwrap();
    vault.compact().unwrap();
    rt.block_on(device::enroll(&vault, ticket, &device_net(i)))
        .unwrap();
}

/// Opens every member's vault (on two threads) and binds its endpoint.
fn open_members(
    cache: &Path,
    n: usize,
    rt: &tokio::runtime::Runtime,
) -> Vec<(Arc<Vault>, Endpoint)> {
    let next = AtomicUsize::new(0);
    let opened: Vec<(usize, Arc<Vault>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break mine;
                        }
                        let home = member_home(cache, i);
                        let vault = Vault::open(Location::Dir(home.clone()), &key_store(&home))
                            .unwrap_or_else(|e| {
                                panic!(
                                    "{}: {e} (remove {} to make the members anew)",
                                    home.display(),
                                    cache.display()
                                )
                            });
                        mine.push((i, Arc::new(vault)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let mut opened = opened;
    opened.sort_by_key(|(i, _)| *i);
    rt.block_on(async {
        let mut out = Vec::with_capacity(n);
        for (i, vault) in opened {
            let ep = bind_endpoint(&vault.endpoint_key().unwrap(), &device_net(i), Vec::new())
                .await
                .unwrap();
            out.push((vault, ep));
        }
        out
    })
}

/// What one storm saw.
struct Storm {
    /// Until the last device's sync returned.
    all: Duration,
    /// Each device's time until its sync returned, ms.
    each_ms: Vec<f64>,
    /// Each device's time until its connection was set up, ms.
    dial_ms: Vec<f64>,
    /// Items that moved either way (nothing should: nothing is new).
    moved: usize,
    /// Devices that did not end reconciled, with why.
    failed: Vec<String>,
}

/// Every device dials the hub at once and syncs once.
async fn storm(devices: &[(Arc<Vault>, Endpoint)], ticket: &Ticket) -> Storm {
    let t0 = Instant::now();
    let tasks: Vec<_> = devices
        .iter()
        .map(|(vault, ep)| {
            let (vault, ep, hub) = (vault.clone(), ep.clone(), ticket.addr.clone());
            tokio::spawn(async move {
                let conn = tokio::time::timeout(DIAL_WITHIN, ep.connect(hub, SYNC_ALPN))
                    .await
                    .map_err(|_| "dial timed out".to_string())?
                    .map_err(|e| format!("dial: {e}"))?;
                let dialed = t0.elapsed();
                let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
                let hooks = Hooks {
                    events: Some(tx),
                    ..Hooks::once()
                };
                let replica: Arc<dyn Replica> = vault;
                run_connection(conn, replica, hooks, true)
                    .await
                    .map_err(|e| format!("sync: {e}"))?;
                let took = t0.elapsed();
                let (mut moved, mut reconciled) = (0, false);
                while let Ok(ev) = events.try_recv() {
                    match ev {
                        SyncEvent::Reconciled { .. } => reconciled = true,
                        SyncEvent::Received { new, .. } => moved += new,
                        SyncEvent::Acked { stored, .. } => moved += stored as usize,
                        _ => {}
                    }
                }
                if !reconciled {
                    return Err("returned without reconciling".to_string());
                }
                Ok::<_, String>((took, moved, dialed))
            })
        })
        .collect();
    let mut out = Storm {
        all: Duration::ZERO,
        each_ms: Vec::new(),
        dial_ms: Vec::new(),
        moved: 0,
        failed: Vec::new(),
    };
    for task in tasks {
        match task.await.unwrap() {
            Ok((took, moved, dialed)) => {
                out.dial_ms.push(dialed.as_secs_f64() * 1e3);
                out.all = out.all.max(took);
                out.each_ms.push(took.as_secs_f64() * 1e3);
                out.moved += moved;
            }
            Err(e) => out.failed.push(e),
        }
    }
    out
}

fn main() {
    let n: usize = std::env::var("HEARTH_SCALE_MEMBERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    assert!(
        n <= 250 * 256,
        "at most 64,000 members (one loopback address each)"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cache = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/bench-cache")
        .join(format!("scale-{n}-v{CACHE_VERSION}"));
    println!(
        "hearth scale benchmark: {n} members with {CHECKINS}-check-in journals at one hearth-hub process, all reconnecting at once with nothing new"
    );
    make_members(&cache, n, &rt);
    let store_mb = std::fs::metadata(cache.join("hub").join(hearth_hub::STORE_FILE))
        .map_or(0.0, |m| m.len() as f64 / 1048576.0);
    let t = Instant::now();
    let devices = open_members(&cache, n, &rt);
    println!(
        "   opened {n} devices' vaults and bound their endpoints in {:.1} s; the hub's store is {store_mb:.0} MiB",
        t.elapsed().as_secs_f64()
    );

    let extra = std::env::var("HEARTH_SCALE_HUB_ARGS").unwrap_or_default();
    let extra: Vec<&str> = extra.split_whitespace().collect();
    let (mut hub, ticket) = start_hub(&cache.join("hub"), &extra);
    let pid = hub.id();
    std::thread::sleep(Duration::from_millis(500));
    println!("   hub started: RSS {:.1} MB", rss_mb(pid));
    let mut totals = Vec::new();
    let mut ok = true;
    for round in 1..=STORMS {
        let drops0 = udp_drops();
        let mut s = rt.block_on(storm(&devices, &ticket));
        let drops = udp_drops() - drops0;
        let all = s.all.as_secs_f64();
        totals.push(all);
        let (p50, p99) = if s.each_ms.is_empty() {
            (f64::NAN, f64::NAN)
        } else {
            (pct(&mut s.each_ms, 0.5), pct(&mut s.each_ms, 0.99))
        };
        println!(
            "\n   storm {round}{}: all {} reconciled in {all:.2} s (each: p50 {p50:.0} ms, p99 {p99:.0} ms); {} failed; {} items moved; hub RSS now {:.1} MB, peak {:.1} MB",
            if round == 1 {
                " (hub just started)"
            } else {
                ""
            },
            s.each_ms.len(),
            s.failed.len(),
            s.moved,
            rss_mb(pid),
            peak_rss_mb(pid),
        );
        let mut dial = s.dial_ms.clone();
        println!(
            "      dial p50 {:.0} ms p99 {:.0} ms max {:.0}; UDP receive-buffer drops {drops}",
            pct(&mut dial, 0.5),
            pct(&mut dial, 0.99),
            dial.iter().copied().fold(0.0, f64::max)
        );
        if let Some(why) = s.failed.first() {
            println!("      first failure: {why}");
        }
        ok &= s.failed.is_empty() && s.moved == 0;
        // Let the hub see every connection close before the next storm.
        std::thread::sleep(Duration::from_secs(3));
        println!(
            "      3 s later: hub RSS {:.1} MB, {} threads",
            rss_mb(pid),
            threads(pid)
        );
    }
    let peak = peak_rss_mb(pid);
    let _ = hub.kill();
    let _ = hub.wait();
    let worst = totals.iter().copied().fold(0.0, f64::max);
    let mut sorted = totals.clone();
    println!(
        "\ntime until all {n} reconciled: median {:.2} s, worst {worst:.2} s (target < {TARGET_S} s): {}",
        pct(&mut sorted, 0.5),
        if worst < TARGET_S && ok {
            "PASS"
        } else {
            "MISS"
        }
    );
    println!(
        "hub peak RSS: {peak:.1} MB (target < {RSS_TARGET_MB} MB): {}",
        if peak < RSS_TARGET_MB { "PASS" } else { "MISS" }
    );
    if !ok {
        println!("(a storm had failures or moved items: see above)");
    }
}

/// Datagrams the kernel has dropped for full receive buffers (`/proc/net/snmp`).
fn udp_drops() -> i64 {
    let t = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut lines = t.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(h), Some(v)) = (lines.next(), lines.next()) else {
        return 0;
    };
    h.split_whitespace()
        .zip(v.split_whitespace())
        .find(|(k, _)| *k == "RcvbufErrors")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}
