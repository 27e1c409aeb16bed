//! mm7_serv (docs/reference/momentum.md §1.6, §1.7): MM7's VASP side, over HTTP. The MMSC POSTs
//! under one of `MM7_VASP_URI_Paths`:
//! - DeliverReq (an MO MMS) becomes a mail, spooled durably *before* DeliverRsp is sent;
//! - DeliveryReportReq and ReadReplyReq are matched through the MessageID kept at submission,
//!   logged, and a negative delivery report mails the original sender;
//! - anything unreadable gets an HTTP 500 SOAP Fault whose VASPErrorRsp carries the MM7 status
//!   (2007 format corrupt, 4004 validation error, 4003 unsupported operation).
//!
//! Before a body is read, the HTTP_Listener's rules for the peer apply: `Always_Deny` answers
//! 403, and `Auth_Credentials` asks for HTTP Basic credentials (401), unless `Always_Allow`.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::store::Store;
use hyper::StatusCode as Http;
use impulse_config::types::list_items;
use impulse_config::{Config, Opt, Resolved, Scope, names};
use impulse_interwork::mms;
use impulse_mm7::*;
use impulse_smtp::Address;
use impulse_spool::MobileStore;

use impulse_telemetry::{BounceRecord, LogFields, Record};

use crate::inbound::reception::Reception;
use crate::live::LiveConfig;
use crate::ops::mobile_logs::MobileLogs;
use impulse_http::{self as http_server, HttpLimits, HttpRequest, Reply, reply};

/// Impulse's ceiling on an HTTP request body when `Max_Request_Size` is 0.
const MAX_BODY: usize = 64 << 20;

pub struct Mm7Server {
    pub cfg: LiveConfig,
    pub spool: Store,
    pub reception: Arc<OnceLock<Arc<Reception>>>,
    logs: Arc<MobileLogs>,
    paths: Vec<String>,
    tls: crate::net::tls::ServerConfigs,
}

/// Counts an MM7 request Impulse answered, by the class of the status it answered with.
fn count_in(request: &'static str, code: StatusCode) {
    crate::ops::events::emit(crate::ops::events::Event::Mm7 {
        direction: "in",
        request,
        status: code.0,
    });
}

fn serv_option(cfg: &Config, name: Opt) -> Option<String> {
    let scope = cfg.mm7_serv.as_ref()?;
    let def = name.def();
    scope
        .get(def)
        .and_then(|e| e.value.as_scalar().map(str::to_string))
        .or_else(|| def.default.map(str::to_string))
}

/// What a Listen of the HTTP_Listener allows a client: `Max_Request_Size`, `Max_Connections`
/// and `Timeout` (to send a request's head, and its body).
pub fn limits(cfg: &Config, listen: &impulse_config::Listen) -> HttpLimits {
    let r = cfg.http_receiving(Some(listen.addr), crate::net::tls::ANY_PEER);
    let listener = cfg.http_listener.as_ref().map(|l| &l.scope);
    HttpLimits {
        max_body: max_body(&listen.scope, listener.unwrap_or(&listen.scope)),
        max_connections: r.u64(names::MAX_CONNECTIONS).max(1) as usize,
        read_timeout: r.seconds(names::TIMEOUT).max(Duration::from_secs(1)),
    }
}

/// The body limit of a Listen of the HTTP_Listener (its own value, else the listener's).
pub fn max_body(listen: &Scope, listener: &Scope) -> usize {
    let def = names::MAX_REQUEST_SIZE.def();
    let v = listen
        .get(def)
        .or_else(|| listener.get(def))
        .and_then(|e| e.value.as_scalar().map(str::to_string))
        .and_then(|v| impulse_config::types::parse_size(&v).ok())
        .unwrap_or(0) as usize;
    if v == 0 { MAX_BODY } else { v.min(MAX_BODY) }
}

const AUTH_CREDENTIALS: impulse_config::Opt = impulse_config::names::AUTH_CREDENTIALS;

impl http_server::Service for Mm7Server {
    /// HTTPS where the Listen scope (or its listener) has `TLS_Certificate` and `TLS_Key`.
    fn tls(&self, local: SocketAddr) -> Option<Arc<rustls::ServerConfig>> {
        let cfg = self.cfg.get();
        let r = cfg.http_receiving(Some(local), crate::net::tls::ANY_PEER);
        crate::net::tls::cert_paths(&r)
            .and_then(|paths| self.tls.get(self.cfg.generation(), &paths))
    }

