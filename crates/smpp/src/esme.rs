//! The tokio driver of an ESME connection: owns the socket and the clock, feeds the
//! [`Session`], writes its frames (batched: one write per wake-up), and reconnects with
//! exponential backoff and jitter when the connection ends, so that many gateways restarting
//! together do not hammer an SMSC in step (docs/reference/field-notes.md §4.9).
//!
//! Applications hold an [`Esme`] handle: `submit` returns the submission's one outcome;
//! messages from the SMSC arrive as [`Event::Incoming`] with a [`Responder`] that must be used
//! once the message is safely taken (deliver_sm_resp is sent then, not before).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::pdu::{CommandStatus, FrameCheck, Pdu, check_frame, decode, encode};
use crate::session::{Action, CloseReason, Session, SessionConfig, SubmitResult};

/// Reconnection policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

/// From 1 s, doubling to 10 s: an SMSC that comes back is bound again within about 10 s
/// (Kannel's `reconnect-delay` is 10 s), and what waited for it goes then (the scheduler resumes
/// a destination's queue when its bind comes up). A reconnect every 10 s costs a down SMSC
/// nothing.
impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// Delay before reconnect attempt `n` (1 for the first): doubling, capped, with ±25% jitter.
    pub fn delay(&self, n: u32, jitter_seed: u64) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32 << n.saturating_sub(1).min(16))
            .min(self.max);
        // A spread of ±25% from a cheap hash of the seed: enough to break lock-step.
        let x = jitter_seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(17);
        let factor = 0.75 + (x % 1000) as f64 / 2000.0;
        base.mul_f64(factor)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct EsmeConfig {
    /// `host:port` of the SMSC.
    pub addr: String,
    pub session: SessionConfig,
    /// `SMPP_ESME_Max_Bind_Retries`: bind failures in a row before [`Event::BindFailed`].
    pub max_bind_retries: u32,
    pub backoff: Backoff,
    pub connect_timeout: Duration,
    /// Keep reconnecting after the session ends (persistent connections); otherwise stop.
    pub reconnect: bool,
    /// SMPP over TLS (the handshake follows the TCP connect, within `connect_timeout`).
    pub tls: Option<crate::tls::TlsSettings>,
}

/// What happens on the connection, for the application.
#[derive(Debug)]
pub enum Event {
    Bound {
        smsc_system_id: String,
    },
    /// The connection ended; submissions in flight were reported lost.
    Disconnected {
        reason: String,
    },
    /// The bind failed `max_bind_retries + 1` times in a row; reconnection goes on, slower.
    BindFailed {
        status: Option<CommandStatus>,
    },
    Throttled,
    /// A deliver_sm or data_sm from the SMSC.
    Incoming {
        frame: crate::pdu::Frame,
        responder: Responder,
    },
}

enum Command {
    Submit(Pdu, oneshot::Sender<SubmitResult>),
    Respond(crate::pdu::Frame, CommandStatus),
    Shutdown(oneshot::Sender<()>),
}

/// Answers one incoming message.
#[derive(Debug)]
pub struct Responder {
    frame: Option<crate::pdu::Frame>,
    tx: mpsc::UnboundedSender<Command>,
}

impl Responder {
    /// Sends deliver_sm_resp (or data_sm_resp) with `status`.
    pub fn respond(mut self, status: CommandStatus) {
        if let Some(f) = self.frame.take() {
            let _ = self.tx.send(Command::Respond(f, status));
        }
    }
}

impl Drop for Responder {
    /// A message dropped without an answer is refused temporarily, so the SMSC sends it again.
    fn drop(&mut self) {
        if let Some(f) = self.frame.take() {
            let _ = self
                .tx
                .send(Command::Respond(f, CommandStatus::ESME_RX_T_APPN));
        }
    }
}

/// What a connection is doing, kept by its driver and read through [`Esme::status`] (console,
/// status page, metrics). Relaxed atomics: each figure is exact, their combination a moment's.
#[derive(Debug, Default)]
struct Stats {
    bound: AtomicBool,
    in_window: AtomicUsize,
    outstanding: AtomicUsize,
    submitted: AtomicU64,
    incoming: AtomicU64,
    binds: AtomicU64,
    bound_since: AtomicI64,
}

/// A moment's view of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EsmeStatus {
    pub addr: String,
    pub system_id: String,
    pub bind_type: &'static str,
    pub bound: bool,
    /// `SMPP_Command_Window_Size`.
    pub window: usize,
    /// Requests sent and not yet answered.
    pub in_window: usize,
    /// Submissions handed to this connection and not yet resolved (queued or in the window).
    pub outstanding: usize,
    /// Submissions resolved since the connection task started (any outcome).
    pub submitted: u64,
    /// deliver_sm and data_sm received.
    pub incoming: u64,
    /// Successful binds; more than one means it reconnected.
    pub binds: u64,
    /// When the current bind succeeded (Unix milliseconds).
    pub bound_since: Option<i64>,
}

