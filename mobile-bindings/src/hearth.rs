//! The `Hearth` object (one per device), the foreign traits the app implements, and
//! the free functions that open or create it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth_core::center::{NewSignUp, ProposalDraft, ProposalId, SessionId, SignUp};
use hearth_core::device::{self, CenterReport, JoinRequest, Live};
use hearth_core::identity::{self, KeyStoreError, Seed};
use hearth_core::ids::{DeviceId, IdError};
use hearth_core::pairing::Ticket;
use hearth_core::sync::net::{LocalDiscovery, NetConfig, SyncEvent};
use hearth_core::vault::{Location, Origin, Vault, VaultEvent};
use hearth_core::wire::now_ms;
use tokio::sync::{broadcast, mpsc};

use crate::error::{center_net, center_vault, one_line};
use crate::records::{checkin_id, reminder_choices as choices, section};
use crate::runtime::{blocking, handle, spawn};
use crate::{
    BackupStatus, CenterSyncReport, CenterView, ChangeOrigin, CheckIn, CheckInPatch, DeviceInfo,
    HearthError, Invite, NewCheckIn, Plan, PlanSection, ReminderChoice, RemovalResult,
    SignUpRecord, Supporter, SyncReport, SyncStatus,
};

/// Where the app keeps the device's 32-byte seed: Android Keystore-wrapped storage,
/// the iOS Keychain (this device only). Only the seed crosses, only here.
#[uniffi::export(foreign)]
pub trait KeyStore: Send + Sync {
    /// The stored seed, or `None` on a new device.
    fn load(&self) -> Result<Option<Vec<u8>>, HearthError>;
    /// Stores the seed durably.
    fn save(&self, seed: Vec<u8>) -> Result<(), HearthError>;
}

/// Told about changes and sync status. Called from a background thread.
#[uniffi::export(foreign)]
pub trait HearthListener: Send + Sync {
    /// The journal changed (or, once on subscribing, here is the current state).
    fn on_change(&self, origin: ChangeOrigin);
    /// Sync status changed.
    fn on_sync_status(&self, status: SyncStatus);
}

/// Adapts the app's key store to the core's.
struct ForeignKeys(Arc<dyn KeyStore>);

impl identity::KeyStore for ForeignKeys {
    fn load(&self) -> Result<Option<Seed>, KeyStoreError> {
        match self.0.load() {
            Ok(None) => Ok(None),
            Ok(Some(bytes)) => <[u8; 32]>::try_from(bytes.as_slice())
                .map(|b| Some(Seed::from_bytes(b)))
                .map_err(|_| KeyStoreError::Damaged(bytes.len())),
            Err(e) => Err(KeyStoreError::Platform(e.to_string())),
        }
    }

    fn save(&self, seed: &Seed) -> Result<(), KeyStoreError> {
        self.0
            .save(seed.expose().to_vec())
            .map_err(|e| KeyStoreError::Platform(e.to_string()))
    }
}

fn net(bind: Option<String>) -> Result<NetConfig, HearthError> {
    let bind = bind.unwrap_or_else(|| "0.0.0.0:0".into());
    Ok(NetConfig {
        bind: bind.parse().map_err(|_| HearthError::Invalid {
            message: format!("{bind:?} is not a socket address"),
        })?,
        relay: None,
        // mDNS needs the platform's permission (Android MulticastLock, iOS local
        // network): the apps turn it on once they hold it.
        local: LocalDiscovery::Off,
    })
}

fn ticket(text: &str) -> Result<Ticket, HearthError> {
    Ok(text.parse()?)
}

fn device_id(text: &str) -> Result<DeviceId, HearthError> {
    text.parse().map_err(|e: IdError| HearthError::Invalid {
        message: e.to_string(),
    })
}

