//! The PostgreSQL spool: the conformance suite every backend passes, then what is its own —
//! several nodes on one database: leases that never overlap, a dead node's leases taken over
//! after the lease timeout with its late outcomes refused, MO parts and receipts that meet
//! whichever node they arrive on.

use std::time::Duration;

use impulse_spool::conformance::{Backend, dest, flat, message, submission, t};
use impulse_spool::test_postgres::{create_version_1, fresh_database, raw};
use impulse_spool::{
    Lease, MoPart, MoPartStored, MobileStore, Outcome, PgOptions, PgSpool, QueueQueries,
    QueueStore, RecipientState,
};
use tokio::sync::OnceCell;

/// A fresh database per case; `open` reopens it as the same node.
struct Postgres(OnceCell<String>);

impl Postgres {
    fn new() -> Self {
        Postgres(OnceCell::new())
    }
}

fn options(url: &str, node: &str, lease_timeout: Duration) -> PgOptions {
    PgOptions {
        url: url.to_string(),
        node_name: node.to_string(),
        lease_timeout,
        config_hash: String::new(),
    }
}

impl Backend for Postgres {
    type Spool = PgSpool;
    async fn open(&self) -> (PgSpool, u64) {
        let url = self.0.get_or_init(fresh_database).await;
        PgSpool::open(options(url, "conformance", Duration::from_secs(30)))
            .await
            .unwrap()
    }
}

impulse_spool::conformance_tests!(Postgres::new());

async fn node(url: &str, name: &str, lease_timeout: Duration) -> PgSpool {
    PgSpool::open(options(url, name, lease_timeout))
        .await
        .unwrap()
        .0
}

