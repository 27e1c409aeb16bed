//! The SQLite spool through its public interface: what is enqueued survives a reopen, leases
//! come back after a crash, outcomes remove or reschedule exactly the recipients they name, and
//! an unreadable record is reported instead of stopping anything.

use impulse_spool::{
    Destination, Lease, Leased, MessageId, NewMessage, NewRecipient, Outcome, QueueCounts,
    RecipientState, Selection, Spool, SpoolError, SqliteSpool,
};

fn flat(l: Leased) -> Vec<Lease> {
    l.messages.into_iter().flat_map(|m| m.leases).collect()
}

fn dest(d: &str) -> Destination {
    Destination {
        domain: d.into(),
        binding: String::new(),
    }
}

fn message(to: &[(&str, &str)], at: i64) -> NewMessage {
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
        received_at: at,
    }
}

#[tokio::test]
async fn enqueue_lease_and_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, resumed) = SqliteSpool::open(dir.path()).unwrap();
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
        .map(|d| (d.destination.domain, d.queued))
        .collect();
    dests.sort();
    assert_eq!(
        dests,
        [
            ("one.example".to_string(), 2),
            ("two.example".to_string(), 1)
        ]
    );

    // Not yet due before the reception time; due after it.
    let early = spool
        .lease_due(&dest("one.example"), 999, 10)
        .await
        .unwrap();
    assert_eq!((early.recipients(), early.next_due), (0, Some(1000)));
    let leased = spool
        .lease_due(&dest("one.example"), 1000, 10)
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
            .lease_due(&dest("one.example"), 5000, 10)
            .await
            .unwrap()
            .recipients(),
        0
    );

    spool
        .record(vec![
            (
                leases[0].recipient,
                Outcome::Delivered {
                    response: "250 ok".into(),
                },
            ),
            (
                leases[1].recipient,
                Outcome::Retry {
                    due: 7000,
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
        (RecipientState::Queued, 7000, 1)
    );
    assert_eq!(retried.last_response.as_deref(), Some("451 later"));
    assert_eq!(
        spool.next_due(&dest("one.example")).await.unwrap(),
        Some(7000)
    );

    // When the last recipient leaves, the message leaves with it.
    let rest: Vec<_> = left
        .iter()
        .map(|r| {
            (
                r.recipient,
                Outcome::Failed {
                    response: "550 no".into(),
                },
            )
        })
        .collect();
    spool.record(rest).await.unwrap();
    assert!(spool.inspect(id).await.unwrap().is_empty());
    assert!(matches!(
        spool.load(id).await,
        Err(SpoolError::Unreadable(..))
    ));
}

#[tokio::test]
async fn leased_work_resumes_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let id: MessageId;
    {
        let (spool, _) = SqliteSpool::open(dir.path()).unwrap();
        id = spool
            .enqueue(message(&[("a@one.example", "one.example")], 1))
            .await
            .unwrap();
        assert_eq!(
            spool
                .lease_due(&dest("one.example"), 10, 10)
                .await
                .unwrap()
                .recipients(),
            1
        );
        // Dropped without recording an outcome, as a killed process would.
    }
    let (spool, resumed) = SqliteSpool::open(dir.path()).unwrap();
    assert_eq!(resumed, 1);
    let again = flat(spool.lease_due(&dest("one.example"), 10, 10).await.unwrap());
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message, id);
}

#[tokio::test]
async fn many_concurrent_enqueues_commit_in_groups() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = SqliteSpool::open(dir.path()).unwrap();
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

#[tokio::test]
async fn unreadable_record_is_reported_and_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = SqliteSpool::open(dir.path()).unwrap();
    let bad = spool
        .enqueue(message(&[("a@one.example", "one.example")], 1))
        .await
        .unwrap();
    let good = spool
        .enqueue(message(&[("b@one.example", "one.example")], 2))
        .await
        .unwrap();
    // Damage one record behind the spool's back: its sender is no longer text.
    let raw = rusqlite::Connection::open(dir.path().join("spool.db")).unwrap();
    raw.execute(
        "UPDATE messages SET sender = x'fffe' WHERE id = ?1",
        [bad.0],
    )
    .unwrap();
    drop(raw);

    let err = spool.load(bad).await.unwrap_err();
    assert!(
        matches!(err, SpoolError::Unreadable(id, _) if id == bad),
        "{err}"
    );
    assert!(spool.load(good).await.is_ok());
    let leased = spool.lease_due(&dest("one.example"), 10, 10).await.unwrap();
    let bad_entry = leased
        .messages
        .iter()
        .find(|m| m.leases[0].message == bad)
        .unwrap();
    assert!(matches!(bad_entry.message, Err(SpoolError::Unreadable(id, _)) if id == bad));
    assert!(
        leased
            .messages
            .iter()
            .any(|m| m.leases[0].message == good && m.message.is_ok())
    );
    let bad_lease = &bad_entry.leases[0];
    spool
        .record(vec![(
            bad_lease.recipient,
            Outcome::Quarantined {
                reason: err.to_string(),
            },
        )])
        .await
        .unwrap();
    let info = spool.inspect(bad).await.unwrap();
    assert_eq!(info[0].state, RecipientState::Quarantined);
    assert_eq!(
        spool
            .lease_due(&dest("one.example"), 10_000, 10)
            .await
            .unwrap()
            .recipients(),
        0,
        "quarantined is never leased"
    );
}

