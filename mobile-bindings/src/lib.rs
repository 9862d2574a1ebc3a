//! hearth-mobile: the uniffi facade the Android and iOS apps (and the Python tests)
//! use. One [`Hearth`] object per device; plain records and enums cross the boundary;
//! the app hands in a [`KeyStore`] backed by the platform keystore and a
//! [`HearthListener`] for changes and sync status. Every method is a line of
//! delegation to `hearth-core` plus error conversion: decisions stay in Rust.

uniffi::setup_scaffolding!();

mod error;
mod hearth;
mod records;
mod runtime;
mod sharing;

pub use error::HearthError;
pub use hearth::{
    Hearth, HearthListener, KeyStore, Subscription, create_hearth, hearth_exists, join_hearth,
    min_passphrase_chars, open_hearth, pairing_code, reminder_choices, restore_hearth,
};
pub use records::*;
pub use sharing::{
    CoachCardView, CoachComment, ConsentHistoryLine, ConsentRecord, ConsentStatus, SharedComment,
    SharedPlanRecord, check_coach_card,
};
