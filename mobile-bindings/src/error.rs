//! The one error the apps see: a few variants they can act on, each with a message.

use hearth_core::device::NetError;
use hearth_core::sync::Refusal;
use hearth_core::vault::VaultError;

/// What went wrong, in a form a Kotlin or Swift caller can act on.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum HearthError {
    /// No hub or device answered, or the connection broke: try again later.
    #[error("{message}")]
    Network {
        /// Why.
        message: String,
    },
    /// A key, signature, passphrase or encrypted file did not check out.
    #[error("{message}")]
    Crypto {
        /// Why.
        message: String,
    },
    /// The device's storage or key store failed.
    #[error("{message}")]
    Storage {
        /// Why.
        message: String,
    },
    /// There is nothing there (no vault yet, no such check-in).
    #[error("{message}")]
    NotFound {
        /// Why.
        message: String,
    },
    /// Not allowed (removed device, not an owner, refused ticket).
    #[error("{message}")]
    Denied {
        /// Why.
        message: String,
    },
    /// Invalid input (mood out of range, unknown section, bad ticket): show the message.
    #[error("{message}")]
    Invalid {
        /// Why.
        message: String,
    },
    /// The center's hub stored nothing new of the journal: the member's room there is
    /// used up. Everything is safe on the device; show the message (it says to ask the
    /// center's staff).
    #[error("{message}")]
    QuotaExceeded {
        /// Bytes the hub stores for the journal.
        used_bytes: u64,
        /// The most it stores for one journal.
        limit_bytes: u64,
        /// What to show.
        message: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for HearthError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        HearthError::Storage {
            message: format!("the app's callback failed: {}", e.reason),
        }
    }
}

impl From<VaultError> for HearthError {
    fn from(e: VaultError) -> Self {
        use hearth_core::doc::DocError;
        use hearth_core::vault::BackupError;
        let message = e.to_string();
        match e {
            VaultError::NoVault(_) | VaultError::NotFound(_) => HearthError::NotFound { message },
            VaultError::Doc(DocError::NoCheckIn(_) | DocError::NoItem(..)) => {
                HearthError::NotFound { message }
            }
            VaultError::AlreadyExists
            | VaultError::Invalid(_)
            | VaultError::Doc(_)
            | VaultError::Card(_) => HearthError::Invalid { message },
            VaultError::Backup(BackupError::Retired) => HearthError::Denied { message },
            VaultError::Backup(BackupError::WrongPassphrase) => HearthError::Crypto { message },
            VaultError::Backup(_) => HearthError::Invalid { message },
            VaultError::Crypto(_)
            | VaultError::Bundle(_)
            | VaultError::Acl(_)
            | VaultError::Envelope(_) => HearthError::Crypto { message },
            VaultError::NoKey | VaultError::Denied(_) => HearthError::Denied { message },
            _ => HearthError::Storage { message },
        }
    }
}

impl From<NetError> for HearthError {
    fn from(e: NetError) -> Self {
        match e {
            NetError::Vault(v) => v.into(),
            NetError::Refused(message) => HearthError::Denied { message },
            NetError::HubRefused {
                refusal:
                    Refusal::QuotaExceeded {
                        used_bytes,
                        limit_bytes,
                    },
                ..
            } => HearthError::QuotaExceeded {
                used_bytes,
                limit_bytes,
                message: e_message(used_bytes, limit_bytes),
            },
            other => HearthError::Network {
                message: other.to_string(),
            },
        }
    }
}

impl From<hearth_core::model::ValidationError> for HearthError {
    fn from(e: hearth_core::model::ValidationError) -> Self {
        HearthError::Invalid {
            message: e.to_string(),
        }
    }
}

impl From<hearth_core::share::CardError> for HearthError {
    fn from(e: hearth_core::share::CardError) -> Self {
        HearthError::Invalid {
            message: e.to_string(),
        }
    }
}

impl From<hearth_core::pairing::TicketError> for HearthError {
    fn from(e: hearth_core::pairing::TicketError) -> Self {
        HearthError::Invalid {
            message: e.to_string(),
        }
    }
}

/// The most characters of a center's words shown in one error.
const MAX_CENTER_WORDS: usize = 300;

/// `text` as one line (line breaks and runs of spaces folded), at most
/// [`MAX_CENTER_WORDS`] characters: what a center says reaches the member as one
/// clear line whatever the hub sent.
pub(crate) fn one_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= MAX_CENTER_WORDS {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_CENTER_WORDS - 1).collect();
    cut.push('…');
    cut
}

/// A vault error from a center call: the vault's own refusals ("the center lists no
/// session 4", "you are already signed up for session 4 (…)") without the general
/// "not allowed:" before them.
pub(crate) fn center_vault(e: VaultError) -> HearthError {
    match e {
        VaultError::Denied(why) => HearthError::Denied {
            message: one_line(&why),
        },
        other => other.into(),
    }
}

/// A network error from a center call: a refusal from the center reads as the
/// center's one line (`Denied`); the rest as for sync.
pub(crate) fn center_net(e: NetError) -> HearthError {
    match e {
        NetError::Vault(v) => center_vault(v),
        NetError::Refused(why) => HearthError::Denied {
            message: one_line(&why),
        },
        other => other.into(),
    }
}

/// The line a member reads when the hub's quota refused the journal.
fn e_message(used_bytes: u64, limit_bytes: u64) -> String {
    Refusal::QuotaExceeded {
        used_bytes,
        limit_bytes,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hubs_quota_refusal_reaches_the_app_typed() {
        let err: HearthError = NetError::HubRefused {
            hub: hearth_core::ids::DeviceId([7; 32]),
            refusal: Refusal::QuotaExceeded {
                used_bytes: 256 << 20,
                limit_bytes: 256 << 20,
            },
        }
        .into();
        match err {
            HearthError::QuotaExceeded {
                used_bytes,
                limit_bytes,
                message,
            } => {
                assert_eq!((used_bytes, limit_bytes), (256 << 20, 256 << 20));
                assert!(message.contains("256 MB used of 256 MB"), "{message}");
            }
            other => panic!("expected QuotaExceeded, got {other:?}"),
        }
    }

    #[test]
    fn a_centers_refusal_reads_as_one_clear_line() {
        let err = center_net(NetError::Refused(
            "the center has no proposal\nwith that   number".into(),
        ));
        match err {
            HearthError::Denied { message } => {
                assert_eq!(message, "the center has no proposal with that number");
            }
            other => panic!("expected Denied, got {other:?}"),
        }
        let long = one_line(&"word ".repeat(200));
        assert_eq!(long.chars().count(), MAX_CENTER_WORDS);
        assert!(long.ends_with('…'));
        let vault = center_vault(VaultError::Denied("the center lists no session 9".into()));
        assert!(matches!(
            center_vault(VaultError::NotFound(
                "your center lists no session 9".into()
            )),
            HearthError::NotFound { .. }
        ));
        assert_eq!(vault.to_string(), "the center lists no session 9");
    }
}
