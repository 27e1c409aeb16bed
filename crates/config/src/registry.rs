//! The registry of every option and stanza Impulse understands: name, scopes, type, default and
//! a one-line description. It is the one source of truth: validation checks against it, the
//! scope fallback reads defaults from it, and `docs/configuration.md` is generated from it.
//!
//! Names follow Momentum (`docs/reference/momentum.md` §2, §6). Options Impulse knows
//! but does not implement yet are listed with the issue that will implement them, so that a
//! configuration using them is refused by name instead of being silently ignored.

use std::fmt::{self, Write as _};

/// A kind of scope an option may be set in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScopeKind {
    Global,
    BindingGroup,
    Binding,
    Domain,
    EsmtpListener,
    Listen,
    Peer,
    EcLogger,
    SmppLogger,
    SmppBounceLogger,
    /// Momentum's `smpp` module stanza.
    SmppModule,
    HttpListener,
    /// Momentum's `mm7` and `httpsrv` module stanzas (only `debug_level`).
    Mm7Module,
    Mm7Serv,
    MmsLogger,
    MmsBounceLogger,
    ControlListener,
}

impl ScopeKind {
    pub fn name(self) -> &'static str {
        match self {
            ScopeKind::Global => "global",
            ScopeKind::BindingGroup => "binding_group",
            ScopeKind::Binding => "binding",
            ScopeKind::Domain => "domain",
            ScopeKind::EsmtpListener => "ESMTP_Listener",
            ScopeKind::Listen => "Listen",
            ScopeKind::Peer => "Peer",
            ScopeKind::EcLogger => "ec_logger",
            ScopeKind::SmppLogger => "smpp_logger",
            ScopeKind::SmppBounceLogger => "smpp_bounce_logger",
            ScopeKind::SmppModule => "smpp",
            ScopeKind::HttpListener => "HTTP_Listener",
            ScopeKind::Mm7Module => "mm7",
            ScopeKind::Mm7Serv => "mm7_serv",
            ScopeKind::MmsLogger => "mms_logger",
            ScopeKind::MmsBounceLogger => "mms_bounce_logger",
            ScopeKind::ControlListener => "Control_Listener",
        }
    }
}

/// The type of an option's value; validation parses every value with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    /// A non-negative integer.
    Int,
    /// Seconds, fractions allowed (`0.5`).
    Seconds,
    /// Bytes, with an optional K/M/G suffix.
    Size,
    Str,
    Path,
    /// One of the listed words, case-insensitive.
    Enum(&'static [&'static str]),
    /// `auto`, `none` or a count (Max_Retries).
    Retries,
    /// A list of IP addresses or CIDR blocks (a single value is accepted as a one-item list).
    Cidrs,
    /// `host`, `host:port` or `[v6]:port`.
    HostPort,
    /// A list of routes: `smtp://host?port=N&pref=N`, `smtp://host:port`, `__mx__`.
    Routes,
    /// `N` or `N/seconds`.
    Throttle,
    List,
    /// A list (or one word) of the listed words, case-insensitive.
    EnumList(&'static [&'static str]),
    Hash,
}

impl Kind {
    fn describe(self) -> String {
        match self {
            Kind::Bool => "boolean".into(),
            Kind::Int => "integer".into(),
            Kind::Seconds => "seconds".into(),
            Kind::Size => "bytes (K/M/G suffix allowed)".into(),
            Kind::Str => "string".into(),
            Kind::Path => "path".into(),
            Kind::Enum(words) => format!("one of {}", words.join(", ")),
            Kind::Retries => "`auto`, `none` or a count".into(),
            Kind::Cidrs => "list of IP addresses or CIDR blocks".into(),
            Kind::HostPort => "host or host:port".into(),
            Kind::Routes => "list of routes".into(),
            Kind::Throttle => "`N` or `N/seconds`".into(),
            Kind::List => "list".into(),
            Kind::EnumList(words) => format!("list of {}", words.join(", ")),
            Kind::Hash => "hash".into(),
        }
    }
}

/// Whether Impulse acts on an option today.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Implemented,
    /// Known, refused at validation; the text says why and what to use instead.
    NotYet(&'static str),
    /// Accepted so that a Momentum configuration loads, with no effect; the text says why.
    Ignored(&'static str),
}

#[derive(Debug)]
pub struct OptionDef {
    pub name: &'static str,
    pub scopes: &'static [ScopeKind],
    pub kind: Kind,
    pub default: Option<&'static str>,
    pub doc: &'static str,
    pub status: Status,
}

/// A stanza keyword and what may follow it.
#[derive(Debug)]
pub struct StanzaDef {
    pub kind: &'static str,
    /// Whether the stanza takes a name (`domain "x" { }`) or not (`ESMTP_Listener { }`).
    pub named: bool,
    pub doc: &'static str,
    pub status: Status,
}

use Kind::*;
use ScopeKind::*;
use Status::{Ignored, Implemented as Yes, NotYet};

const G: &[ScopeKind] = &[Global];
const GD: &[ScopeKind] = &[Global, Domain];
const SEND: &[ScopeKind] = &[Global, BindingGroup, Binding, Domain];
const BIND: &[ScopeKind] = &[Global, BindingGroup, Binding];
const RECV: &[ScopeKind] = &[Global, EsmtpListener, HttpListener, Listen, Peer];
const RECV_SEND: &[ScopeKind] = &[
    Global,
    EsmtpListener,
    HttpListener,
    Listen,
    Peer,
    BindingGroup,
    Binding,
    Domain,
];
const LISTENER: &[ScopeKind] = &[EsmtpListener, HttpListener, Listen];
const LOGGER: &[ScopeKind] = &[EcLogger];
const SMPPLOG: &[ScopeKind] = &[SmppLogger, MmsLogger];
const SMPPBOUNCE: &[ScopeKind] = &[SmppBounceLogger, MmsBounceLogger];
const MMSLOG: &[ScopeKind] = &[MmsLogger];
const HEARTBEAT: &[ScopeKind] = &[EcLogger, SmppBounceLogger, MmsLogger, MmsBounceLogger];
const SMPPMOD: &[ScopeKind] = &[SmppModule, Mm7Module, Mm7Serv];
const MM7SERV: &[ScopeKind] = &[Mm7Serv];
const HTTPL: &[ScopeKind] = &[HttpListener, Listen, Peer];
const AUTHED: &[ScopeKind] = &[EsmtpListener, HttpListener, Listen, Peer, ControlListener];

const MSTORE: Status = NotYet("mstore (Riak) is not supported by Impulse");
const TLS: Status = NotYet(
    "Impulse offers STARTTLS and implicit TLS with one certificate, and AUTH PLAIN/LOGIN; client certificates, cipher lists and DIGEST-MD5 are not supported",
);
const RAM_SQL: Status =
    NotYet("Impulse keeps reverse address mappings in its spool, not through SQL datasources");
const NO_POOL: Status = Ignored(
    "Impulse's listeners run on its own runtime (Worker_Threads): there is no event pool to name or tune",
);
const KERNEL_BUFFERS: Status =
    Ignored("the kernel's socket buffer sizes apply (Linux tunes them per connection)");
const TRACKING: Status = NotYet(
    "Impulse keeps submission tracking (receipt matching) in its spool, not in a datasource cache",
);

/// An option the code reads. Only the registry makes one (its constants, in [`names`]), so a
/// misspelt or unknown option name does not compile; names typed by people (the console's
/// `config get`, `impulse config eval`) are looked up with [`option`] instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Opt(&'static str);

impl Opt {
    pub const fn name(self) -> &'static str {
        self.0
    }

    /// Its registry entry.
    pub fn def(self) -> &'static OptionDef {
        option(self.0).expect("an Opt is made from a registry entry")
    }
}

impl fmt::Display for Opt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Builds [`OPTIONS`] and a constant of [`names`] for each entry, from one list.
macro_rules! options {
    ($( opt!($id:ident, $name:literal, $scopes:expr, $kind:expr, $default:expr, $status:expr, $doc:literal) ),* $(,)?) => {
        /// Every option: Momentum's (whatever Impulse does with it) and Impulse's own.
        pub static OPTIONS: &[OptionDef] = &[
            $(
                OptionDef {
                    name: $name,
                    scopes: $scopes,
                    kind: $kind,
                    default: $default,
                    doc: $doc,
                    status: $status,
                }
            ),*
        ];

        /// One constant per option, generated from the registry: the only way the rest of
        /// Impulse names an option.
        pub mod names {
            use super::Opt;
            $(
                #[doc = $name]
                pub const $id: Opt = Opt($name);
            )*
        }
    };
}

