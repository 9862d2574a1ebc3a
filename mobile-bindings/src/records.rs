//! The plain records and enums that cross the boundary, and their conversions from
//! and to `hearth-core`'s types. Ids are strings, times ms since the Unix epoch.

use hearth_core::access::Role;
use hearth_core::{center, model, vault};

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
    /// Read, and add comments only (a coach a member shares plan sections with).
    Commenter,
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

pub(crate) fn section_back(s: model::PlanSection) -> PlanSection {
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
            supporters: p.supporters.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<model::Supporter> for Supporter {
    fn from(s: model::Supporter) -> Self {
        Supporter {
            name: s.name,
            role: s.role,
            contact: s.contact,
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
            Role::Commenter => DeviceRole::Commenter,
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

// ---- The center: programs, sign-ups, proposals, resources ---------------------------

/// What kind of program it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ProgramKind {
    /// A peer support group.
    SupportGroup,
    /// A workshop or class.
    Workshop,
    /// Art, music, writing.
    Art,
    /// Yoga, movement, exercise.
    Yoga,
    /// A community meal.
    Meal,
    /// Help with housing.
    Housing,
    /// Help with work.
    Jobs,
    /// Anything else.
    Other,
}

/// What a partner in the resource directory helps with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ResourceKind {
    /// Shelters, housing programs.
    Housing,
    /// Jobs and training.
    Employment,
    /// Legal aid.
    Legal,
    /// Clinics, treatment, counselling.
    Clinical,
    /// Food banks, meals.
    Food,
    /// Anything else.
    Other,
}

/// Whether a session still has room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SessionAvailability {
    /// Places are left: a sign-up is confirmed when it reaches the center.
    PlacesLeft,
    /// Every place is taken: a sign-up goes on the wait-list.
    WaitList,
    /// Staff cancelled it.
    Cancelled,
}

/// One session of a program, ready to show.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SessionView {
    /// Its number (what `sign_up` takes).
    pub id: u32,
    /// When it starts, ms since the Unix epoch (the apps format it in the device's
    /// locale, as they do check-in times).
    pub starts_ms: u64,
    /// When it ends.
    pub ends_ms: u64,
    /// Places in all.
    pub capacity: u16,
    /// Places taken.
    pub taken: u16,
    /// Sign-ups on the wait-list.
    pub waiting: u16,
    /// Places still free.
    pub places_left: u16,
    /// Whether there is room.
    pub availability: SessionAvailability,
    /// The places in words: "3 of 12 places left", "full, 2 on the wait-list",
    /// "cancelled".
    pub places_words: String,
    /// The id of the member's sign-up for it, if they are signed up (and have not
    /// withdrawn): the app offers "Withdraw" instead of "Sign up".
    pub my_signup: Option<String>,
    /// Whether the app should offer "Sign up": not cancelled, not started, not already
    /// signed up.
    pub can_sign_up: bool,
}

/// A program with its sessions that have not ended, soonest first.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ProgramView {
    /// Its number at its center.
    pub id: u32,
    /// "Tuesday peer support".
    pub title: String,
    /// What kind.
    pub kind: ProgramKind,
    /// The kind in words ("Support group").
    pub kind_label: String,
    /// What happens there.
    pub description: String,
    /// Who leads it (a first name or a role), or "".
    pub facilitator: String,
    /// Where, or "".
    pub place: String,
    /// Accessibility notes, or "".
    pub accessibility: String,
    /// Facilitator, place and access as one line ("with Jo · Room 2 · access:
    /// step-free"), or "" when there are none.
    pub facts: String,
    /// Its sessions that have not ended, soonest first.
    pub sessions: Vec<SessionView>,
}

/// A partner in the center's resource directory.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ResourceView {
    /// Its number.
    pub id: u32,
    /// The partner's name.
    pub name: String,
    /// What it helps with.
    pub kind: ResourceKind,
    /// The kind in words ("Legal help").
    pub kind_label: String,
    /// What exactly.
    pub description: String,
    /// When it is open, or "".
    pub hours: String,
    /// How to reach it, or "".
    pub contact: String,
}

