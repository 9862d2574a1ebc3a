//! Hostile-load benchmark (`cargo bench -p hearth-hub --bench hostile`): one real
//! `hearth-hub` process on loopback while 20 honest devices (10 members with two
//! devices each) keep syncing live check-ins through it, first alone, then while
//! strangers attack it all at once:
//!
//! (a) an unauthenticated peer holds 20 connections on each ALPN (sync, pairing and
//!     center), opening 100 streams on each and writing 1 MiB into every one, never
//!     finishing (and reconnecting whenever the hub closes it);
//! (b) an enrolled stranger repeats maximal frames of junk access records for a doc it
//!     does not belong to, and hellos listing 100,000 doc ids;
//! (c) a member's device that never reads while 8 MiB bundles are pushed to its doc;
//! (d) 1,000 enrollments from fresh keys.
//!
//! It prints the hub's peak RSS (target under 300 MB), the honest live latency p50 and
//! p99 without and with the attacks (target: p50 at most 2x), and checks that every
//! check-in an honest device made is present on its other device at the end.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hearth_core::access::Role;
use hearth_core::bundle::{Bundle, BundleHeader, BundleKind, FORMAT_V2};
use hearth_core::center::CENTER_ALPN;
use hearth_core::device::{self, Live};
use hearth_core::envelope::Envelope;
use hearth_core::identity::{DeviceKeys, MemoryKeyStore, Seed};
use hearth_core::ids::DocId;
use hearth_core::model::NewCheckIn;
use hearth_core::pairing::{PAIR_ALPN, PairRequest, Ticket};
use hearth_core::sync::message::{Message, PROTOCOL_VERSION, Summary, write_message};
use hearth_core::sync::net::{NetConfig, bind_endpoint};
use hearth_core::sync::{SYNC_ALPN, SyncItem};
use hearth_core::vault::{Location, Origin, Vault, VaultEvent, device_keys_of};

mod support;
use support::{pct, peak_rss_mb, start_hub};

const MEMBERS: usize = 10;
const ROUNDS: usize = 100;
const RSS_TARGET_MB: f64 = 300.0;

struct Member {
    vault: Arc<Vault>,
    keys: MemoryKeyStore,
}

fn new_member() -> Member {
    let keys = MemoryKeyStore::new();
    let vault = Arc::new(Vault::create(Location::Memory, &keys, None).unwrap());
    Member { vault, keys }
}

fn second_device(a: &Member) -> Member {
    let keys = MemoryKeyStore::new();
    let public = Vault::prepare_device(&keys).unwrap();
    a.vault.authorize_device(&public, Role::Owner).unwrap();
    let vault = Vault::join(
        Location::Memory,
        &keys,
        a.vault.journal_id().unwrap(),
        a.vault.sync_items().unwrap(),
    )
    .unwrap();
    for p in a.vault.peers().unwrap() {
        vault.remember_peer(&p).unwrap();
    }
    Member {
        vault: Arc::new(vault),
        keys,
    }
}

/// Where attacker `n` connects from: a loopback address of its own (each stranger on
/// the Wi-Fi has an address of their own; the honest devices use 127.0.0.1).
fn attacker_net(n: u8) -> NetConfig {
    NetConfig {
        bind: std::net::SocketAddr::from(([127, 0, 0, 1 + n], 0)),
        ..NetConfig::loopback()
    }
}

fn checkin(i: usize) -> NewCheckIn {
    NewCheckIn {
        mood: 3,
        note: format!("honest check-in {i}"),
        ..Default::default()
    }
}

