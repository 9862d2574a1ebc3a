//! A member device's network side, over the vault: enroll at a center, invite and join
//! the member's other devices, sync once, and stay live. Everything here is iroh
//! plumbing around [`crate::sync`] and [`crate::pairing`]; the rules live there.

mod center;

use std::sync::Arc;
use std::time::Duration;

use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler, Router};
use iroh::{Endpoint, EndpointAddr};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::access::Role;
use crate::identity::KeyStore;
use crate::ids::DeviceId;
use crate::limits::{PAIRING_DEADLINE, SYNC_DEADLINE};
use crate::pairing::{
    self, CONFIRM_TIMEOUT, InviteKind, PAIR_ALPN, PairRequest, PairResponse, PeerAddr,
    PendingInvite, Ticket, confirmation_code,
};
use crate::sync::live::{self, Offer};
use crate::sync::net::{Hooks, NetConfig, SyncEvent, bind_endpoint, run_connection};
use crate::sync::{Replica, SYNC_ALPN, SyncError};
use crate::vault::{DevicePublic, Location, Vault};

pub use center::{CENTER_DEADLINE, CenterReport, interested, propose, sync_centers};

/// How long to wait for a peer to answer a dial.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for one of the member's own devices (often asleep or away).
pub const DEVICE_DIAL_TIMEOUT: Duration = Duration::from_millis(1500);
/// Once a hub has answered, how much longer a one-shot sync waits for own devices that
/// have not: one awake on the LAN answers in milliseconds, and whatever it would bring
/// has mostly reached the hub already (a device's remembered address also goes stale
/// whenever its endpoint restarts on a new port).
pub const DEVICE_GRACE_AFTER_HUB: Duration = Duration::from_millis(300);

/// A network operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// Sync or pairing failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    /// The other side refused.
    #[error("refused: {0}")]
    Refused(String),
    /// No hub and no device answered.
    #[error("nothing reachable: {0}")]
    Unreachable(String),
    /// A peer took too long: what, and the deadline in seconds.
    #[error("{0} did not finish within {1} s (the hub or device may be overloaded or stuck)")]
    TimedOut(&'static str, u64),
    /// A hub stored nothing new of the journal, for a reason the member can act on
    /// (its quota for the journal is used up).
    #[error("{refusal}")]
    HubRefused {
        /// The hub.
        hub: DeviceId,
        /// Why.
        refusal: crate::sync::Refusal,
    },
}

/// Runs `f` within `deadline`, or says it did not finish.
async fn within<T>(
    what: &'static str,
    deadline: Duration,
    f: impl std::future::Future<Output = Result<T, NetError>>,
) -> Result<T, NetError> {
    tokio::time::timeout(deadline, f)
        .await
        .unwrap_or(Err(NetError::TimedOut(what, deadline.as_secs())))
}

async fn endpoint(
    vault: &Vault,
    net: &NetConfig,
    alpns: Vec<Vec<u8>>,
) -> Result<Endpoint, NetError> {
    Ok(bind_endpoint(&vault.endpoint_key()?, net, alpns).await?)
}

async fn dial(ep: &Endpoint, addr: EndpointAddr, alpn: &[u8]) -> Result<Connection, SyncError> {
    dial_within(ep, addr, alpn, DIAL_TIMEOUT).await
}

async fn dial_within(
    ep: &Endpoint,
    addr: EndpointAddr,
    alpn: &[u8],
    timeout: Duration,
) -> Result<Connection, SyncError> {
    match tokio::time::timeout(timeout, ep.connect(addr, alpn)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(SyncError::Network(e.to_string())),
        Err(_) => Err(SyncError::Network("no answer".into())),
    }
}

/// Closes an endpoint without waiting long for peers that never answered.
async fn close(ep: Endpoint) {
    let _ = tokio::time::timeout(Duration::from_millis(300), ep.close()).await;
}

