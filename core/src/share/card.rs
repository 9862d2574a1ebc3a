//! A coach's contact card: the name the coach chooses, the devices they use Hearth on
//! and each device's age recipient, signed by one of those devices. A member scans it
//! (or pastes its text) before sharing; it is checked in full before anything is
//! shown: its size, its encoding, its signature, and every device key and recipient
//! in it. The card grants nothing by itself: it tells the member's device whom to
//! seal a share's keys to, and the member confirms the name and key fingerprint.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::crypto::{self, Domain};
use crate::identity::DeviceKeys;
use crate::ids::DeviceId;
use crate::model::check_line;
use crate::vault::DevicePublic;

/// What every card's text starts with.
pub const CARD_PREFIX: &str = "hearthcoach";
/// The most devices a card names.
pub const MAX_CARD_DEVICES: usize = 8;
/// The longest card text read (a card of [`MAX_CARD_DEVICES`] devices is about 1,300).
pub const MAX_CARD_CHARS: usize = 4096;
/// The longest name a coach may give.
pub const MAX_COACH_NAME: usize = 100;

/// A card could not be read or does not check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// Not a card's text.
    #[error("not a coach card: {0}")]
    Format(String),
    /// The signature does not match what the card says.
    #[error("this coach card's signature does not check: it was altered or forged")]
    BadSignature,
    /// A device key or recipient in it is not valid, or it names none or too many.
    #[error("this coach card lists a device that is not valid: {0}")]
    BadDevice(String),
    /// The name is empty or too long.
    #[error("the coach's name on this card is not valid: {0}")]
    BadName(String),
}

/// What a card says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CardBody {
    name: String,
    devices: Vec<(DeviceId, String)>,
    made_at_ms: u64,
}

/// The card as it travels: the body's bytes and the signing device's signature.
#[derive(Serialize, Deserialize)]
struct SignedCard {
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
    signer: DeviceId,
    #[serde(with = "serde_bytes")]
    signature: Vec<u8>,
}

/// A coach's checked contact card.
#[derive(Clone, PartialEq, Eq)]
pub struct CoachCard {
    body: CardBody,
    signer: DeviceId,
    signature: [u8; 64],
}

impl CoachCard {
    /// The card of a coach whose devices are `devices`, signed by `keys` (one of them).
    pub fn make(
        keys: &DeviceKeys,
        name: &str,
        devices: &[DevicePublic],
        now_ms: u64,
    ) -> Result<Self, CardError> {
        let mut listed: Vec<(DeviceId, String)> = devices
            .iter()
            .map(|d| (d.id, d.recipient.clone()))
            .collect();
        if !listed.iter().any(|(id, _)| *id == keys.id()) {
            listed.insert(0, (keys.id(), keys.recipient().to_string()));
        }
        let body = CardBody {
            name: name.trim().to_owned(),
            devices: listed,
            made_at_ms: now_ms,
        };
        check_body(&body, &keys.id())?;
        let bytes = crate::wire::to_postcard(&body);
        Ok(CoachCard {
            signature: keys.sign(Domain::COACH_CARD, &bytes),
            signer: keys.id(),
            body,
        })
    }

    /// The name the coach chose.
    pub fn name(&self) -> &str {
        &self.body.name
    }

    /// The device that signed the card: its key is the coach's fingerprint.
    pub fn signer(&self) -> DeviceId {
        self.signer
    }

    /// The fingerprint a member compares with the coach's screen.
    pub fn fingerprint(&self) -> String {
        self.signer.fingerprint()
    }

    /// The coach's devices and their age recipients.
    pub fn devices(&self) -> Vec<DevicePublic> {
        self.body
            .devices
            .iter()
            .map(|(id, recipient)| DevicePublic {
                id: *id,
                recipient: recipient.clone(),
            })
            .collect()
    }

    /// When the coach made it, ms since the Unix epoch.
    pub fn made_at_ms(&self) -> u64 {
        self.body.made_at_ms
    }

