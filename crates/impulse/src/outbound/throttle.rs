//! Momentum's core throttles on outbound delivery, for SMTP, SMPP and MM7 alike:
//! `Outbound_Throttle_Messages` (messages) and `Outbound_Throttle_Connections` (new SMTP
//! connections), each `"N"` a second or `"N/secs"`.
//!
//! A throttle is shared "by reference" by every destination that inherits it: the bucket is
//! keyed by the scope that sets the option (its label, e.g. `global` or `domain "x"`) and the
//! value, so a global throttle limits all domains together, and a domain's own throttle limits
//! that domain alone. A reload that changes the value starts a new bucket. `0` is no limit.
//! The bucket allows at most one second's worth of messages at once (at least one), so a
//! throttle of "60/60" sends one a second, never sixty at once.
//!
//! With nodes sharing a PostgreSQL spool a throttle holds for the cluster: each node publishes
//! the throttles it used in the last [`IN_USE_FOR`], and a node's share of a throttle is its
//! rate divided by the live nodes using it (`ops::cluster::publish` tells it, every 5 s). A node
//! that starts using a throttle takes its share at once; the others learn of it within two
//! publications, so for up to ten seconds the cluster may exceed the rate by one node's share.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use impulse_config::{Config, Opt, Origin, Resolved};

use crate::live::LiveConfig;
use impulse_smpp::session::TokenBucket;

/// The throttle options.
pub const MESSAGES: Opt = impulse_config::names::OUTBOUND_THROTTLE_MESSAGES;
pub const CONNECTIONS: Opt = impulse_config::names::OUTBOUND_THROTTLE_CONNECTIONS;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    option: Opt,
    scope: String,
    value: String,
}

struct Bucket {
    bucket: TokenBucket,
    waits: u64,
    /// Its rate on this node: the throttle's, divided among the nodes using it.
    rate: f64,
    last_used: std::time::Instant,
}

/// A throttle counts as in use by a node for this long after its last message.
pub const IN_USE_FOR: Duration = Duration::from_secs(15);

impl Key {
    /// How nodes name a throttle to each other: option, scope and value.
    fn label(&self) -> String {
        format!("{} {} {}", self.option.name(), self.scope, self.value)
    }
}

/// Every throttle in use, by the scope that defines it.
#[derive(Default)]
pub struct Throttles {
    buckets: Mutex<HashMap<Key, Bucket>>,
    /// Whether the configuration in force (by its generation) sets each option anywhere: most
    /// set none, and then a delivery looks nothing up.
    in_force: Mutex<Vec<(u64, Opt, bool)>>,
    /// How many other live nodes use each throttle (by label), as last published.
    sharers: Mutex<HashMap<String, usize>>,
}

/// One throttle as `show outbound` prints it.
pub struct ThrottleView {
    pub option: Opt,
    pub scope: String,
    pub value: String,
    /// How many times a delivery waited for it.
    pub waits: u64,
}

impl Throttles {
    /// Waits until one message (or connection) may go to `domain` through `binding` under
    /// `option`. The configuration is read again at every wait, so a reload or `config set`
    /// that changes or removes the throttle applies to deliveries already waiting.
    pub async fn acquire(&self, cfg: &LiveConfig, option: Opt, domain: &str, binding: &str) {
        let mut waited = false;
        loop {
            let (current, generation) = cfg.get_with_generation();
            if !self.set_anywhere(&current, generation, option) {
                return;
            }
            let Some((key, per_second)) = Self::key(&current, option, domain, binding) else {
                return;
            };
            let wait = {
                let mut map = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
                // A changed value is a new bucket: the old one goes.
                map.retain(|k, _| {
                    k.option != key.option || k.scope != key.scope || k.value == key.value
                });
                // tokio's clock, so that tests on paused time see the bucket refill.
                let now = tokio::time::Instant::now().into_std();
                // Other nodes using it (a shared spool only: otherwise none, and no label is made).
                let others = {
                    let sharers = self.sharers.lock().unwrap_or_else(PoisonError::into_inner);
                    match sharers.is_empty() {
                        true => 0,
                        false => sharers.get(&key.label()).copied().unwrap_or(0),
                    }
                };
                let rate = per_second / (1 + others) as f64;
                let b = map.entry(key).or_insert_with(|| Bucket {
                    bucket: TokenBucket::new(rate, rate.max(1.0), now),
                    waits: 0,
                    rate,
                    last_used: now,
                });
                if b.rate != rate {
                    b.bucket.set_rate(rate, rate.max(1.0), now);
                    b.rate = rate;
                }
                b.last_used = now;
                if b.bucket.take(now) {
                    None
                } else {
                    if !waited {
                        b.waits += 1;
                        crate::ops::events::emit(crate::ops::events::Event::ThrottleWait {
                            option: option.name(),
                        });
                    }
                    Some(b.bucket.next_token().saturating_duration_since(now))
                }
            };
            match wait {
                None => return,
                Some(d) => {
                    waited = true;
                    // Not longer than a second at a time: the configuration may change.
                    let d = d.clamp(Duration::from_millis(1), Duration::from_secs(1));
                    tokio::time::sleep(d).await;
                }
            }
        }
    }

