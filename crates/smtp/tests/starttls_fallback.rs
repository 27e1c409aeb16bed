//! The client's opportunistic STARTTLS (RFC 7435) against a server that offers STARTTLS but
//! cannot complete a handshake: the client delivers in the clear on a second connection rather
//! than failing for ever, and goes on in the clear when STARTTLS is refused; with STARTTLS
//! required it fails instead.

use std::sync::Arc;
use std::time::Duration;

use impulse_smtp::outbound::{Connection, Stage, TlsPolicy};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Serves `sessions` connections: offers STARTTLS, answers it with 220 and then garbage
/// instead of a TLS handshake (or, with `refuse`, with 454 and goes on in the clear); accepts
/// mail otherwise. Returns the messages it received.
async fn broken_tls_server(listener: TcpListener, sessions: usize, refuse: bool) -> Vec<String> {
    let mut got = Vec::new();
    for _ in 0..sessions {
        let (s, _) = listener.accept().await.unwrap();
        let (rd, mut wr) = s.into_split();
        let mut rd = BufReader::new(rd);
        wr.write_all(b"220 broken.test ESMTP\r\n").await.unwrap();
        let mut in_data = false;
        let mut body = String::new();
        loop {
            let mut line = String::new();
            if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
                break;
            }
            if in_data {
                if line == ".\r\n" {
                    in_data = false;
                    got.push(std::mem::take(&mut body));
                    wr.write_all(b"250 2.0.0 kept\r\n").await.unwrap();
                } else {
                    body.push_str(&line);
                }
                continue;
            }
            let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
            let answer: &[u8] = match verb.as_str() {
                "EHLO" => b"250-broken.test\r\n250 STARTTLS\r\n",
                "STAR" if refuse => b"454 4.7.0 TLS not available now\r\n",
                "STAR" => {
                    wr.write_all(b"220 2.0.0 go ahead\r\n").await.unwrap();
                    wr.write_all(b"this is not a TLS handshake\r\n")
                        .await
                        .unwrap();
                    break;
                }
                "DATA" => {
                    in_data = true;
                    b"354 go\r\n"
                }
                "QUIT" => b"221 bye\r\n",
                _ => b"250 2.0.0 ok\r\n",
            };
            wr.write_all(answer).await.unwrap();
        }
    }
    got
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
    )
}

#[tokio::test]
async fn a_failed_opportunistic_handshake_falls_back_to_the_clear() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(broken_tls_server(listener, 2, false));
    let targets = [(addr, "127.0.0.1".to_string())];
    let policy = TlsPolicy::Opportunistic(tls_config());
    let timeout = Duration::from_secs(5);
    let mut c = Connection::connect_tls(&targets, None, "client.test", timeout, &policy)
        .await
        .expect("delivered in the clear on a second connection");
    assert!(!c.is_tls());
    let replies = c
        .send(
            &Some("a@b.example".parse().unwrap()),
            &["u@broken.test".parse().unwrap()],
            b"Subject: x\r\n\r\nhello\r\n",
        )
        .await
        .unwrap();
    assert_eq!(replies[0].0.code, 250);
    c.quit().await;
    let got = server.await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("hello"));
}

#[tokio::test]
async fn a_failed_required_handshake_is_a_temporary_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(broken_tls_server(listener, 1, false));
    let targets = [(addr, "127.0.0.1".to_string())];
    let policy = TlsPolicy::Required(tls_config());
    let timeout = Duration::from_secs(5);
    let e = Connection::connect_tls(&targets, None, "client.test", timeout, &policy)
        .await
        .err()
        .expect("no delivery without TLS");
    assert_eq!(e.stage, Stage::TlsHandshake);
    assert!(!e.is_permanent());
    assert!(server.await.unwrap().is_empty());
}

#[tokio::test]
async fn a_refused_opportunistic_starttls_goes_on_in_the_clear() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(broken_tls_server(listener, 1, true));
    let targets = [(addr, "127.0.0.1".to_string())];
    let policy = TlsPolicy::Opportunistic(tls_config());
    let timeout = Duration::from_secs(5);
    let mut c = Connection::connect_tls(&targets, None, "client.test", timeout, &policy)
        .await
        .expect("the same connection, in the clear");
    assert!(!c.is_tls());
    let replies = c
        .send(
            &Some("a@b.example".parse().unwrap()),
            &["u@broken.test".parse().unwrap()],
            b"\r\nsame connection\r\n",
        )
        .await
        .unwrap();
    assert_eq!(replies[0].0.code, 250);
    c.quit().await;
    let got = server.await.unwrap();
    assert_eq!(got.len(), 1, "one connection was enough");
}
