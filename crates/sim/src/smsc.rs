//! An SMSC simulator: the SMSC side of SMPP 3.4, for tests, benchmarks, the demo and users.
//!
//! It accepts every bind type (with the configured credentials, or any when none are set),
//! answers submit_sm / submit_multi / data_sm with message ids, answers enquire_link and
//! unbind both ways, sends delivery receipts after a delay with a configurable outcome mix,
//! records what it received, and injects MO messages and faults on request through a
//! line-based control port (see [`control`]). Unknown commands and malformed PDUs get
//! generic_nack with the right status. Built to keep up with the engine: one task per
//! connection, responses batched into one write per read.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use impulse_smpp::pdu::*;
use impulse_smpp::receipt::ESM_DELIVERY_RECEIPT;
use impulse_smpp::text;

/// Settings of a simulator.
#[derive(Clone, Debug, Default)]
pub struct SimConfig {
    /// Accepted (system_id, password) pairs; empty accepts any.
    pub credentials: Vec<(String, String)>,
    /// Send a delivery receipt this long after each submit that asked for one.
    pub receipt_delay: Duration,
    /// Percentage (0–100) of receipts that say DELIVRD; the rest say UNDELIV.
    pub receipt_delivered_percent: u8,
    /// Send each receipt before the submit_sm_resp it reports on (as some SMSCs do for
    /// ENROUTE/ACCEPTD receipts, and as a race may deliver them): the ESME learns the id from
    /// the receipt first.
    pub receipts_first: bool,
    /// deliver_sm (MO and receipts) outstanding at once per bind, waiting for their
    /// deliver_sm_resp (0: no limit). Real SMSCs often use 1.
    pub mo_window: usize,
    /// Messages kept for `list` (the counters count everything).
    pub keep: usize,
}

/// One message the simulator received.
#[derive(Clone, Debug)]
pub struct Received {
    pub message_id: String,
    /// Which connection it came on (connections are numbered from 1 as they connect).
    pub session: u64,
    pub system_id: String,
    pub command: CommandId,
    pub source: String,
    pub dest: String,
    pub data_coding: u8,
    pub esm_class: u8,
    pub short_message: Bytes,
    pub tlvs: Vec<Tlv>,
    /// When the PDU arrived (wall clock, so that another process can compare its own times).
    pub at: SystemTime,
}

impl Received {
    /// The text as the handset would show it (UDH removed, decoded by data_coding).
    pub fn text(&self) -> String {
        let body = if self.esm_class & text::ESM_UDHI != 0 {
            text::parse_udh(&self.short_message)
                .map_or(&self.short_message[..], |(_, at)| &self.short_message[at..])
        } else {
            &self.short_message[..]
        };
        let body = self
            .tlvs
            .iter()
            .find(|t| t.tag == tag::MESSAGE_PAYLOAD)
            .map_or(body, |t| &t.value[..]);
        text::decode(self.data_coding, body)
    }
}

/// Faults injected on request.
#[derive(Debug, Default)]
struct Faults {
    /// Answer the next N submissions with this status.
    status: VecDeque<CommandStatus>,
    /// Do not answer the next N submissions.
    drop: u32,
    /// Delay every response by this much.
    delay: Duration,
    /// Destinations every submit_multi_resp lists as unsuccessful, with their error_status.
    refuse: Vec<(String, CommandStatus)>,
}

struct Shared {
    cfg: SimConfig,
    next_id: AtomicU64,
    submits: AtomicU64,
    receipts_sent: AtomicU64,
    mo_sent: AtomicU64,
    binds: AtomicU64,
    /// generic_nacks received from ESMEs (answers to garbage), enquire_link_resps received.
    nacks: AtomicU64,
    enquire_resps: AtomicU64,
    /// deliver_sm answered with ESME_ROK: what the ESME has taken responsibility for.
    mo_acked: AtomicU64,
    /// Which receiving bind MO go to (0: the first; n: the n-th in connection order), as an
    /// SMSC may deliver an account's MO on any of its binds.
    mo_bind: AtomicU64,
    kept: Mutex<VecDeque<Received>>,
    faults: Mutex<Faults>,
    /// Every bound session: id, system_id, whether it may receive (receiver or transceiver).
    sessions: Mutex<Vec<BoundSession>>,
    next_session: AtomicU64,
}

struct BoundSession {
    id: u64,
    system_id: String,
    receives: bool,
    tx: mpsc::UnboundedSender<SessionCmd>,
}

enum SessionCmd {
    /// A new request from the SMSC (deliver_sm): numbered by the session.
    Send(Pdu),
    /// A response, sent later with its own sequence number (delayed responses).
    Frame(Frame),
    Garbage,
    Disconnect,
}

