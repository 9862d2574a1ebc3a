//! The vault's sharing concern: the share documents this device holds beside the
//! journal, the consent ledger's grants and ends, and this person's contact card as a
//! coach. A member's device makes a share (`share_plan`), keeps it current as the
//! plan changes, and ends it (`revoke`, or by itself at expiry); the member's other
//! devices learn of each share from the ledger in the journal, and fetch it like the
//! journal. (A coach's side — the shares that name this device — comes next: see
//! ARCHITECTURE.md, "Sharing with a coach".)

use std::collections::BTreeMap;

use super::journal::Journal;
use super::{DevicePublic, Inner, Vault, VaultError, write_journal};
use crate::access::Role;
use crate::bundle::BundleKind;
use crate::doc::{ShareDoc, SharedPlan};
use crate::identity::DeviceKeys;
use crate::ids::{DeviceId, DocId};
use crate::model::{Consent, ConsentExpiry, PlanSection, ValidationError};
use crate::share::consent::{self, ConsentDraft};
use crate::share::{CoachCard, ConsentEnd, ConsentView, EndKind};
use crate::store::Store;

/// `share/<doc>`: a share document this device holds (its value: how and when it
/// ended, once this device forgot its content).
const META_SHARE: &str = "share/";
/// `sharedeclined/<doc>`: when a hub declined a share from this coach's device.
const META_DECLINED: &str = "sharedeclined/";

/// Reads every share document this device holds.
pub(super) fn load_all(
    store: &Store,
    device: &DeviceKeys,
    journal: &Journal,
) -> Result<BTreeMap<DocId, Journal<ShareDoc>>, VaultError> {
    let mut out = BTreeMap::new();
    for (key, _) in store.meta_prefixed(META_SHARE)? {
        let Ok(id) = key[META_SHARE.len()..].parse::<DocId>() else {
            continue;
        };
        out.insert(id, Journal::load(store, device, id, journal.actor())?);
    }
    Ok(out)
}

/// Makes room for every share the ledger names that this device does not hold yet
/// and that has not ended: an empty document, which its next sync fills from the
/// member's other devices or a hub.
pub(super) fn adopt_from_ledger(inner: &mut Inner) -> Result<(), VaultError> {
    let now = crate::wire::now_ms();
    let mine = member_device(&inner.journal);
    let wanted: Vec<DocId> = inner
        .journal
        .doc()
        .consents()
        .into_iter()
        .filter_map(|c| {
            let ends = inner.journal.doc().consent_ends(&c.id);
            let share = c.share?;
            consent::state(&c, &ends, &mine, now)
                .is_active()
                .then_some(share)
        })
        .filter(|id| !inner.shares.contains_key(id))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let mut batch = crate::store::Batch::new();
    for id in &wanted {
        batch.put_meta(&format!("{META_SHARE}{id}"), Vec::new());
    }
    inner.store.commit(batch, true)?;
    for id in wanted {
        inner
            .shares
            .insert(id, Journal::empty(id, inner.journal.actor()));
    }
    Ok(())
}

/// What a coach's device shows of one share.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SharedWithMe {
    /// The share's id (what `hearth shared show` takes).
    pub share: DocId,
    /// The consent it came with, if it has arrived.
    pub consent: Option<Consent>,
    /// Whether that consent's signature checks and it names this share and device.
    pub consent_valid: bool,
    /// When it was granted (0 until it arrives).
    pub granted_at_ms: u64,
    /// When this device's access ended, if it did.
    pub ended_at_ms: Option<u64>,
    /// In words: "shared by Sam on 2 December 2026", "sharing ended on …", "waiting
    /// for the share to arrive".
    pub status: String,
    /// What it shows (empty once it ended).
    pub plan: Option<SharedPlan>,
}

/// When this device's access to a share ran out by `now` (the consent's date, as the
/// member's device set it in the share's access log), if it did: a coach's device stops
/// showing the share then, online or not.
fn ran_out(j: &Journal<ShareDoc>, me: &DeviceId, now: u64) -> Option<u64> {
    j.state()
        .member(me)
        .filter(|m| m.ran_out(now))
        .and_then(|m| m.until_ms)
}

