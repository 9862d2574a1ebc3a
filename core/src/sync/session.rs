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

use std::collections::{BTreeMap, BTreeSet};

use super::message::{MAX_DOCS, MAX_ITEMS, Message, PROTOCOL_VERSION, Summary, chunk_items};
use super::{Replica, SyncError};
use crate::ids::{DeviceId, DocId};
use crate::item::SyncItem;

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
}

impl Session {
    /// Starts a session with `peer`: returns it and the `Hello` to send.
    pub fn start(replica: &dyn Replica, peer: DeviceId) -> Result<(Self, Message), SyncError> {
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
                mine,
                hello_received: false,
                awaiting_items: BTreeSet::new(),
                awaiting_answer: BTreeSet::new(),
                awaiting_ack: BTreeSet::new(),
                owed_acks: BTreeSet::new(),
                reconciled: false,
            },
            hello,
        ))
    }

    /// The peer's device id.
    pub fn peer(&self) -> DeviceId {
        self.peer
    }

    /// Whether every doc is settled both ways.
    pub fn is_reconciled(&self) -> bool {
        self.reconciled
    }

    /// The message that pushes new items live, if the peer may hold the doc.
    pub fn push(&self, replica: &dyn Replica, doc: DocId, items: Vec<SyncItem>) -> Option<Message> {
        (self.hello_received && !items.is_empty() && replica.may_hold(&doc, &self.peer))
            .then_some(Message::Push { doc, items })
    }

    /// Notes that a reconciliation reply for `doc` was ingested and durable; returns
    /// the acknowledgement to send.
    pub fn reply_committed(&mut self, doc: DocId, stored: u32) -> (Message, bool) {
        self.owed_acks.remove(&doc);
        let msg = Message::Ack {
            doc,
            stored,
            reconcile: true,
        };
        (msg, self.settle())
    }

    fn settle(&mut self) -> bool {
        let done = self.hello_received
            && self.awaiting_items.is_empty()
            && self.awaiting_answer.is_empty()
            && self.awaiting_ack.is_empty()
            && self.owed_acks.is_empty();
        if done && !self.reconciled {
            self.reconciled = true;
            return true;
        }
        false
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
                let items = replica.items_except(&doc, &theirs)?;
                step.send.extend(chunk_items(doc, items));
            }
            Message::Decline { doc } => {
                self.require_hello()?;
                if !self.awaiting_answer.remove(&doc) {
                    return Err(Self::protocol(
                        "decline for a document we did not offer alone",
                    ));
                }
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
        }
        step.reconciled = self.settle();
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
    use crate::vault::{Location, Vault};

    struct Side {
        vault: Vault,
        session: Session,
        inbox: VecDeque<Message>,
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
        let (sa, ha) = Session::start(&a, b.device_id().unwrap()).unwrap();
        let (sb, hb) = Session::start(&b, a.device_id().unwrap()).unwrap();
        (
            Side {
                vault: a,
                session: sa,
                inbox: VecDeque::from([hb]),
            },
            Side {
                vault: b,
                session: sb,
                inbox: VecDeque::from([ha]),
            },
        )
    }

    /// Delivers one message to `to`; what it answers goes to `from`'s inbox.
    fn step(to: &mut Side, from: &mut Side) -> Result<bool, SyncError> {
        let Some(msg) = to.inbox.pop_front() else {
            return Ok(false);
        };
        let step = to.session.handle(&to.vault, msg)?;
        from.inbox.extend(step.send);
        for ingest in step.ingest {
            let peer = to.session.peer();
            let checked = to.vault.check(&ingest.doc, &peer, ingest.items)?;
            let stored = checked.accepted.len() as u32;
            to.vault.commit(checked)?;
            if ingest.reply == Some(true) {
                let (ack, _) = to.session.reply_committed(ingest.doc, stored);
                from.inbox.push_back(ack);
            }
        }
        Ok(true)
    }

    fn note(v: &Vault, text: &str) {
        v.add_checkin(&NewCheckIn {
            mood: 3,
            note: text.into(),
            ..Default::default()
        })
        .unwrap();
    }

    #[test]
    fn two_sessions_reconcile_in_memory() {
        let (a, b) = pair();
        note(&a, "from a");
        note(&b, "from b");
        let (mut a, mut b) = start(a, b);
        while step(&mut a, &mut b).unwrap() | step(&mut b, &mut a).unwrap() {}
        assert!(a.session.is_reconciled() && b.session.is_reconciled());
        for side in [&a, &b] {
            let notes: Vec<String> = side
                .vault
                .checkins()
                .unwrap()
                .into_iter()
                .map(|c| c.note)
                .collect();
            assert!(notes.contains(&"from a".into()) && notes.contains(&"from b".into()));
        }
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
        assert!(a.session.push(&a.vault, doc, items).is_none());
    }
}
