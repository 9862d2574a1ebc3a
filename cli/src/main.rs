//! `hearth`: a member's device in a terminal. Every command opens the vault under the
//! home directory, does one thing, and exits; errors are one line on stderr and a
//! non-zero exit, and a failed command changes nothing.

mod center;
mod coach;
mod commands;
mod render;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// mimalloc: Automerge's load (most of a first sync, and of every open) allocates
/// heavily; it runs ~10% faster than on the system allocator here.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hearth: your private recovery journal, plan and check-ins.
#[derive(Debug, Parser)]
#[command(name = "hearth", version, about, long_about = None)]
struct Cli {
    /// Where this device keeps its vault (default: $XDG_DATA_HOME/hearth).
    #[arg(long, global = true, env = "HEARTH_HOME", value_name = "DIR")]
    home: Option<PathBuf>,
    /// The address this device's network endpoint binds (all interfaces by default).
    #[arg(
        long,
        global = true,
        env = "HEARTH_BIND",
        default_value = "0.0.0.0:0",
        value_name = "ADDR"
    )]
    bind: std::net::SocketAddr,
    /// mDNS on the LAN: `find` (default) looks up a hub or device whose address
    /// changed; `off` sends no multicast. (`announce` also makes this device visible
    /// on the network: not recommended on a shared Wi-Fi.)
    #[arg(
        long,
        global = true,
        env = "HEARTH_LOCAL_DISCOVERY",
        default_value = "find",
        value_name = "MODE"
    )]
    local_discovery: hearth_core::sync::net::LocalDiscovery,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new, empty vault on this device.
    Init {
        /// The name you want to be called by (optional; never needs to be your legal name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Record how you are doing right now.
    Checkin(CheckinArgs),
    /// Change a check-in.
    Edit {
        /// The check-in's id (from `hearth journal`).
        id: String,
        #[command(flatten)]
        fields: EditArgs,
    },
    /// Delete a check-in.
    Delete {
        /// The check-in's id.
        id: String,
    },
    /// Show your check-ins, newest first, with your mood trend.
    Journal {
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
        /// Show at most this many.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Your recovery plan.
    Plan {
        #[command(subcommand)]
        command: PlanCommand,
    },
    /// Write an encrypted backup (or, with --json, a plain export you can read).
    Export {
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Write plain, unencrypted JSON instead of an encrypted backup.
        #[arg(long)]
        json: bool,
    },
    /// Restore an encrypted backup (into an empty home), or merge it into this vault.
    Import {
        /// The backup file.
        file: PathBuf,
    },
    /// Show this device and vault.
    Status,
    /// Enroll this device at a center with the ticket its hub prints.
    Enroll {
        /// The center's enrollment ticket.
        ticket: String,
    },
    /// Sync with the center's hub and any of your devices that are reachable.
    Sync {
        /// Stay connected and show what arrives; type hearth commands meanwhile.
        #[arg(long)]
        watch: bool,
    },
    /// Your devices: invite, join, list, remove.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// Fold the journal's bundles into one snapshot and reclaim space.
    Compact,
    /// For recovery coaches: your contact card, and checking one.
    Coach {
        #[command(subcommand)]
        command: coach::CoachCommand,
    },
    /// Share chosen sections of your plan with a coach.
    Share {
        #[command(subcommand)]
        command: coach::ShareCommand,
    },
    /// What you have shared with coaches: each consent, where it stands, its history.
    Consents {
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// End a consent now: the coach gets nothing you write from now on.
    Revoke {
        /// The consent's id (or its start), from `hearth consents`.
        id: String,
    },
    /// For coaches: the plans members shared with you.
    Shared {
        #[command(subcommand)]
        command: Option<coach::SharedCommand>,
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// For coaches: leave a comment on a plan shared with you.
    Comment {
        /// The share's id (or its start), from `hearth shared`.
        id: String,
        /// What you want to say.
        text: String,
    },
    #[command(flatten)]
    Center(CenterCommand),
}

/// What the center offers, and signing up for it under a nickname.
#[derive(Debug, Subcommand)]
enum CenterCommand {
    /// What your center offers: programs and their coming sessions, with places left.
    Programs {
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Sign up for a session (the center sees only the nickname and note you give).
    Signup {
        /// The session's number, from `hearth programs`.
        session: String,
        /// The name this center knows you by (the last one you used there if omitted).
        #[arg(long)]
        nickname: Option<String>,
        /// A note to staff (access needs, "might be late").
        #[arg(long)]
        note: Option<String>,
        /// Remind me this many minutes before it starts (on this device only).
        #[arg(long, value_name = "MINUTES")]
        remind: Option<u16>,
    },
    /// What you signed up for, and where each stands.
    Signups {
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Withdraw a sign-up (your place goes to the next on the wait-list).
    Withdraw {
        /// The sign-up's id (or its start), from `hearth signups`.
        id: String,
    },
    /// Propose an activity to your center; others can show interest.
    Propose {
        /// What.
        title: String,
        /// When it could happen.
        #[arg(long)]
        when: Option<String>,
        /// Anything else: who could lead it, what it needs.
        #[arg(long)]
        note: Option<String>,
    },
    /// Members' proposals and how many are interested.
    Proposals {
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Show interest in a proposal (anonymously; counted once per member).
    Interested {
        /// The proposal's number, from `hearth proposals`.
        proposal: String,
    },
    /// The partners your center refers people to (works offline).
    Resources {
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Print a one-time ticket (first line of output) and wait for a device to join;
    /// it is added only once you confirm that it shows the same code as this one.
    Invite {
        /// How long to wait, in seconds.
        #[arg(long, default_value_t = 300, value_name = "SECS")]
        wait: u64,
        /// Add the first device that presents the ticket without asking (for scripts:
        /// anyone who saw the ticket could be that device).
        #[arg(long)]
        yes: bool,
    },
    /// Make this (empty) home one more device of the member who invited it.
    Join {
        /// The ticket `hearth device invite` printed.
        ticket: String,
    },
    /// List everything that can reach this journal: devices, backup keys, hubs.
    List,
    /// Remove a device (lost or given away), a backup key or a hub: it can read
    /// nothing written from now on, and every backup made before is retired.
    Remove {
        /// The device's id (or the start of it, as `device list` shows it).
        id: String,
    },
}

#[derive(Debug, Args)]
struct CheckinArgs {
    /// Mood, 1 (very low) to 5 (very good).
    #[arg(long, value_name = "1-5")]
    mood: u8,
    /// Craving, 0 (none) to 10 (overwhelming).
    #[arg(long, value_name = "0-10")]
    craving: Option<u8>,
    /// Energy, 1 (exhausted) to 5 (full).
    #[arg(long, value_name = "1-5")]
    energy: Option<u8>,
    /// Hours slept.
    #[arg(long, value_name = "HOURS")]
    sleep: Option<f32>,
    /// A tag (repeat for more).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// A private note.
    #[arg(long, default_value = "")]
    note: String,
}

#[derive(Debug, Args)]
struct EditArgs {
    /// New mood.
    #[arg(long)]
    mood: Option<u8>,
    /// New craving.
    #[arg(long)]
    craving: Option<u8>,
    /// New energy.
    #[arg(long)]
    energy: Option<u8>,
    /// New hours slept.
    #[arg(long)]
    sleep: Option<f32>,
    /// Replace the tags (repeat for more).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// New note.
    #[arg(long)]
    note: Option<String>,
}

#[derive(Debug, Subcommand)]
enum PlanCommand {
    /// Show the plan.
    Show {
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Replace a section's text.
    Set {
        /// toolbox daily triggers warning-signs breakdown crisis post-crisis goals strengths
        section: String,
        /// The new text.
        text: String,
    },
    /// Add an item to a section.
    Add {
        /// toolbox daily triggers warning-signs breakdown crisis post-crisis goals strengths
        section: String,
        /// The item.
        item: String,
    },
    /// Remove an item (numbered from 1, as `plan show` lists them).
    Remove {
        /// The section.
        section: String,
        /// The item's number.
        number: usize,
    },
    /// Add a supporter to your crisis plan.
    Supporter {
        /// What you call them.
        name: String,
        /// How they help.
        #[arg(long, default_value = "")]
        role: String,
        /// How to reach them.
        #[arg(long, default_value = "")]
        contact: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HEARTH_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,iroh=off,noq=off,noq_proto=off")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hearth: {}", render::one_line(&e));
            ExitCode::FAILURE
        }
    }
}
