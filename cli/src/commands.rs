//! What each command does, on top of `hearth_core::vault::Vault`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use hearth_core::identity::FileKeyStore;
use hearth_core::model::{CheckInId, CheckInPatch, NewCheckIn, PlanSection, Supporter};
use hearth_core::vault::{DeviceState, Location, MIN_PASSPHRASE_CHARS, STORE_FILE, Vault};

use std::sync::Arc;
use std::time::Duration;

use hearth_core::device::{self, Live};
use hearth_core::pairing::Ticket;
use hearth_core::sync::net::NetConfig;

use crate::{Cli, Command, DeviceCommand, PlanCommand, center, render, watch};

/// The file inside the home that holds this device's seed (mode 0600).
const KEY_FILE: &str = "device.key";

struct Home {
    dir: PathBuf,
}

impl Home {
    fn resolve(home: Option<PathBuf>) -> Result<Self> {
        let dir = match home {
            Some(dir) => dir,
            None => {
                let base = std::env::var_os("XDG_DATA_HOME")
                    .map(PathBuf::from)
                    .or_else(|| {
                        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share"))
                    })
                    .ok_or_else(|| {
                        anyhow!("no home directory: pass --home DIR or set HEARTH_HOME")
                    })?;
                base.join("hearth")
            }
        };
        Ok(Home { dir })
    }

    fn keys(&self) -> FileKeyStore {
        FileKeyStore::new(self.dir.join(KEY_FILE))
    }

    fn location(&self) -> Location {
        Location::Dir(self.dir.clone())
    }

    fn has_vault(&self) -> bool {
        Vault::exists(&self.dir)
    }

    /// Removes what a failed join or restore created, so the home is as it was.
    fn forget_partial(&self) {
        let _ = std::fs::remove_file(self.dir.join(STORE_FILE));
    }

    fn open(&self) -> Result<Vault> {
        if !self.has_vault() {
            bail!(
                "no vault in {}; run `hearth init` (or `hearth import BACKUP`) first",
                self.dir.display()
            );
        }
        Ok(Vault::open(self.location(), &self.keys())?)
    }
}

