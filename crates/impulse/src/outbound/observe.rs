//! Delivery observation in one place: every recipient's outcome is counted (console counters,
//! Prometheus), written to the mainlog (SMTP, and SMS/MMS with `Mainlog_Mobile_Records`), and
//! failures are bounced to the sender. The connectors decide; they do not log outcomes.

use std::sync::{Arc, OnceLock};

use impulse_config::{Resolved, names};
use impulse_queue::{Observer, Report};
use impulse_smtp::dsn::{FailedRecipient, Original, delivery_status_notification};
use impulse_spool::{Outcome, StoredMessage, now_millis};
use impulse_telemetry::{Delivery, Failure, Mainlog};

use crate::inbound::reception::Reception;
use crate::live::LiveConfig;
use crate::ops::events::{self, Event, Settled};
use crate::outbound::fail_orders::FailOrders;
use crate::route::sending;

/// Writes mainlog records and sends bounces.
pub struct DeliveryObserver {
    pub cfg: LiveConfig,
    pub mainlog: Option<Mainlog>,
    pub hostname: String,
    /// Set once the reception side exists (it needs the scheduler, which needs this observer).
    pub reception: Arc<OnceLock<Arc<Reception>>>,
    /// A `quiet` fail order's failures are not bounced.
    pub fail_orders: Arc<FailOrders>,
}

impl Observer for DeliveryObserver {
    async fn outcomes(&self, message: Option<&StoredMessage>, reports: &[Report<'_>]) {
        let now = now_millis();
        let size = message.map_or(0, |m| m.body.len());
        let id = reports
            .first()
            .map(|r| r.lease.message.to_string())
            .unwrap_or_default();
        let cfg = self.cfg.get();
        for r in reports {
            let domain = &r.lease.destination.domain;
            let protocol = crate::route::protocol_of(&cfg, domain);
            let settled = match r.outcome {
                Outcome::Delivered { .. } => Some(Settled::Delivered),
                Outcome::Retry { .. } => Some(Settled::Deferred),
                Outcome::Failed { .. } => Some(Settled::Failed),
                _ => None,
            };
            if let Some(settled) = settled {
                events::emit(Event::Recipient {
                    settled,
                    protocol,
                    domain: crate::route::domain_label(&cfg, domain),
                });
            }
            let seconds = (now - r.lease.received_at) / 1000;
            let remote = r.attempt.remote.as_deref().unwrap_or("");
            // SMPP and MM7 outcomes are in the smpp and mms logs; the mainlog has SMTP's (and
            // the others with Mainlog_Mobile_Records).
            let mobile = protocol != "smtp";
            let mainlog = self
                .mainlog
                .as_ref()
                .filter(|_| crate::ops::mobile_logs::mainlog_takes(&cfg, mobile));
            let binding = crate::route::binding_name(&r.lease.destination.binding);
            let binding_group =
                crate::route::binding_group_name(&cfg, &r.lease.destination.binding);
            match (r.outcome, mainlog) {
                (Outcome::Delivered { .. }, Some(log)) => log.delivery(&Delivery {
                    message_id: &id,
                    recipient_id: r.lease.recipient.0,
                    domain: &r.lease.destination.domain,
                    size,
                    binding_group,
                    binding,
                    retries: r.lease.attempts,
                    seconds,
                    remote,
                }),
                (Outcome::Retry { .. } | Outcome::Failed { .. }, Some(log)) => {
                    let error = match r.outcome {
                        Outcome::Failed { response } => response.as_str(),
                        _ => r.attempt.response.as_str(),
                    };
                    let failure = Failure {
                        message_id: &id,
                        recipient_id: r.lease.recipient.0,
                        domain: &r.lease.destination.domain,
                        bytes_sent: if r.attempt.stage >= 8 { size } else { 0 },
                        binding_group,
                        binding,
                        stage: r.attempt.stage,
                        retries: r.lease.attempts,
                        seconds,
                        remote,
                        error,
                    };
                    log.failure(&failure, matches!(r.outcome, Outcome::Failed { .. }));
                }
                (Outcome::Quarantined { reason }, _) => {
                    tracing::error!(message = %id, recipient = %r.lease.address, %reason, "record quarantined");
                }
                _ => {}
            }
        }
        self.bounce(message, reports).await;
    }
}

impl DeliveryObserver {
    /// One DSN per message listing its failed recipients, unless the sender is the null
    /// sender (never bounce a bounce) or Generate_Bounces is off for the destination.
    async fn bounce(&self, message: Option<&StoredMessage>, reports: &[Report<'_>]) {
        let cfg = self.cfg.get();
        let failed: Vec<FailedRecipient> = reports
            .iter()
            .filter_map(|r| match r.outcome {
                Outcome::Failed { response }
                    if sending(&cfg, &r.lease.destination).bool(names::GENERATE_BOUNCES)
                        && !self.fail_orders.is_quiet(r.lease) =>
                {
                    Some(FailedRecipient {
                        address: r.lease.address.clone(),
                        response: response.clone(),
                        remote_mta: r.attempt.remote.clone(),
                    })
                }
                _ => None,
            })
            .collect();
        if failed.is_empty() {
            return;
        }
        let Some(message) = message else {
            tracing::error!("a recipient failed but its message is unreadable; no bounce sent");
            return;
        };
        let to = match impulse_smtp::address::parse_reverse_path(&message.sender) {
            Ok(Some(to)) => to,
            Ok(None) => {
                tracing::info!(message = %message.id, "bounce not sent: the message has the null sender");
                return;
            }
            Err(e) => {
                tracing::warn!(message = %message.id, sender = ?message.sender, error = %e, "bounce not sent: the sender is not a mail address");
                return;
            }
        };
        let Some(reception) = self.reception.get() else {
            return;
        };
        let original = Original {
            sender: &message.sender,
            message: &message.body,
            arrival: message.received_at / 1000,
        };
        let dsn = delivery_status_notification(&self.hostname, &original, &failed);
        match reception
            .spool_message(None, vec![to], dsn, "internal".into(), "internal")
            .await
        {
            Ok(id) => {
                tracing::info!(message = %message.id, bounce = %id, "bounce queued to the sender")
            }
            Err(e) => {
                tracing::error!(message = %message.id, error = %e, "could not spool a bounce")
            }
        }
    }
}
