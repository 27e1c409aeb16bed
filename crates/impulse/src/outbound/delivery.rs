//! Delivery wiring: the SMTP connector (Gateway, Routes or MX), the per-destination policy
//! read from the configuration, and the observer that writes mainlog records and bounces.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use impulse_config::types::{Route, parse_host_port};
use impulse_config::{Resolved, names};
use impulse_queue::{Attempt, Connector, DestinationPolicy, Observer, Policy, Report, Verdict};
use impulse_smtp::dsn::{FailedRecipient, Original, delivery_status_notification};
use impulse_smtp::outbound::{ClientError, Connection, Hop, TlsPolicy, addresses, mx_hops};
use impulse_smtp::reply::Class;
use impulse_smtp::{Address, AddressError};
use impulse_spool::{Destination, Lease, Outcome, StoredMessage, now_millis};
use impulse_telemetry::{Delivery, Failure, Mainlog};

use crate::inbound::reception::Reception;
use crate::live::LiveConfig;
use crate::ops::counters::Counters;
use crate::outbound::fail_orders::FailOrders;
use crate::outbound::mm7::Mm7Connector;
use crate::outbound::smpp::SmppConnector;
use crate::route::sending;

pub struct ConfigPolicy {
    pub cfg: LiveConfig,
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
            suspended: s.bool(names::SUSPEND_DELIVERY),
            idle_timeout: s.seconds(names::IDLE_TIMEOUT),
        }
    }
}

pub struct SmtpConnector {
    pub cfg: LiveConfig,
    pub hostname: String,
    resolver: OnceLock<Option<TokioResolver>>,
    /// TLS client configurations: the opportunistic one (no verification) and, by
    /// `TLS_CA_File`, the verifying ones `TLS = required` uses.
    opportunistic: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
    verifying: std::sync::Mutex<HashMap<Option<String>, Arc<rustls::ClientConfig>>>,
}

impl SmtpConnector {
    pub fn new(cfg: LiveConfig, hostname: String) -> Self {
        SmtpConnector {
            cfg,
            hostname,
            resolver: OnceLock::new(),
            opportunistic: OnceLock::new(),
            verifying: Default::default(),
        }
    }

    /// STARTTLS as the destination's `TLS` says: `ifavailable`/`allow` (the default) encrypt
    /// when the server offers it, `required` insists and verifies the certificate (Mozilla's
    /// roots plus `TLS_CA_File`), `no` never tries.
    fn tls_policy(&self, s: &impl Resolved) -> Result<TlsPolicy, String> {
        match s
            .scalar(names::TLS)
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str()
        {
            "no" => Ok(TlsPolicy::No),
            "required" => {
                let ca = s.scalar(names::TLS_CA_FILE);
                let mut cache = self.verifying.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(c) = cache.get(&ca) {
                    return Ok(TlsPolicy::Required(c.clone()));
                }
                let c = impulse_smpp::tls::client_config(true, ca.as_deref().map(Path::new))
                    .map_err(|e| format!("TLS_CA_File: {e}"))?;
                cache.insert(ca, c.clone());
                Ok(TlsPolicy::Required(c))
            }
            _ => self
                .opportunistic
                .get_or_init(|| impulse_smpp::tls::client_config(false, None))
                .clone()
                .map(TlsPolicy::Opportunistic),
        }
    }

    /// Forgets every cached DNS answer (console `refresh domain`): the next MX and address
    /// look-ups ask the name servers again.
    pub fn clear_dns_cache(&self) {
        if let Some(Some(r)) = self.resolver.get() {
            r.clear_cache();
        }
    }