#[rustfmt::skip]
options! {
    // ---- Core: process and spool -------------------------------------------------------------
    opt!(SPOOLBASE, "Spoolbase", G, Path, Some("/var/spool/impulse"), Yes, "Where the durable spool is: a directory (an embedded SQLite database `spool.db`), or a `postgresql://user@host:port/database` URL for a spool that several nodes share (docs/scale-out.md)."),
    opt!(NODE_NAME, "Node_Name", G, Str, None, Yes, "This node's name in a cluster sharing a PostgreSQL spool (Impulse option): on its leases, in logs, the console and metrics; defaults to the host name. Each node needs its own: a node started with a running node's name takes over that node's work."),
    opt!(SPOOL_LEASE_TIMEOUT, "Spool_Lease_Timeout", G, Seconds, Some("30"), Yes, "With a PostgreSQL spool (Impulse option): seconds after which a node that has not been heard from is declared dead, its leased messages go to the other nodes, and what it records afterwards is refused."),
    opt!(MAINLOG_MOBILE_RECORDS, "Mainlog_Mobile_Records", G, Bool, Some("false"), Yes, "Also write SMS and MMS receptions and deliveries to the mainlog (Impulse option). As Momentum, Impulse writes them to the smpp and mms logs only: the mainlog has SMTP receptions and deliveries. Set true for one file with everything."),
    opt!(WORKER_THREADS, "Worker_Threads", G, Int, Some("0"), Yes, "Threads running network sessions (Impulse option); 0: one less than the CPUs, at least 1, leaving a core to the spool writer."),
    opt!(HOSTNAME, "Hostname", G, Str, None, Yes, "Name this host uses in banners, Received: headers, EHLO and bounces; defaults to the system host name."),
    // ---- Core: receiving (ESMTP_Listener, Listen, Peer) ----------------------------------------
    opt!(ENABLE, "Enable", LISTENER, Bool, Some("true"), Yes, "Whether a listener or Listen scope accepts connections."),
    opt!(RELAY_HOSTS, "Relay_Hosts", RECV, Cidrs, None, Yes, "Peers (IP or CIDR) allowed to relay to any domain; others may only send to configured domains."),
    opt!(OPEN_RELAY, "Open_Relay", RECV, Bool, Some("false"), Yes, "Accept mail for any domain from anyone. Dangerous; for closed test networks only."),
    opt!(MAX_MESSAGE_SIZE, "Max_Message_Size", RECV, Size, Some("0"), Yes, "Largest message accepted, in bytes (0: Impulse's ceiling of 64 MiB); larger gets 552."),
    opt!(MAX_RECIPIENTS_PER_MESSAGE, "Max_Recipients_Per_Message", RECV, Int, Some("1000"), Yes, "Most RCPT TO accepted in one transaction (Impulse option); more gets 452."),
    opt!(MAX_RECEPTIONS_PER_CONNECTION, "Max_Receptions_Per_Connection", RECV, Int, Some("0"), Yes, "Messages accepted on one connection before it is closed (0: no limit)."),
    opt!(MAX_CONNECTIONS, "Max_Connections", RECV, Int, Some("1000"), Yes, "Concurrent connections per Listen address (Impulse option); more get SMTP 421 or HTTP 503."),
    opt!(MAX_CONNECTIONS_PER_PEER, "Max_Connections_Per_Peer", RECV, Int, Some("50"), Yes, "Concurrent SMTP connections from one client address (Impulse option, like Postfix's smtpd_client_connection_count_limit; 0: no limit); more get 421. Peers that may relay (Relay_Hosts, Always_Allow, Open_Relay) and loopback clients are not limited."),
    opt!(TIMEOUT, "Timeout", &[Global, EsmtpListener, HttpListener, Listen, Peer, ControlListener], Seconds, Some("300"), Yes, "Seconds an SMTP client may stay silent before the session is closed with 421; on the HTTP_Listener, seconds to send a request's head (else the connection is closed) and its body (else 408); in Control_Listener, seconds a console session may stay idle (60 when not set there; 0: no limit)."),
    opt!(MCMT_RECEPTION, "MCMT_Reception", RECV, Enum(&["allow", "reject", "passthru"]), Some("passthru"), NotYet("Impulse does not read multi-channel (multipart/vnd.msys.mcmt) messages: every mail is handled as `passthru` handles it, an ordinary message, so remove the option"), "Multi-channel message reception."),
    opt!(CONTEXT, "Context", RECV, Hash, None, Ignored("context variables are read by policy scripts, and Impulse runs none"), "Connection context variables."),
    opt!(TCP_RECV_BUFFER_SIZE, "tcp_recv_buffer_size", LISTENER, Size, None, KERNEL_BUFFERS, "Socket receive buffer of a listener's connections."),
    opt!(TCP_SEND_BUFFER_SIZE, "tcp_send_buffer_size", LISTENER, Size, None, KERNEL_BUFFERS, "Socket send buffer of a listener's connections."),
    opt!(POOL_NAME, "pool_name", LISTENER, Str, None, NO_POOL, "Event-loop pool of a listener."),
    opt!(EVENTS_PER_ITER, "events_per_iter", LISTENER, Int, None, NO_POOL, "Events a listener handles per loop iteration."),
    opt!(ACCEPT_QUEUE_BACKLOG, "accept_queue_backlog", LISTENER, Int, None, NO_POOL, "Accepted connections queued for the event loop."),
    opt!(TLS_VERIFIED_PEER_IS_AUTHORIZED, "tls_verified_peer_is_authorized", HTTPL, Bool, Some("false"), TLS, "A client with a verified certificate may relay."),
    opt!(PROHIBITED_HOSTS, "Prohibited_Hosts", RECV, Cidrs, None, NotYet("refuse those peers with a Peer stanza holding Always_Deny = true (or at the firewall)"), "Peers refused at connect."),
    opt!(ALWAYS_ALLOW, "Always_Allow", RECV, Bool, Some("false"), Yes, "Trust the peer: over SMTP it may relay to any domain; over HTTP it needs no credentials. Wins over Always_Deny."),
    opt!(ALWAYS_DENY, "Always_Deny", RECV, Bool, Some("false"), Yes, "Refuse the peer (usually in a Peer scope): SMTP greets it with 554 and closes; HTTP answers 403."),
    opt!(AUTH_CREDENTIALS, "Auth_Credentials", AUTHED, List, None, Yes, "`user:password` pairs (Impulse option): on the ESMTP_Listener, what SMTP AUTH accepts when `Enable_Authentication` is on; on the HTTP_Listener each request must carry one of them as Basic credentials (401 otherwise) unless the peer has Always_Allow; on the Control_Listener a TCP console must log in with one, and the admin HTTP listener asks for one as Basic credentials."),
    opt!(FILE_MODE, "File_Mode", &[ControlListener, HttpListener, Listen], Str, Some("0660"), Yes, "Octal permissions of a Unix-socket listener: the console's (Impulse's SMTP and HTTP listeners are TCP only, so there it has no effect)."),
    opt!(LISTEN_BACKLOG, "Listen_Backlog", RECV, Int, Some("500"), Ignored("Impulse listens with a backlog of 1024 (tokio's), larger than Momentum's default"), "Kernel accept backlog."),
    opt!(CONCURRENCY, "Concurrency", &[Global, EsmtpListener, HttpListener, Listen, Peer, SmppLogger, MmsLogger], Int, Some("0"), Yes, "Threads of a listener or logger: accepted for compatibility, no effect (Impulse sizes its threads with Worker_Threads)."),
    opt!(IDLE_TIME, "Idle_Time", RECV, Seconds, Some("0"), NotYet("use Timeout: idle SMTP and HTTP clients are closed after it"), "Listener idle time."),
    opt!(SMTP_EXTENSIONS, "SMTP_Extensions", RECV, List, None, NotYet("Impulse advertises exactly the ESMTP extensions it implements, and no others"), "Extra EHLO keywords."),
    opt!(ENABLE_AUTHENTICATION, "Enable_Authentication", RECV, Bool, Some("false"), Yes, "SMTP AUTH PLAIN and LOGIN, offered only over TLS and checked against `Auth_Credentials`; an authenticated client may relay to any domain."),
    opt!(AUTHPLAINPARAMETERS, "AuthPlainParameters", RECV, Hash, None, TLS, "SMTP AUTH PLAIN parameters."),
    opt!(AUTHDIGESTMD5PARAMETERS, "AuthDigestMD5Parameters", RECV, Hash, None, TLS, "SMTP AUTH DIGEST-MD5 parameters."),
    opt!(TLS, "TLS", RECV_SEND, Enum(&["allow", "ifavailable", "required", "no"]), Some("ifavailable"), Yes, "STARTTLS. On the ESMTP_Listener: `allow`/`ifavailable` offer it when a certificate is configured, `required` refuses MAIL (530) until the client has started TLS, `no` never offers it. For delivery (global, domain, binding): `allow`/`ifavailable` use it when the server offers it, without checking its certificate, and deliver in the clear if the handshake fails (RFC 7435); `required` insists and verifies the certificate against the host name (Mozilla's roots plus `TLS_CA_File`), else a temporary failure; `no` never tries. A global value applies to both sides: set it in the listener's or the domain's scope to affect one."),
    opt!(TLS_CA_FILE, "TLS_CA_File", SEND, Path, None, Yes, "PEM file of extra trust anchors for `TLS = required` delivery (a private CA), added to Mozilla's roots (Impulse option)."),
    opt!(TLS_CERTIFICATE, "TLS_Certificate", RECV, Path, None, Yes, "PEM certificate chain of the listener (ESMTP: STARTTLS and Use_SSL; HTTP_Listener: HTTPS). Read at start and at `config reload`."),
    opt!(TLS_KEY, "TLS_Key", RECV, Path, None, Yes, "PEM private key matching `TLS_Certificate`."),
    opt!(TLS_CLIENT_CA, "TLS_Client_CA", RECV, Path, None, TLS, "CA for client certificates."),
    opt!(TLS_CIPHERS, "TLS_Ciphers", SEND, Str, None, TLS, "TLS cipher list."),
    opt!(TLS_VERIFY_MODE, "TLS_Verify_Mode", RECV, Str, Some("none"), TLS, "Client certificate verification."),
    opt!(USE_SSL, "Use_SSL", RECV, Bool, Some("false"), Yes, "TLS from the first byte (SMTPS, port 465 style) on the ESMTP_Listener; needs `TLS_Certificate`. On the HTTP_Listener a certificate alone means HTTPS."),
    // ---- Core: sending (global, binding_group, binding, domain) --------------------------------
    opt!(DELIVERY_METHOD, "Delivery_Method", SEND, Enum(&["esmtp", "smtp", "lmtp", "ecstream", "apn", "gcm", "mm7"]), Some("ESMTP"), Yes, "How mail for a domain leaves: ESMTP/SMTP, or MM7 (with `Routes = (\"mm7://host/path?port=N\")` or `HTTP_Host`). Others are refused at config check."),
    opt!(GATEWAY, "Gateway", SEND, HostPort, None, Yes, "Smarthost that receives all mail for the scope instead of MX routing (`host` or `host:port`)."),
    opt!(ROUTES, "Routes", GD, Routes, None, Yes, "Ordered routes (`smtp://host?port=N&pref=N`, `smtp://host:port`, `__mx__`) tried instead of MX."),
    opt!(RETRY_INTERVAL, "Retry_Interval", SEND, Seconds, Some("1200"), Yes, "Delay before the first retry after a temporary failure; doubled after each further failure."),
    opt!(MAX_RETRY_INTERVAL, "Max_Retry_Interval", SEND, Seconds, Some("43200"), Yes, "Ceiling of the doubling retry delay."),
    opt!(MAX_RETRIES, "Max_Retries", SEND, Retries, Some("auto"), Yes, "Attempts before a message fails: `auto` (until Message_Expiration), `none` or a count."),
    opt!(MESSAGE_EXPIRATION, "Message_Expiration", SEND, Seconds, Some("86400"), Yes, "Seconds after reception at which an undelivered message fails with a bounce."),
    opt!(NEVER_RETRY, "Never_Retry", SEND, Bool, Some("false"), Yes, "Fail on the first temporary failure instead of retrying."),
    opt!(GENERATE_BOUNCES, "Generate_Bounces", SEND, Bool, Some("true"), Yes, "Send a DSN (RFC 3464) to the envelope sender when a message fails."),
    opt!(MAX_OUTBOUND_CONNECTIONS, "Max_Outbound_Connections", SEND, Int, Some("32"), Yes, "Concurrent outbound connections per destination (domain and binding). An SMPP domain has one bind; twice SMPP_Command_Window_Size messages are in delivery at once."),
    opt!(SMTP_COMMAND_TIMEOUT, "SMTP_Command_Timeout", SEND, Seconds, Some("300"), Yes, "Seconds Impulse waits for each answer of a server it delivers to (greeting, EHLO, MAIL, RCPT, DATA, end of data), and for a write to go through; connecting waits at most 30 s of it (Impulse option, RFC 5321 §4.5.3.2 sets 5 to 10 minutes). A silent server is given up and the recipients retried later."),
    opt!(IDLE_TIMEOUT, "Idle_Timeout", SEND, Seconds, Some("5"), Yes, "Seconds an idle outbound connection is kept open for reuse (SMTP; for MM7 domains, when set, instead of MM7_Inactivity_Timer)."),
    opt!(SUSPEND_DELIVERY, "Suspend_Delivery", SEND, Bool, Some("false"), Yes, "Hold mail for the scope in the queue without delivering it."),
    opt!(BIND_ADDRESS, "Bind_Address", BIND, Str, None, Yes, "Local IP address outbound connections of a binding are made from."),
    opt!(EHLO_HOSTNAME, "EHLO_Hostname", SEND, Str, None, Yes, "Name sent in EHLO/HELO (default: Hostname)."),
    opt!(OUTBOUND_THROTTLE_MESSAGES, "Outbound_Throttle_Messages", SEND, Throttle, None, Yes, "Messages a second (`\"N\"`) or per period (`\"N/secs\"`, at least one in 11.6 days) delivered to the scope's destinations, SMTP, SMPP and MM7 alike. Shared by reference: set globally, it limits all domains together; set in a domain or binding, that scope alone. At most one second's worth goes at once; 0 is no limit. A reload or `config set` applies to deliveries already waiting. `show outbound` lists the throttles in use."),
    opt!(OUTBOUND_THROTTLE_CONNECTIONS, "Outbound_Throttle_Connections", SEND, Throttle, None, Yes, "New outbound SMTP connections a second (`\"N\"`) or per period (`\"N/secs\"`), shared by reference like Outbound_Throttle_Messages. SMPP binds are persistent and counted by Max_Outbound_Connections instead."),
    opt!(CONNECTION_ALLOCATION_AGGRESSIVENESS, "Connection_Allocation_Aggressiveness", SEND, Str, Some("normal"), NotYet("Impulse opens connections as a queue needs them, up to Max_Outbound_Connections: set that"), "Connection goal growth."),
    opt!(BOUNCE_BEHAVIOR, "Bounce_Behavior", GD, Enum(&["pass", "blackhole"]), Some("pass"), NotYet("Impulse does not classify received bounces: they are relayed as mail, as `pass` does; `blackhole` has no equivalent, so remove the option"), "Handling of received out-of-band bounces."),
    opt!(LOCAL_CHANGES_FILE, "Local_Changes_File", G, Path, None, NotYet("Impulse never writes configuration: a console `config set` lasts until the next reload; change the file to keep it"), "Where console config changes are written."),
    opt!(LOCAL_CHANGES_ONLY, "Local_Changes_Only", G, Bool, Some("false"), NotYet("Impulse never writes configuration: a console `config set` lasts until the next reload; change the file to keep it"), "Write console changes only to Local_Changes_File."),
    // ---- ec_logger ----------------------------------------------------------------------------
    opt!(MAINLOG, "Mainlog", LOGGER, Path, None, Yes, "Mainlog file: reception, delivery, tempfail, permfail records (`@`-delimited)."),
    opt!(PANICLOG, "Paniclog", LOGGER, Path, None, Yes, "Paniclog file: errors that need an operator."),
    opt!(HEARTBEAT, "Heartbeat", HEARTBEAT, Seconds, Some("60"), Yes, "Seconds between heartbeat records (`M1` in the mainlog, `M` in the mobile logs; 0: none)."),
    // ---- smpp_logger, smpp_bounce_logger, mms_logger, mms_bounce_logger (§2.6–§2.9) ---------
    opt!(LOGFILE, "Logfile", SMPPLOG, Path, Some("/var/log/ecelerity/smpplog.ec"), Yes, "SMPP or MMS log file (`@`-delimited R, D, S, T, P, X records); mms_logger's default is `/var/log/ecelerity/mmslog.ec`."),
    opt!(LOGMODE, "Logmode", SMPPLOG, Str, Some("0644"), Yes, "Octal permissions of a new SMPP or MMS log file."),
    opt!(LOG_HEARTBEAT_FORMAT, "Log_Heartbeat_Format", MMSLOG, Str, Some("%t@M"), Yes, "Layout of the MMS log's heartbeat records."),
    opt!(LOG_RECEPTION, "Log_Reception", SMPPLOG, Bool, Some("true"), Yes, "Write R records (SMS or MMS received)."),
    opt!(LOG_RECEPTION_FORMAT, "Log_Reception_Format", SMPPLOG, Str, Some("%t@R@%i@%sa@%da@%d@%g@%b@%H@%B@%sg"), Yes, "Layout of R records (macros of docs/reference/momentum.md §5.2; mms_logger: §5.3, default `%t@R@%i@%sa@%da@%d@%P@%PG@%H@%B@%S@%e@\"%ti\"`)."),
    opt!(LOG_DELIVERY, "Log_Delivery", SMPPLOG, Bool, Some("true"), Yes, "Write D records (message accepted by the SMSC or MMSC)."),
    opt!(LOG_DELIVERY_FORMAT, "Log_Delivery_Format", SMPPLOG, Str, Some("%t@D@%i@%sa@%da@%d@%g@%b@%H@%B@%sg@%rm"), Yes, "Layout of D records (mms_logger default `%t@D@%i@%sa@%da@%d@%g@%b@%H@%B@\"%rm\"@\"%ti\"`)."),
    opt!(LOG_STATUS, "Log_Status", SMPPLOG, Bool, Some("true"), Yes, "Write S records (delivery receipts, MM7 delivery reports and read replies)."),
    opt!(LOG_STATUS_FORMAT, "Log_Status_Format", SMPPLOG, Str, Some("%t@S@%sa@%da@%d@%g@%b@%H@%rm@%drl@%T@%S@%e"), Yes, "Layout of S records (mms_logger default `%t@S@%sa@%da@%d@%g@%b@%H@\"%rm\"@%drl@%S@%e`)."),
    opt!(LOG_TEMPFAIL, "Log_Tempfail", SMPPLOG, Bool, Some("true"), Yes, "Write T records (temporary failures)."),
    opt!(LOG_TEMPFAIL_FORMAT, "Log_Tempfail_Format", SMPPLOG, Str, Some("%t@T@%i@%sa@%da@%d@%g@%b@%H@%e"), Yes, "Layout of T records (mms_logger default `%t@T@%i@%sa@%da@%d@%g@%b@%H@%S@%e`)."),
    opt!(LOG_PERMFAIL, "Log_Permfail", SMPPLOG, Bool, Some("true"), Yes, "Write P records (permanent failures)."),
    opt!(LOG_PERMFAIL_FORMAT, "Log_Permfail_Format", SMPPLOG, Str, Some("%t@P@%i@%sa@%da@%d@%g@%b@%H@%e"), Yes, "Layout of P records (mms_logger default `%t@P@%i@%sa@%da@%d@%g@%b@%H@%S@%e`)."),
    opt!(LOG_CONVERSION, "Log_Conversion", SMPPLOG, Bool, Some("true"), Yes, "Write X records (email/SMS or email/MMS conversions)."),
    opt!(LOG_CONVERSION_FORMAT, "Log_Conversion_Format", SMPPLOG, Str, Some("%t@X@%i@%sa@%da@%d@%g@%b@%H@%e"), Yes, "Layout of X records."),
    opt!(NAMESPACE, "Namespace", SMPPLOG, Str, None, Yes, "Macro namespaces: accepted for compatibility, no effect (each log has one macro set)."),
    opt!(THREAD_POOL, "Thread_Pool", SMPPLOG, Str, None, Yes, "Logger thread pool: accepted for compatibility, no effect."),
    opt!(BOUNCE_LOGFILE, "Bounce_Logfile", SMPPBOUNCE, Path, Some("/var/log/ecelerity/smppbouncelog.ec"), Yes, "SMPP or MMS bounce log file (I, O, T records and M heartbeats); mms_bounce_logger's default is `/var/log/ecelerity/mmsbouncelog.ec`."),
    opt!(BOUNCE_LOGMODE, "Bounce_Logmode", SMPPBOUNCE, Str, Some("0644"), Yes, "Octal permissions of a new bounce log file."),
    opt!(BOUNCE_CONCURRENCY, "Bounce_Concurrency", SMPPBOUNCE, Int, Some("1"), Yes, "Accepted for compatibility, no effect (one writer thread)."),
    opt!(BOUNCE_THREAD_POOL, "Bounce_Thread_Pool", SMPPBOUNCE, Str, None, Yes, "Accepted for compatibility, no effect."),
    opt!(BOUNCE_NAMESPACE, "Bounce_Namespace", SMPPBOUNCE, Str, None, Yes, "Accepted for compatibility, no effect."),
    opt!(LOG_BOUNCE_HEARTBEAT_FORMAT, "Log_Bounce_Heartbeat_Format", SMPPBOUNCE, Str, Some("%t@M"), Yes, "Layout of heartbeat records."),
    opt!(LOG_BOUNCE_INBAND, "Log_Bounce_Inband", SMPPBOUNCE, Bool, Some("true"), Yes, "Write I records (SMS or MMS failed permanently)."),
    opt!(LOG_BOUNCE_INBAND_FORMAT, "Log_Bounce_Inband_Format", SMPPBOUNCE, Str, Some("%t@I@%i@%sa@%da@%d@%g@%b@%H@%e"), Yes, "Layout of I records."),
    opt!(LOG_BOUNCE_OUTBAND, "Log_Bounce_Outband", SMPPBOUNCE, Bool, Some("true"), Yes, "Write O records (receipt or delivery report told of a final failure)."),
    opt!(LOG_BOUNCE_OUTBAND_FORMAT, "Log_Bounce_Outband_Format", SMPPBOUNCE, Str, Some("%t@O@%i@%sa@%da@%d@%g@%b@%H@%e"), Yes, "Layout of O records."),
    opt!(LOG_BOUNCE_TRANSIENT, "Log_Bounce_Transient", SMPPBOUNCE, Bool, Some("true"), Yes, "Write T records (SMS or MMS failed temporarily)."),
    opt!(LOG_BOUNCE_TRANSIENT_FORMAT, "Log_Bounce_Transient_Format", SMPPBOUNCE, Str, Some("%t@T@%i@%sa@%da@%d@%g@%b@%H@%e"), Yes, "Layout of T records."),
    opt!(REJECTLOG, "Rejectlog", LOGGER, Path, None, NotYet("refused commands and connections are logged through IMPULSE_LOG (level info) with the peer and the reply; counted in /metrics"), "Rejected-connection log."),
    opt!(IMPORTLOG, "Importlog", LOGGER, Path, None, NotYet("Impulse has no message import, so no import log"), "Log of imported messages."),
    opt!(ACCTLOG, "Acctlog", LOGGER, Path, None, NotYet("Impulse keeps no accounting log: the mainlog D records and /metrics count deliveries"), "Accounting log."),
    // ---- HTTP delivery options (MM7 from Momentum 3.5.6) ----------------------------------------
    opt!(HTTP_HOST, "HTTP_Host", SEND, Str, None, Yes, "HTTP Host for MM7 delivery."),
    opt!(HTTP_URI, "HTTP_URI", SEND, Str, Some(""), Yes, "Request path for MM7 delivery."),
    opt!(HTTP_BASIC_AUTH, "HTTP_Basic_Auth", SEND, Str, None, Yes, "`user:password` for MM7 delivery."),
    opt!(HTTP_METHOD, "HTTP_Method", SEND, Enum(&["post"]), Some("POST"), Yes, "HTTP method for MM7 delivery: MM7 is POST only."),
    opt!(HTTP_VERSION, "HTTP_Version", SEND, Enum(&["1.0", "1.1"]), Some("1.1"), Yes, "HTTP version for MM7 delivery."),
    opt!(DELIVERY_RESPONSE_TIMEOUT, "Delivery_Response_Timeout", SEND, Seconds, None, NotYet("for MM7 over HTTP, set MM7_Response_Timer"), "Response wait for HTTP delivery."),
    // ---- SMPP (§2.1) ---------------------------------------------------------------------------
    opt!(SMPP_SMSC_SERVER, "SMPP_SMSC_Server", GD, Str, None, Yes, "SMSC address; makes a domain an SMPP domain."),
    opt!(SMPP_SMSC_PORT, "SMPP_SMSC_Port", GD, Int, Some("2775"), Yes, "SMSC TCP port."),
    opt!(SMPP_TLS, "SMPP_TLS", SEND, Bool, Some("false"), Yes, "SMPP over TLS to the SMSC (Impulse option; Momentum 4's TLS option name is undocumented)."),
    opt!(SMPP_TLS_VERIFY, "SMPP_TLS_Verify", SEND, Bool, Some("true"), Yes, "Verify the SMSC's certificate (chain to a trusted root, name = SMPP_SMSC_Server). Turn off only for a test SMSC: a warning is logged."),
    opt!(SMPP_TLS_CA_FILE, "SMPP_TLS_CA_File", SEND, Path, None, Yes, "PEM file of extra trust anchors for the SMSC's certificate (a private CA), added to Mozilla's roots."),
    opt!(MM7_TLS, "MM7_TLS", SEND, Bool, Some("false"), Yes, "SubmitReqs go to the MMSC over HTTPS (Impulse option)."),
    opt!(MM7_TLS_VERIFY, "MM7_TLS_Verify", SEND, Bool, Some("true"), Yes, "Verify the MMSC's certificate (chain to a trusted root, name = the MMSC host). Turn off only for a test MMSC: a warning is logged."),
    opt!(MM7_TLS_CA_FILE, "MM7_TLS_CA_File", SEND, Path, None, Yes, "PEM file of extra trust anchors for the MMSC's certificate (a private CA), added to Mozilla's roots."),
    opt!(SMPP_SMSC_SYSTEM_ID, "SMPP_SMSC_System_ID", SEND, Str, None, Yes, "Bind system_id."),
    opt!(SMPP_SMSC_PASSWORD, "SMPP_SMSC_Password", SEND, Str, None, Yes, "Bind password."),
    opt!(SMPP_SMSC_SYSTEM_TYPE, "SMPP_SMSC_System_Type", SEND, Str, None, Yes, "Bind system_type."),
    opt!(ENABLED, "Enabled", SMPPMOD, Bool, Some("true"), Ignored("SMPP, MM7 and the MM7 server are built into Impulse and always available: to stop using one, remove its domains or its mm7_serv paths"), "Whether Momentum loads a module."),
    opt!(DEBUG_LEVEL, "debug_level", SMPPMOD, Enum(&["error", "warning", "debug"]), Some("error"), Yes, "Momentum's module debug level (smpp, mm7, mm7_serv, httpsrv). Checked; Impulse's logging follows the IMPULSE_LOG filter (e.g. IMPULSE_LOG=impulse_smpp=debug)."),
    opt!(SMPP_BIND_TYPE, "SMPP_Bind_Type", SEND, Enum(&["transceiver", "transmitter", "receiver"]), Some("transceiver"), Yes, "transceiver, transmitter or receiver."),
    opt!(SMPP_ESME_ADDRESS, "SMPP_ESME_Address", SEND, Str, None, Yes, "source_addr of MT messages."),
    opt!(SMPP_ESME_TYPE_OF_NUMBER, "SMPP_ESME_Type_Of_Number", SEND, Enum(&["unknown", "international", "national", "network", "network specific", "subscriber", "subscriber number", "alphanumeric", "abbreviated", "abreviated", "extension", "0", "1", "2", "3", "4", "5", "6", "7"]), Some("unknown"), Yes, "source_addr_ton."),
    opt!(SMPP_ESME_NUMBERING_PLAN, "SMPP_ESME_Numbering_Plan", SEND, Enum(&["e164", "isdn", "unknown", "0", "1"]), Some("e164"), Yes, "source_addr_npi."),
    opt!(SMPP_DESTINATION_TYPE_OF_NUMBER, "SMPP_Destination_Type_Of_Number", SEND, Enum(&["unknown", "international", "national", "network", "network specific", "subscriber", "subscriber number", "alphanumeric", "abbreviated", "abreviated", "extension", "0", "1", "2", "3", "4", "5", "6", "7"]), Some("international"), Yes, "dest_addr_ton."),
    opt!(SMPP_DESTINATION_NUMBERING_PLAN, "SMPP_Destination_Numbering_Plan", SEND, Enum(&["e164", "isdn", "unknown", "0", "1"]), Some("e164"), Yes, "dest_addr_npi."),
    opt!(SMPP_DESTINATION_FLAG, "SMPP_Destination_Flag", SEND, Enum(&["1", "2"]), Some("1"), Yes, "submit_multi dest_flag: 1 the recipient's local part is a number (SME address), 2 it is a distribution list name."),
    opt!(SMPP_ESME_SERVICE_TYPE, "SMPP_ESME_Service_Type", SEND, Str, None, Yes, "submit_sm service_type."),
    opt!(SMPP_ESME_VALIDITY_PERIOD, "SMPP_ESME_Validity_Period", SEND, Str, None, Yes, "submit_sm validity_period."),
    opt!(SMPP_ESME_SUBMIT_DATA_SM, "SMPP_ESME_Submit_Data_SM", SEND, Bool, Some("false"), Yes, "Send data_sm instead of submit_sm."),
    opt!(SMPP_ESME_SUBMIT_SUBMIT_MULTI, "SMPP_ESME_Submit_Submit_Multi", SEND, Bool, Some("false"), Yes, "Send submit_multi instead of submit_sm: all recipients of a message in one PDU per segment (254 at most). SMPP_ESME_Submit_Data_SM takes precedence."),
    opt!(SMPP_ESME_MAX_BIND_RETRIES, "SMPP_ESME_Max_Bind_Retries", SEND, Int, Some("1"), Yes, "Retries after a bind failure."),
    opt!(SMPP_ESME_MAX_SEGMENTS, "SMPP_ESME_Max_Segments", SEND, Int, Some("255"), Yes, "Cap on MT segments."),
    opt!(SMPP_ESME_UDH_SEGMENT, "SMPP_ESME_UDH_Segment", SEND, Bool, Some("false"), Yes, "UDH instead of SAR for concatenation."),
    opt!(SMPP_CSMS_REFNUM_LENGTH, "SMPP_CSMS_Refnum_Length", SEND, Enum(&["0", "1", "2"]), Some("2"), Yes, "UDH reference number width."),
    opt!(SMPP_ESME_THROTTLED_TIMEOUT, "SMPP_ESME_Throttled_Timeout", SEND, Seconds, Some("0"), Yes, "Pause after ESME_RTHROTTLED."),
    opt!(SMPP_COMMAND_WINDOW_SIZE, "SMPP_Command_Window_Size", SEND, Int, Some("10"), Yes, "Outstanding requests per connection."),
    opt!(SMPP_RESPONSE_TIMER, "SMPP_Response_Timer", SEND, Seconds, Some("15"), Yes, "Request to response timeout."),
    opt!(SMPP_BIND_RESPONSE_TIMER, "SMPP_Bind_Response_Timer", SEND, Seconds, Some("0"), Yes, "Bind response timeout."),
    opt!(SMPP_SUBMIT_RESPONSE_TIMER, "SMPP_Submit_Response_Timer", SEND, Seconds, Some("0"), Yes, "submit_sm response timeout."),
    opt!(SMPP_ENQUIRE_RESPONSE_TIMER, "SMPP_Enquire_Response_Timer", SEND, Seconds, Some("0"), Yes, "enquire_link response timeout."),
    opt!(SMPP_ENQUIRE_LINK_TIMER, "SMPP_Enquire_Link_Timer", SEND, Seconds, Some("60"), Yes, "Idle time before enquire_link."),
    opt!(SMPP_INACTIVITY_TIMER, "SMPP_Inactivity_Timer", SEND, Seconds, Some("300"), Yes, "Idle time before unbind."),
    opt!(SMPP_ACCOUNT_BINDS, "SMPP_Account_Binds", SEND, Int, Some("0"), Yes, "With nodes sharing a PostgreSQL spool (Impulse option): binds all the nodes together may hold to this SMSC account (SMPP_SMSC_Server, SMPP_SMSC_Port and SMPP_SMSC_System_ID), on-demand and persistent alike. A bind opens only in a slot its node took in the database; a dead node's slots are free at its lease timeout. A node without a slot leaves the domain's queue to the nodes with one. 0: no cluster-wide limit, each node opens what its configuration asks for."),
    opt!(SMPP_PERSISTENT_CONNECTIONS, "SMPP_Persistent_Connections", &[Domain], Hash, None, Yes, "Connections kept open per binding."),
    opt!(SMPP_MESSAGE_MODE, "SMPP_Message_Mode", SEND, Enum(&["store_and_forward", "transaction", "datagram"]), Some("store_and_forward"), Yes, "Requested message mode."),
    opt!(SMPP_SMSC_DEFAULT_MESSAGE_MODE, "SMPP_SMSC_Default_Message_Mode", SEND, Enum(&["store_and_forward", "transaction", "datagram"]), Some("store_and_forward"), Yes, "The SMSC's default mode."),
    opt!(SMPP_SMS_DATA_CODING, "SMPP_SMS_Data_Coding", SEND, Enum(&["default", "0", "ascii", "us-ascii", "1", "latin-1", "latin1", "iso-8859-1", "3", "latin-5", "cyrillic", "iso-8859-5", "6", "latin-8", "latin", "hebrew", "iso-8859-8", "7", "ucs2", "ucs-2", "utf-16", "utf16", "8"]), Some("default"), Yes, "MT data_coding: the preferred alphabet (UCS-2 when it cannot carry the text). Latin-5/Cyrillic is ISO-8859-5 (6), Latin-8/Latin/Hebrew ISO-8859-8 (7), as Momentum names them."),
    opt!(SMPP_SMSC_DEFAULT_ALPHABET, "SMPP_SMSC_Default_Alphabet", SEND, Enum(&["gsm", "gsm0338", "default", "ascii", "us-ascii", "1", "latin-1", "latin1", "iso-8859-1", "3", "latin-5", "cyrillic", "iso-8859-5", "6", "latin-8", "latin", "hebrew", "iso-8859-8", "7", "ucs2", "ucs-2", "utf-16", "utf16", "8"]), Some("gsm"), Yes, "What data_coding 0 means to the SMSC, for MT (text in that alphabet goes as 0) and MO."),
    opt!(SMPP_GSM_TRANSCODES_TO, "SMPP_GSM_Transcodes_To", SEND, Enum(&["iso-8859-1", "latin-1", "latin1", "utf-8", "utf8", "ascii", "us-ascii", "iso-8859-5", "latin-5", "cyrillic", "iso-8859-8", "latin-8", "latin", "hebrew", "ucs2", "ucs-2", "utf-16", "utf16"]), Some("ISO-8859-1"), Yes, "Charset of the mail an MO becomes, when it can carry the text (else UTF-8). UCS2/UTF-16 write UTF-8, which carries the same characters and every mail program reads."),
    opt!(SMPP_SMS_DATA_NO_BOM, "SMPP_SMS_Data_No_BOM", SEND, Bool, Some("true"), Yes, "UCS-2 without BOM."),
    opt!(SMPP_MAX_SMS_MESSAGE_SIZE, "SMPP_Max_Sms_Message_Size", SEND, Int, Some("160"), Yes, "Max MT text size."),
    opt!(SMPP_SMS_SEGMENT_SIZE, "SMPP_Sms_Segment_Size", SEND, Int, Some("160"), Yes, "Max segment size."),
    opt!(SMPP_SMS_SEGMENT_BOUNDARY, "SMPP_Sms_Segment_Boundary", SEND, Bool, Some("false"), Yes, "Split before whitespace."),
    opt!(SMPP_SMS_SMART_ENCODING, "SMPP_Sms_Smart_Encoding", SEND, Bool, Some("true"), Yes, "Write typographic spaces, quotes, dashes, ellipses and bullets as their GSM look-alikes when that lets the SMS go in the preferred alphabet in no more segments (Impulse option; letters are never replaced; docs/sms-text.md). false keeps the exact characters."),
    opt!(SMPP_SMS_TRIM_REPLIES, "SMPP_Sms_Trim_Replies", SEND, Bool, Some("false"), Yes, "Remove quoted originals, attributions, signatures, \"Sent from my …\" lines and a trailing disclaimer from the MT text (Impulse option; docs/sms-text.md)."),
    opt!(SMPP_SMS_TRUNCATION_MARKER, "SMPP_Sms_Truncation_Marker", SEND, Str, Some("\u{2026}"), Yes, "Ends an MT text cut by the size limits; written as its GSM look-alike (\"...\") when the SMS goes in GSM; \"\" for none (Impulse option)."),
    opt!(SMPP_MAX_SMS_FROM_SIZE, "SMPP_Max_Sms_From_Size", SEND, Int, Some("0"), Yes, "Sender prefix size in MT text."),
    opt!(SMPP_MAX_SMS_SUBJECT_SIZE, "SMPP_Max_Sms_Subject_Size", SEND, Int, Some("10"), Yes, "Subject size in MT text."),
    opt!(SMPP_USE_INTERWORKING_PARSE, "SMPP_Use_Interworking_Parse", SEND, Bool, Some("true"), Yes, "Parse `addr(subject) text` on MO."),
    opt!(SMPP_USE_REVERSE_ADDRESS_MAPPINGS, "SMPP_Use_Reverse_Address_Mappings", SEND, Bool, Some("true"), Yes, "Reverse address mappings."),
    opt!(SMPP_RAM_CACHE, "SMPP_RAM_Cache", SEND, Str, Some("ram"), RAM_SQL, "Reverse mapping cache."),
    opt!(SMPP_RAM_EXPIRATION, "SMPP_RAM_Expiration", SEND, Int, Some("300"), Yes, "Reverse mapping lifetime (minutes)."),
    opt!(SMPP_RAM_QUERY_LOOKUP, "SMPP_RAM_Query_Lookup", SEND, Str, None, RAM_SQL, "Reverse mapping look-up query."),
    opt!(SMPP_RAM_QUERY_NEW, "SMPP_RAM_Query_New", SEND, Str, None, RAM_SQL, "Reverse mapping insert query."),
    opt!(SMPP_RAM_QUERY_UPDATE, "SMPP_RAM_Query_Update", SEND, Str, None, RAM_SQL, "Reverse mapping update query."),
    opt!(SMPP_DEFAULT_EMAIL_ADDRESS, "SMPP_Default_Email_Address", SEND, Str, None, Yes, "Last-resort MO recipient."),
    opt!(SMPP_DEFAULT_EMAIL_FROM_DOMAIN, "SMPP_Default_Email_From_Domain", SEND, Str, None, Yes, "Domain of MO From addresses."),
    opt!(SMPP_REGISTERED_DELIVERY, "SMPP_Registered_Delivery", SEND, EnumList(&["smsc_delivery", "smsc_delivery_failure", "intermediate", "sme_delivery", "sme_user"]), None, Yes, "registered_delivery flags."),
    opt!(SMPP_MO_REASSEMBLY_TIMEOUT, "SMPP_MO_Reassembly_Timeout", SEND, Seconds, Some("600"), Yes, "Seconds the parts of a concatenated MO wait in the spool for the rest (Impulse option). Each part is answered as soon as it is stored; past this wait the message is mailed with its missing parts marked."),
    opt!(SMPP_DELIVERY_RECEIPT_WAIT, "SMPP_Delivery_Receipt_Wait", SEND, Seconds, Some("120"), Yes, "Seconds a delivery receipt that matches no submission yet is kept (Impulse option): SMSCs may send it before the submit_sm_resp is recorded, or before a multi-part message's last segment is answered. Answered at once; matched when its submission is recorded; logged as unmatched after this wait."),
    opt!(SMPP_NOTIFY_DELIVER_RECEIPT, "SMPP_Notify_Deliver_Receipt", SEND, EnumList(&["all", "delivrd", "expired", "deleted", "undeliv", "acceptd", "unknown", "rejectd"]), None, Yes, "Receipt states mailed to the sender."),
    opt!(SMPP_SUBMIT_RESPONSE_MESSAGE_ID_FORMAT, "SMPP_Submit_Response_Message_ID_Format", SEND, Enum(&["string", "decimal", "hexadecimal"]), Some("String"), Yes, "Message id format in submit_sm_resp."),
    opt!(SMPP_DELIVERY_RECEIPT_MESSAGE_ID_FORMAT, "SMPP_Delivery_Receipt_Message_ID_Format", SEND, Enum(&["string", "decimal", "hexadecimal"]), Some("String"), Yes, "Message id format in receipts."),
    opt!(SMPP_SUBMIT_TRACKING_CACHE, "SMPP_Submit_Tracking_Cache", G, Str, Some("ecdb"), TRACKING, "Submission tracking cache."),
    opt!(SMPP_SUBMIT_TRACKING_SCHEMA, "SMPP_Submit_Tracking_Schema", G, Str, Some("smpp"), TRACKING, "Submission tracking schema."),
    opt!(SMPP_VENDOR_TLV_TABLE, "SMPP_Vendor_TLV_Table", SEND, Path, None, Yes, "Vendor TLV CSV (tagName, tagID, type, minLen, maxLen, validIn, default): MT defaults go on every submission; listed MO TLVs become X-SMPP-TLV-<tagName> headers of the mail."),
    opt!(SMPP_VENDOR_COMMAND_STATUS_TABLE, "SMPP_Vendor_Command_Status_Table", SEND, Path, None, Yes, "Vendor command_status CSV."),
    // ---- MM7 (§2.2) ----------------------------------------------------------------------------
    opt!(MM7_MMSC_SERVER, "MM7_MMSC_Server", GD, Str, None, Yes, "MMSC host."),
    opt!(MM7_MMSC_PORT, "MM7_MMSC_Port", GD, Int, Some("8080"), Yes, "MMSC port."),
    opt!(MM7_MMSC_PATH, "MM7_MMSC_Path", GD, Str, Some("/"), Yes, "MMSC request path."),
    opt!(MM7_HTTP_AUTH_USER, "MM7_HTTP_Auth_User", SEND, Str, None, Yes, "Basic auth user."),
    opt!(MM7_HTTP_AUTH_PASSWORD, "MM7_HTTP_Auth_Password", SEND, Str, None, Yes, "Basic auth password."),
    opt!(MM7_INACTIVITY_TIMER, "MM7_Inactivity_Timer", SEND, Seconds, Some("300"), Yes, "Seconds an idle keep-alive connection to the MMSC is kept (unless Idle_Timeout is set)."),
    opt!(MM7_RESPONSE_TIMER, "MM7_Response_Timer", SEND, Seconds, Some("10"), Yes, "MM7 response timeout."),
    opt!(MM7_VERSION, "MM7_Version", SEND, Str, Some("6.8.0"), Yes, "MM7Version element."),
    opt!(MM7_XML_SCHEMA, "MM7_XML_Schema", SEND, Str, None, Yes, "MM7 namespace URI."),
    opt!(MM7_NAMESPACE, "MM7_Namespace", SEND, Str, None, Yes, "MM7 namespace prefix."),
    opt!(MM7_USE_NAMESPACE_IN_BODY, "MM7_Use_Namespace_In_Body", SEND, Bool, Some("false"), Yes, "Prefix body elements."),
    opt!(MM7_SOAP_ENV, "MM7_SOAP_Env", SEND, Str, Some("env"), Yes, "SOAP envelope prefix."),
    opt!(MM7_SOAP_ATTACHMENT_SIMPLE_MIME, "MM7_SOAP_Attachment_Simple_MIME", SEND, Bool, Some("true"), Yes, "Plain text/plain attachment."),
    opt!(MM7_VASPID, "MM7_VASPID", SEND, Str, None, Yes, "VASPID."),
    opt!(MM7_VASID, "MM7_VASID", SEND, Str, Some("MessageSystems-VASID"), Yes, "VASID."),
    opt!(MM7_SENDER_ADDRESS, "MM7_Sender_Address", SEND, Str, None, Yes, "SenderAddress XML."),
    opt!(MM7_SERVICE_CODE, "MM7_Service_Code", SEND, Str, None, Yes, "ServiceCode."),
    opt!(MM7_MESSAGE_CLASS, "MM7_Message_Class", SEND, Enum(&["personal", "informational", "advertisement", "auto"]), None, Yes, "MessageClass."),
    opt!(MM7_DELIVERY_REPORT, "MM7_Delivery_Report", SEND, Bool, Some("false"), Yes, "Request delivery reports."),
    opt!(MM7_READ_REPLY, "MM7_Read_Reply", SEND, Bool, Some("false"), Yes, "Request read replies."),
    opt!(MM7_REPLY_CHARGING, "MM7_Reply_Charging", SEND, Bool, Some("false"), Yes, "Reply charging."),
    opt!(MM7_REPLY_CHARGING_SIZE, "MM7_Reply_Charging_Size", SEND, Int, Some("0"), Yes, "replyChargingSize."),
    opt!(MM7_REPLY_DEADLINE, "MM7_Reply_Deadline", SEND, Str, None, Yes, "replyDeadline."),
    opt!(MM7_NUMBER_PREFIX, "MM7_Number_Prefix", SEND, Str, None, Yes, "Prefix of Number recipients."),
    opt!(MM7_REQUEST_IE_EXTENDED, "MM7_Request_IE_Extended", SEND, Str, None, Yes, "Raw XML appended to requests."),
    opt!(MM7_MAX_MESSAGE_SIZE, "MM7_Max_Message_Size", SEND, Size, Some("600K"), Yes, "Largest MMS content Impulse submits (Impulse option; 0: no limit); a bigger mail fails permanently with 5.3.4."),
    // ---- mm7_serv (§2.4) and HTTP_Listener (§2.5) ----------------------------------------------
    opt!(MM7_VASP_URI_PATHS, "MM7_VASP_URI_Paths", MM7SERV, List, None, Yes, "HTTP paths (each ending in `/`) under which the MMSC posts DeliverReq, DeliveryReportReq and ReadReplyReq."),
    opt!(MM7_SERVER_VERSION, "MM7_Server_Version", MM7SERV, Str, Some("6.8.0"), Yes, "MM7Version of the server's answers when the request's own version is not one its schema lists."),
    opt!(MM7_SERVER_DEFAULT_EMAIL_FROM_ADDRESS, "MM7_Server_Default_Email_From_Address", MM7SERV, Str, None, Yes, "From of mail made from an MO MMS whose sender is a number or short code."),
    opt!(MM7_SERVER_DEFAULT_EMAIL_FROM_DOMAIN, "MM7_Server_Default_Email_From_Domain", MM7SERV, Str, None, Yes, "Domain of `<number>@<domain>` From addresses of MO MMS (when no From address is set)."),
    opt!(MM7_SERVER_DEFAULT_EMAIL_TO_ADDRESS, "MM7_Server_Default_Email_To_Address", MM7SERV, Str, None, Yes, "To of mail made from an MO MMS (its recipient's number is used with the To domain otherwise)."),
    opt!(MM7_SERVER_DEFAULT_EMAIL_TO_DOMAIN, "MM7_Server_Default_Email_To_Domain", MM7SERV, Str, None, Yes, "Domain of `<number>@<domain>` To addresses of MO MMS."),
    opt!(MAX_REQUEST_SIZE, "Max_Request_Size", HTTPL, Size, Some("0"), Yes, "Largest HTTP request body accepted (0: Impulse's ceiling of 64 MiB); larger gets HTTP 413."),
    opt!(DISABLE_CHUNKED, "Disable_Chunked", HTTPL, Bool, Some("false"), Yes, "Accepted for compatibility: Impulse's MM7 answers always carry a Content-Length, never chunked coding."),
    opt!(LOG_REQUESTS_TO_PANICLOG, "Log_Requests_To_Paniclog", HTTPL, Bool, Some("false"), NotYet("MM7 requests are recorded in the MMS log, and in full with IMPULSE_LOG=impulse=debug"), "Request logging."),
    opt!(MM7_SUBMIT_TRACKING_CACHE, "MM7_Submit_Tracking_Cache", G, Str, Some("ecdb"), TRACKING, "Delivery-time tracking cache."),
    opt!(MM7_SUBMIT_TRACKING_SCHEMA, "MM7_Submit_Tracking_Schema", G, Str, Some("mm7"), TRACKING, "Delivery-time tracking schema."),
    opt!(MM7_MSTORE_SAVE_MESSAGE, "MM7_MStore_Save_Message", SEND, Bool, Some("true"), MSTORE, "Save MT for resubmission."),
    opt!(MM7_MSTORE_BUCKET_USE_SHORTCODE, "MM7_MStore_Bucket_Use_Shortcode", G, Bool, Some("true"), MSTORE, "mstore bucket naming."),
}

