//! Kill -9 at random points while check-ins are being added: the store always
//! reopens, and every check-in whose command reported success is there.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use crate::Home;

const ROUNDS: usize = 60;

#[test]
fn kill_nine_never_loses_an_acknowledged_checkin() {
    let seed: u64 = std::env::var("HEARTH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    eprintln!("crash test seed: {seed} (rerun with HEARTH_CRASH_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let home = Home::empty();
    home.ok(&["init"]);
    // How long one uninterrupted check-in takes, so kills land before, during and
    // after the write.
    let start = Instant::now();
    home.ok(&["checkin", "--mood", "3", "--note", "warm-up"]);
    let full = start.elapsed();

    let mut acknowledged = BTreeSet::from(["warm-up".to_owned()]);
    let (mut killed, mut completed) = (0, 0);
    for round in 0..ROUNDS {
        let note = format!("round-{round}");
        let mut child = home
            .cmd()
            .args(["checkin", "--mood", "4", "--note", &note])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let delay = full.mul_f64(rng.random_range(0.2..1.3));
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        if status.success() {
            acknowledged.insert(note);
            completed += 1;
        } else {
            killed += 1;
        }
        // The store reopens after every kill, and nothing acknowledged is missing.
        let notes: BTreeSet<String> = home
            .journal()
            .iter()
            .map(|c| c["note"].as_str().unwrap().to_owned())
            .collect();
        let missing: Vec<_> = acknowledged.difference(&notes).collect();
        assert!(
            missing.is_empty(),
            "seed {seed}, round {round}: lost {missing:?}"
        );
    }
    eprintln!("{killed} killed mid-command, {completed} completed (one check-in takes {full:?})");
    assert!(
        killed >= ROUNDS / 10,
        "seed {seed}: too few kills landed ({killed})"
    );
    assert!(
        completed >= 1 || full < Duration::from_millis(1),
        "seed {seed}: nothing completed"
    );
}
