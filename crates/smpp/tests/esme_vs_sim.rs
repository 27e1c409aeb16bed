//! The ESME engine against the SMSC simulator over loopback TCP: binding and submitting,
//! receipts and MO, and the faults a real SMSC produces — disconnect with a full window,
//! ESME_RTHROTTLED, missing responses, garbage PDUs.

use std::time::{Duration, Instant};

use bytes::Bytes;
use impulse_sim::smsc::{SimConfig, Smsc};
use impulse_smpp::esme::{Backoff, Esme, EsmeConfig, Event};
use impulse_smpp::pdu::{Address, CommandStatus, Pdu, ShortMessage, Tlvs, tag};
use impulse_smpp::receipt;
use impulse_smpp::session::{BindType, SessionConfig, SubmitResult};
use tokio::sync::mpsc;

fn submit(dest: &str, text: &str, registered: u8) -> Pdu {
    Pdu::SubmitSm(ShortMessage {
        source: Address::new(0, 1, "12345"),
        dest: Address::new(1, 1, dest),
        registered_delivery: registered,
        short_message: Bytes::copy_from_slice(text.as_bytes()),
        ..Default::default()
    })
}

fn config(addr: std::net::SocketAddr, window: usize) -> EsmeConfig {
    EsmeConfig {
        addr: addr.to_string(),
        session: SessionConfig {
            bind_type: BindType::Transceiver,
            system_id: "esme".into(),
            password: "secret".into(),
            window,
            submit_timeout: Duration::from_millis(500),
            throttled_pause: Duration::from_millis(800),
            ..SessionConfig::default()
        },
        max_bind_retries: 1,
        backoff: Backoff {
            initial: Duration::from_millis(300),
            max: Duration::from_secs(2),
        },
        connect_timeout: Duration::from_secs(2),
        reconnect: true,
        tls: None,
    }
}

async fn start(cfg: SimConfig, window: usize) -> (Smsc, Esme, mpsc::UnboundedReceiver<Event>) {
    let sim = Smsc::start("127.0.0.1:0", cfg).await.unwrap();
    let (tx, mut events) = mpsc::unbounded_channel();
    let esme = Esme::spawn(config(sim.addr, window), tx);
    match tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
    {
        Some(Event::Bound { smsc_system_id }) => assert_eq!(smsc_system_id, "ImpulseSim"),
        other => panic!("expected Bound, got {other:?}"),
    }
    (sim, esme, events)
}

/// Waits (at most 5 s) until `done` holds, checking every 20 ms.
async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < Duration::from_secs(5), "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn accepted(r: &SubmitResult) -> Option<String> {
    match r {
        SubmitResult::Response {
            status,
            pdu: Pdu::SubmitSmResp(resp),
        } if status.is_ok() => Some(resp.message_id.clone()),
        _ => None,
    }
}

