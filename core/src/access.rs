//! Who may do what with a document: the signed access records ([`record`]), their
//! evaluation into an access state ([`eval`], a pure function of the set of records),
//! and the log a replica keeps of them ([`log`], which decides what to store). It
//! holds no keys and reads no bundle; the vault and the hub's blind store ask it.
//!
//! The records form a graph: each names the records its signer had seen. The rules
//! (strong removal, the one rule for mutual removals, epochs that commit to their
//! keys) are written out at the top of [`eval`].

pub mod eval;
pub mod log;
pub mod record;

pub use eval::{AccessState, Opening, Removed, Standing, WriteRight};
pub use log::{AccessLog, Admitted, MAX_QUARANTINE, MAX_RECORDS};
pub use record::{
    AclBody, AclError, AclRecord, Action, EpochKey, MAX_PARENTS, MAX_READERS, Mark, Removal, Role,
    doc_id_for,
};

use crate::ids::{BundleId, DeviceId};

/// What a replica knows of a bundle's place in its author's chain: its sequence
/// number and back-link, for checking it against a removal's mark.
pub trait Chain {
    /// The back-link of the author's bundle with this id, if it is known here.
    fn prev_of(&self, bundle: &BundleId) -> Option<Option<BundleId>>;
}

impl<F: Fn(&BundleId) -> Option<Option<BundleId>>> Chain for F {
    fn prev_of(&self, bundle: &BundleId) -> Option<Option<BundleId>> {
        self(bundle)
    }
}

/// Whether a bundle by `author` with this sequence number and id is accepted: its
/// author may write, or was removed and the bundle lies within every mark its
/// removals named (at or below the mark, on the chain that leads to the marked
/// bundle, as far as `chain` can show it).
pub fn bundle_allowed(
    state: &AccessState,
    author: &DeviceId,
    seq: u64,
    id: &BundleId,
    chain: &impl Chain,
) -> bool {
    match state.write_right(author) {
        WriteRight::Yes => true,
        WriteRight::No => false,
        WriteRight::WithinMarks(marks) => marks.iter().all(|mark| match mark {
            None => false,
            Some(mark) => seq <= mark.seq && on_chain(mark, id, chain),
        }),
    }
}

