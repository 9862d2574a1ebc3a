//! Sharing plan sections with a recovery coach, both sides. A coach prints their card
//! (`hearth coach card`); a member shares sections with it (`hearth share plan`),
//! reads and ends their consents (`hearth consents`, `hearth revoke`); the coach takes
//! a share up by the code the member shows (`hearth shared add`), reads it (`hearth
//! shared`, `hearth shared show`) and comments (`hearth comment`). Words and states
//! come from the core; this module only lays them out.

use anyhow::{Result, bail};
use clap::Subcommand;
use hearth_core::ids::DocId;
use hearth_core::model::{ConsentExpiry, PlanSection};
use hearth_core::share::consent::{day_words, end_of_day, sections_words};
use hearth_core::share::{CoachCard, ConsentView};
use hearth_core::vault::{ShareCode, SharedWithMe, Vault};

/// A recovery coach's contact card.
#[derive(Debug, Subcommand)]
pub(crate) enum CoachCommand {
    /// Print your contact card (text on the first line, then a QR code) for a member
    /// who wants to share parts of their plan with you.
    Card {
        /// The name members will see (default: the name this vault was given).
        #[arg(long)]
        name: Option<String>,
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Check a coach's card and show whom it names.
    Check {
        /// The card's text.
        card: String,
    },
}

/// What a member shares.
#[derive(Debug, Subcommand)]
pub(crate) enum ShareCommand {
    /// Share chosen sections of your plan with a coach, under a consent you sign.
    Plan {
        /// The coach's card (from `hearth coach card` on their device).
        #[arg(long = "with", value_name = "CARD")]
        card: String,
        /// The sections, comma-separated (toolbox, daily, triggers, warning-signs,
        /// breakdown, crisis, post-crisis, goals, strengths). Never everything by default.
        #[arg(long, value_delimiter = ',', required = true)]
        sections: Vec<String>,
        /// What the coach may use them for.
        #[arg(long)]
        purpose: String,
        /// The last day it holds (YYYY-MM-DD, UTC); without it, it holds until you end it
        /// or the event in --until happens.
        #[arg(long, value_name = "DATE")]
        expires: Option<String>,
        /// An event it ends with instead of a date ("the program ends").
        #[arg(long, value_name = "EVENT", conflicts_with = "expires")]
        until: Option<String>,
        /// Share without asking to confirm the coach's name and key (for scripts).
        #[arg(long)]
        yes: bool,
    },
}

/// What a coach was shared.
#[derive(Debug, Subcommand)]
pub(crate) enum SharedCommand {
    /// Take up a share by the code the member showed you.
    Add {
        /// The code `hearth share plan` printed.
        code: String,
    },
    /// Show one share: the sections, the consent, comments.
    Show {
        /// The share's id (or its start).
        id: String,
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
}

fn consent_text(v: &ConsentView) -> String {
    let mut out = format!(
        "{}  {}  with {} — {}\n  {}\n",
        v.consent.id,
        v.state.label(),
        v.consent.recipient_name,
        sections_words(&v.consent.sections),
        v.words
    );
    for line in &v.history {
        out.push_str(&format!("  · {}\n", line.words));
    }
    out
}

fn shared_text(s: &SharedWithMe, full: bool) -> String {
    let mut out = format!("{}  {}\n", s.share, s.status);
    if let Some(c) = &s.consent {
        out.push_str(&format!(
            "  {} lets you see: {}. Purpose: {}.\n",
            c.member_name,
            sections_words(&c.sections),
            c.purpose
        ));
    }
    if !full {
        return out;
    }
    if let Some(c) = &s.consent {
        out.push_str(&format!(
            "  Consent: {}\n",
            hearth_core::share::consent::words(c)
        ));
    }
    if let Some(plan) = &s.plan {
        for (section, content) in &plan.sections {
            out.push_str(&format!("\n{}\n", section.title()));
            if !content.text.is_empty() {
                out.push_str(&format!("  {}\n", content.text));
            }
            for item in &content.items {
                out.push_str(&format!("  - {item}\n"));
            }
        }
        if !plan.supporters.is_empty() {
            out.push_str("\nSupporters\n");
            for sup in &plan.supporters {
                out.push_str(&format!(
                    "  - {} ({}) {}\n",
                    sup.name, sup.role, sup.contact
                ));
            }
        }
        if !plan.comments.is_empty() {
            out.push_str("\nComments\n");
            for c in &plan.comments {
                out.push_str(&format!("  {}: {}\n", day_words(c.at_ms), c.text));
            }
        }
    }
    out
}

/// The share `id_or_prefix` names among those shared with this device.
fn find_shared(vault: &Vault, id_or_prefix: &str) -> Result<SharedWithMe> {
    let wanted = id_or_prefix.trim().to_lowercase();
    let mut found: Vec<SharedWithMe> = vault
        .shared_with_me()?
        .into_iter()
        .filter(|s| !wanted.is_empty() && s.share.to_string().starts_with(&wanted))
        .collect();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!("nothing shared with you has the id {id_or_prefix} (see `hearth shared`)"),
        _ => bail!("{id_or_prefix} names more than one share: give more of its id"),
    }
}

pub(crate) fn share(vault: &Vault, command: ShareCommand) -> Result<()> {
    let ShareCommand::Plan {
        card,
        sections,
        purpose,
        expires,
        until,
        yes,
    } = command;
    let card: CoachCard = card.parse()?;
    let sections = sections
        .iter()
        .map(|s| s.parse::<PlanSection>())
        .collect::<Result<Vec<_>, _>>()?;
    let expiry = match (expires, until) {
        (Some(date), _) => ConsentExpiry::On(end_of_day(&date)?),
        (None, Some(event)) => ConsentExpiry::Event(event),
        (None, None) => ConsentExpiry::Event("I end it".into()),
    };
    eprintln!(
        "You are about to let {} see: {}.",
        card.words(),
        sections_words(&sections)
    );
    if !yes
        && !crate::commands::confirm(
            "Is this the coach's name and key fingerprint as their screen shows it?",
        )
    {
        bail!("nothing was shared");
    }
    let view = vault.share_plan(&card, &sections, &purpose, expiry)?;
    let code = ShareCode(view.consent.share.unwrap_or(DocId([0; 16])));
    println!("{code}");
    eprintln!("{}", code.qr());
    eprintln!("{}", view.words);
    eprintln!(
        "Show {} this code: on their device, `hearth shared add {code}` (then they sync with the center).",
        view.consent.recipient_name
    );
    Ok(())
}

pub(crate) fn consents(vault: &Vault, json: bool) -> Result<()> {
    let all = vault.consents()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else if all.is_empty() {
        println!("You have not shared anything with a coach.");
    } else {
        for v in &all {
            print!("{}", consent_text(v));
        }
    }
    Ok(())
}

pub(crate) fn revoke(vault: &Vault, id: &str) -> Result<()> {
    let v = vault.revoke(id)?;
    println!(
        "Sharing with {} ended. {} gets nothing you write from now on; sync so the center turns their devices away.",
        v.consent.recipient_name, v.consent.recipient_name
    );
    print!("{}", consent_text(&v));
    Ok(())
}

pub(crate) fn shared(vault: &Vault, command: Option<SharedCommand>, json: bool) -> Result<()> {
    match command {
        None => {
            let all = vault.shared_with_me()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                println!("Nothing is shared with you yet.");
            } else {
                for s in &all {
                    print!("{}", shared_text(s, false));
                }
            }
        }
        Some(SharedCommand::Add { code }) => {
            let code: ShareCode = code.parse()?;
            vault.accept_share(&code)?;
            println!("Added. Run `hearth sync` to fetch it from the center.");
        }
        Some(SharedCommand::Show { id, json }) => {
            let s = find_shared(vault, &id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                print!("{}", shared_text(&s, true));
            }
        }
    }
    Ok(())
}

