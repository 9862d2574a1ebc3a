//! The iroh side of sync: endpoints that need no internet, and the loop that runs one
//! connection's [`Session`] over a bi-directional stream. Reads happen in their own
//! task (a frame read is not cancel-safe), checks and commits on the blocking pool, and
//! live items go out as soon as they are checked — before the local fsync finishes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use iroh::endpoint::{Connection, RecvStream, SendStream, presets};
use iroh::{Endpoint, RelayMode, RelayUrl};
use iroh_mdns_address_lookup::MdnsAddressLookup;
use tokio::sync::mpsc;

use super::live::{Ended, FELL_BEHIND, LiveReceiver};
use super::message::{Message, read_message_held, write_message};
use super::session::{Answer, Ingest, Ingested, Mode, Session};
use super::{Replica, SyncError};
use crate::ids::{DeviceId, DocId};
use crate::item::SyncItem;
use crate::limits::{self, FrameRoom, RECONCILE_DEADLINE, WRITE_DEADLINE};

/// A batch of at most this many items, and [`INLINE_CHECK_BYTES`], is checked on the
/// connection's task rather than the blocking pool: a live check-in or two, a few
/// signature checks (~50 µs each). More would let a peer that streams small batches
/// keep the async workers, which every other connection needs, busy verifying.
const INLINE_CHECK_ITEMS: usize = 2;
/// See [`INLINE_CHECK_ITEMS`] (a padded check-in is about 800 bytes).
const INLINE_CHECK_BYTES: usize = 4 << 10;

/// How long a one-shot sync waits for the peer to finish after reconciling.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How an endpoint reaches the network: a LAN or loopback address, optionally the
/// center's own relay, and local discovery. No public relay, no internet address
/// lookup, no port mapping.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// The socket to bind (e.g. `0.0.0.0:0`, or `127.0.0.1:0` in tests).
    pub bind: SocketAddr,
    /// A relay the center runs itself, if any.
    pub relay: Option<RelayUrl>,
    /// Local discovery (mDNS) on the LAN.
    pub local: LocalDiscovery,
}

impl NetConfig {
    /// Loopback only, any port, no multicast.
    pub fn loopback() -> Self {
        NetConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            relay: None,
            local: LocalDiscovery::Off,
        }
    }
}

/// The mDNS service name Hearth endpoints use (other iroh apps use their own).
const MDNS_SERVICE: &str = "hearth";

/// Whether an endpoint uses mDNS on the LAN to find peers whose ticket address went
/// stale (a hub that got a new DHCP lease), and whether it announces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalDiscovery {
    /// No multicast at all.
    Off,
    /// Look peers up by their id, never announce this endpoint: a member's device does
    /// not broadcast a stable id on a center's Wi-Fi for anyone to notice it is there.
    Find,
    /// Look up and announce: the hub, whose presence is no secret.
    Announce,
}

impl std::str::FromStr for LocalDiscovery {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(LocalDiscovery::Off),
            "find" => Ok(LocalDiscovery::Find),
            "announce" => Ok(LocalDiscovery::Announce),
            other => Err(format!(
                "{other:?} is not a local discovery mode (off, find or announce)"
            )),
        }
    }
}

impl std::fmt::Display for LocalDiscovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LocalDiscovery::Off => "off",
            LocalDiscovery::Find => "find",
            LocalDiscovery::Announce => "announce",
        })
    }
}

/// Binds an endpoint with this device's key.
pub async fn bind_endpoint(
    key: &iroh_base::SecretKey,
    config: &NetConfig,
    alpns: Vec<Vec<u8>>,
) -> Result<Endpoint, SyncError> {
    let relay_mode = match &config.relay {
        Some(url) => RelayMode::custom([url.clone()]),
        None => RelayMode::Disabled,
    };
    let mut builder = Endpoint::builder(presets::Minimal)
        .relay_mode(relay_mode)
        .clear_address_lookup()
        .clear_ip_transports()
        .bind_addr(config.bind)
        .map_err(|e| SyncError::Network(format!("cannot bind {}: {e}", config.bind)))?
        .secret_key(iroh::SecretKey::from_bytes(&key.to_bytes()))
        .transport_config(limits::transport())
        .alpns(alpns);
    if config.relay.is_none() {
        builder = builder.clear_relay_transports();
    }
    let ep = builder
        .bind()
        .await
        .map_err(|e| SyncError::Network(format!("cannot start the endpoint: {e}")))?;
    if config.local != LocalDiscovery::Off {
        let mdns = MdnsAddressLookup::builder()
            .service_name(MDNS_SERVICE)
            .advertise(config.local == LocalDiscovery::Announce)
            .build(ep.id());
        // A network without multicast still works by the addresses in tickets.
        match (mdns, ep.address_lookup()) {
            (Ok(mdns), Ok(lookup)) => lookup.add(mdns),
            (Err(e), _) => tracing::warn!("local discovery is off: {e}"),
            (_, Err(e)) => tracing::warn!("local discovery is off: {e}"),
        }
    }
    Ok(ep)
}

