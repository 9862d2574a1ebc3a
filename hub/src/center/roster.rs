//! Who gets a place: one session's sign-ups in the order they reached the hub, and the
//! rules that decide them. A new sign-up is confirmed while places are free and
//! wait-listed after; when a place frees (a withdrawal, a cancellation by staff, staff
//! moving someone to the wait-list, more places), the earliest wait-listed sign-up that
//! staff have not held back is promoted; nobody confirmed is ever moved down except by
//! staff. Pure functions over a session's entries: the store serializes calls, so
//! twenty sign-ups arriving at once are decided one after another.

use hearth_core::center::{Pseudonym, SignUpId, SignUpStatus};
use serde::{Deserialize, Serialize};

/// Where a sign-up stands on the roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Place {
    /// Holds a place.
    Confirmed,
    /// Waits; `held` when staff put it there (it is not promoted automatically).
    Waitlisted {
        /// Put there by staff.
        held: bool,
    },
    /// The member withdrew.
    Withdrawn,
    /// Staff cancelled it (or the session).
    Cancelled,
}

/// One sign-up on a roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its id (made on the member's device).
    pub id: SignUpId,
    /// The member, as this center knows them.
    #[serde(with = "pseudonym_bytes")]
    pub member: Pseudonym,
    /// The nickname given.
    pub nickname: String,
    /// The note to staff.
    pub note: String,
    /// When it reached the hub (hub's clock).
    pub arrived_ms: u64,
    /// Where it stands.
    pub place: Place,
    /// Staff marked the member present.
    pub attended: bool,
}

mod pseudonym_bytes {
    use hearth_core::center::Pseudonym;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(p: &Pseudonym, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&p.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Pseudonym, D::Error> {
        let v = <&[u8]>::deserialize(d)?;
        <[u8; 32]>::try_from(v)
            .map(Pseudonym)
            .map_err(|_| serde::de::Error::custom("pseudonym length"))
    }
}

/// What staff can do to one sign-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffAction {
    /// Give it a place (even past capacity: staff decide).
    Confirm,
    /// Put it on the wait-list and keep it there until staff confirm it.
    Waitlist,
    /// Cancel it.
    Cancel,
    /// Mark the member present, or not.
    Attended(bool),
}

impl StaffAction {
    /// The action a console form names.
    pub fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "confirm" => StaffAction::Confirm,
            "waitlist" => StaffAction::Waitlist,
            "cancel" => StaffAction::Cancel,
            "attended" => StaffAction::Attended(true),
            "absent" => StaffAction::Attended(false),
            _ => return None,
        })
    }
}

/// Places taken.
pub fn confirmed(entries: &[Entry]) -> usize {
    entries
        .iter()
        .filter(|e| e.place == Place::Confirmed)
        .count()
}

/// Sign-ups waiting.
pub fn waiting(entries: &[Entry]) -> usize {
    entries
        .iter()
        .filter(|e| matches!(e.place, Place::Waitlisted { .. }))
        .count()
}

/// Adds a sign-up that just arrived: confirmed if a place is free, else wait-listed.
pub fn admit(entries: &mut Vec<Entry>, mut entry: Entry, capacity: u16) {
    entry.place = if confirmed(entries) < usize::from(capacity) {
        Place::Confirmed
    } else {
        Place::Waitlisted { held: false }
    };
    entries.push(entry);
}

/// Promotes the earliest wait-listed sign-ups staff have not held back into free
/// places. Returns how many were promoted.
pub fn fill(entries: &mut [Entry], capacity: u16) -> usize {
    let mut free = usize::from(capacity).saturating_sub(confirmed(entries));
    let mut promoted = 0;
    for e in entries.iter_mut() {
        if free == 0 {
            break;
        }
        if e.place == (Place::Waitlisted { held: false }) {
            e.place = Place::Confirmed;
            free -= 1;
            promoted += 1;
        }
    }
    promoted
}

/// The member withdrew `id`; its place goes to the wait-list.
pub fn withdraw(entries: &mut [Entry], id: SignUpId, capacity: u16) -> bool {
    let Some(e) = entries.iter_mut().find(|e| e.id == id) else {
        return false;
    };
    e.place = Place::Withdrawn;
    fill(entries, capacity);
    true
}

