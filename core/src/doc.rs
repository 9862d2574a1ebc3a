//! The journal as an Automerge document, and its typed view. It owns the schema
//! (`hearth.journal/1`): which keys hold what, which values are `Text` (plan text two
//! devices may edit at once) and which are plain scalars (check-in fields and notes,
//! for load speed). It turns typed edits into Automerge changes and returns their
//! bytes; it knows nothing of keys, bundles or storage.
//!
//! ```text
//! ROOT { schema: "hearth.journal/1",
//!        profile:  { name: str },
//!        plan:     { <section>: { text: Text, items: [str] }..., supporters: [{name, role, contact}] },
//!        checkins: { <ulid>: { at: timestamp, mood: int, craving?: int, energy?: int,
//!                              sleep?: f64, tags: str ("\n"-joined), note: str } },
//!        consents: { <ulid>: { record: str (JSON), revoked_at?: timestamp } } }
//! ```
//! The creating device writes the whole skeleton in its first change, so two devices
//! never race to create the same map (the loser's edits would vanish).

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
    /// No check-in has this id.
    #[error("no check-in {0}")]
    NoCheckIn(CheckInId),
    /// No item at this position.
    #[error("section {0} has no item {1}")]
    NoItem(PlanSection, usize),
}

impl From<automerge::AutomergeError> for DocError {
    fn from(e: automerge::AutomergeError) -> Self {
        DocError::Automerge(Box::new(e))
    }
}

/// The journal document.
#[derive(Debug)]
pub struct JournalDoc {
    doc: AutoCommit,
}

