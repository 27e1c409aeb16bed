//! The session state machine driven directly: no socket, time passed in by hand.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::*;
use crate::pdu::{BindResp, DecodeError, ShortMessage};

fn cfg() -> SessionConfig {
    SessionConfig {
        system_id: "esme".into(),
        password: "pw".into(),
        window: 2,
        submit_timeout: Duration::from_secs(5),
        enquire_link_interval: Duration::from_secs(30),
        inactivity: Some(Duration::from_secs(120)),
        throttled_pause: Duration::from_secs(3),
        ..SessionConfig::default()
    }
}

fn submit() -> Pdu {
    Pdu::SubmitSm(ShortMessage {
        short_message: Bytes::from_static(b"hi"),
        ..Default::default()
    })
}

fn sent(actions: &[Action<u32>]) -> Vec<&Frame> {
    actions
        .iter()
        .filter_map(|a| {
            if let Action::Send(f) = a {
                Some(f)
            } else {
                None
            }
        })
        .collect()
}

fn outcomes(actions: &[Action<u32>]) -> Vec<(u32, SubmitResult)> {
    actions
        .iter()
        .filter_map(|a| {
            if let Action::Outcome(t, r) = a {
                Some((*t, r.clone()))
            } else {
                None
            }
        })
        .collect()
}

fn bound(t0: Instant) -> Session<u32> {
    let mut s = Session::new(cfg(), t0);
    let a = s.connected(t0);
    let bind = sent(&a)[0].clone();
    assert!(
        matches!(&bind.pdu, Pdu::BindTransceiver(b) if b.interface_version == 0x34 && b.system_id == "esme")
    );
    let resp = Frame::new(
        bind.sequence,
        Pdu::BindTransceiverResp(BindResp {
            system_id: "SMSC".into(),
            tlvs: vec![],
        }),
    );
    let a = s.received(resp, t0);
    assert!(matches!(&a[0], Action::Bound { smsc_system_id, .. } if smsc_system_id == "SMSC"));
    s
}

fn resp(seq: u32, status: CommandStatus) -> Frame {
    Frame::new(
        seq,
        Pdu::SubmitSmResp(MessageIdResp {
            message_id: format!("id{seq}"),
        }),
    )
    .with_status(status)
}

#[test]
fn submits_wait_for_bind_and_a_window_slot() {
    let t0 = Instant::now();
    let mut s: Session<u32> = Session::new(cfg(), t0);
    let a = s.connected(t0);
    let bind_seq = sent(&a)[0].sequence;
    // Queued before the bind completes.
    assert!(s.submit(1, submit(), t0).is_empty());
    let a = s.received(
        Frame::new(bind_seq, Pdu::BindTransceiverResp(BindResp::default())),
        t0,
    );
    assert_eq!(sent(&a).len(), 1, "queued submit goes out once bound");
    let a = s.submit(2, submit(), t0);
    assert_eq!(sent(&a).len(), 1);
    let a = s.submit(3, submit(), t0);
    assert!(sent(&a).is_empty(), "window of 2 is full");
    assert_eq!((s.in_window(), s.load()), (2, 3));
    // A response frees a slot; the waiting submit goes out.
    let first = bind_seq + 1;
    let a = s.received(resp(first, CommandStatus::ESME_ROK), t0);
    assert_eq!(
        outcomes(&a),
        [(
            1,
            SubmitResult::Response {
                status: CommandStatus::ESME_ROK,
                pdu: Pdu::SubmitSmResp(MessageIdResp {
                    message_id: format!("id{first}")
                })
            }
        )]
    );
    assert_eq!(sent(&a).len(), 1);
}

#[test]
fn bind_refused_or_silent_closes_and_loses_queued_submits() {
    let t0 = Instant::now();
    let mut s: Session<u32> = Session::new(cfg(), t0);
    let seq = sent(&s.connected(t0))[0].sequence;
    s.submit(1, submit(), t0);
    let a = s.received(
        Frame::new(seq, Pdu::BindTransceiverResp(BindResp::default()))
            .with_status(CommandStatus::ESME_RINVPASWD),
        t0,
    );
    assert_eq!(outcomes(&a), [(1, SubmitResult::ConnectionLost)]);
    assert!(a.contains(&Action::Close(CloseReason::BindRefused(
        CommandStatus::ESME_RINVPASWD
    ))));

    let mut s: Session<u32> = Session::new(cfg(), t0);
    s.connected(t0);
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(15)));
    assert!(s.tick(t0 + Duration::from_secs(14)).is_empty());
    assert!(
        s.tick(t0 + Duration::from_secs(15))
            .contains(&Action::Close(CloseReason::BindTimeout))
    );
}

