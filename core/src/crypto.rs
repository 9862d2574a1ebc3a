//! The primitives Hearth builds on: age encryption to device and document keys,
//! age passphrase encryption for backups, and domain-separated Ed25519 signatures.
//! It owns no keys and knows nothing about documents.

use std::io::{Read, Write};

use age::secrecy::SecretString;
use zeroize::Zeroizing;

use crate::ids::DeviceId;

/// Separates what a signature is for, so a signature over one kind of message can
/// never be replayed as another (`"hearth/<what>/v1\0" || message`).
#[derive(Debug, Clone, Copy)]
pub struct Domain(&'static str);

impl Domain {
    /// Signatures over a bundle's header and ciphertext hash.
    pub const BUNDLE: Domain = Domain("hearth/bundle/v1\0");
    /// Signatures over an access record.
    pub const ACL: Domain = Domain("hearth/acl/v2\0");
    /// Signatures over a doc-key envelope.
    pub const ENVELOPE: Domain = Domain("hearth/envelope/v2\0");
    /// Signatures over a consent record in the ledger.
    pub const CONSENT: Domain = Domain("hearth/consent/v1\0");
    /// A center's flyer, signed by its hub.
    pub const FLYER: Domain = Domain("hearth/flyer/v1\0");
    /// A coach's contact card, signed by one of the coach's devices.
    pub const COACH_CARD: Domain = Domain("hearth/coach-card/v1\0");
    /// The end of a consent (revoked, or expired), signed by a member's device.
    pub const CONSENT_END: Domain = Domain("hearth/consent-end/v1\0");
}

/// An encryption, decryption or signature check failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// age could not encrypt.
    #[error("encryption failed: {0}")]
    Encrypt(String),
    /// The ciphertext is not for any key we hold, or it was altered.
    #[error("cannot decrypt: {0}")]
    Decrypt(String),
    /// The passphrase did not open the file.
    #[error("wrong passphrase, or the file is not a Hearth backup")]
    WrongPassphrase,
    /// A signature did not verify.
    #[error("bad signature")]
    BadSignature,
    /// Bytes that should be a key are not one.
    #[error("invalid key: {0}")]
    BadKey(String),
}

/// Builds an age X25519 identity from 32 secret bytes (age has no `from_bytes`, so
/// this goes through its Bech32 text form).
pub fn age_identity(secret: &[u8; 32]) -> Result<age::x25519::Identity, CryptoError> {
    let hrp =
        bech32::Hrp::parse("age-secret-key-").map_err(|e| CryptoError::BadKey(e.to_string()))?;
    let text = Zeroizing::new(
        bech32::encode::<bech32::Bech32>(hrp, secret)
            .map_err(|e| CryptoError::BadKey(e.to_string()))?
            .to_uppercase(),
    );
    text.parse::<age::x25519::Identity>()
        .map_err(|e| CryptoError::BadKey(e.to_owned()))
}

/// Parses an age recipient (`age1…`).
pub fn age_recipient(text: &str) -> Result<age::x25519::Recipient, CryptoError> {
    text.parse::<age::x25519::Recipient>()
        .map_err(|e| CryptoError::BadKey(e.to_owned()))
}

/// Encrypts `plaintext` to every recipient.
pub fn encrypt(
    recipients: &[&dyn age::Recipient],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let encryptor = age::Encryptor::with_recipients(recipients.iter().copied())
        .map_err(|e| CryptoError::Encrypt(e.to_string()))?;
    finish_encrypt(encryptor, plaintext)
}

fn finish_encrypt(encryptor: age::Encryptor, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(plaintext.len() + 400);
    let mut writer = encryptor
        .wrap_output(&mut out)
        .map_err(|e| CryptoError::Encrypt(e.to_string()))?;
    writer
        .write_all(plaintext)
        .and_then(|()| writer.finish().map(drop))
        .map_err(|e| CryptoError::Encrypt(e.to_string()))?;
    Ok(out)
}

/// Decrypts `ciphertext` with `identity`.
pub fn decrypt(identity: &dyn age::Identity, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let decryptor = age::Decryptor::new_buffered(ciphertext)
        .map_err(|e| CryptoError::Decrypt(e.to_string()))?;
    if decryptor.is_scrypt() {
        return Err(CryptoError::Decrypt("unexpected passphrase file".into()));
    }
    read_all(decryptor, identity).map_err(|e| CryptoError::Decrypt(e.to_string()))
}

fn read_all(
    decryptor: age::Decryptor<&[u8]>,
    identity: &dyn age::Identity,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut reader = decryptor.decrypt(std::iter::once(identity))?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out)?;
    Ok(out)
}

