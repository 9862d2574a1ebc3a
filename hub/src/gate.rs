//! How many connections the hub holds at once: in all, per enrolled device, and per
//! network address on the pairing protocol (where nobody is authenticated yet). It
//! owns the counts and the passes that give a place back when a connection ends; it
//! does not decide who may sync (the blind store does) or what a connection may send
//! (`hearth_core::limits`).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::time::Instant;

use hearth_core::ids::DeviceId;

use crate::accept::AcceptLimits;
use crate::enrollment::AddrBuckets;
use hearth_core::limits::RECONCILE_DEADLINE;

/// Connections the hub holds in all (a member's devices, and enrollments).
pub const MAX_CONNECTIONS: usize = 4096;
/// Connections one device may hold at once (a reconnect can overlap the old one).
pub const MAX_PER_DEVICE: usize = 4;
/// Pairing connections one network address may hold at once.
pub const MAX_PAIRING_PER_ADDRESS: usize = 8;
/// New connections one network address may open: this many at once ...
pub const HANDSHAKE_BURST: u32 = 64;
/// ... then this many a second (checked before the handshake, so a flood of new
/// connections from one address costs the hub no TLS).
pub const HANDSHAKES_PER_SECOND: u32 = 32;
/// Addresses whose handshake rate is tracked at once.
const MAX_TRACKED: usize = 8192;

/// The hub's connection limits (`hearth-hub serve` options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubLimits {
    /// Connections in all.
    pub max_connections: usize,
    /// Connections per device.
    pub per_device: usize,
    /// Pairing connections per network address.
    pub pairing_per_address: usize,
    /// How long a connecting device has to finish reconciling.
    pub reconcile_within: Duration,
    /// New connections one address may open at once, then per second.
    pub handshakes: (u32, u32),
    /// How many connections are set up at once ([`crate::accept`]).
    pub accept: AcceptLimits,
}

