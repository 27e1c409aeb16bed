//! SMPP delivery (docs/reference/momentum.md §1.3): a domain setting `SMPP_SMSC_Server` is an SMPP
//! domain. Its mail is converted to SMS (`impulse-interwork`) and submitted through one bind per
//! domain, opened when mail is queued and closed by `SMPP_Inactivity_Timer`.
//!
//! Messages the SMSC sends on the bind (MO, receipts) are handled by `smpp_mo`.
//!
//! Building and submitting the PDUs is `submit`'s.

use impulse_config::names;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::inbound::smpp_mo::configured_id_format;
use crate::route::is_smpp_domain;
use crate::store::Store;
use impulse_config::{Config, Resolved, Sending};
use impulse_interwork::mt::{self, DataCoding, DefaultAlphabet, MtSettings};
use impulse_queue::{Attempt, Connector, Verdict};
use impulse_smpp::esme::{Backoff, Esme, EsmeConfig, EsmeStatus};
use impulse_smpp::pdu::{Address, DataSm, MultiDest, Pdu, Tlv, VendorStatuses, VendorTlvs, tag};
use impulse_smpp::receipt::{self, IdFormat};
use impulse_smpp::session::{BindType, SessionConfig};
use impulse_spool::{
    Destination, Lease, MobileStore, QueueStore, ReverseMapping, StoredMessage, Submission,
    now_millis,
};
use impulse_tls::TlsSettings;
use tokio::sync::mpsc;

use crate::inbound::reception::Reception;
use crate::inbound::smpp_mo::MoContext;
use crate::live::LiveConfig;
use crate::ops::mobile_logs::MobileLogs;
use impulse_telemetry::{LogFields, Record};

pub mod slots;
mod submit;
pub mod vendor;
use slots::{BindSlots, Use};
use submit::{MultiTarget, Submitted};

fn ton(s: &str) -> u8 {
    match s.to_ascii_lowercase().as_str() {
        "international" | "1" => 1,
        "national" | "2" => 2,
        "network" | "network specific" | "3" => 3,
        "subscriber" | "subscriber number" | "4" => 4,
        "alphanumeric" | "5" => 5,
        "abbreviated" | "abreviated" | "6" => 6,
        // TS 23.040: 7 is "reserved for extension"; Momentum's option page lists it.
        "extension" | "7" => 7,
        _ => 0,
    }
}

fn npi(s: &str) -> u8 {
    match s.to_ascii_lowercase().as_str() {
        "e164" | "isdn" | "1" => 1,
        _ => 0,
    }
}

/// registered_delivery bits (SMPP 3.4 §5.2.17) from `SMPP_Registered_Delivery` names.
fn registered_delivery(s: &Sending<'_>) -> u8 {
    let Some((v, _)) = s.effective(names::SMPP_REGISTERED_DELIVERY) else {
        return 0;
    };
    impulse_config::types::list_items(&v)
        .iter()
        .fold(0, |acc, name| {
            acc | match name.to_ascii_lowercase().as_str() {
                "smsc_delivery" => 0x01,
                "smsc_delivery_failure" => 0x02,
                "sme_delivery" => 0x04,
                "sme_user" => 0x08,
                "intermediate" => 0x10,
                _ => 0,
            }
        })
}

/// `SMPP_Message_Mode` as esm_class bits 1–0: nothing when it is the SMSC's default mode
/// (`SMPP_SMSC_Default_Message_Mode`), else datagram 01, forward (transaction) 10,
/// store-and-forward 11.
fn mode_bits(s: &Sending<'_>) -> u8 {
    let want = s
        .scalar(names::SMPP_MESSAGE_MODE)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let default = s
        .scalar(names::SMPP_SMSC_DEFAULT_MESSAGE_MODE)
        .unwrap_or_default()
        .to_ascii_lowercase();
    if want == default {
        return 0;
    }
    match want.as_str() {
        "datagram" => 0x01,
        "transaction" => 0x02,
        _ => 0x03,
    }
}

/// The data_sm carrying a submit_sm's message: its text in message_payload (SMPP 3.4 §4.7.1).
fn as_data_sm(pdu: Pdu) -> Pdu {
    let Pdu::SubmitSm(m) = pdu else { return pdu };
    let mut tlvs = m.tlvs;
    tlvs.push(Tlv::bytes(tag::MESSAGE_PAYLOAD, m.short_message));
    Pdu::DataSm(DataSm {
        service_type: m.service_type,
        source: m.source,
        dest: m.dest,
        esm_class: m.esm_class,
        registered_delivery: m.registered_delivery,
        data_coding: m.data_coding,
        tlvs,
    })
}

/// A timer option, where 0 means "use SMPP_Response_Timer".
fn timer(s: &Sending<'_>, name: impulse_config::Opt) -> Duration {
    let t = s.seconds(name);
    if t.is_zero() {
        s.seconds(names::SMPP_RESPONSE_TIMER)
            .max(Duration::from_millis(100))
    } else {
        t
    }
}

