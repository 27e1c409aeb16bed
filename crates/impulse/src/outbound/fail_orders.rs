//! Operator fail orders (console `fail domain D [quiet]`, `message fail ID`): the queued
//! recipients an order names fail permanently at their next attempt, which the command makes
//! due at once. They go through the ordinary delivery path, so each failure is logged like any
//! other and bounced to the sender (unless the order is `quiet`), and the spool forgets them in
//! the same commit as any other outcome: nothing is deleted behind the scheduler's back.
//!
//! An order covers what was received before it was given; mail arriving afterwards is
//! delivered normally. The command removes its order once the recipients it named are gone
//! (or after a bounded wait: a recipient in the middle of an attempt finishes that attempt).
//!
//! With a shared spool the command also writes its order into the database, and every node
//! applies the orders found there (read every second, `ops::cluster::coordinate`): whichever
//! node leases a named recipient fails it. An order in the database expires by itself, in case
//! the node that gave it dies before withdrawing it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use impulse_queue::{Attempt, Verdict};
use impulse_spool::{Lease, MessageId, Millis};

/// What the sender's bounce and the logs say.
pub const RESPONSE: &str = "550 5.0.0 failed by the operator (console fail)";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub id: u64,
    /// Lower-case domain the order is about.
    pub domain: String,
    /// Only this message, when set.
    pub message: Option<MessageId>,
    /// Only recipients leaving by this binding, when set.
    pub binding: Option<String>,
    /// Only what was received at or before this time.
    pub before: Millis,
    /// No bounce to the sender.
    pub quiet: bool,
}

impl From<impulse_spool::SharedFailOrder> for Order {
    fn from(o: impulse_spool::SharedFailOrder) -> Self {
        Order {
            id: o.id as u64,
            domain: o.domain,
            message: o.message.map(MessageId),
            binding: o.binding,
            before: o.before,
            quiet: o.quiet,
        }
    }
}

#[derive(Default)]
pub struct FailOrders {
    orders: Mutex<Vec<Order>>,
    /// Orders in the shared spool's database, given on any node.
    shared: Mutex<Vec<Order>>,
    next: Mutex<u64>,
    /// How many orders are in force: every delivery asks, and almost always there are none,
    /// so the answer must not take a lock.
    in_force: AtomicUsize,
}

impl FailOrders {
    fn orders(&self) -> std::sync::MutexGuard<'_, Vec<Order>> {
        self.orders.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts an order in force; returns its id for [`FailOrders::withdraw`].
    pub fn give(&self, mut order: Order) -> u64 {
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        *next += 1;
        order.id = *next;
        order.domain = order.domain.to_ascii_lowercase();
        let local = {
            let mut orders = self.orders();
            orders.push(order);
            orders.len()
        };
        let shared = self.shared().len();
        self.in_force.store(local + shared, Ordering::Release);
        *next
    }

    pub fn withdraw(&self, id: u64) {
        let mut orders = self.orders();
        orders.retain(|o| o.id != id);
        self.in_force
            .store(orders.len() + self.shared().len(), Ordering::Release);
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Vec<Order>> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The orders of the shared spool's database, as last read.
    pub fn replace_shared(&self, orders: Vec<Order>) {
        // Locks are taken one at a time here, and `orders` before `shared` elsewhere: never
        // the reverse order while holding one.
        let count = orders.len();
        *self.shared() = orders;
        let local = self.orders().len();
        self.in_force.store(local + count, Ordering::Release);
    }

    fn none_in_force(&self) -> bool {
        self.in_force.load(Ordering::Acquire) == 0
    }

    /// Whether any order is about `domain` (a delivery session then opens no connection until
    /// a recipient not under an order needs one).
    pub fn covers_domain(&self, domain: &str) -> bool {
        if self.none_in_force() {
            return false;
        }
        let any = |orders: &[Order]| orders.iter().any(|o| o.domain.eq_ignore_ascii_case(domain));
        let local = any(&self.orders());
        local || any(&self.shared())
    }

    fn order_for(&self, lease: &Lease) -> Option<Order> {
        if self.none_in_force() {
            return None;
        }
        let names = |o: &&Order| {
            o.domain.eq_ignore_ascii_case(&lease.destination.domain)
                && o.message.is_none_or(|m| m == lease.message)
                && o.binding
                    .as_ref()
                    .is_none_or(|b| *b == lease.destination.binding)
                && lease.received_at <= o.before
        };
        let local = self.orders().iter().find(names).cloned();
        local.or_else(|| self.shared().iter().find(names).cloned())
    }

    /// The permanent failure of a recipient an order names, if one does.
    pub fn verdict(&self, lease: &Lease) -> Option<Attempt> {
        self.order_for(lease).map(|_| Attempt {
            verdict: Verdict::Permanent,
            response: RESPONSE.into(),
            remote: None,
            stage: 0,
        })
    }

    /// Whether the failure of `lease` must not be bounced.
    pub fn is_quiet(&self, lease: &Lease) -> bool {
        self.order_for(lease).is_some_and(|o| o.quiet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use impulse_spool::{Destination, RecipientId};

    fn lease(domain: &str, message: i64, received_at: Millis) -> Lease {
        Lease {
            recipient: RecipientId(1),
            message: MessageId(message),
            address: format!("a@{domain}"),
            destination: Destination {
                domain: domain.into(),
                binding: String::new(),
            },
            attempts: 1,
            received_at,
            due: received_at,
            fence: 0,
            leased_before: false,
        }
    }

    #[test]
    fn an_order_names_its_domain_or_message_and_only_older_mail() {
        let orders = FailOrders::default();
        let id = orders.give(Order {
            id: 0,
            domain: "Slow.Example".into(),
            message: None,
            binding: None,
            before: 1000,
            quiet: true,
        });
        assert!(orders.covers_domain("slow.example"));
        assert!(orders.verdict(&lease("slow.example", 7, 999)).is_some());
        assert!(orders.is_quiet(&lease("slow.example", 7, 999)));
        assert!(
            orders.verdict(&lease("slow.example", 7, 1001)).is_none(),
            "newer mail"
        );
        assert!(orders.verdict(&lease("other.example", 7, 999)).is_none());
        orders.withdraw(id);
        assert!(!orders.covers_domain("slow.example"));

        orders.give(Order {
            id: 0,
            domain: "slow.example".into(),
            message: Some(MessageId(7)),
            binding: None,
            before: 1000,
            quiet: false,
        });
        assert!(orders.verdict(&lease("slow.example", 7, 10)).is_some());
        assert!(!orders.is_quiet(&lease("slow.example", 7, 10)));
        assert!(
            orders.verdict(&lease("slow.example", 8, 10)).is_none(),
            "another message"
        );
    }
}
