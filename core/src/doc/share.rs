//! The `share` document (`hearth.share/1`): what one consent lets one coach see — a
//! copy of the signed consent, a projection of exactly the sections it names, and the
//! coach's comments. The member's devices write the projection from the journal's
//! plan and nothing else of the journal ever enters it; the coach may only add
//! comments, which [`ShareDoc::check_comment_change`] checks op by op before a
//! member's device applies anything the coach wrote.
//!
//! ```text
//! ROOT { schema: "hearth.share/1",
//!        consent: str (JSON of the signed consent),
//!        sections: { <section>: { text: Text, items: [str] } },   (only the consent's)
//!        supporters: [{name, role, contact}],                     (only with the crisis plan)
//!        comments: { <ulid>: { author: str (device hex), text: str, at: timestamp } },
//!        ended?: { kind: "revoked" | "expired", at: timestamp } }   (written just before the coach is removed)
//! ```
//! Its bytes use the journal's records with one part, so the vault stores, seals and
//! syncs it the way it does the journal.

use automerge::transaction::Transactable;
use automerge::{
    ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value,
};
use serde::Serialize;

use super::{DocError, Model, covered, encode_parts, parts, str_of};
use crate::ids::DeviceId;
use crate::model::{Consent, PlanSection, RecoveryPlan, Section, Supporter, check_text};

/// The schema string at the root of every share document.
pub const SHARE_SCHEMA: &str = "hearth.share/1";
/// The longest comment a coach may leave.
pub const MAX_COMMENT_CHARS: usize = 4000;
/// The most comments a share document holds.
pub const MAX_COMMENTS: usize = 2000;

/// A coach's comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comment {
    /// A ULID (its time is the comment's).
    pub id: String,
    /// The coach's device that wrote it.
    pub author: DeviceId,
    /// What it says.
    pub text: String,
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
}

/// What a share document shows: the consent and exactly the sections it names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SharedPlan {
    /// The consent as the member signed it (`None` if the copy does not read).
    pub consent: Option<Consent>,
    /// The shared sections, in plan order.
    pub sections: Vec<(PlanSection, Section)>,
    /// The supporters, when the crisis plan is shared.
    pub supporters: Vec<Supporter>,
    /// The coach's comments, oldest first.
    pub comments: Vec<Comment>,
    /// How and when the sharing ended ("revoked" or "expired", ms since the Unix
    /// epoch), once the member's device marked it.
    pub ended: Option<(String, u64)>,
}

/// A share document.
#[derive(Debug)]
pub struct ShareDoc {
    doc: AutoCommit,
}

impl ShareDoc {
    /// A new share for `consent`, projecting its sections of `plan`. Returns the doc
    /// and the bytes of its first change.
    pub fn create(
        actor: ActorId,
        consent: &Consent,
        plan: &RecoveryPlan,
    ) -> Result<(Self, Vec<u8>), DocError> {
        consent.validate()?;
        let json = serde_json::to_string(consent).map_err(|_| DocError::Missing("consent JSON"))?;
        let mut doc = AutoCommit::new().with_actor(actor);
        doc.put(ROOT, "schema", SHARE_SCHEMA)?;
        doc.put(ROOT, "consent", json)?;
        let sections = doc.put_object(ROOT, "sections", ObjType::Map)?;
        for s in &consent.sections {
            let sec = doc.put_object(&sections, s.key(), ObjType::Map)?;
            doc.put_object(&sec, "text", ObjType::Text)?;
            doc.put_object(&sec, "items", ObjType::List)?;
        }
        doc.put_object(ROOT, "supporters", ObjType::List)?;
        doc.put_object(ROOT, "comments", ObjType::Map)?;
        doc.commit();
        let mut share = ShareDoc { doc };
        share.project(plan)?;
        let bytes = share.save();
        Ok((share, bytes))
    }

