//! Enrollment at the center, under the staff's control: the ticket file (its secret,
//! optional expiry and rotation), and the rate limits every enrollment attempt passes
//! before anything else is done for it. It decides whether an attempt is answered; it
//! does not speak the pairing protocol (`hearth_core::pairing`) nor store who enrolled
//! (`hearth_core::blind`).
//!
//! The ticket file is the one source of truth: a serving hub reads it again for every
//! enrollment attempt that passes the rate limits (a few hundred bytes), so
//! `hearth-hub ticket --rotate`, run while the hub serves, stops the old ticket at once
//! with no signal or restart. A file that cannot be read refuses every enrollment
//! (fail closed); devices already enrolled keep syncing, because sync never asks for
//! the ticket.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use hearth_core::pairing::{InviteKind, Ticket};

/// The current enrollment ticket's file inside the hub's home (mode 0600).
pub const TICKET_FILE: &str = "ticket";

/// Enrollment attempts the hub answers, all addresses together: a burst, then a
/// steady rate. A room of members enrolling at a welcome session fits in the burst.
pub const ENROLL_BURST_TOTAL: u32 = 60;
/// The steady rate of enrollment attempts, all addresses together.
pub const ENROLL_PER_MINUTE_TOTAL: u32 = 60;
/// Enrollment attempts answered from one IP address: a burst, then a steady rate, so
/// one address cannot use up what the whole center shares.
pub const ENROLL_BURST_PER_ADDR: u32 = 10;
/// The steady rate of enrollment attempts from one IP address.
pub const ENROLL_PER_MINUTE_PER_ADDR: u32 = 10;
/// The most addresses whose attempts are remembered; past it, addresses whose bucket
/// has refilled are forgotten, and if none has, attempts from new addresses wait.
pub const MAX_TRACKED_ADDRS: usize = 4096;

/// How many enrollment attempts are answered, overall and per address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnrollLimits {
    /// Burst, all addresses together.
    pub burst_total: u32,
    /// Steady rate per minute, all addresses together.
    pub per_minute_total: u32,
    /// Burst from one address.
    pub burst_per_addr: u32,
    /// Steady rate per minute from one address.
    pub per_minute_per_addr: u32,
}

impl EnrollLimits {
    /// `total` attempts at once and a minute for the whole hub, `per_addr` at once and
    /// a minute from one address (what `serve --enroll-limit` sets).
    pub fn per_minute(total: u32, per_addr: u32) -> Self {
        EnrollLimits {
            burst_total: total,
            per_minute_total: total,
            burst_per_addr: per_addr,
            per_minute_per_addr: per_addr,
        }
    }
}

impl Default for EnrollLimits {
    fn default() -> Self {
        EnrollLimits {
            burst_total: ENROLL_BURST_TOTAL,
            per_minute_total: ENROLL_PER_MINUTE_TOTAL,
            burst_per_addr: ENROLL_BURST_PER_ADDR,
            per_minute_per_addr: ENROLL_PER_MINUTE_PER_ADDR,
        }
    }
}

/// Why an enrollment attempt was turned away, as the enrolling device is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnrollRefusal {
    /// Too many attempts, from this address or at this center, right now.
    #[error("too many enrollments at this center right now; try again in a minute")]
    TooMany,
    /// The secret is not the current ticket's (never was, or the staff replaced it).
    #[error(
        "this enrollment ticket is not valid here (the center may have replaced it): ask the center's staff for the current one"
    )]
    WrongTicket,
    /// The secret is the current ticket's, but it has expired.
    #[error("this enrollment ticket has expired: ask the center's staff for the current one")]
    Expired,
    /// The hub cannot read its own ticket: nobody enrolls until the staff fix it.
    #[error("the center's hub cannot enroll devices right now: ask the center's staff")]
    NoTicket,
}

