//! Submitting one converted SMS: the PDUs of its segments (concatenation by UDH or SAR, vendor
//! TLVs, data_sm), sent to one number (submit_sm, data_sm) or to many at once (submit_multi),
//! and what the SMSC's answers mean for each recipient: delivered when every segment is
//! accepted, else the worst failure (a permanent refusal decides).

use bytes::Bytes;
use impulse_interwork::mt;
use impulse_queue::{Attempt, Verdict};
use impulse_smpp::esme::Esme;
use impulse_smpp::pdu::{
    Address, CommandStatus, DataSmResp, MessageIdResp, MultiDest, Pdu, ShortMessage, SubmitMulti,
    SubmitMultiResp, Tlv, VendorStatuses,
};
use impulse_smpp::session::SubmitResult;
use impulse_smpp::text::{self, Concat};

use super::{DomainSettings, as_data_sm, permanent, temporary};

/// SMPP 3.4 §4.5.1: number_of_dests is at most 254.
const MAX_MULTI_DESTS: usize = 254;

/// What submitting to one recipient came to: the attempt, every segment's SMSC id (empty for
/// those not accepted) and the segments accepted by this try, as (segment number, id).
pub struct Submitted {
    pub attempt: Attempt,
    pub ids: Vec<String>,
    pub newly: Vec<(u32, String)>,
}

/// One recipient of a submit_multi: where to, and the segments it already has.
pub struct MultiTarget {
    pub dest: MultiDest,
    pub accepted: Vec<(u32, String)>,
}

/// The parts of each segment's PDU that do not depend on the destination.
struct Segment {
    seq: u32,
    short_message: Bytes,
    esm_class: u8,
    tlvs: Vec<Tlv>,
}

fn segments(s: &DomainSettings, sms: &mt::Sms, reference: u32) -> Vec<Segment> {
    let total = sms.segments.len();
    let wide = match s.refnum_length {
        1 => false,
        2 => true,
        _ => reference & 0xFFFF > 0xFF,
    };
    let reference = if wide {
        reference as u16
    } else {
        u16::from(reference as u8)
    };
    sms.segments
        .iter()
        .enumerate()
        .map(|(i, segment)| {
            let concat = Concat {
                reference,
                total: total as u8,
                seq: i as u8 + 1,
            };
            let (short_message, esm_class, mut tlvs) = match (total > 1, s.mt.udh) {
                (false, _) => (Bytes::from(segment.clone()), 0, vec![]),
                (true, true) => {
                    let mut sm = text::concat_udh(concat, wide);
                    sm.extend_from_slice(segment);
                    (Bytes::from(sm), text::ESM_UDHI, vec![])
                }
                (true, false) => (Bytes::from(segment.clone()), 0, text::sar_tlvs(concat)),
            };
            if let Some(v) = &s.vendor_tlvs {
                tlvs.extend(v.mt_defaults().cloned());
            }
            Segment {
                seq: i as u32 + 1,
                short_message,
                esm_class: esm_class | s.mode_bits,
                tlvs,
            }
        })
        .collect()
}

/// Per-segment results of one recipient, folded into its outcome.
struct Progress {
    total: usize,
    ids: Vec<String>,
    newly: Vec<(u32, String)>,
    worst: Option<Attempt>,
}

impl Progress {
    fn new(total: usize, accepted: &[(u32, String)]) -> Progress {
        let mut ids = vec![String::new(); total];
        for (seg, id) in accepted {
            if let Some(slot) = ids.get_mut((*seg as usize).wrapping_sub(1)) {
                *slot = id.clone();
            }
        }
        Progress {
            total,
            ids,
            newly: Vec::new(),
            worst: None,
        }
    }

    fn has(&self, seq: u32) -> bool {
        self.ids
            .get(seq as usize - 1)
            .is_some_and(|id| !id.is_empty())
    }

    fn accepted(&mut self, seq: u32, id: String) {
        self.ids[seq as usize - 1] = id.clone();
        self.newly.push((seq, id));
    }

    fn failed(&mut self, f: Attempt) {
        // A permanent refusal decides; otherwise any temporary failure means retry.
        if self
            .worst
            .as_ref()
            .is_none_or(|w| w.verdict != Verdict::Permanent)
        {
            self.worst = Some(f);
        }
    }

    fn finish(self) -> Submitted {
        let attempt = self.worst.unwrap_or_else(|| Attempt {
            verdict: Verdict::Delivered,
            response: format!(
                "250 2.0.0 accepted by the SMSC: {} segment(s), id {}",
                self.total,
                self.ids.join(",")
            ),
            remote: None,
            stage: 9,
        });
        Submitted {
            attempt,
            ids: self.ids,
            newly: self.newly,
        }
    }
}

/// A segment the SMSC did not answer: no response in time, or the connection was lost.
fn unanswered(timed_out: bool, seq: u32, total: usize) -> Attempt {
    if timed_out {
        temporary(format!(
            "451 4.4.2 no response for segment {seq} of {total}"
        ))
    } else {
        temporary(format!(
            "451 4.4.2 SMPP connection lost before segment {seq} of {total} was answered"
        ))
    }
}

