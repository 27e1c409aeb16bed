//! SMPP interoperability with peers nobody here wrote: Python's smpplib as an ESME against
//! `impulse sim smsc`.

mod common;

use std::process::Command;

use common::{SimSmsc, repo_root};

fn smpplib(port: u16, bind: &str, user: &str, pass: &str) -> String {
    let out = Command::new("python3")
        .arg(repo_root().join("tests/peers/smpplib_esme.py"))
        .args(["127.0.0.1", &port.to_string(), bind, user, pass])
        .output()
        .expect("python3 with smpplib (scripts/install-test-deps.sh installs it)");
    assert!(
        out.status.success(),
        "smpplib failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn field<'a>(json: &'a str, key: &str) -> &'a str {
    let at = json
        .find(&format!("\"{key}\": "))
        .unwrap_or_else(|| panic!("{key} missing in {json}"))
        + key.len()
        + 4;
    let rest = &json[at..];
    &rest[..rest.find([',', '}']).unwrap()]
}

#[test]
fn smpplib_esme_against_the_simulator() {
    let sim = SimSmsc::start(&["--credentials", "pyesme:pw"]);
    let out = smpplib(sim.smpp, "transceiver", "pyesme", "pw");
    assert_eq!(field(&out, "bind"), "0", "{out}");
    let sent: usize = field(&out, "sent").parse().unwrap();
    assert!(sent >= 4, "short, long in segments, UCS-2: {out}");
    // Every submit answered OK with a message id, every one receipted with that id.
    assert_eq!(out.matches("\"status\": 0").count(), sent, "{out}");
    for id in out
        .split("\"message_id\": \"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
    {
        assert!(
            out.contains(&format!("\"receipted_message_id\": \"{id}\"")),
            "receipt for {id} missing: {out}"
        );
    }
    assert!(out.contains("stat:DELIVRD"), "{out}");
    assert_eq!(field(&out, "enquire_link"), "true");
    assert_eq!(field(&out, "unbind"), "true");
    // What the simulator recorded, through its control port.
    let listed = sim.control("list 100");
    assert!(
        listed.contains("\tpyesme\tsmpplib\t4445551234\t0\tHello from smpplib"),
        "{listed}"
    );
    assert!(
        listed.contains("\t8\tПривет, мир"),
        "UCS-2 decoded: {listed}"
    );
    assert!(listed.contains("Long message. Long message."), "{listed}");
    assert!(
        sim.control("stats")
            .starts_with(&format!("submits={sent} receipts={sent}"))
    );
}

#[test]
fn smpplib_binds_every_type_and_bad_credentials_are_refused() {
    let sim = SimSmsc::start(&["--credentials", "pyesme:pw"]);
    for bind in ["transmitter", "receiver"] {
        let out = smpplib(sim.smpp, bind, "pyesme", "pw");
        assert_eq!(field(&out, "bind"), "0", "{bind}: {out}");
        assert_eq!(field(&out, "unbind"), "true");
    }
    let out = smpplib(sim.smpp, "transceiver", "pyesme", "wrong");
    assert_ne!(field(&out, "bind"), "0", "{out}");
}

/// The npm `smpp` package as the SMSC, Impulse's ESME engine as the client.
mod node_smsc {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::mpsc as std_mpsc;
    use std::time::Duration;

    use bytes::Bytes;
    use impulse_smpp::esme::{Backoff, Esme, EsmeConfig, Event};
    use impulse_smpp::pdu::{Address, CommandStatus, Pdu, ShortMessage};
    use impulse_smpp::receipt;
    use impulse_smpp::session::{BindType, SessionConfig, SubmitResult};
    use tokio::sync::mpsc;

    use super::common::{Proc, port_of_ready_line, repo_root};

    struct NodeSmsc {
        port: u16,
        lines: std_mpsc::Receiver<String>,
        _proc: Proc,
    }

    impl NodeSmsc {
        fn start() -> NodeSmsc {
            let mut child = Command::new("node")
                .arg(repo_root().join("tests/peers/node_smsc.js"))
                .arg("0")
                .stdout(Stdio::piped())
                .spawn()
                .expect("node is needed");
            let stdout = child.stdout.take().unwrap();
            let (tx, lines) = std_mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            });
            let mut n = NodeSmsc {
                port: 0,
                lines,
                _proc: Proc(child),
            };
            n.port = port_of_ready_line(&n.expect("\"event\":\"ready\""));
            n
        }

        /// Waits (at most 30 s in all, however chatty the peer is) for a logged event line
        /// containing `needle`.
        fn expect(&self, needle: &str) -> String {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                let line = self
                    .lines
                    .recv_timeout(left.min(Duration::from_secs(10)))
                    .unwrap_or_else(|_| {
                        panic!("node SMSC never logged {needle} (is `npm ci` done in tests/peers?)")
                    });
                if line.contains(needle) {
                    return line;
                }
            }
        }
    }

    fn esme(
        port: u16,
        bind_type: BindType,
        password: &str,
    ) -> (Esme, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let cfg = EsmeConfig {
            addr: format!("127.0.0.1:{port}"),
            session: SessionConfig {
                bind_type,
                system_id: "impulse".into(),
                password: password.into(),
                enquire_link_interval: Duration::from_millis(300),
                ..SessionConfig::default()
            },
            max_bind_retries: 0,
            backoff: Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(1),
            },
            connect_timeout: Duration::from_secs(2),
            reconnect: true,
            tls: None,
        };
        (Esme::spawn(cfg, tx), rx)
    }

    async fn next_event(rx: &mut mpsc::UnboundedReceiver<Event>) -> Event {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("event in time")
            .expect("channel open")
    }

    fn submit(text: &str) -> Pdu {
        Pdu::SubmitSm(ShortMessage {
            source: Address::new(0, 1, "12345"),
            dest: Address::new(1, 1, "4445551234"),
            registered_delivery: 1,
            short_message: Bytes::copy_from_slice(text.as_bytes()),
            ..Default::default()
        })
    }

    // Multi-threaded: `NodeSmsc::expect` blocks its thread while the ESME task keeps running.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn impulse_esme_against_node_smpp_as_the_smsc() {
        let smsc = NodeSmsc::start();
        let (esme, mut events) = esme(smsc.port, BindType::Transceiver, "secret");
        assert!(
            matches!(next_event(&mut events).await, Event::Bound { smsc_system_id } if smsc_system_id == "node-smsc")
        );
        let bind = smsc.expect("\"event\":\"bind\"");
        assert!(
            bind.contains("\"type\":\"bind_transceiver\"")
                && bind.contains("\"interface_version\":52"),
            "{bind}"
        );

        // submit_sm -> response with an id, then a receipt carrying that id.
        let id = match esme.submit(submit("hello node")).await {
            SubmitResult::Response {
                status,
                pdu: Pdu::SubmitSmResp(r),
            } if status.is_ok() => r.message_id,
            other => panic!("{other:?}"),
        };
        assert!(
            smsc.expect("\"event\":\"submit_sm\"")
                .contains("\"text\":\"hello node\"")
        );
        let Event::Incoming { frame, responder } = next_event(&mut events).await else {
            panic!("receipt expected")
        };
        let Pdu::DeliverSm(sm) = &frame.pdu else {
            panic!()
        };
        let r = receipt::from_deliver_sm(sm);
        assert_eq!(
            (r.id.as_deref(), r.state),
            (Some(id.as_str()), Some(receipt::MessageState::Delivered))
        );
        responder.respond(CommandStatus::ESME_ROK);
        assert!(smsc.expect("\"kind\":\"receipt\"").contains("\"status\":0"));

        // An MO deliver_sm, answered.
        esme.submit(submit("please reply")).await;
        let mut mo = None;
        while mo.is_none() {
            if let Event::Incoming { frame, responder } = next_event(&mut events).await {
                let Pdu::DeliverSm(sm) = &frame.pdu else {
                    panic!()
                };
                if !receipt::is_receipt(sm) {
                    // node-smpp writes data_coding 0 text in the GSM 03.38 alphabet ('@' is 0x00).
                    mo = Some(impulse_smpp::text::decode(
                        sm.data_coding,
                        &sm.short_message,
                    ));
                }
                responder.respond(CommandStatus::ESME_ROK);
            }
        }
        assert_eq!(mo.unwrap(), "alice@example.com(Re: hi) sure thing");
        assert!(smsc.expect("\"kind\":\"mo\"").contains("\"status\":0"));

        // enquire_link both ways: the SMSC's was answered; ours goes out when idle.
        assert!(smsc.expect("enquire_link_resp").contains("\"status\":0"));
        smsc.expect("\"event\":\"enquire_link\"}");

        // Clean unbind.
        tokio::time::timeout(Duration::from_secs(5), esme.shutdown())
            .await
            .unwrap();
        smsc.expect("\"event\":\"unbind\"");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_bind_type_and_a_refused_bind() {
        let smsc = NodeSmsc::start();
        for (bind_type, name) in [
            (BindType::Transmitter, "bind_transmitter"),
            (BindType::Receiver, "bind_receiver"),
        ] {
            let (esme, mut events) = esme(smsc.port, bind_type, "secret");
            assert!(matches!(next_event(&mut events).await, Event::Bound { .. }));
            assert!(smsc.expect("\"event\":\"bind\"").contains(name));
            if bind_type == BindType::Receiver {
                assert_eq!(
                    esme.submit(submit("x")).await,
                    SubmitResult::ConnectionLost,
                    "a receiver cannot submit"
                );
            }
            esme.shutdown().await;
            smsc.expect("\"event\":\"unbind\"");
        }
        let (esme, mut events) = esme(smsc.port, BindType::Transceiver, "wrong");
        loop {
            match next_event(&mut events).await {
                Event::BindFailed { status } => {
                    assert_eq!(status, Some(CommandStatus::ESME_RBINDFAIL));
                    break;
                }
                Event::Disconnected { .. } => {}
                other => panic!("{other:?}"),
            }
        }
        esme.shutdown().await;
    }
}
