//! Hearth end to end: the real `hearth-hub` and `hearth` binaries as separate
//! processes on loopback (and, where root is available, in network namespaces).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod console;
mod hub;
mod netns;
mod pairing;
mod sharing;
mod sync;
mod takeover;
mod webdriver;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Where cargo put the workspace's binaries (next to this test's `deps/`).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` first (./scripts/test-all does)",
        path.display()
    );
    path
}

/// A random word no file could contain by chance.
pub fn canary() -> String {
    format!("canary{:016x}", rand::random::<u64>())
}

/// Whether `needle` occurs in any file under `dir`.
pub fn found_under(dir: &Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                return true;
            }
        }
    }
    false
}

/// A running process whose stdout lines (and, when asked, stderr lines) arrive on
/// channels; killed on drop.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    errors: Option<mpsc::Receiver<String>>,
}

/// Sends each line `from` yields to a channel, on a thread of its own.
fn lines_of(from: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line from `rx` that satisfies `pred`.
fn wait_line(
    rx: &mpsc::Receiver<String>,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if pred(&line) => return line,
            Ok(_) => {}
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

impl Running {
    /// Spawns `cmd` with piped stdout.
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = lines_of(child.stdout.take().unwrap());
        Running {
            child,
            lines,
            errors: None,
        }
    }

    /// Spawns `cmd` as a member would run it in a terminal: its stdout and stderr
    /// lines are both read, and [`Running::answer`] types on its stdin.
    pub fn spawn_interactive(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = lines_of(child.stdout.take().unwrap());
        let errors = Some(lines_of(child.stderr.take().unwrap()));
        Running {
            child,
            lines,
            errors,
        }
    }

    /// Waits for a stdout line that satisfies `pred`.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        wait_line(&self.lines, what, timeout, pred)
    }

    /// Waits for a stderr line that satisfies `pred` (only after `spawn_interactive`).
    pub fn wait_for_stderr(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let errors = self
            .errors
            .as_ref()
            .expect("stderr is read only when interactive");
        wait_line(errors, what, timeout, pred)
    }

    /// Types `line` and Enter on its stdin.
    pub fn answer(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin is piped");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for it to exit by itself (panics after `timeout`); returns how it
    /// exited and the stdout and stderr lines not read yet.
    pub fn exit(&mut self, timeout: Duration) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the process did not exit in time"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // The pipes close with the process: read what is left.
        let rest = |rx: &mpsc::Receiver<String>| {
            let mut out = String::new();
            while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
                out.push_str(&line);
                out.push('\n');
            }
            out
        };
        let stdout = rest(&self.lines);
        let stderr = self.errors.as_ref().map(rest).unwrap_or_default();
        (status, stdout, stderr)
    }

    /// The process, to write to its stdin.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A hub serving from `home`, bound as given (optionally inside a namespace), with
/// no multicast.
pub fn start_hub(home: &Path, bind: &str, netns: Option<&str>) -> (Running, String) {
    start_hub_discovering(home, bind, netns, "off")
}

/// The same, with local discovery `mode` (`off`, `find`, `announce`).
pub fn start_hub_discovering(
    home: &Path,
    bind: &str,
    netns: Option<&str>,
    mode: &str,
) -> (Running, String) {
    start_hub_with(home, bind, netns, &["--local-discovery", mode])
}

/// A hub serving from `home` with extra `serve` options (no multicast unless they
/// say so). Its output goes to a pipe, as under a service manager, so it never shows
/// the ticket: the ticket comes from `hearth-hub ticket`, as the staff would get it.
pub fn start_hub_with(
    home: &Path,
    bind: &str,
    netns: Option<&str>,
    options: &[&str],
) -> (Running, String) {
    let mut cmd = in_netns(netns, &bin("hearth-hub"));
    cmd.arg("--home")
        .arg(home)
        .args(["serve", "--bind", bind])
        .args(options)
        .env("HEARTH_LOG", "warn");
    if !options.contains(&"--local-discovery") {
        cmd.args(["--local-discovery", "off"]);
    }
    // Hubs of tests running at once must not race for the console's default port.
    if !options.contains(&"--console") {
        cmd.arg("--no-console");
    }
    let hub = Running::spawn(cmd);
    hub.wait_for("the hub to listen", Duration::from_secs(30), |l| {
        l.contains("listening")
    });
    (hub, hub_ticket(home, &[]))
}

/// `hearth-hub --home HOME ticket ARGS`: the ticket it prints.
pub fn hub_ticket(home: &Path, args: &[&str]) -> String {
    let out = Command::new(bin("hearth-hub"))
        .arg("--home")
        .arg(home)
        .arg("ticket")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hearth-hub ticket {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ticket = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(ticket.starts_with("hearth"), "not a ticket: {ticket}");
    ticket
}

/// A command, run inside network namespace `ns` when given.
pub fn in_netns(ns: Option<&str>, program: &Path) -> Command {
    match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// One member device: a home directory and the `hearth` command for it.
pub struct Device {
    home: PathBuf,
    netns: Option<String>,
    bind: String,
    discovery: &'static str,
}

impl Device {
    /// A device with its home under `dir`, on loopback.
    pub fn new(dir: &Path, name: &str) -> Self {
        Device {
            home: dir.join(name),
            netns: None,
            bind: "127.0.0.1:0".into(),
            discovery: "off",
        }
    }

    /// The same, inside a network namespace.
    pub fn in_netns(dir: &Path, name: &str, ns: &str) -> Self {
        Device {
            home: dir.join(name),
            netns: Some(ns.into()),
            bind: "0.0.0.0:0".into(),
            discovery: "off",
        }
    }

    /// The same device with local discovery `mode` (tests keep it `off` otherwise).
    pub fn discovering(mut self, mode: &'static str) -> Self {
        self.discovery = mode;
        self
    }

    /// Its home.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// `hearth --home HOME --bind ADDR --local-discovery MODE`.
    pub fn cmd(&self) -> Command {
        let mut c = in_netns(self.netns.as_deref(), &bin("hearth"));
        c.arg("--home")
            .arg(&self.home)
            .arg("--bind")
            .arg(&self.bind)
            .args(["--local-discovery", self.discovery])
            // What a member sees: the CLI's own default logging.
            .env_remove("HEARTH_LOG")
            .env_remove("HEARTH_HOME");
        c
    }

    /// Runs `hearth ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs `hearth ARGS`, insisting on success.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "hearth {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        // Every hub in these tests is honest: none may look like it withholds.
        assert!(
            !stdout.contains("Warning: the hub"),
            "hearth {args:?}: {stdout}"
        );
        stdout
    }

    /// The journal's notes.
    pub fn notes(&self) -> Vec<String> {
        let j: Vec<serde_json::Value> =
            serde_json::from_str(&self.ok(&["journal", "--json"])).unwrap();
        j.iter()
            .map(|c| c["note"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Pairs `other` (an empty home) to this device through an invite.
    pub fn pair(&self, other: &Device) {
        let mut cmd = self.cmd();
        cmd.args(["device", "invite", "--wait", "60", "--yes"]);
        let inviter = Running::spawn(cmd);
        let ticket = inviter.wait_for("the invite ticket", Duration::from_secs(30), |l| {
            l.starts_with("hearth")
        });
        other.ok(&["device", "join", &ticket]);
        inviter.wait_for("the join", Duration::from_secs(30), |l| {
            l.contains("joined")
        });
    }

    /// This device's id, as `hearth status` prints it.
    pub fn id(&self) -> String {
        self.ok(&["status"])
            .lines()
            .find_map(|l| l.strip_prefix("device:"))
            .expect("status names the device")
            .trim()
            .to_owned()
    }

    /// `hearth device list`, one [`Listed`] per identity.
    pub fn list(&self) -> Vec<Listed> {
        self.ok(&["device", "list"])
            .lines()
            .filter_map(Listed::parse)
            .collect()
    }
}

/// One line of `hearth device list`: `<id>  <kind>  <role>  <state>[  (this device)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The full id.
    pub id: String,
    /// `device`, `backup key`, `center hub`.
    pub kind: String,
    /// `owner`, `recovery`, `store`, ...
    pub role: String,
    /// `has access`, `removed`, ...
    pub state: String,
}

impl Listed {
    /// The line's fields (two spaces or more apart), or `None` for any other line.
    fn parse(line: &str) -> Option<Self> {
        let fields: Vec<&str> = line
            .split("  ")
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect();
        let [id, kind, role, state, ..] = fields.as_slice() else {
            return None;
        };
        if id.len() < 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(Listed {
            id: (*id).to_owned(),
            kind: (*kind).to_owned(),
            role: (*role).to_owned(),
            state: (*state).to_owned(),
        })
    }

    /// Whether it can still reach the journal.
    pub fn active(&self) -> bool {
        self.state == "has access"
    }
}