/// A handle on one (re)connecting ESME connection.
#[derive(Clone)]
pub struct Esme {
    tx: mpsc::UnboundedSender<Command>,
    stats: Arc<Stats>,
    cfg: Arc<EsmeConfig>,
}

/// Counts a submission as outstanding until it is resolved.
struct OutstandingGuard<'a>(&'a Stats);

impl<'a> OutstandingGuard<'a> {
    fn new(stats: &'a Stats) -> Self {
        stats.outstanding.fetch_add(1, Ordering::Relaxed);
        OutstandingGuard(stats)
    }
}

impl Drop for OutstandingGuard<'_> {
    fn drop(&mut self) {
        self.0.outstanding.fetch_sub(1, Ordering::Relaxed);
        self.0.submitted.fetch_add(1, Ordering::Relaxed);
    }
}

fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Esme {
    /// Starts the connection task.
    pub fn spawn(cfg: EsmeConfig, events: mpsc::UnboundedSender<Event>) -> Esme {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        let cfg = Arc::new(cfg);
        tokio::spawn(run(cfg.clone(), rx, tx.clone(), events, stats.clone()));
        Esme { tx, stats, cfg }
    }

    /// The settings the connection was started with.
    pub fn config(&self) -> &EsmeConfig {
        &self.cfg
    }

    /// What the connection is doing now.
    pub fn status(&self) -> EsmeStatus {
        let s = &self.stats;
        let bound = s.bound.load(Ordering::Relaxed);
        EsmeStatus {
            addr: self.cfg.addr.clone(),
            system_id: self.cfg.session.system_id.clone(),
            bind_type: self.cfg.session.bind_type.name(),
            bound,
            window: self.cfg.session.window,
            in_window: s.in_window.load(Ordering::Relaxed),
            outstanding: s.outstanding.load(Ordering::Relaxed),
            submitted: s.submitted.load(Ordering::Relaxed),
            incoming: s.incoming.load(Ordering::Relaxed),
            binds: s.binds.load(Ordering::Relaxed),
            bound_since: bound.then(|| s.bound_since.load(Ordering::Relaxed)),
        }
    }

    /// Whether the connection task still runs (it ends after a non-reconnecting session ends).
    pub fn is_running(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Whether the connection is bound right now.
    pub fn is_bound(&self) -> bool {
        self.stats.bound.load(Ordering::Relaxed)
    }

    /// Submits a PDU; resolves with its one outcome.
    pub async fn submit(&self, pdu: Pdu) -> SubmitResult {
        let _outstanding = OutstandingGuard::new(&self.stats);
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Submit(pdu, tx)).is_err() {
            return SubmitResult::ConnectionLost;
        }
        rx.await.unwrap_or(SubmitResult::ConnectionLost)
    }

    /// Submits several PDUs in this order (the segments of one message), all inside the window
    /// at once as room allows; resolves with each one's outcome, in the same order.
    pub async fn submit_all(&self, pdus: Vec<Pdu>) -> Vec<SubmitResult> {
        let waiting: Vec<_> = pdus
            .into_iter()
            .map(|pdu| {
                let (tx, rx) = oneshot::channel();
                let guard = OutstandingGuard::new(&self.stats);
                (self.tx.send(Command::Submit(pdu, tx)).is_ok(), rx, guard)
            })
            .collect();
        let mut out = Vec::with_capacity(waiting.len());
        for (sent, rx, _guard) in waiting {
            out.push(if sent {
                rx.await.unwrap_or(SubmitResult::ConnectionLost)
            } else {
                SubmitResult::ConnectionLost
            });
        }
        out
    }

    /// Unbinds cleanly and stops reconnecting.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

async fn run(
    cfg: Arc<EsmeConfig>,
    mut rx: mpsc::UnboundedReceiver<Command>,
    self_tx: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedSender<Event>,
    stats: Arc<Stats>,
) {
    let seed = std::process::id() as u64
        ^ (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64));
    let mut failures: u32 = 0;
    let mut bind_failures: u32 = 0;
    // Built once per connection task: the settings do not change under it (a reload that
    // changes them retires this connection and starts another).
    let tls = cfg.tls.as_ref().map(crate::tls::client);
    if let Some(Ok(_)) = &tls
        && cfg.tls.as_ref().is_some_and(|t| !t.verify)
    {
        tracing::warn!(smsc = %cfg.addr, "SMPP over TLS WITHOUT certificate verification");
    }
    loop {
        let outcome = match tokio::time::timeout(cfg.connect_timeout, TcpStream::connect(&cfg.addr))
            .await
        {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                let ended = match &tls {
                    None => {
                        let (rd, wr) = stream.into_split();
                        connection(&cfg, rd, wr, &mut rx, &self_tx, &events, &stats).await
                    }
                    Some(Err(e)) => Ended::Failed(e.clone(), None),
                    Some(Ok(client)) => {
                        let handshake = tokio_rustls::TlsConnector::from(client.config.clone())
                            .connect(client.server_name.clone(), stream);
                        match tokio::time::timeout(cfg.connect_timeout, handshake).await {
                            Ok(Ok(s)) => {
                                let (rd, wr) = tokio::io::split(s);
                                connection(&cfg, rd, wr, &mut rx, &self_tx, &events, &stats).await
                            }
                            Ok(Err(e)) => {
                                Ended::Failed(format!("TLS handshake with {}: {e}", cfg.addr), None)
                            }
                            Err(_) => Ended::Failed(
                                format!("TLS handshake with {} timed out", cfg.addr),
                                None,
                            ),
                        }
                    }
                };
                stats.bound.store(false, Ordering::Relaxed);
                stats.in_window.store(0, Ordering::Relaxed);
                ended
            }
            Ok(Err(e)) => Ended::Failed(format!("connect to {}: {e}", cfg.addr), None),
            Err(_) => Ended::Failed(format!("connect to {} timed out", cfg.addr), None),
        };
        match outcome {
            Ended::Shutdown => return,
            Ended::AfterBind { reason, abrupt } => {
                // The bind worked: start the backoff over, but an abrupt end (the SMSC dropped
                // us or unbound us) still waits one step, so a restarting SMSC is not hit by
                // every ESME at once.
                failures = u32::from(abrupt);
                bind_failures = 0;
                let _ = events.send(Event::Disconnected { reason });
                if !cfg.reconnect {
                    fail_pending(&mut rx);
                    return;
                }
            }
            Ended::Failed(reason, bind_status) => {
                failures += 1;
                if bind_status.is_some() || reason.contains("bind") {
                    bind_failures += 1;
                    if bind_failures > cfg.max_bind_retries {
                        let _ = events.send(Event::BindFailed {
                            status: bind_status,
                        });
                        bind_failures = 0;
                    }
                }
                let _ = events.send(Event::Disconnected { reason });
            }
        }
        // Wait before reconnecting; submissions meanwhile are refused at once, not held.
        let delay = cfg
            .backoff
            .delay(failures.max(1), seed.wrapping_add(u64::from(failures)));
        let until = Instant::now()
            + if failures == 0 {
                Duration::from_millis(50)
            } else {
                delay
            };
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                cmd = rx.recv() => match cmd {
                    None => return,
                    Some(Command::Submit(_, tx)) => { let _ = tx.send(SubmitResult::ConnectionLost); }
                    Some(Command::Respond(..)) => {}
                    Some(Command::Shutdown(ack)) => { let _ = ack.send(()); return; }
                },
            }
        }
    }
}

