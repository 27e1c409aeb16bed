//! MM7 delivery (docs/reference/momentum.md §1.5): a domain setting `MM7_MMSC_Server`, or whose
//! `Delivery_Method` is `mm7`, is an MM7 domain. Each recipient's mail becomes one SubmitReq
//! (SOAP with attachments) POSTed to the MMSC on a pooled keep-alive connection; the
//! SubmitRsp status class decides delivered / temporary / permanent
//! (`StatusCode::is_temporary`, docs/decisions/0008-mm7.md); the MessageID it returns is kept
//! in the spool so that DeliveryReportReq and ReadReplyReq find the message again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::store::Store;
use impulse_config::types::Route;
use impulse_config::{Config, Resolved, Sending, names};
use impulse_interwork::{mms, mt};
use impulse_mm7::*;
use impulse_queue::{Attempt, Connector, Verdict};
use impulse_spool::{Destination, Lease, MobileStore, StoredMessage, Submission, now_millis};

use impulse_telemetry::{LogFields, Record};

use crate::live::LiveConfig;
use crate::ops::events::{self, Event};
use crate::ops::mobile_logs::MobileLogs;
use crate::route::{is_mm7_domain, sending};
use impulse_http::{self as http_server, HttpClient, PostError};

/// A target's TLS: `None` for plain HTTP, else whether the MMSC's certificate is verified
/// and the extra CA file.
type TlsKey = Option<(bool, Option<String>)>;

/// The TLS configuration of a plain-HTTP client, which never uses it (its URLs are `http://`).
fn plain_http_tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: std::sync::OnceLock<Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            impulse_tls::client_config(true, None).expect("Mozilla's roots always load")
        })
        .clone()
}

/// Where and how a domain's SubmitReqs go, resolved from its sending scope.
struct Target {
    url: String,
    /// `MM7_TLS`: `Some((verify, CA file))` for HTTPS.
    tls: TlsKey,
    tls_config: Arc<rustls::ClientConfig>,
    /// `host:port` of the MMSC, for the logs.
    peer: String,
    host_header: Option<String>,
    authorization: Option<String>,
    http10: bool,
    response_timer: Duration,
    /// How long an idle keep-alive connection to the MMSC is kept: `Idle_Timeout` when the
    /// configuration sets it (3.5.6 style), else `MM7_Inactivity_Timer`.
    idle: Duration,
    schema: Schema,
    version: String,
    write: WriteOptions,
    simple_text: bool,
    max_size: usize,
    /// `MM7_Number_Prefix`.
    number_prefix: String,
    /// What every SubmitReq of the destination carries; each gets its recipient, time stamp
    /// and subject.
    template: SubmitReq,
}

