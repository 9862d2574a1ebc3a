//! The journal as Automerge documents, and its typed view. It owns the schema
//! (`hearth.journal/1`): which keys hold what, which values are `Text` (plan text two
//! devices may edit at once) and which are plain scalars (check-in fields and notes,
//! for load speed). It turns typed edits into Automerge changes and returns their
//! bytes; it knows nothing of keys, bundles or storage.
//!
//! A journal is [`PARTS`] Automerge documents: part 0 holds everything but new
//! check-ins, and each check-in lives in one of [`CHECKIN_SHARDS`] shards, picked by
//! its id. Loading the journal loads the parts in parallel, one thread each, so it
//! takes about half of one document's load on two cores (Automerge loads a document on one
//! thread, and the load is what opening a vault and a new device's first sync wait
//! for). Check-ins are independent entries keyed by unique ids, so where they live
//! changes no merge.
//!
//! ```text
//! part 0:      ROOT { schema: "hearth.journal/1",
//!                     profile:  { name: str },
//!                     plan:     { <section>: { text: Text, items: [str] }..., supporters: [{name, role, contact}] },
//!                     checkins: { <ulid>: CHECKIN }   (check-ins of journals made before shards),
//!                     consents: { <ulid>: { record: str (JSON of the signed grant),
//!                                           ends: { <device>: str (JSON of a signed end) },
//!                                           revoked_at?: timestamp (never written since ends) } },
//!                     center:   { secret: bytes, signups: { <ulid>: SIGNUP } } }  (see `center`)
//! parts 1, 2:  ROOT { schema: "hearth.journal.checkins/1", checkins: { <ulid>: CHECKIN } }
//! CHECKIN:     { mood: int, craving?: int, energy?: int, sleep?: f64,
//!                tags?: str ("\n"-joined), note?: str, at?: timestamp }
//! ```
//! A check-in keeps only what it says: an absent field, empty tags and an empty note
//! are absent keys, and its time is its ULID's (`at` is written only for a check-in
//! whose time differs from its id's; check-ins written by earlier builds have it,
//! and read the same). Every key is an operation Automerge replays when it loads the
//! journal, so a key less per check-in is a load faster on every device.
//!
//! The creating device writes every part's skeleton in its first change, so two
//! devices never race to create the same map (the loser's edits would vanish). A
//! journal made before shards has only part 0, and its new check-ins go there too.
//!
//! The bytes of changes and saves name their part: a record per part,
//! `[0x01, part, length: u32 LE, Automerge bytes]`, so records concatenate. Bytes that
//! start with Automerge's magic number are part 0 alone (as written before parts). A
//! snapshot may add a note after its parts, `[0x02, 0, length: u32 LE, bytes]`, which
//! loading skips (its content is the vault's: see [`with_note`]).

mod center;
mod share;

pub use share::{Comment, MAX_COMMENT_CHARS, SHARE_SCHEMA, ShareDoc, SharedPlan};

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{
    ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value,
};

use crate::model::{
    CheckIn, CheckInId, CheckInPatch, Consent, PlanSection, RecoveryPlan, Section, Supporter,
    ValidationError, check_item, check_section_text,
};

/// The schema string at the root of every journal.
pub const JOURNAL_SCHEMA: &str = "hearth.journal/1";

