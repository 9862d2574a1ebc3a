//! Document keys by epoch, and the envelopes that carry an epoch's key to each reader
//! device: the key's secret age-encrypted to the device's recipient, signed by the
//! granting device, naming the commitment to the key it carries. It does not decide
//! who deserves an envelope (that is `access`), and an envelope proves nothing until
//! its opened key matches the commitment of the record that opened its epoch.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::access::EpochKey;
use crate::crypto::{self, CryptoError, Domain};
use crate::identity::DeviceKeys;
use crate::ids::{DeviceId, DocId};
use crate::wire::{self, Reader, WireError};

/// One epoch's key for one document: an age X25519 identity derived from 32 secret
/// bytes. Every bundle of that epoch is encrypted to it.
#[derive(Clone)]
pub struct DocKey {
    secret: KeySecret,
    identity: age::x25519::Identity,
    recipient: age::x25519::Recipient,
}

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct KeySecret([u8; 32]);

impl DocKey {
    /// A fresh random key (for a new document or a new epoch).
    pub fn generate() -> Result<Self, CryptoError> {
        Self::from_secret(crypto::random_bytes())
    }

    /// The key from its secret bytes (from an envelope or a backup).
    pub fn from_secret(secret: [u8; 32]) -> Result<Self, CryptoError> {
        let secret = KeySecret(secret);
        let identity = crypto::age_identity(&secret.0)?;
        let recipient = identity.to_public();
        Ok(DocKey {
            secret,
            identity,
            recipient,
        })
    }

    /// The secret bytes, for a backup.
    pub(crate) fn secret(&self) -> &[u8; 32] {
        &self.secret.0
    }

    /// The commitment the record opening this key's epoch makes to it.
    pub fn commitment(&self) -> EpochKey {
        EpochKey::of_recipient(&self.recipient.to_string())
    }

    /// Encrypts a bundle's plaintext to this key.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        crypto::encrypt(&[&self.recipient], plaintext)
    }

    /// Decrypts a bundle's ciphertext.
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        crypto::decrypt(&self.identity, ciphertext)
    }
}

impl fmt::Debug for DocKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DocKey([redacted])")
    }
}

const MAGIC: &[u8; 4] = b"HEN2";
const MAX_BODY: usize = 4096;

/// What an envelope says: which doc and epoch, for which device, from whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeBody {
    /// The document whose key this is.
    pub doc: DocId,
    /// The epoch the key belongs to.
    pub epoch: u32,
    /// The device that can open it.
    pub recipient: DeviceId,
    /// The device that made and signed it (must be an owner of the doc).
    pub granter: DeviceId,
    /// The commitment to the key inside (checked when it is opened).
    pub key: EpochKey,
    /// The 32-byte key secret, age-encrypted to the recipient device.
    pub sealed_key: Vec<u8>,
}

/// A signed envelope as stored and synced.
#[derive(Debug, Clone)]
pub struct Envelope {
    body: EnvelopeBody,
    bytes: Vec<u8>,
}

/// An envelope failed to decode, verify or open.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The bytes are not an envelope.
    #[error("malformed envelope: {0}")]
    Wire(#[from] WireError),
    /// The signature does not verify.
    #[error("envelope signature does not verify")]
    BadSignature,
    /// It is addressed to another device.
    #[error("envelope is for another device")]
    NotForUs,
    /// The key inside is not the one it names.
    #[error("envelope holds another key than it names")]
    WrongKey,
    /// Encryption or decryption failed.
    #[error("envelope: {0}")]
    Crypto(#[from] CryptoError),
}

impl Envelope {
    /// Wraps `key` for the device `to` (its id and age recipient), signed by `granter`.
    pub fn seal(
        doc: DocId,
        epoch: u32,
        key: &DocKey,
        to: DeviceId,
        to_recipient: &age::x25519::Recipient,
        granter: &DeviceKeys,
    ) -> Result<Self, EnvelopeError> {
        let sealed_key = crypto::encrypt(&[to_recipient], &key.secret.0)?;
        let body = EnvelopeBody {
            doc,
            epoch,
            recipient: to,
            granter: granter.id(),
            key: key.commitment(),
            sealed_key,
        };
        let body_bytes = wire::to_postcard(&body);
        let signature = granter.sign(Domain::ENVELOPE, &body_bytes);
        let mut bytes = Vec::with_capacity(body_bytes.len() + 72);
        bytes.extend_from_slice(MAGIC);
        wire::put_sized(&mut bytes, &body_bytes);
        bytes.extend_from_slice(&signature);
        Ok(Envelope { body, bytes })
    }

    /// Decodes and checks the granter's signature (not whether the granter may grant).
    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let mut r = Reader::new(bytes);
        r.magic(MAGIC, "envelope")?;
        let body_bytes = r.sized("envelope body", MAX_BODY)?;
        let signature: [u8; 64] = r.array()?;
        r.finish()?;
        let body: EnvelopeBody = wire::from_postcard(body_bytes, "envelope body")?;
        crypto::verify(&body.granter, Domain::ENVELOPE, body_bytes, &signature)
            .map_err(|_| EnvelopeError::BadSignature)?;
        Ok(Envelope {
            body,
            bytes: bytes.to_vec(),
        })
    }

    /// Opens the envelope with this device's keys; the key inside must be the one the
    /// envelope names.
    pub fn open(&self, device: &DeviceKeys) -> Result<DocKey, EnvelopeError> {
        if self.body.recipient != device.id() {
            return Err(EnvelopeError::NotForUs);
        }
        let mut secret = crypto::decrypt(device.age_identity(), &self.body.sealed_key)?;
        let key = <[u8; 32]>::try_from(secret.as_slice())
            .map_err(|_| CryptoError::BadKey("envelope key is not 32 bytes".into()));
        secret.zeroize();
        let key = DocKey::from_secret(key?)?;
        if key.commitment() != self.body.key {
            return Err(EnvelopeError::WrongKey);
        }
        Ok(key)
    }

    /// Its content id.
    pub fn id(&self) -> crate::item::ItemId {
        crate::item::ItemId(*blake3::hash(&self.bytes).as_bytes())
    }

    /// What the envelope says.
    pub fn body(&self) -> &EnvelopeBody {
        &self.body
    }

    /// The signed bytes, as stored and synced.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Seed;

    #[test]
    fn envelope_opens_only_for_its_device_and_detects_tampering() {
        let alice = DeviceKeys::derive(&Seed::from_bytes([1; 32])).unwrap();
        let bob = DeviceKeys::derive(&Seed::from_bytes([2; 32])).unwrap();
        let key = DocKey::generate().unwrap();
        let doc = DocId([9; 16]);
        let env = Envelope::seal(doc, 0, &key, bob.id(), bob.recipient(), &alice).unwrap();
        let decoded = Envelope::decode(env.bytes()).unwrap();
        let opened = decoded.open(&bob).unwrap();
        let ct = key.encrypt(b"journal").unwrap();
        assert_eq!(opened.decrypt(&ct).unwrap(), b"journal");
        assert!(matches!(decoded.open(&alice), Err(EnvelopeError::NotForUs)));

        for i in 0..env.bytes().len() {
            let mut bad = env.bytes().to_vec();
            bad[i] ^= 0x01;
            assert!(Envelope::decode(&bad).is_err(), "flip at {i} accepted");
        }
    }
}
