//! What each command does, on top of `hearth_core::vault::Vault`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use hearth_core::identity::FileKeyStore;
use hearth_core::model::{CheckInId, CheckInPatch, NewCheckIn, PlanSection, Supporter};
use hearth_core::vault::{Location, MIN_PASSPHRASE_CHARS, STORE_FILE, Vault};

use crate::{Cli, Command, PlanCommand, render};

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
    match cli.command {
        Command::Init { name } => init(&home, name.as_deref()),
        Command::Checkin(a) => {
            let vault = home.open()?;
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
            let vault = home.open()?;
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
            home.open()?.delete_checkin(id)?;
            println!("Deleted check-in {id}.");
            Ok(())
        }
        Command::Journal { json, limit } => {
            let vault = home.open()?;
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
        Command::Plan { command } => plan(&home, command),
        Command::Export { out, json } => export(&home, &out, json),
        Command::Import { file } => import(&home, &file),
        Command::Status => {
            let vault = home.open()?;
            println!("home:     {}", home.dir.display());
            println!("device:   {}", vault.device_id()?);
            println!("journal:  {}", vault.journal_id()?);
            println!(
                "name:     {}",
                vault.name()?.unwrap_or_else(|| "(none)".into())
            );
            println!("check-ins: {}", vault.checkins()?.len());
            println!("bundles:  {}", vault.bundle_count()?);
            for d in vault.devices()? {
                let me = if d.this_device { " (this device)" } else { "" };
                println!("device {} {:?}{me}", d.id.short(), d.role);
            }
            Ok(())
        }
        Command::Compact => {
            let r = home.open()?.compact()?;
            println!(
                "Folded {} bundles into one snapshot of {} bytes.",
                r.superseded, r.snapshot_bytes
            );
            Ok(())
        }
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

fn plan(home: &Home, command: PlanCommand) -> Result<()> {
    let vault = home.open()?;
    match command {
        PlanCommand::Show { json } => {
            let plan = vault.plan()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                print!("{}", render::plan(&plan));
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

fn export(home: &Home, out: &Path, json: bool) -> Result<()> {
    let vault = home.open()?;
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
