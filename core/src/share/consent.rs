//! How a consent is signed, checked, ended and put in words. A grant is signed by the
//! member's device over every element it names (the share's id included), so a
//! consent whose sections, purpose or coach were changed after signing reads as
//! invalid wherever it is shown. Its end — revoked by the member, or expired — is a
//! record of its own, signed by one of the member's devices and bound to the grant's
//! signature. What state a consent is in is computed here, once, for every screen.

use serde::{Deserialize, Serialize};

use super::CoachCard;
use crate::crypto::{self, Domain};
use crate::identity::DeviceKeys;
use crate::ids::{DeviceId, DocId};
use crate::model::{Consent, ConsentExpiry, PlanSection, ValidationError};

/// The version byte at the start of what a grant's signature covers.
const SIGNED_V1: u8 = 1;

/// A consent or its end does not check.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// An element is missing or out of bounds.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The signature does not match the record: it was altered after signing, or
    /// signed by another key than it names.
    #[error("the signature does not match: this consent was altered or forged")]
    BadSignature,
    /// The end names another grant than this one.
    #[error("this end belongs to another consent")]
    OtherConsent,
}

/// What a member chooses when they share.
#[derive(Debug, Clone)]
pub struct ConsentDraft<'a> {
    /// The member's chosen name.
    pub member_name: String,
    /// The coach, from their checked card.
    pub coach: &'a CoachCard,
    /// The sections, at least one.
    pub sections: Vec<PlanSection>,
    /// What for.
    pub purpose: String,
    /// When it ends by itself.
    pub expiry: ConsentExpiry,
    /// The share document it governs.
    pub share: DocId,
}

/// Exactly what a grant's signature covers, in this order.
#[derive(Serialize)]
struct Signed<'a> {
    version: u8,
    id: &'a str,
    member_name: &'a str,
    discloser: &'a str,
    recipient_name: &'a str,
    recipient_device: &'a DeviceId,
    recipient_devices: &'a [DeviceId],
    share: &'a Option<DocId>,
    sections: &'a [PlanSection],
    purpose: &'a str,
    expiry: &'a ConsentExpiry,
    revocation_statement: &'a str,
    signed_by: &'a DeviceId,
    granted_at_ms: u64,
}

/// The statement every consent carries: it can be revoked at any time, how, and
/// that what was seen cannot be taken back.
pub fn revocation_statement(coach: &str) -> String {
    format!(
        "You can end this at any time, and {coach} stops getting updates at once: in the \
         app, Sharing, then End sharing; on a computer, hearth revoke followed by this \
         consent's id. What {coach} has already seen cannot be taken back."
    )
}

/// Signs a new grant with the member's device.
pub fn sign_grant(
    keys: &DeviceKeys,
    draft: &ConsentDraft<'_>,
    now_ms: u64,
) -> Result<Consent, ConsentError> {
    let mut sections = draft.sections.clone();
    sections.sort();
    sections.dedup();
    let coach = draft.coach.name().to_owned();
    let mut consent = Consent {
        id: ulid::Ulid::from_parts(now_ms, u128::from_le_bytes(crypto::random_bytes())).to_string(),
        member_name: draft.member_name.trim().to_owned(),
        discloser: draft.member_name.trim().to_owned(),
        recipient_name: coach.clone(),
        recipient_device: draft.coach.signer(),
        recipient_devices: draft.coach.devices().iter().map(|d| d.id).collect(),
        share: Some(draft.share),
        sections,
        purpose: draft.purpose.trim().to_owned(),
        expiry: draft.expiry.clone(),
        revocation_statement: revocation_statement(&coach),
        signed_by: keys.id(),
        signature: [0; 64],
        granted_at_ms: now_ms,
        revoked_at_ms: None,
    };
    consent.validate()?;
    consent.signature = keys.sign(Domain::CONSENT, &signed_bytes(&consent));
    Ok(consent)
}

/// The bytes a grant's signature covers: every element but the signature itself and
/// the ledger's own `revoked_at_ms`.
pub fn signed_bytes(c: &Consent) -> Vec<u8> {
    crate::wire::to_postcard(&Signed {
        version: SIGNED_V1,
        id: &c.id,
        member_name: &c.member_name,
        discloser: &c.discloser,
        recipient_name: &c.recipient_name,
        recipient_device: &c.recipient_device,
        recipient_devices: &c.recipient_devices,
        share: &c.share,
        sections: &c.sections,
        purpose: &c.purpose,
        expiry: &c.expiry,
        revocation_statement: &c.revocation_statement,
        signed_by: &c.signed_by,
        granted_at_ms: c.granted_at_ms,
    })
}

