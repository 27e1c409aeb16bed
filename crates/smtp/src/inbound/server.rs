//! The tokio driver of the SMTP listener: one task per connection reads lines, feeds the
//! [`Session`], writes its replies and reads DATA. Replies are buffered and flushed only when
//! no complete command is left in the input, which is what makes PIPELINING cheap.
//!
//! What happens to an accepted message is the embedder's business ([`Inbound::accept`]); the
//! driver sends 250 only when that returns, i.e. after the spool has committed it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use super::session::{Body, Envelope, Limits, Recipient, Session, Step};
use crate::conn::Conn;
use crate::reply::Reply;

/// Longest command line accepted. RFC 5321 §4.5.3.1.4 sets 512 octets; extensions (SIZE, BODY,
/// SMTPUTF8, ORCPT...) push real clients past it, so allow 4 KiB before answering 500.
const MAX_COMMAND_LINE: usize = 4096;
/// Spare room kept in the read buffer before each read.
const READ_CHUNK: usize = 16 * 1024;
/// Longest an SMTP session may last, whatever it does: a client trickling bytes must not hold
/// a slot forever (the idle timeout alone is reset by every byte).
const MAX_SESSION: Duration = Duration::from_secs(3600);
/// Body bytes fed at once when a line has no end in sight.
const DATA_CHUNK: usize = 64 * 1024;

/// What the listener needs from the rest of Impulse.
pub trait Inbound: Send + Sync + 'static {
    /// Limits for a connection from `peer` to the listener configured as `listen` (Listen and
    /// Peer scopes), and the idle timeout. `listen` is the address as configured, not the
    /// connection's local address: a wildcard (`0.0.0.0:25`) or port 0 still names its scope.
    fn limits(&self, listen: SocketAddr, peer: SocketAddr) -> (Limits, Duration);
    /// What RCPT says of a recipient: a domain of ours (taken from anyone), another (relay
    /// clients only), or refused whoever asks.
    fn recipient(&self, address: &crate::Address) -> Recipient;
    /// Whether `peer` may try credentials now; `Err` holds how long it is still locked out
    /// after repeated failures.
    fn auth_allowed(&self, peer: std::net::IpAddr) -> Result<(), Duration> {
        let _ = peer;
        Ok(())
    }
    /// The outcome of a credential check from `peer`; returns how long to hold the answer back
    /// (a guessing client is slowed).
    fn auth_outcome(&self, peer: std::net::IpAddr, ok: bool) -> Duration {
        let _ = (peer, ok);
        Duration::ZERO
    }
    /// Stores an accepted message durably; returns its queue id, or the reason it was not stored.
    fn accept(
        &self,
        peer: SocketAddr,
        env: Envelope,
        body: Vec<u8>,
    ) -> impl Future<Output = Result<String, String>> + Send;
}

/// Serves one listening socket until `shutdown` turns true.
pub async fn serve<I: Inbound>(
    listener: TcpListener,
    inbound: Arc<I>,
    max_connections: usize,
    shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
    let Ok(listen) = listener.local_addr() else {
        return;
    };
    serve_with_slots(listener, listen, inbound, slots, shutdown).await;
}

/// As [`serve`], for the listener configured as `listen` (what [`Inbound::limits`] is told),
/// with the connection slots given by the caller, who may watch them (the console's
/// `show inbound` counts the slots in use).
pub async fn serve_with_slots<I: Inbound>(
    listener: TcpListener,
    listen: SocketAddr,
    inbound: Arc<I>,
    slots: Arc<Semaphore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let per_peer: Arc<PerPeer> = Arc::default();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly rather than spin.
                tracing::warn!(error = %e, "SMTP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let inbound = inbound.clone();
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                let shutdown = shutdown.clone();
                let per_peer = per_peer.clone();
                tokio::spawn(async move {
                    if let Err(e) =
                        connection(stream, listen, peer, inbound, shutdown, &per_peer).await
                    {
                        tracing::debug!(%peer, error = %e, "SMTP connection ended with an error");
                    }
                    drop(permit);
                });
            }
            Err(_) => {
                tokio::spawn(async move {
                    let mut s = stream;
                    let _ = s
                        .write_all(b"421 4.7.0 Too many connections, try again later\r\n")
                        .await;
                });
            }
        }
    }
}

/// The unit a client is counted by (connection limits here, the credential guard of the
/// binary): an IPv4 address (IPv4-mapped IPv6 too), or an IPv6 /64, one host's share — a
/// client holding a /64 would otherwise have 2^64 fresh addresses.
pub fn client(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => std::net::IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                std::net::IpAddr::V6(seg.into())
            }
        },
        v4 => v4,
    }
}

/// Connections open per client (see [`client`]).
#[derive(Default)]
struct PerPeer(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

/// One connection counted against its address while it lives.
struct PeerSlot<'a>(&'a PerPeer, std::net::IpAddr);

impl PerPeer {
    fn enter(&self, ip: std::net::IpAddr, max: usize) -> Option<PeerSlot<'_>> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if max > 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(PeerSlot(self, ip))
    }
}

