//! Helpers for the end-to-end tests: real processes on loopback ports — Impulse itself, the
//! aiosmtpd sink (tests/peers/smtp_sink.py), swaks and Postfix's smtp-source as clients.
#![allow(dead_code)] // each test file uses a different subset

pub mod crash;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A loopback port nobody listens on right now: for a peer that is down (connections to it are
/// refused) or one started later on the port Impulse was configured with. Servers the tests
/// start themselves listen on port 0 and say which port they got ([`spawn_listening`]).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `cmd` with its standard output read for the addresses it listens on: lines
/// `<label> listening on <ip>:<port>`, one per label (a label may be empty), in any order.
/// Returns the ports in the order of `labels`, once all were printed (the servers print after
/// they bound); the rest of the output is drained so that the child never blocks on it.
pub fn spawn_listening(cmd: &mut Command, labels: &[&str]) -> (Proc, Vec<u16>) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("starting a peer");
    let stdout = child.stdout.take().expect("piped");
    let wanted: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut ports = vec![None; wanted.len()];
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Some((label, addr)) = line.split_once("listening on ") else {
                continue;
            };
            let port = addr
                .trim()
                .rsplit(':')
                .next()
                .and_then(|p| p.parse::<u16>().ok());
            if let Some(i) = wanted.iter().position(|w| w == label.trim())
                && ports[i].is_none()
            {
                ports[i] = port;
                if ports.iter().all(Option::is_some) {
                    let _ = tx.send(ports.iter().map(|p| p.unwrap()).collect::<Vec<u16>>());
                }
            }
        }
    });
    let proc = Proc(child);
    let ports = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("the peer did not say where it listens ({labels:?})"));
    (proc, ports)
}

/// The port in the node SMSC's ready line (`{"event":"ready","port":N,…}`).
pub fn port_of_ready_line(line: &str) -> u16 {
    line.split("\"port\":")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line}"))
}

