//! The console's routes: what each form is read as, which `Center` call it becomes (on
//! the blocking pool: the center writes durably before it answers), and where the
//! browser goes next (a POST that worked redirects, so reloading a page never repeats
//! it). Every route but the sign-in page and the stylesheet takes a signed-in member of
//! staff, every POST the session's CSRF token: `request` checks both.
#![allow(
    clippy::result_large_err,
    reason = "a refusal is the response sent: boxing it would only move it to the heap"
)]

use std::sync::OnceLock;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hearth_core::center::{
    ProgramDraft, ProgramId, ProposalId, ResourceDraft, ResourceId, SessionId, SignUpId,
};
use time::UtcOffset;

use super::auth::{self, LOGIN_COOKIE, SESSION_COOKIE};
use super::listener::ClientAddr;
use super::pages::{self, Nav, ProgramForm, ProgramPage, ResourceForm, SessionForm};
use super::request::{
    Answer, App, Fields, Posted, Shared, Staff, check_host, csv, failure, html, ok, protect,
    see_other, set_cookie, to_login,
};
use super::{staff, when};
use crate::center::roster::StaffAction;
use crate::center::{self, CenterError};

/// The largest request body read (a form is a few KiB at most).
const MAX_BODY: usize = 64 * 1024;
/// The longest a session may last, from start to end.
const LONGEST_SESSION_MS: u64 = 12 * 3_600_000;
/// The most weeks one form adds sessions for.
const MOST_WEEKS: u64 = 26;

const STYLE: &str = include_str!("style.css");

/// The console's routes, with the headers every answer carries and the body limit.
pub(crate) fn router(app: Shared) -> Router {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/", get(week))
        .route("/programs", get(programs).post(create_program))
        .route("/programs/{id}", get(program).post(edit_program))
        .route("/programs/{id}/sessions", post(add_sessions))
        .route("/sessions/{id}", get(roster))
        .route(
            "/sessions/{id}/cancel",
            get(confirm_cancel).post(cancel_session),
        )
        .route("/sessions/{id}/capacity", post(set_capacity))
        .route("/sessions/{id}/roster.csv", get(roster_csv))
        .route("/signups/{id}/{action}", post(staff_action))
        .route("/proposals", get(proposals))
        .route("/proposals/{id}/adopt", post(adopt))
        .route("/resources", get(resources).post(add_resource))
        .route("/resources/{id}/delete", post(remove_resource))
        .route("/report", get(report))
        .route("/report.csv", get(report_csv))
        .route("/style.css", get(style))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(app.clone(), check_host))
        .layer(middleware::map_response(protect))
        .with_state(app)
}

/// The notice a redirect asked for (`?done=`), as fixed words: nothing typed into a
/// URL is shown.
fn notice(uri: &Uri) -> Option<&'static str> {
    let query = uri.query()?;
    let (_, done) = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "done")?;
    Some(match &*done {
        "program-created" => "Program created. Add its sessions below.",
        "program-saved" => "Changes saved.",
        "program-adopted" => {
            "The proposal is now a program: complete its details and add its sessions."
        }
        "sessions-added" => "Sessions added.",
        "session-cancelled" => {
            "Session cancelled. Members on its list are told at their next sync."
        }
        "places-changed" => "Places changed.",
        "roster-changed" => "Roster updated.",
        "resource-added" => "Partner added.",
        "resource-removed" => "Partner removed.",
        _ => return None,
    })
}

fn not_found_page(app: &App, staff: &Staff, what: &str) -> Response {
    html(
        StatusCode::NOT_FOUND,
        pages::not_found(&app.frame(staff, Nav::Week, None), what),
    )
}

/// An id from a path, or the page saying there is no such thing.
fn id_of<T: std::str::FromStr>(
    app: &App,
    staff: &Staff,
    text: &str,
    what: &str,
) -> Result<T, Response> {
    text.parse().map_err(|_| not_found_page(app, staff, what))
}

/// A center error as words for the form that caused it, or the page it calls for.
fn refusal(app: &App, staff: &Staff, e: CenterError) -> Result<String, Response> {
    match e {
        CenterError::Invalid(e) => Ok(e.to_string()),
        CenterError::Full(why) => Ok(why),
        CenterError::Missing(what) => {
            Err(not_found_page(app, staff, what.trim_start_matches("such ")))
        }
        other => {
            tracing::warn!("staff console: {other}");
            Err(failure())
        }
    }
}

// ---- signing in and out ----

