//! The console's HTML: one function per page, taking what it shows and returning the
//! page. Every value that is not a number goes through [`escape`] before it is written
//! into the page, in text and in attributes alike; nothing here reads the center or the
//! request (the routes hand in what to show), and nothing shows more of a member than
//! the nickname, the note and the status of a sign-up.

use std::collections::HashMap;
use std::fmt::Write;

use hearth_core::center::{
    Program, ProgramId, ProgramKind, Proposal, Resource, ResourceKind, Session, SignUpStatus,
};
use time::UtcOffset;

use super::when;
use crate::center::RosterLine;
use crate::center::report::{self, Row};

/// Text made safe to put anywhere in a page: element content or a quoted attribute.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Which part of the console a page belongs to (the menu marks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Week,
    Programs,
    Proposals,
    Resources,
    Report,
}

const MENU: [(Nav, &str, &str); 5] = [
    (Nav::Week, "/", "This week"),
    (Nav::Programs, "/programs", "Programs"),
    (Nav::Proposals, "/proposals", "Proposals"),
    (Nav::Resources, "/resources", "Resources"),
    (Nav::Report, "/report", "Funder counts"),
];

/// What every signed-in page carries: who is signed in, the session's CSRF token for
/// its forms, where it is in the menu, and what the last action did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame<'a> {
    pub staff: &'a str,
    pub csrf: &'a str,
    pub nav: Nav,
    pub notice: Option<&'a str>,
    pub offset: UtcOffset,
}

impl Frame<'_> {
    /// The hidden field every form of the session carries.
    fn csrf_field(&self) -> String {
        format!(
            r#"<input type="hidden" name="csrf" value="{}">"#,
            escape(self.csrf)
        )
    }

    /// A form that is one button.
    fn button(&self, action: &str, label: &str, class: &str) -> String {
        format!(
            r#"<form method="post" action="{}" class="inline">{}<button type="submit" class="{}">{}</button></form>"#,
            escape(action),
            self.csrf_field(),
            escape(class),
            escape(label)
        )
    }
}

fn head(title: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{} · Hearth</title>
<link rel="stylesheet" href="/style.css">
</head>
"#,
        escape(title)
    )
}