impl Drop for PeerSlot<'_> {
    fn drop(&mut self) {
        let mut map = self.0.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.1);
            }
        }
    }
}

async fn connection<I: Inbound>(
    stream: TcpStream,
    listen: SocketAddr,
    peer: SocketAddr,
    inbound: Arc<I>,
    mut shutdown: watch::Receiver<bool>,
    per_peer: &PerPeer,
) -> std::io::Result<()> {
    let (limits, idle) = inbound.limits(listen, peer);
    let Some(_slot) = per_peer.enter(client(peer.ip()), limits.max_per_peer) else {
        let mut s = stream;
        tracing::debug!(%peer, "SMTP connection refused: Max_Connections_Per_Peer reached");
        s.write_all(b"421 4.7.0 Too many connections from your address, try again later\r\n")
            .await?;
        return Ok(());
    };
    let started = tokio::time::Instant::now();
    // A command line must arrive whole within the idle timeout, however slowly its bytes come.
    let mut line_deadline = started + idle;
    let mut conn = Conn::Plain(stream);
    let mut session = Session::new(limits);
    if session.limits().implicit_tls {
        let Some(config) = session.limits().tls_config.clone() else {
            return Err(std::io::Error::other("implicit TLS without a certificate"));
        };
        conn = conn.into_tls(config, idle).await?;
        session.tls_started();
    }
    let mut out = Vec::with_capacity(1024);
    session.greeting().write_to(&mut out);
    if session.limits().denied {
        conn.write_all(&out).await?;
        return conn.shutdown().await;
    }
    let mut buf = BytesMut::with_capacity(16 * 1024);
    // A command line too long: the rest of it, up to its newline, is skipped.
    let mut discarding = false;
    let mut close = false;
    let mut start_tls = false;
    loop {
        // Handle every complete line already received.
        while !close && !start_tls {
            let newline = memchr::memchr(b'\n', &buf);
            match session.in_data() {
                false => {
                    let Some(pos) = newline else {
                        if buf.len() > MAX_COMMAND_LINE {
                            if !discarding {
                                Reply::new(500, "5.5.2 Line too long").write_to(&mut out);
                            }
                            discarding = true;
                            buf.clear();
                        }
                        break;
                    };
                    let line = buf.split_to(pos + 1);
                    line_deadline = tokio::time::Instant::now() + idle;
                    if std::mem::take(&mut discarding) {
                        continue;
                    }
                    if line.len() > MAX_COMMAND_LINE {
                        Reply::new(500, "5.5.2 Line too long").write_to(&mut out);
                        continue;
                    }
                    let in_exchange = session.in_auth_exchange();
                    let auth = in_exchange
                        || line
                            .get(..5)
                            .is_some_and(|v| v.eq_ignore_ascii_case(b"AUTH "));
                    if auth
                        && !in_exchange
                        && let Err(left) = inbound.auth_allowed(peer.ip())
                    {
                        {
                            Reply::new(
                                454,
                                format!(
                                    "4.7.0 Too many authentication failures from your address, try again in {} s",
                                    left.as_secs().max(1)
                                ),
                            )
                            .write_to(&mut out);
                            continue;
                        }
                    }
                    let step = session.command(&line, |a| inbound.recipient(a));
                    // 535, or 421 when the session closes after its last allowed failure.
                    if let (true, Step::Reply(r) | Step::Close(r)) = (auth, &step)
                        && (r.code == 235 || r.code == 535 || r.code == 421)
                    {
                        {
                            let delay = inbound.auth_outcome(peer.ip(), r.code == 235);
                            if !delay.is_zero() {
                                tokio::time::sleep(delay).await;
                            }
                        }
                    }
                    match step {
                        Step::Reply(r) => r.write_to(&mut out),
                        Step::Close(r) => {
                            r.write_to(&mut out);
                            close = true;
                        }
                        Step::StartData(r) => r.write_to(&mut out),
                        Step::StartTls(r) => {
                            r.write_to(&mut out);
                            start_tls = true;
                        }
                    }
                }
                true => {
                    let Some(pos) = newline else {
                        if buf.len() >= DATA_CHUNK {
                            let chunk = buf.split_to(buf.len());
                            session.data_partial(&chunk);
                        }
                        break;
                    };
                    let line = buf.split_to(pos + 1);
                    let reply = match session.data_line(&line) {
                        Body::More => continue,
                        Body::Refused(reply) => reply,
                        Body::Complete(env, body) => {
                            // The client waits for this reply before sending more: flush first.
                            conn.write_all(&out).await?;
                            out.clear();
                            spool(&mut session, env, body, peer, inbound.as_ref()).await
                        }
                    };
                    reply.write_to(&mut out);
                    line_deadline = tokio::time::Instant::now() + idle;
                }
            }
        }
        if !out.is_empty() {
            conn.write_all(&out).await?;
            out.clear();
        }
        if close {
            let _ = conn.shutdown().await;
            return Ok(());
        }
        if std::mem::take(&mut start_tls) {
            // Whatever the client pipelined after STARTTLS was sent in the clear and must not
            // count as said over TLS (CVE-2011-0411): drop it.
            buf.clear();
            let Some(config) = session.limits().tls_config.clone() else {
                return Err(std::io::Error::other(
                    "STARTTLS offered without a certificate",
                ));
            };
            conn = conn.into_tls(config, idle).await?;
            session.tls_started();
            line_deadline = tokio::time::Instant::now() + idle;
            continue;
        }
        // `read_buf` reads only into spare capacity, which `split_to` keeps taking away: make
        // room first, or reads shrink to a few dozen bytes each.
        buf.reserve(READ_CHUNK);
        // In a body, each read must come within the idle timeout; a command line must be whole
        // by its deadline; the session itself ends at MAX_SESSION.
        let now = tokio::time::Instant::now();
        let mut deadline = if session.in_data() {
            now + idle
        } else {
            line_deadline
        };
        deadline = deadline.min(started + MAX_SESSION);
        let read = tokio::select! {
            r = tokio::time::timeout_at(deadline, conn.read_buf(&mut buf)) => r,
            _ = shutdown.changed() => {
                conn.write_all(b"421 4.3.2 Service shutting down\r\n").await?;
                return Ok(());
            }
        };
        match read {
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) if tokio::time::Instant::now() >= started + MAX_SESSION => {
                conn.write_all(b"421 4.4.2 Session time limit reached, closing connection\r\n")
                    .await?;
                return Ok(());
            }
            Err(_) => {
                conn.write_all(b"421 4.4.2 Idle timeout, closing connection\r\n")
                    .await?;
                return Ok(());
            }
        }
    }
}

