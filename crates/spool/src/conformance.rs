//! The spool conformance suite: what any backend must do, written once against the traits.
//! A backend's test file runs all of it with one line, `impulse_spool::conformance_tests!(…)`,
//! given a [`Backend`] that opens a fresh store and reopens the same one as a restarted
//! process would. Compiled with the `conformance` feature only.

use crate::{
    Destination, Lease, Leased, MessageId, MobileStore, NewMessage, NewRecipient, Outcome,
    QueueCounts, QueueQueries, QueueStore, RecipientState, Selection, Spool, SpoolError,
};
use std::future::Future;

/// How the suite gets at a backend's store.
pub trait Backend: Send + Sync {
    type Spool: Spool;
    /// Opens the store, and the same store again when called again: as a process restarted
    /// after the previous one stopped (the previous handle is dropped first) would. Returns the
    /// recipients that were leased and are queued again.
    fn open(&self) -> impl Future<Output = (Self::Spool, u64)> + Send;
}

/// Runs every conformance case as a `#[tokio::test]` against the backend `$backend` builds
/// (an expression evaluated once per case, so each case gets a fresh store).
#[macro_export]
macro_rules! conformance_tests {
    ($backend:expr) => {
        $crate::conformance_tests!(@each $backend;
            enqueue_lease_and_outcomes,
            leased_work_resumes_after_a_crash,
            many_concurrent_enqueues_get_distinct_ids,
            reverse_mappings_keep_the_latest_sender_until_they_expire,
            message_ids_are_never_reused,
            submissions_are_found_by_key_and_by_message,
            queue_counts_and_operator_reschedules,
            mo_parts_are_stored_completed_and_recognised_again
        );
    };
    (@each $backend:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $case() {
                let backend = $backend;
                $crate::conformance::$case(&backend).await;
            }
        )*
    };
}

/// Every lease of a lease call, whatever its message.
pub fn flat(l: Leased) -> Vec<Lease> {
    l.messages.into_iter().flat_map(|m| m.leases).collect()
}

/// The destination of domain `d` through the default binding.
pub fn dest(d: &str) -> Destination {
    Destination {
        domain: d.into(),
        binding: String::new(),
    }
}

/// The suite's clock: `ms` after a moment an hour ahead of the real clock, fixed once per
/// process. Due times are near the real clock in production (a node writes due times from its
/// own clock), and a shared spool relies on it (scans start from a floor below the clock); an
/// hour ahead, the suite's times are never below a floor.
pub fn t(ms: i64) -> crate::Millis {
    static BASE: std::sync::LazyLock<crate::Millis> =
        std::sync::LazyLock::new(|| crate::now_millis() + 3_600_000);
    *BASE + ms
}

/// A small message from alice@example.org to each (address, domain), received at `t(at)`.
pub fn message(to: &[(&str, &str)], at: i64) -> NewMessage {
    NewMessage {
        sender: "alice@example.org".into(),
        recipients: to
            .iter()
            .map(|(a, d)| NewRecipient {
                address: a.to_string(),
                destination: dest(d),
            })
            .collect(),
        body: b"Subject: hi\r\n\r\nhello\r\n".to_vec(),
        peer: "127.0.0.1".into(),
        protocol: "esmtp".into(),
        received_at: t(at),
    }
}

