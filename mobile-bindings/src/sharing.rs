//! Sharing plan sections with a coach, as the apps see it: the member's Sharing screen
//! (scan a coach's card and confirm whom it names, share chosen sections under a
//! consent, read each consent in plain words, revoke in one tap) and the coach's
//! Shared with me screen (the sections, the consent, comments). Every state and every
//! sentence is computed here from `hearth-core`; the apps only lay them out.

use hearth_core::doc::Comment;
use hearth_core::ids::DocId;
use hearth_core::model::ConsentExpiry;
use hearth_core::share::consent::{self, day_words, sections_words, until_words};
use hearth_core::share::{CoachCard, ConsentState, ConsentView};
use hearth_core::vault::{ShareCode, SharedWithMe};
use hearth_core::wire::now_ms;

use crate::hearth::Hearth;
use crate::records::{section, section_back};
use crate::runtime::blocking;
use crate::{HearthError, PlanSection, PlanSectionView, Supporter};

/// A coach's contact card, checked: what the member confirms before sharing.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CoachCardView {
    /// The card's text (`hearthcoach…`): what `share_plan` takes.
    pub text: String,
    /// The card as a QR code drawn with Unicode blocks (the app may draw its own from
    /// `text`).
    pub qr_text: String,
    /// The name the coach chose.
    pub name: String,
    /// The key fingerprint the member compares with the coach's screen.
    pub fingerprint: String,
    /// How many of the coach's devices it names.
    pub devices: u32,
    /// "Lee (1 device), key fingerprint …".
    pub words: String,
}

impl From<&CoachCard> for CoachCardView {
    fn from(card: &CoachCard) -> Self {
        CoachCardView {
            text: card.to_string(),
            qr_text: card.qr(),
            name: card.name().to_owned(),
            fingerprint: card.fingerprint(),
            devices: card.devices().len() as u32,
            words: card.words(),
        }
    }
}

/// Where a consent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConsentStatus {
    /// The coach sees the sections.
    Active,
    /// The member ended it.
    Revoked,
    /// It ended by itself.
    Expired,
    /// Its signature does not check: do not rely on it.
    Invalid,
}

/// One line of a consent's history.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ConsentHistoryLine {
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
    /// "granted to Lee on 2 December 2026 by device 1a2b3c4d".
    pub words: String,
}

/// A consent as the member's Sharing screen shows it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ConsentRecord {
    /// Its id (what `revoke` takes).
    pub id: String,
    /// Whom: the coach's name.
    pub coach_name: String,
    /// Whom: the coach's key fingerprint.
    pub coach_fingerprint: String,
    /// Exactly which sections.
    pub sections: Vec<PlanSection>,
    /// "Crisis plan and Wellness toolbox".
    pub sections_words: String,
    /// Why.
    pub purpose: String,
    /// Since when, ms since the Unix epoch.
    pub granted_at_ms: u64,
    /// "since 2 December 2026".
    pub since_words: String,
    /// "through 31 March 2027", "until I finish the program".
    pub until_words: String,
    /// When it ends by itself, if it names a date.
    pub expires_at_ms: Option<u64>,
    /// Where it stands.
    pub status: ConsentStatus,
    /// "active", "revoked on 3 December 2026", "expired on …", "invalid: …".
    pub status_words: String,
    /// When it ended, if it did.
    pub ended_at_ms: Option<u64>,
    /// The whole consent in plain words, as signed.
    pub words: String,
    /// Granted, then each end.
    pub history: Vec<ConsentHistoryLine>,
    /// While it is active: the code the coach's device takes the share up by
    /// (`hearthshare…`), and it as a QR code.
    pub share_code: Option<String>,
    /// `share_code` as a QR code drawn with Unicode blocks.
    pub share_qr_text: Option<String>,
}

impl From<ConsentView> for ConsentRecord {
    fn from(v: ConsentView) -> Self {
        let c = &v.consent;
        let status = match v.state {
            ConsentState::Active => ConsentStatus::Active,
            ConsentState::Revoked { .. } => ConsentStatus::Revoked,
            ConsentState::Expired { .. } => ConsentStatus::Expired,
            ConsentState::Invalid { .. } => ConsentStatus::Invalid,
        };
        let code = c.share.filter(|_| v.state.is_active()).map(ShareCode);
        ConsentRecord {
            id: c.id.clone(),
            coach_name: c.recipient_name.clone(),
            coach_fingerprint: c.recipient_device.fingerprint(),
            sections: c.sections.iter().copied().map(section_back).collect(),
            sections_words: sections_words(&c.sections),
            purpose: c.purpose.clone(),
            granted_at_ms: c.granted_at_ms,
            since_words: format!("since {}", day_words(c.granted_at_ms)),
            until_words: until_words(c),
            expires_at_ms: consent::expires_at(c),
            status,
            status_words: v.state.words(),
            ended_at_ms: v.state.ended_at_ms(),
            words: v.words.clone(),
            history: v
                .history
                .iter()
                .map(|h| ConsentHistoryLine {
                    at_ms: h.at_ms,
                    words: h.words.clone(),
                })
                .collect(),
            share_code: code.map(|c| c.to_string()),
            share_qr_text: code.map(|c| c.qr()),
        }
    }
}