/// Whether `id` is the marked bundle or one of its ancestors by back-link.
fn on_chain(mark: &Mark, id: &BundleId, chain: &impl Chain) -> bool {
    let mut at = mark.bundle;
    // A chain is at most `mark.seq` long; stop there whatever the links claim.
    for _ in 0..=mark.seq {
        if at == *id {
            return true;
        }
        match chain.prev_of(&at) {
            Some(Some(prev)) => at = prev,
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{DeviceKeys, Seed};
    use crate::ids::{AclId, DocId};

    fn device(n: u8) -> DeviceKeys {
        DeviceKeys::derive(&Seed::from_bytes([n; 32])).unwrap()
    }

    /// Builds records by hand, each naming exactly the parents a test chooses (as an
    /// attacker would).
    struct Book {
        doc: DocId,
        records: Vec<AclRecord>,
    }

    impl Book {
        fn new(creator: &DeviceKeys) -> (Self, AclId) {
            let (doc, genesis) = AclRecord::genesis(creator, EpochKey([0; 32])).unwrap();
            let id = genesis.id();
            (
                Book {
                    doc,
                    records: vec![genesis],
                },
                id,
            )
        }

        fn epoch_of(&self, parents: &[AclId]) -> u32 {
            parents
                .iter()
                .filter_map(|p| self.records.iter().find(|r| r.id() == *p))
                .map(|r| r.body().epoch)
                .max()
                .unwrap_or(0)
        }

        fn add(&mut self, by: &DeviceKeys, parents: &[AclId], action: Action) -> AclId {
            let mut parents = parents.to_vec();
            parents.sort();
            let opens = matches!(action, Action::Remove { .. } | Action::Rotate { .. });
            let epoch = self.epoch_of(&parents) + u32::from(opens);
            let r = AclRecord::sign(
                AclBody {
                    doc: self.doc,
                    issuer: by.id(),
                    parents,
                    epoch,
                    action,
                },
                by,
            )
            .unwrap();
            let id = r.id();
            self.records.push(r);
            id
        }

        fn grant(
            &mut self,
            by: &DeviceKeys,
            parents: &[AclId],
            to: &DeviceKeys,
            role: Role,
        ) -> AclId {
            self.add(
                by,
                parents,
                Action::Grant {
                    subject: to.id(),
                    recipient: to.recipient().to_string(),
                    role,
                },
            )
        }

        /// A removal whose new key goes to every device the book ever granted
        /// (with a reading role) but those removed here.
        fn remove(&mut self, by: &DeviceKeys, parents: &[AclId], who: &[&DeviceKeys]) -> AclId {
            let gone: Vec<DeviceId> = who.iter().map(|d| d.id()).collect();
            let mut readers: Vec<DeviceId> = self
                .records
                .iter()
                .filter_map(|r| match &r.body().action {
                    Action::Genesis { .. } => Some(r.body().issuer),
                    Action::Grant { subject, role, .. } if role.reads() => Some(*subject),
                    _ => None,
                })
                .filter(|d| !gone.contains(d))
                .collect();
            readers.sort();
            readers.dedup();
            self.add(
                by,
                parents,
                Action::Remove {
                    removed: who
                        .iter()
                        .map(|d| Removal {
                            subject: d.id(),
                            mark: None,
                        })
                        .collect(),
                    key: EpochKey([self.records.len() as u8; 32]),
                    readers,
                },
            )
        }

        fn state(&self) -> AccessState {
            AccessState::evaluate(self.doc, &self.records)
        }
    }

    #[test]
    fn a_stranger_grants_nothing_and_a_removed_device_holds_nothing() {
        let (a, b, c) = (device(1), device(2), device(3));
        let (mut book, g) = Book::new(&a);
        let add_b = book.grant(&a, &[g], &b, Role::Writer);
        let forged = book.grant(&c, &[g], &device(4), Role::Owner);
        book.remove(&a, &[add_b], &[&b]);
        let state = book.state();
        assert!(state.is_owner(&a.id()));
        assert!(!state.is_valid(&forged));
        assert!(state.member(&device(4).id()).is_none());
        assert!(!state.may_hold(&b.id()));
        assert_eq!(state.key_epoch(), 1);
        assert!(matches!(
            state.write_right(&b.id()),
            WriteRight::WithinMarks(_)
        ));
    }

    #[test]
    fn an_owner_ends_a_devices_access_at_a_time_and_nobody_else_can() {
        let (a, coach, writer) = (device(1), device(2), device(3));
        let (mut book, g) = Book::new(&a);
        let add_w = book.grant(&a, &[g], &writer, Role::Writer);
        let add_c = book.grant(&a, &[add_w], &coach, Role::Commenter);
        let until = |until_ms| Action::Until {
            subject: coach.id(),
            until_ms,
        };
        let later = book.add(&a, &[add_c], until(2_000));
        // Neither a writer nor the coach may set one, on anyone.
        let by_writer = book.add(&writer, &[later], until(1_000));
        let by_coach = book.add(
            &coach,
            &[later],
            Action::Until {
                subject: writer.id(),
                until_ms: 1,
            },
        );
        let on_owner = book.add(
            &coach,
            &[later],
            Action::Until {
                subject: a.id(),
                until_ms: 1,
            },
        );
        let state = book.state();
        assert!(state.is_valid(&later));
        for forged in [by_coach, by_writer, on_owner] {
            assert!(!state.is_valid(&forged));
        }
        assert!(state.may_hold_at(&writer.id(), u64::MAX));
        assert_eq!(state.head_epoch(), 0, "no epoch is opened");
        let c = state.member(&coach.id()).unwrap();
        assert_eq!(c.until_ms, Some(2_000));
        assert!(state.may_hold_at(&coach.id(), 1_999));
        assert!(!state.may_hold_at(&coach.id(), 2_000));
        assert!(state.may_hold(&coach.id()), "still a member until removed");
        assert!(state.may_hold_at(&a.id(), u64::MAX));
        // Of two concurrent ends, the earlier counts; a later one never extends it.
        book.add(&a, &[add_c], until(1_500));
        book.add(&a, &[later], until(5_000));
        assert_eq!(
            book.state().member(&coach.id()).unwrap().until_ms,
            Some(1_500)
        );
    }

    #[test]
    fn the_order_records_arrive_in_changes_nothing() {
        let (a, b, c, d) = (device(1), device(2), device(3), device(4));
        let (mut book, g) = Book::new(&a);
        let add_b = book.grant(&a, &[g], &b, Role::Owner);
        let add_c = book.grant(&b, &[add_b], &c, Role::Owner);
        let rm_b = book.remove(&a, &[add_c], &[&b]);
        book.grant(&b, &[add_c], &d, Role::Owner); // concurrent with its removal: void
        book.grant(&c, &[rm_b], &d, Role::Reader);
        let first = book.state();
        let mut rng = 7u64;
        for _ in 0..20 {
            // Fisher-Yates with a tiny LCG: deterministic, no extra dependency.
            for i in (1..book.records.len()).rev() {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
                book.records.swap(i, (rng >> 33) as usize % (i + 1));
            }
            let again = book.state();
            assert_eq!(
                again.members().collect::<Vec<_>>(),
                first.members().collect::<Vec<_>>()
            );
            assert_eq!(again.heads(), first.heads());
        }
        assert_eq!(first.member(&d.id()).unwrap().role, Role::Reader);
    }

    #[test]
    fn a_back_dated_record_by_a_removed_owner_takes_no_effect() {
        let (a, b, c, x) = (device(1), device(2), device(3), device(9));
        let (mut book, g) = Book::new(&a);
        let add_b = book.grant(&a, &[g], &b, Role::Owner);
        let add_c = book.grant(&a, &[add_b], &c, Role::Owner);
        book.remove(&a, &[add_c], &[&b]);
        // b signs, after its removal, records hung below its own grant.
        let adds_x = book.grant(&b, &[add_b], &x, Role::Owner);
        let removes_c = book.remove(&b, &[add_c], &[&c]);
        let state = book.state();
        assert!(!state.is_valid(&adds_x) && !state.is_valid(&removes_c));
        assert!(state.member(&x.id()).is_none());
        assert!(state.is_owner(&c.id()), "c keeps its standing");
        assert!(state.is_owner(&a.id()));
        assert!(!state.rekey_needed());
    }

    #[test]
    fn mutual_removals_remove_both_and_void_their_other_unseen_records() {
        let (a, b, c, x) = (device(1), device(2), device(3), device(9));
        let (mut book, g) = Book::new(&a);
        let add_b = book.grant(&a, &[g], &b, Role::Owner);
        let add_c = book.grant(&a, &[add_b], &c, Role::Owner);
        let a_removes_b = book.remove(&a, &[add_c], &[&b]);
        let b_removes_a = book.remove(&b, &[add_c], &[&a]);
        let b_adds_x = book.grant(&b, &[b_removes_a], &x, Role::Owner);
        let state = book.state();
        assert!(state.is_valid(&a_removes_b) && state.is_valid(&b_removes_a));
        assert!(!state.is_valid(&b_adds_x));
        for d in [&a, &b] {
            let removed = state.member(&d.id()).unwrap().removed.clone().unwrap();
            assert!(removed.mutual);
        }
        assert!(state.is_owner(&c.id()));
        assert!(state.rekey_needed(), "the newest key reached a or b");
        let rotate = book.add(
            &c,
            &[a_removes_b, b_adds_x],
            Action::Rotate {
                key: EpochKey([42; 32]),
                readers: vec![c.id()],
            },
        );
        let state = book.state();
        assert!(state.is_valid(&rotate));
        assert_eq!(state.key_epoch(), 2);
        assert!(!state.rekey_needed());
    }

    #[test]
    fn a_removal_wins_over_a_concurrent_grant_of_the_same_device_in_any_order() {
        let (a, b) = (device(1), device(2));
        for n in 10..26 {
            let x = device(n);
            let (mut book, g) = Book::new(&a);
            let add_b = book.grant(&a, &[g], &b, Role::Owner);
            let add_x = book.grant(&a, &[add_b], &x, Role::Reader);
            book.remove(&b, &[add_x], &[&x]);
            // A grants X again, not having seen B's removal of it.
            book.grant(&a, &[add_x], &x, Role::Owner);
            let state = book.state();
            assert!(
                state.member(&x.id()).unwrap().removed.is_some(),
                "X came back (device seed {n})"
            );
        }
    }

    #[test]
    fn a_removal_that_undercuts_the_standing_of_its_remover_stands_with_it() {
        let (a, d, e) = (device(1), device(2), device(3));
        let (mut book, g) = Book::new(&a);
        let add_d = book.grant(&a, &[g], &d, Role::Owner);
        // A removes D, while D (not having seen it) adds E and E removes A: each side
        // undoes the other (A's removal voids D's grant of E), so both stand.
        let a_removes_d = book.remove(&a, &[add_d], &[&d]);
        let add_e = book.grant(&d, &[add_d], &e, Role::Owner);
        let e_removes_a = book.remove(&e, &[add_e], &[&a]);
        let state = book.state();
        assert!(state.is_valid(&a_removes_d) && state.is_valid(&e_removes_a));
        assert!(!state.is_valid(&add_e), "D's grant did not see its removal");
        for x in [&a, &d] {
            assert!(
                state
                    .member(&x.id())
                    .unwrap()
                    .removed
                    .as_ref()
                    .unwrap()
                    .mutual
            );
        }
        assert!(!state.may_hold(&e.id()));
        // Whatever order a replica received them in, it weighs the same records: the
        // log keeps a void removal its signer could make.
        let mut log = AccessLog::new(book.doc);
        let mut records = book.records.clone();
        records.reverse();
        for r in records {
            log.admit(vec![r]);
        }
        assert!(log.contains(&e_removes_a) && log.contains(&add_e));
        assert_eq!(
            log.state().members().collect::<Vec<_>>(),
            state.members().collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_removed_device_stays_removed_and_a_stale_recovery_key_adds_nobody() {
        let (a, b, r, new) = (device(1), device(2), device(5), device(6));
        let (mut book, g) = Book::new(&a);
        let add_b = book.grant(&a, &[g], &b, Role::Owner);
        let add_r = book.grant(&a, &[add_b], &r, Role::Recovery);
        let rm = book.remove(&a, &[add_r], &[&b, &r]);
        let readd_b = book.grant(&a, &[rm], &b, Role::Owner);
        let restore = book.grant(&r, &[add_r], &new, Role::Owner);
        let state = book.state();
        assert!(!state.is_valid(&readd_b), "a removed key never comes back");
        assert!(!state.is_valid(&restore), "the backup's key was rotated");
        assert!(!state.may_hold(&b.id()) && state.member(&new.id()).is_none());
    }

    #[test]
    fn records_with_a_wrong_epoch_or_a_missing_parent_take_no_part() {
        let (a, b) = (device(1), device(2));
        let (mut book, g) = Book::new(&a);
        let bad = AclRecord::sign(
            AclBody {
                doc: book.doc,
                issuer: a.id(),
                parents: vec![g],
                epoch: 7,
                action: Action::Grant {
                    subject: b.id(),
                    recipient: b.recipient().to_string(),
                    role: Role::Owner,
                },
            },
            &a,
        )
        .unwrap();
        let bad_id = bad.id();
        book.records.push(bad);
        let child = book.grant(&a, &[bad_id], &device(3), Role::Owner);
        let orphan = book.grant(&a, &[AclId([9; 32])], &device(4), Role::Owner);
        let state = book.state();
        for id in [bad_id, child, orphan] {
            assert!(!state.is_valid(&id));
        }
        assert_eq!(state.members().count(), 1);
    }

    #[test]
    fn concurrent_removals_leave_a_key_to_rotate() {
        let (a, b, c, d) = (device(1), device(2), device(3), device(4));
        let (mut book, g) = Book::new(&a);
        let add_b = book.grant(&a, &[g], &b, Role::Owner);
        let add_c = book.grant(&a, &[add_b], &c, Role::Reader);
        let add_d = book.grant(&a, &[add_c], &d, Role::Reader);
        let readers = |v: &[&DeviceKeys]| {
            let mut ids: Vec<_> = v.iter().map(|d| d.id()).collect();
            ids.sort();
            ids
        };
        book.add(
            &a,
            &[add_d],
            Action::Remove {
                removed: vec![Removal {
                    subject: c.id(),
                    mark: None,
                }],
                key: EpochKey([1; 32]),
                readers: readers(&[&a, &b, &d]),
            },
        );
        book.add(
            &b,
            &[add_d],
            Action::Remove {
                removed: vec![Removal {
                    subject: d.id(),
                    mark: None,
                }],
                key: EpochKey([2; 32]),
                readers: readers(&[&a, &b, &c]),
            },
        );
        let state = book.state();
        assert_eq!(state.openings(1).len(), 2);
        assert!(state.rekey_needed());
        assert!(!state.may_receive_key(&c.id(), 1) && !state.may_receive_key(&d.id(), 1));
        assert!(state.may_receive_key(&c.id(), 0), "history stays readable");
        assert_eq!(state.readers(), readers(&[&a, &b]).into_iter().collect());
    }

    #[test]
    fn bundles_of_a_removed_device_stand_only_within_its_mark() {
        let (a, b) = (device(1), device(2));
        let (mut book, g) = Book::new(&a);
        let add_b = book.grant(&a, &[g], &b, Role::Writer);
        let (b1, b2, b3, forged) = (
            BundleId([1; 32]),
            BundleId([2; 32]),
            BundleId([3; 32]),
            BundleId([4; 32]),
        );
        book.add(
            &a,
            &[add_b],
            Action::Remove {
                removed: vec![Removal {
                    subject: b.id(),
                    mark: Some(Mark { seq: 2, bundle: b2 }),
                }],
                key: EpochKey([1; 32]),
                readers: vec![a.id()],
            },
        );
        let state = book.state();
        let chain = |id: &BundleId| match id.0[0] {
            1 => Some(None),
            2 => Some(Some(b1)),
            3 => Some(Some(b2)),
            _ => None,
        };
        assert!(bundle_allowed(&state, &b.id(), 1, &b1, &chain));
        assert!(bundle_allowed(&state, &b.id(), 2, &b2, &chain));
        assert!(
            !bundle_allowed(&state, &b.id(), 3, &b3, &chain),
            "past the mark"
        );
        assert!(
            !bundle_allowed(&state, &b.id(), 1, &forged, &chain),
            "a fork within the mark's number is not on its chain"
        );
        assert!(bundle_allowed(&state, &a.id(), 99, &forged, &chain));
    }

    #[test]
    fn the_log_stores_only_records_with_authority_and_waits_for_parents() {
        let (a, b, c) = (device(1), device(2), device(3));
        let (mut book, _) = Book::new(&a);
        let g = book.records[0].clone();
        let add_b = book.grant(&a, &[g.id()], &b, Role::Owner);
        let add_c = book.grant(&b, &[add_b], &c, Role::Reader);
        let stranger = book.grant(&c, &[add_c], &device(7), Role::Owner);
        let rec = |id: AclId| book.records.iter().find(|r| r.id() == id).unwrap().clone();

        let mut log = AccessLog::new(book.doc);
        let first = log.admit(vec![g.clone(), rec(add_c)]);
        assert_eq!(first.stored.len(), 1);
        assert_eq!(first.waiting, 1, "add_c waits for add_b");
        let second = log.admit(vec![rec(add_b), rec(stranger), g.clone()]);
        assert_eq!(second.duplicates, 1);
        assert_eq!(second.stored.len(), 2, "add_b and add_c: {second:?}");
        assert_eq!(second.rejected.len(), 1, "a reader cannot grant");
        assert!(!log.contains(&stranger));
        assert_eq!(log.len(), 3);
        assert_eq!(log.state().member(&c.id()).unwrap().role, Role::Reader);

        let orphans: Vec<AclRecord> = (0..MAX_QUARANTINE + 5)
            .map(|i| {
                let mut missing = [0xee; 32];
                missing[..2].copy_from_slice(&(i as u16).to_le_bytes());
                let parents = vec![AclId(missing)];
                AclRecord::sign(
                    AclBody {
                        doc: book.doc,
                        issuer: a.id(),
                        parents,
                        epoch: 0,
                        action: Action::Grant {
                            subject: c.id(),
                            recipient: c.recipient().to_string(),
                            role: Role::Owner,
                        },
                    },
                    &a,
                )
                .unwrap()
            })
            .collect();
        let flood = log.admit(orphans);
        assert_eq!(flood.waiting + flood.rejected.len(), MAX_QUARANTINE + 5);
        assert!(flood.waiting <= MAX_QUARANTINE);
    }
}
