//! The SMTP server session (RFC 5321) as a plain value: fed one command line at a time, it
//! answers with what to do. No socket and no clock inside, so tests drive it directly.
//!
//! Untrusted input: every command line. Lines are parsed by `smtp-proto` (Stalwart's parser);
//! a line it cannot parse gets a 5xx reply and the session goes on. Too many bad commands in a
//! row end the session (a client speaking another protocol should not hold a slot forever).

use smtp_proto::{Error as ParseError, MAIL_BODY_8BITMIME, Request};

use crate::reply::Reply;

/// Consecutive bad commands after which the session is closed with 421.
const MAX_BAD_COMMANDS: u32 = 20;

/// Limits and relay rights of one connection, resolved from the listener scopes.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Name used in the greeting, EHLO reply and Received: header.
    pub hostname: String,
    /// The peer may relay to any domain (Relay_Hosts, Always_Allow or Open_Relay).
    pub relay_any: bool,
    /// The peer is refused (Always_Deny): greeted with 554, then the connection closes.
    pub denied: bool,
    pub max_message_size: u64,
    pub max_recipients: usize,
    /// 0: no limit.
    pub max_receptions: u64,
}

/// A message ready to be spooled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub helo: String,
    /// Empty for the null reverse-path `<>`.
    pub sender: String,
    pub recipients: Vec<String>,
    pub esmtp: bool,
}

/// What the driver must do after feeding a line.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Reply(Reply),
    /// Reply, then read the message body (354 was given).
    StartData(Reply),
    /// Reply, then close the connection.
    Close(Reply),
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Before HELO/EHLO.
    Greeted,
    /// After HELO/EHLO, no transaction.
    Ready,
    /// After MAIL FROM.
    Mail {
        sender: String,
        recipients: Vec<String>,
    },
    /// After DATA, until the body is complete.
    Data {
        sender: String,
        recipients: Vec<String>,
    },
}

/// One SMTP session's protocol state.
#[derive(Debug)]
pub struct Session {
    limits: Limits,
    helo: String,
    esmtp: bool,
    state: State,
    bad_commands: u32,
    receptions: u64,
}

impl Session {
    pub fn new(limits: Limits) -> Self {
        Session {
            limits,
            helo: String::new(),
            esmtp: false,
            state: State::Greeted,
            bad_commands: 0,
            receptions: 0,
        }
    }