    fn admit(
        &self,
        local: SocketAddr,
        peer: SocketAddr,
        authorization: Option<&str>,
    ) -> Option<(Reply, Duration)> {
        let cfg = self.cfg.get();
        let r = cfg.http_receiving(Some(local), peer.ip());
        if r.bool(names::ALWAYS_ALLOW) {
            return None;
        }
        if r.bool(names::ALWAYS_DENY) {
            tracing::debug!(%peer, "MM7 request refused: the peer has Always_Deny");
            let answer = fault(
                Schema::Rel6_1_4,
                "",
                "",
                StatusCode::OPERATION_RESTRICTED,
                "this peer may not send MM7 requests here",
                Http::FORBIDDEN,
            );
            return Some((answer, Duration::ZERO));
        }
        let (credentials, _) = r.effective(AUTH_CREDENTIALS)?;
        crate::net::credentials::check_basic(
            peer,
            authorization,
            &list_items(&credentials),
            "mm7",
            || {
                let mut answer = fault(
                    Schema::Rel6_1_4,
                    "",
                    "",
                    StatusCode::IMPROPER_IDENTIFICATION,
                    "HTTP Basic credentials required",
                    Http::UNAUTHORIZED,
                );
                answer.headers_mut().insert(
                    hyper::header::WWW_AUTHENTICATE,
                    hyper::header::HeaderValue::from_static(
                        "Basic realm=\"impulse-mm7\", charset=\"UTF-8\"",
                    ),
                );
                answer
            },
        )
    }

    fn call(&self, req: HttpRequest) -> impl std::future::Future<Output = Reply> + Send {
        self.handle(req)
    }
}

impl Mm7Server {
    /// The listener's paths are taken once: a reload does not move them.
    pub fn new(
        cfg: LiveConfig,
        spool: Store,
        reception: Arc<OnceLock<Arc<Reception>>>,
        logs: Arc<MobileLogs>,
    ) -> Self {
        let paths = cfg
            .get()
            .mm7_serv
            .as_ref()
            .and_then(|s| s.get(names::MM7_VASP_URI_PATHS.def()))
            .map(|e| list_items(&e.value).iter().map(|p| p.to_string()).collect())
            .unwrap_or_default();
        Mm7Server {
            cfg,
            spool,
            reception,
            logs,
            paths,
            tls: Default::default(),
        }
    }

