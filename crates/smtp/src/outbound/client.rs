//! The SMTP client used for delivery: one connection, several transactions, one outcome per
//! recipient.
//!
//! Own code on tokio rather than mail-send: a gateway needs the reply to each RCPT (mail-send's
//! `send` stops at the first refused recipient), PIPELINING (RFC 2920) to keep round trips down,
//! and the connection stage of a failure for Momentum's T/P log records.
//!
//! STARTTLS (RFC 3207) as the [`TlsPolicy`] says: opportunistic by default (RFC 7435: encrypt
//! when offered, no certificate check, and a failed handshake is retried once in the clear), or
//! required with the server's certificate verified against its host name.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpSocket;

use crate::address::{Address, ReversePath, reverse_path_text};
use crate::conn::Conn;
use crate::reply::{Class, Parsed, Reply, ReplyParser};

/// How the client uses STARTTLS.
#[derive(Clone, Debug)]
pub enum TlsPolicy {
    /// Never.
    No,
    /// When the server offers it, with any certificate; if the handshake fails the host is
    /// tried once more in the clear.
    Opportunistic(Arc<rustls::ClientConfig>),
    /// Always, with this (verifying) configuration; a server that does not offer STARTTLS, or
    /// whose certificate does not verify, is a temporary failure.
    Required(Arc<rustls::ClientConfig>),
}

/// Where a failed delivery attempt stood: the connection stages of docs/reference/momentum.md §6.7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Connect = 0,
    Mail = 3,
    Rcpt = 5,
    Data = 7,
    Body = 8,
    Confirm = 9,
    Ehlo = 11,
    Banner = 12,
    Rset = 14,
    StartTls = 16,
    TlsHandshake = 17,
}

/// A failure that ends the attempt for every recipient of the transaction.
#[derive(Clone, Debug)]
pub struct ClientError {
    pub stage: Stage,
    /// The remote reply, when the failure was one.
    pub reply: Option<Reply>,
    pub detail: String,
}

impl ClientError {
    fn local(stage: Stage, detail: impl Into<String>) -> Self {
        ClientError {
            stage,
            reply: None,
            detail: detail.into(),
        }
    }

    /// Whether retrying later could help: yes unless the server gave a 5xx reply.
    pub fn is_permanent(&self) -> bool {
        self.reply
            .as_ref()
            .is_some_and(|r| r.class() == Class::Permanent)
    }

    /// The text logs and bounces carry: the remote reply, or a local 4xx description.
    pub fn response(&self) -> String {
        match &self.reply {
            Some(r) => r.to_string(),
            None => format!("451 4.4.1 {}", self.detail),
        }
    }
}

/// Longest reply line accepted from a server.
const MAX_REPLY_LINE: usize = 8192;

pub struct Connection {
    /// Reads are buffered; writes go straight through to the connection.
    io: BufReader<Conn>,
    pub remote: SocketAddr,
    pipelining: bool,
    eight_bit: bool,
    size: bool,
    /// The server takes UTF-8 addresses (RFC 6531).
    smtputf8: bool,
    starttls: bool,
    timeout: Duration,
    line: Vec<u8>,
}

impl Connection {
    /// Connects to the first address that answers, reads the banner and says EHLO (HELO if
    /// EHLO is refused). No TLS.
    pub async fn connect(
        addrs: &[SocketAddr],
        bind: Option<IpAddr>,
        ehlo_name: &str,
        timeout: Duration,
    ) -> Result<Connection, ClientError> {
        let named: Vec<(SocketAddr, String)> =
            addrs.iter().map(|a| (*a, a.ip().to_string())).collect();
        Self::connect_tls(&named, bind, ehlo_name, timeout, &TlsPolicy::No).await
    }

