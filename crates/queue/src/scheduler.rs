//! The scheduler task and the delivery session tasks it starts (see the crate documentation).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use impulse_spool::{
    Destination, Lease, LeasedMessage, Millis, Outcome, QueueStore, RecipientId, SpoolError,
    StoredMessage,
};
use tokio::sync::{Notify, mpsc, watch};

use crate::retry::{self, DestinationPolicy};
use crate::{Attempt, Clock, Connector, Observer, Policy, Report, SystemClock, Verdict};

/// Recipients leased from the spool at once for one destination.
const BATCH: usize = 256;
/// A destination's active queue is refilled when it holds fewer leased recipients than this.
const LOW_WATER: usize = 64;
/// How often the scheduler asks the spool for every destination's next due time, to pick up
/// work it was not told about (a safety net; normal work arrives through [`Handle`]). A spool
/// shared with other nodes is asked more often ([`Scheduler::rescan_every`]).
const RESCAN: Duration = Duration::from_secs(30);
/// First wait after a destination could not be reached; doubled at each failed try, up to
/// [`UNREACHABLE_MAX`]. While it lasts the destination's queue is not leased at all: its
/// messages wait for the destination, not each for its own retry time.
const UNREACHABLE_MIN: Duration = Duration::from_secs(1);
const UNREACHABLE_MAX: Duration = Duration::from_secs(30);

/// The leased recipients of one message, delivered together.
type Job = LeasedMessage;

#[derive(Default)]
struct DestState {
    jobs: VecDeque<Job>,
    /// Leases held in `jobs`.
    leased: usize,
    sessions: usize,
    /// Earliest due time of this destination's queued (not leased) recipients.
    next_due: Option<Millis>,
    /// The destination could not be reached: nothing is leased for it before this time (or
    /// before it is reported reachable, e.g. an SMPP bind comes up).
    blocked_until: Option<Millis>,
    /// The next wait after a failed connection attempt.
    backoff: Duration,
    /// The destination is unreachable (since a failed try, until a success or a report).
    unreachable: bool,
    /// The last reason it could not be reached (a new reason is logged).
    last_reason: String,
    /// Sessions holding a working connection: while one does, a failed connection attempt
    /// does not make the destination unreachable (another limit was hit, such as the remote's
    /// connections per client).
    connected: usize,
    /// Latest due time given to recipients put back while unreachable: when the destination
    /// is reported reachable, leases look this far ahead, so they come at once.
    released_until: Millis,
    /// Lease up to this time instead of now (set when reported reachable).
    resume_until: Millis,
    /// Connections learnt to be the most the destination takes now (a connection attempt failed
    /// while these were open), until the time given.
    cap: Option<(usize, Millis)>,
    /// Recipients put back during this outage whose deferral was logged and counted: each is
    /// told once, not at every probe (bounded by [`MAX_TOLD`]).
    told: HashSet<RecipientId>,
}

/// Recipients remembered as told per outage; past it, further ones are put back silently.
const MAX_TOLD: usize = 1_000_000;

struct DestQueue {
    dest: Destination,
    state: Mutex<DestState>,
    work: Notify,
}

impl DestQueue {
    fn state(&self) -> std::sync::MutexGuard<'_, DestState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pop(&self) -> Option<Job> {
        let mut st = self.state();
        let job = st.jobs.pop_front()?;
        st.leased -= job.leases.len();
        Some(job)
    }
}

struct Shared<S, C, P, O> {
    spool: S,
    connector: C,
    policy: P,
    observer: O,
    wake: Notify,
    events: mpsc::UnboundedSender<Event>,
    clock: Arc<dyn Clock>,
}

/// What the scheduler is told from outside its loop.
enum Event {
    /// Recipients for a destination are due at that time.
    Queued(Destination, Millis),
    /// A destination is reachable again (a bind came up): what waits for it is due now.
    Reachable(Destination),
}

/// Tells the scheduler about newly queued work.
#[derive(Clone)]
pub struct Handle {
    events: mpsc::UnboundedSender<Event>,
}

