//! Control_Listener (docs/reference/momentum.md §5.1, §6.3): console Unix sockets and loopback TCP
//! ports, and the line protocol they speak.
//!
//! Protocol: the client sends one command per line; each answer is its lines followed by a
//! line holding a single `.` (a line of the answer that starts with `.` gets another `.` in
//! front, as in SMTP). An answer whose first line starts with `error:` is a refusal. Over TCP
//! the first line must be `login USER PASSWORD` with one of the listener's
//! `Auth_Credentials`; a wrong one closes the connection. A Unix socket is guarded by its file
//! mode (`File_Mode`).
//!
//! A `Listen "http://127.0.0.1:PORT"` serves the admin HTTP API, `/metrics` and the status
//! page instead (`admin`).

pub mod admin;
mod binding;
pub mod commands;
mod config_cmd;
pub mod console;
pub mod context;
mod fail;
mod outbound;

use impulse_config::names;
use std::sync::Arc;

use impulse_config::types::list_items;
use impulse_config::{Config, ControlAddr};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;

pub use context::Context;

/// The longest command line read; a longer one is refused and the connection closed.
const MAX_LINE: usize = 4096;

/// Console connections open at once, per listening socket: an operator needs a few; more is a
/// client holding descriptors that the SMTP and MM7 listeners need.
const MAX_CONSOLE_CONNECTIONS: usize = 32;

/// Time a TCP console client has to log in before it is disconnected.
const LOGIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a console session may stay idle when Control_Listener sets no `Timeout`.
const CONSOLE_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

/// The admin API only reads: a request body is never needed.
const ADMIN_MAX_BODY: usize = 4096;

/// Writes an answer in the protocol's framing.
fn frame(text: &str, error: bool) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.lines().enumerate() {
        if i == 0 && error {
            out.push_str("error: ");
        } else if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push('\n');
    }
    if text.is_empty() && error {
        out.push_str("error:\n");
    }
    out.push_str(".\n");
    out
}

/// Starts serving every socket of the configuration's Control_Listener.
pub async fn start(
    cfg: &Config,
    ctx: Arc<Context>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let Some(control) = &cfg.control_listener else {
        return Ok(Vec::new());
    };
    let credentials: Arc<Vec<String>> = Arc::new(
        control
            .scope
            .get(names::AUTH_CREDENTIALS.def())
            .map(|e| list_items(&e.value).iter().map(|s| s.to_string()).collect())
            .unwrap_or_default(),
    );
    let mode = control
        .scope
        .get(names::FILE_MODE.def())
        .and_then(|e| e.value.as_scalar().map(str::to_string))
        .unwrap_or_else(|| "0660".into());
    let mode = u32::from_str_radix(mode.trim_start_matches("0o"), 8)
        .map_err(|_| anyhow::anyhow!("File_Mode `{mode}` is not an octal file mode"))?;
    // `Timeout` in Control_Listener: how long a console session may stay idle (Momentum's
    // default there is 60 s; 0 keeps sessions open).
    let idle = control
        .scope
        .get(names::TIMEOUT.def())
        .and_then(|e| {
            e.value
                .as_scalar()
                .and_then(|v| impulse_config::types::parse_seconds(v).ok())
        })
        .unwrap_or(CONSOLE_IDLE);
    let mut tasks = Vec::new();
    for socket in &control.sockets {
        match &socket.addr {
            ControlAddr::Unix(path) => {
                // A socket file left by a previous run would make bind fail.
                if std::fs::symlink_metadata(path).is_ok_and(|m| {
                    use std::os::unix::fs::FileTypeExt;
                    m.file_type().is_socket()
                }) {
                    let _ = std::fs::remove_file(path);
                }
                let listener = UnixListener::bind(path).map_err(|e| {
                    anyhow::anyhow!(
                        "cannot listen on {} (Control_Listener): {e}",
                        path.display()
                    )
                })?;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
                tracing::info!(path = %path.display(), "console listening");
                let (ctx, mut stop) = (ctx.clone(), stop.clone());
                let path = path.clone();
                let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONSOLE_CONNECTIONS));
                tasks.push(tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            r = listener.accept() => match r {
                                Ok((stream, _)) => {
                                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                                        refuse_busy(stream).await;
                                        continue;
                                    };
                                    let ctx = ctx.clone();
                                    tokio::spawn(async move {
                                        session(stream, ctx, None, idle).await;
                                        drop(slot);
                                    });
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "console accept failed");
                                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                                }
                            },
                            _ = stop.changed() => break,
                        }
                    }
                    let _ = std::fs::remove_file(&path);
                }));
            }
            ControlAddr::Http(addr) => {
                let listener = TcpListener::bind(addr).await.map_err(|e| {
                    anyhow::anyhow!("cannot listen on {addr} (Control_Listener, admin HTTP): {e}")
                })?;
                tracing::info!(addr = %listener.local_addr()?, "admin HTTP listening (/metrics, /api/status, status page)");
                let admin = Arc::new(admin::Admin::new(ctx.status.clone(), credentials.clone()));
                let limits = impulse_http::HttpLimits::with_max_body(ADMIN_MAX_BODY);
                let slots = crate::ops::inbound_view::register(
                    "HTTP",
                    listener.local_addr()?,
                    limits.max_connections,
                );
                tasks.push(tokio::spawn(impulse_http::serve(
                    listener,
                    *addr,
                    limits,
                    slots,
                    admin,
                    stop.clone(),
                )));
            }
            ControlAddr::Tcp(addr) => {
                let listener = TcpListener::bind(addr).await.map_err(|e| {
                    anyhow::anyhow!("cannot listen on {addr} (Control_Listener): {e}")
                })?;
                tracing::info!(addr = %listener.local_addr()?, "console listening");
                let (ctx, mut stop, creds) = (ctx.clone(), stop.clone(), credentials.clone());
                let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONSOLE_CONNECTIONS));
                tasks.push(tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            r = listener.accept() => match r {
                                Ok((stream, peer)) => {
                                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                                        refuse_busy(stream).await;
                                        continue;
                                    };
                                    let (ctx, login) = (ctx.clone(), Login { credentials: creds.clone(), peer: peer.ip() });
                                    tokio::spawn(async move {
                                        session(stream, ctx, Some(login), idle).await;
                                        drop(slot);
                                    });
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "console accept failed");
                                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                                }
                            },
                            _ = stop.changed() => break,
                        }
                    }
                }));
            }
        }
    }
    Ok(tasks)
}

