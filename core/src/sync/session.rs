//! The sans-IO sync state machine for one connection. It takes the peer's messages
//! and says what to send and which items to ingest; it never touches a socket, a
//! file or a clock, so tests can drive any interleaving of peers directly.
//!
//! Per doc: both sides send a summary in `Hello`. Equal summaries end that doc.
//! Otherwise each side sends `Ids` (all it holds), and answers the other's `Ids` with
//! the `Items` the other lacks, the last chunk marked; each side acknowledges a reply
//! once it is durable. A doc only one side lists is taken (`Ids` with nothing) or
//! `Decline`d by the other. The session is reconciled when every doc is settled both
//! ways; after that `Push` carries new items live.
//!
//! Every answer is authorized when it is made, not when the connection opened: a
//! peer removed mid-session gets no ids, no items and no pushes for that doc.
//!
//! The two sides never stream answers at each other at once: the accepting side
//! ([`Session::answer_last`]) keeps its answers until the dialer has answered every
//! `Ids` it sent. A side writing an answer reads nothing meanwhile; were both to write
//! more than the other can buffer (a QUIC window and two frames, about 9 MiB), neither
//! would read again, and a doc both sides had much to give would never sync.
//!
//! The session also makes the protocol's decisions about what came in: it hears
//! what became of each batch it handed out for ingesting ([`Session::ingested`]) and
//! says which acknowledgement to send, whether a refusal ends the session (a reply
//! the replica refuses, a quota reached) or only drops a live push, and when a
//! one-shot sync ends its side ([`Step::finish`]). The I/O around it (`net`) checks,
//! commits and sends as told.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::live::FELL_BEHIND;
use super::message::{
    CHUNK_BYTES, MAX_DOCS, MAX_ITEMS, MAX_WITNESS_AUTHORS, MAX_WITNESS_HUBS, Message,
    PROTOCOL_VERSION, Refusal, Summary,
};
use super::{Replica, SyncError};
use crate::ids::{DeviceId, DocId};
use crate::item::ItemId;
use crate::item::SyncItem;
use crate::limits::{EARLY_PUSH_BYTES, LIVE_QUEUE};
use crate::store::ItemsCursor;

/// What to do after a message.
#[derive(Debug, Default)]
pub struct Step {
    /// Messages to send, in order.
    pub send: Vec<Message>,
    /// Items to check and commit: (doc, items, whether the reply for that doc is
    /// complete and must be acknowledged as a reconciliation).
    pub ingest: Vec<Ingest>,
    /// Whether the session just became reconciled.
    pub reconciled: bool,
    /// The peer acknowledged this many live-pushed items as stored.
    pub acked: u32,
    /// Answers to stream after `send`, each a page at a time ([`Answer::next`]).
    pub answers: Vec<Answer>,
    /// This side has said all it will (a one-shot session, just reconciled): end the
    /// stream, then read on until the peer ends its own, so nothing it still sends
    /// (acknowledgements) is lost.
    pub finish: bool,
    /// The peer told what its hubs held (a [`Message::Witness`]): what this side finds
    /// withheld may have changed, even after reconciliation.
    pub witnessed: bool,
}

/// An answer to a peer's `Ids`: the doc's items it lacks, streamed as `Items`
/// messages of one page each, the last marked, so the side answering holds one page
/// at a time however much the peer lacks.
#[derive(Debug)]
pub struct Answer {
    doc: DocId,
    peer: DeviceId,
    skip: BTreeSet<ItemId>,
    from: Option<ItemsCursor>,
    done: bool,
}

impl Answer {
    /// The doc answered for.
    pub fn doc(&self) -> DocId {
        self.doc
    }

    /// The answer's next message, `None` once the last is out. Authorized again for
    /// every page: a peer removed while its answer streams gets nothing more.
    pub fn next(&mut self, replica: &dyn Replica) -> Result<Option<Message>, SyncError> {
        if self.done {
            return Ok(None);
        }
        if !replica.may_hold(&self.doc, &self.peer) {
            return Err(SyncError::Denied(format!(
                "{:?} may no longer hold document {}",
                self.peer, self.doc
            )));
        }
        let (items, next) =
            replica.items_page(&self.doc, &self.skip, self.from.as_ref(), CHUNK_BYTES)?;
        self.done = next.is_none();
        self.from = next;
        Ok(Some(Message::Items {
            doc: self.doc,
            items,
            last: self.done,
        }))
    }
}

/// How long a session lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Until reconciled (`hearth sync`).
    OneShot,
    /// Until the connection closes: after reconciling, new items are pushed live.
    Live,
}

/// What became of a batch handed out in an [`Ingest`].
#[derive(Debug)]
pub enum Ingested {
    /// Checked; what was valid is durably stored, `new` of it new here. `refusal`:
    /// the replica stored part and refused the rest (a full quota).
    Stored {
        /// How many items were new.
        new: u32,
        /// Why the rest was not taken, if it was not.
        refusal: Option<Refusal>,
    },
    /// The replica does not share the doc with this peer.
    Denied(String),
}

