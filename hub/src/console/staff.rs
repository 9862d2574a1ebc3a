//! Staff accounts: the `staff` file in the hub's home, one `name:hash` line per member
//! of staff (the hash an Argon2id PHC string), mode 0600, replaced whole by a rename.
//! It is read again at every login and request, so `hearth-hub staff add/remove` takes
//! effect while the hub serves (the hub's redb files are locked by the serving process;
//! this file is not). Lines it does not understand are kept as they are.
//!
//! Not here: sessions and the login rate limit (`auth`).

use std::io::Write;
use std::path::{Path, PathBuf};

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use super::ConsoleError;

/// The file's name in the hub's home.
pub const STAFF_FILE: &str = "staff";
/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted, in bytes (what a login form may make the hub hash).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 32;

/// What `add` does when the name has an account already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfExists {
    /// Refuse ([`ConsoleError::Exists`]).
    Refuse,
    /// Give them the new password (their open sessions end).
    Replace,
}

/// One account as the file has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    /// The name staff sign in with.
    pub name: String,
    /// The Argon2id PHC string.
    pub hash: String,
}

impl Account {
    /// What a session remembers of the account: a new password (or removing and adding
    /// the name again) ends the sessions opened with the old one.
    pub fn fingerprint(&self) -> [u8; 32] {
        *blake3::hash(self.hash.as_bytes()).as_bytes()
    }
}

/// Checks a name: 1 to 32 letters, digits, `.`, `_` or `-`.
pub fn check_name(name: &str) -> Result<(), ConsoleError> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ConsoleError::Invalid(format!(
            "a staff name is 1 to {MAX_NAME_CHARS} letters, digits, '.', '_' or '-'"
        )))
    }
}

/// Checks a new password's length.
pub fn check_password(password: &str) -> Result<(), ConsoleError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ConsoleError::Invalid(format!(
            "a password has at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ConsoleError::Invalid(format!(
            "a password has at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

fn path(home: &Path) -> PathBuf {
    home.join(STAFF_FILE)
}

fn file_err(path: PathBuf) -> impl FnOnce(std::io::Error) -> ConsoleError {
    move |source| ConsoleError::StaffFile { path, source }
}

/// One line as an account, if it is one.
fn parse_line(line: &str) -> Option<Account> {
    let (name, hash) = line.trim_end_matches('\r').split_once(':')?;
    if check_name(name).is_err() || !hash.starts_with("$argon2") {
        return None;
    }
    Some(Account {
        name: name.to_owned(),
        hash: hash.to_owned(),
    })
}

/// The accounts in the file's text (lines that are not one are skipped).
pub(crate) fn parse(text: &str) -> Vec<Account> {
    text.lines().filter_map(parse_line).collect()
}

/// The file's text; none yet is no accounts.
fn read_text(home: &Path) -> Result<String, ConsoleError> {
    let path = path(home);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(file_err(path)(e)),
    }
}

/// The account called `name`, as the file says now (read on the blocking pool).
pub(crate) async fn find(home: &Path, name: &str) -> Result<Option<Account>, ConsoleError> {
    let home = home.to_owned();
    let text = tokio::task::spawn_blocking(move || read_text(&home))
        .await
        .map_err(|e| ConsoleError::Invalid(format!("reading the staff file: {e}")))??;
    Ok(parse(&text).into_iter().find(|a| a.name == name))
}

/// The names that have an account.
pub fn list(home: &Path) -> Result<Vec<String>, ConsoleError> {
    Ok(parse(&read_text(home)?)
        .into_iter()
        .map(|a| a.name)
        .collect())
}

/// Gives `name` an account with `password` (hashed here: this takes a moment).
pub fn add(
    home: &Path,
    name: &str,
    password: &str,
    if_exists: IfExists,
) -> Result<(), ConsoleError> {
    check_name(name)?;
    check_password(password)?;
    std::fs::create_dir_all(home).map_err(file_err(home.to_owned()))?;
    let text = read_text(home)?;
    let exists = parse(&text).iter().any(|a| a.name == name);
    if exists && if_exists == IfExists::Refuse {
        return Err(ConsoleError::Exists(name.to_owned()));
    }
    let line = format!("{name}:{}", hash(password)?);
    let mut lines: Vec<&str> = text
        .lines()
        .filter(|l| parse_line(l).is_none_or(|a| a.name != name))
        .collect();
    lines.push(&line);
    write(home, &lines)
}

/// Removes `name`'s account; their open sessions end at their next request.
pub fn remove(home: &Path, name: &str) -> Result<(), ConsoleError> {
    let text = read_text(home)?;
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| parse_line(l).is_none_or(|a| a.name != name))
        .collect();
    if lines.len() == text.lines().count() {
        return Err(ConsoleError::NoSuchStaff(name.to_owned()));
    }
    write(home, &lines)
}

