//! The simulators as commands, for tests, benchmarks and users: `impulse sim smsc` (the SMSC
//! simulator of the smpp crate, `impulse_smpp::sim`) and `impulse sim mmsc` ([`mmsc`]).
//!
//! May use: `net` (the HTTP server and TLS of the MMSC simulator). Nothing of the gateway.

use std::process::ExitCode;
use std::time::Duration;

use impulse_smpp::sim::{SimConfig, Smsc};

#[derive(clap::Args)]
pub struct SmscArgs {
    /// Address to serve SMPP on.
    #[arg(long, default_value = "127.0.0.1:2775")]
    pub listen: String,
    /// Address of the line-based control port (stats, list, times, mo, fail, drop, delay, disconnect, garbage).
    #[arg(long)]
    pub control: Option<String>,
    /// Accepted credentials as system_id:password (repeatable); none accepts any bind.
    #[arg(long = "credentials")]
    pub credentials: Vec<String>,
    /// Delay of delivery receipts, in milliseconds.
    #[arg(long, default_value_t = 100)]
    pub receipt_delay_ms: u64,
    /// Percentage of receipts that report DELIVRD (the rest UNDELIV).
    #[arg(long, default_value_t = 100)]
    pub delivered_percent: u8,
    /// Send each delivery receipt before the submit_sm_resp it reports on.
    #[arg(long)]
    pub receipts_first: bool,
    /// deliver_sm outstanding at once per bind, waiting for their response (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub mo_window: usize,
    /// Messages kept for the control port's `list` and `times` (counters count everything).
    #[arg(long, default_value_t = 10_000)]
    pub keep: usize,
}

pub fn smsc(args: SmscArgs) -> ExitCode {
    let credentials = args
        .credentials
        .iter()
        .filter_map(|c| {
            c.split_once(':')
                .map(|(u, p)| (u.to_string(), p.to_string()))
        })
        .collect();
    let cfg = SimConfig {
        credentials,
        receipt_delay: Duration::from_millis(args.receipt_delay_ms),
        receipt_delivered_percent: args.delivered_percent,
        receipts_first: args.receipts_first,
        mo_window: args.mo_window,
        keep: args.keep,
    };
    crate::block_on("impulse sim", async {
        let sim = match Smsc::start(&args.listen, cfg).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("impulse sim smsc: cannot listen on {}: {e}", args.listen);
                return ExitCode::FAILURE;
            }
        };
        println!("smsc listening on {}", sim.addr);
        if let Some(control) = &args.control {
            match sim.serve_control(control).await {
                Ok(addr) => println!("control listening on {addr}"),
                Err(e) => {
                    eprintln!("impulse sim smsc: cannot listen on {control}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        let _ = tokio::signal::ctrl_c().await;
        ExitCode::SUCCESS
    })
}
pub mod mmsc;
