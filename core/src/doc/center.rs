//! The journal's center part: the member's center secret (how centers know the member
//! without a name: see `center::secret`) and their sign-ups, each kept as the member
//! made it plus the status the hub last gave it.
//!
//! ```text
//! part 0: ROOT { ..., center: { secret: bytes(32),
//!                               signups: { <ulid>: { record: str (JSON of the sign-up as made),
//!                                                    status: str (JSON), withdraw?: true } } } }
//! ```
//! The creating device writes `center` with its secret in the journal's first change.
//! A journal made before it gets the map from the first device that needs it (two
//! devices doing so at once would each keep their own secret until they merge, and
//! Automerge then keeps one: at worst a center counts that member twice that month).

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};

use super::{DocError, JournalDoc, str_of};
use crate::center::{MemberSecret, SignUp, SignUpId, SignUpStatus};

impl JournalDoc {
    /// Writes the center map with a fresh secret (in the creating change).
    pub(super) fn put_center_skeleton(d: &mut automerge::AutoCommit) -> Result<(), DocError> {
        let center = d.put_object(ROOT, "center", ObjType::Map)?;
        d.put(
            &center,
            "secret",
            ScalarValue::Bytes(MemberSecret::generate().expose().to_vec()),
        )?;
        d.put_object(&center, "signups", ObjType::Map)?;
        Ok(())
    }

    /// The member's center secret, and the change that made it if the journal had
    /// none (a journal made before sign-ups).
    pub fn center_secret(&mut self) -> Result<(MemberSecret, Option<Vec<u8>>), DocError> {
        if let Some(secret) = self.read_center_secret() {
            return Ok((secret, None));
        }
        let change = self.change(|d| {
            if d.get(ROOT, "center")?.is_none() {
                Self::put_center_skeleton(d)?;
            } else {
                let center = match d.get(ROOT, "center")? {
                    Some((Value::Object(_), id)) => id,
                    _ => return Err(DocError::Missing("center")),
                };
                d.put(
                    &center,
                    "secret",
                    ScalarValue::Bytes(MemberSecret::generate().expose().to_vec()),
                )?;
            }
            Ok(())
        })?;
        let secret = self
            .read_center_secret()
            .ok_or(DocError::Missing("center secret"))?;
        Ok((secret, change))
    }

    fn read_center_secret(&self) -> Option<MemberSecret> {
        let center = self.obj(&ROOT, "center").ok()?;
        match self.parts[0].get(&center, "secret").ok()?? {
            (Value::Scalar(s), _) => match s.as_ref() {
                ScalarValue::Bytes(b) => {
                    Some(MemberSecret::from_bytes(b.as_slice().try_into().ok()?))
                }
                _ => None,
            },
            _ => None,
        }
    }

    fn signups_obj(&self) -> Result<ObjId, DocError> {
        let center = self.obj(&ROOT, "center")?;
        self.obj(&center, "signups")
    }

    /// Records a new sign-up (its status `Pending` until the hub decides).
    pub fn add_signup(&mut self, signup: &SignUp) -> Result<Vec<u8>, DocError> {
        let signups = self.signups_obj()?;
        let record =
            serde_json::to_string(signup).map_err(|_| DocError::Missing("sign-up JSON"))?;
        let status = status_json(signup.status)?;
        let key = signup.id.to_string();
        self.change(|d| {
            let m = d.put_object(&signups, key.as_str(), ObjType::Map)?;
            d.put(&m, "record", record)?;
            d.put(&m, "status", status)?;
            Ok(())
        })?
        .ok_or(DocError::Missing("change"))
    }

    /// Marks a sign-up to be withdrawn (sent to the hub at the next sync).
    pub fn withdraw_signup(&mut self, id: SignUpId) -> Result<Option<Vec<u8>>, DocError> {
        let m = self.signup_obj(id)?;
        self.change(|d| Ok(d.put(&m, "withdraw", true)?))
    }

    /// Sets the statuses the hub gave (only those that changed make a change).
    pub fn set_signup_statuses(
        &mut self,
        statuses: &[(SignUpId, SignUpStatus)],
    ) -> Result<Option<Vec<u8>>, DocError> {
        let mut writes = Vec::new();
        for (id, status) in statuses {
            let Ok(m) = self.signup_obj(*id) else {
                continue;
            };
            let json = status_json(*status)?;
            let now = str_of(self.parts[0].get(&m, "status")?);
            if now.as_deref() != Some(json.as_str()) {
                writes.push((m, json));
            }
        }
        if writes.is_empty() {
            return Ok(None);
        }
        self.change(|d| {
            for (m, json) in writes {
                d.put(&m, "status", json)?;
            }
            Ok(())
        })
    }

    fn signup_obj(&self, id: SignUpId) -> Result<ObjId, DocError> {
        let signups = self.signups_obj()?;
        match self.parts[0].get(&signups, id.to_string())? {
            Some((Value::Object(_), m)) => Ok(m),
            _ => Err(DocError::Missing("sign-up")),
        }
    }

    /// Every sign-up, soonest session first.
    pub fn signups(&self) -> Vec<SignUp> {
        let Ok(signups) = self.signups_obj() else {
            return Vec::new();
        };
        let doc = &self.parts[0];
        let mut out: Vec<SignUp> = doc
            .map_range(&signups, ..)
            .filter_map(|item| {
                let m = item.id();
                let json = str_of(doc.get(&m, "record").ok()?)?;
                let mut s: SignUp = serde_json::from_str(&json).ok()?;
                if s.id.to_string() != item.key {
                    return None;
                }
                if let Some(status) = str_of(doc.get(&m, "status").ok()?) {
                    s.status = serde_json::from_str(&status).unwrap_or(s.status);
                }
                s.withdraw = matches!(
                    doc.get(&m, "withdraw").ok()?,
                    Some((Value::Scalar(v), _)) if matches!(v.as_ref(), ScalarValue::Boolean(true))
                );
                Some(s)
            })
            .collect();
        out.sort_by_key(|s| (s.starts_ms, s.id));
        out
    }

    /// Deletes sign-ups whose sessions ended before `before_ms` (the member's own
    /// retention: what is over need not be kept).
    pub fn forget_signups_before(&mut self, before_ms: u64) -> Result<Option<Vec<u8>>, DocError> {
        let old: Vec<String> = self
            .signups()
            .into_iter()
            .filter(|s| s.ends_ms < before_ms)
            .map(|s| s.id.to_string())
            .collect();
        if old.is_empty() {
            return Ok(None);
        }
        let signups = self.signups_obj()?;
        self.change(|d| {
            for key in old {
                d.delete(&signups, key.as_str())?;
            }
            Ok(())
        })
    }
}

fn status_json(status: SignUpStatus) -> Result<String, DocError> {
    serde_json::to_string(&status).map_err(|_| DocError::Missing("status JSON"))
}
