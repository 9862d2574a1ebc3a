//! The center's own data on the hub, in its own file (`center.redb`, beside the blind
//! store and never mixed with it): programs and sessions, each session's roster of
//! sign-ups (nickname, note, status, attendance, and the member's pseudonym, never a
//! device or a journal), members' proposals with the set of anonymous interest
//! tokens, the resource directory, and counts that survive retention as numbers.
//!
//! Everything is held in memory (a center's weeks are small) and every change is
//! written, as the records it touched, in one durable transaction before it is
//! acknowledged; a failed write reloads the state from the file. One lock orders all
//! changes, so sign-ups arriving at once are decided in the order they take it.
//! The rules for places are `roster`'s, the funder counts `report`'s; this module
//! keeps them and publishes the flyer (signed with the hub's key).
//!
//! Not here: who may ask (the hub admits a device as it does for sync), the network
//! (`serve`), the staff console's pages (`console`).

pub mod report;
pub mod roster;
pub mod serve;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use hearth_core::center::model::{check_session, limits};
use hearth_core::center::{
    Flyer, MemberTag, Program, ProgramDraft, ProgramId, ProgramKind, Proposal, ProposalDraft,
    ProposalId, Pseudonym, Refusal, Resource, ResourceDraft, ResourceId, Session, SessionId,
    SignUpId, SignUpStatus, SignedFlyer,
};
use hearth_core::ids::DeviceId;
use hearth_core::model::ValidationError;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use report::{Counts, month_end_ms, month_of};
use roster::{Entry, Place, StaffAction};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The center's file inside the hub's home.
pub const CENTER_FILE: &str = "center.redb";
/// Days a sign-up is kept after its session ends (`--retention-days`).
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// Proposals one hub keeps open at most (a flood of them is refused).
pub const MAX_PROPOSALS: usize = 500;
/// Programs, sessions or resources staff may keep at most.
const MAX_ENTRIES: usize = limits::FLYER_ENTRIES;
const DAY_MS: u64 = 24 * 3_600_000;

const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("center");

/// Something the center could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CenterError {
    /// The file failed.
    #[error("the center's store failed: {0}")]
    Store(String),
    /// A field is out of bounds.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// No such thing.
    #[error("there is no {0}")]
    Missing(&'static str),
    /// Too many of something.
    #[error("{0}")]
    Full(String),
}

fn store_err(e: impl std::fmt::Display) -> CenterError {
    CenterError::Store(e.to_string())
}

/// A session as the hub keeps it, with its roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    /// The program.
    pub program: ProgramId,
    /// Starts, ms since the Unix epoch.
    pub starts_ms: u64,
    /// Ends.
    pub ends_ms: u64,
    /// Places.
    pub capacity: u16,
    /// Cancelled by staff.
    pub cancelled: bool,
    /// Its sign-ups in arrival order.
    pub roster: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProposalRow {
    draft: ProposalDraft,
    made_ms: u64,
    tokens: BTreeSet<[u8; 32]>,
    program: Option<ProgramId>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Meta {
    next_id: u32,
    version: u64,
}

#[derive(Default)]
struct State {
    meta: Meta,
    programs: BTreeMap<ProgramId, ProgramDraft>,
    sessions: BTreeMap<SessionId, SessionRow>,
    proposals: BTreeMap<ProposalId, ProposalRow>,
    resources: BTreeMap<ResourceId, ResourceDraft>,
    /// Counts folded out of deleted sign-ups, per (program, month).
    counts: BTreeMap<(ProgramId, String), Counts>,
    /// Hashes of the members who attended, per (program, month), until the month is
    /// past retention; then only their number stays (in `counts`).
    participants: BTreeMap<(ProgramId, String), BTreeSet<[u8; 32]>>,
    /// Which pseudonym each device presented (one per device: a device cannot be
    /// many members). Kept in memory and in the file.
    device_member: HashMap<DeviceId, Pseudonym>,
    /// Which sign-up is on which session.
    signup_session: HashMap<SignUpId, SessionId>,
    /// The flyer as signed at `meta.version`.
    flyer: Option<SignedFlyer>,
}

/// Records a change touched: written (or deleted) together.
#[derive(Default)]
struct Dirty(BTreeMap<String, Option<Vec<u8>>>);

impl Dirty {
    fn put<T: Serialize>(&mut self, key: String, value: &T) {
        self.0
            .insert(key, Some(postcard::to_stdvec(value).unwrap_or_default()));
    }
    fn delete(&mut self, key: String) {
        self.0.insert(key, None);
    }
}

fn key_program(id: ProgramId) -> String {
    format!("program/{:010}", id.0)
}
fn key_session(id: SessionId) -> String {
    format!("session/{:010}", id.0)
}
fn key_proposal(id: ProposalId) -> String {
    format!("proposal/{:010}", id.0)
}
fn key_resource(id: ResourceId) -> String {
    format!("resource/{:010}", id.0)
}
fn key_counts(program: ProgramId, month: &str) -> String {
    format!("counts/{:010}/{month}", program.0)
}
fn key_participants(program: ProgramId, month: &str) -> String {
    format!("participants/{:010}/{month}", program.0)
}
fn key_device(device: &DeviceId) -> String {
    format!("device/{device}")
}
const KEY_META: &str = "meta";

fn participant(program: ProgramId, month: &str, member: &Pseudonym) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("hearth/center-participant/v1");
    h.update(&program.0.to_le_bytes());
    h.update(month.as_bytes());
    h.update(&member.0);
    *h.finalize().as_bytes()
}