/// A login cookie that is one of ours (64 hex digits), or none.
fn login_token(headers: &HeaderMap) -> Option<&str> {
    auth::cookie(headers, LOGIN_COOKIE)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn login_form(
    app: &App,
    status: StatusCode,
    token: &str,
    name: &str,
    error: Option<&str>,
) -> Response {
    let mut res = html(status, pages::login(token, name, error));
    set_cookie(
        &mut res,
        &auth::set_cookie(LOGIN_COOKIE, token, "/login", app.served, Some(3600)),
    );
    res
}

async fn login_page(State(app): State<Shared>, headers: HeaderMap) -> Answer {
    if Staff::of(&headers, &app).await?.is_some() {
        return see_other("/".into());
    }
    let token = login_token(&headers).map_or_else(auth::new_token, str::to_owned);
    Ok(login_form(&app, StatusCode::OK, &token, "", None))
}

/// The hash checked when the name has no account, so that a wrong name takes as long
/// as a wrong password.
fn decoy_hash() -> Option<&'static str> {
    static DECOY: OnceLock<Option<String>> = OnceLock::new();
    DECOY
        .get_or_init(|| staff::hash("no account has this password").ok())
        .as_deref()
}

async fn login(
    State(app): State<Shared>,
    ConnectInfo(ClientAddr(from)): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let fields = Fields::parse(&body);
    let name = fields.line("name");
    let ip = from.ip();
    // The limit comes first: past it, not even the right password is checked.
    if !app.limiter().admits(ip, &name, Instant::now()) {
        tracing::info!("staff console: sign-in from {ip} refused, too many failures");
        let mut res = html(
            StatusCode::TOO_MANY_REQUESTS,
            pages::problem(
                "Too many attempts",
                "Too many wrong passwords in the last minute. Wait a minute, then sign in again.",
            ),
        );
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return Ok(res);
    }
    let fresh = auth::new_token();
    let token = login_token(&headers);
    if !token.is_some_and(|t| auth::same_token(t, fields.get("csrf"))) {
        app.limiter().failed(ip, &name, Instant::now());
        return Ok(login_form(
            &app,
            StatusCode::FORBIDDEN,
            &fresh,
            &name,
            Some("The sign-in form had expired. Please sign in again."),
        ));
    }
    let token = token.unwrap_or(fresh.as_str());
    let account = staff::find(&app.home, &name).await.map_err(|e| {
        tracing::warn!("staff console: {e}");
        failure()
    })?;
    let password = fields.get("password").to_owned();
    let checked = account.clone();
    let matches = {
        let _turn = app.hashing.acquire().await.map_err(|_| failure())?;
        tokio::task::spawn_blocking(move || match &checked {
            Some(a) => staff::verify(&a.hash, &password),
            None => {
                if let Some(decoy) = decoy_hash() {
                    staff::verify(decoy, &password);
                }
                false
            }
        })
        .await
        .unwrap_or(false)
    };
    let Some(account) = account.filter(|_| matches) else {
        app.limiter().failed(ip, &name, Instant::now());
        tracing::info!("staff console: wrong name or password from {ip}");
        return Ok(login_form(
            &app,
            StatusCode::UNAUTHORIZED,
            token,
            &name,
            Some("That name and password do not match an account here."),
        ));
    };
    app.limiter().succeeded(ip, &name);
    let session = app
        .sessions()
        .open(&account.name, account.fingerprint(), Instant::now());
    tracing::info!("staff console: {} signed in from {ip}", account.name);
    let mut res = see_other("/".into())?;
    set_cookie(
        &mut res,
        &auth::set_cookie(SESSION_COOKIE, &session, "/", app.served, None),
    );
    set_cookie(
        &mut res,
        &auth::set_cookie(LOGIN_COOKIE, "", "/login", app.served, Some(0)),
    );
    Ok(res)
}

async fn logout(State(app): State<Shared>, posted: Posted) -> Answer {
    app.sessions().end(&posted.staff.token);
    tracing::info!("staff console: {} signed out", posted.staff.name);
    Ok(to_login(&app, true))
}

// ---- the week ----

async fn week(State(app): State<Shared>, staff: Staff, uri: Uri) -> Answer {
    let now = app.now();
    let (sessions, programs) = app.center(|c| (c.sessions(), c.programs())).await?;
    let until = now.saturating_add(7 * when::DAY_MS);
    let coming: Vec<_> = sessions
        .into_iter()
        .filter(|s| s.ends_ms > now && s.starts_ms < until)
        .collect();
    ok(pages::week(
        &app.frame(&staff, Nav::Week, notice(&uri)),
        now,
        &coming,
        &programs,
    ))
}