#[tokio::test]
async fn reverse_mappings_keep_the_latest_sender_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = SqliteSpool::open(dir.path()).unwrap();
    let m = |email: &str, expires| impulse_spool::ReverseMapping {
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
    let (spool, _) = SqliteSpool::open(dir.path()).unwrap();
    assert!(
        spool
            .lookup_mapping("sms.example.com", "4445551234", "12345", 5_000)
            .await
            .unwrap()
            .is_some(),
        "durable"
    );
}

#[tokio::test]
async fn message_ids_are_never_reused() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = SqliteSpool::open(dir.path()).unwrap();
    let first = spool
        .enqueue(message(&[("a@one.example", "one.example")], 1))
        .await
        .unwrap();
    let lease = flat(spool.lease_due(&dest("one.example"), 10, 10).await.unwrap());
    spool
        .record(vec![(
            lease[0].recipient,
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

/// A request that fails inside a commit group is refused alone: the messages committed with it
/// are stored and acknowledged, and nothing of the failed request is left behind.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_request_spoils_nothing_else_in_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = SqliteSpool::open(dir.path()).unwrap();
    // Make one kind of write fail, as a full disk or a corrupt index would.
    let db = rusqlite::Connection::open(dir.path().join("spool.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON reverse_mappings WHEN NEW.domain = 'bad' \
         BEGIN SELECT RAISE(ABORT, 'refused'); END;",
    )
    .unwrap();
    let mapping = |domain: &str| impulse_spool::ReverseMapping {
        domain: domain.into(),
        sms_addr: "4445551234".into(),
        shortcode: "12345".into(),
        email_addr: "alice@example.org".into(),
        expires: i64::MAX,
    };
    for round in 0..50 {
        // Queued back to back so that they usually share a group.
        let bad = spool.save_mapping(mapping("bad"));
        let good = spool.save_mapping(mapping("good"));
        let (a, b, bad, good) = tokio::join!(
            spool.enqueue(message(&[("a@one.example", "one.example")], round)),
            spool.enqueue(message(&[("b@one.example", "one.example")], round)),
            bad,
            good,
        );
        assert!(
            bad.is_err(),
            "round {round}: the refused write reports its error"
        );
        good.unwrap();
        for id in [a.unwrap(), b.unwrap()] {
            assert_eq!(spool.inspect(id).await.unwrap().len(), 1);
        }
    }
    assert_eq!(
        spool
            .lookup_mapping("good", "4445551234", "12345", 0)
            .await
            .unwrap()
            .as_deref(),
        Some("alice@example.org")
    );
    assert_eq!(
        spool
            .lookup_mapping("bad", "4445551234", "12345", 0)
            .await
            .unwrap(),
        None
    );
    let leased = flat(
        spool
            .lease_due(&dest("one.example"), i64::MAX, 1000)
            .await
            .unwrap(),
    );
    assert_eq!(leased.len(), 100);
}

fn submission(recipient: &str) -> impulse_spool::Submission {
    impulse_spool::Submission {
        key: "d:1234".into(),
        smsc_id: "4d2".into(),
        message: "7".into(),
        domain: "sms.example.com".into(),
        recipient: recipient.into(),
        sender: "alice@example.org".into(),
        segment: 1,
        total: 1,
        submitted_at: impulse_spool::now_millis(),
    }
}

/// One submit_multi gives several recipients the same SMSC id: each keeps its submission. A
/// spool written before that (submissions keyed without the recipient) is migrated on open.
#[tokio::test(flavor = "multi_thread")]
async fn recipients_sharing_an_smsc_id_keep_their_submissions_after_migration() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = rusqlite::Connection::open(dir.path().join("spool.db")).unwrap();
        db.execute_batch(
            "CREATE TABLE submissions (key TEXT NOT NULL, smsc_id TEXT NOT NULL, message TEXT NOT NULL, \
             domain TEXT NOT NULL, recipient TEXT NOT NULL, sender TEXT NOT NULL, segment INTEGER NOT NULL, \
             total INTEGER NOT NULL, submitted_at INTEGER NOT NULL, PRIMARY KEY (key, message, segment));
             CREATE INDEX submissions_message ON submissions (message, recipient);",
        )
        .unwrap();
        let s = submission("old@sms.example.com");
        db.execute(
            "INSERT INTO submissions VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![
                s.key,
                s.smsc_id,
                s.message,
                s.domain,
                s.recipient,
                s.sender,
                s.segment,
                s.total,
                s.submitted_at
            ],
        )
        .unwrap();
    }
    let (spool, _) = SqliteSpool::open(dir.path()).unwrap();
    spool
        .record_submissions(vec![
            submission("a@sms.example.com"),
            submission("b@sms.example.com"),
        ])
        .await
        .unwrap();
    let mut found: Vec<String> = spool
        .find_submissions(vec!["d:1234".into()])
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.recipient)
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "a@sms.example.com",
            "b@sms.example.com",
            "old@sms.example.com"
        ]
    );
}

