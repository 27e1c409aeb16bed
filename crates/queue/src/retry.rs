//! Retry policy (docs/reference/momentum.md §6.6) in one place: `Retry_Interval` doubled after each
//! failure up to `Max_Retry_Interval`, `Max_Retries`, `Message_Expiration`, `Never_Retry`.

use std::time::Duration;

use impulse_spool::{Lease, Millis, Outcome};

use crate::{Attempt, Verdict};

/// Settings of one destination.
#[derive(Clone, Debug, PartialEq)]
pub struct DestinationPolicy {
    pub max_connections: usize,
    pub retry_interval: Duration,
    pub max_retry_interval: Duration,
    /// `None`: retry until expiration (`Max_Retries = auto`).
    pub max_retries: Option<u64>,
    pub expiration: Duration,
    pub never_retry: bool,
    pub suspended: bool,
    pub idle_timeout: Duration,
}

impl Default for DestinationPolicy {
    /// Momentum's defaults.
    fn default() -> Self {
        DestinationPolicy {
            max_connections: 32,
            retry_interval: Duration::from_secs(1200),
            max_retry_interval: Duration::from_secs(43200),
            max_retries: None,
            expiration: Duration::from_secs(86400),
            never_retry: false,
            suspended: false,
            idle_timeout: Duration::from_secs(5),
        }
    }
}

pub const EXPIRED: &str = "554 5.4.7 [internal] exceeded max time without delivery";
pub const RETRIES_EXHAUSTED: &str = "554 5.4.7 [internal] exceeded max retries without delivery";

/// Whether a recipient is past its expiration at `now`.
pub fn expired(policy: &DestinationPolicy, lease: &Lease, now: Millis) -> bool {
    lease
        .received_at
        .saturating_add(policy.expiration.as_millis() as i64)
        <= now
}

/// How late the last try (the one [`decide`] schedules at the expiration itself) may be leased
/// and still be made: the scheduler leases a moment after a due time.
pub const LAST_TRY_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether a leased recipient is failed as expired without a try. It is when its expiration has
/// passed, except for the last try [`decide`] scheduled at the expiration, leased within
/// [`LAST_TRY_GRACE`] of it. A recipient that expired while it waited for anything else (an
/// unreachable destination, a stopped gateway) is never tried late.
pub fn expired_before_try(policy: &DestinationPolicy, lease: &Lease, now: Millis) -> bool {
    if !expired(policy, lease, now) {
        return false;
    }
    let expires_at = lease
        .received_at
        .saturating_add(policy.expiration.as_millis() as i64);
    let last_try = lease.attempts > 0 && lease.due == expires_at;
    !(last_try && now - expires_at <= LAST_TRY_GRACE.as_millis() as i64)
}

/// The delay before the next try after `failures` temporary failures (1 for the first).
pub fn backoff(policy: &DestinationPolicy, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(40);
    let delay = policy
        .retry_interval
        .saturating_mul(1u32 << doublings.min(31));
    delay.min(policy.max_retry_interval.max(policy.retry_interval))
}