// ---- programs ----

fn program_form(fields: &Fields) -> ProgramForm {
    ProgramForm {
        title: fields.line("title"),
        kind: fields.line("kind"),
        description: fields.text("description"),
        facilitator: fields.line("facilitator"),
        place: fields.line("place"),
        accessibility: fields.text("accessibility"),
    }
}

fn draft_of(form: &ProgramForm) -> Result<ProgramDraft, String> {
    let draft = ProgramDraft {
        title: form.title.clone(),
        kind: form.kind.parse().map_err(|e| format!("{e}"))?,
        description: form.description.clone(),
        facilitator: form.facilitator.clone(),
        place: form.place.clone(),
        accessibility: form.accessibility.clone(),
    };
    draft.validate().map_err(|e| e.to_string())?;
    Ok(draft)
}

async fn programs_page(
    app: &App,
    staff: &Staff,
    notice: Option<&str>,
    status: StatusCode,
    form: &ProgramForm,
    error: Option<&str>,
) -> Answer {
    let (programs, sessions) = app.center(|c| (c.programs(), c.sessions())).await?;
    Ok(html(
        status,
        pages::programs(
            &app.frame(staff, Nav::Programs, notice),
            &programs,
            &sessions,
            app.now(),
            form,
            error,
        ),
    ))
}

async fn programs(State(app): State<Shared>, staff: Staff, uri: Uri) -> Answer {
    let blank = ProgramForm {
        kind: hearth_core::center::ProgramKind::SupportGroup
            .key()
            .to_owned(),
        ..ProgramForm::default()
    };
    programs_page(&app, &staff, notice(&uri), StatusCode::OK, &blank, None).await
}

async fn create_program(State(app): State<Shared>, posted: Posted) -> Answer {
    let form = program_form(&posted.fields);
    let error = match draft_of(&form) {
        Ok(draft) => match app.center(move |c| c.create_program(&draft)).await? {
            Ok(id) => {
                tracing::info!("staff console: {} created program {id}", posted.staff.name);
                return see_other(format!("/programs/{id}?done=program-created#add-sessions"));
            }
            Err(e) => refusal(&app, &posted.staff, e)?,
        },
        Err(e) => e,
    };
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    programs_page(&app, &posted.staff, None, status, &form, Some(&error)).await
}

/// What the program page shows besides the program, when a form on it failed.
#[derive(Default)]
struct ProgramErrors {
    edit: Option<(ProgramForm, String)>,
    session: Option<(SessionForm, String)>,
}

async fn program_page(
    app: &App,
    staff: &Staff,
    id: ProgramId,
    notice: Option<&str>,
    errors: ProgramErrors,
) -> Answer {
    let (program, sessions) = app.center(move |c| (c.program(id), c.sessions())).await?;
    let Some(program) = program else {
        return Err(not_found_page(app, staff, "program"));
    };
    let status = if errors.edit.is_some() || errors.session.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (edit, edit_error) = errors
        .edit
        .map_or_else(|| (ProgramForm::of(&program), None), |(f, e)| (f, Some(e)));
    let (new_session, session_error) = errors
        .session
        .map_or_else(|| (SessionForm::default(), None), |(f, e)| (f, Some(e)));
    let page = ProgramPage {
        program: &program,
        sessions: &sessions,
        now_ms: app.now(),
        edit: &edit,
        edit_error: edit_error.as_deref(),
        new_session: &new_session,
        session_error: session_error.as_deref(),
    };
    Ok(html(
        status,
        pages::program(&app.frame(staff, Nav::Programs, notice), &page),
    ))
}

async fn program(
    State(app): State<Shared>,
    staff: Staff,
    Path(id): Path<String>,
    uri: Uri,
) -> Answer {
    let id = id_of(&app, &staff, &id, "program")?;
    program_page(&app, &staff, id, notice(&uri), ProgramErrors::default()).await
}

async fn edit_program(State(app): State<Shared>, Path(id): Path<String>, posted: Posted) -> Answer {
    let id: ProgramId = id_of(&app, &posted.staff, &id, "program")?;
    let form = program_form(&posted.fields);
    let error = match draft_of(&form) {
        Ok(draft) => match app.center(move |c| c.edit_program(id, &draft)).await? {
            Ok(()) => return see_other(format!("/programs/{id}?done=program-saved")),
            Err(e) => refusal(&app, &posted.staff, e)?,
        },
        Err(e) => e,
    };
    let errors = ProgramErrors {
        edit: Some((form, error)),
        ..ProgramErrors::default()
    };
    program_page(&app, &posted.staff, id, None, errors).await
}