/// Replaces the file: a new file (0600), synced, renamed over the old one.
fn write(home: &Path, lines: &[&str]) -> Result<(), ConsoleError> {
    let path = path(home);
    let tmp = home.join(format!("{STAFF_FILE}.new"));
    let err = file_err(tmp.clone());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&tmp)?;
        // A leftover file keeps its mode through `open`: set it again.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        let mut text = lines.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    written.map_err(err)
}

/// The Argon2id PHC string of `password`, with a fresh salt.
pub(crate) fn hash(password: &str) -> Result<String, ConsoleError> {
    let salt = SaltString::encode_b64(&hearth_core::crypto::random_bytes::<16>())
        .map_err(|e| ConsoleError::Invalid(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ConsoleError::Invalid(format!("cannot hash the password: {e}")))
}

/// Whether `password` is the one `hash` was made from (a hash that does not parse
/// matches nothing).
pub(crate) fn verify(hash: &str, password: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_keeps_lines_it_does_not_understand_and_skips_them() {
        let text = "# the center's staff\nrosa:$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA\n\
                    bad line\nwho:not-a-hash\n:$argon2id$x\nsam:$argon2id$y\r\n";
        let accounts = parse(text);
        let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["rosa", "sam"]);
        assert_eq!(accounts[1].hash, "$argon2id$y");

        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join(STAFF_FILE), text).unwrap();
        remove(home.path(), "rosa").unwrap();
        let after = std::fs::read_to_string(home.path().join(STAFF_FILE)).unwrap();
        assert!(after.starts_with("# the center's staff\n"), "{after}");
        assert!(
            after.contains("bad line") && !after.contains("rosa"),
            "{after}"
        );
        assert!(matches!(
            remove(home.path(), "rosa"),
            Err(ConsoleError::NoSuchStaff(_))
        ));
    }

    #[test]
    fn accounts_are_added_hashed_refused_twice_and_replaced_on_request() {
        let home = tempfile::tempdir().unwrap();
        assert!(list(home.path()).unwrap().is_empty());
        add(home.path(), "rosa", "correct horse", IfExists::Refuse).unwrap();
        let text = std::fs::read_to_string(home.path().join(STAFF_FILE)).unwrap();
        assert!(text.starts_with("rosa:$argon2id$"), "{text}");
        assert!(!text.contains("correct horse"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(home.path().join(STAFF_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let first = parse(&text).remove(0);
        assert!(verify(&first.hash, "correct horse"));
        assert!(!verify(&first.hash, "correct horsf"));
        assert!(!verify("garbage", "correct horse"));

        assert!(matches!(
            add(home.path(), "rosa", "another one!", IfExists::Refuse),
            Err(ConsoleError::Exists(_))
        ));
        add(home.path(), "rosa", "another one!", IfExists::Replace).unwrap();
        add(home.path(), "sam", "sam's password", IfExists::Refuse).unwrap();
        assert_eq!(list(home.path()).unwrap(), ["rosa", "sam"]);
        let text = std::fs::read_to_string(home.path().join(STAFF_FILE)).unwrap();
        let rosa = parse(&text).remove(0);
        assert_ne!(rosa.fingerprint(), first.fingerprint());
        assert!(verify(&rosa.hash, "another one!"));
    }

    #[test]
    fn names_and_passwords_are_bounded() {
        assert!(check_name("rosa.m-2").is_ok());
        for bad in ["", "a:b", "a b", "a\nb", &"x".repeat(33)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_password("short").is_err());
        assert!(check_password("ten chars!").is_ok());
        assert!(check_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }
}
