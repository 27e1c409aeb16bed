//! `impulse console [COMMAND...]`: the client of the Control_Listener. With a command it runs
//! that one and exits (status 1 when the answer is an error); without one it is an
//! interactive shell with line editing and history (rustyline).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;

use impulse_config::ControlAddr;

#[derive(clap::Args)]
pub struct ConsoleArgs {
    /// Find the console socket in this configuration's Control_Listener.
    #[arg(short, long, env = "IMPULSE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The console's Unix socket.
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// The console's loopback TCP address (password in IMPULSE_CONSOLE_PASSWORD).
    #[arg(long)]
    pub tcp: Option<String>,
    /// User for a TCP console.
    #[arg(long)]
    pub user: Option<String>,
    /// The command (`help` lists them); none starts an interactive shell.
    pub command: Vec<String>,
}

/// A connection speaking the console protocol (see the module `control`).
struct Client {
    reader: BufReader<Box<dyn Read>>,
    writer: Box<dyn Write>,
}

impl Client {
    fn connect(addr: &ControlAddr) -> std::io::Result<Client> {
        Ok(match addr {
            ControlAddr::Unix(p) => {
                let s = UnixStream::connect(p)?;
                Client {
                    reader: BufReader::new(Box::new(s.try_clone()?)),
                    writer: Box::new(s),
                }
            }
            ControlAddr::Tcp(a) => {
                let s = TcpStream::connect(a)?;
                Client {
                    reader: BufReader::new(Box::new(s.try_clone()?)),
                    writer: Box::new(s),
                }
            }
            ControlAddr::Http(a) => {
                return Err(std::io::Error::other(format!(
                    "http://{a} is the admin HTTP listener; the console talks to a Unix socket or a TCP Listen"
                )));
            }
        })
    }

    /// Sends one line; returns the answer's text and whether it is an error.
    fn ask(&mut self, line: &str) -> std::io::Result<(String, bool)> {
        self.writer.write_all(format!("{line}\n").as_bytes())?;
        self.writer.flush()?;
        let mut out = String::new();
        let mut error = false;
        let mut first = true;
        loop {
            let mut l = String::new();
            if self.reader.read_line(&mut l)? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the console connection closed",
                ));
            }
            let l = l.trim_end_matches(['\r', '\n']);
            if l == "." {
                return Ok((out, error));
            }
            let l = if first && l.starts_with("error:") {
                error = true;
                l
            } else {
                l.strip_prefix('.').unwrap_or(l)
            };
            first = false;
            out.push_str(l);
            out.push('\n');
        }
    }
}

/// Where to connect: `--socket`, `--tcp`, else the first socket of the configuration's
/// Control_Listener (a Unix one preferred).
fn address(args: &ConsoleArgs) -> Result<ControlAddr, String> {
    if let Some(p) = &args.socket {
        return Ok(ControlAddr::Unix(p.clone()));
    }
    if let Some(t) = &args.tcp {
        return impulse_config::parse_listen_addr(t)
            .map(ControlAddr::Tcp)
            .map_err(|e| format!("--tcp {t}: {e}"));
    }
    let Some(path) = &args.config else {
        return Err("say where Impulse listens: --socket PATH, --tcp ADDR, or -c CONFIG".into());
    };
    let cfg = crate::cli::config::load_or_report(path).ok_or("the configuration has errors")?;
    let sockets = cfg.control_listener.map(|c| c.sockets).unwrap_or_default();
    sockets
        .iter()
        .find(|s| matches!(s.addr, ControlAddr::Unix(_)))
        .or(sockets
            .iter()
            .find(|s| matches!(s.addr, ControlAddr::Tcp(_))))
        .map(|s| s.addr.clone())
        .ok_or_else(|| format!("{} has no Control_Listener", path.display()))
}

pub fn run(args: ConsoleArgs) -> ExitCode {
    let addr = match address(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("impulse console: {e}");
            return ExitCode::from(2);
        }
    };
    let mut client = match Client::connect(&addr) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("impulse console: cannot connect to {addr:?}: {e} (is Impulse running?)");
            return ExitCode::from(2);
        }
    };
    if matches!(addr, ControlAddr::Tcp(_)) {
        let user = args.user.clone().unwrap_or_else(|| "admin".into());
        let Ok(password) = std::env::var("IMPULSE_CONSOLE_PASSWORD") else {
            eprintln!("impulse console: a TCP console needs IMPULSE_CONSOLE_PASSWORD (and --user)");
            return ExitCode::from(2);
        };
        match client.ask(&format!("login {user} {password}")) {
            Ok((_, false)) => {}
            Ok((text, true)) => {
                eprint!("impulse console: {text}");
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("impulse console: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if !args.command.is_empty() {
        return match client.ask(&args.command.join(" ")) {
            Ok((text, error)) => {
                print!("{text}");
                if error {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => {
                eprintln!("impulse console: {e}");
                ExitCode::from(2)
            }
        };
    }
    interactive(client)
}

fn interactive(mut client: Client) -> ExitCode {
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("impulse console: {e}");
            return ExitCode::from(2);
        }
    };
    let history =
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".impulse_console_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("Impulse console: `help` lists the commands, `quit` leaves.");
    loop {
        match editor.readline("impulse> ") {
            Ok(line) => {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let _ = editor.add_history_entry(line);
                if line == "quit" || line == "exit" {
                    break;
                }
                match client.ask(line) {
                    Ok((text, _)) => print!("{text}"),
                    Err(e) => {
                        eprintln!("impulse console: {e}");
                        break;
                    }
                }
            }
            Err(
                rustyline::error::ReadlineError::Interrupted | rustyline::error::ReadlineError::Eof,
            ) => break,
            Err(e) => {
                eprintln!("impulse console: {e}");
                break;
            }
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    ExitCode::SUCCESS
}