/// An activity members proposed, with how many are interested (never who).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ProposalView {
    /// Its number (what `interested` takes).
    pub id: u32,
    /// What.
    pub title: String,
    /// When it could happen, or "".
    pub when: String,
    /// Anything else, or "".
    pub note: String,
    /// Members who showed interest.
    pub interested: u32,
    /// That count in words ("1 member is interested").
    pub interested_words: String,
    /// Whether staff made a program of it.
    pub adopted: bool,
}

/// What this device holds of its center: programs with their upcoming sessions, the
/// resource directory and members' proposals, as last received (it reads offline).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CenterView {
    /// Whether this device is enrolled at a center.
    pub enrolled: bool,
    /// When the center made what this device holds (ms since the Unix epoch, the
    /// center's clock), or `None` when nothing has arrived yet.
    pub received_ms: Option<u64>,
    /// Programs, in the center's order.
    pub programs: Vec<ProgramView>,
    /// The resource directory.
    pub resources: Vec<ResourceView>,
    /// Proposals, most interest first.
    pub proposals: Vec<ProposalView>,
    /// The nickname the member last signed up under at this center (to fill in the
    /// sign-up form), if any.
    pub last_nickname: Option<String>,
    /// What to show instead of the programs when there are none, or `None`.
    pub empty_words: Option<String>,
}

/// Where a sign-up stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SignUpStatus {
    /// Saved on the member's devices, not yet decided by the center (it is when a
    /// device reaches it).
    Pending,
    /// A place is held.
    Confirmed,
    /// On the wait-list.
    Waitlisted {
        /// 1 = the next to get a place.
        position: u16,
    },
    /// The member withdrew.
    Withdrawn,
    /// The center cancelled it, or the session, or turned it down.
    Cancelled,
    /// The center no longer knows it (the session ended and was cleared).
    Gone,
}

/// One of the member's sign-ups, ready to show and to remind of.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SignUpRecord {
    /// Its id (a ULID; `withdraw` takes it).
    pub id: String,
    /// The session's number at its center.
    pub session_id: u32,
    /// The program's title, as the center listed it when the member signed up.
    pub title: String,
    /// When the session starts, ms since the Unix epoch.
    pub starts_ms: u64,
    /// When it ends.
    pub ends_ms: u64,
    /// The nickname the center knows the member by.
    pub nickname: String,
    /// The note to staff.
    pub note: String,
    /// Minutes before the start to remind the member, if they asked.
    pub remind_minutes: Option<u16>,
    /// Where it stands, as the center last said.
    pub status: SignUpStatus,
    /// The status in words ("confirmed", "wait-listed (number 2)", "withdrawing (not
    /// yet sent)").
    pub status_words: String,
    /// The member asked to withdraw and the center has not heard yet.
    pub withdrawing: bool,
    /// Whether the app should offer "Withdraw".
    pub can_withdraw: bool,
    /// Whether the session is over.
    pub ended: bool,
    /// When to show the reminder (ms since the Unix epoch): `None` when the member
    /// asked for none, the sign-up is no longer active, or the moment has passed. The
    /// app schedules a local notification for it, and cancels it when this is `None`.
    pub remind_at_ms: Option<u64>,
    /// The reminder's words, which give nothing away on a lock screen ("Hearth:
    /// something you signed up for starts at 15:00"), in the offset the app passed;
    /// set whenever `remind_at_ms` is.
    pub reminder_text: Option<String>,
}

/// A choice in the sign-up form's reminder picker.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReminderChoice {
    /// Minutes before the session (`None`: no reminder).
    pub minutes: Option<u16>,
    /// In words ("1 hour before").
    pub label: String,
    /// Whether the form starts with this one chosen.
    pub is_default: bool,
}

/// What bringing the center up to date did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CenterSyncReport {
    /// Centers reached.
    pub centers: u32,
    /// Whether newer programs, resources or proposals arrived.
    pub updated: bool,
    /// Sign-ups and withdrawals sent.
    pub sent: u32,
    /// Sign-ups the center turned down, one sentence each ("The center turned down
    /// your sign-up for Art: that session has already started.").
    pub refused: Vec<String>,
    /// One line saying what happened.
    pub summary: String,
}

