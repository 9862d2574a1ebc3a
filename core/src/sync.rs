//! The `hearth/sync/1` protocol: how two peers (a member's devices, or a device and
//! the center's hub) bring each other's copies of the documents they share up to date,
//! then keep them so live.
//!
//! * [`message`] — the versioned messages and their bounded, length-prefixed frames.
//! * [`session`] — the sans-IO state machine: summaries per doc, id lists only where
//!   they differ, the missing items sent, acknowledgements once stored.
//! * [`replica`] — what a side must offer the protocol: its docs, item ids and items,
//!   and a two-phase ingest (verify and apply now, make durable next) so a hub can
//!   forward before its fsync completes.
//! * [`live`] — the bounded, shared queue of live batches for one connection.
//! * [`net`] — the iroh adapter: endpoints with no internet, the `ProtocolHandler`,
//!   the dialer and the connection loop.
//!
//! Access control uses only the remote's TLS-authenticated device id.

pub mod live;
pub mod message;

pub mod net;
pub mod replica;
pub mod session;

pub use crate::item::{ItemId, SyncItem};
pub use message::{Message, Refusal, SYNC_ALPN, Summary};
pub use replica::{Checked, Replica};
pub use session::{Session, Step};

/// A sync failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// A frame or message could not be decoded.
    #[error("bad frame: {0}")]
    Frame(#[from] crate::wire::WireError),
    /// The peer broke the protocol.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The peer speaks another protocol version.
    #[error("peer speaks sync protocol version {0}, we speak {1}")]
    Version(u16, u16),
    /// The peer reported an error.
    #[error("peer: {0}")]
    Remote(String),
    /// The peer may not do that.
    #[error("denied: {0}")]
    Denied(String),
    /// Our side's storage failed.
    #[error("local: {0}")]
    Local(String),
    /// The connection failed.
    #[error("network: {0}")]
    Network(String),
    /// This side refuses what the peer sent for a doc, for a reason the peer is told
    /// in a [`Message::Refused`].
    #[error("{refusal}")]
    Refused {
        /// The doc.
        doc: crate::ids::DocId,
        /// Why.
        refusal: Refusal,
    },
    /// The peer refused what this side sent for a doc, and said why.
    #[error("{refusal}")]
    PeerRefused {
        /// The doc.
        doc: crate::ids::DocId,
        /// Why.
        refusal: Refusal,
    },
}