    /// What the member confirms before sharing, in plain words.
    pub fn words(&self) -> String {
        let n = self.body.devices.len();
        format!(
            "{} ({} device{}), key fingerprint {}",
            self.body.name,
            n,
            if n == 1 { "" } else { "s" },
            self.fingerprint()
        )
    }

    /// The card as a QR code drawn with Unicode half blocks.
    pub fn qr(&self) -> String {
        crate::wire::qr(&self.to_string())
    }
}

impl fmt::Debug for CoachCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoachCard")
            .field("name", &self.body.name)
            .field("signer", &self.signer.short())
            .field("devices", &self.body.devices.len())
            .finish()
    }
}

/// A body is valid: a name, 1 to [`MAX_CARD_DEVICES`] distinct devices whose keys are
/// curve points and whose recipients are age X25519 recipients, the signer among them.
fn check_body(body: &CardBody, signer: &DeviceId) -> Result<(), CardError> {
    check_line("coach name", &body.name, MAX_COACH_NAME)
        .map_err(|e| CardError::BadName(e.to_string()))?;
    if body.devices.is_empty() || body.devices.len() > MAX_CARD_DEVICES {
        return Err(CardError::BadDevice(format!(
            "a card names 1 to {MAX_CARD_DEVICES} devices, this one {}",
            body.devices.len()
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (id, recipient) in &body.devices {
        if !seen.insert(*id) {
            return Err(CardError::BadDevice(format!("{} twice", id.short())));
        }
        id.public_key()
            .map_err(|_| CardError::BadDevice(format!("{} is not a device key", id.short())))?;
        crypto::age_recipient(recipient).map_err(|_| {
            CardError::BadDevice(format!("{} has no valid age recipient", id.short()))
        })?;
    }
    if !seen.contains(signer) {
        return Err(CardError::BadDevice(
            "the signing device is not one of the coach's devices".into(),
        ));
    }
    Ok(())
}

impl fmt::Display for CoachCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let signed = SignedCard {
            body: crate::wire::to_postcard(&self.body),
            signer: self.signer,
            signature: self.signature.to_vec(),
        };
        let bytes = crate::wire::to_postcard(&signed);
        f.write_str(&crate::wire::to_text(CARD_PREFIX, &bytes))
    }
}

impl FromStr for CoachCard {
    type Err = CardError;
    fn from_str(s: &str) -> Result<Self, CardError> {
        let s = s.trim();
        if s.len() > MAX_CARD_CHARS {
            return Err(CardError::Format(format!(
                "{} characters, at most {MAX_CARD_CHARS}",
                s.len()
            )));
        }
        let bytes = crate::wire::from_text(CARD_PREFIX, s).map_err(CardError::Format)?;
        let signed: SignedCard = crate::wire::from_postcard(&bytes, "coach card")
            .map_err(|e| CardError::Format(e.to_string()))?;
        let signature: [u8; 64] = signed
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| CardError::BadSignature)?;
        crypto::verify(&signed.signer, Domain::COACH_CARD, &signed.body, &signature)
            .map_err(|_| CardError::BadSignature)?;
        let card: CardBody = crate::wire::from_postcard(&signed.body, "coach card body")
            .map_err(|e| CardError::Format(e.to_string()))?;
        check_body(&card, &signed.signer)?;
        Ok(CoachCard {
            body: card,
            signer: signed.signer,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Seed;

    fn keys(n: u8) -> DeviceKeys {
        DeviceKeys::derive(&Seed::from_bytes([n; 32])).unwrap()
    }

    fn public(k: &DeviceKeys) -> DevicePublic {
        DevicePublic {
            id: k.id(),
            recipient: k.recipient().to_string(),
        }
    }

    #[test]
    fn a_card_reads_back_as_made_and_names_every_device_of_the_coach() {
        let (laptop, phone) = (keys(1), keys(2));
        let card = CoachCard::make(&laptop, " Lee ", &[public(&phone)], 1_000).unwrap();
        let text = card.to_string();
        assert!(text.starts_with(CARD_PREFIX));
        let read: CoachCard = text.parse().unwrap();
        assert_eq!(read, card);
        assert_eq!(read.name(), "Lee");
        assert_eq!(read.signer(), laptop.id());
        let ids: Vec<DeviceId> = read.devices().iter().map(|d| d.id).collect();
        assert_eq!(ids, vec![laptop.id(), phone.id()]);
        assert!(
            read.words()
                .starts_with("Lee (2 devices), key fingerprint ")
        );
        // Upper case, as a QR code carries it, reads the same.
        assert_eq!(text.to_uppercase().parse::<CoachCard>().unwrap(), card);
    }

    #[test]
    fn a_card_with_a_wrong_signature_is_refused() {
        let coach = keys(1);
        let card = CoachCard::make(&coach, "Lee", &[], 1_000).unwrap();
        // Someone else's signature over the same body.
        let forged = CoachCard {
            signature: keys(9).sign(Domain::COACH_CARD, &crate::wire::to_postcard(&card.body)),
            ..card.clone()
        };
        assert_eq!(
            forged.to_string().parse::<CoachCard>(),
            Err(CardError::BadSignature)
        );
        // The name changed after signing.
        let renamed = CoachCard {
            body: CardBody {
                name: "Dr. Lee".into(),
                ..card.body.clone()
            },
            ..card.clone()
        };
        assert_eq!(
            renamed.to_string().parse::<CoachCard>(),
            Err(CardError::BadSignature)
        );
        // A device slipped in after signing.
        let mut grown = card.clone();
        grown
            .body
            .devices
            .push((keys(7).id(), keys(7).recipient().to_string()));
        assert_eq!(
            grown.to_string().parse::<CoachCard>(),
            Err(CardError::BadSignature)
        );
    }

    #[test]
    fn a_signed_card_with_a_bad_device_or_name_is_refused() {
        let coach = keys(1);
        let sign = |body: CardBody| {
            let bytes = crate::wire::to_postcard(&body);
            CoachCard {
                signature: coach.sign(Domain::COACH_CARD, &bytes),
                signer: coach.id(),
                body,
            }
            .to_string()
            .parse::<CoachCard>()
        };
        let me = (coach.id(), coach.recipient().to_string());
        let bad_recipient = CardBody {
            name: "Lee".into(),
            devices: vec![me.clone(), (keys(2).id(), "age1nope".into())],
            made_at_ms: 0,
        };
        assert!(matches!(sign(bad_recipient), Err(CardError::BadDevice(_))));
        let without_signer = CardBody {
            name: "Lee".into(),
            devices: vec![(keys(2).id(), keys(2).recipient().to_string())],
            made_at_ms: 0,
        };
        assert!(matches!(sign(without_signer), Err(CardError::BadDevice(_))));
        let too_many = CardBody {
            name: "Lee".into(),
            devices: (1..=9)
                .map(|n| (keys(n).id(), keys(n).recipient().to_string()))
                .collect(),
            made_at_ms: 0,
        };
        assert!(matches!(sign(too_many), Err(CardError::BadDevice(_))));
        let no_name = CardBody {
            name: " ".into(),
            devices: vec![me],
            made_at_ms: 0,
        };
        assert!(matches!(sign(no_name), Err(CardError::BadName(_))));
    }

    #[test]
    fn text_that_is_not_a_card_gets_a_clear_error() {
        for bad in [
            "",
            "hearth",
            "hearthcoach",
            "hearthcoach!!!",
            "hearthcoachaaaa",
            "somethingelse",
        ] {
            assert!(
                matches!(bad.parse::<CoachCard>(), Err(CardError::Format(_))),
                "{bad:?}"
            );
        }
        let long = format!("{CARD_PREFIX}{}", "a".repeat(MAX_CARD_CHARS));
        assert!(matches!(
            long.parse::<CoachCard>(),
            Err(CardError::Format(_))
        ));
    }
}
