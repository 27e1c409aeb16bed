//! An SMPP connection's ESME side (SMPP 3.4 §2.2–2.9, docs/reference/momentum.md §3.1) as a value:
//! fed events (connected, a frame received, a submit, time passing), it returns actions (frames
//! to send, outcomes to report). It holds the window, the timers, the throttle pause and the
//! rate limit; the driver owns the socket and the clock.
//!
//! Every submit ends in exactly one [`SubmitResult`]: the SMSC's response, a timeout, or the
//! connection's loss. Nothing vanishes.

mod rate;
mod window;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use rate::TokenBucket;
pub use window::Window;

use crate::pdu::{
    Bind, CommandId, CommandStatus, DecodeError, Frame, INTERFACE_VERSION, MessageIdResp, Pdu,
    Tlvs, tag,
};

/// How the ESME binds (`SMPP_Bind_Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindType {
    Transmitter,
    Receiver,
    Transceiver,
}

impl BindType {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "transmitter" => Some(Self::Transmitter),
            "receiver" => Some(Self::Receiver),
            "transceiver" => Some(Self::Transceiver),
            _ => None,
        }
    }

    fn pdu(self, b: Bind) -> Pdu {
        match self {
            Self::Transmitter => Pdu::BindTransmitter(b),
            Self::Receiver => Pdu::BindReceiver(b),
            Self::Transceiver => Pdu::BindTransceiver(b),
        }
    }

    pub fn can_submit(self) -> bool {
        self != Self::Receiver
    }

    /// The name `SMPP_Bind_Type` uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Transmitter => "transmitter",
            Self::Receiver => "receiver",
            Self::Transceiver => "transceiver",
        }
    }
}

/// A connection's SMPP settings (docs/reference/momentum.md §2.1). Its `Debug` never shows
/// the password.
#[derive(Clone, PartialEq)]
pub struct SessionConfig {
    pub bind_type: BindType,
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    /// `SMPP_Command_Window_Size`: requests awaiting a response at most.
    pub window: usize,
    /// `SMPP_Bind_Response_Timer` (or `SMPP_Response_Timer`).
    pub bind_timeout: Duration,
    /// `SMPP_Submit_Response_Timer` (or `SMPP_Response_Timer`).
    pub submit_timeout: Duration,
    /// `SMPP_Enquire_Response_Timer` (or `SMPP_Response_Timer`); expiry closes the connection.
    pub enquire_timeout: Duration,
    /// `SMPP_Response_Timer`, for other requests (unbind).
    pub response_timeout: Duration,
    /// `SMPP_Enquire_Link_Timer`: idle time before an enquire_link.
    pub enquire_link_interval: Duration,
    /// `SMPP_Inactivity_Timer`: idle time (enquire_link traffic not counted) before unbinding;
    /// `None` for persistent connections.
    pub inactivity: Option<Duration>,
    /// `SMPP_ESME_Throttled_Timeout`: no submission for this long after ESME_RTHROTTLED.
    pub throttled_pause: Duration,
    /// Submissions per second on this connection, if limited.
    pub rate: Option<f64>,
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("bind_type", &self.bind_type)
            .field("system_id", &self.system_id)
            .field("password", &"<redacted>")
            .field("system_type", &self.system_type)
            .field("window", &self.window)
            .field("bind_timeout", &self.bind_timeout)
            .field("submit_timeout", &self.submit_timeout)
            .field("enquire_timeout", &self.enquire_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("enquire_link_interval", &self.enquire_link_interval)
            .field("inactivity", &self.inactivity)
            .field("throttled_pause", &self.throttled_pause)
            .field("rate", &self.rate)
            .finish()
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            bind_type: BindType::Transceiver,
            system_id: String::new(),
            password: String::new(),
            system_type: String::new(),
            window: 10,
            bind_timeout: Duration::from_secs(15),
            submit_timeout: Duration::from_secs(15),
            enquire_timeout: Duration::from_secs(15),
            response_timeout: Duration::from_secs(15),
            enquire_link_interval: Duration::from_secs(60),
            inactivity: Some(Duration::from_secs(300)),
            throttled_pause: Duration::ZERO,
            rate: None,
        }
    }
}

/// How a submission ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmitResult {
    /// The SMSC answered; the status says whether it was accepted.
    Response { status: CommandStatus, pdu: Pdu },
    /// No response within the submit response timer.
    Timeout,
    /// The connection ended (or never bound) before a response came.
    ConnectionLost,
}

/// Why a session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    BindRefused(CommandStatus),
    BindTimeout,
    EnquireLinkTimeout,
    Inactivity,
    Unbound,
    PeerUnbound,
    FramingLost,
}

