//! The per-destination delivery policy (retries, expiry, connection budget, suspension), read
//! from the live configuration for the scheduler; a destination is suspended on this node too
//! while another node holds its bind slots (`smpp::slots`).

use std::sync::Arc;
use std::time::Duration;

use impulse_config::{Resolved, names};
use impulse_queue::{DestinationPolicy, Policy};
use impulse_spool::Destination;

use crate::live::LiveConfig;
use crate::outbound::smpp::slots::BindSlots;
use crate::route::sending;

pub struct ConfigPolicy {
    pub cfg: LiveConfig,
    /// A destination whose bind slot another node holds is not delivered to from here.
    pub slots: Arc<BindSlots>,
}

impl Policy for ConfigPolicy {
    fn policy(&self, dest: &Destination) -> DestinationPolicy {
        let cfg = self.cfg.get();
        let s = sending(&cfg, dest);
        // An SMPP domain has one bind, shared by its delivery sessions: twice the window keeps
        // the window full while half the sessions record their outcomes.
        let max_connections = if crate::route::is_smpp_domain(&cfg, &dest.domain) {
            2 * s.u64(names::SMPP_COMMAND_WINDOW_SIZE).max(1) as usize
        } else {
            s.u64(names::MAX_OUTBOUND_CONNECTIONS).max(1) as usize
        };
        DestinationPolicy {
            max_connections,
            retry_interval: s
                .seconds(names::RETRY_INTERVAL)
                .max(Duration::from_millis(100)),
            max_retry_interval: s.seconds(names::MAX_RETRY_INTERVAL),
            max_retries: s.retries(names::MAX_RETRIES),
            expiration: s.seconds(names::MESSAGE_EXPIRATION),
            never_retry: s.bool(names::NEVER_RETRY),
            suspended: s.bool(names::SUSPEND_DELIVERY) || !self.slots.may_deliver(&cfg, dest),
            idle_timeout: s.seconds(names::IDLE_TIMEOUT),
        }
    }
}