/// Enrolls this device at a center with its ticket, shares the journal with the hub
/// (as a blind store that never gets a key), and syncs once. Returns the hub's id.
/// Gives up after [`PAIRING_DEADLINE`] plus [`SYNC_DEADLINE`] whatever the hub does.
pub async fn enroll(
    vault: &Arc<Vault>,
    ticket: &Ticket,
    net: &NetConfig,
) -> Result<DeviceId, NetError> {
    let hub = within(
        "enrolling",
        PAIRING_DEADLINE,
        enroll_only(vault, ticket, net),
    )
    .await?;
    sync_once(vault, net, None).await?;
    Ok(hub)
}

async fn enroll_only(
    vault: &Arc<Vault>,
    ticket: &Ticket,
    net: &NetConfig,
) -> Result<DeviceId, NetError> {
    if ticket.kind != InviteKind::Center {
        return Err(NetError::Refused(
            "this is a device invite; use `hearth device join`".into(),
        ));
    }
    let ep = endpoint(vault, net, Vec::new()).await?;
    let conn = dial(&ep, ticket.addr.clone(), PAIR_ALPN).await?;
    let resp = pairing::request(
        &conn,
        &PairRequest::Enroll {
            secret: ticket.secret,
        },
    )
    .await;
    conn.close(0u32.into(), b"enrolled");
    close(ep).await;
    let (hub, recipient) = match resp? {
        PairResponse::Enrolled { hub, recipient } => (hub, recipient),
        PairResponse::Refused { reason } => return Err(NetError::Refused(reason)),
        PairResponse::Joined { .. } => return Err(NetError::Refused("unexpected answer".into())),
    };
    if hub != DeviceId::from(ticket.addr.id) {
        return Err(NetError::Refused(
            "the hub is not the one the ticket names".into(),
        ));
    }
    if !vault.may_hold(&vault.journal_id()?, &hub) {
        vault.authorize_device(&DevicePublic { id: hub, recipient }, Role::Store)?;
    }
    vault.remember_peer(&PeerAddr {
        hub: true,
        addr: ticket.addr.clone(),
    })?;
    Ok(hub)
}

/// What a one-shot sync reached.
#[derive(Debug, Default)]
pub struct SyncSummary {
    /// Peers reconciled with.
    pub reached: Vec<DeviceId>,
    /// Peers that could not be reached, with why.
    pub failed: Vec<(DeviceId, String)>,
    /// What this device can tell it was not given, in plain words (gaps in an author's
    /// chain after syncing): the hub may be withholding entries.
    pub withheld: Vec<String>,
}

/// Reconciles with every remembered hub and device that answers, then returns.
/// Fails only when none answered, and gives up after [`SYNC_DEADLINE`] whatever the
/// peers do.
pub async fn sync_once(
    vault: &Arc<Vault>,
    net: &NetConfig,
    events: Option<mpsc::UnboundedSender<SyncEvent>>,
) -> Result<SyncSummary, NetError> {
    within("the sync", SYNC_DEADLINE, async {
        let summary = sync_all(vault, net, events.clone()).await?;
        // Plan edits made offline go into the shares only now that the ledger is
        // current (a consent revoked elsewhere has ended), then out at once.
        if vault.project_shares()? > 0 {
            return sync_all(vault, net, events).await;
        }
        Ok(summary)
    })
    .await
}