/// Checks a grant: every element present and the signature by the device it names.
/// (Whether that device is the member's is the ledger's to say: it lives in the
/// member's journal, which only the member's devices write.)
pub fn verify(c: &Consent) -> Result<(), ConsentError> {
    c.validate()?;
    crypto::verify(
        &c.signed_by,
        Domain::CONSENT,
        &signed_bytes(c),
        &c.signature,
    )
    .map_err(|_| ConsentError::BadSignature)
}

/// How a consent ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndKind {
    /// The member ended it.
    Revoked,
    /// Its expiry date passed (performed by whichever device was online first).
    Expired,
}

/// The end of a consent, signed by one of the member's devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEnd {
    /// The consent's id.
    pub consent: String,
    /// The grant's signature: the end applies to that exact grant.
    #[serde(with = "crate::model::sig_hex")]
    pub grant: [u8; 64],
    /// Revoked or expired.
    pub kind: EndKind,
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
    /// The member's device that recorded it.
    pub by: DeviceId,
    /// Its signature ([`Domain::CONSENT_END`]).
    #[serde(with = "crate::model::sig_hex")]
    pub signature: [u8; 64],
}

#[derive(Serialize)]
struct SignedEnd<'a> {
    version: u8,
    consent: &'a str,
    #[serde(with = "serde_bytes")]
    grant: &'a [u8],
    kind: EndKind,
    at_ms: u64,
    by: &'a DeviceId,
}

impl ConsentEnd {
    /// Signs the end of `consent`.
    pub fn sign(keys: &DeviceKeys, consent: &Consent, kind: EndKind, at_ms: u64) -> Self {
        let mut end = ConsentEnd {
            consent: consent.id.clone(),
            grant: consent.signature,
            kind,
            at_ms,
            by: keys.id(),
            signature: [0; 64],
        };
        end.signature = keys.sign(Domain::CONSENT_END, &end.signed_bytes());
        end
    }

    fn signed_bytes(&self) -> Vec<u8> {
        crate::wire::to_postcard(&SignedEnd {
            version: SIGNED_V1,
            consent: &self.consent,
            grant: &self.grant[..],
            kind: self.kind,
            at_ms: self.at_ms,
            by: &self.by,
        })
    }

    /// Checks that this end is signed by the device it names and is `consent`'s.
    pub fn verify(&self, consent: &Consent) -> Result<(), ConsentError> {
        if self.consent != consent.id || self.grant != consent.signature {
            return Err(ConsentError::OtherConsent);
        }
        crypto::verify(
            &self.by,
            Domain::CONSENT_END,
            &self.signed_bytes(),
            &self.signature,
        )
        .map_err(|_| ConsentError::BadSignature)
    }
}

/// Where a consent stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ConsentState {
    /// The coach may see the sections.
    Active,
    /// The member ended it.
    Revoked {
        /// When.
        at_ms: u64,
    },
    /// It ended by itself. `recorded` is false while no device of the member's has yet
    /// been online to carry it out (the coach is refused from `at_ms` on regardless).
    Expired {
        /// When it expired.
        at_ms: u64,
        /// Whether a device of the member's has carried it out.
        recorded: bool,
    },
    /// Its signature does not check: it is not shown as a consent at all.
    Invalid {
        /// Why, in words.
        why: String,
    },
}

impl ConsentState {
    /// One word for lists: active, revoked, expired, invalid.
    pub fn label(&self) -> &'static str {
        match self {
            ConsentState::Active => "active",
            ConsentState::Revoked { .. } => "revoked",
            ConsentState::Expired { .. } => "expired",
            ConsentState::Invalid { .. } => "invalid",
        }
    }

    /// Where it stands, in words: "active", "revoked on 3 December 2026", "expired on
    /// 31 March 2027", "invalid: its signature does not check".
    pub fn words(&self) -> String {
        match self {
            ConsentState::Active => "active".into(),
            ConsentState::Revoked { at_ms } => format!("revoked on {}", day_words(*at_ms)),
            ConsentState::Expired { at_ms, .. } => format!("expired on {}", day_words(*at_ms)),
            ConsentState::Invalid { why } => format!("invalid: {why}"),
        }
    }

    /// When it ended, if it did.
    pub fn ended_at_ms(&self) -> Option<u64> {
        match self {
            ConsentState::Revoked { at_ms } | ConsentState::Expired { at_ms, .. } => Some(*at_ms),
            ConsentState::Active | ConsentState::Invalid { .. } => None,
        }
    }

    /// Whether the coach may still see the sections.
    pub fn is_active(&self) -> bool {
        matches!(self, ConsentState::Active)
    }
}