struct DomainSettings {
    esme: EsmeConfig,
    mt: MtSettings,
    source: Address,
    dest_ton: u8,
    dest_npi: u8,
    service_type: String,
    validity_period: String,
    registered_delivery: u8,
    refnum_length: u8,
    /// esm_class message-mode bits (SMPP 3.4 §5.2.12): 0 when the requested mode is the SMSC's.
    mode_bits: u8,
    /// `SMPP_Vendor_Command_Status_Table`, parsed (checked at config check).
    vendor: Option<Arc<VendorStatuses>>,
    /// `SMPP_Vendor_TLV_Table`: its MT defaults go on every submission.
    vendor_tlvs: Option<Arc<VendorTlvs>>,
    /// `SMPP_ESME_Submit_Data_SM`: send data_sm, the whole text in message_payload.
    data_sm: bool,
    /// `SMPP_ESME_Submit_Submit_Multi`: all recipients of a message in one submit_multi.
    submit_multi: bool,
    /// `SMPP_Destination_Flag`: 1 SME address, 2 distribution list name.
    dest_flag: u8,
    /// `SMPP_Submit_Response_Message_ID_Format`, when set.
    id_format: Option<IdFormat>,
    /// `SMPP_RAM_Expiration` in minutes when reverse address mappings are on.
    ram_minutes: Option<u64>,
}

fn domain_settings(cfg: &Config, dest: &Destination) -> DomainSettings {
    let binding = (!dest.binding.is_empty()).then_some(dest.binding.as_str());
    let s = cfg.sending(Some(&dest.domain), binding);
    let server = s.scalar(names::SMPP_SMSC_SERVER).unwrap_or_default();
    let port = s.u64(names::SMPP_SMSC_PORT);
    let inactivity = s.seconds(names::SMPP_INACTIVITY_TIMER);
    DomainSettings {
        esme: EsmeConfig {
            addr: if server.contains(':') && !server.starts_with('[') {
                format!("[{server}]:{port}")
            } else {
                format!("{server}:{port}")
            },
            session: SessionConfig {
                bind_type: BindType::parse(&s.scalar(names::SMPP_BIND_TYPE).unwrap_or_default())
                    .unwrap_or(BindType::Transceiver),
                system_id: s.scalar(names::SMPP_SMSC_SYSTEM_ID).unwrap_or_default(),
                password: s.scalar(names::SMPP_SMSC_PASSWORD).unwrap_or_default(),
                system_type: s.scalar(names::SMPP_SMSC_SYSTEM_TYPE).unwrap_or_default(),
                window: s.u64(names::SMPP_COMMAND_WINDOW_SIZE).max(1) as usize,
                bind_timeout: timer(&s, names::SMPP_BIND_RESPONSE_TIMER),
                submit_timeout: timer(&s, names::SMPP_SUBMIT_RESPONSE_TIMER),
                enquire_timeout: timer(&s, names::SMPP_ENQUIRE_RESPONSE_TIMER),
                response_timeout: timer(&s, names::SMPP_RESPONSE_TIMER),
                enquire_link_interval: s
                    .seconds(names::SMPP_ENQUIRE_LINK_TIMER)
                    .max(Duration::from_secs(1)),
                inactivity: (!inactivity.is_zero()).then_some(inactivity),
                throttled_pause: s.seconds(names::SMPP_ESME_THROTTLED_TIMEOUT),
                rate: None,
            },
            max_bind_retries: s.u64(names::SMPP_ESME_MAX_BIND_RETRIES) as u32,
            backoff: Backoff::default(),
            connect_timeout: Duration::from_secs(10),
            reconnect: false,
            tls: s.bool(names::SMPP_TLS).then(|| TlsSettings {
                server_name: server
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
                verify: s.bool(names::SMPP_TLS_VERIFY),
                ca_file: s.scalar(names::SMPP_TLS_CA_FILE).map(Into::into),
            }),
        },
        mt: MtSettings {
            max_from: s.u64(names::SMPP_MAX_SMS_FROM_SIZE) as usize,
            max_subject: s.u64(names::SMPP_MAX_SMS_SUBJECT_SIZE) as usize,
            max_message: s.u64(names::SMPP_MAX_SMS_MESSAGE_SIZE).max(1) as usize,
            segment_size: s.u64(names::SMPP_SMS_SEGMENT_SIZE).max(1) as usize,
            segment_boundary: s.bool(names::SMPP_SMS_SEGMENT_BOUNDARY),
            max_segments: s.u64(names::SMPP_ESME_MAX_SEGMENTS).clamp(1, 255) as usize,
            data_coding: DataCoding::parse(
                &s.scalar(names::SMPP_SMS_DATA_CODING).unwrap_or_default(),
            )
            .unwrap_or(DataCoding::Default),
            default_alphabet: DefaultAlphabet::parse(
                &s.scalar(names::SMPP_SMSC_DEFAULT_ALPHABET)
                    .unwrap_or_default(),
            )
            .unwrap_or(DefaultAlphabet::Gsm),
            udh: s.bool(names::SMPP_ESME_UDH_SEGMENT),
            ucs2_bom: !s.bool(names::SMPP_SMS_DATA_NO_BOM),
            smart_encoding: s.bool(names::SMPP_SMS_SMART_ENCODING),
            trim_replies: s.bool(names::SMPP_SMS_TRIM_REPLIES),
            truncation_marker: s
                .scalar(names::SMPP_SMS_TRUNCATION_MARKER)
                .unwrap_or_default(),
        },
        source: Address::new(
            ton(&s
                .scalar(names::SMPP_ESME_TYPE_OF_NUMBER)
                .unwrap_or_default()),
            npi(&s
                .scalar(names::SMPP_ESME_NUMBERING_PLAN)
                .unwrap_or_default()),
            s.scalar(names::SMPP_ESME_ADDRESS).unwrap_or_default(),
        ),
        dest_ton: ton(&s
            .scalar(names::SMPP_DESTINATION_TYPE_OF_NUMBER)
            .unwrap_or_default()),
        dest_npi: npi(&s
            .scalar(names::SMPP_DESTINATION_NUMBERING_PLAN)
            .unwrap_or_default()),
        service_type: s.scalar(names::SMPP_ESME_SERVICE_TYPE).unwrap_or_default(),
        validity_period: s
            .scalar(names::SMPP_ESME_VALIDITY_PERIOD)
            .unwrap_or_default(),
        registered_delivery: registered_delivery(&s),
        refnum_length: s.u64(names::SMPP_CSMS_REFNUM_LENGTH) as u8,
        mode_bits: mode_bits(&s),
        vendor: s
            .scalar(vendor::STATUS_TABLE)
            .and_then(|path| vendor::status_table(&path)),
        vendor_tlvs: s
            .scalar(vendor::TLV_TABLE)
            .and_then(|path| vendor::tlv_table(&path)),
        data_sm: s.bool(names::SMPP_ESME_SUBMIT_DATA_SM),
        submit_multi: s.bool(names::SMPP_ESME_SUBMIT_SUBMIT_MULTI),
        dest_flag: if s.scalar(names::SMPP_DESTINATION_FLAG).as_deref() == Some("2") {
            2
        } else {
            1
        },
        id_format: configured_id_format(&s, names::SMPP_SUBMIT_RESPONSE_MESSAGE_ID_FORMAT),
        ram_minutes: s
            .bool(names::SMPP_USE_REVERSE_ADDRESS_MAPPINGS)
            .then(|| s.u64(names::SMPP_RAM_EXPIRATION)),
    }
}