async fn sync_all(
    vault: &Arc<Vault>,
    net: &NetConfig,
    events: Option<mpsc::UnboundedSender<SyncEvent>>,
) -> Result<SyncSummary, NetError> {
    let peers = vault.peers()?;
    if peers.is_empty() {
        return Err(NetError::Unreachable(
            "no hub or device to sync with yet (run `hearth enroll` or `hearth device join`)"
                .into(),
        ));
    }
    let ep = endpoint(vault, net, Vec::new()).await?;
    let hub_reached = tokio::sync::watch::Sender::new(false);
    let mut tasks = Vec::new();
    for peer in peers {
        let ep = ep.clone();
        let replica: Arc<dyn Replica> = vault.clone();
        let events = events.clone();
        let hub_reached = hub_reached.clone();
        tasks.push(tokio::spawn(async move {
            let id = DeviceId::from(peer.addr.id);
            let result = async {
                let conn = if peer.hub {
                    dial_within(&ep, peer.addr, SYNC_ALPN, DIAL_TIMEOUT).await?
                } else {
                    // The member's other devices are often offline: do not wait long,
                    // and hardly at all once a hub has answered.
                    let mut reached = hub_reached.subscribe();
                    let given_up = async {
                        let _ = reached.wait_for(|r| *r).await;
                        tokio::time::sleep(DEVICE_GRACE_AFTER_HUB).await;
                    };
                    tokio::select! {
                        conn = dial_within(&ep, peer.addr, SYNC_ALPN, DEVICE_DIAL_TIMEOUT) => conn?,
                        () = given_up => {
                            return Err(SyncError::Network(
                                "no answer by the time the hub had synced".into(),
                            ));
                        }
                    }
                };
                let hooks = Hooks {
                    events,
                    ..Hooks::once()
                };
                let result = run_connection(conn, replica, hooks, true).await;
                if peer.hub && result.is_ok() {
                    hub_reached.send_replace(true);
                }
                result
            }
            .await;
            (id, result)
        }));
    }
    let mut summary = SyncSummary::default();
    let mut refusals = 0;
    let mut hub_refused = None;
    for task in tasks {
        match task.await {
            Ok((id, Ok(()))) => summary.reached.push(id),
            Ok((id, Err(SyncError::PeerRefused { refusal, .. }))) => {
                hub_refused = Some((id, refusal));
                summary.failed.push((id, refusal.to_string()));
            }
            Ok((id, Err(e))) => {
                refusals += usize::from(is_refusal(&e));
                summary.failed.push((id, e.to_string()));
            }
            Err(e) => summary.failed.push((DeviceId([0; 32]), e.to_string())),
        }
    }
    close(ep).await;
    // What a hub refuses to store is not on the hub, whoever else was reached: the
    // member must hear it (and can act on it) rather than read "in sync".
    if let Some((hub, refusal)) = hub_refused {
        return Err(NetError::HubRefused { hub, refusal });
    }
    if summary.reached.is_empty() {
        let why = summary
            .failed
            .iter()
            .map(|(id, e)| format!("{}: {e}", id.short()))
            .collect::<Vec<_>>()
            .join("; ");
        if refusals > 0 && refusals == summary.failed.len() {
            return Err(NetError::Refused(format!(
                "this device has no access to the journal here (it was removed, or restored from a backup made before a removal) ({why})"
            )));
        }
        return Err(NetError::Unreachable(why));
    }
    summary.withheld = vault.withheld()?;
    for w in &summary.withheld {
        tracing::warn!("{w}");
    }
    Ok(summary)
}

/// Whether a sync failed because the peer refused this device (rather than the
/// network): the peer said so, or closed the connection saying so.
fn is_refusal(e: &SyncError) -> bool {
    match e {
        SyncError::Denied(_) => true,
        SyncError::Remote(why) => why.starts_with("denied"),
        SyncError::Network(why) => {
            why.contains("unknown device") || why.contains("no longer has access")
        }
        _ => false,
    }
}