    fn resolver(&self) -> Option<&TokioResolver> {
        self.resolver
            .get_or_init(|| match TokioResolver::builder_tokio().and_then(|b| b.build()) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::error!(error = %e, "cannot set up the DNS resolver; MX routing is unavailable");
                    None
                }
            })
            .as_ref()
    }

    async fn mx(&self, domain: &str) -> Result<Vec<Hop>, Attempt> {
        let Some(resolver) = self.resolver() else {
            return Err(temporary(
                "451 4.4.3 DNS resolver unavailable".into(),
                None,
                0,
            ));
        };
        mx_hops(resolver, domain).await.map_err(|e| Attempt {
            verdict: if e.permanent {
                Verdict::Permanent
            } else {
                Verdict::Temporary
            },
            response: e.response,
            remote: None,
            stage: 0,
        })
    }

    /// Gateway, else Routes, else MX (docs/reference/momentum.md §6.5).
    async fn hops(&self, dest: &Destination) -> Result<Vec<Hop>, Attempt> {
        let cfg = self.cfg.get();
        let s = sending(&cfg, dest);
        // A Gateway and Routes compete: the one set in the more specific scope decides (a
        // domain's Routes over a global Gateway, a domain's Gateway over global Routes); in
        // the same scope, the Gateway.
        let routes_at = s.effective(names::ROUTES).map(|(_, o)| o.specificity());
        if let Some((gateway, at)) = s.effective(names::GATEWAY)
            && routes_at.is_none_or(|r| r <= at.specificity())
            && let Some(gateway) = gateway.as_scalar()
        {
            let (host, port) = parse_host_port(gateway, 25)
                .map_err(|e| temporary(format!("451 4.3.5 {e}"), None, 0))?;
            return Ok(vec![Hop { host, port }]);
        }
        let routes = s.routes(names::ROUTES);
        if routes.is_empty() {
            return self.mx(&dest.domain).await;
        }
        let mut hops = Vec::new();
        for route in routes {
            match route {
                Route::Smtp { host, port, .. } => hops.push(Hop { host, port }),
                Route::Mx => hops.extend(self.mx(&dest.domain).await?),
                // An MM7 route on a domain that delivers by SMTP names no SMTP hop.
                Route::Http { .. } => {}
            }
        }
        if hops.is_empty() {
            return Err(temporary(
                "451 4.3.5 the domain's Routes name no SMTP hop (an mm7:// route needs Delivery_Method = mm7)".into(),
                None,
                0,
            ));
        }
        Ok(hops)
    }
}

fn temporary(response: String, remote: Option<String>, stage: u8) -> Attempt {
    Attempt {
        verdict: Verdict::Temporary,
        response,
        remote,
        stage,
    }
}

fn client_attempt(e: &ClientError, remote: Option<String>) -> Attempt {
    Attempt {
        verdict: if e.is_permanent() {
            Verdict::Permanent
        } else {
            Verdict::Temporary
        },
        response: e.response(),
        remote,
        stage: e.stage as u8,
    }
}

impl Connector for SmtpConnector {
    type Session = Connection;

    async fn open(&self, dest: &Destination) -> Result<Connection, Attempt> {
        let hops = self.hops(dest).await?;
        let addrs = addresses(&hops)
            .await
            .map_err(|e| temporary(e.response, None, 0))?;
        let cfg = self.cfg.get();
        let s = sending(&cfg, dest);
        let bind = s.scalar(names::BIND_ADDRESS).and_then(|a| a.parse().ok());
        let ehlo = s
            .scalar(names::EHLO_HOSTNAME)
            .unwrap_or_else(|| self.hostname.clone());
        let timeout = s
            .seconds(names::SMTP_COMMAND_TIMEOUT)
            .max(Duration::from_secs(1));
        let tls = self
            .tls_policy(&s)
            .map_err(|e| temporary(format!("451 4.7.5 {e}"), None, 0))?;
        Connection::connect_tls(&addrs, bind, &ehlo, timeout, &tls)
            .await
            .map_err(|e| client_attempt(&e, None))
    }