fn wait_port(port: u16) {
    wait_for(&format!("port {port}"), Duration::from_secs(20), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

/// A child process killed (SIGKILL) when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The aiosmtpd sink, writing each message it accepts into `dir`.
pub struct Sink {
    pub port: u16,
    pub dir: PathBuf,
    _proc: Proc,
}

impl Sink {
    pub fn start(dir: &Path) -> Sink {
        Self::start_on(0, dir)
    }

    pub fn start_on(port: u16, dir: &Path) -> Sink {
        Self::start_with(port, dir, None)
    }

    /// A sink offering STARTTLS with this certificate and key (PEM files).
    pub fn start_tls(dir: &Path, cert: &Path, key: &Path) -> Sink {
        Self::start_with(0, dir, Some((cert, key)))
    }

    fn start_with(port: u16, dir: &Path, tls: Option<(&Path, &Path)>) -> Sink {
        let script = repo_root().join("tests/peers/smtp_sink.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .args(["127.0.0.1", &port.to_string()])
            .arg(dir);
        if let Some((cert, key)) = tls {
            cmd.arg(cert).arg(key);
        }
        cmd.stderr(Stdio::null());
        // python3 with aiosmtpd is needed (scripts/install-test-deps.sh installs it).
        let (proc, ports) = spawn_listening(&mut cmd, &[""]);
        let port = ports[0];
        Sink {
            port,
            dir: dir.to_path_buf(),
            _proc: proc,
        }
    }

    /// The messages received so far, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned())
            .collect()
    }

    pub fn count(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    }

    pub fn wait_count(&self, n: usize, timeout: Duration) -> Vec<String> {
        wait_for(&format!("{n} messages at the sink"), timeout, || {
            self.count() >= n
        });
        self.messages()
    }
}

/// A running `impulse serve`.
/// Impulse's listeners a test configuration may leave to the system, by placeholder, and what
/// Impulse logs when each is bound.
const BOUND: [(&str, &str); 4] = [
    ("{SMTP_PORT}", "SMTP listener ready"),
    ("{HTTP_PORT}", "MM7 (HTTP) listener ready"),
    ("{ADMIN_PORT}", "admin HTTP listening"),
    ("{CONSOLE_PORT}", "console listening"),
];

pub struct Impulse {
    pub smtp_port: u16,
    /// The HTTP_Listener's port, when the configuration says `{HTTP_PORT}` (else 0).
    pub http_port: u16,
    /// The admin HTTP port of Control_Listener, when the configuration says `{ADMIN_PORT}`.
    pub admin_port: u16,
    /// The console's TCP port of Control_Listener, when the configuration says
    /// `{CONSOLE_PORT}`.
    pub console_port: u16,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub proc: Option<Proc>,
}

pub fn impulse_bin() -> &'static str {
    env!("CARGO_BIN_EXE_impulse")
}

impl Impulse {
    /// Writes `config_body` (with `{SPOOL}`, `{LOG}` and the port placeholders of [`BOUND`]
    /// substituted) and starts Impulse. The listeners of the placeholders bind port 0 and the
    /// ports they got are read from Impulse's log; the configuration is then written with those
    /// ports, so that a restart listens where the first run did, as a real gateway's would.
    /// Until a restart, the running listeners are the port-0 ones: a reload in the first run
    /// reads the real ports and keeps its listeners (and their Listen scopes) as they were.
    pub fn start(dir: &Path, config_body: &str) -> Impulse {
        let text = config_body
            .replace("{SPOOL}", &dir.join("spool").display().to_string())
            .replace("{LOG}", &dir.join("log").display().to_string())
            .replace(
                "{CONTROL_SOCK}",
                &Self::control_sock_in(dir).display().to_string(),
            );
        let config = dir.join("impulse.conf");
        let mut first = text.clone();
        for (placeholder, _) in BOUND {
            first = first.replace(placeholder, "0");
        }
        std::fs::write(&config, first).unwrap();
        let mut imp = Impulse {
            smtp_port: 0,
            http_port: 0,
            admin_port: 0,
            console_port: 0,
            dir: dir.to_path_buf(),
            config,
            proc: None,
        };
        let before = imp.stderr().len();
        imp.restart();
        let mut text = text;
        for (placeholder, phrase) in BOUND.into_iter().skip(1) {
            if text.contains(placeholder) {
                let port = imp.bound_port(before, phrase);
                match placeholder {
                    "{HTTP_PORT}" => imp.http_port = port,
                    "{ADMIN_PORT}" => imp.admin_port = port,
                    _ => imp.console_port = port,
                }
                text = text.replace(placeholder, &port.to_string());
            }
        }
        let text = text.replace("{SMTP_PORT}", &imp.smtp_port.to_string());
        std::fs::write(&imp.config, text).unwrap();
        imp
    }

    /// The console socket a configuration names with `{CONTROL_SOCK}`.
    fn control_sock_in(dir: &Path) -> PathBuf {
        dir.join("control.sock")
    }

    /// [`wait_queues`] on the console socket of `{CONTROL_SOCK}`.
    pub fn wait_queues(&self, active: u64, delayed: u64) {
        wait_queues(&Self::control_sock_in(&self.dir), active, delayed);
    }

    /// The port of a listener that bound port 0 in the run started when stderr was `from`
    /// bytes long: the first line with `phrase` whose port no `Listen` of the configuration
    /// names (those are the listeners with a port of their own).
    fn bound_port(&self, from: usize, phrase: &str) -> u16 {
        let configured = std::fs::read_to_string(&self.config).unwrap_or_default();
        let listens: Vec<u16> = configured
            .split("Listen \"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next()?.rsplit(':').next()?.parse().ok())
            .collect();
        self.ready_port(from, phrase, |p| !listens.contains(&p))
    }

    /// The port of the first line with `phrase` logged after `from` bytes of stderr whose port
    /// `wanted` accepts; waits for it.
    fn ready_port(&self, from: usize, phrase: &str, wanted: impl Fn(u16) -> bool) -> u16 {
        let mut port = None;
        // On a timeout, what this run logged says why.
        let what = format!("{phrase} (in {})", self.dir.display());
        let (started, mut told) = (Instant::now(), false);
        wait_for(&what, Duration::from_secs(20), || {
            if !told && started.elapsed() > Duration::from_secs(19) {
                told = true;
                let log = self.stderr();
                eprintln!("{}", log.get(from..).unwrap_or_default());
            }
            let log = self.stderr();
            port = log.get(from..).unwrap_or_default().lines().find_map(|l| {
                let l = strip_ansi(l);
                if !l.contains(phrase) {
                    return None;
                }
                let addr = l.split("addr=").nth(1)?.split_whitespace().next()?;
                let p = addr.rsplit(':').next()?.parse::<u16>().ok()?;
                wanted(p).then_some(p)
            });
            port.is_some()
        });
        port.unwrap()
    }

    pub fn restart(&mut self) {
        let before = self.stderr().len();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("impulse.stderr"))
            .unwrap();
        let child = Command::new(impulse_bin())
            .args(["serve", "-c"])
            .arg(&self.config)
            .env("IMPULSE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.proc = Some(Proc(child));
        if self.smtp_port == 0 {
            self.smtp_port = self.bound_port(before, "SMTP listener ready");
        } else {
            // This run's own line: a connection test could reach another process that took
            // the port while this one was down.
            let port = self.smtp_port;
            self.ready_port(before, "SMTP listener ready", |p| p == port);
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.0.kill().unwrap();
            p.0.wait().unwrap();
        }
    }

    pub fn mainlog(&self) -> String {
        self.log("mainlog.ec")
    }

    /// A log file under `{LOG}`, empty when it does not exist (yet).
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join("log").join(name)).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("impulse.stderr")).unwrap_or_default()
    }
}