#[rustfmt::skip]
pub static STANZAS: &[StanzaDef] = &[
    StanzaDef { kind: "domain", named: true, doc: "Options for mail to one domain (global, or inside a binding or binding_group).", status: Yes, },
    StanzaDef { kind: "binding", named: true, doc: "A named binding (source address and policy); may hold domain stanzas.", status: Yes, },
    StanzaDef { kind: "binding_group", named: true, doc: "A group of bindings; may hold binding and domain stanzas.", status: Yes, },
    StanzaDef { kind: "ESMTP_Listener", named: false, doc: "The SMTP listener; holds Listen and Peer stanzas.", status: Yes, },
    StanzaDef { kind: "Listen", named: true, doc: "One listening socket of a listener (`\"127.0.0.1:2525\"`, `\":25\"`, `\"[::1]:25\"`).", status: Yes, },
    StanzaDef { kind: "Peer", named: true, doc: "Options for clients in an IP/CIDR range (inside a listener or Listen).", status: Yes, },
    StanzaDef { kind: "ec_logger", named: true, doc: "A core logger instance: mainlog, paniclog, heartbeat.", status: Yes, },
    StanzaDef { kind: "host", named: true, doc: "Per-host options.", status: NotYet("Impulse delivers per domain: set the options in the domain stanza"), },
    StanzaDef { kind: "Control_Listener", named: false, doc: "The console's listener: `Listen \"/path/to/socket\" { }` and `Listen \"127.0.0.1:2025\" { }` (TCP needs Auth_Credentials); `Listen \"http://127.0.0.1:8025\" { }` serves the admin HTTP API, `/metrics` and the status page (docs/operations.md).", status: Yes, },
    StanzaDef { kind: "HTTP_Listener", named: false, doc: "HTTP listener for MM7 requests from the MMSC; holds Listen and Peer stanzas.", status: Yes, },
    StanzaDef { kind: "ECStream_Listener", named: false, doc: "Momentum's ECStream protocol.", status: NotYet("ECStream is not supported by Impulse"), },
    StanzaDef { kind: "smpp", named: false, doc: "Momentum's SMPP module stanza: SMPP is built into Impulse, so it only checks `debug_level`.", status: Yes, },
    StanzaDef { kind: "smpp_logger", named: true, doc: "SMPP log.", status: Yes, },
    StanzaDef { kind: "smpp_bounce_logger", named: true, doc: "SMPP bounce log.", status: Yes, },
    StanzaDef { kind: "Datasource", named: true, doc: "Datasource for reverse address mappings.", status: RAM_SQL, },
    StanzaDef { kind: "mm7", named: false, doc: "Momentum's MM7 client module stanza: MM7 is built in, so it only checks `debug_level`.", status: Yes, },
    StanzaDef { kind: "mm7_serv", named: false, doc: "The MM7 server: which HTTP paths take MM7 requests and how MO MMS become mail.", status: Yes, },
    StanzaDef { kind: "mms_logger", named: true, doc: "MMS log.", status: Yes, },
    StanzaDef { kind: "mms_bounce_logger", named: true, doc: "MMS bounce log.", status: Yes, },
    StanzaDef { kind: "httpsrv", named: false, doc: "Momentum's HTTP server module stanza: built in, only `debug_level` is checked.", status: Yes, },
    StanzaDef { kind: "mstore", named: false, doc: "Riak message store.", status: NotYet("mstore (Riak) is not supported by Impulse"), },
    StanzaDef { kind: "pathway", named: true, doc: "Receiving pathway.", status: NotYet("set reception options in ESMTP_Listener, Listen and Peer"), },
    StanzaDef { kind: "pathway_group", named: true, doc: "Receiving pathway group.", status: NotYet("set reception options in ESMTP_Listener, Listen and Peer"), },
    StanzaDef { kind: "scriptlet", named: true, doc: "Lua policy scripts.", status: NotYet("Lua policy is not supported by Impulse"), },
    StanzaDef { kind: "script", named: true, doc: "One Lua script of a scriptlet.", status: NotYet("Lua policy is not supported by Impulse"), },
    StanzaDef { kind: "xmpp", named: false, doc: "Momentum's XMPP module.", status: NotYet("XMPP is not part of Impulse (email, SMS and MMS only)"), },
    StanzaDef { kind: "xmpp_listener", named: false, doc: "Momentum's XMPP listener.", status: NotYet("XMPP is not part of Impulse (email, SMS and MMS only)"), },
    StanzaDef { kind: "xmpp_logger", named: true, doc: "Momentum's XMPP log.", status: NotYet("XMPP is not part of Impulse (email, SMS and MMS only)"), },
];