#[tokio::test]
async fn queue_counts_and_operator_reschedules() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = SqliteSpool::open(dir.path()).unwrap();
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
        counts(2000).await,
        [
            ("one.example".into(), 2, 0, 1000),
            ("two.example".into(), 1, 0, 1200)
        ]
    );
    // One recipient fails temporarily: delayed until 50,000.
    let leased = flat(
        spool
            .lease_due(&dest("one.example"), 2000, 1)
            .await
            .unwrap(),
    );
    spool
        .record(vec![(
            leased[0].recipient,
            Outcome::Retry {
                due: 50_000,
                response: "451 busy".into(),
            },
        )])
        .await
        .unwrap();
    assert_eq!(counts(2000).await[0], ("one.example".into(), 1, 1, 1000));
    // flush domain: due now again (the domain is matched whatever its case).
    let touched = spool
        .reschedule(Selection::Domain("ONE.example".into()), 2000)
        .await
        .unwrap();
    assert_eq!(touched, [dest("one.example")]);
    assert_eq!(counts(2000).await[0], ("one.example".into(), 2, 0, 1000));
    // A leased recipient is left alone and counts as active.
    let leased = flat(
        spool
            .lease_due(&dest("one.example"), 2000, 1)
            .await
            .unwrap(),
    );
    assert_eq!(leased.len(), 1);
    spool
        .reschedule(Selection::Domain("one.example".into()), 90_000)
        .await
        .unwrap();
    assert_eq!(counts(2000).await[0], ("one.example".into(), 1, 1, 1000));
    // message retry: only that message's recipients.
    spool
        .reschedule(Selection::Message(other), 80_000)
        .await
        .unwrap();
    let touched = spool
        .reschedule(Selection::Message(other), 2000)
        .await
        .unwrap();
    assert_eq!(touched, [dest("two.example")]);
    assert_eq!(counts(2000).await[1], ("two.example".into(), 1, 0, 1200));
    assert!(
        spool
            .reschedule(Selection::Message(MessageId(999)), 2000)
            .await
            .unwrap()
            .is_empty()
    );
    // binding flush: a destination (domain and binding) alone, or a whole binding.
    let touched = spool
        .reschedule(Selection::Destination(dest("TWO.example")), 2000)
        .await
        .unwrap();
    assert_eq!(touched, [dest("two.example")]);
    let other_binding = impulse_spool::Destination {
        domain: "two.example".into(),
        binding: "b1".into(),
    };
    assert!(
        spool
            .reschedule(Selection::Destination(other_binding), 2000)
            .await
            .unwrap()
            .is_empty(),
        "nothing leaves by binding b1"
    );
    assert!(
        spool
            .reschedule(Selection::Binding("b1".into()), 2000)
            .await
            .unwrap()
            .is_empty()
    );
    let touched = spool
        .reschedule(Selection::Binding(String::new()), 2000)
        .await
        .unwrap();
    assert!(touched.contains(&dest("two.example")), "{touched:?}");
    // reroute queue: the queued recipient of one.example moves to three.example, due now; the
    // leased one stays where it is.
    let moved = spool
        .reroute(
            Selection::Domain("one.example".into()),
            dest("three.example"),
            2000,
        )
        .await
        .unwrap();
    assert_eq!(moved, [dest("three.example")]);
    let after = counts(2000).await;
    assert!(
        after.contains(&("one.example".into(), 1, 0, 1000)),
        "{after:?}"
    );
    assert!(
        after.contains(&("three.example".into(), 1, 0, 1100)),
        "{after:?}"
    );
    let leased = flat(
        spool
            .lease_due(&dest("three.example"), 2000, 10)
            .await
            .unwrap(),
    );
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].destination, dest("three.example"));
}

fn mo_part(key: &str, seq: u32, total: u32, data: &[u8], at: i64) -> impulse_spool::MoPart {
    impulse_spool::MoPart {
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
#[tokio::test]
async fn mo_parts_are_stored_completed_and_recognised_again() {
    use impulse_spool::MoPartStored;
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = SqliteSpool::open(dir.path()).unwrap();
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
    let (spool, _) = SqliteSpool::open(dir.path()).unwrap();
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
