//! The center's commands: programs and the resource directory (read from the flyer
//! the hub signed, so they work offline), sign-ups under a nickname, withdrawals,
//! proposals and interest. Each first tries to bring the center up to date; when the
//! hub cannot be reached it says so and works from what this device last received
//! (a sign-up made then waits in the journal and is decided when it reaches the hub).

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::Result;
use hearth_core::center::{
    Flyer, NewSignUp, ProposalDraft, ProposalId, SessionId, SignUp, SignUpStatus,
};
use hearth_core::device::{self, CenterReport};
use hearth_core::ids::DeviceId;
use hearth_core::sync::net::NetConfig;
use hearth_core::vault::Vault;
use hearth_core::wire::now_ms;
use time::{OffsetDateTime, UtcOffset};

use crate::CenterCommand;
use crate::render::local_offset;

/// Runs one center command.
pub(crate) fn run(vault: Arc<Vault>, net: &NetConfig, command: CenterCommand) -> Result<()> {
    let rt = crate::commands::runtime()?;
    let offset = local_offset();
    match command {
        CenterCommand::Programs { json } => {
            let note = refresh(&rt, &vault, net);
            let flyers = vault.flyers()?;
            show(
                json,
                serde_json::to_value(&flyers)?,
                programs_text(&flyers, offset, now_ms()),
                note,
            )
        }
        CenterCommand::Resources { json } => {
            let note = refresh(&rt, &vault, net);
            let flyers = vault.flyers()?;
            let all: Vec<_> = flyers.iter().flat_map(|f| f.resources.clone()).collect();
            show(
                json,
                serde_json::to_value(&all)?,
                resources_text(&flyers),
                note,
            )
        }
        CenterCommand::Proposals { json } => {
            let note = refresh(&rt, &vault, net);
            let flyers = vault.flyers()?;
            let all: Vec<_> = flyers.iter().flat_map(|f| f.proposals.clone()).collect();
            show(
                json,
                serde_json::to_value(&all)?,
                proposals_text(&flyers),
                note,
            )
        }
        CenterCommand::Signup {
            session,
            nickname,
            note,
            remind,
        } => {
            let session: SessionId = session.parse()?;
            let offline = refresh(&rt, &vault, net);
            let hub = vault.center_listing(session)?;
            let nickname = match nickname {
                Some(n) => n,
                None => last_nickname(&vault, &hub)?.ok_or_else(|| {
                    anyhow::anyhow!(
                        "choose the name this center will know you by: --nickname NAME (any name you like)"
                    )
                })?,
            };
            let s = vault.sign_up(
                hub,
                session,
                &NewSignUp {
                    nickname,
                    note: note.unwrap_or_default(),
                    remind_minutes: remind,
                },
                now_ms(),
            )?;
            let sent = offline.is_none() && refresh(&rt, &vault, net).is_none();
            let now = vault
                .signups()?
                .into_iter()
                .find(|x| x.id == s.id)
                .unwrap_or(s);
            if sent {
                println!(
                    "Signed up for {} at {} as {}: {} (sign-up {}).",
                    now.title,
                    when(now.starts_ms, offset),
                    now.nickname,
                    now.status.describe(),
                    now.id
                );
            } else {
                println!(
                    "Saved your sign-up for {} at {} as {} (sign-up {}). The center could not be reached: it will be sent at your next `hearth sync`, and decided then.",
                    now.title,
                    when(now.starts_ms, offset),
                    now.nickname,
                    now.id
                );
            }
            Ok(())
        }
        CenterCommand::Signups { json } => {
            let note = refresh(&rt, &vault, net);
            let signups = vault.signups()?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&signups_json(&signups, offset))?
                );
            } else {
                print!("{}", signups_text(&signups, offset, now_ms()));
                print_note(note);
            }
            Ok(())
        }
        CenterCommand::Withdraw { id } => {
            let s = vault.withdraw(&id)?;
            match refresh(&rt, &vault, net) {
                None => println!(
                    "Withdrawn from {} at {}.",
                    s.title,
                    when(s.starts_ms, offset)
                ),
                Some(_) => println!(
                    "Your withdrawal from {} is saved; it reaches the center at your next `hearth sync`.",
                    s.title
                ),
            }
            Ok(())
        }
        CenterCommand::Propose { title, when, note } => {
            let id = rt.block_on(device::propose(
                &vault,
                net,
                ProposalDraft {
                    title,
                    when: when.unwrap_or_default(),
                    note: note.unwrap_or_default(),
                },
            ))?;
            println!(
                "Proposed (number {id}). Others can show interest with `hearth interested {id}`; the center sees how many, never who."
            );
            Ok(())
        }
        CenterCommand::Interested { proposal } => {
            let proposal: ProposalId = proposal.parse()?;
            let n = rt.block_on(device::interested(&vault, net, proposal))?;
            println!(
                "Counted. {n} member{} interested.",
                if n == 1 { " is" } else { "s are" }
            );
            Ok(())
        }
    }
}

/// Brings every center up to date; `Some(words)` when that failed (the caller works
/// from what it has).
pub(crate) fn refresh(
    rt: &tokio::runtime::Runtime,
    vault: &Arc<Vault>,
    net: &NetConfig,
) -> Option<String> {
    match rt.block_on(device::sync_centers(vault, net)) {
        Ok(reports) => {
            for r in &reports {
                print_refusals(vault, r);
            }
            None
        }
        Err(e) => Some(crate::render::one_line(&e.into())),
    }
}