/// The sessions a form asks for: (starts, ends) of each week's, and the places.
fn sessions_of(form: &SessionForm, offset: UtcOffset) -> Result<(Vec<(u64, u64)>, u16), String> {
    let starts = when::parse_datetime_local(&form.starts, offset)
        .ok_or("Give the day and time the session starts.")?;
    let clock = when::parse_clock(&form.ends).ok_or("Give the time the session ends.")?;
    let ends = when::next_at(starts, clock, offset).ok_or("Give the time the session ends.")?;
    if ends - starts > LONGEST_SESSION_MS {
        return Err(format!(
            "That session would last until {}: check the time it ends.",
            when::moment(ends, offset)
        ));
    }
    let capacity: u16 = form
        .capacity
        .parse()
        .ok()
        .filter(|n| (1..=hearth_core::center::model::limits::CAPACITY).contains(n))
        .ok_or("Places: a number from 1 to 1000.")?;
    let weeks: u64 = form
        .weeks
        .parse()
        .ok()
        .filter(|n| (1..=MOST_WEEKS).contains(n))
        .ok_or(format!("Weeks: a number from 1 to {MOST_WEEKS}."))?;
    let week = 7 * when::DAY_MS;
    Ok((
        (0..weeks)
            .map(|n| (starts + n * week, ends + n * week))
            .collect(),
        capacity,
    ))
}

async fn add_sessions(State(app): State<Shared>, Path(id): Path<String>, posted: Posted) -> Answer {
    let id: ProgramId = id_of(&app, &posted.staff, &id, "program")?;
    let f = &posted.fields;
    let form = SessionForm {
        starts: f.line("starts"),
        ends: f.line("ends"),
        capacity: f.line("capacity"),
        weeks: f.line("weeks"),
    };
    let error = match sessions_of(&form, app.offset) {
        Ok((times, capacity)) => {
            let wanted = times.len();
            let added = app
                .center(move |c| {
                    let mut added = 0;
                    for (starts, ends) in times {
                        c.add_session(id, starts, ends, capacity)?;
                        added += 1;
                    }
                    Ok::<_, CenterError>(added)
                })
                .await?;
            match added {
                Ok(n) => {
                    tracing::info!(
                        "staff console: {} added {n} sessions to program {id}",
                        posted.staff.name
                    );
                    return see_other(format!("/programs/{id}?done=sessions-added"));
                }
                Err(e) => {
                    let why = refusal(&app, &posted.staff, e)?;
                    if wanted > 1 {
                        format!("Not every session could be added (see the list above): {why}")
                    } else {
                        why
                    }
                }
            }
        }
        Err(e) => e,
    };
    let errors = ProgramErrors {
        session: Some((form, error)),
        ..ProgramErrors::default()
    };
    program_page(&app, &posted.staff, id, None, errors).await
}

// ---- sessions and rosters ----

async fn roster_page(
    app: &App,
    staff: &Staff,
    id: SessionId,
    notice: Option<&str>,
    capacity_error: Option<&str>,
) -> Answer {
    let found = app
        .center(move |c| {
            let session = c.session(id)?;
            let program = c.program(session.program)?;
            Some((session, program, c.roster(id).unwrap_or_default()))
        })
        .await?;
    let Some((session, program, lines)) = found else {
        return Err(not_found_page(app, staff, "session"));
    };
    let status = if capacity_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(html(
        status,
        pages::roster(
            &app.frame(staff, Nav::Week, notice),
            &session,
            &program,
            &lines,
            capacity_error,
        ),
    ))
}

async fn roster(
    State(app): State<Shared>,
    staff: Staff,
    Path(id): Path<String>,
    uri: Uri,
) -> Answer {
    let id = id_of(&app, &staff, &id, "session")?;
    roster_page(&app, &staff, id, notice(&uri), None).await
}

async fn roster_csv(State(app): State<Shared>, staff: Staff, Path(id): Path<String>) -> Answer {
    let id: SessionId = id_of(&app, &staff, &id, "session")?;
    let found = app
        .center(move |c| Some((c.session(id)?, c.roster(id)?)))
        .await?;
    let Some((session, lines)) = found else {
        return Err(not_found_page(&app, &staff, "session"));
    };
    let day = when::datetime_local(session.starts_ms, app.offset);
    let day = day.get(..10).unwrap_or("");
    csv(
        &format!("roster-{day}-session-{id}.csv"),
        center::roster_csv(&lines),
    )
}

