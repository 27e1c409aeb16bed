//! Delivery status notifications (RFC 3464): the multipart/report mailed to a sender whose
//! message failed permanently or expired.
//!
//! Written by hand: the structure is fixed by the RFC, every part must stay 7-bit text as
//! written, and a general MIME builder would re-encode the delivery-status part.

use std::sync::atomic::{AtomicU64, Ordering};

/// One recipient the report is about.
#[derive(Clone, Debug)]
pub struct FailedRecipient {
    pub address: String,
    /// The remote or internal response, e.g. `550 5.1.1 no such user`.
    pub response: String,
    /// The host that gave the response, when one did.
    pub remote_mta: Option<String>,
}

/// The facts a report needs about the original message.
#[derive(Clone, Debug)]
pub struct Original<'a> {
    pub sender: &'a str,
    pub message: &'a [u8],
    /// Unix seconds of reception.
    pub arrival: i64,
}

/// Largest part of the original header block quoted in the report.
const MAX_QUOTED_HEADERS: usize = 64 * 1024;

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// The enhanced status code in a response, or one derived from its class.
pub fn status_of(response: &str) -> String {
    let mut words = response.split_whitespace();
    let code = words.next().unwrap_or("");
    if let Some(esc) = words.next().filter(|w| {
        let parts: Vec<&str> = w.split('.').collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    }) {
        return esc.to_string();
    }
    if code.starts_with('4') {
        "4.0.0".into()
    } else {
        "5.0.0".into()
    }
}

fn rfc2822_date(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

/// Removes CR and LF so that peer-supplied text cannot start a new header line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// Builds the complete report message (headers and body).
pub fn delivery_status_notification(
    reporting_mta: &str,
    original: &Original<'_>,
    failed: &[FailedRecipient],
) -> Vec<u8> {
    let now = jiff::Timestamp::now();
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let token = format!("{:x}.{:x}.{seq}", now.as_second(), now.subsec_nanosecond());
    let boundary = format!("=_impulse_dsn_{token}");
    let host = one_line(reporting_mta);
    let mut m = String::new();
    m.push_str(&format!(
        "From: Mail Delivery System <MAILER-DAEMON@{host}>\r\n"
    ));
    m.push_str(&format!("To: <{}>\r\n", one_line(original.sender)));
    m.push_str("Subject: Undelivered Mail Returned to Sender\r\n");
    m.push_str(&format!("Date: {}\r\n", rfc2822_date(now.as_second())));
    m.push_str(&format!("Message-ID: <dsn.{token}@{host}>\r\n"));
    m.push_str("Auto-Submitted: auto-replied\r\n");
    m.push_str("MIME-Version: 1.0\r\n");
    m.push_str(&format!("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\r\n"));
    m.push_str("This is a MIME-encapsulated message.\r\n\r\n");

    m.push_str(&format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
    ));
    m.push_str(&format!("This is the mail system at host {host}.\r\n\r\n"));
    m.push_str("Your message could not be delivered to one or more recipients.\r\n\r\n");
    for f in failed {
        m.push_str(&format!(
            "<{}>: {}\r\n",
            one_line(&f.address),
            one_line(&f.response)
        ));
    }
    m.push_str("\r\n");

    m.push_str(&format!(
        "--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
    ));
    m.push_str(&format!("Reporting-MTA: dns; {host}\r\n"));
    m.push_str(&format!(
        "Arrival-Date: {}\r\n",
        rfc2822_date(original.arrival)
    ));
    for f in failed {
        m.push_str("\r\n");
        m.push_str(&format!(
            "Final-Recipient: rfc822; {}\r\n",
            one_line(&f.address)
        ));
        m.push_str("Action: failed\r\n");
        m.push_str(&format!("Status: {}\r\n", status_of(&f.response)));
        if let Some(mta) = &f.remote_mta {
            m.push_str(&format!("Remote-MTA: dns; {}\r\n", one_line(mta)));
        }
        m.push_str(&format!(
            "Diagnostic-Code: smtp; {}\r\n",
            one_line(&f.response)
        ));
    }
    m.push_str("\r\n");

    m.push_str(&format!(
        "--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    ));
    let mut out = m.into_bytes();
    let headers = header_block(original.message);
    out.extend_from_slice(&headers[..headers.len().min(MAX_QUOTED_HEADERS)]);
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

/// The header section of a message, without the blank line that ends it.
pub fn header_block(message: &[u8]) -> &[u8] {
    let end = memchr::memmem::find(message, b"\r\n\r\n")
        .map(|p| p + 2)
        .or_else(|| memchr::memmem::find(message, b"\n\n").map(|p| p + 1))
        .unwrap_or(message.len());
    &message[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_has_the_three_parts_and_the_status() {
        let original = Original {
            sender: "alice@example.org",
            message: b"Subject: hi\r\nFrom: a\r\n\r\nbody text\r\n",
            arrival: 0,
        };
        let dsn = delivery_status_notification(
            "mx.test",
            &original,
            &[FailedRecipient {
                address: "bob@example.net".into(),
                response: "550 5.1.1 no such user".into(),
                remote_mta: Some("127.0.0.1".into()),
            }],
        );
        let text = String::from_utf8(dsn).unwrap();
        assert!(text.contains("Content-Type: multipart/report; report-type=delivery-status;"));
        assert!(text.contains(
            "Final-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        ));
        assert!(
            text.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: hi\r\nFrom: a\r\n")
        );
        assert!(!text.contains("body text"), "only headers are returned");
        assert!(text.contains("To: <alice@example.org>"));
    }

    #[test]
    fn status_codes() {
        assert_eq!(
            status_of("554 5.4.7 [internal] exceeded max time without delivery"),
            "5.4.7"
        );
        assert_eq!(status_of("550 no"), "5.0.0");
        assert_eq!(status_of("451 4.4.1 connect failed"), "4.4.1");
    }
}