fn print_refusals(vault: &Vault, report: &CenterReport) {
    let signups = vault.signups().unwrap_or_default();
    for (id, why) in &report.refused {
        let title = signups
            .iter()
            .find(|s| s.id == *id)
            .map_or("a session", |s| s.title.as_str());
        println!("The center turned down your sign-up for {title}: {why}.");
    }
}

/// Prints `value` as JSON, or `text` and the offline note.
fn show(json: bool, value: serde_json::Value, text: String, note: Option<String>) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{text}");
        print_note(note);
    }
    Ok(())
}

fn print_note(note: Option<String>) {
    if let Some(why) = note {
        println!("(Offline: showing what this device last received from the center. {why})");
    }
}

fn last_nickname(vault: &Vault, hub: &DeviceId) -> Result<Option<String>> {
    Ok(vault
        .signups()?
        .into_iter()
        .filter(|s| &s.hub == hub)
        .max_by_key(|s| s.id)
        .map(|s| s.nickname))
}

fn when(at_ms: u64, offset: UtcOffset) -> String {
    let fmt = time::macros::format_description!(
        "[weekday repr:short] [day] [month repr:short] [hour]:[minute]"
    );
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.to_offset(offset).format(&fmt).ok())
        .unwrap_or_else(|| "?".into())
}

fn programs_text(flyers: &[Flyer], offset: UtcOffset, now: u64) -> String {
    let mut out = String::new();
    if flyers.iter().all(|f| f.programs.is_empty()) {
        out.push_str("Your center has not published any programs yet.\n");
        return out;
    }
    for f in flyers {
        for p in &f.programs {
            let d = &p.draft;
            let _ = writeln!(out, "{} ({})", d.title, d.kind.label());
            if !d.description.is_empty() {
                let _ = writeln!(out, "  {}", d.description.replace('\n', "\n  "));
            }
            let facts = d.facts();
            if !facts.is_empty() {
                let _ = writeln!(out, "  {facts}");
            }
            let sessions: Vec<_> = f
                .sessions
                .iter()
                .filter(|s| s.program == p.id && s.ends_ms > now)
                .collect();
            if sessions.is_empty() {
                out.push_str("  no sessions coming up\n");
            }
            for s in sessions {
                let places = s.places_words();
                let _ = writeln!(
                    out,
                    "  session {:<4} {}  {places}",
                    s.id,
                    when(s.starts_ms, offset)
                );
            }
            out.push('\n');
        }
    }
    out.push_str("Sign up with: hearth signup SESSION --nickname NAME\n");
    out
}

fn resources_text(flyers: &[Flyer]) -> String {
    let mut out = String::new();
    let all: Vec<_> = flyers.iter().flat_map(|f| &f.resources).collect();
    if all.is_empty() {
        out.push_str("Your center has not listed any partners yet.\n");
    }
    for r in all {
        let d = &r.draft;
        let _ = writeln!(out, "{} ({})", d.name, d.kind.label());
        for line in [&d.description, &d.hours, &d.contact] {
            if !line.is_empty() {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    out
}

fn proposals_text(flyers: &[Flyer]) -> String {
    let mut out = String::new();
    let all: Vec<_> = flyers.iter().flat_map(|f| &f.proposals).collect();
    if all.is_empty() {
        out.push_str("No proposals yet. Suggest something: hearth propose TITLE --when TEXT\n");
    }
    for p in all {
        let d = &p.draft;
        let _ = write!(
            out,
            "{:<4} {}  ({} interested)",
            p.id, d.title, p.interested
        );
        if p.program.is_some() {
            out.push_str("  now a program");
        }
        out.push('\n');
        if !d.when.is_empty() {
            let _ = writeln!(out, "     when: {}", d.when);
        }
        if !d.note.is_empty() {
            let _ = writeln!(out, "     {}", d.note.replace('\n', "\n     "));
        }
    }
    out
}

fn signups_text(signups: &[SignUp], offset: UtcOffset, now: u64) -> String {
    let mut out = String::new();
    let coming: Vec<_> = signups.iter().filter(|s| s.ends_ms > now).collect();
    if coming.is_empty() {
        out.push_str("Nothing coming up. See what is on: hearth programs\n");
    }
    for s in coming {
        let status = if s.withdraw && s.status != SignUpStatus::Withdrawn {
            "withdrawing (not yet sent)".to_owned()
        } else {
            s.status.describe()
        };
        let _ = writeln!(
            out,
            "{}  {}  as {}: {status}",
            when(s.starts_ms, offset),
            s.title,
            s.nickname
        );
        let mut more = format!("  sign-up {}", s.id);
        if let Some(at) = s.remind_at_ms() {
            let _ = write!(more, "  reminder {}", when(at, offset));
        }
        out.push_str(&more);
        out.push('\n');
    }
    out
}

fn signups_json(signups: &[SignUp], offset: UtcOffset) -> serde_json::Value {
    serde_json::Value::Array(
        signups
            .iter()
            .map(|s| {
                let mut v = serde_json::to_value(s).unwrap_or_default();
                if let Some(m) = v.as_object_mut() {
                    m.insert("status_words".into(), s.status.describe().into());
                    m.insert("starts".into(), when(s.starts_ms, offset).into());
                    m.insert(
                        "remind_at_ms".into(),
                        s.remind_at_ms().map_or(serde_json::Value::Null, Into::into),
                    );
                }
                v
            })
            .collect(),
    )
}
