//! The bundle: the signed, encrypted unit Hearth stores and syncs. A versioned header
//! (doc, epoch, author, per-author sequence and back-link, kind, time, superseded ids)
//! and the age ciphertext of Automerge bytes, signed by the author over the BLAKE3
//! hash of both. Anyone can check structure and signature without the doc key; only
//! readers can decrypt. Whether the author may write is for `acl` to say.

use serde::{Deserialize, Serialize};

use crate::crypto::{self, CryptoError, Domain};
use crate::envelope::DocKey;
use crate::identity::DeviceKeys;
use crate::ids::{BundleId, DeviceId, DocId};
use crate::wire::{self, Reader, WireError};

/// The first bundle format: the ciphertext's length is the plaintext's, plus age's
/// constant overhead. Still read.
pub const FORMAT_V1: u8 = 1;
/// The current format: the plaintext is padded to a size class before it is
/// encrypted ([`padded_len`]), so the hub learns a size class, not a note's length.
pub const FORMAT_V2: u8 = 2;
const MAGIC: &[u8; 4] = b"HBD1";
/// The largest header we accept (it bounds `supersedes`).
pub const MAX_HEADER: usize = 4 << 20;
/// The largest ciphertext we accept in one bundle: about fifty times the snapshot of
/// a journal with 5,500 check-ins (300 KB), and small enough that one maximal frame
/// (which every peer must be able to read, and decode) costs a hub little.
pub const MAX_CIPHERTEXT: usize = 16 << 20;
/// The largest bundle that can decode: magic, sized header, sized ciphertext,
/// signature. Frames are sized from it, so every valid bundle syncs.
pub const MAX_BUNDLE: usize = MAGIC.len() + 4 + MAX_HEADER + 4 + MAX_CIPHERTEXT + 64;

/// Whether a bundle carries new changes or a whole-document snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BundleKind {
    /// `save_after(heads)`: the changes an edit made.
    Changes,
    /// `save()`: the whole document, superseding the bundles it names.
    Snapshot,
}

/// What a bundle says about itself, readable without the doc key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleHeader {
    /// Format version ([`FORMAT_V1`]).
    pub format: u8,
    /// The document.
    pub doc: DocId,
    /// The key epoch the ciphertext is encrypted under.
    pub epoch: u32,
    /// The device that wrote and signed it.
    pub author: DeviceId,
    /// The author's sequence number in this doc, from 1.
    pub seq: u64,
    /// The author's previous bundle in this doc.
    pub prev: Option<BundleId>,
    /// Changes or snapshot.
    pub kind: BundleKind,
    /// Written as 0: the header is readable by the hub, which must learn no creation
    /// times (`THREATS.md` 7). Kept so the format stays one layout.
    pub created_at_ms: u64,
    /// Bundles a snapshot replaces (empty for changes).
    pub supersedes: Vec<BundleId>,
}

