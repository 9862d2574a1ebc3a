//! Encrypted backups: the journal's signed items, its epoch keys, and a backup key of
//! its own, sealed with an age passphrase (scrypt). Making a backup names its key in
//! the access log (role `Recovery`, listed with the member's devices); restoring it
//! into an empty home makes a new device that the backup key adds as an owner, so a
//! lost phone's vault comes back whole without the lost phone's secret. The backup
//! key's secret lives only in the file: no content every device holds can grant
//! access. Every removal retires every backup key, so a backup made before a removal
//! (or on a removed device) restores what it holds and nothing written since.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{
    DevicePublic, IngestReport, Journal, Location, META_ACTOR, META_JOURNAL, Source, SyncItem,
    Vault, VaultError, device_keys, new_actor,
};
use crate::access::Role;
use crate::crypto::{self, CryptoError};
use crate::envelope::DocKey;
use crate::identity::{DeviceKeys, KeyStore, Seed};
use crate::ids::DocId;
use crate::item::ItemId;
use crate::store::Batch;
use crate::wire;

/// A backup could not be made or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The passphrase is too short to seal a backup with.
    #[error("the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters")]
    ShortPassphrase,
    /// The passphrase does not open the file (or it is not a backup).
    #[error("wrong passphrase, or the file is not a Hearth backup")]
    WrongPassphrase,
    /// The file opened but its contents are not a backup this build reads.
    #[error("the backup is damaged: {0}")]
    Damaged(String),
    /// A backup format this build does not read.
    #[error("unsupported backup format {0:?}")]
    Format(String),
    /// The backup is of another member's vault.
    #[error("this backup belongs to another vault; restore it into an empty home")]
    OtherVault,
    /// A removal retired the backup's key: it restores nothing on a new device.
    #[error("this backup's key was retired when a device was removed; use a newer backup")]
    Retired,
}

/// The format tag inside every backup.
pub const BACKUP_FORMAT: &str = "hearth.backup/2";
/// The shortest passphrase a backup may be sealed with.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

#[derive(Serialize, Deserialize)]
struct BackupV2 {
    format: String,
    journal: DocId,
    /// The seed of this backup's key (role `Recovery` in the access log).
    backup_key: [u8; 32],
    keys: Vec<(u32, [u8; 32])>,
    items: Vec<SyncItem>,
}

impl Drop for BackupV2 {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.backup_key);
        for (_, k) in &mut self.keys {
            zeroize::Zeroize::zeroize(k);
        }
    }
}

fn open_backup(bytes: &[u8], passphrase: &str) -> Result<BackupV2, VaultError> {
    let plain = Zeroizing::new(crypto::decrypt_with_passphrase(passphrase, bytes).map_err(
        |e| match e {
            CryptoError::WrongPassphrase => VaultError::Backup(BackupError::WrongPassphrase),
            other => other.into(),
        },
    )?);
    let backup: BackupV2 = wire::from_postcard(&plain, "backup")
        .map_err(|e| VaultError::Backup(BackupError::Damaged(e.to_string())))?;
    if backup.format != BACKUP_FORMAT {
        return Err(VaultError::Backup(BackupError::Format(
            backup.format.clone(),
        )));
    }
    Ok(backup)
}

impl Vault {
    /// The whole vault, sealed with `passphrase` (at least eight characters), with a
    /// new backup key that this device (an owner) names in the access log.
    pub fn export_backup(&self, passphrase: &str) -> Result<Vec<u8>, VaultError> {
        self.export_backup_costing(passphrase, crypto::BACKUP_WORK_FACTOR)
    }

    /// [`Vault::export_backup`] with a cheaper passphrase derivation (scrypt work
    /// factor, log2 N): for tests that make hundreds of backups.
    #[doc(hidden)]
    pub fn export_backup_costing(
        &self,
        passphrase: &str,
        work_factor: u8,
    ) -> Result<Vec<u8>, VaultError> {
        if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(VaultError::Backup(BackupError::ShortPassphrase));
        }
        let backup = {
            let mut guard = self.lock()?;
            let seed = self.write_locked(&mut guard, |j, me, b| j.add_backup_key(me, b))?;
            let journal = &guard.journal;
            let parked: std::collections::BTreeSet<ItemId> =
                journal.parked().iter().map(|b| ItemId(b.0)).collect();
            BackupV2 {
                format: BACKUP_FORMAT.into(),
                journal: journal.id(),
                backup_key: *seed.expose(),
                keys: journal
                    .keys()
                    .iter()
                    .map(|(epoch, key)| (epoch, *key.secret()))
                    .collect(),
                items: guard.store.items_except(&journal.id(), &parked)?,
            }
        };
        let plain = Zeroizing::new(wire::to_postcard(&backup));
        Ok(crypto::encrypt_with_passphrase_costing(
            passphrase,
            &plain,
            work_factor,
        )?)
    }

    /// Merges a backup of this same vault into it (what is already here stays).
    pub fn import_backup(
        &self,
        bytes: &[u8],
        passphrase: &str,
    ) -> Result<IngestReport, VaultError> {
        let mut backup = open_backup(bytes, passphrase)?;
        if backup.journal != self.journal_id()? {
            return Err(VaultError::Backup(BackupError::OtherVault));
        }
        self.ingest(std::mem::take(&mut backup.items))
    }

    /// Restores a backup into an empty home: a new device, made an owner by the
    /// backup's key, with every epoch key sealed to it. A backup whose key a later
    /// removal retired restores here, but no other replica will take the new device.
    pub fn restore_backup(
        location: Location,
        keys: &dyn KeyStore,
        bytes: &[u8],
        passphrase: &str,
    ) -> Result<Self, VaultError> {
        let mut backup = open_backup(bytes, passphrase)?;
        let store = location.open_store(true)?;
        if store.meta(META_JOURNAL)?.is_some() {
            return Err(VaultError::AlreadyExists);
        }
        let device = device_keys(keys)?;
        let actor = new_actor();
        let mut j: Journal = Journal::empty(backup.journal, actor.clone());
        let epoch_keys = backup
            .keys
            .iter()
            .map(|(epoch, secret)| Ok((*epoch, DocKey::from_secret(*secret)?)))
            .collect::<Result<Vec<_>, CryptoError>>()?;
        j.add_keys(epoch_keys);
        let mut batch = Batch::new();
        let report = j.ingest(
            &store,
            &device,
            std::mem::take(&mut backup.items),
            Source::Received,
            &mut batch,
        )?;
        for reason in &report.rejected {
            tracing::warn!("backup item ignored: {reason}");
        }
        j.doc().check_schema()?;
        let backup_key = DeviceKeys::derive(&Seed::from_bytes(backup.backup_key))?;
        let me = DevicePublic {
            id: device.id(),
            recipient: device.recipient().to_string(),
        };
        if !j.state().is_owner(&me.id) {
            if !j.state().may_grant(&backup_key.id()) {
                return Err(VaultError::Backup(BackupError::Retired));
            }
            j.grant_with(backup_key.endpoint_key(), &me, Role::Owner, &mut batch)?;
        }
        j.seal_keys_for(&device, &me, &mut batch)?;
        j.ready(&device)?;
        batch
            .put_meta(META_JOURNAL, backup.journal.as_bytes().to_vec())
            .put_meta(META_ACTOR, actor.to_bytes().to_vec());
        store.commit(batch, true)?;
        Self::assemble(location, store, device, j)
    }
}
