//! The router: the scheduler's one connector. It chooses SMTP, SMPP or MM7 per destination
//! (`route`), applies operators' fail orders and `Outbound_Throttle_*`, and drives the chosen
//! connector through the same `Connector` interface.

use std::sync::Arc;

use impulse_queue::{Attempt, Connector};
use impulse_spool::{Destination, Lease, StoredMessage};

use crate::live::LiveConfig;
use crate::outbound::fail_orders::FailOrders;
use crate::outbound::mm7::Mm7Connector;
use crate::outbound::smpp::SmppConnector;
use crate::outbound::smtp::{SmtpConnector, temporary};

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