pub(crate) fn run(cli: Cli) -> Result<()> {
    let home = Home::resolve(cli.home)?;
    let net = NetConfig {
        bind: cli.bind,
        relay: None,
        local: cli.local_discovery,
    };
    match cli.command {
        Command::Init { name } => init(&home, name.as_deref()),
        Command::Import { file } => import(&home, &file),
        Command::Enroll { ticket } => {
            let ticket: Ticket = ticket.parse()?;
            let vault = Arc::new(home.open()?);
            let hub = runtime()?.block_on(device::enroll(&vault, &ticket, &net))?;
            println!(
                "Enrolled at the center (hub {}). Your journal is stored there encrypted; the hub cannot read it.",
                hub.short()
            );
            Ok(())
        }
        Command::Sync { watch: false } => {
            let vault = Arc::new(home.open()?);
            // A consent whose date has passed ends here, before anything moves.
            for ended in vault.expire_consents(hearth_core::wire::now_ms())? {
                println!(
                    "Sharing with {} ended: its date has passed.",
                    ended.consent.recipient_name
                );
            }
            let summary = runtime()?.block_on(device::sync_once(&vault, &net, None))?;
            println!(
                "In sync with {} peer(s){}.",
                summary.reached.len(),
                if summary.failed.is_empty() {
                    String::new()
                } else {
                    format!("; {} not reachable", summary.failed.len())
                }
            );
            for words in &summary.withheld {
                println!("Warning: {words}.");
            }
            // Sign-ups made offline reach the center now, and statuses come back.
            if vault.peers()?.iter().any(|p| p.hub)
                && let Some(why) = center::refresh(&runtime()?, &vault, &net)
            {
                println!("The center's programs and sign-ups could not be updated: {why}");
            }
            Ok(())
        }
        Command::Center(command) => center::run(Arc::new(home.open()?), &net, command),
        Command::Sync { watch: true } => {
            let vault = Arc::new(home.open()?);
            runtime()?.block_on(watch::run(vault, &net))
        }
        Command::Device {
            command: DeviceCommand::Join { ticket },
        } => {
            let ticket: Ticket = ticket.parse()?;
            if home.has_vault() {
                bail!("this home already has a vault; join from an empty home");
            }
            let code = device::join_code(&home.keys(), &ticket)?;
            eprintln!(
                "Your other device will ask you to confirm a code. Check that it shows: {code}"
            );
            let vault = runtime()?
                .block_on(device::join(home.location(), &home.keys(), &ticket, &net))
                .inspect_err(|_| home.forget_partial())?;
            println!(
                "Joined: this device ({}) now holds your journal ({} check-ins).",
                vault.device_id()?.short(),
                vault.checkins()?.len()
            );
            Ok(())
        }
        Command::Device {
            command: DeviceCommand::Invite { wait, yes },
        } => {
            let vault = Arc::new(home.open()?);
            runtime()?.block_on(invite(vault, &net, wait, yes))
        }
        command => vault_command(&home.open()?, command),
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

async fn invite(vault: Arc<Vault>, net: &NetConfig, wait: u64, yes: bool) -> Result<()> {
    let (live, invite) = Live::start(
        vault.clone(),
        net,
        Some(Duration::from_secs(wait)),
        false,
        None,
    )
    .await?;
    let Some(mut invite) = invite else {
        bail!("could not open an invite");
    };
    println!("{}", invite.ticket);
    std::io::stdout().flush()?;
    eprintln!("{}", invite.ticket.qr());
    eprintln!(
        "On the new device run: hearth device join <the ticket above>  (valid {wait} s, once)"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    let result = tokio::time::timeout_at(deadline, async {
        let request = invite.requests.recv().await?;
        eprintln!(
            "A device ({}) asks to join. It should show the code: {}",
            request.device.short(),
            request.code
        );
        let confirmed = yes || ask("Does it show that code? Add it to your journal?").await;
        if !confirmed {
            request.confirm(false);
            eprintln!("Not added. The invite is closed: make a new one for your device.");
            return None;
        }
        request.confirm(true);
        (&mut invite.joined).await.ok()
    })
    .await;
    // Let the joining device finish reading the answer before going offline.
    tokio::time::sleep(Duration::from_millis(300)).await;
    live.shutdown().await;
    match result {
        Ok(Some(device)) => {
            // Tell the hub about the new device so it lets it in.
            if !vault.peers()?.is_empty()
                && let Err(e) = device::sync_once(&vault, net, None).await
            {
                eprintln!(
                    "hearth: the new device is added here, but the hub has not heard yet ({e}); run `hearth sync` later"
                );
            }
            println!("Device {} joined.", device.short());
            Ok(())
        }
        Ok(None) => bail!("no device was added"),
        Err(_) => bail!("no device joined within {wait} s"),
    }
}

/// Asks a yes/no question on the terminal (standard input); anything but yes is no.
async fn ask(question: &str) -> bool {
    let question = question.to_owned();
    tokio::task::spawn_blocking(move || confirm(&question))
        .await
        .unwrap_or(false)
}

/// [`ask`] from synchronous code.
pub(crate) fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).is_ok()
        && matches!(line.trim().to_lowercase().as_str(), "y" | "yes")
}

/// The commands that act on an open vault (also typed into `hearth sync --watch`).
pub(crate) fn vault_command(vault: &Vault, command: Command) -> Result<()> {
    match command {
        Command::Checkin(a) => {
            let c = vault.add_checkin(&NewCheckIn {
                at_ms: None,
                mood: a.mood,
                craving: a.craving,
                energy: a.energy,
                sleep_hours: a.sleep,
                tags: a.tags,
                note: a.note,
            })?;
            println!("Saved check-in {} (mood {}/5).", c.id, c.mood);
            Ok(())
        }
        Command::Edit { id, fields } => {
            let id: CheckInId = id.parse()?;
            let patch = CheckInPatch {
                mood: fields.mood,
                craving: fields.craving.map(Some),
                energy: fields.energy.map(Some),
                sleep_hours: fields.sleep.map(Some),
                tags: (!fields.tags.is_empty()).then_some(fields.tags),
                note: fields.note,
            };
            let c = vault.edit_checkin(id, &patch)?;
            println!("Updated check-in {}.", c.id);
            Ok(())
        }
        Command::Delete { id } => {
            let id: CheckInId = id.parse()?;
            vault.delete_checkin(id)?;
            println!("Deleted check-in {id}.");
            Ok(())
        }
        Command::Journal { json, limit } => {
            let mut checkins = vault.checkins()?;
            let trend = render::mood_trend(&checkins, render::local_offset());
            if let Some(n) = limit {
                checkins.truncate(n);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&checkins)?);
            } else {
                print!(
                    "{}",
                    render::journal(&checkins, &trend, render::local_offset())
                );
            }
            Ok(())
        }
        Command::Plan { command } => plan(vault, command),
        Command::Coach { command } => crate::coach::run(vault, command),
        Command::Share { command } => crate::coach::share(vault, command),
        Command::Consents { json } => crate::coach::consents(vault, json),
        Command::Revoke { id } => crate::coach::revoke(vault, &id),
        Command::Shared { command, json } => crate::coach::shared(vault, command, json),
        Command::Comment { id, text } => crate::coach::comment(vault, &id, &text),
        Command::Export { out, json } => export(vault, &out, json),
        Command::Status => {
            println!("device:   {}", vault.device_id()?);
            println!("journal:  {}", vault.journal_id()?);
            println!(
                "name:     {}",
                vault.name()?.unwrap_or_else(|| "(none)".into())
            );
            println!("check-ins: {}", vault.checkins()?.len());
            println!("bundles:  {}", vault.bundle_count()?);
            if vault.is_removed()? {
                println!(
                    "access:   this device was removed from the journal; it keeps what it had and gets nothing new"
                );
            }
            if let Some(line) = render::backup_advice(vault.backup_state()?) {
                println!("{line}");
            }
            for words in vault.withheld()? {
                println!("warning:  {words}");
            }
            Ok(())
        }
        Command::Compact => {
            let r = vault.compact()?;
            println!(
                "Folded {} bundles into one snapshot of {} bytes.",
                r.superseded, r.snapshot_bytes
            );
            Ok(())
        }
        Command::Device {
            command: DeviceCommand::List,
        } => {
            print!("{}", render::devices(&vault.devices()?));
            if let Some(line) = render::backup_advice(vault.backup_state()?) {
                println!("{line}");
            }
            Ok(())
        }
        Command::Device {
            command: DeviceCommand::Remove { id },
        } => {
            let id = id.trim().to_lowercase();
            let matches: Vec<_> = vault
                .devices()?
                .into_iter()
                .filter(|d| d.state == DeviceState::Active)
                .filter(|d| d.id.to_string().starts_with(&id) && !id.is_empty())
                .collect();
            let [device] = matches.as_slice() else {
                bail!(
                    "{} devices match {id:?}; give more of the id (see `hearth device list`)",
                    matches.len()
                );
            };
            let report = vault.remove_device(device.id)?;
            println!(
                "Removed {} {}. It can read nothing written from now on; run `hearth sync` so the hub refuses it too.",
                device.kind.label(),
                device.id.short()
            );
            for skipped in &report.skipped {
                println!(
                    "Device {} could not be given the new key: add it again.",
                    skipped.short()
                );
            }
            if report.backups_retired > 0 {
                println!(
                    "Your earlier backups no longer restore your journal (one could be on the removed device). Make a new one now: hearth export --out FILE"
                );
            }
            Ok(())
        }
        other => bail!(
            "`{}` needs the vault to itself; stop `hearth sync --watch` first",
            command_name(&other)
        ),
    }
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Init { .. } => "init",
        Command::Import { .. } => "import",
        Command::Enroll { .. } => "enroll",
        Command::Sync { .. } => "sync",
        Command::Device { .. } => "device",
        _ => "this command",
    }
}

