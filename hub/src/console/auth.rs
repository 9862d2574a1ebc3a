//! Who is signed in: the login rate limit, sessions held in memory (a random token in
//! an HttpOnly, SameSite=Strict cookie, ended after hours idle), and the CSRF token each
//! session's forms carry, compared in constant time. The login form itself carries a
//! token bound to a short-lived cookie (double submit), so no other site can sign a
//! browser in either.
//!
//! Not here: the accounts and their passwords (`staff`), what a page shows (`pages`).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use subtle::ConstantTimeEq;

use super::Served;

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "hearth_session";
/// The login form's cookie (its CSRF token before anyone is signed in).
pub(crate) const LOGIN_COOKIE: &str = "hearth_login";
/// A session nobody used for this long ends.
pub(crate) const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// Sessions held at most; past it the least recently used ends.
const MAX_SESSIONS: usize = 256;

/// Failed logins counted over this long.
pub(crate) const LOGIN_WINDOW: Duration = Duration::from_secs(60);
/// Failed logins from one address, or for one name, in a window: the next is refused
/// unheard (even with the right password).
pub(crate) const LOGIN_FAILURES: usize = 5;
/// Failed logins from everywhere in a window (this also bounds what the limiter holds).
const LOGIN_FAILURES_ALL: usize = 50;

/// 32 random bytes as 64 hex digits: a session or CSRF token.
pub(crate) fn new_token() -> String {
    hex(&hearth_core::crypto::random_bytes::<32>())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether two tokens are the same, in time that does not depend on where they differ.
pub(crate) fn same_token(a: &str, b: &str) -> bool {
    !a.is_empty() && a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The value of cookie `name` in a request, if it sent one.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly and SameSite=Strict always, Secure behind TLS;
/// `max_age` None lasts as long as the browser session, `Some(0)` deletes it.
pub(crate) fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    served: Served,
    max_age: Option<u64>,
) -> String {
    let mut out = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict");
    if served == Served::BehindTls {
        out.push_str("; Secure");
    }
    if let Some(age) = max_age {
        out.push_str(&format!("; Max-Age={age}"));
    }
    out
}

/// A signed-in member of staff, as a request finds them.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// Their name.
    pub name: String,
    /// Their account's fingerprint when they signed in.
    pub fingerprint: [u8; 32],
    /// The token every form of this session carries.
    pub csrf: String,
    last_used: Instant,
}

/// The sessions, by a hash of their token (a lookup's timing says nothing of tokens).
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    open: HashMap<[u8; 32], Session>,
}

fn key(token: &str) -> [u8; 32] {
    *blake3::hash(token.as_bytes()).as_bytes()
}

impl Sessions {
    /// Opens a session for `name`; returns its token (the cookie's value).
    pub fn open(&mut self, name: &str, fingerprint: [u8; 32], now: Instant) -> String {
        self.open
            .retain(|_, s| now.saturating_duration_since(s.last_used) < SESSION_IDLE);
        if self.open.len() >= MAX_SESSIONS
            && let Some(oldest) = self
                .open
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| *k)
        {
            self.open.remove(&oldest);
        }
        let token = new_token();
        self.open.insert(
            key(&token),
            Session {
                name: name.to_owned(),
                fingerprint,
                csrf: new_token(),
                last_used: now,
            },
        );
        token
    }

    /// The session of `token`, if it is open and was used recently (this use counts).
    pub fn get(&mut self, token: &str, now: Instant) -> Option<Session> {
        let k = key(token);
        let session = self.open.get_mut(&k)?;
        if now.saturating_duration_since(session.last_used) >= SESSION_IDLE {
            self.open.remove(&k);
            return None;
        }
        session.last_used = now;
        Some(session.clone())
    }

    /// Ends the session of `token`.
    pub fn end(&mut self, token: &str) {
        self.open.remove(&key(token));
    }

    /// Ends every session of `name` (their account was removed or changed).
    pub fn end_all_of(&mut self, name: &str) {
        self.open.retain(|_, s| s.name != name);
    }
}

/// What failed logins are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Addr(IpAddr),
    Name(String),
}

/// Failed logins in the last minute, per address and per name, and in all.
#[derive(Debug, Default)]
pub(crate) struct LoginLimiter {
    failures: HashMap<Key, VecDeque<Instant>>,
    all: VecDeque<Instant>,
}

impl LoginLimiter {
    fn keys(ip: IpAddr, name: &str) -> [Key; 2] {
        // Names are short; a longer one is no account and counts as its first 64.
        [Key::Addr(ip), Key::Name(name.chars().take(64).collect())]
    }

    fn forget_old(&mut self, now: Instant) {
        let old = |t: &Instant| now.saturating_duration_since(*t) >= LOGIN_WINDOW;
        while self.all.front().is_some_and(old) {
            self.all.pop_front();
        }
        self.failures.retain(|_, times| {
            while times.front().is_some_and(old) {
                times.pop_front();
            }
            !times.is_empty()
        });
    }