fn shared_view(
    id: DocId,
    j: &Journal<ShareDoc>,
    me: &DeviceId,
    kept_end: Option<(String, u64)>,
    declined_at: Option<u64>,
    now: u64,
) -> SharedWithMe {
    let view = j.doc().view();
    let expired = ran_out(j, me, now);
    let end = view
        .ended
        .clone()
        .or(kept_end)
        .or_else(|| expired.map(|at| ("expired".to_owned(), at)));
    let consent = view.consent.clone();
    let consent_valid = consent.as_ref().is_some_and(|c| {
        consent::verify(c).is_ok()
            && c.share == Some(id)
            && c.recipient_devices.contains(me)
            && j.state().is_owner(&c.signed_by)
    });
    let removed = j.state().member(me).is_some_and(|m| !m.is_current())
        || declined_at.is_some()
        || expired.is_some();
    let ended_at_ms = removed.then(|| end.as_ref().map(|(_, at)| *at).or(declined_at).unwrap_or(0));
    let granted_at_ms = consent.as_ref().map_or(0, |c| c.granted_at_ms);
    let status = match (&consent, &end, removed) {
        (_, Some((how, at)), true) => {
            format!("sharing ended on {} ({how})", consent::day_words(*at))
        }
        (_, None, true) => match declined_at {
            Some(at) => format!(
                "sharing ended on {} (the center no longer offers it to you)",
                consent::day_words(at)
            ),
            None => "sharing ended".into(),
        },
        (None, _, false) => "waiting for the share to arrive: sync with the center".into(),
        (Some(_), _, false) if !consent_valid => {
            "its consent does not check: do not rely on it".into()
        }
        (Some(c), _, false) => format!(
            "shared by {} on {}",
            c.member_name,
            consent::day_words(c.granted_at_ms)
        ),
    };
    SharedWithMe {
        share: id,
        consent,
        consent_valid,
        granted_at_ms,
        ended_at_ms,
        status,
        plan: (!removed && j.live_bundles() > 0).then_some(view),
    }
}

/// The code a member gives their coach so the coach's device can fetch a share:
/// `hearthshare` and the share's id, as text or a QR code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareCode(pub DocId);

const SHARE_CODE_PREFIX: &str = "hearthshare";

impl std::fmt::Display for ShareCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::wire::to_text(SHARE_CODE_PREFIX, self.0.as_bytes()))
    }
}

impl std::str::FromStr for ShareCode {
    type Err = VaultError;
    fn from_str(s: &str) -> Result<Self, VaultError> {
        let bad = |why: String| {
            VaultError::Invalid(ValidationError::Unknown {
                what: "share code",
                got: why,
                expected: format!("{SHARE_CODE_PREFIX}…, as `hearth share plan` printed it"),
            })
        };
        if s.len() > 100 {
            return Err(bad("too long".into()));
        }
        let bytes = crate::wire::from_text(SHARE_CODE_PREFIX, s).map_err(bad)?;
        let id: [u8; 16] = bytes.try_into().map_err(|_| bad("wrong length".into()))?;
        Ok(ShareCode(DocId(id)))
    }
}

impl ShareCode {
    /// The code as a QR code.
    pub fn qr(&self) -> String {
        crate::wire::qr(&self.to_string())
    }
}

/// Who may sign a consent or its end: a device the journal ever let write.
fn member_device(journal: &Journal) -> impl Fn(&DeviceId) -> bool + '_ {
    |d: &DeviceId| {
        journal
            .state()
            .member(d)
            .is_some_and(|m| matches!(m.role, Role::Owner | Role::Writer))
    }
}

impl Vault {
    /// This person's contact card as a coach: `name` (the one they choose to be known
    /// by to members) and every device of theirs that still has access, with their age
    /// recipients, signed by this device.
    pub fn coach_card(&self, name: &str) -> Result<CoachCard, VaultError> {
        let guard = self.lock()?;
        let devices: Vec<DevicePublic> = guard
            .journal
            .state()
            .members()
            .filter(|m| m.is_current() && matches!(m.role, Role::Owner | Role::Writer))
            .map(|m| DevicePublic {
                id: m.device,
                recipient: m.recipient.clone(),
            })
            .take(crate::share::MAX_CARD_DEVICES)
            .collect();
        Ok(CoachCard::make(
            &guard.device,
            name,
            &devices,
            crate::wire::now_ms(),
        )?)
    }