/// What happened on a connection, for a UI or a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    /// Every shared doc is settled with this peer.
    Reconciled {
        /// The peer.
        peer: DeviceId,
    },
    /// New items arrived from the peer and were checked.
    Received {
        /// The peer.
        peer: DeviceId,
        /// The doc.
        doc: DocId,
        /// How many were new.
        new: usize,
        /// How many were dropped as invalid.
        rejected: usize,
    },
    /// Reconciled with the peer, and something is missing from what this side was
    /// given: the peer (or a hub in between) may be withholding entries or serving an
    /// older state. Sent after [`SyncEvent::Reconciled`], each time it happens.
    Withheld {
        /// The peer.
        peer: DeviceId,
        /// What is missing, in plain words (as `hearth sync` prints it).
        warnings: Vec<String>,
    },
    /// The peer acknowledged pushed items as durably stored.
    Acked {
        /// The peer.
        peer: DeviceId,
        /// How many.
        stored: u32,
    },
}

/// Called with items a peer sent, once checked and before they are durable (the hub
/// fans them out to its other connections here).
pub type OnAccepted = Arc<dyn Fn(DeviceId, DocId, &[SyncItem]) + Send + Sync>;

/// How a connection behaves beyond the protocol.
pub struct Hooks {
    /// Items to push live, as they are made or arrive elsewhere (a bounded queue: a
    /// connection that falls behind is cut off).
    pub live: Option<LiveReceiver>,
    /// Told about items checked from this peer.
    pub on_accepted: Option<OnAccepted>,
    /// Told what happens.
    pub events: Option<mpsc::UnboundedSender<SyncEvent>>,
    /// Stay open after reconciling, for live sync.
    pub stay_open: bool,
    /// How long the peer has to finish reconciling ([`RECONCILE_DEADLINE`]).
    pub reconcile_within: Duration,
}

impl Hooks {
    /// A one-shot sync: reconcile, then close.
    pub fn once() -> Self {
        Hooks {
            live: None,
            on_accepted: None,
            events: None,
            stay_open: false,
            reconcile_within: RECONCILE_DEADLINE,
        }
    }
}

/// Runs sync over a connection: the dialer opens the stream, the acceptor accepts it.
/// Returns when the peer closes, or (one-shot) once reconciled and drained.
pub async fn run_connection(
    conn: Connection,
    replica: Arc<dyn Replica>,
    mut hooks: Hooks,
    dialer: bool,
) -> Result<(), SyncError> {
    let peer = DeviceId::from(conn.remote_id());
    // Let in (admitted by the hub, or dialed by this device): room for sync's frames.
    crate::limits::widen_for_sync(&conn);
    let net = |e: &dyn std::fmt::Display| SyncError::Network(e.to_string());
    let (mut send, recv) = if dialer {
        conn.open_bi().await.map_err(|e| net(&e))?
    } else {
        conn.accept_bi().await.map_err(|e| net(&e))?
    };
    let result = drive(&mut send, recv, peer, &replica, &mut hooks, dialer)
        .await
        .map_err(|e| match (e, conn.close_reason()) {
            // Say why the peer closed ("unknown device"), not just that it did.
            (SyncError::Network(_), Some(reason)) => SyncError::Network(reason.to_string()),
            (e, _) => e,
        });
    if let Err(e) = &result {
        // Tell the peer why (typed, when it can act on it), then end the stream; the
        // connection stays usable for others.
        let msg = match e {
            SyncError::Refused { doc, refusal } => Message::Refused {
                doc: *doc,
                refusal: *refusal,
            },
            e => Message::Error {
                reason: e.to_string(),
            },
        };
        // A peer that stopped reading does not hold this side up any longer.
        let _ = tokio::time::timeout(Duration::from_secs(1), write_message(&mut send, &msg)).await;
    }
    let _ = send.finish();
    if let Err(SyncError::Denied(why)) = &result {
        // Give the peer a moment to read why, then close: it gets nothing more here.
        let _ = tokio::time::timeout(Duration::from_millis(500), conn.closed()).await;
        conn.close(2u32.into(), why.as_bytes());
    } else if dialer {
        // A clean one-shot sync returns only after reading the peer's end of stream,
        // which the peer sends after reading ours: everything both ways has arrived.
        // After an error, give the peer a moment to read why before closing.
        if result.is_err() {
            let _ = tokio::time::timeout(Duration::from_millis(500), conn.closed()).await;
        }
        conn.close(0u32.into(), b"done");
    } else {
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, conn.closed()).await;
    }
    result
}

