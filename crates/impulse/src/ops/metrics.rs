//! Prometheus metrics: the recorder (metrics-exporter-prometheus, rendered by the admin HTTP
//! listener's `/metrics`, with its upkeep run on a timer so histograms do not grow between
//! scrapes: metrics-rs/metrics#467), and the label rules every counter shares.
//!
//! Labels stay low-cardinality: a domain label is a domain that has its own `domain` stanza
//! (a bounded, configured set), every other destination counts as `other`; never an address,
//! a number or a message id.
//!
//! Counters are incremented where things happen (reception, delivery outcomes, receipts, MM7
//! exchanges, spool commits); queue depths and bind states are gauges set from a status
//! snapshot just before each scrape is rendered.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The installed recorder's handle; `None` until [`install`] ran (tests that start the gateway
/// in-process more than once share the first one).
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Submission and commit latencies: from a millisecond to a minute.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Installs the process-wide recorder once and starts its upkeep.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            let upkeep = handle.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    upkeep.run_upkeep();
                }
            });
            Some(handle)
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "impulse_messages_received_total",
        "Messages accepted (SMTP 250, deliver_sm_resp, MM7 DeliverRsp), by protocol"
    );
    describe_counter!(
        "impulse_recipients_delivered_total",
        "Recipients delivered, by protocol and domain"
    );
    describe_counter!(
        "impulse_recipients_deferred_total",
        "Recipient attempts that failed temporarily, by protocol and domain"
    );
    describe_counter!(
        "impulse_recipients_failed_total",
        "Recipients that failed permanently, by protocol and domain"
    );
    describe_gauge!("impulse_queue_active", "Recipients due for delivery now");
    describe_gauge!("impulse_queue_delayed", "Recipients waiting for a retry");
    describe_gauge!("impulse_smpp_binds_up", "SMPP connections bound, by domain");
    describe_gauge!(
        "impulse_smpp_window_in_use",
        "SMPP requests sent and awaiting their response, by domain"
    );
    describe_histogram!(
        "impulse_smpp_submit_seconds",
        Unit::Seconds,
        "Time from handing a submit_sm to its bind to its outcome"
    );
    describe_counter!(
        "impulse_sms_segments_total",
        "MT SMS segments converted, by coding (a retry converts again)"
    );
    describe_counter!(
        "impulse_sms_lookalikes_replaced_total",
        "Characters written as their GSM look-alikes (SMPP_Sms_Smart_Encoding)"
    );
    describe_counter!(
        "impulse_sms_truncated_total",
        "MT texts cut by SMPP_Max_Sms_Message_Size or SMPP_ESME_Max_Segments"
    );
    describe_counter!(
        "impulse_smpp_receipts_total",
        "Delivery receipts received, by state"
    );
    describe_counter!(
        "impulse_mm7_transactions_total",
        "MM7 transactions, by direction, request and status class"
    );
    describe_histogram!(
        "impulse_spool_commit_seconds",
        Unit::Seconds,
        "Time to apply and commit one group of spool writes"
    );
    describe_gauge!(
        "impulse_config_generation",
        "Configurations in force since start (1 until the first reload)"
    );
}

/// The text format of everything recorded (gauges must have been set just before).
pub fn render() -> String {
    HANDLE
        .get()
        .and_then(|h| h.as_ref())
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}
