//! `hearth/pair/1`: joining another of the member's devices, and enrolling at a
//! center. The inviting side prints a ticket — its address, a secret and an expiry —
//! as text and as a QR code; the joining side connects and proves the secret. A
//! device invite is one-time, and a secret alone is not enough: both devices show the
//! same short code (from both device ids and the secret) and the inviting device adds
//! the newcomer only once the member confirms the codes match, so a photographed QR
//! code lets nobody in. A center's enrollment ticket serves many members until it
//! expires. Neither asks for a name: the hub knows devices only by their keys.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use iroh::EndpointAddr;
use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::ids::{DeviceId, DocId};
use crate::item::SyncItem;
use crate::sync::SyncError;
use crate::sync::message::{exchange, read_frame, write_frame};

/// The ALPN of the pairing protocol.
pub const PAIR_ALPN: &[u8] = b"hearth/pair/1";
const TICKET_PREFIX: &str = "hearth";
const MAX_PAIR_FRAME: usize = crate::sync::message::MAX_FRAME;
/// The largest pairing request read (a secret and a recipient).
const MAX_REQUEST: usize = 64 << 10;
/// How long the inviting device (or the hub) waits for the request once a peer
/// connects, and for the peer to read the answer.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long the member has to compare the codes and confirm.
pub const CONFIRM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(180);

/// The short code both devices show while pairing: six digits from both device ids
/// and the invite's secret. The member confirms on the inviting device that the
/// joining one shows the same; a device that photographed the QR code shows another.
pub fn confirmation_code(inviter: &DeviceId, joiner: &DeviceId, secret: &[u8; 32]) -> String {
    let mut h = blake3::Hasher::new_derive_key("hearth 2026-11 pairing code v1");
    h.update(inviter.as_bytes());
    h.update(joiner.as_bytes());
    h.update(secret);
    let mut n = [0u8; 8];
    n.copy_from_slice(&h.finalize().as_bytes()[..8]);
    let code = u64::from_le_bytes(n) % 1_000_000;
    format!("{:03} {:03}", code / 1000, code % 1000)
}

/// What a ticket invites to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InviteKind {
    /// Become one more device of the inviting member.
    Device,
    /// Enroll at a center's hub.
    Center,
}

/// A pairing or enrollment ticket.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// What it invites to.
    pub kind: InviteKind,
    /// Where to connect.
    pub addr: EndpointAddr,
    /// The secret the joining side proves.
    pub secret: [u8; 32],
    /// When it stops working, ms since the Unix epoch (`0` = never).
    pub expires_at_ms: u64,
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("kind", &self.kind)
            .field("addr", &self.addr)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// A ticket string could not be read.
#[derive(Debug, thiserror::Error)]
#[error("not a Hearth ticket: {0}")]
pub struct TicketError(String);

impl Ticket {
    /// A new ticket for `addr` with a fresh secret.
    pub fn new(kind: InviteKind, addr: EndpointAddr, expires_at_ms: u64) -> Self {
        Ticket {
            kind,
            addr,
            secret: crypto::random_bytes(),
            expires_at_ms,
        }
    }

    /// The ticket as a QR code drawn with Unicode half blocks.
    pub fn qr(&self) -> String {
        crate::wire::qr(&self.to_string())
    }

    /// Whether `secret` is this ticket's and it has not expired.
    pub fn admits(&self, secret: &[u8; 32], now_ms: u64) -> bool {
        let same = blake3::hash(secret) == blake3::hash(&self.secret);
        same && (self.expires_at_ms == 0 || now_ms <= self.expires_at_ms)
    }
}

impl fmt::Display for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = crate::wire::to_postcard(self);
        f.write_str(&crate::wire::to_text(TICKET_PREFIX, &bytes))
    }
}

impl FromStr for Ticket {
    type Err = TicketError;
    fn from_str(s: &str) -> Result<Self, TicketError> {
        let bytes = crate::wire::from_text(TICKET_PREFIX, s).map_err(TicketError)?;
        let (ticket, rest) = postcard::take_from_bytes::<Ticket>(&bytes)
            .map_err(|e| TicketError(format!("bad contents ({e})")))?;
        if !rest.is_empty() {
            return Err(TicketError("trailing bytes".into()));
        }
        Ok(ticket)
    }
}

/// What a joining or enrolling device sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum PairRequest {
    /// Join the inviting member's vault as one more device.
    Join {
        /// The ticket's secret.
        secret: [u8; 32],
        /// This device's age recipient.
        recipient: String,
    },
    /// Enroll at the center.
    Enroll {
        /// The ticket's secret.
        secret: [u8; 32],
    },
}

/// A peer a device remembers, with where it was last reachable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerAddr {
    /// Whether it is a hub or one of the member's devices.
    pub hub: bool,
    /// Its address.
    pub addr: EndpointAddr,
}

/// What the inviting side answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum PairResponse {
    /// Joined: the journal's id and everything needed to open it, and the peers the
    /// inviting device syncs with.
    Joined {
        /// The journal.
        journal: DocId,
        /// Its ACL records, envelopes and bundles.
        items: Vec<SyncItem>,
        /// Hubs and devices to sync with.
        peers: Vec<PeerAddr>,
    },
    /// Enrolled at the center.
    Enrolled {
        /// The hub's device id.
        hub: DeviceId,
        /// The hub's age recipient (recorded in the ACL; the hub never gets a key).
        recipient: String,
    },
    /// Refused, with why.
    Refused {
        /// Why.
        reason: String,
    },
}