/// Spools a message whose body is complete and gives the reply to its end of data.
async fn spool<I: Inbound>(
    session: &mut Session,
    env: Envelope,
    body: Vec<u8>,
    peer: SocketAddr,
    inbound: &I,
) -> Reply {
    let mut message = received_header(&env, peer, &session.limits().hostname).into_bytes();
    message.extend_from_slice(&body);
    let result = inbound.accept(peer, env, message).await;
    session.data_done(result.is_ok());
    match result {
        Ok(id) => Reply::new(250, format!("2.0.0 Ok: queued as {id}")),
        Err(reason) => {
            tracing::error!(%peer, %reason, "message not spooled");
            Reply::new(
                451,
                "4.3.0 Message not accepted: local storage error, try again later",
            )
        }
    }
}

/// The trace header RFC 5321 §4.4 asks every relay to add.
pub fn received_header(env: &Envelope, peer: SocketAddr, hostname: &str) -> String {
    // RFC 3848: S for TLS, A for an authenticated client.
    let with = match (env.esmtp, env.tls, env.authenticated.is_some()) {
        (false, false, _) => "SMTP",
        (true, false, false) => "ESMTP",
        (_, true, false) => "ESMTPS",
        (_, false, true) => "ESMTPA",
        (_, true, true) => "ESMTPSA",
    };
    let date = jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000");
    // The client's HELO name is its claim: only host-name characters are written.
    let helo = super::session::helo_text(&env.helo);
    let mut h = format!(
        "Received: from {helo} ([{}])\r\n\tby {hostname} (Impulse) with {with}",
        peer.ip()
    );
    if let [only] = env.recipients.as_slice() {
        h.push_str(&format!("\r\n\tfor <{only}>"));
    }
    h.push_str(&format!("; {date}\r\n"));
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_counted_per_client_and_released() {
        let per = PerPeer::default();
        let a: std::net::IpAddr = "2001:db8::1".parse().unwrap();
        let b: std::net::IpAddr = "2001:db8::2".parse().unwrap();
        let first = per.enter(client(a), 2).unwrap();
        let _second = per.enter(client(b), 2).unwrap();
        assert!(per.enter(client(a), 2).is_none(), "one /64 is one client");
        assert!(per.enter("192.0.2.1".parse().unwrap(), 2).is_some());
        drop(first);
        assert!(
            per.enter(client(a), 2).is_some(),
            "a slot comes back when its connection ends"
        );
        assert!(per.enter(client(a), 0).is_some(), "0: no limit");
    }

    #[test]
    fn a_helo_name_cannot_fake_the_trace() {
        let env = Envelope {
            helo: "x ([127.0.0.1]) by mx.victim\r\nX-Forged: 1".into(),
            sender: None,
            recipients: vec!["a@b.example".parse().unwrap()],
            esmtp: true,
            tls: false,
            authenticated: None,
        };
        let h = received_header(&env, "192.0.2.7:4000".parse().unwrap(), "gw.example");
        assert!(
            h.starts_with("Received: from x__[127.0.0.1]__by_mx.victim__X-Forged:_1 ([192.0.2.7])\r\n\tby gw.example (Impulse) with ESMTP\r\n\tfor <a@b.example>; "),
            "{h}"
        );
    }
}
