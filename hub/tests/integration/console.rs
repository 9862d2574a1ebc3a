//! The staff console over real HTTP, against a real hub on loopback: signed out, every
//! page but the sign-in page (and the stylesheet) sends the browser to sign in; every
//! POST needs the session's CSRF token; the sixth wrong password in a minute is refused
//! even when it is then the right one; a nickname that is markup shows as text; staff
//! run a week through forms (programs, sessions, rosters, proposals, partners) and
//! download the roster and the funder counts, small counts suppressed; `hearth-hub
//! staff add/remove` works while the hub serves.
//!
//! The client is a few lines of HTTP/1.1 over a TCP stream, one request a connection.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use hearth_core::center::{
    MemberSecret, ProgramDraft, ProgramKind, ProposalDraft, SessionId, SignUpId, SignUpStatus,
};
use hearth_core::ids::DeviceId;
use hearth_hub::console::ConsoleConfig;
use hearth_hub::console::staff::{self, IfExists};
use hearth_hub::{Hub, HubConfig};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{WAIT, net};

const PASSWORD: &str = "kettle on at nine";
const HOUR: u64 = 3_600_000;

/// One HTTP answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn location(&self) -> &str {
        self.header("location").unwrap_or("")
    }

    fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first CSRF token a form on the page carries.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="csrf" value=""#)
            .expect("a form with a CSRF token");
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

fn decode_chunked(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..line_end]).unwrap().trim(), 16)
                .unwrap();
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// A browser without JavaScript: a cookie jar and one connection per request.
struct Browser {
    addr: SocketAddr,
    /// The name it asks for (the address, unless a test says otherwise).
    host: String,
    jar: BTreeMap<String, String>,
}

impl Browser {
    fn new(addr: SocketAddr) -> Self {
        Browser {
            addr,
            host: addr.to_string(),
            jar: BTreeMap::new(),
        }
    }

    async fn send(&mut self, method: &str, path: &str, form: Option<&[(&str, &str)]>) -> Reply {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.host
        );
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        let body = form
            .map(|f| {
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(f)
                    .finish()
            })
            .unwrap_or_default();
        if form.is_some() {
            req.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        req.push_str("\r\n");
        req.push_str(&body);
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
            stream.write_all(req.as_bytes()).await.unwrap();
            let mut raw = Vec::new();
            stream.read_to_end(&mut raw).await.unwrap();
            raw
        };
        let raw = tokio::time::timeout(WAIT, exchange)
            .await
            .expect("the console did not answer");
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = std::str::from_utf8(&raw[..split]).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_owned(), v.trim().to_owned())
            })
            .collect();
        let mut reply = Reply {
            status,
            headers,
            body: String::new(),
        };
        let body = &raw[split + 4..];
        let body = if reply.header("transfer-encoding") == Some("chunked") {
            decode_chunked(body)
        } else {
            body.to_vec()
        };
        reply.body = String::from_utf8(body).unwrap();
        for cookie in reply.set_cookies() {
            let (pair, attrs) = cookie.split_once(';').unwrap_or((cookie, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_owned(), value.to_owned());
            }
        }
        reply
    }

    async fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, None).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.send("POST", path, Some(form)).await
    }

    /// Fills in the sign-in form as a person would.
    async fn sign_in(&mut self, name: &str, password: &str) -> Reply {
        let page = self.get("/login").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let csrf = page.csrf();
        self.post(
            "/login",
            &[("csrf", &csrf), ("name", name), ("password", password)],
        )
        .await
    }

    /// Signs in, which must work, and returns the session's CSRF token.
    async fn signed_in(&mut self, name: &str, password: &str) -> String {
        let reply = self.sign_in(name, password).await;
        assert_eq!(reply.status, 303, "{}", reply.body);
        assert_eq!(reply.location(), "/");
        let home = self.get("/").await;
        assert_eq!(home.status, 200, "{}", home.body);
        home.csrf()
    }
}

/// A hub with its console on a free loopback port, and an account for Rosa.
async fn start() -> (Hub, TempDir, Browser) {
    let home = tempfile::tempdir().unwrap();
    staff::add(home.path(), "rosa", PASSWORD, IfExists::Refuse).unwrap();
    let hub = Hub::start(HubConfig {
        console: Some(ConsoleConfig::new("127.0.0.1:0".parse().unwrap())),
        ..HubConfig::new(home.path().to_owned(), net())
    })
    .await
    .unwrap();
    let addr = hub.console_addr().expect("the console runs");
    assert!(addr.ip().is_loopback());
    (hub, home, Browser::new(addr))
}