/// The reminder picker's choices, the default among them.
pub(crate) fn reminder_choices() -> Vec<ReminderChoice> {
    [
        (None, "No reminder"),
        (Some(15), "15 minutes before"),
        (Some(60), "1 hour before"),
        (Some(3 * 60), "3 hours before"),
        (Some(24 * 60), "1 day before"),
    ]
    .into_iter()
    .map(|(minutes, label)| ReminderChoice {
        minutes,
        label: label.to_owned(),
        is_default: minutes == Some(60),
    })
    .collect()
}

impl From<center::ProgramKind> for ProgramKind {
    fn from(k: center::ProgramKind) -> Self {
        use center::ProgramKind as K;
        match k {
            K::SupportGroup => ProgramKind::SupportGroup,
            K::Workshop => ProgramKind::Workshop,
            K::Art => ProgramKind::Art,
            K::Yoga => ProgramKind::Yoga,
            K::Meal => ProgramKind::Meal,
            K::Housing => ProgramKind::Housing,
            K::Jobs => ProgramKind::Jobs,
            K::Other => ProgramKind::Other,
        }
    }
}

impl From<center::ResourceKind> for ResourceKind {
    fn from(k: center::ResourceKind) -> Self {
        use center::ResourceKind as K;
        match k {
            K::Housing => ResourceKind::Housing,
            K::Employment => ResourceKind::Employment,
            K::Legal => ResourceKind::Legal,
            K::Clinical => ResourceKind::Clinical,
            K::Food => ResourceKind::Food,
            K::Other => ResourceKind::Other,
        }
    }
}

impl From<center::SignUpStatus> for SignUpStatus {
    fn from(s: center::SignUpStatus) -> Self {
        use center::SignUpStatus as S;
        match s {
            S::Pending => SignUpStatus::Pending,
            S::Confirmed => SignUpStatus::Confirmed,
            S::Waitlisted { position } => SignUpStatus::Waitlisted { position },
            S::Withdrawn => SignUpStatus::Withdrawn,
            S::Cancelled => SignUpStatus::Cancelled,
            S::Gone => SignUpStatus::Gone,
        }
    }
}

/// Whether the member has withdrawn `s` and the center has not heard yet.
fn withdrawing(s: &center::SignUp) -> bool {
    s.withdraw && s.status != center::SignUpStatus::Withdrawn
}

impl SignUpRecord {
    /// A sign-up as the app shows it at `now_ms`, its reminder's time in the device's
    /// offset (`utc_offset_minutes` east of UTC).
    pub(crate) fn new(s: &center::SignUp, now_ms: u64, utc_offset_minutes: i32) -> Self {
        let remind_at_ms = s.remind_at_ms().filter(|at| *at > now_ms);
        SignUpRecord {
            id: s.id.to_string(),
            session_id: s.session.0,
            title: s.title.clone(),
            starts_ms: s.starts_ms,
            ends_ms: s.ends_ms,
            nickname: s.nickname.clone(),
            note: s.note.clone(),
            remind_minutes: s.remind_minutes,
            status: s.status.into(),
            status_words: if withdrawing(s) {
                "withdrawing (not yet sent)".to_owned()
            } else {
                s.status.describe()
            },
            withdrawing: withdrawing(s),
            can_withdraw: s.status.is_active() && !s.withdraw && s.ends_ms > now_ms,
            ended: s.ends_ms <= now_ms,
            remind_at_ms,
            reminder_text: remind_at_ms.map(|_| s.reminder_text(utc_offset_minutes)),
        }
    }
}

fn places_words(s: &center::Session) -> (SessionAvailability, String) {
    let availability = if s.cancelled {
        SessionAvailability::Cancelled
    } else if s.places_left() > 0 {
        SessionAvailability::PlacesLeft
    } else {
        SessionAvailability::WaitList
    };
    (availability, s.places_words())
}

fn interested_words(n: u32) -> String {
    match n {
        0 => "nobody has shown interest yet".to_owned(),
        1 => "1 member is interested".to_owned(),
        n => format!("{n} members are interested"),
    }
}

