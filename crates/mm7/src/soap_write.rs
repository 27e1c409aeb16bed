//! The SOAP writer: one envelope per transaction, elements in schema order, names and
//! element shapes of the envelope's schema version, so that what Impulse writes validates
//! against that schema (tests/xsd_validation.rs checks it with the official XSDs).

use std::fmt::Write as _;

use quick_xml::escape::escape;

use crate::model::*;
use crate::schema::Schema;

pub const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// The prefixes Momentum lets an operator choose (`MM7_SOAP_Env`, `MM7_Namespace`,
/// `MM7_Use_Namespace_In_Body`): some MMSCs only understand one spelling.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// The SOAP envelope prefix (`env` by default).
    pub env_prefix: String,
    /// When set, MM7 elements carry this prefix (`mm7:SubmitReq`, `mm7:MM7Version`…);
    /// otherwise the MM7 namespace is the default namespace of the header and body elements.
    pub mm7_prefix: Option<String>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            env_prefix: "env".into(),
            mm7_prefix: None,
        }
    }
}

/// Writes `env` as a SOAP 1.1 envelope (UTF-8, with an XML declaration).
pub fn write_envelope(env: &Envelope, opts: &WriteOptions) -> String {
    let schema = env.schema;
    let ns = schema.namespace();
    let e = valid_prefix(&opts.env_prefix, "env");
    let p = opts.mm7_prefix.as_deref().map(|p| valid_prefix(p, "mm7"));
    let mut w = Writer {
        out: String::with_capacity(1024),
        nmtoken: schema.legacy_r5(),
        p: p.map(|p| format!("{p}:")).unwrap_or_default(),
    };
    let version = if schema.accepts_version(&env.version) {
        env.version.as_str()
    } else {
        schema.newest_version()
    };
    let ns_decl = match p {
        Some(p) => format!(" xmlns:{p}=\"{}\"", escape(&ns)),
        None => String::new(),
    };
    let default_ns = match p {
        Some(_) => String::new(),
        None => format!(" xmlns=\"{}\"", escape(&ns)),
    };
    let _ = write!(
        w.out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{e}:Envelope xmlns:{e}=\"{SOAP_ENV_NS}\"{ns_decl}>\n<{e}:Header>\n"
    );
    // REL-5-MM7-1-0/-1-1 type TransactionID as a bare NMTOKEN: no SOAP attributes allowed.
    let must_understand = if schema.legacy_r5() {
        String::new()
    } else {
        format!(" {e}:mustUnderstand=\"1\"")
    };
    let _ = writeln!(
        w.out,
        "<{}TransactionID{default_ns}{must_understand}>{}</{}TransactionID>",
        w.p,
        escape(env.transaction_id.trim()),
        w.p
    );
    let _ = writeln!(w.out, "</{e}:Header>\n<{e}:Body>");
    match &env.body {
        Body::Fault(f) => write_fault(&mut w, e, &default_ns, version, f),
        body => {
            w.open_with(body.name(), &default_ns);
            w.leaf("MM7Version", version);
            write_operation(&mut w, schema, body);
            w.close(body.name());
        }
    }
    let _ = write!(w.out, "</{e}:Body>\n</{e}:Envelope>\n");
    w.out
}

/// A prefix must be an XML name; a configured one that is not falls back to the default.
fn valid_prefix<'a>(p: &'a str, default: &'a str) -> &'a str {
    let ok = !p.is_empty()
        && p.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if ok { p } else { default }
}

struct Writer {
    out: String,
    /// Number/ShortCode are NMTOKENs (REL-5-MM7-1-0/-1-1).
    nmtoken: bool,
    /// `mm7:` or empty.
    p: String,
}

