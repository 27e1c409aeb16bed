//! `impulse serve`: load and validate the configuration, then build: open the spool and logs,
//! start the scheduler, bind the listeners. Stops cleanly on SIGTERM or SIGINT (listeners
//! close, SMPP binds unbind, logs are flushed); whatever was being delivered then is delivered
//! again after the next start (the spool kept it leased). SIGHUP reloads the configuration,
//! SIGUSR1 reopens the log files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use impulse_config::{Config, Resolved, names};
use impulse_queue::Scheduler;
use impulse_telemetry::{Dialect, Mainlog, PaniclogLayer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, fmt};

use crate::cli::config::{EXIT_CONFIG, load_or_report};
use crate::inbound::reception::Reception;
use crate::live::LiveConfig;
use crate::ops::counters::Counters;
use crate::ops::mobile_logs::MobileLogs;
use crate::outbound::observe::DeliveryObserver;
use crate::outbound::policy::ConfigPolicy;
use crate::outbound::router::Router;
use crate::outbound::smpp::SmppConnector;
use crate::outbound::smtp::SmtpConnector;

fn logger_path(cfg: &Config, option: impulse_config::Opt) -> Option<PathBuf> {
    let def = option.def();
    cfg.loggers.iter().find_map(|l| {
        l.scope
            .get(def)
            .and_then(|e| e.value.as_scalar())
            .map(PathBuf::from)
    })
}

fn heartbeat(cfg: &Config) -> Option<std::time::Duration> {
    let def = names::HEARTBEAT.def();
    let secs = cfg
        .loggers
        .iter()
        .find_map(|l| {
            l.scope
                .get(def)
                .and_then(|e| e.value.as_scalar().map(str::to_owned))
        })
        .unwrap_or_else(|| "60".into());
    impulse_config::types::parse_seconds(&secs).ok()
}

/// `Worker_Threads`, or one less than the CPUs: the spool writer is a busy thread of its own,
/// and measured on 2 cores, one async worker beside it accepted 13% more mail than two.
fn worker_threads(cfg: &Config) -> usize {
    match cfg.global().u64(names::WORKER_THREADS) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1)),
        n => n as usize,
    }
}

fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whatever the service manager's umask, nothing Impulse creates (spool, logs, the paniclog)
/// is readable by others: mail and numbers are personal data. Group bits are left as the
/// operator set them, so a log-reading group keeps working.
fn restrict_umask() {
    use nix::sys::stat::{Mode, umask};
    let old = umask(Mode::from_bits_truncate(0o077));
    umask(old | Mode::S_IRWXO | Mode::S_IWGRP);
}

