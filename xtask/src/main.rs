//! `cargo xtask`: developer tasks that need more than cargo.
//!
//! * `cargo xtask bindings` — builds `hearth-mobile` (release) and generates the
//!   Kotlin, Swift and Python bindings into `bindings-out/` (gitignored).
//! * `cargo xtask test-bindings` — the Python (pytest) and Kotlin/JVM binding tests
//!   against the real library (installs kotlinc, JNA and pytest when missing).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

/// The built library and the generated bindings' folder.
pub fn bindings() -> Result<(PathBuf, PathBuf)> {
    let root = root();
    run(Command::new("cargo").current_dir(&root).args([
        "build",
        "--release",
        "-p",
        "hearth-mobile",
        "-p",
        "xtask",
        "--bin",
        "uniffi-bindgen",
        "--lib",
    ]))?;
    let lib = root.join("target/release/libhearth_mobile.so");
    let out = root.join("bindings-out");
    let _ = std::fs::remove_dir_all(&out);
    run(Command::new(root.join("target/release/uniffi-bindgen"))
        .current_dir(&root)
        .args(["generate", "--library"])
        .arg(&lib)
        .args([
            "--language",
            "kotlin",
            "--language",
            "swift",
            "--language",
            "python",
            "--no-format",
            "--out-dir",
        ])
        .arg(&out))?;
    std::fs::copy(&lib, out.join("libhearth_mobile.so"))
        .context("copy the library next to the bindings")?;
    println!("bindings in {}", out.display());
    Ok((lib, out))
}

fn main() -> Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "bindings" => bindings().map(drop),
        "test-bindings" => {
            bindings()?;
            let script = root().join("mobile-bindings/tests/run.sh");
            run(Command::new("bash").arg(script).current_dir(root()))
        }
        _ => bail!("usage: cargo xtask bindings | test-bindings"),
    }
}
