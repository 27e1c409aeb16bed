//! `impulse sim smsc`: the SMSC simulator as a command, for tests, benchmarks and users.

use std::process::ExitCode;
use std::time::Duration;

use impulse_smpp::sim::{SimConfig, Smsc};

pub struct SmscArgs {
    pub listen: String,
    pub control: Option<String>,
    pub credentials: Vec<String>,
    pub receipt_delay_ms: u64,
    pub delivered_percent: u8,
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
        keep: args.keep,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("impulse sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
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