/// One token bucket: `capacity` tokens, refilled at `per_minute`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Takes one token, if there is one.
    pub(crate) fn take(&mut self) -> bool {
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }

    pub(crate) fn full(capacity: u32, now: Instant) -> Self {
        Bucket {
            tokens: f64::from(capacity),
            at: now,
        }
    }

    pub(crate) fn refill(&mut self, capacity: u32, per_minute: u32, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens =
            (self.tokens + elapsed * f64::from(per_minute) / 60.0).min(f64::from(capacity));
        self.at = now;
    }

    pub(crate) fn is_full(&self, capacity: u32) -> bool {
        self.tokens >= f64::from(capacity)
    }
}

/// One token bucket per remote address, tracking at most `max` addresses: when full,
/// addresses whose bucket has refilled are forgotten; if none has, a new address is
/// refused (a flood of fresh addresses cannot grow the map).
#[derive(Debug)]
pub(crate) struct AddrBuckets {
    max: usize,
    map: HashMap<IpAddr, Bucket>,
}

impl AddrBuckets {
    pub(crate) fn new(max: usize) -> Self {
        AddrBuckets {
            max,
            map: HashMap::new(),
        }
    }

    /// Takes one token from `ip`'s bucket (`burst` at once, `per_minute` after), or
    /// says there is none.
    pub(crate) fn take(&mut self, ip: IpAddr, burst: u32, per_minute: u32, now: Instant) -> bool {
        if !self.map.contains_key(&ip) && self.map.len() >= self.max {
            self.map.retain(|_, b| {
                b.refill(burst, per_minute, now);
                !b.is_full(burst)
            });
            if self.map.len() >= self.max {
                return false;
            }
        }
        let bucket = self
            .map
            .entry(ip)
            .or_insert_with(|| Bucket::full(burst, now));
        bucket.refill(burst, per_minute, now);
        bucket.take()
    }
}

/// Token buckets for enrollment attempts: one for the hub, one per remote IP address
/// (attempts through a relay, whose address the hub does not see, share the hub's).
#[derive(Debug)]
pub struct EnrollLimiter {
    limits: EnrollLimits,
    total: Bucket,
    per_addr: AddrBuckets,
}

impl EnrollLimiter {
    /// A limiter with full buckets.
    pub fn new(limits: EnrollLimits) -> Self {
        EnrollLimiter {
            limits,
            total: Bucket::full(limits.burst_total, Instant::now()),
            per_addr: AddrBuckets::new(MAX_TRACKED_ADDRS),
        }
    }

    /// Takes one attempt from `addr`'s bucket and the hub's, or refuses it (taking
    /// nothing from either).
    pub fn admit(&mut self, addr: Option<IpAddr>, now: Instant) -> Result<(), EnrollRefusal> {
        let l = self.limits;
        self.total.refill(l.burst_total, l.per_minute_total, now);
        if self.total.tokens < 1.0 {
            return Err(EnrollRefusal::TooMany);
        }
        if let Some(ip) = addr
            && !self
                .per_addr
                .take(ip, l.burst_per_addr, l.per_minute_per_addr, now)
        {
            return Err(EnrollRefusal::TooMany);
        }
        self.total.tokens -= 1.0;
        Ok(())
    }
}

/// Whether `secret` enrolls with the ticket in `home` at `now_ms` (the file is read
/// now, so a rotation takes effect at once).
pub fn check_secret(home: &Path, secret: &[u8; 32], now_ms: u64) -> Result<(), EnrollRefusal> {
    let ticket = read_ticket(home).map_err(|e| {
        tracing::warn!("enrollment refused: {e:#}");
        EnrollRefusal::NoTicket
    })?;
    if ticket.admits(secret, now_ms) {
        Ok(())
    } else if ticket.admits(secret, 0) {
        Err(EnrollRefusal::Expired)
    } else {
        Err(EnrollRefusal::WrongTicket)
    }
}