/// The SMSC as the logs' `%H` shows it: its address without the port (Momentum: "remote IP
/// of the connection"; a host configured by name shows as that name).
fn smsc_host(addr: &str) -> String {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_string()
}

/// How a destination's MT messages are shaped, for `impulse convert`: the text settings, and
/// how segments travel (data_sm payload, UDH or SAR, reference width).
pub(crate) struct MtShape {
    pub mt: MtSettings,
    pub data_sm: bool,
    /// `SMPP_CSMS_Refnum_Length`: 1 or 2 octets, 0 for "as the reference needs".
    pub refnum_length: u8,
}

pub(crate) fn mt_shape(cfg: &Config, domain: &str, binding: Option<&str>) -> MtShape {
    let s = domain_settings(
        cfg,
        &Destination {
            domain: domain.to_string(),
            binding: binding.unwrap_or_default().to_string(),
        },
    );
    MtShape {
        mt: s.mt,
        data_sm: s.data_sm,
        refnum_length: s.refnum_length,
    }
}

/// What the text rules did to one conversion (docs/sms-text.md): characters written as GSM
/// look-alikes, segments by coding, texts cut. A retry converts again and counts again.
fn count_conversion(sms: &mt::Sms) {
    let coding = match sms.coding {
        impulse_smpp::text::Coding::Gsm7 => "gsm",
        impulse_smpp::text::Coding::Ascii => "ascii",
        impulse_smpp::text::Coding::Latin1 => "latin1",
        impulse_smpp::text::Coding::Cyrillic => "cyrillic",
        impulse_smpp::text::Coding::Hebrew => "hebrew",
        impulse_smpp::text::Coding::Ucs2 => "ucs2",
    };
    crate::ops::events::emit(crate::ops::events::Event::SmsConverted {
        coding,
        segments: sms.segments.len(),
        lookalikes: sms.replaced,
        truncated: sms.truncated,
    });
}

/// One bind as the console and the status page show it.
pub struct BindView {
    pub dest: Destination,
    /// Kept open by `SMPP_Persistent_Connections`, rather than opened for queued mail.
    pub persistent: bool,
    pub status: EsmeStatus,
}

/// A persistent bind and the settings it was started with (a reload compares them).
struct PersistentBind {
    dest: Destination,
    esme: Esme,
    /// Its bind slot, when its account is limited cluster-wide (see `slots`).
    slot: Option<Use>,
}