/// Items from the peer to check, commit, then acknowledge.
#[derive(Debug)]
pub struct Ingest {
    /// The doc.
    pub doc: DocId,
    /// The items.
    pub items: Vec<SyncItem>,
    /// `Some(last)` for a reconciliation reply (ack with `reconcile` once `last`),
    /// `None` for a live push.
    pub reply: Option<bool>,
}

/// One connection's sync state.
#[derive(Debug)]
pub struct Session {
    peer: DeviceId,
    mode: Mode,
    finished: bool,
    mine: BTreeMap<DocId, Summary>,
    hello_received: bool,
    /// Docs we sent `Ids` for: waiting for the peer's last `Items`.
    awaiting_items: BTreeSet<DocId>,
    /// Docs only we listed: waiting for the peer's `Ids` or `Decline`.
    awaiting_answer: BTreeSet<DocId>,
    /// Docs we replied to with `Items`: waiting for the peer's reconcile `Ack`.
    awaiting_ack: BTreeSet<DocId>,
    /// Reconcile acks we still owe (docs whose reply we have not finished ingesting).
    owed_acks: BTreeSet<DocId>,
    reconciled: bool,
    /// Live items offered before the peer's hello, pushed once it arrives.
    early: Vec<(DocId, Arc<[SyncItem]>)>,
    early_bytes: usize,
    /// Docs the peer has told what its hubs held (once each).
    witnessed: BTreeSet<DocId>,
    /// Whether this side answers only once its own requests are answered.
    answer_last: bool,
    /// Answers kept until then.
    deferred: Vec<Answer>,
}

impl Session {
    /// Starts a session with `peer`: returns it and the `Hello` to send.
    pub fn start(
        replica: &dyn Replica,
        peer: DeviceId,
        mode: Mode,
    ) -> Result<(Self, Message), SyncError> {
        let mut mine = BTreeMap::new();
        for doc in replica.docs_for(&peer)? {
            let (mut ids, acl_len) = replica.item_ids(&doc)?;
            mine.insert(doc, Summary::of(doc, &mut ids, acl_len));
        }
        let hello = Message::Hello {
            version: PROTOCOL_VERSION,
            docs: mine.values().copied().collect(),
        };
        Ok((
            Session {
                peer,
                mode,
                finished: false,
                mine,
                hello_received: false,
                awaiting_items: BTreeSet::new(),
                awaiting_answer: BTreeSet::new(),
                awaiting_ack: BTreeSet::new(),
                owed_acks: BTreeSet::new(),
                reconciled: false,
                early: Vec::new(),
                early_bytes: 0,
                witnessed: BTreeSet::new(),
                answer_last: false,
                deferred: Vec::new(),
            },
            hello,
        ))
    }

    /// Makes this side answer the peer's `Ids` only once the peer has answered every
    /// `Ids` of this side's (the accepting side does; see the module's header).
    pub fn answer_last(&mut self) {
        self.answer_last = true;
    }

    /// Whether answers wait for the peer's own (see [`Session::answer_last`]): each
    /// holds the set of ids the peer sent, which the I/O around it keeps counted.
    pub fn has_deferred(&self) -> bool {
        !self.deferred.is_empty()
    }

    /// The peer's device id.
    pub fn peer(&self) -> DeviceId {
        self.peer
    }

    /// Whether every doc is settled both ways.
    pub fn is_reconciled(&self) -> bool {
        self.reconciled
    }

    /// The message that pushes new items live, if the peer may hold the doc. Items
    /// offered before the peer's hello wait here (shared, not copied) and go out with
    /// the step that handles it (the summaries exchanged may already settle the doc
    /// without them); more than [`LIVE_QUEUE`] batches or [`EARLY_PUSH_BYTES`] is
    /// falling behind: reconnect.
    pub fn push(
        &mut self,
        replica: &dyn Replica,
        doc: DocId,
        items: Arc<[SyncItem]>,
    ) -> Result<Option<Message>, SyncError> {
        if items.is_empty() || !replica.may_hold(&doc, &self.peer) {
            return Ok(None);
        }
        if !self.hello_received {
            let bytes: usize = items.iter().map(|i| i.bytes().len()).sum();
            if self.early.len() >= LIVE_QUEUE || self.early_bytes + bytes > EARLY_PUSH_BYTES {
                return Err(SyncError::Network(FELL_BEHIND.into()));
            }
            self.early_bytes += bytes;
            self.early.push((doc, items));
            return Ok(None);
        }
        Ok(Some(Message::Push {
            doc,
            items: items.to_vec(),
        }))
    }