fn fail_pending(rx: &mut mpsc::UnboundedReceiver<Command>) {
    rx.close();
    while let Ok(cmd) = rx.try_recv() {
        match cmd {
            Command::Submit(_, tx) => drop(tx.send(SubmitResult::ConnectionLost)),
            Command::Shutdown(ack) => drop(ack.send(())),
            Command::Respond(..) => {}
        }
    }
}

enum Ended {
    Shutdown,
    /// The session had bound, then ended.
    AfterBind {
        reason: String,
        abrupt: bool,
    },
    /// Connecting or binding failed.
    Failed(String, Option<CommandStatus>),
}

/// Commands handled per wake-up at most, so reading the socket is never starved.
const COMMAND_BATCH: usize = 256;

async fn connection<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    cfg: &EsmeConfig,
    mut rd: R,
    mut wr: W,
    rx: &mut mpsc::UnboundedReceiver<Command>,
    self_tx: &mpsc::UnboundedSender<Command>,
    events: &mpsc::UnboundedSender<Event>,
    stats: &Stats,
) -> Ended {
    let start = Instant::now();
    let mut session: Session<oneshot::Sender<SubmitResult>> =
        Session::new(cfg.session.clone(), start.into_std());
    let mut out = BytesMut::with_capacity(16 * 1024);
    let mut inbuf = BytesMut::with_capacity(64 * 1024);
    let mut closed: Option<CloseReason> = None;
    let mut shutdown_ack: Option<oneshot::Sender<()>> = None;
    let mut was_bound = false;
    let mut actions = session.connected(Instant::now().into_std());
    loop {
        for action in actions.drain(..) {
            match action {
                Action::Send(frame) => {
                    if let Err(e) = encode(&frame, &mut out) {
                        tracing::error!(error = %e, "cannot encode a PDU; dropped");
                    }
                }
                Action::Outcome(tx, result) => drop(tx.send(result)),
                Action::Bound { smsc_system_id, .. } => {
                    was_bound = true;
                    stats.bound_since.store(unix_millis(), Ordering::Relaxed);
                    stats.binds.fetch_add(1, Ordering::Relaxed);
                    stats.bound.store(true, Ordering::Relaxed);
                    let _ = events.send(Event::Bound { smsc_system_id });
                }
                Action::Incoming(frame) => {
                    stats.incoming.fetch_add(1, Ordering::Relaxed);
                    let responder = Responder {
                        frame: Some(frame.clone()),
                        tx: self_tx.clone(),
                    };
                    let _ = events.send(Event::Incoming { frame, responder });
                }
                Action::Throttled(_) => drop(events.send(Event::Throttled)),
                Action::Close(reason) => closed = Some(reason),
            }
        }
        stats
            .in_window
            .store(session.in_window(), Ordering::Relaxed);
        if !out.is_empty() {
            if let Err(e) = wr.write_all(&out).await {
                actions.extend(session.disconnected());
                for a in actions.drain(..) {
                    if let Action::Outcome(tx, r) = a {
                        let _ = tx.send(r);
                    }
                }
                let reason = format!("write failed: {e}");
                return if was_bound {
                    Ended::AfterBind {
                        reason,
                        abrupt: true,
                    }
                } else {
                    Ended::Failed(reason, None)
                };
            }
            out.clear();
        }
        if let Some(reason) = closed.take() {
            let _ = wr.shutdown().await;
            if let Some(ack) = shutdown_ack.take() {
                let _ = ack.send(());
                return Ended::Shutdown;
            }
            return match reason {
                CloseReason::BindRefused(s) => Ended::Failed(format!("bind refused: {s}"), Some(s)),
                CloseReason::BindTimeout => Ended::Failed("bind response timed out".into(), None),
                CloseReason::Inactivity | CloseReason::Unbound => Ended::AfterBind {
                    reason: format!("{reason:?}"),
                    abrupt: false,
                },
                other => Ended::AfterBind {
                    reason: format!("{other:?}"),
                    abrupt: true,
                },
            };
        }
        let deadline = session.next_deadline().map(Instant::from_std);
        inbuf.reserve(16 * 1024);
        tokio::select! {
            biased;
            r = rd.read_buf(&mut inbuf) => {
                let now = Instant::now().into_std();
                match r {
                    Ok(0) | Err(_) => {
                        let mut lost = session.disconnected();
                        for a in lost.drain(..) {
                            if let Action::Outcome(tx, r) = a { let _ = tx.send(r); }
                        }
                        if let Some(ack) = shutdown_ack.take() {
                            // EOF after our unbind is a clean close (some SMSCs skip unbind_resp).
                            let _ = ack.send(());
                            return Ended::Shutdown;
                        }
                        let reason = "connection closed by the SMSC".to_string();
                        return if was_bound { Ended::AfterBind { reason, abrupt: true } } else { Ended::Failed(reason, None) };
                    }
                    Ok(_) => loop {
                        match check_frame(&inbuf) {
                            FrameCheck::Incomplete => break,
                            FrameCheck::BadLength(len) => {
                                actions.extend(session.malformed(&crate::pdu::DecodeError::BadLength(len), now));
                                inbuf.clear();
                                break;
                            }
                            FrameCheck::Complete(len) => {
                                let frame = inbuf.split_to(len);
                                match decode(&frame) {
                                    Ok(f) => actions.extend(session.received(f, now)),
                                    Err(e) => {
                                        tracing::warn!(error = %e, pdu = %hex(&frame), "malformed PDU from the SMSC");
                                        actions.extend(session.malformed(&e, now));
                                    }
                                }
                            }
                        }
                    },
                }
            }
            cmd = rx.recv() => {
                let now = Instant::now().into_std();
                let mut next = cmd;
                let mut handled = 0;
                while let Some(c) = next.take() {
                    match c {
                        Command::Submit(pdu, tx) => actions.extend(session.submit(tx, pdu, now)),
                        Command::Respond(frame, status) => actions.extend(session.respond(&frame, status, now)),
                        Command::Shutdown(ack) => {
                            shutdown_ack = Some(ack);
                            actions.extend(session.unbind(now));
                        }
                    }
                    handled += 1;
                    if handled < COMMAND_BATCH {
                        next = rx.try_recv().ok();
                    }
                }
            }
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                actions.extend(session.tick(Instant::now().into_std()));
            }
        }
    }
}

/// The first bytes of a frame in hex, for logs.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().take(64).map(|b| format!("{b:02x}")).collect()
}