/// What to record after `attempt` for `lease` at `now`.
pub fn decide(
    policy: &DestinationPolicy,
    lease: &Lease,
    attempt: &Attempt,
    now: Millis,
) -> Outcome {
    match attempt.verdict {
        Verdict::Delivered => Outcome::Delivered {
            response: attempt.response.clone(),
        },
        Verdict::Permanent => Outcome::Failed {
            response: attempt.response.clone(),
        },
        Verdict::Temporary => {
            let failures = lease.attempts + 1;
            if policy.never_retry
                || policy
                    .max_retries
                    .is_some_and(|max| u64::from(failures) >= max)
            {
                return Outcome::Failed {
                    response: format!("{RETRIES_EXHAUSTED} (last: {})", attempt.response),
                };
            }
            if expired(policy, lease, now) {
                return Outcome::Failed {
                    response: format!("{EXPIRED} (last: {})", attempt.response),
                };
            }
            // The last try happens at the expiration time, not after it; failing then expires it.
            let expires_at = lease
                .received_at
                .saturating_add(policy.expiration.as_millis() as i64);
            let due = now
                .saturating_add(backoff(policy, failures).as_millis() as i64)
                .min(expires_at);
            Outcome::Retry {
                due,
                response: attempt.response.clone(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use impulse_spool::{Destination, MessageId, RecipientId};

    fn lease(attempts: u32, received_at: Millis) -> Lease {
        Lease {
            recipient: RecipientId(1),
            message: MessageId(1),
            address: "a@b".into(),
            destination: Destination {
                domain: "b".into(),
                binding: String::new(),
            },
            attempts,
            received_at,
            due: received_at,
            fence: 0,
            leased_before: false,
        }
    }

    fn temp() -> Attempt {
        Attempt {
            verdict: Verdict::Temporary,
            response: "451 4.3.0 later".into(),
            remote: None,
            stage: 9,
        }
    }

    #[test]
    fn the_last_try_at_expiration_is_made_one_long_past_it_is_not() {
        let policy = DestinationPolicy {
            expiration: Duration::from_secs(3600),
            ..Default::default()
        };
        let last = Lease {
            due: 3_600_000,
            ..lease(3, 0)
        };
        // Leased a moment after the expiration, for the try `decide` scheduled there.
        assert!(!expired_before_try(&policy, &last, 3_600_000 + 250));
        // Leased long after (the gateway was down): failed without a try.
        assert!(expired_before_try(&policy, &last, 3_600_000 + 61_000));
        // Due earlier (put back while its destination was unreachable), leased just after the
        // expiration: not tried late.
        let waiting = Lease {
            due: 3_000_000,
            ..lease(3, 0)
        };
        assert!(expired_before_try(&policy, &waiting, 3_600_000 + 250));
        // Never tried, due at its reception: expired is expired.
        assert!(expired_before_try(&policy, &lease(0, 0), 3_600_000));
        assert!(expired(&policy, &last, 3_600_000));
    }

    #[test]
    fn interval_doubles_up_to_the_ceiling() {
        let p = DestinationPolicy {
            retry_interval: Duration::from_secs(10),
            max_retry_interval: Duration::from_secs(50),
            ..Default::default()
        };
        let got: Vec<u64> = (1..=5).map(|n| backoff(&p, n).as_secs()).collect();
        assert_eq!(got, [10, 20, 40, 50, 50]);
        assert_eq!(backoff(&p, 1000).as_secs(), 50);
    }

    #[test]
    fn temporary_failures_retry_until_a_limit() {
        let p = DestinationPolicy {
            retry_interval: Duration::from_secs(10),
            ..Default::default()
        };
        assert!(matches!(
            decide(&p, &lease(0, 0), &temp(), 1000),
            Outcome::Retry { due: 11_000, .. }
        ));
        assert!(matches!(
            decide(&p, &lease(2, 0), &temp(), 1000),
            Outcome::Retry { due: 41_000, .. }
        ));

        let p3 = DestinationPolicy {
            max_retries: Some(3),
            ..p.clone()
        };
        assert!(matches!(
            decide(&p3, &lease(1, 0), &temp(), 0),
            Outcome::Retry { .. }
        ));
        assert!(
            matches!(decide(&p3, &lease(2, 0), &temp(), 0), Outcome::Failed { ref response } if response.starts_with(RETRIES_EXHAUSTED))
        );

        let never = DestinationPolicy {
            never_retry: true,
            ..p.clone()
        };
        assert!(matches!(
            decide(&never, &lease(0, 0), &temp(), 0),
            Outcome::Failed { .. }
        ));

        let short = DestinationPolicy {
            expiration: Duration::from_secs(60),
            ..p
        };
        assert!(
            matches!(decide(&short, &lease(0, 0), &temp(), 61_000), Outcome::Failed { ref response } if response.starts_with(EXPIRED))
        );
    }

    #[test]
    fn permanent_and_delivered_are_final() {
        let p = DestinationPolicy::default();
        let perm = Attempt {
            verdict: Verdict::Permanent,
            response: "550 5.1.1 no".into(),
            remote: None,
            stage: 5,
        };
        assert!(matches!(
            decide(&p, &lease(0, 0), &perm, 0),
            Outcome::Failed { .. }
        ));
        let ok = Attempt {
            verdict: Verdict::Delivered,
            response: "250 ok".into(),
            remote: None,
            stage: 9,
        };
        assert!(matches!(
            decide(&p, &lease(0, 0), &ok, 0),
            Outcome::Delivered { .. }
        ));
    }
}
