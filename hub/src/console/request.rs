//! What a request to the console is and what every answer carries: the state routes
//! share (`App`), who sent a request (`Staff`, from the session cookie, checked against
//! the staff file each time), a form and its CSRF token (`Posted`, `Fields`), the
//! `Host` check that keeps a loopback console from answering a rebound name, the
//! headers on every answer, and the few kinds of answer (a page, a redirect, a CSV).
//!
//! Not here: what each route does (`routes`), what a page says (`pages`).
#![allow(
    clippy::result_large_err,
    reason = "a refusal is the response sent: boxing it would only move it to the heap"
)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use time::UtcOffset;
use tokio::sync::Semaphore;

use super::auth::{self, LoginLimiter, SESSION_COOKIE, Sessions};
use super::pages::{self, Frame, Nav};
use super::{Served, staff};
use crate::center::Center;

/// Password checks at once (each takes ~20 MB and tens of milliseconds).
const HASHING_AT_ONCE: usize = 2;

const CSP: &str = "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Which names a request may address the console by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hosts {
    /// Only this machine's (`localhost`, `127.0.0.1`, `[::1]`): a web page whose name
    /// an attacker points at 127.0.0.1 (DNS rebinding) is not served.
    Loopback,
    /// Any (on the network, or behind a proxy that keeps the name it was asked by).
    Any,
}

/// What every route shares.
pub(crate) struct App {
    center: Arc<Center>,
    pub home: PathBuf,
    clock_offset_ms: i64,
    pub offset: UtcOffset,
    pub served: Served,
    hosts: Hosts,
    sessions: Mutex<Sessions>,
    limiter: Mutex<LoginLimiter>,
    /// Turns at checking a password.
    pub hashing: Semaphore,
}

impl App {
    pub fn new(
        center: Arc<Center>,
        home: PathBuf,
        clock_offset_ms: i64,
        offset: UtcOffset,
        served: Served,
        hosts: Hosts,
    ) -> Self {
        App {
            center,
            home,
            clock_offset_ms,
            offset,
            served,
            hosts,
            sessions: Mutex::default(),
            limiter: Mutex::default(),
            hashing: Semaphore::new(HASHING_AT_ONCE),
        }
    }

    /// Now, for the center.
    pub fn now(&self) -> u64 {
        crate::offset_now(self.clock_offset_ms)
    }

    // A panic while one of these is held leaves nothing half-done worth refusing for.
    pub fn sessions(&self) -> MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn limiter(&self) -> MutexGuard<'_, LoginLimiter> {
        self.limiter.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the center, on the blocking pool.
    pub async fn center<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Center) -> T + Send + 'static,
    ) -> Result<T, Response> {
        let center = self.center.clone();
        tokio::task::spawn_blocking(move || f(&center))
            .await
            .map_err(|e| {
                tracing::warn!("staff console: a center call failed: {e}");
                failure()
            })
    }

    /// What every page of `staff`'s carries.
    pub fn frame<'a>(&self, staff: &'a Staff, nav: Nav, notice: Option<&'a str>) -> Frame<'a> {
        Frame {
            staff: &staff.name,
            csrf: &staff.csrf,
            nav,
            notice,
            offset: self.offset,
        }
    }
}

/// The state every route has.
pub(crate) type Shared = Arc<App>;
/// What a handler answers: a page or a redirect, or why not.
pub(crate) type Answer = Result<Response, Response>;