/// Finds an option by name, case-insensitively.
pub fn option(name: &str) -> Option<&'static OptionDef> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map_or(name, |(_, canonical)| canonical);
    OPTIONS.iter().find(|o| o.name.eq_ignore_ascii_case(name))
}

/// Other names Momentum's documentation gives an option: each is read as the option it names
/// (the file's line, shown by `config eval`, says which name set it). The Mobile Momentum
/// overview calls the SMSC host `SMPP_SMSC_Address`; the reference calls it `SMPP_SMSC_Server`.
pub const ALIASES: &[(&str, &str)] = &[("SMPP_SMSC_Address", "SMPP_SMSC_Server")];

/// Finds a stanza keyword, case-insensitively.
pub fn stanza(kind: &str) -> Option<&'static StanzaDef> {
    STANZAS.iter().find(|s| s.kind.eq_ignore_ascii_case(kind))
}

/// The known name closest to `name`, when it is close enough to be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    // Option names are short; a long word is no typo of one (and would cost a long comparison
    // against every candidate: the fuzzer found configurations spending their time here).
    if name.len() > 64 {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    let limit = (lower.len() / 3).clamp(1, 4);
    candidates
        // The distance is at least the difference in length: skip what cannot be close.
        .filter(|c| c.len().abs_diff(lower.len()) <= limit)
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Renders the reference documentation (`docs/configuration.md`) from the registry.
pub fn render_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Impulse configuration reference\n\n");
    out.push_str("Generated from the option registry (`crates/config/src/registry.rs`) by\n");
    out.push_str("`impulse config docs`; a test fails when this file and the registry differ.\n\n");
    out.push_str("Syntax is Momentum's `ecelerity.conf`. Option names and stanza keywords are\n");
    out.push_str(
        "case-insensitive; binding names are case-sensitive. Sending options fall back from\n",
    );
    out.push_str("the most specific scope to the least: binding::domain, binding_group::domain,\n");
    out.push_str(
        "binding, binding_group, domain, global, then the default below. Receiving options\n",
    );
    out.push_str("fall back Listen::Peer, Peer, Listen, ESMTP_Listener, global, default.\n\n");
    out.push_str(
        "Options marked *not yet* are recognised and refused by name with the reason, so a\n",
    );
    out.push_str("configuration never silently means less than it says.\n\n");
    out.push_str("## Stanzas\n\n| Stanza | Form | Status | Description |\n|---|---|---|---|\n");
    for s in STANZAS {
        let form = if s.named {
            format!("`{} \"name\" {{ }}`", s.kind)
        } else {
            format!("`{} {{ }}`", s.kind)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            s.kind,
            form,
            status_text(s.status),
            s.doc
        );
    }
    out.push_str("\n## Options\n\n| Option | Scopes | Type | Default | Status | Description |\n|---|---|---|---|---|---|\n");
    for o in OPTIONS {
        let scopes: Vec<&str> = o.scopes.iter().map(|s| s.name()).collect();
        let default = o.default.map_or("—".to_string(), |d| format!("`{d}`"));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            o.name,
            scopes.join(", "),
            o.kind.describe(),
            default,
            status_text(o.status),
            o.doc
        );
    }
    out
}

