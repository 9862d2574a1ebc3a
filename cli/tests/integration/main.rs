//! The `hearth` binary driven as a member would drive it, as separate processes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod backup;
mod crash;
mod journal;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A home directory for one simulated device.
pub struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    /// A fresh, empty home.
    pub fn empty() -> Self {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The home directory (not created until `init`).
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The `hearth` command for this home, with a clean environment.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_hearth"));
        c.arg("--home")
            .arg(self.path())
            .env_remove("HEARTH_HOME")
            .env_remove("HEARTH_PASSPHRASE")
            .env("HEARTH_LOG", "warn");
        c
    }

    /// Runs `hearth ARGS`, returning its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs `hearth ARGS` and insists it succeeds.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "hearth {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `hearth ARGS`, insists it fails with one line on stderr, returns that line.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "hearth {args:?} should have failed");
        let err = String::from_utf8(out.stderr).unwrap();
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(!lines.is_empty(), "no error message for {args:?}");
        lines[0].to_owned()
    }

    /// The journal as JSON.
    pub fn journal(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["journal", "--json"])).unwrap()
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Whether `needle` occurs in any file under `dir`.
pub fn found_under(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|f| {
            let bytes = std::fs::read(f).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .collect()
}

/// A random word no file could contain by chance.
pub fn canary() -> String {
    format!("canary{:016x}", rand::random::<u64>())
}
