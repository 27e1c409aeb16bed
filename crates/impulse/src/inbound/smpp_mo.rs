//! SMS → email (docs/reference/momentum.md §1.4): messages from an SMPP domain's bind become mail.
//!
//! The deliver_sm_resp is sent only after what it answers for is committed to the spool. Each MO
//! is handled in a task of its own, so MOs read from a bind while a commit is under way join the
//! next one (group commit). The parts of a concatenated MO (UDH, 8- or 16-bit reference, or SAR)
//! are each committed and answered at once, never held for the rest (an SMSC with a window of 1
//! must be able to send the next part); the message is assembled from the spool when its last
//! part arrives, whichever bind each came on, and its payloads are joined before they are
//! decoded. A message still incomplete after `SMPP_MO_Reassembly_Timeout` is mailed with its
//! gaps marked (decision 0010).
//!
//! Delivery receipts are matched to the segments they report on and mailed to the sender when
//! asked for (or when delivery failed); a receipt that beats its submission waits for it
//! (`receipt_wait`, decision 0009).

use impulse_config::names;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::store::Store;
use impulse_config::{Config, Opt, Resolved, Sending};
use impulse_interwork::mo::{self, MailCharset};
use impulse_smpp::esme::{Event, Responder};
use impulse_smpp::pdu::{CommandStatus, DataSm, Pdu, ShortMessage, Tlvs, VendorTlvs, tag};
use impulse_smpp::receipt::{self, IdFormat};
use impulse_smpp::text;
use impulse_smtp::Address;
use impulse_spool::{Destination, MoPart, MoPartStored, MobileStore, Submission};
use tokio::sync::{broadcast, mpsc};

use crate::inbound::receipt_wait::{self, Held, HeldReceipts};
use crate::inbound::reception::Reception;
use crate::live::LiveConfig;
use crate::ops::mobile_logs::MobileLogs;
use impulse_telemetry::{BounceRecord, LogFields, Record};

pub struct MoContext {
    pub cfg: LiveConfig,
    pub spool: Store,
    pub reception: Arc<OnceLock<Arc<Reception>>>,
    pub logs: Arc<MobileLogs>,
    /// The SMSC's address, for the logs.
    pub smsc: String,
    /// The bind's `SMPP_Vendor_TLV_Table`: listed MO TLVs become mail headers.
    pub vendor_tlvs: Option<Arc<VendorTlvs>>,
}

/// One MO message's text and addresses.
struct Mo {
    source: String,
    dest: String,
    text: String,
    data_coding: u8,
    /// How many PDUs it came in.
    parts: usize,
    /// The vendor TLVs of its (first) PDU that `SMPP_Vendor_TLV_Table` lists for MO, as
    /// (name, value): they become `X-SMPP-TLV-<name>` headers.
    vendor: Vec<(String, String)>,
}