type Incoming = mpsc::Receiver<Result<(Message, FrameRoom), SyncError>>;

/// Reads frames in a task of its own (a frame read is not cancel-safe). One message
/// waits while another is handled: what a peer has in flight is two frames, each with
/// room taken from the process's frame budget.
fn reader(mut recv: RecvStream) -> Incoming {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            let msg = read_message_held(&mut recv).await;
            let stop = !matches!(msg, Ok(Some(_)));
            let item = match msg {
                Ok(Some(m)) => Ok(m),
                Ok(None) => break,
                Err(e) => Err(e),
            };
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    rx
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SyncError> + Send + 'static,
) -> Result<T, SyncError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SyncError::Local(format!("worker failed: {e}")))?
}

/// Writes one message, giving up on a peer that has stopped reading.
async fn send_message(send: &mut SendStream, msg: &Message) -> Result<(), SyncError> {
    match tokio::time::timeout(WRITE_DEADLINE, write_message(send, msg)).await {
        Ok(result) => result,
        Err(_) => Err(SyncError::Network(format!(
            "the peer read nothing for {} s",
            WRITE_DEADLINE.as_secs()
        ))),
    }
}

async fn drive(
    send: &mut SendStream,
    recv: RecvStream,
    peer: DeviceId,
    replica: &Arc<dyn Replica>,
    hooks: &mut Hooks,
    dialer: bool,
) -> Result<(), SyncError> {
    let within = hooks.reconcile_within;
    let deadline = tokio::time::sleep(within);
    tokio::pin!(deadline);
    let late = || SyncError::Network(format!("not reconciled within {} s", within.as_secs()));
    let mut incoming = reader(recv);
    // An acceptor reads the dialer's hello before its own session starts (the dialer
    // always writes first, so this costs no round trip): the replica learns which docs
    // the peer holds by its own choice before it decides what to offer.
    let mut first = if dialer {
        None
    } else {
        tokio::select! {
            msg = incoming.recv() => Some(msg),
            () = &mut deadline => return Err(late()),
        }
    };
    if let Some(Some(Ok((Message::Hello { docs, .. }, _)))) = &first {
        let listed: Vec<DocId> = docs.iter().map(|s| s.doc).collect();
        let r = replica.clone();
        blocking(move || r.observe_hello(&peer, &listed)).await?;
        if !replica.may_connect(&peer) {
            return Err(SyncError::Denied(format!(
                "{} has no access here",
                peer.short()
            )));
        }
    }
    let mode = if hooks.stay_open {
        Mode::Live
    } else {
        Mode::OneShot
    };
    let (mut session, hello) = {
        let r = replica.clone();
        blocking(move || Session::start(&*r, peer, mode)).await?
    };
    if !dialer {
        session.answer_last();
    }
    send_message(send, &hello).await?;
    let mut live_open = hooks.live.is_some();
    let mut deferred_rooms: Vec<FrameRoom> = Vec::new();
    let mut access = replica.access_changes();
    let mut watching = true;
    loop {
        let msg = match first.take() {
            Some(msg) => msg,
            None => tokio::select! {
            msg = incoming.recv() => msg,
            () = &mut deadline, if !session.is_reconciled() => return Err(late()),
            changed = access.changed(), if watching => {
                // Access changed somewhere: a peer that may no longer connect is cut off
                // at once, whatever it was doing.
                watching = changed.is_ok();
                if !replica.may_connect(&peer) {
                    return Err(SyncError::Denied(format!(
                        "{} no longer has access here",
                        peer.short()
                    )));
                }
                continue;
            }
            live = async {
                match hooks.live.as_mut() {
                    Some(live) => live.recv().await,
                    None => std::future::pending().await,
                }
            }, if live_open => {
                match live {
                    Ok((doc, items)) => {
                        if let Some(m) = session.push(&**replica, doc, items)? {
                            send_message(send, &m).await?;
                        }
                    }
                    Err(Ended::Closed) => live_open = false,
                    Err(Ended::FellBehind) => {
                        return Err(SyncError::Network(FELL_BEHIND.into()));
                    }
                }
                continue;
            }
            },
        };
        let Some(msg) = msg else {
            return Ok(()); // the peer finished its stream
        };
        let (msg, room) = msg?;
        let ids = matches!(msg, Message::Ids { .. });
        let step = session.handle(&**replica, msg)?;
        for m in &step.send {
            send_message(send, m).await?;
        }
        for answer in step.answers {
            stream_answer(send, replica, answer).await?;
        }
        // An answer kept for later keeps the room of the ids it answers (its skip set
        // is their decoded copy) until it has streamed.
        if !session.has_deferred() {
            deferred_rooms.clear();
        } else if ids {
            deferred_rooms.push(room);
        }
        if step.acked > 0
            && let Some(ev) = &hooks.events
        {
            let _ = ev.send(SyncEvent::Acked {
                peer,
                stored: step.acked,
            });
        }
        let (mut reconciled, mut finish) = (step.reconciled, step.finish);
        for ingest in step.ingest {
            let (doc, reply) = (ingest.doc, ingest.reply);
            let outcome = take_in(replica, hooks, peer, ingest).await?;
            let after = session.ingested(doc, reply, outcome)?;
            for m in &after.send {
                send_message(send, m).await?;
            }
            reconciled |= after.reconciled;
            finish |= after.finish;
        }
        // A witness heard after reconciliation (the docs were equal at hello) can
        // still find something withheld: look again.
        let recheck = step.witnessed && session.is_reconciled();
        if reconciled || recheck {
            observed(replica, hooks, peer, reconciled).await?;
        }
        if finish {
            // Keep reading until the peer ends its side, so nothing it still sends
            // (acks, what its hubs held) is lost.
            send.finish()
                .map_err(|e| SyncError::Network(e.to_string()))?;
            return drain(&mut incoming, &mut session, replica, hooks, peer).await;
        }
    }
}