/// Who asks: the device (as its connection proves it) and the member tag it presents.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    /// The connection's device.
    pub device: DeviceId,
    /// The member's tag at this center.
    pub tag: &'a MemberTag,
}

/// A roster line as staff see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterLine {
    /// The sign-up.
    pub id: SignUpId,
    /// The nickname.
    pub nickname: String,
    /// The note to staff.
    pub note: String,
    /// Where it stands.
    pub status: SignUpStatus,
    /// Marked present.
    pub attended: bool,
    /// When it reached the hub.
    pub arrived_ms: u64,
}

/// What retention did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// Sign-ups deleted (their counts kept).
    pub signups: usize,
    /// Months whose participants were reduced to a number.
    pub months_closed: usize,
}

/// The center's data on the hub.
pub struct Center {
    /// Taken only while holding `state` (one lock order).
    db: Mutex<Database>,
    path: std::path::PathBuf,
    state: Mutex<State>,
    hub: DeviceId,
    key: iroh::SecretKey,
    retention_days: u32,
}

impl std::fmt::Debug for Center {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Center").field("hub", &self.hub).finish()
    }
}

impl Center {
    /// Opens (or creates) the center's file in the hub's home.
    pub fn open(
        home: &Path,
        key: iroh::SecretKey,
        retention_days: u32,
    ) -> Result<Self, CenterError> {
        let path = home.join(CENTER_FILE);
        let db = open_db(&path)?;
        let hub = DeviceId::from(key.public());
        let center = Center {
            db: Mutex::new(db),
            path,
            state: Mutex::new(State::default()),
            hub,
            key,
            retention_days,
        };
        let state = center.load()?;
        *center.lock() = state;
        Ok(center)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state as the file has it after a
        // reload; take it either way.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn db(&self) -> MutexGuard<'_, Database> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn load(&self) -> Result<State, CenterError> {
        let mut s = State::default();
        let tx = self.db().begin_read().map_err(store_err)?;
        let table = match tx.open_table(RECORDS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(s),
            Err(e) => return Err(store_err(e)),
        };
        fn de<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, CenterError> {
            postcard::from_bytes(bytes).map_err(|e| store_err(format!("record {key}: {e}")))
        }
        for row in table.iter().map_err(store_err)? {
            let (k, v) = row.map_err(store_err)?;
            let (key, bytes) = (k.value(), v.value());
            let kind = key.split('/').next().unwrap_or_default();
            let id = || -> Result<u32, CenterError> {
                key.split('/')
                    .nth(1)
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| store_err(format!("bad key {key}")))
            };
            let month = || key.split('/').nth(2).unwrap_or_default().to_owned();
            match kind {
                "meta" => s.meta = de(key, bytes)?,
                "program" => {
                    s.programs.insert(ProgramId(id()?), de(key, bytes)?);
                }
                "session" => {
                    let row: SessionRow = de(key, bytes)?;
                    for e in &row.roster {
                        s.signup_session.insert(e.id, SessionId(id()?));
                    }
                    s.sessions.insert(SessionId(id()?), row);
                }
                "proposal" => {
                    s.proposals.insert(ProposalId(id()?), de(key, bytes)?);
                }
                "resource" => {
                    s.resources.insert(ResourceId(id()?), de(key, bytes)?);
                }
                "counts" => {
                    s.counts
                        .insert((ProgramId(id()?), month()), de(key, bytes)?);
                }
                "participants" => {
                    s.participants
                        .insert((ProgramId(id()?), month()), de(key, bytes)?);
                }
                "device" => {
                    let (device, p): ([u8; 32], [u8; 32]) = de(key, bytes)?;
                    s.device_member.insert(DeviceId(device), Pseudonym(p));
                }
                _ => {}
            }
        }
        Ok(s)
    }

    /// Writes what a change touched, durably, and moves the flyer's version on when
    /// `published` (something every device sees changed). On failure the state is
    /// reloaded from the file, so memory never runs ahead of it.
    fn commit(
        &self,
        state: &mut State,
        mut dirty: Dirty,
        published: bool,
    ) -> Result<(), CenterError> {
        if published {
            state.meta.version += 1;
            state.flyer = None;
        }
        dirty.put(KEY_META.to_owned(), &state.meta);
        let written = (|| {
            let tx = self.db().begin_write().map_err(store_err)?;
            {
                let mut table = tx.open_table(RECORDS).map_err(store_err)?;
                for (k, v) in &dirty.0 {
                    match v {
                        Some(v) => {
                            table.insert(k.as_str(), v.as_slice()).map_err(store_err)?;
                        }
                        None => {
                            table.remove(k.as_str()).map_err(store_err)?;
                        }
                    }
                }
            }
            tx.commit().map_err(store_err)
        })();
        if let Err(e) = written {
            *state = self.load().unwrap_or_default();
            return Err(e);
        }
        Ok(())
    }

    fn next_id(state: &mut State) -> u32 {
        state.meta.next_id = state.meta.next_id.saturating_add(1);
        state.meta.next_id
    }

    // ---- programs, sessions, resources (staff) ----

    /// Every program, by title.
    pub fn programs(&self) -> Vec<Program> {
        let s = self.lock();
        let mut out: Vec<Program> = s
            .programs
            .iter()
            .map(|(id, d)| Program {
                id: *id,
                draft: d.clone(),
            })
            .collect();
        out.sort_by(|a, b| {
            a.draft
                .title
                .to_lowercase()
                .cmp(&b.draft.title.to_lowercase())
        });
        out
    }

    /// One program.
    pub fn program(&self, id: ProgramId) -> Option<Program> {
        self.lock().programs.get(&id).map(|d| Program {
            id,
            draft: d.clone(),
        })
    }

    /// Publishes a new program.
    pub fn create_program(&self, draft: &ProgramDraft) -> Result<ProgramId, CenterError> {
        draft.validate()?;
        let mut s = self.lock();
        if s.programs.len() >= MAX_ENTRIES {
            return Err(CenterError::Full(
                "the center has as many programs as it may list".into(),
            ));
        }
        let id = ProgramId(Self::next_id(&mut s));
        s.programs.insert(id, draft.clone());
        let mut dirty = Dirty::default();
        dirty.put(key_program(id), draft);
        self.commit(&mut s, dirty, true)?;
        Ok(id)
    }

    /// Changes a program's description.
    pub fn edit_program(&self, id: ProgramId, draft: &ProgramDraft) -> Result<(), CenterError> {
        draft.validate()?;
        let mut s = self.lock();
        let p = s
            .programs
            .get_mut(&id)
            .ok_or(CenterError::Missing("such program"))?;
        *p = draft.clone();
        let mut dirty = Dirty::default();
        dirty.put(key_program(id), draft);
        self.commit(&mut s, dirty, true)
    }

    /// Adds a session to a program.
    pub fn add_session(
        &self,
        program: ProgramId,
        starts_ms: u64,
        ends_ms: u64,
        capacity: u16,
    ) -> Result<SessionId, CenterError> {
        check_session(starts_ms, ends_ms, capacity)?;
        let mut s = self.lock();
        if !s.programs.contains_key(&program) {
            return Err(CenterError::Missing("such program"));
        }
        if s.sessions.len() >= 10 * MAX_ENTRIES {
            return Err(CenterError::Full(
                "the center has as many sessions as it may keep".into(),
            ));
        }
        let id = SessionId(Self::next_id(&mut s));
        let row = SessionRow {
            program,
            starts_ms,
            ends_ms,
            capacity,
            cancelled: false,
            roster: Vec::new(),
        };
        let mut dirty = Dirty::default();
        dirty.put(key_session(id), &row);
        s.sessions.insert(id, row);
        self.commit(&mut s, dirty, true)?;
        Ok(id)
    }

    /// Changes a session's places (more places promote from the wait-list; fewer move
    /// nobody down).
    pub fn set_capacity(&self, id: SessionId, capacity: u16) -> Result<(), CenterError> {
        let mut s = self.lock();
        let row = s
            .sessions
            .get_mut(&id)
            .ok_or(CenterError::Missing("such session"))?;
        check_session(row.starts_ms, row.ends_ms, capacity)?;
        row.capacity = capacity;
        roster::fill(&mut row.roster, capacity);
        let mut dirty = Dirty::default();
        dirty.put(key_session(id), &*row);
        self.commit(&mut s, dirty, true)
    }

    /// Cancels a session: every sign-up on it is cancelled and members are told at
    /// their next sync.
    pub fn cancel_session(&self, id: SessionId) -> Result<(), CenterError> {
        let mut s = self.lock();
        let row = s
            .sessions
            .get_mut(&id)
            .ok_or(CenterError::Missing("such session"))?;
        row.cancelled = true;
        roster::cancel_all(&mut row.roster);
        let mut dirty = Dirty::default();
        dirty.put(key_session(id), &*row);
        self.commit(&mut s, dirty, true)
    }

    /// Every session with its counts, soonest first.
    pub fn sessions(&self) -> Vec<Session> {
        let s = self.lock();
        let mut out: Vec<Session> = s
            .sessions
            .iter()
            .map(|(id, r)| session_of(*id, r))
            .collect();
        out.sort_by_key(|x| (x.starts_ms, x.id));
        out
    }

    /// One session with its counts.
    pub fn session(&self, id: SessionId) -> Option<Session> {
        self.lock().sessions.get(&id).map(|r| session_of(id, r))
    }

    /// A session's roster, in arrival order.
    pub fn roster(&self, id: SessionId) -> Option<Vec<RosterLine>> {
        let s = self.lock();
        let row = s.sessions.get(&id)?;
        let statuses = roster::statuses(&row.roster);
        Some(
            row.roster
                .iter()
                .zip(statuses)
                .map(|(e, (_, status))| RosterLine {
                    id: e.id,
                    nickname: e.nickname.clone(),
                    note: e.note.clone(),
                    status,
                    attended: e.attended,
                    arrived_ms: e.arrived_ms,
                })
                .collect(),
        )
    }

    /// Staff act on one sign-up (confirm, wait-list, cancel, mark attended).
    pub fn staff_action(
        &self,
        signup: SignUpId,
        action: StaffAction,
    ) -> Result<SessionId, CenterError> {
        let mut s = self.lock();
        let session = *s
            .signup_session
            .get(&signup)
            .ok_or(CenterError::Missing("such sign-up"))?;
        let row = s
            .sessions
            .get_mut(&session)
            .ok_or(CenterError::Missing("such session"))?;
        roster::act(&mut row.roster, signup, action, row.capacity);
        let mut dirty = Dirty::default();
        dirty.put(key_session(session), &*row);
        self.commit(&mut s, dirty, true)?;
        Ok(session)
    }

    /// The resource directory, by name.
    pub fn resources(&self) -> Vec<Resource> {
        let s = self.lock();
        let mut out: Vec<Resource> = s
            .resources
            .iter()
            .map(|(id, d)| Resource {
                id: *id,
                draft: d.clone(),
            })
            .collect();
        out.sort_by(|a, b| {
            a.draft
                .name
                .to_lowercase()
                .cmp(&b.draft.name.to_lowercase())
        });
        out
    }

    /// Adds a partner to the directory.
    pub fn add_resource(&self, draft: &ResourceDraft) -> Result<ResourceId, CenterError> {
        draft.validate()?;
        let mut s = self.lock();
        if s.resources.len() >= MAX_ENTRIES {
            return Err(CenterError::Full("the directory is full".into()));
        }
        let id = ResourceId(Self::next_id(&mut s));
        s.resources.insert(id, draft.clone());
        let mut dirty = Dirty::default();
        dirty.put(key_resource(id), draft);
        self.commit(&mut s, dirty, true)?;
        Ok(id)
    }

    /// Removes a partner from the directory.
    pub fn remove_resource(&self, id: ResourceId) -> Result<(), CenterError> {
        let mut s = self.lock();
        s.resources
            .remove(&id)
            .ok_or(CenterError::Missing("such resource"))?;
        let mut dirty = Dirty::default();
        dirty.delete(key_resource(id));
        self.commit(&mut s, dirty, true)
    }

    // ---- proposals ----

    /// Members' proposals, most interest first.
    pub fn proposals(&self) -> Vec<Proposal> {
        let s = self.lock();
        proposals_of(&s)
    }

    /// Records a member's proposal (who proposed it is not kept).
    pub fn propose(&self, draft: &ProposalDraft, now_ms: u64) -> Result<ProposalId, CenterError> {
        draft.validate()?;
        let mut s = self.lock();
        if s.proposals.len() >= MAX_PROPOSALS {
            return Err(CenterError::Full(
                "the center has as many proposals open as it keeps".into(),
            ));
        }
        let id = ProposalId(Self::next_id(&mut s));
        let row = ProposalRow {
            draft: draft.clone(),
            made_ms: now_ms,
            tokens: BTreeSet::new(),
            program: None,
        };
        let mut dirty = Dirty::default();
        dirty.put(key_proposal(id), &row);
        s.proposals.insert(id, row);
        self.commit(&mut s, dirty, true)?;
        Ok(id)
    }

    /// Counts a member's interest once (the token is the same from all their devices);
    /// returns how many members are interested.
    pub fn interested(&self, proposal: ProposalId, token: [u8; 32]) -> Result<u32, CenterError> {
        let mut s = self.lock();
        let row = s
            .proposals
            .get_mut(&proposal)
            .ok_or(CenterError::Missing("such proposal"))?;
        if row.tokens.len() >= 100_000 {
            return Err(CenterError::Full("that proposal cannot count more".into()));
        }
        let count = |r: &ProposalRow| u32::try_from(r.tokens.len()).unwrap_or(u32::MAX);
        if !row.tokens.insert(token) {
            return Ok(count(row));
        }
        let n = count(row);
        let mut dirty = Dirty::default();
        dirty.put(key_proposal(proposal), &*row);
        self.commit(&mut s, dirty, true)?;
        Ok(n)
    }

    /// Makes a program of a proposal (staff complete it afterwards).
    pub fn adopt(&self, proposal: ProposalId, kind: ProgramKind) -> Result<ProgramId, CenterError> {
        let mut s = self.lock();
        let row = s
            .proposals
            .get(&proposal)
            .ok_or(CenterError::Missing("such proposal"))?;
        if let Some(p) = row.program {
            return Ok(p);
        }
        let draft = ProgramDraft {
            title: row.draft.title.clone(),
            kind,
            description: [row.draft.when.as_str(), row.draft.note.as_str()]
                .iter()
                .filter(|t| !t.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("\n"),
            facilitator: String::new(),
            place: String::new(),
            accessibility: String::new(),
        };
        draft.validate()?;
        let id = ProgramId(Self::next_id(&mut s));
        s.programs.insert(id, draft.clone());
        let mut dirty = Dirty::default();
        dirty.put(key_program(id), &draft);
        if let Some(row) = s.proposals.get_mut(&proposal) {
            row.program = Some(id);
            dirty.put(key_proposal(proposal), &*row);
        }
        self.commit(&mut s, dirty, true)?;
        Ok(id)
    }

    // ---- members (over hearth/center/1) ----

    /// The pseudonym `device` may act as: the first tag it presents is its member's;
    /// a device presenting another is refused (one device cannot be many members).
    fn member_for(
        &self,
        s: &mut State,
        who: Asker<'_>,
        dirty: &mut Dirty,
    ) -> Result<Pseudonym, Refusal> {
        let Asker { device, tag } = who;
        let p = tag.pseudonym();
        match s.device_member.get(&device) {
            Some(known) if *known == p => Ok(p),
            Some(_) => Err(Refusal::Invalid(
                "this device already signs up as another member here".into(),
            )),
            None => {
                s.device_member.insert(device, p);
                dirty.put(key_device(&device), &(device.0, p.0));
                Ok(p)
            }
        }
    }

    /// A member signs up (sending the same sign-up again changes nothing).
    pub fn sign_up(
        &self,
        who: Asker<'_>,
        id: SignUpId,
        session: SessionId,
        nickname: &str,
        note: &str,
        now_ms: u64,
    ) -> Result<Vec<(SignUpId, SignUpStatus)>, Refusal> {
        let new = hearth_core::center::NewSignUp {
            nickname: nickname.to_owned(),
            note: note.to_owned(),
            remind_minutes: None,
        };
        new.validate()
            .map_err(|e| Refusal::Invalid(e.to_string()))?;
        let mut s = self.lock();
        let mut dirty = Dirty::default();
        let member = self.member_for(&mut s, who, &mut dirty)?;
        if s.signup_session.contains_key(&id) {
            return Ok(statuses_of(&s, &member));
        }
        let open = s
            .sessions
            .values()
            .filter(|r| r.ends_ms > now_ms)
            .flat_map(|r| &r.roster)
            .filter(|e| {
                e.member == member && matches!(e.place, Place::Confirmed | Place::Waitlisted { .. })
            })
            .count();
        if open >= hearth_core::center::wire::MAX_OPEN_SIGNUPS {
            return Err(Refusal::TooMany(format!(
                "you have {open} sign-ups open here, the most a member may"
            )));
        }
        let row = s
            .sessions
            .get_mut(&session)
            .ok_or_else(|| Refusal::Unknown("session".into()))?;
        if row.cancelled {
            return Err(Refusal::Cancelled);
        }
        if row.starts_ms <= now_ms {
            return Err(Refusal::Started);
        }
        if row.roster.iter().any(|e| {
            e.member == member && matches!(e.place, Place::Confirmed | Place::Waitlisted { .. })
        }) {
            return Err(Refusal::Invalid(
                "you are already signed up for that session".into(),
            ));
        }
        if row.roster.len() >= 4 * usize::from(limits::CAPACITY) {
            return Err(Refusal::TooMany("that session's list is full".into()));
        }
        let capacity = row.capacity;
        roster::admit(
            &mut row.roster,
            Entry {
                id,
                member,
                nickname: nickname.trim().to_owned(),
                note: note.to_owned(),
                arrived_ms: now_ms,
                place: Place::Cancelled,
                attended: false,
            },
            capacity,
        );
        dirty.put(key_session(session), &*row);
        s.signup_session.insert(id, session);
        if let Err(e) = self.commit(&mut s, dirty, true) {
            return Err(Refusal::Unavailable(e.to_string()));
        }
        Ok(statuses_of(&s, &member))
    }

    /// A member withdraws one of their sign-ups.
    pub fn withdraw(
        &self,
        who: Asker<'_>,
        id: SignUpId,
    ) -> Result<Vec<(SignUpId, SignUpStatus)>, Refusal> {
        let mut s = self.lock();
        let mut dirty = Dirty::default();
        let member = self.member_for(&mut s, who, &mut dirty)?;
        let Some(session) = s.signup_session.get(&id).copied() else {
            return Ok(statuses_of(&s, &member));
        };
        let row = s
            .sessions
            .get_mut(&session)
            .ok_or_else(|| Refusal::Unknown("session".into()))?;
        if !row.roster.iter().any(|e| e.id == id && e.member == member) {
            return Err(Refusal::Unknown("sign-up of yours".into()));
        }
        roster::withdraw(&mut row.roster, id, row.capacity);
        dirty.put(key_session(session), &*row);
        if let Err(e) = self.commit(&mut s, dirty, true) {
            return Err(Refusal::Unavailable(e.to_string()));
        }
        Ok(statuses_of(&s, &member))
    }

    /// Where each of a member's sign-ups stands.
    pub fn statuses(&self, who: Asker<'_>) -> Result<Vec<(SignUpId, SignUpStatus)>, Refusal> {
        let mut s = self.lock();
        let mut dirty = Dirty::default();
        let member = self.member_for(&mut s, who, &mut dirty)?;
        if !dirty.0.is_empty() {
            self.commit(&mut s, dirty, false)
                .map_err(|e| Refusal::Unavailable(e.to_string()))?;
        }
        Ok(statuses_of(&s, &member))
    }

    // ---- the flyer ----

    /// The flyer as the hub signs it now (made again only after a change).
    pub fn flyer(&self, now_ms: u64) -> SignedFlyer {
        let mut s = self.lock();
        if let Some(f) = &s.flyer {
            return f.clone();
        }
        let since = now_ms.saturating_sub(7 * DAY_MS);
        let mut sessions: Vec<Session> = s
            .sessions
            .iter()
            .filter(|(_, r)| r.ends_ms >= since)
            .map(|(id, r)| session_of(*id, r))
            .collect();
        sessions.sort_by_key(|x| (x.starts_ms, x.id));
        let flyer = Flyer {
            hub: self.hub,
            version: s.meta.version,
            issued_ms: now_ms,
            programs: s
                .programs
                .iter()
                .map(|(id, d)| Program {
                    id: *id,
                    draft: d.clone(),
                })
                .collect(),
            sessions,
            resources: s
                .resources
                .iter()
                .map(|(id, d)| Resource {
                    id: *id,
                    draft: d.clone(),
                })
                .collect(),
            proposals: proposals_of(&s),
        };
        let signed = SignedFlyer::sign(&flyer, &self.key);
        s.flyer = Some(signed.clone());
        signed
    }

    /// The flyer's version now.
    pub fn version(&self) -> u64 {
        self.lock().meta.version
    }

    // ---- counts and retention ----

    /// The funder report's counts per (program, month): what retention folded into
    /// numbers plus what the sign-ups still kept say.
    pub fn counts(&self, now_ms: u64) -> BTreeMap<(ProgramId, String), Counts> {
        let s = self.lock();
        let mut counts = s.counts.clone();
        let mut seen: BTreeMap<(ProgramId, String), BTreeSet<[u8; 32]>> = s.participants.clone();
        for row in s.sessions.values() {
            let month = month_of(row.starts_ms);
            let key = (row.program, month.clone());
            let c = counts.entry(key.clone()).or_default();
            if !row.cancelled && row.ends_ms <= now_ms {
                c.sessions_held += 1;
            }
            for e in &row.roster {
                if e.place != Place::Withdrawn {
                    c.signups += 1;
                }
                if e.attended {
                    c.attended += 1;
                    seen.entry(key.clone()).or_default().insert(participant(
                        row.program,
                        &month,
                        &e.member,
                    ));
                }
            }
        }
        for (key, set) in seen {
            let c = counts.entry(key).or_default();
            c.participants += u32::try_from(set.len()).unwrap_or(u32::MAX);
        }
        counts
    }

    /// The funder report's rows.
    pub fn report(&self, now_ms: u64) -> Vec<report::Row> {
        let counts = self.counts(now_ms);
        let titles: BTreeMap<ProgramId, String> = self
            .lock()
            .programs
            .iter()
            .map(|(id, d)| (*id, d.title.clone()))
            .collect();
        report::rows(&counts, |id| {
            titles
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("program {id}"))
        })
    }

    /// Deletes sign-ups whose session ended more than the retention period ago,
    /// keeping their counts as numbers; a month past retention keeps only the number
    /// of its participants.
    pub fn sweep(&self, now_ms: u64) -> Result<Swept, CenterError> {
        let cutoff = now_ms.saturating_sub(u64::from(self.retention_days) * DAY_MS);
        let mut s = self.lock();
        let mut dirty = Dirty::default();
        let mut swept = Swept::default();
        let due: Vec<SessionId> = s
            .sessions
            .iter()
            .filter(|(_, r)| r.ends_ms < cutoff && !r.roster.is_empty())
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(row) = s.sessions.get_mut(&id) else {
                continue;
            };
            let roster = std::mem::take(&mut row.roster);
            let (program, month) = (row.program, month_of(row.starts_ms));
            dirty.put(key_session(id), &*row);
            let key = (program, month.clone());
            let mut folded = s.counts.get(&key).cloned().unwrap_or_default();
            let mut seen = s.participants.get(&key).cloned().unwrap_or_default();
            for e in &roster {
                s.signup_session.remove(&e.id);
                if e.place != Place::Withdrawn {
                    folded.signups += 1;
                }
                if e.attended {
                    folded.attended += 1;
                    seen.insert(participant(program, &month, &e.member));
                }
            }
            swept.signups += roster.len();
            dirty.put(key_counts(program, &month), &folded);
            dirty.put(key_participants(program, &month), &seen);
            s.counts.insert(key.clone(), folded);
            s.participants.insert(key, seen);
        }
        // A month whose every session is past retention: its participants become a
        // number (sessions held are counted from the sessions, which stay).
        let closed: Vec<(ProgramId, String)> = s
            .participants
            .keys()
            .filter(|(_, month)| month_end_ms(month).is_some_and(|end| end < cutoff))
            .cloned()
            .collect();
        for key in closed {
            if let Some(set) = s.participants.remove(&key) {
                let c = s.counts.entry(key.clone()).or_default();
                c.participants += u32::try_from(set.len()).unwrap_or(u32::MAX);
                let c = c.clone();
                dirty.put(key_counts(key.0, &key.1), &c);
                dirty.delete(key_participants(key.0, &key.1));
                swept.months_closed += 1;
            }
        }
        if !dirty.0.is_empty() {
            self.commit(&mut s, dirty, swept.signups > 0)?;
            // redb keeps old versions of pages in free space: copy what lives into a
            // fresh file, so deleted nicknames and notes leave the disk with it.
            self.rewrite()?;
        }
        Ok(swept)
    }

    /// Replaces the file with a fresh one holding only the live records (call with
    /// the state lock held).
    fn rewrite(&self) -> Result<(), CenterError> {
        let tmp = self.path.with_extension("redb.new");
        let _ = std::fs::remove_file(&tmp);
        let mut db = self.db();
        {
            let fresh = open_db(&tmp)?;
            let read = db.begin_read().map_err(store_err)?;
            let old = read.open_table(RECORDS).map_err(store_err)?;
            let tx = fresh.begin_write().map_err(store_err)?;
            {
                let mut table = tx.open_table(RECORDS).map_err(store_err)?;
                for row in old.iter().map_err(store_err)? {
                    let (k, v) = row.map_err(store_err)?;
                    table.insert(k.value(), v.value()).map_err(store_err)?;
                }
            }
            tx.commit().map_err(store_err)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(store_err)?;
        if let Some(dir) = self.path.parent()
            && let Ok(d) = std::fs::File::open(dir)
        {
            let _ = d.sync_all();
        }
        *db = open_db(&self.path)?;
        Ok(())
    }
}