impl Handle {
    /// Recipients for `dest` were spooled and are due at `due`.
    pub fn queued(&self, dest: Destination, due: Millis) {
        let _ = self.events.send(Event::Queued(dest, due));
    }

    /// `dest` can be reached again (e.g. its SMPP bind is up): recipients that wait only for
    /// it are leased at once, not at their next retry time.
    pub fn reachable(&self, dest: Destination) {
        let _ = self.events.send(Event::Reachable(dest));
    }
}

pub struct Scheduler<S, C, P, O> {
    shared: Arc<Shared<S, C, P, O>>,
    events: mpsc::UnboundedReceiver<Event>,
    dests: HashMap<Destination, Arc<DestQueue>>,
    rescan: Duration,
}

impl<S: QueueStore, C: Connector, P: Policy, O: Observer> Scheduler<S, C, P, O> {
    pub fn new(spool: S, connector: C, policy: P, observer: O) -> (Self, Handle) {
        Self::with_clock(spool, connector, policy, observer, Arc::new(SystemClock))
    }

    /// As [`Scheduler::new`], with the clock due times are read against (a test's clock that
    /// follows tokio's paused time, say).
    pub fn with_clock(
        spool: S,
        connector: C,
        policy: P,
        observer: O,
        clock: Arc<dyn Clock>,
    ) -> (Self, Handle) {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            spool,
            connector,
            policy,
            observer,
            wake: Notify::new(),
            events: tx.clone(),
            clock,
        });
        (
            Scheduler {
                shared,
                events: rx,
                dests: HashMap::new(),
                rescan: RESCAN,
            },
            Handle { events: tx },
        )
    }

    /// Asks the spool for work it was not told about this often: with a spool shared by
    /// several nodes, other nodes enqueue, and free the leases of a dead node, without telling
    /// this one.
    pub fn rescan_every(mut self, every: Duration) -> Self {
        self.rescan = every.max(Duration::from_millis(100));
        self
    }

    fn note(&mut self, dest: Destination, due: Millis) {
        let dq = self.queue(dest);
        let mut st = dq.state();
        st.next_due = Some(st.next_due.map_or(due, |d| d.min(due)));
    }

    fn queue(&mut self, dest: Destination) -> Arc<DestQueue> {
        self.dests
            .entry(dest.clone())
            .or_insert_with(|| {
                Arc::new(DestQueue {
                    dest,
                    state: Mutex::new(DestState {
                        backoff: UNREACHABLE_MIN,
                        ..DestState::default()
                    }),
                    work: Notify::new(),
                })
            })
            .clone()
    }

    fn event(&mut self, ev: Event) {
        match ev {
            Event::Queued(d, due) => self.note(d, due),
            Event::Reachable(d) => {
                let dq = self.queue(d);
                let mut st = dq.state();
                st.unreachable = false;
                st.told = HashSet::new();
                if st.blocked_until.take().is_some() {
                    tracing::info!(domain = %dq.dest.domain, "destination reachable again: its queue resumes");
                }
                st.backoff = UNREACHABLE_MIN;
                // What was put back for it is leased at once: its due times (at most the last
                // backoff ahead) are reached by looking that far ahead.
                st.resume_until = st.released_until;
                let now = self.shared.clock.now();
                st.next_due = Some(st.next_due.map_or(now, |d| d.min(now)));
            }
        }
    }

    async fn rescan(&mut self) {
        match self.shared.spool.destinations().await {
            Ok(all) => {
                for d in all {
                    self.note(d.destination, d.next_due);
                }
            }
            Err(e) => tracing::error!(error = %e, "spool rescan failed"),
        }
    }

    /// Runs until `shutdown` turns true. Sessions in progress finish their current message.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        self.rescan().await;
        let mut last_rescan = tokio::time::Instant::now();
        loop {
            while let Ok(ev) = self.events.try_recv() {
                self.event(ev);
            }
            let earliest = self.pass().await;
            let now = self.shared.clock.now();
            let sleep = earliest.map_or(self.rescan, |d| {
                Duration::from_millis((d - now).clamp(0, self.rescan.as_millis() as i64) as u64)
            });
            tokio::select! {
                _ = self.shared.wake.notified() => {}
                ev = self.events.recv() => if let Some(ev) = ev { self.event(ev) },
                _ = tokio::time::sleep(sleep) => {}
                _ = shutdown.changed() => return,
            }
            if last_rescan.elapsed() >= self.rescan {
                self.rescan().await;
                last_rescan = tokio::time::Instant::now();
            }
        }
    }

    /// Refills and starts sessions for every destination; returns when to look again.
    async fn pass(&mut self) -> Option<Millis> {
        let now = self.shared.clock.now();
        let mut earliest: Option<Millis> = None;
        let queues: Vec<Arc<DestQueue>> = self.dests.values().cloned().collect();
        for dq in queues {
            let policy = self.shared.policy.policy(&dq.dest);
            if policy.suspended {
                continue;
            }
            let blocked = dq.state().blocked_until.filter(|b| *b > now);
            if let Some(b) = blocked {
                earliest = Some(earliest.map_or(b, |e| e.min(b)));
                continue;
            }
            let due = {
                let st = dq.state();
                if st.leased < LOW_WATER {
                    st.next_due
                } else {
                    None
                }
            };
            if due.is_some_and(|d| d <= now) {
                self.refill(&dq, now).await;
            }
            self.start_sessions(&dq, &policy);
            let st = dq.state();
            if st.leased < LOW_WATER
                && let Some(d) = st.next_due
            {
                earliest = Some(earliest.map_or(d, |e| e.min(d)));
            }
        }
        self.dests.retain(|_, dq| {
            let st = dq.state();
            !(st.jobs.is_empty()
                && st.sessions == 0
                && st.next_due.is_none()
                && st.blocked_until.is_none())
        });
        earliest
    }

    async fn refill(&self, dq: &DestQueue, now: Millis) {
        let horizon = {
            let mut st = dq.state();
            if st.resume_until > now {
                st.resume_until
            } else {
                st.resume_until = 0;
                now
            }
        };
        let leased = match self.shared.spool.lease_due(&dq.dest, horizon, BATCH).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(domain = %dq.dest.domain, error = %e, "leasing from the spool failed");
                dq.state().next_due = Some(now + 1000);
                return;
            }
        };
        let mut st = dq.state();
        st.next_due = leased.next_due;
        st.leased += leased.recipients();
        st.jobs.extend(leased.messages);
        drop(st);
        dq.work.notify_waiters();
    }

    fn start_sessions(&self, dq: &Arc<DestQueue>, policy: &DestinationPolicy) {
        loop {
            let mut st = dq.state();
            let max = match st.cap {
                Some((cap, until)) if until > self.shared.clock.now() => {
                    cap.clamp(1, policy.max_connections.max(1))
                }
                _ => policy.max_connections.max(1),
            };
            // One more connection while queued messages outnumber connections, up to the budget.
            if st.jobs.len() <= st.sessions || st.sessions >= max {
                return;
            }
            st.sessions += 1;
            drop(st);
            tokio::spawn(session(self.shared.clone(), dq.clone(), policy.clone()));
        }
    }
}

