//! Checking a client's `user:password` against configured `Auth_Credentials` (HTTP Basic on
//! the MM7 listener, `login` on the console).

use impulse_config::types::list_items;
use impulse_config::{Config, Diagnostic, registry};

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

/// Every `Auth_Credentials` entry (HTTP_Listener, Control_Listener) must be `user:password`.
pub fn validate(cfg: &Config) -> Vec<Diagnostic> {
    let Some(def) = registry::option("Auth_Credentials") else {
        return Vec::new();
    };
    let http =
        cfg.http_listener.iter().flat_map(|listener| {
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

#[cfg(test)]
mod tests {
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