    /// Shares `sections` of the plan with the coach whose checked card this is, for
    /// `purpose`, until `expiry`: signs the consent, records it in the journal's
    /// ledger, and makes the share document — readable by the member's devices and
    /// the coach's, stored blind by the member's hubs, holding exactly those sections.
    pub fn share_plan(
        &self,
        coach: &CoachCard,
        sections: &[PlanSection],
        purpose: &str,
        expiry: ConsentExpiry,
    ) -> Result<ConsentView, VaultError> {
        if sections.is_empty() {
            return Err(ValidationError::Empty("shared sections").into());
        }
        let now = crate::wire::now_ms();
        if let ConsentExpiry::On(at) = expiry
            && at <= now
        {
            return Err(VaultError::Invalid(ValidationError::BadText {
                field: "expiry",
                reason: "is in the past",
            }));
        }
        let mut guard = self.lock()?;
        let member_name = guard.journal.doc().name().ok_or_else(|| {
            VaultError::Invalid(ValidationError::Empty(
                "your name (a consent names you: set one with `hearth name`)",
            ))
        })?;
        if coach.devices().iter().any(|d| d.id == guard.device.id())
            || coach
                .devices()
                .iter()
                .any(|d| guard.journal.state().member(&d.id).is_some())
        {
            return Err(VaultError::Denied(
                "this card is one of your own devices'".into(),
            ));
        }
        let plan = guard.journal.doc().plan();
        let others: Vec<(DevicePublic, Role)> = guard
            .journal
            .state()
            .members()
            .filter(|m| m.is_current() && m.device != guard.device.id())
            .filter_map(|m| {
                let role = match m.role {
                    Role::Owner | Role::Writer => Role::Owner,
                    Role::Store => Role::Store,
                    _ => return None,
                };
                Some((
                    DevicePublic {
                        id: m.device,
                        recipient: m.recipient.clone(),
                    },
                    role,
                ))
            })
            .collect();
        let actor = guard.journal.actor();
        let Inner {
            store,
            device,
            journal,
            shares,
        } = &mut *guard;
        let mut consent: Option<Consent> = None;
        let share = write_journal(
            store,
            device,
            journal,
            |j, me, batch| {
                let mut share = Journal::<ShareDoc>::create_with(
                    me,
                    actor.clone(),
                    |id| {
                        let c = consent::sign_grant(
                            me,
                            &ConsentDraft {
                                member_name: member_name.clone(),
                                coach,
                                sections: sections.to_vec(),
                                purpose: purpose.to_owned(),
                                expiry: expiry.clone(),
                                share: id,
                            },
                            now,
                        )
                        .map_err(|e| VaultError::Denied(e.to_string()))?;
                        let made = ShareDoc::create(actor.clone(), &c, &plan)?;
                        consent = Some(c);
                        Ok(made)
                    },
                    batch,
                )?;
                for (other, role) in &others {
                    share.grant(me, other, *role, batch)?;
                }
                for d in coach.devices() {
                    share.grant(me, &d, Role::Commenter, batch)?;
                    // The hubs refuse the coach from the date on, whoever is online.
                    if let ConsentExpiry::On(at) = expiry {
                        share.until(me, d.id, at, batch)?;
                    }
                }
                let c = consent.as_ref().ok_or(VaultError::NoKey)?;
                let change = j.doc_mut().record_consent(c)?;
                j.author(me, BundleKind::Changes, &change, Vec::new(), batch)?;
                batch.put_meta(&format!("{META_SHARE}{}", share.id()), Vec::new());
                Ok(share)
            },
            |j, b| self.send_out(j, b),
        )?;
        let doc = share.id();
        shares.insert(doc, share);
        let view = consent::view(
            consent.ok_or(VaultError::NoKey)?,
            &[],
            &member_device(journal),
            now,
        );
        let journal_id = journal.id();
        drop(guard);
        self.notify(super::Origin::Local, journal_id);
        self.notify(super::Origin::Local, doc);
        Ok(view)
    }

    /// Every consent in the ledger, oldest first, with where it stands, its words and
    /// its history.
    pub fn consents(&self) -> Result<Vec<ConsentView>, VaultError> {
        self.consents_at(crate::wire::now_ms())
    }

    /// [`Vault::consents`] as they stand at `now` (ms since the Unix epoch).
    pub fn consents_at(&self, now: u64) -> Result<Vec<ConsentView>, VaultError> {
        let guard = self.lock()?;
        let mine = member_device(&guard.journal);
        Ok(guard
            .journal
            .doc()
            .consents()
            .into_iter()
            .map(|c| {
                let ends = guard.journal.doc().consent_ends(&c.id);
                consent::view(c, &ends, &mine, now)
            })
            .collect())
    }

    /// Ends a consent now: a signed end in the ledger, and the coach's devices removed
    /// from the share (a new epoch without them, and a snapshot under it), so nothing
    /// written from now on is readable with any key they held.
    pub fn revoke(&self, id_or_prefix: &str) -> Result<ConsentView, VaultError> {
        let consent = self.find_consent(id_or_prefix)?;
        self.end_consent(&consent, EndKind::Revoked, crate::wire::now_ms())?;
        self.consent(&consent.id)
    }

    /// Ends every consent whose date has passed (what whichever of the member's
    /// devices is online first does); returns the ones it ended.
    pub fn expire_consents(&self, now_ms: u64) -> Result<Vec<ConsentView>, VaultError> {
        let due: Vec<Consent> = self
            .consents_at(now_ms)?
            .into_iter()
            .filter(|v| {
                matches!(
                    v.state,
                    crate::share::ConsentState::Expired {
                        recorded: false,
                        ..
                    }
                )
            })
            .map(|v| v.consent)
            .collect();
        let mut out = Vec::new();
        for c in due {
            let at = consent::expires_at(&c).unwrap_or(now_ms);
            self.end_consent(&c, EndKind::Expired, at)?;
            out.extend(
                self.consents_at(now_ms)?
                    .into_iter()
                    .filter(|v| v.consent.id == c.id),
            );
        }
        Ok(out)
    }

    /// What a share this device holds shows (the sections, the consent, comments).
    pub fn shared_plan(&self, share: &DocId) -> Result<SharedPlan, VaultError> {
        let guard = self.lock()?;
        guard
            .shares
            .get(share)
            .map(|j| j.doc().view())
            .ok_or_else(|| VaultError::NotFound(format!("no share {share}")))
    }

