//! A member device talking to its centers over `hearth/center/1`: fetch each center's
//! flyer, send the sign-ups and withdrawals made since the last time (offline ones
//! included), bring back every sign-up's status, propose an activity, show interest.
//! The rules are the hub's; what is kept is the vault's (`vault/center`).

use std::sync::Arc;
use std::time::Duration;

use iroh::endpoint::Connection;

use super::{DIAL_TIMEOUT, NetError, close, dial_within, endpoint, within};
use crate::center::wire::{MAX_ANSWER, Refusal};
use crate::center::{
    Answer, CENTER_ALPN, ProposalDraft, ProposalId, Request, SignUpId, SignUpStatus,
};
use crate::ids::DeviceId;
use crate::pairing::PeerAddr;
use crate::sync::SyncError;
use crate::sync::message::exchange;
use crate::sync::net::NetConfig;
use crate::vault::Vault;

/// How long one exchange with a center may take, all requests included.
pub const CENTER_DEADLINE: Duration = Duration::from_secs(30);
/// How long one answer may take.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// What a center sync did at one center.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CenterReport {
    /// The center's hub.
    pub hub: Option<DeviceId>,
    /// A newer flyer arrived.
    pub flyer_updated: bool,
    /// Sign-ups and withdrawals sent.
    pub sent: usize,
    /// Sign-ups the center turned down, and why.
    pub refused: Vec<(SignUpId, Refusal)>,
}

/// Sends one request on a fresh stream and reads its answer.
async fn ask(conn: &Connection, req: &Request) -> Result<Answer, NetError> {
    let exchange = async {
        exchange::<_, Answer>(conn, req, MAX_ANSWER, "center answer")
            .await?
            .ok_or_else(|| SyncError::Network("the center closed without answering".into()))
    };
    Ok(tokio::time::timeout(ANSWER_WITHIN, exchange)
        .await
        .map_err(|_| NetError::TimedOut("the center's answer", ANSWER_WITHIN.as_secs()))??)
}

fn unexpected(answer: Answer) -> NetError {
    match answer {
        Answer::Refused(r) => NetError::Refused(r.to_string()),
        other => NetError::Refused(format!("unexpected answer from the center: {other:?}")),
    }
}

/// The centers this device is enrolled at.
fn hubs(vault: &Vault) -> Result<Vec<PeerAddr>, NetError> {
    let hubs: Vec<PeerAddr> = vault.peers()?.into_iter().filter(|p| p.hub).collect();
    if hubs.is_empty() {
        return Err(NetError::Unreachable(
            "this device is not enrolled at a center (run `hearth enroll TICKET`)".into(),
        ));
    }
    Ok(hubs)
}

/// Runs `f` over a connection to `hub`, within the center deadline.
async fn with_hub<T, F, Fut>(
    vault: &Arc<Vault>,
    net: &NetConfig,
    hub: PeerAddr,
    f: F,
) -> Result<T, NetError>
where
    F: FnOnce(Connection, DeviceId) -> Fut,
    Fut: std::future::Future<Output = Result<T, NetError>>,
{
    within("talking to the center", CENTER_DEADLINE, async {
        let ep = endpoint(vault, net, Vec::new()).await?;
        let id = DeviceId::from(hub.addr.id);
        let result = async {
            let conn = dial_within(&ep, hub.addr, CENTER_ALPN, DIAL_TIMEOUT).await?;
            let out = f(conn.clone(), id).await;
            conn.close(0u32.into(), b"done");
            out
        }
        .await;
        close(ep).await;
        result
    })
    .await
}

/// Brings every center this device is enrolled at up to date: its flyer, then the
/// member's sign-ups and withdrawals not yet sent (made here or on another device),
/// then every sign-up's status there.
pub async fn sync_centers(
    vault: &Arc<Vault>,
    net: &NetConfig,
) -> Result<Vec<CenterReport>, NetError> {
    let mut reports = Vec::new();
    for hub in hubs(vault)? {
        let v = vault.clone();
        reports.push(with_hub(vault, net, hub, move |conn, id| sync_center(v, conn, id)).await?);
    }
    Ok(reports)
}