/// A member's device: its vault, and its network side.
#[derive(uniffi::Object)]
pub struct Hearth {
    vault: Arc<Vault>,
    net: NetConfig,
    live: tokio::sync::Mutex<Option<Live>>,
    status: broadcast::Sender<SyncStatus>,
    /// A device asking to join, waiting for the member's answer.
    join_request: Arc<Mutex<Option<JoinRequest>>>,
}

impl Hearth {
    /// The vault, for the other modules' exported methods.
    pub(crate) fn vault(&self) -> Arc<Vault> {
        self.vault.clone()
    }

    fn wrap(vault: Vault, net: NetConfig) -> Arc<Self> {
        let (status, _) = broadcast::channel(64);
        Arc::new(Hearth {
            vault: Arc::new(vault),
            net,
            live: tokio::sync::Mutex::new(None),
            status,
            join_request: Arc::new(Mutex::new(None)),
        })
    }
}

/// Whether `data_dir` holds a vault.
#[uniffi::export]
pub fn hearth_exists(data_dir: String) -> bool {
    Vault::exists(&PathBuf::from(data_dir))
}

/// Creates a new vault in `data_dir`. `name` is what the member wants to be called
/// (optional). `bind` is the network address (`None`: all interfaces, any port).
#[uniffi::export]
pub async fn create_hearth(
    data_dir: String,
    key_store: Arc<dyn KeyStore>,
    name: Option<String>,
    bind: Option<String>,
) -> Result<Arc<Hearth>, HearthError> {
    let net = net(bind)?;
    let vault = blocking(move || {
        let keys = ForeignKeys(key_store);
        Ok(Vault::create(
            Location::Dir(data_dir.into()),
            &keys,
            name.as_deref(),
        )?)
    })
    .await?;
    Ok(Hearth::wrap(vault, net))
}

/// Opens the vault in `data_dir`.
#[uniffi::export]
pub async fn open_hearth(
    data_dir: String,
    key_store: Arc<dyn KeyStore>,
    bind: Option<String>,
) -> Result<Arc<Hearth>, HearthError> {
    let net = net(bind)?;
    let vault = blocking(move || {
        let keys = ForeignKeys(key_store);
        Ok(Vault::open(Location::Dir(data_dir.into()), &keys)?)
    })
    .await?;
    Ok(Hearth::wrap(vault, net))
}

/// Makes `data_dir` (empty) one more device of the member whose device printed
/// `ticket` (`hearth device invite`, or the app's Devices screen).
#[uniffi::export]
pub async fn join_hearth(
    data_dir: String,
    key_store: Arc<dyn KeyStore>,
    ticket_text: String,
    bind: Option<String>,
) -> Result<Arc<Hearth>, HearthError> {
    let net = net(bind)?;
    let t = ticket(&ticket_text)?;
    let n = net.clone();
    let vault = spawn(async move {
        let keys = ForeignKeys(key_store);
        Ok(device::join(Location::Dir(data_dir.into()), &keys, &t, &n).await?)
    })
    .await?;
    Ok(Hearth::wrap(vault, net))
}

/// The code this device will show when it joins with `ticket_text`: the app shows it
/// before calling `join_hearth`, and the member checks that the inviting device
/// shows the same before confirming there.
#[uniffi::export]
pub fn pairing_code(
    key_store: Arc<dyn KeyStore>,
    ticket_text: String,
) -> Result<String, HearthError> {
    let t = ticket(&ticket_text)?;
    Ok(device::join_code(&ForeignKeys(key_store), &t)?)
}

/// The fewest characters a backup passphrase may have (the app enables its button
/// from this; `export_backup` refuses shorter ones).
#[uniffi::export]
pub fn min_passphrase_chars() -> u32 {
    hearth_core::vault::MIN_PASSPHRASE_CHARS as u32
}

/// Restores an encrypted backup into an empty `data_dir`, as a new device.
#[uniffi::export]
pub async fn restore_hearth(
    data_dir: String,
    key_store: Arc<dyn KeyStore>,
    backup: Vec<u8>,
    passphrase: String,
    bind: Option<String>,
) -> Result<Arc<Hearth>, HearthError> {
    let net = net(bind)?;
    let vault = blocking(move || {
        let keys = ForeignKeys(key_store);
        Ok(Vault::restore_backup(
            Location::Dir(data_dir.into()),
            &keys,
            &backup,
            &passphrase,
        )?)
    })
    .await?;
    Ok(Hearth::wrap(vault, net))
}

