//! The plain records and enums that cross the boundary, and their conversions from
//! and to `hearth-core`'s types. Ids are strings, times ms since the Unix epoch.

use hearth_core::access::Role;
use hearth_core::{model, vault};

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

/// What an identity in the journal's access log is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DeviceKind {
    /// One of the member's devices.
    Device,
    /// The key inside a backup file: it can add the device a backup is restored on.
    BackupKey,
    /// A center's hub, which stores the journal encrypted and cannot read it.
    Hub,
}

/// What an identity may do with the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DeviceRole {
    /// Read, write, add and remove devices.
    Owner,
    /// Read and write.
    Writer,
    /// Read only.
    Reader,
    /// Keep the encrypted journal without a key (a center's hub).
    Store,
    /// A backup's key: it can add the device the backup is restored on.
    Recovery,
}

/// Whether an identity still has access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DeviceState {
    /// It has access.
    Active,
    /// It was removed: it can read nothing written since, and write nothing.
    Removed,
    /// It removed another device at the same time as it was removed: both were.
    RemovedInConflict,
}

/// One identity that can reach the journal: a device of the member's, a backup key,
/// or a center's hub. Current ones come first.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DeviceInfo {
    /// Its id (hex).
    pub id: String,
    /// The first 8 hex characters, to show.
    pub short_id: String,
    /// What it is.
    pub kind: DeviceKind,
    /// What it may do (a removed identity keeps the role it had).
    pub role: DeviceRole,
    /// Whether it still has access.
    pub state: DeviceState,
    /// The kind in words ("device", "backup key", "center hub").
    pub kind_label: String,
    /// The state in words ("has access", "removed", …).
    pub state_label: String,
    /// Whether it is this device.
    pub this_device: bool,
}

/// What removing a device did.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RemovalResult {
    /// How many backup keys it retired (their backups restore nothing written from
    /// now on).
    pub backups_retired: u32,
    /// Short ids of devices that remain but could not be given the new key (add them
    /// again).
    pub skipped: Vec<String>,
    /// What to tell the member about backups now (make a new one), if anything.
    pub backup_advice: Option<String>,
}

/// Whether the member has a backup that restores the journal as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum BackupState {
    /// A backup made since the last removal restores everything.
    Current,
    /// No backup was ever made.
    Never,
    /// A removal retired every backup: make a new one.
    Retired,
}

/// The backup state and what to tell the member about it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BackupStatus {
    /// The state.
    pub state: BackupState,
    /// Plain words to show (a banner), or `None` when all is well.
    pub advice: Option<String>,
}

/// What a sync reached.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncReport {
    /// Peers reconciled with.
    pub reached: u32,
    /// Peers not reachable, with why.
    pub unreachable: Vec<String>,
    /// What this device can tell it was not given, in plain words for the Center
    /// screen ("the hub may be withholding 3 entries from your device …").
    pub withheld: Vec<String>,
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
    /// Reconciled with a peer, and something is missing from what it gave: it (or
    /// the hub in between) may be withholding entries or serving an older state.
    /// Show each warning on the Center screen as it is.
    Withheld {
        /// The peer's short id.
        peer: String,
        /// What is missing, in plain words (the same as `hearth sync` prints).
        warnings: Vec<String>,
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

impl From<vault::DeviceInfo> for DeviceInfo {
    fn from(d: vault::DeviceInfo) -> Self {
        DeviceInfo {
            id: d.id.to_string(),
            short_id: d.id.short(),
            kind: d.kind.into(),
            role: d.role.into(),
            state: d.state.into(),
            kind_label: d.kind.label().to_owned(),
            state_label: d.state.label().to_owned(),
            this_device: d.this_device,
        }
    }
}

impl From<vault::DeviceKind> for DeviceKind {
    fn from(k: vault::DeviceKind) -> Self {
        match k {
            vault::DeviceKind::Device => DeviceKind::Device,
            vault::DeviceKind::BackupKey => DeviceKind::BackupKey,
            vault::DeviceKind::Hub => DeviceKind::Hub,
        }
    }
}

impl From<Role> for DeviceRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Owner => DeviceRole::Owner,
            Role::Writer => DeviceRole::Writer,
            Role::Reader => DeviceRole::Reader,
            Role::Store => DeviceRole::Store,
            Role::Recovery => DeviceRole::Recovery,
        }
    }
}

impl From<vault::DeviceState> for DeviceState {
    fn from(s: vault::DeviceState) -> Self {
        match s {
            vault::DeviceState::Active => DeviceState::Active,
            vault::DeviceState::Removed => DeviceState::Removed,
            vault::DeviceState::RemovedInConflict => DeviceState::RemovedInConflict,
        }
    }
}

impl From<vault::BackupState> for BackupStatus {
    fn from(s: vault::BackupState) -> Self {
        BackupStatus {
            state: match s {
                vault::BackupState::Current => BackupState::Current,
                vault::BackupState::Never => BackupState::Never,
                vault::BackupState::Retired => BackupState::Retired,
            },
            advice: s.advice().map(str::to_owned),
        }
    }
}

impl RemovalResult {
    /// A removal's report, with the backup state that followed it.
    pub(crate) fn new(report: vault::RemovalReport, backup: vault::BackupState) -> Self {
        RemovalResult {
            backups_retired: u32::try_from(report.backups_retired).unwrap_or(u32::MAX),
            skipped: report.skipped.iter().map(|d| d.short()).collect(),
            backup_advice: backup.advice().map(str::to_owned),
        }
    }
}

pub(crate) fn checkin_id(id: &str) -> Result<model::CheckInId, HearthError> {
    Ok(id.parse()?)
}