pub async fn enqueue_lease_and_outcomes<B: Backend>(backend: &B) {
    let (spool, resumed) = backend.open().await;
    assert_eq!(resumed, 0);
    let id = spool
        .enqueue(message(
            &[
                ("a@one.example", "one.example"),
                ("b@one.example", "one.example"),
                ("c@two.example", "two.example"),
            ],
            1000,
        ))
        .await
        .unwrap();
    let stored = spool.load(id).await.unwrap();
    assert_eq!(stored.sender, "alice@example.org");
    assert_eq!(&*stored.body, b"Subject: hi\r\n\r\nhello\r\n");

    let mut dests: Vec<_> = spool
        .destinations()
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.destination.domain, d.next_due))
        .collect();
    dests.sort();
    assert_eq!(
        dests,
        [
            ("one.example".to_string(), t(1000)),
            ("two.example".to_string(), t(1000))
        ]
    );

    // Not yet due before the reception time; due after it.
    let early = spool
        .lease_due(&dest("one.example"), t(999), 10)
        .await
        .unwrap();
    assert_eq!((early.recipients(), early.next_due), (0, Some(t(1000))));
    let leased = spool
        .lease_due(&dest("one.example"), t(1000), 10)
        .await
        .unwrap();
    assert_eq!(
        leased.messages.len(),
        1,
        "both recipients come with their one message"
    );
    assert_eq!(
        &*leased.messages[0].message.as_ref().unwrap().body,
        b"Subject: hi\r\n\r\nhello\r\n"
    );
    assert_eq!(
        leased.next_due, None,
        "nothing else queued for the destination"
    );
    let leases = flat(leased);
    assert_eq!(leases.len(), 2);
    // Leased recipients are not leased twice.
    assert_eq!(
        spool
            .lease_due(&dest("one.example"), t(5000), 10)
            .await
            .unwrap()
            .recipients(),
        0
    );

    spool
        .record(vec![
            (
                leases[0].reference(),
                Outcome::Delivered {
                    response: "250 ok".into(),
                },
            ),
            (
                leases[1].reference(),
                Outcome::Retry {
                    due: t(7000),
                    response: "451 later".into(),
                },
            ),
        ])
        .await
        .unwrap();
    let left = spool.inspect(id).await.unwrap();
    assert_eq!(left.len(), 2);
    let retried = left
        .iter()
        .find(|r| r.address == leases[1].address)
        .unwrap();
    assert_eq!(
        (retried.state, retried.due, retried.attempts),
        (RecipientState::Queued, t(7000), 1)
    );
    assert_eq!(retried.last_response.as_deref(), Some("451 later"));
    assert_eq!(
        spool.next_due(&dest("one.example")).await.unwrap(),
        Some(t(7000))
    );

    // When the last recipient leaves, the message leaves with it. Outcomes are recorded for
    // leased recipients (a shared backend refuses others: see `record`).
    let mut rest = Vec::new();
    for d in ["one.example", "two.example"] {
        for l in flat(spool.lease_due(&dest(d), t(10_000), 10).await.unwrap()) {
            let failed = Outcome::Failed {
                response: "550 no".into(),
            };
            rest.push((l.reference(), failed));
        }
    }
    assert_eq!(rest.len(), left.len());
    spool.record(rest).await.unwrap();
    assert!(spool.inspect(id).await.unwrap().is_empty());
    assert!(matches!(
        spool.load(id).await,
        Err(SpoolError::Unreadable(..))
    ));
}

pub async fn leased_work_resumes_after_a_crash<B: Backend>(backend: &B) {
    let id: MessageId;
    {
        let (spool, _) = backend.open().await;
        id = spool
            .enqueue(message(&[("a@one.example", "one.example")], 1))
            .await
            .unwrap();
        assert_eq!(
            spool
                .lease_due(&dest("one.example"), t(10), 10)
                .await
                .unwrap()
                .recipients(),
            1
        );
        // Dropped without recording an outcome, as a killed process would.
    }
    let (spool, resumed) = backend.open().await;
    assert_eq!(resumed, 1);
    let again = flat(
        spool
            .lease_due(&dest("one.example"), t(10), 10)
            .await
            .unwrap(),
    );
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message, id);
}

