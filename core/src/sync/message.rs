//! Sync messages and frames. A frame is a u32 little-endian length and that many
//! bytes of a postcard-encoded [`Message`]; the length is checked against
//! [`MAX_FRAME`] before anything is allocated, and a decode error ends the stream.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::SyncError;
use crate::access::Mark;
use crate::ids::{DeviceId, DocId};
use crate::item::{ItemId, SyncItem};
use crate::limits::{self, FrameRoom};
use crate::wire::{self, WireError};

/// The ALPN of the sync protocol.
pub const SYNC_ALPN: &[u8] = b"hearth/sync/1";
/// The protocol version inside [`Message::Hello`] (2: [`Message::Witness`]).
pub const PROTOCOL_VERSION: u16 = 2;
/// What a message adds around its items: the variant, the doc id, lengths, flags.
const MESSAGE_OVERHEAD: usize = 64;
/// The largest frame accepted: one message carrying the largest valid bundle.
pub const MAX_FRAME: usize = crate::bundle::MAX_BUNDLE + MESSAGE_OVERHEAD;
/// Items are sent in messages of at most this many bytes (an item larger than this
/// goes alone).
pub const CHUNK_BYTES: usize = 4 << 20;
/// The most items one `Items` or `Push` message carries.
pub const MAX_ITEMS: usize = 4096;
/// The most documents one hello may list: a device shares its journal and a few
/// docs with a peer (shares, sign-ups), never thousands.
pub const MAX_DOCS: usize = 1024;
/// The most hubs one [`Message::Witness`] may speak of (a member uses a center's hub
/// or two).
pub const MAX_WITNESS_HUBS: usize = 16;
/// The most authors one hub's [`Witness`] may list (a journal's writers are a
/// member's devices and the few people it shares with).
pub const MAX_WITNESS_AUTHORS: usize = 1024;

/// What a device saw a hub hold of a doc when it last reconciled with it, told to
/// the member's other devices when they meet directly: a device the hub gave less, at
/// a later reconciliation, than the other had stored there can tell the hub withheld
/// it (DESIGN §4, THREATS 7).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Witness {
    /// The hub.
    pub hub: DeviceId,
    /// When the reconciliation ended, by the telling device's clock (ms).
    pub at_ms: u64,
    /// How many access records the hub held then.
    pub acl_len: u32,
    /// Each author's newest entry the hub held then.
    pub frontier: Vec<(DeviceId, Mark)>,
}

/// A compact description of one side's copy of a doc: equal summaries mean equal
/// copies, and that doc's sync ends at once.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// The doc.
    pub doc: DocId,
    /// How many items are held.
    pub count: u32,
    /// BLAKE3 over the sorted item ids.
    pub digest: [u8; 32],
    /// How many ACL records are held.
    pub acl_len: u32,
}

impl Summary {
    /// The summary of a set of item ids (sorted here).
    pub fn of(doc: DocId, ids: &mut [ItemId], acl_len: usize) -> Self {
        ids.sort_unstable();
        let mut h = blake3::Hasher::new();
        for id in ids.iter() {
            h.update(&id.0);
        }
        Summary {
            doc,
            count: ids.len() as u32,
            digest: *h.finalize().as_bytes(),
            acl_len: acl_len as u32,
        }
    }
}

/// One message of the sync protocol.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Message {
    /// First message each way: the protocol version and a summary of every doc the
    /// sender will sync with this peer.
    Hello {
        /// [`PROTOCOL_VERSION`].
        version: u16,
        /// One summary per doc.
        docs: Vec<Summary>,
    },
    /// "My copy differs (or I have none): these are the ids I hold."
    Ids {
        /// The doc.
        doc: DocId,
        /// Every item id held.
        ids: Vec<ItemId>,
    },
    /// "I will not take this doc from you."
    Decline {
        /// The doc.
        doc: DocId,
    },
    /// Items the peer lacks; `last` ends the reply for that doc.
    Items {
        /// The doc.
        doc: DocId,
        /// The items.
        items: Vec<SyncItem>,
        /// Whether this is the last chunk.
        last: bool,
    },
    /// Live: new items, sent as they are made or arrive.
    Push {
        /// The doc.
        doc: DocId,
        /// The items.
        items: Vec<SyncItem>,
    },
    /// The items of a reply or push are durably stored (or were already held).
    Ack {
        /// The doc.
        doc: DocId,
        /// How many items were new.
        stored: u32,
        /// Whether this acknowledges a reconciliation reply (`Items` with `last`).
        reconcile: bool,
    },
    /// The sender is closing the stream because of this error.
    Error {
        /// Why.
        reason: String,
    },
    /// The sender stored nothing of what the peer last sent for `doc`, for a reason the
    /// peer can act on (and show its member), then ends the stream. Fixed-size: a
    /// refusal costs no allocation to read.
    Refused {
        /// The doc.
        doc: DocId,
        /// Why, typed.
        refusal: Refusal,
    },
    /// Between a member's own devices, once per doc after hello: what each hub held
    /// of it when the sender last reconciled with it.
    Witness {
        /// The doc.
        doc: DocId,
        /// One per hub, at most [`MAX_WITNESS_HUBS`].
        hubs: Vec<Witness>,
    },
}