/// A comment on a shared plan, as the coach's screen shows it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SharedComment {
    /// Its id.
    pub id: String,
    /// What it says.
    pub text: String,
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
    /// "2 December 2026".
    pub day_words: String,
    /// Whether this device wrote it.
    pub by_me: bool,
}

fn shared_comment(c: Comment, me: &str) -> SharedComment {
    SharedComment {
        by_me: c.author.to_string() == me,
        day_words: day_words(c.at_ms),
        id: c.id,
        text: c.text,
        at_ms: c.at_ms,
    }
}

/// A plan shared with this device (a coach's), as the Shared with me screen shows it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SharedPlanRecord {
    /// The share's id (what `comment` takes).
    pub id: String,
    /// Whether the coach may still see it and comment.
    pub active: bool,
    /// "shared by Sam on 2 December 2026", "sharing ended on 3 December 2026 (revoked)",
    /// "waiting for the share to arrive: sync with the center".
    pub status_words: String,
    /// When sharing ended, if it did.
    pub ended_at_ms: Option<u64>,
    /// The member's chosen name, once the consent has arrived.
    pub member_name: Option<String>,
    /// Whether the consent's signature checks and it names this share and device.
    pub consent_valid: bool,
    /// The consent in plain words (what the member signed).
    pub consent_words: Option<String>,
    /// Why the member shares it.
    pub purpose: Option<String>,
    /// "Crisis plan and Wellness toolbox".
    pub sections_words: String,
    /// "through 31 March 2027", "until the program ends".
    pub until_words: Option<String>,
    /// The shared sections (none once sharing ended: this device no longer holds them).
    pub sections: Vec<PlanSectionView>,
    /// Supporters (only with the crisis plan).
    pub supporters: Vec<Supporter>,
    /// Comments, oldest first.
    pub comments: Vec<SharedComment>,
}

fn shared_record(s: SharedWithMe, me: &str) -> SharedPlanRecord {
    let consent = s.consent.as_ref();
    let plan = s.plan.unwrap_or_default();
    SharedPlanRecord {
        id: s.share.to_string(),
        active: s.ended_at_ms.is_none() && s.consent_valid,
        status_words: s.status,
        ended_at_ms: s.ended_at_ms,
        member_name: consent.map(|c| c.member_name.clone()),
        consent_valid: s.consent_valid,
        consent_words: consent.map(consent::words),
        purpose: consent.map(|c| c.purpose.clone()),
        sections_words: consent.map_or_else(String::new, |c| sections_words(&c.sections)),
        until_words: consent.map(until_words),
        sections: plan
            .sections
            .into_iter()
            .map(|(s, content)| PlanSectionView {
                section: section_back(s),
                title: s.title().to_owned(),
                text: content.text,
                items: content.items,
            })
            .collect(),
        supporters: plan.supporters.into_iter().map(Into::into).collect(),
        comments: plan
            .comments
            .into_iter()
            .map(|c| shared_comment(c, me))
            .collect(),
    }
}

/// A coach's comment on one of the member's shares, as the Plan screen shows it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CoachComment {
    /// The coach's name, as the consent gives it.
    pub coach_name: String,
    /// What it says.
    pub text: String,
    /// When, ms since the Unix epoch.
    pub at_ms: u64,
    /// "2 December 2026".
    pub day_words: String,
}

/// Checks a coach's card (scanned or pasted) and says whom it names: the app shows
/// `words` and asks the member to compare the fingerprint with the coach's screen.
#[uniffi::export]
pub fn check_coach_card(text: String) -> Result<CoachCardView, HearthError> {
    let card: CoachCard = text.trim().parse()?;
    Ok(CoachCardView::from(&card))
}

fn share_id(text: &str) -> Result<DocId, HearthError> {
    text.trim().parse().map_err(|_| HearthError::Invalid {
        message: format!("{text:?} is not a share's id"),
    })
}