/// The hub's current ticket, as last written by `serve` or `ticket --rotate`.
pub fn read_ticket(home: &Path) -> anyhow::Result<Ticket> {
    use anyhow::Context;
    let path = home.join(TICKET_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no ticket in {} (start the hub with `hearth-hub serve` first)",
            home.display()
        )
    })?;
    Ok(text.trim().parse()?)
}

/// Writes the ticket file atomically (mode 0600).
pub fn write_ticket(home: &Path, ticket: &Ticket) -> anyhow::Result<()> {
    write_private(&home.join(TICKET_FILE), ticket.to_string().as_bytes())
}

/// Replaces the ticket in `home` with one with a fresh secret, at the same address,
/// expiring after `expires` (never, without). Works while the hub serves: the old
/// ticket enrolls nobody from the moment the file is replaced.
pub fn rotate_ticket(home: &Path, expires: Option<Duration>) -> anyhow::Result<Ticket> {
    let old = read_ticket(home)?;
    let ticket = Ticket::new(InviteKind::Center, old.addr, expiry_ms(expires));
    write_ticket(home, &ticket)?;
    Ok(ticket)
}

/// The expiry, in ms since the Unix epoch, of a ticket made now that lasts `expires`
/// (`0`, never, without).
pub fn expiry_ms(expires: Option<Duration>) -> u64 {
    expires.map_or(0, |d| {
        hearth_core::wire::now_ms().saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    })
}

/// Reads a duration as the staff type it: a number and a unit, `d` (days), `h`
/// (hours), `m` (minutes) or `s` (seconds): `7d`, `12h`, `90m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not a duration (like 7d, 12h, 30m or 45s)");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "d" => n.checked_mul(86_400),
        "h" => n.checked_mul(3_600),
        "m" => n.checked_mul(60),
        "s" => Some(n),
        _ => None,
    }
    .ok_or_else(bad)?;
    if seconds == 0 {
        return Err(format!("{text:?} is no time at all"));
    }
    Ok(Duration::from_secs(seconds))
}

/// Writes a small private file atomically (mode 0600): a temporary file of this
/// process's own, then a rename.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations_read_as_staff_type_them() {
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(
            parse_duration("12h").unwrap(),
            Duration::from_secs(12 * 3_600)
        );
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1_800));
        assert_eq!(parse_duration("45s").unwrap(), Duration::from_secs(45));
        for bad in [
            "",
            "7",
            "d",
            "7w",
            "-1d",
            "0d",
            "99999999999999999999d",
            "1.5h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn one_address_cannot_use_up_the_centers_enrollments() {
        let limits = EnrollLimits::default();
        let mut l = EnrollLimiter::new(limits);
        let now = Instant::now();
        let noisy: IpAddr = [10, 0, 0, 66].into();
        for _ in 0..limits.burst_per_addr {
            l.admit(Some(noisy), now).unwrap();
        }
        assert_eq!(l.admit(Some(noisy), now), Err(EnrollRefusal::TooMany));
        // Another address still enrolls at once ...
        l.admit(Some([10, 0, 0, 7].into()), now).unwrap();
        // ... and the noisy one again after its bucket refills.
        let later = now + Duration::from_secs(60 / u64::from(limits.per_minute_per_addr) + 1);
        l.admit(Some(noisy), later).unwrap();
    }

    #[test]
    fn the_centers_bucket_bounds_every_address_together() {
        let limits = EnrollLimits {
            burst_total: 3,
            per_minute_total: 1,
            ..EnrollLimits::default()
        };
        let mut l = EnrollLimiter::new(limits);
        let now = Instant::now();
        for i in 0..3u8 {
            l.admit(Some([10, 0, 1, i].into()), now).unwrap();
        }
        assert_eq!(
            l.admit(Some([10, 0, 1, 9].into()), now),
            Err(EnrollRefusal::TooMany)
        );
        assert_eq!(l.admit(None, now), Err(EnrollRefusal::TooMany));
    }
}
