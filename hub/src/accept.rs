//! How a connection gets into the hub: the accept loop. Each incoming connection is
//! first put to a cheap check (the gate's room and the address's handshake rate)
//! before any handshake; then it waits for one of a few hundred *setting-up places*,
//! so that a storm of reconnecting devices (every phone on the Wi-Fi redialing the
//! morning after a power cut) is let in a few hundred at a time rather than all at
//! once. A connection's QUIC state costs the hub about 150 KB while it exists, so
//! two thousand handshakes at once do not fit the small box in the office, and on
//! two cores they would not go faster either.
//!
//! A place is held through the handshake and, for sync, until the device has
//! reconciled ([`Setup::hold_until`]), for at most [`SETUP_WITHIN`] in all: a live
//! connection afterwards holds none, and a peer that stalls its handshake or its
//! reconciliation gives its place up when that time is out. A connection that waits
//! longer than [`WAIT_FOR_PLACE`] is ignored (its device dials again), and past
//! [`MAX_WAITING`] waiting, new ones are refused at once. One network address may
//! hold at most [`PER_ADDRESS`] places and waiting turns at once, so a script on one
//! laptop that starts handshakes and stalls them cannot take every place.
//!
//! A connection that waited for its place is not answered from its first packet:
//! the device measures the round trip from the packets it sent while waiting, takes
//! seconds for it, and then waits as long again for any packet lost in the storm.
//! It is sent a QUIC Retry instead, and its place is kept for its address
//! ([`RESERVED_FOR`]) until it dials again at once, with a fresh first packet.
//!
//! It owns the loop, the places and the handover of each connection to the handler
//! its ALPN names. It does not decide who may sync (the blind store), how many
//! connections stay open (the gate) or what a connection may send
//! (`hearth_core::limits`).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use iroh::Endpoint;
use iroh::endpoint::{Connection, Incoming, IncomingAddr};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::gate::Counts;

/// Connections being set up (handshake, then reconciliation) at once.
pub const SETTING_UP: usize = 256;
/// How long a connection may hold a setting-up place in all.
pub const SETUP_WITHIN: Duration = Duration::from_secs(10);
/// How long an incoming connection waits for a place before it is ignored (a device
/// gives a handshake 30 s before it dials again).
pub const WAIT_FOR_PLACE: Duration = Duration::from_secs(20);
/// Incoming connections waiting for a place at once; past it, new ones are refused.
pub const MAX_WAITING: usize = 4096;
/// Places and waiting turns one network address may hold at once (a relayed
/// connection counts under its endpoint id).
pub const PER_ADDRESS: usize = 32;
/// A connection that waited longer than this for its place is sent a Retry.
pub const RETRY_AFTER: Duration = Duration::from_millis(50);
/// How long a place is kept for a device that was sent a Retry.
pub const RESERVED_FOR: Duration = Duration::from_secs(1);

/// How many connections are let in at once, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptLimits {
    /// Connections being set up at once ([`SETTING_UP`]).
    pub setting_up: usize,
    /// How long one may hold its place ([`SETUP_WITHIN`]).
    pub setup_within: Duration,
    /// How long one may wait for a place ([`WAIT_FOR_PLACE`]).
    pub wait_for_place: Duration,
    /// How many may wait ([`MAX_WAITING`]).
    pub max_waiting: usize,
    /// How many one address may hold, waiting or set up ([`PER_ADDRESS`]).
    pub per_address: usize,
}

impl Default for AcceptLimits {
    fn default() -> Self {
        AcceptLimits {
            setting_up: SETTING_UP,
            setup_within: SETUP_WITHIN,
            wait_for_place: WAIT_FOR_PLACE,
            max_waiting: MAX_WAITING,
            per_address: PER_ADDRESS,
        }
    }
}

/// A connection's setting-up place, given back when dropped or when its time is out.
#[derive(Debug)]
pub struct Setup {
    _place: OwnedSemaphorePermit,
    until: Instant,
    _from: Slot,
}

impl Setup {
    /// Keeps the place until `done` completes or the setup time is out, whichever is
    /// first, then gives it back (the connection goes on without it).
    pub fn hold_until(self, done: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(async move {
            let _ = tokio::time::timeout_at(self.until, done).await;
            drop(self);
        });
    }
}

