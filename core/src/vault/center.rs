//! The vault's center concern: the member's sign-ups (kept in the journal, so every
//! device of the member sees them and a sign-up made offline waits there until a
//! device reaches the hub), the statuses hubs give them, and each center's flyer as
//! its hub signed it (kept in the store's meta, checked again whenever it is read, so
//! programs and the resource directory read offline). The network side is
//! `device::center`.

use crate::center::{
    Flyer, MemberSecret, NewSignUp, SessionId, SignUp, SignUpId, SignUpStatus, SignedFlyer,
};
use crate::ids::DeviceId;
use crate::store::Batch;

use super::{Vault, VaultError};

/// Where each center's newest checked flyer is kept.
const META_FLYER: &str = "flyer/";

impl Vault {
    /// The member's center secret (made, and synced to the member's other devices, the
    /// first time a journal from before sign-ups needs it).
    pub fn center_secret(&self) -> Result<MemberSecret, VaultError> {
        self.edit(|doc| {
            let (secret, change) = doc.center_secret()?;
            Ok((change, secret))
        })
    }

    /// The hubs of the centers this device is enrolled at.
    pub fn centers(&self) -> Result<Vec<DeviceId>, VaultError> {
        Ok(self
            .peers()?
            .into_iter()
            .filter(|p| p.hub)
            .map(|p| DeviceId::from(p.addr.id))
            .collect())
    }

    /// The flyer of every center this device is enrolled at that has sent one.
    pub fn flyers(&self) -> Result<Vec<Flyer>, VaultError> {
        let mut out = Vec::new();
        for hub in self.centers()? {
            out.extend(self.flyer(&hub)?);
        }
        Ok(out)
    }

    /// The center whose flyer lists `session`.
    pub fn center_listing(&self, session: SessionId) -> Result<DeviceId, VaultError> {
        if self.centers()?.is_empty() {
            return Err(VaultError::NotFound(
                "this device is not enrolled at a center yet".into(),
            ));
        }
        let flyers = self.flyers()?;
        if flyers.is_empty() {
            return Err(VaultError::NotFound(
                "this device has no programs from its center yet: sync first".into(),
            ));
        }
        flyers
            .iter()
            .find(|f| f.session(session).is_some())
            .map(|f| f.hub)
            .ok_or_else(|| VaultError::NotFound(format!("your center lists no session {session}")))
    }

    /// Every sign-up of the member, at every center, soonest first.
    pub fn signups(&self) -> Result<Vec<SignUp>, VaultError> {
        self.read(|j| j.doc().signups())
    }

    /// Signs up for a session of the center `hub` as its flyer (held here) lists it.
    /// The sign-up is saved at once as `Pending`; the hub decides when it reaches it.
    pub fn sign_up(
        &self,
        hub: DeviceId,
        session: SessionId,
        new: &NewSignUp,
        now_ms: u64,
    ) -> Result<SignUp, VaultError> {
        new.validate()?;
        let flyer = self.flyer(&hub)?.ok_or_else(|| {
            VaultError::NotFound(
                "this device has no programs from that center yet: sync first".into(),
            )
        })?;
        let s = flyer.session(session).ok_or_else(|| {
            VaultError::NotFound(format!("your center lists no session {session}"))
        })?;
        if s.cancelled {
            return Err(VaultError::Denied(format!(
                "session {session} is cancelled"
            )));
        }
        if s.starts_ms <= now_ms {
            return Err(VaultError::Denied(format!(
                "session {session} has already started"
            )));
        }
        if let Some(same) = self
            .signups()?
            .into_iter()
            .find(|x| x.hub == hub && x.session == session && !x.withdraw && x.status.is_active())
        {
            return Err(VaultError::Denied(format!(
                "you are already signed up for session {session} ({})",
                same.id
            )));
        }
        let title = flyer
            .program(s.program)
            .map(|p| p.draft.title.clone())
            .unwrap_or_default();
        let signup = SignUp {
            id: SignUpId::new(now_ms),
            hub,
            session,
            title,
            starts_ms: s.starts_ms,
            ends_ms: s.ends_ms,
            nickname: new.nickname.trim().to_owned(),
            note: new.note.clone(),
            remind_minutes: new.remind_minutes,
            status: SignUpStatus::Pending,
            withdraw: false,
        };
        self.edit(|doc| Ok((Some(doc.add_signup(&signup)?), ())))?;
        Ok(signup)
    }

    /// Asks to withdraw a sign-up (a unique prefix of its id is enough); the hub hears
    /// of it at the next sync.
    pub fn withdraw(&self, id_or_prefix: &str) -> Result<SignUp, VaultError> {
        let wanted = id_or_prefix.trim().to_ascii_uppercase();
        let matches: Vec<SignUp> = self
            .signups()?
            .into_iter()
            .filter(|s| !wanted.is_empty() && s.id.to_string().starts_with(&wanted))
            .collect();
        let signup = match matches.as_slice() {
            [one] => one.clone(),
            [] => return Err(VaultError::NotFound(format!("no sign-up {id_or_prefix}"))),
            _ => {
                return Err(VaultError::Denied(format!(
                    "{id_or_prefix} matches {} sign-ups: give more of the id",
                    matches.len()
                )));
            }
        };
        self.edit(|doc| Ok((doc.withdraw_signup(signup.id)?, ())))?;
        Ok(SignUp {
            withdraw: true,
            ..signup
        })
    }

    /// Records the statuses a hub gave this member's sign-ups.
    pub fn set_signup_statuses(
        &self,
        statuses: &[(SignUpId, SignUpStatus)],
    ) -> Result<(), VaultError> {
        self.edit(|doc| Ok((doc.set_signup_statuses(statuses)?, ())))
    }

    /// The flyer of the center `hub`, as last received and checked, if any.
    pub fn flyer(&self, hub: &DeviceId) -> Result<Option<Flyer>, VaultError> {
        let guard = self.lock()?;
        let Some(bytes) = guard.store.meta(&format!("{META_FLYER}{hub}"))? else {
            return Ok(None);
        };
        let signed =
            SignedFlyer::from_bytes(&bytes).map_err(|e| VaultError::Damaged(e.to_string()))?;
        signed
            .open(hub)
            .map(Some)
            .map_err(|e| VaultError::Damaged(e.to_string()))
    }

    /// Keeps a center's flyer if `hub` signed it and it is newer than the one held.
    /// Returns whether it was kept.
    pub fn keep_flyer(&self, hub: &DeviceId, signed: &SignedFlyer) -> Result<bool, VaultError> {
        let flyer = signed
            .open(hub)
            .map_err(|e| VaultError::Denied(e.to_string()))?;
        if let Some(held) = self.flyer(hub)?
            && held.version >= flyer.version
        {
            return Ok(false);
        }
        let guard = self.lock()?;
        let mut batch = Batch::new();
        batch.put_meta(&format!("{META_FLYER}{hub}"), signed.to_bytes());
        guard.store.commit(batch, true)?;
        Ok(true)
    }
}