/// The live hooks for a vault connection: its own new items go out as they are made.
/// A connection that falls behind (its queue fills, or this device's feed lagged) is
/// cut off, and reconciles when it reconnects.
fn live_hooks(vault: &Vault, events: Option<mpsc::UnboundedSender<SyncEvent>>) -> Hooks {
    let mut outgoing = vault.subscribe_outgoing();
    let (tx, rx) = live::queue();
    tokio::spawn(async move {
        loop {
            match outgoing.recv().await {
                Ok(o) => {
                    if tx.offer((o.doc, Arc::from(o.items))) != Offer::Queued {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("{n} live updates skipped; reconnecting to catch up");
                    tx.cut_off();
                    break;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    Hooks {
        live: Some(rx),
        events,
        stay_open: true,
        ..Hooks::once()
    }
}

#[derive(Clone)]
struct VaultSync {
    vault: Arc<Vault>,
    events: Option<mpsc::UnboundedSender<SyncEvent>>,
}

impl std::fmt::Debug for VaultSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VaultSync")
    }
}

impl ProtocolHandler for VaultSync {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let peer = DeviceId::from(conn.remote_id());
        if self
            .vault
            .docs_for(&peer)
            .map_or(true, |docs| docs.is_empty())
        {
            conn.close(1u32.into(), b"not one of this member's devices");
            return Ok(());
        }
        let replica: Arc<dyn Replica> = self.vault.clone();
        if let Err(e) = run_connection(
            conn,
            replica,
            live_hooks(&self.vault, self.events.clone()),
            false,
        )
        .await
        {
            tracing::info!("sync with {} ended: {e}", peer.short());
        }
        Ok(())
    }
}

/// A device asking to join through an open invite. The member compares `code` with
/// the code the joining device shows, and answers: the device is added only on yes.
#[derive(Debug)]
pub struct JoinRequest {
    /// The device asking.
    pub device: DeviceId,
    /// The code both devices show.
    pub code: String,
    answer: oneshot::Sender<bool>,
}

impl JoinRequest {
    /// Adds the device (`true`), or turns it away (`false`, which also closes the
    /// invite: a code that does not match means someone else has the ticket).
    pub fn confirm(self, yes: bool) {
        let _ = self.answer.send(yes);
    }
}

/// An invite held open by [`Live::start`].
#[derive(Debug)]
pub struct OpenInvite {
    /// The ticket to show (text and QR code).
    pub ticket: Ticket,
    /// Devices asking to join, each waiting for the member's answer.
    pub requests: mpsc::Receiver<JoinRequest>,
    /// Told the device that joined, once it has.
    pub joined: oneshot::Receiver<DeviceId>,
}

#[derive(Clone)]
struct InviteHandler {
    vault: Arc<Vault>,
    invite: Arc<PendingInvite>,
    self_addr: EndpointAddr,
    requests: mpsc::Sender<JoinRequest>,
    joined: Arc<std::sync::Mutex<Option<oneshot::Sender<DeviceId>>>>,
}

impl std::fmt::Debug for InviteHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InviteHandler")
    }
}

impl InviteHandler {
    async fn answer(&self, peer: DeviceId, req: PairRequest) -> Result<PairResponse, String> {
        let PairRequest::Join { secret, recipient } = req else {
            return Err("this is a member's device: use `hearth device join`".into());
        };
        // One-time: a request the member turns away (or leaves unanswered) uses it up.
        self.invite.take(&secret)?;
        let me = self.vault.device_id().map_err(|e| e.to_string())?;
        let (tx, rx) = oneshot::channel();
        let request = JoinRequest {
            device: peer,
            code: confirmation_code(&me, &peer, &secret),
            answer: tx,
        };
        if self.requests.send(request).await.is_err() {
            return Err("nobody is there to confirm this device".into());
        }
        match tokio::time::timeout(CONFIRM_TIMEOUT, rx).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return Err("the member turned this device away".into()),
            _ => return Err("the member did not confirm this device in time".into()),
        }
        let public = DevicePublic {
            id: peer,
            recipient,
        };
        self.vault
            .authorize_device(&public, Role::Owner)
            .map_err(|e| e.to_string())?;
        let mut peers = self.vault.peers().map_err(|e| e.to_string())?;
        peers.push(PeerAddr {
            hub: false,
            addr: self.self_addr.clone(),
        });
        let resp = PairResponse::Joined {
            journal: self.vault.journal_id().map_err(|e| e.to_string())?,
            items: self.vault.sync_items().map_err(|e| e.to_string())?,
            peers,
        };
        if let Ok(mut j) = self.joined.lock()
            && let Some(tx) = j.take()
        {
            let _ = tx.send(peer);
        }
        Ok(resp)
    }
}

