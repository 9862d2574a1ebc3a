//! Sharing plan sections with a recovery coach: the coach's signed contact card, and
//! the consent a member signs for each share — how it is signed and checked, how it
//! ends (revoked, or expired), where it stands and how it reads in plain words. It
//! owns what a grant *says*; the `share` document that carries the sections is
//! `doc::share`'s, who may hold it is the access log's, and moving it is `sync`'s.

mod card;
pub mod consent;

pub use card::{CARD_PREFIX, CardError, CoachCard, MAX_CARD_CHARS, MAX_CARD_DEVICES};
pub use consent::{
    ConsentDraft, ConsentEnd, ConsentError, ConsentState, ConsentView, EndKind, HistoryLine,
};