/// The choices the sign-up form offers for a reminder (on the member's device only),
/// the default among them.
#[uniffi::export]
pub fn reminder_choices() -> Vec<ReminderChoice> {
    choices()
}

/// Said when a center call is made on a device not enrolled at a center.
const NOT_ENROLLED: &str =
    "this device is not enrolled at a center: scan the code at the center's desk first";

/// Fails with `NotFound` unless this device is enrolled at a center.
fn enrolled(vault: &Vault) -> Result<(), HearthError> {
    if vault.centers()?.is_empty() {
        return Err(HearthError::NotFound {
            message: NOT_ENROLLED.into(),
        });
    }
    Ok(())
}

/// A sign-up as it stands in the journal now (or as given, if it is not there).
fn as_it_stands(
    vault: &Vault,
    signup: SignUp,
    utc_offset_minutes: i32,
) -> Result<SignUpRecord, HearthError> {
    let now = vault
        .signups()?
        .into_iter()
        .find(|s| s.id == signup.id)
        .unwrap_or(signup);
    Ok(SignUpRecord::new(&now, now_ms(), utc_offset_minutes))
}

/// Stops a subscription when dropped (or when `cancel` is called).
#[derive(uniffi::Object)]
pub struct Subscription {
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[uniffi::export]
impl Subscription {
    /// Stops delivering updates.
    pub fn cancel(&self) {
        if let Ok(mut t) = self.task.lock()
            && let Some(task) = t.take()
        {
            task.abort();
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cancel();
    }
}

fn status_of(ev: SyncEvent) -> Option<SyncStatus> {
    match ev {
        SyncEvent::Reconciled { peer } => Some(SyncStatus::InSync { peer: peer.short() }),
        SyncEvent::Received { peer, new, .. } if new > 0 => Some(SyncStatus::Received {
            peer: peer.short(),
            new_items: new as u32,
        }),
        SyncEvent::Withheld { peer, warnings } => Some(SyncStatus::Withheld {
            peer: peer.short(),
            warnings,
        }),
        _ => None,
    }
}

#[uniffi::export]
impl Hearth {
    /// This device's id (hex).
    pub fn device_id(&self) -> Result<String, HearthError> {
        Ok(self.vault.device_id()?.to_string())
    }

    /// The name the member chose, if any.
    pub fn name(&self) -> Result<Option<String>, HearthError> {
        Ok(self.vault.name()?)
    }

    /// Sets the name the member chooses to be known by (what a consent to a coach
    /// names them as; any name, never checked against anything).
    pub async fn set_name(&self, name: String) -> Result<(), HearthError> {
        let v = self.vault.clone();
        blocking(move || Ok(v.set_name(&name)?)).await
    }

    /// Records a check-in.
    pub async fn add_checkin(&self, checkin: NewCheckIn) -> Result<CheckIn, HearthError> {
        let v = self.vault.clone();
        blocking(move || Ok(v.add_checkin(&checkin.into())?.into())).await
    }

    /// Changes a check-in.
    pub async fn edit_checkin(
        &self,
        id: String,
        patch: CheckInPatch,
    ) -> Result<CheckIn, HearthError> {
        let (v, id) = (self.vault.clone(), checkin_id(&id)?);
        blocking(move || Ok(v.edit_checkin(id, &patch.into())?.into())).await
    }

    /// Deletes a check-in.
    pub async fn delete_checkin(&self, id: String) -> Result<(), HearthError> {
        let (v, id) = (self.vault.clone(), checkin_id(&id)?);
        blocking(move || Ok(v.delete_checkin(id)?)).await
    }