async fn sync_center(
    vault: Arc<Vault>,
    conn: Connection,
    hub: DeviceId,
) -> Result<CenterReport, NetError> {
    let mut report = CenterReport {
        hub: Some(hub),
        ..CenterReport::default()
    };
    let have = vault.flyer(&hub)?.map_or(0, |f| f.version);
    match ask(&conn, &Request::Flyer { have }).await? {
        Answer::Flyer(Some(signed)) => report.flyer_updated = vault.keep_flyer(&hub, &signed)?,
        Answer::Flyer(None) => {}
        other => return Err(unexpected(other)),
    }
    let tag = vault.center_secret()?.tag(&hub);
    let mut decided: Vec<(SignUpId, SignUpStatus)> = Vec::new();
    for s in vault.signups()?.into_iter().filter(|s| s.hub == hub) {
        let req = if s.withdraw && s.status != SignUpStatus::Withdrawn {
            Request::Withdraw { tag, id: s.id }
        } else if s.status == SignUpStatus::Pending && !s.withdraw {
            Request::SignUp {
                tag,
                id: s.id,
                session: s.session,
                nickname: s.nickname.clone(),
                note: s.note.clone(),
            }
        } else {
            continue;
        };
        report.sent += 1;
        match ask(&conn, &req).await? {
            Answer::Statuses(statuses) => decided.extend(statuses),
            Answer::Refused(r) => {
                decided.push((s.id, SignUpStatus::Cancelled));
                report.refused.push((s.id, r));
            }
            other => return Err(unexpected(other)),
        }
    }
    match ask(&conn, &Request::Statuses { tag }).await? {
        Answer::Statuses(statuses) => {
            let known: std::collections::BTreeSet<SignUpId> =
                statuses.iter().map(|(id, _)| *id).collect();
            decided.extend(statuses);
            // Sign-ups the hub no longer knows (their session ended and retention
            // deleted them) and never refused: gone there.
            for s in vault.signups()?.into_iter().filter(|s| s.hub == hub) {
                if !known.contains(&s.id)
                    && !decided.iter().any(|(id, _)| *id == s.id)
                    && !matches!(s.status, SignUpStatus::Pending | SignUpStatus::Gone)
                {
                    decided.push((s.id, SignUpStatus::Gone));
                }
            }
        }
        other => return Err(unexpected(other)),
    }
    vault.set_signup_statuses(&decided)?;
    Ok(report)
}

/// The one center this device is enrolled at (proposals and interest go to one).
fn only_hub(vault: &Vault) -> Result<PeerAddr, NetError> {
    let mut hubs = hubs(vault)?;
    if hubs.len() > 1 {
        return Err(NetError::Refused(format!(
            "this device is enrolled at {} centers; proposals go to one (not yet chosen here)",
            hubs.len()
        )));
    }
    Ok(hubs.remove(0))
}

/// Proposes an activity to the center (the proposer is not recorded there).
pub async fn propose(
    vault: &Arc<Vault>,
    net: &NetConfig,
    draft: ProposalDraft,
) -> Result<ProposalId, NetError> {
    draft.validate().map_err(crate::vault::VaultError::from)?;
    let hub = only_hub(vault)?;
    let v = vault.clone();
    with_hub(vault, net, hub, move |conn, id| async move {
        let answer = ask(&conn, &Request::Propose(draft)).await?;
        let proposed = match answer {
            Answer::Proposed(p) => p,
            other => return Err(unexpected(other)),
        };
        refresh_flyer(&v, &conn, id).await?;
        Ok(proposed)
    })
    .await
}

/// Shows the member's interest in a proposal, once whichever device they use; returns
/// how many members are interested now.
pub async fn interested(
    vault: &Arc<Vault>,
    net: &NetConfig,
    proposal: ProposalId,
) -> Result<u32, NetError> {
    let hub = only_hub(vault)?;
    let token = vault
        .center_secret()?
        .interest_token(&DeviceId::from(hub.addr.id), proposal);
    let v = vault.clone();
    with_hub(vault, net, hub, move |conn, id| async move {
        let count = match ask(&conn, &Request::Interested { token, proposal }).await? {
            Answer::Interest(n) => n,
            other => return Err(unexpected(other)),
        };
        refresh_flyer(&v, &conn, id).await?;
        Ok(count)
    })
    .await
}

async fn refresh_flyer(vault: &Vault, conn: &Connection, hub: DeviceId) -> Result<(), NetError> {
    let have = vault.flyer(&hub)?.map_or(0, |f| f.version);
    if let Answer::Flyer(Some(signed)) = ask(conn, &Request::Flyer { have }).await? {
        vault.keep_flyer(&hub, &signed)?;
    }
    Ok(())
}