/// Serves the events of one domain's bind.
pub async fn serve(mut rx: mpsc::UnboundedReceiver<Event>, dest: Destination, ctx: Arc<MoContext>) {
    let mut held = HeldReceipts::default();
    let mut sweep_at = Instant::now();
    let mut recorded = receipt_wait::subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shared_ticks = 0u64;
    loop {
        tokio::select! {
            keys = recorded.recv(), if held.len() > 0 => {
                let retry = match keys {
                    Ok(keys) => held.take_matching(&keys),
                    Err(broadcast::error::RecvError::Lagged(_)) => held.take_all(),
                    Err(broadcast::error::RecvError::Closed) => Vec::new(),
                };
                for h in retry {
                    retry_held(&ctx, &dest, &mut held, h).await;
                }
            }
            ev = rx.recv() => match ev {
                None => return,
                Some(Event::Incoming { frame, responder }) => {
                    let (pdu_short, dc, esm, payload_tlv, src, dst, is_receipt, sar) = match &frame.pdu {
                        Pdu::DeliverSm(sm) => (sm.short_message.to_vec(), sm.data_coding, sm.esm_class, sm.tlv(tag::MESSAGE_PAYLOAD).map(<[u8]>::to_vec), sm.source.addr.clone(), sm.dest.addr.clone(), receipt::is_receipt(sm), text::sar_of(sm)),
                        Pdu::DataSm(d) => (Vec::new(), d.data_coding, d.esm_class, d.tlv(tag::MESSAGE_PAYLOAD).map(<[u8]>::to_vec), d.source.addr.clone(), d.dest.addr.clone(), d.esm_class & 0x3C == receipt::ESM_DELIVERY_RECEIPT || d.tlv(tag::RECEIPTED_MESSAGE_ID).is_some(), text::sar_of(d)),
                        _ => { responder.respond(CommandStatus::ESME_RINVCMDID); continue; }
                    };
                    if is_receipt {
                        let r = match &frame.pdu {
                            Pdu::DeliverSm(sm) => receipt::from_deliver_sm(sm),
                            // A data_sm receipt carries only TLVs; read them the same way.
                            Pdu::DataSm(d) => receipt::from_deliver_sm(&ShortMessage { esm_class: d.esm_class, data_coding: d.data_coding, tlvs: d.tlvs.clone(), ..Default::default() }),
                            _ => unreachable!("only deliver_sm and data_sm get here"),
                        };
                        match on_receipt(&ctx, &dest, r.clone(), &src, &dst, false).await {
                            ReceiptResult::Answer(status) => responder.respond(status),
                            ReceiptResult::NotYetKnown(keys) => {
                                // Answered now; matched when its submission is recorded.
                                responder.respond(CommandStatus::ESME_ROK);
                                let wait = ctx.cfg.get().sending(Some(&dest.domain), None).seconds(names::SMPP_DELIVERY_RECEIPT_WAIT);
                                let now = Instant::now();
                                let h = Held { receipt: r, keys, handset: src, esme: dst, until: now + wait, since: now, numeric_at: now + receipt_wait::NUMERIC_GRACE, numeric_tried: false };
                                if let Some(out) = held.hold(h) {
                                    unmatched(&dest, &out);
                                }
                            }
                        }
                        continue;
                    }
                    let vendor = vendor_values(&ctx, &frame.pdu);
                    let mut data = payload_tlv.unwrap_or(pdu_short);
                    // The reference's form (8- or 16-bit UDH, SAR) is part of a part's key.
                    let mut concat = sar.map(|c| (c, "sar"));
                    if esm & text::ESM_UDHI != 0
                        && let Some((c, at)) = text::parse_udh_wide(&data)
                    {
                        concat = c.map(|(c, wide)| (c, if wide { "u16" } else { "u8" })).or(concat);
                        data = data[at.min(data.len())..].to_vec();
                    }
                    // Each MO is handled in a task of its own, so that the next ones are read from
                    // the bind meanwhile and their spool writes share commits (group commit);
                    // each is answered after the commit that holds it.
                    let (ctx, dest) = (ctx.clone(), dest.clone());
                    match concat.filter(|(c, _)| c.total > 1 && c.seq >= 1 && c.seq <= c.total) {
                        None => {
                            tokio::spawn(async move {
                                let text = decode(&ctx.cfg.get(), &dest, dc, &data);
                                let status = deliver(&ctx, &dest, Mo { source: src, dest: dst, text, data_coding: dc, parts: 1, vendor }).await;
                                responder.respond(status);
                            });
                        }
                        Some((c, kind)) => {
                            let part = MoPart {
                                key: format!("{src}\u{1f}{dst}\u{1f}{kind}\u{1f}{}\u{1f}{}", c.reference, c.total),
                                seq: u32::from(c.seq),
                                total: u32::from(c.total),
                                data,
                                data_coding: dc,
                                domain: dest.domain.clone(),
                                binding: dest.binding.clone(),
                                source: src,
                                dest: dst,
                                meta: if c.seq == 1 { encode_vendor(&vendor) } else { String::new() },
                                received_at: impulse_spool::now_millis(),
                            };
                            tokio::spawn(async move { on_part(&ctx, part, responder).await });
                        }
                    }
                }
                Some(Event::Bound { smsc_system_id }) => {
                    tracing::info!(domain = %dest.domain, smsc_system_id = ?smsc_system_id, "SMPP bound");
                    // What waited for this SMSC goes now, not at each message's retry time.
                    if let Some(r) = ctx.reception.get() {
                        r.scheduler.reachable(dest.clone());
                    }
                }
                Some(Event::Disconnected { reason }) => tracing::info!(domain = %dest.domain, %reason, "SMPP connection ended"),
                Some(Event::BindFailed { status }) => tracing::error!(domain = %dest.domain, ?status, "SMPP bind failed repeatedly"),
                Some(Event::Throttled) => tracing::warn!(domain = %dest.domain, "SMSC throttled submissions (ESME_RTHROTTLED)"),
            },
            _ = tick.tick() => {
                let now = Instant::now();
                for h in held.take_expired(now) {
                    unmatched(&dest, &h);
                }
                // Submissions another node records are not announced on this one: with a
                // spool shared by several nodes, held receipts are tried again every 5 s (one
                // look-up each; there are few: most receipts match at once).
                shared_ticks += 1;
                let due = if ctx.spool.is_shared() && shared_ticks.is_multiple_of(5) { held.take_all() } else { held.take_numeric_due(now) };
                for h in due {
                    retry_held(&ctx, &dest, &mut held, h).await;
                }
                if sweep_at <= now {
                    sweep_at = now + Duration::from_secs(10);
                    // In a task: this bind's MO and receipts do not wait for the sweep's mail.
                    let (ctx, dest) = (ctx.clone(), dest.clone());
                    tokio::spawn(async move { sweep_parts(&ctx, &dest).await });
                }
            }
        }
    }
}