    pub async fn handle(&self, req: HttpRequest) -> Reply {
        if !self.paths.iter().any(|p| req.path.starts_with(p.as_str())) {
            return reply(
                Http::NOT_FOUND,
                "text/plain",
                "no MM7 service at this path (see MM7_VASP_URI_Paths)\n",
            );
        }
        let fallback = Schema::Rel6_1_4;
        if req.method != hyper::Method::POST {
            return fault(
                fallback,
                "",
                "",
                StatusCode::CLIENT_ERROR,
                "MM7 requests are HTTP POSTs",
                Http::METHOD_NOT_ALLOWED,
            );
        }
        // Without a media type the body cannot be read as SOAP or SOAP with attachments: a
        // client error (400), as MM7 conformance tools expect, not a server fault.
        if req
            .content_type
            .as_deref()
            .is_none_or(|t| t.trim().is_empty())
        {
            count_in("unreadable", StatusCode::CLIENT_ERROR);
            return fault(
                fallback,
                "",
                "",
                StatusCode::CLIENT_ERROR,
                "the request has no Content-Type (text/xml or multipart/related expected)",
                Http::BAD_REQUEST,
            );
        }
        let msg = match read_body(req.content_type.as_deref(), &req.body) {
            Ok(m) => m,
            Err(e) => {
                count_in("unreadable", e.code);
                return fault(
                    fallback,
                    "",
                    "",
                    e.code,
                    &e.message,
                    Http::INTERNAL_SERVER_ERROR,
                );
            }
        };
        let env = match read_envelope(&msg.envelope, fallback) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(peer = %req.peer, error = %e, "unreadable MM7 request");
                count_in("unreadable", e.code);
                let schema = Schema::sniff(&msg.envelope).unwrap_or(fallback);
                return fault(
                    schema,
                    "",
                    "",
                    e.code,
                    &e.message,
                    Http::INTERNAL_SERVER_ERROR,
                );
            }
        };
        let version = self.answer_version(&env);
        let respond = |body: Body| {
            let xml = write_envelope(&env.reply(&version, body), &WriteOptions::default());
            reply(Http::OK, "text/xml; charset=\"utf-8\"", xml)
        };
        // A server error (nothing stored) is a Fault, so that the MMSC sends again.
        let respond_or_fault = |status: Status, body: fn(Status) -> Body| {
            if status.code == StatusCode::SERVER_ERROR {
                fault(
                    env.schema,
                    &version,
                    &env.transaction_id,
                    status.code,
                    &status.text,
                    Http::INTERNAL_SERVER_ERROR,
                )
            } else {
                respond(body(status))
            }
        };
        match &env.body {
            Body::DeliverReq(d) => {
                let status = self.on_deliver(d, &msg, &env, &req).await;
                count_in("DeliverReq", status.code);
                respond_or_fault(status, |status| {
                    Body::DeliverRsp(DeliverRsp {
                        status,
                        service_code: None,
                    })
                })
            }
            Body::DeliveryReportReq(r) => {
                let status = self.on_report(r, req.peer).await;
                count_in("DeliveryReportReq", status.code);
                respond_or_fault(status, Body::DeliveryReportRsp)
            }
            Body::ReadReplyReq(r) => {
                let found = self
                    .spool
                    .find_submissions(vec![format!("mm7:{}", r.message_id)])
                    .await
                    .unwrap_or_default();
                match found.first() {
                    Some(sub) => {
                        tracing::info!(message = %sub.message, recipient = %sub.recipient, mm7_id = ?r.message_id, status = ?r.status, "MM7 read reply");
                        self.logs.record(
                            Record::Status,
                            &LogFields {
                                status: r.status.clone(),
                                error: r.status_text.clone().unwrap_or_default(),
                                ..self.status_fields(sub, &r.message_id, req.peer)
                            },
                        );
                        count_in("ReadReplyReq", StatusCode::SUCCESS);
                        respond(Body::ReadReplyRsp(Status::new(StatusCode::SUCCESS)))
                    }
                    None => {
                        tracing::warn!(mm7_id = ?r.message_id, status = ?r.status, "MM7 read reply for an unknown MessageID");
                        count_in("ReadReplyReq", StatusCode::MESSAGE_ID_NOT_FOUND);
                        respond(Body::ReadReplyRsp(Status::new(
                            StatusCode::MESSAGE_ID_NOT_FOUND,
                        )))
                    }
                }
            }
            other => {
                let text = format!("{} is not a request a VASP serves", other.name());
                fault(
                    env.schema,
                    &version,
                    &env.transaction_id,
                    StatusCode::UNSUPPORTED_OPERATION,
                    &text,
                    Http::INTERNAL_SERVER_ERROR,
                )
            }
        }
    }

    /// The request's own version when its schema lists it, else `MM7_Server_Version` when the
    /// schema lists that, else the schema's newest.
    fn answer_version(&self, env: &Envelope) -> String {
        if env.schema.accepts_version(&env.version) {
            return env.version.clone();
        }
        match serv_option(&self.cfg.get(), names::MM7_SERVER_VERSION) {
            Some(v) if env.schema.accepts_version(&v) => v,
            _ => env.schema.newest_version().to_string(),
        }
    }

    /// Spools the mail an MO MMS becomes and logs its reception (X and R, with the error when
    /// it could not be taken).
    async fn on_deliver(
        &self,
        d: &DeliverReq,
        msg: &SoapMessage,
        env: &Envelope,
        req: &HttpRequest,
    ) -> Status {
        let mut fields = LogFields {
            transaction_id: env.transaction_id.clone(),
            source: d
                .sender
                .as_ref()
                .map(|a| a.value.clone())
                .unwrap_or_default(),
            dest: d
                .recipients
                .first()
                .map(|r| r.address.value.clone())
                .unwrap_or_default(),
            host: req.peer.ip().to_string(),
            size: req.body.len(),
            ..LogFields::default()
        };
        let (status, id) = self.spool_deliver(d, msg, env, req.local, req.peer).await;
        fields.status = status.code.to_string();
        fields.error = status.text.clone();
        if let Some(id) = id {
            fields.message_id = id;
            self.logs.record(
                Record::Conversion,
                &LogFields {
                    error: "mm7 to ec_message".into(),
                    ..fields.clone()
                },
            );
        }
        self.logs.record(Record::Reception, &fields);
        status
    }

    /// The mail's id when it was spooled.
    async fn spool_deliver(
        &self,
        d: &DeliverReq,
        msg: &SoapMessage,
        env: &Envelope,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> (Status, Option<String>) {
        let Some(reception) = self.reception.get() else {
            return (
                Status::with_text(StatusCode::SERVER_ERROR, "not ready"),
                None,
            );
        };
        let cfg = self.cfg.get();
        let may_relay = crate::inbound::mo_addresses::http_peer_may_relay(&cfg, local, peer);
        let (from, to) = match mail_addresses(&cfg, d, &reception.hostname, may_relay) {
            Ok(pair) => pair,
            Err(status) => return (status, None),
        };
        let parts: Vec<MimePart> = msg
            .content(d.content.as_ref().map(|c| c.href.as_str()))
            .map(|a| a.parts.clone())
            .unwrap_or_default();
        let mut headers = vec![(
            "X-MM7-Transaction-ID".to_string(),
            env.transaction_id.clone(),
        )];
        if let Some(l) = &d.linked_id {
            headers.push(("X-MM7-Linked-ID".into(), l.clone()));
        }
        let subject = d.subject.clone().unwrap_or_default();
        let mail = mms::to_email(
            &from.to_string(),
            &to.headers,
            &subject,
            &parts,
            impulse_interwork::mo::Stamp {
                date: impulse_spool::now_millis() / 1000,
                host: &reception.hostname,
            },
            &headers,
        );
        match reception
            .spool_message(
                Some(from.clone()),
                to.envelope.clone(),
                mail,
                peer.ip().to_string(),
                "mm7",
            )
            .await
        {
            Ok(id) => {
                tracing::info!(message = %id, %from, to = ?to.envelope.iter().map(ToString::to_string).collect::<Vec<_>>(), tid = %env.transaction_id, parts = parts.len(), "MO MMS spooled");
                (Status::new(StatusCode::SUCCESS), Some(id.to_string()))
            }
            Err(e) => {
                tracing::error!(error = %e, "MO MMS not spooled; the MMSC is asked to retry");
                let status = Status::with_text(
                    StatusCode::SERVER_ERROR,
                    "the message could not be stored; retry later",
                );
                (status, None)
            }
        }
    }

    /// Logs a delivery report (S; O in the bounce log when negative) and mails the sender of a
    /// negative one.
    async fn on_report(&self, r: &DeliveryReportReq, peer: SocketAddr) -> Status {
        let found = match self
            .spool
            .find_submissions(vec![format!("mm7:{}", r.message_id)])
            .await
        {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "delivery report look-up failed");
                return Status::with_text(StatusCode::SERVER_ERROR, "look-up failed; retry later");
            }
        };
        let Some(sub) = found.into_iter().next() else {
            tracing::warn!(mm7_id = ?r.message_id, status = ?r.status.as_str(), "MM7 delivery report for an unknown MessageID");
            return Status::new(StatusCode::MESSAGE_ID_NOT_FOUND);
        };
        let negative = r.status.is_negative();
        tracing::info!(message = %sub.message, recipient = %sub.recipient, mm7_id = ?r.message_id, status = ?r.status.as_str(), negative, latency_s = (impulse_spool::now_millis() - sub.submitted_at) / 1000, "MM7 delivery report");
        let fields = LogFields {
            status: r.status.as_str().to_string(),
            error: r.status_text.clone().unwrap_or_default(),
            ..self.status_fields(&sub, &r.message_id, peer)
        };
        self.logs.record(Record::Status, &fields);
        if negative {
            self.logs.bounce(BounceRecord::OutOfBand, &fields);
        }
        if !negative {
            return Status::new(StatusCode::SUCCESS);
        }
        // The submission's sender came from the spool, parsed when the mail was received.
        let Ok(Some(notify)) = impulse_smtp::address::parse_reverse_path(&sub.sender) else {
            return Status::new(StatusCode::SUCCESS);
        };
        let Some(reception) = self.reception.get() else {
            return Status::with_text(StatusCode::SERVER_ERROR, "not ready");
        };
        let number = sub.recipient.split('@').next().unwrap_or_default();
        let status = r.status.as_str();
        let body = format!(
            "Your message {} to {} was reported by the MMSC as {status}: it could not be delivered.\n\nMM7 message id {}.\nStatus text: {}\n",
            sub.message,
            sub.recipient,
            r.message_id,
            r.status_text.as_deref().unwrap_or("-"),
        );
        let subject = format!("Undelivered MMS to {number} ({status})");
        match reception
            .notify_sender(&notify, &subject, &body, "mmsc".into(), "mm7")
            .await
        {
            Ok(_) => Status::new(StatusCode::SUCCESS),
            Err(e) => {
                tracing::error!(error = %e, "MMS failure notice not spooled; the MMSC is asked to retry");
                Status::with_text(
                    StatusCode::SERVER_ERROR,
                    "could not store the notice; retry later",
                )
            }
        }
    }

    /// What the S record of a report or read reply about submission `sub` says: the original
    /// message (`%i`, `%I`), its source and recipient, the MMSC's MessageID and the latency.
    fn status_fields(
        &self,
        sub: &impulse_spool::Submission,
        mm7_id: &str,
        peer: SocketAddr,
    ) -> LogFields {
        LogFields {
            message_id: sub.message.clone(),
            original_id: sub.message.clone(),
            domain: sub.domain.clone(),
            source: crate::outbound::mm7::report_source(&self.cfg.get(), &sub.domain, &sub.sender),
            dest: sub
                .recipient
                .split('@')
                .next()
                .unwrap_or_default()
                .to_string(),
            remote_id: mm7_id.to_string(),
            host: peer.ip().to_string(),
            receipt_latency: Some((impulse_spool::now_millis() - sub.submitted_at) / 1000),
            ..LogFields::default()
        }
    }
}

