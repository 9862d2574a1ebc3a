//! The plain records and enums that cross the boundary, and their conversions from
//! and to `hearth-core`'s types. Ids are strings, times ms since the Unix epoch.

use hearth_core::model;

use crate::HearthError;

/// A recorded check-in.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CheckIn {
    /// Its id (a ULID).
    pub id: String,
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
    /// Mood 1–5.
    pub mood: u8,
    /// Craving 0–10.
    pub craving: Option<u8>,
    /// Energy 1–5.
    pub energy: Option<u8>,
    /// Hours slept.
    pub sleep_hours: Option<f32>,
    /// Tags.
    pub tags: Vec<String>,
    /// The private note.
    pub note: String,
}

/// A check-in as the member enters it (validated in Rust).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewCheckIn {
    /// Mood 1–5.
    pub mood: u8,
    /// Craving 0–10.
    pub craving: Option<u8>,
    /// Energy 1–5.
    pub energy: Option<u8>,
    /// Hours slept, 0–24.
    pub sleep_hours: Option<f32>,
    /// Tags.
    pub tags: Vec<String>,
    /// Note.
    pub note: String,
}

/// Changes to a check-in; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CheckInPatch {
    /// New mood.
    pub mood: Option<u8>,
    /// New craving.
    pub craving: Option<u8>,
    /// New energy.
    pub energy: Option<u8>,
    /// New hours slept.
    pub sleep_hours: Option<f32>,
    /// New tags.
    pub tags: Option<Vec<String>>,
    /// New note.
    pub note: Option<String>,
}

/// A section of the WRAP recovery plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PlanSection {
    /// Wellness toolbox.
    Toolbox,
    /// Daily maintenance.
    Daily,
    /// Triggers.
    Triggers,
    /// Early warning signs.
    WarningSigns,
    /// When things are breaking down.
    Breakdown,
    /// Crisis plan.
    Crisis,
    /// Post-crisis.
    PostCrisis,
    /// Goals.
    Goals,
    /// Strengths.
    Strengths,
}

/// One section, ready to show.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PlanSectionView {
    /// Which.
    pub section: PlanSection,
    /// Its heading.
    pub title: String,
    /// Free text.
    pub text: String,
    /// Items.
    pub items: Vec<String>,
}

/// Someone in the crisis plan.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Supporter {
    /// Name.
    pub name: String,
    /// How they help.
    pub role: String,
    /// How to reach them.
    pub contact: String,
}

/// The whole plan, sections in plan order.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Plan {
    /// Sections.
    pub sections: Vec<PlanSectionView>,
    /// Supporters.
    pub supporters: Vec<Supporter>,
}

/// One of the member's devices (or the hub that stores the journal).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DeviceInfo {
    /// Its id (hex).
    pub id: String,
    /// The first 8 hex characters, to show.
    pub short_id: String,
    /// "owner", "writer", "reader", "store" (the hub) or "removed".
    pub role: String,
    /// Whether it is this device.
    pub this_device: bool,
}

/// What a sync reached.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncReport {
    /// Peers reconciled with.
    pub reached: u32,
    /// Peers not reachable, with why.
    pub unreachable: Vec<String>,
}

/// A one-time device invite.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Invite {
    /// The ticket text (what the QR code holds).
    pub ticket: String,
    /// The QR code drawn in Unicode blocks (apps draw their own from `ticket`).
    pub qr_text: String,
}

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ChangeOrigin {
    /// Sent once when subscribing: show the current state.
    Initial,
    /// This device.
    Local,
    /// Another device, through sync.
    Remote,
}

/// How sync is going.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SyncStatus {
    /// Not online.
    Offline,
    /// Online, connecting to peers.
    Online,
    /// Reconciled with a peer.
    InSync {
        /// The peer's short id.
        peer: String,
    },
    /// New items arrived from a peer.
    Received {
        /// The peer's short id.
        peer: String,
        /// How many.
        new_items: u32,
    },
    /// A device asks to join through the open invite: show `code` and ask the member
    /// whether the new device shows the same, then call `confirm_join`.
    JoinRequested {
        /// Its short id.
        device: String,
        /// The code both devices show.
        code: String,
    },
    /// A device joined through an invite.
    DeviceJoined {
        /// Its short id.
        device: String,
    },
}

