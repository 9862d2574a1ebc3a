//! `DeviceId`: a device's Ed25519 public key, which is also its iroh endpoint id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{IdError, parse_hex, to_hex};

/// A device's id: its Ed25519 public key (the iroh endpoint id). It is the only
/// identity Hearth uses for access control.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DeviceId(pub [u8; 32]);

impl DeviceId {
    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The Ed25519 key, or an error when the bytes are not a curve point.
    pub fn public_key(&self) -> Result<iroh_base::PublicKey, IdError> {
        iroh_base::PublicKey::from_bytes(&self.0).map_err(|_| IdError::BadKey)
    }

    /// A short form for people: the first 8 hex characters.
    pub fn short(&self) -> String {
        to_hex(&self.0[..4])
    }

    /// The key fingerprint people compare when they grant consent: the full id in
    /// groups of four.
    pub fn fingerprint(&self) -> String {
        let hex = to_hex(&self.0);
        hex.as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl From<iroh_base::PublicKey> for DeviceId {
    fn from(key: iroh_base::PublicKey) -> Self {
        DeviceId(*key.as_bytes())
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({})", self.short())
    }
}

impl FromStr for DeviceId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let bytes: [u8; 32] = parse_hex(s)?;
        let id = DeviceId(bytes);
        id.public_key()?;
        Ok(id)
    }
}