/// Over the connection limit: one framed refusal, then the connection is closed.
async fn refuse_busy<S: AsyncWrite + Unpin>(mut stream: S) {
    tracing::debug!("console connection refused: {MAX_CONSOLE_CONNECTIONS} already open");
    let answer = frame("too many console connections; try again later", true);
    let _ = tokio::time::timeout(LOGIN_TIMEOUT, stream.write_all(answer.as_bytes())).await;
}

/// What a TCP console client must give first, and where it comes from (for the guard).
struct Login {
    credentials: Arc<Vec<String>>,
    peer: std::net::IpAddr,
}

/// One console connection; `login` holds the credentials a TCP client must give first, within
/// [`LOGIN_TIMEOUT`]; a session idle for `idle` (not zero) is closed.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    ctx: Arc<Context>,
    login: Option<Login>,
    idle: std::time::Duration,
) {
    let (r, mut w) = tokio::io::split(stream);
    let mut r = BufReader::new(r);
    let mut authenticated = login.is_none();
    let mut line = String::new();
    loop {
        line.clear();
        let mut limited = (&mut r).take(MAX_LINE as u64 + 1);
        let read = limited.read_line(&mut line);
        let read = if authenticated {
            if idle.is_zero() {
                read.await
            } else {
                match tokio::time::timeout(idle, read).await {
                    Ok(r) => r,
                    Err(_) => {
                        let text = format!("idle for {} s: closing", idle.as_secs_f64());
                        let _ = w.write_all(frame(&text, true).as_bytes()).await;
                        return;
                    }
                }
            }
        } else {
            match tokio::time::timeout(LOGIN_TIMEOUT, read).await {
                Ok(r) => r,
                Err(_) => {
                    let _ = w.write_all(frame("login timed out", true).as_bytes()).await;
                    return;
                }
            }
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(n) if n > MAX_LINE => {
                let _ = w
                    .write_all(frame("command line too long", true).as_bytes())
                    .await;
                return;
            }
            Ok(_) => {}
        }
        let command = line.trim();
        if command.is_empty() && !authenticated {
            // A blank line before login is not a failed login.
            continue;
        }
        if let (false, Some(login)) = (authenticated, &login) {
            let guard = crate::net::auth_guard::global();
            let now = std::time::Instant::now();
            if let crate::net::auth_guard::Gate::Locked(left) = guard.check(login.peer, now) {
                let text = format!(
                    "too many failed logins from your address; try again in {} s",
                    left.as_secs().max(1)
                );
                let _ = w.write_all(frame(&text, true).as_bytes()).await;
                return;
            }
            let mut words = command.split_whitespace();
            let ok = match (words.next(), words.next(), words.next(), words.next()) {
                (Some("login"), Some(user), Some(password), None) => {
                    crate::net::credentials::matches(
                        format!("{user}:{password}").as_bytes(),
                        &login.credentials,
                    )
                }
                _ => false,
            };
            let answer = if ok {
                frame("logged in", false)
            } else {
                let delay = guard.failed(login.peer, "console", now);
                tokio::time::sleep(delay).await;
                frame("login USER PASSWORD first (credentials refused)", true)
            };
            if w.write_all(answer.as_bytes()).await.is_err() || !ok {
                return;
            }
            authenticated = true;
            continue;
        }
        if command == "quit" || command == "exit" {
            let _ = w.write_all(frame("bye", false).as_bytes()).await;
            return;
        }
        let answer = commands::execute(&ctx, command).await;
        if w.write_all(frame(&answer.text, answer.error).as_bytes())
            .await
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_framed_and_dot_stuffed() {
        assert_eq!(frame("a\n.b", false), "a\n..b\n.\n");
        assert_eq!(frame("no such thing", true), "error: no such thing\n.\n");
        assert_eq!(frame("", false), ".\n");
    }
}
