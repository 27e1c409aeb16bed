//! Hours of retries on tokio's paused time: the scheduler reads due times from an injected clock
//! that follows the runtime's timers, so the Momentum retry schedule (Retry_Interval doubling
//! up to Max_Retry_Interval, then Message_Expiration) is checked to the second without waiting
//! for it. The store is a small in-memory `QueueStore`: the scheduler needs nothing else of a
//! spool, and a store with no thread of its own keeps the runtime's clock exact.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use impulse_queue::{
    Attempt, Clock, Connector, DestinationPolicy, Observer, Policy, Report, Scheduler, TokioClock,
    Verdict,
};
use impulse_spool::{
    Destination, DestinationDue, Lease, LeaseRef, Leased, LeasedMessage, MessageId, Millis,
    NewMessage, NewRecipient, Outcome, QueueStore, RecipientId, SpoolError, StoredMessage,
};
use tokio::sync::mpsc;

/// One queued recipient: its lease, whether it is leased, and when it is due.
struct Row {
    lease: Lease,
    leased: bool,
    due: Millis,
}

#[derive(Clone, Default)]
struct MemStore {
    rows: Arc<Mutex<BTreeMap<i64, Row>>>,
    messages: Arc<Mutex<BTreeMap<i64, Arc<StoredMessage>>>>,
}

impl QueueStore for MemStore {
    async fn enqueue(&self, msg: NewMessage) -> Result<MessageId, SpoolError> {
        let mut messages = self.messages.lock().unwrap();
        let id = MessageId(messages.len() as i64 + 1);
        messages.insert(
            id.0,
            Arc::new(StoredMessage {
                id,
                sender: msg.sender,
                body: msg.body.into(),
                peer: msg.peer,
                protocol: msg.protocol,
                received_at: msg.received_at,
            }),
        );
        let mut rows = self.rows.lock().unwrap();
        for r in msg.recipients {
            let rid = rows.len() as i64 + 1;
            rows.insert(
                rid,
                Row {
                    lease: Lease {
                        recipient: RecipientId(rid),
                        message: id,
                        address: r.address,
                        destination: r.destination,
                        attempts: 0,
                        received_at: msg.received_at,
                        due: msg.received_at,
                        fence: 0,
                        leased_before: false,
                    },
                    leased: false,
                    due: msg.received_at,
                },
            );
        }
        Ok(id)
    }

    async fn lease_due(
        &self,
        dest: &Destination,
        now: Millis,
        limit: usize,
    ) -> Result<Leased, SpoolError> {
        let mut rows = self.rows.lock().unwrap();
        let messages = self.messages.lock().unwrap();
        let mut out = Leased::default();
        for row in rows.values_mut() {
            if row.lease.destination != *dest || row.leased {
                continue;
            }
            if row.due <= now && out.recipients() < limit {
                row.leased = true;
                out.messages.push(LeasedMessage {
                    message: Ok(messages[&row.lease.message.0].clone()),
                    leases: vec![row.lease.clone()],
                });
            } else {
                out.next_due = Some(out.next_due.map_or(row.due, |d: Millis| d.min(row.due)));
            }
        }
        Ok(out)
    }

    async fn record(&self, outcomes: Vec<(LeaseRef, Outcome)>) -> Result<(), SpoolError> {
        let mut rows = self.rows.lock().unwrap();
        for (lease, outcome) in outcomes {
            let id = lease.recipient;
            match outcome {
                Outcome::Retry { due, .. } => {
                    let row = rows.get_mut(&id.0).unwrap();
                    row.leased = false;
                    row.due = due;
                    row.lease.due = due;
                    row.lease.attempts += 1;
                }
                Outcome::Released { due } => {
                    let row = rows.get_mut(&id.0).unwrap();
                    row.leased = false;
                    row.due = due;
                    row.lease.due = due;
                }
                _ => {
                    rows.remove(&id.0);
                }
            }
        }
        Ok(())
    }

    async fn load(&self, id: MessageId) -> Result<StoredMessage, SpoolError> {
        Ok((*self.messages.lock().unwrap()[&id.0]).clone())
    }

    async fn destinations(&self) -> Result<Vec<DestinationDue>, SpoolError> {
        let rows = self.rows.lock().unwrap();
        let mut out: Vec<DestinationDue> = Vec::new();
        for row in rows.values().filter(|r| !r.leased) {
            match out
                .iter_mut()
                .find(|d| d.destination == row.lease.destination)
            {
                Some(d) => d.next_due = d.next_due.min(row.due),
                None => out.push(DestinationDue {
                    destination: row.lease.destination.clone(),
                    next_due: row.due,
                }),
            }
        }
        Ok(out)
    }

    async fn next_due(&self, dest: &Destination) -> Result<Option<Millis>, SpoolError> {
        let rows = self.rows.lock().unwrap();
        Ok(rows
            .values()
            .filter(|r| !r.leased && r.lease.destination == *dest)
            .map(|r| r.due)
            .min())
    }

    fn opened_at(&self) -> Millis {
        0
    }
}

/// Defers every attempt before the `deliver_on`-th (never delivers when 0), and notes the
/// clock's time of each attempt.
struct Flaky {
    clock: TokioClock,
    deliver_on: usize,
    tries: Mutex<Vec<Millis>>,
}

/// The connector handed to the scheduler; the test keeps another handle to read the tries.
struct FlakyConn(Arc<Flaky>);