    /// Every check-in, newest first.
    pub async fn checkins(&self) -> Result<Vec<CheckIn>, HearthError> {
        let v = self.vault.clone();
        blocking(move || Ok(v.checkins()?.into_iter().map(Into::into).collect())).await
    }

    /// The recovery plan.
    pub async fn plan(&self) -> Result<Plan, HearthError> {
        let v = self.vault.clone();
        blocking(move || Ok(v.plan()?.into())).await
    }

    /// Replaces a plan section's text.
    pub async fn set_plan_text(
        &self,
        section_id: PlanSection,
        text: String,
    ) -> Result<(), HearthError> {
        let v = self.vault.clone();
        blocking(move || Ok(v.set_plan_text(section(section_id), &text)?)).await
    }

    /// Adds an item to a plan section.
    pub async fn add_plan_item(
        &self,
        section_id: PlanSection,
        item: String,
    ) -> Result<(), HearthError> {
        let v = self.vault.clone();
        blocking(move || Ok(v.add_plan_item(section(section_id), &item)?)).await
    }

    /// Removes an item (0-based) from a plan section.
    pub async fn remove_plan_item(
        &self,
        section_id: PlanSection,
        index: u32,
    ) -> Result<(), HearthError> {
        let v = self.vault.clone();
        blocking(move || Ok(v.remove_plan_item(section(section_id), index as usize)?)).await
    }

    /// Adds a supporter to the crisis plan.
    pub async fn add_supporter(&self, supporter: Supporter) -> Result<(), HearthError> {
        let v = self.vault.clone();
        blocking(move || Ok(v.add_supporter(&supporter.into())?)).await
    }

    /// Every identity that can reach the journal: the member's devices, backup keys,
    /// the center's hub; current ones first.
    pub async fn devices(&self) -> Result<Vec<DeviceInfo>, HearthError> {
        let v = self.vault.clone();
        blocking(move || Ok(v.devices()?.into_iter().map(Into::into).collect())).await
    }

    /// Removes a device (or a backup key, or a hub): it can read nothing written from
    /// now on. Every backup is retired with it: `backup_advice` says to make a new one.
    pub async fn remove_device(&self, id: String) -> Result<RemovalResult, HearthError> {
        let (v, id) = (self.vault.clone(), device_id(&id)?);
        blocking(move || Ok(RemovalResult::new(v.remove_device(id)?, v.backup_state()?))).await
    }

    /// Whether the member has a backup that restores the journal as it is now, and
    /// what to tell them (show `advice` when it is set).
    pub async fn backup_state(&self) -> Result<BackupStatus, HearthError> {
        let v = self.vault.clone();
        blocking(move || Ok(v.backup_state()?.into())).await
    }

    /// Whether this device was removed from the journal (it opens read-only: what it
    /// held stays readable, nothing new reaches it, and edits are refused).
    pub async fn is_removed(&self) -> Result<bool, HearthError> {
        let v = self.vault.clone();
        blocking(move || Ok(v.is_removed()?)).await
    }

    /// Enrolls at a center with the ticket its hub shows (a QR code at the desk).
    pub async fn enroll(&self, ticket_text: String) -> Result<String, HearthError> {
        let (v, n, t) = (self.vault.clone(), self.net.clone(), ticket(&ticket_text)?);
        spawn(async move { Ok(device::enroll(&v, &t, &n).await?.short()) }).await
    }

    /// Syncs once with the hub and any reachable device of the member's.
    pub async fn sync(&self) -> Result<SyncReport, HearthError> {
        let (v, n) = (self.vault.clone(), self.net.clone());
        spawn(async move {
            // A consent whose date has passed ends before anything is sent.
            v.expire_consents(now_ms())?;
            let s = device::sync_once(&v, &n, None).await?;
            Ok(SyncReport {
                reached: s.reached.len() as u32,
                unreachable: s
                    .failed
                    .iter()
                    .map(|(id, e)| format!("{}: {e}", id.short()))
                    .collect(),
                withheld: s.withheld,
            })
        })
        .await
    }

