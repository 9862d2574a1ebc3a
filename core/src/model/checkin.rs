//! A daily check-in: how the member is doing, in a few numbers, tags and a note.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{ValidationError, check_line, check_range, check_text};

/// A check-in's id: a ULID, so ids sort by creation time and never collide across
/// devices.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct CheckInId(pub ulid::Ulid);

impl CheckInId {
    /// A new id for a check-in made at `at_ms`.
    pub fn new(at_ms: u64) -> Self {
        let random = u128::from_le_bytes(crate::crypto::random_bytes());
        CheckInId(ulid::Ulid::from_parts(at_ms, random))
    }

    /// The time the id was made for, ms since the Unix epoch.
    pub fn at_ms(self) -> u64 {
        self.0.timestamp_ms()
    }
}

impl fmt::Display for CheckInId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for CheckInId {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        ulid::Ulid::from_string(s)
            .map(CheckInId)
            .map_err(|_| ValidationError::BadText {
                field: "check-in id",
                reason: "is not a ULID",
            })
    }
}

impl From<CheckInId> for String {
    fn from(id: CheckInId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for CheckInId {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        s.parse()
    }
}

/// The most tags one check-in carries.
pub const MAX_TAGS: usize = 16;
/// The longest tag.
pub const MAX_TAG_CHARS: usize = 40;
/// The longest note.
pub const MAX_NOTE_CHARS: usize = 20_000;
/// The latest time a check-in can carry, ms since the Unix epoch (in the year 10889):
/// the most a ULID's 48-bit time holds, so an id always carries its check-in's time.
pub const MAX_AT_MS: u64 = (1 << 48) - 1;

/// A recorded check-in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckIn {
    /// Its id.
    pub id: CheckInId,
    /// When it was made, ms since the Unix epoch.
    pub at_ms: u64,
    /// Mood, 1 (very low) to 5 (very good).
    pub mood: u8,
    /// Craving, 0 (none) to 10 (overwhelming).
    pub craving: Option<u8>,
    /// Energy, 1 (exhausted) to 5 (full).
    pub energy: Option<u8>,
    /// Hours slept, 0 to 24.
    pub sleep_hours: Option<f32>,
    /// Short labels the member chose ("meeting", "family"...).
    pub tags: Vec<String>,
    /// A private note.
    pub note: String,
}

/// A check-in as the member enters it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewCheckIn {
    /// When, ms since the Unix epoch (now if `None`).
    pub at_ms: Option<u64>,
    /// Mood, 1–5.
    pub mood: u8,
    /// Craving, 0–10.
    pub craving: Option<u8>,
    /// Energy, 1–5.
    pub energy: Option<u8>,
    /// Hours slept, 0–24.
    pub sleep_hours: Option<f32>,
    /// Tags.
    pub tags: Vec<String>,
    /// Note.
    pub note: String,
}

/// Changes to an existing check-in; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckInPatch {
    /// New mood.
    pub mood: Option<u8>,
    /// New craving (`Some(None)` clears it).
    pub craving: Option<Option<u8>>,
    /// New energy (`Some(None)` clears it).
    pub energy: Option<Option<u8>>,
    /// New hours slept (`Some(None)` clears it).
    pub sleep_hours: Option<Option<f32>>,
    /// New tags.
    pub tags: Option<Vec<String>>,
    /// New note.
    pub note: Option<String>,
}

fn check_mood(mood: u8) -> Result<(), ValidationError> {
    check_range("mood", f64::from(mood), 1.0, 5.0)
}

fn check_craving(c: Option<u8>) -> Result<(), ValidationError> {
    c.map_or(Ok(()), |c| check_range("craving", f64::from(c), 0.0, 10.0))
}

fn check_energy(e: Option<u8>) -> Result<(), ValidationError> {
    e.map_or(Ok(()), |e| check_range("energy", f64::from(e), 1.0, 5.0))
}

fn check_sleep(s: Option<f32>) -> Result<(), ValidationError> {
    s.map_or(Ok(()), |s| {
        check_range("sleep hours", f64::from(s), 0.0, 24.0)
    })
}

