//! The do-nothing ESME of `bench/mo-to-mail.sh`: binds one receiver to an SMSC and answers every
//! deliver_sm at once with ESME_ROK, storing nothing; prints the rate once COUNT have arrived
//! (from the first). The reference an MO-taking gateway is measured beside.
//!
//! Run: `SMSC_ADDR=127.0.0.1:2775 COUNT=100000 cargo run --release -p impulse-smpp --example mo_sink`

use std::time::{Duration, Instant};

use impulse_smpp::esme::{Backoff, Esme, EsmeConfig, Event};
use impulse_smpp::pdu::CommandStatus;
use impulse_smpp::session::{BindType, SessionConfig};

#[tokio::main]
async fn main() {
    let addr = std::env::var("SMSC_ADDR").unwrap_or_else(|_| "127.0.0.1:2775".into());
    let count: u64 = std::env::var("COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let esme = Esme::spawn(
        EsmeConfig {
            addr,
            session: SessionConfig {
                bind_type: BindType::Receiver,
                system_id: "sink".into(),
                password: "sink".into(),
                inactivity: None,
                ..SessionConfig::default()
            },
            max_bind_retries: 1,
            backoff: Backoff::default(),
            connect_timeout: Duration::from_secs(5),
            reconnect: false,
            tls: None,
        },
        tx,
    );
    let mut got = 0u64;
    let mut start = None;
    while let Some(ev) = events.recv().await {
        match ev {
            Event::Bound { .. } => println!("bound"),
            Event::Incoming { responder, .. } => {
                responder.respond(CommandStatus::ESME_ROK);
                let t = *start.get_or_insert_with(Instant::now);
                got += 1;
                if got == count {
                    let s = t.elapsed().as_secs_f64();
                    println!(
                        "mo-sink: {count} deliver_sm in {s:.2}s = {:.0} MO/s",
                        count as f64 / s
                    );
                    break;
                }
            }
            Event::Disconnected { reason } => panic!("disconnected: {reason}"),
            _ => {}
        }
    }
    esme.shutdown().await;
}