    /// As [`Connection::connect`], each address with the host name its certificate must carry,
    /// using STARTTLS as `tls` says.
    pub async fn connect_tls(
        addrs: &[(SocketAddr, String)],
        bind: Option<IpAddr>,
        ehlo_name: &str,
        timeout: Duration,
        tls: &TlsPolicy,
    ) -> Result<Connection, ClientError> {
        let mut last = ClientError::local(Stage::Connect, "no address to connect to");
        for (addr, host) in addrs {
            let attempt = Self::connect_one(*addr, host, bind, ehlo_name, timeout, tls).await;
            let attempt = match attempt {
                // RFC 7435: a failed opportunistic handshake falls back to the clear.
                Err(e)
                    if e.stage == Stage::TlsHandshake
                        && matches!(tls, TlsPolicy::Opportunistic(_)) =>
                {
                    tracing::info!(%addr, error = %e.detail, "STARTTLS failed; delivering in the clear");
                    Self::connect_one(*addr, host, bind, ehlo_name, timeout, &TlsPolicy::No).await
                }
                other => other,
            };
            match attempt {
                Ok(c) => return Ok(c),
                // A 5xx banner or EHLO is the host's final word; other hosts may still take it.
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Whether the session runs over TLS.
    pub fn is_tls(&self) -> bool {
        self.io.get_ref().is_tls()
    }

    async fn connect_one(
        addr: SocketAddr,
        host: &str,
        bind: Option<IpAddr>,
        ehlo_name: &str,
        timeout: Duration,
        tls: &TlsPolicy,
    ) -> Result<Connection, ClientError> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(|e| ClientError::local(Stage::Connect, e.to_string()))?;
        if let Some(ip) = bind {
            socket.bind(SocketAddr::new(ip, 0)).map_err(|e| {
                ClientError::local(Stage::Connect, format!("cannot bind to {ip}: {e}"))
            })?;
        }
        let stream =
            tokio::time::timeout(timeout.min(Duration::from_secs(30)), socket.connect(addr))
                .await
                .map_err(|_| {
                    ClientError::local(Stage::Connect, format!("connect to {addr} timed out"))
                })?
                .map_err(|e| {
                    ClientError::local(Stage::Connect, format!("connect to {addr}: {e}"))
                })?;
        let _ = stream.set_nodelay(true);
        let mut c = Connection::over(Conn::Plain(stream), addr, timeout);
        let banner = c.read_reply(Stage::Banner).await?;
        if banner.code != 220 {
            return Err(ClientError {
                stage: Stage::Banner,
                reply: Some(banner),
                detail: String::new(),
            });
        }
        c.hello(ehlo_name).await?;
        let config = match tls {
            TlsPolicy::No => return Ok(c),
            TlsPolicy::Opportunistic(_) if !c.starttls => return Ok(c),
            TlsPolicy::Required(_) if !c.starttls => {
                return Err(ClientError::local(
                    Stage::StartTls,
                    format!("{host} does not offer STARTTLS, which TLS = required needs"),
                ));
            }
            TlsPolicy::Opportunistic(config) | TlsPolicy::Required(config) => config.clone(),
        };
        c.write(b"STARTTLS\r\n", Stage::StartTls).await?;
        let go = c.read_reply(Stage::StartTls).await?;
        if go.code != 220 && matches!(tls, TlsPolicy::Opportunistic(_)) {
            // RFC 3207 §4: refused STARTTLS leaves the session as it was, in the clear.
            return Ok(c);
        }
        if go.code != 220 {
            return Err(ClientError {
                stage: Stage::StartTls,
                reply: Some(go),
                detail: String::new(),
            });
        }
        let server = ServerName::try_from(host.to_string()).map_err(|e| {
            ClientError::local(Stage::TlsHandshake, format!("TLS name {host:?}: {e}"))
        })?;
        // Whatever the server sent after its 220 came in the clear: dropped with the buffer.
        let plain = c.io.into_inner();
        let conn = plain
            .into_client_tls(config, server, timeout)
            .await
            .map_err(|e| {
                ClientError::local(Stage::TlsHandshake, format!("TLS with {host}: {e}"))
            })?;
        let mut c = Connection::over(conn, addr, timeout);
        // RFC 3207 §4.2: forget what the server said before; ask again.
        c.hello(ehlo_name).await?;
        Ok(c)
    }

    fn over(conn: Conn, remote: SocketAddr, timeout: Duration) -> Connection {
        Connection {
            io: BufReader::new(conn),
            remote,
            pipelining: false,
            eight_bit: false,
            size: false,
            smtputf8: false,
            starttls: false,
            timeout,
            line: Vec::new(),
        }
    }

    /// EHLO (HELO if refused), noting the extensions the server offers.
    async fn hello(&mut self, ehlo_name: &str) -> Result<(), ClientError> {
        let c = self;
        c.write(format!("EHLO {ehlo_name}\r\n").as_bytes(), Stage::Ehlo)
            .await?;
        let ehlo = c.read_reply(Stage::Ehlo).await?;
        if ehlo.class() == Class::Positive {
            for kw in ehlo.lines.iter().skip(1) {
                let kw = kw.to_ascii_uppercase();
                c.pipelining |= kw == "PIPELINING";
                c.eight_bit |= kw == "8BITMIME";
                c.size |= kw.starts_with("SIZE");
                c.smtputf8 |= kw == "SMTPUTF8";
                c.starttls |= kw == "STARTTLS";
            }
        } else {
            c.write(format!("HELO {ehlo_name}\r\n").as_bytes(), Stage::Ehlo)
                .await?;
            let helo = c.read_reply(Stage::Ehlo).await?;
            if helo.class() != Class::Positive {
                return Err(ClientError {
                    stage: Stage::Ehlo,
                    reply: Some(helo),
                    detail: String::new(),
                });
            }
        }
        Ok(())
    }

    async fn write(&mut self, bytes: &[u8], stage: Stage) -> Result<(), ClientError> {
        let io = &mut self.io;
        let write = async move {
            io.write_all(bytes).await?;
            // A TLS stream may hold the last record until flushed.
            io.flush().await
        };
        tokio::time::timeout(self.timeout, write)
            .await
            .map_err(|_| ClientError::local(stage, "write timed out"))?
            .map_err(|e| ClientError::local(stage, format!("write failed: {e}")))
    }

    async fn read_reply(&mut self, stage: Stage) -> Result<Reply, ClientError> {
        let mut parser = ReplyParser::default();
        loop {
            self.line.clear();
            let n = tokio::time::timeout(
                self.timeout,
                (&mut self.io)
                    .take(MAX_REPLY_LINE as u64)
                    .read_until(b'\n', &mut self.line),
            )
            .await
            .map_err(|_| ClientError::local(stage, "timed out waiting for the server"))?
            .map_err(|e| ClientError::local(stage, format!("read failed: {e}")))?;
            if n == 0 {
                return Err(ClientError::local(stage, "connection closed by the server"));
            }
            let line = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            match parser.line(line) {
                Parsed::NeedMore => {}
                Parsed::Done(r) => return Ok(r),
                Parsed::Malformed(why) => return Err(ClientError::local(stage, why)),
            }
        }
    }

    /// Sends one message. Returns the final reply for each recipient, in order, with the stage
    /// that produced it; an `Err` means the connection is no longer usable and applies to every
    /// recipient.
    ///
    /// The only place Impulse writes an address onto the wire: each is an [`Address`], which
    /// cannot hold CR, LF, NUL or an unquoted `>` or space, and is quoted as RFC 5321 requires.
    pub async fn send(
        &mut self,
        sender: &ReversePath,
        recipients: &[Address],
        body: &[u8],
    ) -> Result<Vec<(Reply, Stage)>, ClientError> {
        // A UTF-8 address needs a server that takes them (RFC 6531 §3.4): else the message
        // cannot be relayed as it is, a permanent failure for every recipient.
        let utf8 = sender.as_ref().is_some_and(|a| !a.is_ascii())
            || recipients.iter().any(|a| !a.is_ascii());
        if utf8 && !self.smtputf8 {
            let refusal = Reply::new(
                553,
                "5.6.7 a UTF-8 address and the next hop does not offer SMTPUTF8",
            );
            return Ok(vec![(refusal, Stage::Mail); recipients.len()]);
        }
        let mut mail = format!("MAIL FROM:<{}>", reverse_path_text(sender));
        if self.size {
            mail.push_str(&format!(" SIZE={}", body.len()));
        }
        if self.eight_bit && body.iter().any(|b| *b >= 0x80) {
            mail.push_str(" BODY=8BITMIME");
        }
        if utf8 {
            mail.push_str(" SMTPUTF8");
        }
        mail.push_str("\r\n");
        let rcpt_lines: Vec<String> = recipients
            .iter()
            .map(|r| format!("RCPT TO:<{r}>\r\n"))
            .collect();

        let (mail_reply, rcpt_replies, data_reply) = if self.pipelining {
            let mut batch = mail.into_bytes();
            for l in &rcpt_lines {
                batch.extend_from_slice(l.as_bytes());
            }
            batch.extend_from_slice(b"DATA\r\n");
            self.write(&batch, Stage::Mail).await?;
            let mail_reply = self.read_reply(Stage::Mail).await?;
            let mut rcpt_replies = Vec::with_capacity(recipients.len());
            for _ in recipients {
                rcpt_replies.push(self.read_reply(Stage::Rcpt).await?);
            }
            let data_reply = self.read_reply(Stage::Data).await?;
            (mail_reply, rcpt_replies, Some(data_reply))
        } else {
            self.write(mail.as_bytes(), Stage::Mail).await?;
            let mail_reply = self.read_reply(Stage::Mail).await?;
            let mut rcpt_replies = Vec::new();
            if mail_reply.class() == Class::Positive {
                for l in &rcpt_lines {
                    self.write(l.as_bytes(), Stage::Rcpt).await?;
                    rcpt_replies.push(self.read_reply(Stage::Rcpt).await?);
                }
            }
            (mail_reply, rcpt_replies, None)
        };

        if mail_reply.class() != Class::Positive {
            if data_reply.as_ref().is_some_and(|r| r.code == 354) {
                self.write(b".\r\n", Stage::Body).await?;
                self.read_reply(Stage::Confirm).await?;
            }
            return Ok(vec![(mail_reply, Stage::Mail); recipients.len()]);
        }
        let accepted = rcpt_replies
            .iter()
            .filter(|r| r.class() == Class::Positive)
            .count();
        let data_reply = match data_reply {
            Some(r) => r,
            None if accepted == 0 => {
                self.write(b"RSET\r\n", Stage::Rset).await?;
                self.read_reply(Stage::Rset).await?;
                return Ok(rcpt_replies.into_iter().map(|r| (r, Stage::Rcpt)).collect());
            }
            None => {
                self.write(b"DATA\r\n", Stage::Data).await?;
                self.read_reply(Stage::Data).await?
            }
        };
        if data_reply.code != 354 {
            // Recipients the server took keep the DATA refusal as their outcome.
            return Ok(rcpt_replies
                .into_iter()
                .map(|r| {
                    if r.class() == Class::Positive {
                        (data_reply.clone(), Stage::Data)
                    } else {
                        (r, Stage::Rcpt)
                    }
                })
                .collect());
        }
        if accepted == 0 {
            // A pipelining server that said 354 after refusing every recipient: end the empty message.
            self.write(b".\r\n", Stage::Body).await?;
            self.read_reply(Stage::Confirm).await?;
            return Ok(rcpt_replies.into_iter().map(|r| (r, Stage::Rcpt)).collect());
        }
        let stuffed = dot_stuff(body);
        self.write(&stuffed, Stage::Body).await?;
        let final_reply = self.read_reply(Stage::Confirm).await?;
        Ok(rcpt_replies
            .into_iter()
            .map(|r| {
                if r.class() == Class::Positive {
                    (final_reply.clone(), Stage::Confirm)
                } else {
                    (r, Stage::Rcpt)
                }
            })
            .collect())
    }

    /// Ends the session politely.
    pub async fn quit(mut self) {
        if self.write(b"QUIT\r\n", Stage::Rset).await.is_ok() {
            let _ =
                tokio::time::timeout(Duration::from_secs(2), self.read_reply(Stage::Rset)).await;
        }
    }
}

/// Writes a body for DATA: every line end (CRLF, and a bare CR or bare LF, which some servers
/// take for one) becomes CRLF, lines starting with `.` are escaped after each of them, and the
/// end-of-data mark is appended (RFC 5321 §2.3.8, §4.5.2). So nothing in a body can end the data
/// early at a next hop, however it splits lines.
pub fn dot_stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut at_line_start = true;
    // Until the empty line that ends them, lines are header fields: there a bare CR or bare LF
    // becomes a space, never a line end, so that it cannot start a header field of its own
    // (`Subject: x\rBcc: y`) at a next hop that reads CRLF only.
    let mut in_header = true;
    let mut bytes = body.iter().peekable();
    while let Some(&b) = bytes.next() {
        let bare = match b {
            b'\r' => bytes.next_if_eq(&&b'\n').is_none(),
            b'\n' => true,
            _ => {
                if at_line_start && b == b'.' {
                    out.push(b'.');
                }
                out.push(b);
                at_line_start = false;
                continue;
            }
        };
        if bare && in_header {
            out.push(b' ');
            at_line_start = false;
            continue;
        }
        if at_line_start && !bare {
            in_header = false; // the empty line
        }
        out.extend_from_slice(b"\r\n");
        at_line_start = true;
    }
    if !at_line_start || out.is_empty() {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffing() {
        assert_eq!(
            dot_stuff(b"\r\n.a\r\nb\r\n..c"),
            b"\r\n..a\r\nb\r\n...c\r\n.\r\n"
        );
        assert_eq!(dot_stuff(b""), b"\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\r\n"), b"a\r\n.\r\n");
    }

    #[test]
    fn bare_line_ends_become_crlf_and_are_stuffed() {
        // In the body (after the empty line that ends the header).
        assert_eq!(
            dot_stuff(b"S: x\r\n\r\na\r.\rb"),
            b"S: x\r\n\r\na\r\n..\r\nb\r\n.\r\n"
        );
        assert_eq!(dot_stuff(b"\r\na\r.\r\nb"), b"\r\na\r\n..\r\nb\r\n.\r\n");
        assert_eq!(dot_stuff(b"\r\na\n.\nb\n"), b"\r\na\r\n..\r\nb\r\n.\r\n");
        assert_eq!(dot_stuff(b"\r\na\n\r\n.\r"), b"\r\na\r\n\r\n..\r\n.\r\n");
    }

    /// A bare CR or LF in the header is no line end: it cannot start a header of its own.
    #[test]
    fn bare_line_ends_in_the_header_cannot_start_a_field() {
        assert_eq!(
            dot_stuff(b"Subject: d\rBcc: evil@e.test\r\nX: y\nCc: z\r\n\r\nbody\r\n"),
            b"Subject: d Bcc: evil@e.test\r\nX: y Cc: z\r\n\r\nbody\r\n.\r\n"
        );
    }

    /// Whatever the body, the only end-of-data mark in what is written is the last one, and
    /// every CR and LF in it is part of a CRLF.
    #[test]
    fn no_body_ends_data_early() {
        let samples: [&[u8]; 6] = [
            b".\r\n",
            b"\r.\r",
            b"\n.\n",
            b"x\r\n.\r\n.\r\ny",
            b"\r\r\n\n.",
            b".",
        ];
        for body in samples {
            let out = dot_stuff(body);
            let cut = out.len() - 5;
            assert_eq!(&out[cut..], b"\r\n.\r\n");
            assert!(
                !out[..cut + 2].windows(5).any(|w| w == b"\r\n.\r\n"),
                "{body:?}"
            );
            for (i, &c) in out.iter().enumerate() {
                if c == b'\r' {
                    assert_eq!(out.get(i + 1), Some(&b'\n'));
                }
                if c == b'\n' {
                    assert_eq!(out[i - 1], b'\r');
                }
            }
        }
    }
}