pub async fn many_concurrent_enqueues_get_distinct_ids<B: Backend>(backend: &B) {
    let (spool, _) = backend.open().await;
    let mut tasks = Vec::new();
    for i in 0..400 {
        let s = spool.clone();
        tasks.push(tokio::spawn(async move {
            s.enqueue(message(
                &[(&format!("u{i}@bulk.example"), "bulk.example")],
                5,
            ))
            .await
            .unwrap()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 400);
    assert_eq!(
        spool
            .list(Some(&dest("bulk.example")), 1000, 0)
            .await
            .unwrap()
            .len(),
        400
    );
    assert_eq!(
        spool
            .list(Some(&dest("bulk.example")), 10, 395)
            .await
            .unwrap()
            .len(),
        5
    );
}

pub async fn reverse_mappings_keep_the_latest_sender_until_they_expire<B: Backend>(backend: &B) {
    let (spool, _) = backend.open().await;
    let m = |email: &str, expires| crate::ReverseMapping {
        domain: "sms.example.com".into(),
        sms_addr: "4445551234".into(),
        shortcode: "12345".into(),
        email_addr: email.into(),
        expires,
    };
    spool
        .save_mapping(m("first@example.org", 10_000))
        .await
        .unwrap();
    spool
        .save_mapping(m("second@example.org", 20_000))
        .await
        .unwrap();
    let found = spool
        .lookup_mapping("sms.example.com", "4445551234", "12345", 5_000)
        .await
        .unwrap();
    assert_eq!(
        found.as_deref(),
        Some("second@example.org"),
        "only the latest sender"
    );
    assert_eq!(
        spool
            .lookup_mapping("sms.example.com", "4445551234", "99999", 5_000)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        spool
            .lookup_mapping("sms.example.com", "4445551234", "12345", 20_000)
            .await
            .unwrap(),
        None,
        "expired"
    );
    drop(spool);
    let (spool, _) = backend.open().await;
    assert!(
        spool
            .lookup_mapping("sms.example.com", "4445551234", "12345", 5_000)
            .await
            .unwrap()
            .is_some(),
        "durable"
    );
}

pub async fn message_ids_are_never_reused<B: Backend>(backend: &B) {
    let (spool, _) = backend.open().await;
    let first = spool
        .enqueue(message(&[("a@one.example", "one.example")], 1))
        .await
        .unwrap();
    let lease = flat(
        spool
            .lease_due(&dest("one.example"), t(10), 10)
            .await
            .unwrap(),
    );
    spool
        .record(vec![(
            lease[0].reference(),
            Outcome::Delivered {
                response: "250".into(),
            },
        )])
        .await
        .unwrap();
    // The newest message left the spool; the next one must still get a new id.
    let second = spool
        .enqueue(message(&[("b@one.example", "one.example")], 2))
        .await
        .unwrap();
    assert!(second.0 > first.0, "{first} then {second}");
}

/// The SMSC's acceptance of segment 1 of message 7 for `recipient`, under key `d:1234`.
pub fn submission(recipient: &str) -> crate::Submission {
    crate::Submission {
        key: "d:1234".into(),
        smsc_id: "4d2".into(),
        message: "7".into(),
        domain: "sms.example.com".into(),
        recipient: recipient.into(),
        sender: "alice@example.org".into(),
        segment: 1,
        total: 1,
        submitted_at: crate::now_millis(),
    }
}

pub async fn queue_counts_and_operator_reschedules<B: Backend>(backend: &B) {
    let (spool, _) = backend.open().await;
    spool
        .enqueue(message(&[("a@one.example", "one.example")], 1000))
        .await
        .unwrap();
    spool
        .enqueue(message(&[("b@one.example", "one.example")], 1100))
        .await
        .unwrap();
    let other = spool
        .enqueue(message(&[("c@two.example", "two.example")], 1200))
        .await
        .unwrap();
    let counts = |now| {
        let spool = spool.clone();
        async move {
            spool
                .queue_counts(now)
                .await
                .unwrap()
                .into_iter()
                .map(|c: QueueCounts| (c.destination.domain, c.active, c.delayed, c.oldest))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        counts(t(2000)).await,
        [
            ("one.example".into(), 2, 0, t(1000)),
            ("two.example".into(), 1, 0, t(1200))
        ]
    );
    // One recipient fails temporarily: delayed until 50,000.
    let leased = flat(
        spool
            .lease_due(&dest("one.example"), t(2000), 1)
            .await
            .unwrap(),
    );
    spool
        .record(vec![(
            leased[0].reference(),
            Outcome::Retry {
                due: t(50_000),
                response: "451 busy".into(),
            },
        )])
        .await
        .unwrap();
    assert_eq!(
        counts(t(2000)).await[0],
        ("one.example".into(), 1, 1, t(1000))
    );
    // flush domain: due now again (the domain is matched whatever its case).
    let touched = spool
        .reschedule(Selection::Domain("ONE.example".into()), t(2000))
        .await
        .unwrap();
    assert_eq!(touched, [dest("one.example")]);
    assert_eq!(
        counts(t(2000)).await[0],
        ("one.example".into(), 2, 0, t(1000))
    );
    // A leased recipient is left alone and counts as active.
    let leased = flat(
        spool
            .lease_due(&dest("one.example"), t(2000), 1)
            .await
            .unwrap(),
    );
    assert_eq!(leased.len(), 1);
    spool
        .reschedule(Selection::Domain("one.example".into()), t(90_000))
        .await
        .unwrap();
    assert_eq!(
        counts(t(2000)).await[0],
        ("one.example".into(), 1, 1, t(1000))
    );
    // message retry: only that message's recipients.
    spool
        .reschedule(Selection::Message(other), t(80_000))
        .await
        .unwrap();
    let touched = spool
        .reschedule(Selection::Message(other), t(2000))
        .await
        .unwrap();
    assert_eq!(touched, [dest("two.example")]);
    assert_eq!(
        counts(t(2000)).await[1],
        ("two.example".into(), 1, 0, t(1200))
    );
    assert!(
        spool
            .reschedule(Selection::Message(MessageId(999)), t(2000))
            .await
            .unwrap()
            .is_empty()
    );
    // binding flush: a destination (domain and binding) alone, or a whole binding.
    let touched = spool
        .reschedule(Selection::Destination(dest("TWO.example")), t(2000))
        .await
        .unwrap();
    assert_eq!(touched, [dest("two.example")]);
    let other_binding = crate::Destination {
        domain: "two.example".into(),
        binding: "b1".into(),
    };
    assert!(
        spool
            .reschedule(Selection::Destination(other_binding), t(2000))
            .await
            .unwrap()
            .is_empty(),
        "nothing leaves by binding b1"
    );
    assert!(
        spool
            .reschedule(Selection::Binding("b1".into()), t(2000))
            .await
            .unwrap()
            .is_empty()
    );
    let touched = spool
        .reschedule(Selection::Binding(String::new()), t(2000))
        .await
        .unwrap();
    assert!(touched.contains(&dest("two.example")), "{touched:?}");
    // reroute queue: the queued recipient of one.example moves to three.example, due now; the
    // leased one stays where it is.
    let moved = spool
        .reroute(
            Selection::Domain("one.example".into()),
            dest("three.example"),
            t(2000),
        )
        .await
        .unwrap();
    assert_eq!(moved, [dest("three.example")]);
    let after = counts(t(2000)).await;
    assert!(
        after.contains(&("one.example".into(), 1, 0, t(1000))),
        "{after:?}"
    );
    assert!(
        after.contains(&("three.example".into(), 1, 0, t(1100))),
        "{after:?}"
    );
    let leased = flat(
        spool
            .lease_due(&dest("three.example"), t(2000), 10)
            .await
            .unwrap(),
    );
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].destination, dest("three.example"));
}

fn mo_part(key: &str, seq: u32, total: u32, data: &[u8], at: i64) -> crate::MoPart {
    crate::MoPart {
        key: key.into(),
        seq,
        total,
        data: data.to_vec(),
        data_coding: 8,
        domain: "sms.example".into(),
        binding: String::new(),
        source: "4445551234".into(),
        dest: "12345".into(),
        meta: String::new(),
        received_at: at,
    }
}

/// Concatenated MO parts: stored durably in any order and from any bind, a duplicate is
/// recognised (also after its message was mailed), the last part returns them all in order, a
/// reopen keeps them, and stale ones come back for the incomplete-message policy.
pub async fn mo_parts_are_stored_completed_and_recognised_again<B: Backend>(backend: &B) {
    use crate::MoPartStored;
    let (spool, _) = backend.open().await;
    let stored = |s: MoPartStored| match s {
        MoPartStored::Stored { complete } => {
            complete.map(|c| c.iter().map(|p| p.seq).collect::<Vec<_>>())
        }
        MoPartStored::Duplicate => panic!("not a duplicate"),
    };
    assert_eq!(
        stored(
            spool
                .store_mo_part(mo_part("k1", 3, 3, b"c", 10))
                .await
                .unwrap()
        ),
        None
    );
    assert_eq!(
        stored(
            spool
                .store_mo_part(mo_part("k1", 1, 3, b"a", 11))
                .await
                .unwrap()
        ),
        None
    );
    assert_eq!(
        spool
            .store_mo_part(mo_part("k1", 1, 3, b"a", 12))
            .await
            .unwrap(),
        MoPartStored::Duplicate
    );
    // Another message with the same reference but another key (16-bit reference) is apart.
    assert_eq!(
        stored(
            spool
                .store_mo_part(mo_part("k2", 1, 2, b"x", 13))
                .await
                .unwrap()
        ),
        None
    );
    drop(spool);
    let (spool, _) = backend.open().await;
    let complete = spool
        .store_mo_part(mo_part("k1", 2, 3, b"b", 14))
        .await
        .unwrap();
    let MoPartStored::Stored {
        complete: Some(parts),
    } = complete
    else {
        panic!("{complete:?}")
    };
    let joined: Vec<u8> = parts.iter().flat_map(|p| p.data.clone()).collect();
    assert_eq!(joined, b"abc");
    spool
        .mo_done("k1".into(), vec![1, 2, 3], true)
        .await
        .unwrap();
    assert_eq!(
        spool
            .store_mo_part(mo_part("k1", 2, 3, b"b", 15))
            .await
            .unwrap(),
        MoPartStored::Duplicate,
        "a late duplicate after the message was mailed"
    );
    // k2 is incomplete and older than the cut-off; k1 is done and forgotten.
    let stale = spool.stale_mo_parts(100, 100).await.unwrap();
    assert_eq!(stale.len(), 1);
    assert_eq!(stale[0][0].key, "k2");
    assert_eq!(
        stored(
            spool
                .store_mo_part(mo_part("k1", 1, 3, b"a", 200))
                .await
                .unwrap()
        ),
        None,
        "forgotten: a new message"
    );
}

/// Submissions are found by any of their keys, each recipient of a shared SMSC id keeps its
/// own, and a retry learns which segments were already accepted for its recipient.
pub async fn submissions_are_found_by_key_and_by_message<B: Backend>(backend: &B) {
    let (spool, _) = backend.open().await;
    let mut second = submission("a@sms.example.com");
    second.key = "d:5678".into();
    second.smsc_id = "162e".into();
    second.segment = 2;
    second.total = 2;
    spool
        .record_submissions(vec![
            submission("a@sms.example.com"),
            second,
            submission("b@sms.example.com"),
        ])
        .await
        .unwrap();
    let mut found: Vec<(String, u32)> = spool
        .find_submissions(vec!["d:1234".into(), "d:nothing".into()])
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.recipient, s.segment))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("a@sms.example.com".to_string(), 1),
            ("b@sms.example.com".to_string(), 1)
        ]
    );
    let mut accepted = spool
        .accepted_segments("7".into(), "a@sms.example.com".into())
        .await
        .unwrap();
    accepted.sort();
    assert_eq!(accepted, [(1, "4d2".to_string()), (2, "162e".to_string())]);
    assert!(
        spool
            .accepted_segments("8".into(), "a@sms.example.com".into())
            .await
            .unwrap()
            .is_empty()
    );
}