impl CenterView {
    /// What the Groups screen shows: the `flyers` of the centers this device is
    /// enrolled at (`enrolled`), with the member's `signups`, at `now_ms`.
    pub(crate) fn new(
        enrolled: bool,
        flyers: &[center::Flyer],
        signups: &[center::SignUp],
        now_ms: u64,
    ) -> Self {
        let mine = |hub: &hearth_core::ids::DeviceId, session: center::SessionId| {
            signups
                .iter()
                .find(|s| {
                    &s.hub == hub && s.session == session && !s.withdraw && s.status.is_active()
                })
                .map(|s| s.id.to_string())
        };
        let mut programs = Vec::new();
        for f in flyers {
            for p in &f.programs {
                let d = &p.draft;
                let sessions = f
                    .sessions
                    .iter()
                    .filter(|s| s.program == p.id && s.ends_ms > now_ms)
                    .map(|s| {
                        let (availability, places_words) = places_words(s);
                        let my_signup = mine(&f.hub, s.id);
                        SessionView {
                            id: s.id.0,
                            starts_ms: s.starts_ms,
                            ends_ms: s.ends_ms,
                            capacity: s.capacity,
                            taken: s.taken,
                            waiting: s.waiting,
                            places_left: s.places_left(),
                            availability,
                            places_words,
                            can_sign_up: !s.cancelled
                                && s.starts_ms > now_ms
                                && my_signup.is_none(),
                            my_signup,
                        }
                    })
                    .collect();
                programs.push(ProgramView {
                    id: p.id.0,
                    title: d.title.clone(),
                    kind: d.kind.into(),
                    kind_label: d.kind.label().to_owned(),
                    description: d.description.clone(),
                    facilitator: d.facilitator.clone(),
                    place: d.place.clone(),
                    accessibility: d.accessibility.clone(),
                    facts: d.facts(),
                    sessions,
                });
            }
        }
        let resources = flyers
            .iter()
            .flat_map(|f| &f.resources)
            .map(|r| ResourceView {
                id: r.id.0,
                name: r.draft.name.clone(),
                kind: r.draft.kind.into(),
                kind_label: r.draft.kind.label().to_owned(),
                description: r.draft.description.clone(),
                hours: r.draft.hours.clone(),
                contact: r.draft.contact.clone(),
            })
            .collect();
        let proposals = flyers
            .iter()
            .flat_map(|f| &f.proposals)
            .map(|p| ProposalView {
                id: p.id.0,
                title: p.draft.title.clone(),
                when: p.draft.when.clone(),
                note: p.draft.note.clone(),
                interested: p.interested,
                interested_words: interested_words(p.interested),
                adopted: p.program.is_some(),
            })
            .collect();
        let last_nickname = signups
            .iter()
            .filter(|s| flyers.iter().any(|f| f.hub == s.hub))
            .max_by_key(|s| s.id)
            .map(|s| s.nickname.clone());
        let empty_words = if !enrolled {
            Some(
                "You're not enrolled at a center yet. Scan the code at the center's desk to see its groups."
                    .to_owned(),
            )
        } else if flyers.is_empty() {
            Some("Nothing from your center yet: sync to see its groups.".to_owned())
        } else if programs.is_empty() {
            Some("Your center has not published any groups yet.".to_owned())
        } else {
            None
        };
        CenterView {
            enrolled,
            received_ms: flyers.iter().map(|f| f.issued_ms).max(),
            programs,
            resources,
            proposals,
            last_nickname,
            empty_words,
        }
    }
}