/// What runs a connection once it is set up: given the connection, its ALPN decided,
/// and its place.
pub type Dispatch =
    Arc<dyn Fn(Connection, Setup) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Whether an incoming connection may start its handshake at all.
pub type Admit = Arc<dyn Fn(&Incoming) -> bool + Send + Sync>;

/// The running accept loop.
#[derive(Debug)]
pub struct Acceptor {
    endpoint: Endpoint,
    task: JoinHandle<()>,
    retries: Arc<AtomicU64>,
}

impl Acceptor {
    /// Serves `alpns` on `endpoint`: every incoming connection that `admit` lets
    /// start is set up within `limits` and given to `dispatch`.
    pub fn spawn(
        endpoint: Endpoint,
        alpns: Vec<Vec<u8>>,
        limits: AcceptLimits,
        admit: Admit,
        dispatch: Dispatch,
    ) -> Self {
        endpoint.set_alpns(alpns);
        let retries = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(run(
            endpoint.clone(),
            limits,
            admit,
            dispatch,
            retries.clone(),
        ));
        Acceptor {
            endpoint,
            task,
            retries,
        }
    }

    /// How many connections were sent a Retry after waiting for their place.
    pub fn retries_sent(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// The endpoint it serves.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Stops accepting, ends every connection's handler and closes the endpoint.
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = self.task.await;
        self.endpoint.close().await;
    }
}

/// The loop: one task per connection, from its wait for a place to its handler's end
/// (aborted with the loop, when the hub stops).
async fn run(
    endpoint: Endpoint,
    limits: AcceptLimits,
    admit: Admit,
    dispatch: Dispatch,
    retries: Arc<AtomicU64>,
) {
    let places = Arc::new(Semaphore::new(limits.setting_up));
    let waiting = Arc::new(Semaphore::new(limits.max_waiting));
    let reserved = Reserved::default();
    let from = Arc::new(Counts::new(limits.per_address));
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            Some(ended) = tasks.join_next() => {
                if let Err(e) = ended
                    && e.is_panic()
                {
                    tracing::error!("a connection's handler panicked: {e}");
                }
            }
            incoming = endpoint.accept() => {
                let Some(incoming) = incoming else { break };
                // Back at once after a Retry: its place was kept.
                if incoming.remote_addr_validated()
                    && let Some(setup) = ip_of(&incoming).and_then(|a| reserved.take(a))
                {
                    let dispatch = dispatch.clone();
                    tasks.spawn(set_up(incoming, setup, dispatch));
                    continue;
                }
                if !admit(&incoming) {
                    incoming.refuse();
                    continue;
                }
                let Some(slot) = slot(&from, &incoming) else {
                    incoming.refuse();
                    continue;
                };
                let Ok(wait) = waiting.clone().try_acquire_owned() else {
                    incoming.refuse();
                    continue;
                };
                let (places, reserved, retries) =
                    (places.clone(), reserved.clone(), retries.clone());
                let dispatch = dispatch.clone();
                tasks.spawn(async move {
                    let since = Instant::now();
                    let Some(setup) = take_place(&places, &limits, slot).await else {
                        incoming.ignore();
                        return;
                    };
                    drop(wait);
                    let retry = ip_of(&incoming).filter(|_| {
                        since.elapsed() > RETRY_AFTER && !incoming.remote_addr_validated()
                    });
                    let Some(addr) = retry else {
                        set_up(incoming, setup, dispatch).await;
                        return;
                    };
                    reserved.keep(addr, setup);
                    retries.fetch_add(1, Ordering::Relaxed);
                    if let Err(e) = incoming.retry() {
                        let incoming = e.into_incoming();
                        match reserved.take(addr) {
                            Some(setup) => set_up(incoming, setup, dispatch).await,
                            None => incoming.ignore(),
                        }
                    }
                });
            }
        }
    }
}

/// Runs the handshake within the place's time and hands the connection over.
async fn set_up(incoming: Incoming, setup: Setup, dispatch: Dispatch) {
    if let Some(conn) = handshake(incoming, setup.until).await {
        dispatch(conn, setup).await;
    }
}

/// The address a connection comes from, if it is a direct one.
fn ip_of(incoming: &Incoming) -> Option<SocketAddr> {
    match incoming.remote_addr() {
        IncomingAddr::Ip(addr) => Some(addr),
        _ => None,
    }
}