#[test]
fn a_missing_response_times_out_and_others_go_on() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    let a = s.submit(1, submit(), t0);
    let seq1 = sent(&a)[0].sequence;
    let a = s.submit(2, submit(), t0 + Duration::from_secs(1));
    let seq2 = sent(&a)[0].sequence;
    let a = s.tick(t0 + Duration::from_secs(5));
    assert_eq!(outcomes(&a), [(1, SubmitResult::Timeout)]);
    assert!(!s.is_closed(), "a submit timeout does not end the session");
    // A late response to the timed-out request is ignored; the other still counts.
    assert!(
        outcomes(&s.received(
            resp(seq1, CommandStatus::ESME_ROK),
            t0 + Duration::from_secs(5)
        ))
        .is_empty()
    );
    assert_eq!(
        outcomes(&s.received(
            resp(seq2, CommandStatus::ESME_ROK),
            t0 + Duration::from_secs(5)
        ))
        .len(),
        1
    );
}

#[test]
fn enquire_link_when_idle_and_its_timeout_closes() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(30)));
    let a = s.tick(t0 + Duration::from_secs(30));
    let el = sent(&a)[0].clone();
    assert_eq!(el.pdu, Pdu::EnquireLink);
    // Answered: the session stays.
    s.received(
        Frame::new(el.sequence, Pdu::EnquireLinkResp),
        t0 + Duration::from_secs(31),
    );
    let a = s.tick(t0 + Duration::from_secs(61));
    let el2 = sent(&a)[0].clone();
    assert_eq!(el2.pdu, Pdu::EnquireLink);
    // Not answered within the enquire response timer: the connection is dead.
    let a = s.tick(t0 + Duration::from_secs(61 + 15));
    assert!(a.contains(&Action::Close(CloseReason::EnquireLinkTimeout)));
}

#[test]
fn inactivity_unbinds_cleanly() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    // enquire_link traffic does not count as activity.
    let mut now = t0;
    let mut unbind = None;
    while unbind.is_none() {
        now += Duration::from_secs(30);
        for f in sent(&s.tick(now)) {
            match f.pdu {
                Pdu::EnquireLink => {
                    s.received(Frame::new(f.sequence, Pdu::EnquireLinkResp), now);
                }
                Pdu::Unbind => unbind = Some((f.sequence, now)),
                _ => panic!("unexpected {f:?}"),
            }
        }
    }
    let (seq, at) = unbind.unwrap();
    assert_eq!(at, t0 + Duration::from_secs(120));
    let a = s.received(Frame::new(seq, Pdu::UnbindResp), at);
    assert!(a.contains(&Action::Close(CloseReason::Unbound)));
}

#[test]
fn throttled_pauses_submissions() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    let seq = sent(&s.submit(1, submit(), t0))[0].sequence;
    let a = s.received(resp(seq, CommandStatus::ESME_RTHROTTLED), t0);
    assert!(a.contains(&Action::Throttled(t0 + Duration::from_secs(3))));
    assert_eq!(
        outcomes(&a)[0].1,
        SubmitResult::Response {
            status: CommandStatus::ESME_RTHROTTLED,
            pdu: Pdu::SubmitSmResp(MessageIdResp {
                message_id: format!("id{seq}")
            })
        }
    );
    // Nothing goes out during the pause, even with a free window.
    assert!(sent(&s.submit(2, submit(), t0 + Duration::from_secs(1))).is_empty());
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(3)));
    assert!(sent(&s.tick(t0 + Duration::from_millis(2999))).is_empty());
    assert_eq!(sent(&s.tick(t0 + Duration::from_secs(3))).len(), 1);
}

