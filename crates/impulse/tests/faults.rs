//! Fault injection end to end (issue #7): Impulse between real peers that misbehave — an SMSC
//! that drops binds, throttles, fills its queue, sends garbage and answers late; a connection
//! that goes silent without a reset; an SMSC down while mail keeps arriving; the spool's disk
//! full. Each test asserts that nothing acknowledged is lost and that service recovers once
//! the fault ends.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{Impulse, SimSmsc, Sink, console, free_port, try_send_mail};

/// Binds the simulator has accepted so far.
fn binds(sim: &SimSmsc) -> u64 {
    let stats = sim.control("stats");
    stats
        .split_whitespace()
        .find_map(|w| w.strip_prefix("binds="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{stats}"))
}

fn sms_config(smsc_port: u16, sock: &Path, extra: &str) -> String {
    format!(
        "Spoolbase = \"{{SPOOL}}\"\nHostname = \"impulse.test\"\n\
         ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         Control_Listener {{ Listen \"{}\" {{ }} }}\n\
         Retry_Interval = 1\nMax_Retry_Interval = 2\n\
         domain \"sms.example.com\" {{\n  SMPP_SMSC_Server = \"127.0.0.1\"\n  SMPP_SMSC_Port = {smsc_port}\n\
           SMPP_ESME_Address = \"12345\"\n  SMPP_Submit_Response_Timer = 2\n\
           SMPP_Enquire_Link_Timer = 1\n  SMPP_Enquire_Response_Timer = 2\n{extra}}}\n\
         ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" paniclog = \"{{LOG}}/paniclog.ec\" }}\n",
        sock.display()
    )
}

/// Sends `n` mails to the SMS domain, each with its own token; returns the tokens acknowledged.
fn send_sms_mails(port: u16, prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("[{prefix}-{i:05}]"))
        .filter(|t| try_send_mail(port, "4445551234@sms.example.com", t))
        .collect()
}

/// Waits until every token was submitted to the simulator at least once and the queues are
/// empty, with no permanent failure.
fn assert_all_submitted(sim: &SimSmsc, sock: &Path, tokens: &[String], within: Duration) {
    common::wait_for("every message at the SMSC", within, || {
        let list = sim.control("list 100000");
        tokens.iter().all(|t| list.contains(t.as_str()))
    });
    common::wait_for("the queues to drain", Duration::from_secs(30), || {
        let s = console(sock, "summary").1;
        s.contains("Active queue:             0") && s.contains("Delayed queue:            0")
    });
    let s = console(sock, "summary").1;
    assert!(s.contains("Permanent failures:       0"), "{s}");
}

#[test]
fn smsc_disconnects_throttling_queue_full_garbage_and_late_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = SimSmsc::start(&[]);
    let sock = tmp.path().join("control.sock");
    let imp = Impulse::start(tmp.path(), &sms_config(sim.smpp, &sock, ""));
    // Each fault is switched on, then 15 mails follow it, so every fault meets traffic.
    let mut tokens = Vec::new();
    for (i, cmd) in [
        "fail 0x58 15", // ESME_RTHROTTLED burst
        "disconnect",
        "fail 0x14 15", // ESME_RMSGQFUL burst
        "garbage",
        "drop 5", // five submits never answered: the response timer must fire
        "disconnect",
        "delay 3000", // answers later than SMPP_Submit_Response_Timer
        "disconnect",
        "delay 0",
        "disconnect",
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(sim.control(cmd).trim(), "ok", "{cmd}");
        tokens.extend(send_sms_mails(imp.smtp_port, &format!("fault{i}"), 15));
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(
        tokens.len(),
        150,
        "the SMTP side never refuses because of SMSC faults"
    );
    assert_all_submitted(&sim, &sock, &tokens, Duration::from_secs(90));
    assert!(binds(&sim) >= 2, "Impulse rebound after a disconnect");
}

/// A TCP relay that can go silent: `freeze` makes every connection open at that moment stop
/// carrying data in both directions without closing (a half-open link: no RST, no FIN, no
/// data); later connections are relayed normally.
struct Freezer {
    port: u16,
    epoch: Arc<AtomicU64>,
}

impl Freezer {
    fn start(upstream: u16) -> Freezer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let epoch = Arc::new(AtomicU64::new(0));
        let e = epoch.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let born = e.load(Ordering::SeqCst);
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let e = e.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 {
                                let _ = to.shutdown(std::net::Shutdown::Write);
                                return;
                            }
                            // Frozen: what arrives is swallowed, the socket stays open.
                            if e.load(Ordering::SeqCst) == born && to.write_all(&buf[..n]).is_err()
                            {
                                return;
                            }
                        }
                    });
                }
            }
        });
        Freezer { port, epoch }
    }

    fn freeze(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_half_open_smsc_connection_is_detected_and_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = SimSmsc::start(&[]);
    let relay = Freezer::start(sim.smpp);
    let sock = tmp.path().join("control.sock");
    let imp = Impulse::start(
        tmp.path(),
        &sms_config(
            relay.port,
            &sock,
            "  SMPP_Persistent_Connections = [ default = 1 ]\n",
        ),
    );
    let before = send_sms_mails(imp.smtp_port, "before", 10);
    assert_all_submitted(&sim, &sock, &before, Duration::from_secs(30));
    let bound_before = binds(&sim);
    relay.freeze();
    let after = send_sms_mails(imp.smtp_port, "after", 20);
    assert_eq!(after.len(), 20);
    // The silent bind is noticed (enquire_link and submit timers) and a new one carries on.
    assert_all_submitted(&sim, &sock, &after, Duration::from_secs(60));
    assert!(
        binds(&sim) > bound_before,
        "a new bind replaced the silent one"
    );
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

#[test]
fn smsc_down_while_mail_arrives_spools_to_disk_in_flat_memory_then_drains() {
    let tmp = tempfile::tempdir().unwrap();
    let smsc_port = free_port(); // nothing listens there yet
    let sock = tmp.path().join("control.sock");
    let imp = Impulse::start(tmp.path(), &sms_config(smsc_port, &sock, ""));
    let pid = imp.proc.as_ref().unwrap().0.id();
    let mut tokens = send_sms_mails(imp.smtp_port, "early", 300);
    let rss_early = rss_kib(pid);
    tokens.extend(send_sms_mails(imp.smtp_port, "backlog", 1700));
    assert_eq!(tokens.len(), 2000);
    let rss_late = rss_kib(pid);
    let spool = std::fs::metadata(tmp.path().join("spool/spool.db"))
        .unwrap()
        .len();
    eprintln!("RSS after 300 mails {rss_early} KiB, after 2000 {rss_late} KiB; spool {spool} B");
    assert!(spool > 2000 * 200, "the backlog is on disk: {spool} bytes");
    assert!(
        rss_late < rss_early + 40 * 1024,
        "memory grew from {rss_early} to {rss_late} KiB with the backlog"
    );
    // The SMSC comes back: the backlog drains.
    let sim = SimSmsc::start_on(smsc_port, &[]);
    assert_all_submitted(&sim, &sock, &tokens, Duration::from_secs(120));
}

/// An SMSC outage delays nothing past its end (issue #10 item 2): with the default retry
/// interval (20 minutes), mail that arrived while the SMSC was down is submitted as soon as the
/// bind is back, without an operator's flush.
#[test]
fn mail_queued_during_an_smsc_outage_goes_as_soon_as_the_bind_is_back() {
    let tmp = tempfile::tempdir().unwrap();
    let smsc_port = free_port(); // nothing listens there yet
    let sock = tmp.path().join("control.sock");
    let conf = sms_config(smsc_port, &sock, "")
        .replace("Retry_Interval = 1\nMax_Retry_Interval = 2\n", "");
    assert!(!conf.contains("Retry_Interval"));
    let imp = Impulse::start(tmp.path(), &conf);
    let tokens = send_sms_mails(imp.smtp_port, "outage", 300);
    assert_eq!(tokens.len(), 300);
    common::wait_for("the outage noticed", Duration::from_secs(30), || {
        imp.stderr().contains("destination unreachable")
    });
    let back = std::time::Instant::now();
    let sim = SimSmsc::start_on(smsc_port, &[]);
    // The bind reconnects within its backoff (at most 10 s, ±25 %); then everything goes.
    assert_all_submitted(&sim, &sock, &tokens, Duration::from_secs(45));
    eprintln!(
        "300 queued SMS submitted {:?} after the SMSC came back",
        back.elapsed()
    );
    let s = console(&sock, "summary").1;
    assert!(s.contains("Permanent failures:       0"), "{s}");
}

/// A small tmpfs, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_spool_disk_answers_4xx_loses_nothing_and_recovers() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("spoolfs");
    std::fs::create_dir(&mnt).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=24m", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap()
        .success();
    assert!(
        ok,
        "this test mounts a 24 MiB tmpfs for the spool (needs root, as CI has)"
    );
    let _fs = Tmpfs(mnt.clone());
    let sink = Sink::start(&tmp.path().join("sink"));
    let sock = tmp.path().join("control.sock");
    let conf = format!(
        "Spoolbase = \"{}\"\nHostname = \"impulse.test\"\n\
         ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
         Control_Listener {{ Listen \"{}\" {{ }} }}\n\
         Retry_Interval = 1\nMax_Retry_Interval = 2\n\
         domain \"example.com\" {{ Gateway = \"127.0.0.1:{}\" }}\n\
         ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" paniclog = \"{{LOG}}/paniclog.ec\" }}\n",
        mnt.join("spool").display(),
        sock.display(),
        sink.port
    );
    let imp = Impulse::start(tmp.path(), &conf);
    let send = |prefix: &str, n: usize| -> Vec<String> {
        (0..n)
            .map(|i| format!("[{prefix}-{i:05}]"))
            .filter(|t| try_send_mail(imp.smtp_port, "someone@example.com", t))
            .collect()
    };
    let mut acked = send("before", 20);
    assert_eq!(acked.len(), 20);
    // Fill the disk to the last byte.
    let ballast = mnt.join("ballast");
    {
        let mut f = std::fs::File::create(&ballast).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let small = [0u8; 512];
        while f.write_all(&small).is_ok() {}
    }
    let mut client = common::RawClient::connect(imp.smtp_port);
    client.cmd("EHLO full.test");
    client.cmd("MAIL FROM:<a@example.com>");
    client.cmd("RCPT TO:<someone@example.com>");
    client.cmd("DATA");
    let answer = client.cmd("Subject: no room\r\n\r\n[full-00000]\r\n.");
    assert!(
        answer.starts_with("451") || answer.starts_with("452"),
        "a full disk is a temporary failure: {answer}"
    );
    let during = send("full", 20); // whatever Impulse still acknowledges must not be lost
    eprintln!("disk full: {} of 20 mails acknowledged", during.len());
    acked.extend(during);
    // Space returns: service resumes.
    std::fs::remove_file(&ballast).unwrap();
    let after = send("after", 20);
    assert_eq!(after.len(), 20, "accepting again once the disk has room");
    acked.extend(after);
    common::wait_for(
        "every acknowledged mail at the sink",
        Duration::from_secs(60),
        || {
            let all = sink.messages().concat();
            acked.iter().all(|t| all.contains(t.as_str()))
        },
    );
    assert!(
        imp.stderr().contains("No space") || imp.stderr().contains("full"),
        "the cause is logged"
    );
}

/// How the stand-in SMTP gateway of the next test behaves.
const SILENT: u8 = 0;
const BUSY: u8 = 1;
const GONE: u8 = 2;

#[test]
fn a_silent_then_busy_smtp_gateway_delays_mail_until_it_recovers() {
    use std::sync::atomic::AtomicU8;
    let tmp = tempfile::tempdir().unwrap();
    let gateway = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = gateway.local_addr().unwrap().port();
    gateway.set_nonblocking(true).unwrap();
    let mode = Arc::new(AtomicU8::new(SILENT));
    let stand_in = {
        let mode = mode.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while mode.load(Ordering::SeqCst) != GONE {
                match gateway.accept() {
                    Ok((mut s, _)) if mode.load(Ordering::SeqCst) == BUSY => {
                        let _ = s.write_all(b"421 4.3.2 gateway busy, try later\r\n");
                    }
                    // Silent: the connection is accepted and never answered.
                    Ok((s, _)) => held.push(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })
    };
    let sock = tmp.path().join("control.sock");
    let imp = Impulse::start(
        tmp.path(),
        &format!(
            "Spoolbase = \"{{SPOOL}}\"\nHostname = \"impulse.test\"\n\
             ESMTP_Listener {{ Listen \"127.0.0.1:{{SMTP_PORT}}\" {{ }} }}\n\
             Control_Listener {{ Listen \"{}\" {{ }} }}\n\
             Retry_Interval = 1\nMax_Retry_Interval = 1\n\
             domain \"example.com\" {{ Gateway = \"127.0.0.1:{port}\" SMTP_Command_Timeout = 1 }}\n\
             ec_logger \"l\" {{ mainlog = \"{{LOG}}/mainlog.ec\" paniclog = \"{{LOG}}/paniclog.ec\" }}\n",
            sock.display()
        ),
    );
    let tokens: Vec<String> = (0..5)
        .map(|i| format!("[gw-{i}]"))
        .filter(|t| try_send_mail(imp.smtp_port, "someone@example.com", t))
        .collect();
    assert_eq!(tokens.len(), 5);
    let temporary = |needle: &str| {
        imp.mainlog()
            .lines()
            .any(|l| l.contains("@T@") && l.to_lowercase().contains(needle))
    };
    common::wait_for(
        "a timeout against the silent gateway",
        Duration::from_secs(20),
        || temporary("timed out") || temporary("timeout"),
    );
    mode.store(BUSY, Ordering::SeqCst);
    // Each recipient's deferral is logged once per outage (a T record); a new reason for the
    // outage is logged once for the destination.
    common::wait_for(
        "a 421 from the busy gateway",
        Duration::from_secs(20),
        || temporary("421") || imp.stderr().contains("421 4.3.2 gateway busy"),
    );
    mode.store(GONE, Ordering::SeqCst);
    stand_in.join().unwrap();
    let sink = Sink::start_on(port, &tmp.path().join("sink"));
    let got = sink.wait_count(5, Duration::from_secs(30));
    for t in &tokens {
        assert_eq!(
            got.iter().filter(|m| m.contains(t.as_str())).count(),
            1,
            "{t}"
        );
    }
    let s = console(&sock, "summary").1;
    assert!(s.contains("Permanent failures:       0"), "{s}");
}
