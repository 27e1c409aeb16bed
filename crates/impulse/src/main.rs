//! `impulse`: the email ⇄ SMS/MMS gateway. This binary wires the crates together: it is the
//! only place that sees the configuration, the spool, the listeners and the connectors at once.
#![forbid(unsafe_code)]

mod cli_config;
mod control;
mod counters;
mod credentials;
mod delivery;
mod demo;
mod mm7_delivery;
mod mm7_http;
mod mm7_serv;
mod mobile_logs;
mod reception;
mod serve;
mod sim;
mod sim_mmsc;
mod smpp_delivery;
mod smpp_mo;
mod smpp_vendor;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "impulse",
    version,
    about = "Email to SMS/MMS gateway (SMTP, SMPP 3.4, MM7)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show email -> SMS -> receipt -> SMS reply -> email and email <-> MMS, with nothing to set up.
    Demo,
    /// Talk to a running Impulse: one COMMAND, or an interactive shell without one.
    Console {
        /// Find the console socket in this configuration's Control_Listener.
        #[arg(short, long, env = "IMPULSE_CONFIG")]
        config: Option<PathBuf>,
        /// The console's Unix socket.
        #[arg(long)]
        socket: Option<PathBuf>,
        /// The console's loopback TCP address (password in IMPULSE_CONSOLE_PASSWORD).
        #[arg(long)]
        tcp: Option<String>,
        /// User for a TCP console.
        #[arg(long)]
        user: Option<String>,
        /// The command (`help` lists them); none starts an interactive shell.
        command: Vec<String>,
    },
    /// Run the gateway with a configuration file.
    Serve {
        /// Configuration file (ecelerity.conf syntax).
        #[arg(short, long, env = "IMPULSE_CONFIG")]
        config: PathBuf,
    },
    /// Check, evaluate or document the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Run a protocol simulator.
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
}

#[derive(Subcommand)]
enum SimCommand {
    /// An SMSC (SMPP 3.4 server) for tests, benchmarks and trying Impulse out.
    Smsc {
        /// Address to serve SMPP on.
        #[arg(long, default_value = "127.0.0.1:2775")]
        listen: String,
        /// Address of the line-based control port (stats, list, times, mo, fail, drop, delay, disconnect, garbage).
        #[arg(long)]
        control: Option<String>,
        /// Accepted credentials as system_id:password (repeatable); none accepts any bind.
        #[arg(long = "credentials")]
        credentials: Vec<String>,
        /// Delay of delivery receipts, in milliseconds.
        #[arg(long, default_value_t = 100)]
        receipt_delay_ms: u64,
        /// Percentage of receipts that report DELIVRD (the rest UNDELIV).
        #[arg(long, default_value_t = 100)]
        delivered_percent: u8,
        /// Messages kept for the control port's `list` and `times` (counters count everything).
        #[arg(long, default_value_t = 10_000)]
        keep: usize,
    },
    /// An MMSC (MM7 relay/server) for tests, benchmarks and trying Impulse out.
    Mmsc {
        /// Address to serve MM7 (HTTP) on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Address of the line-based control port (stats, list, fail, http500, delay, garbage, deliver, report).
        #[arg(long)]
        control: Option<String>,
        /// Write each SubmitReq's envelope and decoded parts under DIR/<message id>/.
        #[arg(long)]
        dump: Option<PathBuf>,
        /// Require HTTP Basic credentials user:password.
        #[arg(long)]
        credentials: Option<String>,
        /// HTTP Basic credentials user:password sent with DeliverReq and DeliveryReportReq.
        #[arg(long)]
        vasp_credentials: Option<String>,
        /// Schema of the DeliverReq and DeliveryReportReq it sends.
        #[arg(long, default_value = "REL-6-MM7-1-4", value_parser = parse_schema)]
        schema: impulse_mm7::Schema,
    },
}

fn parse_schema(s: &str) -> Result<impulse_mm7::Schema, String> {
    impulse_mm7::Schema::from_namespace(s)
        .ok_or_else(|| format!("unknown MM7 schema {s:?} (REL-5-MM7-1-0 .. REL-6-MM7-1-4)"))
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file; print every error with file:line:col.
    Check { file: PathBuf },
    /// Print the effective value of an option and the scope it comes from.
    Eval {
        #[arg(short, long, env = "IMPULSE_CONFIG")]
        config: PathBuf,
        #[arg(long)]
        domain: Option<String>,
        #[arg(long)]
        binding: Option<String>,
        option: String,
    },
    /// Print the configuration reference (docs/configuration.md) generated from the registry.
    Docs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => serve::run(&config),
        Command::Demo => demo::run(),
        Command::Console {
            config,
            socket,
            tcp,
            user,
            command,
        } => control::console::run(control::console::ConsoleArgs {
            config,
            socket,
            tcp,
            user,
            command,
        }),
        Command::Config {
            command: ConfigCommand::Check { file },
        } => cli_config::check(&file),
        Command::Config {
            command:
                ConfigCommand::Eval {
                    config,
                    domain,
                    binding,
                    option,
                },
        } => cli_config::eval(&config, domain.as_deref(), binding.as_deref(), &option),
        Command::Sim {
            command:
                SimCommand::Smsc {
                    listen,
                    control,
                    credentials,
                    receipt_delay_ms,
                    delivered_percent,
                    keep,
                },
        } => sim::smsc(sim::SmscArgs {
            listen,
            control,
            credentials,
            receipt_delay_ms,
            delivered_percent,
            keep,
        }),
        Command::Sim {
            command:
                SimCommand::Mmsc {
                    listen,
                    control,
                    dump,
                    credentials,
                    vasp_credentials,
                    schema,
                },
        } => sim_mmsc::mmsc(sim_mmsc::MmscArgs {
            listen,
            control,
            dump,
            credentials,
            vasp_credentials,
            schema,
        }),
        Command::Config {
            command: ConfigCommand::Docs,
        } => {
            print!("{}", impulse_config::registry::render_markdown());
            ExitCode::SUCCESS
        }
    }
}