    /// What this device can tell it was not given (gaps in an author's chain), in plain
    /// words: shown on the Center screen whenever it is not empty.
    pub async fn withheld(&self) -> Result<Vec<String>, HearthError> {
        let v = self.vault.clone();
        blocking(move || Ok(v.withheld()?)).await
    }

    /// Goes online for live sync (until `go_offline`).
    pub async fn go_online(&self) -> Result<(), HearthError> {
        let v = self.vault.clone();
        blocking(move || Ok(v.expire_consents(now_ms()).map(drop)?)).await?;
        self.start_live(None).await.map(drop)
    }

    /// Goes offline.
    pub async fn go_offline(&self) -> Result<(), HearthError> {
        let live = self.live.lock().await.take();
        if let Some(live) = live {
            spawn(async move {
                live.shutdown().await;
                Ok(())
            })
            .await?;
        }
        let _ = self.status.send(SyncStatus::Offline);
        Ok(())
    }

    /// Opens a one-time invite for another of the member's devices, valid for
    /// `valid_secs`. Goes online. When a device presents it, listeners hear
    /// `JoinRequested` with the code to compare; the device is added only once the
    /// app calls `confirm_join(true)`, and then listeners hear `DeviceJoined`.
    pub async fn invite(&self, valid_secs: u32) -> Result<Invite, HearthError> {
        self.start_live(Some(Duration::from_secs(u64::from(valid_secs))))
            .await?
            .ok_or_else(|| HearthError::Storage {
                message: "could not open an invite".into(),
            })
    }

    /// Answers the device asking to join: `true` adds it (the member saw the same code
    /// on both devices), `false` turns it away and closes the invite.
    pub fn confirm_join(&self, accept: bool) -> Result<(), HearthError> {
        let request = self
            .join_request
            .lock()
            .map_err(|_| HearthError::Storage {
                message: "the invite's state is damaged".into(),
            })?
            .take()
            .ok_or_else(|| HearthError::NotFound {
                message: "no device is asking to join".into(),
            })?;
        request.confirm(accept);
        Ok(())
    }

    /// The whole vault as an encrypted backup (passphrase of at least 8 characters).
    /// It also adds the backup's key to the journal (owners only), so the backup
    /// state becomes `Current`.
    pub async fn export_backup(&self, passphrase: String) -> Result<Vec<u8>, HearthError> {
        let v = self.vault.clone();
        blocking(move || Ok(v.export_backup(&passphrase)?)).await
    }

    /// Merges a backup of this same vault.
    pub async fn import_backup(
        &self,
        backup: Vec<u8>,
        passphrase: String,
    ) -> Result<u32, HearthError> {
        let v = self.vault.clone();
        blocking(move || Ok(v.import_backup(&backup, &passphrase)?.accepted as u32)).await
    }

    /// Everything as plain JSON, only when the member asks for it.
    pub async fn export_json(&self) -> Result<String, HearthError> {
        let v = self.vault.clone();
        blocking(move || Ok(v.export_json()?.to_string())).await
    }

    /// The center as this device last received it (reads offline): programs with
    /// their sessions that have not ended, the resource directory, members' proposals.
    /// Empty, with `empty_words` saying why, before enrolling or the first sync.
    pub async fn center(&self) -> Result<CenterView, HearthError> {
        let v = self.vault.clone();
        blocking(move || {
            let hubs = v.centers()?;
            let flyers = v.flyers().map_err(center_vault)?;
            let signups = v.signups()?;
            Ok(CenterView::new(
                !hubs.is_empty(),
                &flyers,
                &signups,
                now_ms(),
            ))
        })
        .await
    }

