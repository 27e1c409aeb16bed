//! The SMTP server session (RFC 5321) as a plain value: fed one command line at a time, it
//! answers with what to do. No socket and no clock inside, so tests drive it directly.
//!
//! Untrusted input: every command line. Lines are parsed by `smtp-proto` (Stalwart's parser);
//! a line it cannot parse gets a 5xx reply and the session goes on. Too many bad commands in a
//! row end the session (a client speaking another protocol should not hold a slot forever).
//!
//! STARTTLS (RFC 3207) and AUTH (RFC 4954) live here too: the session says when to start TLS
//! ([`Step::StartTls`]) and the driver tells it when TLS is up ([`Session::tls_started`]); AUTH
//! is offered only once TLS is up, and an authenticated client may relay anywhere.

use smtp_proto::{Error as ParseError, MAIL_BODY_8BITMIME, Request};

use super::auth::{self, Credentials, Exchange, MAX_AUTH_FAILURES, Outcome};
use super::data::DataReader;
use crate::address::{Address, AddressError, ReversePath};
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
    /// Connections at once from this client address (0: no limit).
    pub max_per_peer: usize,
    /// The listener's certificate and key, when it has them.
    pub tls_config: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// `Use_SSL`: the TLS handshake comes first, before the greeting (port 465 style).
    pub implicit_tls: bool,
    /// STARTTLS is offered (a certificate is configured and `TLS` is not `no`).
    pub starttls: bool,
    /// `TLS = required`: MAIL is refused until TLS is up.
    pub tls_required: bool,
    /// `Enable_Authentication`: AUTH PLAIN and LOGIN are offered once TLS is up, checked against
    /// these credentials.
    pub auth: Option<Credentials>,
}

/// Momentum's `Max_Message_Size = 0` means "no limit"; Impulse still keeps a ceiling so that
/// a client cannot make it buffer without end.
pub const SIZE_CEILING: u64 = 64 << 20;

impl Limits {
    /// The largest body accepted: `max_message_size`, or the ceiling when that is 0.
    pub fn max_size(&self) -> u64 {
        if self.max_message_size == 0 {
            SIZE_CEILING
        } else {
            self.max_message_size.min(SIZE_CEILING)
        }
    }

    /// A listener with the given name and no TLS, AUTH or relay rights; tests start from it.
    pub fn plain(hostname: &str) -> Self {
        Limits {
            hostname: hostname.to_string(),
            relay_any: false,
            denied: false,
            max_message_size: 0,
            max_recipients: 1000,
            max_receptions: 0,
            max_per_peer: 0,
            tls_config: None,
            implicit_tls: false,
            starttls: false,
            tls_required: false,
            auth: None,
        }
    }
}

/// A message ready to be spooled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub helo: String,
    /// `None` for the null reverse-path `<>`.
    pub sender: ReversePath,
    pub recipients: Vec<Address>,
    pub esmtp: bool,
    /// The message came over TLS.
    pub tls: bool,
    /// The user the client authenticated as (SMTP AUTH).
    pub authenticated: Option<String>,
}

/// What the driver must do after feeding a line.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Reply(Reply),
    /// Reply, then read the message body (354 was given).
    StartData(Reply),
    /// Reply, then close the connection.
    Close(Reply),
    /// Reply (220), discard any input already read, run the TLS handshake, then call
    /// [`Session::tls_started`].
    StartTls(Reply),
}