async fn set_capacity(State(app): State<Shared>, Path(id): Path<String>, posted: Posted) -> Answer {
    let id: SessionId = id_of(&app, &posted.staff, &id, "session")?;
    let error = match posted.fields.line("capacity").parse::<u16>() {
        Ok(capacity) => match app.center(move |c| c.set_capacity(id, capacity)).await? {
            Ok(()) => return see_other(format!("/sessions/{id}?done=places-changed")),
            Err(e) => refusal(&app, &posted.staff, e)?,
        },
        Err(_) => "Places: a number from 1 to 1000.".to_owned(),
    };
    roster_page(&app, &posted.staff, id, None, Some(&error)).await
}

async fn confirm_cancel(State(app): State<Shared>, staff: Staff, Path(id): Path<String>) -> Answer {
    let id: SessionId = id_of(&app, &staff, &id, "session")?;
    let found = app
        .center(move |c| {
            let session = c.session(id)?;
            let program = c.program(session.program)?;
            Some((session, program))
        })
        .await?;
    let Some((session, program)) = found else {
        return Err(not_found_page(&app, &staff, "session"));
    };
    if session.cancelled {
        return see_other(format!("/sessions/{id}"));
    }
    ok(pages::cancel_session(
        &app.frame(&staff, Nav::Programs, None),
        &session,
        &program.draft.title,
    ))
}

async fn cancel_session(
    State(app): State<Shared>,
    Path(id): Path<String>,
    posted: Posted,
) -> Answer {
    let id: SessionId = id_of(&app, &posted.staff, &id, "session")?;
    let done = app
        .center(move |c| c.cancel_session(id).map(|()| c.session(id)))
        .await?;
    match done {
        Ok(session) => {
            tracing::info!(
                "staff console: {} cancelled session {id}",
                posted.staff.name
            );
            let back = session.map_or_else(
                || "/programs".to_owned(),
                |s| format!("/programs/{}?done=session-cancelled", s.program),
            );
            see_other(back)
        }
        Err(e) => {
            let why = refusal(&app, &posted.staff, e)?;
            roster_page(&app, &posted.staff, id, None, Some(&why)).await
        }
    }
}

async fn staff_action(
    State(app): State<Shared>,
    Path((id, action)): Path<(String, String)>,
    posted: Posted,
) -> Answer {
    let id: SignUpId = id_of(&app, &posted.staff, &id, "sign-up")?;
    let Some(act) = StaffAction::from_key(&action) else {
        return Err(not_found_page(&app, &posted.staff, "action"));
    };
    match app.center(move |c| c.staff_action(id, act)).await? {
        Ok(session) => see_other(format!(
            "/sessions/{session}?done=roster-changed#signup-{id}"
        )),
        Err(e) => {
            // Only "no such sign-up" or a failed write get here: neither has a form.
            refusal(&app, &posted.staff, e)?;
            Err(failure())
        }
    }
}

// ---- proposals and resources ----

async fn proposals(State(app): State<Shared>, staff: Staff, uri: Uri) -> Answer {
    let (proposals, programs) = app.center(|c| (c.proposals(), c.programs())).await?;
    ok(pages::proposals(
        &app.frame(&staff, Nav::Proposals, notice(&uri)),
        &proposals,
        &programs,
    ))
}

async fn adopt(State(app): State<Shared>, Path(id): Path<String>, posted: Posted) -> Answer {
    let id: ProposalId = id_of(&app, &posted.staff, &id, "proposal")?;
    let kind = match posted.fields.line("kind") {
        k if k.is_empty() => hearth_core::center::ProgramKind::Other,
        k => k
            .parse()
            .map_err(|_| not_found_page(&app, &posted.staff, "kind of program"))?,
    };
    match app.center(move |c| c.adopt(id, kind)).await? {
        Ok(program) => {
            tracing::info!(
                "staff console: {} made proposal {id} program {program}",
                posted.staff.name
            );
            see_other(format!("/programs/{program}?done=program-adopted#details"))
        }
        Err(e) => {
            let why = refusal(&app, &posted.staff, e)?;
            Ok(html(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::problem("The proposal could not become a program", &why),
            ))
        }
    }
}

