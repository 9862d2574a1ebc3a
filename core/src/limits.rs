//! Every bound Hearth puts on what a peer can make this process hold, do or wait for,
//! in one place: the QUIC transport's streams and windows, the bytes of frames being
//! read at once, deadlines, and the depth of live queues. It owns the numbers and the
//! transport configuration built from them. Enforcing each one is for the code that
//! owns the thing bounded: frames in `sync::message`, deadlines and queues in
//! `sync::net`, pairing in `pairing`, connection counts in the hub.
//!
//! The numbers are chosen so that the worst case is a product of bounded factors: a
//! connection can hold at most [`CONNECTION_WINDOW`] of unread bytes in QUIC's buffers,
//! and frames being read or handled take their bytes from one process-wide budget,
//! [`FRAME_BUDGET`], before they are allocated.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use iroh::endpoint::{QuicTransportConfig, VarInt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bidirectional streams a peer may have open on one connection. Sync and pairing use
/// one; the second lets a stream that is closing overlap with nothing else going wrong.
pub const MAX_STREAMS: u32 = 2;
/// Bytes a peer may send on one stream before this side has read them.
pub const STREAM_WINDOW: u32 = 1 << 20;
/// Bytes a peer may send on all streams of one sync connection before this side has
/// read them, once the peer is let in (see [`widen_for_sync`]).
pub const CONNECTION_WINDOW: u32 = 2 << 20;
/// Bytes this side keeps sent but not yet acknowledged, per connection: what a peer
/// that stops reading makes this process hold in QUIC's send buffers (the transport's
/// default is ten times more).
pub const SEND_WINDOW: u32 = 2 << 20;
/// Every connection opens with this window, and a pairing or center connection (small
/// requests) keeps it: a stranger's connection can make this process hold no more
/// than this of unread bytes before it has been looked at.
pub const PAIR_WINDOW: u32 = 64 << 10;
/// A connection that hears nothing (not even QUIC's keep-alives) for this long is gone.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes of frames being read, queued or handled at once, across every connection of
/// the process. A frame takes room for twice its length (its body, and its decoded copy)
/// before its body is allocated; a peer that sends more waits (QUIC's flow control then
/// stops it at its windows). Room for two of the largest frames at once.
pub const FRAME_BUDGET: usize = 64 << 20;
/// A frame that needs at most this much room is small (a hello, an ack, a live
/// check-in, a page of ids).
pub const SMALL_ROOM: usize = 512 << 10;
/// Room kept for small frames beside [`FRAME_BUDGET`]: a small frame takes room from
/// whichever has it first, so it never waits behind large frames (a stranger's
/// maximal ones) that have taken the whole of the main budget.
pub const SMALL_FRAME_BUDGET: usize = 16 << 20;
/// How long a reader waits for room in [`FRAME_BUDGET`] before giving up on its peer.
pub const FRAME_BUDGET_WAIT: Duration = Duration::from_secs(30);

/// How long a peer has, from the start of a sync, to finish reconciling: a peer that
/// drips bytes to hold a connection open is cut off. Generous: a first sync of a large
/// journal on a weak Wi-Fi takes seconds, not minutes.
pub const RECONCILE_DEADLINE: Duration = Duration::from_secs(120);
/// Live batches queued for one connection. A peer that does not read them fast enough
/// is disconnected; it reconciles what it missed when it comes back.
pub const LIVE_QUEUE: usize = 64;
/// Bytes of live batches queued for one connection (batches are shared, so this bounds
/// what one slow peer keeps alive, not a copy).
pub const LIVE_QUEUE_BYTES: usize = 16 << 20;
/// Bytes of live batches a session holds for a peer whose hello has not arrived yet
/// (normally one round trip of edits). A peer that stays silent past it is cut off as
/// fallen behind, so a member's device that connects and says nothing cannot make
/// the hub keep what is pushed meanwhile.
pub const EARLY_PUSH_BYTES: usize = 1 << 20;
/// How long one message may take to go out: a peer that stops reading (its window
/// stays full) is cut off after this.
pub const WRITE_DEADLINE: Duration = Duration::from_secs(30);

/// How long a one-shot sync (the CLI's `hearth sync`, the apps' sync) may take in all,
/// whatever the peers do.
pub const SYNC_DEADLINE: Duration = Duration::from_secs(180);
/// How long enrolling at a center or joining a device may take in all (joining waits
/// for the member to compare codes on the other device).
pub const PAIRING_DEADLINE: Duration = Duration::from_secs(240);