/// A journal edit or load failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocError {
    /// Automerge refused the bytes or the operation.
    #[error("document: {0}")]
    Automerge(Box<automerge::AutomergeError>),
    /// A value is out of bounds.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The document is not a Hearth journal (or not one this version reads).
    #[error("not a {JOURNAL_SCHEMA} document (schema {0:?})")]
    Schema(Option<String>),
    /// The document lacks a part the skeleton should have.
    #[error("the journal has no {0}")]
    Missing(&'static str),
    /// Bytes that are not a journal's records.
    #[error("damaged journal bytes: {0}")]
    Format(&'static str),
    /// No check-in has this id.
    #[error("no check-in {0}")]
    NoCheckIn(CheckInId),
    /// No item at this position.
    #[error("section {0} has no item {1}")]
    NoItem(PlanSection, usize),
    /// A coach's change to a share does more than add a comment of theirs.
    #[error("a coach may only add comments: {0}")]
    NotAComment(&'static str),
}

impl From<automerge::AutomergeError> for DocError {
    fn from(e: automerge::AutomergeError) -> Self {
        DocError::Automerge(Box::new(e))
    }
}

/// What the vault needs of a kind of document to keep it: an empty one to load
/// bundles into, loading a snapshot, merging changes, saving, checking its schema.
/// The journal and the share document are the kinds.
pub trait Model: Sized + Send + Sync {
    /// An empty document to load bundles into, editing as `actor`.
    fn empty(actor: ActorId) -> Self;
    /// Loads a whole saved document (a snapshot's plaintext).
    fn load(bytes: &[u8], actor: ActorId) -> Result<Self, DocError>;
    /// Applies changes or a saved document (idempotent).
    fn apply(&mut self, bytes: &[u8]) -> Result<(), DocError>;
    /// Whether `other` holds every change this document holds.
    fn is_covered_by(&mut self, other: &mut Self) -> bool;
    /// Checks the schema string (call once bundles are loaded).
    fn check_schema(&self) -> Result<(), DocError>;
    /// The whole document, compacted.
    fn save(&mut self) -> Vec<u8>;
    /// The changes this document waits for: changes applied here depend on them, and
    /// they have not arrived (nothing, once every dependency is in).
    fn missing(&mut self) -> Vec<ChangeHash>;
    /// Checks, before anything of it applies, a change by `author` whose role lets it
    /// add comments only ([`crate::access::Role::Commenter`]). A kind that takes no
    /// comments refuses every such change.
    fn check_comment(
        &mut self,
        _author: &crate::ids::DeviceId,
        _plain: &[u8],
    ) -> Result<(), DocError> {
        Err(DocError::NotAComment("this document takes no comments"))
    }
}

impl Model for JournalDoc {
    fn empty(actor: ActorId) -> Self {
        JournalDoc::empty(actor)
    }
    fn load(bytes: &[u8], actor: ActorId) -> Result<Self, DocError> {
        JournalDoc::load(bytes, actor)
    }
    fn apply(&mut self, bytes: &[u8]) -> Result<(), DocError> {
        JournalDoc::apply(self, bytes)
    }
    fn is_covered_by(&mut self, other: &mut Self) -> bool {
        JournalDoc::is_covered_by(self, other)
    }
    fn check_schema(&self) -> Result<(), DocError> {
        JournalDoc::check_schema(self)
    }
    fn save(&mut self) -> Vec<u8> {
        JournalDoc::save(self)
    }
    fn missing(&mut self) -> Vec<ChangeHash> {
        self.parts
            .iter_mut()
            .flat_map(|p| p.get_missing_deps(&[]))
            .collect()
    }
}

/// The hashes of the changes in journal or share bytes: each change chunk's, and every
/// change a saved document holds. Bytes that do not parse name nothing.
pub fn change_hashes(bytes: &[u8]) -> Vec<ChangeHash> {
    let mut out = Vec::new();
    for (_, part) in parts(bytes).unwrap_or_default() {
        let mut rest = &part[..];
        while let Some((chunk, after)) = split_chunk(rest) {
            rest = after;
            match chunk.get(8) {
                Some(&CHUNK_DOCUMENT) => {
                    if let Ok(mut doc) = AutoCommit::load(chunk) {
                        out.extend(doc.get_changes(&[]).iter().map(|c| c.hash()));
                    }
                }
                Some(_) => {
                    if let Ok(change) = automerge::Change::try_from(chunk) {
                        out.push(change.hash());
                    }
                }
                None => {}
            }
        }
    }
    out
}

/// The type byte of a saved document's chunk (changes are 1, compressed changes 2).
const CHUNK_DOCUMENT: u8 = 0;

/// The first Automerge chunk of `bytes` and what follows it: magic, checksum, type,
/// then the data's length as LEB128.
fn split_chunk(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    if !bytes.starts_with(&AUTOMERGE_MAGIC) {
        return None;
    }
    let (mut len, mut shift, mut at) = (0u64, 0u32, 9usize);
    loop {
        let b = *bytes.get(at)?;
        at += 1;
        len |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let end = at.checked_add(usize::try_from(len).ok()?)?;
    (end <= bytes.len()).then(|| bytes.split_at(end))
}

/// Whether `mine` holds no change `theirs` lacks (and waits for nothing).
fn covered(mine: &mut AutoCommit, theirs: &mut AutoCommit) -> bool {
    mine.get_missing_deps(&[]).is_empty()
        && mine
            .get_heads()
            .iter()
            .all(|h| theirs.get_change_meta_by_hash(h).is_some())
}

/// The schema string at the root of every check-in shard.
pub const CHECKINS_SCHEMA: &str = "hearth.journal.checkins/1";

/// How many documents beside part 0 hold check-ins. Two: on two cores (this
/// machine, and the big cores of a budget phone) four loaded no faster than two (31.3
/// vs 30.5 ms median for 5,500 check-ins) and cost more bytes. The journal's creator
/// writes every shard's skeleton, so raising this later changes where only new
/// journals put check-ins, and builds before it would refuse their bytes.
pub const CHECKIN_SHARDS: usize = 2;

/// How many Automerge documents a journal is.
pub const PARTS: usize = 1 + CHECKIN_SHARDS;

/// The first byte of every record of a part in journal bytes.
const RECORD_TAG: u8 = 0x01;
/// The first byte of a note a snapshot carries beside its parts (its authors'
/// frontier): not Automerge bytes, skipped by [`parts`], read by [`note_of`].
const NOTE_TAG: u8 = 0x02;
/// The bytes every Automerge chunk starts with.
const AUTOMERGE_MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// The journal: its [`PARTS`] parts, as Automerge documents (index = part).
#[derive(Debug)]
pub struct JournalDoc {
    parts: Vec<AutoCommit>,
}

/// Journal bytes as records, one per part that has bytes.
fn encode_parts(parts: &[(usize, Vec<u8>)]) -> Vec<u8> {
    let len = parts.iter().map(|(_, b)| 6 + b.len()).sum();
    let mut out = Vec::with_capacity(len);
    for (part, bytes) in parts {
        out.push(RECORD_TAG);
        out.push(*part as u8);
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// The Automerge bytes in journal bytes, by part (records of one part concatenated).
pub fn parts(bytes: &[u8]) -> Result<Vec<(usize, Vec<u8>)>, DocError> {
    if bytes.starts_with(&AUTOMERGE_MAGIC) {
        return Ok(vec![(0, bytes.to_vec())]);
    }
    let mut by_part: Vec<Vec<u8>> = vec![Vec::new(); PARTS];
    let mut rest = bytes;
    while !rest.is_empty() {
        let [tag, part, l0, l1, l2, l3, body @ ..] = rest else {
            return Err(DocError::Format("a record is cut short"));
        };
        if *tag != RECORD_TAG && *tag != NOTE_TAG {
            return Err(DocError::Format("not journal bytes"));
        }
        let part = usize::from(*part);
        if part >= PARTS {
            return Err(DocError::Format(
                "a record of a part this version does not have",
            ));
        }
        let len = u32::from_le_bytes([*l0, *l1, *l2, *l3]) as usize;
        if body.len() < len {
            return Err(DocError::Format("a record is cut short"));
        }
        if *tag == RECORD_TAG {
            by_part[part].extend_from_slice(&body[..len]);
        }
        rest = &body[len..];
    }
    Ok(by_part
        .into_iter()
        .enumerate()
        .filter(|(_, b)| !b.is_empty())
        .collect())
}

/// Journal bytes with a note after the parts (what a snapshot says beside the
/// document; the caller encodes it).
pub fn with_note(mut bytes: Vec<u8>, note: &[u8]) -> Vec<u8> {
    bytes.push(NOTE_TAG);
    bytes.push(0);
    bytes.extend_from_slice(&(note.len() as u32).to_le_bytes());
    bytes.extend_from_slice(note);
    bytes
}

/// The note in journal bytes, if they carry one (and are well formed).
pub fn note_of(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.starts_with(&AUTOMERGE_MAGIC) {
        return None;
    }
    let mut rest = bytes;
    while let [tag, _part, l0, l1, l2, l3, body @ ..] = rest {
        let len = u32::from_le_bytes([*l0, *l1, *l2, *l3]) as usize;
        let record = body.get(..len)?;
        if *tag == NOTE_TAG {
            return Some(record);
        }
        rest = &body[len..];
    }
    None
}

fn str_of(v: Option<(Value<'_>, ObjId)>) -> Option<String> {
    v.and_then(|(v, _)| v.into_string().ok())
}

impl JournalDoc {
    /// A new journal with its skeleton, made by `actor`. Returns the doc and the
    /// genesis change bytes (every part's skeleton). No secret that grants access
    /// lives in it (every reader holds it); the center secret only lets the member's
    /// devices be one pseudonym at a center.
    pub fn create(actor: ActorId, name: Option<&str>) -> Result<(Self, Vec<u8>), DocError> {
        let mut doc = AutoCommit::new().with_actor(actor.clone());
        doc.put(ROOT, "schema", JOURNAL_SCHEMA)?;
        let profile = doc.put_object(ROOT, "profile", ObjType::Map)?;
        if let Some(name) = name {
            crate::model::check_line("name", name, 100)?;
            doc.put(&profile, "name", name)?;
        }
        let plan = doc.put_object(ROOT, "plan", ObjType::Map)?;
        for s in PlanSection::ALL {
            let sec = doc.put_object(&plan, s.key(), ObjType::Map)?;
            doc.put_object(&sec, "text", ObjType::Text)?;
            doc.put_object(&sec, "items", ObjType::List)?;
        }
        doc.put_object(&plan, "supporters", ObjType::List)?;
        doc.put_object(ROOT, "checkins", ObjType::Map)?;
        doc.put_object(ROOT, "consents", ObjType::Map)?;
        Self::put_center_skeleton(&mut doc)?;
        doc.commit();
        let mut journal = JournalDoc { parts: vec![doc] };
        for _ in 0..CHECKIN_SHARDS {
            let mut shard = AutoCommit::new().with_actor(actor.clone());
            shard.put(ROOT, "schema", CHECKINS_SCHEMA)?;
            shard.put_object(ROOT, "checkins", ObjType::Map)?;
            shard.commit();
            journal.parts.push(shard);
        }
        let bytes = journal.save();
        Ok((journal, bytes))
    }

    /// An empty document to load bundles into, editing as `actor`.
    pub fn empty(actor: ActorId) -> Self {
        JournalDoc {
            parts: (0..PARTS)
                .map(|_| AutoCommit::new().with_actor(actor.clone()))
                .collect(),
        }
    }

    /// Loads a whole saved journal (a snapshot's plaintext): its parts in parallel.
    pub fn load(bytes: &[u8], actor: ActorId) -> Result<Self, DocError> {
        let mut journal = JournalDoc::empty(actor.clone());
        let loaded = crate::par::each(parts(bytes)?, |(part, bytes)| {
            AutoCommit::load(&bytes).map(|doc| (part, doc))
        });
        for doc in loaded {
            let (part, doc) = doc?;
            journal.parts[part] = doc.with_actor(actor.clone());
        }
        Ok(journal)
    }

    /// Applies changes or a saved journal from another bundle (idempotent; changes
    /// whose dependencies are missing wait inside Automerge until they arrive).
    pub fn apply(&mut self, bytes: &[u8]) -> Result<(), DocError> {
        for (part, bytes) in parts(bytes)? {
            self.parts[part].load_incremental(&bytes)?;
        }
        Ok(())
    }

    /// Whether `other` holds every change this document holds (and nothing here waits
    /// for a missing dependency), so `other` alone is at least as new as this.
    pub fn is_covered_by(&mut self, other: &mut JournalDoc) -> bool {
        self.parts
            .iter_mut()
            .zip(other.parts.iter_mut())
            .all(|(mine, theirs)| covered(mine, theirs))
    }

    /// Checks the schema strings (call once bundles are loaded).
    pub fn check_schema(&self) -> Result<(), DocError> {
        let schema = str_of(self.parts[0].get(ROOT, "schema")?);
        if schema.as_deref() != Some(JOURNAL_SCHEMA) {
            return Err(DocError::Schema(schema));
        }
        for shard in &self.parts[1..] {
            let schema = str_of(shard.get(ROOT, "schema")?);
            if schema.is_some() && schema.as_deref() != Some(CHECKINS_SCHEMA) {
                return Err(DocError::Schema(schema));
            }
        }
        Ok(())
    }

    /// The whole journal, every part that has anything, compacted.
    pub fn save(&mut self) -> Vec<u8> {
        let saved: Vec<(usize, Vec<u8>)> = self
            .parts
            .iter_mut()
            .enumerate()
            .filter_map(|(part, doc)| {
                (part == 0 || !doc.get_heads().is_empty()).then(|| (part, doc.save()))
            })
            .collect();
        encode_parts(&saved)
    }

    /// Runs an edit of part 0 as one change; returns that change's bytes, or `None`
    /// if the edit changed nothing. A failed edit is rolled back.
    fn change<F>(&mut self, edit: F) -> Result<Option<Vec<u8>>, DocError>
    where
        F: FnOnce(&mut AutoCommit) -> Result<(), DocError>,
    {
        Ok(self
            .change_part(0, edit)?
            .map(|bytes| encode_parts(&[(0, bytes)])))
    }

    /// [`JournalDoc::change`] in one part; returns the change's Automerge bytes.
    fn change_part<F>(&mut self, part: usize, edit: F) -> Result<Option<Vec<u8>>, DocError>
    where
        F: FnOnce(&mut AutoCommit) -> Result<(), DocError>,
    {
        let doc = &mut self.parts[part];
        let before = doc.get_heads();
        if let Err(e) = edit(doc) {
            doc.rollback();
            return Err(e);
        }
        match doc.commit() {
            Some(_) => Ok(Some(doc.save_after(&before))),
            None => Ok(None),
        }
    }

    /// The part a new check-in goes to: the shard its id's random bits pick, or part
    /// 0 in a journal made before shards.
    fn part_for(&self, id: CheckInId) -> usize {
        let shard = 1 + (id.0.random() % CHECKIN_SHARDS as u128) as usize;
        if self.checkins_in(shard).is_ok() {
            shard
        } else {
            0
        }
    }

    /// The `checkins` map of a part.
    fn checkins_in(&self, part: usize) -> Result<ObjId, DocError> {
        match self.parts[part].get(&ROOT, "checkins")? {
            Some((Value::Object(_), id)) => Ok(id),
            _ => Err(DocError::Missing("checkins")),
        }
    }

    /// Where a check-in is: its part and its map.
    fn find(&self, id: CheckInId) -> Option<(usize, ObjId)> {
        let key = id.to_string();
        (0..PARTS).find_map(|part| {
            let checkins = self.checkins_in(part).ok()?;
            match self.parts[part].get(&checkins, key.as_str()).ok()? {
                Some((Value::Object(_), m)) => Some((part, m)),
                _ => None,
            }
        })
    }

    fn obj(&self, parent: &ObjId, key: &'static str) -> Result<ObjId, DocError> {
        match self.parts[0].get(parent, key)? {
            Some((Value::Object(_), id)) => Ok(id),
            _ => Err(DocError::Missing(key)),
        }
    }

    fn section_obj(&self, s: PlanSection) -> Result<ObjId, DocError> {
        let plan = self.obj(&ROOT, "plan")?;
        match self.parts[0].get(&plan, s.key())? {
            Some((Value::Object(_), id)) => Ok(id),
            _ => Err(DocError::Missing("plan section")),
        }
    }

    /// Records a validated check-in.
    pub fn add_checkin(&mut self, c: &CheckIn) -> Result<Vec<u8>, DocError> {
        self.add_checkins(std::slice::from_ref(c))
    }

    /// Records validated check-ins: one change in each part they go to, all or none.
    pub fn add_checkins(&mut self, all: &[CheckIn]) -> Result<Vec<u8>, DocError> {
        let mut by_part: BTreeMap<usize, Vec<&CheckIn>> = BTreeMap::new();
        for c in all {
            by_part.entry(self.part_for(c.id)).or_default().push(c);
        }
        // Every target map first, so nothing is edited unless all of them exist.
        let maps = by_part
            .keys()
            .map(|&part| self.checkins_in(part))
            .collect::<Result<Vec<ObjId>, DocError>>()?;
        let mut touched = Vec::with_capacity(by_part.len());
        let mut written = Ok(());
        for ((&part, checkins), map) in by_part.iter().zip(&maps) {
            let doc = &mut self.parts[part];
            touched.push((part, doc.get_heads()));
            written = checkins.iter().try_for_each(|c| write_checkin(doc, map, c));
            if written.is_err() {
                break;
            }
        }
        if let Err(e) = written {
            for (part, _) in &touched {
                self.parts[*part].rollback();
            }
            return Err(e);
        }
        let changes: Vec<(usize, Vec<u8>)> = touched
            .into_iter()
            .filter_map(|(part, before)| {
                let doc = &mut self.parts[part];
                doc.commit()?;
                Some((part, doc.save_after(&before)))
            })
            .collect();
        if changes.is_empty() {
            return Err(DocError::Missing("change"));
        }
        Ok(encode_parts(&changes))
    }

    /// Changes fields of a check-in.
    pub fn edit_checkin(
        &mut self,
        id: CheckInId,
        patch: &CheckInPatch,
    ) -> Result<Option<Vec<u8>>, DocError> {
        patch.validate()?;
        let (part, m) = self.find(id).ok_or(DocError::NoCheckIn(id))?;
        let bytes = self.change_part(part, |d| write_fields(d, &m, patch))?;
        Ok(bytes.map(|bytes| encode_parts(&[(part, bytes)])))
    }

    /// Deletes a check-in.
    pub fn delete_checkin(&mut self, id: CheckInId) -> Result<Vec<u8>, DocError> {
        let (part, _) = self.find(id).ok_or(DocError::NoCheckIn(id))?;
        let checkins = self.checkins_in(part)?;
        let bytes = self.change_part(part, |d| Ok(d.delete(&checkins, id.to_string())?))?;
        bytes
            .map(|bytes| encode_parts(&[(part, bytes)]))
            .ok_or(DocError::NoCheckIn(id))
    }

    /// Replaces a section's text (as a minimal diff, so concurrent edits on other
    /// devices merge character by character).
    pub fn set_section_text(
        &mut self,
        s: PlanSection,
        text: &str,
    ) -> Result<Option<Vec<u8>>, DocError> {
        check_section_text(text)?;
        let sec = self.section_obj(s)?;
        let text_obj = self.obj(&sec, "text")?;
        self.change(|d| Ok(d.update_text(&text_obj, text)?))
    }

    /// Appends an item to a section.
    pub fn add_section_item(&mut self, s: PlanSection, item: &str) -> Result<Vec<u8>, DocError> {
        let item = item.trim();
        check_item(item)?;
        let sec = self.section_obj(s)?;
        let items = self.obj(&sec, "items")?;
        let len = self.parts[0].length(&items);
        let bytes = self.change(|d| Ok(d.insert(&items, len, item)?))?;
        bytes.ok_or(DocError::Missing("change"))
    }

    /// Removes the item at `index` (0-based) from a section.
    pub fn remove_section_item(
        &mut self,
        s: PlanSection,
        index: usize,
    ) -> Result<Vec<u8>, DocError> {
        let sec = self.section_obj(s)?;
        let items = self.obj(&sec, "items")?;
        if index >= self.parts[0].length(&items) {
            return Err(DocError::NoItem(s, index));
        }
        let bytes = self.change(|d| Ok(d.delete(&items, index)?))?;
        bytes.ok_or(DocError::NoItem(s, index))
    }

    /// Adds a supporter to the crisis plan.
    pub fn add_supporter(&mut self, sup: &Supporter) -> Result<Vec<u8>, DocError> {
        sup.validate()?;
        let plan = self.obj(&ROOT, "plan")?;
        let list = self.obj(&plan, "supporters")?;
        let len = self.parts[0].length(&list);
        let bytes = self.change(|d| {
            let m = d.insert_object(&list, len, ObjType::Map)?;
            d.put(&m, "name", sup.name.as_str())?;
            d.put(&m, "role", sup.role.as_str())?;
            d.put(&m, "contact", sup.contact.as_str())?;
            Ok(())
        })?;
        bytes.ok_or(DocError::Missing("change"))
    }

    /// Records a signed consent in the ledger.
    pub fn record_consent(&mut self, consent: &Consent) -> Result<Vec<u8>, DocError> {
        consent.validate()?;
        let consents = self.obj(&ROOT, "consents")?;
        let json = serde_json::to_string(consent).map_err(|_| DocError::Missing("consent JSON"))?;
        let bytes = self.change(|d| {
            let m = d.put_object(&consents, consent.id.as_str(), ObjType::Map)?;
            d.put(&m, "record", json)?;
            d.put_object(&m, "ends", ObjType::Map)?;
            Ok(())
        })?;
        bytes.ok_or(DocError::Missing("change"))
    }

    /// Records the signed end of a consent in the ledger, under the signing device
    /// (two devices ending it at once both keep theirs).
    pub fn record_consent_end(
        &mut self,
        end: &crate::share::ConsentEnd,
    ) -> Result<Vec<u8>, DocError> {
        let consents = self.obj(&ROOT, "consents")?;
        let entry = match self.parts[0].get(&consents, end.consent.as_str())? {
            Some((Value::Object(_), id)) => id,
            _ => return Err(DocError::Missing("consent")),
        };
        let json = serde_json::to_string(end).map_err(|_| DocError::Missing("end JSON"))?;
        let by = end.by.to_string();
        let bytes = self.change(|d| {
            let ends = match d.get(&entry, "ends")? {
                Some((Value::Object(_), id)) => id,
                _ => d.put_object(&entry, "ends", ObjType::Map)?,
            };
            d.put(&ends, by.as_str(), json)?;
            Ok(())
        })?;
        bytes.ok_or(DocError::Missing("change"))
    }

    /// The signed ends recorded for a consent (unreadable ones left out).
    pub fn consent_ends(&self, id: &str) -> Vec<crate::share::ConsentEnd> {
        let Ok(consents) = self.obj(&ROOT, "consents") else {
            return Vec::new();
        };
        let Ok(Some((Value::Object(_), entry))) = self.parts[0].get(&consents, id) else {
            return Vec::new();
        };
        let Ok(Some((Value::Object(_), ends))) = self.parts[0].get(&entry, "ends") else {
            return Vec::new();
        };
        self.parts[0]
            .map_range(&ends, ..)
            .filter_map(|item| {
                let json = str_of(self.parts[0].get(&ends, item.key.as_ref()).ok()?)?;
                serde_json::from_str(&json).ok()
            })
            .collect()
    }

    /// The member's chosen name, if they gave one.
    pub fn name(&self) -> Option<String> {
        let profile = self.obj(&ROOT, "profile").ok()?;
        str_of(self.parts[0].get(&profile, "name").ok()?)
    }

    /// Sets the member's chosen name.
    pub fn set_name(&mut self, name: &str) -> Result<Option<Vec<u8>>, DocError> {
        crate::model::check_line("name", name, 100)?;
        let profile = self.obj(&ROOT, "profile")?;
        self.change(|d| Ok(d.put(&profile, "name", name)?))
    }

    /// The recovery plan.
    pub fn plan(&self) -> RecoveryPlan {
        let mut plan = RecoveryPlan::default();
        for s in PlanSection::ALL {
            if let Ok(sec) = self.section_obj(s) {
                *plan.section_mut(s) = self.read_section(&sec);
            }
        }
        if let Ok(list) = self
            .obj(&ROOT, "plan")
            .and_then(|p| self.obj(&p, "supporters"))
        {
            for i in 0..self.parts[0].length(&list) {
                if let Ok(Some((Value::Object(_), m))) = self.parts[0].get(&list, i) {
                    let field = |k: &str| {
                        str_of(self.parts[0].get(&m, k).ok().flatten()).unwrap_or_default()
                    };
                    plan.supporters.push(Supporter {
                        name: field("name"),
                        role: field("role"),
                        contact: field("contact"),
                    });
                }
            }
        }
        plan
    }

    fn read_section(&self, sec: &ObjId) -> Section {
        let text = self
            .obj(sec, "text")
            .ok()
            .and_then(|t| self.parts[0].text(&t).ok())
            .unwrap_or_default();
        let mut items = Vec::new();
        if let Ok(list) = self.obj(sec, "items") {
            for i in 0..self.parts[0].length(&list) {
                if let Some(s) = str_of(self.parts[0].get(&list, i).ok().flatten()) {
                    items.push(s);
                }
            }
        }
        Section { text, items }
    }

    /// Every valid check-in, oldest first.
    pub fn checkins(&self) -> Vec<CheckIn> {
        let mut out: Vec<CheckIn> = (0..PARTS)
            .filter_map(|part| Some((&self.parts[part], self.checkins_in(part).ok()?)))
            .flat_map(|(doc, checkins)| {
                doc.map_range(&checkins, ..).filter_map(move |item| {
                    let id = item.key.parse::<CheckInId>().ok()?;
                    read_checkin(doc, id, &item.id())
                })
            })
            .collect();
        out.sort_by_key(|c| (c.at_ms, c.id));
        out
    }

    /// One check-in.
    pub fn checkin(&self, id: CheckInId) -> Option<CheckIn> {
        let (part, m) = self.find(id)?;
        read_checkin(&self.parts[part], id, &m)
    }

    /// The consent ledger, oldest first.
    pub fn consents(&self) -> Vec<Consent> {
        let Ok(consents) = self.obj(&ROOT, "consents") else {
            return Vec::new();
        };
        let mut out: Vec<Consent> = self.parts[0]
            .map_range(&consents, ..)
            .filter_map(|item| {
                let m = item.id();
                let json = str_of(self.parts[0].get(&m, "record").ok()?)?;
                let mut c: Consent = serde_json::from_str(&json).ok()?;
                if let Some((Value::Scalar(s), _)) = self.parts[0].get(&m, "revoked_at").ok()?
                    && let ScalarValue::Timestamp(t) = s.as_ref()
                {
                    c.revoked_at_ms = u64::try_from(*t).ok();
                }
                Some(c)
            })
            .collect();
        out.sort_by_key(|c| c.granted_at_ms);
        out
    }
}

/// A check-in read back from its map (`None` if it is not a valid one).
fn read_checkin(doc: &AutoCommit, id: CheckInId, m: &ObjId) -> Option<CheckIn> {
    let get = |k: &str| doc.get(m, k).ok().flatten().map(|(v, _)| v);
    let small = |k: &str| {
        get(k)
            .and_then(|v| v.as_i64())
            .and_then(|n| u8::try_from(n).ok())
    };
    let at_ms = match get("at") {
        None => id.at_ms(),
        Some(Value::Scalar(s)) => match s.as_ref() {
            ScalarValue::Timestamp(t) => u64::try_from(*t).ok()?,
            _ => return None,
        },
        Some(Value::Object(_)) => return None,
    };
    let c = CheckIn {
        id,
        at_ms,
        mood: small("mood")?,
        craving: small("craving"),
        energy: small("energy"),
        sleep_hours: get("sleep").and_then(|v| v.as_f64()).map(|f| f as f32),
        tags: get("tags")
            .and_then(|v| v.into_string().ok())
            .map(|t| {
                t.split('\n')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        note: get("note")
            .and_then(|v| v.into_string().ok())
            .unwrap_or_default(),
    };
    c.is_valid().then_some(c)
}

/// Writes a new check-in's map.
fn write_checkin(d: &mut AutoCommit, checkins: &ObjId, c: &CheckIn) -> Result<(), DocError> {
    let m = d.put_object(checkins, c.id.to_string(), ObjType::Map)?;
    if c.at_ms != c.id.at_ms() {
        d.put(&m, "at", ScalarValue::Timestamp(c.at_ms as i64))?;
    }
    write_fields(
        d,
        &m,
        &CheckInPatch {
            mood: Some(c.mood),
            craving: Some(c.craving),
            energy: Some(c.energy),
            sleep_hours: Some(c.sleep_hours),
            tags: Some(c.tags.clone()),
            note: Some(c.note.clone()),
        },
    )
}

fn write_fields(d: &mut AutoCommit, m: &ObjId, p: &CheckInPatch) -> Result<(), DocError> {
    fn opt(
        d: &mut AutoCommit,
        m: &ObjId,
        key: &str,
        v: Option<ScalarValue>,
    ) -> Result<(), DocError> {
        match v {
            Some(v) => d.put(m, key, v)?,
            None => d.delete(m, key)?,
        }
        Ok(())
    }
    if let Some(mood) = p.mood {
        d.put(m, "mood", i64::from(mood))?;
    }
    if let Some(c) = p.craving {
        opt(d, m, "craving", c.map(|c| ScalarValue::Int(i64::from(c))))?;
    }
    if let Some(e) = p.energy {
        opt(d, m, "energy", e.map(|e| ScalarValue::Int(i64::from(e))))?;
    }
    if let Some(s) = p.sleep_hours {
        opt(d, m, "sleep", s.map(|s| ScalarValue::F64(f64::from(s))))?;
    }
    // Empty text is an absent key (deleting a key a new check-in lacks writes nothing).
    let text = |t: String| (!t.is_empty()).then_some(ScalarValue::Str(t.into()));
    if let Some(tags) = &p.tags {
        let tags = crate::model::normalize_tags(tags)?;
        opt(d, m, "tags", text(tags.join("\n")))?;
    }
    if let Some(note) = &p.note {
        opt(d, m, "note", text(note.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NewCheckIn;

    fn actor(n: u8) -> ActorId {
        ActorId::from(vec![n; 16])
    }

    #[test]
    fn edits_read_back_and_merge() {
        let (mut a, genesis) = JournalDoc::create(actor(1), Some("Sam")).unwrap();
        let mut b = JournalDoc::empty(actor(2));
        b.apply(&genesis).unwrap();
        b.check_schema().unwrap();
        assert_eq!(b.name().as_deref(), Some("Sam"));

        let c = NewCheckIn {
            mood: 4,
            note: "walked".into(),
            tags: vec!["walk".into()],
            ..Default::default()
        }
        .validate(5)
        .unwrap();
        let ch1 = a.add_checkin(&c).unwrap();
        let ch2 = b
            .set_section_text(PlanSection::Crisis, "call my sister")
            .unwrap()
            .unwrap();
        let ch3 = a
            .set_section_text(PlanSection::Crisis, "breathe")
            .unwrap()
            .unwrap();
        let ch4 = b.add_section_item(PlanSection::Toolbox, "music").unwrap();
        for ch in [&ch2, &ch4] {
            a.apply(ch).unwrap();
        }
        for ch in [&ch1, &ch3, &ch1] {
            b.apply(ch).unwrap();
        }
        assert_eq!(a.checkins(), vec![c.clone()]);
        assert_eq!(a.plan(), b.plan());
        let text = a.plan().crisis.text;
        assert!(
            text.contains("call my sister") && text.contains("breathe"),
            "{text}"
        );
        assert_eq!(b.plan().toolbox.items, vec!["music"]);

        let patch = CheckInPatch {
            mood: Some(2),
            craving: Some(Some(3)),
            note: Some("later".into()),
            ..Default::default()
        };
        a.edit_checkin(c.id, &patch).unwrap();
        let edited = a.checkin(c.id).unwrap();
        assert_eq!(
            (edited.mood, edited.craving, edited.note.as_str()),
            (2, Some(3), "later")
        );
        assert!(
            a.edit_checkin(
                c.id,
                &CheckInPatch {
                    mood: Some(9),
                    ..Default::default()
                }
            )
            .is_err()
        );
        a.delete_checkin(c.id).unwrap();
        assert!(a.checkins().is_empty());
        assert!(matches!(
            a.delete_checkin(c.id),
            Err(DocError::NoCheckIn(_))
        ));
    }

    #[test]
    fn a_checkin_stores_only_what_it_says() {
        let (mut doc, _) = JournalDoc::create(actor(1), None).unwrap();
        let keys = |doc: &JournalDoc, id: CheckInId| {
            let (part, m) = doc.find(id).unwrap();
            doc.parts[part].keys(&m).collect::<Vec<_>>()
        };
        let bare = NewCheckIn {
            at_ms: Some(1_700_000_000_123),
            mood: 3,
            ..Default::default()
        }
        .validate(0)
        .unwrap();
        let full = NewCheckIn {
            at_ms: Some(1_700_000_000_456),
            mood: 4,
            craving: Some(0),
            energy: Some(2),
            sleep_hours: Some(7.5),
            tags: vec!["walk".into(), "group".into()],
            note: "slept well".into(),
        }
        .validate(0)
        .unwrap();
        // A check-in made elsewhere whose time is not its id's keeps its own.
        let moved = CheckIn {
            at_ms: 1_600_000_000_000,
            ..full.clone()
        };
        let moved = CheckIn {
            id: CheckInId::new(1_650_000_000_000),
            ..moved
        };
        doc.add_checkins(&[bare.clone(), full.clone(), moved.clone()])
            .unwrap();
        assert_eq!(keys(&doc, bare.id), ["mood"]);
        assert_eq!(
            keys(&doc, full.id),
            ["craving", "energy", "mood", "note", "sleep", "tags"]
        );
        assert!(keys(&doc, moved.id).contains(&"at".to_owned()));
        assert_eq!(doc.checkins(), vec![moved, bare.clone(), full.clone()]);

        // Emptying text removes its key; the check-in reads the same.
        doc.edit_checkin(
            full.id,
            &CheckInPatch {
                tags: Some(vec![]),
                note: Some(String::new()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(keys(&doc, full.id), ["craving", "energy", "mood", "sleep"]);
        let emptied = doc.checkin(full.id).unwrap();
        assert_eq!((emptied.tags.len(), emptied.note.as_str()), (0, ""));

        // A check-in as earlier builds wrote it: `at` and every key, always.
        let id = CheckInId::new(1_500_000_000_000);
        let checkins = doc.obj(&ROOT, "checkins").unwrap();
        let d = &mut doc.parts[0];
        let m = d
            .put_object(&checkins, id.to_string(), ObjType::Map)
            .unwrap();
        d.put(&m, "at", ScalarValue::Timestamp(1_500_000_000_000))
            .unwrap();
        d.put(&m, "mood", 5).unwrap();
        d.put(&m, "tags", "").unwrap();
        d.put(&m, "note", "").unwrap();
        d.commit();
        let old = doc.checkin(id).unwrap();
        assert_eq!(
            (old.at_ms, old.mood, old.tags.len(), old.note.as_str()),
            (1_500_000_000_000, 5, 0, "")
        );
    }

    /// 64 check-ins a minute apart.
    fn many(n: u64) -> Vec<CheckIn> {
        (0..n)
            .map(|i| {
                NewCheckIn {
                    at_ms: Some(1_700_000_000_000 + i * 60_000),
                    mood: 3,
                    note: format!("entry {i}"),
                    ..Default::default()
                }
                .validate(0)
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn checkins_spread_over_shards_and_load_back_in_parallel() {
        let (mut a, genesis) = JournalDoc::create(actor(1), None).unwrap();
        let all = many(64);
        let change = a.add_checkins(&all[..32]).unwrap();
        let singles: Vec<Vec<u8>> = all[32..]
            .iter()
            .map(|c| a.add_checkin(c).unwrap())
            .collect();
        // Every shard holds some, part 0 none.
        let held = |doc: &JournalDoc, part: usize| {
            let map = doc.checkins_in(part).unwrap();
            doc.parts[part].length(&map)
        };
        assert_eq!(held(&a, 0), 0);
        for shard in 1..PARTS {
            assert!(held(&a, shard) > 4, "shard {shard}: {}", held(&a, shard));
        }
        assert_eq!(
            (1..PARTS).map(|p| held(&a, p)).sum::<usize>(),
            64,
            "each check-in is in one part"
        );

        let saved = a.save();
        let b = JournalDoc::load(&saved, actor(2)).unwrap();
        b.check_schema().unwrap();
        assert_eq!(b.checkins(), all);

        // Changes arrive in any grouping: one by one, or concatenated.
        let mut c = JournalDoc::empty(actor(3));
        c.apply(&genesis).unwrap();
        let mut rest: Vec<u8> = change;
        singles.iter().for_each(|s| rest.extend_from_slice(s));
        c.apply(&rest).unwrap();
        assert_eq!(c.checkins(), all);
        assert_eq!(c.checkin(all[40].id), Some(all[40].clone()));
    }

    #[test]
    fn a_journal_made_before_shards_keeps_working() {
        // As earlier builds wrote it: one Automerge document, saved bare.
        let (mut made, _) = JournalDoc::create(actor(1), Some("Sam")).unwrap();
        let bare = made.parts[0].save();
        assert!(bare.starts_with(&AUTOMERGE_MAGIC));
        let mut old = JournalDoc::load(&bare, actor(2)).unwrap();
        old.check_schema().unwrap();
        assert_eq!(old.name().as_deref(), Some("Sam"));
        let all = many(8);
        let change = old.add_checkins(&all).unwrap();
        assert_eq!(parts(&change).unwrap().len(), 1, "all in part 0");
        assert_eq!(
            old.checkins_in(0).map(|m| old.parts[0].length(&m)).unwrap(),
            8
        );
        old.delete_checkin(all[0].id).unwrap();
        assert_eq!(old.checkins(), all[1..]);
        let again = JournalDoc::load(&old.save(), actor(3)).unwrap();
        assert_eq!(again.checkins(), all[1..]);
    }

    #[test]
    fn damaged_bytes_are_clear_errors() {
        let (mut a, _) = JournalDoc::create(actor(1), None).unwrap();
        let good = a.save();
        let mut bad_part = good.clone();
        bad_part[1] = PARTS as u8;
        for (what, bytes) in [
            ("cut", &good[..good.len() - 1]),
            ("header cut", &good[..3]),
            ("not records", &b"hello"[..]),
            ("unknown part", &bad_part[..]),
        ] {
            assert!(
                matches!(JournalDoc::load(bytes, actor(2)), Err(DocError::Format(_))),
                "{what}"
            );
            assert!(JournalDoc::empty(actor(2)).apply(bytes).is_err(), "{what}");
        }
        // A record of Automerge garbage is Automerge's error, not a panic.
        let junk = encode_parts(&[(2, vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3])]);
        assert!(matches!(
            JournalDoc::load(&junk, actor(2)),
            Err(DocError::Automerge(_))
        ));
    }

    #[test]
    fn a_note_beside_the_parts_is_found_and_loading_skips_it() {
        let (mut a, _) = JournalDoc::create(actor(1), None).unwrap();
        let c = NewCheckIn {
            mood: 4,
            ..Default::default()
        }
        .validate(5)
        .unwrap();
        a.add_checkin(&c).unwrap();
        let plain = a.save();
        assert_eq!(note_of(&plain), None);
        let noted = with_note(plain.clone(), b"frontier");
        assert_eq!(note_of(&noted), Some(&b"frontier"[..]));
        let mut back = JournalDoc::load(&noted, actor(2)).unwrap();
        assert_eq!(back.checkins().len(), 1);
        assert_eq!(back.save(), plain);
        JournalDoc::empty(actor(3)).apply(&noted).unwrap();
        // A note cut short is no note, and the bytes are refused as damaged.
        let cut = &noted[..noted.len() - 2];
        assert_eq!(note_of(cut), None);
        assert!(matches!(
            JournalDoc::load(cut, actor(2)),
            Err(DocError::Format(_))
        ));
    }

    #[test]
    fn a_foreign_document_is_refused() {
        let mut other = AutoCommit::new();
        other.put(ROOT, "schema", "something/else").unwrap();
        let bytes = other.save();
        let doc = JournalDoc::load(&bytes, actor(1)).unwrap();
        assert!(matches!(doc.check_schema(), Err(DocError::Schema(Some(_)))));
    }
}
