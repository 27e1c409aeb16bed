//! Accepting mail from the SMTP listener: limits from the listener scopes, relay control, and
//! the durable commit that must happen before the 250.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use crate::store::Store;
use impulse_config::types::list_items;
use impulse_config::{Resolved, names};
use impulse_queue::Handle;
use impulse_smtp::inbound::{Credentials, Envelope, Inbound, Limits};
use impulse_smtp::{Address, ReversePath};
use impulse_spool::{Destination, NewMessage, NewRecipient, QueueStore, now_millis};
use impulse_telemetry::{Mainlog, Reception as ReceptionRecord};

use crate::live::LiveConfig;

pub struct Reception {
    pub cfg: LiveConfig,
    pub spool: Store,
    pub scheduler: Handle,
    pub mainlog: Option<Mainlog>,
    pub hostname: String,
    pub tls: crate::net::tls::ServerConfigs,
}

/// Whether a peer may have mail relayed to any domain by the listener rules that resolved to
/// `r`: `Always_Allow`, `Open_Relay` or `Relay_Hosts` (the ESMTP listener; the MM7 listener adds
/// credentials, see `mo_addresses`).
pub fn may_relay(r: &impulse_config::Receiving<'_>, peer: std::net::IpAddr) -> bool {
    r.bool(names::ALWAYS_ALLOW)
        || r.bool(names::OPEN_RELAY)
        || r.cidrs(names::RELAY_HOSTS).iter().any(|c| c.contains(peer))
}

impl Reception {
    /// Spools a message for its recipients and tells the scheduler. Used for SMTP receptions
    /// and for bounces Impulse generates itself.
    ///
    /// Addresses come in parsed ([`Address`]): whatever the source (SMTP, MM7, an MO SMS, a
    /// bounce), nothing reaches the spool that the SMTP client could not write safely.
    pub async fn spool_message(
        &self,
        sender: ReversePath,
        recipients: Vec<Address>,
        body: Vec<u8>,
        peer: String,
        protocol: &str,
    ) -> Result<String, String> {
        let received_at = now_millis();
        let size = body.len();
        let recipients: Vec<NewRecipient> = recipients
            .into_iter()
            .map(|address| NewRecipient {
                destination: Destination {
                    domain: address.domain_lower(),
                    binding: String::new(),
                },
                address: address.to_string(),
            })
            .collect();
        let dests: BTreeSet<Destination> =
            recipients.iter().map(|r| r.destination.clone()).collect();
        let message = NewMessage {
            sender: impulse_smtp::address::reverse_path_text(&sender),
            recipients,
            body,
            peer,
            protocol: protocol.to_string(),
            received_at,
        };
        let log_copy = self.mainlog.as_ref().map(|_| {
            (
                message.sender.clone(),
                message.peer.clone(),
                message
                    .recipients
                    .iter()
                    .map(|r| r.address.clone())
                    .collect::<Vec<_>>(),
            )
        });
        let id = self
            .spool
            .enqueue(message)
            .await
            .map_err(|e| e.to_string())?;
        let id = id.to_string();
        // SMS and MMS receptions are in the smpp and mms logs (Momentum's split); the mainlog
        // has them too only with Mainlog_Mobile_Records.
        let mobile = matches!(protocol, "smpp" | "mm7");
        if let (Some(log), Some((sender, peer, rcpts))) = (&self.mainlog, log_copy)
            && crate::ops::mobile_logs::mainlog_takes(&self.cfg.get(), mobile)
        {
            for r in &rcpts {
                log.reception(&ReceptionRecord {
                    message_id: &id,
                    recipient: r,
                    sender: &sender,
                    peer: &peer,
                    size,
                    protocol,
                    // Every message is received into the default binding (no policy assigns
                    // another).
                    binding_group: "default",
                    binding: "default",
                });
            }
        }
        for d in dests {
            self.scheduler.queued(d, received_at);
        }
        crate::ops::events::emit(crate::ops::events::Event::Received { protocol });
        Ok(id)
    }

    /// Spools a plain-text notice to `to` (a receipt or delivery report the original sender
    /// asked for or must know about), from MAILER-DAEMON and with the null envelope sender, as
    /// bounces are: a notice must never cause another notice.
    pub async fn notify_sender(
        &self,
        to: &Address,
        subject: &str,
        body: &str,
        peer: String,
        protocol: &str,
    ) -> Result<String, String> {
        let mail = impulse_interwork::mo::build_email(
            &format!("MAILER-DAEMON@{}", self.hostname),
            &to.to_string(),
            subject,
            body,
            impulse_interwork::mo::MailCharset::Utf8,
            impulse_interwork::mo::Stamp {
                date: now_millis() / 1000,
                host: &self.hostname,
            },
            &[],
        );
        self.spool_message(None, vec![to.clone()], mail, peer, protocol)
            .await
    }
}