#[test]
fn rate_limit_spaces_submissions() {
    let t0 = Instant::now();
    let mut s: Session<u32> = Session::new(
        SessionConfig {
            rate: Some(2.0),
            window: 100,
            ..cfg()
        },
        t0,
    );
    let seq = sent(&s.connected(t0))[0].sequence;
    s.received(
        Frame::new(seq, Pdu::BindTransceiverResp(BindResp::default())),
        t0,
    );
    let mut count = 0;
    for i in 0..10 {
        count += sent(&s.submit(i, submit(), t0)).len();
    }
    assert_eq!(count, 2, "burst of 2");
    let mut now = t0;
    while now < t0 + Duration::from_secs(2) {
        now = s
            .next_deadline()
            .unwrap()
            .max(now + Duration::from_millis(1));
        count += sent(&s.tick(now))
            .iter()
            .filter(|f| matches!(f.pdu, Pdu::SubmitSm(_)))
            .count();
    }
    assert!(
        (5..=7).contains(&count),
        "2 per second over 2 s after a burst of 2: {count}"
    );
}

#[test]
fn malformed_pdu_gets_generic_nack_and_the_session_lives() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    let err = DecodeError::Malformed {
        id: CommandId::DELIVER_SM,
        sequence: 77,
        field: "short_message",
    };
    let a = s.malformed(&err, t0);
    assert_eq!(
        sent(&a)[0],
        &Frame::new(77, Pdu::GenericNack).with_status(CommandStatus::ESME_RINVMSGLEN)
    );
    assert!(s.is_bound());
    let a = s.malformed(&DecodeError::BadLength(3), t0);
    assert!(a.contains(&Action::Close(CloseReason::FramingLost)));
}

#[test]
fn smsc_requests_are_answered() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    assert_eq!(
        sent(&s.received(Frame::new(9, Pdu::EnquireLink), t0))[0],
        &Frame::new(9, Pdu::EnquireLinkResp)
    );
    let dlr = Frame::new(10, Pdu::DeliverSm(ShortMessage::default()));
    let a = s.received(dlr.clone(), t0);
    assert_eq!(
        a,
        [Action::Incoming(dlr.clone())],
        "the application answers, after taking the message"
    );
    assert_eq!(
        sent(&s.respond(&dlr, CommandStatus::ESME_ROK, t0))[0],
        &Frame::new(10, Pdu::DeliverSmResp(MessageIdResp::default()))
    );
    // An SMSC sending submit_sm to an ESME gets generic_nack.
    assert_eq!(
        sent(&s.received(Frame::new(11, submit()), t0))[0].status,
        CommandStatus::ESME_RINVCMDID
    );
    // The SMSC unbinds: answer, then close; in-flight submits are lost.
    s.submit(5, submit(), t0);
    let a = s.received(Frame::new(12, Pdu::Unbind), t0);
    assert_eq!(sent(&a)[0], &Frame::new(12, Pdu::UnbindResp));
    assert_eq!(outcomes(&a), [(5, SubmitResult::ConnectionLost)]);
    assert!(a.contains(&Action::Close(CloseReason::PeerUnbound)));
}

#[test]
fn disconnect_reports_every_outstanding_submit_once() {
    let t0 = Instant::now();
    let mut s = bound(t0);
    for i in 0..5 {
        s.submit(i, submit(), t0);
    }
    let mut lost: Vec<u32> = outcomes(&s.disconnected())
        .into_iter()
        .map(|(t, r)| {
            assert_eq!(r, SubmitResult::ConnectionLost);
            t
        })
        .collect();
    lost.sort();
    assert_eq!(lost, [0, 1, 2, 3, 4]);
    assert!(s.disconnected().is_empty(), "nothing reported twice");
    assert_eq!(
        outcomes(&s.submit(9, submit(), t0)),
        [(9, SubmitResult::ConnectionLost)]
    );
}

#[test]
fn debug_output_never_shows_the_password() {
    let cfg = SessionConfig {
        system_id: "esme".into(),
        password: "hunter2".into(),
        ..SessionConfig::default()
    };
    let shown = format!("{cfg:?}");
    assert!(
        shown.contains("esme") && !shown.contains("hunter2"),
        "{shown}"
    );
}