pub(crate) fn comment(vault: &Vault, id: &str, text: &str) -> Result<()> {
    let s = find_shared(vault, id)?;
    vault.comment(&s.share, text)?;
    println!("Comment added; it reaches the member when you sync.");
    Ok(())
}

pub(crate) fn run(vault: &Vault, command: CoachCommand) -> Result<()> {
    match command {
        CoachCommand::Card { name, json } => {
            let name = match name.or(vault.name()?) {
                Some(name) => name,
                None => anyhow::bail!(
                    "give the name members will see: hearth coach card --name \"Lee\""
                ),
            };
            let card = vault.coach_card(&name)?;
            if json {
                let devices: Vec<String> =
                    card.devices().iter().map(|d| d.id.to_string()).collect();
                println!(
                    "{}",
                    serde_json::json!({
                        "card": card.to_string(),
                        "name": card.name(),
                        "fingerprint": card.fingerprint(),
                        "devices": devices,
                    })
                );
            } else {
                println!("{card}");
                eprintln!("{}", card.qr());
                eprintln!("This card names {}.", card.words());
                eprintln!(
                    "A member who scans it sees this fingerprint: read it out to them, so they know the card is yours."
                );
            }
            Ok(())
        }
        CoachCommand::Check { card } => {
            let card: CoachCard = card.parse()?;
            println!("This card is signed and names {}.", card.words());
            Ok(())
        }
    }
}