async fn resources_page(
    app: &App,
    staff: &Staff,
    notice: Option<&str>,
    form: &ResourceForm,
    error: Option<&str>,
) -> Answer {
    let resources = app.center(|c| c.resources()).await?;
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(html(
        status,
        pages::resources(
            &app.frame(staff, Nav::Resources, notice),
            &resources,
            form,
            error,
        ),
    ))
}

async fn resources(State(app): State<Shared>, staff: Staff, uri: Uri) -> Answer {
    let blank = ResourceForm {
        kind: hearth_core::center::ResourceKind::Housing.key().to_owned(),
        ..ResourceForm::default()
    };
    resources_page(&app, &staff, notice(&uri), &blank, None).await
}

async fn add_resource(State(app): State<Shared>, posted: Posted) -> Answer {
    let f = &posted.fields;
    let form = ResourceForm {
        name: f.line("name"),
        kind: f.line("kind"),
        description: f.text("description"),
        hours: f.line("hours"),
        contact: f.line("contact"),
    };
    let draft = form.kind.parse().map(|kind| ResourceDraft {
        name: form.name.clone(),
        kind,
        description: form.description.clone(),
        hours: form.hours.clone(),
        contact: form.contact.clone(),
    });
    let error = match draft {
        Ok(draft) => match app.center(move |c| c.add_resource(&draft)).await? {
            Ok(_) => return see_other("/resources?done=resource-added".into()),
            Err(e) => refusal(&app, &posted.staff, e)?,
        },
        Err(e) => e.to_string(),
    };
    resources_page(&app, &posted.staff, None, &form, Some(&error)).await
}

async fn remove_resource(
    State(app): State<Shared>,
    Path(id): Path<String>,
    posted: Posted,
) -> Answer {
    let id: ResourceId = id_of(&app, &posted.staff, &id, "partner")?;
    match app.center(move |c| c.remove_resource(id)).await? {
        Ok(()) => see_other("/resources?done=resource-removed".into()),
        Err(e) => {
            refusal(&app, &posted.staff, e)?;
            Err(failure())
        }
    }
}

// ---- the funder counts ----

async fn report(State(app): State<Shared>, staff: Staff) -> Answer {
    let now = app.now();
    let rows = app.center(move |c| c.report(now)).await?;
    ok(pages::report(&app.frame(&staff, Nav::Report, None), &rows))
}

async fn report_csv(State(app): State<Shared>, _staff: Staff) -> Answer {
    let now = app.now();
    let rows = app.center(move |c| c.report(now)).await?;
    let month = when::datetime_local(now, app.offset);
    csv(
        &format!("hearth-counts-{}.csv", month.get(..7).unwrap_or("")),
        center::report::csv(&rows),
    )
}

// ---- the rest ----

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        STYLE,
    )
        .into_response()
}

async fn not_found(State(app): State<Shared>, staff: Staff) -> Response {
    not_found_page(&app, &staff, "page")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_form_makes_one_session_a_week_and_refuses_odd_ones() {
        let utc = UtcOffset::UTC;
        let form = SessionForm {
            starts: "2026-12-01T18:00".into(),
            ends: "19:30".into(),
            capacity: "12".into(),
            weeks: "3".into(),
        };
        let (times, capacity) = sessions_of(&form, utc).unwrap();
        assert_eq!(capacity, 12);
        assert_eq!(times.len(), 3);
        let week = 7 * when::DAY_MS;
        assert_eq!(times[2].0 - times[0].0, 2 * week);
        assert_eq!(times[0].1 - times[0].0, 90 * 60_000);
        let typo = SessionForm {
            ends: "09:30".into(),
            ..form.clone()
        };
        assert!(
            sessions_of(&typo, utc)
                .unwrap_err()
                .contains("check the time")
        );
        for (capacity, weeks) in [
            ("0", "1"),
            ("1001", "1"),
            ("x", "1"),
            ("5", "0"),
            ("5", "27"),
        ] {
            let bad = SessionForm {
                capacity: capacity.into(),
                weeks: weeks.into(),
                ..form.clone()
            };
            assert!(sessions_of(&bad, utc).is_err(), "{capacity} {weeks}");
        }
    }

    #[test]
    fn notices_are_fixed_words_never_what_the_url_says() {
        let uri: Uri = "/programs/1?done=program-saved".parse().unwrap();
        assert_eq!(notice(&uri), Some("Changes saved."));
        let uri: Uri = "/?done=%3Cscript%3E".parse().unwrap();
        assert_eq!(notice(&uri), None);
    }
}