    /// Brings the shared sections up to date with `plan` (a minimal text diff, items
    /// replaced when they differ); returns the change, or `None` when nothing differs.
    /// Sections the consent does not name are never read from `plan`.
    pub fn project(&mut self, plan: &RecoveryPlan) -> Result<Option<Vec<u8>>, DocError> {
        let shared = self.shared_sections()?;
        let sections = self.obj(&ROOT, "sections")?;
        let mut targets = Vec::new();
        for s in &shared {
            let sec = self.obj(&sections, s.key())?;
            targets.push((
                self.obj(&sec, "text")?,
                self.obj(&sec, "items")?,
                plan.section(*s).clone(),
            ));
        }
        let supporters = self.obj(&ROOT, "supporters")?;
        let wanted: &[Supporter] = if shared.contains(&PlanSection::Crisis) {
            &plan.supporters
        } else {
            &[]
        };
        let current = self.read_supporters(&supporters);
        self.change(|d| {
            for (text, items, section) in &targets {
                d.update_text(text, &section.text)?;
                let now: Vec<String> = (0..d.length(items))
                    .filter_map(|i| str_of(d.get(items, i).ok().flatten()))
                    .collect();
                if now != section.items {
                    for i in (0..d.length(items)).rev() {
                        d.delete(items, i)?;
                    }
                    for (i, item) in section.items.iter().enumerate() {
                        d.insert(items, i, item.as_str())?;
                    }
                }
            }
            if current != wanted {
                for i in (0..d.length(&supporters)).rev() {
                    d.delete(&supporters, i)?;
                }
                for (i, sup) in wanted.iter().enumerate() {
                    let m = d.insert_object(&supporters, i, ObjType::Map)?;
                    d.put(&m, "name", sup.name.as_str())?;
                    d.put(&m, "role", sup.role.as_str())?;
                    d.put(&m, "contact", sup.contact.as_str())?;
                }
            }
            Ok(())
        })
    }

    /// Marks the share ended (`kind` is "revoked" or "expired"), so the coach's device
    /// can say when, before the key it holds stops opening anything new.
    pub fn mark_ended(&mut self, kind: &str, at_ms: u64) -> Result<Vec<u8>, DocError> {
        self.change(|d| {
            let m = d.put_object(ROOT, "ended", ObjType::Map)?;
            d.put(&m, "kind", kind)?;
            d.put(&m, "at", ScalarValue::Timestamp(at_ms as i64))?;
            Ok(())
        })?
        .ok_or(DocError::Missing("change"))
    }

    /// Runs `edit` as one change; returns its bytes, or `None` if it changed nothing.
    /// A failed edit is rolled back.
    fn change(
        &mut self,
        edit: impl FnOnce(&mut AutoCommit) -> Result<(), DocError>,
    ) -> Result<Option<Vec<u8>>, DocError> {
        let before = self.doc.get_heads();
        if let Err(e) = edit(&mut self.doc) {
            self.doc.rollback();
            return Err(e);
        }
        Ok(self
            .doc
            .commit()
            .map(|_| encode_parts(&[(0, self.doc.save_after(&before))])))
    }

    /// Adds a comment by `author` (the coach's device); returns the change.
    pub fn add_comment(
        &mut self,
        id: &str,
        author: &DeviceId,
        text: &str,
        at_ms: u64,
    ) -> Result<Vec<u8>, DocError> {
        let text = text.trim();
        check_comment(text)?;
        let comments = self.obj(&ROOT, "comments")?;
        if self.doc.length(&comments) >= MAX_COMMENTS {
            return Err(DocError::Invalid(crate::model::ValidationError::TooMany {
                field: "comments",
                max: MAX_COMMENTS,
            }));
        }
        self.change(|d| {
            let m = d.put_object(&comments, id, ObjType::Map)?;
            d.put(&m, "author", crate::ids::to_hex(author.as_bytes()))?;
            d.put(&m, "text", text)?;
            d.put(&m, "at", ScalarValue::Timestamp(at_ms as i64))?;
            Ok(())
        })?
        .ok_or(DocError::Missing("change"))
    }

