//! hearth-hub: the center's always-on peer. It runs the iroh endpoint, keeps members'
//! documents in a blind store (ciphertext it cannot read, checked against each doc's
//! ACL), enrolls devices with the center's ticket, and fans new items out to every
//! connected device that may hold them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use gate::Gate;
pub use gate::HubLimits;
use hearth_core::blind::BlindStore;
use hearth_core::identity::{DeviceKeys, FileKeyStore, KeyStore, Seed};
use hearth_core::ids::{DeviceId, DocId};
use hearth_core::item::SyncItem;
use hearth_core::pairing::{self, InviteKind, PAIR_ALPN, PairRequest, PairResponse, Ticket};
use hearth_core::store::Store;
use hearth_core::sync::live::{self, LiveReceiver, LiveSender, Offer};
use hearth_core::sync::net::{Hooks, NetConfig, bind_endpoint, run_connection};
use hearth_core::sync::{Replica, SYNC_ALPN};
use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, IncomingFilterOutcome, ProtocolHandler, Router};

pub mod gate;

/// The hub's files inside its home.
pub const KEY_FILE: &str = "hub.key";
/// The store file.
pub const STORE_FILE: &str = "hub.redb";
/// The current enrollment ticket (it holds the secret: mode 0600).
pub const TICKET_FILE: &str = "ticket";
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
}

impl HubConfig {
    /// A hub in `home` on `net`, with the default limits.
    pub fn new(home: PathBuf, net: NetConfig) -> Self {
        HubConfig {
            home,
            net,
            limits: HubLimits::default(),
        }
    }
}

/// Why a connection that could not keep up was closed.
pub const SLOW: &str = "fell behind the live updates: reconnect to catch up";

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
    fanout: Fanout,
    gate: Arc<Gate>,
    ticket: Ticket,
    recipient: String,
}

/// A running hub.
pub struct Hub {
    router: Router,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("id", &self.shared.blind.id())
            .finish()
    }
}

#[derive(Clone)]
struct SyncHandler(Arc<Shared>);
#[derive(Clone)]
struct EnrollHandler(Arc<Shared>);

impl std::fmt::Debug for SyncHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncHandler")
    }
}
impl std::fmt::Debug for EnrollHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrollHandler")
    }
}

impl ProtocolHandler for SyncHandler {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let shared = &self.0;
        let peer = DeviceId::from(conn.remote_id());
        if !shared.blind.admits(&peer) {
            tracing::info!("refused unknown or removed device {}", peer.short());
            conn.close(1u32.into(), b"unknown device");
            return Ok(());
        }
        let _pass = match shared.gate.device(peer) {
            Ok(pass) => pass,
            Err(full) => {
                tracing::info!("turned {} away: {full}", peer.short());
                conn.close(3u32.into(), full.to_string().as_bytes());
                return Ok(());
            }
        };
        let (id, live) = shared.fanout.register(peer, &conn);
        let fan = shared.clone();
        let hooks = Hooks {
            live: Some(live),
            on_accepted: Some(Arc::new(move |_peer, doc, items| {
                fan.fanout.publish(id, doc, items, &fan.blind)
            })),
            stay_open: true,
            reconcile_within: shared.gate.limits().reconcile_within,
            ..Hooks::once()
        };
        let replica: Arc<dyn Replica> = shared.blind.clone();
        let result = run_connection(conn, replica, hooks, false).await;
        shared.fanout.unregister(id);
        if let Err(e) = result {
            tracing::info!("sync with {} ended: {e}", peer.short());
        }
        Ok(())
    }
}

impl ProtocolHandler for EnrollHandler {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let shared = self.0.clone();
        let _pass = match shared.gate.pairing(gate::remote_ip(&conn)) {
            Ok(pass) => pass,
            Err(full) => {
                conn.close(3u32.into(), full.to_string().as_bytes());
                return Ok(());
            }
        };
        let result = pairing::serve(conn, move |peer, req| async move {
            match req {
                PairRequest::Enroll { secret } if shared.ticket.admits(&secret, now_ms()) => {
                    match shared.blind.enroll(peer) {
                        Ok(()) => {
                            tracing::info!("enrolled device {}", peer.short());
                            PairResponse::Enrolled {
                                hub: shared.blind.id(),
                                recipient: shared.recipient.clone(),
                            }
                        }
                        Err(e) => PairResponse::Refused {
                            reason: e.to_string(),
                        },
                    }
                }
                PairRequest::Enroll { .. } => PairResponse::Refused {
                    reason: "wrong or expired enrollment ticket".into(),
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
        Ok(())
    }
}

fn now_ms() -> u64 {
    hearth_core::wire::now_ms()
}

/// Writes a small private file atomically (mode 0600).
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The hub's ticket as last written by `serve`.
pub fn read_ticket(home: &Path) -> Result<Ticket> {
    let path = home.join(TICKET_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no ticket in {} (start the hub with `hearth-hub serve` first)",
            home.display()
        )
    })?;
    Ok(text.trim().parse()?)
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
        let store = Store::open(&config.home.join(STORE_FILE), true)?;
        let blind = Arc::new(BlindStore::open(store, device.id())?);
        let endpoint = bind_endpoint(
            device.endpoint_key(),
            &config.net,
            vec![SYNC_ALPN.to_vec(), PAIR_ALPN.to_vec()],
        )
        .await?;
        // Keep the enrollment secret across restarts; refresh the address.
        let mut ticket = Ticket::new(InviteKind::Center, endpoint.addr(), 0);
        if let Ok(old) = read_ticket(&config.home) {
            ticket.secret = old.secret;
        }
        write_private(
            &config.home.join(TICKET_FILE),
            ticket.to_string().as_bytes(),
        )?;
        let gate = Gate::new(config.limits);
        let shared = Arc::new(Shared {
            blind,
            fanout: Fanout::default(),
            gate: gate.clone(),
            ticket,
            recipient: device.recipient().to_string(),
        });
        // Past the connection limit, a new connection is refused before its handshake
        // costs anything.
        let filter_gate = gate.clone();
        let router = Router::builder(endpoint)
            .incoming_filter(Arc::new(move |_incoming| {
                if filter_gate.has_room() {
                    IncomingFilterOutcome::Accept
                } else {
                    IncomingFilterOutcome::Reject
                }
            }))
            .accept(SYNC_ALPN, SyncHandler(shared.clone()))
            .accept(PAIR_ALPN, EnrollHandler(shared.clone()))
            .spawn();
        tracing::info!(
            "hub {} serving {} documents for {} enrolled devices",
            device.id().short(),
            shared.blind.doc_count(),
            shared.blind.enrolled_count()
        );
        Ok(Hub { router, shared })
    }

    /// The enrollment ticket.
    pub fn ticket(&self) -> &Ticket {
        &self.shared.ticket
    }

    /// The hub's device id.
    pub fn id(&self) -> DeviceId {
        self.shared.blind.id()
    }

    /// The addresses it listens on.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.router.endpoint().bound_sockets()
    }

    /// Every bundle it stores of a doc, offered or not (for tools and tests).
    pub fn stored_bundles(&self, doc: &DocId) -> Result<Vec<hearth_core::ids::BundleId>> {
        Ok(self.shared.blind.stored_bundles(doc)?)
    }

    /// How many documents it stores.
    pub fn doc_count(&self) -> usize {
        self.shared.blind.doc_count()
    }

    /// Stops accepting, closes connections and the endpoint.
    pub async fn shutdown(self) -> Result<()> {
        self.router
            .shutdown()
            .await
            .map_err(|e| anyhow::anyhow!("hub shutdown: {e}"))
    }
}
