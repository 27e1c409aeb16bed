//! An SMTP connection, on either side: plain TCP until STARTTLS (or at once with implicit TLS),
//! then TLS over the same socket. One type, so the listener's session loop and the client read
//! and write the same way before and after the upgrade.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    /// Runs the server side of the TLS handshake, within `timeout`. A plain connection becomes
    /// a TLS one; a failed or slow handshake is an error and the connection is dropped.
    pub async fn into_tls(
        self,
        config: Arc<rustls::ServerConfig>,
        timeout: Duration,
    ) -> io::Result<Conn> {
        let Conn::Plain(tcp) = self else {
            return Err(io::Error::other("TLS is already active"));
        };
        let handshake = TlsAcceptor::from(config).accept(tcp);
        finish(
            tokio::time::timeout(timeout, handshake)
                .await
                .map(|r| r.map(TlsStream::from)),
        )
    }

    /// Runs the client side of the TLS handshake with `server`, within `timeout`.
    pub async fn into_client_tls(
        self,
        config: Arc<rustls::ClientConfig>,
        server: ServerName<'static>,
        timeout: Duration,
    ) -> io::Result<Conn> {
        let Conn::Plain(tcp) = self else {
            return Err(io::Error::other("TLS is already active"));
        };
        let handshake = TlsConnector::from(config).connect(server, tcp);
        finish(
            tokio::time::timeout(timeout, handshake)
                .await
                .map(|r| r.map(TlsStream::from)),
        )
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Conn::Tls(_))
    }
}

fn finish(
    handshake: Result<io::Result<TlsStream<TcpStream>>, tokio::time::error::Elapsed>,
) -> io::Result<Conn> {
    match handshake {
        Ok(Ok(tls)) => Ok(Conn::Tls(Box::new(tls))),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "TLS handshake timed out",
        )),
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