pub struct SmppConnector {
    cfg: LiveConfig,
    spool: Store,
    /// The bind of each destination with queued mail, opened on demand.
    binds: Mutex<HashMap<Destination, Esme>>,
    persistent: Mutex<Vec<PersistentBind>>,
    /// Each destination's settings, resolved once per configuration (a reload empties it).
    settings: Mutex<HashMap<Destination, Arc<DomainSettings>>>,
    reception: Arc<OnceLock<Arc<Reception>>>,
    logs: Arc<MobileLogs>,
    slots: Arc<BindSlots>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Settings of a persistent bind: reconnecting, never closed for inactivity.
fn persistent_settings(cfg: &Config, dest: &Destination) -> DomainSettings {
    let mut settings = domain_settings(cfg, dest);
    settings.esme.reconnect = true;
    settings.esme.session.inactivity = None;
    settings
}

/// The persistent binds whose account is limited cluster-wide, each with its slot's use.
fn limited_persistent(cfg: &Config) -> Vec<Use> {
    let mut seen: HashMap<Destination, usize> = HashMap::new();
    wanted_persistent(cfg)
        .into_iter()
        .filter(|d| slots::account(cfg, d).is_some())
        .map(|d| {
            let n = seen.entry(d.clone()).or_default();
            *n += 1;
            Use::Persistent(d, *n)
        })
        .collect()
}

/// The persistent binds `SMPP_Persistent_Connections = [ binding = count ]` asks for in each
/// SMPP domain (§3.1.2), one entry per connection.
fn wanted_persistent(cfg: &Config) -> Vec<Destination> {
    let def = names::SMPP_PERSISTENT_CONNECTIONS.def();
    let mut wanted = Vec::new();
    for (domain, scope) in &cfg.domains {
        let Some(impulse_config::Value::Hash(pairs)) = scope.get(def).map(|e| &e.value) else {
            continue;
        };
        for (binding, count) in pairs {
            let count = count
                .as_scalar()
                .and_then(|c| c.parse::<usize>().ok())
                .unwrap_or(1);
            let dest = Destination {
                domain: domain.clone(),
                binding: if binding == "default" {
                    String::new()
                } else {
                    binding.clone()
                },
            };
            wanted.extend(std::iter::repeat_n(dest, count));
        }
    }
    wanted
}

/// A bind slot: its account and number.
type Slot = (String, i32);

/// Takes a bind out of service without losing what it carries: new submissions already go to
/// its successor; what it still holds is answered (or times out) before it unbinds.
fn retire(esme: Esme) {
    tokio::spawn(close(esme, "SMPP bind retired after a reload"));
}

/// Closes a bind once what it carries is answered (or has timed out), then logs `why`.
async fn close(esme: Esme, why: &'static str) {
    let session = &esme.config().session;
    let deadline = Instant::now() + session.submit_timeout + session.response_timeout;
    while esme.status().outstanding > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tracing::info!(addr = %esme.config().addr, "{why}");
    esme.shutdown().await;
}

impl SmppConnector {
    /// `reception` is filled once the reception side exists; MO mail is spooled through it.
    pub fn new(
        cfg: LiveConfig,
        spool: Store,
        reception: Arc<OnceLock<Arc<Reception>>>,
        logs: Arc<MobileLogs>,
    ) -> Self {
        SmppConnector {
            cfg,
            spool: spool.clone(),
            binds: Mutex::new(HashMap::new()),
            persistent: Mutex::new(Vec::new()),
            settings: Mutex::new(HashMap::new()),
            reception,
            logs,
            slots: Arc::new(BindSlots::new(spool)),
        }
    }

    /// The bind slots of this node, which the delivery policy asks.
    pub fn slots(&self) -> Arc<BindSlots> {
        self.slots.clone()
    }