/// Tells the replica the session is reconciled (or asks again what it finds
/// withheld) and passes on what it says.
async fn observed(
    replica: &Arc<dyn Replica>,
    hooks: &Hooks,
    peer: DeviceId,
    reconciled: bool,
) -> Result<(), SyncError> {
    let r = replica.clone();
    let warnings = blocking(move || r.observe_reconciled(&peer)).await?;
    if let Some(ev) = &hooks.events {
        if reconciled {
            let _ = ev.send(SyncEvent::Reconciled { peer });
        }
        if !warnings.is_empty() {
            let _ = ev.send(SyncEvent::Withheld { peer, warnings });
        }
    }
    Ok(())
}

/// Reads what the peer still sends after this side finished: acknowledgements are
/// dropped, a witness of what its hubs held is still heard.
async fn drain(
    incoming: &mut Incoming,
    session: &mut Session,
    replica: &Arc<dyn Replica>,
    hooks: &Hooks,
    peer: DeviceId,
) -> Result<(), SyncError> {
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while let Some(Ok((msg, _room))) = incoming.recv().await {
            if matches!(msg, Message::Witness { .. })
                && session.handle(&**replica, msg).is_ok_and(|s| s.witnessed)
            {
                observed(replica, hooks, peer, false).await?;
            }
        }
        Ok::<(), SyncError>(())
    })
    .await;
    Ok(())
}

/// Sends an answer a page at a time: each page is read on the blocking pool and
/// written before the next is read.
async fn stream_answer(
    send: &mut SendStream,
    replica: &Arc<dyn Replica>,
    mut answer: Answer,
) -> Result<(), SyncError> {
    loop {
        let r = replica.clone();
        let (page, back) = blocking(move || {
            let page = answer.next(&*r)?;
            Ok((page, answer))
        })
        .await?;
        answer = back;
        let Some(page) = page else {
            return Ok(());
        };
        send_message(send, &page).await?;
    }
}

/// Checks items, hands them on and commits what was taken; says what became of
/// them (the session decides what follows).
async fn take_in(
    replica: &Arc<dyn Replica>,
    hooks: &Hooks,
    peer: DeviceId,
    ingest: Ingest,
) -> Result<Ingested, SyncError> {
    let Ingest { doc, items, .. } = ingest;
    let r = replica.clone();
    // A live push of a check-in or two is checked in place: a hop to the blocking pool
    // would cost more than the check. Large replies go to the pool.
    let size: usize = items.iter().map(|i| i.bytes().len()).sum();
    let checked = if items.len() <= INLINE_CHECK_ITEMS && size <= INLINE_CHECK_BYTES {
        r.check(&doc, &peer, items)
    } else {
        blocking(move || r.check(&doc, &peer, items)).await
    };
    let checked = match checked {
        Ok(c) => c,
        Err(SyncError::Denied(why)) => {
            tracing::warn!("refused items from {peer:?}: {why}");
            return Ok(Ingested::Denied(why));
        }
        Err(e) => return Err(e),
    };
    let new = checked.accepted.len();
    if let Some(cb) = &hooks.on_accepted
        && new > 0
    {
        cb(peer, doc, &checked.accepted);
    }
    if let Some(ev) = &hooks.events
        && (new > 0 || !checked.rejected.is_empty())
    {
        let _ = ev.send(SyncEvent::Received {
            peer,
            doc,
            new,
            rejected: checked.rejected.len(),
        });
    }
    for why in &checked.rejected {
        tracing::warn!("dropped an item from {peer:?}: {why}");
    }
    let refusal = checked.refusal;
    let r = replica.clone();
    blocking(move || r.commit(checked)).await?;
    Ok(Ingested::Stored {
        new: new as u32,
        refusal,
    })
}