/// A running simulator.
#[derive(Clone)]
pub struct Smsc {
    shared: Arc<Shared>,
    pub addr: SocketAddr,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Smsc {
    /// Binds `addr` and serves SMPP until the process ends.
    pub async fn start(addr: &str, cfg: SimConfig) -> std::io::Result<Smsc> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let keep = if cfg.keep == 0 { 10_000 } else { cfg.keep };
        let shared = Arc::new(Shared {
            cfg: SimConfig { keep, ..cfg },
            next_id: AtomicU64::new(1),
            submits: AtomicU64::new(0),
            receipts_sent: AtomicU64::new(0),
            mo_sent: AtomicU64::new(0),
            binds: AtomicU64::new(0),
            nacks: AtomicU64::new(0),
            enquire_resps: AtomicU64::new(0),
            mo_acked: AtomicU64::new(0),
            mo_bind: AtomicU64::new(0),
            kept: Mutex::new(VecDeque::new()),
            faults: Mutex::new(Faults::default()),
            sessions: Mutex::new(Vec::new()),
            next_session: AtomicU64::new(1),
        });
        let s = shared.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, s.clone()));
            }
        });
        Ok(Smsc { shared, addr })
    }

    pub fn receipts_sent(&self) -> u64 {
        self.shared.receipts_sent.load(Ordering::Relaxed)
    }

    pub fn submits(&self) -> u64 {
        self.shared.submits.load(Ordering::Relaxed)
    }

    pub fn received(&self) -> Vec<Received> {
        lock(&self.shared.kept).iter().cloned().collect()
    }

    pub fn bound_sessions(&self) -> usize {
        lock(&self.shared.sessions).len()
    }

    /// Sends an MO message to a bound receiver or transceiver. False when none is bound.
    pub fn inject_mo(
        &self,
        source: &str,
        dest: &str,
        data_coding: u8,
        esm_class: u8,
        short_message: &[u8],
        tlvs: Vec<Tlv>,
    ) -> bool {
        let pdu = mo_pdu(source, dest, data_coding, esm_class, short_message, tlvs);
        let nth = self
            .shared
            .mo_bind
            .load(Ordering::Relaxed)
            .saturating_sub(1) as usize;
        self.send_mo_on(nth, pdu)
    }

    /// Sends an MO PDU on the `nth` receiving bind (0: the first, in connection order; past the
    /// last, wraps around). False when none is bound.
    fn send_mo_on(&self, nth: usize, pdu: Pdu) -> bool {
        let sessions = lock(&self.shared.sessions);
        let receivers = sessions.iter().filter(|s| s.receives).count();
        if receivers == 0 {
            return false;
        }
        match sessions.iter().filter(|s| s.receives).nth(nth % receivers) {
            Some(s) => {
                self.shared.mo_sent.fetch_add(1, Ordering::Relaxed);
                s.tx.send(SessionCmd::Send(pdu)).is_ok()
            }
            None => false,
        }
    }

    /// The next `n` submissions are answered with `status`.
    pub fn fail_next(&self, status: CommandStatus, n: usize) {
        lock(&self.shared.faults)
            .status
            .extend(std::iter::repeat_n(status, n));
    }

    /// The next `n` submissions get no response at all.
    pub fn drop_next(&self, n: u32) {
        lock(&self.shared.faults).drop += n;
    }

    pub fn delay_responses(&self, d: Duration) {
        lock(&self.shared.faults).delay = d;
    }

    /// Closes every connection at once.
    pub fn disconnect_all(&self) {
        for s in lock(&self.shared.sessions).drain(..) {
            let _ = s.tx.send(SessionCmd::Disconnect);
        }
    }

    /// Sends a PDU that cannot be decoded to every session.
    pub fn send_garbage(&self) {
        for s in lock(&self.shared.sessions).iter() {
            let _ = s.tx.send(SessionCmd::Garbage);
        }
    }

    /// Sends enquire_link to every session (the SMSC side of "enquire_link both ways").
    pub fn enquire_all(&self) {
        for s in lock(&self.shared.sessions).iter() {
            let _ = s.tx.send(SessionCmd::Send(Pdu::EnquireLink));
        }
    }

    /// Sends unbind to every session; each closes when its unbind_resp comes back.
    pub fn unbind_all(&self) {
        for s in lock(&self.shared.sessions).iter() {
            let _ = s.tx.send(SessionCmd::Send(Pdu::Unbind));
        }
    }

    /// generic_nacks received from ESMEs.
    pub fn nacks(&self) -> u64 {
        self.shared.nacks.load(Ordering::Relaxed)
    }

    /// enquire_link_resps received from ESMEs.
    pub fn enquire_responses(&self) -> u64 {
        self.shared.enquire_resps.load(Ordering::Relaxed)
    }

    /// Serves the control protocol on `addr` (see [`control`]).
    pub async fn serve_control(&self, addr: &str) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let smsc = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(control(stream, smsc.clone()));
            }
        });
        Ok(local)
    }

    fn stats(&self) -> String {
        let s = &self.shared;
        format!(
            "submits={} receipts={} mo={} binds={} bound={} nacks={} enquire_resps={} mo_acked={}",
            s.submits.load(Ordering::Relaxed),
            s.receipts_sent.load(Ordering::Relaxed),
            s.mo_sent.load(Ordering::Relaxed),
            s.binds.load(Ordering::Relaxed),
            self.bound_sessions(),
            s.nacks.load(Ordering::Relaxed),
            s.enquire_resps.load(Ordering::Relaxed),
            s.mo_acked.load(Ordering::Relaxed)
        )
    }
}

