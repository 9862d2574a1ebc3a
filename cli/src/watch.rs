//! `hearth sync --watch`: stay online, print what arrives, and take hearth commands
//! typed on standard input (the vault stays open here, so other `hearth` processes
//! cannot use it meanwhile).

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::sync::Arc;

use anyhow::Result;
use clap::Parser;
use hearth_core::device::Live;
use hearth_core::model::CheckInId;
use hearth_core::sync::net::{NetConfig, SyncEvent};
use hearth_core::vault::Vault;
use tokio::sync::mpsc;

use crate::{Cli, commands, render};

/// Splits a typed line into words, honouring single and double quotes.
pub(crate) fn split_words(line: &str) -> Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote");
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn known(vault: &Vault) -> BTreeSet<CheckInId> {
    vault
        .checkins()
        .map(|c| c.into_iter().map(|c| c.id).collect())
        .unwrap_or_default()
}

fn run_line(vault: &Vault, line: &str) {
    let words = match split_words(line) {
        Ok(w) if w.is_empty() => return,
        Ok(w) => w,
        Err(e) => {
            eprintln!("hearth: {e}");
            return;
        }
    };
    let args = std::iter::once("hearth".to_owned()).chain(words);
    match Cli::try_parse_from(args) {
        Ok(cli) => {
            if let Err(e) = commands::vault_command(vault, cli.command) {
                eprintln!("hearth: {}", render::one_line(&e));
            }
        }
        Err(e) => eprintln!(
            "{}",
            e.to_string().lines().next().unwrap_or("invalid command")
        ),
    }
    let _ = std::io::stdout().flush();
}

/// Runs until standard input closes or Ctrl-C.
pub(crate) async fn run(vault: Arc<Vault>, net: &NetConfig) -> Result<()> {
    let (tx, mut events) = mpsc::unbounded_channel();
    let (live, _) = Live::start(vault.clone(), net, None, true, Some(tx)).await?;
    eprintln!(
        "Online. Type hearth commands (e.g. checkin --mood 4 --note \"...\"); Ctrl-D or Ctrl-C stops."
    );
    let (line_tx, mut lines) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = known(&vault);
    let mut stdin_open = true;
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(SyncEvent::Reconciled { peer }) => println!("in sync with {}", peer.short()),
                Some(SyncEvent::Received { peer, new, rejected, .. }) => {
                    if rejected > 0 {
                        println!("dropped {rejected} invalid item(s) from {}", peer.short());
                    }
                    if new > 0 {
                        let now = vault.checkins()?;
                        for c in now.iter().filter(|c| !seen.contains(&c.id)).rev() {
                            println!("new check-in from {}: mood {}/5 {}", peer.short(), c.mood, c.note);
                        }
                        seen = now.into_iter().map(|c| c.id).collect();
                    }
                }
                Some(SyncEvent::Withheld { warnings, .. }) => {
                    for words in warnings {
                        println!("Warning: {words}.");
                    }
                }
                Some(SyncEvent::Acked { .. }) => {}
                None => break,
            },
            line = lines.recv(), if stdin_open => match line {
                Some(line) => {
                    let v = vault.clone();
                    tokio::task::spawn_blocking(move || run_line(&v, &line)).await?;
                    seen = known(&vault);
                }
                None => {
                    stdin_open = false;
                    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                        // Input was piped and is done: keep watching until Ctrl-C.
                        continue;
                    }
                    break;
                }
            },
            _ = tokio::signal::ctrl_c() => break,
        }
        let _ = std::io::stdout().flush();
    }
    live.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_with_quotes() {
        assert_eq!(
            split_words(r#"checkin --mood 4 --note "a b" --tag 'x y'"#).unwrap(),
            vec!["checkin", "--mood", "4", "--note", "a b", "--tag", "x y"]
        );
        assert_eq!(split_words("  ").unwrap(), Vec::<String>::new());
        assert!(split_words("note \"open").is_err());
    }
}
