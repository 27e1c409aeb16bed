//! The SMTP connector: where a domain's mail goes (Gateway, Routes or MX through DNS), the
//! client connection with its TLS policy, and how each reply or error becomes an attempt.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use impulse_config::types::{Route, parse_host_port};
use impulse_config::{Resolved, names};
use impulse_queue::{Attempt, Connector, Verdict};
use impulse_smtp::outbound::{ClientError, Connection, Hop, TlsPolicy, addresses, mx_hops};
use impulse_smtp::reply::Class;
use impulse_smtp::{Address, AddressError};
use impulse_spool::{Destination, Lease, StoredMessage};

use crate::live::LiveConfig;
use crate::route::sending;

/// Delivers mail over SMTP to a domain's hops, one connection per session, with the
/// destination's TLS policy; caches DNS answers (`refresh domain` forgets them).
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
                let c = impulse_tls::client_config(true, ca.as_deref().map(Path::new))
                    .map_err(|e| format!("TLS_CA_File: {e}"))?;
                cache.insert(ca, c.clone());
                Ok(TlsPolicy::Required(c))
            }
            _ => self
                .opportunistic
                .get_or_init(|| impulse_tls::client_config(false, None))
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

pub(crate) fn temporary(response: String, remote: Option<String>, stage: u8) -> Attempt {
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