    /// Whether `cfg` sets `option` in any scope, remembered per configuration generation.
    fn set_anywhere(&self, cfg: &Config, generation: u64, option: Opt) -> bool {
        let id = generation;
        let mut seen = self.in_force.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, _, set)) = seen.iter().find(|(i, o, _)| *i == id && *o == option) {
            return *set;
        }
        let set = cfg.sets_anywhere(option);
        // Only the configuration in force matters: earlier ones are forgotten.
        seen.retain(|(i, _, _)| *i == id);
        seen.push((id, option, set));
        set
    }

    /// The bucket key and rate of the throttle in force for a destination, if any.
    fn key(cfg: &Config, option: Opt, domain: &str, binding: &str) -> Option<(Key, f64)> {
        let binding = (!binding.is_empty()).then_some(binding);
        let s = cfg.sending(Some(domain), binding);
        let (value, Origin::Scope { label, .. }) = s.effective(option)? else {
            return None;
        };
        let text = value.as_scalar()?;
        let (count, per) = impulse_config::types::parse_throttle(text).ok()?;
        if count == 0 {
            return None;
        }
        let key = Key {
            option,
            scope: label,
            value: text.to_string(),
        };
        Some((key, count as f64 / per.as_secs_f64()))
    }

    /// The throttles this node used lately, by label (published to the other nodes).
    pub fn in_use(&self) -> Vec<String> {
        let map = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let now = tokio::time::Instant::now().into_std();
        let mut v: Vec<String> = map
            .iter()
            .filter(|(_, b)| now.saturating_duration_since(b.last_used) < IN_USE_FOR)
            .map(|(k, _)| k.label())
            .collect();
        v.sort();
        v
    }

    /// How many other live nodes use each throttle, by label.
    pub fn set_sharers(&self, sharers: HashMap<String, usize>) {
        *self.sharers.lock().unwrap_or_else(PoisonError::into_inner) = sharers;
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
    use std::sync::Arc;

    use super::*;

    fn live(text: &str) -> LiveConfig {
        LiveConfig::new(Arc::new(
            impulse_config::from_str(std::path::Path::new("t.conf"), text).unwrap(),
        ))
    }

    /// A global throttle is one bucket for all domains; a domain's own is its alone.
    #[tokio::test(start_paused = true)]
    async fn shared_by_the_scope_that_defines_it() {
        let c = live(
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
            t.acquire(&c, MESSAGES, d, "").await;
        }
        // 2 at once, then 2 a second: the 6th is 2 s after the start.
        let shared = start.elapsed();
        assert!(
            shared >= Duration::from_millis(1900) && shared < Duration::from_millis(2100),
            "{shared:?}"
        );
        let start = tokio::time::Instant::now();
        for _ in 0..50 {
            t.acquire(&c, MESSAGES, "own.example", "").await;
        }
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
        let c = live("domain \"a.example\" { Outbound_Throttle_Messages = \"60/60\" }\n");
        let t = Throttles::default();
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            t.acquire(&c, MESSAGES, "a.example", "").await;
        }
        let e = start.elapsed();
        assert!(
            e >= Duration::from_millis(1900) && e < Duration::from_millis(2100),
            "{e:?}"
        );
        let c = live("Outbound_Throttle_Messages = 0\n");
        let start = tokio::time::Instant::now();
        for _ in 0..1000 {
            t.acquire(&c, MESSAGES, "x", "").await;
        }
        assert!(start.elapsed() < Duration::from_millis(1));
    }

    /// A delivery waiting on a slow throttle goes as soon as a reload lifts it; one an hour is
    /// one an hour (no floor on the rate); the old bucket leaves `show outbound`.
    #[tokio::test(start_paused = true)]
    async fn a_reload_applies_to_deliveries_already_waiting() {
        let c = live("Outbound_Throttle_Messages = \"1/3600\"\n");
        let t = Arc::new(Throttles::default());
        t.acquire(&c, MESSAGES, "a.example", "").await;
        let waiting = {
            let (t, c) = (t.clone(), c.clone());
            tokio::spawn(async move { t.acquire(&c, MESSAGES, "a.example", "").await })
        };
        tokio::time::sleep(Duration::from_secs(1800)).await;
        assert!(
            !waiting.is_finished(),
            "one an hour: still waiting after half an hour"
        );
        c.replace(Arc::new(
            impulse_config::from_str(
                std::path::Path::new("t.conf"),
                "Outbound_Throttle_Messages = 0\n",
            )
            .unwrap(),
        ));
        let start = tokio::time::Instant::now();
        waiting.await.unwrap();
        assert!(
            start.elapsed() <= Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        c.replace(Arc::new(
            impulse_config::from_str(
                std::path::Path::new("t.conf"),
                "Outbound_Throttle_Messages = 5\n",
            )
            .unwrap(),
        ));
        t.acquire(&c, MESSAGES, "a.example", "").await;
        let views = t.views();
        assert_eq!(views.len(), 1, "the 1/3600 bucket is gone");
        assert_eq!(views[0].value, "5");
    }
}