/// One connection's life: take messages from the destination's queue until idle.
async fn session<S: QueueStore, C: Connector, P: Policy, O: Observer>(
    shared: Arc<Shared<S, C, P, O>>,
    dq: Arc<DestQueue>,
    policy: DestinationPolicy,
) {
    let mut conn: Option<C::Session> = None;
    loop {
        let job = match dq.pop() {
            Some(j) => j,
            None => {
                let notified = dq.work.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                match dq.pop() {
                    Some(j) => j,
                    None => {
                        if tokio::time::timeout(policy.idle_timeout, notified)
                            .await
                            .is_err()
                        {
                            break;
                        }
                        continue;
                    }
                }
            }
        };
        shared.wake.notify_one();
        if !deliver_job(&shared, &dq, &policy, &mut conn, job).await {
            break;
        }
    }
    if let Some(c) = conn {
        dq.state().connected -= 1;
        shared.connector.close(c).await;
    }
    dq.state().sessions -= 1;
    shared.wake.notify_one();
}

/// Delivers one job. Returns false when the destination could not be reached, after settling
/// every job waiting for it: trying each in turn would only repeat the same failure.
async fn deliver_job<S: QueueStore, C: Connector, P: Policy, O: Observer>(
    shared: &Shared<S, C, P, O>,
    dq: &DestQueue,
    policy: &DestinationPolicy,
    conn: &mut Option<C::Session>,
    job: Job,
) -> bool {
    let now = shared.clock.now();
    let message = match job.message {
        Ok(m) => m,
        Err(e) => {
            quarantine(shared, job.leases, e).await;
            return true;
        }
    };
    let (expired, live): (Vec<Lease>, Vec<Lease>) = job
        .leases
        .into_iter()
        .partition(|l| retry::expired_before_try(policy, l, now));
    let mut results: Vec<(Lease, Attempt)> = expired
        .into_iter()
        .map(|l| {
            (
                l,
                Attempt {
                    verdict: Verdict::Permanent,
                    response: retry::EXPIRED.into(),
                    remote: None,
                    stage: 0,
                },
            )
        })
        .collect();
    if live.is_empty() {
        finish(shared, policy, Some(&message), results).await;
        return true;
    }
    if conn.is_none() {
        match shared.connector.open(&dq.dest).await {
            Ok(c) => {
                let mut st = dq.state();
                st.backoff = UNREACHABLE_MIN;
                st.blocked_until = None;
                st.unreachable = false;
                st.told = HashSet::new();
                st.connected += 1;
                drop(st);
                *conn = Some(c);
            }
            Err(attempt) if attempt.verdict == Verdict::Temporary && dq.state().connected > 0 => {
                // Other sessions are connected: this one hit a limit (the remote's connections
                // per client, say). Its job goes back for them, this session ends, and no more
                // connections than work now are opened for a minute.
                let now = shared.clock.now();
                {
                    let mut st = dq.state();
                    st.cap = Some((st.connected, now + 60_000));
                }
                tracing::info!(domain = %dq.dest.domain, response = %attempt.response, "a further connection was refused; staying at the connections open for a minute");
                let outcomes = live
                    .into_iter()
                    .map(|l| (l, attempt.clone(), Outcome::Released { due: now }))
                    .chain(results.into_iter().map(|(l, a)| {
                        let o = retry::decide(policy, &l, &a, now);
                        (l, a, o)
                    }))
                    .collect();
                settle(shared, Some(&message), outcomes).await;
                return false;
            }
            Err(attempt) if attempt.verdict == Verdict::Temporary => {
                // The destination, not this message, failed: this job and every job waiting
                // for the destination are put back untried (see `unreachable`). The clock is
                // read again: opening may have taken a bind's whole timeout.
                let now = shared.clock.now();
                wait_for_destination(shared, dq, policy, &message, results, live, &attempt, now)
                    .await;
                return false;
            }
            Err(attempt) => {
                results.extend(live.into_iter().map(|l| (l, attempt.clone())));
                finish(shared, policy, Some(&message), results).await;
                while let Some(other) = dq.pop() {
                    match other.message {
                        Ok(m) => {
                            let pairs = other
                                .leases
                                .into_iter()
                                .map(|l| (l, attempt.clone()))
                                .collect();
                            finish(shared, policy, Some(&m), pairs).await;
                        }
                        Err(e) => quarantine(shared, other.leases, e).await,
                    }
                }
                return false;
            }
        }
    }
    let session = conn.as_mut().expect("connected above");
    match shared.connector.deliver(session, &message, &live).await {
        Ok(attempts) if attempts.len() == live.len() => {
            results.extend(live.into_iter().zip(attempts))
        }
        Ok(attempts) => {
            tracing::error!(
                got = attempts.len(),
                want = live.len(),
                "connector returned the wrong number of results"
            );
            let attempt = Attempt {
                verdict: Verdict::Temporary,
                response: "451 4.3.0 internal error".into(),
                remote: None,
                stage: 0,
            };
            results.extend(live.into_iter().map(|l| (l, attempt.clone())));
        }
        Err(attempt) => {
            *conn = None;
            dq.state().connected -= 1;
            let now = shared.clock.now();
            if attempt.verdict == Verdict::Temporary && attempt.stage == 0 {
                // Nothing was sent (stage 0: the connection was gone before the first
                // command, e.g. an SMPP bind that dropped between two messages): like a failed
                // open, the message and the queue wait for the destination.
                wait_for_destination(shared, dq, policy, &message, results, live, &attempt, now)
                    .await;
                return false;
            }
            // The connection broke under this message: it counts as a try for the message (a
            // message that breaks connections must not be retried forever); the jobs waiting
            // for the destination wait for it to come back instead of each failing in turn.
            results.extend(live.into_iter().map(|l| (l, attempt.clone())));
            finish(shared, policy, Some(&message), results).await;
            if attempt.verdict == Verdict::Temporary {
                let due = unreachable(dq, &attempt, now);
                release_waiting(shared, dq, policy, &attempt, due).await;
                return false;
            }
            return true;
        }
    }
    finish(shared, policy, Some(&message), results).await;
    true
}