/// Why a side refused a push or a reply: reasons a member's device can tell apart
/// from a broken connection and put in plain words.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Refusal {
    /// The hub's storage quota for the member this document is charged to (its
    /// journal and shares) is used up; nothing of the push was stored.
    QuotaExceeded {
        /// Bytes the hub stores for the member now.
        used_bytes: u64,
        /// The most it stores for one member.
        limit_bytes: u64,
    },
}

/// Bytes for people: megabytes (2^20), with one decimal when not whole; kilobytes
/// under one megabyte.
fn megabytes(bytes: u64) -> String {
    let mb = bytes as f64 / (1u64 << 20) as f64;
    if bytes < 1 << 20 {
        format!("{} KB", bytes.div_ceil(1 << 10))
    } else if bytes.is_multiple_of(1 << 20) {
        format!("{mb:.0} MB")
    } else {
        format!("{mb:.1} MB")
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::QuotaExceeded {
                used_bytes,
                limit_bytes,
            } => write!(
                f,
                "the center's hub is full for your documents: {} used of {}; nothing new was stored there (it is safe on this device). Ask the center's staff for more room",
                megabytes(*used_bytes),
                megabytes(*limit_bytes)
            ),
        }
    }
}

/// Encodes a value as one frame: a u32 length and its postcard bytes.
pub fn frame<T: Serialize>(value: &T) -> Vec<u8> {
    let body = wire::to_postcard(value);
    let mut out = Vec::with_capacity(body.len() + 4);
    wire::put_sized(&mut out, &body);
    out
}

/// Writes one message.
pub async fn write_message<W: AsyncWrite + Unpin>(
    w: &mut W,
    msg: &Message,
) -> Result<(), SyncError> {
    write_frame(w, msg).await
}

/// Writes any value as one frame.
pub async fn write_frame<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    value: &T,
) -> Result<(), SyncError> {
    w.write_all(&frame(value))
        .await
        .map_err(|e| SyncError::Network(e.to_string()))
}

/// Sends `req` on a fresh stream of `conn`, finishes its side, and reads the one
/// answer (at most `max` bytes), or `None` when the peer closed without answering.
/// Request-and-answer protocols (pairing, centers) share it.
pub async fn exchange<Req: Serialize, Ans: DeserializeOwned>(
    conn: &iroh::endpoint::Connection,
    req: &Req,
    max: usize,
    what: &'static str,
) -> Result<Option<Ans>, SyncError> {
    let (mut send, mut recv) = conn
        .open_bi()
        .await
        .map_err(|e| SyncError::Network(e.to_string()))?;
    write_frame(&mut send, req).await?;
    send.finish()
        .map_err(|e| SyncError::Network(e.to_string()))?;
    read_frame::<_, Ans>(&mut recv, max, what).await
}

/// Reads one message, or `None` at a clean end of stream. The length is checked
/// before the body is allocated.
pub async fn read_message<R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<Message>, SyncError> {
    read_frame(r, MAX_FRAME, "sync message").await
}

/// [`read_message`], with the frame's room in the process-wide budget
/// ([`limits::FRAME_BUDGET`]): hold it until the message is handled.
pub async fn read_message_held<R: AsyncRead + Unpin>(
    r: &mut R,
) -> Result<Option<(Message, FrameRoom)>, SyncError> {
    read_frame_held(r, MAX_FRAME, "sync message").await
}

/// Reads one frame of at most `max` bytes holding a `T`, or `None` at a clean end of
/// stream.
pub async fn read_frame<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
    max: usize,
    what: &'static str,
) -> Result<Option<T>, SyncError> {
    Ok(read_frame_held(r, max, what).await?.map(|(value, _)| value))
}

/// [`read_frame`], keeping the frame's room in the budget. The length is checked
/// against `max`, then room for it is taken, and only then is the body allocated.
pub async fn read_frame_held<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
    max: usize,
    what: &'static str,
) -> Result<Option<(T, FrameRoom)>, SyncError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(SyncError::Network(e.to_string())),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > max {
        return Err(WireError::TooLarge { what, len, max }.into());
    }
    // The body, and for a moment its decoded copy: room for both.
    let room = limits::frame_room((2 * len).min(limits::FRAME_BUDGET))
        .await
        .map_err(|e| SyncError::Network(e.to_string()))?;
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)
        .await
        .map_err(|e| SyncError::Network(format!("frame cut short: {e}")))?;
    let (value, rest) =
        postcard::take_from_bytes::<T>(&body).map_err(|e| WireError::Malformed {
            what,
            reason: e.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(WireError::Trailing(rest.len()).into());
    }
    Ok(Some((value, room)))
}

