//! hearth-core: the library every Hearth component stands on.
//!
//! A member's journal (recovery plan, check-ins, consent ledger) is an Automerge
//! document kept only as signed, age-encrypted bundles in a redb file; the decrypted
//! document lives in memory. See `ARCHITECTURE.md` for the layer picture. This crate
//! has no UI and no HTTP.

pub mod access;
pub mod blind;
pub mod bundle;
pub mod center;
pub mod crypto;
pub mod device;
pub mod doc;
pub mod envelope;
pub mod identity;
pub mod ids;
pub mod item;
pub mod limits;
pub mod model;
pub mod pairing;
mod par;
pub mod share;
pub mod store;
pub mod sync;
pub mod vault;
pub mod wire;