/// The destination could not be reached for a job: the job's expired recipients are settled,
/// the rest of it and every job waiting in the queue are put back to wait for the destination.
#[allow(clippy::too_many_arguments)] // one job's parts, passed apart as `deliver_job` holds them
async fn wait_for_destination<S: QueueStore, C: Connector, P: Policy, O: Observer>(
    shared: &Shared<S, C, P, O>,
    dq: &DestQueue,
    policy: &DestinationPolicy,
    message: &StoredMessage,
    results: Vec<(Lease, Attempt)>,
    live: Vec<Lease>,
    attempt: &Attempt,
    now: Millis,
) {
    let due = unreachable(dq, attempt, now);
    let mut outcomes: Vec<(Lease, Attempt, Outcome)> = results
        .into_iter()
        .map(|(lease, a)| {
            let o = retry::decide(policy, &lease, &a, now);
            (lease, a, o)
        })
        .collect();
    outcomes.extend(released(dq, policy, live, attempt, due, now));
    settle(shared, Some(message), outcomes).await;
    release_waiting(shared, dq, policy, attempt, due).await;
}

/// Marks a destination unreachable: nothing more is leased for it until it is reported
/// reachable again (an SMPP bind comes up) or its backoff has passed, when one batch probes
/// it. Returns when the recipients put back are due.
fn unreachable(dq: &DestQueue, attempt: &Attempt, now: Millis) -> Millis {
    let (wait, first, new_reason) = {
        let mut st = dq.state();
        let wait = st.backoff;
        st.backoff = (wait * 2).min(UNREACHABLE_MAX);
        st.blocked_until = Some(now + wait.as_millis() as Millis);
        let first = !std::mem::replace(&mut st.unreachable, true);
        let new_reason = st.last_reason != attempt.response;
        if new_reason {
            st.last_reason = attempt.response.clone();
        }
        (wait, first, new_reason)
    };
    if first {
        tracing::warn!(domain = %dq.dest.domain, response = %attempt.response, "destination unreachable; its queue waits for it (probed after 1 s, doubling to 30 s, or at once when reported back)");
    } else if new_reason {
        tracing::warn!(domain = %dq.dest.domain, response = %attempt.response, "destination still unreachable, for another reason");
    } else {
        tracing::debug!(domain = %dq.dest.domain, next_try_s = wait.as_secs(), "destination still unreachable");
    }
    now + wait.as_millis() as Millis
}