impl CenterSyncReport {
    /// What `reports` did, naming each refused sign-up by its title in `signups`.
    pub(crate) fn new(
        reports: &[hearth_core::device::CenterReport],
        signups: &[center::SignUp],
    ) -> Self {
        let refused: Vec<String> = reports
            .iter()
            .flat_map(|r| &r.refused)
            .map(|(id, why)| {
                let title = signups
                    .iter()
                    .find(|s| s.id == *id)
                    .map_or("a session", |s| s.title.as_str());
                crate::error::one_line(&format!(
                    "The center turned down your sign-up for {title}: {why}."
                ))
            })
            .collect();
        let sent: usize = reports.iter().map(|r| r.sent).sum();
        let updated = reports.iter().any(|r| r.flyer_updated);
        let summary = match (sent, refused.len()) {
            (0, _) if updated => {
                "Up to date with your center: new programs or proposals arrived.".to_owned()
            }
            (0, _) => "Up to date with your center.".to_owned(),
            (_, 0) => "Up to date with your center: it has your latest sign-ups.".to_owned(),
            (_, 1) => "Your center turned down a sign-up (see below).".to_owned(),
            (_, r) => format!("Your center turned down {r} sign-ups (see below)."),
        };
        CenterSyncReport {
            centers: u32::try_from(reports.len()).unwrap_or(u32::MAX),
            updated,
            sent: u32::try_from(sent).unwrap_or(u32::MAX),
            refused,
            summary,
        }
    }
}

#[cfg(test)]
mod tests {
    use hearth_core::center::{
        Flyer, Program, ProgramDraft, ProgramId, Proposal, ProposalDraft, ProposalId, Session,
        SessionId, SignUp, SignUpId,
    };
    use hearth_core::device::CenterReport;
    use hearth_core::ids::DeviceId;

    use super::*;

    const HOUR: u64 = 3_600_000;
    const NOW: u64 = 1_000 * HOUR;

    fn session(id: u32, starts_ms: u64, capacity: u16, taken: u16, waiting: u16) -> Session {
        Session {
            id: SessionId(id),
            program: ProgramId(1),
            starts_ms,
            ends_ms: starts_ms + HOUR,
            capacity,
            cancelled: false,
            taken,
            waiting,
        }
    }

    fn flyer() -> Flyer {
        let mut f = Flyer::empty(DeviceId([9; 32]));
        f.issued_ms = NOW - HOUR;
        f.programs.push(Program {
            id: ProgramId(1),
            draft: ProgramDraft {
                title: "Tuesday peer support".into(),
                kind: center::ProgramKind::SupportGroup,
                description: "Tea and talk.".into(),
                facilitator: "Jo".into(),
                place: "Room 2".into(),
                accessibility: "step-free".into(),
            },
        });
        f.sessions = vec![
            session(1, NOW - 3 * HOUR, 10, 2, 0), // over
            session(2, NOW + 2 * HOUR, 12, 9, 0),
            session(3, NOW + 26 * HOUR, 4, 4, 2),
            Session {
                cancelled: true,
                ..session(4, NOW + 50 * HOUR, 4, 0, 0)
            },
            session(5, NOW - HOUR / 2, 4, 1, 0), // under way
        ];
        f.proposals.push(Proposal {
            id: ProposalId(7),
            draft: ProposalDraft {
                title: "Saturday walks".into(),
                when: "Saturday mornings".into(),
                note: String::new(),
            },
            interested: 1,
            program: None,
        });
        f
    }

    fn signup(session: u32, status: center::SignUpStatus, withdraw: bool) -> SignUp {
        SignUp {
            id: SignUpId::new(NOW - HOUR),
            hub: DeviceId([9; 32]),
            session: SessionId(session),
            title: "Tuesday peer support".into(),
            starts_ms: NOW + 2 * HOUR,
            ends_ms: NOW + 3 * HOUR,
            nickname: "Sky".into(),
            note: String::new(),
            remind_minutes: Some(30),
            status,
            withdraw,
        }
    }