/// Who a connection comes from, for [`PER_ADDRESS`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Sender {
    Ip(std::net::IpAddr),
    Relayed(iroh::EndpointId),
    /// Any other transport: one count for all.
    Other,
}

/// One sender's place or turn, given back when dropped.
struct Slot {
    held: Arc<Counts<Sender>>,
    sender: Sender,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Slot").field(&self.sender).finish()
    }
}

/// A slot for the sender of `incoming`, if it holds fewer than its limit.
fn slot(held: &Arc<Counts<Sender>>, incoming: &Incoming) -> Option<Slot> {
    let sender = match incoming.remote_addr() {
        IncomingAddr::Ip(addr) => Sender::Ip(addr.ip()),
        IncomingAddr::Relay { endpoint_id, .. } => Sender::Relayed(endpoint_id),
        _ => Sender::Other,
    };
    held.take(&sender).then(|| Slot {
        held: held.clone(),
        sender,
    })
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.held.give(&self.sender);
    }
}

/// Places kept for devices sent a Retry, by address, each for [`RESERVED_FOR`].
#[derive(Clone, Default)]
struct Reserved(Arc<Mutex<HashMap<SocketAddr, (u64, Setup)>>>);

impl Reserved {
    /// Keeps `setup` for `addr` until it is taken or its time is out.
    fn keep(&self, addr: SocketAddr, setup: Setup) {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut kept) = self.0.lock() {
            kept.insert(addr, (n, setup));
        }
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(RESERVED_FOR).await;
            if let Ok(mut kept) = this.0.lock()
                && kept.get(&addr).is_some_and(|(m, _)| *m == n)
            {
                kept.remove(&addr);
            }
        });
    }

    fn take(&self, addr: SocketAddr) -> Option<Setup> {
        self.0.lock().ok()?.remove(&addr).map(|(_, setup)| setup)
    }
}

/// Waits for a setting-up place, at most [`AcceptLimits::wait_for_place`].
async fn take_place(places: &Arc<Semaphore>, limits: &AcceptLimits, from: Slot) -> Option<Setup> {
    let place = tokio::time::timeout(limits.wait_for_place, places.clone().acquire_owned())
        .await
        .ok()?
        .ok()?;
    Some(Setup {
        _place: place,
        until: Instant::now() + limits.setup_within,
        _from: from,
    })
}