/// Leases put back because their destination is unreachable. The first time in an outage a
/// recipient goes back it is a deferral (a try counted, the reason logged); at later probes it
/// goes back untried and silently, so a long outage does not flood the logs and counters.
fn released(
    dq: &DestQueue,
    policy: &DestinationPolicy,
    leases: Vec<Lease>,
    attempt: &Attempt,
    due: Millis,
    now: Millis,
) -> Vec<(Lease, Attempt, Outcome)> {
    let mut st = dq.state();
    st.released_until = st.released_until.max(due);
    leases
        .into_iter()
        .map(|l| {
            let tell = st.told.len() < MAX_TOLD && st.told.insert(l.recipient);
            if tell {
                // A deferral like any other (counted as a try, logged, failed when the policy
                // says no more tries), due when the destination is probed, not at the
                // message's own retry time.
                let o = match retry::decide(policy, &l, attempt, now) {
                    Outcome::Retry { response, .. } => Outcome::Retry { due, response },
                    other => other,
                };
                (l, attempt.clone(), o)
            } else {
                // Released: put back untried, neither counted nor logged.
                (l, attempt.clone(), Outcome::Released { due })
            }
        })
        .collect()
}

/// Puts back untried every job the destination's queue holds (no attempt is counted).
async fn release_waiting<S: QueueStore, C: Connector, P: Policy, O: Observer>(
    shared: &Shared<S, C, P, O>,
    dq: &DestQueue,
    policy: &DestinationPolicy,
    attempt: &Attempt,
    due: Millis,
) {
    let now = shared.clock.now();
    while let Some(other) = dq.pop() {
        match other.message {
            Ok(m) => {
                let outcomes = released(dq, policy, other.leases, attempt, due, now);
                settle(shared, Some(&m), outcomes).await;
            }
            Err(e) => quarantine(shared, other.leases, e).await,
        }
    }
}