fn status_text(status: Status) -> String {
    match status {
        Status::Implemented => "yes".into(),
        Status::NotYet(why) => format!("*not yet*: {why}"),
        Status::Ignored(why) => format!("accepted, no effect: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_defaults_parse() {
        for (i, o) in OPTIONS.iter().enumerate() {
            assert!(
                OPTIONS[i + 1..]
                    .iter()
                    .all(|p| !p.name.eq_ignore_ascii_case(o.name)),
                "duplicate option {}",
                o.name
            );
            if let Some(d) = o.default {
                crate::types::check(o.kind, &crate::ast::Value::scalar(d))
                    .unwrap_or_else(|e| panic!("default of {} does not parse: {e}", o.name));
            }
        }
    }

    #[test]
    fn the_overview_pages_name_for_the_smsc_host_is_an_alias() {
        assert_eq!(
            option("smpp_smsc_address").map(|o| o.name),
            Some("SMPP_SMSC_Server")
        );
    }

    #[test]
    fn suggestions_find_typos_only() {
        let names = || OPTIONS.iter().map(|o| o.name);
        assert_eq!(
            suggest("max_outbound_conections", names()),
            Some("Max_Outbound_Connections")
        );
        assert_eq!(suggest("Gatway", names()), Some("Gateway"));
        assert_eq!(suggest("completely_unrelated_words", names()), None);
    }
}
