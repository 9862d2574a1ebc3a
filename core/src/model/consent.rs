//! The consent ledger's record: every grant of plan sections to a coach, with the
//! elements a consent must name after 42 CFR Part 2 §2.31 — the member (by chosen
//! name), who discloses, to whom (name and key fingerprint), exactly which sections,
//! the purpose, the expiry (a date or an event), the statement that it can be revoked
//! at any time and how, the signing device and the date. How a consent is signed,
//! checked, ended and put in words is `share::consent`'s.

use serde::{Deserialize, Serialize};

use super::{PlanSection, ValidationError, check_line, check_text};
use crate::ids::{DeviceId, DocId};

/// When a consent ends by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentExpiry {
    /// On this date, ms since the Unix epoch.
    On(u64),
    /// When this event happens ("when I finish the program").
    Event(String),
}

/// One consent in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// A ULID.
    pub id: String,
    /// The member, by the name they chose.
    pub member_name: String,
    /// Who discloses (the member, or the center on their behalf).
    pub discloser: String,
    /// To whom: the coach's name as the member knows it.
    pub recipient_name: String,
    /// To whom: the coach's key (the device that signed their card; its fingerprint is
    /// what the member compared).
    pub recipient_device: DeviceId,
    /// Every device of the coach's the share's keys are sealed to (from their card).
    #[serde(default)]
    pub recipient_devices: Vec<DeviceId>,
    /// The share document the consent governs.
    #[serde(default)]
    pub share: Option<DocId>,
    /// Exactly which sections; never "everything".
    pub sections: Vec<PlanSection>,
    /// What for.
    pub purpose: String,
    /// When it ends by itself.
    pub expiry: ConsentExpiry,
    /// The statement that it can be revoked at any time, and how.
    pub revocation_statement: String,
    /// The device that signed it.
    pub signed_by: DeviceId,
    /// The signature over the record's canonical bytes (all fields above).
    #[serde(with = "sig_hex")]
    pub signature: [u8; 64],
    /// When it was granted, ms since the Unix epoch.
    pub granted_at_ms: u64,
    /// When it was revoked, if it was (as the ledger read it: the signed end is what
    /// counts, see `share::consent::ConsentEnd`).
    #[serde(default)]
    pub revoked_at_ms: Option<u64>,
}

impl Consent {
    /// Checks that every element a consent must name is there.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_line("member name", &self.member_name, 100)?;
        check_line("discloser", &self.discloser, 200)?;
        check_line("recipient name", &self.recipient_name, 200)?;
        if self.sections.is_empty() {
            return Err(ValidationError::Empty("shared sections"));
        }
        check_line("purpose", &self.purpose, 500)?;
        if let ConsentExpiry::Event(e) = &self.expiry {
            check_line("expiry event", e, 200)?;
        }
        check_line("revocation statement", &self.revocation_statement, 1000)?;
        check_text("revocation statement", &self.revocation_statement, 1000)
    }
}

pub(crate) mod sig_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(sig: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::ids::to_hex(sig))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let text = String::deserialize(d)?;
        crate::ids::parse_hex::<64>(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_consent_must_name_its_sections() {
        let c = Consent {
            id: "01J".into(),
            member_name: "Sam".into(),
            discloser: "Sam".into(),
            recipient_name: "Coach Lee".into(),
            recipient_device: DeviceId([0; 32]),
            recipient_devices: vec![DeviceId([0; 32])],
            share: None,
            sections: vec![PlanSection::Crisis],
            purpose: "support in crisis".into(),
            expiry: ConsentExpiry::Event("end of program".into()),
            revocation_statement: "I can revoke this at any time in Hearth > Sharing.".into(),
            signed_by: DeviceId([0; 32]),
            signature: [0; 64],
            granted_at_ms: 0,
            revoked_at_ms: None,
        };
        c.validate().unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Consent>(&json).unwrap(), c);
        assert!(
            Consent {
                sections: vec![],
                ..c.clone()
            }
            .validate()
            .is_err()
        );
        assert!(
            Consent {
                purpose: " ".into(),
                ..c
            }
            .validate()
            .is_err()
        );
    }
}
