//! What the gateway reports about itself, as typed events consumed in one place: each event
//! becomes its console counter (`summary`) and its Prometheus series here, so every series'
//! name and labels, and what the console counts, are read in this one file. Listeners,
//! connectors and guards emit events; they do not touch counters or metrics themselves.
//!
//! The console counters are installed once by `serve` ([`install`]); without them (a unit
//! test, a command other than `serve`) events only reach the metrics recorder, which is a no-op
//! until `ops::metrics::install`.

use std::sync::{Arc, OnceLock};

use crate::ops::counters::Counters;

/// How a recipient's attempt was settled, as the counters and series name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    Delivered,
    Deferred,
    Failed,
}

/// Something that happened, with what its series are labelled by.
#[derive(Debug)]
pub enum Event<'a> {
    /// A message entered the spool (`protocol`: esmtp, smpp, mm7, internal).
    Received { protocol: &'a str },
    /// A recipient's attempt was settled; `domain` is already a metrics label (a configured
    /// domain or `other`).
    Recipient {
        settled: Settled,
        protocol: &'static str,
        domain: String,
    },
    /// A mail became SMS: its segments by coding, look-alikes written, whether it was cut.
    SmsConverted {
        coding: &'static str,
        segments: usize,
        lookalikes: usize,
        truncated: bool,
    },
    /// `pdus` submit_sm went out together and were answered after `seconds`.
    SubmitRound { seconds: f64, pdus: usize },
    /// A delivery receipt matched its submission (`state` as the receipt says it).
    ReceiptMatched { state: String },
    /// A delivery receipt matched nothing Impulse sent.
    ReceiptUnmatched,
    /// An MM7 transaction, `direction` in or out, answered with `status` (the MM7 code; 0 when
    /// none came back).
    Mm7 {
        direction: &'static str,
        request: &'static str,
        status: u32,
    },
    /// A delivery waited for an `Outbound_Throttle_*` budget.
    ThrottleWait { option: &'static str },
    /// Credentials were refused (`service`: smtp, mm7, admin, console).
    AuthFailure { service: &'static str },
    /// An address was locked out after repeated refusals.
    AuthLockout { service: &'static str },
}

static COUNTERS: OnceLock<Arc<Counters>> = OnceLock::new();

/// Makes events count on the console's counters (once, at start).
pub fn install(counters: Arc<Counters>) {
    let _ = COUNTERS.set(counters);
}

/// Counts an event on its counter and its series.
pub fn emit(event: Event<'_>) {
    let counters = COUNTERS.get();
    match event {
        Event::Received { protocol } => {
            if let Some(c) = counters {
                Counters::add(&c.received);
            }
            metrics::counter!("impulse_messages_received_total", "protocol" => protocol.to_string())
                .increment(1);
        }
        Event::Recipient {
            settled,
            protocol,
            domain,
        } => {
            let (counter, series) = match settled {
                Settled::Delivered => (
                    counters.map(|c| &c.delivered),
                    "impulse_recipients_delivered_total",
                ),
                Settled::Deferred => (
                    counters.map(|c| &c.deferred),
                    "impulse_recipients_deferred_total",
                ),
                Settled::Failed => (
                    counters.map(|c| &c.failed),
                    "impulse_recipients_failed_total",
                ),
            };
            if let Some(c) = counter {
                Counters::add(c);
            }
            metrics::counter!(series, "protocol" => protocol, "domain" => domain).increment(1);
        }
        Event::SmsConverted {
            coding,
            segments,
            lookalikes,
            truncated,
        } => {
            metrics::counter!("impulse_sms_segments_total", "coding" => coding)
                .increment(segments as u64);
            if lookalikes > 0 {
                metrics::counter!("impulse_sms_lookalikes_replaced_total")
                    .increment(lookalikes as u64);
            }
            if truncated {
                metrics::counter!("impulse_sms_truncated_total").increment(1);
            }
        }
        Event::SubmitRound { seconds, pdus } => {
            let histogram = metrics::histogram!("impulse_smpp_submit_seconds");
            for _ in 0..pdus {
                histogram.record(seconds);
            }
        }
        Event::ReceiptMatched { state } => {
            metrics::counter!("impulse_smpp_receipts_total", "state" => state).increment(1);
        }
        Event::ReceiptUnmatched => {
            metrics::counter!("impulse_smpp_receipts_unmatched_total").increment(1);
        }
        Event::Mm7 {
            direction,
            request,
            status,
        } => {
            metrics::counter!(
                "impulse_mm7_transactions_total",
                "direction" => direction,
                "request" => request,
                "status" => mm7_status_class(status)
            )
            .increment(1);
        }
        Event::ThrottleWait { option } => {
            metrics::counter!("impulse_throttle_waits_total", "option" => option).increment(1);
        }
        Event::AuthFailure { service } => {
            metrics::counter!("impulse_auth_failures_total", "service" => service).increment(1);
        }
        Event::AuthLockout { service } => {
            metrics::counter!("impulse_auth_lockouts_total", "service" => service).increment(1);
        }
    }
}

/// The class of an MM7 status code for the `status` label: `1xxx` … `4xxx`, `none` when no
/// status came back, `other`.
fn mm7_status_class(code: u32) -> &'static str {
    match code / 1000 {
        _ if code == 0 => "none",
        1 => "1xxx",
        2 => "2xxx",
        3 => "3xxx",
        4 => "4xxx",
        _ => "other",
    }
}