    pub fn greeting(&self) -> Reply {
        if self.limits.denied {
            return Reply::new(554, format!("5.7.1 {} access denied", self.limits.hostname));
        }
        Reply::new(220, format!("{} ESMTP Impulse", self.limits.hostname))
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Feeds one command line (with or without its CRLF).
    pub fn command(&mut self, line: &[u8], accepts_domain: impl Fn(&str) -> bool) -> Step {
        // The parser wants the line ending; the driver always passes it, tests may not.
        let owned;
        let line = if line.ends_with(b"\n") {
            line
        } else {
            owned = [line, b"\r\n"].concat();
            &owned[..]
        };
        let request = Request::parse(&mut line.iter()).map(Request::into_owned);
        let step = match request {
            Ok(req) => self.request(req, accepts_domain),
            Err(e) => Step::Reply(parse_error(e)),
        };
        match &step {
            Step::Reply(r) if r.code >= 500 => {
                self.bad_commands += 1;
                if self.bad_commands >= MAX_BAD_COMMANDS {
                    return Step::Close(Reply::new(
                        421,
                        "4.7.0 Too many errors, closing connection",
                    ));
                }
            }
            _ => self.bad_commands = 0,
        }
        step
    }

    fn request(&mut self, req: Request<String>, accepts_domain: impl Fn(&str) -> bool) -> Step {
        match req {
            Request::Ehlo { host } => {
                self.helo = host;
                self.esmtp = true;
                self.state = State::Ready;
                let size = if self.limits.max_message_size > 0 {
                    self.limits.max_message_size
                } else {
                    0
                };
                Step::Reply(Reply {
                    code: 250,
                    lines: vec![
                        format!("{} Hello {}", self.limits.hostname, self.helo),
                        "PIPELINING".into(),
                        "8BITMIME".into(),
                        format!("SIZE {size}"),
                        "ENHANCEDSTATUSCODES".into(),
                    ],
                })
            }
            Request::Helo { host } => {
                self.helo = host;
                self.esmtp = false;
                self.state = State::Ready;
                Step::Reply(Reply::new(250, self.limits.hostname.clone()))
            }
            Request::Mail { from } => match self.state {
                State::Greeted => Step::Reply(Reply::new(503, "5.5.1 Send HELO or EHLO first")),
                State::Mail { .. } | State::Data { .. } => {
                    Step::Reply(Reply::new(503, "5.5.1 Nested MAIL command"))
                }
                State::Ready => {
                    if self.limits.max_receptions > 0
                        && self.receptions >= self.limits.max_receptions
                    {
                        return Step::Close(Reply::new(
                            421,
                            "4.7.0 Too many messages on this connection, reconnect",
                        ));
                    }
                    if from.flags & !MAIL_BODY_8BITMIME & !smtp_proto::MAIL_BODY_7BIT != 0 {
                        return Step::Reply(Reply::new(555, "5.5.4 Unsupported MAIL parameter"));
                    }
                    if self.limits.max_message_size > 0
                        && from.size as u64 > self.limits.max_message_size
                    {
                        return Step::Reply(Reply::new(
                            552,
                            format!(
                                "5.3.4 Message size exceeds fixed limit of {} bytes",
                                self.limits.max_message_size
                            ),
                        ));
                    }
                    self.state = State::Mail {
                        sender: from.address,
                        recipients: Vec::new(),
                    };
                    Step::Reply(Reply::new(250, "2.1.0 Ok"))
                }
            },
            Request::Rcpt { to } => {
                let State::Mail { recipients, .. } = &mut self.state else {
                    return Step::Reply(Reply::new(503, "5.5.1 Need MAIL before RCPT"));
                };
                let Some((_, domain)) = to
                    .address
                    .rsplit_once('@')
                    .filter(|(l, d)| !l.is_empty() && !d.is_empty())
                else {
                    return Step::Reply(Reply::new(
                        501,
                        "5.1.3 Recipient address must be user@domain",
                    ));
                };
                if !self.limits.relay_any && !accepts_domain(domain) {
                    return Step::Reply(Reply::new(550, "5.7.1 Relaying denied"));
                }
                if recipients.len() >= self.limits.max_recipients {
                    return Step::Reply(Reply::new(452, "4.5.3 Too many recipients"));
                }
                recipients.push(to.address);
                Step::Reply(Reply::new(250, "2.1.5 Ok"))
            }
            Request::Data => match std::mem::replace(&mut self.state, State::Ready) {
                State::Mail { sender, recipients } if !recipients.is_empty() => {
                    self.state = State::Data { sender, recipients };
                    Step::StartData(Reply::new(354, "End data with <CR><LF>.<CR><LF>"))
                }
                State::Mail { sender, recipients } => {
                    self.state = State::Mail { sender, recipients };
                    Step::Reply(Reply::new(554, "5.5.1 No valid recipients"))
                }
                other => {
                    self.state = other;
                    Step::Reply(Reply::new(503, "5.5.1 Need MAIL and RCPT before DATA"))
                }
            },
            Request::Rset => {
                if self.state != State::Greeted {
                    self.state = State::Ready;
                }
                Step::Reply(Reply::new(250, "2.0.0 Ok"))
            }
            Request::Noop { .. } => Step::Reply(Reply::new(250, "2.0.0 Ok")),
            Request::Quit => Step::Close(Reply::new(221, "2.0.0 Bye")),
            Request::Help { .. } => Step::Reply(Reply::new(
                214,
                "2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT HELP VRFY",
            )),
            // RFC 5321 §3.5.3: answer without disclosing whether the mailbox exists.
            Request::Vrfy { .. } => Step::Reply(Reply::new(
                252,
                "2.5.2 Cannot VRFY user, but will accept message and attempt delivery",
            )),
            Request::Expn { .. } => Step::Reply(Reply::new(502, "5.5.1 EXPN not available")),
            Request::Bdat { .. } => Step::Close(Reply::new(
                502,
                "5.5.1 CHUNKING is not offered; closing to stay in sync",
            )),
            other => Step::Reply(Reply::new(
                502,
                format!("5.5.1 {} not implemented", other.name()),
            )),
        }
    }

    /// The transaction whose body is being read, after [`Step::StartData`].
    pub fn envelope(&self) -> Option<Envelope> {
        match &self.state {
            State::Data { sender, recipients } => Some(Envelope {
                helo: self.helo.clone(),
                sender: sender.clone(),
                recipients: recipients.clone(),
                esmtp: self.esmtp,
            }),
            _ => None,
        }
    }

    /// Ends the DATA phase: `accepted` says whether the message was spooled; the reply text is
    /// the driver's. The session is ready for the next transaction either way.
    pub fn data_done(&mut self, accepted: bool) {
        if accepted {
            self.receptions += 1;
        }
        self.state = State::Ready;
    }
}

fn parse_error(e: ParseError) -> Reply {
    match e {
        ParseError::UnknownCommand | ParseError::NeedsMoreData { .. } => {
            Reply::new(500, "5.5.1 Command unrecognized")
        }
        ParseError::InvalidSenderAddress => Reply::new(501, "5.1.7 Bad sender address syntax"),
        ParseError::InvalidRecipientAddress => {
            Reply::new(501, "5.1.3 Bad recipient address syntax")
        }
        ParseError::SyntaxError { syntax } => Reply::new(501, format!("5.5.4 Syntax: {syntax}")),
        ParseError::InvalidParameter { param } => {
            Reply::new(501, format!("5.5.4 Invalid parameter {param}"))
        }
        ParseError::UnsupportedParameter { param } => {
            Reply::new(555, format!("5.5.4 Unsupported parameter {param}"))
        }
        ParseError::ResponseTooLong => Reply::new(500, "5.5.2 Line too long"),
        ParseError::InvalidResponse { .. } => Reply::new(500, "5.5.1 Command unrecognized"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new(Limits {
            hostname: "mx.test".into(),
            relay_any: false,
            denied: false,
            max_message_size: 1000,
            max_recipients: 2,
            max_receptions: 0,
        })
    }

    fn code(step: Step) -> u16 {
        match step {
            Step::Reply(r) | Step::StartData(r) | Step::Close(r) => r.code,
        }
    }

    fn local(d: &str) -> bool {
        d == "sms.example"
    }

    #[test]
    fn a_whole_transaction() {
        let mut s = session();
        assert_eq!(code(s.command(b"EHLO client.test\r\n", local)), 250);
        assert_eq!(
            code(s.command(b"MAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME", local)),
            250
        );
        assert_eq!(
            code(s.command(b"RCPT TO:<4445551234@sms.example>", local)),
            250
        );
        assert_eq!(
            code(s.command(b"RCPT TO:<x@elsewhere.example>", local)),
            550
        );
        assert!(matches!(s.command(b"DATA", local), Step::StartData(_)));
        let env = s.envelope().unwrap();
        assert_eq!(env.sender, "a@b.example");
        assert_eq!(env.recipients, ["4445551234@sms.example"]);
        s.data_done(true);
        assert_eq!(code(s.command(b"MAIL FROM:<>", local)), 250);
    }

    #[test]
    fn order_limits_and_garbage() {
        let mut s = session();
        assert_eq!(code(s.command(b"MAIL FROM:<a@b>", local)), 503);
        assert_eq!(code(s.command(b"HELO c", local)), 250);
        assert_eq!(code(s.command(b"RCPT TO:<x@sms.example>", local)), 503);
        assert_eq!(code(s.command(b"DATA", local)), 503);
        assert_eq!(code(s.command(b"MAIL FROM:<a@b> SIZE=5000", local)), 552);
        assert_eq!(code(s.command(b"MAIL FROM:<a@b>", local)), 250);
        assert_eq!(code(s.command(b"DATA", local)), 554);
        assert_eq!(code(s.command(b"MAIL FROM:<a@b>", local)), 503);
        for _ in 0..2 {
            assert_eq!(code(s.command(b"RCPT TO:<x@sms.example>", local)), 250);
        }
        assert_eq!(code(s.command(b"RCPT TO:<y@sms.example>", local)), 452);
        assert_eq!(code(s.command(b"GARBAGE 123", local)), 500);
        assert_eq!(code(s.command(b"\xff\xfe", local)), 500);
        assert_eq!(code(s.command(b"VRFY root", local)), 252);
        assert_eq!(code(s.command(b"RSET", local)), 250);
        assert_eq!(code(s.command(b"QUIT", local)), 221);
    }

    #[test]
    fn endless_garbage_ends_the_session() {
        let mut s = session();
        let mut last = None;
        for _ in 0..MAX_BAD_COMMANDS {
            last = Some(s.command(b"XYZZY", local));
        }
        assert!(matches!(last, Some(Step::Close(r)) if r.code == 421));
    }
}
