//! The staff console in a real browser (Debian's headless Chromium through
//! chromedriver) against a real `hearth-hub` process, with members on real `hearth`
//! devices: a coordinator's week from login to the funder report, members planning
//! too, and nothing of a journal ever reaching the hub or a page. Screenshots are kept
//! in `target/e2e-artifacts/console/`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::webdriver::{self, Browser};
use crate::{Device, bin, canary, found_under, start_hub_with};

const PASSWORD: &str = "correct horse battery";

/// Where the screenshots go (kept after the test as artifacts).
fn artifacts() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/e2e-… → target/e2e-artifacts/console
    exe.ancestors()
        .nth(3)
        .unwrap()
        .join("e2e-artifacts")
        .join("console")
}

/// Whether the browser is here; in CI (`HEARTH_E2E_REQUIRE_BROWSER`) it must be.
fn browser_or_skip() -> bool {
    if webdriver::available() {
        return true;
    }
    assert!(
        std::env::var_os("HEARTH_E2E_REQUIRE_BROWSER").is_none(),
        "chromium and chromedriver are required here (.ci/run installs them)"
    );
    eprintln!("skipped: install chromium and chromium-driver to run the browser test");
    false
}

fn json(device: &Device, args: &[&str]) -> Value {
    serde_json::from_str(&device.ok(args)).unwrap()
}

/// The first upcoming session's id, as a member's device lists it.
fn first_session(device: &Device) -> String {
    let flyers = json(device, &["programs", "--json"]);
    flyers[0]["sessions"][0]["id"].to_string()
}

/// A member's one sign-up's id.
fn signup_id(device: &Device) -> String {
    let all = json(device, &["signups", "--json"]);
    all[0]["id"].as_str().unwrap().to_owned()
}

fn status_word(device: &Device) -> String {
    let all = json(device, &["signups", "--json"]);
    all[0]["status_words"].as_str().unwrap().to_owned()
}

struct Console<'a> {
    b: &'a Browser,
    base: String,
    shots: PathBuf,
}

impl Console<'_> {
    fn open(&self, path: &str) {
        self.b.goto(&format!("{}{path}", self.base));
    }

    fn shot(&self, name: &str) {
        self.b.screenshot(&self.shots.join(format!("{name}.png")));
    }

    /// Sets a form field by id through the page (date and time inputs do not take
    /// typed keys the same way in every locale).
    fn set(&self, id: &str, value: &str) {
        self.b.script(
            "document.getElementById(arguments[0]).value = arguments[1]; return true;",
            serde_json::json!([id, value]),
        );
    }

    /// `fetch` from inside the signed-in page: (status, body).
    fn fetch(&self, path: &str, method: &str, body: &str) -> (u64, String) {
        let v = self.b.script(
            "const r = await fetch(arguments[0], {method: arguments[1], redirect: 'manual', \
             headers: {'Content-Type': 'application/x-www-form-urlencoded'}, \
             body: arguments[1] === 'GET' ? undefined : arguments[2]}); \
             return [r.status, await r.text()];",
            serde_json::json!([path, method, body]),
        );
        (
            v[0].as_u64().unwrap_or(0),
            v[1].as_str().unwrap_or_default().to_owned(),
        )
    }
}