/// Trims tags, drops duplicates, and checks each is a short single line.
pub(crate) fn normalize_tags(tags: &[String]) -> Result<Vec<String>, ValidationError> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim();
        check_line("tag", tag, MAX_TAG_CHARS)?;
        if !out.iter().any(|t| t == tag) {
            out.push(tag.to_owned());
        }
    }
    if out.len() > MAX_TAGS {
        return Err(ValidationError::TooMany {
            field: "tags",
            max: MAX_TAGS,
        });
    }
    Ok(out)
}

impl NewCheckIn {
    /// Checks every field and returns the check-in to record, with its new id.
    pub fn validate(&self, now_ms: u64) -> Result<CheckIn, ValidationError> {
        check_mood(self.mood)?;
        check_craving(self.craving)?;
        check_energy(self.energy)?;
        check_sleep(self.sleep_hours)?;
        check_text("note", &self.note, MAX_NOTE_CHARS)?;
        let at_ms = self.at_ms.unwrap_or(now_ms);
        check_range("time", at_ms as f64, 0.0, MAX_AT_MS as f64)?;
        Ok(CheckIn {
            id: CheckInId::new(at_ms),
            at_ms,
            mood: self.mood,
            craving: self.craving,
            energy: self.energy,
            sleep_hours: self.sleep_hours,
            tags: normalize_tags(&self.tags)?,
            note: self.note.clone(),
        })
    }
}

impl CheckInPatch {
    /// Checks every field that is set.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.mood.map_or(Ok(()), check_mood)?;
        self.craving.map_or(Ok(()), check_craving)?;
        self.energy.map_or(Ok(()), check_energy)?;
        self.sleep_hours.map_or(Ok(()), check_sleep)?;
        if let Some(tags) = &self.tags {
            normalize_tags(tags)?;
        }
        if let Some(note) = &self.note {
            check_text("note", note, MAX_NOTE_CHARS)?;
        }
        Ok(())
    }
}

impl CheckIn {
    /// Whether a check-in read back from a document is within bounds (a peer's
    /// buggy or hostile write is shown as nothing rather than as nonsense).
    pub(crate) fn is_valid(&self) -> bool {
        check_mood(self.mood).is_ok()
            && check_craving(self.craving).is_ok()
            && check_energy(self.energy).is_ok()
            && check_sleep(self.sleep_hours).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_enforced() {
        let ok = NewCheckIn {
            mood: 3,
            craving: Some(0),
            energy: Some(5),
            sleep_hours: Some(7.5),
            tags: vec![" walk ".into(), "walk".into(), "meeting".into()],
            note: "fine".into(),
            ..Default::default()
        };
        let c = ok.validate(1000).unwrap();
        assert_eq!(c.tags, vec!["walk", "meeting"]);
        assert_eq!(c.at_ms, 1000);
        for bad in [
            NewCheckIn {
                mood: 9,
                ..ok.clone()
            },
            NewCheckIn {
                mood: 0,
                ..ok.clone()
            },
            NewCheckIn {
                craving: Some(11),
                ..ok.clone()
            },
            NewCheckIn {
                energy: Some(0),
                ..ok.clone()
            },
            NewCheckIn {
                sleep_hours: Some(25.0),
                ..ok.clone()
            },
            NewCheckIn {
                sleep_hours: Some(f32::NAN),
                ..ok.clone()
            },
            NewCheckIn {
                tags: vec!["a\nb".into()],
                ..ok.clone()
            },
            NewCheckIn {
                tags: vec!["  ".into()],
                ..ok.clone()
            },
            NewCheckIn {
                note: "\u{7}".into(),
                ..ok.clone()
            },
            NewCheckIn {
                at_ms: Some(MAX_AT_MS + 1),
                ..ok.clone()
            },
        ] {
            assert!(bad.validate(0).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ids_sort_by_time_and_round_trip() {
        let a = CheckInId::new(1);
        let b = CheckInId::new(2);
        assert!(a < b);
        assert_eq!((a.at_ms(), b.at_ms()), (1, 2));
        let last = NewCheckIn {
            at_ms: Some(MAX_AT_MS),
            mood: 3,
            ..Default::default()
        };
        assert_eq!(last.validate(0).unwrap().id.at_ms(), MAX_AT_MS);
        assert_eq!(a.to_string().parse::<CheckInId>().unwrap(), a);
        assert!("nope".parse::<CheckInId>().is_err());
    }
}