/// Runs the handshake, until `until` at the latest.
async fn handshake(incoming: Incoming, until: Instant) -> Option<Connection> {
    let accepting = match incoming.accept() {
        Ok(accepting) => accepting,
        Err(e) => {
            tracing::debug!("incoming connection failed: {e}");
            return None;
        }
    };
    match tokio::time::timeout_at(until, accepting).await {
        Ok(Ok(conn)) => Some(conn),
        Ok(Err(e)) => {
            tracing::debug!("handshake failed: {e}");
            None
        }
        Err(_) => {
            tracing::debug!("handshake took too long");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_core::identity::{DeviceKeys, Seed};
    use hearth_core::sync::net::{NetConfig, bind_endpoint};
    use iroh::EndpointAddr;
    use std::sync::atomic::AtomicUsize;

    const ALPN: &[u8] = b"hearth/test-accept/0";

    async fn endpoint() -> Endpoint {
        endpoint_on([127, 0, 0, 1]).await
    }

    async fn endpoint_on(ip: [u8; 4]) -> Endpoint {
        let keys = DeviceKeys::derive(&Seed::generate()).unwrap();
        let net = NetConfig {
            bind: std::net::SocketAddr::from((ip, 0)),
            ..NetConfig::loopback()
        };
        bind_endpoint(keys.endpoint_key(), &net, vec![])
            .await
            .unwrap()
    }

    fn addr(ep: &Endpoint) -> EndpointAddr {
        EndpointAddr::new(ep.id()).with_ip_addr(ep.bound_sockets()[0])
    }

    /// Serves the test ALPN to anyone, within `limits`.
    async fn serve(limits: AcceptLimits, dispatch: Dispatch) -> Acceptor {
        let admit: Admit = Arc::new(|_| true);
        Acceptor::spawn(
            endpoint().await,
            vec![ALPN.to_vec()],
            limits,
            admit,
            dispatch,
        )
    }

    /// A server whose handler keeps its place for `hold`, counting how many hold one at
    /// once, then closes the connection with "done".
    async fn server(limits: AcceptLimits, hold: Duration) -> (Acceptor, Arc<AtomicUsize>) {
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let seen = most.clone();
        let dispatch: Dispatch = Arc::new(move |conn, setup| {
            let (now, most) = (now.clone(), most.clone());
            Box::pin(async move {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(hold).await;
                now.fetch_sub(1, Ordering::SeqCst);
                drop(setup);
                conn.close(0u32.into(), b"done");
                conn.closed().await;
            })
        });
        (serve(limits, dispatch).await, seen)
    }

    /// Dials and waits until the server ends the connection; Err if it never got in.
    async fn dial(to: EndpointAddr) -> Result<String, String> {
        dial_from([127, 0, 0, 1], to).await
    }

    async fn dial_from(ip: [u8; 4], to: EndpointAddr) -> Result<String, String> {
        let ep = endpoint_on(ip).await;
        let conn = ep.connect(to, ALPN).await.map_err(|e| e.to_string())?;
        let why = conn.closed().await.to_string();
        ep.close().await;
        Ok(why)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_storm_of_connections_is_set_up_a_few_at_a_time_and_every_one_is_served_after_a_retry()
     {
        let limits = AcceptLimits {
            setting_up: 2,
            ..AcceptLimits::default()
        };
        let (server, most) = server(limits, Duration::from_millis(150)).await;
        let to = addr(server.endpoint());
        let dials: Vec<_> = (0..8).map(|_| tokio::spawn(dial(to.clone()))).collect();
        for d in dials {
            let why = d.await.unwrap().expect("every dialer gets in");
            assert!(why.contains("done"), "{why}");
        }
        assert_eq!(most.load(Ordering::SeqCst), 2, "never more than 2 at once");
        // Those that waited were sent a Retry and got in with the place kept for them.
        assert!(server.retries_sent() > 0);
        server.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_place_held_past_the_setup_time_is_given_back_and_a_waiting_dialer_gets_in() {
        let limits = AcceptLimits {
            setting_up: 1,
            setup_within: Duration::from_millis(1500),
            wait_for_place: Duration::from_millis(300),
            ..AcceptLimits::default()
        };
        // The first connection's handler never says it is done with its place.
        let dispatch: Dispatch = Arc::new(|conn, setup| {
            Box::pin(async move {
                setup.hold_until(std::future::pending());
                conn.close(0u32.into(), b"done");
                conn.closed().await;
            })
        });
        let server = serve(limits, dispatch).await;
        let to = addr(server.endpoint());
        let t0 = Instant::now();
        dial(to.clone()).await.unwrap();
        // The second waits past `wait_for_place`, is ignored, dials its Initial again,
        // and is let in once the first's setup time is out.
        let why = dial(to).await.unwrap();
        assert!(why.contains("done"), "{why}");
        assert!(
            t0.elapsed() >= Duration::from_millis(1400),
            "{:?}",
            t0.elapsed()
        );
        server.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_waiting_bound_a_new_connection_is_refused_at_once() {
        let limits = AcceptLimits {
            setting_up: 1,
            max_waiting: 1,
            ..AcceptLimits::default()
        };
        let (server, _) = server(limits, Duration::from_secs(3)).await;
        let to = addr(server.endpoint());
        let first = tokio::spawn(dial(to.clone()));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let second = tokio::spawn(dial(to.clone()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t0 = Instant::now();
        let third = dial(to).await;
        assert!(third.is_err(), "{third:?}");
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        // The two before it are served.
        assert!(first.await.unwrap().unwrap().contains("done"));
        assert!(second.await.unwrap().unwrap().contains("done"));
        server.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_address_holds_at_most_its_share_of_places_and_another_still_gets_in() {
        let limits = AcceptLimits {
            setting_up: 4,
            per_address: 1,
            ..AcceptLimits::default()
        };
        let (server, _) = server(limits, Duration::from_secs(2)).await;
        let to = addr(server.endpoint());
        let first = tokio::spawn(dial(to.clone()));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t0 = Instant::now();
        let again = dial(to.clone()).await;
        assert!(again.is_err(), "{again:?}");
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
        let other = dial_from([127, 0, 0, 2], to).await.unwrap();
        assert!(other.contains("done"), "{other}");
        assert!(first.await.unwrap().unwrap().contains("done"));
        server.shutdown().await;
    }
}
