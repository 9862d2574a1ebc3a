//! What a center offers and what a member asks of it, as plain types with validation:
//! programs and their sessions (with counts of places taken and wait-listed, never
//! names), the resource directory, members' proposals (with a count of interested
//! members, never who), the flyer that carries them all, and a member's sign-ups with
//! their status. How they travel is `wire`'s business; where they are kept, the hub's
//! and the vault's.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::DeviceId;
use crate::model::{ValidationError, check_line, check_text};

macro_rules! number_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, ValidationError> {
                s.trim().parse().map($name).map_err(|_| ValidationError::BadText {
                    field: $what,
                    reason: "is not a number",
                })
            }
        }
    };
}

number_id!(
    /// A program's number at its center.
    ProgramId,
    "program id"
);
number_id!(
    /// A session's number at its center (what `hearth signup` takes).
    SessionId,
    "session id"
);
number_id!(
    /// A proposal's number at its center.
    ProposalId,
    "proposal id"
);
number_id!(
    /// A resource's number in its center's directory.
    ResourceId,
    "resource id"
);

/// A sign-up's id: a ULID made on the member's device, so a sign-up made offline has
/// its id before it reaches the hub and sending it twice (from two devices) is one
/// sign-up.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct SignUpId(pub ulid::Ulid);

impl SignUpId {
    /// A new id, made now.
    pub fn new(at_ms: u64) -> Self {
        let random = u128::from_le_bytes(crate::crypto::random_bytes());
        SignUpId(ulid::Ulid::from_parts(at_ms, random))
    }
}

impl fmt::Display for SignUpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for SignUpId {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        ulid::Ulid::from_string(s.trim())
            .map(SignUpId)
            .map_err(|_| ValidationError::BadText {
                field: "sign-up id",
                reason: "is not a ULID",
            })
    }
}

impl From<SignUpId> for String {
    fn from(id: SignUpId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for SignUpId {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        s.parse()
    }
}

/// Bounds on what a center publishes and a member sends (characters).
pub mod limits {
    /// A title, a name, a nickname.
    pub const TITLE: usize = 100;
    /// A nickname a member signs up under.
    pub const NICKNAME: usize = 40;
    /// A description, accessibility notes, a note to staff.
    pub const TEXT: usize = 1_000;
    /// A place, hours, a way to reach a partner, a facilitator, "when".
    pub const LINE: usize = 200;
    /// A session's places.
    pub const CAPACITY: u16 = 1_000;
    /// Programs, sessions, resources and proposals a flyer may list.
    pub const FLYER_ENTRIES: usize = 2_000;
    /// How far ahead of a session a reminder may be set, in minutes (a week).
    pub const REMIND_MINUTES: u16 = 7 * 24 * 60;
}

macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($(#[$vdoc:meta])* $variant:ident = $key:literal / $label:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in the order they are offered.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The short name used on the command line and in forms.
            pub fn key(self) -> &'static str {
                match self { $($name::$variant => $key),+ }
            }

            /// The words a person reads.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, ValidationError> {
                let s = s.trim();
                $name::ALL
                    .iter()
                    .copied()
                    .find(|k| k.key().eq_ignore_ascii_case(s))
                    .ok_or_else(|| ValidationError::Unknown {
                        what: $what,
                        got: s.chars().take(40).collect(),
                        expected: $name::ALL.iter().map(|k| k.key()).collect::<Vec<_>>().join(", "),
                    })
            }
        }
    };
}

named_enum!(
    /// What kind of program it is.
    ProgramKind, "program kind", {
        /// A peer support group.
        SupportGroup = "support-group" / "Support group",
        /// A workshop or class.
        Workshop = "workshop" / "Workshop",
        /// Art, music, writing.
        Art = "art" / "Art",
        /// Yoga, movement, exercise.
        Yoga = "yoga" / "Yoga and movement",
        /// A community meal.
        Meal = "meal" / "Community meal",
        /// Help with housing.
        Housing = "housing" / "Housing help",
        /// Help with work.
        Jobs = "jobs" / "Job help",
        /// Anything else.
        Other = "other" / "Other",
    }
);