pub(crate) fn section(s: PlanSection) -> model::PlanSection {
    use model::PlanSection as M;
    match s {
        PlanSection::Toolbox => M::Toolbox,
        PlanSection::Daily => M::Daily,
        PlanSection::Triggers => M::Triggers,
        PlanSection::WarningSigns => M::WarningSigns,
        PlanSection::Breakdown => M::Breakdown,
        PlanSection::Crisis => M::Crisis,
        PlanSection::PostCrisis => M::PostCrisis,
        PlanSection::Goals => M::Goals,
        PlanSection::Strengths => M::Strengths,
    }
}

fn section_back(s: model::PlanSection) -> PlanSection {
    use model::PlanSection as M;
    match s {
        M::Toolbox => PlanSection::Toolbox,
        M::Daily => PlanSection::Daily,
        M::Triggers => PlanSection::Triggers,
        M::WarningSigns => PlanSection::WarningSigns,
        M::Breakdown => PlanSection::Breakdown,
        M::Crisis => PlanSection::Crisis,
        M::PostCrisis => PlanSection::PostCrisis,
        M::Goals => PlanSection::Goals,
        M::Strengths => PlanSection::Strengths,
    }
}

impl From<model::CheckIn> for CheckIn {
    fn from(c: model::CheckIn) -> Self {
        CheckIn {
            id: c.id.to_string(),
            at_ms: c.at_ms,
            mood: c.mood,
            craving: c.craving,
            energy: c.energy,
            sleep_hours: c.sleep_hours,
            tags: c.tags,
            note: c.note,
        }
    }
}

impl From<NewCheckIn> for model::NewCheckIn {
    fn from(c: NewCheckIn) -> Self {
        model::NewCheckIn {
            at_ms: None,
            mood: c.mood,
            craving: c.craving,
            energy: c.energy,
            sleep_hours: c.sleep_hours,
            tags: c.tags,
            note: c.note,
        }
    }
}

impl From<CheckInPatch> for model::CheckInPatch {
    fn from(p: CheckInPatch) -> Self {
        model::CheckInPatch {
            mood: p.mood,
            craving: p.craving.map(Some),
            energy: p.energy.map(Some),
            sleep_hours: p.sleep_hours.map(Some),
            tags: p.tags,
            note: p.note,
        }
    }
}

impl From<model::RecoveryPlan> for Plan {
    fn from(p: model::RecoveryPlan) -> Self {
        Plan {
            sections: model::PlanSection::ALL
                .iter()
                .map(|s| PlanSectionView {
                    section: section_back(*s),
                    title: s.title().to_owned(),
                    text: p.section(*s).text.clone(),
                    items: p.section(*s).items.clone(),
                })
                .collect(),
            supporters: p
                .supporters
                .into_iter()
                .map(|s| Supporter {
                    name: s.name,
                    role: s.role,
                    contact: s.contact,
                })
                .collect(),
        }
    }
}

impl From<Supporter> for model::Supporter {
    fn from(s: Supporter) -> Self {
        model::Supporter {
            name: s.name,
            role: s.role,
            contact: s.contact,
        }
    }
}

impl From<hearth_core::vault::DeviceInfo> for DeviceInfo {
    fn from(d: hearth_core::vault::DeviceInfo) -> Self {
        DeviceInfo {
            id: d.id.to_string(),
            short_id: d.id.short(),
            role: format!("{:?}", d.role).to_lowercase(),
            this_device: d.this_device,
        }
    }
}

pub(crate) fn checkin_id(id: &str) -> Result<model::CheckInId, HearthError> {
    Ok(id.parse()?)
}