/// A signed-in page: the menu, the notice, then `body` (already escaped HTML).
pub(crate) fn layout(frame: &Frame, title: &str, body: &str) -> String {
    let mut out = head(title);
    out.push_str(r#"<body><header class="top"><a class="brand" href="/">Hearth</a><nav>"#);
    for (nav, href, label) in MENU {
        let current = if nav == frame.nav {
            r#" aria-current="page""#
        } else {
            ""
        };
        let _ = write!(out, r#"<a href="{href}"{current}>{}</a>"#, escape(label));
    }
    let _ = write!(
        out,
        r#"</nav><form method="post" action="/logout" class="logout">{}<span class="who">{}</span> <button type="submit">Sign out</button></form></header>
<main>"#,
        frame.csrf_field(),
        escape(frame.staff)
    );
    if let Some(notice) = frame.notice {
        let _ = write!(
            out,
            r#"<p class="notice" role="status">{}</p>"#,
            escape(notice)
        );
    }
    out.push_str(body);
    out.push_str("</main></body></html>\n");
    out
}

/// A page with no menu (signed out, or refused).
pub(crate) fn bare(title: &str, body: &str) -> String {
    format!(
        r#"{}<body class="bare"><main><h1>{}</h1>{body}</main></body></html>
"#,
        head(title),
        escape(title)
    )
}

/// A refusal or failure, in plain words, with a way back.
pub(crate) fn problem(title: &str, message: &str) -> String {
    bare(
        title,
        &format!(
            r#"<p class="error" role="alert">{}</p><p><a href="/">Back to the console</a></p>"#,
            escape(message)
        ),
    )
}

/// The sign-in page.
pub(crate) fn login(token: &str, name: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default();
    bare(
        "Sign in",
        &format!(
            r#"<p>The staff console of this center's Hearth hub.</p>{error}
<form method="post" action="/login" class="card form" id="login">
<input type="hidden" name="csrf" value="{}">
<label for="name">Name</label>
<input id="name" name="name" autocomplete="username" required value="{}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p class="hint">No account yet? On the hub's machine: <code>hearth-hub staff add NAME</code>.</p>"#,
            escape(token),
            escape(name)
        ),
    )
}

fn titles(programs: &[Program]) -> HashMap<ProgramId, String> {
    programs
        .iter()
        .map(|p| (p.id, p.draft.title.clone()))
        .collect()
}

fn span(s: &Session, offset: UtcOffset) -> String {
    format!(
        "{}–{}",
        when::clock(s.starts_ms, offset),
        when::clock(s.ends_ms, offset)
    )
}

fn places(s: &Session) -> String {
    if s.cancelled {
        "cancelled".into()
    } else {
        format!("{} of {}", s.taken, s.capacity)
    }
}

/// The first page: the sessions of the next seven days, day by day.
pub(crate) fn week(
    frame: &Frame,
    from_ms: u64,
    sessions: &[Session],
    programs: &[Program],
) -> String {
    let offset = frame.offset;
    let titles = titles(programs);
    let mut body = format!(
        r#"<h1>This week</h1><p class="lede">{} to {}.</p>"#,
        escape(&when::day(from_ms, offset)),
        escape(&when::day(from_ms + 6 * when::DAY_MS, offset))
    );
    if programs.is_empty() {
        body.push_str(
            r#"<p class="empty">No programs yet. <a href="/programs">Add the center's first program</a>, then its sessions.</p>"#,
        );
    } else if sessions.is_empty() {
        body.push_str(r#"<p class="empty">No sessions in the next seven days. Add them from a <a href="/programs">program's page</a>.</p>"#);
    }
    let mut day = None;
    for s in sessions {
        let date = when::date(s.starts_ms, offset);
        if day != Some(date) {
            if day.is_some() {
                body.push_str("</tbody></table>");
            }
            day = Some(date);
            let _ = write!(
                body,
                r#"<h2>{}</h2><table class="sessions"><thead><tr><th>Time</th><th>Program</th><th>Places taken</th><th>Waiting</th><th><span class="sr">Roster</span></th></tr></thead><tbody>"#,
                escape(&when::day(s.starts_ms, offset))
            );
        }
        let title = titles.get(&s.program).map(String::as_str).unwrap_or("?");
        let _ = write!(
            body,
            r#"<tr class="session{}" data-session="{}"><td>{}</td><td><a href="/programs/{}">{}</a></td><td>{}</td><td>{}</td><td><a href="/sessions/{}">Roster</a></td></tr>"#,
            if s.cancelled { " cancelled" } else { "" },
            s.id,
            escape(&span(s, offset)),
            s.program,
            escape(title),
            escape(&places(s)),
            s.waiting,
            s.id
        );
    }
    if day.is_some() {
        body.push_str("</tbody></table>");
    }
    layout(frame, "This week", &body)
}

/// What a program form holds (as typed, to show it again with an error).
#[derive(Debug, Clone, Default)]
pub(crate) struct ProgramForm {
    pub title: String,
    pub kind: String,
    pub description: String,
    pub facilitator: String,
    pub place: String,
    pub accessibility: String,
}

impl ProgramForm {
    pub fn of(p: &Program) -> Self {
        ProgramForm {
            title: p.draft.title.clone(),
            kind: p.draft.kind.key().to_owned(),
            description: p.draft.description.clone(),
            facilitator: p.draft.facilitator.clone(),
            place: p.draft.place.clone(),
            accessibility: p.draft.accessibility.clone(),
        }
    }
}

fn options<T: Copy>(
    all: &[T],
    chosen: &str,
    key: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> String {
    all.iter()
        .map(|&k| {
            format!(
                r#"<option value="{}"{}>{}</option>"#,
                escape(key(k)),
                if key(k) == chosen { " selected" } else { "" },
                escape(label(k))
            )
        })
        .collect()
}

fn error_line(error: Option<&str>) -> String {
    error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, escape(e)))
        .unwrap_or_default()
}

fn program_form(
    frame: &Frame,
    action: &str,
    form: &ProgramForm,
    submit: &str,
    error: Option<&str>,
) -> String {
    format!(
        r#"<form method="post" action="{}" class="card form program">{}{}
<label for="title">Title</label>
<input id="title" name="title" required maxlength="100" value="{}">
<label for="kind">Kind</label>
<select id="kind" name="kind">{}</select>
<label for="description">What happens there</label>
<textarea id="description" name="description" rows="4" maxlength="1000">{}</textarea>
<label for="facilitator">Facilitator <span class="hint">(a first name or a role)</span></label>
<input id="facilitator" name="facilitator" maxlength="200" value="{}">
<label for="place">Where</label>
<input id="place" name="place" maxlength="200" value="{}">
<label for="accessibility">Accessibility</label>
<textarea id="accessibility" name="accessibility" rows="2" maxlength="1000">{}</textarea>
<button type="submit">{}</button>
</form>"#,
        escape(action),
        frame.csrf_field(),
        error_line(error),
        escape(&form.title),
        options(
            ProgramKind::ALL,
            &form.kind,
            ProgramKind::key,
            ProgramKind::label
        ),
        escape(&form.description),
        escape(&form.facilitator),
        escape(&form.place),
        escape(&form.accessibility),
        escape(submit)
    )
}

/// Every program, and the form for a new one.
pub(crate) fn programs(
    frame: &Frame,
    programs: &[Program],
    sessions: &[Session],
    now_ms: u64,
    form: &ProgramForm,
    error: Option<&str>,
) -> String {
    let mut body = String::from("<h1>Programs</h1>");
    if programs.is_empty() {
        body.push_str(r#"<p class="empty">No programs yet: describe the first one below.</p>"#);
    } else {
        body.push_str(r#"<table class="programs"><thead><tr><th>Program</th><th>Kind</th><th>Facilitator</th><th>Where</th><th>Next session</th></tr></thead><tbody>"#);
        for p in programs {
            let next = sessions
                .iter()
                .find(|s| s.program == p.id && !s.cancelled && s.starts_ms > now_ms)
                .map(|s| {
                    format!(
                        "{}, {}",
                        when::short_day(s.starts_ms, frame.offset),
                        when::clock(s.starts_ms, frame.offset)
                    )
                })
                .unwrap_or_else(|| "none planned".into());
            let _ = write!(
                body,
                r#"<tr class="program" data-program="{}"><td><a href="/programs/{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                p.id,
                p.id,
                escape(&p.draft.title),
                escape(p.draft.kind.label()),
                escape(&p.draft.facilitator),
                escape(&p.draft.place),
                escape(&next)
            );
        }
        body.push_str("</tbody></table>");
    }
    body.push_str(r#"<h2 id="new">New program</h2>"#);
    body.push_str(&program_form(
        frame,
        "/programs",
        form,
        "Create program",
        error,
    ));
    layout(frame, "Programs", &body)
}

/// What the form for new sessions holds.
#[derive(Debug, Clone)]
pub(crate) struct SessionForm {
    pub starts: String,
    pub ends: String,
    pub capacity: String,
    pub weeks: String,
}

impl Default for SessionForm {
    fn default() -> Self {
        SessionForm {
            starts: String::new(),
            ends: String::new(),
            capacity: "12".into(),
            weeks: "1".into(),
        }
    }
}

fn session_rows(frame: &Frame, sessions: &[&Session], upcoming: bool) -> String {
    let mut out = String::from(
        r#"<table class="sessions"><thead><tr><th>When</th><th>Places taken</th><th>Waiting</th><th><span class="sr">Actions</span></th></tr></thead><tbody>"#,
    );
    for s in sessions {
        let cancel = if upcoming && !s.cancelled {
            format!(
                r#" <a href="/sessions/{}/cancel" class="danger">Cancel session…</a>"#,
                s.id
            )
        } else {
            String::new()
        };
        let _ = write!(
            out,
            r#"<tr class="session{}" data-session="{}"><td>{}, {}</td><td>{}</td><td>{}</td><td class="actions"><a href="/sessions/{}">Roster</a>{cancel}</td></tr>"#,
            if s.cancelled { " cancelled" } else { "" },
            s.id,
            escape(&when::short_day(s.starts_ms, frame.offset)),
            escape(&span(s, frame.offset)),
            escape(&places(s)),
            s.waiting,
            s.id
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// What the program page shows with the program.
pub(crate) struct ProgramPage<'a> {
    pub program: &'a Program,
    pub sessions: &'a [Session],
    pub now_ms: u64,
    pub edit: &'a ProgramForm,
    pub edit_error: Option<&'a str>,
    pub new_session: &'a SessionForm,
    pub session_error: Option<&'a str>,
}

/// A program: its sessions, a form to add more, and its details to edit.
pub(crate) fn program(frame: &Frame, page: &ProgramPage) -> String {
    let p = page.program;
    let mine: Vec<&Session> = page.sessions.iter().filter(|s| s.program == p.id).collect();
    let (upcoming, past): (Vec<&Session>, Vec<&Session>) =
        mine.into_iter().partition(|s| s.ends_ms > page.now_ms);
    let mut body = format!(
        r#"<p class="crumbs"><a href="/programs">Programs</a></p><h1>{}</h1><p class="lede">{}{}</p>"#,
        escape(&p.draft.title),
        escape(p.draft.kind.label()),
        if p.draft.place.is_empty() {
            String::new()
        } else {
            format!(" · {}", escape(&p.draft.place))
        }
    );
    body.push_str("<h2>Coming sessions</h2>");
    if upcoming.is_empty() {
        body.push_str(r#"<p class="empty">None planned.</p>"#);
    } else {
        body.push_str(&session_rows(frame, &upcoming, true));
    }
    let f = page.new_session;
    let _ = write!(
        body,
        r#"<h2 id="add-sessions">Add sessions</h2>
<form method="post" action="/programs/{}/sessions" class="card form session">{}{}
<label for="starts">Starts</label>
<input id="starts" name="starts" type="datetime-local" required value="{}">
<label for="ends">Ends at</label>
<input id="ends" name="ends" type="time" required value="{}">
<label for="capacity">Places</label>
<input id="capacity" name="capacity" type="number" min="1" max="1000" required value="{}">
<label for="weeks">How many weeks <span class="hint">(1: only this one; 4: this one and the next three weeks at the same time)</span></label>
<input id="weeks" name="weeks" type="number" min="1" max="26" required value="{}">
<button type="submit">Add session</button>
</form>"#,
        p.id,
        frame.csrf_field(),
        error_line(page.session_error),
        escape(&f.starts),
        escape(&f.ends),
        escape(&f.capacity),
        escape(&f.weeks)
    );
    if !past.is_empty() {
        let recent: Vec<&Session> = past.into_iter().rev().take(20).collect();
        body.push_str("<h2>Past sessions</h2>");
        body.push_str(&session_rows(frame, &recent, false));
    }
    body.push_str(r#"<h2 id="details">Details</h2>"#);
    body.push_str(&program_form(
        frame,
        &format!("/programs/{}", p.id),
        page.edit,
        "Save changes",
        page.edit_error,
    ));
    layout(frame, &p.draft.title, &body)
}

/// Asks before a session is cancelled (members on its list are told).
pub(crate) fn cancel_session(frame: &Frame, session: &Session, title: &str) -> String {
    let listed = u32::from(session.taken) + u32::from(session.waiting);
    let body = format!(
        r#"<p class="crumbs"><a href="/programs/{}">{}</a></p><h1>Cancel this session?</h1>
<p class="lede">{} on {}, {}.</p>
<p>{} This cannot be undone.</p>
<form method="post" action="/sessions/{}/cancel" class="inline">{}<button type="submit" class="danger">Cancel this session</button></form>
<a href="/programs/{}" class="button-like">Keep it</a>"#,
        session.program,
        escape(title),
        escape(title),
        escape(&when::day(session.starts_ms, frame.offset)),
        escape(&span(session, frame.offset)),
        match listed {
            0 => "Nobody is on its list yet.".to_owned(),
            1 => "The member on its list is told the next time their phone syncs with the hub."
                .to_owned(),
            n => format!(
                "The {n} members on its list are told the next time their phones sync with the hub."
            ),
        },
        session.id,
        frame.csrf_field(),
        session.program
    );
    layout(frame, "Cancel a session", &body)
}

/// The key a roster row carries in `data-status`.
pub(crate) fn status_key(status: SignUpStatus) -> &'static str {
    match status {
        SignUpStatus::Pending => "pending",
        SignUpStatus::Confirmed => "confirmed",
        SignUpStatus::Waitlisted { .. } => "waitlisted",
        SignUpStatus::Withdrawn => "withdrawn",
        SignUpStatus::Cancelled => "cancelled",
        SignUpStatus::Gone => "gone",
    }
}

/// A session's roster: who signed up, what they asked staff to know, where they stand.
pub(crate) fn roster(
    frame: &Frame,
    session: &Session,
    program: &Program,
    lines: &[RosterLine],
    capacity_error: Option<&str>,
) -> String {
    let offset = frame.offset;
    let mut body = format!(
        r#"<p class="crumbs no-print"><a href="/programs/{}">{}</a></p>
<h1>{}</h1>
<p class="lede">{}, {}{}{}</p>
<p class="counts">{} · {} waiting</p>"#,
        program.id,
        escape(&program.draft.title),
        escape(&program.draft.title),
        escape(&when::day(session.starts_ms, offset)),
        escape(&span(session, offset)),
        if program.draft.place.is_empty() {
            String::new()
        } else {
            format!(" · {}", escape(&program.draft.place))
        },
        if program.draft.facilitator.is_empty() {
            String::new()
        } else {
            format!(" · with {}", escape(&program.draft.facilitator))
        },
        if session.cancelled {
            "Cancelled".to_owned()
        } else {
            format!("{} of {} places taken", session.taken, session.capacity)
        },
        session.waiting
    );
    if session.cancelled {
        body.push_str(r#"<p class="error">This session is cancelled; members on its list have been told.</p>"#);
    }
    let _ = write!(
        body,
        r#"<p class="no-print tools"><a href="/sessions/{}/roster.csv" download>Download as CSV</a> · To print it, use the browser's Print: the buttons stay off the paper.</p>"#,
        session.id
    );
    if lines.is_empty() {
        body.push_str(r#"<p class="empty">Nobody has signed up yet.</p>"#);
    } else {
        body.push_str(r#"<table class="roster"><thead><tr><th>Nickname</th><th>Status</th><th>Present</th><th>Note</th><th>Signed up</th><th class="no-print"><span class="sr">Actions</span></th></tr></thead><tbody>"#);
        for l in lines {
            let key = status_key(l.status);
            let mut actions = String::new();
            let mut act = |action: &str, label: &str| {
                let _ = write!(
                    actions,
                    r#"<button type="submit" formaction="/signups/{}/{action}" class="{action}">{}</button> "#,
                    l.id,
                    escape(label)
                );
            };
            if !matches!(l.status, SignUpStatus::Confirmed) {
                act("confirm", "Confirm");
            }
            if !matches!(l.status, SignUpStatus::Waitlisted { .. }) {
                act("waitlist", "Wait-list");
            }
            if !matches!(l.status, SignUpStatus::Cancelled | SignUpStatus::Withdrawn) {
                act("cancel", "Cancel");
            }
            if l.attended {
                act("absent", "Mark absent");
            } else {
                act("attended", "Mark attended");
            }
            let _ = write!(
                body,
                r#"<tr class="signup" id="signup-{}" data-status="{key}" data-attended="{}"><td class="nickname">{}</td><td class="status">{}</td><td class="present">{}</td><td class="note">{}</td><td class="when">{}</td><td class="actions no-print"><form method="post" action="/signups/{}/confirm">{}{}</form></td></tr>"#,
                l.id,
                l.attended,
                escape(&l.nickname),
                escape(&l.status.describe()),
                if l.attended {
                    "present"
                } else {
                    r#"<span class="box" aria-hidden="true"></span>"#
                },
                escape(&l.note),
                escape(&when::moment(l.arrived_ms, offset)),
                l.id,
                frame.csrf_field(),
                actions
            );
        }
        body.push_str("</tbody></table>");
    }
    if !session.cancelled {
        let _ = write!(
            body,
            r#"<form method="post" action="/sessions/{}/capacity" class="card form inline-form no-print">{}{}
<label for="capacity">Places</label>
<input id="capacity" name="capacity" type="number" min="1" max="1000" required value="{}">
<button type="submit">Change places</button>
<span class="hint">More places go to the wait-list first, in the order people signed up.</span>
</form>"#,
            session.id,
            frame.csrf_field(),
            error_line(capacity_error),
            session.capacity
        );
    }
    layout(frame, &format!("Roster: {}", program.draft.title), &body)
}

/// Members' proposals, most interest first, each one step from being a program.
pub(crate) fn proposals(frame: &Frame, proposals: &[Proposal], programs: &[Program]) -> String {
    let titles = titles(programs);
    let mut body = String::from(
        r#"<h1>Proposals from members</h1><p class="lede">Most interest first. Members see how many are interested, never who.</p>"#,
    );
    if proposals.is_empty() {
        body.push_str(r#"<p class="empty">No proposals yet.</p>"#);
        return layout(frame, "Proposals", &body);
    }
    body.push_str(r#"<table class="proposals"><thead><tr><th>Proposal</th><th>Interest</th><th><span class="sr">Program</span></th></tr></thead><tbody>"#);
    for p in proposals {
        let mut what = format!(r#"<strong>{}</strong>"#, escape(&p.draft.title));
        if !p.draft.when.is_empty() {
            let _ = write!(
                what,
                r#"<br><span class="hint">{}</span>"#,
                escape(&p.draft.when)
            );
        }
        if !p.draft.note.is_empty() {
            let _ = write!(what, r#"<div class="note">{}</div>"#, escape(&p.draft.note));
        }
        let action = match p.program {
            Some(id) => format!(
                r#"Now a program: <a href="/programs/{id}">{}</a>"#,
                escape(titles.get(&id).map(String::as_str).unwrap_or("(removed)"))
            ),
            None => format!(
                r#"<form method="post" action="/proposals/{}/adopt" class="inline">{}<label class="sr" for="kind-{}">Kind</label><select id="kind-{}" name="kind">{}</select> <button type="submit">Make it a program</button></form>"#,
                p.id,
                frame.csrf_field(),
                p.id,
                p.id,
                options(
                    ProgramKind::ALL,
                    "other",
                    ProgramKind::key,
                    ProgramKind::label
                )
            ),
        };
        let _ = write!(
            body,
            r#"<tr class="proposal" data-proposal="{}"><td>{what}</td><td class="interest">{} interested</td><td>{action}</td></tr>"#,
            p.id, p.interested
        );
    }
    body.push_str("</tbody></table>");
    layout(frame, "Proposals", &body)
}

/// What the resource form holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResourceForm {
    pub name: String,
    pub kind: String,
    pub description: String,
    pub hours: String,
    pub contact: String,
}

/// The resource directory and the form for a new partner.
pub(crate) fn resources(
    frame: &Frame,
    resources: &[Resource],
    form: &ResourceForm,
    error: Option<&str>,
) -> String {
    let mut body = String::from(
        r#"<h1>Resource directory</h1><p class="lede">Partners the center refers people to. Members' phones carry this list.</p>"#,
    );
    if resources.is_empty() {
        body.push_str(r#"<p class="empty">The directory is empty.</p>"#);
    } else {
        body.push_str(r#"<table class="resources"><thead><tr><th>Partner</th><th>Helps with</th><th>What</th><th>Hours</th><th>Contact</th><th><span class="sr">Remove</span></th></tr></thead><tbody>"#);
        for r in resources {
            let _ = write!(
                body,
                r#"<tr class="resource" data-resource="{}"><td>{}</td><td>{}</td><td class="note">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                r.id,
                escape(&r.draft.name),
                escape(r.draft.kind.label()),
                escape(&r.draft.description),
                escape(&r.draft.hours),
                escape(&r.draft.contact),
                frame.button(&format!("/resources/{}/delete", r.id), "Remove", "danger")
            );
        }
        body.push_str("</tbody></table>");
    }
    let _ = write!(
        body,
        r#"<h2 id="add">Add a partner</h2>
<form method="post" action="/resources" class="card form resource">{}{}
<label for="name">Name</label>
<input id="name" name="name" required maxlength="100" value="{}">
<label for="kind">Helps with</label>
<select id="kind" name="kind">{}</select>
<label for="description">What exactly</label>
<textarea id="description" name="description" rows="3" maxlength="1000">{}</textarea>
<label for="hours">Hours</label>
<input id="hours" name="hours" maxlength="200" value="{}">
<label for="contact">How to reach them</label>
<input id="contact" name="contact" maxlength="200" value="{}">
<button type="submit">Add partner</button>
</form>"#,
        frame.csrf_field(),
        error_line(error),
        escape(&form.name),
        options(
            ResourceKind::ALL,
            &form.kind,
            ResourceKind::key,
            ResourceKind::label
        ),
        escape(&form.description),
        escape(&form.hours),
        escape(&form.contact)
    );
    layout(frame, "Resources", &body)
}

/// The funder counts, small counts of people suppressed as in the CSV.
pub(crate) fn report(frame: &Frame, rows: &[Row]) -> String {
    let mut body = format!(
        r#"<h1>Funder counts</h1><p class="lede">Per program and calendar month (UTC). Counts of people below {} are shown as “{}” so that nobody can be singled out, and there are no totals for the same reason.</p>
<p class="no-print tools"><a href="/report.csv" download>Download as CSV</a></p>"#,
        report::SUPPRESS_BELOW,
        escape(&report::cell(0))
    );
    if rows.is_empty() {
        body.push_str(r#"<p class="empty">Nothing to count yet.</p>"#);
        return layout(frame, "Funder counts", &body);
    }
    body.push_str(r#"<table class="report"><thead><tr><th>Month</th><th>Program</th><th>Sessions held</th><th>Sign-ups</th><th>Attendance</th><th>Unduplicated participants</th></tr></thead><tbody>"#);
    for r in rows {
        let _ = write!(
            body,
            r#"<tr><td>{}</td><td>{}</td><td class="number">{}</td><td class="number">{}</td><td class="number">{}</td><td class="number">{}</td></tr>"#,
            escape(&r.month),
            escape(&r.title),
            r.counts.sessions_held,
            escape(&report::cell(r.counts.signups)),
            escape(&report::cell(r.counts.attended)),
            escape(&report::cell(r.counts.participants))
        );
    }
    body.push_str("</tbody></table>");
    layout(frame, "Funder counts", &body)
}

/// A page that is not there, inside the console.
pub(crate) fn not_found(frame: &Frame, what: &str) -> String {
    layout(
        frame,
        "Not found",
        &format!(
            r#"<h1>Not found</h1><p>There is no such {}. <a href="/">Back to this week</a></p>"#,
            escape(what)
        ),
    )
}

#[cfg(test)]
mod tests {
    use hearth_core::center::{ProgramDraft, SessionId, SignUpId};

    use super::*;

    fn frame() -> Frame<'static> {
        Frame {
            staff: "rosa",
            csrf: "t0ken",
            nav: Nav::Week,
            notice: None,
            offset: UtcOffset::UTC,
        }
    }

    #[test]
    fn escape_leaves_no_markup_and_no_way_out_of_an_attribute() {
        assert_eq!(
            escape(r#"<script>alert("1")</script> & 'x'"#),
            "&lt;script&gt;alert(&quot;1&quot;)&lt;/script&gt; &amp; &#39;x&#39;"
        );
        assert_eq!(escape("Café ☕"), "Café ☕");
    }

    #[test]
    fn a_roster_shows_nickname_note_and_status_as_text_with_its_actions() {
        let program = Program {
            id: ProgramId(1),
            draft: ProgramDraft {
                title: "Art <b>".into(),
                kind: ProgramKind::Art,
                description: String::new(),
                facilitator: String::new(),
                place: String::new(),
                accessibility: String::new(),
            },
        };
        let session = Session {
            id: SessionId(2),
            program: ProgramId(1),
            starts_ms: 0,
            ends_ms: 3_600_000,
            capacity: 1,
            cancelled: false,
            taken: 1,
            waiting: 0,
        };
        let line = RosterLine {
            id: SignUpId(ulid::Ulid::from_parts(1, 2)),
            nickname: "<script>alert(1)</script>".into(),
            note: "\"><img src=x onerror=alert(1)>".into(),
            status: SignUpStatus::Confirmed,
            attended: false,
            arrived_ms: 0,
        };
        let html = roster(&frame(), &session, &program, &[line], None);
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("Art <b>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains(r#"class="signup""#) && html.contains(r#"data-status="confirmed""#));
        assert!(html.contains(">Mark attended<") && !html.contains(">Confirm<"));
        assert!(html.contains(r#"name="csrf" value="t0ken""#));
    }

    #[test]
    fn the_report_page_suppresses_small_counts() {
        let rows = vec![Row {
            program: ProgramId(1),
            title: "Art".into(),
            month: "2026-11".into(),
            counts: report::Counts {
                sessions_held: 2,
                signups: 7,
                attended: 3,
                participants: 2,
            },
        }];
        let html = report(&frame(), &rows);
        assert!(
            html.contains(r#"<td class="number">7</td><td class="number">fewer than 5</td>"#),
            "{html}"
        );
        assert!(!html.contains(">3<") && !html.contains(">2</td><td class=\"number\">fewer"));
    }
}
