//! The DATA phase (RFC 5321 §4.1.1.4, §4.5.2): collects body lines, removes dot-stuffing, and
//! recognises the end of data only as `<CRLF>.<CRLF>` — a bare-LF dot line does not end the
//! message, which keeps Impulse out of SMTP-smuggling ambiguities.
//!
//! Written here rather than taken from smtp-proto: its DATA receiver misses a terminator or a
//! stuffed dot on the first line (docs/reference/dependencies.md §3), and this is twenty lines.

/// Collects one message body.
#[derive(Debug, PartialEq, Eq)]
pub struct DataReader {
    body: Vec<u8>,
    max: u64,
    seen: u64,
    /// The next byte starts a line (after CRLF): where a dot is stuffing, or the end of data.
    line_start: bool,
    /// The last byte fed was a CR that a partial chunk ended with: an LF next completes a CRLF.
    pending_cr: bool,
}

/// The message was larger than allowed; its bytes were read and discarded.
#[derive(Debug, PartialEq, Eq)]
pub struct Oversize {
    pub seen: u64,
}

impl DataReader {
    pub fn new(max: u64) -> Self {
        // The CRLF that ended the DATA command counts as the CRLF before the first line.
        DataReader {
            body: Vec::with_capacity(4096),
            max,
            seen: 0,
            line_start: true,
            pending_cr: false,
        }
    }

    /// Feeds one line including its `\n`. Returns true when it was the end-of-data line.
    ///
    /// Only CRLF ends a line (RFC 5321 §2.3.8): after a bare LF, a dot is an ordinary
    /// character, neither stuffing nor the end of data.
    pub fn line(&mut self, mut line: &[u8]) -> bool {
        if self.line_start {
            if line == b".\r\n" {
                return true;
            }
            if line.first() == Some(&b'.') {
                line = &line[1..];
            }
        }
        self.push(line);
        // A CR that ended the previous partial chunk and this lone LF make a CRLF: a line of
        // 64 KiB or more split between its CR and its LF still ends where it should.
        self.line_start = line.ends_with(b"\r\n") || (line == b"\n" && self.pending_cr);
        self.pending_cr = false;
        false
    }

    /// Feeds part of a line too long to wait for its end.
    pub fn partial(&mut self, mut bytes: &[u8]) {
        if self.line_start && bytes.first() == Some(&b'.') {
            bytes = &bytes[1..];
        }
        self.push(bytes);
        self.line_start = false;
        self.pending_cr = bytes.last() == Some(&b'\r');
    }

    fn push(&mut self, bytes: &[u8]) {
        self.seen += bytes.len() as u64;
        if self.seen <= self.max {
            self.body.extend_from_slice(bytes);
        }
    }

    pub fn finish(self) -> Result<Vec<u8>, Oversize> {
        if self.seen > self.max {
            Err(Oversize { seen: self.seen })
        } else {
            Ok(self.body)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(lines: &[&[u8]], max: u64) -> (bool, Result<Vec<u8>, Oversize>) {
        let mut r = DataReader::new(max);
        let mut done = false;
        for l in lines {
            done = r.line(l);
            if done {
                break;
            }
        }
        (done, r.finish())
    }

    #[test]
    fn empty_body_and_stuffed_first_line() {
        assert_eq!(read(&[b".\r\n"], 100), (true, Ok(vec![])));
        assert_eq!(
            read(&[b"..x\r\n", b".\r\n"], 100),
            (true, Ok(b".x\r\n".to_vec()))
        );
    }

    #[test]
    fn bare_lf_dot_does_not_end_data() {
        let (done, _) = read(&[b"a\n", b".\n", b"b\r\n"], 100);
        assert!(!done);
        let (done, body) = read(&[b"a\n", b".\r\n", b".\r\n"], 100);
        assert!(done);
        // The dot after a bare LF is in the middle of the line "a\n.\r\n": kept as it is.
        assert_eq!(body.unwrap(), b"a\n.\r\n");
    }

    #[test]
    fn a_long_line_split_between_cr_and_lf_still_ends() {
        let mut r = DataReader::new(1 << 20);
        let long = vec![b'x'; 70_000];
        r.partial(&long);
        r.partial(b"tail\r");
        assert!(!r.line(b"\n"));
        assert!(r.line(b".\r\n"), "the end of data after a split CRLF");
        let body = r.finish().unwrap();
        assert!(body.ends_with(b"xtail\r\n"));
        // A CR that is not followed by LF is no line end.
        let mut r = DataReader::new(1 << 20);
        r.partial(b"a\r");
        assert!(!r.line(b"b\n"));
        assert!(!r.line(b".\r\n"));
    }

    #[test]
    fn oversize_is_counted_not_stored() {
        let (done, body) = read(&[b"0123456789\r\n", b"0123456789\r\n", b".\r\n"], 15);
        assert!(done);
        assert_eq!(body, Err(Oversize { seen: 24 }));
    }
}