/// Where `consent` stands at `now_ms`, given the ends recorded for it (only ends
/// signed by one of `member_devices` count).
pub fn state(
    consent: &Consent,
    ends: &[ConsentEnd],
    member_devices: &dyn Fn(&DeviceId) -> bool,
    now_ms: u64,
) -> ConsentState {
    if let Err(e) = verify(consent) {
        return ConsentState::Invalid { why: e.to_string() };
    }
    if !member_devices(&consent.signed_by) {
        return ConsentState::Invalid {
            why: "it was not signed by one of the member's devices".into(),
        };
    }
    let first = ends
        .iter()
        .filter(|e| member_devices(&e.by) && e.verify(consent).is_ok())
        .min_by_key(|e| e.at_ms);
    match first {
        Some(e) if e.kind == EndKind::Revoked => ConsentState::Revoked { at_ms: e.at_ms },
        Some(e) => ConsentState::Expired {
            at_ms: e.at_ms,
            recorded: true,
        },
        None => match expires_at(consent) {
            Some(at) if now_ms >= at => ConsentState::Expired {
                at_ms: at,
                recorded: false,
            },
            _ => ConsentState::Active,
        },
    }
}

/// When a consent ends by itself, if it names a date.
pub fn expires_at(consent: &Consent) -> Option<u64> {
    match consent.expiry {
        ConsentExpiry::On(at) => Some(at),
        ConsentExpiry::Event(_) => None,
    }
}

/// "2 December 2026" (UTC).
pub fn day_words(ms: u64) -> String {
    let days = (ms / 86_400_000) as i64;
    let (y, m, d) = civil_from_days(days);
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    format!("{d} {} {y}", MONTHS[(m - 1) as usize])
}

