//! hearth-hub: the center's always-on peer. It runs the iroh endpoint, keeps members'
//! documents in a blind store (ciphertext it cannot read, checked against each doc's
//! ACL), enrolls devices with the center's ticket, and fans new items out to every
//! connected device that may hold them. The ticket and enrollment limits live in
//! [`enrollment`]; what a doc may hold and who may receive it, in the core's blind
//! store.

pub mod center;
pub mod console;
pub mod enrollment;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use enrollment::{EnrollLimiter, EnrollRefusal};
pub use enrollment::{EnrollLimits, TICKET_FILE, read_ticket, rotate_ticket};
use gate::Gate;
pub use gate::HubLimits;
use hearth_core::blind::{BlindStore, DEFAULT_QUOTA_BYTES};
use hearth_core::center::CENTER_ALPN;
use hearth_core::identity::{DeviceKeys, FileKeyStore, KeyStore, Seed};
use hearth_core::ids::{DeviceId, DocId};
use hearth_core::item::SyncItem;
use hearth_core::pairing::{self, InviteKind, PAIR_ALPN, PairRequest, PairResponse, Ticket};
use hearth_core::store::Store;
use hearth_core::sync::live::{self, LiveReceiver, LiveSender, Offer};
use hearth_core::sync::net::{Hooks, NetConfig, SyncEvent, bind_endpoint, run_connection};
use hearth_core::sync::{Replica, SYNC_ALPN};
use iroh::endpoint::Connection;

use accept::{Acceptor, Setup};

pub mod accept;
pub mod gate;

/// The hub's files inside its home.
pub const KEY_FILE: &str = "hub.key";
/// The store file.
pub const STORE_FILE: &str = "hub.redb";
/// Pages of the store kept in memory: the hub answers from its file, and a small box
/// in the office must not spend its memory caching what members just uploaded.
pub const STORE_CACHE: usize = 32 << 20;
/// The default address: every interface, a fixed port so tickets survive restarts.
pub const DEFAULT_BIND: &str = "0.0.0.0:4919";

/// How to run a hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Where its key, store and ticket live.
    pub home: PathBuf,
    /// The network.
    pub net: NetConfig,
    /// How many connections it holds, and how long a device has to reconcile.
    pub limits: HubLimits,
    /// The most bytes the hub stores for one member's docs (journal and shares).
    pub quota_bytes: u64,
    /// How many enrollment attempts it answers.
    pub enroll_limits: EnrollLimits,
    /// How long a ticket made now (the hub's first) lasts; an existing ticket keeps
    /// its own expiry (`hearth-hub ticket --rotate --expires` replaces it).
    pub ticket_expires: Option<Duration>,
    /// Days sign-ups are kept after their session ends.
    pub retention_days: u32,
    /// Milliseconds added to the system clock for the hub's decisions (sessions
    /// started, retention, a coach's access running out): tests move time with it; 0
    /// in service.
    pub clock_offset_ms: i64,
    /// The staff console, if the hub serves one (`hearth-hub serve` does, on
    /// [`console::DEFAULT_ADDR`]; none by default here, so test hubs bind no port).
    pub console: Option<console::ConsoleConfig>,
}

impl HubConfig {
    /// A hub in `home` on `net`, with the default connection, quota and enrollment
    /// limits and a ticket that does not expire.
    pub fn new(home: PathBuf, net: NetConfig) -> Self {
        HubConfig {
            home,
            net,
            limits: HubLimits::default(),
            quota_bytes: DEFAULT_QUOTA_BYTES,
            enroll_limits: EnrollLimits::default(),
            ticket_expires: None,
            retention_days: center::DEFAULT_RETENTION_DAYS,
            clock_offset_ms: 0,
            console: None,
        }
    }
}

/// Why a connection that could not keep up was closed.
pub const SLOW: &str = hearth_core::sync::live::FELL_BEHIND;

/// Every open connection that can receive live items.
#[derive(Default)]
struct Fanout {
    next: AtomicU64,
    conns: Mutex<BTreeMap<u64, Listener>>,
}

/// A connection waiting for live items.
struct Listener {
    peer: DeviceId,
    tx: LiveSender,
    /// Closed at once when it falls behind, even while a write to it is stuck.
    conn: Connection,
}