/// A deliver_sm carrying an MO.
fn mo_pdu(
    source: &str,
    dest: &str,
    data_coding: u8,
    esm_class: u8,
    sm: &[u8],
    tlvs: Vec<Tlv>,
) -> Pdu {
    Pdu::DeliverSm(ShortMessage {
        source: Address::new(1, 1, source),
        dest: Address::new(0, 1, dest),
        data_coding,
        esm_class,
        short_message: Bytes::copy_from_slice(sm),
        tlvs,
        ..Default::default()
    })
}

/// `%HH` escapes decoded (a byte a control line cannot carry, such as CR or LF); anything else
/// kept as it is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The control protocol: one command per line, one reply line (or `list`'s lines then `.`).
///
/// ```text
/// stats                          -> submits=N receipts=N mo=N binds=N bound=N
/// list [N]                       -> the last N messages: id<TAB>system_id<TAB>src<TAB>dst<TAB>data_coding<TAB>text, then "."
/// times [N]                      -> the last N messages: arrival (µs since the epoch)<TAB>text, then "."
/// tlvs [N]                       -> the last N messages: id<TAB>tag=hex,tag=hex (tags in hex), then "."
/// mo-tlv TAG=HEX[,..] SRC DST TEXT -> as mo, the (first) deliver_sm also carrying those TLVs
/// mo SRC DST TEXT...             -> ok | no bound receiver   (TEXT sent as GSM 03.38, or UCS-2 when needed;
///                                   %HH in SRC and DST is that byte: what a hostile network could put there)
/// mo-bind N                      -> ok   (later MO go to the N-th receiving bind, 1 = the first)
/// mo-many N SPREAD SRC DST TEXT  -> ok   (N concatenated MO, all first parts, then all second...;
///                                   SPREAD 1: part k on the k-th receiving bind)
/// mo-flood N SRC DST TEXT        -> ok   (N single-part MO at once, paced by --mo-window)
/// mo-split DC SRC DST TEXT       -> ok   (TEXT encoded whole, cut every 153 septets / 134 octets,
///                                   inside a character if it falls there)
/// mo-parts N,M DC SRC DST TEXT   -> ok   (as mo-split, sending only parts N, M...)
/// fail STATUS [N]                -> ok   (STATUS hex like 0x58, or decimal)
/// refuse ADDR STATUS             -> ok   (submit_multi_resp lists ADDR as unsuccessful)
/// drop [N]                       -> ok
/// delay MS                       -> ok
/// disconnect                     -> ok
/// garbage                        -> ok
/// enquire                        -> ok   (enquire_link to every ESME)
/// unbind                         -> ok   (unbind to every ESME)
/// ```
/// The last N (default 100) messages received, one line each, then `.`.
fn listing(smsc: &Smsc, n: Option<&str>, line: impl Fn(&Received) -> String) -> String {
    let n: usize = n.and_then(|w| w.parse().ok()).unwrap_or(100);
    let all = smsc.received();
    let mut out = String::new();
    for r in all.iter().skip(all.len().saturating_sub(n)) {
        out.push_str(&line(r));
        out.push('\n');
    }
    out.push('.');
    out
}

/// A command_status argument: hexadecimal like `0x58`, or decimal.
fn status_arg(w: &str) -> Option<u32> {
    match w.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => w.parse().ok(),
    }
}

/// `1402=4f70,1404=41` as TLVs; what does not parse is left out.
fn parse_tlvs(spec: &str) -> Vec<Tlv> {
    spec.split(',')
        .filter_map(|item| {
            let (tag, hex) = item.split_once('=')?;
            let tag = u16::from_str_radix(tag.trim_start_matches("0x"), 16).ok()?;
            let value = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()?;
            Some(Tlv::bytes(tag, value))
        })
        .collect()
}

