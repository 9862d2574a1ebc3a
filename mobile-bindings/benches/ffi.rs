//! FFI benchmark: the median cost of one `add_checkin` through the generated Kotlin
//! (JVM + JNA) and Python (ctypes + asyncio) bindings, against the same call made
//! directly in Rust on the facade, all measured in this one run. Run with
//!
//! ```sh
//! cargo xtask bindings && cargo bench -p hearth-mobile --bench ffi
//! ```
//!
//! Each of the three creates a vault in a fresh temporary directory on disk (real
//! redb, fsync on every commit; the facade only exposes on-disk vaults), adds the same
//! check-in `HEARTH_FFI_N` times (default 2,000) after 50 warm-up calls, timing each
//! call, and reports the median. That call is dominated by the fsync, so each also
//! times two cheap calls, as many times, to show the crossing itself: `name()`
//! (synchronous) and `devices()` (async: the foreign executor's round trip through the
//! library's runtime, no write). Python and Kotlin print one JSON line each
//! (`mobile-bindings/bench/ffi_bench.py`, `mobile-bindings/bench/FfiBench.kt`); the
//! Kotlin bench is compiled with the binding tests' cached kotlinc setup
//! (`mobile-bindings/tests/setup.sh`). Rust runs first and again last (fsync latency
//! drifts on a busy machine); the baseline is the mean of the two.
//! `HEARTH_FFI_SKIP_FOREIGN=1` measures Rust only.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hearth_mobile::{HearthError, KeyStore, NewCheckIn, create_hearth};

const WARMUP: usize = 50;

/// The seed in memory, as the Python and Kotlin benches keep it.
#[derive(Default)]
struct MemoryKeys(Mutex<Option<Vec<u8>>>);

impl KeyStore for MemoryKeys {
    fn load(&self) -> Result<Option<Vec<u8>>, HearthError> {
        Ok(self.0.lock().unwrap().clone())
    }

    fn save(&self, seed: Vec<u8>) -> Result<(), HearthError> {
        *self.0.lock().unwrap() = Some(seed);
        Ok(())
    }
}

/// The same check-in the Python and Kotlin benches add.
fn checkin() -> NewCheckIn {
    NewCheckIn {
        mood: 3,
        craving: Some(2),
        energy: Some(4),
        sleep_hours: Some(7.5),
        tags: vec!["bench".into()],
        note: "walked to the meeting, called my sister".into(),
    }
}

#[derive(Debug, Clone, Copy)]
struct Stats {
    /// `add_checkin`.
    median_us: f64,
    p10_us: f64,
    p90_us: f64,
    /// Median of `name()`.
    name_us: f64,
    /// Median of `devices()`.
    devices_us: f64,
}

fn quantile(us: &mut [f64], q: f64) -> f64 {
    us.sort_by(f64::total_cmp);
    us[((us.len() - 1) as f64 * q).round() as usize]
}

/// Times `n` runs of `f`, in µs.
fn time_each(n: usize, mut f: impl FnMut()) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect()
}

fn rust(n: usize) -> Stats {
    let dir = tempfile::tempdir().unwrap();
    // The facade's futures run their work on the library's own runtime; any executor
    // can drive them. A current-thread runtime is the smallest at hand.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let keys: Arc<dyn KeyStore> = Arc::new(MemoryKeys::default());
        let hearth = create_hearth(
            dir.path().join("vault").display().to_string(),
            keys,
            Some("Bench".into()),
            Some("127.0.0.1:0".into()),
        )
        .await
        .unwrap();
        for _ in 0..WARMUP {
            hearth.add_checkin(checkin()).await.unwrap();
        }
        let mut us = Vec::with_capacity(n);
        for _ in 0..n {
            let c = checkin();
            let t = Instant::now();
            hearth.add_checkin(c).await.unwrap();
            us.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let mut name_us = time_each(n, || drop(hearth.name().unwrap()));
        let mut devices_us = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            hearth.devices().await.unwrap();
            devices_us.push(t.elapsed().as_secs_f64() * 1e6);
        }
        Stats {
            median_us: quantile(&mut us, 0.5),
            p10_us: quantile(&mut us, 0.1),
            p90_us: quantile(&mut us, 0.9),
            name_us: quantile(&mut name_us, 0.5),
            devices_us: quantile(&mut devices_us, 0.5),
        }
    })
}

/// One of the foreign benches.
type Foreign = fn(&Path, usize) -> Result<Stats, String>;