/// What the driver must do.
#[derive(Debug, PartialEq, Eq)]
pub enum Action<T> {
    Send(Frame),
    /// The bind succeeded.
    Bound {
        smsc_system_id: String,
        interface_version: Option<u8>,
    },
    /// A submission ended.
    Outcome(T, SubmitResult),
    /// The SMSC sent a message (deliver_sm or data_sm): the application must answer it with
    /// [`Session::respond`], after it has safely taken it.
    Incoming(Frame),
    /// Submissions are paused until then (ESME_RTHROTTLED).
    Throttled(Instant),
    /// Close the socket.
    Close(CloseReason),
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// TCP connected, bind not yet sent.
    Open,
    Binding {
        seq: u32,
        deadline: Instant,
    },
    Bound,
    Unbinding {
        seq: u32,
        deadline: Instant,
    },
    Closed,
}

/// One SMPP session, generic over the caller's token for each submission.
pub struct Session<T> {
    cfg: SessionConfig,
    state: State,
    next_seq: u32,
    window: Window<T>,
    queue: VecDeque<(T, Pdu)>,
    enquire: Option<(u32, Instant)>,
    /// Last PDU sent or received (enquire_link timer).
    last_traffic: Instant,
    /// Last PDU other than enquire_link (inactivity timer).
    last_useful: Instant,
    throttled_until: Option<Instant>,
    rate: Option<TokenBucket>,
}

impl<T> Session<T> {
    pub fn new(cfg: SessionConfig, now: Instant) -> Self {
        let rate = cfg.rate.map(|r| TokenBucket::new(r, r.max(1.0), now));
        Session {
            window: Window::new(cfg.window.max(1)),
            cfg,
            state: State::Open,
            next_seq: 1,
            queue: VecDeque::new(),
            enquire: None,
            last_traffic: now,
            last_useful: now,
            throttled_until: None,
            rate,
        }
    }

    pub fn is_bound(&self) -> bool {
        self.state == State::Bound
    }

    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Submissions waiting for the window, plus those in it.
    pub fn load(&self) -> usize {
        self.queue.len() + self.window.len()
    }

    pub fn in_window(&self) -> usize {
        self.window.len()
    }

    fn seq(&mut self) -> u32 {
        let s = self.next_seq;
        // Sequence numbers run 0x00000001..=0x7FFFFFFF (SMPP 3.4 §5.1.4).
        self.next_seq = if s >= 0x7FFF_FFFF { 1 } else { s + 1 };
        s
    }

    /// The TCP connection is up: bind.
    pub fn connected(&mut self, now: Instant) -> Vec<Action<T>> {
        let seq = self.seq();
        let bind = Bind {
            system_id: self.cfg.system_id.clone(),
            password: self.cfg.password.clone(),
            system_type: self.cfg.system_type.clone(),
            interface_version: INTERFACE_VERSION,
            ..Bind::default()
        };
        self.state = State::Binding {
            seq,
            deadline: now + self.cfg.bind_timeout,
        };
        self.last_traffic = now;
        vec![Action::Send(Frame::new(seq, self.cfg.bind_type.pdu(bind)))]
    }

    /// Queues a submission (submit_sm, submit_multi, data_sm, query_sm...).
    pub fn submit(&mut self, token: T, pdu: Pdu, now: Instant) -> Vec<Action<T>> {
        if matches!(self.state, State::Unbinding { .. } | State::Closed)
            || !self.cfg.bind_type.can_submit()
        {
            return vec![Action::Outcome(token, SubmitResult::ConnectionLost)];
        }
        self.queue.push_back((token, pdu));
        let mut out = Vec::new();
        self.pump(now, &mut out);
        out
    }

    /// Sends queued submissions while the window, the throttle pause and the rate allow.
    fn pump(&mut self, now: Instant, out: &mut Vec<Action<T>>) {
        if self.state != State::Bound {
            return;
        }
        if self.throttled_until.is_some_and(|t| now < t) {
            return;
        }
        self.throttled_until = None;
        while !self.window.is_full() && !self.queue.is_empty() {
            if let Some(bucket) = &mut self.rate
                && !bucket.take(now)
            {
                break;
            }
            let (token, pdu) = self.queue.pop_front().expect("checked non-empty");
            let seq = self.seq();
            let timeout = self.cfg.submit_timeout;
            self.window
                .insert(seq, pdu.command_id().response(), token, now + timeout);
            self.last_traffic = now;
            self.last_useful = now;
            out.push(Action::Send(Frame::new(seq, pdu)));
        }
    }