fn now_ms() -> u64 {
    hearth_core::wire::now_ms()
}

fn art() -> ProgramDraft {
    ProgramDraft {
        title: "Open art studio".into(),
        kind: ProgramKind::Art,
        description: "Paint, clay, collage.".into(),
        facilitator: "Jo".into(),
        place: "Back room".into(),
        accessibility: String::new(),
    }
}

/// Member `n` signs up for `session` (as their phone would, straight to the center).
fn sign_up(hub: &Hub, n: u8, session: SessionId, nickname: &str, note: &str) -> SignUpId {
    let tag = MemberSecret::from_bytes([n; 32]).tag(&hub.id());
    let id = SignUpId::new(now_ms());
    hub.center()
        .sign_up(
            hearth_hub::center::Asker {
                device: DeviceId([n; 32]),
                tag: &tag,
            },
            id,
            session,
            nickname,
            note,
            now_ms(),
        )
        .unwrap();
    id
}

fn status_of(hub: &Hub, session: SessionId, id: SignUpId) -> (SignUpStatus, bool) {
    let line = hub
        .center()
        .roster(session)
        .unwrap()
        .into_iter()
        .find(|l| l.id == id)
        .unwrap();
    (line.status, line.attended)
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_out_every_page_but_login_and_the_stylesheet_goes_to_sign_in() {
    let (hub, _home, mut browser) = start().await;
    let program = hub.center().create_program(&art()).unwrap();
    let session = hub
        .center()
        .add_session(program, now_ms() + 24 * HOUR, now_ms() + 25 * HOUR, 5)
        .unwrap();
    let signup = sign_up(&hub, 1, session, "Sky", "");
    for path in [
        "/".to_owned(),
        "/programs".into(),
        format!("/programs/{program}"),
        format!("/sessions/{session}"),
        format!("/sessions/{session}/cancel"),
        format!("/sessions/{session}/roster.csv"),
        "/proposals".into(),
        "/resources".into(),
        "/report".into(),
        "/report.csv".into(),
        "/no/such/page".into(),
    ] {
        let reply = browser.get(&path).await;
        assert_eq!(reply.status, 303, "GET {path}: {}", reply.body);
        assert_eq!(reply.location(), "/login", "GET {path}");
        assert!(!reply.body.contains("Sky"), "GET {path}");
    }
    for path in [
        "/programs".to_owned(),
        format!("/programs/{program}/sessions"),
        format!("/sessions/{session}/cancel"),
        format!("/signups/{signup}/cancel"),
        "/resources".into(),
        "/logout".into(),
    ] {
        let reply = browser.post(&path, &[("csrf", "anything")]).await;
        assert_eq!(reply.status, 303, "POST {path}");
        assert_eq!(reply.location(), "/login", "POST {path}");
    }
    // A form without a token is refused outright, signed in or not.
    let tokenless = browser.post("/programs", &[("title", "Forged")]).await;
    assert_eq!(tokenless.status, 403);
    assert_eq!(
        status_of(&hub, session, signup).0,
        SignUpStatus::Confirmed,
        "nothing changed"
    );
    assert_eq!(hub.center().programs().len(), 1);
    // A page that names another host (DNS rebinding) is not served.
    let mut rebound = Browser::new(browser.addr);
    rebound.host = format!("evil.example:{}", browser.addr.port());
    assert_eq!(rebound.get("/login").await.status, 421);
    rebound.host = format!("localhost:{}", browser.addr.port());
    assert_eq!(rebound.get("/login").await.status, 200);

    let login = browser.get("/login").await;
    assert_eq!(login.status, 200);
    assert_eq!(
        login.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(login.body.contains(r#"name="name""#) && login.body.contains(r#"name="password""#));
    assert_eq!(login.header("x-frame-options"), Some("DENY"));
    assert!(
        login
            .header("content-security-policy")
            .unwrap()
            .contains("default-src 'self'")
    );
    let cookie = login.set_cookies().join("\n");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP on loopback: {cookie}"
    );
    let style = browser.get("/style.css").await;
    assert_eq!(style.status, 200);
    assert_eq!(
        style.header("content-type"),
        Some("text/css; charset=utf-8")
    );
    assert!(style.body.contains("@media print"));

    // Signed in, the same pages answer; signed out again, they send you back.
    let csrf = browser.signed_in("rosa", PASSWORD).await;
    let cookie = browser.jar.get("hearth_session").cloned().unwrap();
    assert_eq!(cookie.len(), 64);
    for path in ["/", "/programs", "/proposals", "/resources", "/report"] {
        let reply = browser.get(path).await;
        assert_eq!(reply.status, 200, "GET {path}");
        assert_eq!(
            reply.header("cache-control"),
            Some("no-store"),
            "GET {path}"
        );
    }
    assert_eq!(browser.get("/no/such/page").await.status, 404);
    assert_eq!(browser.get("/login").await.location(), "/");
    let out = browser.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!((out.status, out.location()), (303, "/login"));
    assert!(!browser.jar.contains_key("hearth_session"));
    // The old cookie, replayed, is no session any more.
    browser.jar.insert("hearth_session".into(), cookie);
    assert_eq!(browser.get("/").await.location(), "/login");

    let addr = hub.console_addr().unwrap();
    hub.shutdown().await.unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the console stops with the hub"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_the_csrf_token_is_refused() {
    let (hub, _home, mut browser) = start().await;
    let program = hub.center().create_program(&art()).unwrap();
    let session = hub
        .center()
        .add_session(program, now_ms() + 24 * HOUR, now_ms() + 25 * HOUR, 5)
        .unwrap();
    let signup = sign_up(&hub, 1, session, "Sky", "");
    let csrf = browser.signed_in("rosa", PASSWORD).await;

    let form = [("title", "Forged"), ("kind", "art")];
    let reply = browser.post("/programs", &form).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    let wrong = browser
        .post(
            "/programs",
            &[
                ("csrf", &"0".repeat(64)),
                ("title", "Forged"),
                ("kind", "art"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 403);
    for path in [
        format!("/signups/{signup}/cancel"),
        format!("/sessions/{session}/cancel"),
        "/logout".to_owned(),
    ] {
        assert_eq!(browser.post(&path, &[]).await.status, 403, "POST {path}");
    }
    assert_eq!(hub.center().programs().len(), 1, "nothing was created");
    assert_eq!(status_of(&hub, session, signup).0, SignUpStatus::Confirmed);
    assert!(!hub.center().session(session).unwrap().cancelled);
    // Still signed in (the refused logout did not sign out), and the token works.
    assert_eq!(browser.get("/").await.status, 200);
    let made = browser
        .post(
            "/programs",
            &[("csrf", &csrf), ("title", "Made"), ("kind", "art")],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);

    // The sign-in form carries its own token too.
    let mut stranger = Browser::new(browser.addr);
    let login = stranger
        .post("/login", &[("name", "rosa"), ("password", PASSWORD)])
        .await;
    assert_eq!(login.status, 403);
    assert!(!stranger.jar.contains_key("hearth_session"));
    hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sixth_wrong_password_in_a_minute_is_refused_even_when_it_is_right() {
    let (hub, _home, mut browser) = start().await;
    for n in 1..=5 {
        let reply = browser.sign_in("rosa", "not the password").await;
        assert_eq!(reply.status, 401, "attempt {n}: {}", reply.body);
        assert!(reply.body.contains("do not match"));
    }
    let sixth = browser.sign_in("rosa", PASSWORD).await;
    assert_eq!(sixth.status, 429, "{}", sixth.body);
    assert_eq!(sixth.header("retry-after"), Some("60"));
    assert!(!browser.jar.contains_key("hearth_session"));
    assert_eq!(browser.get("/").await.location(), "/login");
    hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nickname_that_is_markup_shows_as_text() {
    let (hub, _home, mut browser) = start().await;
    let program = hub.center().create_program(&art()).unwrap();
    let session = hub
        .center()
        .add_session(program, now_ms() + 24 * HOUR, now_ms() + 25 * HOUR, 5)
        .unwrap();
    sign_up(
        &hub,
        1,
        session,
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(2)>",
    );
    browser.signed_in("rosa", PASSWORD).await;
    let roster = browser.get(&format!("/sessions/{session}")).await;
    assert_eq!(roster.status, 200);
    assert!(
        roster
            .body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        roster.body
    );
    assert!(!roster.body.contains("<script>"), "{}", roster.body);
    assert!(!roster.body.contains("<img"), "{}", roster.body);
    assert!(
        roster
            .body
            .contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;")
    );
    assert_eq!(roster.header("cache-control"), Some("no-store"));
    assert_eq!(roster.header("x-content-type-options"), Some("nosniff"));
    hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_plan_sessions_and_keep_the_roster_through_forms() {
    let (hub, _home, mut browser) = start().await;
    let csrf = browser.signed_in("rosa", PASSWORD).await;

    // A program, as typed into the form (a text area sends CRLF).
    let created = browser
        .post(
            "/programs",
            &[
                ("csrf", &csrf),
                ("title", " Tuesday peer support "),
                ("kind", "support-group"),
                ("description", "We talk.\r\nWe listen."),
                ("facilitator", "Sam"),
                ("place", "Front room"),
                ("accessibility", "Step-free"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let programs = hub.center().programs();
    assert_eq!(programs.len(), 1);
    let program = &programs[0];
    assert_eq!(program.draft.title, "Tuesday peer support");
    assert_eq!(program.draft.description, "We talk.\nWe listen.");
    assert!(
        created
            .location()
            .starts_with(&format!("/programs/{}?", program.id))
    );
    let page = browser.get(created.location()).await;
    assert!(page.body.contains("Program created."), "{}", page.body);

    // A form that does not validate comes back with the error and what was typed.
    let empty = browser
        .post(
            "/programs",
            &[
                ("csrf", &csrf),
                ("title", ""),
                ("kind", "art"),
                ("place", "Annex"),
            ],
        )
        .await;
    assert_eq!(empty.status, 422);
    assert!(empty.body.contains(r#"class="error""#) && empty.body.contains(r#"value="Annex""#));

    // Two weekly sessions, two days from now at 18:00–19:30 (the console reads forms
    // in UTC here).
    let day = time::OffsetDateTime::now_utc().date() + time::Duration::days(2);
    let starts = format!("{day}T18:00");
    let added = browser
        .post(
            &format!("/programs/{}/sessions", program.id),
            &[
                ("csrf", &csrf),
                ("starts", &starts),
                ("ends", "19:30"),
                ("capacity", "2"),
                ("weeks", "2"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let sessions = hub.center().sessions();
    assert_eq!(sessions.len(), 2);
    let midnight = u64::try_from(day.midnight().assume_utc().unix_timestamp()).unwrap() * 1000;
    assert_eq!(sessions[0].starts_ms, midnight + 18 * HOUR);
    assert_eq!(sessions[0].ends_ms, midnight + 18 * HOUR + 90 * 60_000);
    assert_eq!(sessions[1].starts_ms, sessions[0].starts_ms + 7 * 24 * HOUR);
    assert_eq!(sessions[0].capacity, 2);
    let bad = browser
        .post(
            &format!("/programs/{}/sessions", program.id),
            &[
                ("csrf", &csrf),
                ("starts", "soon"),
                ("ends", "19:30"),
                ("capacity", "2"),
                ("weeks", "1"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(hub.center().sessions().len(), 2);

    // This week's page lists the first one.
    let session = sessions[0].id;
    let week = browser.get("/").await;
    assert!(
        week.body
            .contains(&format!(r#"href="/sessions/{session}""#)),
        "{}",
        week.body
    );
    assert!(week.body.contains("Tuesday peer support"));

    // Three members sign up for two places.
    let sky = sign_up(&hub, 1, session, "Sky", "first time");
    let lee = sign_up(&hub, 2, session, "Lee", "");
    let mo = sign_up(&hub, 3, session, "Mo", "may be late");
    let roster = browser.get(&format!("/sessions/{session}")).await;
    assert_eq!(count(&roster.body, r#"class="signup""#), 3);
    assert_eq!(count(&roster.body, r#"data-status="confirmed""#), 2);
    assert_eq!(count(&roster.body, r#"data-status="waitlisted""#), 1);
    assert!(roster.body.contains("may be late"));

    // Staff cancel Sky's sign-up: Mo moves up from the wait-list.
    let done = browser
        .post(&format!("/signups/{sky}/cancel"), &[("csrf", &csrf)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(
        done.location()
            .starts_with(&format!("/sessions/{session}?"))
    );
    assert_eq!(status_of(&hub, session, sky).0, SignUpStatus::Cancelled);
    assert_eq!(status_of(&hub, session, mo).0, SignUpStatus::Confirmed);
    // Lee goes to the wait-list, comes back, is marked present.
    for action in ["waitlist", "confirm", "attended"] {
        let reply = browser
            .post(&format!("/signups/{lee}/{action}"), &[("csrf", &csrf)])
            .await;
        assert_eq!(reply.status, 303, "{action}: {}", reply.body);
        if action == "waitlist" {
            assert!(matches!(
                status_of(&hub, session, lee).0,
                SignUpStatus::Waitlisted { .. }
            ));
        }
    }
    assert_eq!(
        status_of(&hub, session, lee),
        (SignUpStatus::Confirmed, true)
    );
    let roster = browser.get(&format!("/sessions/{session}")).await;
    assert_eq!(count(&roster.body, r#"data-attended="true""#), 1);
    assert_eq!(count(&roster.body, r#"data-status="cancelled""#), 1);
    assert_eq!(
        browser
            .post(&format!("/signups/{lee}/explode"), &[("csrf", &csrf)])
            .await
            .status,
        404
    );

    // The roster as CSV.
    let csv = browser
        .get(&format!("/sessions/{session}/roster.csv"))
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(
        csv.header("content-disposition")
            .unwrap()
            .starts_with("attachment;")
    );
    assert!(csv.body.starts_with("nickname,status,"), "{}", csv.body);
    assert!(csv.body.contains("Lee,confirmed,yes"), "{}", csv.body);
    assert!(
        csv.body.contains("Mo,confirmed,no,may be late"),
        "{}",
        csv.body
    );

    // More places, then the second session cancelled after the page that asks.
    let places = browser
        .post(
            &format!("/sessions/{session}/capacity"),
            &[("csrf", &csrf), ("capacity", "10")],
        )
        .await;
    assert_eq!(places.status, 303);
    assert_eq!(hub.center().session(session).unwrap().capacity, 10);
    let second = sessions[1].id;
    let ask = browser.get(&format!("/sessions/{second}/cancel")).await;
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains("Cancel this session"));
    let cancelled = browser
        .post(
            &format!("/sessions/{second}/cancel"),
            &[("csrf", &ask.csrf())],
        )
        .await;
    assert_eq!(cancelled.status, 303);
    assert!(hub.center().session(second).unwrap().cancelled);
    assert!(!hub.center().session(session).unwrap().cancelled);

    // Editing the program.
    let edited = browser
        .post(
            &format!("/programs/{}", program.id),
            &[
                ("csrf", &csrf),
                ("title", "Peer support"),
                ("kind", "support-group"),
                ("place", "Front room"),
            ],
        )
        .await;
    assert_eq!(edited.status, 303, "{}", edited.body);
    assert_eq!(
        hub.center().program(program.id).unwrap().draft.title,
        "Peer support"
    );
    hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_funder_counts_suppress_small_numbers_on_the_page_and_in_the_csv() {
    let (hub, _home, mut browser) = start().await;
    let center = hub.center();
    let busy = center.create_program(&art()).unwrap();
    let quiet = center
        .create_program(&ProgramDraft {
            title: "Job club".into(),
            kind: ProgramKind::Jobs,
            ..art()
        })
        .unwrap();
    let starts = now_ms() + 24 * HOUR;
    let a = center.add_session(busy, starts, starts + HOUR, 20).unwrap();
    let b = center
        .add_session(quiet, starts, starts + HOUR, 20)
        .unwrap();
    for n in 1..=7 {
        sign_up(&hub, n, a, &format!("m{n}"), "");
    }
    for n in 8..=9 {
        sign_up(&hub, n, b, &format!("m{n}"), "");
    }
    browser.signed_in("rosa", PASSWORD).await;
    let page = browser.get("/report").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(r#"<td class="number">7</td>"#),
        "{}",
        page.body
    );
    assert!(page.body.contains("fewer than 5"), "{}", page.body);
    assert!(
        !page.body.contains(r#"<td class="number">2</td>"#),
        "{}",
        page.body
    );
    let csv = browser.get("/report.csv").await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(csv.header("content-disposition").unwrap().contains(".csv"));
    assert!(csv.body.starts_with("month,program,"), "{}", csv.body);
    let job_club = csv.body.lines().find(|l| l.contains("Job club")).unwrap();
    assert!(
        job_club.ends_with(",fewer than 5,fewer than 5,fewer than 5"),
        "{job_club}"
    );
    let art = csv
        .body
        .lines()
        .find(|l| l.contains("Open art studio"))
        .unwrap();
    assert!(art.contains(",7,"), "{art}");
    hub.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_become_programs_in_one_step_and_partners_come_and_go() {
    let (hub, _home, mut browser) = start().await;
    let center = hub.center();
    let proposal = |title: &str| ProposalDraft {
        title: title.into(),
        when: "Saturday mornings".into(),
        note: String::new(),
    };
    let walk = center
        .propose(&proposal("Walking group"), now_ms())
        .unwrap();
    let choir = center.propose(&proposal("Choir"), now_ms()).unwrap();
    for n in 1..=3u8 {
        center.interested(choir, [n; 32]).unwrap();
    }
    center.interested(walk, [9; 32]).unwrap();
    let csrf = browser.signed_in("rosa", PASSWORD).await;
    let page = browser.get("/proposals").await;
    let (c, w) = (
        page.body.find("Choir").unwrap(),
        page.body.find("Walking group").unwrap(),
    );
    assert!(c < w, "most interest first");
    let adopted = browser
        .post(
            &format!("/proposals/{choir}/adopt"),
            &[("csrf", &csrf), ("kind", "art")],
        )
        .await;
    assert_eq!(adopted.status, 303, "{}", adopted.body);
    let program = center
        .programs()
        .into_iter()
        .find(|p| p.draft.title == "Choir")
        .unwrap();
    assert_eq!(program.draft.kind, ProgramKind::Art);
    assert!(
        adopted
            .location()
            .starts_with(&format!("/programs/{}?", program.id))
    );
    let page = browser.get("/proposals").await;
    assert!(
        page.body
            .contains(&format!(r#"href="/programs/{}""#, program.id))
    );

    let added = browser
        .post(
            "/resources",
            &[
                ("csrf", &csrf),
                ("name", "Eastside food bank"),
                ("kind", "food"),
                ("description", "Groceries, no questions asked."),
                ("hours", "Mon–Fri 9–17"),
                ("contact", "12 Mill Lane"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let resources = center.resources();
    assert_eq!(resources.len(), 1);
    let listed = browser.get("/resources").await;
    assert!(listed.body.contains("Eastside food bank") && listed.body.contains("Mon–Fri 9–17"));
    let refused = browser
        .post(
            "/resources",
            &[("csrf", &csrf), ("name", "Nowhere"), ("kind", "bowling")],
        )
        .await;
    assert_eq!(refused.status, 422);
    let removed = browser
        .post(
            &format!("/resources/{}/delete", resources[0].id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(removed.status, 303);
    assert!(center.resources().is_empty());
    hub.shutdown().await.unwrap();
}

/// Runs `hearth-hub --home HOME staff ...` with a password in the environment.
fn staff_command(home: &Path, args: &[&str], password: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_hearth-hub"))
        .arg("--home")
        .arg(home)
        .arg("staff")
        .args(args)
        .env("HEARTH_STAFF_PASSWORD", password)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_accounts_added_and_removed_while_the_hub_serves_take_effect_at_once() {
    let (hub, home, mut browser) = start().await;
    let short = staff_command(home.path(), &["add", "sam"], "short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 10"));
    let added = staff_command(home.path(), &["add", "sam"], "sam's long password");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let again = staff_command(home.path(), &["add", "sam"], "sam's long password");
    assert!(!again.status.success());
    let list = staff_command(home.path(), &["list"], "");
    assert_eq!(String::from_utf8_lossy(&list.stdout), "rosa\nsam\n");

    browser.signed_in("sam", "sam's long password").await;
    let mut rosa = Browser::new(browser.addr);
    rosa.signed_in("rosa", PASSWORD).await;

    // A new password for Rosa ends her session; removing Sam ends his.
    let replaced = staff_command(
        home.path(),
        &["add", "rosa", "--replace"],
        "a brand new password",
    );
    assert!(replaced.status.success());
    assert_eq!(rosa.get("/").await.location(), "/login");
    assert_eq!(browser.get("/programs").await.status, 200);
    let removed = staff_command(home.path(), &["remove", "sam"], "");
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    assert_eq!(browser.get("/programs").await.location(), "/login");
    assert_eq!(
        browser.sign_in("sam", "sam's long password").await.status,
        401
    );
    rosa.signed_in("rosa", "a brand new password").await;
    hub.shutdown().await.unwrap();
}