#[test]
fn a_coordinators_week_in_the_browser_from_login_to_the_funder_report() {
    if !browser_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("hub");
    // The coordinator's account, made before the hub serves.
    let out = Command::new(bin("hearth-hub"))
        .arg("--home")
        .arg(&home)
        .args(["staff", "add", "coordinator"])
        .env("HEARTH_STAFF_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (hub, ticket) = start_hub_with(&home, "127.0.0.1:0", None, &["--console", "127.0.0.1:0"]);
    let line = hub.wait_for("the console's address", Duration::from_secs(30), |l| {
        l.contains("Staff console: http://")
    });
    let base = line[line.find("http://").unwrap()..]
        .trim()
        .trim_end_matches('/')
        .to_owned();

    // Three members with private journals the hub must never be able to show.
    let secret = canary();
    let names = ["ana", "bo", "<script>alert(1)</script>"];
    let members: Vec<Device> = names
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let d = Device::new(dir.path(), &format!("m{i}"));
            d.ok(&["init"]);
            d.ok(&[
                "checkin",
                "--mood",
                "3",
                "--note",
                &format!("{secret} check-in"),
            ]);
            d.ok(&["plan", "set", "crisis", &format!("{secret} plan")]);
            d.ok(&["enroll", &ticket]);
            d
        })
        .collect();

    let browser = Browser::start();
    let c = Console {
        b: &browser,
        base: base.clone(),
        shots: artifacts(),
    };
    // Signed out, a page sends the browser to the login page.
    c.open("/programs");
    assert!(browser.url().ends_with("/login"), "{}", browser.url());
    c.shot("01-login");
    browser.fill("#name", "coordinator");
    browser.fill("#password", PASSWORD);
    browser.submit("#login button[type=submit]");
    assert!(
        !browser.url().ends_with("/login"),
        "login failed: {}",
        browser.text()
    );

    // A program with one session of two places.
    c.open("/programs");
    browser.fill("#title", "Tuesday peer support");
    c.set("kind", "support-group");
    browser.fill("#description", "An hour together. No appointment needed.");
    browser.fill("#facilitator", "Dee (peer coach)");
    browser.fill("#place", "Room 2");
    browser.submit("form.program button[type=submit]");
    let program_url = browser.url();
    assert!(
        program_url.contains("/programs/"),
        "{program_url}: {}",
        browser.text()
    );
    let tomorrow = time_in_days(1);
    c.set("starts", &format!("{tomorrow}T15:00"));
    c.set("ends", "16:00");
    c.set("capacity", "2");
    c.set("weeks", "1");
    browser.submit("form.session button[type=submit]");
    c.shot("02-program");

    // Three members sign up from their terminals.
    for d in &members {
        d.ok(&["sync"]);
    }
    let session = first_session(&members[0]);
    for (d, nick) in members.iter().zip(names) {
        d.ok(&[
            "signup",
            &session,
            "--nickname",
            nick,
            "--note",
            "first time",
            "--remind",
            "30",
        ]);
    }
    assert_eq!(status_word(&members[0]), "confirmed");
    assert_eq!(status_word(&members[1]), "confirmed");
    assert!(status_word(&members[2]).starts_with("wait-listed"));

    // The roster: two confirmed, one wait-listed; the nickname shows as text.
    c.open(&format!("/sessions/{session}"));
    c.shot("03-roster");
    assert_eq!(browser.count("tr.signup[data-status=confirmed]"), 2);
    assert_eq!(browser.count("tr.signup[data-status=waitlisted]"), 1);
    assert!(browser.text().contains("<script>alert(1)</script>"));
    assert_eq!(browser.count("td.nickname script"), 0);

    // One withdraws; the wait-listed member is promoted and sees it in the terminal.
    members[0].ok(&["withdraw", &signup_id(&members[0])]);
    let promoted = members[2].ok(&["signups"]);
    assert!(promoted.contains("confirmed"), "{promoted}");
    c.open(&format!("/sessions/{session}"));
    assert_eq!(browser.count("tr.signup[data-status=confirmed]"), 2);
    assert_eq!(browser.count("tr.signup[data-status=withdrawn]"), 1);

    // Attendance, then the roster's CSV.
    let bo = signup_id(&members[1]);
    browser.submit(&format!("#signup-{bo} button.attended"));
    c.open(&format!("/sessions/{session}"));
    assert_eq!(browser.count("tr.signup[data-attended=true]"), 1);
    c.shot("04-attendance");
    let (status, csv) = c.fetch(&format!("/sessions/{session}/roster.csv"), "GET", "");
    assert_eq!(status, 200);
    assert!(csv.contains("bo") && csv.contains("yes"), "{csv}");

    // A POST without the CSRF token is refused.
    let (status, _) = c.fetch("/programs", "POST", "title=Forged&kind=art");
    assert_eq!(status, 403);

    // Members plan too: a proposal, interest from the others (one of them twice).
    let proposed = members[0].ok(&["propose", "Saturday walk", "--when", "Saturday mornings"]);
    let number: String = proposed
        .split("number ")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    for d in &members[1..] {
        d.ok(&["interested", &number]);
    }
    let again = members[1].ok(&["interested", &number]);
    assert!(again.contains("2 members are interested"), "{again}");
    c.open("/proposals");
    assert!(
        browser.text().contains("Saturday walk"),
        "{}",
        browser.text()
    );
    c.shot("05-proposals");
    browser.submit("form[action$='/adopt'] button[type=submit]");
    members[2].ok(&["sync"]);
    let programs = members[2].ok(&["programs"]);
    assert!(programs.contains("Saturday walk"), "{programs}");
    let proposals = members[2].ok(&["proposals"]);
    assert!(proposals.contains("(2 interested)"), "{proposals}");

    // A partner added in the console reaches a device, which lists it offline.
    c.open("/resources");
    browser.fill("#name", "Eastside food bank");
    c.set("kind", "food");
    browser.fill("#description", "Groceries, no questions asked");
    browser.fill("#hours", "Mon-Fri 9-5");
    browser.fill("#contact", "12 Elm St");
    browser.submit("form.resource button[type=submit]");
    members[1].ok(&["sync"]);

    // The funder page, suppressed.
    c.open("/report");
    c.shot("06-report");
    assert!(
        browser.text().contains("fewer than 5"),
        "{}",
        browser.text()
    );

    // No console page shows anything of a journal, and no hub file holds it.
    for path in [
        "/",
        "/programs",
        "/proposals",
        "/resources",
        "/report",
        "/report.csv",
    ] {
        let (_, page) = c.fetch(path, "GET", "");
        assert!(!page.contains(&secret), "{path} shows a journal's words");
    }
    let (_, page) = c.fetch(&format!("/sessions/{session}"), "GET", "");
    assert!(!page.contains(&secret));
    drop(browser);
    drop(hub);
    assert!(
        !found_under(&home, secret.as_bytes()),
        "a journal's words reached the hub's files"
    );
    let offline = members[1].ok(&["resources"]);
    assert!(offline.contains("Eastside food bank"), "{offline}");
}

/// The local date `days` from now, as `YYYY-MM-DD`.
fn time_in_days(days: i64) -> String {
    let out = Command::new("date")
        .arg(format!("--date=+{days} day"))
        .arg("+%Y-%m-%d")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