impl Writer {
    fn open(&mut self, name: &str) {
        self.open_with(name, "");
    }
    fn open_with(&mut self, name: &str, attrs: &str) {
        let _ = writeln!(self.out, "<{}{name}{attrs}>", self.p);
    }
    fn close(&mut self, name: &str) {
        let _ = writeln!(self.out, "</{}{name}>", self.p);
    }
    fn leaf(&mut self, name: &str, text: &str) {
        let _ = writeln!(
            self.out,
            "<{}{name}>{}</{}{name}>",
            self.p,
            escape(text.trim()),
            self.p
        );
    }
    fn opt(&mut self, name: &str, text: Option<&str>) {
        if let Some(t) = text {
            self.leaf(name, t);
        }
    }
    fn opt_bool(&mut self, name: &str, v: Option<bool>) {
        if let Some(v) = v {
            self.leaf(name, if v { "true" } else { "false" });
        }
    }
    fn address(&mut self, a: &Address) {
        self.address_in(a, self.nmtoken);
    }
    /// `nmtoken`: REL-5-MM7-1-0/-1-1 type Number and ShortCode as xs:NMTOKEN, which has no
    /// `+` and no spaces; those characters are dropped there rather than sending an envelope
    /// a validating MMSC refuses.
    fn address_in(&mut self, a: &Address, nmtoken: bool) {
        let attr = if a.display_only {
            " displayOnly=\"true\""
        } else {
            ""
        };
        let name = a.kind.element();
        let value: String = if nmtoken && a.kind != AddressKind::Rfc2822 {
            a.value
                .chars()
                .filter(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
                .collect()
        } else {
            a.value.trim().to_string()
        };
        let _ = writeln!(
            self.out,
            "<{}{name}{attr}>{}</{}{name}>",
            self.p,
            escape(&value),
            self.p
        );
    }
    fn address_element(&mut self, name: &str, a: &Address) {
        self.open(name);
        self.address(a);
        self.close(name);
    }
    fn status(&mut self, s: &Status) {
        self.open("Status");
        self.leaf("StatusCode", &s.code.0.to_string());
        let text = if s.text.trim().is_empty() {
            s.code.name()
        } else {
            s.text.as_str()
        };
        self.leaf("StatusText", text);
        // Details is a sequence of any *elements* in every schema (not mixed content), so free
        // text cannot be written there validly; it goes into StatusText instead.
        self.close("Status");
    }
    fn content(&mut self, c: &ContentRef) {
        let adapt = match c.allow_adaptations {
            Some(true) => " allowAdaptations=\"true\"",
            Some(false) => " allowAdaptations=\"false\"",
            None => "",
        };
        let _ = writeln!(
            self.out,
            "<{}Content href=\"{}\"{adapt}/>",
            self.p,
            escape(&c.href)
        );
    }
    fn sender_identification(&mut self, schema: Schema, s: &SenderIdentification) {
        self.open("SenderIdentification");
        self.opt("VASPID", s.vaspid.as_deref());
        self.opt("VASID", s.vasid.as_deref());
        if let Some(a) = &s.sender_address {
            if schema.legacy_r5() {
                self.leaf("SenderAddress", &a.value);
            } else {
                self.address_element("SenderAddress", a);
            }
        }
        self.close("SenderIdentification");
    }
    fn recipients(&mut self, rcpts: &[Recipient]) {
        self.open("Recipients");
        // Consecutive recipients of one kind share one To/Cc/Bcc element.
        let mut i = 0;
        while i < rcpts.len() {
            let kind = rcpts[i].kind;
            self.open(kind.element());
            while i < rcpts.len() && rcpts[i].kind == kind {
                self.address(&rcpts[i].address);
                i += 1;
            }
            self.close(kind.element());
        }
        self.close("Recipients");
    }
}

/// Canonical spelling of an enumerated value (configuration says `personal`, the schema
/// `Personal`); a value outside the list is written as given.
fn canonical<'a>(value: &'a str, allowed: &[&'a str]) -> &'a str {
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(value.trim()))
        .copied()
        .unwrap_or(value)
}

const MESSAGE_CLASSES: [&str; 4] = ["Personal", "Informational", "Advertisement", "Auto"];
const PRIORITIES: [&str; 3] = ["Normal", "High", "Low"];
const CHARGED_PARTIES: [&str; 5] = ["Sender", "Recipient", "Both", "Neither", "ThirdParty"];
const READ_STATUSES: [&str; 3] = ["Indeterminate", "Read", "Deleted"];

fn write_operation(w: &mut Writer, schema: Schema, body: &Body) {
    match body {
        Body::SubmitReq(r) => submit_req(w, schema, r),
        Body::SubmitRsp(r) => {
            w.status(&r.status);
            if schema.has_response_ids() {
                // MessageID is mandatory from REL-5-MM7-1-1 on, even for a refusal.
                w.leaf("MessageID", r.message_id.as_deref().unwrap_or("none"));
            }
        }
        Body::DeliverReq(r) => deliver_req(w, schema, r),
        Body::DeliverRsp(r) => {
            w.status(&r.status);
            if schema.has_response_ids() {
                w.opt("ServiceCode", r.service_code.as_deref());
            }
        }
        Body::CancelReq(r) => {
            w.sender_identification(schema, &r.sender);
            w.leaf("MessageID", &r.message_id);
        }
        Body::ReplaceReq(r) => {
            w.sender_identification(schema, &r.sender);
            w.leaf("MessageID", &r.message_id);
            w.opt("ServiceCode", r.service_code.as_deref());
            w.opt("TimeStamp", r.timestamp.as_deref());
            w.opt_bool("ReadReply", r.read_reply);
            w.opt("EarliestDeliveryTime", r.earliest_delivery_time.as_deref());
            w.opt_bool(schema.distribution_element(), r.distribution_indicator);
            if let Some(c) = &r.content {
                w.content(c);
            }
        }
        Body::DeliveryReportReq(r) => {
            w.opt("MMSRelayServerID", r.relay_server_id.as_deref());
            w.leaf("MessageID", &r.message_id);
            w.address_element("Recipient", &r.recipient);
            w.address_element("Sender", &r.sender);
            w.leaf(schema.report_time_element(), &r.date);
            w.leaf("MMStatus", r.status.as_str());
            if schema.is_rel6() {
                w.opt("MMStatusExtension", r.status_extension.as_deref());
            }
            w.opt("StatusText", r.status_text.as_deref());
        }
        Body::ReadReplyReq(r) => {
            w.opt("MMSRelayServerID", r.relay_server_id.as_deref());
            w.leaf("MessageID", &r.message_id);
            w.address_element("Recipient", &r.recipient);
            w.address_element("Sender", &r.sender);
            w.leaf("TimeStamp", &r.timestamp);
            w.leaf("MMStatus", canonical(&r.status, &READ_STATUSES));
            w.opt("StatusText", r.status_text.as_deref());
        }
        Body::CancelRsp(s)
        | Body::ReplaceRsp(s)
        | Body::DeliveryReportRsp(s)
        | Body::ReadReplyRsp(s) => w.status(s),
        Body::ErrorRsp(e) => w.status(&e.status),
        Body::Fault(_) => {}
    }
}

fn submit_req(w: &mut Writer, schema: Schema, r: &SubmitReq) {
    w.sender_identification(schema, &r.sender);
    w.recipients(&r.recipients);
    w.opt("ServiceCode", r.service_code.as_deref());
    w.opt("LinkedID", r.linked_id.as_deref());
    w.opt(
        "MessageClass",
        r.message_class
            .as_deref()
            .map(|c| canonical(c, &MESSAGE_CLASSES)),
    );
    w.opt("TimeStamp", r.timestamp.as_deref());
    if let Some(rc) = &r.reply_charging {
        let mut attrs = String::new();
        if let Some(size) = rc.size.filter(|s| *s > 0) {
            let _ = write!(attrs, " replyChargingSize=\"{size}\"");
        }
        if let Some(d) = &rc.deadline {
            let _ = write!(attrs, " replyDeadline=\"{}\"", escape(d.trim()));
        }
        let _ = writeln!(w.out, "<{}ReplyCharging{attrs}/>", w.p);
    }
    w.opt("EarliestDeliveryTime", r.earliest_delivery_time.as_deref());
    w.opt("ExpiryDate", r.expiry_date.as_deref());
    w.opt_bool("DeliveryReport", r.delivery_report);
    w.opt_bool("ReadReply", r.read_reply);
    w.opt(
        "Priority",
        r.priority.as_deref().map(|p| canonical(p, &PRIORITIES)),
    );
    w.opt("Subject", r.subject.as_deref());
    w.opt(
        "ChargedParty",
        r.charged_party
            .as_deref()
            .map(|c| canonical(c, &CHARGED_PARTIES)),
    );
    w.opt_bool(schema.distribution_element(), r.distribution_indicator);
    if let Some(c) = &r.content {
        w.content(c);
    }
    if let Some(x) = &r.extension_xml {
        w.out.push_str(x.trim());
        w.out.push('\n');
    }
}

fn deliver_req(w: &mut Writer, schema: Schema, r: &DeliverReq) {
    w.opt("MMSRelayServerID", r.relay_server_id.as_deref());
    w.opt("LinkedID", r.linked_id.as_deref());
    match &r.sender {
        Some(a) => w.address_element("Sender", a),
        None => w.address_element("Sender", &Address::email("unknown@invalid")),
    }
    if !r.recipients.is_empty() {
        w.recipients(&r.recipients);
    }
    w.opt("TimeStamp", r.timestamp.as_deref());
    match (&r.reply_charging_id, schema.legacy_r5()) {
        (Some(id), _) => w.leaf("ReplyChargingID", id),
        // Mandatory in REL-5-MM7-1-0/-1-1 (a schema slip fixed in 1-2); "none" is a valid
        // NMTOKEN that names no reply-charging message.
        (None, true) => w.leaf("ReplyChargingID", "none"),
        (None, false) => {}
    }
    w.opt(
        "Priority",
        r.priority.as_deref().map(|p| canonical(p, &PRIORITIES)),
    );
    w.opt("Subject", r.subject.as_deref());
    if let Some(c) = &r.content {
        w.content(c);
    }
}

fn write_fault(w: &mut Writer, e: &str, default_ns: &str, version: &str, f: &Fault) {
    let code = f.code.rsplit(':').next().unwrap_or("Server");
    let _ = write!(
        w.out,
        "<{e}:Fault>\n<faultcode>{e}:{}</faultcode>\n<faultstring>{}</faultstring>\n",
        escape(code),
        escape(&f.string)
    );
    if let Some(d) = &f.detail {
        w.out.push_str("<detail>\n");
        let name = d.side.element();
        w.open_with(name, default_ns);
        w.leaf("MM7Version", version);
        w.status(&d.status);
        w.close(name);
        w.out.push_str("</detail>\n");
    }
    let _ = writeln!(w.out, "</{e}:Fault>");
}