named_enum!(
    /// What a partner in the resource directory helps with.
    ResourceKind, "resource kind", {
        /// Shelters, housing programs.
        Housing = "housing" / "Housing",
        /// Jobs and training.
        Employment = "employment" / "Employment",
        /// Legal aid.
        Legal = "legal" / "Legal help",
        /// Clinics, treatment, counselling.
        Clinical = "clinical" / "Clinical services",
        /// Food banks, meals.
        Food = "food" / "Food",
        /// Anything else.
        Other = "other" / "Other",
    }
);

/// A program as staff describe it (what the console's form holds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramDraft {
    /// "Tuesday peer support".
    pub title: String,
    /// What kind.
    pub kind: ProgramKind,
    /// What happens there.
    pub description: String,
    /// The facilitator's first name or role, never a full name unless they choose.
    pub facilitator: String,
    /// Where.
    pub place: String,
    /// Step-free access, quiet room, interpreter...
    pub accessibility: String,
}

impl ProgramDraft {
    /// Who, where and access in one line ("with Dee · Room 2 · access: step-free"),
    /// empty when none is given.
    pub fn facts(&self) -> String {
        let mut facts = Vec::new();
        if !self.facilitator.is_empty() {
            facts.push(format!("with {}", self.facilitator));
        }
        if !self.place.is_empty() {
            facts.push(self.place.clone());
        }
        if !self.accessibility.is_empty() {
            facts.push(format!("access: {}", self.accessibility.replace('\n', " ")));
        }
        facts.join(" · ")
    }

    /// Checks every field's bounds.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_line("title", &self.title, limits::TITLE)?;
        check_text("description", &self.description, limits::TEXT)?;
        check_optional_line("facilitator", &self.facilitator, limits::LINE)?;
        check_optional_line("place", &self.place, limits::LINE)?;
        check_text("accessibility notes", &self.accessibility, limits::TEXT)
    }
}

/// A program the center publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    /// Its number.
    pub id: ProgramId,
    /// What staff wrote.
    pub draft: ProgramDraft,
}

/// One session of a program: when, how many places, and how many are taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Its number (what `hearth signup` takes).
    pub id: SessionId,
    /// Its program.
    pub program: ProgramId,
    /// When it starts, ms since the Unix epoch.
    pub starts_ms: u64,
    /// When it ends.
    pub ends_ms: u64,
    /// Places.
    pub capacity: u16,
    /// Cancelled by staff.
    pub cancelled: bool,
    /// Places taken (confirmed sign-ups).
    pub taken: u16,
    /// Sign-ups on the wait-list.
    pub waiting: u16,
}

impl Session {
    /// Places still free.
    pub fn places_left(&self) -> u16 {
        self.capacity.saturating_sub(self.taken)
    }

    /// Its places in words: "cancelled", "2 of 5 places left", "full, 3 on the
    /// wait-list".
    pub fn places_words(&self) -> String {
        if self.cancelled {
            "cancelled".to_owned()
        } else if self.places_left() > 0 {
            format!(
                "{} of {} place{} left",
                self.places_left(),
                self.capacity,
                if self.capacity == 1 { "" } else { "s" }
            )
        } else if self.waiting == 0 {
            "full: a sign-up goes on the wait-list".to_owned()
        } else {
            format!("full, {} on the wait-list", self.waiting)
        }
    }
}

/// Checks a new session's times and places.
pub fn check_session(starts_ms: u64, ends_ms: u64, capacity: u16) -> Result<(), ValidationError> {
    if ends_ms <= starts_ms {
        return Err(ValidationError::BadText {
            field: "session",
            reason: "must end after it starts",
        });
    }
    if capacity == 0 || capacity > limits::CAPACITY {
        return Err(ValidationError::OutOfRange {
            field: "capacity",
            min: 1.0,
            max: f64::from(limits::CAPACITY),
            got: f64::from(capacity),
        });
    }
    Ok(())
}

/// A partner the center refers people to, as staff describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDraft {
    /// The partner's name.
    pub name: String,
    /// What it helps with.
    pub kind: ResourceKind,
    /// What exactly, in a few words.
    pub description: String,
    /// When it is open.
    pub hours: String,
    /// How to reach it (address, phone, walk-in).
    pub contact: String,
}

impl ResourceDraft {
    /// Checks every field's bounds.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_line("name", &self.name, limits::TITLE)?;
        check_text("description", &self.description, limits::TEXT)?;
        check_optional_line("hours", &self.hours, limits::LINE)?;
        check_optional_line("contact", &self.contact, limits::LINE)
    }
}