    /// Hears what became of a batch from [`Step::ingest`] (`doc`, and its `reply`
    /// as handed out), once the replica has checked it and made durable what it
    /// took; says what to send. A live push the replica refuses is dropped and the
    /// session goes on; a refused reply, or a refusal of part of a batch, ends it
    /// (the error says what to tell the peer).
    pub fn ingested(
        &mut self,
        doc: DocId,
        reply: Option<bool>,
        outcome: Ingested,
    ) -> Result<Step, SyncError> {
        let mut step = Step::default();
        let new = match outcome {
            Ingested::Denied(_) if reply.is_none() => return Ok(step),
            Ingested::Denied(why) => return Err(SyncError::Denied(why)),
            Ingested::Stored {
                refusal: Some(refusal),
                ..
            } => return Err(SyncError::Refused { doc, refusal }),
            Ingested::Stored { new, refusal: None } => new,
        };
        match reply {
            Some(true) => {
                self.owed_acks.remove(&doc);
                step.send.push(Message::Ack {
                    doc,
                    stored: new,
                    reconcile: true,
                });
            }
            Some(false) => {}
            None => step.send.push(Message::Ack {
                doc,
                stored: new,
                reconcile: false,
            }),
        }
        self.settle(&mut step);
        Ok(step)
    }

    /// Marks the step that completes reconciliation, and, one-shot, ends this side.
    fn settle(&mut self, step: &mut Step) {
        let done = self.hello_received
            && self.awaiting_items.is_empty()
            && self.awaiting_answer.is_empty()
            && self.awaiting_ack.is_empty()
            && self.owed_acks.is_empty();
        if done && !self.reconciled {
            self.reconciled = true;
            step.reconciled = true;
        }
        if self.reconciled && self.mode == Mode::OneShot && !self.finished {
            self.finished = true;
            step.finish = true;
        }
    }

    fn protocol(what: impl Into<String>) -> SyncError {
        SyncError::Protocol(what.into())
    }

    /// Handles one message from the peer.
    pub fn handle(&mut self, replica: &dyn Replica, msg: Message) -> Result<Step, SyncError> {
        let mut step = Step::default();
        match msg {
            Message::Hello { version, docs } => {
                if version != PROTOCOL_VERSION {
                    return Err(SyncError::Version(version, PROTOCOL_VERSION));
                }
                if self.hello_received {
                    return Err(Self::protocol("a second hello"));
                }
                if docs.len() > MAX_DOCS {
                    return Err(Self::protocol("too many documents"));
                }
                self.hello_received = true;
                let mut listed = BTreeSet::new();
                let theirs_of: BTreeMap<DocId, Summary> =
                    docs.iter().map(|s| (s.doc, *s)).collect();
                for theirs in docs {
                    if !listed.insert(theirs.doc) {
                        return Err(Self::protocol("a document listed twice"));
                    }
                    match self.mine.get(&theirs.doc) {
                        // Removed since the session started: its `Ids` will be refused.
                        Some(_) if !replica.may_hold(&theirs.doc, &self.peer) => {}
                        Some(mine) if *mine == theirs => {
                            replica.observe_in_sync(&theirs.doc, &self.peer)?;
                        }
                        Some(_) => {
                            let (ids, _) = replica.item_ids(&theirs.doc)?;
                            step.send.push(Message::Ids {
                                doc: theirs.doc,
                                ids,
                            });
                            self.awaiting_items.insert(theirs.doc);
                        }
                        None if replica.may_take(&theirs.doc, &self.peer) => {
                            step.send.push(Message::Ids {
                                doc: theirs.doc,
                                ids: Vec::new(),
                            });
                            self.awaiting_items.insert(theirs.doc);
                        }
                        None => step.send.push(Message::Decline { doc: theirs.doc }),
                    }
                }
                self.awaiting_answer = self
                    .mine
                    .keys()
                    .filter(|d| !listed.contains(d))
                    .copied()
                    .collect();
                for doc in self.mine.keys() {
                    replica.observe_summary(doc, &self.peer, theirs_of.get(doc))?;
                }
                // To another of the member's devices: what each hub held when this
                // one last reconciled with it, for the docs both hold.
                for doc in self.mine.keys().filter(|d| listed.contains(d)) {
                    if replica.may_hold(doc, &self.peer)
                        && let Some(hubs) = replica.witness(doc, &self.peer)?
                        && !hubs.is_empty()
                    {
                        step.send.push(Message::Witness { doc: *doc, hubs });
                    }
                }
                self.early_bytes = 0;
                for (doc, items) in std::mem::take(&mut self.early) {
                    if replica.may_hold(&doc, &self.peer) {
                        step.send.push(Message::Push {
                            doc,
                            items: items.to_vec(),
                        });
                    }
                }
            }
            Message::Ids { doc, ids } => {
                self.require_hello()?;
                if !self.mine.contains_key(&doc) {
                    return Err(Self::protocol("ids for a document we did not offer"));
                }
                if !replica.may_hold(&doc, &self.peer) {
                    return Err(SyncError::Denied(format!(
                        "{:?} may no longer hold document {doc}",
                        self.peer
                    )));
                }
                if !self.awaiting_ack.insert(doc) {
                    return Err(Self::protocol("ids twice for one document"));
                }
                self.awaiting_answer.remove(&doc);
                replica.observe_ids(&doc, &self.peer, &ids)?;
                let theirs: BTreeSet<_> = ids.into_iter().collect();
                let answer = Answer {
                    doc,
                    peer: self.peer,
                    skip: replica.answer_skips(&doc, theirs)?,
                    from: None,
                    done: false,
                };
                if self.answer_last && !self.awaiting_items.is_empty() {
                    self.deferred.push(answer);
                } else {
                    step.answers.push(answer);
                }
            }
            Message::Decline { doc } => {
                self.require_hello()?;
                if !self.awaiting_answer.remove(&doc) {
                    return Err(Self::protocol(
                        "decline for a document we did not offer alone",
                    ));
                }
                replica.observe_declined(&doc, &self.peer)?;
            }
            Message::Items { doc, items, last } => {
                self.require_hello()?;
                Self::bounded(&items)?;
                if !self.awaiting_items.contains(&doc) {
                    return Err(Self::protocol("items we did not ask for"));
                }
                if last {
                    self.awaiting_items.remove(&doc);
                    self.owed_acks.insert(doc);
                }
                step.ingest.push(Ingest {
                    doc,
                    items,
                    reply: Some(last),
                });
            }
            Message::Push { doc, items } => {
                self.require_hello()?;
                Self::bounded(&items)?;
                step.ingest.push(Ingest {
                    doc,
                    items,
                    reply: None,
                });
            }
            Message::Ack {
                doc,
                stored,
                reconcile,
            } => {
                if reconcile {
                    if !self.awaiting_ack.remove(&doc) {
                        return Err(Self::protocol("an ack for nothing"));
                    }
                } else {
                    step.acked = stored;
                }
            }
            Message::Error { reason } => return Err(SyncError::Remote(reason)),
            Message::Refused { doc, refusal } => {
                return Err(SyncError::PeerRefused { doc, refusal });
            }
            Message::Witness { doc, hubs } => {
                self.require_hello()?;
                if !self.mine.contains_key(&doc) {
                    return Err(Self::protocol("a witness for a document we did not offer"));
                }
                if hubs.len() > MAX_WITNESS_HUBS
                    || hubs.iter().any(|h| h.frontier.len() > MAX_WITNESS_AUTHORS)
                {
                    return Err(Self::protocol("a witness over its limits"));
                }
                if !self.witnessed.insert(doc) {
                    return Err(Self::protocol("a second witness for one document"));
                }
                if replica.may_hold(&doc, &self.peer) {
                    replica.observe_witness(&doc, &self.peer, hubs)?;
                    step.witnessed = true;
                }
            }
        }
        if self.awaiting_items.is_empty() {
            step.answers.append(&mut self.deferred);
        }
        self.settle(&mut step);
        Ok(step)
    }

