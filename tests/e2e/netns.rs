//! A real partition: the hub, device A and device B each in their own network
//! namespace, joined by veth links through the hub's namespace. Both devices' links
//! are cut, both edit offline (the same plan section, and new check-ins), B's link and
//! then A's come back, and both devices converge with nothing lost.
//!
//! Needs root and `ip netns` (CI runs it as root); without them it prints why and
//! passes without doing anything. Set `HEARTH_E2E_REQUIRE_NETNS=1` to make that a
//! failure instead. Only namespaces this test creates are touched: the veths are
//! created inside them, and deleting the namespaces (on drop, even on panic) removes
//! everything; the host's interfaces and routes are never changed.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hearth_core::pairing::Ticket;
use iroh::EndpointAddr;

use crate::{Device, start_hub, start_hub_discovering};

/// The hub's fixed port inside its own namespace (nothing else listens there).
const HUB_PORT: u16 = 4919;
/// Hub side and A side of the hub<->A link (a /30 of our own).
const HUB_A: [u8; 4] = [10, 231, 1, 1];
const A_ADDR: [u8; 4] = [10, 231, 1, 2];
/// Hub side and B side of the hub<->B link.
const HUB_B: [u8; 4] = [10, 231, 2, 1];
const B_ADDR: [u8; 4] = [10, 231, 2, 2];

fn dotted(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// Runs `ip ARGS`; the error is its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Three namespaces (hub, a, b) and their links; deleted on drop.
struct Net {
    hub: String,
    a: String,
    b: String,
    created: Vec<String>,
}

impl Net {
    /// Creates the namespaces and links, or says why it cannot. `test` keeps the
    /// names of tests running at the same time apart.
    fn create(test: &str) -> Result<Self, String> {
        let pid = std::process::id();
        let mut net = Net {
            hub: format!("hearth-{pid}-{test}-hub"),
            a: format!("hearth-{pid}-{test}-a"),
            b: format!("hearth-{pid}-{test}-b"),
            created: Vec::new(),
        };
        for ns in [net.hub.clone(), net.a.clone(), net.b.clone()] {
            ip(&["netns", "add", &ns])?;
            net.created.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        let (hub, a, b) = (net.hub.as_str(), net.a.as_str(), net.b.as_str());
        // The veth pairs are made inside the hub's namespace, their far ends moved
        // straight into A's and B's: nothing is ever created in the host's namespace.
        for (peer_ns, hub_if, peer_if, hub_ip, peer_ip) in [
            (a, "h-a", "a0", HUB_A, A_ADDR),
            (b, "h-b", "b0", HUB_B, B_ADDR),
        ] {
            ip(&[
                "-n", hub, "link", "add", hub_if, "type", "veth", "peer", "name", peer_if, "netns",
                peer_ns,
            ])?;
            let (hub_cidr, peer_cidr) = (
                format!("{}/30", dotted(hub_ip)),
                format!("{}/30", dotted(peer_ip)),
            );
            ip(&["-n", hub, "addr", "add", &hub_cidr, "dev", hub_if])?;
            ip(&["-n", peer_ns, "addr", "add", &peer_cidr, "dev", peer_if])?;
            ip(&["-n", hub, "link", "set", hub_if, "up"])?;
            ip(&["-n", peer_ns, "link", "set", peer_if, "up"])?;
            // A and B reach each other (for pairing) through the hub's namespace.
            let gateway = dotted(hub_ip);
            ip(&["-n", peer_ns, "route", "add", "default", "via", &gateway])?;
        }
        // Forwarding in the hub's namespace only (a new namespace has its own sysctls).
        let out = Command::new("ip")
            .args(["netns", "exec", hub, "sh", "-c"])
            .arg("echo 1 > /proc/sys/net/ipv4/ip_forward")
            .output()
            .map_err(|e| format!("cannot run ip netns exec: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cannot enable forwarding in {hub}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(net)
    }

    /// Sends the hub namespace's multicast out of `hub_if` (a namespace without a
    /// default route has nowhere to send an mDNS answer).
    fn multicast_via(&self, hub_if: &str) {
        ip(&[
            "-n",
            &self.hub,
            "route",
            "add",
            "224.0.0.0/4",
            "dev",
            hub_if,
        ])
        .unwrap();
    }

    /// Cuts (or restores) the link at its hub end, `hub_if`.
    fn link(&self, hub_if: &str, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&["-n", &self.hub, "link", "set", hub_if, state]).unwrap();
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in self.created.iter().rev() {
            if let Err(e) = ip(&["netns", "delete", ns]) {
                eprintln!("netns test: cleanup: {e}");
            }
        }
    }
}

/// Why this test cannot run here, if it cannot.
fn unsupported() -> Option<String> {
    let uid = Command::new("id").arg("-u").output();
    match uid {
        Ok(o) if String::from_utf8_lossy(&o.stdout).trim() == "0" => {}
        Ok(_) => return Some("not running as root".into()),
        Err(e) => return Some(format!("cannot run `id -u`: {e}")),
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "`ip netns` is unavailable: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("cannot run `ip`: {e}")),
    }
}

/// Test `test`'s namespaces, or `None` (having said why) where they cannot be made.
fn namespaces(test: &str) -> Option<Net> {
    if let Some(why) = unsupported() {
        skip(&why);
        return None;
    }
    match Net::create(test) {
        Ok(net) => Some(net),
        Err(why) => {
            skip(&format!("cannot set up network namespaces: {why}"));
            None
        }
    }
}

fn skip(why: &str) {
    assert!(
        std::env::var_os("HEARTH_E2E_REQUIRE_NETNS").is_none(),
        "netns test required but cannot run: {why}"
    );
    eprintln!("SKIPPED a network-namespace test: {why}");
}

/// RFC 4648 base32 (no padding, any case): a ticket's body.
fn base32_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in s.bytes() {
        let v = ALPHABET
            .iter()
            .position(|&x| x == c.to_ascii_uppercase())
            .unwrap_or_else(|| panic!("{:?} is not base32", c as char));
        acc = (acc << 5) | u32::try_from(v).unwrap();
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap());
        }
    }
    out
}