impl ProtocolHandler for InviteHandler {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let this = self.clone();
        let result = pairing::serve(conn, move |peer, req| async move {
            this.answer(peer, req)
                .await
                .unwrap_or_else(|reason| PairResponse::Refused { reason })
        })
        .await;
        if let Err(e) = result {
            tracing::info!("pairing attempt failed: {e}");
        }
        Ok(())
    }
}

/// The code this device will show when it joins with `ticket` (the inviting device
/// shows the same one, and the member compares them). Creates the device's seed if
/// it has none yet.
pub fn join_code(keys: &dyn KeyStore, ticket: &Ticket) -> Result<String, NetError> {
    let me = Vault::prepare_device(keys)?.id;
    Ok(confirmation_code(
        &DeviceId::from(ticket.addr.id),
        &me,
        &ticket.secret,
    ))
}

/// A device online for live sync: it accepts the member's other devices, keeps
/// connections to every remembered peer, and (while an invite is open) pairs.
pub struct Live {
    router: Router,
    addr: EndpointAddr,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").field("addr", &self.addr).finish()
    }
}

impl Live {
    /// Brings the device online. With `invite_ttl`, a one-time device invite is open:
    /// its ticket, the join requests to confirm, and a receiver told when a device
    /// has joined. With `dial`,
    /// it also connects to every remembered peer and reconnects when they drop.
    pub async fn start(
        vault: Arc<Vault>,
        net: &NetConfig,
        invite_ttl: Option<Duration>,
        dial_peers: bool,
        events: Option<mpsc::UnboundedSender<SyncEvent>>,
    ) -> Result<(Self, Option<OpenInvite>), NetError> {
        // Listen on the port used last time, so the address the member's other devices
        // remember from an invite stays valid; fall back to any port if it is taken.
        let alpns = vec![SYNC_ALPN.to_vec(), PAIR_ALPN.to_vec()];
        let mut config = net.clone();
        if config.bind.port() == 0
            && let Some(port) = vault.listen_port()?
        {
            config.bind.set_port(port);
        }
        let ep = match endpoint(&vault, &config, alpns.clone()).await {
            Ok(ep) => ep,
            Err(_) if config.bind != net.bind => endpoint(&vault, net, alpns).await?,
            Err(e) => return Err(e),
        };
        if let Some(port) = ep.bound_sockets().first().map(|s| s.port())
            && Some(port) != vault.listen_port()?
        {
            vault.set_listen_port(port)?;
        }
        let addr = ep.addr();
        let mut builder = Router::builder(ep.clone()).accept(
            SYNC_ALPN,
            VaultSync {
                vault: vault.clone(),
                events: events.clone(),
            },
        );
        let mut invite = None;
        if let Some(ttl) = invite_ttl {
            let ticket = Ticket::new(
                InviteKind::Device,
                addr.clone(),
                crate::wire::now_ms() + ttl.as_millis() as u64,
            );
            let (tx, joined) = oneshot::channel();
            let (requests_tx, requests) = mpsc::channel(1);
            builder = builder.accept(
                PAIR_ALPN,
                InviteHandler {
                    vault: vault.clone(),
                    invite: Arc::new(PendingInvite::new(ticket.clone())),
                    self_addr: addr.clone(),
                    requests: requests_tx,
                    joined: Arc::new(std::sync::Mutex::new(Some(tx))),
                },
            );
            invite = Some(OpenInvite {
                ticket,
                requests,
                joined,
            });
        }
        let router = builder.spawn();
        if dial_peers {
            for peer in vault.peers()? {
                let (ep, vault, events) = (ep.clone(), vault.clone(), events.clone());
                tokio::spawn(async move { keep_connected(ep, vault, peer, events).await });
            }
        }
        Ok((Live { router, addr }, invite))
    }