/// Sends a request over a fresh stream and reads the answer (which, for a device
/// invite, waits for the member to confirm the code on the inviting device).
pub async fn request(
    conn: &iroh::endpoint::Connection,
    req: &PairRequest,
) -> Result<PairResponse, SyncError> {
    let answer = exchange::<_, PairResponse>(conn, req, MAX_PAIR_FRAME, "pairing response");
    tokio::time::timeout(CONFIRM_TIMEOUT + REQUEST_TIMEOUT, answer)
        .await
        .map_err(|_| SyncError::Network("no answer from the inviting device".into()))??
        .ok_or_else(|| SyncError::Network("the inviting device closed without answering".into()))
}

/// Reads a request on an accepted connection's first stream (within a deadline);
/// answers with what `answer` resolves to.
pub async fn serve<F, Fut>(conn: iroh::endpoint::Connection, answer: F) -> Result<(), SyncError>
where
    F: FnOnce(DeviceId, PairRequest) -> Fut,
    Fut: std::future::Future<Output = PairResponse>,
{
    let peer = DeviceId::from(conn.remote_id());
    crate::limits::narrow_for_requests(&conn);
    let (mut send, mut recv) = tokio::time::timeout(REQUEST_TIMEOUT, conn.accept_bi())
        .await
        .map_err(|_| SyncError::Network("no pairing request in time".into()))?
        .map_err(|e| SyncError::Network(e.to_string()))?;
    let req = tokio::time::timeout(
        REQUEST_TIMEOUT,
        read_frame::<_, PairRequest>(&mut recv, MAX_REQUEST, "pairing request"),
    )
    .await
    .unwrap_or_else(|_| {
        Err(SyncError::Network(
            "the pairing request came too slowly".into(),
        ))
    });
    let resp = match req {
        Ok(Some(req)) => answer(peer, req).await,
        Ok(None) => PairResponse::Refused {
            reason: "empty request".into(),
        },
        Err(e) => PairResponse::Refused {
            reason: e.to_string(),
        },
    };
    // A peer that does not read its answer holds nothing here for long.
    tokio::time::timeout(REQUEST_TIMEOUT, write_frame(&mut send, &resp))
        .await
        .map_err(|_| SyncError::Network("the pairing answer was not read in time".into()))??;
    send.finish()
        .map_err(|e| SyncError::Network(e.to_string()))?;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), conn.closed()).await;
    Ok(())
}

/// A one-time device invite being held open.
#[derive(Debug)]
pub struct PendingInvite {
    ticket: Ticket,
    used: Mutex<bool>,
}

impl PendingInvite {
    /// Holds `ticket` open for one use.
    pub fn new(ticket: Ticket) -> Self {
        PendingInvite {
            ticket,
            used: Mutex::new(false),
        }
    }

    /// The ticket.
    pub fn ticket(&self) -> &Ticket {
        &self.ticket
    }

    /// Takes the invite if `secret` matches, it has not expired and was not used.
    pub fn take(&self, secret: &[u8; 32]) -> Result<(), String> {
        if !self.ticket.admits(secret, crate::wire::now_ms()) {
            return Err("wrong or expired invite".into());
        }
        let mut used = self
            .used
            .lock()
            .map_err(|_| "invite lock poisoned".to_owned())?;
        if *used {
            return Err("this invite was already used".into());
        }
        *used = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_round_trip_and_junk_is_refused() {
        let key = iroh::SecretKey::from_bytes(&[5; 32]);
        let addr = EndpointAddr::new(key.public()).with_ip_addr("127.0.0.1:4433".parse().unwrap());
        let t = Ticket::new(InviteKind::Device, addr, 0);
        let text = t.to_string();
        assert!(text.starts_with("hearth"));
        assert_eq!(text.parse::<Ticket>().unwrap(), t);
        assert_eq!(text.to_uppercase().parse::<Ticket>().unwrap(), t);
        assert!(!t.qr().is_empty());
        for bad in ["", "hearth", "hearthzzzz", "nope", &text[..text.len() - 3]] {
            assert!(bad.parse::<Ticket>().is_err(), "{bad}");
        }
        assert!(t.admits(&t.secret, 1));
        assert!(!t.admits(&[0; 32], 1));
        let expired = Ticket {
            expires_at_ms: 10,
            ..t.clone()
        };
        assert!(!expired.admits(&t.secret, 11));
        let (a, b) = (DeviceId([1; 32]), DeviceId([2; 32]));
        let code = confirmation_code(&a, &b, &t.secret);
        assert_eq!(code.len(), 7);
        assert_eq!(code, confirmation_code(&a, &b, &t.secret));
        assert_ne!(code, confirmation_code(&a, &DeviceId([3; 32]), &t.secret));
        let invite = PendingInvite::new(t.clone());
        assert!(invite.take(&[1; 32]).is_err());
        invite.take(&t.secret).unwrap();
        assert!(
            invite.take(&t.secret).is_err(),
            "a device invite is one-time"
        );
    }
}