impl Connector for FlakyConn {
    type Session = ();
    async fn open(&self, _dest: &Destination) -> Result<(), Attempt> {
        Ok(())
    }
    async fn deliver(
        &self,
        _session: &mut (),
        _message: &StoredMessage,
        recipients: &[Lease],
    ) -> Result<Vec<Attempt>, Attempt> {
        let mut tries = self.0.tries.lock().unwrap();
        tries.push(self.0.clock.now());
        let verdict = if tries.len() == self.0.deliver_on {
            Verdict::Delivered
        } else {
            Verdict::Temporary
        };
        Ok(recipients
            .iter()
            .map(|_| Attempt {
                verdict,
                response: format!("{verdict:?}"),
                remote: None,
                stage: 9,
            })
            .collect())
    }
    async fn close(&self, _session: ()) {}
}

struct Momentum(DestinationPolicy);
impl Policy for Momentum {
    fn policy(&self, _dest: &Destination) -> DestinationPolicy {
        self.0.clone()
    }
}

/// Sends each final outcome (delivered or failed) with the time it was decided.
struct Finals(mpsc::UnboundedSender<(Outcome, Millis)>, TokioClock);
impl Observer for Finals {
    async fn outcomes(&self, _message: Option<&StoredMessage>, reports: &[Report<'_>]) {
        for r in reports {
            if matches!(
                r.outcome,
                Outcome::Delivered { .. } | Outcome::Failed { .. }
            ) {
                let _ = self.0.send((r.outcome.clone(), self.1.now()));
            }
        }
    }
}

const T0: Millis = 1_800_000_000_000;
const MINUTE: Millis = 60_000;

/// Runs one message for `sms.example` through a scheduler on paused time; returns the times of
/// its tries (minutes after it was queued) and its final outcome with its time.
async fn run(policy: DestinationPolicy, deliver_on: usize) -> (Vec<Millis>, Outcome, Millis) {
    let clock = TokioClock::starting_at(T0);
    let store = MemStore::default();
    let dest = Destination {
        domain: "sms.example".into(),
        binding: String::new(),
    };
    store
        .enqueue(NewMessage {
            sender: "a@example.org".into(),
            recipients: vec![NewRecipient {
                address: "4445551234@sms.example".into(),
                destination: dest.clone(),
            }],
            body: b"Subject: hi\r\n\r\nhello\r\n".to_vec(),
            peer: "test".into(),
            protocol: "esmtp".into(),
            received_at: T0,
        })
        .await
        .unwrap();
    let flaky = Arc::new(Flaky {
        clock,
        deliver_on,
        tries: Mutex::default(),
    });
    let (tx, mut finals) = mpsc::unbounded_channel();
    let (scheduler, handle) = Scheduler::with_clock(
        store.clone(),
        FlakyConn(flaky.clone()),
        Momentum(policy),
        Finals(tx, clock),
        Arc::new(clock),
    );
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(scheduler.run(stop_rx));
    handle.queued(dest, T0);
    let (outcome, at) = finals.recv().await.expect("a final outcome");
    stop.send(true).unwrap();
    task.await.unwrap();
    let tries = flaky
        .tries
        .lock()
        .unwrap()
        .iter()
        .map(|t| (t - T0) / 1000)
        .collect();
    (tries, outcome, (at - T0) / 1000)
}

/// Seconds, as `run` reports times.
fn minutes(m: &[Millis]) -> Vec<Millis> {
    m.iter().map(|m| m * MINUTE / 1000).collect()
}

#[tokio::test(start_paused = true)]
async fn retries_double_from_retry_interval_up_to_the_ceiling() {
    let policy = DestinationPolicy {
        retry_interval: Duration::from_secs(20 * 60),
        max_retry_interval: Duration::from_secs(60 * 60),
        expiration: Duration::from_secs(24 * 3600),
        ..Default::default()
    };
    // Deferred four times, delivered at the fifth try: 20, 40, then 60 (the ceiling) twice.
    let (tries, outcome, at) = run(policy, 5).await;
    assert_eq!(tries, minutes(&[0, 20, 60, 120, 180]));
    assert!(matches!(outcome, Outcome::Delivered { .. }), "{outcome:?}");
    assert_eq!(at, 180 * 60);
}

#[tokio::test(start_paused = true)]
async fn the_last_try_is_at_expiration_and_failing_it_expires_the_message() {
    let policy = DestinationPolicy {
        retry_interval: Duration::from_secs(20 * 60),
        max_retry_interval: Duration::from_secs(12 * 3600),
        expiration: Duration::from_secs(90 * 60),
        ..Default::default()
    };
    let (tries, outcome, at) = run(policy, 0).await;
    // 0, 20, 60, then the next would be at 140: the try is moved to the expiration, 90.
    assert_eq!(tries, minutes(&[0, 20, 60, 90]));
    match outcome {
        Outcome::Failed { response } => assert!(
            response.starts_with(impulse_queue::retry::EXPIRED),
            "{response}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(at, 90 * 60);
}

#[tokio::test(start_paused = true)]
async fn max_retries_fails_the_recipient_after_that_many_tries() {
    let policy = DestinationPolicy {
        retry_interval: Duration::from_secs(60),
        max_retries: Some(3),
        ..Default::default()
    };
    let (tries, outcome, _) = run(policy, 0).await;
    assert_eq!(tries, minutes(&[0, 1, 3]));
    match outcome {
        Outcome::Failed { response } => assert!(
            response.starts_with(impulse_queue::retry::RETRIES_EXHAUSTED),
            "{response}"
        ),
        other => panic!("{other:?}"),
    }
}
