//! `hearth-hub`: run the center's hub, show (and replace) its enrollment ticket, and
//! manage the staff console's accounts. The ticket's secret is shown only on a
//! terminal: `serve` under a service manager (its output going to a log) names the
//! command that shows it instead.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hearth_core::pairing::Ticket;
use hearth_core::sync::net::{LocalDiscovery, NetConfig};
use hearth_hub::accept::{self, AcceptLimits};
use hearth_hub::console::staff::{self, IfExists};
use hearth_hub::console::{self, ConsoleConfig, Served};
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
        /// Connections set up at once (handshake and reconciliation): more wait their
        /// turn, so a storm of reconnecting devices fits in memory.
        #[arg(long, default_value_t = accept::SETTING_UP, value_name = "N", value_parser = parse_places)]
        max_setting_up: usize,
        /// The most one member's documents (journal and shares) may take on the hub, in MB
        /// (decimals allowed); a member keeps at most 64 documents.
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
        /// Where the staff console listens: this machine only by default. Another
        /// address puts it on the network in plain HTTP: front it with a TLS proxy.
        #[arg(long, value_name = "ADDR", default_value_t = console::DEFAULT_ADDR)]
        console: SocketAddr,
        /// Serve no staff console.
        #[arg(long, conflicts_with_all = ["console", "console_behind_tls"])]
        no_console: bool,
        /// The console is reached through a TLS proxy: its cookies go over HTTPS only.
        #[arg(long)]
        console_behind_tls: bool,
        /// Days a sign-up is kept after its session ends (its counts stay as numbers).
        #[arg(long, value_name = "DAYS", default_value_t = hearth_hub::center::DEFAULT_RETENTION_DAYS,
              value_parser = clap::value_parser!(u32).range(1..=3650))]
        retention_days: u32,
    },
    /// The staff console's accounts (works while the hub is serving).
    Staff {
        #[command(subcommand)]
        action: StaffAction,
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

#[derive(Debug, Subcommand)]
enum StaffAction {
    /// Give a member of staff an account: the password comes from
    /// HEARTH_STAFF_PASSWORD or is asked for (twice).
    Add {
        /// The name they sign in with (letters, digits, '.', '_', '-').
        name: String,
        /// Give an existing account a new password (its open sessions end).
        #[arg(long)]
        replace: bool,
    },
    /// Remove an account: its open sessions end at their next request.
    Remove {
        /// The name.
        name: String,
    },
    /// List the accounts.
    List,
}

/// The password for `staff add`: from HEARTH_STAFF_PASSWORD, or asked for twice.
fn new_password() -> Result<zeroize::Zeroizing<String>> {
    if let Ok(p) = std::env::var("HEARTH_STAFF_PASSWORD") {
        let p = zeroize::Zeroizing::new(p);
        staff::check_password(&p)?;
        return Ok(p);
    }
    let first = zeroize::Zeroizing::new(
        rpassword::prompt_password(format!(
            "Password (at least {} characters): ",
            staff::MIN_PASSWORD_CHARS
        ))
        .context("cannot ask for a password here: set HEARTH_STAFF_PASSWORD")?,
    );
    staff::check_password(&first)?;
    let again = zeroize::Zeroizing::new(
        rpassword::prompt_password("The same password again: ")
            .context("cannot ask for a password here: set HEARTH_STAFF_PASSWORD")?,
    );
    anyhow::ensure!(
        *first == *again,
        "the two passwords differ; nothing was changed"
    );
    Ok(first)
}

fn run_staff(home: &std::path::Path, action: StaffAction) -> Result<()> {
    match action {
        StaffAction::Add { name, replace } => {
            staff::check_name(&name)?;
            let password = new_password()?;
            let if_exists = if replace {
                IfExists::Replace
            } else {
                IfExists::Refuse
            };
            staff::add(home, &name, &password, if_exists)?;
            eprintln!(
                "{name} can sign in to the staff console{}.",
                if replace {
                    " with the new password (sessions opened with the old one end)"
                } else {
                    ""
                }
            );
        }
        StaffAction::Remove { name } => {
            staff::remove(home, &name)?;
            eprintln!("{name}'s account is removed; their open sessions end at their next click.");
        }
        StaffAction::List => {
            let names = staff::list(home)?;
            if names.is_empty() {
                eprintln!("No staff accounts yet: `hearth-hub staff add NAME` makes one.");
            }
            for name in names {
                println!("{name}");
            }
        }
    }
    Ok(())
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

/// A number of setting-up places: at least one, and no more than a hub could hold.
fn parse_places(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=65_536).contains(&n) => Ok(n),
        _ => Err(format!("{text:?} is not a number from 1 to 65536")),
    }
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

async fn run(cli: Cli, utc_offset: time::UtcOffset) -> Result<()> {
    let home = home(cli.home)?;
    match cli.command {
        Command::Serve {
            bind,
            relay,
            local_discovery,
            max_connections,
            max_per_device,
            max_setting_up,
            quota_mb,
            expires,
            enroll_limit,
            enroll_limit_per_addr,
            console,
            no_console,
            console_behind_tls,
            retention_days,
        } => {
            let had_ticket = read_ticket(&home).is_ok();
            let console = (!no_console).then_some(ConsoleConfig {
                addr: console,
                served: if console_behind_tls {
                    Served::BehindTls
                } else {
                    Served::Plain
                },
                utc_offset,
            });
            let hub = Hub::start(HubConfig {
                limits: HubLimits {
                    max_connections,
                    per_device: max_per_device,
                    accept: AcceptLimits {
                        setting_up: max_setting_up,
                        ..AcceptLimits::default()
                    },
                    ..HubLimits::default()
                },
                quota_bytes: quota_mb,
                ticket_expires: expires,
                enroll_limits: EnrollLimits::per_minute(enroll_limit, enroll_limit_per_addr),
                console,
                retention_days,
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
            if let Some(addr) = hub.console_addr() {
                println!("Staff console: http://{addr}/");
                if staff::list(&home).map(|n| n.is_empty()).unwrap_or(true) {
                    println!("No staff accounts yet: `hearth-hub staff add NAME` makes one.");
                }
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
        Command::Staff { action } => run_staff(&home, action),
    }
}

/// The glibc tunable that fixes malloc's mmap threshold (see [`fix_mmap_threshold`]).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_TUNABLE: &str = "glibc.malloc.mmap_threshold=262144";

/// glibc's malloc raises its mmap threshold to the largest block freed (up to 32 MiB):
/// after the first large frame, frame buffers come from its per-thread arenas, which
/// keep their pages. Under the hostile benchmark's attacks the hub's peak RSS was 266
/// MB with glibc's default and 180 MB with the threshold fixed at 256 KiB (mimalloc:
/// 301 MB). The threshold is a tunable glibc reads only when a process starts, so
/// `serve` starts itself once more with it set, under the same pid. An operator's own
/// `GLIBC_TUNABLES` is left as it is; if the restart fails, the hub serves without it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fix_mmap_threshold() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("GLIBC_TUNABLES").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let error = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("GLIBC_TUNABLES", MMAP_THRESHOLD_TUNABLE)
        .exec();
    eprintln!("hearth-hub: serving with glibc's malloc defaults ({error})");
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if matches!(cli.command, Command::Serve { .. }) {
        fix_mmap_threshold();
    }
    // Read while this is the only thread: the console shows times and reads forms in
    // the machine's offset (the time crate refuses to read it once threads run).
    let utc_offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
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
    match runtime.block_on(run(cli, utc_offset)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hearth-hub: {e:#}");
            ExitCode::FAILURE
        }
    }
}