    async fn deliver(
        &self,
        conn: &mut Connection,
        message: &StoredMessage,
        recipients: &[Lease],
    ) -> Result<Vec<Attempt>, Attempt> {
        let remote = Some(conn.remote.ip().to_string());
        // Addresses were parsed when the message was received; they are parsed again here, so
        // that only an `Address` ever reaches the SMTP client's command lines.
        let sender = impulse_smtp::address::parse_reverse_path(&message.sender).map_err(|e| {
            let mut a = temporary(
                format!("550 5.1.7 the stored sender is not a mail address: {e}"),
                None,
                0,
            );
            a.verdict = Verdict::Permanent;
            a
        })?;
        let parsed: Vec<Result<Address, AddressError>> = recipients
            .iter()
            .map(|l| Address::parse(&l.address))
            .collect();
        let rcpts: Vec<Address> = parsed.iter().filter_map(|r| r.clone().ok()).collect();
        let mut replies = if rcpts.is_empty() {
            Vec::new().into_iter()
        } else {
            match conn.send(&sender, &rcpts, &message.body).await {
                Ok(replies) => replies.into_iter(),
                Err(e) => return Err(client_attempt(&e, remote)),
            }
        };
        Ok(parsed
            .into_iter()
            .map(|p| match p {
                Err(e) => Attempt {
                    verdict: Verdict::Permanent,
                    response: format!("553 5.1.3 the stored recipient is not a mail address: {e}"),
                    remote: None,
                    stage: 0,
                },
                Ok(_) => {
                    let (r, stage) = replies.next().expect("one reply per recipient sent");
                    Attempt {
                        verdict: match r.class() {
                            Class::Positive => Verdict::Delivered,
                            Class::Temporary | Class::Intermediate => Verdict::Temporary,
                            Class::Permanent => Verdict::Permanent,
                        },
                        response: r.to_string(),
                        remote: remote.clone(),
                        stage: stage as u8,
                    }
                }
            })
            .collect())
    }

    async fn close(&self, conn: Connection) {
        conn.quit().await;
    }
}