pub fn run(config: &Path) -> ExitCode {
    restrict_umask();
    let Some(cfg) = load_or_report(config) else {
        return ExitCode::from(EXIT_CONFIG);
    };
    let paniclog = match logger_path(&cfg, names::PANICLOG)
        .map(|p| PaniclogLayer::open(&p))
        .transpose()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("impulse: cannot open the paniclog: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing_subscriber::registry()
        .with(fmt::layer().with_writer(std::io::stderr).with_filter(
            EnvFilter::try_from_env("IMPULSE_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        ))
        .with(paniclog)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads(&cfg))
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("impulse: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    for w in crate::cli::config_warnings::warnings(&cfg) {
        tracing::warn!("configuration: {w}");
    }
    match runtime.block_on(serve(Arc::new(cfg), config.to_path_buf())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("impulse: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(cfg: Arc<Config>, path: PathBuf) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let running = start(cfg, Some(path)).await?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = running.shutdown.notified() => break,
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                // The outcome is logged either way (a refusal with its errors, as an error).
                let _ = running.reloader.reload().await;
            }
            _ = usr1.recv() => {
                // Each file's result is logged.
                let _ = crate::ops::control::commands::reopen_logs();
            }
        }
    }
    tracing::info!("shutting down");
    running.stop().await;
    Ok(())
}

/// A started gateway: its listeners, scheduler and binds run until [`Running::stop`].
pub struct Running {
    stop_tx: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    sched: tokio::task::JoinHandle<()>,
    reception: Arc<Reception>,
    /// Its binds are unbound cleanly on stop.
    smpp: Arc<SmppConnector>,
    smpp_logs: Arc<MobileLogs>,
    mms_logs: Arc<MobileLogs>,
    /// Notified by the console's `shutdown`.
    pub shutdown: Arc<tokio::sync::Notify>,
    pub reloader: Arc<crate::ops::reload::Reloader>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop_tx.send(true);
        self.smpp.shutdown().await;
        for t in self.tasks {
            let _ = t.await;
        }
        let _ = self.sched.await;
        if let Some(log) = &self.reception.mainlog {
            log.flush();
        }
        self.smpp_logs.flush();
        self.mms_logs.flush();
    }
}

/// Builds everything the configuration describes and starts it. `path` is the file a reload
/// reads again (none for the demo).
pub async fn start(cfg: Arc<Config>, path: Option<PathBuf>) -> anyhow::Result<Running> {
    crate::ops::metrics::install();
    let live = LiveConfig::new(cfg.clone());
    let hostname = cfg
        .global()
        .scalar(names::HOSTNAME)
        .unwrap_or_else(system_hostname);
    let spool = crate::store::open(&cfg, &hostname, path.as_deref()).await?;
    let mainlog = match logger_path(&cfg, names::MAINLOG) {
        Some(p) => Some(
            Mainlog::open(&p, heartbeat(&cfg))
                .map_err(|e| anyhow::anyhow!("opening mainlog {}: {e}", p.display()))?,
        ),
        None => None,
    };

    let reception_cell = Arc::new(OnceLock::new());
    let smpp_logs = Arc::new(MobileLogs::open(&cfg, Dialect::Smpp)?);
    let mms_logs = Arc::new(MobileLogs::open(&cfg, Dialect::Mms)?);
    let smpp = Arc::new(SmppConnector::new(
        live.clone(),
        spool.clone(),
        reception_cell.clone(),
        smpp_logs.clone(),
    ));
    smpp.start_persistent();
    let mm7 = Arc::new(crate::outbound::mm7::Mm7Connector::new(
        live.clone(),
        spool.clone(),
        mms_logs.clone(),
    ));
    let counters = Arc::new(Counters::default());
    crate::ops::events::install(counters.clone());
    let fail_orders = Arc::new(crate::outbound::fail_orders::FailOrders::default());
    let observer = DeliveryObserver {
        fail_orders: fail_orders.clone(),
        cfg: live.clone(),
        mainlog: mainlog.clone(),
        hostname: hostname.clone(),
        reception: reception_cell.clone(),
    };
    let throttles = Arc::new(crate::outbound::throttle::Throttles::default());
    let smtp = Arc::new(SmtpConnector::new(live.clone(), hostname.clone()));
    let (scheduler, handle) = Scheduler::new(
        spool.clone(),
        Router {
            cfg: live.clone(),
            smtp: smtp.clone(),
            smpp: smpp.clone(),
            mm7: mm7.clone(),
            fail_orders: fail_orders.clone(),
            throttles: throttles.clone(),
        },
        ConfigPolicy {
            cfg: live.clone(),
            slots: smpp.slots(),
        },
        observer,
    );
    // Other nodes of a shared spool enqueue, and free a dead node's leases, without telling
    // this one: look for such work every second.
    let scheduler = if spool.is_shared() {
        scheduler.rescan_every(Duration::from_secs(1))
    } else {
        scheduler
    };
    let reception = Arc::new(Reception {
        cfg: live.clone(),
        spool: spool.clone(),
        scheduler: handle,
        mainlog,
        hostname,
        tls: Default::default(),
    });
    let _ = reception_cell.set(reception.clone());

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    if let Some(listener) = &cfg.esmtp_listener {
        if !listener_enabled(&cfg) {
            tracing::warn!("ESMTP_Listener is disabled (Enable = false)");
        } else {
            for listen in &listener.listens {
                let r = cfg.receiving(Some(listen.addr), std::net::IpAddr::from([0, 0, 0, 0]));
                if !r.bool(names::ENABLE) {
                    continue;
                }
                let socket = TcpListener::bind(listen.addr).await.map_err(|e| {
                    anyhow::anyhow!(
                        "cannot listen on {} (Listen \"{}\"): {e}",
                        listen.addr,
                        listen.written
                    )
                })?;
                tracing::info!(addr = %socket.local_addr()?, "SMTP listener ready");
                let max = r.u64(names::MAX_CONNECTIONS).max(1) as usize;
                let slots = crate::ops::inbound_view::register("ESMTP", socket.local_addr()?, max);
                tasks.push(tokio::spawn(impulse_smtp::inbound::serve_with_slots(
                    socket,
                    listen.addr,
                    reception.clone(),
                    slots,
                    stop_rx.clone(),
                )));
            }
        }
    } else {
        tracing::warn!("no ESMTP_Listener configured: Impulse receives no mail by SMTP");
    }
    if let Some(listener) = &cfg.http_listener {
        let server = Arc::new(crate::inbound::mm7::Mm7Server::new(
            live.clone(),
            spool.clone(),
            reception_cell.clone(),
            mms_logs.clone(),
        ));
        for listen in &listener.listens {
            let socket = TcpListener::bind(listen.addr).await.map_err(|e| {
                anyhow::anyhow!(
                    "cannot listen on {} (HTTP_Listener Listen \"{}\"): {e}",
                    listen.addr,
                    listen.written
                )
            })?;
            tracing::info!(addr = %socket.local_addr()?, "MM7 (HTTP) listener ready");
            let limits = crate::inbound::mm7::limits(&cfg, listen);
            let slots = crate::ops::inbound_view::register(
                "HTTP",
                socket.local_addr()?,
                limits.max_connections,
            );
            tasks.push(tokio::spawn(impulse_http::serve(
                socket,
                listen.addr,
                limits,
                slots,
                server.clone(),
                stop_rx.clone(),
            )));
        }
    }
    let shutdown = Arc::new(tokio::sync::Notify::new());
    let status = Arc::new(crate::ops::status::Sources::new(
        live.clone(),
        spool.clone(),
        counters,
        smpp.clone(),
        mm7.clone(),
    ));
    tasks.push(tokio::spawn(status.clone().sample(stop_rx.clone())));
    tasks.push(tokio::spawn(crate::ops::cluster::publish(
        status.clone(),
        spool.clone(),
        throttles.clone(),
        stop_rx.clone(),
    )));
    tasks.push(tokio::spawn(crate::ops::cluster::coordinate(
        spool.clone(),
        smpp.clone(),
        fail_orders.clone(),
        stop_rx.clone(),
    )));
    let reloader = Arc::new(crate::ops::reload::Reloader::new(
        path.unwrap_or_default(),
        live.clone(),
        smpp.clone(),
        mm7,
    ));
    let control = Arc::new(crate::ops::control::Context {
        throttles,
        smtp,
        cfg: live.clone(),
        spool: spool.clone(),
        scheduler: reception.scheduler.clone(),
        shutdown: shutdown.clone(),
        paniclog: logger_path(&cfg, names::PANICLOG),
        status,
        reloader: reloader.clone(),
        fail_orders,
    });
    tasks.extend(crate::ops::control::start(&cfg, control, stop_rx.clone()).await?);
    let sched = tokio::spawn(scheduler.run(stop_rx.clone()));
    Ok(Running {
        stop_tx,
        tasks,
        sched,
        reception,
        smpp,
        smpp_logs,
        mms_logs,
        shutdown,
        reloader,
    })
}

fn listener_enabled(cfg: &Config) -> bool {
    cfg.esmtp_listener
        .as_ref()
        .and_then(|l| l.scope.get(names::ENABLE.def()))
        .and_then(|e| {
            e.value
                .as_scalar()
                .map(|v| impulse_config::types::parse_bool(v).unwrap_or(true))
        })
        .unwrap_or(true)
}