    fn bounded(items: &[SyncItem]) -> Result<(), SyncError> {
        if items.len() > MAX_ITEMS {
            return Err(Self::protocol(format!(
                "{} items in one message, the limit is {MAX_ITEMS}",
                items.len()
            )));
        }
        Ok(())
    }

    fn require_hello(&self) -> Result<(), SyncError> {
        if self.hello_received {
            Ok(())
        } else {
            Err(Self::protocol("a message before hello"))
        }
    }
}

#[cfg(test)]
mod tests {
    //! Two sessions over two real vaults in memory, messages pumped by hand: any
    //! interleaving of the protocol and of the vaults' own edits, with no network.

    use std::collections::VecDeque;

    use super::*;
    use crate::access::Role;
    use crate::identity::MemoryKeyStore;
    use crate::model::NewCheckIn;
    use crate::sync::message::Witness;
    use crate::vault::{Location, Vault};

    struct Side {
        vault: Vault,
        session: Session,
        inbox: VecDeque<Message>,
        /// Steps that said to end this side (a one-shot session, once reconciled).
        finished: usize,
        /// Messages that arrived after this side ended its stream.
        after_finish: usize,
    }

    fn pair() -> (Vault, Vault) {
        let ka = MemoryKeyStore::new();
        let a = Vault::create(Location::Memory, &ka, Some("Sam")).unwrap();
        let kb = MemoryKeyStore::new();
        a.authorize_device(&Vault::prepare_device(&kb).unwrap(), Role::Owner)
            .unwrap();
        let b = Vault::join(
            Location::Memory,
            &kb,
            a.journal_id().unwrap(),
            a.sync_items().unwrap(),
        )
        .unwrap();
        (a, b)
    }

    fn start(a: Vault, b: Vault) -> (Side, Side) {
        start_as(a, Mode::Live, b, Mode::Live)
    }

    fn start_as(a: Vault, ma: Mode, b: Vault, mb: Mode) -> (Side, Side) {
        let (sa, ha) = Session::start(&a, b.device_id().unwrap(), ma).unwrap();
        let (sb, hb) = Session::start(&b, a.device_id().unwrap(), mb).unwrap();
        let side = |vault, session, hello| Side {
            vault,
            session,
            inbox: VecDeque::from([hello]),
            finished: 0,
            after_finish: 0,
        };
        (side(a, sa, hb), side(b, sb, ha))
    }