impl Inbound for Reception {
    fn limits(&self, local: SocketAddr, peer: SocketAddr) -> (Limits, Duration) {
        let cfg = self.cfg.get();
        let r = cfg.receiving(Some(local), peer.ip());
        let allowed = r.bool(names::ALWAYS_ALLOW);
        let relay_any = may_relay(&r, peer.ip());
        let tls_config = crate::net::tls::cert_paths(&r)
            .and_then(|paths| self.tls.get(self.cfg.generation(), &paths));
        let policy = r
            .scalar(names::TLS)
            .unwrap_or_default()
            .to_ascii_lowercase();
        let implicit_tls = tls_config.is_some() && r.bool(names::USE_SSL);
        let auth = r.bool(names::ENABLE_AUTHENTICATION).then(|| {
            let entries = r.effective(names::AUTH_CREDENTIALS);
            Credentials::from_pairs(&entries.as_ref().map_or(vec![], |(v, _)| list_items(v)))
        });
        let limits = Limits {
            hostname: self.hostname.clone(),
            relay_any,
            denied: !allowed && r.bool(names::ALWAYS_DENY),
            max_message_size: r.size(names::MAX_MESSAGE_SIZE),
            max_recipients: r.u64(names::MAX_RECIPIENTS_PER_MESSAGE).max(1) as usize,
            max_receptions: r.u64(names::MAX_RECEPTIONS_PER_CONNECTION),
            // Relay peers and the host itself (local submission, load tools) are not limited,
            // as Postfix exempts $mynetworks.
            max_per_peer: if relay_any || peer.ip().is_loopback() {
                0
            } else {
                r.u64(names::MAX_CONNECTIONS_PER_PEER) as usize
            },
            starttls: tls_config.is_some() && !implicit_tls && policy != "no",
            // A listener told to require TLS but unable to load its certificate refuses mail
            // rather than take it in the clear.
            tls_required: policy == "required",
            implicit_tls,
            tls_config,
            auth,
        };
        (
            limits,
            r.seconds(names::TIMEOUT).max(Duration::from_secs(1)),
        )
    }

    fn auth_allowed(&self, peer: std::net::IpAddr) -> Result<(), Duration> {
        match crate::net::auth_guard::global().check(peer, std::time::Instant::now()) {
            crate::net::auth_guard::Gate::Open => Ok(()),
            crate::net::auth_guard::Gate::Locked(left) => Err(left),
        }
    }

    fn auth_outcome(&self, peer: std::net::IpAddr, ok: bool) -> Duration {
        if ok {
            Duration::ZERO
        } else {
            crate::net::auth_guard::global().failed(peer, "smtp", std::time::Instant::now())
        }
    }

    /// A domain of ours is taken from anyone, except a recipient of an SMPP domain that is not
    /// a phone number (where `SMPP_Destination_Flag` does not make it a distribution list
    /// name): refused at RCPT, as it could only bounce after 250.
    fn recipient(&self, address: &Address) -> impulse_smtp::inbound::Recipient {
        use impulse_smtp::inbound::Recipient;
        let cfg = self.cfg.get();
        if !cfg.is_configured_domain(address.domain()) {
            return Recipient::Elsewhere;
        }
        let lists = || {
            cfg.sending(Some(address.domain()), None)
                .scalar(names::SMPP_DESTINATION_FLAG)
                .is_some_and(|f| f.trim() == "2")
        };
        if crate::route::is_smpp_domain(&cfg, address.domain())
            && !lists()
            && let Err(e) = impulse_interwork::mt::destination(&address.to_string())
        {
            return Recipient::Refused(impulse_smtp::Reply::new(550, format!("5.1.3 {e}")));
        }
        Recipient::Ours
    }

    async fn accept(
        &self,
        peer: SocketAddr,
        env: Envelope,
        body: Vec<u8>,
    ) -> Result<String, String> {
        let protocol = match (env.tls, env.authenticated.is_some()) {
            (false, false) => "esmtp",
            (true, false) => "esmtps",
            (false, true) => "esmtpa",
            (true, true) => "esmtpsa",
        };
        self.spool_message(
            env.sender,
            env.recipients,
            body,
            peer.ip().to_string(),
            protocol,
        )
        .await
    }
}