    /// Where this device can be reached.
    pub fn addr(&self) -> &EndpointAddr {
        &self.addr
    }

    /// Goes offline.
    pub async fn shutdown(self) {
        let _ = self.router.shutdown().await;
    }
}

/// Forwards a live connection's events to `events`; each time it has reconciled,
/// projects plan edits made while offline into the shares still active (only then is
/// the ledger current enough to say which), and they go out live.
fn projecting(
    vault: Arc<Vault>,
    events: Option<mpsc::UnboundedSender<SyncEvent>>,
) -> mpsc::UnboundedSender<SyncEvent> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            if matches!(ev, SyncEvent::Reconciled { .. }) {
                let v = vault.clone();
                match tokio::task::spawn_blocking(move || v.project_shares()).await {
                    Ok(Err(e)) => tracing::warn!("could not bring the shares up to date: {e}"),
                    Err(e) => tracing::warn!("could not bring the shares up to date: {e}"),
                    Ok(Ok(_)) => {}
                }
            }
            // Nobody listening any more is fine: it keeps projecting.
            if let Some(events) = &events {
                let _ = events.send(ev);
            }
        }
    });
    tx
}

async fn keep_connected(
    ep: Endpoint,
    vault: Arc<Vault>,
    peer: PeerAddr,
    events: Option<mpsc::UnboundedSender<SyncEvent>>,
) {
    let mut backoff = Duration::from_millis(200);
    loop {
        if ep.is_closed() {
            return;
        }
        match dial(&ep, peer.addr.clone(), SYNC_ALPN).await {
            Ok(conn) => {
                backoff = Duration::from_millis(200);
                let replica: Arc<dyn Replica> = vault.clone();
                let events = Some(projecting(vault.clone(), events.clone()));
                if let Err(e) =
                    run_connection(conn, replica, live_hooks(&vault, events), true).await
                {
                    tracing::info!(
                        "live sync with {} ended: {e}",
                        DeviceId::from(peer.addr.id).short()
                    );
                }
            }
            Err(e) => tracing::debug!("cannot reach {}: {e}", DeviceId::from(peer.addr.id).short()),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// Joins the member's vault from another of their devices' invite: this home gets a
/// vault of its own with everything in the journal. Gives up after
/// [`PAIRING_DEADLINE`] (which leaves the member time to compare the codes).
pub async fn join(
    location: Location,
    keys: &dyn KeyStore,
    ticket: &Ticket,
    net: &NetConfig,
) -> Result<Vault, NetError> {
    within(
        "joining",
        PAIRING_DEADLINE,
        join_only(location, keys, ticket, net),
    )
    .await
}

async fn join_only(
    location: Location,
    keys: &dyn KeyStore,
    ticket: &Ticket,
    net: &NetConfig,
) -> Result<Vault, NetError> {
    if ticket.kind != InviteKind::Device {
        return Err(NetError::Refused(
            "this is a center's ticket; use `hearth enroll`".into(),
        ));
    }
    let public = Vault::prepare_device(keys)?;
    let device = crate::vault::device_keys_of(keys)?;
    let ep = bind_endpoint(device.endpoint_key(), net, Vec::new()).await?;
    let conn = dial(&ep, ticket.addr.clone(), PAIR_ALPN).await?;
    let resp = pairing::request(
        &conn,
        &PairRequest::Join {
            secret: ticket.secret,
            recipient: public.recipient,
        },
    )
    .await;
    conn.close(0u32.into(), b"joined");
    close(ep).await;
    let (journal, items, peers) = match resp? {
        PairResponse::Joined {
            journal,
            items,
            peers,
        } => (journal, items, peers),
        PairResponse::Refused { reason } => return Err(NetError::Refused(reason)),
        PairResponse::Enrolled { .. } => return Err(NetError::Refused("unexpected answer".into())),
    };
    let vault = Vault::join(location, keys, journal, items)?;
    for peer in peers {
        vault.remember_peer(&peer)?;
    }
    Ok(vault)
}