impl Fanout {
    fn register(&self, peer: DeviceId, conn: &Connection) -> (u64, LiveReceiver) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = live::queue();
        if let Ok(mut c) = self.conns.lock() {
            c.insert(
                id,
                Listener {
                    peer,
                    tx,
                    conn: conn.clone(),
                },
            );
        }
        (id, rx)
    }

    fn unregister(&self, id: u64) {
        if let Ok(mut c) = self.conns.lock() {
            c.remove(&id);
        }
    }

    /// Queues items for every other connection whose device may hold the doc: one
    /// shared copy; a connection whose queue is full is cut off (it reconciles when it
    /// reconnects) rather than allowed to grow.
    fn publish(&self, from: u64, doc: DocId, items: &[SyncItem], blind: &BlindStore) {
        let Ok(mut conns) = self.conns.lock() else {
            return;
        };
        let batch: Arc<[SyncItem]> = Arc::from(items);
        conns.retain(|id, l| {
            if *id == from || !blind.may_hold(&doc, &l.peer) {
                return true;
            }
            match l.tx.offer((doc, batch.clone())) {
                Offer::Queued => true,
                Offer::CutOff => {
                    tracing::info!("{} fell behind the live updates: cut off", l.peer.short());
                    l.conn.close(4u32.into(), SLOW.as_bytes());
                    false
                }
                Offer::Closed => false,
            }
        });
    }
}

struct Shared {
    blind: Arc<BlindStore>,
    center: Arc<center::Center>,
    proposals: Arc<center::serve::ProposalLimiter>,
    clock_offset_ms: i64,
    fanout: Fanout,
    gate: Arc<Gate>,
    home: PathBuf,
    limiter: Mutex<EnrollLimiter>,
    recipient: String,
}

/// A running hub.
pub struct Hub {
    acceptor: Acceptor,
    /// The retention sweep, stopped with the hub.
    retention: tokio::task::JoinHandle<()>,
    console: Option<console::Console>,
    shared: Arc<Shared>,
    ticket: Ticket,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("id", &self.shared.blind.id())
            .finish()
    }
}

/// Runs a connection that is set up by the protocol its ALPN names.
async fn dispatch(shared: Arc<Shared>, conn: Connection, setup: Setup) {
    let alpn = conn.alpn().to_vec();
    if alpn == SYNC_ALPN {
        serve_sync(shared, conn, setup).await;
        return;
    }
    // Pairing and center requests are small: the handshake was their setting up.
    drop(setup);
    if alpn == PAIR_ALPN {
        serve_enroll(shared, conn).await;
    } else if alpn == CENTER_ALPN {
        serve_center(shared, conn).await;
    }
}

async fn serve_center(shared: Arc<Shared>, conn: Connection) {
    let peer = DeviceId::from(conn.remote_id());
    hearth_core::limits::narrow_for_requests(&conn);
    // The same admission as sync: enrolled or named by a stored doc, and not
    // removed from a doc it joined (a removed phone keeps the member's center
    // secret, and is turned away here).
    if !shared.blind.admits(&peer) {
        conn.close(1u32.into(), b"unknown device");
        return;
    }
    let _pass = match shared.gate.device(peer) {
        Ok(pass) => pass,
        Err(full) => {
            conn.close(3u32.into(), full.to_string().as_bytes());
            return;
        }
    };
    let offset = shared.clock_offset_ms;
    let blind = shared.blind.clone();
    center::serve::serve(
        conn,
        shared.center.clone(),
        shared.proposals.clone(),
        move || offset_now(offset),
        move |peer| blind.admits(peer),
    )
    .await;
}

/// Now, moved by `offset_ms` (tests move the center's clock; 0 in service).
pub fn offset_now(offset_ms: i64) -> u64 {
    now_ms().saturating_add_signed(offset_ms)
}

/// Syncs with a device the hub admits. Its setting-up place is kept until it has
/// reconciled; it then stays open for live items without one.
async fn serve_sync(shared: Arc<Shared>, conn: Connection, setup: Setup) {
    let peer = DeviceId::from(conn.remote_id());
    if !shared.blind.admits(&peer) {
        tracing::info!("refused unknown or removed device {}", peer.short());
        conn.close(1u32.into(), b"unknown device");
        return;
    }
    let _pass = match shared.gate.device(peer) {
        Ok(pass) => pass,
        Err(full) => {
            tracing::info!("turned {} away: {full}", peer.short());
            conn.close(3u32.into(), full.to_string().as_bytes());
            return;
        }
    };
    let (events, mut heard) = tokio::sync::mpsc::unbounded_channel();
    setup.hold_until(async move {
        while let Some(event) = heard.recv().await {
            if matches!(event, SyncEvent::Reconciled { .. }) {
                break;
            }
        }
    });
    let (id, live) = shared.fanout.register(peer, &conn);
    let fan = shared.clone();
    let hooks = Hooks {
        live: Some(live),
        on_accepted: Some(Arc::new(move |_peer, doc, items| {
            fan.fanout.publish(id, doc, items, &fan.blind)
        })),
        events: Some(events),
        stay_open: true,
        reconcile_within: shared.gate.limits().reconcile_within,
    };
    let replica: Arc<dyn Replica> = shared.blind.clone();
    let result = run_connection(conn, replica, hooks, false).await;
    shared.fanout.unregister(id);
    if let Err(e) = result {
        tracing::info!("sync with {} ended: {e}", peer.short());
    }
}