/// Writes mainlog records and sends bounces.
pub struct DeliveryObserver {
    pub cfg: LiveConfig,
    pub mainlog: Option<Mainlog>,
    pub hostname: String,
    /// Set once the reception side exists (it needs the scheduler, which needs this observer).
    pub reception: Arc<OnceLock<Arc<Reception>>>,
    pub counters: Arc<Counters>,
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
            let labels = || {
                [
                    ("protocol", protocol.to_string()),
                    ("domain", crate::route::domain_label(&cfg, domain)),
                ]
            };
            match r.outcome {
                Outcome::Delivered { .. } => {
                    Counters::add(&self.counters.delivered);
                    metrics::counter!("impulse_recipients_delivered_total", &labels()).increment(1);
                }
                Outcome::Retry { .. } => {
                    Counters::add(&self.counters.deferred);
                    metrics::counter!("impulse_recipients_deferred_total", &labels()).increment(1);
                }
                Outcome::Failed { .. } => {
                    Counters::add(&self.counters.failed);
                    metrics::counter!("impulse_recipients_failed_total", &labels()).increment(1);
                }
                _ => {}
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

/// Chooses the delivery method of a destination (`route`): SMPP for SMPP domains, MM7 for MM7
/// domains, SMTP for the rest; applies operators' fail orders and `Outbound_Throttle_*` first.
pub struct Router {
    pub cfg: LiveConfig,
    pub smtp: Arc<SmtpConnector>,
    pub smpp: Arc<SmppConnector>,
    pub mm7: Arc<Mm7Connector>,
    pub fail_orders: Arc<FailOrders>,
    /// `Outbound_Throttle_Messages` / `_Connections`, shared by the scope that sets them.
    pub throttles: Arc<crate::outbound::throttle::Throttles>,
}

/// A session of the connector the router chose: each arm is driven through the same
/// [`Connector`] interface.
pub enum RoutedSession {
    Smtp(<SmtpConnector as Connector>::Session),
    Smpp(<SmppConnector as Connector>::Session),
    Mm7(<Mm7Connector as Connector>::Session),
    /// Opened while an operator fail order covered the domain: no connection is made until a
    /// recipient the order does not name needs one.
    Deferred(Destination),
}

impl Router {
    async fn open_now(&self, dest: &Destination) -> Result<RoutedSession, Attempt> {
        let cfg = self.cfg.get();
        if crate::route::is_smpp_domain(&cfg, &dest.domain) {
            self.smpp.open(dest).await.map(RoutedSession::Smpp)
        } else if crate::route::is_mm7_domain(&cfg, &dest.domain) {
            self.mm7.open(dest).await.map(RoutedSession::Mm7)
        } else {
            self.throttles
                .acquire(
                    &self.cfg,
                    crate::outbound::throttle::CONNECTIONS,
                    &dest.domain,
                    &dest.binding,
                )
                .await;
            self.smtp.open(dest).await.map(RoutedSession::Smtp)
        }
    }

    async fn deliver_now(
        &self,
        session: &mut RoutedSession,
        message: &StoredMessage,
        recipients: &[Lease],
    ) -> Result<Vec<Attempt>, Attempt> {
        if let RoutedSession::Deferred(dest) = session {
            *session = self.open_now(&dest.clone()).await?;
        }
        if let Some(first) = recipients.first() {
            // One message, whatever its recipients (Momentum's unit).
            let dest = &first.destination;
            self.throttles
                .acquire(
                    &self.cfg,
                    crate::outbound::throttle::MESSAGES,
                    &dest.domain,
                    &dest.binding,
                )
                .await;
        }
        match session {
            RoutedSession::Smtp(c) => self.smtp.deliver(c, message, recipients).await,
            RoutedSession::Smpp(s) => self.smpp.deliver(s, message, recipients).await,
            RoutedSession::Mm7(s) => self.mm7.deliver(s, message, recipients).await,
            RoutedSession::Deferred(_) => unreachable!("opened above"),
        }
    }
}

impl Connector for Router {
    type Session = RoutedSession;

    async fn open(&self, dest: &Destination) -> Result<RoutedSession, Attempt> {
        if self.fail_orders.covers_domain(&dest.domain) {
            return Ok(RoutedSession::Deferred(dest.clone()));
        }
        self.open_now(dest).await
    }

    /// Recipients an operator fail order names fail here; the others are delivered.
    async fn deliver(
        &self,
        session: &mut RoutedSession,
        message: &StoredMessage,
        recipients: &[Lease],
    ) -> Result<Vec<Attempt>, Attempt> {
        let ordered: Vec<Option<Attempt>> = recipients
            .iter()
            .map(|l| self.fail_orders.verdict(l))
            .collect();
        if ordered.iter().all(Option::is_none) {
            return self.deliver_now(session, message, recipients).await;
        }
        let rest: Vec<Lease> = recipients
            .iter()
            .zip(&ordered)
            .filter(|(_, o)| o.is_none())
            .map(|(l, _)| l.clone())
            .collect();
        let mut delivered = if rest.is_empty() {
            Vec::new()
        } else {
            match self.deliver_now(session, message, &rest).await {
                Ok(attempts) => attempts,
                Err(e) => vec![e; rest.len()],
            }
        }
        .into_iter();
        Ok(ordered
            .into_iter()
            .map(|o| {
                o.or_else(|| delivered.next())
                    .unwrap_or_else(|| temporary("451 4.3.0 no outcome".into(), None, 0))
            })
            .collect())
    }

    async fn close(&self, session: RoutedSession) {
        match session {
            RoutedSession::Smtp(s) => self.smtp.close(s).await,
            RoutedSession::Smpp(s) => self.smpp.close(s).await,
            RoutedSession::Mm7(s) => self.mm7.close(s).await,
            RoutedSession::Deferred(_) => {}
        }
    }
}