/// Whether the `Host` a request names is this machine (a request without one is no
/// browser's).
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST) else {
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses a request that names another host, when the console is loopback's.
pub(crate) async fn check_host(State(app): State<Shared>, req: Request, next: Next) -> Response {
    if app.hosts == Hosts::Loopback && !loopback_host(req.headers()) {
        return html(
            StatusCode::MISDIRECTED_REQUEST,
            pages::problem(
                "Wrong address",
                "This console answers on the hub's own machine only, at http://localhost or http://127.0.0.1.",
            ),
        );
    }
    next.run(req).await
}

/// The headers every answer carries: no framing, nothing but our own files, no
/// sniffing, no referrer, and nothing kept in a cache unless the route says so.
pub(crate) async fn protect(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// A page.
pub(crate) fn html(status: StatusCode, page: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

/// A page that is all right.
pub(crate) fn ok(page: String) -> Answer {
    Ok(html(StatusCode::OK, page))
}

/// After a POST: the page to show next.
pub(crate) fn see_other(location: String) -> Answer {
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
}

/// Something failed on the hub's side (it is in the log).
pub(crate) fn failure() -> Response {
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        pages::problem(
            "Something went wrong",
            "The hub could not do that. Nothing was changed; try again, and if it keeps failing look at the hub's log.",
        ),
    )
}

/// A CSV download.
pub(crate) fn csv(filename: &str, body: String) -> Answer {
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// Off to the sign-in page (and the session cookie, if any, cleared).
pub(crate) fn to_login(app: &App, clear: bool) -> Response {
    let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response();
    if clear {
        set_cookie(
            &mut res,
            &auth::set_cookie(SESSION_COOKIE, "", "/", app.served, Some(0)),
        );
    }
    res
}

/// Adds a `Set-Cookie` to an answer.
pub(crate) fn set_cookie(res: &mut Response, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// A signed-in member of staff, as their request shows them.
pub(crate) struct Staff {
    /// Their name.
    pub name: String,
    /// Their session's CSRF token.
    pub csrf: String,
    /// Their session's token (the cookie).
    pub token: String,
}

impl Staff {
    /// Who the request's session cookie says, if the session is open and the account
    /// is still as it was when they signed in (removed or given a new password: their
    /// sessions end here).
    pub async fn of(headers: &HeaderMap, app: &App) -> Result<Option<Staff>, Response> {
        let Some(token) = auth::cookie(headers, SESSION_COOKIE) else {
            return Ok(None);
        };
        let Some(session) = app.sessions().get(token, Instant::now()) else {
            return Ok(None);
        };
        match staff::find(&app.home, &session.name).await {
            Ok(Some(account)) if account.fingerprint() == session.fingerprint => Ok(Some(Staff {
                name: session.name,
                csrf: session.csrf,
                token: token.to_owned(),
            })),
            Ok(_) => {
                tracing::info!(
                    "staff {}: account removed or changed, signed out",
                    session.name
                );
                app.sessions().end_all_of(&session.name);
                Ok(None)
            }
            Err(e) => {
                tracing::warn!("staff console: {e}");
                Err(failure())
            }
        }
    }
}

impl FromRequestParts<Shared> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Self, Response> {
        match Staff::of(&parts.headers, app).await? {
            Some(staff) => Ok(staff),
            None => Err(to_login(
                app,
                auth::cookie(&parts.headers, SESSION_COOKIE).is_some(),
            )),
        }
    }
}

/// A form's fields, as sent (`application/x-www-form-urlencoded`).
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    /// The fields of a form's body.
    pub fn parse(body: &[u8]) -> Self {
        Fields(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The field as sent ("" when missing).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// A one-line field, trimmed.
    pub fn line(&self, name: &str) -> String {
        self.get(name).trim().to_owned()
    }

    /// A text area: browsers send line breaks as CRLF, the center keeps LF.
    pub fn text(&self, name: &str) -> String {
        self.get(name).replace("\r\n", "\n").trim_end().to_owned()
    }
}

/// A POST from a signed-in member of staff that carries their session's CSRF token.
/// A form with no token is refused whoever sends it; one with a token from a session
/// that has ended sends the browser to sign in again.
pub(crate) struct Posted {
    /// Who.
    pub staff: Staff,
    /// What the form holds.
    pub fields: Fields,
}

impl FromRequest<Shared> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, app: &Shared) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, app)
            .await
            .map_err(IntoResponse::into_response)?;
        let fields = Fields::parse(&body);
        let token = fields.get("csrf");
        let staff = match Staff::of(&headers, app).await? {
            Some(staff) => staff,
            None if token.is_empty() => return Err(form_refused()),
            None => {
                let had_cookie = auth::cookie(&headers, SESSION_COOKIE).is_some();
                return Err(to_login(app, had_cookie));
            }
        };
        if !auth::same_token(token, &staff.csrf) {
            return Err(form_refused());
        }
        Ok(Posted { staff, fields })
    }
}

fn form_refused() -> Response {
    tracing::info!("staff console: a form without its token was refused");
    html(
        StatusCode::FORBIDDEN,
        pages::problem(
            "Form refused",
            "This form did not come from the page the console gave you, or that page is too old. Go back, reload it and try again.",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_decoded_and_text_areas_lose_their_crlf() {
        let f = Fields::parse(b"title=+Art+%26+clay+&note=a%0D%0Ab%0D%0A&csrf=x&csrf=y");
        assert_eq!(f.line("title"), "Art & clay");
        assert_eq!(f.text("note"), "a\nb");
        assert_eq!(f.get("csrf"), "x", "the first of a repeated field counts");
        assert_eq!(f.get("missing"), "");
    }

    #[test]
    fn a_loopback_console_answers_only_to_loopback_names() {
        let host = |h: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_static(h));
            loopback_host(&headers)
        };
        for ok in [
            "127.0.0.1:4920",
            "localhost:4920",
            "LOCALHOST",
            "[::1]:4920",
            "127.0.0.2",
        ] {
            assert!(host(ok), "{ok}");
        }
        for bad in [
            "evil.example:4920",
            "192.168.1.5:4920",
            "localhost.evil.example",
            "[::2]:1",
        ] {
            assert!(!host(bad), "{bad}");
        }
        assert!(loopback_host(&HeaderMap::new()));
    }
}