fn target(s: &Sending) -> Result<Target, String> {
    let (host, port, path) = if let Some(server) = s.scalar(names::MM7_MMSC_SERVER) {
        let port = s.u64(names::MM7_MMSC_PORT);
        let path = s.scalar(names::MM7_MMSC_PATH).unwrap_or_else(|| "/".into());
        (server, port as u16, path)
    } else {
        match s.routes(names::ROUTES).into_iter().find_map(|r| match r {
            Route::Http {
                host, port, path, ..
            } => Some((host, port, path)),
            _ => None,
        }) {
            Some(r) => r,
            None => match s.scalar(names::HTTP_HOST) {
                Some(h) => {
                    let (h, p) = impulse_config::types::parse_host_port(&h, 80)?;
                    (h, p, "/".into())
                }
                None => {
                    return Err(
                        "an MM7 domain needs MM7_MMSC_Server, an mm7:// route or HTTP_Host".into(),
                    );
                }
            },
        }
    };
    let uri = s
        .scalar(names::HTTP_URI)
        .filter(|u| !u.is_empty())
        .unwrap_or(path);
    let uri = if uri.starts_with('/') {
        uri
    } else {
        format!("/{uri}")
    };
    let host_in_url = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let peer = format!("{host_in_url}:{port}");
    let tls = s.bool(names::MM7_TLS).then(|| {
        (
            s.bool(names::MM7_TLS_VERIFY),
            s.scalar(names::MM7_TLS_CA_FILE),
        )
    });
    let tls_config = match &tls {
        Some((verify, ca_file)) => {
            impulse_tls::client_config(*verify, ca_file.as_deref().map(std::path::Path::new))
                .map_err(|e| format!("MM7_TLS: {e}"))?
        }
        None => plain_http_tls_config(),
    };
    if let Some((false, _)) = tls {
        tracing::warn!(mmsc = %peer, "MM7 over HTTPS WITHOUT certificate verification");
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{peer}{uri}");
    let authorization = match (
        s.scalar(names::MM7_HTTP_AUTH_USER),
        s.scalar(names::HTTP_BASIC_AUTH),
    ) {
        (Some(user), _) => Some(http_server::basic_auth(&format!(
            "{user}:{}",
            s.scalar(names::MM7_HTTP_AUTH_PASSWORD).unwrap_or_default()
        ))),
        (None, Some(up)) => Some(http_server::basic_auth(&up)),
        (None, None) => None,
    };
    let schema_uri = s.scalar(names::MM7_XML_SCHEMA).unwrap_or_default();
    let schema = if schema_uri.is_empty() {
        Schema::Rel6_1_4
    } else {
        Schema::from_namespace(&schema_uri)
            .ok_or_else(|| format!("MM7_XML_Schema {schema_uri:?} names no MM7 schema"))?
    };
    let prefix = s.bool(names::MM7_USE_NAMESPACE_IN_BODY).then(|| {
        s.scalar(names::MM7_NAMESPACE)
            .unwrap_or_else(|| "mm7".into())
    });
    Ok(Target {
        url,
        tls,
        tls_config,
        peer,
        host_header: s.scalar(names::HTTP_HOST),
        authorization,
        http10: s.scalar(names::HTTP_VERSION).as_deref() == Some("1.0"),
        response_timer: s
            .seconds(names::MM7_RESPONSE_TIMER)
            .max(Duration::from_millis(100)),
        idle: s
            .find(names::IDLE_TIMEOUT.def())
            .map_or_else(
                || s.seconds(names::MM7_INACTIVITY_TIMER),
                |_| s.seconds(names::IDLE_TIMEOUT),
            )
            .max(Duration::from_secs(1)),
        schema,
        version: s
            .scalar(names::MM7_VERSION)
            .unwrap_or_else(|| schema.newest_version().into()),
        write: WriteOptions {
            env_prefix: s
                .scalar(names::MM7_SOAP_ENV)
                .unwrap_or_else(|| "env".into()),
            mm7_prefix: prefix,
        },
        simple_text: s.bool(names::MM7_SOAP_ATTACHMENT_SIMPLE_MIME),
        max_size: s.size(names::MM7_MAX_MESSAGE_SIZE) as usize,
        number_prefix: s.scalar(names::MM7_NUMBER_PREFIX).unwrap_or_default(),
        template: SubmitReq {
            sender: SenderIdentification {
                vaspid: s.scalar(names::MM7_VASPID),
                vasid: s.scalar(names::MM7_VASID),
                sender_address: s
                    .scalar(names::MM7_SENDER_ADDRESS)
                    .as_deref()
                    .and_then(sender_address),
            },
            service_code: s.scalar(names::MM7_SERVICE_CODE),
            message_class: s.scalar(names::MM7_MESSAGE_CLASS),
            reply_charging: s.bool(names::MM7_REPLY_CHARGING).then(|| ReplyCharging {
                size: Some(s.u64(names::MM7_REPLY_CHARGING_SIZE)).filter(|n| *n > 0),
                deadline: s.scalar(names::MM7_REPLY_DEADLINE),
            }),
            delivery_report: Some(s.bool(names::MM7_DELIVERY_REPORT)),
            read_reply: Some(s.bool(names::MM7_READ_REPLY)),
            content: Some(ContentRef {
                href: format!("cid:{}", multipart::CONTENT_ID),
                allow_adaptations: Some(true),
            }),
            extension_xml: s.scalar(names::MM7_REQUEST_IE_EXTENDED),
            ..Default::default()
        },
    })
}

/// Checks every MM7 domain's settings at config check (the URL can be built, the schema is
/// known); returns the problems as diagnostics.
pub fn validate(cfg: &Config) -> Vec<impulse_config::Diagnostic> {
    cfg.domain_names()
        .into_iter()
        .filter(|d| is_mm7_domain(cfg, d))
        .filter_map(|d| {
            target(&cfg.sending(Some(d), None))
                .err()
                .map(|e| impulse_config::Diagnostic {
                    span: None,
                    message: format!("domain \"{d}\": {e}"),
                })
        })
        .collect()
}

/// `MM7_Sender_Address` is raw addressType XML (`<ShortCode>28444</ShortCode>`); plain text is
/// taken as a number, or an e-mail address when it has an `@`.
fn sender_address(raw: &str) -> Option<Address> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if let Some(rest) = raw.strip_prefix('<') {
        let name_end = rest.find(|c: char| c == '>' || c.is_whitespace())?;
        let name = &rest[..name_end];
        let value_start = rest.find('>')? + 1;
        let value_end = rest[value_start..].find('<')? + value_start;
        let value = rest[value_start..value_end].trim().to_string();
        let kind = match name
            .rsplit(':')
            .next()
            .unwrap_or(name)
            .to_ascii_lowercase()
            .as_str()
        {
            "shortcode" => AddressKind::ShortCode,
            "rfc2822address" => AddressKind::Rfc2822,
            _ => AddressKind::Number,
        };
        return Some(Address {
            kind,
            value,
            display_only: false,
        });
    }
    Some(if raw.contains('@') {
        Address::email(raw)
    } else {
        Address::number(raw)
    })
}