/// Leases one.example's due recipients once `ready` holds and a heartbeat has queued them again
/// (polled every 100 ms, for at most 10 s); empty if that never happens.
async fn lease_when_freed(spool: &PgSpool, ready: impl Fn() -> bool) -> Vec<Lease> {
    for _ in 0..100 {
        if ready() {
            let leased = flat(
                spool
                    .lease_due(&dest("one.example"), t(1_000), 10)
                    .await
                    .unwrap(),
            );
            if !leased.is_empty() {
                return leased;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Vec::new()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_never_lease_the_same_recipient() {
    let url = fresh_database().await;
    let a = node(&url, "a", Duration::from_secs(30)).await;
    let b = node(&url, "b", Duration::from_secs(30)).await;
    for i in 0..400 {
        let spool = if i % 2 == 0 { &a } else { &b };
        spool
            .enqueue(message(&[("x@one.example", "one.example")], i))
            .await
            .unwrap();
    }
    // Both lease at once, in small batches, until nothing is left.
    let take = |s: PgSpool| async move {
        let mut got = Vec::new();
        loop {
            let leased = flat(
                s.lease_due(&dest("one.example"), t(1_000), 7)
                    .await
                    .unwrap(),
            );
            if leased.is_empty() {
                return got;
            }
            got.extend(leased.into_iter().map(|l| l.recipient));
        }
    };
    let (ga, gb) = tokio::join!(tokio::spawn(take(a.clone())), tokio::spawn(take(b.clone())));
    let (ga, gb) = (ga.unwrap(), gb.unwrap());
    assert!(
        !ga.is_empty() && !gb.is_empty(),
        "{} {}",
        ga.len(),
        gb.len()
    );
    let mut all: Vec<_> = ga.iter().chain(gb.iter()).copied().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 400, "every recipient leased exactly once");
    assert_eq!(ga.len() + gb.len(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_nodes_leases_go_to_another_and_its_late_outcomes_are_refused() {
    let url = fresh_database().await;
    // `a` beats every 20 s and is judged by its own 60 s; `b` by 1 s.
    let a = node(&url, "a", Duration::from_secs(60)).await;
    let b = node(&url, "b", Duration::from_secs(1)).await;
    let id = a
        .enqueue(message(&[("x@one.example", "one.example")], 1))
        .await
        .unwrap();
    let leased = flat(
        a.lease_due(&dest("one.example"), t(1_000), 10)
            .await
            .unwrap(),
    );
    assert_eq!(leased.len(), 1);
    assert!(
        flat(
            b.lease_due(&dest("one.example"), t(1_000), 10)
                .await
                .unwrap()
        )
        .is_empty()
    );

    // `a` stalls: its last heartbeat is two minutes old.
    raw(&url)
        .await
        .execute(
            "UPDATE nodes SET heartbeat_at = heartbeat_at - 120000 WHERE name = 'a'",
            &[],
        )
        .await
        .unwrap();
    // `b`'s heartbeat fences `a` and queues its lease again; `b` takes it.
    let taken = lease_when_freed(&b, || true).await;
    assert_eq!(taken.len(), 1, "b took over a's lease");
    assert_eq!(taken[0].recipient, leased[0].recipient);

    // `a` wakes up and reports a failure: refused, the recipient stays b's.
    a.record(vec![(
        leased[0].reference(),
        Outcome::Failed {
            response: "late".into(),
        },
    )])
    .await
    .unwrap();
    let rows = b.inspect(id).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, RecipientState::Leased);
    // `b`'s outcome counts.
    b.record(vec![(
        taken[0].reference(),
        Outcome::Delivered {
            response: "250".into(),
        },
    )])
    .await
    .unwrap();
    assert!(b.inspect(id).await.unwrap().is_empty());
    // The cluster shows `a`'s old epoch fenced.
    let nodes = b.nodes().await.unwrap();
    assert!(
        nodes
            .iter()
            .any(|n| n.name == "a" && n.fenced && n.epoch == a.epoch()),
        "{nodes:?}"
    );
}

fn part(key: &str, seq: u32, total: u32, text: &str, binding: &str) -> MoPart {
    MoPart {
        key: key.into(),
        seq,
        total,
        data: text.as_bytes().to_vec(),
        data_coding: 0,
        domain: "sms.example".into(),
        binding: binding.into(),
        source: "4445551234".into(),
        dest: "1234".into(),
        meta: String::new(),
        received_at: t(1_000),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn parts_and_receipts_meet_whichever_node_they_arrive_on() {
    let url = fresh_database().await;
    let a = node(&url, "a", Duration::from_secs(30)).await;
    let b = node(&url, "b", Duration::from_secs(30)).await;
    // Part 1 arrives on a's bind, part 2 on b's: b sees the message complete.
    let first = a
        .store_mo_part(part("k", 1, 2, "Hello ", "a"))
        .await
        .unwrap();
    assert_eq!(first, MoPartStored::Stored { complete: None });
    let second = b
        .store_mo_part(part("k", 2, 2, "world", "b"))
        .await
        .unwrap();
    let MoPartStored::Stored {
        complete: Some(parts),
    } = second
    else {
        panic!("{second:?}")
    };
    assert_eq!(parts.iter().map(|p| p.seq).collect::<Vec<_>>(), [1, 2]);
    // The SMSC resends part 1 to a: a duplicate, whichever node has it.
    assert_eq!(
        a.store_mo_part(part("k", 1, 2, "Hello ", "a"))
            .await
            .unwrap(),
        MoPartStored::Duplicate
    );

    // a submitted; the receipt arrives on b.
    a.record_submissions(vec![submission("4445551234@sms.example.com")])
        .await
        .unwrap();
    let found = b.find_submissions(vec!["d:1234".into()]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].recipient, "4445551234@sms.example.com");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outcome_for_a_lease_from_before_the_fence_does_not_touch_the_lease_after_it() {
    let url = fresh_database().await;
    let a = node(&url, "a", Duration::from_secs(3)).await;
    let _b = node(&url, "b", Duration::from_secs(3)).await;
    let id = a
        .enqueue(message(&[("x@one.example", "one.example")], 1))
        .await
        .unwrap();
    let old = flat(
        a.lease_due(&dest("one.example"), t(1_000), 10)
            .await
            .unwrap(),
    );
    let first_epoch = a.epoch();
    // The cluster declares a dead (as b's heartbeat does when a's is late): b's next beat
    // queues its lease again, and a learns it at its own next beat and registers again.
    raw(&url)
        .await
        .execute("UPDATE nodes SET fenced = true WHERE name = 'a'", &[])
        .await
        .unwrap();
    let again = lease_when_freed(&a, || a.epoch() != first_epoch).await;
    assert_eq!(
        again.len(),
        1,
        "a leased the recipient again under its new epoch"
    );
    assert_ne!(again[0].fence, old[0].fence);
    // The new lease says that an attempt may have been under way: accepted segments are
    // consulted before anything is submitted again.
    assert!(!old[0].leased_before && again[0].leased_before);
    // The attempt of the old lease ends: refused, the new lease is untouched.
    a.record(vec![(
        old[0].reference(),
        Outcome::Retry {
            due: t(99_000),
            response: "451 old".into(),
        },
    )])
    .await
    .unwrap();
    let rows = a.inspect(id).await.unwrap();
    assert_eq!(rows[0].state, RecipientState::Leased, "{rows:?}");
    a.record(vec![(
        again[0].reference(),
        Outcome::Delivered {
            response: "250".into(),
        },
    )])
    .await
    .unwrap();
    assert!(a.inspect(id).await.unwrap().is_empty());
}

/// Many writes at once are merged into a few statements per group; none of them falls back to
/// running one by one (which would hide a broken merged path behind correct answers).
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writes_commit_merged() {
    let url = fresh_database().await;
    let spool = node(&url, "a", Duration::from_secs(30)).await;
    let mut tasks = Vec::new();
    for w in 0..20 {
        let s = spool.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                let at = w * 1000 + i;
                s.enqueue(message(&[("x@one.example", "one.example")], at))
                    .await
                    .unwrap();
                s.record_submissions(vec![submission(&format!("{at}@sms.example.com"))])
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let leased = flat(
        spool
            .lease_due(&dest("one.example"), i64::MAX, 1000)
            .await
            .unwrap(),
    );
    assert_eq!(leased.len(), 400);
    let outcomes = leased
        .iter()
        .map(|l| {
            let done = Outcome::Delivered {
                response: "250".into(),
            };
            (l.reference(), done)
        })
        .collect::<Vec<_>>();
    let mut records = Vec::new();
    for chunk in outcomes.chunks(10) {
        records.push(spool.record(chunk.to_vec()));
    }
    for r in records {
        r.await.unwrap();
    }
    assert!(spool.list(None, 10, 0).await.unwrap().is_empty());
    assert_eq!(PgSpool::groups_run_one_by_one(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_1_database_is_migrated_with_its_queue() {
    let url = fresh_database().await;
    create_version_1(&url).await;
    // A message version 1 queued.
    raw(&url)
        .await
        .execute(
            "WITH m AS (INSERT INTO messages (received_at, sender, peer, protocol, body) \
                 VALUES ($1, 'alice@example.org', '127.0.0.1', 'esmtp', 'Subject: hi\r\n\r\nhi\r\n') \
                 RETURNING id) \
             INSERT INTO recipients (message_id, address, domain, binding, state, due) \
             SELECT id, 'x@one.example', 'one.example', '', 0, $1 FROM m",
            &[&t(1)],
        )
        .await
        .unwrap();
    // A node of version 1 still beats: the migration waits for it to stop.
    let old = raw(&url).await;
    old.execute(
        "INSERT INTO nodes (name, started_at, heartbeat_at, lease_timeout) \
         VALUES ('old', 0, (extract(epoch from clock_timestamp()) * 1000)::bigint, 30000)",
        &[],
    )
    .await
    .unwrap();
    let refused = PgSpool::open(options(&url, "a", Duration::from_secs(30)))
        .await
        .err()
        .expect("a migration while a version 1 node runs");
    assert!(refused.to_string().contains("stop every node"), "{refused}");
    old.execute("UPDATE nodes SET heartbeat_at = 0 WHERE name = 'old'", &[])
        .await
        .unwrap();
    let a = node(&url, "a", Duration::from_secs(30)).await;
    let version: i64 = raw(&url)
        .await
        .query_one("SELECT max(version) FROM impulse_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, 2);
    let due: Vec<_> = a
        .destinations()
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.destination, d.next_due))
        .collect();
    assert_eq!(due, [(dest("one.example"), t(1))]);
    let leased = flat(a.lease_due(&dest("one.example"), t(1), 10).await.unwrap());
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].address, "x@one.example");
    // A second node finds it migrated and opens as well.
    node(&url, "b", Duration::from_secs(30)).await;
}