async fn control(stream: TcpStream, smsc: Smsc) {
    let (rd, mut wr) = stream.into_split();
    let mut lines = BufReader::new(rd).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut words = line.split_whitespace();
        let reply = match words.next().unwrap_or("") {
            "stats" => smsc.stats(),
            "list" => listing(&smsc, words.next(), |r| {
                format!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    r.message_id,
                    r.system_id,
                    r.source,
                    r.dest,
                    r.data_coding,
                    r.text().replace(['\n', '\t'], " ")
                )
            }),
            "tlvs" => listing(&smsc, words.next(), |r| {
                let tlvs: Vec<String> = r
                    .tlvs
                    .iter()
                    .map(|t| {
                        let hex: String = t.value.iter().map(|b| format!("{b:02x}")).collect();
                        format!("{:04x}={hex}", t.tag)
                    })
                    .collect();
                format!("{}\t{}", r.message_id, tlvs.join(","))
            }),
            "times" => listing(&smsc, words.next(), |r| {
                let micros =
                    r.at.duration_since(UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_micros();
                format!("{micros}\t{}", r.text().replace(['\n', '\t'], " "))
            }),
            cmd @ ("mo" | "mo-tlv") => {
                // mo-tlv TAG=HEX[,TAG=HEX...] SRC DST TEXT: the first PDU also carries the TLVs.
                let (mut tlvs, skip) = if cmd == "mo-tlv" {
                    (parse_tlvs(words.next().unwrap_or("")), 1)
                } else {
                    (Vec::new(), 0)
                };
                let (src, dst) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let (src, dst) = (&percent_decode(src), &percent_decode(dst));
                let body = line.splitn(4 + skip, ' ').nth(3 + skip).unwrap_or("");
                // Long text goes as several deliver_sm with a concatenation UDH, as a handset's
                // long SMS reaches an ESME.
                let (coding, dc) = if text::Coding::Gsm7.can_encode(body) {
                    (text::Coding::Gsm7, 0)
                } else {
                    (text::Coding::Ucs2, 8)
                };
                let parts = text::segment(body, coding, true, false).unwrap_or_default();
                let reference = (smsc.shared.next_id.load(Ordering::Relaxed) & 0xFF) as u16;
                let total = parts.len();
                let mut ok = true;
                for (i, part) in parts.iter().enumerate() {
                    let encoded = coding.encode(part).unwrap_or_default();
                    let (esm, bytes) = if total > 1 {
                        let mut sm = text::concat_udh(
                            text::Concat {
                                reference,
                                total: total as u8,
                                seq: i as u8 + 1,
                            },
                            false,
                        );
                        sm.extend_from_slice(&encoded);
                        (text::ESM_UDHI, sm)
                    } else {
                        (0, encoded)
                    };
                    ok &= smsc.inject_mo(src, dst, dc, esm, &bytes, std::mem::take(&mut tlvs));
                }
                if ok {
                    "ok".into()
                } else {
                    "no bound receiver".into()
                }
            }
            "mo-many" => {
                // mo-many N SPREAD SRC DST TEXT: N concatenated messages (distinct references),
                // sent as every first part, then every second...; SPREAD 1 puts part k on the
                // k-th receiving bind (wrapping), as SMSCs spread an account's MO over binds.
                let n: usize = words.next().and_then(|n| n.parse().ok()).unwrap_or(1);
                let spread = words.next() == Some("1");
                let (src, dst) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let body = line.splitn(6, ' ').nth(5).unwrap_or("");
                let coding = if text::Coding::Gsm7.can_encode(body) {
                    text::Coding::Gsm7
                } else {
                    text::Coding::Ucs2
                };
                let dc = if coding == text::Coding::Gsm7 { 0 } else { 8 };
                let parts = text::segment(body, coding, true, false).unwrap_or_default();
                let total = parts.len();
                let base = smsc.shared.next_id.fetch_add(n as u64, Ordering::Relaxed);
                let mut ok = true;
                for (i, part) in parts.iter().enumerate() {
                    for m in 0..n {
                        let mut sm = text::concat_udh(
                            text::Concat {
                                reference: ((base + m as u64) & 0xFFFF) as u16,
                                total: total as u8,
                                seq: i as u8 + 1,
                            },
                            true,
                        );
                        sm.extend_from_slice(
                            &coding.encode(&format!("{m}:{part}")).unwrap_or_default(),
                        );
                        let pdu = mo_pdu(src, dst, dc, text::ESM_UDHI, &sm, Vec::new());
                        ok &= smsc.send_mo_on(if spread { i } else { 0 }, pdu);
                    }
                }
                if ok {
                    "ok".into()
                } else {
                    "no bound receiver".into()
                }
            }
            "mo-flood" => {
                // mo-flood N SRC DST TEXT: N single-part MO, as fast as the MO window lets.
                let n: usize = words.next().and_then(|n| n.parse().ok()).unwrap_or(1);
                let (src, dst) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let body = line.splitn(5, ' ').nth(4).unwrap_or("");
                let sm = text::Coding::Gsm7.encode(body).unwrap_or_default();
                let mut ok = true;
                for _ in 0..n {
                    ok &= smsc.send_mo_on(0, mo_pdu(src, dst, 0, 0, &sm, Vec::new()));
                }
                if ok {
                    "ok".into()
                } else {
                    "no bound receiver".into()
                }
            }
            cmd @ ("mo-split" | "mo-parts") => {
                // mo-split DC SRC DST TEXT: TEXT encoded whole (DC 0: GSM 03.38 septets, one
                // per octet; 8: UCS-2), then cut every 153 septets or 134 octets wherever that
                // falls, even inside a character, as some SMSCs and handsets cut.
                // mo-parts N,M,.. DC SRC DST TEXT: the same, sending only those parts (a
                // message that never completes).
                let only: Option<Vec<usize>> = (cmd == "mo-parts").then(|| {
                    let list = words.next().unwrap_or("");
                    list.split(',').filter_map(|n| n.parse().ok()).collect()
                });
                let skip = usize::from(only.is_some());
                let dc: u8 = words.next().and_then(|d| d.parse().ok()).unwrap_or(0);
                let (src, dst) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let body = line.splitn(5 + skip, ' ').nth(4 + skip).unwrap_or("");
                let (coding, size) = if dc == 8 {
                    (text::Coding::Ucs2, 134)
                } else {
                    (text::Coding::Gsm7, 153)
                };
                let encoded = coding.encode(body).unwrap_or_default();
                let chunks: Vec<&[u8]> = encoded.chunks(size).collect();
                let reference = (smsc.shared.next_id.fetch_add(1, Ordering::Relaxed) & 0xFF) as u16;
                let mut ok = true;
                for (i, chunk) in chunks.iter().enumerate() {
                    if only.as_ref().is_some_and(|o| !o.contains(&(i + 1))) {
                        continue;
                    }
                    let mut sm = text::concat_udh(
                        text::Concat {
                            reference,
                            total: chunks.len() as u8,
                            seq: i as u8 + 1,
                        },
                        false,
                    );
                    sm.extend_from_slice(chunk);
                    ok &= smsc.inject_mo(src, dst, dc, text::ESM_UDHI, &sm, Vec::new());
                }
                if ok {
                    "ok".into()
                } else {
                    "no bound receiver".into()
                }
            }
            "mo-bind" => match words.next().and_then(|n| n.parse::<u64>().ok()) {
                Some(n) => {
                    smsc.shared.mo_bind.store(n, Ordering::Relaxed);
                    "ok".into()
                }
                None => "error: mo-bind N".into(),
            },
            "refuse" => {
                let addr = words.next().unwrap_or("").to_string();
                let status = words.next().and_then(status_arg);
                match status {
                    Some(st) if !addr.is_empty() => {
                        lock(&smsc.shared.faults)
                            .refuse
                            .push((addr, CommandStatus(st)));
                        "ok".into()
                    }
                    _ => "error: refuse ADDR STATUS".into(),
                }
            }
            "fail" => {
                let status = words.next().and_then(status_arg);
                match status {
                    Some(s) => {
                        smsc.fail_next(
                            CommandStatus(s),
                            words.next().and_then(|w| w.parse().ok()).unwrap_or(1),
                        );
                        "ok".into()
                    }
                    None => "error: fail STATUS [N]".into(),
                }
            }
            "drop" => {
                smsc.drop_next(words.next().and_then(|w| w.parse().ok()).unwrap_or(1));
                "ok".into()
            }
            "delay" => {
                smsc.delay_responses(Duration::from_millis(
                    words.next().and_then(|w| w.parse().ok()).unwrap_or(0),
                ));
                "ok".into()
            }
            "disconnect" => {
                smsc.disconnect_all();
                "ok".into()
            }
            "garbage" => {
                smsc.send_garbage();
                "ok".into()
            }
            "enquire" => {
                smsc.enquire_all();
                "ok".into()
            }
            "unbind" => {
                smsc.unbind_all();
                "ok".into()
            }
            other => format!("error: unknown command {other:?}"),
        };
        if wr.write_all(format!("{reply}\n").as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Serves one ESME connection.
async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut cmds) = mpsc::unbounded_channel::<SessionCmd>();
    let session_id = shared.next_session.fetch_add(1, Ordering::Relaxed);
    let mut system_id = String::new();
    let mut inbuf = BytesMut::with_capacity(64 * 1024);
    let mut out = BytesMut::with_capacity(64 * 1024);
    let mut seq: u32 = 0;
    let mut bound = false;
    let mut close_after_write = false;
    // deliver_sm sent and not answered yet, and those waiting for room in the MO window.
    let mo_window = shared.cfg.mo_window;
    let mut mo_out: std::collections::HashSet<u32> = Default::default();
    let mut mo_waiting: VecDeque<Pdu> = VecDeque::new();
    // Delayed responses and receipts, sent by a timer task through `tx`.
    loop {
        inbuf.reserve(32 * 1024);
        tokio::select! {
            r = rd.read_buf(&mut inbuf) => {
                match r {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                loop {
                    match check_frame(&inbuf) {
                        FrameCheck::Incomplete => break,
                        FrameCheck::BadLength(_) => {
                            push(&mut out, Frame::new(0, Pdu::GenericNack).with_status(CommandStatus::ESME_RINVCMDLEN));
                            close_after_write = true;
                            break;
                        }
                        FrameCheck::Complete(len) => {
                            let raw = inbuf.split_to(len);
                            let frame = match decode(&raw) {
                                Ok(f) => f,
                                Err(e) => {
                                    push(&mut out, Frame::new(e.sequence(), Pdu::GenericNack).with_status(e.status()));
                                    continue;
                                }
                            };
                            if matches!(frame.pdu, Pdu::DeliverSmResp(_) | Pdu::DataSmResp(_) | Pdu::GenericNack) {
                                mo_out.remove(&frame.sequence);
                            }
                            handle(&shared, frame, &mut out, &mut bound, &mut system_id, &mut close_after_write, session_id, &tx);
                        }
                    }
                }
            }
            cmd = cmds.recv() => match cmd {
                // deliver_sm and data_sm wait for room in the MO window; other requests
                // (enquire_link, unbind) go at once.
                Some(SessionCmd::Send(pdu)) if matches!(pdu, Pdu::DeliverSm(_) | Pdu::DataSm(_)) => mo_waiting.push_back(pdu),
                Some(SessionCmd::Send(pdu)) => {
                    seq = seq.wrapping_add(1).max(1);
                    push(&mut out, Frame::new(seq | 0x4000_0000, pdu));
                }
                Some(SessionCmd::Frame(f)) => push(&mut out, f),
                Some(SessionCmd::Garbage) => out.extend_from_slice(&[0, 0, 0, 20, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 99, 0xFF, 0xFF, 0xFF, 0xFF]),
                Some(SessionCmd::Disconnect) | None => break,
            },
        }
        while mo_window == 0 || mo_out.len() < mo_window {
            let Some(pdu) = mo_waiting.pop_front() else {
                break;
            };
            seq = seq.wrapping_add(1).max(1);
            push(&mut out, Frame::new(seq | 0x4000_0000, pdu));
            if mo_window > 0 {
                mo_out.insert(seq | 0x4000_0000);
            }
        }
        if !out.is_empty() {
            if wr.write_all(&out).await.is_err() {
                break;
            }
            out.clear();
        }
        if close_after_write {
            break;
        }
    }
    lock(&shared.sessions).retain(|s| s.id != session_id);
}

fn push(out: &mut BytesMut, frame: Frame) {
    if let Err(e) = encode(&frame, out) {
        tracing::error!(error = %e, "simulator cannot encode a PDU");
    }
}

#[allow(clippy::too_many_arguments)] // one connection's state, passed by reference for speed
fn handle(
    shared: &Arc<Shared>,
    frame: Frame,
    out: &mut BytesMut,
    bound: &mut bool,
    system_id: &mut String,
    close: &mut bool,
    session_id: u64,
    tx: &mpsc::UnboundedSender<SessionCmd>,
) {
    let seq = frame.sequence;
    let bind_reply = |b: &Bind,
                      resp: fn(BindResp) -> Pdu,
                      receives: bool,
                      out: &mut BytesMut,
                      bound: &mut bool,
                      system_id: &mut String| {
        let ok = shared.cfg.credentials.is_empty()
            || shared
                .cfg
                .credentials
                .iter()
                .any(|(u, p)| *u == b.system_id && *p == b.password);
        let status = if *bound {
            CommandStatus::ESME_RALYBND
        } else if ok {
            CommandStatus::ESME_ROK
        } else if shared
            .cfg
            .credentials
            .iter()
            .any(|(u, _)| *u == b.system_id)
        {
            CommandStatus::ESME_RINVPASWD
        } else {
            CommandStatus::ESME_RINVSYSID
        };
        let body = BindResp {
            system_id: "ImpulseSim".into(),
            tlvs: vec![Tlv::u8(tag::SC_INTERFACE_VERSION, INTERFACE_VERSION)],
        };
        push(out, Frame::new(seq, resp(body)).with_status(status));
        if status.is_ok() {
            *bound = true;
            *system_id = b.system_id.clone();
            shared.binds.fetch_add(1, Ordering::Relaxed);
            lock(&shared.sessions).push(BoundSession {
                id: session_id,
                system_id: b.system_id.clone(),
                receives,
                tx: tx.clone(),
            });
        }
    };
    match &frame.pdu {
        Pdu::BindTransmitter(b) => {
            bind_reply(b, Pdu::BindTransmitterResp, false, out, bound, system_id)
        }
        Pdu::BindReceiver(b) => bind_reply(b, Pdu::BindReceiverResp, true, out, bound, system_id),
        Pdu::BindTransceiver(b) => {
            bind_reply(b, Pdu::BindTransceiverResp, true, out, bound, system_id)
        }
        Pdu::EnquireLink => push(out, Frame::new(seq, Pdu::EnquireLinkResp)),
        Pdu::Unbind => {
            push(out, Frame::new(seq, Pdu::UnbindResp));
            *close = true;
        }
        Pdu::SubmitSm(_) | Pdu::SubmitMulti(_) | Pdu::DataSm(_) if !*bound => {
            push(
                out,
                Frame::new(seq, resp_for(&frame.pdu, String::new(), &[]))
                    .with_status(CommandStatus::ESME_RINVBNDSTS),
            );
        }
        Pdu::SubmitSm(_) | Pdu::SubmitMulti(_) | Pdu::DataSm(_) => {
            submit(shared, &frame, out, system_id, session_id, tx)
        }
        Pdu::QuerySm(q) => push(
            out,
            Frame::new(
                seq,
                Pdu::QuerySmResp(QuerySmResp {
                    message_id: q.message_id.clone(),
                    final_date: String::new(),
                    message_state: 2,
                    error_code: 0,
                }),
            ),
        ),
        Pdu::CancelSm(_) => push(out, Frame::new(seq, Pdu::CancelSmResp)),
        Pdu::ReplaceSm(_) => push(out, Frame::new(seq, Pdu::ReplaceSmResp)),
        // Responses from the ESME: counted where a test or an operator wants to know.
        Pdu::GenericNack => {
            shared.nacks.fetch_add(1, Ordering::Relaxed);
        }
        Pdu::EnquireLinkResp => {
            shared.enquire_resps.fetch_add(1, Ordering::Relaxed);
        }
        Pdu::DeliverSmResp(_) if frame.status.is_ok() => {
            shared.mo_acked.fetch_add(1, Ordering::Relaxed);
        }
        Pdu::UnbindResp => *close = true,
        p if p.command_id().is_response() => {}
        _ => push(
            out,
            Frame::new(seq, Pdu::GenericNack).with_status(CommandStatus::ESME_RINVCMDID),
        ),
    }
}

fn resp_for(pdu: &Pdu, message_id: String, refuse: &[(String, CommandStatus)]) -> Pdu {
    match pdu {
        Pdu::SubmitMulti(m) => Pdu::SubmitMultiResp(SubmitMultiResp {
            message_id,
            unsuccess: m
                .dests
                .iter()
                .filter_map(|d| match d {
                    MultiDest::Sme(a) => {
                        refuse
                            .iter()
                            .find(|(r, _)| *r == a.addr)
                            .map(|(_, st)| Unsuccess {
                                dest: a.clone(),
                                error_status: *st,
                            })
                    }
                    MultiDest::DistributionList(_) => None,
                })
                .collect(),
        }),
        Pdu::DataSm(_) => Pdu::DataSmResp(DataSmResp {
            message_id,
            tlvs: vec![],
        }),
        _ => Pdu::SubmitSmResp(MessageIdResp { message_id }),
    }
}

fn submit(
    shared: &Arc<Shared>,
    frame: &Frame,
    out: &mut BytesMut,
    system_id: &str,
    session_id: u64,
    tx: &mpsc::UnboundedSender<SessionCmd>,
) {
    shared.submits.fetch_add(1, Ordering::Relaxed);
    let (status, drop_it, delay, refuse) = {
        let mut f = lock(&shared.faults);
        let status = f.status.pop_front().unwrap_or(CommandStatus::ESME_ROK);
        let drop_it = f.drop > 0;
        if drop_it {
            f.drop -= 1;
        }
        (status, drop_it, f.delay, f.refuse.clone())
    };
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let message_id = format!("{id:x}");
    let (command, source, dest, data_coding, esm_class, short_message, tlvs, registered) =
        match &frame.pdu {
            Pdu::SubmitSm(m) => (
                CommandId::SUBMIT_SM,
                m.source.addr.clone(),
                m.dest.addr.clone(),
                m.data_coding,
                m.esm_class,
                m.short_message.clone(),
                m.tlvs.clone(),
                m.registered_delivery,
            ),
            Pdu::SubmitMulti(m) => {
                let dest = m
                    .dests
                    .iter()
                    .map(|d| match d {
                        MultiDest::Sme(a) => a.addr.clone(),
                        MultiDest::DistributionList(n) => format!("dl:{n}"),
                    })
                    .collect::<Vec<_>>()
                    .join(",");
                (
                    CommandId::SUBMIT_MULTI,
                    m.source.addr.clone(),
                    dest,
                    m.data_coding,
                    m.esm_class,
                    m.short_message.clone(),
                    m.tlvs.clone(),
                    m.registered_delivery,
                )
            }
            Pdu::DataSm(m) => (
                CommandId::DATA_SM,
                m.source.addr.clone(),
                m.dest.addr.clone(),
                m.data_coding,
                m.esm_class,
                Bytes::new(),
                m.tlvs.clone(),
                m.registered_delivery,
            ),
            _ => return,
        };
    if status.is_ok() {
        let mut kept = lock(&shared.kept);
        if kept.len() >= shared.cfg.keep {
            kept.pop_front();
        }
        kept.push_back(Received {
            message_id: message_id.clone(),
            session: session_id,
            system_id: system_id.to_string(),
            command,
            source: source.clone(),
            dest: dest.clone(),
            data_coding,
            esm_class,
            short_message,
            tlvs,
            at: SystemTime::now(),
        });
    }
    if drop_it {
        return;
    }
    let resp = Frame::new(
        frame.sequence,
        resp_for(
            &frame.pdu,
            if status.is_ok() {
                message_id.clone()
            } else {
                String::new()
            },
            &refuse,
        ),
    )
    .with_status(status);
    let receipts_first = shared.cfg.receipts_first && status.is_ok() && registered & 0x03 != 0;
    if receipts_first {
        // Receipts are queued on their session's channel now; the response follows them there.
        for one in dest.split(',') {
            if !refuse.iter().any(|(r, _)| r == one) {
                let (id, src) = (message_id.clone(), source.clone());
                schedule_receipt(shared, id, src, one.to_string(), system_id.to_string());
            }
        }
        let tx = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tx.send(SessionCmd::Frame(resp));
        });
        return;
    }
    if delay.is_zero() {
        push(out, resp);
    } else {
        let tx = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tx.send(SessionCmd::Frame(resp));
        });
    }
    if status.is_ok() && registered & 0x03 != 0 {
        // A submit_multi gets one receipt per destination it accepted.
        for one in dest.split(',') {
            if !refuse.iter().any(|(r, _)| r == one) {
                let (id, src) = (message_id.clone(), source.clone());
                schedule_receipt(shared, id, src, one.to_string(), system_id.to_string());
            }
        }
    }
}

