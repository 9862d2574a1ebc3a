//! Encrypted backups: the journal's signed items and its epoch keys, sealed with an
//! age passphrase (scrypt). Restoring into an empty home makes a new device that the
//! member's recovery key (kept inside the encrypted journal) adds as an owner, so a
//! lost phone's vault comes back whole without the lost phone's secret.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{
    DevicePublic, IngestReport, Journal, Location, META_ACTOR, META_JOURNAL, SyncItem, Vault,
    VaultError, device_keys, new_actor,
};
use crate::acl::Role;
use crate::crypto::{self, CryptoError};
use crate::envelope::DocKey;
use crate::identity::KeyStore;
use crate::ids::DocId;
use crate::store::Batch;
use crate::wire;

/// The format tag inside every backup.
pub const BACKUP_FORMAT: &str = "hearth.backup/1";
/// The shortest passphrase a backup may be sealed with.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

#[derive(Serialize, Deserialize)]
struct BackupV1 {
    format: String,
    journal: DocId,
    keys: Vec<(u32, [u8; 32])>,
    items: Vec<SyncItem>,
}

impl Drop for BackupV1 {
    fn drop(&mut self) {
        for (_, k) in &mut self.keys {
            zeroize::Zeroize::zeroize(k);
        }
    }
}

fn open_backup(bytes: &[u8], passphrase: &str) -> Result<BackupV1, VaultError> {
    let plain = Zeroizing::new(crypto::decrypt_with_passphrase(passphrase, bytes).map_err(
        |e| match e {
            CryptoError::WrongPassphrase => {
                VaultError::Backup("wrong passphrase, or the file is not a Hearth backup".into())
            }
            other => other.into(),
        },
    )?);
    let backup: BackupV1 = wire::from_postcard(&plain, "backup")
        .map_err(|e| VaultError::Backup(format!("the backup is damaged: {e}")))?;
    if backup.format != BACKUP_FORMAT {
        return Err(VaultError::Backup(format!(
            "unsupported backup format {:?}",
            backup.format
        )));
    }
    Ok(backup)
}

impl Vault {
    /// The whole vault, sealed with `passphrase` (at least eight characters).
    pub fn export_backup(&self, passphrase: &str) -> Result<Vec<u8>, VaultError> {
        if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(VaultError::Backup(format!(
                "the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters"
            )));
        }
        let backup = {
            let guard = self.lock()?;
            BackupV1 {
                format: BACKUP_FORMAT.into(),
                journal: guard.journal.id(),
                keys: guard
                    .journal
                    .keys()
                    .iter()
                    .map(|(epoch, key)| (*epoch, *key.secret()))
                    .collect(),
                items: guard.store.items(&guard.journal.id())?,
            }
        };
        let plain = Zeroizing::new(wire::to_postcard(&backup));
        Ok(crypto::encrypt_with_passphrase(passphrase, &plain)?)
    }

    /// Merges a backup of this same vault into it (what is already here stays).
    pub fn import_backup(
        &self,
        bytes: &[u8],
        passphrase: &str,
    ) -> Result<IngestReport, VaultError> {
        let mut backup = open_backup(bytes, passphrase)?;
        if backup.journal != self.journal_id()? {
            return Err(VaultError::Backup(
                "this backup belongs to another vault; restore it into an empty home".into(),
            ));
        }
        self.ingest(std::mem::take(&mut backup.items))
    }

    /// Restores a backup into an empty home: a new device, made an owner by the
    /// member's recovery key, with every epoch key sealed to it.
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
        let mut j = Journal::empty(backup.journal, actor.clone());
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
            &mut batch,
        )?;
        for reason in &report.rejected {
            tracing::warn!("backup item ignored: {reason}");
        }
        j.doc().check_schema()?;
        let recovery = j
            .doc()
            .recovery_key()
            .ok_or_else(|| VaultError::Backup("the backup has no recovery key".into()))?;
        let recovery = iroh_base::SecretKey::from_bytes(&recovery);
        let me = DevicePublic {
            id: device.id(),
            recipient: device.recipient().to_string(),
        };
        if !j.acl().is_owner(&me.id) {
            j.grant_with(&recovery, &me, Role::Owner, &mut batch)?;
        }
        j.seal_keys_for(&device, &me, &mut batch)?;
        j.ready(&device)?;
        batch
            .put_meta(META_JOURNAL, backup.journal.as_bytes().to_vec())
            .put_meta(META_ACTOR, actor.to_bytes().to_vec());
        store.commit(batch, true)?;
        Ok(Self::assemble(location, store, device, j))
    }
}