    /// Brings the center up to date: its programs, then the sign-ups and withdrawals
    /// not yet sent (from any of the member's devices), then every sign-up's status.
    /// `NotFound` before enrolling; `Network` when the center cannot be reached (the
    /// app then shows what `center` holds, saying it is offline).
    pub async fn sync_center(&self) -> Result<CenterSyncReport, HearthError> {
        let v = self.vault.clone();
        blocking(move || enrolled(&v)).await?;
        let reports = self.send_to_centers().await?;
        let v = self.vault.clone();
        blocking(move || Ok(CenterSyncReport::new(&reports, &v.signups()?))).await
    }

    /// Signs up for a session under `nickname` (the name this center knows the member
    /// by), with a `note` to staff and a reminder `remind_minutes` before it (on this
    /// device only). Saved at once, then sent to the center if it can be reached: the
    /// record says where it stands (`Pending` until the center has it). A center that
    /// turns it down answers `Denied` with its reason in one line.
    /// `utc_offset_minutes` (east of UTC) is the device's, for the reminder's words.
    pub async fn sign_up(
        &self,
        session_id: u32,
        nickname: String,
        note: String,
        remind_minutes: Option<u16>,
        utc_offset_minutes: i32,
    ) -> Result<SignUpRecord, HearthError> {
        let v = self.vault.clone();
        let made = blocking(move || {
            let session = SessionId(session_id);
            enrolled(&v)?;
            let hub = v.center_listing(session).map_err(center_vault)?;
            let new = NewSignUp {
                nickname,
                note,
                remind_minutes,
            };
            v.sign_up(hub, session, &new, now_ms())
                .map_err(center_vault)
        })
        .await?;
        // Offline is fine: the sign-up waits in the journal for the next sync.
        if let Ok(reports) = self.send_to_centers().await
            && let Some((_, why)) = reports
                .iter()
                .flat_map(|r| &r.refused)
                .find(|(id, _)| *id == made.id)
        {
            return Err(HearthError::Denied {
                message: one_line(&format!(
                    "the center turned down your sign-up for {}: {why}",
                    made.title
                )),
            });
        }
        let v = self.vault.clone();
        blocking(move || as_it_stands(&v, made, utc_offset_minutes)).await
    }

    /// Every sign-up of the member's, at every center, soonest first, with each one's
    /// reminder (`remind_at_ms`, `reminder_text` in the device's `utc_offset_minutes`
    /// east of UTC): the app keeps its local notifications in step with these.
    pub async fn signups(&self, utc_offset_minutes: i32) -> Result<Vec<SignUpRecord>, HearthError> {
        let v = self.vault.clone();
        blocking(move || {
            let now = now_ms();
            Ok(v.signups()?
                .iter()
                .map(|s| SignUpRecord::new(s, now, utc_offset_minutes))
                .collect())
        })
        .await
    }

    /// Withdraws a sign-up (its id, or a unique start of it). Saved at once, then sent
    /// to the center if it can be reached; the record says whether it has heard
    /// (`withdrawing` until it has). Its reminder is off from now on.
    pub async fn withdraw(
        &self,
        signup_id: String,
        utc_offset_minutes: i32,
    ) -> Result<SignUpRecord, HearthError> {
        let v = self.vault.clone();
        let withdrawn = blocking(move || v.withdraw(&signup_id).map_err(center_vault)).await?;
        // Offline is fine: the withdrawal waits in the journal for the next sync.
        let _ = self.send_to_centers().await;
        let v = self.vault.clone();
        blocking(move || as_it_stands(&v, withdrawn, utc_offset_minutes)).await
    }

    /// Proposes an activity to the center (the center does not learn who proposed
    /// it); returns its number. Others see it, and show interest, after their next
    /// sync.
    pub async fn propose(
        &self,
        title: String,
        when: String,
        note: String,
    ) -> Result<u32, HearthError> {
        let v = self.vault.clone();
        blocking(move || enrolled(&v)).await?;
        let (v, n) = (self.vault.clone(), self.net.clone());
        let draft = ProposalDraft { title, when, note };
        spawn(async move {
            device::propose(&v, &n, draft)
                .await
                .map(|p| p.0)
                .map_err(center_net)
        })
        .await
    }