/// A bundle failed to decode, verify or decrypt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The bytes are not a well-formed bundle.
    #[error("malformed bundle: {0}")]
    Wire(#[from] WireError),
    /// A format version we do not read.
    #[error("unsupported bundle format {0}")]
    Format(u8),
    /// The signature does not verify (altered, or not by the named author).
    #[error("bundle signature does not verify")]
    BadSignature,
    /// The header is inconsistent (a changes bundle superseding others, seq 0…).
    #[error("invalid bundle header: {0}")]
    Header(&'static str),
    /// Encryption or decryption failed.
    #[error("bundle: {0}")]
    Crypto(#[from] CryptoError),
}

/// A decoded bundle whose signature has been checked.
#[derive(Debug, Clone)]
pub struct Bundle {
    header: BundleHeader,
    id: BundleId,
    bytes: Vec<u8>,
    ciphertext: std::ops::Range<usize>,
}

impl Bundle {
    /// Encrypts `plaintext` under `key`, and signs header and ciphertext as `author`.
    pub fn seal(
        header: BundleHeader,
        plaintext: &[u8],
        key: &DocKey,
        author: &DeviceKeys,
    ) -> Result<Self, BundleError> {
        if header.author != author.id() {
            return Err(BundleError::Header("author is not the signing device"));
        }
        check_header(&header)?;
        let ciphertext = if header.format >= FORMAT_V2 {
            key.encrypt(&pad(plaintext))?
        } else {
            key.encrypt(plaintext)?
        };
        let header_bytes = wire::to_postcard(&header);
        // What no peer would accept is never made: the doc would stop syncing.
        for (what, len, max) in [
            ("bundle header", header_bytes.len(), MAX_HEADER),
            ("bundle ciphertext", ciphertext.len(), MAX_CIPHERTEXT),
        ] {
            if len > max {
                return Err(WireError::TooLarge { what, len, max }.into());
            }
        }
        let mut bytes = Vec::with_capacity(header_bytes.len() + ciphertext.len() + 76);
        bytes.extend_from_slice(MAGIC);
        wire::put_sized(&mut bytes, &header_bytes);
        let ct_start = bytes.len() + 4;
        wire::put_sized(&mut bytes, &ciphertext);
        let ct_end = bytes.len();
        let digest = blake3::hash(&bytes);
        bytes.extend_from_slice(&author.sign(Domain::BUNDLE, digest.as_bytes()));
        Ok(Bundle {
            header,
            id: BundleId::of(&bytes),
            bytes,
            ciphertext: ct_start..ct_end,
        })
    }

    /// Decodes signed bytes and checks the author's signature. Strict: exact lengths,
    /// size limits before allocation, canonical header, no trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, BundleError> {
        Self::decode_owned(bytes.to_vec(), None)
    }

    /// [`Bundle::decode`] of bytes the caller gives up, with their id if the caller
    /// already hashed them (a snapshot is hundreds of kilobytes: no copy, one hash less).
    pub(crate) fn decode_owned(bytes: Vec<u8>, id: Option<BundleId>) -> Result<Self, BundleError> {
        let mut r = Reader::new(&bytes);
        r.magic(MAGIC, "bundle")?;
        let header_bytes = r.sized("bundle header", MAX_HEADER)?;
        let ct_len = r.sized("bundle ciphertext", MAX_CIPHERTEXT)?.len();
        let signed_len = bytes.len() - r.remaining();
        let signature: [u8; 64] = r.array()?;
        r.finish()?;
        let header: BundleHeader = wire::from_postcard(header_bytes, "bundle header")?;
        check_header(&header)?;
        let digest = blake3::hash(&bytes[..signed_len]);
        crypto::verify(
            &header.author,
            Domain::BUNDLE,
            digest.as_bytes(),
            &signature,
        )
        .map_err(|_| BundleError::BadSignature)?;
        Ok(Bundle {
            header,
            id: id.unwrap_or_else(|| BundleId::of(&bytes)),
            ciphertext: signed_len - ct_len..signed_len,
            bytes,
        })
    }

    /// Reads a bundle's header without checking its signature: enough to decide
    /// whether its author may write at all before paying for the check.
    pub fn peek_header(bytes: &[u8]) -> Result<BundleHeader, BundleError> {
        let mut r = Reader::new(bytes);
        r.magic(MAGIC, "bundle")?;
        let header_bytes = r.sized("bundle header", MAX_HEADER)?;
        let header: BundleHeader = wire::from_postcard(header_bytes, "bundle header")?;
        check_header(&header)?;
        Ok(header)
    }

    /// Decrypts the Automerge bytes with the epoch's key.
    pub fn decrypt(&self, key: &DocKey) -> Result<Vec<u8>, BundleError> {
        let plain = key.decrypt(&self.bytes[self.ciphertext.clone()])?;
        if self.header.format >= FORMAT_V2 {
            unpad(plain)
        } else {
            Ok(plain)
        }
    }

    /// The header.
    pub fn header(&self) -> &BundleHeader {
        &self.header
    }

    /// The content id.
    pub fn id(&self) -> BundleId {
        self.id
    }

    /// The signed bytes, as stored and synced.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Gives up the signed bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// The smallest padded plaintext: every short check-in looks the same.
pub const MIN_PADDED: usize = 512;

/// The size class of `len` bytes: Padmé (Nikitin et al., "Reducing metadata leakage
/// from encrypted files and communication with PURBs", 2019): at most 12 % more, and
/// only O(log log n) bits of the length left visible; never under [`MIN_PADDED`].
pub fn padded_len(len: usize) -> usize {
    if len <= MIN_PADDED {
        return MIN_PADDED;
    }
    let e = usize::BITS - 1 - len.leading_zeros(); // floor(log2 len)
    let s = u32::BITS - e.leading_zeros(); // floor(log2 e) + 1
    let mask = (1usize << (e - s)) - 1;
    (len + mask) & !mask
}

/// The length, the plaintext, then zeros up to its size class.
fn pad(plaintext: &[u8]) -> Vec<u8> {
    let total = padded_len(plaintext.len() + 4);
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(plaintext.len() as u32).to_le_bytes());
    out.extend_from_slice(plaintext);
    out.resize(total, 0);
    out
}

/// The plaintext inside a padded one; the padding must be zeros.
fn unpad(mut padded: Vec<u8>) -> Result<Vec<u8>, BundleError> {
    let mut r = Reader::new(&padded);
    let len = u32::from_le_bytes(r.array()?) as usize;
    let rest = r.remaining();
    if len > rest || padded[4 + len..].iter().any(|&b| b != 0) {
        return Err(WireError::Malformed {
            what: "padded plaintext",
            reason: "the padding does not match the length it names".into(),
        }
        .into());
    }
    padded.truncate(4 + len);
    padded.drain(..4);
    Ok(padded)
}

fn check_header(h: &BundleHeader) -> Result<(), BundleError> {
    if h.format != FORMAT_V1 && h.format != FORMAT_V2 {
        return Err(BundleError::Format(h.format));
    }
    if h.seq == 0 {
        return Err(BundleError::Header("sequence numbers start at 1"));
    }
    if (h.seq == 1) != h.prev.is_none() {
        return Err(BundleError::Header(
            "only the first bundle has no back-link",
        ));
    }
    if h.kind == BundleKind::Changes && !h.supersedes.is_empty() {
        return Err(BundleError::Header("only a snapshot supersedes bundles"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Seed;

    fn header(author: &DeviceKeys) -> BundleHeader {
        BundleHeader {
            format: FORMAT_V1,
            doc: DocId([5; 16]),
            epoch: 0,
            author: author.id(),
            seq: 1,
            prev: None,
            kind: BundleKind::Changes,
            created_at_ms: 1_700_000_000_000,
            supersedes: vec![],
        }
    }

    #[test]
    fn every_flipped_bit_is_rejected() {
        let author = DeviceKeys::derive(&Seed::from_bytes([1; 32])).unwrap();
        let key = DocKey::generate().unwrap();
        let bundle = Bundle::seal(header(&author), b"automerge bytes", &key, &author).unwrap();
        let decoded = Bundle::decode(bundle.bytes()).unwrap();
        assert_eq!(decoded.id(), bundle.id());
        assert_eq!(decoded.decrypt(&key).unwrap(), b"automerge bytes");
        for i in 0..bundle.bytes().len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = bundle.bytes().to_vec();
                bad[i] ^= bit;
                assert!(
                    Bundle::decode(&bad).is_err(),
                    "flip {bit:#x} at byte {i} accepted"
                );
            }
        }
    }

    #[test]
    fn the_hub_sees_a_size_class_not_a_notes_length() {
        let author = DeviceKeys::derive(&Seed::from_bytes([1; 32])).unwrap();
        let key = DocKey::generate().unwrap();
        let v2 = BundleHeader {
            format: FORMAT_V2,
            ..header(&author)
        };
        let sealed = |plain: &[u8]| Bundle::seal(v2.clone(), plain, &key, &author).unwrap();
        // Short notes of any length are encrypted at one length ... (age adds a random
        // "grease" stanza to every header, so whole ciphertexts vary anyway.)
        let lens: Vec<usize> = [1usize, 40, 200, 500]
            .iter()
            .map(|&n| pad(&vec![7; n]).len())
            .collect();
        assert_eq!(lens, vec![MIN_PADDED; 4]);
        // ... longer ones fall into classes, and every one reads back exactly.
        assert_eq!(pad(&[7; 5000]).len(), pad(&[7; 5100]).len());
        for n in [0usize, 1, 508, 509, 5000, 70_000] {
            let plain: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let b = Bundle::decode(sealed(&plain).bytes()).unwrap();
            assert_eq!(b.decrypt(&key).unwrap(), plain, "{n} bytes");
        }
        // Format 1 bundles (unpadded) still read.
        let old = Bundle::seal(header(&author), b"old", &key, &author).unwrap();
        assert_eq!(old.decrypt(&key).unwrap(), b"old");
    }

    #[test]
    fn padding_costs_at_most_an_eighth_and_never_shrinks() {
        let mut last = 0;
        for len in (0..2_000_000).step_by(997) {
            let p = padded_len(len);
            assert!(p >= len && p >= last, "{len} -> {p}");
            assert!(
                len < MIN_PADDED || p as f64 <= len as f64 * 1.125,
                "{len} -> {p}"
            );
            last = p;
        }
    }

    #[test]
    fn a_padded_plaintext_whose_length_lies_is_refused() {
        let mut long = pad(b"hello");
        long[0..4].copy_from_slice(&10_000u32.to_le_bytes());
        assert!(unpad(long).is_err());
        let mut dirty = pad(b"hello");
        let last = dirty.len() - 1;
        dirty[last] = 1;
        assert!(unpad(dirty).is_err());
        assert_eq!(unpad(pad(b"hello")).unwrap(), b"hello");
    }

    #[test]
    fn truncation_and_garbage_are_errors() {
        let author = DeviceKeys::derive(&Seed::from_bytes([1; 32])).unwrap();
        let key = DocKey::generate().unwrap();
        let bytes = Bundle::seal(header(&author), b"x", &key, &author)
            .unwrap()
            .into_bytes();
        for len in 0..bytes.len() {
            assert!(Bundle::decode(&bytes[..len]).is_err());
        }
        assert!(Bundle::decode(b"not a bundle at all").is_err());
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(
            Bundle::decode(&long),
            Err(BundleError::Wire(WireError::Trailing(1)))
        ));
    }

    #[test]
    fn header_rules() {
        let author = DeviceKeys::derive(&Seed::from_bytes([1; 32])).unwrap();
        let key = DocKey::generate().unwrap();
        let mut h = header(&author);
        h.supersedes.push(BundleId([1; 32]));
        assert!(Bundle::seal(h, b"", &key, &author).is_err());
        let mut h = header(&author);
        h.author = DeviceKeys::derive(&Seed::from_bytes([2; 32])).unwrap().id();
        assert!(Bundle::seal(h, b"", &key, &author).is_err());
    }
}