impl Default for HubLimits {
    fn default() -> Self {
        HubLimits {
            max_connections: MAX_CONNECTIONS,
            per_device: MAX_PER_DEVICE,
            pairing_per_address: MAX_PAIRING_PER_ADDRESS,
            reconcile_within: RECONCILE_DEADLINE,
            handshakes: (HANDSHAKE_BURST, HANDSHAKES_PER_SECOND),
            accept: AcceptLimits::default(),
        }
    }
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Full {
    /// The hub holds as many connections as it may.
    #[error("the hub is busy: try again in a minute")]
    Hub,
    /// This device already holds as many as it may.
    #[error("too many connections from this device")]
    Device,
    /// This address already holds as many pairing connections as it may.
    #[error("too many enrollment attempts from this address")]
    Address,
}

/// Counts of open connections (or anything held) by some key, each under a limit.
pub(crate) struct Counts<K> {
    limit: usize,
    open: Mutex<HashMap<K, usize>>,
}

impl<K: Hash + Eq + Clone> Counts<K> {
    pub(crate) fn new(limit: usize) -> Self {
        Counts {
            limit,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one more under `key`, if it holds fewer than the limit.
    pub(crate) fn take(&self, key: &K) -> bool {
        let Ok(mut open) = self.open.lock() else {
            return false;
        };
        let n = open.entry(key.clone()).or_insert(0);
        if *n >= self.limit {
            return false;
        }
        *n += 1;
        true
    }

    /// Counts one less under `key`.
    pub(crate) fn give(&self, key: &K) {
        if let Ok(mut open) = self.open.lock()
            && let Some(n) = open.get_mut(key)
        {
            *n -= 1;
            if *n == 0 {
                open.remove(key);
            }
        }
    }
}

/// The hub's connection counts.
pub struct Gate {
    limits: HubLimits,
    total: Counts<()>,
    devices: Counts<DeviceId>,
    addresses: Counts<IpAddr>,
    handshakes: Mutex<AddrBuckets>,
}

/// What a connection was counted under.
enum Held {
    Device(DeviceId),
    Address(Option<IpAddr>),
}

/// An open connection's place, given back when dropped.
pub struct Pass {
    gate: Arc<Gate>,
    held: Held,
}

impl Drop for Pass {
    fn drop(&mut self) {
        self.gate.total.give(&());
        match &self.held {
            Held::Device(d) => self.gate.devices.give(d),
            Held::Address(Some(a)) => self.gate.addresses.give(a),
            Held::Address(None) => {}
        }
    }
}

impl Gate {
    /// A gate with these limits.
    pub fn new(limits: HubLimits) -> Arc<Self> {
        Arc::new(Gate {
            limits,
            total: Counts::new(limits.max_connections),
            devices: Counts::new(limits.per_device),
            addresses: Counts::new(limits.pairing_per_address),
            handshakes: Mutex::new(AddrBuckets::new(MAX_TRACKED)),
        })
    }

    /// Whether `address` may open one more connection now (its token bucket), checked
    /// before the handshake. Connections through a relay (no address) are not counted.
    pub fn admit_handshake(&self, address: Option<IpAddr>) -> bool {
        let Some(ip) = address else { return true };
        let (burst, per_second) = self.limits.handshakes;
        let Ok(mut buckets) = self.handshakes.lock() else {
            return false;
        };
        buckets.take(ip, burst, per_second.saturating_mul(60), Instant::now())
    }

    /// The limits.
    pub fn limits(&self) -> &HubLimits {
        &self.limits
    }

    /// Whether a new connection could be taken at all (checked before its handshake).
    pub fn has_room(&self) -> bool {
        self.total
            .open
            .lock()
            .map(|o| o.get(&()).copied().unwrap_or(0) < self.limits.max_connections)
            .unwrap_or(false)
    }

    /// A place for a sync connection from `device`.
    pub fn device(self: &Arc<Self>, device: DeviceId) -> Result<Pass, Full> {
        if !self.total.take(&()) {
            return Err(Full::Hub);
        }
        if !self.devices.take(&device) {
            self.total.give(&());
            return Err(Full::Device);
        }
        Ok(Pass {
            gate: self.clone(),
            held: Held::Device(device),
        })
    }

    /// A place for a pairing connection from `address` (`None`: through a relay).
    pub fn pairing(self: &Arc<Self>, address: Option<IpAddr>) -> Result<Pass, Full> {
        if !self.total.take(&()) {
            return Err(Full::Hub);
        }
        if let Some(a) = &address
            && !self.addresses.take(a)
        {
            self.total.give(&());
            return Err(Full::Address);
        }
        Ok(Pass {
            gate: self.clone(),
            held: Held::Address(address),
        })
    }
}

/// The IP address a connection comes from, if it is direct.
pub fn remote_ip(conn: &iroh::endpoint::Connection) -> Option<IpAddr> {
    let paths = conn.paths();
    let path = paths
        .iter()
        .find(|p| p.is_selected())
        .or_else(|| paths.iter().next())?;
    match path.remote_addr() {
        iroh::TransportAddr::Ip(addr) => Some(addr.ip()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> HubLimits {
        HubLimits {
            max_connections: 3,
            per_device: 2,
            pairing_per_address: 1,
            reconcile_within: RECONCILE_DEADLINE,
            handshakes: (2, 1),
            accept: AcceptLimits::default(),
        }
    }

    #[test]
    fn an_address_that_floods_new_connections_is_refused_and_others_are_not() {
        let gate = Gate::new(limits());
        let a: IpAddr = [10, 0, 0, 1].into();
        assert!(gate.admit_handshake(Some(a)));
        assert!(gate.admit_handshake(Some(a)));
        assert!(!gate.admit_handshake(Some(a)), "past its burst");
        assert!(gate.admit_handshake(Some([10, 0, 0, 2].into())));
        assert!(
            gate.admit_handshake(None),
            "a relay's connections are not counted here"
        );
    }

    #[test]
    fn a_device_holds_at_most_its_share_and_gets_it_back_when_a_connection_ends() {
        let gate = Gate::new(limits());
        let d = DeviceId([1; 32]);
        let a = gate.device(d).unwrap();
        let _b = gate.device(d).unwrap();
        assert_eq!(gate.device(d).err(), Some(Full::Device));
        drop(a);
        assert!(gate.device(d).is_ok());
    }

    #[test]
    fn the_hub_holds_at_most_its_total_whoever_asks() {
        let gate = Gate::new(limits());
        let ip: IpAddr = [10, 0, 0, 1].into();
        let _a = gate.device(DeviceId([1; 32])).unwrap();
        let _b = gate.device(DeviceId([2; 32])).unwrap();
        let c = gate.pairing(Some(ip)).unwrap();
        assert!(!gate.has_room());
        assert_eq!(gate.device(DeviceId([3; 32])).err(), Some(Full::Hub));
        assert_eq!(gate.pairing(None).err(), Some(Full::Hub));
        drop(c);
        assert!(gate.has_room());
    }

    #[test]
    fn one_address_holds_at_most_its_pairing_share() {
        let gate = Gate::new(limits());
        let ip: IpAddr = [10, 0, 0, 1].into();
        let _a = gate.pairing(Some(ip)).unwrap();
        assert_eq!(gate.pairing(Some(ip)).err(), Some(Full::Address));
        assert!(gate.pairing(Some([10, 0, 0, 2].into())).is_ok());
    }
}