    /// One round of the bind slots (every second on a shared spool, see `slots`): binds whose
    /// slot was lost or given back close; persistent binds whose slot was taken open.
    pub async fn keep_slots(&self) {
        let cfg = self.cfg.get();
        let lease_timeout = cfg.global().seconds(names::SPOOL_LEASE_TIMEOUT);
        let kept = self
            .slots
            .keep(&cfg, &limited_persistent(&cfg), lease_timeout)
            .await;
        // A bind closes, then the slot it was in is given back (if it was not lost).
        let mut closing: Vec<(Option<Esme>, Option<Slot>)> = Vec::new();
        {
            let mut binds = lock(&self.binds);
            for (u, account, slot) in &kept.unwanted {
                if let Use::OnDemand(d) = u {
                    closing.push((binds.remove(d), Some((account.clone(), *slot))));
                }
            }
            // Lost slots, and binds opened before a reload set SMPP_Account_Binds: they hold
            // no slot and close.
            binds.retain(|d, esme| {
                let keep = self.slots.holds(&cfg, &Use::OnDemand(d.clone()));
                if !keep {
                    closing.push((Some(esme.clone()), None));
                }
                keep
            });
        }
        {
            let mut persistent = lock(&self.persistent);
            persistent.retain(|p| {
                let Some(u) = &p.slot else { return true };
                if let Some((_, account, slot)) = kept.unwanted.iter().find(|(w, _, _)| w == u) {
                    closing.push((Some(p.esme.clone()), Some((account.clone(), *slot))));
                    return false;
                }
                if !self.slots.holds(&cfg, u) {
                    closing.push((Some(p.esme.clone()), None));
                    return false;
                }
                true
            });
            // Every persistent slot held has its bind (one retired by a reload opens again here).
            for u in limited_persistent(&cfg) {
                if self.slots.holds(&cfg, &u)
                    && !persistent.iter().any(|p| p.slot.as_ref() == Some(&u))
                {
                    let dest = u.destination().clone();
                    persistent.push(self.start_persistent_bind(
                        &cfg,
                        dest,
                        Some(u),
                        " in its bind slot",
                    ));
                }
            }
        }
        for (esme, slot) in closing {
            let slots = self.slots.clone();
            tokio::spawn(async move {
                match (esme, &slot) {
                    // Given back: what it carries is answered first.
                    (Some(esme), Some(_)) => {
                        close(esme, "SMPP bind closed: its bind slot is given back").await
                    }
                    // Lost: another node may bind in the slot now; unbind at once.
                    (Some(esme), None) => esme.shutdown().await,
                    (None, _) => {}
                }
                if let Some((account, slot)) = slot {
                    slots.release(&account, slot).await;
                }
            });
        }
    }

    /// Starts one persistent bind (in `slot`, when its account is limited cluster-wide).
    fn start_persistent_bind(
        &self,
        cfg: &Config,
        dest: Destination,
        slot: Option<Use>,
        when: &str,
    ) -> PersistentBind {
        let settings = persistent_settings(cfg, &dest);
        let esme = self.spawn_bind(&dest, &settings);
        tracing::info!(domain = %dest.domain, binding = %dest.binding, addr = %settings.esme.addr, "persistent SMPP connection started{when}");
        PersistentBind { dest, esme, slot }
    }

    /// Opens the persistent binds (§3.1.2): kept open and reconnected, never closed for
    /// inactivity. They carry what the SMSC sends (MO, receipts); a receiver binding is the
    /// usual case (§4.4).
    pub fn start_persistent(&self) {
        let cfg = self.cfg.get();
        let mut started = lock(&self.persistent);
        // Those limited cluster-wide open once their slot is taken (`keep_slots`).
        for dest in wanted_persistent(&cfg) {
            if self.spool.is_shared() && slots::account(&cfg, &dest).is_some() {
                continue;
            }
            started.push(self.start_persistent_bind(&cfg, dest, None, ""));
        }
    }

    /// Applies the configuration now in force: settings are resolved again; a bind whose
    /// connection parameters changed (or whose domain is no longer SMPP) is retired and its
    /// successor opens with the new ones; persistent binds are added and removed to match.
    /// Returns how many binds were retired and started.
    pub fn reconfigured(&self) -> (usize, usize) {
        let cfg = self.cfg.get();
        lock(&self.settings).clear();
        let mut retired = 0;
        lock(&self.binds).retain(|dest, esme| {
            let keep = is_smpp_domain(&cfg, &dest.domain)
                && domain_settings(&cfg, dest).esme == *esme.config();
            if !keep {
                retire(esme.clone());
                retired += 1;
            }
            keep
        });
        let shared = self.spool.is_shared();
        let mut wanted: Vec<Destination> = wanted_persistent(&cfg)
            .into_iter()
            .filter(|d| !(shared && slots::account(&cfg, d).is_some()))
            .collect();
        let mut persistent = lock(&self.persistent);
        persistent.retain(|p| {
            if p.slot.is_some() {
                // Slot-held binds: a changed one closes here and opens again in its slot.
                let same = is_smpp_domain(&cfg, &p.dest.domain)
                    && persistent_settings(&cfg, &p.dest).esme == *p.esme.config();
                if !same {
                    retire(p.esme.clone());
                    retired += 1;
                }
                return same;
            }
            let still = wanted.iter().position(|d| *d == p.dest).filter(|_| {
                is_smpp_domain(&cfg, &p.dest.domain)
                    && persistent_settings(&cfg, &p.dest).esme == *p.esme.config()
            });
            match still {
                Some(i) => {
                    wanted.swap_remove(i);
                    true
                }
                None => {
                    retire(p.esme.clone());
                    retired += 1;
                    false
                }
            }
        });
        let started = wanted.len();
        for dest in wanted {
            persistent.push(self.start_persistent_bind(&cfg, dest, None, " after a reload"));
        }
        (retired, started)
    }