#[uniffi::export]
impl Hearth {
    /// This person's contact card as a coach, under `name` (`None`: the name this
    /// device was given): a member scans it to share sections of their plan.
    pub async fn coach_card(&self, name: Option<String>) -> Result<CoachCardView, HearthError> {
        let v = self.vault();
        blocking(move || {
            let name = match name.filter(|n| !n.trim().is_empty()).or(v.name()?) {
                Some(n) => n,
                None => {
                    return Err(HearthError::Invalid {
                        message: "give the name members will see on your card".into(),
                    });
                }
            };
            Ok(CoachCardView::from(&v.coach_card(&name)?))
        })
        .await
    }

    /// Shares `sections` of the plan with the coach whose card `card_text` is, for
    /// `purpose`, until the end of the day `expires_on` (`YYYY-MM-DD`), or until
    /// `until_event` happens ("I finish the program"), or until the member ends it.
    /// The app shows `check_coach_card` first and calls this only once the member
    /// confirmed. The record carries the code to show the coach.
    pub async fn share_plan(
        &self,
        card_text: String,
        sections: Vec<PlanSection>,
        purpose: String,
        expires_on: Option<String>,
        until_event: Option<String>,
    ) -> Result<ConsentRecord, HearthError> {
        let v = self.vault();
        blocking(move || {
            let card: CoachCard = card_text.trim().parse()?;
            let expiry = match (expires_on.filter(|d| !d.trim().is_empty()), until_event) {
                (Some(date), _) => ConsentExpiry::On(consent::end_of_day(&date)?),
                (None, Some(event)) if !event.trim().is_empty() => ConsentExpiry::Event(event),
                _ => ConsentExpiry::Event("I end it".into()),
            };
            let sections: Vec<_> = sections.into_iter().map(section).collect();
            Ok(v.share_plan(&card, &sections, &purpose, expiry)?.into())
        })
        .await
    }

    /// Every consent the member gave, oldest first: whom, what, since and until when,
    /// why, where it stands, and its history.
    pub async fn consents(&self) -> Result<Vec<ConsentRecord>, HearthError> {
        let v = self.vault();
        blocking(move || Ok(v.consents()?.into_iter().map(Into::into).collect())).await
    }

    /// Ends a consent now (its id, or a unique start of it): the coach gets nothing
    /// written from now on, and the center turns their devices away once this device
    /// syncs.
    pub async fn revoke(&self, consent_id: String) -> Result<ConsentRecord, HearthError> {
        let v = self.vault();
        blocking(move || Ok(v.revoke(&consent_id)?.into())).await
    }

    /// Ends every consent whose date has passed (`sync` and `go_online` do it too);
    /// returns how many it ended.
    pub async fn expire_consents(&self) -> Result<u32, HearthError> {
        let v = self.vault();
        blocking(move || Ok(v.expire_consents(now_ms())?.len() as u32)).await
    }

    /// The comments coaches left on the member's shares, oldest first.
    pub async fn coach_comments(&self) -> Result<Vec<CoachComment>, HearthError> {
        let v = self.vault();
        blocking(move || {
            Ok(v.coach_comments()?
                .into_iter()
                .map(|(coach_name, c)| CoachComment {
                    coach_name,
                    day_words: day_words(c.at_ms),
                    text: c.text,
                    at_ms: c.at_ms,
                })
                .collect())
        })
        .await
    }

    /// Takes up a share by the code the member showed (`hearthshare…`); the next
    /// `sync` fetches it from the center.
    pub async fn accept_share(&self, code: String) -> Result<(), HearthError> {
        let v = self.vault();
        blocking(move || {
            let code: ShareCode = code.trim().parse()?;
            Ok(v.accept_share(&code)?)
        })
        .await
    }

    /// The plans shared with this device, newest first. One whose sharing ended shows
    /// how and when, and none of its content (this device deleted it).
    pub async fn shared_with_me(&self) -> Result<Vec<SharedPlanRecord>, HearthError> {
        let v = self.vault();
        blocking(move || {
            let me = v.device_id()?.to_string();
            Ok(v.shared_with_me()?
                .into_iter()
                .map(|s| shared_record(s, &me))
                .collect())
        })
        .await
    }

    /// Leaves a comment on a plan shared with this device; it reaches the member at
    /// the next sync. Refused once sharing ended.
    pub async fn comment(&self, share_id_text: String, text: String) -> Result<(), HearthError> {
        let v = self.vault();
        blocking(move || Ok(v.comment(&share_id(&share_id_text)?, &text)?)).await
    }
}