/// Applies a staff action to `id`; a place it frees goes to the wait-list. A
/// withdrawal is the member's own choice: staff may mark attendance on it, nothing
/// else (returns false).
pub fn act(entries: &mut [Entry], id: SignUpId, action: StaffAction, capacity: u16) -> bool {
    let Some(e) = entries.iter_mut().find(|e| e.id == id) else {
        return false;
    };
    if e.place == Place::Withdrawn && !matches!(action, StaffAction::Attended(_)) {
        return false;
    }
    match action {
        StaffAction::Confirm => e.place = Place::Confirmed,
        StaffAction::Waitlist => e.place = Place::Waitlisted { held: true },
        StaffAction::Cancel => e.place = Place::Cancelled,
        StaffAction::Attended(present) => e.attended = present,
    }
    fill(entries, capacity);
    true
}

/// The whole session is cancelled: every sign-up with it.
pub fn cancel_all(entries: &mut [Entry]) {
    for e in entries.iter_mut() {
        if e.place != Place::Withdrawn {
            e.place = Place::Cancelled;
        }
    }
}

/// Each entry's status as the member sees it, wait-list positions counted in arrival
/// order.
pub fn statuses(entries: &[Entry]) -> Vec<(SignUpId, SignUpStatus)> {
    let mut position = 0u16;
    entries
        .iter()
        .map(|e| {
            let status = match e.place {
                Place::Confirmed => SignUpStatus::Confirmed,
                Place::Waitlisted { .. } => {
                    position = position.saturating_add(1);
                    SignUpStatus::Waitlisted { position }
                }
                Place::Withdrawn => SignUpStatus::Withdrawn,
                Place::Cancelled => SignUpStatus::Cancelled,
            };
            (e.id, status)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8) -> Entry {
        Entry {
            id: SignUpId(ulid::Ulid::from_parts(u64::from(n), 0)),
            member: Pseudonym([n; 32]),
            nickname: format!("m{n}"),
            note: String::new(),
            arrived_ms: u64::from(n),
            place: Place::Cancelled,
            attended: false,
        }
    }

    fn places(entries: &[Entry]) -> Vec<SignUpStatus> {
        statuses(entries).into_iter().map(|(_, s)| s).collect()
    }

    #[test]
    fn places_go_in_arrival_order_and_the_rest_wait_in_line() {
        let mut r = Vec::new();
        for n in 0..4 {
            admit(&mut r, entry(n), 2);
        }
        assert_eq!(
            places(&r),
            vec![
                SignUpStatus::Confirmed,
                SignUpStatus::Confirmed,
                SignUpStatus::Waitlisted { position: 1 },
                SignUpStatus::Waitlisted { position: 2 },
            ]
        );
    }

    #[test]
    fn a_withdrawal_promotes_the_first_in_line_and_staff_holds_are_skipped() {
        let mut r = Vec::new();
        for n in 0..4 {
            admit(&mut r, entry(n), 2);
        }
        let id = r[2].id;
        act(&mut r, id, StaffAction::Waitlist, 2);
        let first = r[0].id;
        assert!(withdraw(&mut r, first, 2));
        assert_eq!(r[2].place, Place::Waitlisted { held: true });
        assert_eq!(r[3].place, Place::Confirmed);
        let id = r[2].id;
        act(&mut r, id, StaffAction::Confirm, 2);
        // Staff may go past capacity; nobody confirmed is moved down.
        assert_eq!(confirmed(&r), 3);
        let id = r[1].id;
        act(&mut r, id, StaffAction::Cancel, 2);
        assert_eq!(confirmed(&r), 2);
        assert_eq!(waiting(&r), 0);
    }

    #[test]
    fn cancelling_the_session_cancels_all_but_withdrawals() {
        let mut r = Vec::new();
        for n in 0..3 {
            admit(&mut r, entry(n), 1);
        }
        let id = r[0].id;
        withdraw(&mut r, id, 1);
        // Staff cannot undo a member's withdrawal.
        let first = r[0].id;
        assert!(!act(&mut r, first, StaffAction::Confirm, 1));
        cancel_all(&mut r);
        assert_eq!(
            places(&r),
            vec![
                SignUpStatus::Withdrawn,
                SignUpStatus::Cancelled,
                SignUpStatus::Cancelled
            ]
        );
        assert!(StaffAction::from_key("attended").is_some());
        assert!(StaffAction::from_key("drop table").is_none());
    }
}