/// The transport configuration of every Hearth endpoint: few streams, bounded windows
/// (a connection opens narrow; sync widens it once the peer is let in), an idle
/// timeout. iroh's own keep-alives keep a live connection from going idle.
pub fn transport() -> QuicTransportConfig {
    QuicTransportConfig::builder()
        .max_concurrent_bidi_streams(VarInt::from_u32(MAX_STREAMS))
        .max_concurrent_uni_streams(VarInt::from_u32(0))
        .stream_receive_window(VarInt::from_u32(STREAM_WINDOW))
        .receive_window(VarInt::from_u32(PAIR_WINDOW))
        .send_window(u64::from(SEND_WINDOW))
        .max_idle_timeout(IDLE_TIMEOUT.try_into().ok())
        .build()
}

/// Narrows a connection that carries small requests (pairing, a center's
/// `hearth/center/1`): one stream at a time, a small window.
pub fn narrow_for_requests(conn: &iroh::endpoint::Connection) {
    conn.set_max_concurrent_bi_streams(VarInt::from_u32(1));
    conn.set_receive_window(VarInt::from_u32(PAIR_WINDOW));
}

/// Widens a sync connection's window to [`CONNECTION_WINDOW`]: called once the peer
/// has been let in (the hub has admitted it, or this device dialed it).
pub fn widen_for_sync(conn: &iroh::endpoint::Connection) {
    conn.set_receive_window(VarInt::from_u32(CONNECTION_WINDOW));
}

// A maximal frame must be readable at all, with its decoded copy.
const _: () = assert!(2 * crate::sync::message::MAX_FRAME <= FRAME_BUDGET);
const _: () = assert!(SMALL_ROOM <= SMALL_FRAME_BUDGET);

static BUDGET: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(FRAME_BUDGET)));
static SMALL_BUDGET: LazyLock<Arc<Semaphore>> =
    LazyLock::new(|| Arc::new(Semaphore::new(SMALL_FRAME_BUDGET)));

/// Room for one frame's bytes in [`FRAME_BUDGET`], given back when dropped.
#[derive(Debug)]
pub struct FrameRoom(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl FrameRoom {
    /// Room that counts nothing (a frame read from memory in a test).
    pub fn none() -> Self {
        FrameRoom(None)
    }
}

/// A frame could not get room in time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("busy: no room to read a {0}-byte frame")]
pub struct Busy(pub usize);

/// Takes room for `len` bytes, waiting at most [`FRAME_BUDGET_WAIT`].
pub async fn frame_room(len: usize) -> Result<FrameRoom, Busy> {
    let n = u32::try_from(len)
        .ok()
        .filter(|_| len <= FRAME_BUDGET)
        .ok_or(Busy(len))?;
    if n == 0 {
        return Ok(FrameRoom(None));
    }
    let main = BUDGET.clone().acquire_many_owned(n);
    let taken = if len <= SMALL_ROOM {
        let small = SMALL_BUDGET.clone().acquire_many_owned(n);
        // Whichever has room first; the other request leaves its queue when dropped.
        tokio::time::timeout(FRAME_BUDGET_WAIT, async {
            tokio::select! {
                biased;
                p = small => p,
                p = main => p,
            }
        })
        .await
    } else {
        tokio::time::timeout(FRAME_BUDGET_WAIT, main).await
    };
    match taken {
        Ok(Ok(permit)) => Ok(FrameRoom(Some(permit))),
        _ => Err(Busy(len)),
    }
}

/// Bytes of [`FRAME_BUDGET`] free now (for tests and benchmarks).
pub fn frame_budget_free() -> usize {
    BUDGET.available_permits()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frame_room_is_given_back_when_dropped_and_more_than_all_is_refused_at_once() {
        let half = FRAME_BUDGET / 2 + 1;
        let room = frame_room(half).await.unwrap();
        drop(room);
        // Two halves in turn fit only if the first was given back.
        let _again = frame_room(half).await.unwrap();
        assert_eq!(
            frame_room(FRAME_BUDGET + 1).await.unwrap_err(),
            Busy(FRAME_BUDGET + 1)
        );
    }

    #[tokio::test]
    async fn a_small_frame_gets_room_while_large_frames_hold_the_whole_budget() {
        let all = frame_room(FRAME_BUDGET).await.unwrap();
        let wait = Duration::from_millis(200);
        let small = tokio::time::timeout(wait, frame_room(SMALL_ROOM)).await;
        assert!(
            small.is_ok_and(|room| room.is_ok()),
            "the small frame waited"
        );
        let large = tokio::time::timeout(wait, frame_room(SMALL_ROOM + 1)).await;
        assert!(large.is_err(), "a large frame waits for the main budget");
        drop(all);
        let large = tokio::time::timeout(wait, frame_room(SMALL_ROOM + 1)).await;
        assert!(large.is_ok_and(|room| room.is_ok()));
    }
}