/// Runs a foreign bench and reads the JSON line it prints last.
fn foreign(name: &str, cmd: &mut Command) -> Result<Stats, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{name}: cannot run: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{name}: failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| format!("{name}: printed no JSON line:\n{stdout}"))?;
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("{name}: bad JSON {line:?}: {e}"))?;
    let field = |k: &str| {
        v[k].as_f64()
            .ok_or_else(|| format!("{name}: no {k} in {line}"))
    };
    Ok(Stats {
        median_us: field("median_us")?,
        p10_us: field("p10_us")?,
        p90_us: field("p90_us")?,
        name_us: field("name_us")?,
        devices_us: field("devices_us")?,
    })
}

fn python(root: &Path, n: usize) -> Result<Stats, String> {
    foreign(
        "Python",
        Command::new("python3")
            .arg(root.join("mobile-bindings/bench/ffi_bench.py"))
            .env("HEARTH_FFI_N", n.to_string())
            .env("HEARTH_FFI_WARMUP", WARMUP.to_string())
            .current_dir(root),
    )
}

fn kotlin(root: &Path, n: usize) -> Result<Stats, String> {
    // Compiles (or reuses) the bindings' jar and the bench's jar, then runs it.
    let script = r#"
        set -euo pipefail
        source mobile-bindings/tests/setup.sh
        ensure_jna
        ensure_kotlinc
        ffi="$(bindings_jar)"
        bench="$(kotlin_jar ffi-bench -cp "$ffi" mobile-bindings/bench/FfiBench.kt)"
        exec java -Djna.library.path="$OUT" -cp "$(kotlin_cp "$bench" "$ffi")" \
            org.hearth.bench.FfiBenchKt
    "#;
    foreign(
        "Kotlin",
        Command::new("bash")
            .args(["-c", script])
            .env("HEARTH_FFI_N", n.to_string())
            .env("HEARTH_FFI_WARMUP", WARMUP.to_string())
            .current_dir(root),
    )
}

fn show(name: &str, s: Stats) {
    println!(
        "  {name:<7} add_checkin median {:>7.1} µs (p10 {:>7.1}, p90 {:>7.1})   \
         name() {:>6.2} µs   devices() {:>7.2} µs",
        s.median_us, s.p10_us, s.p90_us, s.name_us, s.devices_us
    );
}

fn main() {
    let n: usize = std::env::var("HEARTH_FFI_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    let root: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let root = root.canonicalize().unwrap_or(root);

    println!(
        "add_checkin on an on-disk vault (redb, fsync per commit), {n} calls after {WARMUP} warm-up:"
    );
    let first = rust(n);
    show("Rust", first);
    if std::env::var_os("HEARTH_FFI_SKIP_FOREIGN").is_some() {
        return;
    }
    if !root.join("bindings-out/libhearth_mobile.so").exists() {
        eprintln!("no bindings in bindings-out/: run `cargo xtask bindings` first");
        std::process::exit(1);
    }
    let mut failed = false;
    let mut results = Vec::new();
    let runs: [(&str, Foreign); 2] = [("Kotlin", kotlin), ("Python", python)];
    for (name, run) in runs {
        match run(&root, n) {
            Ok(s) => {
                show(name, s);
                results.push((name, s));
            }
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    // fsync latency drifts on a busy machine: Rust runs again last, and the baseline
    // is the mean of its two runs.
    let again = rust(n);
    show("Rust", again);
    let mean = |a: f64, b: f64| (a + b) / 2.0;
    let r = Stats {
        median_us: mean(first.median_us, again.median_us),
        p10_us: mean(first.p10_us, again.p10_us),
        p90_us: mean(first.p90_us, again.p90_us),
        name_us: mean(first.name_us, again.name_us),
        devices_us: mean(first.devices_us, again.devices_us),
    };
    let medians: Vec<String> = std::iter::once(("Rust", r))
        .chain(results.iter().copied())
        .map(|(name, s)| format!("{name} {:.1} µs", s.median_us))
        .collect();
    println!(
        "medians: {} (Rust: mean of {:.1} and {:.1})",
        medians.join(", "),
        first.median_us,
        again.median_us
    );
    let ratios: Vec<String> = results
        .iter()
        .map(|(name, s)| {
            format!(
                "{name}/Rust {:.2} ({:+.1} µs per call)",
                s.median_us / r.median_us,
                s.median_us - r.median_us
            )
        })
        .collect();
    println!("ratios:  {}", ratios.join(", "));
    for (name, s) in &results {
        println!(
            "  {name}: the crossing costs {:+.1} µs on a synchronous call, {:+.1} µs on an \
             async one (vs Rust {:.1} and {:.1} µs)",
            s.name_us - r.name_us,
            s.devices_us - r.devices_us,
            r.name_us,
            r.devices_us
        );
    }
    if failed {
        std::process::exit(1);
    }
}