fn init(home: &Home, name: Option<&str>) -> Result<()> {
    if home.has_vault() {
        bail!("a vault already exists in {}", home.dir.display());
    }
    let vault = Vault::create(home.location(), &home.keys(), name)?;
    println!("Created your vault in {}.", home.dir.display());
    println!("This device: {}", vault.device_id()?.short());
    println!(
        "Everything you write is encrypted on this device; back it up with `hearth export --out FILE`."
    );
    Ok(())
}

fn plan(vault: &Vault, command: PlanCommand) -> Result<()> {
    match command {
        PlanCommand::Show { json } => {
            let plan = vault.plan()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                print!("{}", render::plan(&plan));
                let comments = vault.coach_comments()?;
                if !comments.is_empty() {
                    println!("\nComments from your coaches");
                    for (coach, c) in comments {
                        println!(
                            "  {coach}, {}: {}",
                            hearth_core::share::consent::day_words(c.at_ms),
                            c.text
                        );
                    }
                }
            }
        }
        PlanCommand::Set { section, text } => {
            let s: PlanSection = section.parse()?;
            vault.set_plan_text(s, &text)?;
            println!("Saved {}.", s.title());
        }
        PlanCommand::Add { section, item } => {
            let s: PlanSection = section.parse()?;
            vault.add_plan_item(s, &item)?;
            println!("Added to {}.", s.title());
        }
        PlanCommand::Remove { section, number } => {
            let s: PlanSection = section.parse()?;
            let index = number
                .checked_sub(1)
                .ok_or_else(|| anyhow!("items are numbered from 1"))?;
            vault.remove_plan_item(s, index)?;
            println!("Removed item {number} from {}.", s.title());
        }
        PlanCommand::Supporter {
            name,
            role,
            contact,
        } => {
            vault.add_supporter(&Supporter {
                name,
                role,
                contact,
            })?;
            println!("Added a supporter to your crisis plan.");
        }
    }
    Ok(())
}

