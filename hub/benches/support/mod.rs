//! What the hub benchmarks share: the real `hearth-hub` process started on a home
//! and its ticket read back, its memory read from /proc, and percentiles. Owns no
//! workload; each benchmark brings its own.

#![allow(dead_code)] // each benchmark uses its own share of these

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hearth_core::pairing::Ticket;

/// The hub binary cargo built for this benchmark.
pub const HUB_BIN: &str = env!("CARGO_BIN_EXE_hearth-hub");

/// Starts `hearth-hub serve` on `home` on loopback (a port of its own, mDNS off,
/// quiet), with `extra` options, and waits for the ticket it writes (30 s at most).
pub fn start_hub(home: &Path, extra: &[&str]) -> (Child, Ticket) {
    // A home served before holds the last run's ticket, at its old port.
    let before = std::fs::read_to_string(home.join(hearth_hub::TICKET_FILE)).ok();
    let mut child = Command::new(HUB_BIN)
        .args(["--home", home.to_str().unwrap(), "serve"])
        .args(["--bind", "127.0.0.1:0", "--local-discovery", "off"])
        .args(extra)
        .env("HEARTH_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    match wait_for_ticket(home, before.as_deref()) {
        Some(ticket) => (child, ticket),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the hub never started");
        }
    }
}

/// The ticket a starting hub writes in place of `before`, read with `hearth-hub
/// ticket` (30 s at most).
fn wait_for_ticket(home: &Path, before: Option<&str>) -> Option<Ticket> {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(30) {
        let out = Command::new(HUB_BIN)
            .args(["--home", home.to_str()?, "ticket"])
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        if out.status.success() && before.is_none_or(|b| b.trim() != text.trim()) {
            return text.trim().parse().ok();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// A line of `/proc/PID/status` (`VmRSS`, `VmHWM`) in MB.
fn status_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The process's peak resident memory so far, in MB.
pub fn peak_rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmHWM:")
}

/// The process's resident memory now, in MB.
pub fn rss_mb(pid: u32) -> f64 {
    status_mb(pid, "VmRSS:")
}

/// How many threads the process has now.
pub fn threads(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The `p` quantile (0..=1) of `v` (sorted here).
pub fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}