fn str_of(v: Option<(Value<'_>, ObjId)>) -> Option<String> {
    v.and_then(|(v, _)| v.into_string().ok())
}

impl JournalDoc {
    /// A new journal with its skeleton, made by `actor`. Returns the doc and the
    /// genesis change bytes.
    /// `recovery` is the member's recovery key secret, kept only inside the encrypted
    /// journal so every one of the member's devices can put it in a backup.
    pub fn create(
        actor: ActorId,
        name: Option<&str>,
        recovery: &[u8; 32],
    ) -> Result<(Self, Vec<u8>), DocError> {
        let mut doc = AutoCommit::new().with_actor(actor);
        doc.put(ROOT, "schema", JOURNAL_SCHEMA)?;
        let profile = doc.put_object(ROOT, "profile", ObjType::Map)?;
        doc.put(
            &profile,
            "recovery_key",
            ScalarValue::Bytes(recovery.to_vec()),
        )?;
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
        doc.commit();
        let bytes = doc.save();
        Ok((JournalDoc { doc }, bytes))
    }

    /// An empty document to load bundles into, editing as `actor`.
    pub fn empty(actor: ActorId) -> Self {
        JournalDoc {
            doc: AutoCommit::new().with_actor(actor),
        }
    }

    /// Loads a whole saved document (a snapshot's plaintext).
    pub fn load(bytes: &[u8], actor: ActorId) -> Result<Self, DocError> {
        let doc = AutoCommit::load(bytes)?.with_actor(actor);
        Ok(JournalDoc { doc })
    }

    /// Applies changes or a saved document from another bundle (idempotent; changes
    /// whose dependencies are missing wait inside Automerge until they arrive).
    pub fn apply(&mut self, bytes: &[u8]) -> Result<(), DocError> {
        self.doc.load_incremental(bytes)?;
        Ok(())
    }

    /// Checks the schema string (call once bundles are loaded).
    pub fn check_schema(&self) -> Result<(), DocError> {
        let schema = str_of(self.doc.get(ROOT, "schema")?);
        if schema.as_deref() != Some(JOURNAL_SCHEMA) {
            return Err(DocError::Schema(schema));
        }
        Ok(())
    }

    /// The whole document, compressed (a snapshot's plaintext).
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// The current heads.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Runs an edit as one change; returns that change's bytes, or `None` if the edit
    /// changed nothing. A failed edit is rolled back.
    fn change<F>(&mut self, edit: F) -> Result<Option<Vec<u8>>, DocError>
    where
        F: FnOnce(&mut AutoCommit) -> Result<(), DocError>,
    {
        let before = self.doc.get_heads();
        if let Err(e) = edit(&mut self.doc) {
            self.doc.rollback();
            return Err(e);
        }
        match self.doc.commit() {
            Some(_) => Ok(Some(self.doc.save_after(&before))),
            None => Ok(None),
        }
    }

    fn obj(&self, parent: &ObjId, key: &'static str) -> Result<ObjId, DocError> {
        match self.doc.get(parent, key)? {
            Some((Value::Object(_), id)) => Ok(id),
            _ => Err(DocError::Missing(key)),
        }
    }

    fn section_obj(&self, s: PlanSection) -> Result<ObjId, DocError> {
        let plan = self.obj(&ROOT, "plan")?;
        match self.doc.get(&plan, s.key())? {
            Some((Value::Object(_), id)) => Ok(id),
            _ => Err(DocError::Missing("plan section")),
        }
    }

    /// Records a validated check-in.
    pub fn add_checkin(&mut self, c: &CheckIn) -> Result<Vec<u8>, DocError> {
        self.add_checkins(std::slice::from_ref(c))
    }

    /// Records validated check-ins as one change.
    pub fn add_checkins(&mut self, all: &[CheckIn]) -> Result<Vec<u8>, DocError> {
        let checkins = self.obj(&ROOT, "checkins")?;
        let bytes = self.change(|d| {
            all.iter().try_for_each(|c| {
                let m = d.put_object(&checkins, c.id.to_string(), ObjType::Map)?;
                d.put(&m, "at", ScalarValue::Timestamp(c.at_ms as i64))?;
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
            })
        })?;
        bytes.ok_or(DocError::Missing("change"))
    }

    /// Changes fields of a check-in.
    pub fn edit_checkin(
        &mut self,
        id: CheckInId,
        patch: &CheckInPatch,
    ) -> Result<Option<Vec<u8>>, DocError> {
        patch.validate()?;
        let checkins = self.obj(&ROOT, "checkins")?;
        let Some((Value::Object(_), m)) = self.doc.get(&checkins, id.to_string())? else {
            return Err(DocError::NoCheckIn(id));
        };
        self.change(|d| write_fields(d, &m, patch))
    }

    /// Deletes a check-in.
    pub fn delete_checkin(&mut self, id: CheckInId) -> Result<Vec<u8>, DocError> {
        let checkins = self.obj(&ROOT, "checkins")?;
        if self.doc.get(&checkins, id.to_string())?.is_none() {
            return Err(DocError::NoCheckIn(id));
        }
        let bytes = self.change(|d| Ok(d.delete(&checkins, id.to_string())?))?;
        bytes.ok_or(DocError::NoCheckIn(id))
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
        let len = self.doc.length(&items);
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
        if index >= self.doc.length(&items) {
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
        let len = self.doc.length(&list);
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
            Ok(())
        })?;
        bytes.ok_or(DocError::Missing("change"))
    }

    /// The member's chosen name, if they gave one.
    pub fn name(&self) -> Option<String> {
        let profile = self.obj(&ROOT, "profile").ok()?;
        str_of(self.doc.get(&profile, "name").ok()?)
    }

    /// The member's recovery key secret.
    pub fn recovery_key(&self) -> Option<zeroize::Zeroizing<[u8; 32]>> {
        let profile = self.obj(&ROOT, "profile").ok()?;
        match self.doc.get(&profile, "recovery_key").ok()?? {
            (Value::Scalar(s), _) => match s.as_ref() {
                ScalarValue::Bytes(b) => {
                    Some(zeroize::Zeroizing::new(b.as_slice().try_into().ok()?))
                }
                _ => None,
            },
            _ => None,
        }
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
            for i in 0..self.doc.length(&list) {
                if let Ok(Some((Value::Object(_), m))) = self.doc.get(&list, i) {
                    let field =
                        |k: &str| str_of(self.doc.get(&m, k).ok().flatten()).unwrap_or_default();
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
            .and_then(|t| self.doc.text(&t).ok())
            .unwrap_or_default();
        let mut items = Vec::new();
        if let Ok(list) = self.obj(sec, "items") {
            for i in 0..self.doc.length(&list) {
                if let Some(s) = str_of(self.doc.get(&list, i).ok().flatten()) {
                    items.push(s);
                }
            }
        }
        Section { text, items }
    }

    /// Every valid check-in, oldest first.
    pub fn checkins(&self) -> Vec<CheckIn> {
        let Ok(checkins) = self.obj(&ROOT, "checkins") else {
            return Vec::new();
        };
        let mut out: Vec<CheckIn> = self
            .doc
            .map_range(&checkins, ..)
            .filter_map(|item| {
                let id = item.key.parse::<CheckInId>().ok()?;
                self.read_checkin(id, &item.id())
            })
            .collect();
        out.sort_by_key(|c| (c.at_ms, c.id));
        out
    }

    /// One check-in.
    pub fn checkin(&self, id: CheckInId) -> Option<CheckIn> {
        let checkins = self.obj(&ROOT, "checkins").ok()?;
        match self.doc.get(&checkins, id.to_string()).ok()? {
            Some((Value::Object(_), m)) => self.read_checkin(id, &m),
            _ => None,
        }
    }

    fn read_checkin(&self, id: CheckInId, m: &ObjId) -> Option<CheckIn> {
        let get = |k: &str| self.doc.get(m, k).ok().flatten().map(|(v, _)| v);
        let small = |k: &str| {
            get(k)
                .and_then(|v| v.as_i64())
                .and_then(|n| u8::try_from(n).ok())
        };
        let at_ms = match get("at")? {
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Timestamp(t) => u64::try_from(*t).ok()?,
                _ => return None,
            },
            Value::Object(_) => return None,
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

    /// The consent ledger, oldest first.
    pub fn consents(&self) -> Vec<Consent> {
        let Ok(consents) = self.obj(&ROOT, "consents") else {
            return Vec::new();
        };
        let mut out: Vec<Consent> = self
            .doc
            .map_range(&consents, ..)
            .filter_map(|item| {
                let m = item.id();
                let json = str_of(self.doc.get(&m, "record").ok()?)?;
                let mut c: Consent = serde_json::from_str(&json).ok()?;
                if let Some((Value::Scalar(s), _)) = self.doc.get(&m, "revoked_at").ok()?
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
    if let Some(tags) = &p.tags {
        let tags = crate::model::normalize_tags(tags)?;
        d.put(m, "tags", tags.join("\n"))?;
    }
    if let Some(note) = &p.note {
        d.put(m, "note", note.as_str())?;
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
        let (mut a, genesis) = JournalDoc::create(actor(1), Some("Sam"), &[7; 32]).unwrap();
        let mut b = JournalDoc::empty(actor(2));
        b.apply(&genesis).unwrap();
        b.check_schema().unwrap();
        assert_eq!(b.name().as_deref(), Some("Sam"));
        assert_eq!(*b.recovery_key().unwrap(), [7; 32]);

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
    fn a_foreign_document_is_refused() {
        let mut other = AutoCommit::new();
        other.put(ROOT, "schema", "something/else").unwrap();
        let bytes = other.save();
        let doc = JournalDoc::load(&bytes, actor(1)).unwrap();
        assert!(matches!(doc.check_schema(), Err(DocError::Schema(Some(_)))));
    }
}