    /// Shows the member's interest in a proposal (counted once, whichever of their
    /// devices they use; the center never learns who); returns how many members are
    /// interested now.
    pub async fn interested(&self, proposal_id: u32) -> Result<u32, HearthError> {
        let v = self.vault.clone();
        blocking(move || enrolled(&v)).await?;
        let (v, n) = (self.vault.clone(), self.net.clone());
        spawn(async move {
            device::interested(&v, &n, ProposalId(proposal_id))
                .await
                .map_err(center_net)
        })
        .await
    }

    /// Delivers the current state at once, then every change and sync status, until
    /// the returned handle is dropped or cancelled.
    pub fn subscribe(
        &self,
        listener: Arc<dyn HearthListener>,
    ) -> Result<Arc<Subscription>, HearthError> {
        let mut changes = self.vault.subscribe();
        let mut status = self.status.subscribe();
        let task = handle()?.spawn(async move {
            listener.on_change(ChangeOrigin::Initial);
            loop {
                tokio::select! {
                    ev = changes.recv() => match ev {
                        Ok(VaultEvent::Changed { origin, .. }) => listener.on_change(match origin {
                            Origin::Local => ChangeOrigin::Local,
                            Origin::Remote => ChangeOrigin::Remote,
                        }),
                        Err(broadcast::error::RecvError::Lagged(_)) => listener.on_change(ChangeOrigin::Remote),
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                    st = status.recv() => match st {
                        Ok(s) => listener.on_sync_status(s),
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                }
            }
        });
        Ok(Arc::new(Subscription {
            task: Mutex::new(Some(task)),
        }))
    }
}

impl Hearth {
    /// Sends what waits for the centers and brings their programs and statuses back.
    async fn send_to_centers(&self) -> Result<Vec<CenterReport>, HearthError> {
        let (v, n) = (self.vault.clone(), self.net.clone());
        spawn(async move { device::sync_centers(&v, &n).await.map_err(center_net) }).await
    }

    async fn start_live(&self, invite: Option<Duration>) -> Result<Option<Invite>, HearthError> {
        let mut live = self.live.lock().await;
        if let Some(old) = live.take() {
            spawn(async move {
                old.shutdown().await;
                Ok(())
            })
            .await?;
        }
        let (v, n, status) = (self.vault.clone(), self.net.clone(), self.status.clone());
        let pending = self.join_request.clone();
        // A request to the invite just shut down can no longer be answered.
        if let Ok(mut p) = pending.lock() {
            *p = None;
        }
        let (new_live, invite) = spawn(async move {
            let (tx, mut rx) = mpsc::unbounded_channel();
            let fwd = status.clone();
            tokio::spawn(async move {
                while let Some(ev) = rx.recv().await {
                    if let Some(s) = status_of(ev) {
                        let _ = fwd.send(s);
                    }
                }
            });
            let (live, invite) = Live::start(v, &n, invite, true, Some(tx)).await?;
            let invite = invite.map(|open| {
                let (ticket, mut requests, joined) = (open.ticket, open.requests, open.joined);
                let status = status.clone();
                tokio::spawn(async move {
                    if let Some(request) = requests.recv().await {
                        let asking = SyncStatus::JoinRequested {
                            device: request.device.short(),
                            code: request.code.clone(),
                        };
                        // Held before the app hears of it, so `confirm_join` finds it.
                        if let Ok(mut p) = pending.lock() {
                            *p = Some(request);
                        }
                        let _ = status.send(asking);
                    }
                    if let Ok(device) = joined.await {
                        let _ = status.send(SyncStatus::DeviceJoined {
                            device: device.short(),
                        });
                    }
                });
                Invite {
                    qr_text: ticket.qr(),
                    ticket: ticket.to_string(),
                }
            });
            let _ = status.send(SyncStatus::Online);
            Ok((live, invite))
        })
        .await?;
        *live = Some(new_live);
        Ok(invite)
    }
}