/// What a line of a message body did.
#[derive(Debug, PartialEq, Eq)]
pub enum Body {
    /// More body to come.
    More,
    /// The end of data: the transaction and its body, dot-stuffing removed. The driver spools
    /// it, answers, and calls [`Session::data_done`].
    Complete(Envelope, Vec<u8>),
    /// The end of data of a message over the size limit: answer this; nothing was kept.
    Refused(Reply),
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Before HELO/EHLO.
    Greeted,
    /// After HELO/EHLO, no transaction.
    Ready,
    /// After MAIL FROM.
    Mail {
        sender: ReversePath,
        recipients: Vec<Address>,
    },
    /// After DATA, until the body is complete: the body lines go to the reader.
    Data {
        sender: ReversePath,
        recipients: Vec<Address>,
        reader: DataReader,
    },
    /// In a SASL exchange: the next line is the client's response, not a command.
    Auth(Exchange),
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
    tls: bool,
    authenticated: Option<String>,
    auth_failures: u32,
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
            tls: false,
            authenticated: None,
            auth_failures: 0,
        }
    }

    /// TLS is up (after [`Step::StartTls`], or at once on an implicit-TLS listener). RFC 3207
    /// §4.2: everything learnt before is forgotten; the client must greet again.
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.helo.clear();
        self.esmtp = false;
        self.state = State::Greeted;
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
    pub fn command(&mut self, line: &[u8], check: impl Fn(&Address) -> Recipient) -> Step {
        // The parser wants the line ending; the driver always passes it, tests may not.
        let owned;
        let line = if line.ends_with(b"\n") {
            line
        } else {
            owned = [line, b"\r\n"].concat();
            &owned[..]
        };
        if let State::Auth(_) = self.state {
            return self.sasl_response(line);
        }
        // An address must reach the spool byte for byte: a parser that replaced invalid UTF-8
        // with U+FFFD would change it. Refused here, before any parsing.
        if std::str::from_utf8(line).is_err() {
            let verb = line.get(..4).map(|v| v.to_ascii_uppercase());
            let reply = match verb.as_deref() {
                Some(b"MAIL") => Some(Reply::new(
                    501,
                    "5.1.7 Bad sender address syntax: not UTF-8",
                )),
                Some(b"RCPT") => Some(Reply::new(
                    501,
                    "5.1.3 Bad recipient address syntax: not UTF-8",
                )),
                _ => None,
            };
            if let Some(reply) = reply {
                self.bad_commands += 1;
                return Step::Reply(reply);
            }
        }
        let request = Request::parse(&mut line.iter()).map(Request::into_owned);
        let step = match request {
            Ok(req) => self.request(req, check),
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

    fn request(&mut self, req: Request<String>, check: impl Fn(&Address) -> Recipient) -> Step {
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
                let mut lines = vec![
                    format!("{} Hello {}", self.limits.hostname, helo_text(&self.helo)),
                    "PIPELINING".into(),
                    "8BITMIME".into(),
                    format!("SIZE {size}"),
                    "ENHANCEDSTATUSCODES".into(),
                ];
                if self.limits.starttls && !self.tls {
                    lines.push("STARTTLS".into());
                }
                if self.limits.auth.is_some() && self.tls {
                    lines.push("AUTH PLAIN LOGIN".into());
                }
                Step::Reply(Reply { code: 250, lines })
            }
            Request::Helo { host } => {
                self.helo = host;
                self.esmtp = false;
                self.state = State::Ready;
                Step::Reply(Reply::new(250, self.limits.hostname.clone()))
            }
            Request::Mail { from } => match self.state {
                State::Greeted => Step::Reply(Reply::new(503, "5.5.1 Send HELO or EHLO first")),
                State::Mail { .. } | State::Data { .. } | State::Auth(_) => {
                    Step::Reply(Reply::new(503, "5.5.1 Nested MAIL command"))
                }
                State::Ready if self.limits.tls_required && !self.tls => {
                    Step::Reply(Reply::new(530, "5.7.0 Must issue a STARTTLS command first"))
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
                    // Only what the EHLO reply offers: SIZE, BODY (and AUTH= once AUTH is
                    // offered). DSN's ENVID/RET, FUTURERELEASE, MT-PRIORITY and the rest are
                    // refused rather than accepted and silently dropped (RFC 5321 §4.1.1.11).
                    let unadvertised =
                        from.flags & !MAIL_BODY_8BITMIME & !smtp_proto::MAIL_BODY_7BIT != 0
                            || from.env_id.is_some()
                            || from.trans_id.is_some()
                            || from.solicit.is_some()
                            || from.mtrk.is_some()
                            || from.by != 0
                            || from.hold_for != 0
                            || from.hold_until != 0
                            || from.mt_priority != 0
                            || (from.auth.is_some() && self.limits.auth.is_none());
                    if unadvertised {
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
                    let sender = if from.address.is_empty() {
                        None
                    } else {
                        match Address::from_unquoted(&from.address) {
                            // SMTPUTF8 is not offered: a UTF-8 address could not be relayed
                            // or bounced (RFC 6531 §3.4).
                            Ok(a) if !a.is_ascii() => {
                                return Step::Reply(Reply::new(
                                    553,
                                    "5.6.7 UTF-8 addresses need SMTPUTF8, which is not offered",
                                ));
                            }
                            Ok(a) => Some(a),
                            Err(e) => return Step::Reply(address_refusal(e, "5.1.7", "sender")),
                        }
                    };
                    self.state = State::Mail {
                        sender,
                        recipients: Vec::new(),
                    };
                    Step::Reply(Reply::new(250, "2.1.0 Ok"))
                }
            },
            Request::Rcpt { to } => {
                let State::Mail { recipients, .. } = &mut self.state else {
                    return Step::Reply(Reply::new(503, "5.5.1 Need MAIL before RCPT"));
                };
                // DSN's NOTIFY and ORCPT, RRVS: not offered, so refused, not dropped.
                if to.flags != 0 || to.orcpt.is_some() || to.rrvs != 0 {
                    return Step::Reply(Reply::new(555, "5.5.4 Unsupported RCPT parameter"));
                }
                let address = match Address::from_unquoted(&to.address) {
                    Ok(a) => a,
                    Err(AddressError::NoDomain | AddressError::Empty) => {
                        return Step::Reply(Reply::new(
                            501,
                            "5.1.3 Recipient address must be user@domain",
                        ));
                    }
                    Err(e) => return Step::Reply(address_refusal(e, "5.1.3", "recipient")),
                };
                if !address.is_ascii() {
                    return Step::Reply(Reply::new(
                        553,
                        "5.6.7 UTF-8 addresses need SMTPUTF8, which is not offered",
                    ));
                }
                match check(&address) {
                    Recipient::Refused(reply) => return Step::Reply(reply),
                    Recipient::Elsewhere
                        if !self.limits.relay_any && self.authenticated.is_none() =>
                    {
                        return Step::Reply(Reply::new(550, "5.7.1 Relaying denied"));
                    }
                    Recipient::Ours | Recipient::Elsewhere => {}
                }
                if recipients.len() >= self.limits.max_recipients {
                    return Step::Reply(Reply::new(452, "4.5.3 Too many recipients"));
                }
                recipients.push(address);
                Step::Reply(Reply::new(250, "2.1.5 Ok"))
            }
            Request::Data => match std::mem::replace(&mut self.state, State::Ready) {
                State::Mail { sender, recipients } if !recipients.is_empty() => {
                    self.state = State::Data {
                        sender,
                        recipients,
                        reader: DataReader::new(self.limits.max_size()),
                    };
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
            Request::StartTls => {
                if !self.limits.starttls {
                    Step::Reply(Reply::new(502, "5.5.1 STARTTLS not available"))
                } else if self.tls {
                    Step::Reply(Reply::new(503, "5.5.1 TLS already active"))
                } else if matches!(self.state, State::Mail { .. }) {
                    Step::Reply(Reply::new(503, "5.5.1 STARTTLS inside a mail transaction"))
                } else {
                    Step::StartTls(Reply::new(220, "2.0.0 Ready to start TLS"))
                }
            }
            Request::Auth {
                mechanism,
                initial_response,
            } => self.auth(mechanism, &initial_response),
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

    fn auth(&mut self, mechanism: u64, initial: &str) -> Step {
        if self.limits.auth.is_none() {
            return Step::Reply(Reply::new(502, "5.5.1 AUTH not available"));
        }
        if !self.tls {
            return Step::Reply(Reply::new(
                538,
                "5.7.11 Encryption required for requested authentication mechanism",
            ));
        }
        if self.authenticated.is_some() {
            return Step::Reply(Reply::new(503, "5.5.1 Already authenticated"));
        }
        if self.state != State::Ready {
            return Step::Reply(Reply::new(
                503,
                "5.5.1 Send EHLO first, and AUTH before MAIL",
            ));
        }
        match auth::start(mechanism, initial) {
            // Naming a mechanism that is not offered is not a failed attempt.
            Outcome::Refused(r) if r.code == 504 => Step::Reply(r),
            outcome => self.sasl(outcome),
        }
    }

    fn sasl_response(&mut self, line: &[u8]) -> Step {
        let State::Auth(exchange) = std::mem::replace(&mut self.state, State::Ready) else {
            unreachable!("called in the Auth state")
        };
        self.sasl(exchange.feed(line))
    }

    fn sasl(&mut self, outcome: Outcome) -> Step {
        let (ok, user) = match outcome {
            Outcome::Continue(exchange, challenge) => {
                self.state = State::Auth(exchange);
                return Step::Reply(challenge);
            }
            Outcome::Refused(reply) => (false, Err(reply)),
            Outcome::Done { user, password } => {
                let creds = self.limits.auth.as_ref();
                let ok = creds.is_some_and(|c| c.check(&user, &password));
                (ok, Ok(user))
            }
        };
        match user {
            Ok(user) if ok => {
                self.authenticated = Some(String::from_utf8_lossy(&user).into_owned());
                Step::Reply(Reply::new(235, "2.7.0 Authentication successful"))
            }
            failed => {
                self.auth_failures += 1;
                if self.auth_failures >= MAX_AUTH_FAILURES {
                    return Step::Close(Reply::new(
                        421,
                        "4.7.0 Too many failed authentication attempts, closing connection",
                    ));
                }
                Step::Reply(
                    failed.err().unwrap_or_else(|| {
                        Reply::new(535, "5.7.8 Authentication credentials invalid")
                    }),
                )
            }
        }
    }

    /// In a SASL exchange: the next line is a response to AUTH, not a command.
    pub fn in_auth_exchange(&self) -> bool {
        matches!(self.state, State::Auth(_))
    }

    /// The user the client authenticated as, if it did.
    pub fn authenticated(&self) -> Option<&str> {
        self.authenticated.as_deref()
    }

    /// The transaction whose body is being read, after [`Step::StartData`].
    pub fn envelope(&self) -> Option<Envelope> {
        match &self.state {
            State::Data {
                sender, recipients, ..
            } => Some(self.envelope_of(sender.clone(), recipients.clone())),
            _ => None,
        }
    }

    fn envelope_of(&self, sender: ReversePath, recipients: Vec<Address>) -> Envelope {
        Envelope {
            helo: self.helo.clone(),
            sender,
            recipients,
            esmtp: self.esmtp,
            tls: self.tls,
            authenticated: self.authenticated.clone(),
        }
    }

    /// Whether the session is reading a message body (after [`Step::StartData`]): the driver
    /// feeds lines to [`Session::data_line`] instead of [`Session::command`].
    pub fn in_data(&self) -> bool {
        matches!(self.state, State::Data { .. })
    }

    /// Feeds one body line including its `\n` (see [`DataReader::line`]). At the end of data
    /// the session is ready for the next transaction and says what to do with the message.
    pub fn data_line(&mut self, line: &[u8]) -> Body {
        let State::Data { reader, .. } = &mut self.state else {
            return Body::More;
        };
        if !reader.line(line) {
            return Body::More;
        }
        let State::Data {
            sender,
            recipients,
            reader,
        } = std::mem::replace(&mut self.state, State::Ready)
        else {
            unreachable!("in data")
        };
        match reader.finish() {
            Ok(body) => Body::Complete(self.envelope_of(sender, recipients), body),
            Err(o) => Body::Refused(Reply::new(
                552,
                format!(
                    "5.3.4 Message size {} exceeds fixed limit of {} bytes",
                    o.seen,
                    self.limits.max_size()
                ),
            )),
        }
    }

    /// Feeds part of a body line too long to wait for its end.
    pub fn data_partial(&mut self, bytes: &[u8]) {
        if let State::Data { reader, .. } = &mut self.state {
            reader.partial(bytes);
        }
    }

    /// After [`Body::Complete`]: whether the message was spooled (the reply is the driver's).
    /// Counts towards `Max_Receptions_Per_Connection` when it was.
    pub fn data_done(&mut self, accepted: bool) {
        if accepted {
            self.receptions += 1;
        }
    }
}

/// The reply for an address that cannot be represented safely (RFC 5321 §4.2.3: 553 "mailbox
/// name not allowed"; 501 for syntax).
fn address_refusal(e: AddressError, enhanced: &str, which: &str) -> Reply {
    match e {
        AddressError::TooLong | AddressError::Control | AddressError::NotUtf8 => Reply::new(
            553,
            format!("{enhanced} The {which} address is not allowed: {e}"),
        ),
        _ => Reply::new(501, format!("{enhanced} Bad {which} address syntax: {e}")),
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

/// What the receiving side says of a recipient at RCPT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// A domain of ours: taken from any client.
    Ours,
    /// Another domain: taken from relay clients and authenticated ones only.
    Elsewhere,
    /// Refused whoever asks, with this reply (e.g. not a phone number on an SMS domain):
    /// better at RCPT than a bounce after 250.
    Refused(Reply),
}

/// A client's HELO/EHLO name as Impulse writes it back (the EHLO reply, the Received: header):
/// the characters of a host name or an address literal, anything else as `_`, at most 255.
/// The name is the client's claim; written raw it could carry control characters to a terminal
/// or fake the rest of a trace line ("x ([127.0.0.1]) by ...").
pub fn helo_text(helo: &str) -> String {
    helo.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-.:[]_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(255)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new(Limits {
            max_message_size: 1000,
            max_recipients: 2,
            ..Limits::plain("mx.test")
        })
    }

    fn code(step: Step) -> u16 {
        match step {
            Step::Reply(r) | Step::StartData(r) | Step::Close(r) | Step::StartTls(r) => r.code,
        }
    }

    fn tls_session(required: bool) -> Session {
        Session::new(Limits {
            starttls: true,
            tls_required: required,
            auth: Some(Credentials::from_pairs(&["alice:s3cret"])),
            ..Limits::plain("mx.test")
        })
    }

    /// Parameters the EHLO reply does not offer are refused, not accepted and dropped.
    #[test]
    fn unadvertised_parameters_are_refused() {
        let mut s = session();
        assert_eq!(code(s.command(b"EHLO c.test", local)), 250);
        assert_eq!(
            code(s.command(b"MAIL FROM:<a@b.example> ENVID=x1", local)),
            555
        );
        assert_eq!(
            code(s.command(b"MAIL FROM:<a@b.example> RET=HDRS", local)),
            555
        );
        assert_eq!(
            code(s.command(b"MAIL FROM:<a@b.example> AUTH=<>", local)),
            555
        );
        assert_eq!(
            code(s.command(b"MAIL FROM:<a@b.example> BODY=8BITMIME", local)),
            250
        );
        assert_eq!(
            code(s.command(b"RCPT TO:<1@sms.example> NOTIFY=NEVER", local)),
            555
        );
        assert_eq!(
            code(s.command(b"RCPT TO:<1@sms.example> ORCPT=rfc822;x@y", local)),
            555
        );
        assert_eq!(code(s.command(b"RCPT TO:<1@sms.example>", local)), 250);
    }

    #[test]
    fn the_ehlo_reply_never_echoes_control_characters() {
        let mut s = session();
        let reply = match s.command(b"EHLO evil\x1b[2J\x07host\r\n", local) {
            Step::Reply(r) => r.lines[0].clone(),
            _ => panic!("no reply"),
        };
        assert_eq!(reply, "mx.test Hello evil_[2J_host");
    }

    fn ehlo_lines(s: &mut Session) -> Vec<String> {
        match s.command(b"EHLO c.test", local) {
            Step::Reply(r) => r.lines,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn starttls_then_auth_plain_gives_relay() {
        let mut s = tls_session(true);
        let lines = ehlo_lines(&mut s);
        assert!(lines.contains(&"STARTTLS".to_string()));
        assert!(
            !lines.iter().any(|l| l.starts_with("AUTH")),
            "no AUTH before TLS: {lines:?}"
        );
        assert_eq!(
            code(s.command(b"AUTH PLAIN AGFsaWNlAHMzY3JldA==", local)),
            538
        );
        assert_eq!(code(s.command(b"MAIL FROM:<a@b.example>", local)), 530);
        assert!(matches!(s.command(b"STARTTLS", local), Step::StartTls(r) if r.code == 220));
        s.tls_started();
        // The session forgot the EHLO.
        assert_eq!(code(s.command(b"MAIL FROM:<a@b.example>", local)), 503);
        let lines = ehlo_lines(&mut s);
        assert!(!lines.contains(&"STARTTLS".to_string()));
        assert!(lines.contains(&"AUTH PLAIN LOGIN".to_string()));
        assert_eq!(code(s.command(b"STARTTLS", local)), 503);
        assert_eq!(code(s.command(b"MAIL FROM:<a@b.example>", local)), 250);
        assert_eq!(
            code(s.command(b"RCPT TO:<x@elsewhere.example>", local)),
            550
        );
        assert_eq!(code(s.command(b"RSET", local)), 250);
        // \0alice\0s3cret
        assert_eq!(
            code(s.command(b"AUTH PLAIN AGFsaWNlAHMzY3JldA==", local)),
            235
        );
        assert_eq!(s.authenticated(), Some("alice"));
        assert_eq!(
            code(s.command(b"AUTH PLAIN AGFsaWNlAHMzY3JldA==", local)),
            503
        );
        assert_eq!(code(s.command(b"MAIL FROM:<a@b.example>", local)), 250);
        assert_eq!(
            code(s.command(b"RCPT TO:<x@elsewhere.example>", local)),
            250
        );
        assert!(matches!(s.command(b"DATA", local), Step::StartData(_)));
        let env = s.envelope().unwrap();
        assert!(env.tls);
        assert_eq!(env.authenticated.as_deref(), Some("alice"));
    }

    #[test]
    fn auth_login_and_failures_end_the_session() {
        let mut s = tls_session(false);
        assert!(matches!(s.command(b"STARTTLS", local), Step::StartTls(_)));
        s.tls_started();
        ehlo_lines(&mut s);
        assert_eq!(code(s.command(b"AUTH LOGIN", local)), 334);
        // The SASL response is not parsed as a command, even when it looks like one.
        assert_eq!(code(s.command(b"QUIT", local)), 334);
        assert_eq!(code(s.command(b"d3Jvbmc=", local)), 535);
        assert_eq!(s.authenticated(), None);
        assert_eq!(code(s.command(b"AUTH LOGIN YWxpY2U=", local)), 334);
        assert_eq!(code(s.command(b"*", local)), 501);
        assert_eq!(code(s.command(b"AUTH CRAM-MD5", local)), 504);
        let last = s.command(b"AUTH PLAIN AGFsaWNlAG5vcGU=", local);
        assert!(
            matches!(last, Step::Close(r) if r.code == 421),
            "third failure closes"
        );
    }

    #[test]
    fn no_tls_configured_means_no_starttls_and_no_auth() {
        let mut s = session();
        let lines = ehlo_lines(&mut s);
        assert!(
            !lines
                .iter()
                .any(|l| l == "STARTTLS" || l.starts_with("AUTH"))
        );
        assert_eq!(code(s.command(b"STARTTLS", local)), 502);
        assert_eq!(
            code(s.command(b"AUTH PLAIN AGFsaWNlAHMzY3JldA==", local)),
            502
        );
    }

    fn local(a: &Address) -> Recipient {
        if a.domain() == "sms.example" {
            Recipient::Ours
        } else {
            Recipient::Elsewhere
        }
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
        assert!(s.in_data());
        // Body lines are the body's, even when they look like commands.
        assert_eq!(s.data_line(b"QUIT\r\n"), Body::More);
        assert_eq!(s.data_line(b"..stuffed\r\n"), Body::More);
        let Body::Complete(env, body) = s.data_line(b".\r\n") else {
            panic!("the end of data completes the message");
        };
        assert_eq!(body, b"QUIT\r\n.stuffed\r\n");
        assert_eq!(env.sender.unwrap().to_string(), "a@b.example");
        assert_eq!(env.recipients[0].to_string(), "4445551234@sms.example");
        assert_eq!(env.recipients.len(), 1);
        assert!(!s.in_data());
        s.data_done(true);
        assert_eq!(code(s.command(b"MAIL FROM:<>", local)), 250);
    }

    #[test]
    fn an_oversize_body_is_refused_and_the_session_goes_on() {
        let mut s = Session::new(Limits {
            max_message_size: 10,
            ..Limits::plain("mx.test")
        });
        assert_eq!(code(s.command(b"EHLO client.test", local)), 250);
        assert_eq!(code(s.command(b"MAIL FROM:<a@b.example>", local)), 250);
        assert_eq!(code(s.command(b"RCPT TO:<1@sms.example>", local)), 250);
        assert!(matches!(s.command(b"DATA", local), Step::StartData(_)));
        s.data_partial(b"0123456789");
        assert_eq!(s.data_line(b"0123456789\r\n"), Body::More);
        match s.data_line(b".\r\n") {
            Body::Refused(r) => assert_eq!(r.code, 552),
            other => panic!("{other:?}"),
        }
        assert!(!s.in_data());
        assert_eq!(code(s.command(b"MAIL FROM:<a@b.example>", local)), 250);
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
