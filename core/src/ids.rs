//! Small identifier newtypes shared by every layer: which document, which device,
//! which bundle, which ACL record. They own parsing and printing; they know nothing
//! about what the ids point to.

mod bundle_id;
mod device_id;
mod doc_id;

pub use bundle_id::{AclId, BundleId};
pub use device_id::DeviceId;
pub use doc_id::DocId;

/// An id failed to parse from text or bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The text was not hexadecimal of the right length.
    #[error("expected {expected} hex characters, got {got:?}")]
    BadHex {
        /// How many hex characters the id has.
        expected: usize,
        /// What was given (truncated).
        got: String,
    },
    /// The bytes are not a valid Ed25519 public key.
    #[error("not a valid device key")]
    BadKey,
}

/// Parses exactly `N` bytes of lowercase or uppercase hex.
pub(crate) fn parse_hex<const N: usize>(s: &str) -> Result<[u8; N], IdError> {
    let bad = || IdError::BadHex {
        expected: N * 2,
        got: s.chars().take(80).collect(),
    };
    let bytes = s.as_bytes();
    if bytes.len() != N * 2 {
        return Err(bad());
    }
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = hex_val(pair[0]).ok_or_else(bad)?;
        let lo = hex_val(pair[1]).ok_or_else(bad)?;
        out[i] = (hi << 4) | lo;
    }
    Ok(out)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        let bytes: [u8; 4] = [0, 0xab, 0x10, 0xff];
        let text = to_hex(&bytes);
        assert_eq!(text, "00ab10ff");
        assert_eq!(parse_hex::<4>(&text).unwrap(), bytes);
        assert_eq!(parse_hex::<4>("00AB10FF").unwrap(), bytes);
        assert!(parse_hex::<4>("00ab10f").is_err());
        assert!(parse_hex::<4>("00ab10fg").is_err());
        assert!(parse_hex::<4>("é0ab10f").is_err());
    }
}