/// A log line without its terminal colour codes.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Sends one message with swaks; returns swaks' exit status success and its transcript.
pub fn swaks(port: u16, from: &str, to: &str, extra: &[&str]) -> (bool, String) {
    let out = Command::new("swaks")
        .args([
            "--server",
            &format!("127.0.0.1:{port}"),
            "--from",
            from,
            "--to",
            to,
            "--timeout",
            "20",
        ])
        .args(extra)
        .output()
        .expect("swaks is needed (scripts/install-test-deps.sh installs it)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A hand-driven SMTP client for protocol edge cases.
pub struct RawClient {
    rd: BufReader<TcpStream>,
    wr: TcpStream,
}

impl RawClient {
    pub fn connect(port: u16) -> RawClient {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut c = RawClient {
            rd: BufReader::new(s.try_clone().unwrap()),
            wr: s,
        };
        let banner = c.reply();
        assert!(banner.starts_with("220"), "{banner}");
        c
    }

    /// Reads one (possibly multi-line) reply.
    pub fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if self.rd.read_line(&mut line).unwrap() == 0 {
                return all;
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.wr.write_all(bytes).unwrap();
    }

    pub fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Ends the client's side of the connection (the server reads end of file).
    pub fn shutdown_write(&mut self) {
        self.wr.shutdown(std::net::Shutdown::Write).unwrap();
    }

    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.rd.read(&mut b), Ok(0))
    }
}

/// `impulse sim smsc` with its control port.
pub struct SimSmsc {
    pub smpp: u16,
    pub control: u16,
    _proc: Proc,
}

impl SimSmsc {
    pub fn start(extra: &[&str]) -> SimSmsc {
        Self::start_on(0, extra)
    }

    /// On a given SMPP port (an SMSC that comes back where Impulse expects it).
    pub fn start_on(smpp: u16, extra: &[&str]) -> SimSmsc {
        let (proc, ports) = spawn_listening(
            Command::new(impulse_bin())
                .args([
                    "sim",
                    "smsc",
                    "--listen",
                    &format!("127.0.0.1:{smpp}"),
                    "--control",
                    "127.0.0.1:0",
                    "--receipt-delay-ms",
                    "20",
                ])
                .args(extra),
            &["smsc", "control"],
        );
        let (smpp, control) = (ports[0], ports[1]);
        SimSmsc {
            smpp,
            control,
            _proc: proc,
        }
    }

    /// One control command; `list` returns its lines up to the closing `.`.
    pub fn control(&self, cmd: &str) -> String {
        let multi_line = ["list", "tlvs", "times"].iter().any(|c| cmd.starts_with(c));
        control(self.control, cmd, multi_line)
    }

    /// The messages received so far: (id, system_id, source, dest, data_coding, text).
    pub fn list(&self) -> Vec<Vec<String>> {
        self.control("list 1000")
            .lines()
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect()
    }
}

/// A running `impulse sim mmsc`, writing what it receives under `dump`.
pub struct SimMmsc {
    pub http: u16,
    pub control: u16,
    pub dump: PathBuf,
    _proc: Proc,
}

impl SimMmsc {
    pub fn start(dump: &Path, extra: &[&str]) -> SimMmsc {
        Self::start_on(0, dump, extra)
    }

    /// On a given HTTP port (an MMSC that comes back where Impulse expects it).
    pub fn start_on(http: u16, dump: &Path, extra: &[&str]) -> SimMmsc {
        let (proc, ports) = spawn_listening(
            Command::new(impulse_bin())
                .args(["sim", "mmsc", "--listen", &format!("127.0.0.1:{http}")])
                .args(["--control", "127.0.0.1:0"])
                .arg("--dump")
                .arg(dump)
                .args(extra),
            &["mmsc", "control"],
        );
        let (http, control) = (ports[0], ports[1]);
        SimMmsc {
            http,
            control,
            dump: dump.to_path_buf(),
            _proc: proc,
        }
    }

    /// One control command; `list` returns its lines up to the closing `.`.
    pub fn control(&self, cmd: &str) -> String {
        control(self.control, cmd, cmd == "list")
    }

    pub fn submits(&self) -> Vec<String> {
        self.control("list").lines().map(str::to_string).collect()
    }

