//! Momentum's core throttles on outbound delivery, for SMTP, SMPP and MM7 alike:
//! `Outbound_Throttle_Messages` (messages, a recipient each for SMPP and MM7) and
//! `Outbound_Throttle_Connections` (new SMTP connections), each `"N"` a second or `"N/secs"`.
//!
//! A throttle is shared "by reference" by every destination that inherits it: the bucket is
//! keyed by the scope that sets the option (its label, e.g. `global` or `domain "x"`) and the
//! value, so a global throttle limits all domains together, and a domain's own throttle limits
//! that domain alone. A reload that changes the value starts a new bucket. `0` is no limit.
//! The bucket allows at most one second's worth of messages at once (at least one), so a
//! throttle of "60/60" sends one a second, never sixty at once.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use impulse_config::{Config, Origin, Resolved};
use impulse_smpp::session::TokenBucket;

/// The throttle options.
pub const MESSAGES: &str = "Outbound_Throttle_Messages";
pub const CONNECTIONS: &str = "Outbound_Throttle_Connections";

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    option: &'static str,
    scope: String,
    value: String,
}

struct Bucket {
    bucket: TokenBucket,
    waits: u64,
}

/// Every throttle in use, by the scope that defines it.
#[derive(Default)]
pub struct Throttles {
    buckets: Mutex<HashMap<Key, Bucket>>,
}

/// One throttle as `show outbound` prints it.
pub struct ThrottleView {
    pub option: &'static str,
    pub scope: String,
    pub value: String,
    /// How many times a delivery waited for it.
    pub waits: u64,
}

impl Throttles {
    /// Waits until `n` messages (or connections) may go to `domain` through `binding` under
    /// `option`, as configured now.
    pub async fn acquire(
        &self,
        cfg: &Config,
        option: &'static str,
        domain: &str,
        binding: &str,
        n: usize,
    ) {
        let binding = (!binding.is_empty()).then_some(binding);
        let s = cfg.sending(Some(domain), binding);
        let Some((value, Origin::Scope { label, .. })) = s.effective(option) else {
            return;
        };
        let Some(text) = value.as_scalar() else {
            return;
        };
        let Ok((count, per)) = impulse_config::types::parse_throttle(text) else {
            return;
        };
        if count == 0 {
            return;
        }
        let key = Key {
            option,
            scope: label,
            value: text.to_string(),
        };
        let per_second = count as f64 / per.as_secs_f64();
        for _ in 0..n.max(1) {
            let mut waited = false;
            loop {
                let wait = {
                    let mut map = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
                    // tokio's clock, so that tests on paused time see the bucket refill.
                    let now = tokio::time::Instant::now().into_std();
                    let b = map.entry(key.clone()).or_insert_with(|| Bucket {
                        bucket: TokenBucket::new(per_second, per_second.max(1.0), now),
                        waits: 0,
                    });
                    if b.bucket.take(now) {
                        None
                    } else {
                        if !waited {
                            b.waits += 1;
                            metrics::counter!("impulse_throttle_waits_total", "option" => option)
                                .increment(1);
                        }
                        Some(b.bucket.next_token().saturating_duration_since(now))
                    }
                };
                match wait {
                    None => break,
                    Some(d) => {
                        waited = true;
                        tokio::time::sleep(d.max(Duration::from_millis(1))).await;
                    }
                }
            }
        }
    }

    /// The throttles used since start, sorted by scope.
    pub fn views(&self) -> Vec<ThrottleView> {
        let map = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let mut v: Vec<ThrottleView> = map
            .iter()
            .map(|(k, b)| ThrottleView {
                option: k.option,
                scope: k.scope.clone(),
                value: k.value.clone(),
                waits: b.waits,
            })
            .collect();
        v.sort_by(|a, b| (&a.scope, a.option).cmp(&(&b.scope, b.option)));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        impulse_config::from_str(std::path::Path::new("t.conf"), text).unwrap()
    }

    /// A global throttle is one bucket for all domains; a domain's own is its alone.
    #[tokio::test(start_paused = true)]
    async fn shared_by_the_scope_that_defines_it() {
        let c = cfg(
            "Outbound_Throttle_Messages = \"2/1\"\ndomain \"a.example\" { }\ndomain \"b.example\" { }\n\
             domain \"own.example\" { Outbound_Throttle_Messages = \"100\" }\n",
        );
        let t = Throttles::default();
        let start = tokio::time::Instant::now();
        for d in [
            "a.example",
            "b.example",
            "a.example",
            "b.example",
            "a.example",
            "b.example",
        ] {
            t.acquire(&c, MESSAGES, d, "", 1).await;
        }
        // 2 at once, then 2 a second: the 6th is 2 s after the start.
        let shared = start.elapsed();
        assert!(
            shared >= Duration::from_millis(1900) && shared < Duration::from_millis(2100),
            "{shared:?}"
        );
        let start = tokio::time::Instant::now();
        t.acquire(&c, MESSAGES, "own.example", "", 50).await;
        assert!(
            start.elapsed() < Duration::from_millis(10),
            "own bucket, full"
        );
        let views = t.views();
        assert_eq!(views.len(), 2);
        assert_eq!(views[1].scope, "global");
        assert!(views[1].waits >= 4, "{}", views[1].waits);
    }

    #[tokio::test(start_paused = true)]
    async fn sixty_a_minute_is_one_a_second_and_zero_is_no_limit() {
        let c = cfg("domain \"a.example\" { Outbound_Throttle_Messages = \"60/60\" }\n");
        let t = Throttles::default();
        let start = tokio::time::Instant::now();
        t.acquire(&c, MESSAGES, "a.example", "", 3).await;
        let e = start.elapsed();
        assert!(
            e >= Duration::from_millis(1900) && e < Duration::from_millis(2100),
            "{e:?}"
        );
        let c = cfg("Outbound_Throttle_Messages = 0\n");
        let start = tokio::time::Instant::now();
        t.acquire(&c, MESSAGES, "x", "", 1000).await;
        assert!(start.elapsed() < Duration::from_millis(1));
    }
}