/// Whether a ticket names `ip:port` (postcard: the four octets, then the port as a
/// varint).
fn ticket_names(ticket: &str, ip: [u8; 4], port: u16) -> bool {
    let bytes = base32_decode(ticket.trim().strip_prefix("hearth").unwrap());
    let mut needle = ip.to_vec();
    let mut p = port;
    while p >= 0x80 {
        needle.push(u8::try_from(p & 0x7f).unwrap() | 0x80);
        p >>= 7;
    }
    needle.push(u8::try_from(p).unwrap());
    bytes.windows(needle.len()).any(|w| w == needle)
}

/// The longest any networked `hearth` command may take here (its own dial timeouts
/// are a few seconds; this only stops a hang from stalling the test).
const COMMAND_LIMIT: Duration = Duration::from_secs(30);

/// Runs `hearth ARGS`, killing it and failing if it outlives [`COMMAND_LIMIT`].
/// (Output is read after exit: fine for the one-line answers of sync and enroll.)
fn run_within(d: &Device, args: &[&str]) -> Output {
    let mut child = d
        .cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + COMMAND_LIMIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hearth {args:?} still running after {COMMAND_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Runs `hearth ARGS` within the limit, insisting on success.
fn ok_within(d: &Device, args: &[&str]) -> String {
    let out = run_within(d, args);
    assert!(
        out.status.success(),
        "hearth {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `hearth sync` must fail, fast enough, with one clear line.
fn assert_sync_fails(d: &Device, who: &str) {
    let t = Instant::now();
    let out = run_within(d, &["sync"]);
    let took = t.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "{who} synced though cut off: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(err.contains("nothing reachable"), "{who}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{who}: {err}");
    assert!(took < Duration::from_secs(15), "{who}: took {took:?}");
    eprintln!("{who} cut off: sync failed in {took:.1?}: {}", err.trim());
}

/// Retries `hearth sync` until it succeeds (the link just came back).
fn sync_when_back(d: &Device, who: &str, within: Duration) -> String {
    let t = Instant::now();
    loop {
        let out = run_within(d, &["sync"]);
        if out.status.success() {
            eprintln!("{who} back: synced after {:.1?}", t.elapsed());
            return String::from_utf8(out.stdout).unwrap();
        }
        assert!(
            t.elapsed() < within,
            "{who} cannot sync {within:?} after its link came back: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn plan(d: &Device) -> serde_json::Value {
    serde_json::from_str(&d.ok(&["plan", "show", "--json"])).unwrap()
}

fn sorted_notes(d: &Device) -> Vec<String> {
    let mut n = d.notes();
    n.sort();
    n
}

/// Hub, A and B in three namespaces. Pair and sync; cut both devices' links; both
/// edit the crisis section and add check-ins offline; B comes back and syncs; A comes
/// back and syncs; both hold every check-in and the same plan, with both edits.
#[test]
fn partition_in_network_namespaces() {
    let Some(net) = namespaces("part") else {
        return;
    };
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    // Declared after `net`, so the hub is killed before its namespace is deleted.
    let (_hub, ticket) = start_hub(
        &dir.path().join("hub"),
        &format!("0.0.0.0:{HUB_PORT}"),
        Some(&net.hub),
    );
    // Bound to 0.0.0.0, the hub lists every interface address of its namespace.
    for addr in [HUB_A, HUB_B] {
        assert!(
            ticket_names(&ticket, addr, HUB_PORT),
            "the hub's ticket lacks {}:{HUB_PORT}",
            dotted(addr)
        );
    }

    let a = Device::in_netns(dir.path(), "a", &net.a);
    let b = Device::in_netns(dir.path(), "b", &net.b);
    a.ok(&["init", "--name", "Sam"]);
    let out = ok_within(&a, &["enroll", &ticket]);
    assert!(out.contains("Enrolled"), "{out}");
    // B dials A's invite address (10.231.1.2) through the hub's namespace.
    a.pair(&b);

    // A shared starting point: a plan text and a check-in on both devices.
    let base = "Crisis plan.";
    a.ok(&["plan", "set", "crisis", base]);
    a.ok(&["checkin", "--mood", "3", "--note", "before the cut"]);
    ok_within(&a, &["sync"]);
    ok_within(&b, &["sync"]);
    assert_eq!(plan(&b)["crisis"]["text"], base);
    assert_eq!(sorted_notes(&b), ["before the cut"]);
    eprintln!("paired and synced in {:.1?}", started.elapsed());

    // The partition: both devices lose their link to the hub (and to each other).
    net.link("h-a", false);
    net.link("h-b", false);
    // (Both at once: each failure takes the full dial timeout.)
    std::thread::scope(|s| {
        s.spawn(|| assert_sync_fails(&a, "A"));
        s.spawn(|| assert_sync_fails(&b, "B"));
    });

    // Offline edits on both sides: the same section, and new check-ins.
    let a_text = "A: call Jo";
    let b_text = "B: breathe first";
    a.ok(&["plan", "set", "crisis", &format!("{base}\n{a_text}")]);
    a.ok(&["checkin", "--mood", "2", "--note", "A offline one"]);
    a.ok(&["checkin", "--mood", "4", "--note", "A offline two"]);
    b.ok(&["plan", "set", "crisis", &format!("{base}\n{b_text}")]);
    b.ok(&["checkin", "--mood", "1", "--note", "B offline one"]);
    b.ok(&["checkin", "--mood", "5", "--note", "B offline two"]);

    // B comes back first and hands its edits to the hub while A is still cut off.
    net.link("h-b", true);
    sync_when_back(&b, "B", Duration::from_secs(10));
    // Then A: it gets B's edits from the hub and leaves its own there; B fetches them.
    net.link("h-a", true);
    sync_when_back(&a, "A", Duration::from_secs(10));
    ok_within(&b, &["sync"]);
    ok_within(&a, &["sync"]);

    // Nothing lost: every check-in written anywhere is on both devices.
    let all = [
        "A offline one",
        "A offline two",
        "B offline one",
        "B offline two",
        "before the cut",
    ];
    assert_eq!(sorted_notes(&a), all, "A's journal");
    assert_eq!(sorted_notes(&b), all, "B's journal");

    // Converged: the same plan on both devices.
    let (pa, pb) = (plan(&a), plan(&b));
    assert_eq!(pa, pb, "the devices' plans differ");
    // Both concurrent edits survive. `plan set` applies a minimal diff: both sides
    // kept the shared base text and inserted a run right after it (neither new text
    // contains the base's final '.', so the insertion point is unambiguous). Automerge
    // keeps each side's run contiguous, so both appear whole, in an order Automerge
    // picks (by actor id), hence no assertion on the order.
    let crisis = pa["crisis"]["text"].as_str().unwrap();
    assert!(crisis.starts_with(base), "{crisis:?}");
    assert!(crisis.contains(a_text), "A's edit lost: {crisis:?}");
    assert!(crisis.contains(b_text), "B's edit lost: {crisis:?}");
    assert_eq!(
        crisis.len(),
        base.len() + 2 * "\n".len() + a_text.len() + b_text.len(),
        "{crisis:?}"
    );
    eprintln!(
        "converged in {:.1?}; crisis text: {crisis:?}",
        started.elapsed()
    );
}

/// The same ticket, pointing at `addr` instead: what a device holds after the hub got
/// a new address (a new DHCP lease, a replaced box on the same key).
fn moved(ticket: &str, addr: [u8; 4], port: u16) -> String {
    let mut t: Ticket = ticket.trim().parse().unwrap();
    t.addr = EndpointAddr::new(t.addr.id).with_ip_addr((addr, port).into());
    t.to_string()
}

/// Local discovery on a LAN (hub and device in namespaces of their own, one link):
/// the hub announces itself over mDNS; a member's device holding a ticket whose
/// address went stale cannot reach it with discovery off, and finds it by its id with
/// discovery on — to enroll, and again for every sync.
#[test]
fn a_hub_whose_address_changed_is_found_on_the_lan() {
    let Some(net) = namespaces("mdns") else {
        return;
    };
    net.multicast_via("h-a");
    let dir = tempfile::tempdir().unwrap();
    let (_hub, ticket) = start_hub_discovering(
        &dir.path().join("hub"),
        &format!("0.0.0.0:{HUB_PORT}"),
        Some(&net.hub),
        "announce",
    );
    // An address on A's link where nothing answers.
    let stale = moved(&ticket, [10, 231, 1, 3], HUB_PORT);
    assert!(!ticket_names(&stale, HUB_A, HUB_PORT));

    let a = Device::in_netns(dir.path(), "a", &net.a);
    a.ok(&["init"]);
    let out = run_within(&a, &["enroll", &stale]);
    assert!(
        !out.status.success(),
        "enrolled at a stale address without discovery: {}",
        String::from_utf8_lossy(&out.stdout)
    );

    let a = a.discovering("find");
    let t = Instant::now();
    let out = ok_within(&a, &["enroll", &stale]);
    assert!(out.contains("Enrolled"), "{out}");
    eprintln!("found the hub by mDNS and enrolled in {:.1?}", t.elapsed());
    a.ok(&["checkin", "--mood", "4", "--note", "found it"]);
    let out = ok_within(&a, &["sync"]);
    assert!(out.contains("In sync with 1 peer"), "{out}");
}
