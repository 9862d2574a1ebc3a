//! The hub's side of `hearth/center/1`: a connection from an admitted device carries
//! requests, one per stream, each read within a deadline and bounded before its body
//! is allocated, answered from the center's store. A device may ask at most
//! [`MAX_REQUESTS`] things per connection, propose at most [`PROPOSALS_PER_HOUR`]
//! times an hour, and count one interest token per proposal (both counted in memory:
//! who proposed or showed interest is never written down).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hearth_core::center::wire::{MAX_REQUEST, Refusal};
use hearth_core::center::{Answer, ProposalId, Request};
use hearth_core::ids::DeviceId;
use hearth_core::sync::message::{read_frame, write_frame};
use iroh::endpoint::Connection;

use super::{Asker, Center, CenterError};

/// Requests one connection may carry.
pub const MAX_REQUESTS: usize = 256;
/// How long the hub waits for the next request, and for its answer to be read.
pub const REQUEST_WITHIN: Duration = Duration::from_secs(10);
/// Proposals one device may make in an hour.
pub const PROPOSALS_PER_HOUR: usize = 5;

/// How many (device, proposal) pairs the interest limiter remembers before it
/// forgets the oldest half.
const INTEREST_MEMORY: usize = 100_000;

/// The token a device counted for a proposal, and when.
type Counted = ([u8; 32], Instant);

/// What a device may still do, in memory only (never written: who proposed or showed
/// interest is not kept): when it proposed in the last hour, and which interest token
/// it sent for which proposal (a device counts once per proposal; another token from
/// the same device would be a stranger inflating the count).
#[derive(Debug, Default)]
pub struct ProposalLimiter {
    proposed: Mutex<HashMap<DeviceId, Vec<Instant>>>,
    interest: Mutex<HashMap<(DeviceId, ProposalId), Counted>>,
}

impl ProposalLimiter {
    /// Whether `device` may count `token` for `proposal`.
    fn admit_interest(&self, device: DeviceId, proposal: ProposalId, token: [u8; 32]) -> bool {
        let Ok(mut map) = self.interest.lock() else {
            return false;
        };
        if let Some((known, _)) = map.get(&(device, proposal)) {
            return *known == token;
        }
        if map.len() >= INTEREST_MEMORY {
            let mut times: Vec<Instant> = map.values().map(|(_, t)| *t).collect();
            times.sort();
            let cut = times[times.len() / 2];
            map.retain(|_, (_, t)| *t > cut);
        }
        map.insert((device, proposal), (token, Instant::now()));
        true
    }

    fn admit(&self, device: DeviceId) -> bool {
        let Ok(mut map) = self.proposed.lock() else {
            return false;
        };
        let now = Instant::now();
        map.retain(|_, times| {
            times.retain(|t| now.duration_since(*t) < Duration::from_secs(3600));
            !times.is_empty()
        });
        let times = map.entry(device).or_default();
        if times.len() >= PROPOSALS_PER_HOUR {
            return false;
        }
        times.push(now);
        true
    }
}

fn refused(e: CenterError) -> Answer {
    Answer::Refused(match e {
        CenterError::Invalid(v) => Refusal::Invalid(v.to_string()),
        CenterError::Missing(what) => Refusal::Unknown(what.trim_start_matches("such ").to_owned()),
        CenterError::Full(why) => Refusal::TooMany(why),
        CenterError::Store(why) => Refusal::Unavailable(why),
    })
}

