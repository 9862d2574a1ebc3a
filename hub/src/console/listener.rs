//! The console's TCP listener, bounded: so many connections at once (the next waits in
//! the kernel's backlog), and a connection that neither sends nor takes a byte for a
//! minute is closed (a request trickled in byte by byte cannot hold a place for ever).
//! axum's own listener has neither.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Connections served at once.
const MAX_CONNECTIONS: usize = 64;
/// A connection idle this long is closed.
const IDLE: Duration = Duration::from_secs(60);

/// The listener.
pub(crate) struct Bounded {
    tcp: TcpListener,
    places: Arc<Semaphore>,
    idle: Duration,
}

impl Bounded {
    pub fn new(tcp: TcpListener) -> Self {
        Self::with(tcp, MAX_CONNECTIONS, IDLE)
    }

    fn with(tcp: TcpListener, places: usize, idle: Duration) -> Self {
        Bounded {
            tcp,
            places: Arc::new(Semaphore::new(places)),
            idle,
        }
    }
}

impl Listener for Bounded {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        loop {
            // The semaphore is never closed; were it, waiting a moment and trying
            // again is all there is to do.
            let Ok(place) = self.places.clone().acquire_owned().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            match self.tcp.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (Conn::new(stream, place, self.idle), addr);
                }
                Err(e) => {
                    // Out of file descriptors, a connection reset before accept: wait
                    // a little rather than spin.
                    tracing::debug!("staff console accept: {e}");
                    drop(place);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// The address a request came from (for the login limit).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, Bounded>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, Bounded>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

/// One connection: its place among the connections, and its idle deadline.
pub(crate) struct Conn {
    stream: TcpStream,
    _place: OwnedSemaphorePermit,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl Conn {
    fn new(stream: TcpStream, place: OwnedSemaphorePermit, idle: Duration) -> Self {
        Conn {
            stream,
            _place: place,
            idle,
            deadline: Box::pin(tokio::time::sleep(idle)),
        }
    }

    fn moved(&mut self) {
        let idle = self.idle;
        self.deadline.as_mut().reset(Instant::now() + idle);
    }

    /// Waiting: `Pending`, or an error once the connection has been idle too long.
    fn waiting<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::ErrorKind::TimedOut.into())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(done) => {
                if buf.filled().len() > before {
                    this.moved();
                }
                Poll::Ready(done)
            }
            Poll::Pending => this.waiting(cx),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_write(cx, buf) {
            Poll::Ready(done) => {
                if matches!(done, Ok(n) if n > 0) {
                    this.moved();
                }
                Poll::Ready(done)
            }
            Poll::Pending => this.waiting(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_write_vectored(cx, bufs) {
            Poll::Ready(done) => {
                if matches!(done, Ok(n) if n > 0) {
                    this.moved();
                }
                Poll::Ready(done)
            }
            Poll::Pending => this.waiting(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_flush(cx) {
            Poll::Ready(done) => Poll::Ready(done),
            Poll::Pending => this.waiting(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn a_silent_connection_is_closed_and_its_place_given_to_the_next() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let mut listener = Bounded::with(tcp, 1, Duration::from_millis(500));
        let first = TcpStream::connect(addr).await.unwrap();
        let (mut conn, _) = listener.accept().await;
        // The only place is taken: the next connection waits in the backlog.
        let mut second = TcpStream::connect(addr).await.unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(waiting.is_err(), "a second connection was served at once");
        // Bytes keep a connection open; silence closes it.
        let mut buf = [0u8; 8];
        let writer = tokio::spawn(async move {
            let mut first = first;
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                first.write_all(b"x").await.unwrap();
            }
            first
        });
        for _ in 0..3 {
            assert_eq!(conn.read(&mut buf).await.unwrap(), 1);
        }
        let _first = writer.await.unwrap();
        let silent = conn.read(&mut buf).await.unwrap_err();
        assert_eq!(silent.kind(), io::ErrorKind::TimedOut);
        drop(conn);
        let (mut next, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
            .await
            .expect("the freed place goes to the waiting connection");
        second.write_all(b"hi").await.unwrap();
        assert_eq!(next.read(&mut buf).await.unwrap(), 2);
    }
}
