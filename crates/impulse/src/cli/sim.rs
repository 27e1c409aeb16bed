//! The simulators as commands, for tests, benchmarks and users: `impulse sim smsc` and
//! `impulse sim mmsc`, the command-line side of the `impulse-sim` crate.
//!
//! May use: nothing of the gateway.

use std::process::ExitCode;
use std::time::Duration;

use impulse_mm7::Schema;
use impulse_sim::mmsc::{Mmsc, MmscConfig, serve_control};
use impulse_sim::smsc::{SimConfig, Smsc};
use std::path::PathBuf;

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

#[derive(clap::Args)]
pub struct MmscArgs {
    /// Address to serve MM7 (HTTP) on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Address of the line-based control port (stats, list, fail, http500, delay, garbage, deliver, report).
    #[arg(long)]
    pub control: Option<String>,
    /// Write each SubmitReq's envelope and decoded parts under DIR/<message id>/.
    #[arg(long)]
    pub dump: Option<PathBuf>,
    /// Require HTTP Basic credentials user:password.
    #[arg(long)]
    pub credentials: Option<String>,
    /// HTTP Basic credentials user:password sent with DeliverReq and DeliveryReportReq.
    #[arg(long)]
    pub vasp_credentials: Option<String>,
    /// Schema of the DeliverReq and DeliveryReportReq it sends.
    #[arg(long, default_value = "REL-6-MM7-1-4", value_parser = parse_schema)]
    pub schema: Schema,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

fn parse_schema(s: &str) -> Result<Schema, String> {
    Schema::from_namespace(s)
        .ok_or_else(|| format!("unknown MM7 schema {s:?} (REL-5-MM7-1-0 .. REL-6-MM7-1-4)"))
}

impl MmscArgs {
    fn config(&self) -> MmscConfig {
        MmscConfig {
            listen: self.listen.clone(),
            dump: self.dump.clone(),
            credentials: self.credentials.clone(),
            vasp_credentials: self.vasp_credentials.clone(),
            schema: self.schema,
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
        }
    }
}

pub fn mmsc(args: MmscArgs) -> ExitCode {
    crate::block_on("impulse sim mmsc", async {
        let (sim, addr) = match Mmsc::start(&args.config()).await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("impulse sim mmsc: cannot listen on {}: {e}", args.listen);
                return ExitCode::FAILURE;
            }
        };
        println!("mmsc listening on {addr}");
        if let Some(control) = &args.control {
            match tokio::net::TcpListener::bind(control).await {
                Ok(l) => {
                    println!(
                        "control listening on {}",
                        l.local_addr().map(|a| a.to_string()).unwrap_or_default()
                    );
                    tokio::spawn(serve_control(l, sim.clone()));
                }
                Err(e) => {
                    eprintln!("impulse sim mmsc: cannot listen on {control}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        let _ = tokio::signal::ctrl_c().await;
        ExitCode::SUCCESS
    })
}