/// An entry of the resource directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// Its number.
    pub id: ResourceId,
    /// What staff wrote.
    pub draft: ResourceDraft,
}

/// An activity a member proposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalDraft {
    /// What.
    pub title: String,
    /// When it could happen ("Saturday mornings").
    pub when: String,
    /// Anything else: who could lead it, what it needs.
    pub note: String,
}

impl ProposalDraft {
    /// Checks every field's bounds.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_line("title", &self.title, limits::TITLE)?;
        check_optional_line("when", &self.when, limits::LINE)?;
        check_text("note", &self.note, limits::TEXT)
    }
}

/// A proposal as everyone sees it: how many are interested, never who.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Its number.
    pub id: ProposalId,
    /// What the member wrote.
    pub draft: ProposalDraft,
    /// Members who showed interest (each counted once, whichever devices they used).
    pub interested: u32,
    /// The program staff made of it, if they did.
    pub program: Option<ProgramId>,
}

/// Everything a center publishes to enrolled devices: its flyer. Signed by the hub
/// (`SignedFlyer`); a device keeps the newest one it has checked and reads it offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flyer {
    /// The hub that signed it.
    pub hub: DeviceId,
    /// Grows with every change (a device keeps the newest).
    pub version: u64,
    /// When it was made, ms since the Unix epoch (hub's clock).
    pub issued_ms: u64,
    /// Programs.
    pub programs: Vec<Program>,
    /// Their sessions, soonest first.
    pub sessions: Vec<Session>,
    /// The resource directory.
    pub resources: Vec<Resource>,
    /// Members' proposals, most interest first.
    pub proposals: Vec<Proposal>,
}

impl Flyer {
    /// An empty flyer (a center that has published nothing yet).
    pub fn empty(hub: DeviceId) -> Self {
        Flyer {
            hub,
            version: 0,
            issued_ms: 0,
            programs: Vec::new(),
            sessions: Vec::new(),
            resources: Vec::new(),
            proposals: Vec::new(),
        }
    }

    /// A program by number.
    pub fn program(&self, id: ProgramId) -> Option<&Program> {
        self.programs.iter().find(|p| p.id == id)
    }

    /// A session by number.
    pub fn session(&self, id: SessionId) -> Option<&Session> {
        self.sessions.iter().find(|s| s.id == id)
    }
}

/// Where a sign-up stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignUpStatus {
    /// Made on a device, not yet decided by the hub (it is decided when it arrives).
    Pending,
    /// A place is held.
    Confirmed,
    /// On the wait-list, at this position (1 = next).
    Waitlisted {
        /// 1 = the next to get a place.
        position: u16,
    },
    /// The member withdrew.
    Withdrawn,
    /// Staff cancelled it, or the session.
    Cancelled,
    /// The hub does not know it: the session ended and it was deleted, or it never
    /// existed there.
    Gone,
}

impl SignUpStatus {
    /// In plain words.
    pub fn describe(self) -> String {
        match self {
            SignUpStatus::Pending => "waiting to reach the center".into(),
            SignUpStatus::Confirmed => "confirmed".into(),
            SignUpStatus::Waitlisted { position } => format!("wait-listed (number {position})"),
            SignUpStatus::Withdrawn => "withdrawn".into(),
            SignUpStatus::Cancelled => "cancelled by the center".into(),
            SignUpStatus::Gone => "no longer at the center".into(),
        }
    }

    /// Whether the member still expects to go (a reminder is due).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            SignUpStatus::Pending | SignUpStatus::Confirmed | SignUpStatus::Waitlisted { .. }
        )
    }
}

/// A sign-up as the member asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewSignUp {
    /// The name this center knows the member by (the member chooses it per center).
    pub nickname: String,
    /// Anything the member wants staff to know.
    pub note: String,
    /// Minutes before the session to remind the member, on their own device.
    pub remind_minutes: Option<u16>,
}

impl NewSignUp {
    /// Checks the nickname, the note and the reminder.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_nickname(&self.nickname)?;
        check_text("note", &self.note, limits::TEXT)?;
        if let Some(m) = self.remind_minutes
            && m > limits::REMIND_MINUTES
        {
            return Err(ValidationError::OutOfRange {
                field: "reminder (minutes before)",
                min: 0.0,
                max: f64::from(limits::REMIND_MINUTES),
                got: f64::from(m),
            });
        }
        Ok(())
    }
}

