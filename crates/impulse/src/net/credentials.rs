//! Checking a client's `user:password` against configured `Auth_Credentials` (HTTP Basic on
//! the MM7 listener and the admin HTTP listener, `login` on the console).

use impulse_config::names;
use impulse_config::types::list_items;
use impulse_config::{Config, Diagnostic};

/// Whether `given` equals one of `allowed`. Every entry is compared in full, without early
/// exit, so the time taken does not tell how much of a guess was right.
pub fn matches<S: AsRef<str>>(given: &[u8], allowed: &[S]) -> bool {
    let mut any = false;
    for want in allowed {
        let want = want.as_ref().as_bytes();
        let mut diff = u8::from(want.len() != given.len());
        for (i, w) in want.iter().enumerate() {
            diff |= w ^ given.get(i).copied().unwrap_or(0);
        }
        any |= diff == 0;
    }
    any
}

/// Whether `authorization` (an HTTP `Authorization` header) carries Basic credentials equal
/// to one of `allowed` (`user:password`).
pub fn basic_matches<S: AsRef<str>>(authorization: Option<&str>, allowed: &[S]) -> bool {
    use base64::Engine;
    let Some(encoded) = authorization.and_then(|a| {
        let (scheme, rest) = a.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
    }) else {
        return false;
    };
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .is_ok_and(|given| matches(&given, allowed))
}

/// Every `Auth_Credentials` entry (ESMTP_Listener, HTTP_Listener, Control_Listener) must be
/// `user:password`.
pub fn validate(cfg: &Config) -> Vec<Diagnostic> {
    let def = names::AUTH_CREDENTIALS.def();
    let http = (cfg.http_listener.iter())
        .chain(cfg.esmtp_listener.iter())
        .flat_map(|listener| {
            std::iter::once(&listener.scope)
                .chain(listener.peers.iter().map(|p| &p.scope))
                .chain(listener.listens.iter().flat_map(|l| {
                    std::iter::once(&l.scope).chain(l.peers.iter().map(|p| &p.scope))
                }))
        });
    let scopes = http.chain(cfg.control_listener.iter().map(|c| &c.scope));
    scopes
        .filter_map(|s| s.get(def))
        .filter(|e| list_items(&e.value).iter().any(|c| !c.contains(':')))
        .map(|e| Diagnostic {
            span: Some(e.span.clone()),
            message: "Auth_Credentials: every entry must be `user:password`".into(),
        })
        .collect()
}

/// HTTP Basic credentials checked through the guard (`auth_guard`): `None` when they match,
/// else the refusal and how long to hold it back. `challenge` builds the 401 answer; a request
/// with no credentials at all gets it without counting as a failure (clients ask first).
pub fn check_basic(
    peer: std::net::SocketAddr,
    authorization: Option<&str>,
    allowed: &[impl AsRef<str>],
    service: &'static str,
    challenge: impl FnOnce() -> impulse_http::Reply,
) -> Option<(impulse_http::Reply, std::time::Duration)> {
    let guard = crate::net::auth_guard::global();
    let now = std::time::Instant::now();
    if let crate::net::auth_guard::Gate::Locked(left) = guard.check(peer.ip(), now) {
        let mut r = impulse_http::reply(
            hyper::StatusCode::TOO_MANY_REQUESTS,
            "text/plain",
            "too many failed credentials from your address; try again later\n",
        );
        r.headers_mut().insert(
            hyper::header::RETRY_AFTER,
            hyper::header::HeaderValue::from(left.as_secs().max(1)),
        );
        return Some((r, std::time::Duration::ZERO));
    }
    if basic_matches(authorization, allowed) {
        return None;
    }
    let delay = if authorization.is_some() {
        guard.failed(peer.ip(), service, now)
    } else {
        std::time::Duration::ZERO
    };
    Some((challenge(), delay))
}

#[cfg(test)]
mod tests {
    #[test]
    fn basic_credentials_must_match_one_entry_exactly() {
        let allowed = ["mmsc:s3cret", "other:pw"];
        // base64("mmsc:s3cret"), base64("other:pw"), base64("mmsc:s3cre"), base64("mmsc:s3cret!")
        assert!(super::basic_matches(
            Some("Basic bW1zYzpzM2NyZXQ="),
            &allowed
        ));
        assert!(super::basic_matches(Some("basic  b3RoZXI6cHc= "), &allowed));
        assert!(!super::basic_matches(
            Some("Basic bW1zYzpzM2NyZQ=="),
            &allowed
        ));
        assert!(!super::basic_matches(
            Some("Basic bW1zYzpzM2NyZXQh"),
            &allowed
        ));
        assert!(!super::basic_matches(
            Some("Bearer bW1zYzpzM2NyZXQ="),
            &allowed
        ));
        assert!(!super::basic_matches(Some("Basic !!!"), &allowed));
        assert!(!super::basic_matches(None, &allowed));
    }

    #[test]
    fn only_a_whole_entry_matches() {
        let allowed = ["ops:secret", "other:pw"];
        assert!(super::matches(b"ops:secret", &allowed));
        assert!(super::matches(b"other:pw", &allowed));
        assert!(!super::matches(b"ops:secre", &allowed));
        assert!(!super::matches(b"ops:secret2", &allowed));
        assert!(!super::matches(b"", &allowed));
        assert!(!super::matches(b"ops:secret", &[] as &[&str]));
    }
}
