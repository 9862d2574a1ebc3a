//! `hearth-hub`: run the center's hub, or show (and replace) its enrollment ticket.
//! The ticket's secret is shown only on a terminal: `serve` under a service manager
//! (its output going to a log) names the command that shows it instead.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hearth_core::pairing::Ticket;
use hearth_core::sync::net::{LocalDiscovery, NetConfig};
use hearth_hub::enrollment::parse_duration;
use hearth_hub::{
    DEFAULT_BIND, EnrollLimits, Hub, HubConfig, HubLimits, gate, read_ticket, rotate_ticket,
};

/// The default storage quota per member's journal, in MB.
const DEFAULT_QUOTA_MB: &str = "256";

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
        /// The most a member's journal may take on the hub, in MB (decimals allowed).
        #[arg(long, default_value = DEFAULT_QUOTA_MB, value_name = "MB", value_parser = parse_quota)]
        quota_mb: u64,
        /// Enrollment attempts answered for the whole center: this many at once, then
        /// this many a minute.
        #[arg(long, value_name = "N", default_value_t = hearth_hub::enrollment::ENROLL_BURST_TOTAL)]
        enroll_limit: u32,
        /// Enrollment attempts answered from one IP address: this many at once, then
        /// this many a minute.
        #[arg(long, value_name = "N", default_value_t = hearth_hub::enrollment::ENROLL_BURST_PER_ADDR)]
        enroll_limit_per_addr: u32,
        /// When the hub makes its first ticket, let it expire after this long (7d,
        /// 12h, 30m); an existing ticket keeps its own expiry.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires: Option<Duration>,
    },
    /// Show the enrollment ticket (works while the hub is serving).
    Ticket {
        /// Also draw it as a QR code.
        #[arg(long)]
        qr: bool,
        /// Replace it with a new one: the old ticket stops working at once (also while
        /// the hub serves); devices already enrolled keep syncing.
        #[arg(long)]
        rotate: bool,
        /// With --rotate: the new ticket expires after this long (7d, 12h, 30m).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "rotate")]
        expires: Option<Duration>,
    },
}

/// Reads `--quota-mb`: megabytes (2^20 bytes), decimals allowed, as bytes.
fn parse_quota(text: &str) -> Result<u64, String> {
    let mb: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of megabytes"))?;
    if !mb.is_finite() || !(0.0..=1e9).contains(&mb) {
        return Err(format!("{text:?} is not a quota in megabytes"));
    }
    Ok((mb * f64::from(1u32 << 20)) as u64)
}

/// When a ticket expires, for people.
fn expiry(ticket: &Ticket) -> String {
    if ticket.expires_at_ms == 0 {
        return "it does not expire".into();
    }
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(
        i128::from(ticket.expires_at_ms) * 1_000_000,
    )
    .map(|t| {
        let local = time::UtcOffset::current_local_offset()
            .map(|o| t.to_offset(o))
            .unwrap_or(t);
        local
            .format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]"
            ))
            .unwrap_or_default()
    })
    .unwrap_or_default();
    format!("it expires {at}")
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
            quota_mb,
            expires,
            enroll_limit,
            enroll_limit_per_addr,
        } => {
            let had_ticket = read_ticket(&home).is_ok();
            let hub = Hub::start(HubConfig {
                limits: HubLimits {
                    max_connections,
                    per_device: max_per_device,
                    ..HubLimits::default()
                },
                quota_bytes: quota_mb,
                ticket_expires: expires,
                enroll_limits: EnrollLimits::per_minute(enroll_limit, enroll_limit_per_addr),
                ..HubConfig::new(
                    home.clone(),
                    NetConfig {
                        bind,
                        relay,
                        local: local_discovery,
                    },
                )
            })
            .await?;
            let ticket = hub.current_ticket()?;
            let listening = format!(
                "Hearth hub {} listening on {:?}; data in {}.",
                hub.id().short(),
                hub.addrs(),
                home.display()
            );
            if expires.is_some() && had_ticket {
                eprintln!(
                    "The existing ticket keeps its expiry ({}); `hearth-hub ticket --rotate --expires DURATION` replaces it.",
                    expiry(&ticket)
                );
            }
            // The secret (and its QR code) goes to a person at a terminal, never into a
            // service's log: both outputs must be a terminal.
            if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
                println!("{ticket}");
                eprintln!("{}", ticket.qr());
                eprintln!("{listening}");
                eprintln!(
                    "Members enroll with: hearth enroll <the ticket above> ({}). Ctrl-C stops the hub.",
                    expiry(&ticket)
                );
            } else {
                println!("{listening}");
                println!(
                    "Run `hearth-hub ticket` (with --qr for a QR code) on this machine to show the enrollment ticket ({})",
                    expiry(&ticket)
                );
            }
            wait_for_shutdown().await;
            eprintln!("Shutting down.");
            hub.shutdown().await
        }
        Command::Ticket {
            qr,
            rotate,
            expires,
        } => {
            let ticket = if rotate {
                let t = rotate_ticket(&home, expires)?;
                eprintln!(
                    "A new enrollment ticket ({}); the old one enrolls nobody from now on, and enrolled devices keep syncing.",
                    expiry(&t)
                );
                t
            } else {
                read_ticket(&home)?
            };
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