    /// Whether a login from `ip` for `name` is heard now.
    pub fn admits(&mut self, ip: IpAddr, name: &str, now: Instant) -> bool {
        self.forget_old(now);
        self.all.len() < LOGIN_FAILURES_ALL
            && Self::keys(ip, name).iter().all(|k| {
                self.failures
                    .get(k)
                    .is_none_or(|times| times.len() < LOGIN_FAILURES)
            })
    }

    /// A login from `ip` for `name` failed.
    pub fn failed(&mut self, ip: IpAddr, name: &str, now: Instant) {
        self.forget_old(now);
        self.all.push_back(now);
        for k in Self::keys(ip, name) {
            self.failures.entry(k).or_default().push_back(now);
        }
    }

    /// A login from `ip` for `name` succeeded: their failures are forgotten.
    pub fn succeeded(&mut self, ip: IpAddr, name: &str) {
        for k in Self::keys(ip, name) {
            self.failures.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use axum::http::HeaderValue;

    use super::*;

    const HOME: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const AWAY: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));

    #[test]
    fn the_sixth_failure_in_a_minute_is_refused_and_a_minute_later_heard_again() {
        let mut l = LoginLimiter::default();
        let t0 = Instant::now();
        for n in 0..LOGIN_FAILURES {
            assert!(l.admits(HOME, "rosa", t0), "attempt {n}");
            l.failed(HOME, "rosa", t0);
        }
        assert!(!l.admits(HOME, "rosa", t0));
        // Another name from the same address, or the same name from elsewhere: refused.
        assert!(!l.admits(HOME, "sam", t0));
        assert!(!l.admits(AWAY, "rosa", t0));
        assert!(l.admits(AWAY, "sam", t0));
        assert!(l.admits(HOME, "rosa", t0 + LOGIN_WINDOW));
        assert!(l.failures.is_empty(), "old failures are forgotten");
    }

    #[test]
    fn failures_from_everywhere_are_bounded_and_success_forgets_a_streak() {
        let mut l = LoginLimiter::default();
        let t0 = Instant::now();
        for n in 0..LOGIN_FAILURES_ALL {
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n as u32));
            assert!(l.admits(ip, &format!("n{n}"), t0));
            l.failed(ip, &format!("n{n}"), t0);
        }
        assert!(!l.admits(AWAY, "rosa", t0));
        assert!(l.failures.len() <= 2 * LOGIN_FAILURES_ALL);

        let mut l = LoginLimiter::default();
        for _ in 0..LOGIN_FAILURES - 1 {
            l.failed(HOME, "rosa", t0);
        }
        l.succeeded(HOME, "rosa");
        l.failed(HOME, "rosa", t0);
        assert!(l.admits(HOME, "rosa", t0));
    }

    #[test]
    fn tokens_compare_whole_and_empty_never_matches() {
        let a = new_token();
        assert_eq!(a.len(), 64);
        assert!(same_token(&a, &a.clone()));
        assert!(!same_token(&a, &new_token()));
        assert!(!same_token(&a, &a[..63]));
        assert!(!same_token("", ""));
    }

    #[test]
    fn sessions_end_when_idle_on_logout_and_when_the_account_goes() {
        let mut s = Sessions::default();
        let t0 = Instant::now();
        let rosa = s.open("rosa", [1; 32], t0);
        let sam = s.open("sam", [2; 32], t0);
        let got = s.get(&rosa, t0 + SESSION_IDLE / 2).unwrap();
        assert_eq!(got.name, "rosa");
        assert_eq!(got.csrf.len(), 64);
        // Used halfway: still open a little after the first idle period.
        assert!(s.get(&rosa, t0 + SESSION_IDLE).is_some());
        assert!(s.get(&sam, t0 + SESSION_IDLE).is_none());
        assert!(s.get("not a token", t0).is_none());
        s.end_all_of("rosa");
        assert!(s.get(&rosa, t0 + SESSION_IDLE).is_none());
        let again = s.open("rosa", [1; 32], t0);
        s.end(&again);
        assert!(s.get(&again, t0).is_none());
    }

    #[test]
    fn cookies_are_found_among_others_and_set_strict() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; hearth_session=abc"));
        h.append(COOKIE, HeaderValue::from_static("hearth_login=xyz"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, LOGIN_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "nope"), None);
        let plain = set_cookie(SESSION_COOKIE, "t", "/", Served::Plain, None);
        assert_eq!(plain, "hearth_session=t; Path=/; HttpOnly; SameSite=Strict");
        let tls = set_cookie(SESSION_COOKIE, "", "/", Served::BehindTls, Some(0));
        assert!(tls.ends_with("; Secure; Max-Age=0"), "{tls}");
    }
}
