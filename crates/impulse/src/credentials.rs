//! Checking a client's `user:password` against configured `Auth_Credentials` (HTTP Basic on
//! the MM7 listener, `login` on the console).

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