    /// A frame arrived.
    pub fn received(&mut self, frame: Frame, now: Instant) -> Vec<Action<T>> {
        let mut out = Vec::new();
        self.last_traffic = now;
        let id = frame.pdu.command_id();
        if id != CommandId::ENQUIRE_LINK && id != CommandId::ENQUIRE_LINK_RESP {
            self.last_useful = now;
        }
        match (&self.state, frame.pdu) {
            (
                State::Binding { seq, .. },
                pdu @ (Pdu::BindTransmitterResp(_)
                | Pdu::BindReceiverResp(_)
                | Pdu::BindTransceiverResp(_)
                | Pdu::GenericNack),
            ) if frame.sequence == *seq => {
                if frame.status.is_ok() && pdu != Pdu::GenericNack {
                    let (system_id, version) = match &pdu {
                        Pdu::BindTransmitterResp(r)
                        | Pdu::BindReceiverResp(r)
                        | Pdu::BindTransceiverResp(r) => {
                            (r.system_id.clone(), r.tlv_u8(tag::SC_INTERFACE_VERSION))
                        }
                        _ => unreachable!("matched above"),
                    };
                    self.state = State::Bound;
                    out.push(Action::Bound {
                        smsc_system_id: system_id,
                        interface_version: version,
                    });
                    self.pump(now, &mut out);
                } else {
                    let status = if frame.status.is_ok() {
                        CommandStatus::ESME_RBINDFAIL
                    } else {
                        frame.status
                    };
                    self.close(CloseReason::BindRefused(status), &mut out);
                }
            }
            (_, Pdu::EnquireLink) => out.push(Action::Send(Frame::new(
                frame.sequence,
                Pdu::EnquireLinkResp,
            ))),
            (_, Pdu::EnquireLinkResp) => {
                if self.enquire.is_some_and(|(s, _)| s == frame.sequence) {
                    self.enquire = None;
                }
            }
            (_, Pdu::Unbind) => {
                out.push(Action::Send(Frame::new(frame.sequence, Pdu::UnbindResp)));
                self.close(CloseReason::PeerUnbound, &mut out);
            }
            (State::Unbinding { seq, .. }, Pdu::UnbindResp) if frame.sequence == *seq => {
                self.close(CloseReason::Unbound, &mut out);
            }
            (_, pdu @ (Pdu::DeliverSm(_) | Pdu::DataSm(_))) => {
                out.push(Action::Incoming(Frame {
                    status: frame.status,
                    sequence: frame.sequence,
                    pdu,
                }));
            }
            (_, Pdu::AlertNotification(_) | Pdu::Outbind(_)) => {} // no response is defined
            (_, pdu) if id.is_response() || pdu == Pdu::GenericNack => {
                match self.window.remove(frame.sequence, id) {
                    Some(token) => {
                        if frame.status == CommandStatus::ESME_RTHROTTLED
                            && !self.cfg.throttled_pause.is_zero()
                        {
                            let until = now + self.cfg.throttled_pause;
                            self.throttled_until = Some(until);
                            out.push(Action::Throttled(until));
                        }
                        out.push(Action::Outcome(
                            token,
                            SubmitResult::Response {
                                status: frame.status,
                                pdu,
                            },
                        ));
                        self.pump(now, &mut out);
                    }
                    None => {
                        tracing::debug!(sequence = frame.sequence, %id, "response to no outstanding request; ignored")
                    }
                }
            }
            (_, pdu) => {
                // A request an ESME does not serve (submit_sm from the SMSC, a bind...).
                let status = if matches!(
                    pdu,
                    Pdu::BindTransmitter(_) | Pdu::BindReceiver(_) | Pdu::BindTransceiver(_)
                ) {
                    CommandStatus::ESME_RALYBND
                } else {
                    CommandStatus::ESME_RINVCMDID
                };
                out.push(Action::Send(
                    Frame::new(frame.sequence, Pdu::GenericNack).with_status(status),
                ));
            }
        }
        out
    }

    /// A frame could not be decoded: answer generic_nack and go on (SMPP 3.4 §4.3).
    pub fn malformed(&mut self, err: &DecodeError, now: Instant) -> Vec<Action<T>> {
        self.last_traffic = now;
        if let DecodeError::BadLength(_) = err {
            let mut out = Vec::new();
            self.close(CloseReason::FramingLost, &mut out);
            return out;
        }
        vec![Action::Send(
            Frame::new(err.sequence(), Pdu::GenericNack).with_status(err.status()),
        )]
    }

