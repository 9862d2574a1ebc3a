//! `hearth-hub`: run the center's hub, or print its enrollment ticket.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hearth_core::sync::net::{LocalDiscovery, NetConfig};
use hearth_hub::{DEFAULT_BIND, Hub, HubConfig, HubLimits, gate, read_ticket};

/// The center's always-on Hearth hub: stores members' journals as ciphertext it
/// cannot read, and relays them between their devices.
#[derive(Debug, Parser)]
#[command(name = "hearth-hub", version, about)]
struct Cli {
    /// Where the hub keeps its key, store and ticket (default: $XDG_DATA_HOME/hearth-hub).
    #[arg(long, global = true, env = "HEARTH_HUB_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the hub until Ctrl-C.
    Serve {
        /// The address to listen on (LAN by default).
        #[arg(long, default_value = DEFAULT_BIND)]
        bind: SocketAddr,
        /// An iroh relay the center runs itself (none by default: the LAN is enough).
        #[arg(long, value_name = "URL")]
        relay: Option<iroh::RelayUrl>,
        /// mDNS on the LAN: `announce` (default) lets members' devices find the hub
        /// after its address changes; `find` only looks; `off` sends no multicast.
        #[arg(
            long,
            env = "HEARTH_LOCAL_DISCOVERY",
            default_value = "announce",
            value_name = "MODE"
        )]
        local_discovery: LocalDiscovery,
        /// Connections the hub holds at once, in all; past it, new ones are refused
        /// before their handshake.
        #[arg(long, default_value_t = gate::MAX_CONNECTIONS, value_name = "N")]
        max_connections: usize,
        /// Connections one device may hold at once.
        #[arg(long, default_value_t = gate::MAX_PER_DEVICE, value_name = "N")]
        max_per_device: usize,
    },
    /// Print the enrollment ticket (works while the hub is serving).
    Ticket {
        /// Also draw it as a QR code.
        #[arg(long)]
        qr: bool,
    },
}

fn home(home: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(h) = home {
        return Ok(h);
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .context("no home directory: pass --home DIR")?;
    Ok(base.join("hearth-hub"))
}

async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

async fn run(cli: Cli) -> Result<()> {
    let home = home(cli.home)?;
    match cli.command {
        Command::Serve {
            bind,
            relay,
            local_discovery,
            max_connections,
            max_per_device,
        } => {
            let net = NetConfig {
                bind,
                relay,
                local: local_discovery,
            };
            let hub = Hub::start(HubConfig {
                limits: HubLimits {
                    max_connections,
                    per_device: max_per_device,
                    ..HubLimits::default()
                },
                ..HubConfig::new(home.clone(), net)
            })
            .await?;
            let ticket = hub.ticket();
            println!("{ticket}");
            eprintln!("{}", ticket.qr());
            eprintln!(
                "Hearth hub {} listening on {:?}; data in {}.",
                hub.id().short(),
                hub.addrs(),
                home.display()
            );
            eprintln!(
                "Members enroll with: hearth enroll <the ticket above>. Ctrl-C stops the hub."
            );
            wait_for_shutdown().await;
            eprintln!("Shutting down.");
            hub.shutdown().await
        }
        Command::Ticket { qr } => {
            let ticket = read_ticket(&home)?;
            println!("{ticket}");
            if qr {
                eprintln!("{}", ticket.qr());
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HEARTH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hearth-hub: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hearth-hub: {e:#}");
            ExitCode::FAILURE
        }
    }
}
