//! The SMTP client used for delivery: one connection, several transactions, one outcome per
//! recipient.
//!
//! Own code on tokio rather than mail-send: a gateway needs the reply to each RCPT (mail-send's
//! `send` stops at the first refused recipient), PIPELINING (RFC 2920) to keep round trips down,
//! and the connection stage of a failure for Momentum's T/P log records.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpSocket;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::reply::{Class, Parsed, Reply, ReplyParser};

/// Where a delivery attempt stood when it failed: Momentum's connection stages (§6.7).
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
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
    pub remote: SocketAddr,
    pipelining: bool,
    eight_bit: bool,
    size: bool,
    timeout: Duration,
    line: Vec<u8>,
}

impl Connection {
    /// Connects to the first address that answers, reads the banner and says EHLO (HELO if
    /// EHLO is refused).
    pub async fn connect(
        addrs: &[SocketAddr],
        bind: Option<IpAddr>,
        ehlo_name: &str,
        timeout: Duration,
    ) -> Result<Connection, ClientError> {
        let mut last = ClientError::local(Stage::Connect, "no address to connect to");
        for &addr in addrs {
            match Self::connect_one(addr, bind, ehlo_name, timeout).await {
                Ok(c) => return Ok(c),
                // A 5xx banner or EHLO is the host's final word; other hosts may still take it.
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn connect_one(
        addr: SocketAddr,
        bind: Option<IpAddr>,
        ehlo_name: &str,
        timeout: Duration,
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
        let (rd, wr) = stream.into_split();
        let mut c = Connection {
            rd: BufReader::new(rd),
            wr,
            remote: addr,
            pipelining: false,
            eight_bit: false,
            size: false,
            timeout,
            line: Vec::new(),
        };
        let banner = c.read_reply(Stage::Banner).await?;
        if banner.code != 220 {
            return Err(ClientError {
                stage: Stage::Banner,
                reply: Some(banner),
                detail: String::new(),
            });
        }
        c.write(format!("EHLO {ehlo_name}\r\n").as_bytes(), Stage::Ehlo)
            .await?;
        let ehlo = c.read_reply(Stage::Ehlo).await?;
        if ehlo.class() == Class::Positive {
            for kw in ehlo.lines.iter().skip(1) {
                let kw = kw.to_ascii_uppercase();
                c.pipelining |= kw == "PIPELINING";
                c.eight_bit |= kw == "8BITMIME";
                c.size |= kw.starts_with("SIZE");
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
        Ok(c)
    }

    async fn write(&mut self, bytes: &[u8], stage: Stage) -> Result<(), ClientError> {
        tokio::time::timeout(self.timeout, self.wr.write_all(bytes))
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
                (&mut self.rd)
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
    pub async fn send(
        &mut self,
        sender: &str,
        recipients: &[String],
        body: &[u8],
    ) -> Result<Vec<(Reply, Stage)>, ClientError> {
        let mut mail = format!("MAIL FROM:<{sender}>");
        if self.size {
            mail.push_str(&format!(" SIZE={}", body.len()));
        }
        if self.eight_bit && body.iter().any(|b| *b >= 0x80) {
            mail.push_str(" BODY=8BITMIME");
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

/// Escapes lines starting with `.` and appends the end-of-data mark (RFC 5321 §4.5.2).
pub fn dot_stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut at_line_start = true;
    for &b in body {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        if out.ends_with(b"\n") {
            out.pop();
        }
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
        assert_eq!(dot_stuff(b".a\r\nb\r\n..c"), b"..a\r\nb\r\n...c\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b"\r\n.\r\n");
    }
}