/// What one MM7 domain's SubmitReqs did since start, for the console and the status page.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Mm7DomainStats {
    pub domain: String,
    pub url: String,
    /// SubmitReqs sent and not yet answered.
    pub in_flight: u64,
    pub submitted: u64,
    pub accepted: u64,
    /// Answered with a temporary failure, or not answered.
    pub deferred: u64,
    pub refused: u64,
    /// The last MM7 status code, or what happened instead (`timeout`, `HTTP 500`).
    pub last_status: String,
}

pub struct Mm7Connector {
    cfg: LiveConfig,
    spool: Store,
    logs: Arc<MobileLogs>,
    /// Each destination's settings, resolved once per configuration (a reload empties it).
    targets: Mutex<HashMap<Destination, Arc<Target>>>,
    /// One keep-alive pool per idle timeout in use.
    clients: Mutex<HashMap<(Duration, TlsKey), HttpClient>>,
    stats: Mutex<std::collections::BTreeMap<String, Mm7DomainStats>>,
}

impl Mm7Connector {
    pub fn new(cfg: LiveConfig, spool: Store, logs: Arc<MobileLogs>) -> Self {
        Mm7Connector {
            cfg,
            spool,
            logs,
            targets: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
            stats: Mutex::new(std::collections::BTreeMap::new()),
        }
    }