#[tokio::test]
async fn submits_through_a_window_all_get_their_response() {
    let (sim, esme, _events) = start(SimConfig::default(), 10).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let e = esme.clone();
        tasks.push(tokio::spawn(async move {
            e.submit(submit("4445551234", &format!("message {i}"), 0))
                .await
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(accepted(&t.await.unwrap()).expect("accepted"));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200, "one distinct message id each");
    assert_eq!(sim.submits(), 200);
    assert!(
        sim.received()
            .iter()
            .any(|r| r.text() == "message 199" && r.dest == "4445551234")
    );
}

#[tokio::test]
async fn receipts_and_mo_arrive_as_events_and_are_answered() {
    let (sim, esme, mut events) = start(
        SimConfig {
            receipt_delay: Duration::from_millis(50),
            receipt_delivered_percent: 100,
            ..Default::default()
        },
        10,
    )
    .await;
    let id = accepted(&esme.submit(submit("4445551234", "with receipt", 1)).await).unwrap();
    let Some(Event::Incoming { frame, responder }) =
        tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap()
    else {
        panic!("expected a receipt")
    };
    let Pdu::DeliverSm(sm) = &frame.pdu else {
        panic!()
    };
    assert!(receipt::is_receipt(sm));
    let r = receipt::from_deliver_sm(sm);
    assert_eq!(r.id.as_deref(), Some(id.as_str()));
    assert_eq!(r.state, Some(receipt::MessageState::Delivered));
    responder.respond(CommandStatus::ESME_ROK);

    assert!(sim.inject_mo(
        "4445551234",
        "12345",
        0,
        0,
        b"user@example.com(hi) hello",
        vec![]
    ));
    let Some(Event::Incoming { frame, responder }) =
        tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap()
    else {
        panic!("expected an MO")
    };
    let Pdu::DeliverSm(sm) = &frame.pdu else {
        panic!()
    };
    assert!(!receipt::is_receipt(sm));
    assert_eq!(&sm.short_message[..], b"user@example.com(hi) hello");
    assert_eq!(sm.source.addr, "4445551234");
    responder.respond(CommandStatus::ESME_ROK);
    // The session is still fine.
    assert!(accepted(&esme.submit(submit("1", "after", 0)).await).is_some());
}

#[tokio::test]
async fn disconnect_with_a_full_window_reports_every_submit_lost_then_rebinds_with_backoff() {
    let (sim, esme, mut events) = start(SimConfig::default(), 8).await;
    sim.drop_next(8); // the SMSC swallows them: the window fills
    let mut tasks = Vec::new();
    for i in 0..8 {
        let e = esme.clone();
        tasks.push(tokio::spawn(async move {
            e.submit(submit("1", &format!("{i}"), 0)).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cut = Instant::now();
    sim.disconnect_all();
    for t in tasks {
        assert_eq!(t.await.unwrap(), SubmitResult::ConnectionLost);
    }
    let mut rebound = None;
    while rebound.is_none() {
        match tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap()
        {
            Some(Event::Bound { .. }) => rebound = Some(cut.elapsed()),
            Some(Event::Disconnected { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    let waited = rebound.unwrap();
    assert!(
        waited >= Duration::from_millis(200),
        "reconnected without backing off: {waited:?}"
    );
    assert!(accepted(&esme.submit(submit("1", "again", 0)).await).is_some());
}

#[tokio::test]
async fn throttled_pause_is_honoured() {
    let (sim, esme, _events) = start(SimConfig::default(), 10).await;
    sim.fail_next(CommandStatus::ESME_RTHROTTLED, 1);
    let r = esme.submit(submit("1", "first", 0)).await;
    assert!(
        matches!(
            r,
            SubmitResult::Response {
                status: CommandStatus::ESME_RTHROTTLED,
                ..
            }
        ),
        "{r:?}"
    );
    let t = Instant::now();
    assert!(accepted(&esme.submit(submit("1", "second", 0)).await).is_some());
    assert!(
        t.elapsed() >= Duration::from_millis(700),
        "submitted during the pause: {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn a_missing_response_times_out_and_the_bind_survives() {
    let (sim, esme, _events) = start(SimConfig::default(), 10).await;
    sim.drop_next(1);
    let t = Instant::now();
    assert_eq!(
        esme.submit(submit("1", "lost", 0)).await,
        SubmitResult::Timeout
    );
    assert!(t.elapsed() >= Duration::from_millis(450));
    assert!(accepted(&esme.submit(submit("1", "next", 0)).await).is_some());
}

#[tokio::test]
async fn wrong_password_is_a_bind_failure_reported_after_the_retries() {
    let sim = Smsc::start(
        "127.0.0.1:0",
        SimConfig {
            credentials: vec![("esme".into(), "right".into())],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (tx, mut events) = mpsc::unbounded_channel();
    let _esme = Esme::spawn(config(sim.addr, 10), tx);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline.into(), events.recv())
            .await
            .unwrap()
        {
            Some(Event::BindFailed { status }) => {
                assert_eq!(status, Some(CommandStatus::ESME_RINVPASWD));
                break;
            }
            Some(Event::Disconnected { reason }) => {
                assert!(reason.contains("ESME_RINVPASWD"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn shutdown_unbinds_cleanly() {
    let (sim, esme, _events) = start(SimConfig::default(), 10).await;
    assert_eq!(sim.bound_sessions(), 1);
    tokio::time::timeout(Duration::from_secs(5), esme.shutdown())
        .await
        .unwrap();
    wait_until("the SMSC still counts a bind", || sim.bound_sessions() == 0).await;
    assert_eq!(
        esme.submit(submit("1", "after shutdown", 0)).await,
        SubmitResult::ConnectionLost
    );
}

#[test]
fn tlv_helpers_read_receipts() {
    let sm = ShortMessage {
        tlvs: vec![impulse_smpp::pdu::Tlv::cstr(
            tag::RECEIPTED_MESSAGE_ID,
            "ab",
        )],
        ..Default::default()
    };
    assert_eq!(sm.tlv_str(tag::RECEIPTED_MESSAGE_ID).as_deref(), Some("ab"));
}

#[tokio::test]
async fn garbage_is_answered_with_generic_nack() {
    let (sim, esme, _events) = start(SimConfig::default(), 10).await;
    sim.send_garbage();
    wait_until("no generic_nack came back", || sim.nacks() >= 1).await;
    assert!(accepted(&esme.submit(submit("1", "after nack", 0)).await).is_some());
}

#[tokio::test]
async fn enquire_link_and_unbind_from_the_smsc_are_answered() {
    let (sim, _esme, mut events) = start(SimConfig::default(), 10).await;
    sim.enquire_all();
    wait_until("enquire_link not answered", || sim.enquire_responses() >= 1).await;
    sim.unbind_all();
    match tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
    {
        Some(Event::Disconnected { reason }) => assert!(reason.contains("PeerUnbound"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // A persistent connection binds again (after its backoff).
    assert!(matches!(
        tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap(),
        Some(Event::Bound { .. })
    ));
}

#[tokio::test]
async fn a_pool_spreads_submits_over_its_binds_and_shares_one_rate() {
    use impulse_smpp::pool::Pool;
    let sim = Smsc::start("127.0.0.1:0", SimConfig::default())
        .await
        .unwrap();
    let (tx, mut events) = mpsc::unbounded_channel();
    let pool = Pool::spawn(config(sim.addr, 10), 3, Some(100.0), tx);
    for _ in 0..3 {
        assert!(matches!(
            tokio::time::timeout(Duration::from_secs(5), events.recv())
                .await
                .unwrap(),
            Some(Event::Bound { .. })
        ));
    }
    assert_eq!(pool.bound(), 3);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let p = pool.clone();
        tasks.push(tokio::spawn(async move {
            p.submit(submit("1", &format!("{i}"), 0)).await
        }));
    }
    for t in tasks {
        assert!(accepted(&t.await.unwrap()).is_some());
    }
    // 200 at 100/s shared by the group, after a burst of 100: about one second, not less.
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "group rate not honoured: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    let mut per_session = std::collections::HashMap::new();
    for r in sim.received() {
        *per_session.entry(r.session).or_insert(0) += 1;
    }
    assert_eq!(
        per_session.len(),
        3,
        "all three binds carried traffic: {per_session:?}"
    );
    assert!(per_session.values().all(|n| *n >= 50), "{per_session:?}");
    pool.shutdown().await;
}
