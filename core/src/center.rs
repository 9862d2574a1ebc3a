//! A center's side of Hearth, as the member's devices and the hub share it: what a
//! center publishes (its flyer: programs and sessions with counts of places, the
//! resource directory, members' proposals with counts of interest; signed by the hub),
//! what a member asks of it (sign-ups under a nickname, withdrawals, proposals,
//! interest), and how a member is known there without a name (a per-center pseudonym
//! and per-proposal interest tokens, from a secret in the member's journal).
//!
//! It owns the types, their bounds and `hearth/center/1`'s messages. It owns no
//! storage (the hub keeps its roster in its own store, the member's devices their
//! sign-ups in the journal) and no connection handling (`device` dials, the hub
//! answers). Why a request protocol and not a shared document: see ARCHITECTURE.md.

pub mod model;
pub mod secret;
pub mod wire;

pub use model::{
    Flyer, NewSignUp, Program, ProgramDraft, ProgramId, ProgramKind, Proposal, ProposalDraft,
    ProposalId, Resource, ResourceDraft, ResourceId, ResourceKind, Session, SessionId, SignUp,
    SignUpId, SignUpStatus,
};
pub use secret::{MemberSecret, MemberTag, Pseudonym};
pub use wire::{Answer, CENTER_ALPN, FlyerError, Refusal, Request, SignedFlyer};

/// "15:00": the clock time of `at_ms`, `utc_offset_minutes` east of UTC.
pub fn clock_time(at_ms: u64, utc_offset_minutes: i32) -> String {
    let minutes = (at_ms / 60_000) as i64 + i64::from(utc_offset_minutes);
    let of_day = minutes.rem_euclid(24 * 60);
    format!("{:02}:{:02}", of_day / 60, of_day % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_time_wraps_around_midnight_both_ways() {
        assert_eq!(clock_time(0, 0), "00:00");
        assert_eq!(clock_time(23 * 3_600_000 + 59 * 60_000, 0), "23:59");
        assert_eq!(clock_time(30 * 60_000, -60), "23:30");
        assert_eq!(clock_time(23 * 3_600_000, 120), "01:00");
    }
}