/// An HTTP error with a SOAP Fault whose detail is a VASPErrorRsp with `code`.
fn fault(
    schema: Schema,
    version: &str,
    tid: &str,
    code: StatusCode,
    text: &str,
    http: Http,
) -> Reply {
    let env = Envelope::fault(schema, version, tid, Side::Vasp, code, text);
    reply(
        http,
        "text/xml; charset=\"utf-8\"",
        write_envelope(&env, &WriteOptions::default()),
    )
}

/// The envelope sender and recipient of the mail an MO MMS becomes, or the status to refuse it
/// with. Every address is parsed here ([`Address`]), so nothing the MMSC sends is written raw
/// into an SMTP command:
///
/// - From: the sender's RFC2822Address when it has one (refused with 2002 when it is not a
///   mail address); else `MM7_Server_Default_Email_From_Address`; else the sender's number at
///   `MM7_Server_Default_Email_From_Domain` (or the host name), `unknown@…` when the DeliverReq
///   names no usable number: never an empty local part.
/// - To: every To, Cc and Bcc recipient ([`mail_recipient`]): an RFC2822Address when the peer
///   may relay (see [`crate::inbound::mo_addresses::http_peer_may_relay`]) or the domain is one of ours;
///   else `MM7_Server_Default_Email_To_Address`, else refused with 2001. A number goes to
///   `MM7_Server_Default_Email_To_Address`, else `number@MM7_Server_Default_Email_To_Domain`.
///   One recipient that maps to nothing refuses the whole request.
fn mail_addresses(
    cfg: &Config,
    d: &DeliverReq,
    hostname: &str,
    may_relay: bool,
) -> Result<(Address, MailRecipients), Status> {
    let opt = |n: Opt| serv_option(cfg, n).filter(|v| !v.is_empty());
    let configured = |n: Opt| {
        opt(n).and_then(|v| match Address::parse_mailbox(&v) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::error!(option = n.name(), value = %v, error = %e, "not a mail address; ignored");
                None
            }
        })
    };
    let refuse = |code: StatusCode, text: String| {
        tracing::warn!(%text, "MO MMS refused");
        Status::with_text(code, &text)
    };
    let from = match &d.sender {
        Some(a) if a.kind == AddressKind::Rfc2822 => {
            Address::parse_mailbox(&a.value).map_err(|e| {
                refuse(
                    StatusCode::ADDRESS_ERROR,
                    format!("the sender is not a mail address: {e}"),
                )
            })?
        }
        sender => match configured(names::MM7_SERVER_DEFAULT_EMAIL_FROM_ADDRESS) {
            Some(a) => a,
            None => {
                let raw = sender.as_ref().map(|a| a.value.as_str()).unwrap_or("");
                let domain = opt(names::MM7_SERVER_DEFAULT_EMAIL_FROM_DOMAIN)
                    .unwrap_or_else(|| hostname.to_string());
                if crate::inbound::mo_addresses::number_local(raw).is_none() {
                    tracing::info!(sender = ?raw, "MO MMS with no usable sender number: mailed from {}@{domain}", crate::inbound::mo_addresses::UNKNOWN_LOCAL);
                }
                crate::inbound::mo_addresses::from_number(raw, &domain).ok_or_else(|| {
                    refuse(
                        StatusCode::SERVER_ERROR,
                        format!("no valid From address: the domain {domain:?} is not one"),
                    )
                })?
            }
        },
    };
    let default_to = configured(names::MM7_SERVER_DEFAULT_EMAIL_TO_ADDRESS);
    let mut to = MailRecipients::default();
    for r in &d.recipients {
        let address = mail_recipient(cfg, &r.address, may_relay, &default_to, &opt)
            .map_err(|(code, text)| refuse(code, text))?;
        to.add(r.kind, address);
    }
    if d.recipients.is_empty() {
        let address = default_to.clone().ok_or_else(|| {
            refuse(
                StatusCode::ADDRESS_NOT_FOUND,
                "no recipient and no MM7_Server_Default_Email_To_Address".into(),
            )
        })?;
        to.add(RecipientKind::To, address);
    }
    Ok((from, to))
}