    /// Every byte of the document, uncompressed (for checks that search it).
    pub fn save_uncompressed(&mut self) -> Vec<u8> {
        self.doc.save_nocompress()
    }

    /// What the share shows.
    pub fn view(&self) -> SharedPlan {
        let consent = str_of(self.doc.get(ROOT, "consent").ok().flatten())
            .and_then(|json| serde_json::from_str::<Consent>(&json).ok());
        let mut sections = Vec::new();
        if let Ok(map) = self.obj(&ROOT, "sections") {
            for s in PlanSection::ALL {
                if let Ok(sec) = self.obj(&map, s.key()) {
                    sections.push((s, self.read_section(&sec)));
                }
            }
        }
        let supporters = self
            .obj(&ROOT, "supporters")
            .map(|list| self.read_supporters(&list))
            .unwrap_or_default();
        let mut comments: Vec<Comment> = self
            .obj(&ROOT, "comments")
            .map(|map| {
                self.doc
                    .map_range(&map, ..)
                    .filter_map(|item| {
                        let m = item.id();
                        let field = |k: &str| str_of(self.doc.get(&m, k).ok().flatten());
                        let author = crate::ids::parse_hex::<32>(&field("author")?).ok()?;
                        let at_ms = match self.doc.get(&m, "at").ok()?? {
                            (Value::Scalar(s), _) => match s.as_ref() {
                                ScalarValue::Timestamp(t) => u64::try_from(*t).ok()?,
                                _ => return None,
                            },
                            _ => return None,
                        };
                        Some(Comment {
                            id: item.key.to_string(),
                            author: DeviceId(author),
                            text: field("text")?,
                            at_ms,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        comments.sort_by(|a, b| a.at_ms.cmp(&b.at_ms).then_with(|| a.id.cmp(&b.id)));
        let ended = self.obj(&ROOT, "ended").ok().and_then(|m| {
            let kind = str_of(self.doc.get(&m, "kind").ok().flatten())?;
            match self.doc.get(&m, "at").ok()?? {
                (Value::Scalar(s), _) => match s.as_ref() {
                    ScalarValue::Timestamp(t) => Some((kind, u64::try_from(*t).ok()?)),
                    _ => None,
                },
                _ => None,
            }
        });
        SharedPlan {
            consent,
            sections,
            supporters,
            comments,
            ended,
        }
    }

    /// Checks that `bytes` (a bundle's plaintext by `author`, who is not the member)
    /// only adds new comments signed as `author`: every operation makes a map under
    /// `comments` at a key not yet used, or puts a scalar into a map the same change
    /// made. Anything else — an edit of a section, the consent, another comment, a
    /// deletion — is refused, and nothing is applied here.
    pub fn check_comment_change(
        &mut self,
        author: &DeviceId,
        bytes: &[u8],
    ) -> Result<(), DocError> {
        use automerge::legacy::{Key, ObjectId, OpType};
        let refused = |why: &'static str| Err(DocError::NotAComment(why));
        let comments = self.obj(&ROOT, "comments")?;
        let comments_id = comments.to_string();
        let before = self.doc.get_heads();
        let mut fork = self.doc.fork();
        for (part, bytes) in parts(bytes)? {
            if part != 0 {
                return Err(DocError::Format("a share has one part"));
            }
            fork.load_incremental(&bytes)?;
        }
        if !fork.get_missing_deps(&[]).is_empty() {
            return refused("a coach's change depends on changes this device does not have");
        }
        let existing: std::collections::HashSet<String> = self
            .doc
            .map_range(&comments, ..)
            .map(|item| item.key.to_string())
            .collect();
        let added = fork.get_changes(&before);
        let author_hex = crate::ids::to_hex(author.as_bytes());
        let mut new_comments = 0usize;
        for change in &added {
            let expanded = change.decode();
            let actor = expanded.actor_id.to_hex_string();
            let mut made = std::collections::HashSet::new();
            for (i, op) in expanded.operations.iter().enumerate() {
                let own_id = format!("{}@{actor}", expanded.start_op.get() + i as u64);
                let obj = match &op.obj {
                    ObjectId::Root => return refused("a coach may not change the share's root"),
                    ObjectId::Id(id) => id.to_string(),
                };
                let key = match &op.key {
                    Key::Map(k) => k.to_string(),
                    Key::Seq(_) => return refused("a coach may not edit text or lists"),
                };
                if !op.pred.is_empty() || op.insert {
                    return refused("a coach may not overwrite or delete anything");
                }
                if obj == comments_id {
                    if !matches!(op.action, OpType::Make(ObjType::Map)) || existing.contains(&key) {
                        return refused("a coach may only add new comments");
                    }
                    made.insert(own_id);
                    new_comments += 1;
                } else if made.contains(&obj) {
                    let OpType::Put(value) = &op.action else {
                        return refused("a comment holds only its author, text and time");
                    };
                    let fits = match (key.as_str(), value) {
                        ("author", ScalarValue::Str(s)) => s.as_str() == author_hex,
                        ("text", ScalarValue::Str(s)) => check_comment(s).is_ok(),
                        ("at", ScalarValue::Timestamp(_)) => true,
                        _ => false,
                    };
                    if !fits {
                        return refused("a comment holds only its author, text and time");
                    }
                } else {
                    return refused("a coach may only add comments");
                }
            }
        }
        if existing.len() + new_comments > MAX_COMMENTS {
            return refused("the share holds as many comments as it may");
        }
        Ok(())
    }

    /// The sections the share's skeleton holds (the consent's, as its creator wrote
    /// them).
    fn shared_sections(&self) -> Result<Vec<PlanSection>, DocError> {
        let map = self.obj(&ROOT, "sections")?;
        Ok(PlanSection::ALL
            .into_iter()
            .filter(|s| self.obj(&map, s.key()).is_ok())
            .collect())
    }

    fn obj(&self, parent: &ObjId, key: &str) -> Result<ObjId, DocError> {
        match self.doc.get(parent, key)? {
            Some((Value::Object(_), id)) => Ok(id),
            _ => Err(DocError::Missing("share part")),
        }
    }

    fn read_section(&self, sec: &ObjId) -> Section {
        let text = self
            .obj(sec, "text")
            .ok()
            .and_then(|t| self.doc.text(&t).ok())
            .unwrap_or_default();
        let items = self
            .obj(sec, "items")
            .map(|list| {
                (0..self.doc.length(&list))
                    .filter_map(|i| str_of(self.doc.get(&list, i).ok().flatten()))
                    .collect()
            })
            .unwrap_or_default();
        Section { text, items }
    }

    fn read_supporters(&self, list: &ObjId) -> Vec<Supporter> {
        (0..self.doc.length(list))
            .filter_map(|i| match self.doc.get(list, i).ok()? {
                Some((Value::Object(_), m)) => {
                    let field =
                        |k: &str| str_of(self.doc.get(&m, k).ok().flatten()).unwrap_or_default();
                    Some(Supporter {
                        name: field("name"),
                        role: field("role"),
                        contact: field("contact"),
                    })
                }
                _ => None,
            })
            .collect()
    }
}

impl Model for ShareDoc {
    fn empty(actor: ActorId) -> Self {
        ShareDoc {
            doc: AutoCommit::new().with_actor(actor),
        }
    }

    fn load(bytes: &[u8], actor: ActorId) -> Result<Self, DocError> {
        let mut share = ShareDoc::empty(actor);
        share.apply(bytes)?;
        Ok(share)
    }

    fn apply(&mut self, bytes: &[u8]) -> Result<(), DocError> {
        for (part, bytes) in parts(bytes)? {
            if part != 0 {
                return Err(DocError::Format("a share has one part"));
            }
            self.doc.load_incremental(&bytes)?;
        }
        Ok(())
    }

    fn is_covered_by(&mut self, other: &mut Self) -> bool {
        covered(&mut self.doc, &mut other.doc)
    }

    fn check_schema(&self) -> Result<(), DocError> {
        let schema = str_of(self.doc.get(ROOT, "schema")?);
        if schema.as_deref() != Some(SHARE_SCHEMA) {
            return Err(DocError::Schema(schema));
        }
        Ok(())
    }

    fn save(&mut self) -> Vec<u8> {
        encode_parts(&[(0, self.doc.save())])
    }

    fn missing(&mut self) -> Vec<ChangeHash> {
        self.doc.get_missing_deps(&[])
    }

    fn check_comment(&mut self, author: &DeviceId, plain: &[u8]) -> Result<(), DocError> {
        self.check_comment_change(author, plain)
    }
}

fn check_comment(text: &str) -> Result<(), crate::model::ValidationError> {
    if text.trim().is_empty() {
        return Err(crate::model::ValidationError::Empty("comment"));
    }
    check_text("comment", text, MAX_COMMENT_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ConsentExpiry;

    fn consent(sections: Vec<PlanSection>) -> Consent {
        Consent {
            id: "01JSHARE".into(),
            member_name: "Sam".into(),
            discloser: "Sam".into(),
            recipient_name: "Lee".into(),
            recipient_device: DeviceId([7; 32]),
            recipient_devices: vec![DeviceId([7; 32])],
            share: None,
            sections,
            purpose: "support".into(),
            expiry: ConsentExpiry::Event("the program ends".into()),
            revocation_statement: "You can end this at any time.".into(),
            signed_by: DeviceId([1; 32]),
            signature: [0; 64],
            granted_at_ms: 1,
            revoked_at_ms: None,
        }
    }

    fn plan() -> RecoveryPlan {
        let mut plan = RecoveryPlan::default();
        for s in PlanSection::ALL {
            plan.section_mut(s).text = format!("{} CANARY-{}", s.title(), s.key());
            plan.section_mut(s).items = vec![format!("item CANARY-{}", s.key())];
        }
        plan.supporters.push(Supporter {
            name: "Jo".into(),
            role: "sister".into(),
            contact: "555".into(),
        });
        plan
    }

    fn member() -> ActorId {
        ActorId::from(vec![1u8; 16])
    }

    fn coach() -> ActorId {
        ActorId::from(vec![7u8; 16])
    }

    #[test]
    fn a_share_holds_exactly_the_consented_sections_and_follows_their_edits() {
        let c = consent(vec![PlanSection::Toolbox, PlanSection::Crisis]);
        let mut plan = plan();
        let (mut share, _) = ShareDoc::create(member(), &c, &plan).unwrap();
        // Every byte of the document, uncompressed: the shared sections are there and
        // no other section's text or item is.
        let bytes = share.doc.save_nocompress();
        for s in PlanSection::ALL {
            let leaked = bytes
                .windows(s.key().len() + 7)
                .any(|w| w == format!("CANARY-{}", s.key()).as_bytes());
            let shared = c.sections.contains(&s);
            assert_eq!(leaked, shared, "{s:?}");
        }
        let view = share.view();
        assert_eq!(view.consent.as_ref(), Some(&c));
        assert_eq!(
            view.sections.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            vec![PlanSection::Toolbox, PlanSection::Crisis]
        );
        assert_eq!(view.supporters.len(), 1);
        // An edit to a shared section is projected; one to another section is not.
        plan.toolbox.text = "walks by the river".into();
        plan.triggers.text = "SECRET trigger".into();
        let change = share.project(&plan).unwrap().unwrap();
        assert!(!change.windows(6).any(|w| w == b"SECRET"));
        assert_eq!(share.view().sections[0].1.text, "walks by the river");
        assert_eq!(share.project(&plan).unwrap(), None);
        // A coach's copy made from the bytes reads the same.
        let copy = ShareDoc::load(&share.save(), coach()).unwrap();
        copy.check_schema().unwrap();
        assert_eq!(copy.view(), share.view());
    }

    #[test]
    fn without_the_crisis_plan_no_supporter_is_shared() {
        let c = consent(vec![PlanSection::Goals]);
        let (mut share, _) = ShareDoc::create(member(), &c, &plan()).unwrap();
        assert!(share.view().supporters.is_empty());
        let bytes = share.doc.save_nocompress();
        assert!(!bytes.windows(3).any(|w| w == b"555"));
    }

    #[test]
    fn a_coach_may_add_comments_and_nothing_else() {
        let c = consent(vec![PlanSection::Crisis]);
        let (mut share, bytes) = ShareDoc::create(member(), &c, &plan()).unwrap();
        let lee = DeviceId([7; 32]);
        let mut theirs = ShareDoc::load(&bytes, coach()).unwrap();

        let comment = theirs
            .add_comment("01JC0", &lee, "Good plan. Call me any time.", 5)
            .unwrap();
        share.check_comment_change(&lee, &comment).unwrap();
        share.apply(&comment).unwrap();
        assert_eq!(
            share.view().comments[0].text,
            "Good plan. Call me any time."
        );
        assert_eq!(share.view().comments[0].author, lee);

        // Everything else the coach could write is refused.
        let base = share.save();
        let edit =
            |f: &dyn Fn(&mut AutoCommit, &ObjId) -> Result<(), automerge::AutomergeError>| {
                let mut d = ShareDoc::load(&base, coach()).unwrap();
                let comments = d.obj(&ROOT, "comments").unwrap();
                let before = d.doc.get_heads();
                f(&mut d.doc, &comments).unwrap();
                d.doc.commit();
                encode_parts(&[(0, d.doc.save_after(&before))])
            };
        let mut fork = ShareDoc::load(&base, coach()).unwrap();
        let attempts: Vec<(&str, Vec<u8>)> = vec![
            (
                "a section edit",
                fork.project(&RecoveryPlan::default()).unwrap().unwrap(),
            ),
            (
                "the consent replaced",
                edit(&|d, _| d.put(ROOT, "consent", "{}")),
            ),
            ("a new root key", edit(&|d, _| d.put(ROOT, "notes", "x"))),
            (
                "a comment in another's name",
                ShareDoc::load(&base, coach())
                    .unwrap()
                    .add_comment("01JC1", &DeviceId([9; 32]), "hi", 6)
                    .unwrap(),
            ),
            (
                "an existing comment changed",
                edit(&|d, comments| {
                    let Some((_, existing)) = d.get(comments, "01JC0")? else {
                        unreachable!()
                    };
                    d.put(&existing, "text", "changed")
                }),
            ),
            (
                "a comment deleted",
                edit(&|d, comments| d.delete(comments, "01JC0")),
            ),
            (
                "a comment with more than its fields",
                edit(&|d, comments| {
                    let m = d.put_object(comments, "01JC2", ObjType::Map)?;
                    d.put(&m, "author", crate::ids::to_hex(&[7; 32]))?;
                    d.put(&m, "text", "hi")?;
                    d.put(&m, "crisis", "rewritten")
                }),
            ),
        ];
        for (what, bytes) in attempts {
            let mut target = ShareDoc::load(&base, member()).unwrap();
            assert!(
                matches!(
                    target.check_comment_change(&lee, &bytes),
                    Err(DocError::NotAComment(_))
                ),
                "{what} was let through"
            );
        }
        // And the member's copy is unchanged by the checks.
        assert_eq!(
            ShareDoc::load(&base, member()).unwrap().view(),
            share.view()
        );
    }
}