    /// Each MM7 domain's SubmitReq figures since start.
    pub fn stats(&self) -> Vec<Mm7DomainStats> {
        self.stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    fn note(&self, domain: &str, url: &str, change: impl FnOnce(&mut Mm7DomainStats)) {
        let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        if !stats.contains_key(domain) {
            stats.insert(
                domain.to_string(),
                Mm7DomainStats {
                    domain: domain.to_string(),
                    ..Mm7DomainStats::default()
                },
            );
        }
        let Some(entry) = stats.get_mut(domain) else {
            return;
        };
        // A reload may point the domain at another MMSC.
        if entry.url != url {
            entry.url = url.to_string();
        }
        change(entry);
    }

    fn target(&self, dest: &Destination) -> Result<Arc<Target>, String> {
        let mut cache = self.targets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = cache.get(dest) {
            return Ok(t.clone());
        }
        let t = Arc::new(target(&sending(&self.cfg.get(), dest))?);
        cache.insert(dest.clone(), t.clone());
        Ok(t)
    }

    /// Forgets the settings resolved under the previous configuration: the next SubmitReq of
    /// each domain resolves them again. Requests under way finish with the old ones.
    pub fn reconfigured(&self) {
        self.targets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The keep-alive pool of a target: one per idle time and TLS setting.
    fn client(&self, t: &Target) -> HttpClient {
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((t.idle, t.tls.clone()))
            .or_insert_with(|| http_server::client(t.idle, &t.tls_config))
            .clone()
    }

    /// One SubmitReq per recipient, each with its own result.
    pub async fn submit(
        &self,
        message: &StoredMessage,
        recipients: &[Lease],
    ) -> Result<Vec<Attempt>, Attempt> {
        let Some(first) = recipients.first() else {
            return Ok(Vec::new());
        };
        let target = self
            .target(&first.destination)
            .map_err(|e| attempt(Verdict::Temporary, format!("451 4.3.5 {e}"), None))?;
        let mms = match mms::from_email(&message.body, target.simple_text, target.max_size) {
            Ok(m) => m,
            Err(e) => {
                for lease in recipients {
                    let fields = log_fields(&target, message, lease, "");
                    self.logs.failed(
                        &LogFields {
                            error: e.response(),
                            ..fields
                        },
                        true,
                    );
                }
                return Ok(recipients
                    .iter()
                    .map(|_| attempt(Verdict::Permanent, e.response(), None))
                    .collect());
            }
        };
        if !mms.dropped.is_empty() {
            tracing::info!(message = %message.id, dropped = ?mms.dropped, "attachments an MMS cannot carry were left out");
        }
        let mut out = Vec::with_capacity(recipients.len());
        for lease in recipients {
            let a = self.submit_one(&target, message, lease, &mms).await;
            if out.is_empty() && a.response.starts_with(NOT_CONNECTED) {
                // The MMSC cannot be reached: the destination, not this message, failed.
                // Stage 0 (nothing sent) tells the scheduler to hold the destination's queue
                // until it answers again, rather than give each message its retry interval.
                return Err(Attempt { stage: 0, ..a });
            }
            out.push(a);
        }
        Ok(out)
    }

    /// Submits to one recipient and logs the outcome (X, then D, T or P; I or T in the bounce
    /// log).
    async fn submit_one(
        &self,
        t: &Target,
        message: &StoredMessage,
        lease: &Lease,
        mms: &mms::Mms,
    ) -> Attempt {
        let digits = match mt::destination(&lease.address) {
            Ok(d) => d,
            Err(e) => {
                self.logs.failed(
                    &LogFields {
                        error: e.response(),
                        ..log_fields(t, message, lease, "")
                    },
                    true,
                );
                return attempt(Verdict::Permanent, e.response(), None);
            }
        };
        let number = format!("{}{digits}", t.number_prefix);
        let transaction_id = format!("{}-{}", message.id, lease.recipient.0);
        let fields = LogFields {
            transaction_id: transaction_id.clone(),
            size: mms.size,
            ..log_fields(t, message, lease, &number)
        };
        self.logs.record(
            Record::Conversion,
            &LogFields {
                error: "ec_message to mm7".into(),
                ..fields.clone()
            },
        );
        let domain = &lease.destination.domain;
        self.note(domain, &t.url, |s| s.in_flight += 1);
        let (result, status) = self
            .exchange(t, message, lease, mms, &number, &transaction_id)
            .await;
        events::emit(Event::Mm7 {
            direction: "out",
            request: "SubmitReq",
            status: status.as_ref().map_or(0, |(s, _)| s.code.0),
        });
        self.note(domain, &t.url, |s| {
            s.in_flight = s.in_flight.saturating_sub(1);
            s.submitted += 1;
            match result.verdict {
                Verdict::Delivered => s.accepted += 1,
                Verdict::Temporary => s.deferred += 1,
                Verdict::Permanent => s.refused += 1,
            }
            s.last_status = match &status {
                Some((st, _)) => st.code.0.to_string(),
                None => result.response.clone(),
            };
        });
        let (code, text, remote_id) = status
            .map(|(s, id)| (s.code.to_string(), s.text, id.unwrap_or_default()))
            .unwrap_or_default();
        match result.verdict {
            Verdict::Delivered => self.logs.record(
                Record::Delivery,
                &LogFields {
                    status: code,
                    remote_id,
                    ..fields
                },
            ),
            verdict => self.logs.failed(
                &LogFields {
                    status: code,
                    error: if text.is_empty() {
                        result.response.clone()
                    } else {
                        text
                    },
                    ..fields
                },
                verdict == Verdict::Permanent,
            ),
        }
        result
    }

    /// One SubmitReq and its answer: the attempt's outcome and, when the MMSC gave one, the
    /// MM7 status and MessageID. An accepted submission's MessageID is kept in the spool for
    /// its reports.
    async fn exchange(
        &self,
        t: &Target,
        message: &StoredMessage,
        lease: &Lease,
        mms: &mms::Mms,
        number: &str,
        transaction_id: &str,
    ) -> (Attempt, Option<(Status, Option<String>)>) {
        let env = Envelope {
            transaction_id: transaction_id.to_string(),
            schema: t.schema,
            version: t.version.clone(),
            body: Body::SubmitReq(SubmitReq {
                recipients: vec![Recipient {
                    kind: RecipientKind::To,
                    address: Address::number(number),
                }],
                timestamp: Some(
                    jiff::Timestamp::now()
                        .strftime("%Y-%m-%dT%H:%M:%SZ")
                        .to_string(),
                ),
                subject: mms.subject.clone(),
                ..t.template.clone()
            }),
        };
        let xml = write_envelope(&env, &t.write);
        let (ctype, body) = write_body(
            &xml,
            Some(&mms.content),
            message.id.0 as u64 ^ (lease.recipient.0 as u64) << 32,
        );
        let remote = Some(t.url.clone());
        let answer = http_server::post(
            &self.client(t),
            http_server::Post {
                url: &t.url,
                host: t.host_header.as_deref(),
                content_type: &ctype,
                authorization: t.authorization.as_deref(),
                http10: t.http10,
                body,
                timeout: t.response_timer,
            },
        )
        .await;
        let answer = match answer {
            Ok(a) => a,
            Err(PostError::Timeout) => {
                let response = format!(
                    "451 4.4.7 no MM7 response within {:?} (MM7_Response_Timer)",
                    t.response_timer
                );
                return (attempt(Verdict::Temporary, response, remote), None);
            }
            Err(PostError::Connect(e)) => {
                let response = format!("{NOT_CONNECTED} {e}");
                return (attempt(Verdict::Temporary, response, remote), None);
            }
            Err(PostError::Http(e)) => {
                let response = format!("451 4.4.1 {e}");
                return (attempt(Verdict::Temporary, response, remote), None);
            }
        };
        let http = answer.status.as_u16();
        let parsed = read_body(answer.content_type.as_deref(), &answer.body)
            .and_then(|m| read_envelope(&m.envelope, t.schema));
        let (status, message_id) = match &parsed {
            Ok(e) => match (&e.body, e.body.status()) {
                (Body::SubmitRsp(r), _) => (r.status.clone(), r.message_id.clone()),
                (_, Some(st)) => (st.clone(), None),
                (other, None) => {
                    let response = format!(
                        "451 4.5.0 the MMSC answered HTTP {http} with {} instead of a SubmitRsp",
                        other.name()
                    );
                    return (attempt(Verdict::Temporary, response, remote), None);
                }
            },
            Err(e) => {
                // No SOAP to read: the HTTP status decides.
                let verdict = if (400..500).contains(&http) && http != 408 && http != 429 {
                    Verdict::Permanent
                } else {
                    Verdict::Temporary
                };
                let code = if verdict == Verdict::Permanent {
                    "554 5.5.0"
                } else {
                    "451 4.5.0"
                };
                let response = format!(
                    "{code} the MMSC answered HTTP {http} without a readable MM7 response ({e})"
                );
                return (attempt(verdict, response, remote), None);
            }
        };
        let text = format!("MM7 {} {}", status.code, status.text.trim());
        let message_id = message_id.filter(|m| !m.is_empty() && m != "none");
        let result = if status.code.is_success() {
            if let Some(id) = &message_id {
                drop(self.spool.record_submissions(vec![Submission {
                    key: format!("mm7:{id}"),
                    smsc_id: id.clone(),
                    message: message.id.to_string(),
                    domain: lease.destination.domain.clone(),
                    recipient: lease.address.clone(),
                    sender: message.sender.clone(),
                    segment: 1,
                    total: 1,
                    submitted_at: now_millis(),
                }]));
                tracing::info!(message = %message.id, recipient = %lease.address, mm7_id = %id, tid = %transaction_id, "MMS accepted by the MMSC");
            }
            attempt(Verdict::Delivered, format!("250 2.0.0 {text}"), remote)
        } else if status.code.is_temporary() {
            attempt(Verdict::Temporary, format!("451 4.0.0 {text}"), remote)
        } else {
            attempt(Verdict::Permanent, format!("554 5.0.0 {text}"), remote)
        };
        (result, Some((status, message_id)))
    }
}

/// The MMS log's source address (`%sa`) of what a destination submits: the SenderAddress of
/// its SubmitReqs when `MM7_Sender_Address` sets one, else the mail's sender.
fn log_source(template: &SubmitReq, mail_sender: &str) -> String {
    template
        .sender
        .sender_address
        .as_ref()
        .map_or_else(|| mail_sender.to_string(), |a| a.value.clone())
}

/// [`log_source`] for a report about a submission to `domain`: only its
/// `MM7_Sender_Address` is looked up, not the whole destination.
pub fn report_source(cfg: &Config, domain: &str, mail_sender: &str) -> String {
    let dest = Destination {
        domain: domain.to_string(),
        binding: String::new(),
    };
    sending(cfg, &dest)
        .scalar(names::MM7_SENDER_ADDRESS)
        .as_deref()
        .and_then(sender_address)
        .map_or_else(|| mail_sender.to_string(), |a| a.value)
}

/// What every MMS log record about `lease` shares.
/// How a SubmitReq that never reached the MMSC (no connection) is reported.
const NOT_CONNECTED: &str = "451 4.4.1 no connection to the MMSC:";

fn log_fields(t: &Target, message: &StoredMessage, lease: &Lease, number: &str) -> LogFields {
    LogFields {
        message_id: message.id.to_string(),
        domain: lease.destination.domain.clone(),
        binding: lease.destination.binding.clone(),
        host: t.peer.clone(),
        source: log_source(&t.template, &message.sender),
        dest: number.to_string(),
        ..LogFields::default()
    }
}

fn attempt(verdict: Verdict, response: String, remote: Option<String>) -> Attempt {
    Attempt {
        verdict,
        response,
        remote,
        stage: 0,
    }
}

/// The connector interface the router drives. HTTP connections stay in the connector's pool:
/// a session holds nothing.
impl Connector for Mm7Connector {
    type Session = ();

    async fn open(&self, _dest: &Destination) -> Result<(), Attempt> {
        Ok(())
    }

    async fn deliver(
        &self,
        _session: &mut (),
        message: &StoredMessage,
        recipients: &[Lease],
    ) -> Result<Vec<Attempt>, Attempt> {
        self.submit(message, recipients).await
    }

    async fn close(&self, _session: ()) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_address_from_raw_xml_or_text() {
        assert_eq!(
            sender_address("<ShortCode>28444</ShortCode>"),
            Some(Address::short_code("28444"))
        );
        assert_eq!(
            sender_address(" <Number>+1555</Number> "),
            Some(Address::number("+1555"))
        );
        assert_eq!(
            sender_address("a@b.example"),
            Some(Address::email("a@b.example"))
        );
        assert_eq!(sender_address(""), None);
    }
}
