//! The staff console: the web pages a center's staff use to look after their week —
//! programs and their sessions, each session's roster (confirm, wait-list, cancel, mark
//! attended; print it or download it as CSV), members' proposals, the resource
//! directory and the funder counts. Pages are rendered on the server and work without
//! JavaScript; every value written into a page goes through one `escape`.
//!
//! It owns the HTTP side (axum, bound to loopback unless the operator says otherwise),
//! staff accounts (`staff`: a file in the hub's home, Argon2id hashes, re-read at every
//! login and request so `hearth-hub staff add/remove` works while the hub serves),
//! sign-in (`auth`: a login rate limit, sessions in memory, a CSRF token per session)
//! and how times are shown and read (`when`, in the hub machine's UTC offset).
//!
//! It does not own the center's data or its rules (places, wait-list, suppression of
//! small counts, retention): those are `center`'s, and every change goes through it.
//! It shows nothing of a member beyond the nickname, the note and the status their
//! sign-up carries; it never sees devices, pseudonyms or journals.

mod auth;
mod listener;
mod pages;
mod request;
mod routes;
pub mod staff;
mod when;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::center::Center;

/// Where `hearth-hub serve` puts the console unless told otherwise: this machine only.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 4920);

/// How long [`Console::stop`] lets requests in flight finish before it drops them.
const STOP_WITHIN: Duration = Duration::from_secs(5);

/// Whether the browser reaches the console over TLS (decides the cookies' `Secure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// Plain HTTP, as the console serves itself (fine on loopback).
    Plain,
    /// Through a TLS proxy in front of it: cookies are sent over HTTPS only.
    BehindTls,
}

/// How to run the console.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// The address it listens on (port 0: any free port, see [`Console::addr`]).
    pub addr: SocketAddr,
    /// Plain HTTP or behind a TLS proxy.
    pub served: Served,
    /// The offset times are shown in and forms are read in: the hub machine's, taken
    /// once at startup (reading it later is not sound in a threaded process).
    pub utc_offset: time::UtcOffset,
}

impl ConsoleConfig {
    /// A console on `addr` over plain HTTP, showing times in UTC.
    pub fn new(addr: SocketAddr) -> Self {
        ConsoleConfig {
            addr,
            served: Served::Plain,
            utc_offset: time::UtcOffset::UTC,
        }
    }
}

/// What the console or a staff command could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// The address is taken or not ours.
    #[error("the staff console cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The staff file could not be read or written.
    #[error("the staff file {path}: {source}")]
    StaffFile {
        /// Its path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A name or password that cannot be used, and why.
    #[error("{0}")]
    Invalid(String),
    /// `staff add` for a name that has an account already.
    #[error("{0} already has an account (pass --replace to give them a new password)")]
    Exists(String),
    /// `staff remove` for a name without an account.
    #[error("nobody called {0} has an account")]
    NoSuchStaff(String),
}

/// The console, serving.
#[derive(Debug)]
pub struct Console {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Console {
    /// Binds `config.addr` and serves the console for `center`, with the staff accounts
    /// of `home`; `clock_offset_ms` moves "now" as it does for the rest of the hub.
    pub async fn start(
        config: &ConsoleConfig,
        center: Arc<Center>,
        home: PathBuf,
        clock_offset_ms: i64,
    ) -> Result<Console, ConsoleError> {
        let bind = |source| ConsoleError::Bind {
            addr: config.addr,
            source,
        };
        let tcp = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(bind)?;
        let addr = tcp.local_addr().map_err(bind)?;
        // Behind a proxy, requests name the proxy's host; served plainly on loopback,
        // only this machine's names are answered.
        let hosts = if addr.ip().is_loopback() && config.served == Served::Plain {
            request::Hosts::Loopback
        } else {
            request::Hosts::Any
        };
        let app = Arc::new(request::App::new(
            center,
            home,
            clock_offset_ms,
            config.utc_offset,
            config.served,
            hosts,
        ));
        let service =
            routes::router(app).into_make_service_with_connect_info::<listener::ClientAddr>();
        let (stop, stopped) = oneshot::channel::<()>();
        let server =
            axum::serve(listener::Bounded::new(tcp), service).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
        let task = tokio::spawn(async move {
            if let Err(e) = server.await {
                tracing::warn!("the staff console stopped: {e}");
            }
        });
        if config.served == Served::Plain && !addr.ip().is_loopback() {
            tracing::warn!(
                "the staff console on {addr} is plain HTTP: passwords cross the network in the clear unless a TLS proxy fronts it"
            );
        }
        tracing::info!("staff console on http://{addr}/");
        Ok(Console { addr, stop, task })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests in flight finish for a few seconds, then stops.
    pub async fn stop(self) {
        let Console { stop, mut task, .. } = self;
        let _ = stop.send(());
        if tokio::time::timeout(STOP_WITHIN, &mut task).await.is_err() {
            task.abort();
        }
    }
}