impl Shared {
    /// Answers one enrollment attempt: rate limits first (in memory, no file read, no
    /// write), then the ticket as the file says now, then the device is recorded (one
    /// fsync, only for a device not enrolled yet).
    fn enroll(
        &self,
        peer: DeviceId,
        ip: Option<std::net::IpAddr>,
        secret: &[u8; 32],
    ) -> Result<(), String> {
        let limited = match self.limiter.lock() {
            Ok(mut l) => l.admit(ip, Instant::now()),
            Err(_) => Err(EnrollRefusal::TooMany),
        };
        limited.map_err(|refusal| {
            tracing::info!("enrollment refused: {refusal}");
            refusal.to_string()
        })?;
        enrollment::check_secret(&self.home, secret, now_ms()).map_err(|r| r.to_string())?;
        self.blind.enroll(peer).map_err(|e| e.to_string())?;
        tracing::info!("enrolled device {}", peer.short());
        Ok(())
    }
}

async fn serve_enroll(shared: Arc<Shared>, conn: Connection) {
    let ip = gate::remote_ip(&conn);
    let _pass = match shared.gate.pairing(ip) {
        Ok(pass) => pass,
        Err(full) => {
            conn.close(3u32.into(), full.to_string().as_bytes());
            return;
        }
    };
    let result = pairing::serve(conn, move |peer, req| async move {
        match req {
            PairRequest::Enroll { secret } => match shared.enroll(peer, ip, &secret) {
                Ok(()) => PairResponse::Enrolled {
                    hub: shared.blind.id(),
                    recipient: shared.recipient.clone(),
                },
                Err(reason) => PairResponse::Refused { reason },
            },
            PairRequest::Join { .. } => PairResponse::Refused {
                reason: "this is a center's hub: use `hearth enroll`".into(),
            },
        }
    })
    .await;
    if let Err(e) = result {
        tracing::info!("enrollment attempt failed: {e}");
    }
}

fn now_ms() -> u64 {
    hearth_core::wire::now_ms()
}

impl Hub {
    /// Starts the hub: opens (or creates) its key and store, binds the endpoint and
    /// writes the enrollment ticket.
    pub async fn start(config: HubConfig) -> Result<Self> {
        std::fs::create_dir_all(&config.home)
            .with_context(|| format!("cannot create {}", config.home.display()))?;
        let keys = FileKeyStore::new(config.home.join(KEY_FILE));
        let seed = match keys.load()? {
            Some(s) => s,
            None => {
                let s = Seed::generate();
                keys.save(&s)?;
                s
            }
        };
        let device = DeviceKeys::derive(&seed)?;
        let store = Store::open_caching(&config.home.join(STORE_FILE), true, STORE_CACHE)?;
        let blind = Arc::new(
            BlindStore::open(store, device.id())?
                .with_quota(config.quota_bytes)
                .with_clock_offset(config.clock_offset_ms),
        );
        let endpoint = bind_endpoint(
            device.endpoint_key(),
            &config.net,
            vec![SYNC_ALPN.to_vec(), PAIR_ALPN.to_vec(), CENTER_ALPN.to_vec()],
        )
        .await?;
        // Keep the enrollment secret and its expiry across restarts; refresh the address.
        let mut ticket = Ticket::new(
            InviteKind::Center,
            endpoint.addr(),
            enrollment::expiry_ms(config.ticket_expires),
        );
        if let Ok(old) = read_ticket(&config.home) {
            ticket.secret = old.secret;
            ticket.expires_at_ms = old.expires_at_ms;
        }
        enrollment::write_ticket(&config.home, &ticket)?;
        let gate = Gate::new(config.limits);
        let center = Arc::new(center::Center::open(
            &config.home,
            device.endpoint_key().clone(),
            config.retention_days,
        )?);
        let shared = Arc::new(Shared {
            blind,
            center: center.clone(),
            proposals: Arc::default(),
            clock_offset_ms: config.clock_offset_ms,
            fanout: Fanout::default(),
            gate: gate.clone(),
            home: config.home.clone(),
            limiter: Mutex::new(EnrollLimiter::new(config.enroll_limits)),
            recipient: device.recipient().to_string(),
        });
        let console = match &config.console {
            Some(c) => {
                let started = console::Console::start(
                    c,
                    center.clone(),
                    config.home.clone(),
                    config.clock_offset_ms,
                )
                .await;
                match started {
                    Ok(console) => Some(console),
                    Err(e) => {
                        endpoint.close().await;
                        return Err(e.into());
                    }
                }
            }
            None => None,
        };
        // Past the connection limit, a new connection is refused before its handshake
        // costs anything.
        let filter_gate = gate.clone();
        let to_serve = shared.clone();
        let acceptor = Acceptor::spawn(
            endpoint,
            vec![SYNC_ALPN.to_vec(), PAIR_ALPN.to_vec(), CENTER_ALPN.to_vec()],
            config.limits.accept,
            Arc::new(move |incoming| {
                let ip = match incoming.remote_addr() {
                    iroh::endpoint::IncomingAddr::Ip(addr) => Some(addr.ip()),
                    _ => None,
                };
                filter_gate.has_room() && filter_gate.admit_handshake(ip)
            }),
            Arc::new(move |conn, setup| Box::pin(dispatch(to_serve.clone(), conn, setup))),
        );
        let retention = center::spawn_retention(&center, config.clock_offset_ms);
        tracing::info!(
            "hub {} serving {} documents for {} enrolled devices",
            device.id().short(),
            shared.blind.doc_count(),
            shared.blind.enrolled_count()
        );
        Ok(Hub {
            acceptor,
            retention,
            console,
            shared,
            ticket,
        })
    }