    /// What `net` does with a batch: check it, commit what was taken, report.
    fn take_in(side: &Side, ingest: Ingest) -> Result<Ingested, SyncError> {
        let peer = side.session.peer();
        match side.vault.check(&ingest.doc, &peer, ingest.items) {
            Ok(checked) => {
                let (new, refusal) = (checked.accepted.len() as u32, checked.refusal);
                side.vault.commit(checked)?;
                Ok(Ingested::Stored { new, refusal })
            }
            Err(SyncError::Denied(why)) => Ok(Ingested::Denied(why)),
            Err(e) => Err(e),
        }
    }

    /// Delivers one message to `to`; what it answers goes to `from`'s inbox.
    fn step(to: &mut Side, from: &mut Side) -> Result<bool, SyncError> {
        let Some(msg) = to.inbox.pop_front() else {
            return Ok(false);
        };
        if to.finished > 0 {
            // `net` reads on until the peer ends its stream, and drops what it reads.
            to.after_finish += 1;
            return Ok(true);
        }
        let step = to.session.handle(&to.vault, msg)?;
        to.finished += usize::from(step.finish);
        from.inbox.extend(step.send);
        for mut answer in step.answers {
            while let Some(m) = answer.next(&to.vault)? {
                from.inbox.push_back(m);
            }
        }
        for ingest in step.ingest {
            let (doc, reply) = (ingest.doc, ingest.reply);
            let outcome = take_in(to, ingest)?;
            let after = to.session.ingested(doc, reply, outcome)?;
            to.finished += usize::from(after.finish);
            from.inbox.extend(after.send);
        }
        Ok(true)
    }

    fn notes(v: &Vault) -> BTreeSet<String> {
        v.checkins().unwrap().into_iter().map(|c| c.note).collect()
    }

    fn note(v: &Vault, text: &str) {
        v.add_checkin(&NewCheckIn {
            mood: 3,
            note: text.into(),
            ..Default::default()
        })
        .unwrap();
    }

    /// Both sessions reconciled, and both vaults hold the note each side wrote.
    fn assert_both_hold_both(a: &Side, b: &Side) {
        assert!(a.session.is_reconciled() && b.session.is_reconciled());
        for side in [a, b] {
            let notes = notes(&side.vault);
            assert!(notes.contains("from a") && notes.contains("from b"));
        }
    }

    #[test]
    fn two_sessions_reconcile_in_memory() {
        let (a, b) = pair();
        note(&a, "from a");
        note(&b, "from b");
        let (mut a, mut b) = start(a, b);
        while step(&mut a, &mut b).unwrap() | step(&mut b, &mut a).unwrap() {}
        assert_both_hold_both(&a, &b);
    }

    /// Were both sides to stream answers at once over the network, each writing and
    /// neither reading, more than the other buffers would stall both for good.
    #[test]
    fn the_accepting_side_answers_only_once_the_dialer_has_answered_it() {
        let (a, b) = pair();
        note(&a, "from a");
        note(&b, "from b");
        let (mut a, mut b) = start(a, b);
        b.session.answer_last();
        let mut answered = false;
        loop {
            answered |= matches!(b.inbox.front(), Some(Message::Items { last: true, .. }));
            let before = a.inbox.len();
            let moved_b = step(&mut b, &mut a).unwrap();
            let b_answers = a
                .inbox
                .iter()
                .skip(before)
                .any(|m| matches!(m, Message::Items { .. }));
            assert!(
                !b_answers || answered,
                "B answered while A's answer was on its way"
            );
            let moved_a = step(&mut a, &mut b).unwrap();
            if !moved_a && !moved_b {
                break;
            }
        }
        assert_both_hold_both(&a, &b);
    }

    #[test]
    fn a_message_with_more_items_than_the_limit_is_a_protocol_violation() {
        let (a, b) = pair();
        let (mut a, mut b) = start(a, b);
        step(&mut a, &mut b).unwrap(); // A takes B's hello
        let doc = a.vault.journal_id().unwrap();
        let items = vec![SyncItem::Acl(vec![0; 8]); MAX_ITEMS + 1];
        for msg in [
            Message::Push {
                doc,
                items: items.clone(),
            },
            Message::Items {
                doc,
                items,
                last: true,
            },
        ] {
            let err = a.session.handle(&a.vault, msg).unwrap_err();
            assert!(
                matches!(err, SyncError::Protocol(ref w) if w.contains("limit")),
                "{err}"
            );
        }
    }