    /// The comments coaches left on the member's shares, oldest first, each with the
    /// coach's name as the consent gives it.
    pub fn coach_comments(&self) -> Result<Vec<(String, crate::doc::Comment)>, VaultError> {
        let guard = self.lock()?;
        let mut out: Vec<(String, crate::doc::Comment)> = guard
            .shares
            .values()
            .filter(|j| j.is_owner(&guard.device))
            .flat_map(|j| {
                let view = j.doc().view();
                let coach = view
                    .consent
                    .map_or_else(|| "a coach".to_owned(), |c| c.recipient_name);
                view.comments.into_iter().map(move |c| (coach.clone(), c))
            })
            .collect();
        out.sort_by_key(|(_, c)| c.at_ms);
        Ok(out)
    }

    /// Brings every active share this device may write up to date with the plan;
    /// returns how many it wrote into. A device runs it when it knows the ledger is
    /// current: right after an edit while it is online live, and after each sync
    /// (`device::sync_once` syncs again when this wrote anything). An edit made
    /// offline waits for that, so a consent revoked on another device meanwhile is
    /// known to have ended before anything of the edit is sealed for the coach.
    pub fn project_shares(&self) -> Result<usize, VaultError> {
        let active: Vec<DocId> = self
            .consents()?
            .into_iter()
            .filter(|v| v.state.is_active())
            .filter_map(|v| v.consent.share)
            .collect();
        let mut guard = self.lock()?;
        let plan = guard.journal.doc().plan();
        let Inner {
            store,
            device,
            shares,
            ..
        } = &mut *guard;
        let mut written = 0;
        for id in active {
            let Some(share) = shares.get_mut(&id) else {
                continue;
            };
            if !share.is_owner(device) {
                continue;
            }
            let wrote = write_journal(
                store,
                device,
                share,
                |j, me, batch| {
                    let Some(change) = j.doc_mut().project(&plan)? else {
                        return Ok(false);
                    };
                    j.author(me, BundleKind::Changes, &change, Vec::new(), batch)?;
                    Ok(true)
                },
                |j, b| self.send_out(j, b),
            )?;
            written += usize::from(wrote);
        }
        Ok(written)
    }

    /// After a plan edit: projects it into the shares now if this device is online
    /// live (its ledger is current), else leaves it for the next sync.
    pub(super) fn project_if_live(&self) -> Result<(), VaultError> {
        if self.outgoing.receiver_count() > 0 {
            self.project_shares()?;
        }
        Ok(())
    }

    /// Takes up a share a member gave this device (a coach's) the code of: its next
    /// sync asks the hubs for it. What arrives is kept only as the share's access log
    /// allows (this device must be named in it), and shown with its consent checked.
    pub fn accept_share(&self, code: &ShareCode) -> Result<(), VaultError> {
        let mut guard = self.lock()?;
        if guard.journal.id() == code.0 || guard.shares.contains_key(&code.0) {
            return Ok(());
        }
        let mut batch = crate::store::Batch::new();
        batch.put_meta(&format!("{META_SHARE}{}", code.0), Vec::new());
        guard.store.commit(batch, true)?;
        let actor = guard.journal.actor();
        guard.shares.insert(code.0, Journal::empty(code.0, actor));
        Ok(())
    }