/// The mail recipients of one MO MMS: every To, Cc and Bcc of the DeliverReq, once each in the
/// envelope, To and Cc also in the mail's headers.
#[derive(Debug, Default)]
struct MailRecipients {
    envelope: Vec<Address>,
    headers: mms::HeaderRecipients,
}

impl MailRecipients {
    fn add(&mut self, kind: RecipientKind, a: Address) {
        let text = a.to_string();
        let list = match kind {
            RecipientKind::To => Some(&mut self.headers.to),
            RecipientKind::Cc => Some(&mut self.headers.cc),
            RecipientKind::Bcc => None,
        };
        if let Some(list) = list
            && !list.contains(&text)
        {
            list.push(text);
        }
        if !self.envelope.contains(&a) {
            self.envelope.push(a);
        }
    }
}

/// The mail address one DeliverReq recipient becomes, or the status and text to refuse the
/// whole request with: an MMS accepted for some of its recipients only would be lost for the
/// others without anyone being told.
fn mail_recipient(
    cfg: &Config,
    a: &impulse_mm7::model::Address,
    may_relay: bool,
    default_to: &Option<Address>,
    opt: &dyn Fn(Opt) -> Option<String>,
) -> Result<Address, (StatusCode, String)> {
    if a.kind == AddressKind::Rfc2822 {
        let to = Address::parse_mailbox(&a.value).map_err(|e| {
            (
                StatusCode::ADDRESS_ERROR,
                format!("the recipient is not a mail address: {e}"),
            )
        })?;
        if may_relay || cfg.is_configured_domain(to.domain()) {
            return Ok(to);
        }
        if let Some(d) = default_to {
            tracing::info!(recipient = %to, "MO MMS to a domain this peer may not relay to: sent to MM7_Server_Default_Email_To_Address");
            return Ok(d.clone());
        }
        return Err((
            StatusCode::OPERATION_RESTRICTED,
            format!(
                "relaying denied: {} is not a domain of this gateway",
                to.domain()
            ),
        ));
    }
    default_to
        .clone()
        .or_else(|| {
            let domain = opt(names::MM7_SERVER_DEFAULT_EMAIL_TO_DOMAIN)?;
            let local = crate::inbound::mo_addresses::number_local(&a.value)?;
            Address::new(&local, &domain).ok()
        })
        .ok_or_else(|| {
            (
                StatusCode::ADDRESS_NOT_FOUND,
                "no e-mail address for the recipient (set mm7_server_default_email_to_address or _to_domain)".into(),
            )
        })
}

#[cfg(test)]
mod tests {

    #[test]
    fn credentials_without_a_password_are_refused_at_check() {
        let cfg = impulse_config::from_str(
            std::path::Path::new("t.conf"),
            "HTTP_Listener {\n  Listen \"127.0.0.1:8089\" {\n    Auth_Credentials = ( \"justauser\" )\n  }\n}\n",
        )
        .unwrap();
        let diags = crate::net::credentials::validate(&cfg);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(diags[0].message.contains("user:password"));
        assert_eq!(diags[0].span.as_ref().unwrap().line, 3);
    }
}
