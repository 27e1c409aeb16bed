//! The DATA phase (RFC 5321 §4.1.1.4, §4.5.2): collects body lines, removes dot-stuffing, and
//! recognises the end of data only as `<CRLF>.<CRLF>` — a bare-LF dot line does not end the
//! message, which keeps Impulse out of SMTP-smuggling ambiguities.
//!
//! Written here rather than taken from smtp-proto: its DATA receiver misses a terminator or a
//! stuffed dot on the first line (dependencies.md §3), and this is twenty lines.

/// Collects one message body.
#[derive(Debug)]
pub struct DataReader {
    body: Vec<u8>,
    max: u64,
    seen: u64,
    at_line_start: bool,
    prev_crlf: bool,
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
            at_line_start: true,
            prev_crlf: true,
        }
    }

    /// Feeds one line including its `\n`. Returns true when it was the end-of-data line.
    pub fn line(&mut self, mut line: &[u8]) -> bool {
        if self.at_line_start {
            if self.prev_crlf && line == b".\r\n" {
                return true;
            }
            if line.first() == Some(&b'.') {
                line = &line[1..];
            }
        }
        self.push(line);
        self.prev_crlf = line.ends_with(b"\r\n");
        self.at_line_start = true;
        false
    }

    /// Feeds part of a line too long to wait for its end.
    pub fn partial(&mut self, mut bytes: &[u8]) {
        if self.at_line_start && bytes.first() == Some(&b'.') {
            bytes = &bytes[1..];
        }
        self.push(bytes);
        self.at_line_start = false;
        self.prev_crlf = false;
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
        // The lone dot after a bare LF is an ordinary (dot-stuffed) line, not the end.
        assert_eq!(body.unwrap(), b"a\n\r\n");
    }

    #[test]
    fn oversize_is_counted_not_stored() {
        let (done, body) = read(&[b"0123456789\r\n", b"0123456789\r\n", b".\r\n"], 15);
        assert!(done);
        assert_eq!(body, Err(Oversize { seen: 24 }));
    }
}