/// A held receipt tried again: matched and processed, or held again until its deadline.
async fn retry_held(ctx: &MoContext, dest: &Destination, held: &mut HeldReceipts, mut h: Held) {
    let numeric = h.numeric_at <= Instant::now();
    if numeric {
        h.numeric_tried = true;
    }
    match on_receipt(ctx, dest, h.receipt.clone(), &h.handset, &h.esme, numeric).await {
        ReceiptResult::Answer(CommandStatus::ESME_ROK) => {
            tracing::debug!(
                waited_ms = h.since.elapsed().as_millis() as u64,
                "held delivery receipt matched"
            );
        }
        // Not found yet (another segment's submission was announced), or its notice could not
        // be spooled: it waits on until its deadline.
        _ => {
            if let Some(out) = held.hold(h) {
                unmatched(dest, &out);
            }
        }
    }
}

/// A receipt that matched no submission within its wait.
fn unmatched(dest: &Destination, h: &Held) {
    let id = h.receipt.id.as_deref().unwrap_or("");
    let stat = h.receipt.stat.as_deref().unwrap_or("UNKNOWN");
    crate::ops::events::emit(crate::ops::events::Event::ReceiptUnmatched);
    tracing::warn!(domain = %dest.domain, id = ?id, stat = ?stat, waited_s = h.since.elapsed().as_secs(), "delivery receipt matches no submission");
}

/// Whether a recipient (`number@domain`) is the handset a receipt comes from: the same digits,
/// or one a suffix of the other of at least 7 digits (national and international forms).
fn same_number(recipient: &str, handset: &str) -> bool {
    let digits = |s: &str| -> String { s.chars().filter(char::is_ascii_digit).collect() };
    let local = recipient.rsplit_once('@').map_or(recipient, |(l, _)| l);
    let (a, b) = (digits(local), digits(handset));
    if a.is_empty() || b.is_empty() {
        return local
            .trim_start_matches('+')
            .eq_ignore_ascii_case(handset.trim_start_matches('+'));
    }
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    a == b || (short.len() >= 7 && long.ends_with(short.as_str()))
}

/// What became of a receipt.
enum ReceiptResult {
    /// Processed (or refused): the status to answer the SMSC with.
    Answer(CommandStatus),
    /// No submission is recorded under any of these keys yet.
    NotYetKnown(Vec<String>),
}

