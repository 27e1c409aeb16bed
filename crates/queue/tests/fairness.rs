//! The scheduler against a scripted connector and the real SQLite spool: a slow destination
//! only ties up its own connections, the connection budget is respected, and temporary
//! failures come back on schedule.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use impulse_queue::{
    Attempt, Connector, DestinationPolicy, Observer, Policy, Report, Scheduler, Verdict,
};
use impulse_spool::{
    Destination, Lease, NewMessage, NewRecipient, Outcome, QueueQueries, QueueStore, SqliteSpool,
    StoredMessage, now_millis,
};

fn dest(d: &str) -> Destination {
    Destination {
        domain: d.into(),
        binding: String::new(),
    }
}

/// "slow.example" takes 300 ms per message; "flaky.example" defers the first attempt; the rest
/// are instant. Counts connections open at once per domain.
#[derive(Default)]
struct Scripted {
    open: Mutex<HashMap<String, usize>>,
    max_open: Mutex<HashMap<String, usize>>,
    flaky_tries: AtomicUsize,
}

struct Session {
    domain: String,
}

/// The connector handed to the scheduler; the test keeps another handle to read the counts.
struct Conn(Arc<Scripted>);

impl Connector for Conn {
    type Session = Session;
    async fn open(&self, d: &Destination) -> Result<Session, Attempt> {
        let mut open = self.0.open.lock().unwrap();
        let n = open.entry(d.domain.clone()).or_default();
        *n += 1;
        let mut max = self.0.max_open.lock().unwrap();
        let m = max.entry(d.domain.clone()).or_default();
        *m = (*m).max(*n);
        Ok(Session {
            domain: d.domain.clone(),
        })
    }
    async fn deliver(
        &self,
        s: &mut Session,
        _m: &StoredMessage,
        rcpts: &[Lease],
    ) -> Result<Vec<Attempt>, Attempt> {
        let verdict = match s.domain.as_str() {
            "slow.example" => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Verdict::Delivered
            }
            "flaky.example" if self.0.flaky_tries.fetch_add(1, Ordering::SeqCst) == 0 => {
                Verdict::Temporary
            }
            _ => Verdict::Delivered,
        };
        Ok(rcpts
            .iter()
            .map(|_| Attempt {
                verdict,
                response: format!("{verdict:?}"),
                remote: None,
                stage: 9,
            })
            .collect())
    }
    async fn close(&self, s: Session) {
        *self.0.open.lock().unwrap().get_mut(&s.domain).unwrap() -= 1;
    }
}

struct Fixed;
impl Policy for Fixed {
    fn policy(&self, d: &Destination) -> DestinationPolicy {
        DestinationPolicy {
            max_connections: if d.domain == "slow.example" { 2 } else { 4 },
            retry_interval: Duration::from_millis(500),
            idle_timeout: Duration::from_millis(200),
            ..Default::default()
        }
    }
}

/// Records when each recipient was delivered.
#[derive(Default, Clone)]
struct Seen(Arc<Mutex<Vec<(String, Instant, bool)>>>);
impl Observer for Seen {
    async fn outcomes(&self, _m: Option<&StoredMessage>, reports: &[Report<'_>]) {
        let mut seen = self.0.lock().unwrap();
        for r in reports {
            seen.push((
                r.lease.address.clone(),
                Instant::now(),
                matches!(r.outcome, Outcome::Delivered { .. }),
            ));
        }
    }
}

async fn enqueue(spool: &SqliteSpool, domain: &str, n: usize) {
    for i in 0..n {
        let address = format!("u{i}@{domain}");
        spool
            .enqueue(NewMessage {
                sender: "s@example.org".into(),
                recipients: vec![NewRecipient {
                    address,
                    destination: dest(domain),
                }],
                body: b"x".to_vec(),
                peer: "test".into(),
                protocol: "test".into(),
                received_at: now_millis(),
            })
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_destination_does_not_starve_others_and_budgets_hold() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = SqliteSpool::open(dir.path()).unwrap();
    enqueue(&spool, "slow.example", 20).await;
    enqueue(&spool, "fast.example", 50).await;
    enqueue(&spool, "flaky.example", 1).await;
    let connector = Arc::new(Scripted::default());
    let seen = Seen::default();
    let (scheduler, _handle) =
        Scheduler::new(spool.clone(), Conn(connector.clone()), Fixed, seen.clone());
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let start = Instant::now();
    let task = tokio::spawn(scheduler.run(stop_rx));

    let delivered = |domain: &str| {
        seen.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(a, _, ok)| *ok && a.ends_with(domain))
            .count()
    };
    while delivered("fast.example") < 50 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "fast destination starved"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fast_done = start.elapsed();
    // 20 slow messages at 300 ms over 2 connections need about 3 s; the fast ones finished long before.
    assert!(
        fast_done < Duration::from_millis(1500),
        "fast destination took {fast_done:?}"
    );
    assert!(
        delivered("slow.example") < 20,
        "slow destination should still be busy"
    );

    while delivered("slow.example") < 20 || delivered("flaky.example") < 1 {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "deliveries did not finish"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let max = connector.max_open.lock().unwrap().clone();
    assert_eq!(
        max["slow.example"], 2,
        "Max_Outbound_Connections reached but not exceeded"
    );
    assert!(max["fast.example"] <= 4);

    // The flaky recipient: deferred once, then delivered one retry interval later.
    let flaky: Vec<(Instant, bool)> = seen
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(a, _, _)| a.ends_with("flaky.example"))
        .map(|(_, t, ok)| (*t, *ok))
        .collect();
    assert_eq!(flaky.iter().map(|f| f.1).collect::<Vec<_>>(), [false, true]);
    let gap = flaky[1].0 - flaky[0].0;
    assert!(
        gap >= Duration::from_millis(450) && gap < Duration::from_secs(3),
        "retry after {gap:?}"
    );

    assert_eq!(
        spool.list(None, 100, 0).await.unwrap().len(),
        0,
        "spool empty once all is delivered"
    );
    stop.send(true).unwrap();
    task.await.unwrap();
}