/// Splits items into messages of at most [`CHUNK_BYTES`] and [`MAX_ITEMS`] (an item
/// larger than a chunk goes alone), the last marked `last` (always at least one
/// message, so an empty reply still ends the doc). Every message fits a frame.
pub fn chunk_items(doc: DocId, items: Vec<SyncItem>) -> Vec<Message> {
    let mut out = Vec::new();
    let mut chunk = Vec::new();
    let mut size = 0;
    for item in items {
        let len = item.bytes().len();
        if !chunk.is_empty() && (size + len > CHUNK_BYTES || chunk.len() == MAX_ITEMS) {
            out.push(Message::Items {
                doc,
                items: std::mem::take(&mut chunk),
                last: false,
            });
            size = 0;
        }
        size += len;
        chunk.push(item);
    }
    out.push(Message::Items {
        doc,
        items: chunk,
        last: true,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_oversize_is_refused_before_allocating() {
        let msg = Message::Push {
            doc: DocId([1; 16]),
            items: vec![SyncItem::Bundle(vec![1, 2, 3])],
        };
        let frame = frame(&msg);
        let mut r = frame.as_slice();
        assert_eq!(read_message(&mut r).await.unwrap(), Some(msg));
        assert_eq!(read_message(&mut r).await.unwrap(), None);

        let huge = (u32::MAX).to_le_bytes();
        let mut r = huge.as_slice();
        assert!(matches!(
            read_message(&mut r).await,
            Err(SyncError::Frame(WireError::TooLarge { .. }))
        ));

        let mut garbage = Vec::new();
        wire::put_sized(&mut garbage, &[0xff; 10]);
        let mut r = garbage.as_slice();
        assert!(matches!(
            read_message(&mut r).await,
            Err(SyncError::Frame(_))
        ));

        let mut cut = frame.clone();
        cut.truncate(frame.len() - 1);
        let mut r = cut.as_slice();
        assert!(read_message(&mut r).await.is_err());
    }

    #[tokio::test]
    async fn a_refusal_round_trips_and_reads_as_one_line() {
        let msg = Message::Refused {
            doc: DocId([2; 16]),
            refusal: Refusal::QuotaExceeded {
                used_bytes: 255 << 20,
                limit_bytes: 256 << 20,
            },
        };
        let frame = frame(&msg);
        assert!(frame.len() < 64, "a refusal is small and fixed-size");
        let mut r = frame.as_slice();
        assert_eq!(read_message(&mut r).await.unwrap(), Some(msg.clone()));
        let Message::Refused { refusal, .. } = msg else {
            unreachable!()
        };
        let line = refusal.to_string();
        assert!(!line.contains('\n'));
        assert!(line.contains("255 MB used of 256 MB"), "{line}");
        let small = Refusal::QuotaExceeded {
            used_bytes: 1500,
            limit_bytes: 3 << 19,
        };
        assert!(small.to_string().contains("2 KB used of 1.5 MB"), "{small}");
    }

    #[test]
    fn chunks_end_with_last() {
        let doc = DocId([1; 16]);
        let msgs = chunk_items(doc, vec![]);
        assert_eq!(
            msgs,
            vec![Message::Items {
                doc,
                items: vec![],
                last: true
            }]
        );
        let big = vec![SyncItem::Bundle(vec![0; CHUNK_BYTES]); 3];
        let msgs = chunk_items(doc, big);
        assert_eq!(msgs.len(), 3);
        assert!(matches!(
            msgs.last(),
            Some(Message::Items { last: true, .. })
        ));
    }

    #[test]
    fn no_chunk_overshoots_and_the_largest_bundle_fits_one_frame() {
        let doc = DocId([1; 16]);
        // Many small items after a nearly full chunk: the old rule added the item that
        // crossed the limit, so a chunk could reach 4 MiB plus a whole snapshot.
        let mut items = vec![SyncItem::Bundle(vec![0; CHUNK_BYTES - 10])];
        items.push(SyncItem::Bundle(vec![0; crate::bundle::MAX_BUNDLE]));
        items.extend(vec![SyncItem::Acl(vec![1; 10]); MAX_ITEMS + 5]);
        let msgs = chunk_items(doc, items);
        for m in &msgs {
            let Message::Items { items, .. } = m else {
                panic!("only items")
            };
            assert!(items.len() <= MAX_ITEMS);
            let size: usize = items.iter().map(|i| i.bytes().len()).sum();
            assert!(items.len() == 1 || size <= CHUNK_BYTES, "{size}");
            assert!(frame(m).len() <= MAX_FRAME + 4, "{} bytes", frame(m).len());
        }
        assert_eq!(msgs.len(), 4);
    }
}