/// Submits every segment not yet accepted to one number, all at once (the window paces them).
pub async fn to_one(
    esme: &Esme,
    s: &DomainSettings,
    sms: &mt::Sms,
    number: String,
    reference: u32,
    accepted: &[(u32, String)],
) -> Submitted {
    let total = sms.segments.len();
    let mut progress = Progress::new(total, accepted);
    let todo: Vec<Segment> = segments(s, sms, reference)
        .into_iter()
        // A segment the SMSC already accepted is never sent again.
        .filter(|seg| !progress.has(seg.seq))
        .collect();
    let seqs: Vec<u32> = todo.iter().map(|seg| seg.seq).collect();
    let mut pdus: Vec<Pdu> = todo
        .into_iter()
        .map(|seg| {
            Pdu::SubmitSm(ShortMessage {
                service_type: s.service_type.clone(),
                source: s.source.clone(),
                dest: Address::new(s.dest_ton, s.dest_npi, number.clone()),
                esm_class: seg.esm_class,
                validity_period: s.validity_period.clone(),
                registered_delivery: s.registered_delivery,
                data_coding: sms.data_coding,
                short_message: seg.short_message,
                tlvs: seg.tlvs,
                ..Default::default()
            })
        })
        .collect();
    if s.data_sm {
        pdus = pdus.into_iter().map(as_data_sm).collect();
    }
    let results = timed_submit(esme, pdus).await;
    for (seq, result) in seqs.into_iter().zip(results) {
        match result {
            SubmitResult::Response {
                status,
                pdu: Pdu::SubmitSmResp(MessageIdResp { message_id }),
            }
            | SubmitResult::Response {
                status,
                pdu: Pdu::DataSmResp(DataSmResp { message_id, .. }),
            } if status.is_ok() => progress.accepted(seq, message_id),
            SubmitResult::Response { status, .. } => {
                progress.failed(classify(status, seq, total, s.vendor.as_deref()))
            }
            SubmitResult::Timeout => progress.failed(unanswered(true, seq, total)),
            SubmitResult::ConnectionLost => progress.failed(unanswered(false, seq, total)),
        }
    }
    progress.finish()
}

/// Submits every segment to every target with submit_multi: per segment one PDU (per 254
/// destinations) naming the targets that do not have that segment yet. A destination the
/// SMSC lists as unsuccessful fails with its own error_status; the others share the id.
pub async fn to_many(
    esme: &Esme,
    s: &DomainSettings,
    sms: &mt::Sms,
    targets: &[MultiTarget],
    reference: u32,
) -> Vec<Submitted> {
    let total = sms.segments.len();
    let mut progress: Vec<Progress> = targets
        .iter()
        .map(|t| Progress::new(total, &t.accepted))
        .collect();
    // (segment, indices of its targets) for each PDU.
    let mut sent: Vec<(u32, Vec<usize>)> = Vec::new();
    let mut pdus = Vec::new();
    for seg in segments(s, sms, reference) {
        let want: Vec<usize> = (0..targets.len())
            .filter(|&t| !progress[t].has(seg.seq))
            .collect();
        for chunk in want.chunks(MAX_MULTI_DESTS) {
            pdus.push(Pdu::SubmitMulti(SubmitMulti {
                service_type: s.service_type.clone(),
                source: s.source.clone(),
                dests: chunk.iter().map(|&t| targets[t].dest.clone()).collect(),
                esm_class: seg.esm_class,
                validity_period: s.validity_period.clone(),
                registered_delivery: s.registered_delivery,
                data_coding: sms.data_coding,
                short_message: seg.short_message.clone(),
                tlvs: seg.tlvs.clone(),
                ..Default::default()
            }));
            sent.push((seg.seq, chunk.to_vec()));
        }
    }
    let results = timed_submit(esme, pdus).await;
    for ((seq, chunk), result) in sent.into_iter().zip(results) {
        let failure = match result {
            SubmitResult::Response {
                status,
                pdu:
                    Pdu::SubmitMultiResp(SubmitMultiResp {
                        message_id,
                        unsuccess,
                    }),
            } if status.is_ok() => {
                for t in chunk {
                    let refused = unsuccess.iter().find(|u| match &targets[t].dest {
                        MultiDest::Sme(a) => u.dest.addr == a.addr,
                        MultiDest::DistributionList(name) => u.dest.addr == *name,
                    });
                    match refused {
                        Some(u) => progress[t].failed(classify(
                            u.error_status,
                            seq,
                            total,
                            s.vendor.as_deref(),
                        )),
                        None => progress[t].accepted(seq, message_id.clone()),
                    }
                }
                continue;
            }
            SubmitResult::Response { status, .. } => {
                classify(status, seq, total, s.vendor.as_deref())
            }
            SubmitResult::Timeout => unanswered(true, seq, total),
            SubmitResult::ConnectionLost => unanswered(false, seq, total),
        };
        // Every destination of this PDU fails alike.
        for t in chunk {
            progress[t].failed(failure.clone());
        }
    }
    progress.into_iter().map(Progress::finish).collect()
}

/// docs/reference/momentum.md §3.1.7 (five statuses are temporary, all else permanent), unless the
/// vendor table lists the status (§2.1.1).
fn classify(
    status: CommandStatus,
    seq: u32,
    total: usize,
    vendor: Option<&VendorStatuses>,
) -> Attempt {
    let (temp, why) = match vendor.and_then(|v| v.classify(status)) {
        Some((temp, desc)) => (temp, format!("{status} {desc}")),
        None => (status.is_temporary(), status.to_string()),
    };
    let text = format!("SMSC refused segment {seq} of {total}: {}", why.trim_end());
    if temp {
        temporary(format!("451 4.3.0 {text}"))
    } else {
        permanent(format!("554 5.0.0 {text}"))
    }
}

/// Submits through the bind and records each PDU's time to its outcome
/// (`impulse_smpp_submit_seconds`): the segments of a message go into the window together, so
/// they share the time of the slowest.
async fn timed_submit(
    esme: &Esme,
    pdus: Vec<impulse_smpp::pdu::Pdu>,
) -> Vec<impulse_smpp::session::SubmitResult> {
    let started = std::time::Instant::now();
    let results = esme.submit_all(pdus).await;
    crate::ops::events::emit(crate::ops::events::Event::SubmitRound {
        seconds: started.elapsed().as_secs_f64(),
        pdus: results.len(),
    });
    results
}
