//! What the crash harnesses share (one node on SQLite, several on PostgreSQL): the ledger of
//! what peers were told was accepted, the kill moments, and the reconciliation of the ledger
//! against what arrived downstream.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use super::{SimSmsc, Sink};

/// The simulator's count of MO messages Impulse answered with deliver_sm_resp.
pub fn mo_acked(sim: &SimSmsc) -> Option<u64> {
    let stats = sim.control("stats");
    stats
        .split_whitespace()
        .find_map(|w| w.strip_prefix("mo_acked="))
        .and_then(|v| v.parse().ok())
}

#[derive(Default)]
pub struct Ledger {
    /// Tokens whose message was acknowledged upstream, with where they must arrive.
    pub acked: Mutex<Vec<(String, Downstream)>>,
    pub attempts: AtomicU64,
}

#[derive(Clone, Copy, PartialEq)]
pub enum Downstream {
    Sink,
    Smsc,
}

/// The harness's kill cycles and seed: `IMPULSE_CRASH_CYCLES` (default 6) and
/// `IMPULSE_CRASH_SEED` (default `seed`).
pub fn cycles_and_seed(seed: u64) -> (u32, u64) {
    let var = |name: &str| std::env::var(name).ok();
    (
        var("IMPULSE_CRASH_CYCLES")
            .and_then(|v| v.parse().ok())
            .unwrap_or(6),
        var("IMPULSE_CRASH_SEED")
            .and_then(|v| v.parse().ok())
            .unwrap_or(seed),
    )
}

/// A small deterministic generator for the kill moments (xorshift; the seed is printed).
pub fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// How often each `[tok-…]` token arrived: in the sink's mail and at the SMSC.
pub fn arrived(sink: &Sink, sim: &SimSmsc) -> HashMap<String, u32> {
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut count = |text: &str| {
        let mut rest = text;
        while let Some(i) = rest.find("[tok-") {
            let end = rest[i..].find(']').map_or(rest.len(), |e| i + e + 1);
            *seen.entry(rest[i..end].to_string()).or_default() += 1;
            rest = &rest[end..];
        }
    };
    for m in sink.messages() {
        count(&m);
    }
    for sms in sim.control("list 1000000").lines() {
        count(sms);
    }
    seen
}

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{SimMmsc, try_send_mail};

/// Sends mail without pause, to an SMTP and an SMS recipient in turn, each to the next of
/// `ports` (a node that is down refuses the connection; the sender moves on). Tokens are
/// `[tok-mW-…]` (to the sink) and `[tok-tW-…]` (to the SMSC).
pub fn mail_sender(
    w: usize,
    ports: Vec<u16>,
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let (to, down, kind) = if n.is_multiple_of(2) {
                ("4445551234@sms.example.com", Downstream::Smsc, 't')
            } else {
                ("someone@example.com", Downstream::Sink, 'm')
            };
            let token = format!("[tok-{kind}{w}-{n:07}]");
            ledger.attempts.fetch_add(1, Ordering::Relaxed);
            let port = ports[(n as usize / 2 + w) % ports.len()];
            if try_send_mail(port, to, &token) {
                ledger.acked.lock().unwrap().push((token, down));
            } else {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    })
}

/// Sends MO SMS from the SMSC simulator, one outstanding at a time, so that the simulator's
/// `mo_acked` count names the one acknowledged. Tokens are `[tok-o-…]`.
pub fn mo_sender(sim: Arc<SimSmsc>, ledger: Arc<Ledger>, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let Some(before) = mo_acked(&sim) else {
                continue;
            };
            let token = format!("[tok-o-{:07}]", n + 1);
            let cmd = format!("mo 4445551234 12345 user@example.com(mo) {token}");
            if sim.control(&cmd).trim() != "ok" {
                // Not bound (the node is down or rebinding).
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            n += 1;
            ledger.attempts.fetch_add(1, Ordering::Relaxed);
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if mo_acked(&sim).is_some_and(|a| a > before) {
                    ledger.acked.lock().unwrap().push((token, Downstream::Sink));
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    })
}

/// Sends MO MMS (a DeliverReq) from the MMSC simulator, one at a time, to the next of `ports`'
/// MM7 listeners; acknowledged when the DeliverRsp says 1000. Tokens are `[tok-v-…]`.
pub fn mms_sender(
    mmsc: Arc<SimMmsc>,
    ports: Vec<u16>,
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let token = format!("[tok-v-{n:07}]");
            ledger.attempts.fetch_add(1, Ordering::Relaxed);
            let url = format!("http://127.0.0.1:{}/mm7/", ports[n as usize % ports.len()]);
            let answer = mmsc.control(&format!("deliver {url} 15550001111 28444 {token}"));
            if answer.starts_with("ok 1000") {
                ledger.acked.lock().unwrap().push((token, Downstream::Sink));
            } else {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    })
}