    /// The enrollment ticket the hub started with: its address is the hub's; its
    /// secret may have been replaced since ([`Hub::current_ticket`] reads the file).
    pub fn ticket(&self) -> &Ticket {
        &self.ticket
    }

    /// The enrollment ticket as it stands now.
    pub fn current_ticket(&self) -> Result<Ticket> {
        read_ticket(&self.shared.home)
    }

    /// Replaces the enrollment ticket (what `hearth-hub ticket --rotate` does).
    pub fn rotate_ticket(&self, expires: Option<Duration>) -> Result<Ticket> {
        rotate_ticket(&self.shared.home, expires)
    }

    /// How many devices enrolled.
    pub fn enrolled_count(&self) -> usize {
        self.shared.blind.enrolled_count()
    }

    /// The bytes the hub stores for a doc, as its quota counts them.
    pub fn used_bytes(&self, doc: &DocId) -> u64 {
        self.shared.blind.used_bytes(doc)
    }

    /// The hub's device id.
    pub fn id(&self) -> DeviceId {
        self.shared.blind.id()
    }

    /// The addresses it listens on.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.acceptor.endpoint().bound_sockets()
    }

    /// Every bundle it stores of a doc, offered or not (for tools and tests).
    pub fn stored_bundles(&self, doc: &DocId) -> Result<Vec<hearth_core::ids::BundleId>> {
        Ok(self.shared.blind.stored_bundles(doc)?)
    }

    /// The role a doc's access log gives a device here, if any (for tools and tests).
    pub fn role_of(&self, doc: &DocId, device: &DeviceId) -> Option<hearth_core::access::Role> {
        self.shared.blind.role_of(doc, device)
    }

    /// The center's programs, rosters and counts (what the staff console works on).
    pub fn center(&self) -> Arc<center::Center> {
        self.shared.center.clone()
    }

    /// Where the staff console listens, if the hub serves one.
    pub fn console_addr(&self) -> Option<SocketAddr> {
        self.console.as_ref().map(console::Console::addr)
    }

    /// The hub's age recipient, by which members' docs name it as a store.
    pub fn recipient(&self) -> &str {
        &self.shared.recipient
    }

    /// The member (an enrolled device) a stored doc is charged to.
    pub fn member_of(&self, doc: &DocId) -> Option<DeviceId> {
        self.shared.blind.member_of(doc)
    }

    /// What a member stores: its docs and their bytes.
    pub fn usage(&self, member: &DeviceId) -> hearth_core::blind::Usage {
        self.shared.blind.usage(member)
    }

    /// How many documents it stores.
    pub fn doc_count(&self) -> usize {
        self.shared.blind.doc_count()
    }

    /// Stops accepting, closes connections and the endpoint, and stops the console.
    pub async fn shutdown(self) -> Result<()> {
        self.retention.abort();
        if let Some(console) = self.console {
            console.stop().await;
        }
        self.acceptor.shutdown().await;
        Ok(())
    }
}
