//! SMTP AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms: the SASL exchange as a
//! plain value fed one client line at a time, and the credential check.
//!
//! Both mechanisms send the password in the clear inside base64, so the session offers them only
//! on a TLS connection. Nothing here logs or keeps what the client sent beyond the exchange.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::reply::Reply;

/// Failed AUTH attempts after which the session is closed (slows password guessing).
pub const MAX_AUTH_FAILURES: u32 = 3;

/// `user:password` pairs a client may authenticate with.
#[derive(Clone, Default)]
pub struct Credentials(Vec<(String, String)>);

impl std::fmt::Debug for Credentials {
    /// Names the users only: a password never reaches a log through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(u, _)| u))
            .finish()
    }
}

impl Credentials {
    /// From `user:password` entries; an entry without a colon is ignored (config validation
    /// reports it).
    pub fn from_pairs<S: AsRef<str>>(entries: &[S]) -> Self {
        Credentials(
            entries
                .iter()
                .filter_map(|e| e.as_ref().split_once(':'))
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect(),
        )
    }

    /// Whether `user` and `password` are one of the pairs. Every pair is compared in full, so
    /// the time taken does not tell which part of a guess was right.
    pub fn check(&self, user: &[u8], password: &[u8]) -> bool {
        let mut any = false;
        for (u, p) in &self.0 {
            any |= same(u.as_bytes(), user) & same(p.as_bytes(), password);
        }
        any
    }
}

fn same(want: &[u8], given: &[u8]) -> bool {
    let mut diff = u8::from(want.len() != given.len());
    for (i, w) in want.iter().enumerate() {
        diff |= w ^ given.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// A SASL exchange in progress.
#[derive(Debug, PartialEq, Eq)]
pub enum Exchange {
    /// PLAIN without an initial response: the next line is the response.
    Plain,
    /// LOGIN: waiting for the user name.
    LoginUser,
    /// LOGIN: waiting for the password of this user.
    LoginPassword(Vec<u8>),
}

/// What the next step of an exchange is.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send this 334 challenge and wait for another line.
    Continue(Exchange, Reply),
    /// The client gave these credentials.
    Done { user: Vec<u8>, password: Vec<u8> },
    /// The client cancelled (`*`) or sent something that is not base64 / not a PLAIN message.
    Refused(Reply),
}

/// The challenge `334` with an empty or base64 payload.
fn challenge(text: &str) -> Reply {
    Reply::new(334, STANDARD.encode(text))
}

/// Starts an exchange for `AUTH mechanism [initial-response]`.
pub fn start(mechanism: u64, initial: &str) -> Outcome {
    if mechanism == smtp_proto::AUTH_PLAIN {
        if initial.is_empty() {
            return Outcome::Continue(Exchange::Plain, Reply::new(334, ""));
        }
        return Exchange::Plain.feed(initial.as_bytes());
    }
    if mechanism == smtp_proto::AUTH_LOGIN {
        if initial.is_empty() {
            return Outcome::Continue(Exchange::LoginUser, challenge("Username:"));
        }
        return Exchange::LoginUser.feed(initial.as_bytes());
    }
    Outcome::Refused(Reply::new(
        504,
        "5.5.4 Unrecognized authentication type (PLAIN and LOGIN are offered)",
    ))
}

impl Exchange {
    /// Feeds one client line (its CRLF included or not).
    pub fn feed(self, line: &[u8]) -> Outcome {
        let line = line.trim_ascii_end();
        if line == b"*" {
            return Outcome::Refused(Reply::new(501, "5.0.0 Authentication cancelled"));
        }
        // RFC 4954 §4: "=" is an empty initial response.
        let decoded = if line == b"=" {
            Ok(Vec::new())
        } else {
            STANDARD.decode(line)
        };
        let Ok(data) = decoded else {
            return Outcome::Refused(Reply::new(501, "5.5.2 Cannot decode the response"));
        };
        match self {
            Exchange::Plain => {
                // authzid NUL authcid NUL passwd; an authzid other than the user is not allowed.
                let mut parts = data.splitn(3, |b| *b == 0);
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(authz), Some(user), Some(password))
                        if authz.is_empty() || authz == user =>
                    {
                        Outcome::Done {
                            user: user.to_vec(),
                            password: password.to_vec(),
                        }
                    }
                    _ => Outcome::Refused(Reply::new(501, "5.5.2 Malformed PLAIN response")),
                }
            }
            Exchange::LoginUser => {
                Outcome::Continue(Exchange::LoginPassword(data), challenge("Password:"))
            }
            Exchange::LoginPassword(user) => Outcome::Done {
                user,
                password: data,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &[u8]) -> Vec<u8> {
        STANDARD.encode(s).into_bytes()
    }

    #[test]
    fn plain_with_and_without_initial_response() {
        let creds = Credentials::from_pairs(&["alice:s3cret", "bob:pw"]);
        let Outcome::Done { user, password } = start(
            smtp_proto::AUTH_PLAIN,
            &String::from_utf8(b64(b"\0alice\0s3cret")).unwrap(),
        ) else {
            panic!("PLAIN with an initial response completes at once")
        };
        assert!(creds.check(&user, &password));
        let Outcome::Continue(ex, r) = start(smtp_proto::AUTH_PLAIN, "") else {
            panic!("PLAIN without a response asks for one")
        };
        assert_eq!((r.code, r.lines[0].as_str()), (334, ""));
        let Outcome::Done { user, password } = ex.feed(&b64(b"bob\0bob\0wrong")) else {
            panic!()
        };
        assert!(!creds.check(&user, &password));
        assert!(matches!(
            Exchange::Plain.feed(&b64(b"eve\0bob\0pw")),
            Outcome::Refused(r) if r.code == 501
        ));
    }

    #[test]
    fn login_asks_user_then_password() {
        let Outcome::Continue(ex, r) = start(smtp_proto::AUTH_LOGIN, "") else {
            panic!()
        };
        assert_eq!(r.lines[0], "VXNlcm5hbWU6");
        let Outcome::Continue(ex, r) = ex.feed(&b64(b"alice")) else {
            panic!()
        };
        assert_eq!(r.lines[0], "UGFzc3dvcmQ6");
        assert_eq!(
            ex.feed(&b64(b"s3cret")),
            Outcome::Done {
                user: b"alice".to_vec(),
                password: b"s3cret".to_vec()
            }
        );
    }

    #[test]
    fn cancel_garbage_and_unknown_mechanisms() {
        assert!(matches!(Exchange::LoginUser.feed(b"*\r\n"), Outcome::Refused(r) if r.code == 501));
        assert!(matches!(Exchange::Plain.feed(b"!!!"), Outcome::Refused(r) if r.code == 501));
        assert!(matches!(start(1, ""), Outcome::Refused(r) if r.code == 504));
    }

    #[test]
    fn debug_never_shows_a_password() {
        let creds = Credentials::from_pairs(&["alice:s3cret"]);
        let shown = format!("{creds:?}");
        assert!(
            shown.contains("alice") && !shown.contains("s3cret"),
            "{shown}"
        );
    }
}