    /// Every bind, persistent ones first.
    pub fn binds(&self) -> Vec<BindView> {
        let mut out: Vec<BindView> = lock(&self.persistent)
            .iter()
            .map(|p| BindView {
                dest: p.dest.clone(),
                persistent: true,
                status: p.esme.status(),
            })
            .collect();
        let mut on_demand: Vec<BindView> = lock(&self.binds)
            .iter()
            .filter(|(_, e)| e.is_running())
            .map(|(d, e)| BindView {
                dest: d.clone(),
                persistent: false,
                status: e.status(),
            })
            .collect();
        on_demand.sort_by(|a, b| a.dest.cmp(&b.dest));
        out.extend(on_demand);
        out
    }

    /// Unbinds every bind cleanly (shutdown).
    pub async fn shutdown(&self) {
        let all: Vec<Esme> = lock(&self.persistent)
            .drain(..)
            .map(|p| p.esme)
            .chain(lock(&self.binds).drain().map(|(_, e)| e))
            .collect();
        for esme in all {
            esme.shutdown().await;
        }
    }

    /// Starts a bind with its own event task, which knows the domain its MO belong to.
    fn spawn_bind(&self, dest: &Destination, settings: &DomainSettings) -> Esme {
        let (tx, rx) = mpsc::unbounded_channel();
        let esme = Esme::spawn(settings.esme.clone(), tx);
        let ctx = MoContext {
            cfg: self.cfg.clone(),
            spool: self.spool.clone(),
            logs: self.logs.clone(),
            reception: self.reception.clone(),
            smsc: smsc_host(&settings.esme.addr),
            vendor_tlvs: settings.vendor_tlvs.clone(),
        };
        tokio::spawn(crate::inbound::smpp_mo::serve(
            rx,
            dest.clone(),
            Arc::new(ctx),
        ));
        esme
    }

    fn settings(&self, dest: &Destination) -> Arc<DomainSettings> {
        lock(&self.settings)
            .entry(dest.clone())
            .or_insert_with(|| Arc::new(domain_settings(&self.cfg.get(), dest)))
            .clone()
    }