/// Sets aside the recipients of a message whose record could not be read.
async fn quarantine<S: QueueStore, C: Connector, P: Policy, O: Observer>(
    shared: &Shared<S, C, P, O>,
    leases: Vec<Lease>,
    error: SpoolError,
) {
    let reason = error.to_string();
    tracing::error!(error = %reason, "spool record unreadable; quarantined");
    let attempt = Attempt {
        verdict: Verdict::Temporary,
        response: reason.clone(),
        remote: None,
        stage: 0,
    };
    let outcomes = leases
        .into_iter()
        .map(|l| {
            (
                l,
                attempt.clone(),
                Outcome::Quarantined {
                    reason: reason.clone(),
                },
            )
        })
        .collect();
    settle(shared, None, outcomes).await;
}

async fn finish<S: QueueStore, C: Connector, P: Policy, O: Observer>(
    shared: &Shared<S, C, P, O>,
    policy: &DestinationPolicy,
    message: Option<&StoredMessage>,
    results: Vec<(Lease, Attempt)>,
) {
    let now = shared.clock.now();
    let outcomes = results
        .into_iter()
        .map(|(lease, attempt)| {
            let outcome = retry::decide(policy, &lease, &attempt, now);
            (lease, attempt, outcome)
        })
        .collect();
    settle(shared, message, outcomes).await;
}

/// Tells the observer, records in the spool, and schedules retries.
async fn settle<S: QueueStore, C: Connector, P: Policy, O: Observer>(
    shared: &Shared<S, C, P, O>,
    message: Option<&StoredMessage>,
    outcomes: Vec<(Lease, Attempt, Outcome)>,
) {
    if outcomes.is_empty() {
        return;
    }
    let reports: Vec<Report<'_>> = outcomes
        .iter()
        .map(|(lease, attempt, outcome)| Report {
            lease,
            attempt,
            outcome,
        })
        .collect();
    shared.observer.outcomes(message, &reports).await;
    let retries: Vec<(Destination, Millis)> = outcomes
        .iter()
        .filter_map(|(l, _, o)| match o {
            Outcome::Retry { due, .. } | Outcome::Released { due } => {
                Some((l.destination.clone(), *due))
            }
            _ => None,
        })
        .collect();
    let records = outcomes
        .into_iter()
        .map(|(l, _, o)| (l.reference(), o))
        .collect();
    if let Err(e) = shared.spool.record(records).await {
        // The recipients stay leased and are retried after the next restart.
        tracing::error!(error = %e, "recording delivery outcomes failed");
    }
    for (dest, due) in retries {
        let _ = shared.events.send(Event::Queued(dest, due));
    }
}
