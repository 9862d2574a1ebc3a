//! `BundleId` and `AclId`: content addresses (BLAKE3 of the signed bytes).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{IdError, parse_hex, to_hex};

macro_rules! content_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The id of these signed bytes.
            pub fn of(signed_bytes: &[u8]) -> Self {
                Self(*blake3::hash(signed_bytes).as_bytes())
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&to_hex(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), &to_hex(&self.0)[..12])
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                parse_hex(s).map(Self)
            }
        }
    };
}

content_id!(
    /// A bundle's id: BLAKE3 of its signed bytes, so equal ids mean equal bundles.
    BundleId
);
content_id!(
    /// An ACL record's id: BLAKE3 of its signed bytes.
    AclId
);