/// The end of the day `date` names (`YYYY-MM-DD`, UTC): a consent "through 31 March
/// 2027" holds through that day and ends at 00:00 UTC on 1 April. What the CLI's
/// `--expires` and the apps' date picker both give.
pub fn end_of_day(date: &str) -> Result<u64, crate::model::ValidationError> {
    let bad = || crate::model::ValidationError::BadDate(date.chars().take(40).collect());
    let parts: Vec<&str> = date.trim().split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    let (y, m, d): (i64, u32, u32) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 {
        return Err(bad());
    }
    let days = days_from_civil(y, m, d);
    // A day past the month's end (31 April) does not come back as itself.
    if civil_from_days(days) != (y, m, d) {
        return Err(bad());
    }
    Ok(((days + 1) as u64) * 86_400_000)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The sections as a person reads them: "Crisis plan and Wellness toolbox".
pub fn sections_words(sections: &[PlanSection]) -> String {
    let titles: Vec<&str> = sections.iter().map(|s| s.title()).collect();
    match titles.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// How long a consent holds, in words: "through 31 March 2027" (the last day it
/// holds), "until I finish the program".
pub fn until_words(c: &Consent) -> String {
    match &c.expiry {
        // It ends at the start of the next day: the last day it holds is the one before.
        ConsentExpiry::On(at) => format!("through {}", day_words(at.saturating_sub(1))),
        ConsentExpiry::Event(event) => format!("until {event}"),
    }
}

/// A consent in plain words: who lets whom see what, why, until when, how to end it,
/// and who signed it when.
pub fn words(c: &Consent) -> String {
    let until = until_words(c);
    format!(
        "{member} lets {coach} (key {key}) see: {sections}. Purpose: {purpose}. \
         {until_cap}. {statement} Signed by {member}'s device {device} on {day}.",
        member = c.member_name,
        coach = c.recipient_name,
        key = c.recipient_device.fingerprint(),
        sections = sections_words(&c.sections),
        purpose = c.purpose,
        until_cap = capitalize(&until),
        statement = c.revocation_statement,
        device = c.signed_by.short(),
        day = day_words(c.granted_at_ms),
    )
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// One line of a consent's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryLine {
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
    /// What happened, in words.
    pub words: String,
}

/// A consent as every screen shows it: the record, where it stands, its words and
/// its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentView {
    /// The record as signed.
    pub consent: Consent,
    /// Where it stands.
    pub state: ConsentState,
    /// The consent in plain words.
    pub words: String,
    /// Granted, then each recorded end.
    pub history: Vec<HistoryLine>,
}

/// [`ConsentView`] of a consent and the ends recorded for it.
pub fn view(
    consent: Consent,
    ends: &[ConsentEnd],
    member_devices: &dyn Fn(&DeviceId) -> bool,
    now_ms: u64,
) -> ConsentView {
    ConsentView {
        state: state(&consent, ends, member_devices, now_ms),
        words: words(&consent),
        history: history(&consent, ends),
        consent,
    }
}

/// A consent's history, oldest first: granted, then each recorded end.
pub fn history(c: &Consent, ends: &[ConsentEnd]) -> Vec<HistoryLine> {
    let mut out = vec![HistoryLine {
        at_ms: c.granted_at_ms,
        words: format!(
            "granted to {} on {} by device {}",
            c.recipient_name,
            day_words(c.granted_at_ms),
            c.signed_by.short()
        ),
    }];
    let mut ends: Vec<&ConsentEnd> = ends.iter().collect();
    ends.sort_by_key(|e| e.at_ms);
    for e in ends {
        let what = match e.kind {
            EndKind::Revoked => "revoked",
            EndKind::Expired => "expired",
        };
        let check = if e.verify(c).is_ok() {
            ""
        } else {
            " (its signature does not check)"
        };
        out.push(HistoryLine {
            at_ms: e.at_ms,
            words: format!(
                "{what} on {} by device {}{check}",
                day_words(e.at_ms),
                e.by.short()
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Seed;
    use crate::vault::DevicePublic;

    fn keys(n: u8) -> DeviceKeys {
        DeviceKeys::derive(&Seed::from_bytes([n; 32])).unwrap()
    }

    const DAY: u64 = 86_400_000;
    // 2026-12-02T00:00Z.
    const TODAY: u64 = 20_789 * DAY;

    #[test]
    fn a_date_ends_at_the_close_of_that_day_and_impossible_dates_are_refused() {
        assert_eq!(end_of_day("2026-12-01").unwrap(), TODAY);
        assert_eq!(end_of_day(" 2026-12-02 ").unwrap(), TODAY + DAY);
        assert_eq!(
            day_words(end_of_day("2028-02-29").unwrap() - 1),
            "29 February 2028"
        );
        for bad in [
            "2027-02-29",
            "2026-04-31",
            "2026-13-01",
            "2026-00-10",
            "26-1",
            "",
            "x-y-z",
        ] {
            assert!(end_of_day(bad).is_err(), "{bad:?} was taken");
        }
    }

    fn signed(member: &DeviceKeys, expiry: ConsentExpiry) -> (CoachCard, Consent) {
        let coach = keys(7);
        let card = CoachCard::make(
            &coach,
            "Lee",
            &[DevicePublic {
                id: keys(8).id(),
                recipient: keys(8).recipient().to_string(),
            }],
            TODAY,
        )
        .unwrap();
        let consent = sign_grant(
            member,
            &ConsentDraft {
                member_name: "Sam".into(),
                coach: &card,
                sections: vec![
                    PlanSection::Toolbox,
                    PlanSection::Crisis,
                    PlanSection::Crisis,
                ],
                purpose: "support between meetings".into(),
                expiry,
                share: DocId([5; 16]),
            },
            TODAY,
        )
        .unwrap();
        (card, consent)
    }

    #[test]
    fn a_grant_names_every_element_and_its_signature_checks() {
        let phone = keys(1);
        let (card, c) = signed(&phone, ConsentExpiry::On(TODAY + 30 * DAY));
        verify(&c).unwrap();
        assert_eq!(c.sections, vec![PlanSection::Toolbox, PlanSection::Crisis]);
        assert_eq!(c.recipient_device, card.signer());
        assert_eq!(c.recipient_devices, vec![keys(7).id(), keys(8).id()]);
        assert_eq!(c.share, Some(DocId([5; 16])));
        let text = words(&c);
        for part in [
            "Sam lets Lee (key ",
            "Wellness toolbox and Crisis plan",
            "Purpose: support between meetings.",
            "Through 31 December 2026.",
            "You can end this at any time",
            "hearth revoke",
            "cannot be taken back",
            "on 2 December 2026",
        ] {
            assert!(text.contains(part), "{part:?} missing from {text:?}");
        }
        let mine = |d: &DeviceId| *d == phone.id();
        assert_eq!(state(&c, &[], &mine, TODAY), ConsentState::Active);
    }

    #[test]
    fn a_consent_changed_after_signing_is_invalid() {
        let phone = keys(1);
        let (_, c) = signed(&phone, ConsentExpiry::Event("the program ends".into()));
        let mine = |d: &DeviceId| *d == phone.id();
        let changed = [
            Consent {
                sections: vec![
                    PlanSection::Toolbox,
                    PlanSection::Crisis,
                    PlanSection::Triggers,
                ],
                ..c.clone()
            },
            Consent {
                purpose: "anything".into(),
                ..c.clone()
            },
            Consent {
                recipient_devices: vec![keys(9).id()],
                ..c.clone()
            },
            Consent {
                expiry: ConsentExpiry::On(u64::MAX),
                ..c.clone()
            },
            Consent {
                share: Some(DocId([6; 16])),
                ..c.clone()
            },
        ];
        for bad in changed {
            assert_eq!(verify(&bad), Err(ConsentError::BadSignature));
            assert!(matches!(
                state(&bad, &[], &mine, TODAY),
                ConsentState::Invalid { .. }
            ));
        }
        // Signed by a key that is not the member's: its signature checks, but it is
        // not the member's consent.
        let (_, stranger) = signed(&keys(3), ConsentExpiry::Event("never".into()));
        verify(&stranger).unwrap();
        assert!(matches!(
            state(&stranger, &[], &mine, TODAY),
            ConsentState::Invalid { .. }
        ));
    }

    #[test]
    fn an_end_counts_only_when_a_member_device_signed_it_for_this_grant() {
        let (phone, tablet) = (keys(1), keys(2));
        let (_, c) = signed(&phone, ConsentExpiry::On(TODAY + 30 * DAY));
        let mine = |d: &DeviceId| *d == phone.id() || *d == tablet.id();
        let revoked = ConsentEnd::sign(&tablet, &c, EndKind::Revoked, TODAY + DAY);
        revoked.verify(&c).unwrap();
        assert_eq!(
            state(&c, std::slice::from_ref(&revoked), &mine, TODAY + 2 * DAY),
            ConsentState::Revoked { at_ms: TODAY + DAY }
        );
        // The coach cannot end (or un-end) it, and an end moved to another grant fails.
        let by_coach = ConsentEnd::sign(&keys(7), &c, EndKind::Revoked, TODAY);
        assert_eq!(
            state(&c, &[by_coach], &mine, TODAY + 2 * DAY),
            ConsentState::Active
        );
        let (_, other) = signed(&phone, ConsentExpiry::On(TODAY + 30 * DAY));
        assert_eq!(revoked.verify(&other), Err(ConsentError::OtherConsent));
        let mut tampered = revoked.clone();
        tampered.at_ms += 1;
        assert_eq!(tampered.verify(&c), Err(ConsentError::BadSignature));
        let lines = history(&c, &[revoked]);
        assert_eq!(lines.len(), 2);
        assert!(
            lines[1]
                .words
                .starts_with("revoked on 3 December 2026 by device ")
        );
    }

    #[test]
    fn a_dated_consent_expires_by_itself_before_anyone_records_it() {
        let phone = keys(1);
        let at = TODAY + 30 * DAY;
        let (_, c) = signed(&phone, ConsentExpiry::On(at));
        let mine = |d: &DeviceId| *d == phone.id();
        assert_eq!(state(&c, &[], &mine, at - 1), ConsentState::Active);
        assert_eq!(
            state(&c, &[], &mine, at),
            ConsentState::Expired {
                at_ms: at,
                recorded: false
            }
        );
        let end = ConsentEnd::sign(&phone, &c, EndKind::Expired, at + 5);
        assert_eq!(
            state(&c, &[end], &mine, at + 10),
            ConsentState::Expired {
                at_ms: at + 5,
                recorded: true
            }
        );
    }

    #[test]
    fn days_read_as_people_write_them() {
        assert_eq!(day_words(0), "1 January 1970");
        assert_eq!(day_words(TODAY), "2 December 2026");
        assert_eq!(day_words(TODAY + 29 * DAY), "31 December 2026");
        // 2028 is a leap year.
        assert_eq!(day_words(21_243 * DAY), "29 February 2028");
    }
}