    #[test]
    fn a_request_made_before_a_removal_is_refused_when_it_is_answered() {
        let (a, b) = pair();
        note(&a, "before");
        let (mut a, mut b) = start(a, b);
        // Each side takes the other's hello: B asks A for what it lacks ...
        step(&mut a, &mut b).unwrap();
        step(&mut b, &mut a).unwrap();
        assert!(
            a.inbox.iter().any(|m| matches!(m, Message::Ids { .. })),
            "B's request is on its way"
        );
        // ... and A removes B before the request is answered.
        a.vault.remove_device(b.vault.device_id().unwrap()).unwrap();
        note(&a.vault, "after the removal");
        let mut answered = Vec::new();
        let refused = loop {
            match a.inbox.front() {
                Some(Message::Ids { .. }) => break step(&mut a, &mut b).unwrap_err(),
                Some(_) => {
                    step(&mut a, &mut b).unwrap();
                }
                None => panic!("B's request never reached A"),
            }
            answered.extend(b.inbox.drain(..));
        };
        assert!(matches!(refused, SyncError::Denied(_)), "{refused}");
        assert!(
            !answered
                .iter()
                .chain(b.inbox.iter())
                .any(|m| matches!(m, Message::Items { .. })),
            "items went to a removed device"
        );
        // A live push to it is refused too.
        let doc = a.vault.journal_id().unwrap();
        let items = a.vault.sync_items().unwrap();
        assert!(
            a.session
                .push(&a.vault, doc, items.into())
                .unwrap()
                .is_none()
        );
    }

    /// The vault, answering a page of one item at a time (its pages are 4 MiB).
    struct OneItemPages(Arc<Vault>);

    impl Replica for OneItemPages {
        fn docs_for(&self, peer: &DeviceId) -> Result<Vec<DocId>, SyncError> {
            self.0.docs_for(peer)
        }
        fn may_hold(&self, doc: &DocId, peer: &DeviceId) -> bool {
            self.0.may_hold(doc, peer)
        }
        fn may_take(&self, doc: &DocId, peer: &DeviceId) -> bool {
            self.0.may_take(doc, peer)
        }
        fn item_ids(&self, doc: &DocId) -> Result<(Vec<ItemId>, usize), SyncError> {
            self.0.item_ids(doc)
        }
        fn items_page(
            &self,
            doc: &DocId,
            skip: &BTreeSet<ItemId>,
            from: Option<&ItemsCursor>,
            _budget: usize,
        ) -> Result<(Vec<SyncItem>, Option<ItemsCursor>), SyncError> {
            self.0.items_page(doc, skip, from, 1)
        }
        fn may_connect(&self, peer: &DeviceId) -> bool {
            self.0.may_connect(peer)
        }
        fn access_changes(&self) -> tokio::sync::watch::Receiver<u64> {
            self.0.access_changes()
        }
        fn check(
            &self,
            doc: &DocId,
            peer: &DeviceId,
            items: Vec<SyncItem>,
        ) -> Result<super::super::Checked, SyncError> {
            self.0.check(doc, peer, items)
        }
        fn commit(&self, checked: super::super::Checked) -> Result<(), SyncError> {
            self.0.commit(checked)
        }
    }

    /// An answer streams a page at a time and asks again before each page: a device
    /// removed while its answer is on the way gets no page after the removal.
    #[test]
    fn a_device_removed_while_its_answer_streams_gets_no_further_page() {
        let (a, b) = pair();
        for text in ["one", "two", "three"] {
            note(&a, text);
        }
        let a = Arc::new(a);
        let replica = OneItemPages(a.clone());
        let doc = a.journal_id().unwrap();
        let peer = b.device_id().unwrap();
        let (mut session, _) = Session::start(&replica, peer, Mode::Live).unwrap();
        let (mut theirs, acl) = b.item_ids(&doc).unwrap();
        let hello = Message::Hello {
            version: PROTOCOL_VERSION,
            docs: vec![Summary::of(doc, &mut theirs, acl)],
        };
        session.handle(&replica, hello).unwrap();
        let step = session
            .handle(&replica, Message::Ids { doc, ids: theirs })
            .unwrap();
        let mut answer = step.answers.into_iter().next().expect("an answer");
        let first = answer.next(&replica).unwrap();
        assert!(
            matches!(&first, Some(Message::Items { items, last: false, .. }) if items.len() == 1),
            "one item, more to come: {first:?}"
        );
        a.remove_device(peer).unwrap();
        let refused = answer.next(&replica).unwrap_err();
        assert!(matches!(refused, SyncError::Denied(_)), "{refused}");
    }

    /// Writes a check-in on `w` and pushes what it made to `other`, as `net` pushes
    /// the vault's outgoing items on a live connection (not once `w` has ended).
    fn edit(
        w: &mut Side,
        out: &mut tokio::sync::broadcast::Receiver<crate::vault::Outgoing>,
        other: &mut Side,
        text: &str,
    ) {
        note(&w.vault, text);
        while let Ok(o) = out.try_recv() {
            if w.finished > 0 {
                continue;
            }
            if let Some(m) = w.session.push(&w.vault, o.doc, o.items.into()).unwrap() {
                other.inbox.push_back(m);
            }
        }
    }