/// The scrypt work factor (log2 N) backups are written with: age's own default
/// tuning targets ~1 s, we fix it so every device can open every backup.
pub const BACKUP_WORK_FACTOR: u8 = 18;
/// The highest work factor we agree to spend on opening a backup (bounds the work an
/// attacker's file can make us do).
pub const BACKUP_MAX_WORK_FACTOR: u8 = 20;

/// Encrypts `plaintext` under a passphrase (age scrypt recipient).
pub fn encrypt_with_passphrase(passphrase: &str, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    encrypt_with_passphrase_costing(passphrase, plaintext, BACKUP_WORK_FACTOR)
}

/// [`encrypt_with_passphrase`] with another scrypt work factor (log2 N): for tests that
/// make hundreds of backups. Opening reads the factor from the file, as always.
pub fn encrypt_with_passphrase_costing(
    passphrase: &str,
    plaintext: &[u8],
    work_factor: u8,
) -> Result<Vec<u8>, CryptoError> {
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    recipient.set_work_factor(work_factor);
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(|e| CryptoError::Encrypt(e.to_string()))?;
    finish_encrypt(encryptor, plaintext)
}

/// Decrypts a passphrase-encrypted file. A wrong passphrase and a file that is not
/// an age passphrase file are both [`CryptoError::WrongPassphrase`].
pub fn decrypt_with_passphrase(
    passphrase: &str,
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let decryptor =
        age::Decryptor::new_buffered(ciphertext).map_err(|_| CryptoError::WrongPassphrase)?;
    if !decryptor.is_scrypt() {
        return Err(CryptoError::WrongPassphrase);
    }
    let mut identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    identity.set_max_work_factor(BACKUP_MAX_WORK_FACTOR);
    read_all(decryptor, &identity).map_err(|_| CryptoError::WrongPassphrase)
}

/// Signs `message` under `domain` with a device key.
pub fn sign(key: &iroh_base::SecretKey, domain: Domain, message: &[u8]) -> [u8; 64] {
    key.sign(&domain_message(domain, message)).to_bytes()
}

/// Checks `signature` over `message` under `domain` by `signer`.
pub fn verify(
    signer: &DeviceId,
    domain: Domain,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), CryptoError> {
    let key = signer.public_key().map_err(|_| CryptoError::BadSignature)?;
    let sig = iroh_base::Signature::from_bytes(signature);
    key.verify(&domain_message(domain, message), &sig)
        .map_err(|_| CryptoError::BadSignature)
}

fn domain_message(domain: Domain, message: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(domain.0.len() + message.len());
    m.extend_from_slice(domain.0.as_bytes());
    m.extend_from_slice(message);
    m
}

/// Fills a fresh array with random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    // The OS random source failing is unrecoverable and has no safe fallback.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut out).expect("the operating system's random source failed");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_identity_is_deterministic_and_round_trips() {
        let a = age_identity(&[7u8; 32]).unwrap();
        let b = age_identity(&[7u8; 32]).unwrap();
        assert_eq!(a.to_public().to_string(), b.to_public().to_string());
        let ct = encrypt(&[&a.to_public()], b"hello").unwrap();
        assert_eq!(decrypt(&b, &ct).unwrap(), b"hello");
        let other = age_identity(&[8u8; 32]).unwrap();
        assert!(matches!(decrypt(&other, &ct), Err(CryptoError::Decrypt(_))));
    }

    #[test]
    fn signatures_are_domain_separated() {
        let key = iroh_base::SecretKey::from_bytes(&[3u8; 32]);
        let id = DeviceId::from(key.public());
        let sig = sign(&key, Domain::BUNDLE, b"m");
        verify(&id, Domain::BUNDLE, b"m", &sig).unwrap();
        assert!(verify(&id, Domain::ACL, b"m", &sig).is_err());
        assert!(verify(&id, Domain::BUNDLE, b"n", &sig).is_err());
    }

    #[test]
    fn passphrase_round_trip_and_wrong_passphrase() {
        let ct = encrypt_with_passphrase("correct horse", b"vault").unwrap();
        assert_eq!(
            decrypt_with_passphrase("correct horse", &ct).unwrap(),
            b"vault"
        );
        assert!(matches!(
            decrypt_with_passphrase("wrong", &ct),
            Err(CryptoError::WrongPassphrase)
        ));
        assert!(matches!(
            decrypt_with_passphrase("x", b"garbage"),
            Err(CryptoError::WrongPassphrase)
        ));
    }
}