    /// The shares that name this device as a coach (a commenter), newest first: the
    /// consent each came with (checked), whether it still holds, and what it shows.
    /// A share whose access ended shows nothing of its content: this device deletes
    /// what it held of it.
    pub fn shared_with_me(&self) -> Result<Vec<SharedWithMe>, VaultError> {
        self.forget_ended_shares()?;
        let guard = self.lock()?;
        let me = guard.device.id();
        let now = crate::wire::now_ms();
        let mut out = Vec::new();
        for (id, j) in guard
            .shares
            .iter()
            .filter(|(_, j)| !j.is_owner(&guard.device))
        {
            let kept: Option<(String, u64)> = guard
                .store
                .meta(&format!("{META_SHARE}{id}"))?
                .and_then(|b| postcard::from_bytes::<Option<(String, u64)>>(&b).ok())
                .flatten();
            let declined = Self::declined_at(&guard.store, id)?;
            out.push(shared_view(*id, j, &me, kept, declined, now));
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.granted_at_ms));
        Ok(out)
    }

    /// Leaves a comment on a share this device may comment on.
    pub fn comment(&self, share: &DocId, text: &str) -> Result<(), VaultError> {
        let mut guard = self.lock()?;
        let now = crate::wire::now_ms();
        let Inner {
            store,
            device,
            shares,
            ..
        } = &mut *guard;
        let j = shares
            .get_mut(share)
            .ok_or_else(|| VaultError::NotFound(format!("no share {share}")))?;
        if j.state()
            .member(&device.id())
            .is_none_or(|m| m.role != Role::Commenter || !m.is_current() || m.ran_out(now))
            || Self::declined_at(store, share)?.is_some()
        {
            return Err(VaultError::Denied(
                "this share does not let this device comment (it ended, or is not yours to comment on)"
                    .into(),
            ));
        }
        let id = ulid::Ulid::from_parts(now, u128::from_le_bytes(crate::crypto::random_bytes()))
            .to_string();
        let me = device.id();
        write_journal(
            store,
            device,
            j,
            |j, d, batch| {
                let change = j.doc_mut().add_comment(&id, &me, text, now)?;
                j.author(d, BundleKind::Changes, &change, Vec::new(), batch)
            },
            |j, b| self.send_out(j, b),
        )?;
        drop(guard);
        self.notify(super::Origin::Local, *share);
        Ok(())
    }

    /// A hub that stores a share blind declined it from this device: the member's
    /// device removed this one from it (a hub declines a doc it holds only to a device
    /// its log does not let hold it). A coach's device takes the hub's word and
    /// deletes its copy: wrongly told, it loses only a copy it can fetch again once
    /// the hub offers it, never the member's privacy.
    pub(super) fn share_declined(&self, doc: &DocId, hub: &DeviceId) -> Result<(), VaultError> {
        let gone = {
            let guard = self.lock()?;
            guard.shares.get(doc).is_some_and(|j| {
                !j.is_owner(&guard.device)
                    && j.state()
                        .member(hub)
                        .is_some_and(|m| m.role == Role::Store && m.is_current())
            })
        };
        if gone {
            let mut batch = crate::store::Batch::new();
            batch.put_meta(
                &format!("{META_DECLINED}{doc}"),
                crate::wire::now_ms().to_le_bytes().to_vec(),
            );
            self.lock()?.store.commit(batch, true)?;
            self.forget_ended_shares()?;
        }
        Ok(())
    }

    /// When a hub declined this share, if one did.
    fn declined_at(store: &Store, doc: &DocId) -> Result<Option<u64>, VaultError> {
        Ok(store
            .meta(&format!("{META_DECLINED}{doc}"))?
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_le_bytes))
    }

    /// Deletes what this device held of shares whose access to it ended (their
    /// bundles); their access records stay, so the end is still shown.
    fn forget_ended_shares(&self) -> Result<(), VaultError> {
        let mut guard = self.lock()?;
        let me = guard.device.id();
        let now = crate::wire::now_ms();
        let mut ended = Vec::new();
        for (id, j) in &guard.shares {
            let removed = j.state().member(&me).is_some_and(|m| !m.is_current())
                || ran_out(j, &me, now).is_some();
            let declined =
                !j.is_owner(&guard.device) && Self::declined_at(&guard.store, id)?.is_some();
            if (removed || declined) && j.live_bundles() > 0 {
                ended.push(*id);
            }
        }
        for id in ended {
            let Inner {
                store,
                device,
                shares,
                ..
            } = &mut *guard;
            let mut batch = crate::store::Batch::new();
            for (bundle, _) in store.bundles(&id)? {
                batch.delete_bundle(id, bundle);
            }
            let ended = shares[&id].doc().view().ended;
            batch.put_meta(
                &format!("{META_SHARE}{id}"),
                crate::wire::to_postcard(&ended),
            );
            store.commit(batch, true)?;
            let actor = shares[&id].actor();
            shares.insert(id, Journal::load(store, device, id, actor)?);
        }
        Ok(())
    }

    /// Whether `doc` is a share this device holds (never waits for an edit).
    pub(super) fn is_share(&self, doc: &DocId) -> bool {
        self.holders
            .read()
            .is_ok_and(|h| h.journal != *doc && h.docs.contains_key(doc))
    }

    /// Verifies items of a share and applies them in memory; returns the write that
    /// [`Vault::commit_share_batch`] makes durable.
    pub(super) fn check_share_items(
        &self,
        doc: &DocId,
        items: Vec<crate::item::SyncItem>,
    ) -> Result<(super::IngestReport, crate::store::Batch), VaultError> {
        let mut guard = self.lock()?;
        let Inner {
            store,
            device,
            shares,
            ..
        } = &mut *guard;
        let share = shares
            .get_mut(doc)
            .ok_or_else(|| VaultError::NotFound(format!("no share {doc}")))?;
        let mut batch = crate::store::Batch::new();
        let report = super::or_reload(store, device, share, |j| {
            j.ingest(
                store,
                device,
                items,
                super::journal::Source::Received,
                &mut batch,
            )
        })?;
        drop(guard);
        if report.accepted > 0 {
            self.notify(super::Origin::Remote, *doc);
        }
        Ok((report, batch))
    }

    /// Makes checked items of a share durable, then seals keys to members added
    /// meanwhile (an owner's repair, as for the journal).
    pub(super) fn commit_share_batch(
        &self,
        doc: &DocId,
        batch: crate::store::Batch,
    ) -> Result<(), VaultError> {
        let mut guard = self.lock()?;
        let Inner {
            store,
            device,
            shares,
            ..
        } = &mut *guard;
        let Some(share) = shares.get_mut(doc) else {
            return Ok(());
        };
        self.commit_received(store, device, share, batch)
    }

    fn consent(&self, id: &str) -> Result<ConsentView, VaultError> {
        self.consents()?
            .into_iter()
            .find(|v| v.consent.id == id)
            .ok_or_else(|| VaultError::NotFound(format!("no consent {id}")))
    }

    fn find_consent(&self, id_or_prefix: &str) -> Result<Consent, VaultError> {
        let wanted = id_or_prefix.trim().to_uppercase();
        let matching: Vec<Consent> = self
            .consents()?
            .into_iter()
            .map(|v| v.consent)
            .filter(|c| !wanted.is_empty() && c.id.starts_with(&wanted))
            .collect();
        match matching.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(VaultError::NotFound(format!(
                "no consent {id_or_prefix} (see `hearth consents`)"
            ))),
            _ => Err(VaultError::NotFound(format!(
                "{id_or_prefix} names more than one consent: give more of its id"
            ))),
        }
    }

    /// Records the end of `consent` and removes the coach's devices from its share.
    fn end_consent(&self, consent: &Consent, kind: EndKind, at_ms: u64) -> Result<(), VaultError> {
        let mut guard = self.lock()?;
        let view = {
            let ends = guard.journal.doc().consent_ends(&consent.id);
            consent::view(
                consent.clone(),
                &ends,
                &member_device(&guard.journal),
                at_ms,
            )
        };
        if matches!(
            view.state,
            crate::share::ConsentState::Revoked { .. }
                | crate::share::ConsentState::Expired { recorded: true, .. }
        ) {
            return Err(VaultError::Denied(format!(
                "this sharing has already ended ({})",
                view.state.label()
            )));
        }
        let Inner {
            store,
            device,
            journal,
            shares,
        } = &mut *guard;
        let end = ConsentEnd::sign(device, consent, kind, at_ms);
        write_journal(
            store,
            device,
            journal,
            |j, me, batch| {
                let change = j.doc_mut().record_consent_end(&end)?;
                j.author(me, BundleKind::Changes, &change, Vec::new(), batch)
            },
            |j, b| self.send_out(j, b),
        )?;
        if let Some(share) = consent.share.and_then(|id| shares.get_mut(&id)) {
            let coach: Vec<DeviceId> = consent
                .recipient_devices
                .iter()
                .copied()
                .filter(|d| share.state().member(d).is_some_and(|m| m.is_current()))
                .collect();
            if !coach.is_empty() {
                let how = match kind {
                    EndKind::Revoked => "revoked",
                    EndKind::Expired => "expired",
                };
                write_journal(
                    store,
                    device,
                    share,
                    |j, me, batch| {
                        // Readable by the coach (the old key), so their device can say
                        // when and how it ended.
                        let change = j.doc_mut().mark_ended(how, at_ms)?;
                        j.author(me, BundleKind::Changes, &change, Vec::new(), batch)?;
                        j.remove_devices(me, &coach, batch)
                    },
                    |j, b| self.send_out(j, b),
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::journal::{Journal, Source};
    use super::*;
    use crate::bundle::BundleKind;
    use crate::doc::{Model, ShareDoc};
    use crate::identity::{DeviceKeys, Seed};
    use crate::ids::DocId;
    use crate::model::{ConsentExpiry, PlanSection, RecoveryPlan};
    use crate::share::consent::{self, ConsentDraft};
    use crate::store::Batch;

    fn keys(n: u8) -> DeviceKeys {
        DeviceKeys::derive(&Seed::from_bytes([n; 32])).unwrap()
    }

    fn actor(n: u8) -> automerge::ActorId {
        automerge::ActorId::from(vec![n; 16])
    }

    /// Everything `from` stores of `doc`, taken in by `to`.
    fn deliver(
        from: &Store,
        to: &mut Journal<ShareDoc>,
        store: &Store,
        device: &DeviceKeys,
    ) -> crate::vault::IngestReport {
        let items = from.items_except(&to.id(), &BTreeSet::new()).unwrap();
        let mut batch = Batch::new();
        let report = to
            .ingest(store, device, items, Source::Received, &mut batch)
            .unwrap();
        store.commit(batch, true).unwrap();
        report
    }

    fn author(
        j: &mut Journal<ShareDoc>,
        store: &Store,
        device: &DeviceKeys,
        kind: BundleKind,
        plain: &[u8],
    ) {
        let mut batch = Batch::new();
        j.author(device, kind, plain, Vec::new(), &mut batch)
            .unwrap();
        store.commit(batch, true).unwrap();
    }

    #[test]
    fn a_coach_reads_the_shared_sections_and_only_their_comments_reach_the_member() {
        let (member, coach) = (keys(1), keys(7));
        let card = CoachCard::make(&coach, "Lee", &[], 0).unwrap();
        let mut plan = RecoveryPlan::default();
        plan.crisis.text = "Call Jo, then the warmline.".into();
        plan.toolbox.items = vec!["walk by the river".into()];
        plan.triggers.text = "CANARY-7731 payday".into();
        let (mine, theirs) = (Store::in_memory().unwrap(), Store::in_memory().unwrap());

        // The member's device makes the share: the consent names its id, and the
        // coach's device is a commenter.
        let mut batch = Batch::new();
        let mut share = Journal::<ShareDoc>::create_with(
            &member,
            actor(1),
            |id: DocId| {
                let consent = consent::sign_grant(
                    &member,
                    &ConsentDraft {
                        member_name: "Sam".into(),
                        coach: &card,
                        sections: vec![PlanSection::Crisis, PlanSection::Toolbox],
                        purpose: "support between meetings".into(),
                        expiry: ConsentExpiry::Event("the program ends".into()),
                        share: id,
                    },
                    1_000,
                )
                .map_err(|e| VaultError::Denied(e.to_string()))?;
                Ok(ShareDoc::create(actor(1), &consent, &plan)?)
            },
            &mut batch,
        )
        .unwrap();
        share
            .grant(&member, &card.devices()[0], Role::Commenter, &mut batch)
            .unwrap();
        mine.commit(batch, true).unwrap();

        // The coach's device takes it in and reads exactly the two sections.
        let mut copy = Journal::<ShareDoc>::empty(share.id(), actor(7));
        let report = deliver(&mine, &mut copy, &theirs, &coach);
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        let view = copy.doc().view();
        let consent = view.consent.clone().unwrap();
        consent::verify(&consent).unwrap();
        assert_eq!(consent.share, Some(share.id()));
        assert_eq!(
            view.sections
                .iter()
                .map(|(s, sec)| (*s, sec.text.as_str(), sec.items.len()))
                .collect::<Vec<_>>(),
            vec![
                (PlanSection::Toolbox, "", 1),
                (PlanSection::Crisis, "Call Jo, then the warmline.", 0)
            ]
        );
        let plain = copy.doc_mut().save_uncompressed();
        assert!(!plain.windows(11).any(|w| w == b"CANARY-7731"));

        // A comment reaches the member.
        let comment = copy
            .doc_mut()
            .add_comment("01JCOMMENT0", &coach.id(), "Proud of this plan.", 2_000)
            .unwrap();
        author(&mut copy, &theirs, &coach, BundleKind::Changes, &comment);
        let report = deliver(&theirs, &mut share, &mine, &member);
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        assert_eq!(share.doc().view().comments[0].text, "Proud of this plan.");

        // An edit of a section, or a snapshot, is refused and changes nothing.
        let before = share.doc().view();
        let mut edited = RecoveryPlan::default();
        edited.crisis.text = "Do nothing.".into();
        let edit = copy.doc_mut().project(&edited).unwrap().unwrap();
        author(&mut copy, &theirs, &coach, BundleKind::Changes, &edit);
        let report = deliver(&theirs, &mut share, &mine, &member);
        assert_eq!(report.rejected.len(), 1, "{report:?}");
        assert!(report.rejected[0].contains("may only add comments"));
        let whole = copy.doc_mut().save();
        author(&mut copy, &theirs, &coach, BundleKind::Snapshot, &whole);
        let report = deliver(&theirs, &mut share, &mine, &member);
        assert_eq!(report.accepted, 0, "{report:?}");
        assert!(
            report
                .rejected
                .iter()
                .any(|r| r.contains("a snapshot would replace")),
            "{report:?}"
        );
        assert_eq!(share.doc().view(), before);
    }

    mod vault_level {
        use std::collections::BTreeSet;

        use crate::identity::MemoryKeyStore;
        use crate::ids::DocId;
        use crate::model::{ConsentExpiry, PlanSection};
        use crate::share::ConsentState;
        use crate::sync::Replica;
        use crate::vault::{Location, Role, Vault};

        fn items(from: &Vault, doc: &DocId) -> Vec<crate::item::SyncItem> {
            let mut out = Vec::new();
            let mut cursor = None;
            loop {
                let (page, next) = from
                    .items_page(doc, &BTreeSet::new(), cursor.as_ref(), 1 << 20)
                    .unwrap();
                out.extend(page);
                match next {
                    Some(c) => cursor = Some(c),
                    None => return out,
                }
            }
        }

        /// What a sync from `from` to `to` moves: the journal, then every share.
        fn sync(from: &Vault, to: &Vault) {
            let peer = from.device_id().unwrap();
            for doc in to.docs_for(&peer).unwrap() {
                let checked = to.check(&doc, &peer, items(from, &doc)).unwrap();
                assert!(checked.rejected.is_empty(), "{:?}", checked.rejected);
                to.commit(checked).unwrap();
            }
        }

        #[test]
        fn a_share_reaches_the_members_other_device_follows_the_plan_and_ends_signed() {
            let (ka, kb, kc) = (
                MemoryKeyStore::new(),
                MemoryKeyStore::new(),
                MemoryKeyStore::new(),
            );
            let phone = Vault::create(Location::Memory, &ka, Some("Sam")).unwrap();
            phone
                .set_plan_text(PlanSection::Crisis, "Call Jo, then the warmline.")
                .unwrap();
            phone
                .set_plan_text(PlanSection::Triggers, "CANARY-5521")
                .unwrap();
            phone
                .authorize_device(&Vault::prepare_device(&kb).unwrap(), Role::Owner)
                .unwrap();
            let tablet = Vault::join(
                Location::Memory,
                &kb,
                phone.journal_id().unwrap(),
                phone.sync_items().unwrap(),
            )
            .unwrap();
            let coach = Vault::create(Location::Memory, &kc, Some("Lee")).unwrap();
            let card = coach.coach_card("Lee").unwrap();

            let granted = phone
                .share_plan(
                    &card,
                    &[PlanSection::Toolbox, PlanSection::Crisis],
                    "support between meetings",
                    ConsentExpiry::Event("the program ends".into()),
                )
                .unwrap();
            assert_eq!(granted.state, ConsentState::Active);
            let share = granted.consent.share.unwrap();
            let shown = phone.shared_plan(&share).unwrap();
            assert_eq!(shown.sections.len(), 2);
            assert!(!format!("{shown:?}").contains("CANARY"));

            // The tablet learns of the share from the ledger and fetches it.
            sync(&phone, &tablet);
            sync(&phone, &tablet);
            let on_tablet = tablet.shared_plan(&share).unwrap();
            assert_eq!(on_tablet.sections, shown.sections);
            assert_eq!(tablet.consents().unwrap()[0].state, ConsentState::Active);

            // An edit on the tablet (offline) is projected there once its ledger is
            // current (what a sync does next), and reaches the phone.
            let crisis = |v: &Vault| v.shared_plan(&share).unwrap().sections[1].1.text.clone();
            tablet
                .set_plan_text(PlanSection::Crisis, "Call Jo first.")
                .unwrap();
            assert_eq!(crisis(&tablet), "Call Jo, then the warmline.");
            assert_eq!(tablet.project_shares().unwrap(), 1);
            assert_eq!(tablet.project_shares().unwrap(), 0, "nothing new");
            sync(&tablet, &phone);
            assert_eq!(crisis(&phone), "Call Jo first.");

            // Revoked on the phone: a signed end, the coach's device removed, and the
            // plan's later edits never enter the share.
            let ended = phone.revoke(&granted.consent.id[..8]).unwrap();
            assert!(matches!(ended.state, ConsentState::Revoked { .. }));
            assert_eq!(ended.history.len(), 2);
            assert!(ended.history[1].words.starts_with("revoked on "));
            phone
                .set_plan_text(PlanSection::Crisis, "AFTER-REVOKE")
                .unwrap();
            assert_eq!(phone.project_shares().unwrap(), 0);
            assert_eq!(crisis(&phone), "Call Jo first.");
            sync(&phone, &tablet);
            sync(&phone, &tablet);
            assert!(matches!(
                tablet.consents().unwrap()[0].state,
                ConsentState::Revoked { .. }
            ));
            {
                let guard = phone.lock().unwrap();
                let acl = guard.shares[&share].state();
                let coach_id = coach.device_id().unwrap();
                assert!(acl.member(&coach_id).is_some_and(|m| !m.is_current()));
            }
            assert!(phone.revoke(&granted.consent.id).is_err(), "ended twice");
        }

        #[test]
        fn a_dated_consent_ends_by_itself_when_a_member_device_is_online() {
            let (ka, kc) = (MemoryKeyStore::new(), MemoryKeyStore::new());
            let phone = Vault::create(Location::Memory, &ka, Some("Sam")).unwrap();
            let coach = Vault::create(Location::Memory, &kc, None).unwrap();
            let card = coach.coach_card("Lee").unwrap();
            let in_a_week = crate::wire::now_ms() + 7 * 86_400_000;
            let granted = phone
                .share_plan(
                    &card,
                    &[PlanSection::Goals],
                    "goal setting",
                    ConsentExpiry::On(in_a_week),
                )
                .unwrap();
            assert!(phone.expire_consents(in_a_week - 1).unwrap().is_empty());
            let ended = phone.expire_consents(in_a_week + 1).unwrap();
            assert_eq!(ended.len(), 1);
            assert_eq!(ended[0].consent.id, granted.consent.id);
            assert_eq!(
                ended[0].state,
                ConsentState::Expired {
                    at_ms: in_a_week,
                    recorded: true
                }
            );
            // A consent cannot be made already past its date, nor without a name.
            assert!(
                phone
                    .share_plan(&card, &[PlanSection::Goals], "x", ConsentExpiry::On(1))
                    .is_err()
            );
            let nameless = Vault::create(Location::Memory, &MemoryKeyStore::new(), None).unwrap();
            assert!(
                nameless
                    .share_plan(
                        &card,
                        &[PlanSection::Goals],
                        "x",
                        ConsentExpiry::Event("e".into())
                    )
                    .is_err()
            );
        }
    }
}