/// Sends a receipt after the configured delay to a bind of the submitter's system_id that can
/// receive (a transmitter cannot), or any receiving bind; with none bound it is dropped, as
/// an SMSC whose ESME never binds a receiver would eventually expire it.
fn schedule_receipt(
    shared: &Arc<Shared>,
    message_id: String,
    source: String,
    dest: String,
    system_id: String,
) {
    let delay = shared.cfg.receipt_delay;
    let n = shared.receipts_sent.fetch_add(1, Ordering::Relaxed);
    let delivered = (n % 100) < u64::from(shared.cfg.receipt_delivered_percent);
    let (stat, err) = if delivered {
        ("DELIVRD", "000")
    } else {
        ("UNDELIV", "001")
    };
    let text = format!(
        "id:{message_id} sub:001 dlvrd:{} submit date:2511231200 done date:2511231201 stat:{stat} err:{err} text:",
        if delivered { "001" } else { "000" }
    );
    let pdu = Pdu::DeliverSm(ShortMessage {
        source: Address::new(1, 1, dest),
        dest: Address::new(0, 1, source),
        esm_class: ESM_DELIVERY_RECEIPT,
        short_message: Bytes::from(text.into_bytes()),
        tlvs: vec![
            Tlv::cstr(tag::RECEIPTED_MESSAGE_ID, &message_id),
            Tlv::u8(tag::MESSAGE_STATE, if delivered { 2 } else { 5 }),
        ],
        ..Default::default()
    });
    let send = move |shared: &Shared| {
        let sessions = lock(&shared.sessions);
        let target = sessions
            .iter()
            .find(|s| s.receives && s.system_id == system_id)
            .or_else(|| sessions.iter().find(|s| s.receives));
        if let Some(s) = target {
            let _ = s.tx.send(SessionCmd::Send(pdu));
        }
    };
    if shared.cfg.receipts_first {
        send(shared);
        return;
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        send(&shared);
    });
}