/// The backup passphrase: `HEARTH_PASSPHRASE`, or asked for on the terminal.
fn passphrase(confirm: bool) -> Result<String> {
    if let Ok(p) = std::env::var("HEARTH_PASSPHRASE") {
        return Ok(p);
    }
    let p = rpassword::prompt_password("Backup passphrase: ")
        .context("cannot read a passphrase (set HEARTH_PASSPHRASE when there is no terminal)")?;
    if confirm {
        let again = rpassword::prompt_password("Again: ")?;
        if again != p {
            bail!("the passphrases do not match");
        }
    }
    Ok(p)
}

/// Writes `bytes` to `path` atomically with mode 0600.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| -> std::io::Result<()> {
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

fn export(vault: &Vault, out: &Path, json: bool) -> Result<()> {
    if json {
        let value = vault.export_json()?;
        write_private(out, serde_json::to_string_pretty(&value)?.as_bytes())?;
        eprintln!(
            "Wrote {} — this file is NOT encrypted: anyone who can open it can read your journal.",
            out.display()
        );
        return Ok(());
    }
    let pass = passphrase(true)?;
    if pass.chars().count() < MIN_PASSPHRASE_CHARS {
        bail!("the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters");
    }
    let bytes = vault.export_backup(&pass)?;
    write_private(out, &bytes)?;
    println!(
        "Wrote an encrypted backup to {}. Keep the passphrase safe: without it nobody, not even you, can open it.",
        out.display()
    );
    println!(
        "Its key is listed in `hearth device list`; removing any device retires it, and then you make a new one."
    );
    Ok(())
}

fn import(home: &Home, file: &Path) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let pass = passphrase(false)?;
    if home.has_vault() {
        let vault = home.open()?;
        let report = vault.import_backup(&bytes, &pass)?;
        println!(
            "Merged the backup: {} new, {} already here.",
            report.accepted, report.duplicates
        );
        if !report.rejected.is_empty() {
            println!(
                "{} item(s) in it were refused: they came from devices without access to your journal.",
                report.rejected.len()
            );
        }
        return Ok(());
    }
    let key_existed = home.dir.join(KEY_FILE).exists();
    let dir_existed = home.dir.exists();
    match Vault::restore_backup(home.location(), &home.keys(), &bytes, &pass) {
        Ok(vault) => {
            println!(
                "Restored your vault: {} check-ins. This is a new device ({}).",
                vault.checkins()?.len(),
                vault.device_id()?.short()
            );
            Ok(())
        }
        Err(e) => {
            // Leave the home as it was: remove what this attempt created.
            let _ = std::fs::remove_file(home.dir.join(STORE_FILE));
            if !key_existed {
                let _ = std::fs::remove_file(home.dir.join(KEY_FILE));
            }
            if !dir_existed {
                let _ = std::fs::remove_dir(&home.dir);
            }
            Err(e.into())
        }
    }
}