    /// Two sessions in the modes given, each side taking its next message (or, now
    /// and then, writing a check-in that is pushed live) in an order drawn from
    /// `seed`, until nothing is left to deliver. Each side starts with a check-in
    /// of its own, or (`apart` false) both start holding the same.
    fn interleaving(seed: u64, ma: Mode, mb: Mode, apart: bool) -> (Side, Side) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let (a, b) = pair();
        if apart {
            note(&a, "a0");
            note(&b, "b0");
        }
        let (mut oa, mut ob) = (a.subscribe_outgoing(), b.subscribe_outgoing());
        let (mut a, mut b) = start_as(a, ma, b, mb);
        let mut edits = 0;
        loop {
            let quiet = a.inbox.is_empty() && b.inbox.is_empty();
            if quiet && edits == 6 {
                break;
            }
            match rng.random_range(0..10) {
                0 | 1 if edits < 6 => {
                    edits += 1;
                    let text = format!("edit {edits}");
                    if rng.random_bool(0.5) {
                        edit(&mut a, &mut oa, &mut b, &text);
                    } else {
                        edit(&mut b, &mut ob, &mut a, &text);
                    }
                }
                0..=5 => {
                    step(&mut a, &mut b).unwrap();
                }
                _ => {
                    step(&mut b, &mut a).unwrap();
                }
            }
        }
        (a, b)
    }

    #[test]
    fn any_interleaving_of_two_live_sessions_and_live_edits_converges() {
        for seed in 0..64 {
            for apart in [true, false] {
                let (a, b) = interleaving(seed, Mode::Live, Mode::Live, apart);
                assert!(
                    a.session.is_reconciled() && b.session.is_reconciled(),
                    "seed {seed}"
                );
                // Edits made before the peer's hello arrived are not lost either.
                let held = notes(&a.vault);
                assert_eq!(held, notes(&b.vault), "seed {seed} apart {apart}");
                assert_eq!(held.len(), if apart { 8 } else { 6 }, "seed {seed}");
                assert_eq!(a.finished + b.finished, 0, "a live session never ends");
            }
        }
    }

    #[test]
    fn a_one_shot_session_ends_its_side_once_after_sending_what_it_owes() {
        for seed in 0..64 {
            for (ma, mb) in [(Mode::OneShot, Mode::Live), (Mode::OneShot, Mode::OneShot)] {
                let (a, b) = interleaving(seed, ma, mb, true);
                assert!(
                    a.session.is_reconciled() && b.session.is_reconciled(),
                    "seed {seed}: B settles only once A's acknowledgement reached it"
                );
                assert_eq!(a.finished, 1, "seed {seed}");
                assert_eq!(b.finished, usize::from(mb == Mode::OneShot), "seed {seed}");
                // What each held when it connected reached the other.
                for side in [&a, &b] {
                    let held = notes(&side.vault);
                    assert!(held.contains("a0") && held.contains("b0"), "seed {seed}");
                }
            }
        }
    }

    #[test]
    fn a_live_push_the_replica_refuses_is_dropped_and_the_session_goes_on() {
        let (a, b) = pair();
        let (mut a, mut b) = start(a, b);
        while step(&mut a, &mut b).unwrap() | step(&mut b, &mut a).unwrap() {}
        let doc = a.vault.journal_id().unwrap();
        let after = a
            .session
            .ingested(doc, None, Ingested::Denied("not shared".into()))
            .unwrap();
        assert!(after.send.is_empty() && !after.finish, "{after:?}");
        // A push the replica takes is acknowledged, not as a reconciliation.
        let after = a
            .session
            .ingested(
                doc,
                None,
                Ingested::Stored {
                    new: 2,
                    refusal: None,
                },
            )
            .unwrap();
        assert!(matches!(
            after.send[..],
            [Message::Ack {
                stored: 2,
                reconcile: false,
                ..
            }]
        ));
    }

    #[test]
    fn a_refused_reply_or_a_full_quota_ends_the_session_saying_why() {
        let (a, b) = pair();
        let doc = a.journal_id().unwrap();
        let (mut a, _b) = start(a, b);
        let denied = a
            .session
            .ingested(doc, Some(true), Ingested::Denied("removed".into()))
            .unwrap_err();
        assert!(matches!(denied, SyncError::Denied(_)), "{denied}");
        let quota = Refusal::QuotaExceeded {
            used_bytes: 10,
            limit_bytes: 10,
        };
        for reply in [None, Some(false), Some(true)] {
            let full = a
                .session
                .ingested(
                    doc,
                    reply,
                    Ingested::Stored {
                        new: 1,
                        refusal: Some(quota),
                    },
                )
                .unwrap_err();
            assert!(
                matches!(full, SyncError::Refused { refusal, .. } if refusal == quota),
                "{full}"
            );
        }
    }

    #[test]
    fn hostile_messages_are_protocol_errors_never_panics() {
        let (a, b) = pair();
        let doc = a.journal_id().unwrap();
        let other = DocId([7; 16]);
        let summary = |d: DocId| Summary {
            doc: d,
            count: 0,
            digest: [0; 32],
            acl_len: 0,
        };
        let hello = |docs: Vec<Summary>| Message::Hello {
            version: PROTOCOL_VERSION,
            docs,
        };
        let (a, b) = start(a, b);
        let (vault, peer) = (a.vault, b.session.peer());
        // Before any hello.
        let (mut fresh, _) = Session::start(&vault, peer, Mode::Live).unwrap();
        for msg in [
            Message::Items {
                doc,
                items: Vec::new(),
                last: true,
            },
            Message::Ids {
                doc,
                ids: Vec::new(),
            },
            Message::Decline { doc },
            Message::Push {
                doc,
                items: Vec::new(),
            },
        ] {
            let err = fresh.handle(&vault, msg).unwrap_err();
            assert!(matches!(err, SyncError::Protocol(_)), "{err}");
        }
        let err = fresh
            .handle(
                &vault,
                Message::Hello {
                    version: PROTOCOL_VERSION + 1,
                    docs: Vec::new(),
                },
            )
            .unwrap_err();
        assert!(matches!(err, SyncError::Version(..)), "{err}");
        let hostile_hellos = [
            hello(vec![summary(doc), summary(doc)]),
            hello(vec![summary(other); MAX_DOCS + 1]),
        ];
        for msg in hostile_hellos {
            let (mut s, _) = Session::start(&vault, peer, Mode::Live).unwrap();
            let err = s.handle(&vault, msg).unwrap_err();
            assert!(matches!(err, SyncError::Protocol(_)), "{err}");
        }
        // After a hello that settles nothing: answers to what was never asked.
        let after_hello = [
            hello(vec![summary(doc)]),
            Message::Items {
                doc: other,
                items: Vec::new(),
                last: true,
            },
            Message::Ids {
                doc: other,
                ids: Vec::new(),
            },
            Message::Decline { doc },
            Message::Ack {
                doc,
                stored: 1,
                reconcile: true,
            },
        ];
        for (i, msg) in after_hello.into_iter().enumerate() {
            let (mut s, _) = Session::start(&vault, peer, Mode::Live).unwrap();
            s.handle(&vault, hello(vec![summary(doc)])).unwrap();
            let err = s.handle(&vault, msg).unwrap_err();
            assert!(matches!(err, SyncError::Protocol(_)), "message {i}: {err}");
        }
        // Ids twice for one doc.
        let (mut s, _) = Session::start(&vault, peer, Mode::Live).unwrap();
        s.handle(&vault, hello(vec![summary(doc)])).unwrap();
        let ids = || Message::Ids {
            doc,
            ids: Vec::new(),
        };
        s.handle(&vault, ids()).unwrap();
        let err = s.handle(&vault, ids()).unwrap_err();
        assert!(matches!(err, SyncError::Protocol(_)), "{err}");

        // Witnesses: before hello, for a doc not offered, over the limits, or twice.
        let witness = |doc: DocId, hubs: usize, authors: usize| Message::Witness {
            doc,
            hubs: vec![
                Witness {
                    hub: DeviceId([9; 32]),
                    at_ms: 1,
                    acl_len: 1,
                    frontier: vec![
                        (
                            DeviceId([1; 32]),
                            crate::access::Mark {
                                seq: 1,
                                bundle: crate::ids::BundleId([1; 32])
                            }
                        );
                        authors
                    ],
                };
                hubs
            ],
        };
        let (mut s, _) = Session::start(&vault, peer, Mode::Live).unwrap();
        let err = s.handle(&vault, witness(doc, 1, 1)).unwrap_err();
        assert!(matches!(err, SyncError::Protocol(_)), "{err}");
        for (i, msg) in [
            witness(other, 1, 1),
            witness(doc, MAX_WITNESS_HUBS + 1, 1),
            witness(doc, 1, MAX_WITNESS_AUTHORS + 1),
        ]
        .into_iter()
        .enumerate()
        {
            let (mut s, _) = Session::start(&vault, peer, Mode::Live).unwrap();
            s.handle(&vault, hello(vec![summary(doc)])).unwrap();
            let err = s.handle(&vault, msg).unwrap_err();
            assert!(matches!(err, SyncError::Protocol(_)), "witness {i}: {err}");
        }
        let (mut s, _) = Session::start(&vault, peer, Mode::Live).unwrap();
        s.handle(&vault, hello(vec![summary(doc)])).unwrap();
        s.handle(&vault, witness(doc, 1, 1)).unwrap();
        let err = s.handle(&vault, witness(doc, 1, 1)).unwrap_err();
        assert!(matches!(err, SyncError::Protocol(_)), "{err}");
    }

    #[test]
    fn a_silent_peer_cannot_make_the_session_hold_more_than_a_round_trip_of_edits() {
        let (a, b) = pair();
        let doc = a.journal_id().unwrap();
        let (mut a, _b) = start(a, b); // A never takes B's hello
        let piece: Arc<[SyncItem]> = vec![SyncItem::Bundle(vec![0; 64 << 10])].into();
        let mut held = 0;
        let err = loop {
            match a.session.push(&a.vault, doc, piece.clone()) {
                Ok(None) => held += 1,
                Ok(Some(m)) => panic!("pushed before the peer's hello: {m:?}"),
                Err(e) => break e,
            }
        };
        assert!(
            held * (64 << 10) <= EARLY_PUSH_BYTES,
            "{held} pieces of 64 KiB held"
        );
        assert!(err.to_string().contains("fell behind"), "{err}");
    }
}
