//! `impulse`: the email ⇄ SMS/MMS gateway. This binary wires the crates together: it is the
//! only place that sees the configuration, the spool, the listeners and the connectors at once.
#![forbid(unsafe_code)]

mod cli;
mod inbound;
mod live;
mod net;
mod ops;
mod outbound;
mod route;
mod serve;
mod store;

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
    Console(ops::control::console::ConsoleArgs),
    /// Run the gateway with a configuration file (SIGHUP reloads it, SIGUSR1 reopens the logs,
    /// SIGTERM stops cleanly).
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
    /// Print what a mail would become on an SMPP domain: each segment's text, data_coding and
    /// concatenation, and which characters forced UCS-2. Nothing is sent.
    Convert(cli::convert::ConvertArgs),
    /// Run a protocol simulator.
    Sim {
        #[command(subcommand)]
        command: SimCommand,
    },
}

#[derive(Subcommand)]
enum SimCommand {
    /// An SMSC (SMPP 3.4 server) for tests, benchmarks and trying Impulse out.
    Smsc(cli::sim::SmscArgs),
    /// An MMSC (MM7 relay/server) for tests, benchmarks and trying Impulse out.
    Mmsc(cli::sim::MmscArgs),
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
    /// Print the migration guide from Momentum (docs/compatibility.md): every option, stanza
    /// and console command of the reference and what Impulse does with it.
    Compat,
}

/// Runs a subcommand's work on a multi-threaded runtime (`serve` builds its own, sized by the
/// configuration).
fn block_on(who: &str, work: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(work),
        Err(e) => {
            eprintln!("{who}: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => serve::run(&config),
        Command::Demo => cli::demo::run(),
        Command::Convert(args) => cli::convert::run(args),
        Command::Console(args) => ops::control::console::run(args),
        Command::Config {
            command: ConfigCommand::Check { file },
        } => cli::config::check(&file),
        Command::Config {
            command:
                ConfigCommand::Eval {
                    config,
                    domain,
                    binding,
                    option,
                },
        } => cli::config::eval(&config, domain.as_deref(), binding.as_deref(), &option),
        Command::Sim {
            command: SimCommand::Smsc(args),
        } => cli::sim::smsc(args),
        Command::Sim {
            command: SimCommand::Mmsc(args),
        } => cli::sim::mmsc(args),
        Command::Config {
            command: ConfigCommand::Compat,
        } => {
            print!("{}", impulse_config::compat::render_markdown());
            ExitCode::SUCCESS
        }
        Command::Config {
            command: ConfigCommand::Docs,
        } => {
            print!("{}", impulse_config::registry::render_markdown());
            ExitCode::SUCCESS
        }
    }
}