/// How often the hub applies retention.
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Applies retention now and then every [`SWEEP_EVERY`], on the blocking pool, until
/// the center is dropped or the returned task is aborted.
pub fn spawn_retention(
    center: &std::sync::Arc<Center>,
    clock_offset_ms: i64,
) -> tokio::task::JoinHandle<()> {
    let center = std::sync::Arc::downgrade(center);
    tokio::spawn(async move {
        loop {
            let Some(c) = center.upgrade() else {
                return;
            };
            let now = crate::offset_now(clock_offset_ms);
            match tokio::task::spawn_blocking(move || c.sweep(now)).await {
                Ok(Ok(swept)) if swept.signups > 0 => {
                    tracing::info!(
                        "retention: deleted {} sign-ups, kept their counts",
                        swept.signups
                    );
                }
                Ok(Err(e)) => tracing::warn!("retention failed: {e}"),
                _ => {}
            }
            tokio::time::sleep(SWEEP_EVERY).await;
        }
    })
}

fn open_db(path: &Path) -> Result<Database, CenterError> {
    let db = Database::builder()
        .set_cache_size(4 << 20)
        .create(path)
        .map_err(store_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(db)
}

fn session_of(id: SessionId, r: &SessionRow) -> Session {
    Session {
        id,
        program: r.program,
        starts_ms: r.starts_ms,
        ends_ms: r.ends_ms,
        capacity: r.capacity,
        cancelled: r.cancelled,
        taken: u16::try_from(roster::confirmed(&r.roster)).unwrap_or(u16::MAX),
        waiting: u16::try_from(roster::waiting(&r.roster)).unwrap_or(u16::MAX),
    }
}

fn proposals_of(s: &State) -> Vec<Proposal> {
    let mut out: Vec<(u64, Proposal)> = s
        .proposals
        .iter()
        .map(|(id, r)| {
            (
                r.made_ms,
                Proposal {
                    id: *id,
                    draft: r.draft.clone(),
                    interested: u32::try_from(r.tokens.len()).unwrap_or(u32::MAX),
                    program: r.program,
                },
            )
        })
        .collect();
    out.sort_by(|(ma, a), (mb, b)| b.interested.cmp(&a.interested).then(ma.cmp(mb)));
    out.into_iter().map(|(_, p)| p).collect()
}

fn statuses_of(s: &State, member: &Pseudonym) -> Vec<(SignUpId, SignUpStatus)> {
    s.sessions
        .values()
        .flat_map(|r| {
            let statuses = roster::statuses(&r.roster);
            r.roster
                .iter()
                .zip(statuses)
                .filter(|(e, _)| e.member == *member)
                .map(|(_, st)| st)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A session's roster as CSV (for printing or a spreadsheet).
pub fn roster_csv(lines: &[RosterLine]) -> String {
    let mut out = String::from("nickname,status,attended,note,signed up (UTC)\r\n");
    for l in lines {
        let when = time::OffsetDateTime::from_unix_timestamp((l.arrived_ms / 1000) as i64)
            .map(|t| {
                format!(
                    "{:04}-{:02}-{:02} {:02}:{:02}",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute()
                )
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{}\r\n",
            report::csv_field(&l.nickname),
            report::csv_field(&l.status.describe()),
            if l.attended { "yes" } else { "no" },
            report::csv_field(&l.note),
            when
        ));
    }
    out
}

#[cfg(test)]
mod tests;