    /// Answers an [`Action::Incoming`] deliver_sm or data_sm.
    pub fn respond(
        &mut self,
        incoming: &Frame,
        status: CommandStatus,
        now: Instant,
    ) -> Vec<Action<T>> {
        self.last_traffic = now;
        let pdu = match incoming.pdu {
            Pdu::DataSm(_) => Pdu::DataSmResp(Default::default()),
            _ => Pdu::DeliverSmResp(MessageIdResp::default()),
        };
        vec![Action::Send(
            Frame::new(incoming.sequence, pdu).with_status(status),
        )]
    }

    /// Starts a clean unbind; queued submissions are reported lost.
    pub fn unbind(&mut self, now: Instant) -> Vec<Action<T>> {
        let mut out = Vec::new();
        for (token, _) in self.queue.drain(..) {
            out.push(Action::Outcome(token, SubmitResult::ConnectionLost));
        }
        match self.state {
            State::Bound => {
                let seq = self.seq();
                self.state = State::Unbinding {
                    seq,
                    deadline: now + self.cfg.response_timeout,
                };
                out.push(Action::Send(Frame::new(seq, Pdu::Unbind)));
            }
            State::Unbinding { .. } | State::Closed => {}
            State::Open | State::Binding { .. } => self.close(CloseReason::Unbound, &mut out),
        }
        out
    }

    /// Time passed: fire the timers that are due.
    pub fn tick(&mut self, now: Instant) -> Vec<Action<T>> {
        let mut out = Vec::new();
        match self.state {
            State::Binding { deadline, .. } if now >= deadline => {
                self.close(CloseReason::BindTimeout, &mut out);
                return out;
            }
            State::Unbinding { deadline, .. } if now >= deadline => {
                self.close(CloseReason::Unbound, &mut out);
                return out;
            }
            State::Bound => {}
            _ => return out,
        }
        // An unanswered submission is lost; the others go on (docs/reference/momentum.md §3.1.4).
        for token in self.window.expire(now) {
            out.push(Action::Outcome(token, SubmitResult::Timeout));
        }
        if let Some((_, deadline)) = self.enquire
            && now >= deadline
        {
            self.close(CloseReason::EnquireLinkTimeout, &mut out);
            return out;
        }
        if let Some(limit) = self.cfg.inactivity
            && now.duration_since(self.last_useful) >= limit
            && self.window.is_empty()
            && self.queue.is_empty()
        {
            out.extend(self.unbind(now));
            return out;
        }
        if self.enquire.is_none()
            && now.duration_since(self.last_traffic) >= self.cfg.enquire_link_interval
        {
            let seq = self.seq();
            self.enquire = Some((seq, now + self.cfg.enquire_timeout));
            self.last_traffic = now;
            out.push(Action::Send(Frame::new(seq, Pdu::EnquireLink)));
        }
        self.pump(now, &mut out);
        out
    }

    /// When [`Session::tick`] next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut d: Option<Instant> = None;
        let mut at = |t: Instant| d = Some(d.map_or(t, |x| x.min(t)));
        match self.state {
            State::Binding { deadline, .. } | State::Unbinding { deadline, .. } => at(deadline),
            State::Bound => {
                if let Some(t) = self.window.next_deadline() {
                    at(t);
                }
                if let Some((_, t)) = self.enquire {
                    at(t);
                }
                at(self.last_traffic + self.cfg.enquire_link_interval);
                if let Some(limit) = self.cfg.inactivity {
                    at(self.last_useful + limit);
                }
                if !self.queue.is_empty() {
                    if let Some(t) = self.throttled_until {
                        at(t);
                    } else if let Some(b) = &self.rate
                        && !self.window.is_full()
                    {
                        at(b.next_token());
                    }
                }
            }
            State::Open | State::Closed => {}
        }
        d
    }

    /// The socket is gone: every submission still here is lost.
    pub fn disconnected(&mut self) -> Vec<Action<T>> {
        self.state = State::Closed;
        let mut out: Vec<Action<T>> = self
            .window
            .drain()
            .map(|t| Action::Outcome(t, SubmitResult::ConnectionLost))
            .collect();
        out.extend(
            self.queue
                .drain(..)
                .map(|(t, _)| Action::Outcome(t, SubmitResult::ConnectionLost)),
        );
        out
    }

    fn close(&mut self, reason: CloseReason, out: &mut Vec<Action<T>>) {
        if self.state == State::Closed {
            return;
        }
        out.extend(self.disconnected());
        out.push(Action::Close(reason));
    }
}

#[cfg(test)]
mod tests;