    /// The domain's bind, started if it is not running; waits for it to be bound.
    pub async fn bound(&self, dest: &Destination) -> Result<Esme, Attempt> {
        let settings = self.settings(dest);
        let esme = {
            let mut binds = lock(&self.binds);
            // Checked under the binds' lock: a slot lost meanwhile has its bind removed under
            // it too (`keep_slots`), so no bind opens, or stays open, without its slot.
            if !self
                .slots
                .holds(&self.cfg.get(), &Use::OnDemand(dest.clone()))
            {
                return Err(Attempt {
                    verdict: Verdict::Temporary,
                    response: format!(
                        "451 4.4.1 no bind slot of {} free on this node (SMPP_Account_Binds): another node delivers",
                        settings.esme.addr
                    ),
                    remote: None,
                    stage: 0,
                });
            }
            // Wanted from now on, even while it is still binding (`slots`).
            self.slots.submitted(dest);
            match binds.get(dest) {
                Some(e) if e.is_running() => e.clone(),
                _ => {
                    let e = self.spawn_bind(dest, &settings);
                    binds.insert(dest.clone(), e.clone());
                    e
                }
            }
        };
        if esme.is_bound() {
            return Ok(esme);
        }
        let wait = settings.esme.session.bind_timeout + settings.esme.connect_timeout;
        let deadline = Instant::now() + wait;
        while !esme.is_bound() {
            if Instant::now() >= deadline || !esme.is_running() {
                return Err(Attempt {
                    verdict: Verdict::Temporary,
                    response: format!(
                        "451 4.4.1 no SMPP bind to {} (see the paniclog)",
                        settings.esme.addr
                    ),
                    remote: None,
                    stage: 0,
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(esme)
    }

    /// Converts and submits a message for its recipients through the destination's bind as it
    /// is now (after a reload, the successor of the bind the session opened).
    pub async fn submit(
        &self,
        message: &StoredMessage,
        recipients: &[Lease],
    ) -> Result<Vec<Attempt>, Attempt> {
        let Some(first) = recipients.first() else {
            return Ok(vec![]);
        };
        let esme = &self.bound(&first.destination).await?;
        let s = self.settings(&first.destination);
        // What every SMPP log record of this message shares.
        let base = |lease: &Lease, number: &str| LogFields {
            message_id: message.id.to_string(),
            domain: lease.destination.domain.clone(),
            binding: lease.destination.binding.clone(),
            host: smsc_host(&s.esme.addr),
            source: s.source.addr.clone(),
            source_ton: s.source.ton,
            source_npi: s.source.npi,
            dest: number.to_string(),
            dest_ton: s.dest_ton,
            dest_npi: s.dest_npi,
            ..LogFields::default()
        };
        let sms = mt::convert(&message.body, &message.sender, &s.mt);
        if let Ok(sms) = &sms {
            count_conversion(sms);
            if !sms.charset_notes.is_empty() {
                tracing::debug!(message = %message.id, notes = ?sms.charset_notes, "charset fallbacks");
            }
        }
        let sms = match sms {
            // data_sm carries the whole text in one message_payload: no segments.
            Ok(mut sms) if s.data_sm => {
                sms.segments = vec![sms.segments.concat()];
                sms
            }
            Ok(sms) => sms,
            Err(e) => {
                for lease in recipients {
                    self.logs.failed(
                        &LogFields {
                            error: e.response(),
                            ..base(lease, "")
                        },
                        true,
                    );
                }
                return Ok(recipients.iter().map(|_| permanent(e.response())).collect());
            }
        };
        let mut out: Vec<Option<Attempt>> = vec![None; recipients.len()];
        // Who can be sent to, with the segments each already has.
        let mut pending = Vec::with_capacity(recipients.len());
        for (i, lease) in recipients.iter().enumerate() {
            let dest = if s.dest_flag == 2 {
                distribution_list(&lease.address)
            } else {
                mt::destination(&lease.address).map_err(|e| e.response())
            };
            let number = match dest {
                Ok(n) => n,
                Err(response) => {
                    self.logs.failed(
                        &LogFields {
                            error: response.clone(),
                            ..base(lease, "")
                        },
                        true,
                    );
                    out[i] = Some(permanent(response));
                    continue;
                }
            };
            let fields = LogFields {
                data_coding: sms.data_coding,
                size: sms.text.len(),
                segment: sms.segments.len().to_string(),
                text: sms.text.clone(),
                ..base(lease, &number)
            };
            self.logs.record(
                Record::Conversion,
                &LogFields {
                    error: "ec_message to smpp".into(),
                    ..fields.clone()
                },
            );
            // Segments accepted on an earlier try are kept; the reference number is derived
            // from the message (and recipient, but for submit_multi) so the retry's segments
            // join them. A first try in this run has none (the outcome of a try commits after
            // its submissions), so only retries and resumed leases (leased before, or received
            // before this run) look.
            // A spool error is not "none accepted": that would resubmit accepted segments
            // (duplicate SMS). The try fails temporarily instead, with the error logged.
            let accepted = if lease.attempts > 0
                || lease.leased_before
                || lease.received_at < self.spool.opened_at()
            {
                match self
                    .spool
                    .accepted_segments(message.id.to_string(), lease.address.clone())
                    .await
                {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::error!(message = %message.id, error = %e, "cannot read the segments the SMSC already accepted; retrying later");
                        out[i] = Some(temporary(format!(
                            "451 4.3.0 spool read failed (accepted segments): {e}"
                        )));
                        continue;
                    }
                }
            } else {
                Vec::new()
            };
            pending.push(Pending {
                index: i,
                lease,
                number,
                fields,
                accepted,
            });
        }
        let submitted: Vec<Submitted> = if s.submit_multi && !s.data_sm {
            let targets: Vec<MultiTarget> = pending
                .iter_mut()
                .map(|p| MultiTarget {
                    dest: if s.dest_flag == 2 {
                        MultiDest::DistributionList(p.number.clone())
                    } else {
                        MultiDest::Sme(Address::new(s.dest_ton, s.dest_npi, p.number.clone()))
                    },
                    accepted: std::mem::take(&mut p.accepted),
                })
                .collect();
            let reference = concat_reference(&message.id.to_string(), "");
            submit::to_many(esme, &s, &sms, &targets, reference).await
        } else {
            let mut all = Vec::with_capacity(pending.len());
            for p in &pending {
                let reference = concat_reference(&message.id.to_string(), &p.lease.address);
                let number = p.number.clone();
                all.push(submit::to_one(esme, &s, &sms, number, reference, &p.accepted).await);
            }
            all
        };
        for (
            Pending {
                index: i,
                lease,
                number,
                fields,
                ..
            },
            done,
        ) in pending.into_iter().zip(submitted)
        {
            self.remember_submissions(&s, message, lease, &done.newly, done.ids.len() as u32);
            let attempt = done.attempt;
            match attempt.verdict {
                Verdict::Delivered => {
                    self.logs.record(
                        Record::Delivery,
                        &LogFields {
                            remote_id: done.ids.join(","),
                            ..fields
                        },
                    );
                    self.remember_sender(&first.destination, &s, number, &sms);
                }
                verdict => self.logs.failed(
                    &LogFields {
                        error: attempt.response.clone(),
                        ..fields
                    },
                    verdict == Verdict::Permanent,
                ),
            }
            out[i] = Some(attempt);
        }
        Ok(out
            .into_iter()
            .map(|a| a.unwrap_or_else(|| temporary("451 4.3.0 internal error".into())))
            .collect())
    }

    /// Stores each accepted segment's SMSC id for matching its delivery receipt: under the one
    /// key `SMPP_Submit_Response_Message_ID_Format` gives when it is set, else under every key
    /// the id may be read as (decimal, hexadecimal, text).
    fn remember_submissions(
        &self,
        s: &DomainSettings,
        message: &StoredMessage,
        lease: &Lease,
        accepted: &[(u32, String)],
        total: u32,
    ) {
        if accepted.is_empty() {
            return;
        }
        let format = s.id_format;
        let now = now_millis();
        let mut subs = Vec::new();
        for (segment, id) in accepted {
            let keys = match format {
                Some(f) => vec![receipt::id_key(id, f)],
                None => receipt::id_keys(id),
            };
            for key in keys {
                subs.push(Submission {
                    key,
                    smsc_id: id.clone(),
                    message: message.id.to_string(),
                    domain: lease.destination.domain.clone(),
                    recipient: lease.address.clone(),
                    sender: message.sender.clone(),
                    segment: *segment,
                    total,
                    submitted_at: now,
                });
            }
        }
        // Queued now, so the scheduler's outcome record follows this write and commits after
        // it (a failure is logged by the spool). Once committed, receipts that arrived first and
        // wait for these keys are told (`receipt_wait`).
        let keys: Vec<String> = subs.iter().map(|s| s.key.clone()).collect();
        let recorded = self.spool.record_submissions(subs);
        tokio::spawn(async move {
            if recorded.await.is_ok() {
                crate::inbound::receipt_wait::announce(keys);
            }
        });
    }

    /// Saves a sent SMS's reverse mapping (docs/reference/momentum.md §1.3 step 9): not when
    /// mappings are off, and not without an ESME address, since the SMSC then picks the source.
    fn remember_sender(
        &self,
        dest: &Destination,
        s: &DomainSettings,
        number: String,
        sms: &mt::Sms,
    ) {
        let Some(minutes) = s.ram_minutes else {
            return;
        };
        if s.source.addr.is_empty() || sms.reply_to.is_empty() {
            return;
        }
        // The mail's From as the MIME parser gives it (quotes removed): stored in its written
        // form, so the reply that finds it gets an address that parses.
        // Written form first (a quoted local part keeps its quotes there), then the quotes-
        // removed form.
        let Ok(reply_to) = impulse_smtp::Address::parse_mailbox(&sms.reply_to)
            .or_else(|_| impulse_smtp::Address::from_unquoted(&sms.reply_to))
        else {
            tracing::debug!(from = ?sms.reply_to, "no reverse mapping: the From is not a mail address");
            return;
        };
        let mapping = ReverseMapping {
            domain: dest.domain.clone(),
            sms_addr: number,
            shortcode: s.source.addr.clone(),
            email_addr: reply_to.to_string(),
            expires: now_millis() + minutes as i64 * 60_000,
        };
        // Not awaited, like the submissions above.
        drop(self.spool.save_mapping(mapping));
    }
}

pub(crate) fn temporary(response: String) -> Attempt {
    Attempt {
        verdict: Verdict::Temporary,
        response,
        remote: None,
        stage: 9,
    }
}

pub(crate) fn permanent(response: String) -> Attempt {
    Attempt {
        verdict: Verdict::Permanent,
        response,
        remote: None,
        stage: 9,
    }
}

/// A recipient of a message that can be sent to, before its submission.
struct Pending<'a> {
    /// Its place among the leases of the delivery.
    index: usize,
    lease: &'a Lease,
    /// Number (or distribution list name) it goes to.
    number: String,
    /// What its SMPP log records share.
    fields: LogFields,
    /// Segments the SMSC accepted on earlier tries.
    accepted: Vec<(u32, String)>,
}

/// A distribution list's name from a recipient's local part (`SMPP_Destination_Flag = 2`):
/// dl_name is a C-string of at most 20 characters (SMPP 3.4 §4.5.1).
fn distribution_list(recipient: &str) -> Result<String, String> {
    let local = recipient.rsplit_once('@').map_or(recipient, |(l, _)| l);
    if local.is_empty() || local.len() > 20 || !local.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "550 5.1.1 `{local}` is not a distribution list name (1 to 20 printable characters)"
        ));
    }
    Ok(local.to_string())
}

/// The concatenation reference of a message to a recipient: the same on every try and after a
/// restart, so segments sent on a retry join those the SMSC already has (FNV-1a; decision 0006).
fn concat_reference(message: &str, recipient: &str) -> u32 {
    let mut h: u32 = 0x811C_9DC5;
    for b in message.bytes().chain([0]).chain(recipient.bytes()) {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h
}

/// The connector interface the router drives. The bind is looked up at each delivery, so
/// that a reload's new bind takes over: a session holds nothing.
impl Connector for SmppConnector {
    type Session = ();

    async fn open(&self, dest: &Destination) -> Result<(), Attempt> {
        self.bound(dest).await.map(drop)
    }

    async fn deliver(
        &self,
        _session: &mut (),
        message: &StoredMessage,
        recipients: &[Lease],
    ) -> Result<Vec<Attempt>, Attempt> {
        self.submit(message, recipients).await
    }

    /// The bind is shared by the domain's sessions; its inactivity timer closes it.
    async fn close(&self, _session: ()) {}
}