/// A delivery receipt: matched to the segment it reports on through its normalised id, logged,
/// and mailed to the original sender when its state is listed in `SMPP_Notify_Deliver_Receipt`
/// or a final failure (docs/reference/momentum.md §1.7), and answered once that mail is spooled.
/// `handset` and `esme` are the receipt's source and destination: the original SMS's
/// destination and source.
async fn on_receipt(
    ctx: &MoContext,
    dest: &Destination,
    r: receipt::Receipt,
    handset: &str,
    esme: &str,
    numeric: bool,
) -> ReceiptResult {
    let Some(id) = r.id.clone().filter(|i| !i.is_empty()) else {
        tracing::warn!(domain = %dest.domain, "delivery receipt without a message id; ignored");
        return ReceiptResult::Answer(CommandStatus::ESME_ROK);
    };
    let cfg = ctx.cfg.get();
    let scope = cfg.sending(Some(&dest.domain), None);
    let keys = match configured_id_format(&scope, names::SMPP_DELIVERY_RECEIPT_MESSAGE_ID_FORMAT) {
        Some(f) => vec![receipt::id_key(&id, f)],
        None => receipt::id_keys(&id),
    };
    let found = match ctx.spool.find_submissions(keys.clone()).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "receipt look-up failed; refused for the SMSC to resend");
            return ReceiptResult::Answer(CommandStatus::ESME_RX_T_APPN);
        }
    };
    // Without a configured id format, an id is looked up as text and as a number in both bases
    // ("10" is also ten and sixteen). The text match wins; a match only as a number must agree
    // with the receipt's handset, else it may be another message's id that happens to read the
    // same, while this receipt's own submission is not recorded yet: it waits.
    let by_text: Vec<&Submission> = found.iter().filter(|s| s.key == keys[0]).collect();
    let candidates: Vec<&Submission> = if keys.len() == 1 || !by_text.is_empty() {
        by_text
    } else {
        let agreeing: Vec<&Submission> = found
            .iter()
            .filter(|s| handset.is_empty() || same_number(&s.recipient, handset))
            .collect();
        // Not at once: the receipt's own submission, recorded under its text, may be a moment
        // away, and a number match now could be another message's (`receipt_wait`).
        if (agreeing.is_empty() && !found.is_empty()) || (!numeric && !found.is_empty()) {
            return ReceiptResult::NotYetKnown(keys);
        }
        agreeing
    };
    let mut matched: Vec<&Submission> = Vec::new();
    for s in candidates {
        if !matched
            .iter()
            .any(|m| m.message == s.message && m.recipient == s.recipient && m.segment == s.segment)
        {
            matched.push(s);
        }
    }
    // Recipients of one submit_multi share the id: the receipt comes from the handset.
    if matched.len() > 1 {
        let same: Vec<&Submission> = matched
            .iter()
            .copied()
            .filter(|m| same_number(&m.recipient, handset))
            .collect();
        if !same.is_empty() {
            matched = same;
        }
    }
    let stat = r
        .state
        .map(|s| s.stat().to_string())
        .or(r.stat.clone())
        .unwrap_or_else(|| "UNKNOWN".into());
    let sub = match matched.as_slice() {
        [one] => *one,
        [] => return ReceiptResult::NotYetKnown(keys),
        many => {
            tracing::warn!(domain = %dest.domain, id = ?id, candidates = many.len(), "delivery receipt matches several submissions; set the message id formats to tell them apart");
            return ReceiptResult::Answer(CommandStatus::ESME_ROK);
        }
    };
    // Counted once matched (a receipt that waits for its submission is counted when it is
    // matched, not at each try): a known state, never the free text an SMSC may put in `stat:`.
    let state = r
        .state
        .map_or_else(|| "UNKNOWN".to_string(), |s| s.stat().to_string());
    crate::ops::events::emit(crate::ops::events::Event::ReceiptMatched { state });
    tracing::info!(domain = %dest.domain, message = %sub.message, segment = sub.segment, total = sub.total, recipient = %sub.recipient, stat = ?stat, err = ?r.err, "delivery receipt");
    let notify = scope
        .effective(names::SMPP_NOTIFY_DELIVER_RECEIPT)
        .map(|(v, _)| {
            impulse_config::types::list_items(&v)
                .iter()
                .map(|w| w.to_ascii_uppercase())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let failed = r.state.is_some_and(|s| s.is_failure() && s.is_final());
    let fields = LogFields {
        message_id: sub.message.clone(),
        domain: dest.domain.clone(),
        binding: dest.binding.clone(),
        host: ctx.smsc.clone(),
        source: esme.to_string(),
        dest: handset.to_string(),
        remote_id: sub.smsc_id.clone(),
        receipt_latency: Some((impulse_spool::now_millis() - sub.submitted_at) / 1000),
        status_type: "SMSC Delivery".into(),
        status: stat.clone(),
        error: r.err.clone().unwrap_or_default(),
        segment: sub.segment.to_string(),
        ..LogFields::default()
    };
    ctx.logs.record(Record::Status, &fields);
    if failed {
        ctx.logs.bounce(
            BounceRecord::OutOfBand,
            &LogFields {
                error: format!("{stat} err:{}", r.err.as_deref().unwrap_or("-")),
                ..fields
            },
        );
    }
    let wanted = notify.iter().any(|w| w == "ALL" || *w == stat);
    if !(wanted || failed) {
        return ReceiptResult::Answer(CommandStatus::ESME_ROK);
    }
    // The submission's sender came from the spool, parsed when the mail was received.
    let Ok(Some(notify_to)) = impulse_smtp::address::parse_reverse_path(&sub.sender) else {
        return ReceiptResult::Answer(CommandStatus::ESME_ROK);
    };
    let Some(reception) = ctx.reception.get() else {
        return ReceiptResult::Answer(CommandStatus::ESME_RX_T_APPN);
    };
    let number = sub.recipient.split('@').next().unwrap_or_default();
    let subject = if failed {
        format!("Undelivered SMS to {number} ({stat})")
    } else {
        format!("SMS to {number}: {stat}")
    };
    let body = format!(
        "Your message {} to {} was reported by the SMSC as {stat}{}.\n\nSegment {} of {}, SMSC message id {}.\nError code: {}\nDone: {}\n",
        sub.message,
        sub.recipient,
        if failed {
            ": it could not be delivered"
        } else {
            ""
        },
        sub.segment,
        sub.total,
        sub.smsc_id,
        r.err.as_deref().unwrap_or("-"),
        r.done_date.as_deref().unwrap_or("-"),
    );
    match reception
        .notify_sender(&notify_to, &subject, &body, ctx.smsc.clone(), "smpp")
        .await
    {
        Ok(_) => ReceiptResult::Answer(CommandStatus::ESME_ROK),
        Err(e) => {
            tracing::error!(error = %e, "receipt notice not spooled; refused for the SMSC to resend");
            ReceiptResult::Answer(CommandStatus::ESME_RX_T_APPN)
        }
    }
}

/// Text by data_coding; data_coding 0 in the SMSC's default alphabet.
fn decode(cfg: &Config, dest: &Destination, data_coding: u8, data: &[u8]) -> String {
    let alphabet = cfg
        .sending(Some(&dest.domain), None)
        .scalar(names::SMPP_SMSC_DEFAULT_ALPHABET)
        .and_then(|a| impulse_interwork::mt::DefaultAlphabet::parse(&a))
        .unwrap_or(impulse_interwork::mt::DefaultAlphabet::Gsm);
    match data_coding {
        0 => text::decode(alphabet.coding().data_coding(), data),
        _ => text::decode(data_coding, data),
    }
}

/// The TLVs of an MO PDU that the bind's `SMPP_Vendor_TLV_Table` lists for MO.
fn vendor_values(ctx: &MoContext, pdu: &Pdu) -> Vec<(String, String)> {
    let (Some(table), Pdu::DeliverSm(ShortMessage { tlvs, .. }) | Pdu::DataSm(DataSm { tlvs, .. })) =
        (&ctx.vendor_tlvs, pdu)
    else {
        return vec![];
    };
    table.read(tlvs, impulse_smpp::pdu::VALID_MO)
}

/// One part of a concatenated MO: committed to the spool and answered at once (the SMSC's
/// window is never held for the rest); the part that completes its message has it assembled
/// from the spool and mailed. A duplicate is answered at once and dropped.
async fn on_part(ctx: &MoContext, part: MoPart, responder: Responder) {
    match ctx.spool.store_mo_part(part).await {
        Ok(MoPartStored::Duplicate) => {
            tracing::debug!("duplicate MO part answered and dropped");
            responder.respond(CommandStatus::ESME_ROK);
        }
        Ok(MoPartStored::Stored { complete: None }) => responder.respond(CommandStatus::ESME_ROK),
        Ok(MoPartStored::Stored {
            complete: Some(parts),
        }) => {
            responder.respond(CommandStatus::ESME_ROK);
            mail_parts(ctx, parts, false).await;
        }
        Err(e) => {
            tracing::error!(error = %e, "MO part not stored; refused for the SMSC to resend");
            responder.respond(CommandStatus::ESME_RX_T_APPN);
        }
    }
}

/// Mails a concatenated MO from its stored parts: their payloads are joined, then decoded, so
/// that a character split between parts (a UCS-2 surrogate pair, a GSM escape) comes out whole.
/// `incomplete`: its wait is over with parts missing; each gap is marked in the text. Once
/// mailed, the parts are marked done (kept a while to recognise late duplicates); when the mail
/// could not be spooled they stay, and the sweep tries again.
async fn mail_parts(ctx: &MoContext, parts: Vec<MoPart>, incomplete: bool) {
    let Some(first) = parts.first() else {
        return;
    };
    let (key, total, dc) = (first.key.clone(), first.total, first.data_coding);
    let seqs: Vec<u32> = parts.iter().map(|p| p.seq).collect();
    let cfg = ctx.cfg.get();
    // Decoded with the settings of the domain of the bind the parts came on.
    let bind = &Destination {
        domain: first.domain.clone(),
        binding: first.binding.clone(),
    };
    let mut text = String::new();
    for run in text::join(total, parts.iter().map(|p| (p.seq, &p.data))) {
        match run {
            text::Run::Data(data) => text.push_str(&decode(&cfg, bind, dc, &data)),
            text::Run::Missing { from, to } if to == total => {
                text.push_str(&format!(" [parts {from}-{to} of {total} missing]"))
            }
            text::Run::Missing { from, to } => {
                text.push_str(&format!(" [parts {from}-{to} of {total} missing] "))
            }
        }
    }
    if incomplete {
        tracing::warn!(source = ?first.source, dest = ?first.dest, got = parts.len(), total, "concatenated MO incomplete after SMPP_MO_Reassembly_Timeout: mailed with its gaps marked");
    }
    let vendor = parts
        .iter()
        .find(|p| p.seq == 1)
        .map(|p| decode_vendor(&p.meta))
        .unwrap_or_default();
    let mo = Mo {
        source: first.source.clone(),
        dest: first.dest.clone(),
        text,
        data_coding: dc,
        parts: parts.len(),
        vendor,
    };
    let mailed = deliver(ctx, bind, mo).await == CommandStatus::ESME_ROK;
    if let Err(e) = ctx.spool.mo_done(key, seqs, mailed).await {
        tracing::error!(error = %e, "MO parts not marked; the message may be mailed again after a restart");
    }
}

/// Mails the concatenated MOs whose wait is over (`SMPP_MO_Reassembly_Timeout`) with parts
/// still missing, and those a crash left complete but unmailed; forgets done ones after a day.
async fn sweep_parts(ctx: &MoContext, bind: &Destination) {
    // One sweep at a time in the process: the binds of an account share their parts, and two
    // sweeps would mail the same stale message twice.
    static SWEEP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let Ok(_one) = SWEEP.try_lock() else {
        return;
    };
    // Each domain has its own wait: the spool is asked with the shortest, and a message whose
    // own domain waits longer is put back.
    let cfg = ctx.cfg.get();
    let wait_of = |domain: &str| {
        cfg.sending(Some(domain), None)
            .seconds(names::SMPP_MO_REASSEMBLY_TIMEOUT)
            .as_millis() as i64
    };
    let shortest = cfg
        .domain_names()
        .into_iter()
        .filter(|d| crate::route::is_smpp_domain(&cfg, d))
        .map(wait_of)
        .min()
        .unwrap_or_else(|| wait_of(&bind.domain));
    let now = impulse_spool::now_millis();
    match ctx
        .spool
        .stale_mo_parts(now - shortest, now - 86_400_000)
        .await
    {
        Ok(sets) => {
            for parts in sets {
                let Some(first) = parts.first() else {
                    continue;
                };
                let oldest = parts.iter().map(|p| p.received_at).min().unwrap_or(now);
                if oldest > now - wait_of(&first.domain) {
                    let seqs = parts.iter().map(|p| p.seq).collect();
                    if let Err(e) = ctx.spool.mo_done(first.key.clone(), seqs, false).await {
                        tracing::error!(error = %e, "MO parts not put back");
                    }
                    continue;
                }
                let incomplete = parts.len() < first.total as usize;
                mail_parts(ctx, parts, incomplete).await;
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot read stale MO parts"),
    }
}

/// A part's vendor TLVs as one text field: `name=value` lines (line breaks in values become
/// spaces).
fn encode_vendor(vendor: &[(String, String)]) -> String {
    vendor
        .iter()
        .map(|(n, v)| format!("{n}={}\n", v.replace(['\r', '\n'], " ")))
        .collect()
}

fn decode_vendor(meta: &str) -> Vec<(String, String)> {
    meta.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// The domain an MO belongs to: the SMPP domain, on the same SMSC account as the bind it
/// came on (server, port, system_id), whose `SMPP_ESME_Address` is the MO's destination — the
/// short code the handset wrote to — whichever of that account's binds the SMSC chose to
/// deliver it on. Only when no domain's address matches does the bind's domain decide.
pub fn attributed_domain(cfg: &Config, bind: &Destination, mo_dest: &str) -> Destination {
    let account = |domain: &str| {
        let s = cfg.sending(Some(domain), None);
        (
            s.scalar(names::SMPP_SMSC_SERVER)
                .unwrap_or_default()
                .to_ascii_lowercase(),
            s.u64(names::SMPP_SMSC_PORT),
            s.scalar(names::SMPP_SMSC_SYSTEM_ID).unwrap_or_default(),
        )
    };
    let short_code = |a: &str| a.trim().trim_start_matches('+').to_string();
    let wanted = short_code(mo_dest);
    if wanted.is_empty() {
        return bind.clone();
    }
    let own = cfg
        .sending(Some(&bind.domain), None)
        .scalar(names::SMPP_ESME_ADDRESS);
    if own.as_deref().map(short_code).as_deref() == Some(wanted.as_str()) {
        return bind.clone();
    }
    let bind_account = account(&bind.domain);
    cfg.domain_names()
        .into_iter()
        .filter(|d| *d != bind.domain && crate::route::is_smpp_domain(cfg, d))
        .find(|d| {
            cfg.sending(Some(d), None)
                .scalar(names::SMPP_ESME_ADDRESS)
                .is_some_and(|a| short_code(&a) == wanted)
                && account(d) == bind_account
        })
        .map_or_else(
            || bind.clone(),
            |d| Destination {
                domain: d.to_string(),
                binding: bind.binding.clone(),
            },
        )
}

/// Turns an MO into mail and spools it; the status to answer the SMSC with.
async fn deliver(ctx: &MoContext, bind: &Destination, m: Mo) -> CommandStatus {
    let cfg = ctx.cfg.get();
    let attributed = attributed_domain(&cfg, bind, &m.dest);
    if attributed.domain != bind.domain {
        tracing::debug!(bind = %bind.domain, domain = %attributed.domain, dest = ?m.dest, "MO attributed by its destination address");
    }
    let dest = &attributed;
    let s = cfg.sending(Some(&dest.domain), None);
    let whole = || mo::Interworking {
        address: None,
        subject: None,
        body: m.text.trim().to_string(),
    };
    let mut parsed = if s.bool(names::SMPP_USE_INTERWORKING_PARSE) {
        mo::parse(&m.text)
    } else {
        whole()
    };
    // An address-looking start that is not a mail address is text: the whole SMS is the body,
    // and the reverse mapping or the default address decides where it goes.
    if let Some(a) = &parsed.address
        && let Err(e) = Address::parse_mailbox(a)
    {
        tracing::warn!(address = ?a, error = %e, "the address in the MO text is not a mail address; the whole text is the body");
        parsed = whole();
    }
    // The address in the text, else who last sent this handset an SMS from this short code,
    // else the domain's catch-all (docs/reference/momentum.md §1.4 step 5).
    let mapped = if parsed.address.is_none() && s.bool(names::SMPP_USE_REVERSE_ADDRESS_MAPPINGS) {
        let now = impulse_spool::now_millis();
        // A spool error is not "no mapping": the SMS would go to the catch-all instead of who
        // it answers. The SMSC is asked to send it again.
        match ctx
            .spool
            .lookup_mapping(&dest.domain, &m.source, &m.dest, now)
            .await
        {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "reverse address mapping look-up failed; MO refused for the SMSC to resend");
                return CommandStatus::ESME_RX_T_APPN;
            }
        }
    } else {
        None
    };
    // Each candidate is parsed: an address the handset typed, a stored mapping or the
    // configured default that is not a mail address is passed over, never written raw. The
    // SMSC's bind is an authenticated peer, so the address in the text may be anywhere (the
    // interworking format's purpose).
    let parse = |what: &str, a: Option<String>| {
        a.and_then(|a| match Address::parse_mailbox(&a) {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::warn!(candidate = what, address = ?a, error = %e, "MO recipient is not a mail address; passed over");
                None
            }
        })
    };
    let Some(to) = parse("text", parsed.address.clone())
        .or_else(|| parse("reverse mapping", mapped))
        .or_else(|| {
            parse(
                names::SMPP_DEFAULT_EMAIL_ADDRESS.name(),
                s.scalar(names::SMPP_DEFAULT_EMAIL_ADDRESS),
            )
        })
    else {
        // Nothing to send it to: a logged drop, and the SMSC is still told we have it.
        tracing::warn!(domain = %dest.domain, source = ?m.source, "MO dropped: no address in the text, no reverse mapping and no SMPP_Default_Email_Address");
        return CommandStatus::ESME_ROK;
    };
    let from_domain = s
        .scalar(names::SMPP_DEFAULT_EMAIL_FROM_DOMAIN)
        .unwrap_or_else(|| dest.domain.clone());
    if crate::inbound::mo_addresses::number_local(&m.source).is_none() {
        tracing::warn!(source = ?m.source, "MO source_addr is not a plain number; mailed from {}@{from_domain}", crate::inbound::mo_addresses::UNKNOWN_LOCAL);
    }
    let Some(from) = crate::inbound::mo_addresses::from_number(&m.source, &from_domain) else {
        tracing::error!(domain = %from_domain, "MO not mailed: SMPP_Default_Email_From_Domain is not a domain; refused for the SMSC to resend");
        return CommandStatus::ESME_RX_T_APPN;
    };
    let charset = MailCharset::parse(&s.scalar(names::SMPP_GSM_TRANSCODES_TO).unwrap_or_default())
        .unwrap_or(MailCharset::Latin1);
    let now = impulse_spool::now_millis() / 1000;
    // No subject in the SMS: name the sender, so the mail does not arrive blank (decision 0006).
    let subject = parsed
        .subject
        .clone()
        .unwrap_or_else(|| format!("SMS from {}", m.source));
    let headers: Vec<(String, String)> = m
        .vendor
        .iter()
        .map(|(name, value)| (format!("X-SMPP-TLV-{name}"), value.clone()))
        .collect();
    let Some(reception) = ctx.reception.get() else {
        return CommandStatus::ESME_RX_T_APPN;
    };
    let mail = mo::build_email(
        &from.to_string(),
        &to.to_string(),
        &subject,
        &parsed.body,
        charset,
        mo::Stamp {
            date: now,
            host: &reception.hostname,
        },
        &headers,
    );
    match reception
        .spool_message(Some(from), vec![to], mail, ctx.smsc.clone(), "smpp")
        .await
    {
        Ok(id) => {
            tracing::info!(domain = %dest.domain, source = ?m.source, dest = ?m.dest, message = %id, "MO spooled as mail");
            let fields = LogFields {
                message_id: id,
                domain: dest.domain.clone(),
                binding: dest.binding.clone(),
                host: ctx.smsc.clone(),
                data_coding: m.data_coding,
                source: m.source.clone(),
                dest: m.dest.clone(),
                size: m.text.len(),
                segment: m.parts.to_string(),
                text: m.text.clone(),
                ..LogFields::default()
            };
            ctx.logs.record(Record::Reception, &fields);
            ctx.logs.record(
                Record::Conversion,
                &LogFields {
                    error: "smpp to ec_message".into(),
                    ..fields
                },
            );
            CommandStatus::ESME_ROK
        }
        Err(e) => {
            tracing::error!(error = %e, "MO not spooled; refused for the SMSC to resend");
            CommandStatus::ESME_RX_T_APPN
        }
    }
}

/// The id format an option sets explicitly; `None` when unset, which means "match any way".
pub fn configured_id_format(scope: &Sending<'_>, option: Opt) -> Option<IdFormat> {
    let (value, _) = scope.find(option.def())?;
    value.as_scalar().and_then(IdFormat::parse)
}
