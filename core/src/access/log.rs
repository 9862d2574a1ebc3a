//! The access log a replica keeps for one document: the records it stores, the records
//! waiting for their parents (a bounded quarantine), and the evaluated state. It
//! decides what to store: a record is kept only if it takes effect, or it is a
//! removal its signer could make (a void removal still weighs in a conflict of
//! removals, so every replica must weigh the same ones), or a kept record descends
//! from it; everything else is neither stored nor forwarded. It does not touch the
//! disk (its caller writes what it admits).

use std::collections::{BTreeMap, BTreeSet};

use super::eval::AccessState;
use super::record::AclRecord;
use crate::ids::{AclId, DocId};

/// The most records held waiting for their parents, per document.
pub const MAX_QUARANTINE: usize = 256;
/// The most records one document's log may hold.
pub const MAX_RECORDS: usize = 10_000;

/// What became of records offered to the log.
#[derive(Debug, Default)]
pub struct Admitted {
    /// Records now stored, in the order to store them.
    pub stored: Vec<AclRecord>,
    /// Records already held (or already waiting).
    pub duplicates: usize,
    /// Records waiting for parents that have not arrived.
    pub waiting: usize,
    /// Records refused, with why.
    pub rejected: Vec<String>,
}

/// One document's access log.
#[derive(Debug, Clone)]
pub struct AccessLog {
    doc: DocId,
    records: BTreeMap<AclId, AclRecord>,
    quarantine: BTreeMap<AclId, AclRecord>,
    state: AccessState,
}

impl AccessLog {
    /// An empty log for `doc`.
    pub fn new(doc: DocId) -> Self {
        AccessLog {
            doc,
            records: BTreeMap::new(),
            quarantine: BTreeMap::new(),
            state: AccessState::evaluate(doc, []),
        }
    }

    /// The log from records this replica stored earlier (admitted then).
    pub fn from_stored(doc: DocId, records: impl IntoIterator<Item = AclRecord>) -> Self {
        let records: BTreeMap<AclId, AclRecord> = records
            .into_iter()
            .filter(|r| r.body().doc == doc)
            .map(|r| (r.id(), r))
            .collect();
        let state = AccessState::evaluate(doc, records.values());
        AccessLog {
            doc,
            records,
            quarantine: BTreeMap::new(),
            state,
        }
    }

    /// The evaluated state.
    pub fn state(&self) -> &AccessState {
        &self.state
    }

    /// Every stored record.
    pub fn records(&self) -> impl Iterator<Item = &AclRecord> {
        self.records.values()
    }

    /// How many records are stored.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record is stored.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Whether a record is stored.
    pub fn contains(&self, id: &AclId) -> bool {
        self.records.contains_key(id)
    }

    /// Offers records from a peer (or a backup). See the module doc for what is kept.
    pub fn admit(&mut self, incoming: Vec<AclRecord>) -> Admitted {
        let mut out = Admitted::default();
        let mut candidates: BTreeMap<AclId, AclRecord> = std::mem::take(&mut self.quarantine);
        for r in incoming {
            if r.body().doc != self.doc {
                out.rejected
                    .push("access record for another document".into());
            } else if self.records.contains_key(&r.id()) || candidates.contains_key(&r.id()) {
                out.duplicates += 1;
            } else {
                candidates.insert(r.id(), r);
            }
        }
        if candidates.is_empty() {
            return out;
        }
        // Complete: every parent is stored or itself complete.
        let mut complete: BTreeSet<AclId> = BTreeSet::new();
        loop {
            let before = complete.len();
            for (id, r) in &candidates {
                if !complete.contains(id)
                    && r.body()
                        .parents
                        .iter()
                        .all(|p| self.records.contains_key(p) || complete.contains(p))
                {
                    complete.insert(*id);
                }
            }
            if complete.len() == before {
                break;
            }
        }
        let mut ready = Vec::new();
        for (id, r) in candidates {
            if complete.contains(&id) {
                ready.push(r);
            } else if self.quarantine.len() < MAX_QUARANTINE {
                self.quarantine.insert(id, r);
                out.waiting += 1;
            } else {
                out.rejected
                    .push("too many access records are waiting for their parents".into());
            }
        }
        if ready.is_empty() {
            return out;
        }
        if self.records.len() + ready.len() > MAX_RECORDS {
            out.rejected.push(format!(
                "the document's access log is full ({MAX_RECORDS} records)"
            ));
            return out;
        }
        let trial = AccessState::evaluate(self.doc, self.records.values().chain(ready.iter()));
        let keep = kept(&trial, &ready);
        let offered = ready.len();
        let mut stored = Vec::new();
        for r in ready {
            if keep.contains(&r.id()) {
                stored.push(r);
            } else {
                out.rejected
                    .push("its issuer has no authority over this document".into());
            }
        }
        if stored.is_empty() {
            return out;
        }
        for r in &stored {
            self.records.insert(r.id(), r.clone());
        }
        // Refused records took no effect, but they were heads of the trial.
        self.state = if stored.len() == offered {
            trial
        } else {
            AccessState::evaluate(self.doc, self.records.values())
        };
        out.stored = stored;
        out
    }

    /// Adds a record this replica just signed. It must take effect.
    pub fn add_own(&mut self, record: AclRecord) -> Result<(), &'static str> {
        let trial = AccessState::evaluate(
            self.doc,
            self.records.values().chain(std::iter::once(&record)),
        );
        if !trial.is_valid(&record.id()) {
            return Err("the record would not take effect");
        }
        self.records.insert(record.id(), record);
        self.state = trial;
        Ok(())
    }
}

/// The new records to keep: those that take effect, removals their signers could make
/// (a void one can still weigh in a conflict, so every replica must hold it), and
/// their new ancestors.
fn kept(trial: &AccessState, ready: &[AclRecord]) -> BTreeSet<AclId> {
    let new: BTreeMap<AclId, &AclRecord> = ready.iter().map(|r| (r.id(), r)).collect();
    let mut keep = BTreeSet::new();
    let mut stack: Vec<AclId> = new
        .keys()
        .filter(|id| trial.is_valid(id) || trial.is_signed_removal(id))
        .copied()
        .collect();
    while let Some(id) = stack.pop() {
        if !keep.insert(id) {
            continue;
        }
        if let Some(r) = new.get(&id) {
            stack.extend(r.body().parents.iter().filter(|p| new.contains_key(p)));
        }
    }
    keep
}