/// Checks a nickname: one line, at most 40 characters.
pub fn check_nickname(nickname: &str) -> Result<(), ValidationError> {
    check_line("nickname", nickname, limits::NICKNAME)
}

/// One of the member's sign-ups, as the member's devices keep it (in the journal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignUp {
    /// Its id.
    pub id: SignUpId,
    /// The center's hub.
    pub hub: DeviceId,
    /// Which session.
    pub session: SessionId,
    /// The program's title, as the flyer said when signing up.
    pub title: String,
    /// When the session starts and ends (copied from the flyer: reminders work offline).
    pub starts_ms: u64,
    /// When it ends.
    pub ends_ms: u64,
    /// The nickname used.
    pub nickname: String,
    /// The note to staff.
    pub note: String,
    /// Minutes before the start to remind the member.
    pub remind_minutes: Option<u16>,
    /// Where it stands (as the hub last said; `Pending` until it has).
    pub status: SignUpStatus,
    /// Whether the member asked to withdraw (sent to the hub at the next sync).
    pub withdraw: bool,
}

impl SignUp {
    /// When to remind the member, if they asked and it is still wanted.
    pub fn remind_at_ms(&self) -> Option<u64> {
        let minutes = self.remind_minutes?;
        (self.status.is_active() && !self.withdraw)
            .then(|| self.starts_ms.saturating_sub(u64::from(minutes) * 60_000))
    }

    /// The reminder's words, which give nothing away on a lock screen: only the
    /// time, in the device's local time (`utc_offset_minutes` east of UTC).
    pub fn reminder_text(&self, utc_offset_minutes: i32) -> String {
        format!(
            "Hearth: something you signed up for starts at {}",
            crate::center::clock_time(self.starts_ms, utc_offset_minutes)
        )
    }
}

fn check_optional_line(field: &'static str, text: &str, max: usize) -> Result<(), ValidationError> {
    if text.is_empty() {
        return Ok(());
    }
    check_line(field, text, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_from_their_keys_and_list_the_choices_otherwise() {
        assert_eq!(
            "support-group".parse::<ProgramKind>().unwrap(),
            ProgramKind::SupportGroup
        );
        assert_eq!("FOOD".parse::<ResourceKind>().unwrap(), ResourceKind::Food);
        let err = "bowling".parse::<ProgramKind>().unwrap_err().to_string();
        assert!(err.contains("support-group, workshop"), "{err}");
    }

    #[test]
    fn drafts_and_sign_ups_are_bounded() {
        let mut p = ProgramDraft {
            title: "Art".into(),
            kind: ProgramKind::Art,
            description: String::new(),
            facilitator: "Jo".into(),
            place: String::new(),
            accessibility: String::new(),
        };
        p.validate().unwrap();
        p.title = "x\ny".into();
        assert!(p.validate().is_err());
        assert!(check_session(10, 10, 5).is_err());
        assert!(check_session(10, 20, 0).is_err());
        check_session(10, 20, 5).unwrap();
        let mut s = NewSignUp {
            nickname: "<script>alert(1)</script>".into(),
            ..Default::default()
        };
        s.validate().unwrap();
        s.nickname = "a".repeat(41);
        assert!(s.validate().is_err());
        s.nickname = "Sky".into();
        s.remind_minutes = Some(limits::REMIND_MINUTES + 1);
        assert!(s.validate().is_err());
    }

    #[test]
    fn a_reminder_says_only_when() {
        let s = SignUp {
            id: SignUpId::new(0),
            hub: DeviceId([1; 32]),
            session: SessionId(1),
            title: "Narcotics group".into(),
            starts_ms: 15 * 3_600_000,
            ends_ms: 16 * 3_600_000,
            nickname: "Sky".into(),
            note: String::new(),
            remind_minutes: Some(30),
            status: SignUpStatus::Confirmed,
            withdraw: false,
        };
        assert_eq!(s.remind_at_ms(), Some(15 * 3_600_000 - 30 * 60_000));
        let text = s.reminder_text(0);
        assert!(
            text.contains("15:00") && !text.contains("Narcotics"),
            "{text}"
        );
        assert!(s.reminder_text(-90).contains("13:30"));
        let gone = SignUp {
            status: SignUpStatus::Withdrawn,
            ..s
        };
        assert_eq!(gone.remind_at_ms(), None);
    }
}
