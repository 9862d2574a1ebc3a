//! Strict decoding helpers for everything Hearth reads from disk or the network:
//! bounded lengths checked before allocating, exact consumption, canonical postcard.
//! It knows byte layouts, not meanings.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Bytes failed to decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Fewer bytes than the layout needs.
    #[error("truncated: needed {needed} more bytes")]
    Truncated {
        /// How many more bytes were needed.
        needed: usize,
    },
    /// A length field exceeds its limit.
    #[error("{what} is {len} bytes, the limit is {max}")]
    TooLarge {
        /// Which field.
        what: &'static str,
        /// Its declared length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The leading magic bytes are wrong: this is not the expected kind of data.
    #[error("not a {0} (bad magic bytes)")]
    BadMagic(&'static str),
    /// Bytes were left over after the last field.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// A field's bytes are not a valid encoding.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which field.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The encoding is valid but not the one canonical encoding of its value.
    #[error("non-canonical {0}")]
    NonCanonical(&'static str),
}

/// A cursor over received bytes that never reads past the end.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.bytes.len() < n {
            return Err(WireError::Truncated {
                needed: n - self.bytes.len(),
            });
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn magic(&mut self, magic: &[u8; 4], what: &'static str) -> Result<(), WireError> {
        if self.bytes.len() < 4 || &self.bytes[..4] != magic {
            return Err(WireError::BadMagic(what));
        }
        self.take(4).map(drop)
    }

    /// A u32 little-endian length followed by that many bytes, at most `max`.
    pub(crate) fn sized(&mut self, what: &'static str, max: usize) -> Result<&'a [u8], WireError> {
        let len = u32::from_le_bytes(self.array()?) as usize;
        if len > max {
            return Err(WireError::TooLarge { what, len, max });
        }
        self.take(len)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn finish(self) -> Result<(), WireError> {
        match self.bytes.len() {
            0 => Ok(()),
            n => Err(WireError::Trailing(n)),
        }
    }
}

/// Appends a u32 length and the bytes.
pub(crate) fn put_sized(out: &mut Vec<u8>, bytes: &[u8]) {
    // Every caller bounds its payload far below 4 GiB before encoding.
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Encodes a value with postcard.
pub(crate) fn to_postcard<T: Serialize>(value: &T) -> Vec<u8> {
    // postcard into a Vec only fails for types serde cannot express; ours are plain.
    postcard::to_stdvec(value).unwrap_or_default()
}

/// Decodes a postcard value that must use every byte and be canonical.
pub(crate) fn from_postcard<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, WireError> {
    let (value, rest) =
        postcard::take_from_bytes::<T>(bytes).map_err(|e| WireError::Malformed {
            what,
            reason: e.to_string(),
        })?;
    if !rest.is_empty() {
        return Err(WireError::Trailing(rest.len()));
    }
    if to_postcard(&value) != bytes {
        return Err(WireError::NonCanonical(what));
    }
    Ok(value)
}

/// `prefix`, then `bytes` in lower-case Base32 without padding: how tickets and cards
/// are written, so they survive being typed, read aloud, or carried in a QR code in
/// upper case.
pub(crate) fn to_text(prefix: &str, bytes: &[u8]) -> String {
    format!(
        "{prefix}{}",
        data_encoding::BASE32_NOPAD.encode(bytes).to_lowercase()
    )
}

/// The bytes of text [`to_text`] wrote (in either case), or why it is not such text.
pub(crate) fn from_text(prefix: &str, text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    let body = text
        .get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .and_then(|_| text.get(prefix.len()..))
        .ok_or_else(|| format!("it does not start with {prefix:?}"))?;
    data_encoding::BASE32_NOPAD
        .decode(body.to_uppercase().as_bytes())
        .map_err(|e| format!("bad encoding ({e})"))
}

/// `text` as a QR code drawn with Unicode half blocks (in upper case, which QR codes
/// carry in their compact alphanumeric mode).
pub(crate) fn qr(text: &str) -> String {
    qrcode::QrCode::new(text.to_uppercase().as_bytes())
        .map(|code| {
            code.render::<qrcode::render::unicode::Dense1x2>()
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default()
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_refuses_oversize_before_allocating_and_trailing_bytes() {
        let mut buf = Vec::new();
        put_sized(&mut buf, b"abc");
        let mut r = Reader::new(&buf);
        assert_eq!(r.sized("x", 3).unwrap(), b"abc");
        r.finish().unwrap();

        let mut r = Reader::new(&buf);
        assert!(matches!(r.sized("x", 2), Err(WireError::TooLarge { .. })));

        let huge = u32::MAX.to_le_bytes();
        let mut r = Reader::new(&huge);
        assert!(matches!(
            r.sized("x", usize::MAX),
            Err(WireError::Truncated { .. })
        ));

        let mut r = Reader::new(b"abcd");
        r.take(2).unwrap();
        assert_eq!(r.finish(), Err(WireError::Trailing(2)));
    }

    #[test]
    fn postcard_must_be_canonical_and_complete() {
        let bytes = to_postcard(&(1u32, 2u64));
        assert_eq!(from_postcard::<(u32, u64)>(&bytes, "t").unwrap(), (1, 2));
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(from_postcard::<(u32, u64)>(&extra, "t").is_err());
        // 1 encoded as a two-byte varint is valid postcard but not canonical.
        let padded = [0x81, 0x00, 0x02];
        assert!(from_postcard::<(u32, u64)>(&padded, "t").is_err());
    }
}