/// Answers one request.
pub fn answer(
    center: &Center,
    limiter: &ProposalLimiter,
    peer: DeviceId,
    req: Request,
    now_ms: u64,
) -> Answer {
    let statuses = |r: Result<_, Refusal>| r.map_or_else(Answer::Refused, Answer::Statuses);
    match req {
        Request::Flyer { have } => {
            if have >= center.version() && have != 0 {
                Answer::Flyer(None)
            } else {
                Answer::Flyer(Some(center.flyer(now_ms)))
            }
        }
        Request::SignUp {
            tag,
            id,
            session,
            nickname,
            note,
        } => statuses(center.sign_up(
            Asker {
                device: peer,
                tag: &tag,
            },
            id,
            session,
            &nickname,
            &note,
            now_ms,
        )),
        Request::Withdraw { tag, id } => statuses(center.withdraw(
            Asker {
                device: peer,
                tag: &tag,
            },
            id,
        )),
        Request::Statuses { tag } => statuses(center.statuses(Asker {
            device: peer,
            tag: &tag,
        })),
        Request::Propose(draft) => {
            if !limiter.admit(peer) {
                return Answer::Refused(Refusal::TooMany(format!(
                    "at most {PROPOSALS_PER_HOUR} proposals an hour from one device"
                )));
            }
            center
                .propose(&draft, now_ms)
                .map_or_else(refused, Answer::Proposed)
        }
        Request::Interested { token, proposal } => {
            if !limiter.admit_interest(peer, proposal, token) {
                return Answer::Refused(Refusal::TooMany(
                    "this device has already shown interest for another member".into(),
                ));
            }
            center
                .interested(proposal, token)
                .map_or_else(refused, Answer::Interest)
        }
    }
}

/// Serves one connection until the device closes it, goes quiet, has asked
/// [`MAX_REQUESTS`] things, or is no longer `admitted` (asked before every answer: a
/// device removed while its connection is open gets no further answer).
pub async fn serve(
    conn: Connection,
    center: Arc<Center>,
    limiter: Arc<ProposalLimiter>,
    now_ms: impl Fn() -> u64,
    admitted: impl Fn(&DeviceId) -> bool,
) {
    let peer = DeviceId::from(conn.remote_id());
    for _ in 0..MAX_REQUESTS {
        let next = tokio::time::timeout(REQUEST_WITHIN, conn.accept_bi()).await;
        let Ok(Ok((mut send, mut recv))) = next else {
            break;
        };
        let req = tokio::time::timeout(
            REQUEST_WITHIN,
            read_frame::<_, Request>(&mut recv, MAX_REQUEST, "center request"),
        )
        .await;
        if !admitted(&peer) {
            conn.close(1u32.into(), b"no longer admitted");
            return;
        }
        let answer_to = match req {
            Ok(Ok(Some(req))) => {
                let (center, limiter, now) = (center.clone(), limiter.clone(), now_ms());
                // The store's write is an fsync: off the async workers.
                match tokio::task::spawn_blocking(move || answer(&center, &limiter, peer, req, now))
                    .await
                {
                    Ok(a) => a,
                    Err(_) => Answer::Refused(Refusal::Unavailable("internal error".into())),
                }
            }
            Ok(Ok(None)) => break,
            Ok(Err(e)) => Answer::Refused(Refusal::Invalid(e.to_string())),
            Err(_) => break,
        };
        let sent = tokio::time::timeout(REQUEST_WITHIN, write_frame(&mut send, &answer_to)).await;
        if !matches!(sent, Ok(Ok(()))) || send.finish().is_err() {
            break;
        }
    }
    conn.close(0u32.into(), b"done");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_counts_one_token_per_proposal_and_proposes_five_times_an_hour() {
        let l = ProposalLimiter::default();
        let (d, p) = (DeviceId([1; 32]), ProposalId(3));
        assert!(l.admit_interest(d, p, [7; 32]));
        // The same token again (the member tapping twice) is fine; another is not.
        assert!(l.admit_interest(d, p, [7; 32]));
        assert!(!l.admit_interest(d, p, [8; 32]));
        assert!(l.admit_interest(d, ProposalId(4), [8; 32]));
        assert!(l.admit_interest(DeviceId([2; 32]), p, [8; 32]));
        for _ in 0..PROPOSALS_PER_HOUR {
            assert!(l.admit(d));
        }
        assert!(!l.admit(d));
    }
}
