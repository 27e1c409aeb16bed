//! Load generator for `bench/smpp-submit.sh`: binds one transceiver to an SMSC and keeps
//! WINDOW submit_sm in flight until COUNT have been answered, then prints the rate and the
//! p50/p99 latency of each submit (send to response). Same load shape as smpp34's perf_esme.
//!
//! Run: `SMSC_ADDR=127.0.0.1:2775 COUNT=200000 WINDOW=64 cargo run --release -p impulse-smpp --example bench_esme`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use impulse_smpp::esme::{Backoff, Esme, EsmeConfig, Event};
use impulse_smpp::pdu::{Address, Pdu, ShortMessage};
use impulse_smpp::session::{BindType, SessionConfig, SubmitResult};

fn env(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let addr = std::env::var("SMSC_ADDR").unwrap_or_else(|_| "127.0.0.1:2775".into());
    let count = env("COUNT", 200_000);
    let window = env("WINDOW", 64) as usize;
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let esme = Esme::spawn(
        EsmeConfig {
            addr: addr.clone(),
            session: SessionConfig {
                bind_type: BindType::Transceiver,
                system_id: "perf".into(),
                password: "perf".into(),
                window,
                submit_timeout: Duration::from_secs(30),
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
    match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
        Ok(Some(Event::Bound { .. })) => {}
        other => panic!("bind failed: {other:?}"),
    }
    let pdu = Pdu::SubmitSm(ShortMessage {
        source: Address::new(0, 1, "12345"),
        dest: Address::new(1, 1, "31600000000"),
        short_message: Bytes::from_static(b"perf test message"),
        ..Default::default()
    });
    let remaining = Arc::new(AtomicU64::new(count));
    let failed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(window);
    for _ in 0..window {
        let (esme, pdu, remaining, failed) =
            (esme.clone(), pdu.clone(), remaining.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity((count as usize / window) + 1);
            while remaining
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| x.checked_sub(1))
                .is_ok()
            {
                let t = Instant::now();
                let r = esme.submit(pdu.clone()).await;
                latencies.push(t.elapsed().as_micros() as u32);
                if !matches!(r, SubmitResult::Response { status, .. } if status.is_ok()) {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut all = Vec::with_capacity(count as usize);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "impulse-esme: {count} submit_sm in {elapsed:.2}s = {:.0} submit_sm/s  window {window}  p50 {}us  p99 {}us  failed {}",
        count as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        failed.load(Ordering::Relaxed)
    );
    esme.shutdown().await;
}