/// Live latency: member `i % MEMBERS`'s first device adds a check-in, timed until its
/// second device holds it; at least `rounds` rounds, and for at least `lasting`.
async fn live_rounds(
    pairs: &[(Member, Member)],
    from: usize,
    rounds: usize,
    lasting: Duration,
) -> Vec<f64> {
    let mut out = Vec::new();
    let t = Instant::now();
    for i in from.. {
        if i >= from + rounds && t.elapsed() >= lasting {
            break;
        }
        let (a, b) = &pairs[i % pairs.len()];
        let mut events = b.vault.subscribe();
        let va = a.vault.clone();
        let t0 = Instant::now();
        let made = tokio::task::spawn_blocking(move || va.add_checkin(&checkin(i)).unwrap())
            .await
            .unwrap();
        loop {
            if b.vault.checkin(made.id).unwrap().is_some() {
                break;
            }
            match tokio::time::timeout(Duration::from_secs(20), events.recv()).await {
                Ok(Ok(VaultEvent::Changed {
                    origin: Origin::Remote,
                    ..
                })) => {}
                Ok(_) => {}
                Err(_) => panic!("check-in {i} never reached the member's other device"),
            }
        }
        out.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    out
}

/// (a) Unauthenticated: connections that open streams and write into them forever.
async fn attack_unauthenticated(ticket: Ticket, stop: Arc<AtomicBool>, opened: Arc<AtomicUsize>) {
    let mut tasks = Vec::new();
    for alpn in [SYNC_ALPN, PAIR_ALPN, CENTER_ALPN] {
        for _ in 0..20 {
            let (ticket, stop, opened) = (ticket.clone(), stop.clone(), opened.clone());
            tasks.push(tokio::spawn(async move {
                let keys = DeviceKeys::derive(&Seed::generate()).unwrap();
                let Ok(ep) = bind_endpoint(keys.endpoint_key(), &attacker_net(1), vec![]).await
                else {
                    return;
                };
                while !stop.load(Ordering::Relaxed) {
                    let Ok(Ok(conn)) = tokio::time::timeout(
                        Duration::from_secs(5),
                        ep.connect(ticket.addr.clone(), alpn),
                    )
                    .await
                    else {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    };
                    opened.fetch_add(1, Ordering::Relaxed);
                    for _ in 0..100 {
                        let conn = conn.clone();
                        tokio::spawn(async move {
                            if let Ok((mut send, _recv)) = conn.open_bi().await {
                                let _ = send.write_all(&vec![0u8; 1 << 20]).await;
                                conn.closed().await;
                            }
                        });
                    }
                    conn.closed().await;
                }
                ep.close().await;
            }));
        }
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// (b) An enrolled stranger: hellos listing 100,000 docs, and maximal pushes of junk
/// access records into a doc it does not belong to.
async fn attack_stranger(
    ticket: Ticket,
    victim: DocId,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
) {
    let stranger = new_member();
    if device::enroll(&stranger.vault, &ticket, &attacker_net(2))
        .await
        .is_err()
    {
        eprintln!("   (b) the stranger could not enroll");
        return;
    }
    let keys = device_keys_of(&stranger.keys).unwrap();
    let ep = bind_endpoint(keys.endpoint_key(), &attacker_net(2), vec![])
        .await
        .unwrap();
    let many = Message::Hello {
        version: PROTOCOL_VERSION,
        docs: (0..100_000u32)
            .map(|i| {
                let mut d = [0u8; 16];
                d[..4].copy_from_slice(&i.to_le_bytes());
                Summary::of(DocId(d), &mut [], 0)
            })
            .collect(),
    };
    let junk = Message::Push {
        doc: victim,
        // As many 16 KB junk records as a maximal frame holds.
        items: (0..(hearth_core::sync::message::MAX_FRAME - 4096) / 16_004)
            .map(|i| SyncItem::Acl(vec![i as u8; 16_000]))
            .collect(),
    };
    let own = Message::Hello {
        version: PROTOCOL_VERSION,
        docs: vec![],
    };
    while !stop.load(Ordering::Relaxed) {
        let Ok(Ok(conn)) = tokio::time::timeout(
            Duration::from_secs(5),
            ep.connect(ticket.addr.clone(), SYNC_ALPN),
        )
        .await
        else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let Ok((mut send, _recv)) = conn.open_bi().await else {
            continue;
        };
        if write_message(&mut send, &many).await.is_ok() {
            sent.fetch_add(1, Ordering::Relaxed);
        }
        conn.close(0u32.into(), b"again");
        let Ok(Ok(conn)) = tokio::time::timeout(
            Duration::from_secs(5),
            ep.connect(ticket.addr.clone(), SYNC_ALPN),
        )
        .await
        else {
            continue;
        };
        let Ok((mut send, _recv)) = conn.open_bi().await else {
            continue;
        };
        let _ = write_message(&mut send, &own).await;
        for _ in 0..4 {
            if stop.load(Ordering::Relaxed) || write_message(&mut send, &junk).await.is_err() {
                break;
            }
            sent.fetch_add(1, Ordering::Relaxed);
        }
        conn.close(0u32.into(), b"again");
    }
    ep.close().await;
}

/// (c) A member's device says hello and never reads, while its other device pushes
/// 8 MiB bundles into their journal.
async fn attack_never_reads(ticket: Ticket, stop: Arc<AtomicBool>, pushed: Arc<AtomicUsize>) {
    let net = attacker_net(3);
    let m = new_member();
    if let Err(e) = device::enroll(&m.vault, &ticket, &net).await {
        eprintln!("   (c) the member could not enroll: {e}");
        return;
    }
    let slow = second_device(&m);
    device::sync_once(&m.vault, &net, None).await.unwrap();
    let doc = m.vault.journal_id().unwrap();
    let writer = device_keys_of(&m.keys).unwrap();
    let slow_keys = device_keys_of(&slow.keys).unwrap();

    let slow_ep = bind_endpoint(slow_keys.endpoint_key(), &net, vec![])
        .await
        .unwrap();
    let slow_conn = slow_ep
        .connect(ticket.addr.clone(), SYNC_ALPN)
        .await
        .unwrap();
    let (mut slow_send, _never_read) = slow_conn.open_bi().await.unwrap();
    write_message(
        &mut slow_send,
        &Message::Hello {
            version: PROTOCOL_VERSION,
            docs: vec![Summary::of(doc, &mut [], 0)],
        },
    )
    .await
    .unwrap();

    // The writer's chain continues from its newest bundle, under the newest epoch.
    let items = m.vault.sync_items().unwrap();
    let mine: Vec<Bundle> = items
        .iter()
        .filter_map(|i| match i {
            SyncItem::Bundle(b) => Bundle::decode(b).ok(),
            _ => None,
        })
        .filter(|b| b.header().author == writer.id())
        .collect();
    let last = mine.iter().max_by_key(|b| b.header().seq).unwrap();
    let epoch = mine.iter().map(|b| b.header().epoch).max().unwrap();
    let key = items
        .iter()
        .find_map(|i| match i {
            SyncItem::Envelope(b) => {
                let e = Envelope::decode(b).ok()?;
                (e.body().recipient == writer.id() && e.body().epoch == epoch)
                    .then(|| e.open(&writer).ok())
                    .flatten()
            }
            _ => None,
        })
        .unwrap();
    let (mut seq, mut prev) = (last.header().seq, last.id());
    let ep = bind_endpoint(writer.endpoint_key(), &net, vec![])
        .await
        .unwrap();
    let conn = ep.connect(ticket.addr.clone(), SYNC_ALPN).await.unwrap();
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    write_message(
        &mut send,
        &Message::Hello {
            version: PROTOCOL_VERSION,
            docs: vec![],
        },
    )
    .await
    .unwrap();
    let _ = hearth_core::sync::message::read_message(&mut recv).await;
    while !stop.load(Ordering::Relaxed) {
        seq += 1;
        let header = BundleHeader {
            format: FORMAT_V2,
            doc,
            epoch,
            author: writer.id(),
            seq,
            prev: Some(prev),
            kind: BundleKind::Changes,
            created_at_ms: 0,
            supersedes: Vec::new(),
        };
        let bundle = Bundle::seal(header, &vec![seq as u8; 8 << 20], &key, &writer).unwrap();
        prev = bundle.id();
        let push = Message::Push {
            doc,
            items: vec![SyncItem::Bundle(bundle.into_bytes())],
        };
        if write_message(&mut send, &push).await.is_err() {
            break;
        }
        match hearth_core::sync::message::read_message(&mut recv).await {
            Ok(Some(Message::Ack { .. })) => {
                pushed.fetch_add(1, Ordering::Relaxed);
            }
            _ => break, // refused (its quota), or closed
        }
    }
    ep.close().await;
    slow_ep.close().await;
}

/// (d) Enrollment attempts from fresh keys; returns how many the hub accepted.
async fn attack_enrollments(ticket: Ticket, n: usize) -> usize {
    let mut accepted = 0;
    for _ in 0..n {
        let keys = DeviceKeys::derive(&Seed::generate()).unwrap();
        let Ok(ep) = bind_endpoint(keys.endpoint_key(), &attacker_net(4), vec![]).await else {
            continue;
        };
        if let Ok(Ok(conn)) = tokio::time::timeout(
            Duration::from_secs(5),
            ep.connect(ticket.addr.clone(), PAIR_ALPN),
        )
        .await
            && let Ok(resp) = hearth_core::pairing::request(
                &conn,
                &PairRequest::Enroll {
                    secret: ticket.secret,
                },
            )
            .await
            && matches!(resp, hearth_core::pairing::PairResponse::Enrolled { .. })
        {
            accepted += 1;
        }
        ep.close().await;
    }
    accepted
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Setting up 10 honest members enrolls 11 devices from loopback.
    let (mut hub, ticket) = start_hub(&dir.path().join("hub"), &["--enroll-limit-per-addr", "20"]);
    let pid = hub.id();
    println!("hearth hostile-load benchmark (one hearth-hub process on loopback; medians and p99)");
    rt.block_on(async {
        let net = NetConfig::loopback();
        let mut pairs = Vec::new();
        for _ in 0..MEMBERS {
            let a = new_member();
            device::enroll(&a.vault, &ticket, &net).await.unwrap();
            let b = second_device(&a);
            device::sync_once(&a.vault, &net, None).await.unwrap();
            device::sync_once(&b.vault, &net, None).await.unwrap();
            pairs.push((a, b));
        }
        let mut lives = Vec::new();
        for (a, b) in &pairs {
            for v in [&a.vault, &b.vault] {
                lives.push(Live::start(v.clone(), &net, None, true, None).await.unwrap().0);
            }
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
        let mut calm = live_rounds(&pairs, 0, ROUNDS, Duration::ZERO).await;
        let rss_calm = peak_rss_mb(pid);

        let stop = Arc::new(AtomicBool::new(false));
        let (opened, junk, pushed) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let victim = pairs[0].0.vault.journal_id().unwrap();
        // `HEARTH_HOSTILE_ATTACKS=bc` runs only those (to see what each one costs).
        let chosen = std::env::var("HEARTH_HOSTILE_ATTACKS").unwrap_or_else(|_| "abcd".into());
        let on = |c: char| chosen.contains(c);
        let (on_a, on_b, on_c, on_d) = (on('a'), on('b'), on('c'), on('d'));
        let a = tokio::spawn({
            let (t, s, o) = (ticket.clone(), stop.clone(), opened.clone());
            async move {
                if on_a {
                    attack_unauthenticated(t, s, o).await
                }
            }
        });
        let b = tokio::spawn({
            let (t, s, j) = (ticket.clone(), stop.clone(), junk.clone());
            async move {
                if on_b {
                    attack_stranger(t, victim, s, j).await
                }
            }
        });
        let c = tokio::spawn({
            let (t, s, p) = (ticket.clone(), stop.clone(), pushed.clone());
            async move {
                if on_c {
                    attack_never_reads(t, s, p).await
                }
            }
        });
        let d = tokio::spawn({
            let t = ticket.clone();
            async move { if on_d { attack_enrollments(t, 1_000).await } else { 0 } }
        });
        println!("  attacks: {chosen}");
        // Let every attack get going (the stranger and the member enroll first).
        tokio::time::sleep(Duration::from_secs(3)).await;
        let attack_start = Instant::now();
        let mut hostile = live_rounds(&pairs, ROUNDS, ROUNDS, Duration::from_secs(15)).await;
        let attacked_for = attack_start.elapsed();
        stop.store(true, Ordering::Relaxed);
        let enrolled = d.await.unwrap_or(0);
        let _ = tokio::time::timeout(Duration::from_secs(30), async {
            let _ = a.await;
            let _ = b.await;
            let _ = c.await;
        })
        .await;
        let rss_peak = peak_rss_mb(pid);

        // Every check-in made is on the member's other device once both have synced.
        for l in lives {
            l.shutdown().await;
        }
        let mut missing = 0;
        for (a, b) in &pairs {
            device::sync_once(&a.vault, &net, None).await.unwrap();
            device::sync_once(&b.vault, &net, None).await.unwrap();
            let theirs: std::collections::BTreeSet<_> =
                b.vault.checkins().unwrap().into_iter().map(|c| c.id).collect();
            missing += a
                .vault
                .checkins()
                .unwrap()
                .iter()
                .filter(|c| !theirs.contains(&c.id))
                .count();
        }

        let (p50_calm, p99_calm) = (pct(&mut calm, 0.5), pct(&mut calm, 0.99));
        let (p50_hostile, p99_hostile) = (pct(&mut hostile, 0.5), pct(&mut hostile, 0.99));
        let ratio = p50_hostile / p50_calm;
        println!(
            "  attacks over {:.1} s: (a) {} unauthenticated connections opened; (b) {} junk frames sent; (c) {} 8 MiB bundles pushed to a device that never reads; (d) {} of 1,000 enrollments accepted",
            attacked_for.as_secs_f64(),
            opened.load(Ordering::Relaxed),
            junk.load(Ordering::Relaxed),
            pushed.load(Ordering::Relaxed),
            enrolled
        );
        println!(
            "  live latency, 20 honest devices: calm p50 {p50_calm:.2} ms p99 {p99_calm:.2} ms; under attack p50 {p50_hostile:.2} ms p99 {p99_hostile:.2} ms; p50 ratio {ratio:.2}x (target <= 2x): {}",
            if ratio <= 2.0 { "PASS" } else { "MISS" }
        );
        println!(
            "  hub peak RSS: {rss_peak:.1} MB (before the attacks {rss_calm:.1} MB; target < {RSS_TARGET_MB} MB): {}",
            if rss_peak < RSS_TARGET_MB { "PASS" } else { "MISS" }
        );
        println!(
            "  honest check-ins missing on the member's other device at the end: {missing} (target 0): {}",
            if missing == 0 { "PASS" } else { "MISS" }
        );
    });
    let _ = hub.kill();
    let _ = hub.wait();
}
