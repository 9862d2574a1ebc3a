//! The bounded queue of live batches waiting to go out on one connection. A batch is
//! shared (one copy however many connections wait to send it); the queue is bounded by
//! batches and by bytes, and a connection whose queue is full is cut off rather than
//! allowed to grow: the peer reconciles what it missed when it reconnects. It owns the
//! bound, not the decision of who gets what (the hub's fan-out and the device's outgoing
//! feed decide that).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::mpsc;

use crate::ids::DocId;
use crate::item::SyncItem;
use crate::limits::{LIVE_QUEUE, LIVE_QUEUE_BYTES};

/// Why a connection that fell behind the live updates is closed (the hub's fan-out
/// says the same to a peer it cuts off).
pub const FELL_BEHIND: &str = "fell behind the live updates: reconnect to catch up";

/// One live batch: a doc's new items, shared between every queue it is on.
pub type Batch = (DocId, Arc<[SyncItem]>);

struct Shared {
    bytes: AtomicUsize,
    cut_off: AtomicBool,
}

/// The sending half: offers batches, never waits.
#[derive(Clone)]
pub struct LiveSender {
    tx: mpsc::Sender<Batch>,
    shared: Arc<Shared>,
}

/// The receiving half, read by the connection's loop.
pub struct LiveReceiver {
    rx: mpsc::Receiver<Batch>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for LiveSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveSender")
    }
}

impl std::fmt::Debug for LiveReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveReceiver")
    }
}

/// What became of a live batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Queued.
    Queued,
    /// The connection could not keep up and is cut off (now or before).
    CutOff,
    /// The connection is gone.
    Closed,
}

/// A queue bounded at [`LIVE_QUEUE`] batches and [`LIVE_QUEUE_BYTES`].
pub fn queue() -> (LiveSender, LiveReceiver) {
    queue_bounded(LIVE_QUEUE)
}

fn queue_bounded(batches: usize) -> (LiveSender, LiveReceiver) {
    let (tx, rx) = mpsc::channel(batches);
    let shared = Arc::new(Shared {
        bytes: AtomicUsize::new(0),
        cut_off: AtomicBool::new(false),
    });
    (
        LiveSender {
            tx,
            shared: shared.clone(),
        },
        LiveReceiver { rx, shared },
    )
}

fn size(items: &[SyncItem]) -> usize {
    items.iter().map(|i| i.bytes().len()).sum()
}

impl LiveSender {
    /// Queues a batch, or cuts the connection off if its queue is full.
    pub fn offer(&self, batch: Batch) -> Offer {
        if self.shared.cut_off.load(Ordering::Acquire) {
            return Offer::CutOff;
        }
        let len = size(&batch.1);
        let queued = self.shared.bytes.fetch_add(len, Ordering::AcqRel) + len;
        // One batch larger than the whole bound still goes to an idle connection.
        let over = queued > LIVE_QUEUE_BYTES && queued != len;
        let result = if over {
            Err(mpsc::error::TrySendError::Full(batch))
        } else {
            self.tx.try_send(batch)
        };
        match result {
            Ok(()) => Offer::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.shared.bytes.fetch_sub(len, Ordering::AcqRel);
                self.shared.cut_off.store(true, Ordering::Release);
                Offer::CutOff
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.shared.bytes.fetch_sub(len, Ordering::AcqRel);
                Offer::Closed
            }
        }
    }
}

impl LiveSender {
    /// Cuts the connection off: the sender knows it missed batches (its own feed
    /// lagged), so the peer must reconnect and reconcile.
    pub fn cut_off(self) {
        self.shared.cut_off.store(true, Ordering::Release);
    }
}

/// Why [`LiveReceiver::recv`] has nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The sender is gone: nothing more will come, and that is fine.
    Closed,
    /// The connection fell behind and was cut off.
    FellBehind,
}

impl LiveReceiver {
    /// The next batch, or why there is none.
    pub async fn recv(&mut self) -> Result<Batch, Ended> {
        if self.shared.cut_off.load(Ordering::Acquire) {
            return Err(Ended::FellBehind);
        }
        match self.rx.recv().await {
            Some(batch) => {
                self.shared
                    .bytes
                    .fetch_sub(size(&batch.1), Ordering::AcqRel);
                Ok(batch)
            }
            None if self.shared.cut_off.load(Ordering::Acquire) => Err(Ended::FellBehind),
            None => Err(Ended::Closed),
        }
    }

    /// Whether the connection was cut off (it then ends as soon as it looks).
    pub fn fell_behind(&self) -> bool {
        self.shared.cut_off.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(len: usize) -> Batch {
        (
            DocId([1; 16]),
            Arc::from(vec![SyncItem::Bundle(vec![0; len])]),
        )
    }

    #[tokio::test]
    async fn a_queue_that_fills_cuts_its_connection_off_and_says_so() {
        let (tx, mut rx) = queue_bounded(2);
        assert_eq!(tx.offer(batch(1)), Offer::Queued);
        assert_eq!(tx.offer(batch(1)), Offer::Queued);
        assert_eq!(tx.offer(batch(1)), Offer::CutOff);
        // Cut off for good, even once there would be room again.
        assert_eq!(rx.recv().await.unwrap_err(), Ended::FellBehind);
        assert_eq!(tx.offer(batch(1)), Offer::CutOff);
    }

    #[tokio::test]
    async fn bytes_bound_the_queue_but_one_large_batch_still_goes_to_an_idle_one() {
        let (tx, mut rx) = queue_bounded(1000);
        assert_eq!(tx.offer(batch(LIVE_QUEUE_BYTES + 1)), Offer::Queued);
        rx.recv().await.unwrap();
        assert_eq!(tx.offer(batch(LIVE_QUEUE_BYTES / 2)), Offer::Queued);
        assert_eq!(tx.offer(batch(LIVE_QUEUE_BYTES / 2)), Offer::Queued);
        assert_eq!(tx.offer(batch(1)), Offer::CutOff);
    }

    #[tokio::test]
    async fn a_dropped_sender_ends_the_queue_quietly() {
        let (tx, mut rx) = queue();
        assert_eq!(tx.offer(batch(3)), Offer::Queued);
        drop(tx);
        assert!(rx.recv().await.is_ok());
        assert_eq!(rx.recv().await.unwrap_err(), Ended::Closed);
    }
}