    #[test]
    fn the_groups_screen_shows_upcoming_sessions_with_places_in_words() {
        let mine = signup(2, center::SignUpStatus::Confirmed, false);
        let view = CenterView::new(true, &[flyer()], std::slice::from_ref(&mine), NOW);
        assert_eq!(view.empty_words, None);
        assert_eq!(view.received_ms, Some(NOW - HOUR));
        assert_eq!(view.last_nickname.as_deref(), Some("Sky"));
        let p = &view.programs[0];
        assert_eq!(
            (p.kind, p.kind_label.as_str()),
            (ProgramKind::SupportGroup, "Support group")
        );
        assert_eq!(p.facts, "with Jo · Room 2 · access: step-free");
        let shown: Vec<_> = p
            .sessions
            .iter()
            .map(|s| (s.id, s.availability, s.places_words.as_str(), s.can_sign_up))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    2,
                    SessionAvailability::PlacesLeft,
                    "3 of 12 places left",
                    false
                ),
                (
                    3,
                    SessionAvailability::WaitList,
                    "full, 2 on the wait-list",
                    true
                ),
                (4, SessionAvailability::Cancelled, "cancelled", false),
                (
                    5,
                    SessionAvailability::PlacesLeft,
                    "3 of 4 places left",
                    false
                ),
            ]
        );
        assert_eq!(p.sessions[0].my_signup, Some(mine.id.to_string()));
        assert_eq!(view.proposals[0].interested_words, "1 member is interested");
    }

    #[test]
    fn an_empty_center_says_why() {
        let none = CenterView::new(false, &[], &[], NOW);
        assert!(none.empty_words.is_some_and(|w| w.contains("not enrolled")));
        let unsynced = CenterView::new(true, &[], &[], NOW);
        assert!(unsynced.empty_words.is_some_and(|w| w.contains("sync")));
        let quiet = CenterView::new(true, &[Flyer::empty(DeviceId([9; 32]))], &[], NOW);
        assert!(
            quiet
                .empty_words
                .is_some_and(|w| w.contains("not published"))
        );
    }

    #[test]
    fn a_sign_up_carries_its_reminder_until_it_is_withdrawn() {
        let confirmed =
            SignUpRecord::new(&signup(2, center::SignUpStatus::Confirmed, false), NOW, 60);
        assert_eq!(confirmed.status, SignUpStatus::Confirmed);
        assert!(confirmed.can_withdraw && !confirmed.withdrawing && !confirmed.ended);
        assert_eq!(confirmed.remind_at_ms, Some(NOW + 2 * HOUR - 30 * 60_000));
        let text = confirmed.reminder_text.unwrap_or_default();
        // 1 002 h after the epoch is 18:00 UTC, 19:00 an hour east; the title stays off
        // the lock screen.
        assert_eq!(text, "Hearth: something you signed up for starts at 19:00");
        let leaving = SignUpRecord::new(&signup(2, center::SignUpStatus::Confirmed, true), NOW, 0);
        assert_eq!(leaving.status_words, "withdrawing (not yet sent)");
        assert!(leaving.withdrawing && !leaving.can_withdraw);
        assert_eq!((leaving.remind_at_ms, leaving.reminder_text), (None, None));
        let waiting = SignUpRecord::new(
            &signup(2, center::SignUpStatus::Waitlisted { position: 2 }, false),
            NOW,
            0,
        );
        assert_eq!(waiting.status, SignUpStatus::Waitlisted { position: 2 });
        assert_eq!(waiting.status_words, "wait-listed (number 2)");
        // Past its reminder's moment, nothing is left to schedule.
        let late = SignUpRecord::new(
            &signup(2, center::SignUpStatus::Confirmed, false),
            NOW + 2 * HOUR - 60_000,
            0,
        );
        assert_eq!(late.remind_at_ms, None);
    }

    #[test]
    fn a_refused_sign_up_is_reported_by_title_in_one_sentence() {
        let s = signup(2, center::SignUpStatus::Cancelled, false);
        let report = CenterSyncReport::new(
            &[CenterReport {
                hub: Some(DeviceId([9; 32])),
                flyer_updated: false,
                sent: 1,
                refused: vec![(s.id, center::Refusal::Started)],
            }],
            &[s],
        );
        assert_eq!(
            report.refused,
            [
                "The center turned down your sign-up for Tuesday peer support: that session has already started."
            ]
        );
        assert_eq!((report.centers, report.sent), (1, 1));
        assert!(
            report.summary.contains("turned down a sign-up"),
            "{}",
            report.summary
        );
        let quiet = CenterSyncReport::new(&[CenterReport::default()], &[]);
        assert_eq!(quiet.summary, "Up to date with your center.");
    }

    #[test]
    fn one_reminder_choice_is_the_default() {
        let choices = reminder_choices();
        assert_eq!(choices.iter().filter(|c| c.is_default).count(), 1);
        assert_eq!(choices[0].minutes, None);
    }
}