    pub fn wait_submits(&self, n: usize) -> Vec<String> {
        wait_for(
            &format!("{n} SubmitReq at the MMSC"),
            Duration::from_secs(20),
            || self.submits().len() >= n,
        );
        self.submits()
    }
}

/// One HTTP/1.0 POST by hand (for malformed requests no client library would send); returns
/// the status code and the body.
pub fn http_post(port: u16, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let (code, _, body) = http_request("127.0.0.1", port, path, &[], content_type, body);
    (code, body)
}

/// An HTTP/1.0 POST from the loopback address `from` to 127.0.0.1:`port` with extra header
/// lines; returns the status, the response head and the body.
/// A TCP connection to 127.0.0.1:`port` from the loopback address `from` (a peer address of
/// the test's choosing, for per-address rules).
pub fn connect_from(from: &str, port: u16) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
        socket.connect(([127, 0, 0, 1], port).into()).await.unwrap()
    });
    let s = stream.into_std().unwrap();
    s.set_nonblocking(false).unwrap();
    s
}

pub fn http_request(
    from: &str,
    port: u16,
    path: &str,
    headers: &[&str],
    content_type: &str,
    body: &[u8],
) -> (u16, String, String) {
    let mut s = connect_from(from, port);
    let mut head = format!(
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    read_response(s)
}

/// Reads an HTTP/1.0 response to its end: status, head and body.
fn read_response(mut s: impl std::io::Read) -> (u16, String, String) {
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (code, head.to_string(), body.to_string())
}

/// One command on a simulator's control port; a multi-line answer is read up to its `.`.
fn control(port: u16, cmd: &str, multi_line: bool) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(format!("{cmd}\n").as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut out = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 || !multi_line {
            return out + &line;
        }
        if line.trim_end() == "." {
            return out;
        }
        out.push_str(&line);
    }
}

/// An HTTP/1.0 GET to 127.0.0.1:`port`, with extra header lines; returns the status and body.
pub fn http_get(port: u16, path: &str, headers: &[&str]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut head = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let (code, _, body) = read_response(s);
    (code, body)
}

/// Runs `impulse console --socket SOCK COMMAND...`; returns success and stdout.
pub fn console(sock: &Path, command: &str) -> (bool, String) {
    let out = Command::new(impulse_bin())
        .arg("console")
        .arg("--socket")
        .arg(sock)
        .args(command.split_whitespace())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Waits until the console's `summary` shows `active` recipients in the active queue (being
/// delivered or due now) and `delayed` waiting for a later try: the event after which a test
/// may say "nothing more will arrive". A bounce or notice is spooled before the outcome that
/// causes it is recorded, so once the queues hold only what the test expects, whatever the
/// gateway would have sent is either delivered already or still counted here.
pub fn wait_queues(sock: &Path, active: u64, delayed: u64) {
    let queue = |text: &str, label: &str| -> Option<u64> {
        text.lines()
            .find(|l| l.starts_with(label))?
            .split_whitespace()
            .last()?
            .parse()
            .ok()
    };
    let mut last = String::new();
    wait_for(
        &format!("{active} active and {delayed} delayed recipients"),
        Duration::from_secs(30),
        || {
            let (ok, text) = console(sock, "summary");
            last = text;
            ok && queue(&last, "Active queue:") == Some(active)
                && queue(&last, "Delayed queue:") == Some(delayed)
        },
    );
}

/// Reads one SMTP reply; its code, or `None` on a broken connection.
fn smtp_reply(rd: &mut BufReader<TcpStream>) -> Option<u16> {
    loop {
        let mut line = String::new();
        if rd.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            return line.get(..3)?.parse().ok();
        }
    }
}

/// One message over a fresh connection, `token` as its body; true when DATA was answered
/// 250. Any failure (refused connection, reset, timeout, other reply) is false.
pub fn try_send_mail(port: u16, to: &str, token: &str) -> bool {
    let Ok(s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut wr) = s.try_clone() else {
        return false;
    };
    let mut rd = BufReader::new(s);
    let mut step = |line: Option<String>, want: u16| -> bool {
        if let Some(l) = line
            && wr.write_all(l.as_bytes()).is_err()
        {
            return false;
        }
        smtp_reply(&mut rd) == Some(want)
    };
    step(None, 220)
        && step(Some("EHLO crash.test\r\n".into()), 250)
        && step(Some("MAIL FROM:<load@example.com>\r\n".into()), 250)
        && step(Some(format!("RCPT TO:<{to}>\r\n")), 250)
        && step(Some("DATA\r\n".into()), 354)
        && step(
            Some(format!(
                "From: load@example.com\r\nSubject: c\r\n\r\n{token}\r\n.\r\n"
            )),
            250,
        )
}
